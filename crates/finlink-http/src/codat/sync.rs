//! Codat's refresh-data API (`POST .../data/all`, `POST .../data/queue/{dataType}`,
//! `GET .../dataStatus`, `GET .../data/history[/{datasetId}]`) and the stored company info
//! (`GET .../data/info`, from Codat's Accounting API).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use finlink_domain::ids::{CompanyId, ConnectionId};
use finlink_domain::sync::{DataTypeStatus, Dataset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::PullOperations;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::ListParams;
use crate::state::HttpState;

/// Codat's `PullOperation` (a dataset): one pull of one data type of one connection.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullOperationDto {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub company_id: String,
    #[schema(format = "uuid")]
    pub connection_id: String,
    #[schema(example = "invoices")]
    pub data_type: String,
    /// `Queued`, `Fetching`, `Mapping`, `Complete`, or an error status (`FetchError`,
    /// `AuthError`, `RateLimitError`, `PermissionsError`, `NotSupported`, `InternalError` ...).
    #[schema(example = "Complete")]
    pub status: String,
    /// e.g. `Paused until 2022-10-23T00:00:00.000Z` while a transient failure is waited out.
    pub status_description: Option<String>,
    pub error_message: Option<String>,
    pub requested: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// Percent done, an integer from 0 to 100.
    pub progress: i32,
    pub is_completed: bool,
    pub is_errored: bool,
}

impl From<Dataset> for PullOperationDto {
    fn from(d: Dataset) -> Self {
        Self {
            id: d.id.to_string(),
            company_id: d.company_id.to_string(),
            connection_id: d.connection_id.to_string(),
            data_type: d.data_type.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            is_completed: d.is_completed(),
            is_errored: d.is_errored(),
            status_description: d.status_description,
            error_message: d.error_message,
            requested: d.requested.to_rfc3339(),
            completed: d.completed.map(|t| t.to_rfc3339()),
            progress: d.progress,
        }
    }
}

/// Codat's `DataStatus`: a data type's latest pull and its latest successful one.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataStatusDto {
    #[schema(example = "invoices")]
    pub data_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_successful_sync: Option<String>,
    #[schema(example = "Complete")]
    pub current_status: String,
    #[schema(format = "uuid")]
    pub latest_sync_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = "uuid")]
    pub latest_successful_sync_id: Option<String>,
}

