//! Events: built here from the change they report, handed to the store with that change so both
//! are written in one transaction (`finlink_store::Effects`), and listed by `GET /events`.
//!
//! Payloads follow `codat-platform-api.md` §5.2 for Codat types (`company.*`: the company
//! without its connections; `connection.*`: `{referenceCompany, connection}`) and Apideck's
//! Vault connection entity for `vault.*` types. None carries a secret: connections hold none
//! (credentials live in their own table), and the builders below copy named fields only.

use finlink_domain::company::Company;
use finlink_domain::connection::{Connection, ConnectionStatus};
use finlink_domain::event::{Event, types};
use finlink_domain::ids::ClientId;
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::{Error, Result};
use finlink_store::EventFilter;
use serde_json::{Value, json};

use crate::App;

/// The Codat event a status change raises, if any.
pub fn status_event(before: ConnectionStatus, after: ConnectionStatus) -> Option<&'static str> {
    use ConnectionStatus::*;
    match (before, after) {
        (a, b) if a == b => None,
        (PendingAuth, Linked) => Some(types::CONNECTION_CONNECTED),
        (Unlinked | Deauthorized, Linked) => Some(types::CONNECTION_RECONNECTED),
        (_, Unlinked) => Some(types::CONNECTION_DISCONNECTED),
        (_, Deauthorized) => Some(types::CONNECTION_FAILED),
        (_, PendingAuth) | (Linked, Linked) => None,
    }
}

fn rfc3339(t: Option<finlink_domain::Timestamp>) -> Value {
    t.map(|t| Value::String(t.to_rfc3339()))
        .unwrap_or(Value::Null)
}

impl App {
    fn event(
        &self,
        client: ClientId,
        event_type: &str,
        company: Option<finlink_domain::ids::CompanyId>,
        connection: Option<finlink_domain::ids::ConnectionId>,
        payload: Value,
    ) -> Event {
        Event {
            id: uuid::Uuid::now_v7(),
            client_id: client,
            event_type: event_type.to_owned(),
            company_id: company,
            connection_id: connection,
            payload: payload.to_string(),
            occurred_at: self.clock.now(),
        }
    }

    /// `company.created` / `company.deleted`: the company without its connections.
    pub(crate) fn company_event(&self, event_type: &str, c: &Company) -> Event {
        let payload = json!({
            "id": c.id.to_string(),
            "name": c.name,
            "description": c.description,
            "redirect": self.company_link_url(&c.id),
            "lastSync": rfc3339(c.last_sync),
            "created": c.created.to_rfc3339(),
            "createdByUserName": c.created_by_user_name,
            "products": c.products,
            "tags": c.tags,
        });
        self.event(c.client_id, event_type, Some(c.id), None, payload)
    }

    /// A `connection.*` event: `{referenceCompany, connection}`, the connection as it is after
    /// the change.
    pub(crate) fn connection_event(
        &self,
        event_type: &str,
        company: &Company,
        conn: &Connection,
    ) -> Event {
        let payload = json!({
            "referenceCompany": {
                "id": company.id.to_string(),
                "name": company.name,
                "description": company.description,
                "links": { "portal": self.company_link_url(&company.id) },
                "tags": company.tags,
            },
            "connection": {
                "id": conn.id.to_string(),
                "integrationId": conn.integration_id.to_string(),
                "integrationKey": conn.integration_key,
                "sourceId": conn.source_id.to_string(),
                "sourceType": conn.source_type.as_str(),
                "platformName": conn.platform_name,
                "linkUrl": self.connection_link_url(&conn.company_id, &conn.id),
                "status": conn.status.as_str(),
                "lastSync": rfc3339(conn.last_sync),
                "created": conn.created.to_rfc3339(),
                "dataConnectionErrors": conn.errors,
                "connectionInfo": conn.connection_info,
            },
        });
        self.event(
            conn.client_id,
            event_type,
            Some(conn.company_id),
            Some(conn.id),
            payload,
        )
    }

    /// A `vault.connection.*` event: Apideck's connection entity, with `health`,
    /// `last_refresh_failed_at` and `credentials_expire_at` (unix milliseconds).
    pub(crate) fn vault_event(
        &self,
        event_type: &str,
        company: &Company,
        conn: &Connection,
    ) -> Event {
        let service_id = self
            .catalog
            .get(&conn.integration_key)
            .map(|i| i.slug.clone())
            .unwrap_or_else(|| conn.integration_key.clone());
        let payload = json!({
            "entity_type": "Connection",
            "entity_id": conn.id.to_string(),
            "service_id": "finlink-vault",
            "entity": {
                "id": conn.id.to_string(),
                "consumer_id": company.consumer_id.clone().unwrap_or_else(|| company.id.to_string()),
                "company_id": company.id.to_string(),
                "unified_api": crate::vault::unified_api_of(conn.source_type),
                "service_id": service_id,
                "name": conn.platform_name,
                "state": if conn.status == ConnectionStatus::Linked { "callable" } else { "invalid" },
                "health": conn.health().as_str(),
                "created_at": conn.created.as_millis(),
                "updated_at": conn.modified.as_millis(),
                "last_refresh_failed_at": conn.refresh.last_failed_at.map(|t| t.as_millis()),
                "credentials_expire_at": conn.refresh.credentials_expire_at.map(|t| t.as_millis()),
            },
        });
        self.event(
            conn.client_id,
            event_type,
            Some(conn.company_id),
            Some(conn.id),
            payload,
        )
    }

    /// The client's events, newest first. `event_type` must be one finlink raises.
    pub async fn list_events(
        &self,
        client: ClientId,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        if let Some(t) = &filter.event_type
            && !types::ALL.contains(&t.as_str())
        {
            return Err(Error::bad_request(format!(
                "eventType '{t}' is not an event finlink raises; use one of {}",
                types::ALL.join(", ")
            )));
        }
        self.store.list_events(client, filter, page).await
    }
}
