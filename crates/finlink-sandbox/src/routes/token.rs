//! `POST /oauth/token` (RFC 6749 4.1.3 and 6) and `POST /oauth/revoke` (RFC 7009), with client
//! authentication by HTTP Basic (`client_secret_basic`) or form fields (`client_secret_post`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Serialize;

use super::{Params, internal, is_form, no_store_json, oauth_error};
use crate::config::SandboxConfig;
use crate::control::bump;
use crate::grants::{self, Issued, Rejection};
use crate::secret::{is_code_verifier, secrets_equal};
use crate::{Failure, Sandbox};

/// Seconds a `503` injected failure asks the client to wait.
pub(crate) const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 5;
/// Seconds a `429` injected failure asks the client to wait.
pub(crate) const RATE_LIMIT_RETRY_AFTER_SECS: u32 = 1;

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

fn issued(i: Issued) -> Response {
    no_store_json(
        StatusCode::OK,
        &TokenResponse {
            access_token: i.access_token,
            token_type: "Bearer",
            expires_in: i.expires_in,
            refresh_token: i.refresh_token,
            scope: i.scope,
        },
    )
}

fn rejected(r: &Rejection) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, r.code.as_str(), &r.description)
}

fn invalid_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_client(description: &str) -> Response {
    let mut resp = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"finlink-sandbox\""),
    );
    resp
}

fn with_retry_after(mut resp: Response, secs: u32) -> Response {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

fn injected(failure: Failure) -> Response {
    match failure {
        Failure::ServerError => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Injected failure: the sandbox token endpoint failed.",
        ),
        Failure::InvalidGrant => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Injected failure: the grant is invalid.",
        ),
        Failure::TemporarilyUnavailable => with_retry_after(
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Injected failure: the sandbox is temporarily unavailable.",
            ),
            UNAVAILABLE_RETRY_AFTER_SECS,
        ),
        Failure::RateLimited => with_retry_after(
            oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Injected failure: too many requests.",
            ),
            RATE_LIMIT_RETRY_AFTER_SECS,
        ),
    }
}

/// Decodes one half of HTTP Basic client credentials: RFC 6749 2.3.1 form-encodes the client id
/// and secret before base64. `None` if the percent-encoding is malformed.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Why client authentication failed.
enum AuthFailure {
    /// `401 invalid_client`.
    Client(&'static str),
    /// `400 invalid_request`.
    Request(&'static str),
}

impl AuthFailure {
    fn response(&self) -> Response {
        match self {
            Self::Client(m) => invalid_client(m),
            Self::Request(m) => invalid_request(m),
        }
    }
}

/// Authenticates the client: Basic or `client_id` + `client_secret` in the body, not both.
/// Returns the client id.
fn authenticate(
    config: &SandboxConfig,
    headers: &HeaderMap,
    params: &Params,
) -> Result<String, AuthFailure> {
    let (client_id, candidates) = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| AuthFailure::Client("The Authorization header is not valid text."))?;
            let encoded = value
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
                .map(|(_, rest)| rest.trim())
                .ok_or(AuthFailure::Client(
                    "Client authentication must use the HTTP Basic scheme.",
                ))?;
            let decoded = STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(AuthFailure::Client(
                    "The Basic credentials are not valid base64.",
                ))?;
            let (raw_id, raw_secret) = decoded.split_once(':').ok_or(AuthFailure::Client(
                "The Basic credentials must be client_id:client_secret.",
            ))?;
            if params.get("client_secret").is_some() {
                return Err(AuthFailure::Request(
                    "Use one client authentication method: HTTP Basic or client_secret in the body, not both.",
                ));
            }
            let id = form_decode(raw_id).unwrap_or_else(|| raw_id.to_owned());
            if let Some(body_id) = params.get("client_id")
                && body_id != id
            {
                return Err(AuthFailure::Client(
                    "client_id in the body differs from the one in the Authorization header.",
                ));
            }
            // Accept the secret form-decoded (RFC 6749 2.3.1) or as sent (many clients skip
            // the encoding).
            let mut candidates = vec![raw_secret.to_owned()];
            if let Some(s) = form_decode(raw_secret)
                && s != raw_secret
            {
                candidates.push(s);
            }
            (id, candidates)
        }
        None => {
            let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret"))
            else {
                return Err(AuthFailure::Client(
                    "Client authentication is required: HTTP Basic, or client_id and client_secret in the body.",
                ));
            };
            (id.to_owned(), vec![secret.to_owned()])
        }
    };
    // Compare even for an unknown client id, so timing does not tell which ids exist.
    let expected = config.client_secret(&client_id);
    let reference = expected.unwrap_or("\u{0}unknown-client");
    let matched = candidates
        .iter()
        .fold(false, |ok, c| secrets_equal(c, reference) | ok);
    if expected.is_some() && matched {
        Ok(client_id)
    } else {
        Err(AuthFailure::Client(
            "Unknown client or wrong client secret.",
        ))
    }
}