impl From<DataTypeStatus> for DataStatusDto {
    fn from(s: DataTypeStatus) -> Self {
        Self {
            data_type: s.data_type.as_str().to_owned(),
            last_successful_sync: s
                .latest_success
                .as_ref()
                .and_then(|d| d.completed)
                .map(|t| t.to_rfc3339()),
            current_status: s.latest.status.as_str().to_owned(),
            latest_sync_id: s.latest.id.to_string(),
            latest_successful_sync_id: s.latest_success.map(|d| d.id.to_string()),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[allow(dead_code)] // documents the query parameter; parsed by hand for Codat-shaped errors
#[serde(rename_all = "camelCase")]
pub struct QueueQuery {
    /// Queue on this connection only (it must be Linked and pull the data type).
    pub connection_id: Option<String>,
}

/// Refresh all data
///
/// Queues one pull per data type with `fetchOnFirstLink` in the company's sync settings (by
/// default every data type finlink reads from the platform) on each of the company's `Linked`
/// connections, in `syncOrder`. A data type already queued or running on a connection is left
/// as it is. `read.completed` is raised when they have all ended. 400 when the company has no
/// `Linked` connection.
#[utoipa::path(post, path = "/companies/{companyId}/data/all", tag = "Refresh data",
    operation_id = "refresh-company-data",
    params(("companyId" = String, Path, format = "uuid")),
    responses((status = 204, description = "Queued"), (status = 400, body = ErrorMessage),
        (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn all(
    State(s): State<HttpState>,
    caller: Caller,
    Path(company): Path<String>,
) -> ApiResult<StatusCode> {
    s.app
        .refresh_all_data(caller.client(), CompanyId::parse(&company)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refresh data type
///
/// Queues a pull of one data type on each `Linked` connection that provides it (or on
/// `connectionId` alone) and returns it. 400 while a pull of that data type is queued or
/// running, for an unknown data type, and for one no linked platform provides.
#[utoipa::path(post, path = "/companies/{companyId}/data/queue/{dataType}", tag = "Refresh data",
    operation_id = "refresh-data-type",
    params(("companyId" = String, Path, format = "uuid"), ("dataType" = String, Path, example = "invoices"), QueueQuery),
    responses((status = 200, body = PullOperationDto), (status = 400, body = ErrorMessage),
        (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn queue(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, data_type)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<PullOperationDto>> {
    let company = CompanyId::parse(&company)?;
    let mut connection = None;
    for (k, v) in url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if k == "connectionId" && !v.trim().is_empty() {
            connection = Some(ConnectionId::parse(v.trim())?);
        }
    }
    let d = s
        .app
        .queue_data_type(caller.client(), company, &data_type, connection)
        .await?;
    Ok(Json(d.into()))
}

/// Get data status
///
/// An object keyed by data type: each type's latest pull (`currentStatus`, `latestSyncId`)
/// and its latest successful one (`lastSuccessfulSync`, `latestSuccessfulSyncId`). Data
/// types never pulled are absent.
#[utoipa::path(get, path = "/companies/{companyId}/dataStatus", tag = "Refresh data",
    operation_id = "get-company-data-status",
    params(("companyId" = String, Path, format = "uuid")),
    responses((status = 200, body = BTreeMap<String, DataStatusDto>), (status = 401, body = ErrorMessage),
        (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn status(
    State(s): State<HttpState>,
    caller: Caller,
    Path(company): Path<String>,
) -> ApiResult<Json<BTreeMap<String, DataStatusDto>>> {
    let status = s
        .app
        .data_status(caller.client(), CompanyId::parse(&company)?)
        .await?;
    Ok(Json(
        status
            .into_iter()
            .map(|st| (st.data_type.as_str().to_owned(), st.into()))
            .collect(),
    ))
}

/// List pull operations
///
/// The company's pull history, newest first. `query` over id, connectionId, dataType, status,
/// statusDescription, errorMessage, requested, completed and progress (`isCompleted` is not
/// queryable: query `status` instead); `orderBy` one of id, connectionId, dataType, status,
/// requested, completed, progress.
#[utoipa::path(get, path = "/companies/{companyId}/data/history", tag = "Refresh data",
    operation_id = "list-pull-operations",
    params(
        ("companyId" = String, Path, format = "uuid"),
        ("page" = Option<i32>, Query, minimum = 1),
        ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000),
        ("query" = Option<String>, Query, description = "e.g. status!=Complete&&dataType=invoices"),
        ("orderBy" = Option<String>, Query, description = "e.g. -requested"),
    ),
    responses((status = 200, body = PullOperations), (status = 400, body = ErrorMessage),
        (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn history(
    State(s): State<HttpState>,
    caller: Caller,
    Path(company): Path<String>,
    params: ListParams,
) -> ApiResult<Json<PullOperations>> {
    let company = CompanyId::parse(&company)?;
    let page = s
        .app
        .list_pull_operations(caller.client(), company, &params.to_list_query())
        .await?;
    let path = format!("/companies/{company}/data/history");
    Ok(Json(PullOperations::new(
        &path,
        &params.raw,
        page,
        Into::into,
    )))
}

/// Get pull operation
#[utoipa::path(get, path = "/companies/{companyId}/data/history/{datasetId}", tag = "Refresh data",
    operation_id = "get-pull-operation",
    params(("companyId" = String, Path, format = "uuid"), ("datasetId" = String, Path, format = "uuid")),
    responses((status = 200, body = PullOperationDto), (status = 401, body = ErrorMessage),
        (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn pull_operation(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, dataset)): Path<(String, String)>,
) -> ApiResult<Json<PullOperationDto>> {
    let d = s
        .app
        .get_pull_operation(caller.client(), CompanyId::parse(&company)?, &dataset)
        .await?;
    Ok(Json(d.into()))
}

/// Get company info
///
/// The company's profile as its accounting platform last reported it (Codat's
/// `AccountingCompanyInfo`: `companyName`, `companyLegalName`, addresses, `baseCurrency` ...),
/// from the latest `company` pull. 409 until one has completed. Still readable after the
/// connection is unlinked; gone when it is deleted.
#[utoipa::path(get, path = "/companies/{companyId}/data/info", tag = "Data",
    operation_id = "get-accounting-profile",
    params(("companyId" = String, Path, format = "uuid")),
    responses((status = 200, description = "Codat's AccountingCompanyInfo", body = Object),
        (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage),
        (status = 409, description = "the company info has not been read yet", body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn info(
    State(s): State<HttpState>,
    caller: Caller,
    Path(company): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let text = s
        .app
        .company_info(caller.client(), CompanyId::parse(&company)?)
        .await?;
    let value = serde_json::from_str(&text).map_err(|e| {
        finlink_domain::Error::internal(format!("stored company info is not JSON: {e}"))
    })?;
    Ok(Json(value))
}
