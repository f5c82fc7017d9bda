//! `GET /audit`: the client's audit log (a finlink addition).

use axum::Json;
use axum::extract::State;
use finlink_domain::credentials::AuditEntry;
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::Links;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::ListParams;
use crate::state::HttpState;

/// One audit record: who did what to which connection, when, and how it went. Never a secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: String,
    /// `apiKey:<id>` or `cli`.
    pub actor: String,
    #[schema(example = "connection.migrate")]
    pub action: String,
    pub company_id: Option<String>,
    pub connection_id: Option<String>,
    #[schema(example = "success")]
    pub outcome: String,
    pub detail: Option<String>,
    pub at: String,
}

impl From<AuditEntry> for AuditRecord {
    fn from(a: AuditEntry) -> Self {
        Self {
            id: a.id.to_string(),
            actor: a.actor,
            action: a.action,
            company_id: a.company_id.map(|c| c.to_string()),
            connection_id: a.connection_id.map(|c| c.to_string()),
            outcome: a.outcome,
            detail: a.detail,
            at: a.at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecords {
    pub results: Vec<AuditRecord>,
    pub page_number: u32,
    pub page_size: u32,
    pub total_results: u64,
    #[serde(rename = "_links")]
    pub links: Links,
}

/// List the audit log
///
/// Newest first: migrations, imports, refreshes, deletions, with the API key that made them.
#[utoipa::path(get, path = "/audit", tag = "Settings", operation_id = "list-audit",
    params(("page" = Option<i32>, Query, minimum = 1), ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000)),
    responses((status = 200, body = AuditRecords), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn list(
    State(s): State<HttpState>,
    caller: Caller,
    params: ListParams,
) -> ApiResult<Json<AuditRecords>> {
    let page = s.app.store.list_audit(caller.client(), params.page).await?;
    let links = Links::for_page("/audit", &params.raw, &page);
    Ok(Json(AuditRecords {
        page_number: page.request.page,
        page_size: page.request.page_size,
        total_results: page.total,
        links,
        results: page.items.into_iter().map(Into::into).collect(),
    }))
}
