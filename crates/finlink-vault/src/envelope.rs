//! The envelope format (see the crate docs) and reading its header.

use crate::{KeyId, VaultError};

/// The one format version this build writes and reads.
pub(crate) const VERSION: u8 = 0x01;
/// XChaCha20 nonce length.
pub(crate) const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub(crate) const TAG_LEN: usize = 16;

/// A parsed envelope, borrowing from its bytes.
pub(crate) struct Envelope<'a> {
    pub key_id: &'a [u8],
    pub nonce: &'a [u8],
    pub ciphertext: &'a [u8],
    pub tag: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Splits `b` into its parts, checking every length. Never panics.
    pub(crate) fn parse(b: &'a [u8]) -> Result<Envelope<'a>, VaultError> {
        let (&version, rest) = b.split_first().ok_or(VaultError::Malformed("empty"))?;
        if version != VERSION {
            return Err(VaultError::UnsupportedVersion(version));
        }
        let (&id_len, rest) = rest
            .split_first()
            .ok_or(VaultError::Malformed("truncated header"))?;
        let id_len = usize::from(id_len);
        if id_len == 0 || id_len > KeyId::MAX_LEN {
            return Err(VaultError::Malformed("bad key id length"));
        }
        if rest.len() < id_len + NONCE_LEN + TAG_LEN {
            return Err(VaultError::Malformed("truncated"));
        }
        let (key_id, rest) = rest.split_at(id_len);
        KeyId::from_bytes(key_id).map_err(|_| VaultError::Malformed("bad key id"))?;
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        Ok(Envelope {
            key_id,
            nonce,
            ciphertext,
            tag,
        })
    }
}

/// Reads just the key id from an envelope header (for `finlink encryption status` and start-up
/// checks). Checks the whole envelope's shape, not its authenticity.
pub fn envelope_key_id(envelope: &[u8]) -> Result<KeyId, VaultError> {
    let e = Envelope::parse(envelope)?;
    KeyId::from_bytes(e.key_id).map_err(|_| VaultError::Malformed("bad key id"))
}
