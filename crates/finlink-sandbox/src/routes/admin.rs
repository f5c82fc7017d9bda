//! Test and demo controls under `/admin/`: mint a grant, create a commerce store, inject
//! token-endpoint and data failures, size and touch an owner's data, read the counters. There
//! is no authentication here: keep the sandbox disabled in production.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{internal, no_store_json, oauth_error};
use crate::grants;
use crate::{
    DataFailure, DataProfileUpdate, DataType, Failure, Sandbox, SandboxError, TouchSelection,
};

/// The largest `count` one injection accepts.
const MAX_INJECTED: u32 = 10_000;

fn bad_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// The answer to a failed admin operation.
fn refused(e: &SandboxError) -> Response {
    match e {
        SandboxError::InvalidInput(m) => bad_request(m),
        SandboxError::NotFound(m) => oauth_error(StatusCode::NOT_FOUND, "not_found", m),
        e => internal(e),
    }
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
    /// Counts for the new organisations' data.
    data: Option<DataProfileUpdate>,
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
    let minted = match req.data {
        Some(data) => sandbox.mint_with_data(&name, &data).await,
        None => sandbox.mint(&name).await,
    };
    match minted {
        Ok(grant) => no_store_json(StatusCode::OK, &grant),
        Err(e) => refused(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintStoreBody {
    name: Option<String>,
    /// Counts for the new store's data.
    data: Option<DataProfileUpdate>,
}

pub(crate) async fn mint_store(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let req: MintStoreBody = match json_body(&body) {
        Ok(r) => r,
        Err(problem) => return bad_request(&problem),
    };
    if let Some(data) = &req.data
        && let Err(m) = crate::DataProfile::default().with(data)
    {
        return bad_request(&m);
    }
    let store = match sandbox.mint_commerce_store(req.name.as_deref()).await {
        Ok(store) => store,
        Err(e) => return refused(&e),
    };
    if let Some(data) = &req.data
        && let Err(e) = sandbox.set_data_profile(&store.store_id, data).await
    {
        return refused(&e);
    }
    no_store_json(StatusCode::OK, &store)
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

pub(crate) async fn data_info(State(sandbox): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sandbox.data_info(&id).await {
        Ok(info) => no_store_json(StatusCode::OK, &info),
        Err(e) => refused(&e),
    }
}

pub(crate) async fn data_set(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let update: DataProfileUpdate = match json_body(&body) {
        Ok(u) => u,
        Err(problem) => return bad_request(&problem),
    };
    match sandbox.set_data_profile(&id, &update).await {
        Ok(info) => no_store_json(StatusCode::OK, &info),
        Err(e) => refused(&e),
    }
}

pub(crate) async fn data_reset(State(sandbox): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sandbox.reset_data(&id).await {
        Ok(info) => no_store_json(StatusCode::OK, &info),
        Err(e) => refused(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TouchBody {
    #[serde(rename = "type")]
    data_type: DataType,
    count: Option<u64>,
    indices: Option<Vec<u64>>,
}

pub(crate) async fn data_touch(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let req: TouchBody = match json_body(&body) {
        Ok(r) => r,
        Err(problem) => return bad_request(&problem),
    };
    let selection = match (req.count, req.indices) {
        (Some(count), None) => TouchSelection::Spread(count),
        (None, Some(indices)) => TouchSelection::Indices(indices),
        _ => return bad_request("Give either count or indices."),
    };
    match sandbox.touch_data(&id, req.data_type, selection).await {
        Ok(touched) => no_store_json(StatusCode::OK, &touched),
        Err(e) => refused(&e),
    }
}

pub(crate) async fn data_inject(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let req: DataFailure = match json_body(&body) {
        Ok(r) => r,
        Err(problem) => return bad_request(&problem),
    };
    if req.count > MAX_INJECTED {
        return bad_request(&format!("count is at most {MAX_INJECTED}."));
    }
    if req.page == Some(0) {
        return bad_request("page is 1-based.");
    }
    sandbox.inject_data_failure(req);
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn data_clear(State(sandbox): State<Sandbox>) -> Response {
    sandbox.clear_data_failures();
    StatusCode::NO_CONTENT.into_response()
}
