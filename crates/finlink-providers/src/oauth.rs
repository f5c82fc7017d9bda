//! The OAuth 2.0 token client: refresh and code exchange against an integration's
//! token endpoint.
//!
//! Written on reqwest rather than the `oauth2` crate's token requests because finlink
//! must (1) read `expires_in` given as a number *or* a string, (2) keep every extra
//! field the provider returned, and (3) classify failures by HTTP status (429/5xx are
//! transient, a 400 `invalid_grant` is a rejection) — the `oauth2` crate's standard
//! token response rejects string `expires_in` and drops the status of a non-JSON error
//! body. The protocol itself is small: one form POST (RFC 6749 sections 4.1.3, 6).

use std::collections::BTreeMap;
use std::time::Duration;

use finlink_domain::integration::ClientAuthMethod;
use finlink_vault::SecretString;
use serde_json::Value;

/// Where and how to ask for tokens.
#[derive(Clone)]
pub struct TokenEndpoint {
    /// Absolute URL of the token endpoint.
    pub url: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub auth: ClientAuthMethod,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// A successful token response. Secrets are redacted from `Debug` and zeroized on drop.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: SecretString,
    /// Present only when the provider issued a new refresh token.
    pub refresh_token: Option<SecretString>,
    /// Seconds, when the provider said.
    pub expires_in: Option<i64>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    /// Every other field of the response (non-secret by convention: ids, URLs).
    pub extra: BTreeMap<String, Value>,
}

/// Why a token request failed. The three kinds never mix: a rejection means the grant
/// is dead (relink); a transient failure may succeed later; an internal failure is
/// finlink's own (configuration, network set-up) and says nothing about the grant.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("the provider rejected the grant: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        status: u16,
        error: String,
        description: Option<String>,
    },
    #[error("the provider failed for now: {reason}")]
    Transient {
        reason: String,
        retry_after_secs: Option<u64>,
    },
    #[error("finlink could not make the token request: {0}")]
    Internal(String),
}

/// OAuth error codes that mean the grant or the client is no good (RFC 6749 5.2).
const REJECTIONS: [&str; 5] = [
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "invalid_scope",
    "access_denied",
];

#[derive(Clone, Debug)]
pub struct OAuthClient {
    http: reqwest::Client,
}

impl OAuthClient {
    pub fn new(timeout: Duration) -> Result<Self, OAuthError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("finlink/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OAuthError::Internal(format!("HTTP client: {e}")))?;
        Ok(Self { http })
    }

