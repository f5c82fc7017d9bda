//! Endpoints called with a Bearer access token (RFC 6750): the identity endpoint, which lists
//! the organisations a grant reaches (as Xero's `/connections`), and a minimal data API call.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use super::{internal, no_store_json, oauth_error};
use crate::Sandbox;
use crate::grants::{self, Organisation};

pub(crate) fn invalid_token(description: &str) -> Response {
    let mut resp = oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", description);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"finlink-sandbox\", error=\"invalid_token\""),
    );
    resp
}

/// The credential of an `Authorization: Bearer <value>` header, if the request has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The organisations of the request's access token, or the 401 to answer.
async fn organisations(
    sandbox: &Sandbox,
    headers: &HeaderMap,
) -> Result<Vec<Organisation>, Response> {
    let Some(token) = bearer(headers) else {
        return Err(invalid_token(
            "Send the access token as Authorization: Bearer <token>.",
        ));
    };
    let orgs = sandbox
        .with_db(move |conn, ctx| grants::access_token_organisations(conn, ctx.now, &token))
        .await
        .map_err(|e| internal(&e))?;
    match orgs {
        Some(orgs) if !orgs.is_empty() => Ok(orgs),
        _ => Err(invalid_token(
            "The access token is unknown, expired or revoked.",
        )),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    organisations: Vec<Organisation>,
    tenant_id: String,
    company_name: String,
}

pub(crate) async fn identity(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    match organisations(&sandbox, &headers).await {
        Err(resp) => resp,
        Ok(orgs) => {
            let (tenant_id, company_name) = orgs
                .first()
                .map(|o| (o.tenant_id.clone(), o.company_name.clone()))
                .unwrap_or_default();
            no_store_json(
                StatusCode::OK,
                &Identity {
                    organisations: orgs,
                    tenant_id,
                    company_name,
                },
            )
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ping {
    ok: bool,
    tenant_id: String,
}

pub(crate) async fn ping(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    match organisations(&sandbox, &headers).await {
        Err(resp) => resp,
        Ok(orgs) => no_store_json(
            StatusCode::OK,
            &Ping {
                ok: true,
                tenant_id: orgs
                    .into_iter()
                    .next()
                    .map(|o| o.tenant_id)
                    .unwrap_or_default(),
            },
        ),
    }
}
