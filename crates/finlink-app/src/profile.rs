//! The client's profile: name, Link redirect, logo, allowed redirect targets.

use finlink_domain::ids::ClientId;
use finlink_domain::profile::Profile;
use finlink_domain::{Error, Result};

use crate::App;

/// Checks that `s` is an absolute http(s) URL once Link's placeholders are filled.
fn check_url(field: &str, s: &str) -> Result<()> {
    let filled = s
        .replace("{companyId}", "00000000-0000-0000-0000-000000000000")
        .replace("{connectionId}", "00000000-0000-0000-0000-000000000000")
        .replace("{countrySuffix}", "com");
    match url::Url::parse(&filled) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(Error::invalid(
            field,
            "Profile",
            format!(
                "{field} must be an absolute http or https URL (placeholders {{companyId}} and {{connectionId}} are allowed); got '{s}'."
            ),
        )),
    }
}

impl App {
    pub async fn get_profile(&self, client: ClientId) -> Result<Profile> {
        match self.store.get_profile(client).await? {
            Some(p) => Ok(p),
            None => Ok(Profile {
                name: self.get_client(client).await?.name,
                ..Profile::default()
            }),
        }
    }

    pub async fn put_profile(&self, client: ClientId, mut profile: Profile) -> Result<Profile> {
        profile.name = profile.name.trim().to_owned();
        if profile.name.is_empty() || profile.name.chars().count() > 200 {
            return Err(Error::invalid(
                "name",
                "Profile",
                "name is required (1 to 200 characters).",
            ));
        }
        profile.redirect_url = profile.redirect_url.trim().to_owned();
        if !profile.redirect_url.is_empty() {
            check_url("redirectUrl", &profile.redirect_url)?;
        }
        for (field, v) in [
            ("logoUrl", &profile.logo_url),
            ("iconUrl", &profile.icon_url),
        ] {
            if let Some(u) = v {
                check_url(field, u)?;
            }
        }
        profile.logo_url = profile.logo_url.filter(|u| !u.is_empty());
        profile.icon_url = profile.icon_url.filter(|u| !u.is_empty());
        if profile.white_list_urls.len() > 50 {
            return Err(Error::invalid(
                "whiteListUrls",
                "Profile",
                "whiteListUrls can hold at most 50 URLs.",
            ));
        }
        for u in &profile.white_list_urls {
            check_url("whiteListUrls", u)?;
        }
        if let Some(c) = &profile.primary_color
            && !finlink_domain::profile::is_hex_color(c)
        {
            {
                return Err(Error::invalid(
                    "primaryColor",
                    "Profile",
                    format!("primaryColor must be a #RRGGBB colour; got '{c}'."),
                ));
            }
        }
        if let Some(l) = &profile.default_language
            && !crate::link::LANGUAGES.contains(&l.as_str())
        {
            {
                return Err(Error::invalid(
                    "defaultLanguage",
                    "Profile",
                    format!(
                        "defaultLanguage must be one of {}; got '{l}'.",
                        crate::link::LANGUAGES.join(", ")
                    ),
                ));
            }
        }
        if let Some(e) = &profile.support_email {
            let ok = e.len() <= 254
                && e.split_once('@').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && b.contains('.')
                        && !e
                            .chars()
                            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == '"')
                });
            if !ok {
                return Err(Error::invalid(
                    "supportEmail",
                    "Profile",
                    format!("supportEmail must be an e-mail address; got '{e}'."),
                ));
            }
        }
        if let Some(u) = &profile.support_url {
            check_url("supportUrl", u)?;
        }
        self.store.put_profile(client, &profile).await?;
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("x", "https://bobs-burgers.{countrySuffix}/{companyId}").is_ok());
        assert!(check_url("x", "http://localhost:3000/done?c={companyId}").is_ok());
        assert!(check_url("x", "javascript:alert(1)").is_err());
        assert!(check_url("x", "/relative").is_err());
    }
}
