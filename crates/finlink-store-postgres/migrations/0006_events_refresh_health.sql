-- Token-refresh health per connection (finlink_domain::connection::RefreshHealth).
ALTER TABLE connections ADD COLUMN refresh_failing_since BIGINT;
ALTER TABLE connections ADD COLUMN refresh_last_failed_at BIGINT;
ALTER TABLE connections ADD COLUMN credentials_expire_at BIGINT;
ALTER TABLE connections ADD COLUMN refresh_revoked BOOLEAN NOT NULL DEFAULT FALSE;

-- Events (finlink_domain::event), written in the transaction of the change they report. Not
-- tied to companies or connections: a deletion's event outlives what it reports.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    company_id TEXT,
    connection_id TEXT,
    payload TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX events_by_client ON events(client_id, id);
CREATE INDEX events_by_company ON events(client_id, company_id, id);
CREATE INDEX events_by_type ON events(client_id, event_type, id);

-- Finished jobs are pruned a day after they finish (finlink_store::Store::prune_jobs).
CREATE INDEX jobs_done ON jobs(updated) WHERE state = 'done';
