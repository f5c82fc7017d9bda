//! Connectors: pulling one data type of one connection from a platform's API, page by page,
//! mapped to Codat's data models ([`finlink_domain::data`]).
//!
//! # Shape
//!
//! - [`Connector`] is the one object-safe trait the sync engine sees: `pull(connection,
//!   request, sink)` for any [`DataType`] the connector lists in [`Connector::data_types`].
//!   There is one connector per integration and source type (the accounting sandbox has an
//!   accounting and a banking connector under the same key); the [`ConnectorRegistry`] finds
//!   them by integration key and data type. The data type is an argument rather than a method
//!   per type because the sync engine dispatches on the name it dequeued
//!   (`data/queue/{dataType}`), and an unsupported type is a value (`NotSupported`), as in Codat.
//! - [`HttpConnector`] implements [`Connector`] for any platform described by a [`PageApi`]:
//!   how to ask for a page, how to read one, what reference data mapping needs, how to map a
//!   record. The paging loop, the token handling, rate limits and retries live once, in
//!   [`HttpConnector`] and [`Pager`]; a platform adds only its [`PageApi`].
//! - [`sandbox`]: the built-in sandboxes' [`PageApi`]s (accounting, banking, commerce).
//!
//! # A pull
//!
//! 1. Reference data first, when the type's mapping needs it (the chart of accounts and tax
//!    rates for documents' `accountRef` and `taxRateRef`, bank accounts for transactions);
//!    fetched through the same [`Pager`], not reported as pages.
//! 2. Pages from [`PullRequest::resume_from_page`] on (1 = the start), with
//!    [`PullRequest::modified_since`] when incremental. Every page asks the caller's
//!    [`TokenSource`] for the current credential (finlink's single-flight refresh path keeps it
//!    fresh), takes a request from the shared [`RateLimiter`] (per-integration and
//!    per-connection budgets), and is retried on its own (never the whole pull):
//!    - `429`: waits `Retry-After` (default [`RetryPolicy::default_retry_after`]) and asks for
//!      the same page again; the wait also pauses every other pull of the connection (the
//!      limiter is shared). More than [`RetryPolicy::max_rate_limit_waits`] waits on one page,
//!      or a `Retry-After` beyond [`RetryPolicy::max_retry_after`], ends the pull with
//!      [`PullError::RateLimited`] (Codat's `RateLimitError`) for the job to reschedule.
//!    - `5xx`, `408` and network errors: up to [`RetryPolicy::max_transient_retries`] retries
//!      with exponential backoff; `503` waits at least its `Retry-After`. Then
//!      [`PullError::Platform`] (`FetchError`).
//!    - `401`: [`TokenSource::rejected`] (one refresh), then the page once more; a second `401`
//!      is [`PullError::Auth`] (`AuthError`: the connection needs relinking).
//!    - `403`: [`PullError::Permission`] (`PermissionsError`).
//! 3. Each page goes to the caller's [`PullSink`] as one [`Page`]: for every record the raw JSON
//!    as the platform sent it, the mapped Codat record, its source id and source modified time.
//!    The caller stores the page (in one transaction) and remembers [`Page::resume_from`]: a
//!    pull that dies resumes there, without duplicates. [`PullSink::progress`] follows every
//!    page (pages and records so far, totals when the platform says).
//!
//! Waiting (backoff, `Retry-After`, budgets) goes through a [`Sleeper`] and time through the
//! injected [`finlink_domain::Clock`], so tests wait without sleeping ([`ClockSleeper`]).
//!
//! # Mapping errors
//!
//! A record that cannot be mapped (a missing id, an unknown document type) does not stop the
//! pull: it is returned in [`Page::rejected`] with its raw JSON and the reason, counted in
//! [`PullSummary::rejected`], and the other records of the page are stored. The sync engine
//! reports them as issues of a `Complete` dataset. Set
//! [`PullRequest::fail_on_mapping_error`] to end the pull at the first such record instead,
//! with [`PullError::Mapping`] (Codat's `MapError`).
//!
//! # Secrets
//!
//! Credentials are [`finlink_vault::SecretString`]s from the [`TokenSource`], exposed only to
//! build the request's header (marked sensitive); no error or page carries them, and no URL
//! carries a credential.

mod http;
mod limits;
mod registry;
pub mod sandbox;
mod token;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use finlink_domain::Timestamp;
use finlink_domain::connection::SourceType;
use finlink_domain::data::{DataType, DatasetStatus, Record};
use serde_json::Value;

