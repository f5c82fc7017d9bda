//! finlink's services. HTTP types never enter here and storage rows never leave the
//! store: a service takes domain values and the caller's client id, applies the
//! rules, and calls the store.

pub mod api_keys;
pub mod clients;
pub mod companies;
pub mod connections;
pub mod integrations;
pub mod profile;

use std::collections::BTreeSet;
use std::sync::Arc;

use finlink_domain::Clock;
use finlink_providers::Catalog;
use finlink_store::Store;

/// Settings the services need from the configuration.
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// The public base URL (no trailing slash) every generated URL starts with.
    pub public_url: String,
    /// Integration keys the operator configured OAuth credentials (or enabled) for.
    pub configured_integrations: BTreeSet<String>,
    /// Whether the built-in sandbox platforms are enabled.
    pub sandbox_enabled: bool,
}

/// Everything a request needs, shared by all handlers and workers.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub catalog: Arc<Catalog>,
    pub settings: Arc<AppSettings>,
    pub(crate) key_cache: Arc<api_keys::KeyCache>,
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
        catalog: Arc<Catalog>,
        settings: AppSettings,
    ) -> Self {
        let mut settings = settings;
        while settings.public_url.ends_with('/') {
            settings.public_url.pop();
        }
        Self {
            store,
            clock,
            catalog,
            settings: Arc::new(settings),
            key_cache: Arc::default(),
        }
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
