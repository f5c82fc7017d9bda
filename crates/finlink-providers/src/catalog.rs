use std::collections::BTreeMap;

use finlink_domain::integration::{AuthType, Integration};
use include_dir::{Dir, include_dir};

static BUILT_IN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/catalog/integrations");
static LOGOS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/catalog/logos");

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog file {file}: {message}")]
    Invalid { file: String, message: String },
    #[error("integration key '{0}' is defined twice")]
    DuplicateKey(String),
    #[error("integration slug '{0}' is defined twice")]
    DuplicateSlug(String),
}

/// All integrations finlink knows, by key, in a stable order (source type, then name).
#[derive(Debug, Clone)]
pub struct Catalog {
    integrations: Vec<Integration>,
    by_key: BTreeMap<String, usize>,
    by_slug: BTreeMap<String, usize>,
    logos: BTreeMap<String, String>,
}

fn check(file: &str, i: &Integration) -> Result<(), CatalogError> {
    let bad = |message: String| CatalogError::Invalid {
        file: file.to_owned(),
        message,
    };
    if i.key.len() != 4 || !i.key.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(bad(format!(
            "key '{}' must be four lower-case letters",
            i.key
        )));
    }
    if i.slug.is_empty()
        || !i
            .slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(bad(format!(
            "slug '{}' must be lower-case letters, digits and -",
            i.slug
        )));
    }
    if let Some(o) = &i.oauth
        && o.per_shop_urls
        && !o
            .shop_pattern
            .as_deref()
            .is_some_and(|p| p == "*" || p.starts_with("*."))
    {
        return Err(bad(String::from(
            "per_shop_urls needs shop_pattern (\"*.domain\" or \"*\")",
        )));
    }
    if i.auth_type == AuthType::Oauth2 && i.oauth.is_none() {
        return Err(bad(String::from(
            "an oauth2 integration needs an [oauth] table",
        )));
    }
    Ok(())
}

impl Catalog {
    /// The built-in catalog.
    pub fn built_in() -> Result<Self, CatalogError> {
        let mut list = Vec::new();
        for file in BUILT_IN.files() {
            let name = file.path().display().to_string();
            if !name.ends_with(".toml") {
                continue;
            }
            let text = file.contents_utf8().ok_or_else(|| CatalogError::Invalid {
                file: name.clone(),
                message: String::from("not UTF-8"),
            })?;
            let integration: Integration =
                toml::from_str(text).map_err(|e| CatalogError::Invalid {
                    file: name.clone(),
                    message: e.to_string(),
                })?;
            check(&name, &integration)?;
            list.push(integration);
        }
        let mut logos = BTreeMap::new();
        for file in LOGOS.files() {
            let path = file.path();
            if let (Some(stem), Some(text)) = (
                path.file_stem().and_then(|s| s.to_str()),
                file.contents_utf8(),
            ) {
                logos.insert(stem.to_owned(), text.to_owned());
            }
        }
        Self::from_parts(list, logos)
    }

    /// Adds custom integrations (from the operator's configuration). A custom entry with
    /// the key of a built-in one replaces it.
    pub fn with_custom(
        self,
        custom: Vec<Integration>,
        custom_logos: BTreeMap<String, String>,
    ) -> Result<Self, CatalogError> {
        let mut list: Vec<Integration> = self
            .integrations
            .into_iter()
            .filter(|i| !custom.iter().any(|c| c.key == i.key))
            .collect();
        for c in &custom {
            check(&format!("custom integration {}", c.key), c)?;
        }
        list.extend(custom);
        let mut logos = self.logos;
        logos.extend(custom_logos);
        Self::from_parts(list, logos)
    }

    fn from_parts(
        mut list: Vec<Integration>,
        logos: BTreeMap<String, String>,
    ) -> Result<Self, CatalogError> {
        list.sort_by_key(|a| (a.source_type, a.name.to_lowercase()));
        let mut by_key = BTreeMap::new();
        let mut by_slug = BTreeMap::new();
        for (i, integ) in list.iter().enumerate() {
            if by_key.insert(integ.key.clone(), i).is_some() {
                return Err(CatalogError::DuplicateKey(integ.key.clone()));
            }
            if by_slug.insert(integ.slug.clone(), i).is_some() {
                return Err(CatalogError::DuplicateSlug(integ.slug.clone()));
            }
        }
        Ok(Self {
            integrations: list,
            by_key,
            by_slug,
            logos,
        })
    }

