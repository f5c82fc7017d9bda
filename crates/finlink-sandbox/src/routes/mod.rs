//! The sandbox's HTTP surface, one file per concern: `authorize.rs` (consent), `token.rs`
//! (token and revocation endpoints, client authentication), `resource.rs` (identity and the
//! ping call), `data.rs` (the accounting and commerce data API), `commerce.rs` (the Commerce
//! Sandbox's key check), `admin.rs` (test controls), and the stylesheet here.

mod admin;
mod authorize;
mod commerce;
mod data;
mod resource;
mod token;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::{Sandbox, paths};

const CSS: &str = include_str!("../../assets/sandbox.css");

pub(crate) fn router(sandbox: Sandbox) -> Router {
    data::routes(Router::new())
        .route(
            paths::AUTHORIZE,
            get(authorize::show).post(authorize::answer),
        )
        .route(paths::TOKEN, post(token::token))
        .route(paths::REVOKE, post(token::revoke))
        .route(paths::IDENTITY, get(resource::identity))
        .route(paths::PING, get(resource::ping))
        .route(paths::STYLESHEET, get(stylesheet))
        .route(paths::ADMIN_MINT, post(admin::mint))
        .route(
            paths::ADMIN_FAILURES,
            post(admin::inject).delete(admin::clear),
        )
        .route(paths::ADMIN_STATS, get(admin::stats))
        .route(paths::ADMIN_COMMERCE_STORES, post(admin::mint_store))
        .route(paths::COMMERCE_STORE, get(commerce::store))
        .route(
            paths::ADMIN_DATA,
            get(admin::data_info)
                .post(admin::data_set)
                .delete(admin::data_reset),
        )
        .route(paths::ADMIN_DATA_TOUCH, post(admin::data_touch))
        .route(
            paths::ADMIN_DATA_FAILURES,
            post(admin::data_inject).delete(admin::data_clear),
        )
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(sandbox)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CSS,
    )
        .into_response()
}

/// Form or query parameters, each at most once (RFC 6749 3.1). Parameters sent without a value
/// are treated as omitted (RFC 6749 3.1).
pub(crate) struct Params {
    values: BTreeMap<String, String>,
    /// Names that appeared more than once.
    repeated: Vec<String>,
}

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        let mut values = BTreeMap::new();
        let mut repeated: Vec<String> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if v.is_empty() {
                continue;
            }
            if values.contains_key(k.as_ref()) {
                if !repeated.iter().any(|r| r == k.as_ref()) {
                    repeated.push(k.into_owned());
                }
            } else {
                values.insert(k.into_owned(), v.into_owned());
            }
        }
        Self { values, repeated }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    pub fn first_repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }
}

/// Whether the request body is `application/x-www-form-urlencoded`.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// A JSON body that must never be cached (tokens, errors about tokens).
pub(crate) fn no_store_json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let body = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "sandbox: cannot serialise a response");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// An RFC 6749 5.2 error body: `{"error", "error_description"}`.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store_json(
        status,
        &ErrorBody {
            error,
            error_description: description,
        },
    )
}

/// Logs an unexpected failure and answers `500 server_error`.
pub(crate) fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "sandbox: internal error");
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "The sandbox failed to handle the request.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_drop_empty_values_and_flag_repeats() {
        let p = Params::parse(b"a=1&b=&c=x%20y&a=2&c=3");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert!(p.is_repeated("a"));
        assert_eq!(p.first_repeated(), Some("a"));
    }

    #[test]
    fn form_content_type() {
        let mut h = HeaderMap::new();
        assert!(!is_form(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        assert!(is_form(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!is_form(&h));
    }
}
