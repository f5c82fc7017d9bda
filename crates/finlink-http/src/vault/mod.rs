//! Apideck Vault's API: `/vault/connections` (import, read, update, delete, validate)
//! and `/vault/consumers`. `Authorization: Bearer <key>` (Basic works too); the consumer
//! comes from `x-apideck-consumer-id`. Success bodies use Apideck's envelope
//! `{status_code, status, data}`; errors use Apideck's error shape.

pub mod connections;
pub mod consumers;
pub mod dto;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use finlink_app::migration::Actor;
use finlink_domain::Error;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::HttpState;

/// Errors here render in Apideck's shape: see [`router`].
pub type VaultResult<T> = Result<T, ApiError>;

/// The caller on a vault route, with the consumer header when present.
pub struct VaultCaller {
    pub caller: Caller,
    pub consumer_id: Option<String>,
}

impl VaultCaller {
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.caller.key.id)
    }

    pub fn consumer(&self) -> Result<&str, ApiError> {
        self.consumer_id.as_deref().ok_or_else(|| {
            ApiError(Error::invalid(
                "x-apideck-consumer-id",
                "Vault",
                "The x-apideck-consumer-id header is required: it names the consumer (your customer) this call is about.",
            ))
        })
    }
}

impl FromRequestParts<HttpState> for VaultCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let consumer_id = parts
            .headers
            .get("x-apideck-consumer-id")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Ok(Self {
            caller,
            consumer_id,
        })
    }
}

/// Every error under `/vault` (extractor rejections included) answers in Apideck's shape.
async fn apideck_errors(res: axum::response::Response) -> axum::response::Response {
    apideck_dialect(res)
}

/// Switches an error response to Apideck's shape (the middleware renders it).
pub fn apideck_dialect(mut res: axum::response::Response) -> axum::response::Response {
    if let Some(p) = res.extensions_mut().get_mut::<crate::error::ErrorPayload>() {
        p.dialect = crate::error::Dialect::Apideck;
    }
    res
}

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(connections::list))
        .routes(routes!(
            connections::get,
            connections::update,
            connections::delete
        ))
        .routes(routes!(connections::import))
        .routes(routes!(connections::validate))
        .routes(routes!(consumers::list, consumers::create))
        .routes(routes!(
            consumers::get,
            consumers::update,
            consumers::delete
        ))
        .layer(axum::middleware::map_response(apideck_errors))
}
