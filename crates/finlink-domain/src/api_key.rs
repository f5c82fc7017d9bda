//! API keys: random, high-entropy, stored only as a hash.
//!
//! A key is 48 base62 characters: the first 12 are its public lookup prefix (stored
//! in clear so the row is found by index), the whole key is hashed with SHA-256 and
//! the hash compared in constant time. SHA-256 (not a slow password hash) is right
//! here because the key has about 285 bits of entropy: nothing to brute-force.

use crate::Timestamp;
use crate::ids::{ApiKeyId, ClientId};

pub const KEY_LEN: usize = 48;
pub const LOOKUP_LEN: usize = 12;
pub const MAX_KEYS_PER_CLIENT: u32 = 10;
pub const MAX_NAME_CHARS: usize = 100;

/// Permissions an API key can be granted beyond the default.
pub const PERMISSION_CREDENTIALS_READ: &str = "credentials:read";
pub const KNOWN_PERMISSIONS: [&str; 1] = [PERMISSION_CREDENTIALS_READ];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub client_id: ClientId,
    pub name: Option<String>,
    /// The first characters of the key, enough to recognise it; not a secret.
    pub lookup: String,
    /// SHA-256 of the whole key.
    pub hash: [u8; 32],
    pub permissions: Vec<String>,
    pub created: Timestamp,
}

impl ApiKey {
    pub fn has_permission(&self, p: &str) -> bool {
        self.permissions.iter().any(|x| x == p)
    }
}

/// Whether a presented string has the shape of a finlink API key (checked before
/// touching the database).
pub fn looks_like_key(s: &str) -> bool {
    s.len() == KEY_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}
