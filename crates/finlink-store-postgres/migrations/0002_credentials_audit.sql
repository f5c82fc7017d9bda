-- Sealed credentials (one row per connection) and the audit log.

CREATE TABLE credentials (
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    auth_type TEXT NOT NULL,
    -- the master key the envelope is sealed under (for status and rotation)
    key_id TEXT NOT NULL,
    -- the vault envelope of the secret fields; never selected by list queries
    sealed BYTEA NOT NULL,
    token_type TEXT,
    scopes TEXT NOT NULL DEFAULT '[]',
    expires_at BIGINT,
    issued_at BIGINT,
    needs_refresh BOOLEAN NOT NULL DEFAULT FALSE,
    -- compare-and-swap: every write bumps it
    version BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX credentials_by_key ON credentials(key_id);

CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    company_id TEXT,
    connection_id TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX audit_by_client ON audit(client_id, at, id);
