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
//! - A data API in the platforms' own shapes, generated on the fly per organisation or store:
//!   see below.
//!
//! Grants and stores live in the sandbox's own SQLite file (or in memory), as SHA-256 digests
//! of every token, code and API key, so `finlink sandbox mint` and a running `finlink serve`
//! share them.
//! All time comes from the injected [`Clock`].
//!
//! # Data API
//!
//! The accounting platform (catalog key `mqjo`, API base `/sandbox/api`) serves company info,
//! chart of accounts, tax rates, customers, suppliers, invoices, bills, payments, credit notes,
//! manual journals (journal entries), bank accounts and bank transactions in Xero-like shapes
//! (`InvoiceID`, `Contact`, `LineItems`, `SubTotal`/`TotalTax`/`Total`, `CurrencyCode`,
//! `UpdatedDateUTC` ...), to a Bearer access token of a grant; `X-Tenant-Id` names the
//! organisation when the grant reaches several. The Commerce Sandbox serves its shop, customers,
//! orders, products and payments in Shopify/Stripe-like shapes (snake_case, string prices,
//! minor-unit payment amounts) to a store's API key. The routes are listed on
//! [`Sandbox::router`] and under [`paths`]; `docs/sandbox-data.md` has the shapes.
//!
//! - **Generated, not stored.** Record `i` of a type is a pure function of the owner's seed
//!   (from its tenant or store id), its [`DataProfile`] (counts per [`DataType`]), `i`, and the
//!   record's touch version, so pages of a 1M-record type cost what their records cost. Values
//!   are realistic and consistent: five base countries and currencies (GBP, USD, EUR, AUD,
//!   CAD) with their tax regimes, foreign customers invoiced in their currency, totals that add
//!   up, payments that pay what their invoices say, balanced journals, running bank balances.
//! - **Size.** [`DataProfile::default`] until [`Sandbox::set_data_profile`],
//!   `POST /admin/data/{id}` or a mint with `data` ([`Sandbox::mint_with_data`]) changes it;
//!   the profile is in the SQLite file, shared with `finlink sandbox mint`.
//! - **Paging and modified-since.** `page`/`pageSize` (`page`/`limit` for the shop; at most
//!   [`MAX_PAGE_SIZE`]) in index order, stable when records are touched mid-pull;
//!   `modifiedSince` / `If-Modified-Since` (`updated_at_min`) is inclusive. Generated modified
//!   instants increase with the index (a binary search); [`Sandbox::touch_data`] (or
//!   `POST /admin/data/{id}/touch`) simulates edits: a changed field and a modified instant of
//!   now, after every generated one.
//! - **Faults.** [`Sandbox::inject_data_failure`] or `POST /admin/data-failures`: 429 with
//!   `Retry-After`, 500, 503, or 401 `invalid_token`, to the next K data requests or those of
//!   one type and page. [`SandboxStats`] counts data requests (per type), injected failures and
//!   records served.
//!
//! The routes (relative to the mount point, `/sandbox` in finlink) are listed on
//! [`Sandbox::router`]. The `/admin/*` routes have no authentication: they are for tests and
//! demos, so operators should keep the sandbox disabled in production.

mod commerce;
mod config;
mod control;
mod data;
mod db;
mod grants;
mod routes;
mod secret;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use finlink_domain::{Clock, Timestamp};

pub use config::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxConfig};
pub use control::{DataFailure, DataFailureKind, Failure, SandboxStats};
pub use data::{DataProfile, DataProfileUpdate, DataType, MAX_BANK_ACCOUNTS, MAX_RECORDS};

