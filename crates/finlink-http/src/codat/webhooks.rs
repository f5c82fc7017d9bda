//! `/webhooks`: Codat's webhook consumers (list, create, delete) plus finlink's get, patch,
//! signing secret and rotation, delivery log, retry and replay.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use finlink_app::webhooks::ConsumerInput;
use finlink_domain::webhook::{Consumer, Delivery};
use finlink_domain::{Error, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::Links;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::{JsonBody, ListParams};
use crate::state::HttpState;

/// Codat's `WebhookConsumer`, plus `disabledReason` when finlink disabled it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConsumer {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uri")]
    pub url: String,
    pub disabled: bool,
    /// `gone` (the receiver answered 410) or `failing` (every delivery failed for 5 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Event types it receives; empty means all.
    pub event_types: Vec<String>,
    /// `key:value`; when any, only events of companies with a matching tag.
    pub company_tags: Vec<String>,
}

impl From<Consumer> for WebhookConsumer {
    fn from(c: Consumer) -> Self {
        Self {
            id: c.id.to_string(),
            url: c.url,
            disabled: c.disabled,
            disabled_reason: c.disabled_reason,
            event_types: c.event_types,
            company_tags: c.company_tags,
        }
    }
}

/// Codat's `{results}` (no paging).
#[derive(Serialize, ToSchema)]
pub struct WebhookConsumers {
    pub results: Vec<WebhookConsumer>,
}

/// Codat's `WebhookConsumerPrototype`; on PATCH every field is optional.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConsumerPrototype {
    #[schema(format = "uri")]
    pub url: Option<String>,
    pub disabled: Option<bool>,
    pub event_types: Option<Vec<String>>,
    pub company_tags: Option<Vec<String>>,
}

impl From<WebhookConsumerPrototype> for ConsumerInput {
    fn from(b: WebhookConsumerPrototype) -> Self {
        Self {
            url: b.url,
            disabled: b.disabled,
            event_types: b.event_types,
            company_tags: b.company_tags,
        }
    }
}

/// A consumer's signing secret (`whsec_...`).
#[derive(Serialize, ToSchema)]
pub struct WebhookSecret {
    pub secret: String,
}

impl From<&finlink_vault::SecretString> for WebhookSecret {
    fn from(s: &finlink_vault::SecretString) -> Self {
        Self {
            secret: s.expose().clone(),
        }
    }
}

/// One event's delivery to the consumer, with its latest attempt.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_attempt_at: Option<String>,
    pub response_status: Option<i32>,
    pub duration_ms: Option<i64>,
    /// The first 1 kB of the receiver's answer, or why there was none.
    pub response_body: Option<String>,
    pub next_attempt_at: Option<String>,
}

