//! Webhook consumers (Codat's `WebhookConsumer`) and deliveries: who receives which events, and
//! how a delivery is retried. Signing and sending are in `finlink-providers` (I/O); this is the
//! rules.

use std::collections::BTreeMap;

use crate::Timestamp;
use crate::event::types;
use crate::ids::ClientId;

/// At most this many consumers per client (Codat's limit).
pub const MAX_CONSUMERS: usize = 50;
/// At most this many `companyTags` per consumer.
pub const MAX_COMPANY_TAGS: usize = 10;
/// Each `companyTags` entry is at most this long.
pub const MAX_TAG_LEN: usize = 128;
/// A consumer failing every delivery this long is disabled.
pub const DISABLE_AFTER_SECS: i64 = 5 * 86_400;
/// After a secret rotation, the previous secret also signs for this long.
pub const PREVIOUS_SECRET_SECS: i64 = 86_400;

/// Delays before attempts 2, 3, ... (attempt 1 is at once): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
/// 10 h. Eight attempts over about 28 hours; each delay gets up to ±10 % jitter.
pub const RETRY_DELAYS_SECS: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// A webhook consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    pub id: uuid::Uuid,
    pub client_id: ClientId,
    pub url: String,
    pub disabled: bool,
    /// Why finlink disabled it (`gone`: the receiver answered 410; `failing`: every delivery
    /// failed for 5 days); None when enabled or disabled by the client.
    pub disabled_reason: Option<String>,
    /// Event types it receives; empty means all. Legacy Codat names are accepted (see [`wants`]).
    pub event_types: Vec<String>,
    /// `key:value` tags; when any, only events of companies with a matching tag.
    pub company_tags: Vec<String>,
    /// When deliveries to it started failing without a success since.
    pub failing_since: Option<Timestamp>,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// The new event types a legacy Codat rule type stands for (§5.3 of the reference).
pub fn legacy_equivalents(name: &str) -> &'static [&'static str] {
    match name {
        "DataConnectionStatusChanged" | "Company data connection status changed" => &[
            types::CONNECTION_CREATED,
            types::CONNECTION_CONNECTED,
            types::CONNECTION_DISCONNECTED,
            types::CONNECTION_RECONNECTED,
            types::CONNECTION_DELETED,
            types::CONNECTION_FAILED,
        ],
        "SyncConnectionDeleted" | "Sync Connection Deleted" => &[types::CONNECTION_DELETED],
        "DataSyncCompleted"
        | "Data sync completed"
        | "DatasetDataChanged"
        | "Dataset data changed"
        | "DataSyncStatusChangedToError"
        | "Data Sync Status Changed To Error" => &["read.completed"],
        "NewCompanySynchronized" | "New company synchronized" => &["read.completed.initial"],
        _ => &[],
    }
}

impl Consumer {
    /// Whether an event of `event_type` about a company with `tags` goes to this consumer.
    pub fn wants(&self, event_type: &str, tags: Option<&BTreeMap<String, String>>) -> bool {
        if self.disabled {
            return false;
        }
        let type_ok = self.event_types.is_empty()
            || self.event_types.iter().any(|t| {
                t == event_type || t == "*" || legacy_equivalents(t).contains(&event_type)
            });
        if !type_ok {
            return false;
        }
        if self.company_tags.is_empty() {
            return true;
        }
        let Some(tags) = tags else { return false };
        self.company_tags.iter().any(|kv| {
            kv.split_once(':')
                .is_some_and(|(k, v)| tags.get(k).is_some_and(|have| have == v))
        })
    }
}

/// Checks `companyTags`: at most 10, each `key:value`, at most 128 characters.
pub fn check_company_tags(tags: &[String]) -> std::result::Result<(), String> {
    if tags.len() > MAX_COMPANY_TAGS {
        return Err(format!(
            "A consumer has at most {MAX_COMPANY_TAGS} companyTags; {} were given.",
            tags.len()
        ));
    }
    for t in tags {
        let ok = t.chars().count() <= MAX_TAG_LEN
            && t.split_once(':')
                .is_some_and(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty());
        if !ok {
            return Err(format!(
                "companyTags entry '{t}' is not 'key:value' (at most {MAX_TAG_LEN} characters)."
            ));
        }
    }
    Ok(())
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryState::Pending,
            "succeeded" => DeliveryState::Succeeded,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }
}

/// One event's delivery to one consumer, with its latest attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: uuid::Uuid,
    pub client_id: ClientId,
    pub consumer_id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub event_at: Timestamp,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i32,
    pub last_attempt_at: Option<Timestamp>,
    /// The receiver's status code, if it answered.
    pub response_status: Option<i32>,
    /// How long the last attempt took, in milliseconds.
    pub duration_ms: Option<i64>,
    /// The first 1 kB of the receiver's answer, or why there was none.
    pub response_body: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    pub created: Timestamp,
}
