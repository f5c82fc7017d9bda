//! Request middleware: correlation ids, error bodies, the log line, security headers,
//! and path normalisation (the Codat SDK sends `//companies` when its server URL
//! ends with a slash).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{ErrorMessage, ErrorPayload};

/// The request's correlation id (32 hex characters), in request extensions.
#[derive(Clone, Debug)]
pub struct CorrelationId(pub String);

pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// Gives each request a correlation id, renders error bodies with it, sets common
/// headers and writes one log line per request.
pub async fn correlate(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(CorrelationId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    #[allow(clippy::disallowed_methods)] // latency for the log line only, not business time
    let started = std::time::Instant::now();
    let span = tracing::info_span!("request", correlation_id = %id);
    let mut res = tracing::Instrument::instrument(next.run(req), span).await;
    let status = res.status();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;

    if let Some(payload) = res.extensions_mut().remove::<ErrorPayload>() {
        if let Some(detail) = &payload.internal_detail {
            tracing::error!(correlation_id = %id, %method, %path, status = status.as_u16(), detail = %detail, "internal error");
        }
        let bytes = match payload.dialect {
            crate::error::Dialect::Codat => {
                serde_json::to_vec(&ErrorMessage::new(status, &payload, &id))
            }
            crate::error::Dialect::Apideck => {
                serde_json::to_vec(&crate::error::ApideckError::new(status, &payload, &id))
            }
        }
        .unwrap_or_default();
        *res.body_mut() = Body::from(bytes);
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.headers_mut().remove(header::CONTENT_LENGTH);
        tracing::info!(correlation_id = %id, %method, %path, status = status.as_u16(), elapsed_ms, error = %payload.message, "request");
    } else {
        tracing::info!(correlation_id = %id, %method, %path, status = status.as_u16(), elapsed_ms, "request");
    }
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(CORRELATION_HEADER, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    res
}

/// Collapses repeated slashes and drops a trailing slash, before routing.
pub fn normalize_path<B>(mut req: http::Request<B>) -> http::Request<B> {
    let uri = req.uri();
    let path = uri.path();
    if !(path.contains("//") || (path.len() > 1 && path.ends_with('/'))) {
        return req;
    }
    let mut clean = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        clean.push('/');
        clean.push_str(seg);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    if let Some(q) = uri.query() {
        clean.push('?');
        clean.push_str(q);
    }
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = clean.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(new_uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = new_uri;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        let r = normalize_path(
            http::Request::builder()
                .uri("//companies//x/?page=1")
                .body(())
                .unwrap(),
        );
        assert_eq!(r.uri().to_string(), "/companies/x?page=1");
        let r = normalize_path(http::Request::builder().uri("/").body(()).unwrap());
        assert_eq!(r.uri().to_string(), "/");
    }
}
