-- Hosted Link: the profile's Link branding, in-progress Link flows, and clients' own OAuth apps.

ALTER TABLE profiles ADD COLUMN link_settings TEXT NOT NULL DEFAULT '{}';

-- One Link attempt. The OAuth state and the browser cookie are stored as SHA-256 digests;
-- the PKCE verifier and any tokens not yet committed are in `sealed` (a vault envelope).
CREATE TABLE link_flows (
    id TEXT PRIMARY KEY,
    state_hash TEXT NOT NULL UNIQUE,
    browser_hash TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    integration_key TEXT NOT NULL,
    lang TEXT NOT NULL,
    stage TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    version BIGINT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX link_flows_by_expiry ON link_flows(expires);

-- A client's own OAuth app at a platform (PUT /integrations/{key}/credentials).
CREATE TABLE integration_credentials (
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    integration_key TEXT NOT NULL,
    oauth_client_id TEXT NOT NULL,
    sealed_secret BYTEA,
    key_id TEXT,
    updated BIGINT NOT NULL,
    PRIMARY KEY (client_id, integration_key)
);
