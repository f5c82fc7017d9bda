//! Reading the data finlink has pulled, as Codat's Accounting, Banking and Commerce APIs serve
//! it: a company's accounting data (`/companies/{id}/data/invoices` ...), and a connection's
//! bank accounts, banking and commerce data (`/companies/{id}/connections/{cid}/data/...`).
//!
//! Every read answers, in this order: 404 for an unknown company or connection (or one of another
//! client); 404 when the connection's platform does not provide the data type (Codat's
//! `Datatype ... not supported by platform(s) ...`); 409 until a pull of the data type has
//! completed for the company (or the connection), as Codat's "the data set has not been
//! requested, or has not finished syncing"; then the records, filtered, ordered and paged by the
//! store (`finlink_store::records`). Data read before an unlink stays readable; deleting the
//! connection deletes its records and its pulls, so its data types are unread again.

use finlink_domain::connection::Connection;
use finlink_domain::data::DataType;
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::sync::StoredRecord;
use finlink_domain::{Error, Result};
use finlink_store::records::RecordQuery;

use crate::App;

/// Whose data a read is of: a company's (accounting data types), or one of its connections'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataScope {
    pub company: CompanyId,
    pub connection: Option<ConnectionId>,
}

impl DataScope {
    pub fn company(company: CompanyId) -> Self {
        Self {
            company,
            connection: None,
        }
    }

    pub fn connection(company: CompanyId, connection: ConnectionId) -> Self {
        Self {
            company,
            connection: Some(connection),
        }
    }
}

/// How a data type is named in answers (`invoices`, `bank accounts` ...).
fn noun(data_type: DataType) -> &'static str {
    match data_type {
        DataType::ChartOfAccounts => "account",
        DataType::Customers => "customer",
        DataType::Suppliers => "supplier",
        DataType::Invoices => "invoice",
        DataType::Bills => "bill",
        DataType::Payments => "payment",
        DataType::CreditNotes => "credit note",
        DataType::JournalEntries => "journal entry",
        DataType::TaxRates => "tax rate",
        DataType::BankAccounts => "bank account",
        DataType::BankTransactions => "bank transaction",
        DataType::BankingAccounts => "banking account",
        DataType::BankingTransactions => "banking transaction",
        DataType::CommerceCustomers => "commerce customer",
        DataType::CommerceOrders => "commerce order",
        DataType::CommerceProducts => "commerce product",
        DataType::CommercePayments => "commerce payment",
        DataType::CommerceCompanyInfo => "commerce company info",
        _ => "record",
    }
}

impl App {
    /// Checks that the scope exists and that its data type has been read; returns the
    /// connection of a connection scope.
    async fn readable(
        &self,
        client: ClientId,
        scope: DataScope,
        data_type: DataType,
    ) -> Result<Option<Connection>> {
        let co = self.get_company(client, scope.company).await?;
        let company = scope.company;
        let conn = match scope.connection {
            None => None,
            Some(id) => {
                let Some(conn) = co.connections.into_iter().find(|c| c.id == id) else {
                    return Err(Error::NotFound {
                        message: format!("Data connection {id} not found for company {company}."),
                    });
                };
                if !self
                    .connectors
                    .data_types(&conn.integration_key)
                    .contains(&data_type)
                {
                    return Err(Error::NotFound {
                        message: format!(
                            "Datatype {data_type} not supported by platform(s) {}: connection {id} \
                             cannot provide it.",
                            conn.platform_name
                        ),
                    });
                }
                Some(conn)
            }
        };
        if !self
            .store
            .data_type_read(client, company, scope.connection, data_type)
            .await?
        {
            let whose = match scope.connection {
                Some(id) => format!("connection {id} of company {company}"),
                None => format!("company {company}"),
            };
            let queue = match scope.connection {
                Some(id) => format!("/data/queue/{data_type}?connectionId={id}"),
                None => format!("/data/queue/{data_type}"),
            };
            return Err(Error::Conflict(format!(
                "The {data_type} of {whose} have not been read yet: sync them (POST \
                 /companies/{company}/data/all or POST /companies/{company}{queue}) and wait until \
                 GET /companies/{company}/dataStatus shows {data_type} Complete."
            )));
        }
        Ok(conn)
    }

    /// A page of the scope's records of `data_type`, filtered, ordered and paged as `query` says.
    pub async fn list_data(
        &self,
        client: ClientId,
        scope: DataScope,
        data_type: DataType,
        query: &RecordQuery,
    ) -> Result<Page<StoredRecord>> {
        self.readable(client, scope, data_type).await?;
        self.store
            .query_records(client, scope.company, scope.connection, data_type, query)
            .await
    }

    /// One record of the scope, by its id.
    pub async fn get_data(
        &self,
        client: ClientId,
        scope: DataScope,
        data_type: DataType,
        id: &str,
    ) -> Result<StoredRecord> {
        self.readable(client, scope, data_type).await?;
        self.store
            .get_record(client, scope.company, scope.connection, data_type, id)
            .await?
            .ok_or_else(|| Error::NotFound {
                message: format!(
                    "No {} was found with ID {id} for company {}.",
                    noun(data_type),
                    scope.company
                ),
            })
    }

    /// The scope's one record of a single-record data type (`commerce-companyInfo`): the latest
    /// stored, should the connection have been linked to another store since.
    pub async fn single_data(
        &self,
        client: ClientId,
        scope: DataScope,
        data_type: DataType,
    ) -> Result<StoredRecord> {
        self.readable(client, scope, data_type).await?;
        let query = RecordQuery {
            page: PageRequest {
                page: 1,
                page_size: 10,
            },
            ..RecordQuery::default()
        };
        self.store
            .query_records(client, scope.company, scope.connection, data_type, &query)
            .await?
            .items
            .into_iter()
            .max_by_key(|r| r.modified)
            .ok_or_else(|| Error::NotFound {
                message: format!(
                    "No {} was read for company {}.",
                    noun(data_type),
                    scope.company
                ),
            })
    }

    /// A bank account's transactions (accounting `bankTransactions` whose `accountId` is the
    /// account): 404 when the connection's bank accounts have been read and this is not one.
    pub async fn list_bank_account_transactions(
        &self,
        client: ClientId,
        scope: DataScope,
        account_id: &str,
        query: &RecordQuery,
    ) -> Result<Page<StoredRecord>> {
        self.readable(client, scope, DataType::BankTransactions)
            .await?;
        let accounts_read = self
            .store
            .data_type_read(
                client,
                scope.company,
                scope.connection,
                DataType::BankAccounts,
            )
            .await?;
        if accounts_read
            && self
                .store
                .get_record(
                    client,
                    scope.company,
                    scope.connection,
                    DataType::BankAccounts,
                    account_id,
                )
                .await?
                .is_none()
        {
            return Err(Error::NotFound {
                message: format!(
                    "No bank account was found with ID {account_id} for company {}.",
                    scope.company
                ),
            });
        }
        let query = RecordQuery {
            field_equals: Some((String::from("accountId"), account_id.to_owned())),
            ..query.clone()
        };
        self.store
            .query_records(
                client,
                scope.company,
                scope.connection,
                DataType::BankTransactions,
                &query,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_read_type_has_a_name() {
        for t in DataType::MODELLED {
            if t != DataType::Company {
                assert_ne!(noun(t), "record", "{t}");
            }
        }
    }
}
