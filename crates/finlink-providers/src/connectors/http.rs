//! The paging engine: [`Pager`] fetches one page with the credential, the budgets and the
//! retries; [`HttpConnector`] runs a pull over any platform's [`PageApi`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use finlink_domain::connection::SourceType;
use finlink_domain::data::{DataType, Record};
use finlink_domain::{Clock, Timestamp};
use finlink_vault::SecretString;
use reqwest::header::{ACCEPT, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;

use super::limits::{RateLimiter, Sleeper};
use super::token::TokenError;
use super::{
    ConnectionContext, Connector, Page, PageItem, Progress, PullError, PullRequest, PullSink,
    PullSummary, RejectedRecord,
};

/// How the credential is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `<header>: <key>` (an API key header such as `X-Api-Key`).
    Header(&'static str),
}

impl AuthScheme {
    fn header(self, secret: &SecretString) -> Result<(HeaderName, HeaderValue), PullError> {
        let (name, value) = match self {
            AuthScheme::Bearer => (
                reqwest::header::AUTHORIZATION,
                SecretString::from(format!("Bearer {}", secret.expose())),
            ),
            AuthScheme::Header(h) => (
                HeaderName::from_static(h),
                SecretString::from(secret.expose().clone()),
            ),
        };
        let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
            PullError::Config(String::from(
                "the credential contains characters an HTTP header cannot carry",
            ))
        })?;
        value.set_sensitive(true);
        Ok((name, value))
    }
}

/// One page to ask for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageQuery {
    pub data_type: DataType,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
    pub modified_since: Option<Timestamp>,
}

/// The request for a page: the URL (with its query) and non-secret headers. The credential is
/// added by the [`Pager`].
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub url: url::Url,
    pub headers: Vec<(HeaderName, String)>,
}

/// A page as the platform sent it, split into records.
#[derive(Clone, Debug, Default)]
pub struct RawPage {
    pub records: Vec<Value>,
    /// Another page follows.
    pub has_more: bool,
    pub total_records: Option<u64>,
    pub total_pages: Option<u32>,
}

/// A mapped record.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub source_id: String,
    pub source_modified: Option<Timestamp>,
    pub record: Record,
}

/// Why a record could not be mapped.
#[derive(Clone, Debug)]
pub struct MapFailure {
    pub source_id: Option<String>,
    pub reason: String,
}

impl MapFailure {
    pub fn new(source_id: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            source_id: source_id.map(str::to_owned),
            reason: reason.into(),
        }
    }
}

/// A platform's data API for one source type: everything [`HttpConnector`] needs to know
/// about it.
#[async_trait]
pub trait PageApi: Send + Sync + 'static {
    /// Reference data the mapping needs (account codes to ids ...), fetched once per pull.
    type Refs: Send + Sync;

    fn integration_key(&self) -> &str;
    fn source_type(&self) -> SourceType;
    fn data_types(&self) -> &[DataType];
    fn auth(&self) -> AuthScheme;
    /// The page size when the request names none (the platform's largest).
    fn default_page_size(&self) -> u32;

    /// The request for one page.
    fn page_request(
        &self,
        connection: &ConnectionContext,
        query: &PageQuery,
    ) -> Result<PageRequest, PullError>;

    /// Splits a page's body into records and paging information.
    fn parse_page(&self, query: &PageQuery, body: &[u8]) -> Result<RawPage, PullError>;

    /// Fetches what mapping `data_type` needs (through `pager`, with the same budgets and
    /// retries).
    async fn references(
        &self,
        pager: &Pager,
        connection: &ConnectionContext,
        data_type: DataType,
    ) -> Result<Self::Refs, PullError>;

    /// Maps one record; `fetched_at` is its `modifiedDate`.
    fn map(
        &self,
        data_type: DataType,
        raw: &Value,
        refs: &Self::Refs,
        fetched_at: Timestamp,
    ) -> Result<Mapped, MapFailure>;
}

/// Retries of one page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries of a page after a 5xx, 408 or network failure.
    pub max_transient_retries: u32,
    /// The first backoff; doubled on each retry.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Waits after `429` on one page before giving up with `RateLimitError`.
    pub max_rate_limit_waits: u32,
    /// A longer `Retry-After` is not waited for: the pull ends with `RateLimitError` and the
    /// job runs again later.
    pub max_retry_after: Duration,
    /// The wait after a `429` without `Retry-After`.
    pub default_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_transient_retries: 3,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            max_rate_limit_waits: 10,
            max_retry_after: Duration::from_secs(300),
            default_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// Fetches pages: the credential from the connection's [`super::TokenSource`], the budgets of
