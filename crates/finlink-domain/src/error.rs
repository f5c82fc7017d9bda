//! The one error type every layer returns. `finlink-http` maps it to a status code and
//! a body in exactly one place per wire dialect.

use std::fmt;

/// One problem with one input field, as Codat's `validation.errors[]` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field or item at fault (`name`, `tags.region`, ...).
    pub item_id: String,
    pub message: String,
    /// What checked it (`CreateCompany`, `Query`, ...).
    pub validator_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or belongs to another client (never 403 for that).
    #[error("{message}")]
    NotFound { message: String },
    /// The request is well-formed but its content is wrong. Nothing was changed.
    #[error("{message}")]
    Validation {
        message: String,
        errors: Vec<FieldError>,
    },
    /// The `query`, `tags` or `orderBy` parameter could not be used.
    #[error("Error parsing query - {0}")]
    Query(String),
    /// A limit or uniqueness rule stops the request (e.g. the 11th API key).
    #[error("{0}")]
    Conflict(String),
    /// No credentials, or credentials that are not valid.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the permission the operation needs.
    #[error("{0}")]
    Forbidden(String),
    /// The request body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A dependency (the database) is not reachable right now; the request can be retried.
    #[error("{0}")]
    Unavailable(String),
    /// finlink itself failed. The detail is logged, never sent to the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(what: &str, id: impl fmt::Display) -> Self {
        Error::NotFound {
            message: format!("No {what} was found with ID {id}."),
        }
    }

    pub fn malformed_id(what: &str, id: &str) -> Self {
        let shown: String = id.chars().take(64).collect();
        Error::NotFound {
            message: format!(
                "No {what} was found with ID '{shown}': {what} ids are UUIDs such as 846ed55c-6ee3-4c1a-a5c4-1d5e6b1f0b2a."
            ),
        }
    }

    /// A validation error about one field.
    pub fn invalid(item_id: &str, validator: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Error::Validation {
            message: message.clone(),
            errors: vec![FieldError {
                item_id: item_id.to_owned(),
                message,
                validator_name: validator.to_owned(),
            }],
        }
    }

    /// A validation error with no particular field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::Validation {
            message: message.into(),
            errors: Vec::new(),
        }
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }
}
