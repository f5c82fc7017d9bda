//! A client's profile: branding and the Link redirect.

/// Codat's profile fields, plus finlink's Link branding (`primary_color`, `default_language`,
/// `support_email`, `support_url`), which a Codat `PUT /profile` that leaves them out keeps.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Profile {
    pub name: String,
    pub redirect_url: String,
    pub logo_url: Option<String>,
    pub icon_url: Option<String>,
    pub white_list_urls: Vec<String>,
    pub confirm_company_name: bool,
    /// `#RRGGBB`: buttons and accents on the Link pages.
    pub primary_color: Option<String>,
    /// The Link pages' language when neither `?lang=` nor `Accept-Language` picks one (`en`, `fr`).
    pub default_language: Option<String>,
    /// Shown on the Link pages as the client's support contact.
    pub support_email: Option<String>,
    pub support_url: Option<String>,
}

/// Whether `s` is a `#RRGGBB` colour.
pub fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert!(is_hex_color("#4F46e5"));
        assert!(!is_hex_color("#4F46e"));
        assert!(!is_hex_color("red"));
        assert!(!is_hex_color("#4F46e5;"));
    }
}