/// the shared [`RateLimiter`], and the retries of [`RetryPolicy`]. Cheap to clone.
#[derive(Clone)]
pub struct Pager {
    http: reqwest::Client,
    limiter: Arc<RateLimiter>,
    sleeper: Arc<dyn Sleeper>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl fmt::Debug for Pager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// What one attempt at a page got.
enum Attempt {
    Body(Bytes),
    /// Retry after a backoff of at least this long.
    Transient {
        status: Option<u16>,
        message: String,
        retry_after: Option<Duration>,
    },
    RateLimited(Option<Duration>),
    Unauthorized(String),
    Forbidden(String),
    Failed {
        status: u16,
        message: String,
    },
}

/// `error` / `error_description` / `message` of an error body, short and without the body.
fn error_text(status: u16, body: &[u8]) -> String {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(Value::as_str)
            .map(|s| s.chars().take(200).collect::<String>())
    };
    match (
        field("error"),
        field("error_description").or(field("message")),
    ) {
        (Some(e), Some(d)) => format!("HTTP {status} {e}: {d}"),
        (Some(e), None) => format!("HTTP {status} {e}"),
        (None, Some(d)) => format!("HTTP {status}: {d}"),
        (None, None) => format!("HTTP {status}"),
    }
}

/// A reqwest error without its URL.
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    s
}

fn token_error(e: TokenError) -> PullError {
    match e {
        TokenError::Rejected(m) => PullError::Auth(m),
        TokenError::Unavailable(m) => PullError::TokenUnavailable(m),
    }
}

