//! Rows as both engines store them, and their conversion to and from domain values.
//! Each engine fills these from its own row type; the conversions live here once.

use finlink_domain::api_key::ApiKey;
use finlink_domain::client::Client;
use finlink_domain::company::{Company, Tags};
use finlink_domain::connection::{
    Connection, ConnectionError, ConnectionStatus, RefreshHealth, SourceType,
};
use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::ids::{ApiKeyId, ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::AuthType;
use finlink_domain::link::{IntegrationCredentials, LinkFlow, LinkStage};
use finlink_domain::profile::Profile;
use finlink_domain::{Error, Result, Timestamp};
use uuid::Uuid;

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(format!("stored {what} could not be read: {detail}"))
}

fn uuid(what: &str, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| corrupt(what, e))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| String::from("null"))
}

pub const CLIENT_COLUMNS: &str = "id, name, created";

pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub created: i64,
}

impl ClientRow {
    pub fn into_domain(self) -> Result<Client> {
        Ok(Client {
            id: ClientId::from_uuid(uuid("client id", &self.id)?),
            name: self.name,
            created: Timestamp::from_millis(self.created),
        })
    }
}

pub const PROFILE_COLUMNS: &str =
    "name, redirect_url, logo_url, icon_url, white_list_urls, confirm_company_name, link_settings";

pub struct ProfileRow {
    pub name: String,
    pub redirect_url: String,
    pub logo_url: Option<String>,
    pub icon_url: Option<String>,
    pub white_list_urls: String,
    pub confirm_company_name: bool,
    /// finlink's Link branding, as a JSON object (see [`LinkSettings`]).
    pub link_settings: String,
}

/// The `link_settings` column: the profile's finlink extensions, kept as one JSON object so
/// a new branding field needs no migration.
#[derive(serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LinkSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    primary_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    support_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    support_url: Option<String>,
}

impl ProfileRow {
    pub fn from_domain(p: &Profile) -> Self {
        Self {
            name: p.name.clone(),
            redirect_url: p.redirect_url.clone(),
            logo_url: p.logo_url.clone(),
            icon_url: p.icon_url.clone(),
            white_list_urls: to_json(&p.white_list_urls),
            confirm_company_name: p.confirm_company_name,
            link_settings: to_json(&LinkSettings {
                primary_color: p.primary_color.clone(),
                default_language: p.default_language.clone(),
                support_email: p.support_email.clone(),
                support_url: p.support_url.clone(),
            }),
        }
    }

    pub fn into_domain(self) -> Result<Profile> {
        let link: LinkSettings = json("profile link settings", &self.link_settings)?;
        Ok(Profile {
            name: self.name,
            redirect_url: self.redirect_url,
            logo_url: self.logo_url,
            icon_url: self.icon_url,
            white_list_urls: json("profile whiteListUrls", &self.white_list_urls)?,
            confirm_company_name: self.confirm_company_name,
            primary_color: link.primary_color,
            default_language: link.default_language,
            support_email: link.support_email,
            support_url: link.support_url,
        })
    }
}

pub const API_KEY_COLUMNS: &str = "id, client_id, name, lookup, hash, permissions, created";

pub struct ApiKeyRow {
    pub id: String,
    pub client_id: String,
    pub name: Option<String>,
    pub lookup: String,
    pub hash: Vec<u8>,
    pub permissions: String,
    pub created: i64,
}

impl ApiKeyRow {
    pub fn from_domain(k: &ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            client_id: k.client_id.to_string(),
            name: k.name.clone(),
            lookup: k.lookup.clone(),
            hash: k.hash.to_vec(),
            permissions: to_json(&k.permissions),
            created: k.created.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<ApiKey> {
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(uuid("API key id", &self.id)?),
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            name: self.name,
            lookup: self.lookup,
            hash: self
                .hash
                .try_into()
                .map_err(|_| corrupt("API key hash", "wrong length"))?,
            permissions: json("API key permissions", &self.permissions)?,
            created: Timestamp::from_millis(self.created),
        })
    }
}

pub const COMPANY_COLUMNS: &str = "c.id, c.client_id, c.name, c.description, c.tags, c.created, \
     c.modified, c.last_sync, c.created_by_user_name, c.products, c.consumer_id";

pub struct CompanyRow {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: String,
    pub created: i64,
    pub modified: i64,
    pub last_sync: Option<i64>,
    pub created_by_user_name: Option<String>,
    pub products: String,
    pub consumer_id: Option<String>,
}

