//! Integrations: the platforms finlink can connect to. The built-in catalog is data
//! (`crates/finlink-providers/catalog/`), deserialized into these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::connection::SourceType;

/// How a platform authenticates finlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthType {
    /// OAuth 2.0 authorization code (with refresh tokens).
    Oauth2,
    /// A key or token the business pastes in.
    ApiKey,
    /// Username and password.
    Basic,
    /// A desktop connector installed next to on-premise accounting software.
    OnPremise,
}

/// How finlink authenticates itself at the token endpoint (RFC 6749 section 2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

/// OAuth 2.0 endpoints and the platform's quirks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    pub authorize_url: String,
    pub token_url: String,
    #[serde(default)]
    pub revoke_url: Option<String>,
    /// Where the connected company's id and name can be read after authorisation.
    #[serde(default)]
    pub identity_url: Option<String>,
    /// Where the organisation's id is in the identity answer: a key of each organisation object
    /// (default: the first of `tenantId`, `organisationId`, `organizationId`, `id`, `sub`).
    #[serde(default)]
    pub identity_id_field: Option<String>,
    /// Where the organisation's name is (default: the first of `companyName`, `tenantName`,
    /// `organisationName`, `organizationName`, `name`, `org_name`).
    #[serde(default)]
    pub identity_name_field: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "default_scope_separator")]
    pub scope_separator: String,
    #[serde(default)]
    pub client_auth: ClientAuthMethod,
    /// Whether the platform supports (or requires) PKCE S256.
    #[serde(default = "default_true")]
    pub pkce: bool,
    /// The platform issues a new refresh token on every refresh and invalidates the old one.
    #[serde(default)]
    pub rotating_refresh_tokens: bool,
    /// Refresh tokens expire when unused for this many days (keep-alive refresh horizon).
    #[serde(default)]
    pub refresh_token_idle_days: Option<u32>,
    /// Refresh tokens expire this many days after issue regardless of use.
    #[serde(default)]
    pub refresh_token_max_days: Option<u32>,
    /// Access-token lifetime to assume when the platform sends no `expires_in`.
    #[serde(default)]
    pub default_token_lifetime_secs: Option<u64>,
    /// How long before the access token expires the proactive refresh runs (default 600).
    #[serde(default)]
    pub refresh_margin_secs: Option<u64>,
    /// Query parameters the platform adds to the callback that finlink must keep
    /// as provider settings (QuickBooks: `realmId`).
    #[serde(default)]
    pub callback_params: Vec<String>,
    /// One grant can reach several organisations; the user picks one (Xero tenants).
    #[serde(default)]
    pub tenant_selection: bool,
    /// The authorize and token URLs contain a `{shop}` placeholder the user supplies first.
    #[serde(default)]
    pub per_shop_urls: bool,
    /// What a `{shop}` value may be: `*.myshopify.com` (a host under that domain) or `*` (one
    /// DNS label, such as a NetSuite account id). Required with `per_shop_urls`: the value
    /// comes from whoever holds a Link URL, and the token request carries the client secret.
    #[serde(default)]
    pub shop_pattern: Option<String>,
    /// Extra parameters to add to the authorization request (e.g. `access_type=offline`).
    #[serde(default)]
    pub extra_authorize_params: BTreeMap<String, String>,
}

fn default_scope_separator() -> String {
    String::from(" ")
}

fn default_true() -> bool {
    true
}

/// Where a credential field's value is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Part of the credential (token, key, password): sealed in the vault.
    Credential,
    /// A non-secret provider setting (realm id, tenant id, shop domain, ...).
    Setting,
}

/// One value a connection to this platform carries: asked for in Link forms and
/// accepted by the migration APIs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialField {
    /// The key on the wire, camelCase as Codat's `PUT .../authorization` uses (`accessToken`, `realmId`).
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub help: Option<String>,
    pub kind: FieldKind,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub required: bool,
}

