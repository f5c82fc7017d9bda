//! [`Keyring`]: master keys, subkeys, seal and open.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{DecodeSliceError, alphabet};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::envelope::{Envelope, NONCE_LEN, TAG_LEN, VERSION};
use crate::{Aad, KeyId, Purpose, SecretBytes, SecretString, VaultError};

/// Master key length in bytes.
pub const KEY_LEN: usize = 32;

const ANY_PADDING: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, ANY_PADDING);
const URL_SAFE_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, ANY_PADDING);

/// One master key, kept only as its per-purpose ciphers (the master key itself is dropped, zeroized,
/// once they are derived; the ciphers zeroize their keys on drop).
#[derive(Clone)]
struct KeyEntry {
    id: KeyId,
    ciphers: [XChaCha20Poly1305; 4],
}

impl KeyEntry {
    fn derive(id: KeyId, master: &[u8; KEY_LEN]) -> KeyEntry {
        let hk = Hkdf::<Sha256>::new(None, master);
        let ciphers = Purpose::ALL.map(|purpose| {
            let mut okm = Zeroizing::new([0u8; KEY_LEN]);
            // HKDF-SHA256 can expand up to 8160 bytes; 32 never fails.
            let _ = hk.expand_multi_info(
                &[purpose.info().as_bytes(), b"\0", id.as_str().as_bytes()],
                &mut okm[..],
            );
            XChaCha20Poly1305::new(Key::from_slice(&okm[..]))
        });
        KeyEntry { id, ciphers }
    }

    fn cipher(&self, purpose: Purpose) -> &XChaCha20Poly1305 {
        // `index` is 0..4 for the 4 purposes, the array's length.
        &self.ciphers[purpose.index()]
    }
}

