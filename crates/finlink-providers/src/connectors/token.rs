//! Where a pull's credential comes from.

use async_trait::async_trait;
use finlink_vault::SecretString;

/// Why a [`TokenSource`] has no credential.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The grant or key is dead (a refresh was refused): the connection must be relinked.
    #[error("the credential was rejected: {0}")]
    Rejected(String),
    /// No credential for now (the token endpoint failed, a refresh is in flight elsewhere and
    /// timed out ...): try the pull again later.
    #[error("no credential for now: {0}")]
    Unavailable(String),
}

/// The credential of a connection, as the caller keeps it.
///
/// In finlink the implementation reads the connection's sealed credentials and refreshes them
/// through the single-flight lifecycle path (one refresh per connection across instances);
/// connectors only ask.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The credential to send now: an OAuth access token, or an API key. Called before every
    /// request, so it should be cheap (cached) and refresh ahead of expiry itself.
    async fn token(&self) -> Result<SecretString, TokenError>;

    /// The platform refused `token` (`401`). Refresh it, unless the current credential is
    /// already another one (a concurrent pull refreshed first). The connector then calls
    /// [`TokenSource::token`] and retries once; a second refusal ends the pull with an
    /// `AuthError`. `Err(Rejected)` when the refresh itself was refused.
    async fn rejected(&self, token: &SecretString) -> Result<(), TokenError>;
}

/// A credential that cannot be refreshed: an API key (the Commerce Sandbox), or a token in
/// tests. A `401` is retried once with the same key (a platform hiccup), then is an
/// `AuthError`.
pub struct StaticToken(SecretString);

impl StaticToken {
    pub fn new(secret: SecretString) -> Self {
        Self(secret)
    }
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<SecretString, TokenError> {
        Ok(self.0.clone())
    }

    async fn rejected(&self, _token: &SecretString) -> Result<(), TokenError> {
        Ok(())
    }
}