impl From<Delivery> for WebhookDelivery {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            status: d.state.as_str().to_owned(),
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at.map(|t| t.to_rfc3339()),
            response_status: d.response_status,
            duration_ms: d.duration_ms,
            response_body: d.response_body,
            next_attempt_at: d.next_attempt_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveries {
    pub results: Vec<WebhookDelivery>,
    pub page_number: u32,
    pub page_size: u32,
    pub total_results: u64,
    #[serde(rename = "_links")]
    pub links: Links,
}

#[derive(Serialize, ToSchema)]
pub struct Replayed {
    /// Deliveries created.
    pub deliveries: u64,
}

#[derive(Deserialize)]
pub struct ReplayQuery {
    since: Option<String>,
}

fn consumer_id(id: &str) -> Result<uuid::Uuid, Error> {
    if id.len() != 36 {
        return Err(Error::malformed_id("webhook consumer", id));
    }
    uuid::Uuid::parse_str(id).map_err(|_| Error::malformed_id("webhook consumer", id))
}

/// List webhook consumers
#[utoipa::path(get, path = "/webhooks", tag = "Webhooks", operation_id = "list-webhook-consumers",
    responses((status = 200, body = WebhookConsumers), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn list(State(s): State<HttpState>, caller: Caller) -> ApiResult<Json<WebhookConsumers>> {
    let all = s.app.list_webhooks(caller.client()).await?;
    Ok(Json(WebhookConsumers {
        results: all.into_iter().map(Into::into).collect(),
    }))
}

/// Create webhook consumer
///
/// At most 50 per client. The URL must be `https` and must not reach a private, loopback,
/// link-local or metadata address (unless the operator allows it). A `whsec_` signing secret is
/// made for it: `GET /webhooks/{webhookId}/secret`.
#[utoipa::path(post, path = "/webhooks", tag = "Webhooks", operation_id = "create-webhook-consumer",
    request_body = WebhookConsumerPrototype,
    responses((status = 201, body = WebhookConsumer), (status = 400, body = ErrorMessage), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn create(
    State(s): State<HttpState>,
    caller: Caller,
    JsonBody(body): JsonBody<WebhookConsumerPrototype>,
) -> ApiResult<(StatusCode, Json<WebhookConsumer>)> {
    let c = s.app.create_webhook(caller.client(), body.into()).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// Get webhook consumer
#[utoipa::path(get, path = "/webhooks/{webhookId}", tag = "Webhooks", operation_id = "get-webhook-consumer",
    params(("webhookId" = String, Path, format = "uuid")),
    responses((status = 200, body = WebhookConsumer), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookConsumer>> {
    Ok(Json(
        s.app
            .get_webhook(caller.client(), consumer_id(&id)?)
            .await?
            .into(),
    ))
}

/// Update webhook consumer
///
/// Changes the fields given. `disabled: false` re-enables a consumer finlink disabled.
#[utoipa::path(patch, path = "/webhooks/{webhookId}", tag = "Webhooks", operation_id = "update-webhook-consumer",
    params(("webhookId" = String, Path, format = "uuid")),
    request_body = WebhookConsumerPrototype,
    responses((status = 200, body = WebhookConsumer), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn update(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<WebhookConsumerPrototype>,
) -> ApiResult<Json<WebhookConsumer>> {
    let c = s
        .app
        .update_webhook(caller.client(), consumer_id(&id)?, body.into())
        .await?;
    Ok(Json(c.into()))
}

/// Delete webhook consumer
#[utoipa::path(delete, path = "/webhooks/{webhookId}", tag = "Webhooks", operation_id = "delete-webhook-consumer",
    params(("webhookId" = String, Path, format = "uuid")),
    responses((status = 204), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn delete(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app
        .delete_webhook(caller.client(), consumer_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Get the signing secret
#[utoipa::path(get, path = "/webhooks/{webhookId}/secret", tag = "Webhooks", operation_id = "get-webhook-secret",
    params(("webhookId" = String, Path, format = "uuid")),
    responses((status = 200, body = WebhookSecret), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn secret(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecret>> {
    let secret = s
        .app
        .webhook_secret(caller.client(), consumer_id(&id)?)
        .await?;
    Ok(Json(WebhookSecret::from(&secret)))
}

/// Rotate the signing secret
///
/// Returns the new secret. For 24 hours deliveries carry signatures with both the new and the
/// previous secret, so receivers can switch without losing a delivery.
#[utoipa::path(post, path = "/webhooks/{webhookId}/secret/rotate", tag = "Webhooks", operation_id = "rotate-webhook-secret",
    params(("webhookId" = String, Path, format = "uuid")),
    responses((status = 200, body = WebhookSecret), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn rotate(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecret>> {
    let secret = s
        .app
        .rotate_webhook_secret(caller.client(), consumer_id(&id)?)
        .await?;
    Ok(Json(WebhookSecret::from(&secret)))
}

/// List deliveries
///
/// Newest first: each event sent (or being sent) to this consumer, with its latest attempt.
#[utoipa::path(get, path = "/webhooks/{webhookId}/deliveries", tag = "Webhooks", operation_id = "list-webhook-deliveries",
    params(("webhookId" = String, Path, format = "uuid"), ("page" = Option<i32>, Query, minimum = 1), ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000)),
    responses((status = 200, body = WebhookDeliveries), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn deliveries(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> ApiResult<Json<WebhookDeliveries>> {
    let page = s
        .app
        .list_webhook_deliveries(caller.client(), consumer_id(&id)?, params.page)
        .await?;
    let links = Links::for_page(&format!("/webhooks/{id}/deliveries"), &params.raw, &page);
    Ok(Json(WebhookDeliveries {
        page_number: page.request.page,
        page_size: page.request.page_size,
        total_results: page.total,
        links,
        results: page.items.into_iter().map(Into::into).collect(),
    }))
}

/// Retry a delivery
///
/// Sends the event to the consumer again now, whatever the delivery's state.
#[utoipa::path(post, path = "/webhooks/{webhookId}/deliveries/{deliveryId}/retry", tag = "Webhooks", operation_id = "retry-webhook-delivery",
    params(("webhookId" = String, Path, format = "uuid"), ("deliveryId" = String, Path, format = "uuid")),
    responses((status = 202, body = WebhookDelivery), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn retry(
    State(s): State<HttpState>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    let d = s
        .app
        .retry_webhook_delivery(
            caller.client(),
            consumer_id(&id)?,
            uuid::Uuid::parse_str(&delivery)
                .map_err(|_| Error::malformed_id("delivery", &delivery))?,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(d.into())))
}

/// Replay events
///
/// Delivers again every event since `since` (RFC 3339) that the consumer subscribes to: what a
/// receiver missed while it was down. Each keeps its original `webhook-id`, so receivers dedupe.
#[utoipa::path(post, path = "/webhooks/{webhookId}/replay", tag = "Webhooks", operation_id = "replay-webhook-events",
    params(("webhookId" = String, Path, format = "uuid"), ("since" = String, Query, description = "RFC 3339 time")),
    responses((status = 202, body = Replayed), (status = 400, body = ErrorMessage), (status = 404, body = ErrorMessage), (status = 409, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn replay(
    State(s): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ReplayQuery>,
) -> ApiResult<(StatusCode, Json<Replayed>)> {
    let since = q
        .since
        .as_deref()
        .and_then(Timestamp::parse)
        .ok_or_else(|| {
            Error::bad_request("since must be an RFC 3339 time, e.g. 2026-12-01T10:00:00Z")
        })?;
    let n = s
        .app
        .replay_webhook(caller.client(), consumer_id(&id)?, since)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { deliveries: n })))
}
