//! The proxy's rules: which platform URL a proxied request may reach and with which credential.
//! The HTTP layer (`finlink-http/src/proxy.rs`) moves the bytes; this decides where to and how
//! to authenticate, and refreshes through the single-flight path.
//!
//! A downstream URL must be `https` (or the built-in sandbox on finlink itself) and its host must
//! be the host of the integration's `api_base_url` or one of its `allowed_hosts`, so a proxy call
//! can never carry a customer's token anywhere else.

use finlink_domain::connection::{Connection, ConnectionStatus};
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::{AuthType, Integration};
use finlink_domain::{Error, Result};
use finlink_vault::SecretString;

use crate::App;
use crate::credentials::open;
use crate::migration::Actor;
use crate::refresh::RefreshOutcome;

/// Where a proxied request goes and what it carries.
pub struct ProxyTarget {
    pub connection: Connection,
    pub integration: Integration,
    /// The absolute downstream URL.
    pub url: url::Url,
}

impl App {
    /// The connection and downstream URL for `/companies/{c}/connections/{id}/proxy/{path}`:
    /// `path` (with its query) resolved under the integration's API base URL.
    pub async fn proxy_by_path(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        path_and_query: &str,
    ) -> Result<ProxyTarget> {
        let conn = self.get_connection(client, company, connection).await?;
        let integ = self.integration(&conn.integration_key)?.clone();
        let shop = crate::oauth_apps::shop_of(&integ, conn.connection_info.as_ref());
        if integ.api_base_url.is_none() {
            return Err(Error::bad_request(format!(
                "{} has no API base URL in the catalog; use the Apideck-style /proxy with an absolute x-apideck-downstream-url.",
                integ.name
            )));
        }
        // `platform_url` puts a relative path under the API base URL.
        let joined = self.platform_url(
            &integ,
            &format!("/{}", path_and_query.trim_start_matches('/')),
            shop.as_deref(),
        );
        let url = url::Url::parse(&joined)
            .map_err(|_| Error::bad_request(format!("'{joined}' is not a URL.")))?;
        self.check_downstream(&integ, shop.as_deref(), &url)?;
        Ok(ProxyTarget {
            connection: conn,
            integration: integ,
            url,
        })
    }

    /// The connection and downstream URL for Apideck's `/proxy`: the consumer's connection to
    /// `service_id`, and an absolute `x-apideck-downstream-url`.
    pub async fn proxy_by_consumer(
        &self,
        client: ClientId,
        consumer_id: &str,
        service_id: &str,
        downstream: &str,
    ) -> Result<ProxyTarget> {
        let integ = self
            .catalog
            .by_slug(service_id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                message: format!("No integration has the service_id '{service_id}'."),
            })?;
        let company = self.consumer(client, consumer_id, false, None).await?;
        let conn = self
            .connection_of(client, company.id, &integ)
            .await?
            .ok_or_else(|| Error::NotFound {
                message: format!("Consumer '{consumer_id}' has no {} connection.", integ.name),
            })?;
        let shop = crate::oauth_apps::shop_of(&integ, conn.connection_info.as_ref());
        let url = url::Url::parse(downstream).map_err(|_| {
            Error::invalid(
                "x-apideck-downstream-url",
                "Proxy",
                "x-apideck-downstream-url must be an absolute URL.",
            )
        })?;
        self.check_downstream(&integ, shop.as_deref(), &url)?;
        Ok(ProxyTarget {
            connection: conn,
            integration: integ,
            url,
        })
    }

    /// Refuses any URL off the integration's hosts.
    fn check_downstream(
        &self,
        integ: &Integration,
        shop: Option<&str>,
        url: &url::Url,
    ) -> Result<()> {
        let refuse = |why: String| Err(Error::Forbidden(why));
        if !url.username().is_empty() || url.password().is_some() {
            return refuse(String::from("A downstream URL may not carry credentials."));
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut allowed: Vec<String> = integ
            .allowed_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        if integ.api_base_url.is_some() {
            let base = self.platform_url(integ, "", shop);
            if let Some(h) = url::Url::parse(&base)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            {
                allowed.push(h);
            }
        }
        let internal = integ.built_in
            && url
                .as_str()
                .starts_with(&format!("{}/sandbox/", self.settings.internal_url));
        if !internal && url.scheme() != "https" {
            return refuse(format!("{} is reached over https only.", integ.name));
        }
        if !allowed.contains(&host) {
            return refuse(format!(
                "The proxy may reach {} only at {}; '{host}' is not one of its hosts.",
                integ.name,
                if allowed.is_empty() {
                    String::from("(no host configured)")
                } else {
                    allowed.join(", ")
                }
            ));
        }
        Ok(())
    }

    /// The header that authenticates a proxied request, and the credentials version it came
    /// from: `Authorization: Bearer <token>` for OAuth 2.0 (refreshed first when it expires within
    /// five minutes, or when `rejected_version` says the platform just refused that version's
    /// token), the catalog's credential-check header for API-key and basic platforms.
    pub async fn proxy_auth(
        &self,
        actor: &Actor,
        target: &ProxyTarget,
        rejected_version: Option<i64>,
    ) -> Result<(String, SecretString, i64)> {
        let force_refresh = rejected_version.is_some();
        let c = &target.connection;
        if c.status != ConnectionStatus::Linked {
            return Err(Error::Conflict(format!(
                "Connection {} is {}; only Linked connections can be proxied.",
                c.id, c.status
            )));
        }
        let integ = &target.integration;
        let mut sealed = self.credentials_of(c.client_id, c.id).await?;
        if integ.auth_type == AuthType::Oauth2 {
            let margin = self
                .clock
                .now()
                .plus_seconds(crate::access::FRESH_MARGIN_SECS);
            let stale = force_refresh
                || sealed.needs_refresh
                || sealed.expires_at.is_some_and(|e| e <= margin);
            if stale {
                // After a 401 the stored token is the one that failed: refresh whatever is
                // current unless it changed since this request read it.
                let seen = rejected_version.unwrap_or(sealed.version);
                match self
                    .refresh_seen(actor, c.client_id, c.company_id, c.id, Some(seen))
                    .await?
                {
                    RefreshOutcome::Refreshed { .. } => {
                        sealed = self.credentials_of(c.client_id, c.id).await?;
                    }
                    RefreshOutcome::Rejected { reason } => {
                        return Err(Error::Conflict(format!(
                            "The platform rejected connection {}'s grant ({reason}).",
                            c.id
                        )));
                    }
                    RefreshOutcome::Transient { reason } if force_refresh => {
                        return Err(Error::Unavailable(format!(
                            "The platform could not refresh connection {}'s token for now ({reason}).",
                            c.id
                        )));
                    }
                    RefreshOutcome::Transient { .. } => {}
                }
            }
            let secrets = open(&self.vault, &sealed)?;
            let token = secrets.get("accessToken").ok_or_else(|| {
                Error::internal(format!("connection {} has no access token", c.id))
            })?;
            return Ok((
                String::from("Authorization"),
                SecretString::from(format!("Bearer {}", token.expose())),
                sealed.version,
            ));
        }
        let check = integ.credential_check.as_ref().ok_or_else(|| {
            Error::bad_request(format!(
                "finlink does not know how {} expects its credentials on a request.",
                integ.name
            ))
        })?;
        let secrets = open(&self.vault, &sealed)?;
        let mut value = check.value.clone();
        for (name, v) in &secrets.0 {
            value = value.replace(&format!("{{{name}}}"), v.expose());
        }
        Ok((
            check.header.clone(),
            SecretString::from(value),
            sealed.version,
        ))
    }
}
