//! Connections: a company's links to platforms.

use finlink_domain::connection::{Connection, ConnectionStatus};
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::Integration;
use finlink_domain::paging::Page;
use finlink_domain::{Error, Result};
use finlink_store::{ConnectionInsert, ListQuery};

use crate::App;

impl App {
    /// The integration for a platform key, or a 404 that says the key is unknown.
    pub fn integration(&self, key: &str) -> Result<&Integration> {
        self.catalog.get(key).ok_or_else(|| Error::NotFound {
            message: format!(
                "No integration has the platform key '{}'. Platform keys are four lower-case letters, e.g. mqjo (Sandbox) or gbol (Xero); GET /integrations lists them.",
                key.chars().take(32).collect::<String>()
            ),
        })
    }

    /// Creates a `PendingAuth` connection. A company has at most one accounting connection.
    pub async fn create_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        platform_key: &str,
    ) -> Result<Connection> {
        let integ = self.integration(platform_key)?.clone();
        self.ensure_enabled_for(client, &integ).await?;
        let now = self.clock.now();
        let connection = Connection {
            id: ConnectionId::new_v7(now),
            client_id: client,
            company_id: company,
            integration_key: integ.key.clone(),
            integration_id: integ.integration_id(),
            source_id: integ.source_id(),
            source_type: integ.source_type,
            platform_name: integ.name.clone(),
            status: ConnectionStatus::PendingAuth,
            created: now,
            modified: now,
            last_sync: None,
            errors: Vec::new(),
            connection_info: None,
            refresh: Default::default(),
        };
        let company_row = self.get_company(client, company).await?;
        let effects = self
            .raise(
                vec![self.connection_event(
                    finlink_domain::event::types::CONNECTION_CREATED,
                    &company_row,
                    &connection,
                )],
                Some(&company_row.tags),
            )
            .await?;
        match self.store.insert_connection(&connection, &effects).await? {
            ConnectionInsert::Inserted => {
                tracing::info!(company_id = %company, connection_id = %connection.id, platform = %integ.key, "connection created");
                Ok(connection)
            }
            ConnectionInsert::NoSuchCompany => Err(Error::not_found("company", company)),
            ConnectionInsert::AccountingExists(existing) => Err(Error::invalid(
                "platformKey",
                "CreateConnection",
                format!(
                    "Company {company} already has an accounting connection ({existing}); a company can have only one. Delete it (DELETE /companies/{company}/connections/{existing}) before connecting {} — banking and commerce connections are not limited.",
                    integ.name
                ),
            )),
        }
    }

    pub async fn get_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
    ) -> Result<Connection> {
        // A missing company answers as a missing company, so callers learn which id is wrong.
        match self.store.get_connection(client, company, id).await? {
            Some(c) => Ok(c),
            None => {
                self.get_company(client, company).await?;
                Err(Error::NotFound {
                    message: format!("Data connection {id} not found for company {company}."),
                })
            }
        }
    }

    pub async fn list_connections(
        &self,
        client: ClientId,
        company: CompanyId,
        query: &ListQuery,
    ) -> Result<Page<Connection>> {
        let page = self.store.list_connections(client, company, query).await?;
        if page.total == 0 {
            self.get_company(client, company).await?;
        }
        Ok(page)
    }

    /// Unlinks a connection (the only status a client may set). Only a `Linked`
    /// connection can be unlinked, as Codat documents; unlinking an `Unlinked` one
    /// changes nothing. Its data stays readable.
    pub async fn set_connection_status(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        status: ConnectionStatus,
    ) -> Result<Connection> {
        if status != ConnectionStatus::Unlinked {
            return Err(Error::invalid(
                "status",
                "UpdateConnectionStatus",
                format!("A connection's status can only be set to Unlinked, not {status}."),
            ));
        }
        let current = self.get_connection(client, company, id).await?;
        match current.status {
            ConnectionStatus::Unlinked => Ok(current),
            ConnectionStatus::Linked => {
                let now = self.clock.now();
                let company_row = self.get_company(client, company).await?;
                let mut after = current.clone();
                after.status = status;
                after.modified = now;
                let effects = self
                    .raise(
                        crate::events::status_event(current.status, status)
                            .map(|t| self.connection_event(t, &company_row, &after))
                            .into_iter()
                            .collect(),
                        Some(&company_row.tags),
                    )
                    .await?;
                self.store
                    .set_connection_status(client, company, id, status, now, &effects)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        message: format!("Data connection {id} not found."),
                    })
            }
            other => Err(Error::invalid(
                "status",
                "UpdateConnectionStatus",
                format!("Only Linked connections can be unlinked; connection {id} is {other}."),
            )),
        }
    }

    pub async fn delete_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
    ) -> Result<()> {
        let company_row = self.get_company(client, company).await?;
        let Some(conn) = company_row.connections.iter().find(|c| c.id == id) else {
            return Err(Error::NotFound {
                message: format!("Data connection {id} not found for company {company}."),
            });
        };
        let effects = self
            .raise(
                vec![self.connection_event(
                    finlink_domain::event::types::CONNECTION_DELETED,
                    &company_row,
                    conn,
                )],
                Some(&company_row.tags),
            )
            .await?;
        if self
            .store
            .delete_connection(client, company, id, &effects)
            .await?
        {
            tracing::info!(company_id = %company, connection_id = %id, "connection deleted");
            return Ok(());
        }
        self.get_company(client, company).await?;
        Err(Error::NotFound {
            message: format!("Data connection {id} not found for company {company}."),
        })
    }
}
