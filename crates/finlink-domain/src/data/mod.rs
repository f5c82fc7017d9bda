//! Codat's data models: the records finlink pulls from connected platforms, stores, and serves
//! in the shapes of Codat's Accounting, Banking and Commerce APIs.
//!
//! - [`DataType`]: Codat's data type names (the `dataStatus` keys, `data/queue/{dataType}`),
//!   each with its [`SourceType`] and whether it is read per connection.
//! - [`DatasetStatus`]: the status of a pull (a Codat "dataset").
//! - [`accounting`], [`banking`], [`commerce`]: the record models, serialised camelCase with
//!   Codat's exact field names and enum strings (taken from the official Python SDKs
//!   `codat-accounting`, `codat-banking` and `codat-commerce`), limited to the fields a
//!   connector can fill. Optional fields that are unknown are left out of the JSON.
//! - [`Record`]: one mapped record of any type, as a connector hands it over.
//!
//! Dates follow Codat's conventions (see [`codat_date`] and [`codat_instant`]): a business date
//! (an invoice's issue date) is an unqualified local date-time at midnight,
//! `2022-10-23T00:00:00`; an instant (`modifiedDate`, `sourceModifiedDate`) is UTC with a `Z`,
//! `2022-10-23T08:00:00Z` (fractions of a second only when there are some). Amounts are JSON
//! numbers in the record's currency; currency rates follow Codat's convention (base currency
//! units per unit of the record's currency).
//!
//! `modifiedDate` is when finlink last fetched a changed version of the record (Codat: "the date
//! when the record was last fetched ... and updated in Codat's data cache");
//! `sourceModifiedDate` is when the platform says it last changed.

pub mod accounting;
pub mod banking;
pub mod commerce;
pub mod common;

use std::fmt;

