//! Which OAuth app finlink uses for a client at a platform, and where that platform's
//! endpoints are. A client's own app (`PUT /integrations/{key}/credentials`, its secret sealed
//! in the vault) wins over the operator's (`[integrations.KEY]` in the configuration); the
//! built-in sandbox needs neither. An integration is enabled for a client when one of them
//! exists (or, for API-key and basic platforms, when the operator enabled it).

use std::collections::BTreeSet;

use finlink_domain::ids::ClientId;
use finlink_domain::integration::{Integration, OAuthSettings};
use finlink_domain::link::IntegrationCredentials;
use finlink_domain::{Error, Result};
use finlink_providers::oauth::TokenEndpoint;
use finlink_vault::{Aad, Purpose, SecretString};

use crate::App;

/// An integration's OAuth endpoints with `{shop}` filled in and relative URLs resolved.
#[derive(Debug)]
pub struct ResolvedOAuth {
    /// Where the business's browser goes (relative URLs resolve against the public URL).
    pub authorize_url: String,
    /// Token endpoint and the OAuth app (relative URLs resolve against finlink's own address).
    pub token: TokenEndpoint,
    pub revoke_url: Option<String>,
    pub identity_url: Option<String>,
    pub scopes: Vec<String>,
}

/// What a client sees of its own OAuth app: never the secret.
#[derive(Clone, Debug)]
pub struct IntegrationCredentialsView {
    pub integration_key: String,
    pub oauth_client_id: String,
    pub has_client_secret: bool,
    pub updated: finlink_domain::Timestamp,
}

pub(crate) fn secret_aad(client: ClientId, key: &str) -> Aad {
    Aad::new(&[&client.to_string(), key, "integration client secret"])
}

/// Fills `{shop}`. Callers pass only values checked with `check_shop` (`shop_of`, Link's shop
/// form), since the token request that follows carries the client secret.
fn fill_shop(s: &str, shop: Option<&str>) -> String {
    match shop {
        Some(shop) => s.replace("{shop}", shop),
        None => s.to_owned(),
    }
}

impl App {
    /// The integrations enabled for `client`: the operator's, the client's own OAuth apps, and the
    /// built-in sandboxes when the sandbox is on.
    pub async fn enabled_keys(&self, client: ClientId) -> Result<BTreeSet<String>> {
        let mut keys = self.settings.configured_integrations.clone();
        for c in self.store.list_integration_credentials(client).await? {
            keys.insert(c.integration_key);
        }
        if self.settings.sandbox_enabled {
            keys.extend(
                self.catalog
                    .all()
                    .iter()
                    .filter(|i| i.built_in)
                    .map(|i| i.key.clone()),
            );
        }
        Ok(keys)
    }

    /// An error that says how to enable the integration, when it is not enabled for `client`.
    pub async fn ensure_enabled_for(&self, client: ClientId, integ: &Integration) -> Result<()> {
        if self.enabled_keys(client).await?.contains(&integ.key) {
            return Ok(());
        }
        Err(Error::invalid(
            "platformKey",
            "CreateConnection",
            format!(
                "The integration {} ({}) is not enabled: the operator must configure its OAuth client id and secret ([integrations.{}] in the configuration file), or the client can set its own with PUT /integrations/{}/credentials.",
                integ.name, integ.key, integ.key, integ.key
            ),
        ))
    }

    /// The OAuth app for `client` at `integ`: the client's own, else the operator's.
    async fn oauth_app(
        &self,
        client: ClientId,
        integ: &Integration,
    ) -> Result<(String, Option<SecretString>)> {
        if let Some(own) = self
            .store
            .get_integration_credentials(client, &integ.key)
            .await?
        {
            let secret = match &own.sealed_secret {
                Some(sealed) => Some(
                    self.vault
                        .open_string(
                            Purpose::ClientSecret,
                            &secret_aad(client, &integ.key),
                            sealed,
                        )
                        .map_err(|e| {
                            Error::internal(format!(
                                "opening the client secret of integration {}: {e}",
                                integ.key
                            ))
                        })?,
                ),
                None => None,
            };
            return Ok((own.oauth_client_id, secret));
        }
        let app = self.oauth_apps.get(&integ.key).ok_or_else(|| {
            Error::bad_request(format!(
                "{} has no OAuth client configured: set [integrations.{}] client_id and client_secret, or PUT /integrations/{}/credentials.",
                integ.name, integ.key, integ.key
            ))
        })?;
        Ok((app.client_id.clone(), app.client_secret.clone()))
    }

