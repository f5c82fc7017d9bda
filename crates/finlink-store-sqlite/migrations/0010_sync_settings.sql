-- Sync settings (finlink_domain::sync_settings): a client's (`/profile/syncSettings`) and a
-- company's (`/companies/{id}/syncSettings`). `settings` is a JSON array of SyncSetting objects
-- in Codat's shape (camelCase), at most one per data type; data types left out follow the level
-- below (the client's for a company, finlink's defaults for a client). Times are integer
-- milliseconds (UTC).
CREATE TABLE client_sync_settings (
    client_id TEXT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
    overrides_defaults INTEGER NOT NULL,
    settings TEXT NOT NULL,
    updated INTEGER NOT NULL
);

-- Deleting the company deletes its settings.
CREATE TABLE company_sync_settings (
    company_id TEXT PRIMARY KEY REFERENCES companies(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    overrides_defaults INTEGER NOT NULL,
    settings TEXT NOT NULL,
    updated INTEGER NOT NULL
);

-- Connections linked before this version have no pull schedule: one `schedule` plan job per
-- client (due at once) schedules every Linked connection of its companies (finlink-app's
-- schedules.rs). A fresh database has no clients, so this inserts nothing there.
INSERT INTO jobs (id, kind, payload, run_at, attempts, max_attempts, state, fence,
                  idempotency_key, concurrency_key, created, updated)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
             || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       'schedule', '{"client":"' || id || '","plan":true}', 0, 0, 2147483647, 'queued', 0,
       'schedule_plan:' || id || ':*:0', 'schedule_plan:' || id, 0, 0
FROM clients;