use chrono::{NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::Timestamp;
use crate::connection::SourceType;

/// Declares a Codat string enum: exact wire strings, `ALL`, `as_str`, `parse`, `Display`.
macro_rules! codat_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant, )+
        }

        impl $name {
            /// Every value, in Codat's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// The value of an exact (case-sensitive) wire string.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $wire => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use codat_enum;

codat_enum! {
    /// Codat's data types: the 43 values of the `DataType` enum of the Platform API
    /// (`dataStatus` keys, `data/queue/{dataType}`, sync settings). Only some have a model and
    /// a connector in finlink so far; see [`DataType::has_model`].
    DataType {
        AccountTransactions = "accountTransactions",
        BalanceSheet = "balanceSheet",
        BankAccounts = "bankAccounts",
        BankTransactions = "bankTransactions",
        BillCreditNotes = "billCreditNotes",
        BillPayments = "billPayments",
        Bills = "bills",
        CashFlowStatement = "cashFlowStatement",
        ChartOfAccounts = "chartOfAccounts",
        /// Company info, read at `GET /companies/{id}/data/info`.
        Company = "company",
        CreditNotes = "creditNotes",
        Customers = "customers",
        DirectCosts = "directCosts",
        DirectIncomes = "directIncomes",
        Invoices = "invoices",
        ItemReceipts = "itemReceipts",
        Items = "items",
        JournalEntries = "journalEntries",
        Journals = "journals",
        PaymentMethods = "paymentMethods",
        Payments = "payments",
        ProfitAndLoss = "profitAndLoss",
        PurchaseOrders = "purchaseOrders",
        SalesOrders = "salesOrders",
        Suppliers = "suppliers",
        TaxRates = "taxRates",
        TrackingCategories = "trackingCategories",
        Transfers = "transfers",
        BankingAccountBalances = "banking-accountBalances",
        BankingAccounts = "banking-accounts",
        BankingTransactionCategories = "banking-transactionCategories",
        BankingTransactions = "banking-transactions",
        CommerceCompanyInfo = "commerce-companyInfo",
        CommerceCustomers = "commerce-customers",
        CommerceDisputes = "commerce-disputes",
        CommerceLocations = "commerce-locations",
        CommerceOrders = "commerce-orders",
        CommercePaymentMethods = "commerce-paymentMethods",
        CommercePayments = "commerce-payments",
        CommerceProductCategories = "commerce-productCategories",
        CommerceProducts = "commerce-products",
        CommerceTaxComponents = "commerce-taxComponents",
        CommerceTransactions = "commerce-transactions",
    }
}

impl DataType {
    /// Which kind of platform serves it: `banking-*` types come from banking platforms,
    /// `commerce-*` from commerce platforms, the rest from accounting platforms.
    pub fn source_type(self) -> SourceType {
        let s = self.as_str();
        if s.starts_with("banking-") {
            SourceType::Banking
        } else if s.starts_with("commerce-") {
            SourceType::Commerce
        } else {
            SourceType::Accounting
        }
    }

    /// Read per connection (`/companies/{id}/connections/{connectionId}/data/...`) rather than
    /// per company: every banking and commerce type, and the accounting types Codat serves
    /// under a connection (bank accounts and their transactions, account transactions, direct
    /// costs and incomes, transfers).
    pub fn is_per_connection(self) -> bool {
        self.source_type() != SourceType::Accounting
            || matches!(
                self,
                DataType::AccountTransactions
                    | DataType::BankAccounts
                    | DataType::BankTransactions
                    | DataType::DirectCosts
                    | DataType::DirectIncomes
                    | DataType::Transfers
            )
    }

    /// One record per company or connection (company info, commerce company info), not a list.
    pub fn is_single(self) -> bool {
        matches!(self, DataType::Company | DataType::CommerceCompanyInfo)
    }

    /// finlink has a model for it (a [`Record`] variant).
    pub fn has_model(self) -> bool {
        Self::MODELLED.contains(&self)
    }

    /// The data types with a model in this module.
    pub const MODELLED: [DataType; 19] = [
        DataType::Company,
        DataType::ChartOfAccounts,
        DataType::TaxRates,
        DataType::Customers,
        DataType::Suppliers,
        DataType::Invoices,
        DataType::Bills,
        DataType::Payments,
        DataType::CreditNotes,
        DataType::JournalEntries,
        DataType::BankAccounts,
        DataType::BankTransactions,
        DataType::BankingAccounts,
        DataType::BankingTransactions,
        DataType::CommerceCompanyInfo,
        DataType::CommerceCustomers,
        DataType::CommerceOrders,
        DataType::CommerceProducts,
        DataType::CommercePayments,
    ];
}

codat_enum! {
    /// Codat's `DatasetStatus`: the status of a pull (`PullOperation.status`,
    /// `DataStatus.currentStatus`).
    DatasetStatus {
        Initial = "Initial",
        Queued = "Queued",
        Fetching = "Fetching",
        MapQueued = "MapQueued",
        Mapping = "Mapping",
        Complete = "Complete",
        FetchError = "FetchError",
        MapError = "MapError",
        InternalError = "InternalError",
        ProcessingQueued = "ProcessingQueued",
        Processing = "Processing",
        ProcessingError = "ProcessingError",
        ValidationQueued = "ValidationQueued",
        Validating = "Validating",
        ValidationError = "ValidationError",
        AuthError = "AuthError",
        Cancelled = "Cancelled",
        NotSupported = "NotSupported",
        RateLimitError = "RateLimitError",
        PermissionsError = "PermissionsError",
        PrerequisiteNotMet = "PrerequisiteNotMet",
    }
}

impl DatasetStatus {
    /// Still queued or running.
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            DatasetStatus::Initial
                | DatasetStatus::Queued
                | DatasetStatus::Fetching
                | DatasetStatus::MapQueued
                | DatasetStatus::Mapping
                | DatasetStatus::ProcessingQueued
                | DatasetStatus::Processing
                | DatasetStatus::ValidationQueued
                | DatasetStatus::Validating
        )
    }

    /// Ended without success.
    pub fn is_error(self) -> bool {
        !self.is_in_progress() && self != DatasetStatus::Complete
    }
}

