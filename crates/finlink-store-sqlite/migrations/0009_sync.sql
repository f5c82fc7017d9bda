-- Syncs (finlink_domain::sync): pull operations (Codat's datasets), the batches they are queued
-- in, and the records they store. Times are integer milliseconds (UTC).

-- Datasets queued together: `read.completed` (`.initial` for fetch on first link) is raised once
-- all of a batch's datasets have ended (`completed` is then set, so it is raised once).
CREATE TABLE sync_batches (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    is_initial INTEGER NOT NULL DEFAULT 0,
    requested INTEGER NOT NULL,
    completed INTEGER
);
CREATE INDEX sync_batches_by_company ON sync_batches(company_id);

-- One pull of one data type of one connection. Pages before `resume_page` are stored; a run
-- writes only while `run_token` is its own (a run taken over after a lost lease writes nothing).
CREATE TABLE datasets (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    batch_id TEXT NOT NULL,
    data_type TEXT NOT NULL,
    status TEXT NOT NULL,
    status_description TEXT,
    error_message TEXT,
    requested INTEGER NOT NULL,
    started INTEGER,
    completed INTEGER,
    progress INTEGER NOT NULL DEFAULT 0,
    is_initial INTEGER NOT NULL DEFAULT 0,
    resume_page INTEGER NOT NULL DEFAULT 1,
    records INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0,
    modified_since INTEGER,
    max_source_modified INTEGER,
    run_token TEXT,
    updated INTEGER NOT NULL
);
-- Pull history, newest first (`data/history`).
CREATE INDEX datasets_history ON datasets(company_id, requested, id);
-- `dataStatus`: a data type's latest dataset, and its latest successful one.
CREATE INDEX datasets_latest ON datasets(company_id, data_type, requested, id);
CREATE INDEX datasets_latest_complete ON datasets(company_id, data_type, completed) WHERE status = 'Complete';
-- A connection's datasets (the incremental watermark; the cascade when it is deleted).
CREATE INDEX datasets_by_connection ON datasets(connection_id, data_type, completed);
CREATE INDEX datasets_by_batch ON datasets(batch_id);
-- At most one dataset per connection and data type is queued or running: queueing another is
-- refused (`data/queue`) or skipped (`data/all`), atomically.
CREATE UNIQUE INDEX datasets_one_active ON datasets(connection_id, data_type)
    WHERE status IN ('Initial', 'Queued', 'Fetching', 'MapQueued', 'Mapping', 'ProcessingQueued',
                     'Processing', 'ValidationQueued', 'Validating');

-- The records, in Codat's shape (`data`, JSON text whose `modifiedDate` is `modified`) beside
-- the platform's (`raw`). One row per connection, data type and record id: storing a page is an
-- upsert, so a resumed or repeated pull never duplicates a record, and a record re-fetched
-- unchanged (same `hash`) keeps its row and its `modifiedDate`. Deleting the connection deletes
-- its records; unlinking it keeps them readable.
--
-- Reads go by company and data type (`company_id, data_type, record_id`). Queries over fields
-- of the record (`query=`, `orderBy=` of the read endpoints) use `json_extract(data, '$.field')`;
-- a field worth an index gets an expression index on it, e.g.
-- `CREATE INDEX ... ON data_records(company_id, data_type, json_extract(data, '$.issueDate'))`.
CREATE TABLE data_records (
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    data_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    data TEXT NOT NULL,
    raw TEXT NOT NULL,
    hash TEXT NOT NULL,
    source_modified INTEGER,
    modified INTEGER NOT NULL,
    dataset_id TEXT NOT NULL,
    PRIMARY KEY (connection_id, data_type, record_id)
);
CREATE INDEX data_records_read ON data_records(company_id, data_type, record_id);