impl Pager {
    pub fn new(
        http: reqwest::Client,
        limiter: Arc<RateLimiter>,
        sleeper: Arc<dyn Sleeper>,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            limiter,
            sleeper,
            clock,
            retry,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// `Retry-After` as seconds or an HTTP date.
    fn retry_after(&self, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
        let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        if let Ok(secs) = raw.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
        let ms = at.timestamp_millis() - self.clock.now().as_millis();
        Some(Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0)))
    }

    async fn attempt(
        &self,
        auth: AuthScheme,
        token: &SecretString,
        request: &PageRequest,
    ) -> Result<Attempt, PullError> {
        let (auth_name, auth_value) = auth.header(token)?;
        let mut builder = self
            .http
            .get(request.url.clone())
            .header(ACCEPT, "application/json")
            .header(auth_name, auth_value);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let res = match builder.send().await {
            Ok(res) => res,
            Err(e) if e.is_builder() => {
                return Err(PullError::Config(format!(
                    "bad request to the platform: {}",
                    describe(&e)
                )));
            }
            Err(e) => {
                return Ok(Attempt::Transient {
                    status: None,
                    message: format!("platform unreachable: {}", describe(&e)),
                    retry_after: None,
                });
            }
        };
        let status = res.status().as_u16();
        let retry_after = self.retry_after(res.headers());
        let body = match res.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Ok(Attempt::Transient {
                    status: Some(status),
                    message: format!("reading the platform's answer: {}", describe(&e)),
                    retry_after,
                });
            }
        };
        Ok(match status {
            200..=299 => Attempt::Body(body),
            401 => Attempt::Unauthorized(error_text(status, &body)),
            403 => Attempt::Forbidden(error_text(status, &body)),
            429 => Attempt::RateLimited(retry_after),
            408 | 500..=599 => Attempt::Transient {
                status: Some(status),
                message: error_text(status, &body),
                retry_after,
            },
            _ => Attempt::Failed {
                status,
                message: error_text(status, &body),
            },
        })
    }

    /// GETs one page (or any data request) of `connection`, retrying it alone as the module
    /// docs describe.
    pub async fn get(
        &self,
        integration: &str,
        auth: AuthScheme,
        connection: &ConnectionContext,
        request: &PageRequest,
    ) -> Result<Bytes, PullError> {
        let conn = connection.connection_id.as_str();
        let mut transient = 0u32;
        let mut rate_limited = 0u32;
        let mut refreshed = false;
        loop {
            self.limiter
                .acquire(integration, conn, self.sleeper.as_ref())
                .await;
            let token = connection.tokens.token().await.map_err(token_error)?;
            match self.attempt(auth, &token, request).await? {
                Attempt::Body(body) => return Ok(body),
                Attempt::Transient {
                    status,
                    message,
                    retry_after,
                } => {
                    transient += 1;
                    if transient > self.retry.max_transient_retries {
                        return Err(PullError::Platform {
                            status,
                            message: format!(
                                "{message} (after {} retries)",
                                self.retry.max_transient_retries
                            ),
                            transient: true,
                        });
                    }
                    let wait = self
                        .retry
                        .backoff(transient)
                        .max(retry_after.unwrap_or_default());
                    self.sleeper.sleep(wait).await;
                }
                Attempt::RateLimited(retry_after) => {
                    rate_limited += 1;
                    let wait = retry_after.unwrap_or(self.retry.default_retry_after);
                    if rate_limited > self.retry.max_rate_limit_waits
                        || wait > self.retry.max_retry_after
                    {
                        return Err(PullError::RateLimited {
                            retry_after_secs: Some(wait.as_secs()),
                        });
                    }
                    // Every pull of the connection waits; the next acquire sleeps it out.
                    self.limiter.pause_connection(integration, conn, wait);
                }
                Attempt::Unauthorized(message) => {
                    if refreshed {
                        return Err(PullError::Auth(format!("{message}, again after a refresh")));
                    }
                    refreshed = true;
                    connection
                        .tokens
                        .rejected(&token)
                        .await
                        .map_err(token_error)?;
                }
                Attempt::Forbidden(message) => return Err(PullError::Permission(message)),
                Attempt::Failed { status, message } => {
                    return Err(PullError::Platform {
                        status: Some(status),
                        message,
                        transient: false,
                    });
                }
            }
        }
    }

    /// Every record of a data type (reference data), page after page, with `api`'s requests.
    pub async fn fetch_all<A: PageApi + ?Sized>(
        &self,
        api: &A,
        connection: &ConnectionContext,
        data_type: DataType,
    ) -> Result<Vec<Value>, PullError> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let query = PageQuery {
                data_type,
                page,
                page_size: api.default_page_size(),
                modified_since: None,
            };
            let request = api.page_request(connection, &query)?;
            let body = self
                .get(api.integration_key(), api.auth(), connection, &request)
                .await?;
            let raw = api.parse_page(&query, &body)?;
            let done = !raw.has_more || raw.records.is_empty();
            out.extend(raw.records);
            if done {
                return Ok(out);
            }
            page += 1;
        }
    }
}

/// A [`Connector`] over a platform's [`PageApi`].
pub struct HttpConnector<A: PageApi> {
    api: A,
    pager: Pager,
}

impl<A: PageApi> fmt::Debug for HttpConnector<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConnector")
            .field("integration", &self.api.integration_key())
            .field("source_type", &self.api.source_type())
            .finish_non_exhaustive()
    }
}

impl<A: PageApi> HttpConnector<A> {
    pub fn new(api: A, pager: Pager) -> Self {
        Self { api, pager }
    }

    pub fn api(&self) -> &A {
        &self.api
    }
}

#[async_trait]
impl<A: PageApi> Connector for HttpConnector<A> {
    fn integration_key(&self) -> &str {
        self.api.integration_key()
    }

    fn source_type(&self) -> SourceType {
        self.api.source_type()
    }

    fn data_types(&self) -> &[DataType] {
        self.api.data_types()
    }

