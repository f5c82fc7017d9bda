//! The auth extractor: the API key a request presents, as Codat sends it
//! (`Authorization: Basic <base64(key)>`) or as Apideck does (`Bearer <key>`).
//! Every handler that takes a [`Caller`] is scoped to the caller's client.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use finlink_domain::Error;
use finlink_domain::api_key::ApiKey;
use finlink_domain::ids::ClientId;

use crate::error::ApiError;
use crate::state::HttpState;

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key: ApiKey,
}

impl Caller {
    pub fn client(&self) -> ClientId {
        self.key.client_id
    }
}

/// Pulls the key out of an Authorization header value.
pub fn presented_key(header: &str) -> Option<String> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(rest))
            .ok()?;
        let s = String::from_utf8(decoded).ok()?;
        // Tolerate `echo key | base64` (trailing newline) and `curl -u key:` (trailing colon).
        let s = s.trim_end_matches(['\n', '\r']);
        let s = s.strip_suffix(':').unwrap_or(s);
        return Some(s.to_owned());
    }
    None
}

impl FromRequestParts<HttpState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(key) = header.and_then(presented_key) else {
            return Err(ApiError(Error::Unauthorized(String::from(
                "Unauthorized: send your API key as 'Authorization: Basic <base64 of the key>' (Codat) or 'Authorization: Bearer <key>'.",
            ))));
        };
        let key = state.app.authenticate(&key).await?;
        Ok(Caller { key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            presented_key(&format!("Basic {}", b64("abc"))).as_deref(),
            Some("abc")
        );
        assert_eq!(
            presented_key(&format!("basic {}", b64("abc\n"))).as_deref(),
            Some("abc")
        );
        assert_eq!(
            presented_key(&format!("Basic {}", b64("abc:"))).as_deref(),
            Some("abc")
        );
        assert_eq!(presented_key("Bearer xyz").as_deref(), Some("xyz"));
        assert_eq!(presented_key("Token xyz"), None);
        assert_eq!(presented_key("Basic !!!"), None);
        assert_eq!(presented_key("Basic"), None);
    }
}
