//! The one mapping from [`finlink_domain::Error`] to HTTP. A handler returns
//! `Result<_, ApiError>`; the error becomes a status code plus an [`ErrorPayload`]
//! extension, and [`crate::middleware::correlate`] renders Codat's `ErrorMessage`
//! body with the request's correlation id (which also goes in the log line).

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use finlink_domain::Error;
use finlink_domain::error::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

/// A handler error.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Which wire dialect an error body is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Dialect {
    #[default]
    Codat,
    Apideck,
}

/// What the middleware needs to render an error body.
#[derive(Clone, Debug)]
pub struct ErrorPayload {
    pub dialect: Dialect,
    pub message: String,
    pub errors: Vec<FieldError>,
    /// Logged (with the correlation id), never sent.
    pub internal_detail: Option<String>,
}

/// The status for each kind of error.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Validation { .. } | Error::Query(_) => StatusCode::BAD_REQUEST,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Handler errors render in Codat's dialect; the `/vault` router switches the dialect of
/// every error under it to Apideck's (`crate::vault::router`), so no handler chooses.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.0, Dialect::Codat)
    }
}

fn error_response(e: Error, dialect: Dialect) -> Response {
    let status = status_of(&e);
    let payload = match e {
        Error::Validation { message, errors } => ErrorPayload {
            dialect,
            message,
            errors,
            internal_detail: None,
        },
        Error::Internal(detail) => ErrorPayload {
            dialect,
            message: String::from(
                "There is a problem with our server. Please try again later; if it persists, give the operator this correlation id.",
            ),
            errors: Vec::new(),
            internal_detail: Some(detail),
        },
        other => ErrorPayload {
            dialect,
            message: other.to_string(),
            errors: Vec::new(),
            internal_detail: None,
        },
    };
    let mut res = status.into_response();
    res.extensions_mut().insert(payload);
    res
}

/// Codat's `ErrorMessage`. `canBeRetried` is a string, as the SDK requires.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorMessage {
    pub status_code: u16,
    #[schema(example = "PublicApi")]
    pub service: &'static str,
    pub error: String,
    #[schema(example = "0a40c2f31fc8f992fb88b0853e4166f3")]
    pub correlation_id: String,
    pub validation: Option<ErrorValidation>,
    #[schema(example = "Unknown")]
    pub can_be_retried: &'static str,
    pub detailed_error_code: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorValidation {
    pub errors: Vec<ErrorValidationItem>,
    pub warnings: Vec<ErrorValidationItem>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorValidationItem {
    pub item_id: String,
    pub message: String,
    pub validator_name: String,
}

impl ErrorMessage {
    pub fn new(status: StatusCode, payload: &ErrorPayload, correlation_id: &str) -> Self {
        let validation = if payload.errors.is_empty() {
            None
        } else {
            Some(ErrorValidation {
                errors: payload
                    .errors
                    .iter()
                    .map(|e| ErrorValidationItem {
                        item_id: e.item_id.clone(),
                        message: e.message.clone(),
                        validator_name: e.validator_name.clone(),
                    })
                    .collect(),
                warnings: Vec::new(),
            })
        };
        let can_be_retried = match status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => "True",
            s if s.is_client_error() => "False",
            _ => "Unknown",
        };
        Self {
            status_code: status.as_u16(),
            service: "PublicApi",
            error: payload.message.clone(),
            correlation_id: correlation_id.to_owned(),
            validation,
            can_be_retried,
            detailed_error_code: 0,
        }
    }
}

pub async fn not_found_fallback(method: Method, uri: Uri) -> ApiError {
    ApiError(Error::NotFound {
        message: format!(
            "No route {method} {}: see /docs for the API (paths are case-sensitive).",
            uri.path().chars().take(200).collect::<String>()
        ),
    })
}

pub async fn method_not_allowed_fallback(method: Method, uri: Uri) -> Response {
    let mut res = StatusCode::METHOD_NOT_ALLOWED.into_response();
    res.extensions_mut().insert(ErrorPayload {
        dialect: Dialect::Codat,
        message: format!(
            "{method} is not allowed on {}: see /docs for the methods this path takes.",
            uri.path().chars().take(200).collect::<String>()
        ),
        errors: Vec::new(),
        internal_detail: None,
    });
    res
}

/// A handler panicked: log and answer 500 (the correlate middleware adds the body).
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError(Error::internal("a request handler panicked")).into_response()
}

/// Apideck's error body.
#[derive(Serialize, ToSchema)]
pub struct ApideckError {
    pub status_code: u16,
    /// The status text, e.g. `Bad Request`.
    pub error: String,
    #[schema(example = "RequestValidationError")]
    pub type_name: &'static str,
    pub message: String,
    pub detail: serde_json::Value,
    #[serde(rename = "ref")]
    pub reference: &'static str,
    /// finlink's correlation id (also in the log line and the x-correlation-id header).
    pub correlation_id: String,
}

impl ApideckError {
    pub fn new(status: StatusCode, payload: &ErrorPayload, correlation_id: &str) -> Self {
        let type_name = match status.as_u16() {
            400 | 413 => "RequestValidationError",
            401 => "UnauthorizedError",
            403 => "ForbiddenError",
            404 => "NotFoundError",
            409 => "ConflictError",
            503 => "ServiceUnavailableError",
            _ => "InternalServerError",
        };
        let detail = if payload.errors.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!({ "errors": payload.errors.iter().map(|e| serde_json::json!({"field": e.item_id, "message": e.message})).collect::<Vec<_>>() })
        };
        Self {
            status_code: status.as_u16(),
            error: status.canonical_reason().unwrap_or("Error").to_owned(),
            type_name,
            message: payload.message.clone(),
            detail,
            reference: "https://developers.apideck.com/errors",
            correlation_id: correlation_id.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status() {
        let cases = [
            (Error::not_found("company", "x"), 404),
            (Error::bad_request("x"), 400),
            (Error::Query("x".into()), 400),
            (Error::Conflict("x".into()), 409),
            (Error::Unauthorized("x".into()), 401),
            (Error::Forbidden("x".into()), 403),
            (Error::PayloadTooLarge("x".into()), 413),
            (Error::Unavailable("x".into()), 503),
            (Error::internal("secret detail"), 500),
        ];
        for (e, code) in cases {
            let res = ApiError(e).into_response();
            assert_eq!(res.status().as_u16(), code);
            let p = res.extensions().get::<ErrorPayload>().unwrap();
            assert_eq!(p.dialect, Dialect::Codat);
            assert!(!p.message.contains("secret detail"));
        }
    }

    #[test]
    fn body_shape() {
        let p = ErrorPayload {
            dialect: Dialect::Codat,
            message: "m".into(),
            errors: vec![],
            internal_detail: None,
        };
        let v = serde_json::to_value(ErrorMessage::new(StatusCode::NOT_FOUND, &p, "abc")).unwrap();
        assert_eq!(v["statusCode"], 404);
        assert_eq!(v["canBeRetried"], "False");
        assert_eq!(v["correlationId"], "abc");
        assert_eq!(v["validation"], serde_json::Value::Null);
    }
}
