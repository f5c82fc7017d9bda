//! Operations: health checks, static assets (logos), the OpenAPI document and the docs page.

pub mod docs;
pub mod metrics;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorMessage};
use crate::state::HttpState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "sqlite")]
    pub database: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "Operations", operation_id = "healthz",
    responses((status = 200, body = Health)))]
pub async fn healthz(State(s): State<HttpState>) -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok",
        database: s.app.store.engine(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "Operations", operation_id = "readyz",
    responses((status = 200, body = Health), (status = 503, body = ErrorMessage)))]
pub async fn readyz(State(s): State<HttpState>) -> ApiResult<axum::Json<Health>> {
    s.app.store.ping().await.map_err(|e| match e {
        finlink_domain::Error::Unavailable(m) => ApiError(finlink_domain::Error::Unavailable(m)),
        other => ApiError(finlink_domain::Error::Unavailable(format!(
            "The database is not ready: {other}"
        ))),
    })?;
    Ok(axum::Json(Health {
        status: "ok",
        database: s.app.store.engine(),
    }))
}

pub fn documented_router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Routes that are not part of the API document: the document itself, the docs page, assets.
pub fn undocumented_router() -> axum::Router<HttpState> {
    axum::Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page))
        .route("/assets/docs.css", get(docs_css))
        .route("/assets/logos/{file}", get(logo))
        .route("/metrics", get(metrics::metrics))
}

async fn openapi_json(State(s): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        s.openapi_json.as_str().to_owned(),
    )
        .into_response()
}

const DOCS_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn docs_page(State(s): State<HttpState>) -> Response {
    let mut res = Html(s.docs_html.as_str().to_owned()).into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    res
}

async fn docs_css() -> Response {
    let mut res = (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        docs::CSS,
    )
        .into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// An integration's logo, by slug (`/assets/logos/xero.svg`). Public: Link pages use them.
async fn logo(State(s): State<HttpState>, Path(file): Path<String>) -> Response {
    let Some(slug) = file.strip_suffix(".svg") else {
        return ApiError(finlink_domain::Error::NotFound {
            message: format!("No asset {file}."),
        })
        .into_response();
    };
    match s.app.catalog.logo_svg(slug) {
        Some(svg) => {
            let mut res = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "image/svg+xml")],
                svg,
            )
                .into_response();
            let h = res.headers_mut();
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
            );
            res
        }
        None => ApiError(finlink_domain::Error::NotFound {
            message: format!("No integration has the slug '{slug}'."),
        })
        .into_response(),
    }
}