pub use http::{
    AuthScheme, HttpConnector, MapFailure, Mapped, PageApi, PageQuery, PageRequest, Pager, RawPage,
    RetryPolicy,
};
pub use limits::{
    Budget, ClockSleeper, IntegrationBudgets, RateLimiter, RateLimits, Sleeper, TokioSleeper,
};
pub use registry::{ConnectorEnv, ConnectorRegistry};
pub use token::{StaticToken, TokenError, TokenSource};

/// The connection a pull is for: its id (the per-connection budget's key), its non-secret
/// platform settings (the sandbox's `tenantId` ...), and where its credential comes from.
#[derive(Clone)]
pub struct ConnectionContext {
    pub connection_id: String,
    /// Non-secret settings of the connection, by the catalog's field names.
    pub settings: BTreeMap<String, String>,
    pub tokens: Arc<dyn TokenSource>,
}

impl fmt::Debug for ConnectionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionContext")
            .field("connection_id", &self.connection_id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ConnectionContext {
    pub fn new(connection_id: impl Into<String>, tokens: Arc<dyn TokenSource>) -> Self {
        Self {
            connection_id: connection_id.into(),
            settings: BTreeMap::new(),
            tokens,
        }
    }

    /// With a setting (e.g. `tenantId`).
    pub fn with_setting(mut self, name: &str, value: impl Into<String>) -> Self {
        self.settings.insert(name.to_owned(), value.into());
        self
    }

    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// What to pull.
#[derive(Clone, Debug, PartialEq)]
pub struct PullRequest {
    pub data_type: DataType,
    /// Only records modified at or after this instant (an incremental pull), where the platform
    /// can filter; `None` pulls everything. Keep it the same when resuming a pull.
    pub modified_since: Option<Timestamp>,
    /// The first page to fetch, 1-based: 1 from the start, [`Page::resume_from`] of the last
    /// stored page to resume.
    pub resume_from_page: u32,
    /// Records per page; `None` for the connector's default (its platform's largest page).
    pub page_size: Option<u32>,
    /// End the pull with [`PullError::Mapping`] at the first record that cannot be mapped,
    /// instead of reporting it in [`Page::rejected`] and going on.
    pub fail_on_mapping_error: bool,
}

impl PullRequest {
    /// Every record of `data_type`, from the first page.
    pub fn full(data_type: DataType) -> Self {
        Self {
            data_type,
            modified_since: None,
            resume_from_page: 1,
            page_size: None,
            fail_on_mapping_error: false,
        }
    }

    pub fn modified_since(mut self, since: Timestamp) -> Self {
        self.modified_since = Some(since);
        self
    }

    pub fn resume_from(mut self, page: u32) -> Self {
        self.resume_from_page = page;
        self
    }

    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }
}

/// One record of a page.
#[derive(Clone, Debug)]
pub struct PageItem {
    /// The record's id in the platform (also the mapped record's `id`).
    pub source_id: String,
    /// When the platform last changed it, when it says.
    pub source_modified: Option<Timestamp>,
    /// The record exactly as the platform sent it.
    pub raw: Value,
    /// The record in Codat's shape.
    pub record: Record,
}

/// A record that could not be mapped (see the module docs on mapping errors).
#[derive(Clone, Debug)]
pub struct RejectedRecord {
    pub source_id: Option<String>,
    pub raw: Value,
    pub reason: String,
}

/// One page of a pull, for the caller to store in one go.
#[derive(Clone, Debug)]
pub struct Page {
    pub data_type: DataType,
    /// 1-based page number.
    pub number: u32,
    pub items: Vec<PageItem>,
    pub rejected: Vec<RejectedRecord>,
    /// No page follows.
    pub is_last: bool,
    /// The page to resume from once this one is stored (`number + 1`); `None` after the last.
    pub resume_from: Option<u32>,
    /// The platform's record count for the whole pull, when it says.
    pub total_records: Option<u64>,
    /// The platform's page count, when it says.
    pub total_pages: Option<u32>,
    /// When the page was fetched (finlink's clock): the records' `modifiedDate`.
    pub fetched_at: Timestamp,
}

/// How far a pull is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub data_type: DataType,
    /// The last page handed to the sink.
    pub page: u32,
    /// Pages handed over in this run (a resumed pull starts at zero).
    pub pages_done: u32,
    /// Records (mapped and rejected) handed over in this run.
    pub records: u64,
    pub total_pages: Option<u32>,
    pub total_records: Option<u64>,
}