    /// `grant_type=refresh_token`.
    pub async fn refresh(
        &self,
        ep: &TokenEndpoint,
        refresh_token: &SecretString,
    ) -> Result<TokenResponse, OAuthError> {
        self.token_request(
            ep,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose().as_str()),
            ],
        )
        .await
    }

    /// `grant_type=authorization_code` with the PKCE verifier.
    pub async fn exchange_code(
        &self,
        ep: &TokenEndpoint,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(v) = code_verifier {
            form.push(("code_verifier", v));
        }
        self.token_request(ep, &form).await
    }

    /// RFC 7009 revocation of `token` (a refresh token when there is one: revoking it ends the
    /// whole grant at most platforms). A 200 is success; 400 `unsupported_token_type` and any
    /// other answer are returned as errors for the caller to log.
    pub async fn revoke(
        &self,
        ep: &TokenEndpoint,
        revoke_url: &str,
        token: &SecretString,
        token_type_hint: &str,
    ) -> Result<(), OAuthError> {
        let revoke_ep = TokenEndpoint {
            url: revoke_url.to_owned(),
            ..ep.clone()
        };
        let (status, _, body) = self
            .form_post(
                &revoke_ep,
                &[
                    ("token", token.expose().as_str()),
                    ("token_type_hint", token_type_hint),
                ],
            )
            .await?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        classify(status, None, &body).map(|_| ())
    }

    /// A GET of a platform's JSON resource (identity endpoints, API-key checks) with the given
    /// header. 401 and 403 are rejections (the credential is no good); 429 and 5xx are transient.
    pub async fn get_json(&self, url: &str, header: (&str, &str)) -> Result<Value, OAuthError> {
        let res = self
            .http
            .get(url)
            .header("Accept", "application/json")
            .header(header.0, header.1)
            .send()
            .await
            .map_err(|e| {
                if e.is_builder() {
                    OAuthError::Internal(format!("bad URL: {}", without_url(&e)))
                } else {
                    OAuthError::Transient {
                        reason: format!("platform unreachable: {}", without_url(&e)),
                        retry_after_secs: None,
                    }
                }
            })?;
        let status = res.status().as_u16();
        let body = res.bytes().await.map_err(|e| OAuthError::Transient {
            reason: format!("reading the platform's answer: {}", without_url(&e)),
            retry_after_secs: None,
        })?;
        match status {
            200..=299 => serde_json::from_slice(&body).map_err(|_| OAuthError::Transient {
                reason: format!("the platform answered {status} without a JSON body"),
                retry_after_secs: None,
            }),
            401 | 403 => Err(OAuthError::Rejected {
                status,
                error: String::from(if status == 401 {
                    "invalid_token"
                } else {
                    "insufficient_scope"
                }),
                description: None,
            }),
            429 | 500..=599 => Err(OAuthError::Transient {
                reason: format!("the platform answered {status}"),
                retry_after_secs: None,
            }),
            _ => Err(OAuthError::Rejected {
                status,
                error: format!("http_{status}"),
                description: None,
            }),
        }
    }

    async fn form_post(
        &self,
        ep: &TokenEndpoint,
        form: &[(&str, &str)],
    ) -> Result<(u16, Option<u64>, bytes::Bytes), OAuthError> {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(&ep.url).header("Accept", "application/json");
        match ep.auth {
            ClientAuthMethod::ClientSecretBasic => {
                // RFC 6749 2.3.1: form-urlencode id and secret before Basic.
                let id = url::form_urlencoded::byte_serialize(ep.client_id.as_bytes())
                    .collect::<String>();
                let secret = ep.client_secret.as_ref().map(|s| {
                    url::form_urlencoded::byte_serialize(s.expose().as_bytes()).collect::<String>()
                });
                req = req.basic_auth(id, secret);
            }
            ClientAuthMethod::ClientSecretPost => {
                fields.push(("client_id", ep.client_id.as_str()));
                if let Some(s) = &ep.client_secret {
                    fields.push(("client_secret", s.expose().as_str()));
                }
            }
        }
        let res = req.form(&fields).send().await.map_err(|e| {
            if e.is_builder() {
                OAuthError::Internal(format!("bad endpoint URL {}: {e}", ep.url))
            } else {
                OAuthError::Transient {
                    reason: format!("endpoint unreachable: {}", without_url(&e)),
                    retry_after_secs: None,
                }
            }
        })?;
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = res.bytes().await.map_err(|e| OAuthError::Transient {
            reason: format!("reading the answer: {}", without_url(&e)),
            retry_after_secs: retry_after,
        })?;
        Ok((status, retry_after, body))
    }

    async fn token_request(
        &self,
        ep: &TokenEndpoint,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, OAuthError> {
        let (status, retry_after, body) = self.form_post(ep, form).await?;
        classify(status, retry_after, &body)
    }
}

fn without_url(e: &reqwest::Error) -> String {
    // reqwest errors print the URL, which may carry query secrets for some providers.
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<token endpoint>");
    }
    s
}

