//! `/integrations/{platformKey}/credentials`: a client's own OAuth app at a platform (a finlink
//! addition). It overrides the operator's `[integrations.KEY]` app for this client and enables
//! the integration for it. The client secret is sealed in the vault and never returned.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use finlink_app::migration::Actor;
use finlink_app::oauth_apps::IntegrationCredentialsView;
use finlink_vault::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::JsonBody;
use crate::state::HttpState;

/// The OAuth app to use at a platform.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutIntegrationCredentials {
    /// The OAuth client id registered at the platform.
    #[schema(example = "ABCDEF0123456789")]
    pub client_id: String,
    /// The OAuth client secret (omit for public clients). Sealed; never returned.
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// What is stored: never the secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationCredentials {
    #[schema(example = "gbol")]
    pub platform_key: String,
    pub client_id: String,
    /// Whether a client secret is stored.
    pub client_secret_set: bool,
    /// The callback URL to register with the platform.
    #[schema(example = "https://finlink.example.com/link/oauth/callback")]
    pub redirect_uri: String,
    pub modified_date: String,
}

fn dto(s: &HttpState, v: IntegrationCredentialsView) -> IntegrationCredentials {
    IntegrationCredentials {
        platform_key: v.integration_key,
        client_id: v.oauth_client_id,
        client_secret_set: v.has_client_secret,
        redirect_uri: s.app.link_callback_url(),
        modified_date: v.updated.to_rfc3339(),
    }
}

/// Set the client's OAuth app for an integration
#[utoipa::path(put, path = "/integrations/{platformKey}/credentials", tag = "Integrations",
    operation_id = "put-integration-credentials",
    params(("platformKey" = String, Path, example = "gbol")),
    request_body = PutIntegrationCredentials,
    responses((status = 200, body = IntegrationCredentials), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn put(
    State(s): State<HttpState>,
    caller: Caller,
    Path(key): Path<String>,
    JsonBody(body): JsonBody<PutIntegrationCredentials>,
) -> ApiResult<Json<IntegrationCredentials>> {
    let secret = body.client_secret.map(SecretString::from);
    let v = s
        .app
        .put_integration_credentials(
            &Actor::ApiKey(caller.key.id),
            caller.client(),
            &key,
            &body.client_id,
            secret.as_ref(),
        )
        .await?;
    Ok(Json(dto(&s, v)))
}

/// Get the client's OAuth app for an integration
#[utoipa::path(get, path = "/integrations/{platformKey}/credentials", tag = "Integrations",
    operation_id = "get-integration-credentials",
    params(("platformKey" = String, Path, example = "gbol")),
    responses((status = 200, body = IntegrationCredentials), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get(
    State(s): State<HttpState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<IntegrationCredentials>> {
    let v = s
        .app
        .get_integration_credentials(caller.client(), &key)
        .await?;
    Ok(Json(dto(&s, v)))
}

/// Remove the client's OAuth app for an integration
#[utoipa::path(delete, path = "/integrations/{platformKey}/credentials", tag = "Integrations",
    operation_id = "delete-integration-credentials",
    params(("platformKey" = String, Path, example = "gbol")),
    responses((status = 204), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn delete(
    State(s): State<HttpState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.app
        .delete_integration_credentials(&Actor::ApiKey(caller.key.id), caller.client(), &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