impl Progress {
    /// Percent done (Codat's integer `progress`), when the page count is known.
    pub fn percent(&self) -> Option<u8> {
        let total = self.total_pages?;
        if total == 0 {
            return Some(100);
        }
        let pct = u64::from(self.page.min(total)) * 100 / u64::from(total);
        u8::try_from(pct).ok()
    }
}

/// What a sink could not do (the pull stops with [`PullError::Sink`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Where a pull's pages go: the caller stores each page before the next is fetched.
#[async_trait]
pub trait PullSink: Send {
    /// Stores one page. An error stops the pull; the page is asked for again on resume.
    async fn page(&mut self, page: Page) -> Result<(), SinkError>;

    /// Called after each stored page.
    fn progress(&mut self, _progress: &Progress) {}
}

/// What a finished pull did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullSummary {
    /// Pages handed to the sink in this run.
    pub pages: u32,
    /// Mapped records handed over.
    pub records: u64,
    /// Records that could not be mapped.
    pub rejected: u64,
    /// The last page fetched (0 when none was).
    pub last_page: u32,
    /// The latest source modified instant seen: the next incremental pull's `modified_since`
    /// (filters are inclusive, so that record comes again, and nothing is missed).
    pub max_source_modified: Option<Timestamp>,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The platform refused the credential, after one refresh (`AuthError`).
    #[error("the platform refused the credentials: {0}")]
    Auth(String),
    /// The platform refused access to this data (`PermissionsError`).
    #[error("the platform refused access: {0}")]
    Permission(String),
    /// Still rate limited after the waits allowed (`RateLimitError`).
    #[error("rate limited by the platform{}", retry_after_secs.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    RateLimited { retry_after_secs: Option<u64> },
    /// The platform failed (5xx or unreachable beyond the retries, an unexpected answer)
    /// (`FetchError`).
    #[error("the platform failed{}: {message}", status.map(|s| format!(" with {s}")).unwrap_or_default())]
    Platform {
        status: Option<u16>,
        message: String,
        /// Worth trying again later (a 5xx or network failure, not a malformed answer).
        transient: bool,
    },
    /// A record could not be mapped and the request asked to stop (`MapError`).
    #[error("record {source_id} could not be mapped: {reason}")]
    Mapping { source_id: String, reason: String },
    /// The connector does not serve this data type (`NotSupported`).
    #[error("{integration} does not provide {data_type}")]
    NotSupported {
        integration: String,
        data_type: DataType,
    },
    /// The connection lacks a setting the platform needs (`PrerequisiteNotMet`).
    #[error("the connection is not set up for this pull: {0}")]
    Config(String),
    /// The token source could not give a credential for now (a refresh failed transiently)
    /// (`FetchError`).
    #[error("no credential available for now: {0}")]
    TokenUnavailable(String),
    /// The sink failed (`InternalError`).
    #[error("storing the page failed: {0}")]
    Sink(String),
}

impl PullError {
    /// The dataset status a pull that ended with this error gets.
    pub fn dataset_status(&self) -> DatasetStatus {
        match self {
            PullError::Auth(_) => DatasetStatus::AuthError,
            PullError::Permission(_) => DatasetStatus::PermissionsError,
            PullError::RateLimited { .. } => DatasetStatus::RateLimitError,
            PullError::Platform { .. } | PullError::TokenUnavailable(_) => {
                DatasetStatus::FetchError
            }
            PullError::Mapping { .. } => DatasetStatus::MapError,
            PullError::NotSupported { .. } => DatasetStatus::NotSupported,
            PullError::Config(_) => DatasetStatus::PrerequisiteNotMet,
            PullError::Sink(_) => DatasetStatus::InternalError,
        }
    }

    /// Worth running again later from the last stored page, without anyone acting.
    pub fn is_retryable(&self) -> bool {
        match self {
            PullError::RateLimited { .. } | PullError::TokenUnavailable(_) | PullError::Sink(_) => {
                true
            }
            PullError::Platform { transient, .. } => *transient,
            _ => false,
        }
    }
}

/// A platform's data API, for one source type, as the sync engine sees it.
#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    /// The integration's catalog key (`mqjo`, `aiwb` ...).
    fn integration_key(&self) -> &str;

    fn source_type(&self) -> SourceType;

    /// The data types [`Connector::pull`] serves.
    fn data_types(&self) -> &[DataType];

    fn supports(&self, data_type: DataType) -> bool {
        self.data_types().contains(&data_type)
    }

    /// Pulls one data type of one connection into `sink`, page by page (see the module docs).
    async fn pull(
        &self,
        connection: &ConnectionContext,
        request: &PullRequest,
        sink: &mut dyn PullSink,
    ) -> Result<PullSummary, PullError>;
}