/// One entry of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Codat's four-letter platform key (`gbol`).
    pub key: String,
    /// The Apideck-style `service_id` (`xero`).
    pub slug: String,
    pub name: String,
    pub source_type: SourceType,
    pub auth_type: AuthType,
    #[serde(default)]
    pub is_beta: bool,
    /// Who provides the data, as Codat's `dataProvidedBy` (usually the platform's name).
    #[serde(default)]
    pub data_provided_by: Option<String>,
    /// The platform's public website.
    #[serde(default)]
    pub website: Option<String>,
    /// Base URL of the platform's API (proxy and connectors resolve paths against it).
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Hosts a proxied request may reach, besides the host of `api_base_url`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The brand colour used behind the logo (`#13B5EA`).
    #[serde(default)]
    pub brand_color: Option<String>,
    #[serde(default)]
    pub oauth: Option<OAuthSettings>,
    /// Fields a connection carries (credentials and provider settings).
    #[serde(default)]
    pub fields: Vec<CredentialField>,
    /// Codat data types the platform offers (`invoices`, `banking-transactions`, ...).
    #[serde(default)]
    pub data_types: Vec<String>,
    /// Built into finlink itself (the sandbox platforms): always enabled.
    #[serde(default)]
    pub built_in: bool,
    /// How Link checks pasted API-key or basic-auth credentials before linking.
    #[serde(default)]
    pub credential_check: Option<CredentialCheck>,
}

/// A request that succeeds only with good credentials: `GET url` with one header whose value is
/// a template over the submitted fields (`{apiKey}`; `{basic}` is base64 of `username:password`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialCheck {
    /// Absolute, or a path under `api_base_url`.
    pub url: String,
    #[serde(default = "default_check_header")]
    pub header: String,
    /// E.g. `Bearer {apiKey}`.
    pub value: String,
}

fn default_check_header() -> String {
    String::from("Authorization")
}

/// A `{shop}` value normalised and checked against `pattern` (see
/// [`OAuthSettings::shop_pattern`]): lower case; for `*`, `_` becomes `-`. None when it does not fit.
pub fn check_shop(pattern: &str, input: &str) -> Option<String> {
    let s = input.trim().to_ascii_lowercase();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(&s);
    let host = s.split('/').next()?.trim_end_matches('.');
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if pattern == "*" {
        let label = host.replace('_', "-");
        return label_ok(&label).then_some(label);
    }
    let suffix = pattern.strip_prefix("*.")?;
    let prefix = host.strip_suffix(suffix)?.strip_suffix('.')?;
    (host.len() <= 253 && prefix.split('.').all(label_ok)).then(|| host.to_owned())
}

/// Namespace for the deterministic UUIDs of integrations and sources.
const INTEGRATION_NS: Uuid = Uuid::from_u128(0x6a1f_7c5e_2b4d_4e8a_9c3f_1d2e_3f4a_5b6c);
const SOURCE_NS: Uuid = Uuid::from_u128(0x0d9e_8f7a_6b5c_4d3e_8f2a_1b0c_9d8e_7f6a);

impl Integration {
    /// Codat's `integrationId`: a UUID that is the same for a key on every installation.
    pub fn integration_id(&self) -> Uuid {
        integration_id_for(&self.key)
    }

    /// Codat's `sourceId`.
    pub fn source_id(&self) -> Uuid {
        source_id_for(&self.key)
    }

    pub fn is_offline_connector(&self) -> bool {
        self.auth_type == AuthType::OnPremise
    }
}

pub fn integration_id_for(key: &str) -> Uuid {
    Uuid::new_v5(&INTEGRATION_NS, key.as_bytes())
}

pub fn source_id_for(key: &str) -> Uuid {
    Uuid::new_v5(&SOURCE_NS, key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_values() {
        let shopify = "*.myshopify.com";
        assert_eq!(
            check_shop(shopify, "Acme.myshopify.com").as_deref(),
            Some("acme.myshopify.com")
        );
        assert_eq!(
            check_shop(shopify, "https://acme-2.myshopify.com/admin").as_deref(),
            Some("acme-2.myshopify.com")
        );
        for bad in [
            "evil.example",
            "10.0.0.5",
            "myshopify.com",
            "a.myshopify.com.evil.example",
            "x@acme.myshopify.com",
            "-a.myshopify.com",
            "",
        ] {
            assert_eq!(check_shop(shopify, bad), None, "{bad}");
        }
        assert_eq!(check_shop("*", "TSTDRV_123").as_deref(), Some("tstdrv-123"));
        assert_eq!(
            check_shop("*", "1234567-SB1").as_deref(),
            Some("1234567-sb1")
        );
        assert_eq!(check_shop("*", "a.b"), None);
        assert_eq!(
            check_shop(
                "*.operations.dynamics.com",
                "contoso.operations.dynamics.com"
            )
            .as_deref(),
            Some("contoso.operations.dynamics.com")
        );
        assert_eq!(check_shop("nope", "a.b"), None);
    }
}
