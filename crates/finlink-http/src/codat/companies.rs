//! `/companies`: Codat's companies API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use finlink_app::companies::{CompanyInput, CompanyPatch};
use finlink_domain::ids::CompanyId;

use super::dto::{Companies, CompanyDto, CompanyRequestBody, CompanyUpdateRequest};
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::{JsonBody, ListParams};
use crate::state::HttpState;

/// List companies
///
/// Pages through the client's companies. `query` uses Codat's query language over
/// id, name, description, created, lastSync, modifiedDate, tags.<key> and
/// dataConnections.<field>; `tags` filters on tags alone; `orderBy` takes a property,
/// with a leading `-` for descending.
#[utoipa::path(get, path = "/companies", tag = "Companies", operation_id = "list-companies",
    params(
        ("page" = Option<i32>, Query, description = "1-based page number", minimum = 1),
        ("pageSize" = Option<i32>, Query, description = "Results per page (1 to 5000)", minimum = 1, maximum = 5000),
        ("query" = Option<String>, Query, description = "Codat query language, e.g. name~Acme&&dataConnections.status=Linked"),
        ("orderBy" = Option<String>, Query, description = "e.g. -created"),
        ("tags" = Option<String>, Query, description = "Tag query, e.g. region=uk && team=invoice-finance"),
    ),
    responses((status = 200, body = Companies), (status = 400, body = ErrorMessage), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn list(
    State(s): State<HttpState>,
    caller: Caller,
    params: ListParams,
) -> ApiResult<Json<Companies>> {
    let page = s
        .app
        .list_companies(caller.client(), &params.to_list_query())
        .await?;
    Ok(Json(Companies::new("/companies", &params.raw, page, |c| {
        CompanyDto::from_domain(&s.app, c)
    })))
}

/// Create a company
#[utoipa::path(post, path = "/companies", tag = "Companies", operation_id = "create-company",
    request_body = CompanyRequestBody,
    responses((status = 200, body = CompanyDto), (status = 400, body = ErrorMessage), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn create(
    State(s): State<HttpState>,
    caller: Caller,
    JsonBody(body): JsonBody<CompanyRequestBody>,
) -> ApiResult<Json<CompanyDto>> {
    let input = CompanyInput {
        name: body.name,
        description: body.description,
        tags: body.tags,
    };
    let company = s.app.create_company(caller.client(), input).await?;
    Ok(Json(CompanyDto::from_domain(&s.app, company)))
}

/// Get a company
#[utoipa::path(get, path = "/companies/{companyId}", tag = "Companies", operation_id = "get-company",
    params(("companyId" = String, Path, format = "uuid")),
    responses((status = 200, body = CompanyDto), (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CompanyDto>> {
    let company = s
        .app
        .get_company(caller.client(), CompanyId::parse(&id)?)
        .await?;
    Ok(Json(CompanyDto::from_domain(&s.app, company)))
}

/// Replace a company
///
/// Overwrites name, description and tags; fields left out are cleared.
#[utoipa::path(put, path = "/companies/{companyId}", tag = "Companies", operation_id = "replace-company",
    params(("companyId" = String, Path, format = "uuid")),
    request_body = CompanyRequestBody,
    responses((status = 200, body = CompanyDto), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn replace(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CompanyRequestBody>,
) -> ApiResult<Json<CompanyDto>> {
    let id = CompanyId::parse(&id)?;
    let input = CompanyInput {
        name: body.name,
        description: body.description,
        tags: body.tags,
    };
    let company = s.app.replace_company(caller.client(), id, input).await?;
    Ok(Json(CompanyDto::from_domain(&s.app, company)))
}

/// Update a company
///
/// Changes the fields sent and keeps the others; `tags: null` or `tags: {}` removes all tags.
#[utoipa::path(patch, path = "/companies/{companyId}", tag = "Companies", operation_id = "update-company",
    params(("companyId" = String, Path, format = "uuid")),
    request_body = CompanyUpdateRequest,
    responses((status = 200, body = CompanyDto), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn update(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    crate::extract::OptionalJson(body): crate::extract::OptionalJson<CompanyUpdateRequest>,
) -> ApiResult<Json<CompanyDto>> {
    let id = CompanyId::parse(&id)?;
    let patch = match body {
        Some(b) => CompanyPatch {
            name: b.name,
            description: b.description,
            tags: b.tags,
        },
        None => CompanyPatch::default(),
    };
    let company = s.app.update_company(caller.client(), id, patch).await?;
    Ok(Json(CompanyDto::from_domain(&s.app, company)))
}

/// Delete a company
///
/// Deletes the company and all its connections.
#[utoipa::path(delete, path = "/companies/{companyId}", tag = "Companies", operation_id = "delete-company",
    params(("companyId" = String, Path, format = "uuid")),
    responses((status = 204), (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn delete(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app
        .delete_company(caller.client(), CompanyId::parse(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
