//! The Commerce Sandbox API (`/commerce/api/*`, catalog key `aiwb`), called with a store's API
//! key as `Authorization: Bearer <apiKey>` or `X-Api-Key: <apiKey>` (Bearer wins when both are
//! sent). `GET /commerce/api/store` is the key check finlink's Link page runs before it marks a
//! connection Linked.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use super::resource::bearer;
use super::{internal, no_store_json, oauth_error};
use crate::Sandbox;
use crate::commerce::{self, STORE_CURRENCY};
use crate::control::bump;

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

pub(crate) fn invalid_api_key(description: &str) -> Response {
    let mut resp = oauth_error(StatusCode::UNAUTHORIZED, "invalid_api_key", description);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"finlink-sandbox-commerce\""),
    );
    resp
}

/// The API key sent with the request: the Bearer credential, else the `X-Api-Key` header.
pub(crate) fn api_key(headers: &HeaderMap) -> Option<String> {
    bearer(headers).or_else(|| {
        let key = headers.get(X_API_KEY)?.to_str().ok()?.trim();
        (!key.is_empty()).then(|| key.to_owned())
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoreInfo {
    store_id: String,
    store_name: String,
    currency: &'static str,
}

pub(crate) async fn store(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    bump(&sandbox.inner.counters.commerce_requests);
    let Some(key) = api_key(&headers) else {
        return invalid_api_key(
            "Send the store's API key as Authorization: Bearer <apiKey> or X-Api-Key: <apiKey>.",
        );
    };
    match sandbox
        .with_db(move |conn, _| commerce::store_by_api_key(conn, &key))
        .await
    {
        Err(e) => internal(&e),
        Ok(None) => invalid_api_key("The API key is unknown."),
        Ok(Some(store)) => no_store_json(
            StatusCode::OK,
            &StoreInfo {
                store_id: store.store_id,
                store_name: store.store_name,
                currency: STORE_CURRENCY,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(api_key(&h), None);
        h.insert(X_API_KEY, HeaderValue::from_static("  "));
        assert_eq!(api_key(&h), None);
        h.insert(X_API_KEY, HeaderValue::from_static(" sk_sandbox_x "));
        assert_eq!(api_key(&h).as_deref(), Some("sk_sandbox_x"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic Zm9vOmJhcg=="),
        );
        assert_eq!(api_key(&h).as_deref(), Some("sk_sandbox_x"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer sk_sandbox_y"),
        );
        assert_eq!(api_key(&h).as_deref(), Some("sk_sandbox_y"));
    }
}
