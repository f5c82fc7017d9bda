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
//!
//! Grants live in the sandbox's own SQLite file (or in memory), as SHA-256 digests of every
//! token and code, so `finlink sandbox mint` and a running `finlink serve` share them.
//! All time comes from the injected [`Clock`].
//!
//! The routes (relative to the mount point, `/sandbox` in finlink) are listed on
//! [`Sandbox::router`]. The `/admin/*` routes have no authentication: they are for tests and
//! demos, so operators should keep the sandbox disabled in production.

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
}