use control::{Counters, DataInjector, Injector};
use data::page::Gen;
use data::store::{self as data_store, Owner};
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

    /// Accounting data API (Bearer access token; `X-Tenant-Id` names the organisation). Each
    /// list path also serves one record at `{path}/{id}` (company info excepted).
    pub const DATA_ORGANISATION: &str = "/api/organisation";
    pub const DATA_ACCOUNTS: &str = "/api/accounts";
    pub const DATA_TAX_RATES: &str = "/api/tax-rates";
    pub const DATA_CUSTOMERS: &str = "/api/customers";
    pub const DATA_SUPPLIERS: &str = "/api/suppliers";
    pub const DATA_INVOICES: &str = "/api/invoices";
    pub const DATA_BILLS: &str = "/api/bills";
    pub const DATA_PAYMENTS: &str = "/api/payments";
    pub const DATA_CREDIT_NOTES: &str = "/api/credit-notes";
    pub const DATA_MANUAL_JOURNALS: &str = "/api/manual-journals";
    pub const DATA_BANK_ACCOUNTS: &str = "/api/bank-accounts";
    pub const DATA_BANK_TRANSACTIONS: &str = "/api/bank-transactions";
    /// The header naming the organisation of an accounting data request (optional when the
    /// grant reaches one organisation).
    pub const TENANT_HEADER: &str = "x-tenant-id";

    /// Commerce Sandbox data API (store API key). Each list path also serves one record at
    /// `{path}/{id}` (the shop excepted).
    pub const COMMERCE_SHOP: &str = "/commerce/api/shop";
    pub const COMMERCE_CUSTOMERS: &str = "/commerce/api/customers";
    pub const COMMERCE_ORDERS: &str = "/commerce/api/orders";
    pub const COMMERCE_PRODUCTS: &str = "/commerce/api/products";
    pub const COMMERCE_PAYMENTS: &str = "/commerce/api/payments";

    /// `GET`, `POST` (a profile update) or `DELETE` (reset) an owner's data settings; the
    /// owner is an organisation's tenant id or a store id. Use [`admin_data`].
    pub const ADMIN_DATA: &str = "/admin/data/{id}";
    /// `POST {"type", "count" | "indices"}`: touch records. Use [`admin_data_touch`].
    pub const ADMIN_DATA_TOUCH: &str = "/admin/data/{id}/touch";
    /// `POST` a [`crate::DataFailure`], `DELETE` to clear them.
    pub const ADMIN_DATA_FAILURES: &str = "/admin/data-failures";

    /// [`ADMIN_DATA`] for an owner.
    pub fn admin_data(owner_id: &str) -> String {
        format!("/admin/data/{owner_id}")
    }

    /// [`ADMIN_DATA_TOUCH`] for an owner.
    pub fn admin_data_touch(owner_id: &str) -> String {
        format!("/admin/data/{owner_id}/touch")
    }
}

/// The largest page of the data API (`pageSize`, `limit`).
pub const MAX_PAGE_SIZE: u64 = 1000;
/// The most records one touch call may touch.
pub const MAX_TOUCH: u64 = 100_000;

/// What can go wrong outside an OAuth answer.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    #[error("{0}")]
    InvalidInput(String),
    /// No organisation or store has this id.
    #[error("{0}")]
    NotFound(String),
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

/// An owner's data settings: what the data API serves it (`GET /admin/data/{id}`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DataInfo {
    /// The organisation's tenant id or the store's id.
    pub owner_id: String,
    /// `"organisation"` or `"store"`.
    pub kind: String,
    pub name: String,
    /// ISO 3166 country of the organisation (stores are all `GB`).
    pub country: String,
    pub base_currency: String,
    pub profile: DataProfile,
    /// Records per data type of this owner's kind (accounting or commerce types).
    pub counts: BTreeMap<DataType, u64>,
    /// Touched records per data type (types without touches are left out).
    pub touched: BTreeMap<DataType, u64>,
}

/// Which records to touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TouchSelection {
    /// This many records spread evenly over the type (`(2k + 1) * n / (2 * count)`).
    Spread(u64),
    /// These indexes (0-based, each below the type's count).
    Indices(Vec<u64>),
}

