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
    total_rows INTEGER NOT NULL,
    canary_rows INTEGER NOT NULL DEFAULT 0,
    watermark INTEGER NOT NULL DEFAULT 0,
    created_count INTEGER NOT NULL DEFAULT 0,
    updated_count INTEGER NOT NULL DEFAULT 0,
    unchanged_count INTEGER NOT NULL DEFAULT 0,
    duplicate_count INTEGER NOT NULL DEFAULT 0,
    invalid_count INTEGER NOT NULL DEFAULT 0,
    failed_count INTEGER NOT NULL DEFAULT 0,
    companies_created INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    completed INTEGER
);
CREATE INDEX migration_runs_by_fingerprint ON migration_runs(client_id, fingerprint, created);
CREATE INDEX migration_runs_by_created ON migration_runs(created);

CREATE TABLE migration_rows (
    run_id TEXT NOT NULL REFERENCES migration_runs(id) ON DELETE CASCADE,
    row_no INTEGER NOT NULL,
    company_id TEXT,
    connection_id TEXT,
    company_created INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (run_id, row_no)
) WITHOUT ROWID;
