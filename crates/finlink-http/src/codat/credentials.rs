//! `GET /companies/{companyId}/connections/{connectionId}/credentials`: a connection's fresh
//! credentials (a finlink addition). Only API keys with the `credentials:read` permission may call
//! it; every call is audited.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use finlink_app::migration::Actor;
use finlink_domain::Error;
use finlink_domain::api_key::PERMISSION_CREDENTIALS_READ;
use finlink_domain::ids::{CompanyId, ConnectionId};
use finlink_domain::integration::AuthType;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::state::HttpState;

#[derive(Deserialize, IntoParams)]
#[allow(dead_code)] // documents the query parameter; parsed by hand for Codat-shaped errors
#[serde(rename_all = "camelCase")]
pub struct CredentialsQuery {
    /// Also return the refresh token (default false).
    #[serde(default)]
    pub include_refresh_token: bool,
}

/// A connection's credentials, ready to call the platform with.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub connection_id: String,
    #[schema(example = "mqjo")]
    pub platform_key: String,
    /// `oauth2`, `apiKey`, `basic` or `onPremise`.
    pub auth_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Only with `includeRefreshToken=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// When the access token expires (absent: it does not, or is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub scopes: Vec<String>,
    /// Other secret fields (API keys, passwords), by wire name.
    pub fields: BTreeMap<String, String>,
    /// Provider settings (realm id, tenant id, shop domain).
    #[schema(value_type = Object)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Whether this read refreshed the access token first.
    pub refreshed: bool,
}

/// Get a connection's credentials
///
/// Returns a fresh access token (refreshed first, through the single-flight refresh path, when it
/// expires within 5 minutes), its expiry, the connection's other secret fields and its settings.
/// The API key must have the `credentials:read` permission (`POST /apiKeys` with
/// `permissions: ["credentials:read"]`, or `finlink keys create --permission credentials:read`).
#[utoipa::path(get, path = "/companies/{companyId}/connections/{connectionId}/credentials", tag = "Connections",
    operation_id = "get-connection-credentials",
    params(("companyId" = String, Path, format = "uuid"), ("connectionId" = String, Path, format = "uuid"), CredentialsQuery),
    responses((status = 200, body = Credentials), (status = 403, body = ErrorMessage), (status = 404, body = ErrorMessage),
        (status = 409, description = "the platform rejected the grant", body = ErrorMessage),
        (status = 503, description = "expired and the platform could not refresh it for now", body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, connection)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Credentials>> {
    let mut include_refresh_token = false;
    for (k, v) in url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if k == "includeRefreshToken" {
            include_refresh_token = match v.as_ref() {
                "true" | "1" => true,
                "false" | "0" | "" => false,
                other => {
                    return Err(Error::invalid(
                        "includeRefreshToken",
                        "Query",
                        format!(
                            "includeRefreshToken must be true or false; got '{}'.",
                            other.chars().take(20).collect::<String>()
                        ),
                    )
                    .into());
                }
            };
        }
    }
    if !caller.key.has_permission(PERMISSION_CREDENTIALS_READ) {
        return Err(Error::Forbidden(format!(
            "This API key may not read credentials: it needs the '{PERMISSION_CREDENTIALS_READ}' permission (create one with POST /apiKeys and \"permissions\": [\"{PERMISSION_CREDENTIALS_READ}\"])."
        ))
        .into());
    }
    let (company, connection) = (
        CompanyId::parse(&company)?,
        ConnectionId::parse(&connection)?,
    );
    let v = s
        .app
        .read_credentials(
            &Actor::ApiKey(caller.key.id),
            caller.client(),
            company,
            connection,
            include_refresh_token,
        )
        .await?;
    Ok(Json(Credentials {
        connection_id: v.connection_id.to_string(),
        platform_key: v.platform_key.clone(),
        auth_type: match v.auth_type {
            AuthType::Oauth2 => "oauth2",
            AuthType::ApiKey => "apiKey",
            AuthType::Basic => "basic",
            AuthType::OnPremise => "onPremise",
        }
        .to_owned(),
        access_token: v.access_token.as_ref().map(|t| t.expose().clone()),
        refresh_token: v.refresh_token.as_ref().map(|t| t.expose().clone()),
        token_type: v.token_type.clone(),
        expires_at: v.expires_at.map(|t| t.to_rfc3339()),
        scopes: v.scopes.clone(),
        fields: v
            .fields
            .iter()
            .map(|(k, val)| (k.clone(), val.expose().clone()))
            .collect(),
        settings: v.settings.clone(),
        refreshed: v.refreshed,
    }))
}
