//! [`Secret`]: a value that never prints and is wiped when dropped.

use std::fmt;

use zeroize::Zeroize;

/// A secret value: `Debug` and `Display` print `<redacted>`, the memory is zeroized on drop, and it
/// deliberately implements no `Serialize`, so a secret cannot end up in a response or a log by
/// accident. Read it with [`Secret::expose`], at the last moment.
///
/// Zeroizing covers the value's current buffer only: copies the caller made (or a `String` that
/// reallocated while it grew before being wrapped) are outside its reach.
pub struct Secret<T: Zeroize>(T);

/// A secret text (a token, a client secret).
pub type SecretString = Secret<String>;
/// Secret bytes (an opened envelope).
pub type SecretBytes = Secret<Vec<u8>>;

impl<T: Zeroize> Secret<T> {
    /// Wraps `v`.
    pub fn new(v: T) -> Self {
        Secret(v)
    }

    /// The secret value. Keep the borrow short; never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize + Default> Secret<T> {
    /// Moves the value out without a copy, leaving an empty value (zeroized on drop) behind.
    pub(crate) fn take(mut self) -> T {
        std::mem::take(&mut self.0)
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for SecretString {
    fn from(v: String) -> Self {
        Secret(v)
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        Secret(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = SecretString::from("hunter2-very-secret".to_owned());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose(), "hunter2-very-secret");
        let b = SecretBytes::new(b"raw-bytes".to_vec());
        assert!(!format!("{b:?}").contains("raw"));
        assert_eq!(b.clone().expose(), b"raw-bytes");
    }

    #[test]
    fn take_moves_the_value_out() {
        let b = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(b.take(), vec![1, 2, 3]);
    }
}