/// The configured master keys, in order: the first is active (new envelopes are sealed under it),
/// the others only open older envelopes until they are re-sealed.
///
/// Each key's four purpose subkeys are derived once, when the keyring is built, so sealing costs
/// the same as a bare XChaCha20-Poly1305 call. `Debug` shows key ids only. Cheap to share behind an
/// `Arc`; `Clone` copies the subkeys.
#[derive(Clone)]
pub struct Keyring {
    active: KeyEntry,
    older: Vec<KeyEntry>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active.id.as_str())
            .field(
                "older",
                &self.older.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The id of a key given without one: 8 hex characters, the first 4 bytes of
/// HKDF-SHA256(ikm = key, no salt, info = "finlink key id"). A one-way function of the key (and
/// domain-separated from the subkeys), so it reveals nothing usable about it.
fn fingerprint(key: &[u8; KEY_LEN]) -> KeyId {
    let mut fp = [0u8; 4];
    // Expanding 4 bytes never fails (the limit is 8160).
    let _ = Hkdf::<Sha256>::new(None, key).expand(b"finlink key id", &mut fp);
    KeyId::from_fingerprint(fp)
}

/// Decodes a 32-byte key from standard or URL-safe base64, padded or not. Errors never include
/// the input.
fn decode_key(b64: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, String> {
    let mut buf = Zeroizing::new([0u8; 2 * KEY_LEN]);
    for engine in [&STANDARD_ANY, &URL_SAFE_ANY] {
        match engine.decode_slice(b64.as_bytes(), &mut buf[..]) {
            Ok(KEY_LEN) => {
                let mut key = Zeroizing::new([0u8; KEY_LEN]);
                key.copy_from_slice(&buf[..KEY_LEN]);
                if key.iter().all(|b| *b == 0) {
                    return Err("the key is all zeros".into());
                }
                return Ok(key);
            }
            Ok(n) => {
                buf.zeroize();
                return Err(format!(
                    "the key decodes to {n} bytes; keys are {KEY_LEN} bytes of base64 \
                     (generate one with `openssl rand -base64 32`)"
                ));
            }
            Err(DecodeSliceError::OutputSliceTooSmall) => {
                return Err(format!("the key is longer than {KEY_LEN} bytes"));
            }
            Err(DecodeSliceError::DecodeError(_)) => buf.zeroize(),
        }
    }
    Err("the key is not valid base64 (standard or URL-safe)".into())
}

impl Keyring {
    /// Parses `"ID:BASE64,ID2:BASE64"` or bare `"BASE64"` entries (comma-separated, whitespace
    /// around entries, ids and keys trimmed); the first entry is the active key. Keys are 32 bytes
    /// in standard or URL-safe base64, padded or not. A bare key's id is its fingerprint: 8 hex
    /// characters, the first 4 bytes of HKDF-SHA256(key, info = "finlink key id"), so `BASE64` and
    /// `FP:BASE64` name the same key. Duplicate ids and empty entries are errors. Error messages name entries by
    /// position and never contain key material.
    pub fn parse(spec: &str) -> Result<Keyring, VaultError> {
        if spec.trim().is_empty() {
            return Err(VaultError::MalformedKeySpec("no keys given".into()));
        }
        let mut entries: Vec<KeyEntry> = Vec::new();
        for (i, raw) in spec.split(',').enumerate() {
            let n = i + 1;
            let entry = raw.trim();
            if entry.is_empty() {
                return Err(VaultError::MalformedKeySpec(format!("entry {n} is empty")));
            }
            let (id, b64) = match entry.split_once(':') {
                Some((id, key)) => (Some(id.trim()), key.trim()),
                None => (None, entry),
            };
            let key = decode_key(b64)
                .map_err(|why| VaultError::MalformedKeySpec(format!("entry {n}: {why}")))?;
            let id = match id {
                Some(id) => KeyId::from_bytes(id.as_bytes()).map_err(|why| {
                    VaultError::MalformedKeySpec(format!(
                        "entry {n}: the key id is invalid ({why})"
                    ))
                })?,
                None => fingerprint(&key),
            };
            if let Some(j) = entries.iter().position(|e| e.id == id) {
                return Err(VaultError::MalformedKeySpec(format!(
                    "entry {n}: duplicate key id {id} (also entry {})",
                    j + 1
                )));
            }
            entries.push(KeyEntry::derive(id, &key));
        }
        let mut entries = entries.into_iter();
        match entries.next() {
            Some(active) => Ok(Keyring {
                active,
                older: entries.collect(),
            }),
            None => Err(VaultError::MalformedKeySpec("no keys given".into())),
        }
    }

    /// A new random key (from the operating system), as a one-key keyring and the spec to save
    /// (`"ID:BASE64"`, the id being the key's fingerprint).
    pub fn generate() -> (Keyring, SecretString) {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(&mut key[..]);
        let id = fingerprint(&key);
        let mut spec = String::with_capacity(id.as_str().len() + 1 + 4 * KEY_LEN.div_ceil(3));
        spec.push_str(id.as_str());
        spec.push(':');
        base64::engine::general_purpose::STANDARD.encode_string(&key[..], &mut spec);
        (
            Keyring {
                active: KeyEntry::derive(id, &key),
                older: Vec::new(),
            },
            SecretString::from(spec),
        )
    }

    /// The id of the key new envelopes are sealed under.
    pub fn active_id(&self) -> &KeyId {
        &self.active.id
    }

    /// Every configured key id, the active one first.
    pub fn ids(&self) -> Vec<KeyId> {
        self.entries().map(|e| e.id.clone()).collect()
    }

    /// Whether `id` is configured.
    pub fn contains(&self, id: &KeyId) -> bool {
        self.entries().any(|e| e.id == *id)
    }

    fn entries(&self) -> impl Iterator<Item = &KeyEntry> {
        std::iter::once(&self.active).chain(self.older.iter())
    }

    fn find(&self, id: &[u8]) -> Option<&KeyEntry> {
        self.entries().find(|e| e.id.as_str().as_bytes() == id)
    }

    /// Seals `plaintext` under the active key's subkey for `purpose`, with a random 24-byte nonce,
    /// XChaCha20-Poly1305 and `aad`. Returns the envelope (see the crate docs).
    pub fn seal(
        &self,
        purpose: Purpose,
        aad: &Aad,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        let id = self.active.id.as_str().as_bytes();
        let id_len = u8::try_from(id.len()).map_err(|_| VaultError::Encrypt)?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| VaultError::Random(e.to_string()))?;
        let header = 2 + id.len() + NONCE_LEN;
        let mut out = Vec::with_capacity(header + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.push(id_len);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let sealed = match out.get_mut(header..) {
            Some(body) => self.active.cipher(purpose).encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                aad.as_bytes(),
                body,
            ),
            None => Err(chacha20poly1305::aead::Error),
        };
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(out)
            }
            Err(_) => {
                out.zeroize();
                Err(VaultError::Encrypt)
            }
        }
    }

    /// [`Keyring::seal`] for text.
    pub fn seal_str(
        &self,
        purpose: Purpose,
        aad: &Aad,
        plaintext: &str,
    ) -> Result<Vec<u8>, VaultError> {
        self.seal(purpose, aad, plaintext.as_bytes())
    }

    /// Opens an envelope with whichever configured key it names. Wrong associated data, wrong
    /// purpose, tampering, an unknown key id, truncated or malformed envelopes all fail with a
    /// typed error, never a panic.
    pub fn open(
        &self,
        purpose: Purpose,
        aad: &Aad,
        envelope: &[u8],
    ) -> Result<SecretBytes, VaultError> {
        let env = Envelope::parse(envelope)?;
        let entry = self.find(env.key_id).ok_or_else(|| unknown(env.key_id))?;
        let mut buf = env.ciphertext.to_vec();
        // The tag is checked before anything is decrypted: on failure `buf` holds only ciphertext.
        entry
            .cipher(purpose)
            .decrypt_in_place_detached(
                XNonce::from_slice(env.nonce),
                aad.as_bytes(),
                &mut buf,
                Tag::from_slice(env.tag),
            )
            .map_err(|_| VaultError::Decrypt)?;
        Ok(SecretBytes::new(buf))
    }

    /// [`Keyring::open`] for text sealed with [`Keyring::seal_str`].
    pub fn open_string(
        &self,
        purpose: Purpose,
        aad: &Aad,
        envelope: &[u8],
    ) -> Result<SecretString, VaultError> {
        let bytes = self.open(purpose, aad, envelope)?.take();
        match String::from_utf8(bytes) {
            Ok(s) => Ok(SecretString::from(s)),
            Err(e) => {
                let mut bytes = e.into_bytes();
                bytes.zeroize();
                Err(VaultError::NotUtf8)
            }
        }
    }

    /// True when the envelope is sealed under a key other than the active one (it needs
    /// re-sealing after a rotation). An envelope under a key that is not configured at all is
    /// [`VaultError::UnknownKey`]: it cannot be re-sealed here.
    pub fn needs_reseal(&self, envelope: &[u8]) -> Result<bool, VaultError> {
        let env = Envelope::parse(envelope)?;
        if self.find(env.key_id).is_none() {
            return Err(unknown(env.key_id));
        }
        Ok(env.key_id != self.active.id.as_str().as_bytes())
    }

    /// Opens the envelope and seals it again under the active key (with a fresh nonce), same
    /// purpose and associated data.
    pub fn reseal(
        &self,
        purpose: Purpose,
        aad: &Aad,
        envelope: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        let plain = self.open(purpose, aad, envelope)?;
        self.seal(purpose, aad, plain.expose())
    }
}

fn unknown(id: &[u8]) -> VaultError {
    match KeyId::from_bytes(id) {
        Ok(id) => VaultError::UnknownKey(id),
        Err(_) => VaultError::Malformed("bad key id"),
    }
}
