//! The integration catalog as a client sees it: which platforms are enabled, and
//! queries over them (evaluated in memory: the catalog is not in the database).

use std::collections::BTreeSet;

use finlink_domain::integration::Integration;
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::query::{Comparison, Expr, FieldType, OrderBy, Value};
use finlink_domain::{Error, Result};

use crate::App;

const SOURCE_TYPES: &[&str] = &[
    "Accounting",
    "Banking",
    "BankFeed",
    "Commerce",
    "Expense",
    "Other",
    "Unknown",
];
const AUTH_TYPES: &[&str] = &["oauth2", "apiKey", "basic", "onPremise"];

/// Queryable properties of an integration: name, type, and how to read it.
fn property(name: &str) -> Option<FieldType> {
    Some(match name {
        "key" | "name" | "slug" | "integrationId" | "sourceId" | "dataProvidedBy" => {
            FieldType::Text
        }
        "sourceType" => FieldType::Enum(SOURCE_TYPES),
        "authType" => FieldType::Enum(AUTH_TYPES),
        "enabled" | "isOfflineConnector" | "isBeta" => FieldType::Bool,
        _ => return None,
    })
}

const ORDERABLE: &[&str] = &["key", "name", "sourceType", "slug"];

impl App {
    /// Whether the integration is enabled installation-wide (by the operator, or built in).
    /// A client may enable more with its own OAuth apps: see [`App::enabled_keys`].
    pub fn integration_enabled(&self, i: &Integration) -> bool {
        if i.built_in {
            return self.settings.sandbox_enabled;
        }
        self.settings.configured_integrations.contains(&i.key)
    }

    fn integration_value(
        &self,
        i: &Integration,
        prop: &str,
        enabled: &BTreeSet<String>,
    ) -> Option<Value> {
        let text = |s: &str| Some(Value::Text(s.to_owned()));
        match prop {
            "key" => text(&i.key),
            "name" => text(&i.name),
            "slug" => text(&i.slug),
            "integrationId" => text(&i.integration_id().to_string()),
            "sourceId" => text(&i.source_id().to_string()),
            "dataProvidedBy" => i.data_provided_by.as_deref().and_then(text),
            "sourceType" => text(i.source_type.as_str()),
            "authType" => text(match i.auth_type {
                finlink_domain::integration::AuthType::Oauth2 => "oauth2",
                finlink_domain::integration::AuthType::ApiKey => "apiKey",
                finlink_domain::integration::AuthType::Basic => "basic",
                finlink_domain::integration::AuthType::OnPremise => "onPremise",
            }),
            "enabled" => Some(Value::Bool(enabled.contains(&i.key))),
            "isOfflineConnector" => Some(Value::Bool(i.is_offline_connector())),
            "isBeta" => Some(Value::Bool(i.is_beta)),
            _ => None,
        }
    }

    fn integration_matches(
        &self,
        i: &Integration,
        e: &Expr,
        enabled: &BTreeSet<String>,
    ) -> Result<bool> {
        Ok(match e {
            Expr::And(parts) => {
                let mut all = true;
                for p in parts {
                    all &= self.integration_matches(i, p, enabled)?;
                }
                all
            }
            Expr::Or(parts) => {
                let mut any = false;
                for p in parts {
                    any |= self.integration_matches(i, p, enabled)?;
                }
                any
            }
            Expr::Cmp(c) => {
                let typed = typed(c)?;
                typed.matches(self.integration_value(i, &c.property(), enabled).as_ref())
            }
        })
    }

    /// A page of the catalog, filtered and ordered; `enabled` is what the caller has enabled
    /// ([`App::enabled_keys`]).
    pub fn list_integrations(
        &self,
        enabled: &BTreeSet<String>,
        page: PageRequest,
        filter: Option<&Expr>,
        order: Option<&OrderBy>,
    ) -> Result<Page<Integration>> {
        if let Some(f) = filter {
            validate(f)?;
        }
        let mut items: Vec<&Integration> = Vec::new();
        for i in self.catalog.all() {
            if match filter {
                Some(f) => self.integration_matches(i, f, enabled)?,
                None => true,
            } {
                items.push(i);
            }
        }
        if let Some(o) = order {
            if !ORDERABLE.contains(&o.property.as_str()) {
                return Err(Error::Query(format!(
                    "cannot order integrations by '{}'; orderable properties: {}.",
                    o.property,
                    ORDERABLE.join(", ")
                )));
            }
            let key = |i: &Integration| match o.property.as_str() {
                "name" => i.name.to_lowercase(),
                "sourceType" => i.source_type.as_str().to_owned(),
                "slug" => i.slug.clone(),
                _ => i.key.clone(),
            };
            items.sort_by(|a, b| {
                let ord = key(a).cmp(&key(b)).then_with(|| a.key.cmp(&b.key));
                if o.descending { ord.reverse() } else { ord }
            });
        }
        let total = items.len() as u64;
        let start = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let items = items
            .into_iter()
            .skip(start)
            .take(page.page_size as usize)
            .cloned()
            .collect();
        Ok(Page {
            items,
            total,
            request: page,
        })
    }
}

fn typed(c: &Comparison) -> Result<finlink_domain::query::Typed> {
    let prop = c.property();
    let ty = property(&prop).ok_or_else(|| {
        Error::Query(format!(
            "Could not resolve property {prop} on Integration. Queryable properties: key, name, slug, sourceType, authType, enabled, integrationId, sourceId, dataProvidedBy, isOfflineConnector, isBeta."
        ))
    })?;
    c.typed(ty)
}

fn validate(e: &Expr) -> Result<()> {
    match e {
        Expr::And(p) | Expr::Or(p) => p.iter().try_for_each(validate),
        Expr::Cmp(c) => typed(c).map(|_| ()),
    }
}
