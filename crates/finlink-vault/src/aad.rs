//! [`Aad`]: the associated data that binds a ciphertext to its row.

/// Associated data binding a ciphertext to where it is stored (client, connection, field...).
///
/// Canonical and unambiguous: each part is written as its length (8 bytes, big-endian) followed by
/// its bytes, so `["ab", "c"]` and `["a", "bc"]` differ. A ciphertext copied to another row (or
/// field) does not open there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Aad(Vec<u8>);

impl Aad {
    /// Encodes `parts`, e.g. `Aad::new(&[client_id, connection_id, "accessToken"])`.
    pub fn new(parts: &[&str]) -> Self {
        let len = parts.iter().map(|p| 8 + p.len()).sum();
        let mut out = Vec::with_capacity(len);
        for p in parts {
            out.extend_from_slice(&(p.len() as u64).to_be_bytes());
            out.extend_from_slice(p.as_bytes());
        }
        Aad(out)
    }

    /// The encoded bytes, as given to the AEAD.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unambiguous() {
        assert_ne!(Aad::new(&["ab", "c"]), Aad::new(&["a", "bc"]));
        assert_ne!(Aad::new(&["abc"]), Aad::new(&["abc", ""]));
        assert_ne!(Aad::new(&[]), Aad::new(&[""]));
        assert_eq!(Aad::new(&["x"]).as_bytes(), &[0, 0, 0, 0, 0, 0, 0, 1, b'x']);
    }
}
