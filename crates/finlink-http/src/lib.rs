//! finlink's HTTP surface. Folders are wire dialects: `codat/` holds Codat's
//! Platform API (one file per resource), `ops/` health checks, assets, the OpenAPI
//! document and the docs page. A request flows: route -> auth extractor (API key ->
//! client) -> DTO parsed -> `finlink_app` service -> DTO -> JSON; any error becomes a
//! response in exactly one place, [`error`].

pub mod auth;
pub mod codat;
pub mod error;
pub mod extract;
pub mod link;
pub mod middleware;
pub mod ops;
pub mod proxy;
pub mod state;
pub mod vault;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use state::HttpState;

/// The largest request body accepted (413 above it).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The OpenAPI document: every route registered through [`api_router`] is in it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = api_router().split_for_parts();
    api
}

fn api_router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::with_openapi(codat::ApiDoc::openapi())
        .merge(codat::router())
        .merge(codat::data::router())
        .merge(vault::router())
        .merge(ops::documented_router())
}

/// The whole application: API, assets, docs, health; with the middleware stack.
pub fn router(state: HttpState) -> Router {
    let (api, _) = api_router().split_for_parts();
    api.merge(ops::undocumented_router())
        .merge(link::router())
        .route(
            "/companies/{company}/connections/{connection}/proxy/{*path}",
            axum::routing::any(proxy::by_path),
        )
        .route("/proxy", axum::routing::any(proxy::apideck))
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .layer(axum::middleware::from_fn(middleware::correlate))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .with_state(state)
}