    fn oauth_settings<'a>(&self, integ: &'a Integration) -> Result<&'a OAuthSettings> {
        integ
            .oauth
            .as_ref()
            .ok_or_else(|| Error::bad_request(format!("{} does not use OAuth 2.0.", integ.name)))
    }

    /// The platform's endpoints and the OAuth app, for `client`; `shop` fills `{shop}`.
    pub async fn resolve_oauth(
        &self,
        client: ClientId,
        integ: &Integration,
        shop: Option<&str>,
    ) -> Result<ResolvedOAuth> {
        let oauth = self.oauth_settings(integ)?;
        let (client_id, client_secret) = self.oauth_app(client, integ).await?;
        let internal = |u: &str| {
            let u = fill_shop(u, shop);
            if u.starts_with('/') {
                format!("{}{}", self.settings.internal_url, u)
            } else {
                u
            }
        };
        let public = |u: &str| {
            let u = fill_shop(u, shop);
            if u.starts_with('/') {
                format!("{}{}", self.settings.public_url, u)
            } else {
                u
            }
        };
        Ok(ResolvedOAuth {
            authorize_url: public(&oauth.authorize_url),
            token: TokenEndpoint {
                url: internal(&oauth.token_url),
                client_id,
                client_secret,
                auth: oauth.client_auth,
            },
            revoke_url: oauth.revoke_url.as_deref().map(internal),
            identity_url: oauth.identity_url.as_deref().map(internal),
            scopes: oauth.scopes.iter().map(|s| fill_shop(s, shop)).collect(),
        })
    }

    /// A platform API URL: absolute, or relative to `api_base_url` (itself relative to finlink
    /// for the built-in sandboxes).
    pub fn platform_url(&self, integ: &Integration, url: &str, shop: Option<&str>) -> String {
        let url = fill_shop(url, shop);
        if url.starts_with("http://") || url.starts_with("https://") {
            return url;
        }
        let base = fill_shop(integ.api_base_url.as_deref().unwrap_or(""), shop);
        let joined = format!("{}{}", base.trim_end_matches('/'), url);
        if joined.starts_with('/') {
            format!("{}{}", self.settings.internal_url, joined)
        } else {
            joined
        }
    }

    /// `PUT /integrations/{key}/credentials`: the client's own OAuth app at a platform.
    pub async fn put_integration_credentials(
        &self,
        actor: &crate::migration::Actor,
        client: ClientId,
        key: &str,
        oauth_client_id: &str,
        client_secret: Option<&SecretString>,
    ) -> Result<IntegrationCredentialsView> {
        let integ = self.integration(key)?.clone();
        if integ.oauth.is_none() {
            return Err(Error::invalid(
                "platformKey",
                "IntegrationCredentials",
                format!(
                    "{} ({}) does not use OAuth 2.0, so it has no OAuth app to configure.",
                    integ.name, integ.key
                ),
            ));
        }
        if integ.built_in {
            return Err(Error::invalid(
                "platformKey",
                "IntegrationCredentials",
                format!(
                    "{} is built into finlink and needs no OAuth app.",
                    integ.name
                ),
            ));
        }
        let oauth_client_id = oauth_client_id.trim();
        if oauth_client_id.is_empty() || oauth_client_id.len() > 512 {
            return Err(Error::invalid(
                "clientId",
                "IntegrationCredentials",
                "clientId is required (1 to 512 characters).",
            ));
        }
        let sealed_secret = match client_secret {
            Some(s) if !s.expose().is_empty() => Some(
                self.vault
                    .seal(
                        Purpose::ClientSecret,
                        &secret_aad(client, &integ.key),
                        s.expose().as_bytes(),
                    )
                    .map_err(|e| Error::internal(format!("sealing a client secret: {e}")))?,
            ),
            _ => None,
        };
        let creds = IntegrationCredentials {
            client_id: client,
            integration_key: integ.key.clone(),
            oauth_client_id: oauth_client_id.to_owned(),
            key_id: sealed_secret
                .as_ref()
                .map(|_| self.vault.active_id().to_string()),
            sealed_secret,
            updated: self.clock.now(),
        };
        self.store.put_integration_credentials(&creds).await?;
        self.store
            .insert_audit(&finlink_domain::credentials::AuditEntry {
                id: uuid::Uuid::now_v7(),
                client_id: client,
                actor: actor.label(),
                action: String::from("integration.credentials.put"),
                company_id: None,
                connection_id: None,
                outcome: String::from("success"),
                detail: Some(format!(
                    "OAuth app {} set for {}",
                    creds.oauth_client_id, integ.name
                )),
                at: creds.updated,
            })
            .await?;
        Ok(view(&creds))
    }

    pub async fn get_integration_credentials(
        &self,
        client: ClientId,
        key: &str,
    ) -> Result<IntegrationCredentialsView> {
        let integ = self.integration(key)?;
        self.store
            .get_integration_credentials(client, &integ.key)
            .await?
            .map(|c| view(&c))
            .ok_or_else(|| Error::NotFound {
                message: format!(
                    "No OAuth app of this client is set for {} ({}).",
                    integ.name, integ.key
                ),
            })
    }

    pub async fn delete_integration_credentials(
        &self,
        actor: &crate::migration::Actor,
        client: ClientId,
        key: &str,
    ) -> Result<()> {
        let integ = self.integration(key)?;
        if self
            .store
            .delete_integration_credentials(client, &integ.key)
            .await?
        {
            self.audit(
                actor,
                client,
                (None, None),
                "integration.credentials.delete",
                "success",
                format!("the client's OAuth app for {} removed", integ.name),
            )
            .await;
            Ok(())
        } else {
            Err(Error::NotFound {
                message: format!(
                    "No OAuth app of this client is set for {} ({}).",
                    integ.name, integ.key
                ),
            })
        }
    }
}

/// The value that fills `{shop}` for a per-shop platform: its first required setting.
pub fn shop_of(
    integ: &Integration,
    info: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<String> {
    let per_shop = integ.oauth.as_ref().is_some_and(|o| o.per_shop_urls);
    if !per_shop {
        return None;
    }
    let field = shop_field(integ)?;
    let value = info?.get(field).and_then(|v| v.as_str())?;
    let pattern = integ.oauth.as_ref()?.shop_pattern.as_deref()?;
    finlink_domain::integration::check_shop(pattern, value)
}

/// The setting a per-shop platform's `{shop}` comes from (catalog convention: its one required
/// setting).
pub fn shop_field(integ: &Integration) -> Option<&str> {
    integ
        .fields
        .iter()
        .find(|f| f.kind == finlink_domain::integration::FieldKind::Setting && f.required)
        .map(|f| f.name.as_str())
}

fn view(c: &IntegrationCredentials) -> IntegrationCredentialsView {
    IntegrationCredentialsView {
        integration_key: c.integration_key.clone(),
        oauth_client_id: c.oauth_client_id.clone(),
        has_client_secret: c.sealed_secret.is_some(),
        updated: c.updated,
    }
}
