-- Webhook consumers (finlink_domain::webhook::Consumer), with their signing secrets sealed in
-- the vault (Purpose::WebhookSecret); after a rotation the previous secret signs too until
-- previous_expires.
CREATE TABLE webhook_consumers (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason TEXT,
    event_types TEXT NOT NULL,
    company_tags TEXT NOT NULL,
    failing_since BIGINT,
    key_id TEXT NOT NULL,
    secret BYTEA NOT NULL,
    previous_key_id TEXT,
    previous_secret BYTEA,
    previous_expires BIGINT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX webhook_consumers_by_client ON webhook_consumers(client_id, created);

-- One row per (event, consumer), written in the event's transaction with its delivery job;
-- updated by every attempt.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    consumer_id TEXT NOT NULL REFERENCES webhook_consumers(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    response_status BIGINT,
    duration_ms BIGINT,
    response_body TEXT,
    next_attempt_at BIGINT,
    created BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_consumer ON webhook_deliveries(consumer_id, id);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries(event_id);
-- Replay looks events up by time.
CREATE INDEX events_by_time ON events(client_id, occurred_at);

-- Due jobs are claimed in (run_at, id) order: events raised in one millisecond go out in the
-- order they were written.
DROP INDEX jobs_queued;
CREATE INDEX jobs_queued ON jobs(run_at, id) WHERE state = 'queued';