impl CompanyRow {
    pub fn from_domain(c: &Company) -> Self {
        Self {
            id: c.id.to_string(),
            client_id: c.client_id.to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            tags: to_json(&c.tags),
            created: c.created.as_millis(),
            modified: c.modified.as_millis(),
            last_sync: c.last_sync.map(Timestamp::as_millis),
            created_by_user_name: c.created_by_user_name.clone(),
            products: to_json(&c.products),
            consumer_id: c.consumer_id.clone(),
        }
    }

    pub fn into_domain(self) -> Result<Company> {
        let tags: Tags = json("company tags", &self.tags)?;
        Ok(Company {
            id: CompanyId::from_uuid(uuid("company id", &self.id)?),
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            name: self.name,
            description: self.description,
            tags,
            created: Timestamp::from_millis(self.created),
            modified: Timestamp::from_millis(self.modified),
            last_sync: self.last_sync.map(Timestamp::from_millis),
            created_by_user_name: self.created_by_user_name,
            products: json("company products", &self.products)?,
            consumer_id: self.consumer_id,
            connections: Vec::new(),
        })
    }
}

/// The columns a new connection is inserted with (the refresh-health ones start empty).
pub const CONNECTION_INSERT_COLUMNS: &str = "id, client_id, company_id, integration_key, \
     integration_id, source_id, source_type, platform_name, status, created, \
     modified, last_sync, errors, connection_info";

pub const CONNECTION_COLUMNS: &str = "dc.id, dc.client_id, dc.company_id, dc.integration_key, \
     dc.integration_id, dc.source_id, dc.source_type, dc.platform_name, dc.status, dc.created, \
     dc.modified, dc.last_sync, dc.errors, dc.connection_info, dc.refresh_failing_since, \
     dc.refresh_last_failed_at, dc.credentials_expire_at, dc.refresh_revoked";

pub struct ConnectionRow {
    pub id: String,
    pub client_id: String,
    pub company_id: String,
    pub integration_key: String,
    pub integration_id: String,
    pub source_id: String,
    pub source_type: String,
    pub platform_name: String,
    pub status: String,
    pub created: i64,
    pub modified: i64,
    pub last_sync: Option<i64>,
    pub errors: String,
    pub connection_info: Option<String>,
    pub refresh_failing_since: Option<i64>,
    pub refresh_last_failed_at: Option<i64>,
    pub credentials_expire_at: Option<i64>,
    pub refresh_revoked: bool,
}

impl ConnectionRow {
    pub fn from_domain(c: &Connection) -> Self {
        Self {
            id: c.id.to_string(),
            client_id: c.client_id.to_string(),
            company_id: c.company_id.to_string(),
            integration_key: c.integration_key.clone(),
            integration_id: c.integration_id.to_string(),
            source_id: c.source_id.to_string(),
            source_type: c.source_type.as_str().to_owned(),
            platform_name: c.platform_name.clone(),
            status: c.status.as_str().to_owned(),
            created: c.created.as_millis(),
            modified: c.modified.as_millis(),
            last_sync: c.last_sync.map(Timestamp::as_millis),
            errors: to_json(&c.errors),
            connection_info: c.connection_info.as_ref().map(to_json),
            refresh_failing_since: c.refresh.failing_since.map(Timestamp::as_millis),
            refresh_last_failed_at: c.refresh.last_failed_at.map(Timestamp::as_millis),
            credentials_expire_at: c.refresh.credentials_expire_at.map(Timestamp::as_millis),
            refresh_revoked: c.refresh.revoked,
        }
    }

    pub fn into_domain(self) -> Result<Connection> {
        let errors: Vec<ConnectionError> = json("connection errors", &self.errors)?;
        Ok(Connection {
            id: ConnectionId::from_uuid(uuid("connection id", &self.id)?),
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            company_id: CompanyId::from_uuid(uuid("company id", &self.company_id)?),
            integration_key: self.integration_key,
            integration_id: uuid("integration id", &self.integration_id)?,
            source_id: uuid("source id", &self.source_id)?,
            source_type: SourceType::parse(&self.source_type)
                .ok_or_else(|| corrupt("source type", &self.source_type))?,
            platform_name: self.platform_name,
            status: ConnectionStatus::parse(&self.status)
                .ok_or_else(|| corrupt("connection status", &self.status))?,
            created: Timestamp::from_millis(self.created),
            modified: Timestamp::from_millis(self.modified),
            last_sync: self.last_sync.map(Timestamp::from_millis),
            errors,
            connection_info: match self.connection_info {
                Some(s) => Some(json("connection info", &s)?),
                None => None,
            },
            refresh: RefreshHealth {
                failing_since: self.refresh_failing_since.map(Timestamp::from_millis),
                last_failed_at: self.refresh_last_failed_at.map(Timestamp::from_millis),
                credentials_expire_at: self.credentials_expire_at.map(Timestamp::from_millis),
                revoked: self.refresh_revoked,
            },
        })
    }
}

