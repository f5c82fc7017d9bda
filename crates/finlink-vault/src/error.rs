//! The vault's one error type.

use crate::KeyId;

/// Everything that can go wrong in the vault.
///
/// No variant ever carries key material or plaintext: key-spec errors name the entry by its
/// position, never by its text, and decryption failures are one opaque [`VaultError::Decrypt`].
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The master-key spec (config value or key file) could not be parsed.
    #[error("malformed encryption key spec: {0}")]
    MalformedKeySpec(String),
    /// A key id is not 1 to 32 characters of `A-Z a-z 0-9 _ -`.
    #[error("invalid key id: {0}")]
    InvalidKeyId(&'static str),
    /// The bytes are not an envelope (empty, truncated, bad header).
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The envelope's format version is not one this build can read.
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    /// The envelope names a key that is not in the keyring.
    #[error("envelope is sealed under key {0}, which is not configured")]
    UnknownKey(KeyId),
    /// Authentication failed: wrong key, wrong purpose, wrong associated data or tampering.
    #[error(
        "decryption failed (wrong key, purpose or associated data, or the envelope was altered)"
    )]
    Decrypt,
    /// Sealing failed (the plaintext is beyond the cipher's limits).
    #[error("encryption failed")]
    Encrypt,
    /// The opened plaintext is not UTF-8 (`open_string`).
    #[error("decrypted secret is not valid UTF-8")]
    NotUtf8,
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// Reading or writing a key file failed.
    #[error("key file: {0}")]
    Io(String),
}
