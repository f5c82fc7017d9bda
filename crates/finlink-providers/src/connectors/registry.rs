//! Which connector pulls which data type of which integration.

use std::sync::Arc;
use std::time::Duration;

use finlink_domain::Clock;
use finlink_domain::data::DataType;

use super::http::{HttpConnector, Pager, RetryPolicy};
use super::limits::{IntegrationBudgets, RateLimiter, RateLimits, Sleeper, TokioSleeper};
use super::sandbox::{
    ACCOUNTING_KEY, COMMERCE_KEY, SandboxAccounting, SandboxBanking, SandboxCommerce,
};
use super::{Connector, PullError};
use crate::Catalog;

/// What connectors share: finlink's base URL (for the catalog's relative API bases), the clock,
/// the sleeper, the rate limiter, and the retry policy.
#[derive(Clone)]
pub struct ConnectorEnv {
    /// finlink's own base URL (`http://127.0.0.1:8080`): the built-in sandboxes' catalog
    /// `api_base_url`s are paths under it.
    pub base_url: String,
    pub clock: Arc<dyn Clock>,
    pub sleeper: Arc<dyn Sleeper>,
    pub limiter: Arc<RateLimiter>,
    pub retry: RetryPolicy,
    /// Per request.
    pub timeout: Duration,
}

impl std::fmt::Debug for ConnectorEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorEnv")
            .field("base_url", &self.base_url)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ConnectorEnv {
    /// Production defaults: tokio's timer, [`ConnectorRegistry::default_limits`], the default
    /// [`RetryPolicy`], 60 s per request.
    pub fn new(base_url: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            base_url: base_url.into(),
            limiter: Arc::new(RateLimiter::new(
                ConnectorRegistry::default_limits(),
                Arc::clone(&clock),
            )),
            clock,
            sleeper: Arc::new(TokioSleeper),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
        }
    }

    /// A [`Pager`] over a new HTTP client.
    pub fn pager(&self) -> Result<Pager, PullError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .user_agent(concat!("finlink/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PullError::Config(format!("HTTP client: {e}")))?;
        Ok(Pager::new(
            http,
            Arc::clone(&self.limiter),
            Arc::clone(&self.sleeper),
            Arc::clone(&self.clock),
            self.retry,
        ))
    }

    /// An absolute API base from a catalog `api_base_url` (absolute, or a path under finlink).
    fn api_base(&self, catalog_base: &str) -> String {
        if catalog_base.starts_with("http://") || catalog_base.starts_with("https://") {
            catalog_base.to_owned()
        } else {
            format!(
                "{}/{}",
                self.base_url.trim_end_matches('/'),
                catalog_base.trim_start_matches('/')
            )
        }
    }
}

/// Connectors by integration key; an integration may have one per source type.
#[derive(Debug, Default, Clone)]
pub struct ConnectorRegistry {
    connectors: Vec<Arc<dyn Connector>>,
}

impl ConnectorRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// [`RateLimits::default`], without budgets for the built-in sandboxes (finlink serves them
    /// itself; their faults are injected on purpose).
    pub fn default_limits() -> RateLimits {
        RateLimits::default()
            .with_integration(ACCOUNTING_KEY, IntegrationBudgets::UNLIMITED)
            .with_integration(COMMERCE_KEY, IntegrationBudgets::UNLIMITED)
    }

    /// The built-in connectors of the catalog's integrations: the accounting sandbox
    /// (`mqjo`: accounting and banking) and the Commerce Sandbox (`aiwb`), at their catalog
    /// `api_base_url` under [`ConnectorEnv::base_url`]. An integration missing from the catalog
    /// (an operator replaced it) gets no connector.
    pub fn built_in(catalog: &Catalog, env: &ConnectorEnv) -> Result<Self, PullError> {
        let pager = env.pager()?;
        let mut registry = Self::new();
        let base = |key: &str, fallback: &str| {
            env.api_base(
                catalog
                    .get(key)
                    .and_then(|i| i.api_base_url.as_deref())
                    .unwrap_or(fallback),
            )
        };
        if catalog.get(ACCOUNTING_KEY).is_some() {
            let api = base(ACCOUNTING_KEY, "/sandbox/api");
            registry.register(Arc::new(HttpConnector::new(
                SandboxAccounting::new(api.clone()),
                pager.clone(),
            )));
            registry.register(Arc::new(HttpConnector::new(
                SandboxBanking::new(api),
                pager.clone(),
            )));
        }
        if catalog.get(COMMERCE_KEY).is_some() {
            registry.register(Arc::new(HttpConnector::new(
                SandboxCommerce::new(base(COMMERCE_KEY, "/sandbox/commerce/api")),
                pager,
            )));
        }
        Ok(registry)
    }

    /// Adds a connector (after those already there for its integration).
    pub fn register(&mut self, connector: Arc<dyn Connector>) {
        self.connectors.push(connector);
    }

    /// The connectors of an integration.
    pub fn for_integration<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = &'a Arc<dyn Connector>> + 'a {
        self.connectors
            .iter()
            .filter(move |c| c.integration_key() == key)
    }

    /// The connector that pulls `data_type` for an integration.
    pub fn connector(&self, key: &str, data_type: DataType) -> Option<Arc<dyn Connector>> {
        self.for_integration(key)
            .find(|c| c.supports(data_type))
            .cloned()
    }

    /// Every data type an integration's connectors pull (empty: none).
    pub fn data_types(&self, key: &str) -> Vec<DataType> {
        let mut out: Vec<DataType> = self
            .for_integration(key)
            .flat_map(|c| c.data_types().iter().copied())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlink_domain::SystemClock;
    use finlink_domain::connection::SourceType;

    #[test]
    fn built_ins_by_key_and_data_type() {
        let catalog = Catalog::built_in().unwrap();
        let env = ConnectorEnv::new("http://127.0.0.1:8080/", Arc::new(SystemClock));
        let r = ConnectorRegistry::built_in(&catalog, &env).unwrap();
        let inv = r.connector("mqjo", DataType::Invoices).unwrap();
        assert_eq!(inv.source_type(), SourceType::Accounting);
        let bank = r.connector("mqjo", DataType::BankingTransactions).unwrap();
        assert_eq!(bank.source_type(), SourceType::Banking);
        assert!(r.connector("mqjo", DataType::CommerceOrders).is_none());
        assert!(r.connector("aiwb", DataType::CommerceOrders).is_some());
        assert!(r.connector("gbol", DataType::Invoices).is_none());
        assert_eq!(r.data_types("mqjo").len(), 14);
        assert_eq!(r.data_types("aiwb").len(), 5);
        assert!(r.data_types("gbol").is_empty());
        // Every type the catalog lists for the sandboxes has a connector.
        for key in ["mqjo", "aiwb"] {
            for t in &catalog.get(key).unwrap().data_types {
                let t = DataType::parse(t).unwrap();
                assert!(r.connector(key, t).is_some(), "{key} {t}");
            }
        }
        assert_eq!(
            env.api_base("/sandbox/api"),
            "http://127.0.0.1:8080/sandbox/api"
        );
        assert_eq!(env.api_base("https://api.xero.com"), "https://api.xero.com");
    }
}