/// Attaches connections (ordered by company, then creation) to their companies.
pub fn attach_connections(companies: &mut [Company], connections: Vec<Connection>) {
    for conn in connections {
        if let Some(c) = companies.iter_mut().find(|c| c.id == conn.company_id) {
            c.connections.push(conn);
        }
    }
}

pub const CREDENTIAL_COLUMNS: &str = "cr.client_id, cr.company_id, cr.connection_id, cr.auth_type, cr.key_id, \
     cr.sealed, cr.token_type, cr.scopes, cr.expires_at, cr.issued_at, cr.needs_refresh, cr.version, cr.updated";

pub struct CredentialsRow {
    pub client_id: String,
    pub company_id: String,
    pub connection_id: String,
    pub auth_type: String,
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub token_type: Option<String>,
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub issued_at: Option<i64>,
    pub needs_refresh: bool,
    pub version: i64,
    pub updated: i64,
}

fn auth_type_name(a: AuthType) -> &'static str {
    match a {
        AuthType::Oauth2 => "oauth2",
        AuthType::ApiKey => "apiKey",
        AuthType::Basic => "basic",
        AuthType::OnPremise => "onPremise",
    }
}

impl CredentialsRow {
    pub fn from_domain(c: &SealedCredentials) -> Self {
        Self {
            client_id: c.client_id.to_string(),
            company_id: c.company_id.to_string(),
            connection_id: c.connection_id.to_string(),
            auth_type: auth_type_name(c.auth_type).to_owned(),
            key_id: c.key_id.clone(),
            sealed: c.sealed.clone(),
            token_type: c.token_type.clone(),
            scopes: to_json(&c.scopes),
            expires_at: c.expires_at.map(Timestamp::as_millis),
            issued_at: c.issued_at.map(Timestamp::as_millis),
            needs_refresh: c.needs_refresh,
            version: c.version,
            updated: c.updated.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<SealedCredentials> {
        let auth_type = match self.auth_type.as_str() {
            "oauth2" => AuthType::Oauth2,
            "apiKey" => AuthType::ApiKey,
            "basic" => AuthType::Basic,
            "onPremise" => AuthType::OnPremise,
            other => return Err(corrupt("credentials auth type", other)),
        };
        Ok(SealedCredentials {
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            company_id: CompanyId::from_uuid(uuid("company id", &self.company_id)?),
            connection_id: ConnectionId::from_uuid(uuid("connection id", &self.connection_id)?),
            auth_type,
            key_id: self.key_id,
            sealed: self.sealed,
            token_type: self.token_type,
            scopes: json("credential scopes", &self.scopes)?,
            expires_at: self.expires_at.map(Timestamp::from_millis),
            issued_at: self.issued_at.map(Timestamp::from_millis),
            needs_refresh: self.needs_refresh,
            version: self.version,
            updated: Timestamp::from_millis(self.updated),
        })
    }
}

pub const AUDIT_COLUMNS: &str =
    "id, client_id, actor, action, company_id, connection_id, outcome, detail, at";

pub struct AuditRow {
    pub id: String,
    pub client_id: String,
    pub actor: String,
    pub action: String,
    pub company_id: Option<String>,
    pub connection_id: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub at: i64,
}

impl AuditRow {
    pub fn from_domain(a: &AuditEntry) -> Self {
        Self {
            id: a.id.to_string(),
            client_id: a.client_id.to_string(),
            actor: a.actor.clone(),
            action: a.action.clone(),
            company_id: a.company_id.map(|c| c.to_string()),
            connection_id: a.connection_id.map(|c| c.to_string()),
            outcome: a.outcome.clone(),
            detail: a.detail.clone(),
            at: a.at.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<AuditEntry> {
        Ok(AuditEntry {
            id: uuid("audit id", &self.id)?,
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            actor: self.actor,
            action: self.action,
            company_id: self
                .company_id
                .map(|c| uuid("company id", &c).map(CompanyId::from_uuid))
                .transpose()?,
            connection_id: self
                .connection_id
                .map(|c| uuid("connection id", &c).map(ConnectionId::from_uuid))
                .transpose()?,
            outcome: self.outcome,
            detail: self.detail,
            at: Timestamp::from_millis(self.at),
        })
    }
}

pub const LINK_FLOW_COLUMNS: &str = "id, state_hash, browser_hash, client_id, company_id, connection_id, \
     integration_key, lang, stage, sealed, version, created, expires";

pub struct LinkFlowRow {
    pub id: String,
    pub state_hash: String,
    pub browser_hash: String,
    pub client_id: String,
    pub company_id: String,
    pub connection_id: String,
    pub integration_key: String,
    pub lang: String,
    pub stage: String,
    pub sealed: Vec<u8>,
    pub version: i64,
    pub created: i64,
    pub expires: i64,
}

impl LinkFlowRow {
    pub fn from_domain(f: &LinkFlow) -> Self {
        Self {
            id: f.id.clone(),
            state_hash: f.state_hash.clone(),
            browser_hash: f.browser_hash.clone(),
            client_id: f.client_id.to_string(),
            company_id: f.company_id.to_string(),
            connection_id: f.connection_id.to_string(),
            integration_key: f.integration_key.clone(),
            lang: f.lang.clone(),
            stage: f.stage.as_str().to_owned(),
            sealed: f.sealed.clone(),
            version: f.version,
            created: f.created.as_millis(),
            expires: f.expires.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<LinkFlow> {
        Ok(LinkFlow {
            stage: LinkStage::parse(&self.stage)
                .ok_or_else(|| corrupt("link flow stage", &self.stage))?,
            id: self.id,
            state_hash: self.state_hash,
            browser_hash: self.browser_hash,
            client_id: ClientId::from_uuid(uuid("link flow client", &self.client_id)?),
            company_id: CompanyId::from_uuid(uuid("link flow company", &self.company_id)?),
            connection_id: ConnectionId::from_uuid(uuid(
                "link flow connection",
                &self.connection_id,
            )?),
            integration_key: self.integration_key,
            lang: self.lang,
            sealed: self.sealed,
            version: self.version,
            created: Timestamp::from_millis(self.created),
            expires: Timestamp::from_millis(self.expires),
        })
    }
}

pub const INTEGRATION_CREDENTIAL_COLUMNS: &str =
    "client_id, integration_key, oauth_client_id, sealed_secret, key_id, updated";

pub struct IntegrationCredentialsRow {
    pub client_id: String,
    pub integration_key: String,
    pub oauth_client_id: String,
    pub sealed_secret: Option<Vec<u8>>,
    pub key_id: Option<String>,
    pub updated: i64,
}

impl IntegrationCredentialsRow {
    pub fn from_domain(c: &IntegrationCredentials) -> Self {
        Self {
            client_id: c.client_id.to_string(),
            integration_key: c.integration_key.clone(),
            oauth_client_id: c.oauth_client_id.clone(),
            sealed_secret: c.sealed_secret.clone(),
            key_id: c.key_id.clone(),
            updated: c.updated.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<IntegrationCredentials> {
        Ok(IntegrationCredentials {
            client_id: ClientId::from_uuid(uuid(
                "integration credentials client",
                &self.client_id,
            )?),
            integration_key: self.integration_key,
            oauth_client_id: self.oauth_client_id,
            sealed_secret: self.sealed_secret,
            key_id: self.key_id,
            updated: Timestamp::from_millis(self.updated),
        })
    }
}

/// `dataConnectionErrors` as stored.
pub fn errors_json(errors: &[ConnectionError]) -> String {
    to_json(&errors)
}

pub const JOB_COLUMNS: &str = "id, kind, payload, run_at, attempts, max_attempts, state, lease_owner, \
     lease_expires, fence, last_error, idempotency_key, concurrency_key, created, updated";

pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub run_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub state: String,
    pub lease_owner: Option<String>,
    pub lease_expires: Option<i64>,
    pub fence: i64,
    pub last_error: Option<String>,
    pub idempotency_key: Option<String>,
    pub concurrency_key: Option<String>,
    pub created: i64,
    pub updated: i64,
}

impl JobRow {
    pub fn into_domain(self) -> Result<finlink_domain::job::Job> {
        Ok(finlink_domain::job::Job {
            id: uuid("job id", &self.id)?,
            state: finlink_domain::job::JobState::parse(&self.state)
                .ok_or_else(|| corrupt("job state", &self.state))?,
            kind: self.kind,
            payload: self.payload,
            run_at: Timestamp::from_millis(self.run_at),
            attempts: i32::try_from(self.attempts).unwrap_or(i32::MAX),
            max_attempts: i32::try_from(self.max_attempts).unwrap_or(i32::MAX),
            lease_owner: self.lease_owner,
            lease_expires: self.lease_expires.map(Timestamp::from_millis),
            fence: self.fence,
            last_error: self.last_error,
            idempotency_key: self.idempotency_key,
            concurrency_key: self.concurrency_key,
            created: Timestamp::from_millis(self.created),
            updated: Timestamp::from_millis(self.updated),
        })
    }
}

/// A job's last error, cut to what a log line needs.
pub fn job_error(e: &str) -> String {
    e.chars().take(2000).collect()
}

/// `cols` (a comma-separated column list) with each column qualified by `alias`.
pub fn prefixed(alias: &str, cols: &str) -> String {
    cols.split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub const EVENT_COLUMNS: &str =
    "id, client_id, event_type, company_id, connection_id, payload, occurred_at";

pub struct EventRow {
    pub id: String,
    pub client_id: String,
    pub event_type: String,
    pub company_id: Option<String>,
    pub connection_id: Option<String>,
    pub payload: String,
    pub occurred_at: i64,
}

impl EventRow {
    pub fn from_domain(e: &finlink_domain::event::Event) -> Self {
        Self {
            id: e.id.to_string(),
            client_id: e.client_id.to_string(),
            event_type: e.event_type.clone(),
            company_id: e.company_id.map(|c| c.to_string()),
            connection_id: e.connection_id.map(|c| c.to_string()),
            payload: e.payload.clone(),
            occurred_at: e.occurred_at.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<finlink_domain::event::Event> {
        Ok(finlink_domain::event::Event {
            id: uuid("event id", &self.id)?,
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            event_type: self.event_type,
            company_id: self
                .company_id
                .map(|c| uuid("company id", &c).map(CompanyId::from_uuid))
                .transpose()?,
            connection_id: self
                .connection_id
                .map(|c| uuid("connection id", &c).map(ConnectionId::from_uuid))
                .transpose()?,
            payload: self.payload,
            occurred_at: Timestamp::from_millis(self.occurred_at),
        })
    }
}

pub const CONSUMER_COLUMNS: &str = "id, client_id, url, disabled, disabled_reason, event_types, \
     company_tags, failing_since, created, updated";

pub struct ConsumerRow {
    pub id: String,
    pub client_id: String,
    pub url: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub event_types: String,
    pub company_tags: String,
    pub failing_since: Option<i64>,
    pub created: i64,
    pub updated: i64,
}

impl ConsumerRow {
    pub fn from_domain(c: &finlink_domain::webhook::Consumer) -> Self {
        Self {
            id: c.id.to_string(),
            client_id: c.client_id.to_string(),
            url: c.url.clone(),
            disabled: c.disabled,
            disabled_reason: c.disabled_reason.clone(),
            event_types: to_json(&c.event_types),
            company_tags: to_json(&c.company_tags),
            failing_since: c.failing_since.map(Timestamp::as_millis),
            created: c.created.as_millis(),
            updated: c.updated.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<finlink_domain::webhook::Consumer> {
        Ok(finlink_domain::webhook::Consumer {
            id: uuid("consumer id", &self.id)?,
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            url: self.url,
            disabled: self.disabled,
            disabled_reason: self.disabled_reason,
            event_types: json("consumer event types", &self.event_types)?,
            company_tags: json("consumer company tags", &self.company_tags)?,
            failing_since: self.failing_since.map(Timestamp::from_millis),
            created: Timestamp::from_millis(self.created),
            updated: Timestamp::from_millis(self.updated),
        })
    }
}

pub const DELIVERY_COLUMNS: &str = "id, client_id, consumer_id, event_id, event_type, event_at, \
     state, attempts, last_attempt_at, response_status, duration_ms, response_body, \
     next_attempt_at, created";

pub struct DeliveryRow {
    pub id: String,
    pub client_id: String,
    pub consumer_id: String,
    pub event_id: String,
    pub event_type: String,
    pub event_at: i64,
    pub state: String,
    pub attempts: i64,
    pub last_attempt_at: Option<i64>,
    pub response_status: Option<i64>,
    pub duration_ms: Option<i64>,
    pub response_body: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub created: i64,
}

impl DeliveryRow {
    pub fn from_domain(d: &finlink_domain::webhook::Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            client_id: d.client_id.to_string(),
            consumer_id: d.consumer_id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type.clone(),
            event_at: d.event_at.as_millis(),
            state: d.state.as_str().to_owned(),
            attempts: i64::from(d.attempts),
            last_attempt_at: d.last_attempt_at.map(Timestamp::as_millis),
            response_status: d.response_status.map(i64::from),
            duration_ms: d.duration_ms,
            response_body: d.response_body.clone(),
            next_attempt_at: d.next_attempt_at.map(Timestamp::as_millis),
            created: d.created.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<finlink_domain::webhook::Delivery> {
        Ok(finlink_domain::webhook::Delivery {
            id: uuid("delivery id", &self.id)?,
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            consumer_id: uuid("consumer id", &self.consumer_id)?,
            event_id: uuid("event id", &self.event_id)?,
            event_type: self.event_type,
            event_at: Timestamp::from_millis(self.event_at),
            state: finlink_domain::webhook::DeliveryState::parse(&self.state)
                .ok_or_else(|| corrupt("delivery state", &self.state))?,
            attempts: i32::try_from(self.attempts).unwrap_or(i32::MAX),
            last_attempt_at: self.last_attempt_at.map(Timestamp::from_millis),
            response_status: self.response_status.and_then(|s| i32::try_from(s).ok()),
            duration_ms: self.duration_ms,
            response_body: self.response_body,
            next_attempt_at: self.next_attempt_at.map(Timestamp::from_millis),
            created: Timestamp::from_millis(self.created),
        })
    }
}

pub const DATASET_COLUMNS: &str = "d.id, d.client_id, d.company_id, d.connection_id, d.batch_id, \
     d.data_type, d.status, d.status_description, d.error_message, d.requested, d.started, \
     d.completed, d.progress, d.is_initial, d.resume_page, d.records, d.rejected, d.changed, \
     d.modified_since, d.max_source_modified, d.updated";

/// The columns a dataset is inserted with, in [`DatasetRow`] order.
pub const DATASET_INSERT_COLUMNS: &str = "id, client_id, company_id, connection_id, batch_id, \
     data_type, status, status_description, error_message, requested, started, completed, \
     progress, is_initial, resume_page, records, rejected, changed, modified_since, \
     max_source_modified, updated";

pub struct DatasetRow {
    pub id: String,
    pub client_id: String,
    pub company_id: String,
    pub connection_id: String,
    pub batch_id: String,
    pub data_type: String,
    pub status: String,
    pub status_description: Option<String>,
    pub error_message: Option<String>,
    pub requested: i64,
    pub started: Option<i64>,
    pub completed: Option<i64>,
    pub progress: i64,
    pub is_initial: bool,
    pub resume_page: i64,
    pub records: i64,
    pub rejected: i64,
    pub changed: i64,
    pub modified_since: Option<i64>,
    pub max_source_modified: Option<i64>,
    pub updated: i64,
}

impl DatasetRow {
    pub fn from_domain(d: &finlink_domain::sync::Dataset) -> Self {
        Self {
            id: d.id.to_string(),
            client_id: d.client_id.to_string(),
            company_id: d.company_id.to_string(),
            connection_id: d.connection_id.to_string(),
            batch_id: d.batch_id.to_string(),
            data_type: d.data_type.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            status_description: d.status_description.clone(),
            error_message: d.error_message.clone(),
            requested: d.requested.as_millis(),
            started: d.started.map(Timestamp::as_millis),
            completed: d.completed.map(Timestamp::as_millis),
            progress: i64::from(d.progress),
            is_initial: d.is_initial,
            resume_page: i64::from(d.resume_page),
            records: i64::try_from(d.records).unwrap_or(i64::MAX),
            rejected: i64::try_from(d.rejected).unwrap_or(i64::MAX),
            changed: i64::try_from(d.changed).unwrap_or(i64::MAX),
            modified_since: d.modified_since.map(Timestamp::as_millis),
            max_source_modified: d.max_source_modified.map(Timestamp::as_millis),
            updated: d.updated.as_millis(),
        }
    }

    pub fn into_domain(self) -> Result<finlink_domain::sync::Dataset> {
        use finlink_domain::data::{DataType, DatasetStatus};
        Ok(finlink_domain::sync::Dataset {
            id: uuid("dataset id", &self.id)?,
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            company_id: CompanyId::from_uuid(uuid("company id", &self.company_id)?),
            connection_id: ConnectionId::from_uuid(uuid("connection id", &self.connection_id)?),
            batch_id: uuid("sync batch id", &self.batch_id)?,
            data_type: DataType::parse(&self.data_type)
                .ok_or_else(|| corrupt("dataset data type", &self.data_type))?,
            status: DatasetStatus::parse(&self.status)
                .ok_or_else(|| corrupt("dataset status", &self.status))?,
            status_description: self.status_description,
            error_message: self.error_message,
            requested: Timestamp::from_millis(self.requested),
            started: self.started.map(Timestamp::from_millis),
            completed: self.completed.map(Timestamp::from_millis),
            progress: i32::try_from(self.progress.clamp(0, 100)).unwrap_or(0),
            is_initial: self.is_initial,
            resume_page: u32::try_from(self.resume_page.max(1)).unwrap_or(u32::MAX),
            records: u64::try_from(self.records).unwrap_or(0),
            rejected: u64::try_from(self.rejected).unwrap_or(0),
            changed: u64::try_from(self.changed).unwrap_or(0),
            modified_since: self.modified_since.map(Timestamp::from_millis),
            max_source_modified: self.max_source_modified.map(Timestamp::from_millis),
            updated: Timestamp::from_millis(self.updated),
        })
    }
}

pub const BATCH_COLUMNS: &str = "id, client_id, company_id, is_initial, requested, completed";

pub struct BatchRow {
    pub id: String,
    pub client_id: String,
    pub company_id: String,
    pub is_initial: bool,
    pub requested: i64,
    pub completed: Option<i64>,
}

impl BatchRow {
    pub fn from_domain(b: &finlink_domain::sync::SyncBatch) -> Self {
        Self {
            id: b.id.to_string(),
            client_id: b.client_id.to_string(),
            company_id: b.company_id.to_string(),
            is_initial: b.is_initial,
            requested: b.requested.as_millis(),
            completed: b.completed.map(Timestamp::as_millis),
        }
    }

    pub fn into_domain(self) -> Result<finlink_domain::sync::SyncBatch> {
        Ok(finlink_domain::sync::SyncBatch {
            id: uuid("sync batch id", &self.id)?,
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            company_id: CompanyId::from_uuid(uuid("company id", &self.company_id)?),
            is_initial: self.is_initial,
            requested: Timestamp::from_millis(self.requested),
            completed: self.completed.map(Timestamp::from_millis),
        })
    }
}

/// The columns of a record as listed (without the raw record).
pub const RECORD_COLUMNS: &str = "r.client_id, r.company_id, r.connection_id, r.data_type, \
     r.record_id, r.data, r.source_modified, r.modified, r.dataset_id";

pub struct RecordRow {
    pub client_id: String,
    pub company_id: String,
    pub connection_id: String,
    pub data_type: String,
    pub record_id: String,
    pub data: String,
    pub raw: Option<String>,
    pub source_modified: Option<i64>,
    pub modified: i64,
    pub dataset_id: String,
}

impl RecordRow {
    pub fn into_domain(self) -> Result<finlink_domain::sync::StoredRecord> {
        use finlink_domain::data::DataType;
        Ok(finlink_domain::sync::StoredRecord {
            client_id: ClientId::from_uuid(uuid("client id", &self.client_id)?),
            company_id: CompanyId::from_uuid(uuid("company id", &self.company_id)?),
            connection_id: ConnectionId::from_uuid(uuid("connection id", &self.connection_id)?),
            data_type: DataType::parse(&self.data_type)
                .ok_or_else(|| corrupt("record data type", &self.data_type))?,
            record_id: self.record_id,
            data: self.data,
            raw: self.raw,
            source_modified: self.source_modified.map(Timestamp::from_millis),
            modified: Timestamp::from_millis(self.modified),
            dataset_id: uuid("dataset id", &self.dataset_id)?,
        })
    }
}
