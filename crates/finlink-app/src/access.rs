//! Handing a connection's credentials to the client (the credentials endpoint): the one place
//! plaintext tokens leave finlink on purpose. The API key must hold `credentials:read` (checked
//! by the caller); every read is audited. An access token that expires within
//! [`FRESH_MARGIN_SECS`] is refreshed first, through the single-flight refresh path.

use std::collections::BTreeMap;

use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::{AuthType, FieldKind};
use finlink_domain::{Error, Result, Timestamp};
use finlink_vault::SecretString;

use crate::App;
use crate::credentials::open;
use crate::migration::Actor;
use crate::refresh::RefreshOutcome;

/// An access token is refreshed before it is handed out when it expires within this margin.
pub const FRESH_MARGIN_SECS: i64 = 300;

/// What the credentials endpoint returns. Secrets are redacted from `Debug`.
pub struct CredentialsView {
    pub connection_id: ConnectionId,
    pub platform_key: String,
    pub auth_type: AuthType,
    pub access_token: Option<SecretString>,
    /// Only when asked for.
    pub refresh_token: Option<SecretString>,
    pub token_type: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub scopes: Vec<String>,
    /// The other secret fields (API keys, passwords), by wire name.
    pub fields: BTreeMap<String, SecretString>,
    /// Non-secret provider settings (realm id, tenant id, ...).
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Whether this read refreshed the token.
    pub refreshed: bool,
}

impl std::fmt::Debug for CredentialsView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsView")
            .field("connection_id", &self.connection_id)
            .field("platform_key", &self.platform_key)
            .field("expires_at", &self.expires_at)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl App {
    /// A connection's credentials, fresh. The caller has checked the `credentials:read` permission.
    pub async fn read_credentials(
        &self,
        actor: &Actor,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        include_refresh_token: bool,
    ) -> Result<CredentialsView> {
        let conn = self.get_connection(client, company, connection).await?;
        let integ = self.integration(&conn.integration_key)?.clone();
        let mut sealed = self.credentials_of(client, connection).await?;
        let mut refreshed = false;
        if integ.auth_type == AuthType::Oauth2 {
            let margin = self.clock.now().plus_seconds(FRESH_MARGIN_SECS);
            let stale = sealed.needs_refresh || sealed.expires_at.is_some_and(|e| e <= margin);
            if stale {
                match self
                    .refresh_seen(actor, client, company, connection, Some(sealed.version))
                    .await?
                {
                    RefreshOutcome::Refreshed { .. } => {
                        refreshed = true;
                        sealed = self.credentials_of(client, connection).await?;
                    }
                    RefreshOutcome::Rejected { reason } => {
                        return Err(Error::Conflict(format!(
                            "The platform rejected connection {connection}'s grant ({reason}); the business must link it again (its linkUrl)."
                        )));
                    }
                    RefreshOutcome::Transient { reason } => {
                        let still_valid = !sealed.needs_refresh
                            && sealed.expires_at.is_some_and(|e| e > self.clock.now());
                        if !still_valid {
                            return Err(Error::Unavailable(format!(
                                "The access token of connection {connection} has expired and the platform could not refresh it for now ({reason}); try again later."
                            )));
                        }
                    }
                }
            }
        }
        let mut secrets = open(&self.vault, &sealed)?;
        let access_token = secrets.0.remove("accessToken");
        let refresh = secrets.0.remove("refreshToken");
        let refresh_token = if include_refresh_token { refresh } else { None };
        let secret_names: Vec<&str> = integ
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::Credential)
            .map(|f| f.name.as_str())
            .collect();
        let fields = secrets
            .0
            .into_iter()
            .filter(|(k, _)| secret_names.contains(&k.as_str()))
            .collect();
        self.audit(
            actor,
            client,
            (Some(company), Some(connection)),
            "credentials.read",
            "success",
            format!(
                "credentials read{}{}",
                if refreshed { " after a refresh" } else { "" },
                if include_refresh_token {
                    ", refresh token included"
                } else {
                    ""
                }
            ),
        )
        .await;
        Ok(CredentialsView {
            connection_id: connection,
            platform_key: integ.key.clone(),
            auth_type: integ.auth_type,
            access_token,
            refresh_token,
            token_type: sealed.token_type.clone(),
            expires_at: sealed.expires_at,
            scopes: sealed.scopes.clone(),
            fields,
            settings: conn.connection_info.clone().unwrap_or_default(),
            refreshed,
        })
    }
}
