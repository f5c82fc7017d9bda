//! Connections (Codat's "data connections"): one company's link to one platform.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;
use crate::ids::{ClientId, CompanyId, ConnectionId};

/// Codat's `DataConnectionStatus`; the exact strings are part of the wire contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConnectionStatus {
    PendingAuth,
    Linked,
    Unlinked,
    Deauthorized,
}

impl ConnectionStatus {
    pub const ALL: [ConnectionStatus; 4] = [
        ConnectionStatus::PendingAuth,
        ConnectionStatus::Linked,
        ConnectionStatus::Unlinked,
        ConnectionStatus::Deauthorized,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::PendingAuth => "PendingAuth",
            ConnectionStatus::Linked => "Linked",
            ConnectionStatus::Unlinked => "Unlinked",
            ConnectionStatus::Deauthorized => "Deauthorized",
        }
    }

    /// Parses the wire name, ignoring case.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Codat's `SourceType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SourceType {
    Accounting,
    Banking,
    BankFeed,
    Commerce,
    Expense,
    Other,
    Unknown,
}

impl SourceType {
    pub const ALL: [SourceType; 7] = [
        SourceType::Accounting,
        SourceType::Banking,
        SourceType::BankFeed,
        SourceType::Commerce,
        SourceType::Expense,
        SourceType::Other,
        SourceType::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Accounting => "Accounting",
            SourceType::Banking => "Banking",
            SourceType::BankFeed => "BankFeed",
            SourceType::Commerce => "Commerce",
            SourceType::Expense => "Expense",
            SourceType::Other => "Other",
            SourceType::Unknown => "Unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for SourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Codat's `DataConnectionError`: something that went wrong with a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionError {
    pub status_code: String,
    pub status_text: String,
    pub error_message: String,
    pub errored_on_utc: Timestamp,
    /// `Active` or `Resolved`.
    pub status: String,
    #[serde(default)]
    pub resolved_on_utc: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub id: ConnectionId,
    pub client_id: ClientId,
    pub company_id: CompanyId,
    /// The integration's four-letter key (`gbol`).
    pub integration_key: String,
    pub integration_id: Uuid,
    pub source_id: Uuid,
    pub source_type: SourceType,
    pub platform_name: String,
    pub status: ConnectionStatus,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub last_sync: Option<Timestamp>,
    pub errors: Vec<ConnectionError>,
    /// Non-secret provider settings (realm id, tenant id, shop domain, ...).
    pub connection_info: Option<serde_json::Map<String, serde_json::Value>>,
    /// Where the connection's token refreshes stand.
    pub refresh: RefreshHealth,
}

/// A connection's token-refresh failure cycle. A cycle opens at the first failed refresh of
/// healthy credentials and closes at the next success (recovered) or when the retention window
/// runs out (the credentials are deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshHealth {
    /// When the open cycle began; None when refreshes are healthy.
    pub failing_since: Option<Timestamp>,
    /// The last failed refresh (kept after recovery, as Apideck's `last_refresh_failed_at`).
    pub last_failed_at: Option<Timestamp>,
    /// When the credentials of a rejected grant are deleted unless a refresh succeeds first
    /// (Apideck's `credentials_expire_at`); None when no retention window runs.
    pub credentials_expire_at: Option<Timestamp>,
    /// The retention window ran out and the credentials were deleted.
    pub revoked: bool,
}

/// Apideck's connection `health`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    PendingRefresh,
    NeedsAuth,
    Revoked,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::PendingRefresh => "pending_refresh",
            Health::NeedsAuth => "needs_auth",
            Health::Revoked => "revoked",
        }
    }
}

impl Connection {
    /// `ok` when linked and refreshing fine; `pending_refresh` while a failure cycle is open
    /// (the credentials are kept); `needs_auth` before the business has authorised; `revoked`
    /// when the grant is gone (retention ran out, or the business unlinked).
    pub fn health(&self) -> Health {
        if self.refresh.failing_since.is_some() {
            return Health::PendingRefresh;
        }
        match self.status {
            ConnectionStatus::PendingAuth => Health::NeedsAuth,
            ConnectionStatus::Linked => Health::Ok,
            ConnectionStatus::Unlinked => Health::Revoked,
            ConnectionStatus::Deauthorized if self.refresh.revoked => Health::Revoked,
            ConnectionStatus::Deauthorized => Health::NeedsAuth,
        }
    }
}
