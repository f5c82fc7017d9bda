//! Test and demo controls under `/admin/`: mint a grant, create a commerce store, inject
//! token-endpoint failures, read the counters. There is no authentication here: keep the sandbox disabled in production.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{internal, no_store_json, oauth_error};
use crate::grants;
use crate::{Failure, Sandbox, SandboxError};

/// The largest `count` one injection accepts.
const MAX_INJECTED: u32 = 10_000;

fn bad_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// A JSON body; an empty body is `{}`. The error is the description for a 400.
fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let raw: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(raw).map_err(|e| format!("Invalid JSON body: {e}."))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MintBody {
    company_name: Option<String>,
}

pub(crate) async fn mint(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let req: MintBody = match json_body(&body) {
        Ok(r) => r,
        Err(problem) => return bad_request(&problem),
    };
    let name = match req.company_name {
        Some(name) => name,
        None => match sandbox
            .with_db(|conn, _| grants::next_company_number(conn))
            .await
        {
            Ok(n) => grants::default_company_name(n),
            Err(e) => return internal(&e),
        },
    };
    match sandbox.mint(&name).await {
        Ok(grant) => no_store_json(StatusCode::OK, &grant),
        Err(SandboxError::InvalidInput(m)) => bad_request(&m),
        Err(e) => internal(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintStoreBody {
    name: Option<String>,
}

pub(crate) async fn mint_store(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let req: MintStoreBody = match json_body(&body) {
        Ok(r) => r,
        Err(problem) => return bad_request(&problem),
    };
    match sandbox.mint_commerce_store(req.name.as_deref()).await {
        Ok(store) => no_store_json(StatusCode::OK, &store),
        Err(SandboxError::InvalidInput(m)) => bad_request(&m),
        Err(e) => internal(&e),
    }
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectBody {
    kind: Failure,
    #[serde(default = "one")]
    count: u32,
}

pub(crate) async fn inject(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let req: InjectBody = match json_body(&body) {
        Ok(r) => r,
        Err(problem) => return bad_request(&problem),
    };
    if req.count > MAX_INJECTED {
        return bad_request(&format!("count is at most {MAX_INJECTED}."));
    }
    sandbox.inject(req.kind, req.count);
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn clear(State(sandbox): State<Sandbox>) -> Response {
    sandbox.clear_failures();
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn stats(State(sandbox): State<Sandbox>) -> Response {
    no_store_json(StatusCode::OK, &sandbox.stats())
}
