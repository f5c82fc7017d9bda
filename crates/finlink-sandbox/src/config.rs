//! How the sandbox authorization server behaves: token lifetimes, the refresh-token grace
//! window, idle expiry, the OAuth clients it accepts and how many organisations a grant reaches.

use std::fmt;

use serde::Deserialize;

use crate::SandboxError;

/// The client id the sandbox accepts by default.
pub const DEFAULT_CLIENT_ID: &str = "finlink-sandbox";
/// The client secret the sandbox accepts by default.
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-secret";

/// The sandbox's behaviour. Every field has a default (see [`SandboxConfig::default`]), so a
/// configuration file only names what it changes.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Lifetime of an access token, in seconds. Default 1800 (30 minutes, as Xero).
    pub access_token_ttl_secs: i64,
    /// How long, in seconds, a refresh token that has just been rotated away may still be used.
    ///
    /// Default 0: the old refresh token dies the moment it is used, and presenting it again
    /// revokes the whole grant (every access and refresh token of it), as QuickBooks and Xero do
    /// once their grace period is over.
    ///
    /// Inside the window (strictly less than this many seconds after the old token was rotated
    /// away) the old token is accepted and answered with a **new rotation from the current
    /// state**: the grant's newest refresh token is retired (it gets its own grace window from
    /// now) and a fresh access token and refresh token are issued. The grant keeps exactly one
    /// live refresh token; the window of the replayed token is not extended.
    pub refresh_token_grace_secs: i64,
    /// Refresh tokens not used for this many days expire (`invalid_grant`, the grant is not
    /// revoked). `None` (the default): they never expire. Xero uses 60, QuickBooks 100.
    pub refresh_token_idle_days: Option<i64>,
    /// The OAuth clients the sandbox accepts, as `(client_id, client_secret)`.
    /// Default `[("finlink-sandbox", "sandbox-secret")]`.
    pub clients: Vec<(String, String)>,
    /// How many organisations (tenants) one grant reaches. Default 1; more behaves like Xero's
    /// tenant selection: the identity endpoint lists them all.
    pub organisations_per_grant: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 1800,
            refresh_token_grace_secs: 0,
            refresh_token_idle_days: None,
            clients: vec![(
                DEFAULT_CLIENT_ID.to_owned(),
                DEFAULT_CLIENT_SECRET.to_owned(),
            )],
            organisations_per_grant: 1,
        }
    }
}

/// Client secrets never appear in a debug print.
impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clients: Vec<(&str, &str)> = self
            .clients
            .iter()
            .map(|(id, _)| (id.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("SandboxConfig")
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_grace_secs", &self.refresh_token_grace_secs)
            .field("refresh_token_idle_days", &self.refresh_token_idle_days)
            .field("clients", &clients)
            .field("organisations_per_grant", &self.organisations_per_grant)
            .finish()
    }
}

/// The most organisations one grant may reach.
pub(crate) const MAX_ORGANISATIONS_PER_GRANT: u32 = 25;

impl SandboxConfig {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        let bad = |m: String| Err(SandboxError::Config(m));
        if self.access_token_ttl_secs <= 0 {
            return bad(format!(
                "access_token_ttl_secs must be positive (got {}).",
                self.access_token_ttl_secs
            ));
        }
        if self.refresh_token_grace_secs < 0 {
            return bad(format!(
                "refresh_token_grace_secs must be 0 or more (got {}).",
                self.refresh_token_grace_secs
            ));
        }
        if let Some(days) = self.refresh_token_idle_days
            && days <= 0
        {
            return bad(format!(
                "refresh_token_idle_days must be positive when set (got {days})."
            ));
        }
        if self.organisations_per_grant == 0
            || self.organisations_per_grant > MAX_ORGANISATIONS_PER_GRANT
        {
            return bad(format!(
                "organisations_per_grant must be between 1 and {MAX_ORGANISATIONS_PER_GRANT} (got {}).",
                self.organisations_per_grant
            ));
        }
        if self.clients.is_empty() {
            return bad("clients must list at least one (client_id, client_secret).".to_owned());
        }
        for (id, secret) in &self.clients {
            if id.is_empty() || secret.is_empty() {
                return bad("a client id and its secret must not be empty.".to_owned());
            }
        }
        Ok(())
    }

    /// The secret of a client, if the sandbox knows it.
    pub(crate) fn client_secret(&self, client_id: &str) -> Option<&str> {
        self.clients
            .iter()
            .find(|(id, _)| id == client_id)
            .map(|(_, s)| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_debug_hides_secrets() {
        let c = SandboxConfig::default();
        assert!(c.validate().is_ok());
        let d = format!("{c:?}");
        assert!(d.contains("finlink-sandbox"));
        assert!(!d.contains("sandbox-secret"));
    }

    #[test]
    fn rejects_nonsense() {
        let c = SandboxConfig {
            access_token_ttl_secs: 0,
            ..SandboxConfig::default()
        };
        assert!(c.validate().is_err());
        let c = SandboxConfig {
            organisations_per_grant: 0,
            ..SandboxConfig::default()
        };
        assert!(c.validate().is_err());
        let c = SandboxConfig {
            clients: vec![],
            ..SandboxConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
