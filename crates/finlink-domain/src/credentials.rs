//! Credentials as storage sees them: sealed. The secret fields of a connection's
//! credentials (tokens, keys, passwords) travel as one envelope sealed by
//! `finlink-vault`; only non-secret facts (expiry, scopes, token type) are in clear,
//! because the scheduler and the status endpoints need them without decrypting.

use crate::Timestamp;
use crate::ids::{ClientId, CompanyId, ConnectionId};
use crate::integration::AuthType;

#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredentials {
    pub client_id: ClientId,
    pub company_id: CompanyId,
    pub connection_id: ConnectionId,
    pub auth_type: AuthType,
    /// The master key the envelope is sealed under.
    pub key_id: String,
    /// The vault envelope of the secret fields (JSON inside).
    pub sealed: Vec<u8>,
    pub token_type: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub issued_at: Option<Timestamp>,
    /// The expiry is unknown (an import without one): refresh before first use.
    pub needs_refresh: bool,
    /// Bumped on every write; writers compare-and-swap on it.
    pub version: i64,
    pub updated: Timestamp,
}

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedCredentials")
            .field("connection_id", &self.connection_id)
            .field("auth_type", &self.auth_type)
            .field("key_id", &self.key_id)
            .field("sealed", &format_args!("<{} bytes>", self.sealed.len()))
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .finish()
    }
}

/// One line of the append-only audit log. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: uuid::Uuid,
    pub client_id: ClientId,
    /// Who: `apiKey:<id>` or `cli`.
    pub actor: String,
    /// What: `connection.migrate`, `connection.import`, `connection.validate`, ...
    pub action: String,
    pub company_id: Option<CompanyId>,
    pub connection_id: Option<ConnectionId>,
    /// `success` or `failure`.
    pub outcome: String,
    /// A short, secret-free description.
    pub detail: Option<String>,
    pub at: Timestamp,
}
