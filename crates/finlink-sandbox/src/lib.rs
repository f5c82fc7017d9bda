//! finlink's built-in sandbox accounting platform: an OAuth 2.0 authorization server that
//! behaves like a real provider (Xero, QuickBooks) over HTTP, so every finlink test talks to a
//! real, independent token endpoint.
//!
//! - Authorization code with PKCE (S256 only), a server-rendered consent page without script.
//! - Short-lived access tokens; refresh tokens that rotate on every use; replaying a rotated
//!   refresh token after the grace window revokes the whole grant (see
//!   [`SandboxConfig::refresh_token_grace_secs`]); optional idle expiry; RFC 7009 revocation.
//! - An identity endpoint listing the grant's organisations (tenants), Xero-style.
//! - Test controls: failure injection at the token endpoint and counters.
//! - The Commerce Sandbox platform (catalog key `aiwb`, API base `/sandbox/commerce/api`): stores
//!   reached with an API key (`sk_sandbox_...`, sent as `Authorization: Bearer` or `X-Api-Key`),
//!   so that finlink's Link page can check a pasted key before marking a connection Linked.
//!   Stores are created with [`Sandbox::mint_commerce_store`] or `POST /admin/commerce/stores`.
//!
//! Grants and stores live in the sandbox's own SQLite file (or in memory), as SHA-256 digests
//! of every token, code and API key, so `finlink sandbox mint` and a running `finlink serve`
//! share them.
//! All time comes from the injected [`Clock`].
//!
//! The routes (relative to the mount point, `/sandbox` in finlink) are listed on
//! [`Sandbox::router`]. The `/admin/*` routes have no authentication: they are for tests and
//! demos, so operators should keep the sandbox disabled in production.

mod commerce;
mod config;
mod control;
mod db;
mod grants;
mod routes;
mod secret;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use finlink_domain::{Clock, Timestamp};

pub use config::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxConfig};
pub use control::{Failure, SandboxStats};

use control::{Counters, Injector};
use grants::Ctx;

/// The sandbox's routes, relative to its mount point.
pub mod paths {
    pub const AUTHORIZE: &str = "/oauth/authorize";
    pub const TOKEN: &str = "/oauth/token";
    pub const REVOKE: &str = "/oauth/revoke";
    pub const IDENTITY: &str = "/oauth/identity";
    pub const PING: &str = "/api/ping";
    pub const STYLESHEET: &str = "/assets/sandbox.css";
    pub const ADMIN_MINT: &str = "/admin/mint";
    pub const ADMIN_FAILURES: &str = "/admin/failures";
    pub const ADMIN_STATS: &str = "/admin/stats";
    /// Creates a Commerce Sandbox store and its API key.
    pub const ADMIN_COMMERCE_STORES: &str = "/admin/commerce/stores";
    /// The Commerce Sandbox API's base (the catalog's `api_base_url` is `/sandbox` + this).
    pub const COMMERCE_API: &str = "/commerce/api";
    /// The store an API key reaches: the Commerce Sandbox's key check.
    pub const COMMERCE_STORE: &str = "/commerce/api/store";
}

/// What can go wrong outside an OAuth answer.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("sandbox database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("cannot create the sandbox database directory {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sandbox internal error: {0}")]
    Internal(String),
}

/// A grant as an existing integration would hold it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct MintedGrant {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `"Bearer"`.
    pub token_type: String,
    /// Seconds the access token lives, from `issued_at`.
    pub expires_in: i64,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// RFC 3339, UTC.
    pub issued_at: String,
    pub scope: String,
    /// The grant's first organisation.
    pub tenant_id: String,
    pub company_name: String,
}

/// A Commerce Sandbox store and the API key that reaches it. The key is shown only here: the
/// sandbox keeps its SHA-256 digest alone. `Debug` leaves the key out.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CommerceStore {
    /// `sk_sandbox_` and 32 random base62 characters.
    pub api_key: String,
    /// `store_` and 16 random hex digits.
    pub store_id: String,
    pub store_name: String,
}

