//! finlink's token vault: envelope encryption for every secret finlink stores (provider tokens,
//! OAuth client secrets, webhook signing secrets, link-session state).
//!
//! # Keys
//!
//! A [`Keyring`] holds one or more 32-byte master keys, each with a [`KeyId`]; the first is
//! active. From each master key and each [`Purpose`] a subkey is derived once, when the keyring is
//! built:
//!
//! ```text
//! subkey = HKDF-SHA256(ikm = master key, salt = none, info = purpose.info() || 0x00 || key id)
//! ```
//!
//! with `purpose.info()` one of `"finlink v1 credentials"`, `"finlink v1 client secret"`,
//! `"finlink v1 webhook secret"`, `"finlink v1 link session"`. The key id and the format version
//! are thus bound into the key: an envelope whose header is altered names a different (or no)
//! key and fails to open. A key keeps its id for life: renaming it makes its envelopes unreadable.
//!
//! Rotation: put a new key first (`"new:BASE64,old:BASE64"`), let a background job
//! [`Keyring::reseal`] every envelope for which [`Keyring::needs_reseal`] is true, then drop the
//! old key once nothing is sealed under it ([`envelope_key_id`] reads a header without a key).
//!
//! # Envelope format, version 1
//!
//! ```text
//! offset  length  field
//! 0       1       version, 0x01
//! 1       1       key id length n, 1..=32
//! 2       n       key id, ASCII [A-Za-z0-9_-]
//! 2+n     24      XChaCha20 nonce, random per envelope
//! 26+n    m       ciphertext (m = plaintext length)
//! 26+n+m  16      Poly1305 tag
//! ```
//!
//! The cipher is XChaCha20-Poly1305 under the purpose subkey of the named key; its associated
//! data is the caller's [`Aad`] (length-prefixed parts naming the row and field), so a ciphertext
//! moved to another row does not open. The first byte is a version so that a later format can be
//! read beside this one; an unknown version is [`VaultError::UnsupportedVersion`].
//!
//! # Secrets in memory
//!
//! Opened values come back as [`Secret`]s: redacted in `Debug`/`Display`, no `Serialize`,
//! zeroized on drop. Master keys are kept only as derived cipher keys, which zeroize on drop too.

mod aad;
mod envelope;
mod error;
mod key_id;
mod keyfile;
mod keyring;
mod secret;

pub use aad::Aad;
pub use envelope::envelope_key_id;
pub use error::VaultError;
pub use key_id::{KeyId, Purpose};
pub use keyfile::load_or_create_key_file;
pub use keyring::{KEY_LEN, Keyring};
pub use secret::{Secret, SecretBytes, SecretString};