/// A business date in Codat's format: `2022-10-23T00:00:00` (midnight, no offset: Codat
/// returns dates local to the business).
pub fn codat_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%dT00:00:00").to_string()
}

/// [`codat_date`] of a `YYYY-MM-DD` string (or the date part of a longer date-time).
pub fn codat_date_str(s: &str) -> Option<String> {
    let day = s.trim().get(..10)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .map(codat_date)
}

/// An instant in Codat's format: UTC with `Z`, e.g. `2022-10-23T08:00:00Z`, with the fraction
/// of a second only when it is not zero (`2022-10-23T08:00:00.120Z`).
pub fn codat_instant(t: Timestamp) -> String {
    match Utc.timestamp_millis_opt(t.as_millis()).single() {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => String::from("1970-01-01T00:00:00Z"),
    }
}

/// Declares [`Record`] over the models.
macro_rules! records {
    ($( $variant:ident($ty:ty) => $dt:ident ),+ $(,)?) => {
        /// One record in Codat's shape, of any modelled data type.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Record {
            $( $variant($ty), )+
        }

        impl Record {
            /// Its data type.
            pub fn data_type(&self) -> DataType {
                match self {
                    $( Record::$variant(_) => DataType::$dt, )+
                }
            }

            /// Reads a stored record of `data_type` back. `NotModelled` for a data type without
            /// a model.
            pub fn from_json(data_type: DataType, json: &Value) -> Result<Self, RecordError> {
                match data_type {
                    $( DataType::$dt => Ok(Record::$variant(<$ty>::deserialize(json)?)), )+
                    other => Err(RecordError::NotModelled(other)),
                }
            }

            /// Its `modifiedDate`.
            pub fn modified_date(&self) -> Option<&str> {
                match self {
                    $( Record::$variant(r) => r.modified_date.as_deref(), )+
                }
            }

            /// Sets `modifiedDate` (the store keeps the previous one when a re-fetched record is
            /// unchanged).
            pub fn set_modified_date(&mut self, value: Option<String>) {
                match self {
                    $( Record::$variant(r) => r.modified_date = value, )+
                }
            }

            /// Its `sourceModifiedDate`.
            pub fn source_modified_date(&self) -> Option<&str> {
                match self {
                    $( Record::$variant(r) => r.source_modified_date.as_deref(), )+
                }
            }
        }

        $(
            impl From<$ty> for Record {
                fn from(r: $ty) -> Self {
                    Record::$variant(r)
                }
            }
        )+
    };
}

use serde::Deserialize;

records! {
    Company(accounting::CompanyInfo) => Company,
    Account(accounting::Account) => ChartOfAccounts,
    TaxRate(accounting::TaxRate) => TaxRates,
    Customer(accounting::Customer) => Customers,
    Supplier(accounting::Supplier) => Suppliers,
    Invoice(accounting::Invoice) => Invoices,
    Bill(accounting::Bill) => Bills,
    Payment(accounting::Payment) => Payments,
    CreditNote(accounting::CreditNote) => CreditNotes,
    JournalEntry(accounting::JournalEntry) => JournalEntries,
    BankAccount(accounting::BankAccount) => BankAccounts,
    BankTransaction(accounting::BankTransaction) => BankTransactions,
    BankingAccount(banking::BankingAccount) => BankingAccounts,
    BankingTransaction(banking::BankingTransaction) => BankingTransactions,
    CommerceCompanyInfo(commerce::CommerceCompanyInfo) => CommerceCompanyInfo,
    CommerceCustomer(commerce::CommerceCustomer) => CommerceCustomers,
    CommerceOrder(commerce::CommerceOrder) => CommerceOrders,
    CommerceProduct(commerce::CommerceProduct) => CommerceProducts,
    CommercePayment(commerce::CommercePayment) => CommercePayments,
}

