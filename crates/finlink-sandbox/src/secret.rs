//! Random tokens and API keys, their SHA-256 digests (the only form the database ever sees), PKCE S256 and
//! constant-time comparison.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefixes make a leaked sandbox value recognisable at a glance (and by secret scanners).
pub(crate) const ACCESS_TOKEN_PREFIX: &str = "sbx_at_";
pub(crate) const REFRESH_TOKEN_PREFIX: &str = "sbx_rt_";
pub(crate) const CODE_PREFIX: &str = "sbx_code_";
pub(crate) const REQUEST_PREFIX: &str = "sbx_req_";
/// Commerce Sandbox store API keys: `sk_sandbox_` and [`API_KEY_RANDOM_CHARS`] base62 characters.
pub(crate) const COMMERCE_API_KEY_PREFIX: &str = "sk_sandbox_";
/// 32 base62 characters: about 190 bits from the OS.
pub(crate) const API_KEY_RANDOM_CHARS: usize = 32;

/// A new random value: the prefix and 256 bits from the OS, base64url without padding.
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new random API key: the prefix and [`API_KEY_RANDOM_CHARS`] base62 characters (`[A-Za-z0-9]`)
/// from the OS.
pub(crate) fn random_api_key(prefix: &str) -> String {
    let random: String = OsRng
        .sample_iter(&Alphanumeric)
        .take(API_KEY_RANDOM_CHARS)
        .map(char::from)
        .collect();
    format!("{prefix}{random}")
}

/// The SHA-256 digest under which a token, code or request id is stored. Tokens carry 256 bits
/// of entropy, so a plain hash is enough: nothing can be guessed back from it.
pub(crate) fn digest(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// RFC 7636 4.2: `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub(crate) fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether a string is a well-formed PKCE code verifier (RFC 7636 4.1): 43 to 128 characters
/// from `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
pub(crate) fn is_code_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether a string is a well-formed S256 code challenge: the 43-character base64url
/// encoding of a SHA-256 digest.
pub(crate) fn is_s256_challenge(s: &str) -> bool {
    s.len() == 43
        && URL_SAFE_NO_PAD
            .decode(s)
            .map(|b| b.len() == 32)
            .unwrap_or(false)
}

/// Compares two secrets in constant time (over their digests, so lengths do not leak either).
pub(crate) fn secrets_equal(a: &str, b: &str) -> bool {
    let a = Sha256::digest(a.as_bytes());
    let b = Sha256::digest(b.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_code_verifier(verifier));
        let challenge = s256_challenge(verifier);
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(is_s256_challenge(&challenge));
    }

    #[test]
    fn verifier_and_challenge_shapes() {
        assert!(!is_code_verifier("short"));
        assert!(!is_code_verifier(&"a".repeat(129)));
        assert!(!is_code_verifier(&format!("{}!", "a".repeat(50))));
        assert!(!is_s256_challenge("plain-challenge"));
        assert!(!is_s256_challenge(&"*".repeat(43)));
    }

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = random_token(ACCESS_TOKEN_PREFIX);
        let b = random_token(ACCESS_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("sbx_at_"));
        assert_eq!(a.len(), "sbx_at_".len() + 43);
        assert_eq!(digest(&a).len(), 32);
    }

    #[test]
    fn api_keys_are_random_prefixed_base62() {
        let a = random_api_key(COMMERCE_API_KEY_PREFIX);
        let b = random_api_key(COMMERCE_API_KEY_PREFIX);
        assert_ne!(a, b);
        let random = a.strip_prefix("sk_sandbox_").unwrap();
        assert_eq!(random.len(), 32);
        assert!(random.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn constant_time_equality() {
        assert!(secrets_equal("sandbox-secret", "sandbox-secret"));
        assert!(!secrets_equal("sandbox-secret", "sandbox-secreT"));
        assert!(!secrets_equal("", "x"));
    }
}