pub(crate) async fn token(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let counters = &sandbox.inner.counters;
    bump(&counters.token_requests);
    let params = Params::parse(&body);
    match params.get("grant_type") {
        Some("authorization_code") => bump(&counters.code_exchanges),
        Some("refresh_token") => bump(&counters.refresh_requests),
        _ => {}
    }
    if let Some(failure) = sandbox.inner.injector.take() {
        bump(&counters.failures_injected);
        return injected(failure);
    }
    if !is_form(&headers) {
        return invalid_request(
            "The token endpoint takes an application/x-www-form-urlencoded body.",
        );
    }
    if let Some(name) = params.first_repeated() {
        return invalid_request(&format!("The parameter {name} is repeated."));
    }
    let client_id = match authenticate(&sandbox.inner.config, &headers, &params) {
        Ok(id) => id,
        Err(failure) => return failure.response(),
    };
    match params.get("grant_type") {
        None => invalid_request("grant_type is required."),
        Some("authorization_code") => code_grant(&sandbox, client_id, &params).await,
        Some("refresh_token") => refresh_grant(&sandbox, client_id, &params).await,
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The sandbox supports grant_type authorization_code and refresh_token.",
        ),
    }
}

async fn code_grant(sandbox: &Sandbox, client_id: String, params: &Params) -> Response {
    let missing: Vec<&str> = ["code", "redirect_uri", "code_verifier"]
        .into_iter()
        .filter(|n| params.get(n).is_none())
        .collect();
    if !missing.is_empty() {
        return invalid_request(&format!("Missing parameter(s): {}.", missing.join(", ")));
    }
    let code = params.get("code").unwrap_or_default().to_owned();
    let redirect_uri = params.get("redirect_uri").unwrap_or_default().to_owned();
    let verifier = params.get("code_verifier").unwrap_or_default().to_owned();
    if !is_code_verifier(&verifier) {
        return invalid_request(
            "code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~ (RFC 7636).",
        );
    }
    let result = sandbox
        .with_db(move |conn, ctx| {
            grants::exchange_code(conn, ctx, &client_id, &code, &redirect_uri, &verifier)
        })
        .await;
    match result {
        Ok(Ok(i)) => issued(i),
        Ok(Err(r)) => rejected(&r),
        Err(e) => internal(&e),
    }
}

async fn refresh_grant(sandbox: &Sandbox, client_id: String, params: &Params) -> Response {
    let Some(refresh_token) = params.get("refresh_token").map(str::to_owned) else {
        return invalid_request("Missing parameter: refresh_token.");
    };
    let scope = params.get("scope").map(str::to_owned);
    let result = sandbox
        .with_db(move |conn, ctx| {
            grants::refresh(conn, ctx, &client_id, &refresh_token, scope.as_deref())
        })
        .await;
    match result {
        Ok(Ok(i)) => issued(i),
        Ok(Err(r)) => rejected(&r),
        Err(e) => internal(&e),
    }
}

pub(crate) async fn revoke(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return invalid_request(
            "The revocation endpoint takes an application/x-www-form-urlencoded body.",
        );
    }
    let params = Params::parse(&body);
    if let Some(name) = params.first_repeated() {
        return invalid_request(&format!("The parameter {name} is repeated."));
    }
    let client_id = match authenticate(&sandbox.inner.config, &headers, &params) {
        Ok(id) => id,
        Err(failure) => return failure.response(),
    };
    let Some(token) = params.get("token").map(str::to_owned) else {
        return invalid_request("Missing parameter: token.");
    };
    let access_token_first = params.get("token_type_hint") == Some("access_token");
    let result = sandbox
        .with_db(move |conn, ctx| grants::revoke(conn, ctx, &client_id, &token, access_token_first))
        .await;
    match result {
        Ok(()) => (
            StatusCode::OK,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
        )
            .into_response(),
        Err(e) => internal(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("bad%4"), None);
        assert_eq!(form_decode("bad%zz"), None);
    }
}
