-- Bulk migration (`finlink migrate import`): one row per run, one per input row's outcome.
-- A batch's rows and the run's watermark and counts are written in the batch's transaction.

CREATE TABLE migration_runs (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    detail TEXT,
    total_rows BIGINT NOT NULL,
    canary_rows BIGINT NOT NULL DEFAULT 0,
    watermark BIGINT NOT NULL DEFAULT 0,
    created_count BIGINT NOT NULL DEFAULT 0,
    updated_count BIGINT NOT NULL DEFAULT 0,
    unchanged_count BIGINT NOT NULL DEFAULT 0,
    duplicate_count BIGINT NOT NULL DEFAULT 0,
    invalid_count BIGINT NOT NULL DEFAULT 0,
    failed_count BIGINT NOT NULL DEFAULT 0,
    companies_created BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    completed BIGINT
);
CREATE INDEX migration_runs_by_fingerprint ON migration_runs(client_id, fingerprint, created);
CREATE INDEX migration_runs_by_created ON migration_runs(created);

CREATE TABLE migration_rows (
    run_id TEXT NOT NULL REFERENCES migration_runs(id) ON DELETE CASCADE,
    row_no BIGINT NOT NULL,
    company_id TEXT,
    connection_id TEXT,
    company_created BOOLEAN NOT NULL DEFAULT FALSE,
    outcome TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (run_id, row_no)
);
