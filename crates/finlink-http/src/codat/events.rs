//! `GET /events`: what happened to the client's companies and connections (a finlink addition;
//! the outbox that webhooks deliver from). Newest first, paged like every Codat list, filtered
//! by `eventType`, `companyId` and `connectionId`.

use axum::Json;
use axum::extract::State;
use finlink_domain::event::Event;
use finlink_domain::ids::{CompanyId, ConnectionId};
use finlink_store::EventFilter;
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::Links;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::ListParams;
use crate::state::HttpState;

/// One event in Codat's webhook envelope, with the company and connection it concerns.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(example = "connection.connected")]
    pub event_type: String,
    pub generated_date: String,
    pub company_id: Option<String>,
    pub connection_id: Option<String>,
    /// `company.*`: the company; `connection.*`: `{referenceCompany, connection}`;
    /// `vault.connection.*`: `{entity_type, entity_id, entity}` as Apideck sends it.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<Event> for EventRecord {
    fn from(e: Event) -> Self {
        Self {
            id: e.id.to_string(),
            payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null),
            event_type: e.event_type,
            generated_date: e.occurred_at.to_rfc3339(),
            company_id: e.company_id.map(|c| c.to_string()),
            connection_id: e.connection_id.map(|c| c.to_string()),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRecords {
    pub results: Vec<EventRecord>,
    pub page_number: u32,
    pub page_size: u32,
    pub total_results: u64,
    #[serde(rename = "_links")]
    pub links: Links,
}

/// List events
///
/// Newest first. Events are written in the same transaction as the change they report:
/// `company.created`, `company.deleted`, `connection.created`, `.connected`, `.failed`,
/// `.disconnected`, `.reconnected`, `.deleted`, and `vault.connection.token_refresh.pending`
/// (the first failed refresh of a cycle), `.recovered` and `.failed` (the retention window of a
/// rejected grant ran out). None carries a secret.
#[utoipa::path(get, path = "/events", tag = "Settings", operation_id = "list-events",
    params(("page" = Option<i32>, Query, minimum = 1), ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000),
        ("eventType" = Option<String>, Query, description = "Only events of this type"),
        ("companyId" = Option<String>, Query, description = "Only events of this company"),
        ("connectionId" = Option<String>, Query, description = "Only events of this connection")),
    responses((status = 200, body = EventRecords), (status = 400, body = ErrorMessage), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn list(
    State(s): State<HttpState>,
    caller: Caller,
    params: ListParams,
) -> ApiResult<Json<EventRecords>> {
    let get = |k: &str| {
        params
            .raw
            .iter()
            .find(|(n, v)| n == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
    };
    let filter = EventFilter {
        since: None,
        event_type: get("eventType"),
        company: get("companyId").map(|c| CompanyId::parse(&c)).transpose()?,
        connection: get("connectionId")
            .map(|c| ConnectionId::parse(&c))
            .transpose()?,
    };
    let page = s
        .app
        .list_events(caller.client(), &filter, params.page)
        .await?;
    let links = Links::for_page("/events", &params.raw, &page);
    Ok(Json(EventRecords {
        page_number: page.request.page,
        page_size: page.request.page_size,
        total_results: page.total,
        links,
        results: page.items.into_iter().map(Into::into).collect(),
    }))
}