impl fmt::Debug for CommerceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommerceStore")
            .field("api_key", &"<redacted>")
            .field("store_id", &self.store_id)
            .field("store_name", &self.store_name)
            .finish()
    }
}

/// The sandbox authorization server. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    config: SandboxConfig,
    clock: Arc<dyn Clock>,
    counters: Counters,
    injector: Injector,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.inner.config)
            .field("stats", &self.inner.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Opens (creating and migrating it if needed) the sandbox database at `path`, or an
    /// in-memory one with `None` (tests). Several processes may open the same file.
    pub fn open(
        path: Option<&Path>,
        config: SandboxConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SandboxError> {
        config.validate()?;
        let conn = db::open(path)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                config,
                clock,
                counters: Counters::default(),
                injector: Injector::default(),
            }),
        })
    }

    /// All routes, relative to the mount point (finlink mounts it at `/sandbox`):
    ///
    /// | method | path | what |
    /// |---|---|---|
    /// | GET | `/oauth/authorize` | validates the request, renders the consent page |
    /// | POST | `/oauth/authorize` | the consent form: approve (code) or deny (`access_denied`) |
    /// | POST | `/oauth/token` | `authorization_code` and `refresh_token` grants |
    /// | POST | `/oauth/revoke` | RFC 7009 revocation |
    /// | GET | `/oauth/identity` | the grant's organisations (Bearer access token) |
    /// | GET | `/api/ping` | a minimal data API call (Bearer access token) |
    /// | GET | `/assets/sandbox.css` | the consent page's stylesheet |
    /// | POST | `/admin/mint` | `{"companyName"}` -> [`MintedGrant`] |
    /// | POST | `/admin/failures` | `{"kind","count"}` -> failure injection |
    /// | GET | `/admin/stats` | [`SandboxStats`] |
    /// | POST | `/admin/commerce/stores` | `{"name"}` (optional, empty body allowed) -> [`CommerceStore`] |
    /// | GET | `/commerce/api/store` | `{"storeId","storeName","currency"}` (API key as `Authorization: Bearer` or `X-Api-Key`) |
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    /// A grant as an existing integration would hold it (migration tests, `finlink sandbox
    /// mint --company NAME`), issued to the first configured client.
    pub async fn mint(&self, company_name: &str) -> Result<MintedGrant, SandboxError> {
        let name = grants::company_name(company_name).map_err(SandboxError::InvalidInput)?;
        let client_id = self
            .inner
            .config
            .clients
            .first()
            .map(|(id, _)| id.clone())
            .ok_or_else(|| SandboxError::Config("no client is configured".to_owned()))?;
        let (issued, orgs) = self
            .with_db(move |conn, ctx| grants::mint(conn, ctx, &client_id, &name))
            .await?;
        let first = orgs
            .into_iter()
            .next()
            .ok_or_else(|| SandboxError::Internal("a grant without organisations".to_owned()))?;
        let refresh_token = issued.refresh_token.ok_or_else(|| {
            SandboxError::Internal("a minted grant without refresh token".to_owned())
        })?;
        Ok(MintedGrant {
            access_token: issued.access_token,
            refresh_token,
            token_type: "Bearer".to_owned(),
            expires_in: issued.expires_in,
            expires_at: issued.expires_at.to_rfc3339(),
            issued_at: issued.issued_at.to_rfc3339(),
            scope: issued.scope,
            tenant_id: first.tenant_id,
            company_name: first.company_name,
        })
    }

    /// A new Commerce Sandbox store and its API key (`finlink sandbox mint-store [--name NAME]`,
    /// `POST /admin/commerce/stores`). Without a name the store is "Sandbox Store <n>", `n` one
    /// more than the stores so far. A name is trimmed, non-empty, at most 100 characters and
    /// without control characters ([`SandboxError::InvalidInput`] otherwise).
    pub async fn mint_commerce_store(
        &self,
        name: Option<&str>,
    ) -> Result<CommerceStore, SandboxError> {
        let name = name
            .map(commerce::store_name)
            .transpose()
            .map_err(SandboxError::InvalidInput)?;
        let (api_key, store) = self
            .with_db(move |conn, ctx| commerce::create_store(conn, ctx.now, name))
            .await?;
        Ok(CommerceStore {
            api_key,
            store_id: store.store_id,
            store_name: store.store_name,
        })
    }

    /// Failure injection: the next `count` token-endpoint calls answer this way. Injections
    /// queue up in order (`ServerError` x2 then `RateLimited` x1 ...); `count == 0` does nothing.
    pub fn inject(&self, failure: Failure, count: u32) {
        self.inner.injector.push(failure, count);
    }

    /// Drops every failure still queued.
    pub fn clear_failures(&self) {
        self.inner.injector.clear();
    }

    /// Counters for tests (this process only, since this value was opened).
    pub fn stats(&self) -> SandboxStats {
        self.inner.counters.snapshot()
    }

    /// The configuration the sandbox runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Runs database work on tokio's blocking pool, with "now" read once beforehand.
    async fn with_db<T, F>(&self, f: F) -> Result<T, SandboxError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Ctx<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let now = self.now();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            let ctx = Ctx {
                now,
                config: &inner.config,
                counters: &inner.counters,
            };
            f(&mut conn, &ctx)
        })
        .await
        .map_err(|e| SandboxError::Internal(format!("database task failed: {e}")))?
        .map_err(SandboxError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlink_domain::ManualClock;

    #[tokio::test]
    async fn mint_validates_the_name() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000)));
        let sb = Sandbox::open(None, SandboxConfig::default(), clock).unwrap();
        assert!(matches!(
            sb.mint("  ").await,
            Err(SandboxError::InvalidInput(_))
        ));
        let g = sb.mint("Acme").await.unwrap();
        assert_eq!(g.company_name, "Acme");
        assert_eq!(g.token_type, "Bearer");
        assert_eq!(g.expires_in, 1800);
        assert_eq!(g.issued_at, "2023-11-14T22:13:20.000Z");
        assert_eq!(g.expires_at, "2023-11-14T22:43:20.000Z");
    }

    #[tokio::test]
    async fn mint_commerce_store_names_validates_and_redacts() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000)));
        let sb = Sandbox::open(None, SandboxConfig::default(), clock).unwrap();
        let first = sb.mint_commerce_store(None).await.unwrap();
        assert_eq!(first.store_name, "Sandbox Store 1");
        assert!(first.api_key.starts_with("sk_sandbox_"));
        assert_eq!(first.api_key.len(), "sk_sandbox_".len() + 32);
        let named = sb
            .mint_commerce_store(Some("  Corner Shop "))
            .await
            .unwrap();
        assert_eq!(named.store_name, "Corner Shop");
        assert_ne!(named.api_key, first.api_key);
        assert_ne!(named.store_id, first.store_id);
        assert_eq!(
            sb.mint_commerce_store(None).await.unwrap().store_name,
            "Sandbox Store 3"
        );
        for bad in ["", "   ", &"x".repeat(101)] {
            assert!(matches!(
                sb.mint_commerce_store(Some(bad)).await,
                Err(SandboxError::InvalidInput(_))
            ));
        }

        let debug = format!("{first:?}");
        assert!(!debug.contains(&first.api_key), "{debug}");
        assert!(debug.contains("<redacted>") && debug.contains(&first.store_id));
        let json = serde_json::to_value(&first).unwrap();
        assert_eq!(json["apiKey"], first.api_key.as_str());
        assert_eq!(json["storeId"], first.store_id.as_str());
        assert_eq!(json["storeName"], "Sandbox Store 1");
        assert_eq!(json.as_object().unwrap().len(), 3);
    }
}
