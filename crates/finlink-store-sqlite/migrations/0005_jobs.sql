-- Durable background jobs (see finlink_domain::job). Due work is found through the partial
-- indexes below, never by scanning jobs that are not due.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    state TEXT NOT NULL,
    lease_owner TEXT,
    lease_expires INTEGER,
    fence INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    idempotency_key TEXT UNIQUE,
    concurrency_key TEXT,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX jobs_queued ON jobs(run_at) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs(lease_expires) WHERE state = 'running';
CREATE INDEX jobs_concurrency ON jobs(concurrency_key) WHERE state = 'running';
