//! Apideck's wire shapes (snake_case, the `{status_code, status, data}` envelope).

use finlink_app::App;
use finlink_app::vault::VaultConnection;
use finlink_domain::company::Company;
use finlink_domain::integration::AuthType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `{status_code, status, data}`.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T: Serialize> {
    pub status_code: u16,
    pub status: &'static str,
    pub data: T,
}

pub fn ok<T: Serialize>(data: T) -> Envelope<T> {
    Envelope {
        status_code: 200,
        status: "OK",
        data,
    }
}

/// Apideck's `Connection`, with finlink's ids to find the same connection through the Codat API.
#[derive(Serialize, ToSchema)]
pub struct VaultConnectionDto {
    /// The connection id (the same as on `/companies/{companyId}/connections/{id}`).
    pub id: String,
    pub service_id: String,
    pub name: String,
    pub unified_api: String,
    pub consumer_id: String,
    /// The finlink company behind the consumer.
    pub company_id: String,
    pub auth_type: &'static str,
    pub oauth_grant_type: Option<&'static str>,
    pub status: &'static str,
    pub enabled: bool,
    /// `added`, `authorized`, `callable` or `invalid`.
    pub state: &'static str,
    /// `ok`, `pending_refresh` (a refresh failed; the credentials are kept and retried),
    /// `needs_auth` or `revoked`.
    pub health: &'static str,
    /// The last failed token refresh (unix milliseconds), if any.
    pub last_refresh_failed_at: Option<i64>,
    /// When the credentials of a rejected grant are deleted unless a refresh succeeds first
    /// (unix milliseconds); absent when no retention window runs.
    pub credentials_expire_at: Option<i64>,
    pub website: Option<String>,
    pub logo: String,
    pub icon: String,
    /// Non-secret provider settings (e.g. `tenantId`, `realmId`).
    #[schema(value_type = Object)]
    pub settings: serde_json::Map<String, Value>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, Value>,
    /// When the current access token expires (unix milliseconds), if known.
    pub token_expires_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl VaultConnectionDto {
    pub fn from_view(app: &App, v: VaultConnection) -> Self {
        let mut settings = v.connection.connection_info.clone().unwrap_or_default();
        let metadata = match settings.remove("metadata") {
            Some(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let logo = crate::codat::integrations::logo_url(app, &v.integration);
        Self {
            id: v.connection.id.to_string(),
            service_id: v.integration.slug.clone(),
            name: v.integration.name.clone(),
            unified_api: v.unified_api.to_owned(),
            consumer_id: v.consumer_id,
            company_id: v.connection.company_id.to_string(),
            auth_type: match v.integration.auth_type {
                AuthType::Oauth2 => "oauth2",
                AuthType::ApiKey => "apiKey",
                AuthType::Basic => "basic",
                AuthType::OnPremise => "custom",
            },
            oauth_grant_type: (v.integration.auth_type == AuthType::Oauth2)
                .then_some("authorization_code"),
            status: "live",
            enabled: app.integration_enabled(&v.integration),
            state: v.state,
            health: v.connection.health().as_str(),
            last_refresh_failed_at: v.connection.refresh.last_failed_at.map(|t| t.as_millis()),
            credentials_expire_at: v
                .connection
                .refresh
                .credentials_expire_at
                .map(|t| t.as_millis()),
            website: v.integration.website.clone(),
            icon: logo.clone(),
            logo,
            settings,
            metadata,
            token_expires_at: v.expires_at.map(|t| t.as_millis()),
            created_at: v.connection.created.as_millis(),
            updated_at: v.connection.modified.as_millis(),
        }
    }
}

/// `ConnectionImportData`.
#[derive(Deserialize, ToSchema, Default)]
pub struct ImportBody {
    #[serde(default)]
    pub credentials: Option<ImportCredentialsBody>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Accepted as in Apideck's migration guide; the x-apideck-consumer-id header wins.
    #[serde(default)]
    pub consumer_id: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct ImportCredentialsBody {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    /// RFC 3339.
    pub issued_at: Option<String>,
    /// Seconds (values above 1,000,000 are read as milliseconds, as in Apideck's guide).
    pub expires_in: Option<i64>,
}

/// `ConnectionInput` (the parts finlink applies).
#[derive(Deserialize, ToSchema, Default)]
pub struct ConnectionPatch {
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// `{id, state}` from validate.
#[derive(Serialize, ToSchema)]
pub struct ValidateResult {
    pub id: String,
    pub state: &'static str,
    /// What the refresh did: `refreshed`, `rejected`, `transient_failure`, or `checked` (non-OAuth).
    pub refresh: &'static str,
    pub message: Option<String>,
}

/// Apideck's `Consumer`.
#[derive(Serialize, ToSchema)]
pub struct ConsumerDto {
    pub consumer_id: String,
    pub company_id: String,
    pub metadata: ConsumerMetadata,
    pub connections: Vec<ConsumerConnection>,
    pub created: String,
    pub modified: String,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct ConsumerMetadata {
    pub account_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsumerConnection {
    pub id: String,
    pub service_id: String,
    pub unified_api: String,
    pub state: String,
}

impl ConsumerDto {
    pub fn from_company(app: &App, c: Company) -> Self {
        let connections = c
            .connections
            .iter()
            .map(|x| ConsumerConnection {
                id: x.id.to_string(),
                service_id: app
                    .catalog
                    .get(&x.integration_key)
                    .map(|i| i.slug.clone())
                    .unwrap_or_default(),
                unified_api: finlink_app::vault::unified_api_of(x.source_type).to_owned(),
                // Apideck's states, from the connection's status.
                state: match x.status {
                    finlink_domain::connection::ConnectionStatus::Linked => "callable",
                    finlink_domain::connection::ConnectionStatus::Deauthorized => "invalid",
                    _ => "added",
                }
                .to_owned(),
            })
            .collect();
        Self {
            consumer_id: c.consumer_id.clone().unwrap_or_default(),
            company_id: c.id.to_string(),
            metadata: ConsumerMetadata {
                account_name: Some(c.name.clone()),
            },
            connections,
            created: c.created.to_rfc3339(),
            modified: c.modified.to_rfc3339(),
        }
    }
}

/// What deleting a consumer answers.
#[derive(Serialize, ToSchema)]
pub struct DeletedConsumer {
    pub consumer_id: String,
}

/// `{consumer_id, metadata}`.
#[derive(Deserialize, ToSchema)]
pub struct ConsumerBody {
    pub consumer_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<ConsumerMetadata>,
}
