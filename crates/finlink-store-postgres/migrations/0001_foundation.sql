-- Clients (tenants), their profiles and API keys; companies, tags and connections.
-- Times are integer milliseconds since the Unix epoch (UTC); ids are UUID strings.

CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created BIGINT NOT NULL
);

-- Companies per client, kept in step with the companies table so an unfiltered company
-- list needs no COUNT(*). Spread over 16 shards (a write touches one at random) so that
-- concurrent company creations for one client do not queue on a single row lock.
CREATE TABLE company_counts (
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    shard SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (client_id, shard)
);

CREATE TABLE profiles (
    client_id TEXT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    redirect_url TEXT NOT NULL,
    logo_url TEXT,
    icon_url TEXT,
    white_list_urls TEXT NOT NULL DEFAULT '[]',
    confirm_company_name BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    name TEXT,
    lookup TEXT NOT NULL UNIQUE,
    hash BYTEA NOT NULL,
    permissions TEXT NOT NULL DEFAULT '[]',
    created BIGINT NOT NULL
);
CREATE INDEX api_keys_by_client ON api_keys(client_id, created, id);

CREATE TABLE companies (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    tags TEXT NOT NULL DEFAULT '{}',
    created BIGINT NOT NULL,
    modified BIGINT NOT NULL,
    last_sync BIGINT,
    created_by_user_name TEXT,
    products TEXT NOT NULL DEFAULT '[]',
    consumer_id TEXT
);
CREATE INDEX companies_by_client ON companies(client_id, created, id);
CREATE UNIQUE INDEX companies_consumer ON companies(client_id, consumer_id) WHERE consumer_id IS NOT NULL;

-- Tags again, one row each, so tag queries use an index.
CREATE TABLE company_tags (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (company_id, tag_key)
);
CREATE INDEX company_tags_by_value ON company_tags(tag_key, tag_value);

CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    integration_key TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    source_type TEXT NOT NULL,
    platform_name TEXT NOT NULL,
    status TEXT NOT NULL,
    created BIGINT NOT NULL,
    modified BIGINT NOT NULL,
    last_sync BIGINT,
    errors TEXT NOT NULL DEFAULT '[]',
    connection_info TEXT
);
CREATE INDEX connections_by_company ON connections(company_id, created, id);
-- A company has at most one accounting connection.
CREATE UNIQUE INDEX connections_one_accounting ON connections(company_id) WHERE source_type = 'Accounting';
