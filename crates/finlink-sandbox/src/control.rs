//! Test controls: failure injection at the token endpoint and request counters. Both live in the
//! process (they are not in the database): each `Sandbox` value counts what it served.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

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
    /// Every request to the Commerce Sandbox API (`/commerce/api/*`), whatever its outcome.
    pub commerce_requests: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub token_requests: AtomicU64,
    pub refresh_requests: AtomicU64,
    pub code_exchanges: AtomicU64,
    pub failures_injected: AtomicU64,
    pub grants_revoked: AtomicU64,
    pub commerce_requests: AtomicU64,
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
        }
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
    fn failure_kinds_use_camel_case() {
        let f: Failure = serde_json::from_str("\"temporarilyUnavailable\"").unwrap();
        assert_eq!(f, Failure::TemporarilyUnavailable);
        assert_eq!(
            serde_json::to_string(&Failure::InvalidGrant).unwrap(),
            "\"invalidGrant\""
        );
    }
}
