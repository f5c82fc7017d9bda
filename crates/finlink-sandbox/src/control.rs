//! Test controls: failure injection at the token endpoint and at the data API, and request
//! counters. They live in the process (they are not in the database): each `Sandbox` value
//! counts what it served.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::data::DataType;

/// How an injected failure makes the token endpoint answer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Failure {
    /// `500 Internal Server Error`, `{"error":"server_error"}`.
    ServerError,
    /// `400 Bad Request`, `{"error":"invalid_grant"}` (nothing is actually revoked).
    InvalidGrant,
    /// `503 Service Unavailable`, `Retry-After: 5`, `{"error":"temporarily_unavailable"}`.
    TemporarilyUnavailable,
    /// `429 Too Many Requests`, `Retry-After: 1`, `{"error":"rate_limited"}`.
    RateLimited,
}

/// What the sandbox has served since this `Sandbox` value was opened.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxStats {
    /// Every request to the token endpoint, whatever its outcome (injected failures included).
    pub token_requests: u64,
    /// Token-endpoint requests with `grant_type=refresh_token`, whatever their outcome.
    pub refresh_requests: u64,
    /// Token-endpoint requests with `grant_type=authorization_code`, whatever their outcome.
    pub code_exchanges: u64,
    /// Token-endpoint requests answered by an injected failure.
    pub failures_injected: u64,
    /// Grants revoked: refresh-token reuse, authorization-code replay, or the revocation endpoint.
    pub grants_revoked: u64,
    /// Every request to the Commerce Sandbox API (`/commerce/api/*`), whatever its outcome
    /// (its data requests included).
    pub commerce_requests: u64,
    /// Every request to the data API (accounting `/api/*` data types and the shop's data
    /// types), whatever its outcome.
    pub data_requests: u64,
    /// Data requests answered by an injected [`DataFailure`].
    pub data_failures_injected: u64,
    /// Records sent in successful data responses (a list page of 100 counts 100).
    pub data_records_served: u64,
    /// [`SandboxStats::data_requests`] by data type name (types never requested are left out).
    pub data_requests_by_type: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub token_requests: AtomicU64,
    pub refresh_requests: AtomicU64,
    pub code_exchanges: AtomicU64,
    pub failures_injected: AtomicU64,
    pub grants_revoked: AtomicU64,
    pub commerce_requests: AtomicU64,
    pub data_requests: AtomicU64,
    pub data_failures_injected: AtomicU64,
    pub data_records_served: AtomicU64,
    pub data_by_type: [AtomicU64; DataType::ALL.len()],
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> SandboxStats {
        SandboxStats {
            token_requests: self.token_requests.load(Ordering::Relaxed),
            refresh_requests: self.refresh_requests.load(Ordering::Relaxed),
            code_exchanges: self.code_exchanges.load(Ordering::Relaxed),
            failures_injected: self.failures_injected.load(Ordering::Relaxed),
            grants_revoked: self.grants_revoked.load(Ordering::Relaxed),
            commerce_requests: self.commerce_requests.load(Ordering::Relaxed),
            data_requests: self.data_requests.load(Ordering::Relaxed),
            data_failures_injected: self.data_failures_injected.load(Ordering::Relaxed),
            data_records_served: self.data_records_served.load(Ordering::Relaxed),
            data_requests_by_type: DataType::ALL
                .into_iter()
                .filter_map(|t| {
                    let n = self.data_by_type[t.index()].load(Ordering::Relaxed);
                    (n > 0).then(|| (t.as_str().to_owned(), n))
                })
                .collect(),
        }
    }

    /// Counts a data request of type `t`.
    pub fn data_request(&self, t: DataType) {
        bump(&self.data_requests);
        bump(&self.data_by_type[t.index()]);
    }

    pub fn records_served(&self, n: usize) {
        self.data_records_served
            .fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Injected failures, consumed in the order they were injected.
#[derive(Debug, Default)]
pub(crate) struct Injector {
    queue: Mutex<VecDeque<(Failure, u32)>>,
}

impl Injector {
    pub fn push(&self, failure: Failure, count: u32) {
        if count == 0 {
            return;
        }
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match q.back_mut() {
            Some((last, n)) if *last == failure => *n = n.saturating_add(count),
            _ => q.push_back((failure, count)),
        }
    }

    /// The failure the next token-endpoint call must answer with, if any (and counts it down).
    pub fn take(&self) -> Option<Failure> {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let (failure, n) = q.front_mut()?;
        let failure = *failure;
        *n -= 1;
        if *n == 0 {
            q.pop_front();
        }
        Some(failure)
    }

    pub fn clear(&self) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// How an injected failure makes a data request answer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum DataFailureKind {
    /// `429 Too Many Requests` with `Retry-After` ([`DataFailure::retry_after`], default 1),
    /// `{"error":"rate_limited"}`.
    RateLimited,
    /// `500 Internal Server Error`, `{"error":"server_error"}`.
    ServerError,
    /// `503 Service Unavailable` with `Retry-After` (default 5),
    /// `{"error":"temporarily_unavailable"}`.
    TemporarilyUnavailable,
    /// `401 Unauthorized`, `{"error":"invalid_token"}` with a `WWW-Authenticate` challenge (on
    /// the shop API: `{"error":"invalid_api_key"}`), as when a token is revoked mid-pull.
    /// Nothing is actually revoked.
    InvalidToken,
}

/// A failure to inject into data requests: the next `count` data requests that match (any, or
/// only those of `type`, and of list page `page`) answer as `kind` says. Requests are checked
/// before authentication. A request for one record by id has no page; a company info or shop
/// request is page 1.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataFailure {
    pub kind: DataFailureKind,
    /// How many matching requests fail (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests for this data type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    /// Only list requests for this page (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u64>,
    /// Seconds for the `Retry-After` header of `rateLimited` and `temporarilyUnavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

fn one() -> u32 {
    1
}

impl DataFailure {
    /// The next `count` data requests, of any type and page.
    pub fn new(kind: DataFailureKind, count: u32) -> Self {
        Self {
            kind,
            count,
            data_type: None,
            page: None,
            retry_after: None,
        }
    }

    /// Only requests for `data_type`.
    pub fn for_type(mut self, data_type: DataType) -> Self {
        self.data_type = Some(data_type);
        self
    }

    /// Only list requests for `page` (1-based).
    pub fn on_page(mut self, page: u64) -> Self {
        self.page = Some(page);
        self
    }

    /// The `Retry-After` seconds of a 429 or 503.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    fn matches(&self, t: DataType, page: Option<u64>) -> bool {
        self.data_type.is_none_or(|want| want == t)
            && self.page.is_none_or(|want| page == Some(want))
    }
}