    pub fn all(&self) -> &[Integration] {
        &self.integrations
    }

    pub fn get(&self, key: &str) -> Option<&Integration> {
        self.by_key.get(key).and_then(|i| self.integrations.get(*i))
    }

    pub fn by_slug(&self, slug: &str) -> Option<&Integration> {
        self.by_slug
            .get(slug)
            .and_then(|i| self.integrations.get(*i))
    }

    /// The SVG logo of an integration, by slug; a generated mark when it has none.
    pub fn logo_svg(&self, slug: &str) -> Option<String> {
        if let Some(svg) = self.logos.get(slug) {
            return Some(svg.clone());
        }
        let integ = self.by_slug(slug)?;
        Some(fallback_logo(
            &integ.name,
            integ.brand_color.as_deref().unwrap_or("#4b5563"),
        ))
    }
}

/// A plain initial-on-colour mark for integrations without a logo file.
fn fallback_logo(name: &str, color: &str) -> String {
    let initial: String = name
        .chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let color = if color.starts_with('#')
        && color.len() <= 7
        && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        color
    } else {
        "#4b5563"
    };
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img"><title>{}</title><rect width="64" height="64" rx="14" fill="{}"/><text x="32" y="43" font-family="system-ui, sans-serif" font-size="30" font-weight="700" fill="#fff" text-anchor="middle">{}</text></svg>"##,
        esc(name),
        color,
        esc(&initial)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlink_domain::connection::SourceType;

    #[test]
    fn built_in_catalog_loads_every_platform() {
        let c = Catalog::built_in().unwrap();
        // every platform in shared/reference/platform-keys.md
        let expected = [
            ("mqjo", "sandbox"),
            ("trji", "microsoft-dynamics-365-business-central"),
            ("rqwd", "microsoft-dynamics-365-finance"),
            ("qudb", "exact-online-nl"),
            ("pbbf", "exact-online-uk"),
            ("fbrh", "freeagent"),
            ("vxvy", "freshbooks"),
            ("pdvj", "myob"),
            ("akxx", "netsuite"),
            ("pqsw", "quickbooks-desktop"),
            ("qhyg", "quickbooks"),
            ("ndsk", "quickbooks-sandbox"),
            ("jcrp", "sage-200"),
            ("hbql", "sage-50-uk"),
            ("tgff", "sage-accounting"),
            ("knfz", "sage-intacct"),
            ("pbtz", "wave"),
            ("rvam", "workday"),
            ("gbol", "xero"),
            ("rwuv", "zoho-books"),
            ("suuo", "plaid"),
            ("upvr", "truelayer"),
            ("qkdj", "amazon-seller-central"),
            ("vqzp", "bigcommerce"),
            ("fqly", "clover"),
            ("aiwb", "commerce-sandbox"),
            ("ldgh", "lightspeed-k"),
            ("fztf", "shopify"),
            ("zsth", "square"),
            ("xcwv", "square-sandbox"),
            ("exgd", "stripe"),
            ("yzth", "stripe-test"),
            ("ltpp", "woocommerce"),
            ("ugxp", "zettle"),
        ];
        assert_eq!(c.all().len(), expected.len());
        for (key, slug) in expected {
            let i = c.get(key).unwrap_or_else(|| panic!("{key} missing"));
            assert_eq!(i.slug, slug);
            assert!(c.logo_svg(slug).unwrap().contains("<svg"), "{slug} logo");
        }
        assert_eq!(c.get("mqjo").unwrap().source_type, SourceType::Accounting);
        assert!(c.get("mqjo").unwrap().built_in);
        assert!(c.get("aiwb").unwrap().built_in);
        assert_eq!(c.by_slug("xero").unwrap().key, "gbol");
    }

    #[test]
    fn fallback_logo_escapes() {
        let svg = fallback_logo("<Evil & Co>", "red\"/><script>");
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;Evil &amp; Co&gt;"));
    }
}