impl Record {
    /// Its `id` (company info has none: one record per company).
    pub fn id(&self) -> Option<&str> {
        match self {
            Record::Company(_) | Record::CommerceCompanyInfo(_) => None,
            Record::Account(r) => Some(&r.id),
            Record::TaxRate(r) => Some(&r.id),
            Record::Customer(r) => Some(&r.id),
            Record::Supplier(r) => Some(&r.id),
            Record::Invoice(r) => Some(&r.id),
            Record::Bill(r) => Some(&r.id),
            Record::Payment(r) => Some(&r.id),
            Record::CreditNote(r) => Some(&r.id),
            Record::JournalEntry(r) => Some(&r.id),
            Record::BankAccount(r) => Some(&r.id),
            Record::BankTransaction(r) => Some(&r.id),
            Record::BankingAccount(r) => Some(&r.id),
            Record::BankingTransaction(r) => Some(&r.id),
            Record::CommerceCustomer(r) => Some(&r.id),
            Record::CommerceOrder(r) => Some(&r.id),
            Record::CommerceProduct(r) => Some(&r.id),
            Record::CommercePayment(r) => Some(&r.id),
        }
    }

    /// The JSON served by the read endpoints.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A stored record could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("finlink has no model for the data type {0}")]
    NotModelled(DataType),
    #[error("not a valid record: {0}")]
    Json(#[from] serde_json::Error),
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.data_type(),
            self.id().unwrap_or("(single)")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_types_are_codats() {
        assert_eq!(DataType::ALL.len(), 43);
        assert_eq!(
            DataType::parse("banking-accounts"),
            Some(DataType::BankingAccounts)
        );
        assert_eq!(DataType::parse("Invoices"), None, "case-sensitive");
        assert_eq!(
            serde_json::to_value(DataType::CommerceCompanyInfo).unwrap(),
            "commerce-companyInfo"
        );
        for t in DataType::ALL {
            assert_eq!(DataType::parse(t.as_str()), Some(*t));
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(serde_json::from_str::<DataType>(&json).unwrap(), *t);
        }
        assert_eq!(DataType::Invoices.source_type(), SourceType::Accounting);
        assert_eq!(
            DataType::BankingTransactions.source_type(),
            SourceType::Banking
        );
        assert_eq!(DataType::CommerceOrders.source_type(), SourceType::Commerce);
        assert!(!DataType::Invoices.is_per_connection());
        assert!(DataType::BankAccounts.is_per_connection());
        assert!(DataType::BankTransactions.is_per_connection());
        assert!(DataType::CommerceOrders.is_per_connection());
        assert!(DataType::BankingAccounts.is_per_connection());
        assert!(!DataType::Company.is_per_connection());
        assert!(DataType::Company.is_single());
        assert!(DataType::MODELLED.iter().all(|t| t.has_model()));
        assert!(!DataType::Items.has_model());
    }

    #[test]
    fn dataset_statuses() {
        assert_eq!(DatasetStatus::ALL.len(), 21);
        assert!(DatasetStatus::Fetching.is_in_progress());
        assert!(DatasetStatus::AuthError.is_error());
        assert!(!DatasetStatus::Complete.is_error());
        assert_eq!(
            DatasetStatus::parse("MapError"),
            Some(DatasetStatus::MapError)
        );
    }

    #[test]
    fn dates_in_codats_format() {
        assert_eq!(
            codat_date_str("2023-07-02").as_deref(),
            Some("2023-07-02T00:00:00")
        );
        assert_eq!(
            codat_date_str("2023-07-02T10:00:00+00:00").as_deref(),
            Some("2023-07-02T00:00:00")
        );
        assert_eq!(codat_date_str("02/07/2023"), None);
        let t = Timestamp::parse("2023-07-03T03:48:00.000Z").unwrap();
        assert_eq!(codat_instant(t), "2023-07-03T03:48:00Z");
        assert_eq!(
            codat_instant(t.plus_millis(120)),
            "2023-07-03T03:48:00.120Z"
        );
        assert_eq!(Timestamp::parse(&codat_instant(t)), Some(t));
    }
}