/// Injected data failures, checked in the order they were injected: a request takes one from
/// the first one that matches it.
#[derive(Debug, Default)]
pub(crate) struct DataInjector {
    rules: Mutex<Vec<DataFailure>>,
}

impl DataInjector {
    pub fn push(&self, failure: DataFailure) {
        if failure.count == 0 {
            return;
        }
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(failure);
    }

    /// The failure a data request of type `t` (list page `page`) must answer with, if any.
    pub fn take(&self, t: DataType, page: Option<u64>) -> Option<DataFailure> {
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        let pos = rules.iter().position(|r| r.matches(t, page))?;
        let rule = rules.get_mut(pos)?;
        let taken = *rule;
        rule.count -= 1;
        if rule.count == 0 {
            rules.remove(pos);
        }
        Some(taken)
    }

    pub fn clear(&self) {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injections_queue_in_order_and_count_down() {
        let i = Injector::default();
        i.push(Failure::ServerError, 2);
        i.push(Failure::RateLimited, 1);
        i.push(Failure::RateLimited, 0);
        assert_eq!(i.take(), Some(Failure::ServerError));
        assert_eq!(i.take(), Some(Failure::ServerError));
        assert_eq!(i.take(), Some(Failure::RateLimited));
        assert_eq!(i.take(), None);
        i.push(Failure::InvalidGrant, 3);
        i.clear();
        assert_eq!(i.take(), None);
    }

    #[test]
    fn data_failures_match_type_and_page_in_order() {
        let i = DataInjector::default();
        i.push(
            DataFailure::new(DataFailureKind::ServerError, 2)
                .for_type(DataType::Invoices)
                .on_page(3),
        );
        i.push(DataFailure::new(DataFailureKind::RateLimited, 1).retry_after(7));
        i.push(DataFailure::new(DataFailureKind::InvalidToken, 0));
        // Page 1 of invoices: only the catch-all matches.
        let f = i.take(DataType::Invoices, Some(1)).unwrap();
        assert_eq!(
            (f.kind, f.retry_after),
            (DataFailureKind::RateLimited, Some(7))
        );
        assert_eq!(i.take(DataType::Invoices, Some(1)), None);
        assert_eq!(i.take(DataType::Bills, Some(3)), None);
        assert_eq!(i.take(DataType::Invoices, None), None);
        assert_eq!(
            i.take(DataType::Invoices, Some(3)).unwrap().kind,
            DataFailureKind::ServerError
        );
        assert_eq!(i.take(DataType::Invoices, Some(3)).unwrap().count, 1);
        assert_eq!(i.take(DataType::Invoices, Some(3)), None);
        i.push(DataFailure::new(DataFailureKind::ServerError, 5));
        i.clear();
        assert_eq!(i.take(DataType::Invoices, Some(1)), None);

        let f: DataFailure = serde_json::from_str(
            r#"{"kind":"temporarilyUnavailable","type":"bankTransactions","page":2,"retryAfter":3}"#,
        )
        .unwrap();
        assert_eq!(f.count, 1);
        assert_eq!(f.data_type, Some(DataType::BankTransactions));
        assert!(
            serde_json::from_str::<DataFailure>(r#"{"kind":"serverError","pages":2}"#).is_err()
        );
        assert!(
            serde_json::from_str::<DataFailure>(r#"{"kind":"serverError","type":"nope"}"#).is_err()
        );
    }

    #[test]
    fn failure_kinds_use_camel_case() {
        let f: Failure = serde_json::from_str("\"temporarilyUnavailable\"").unwrap();
        assert_eq!(f, Failure::TemporarilyUnavailable);
        assert_eq!(
            serde_json::to_string(&Failure::InvalidGrant).unwrap(),
            "\"invalidGrant\""
        );
    }
}
