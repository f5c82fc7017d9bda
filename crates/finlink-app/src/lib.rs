//! finlink's services. HTTP types never enter here and storage rows never leave the
//! store: a service takes domain values and the caller's client id, applies the
//! rules, and calls the store.

pub mod access;
pub mod api_keys;
pub mod bulk;
pub mod clients;
pub mod companies;
pub mod connections;
pub mod credentials;
pub mod data;
pub mod events;
pub mod integrations;
pub mod jobs;
pub mod lifecycle;
pub mod link;
pub mod migration;
pub mod oauth_apps;
pub mod profile;
pub mod proxy;
pub mod refresh;
pub mod rotation;
pub mod schedules;
pub mod sync;
pub mod sync_settings;
pub mod vault;
pub mod webhooks;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use finlink_domain::Clock;
use finlink_providers::Catalog;
use finlink_providers::oauth::OAuthClient;
use finlink_store::Store;
use finlink_vault::{Keyring, SecretString};

/// Settings the services need from the configuration.
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// The public base URL (no trailing slash) every generated URL starts with.
    pub public_url: String,
    /// Integration keys the operator configured OAuth credentials (or enabled) for.
    pub configured_integrations: BTreeSet<String>,
    /// Whether the built-in sandbox platforms are enabled.
    pub sandbox_enabled: bool,
    /// How finlink reaches itself (the built-in sandbox's token endpoint): `http://` + the bound address.
    pub internal_url: String,
    /// Refresh scheduling and the failure lifecycle.
    pub lifecycle: lifecycle::LifecycleSettings,
    /// Where webhooks may be sent.
    pub webhook_targets: finlink_providers::webhook::TargetPolicy,
}

/// The operator's OAuth app at one platform.
#[derive(Clone, Debug)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
}

/// Everything a request needs, shared by all handlers and workers.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub catalog: Arc<Catalog>,
    pub settings: Arc<AppSettings>,
    /// The master keys every secret is sealed with.
    pub vault: Arc<Keyring>,
    pub oauth: OAuthClient,
    /// OAuth apps by integration key.
    pub oauth_apps: Arc<BTreeMap<String, OAuthApp>>,
    pub(crate) key_cache: Arc<api_keys::KeyCache>,
    pub(crate) refresh_locks: Arc<refresh::RefreshLocks>,
    /// Sends webhooks (public addresses only unless the operator allows private ones).
    pub webhooks: finlink_providers::webhook::WebhookSender,
    /// The connectors that pull data, by integration and data type.
    pub connectors: Arc<finlink_providers::connectors::ConnectorRegistry>,
}

/// What an [`App`] is built from besides the store and the clock.
pub struct AppParts {
    pub catalog: Arc<Catalog>,
    pub settings: AppSettings,
    pub vault: Arc<Keyring>,
    pub oauth_apps: BTreeMap<String, OAuthApp>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("engine", &self.store.engine())
            .field("settings", &self.settings)
            .finish()
    }
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        parts: AppParts,
    ) -> finlink_domain::Result<Self> {
        let mut settings = parts.settings;
        while settings.public_url.ends_with('/') {
            settings.public_url.pop();
        }
        let oauth = OAuthClient::new(std::time::Duration::from_secs(20))
            .map_err(|e| finlink_domain::Error::internal(e.to_string()))?;
        let webhooks = finlink_providers::webhook::WebhookSender::new(settings.webhook_targets)
            .map_err(|e| finlink_domain::Error::internal(e.to_string()))?;
        let connectors = Self::build_connectors(
            &parts.catalog,
            finlink_providers::connectors::ConnectorEnv::new(
                settings.internal_url.clone(),
                Arc::clone(&clock),
            ),
        )?;
        Ok(Self {
            store,
            clock,
            catalog: parts.catalog,
            settings: Arc::new(settings),
            vault: parts.vault,
            oauth,
            oauth_apps: Arc::new(parts.oauth_apps),
            key_cache: Arc::default(),
            refresh_locks: Arc::default(),
            webhooks,
            connectors,
        })
    }

    fn build_connectors(
        catalog: &Catalog,
        env: finlink_providers::connectors::ConnectorEnv,
    ) -> finlink_domain::Result<Arc<finlink_providers::connectors::ConnectorRegistry>> {
        finlink_providers::connectors::ConnectorRegistry::built_in(catalog, &env)
            .map(Arc::new)
            .map_err(|e| finlink_domain::Error::internal(format!("connectors: {e}")))
    }

    /// The same services with connectors that wait through `sleeper` (tests give one that moves
    /// their manual clock instead of sleeping).
    pub fn with_connector_sleeper(
        mut self,
        sleeper: Arc<dyn finlink_providers::connectors::Sleeper>,
    ) -> finlink_domain::Result<Self> {
        let mut env = finlink_providers::connectors::ConnectorEnv::new(
            self.settings.internal_url.clone(),
            Arc::clone(&self.clock),
        );
        env.sleeper = sleeper;
        self.connectors = Self::build_connectors(&self.catalog, env)?;
        Ok(self)
    }

    /// `{public}/link/company/{id}`: the company's hosted Link journey.
    pub fn company_link_url(&self, company: &finlink_domain::ids::CompanyId) -> String {
        format!("{}/link/company/{company}", self.settings.public_url)
    }

    /// `{public}/link/companies/{companyId}/connections/{connectionId}/start`.
    pub fn connection_link_url(
        &self,
        company: &finlink_domain::ids::CompanyId,
        connection: &finlink_domain::ids::ConnectionId,
    ) -> String {
        format!(
            "{}/link/companies/{company}/connections/{connection}/start",
            self.settings.public_url
        )
    }
}
