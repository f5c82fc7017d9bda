//! `/vault/consumers`: a consumer is a finlink company carrying the consumer id.

use axum::Json;
use axum::extract::{Path, State};
use finlink_app::companies::CompanyPatch;
use finlink_domain::Error;

use super::dto::{ConsumerBody, ConsumerDto, DeletedConsumer, Envelope, ok};
use super::{VaultCaller, VaultResult};
use crate::error::ApideckError;
use crate::extract::{JsonBody, ListParams};
use crate::state::HttpState;

/// List consumers
#[utoipa::path(get, path = "/vault/consumers", tag = "Vault", operation_id = "vault-consumers-all",
    params(("page" = Option<i32>, Query), ("pageSize" = Option<i32>, Query)),
    responses((status = 200, body = Envelope<Vec<ConsumerDto>>)),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<HttpState>,
    caller: VaultCaller,
    params: ListParams,
) -> VaultResult<Json<Envelope<Vec<ConsumerDto>>>> {
    let page = s
        .app
        .list_consumers(caller.caller.client(), params.page)
        .await?;
    Ok(Json(ok(page
        .items
        .into_iter()
        .map(|c| ConsumerDto::from_company(&s.app, c))
        .collect())))
}

/// Create (or return) a consumer
#[utoipa::path(post, path = "/vault/consumers", tag = "Vault", operation_id = "vault-consumers-add",
    request_body = ConsumerBody,
    responses((status = 200, body = Envelope<ConsumerDto>), (status = 400, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn create(
    State(s): State<HttpState>,
    caller: VaultCaller,
    JsonBody(body): JsonBody<ConsumerBody>,
) -> VaultResult<Json<Envelope<ConsumerDto>>> {
    let id = body
        .consumer_id
        .or(caller.consumer_id.clone())
        .ok_or_else(|| {
            Error::invalid(
                "consumer_id",
                "Consumer",
                "consumer_id is required: {\"consumer_id\": \"account:12345\"}.",
            )
        })?;
    let meta = body.metadata.and_then(|m| m.account_name).map(|n| {
        let mut m = serde_json::Map::new();
        m.insert("account_name".into(), serde_json::Value::String(n));
        m
    });
    let company = s
        .app
        .consumer(caller.caller.client(), &id, true, meta.as_ref())
        .await?;
    Ok(Json(ok(ConsumerDto::from_company(&s.app, company))))
}

/// Get a consumer
#[utoipa::path(get, path = "/vault/consumers/{consumer_id}", tag = "Vault", operation_id = "vault-consumers-one",
    params(("consumer_id" = String, Path)),
    responses((status = 200, body = Envelope<ConsumerDto>), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn get(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Path(id): Path<String>,
) -> VaultResult<Json<Envelope<ConsumerDto>>> {
    let company = s
        .app
        .consumer(caller.caller.client(), &id, false, None)
        .await?;
    Ok(Json(ok(ConsumerDto::from_company(&s.app, company))))
}

/// Update a consumer's metadata (`account_name` renames the company)
#[utoipa::path(patch, path = "/vault/consumers/{consumer_id}", tag = "Vault", operation_id = "vault-consumers-update",
    params(("consumer_id" = String, Path)),
    request_body = ConsumerBody,
    responses((status = 200, body = Envelope<ConsumerDto>), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn update(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ConsumerBody>,
) -> VaultResult<Json<Envelope<ConsumerDto>>> {
    let company = s
        .app
        .consumer(caller.caller.client(), &id, false, None)
        .await?;
    let name = body.metadata.and_then(|m| m.account_name);
    let company = match name {
        Some(n) => {
            s.app
                .update_company(
                    caller.caller.client(),
                    company.id,
                    CompanyPatch {
                        name: Some(n),
                        ..CompanyPatch::default()
                    },
                )
                .await?
        }
        None => company,
    };
    Ok(Json(ok(ConsumerDto::from_company(&s.app, company))))
}

/// Delete a consumer with its connections and credentials
#[utoipa::path(delete, path = "/vault/consumers/{consumer_id}", tag = "Vault", operation_id = "vault-consumers-delete",
    params(("consumer_id" = String, Path)),
    responses((status = 200, body = Envelope<DeletedConsumer>), (status = 404, body = ApideckError)),
    security(("bearer" = [])))]
pub async fn delete(
    State(s): State<HttpState>,
    caller: VaultCaller,
    Path(id): Path<String>,
) -> VaultResult<Json<Envelope<DeletedConsumer>>> {
    s.app
        .delete_consumer(&caller.actor(), caller.caller.client(), &id)
        .await?;
    Ok(Json(ok(DeletedConsumer { consumer_id: id })))
}