    async fn pull(
        &self,
        connection: &ConnectionContext,
        request: &PullRequest,
        sink: &mut dyn PullSink,
    ) -> Result<PullSummary, PullError> {
        let data_type = request.data_type;
        if !self.api.data_types().contains(&data_type) {
            return Err(PullError::NotSupported {
                integration: self.api.integration_key().to_owned(),
                data_type,
            });
        }
        let page_size = request
            .page_size
            .unwrap_or_else(|| self.api.default_page_size())
            .max(1);
        let refs = self
            .api
            .references(&self.pager, connection, data_type)
            .await?;
        let mut summary = PullSummary::default();
        let mut number = request.resume_from_page.max(1);
        let mut records_done = 0u64;
        loop {
            let query = PageQuery {
                data_type,
                page: number,
                page_size,
                modified_since: request.modified_since,
            };
            let http_request = self.api.page_request(connection, &query)?;
            let body = self
                .pager
                .get(
                    self.api.integration_key(),
                    self.api.auth(),
                    connection,
                    &http_request,
                )
                .await?;
            let fetched_at = self.pager.now();
            let raw = self.api.parse_page(&query, &body)?;
            drop(body);
            let is_last = !raw.has_more || raw.records.is_empty();
            let mut items = Vec::with_capacity(raw.records.len());
            let mut rejected = Vec::new();
            for value in raw.records {
                match self.api.map(data_type, &value, &refs, fetched_at) {
                    Ok(m) => {
                        if m.source_modified > summary.max_source_modified {
                            summary.max_source_modified = m.source_modified;
                        }
                        items.push(PageItem {
                            source_id: m.source_id,
                            source_modified: m.source_modified,
                            raw: value,
                            record: m.record,
                        });
                    }
                    Err(f) if request.fail_on_mapping_error => {
                        return Err(PullError::Mapping {
                            source_id: f.source_id.unwrap_or_else(|| String::from("(no id)")),
                            reason: f.reason,
                        });
                    }
                    Err(f) => rejected.push(RejectedRecord {
                        source_id: f.source_id,
                        raw: value,
                        reason: f.reason,
                    }),
                }
            }
            summary.pages += 1;
            summary.last_page = number;
            summary.records += items.len() as u64;
            summary.rejected += rejected.len() as u64;
            records_done += (items.len() + rejected.len()) as u64;
            sink.page(Page {
                data_type,
                number,
                items,
                rejected,
                is_last,
                resume_from: (!is_last).then_some(number + 1),
                total_records: raw.total_records,
                total_pages: raw.total_pages,
                fetched_at,
            })
            .await
            .map_err(|e| PullError::Sink(e.0))?;
            sink.progress(&Progress {
                data_type,
                page: number,
                pages_done: summary.pages,
                records: records_done,
                total_pages: raw.total_pages,
                total_records: raw.total_records,
            });
            if is_last {
                return Ok(summary);
            }
            number += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_secs(1));
        assert_eq!(p.backoff(2), Duration::from_secs(2));
        assert_eq!(p.backoff(3), Duration::from_secs(4));
        assert_eq!(p.backoff(40), Duration::from_secs(30));
    }

    #[test]
    fn error_texts_are_short_and_bodiless() {
        assert_eq!(
            error_text(
                500,
                br#"{"error":"server_error","error_description":"boom"}"#
            ),
            "HTTP 500 server_error: boom"
        );
        assert_eq!(error_text(502, b"<html>secret</html>"), "HTTP 502");
        assert_eq!(error_text(400, br#"{"message":"bad"}"#), "HTTP 400: bad");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        use super::super::limits::{ClockSleeper, RateLimits};
        use finlink_domain::ManualClock;
        use reqwest::header::HeaderMap;
        let clock = ManualClock::new(Timestamp::parse("2015-10-21T07:27:00Z").unwrap());
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let pager = Pager::new(
            reqwest::Client::new(),
            Arc::new(RateLimiter::new(
                RateLimits::unlimited(),
                Arc::clone(&shared),
            )),
            Arc::new(ClockSleeper::new(clock)),
            shared,
            RetryPolicy::default(),
        );
        let mut h = HeaderMap::new();
        assert_eq!(pager.retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(pager.retry_after(&h), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(pager.retry_after(&h), Some(Duration::from_secs(60)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:00:00 GMT"),
        );
        assert_eq!(pager.retry_after(&h), Some(Duration::ZERO), "in the past");
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(pager.retry_after(&h), None);
    }

    #[test]
    fn credentials_go_in_sensitive_headers() {
        let s = SecretString::from(String::from("tok"));
        let (n, v) = AuthScheme::Bearer.header(&s).unwrap();
        assert_eq!(n, reqwest::header::AUTHORIZATION);
        assert_eq!(v.to_str().unwrap(), "Bearer tok");
        assert!(v.is_sensitive());
        let (n, v) = AuthScheme::Header("x-api-key").header(&s).unwrap();
        assert_eq!(n.as_str(), "x-api-key");
        assert_eq!(v.to_str().unwrap(), "tok");
        let bad = SecretString::from(String::from("a\nb"));
        assert!(AuthScheme::Bearer.header(&bad).is_err());
    }
}
