//! Events: what happened to a client's companies and connections, recorded in the same
//! transaction as the change they report (the outbox that webhooks deliver from).

use crate::Timestamp;
use crate::ids::{ClientId, CompanyId, ConnectionId};

/// Codat's platform event types and the Apideck Vault ones finlink raises.
pub mod types {
    pub const COMPANY_CREATED: &str = "company.created";
    pub const COMPANY_DELETED: &str = "company.deleted";
    pub const CONNECTION_CREATED: &str = "connection.created";
    pub const CONNECTION_CONNECTED: &str = "connection.connected";
    pub const CONNECTION_FAILED: &str = "connection.failed";
    pub const CONNECTION_DISCONNECTED: &str = "connection.disconnected";
    pub const CONNECTION_RECONNECTED: &str = "connection.reconnected";
    pub const CONNECTION_DELETED: &str = "connection.deleted";
    pub const TOKEN_REFRESH_PENDING: &str = "vault.connection.token_refresh.pending";
    pub const TOKEN_REFRESH_RECOVERED: &str = "vault.connection.token_refresh.recovered";
    pub const TOKEN_REFRESH_FAILED: &str = "vault.connection.token_refresh.failed";
    /// finlink disabled a webhook consumer (its receiver answered 410, or failed for 5 days).
    pub const WEBHOOK_CONSUMER_DISABLED: &str = "webhooks.consumer.disabled";
    /// The datasets queued together (`data/all`, `data/queue/{dataType}`, a schedule) have all
    /// ended.
    pub const READ_COMPLETED: &str = "read.completed";
    /// The fetch on first link after a connection was linked through Link has ended.
    pub const READ_COMPLETED_INITIAL: &str = "read.completed.initial";

    /// Every type finlink raises, in a stable order.
    pub const ALL: [&str; 14] = [
        COMPANY_CREATED,
        COMPANY_DELETED,
        CONNECTION_CREATED,
        CONNECTION_CONNECTED,
        CONNECTION_FAILED,
        CONNECTION_DISCONNECTED,
        CONNECTION_RECONNECTED,
        CONNECTION_DELETED,
        TOKEN_REFRESH_PENDING,
        TOKEN_REFRESH_RECOVERED,
        TOKEN_REFRESH_FAILED,
        WEBHOOK_CONSUMER_DISABLED,
        READ_COMPLETED,
        READ_COMPLETED_INITIAL,
    ];
}

/// One recorded event. The payload is the JSON the event's envelope carries (Codat's shapes
/// for Codat types, Apideck's for `vault.*`); it never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// A UUIDv7, so ids sort by time.
    pub id: uuid::Uuid,
    pub client_id: ClientId,
    pub event_type: String,
    pub company_id: Option<CompanyId>,
    pub connection_id: Option<ConnectionId>,
    pub payload: String,
    pub occurred_at: Timestamp,
}