/// Turns a token-endpoint answer into a response or a classified error.
pub fn classify(
    status: u16,
    retry_after: Option<u64>,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let json: Option<serde_json::Map<String, Value>> = serde_json::from_slice(body).ok();
    if (200..300).contains(&status) {
        let Some(mut obj) = json else {
            return Err(OAuthError::Transient {
                reason: format!("the token endpoint answered {status} without JSON"),
                retry_after_secs: None,
            });
        };
        let take_str = |obj: &mut serde_json::Map<String, Value>, k: &str| match obj.remove(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let Some(access_token) = take_str(&mut obj, "access_token") else {
            return Err(OAuthError::Transient {
                reason: String::from("the token response has no access_token"),
                retry_after_secs: None,
            });
        };
        let refresh_token = take_str(&mut obj, "refresh_token").map(SecretString::from);
        let expires_in = match obj.remove("expires_in") {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .filter(|s| *s > 0);
        let token_type = take_str(&mut obj, "token_type");
        let scope = take_str(&mut obj, "scope");
        // Never keep a token-looking extra (id_token is a credential too).
        obj.remove("id_token");
        return Ok(TokenResponse {
            access_token: SecretString::from(access_token),
            refresh_token,
            expires_in,
            token_type,
            scope,
            extra: obj.into_iter().collect(),
        });
    }
    let error = json
        .as_ref()
        .and_then(|o| o.get("error"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let description = json
        .as_ref()
        .and_then(|o| o.get("error_description"))
        .and_then(Value::as_str)
        .map(|s| s.chars().take(300).collect());
    if status == 429 || status >= 500 || status == 408 {
        return Err(OAuthError::Transient {
            reason: format!(
                "the token endpoint answered {status}{}",
                error.map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            retry_after_secs: retry_after,
        });
    }
    match error {
        Some(e) if REJECTIONS.contains(&e.as_str()) => Err(OAuthError::Rejected {
            status,
            error: e,
            description,
        }),
        // 401 without a recognised code: the client credentials were refused.
        None if status == 401 => Err(OAuthError::Rejected {
            status,
            error: String::from("invalid_client"),
            description,
        }),
        Some(e) => Err(OAuthError::Internal(format!(
            "the token endpoint answered {status} {e}{}",
            description.map(|d| format!(": {d}")).unwrap_or_default()
        ))),
        None => Err(OAuthError::Transient {
            reason: format!("the token endpoint answered {status} without an OAuth error"),
            retry_after_secs: retry_after,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lenient_responses() {
        let r = classify(200, None, br#"{"access_token":"a","refresh_token":"r","expires_in":"3600","token_type":"bearer","x_refresh_token_expires_in":8726400,"realmId":"123"}"#).unwrap();
        assert_eq!(r.access_token.expose(), "a");
        assert_eq!(r.refresh_token.as_ref().unwrap().expose(), "r");
        assert_eq!(r.expires_in, Some(3600));
        assert_eq!(r.extra["realmId"], "123");
        let r = classify(200, None, br#"{"access_token":"a","expires_in":1800}"#).unwrap();
        assert!(r.refresh_token.is_none());
        assert_eq!(r.expires_in, Some(1800));
        assert!(!format!("{r:?}").contains("\"a\""));
    }

    #[test]
    fn classifies_failures() {
        assert!(matches!(
            classify(400, None, br#"{"error":"invalid_grant"}"#),
            Err(OAuthError::Rejected { .. })
        ));
        assert!(matches!(
            classify(401, None, b"nope"),
            Err(OAuthError::Rejected { .. })
        ));
        assert!(matches!(
            classify(500, None, b"<html>"),
            Err(OAuthError::Transient { .. })
        ));
        assert!(matches!(
            classify(429, Some(7), b""),
            Err(OAuthError::Transient {
                retry_after_secs: Some(7),
                ..
            })
        ));
        assert!(matches!(
            classify(503, None, br#"{"error":"temporarily_unavailable"}"#),
            Err(OAuthError::Transient { .. })
        ));
        assert!(matches!(
            classify(400, None, br#"{"error":"unsupported_grant_type"}"#),
            Err(OAuthError::Internal(_))
        ));
        assert!(matches!(
            classify(200, None, b"not json"),
            Err(OAuthError::Transient { .. })
        ));
    }
}