/// Records just touched.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Touched {
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Their new modified instant, RFC 3339: the sandbox's now, and never before the end of
    /// the generated data (so they sort after every untouched record).
    pub modified_at: String,
    pub indices: Vec<u64>,
    /// Their ids, in the data API's format.
    pub ids: Vec<String>,
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
    data_faults: DataInjector,
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
                data_faults: DataInjector::default(),
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
    /// | GET | `/api/organisation` | company info `{"Organisations":[{...}]}` (Bearer access token, `X-Tenant-Id`) |
    /// | GET | `/api/{accounts,tax-rates,customers,suppliers,invoices,bills,payments,credit-notes,manual-journals,bank-accounts,bank-transactions}` | a page: `{"pagination":{"page","pageSize","pageCount","itemCount"},"<Key>":[...]}`; `?page=1&pageSize=100&modifiedSince=<RFC 3339>` (or `If-Modified-Since`), `bankAccountId` for bank transactions |
    /// | GET | `/api/<type>/{id}` | one record, `{"<Key>":[{...}]}` |
    /// | GET | `/commerce/api/shop` | `{"shop":{...}}` (store API key) |
    /// | GET | `/commerce/api/{customers,orders,products,payments}` | `{"<type>":[...],"page","limit","total_count","has_more"}`; `?page=1&limit=50&updated_at_min=<RFC 3339>` |
    /// | GET | `/commerce/api/<type>/{id}` | one record, `{"customer":{...}}` ... |
    /// | GET | `/admin/data/{id}` | [`DataInfo`] of an organisation (tenant id) or a store (store id) |
    /// | POST | `/admin/data/{id}` | a [`DataProfileUpdate`] -> [`DataInfo`] |
    /// | DELETE | `/admin/data/{id}` | back to the default profile, touches forgotten -> [`DataInfo`] |
    /// | POST | `/admin/data/{id}/touch` | `{"type","count"}` or `{"type","indices"}` -> [`Touched`] |
    /// | POST | `/admin/data-failures` | a [`DataFailure`] -> 204 |
    /// | DELETE | `/admin/data-failures` | clears injected data failures -> 204 |
    ///
    /// `POST /admin/mint` and `POST /admin/commerce/stores` also take `"data"`: a
    /// [`DataProfileUpdate`] for the new organisations or store. The data API is described in
    /// `docs/sandbox-data.md`.
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
    /// `POST /admin/commerce/stores`). Without a name the store is `Sandbox Store <n>`, `n` one
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

    /// Failure injection for data requests (accounting and commerce): see [`DataFailure`].
    /// Injections are checked in order; `count == 0` does nothing.
    pub fn inject_data_failure(&self, failure: DataFailure) {
        self.inner.data_faults.push(failure);
    }

    /// Drops every data failure still queued.
    pub fn clear_data_failures(&self) {
        self.inner.data_faults.clear();
    }

    /// A grant as [`Sandbox::mint`] makes it, whose organisations get `data` applied to the
    /// default profile. The update is checked first: nothing is minted when it is invalid.
    pub async fn mint_with_data(
        &self,
        company_name: &str,
        data: &DataProfileUpdate,
    ) -> Result<MintedGrant, SandboxError> {
        let profile = DataProfile::default()
            .with(data)
            .map_err(SandboxError::InvalidInput)?;
        let grant = self.mint(company_name).await?;
        let tenant = grant.tenant_id.clone();
        self.with_db(move |conn, ctx| {
            let grant_id: String = conn.query_row(
                "SELECT grant_id FROM organisations WHERE tenant_id = ?1",
                [&tenant],
                |r| r.get(0),
            )?;
            let mut stmt =
                conn.prepare("SELECT tenant_id FROM organisations WHERE grant_id = ?1")?;
            let tenants = stmt
                .query_map([&grant_id], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for t in tenants {
                data_store::save_profile(conn, &t, &profile, ctx.now.as_millis())?;
            }
            Ok(())
        })
        .await?;
        Ok(grant)
    }

    /// What the data API serves an owner: an organisation (its tenant id) or a store (its id).
    pub async fn data_info(&self, owner_id: &str) -> Result<DataInfo, SandboxError> {
        let id = owner_id.to_owned();
        self.with_db(move |conn, _| {
            let Some(owner) = data_store::find_owner(conn, &id)? else {
                return Ok(Err(not_found(&id)));
            };
            let profile = data_store::profile(conn, &id)?;
            data_info(conn, &owner, profile).map(Ok)
        })
        .await?
    }

    /// The record counts per data type of an owner (see [`Sandbox::data_info`]).
    pub async fn data_counts(
        &self,
        owner_id: &str,
    ) -> Result<BTreeMap<DataType, u64>, SandboxError> {
        Ok(self.data_info(owner_id).await?.counts)
    }

    /// Changes some of an owner's counts (the rest stay). Kept in the sandbox database, so a
    /// running server and `finlink sandbox mint` share it. [`SandboxError::InvalidInput`] if
    /// the result breaks a rule of [`DataProfile`]; [`SandboxError::NotFound`] for an unknown
    /// owner.
    pub async fn set_data_profile(
        &self,
        owner_id: &str,
        update: &DataProfileUpdate,
    ) -> Result<DataInfo, SandboxError> {
        let id = owner_id.to_owned();
        let update = *update;
        self.with_db(move |conn, ctx| {
            let Some(owner) = data_store::find_owner(conn, &id)? else {
                return Ok(Err(not_found(&id)));
            };
            let profile = match data_store::profile(conn, &id)?.with(&update) {
                Ok(p) => p,
                Err(m) => return Ok(Err(SandboxError::InvalidInput(m))),
            };
            data_store::save_profile(conn, &id, &profile, ctx.now.as_millis())?;
            data_info(conn, &owner, profile).map(Ok)
        })
        .await?
    }

    /// Back to the default profile; touched records are forgotten.
    pub async fn reset_data(&self, owner_id: &str) -> Result<DataInfo, SandboxError> {
        let id = owner_id.to_owned();
        self.with_db(move |conn, _| {
            let Some(owner) = data_store::find_owner(conn, &id)? else {
                return Ok(Err(not_found(&id)));
            };
            data_store::reset(conn, &id)?;
            data_info(conn, &owner, DataProfile::default()).map(Ok)
        })
        .await?
    }

    /// Simulates edits: the selected records of a list type get a changed field (a ` (rev N)`
    /// suffix, a new e-mail address, a stock level ... see `docs/sandbox-data.md`) and a modified
    /// instant of now (never before the end of the generated data), so a modified-since pull
    /// from before now finds them.
    pub async fn touch_data(
        &self,
        owner_id: &str,
        data_type: DataType,
        selection: TouchSelection,
    ) -> Result<Touched, SandboxError> {
        let id = owner_id.to_owned();
        self.with_db(move |conn, ctx| {
            let Some(owner) = data_store::find_owner(conn, &id)? else {
                return Ok(Err(not_found(&id)));
            };
            if data_type.is_single() || data_type.is_commerce() != owner.is_store() {
                return Ok(Err(SandboxError::InvalidInput(format!(
                    "{data_type} records of {} cannot be touched: touch one of its list types.",
                    owner.id()
                ))));
            }
            let profile = data_store::profile(conn, &id)?;
            let generator = generator(&owner, &profile);
            let n = generator.count(data_type);
            let indices = match touch_indices(selection, n) {
                Ok(i) => i,
                Err(m) => return Ok(Err(SandboxError::InvalidInput(m))),
            };
            let at = ctx.now.as_millis().max(data::timing::GENERATED_END_MS + 1);
            data_store::touch(conn, &id, data_type, &indices, at)?;
            let ids = indices
                .iter()
                .map(|i| generator.id_string(data_type, *i))
                .collect();
            Ok(Ok(Touched {
                data_type,
                modified_at: Timestamp::from_millis(at).to_rfc3339(),
                indices,
                ids,
            }))
        })
        .await?
    }

    /// Record `index` of a type, exactly as the data API serves it (touches included), or
    /// `None` past the owner's count: for tests checking what finlink stored against what the
    /// sandbox generated.
    pub async fn data_record(
        &self,
        owner_id: &str,
        data_type: DataType,
        index: u64,
    ) -> Result<Option<serde_json::Value>, SandboxError> {
        let id = owner_id.to_owned();
        self.with_db(move |conn, _| {
            let Some(owner) = data_store::find_owner(conn, &id)? else {
                return Ok(Err(not_found(&id)));
            };
            let profile = data_store::profile(conn, &id)?;
            let generator = generator(&owner, &profile);
            if data_type.is_commerce() != owner.is_store() || index >= generator.count(data_type) {
                return Ok(Ok(None));
            }
            let touch = data_store::touch_of(conn, &id, data_type, index)?;
            let mut out = Vec::new();
            let written = generator.write(data_type, index, touch, &mut out);
            Ok(written
                .and_then(|()| serde_json::from_slice(&out))
                .map(Some)
                .map_err(|e| SandboxError::Internal(format!("cannot render a record: {e}"))))
        })
        .await?
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

fn not_found(id: &str) -> SandboxError {
    SandboxError::NotFound(format!(
        "No sandbox organisation (tenant id) or commerce store (store id) is \"{id}\"."
    ))
}

/// The generator of an owner's records under a profile.
fn generator<'a>(owner: &'a Owner, profile: &'a DataProfile) -> Gen<'a> {
    match owner {
        Owner::Organisation { tenant_id, name } => {
            Gen::Org(data::accounting::Org::new(tenant_id, name, profile))
        }
        Owner::Store { store_id, name } => {
            Gen::Shop(data::commerce::Shop::new(store_id, name, profile))
        }
    }
}

fn data_info(
    conn: &rusqlite::Connection,
    owner: &Owner,
    profile: DataProfile,
) -> rusqlite::Result<DataInfo> {
    let (kind, country, currency) = match generator(owner, &profile) {
        Gen::Org(org) => ("organisation", org.country.code, org.country.currency),
        Gen::Shop(_) => ("store", "GB", commerce::STORE_CURRENCY),
    };
    let counts = profile.counts(
        owner.is_store(),
        data::world::COUNTRIES.iter().find(|c| c.code == country),
    );
    let touched = data_store::touch_counts(conn, owner.id(), &counts)?;
    Ok(DataInfo {
        owner_id: owner.id().to_owned(),
        kind: kind.to_owned(),
        name: owner.name().to_owned(),
        country: country.to_owned(),
        base_currency: currency.to_owned(),
        profile,
        counts,
        touched,
    })
}

fn touch_indices(selection: TouchSelection, n: u64) -> Result<Vec<u64>, String> {
    let indices = match selection {
        TouchSelection::Spread(count) => {
            if count > MAX_TOUCH {
                return Err(format!(
                    "at most {MAX_TOUCH} records can be touched at once."
                ));
            }
            if count == 0 || count > n {
                return Err(format!(
                    "count must be between 1 and the number of records ({n})."
                ));
            }
            (0..count)
                .map(|k| ((2 * u128::from(k) + 1) * u128::from(n) / (2 * u128::from(count))) as u64)
                .collect()
        }
        TouchSelection::Indices(mut v) => {
            v.sort_unstable();
            v.dedup();
            if v.is_empty() {
                return Err("indices must list at least one record.".to_owned());
            }
            if let Some(bad) = v.iter().find(|i| **i >= n) {
                return Err(format!(
                    "index {bad} is out of range: there are {n} records."
                ));
            }
            v
        }
    };
    if indices.len() as u64 > MAX_TOUCH {
        return Err(format!(
            "at most {MAX_TOUCH} records can be touched at once."
        ));
    }
    Ok(indices)
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
