//! `PUT /companies/{companyId}/connections/{connectionId}/authorization`: token migration.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use finlink_app::migration::Actor;
use finlink_domain::ids::{CompanyId, ConnectionId};
use serde_json::Value;

use super::dto::ConnectionDto;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::JsonBody;
use crate::state::HttpState;

/// Update a connection's authorization (migrate its tokens)
///
/// A flat object of strings: the integration's fields (`accessToken`, `refreshToken` and
/// settings such as `realmId` or `tenantId`; `GET /integrations/{key}` and the catalog
/// list them), plus for OAuth 2.0 `expiresAt` (RFC 3339) or `expiresIn` (seconds),
/// `issuedAt`, `tokenType`, `scope`. The credentials are sealed in the vault and the
/// connection becomes `Linked`; no sync starts (call `data/all`). Calling it again
/// replaces the credentials and keeps the connection id.
#[utoipa::path(put, path = "/companies/{companyId}/connections/{connectionId}/authorization", tag = "Connections",
    operation_id = "update-connection-authorization",
    params(("companyId" = String, Path, format = "uuid"), ("connectionId" = String, Path, format = "uuid")),
    request_body(content = BTreeMap<String, String>, description = "e.g. {\"accessToken\": \"...\", \"refreshToken\": \"...\", \"tenantId\": \"...\", \"expiresIn\": \"1800\"}"),
    responses((status = 200, body = ConnectionDto), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn put(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, connection)): Path<(String, String)>,
    JsonBody(body): JsonBody<BTreeMap<String, Value>>,
) -> ApiResult<Json<ConnectionDto>> {
    let (company, connection) = (
        CompanyId::parse(&company)?,
        ConnectionId::parse(&connection)?,
    );
    let actor = Actor::ApiKey(caller.key.id);
    let c = s
        .app
        .migrate_connection(&actor, caller.client(), company, connection, &body)
        .await?;
    Ok(Json(ConnectionDto::from_domain(&s.app, c)))
}
