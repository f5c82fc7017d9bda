//! [`KeyId`] and [`Purpose`].

use std::fmt;

use crate::VaultError;

/// The name of a master key: 1 to 32 characters of `A-Z a-z 0-9 _ -`. Written in every envelope
/// header and bound into the key derivation, so a key keeps its id for life. Ids are not secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The longest id, in bytes (one byte of the envelope header holds the length).
    pub const MAX_LEN: usize = 32;

    /// Parses an id. The error never echoes the input (it may be a mistyped key).
    pub fn parse(s: &str) -> Result<KeyId, VaultError> {
        Self::from_bytes(s.as_bytes()).map_err(VaultError::InvalidKeyId)
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Result<KeyId, &'static str> {
        if b.is_empty() {
            return Err("empty");
        }
        if b.len() > Self::MAX_LEN {
            return Err("longer than 32 characters");
        }
        if !b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        {
            return Err("only A-Z, a-z, 0-9, '_' and '-' are allowed");
        }
        // Checked ASCII above, so this is always valid UTF-8.
        match std::str::from_utf8(b) {
            Ok(s) => Ok(KeyId(s.to_owned())),
            Err(_) => Err("not UTF-8"),
        }
    }

    /// The id of a fingerprint: its bytes in lowercase hex (always a valid id).
    pub(crate) fn from_fingerprint(fp: [u8; 4]) -> KeyId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(8);
        for b in fp {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        KeyId(s)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for KeyId {
    type Err = VaultError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyId::parse(s)
    }
}

/// What a secret is for. Each purpose seals under its own subkey (a distinct HKDF info string), so
/// a ciphertext of one purpose never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// A connection's provider credentials (access/refresh tokens).
    Credentials,
    /// An integration's OAuth client secret.
    ClientSecret,
    /// A webhook consumer's signing secret.
    WebhookSecret,
    /// Link-flow session state (PKCE verifiers, OAuth state).
    LinkSession,
}

impl Purpose {
    /// Every purpose, in subkey-table order.
    pub const ALL: [Purpose; 4] = [
        Purpose::Credentials,
        Purpose::ClientSecret,
        Purpose::WebhookSecret,
        Purpose::LinkSession,
    ];

    /// The HKDF info prefix of this purpose's subkey (the key id follows it). Part of the format:
    /// never change one.
    pub const fn info(self) -> &'static str {
        match self {
            Purpose::Credentials => "finlink v1 credentials",
            Purpose::ClientSecret => "finlink v1 client secret",
            Purpose::WebhookSecret => "finlink v1 webhook secret",
            Purpose::LinkSession => "finlink v1 link session",
        }
    }

    /// A short name for logs and status output.
    pub const fn as_str(self) -> &'static str {
        match self {
            Purpose::Credentials => "credentials",
            Purpose::ClientSecret => "clientSecret",
            Purpose::WebhookSecret => "webhookSecret",
            Purpose::LinkSession => "linkSession",
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Purpose::Credentials => 0,
            Purpose::ClientSecret => 1,
            Purpose::WebhookSecret => 2,
            Purpose::LinkSession => 3,
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_rules() {
        assert_eq!(KeyId::parse("key-2024_a").unwrap().as_str(), "key-2024_a");
        assert_eq!(
            KeyId::parse(&"a".repeat(32)).unwrap().to_string(),
            "a".repeat(32)
        );
        for bad in ["", "has space", "a:b", "é", "a/b", &"a".repeat(33)] {
            assert!(
                matches!(KeyId::parse(bad), Err(VaultError::InvalidKeyId(_))),
                "{bad:?}"
            );
        }
        let err = KeyId::parse("secret!stuff").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn purposes_are_distinct() {
        let mut infos: Vec<_> = Purpose::ALL.iter().map(|p| p.info()).collect();
        infos.sort_unstable();
        infos.dedup();
        assert_eq!(infos.len(), 4);
        for (i, p) in Purpose::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
        }
    }
}
