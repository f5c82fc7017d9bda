//! The proxy: a request to a platform's API carrying a connection's credentials, without the
//! client ever holding them.
//!
//! - `/companies/{companyId}/connections/{connectionId}/proxy/{path}` (any method): `path` and the
//!   query are resolved under the integration's API base URL. Codat-style errors.
//! - `/proxy` (any method), Apideck's form: `x-apideck-consumer-id`, `x-apideck-service-id`,
//!   `x-apideck-downstream-url` (absolute). Apideck-style errors.
//!
//! finlink injects the credential, strips hop-by-hop headers and its own auth, and streams the
//! platform's answer back. The request body is buffered (at most 1 MiB, the API's limit) because
//! on a 401 from the platform the token is refreshed once, through the single-flight path, and
//! the request replayed once. Downstream hosts are limited to the integration's own.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use finlink_app::migration::Actor;
use finlink_app::proxy::ProxyTarget;
use finlink_domain::Error;
use finlink_domain::ids::{CompanyId, ConnectionId};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::HttpState;

/// Request headers never forwarded: hop-by-hop (RFC 9110 7.6.1), finlink's own authentication,
/// cookies, and the proxy's control headers.
fn dropped_request_header(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "authorization"
            | "cookie"
            | "connection"
            | "keep-alive"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "x-correlation-id"
            | "x-forwarded-for"
            | "x-forwarded-host"
            | "x-forwarded-proto"
    ) || name.starts_with("x-apideck-")
}

fn dropped_response_header(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "set-cookie"
    )
}

/// Headers named by the request's `Connection` header are hop-by-hop too.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

pub async fn by_path(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, connection, path)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    // Nothing borrowed from `req` lives across an await: its body is not `Sync`.
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let result = async {
        let (company, connection) = (
            CompanyId::parse(&company)?,
            ConnectionId::parse(&connection)?,
        );
        let target = s
            .app
            .proxy_by_path(caller.client(), company, connection, &path_and_query)
            .await?;
        Ok::<_, Error>(target)
    }
    .await;
    match result {
        Ok(target) => forward(&s, &Actor::ApiKey(caller.key.id), target, req)
            .await
            .unwrap_or_else(|e| ApiError(e).into_response()),
        Err(e) => ApiError(e).into_response(),
    }
}

pub async fn apideck(State(s): State<HttpState>, caller: Caller, req: Request) -> Response {
    let wanted = {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::invalid(name, "Proxy", format!("The {name} header is required."))
                })
        };
        // Read before any await: nothing borrowed from `req` (whose body is not `Sync`) may
        // live across one.
        (
            header("x-apideck-consumer-id"),
            header("x-apideck-service-id"),
            header("x-apideck-downstream-url"),
        )
    };
    let result = async {
        let consumer = wanted.0?;
        let service = wanted.1?;
        let downstream = wanted.2?;
        s.app
            .proxy_by_consumer(caller.client(), &consumer, &service, &downstream)
            .await
    }
    .await;
    let res = match result {
        Ok(target) => forward(&s, &Actor::ApiKey(caller.key.id), target, req)
            .await
            .unwrap_or_else(|e| ApiError(e).into_response()),
        Err(e) => ApiError(e).into_response(),
    };
    crate::vault::apideck_dialect(res)
}

async fn forward(
    s: &HttpState,
    actor: &Actor,
    target: ProxyTarget,
    req: Request,
) -> Result<Response, Error> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, crate::BODY_LIMIT)
        .await
        .map_err(|_| {
            Error::PayloadTooLarge(String::from("A proxied request body is at most 1 MiB."))
        })?;
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|_| Error::bad_request("Unsupported method."))?;
    let listed = connection_listed(&parts.headers);
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &parts.headers {
        let n = name.as_str();
        if dropped_request_header(n) || listed.iter().any(|l| l == n) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(n.as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(k, v);
        }
    }
    let oauth = target.integration.auth_type == finlink_domain::integration::AuthType::Oauth2;
    let mut rejected: Option<i64> = None;
    loop {
        let (auth_name, auth_value, version) = s.app.proxy_auth(actor, &target, rejected).await?;
        let mut h = headers.clone();
        let name = reqwest::header::HeaderName::from_bytes(auth_name.as_bytes())
            .map_err(|_| Error::internal("bad credential header name"))?;
        let mut value = reqwest::header::HeaderValue::from_str(auth_value.expose())
            .map_err(|_| Error::internal("a credential cannot be sent as a header"))?;
        value.set_sensitive(true);
        h.insert(name, value);
        let sent = s
            .proxy_http
            .request(method.clone(), target.url.clone())
            .headers(h)
            .body(body.clone())
            .send()
            .await;
        let res = match sent {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(connection_id = %target.connection.id, error = %e.without_url(), "proxy: the platform could not be reached");
                return Err(Error::Unavailable(format!(
                    "{} could not be reached.",
                    target.integration.name
                )));
            }
        };
        if res.status() == reqwest::StatusCode::UNAUTHORIZED && oauth && rejected.is_none() {
            tracing::info!(connection_id = %target.connection.id, "proxy: 401 from the platform; refreshing once and replaying");
            rejected = Some(version);
            continue;
        }
        let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut out = HeaderMap::new();
        for (name, value) in res.headers() {
            let n = name.as_str();
            if dropped_response_header(n) {
                continue;
            }
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                out.append(k, v);
            }
        }
        let mut response = Response::new(Body::from_stream(res.bytes_stream()));
        *response.status_mut() = status;
        *response.headers_mut() = out;
        return Ok(response);
    }
}
