//! The Link pages as askama templates, the chrome every page shares (client branding,
//! languages, support details), and the response headers: a strict Content-Security-Policy
//! (no script at all, styles and images from finlink itself), no caching, no framing.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use finlink_domain::profile::Profile;

use super::i18n::Tr;

/// One entry of the language switcher.
pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

/// What every page shows around its content.
pub struct Chrome {
    pub t: Tr,
    pub client_name: String,
    pub logo_url: Option<String>,
    pub theme_href: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub languages: Vec<LangLink>,
}

const LANGUAGE_NAMES: [(&str, &str); 2] = [("en", "English"), ("fr", "Français")];

impl Chrome {
    /// `path` is the page's own path (the language links point back to it).
    pub fn new(lang: &'static str, profile: &Profile, path: &str) -> Self {
        let languages = LANGUAGE_NAMES
            .iter()
            .map(|(code, name)| LangLink {
                code,
                name,
                href: format!("{path}?lang={code}"),
                current: *code == lang,
            })
            .collect();
        let theme_href = profile
            .primary_color
            .as_deref()
            .filter(|c| finlink_domain::profile::is_hex_color(c))
            .map(|c| {
                format!(
                    "/link/assets/theme/{}.css",
                    c.trim_start_matches('#').to_ascii_lowercase()
                )
            });
        Self {
            t: Tr::new(lang),
            client_name: profile.name.clone(),
            logo_url: profile
                .logo_url
                .clone()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            theme_href,
            support_email: profile.support_email.clone(),
            support_url: profile.support_url.clone(),
            languages,
        }
    }

    /// The origin the client's logo is loaded from, for the CSP's `img-src`.
    pub fn logo_origin(&self) -> Option<String> {
        let url = url::Url::parse(self.logo_url.as_deref()?).ok()?;
        Some(url.origin().ascii_serialization())
    }
}

pub struct PlatformButton {
    pub key: String,
    pub name: String,
    pub label: String,
    pub logo: String,
    pub beta: bool,
}

pub struct Group {
    pub source: String,
    pub title: String,
    pub count_label: String,
    pub why: String,
    pub platforms: Vec<PlatformButton>,
}

pub struct ConnectionLine {
    pub platform: String,
    pub logo: String,
    pub status: String,
    pub status_label: String,
    pub since: String,
    pub action_href: Option<String>,
    pub action_label: String,
}

#[derive(Template)]
#[template(path = "link/company.html")]
pub struct CompanyPage {
    pub c: Chrome,
    pub title: String,
    pub company_name: String,
    pub self_path: String,
    pub connect_path: String,
    pub csrf: String,
    pub query: String,
    pub groups: Vec<Group>,
    pub connections: Vec<ConnectionLine>,
    pub accounting_linked: bool,
}

#[derive(Template)]
#[template(path = "link/shop.html")]
pub struct ShopPage {
    pub c: Chrome,
    pub title: String,
    pub platform: String,
    pub logo: String,
    pub action: String,
    pub csrf: String,
    pub value: String,
    pub invalid: bool,
    pub back: String,
}

pub struct FormField {
    pub name: String,
    pub label: String,
    pub help: Option<String>,
    pub secret: bool,
    pub required: bool,
    /// Re-filled after an error, never for secret fields.
    pub value: String,
}

#[derive(Template)]
#[template(path = "link/form.html")]
pub struct FormPage {
    pub c: Chrome,
    pub title: String,
    pub platform: String,
    pub logo: String,
    pub action: String,
    pub csrf: String,
    pub fields: Vec<FormField>,
    pub error: Option<String>,
    pub back: String,
}

#[derive(Template)]
#[template(path = "link/onpremise.html")]
pub struct OnPremisePage {
    pub c: Chrome,
    pub title: String,
    pub platform: String,
    pub logo: String,
    pub licence_key: String,
    pub back: String,
}

pub struct OrganisationChoice {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "link/organisation.html")]
pub struct OrganisationPage {
    pub c: Chrome,
    pub title: String,
    pub platform: String,
    pub company_name: String,
    pub action: String,
    pub csrf: String,
    /// The last answer was not one of the organisations.
    pub invalid: bool,
    pub organisations: Vec<OrganisationChoice>,
}

#[derive(Template)]
#[template(path = "link/confirm.html")]
pub struct ConfirmPage {
    pub c: Chrome,
    pub title: String,
    pub platform: String,
    pub found_name: String,
    pub action: String,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "link/end.html")]
pub struct EndPage {
    pub c: Chrome,
    pub title: String,
    pub platform: String,
    pub success: bool,
    pub denied: bool,
    pub detail: Option<String>,
    pub retry: String,
    pub back: String,
}

/// The hand-over to the application's redirect URL. A page (meta refresh plus a link) rather
/// than a 303: after a platform's consent form, a redirect chain to a third origin can be
/// blocked by the platform's own CSP `form-action`; a new navigation is not.
#[derive(Template)]
#[template(path = "link/return.html")]
pub struct ReturnPage {
    pub c: Chrome,
    pub title: String,
    pub target: String,
}

#[derive(Template)]
#[template(path = "link/message.html")]
pub struct MessagePage {
    pub c: Chrome,
    pub title: String,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub action_href: Option<String>,
    pub action_label: String,
}

/// Where a page's forms may lead (CSP `form-action`): finlink itself and any origin a form's
/// answer redirects to (a platform's authorization page, the application's redirect URL).
#[derive(Default)]
pub struct Policy {
    pub img_origins: Vec<String>,
    pub form_origins: Vec<String>,
}

/// An HTML page with Link's security headers.
pub fn html(
    status: StatusCode,
    rendered: Result<String, askama::Error>,
    policy: &Policy,
) -> Response {
    let body = match rendered {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "link: cannot render a page");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response();
        }
    };
    let mut img = String::from("'self'");
    for o in &policy.img_origins {
        img.push(' ');
        img.push_str(o);
    }
    let mut form = String::from("'self'");
    for o in &policy.form_origins {
        if !form.split(' ').any(|x| x == o) {
            form.push(' ');
            form.push_str(o);
        }
    }
    let csp = format!(
        "default-src 'none'; script-src 'none'; style-src 'self'; img-src {img}; form-action {form}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// `#RRGGBB` → `--primary` and a text colour on it with the better contrast (WCAG luminance).
pub fn theme_css(hex: &str) -> Option<String> {
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| -> f64 {
        let v = f64::from(u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0))
            / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let lum = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    let on_white = 1.05 / (lum + 0.05);
    let on_black = (lum + 0.05) / 0.05;
    let on = if on_white >= on_black {
        "#ffffff"
    } else {
        "#111111"
    };
    Some(format!(":root{{--primary:#{hex};--on-primary:{on}}}\n"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn theme_picks_readable_text() {
        assert!(
            theme_css("ffff00")
                .unwrap()
                .contains("--on-primary:#111111")
        );
        assert!(
            theme_css("3730a3")
                .unwrap()
                .contains("--on-primary:#ffffff")
        );
        assert_eq!(theme_css("zzzzzz"), None);
        assert_eq!(theme_css("fff"), None);
    }
}
