-- Short leases that make one piece of work single-flight across every process sharing the
-- database (a connection's token refresh). Held by a random owner id until `expires_at`; a
-- crashed holder's lease simply runs out.
CREATE TABLE leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
