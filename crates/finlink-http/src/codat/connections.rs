//! `/companies/{companyId}/connections`: Codat's connections API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use finlink_domain::Error;
use finlink_domain::connection::ConnectionStatus;
use finlink_domain::ids::{CompanyId, ConnectionId};

use super::dto::{ConnectionDto, Connections, CreateConnectionBody, UpdateConnectionStatus};
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::{ListParams, OptionalJson};
use crate::state::HttpState;

fn ids(company: &str, connection: &str) -> Result<(CompanyId, ConnectionId), Error> {
    Ok((CompanyId::parse(company)?, ConnectionId::parse(connection)?))
}

/// List connections
#[utoipa::path(get, path = "/companies/{companyId}/connections", tag = "Connections", operation_id = "list-connections",
    params(
        ("companyId" = String, Path, format = "uuid"),
        ("page" = Option<i32>, Query, minimum = 1),
        ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000),
        ("query" = Option<String>, Query, description = "e.g. status=Linked&&sourceType=Accounting"),
        ("orderBy" = Option<String>, Query, description = "e.g. -created"),
    ),
    responses((status = 200, body = Connections), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn list(
    State(s): State<HttpState>,
    caller: Caller,
    Path(company): Path<String>,
    params: ListParams,
) -> ApiResult<Json<Connections>> {
    let company = CompanyId::parse(&company)?;
    let page = s
        .app
        .list_connections(caller.client(), company, &params.to_list_query())
        .await?;
    let path = format!("/companies/{company}/connections");
    Ok(Json(Connections::new(&path, &params.raw, page, |c| {
        ConnectionDto::from_domain(&s.app, c)
    })))
}

/// Create a connection
///
/// Creates a `PendingAuth` connection to the platform; send the business to its `linkUrl`.
/// A company has at most one accounting connection; banking and commerce ones are unlimited.
#[utoipa::path(post, path = "/companies/{companyId}/connections", tag = "Connections", operation_id = "create-connection",
    params(("companyId" = String, Path, format = "uuid")),
    request_body = CreateConnectionBody,
    responses((status = 200, body = ConnectionDto), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn create(
    State(s): State<HttpState>,
    caller: Caller,
    Path(company): Path<String>,
    OptionalJson(body): OptionalJson<CreateConnectionBody>,
) -> ApiResult<Json<ConnectionDto>> {
    let company = CompanyId::parse(&company)?;
    let Some(key) = body
        .and_then(|b| b.platform_key)
        .filter(|k| !k.trim().is_empty())
    else {
        return Err(Error::invalid(
            "platformKey",
            "CreateConnection",
            "platformKey is required: send {\"platformKey\": \"mqjo\"} with the integration's key (GET /integrations lists them).",
        )
        .into());
    };
    let connection = s
        .app
        .create_connection(caller.client(), company, key.trim())
        .await?;
    Ok(Json(ConnectionDto::from_domain(&s.app, connection)))
}

/// Get a connection
#[utoipa::path(get, path = "/companies/{companyId}/connections/{connectionId}", tag = "Connections", operation_id = "get-connection",
    params(("companyId" = String, Path, format = "uuid"), ("connectionId" = String, Path, format = "uuid")),
    responses((status = 200, body = ConnectionDto), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, connection)): Path<(String, String)>,
) -> ApiResult<Json<ConnectionDto>> {
    let (company, connection) = ids(&company, &connection)?;
    let c = s
        .app
        .get_connection(caller.client(), company, connection)
        .await?;
    Ok(Json(ConnectionDto::from_domain(&s.app, c)))
}

/// Unlink a connection
///
/// `{"status": "Unlinked"}` (an empty body means the same). Only a `Linked` connection
/// can be unlinked; its data stays readable.
#[utoipa::path(patch, path = "/companies/{companyId}/connections/{connectionId}", tag = "Connections", operation_id = "unlink-connection",
    params(("companyId" = String, Path, format = "uuid"), ("connectionId" = String, Path, format = "uuid")),
    request_body = UpdateConnectionStatus,
    responses((status = 200, body = ConnectionDto), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn unlink(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, connection)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<UpdateConnectionStatus>,
) -> ApiResult<Json<ConnectionDto>> {
    let (company, connection) = ids(&company, &connection)?;
    let status = match body.and_then(|b| b.status) {
        None => ConnectionStatus::Unlinked,
        Some(s) => ConnectionStatus::parse(&s).ok_or_else(|| {
            Error::invalid(
                "status",
                "UpdateConnectionStatus",
                format!("'{s}' is not a connection status; send {{\"status\": \"Unlinked\"}}."),
            )
        })?,
    };
    let c = s
        .app
        .set_connection_status(caller.client(), company, connection, status)
        .await?;
    Ok(Json(ConnectionDto::from_domain(&s.app, c)))
}

/// Delete a connection
///
/// Removes the connection for good (Codat answers 200 here, not 204).
#[utoipa::path(delete, path = "/companies/{companyId}/connections/{connectionId}", tag = "Connections", operation_id = "delete-connection",
    params(("companyId" = String, Path, format = "uuid"), ("connectionId" = String, Path, format = "uuid")),
    responses((status = 200), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn delete(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, connection)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (company, connection) = ids(&company, &connection)?;
    s.app
        .delete_connection(caller.client(), company, connection)
        .await?;
    Ok(StatusCode::OK)
}
