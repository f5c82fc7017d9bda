//! `/apiKeys`: a client's API keys (at most 10; shown once, stored hashed).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use finlink_domain::api_key::ApiKey;
use finlink_domain::ids::ApiKeyId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::OptionalJson;
use crate::state::HttpState;

/// Codat's `ApiKeyDetails`. `apiKey` is present only in the answer to the create call:
/// finlink stores a hash and cannot show a key again.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDetails {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The key's first characters, to recognise it (not a secret).
    pub key_prefix: String,
    pub created_date: String,
    /// Extra permissions (e.g. `credentials:read`).
    pub permissions: Vec<String>,
}

impl ApiKeyDetails {
    fn new(k: ApiKey, full: Option<String>) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name,
            api_key: full,
            key_prefix: k.lookup.chars().take(8).collect(),
            created_date: k.created.to_rfc3339(),
            permissions: k.permissions,
        }
    }
}

/// Codat's `ApiKeys`: no paging envelope.
#[derive(Serialize, ToSchema)]
pub struct ApiKeys {
    pub results: Vec<ApiKeyDetails>,
}

/// `{"name": "..."}`, plus finlink's optional `permissions`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKey {
    #[schema(example = "azure-invoice-finance-processor")]
    pub name: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// List API keys
#[utoipa::path(get, path = "/apiKeys", tag = "Settings", operation_id = "list-api-keys",
    responses((status = 200, body = ApiKeys), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn list(State(s): State<HttpState>, caller: Caller) -> ApiResult<Json<ApiKeys>> {
    let keys = s.app.list_api_keys(caller.client()).await?;
    Ok(Json(ApiKeys {
        results: keys
            .into_iter()
            .map(|k| ApiKeyDetails::new(k, None))
            .collect(),
    }))
}

/// Create an API key
///
/// The answer is the only time the key is shown. A client has at most 10 keys (the 11th is a 409).
#[utoipa::path(post, path = "/apiKeys", tag = "Settings", operation_id = "create-api-key",
    request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyDetails), (status = 400, body = ErrorMessage), (status = 409, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn create(
    State(s): State<HttpState>,
    caller: Caller,
    OptionalJson(body): OptionalJson<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<ApiKeyDetails>)> {
    let body = body.unwrap_or_default();
    let new = s
        .app
        .create_api_key(caller.client(), body.name, body.permissions)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyDetails::new(new.record, Some(new.key))),
    ))
}

/// Delete an API key
#[utoipa::path(delete, path = "/apiKeys/{apiKeyId}", tag = "Settings", operation_id = "delete-api-key",
    params(("apiKeyId" = String, Path, format = "uuid")),
    responses((status = 204), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn delete(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app
        .delete_api_key(caller.client(), ApiKeyId::parse(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
