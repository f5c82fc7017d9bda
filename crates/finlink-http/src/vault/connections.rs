//! `/vault/connections`: Apideck Vault's connection endpoints.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use finlink_app::refresh::RefreshOutcome;
use finlink_app::vault::{ImportCredentials, ImportRequest};
use serde::Deserialize;

use super::dto::{ConnectionPatch, Envelope, ImportBody, ValidateResult, VaultConnectionDto, ok};
use super::{VaultCaller, VaultResult};
use crate::error::ApideckError;
use crate::extract::{JsonBody, OptionalJson};
use crate::state::HttpState;

#[derive(Deserialize)]
pub struct ListQuery {
    pub api: Option<String>,
}

/// List a consumer's connections
#[utoipa::path(get, path = "/vault/connections", tag = "Vault", operation_id = "vault-connections-all",
    params(("x-apideck-consumer-id" = String, Header), ("api" = Option<String>, Query, description = "accounting, ecommerce or banking")),
    responses((status = 200, body = Envelope<Vec<VaultConnectionDto>>), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Query(q): Query<ListQuery>,
) -> VaultResult<Json<Envelope<Vec<VaultConnectionDto>>>> {
    let views = s
        .app
        .vault_connections(caller.caller.client(), caller.consumer()?, q.api.as_deref())
        .await?;
    Ok(Json(ok(views
        .into_iter()
        .map(|v| VaultConnectionDto::from_view(&s.app, v))
        .collect())))
}

/// Get a connection
#[utoipa::path(get, path = "/vault/connections/{unified_api}/{service_id}", tag = "Vault", operation_id = "vault-connections-one",
    params(("unified_api" = String, Path), ("service_id" = String, Path), ("x-apideck-consumer-id" = String, Header)),
    responses((status = 200, body = Envelope<VaultConnectionDto>), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn get(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Path((api, service)): Path<(String, String)>,
) -> VaultResult<Json<Envelope<VaultConnectionDto>>> {
    let v = s
        .app
        .vault_connection(caller.caller.client(), caller.consumer()?, &api, &service)
        .await?;
    Ok(Json(ok(VaultConnectionDto::from_view(&s.app, v))))
}

/// Update a connection's settings or metadata
#[utoipa::path(patch, path = "/vault/connections/{unified_api}/{service_id}", tag = "Vault", operation_id = "vault-connections-update",
    params(("unified_api" = String, Path), ("service_id" = String, Path), ("x-apideck-consumer-id" = String, Header)),
    request_body = ConnectionPatch,
    responses((status = 200, body = Envelope<VaultConnectionDto>), (status = 400, body = ApideckError), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn update(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Path((api, service)): Path<(String, String)>,
    JsonBody(body): JsonBody<ConnectionPatch>,
) -> VaultResult<Json<Envelope<VaultConnectionDto>>> {
    let v = s
        .app
        .vault_update(
            &caller.actor(),
            caller.caller.client(),
            caller.consumer()?,
            &api,
            &service,
            (
                body.settings.unwrap_or_default(),
                body.metadata.unwrap_or_default(),
            ),
        )
        .await?;
    Ok(Json(ok(VaultConnectionDto::from_view(&s.app, v))))
}

/// Delete a connection (and its credentials)
#[utoipa::path(delete, path = "/vault/connections/{unified_api}/{service_id}", tag = "Vault", operation_id = "vault-connections-delete",
    params(("unified_api" = String, Path), ("service_id" = String, Path), ("x-apideck-consumer-id" = String, Header)),
    responses((status = 204), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn delete(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Path((api, service)): Path<(String, String)>,
) -> VaultResult<StatusCode> {
    s.app
        .vault_delete(
            &caller.actor(),
            caller.caller.client(),
            caller.consumer()?,
            &api,
            &service,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Import an authorized connection
///
/// An upsert per (client, consumer, unified API, service): creates the consumer and the
/// connection when missing, replaces the credentials, merges settings and metadata.
/// OAuth 2.0 needs `credentials.access_token` and `refresh_token`; `issued_at` +
/// `expires_in` (seconds; above 1,000,000 read as milliseconds) set the expiry, and
/// without both the token is refreshed before first use. No sync starts.
#[utoipa::path(post, path = "/vault/connections/{unified_api}/{service_id}/import", tag = "Vault", operation_id = "vault-connections-import",
    params(("unified_api" = String, Path), ("service_id" = String, Path), ("x-apideck-consumer-id" = String, Header)),
    request_body = ImportBody,
    responses((status = 200, body = Envelope<VaultConnectionDto>), (status = 400, body = ApideckError), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn import(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Path((api, service)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<ImportBody>,
) -> VaultResult<Json<Envelope<VaultConnectionDto>>> {
    let body = body.unwrap_or_default();
    let consumer_id = match (caller.consumer_id.clone(), body.consumer_id.clone()) {
        (Some(h), _) => h,
        (None, Some(b)) => b,
        (None, None) => caller.consumer()?.to_owned(),
    };
    let creds = body.credentials.unwrap_or_default();
    let req = ImportRequest {
        consumer_id,
        unified_api: api,
        service_id: service,
        credentials: ImportCredentials {
            access_token: creds.access_token.filter(|t| !t.is_empty()).map(Into::into),
            refresh_token: creds
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(Into::into),
            issued_at: creds.issued_at,
            expires_in: creds.expires_in,
        },
        settings: body.settings.unwrap_or_default(),
        metadata: body.metadata.unwrap_or_default(),
    };
    let v = s
        .app
        .vault_import(&caller.actor(), caller.caller.client(), req)
        .await?;
    Ok(Json(ok(VaultConnectionDto::from_view(&s.app, v))))
}

/// Validate a connection
///
/// OAuth 2.0: refreshes the tokens now, whatever their expiry, and answers the resulting
/// state. API-key and basic: checks that the required fields are there.
#[utoipa::path(post, path = "/vault/connections/{unified_api}/{service_id}/validate", tag = "Vault", operation_id = "vault-validate-connection-state",
    params(("unified_api" = String, Path), ("service_id" = String, Path), ("x-apideck-consumer-id" = String, Header)),
    responses((status = 200, body = Envelope<ValidateResult>), (status = 400, body = ApideckError), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn validate(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Path((api, service)): Path<(String, String)>,
) -> VaultResult<Json<Envelope<ValidateResult>>> {
    let (v, outcome) = s
        .app
        .vault_validate(
            &caller.actor(),
            caller.caller.client(),
            caller.consumer()?,
            &api,
            &service,
        )
        .await?;
    let (refresh, message) = match outcome {
        None => ("checked", None),
        Some(RefreshOutcome::Refreshed { .. }) => ("refreshed", None),
        Some(RefreshOutcome::Rejected { reason }) => ("rejected", Some(reason)),
        Some(RefreshOutcome::Transient { reason }) => ("transient_failure", Some(reason)),
    };
    Ok(Json(ok(ValidateResult {
        id: v.connection.id.to_string(),
        state: v.state,
        refresh,
        message,
    })))
}
