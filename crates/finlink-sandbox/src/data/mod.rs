//! The sandbox's data: generated on the fly, never stored.
//!
//! Every record is a pure function of (the owner's seed, the owner's [`DataProfile`], the data
//! type, the record's index, and the record's touch version). The owner is an accounting
//! organisation (a grant's tenant) or a Commerce Sandbox store; its seed comes from its id, so
//! the same organisation always has the same records. Changing the profile (counts) changes
//! which customer an invoice refers to and when records are dated, so it is a new data set.
//!
//! Each data type has a deterministic "modified" instant per record that increases with the
//! index (records are spread evenly over a fixed window, see [`timing`]), so a modified-since
//! filter is a binary search. Touching records (the admin route, [`crate::Sandbox::touch_data`])
//! stores `(owner, type, index, version, modified_at)` in SQLite: a touched record changes one
//! field and its modified instant becomes the touch time, which is after every generated one.
//!
//! Lists are in index order, which stays stable when records are touched mid-pull.

pub(crate) mod accounting;
pub(crate) mod commerce;
pub(crate) mod page;
pub(crate) mod store;
pub(crate) mod synth;
pub(crate) mod world;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use synth::DAY_MS;

/// A data type the sandbox serves. The wire names (admin routes, stats, injected faults) are
/// Codat's data type names, so finlink can map them one to one.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataType {
    /// The organisation itself (one record): `GET /api/organisation`.
    #[serde(rename = "company")]
    Company,
    #[serde(rename = "chartOfAccounts")]
    ChartOfAccounts,
    #[serde(rename = "taxRates")]
    TaxRates,
    #[serde(rename = "customers")]
    Customers,
    #[serde(rename = "suppliers")]
    Suppliers,
    #[serde(rename = "invoices")]
    Invoices,
    #[serde(rename = "bills")]
    Bills,
    #[serde(rename = "payments")]
    Payments,
    #[serde(rename = "creditNotes")]
    CreditNotes,
    #[serde(rename = "journalEntries")]
    JournalEntries,
    #[serde(rename = "bankAccounts")]
    BankAccounts,
    #[serde(rename = "bankTransactions")]
    BankTransactions,
    /// The store itself (one record): `GET /commerce/api/shop`.
    #[serde(rename = "commerce-companyInfo")]
    CommerceInfo,
    #[serde(rename = "commerce-customers")]
    CommerceCustomers,
    #[serde(rename = "commerce-orders")]
    CommerceOrders,
    #[serde(rename = "commerce-products")]
    CommerceProducts,
    #[serde(rename = "commerce-payments")]
    CommercePayments,
}

impl DataType {
    pub const ALL: [DataType; 17] = [
        Self::Company,
        Self::ChartOfAccounts,
        Self::TaxRates,
        Self::Customers,
        Self::Suppliers,
        Self::Invoices,
        Self::Bills,
        Self::Payments,
        Self::CreditNotes,
        Self::JournalEntries,
        Self::BankAccounts,
        Self::BankTransactions,
        Self::CommerceInfo,
        Self::CommerceCustomers,
        Self::CommerceOrders,
        Self::CommerceProducts,
        Self::CommercePayments,
    ];

    /// The wire name (Codat's data type name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::ChartOfAccounts => "chartOfAccounts",
            Self::TaxRates => "taxRates",
            Self::Customers => "customers",
            Self::Suppliers => "suppliers",
            Self::Invoices => "invoices",
            Self::Bills => "bills",
            Self::Payments => "payments",
            Self::CreditNotes => "creditNotes",
            Self::JournalEntries => "journalEntries",
            Self::BankAccounts => "bankAccounts",
            Self::BankTransactions => "bankTransactions",
            Self::CommerceInfo => "commerce-companyInfo",
            Self::CommerceCustomers => "commerce-customers",
            Self::CommerceOrders => "commerce-orders",
            Self::CommerceProducts => "commerce-products",
            Self::CommercePayments => "commerce-payments",
        }
    }

    /// The data type of a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Served by the Commerce Sandbox (API key), not the accounting API (OAuth).
    pub fn is_commerce(self) -> bool {
        matches!(
            self,
            Self::CommerceInfo
                | Self::CommerceCustomers
                | Self::CommerceOrders
                | Self::CommerceProducts
                | Self::CommercePayments
        )
    }

    /// One record per owner, not a paged list (company info, shop).
    pub fn is_single(self) -> bool {
        matches!(self, Self::Company | Self::CommerceInfo)
    }

    /// A small number distinguishing the random streams of the data types.
    pub(crate) fn tag(self) -> u64 {
        self as u64 + 1
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The path of the list under the mount point, e.g. `/api/invoices`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Company => crate::paths::DATA_ORGANISATION,
            Self::ChartOfAccounts => crate::paths::DATA_ACCOUNTS,
            Self::TaxRates => crate::paths::DATA_TAX_RATES,
            Self::Customers => crate::paths::DATA_CUSTOMERS,
            Self::Suppliers => crate::paths::DATA_SUPPLIERS,
            Self::Invoices => crate::paths::DATA_INVOICES,
            Self::Bills => crate::paths::DATA_BILLS,
            Self::Payments => crate::paths::DATA_PAYMENTS,
            Self::CreditNotes => crate::paths::DATA_CREDIT_NOTES,
            Self::JournalEntries => crate::paths::DATA_MANUAL_JOURNALS,
            Self::BankAccounts => crate::paths::DATA_BANK_ACCOUNTS,
            Self::BankTransactions => crate::paths::DATA_BANK_TRANSACTIONS,
            Self::CommerceInfo => crate::paths::COMMERCE_SHOP,
            Self::CommerceCustomers => crate::paths::COMMERCE_CUSTOMERS,
            Self::CommerceOrders => crate::paths::COMMERCE_ORDERS,
            Self::CommerceProducts => crate::paths::COMMERCE_PRODUCTS,
            Self::CommercePayments => crate::paths::COMMERCE_PAYMENTS,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest count of one data type.
pub const MAX_RECORDS: u64 = 10_000_000;
/// The most bank accounts an organisation may have.
pub const MAX_BANK_ACCOUNTS: u64 = 1_000;

/// How many records of each type an owner has. Company info and the shop are always one
/// record; tax rates are the organisation's country's (5 to 7). Serialised with the data type
/// names as keys; [`DataProfile::default`] is what an owner has until told otherwise.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DataProfile {
    /// At least the 40 accounts of the template (more adds sub-accounts).
    #[serde(rename = "chartOfAccounts")]
    pub chart_of_accounts: u64,
    /// At least 1.
    pub customers: u64,
    /// At least 1.
    pub suppliers: u64,
    pub invoices: u64,
    pub bills: u64,
    /// At most `invoices`: payment `p` pays invoice `p * invoices / payments`. Follows
    /// `invoices` (3/4 of them) when an update sets those alone.
    pub payments: u64,
    #[serde(rename = "creditNotes")]
    pub credit_notes: u64,
    #[serde(rename = "journalEntries")]
    pub journal_entries: u64,
    /// 1 to 1000: a current account, savings, a credit card, then foreign currency accounts.
    #[serde(rename = "bankAccounts")]
    pub bank_accounts: u64,
    /// Across all bank accounts: transaction `i` is in bank account `i % bankAccounts`.
    #[serde(rename = "bankTransactions")]
    pub bank_transactions: u64,
    /// At least 1.
    #[serde(rename = "commerce-customers")]
    pub commerce_customers: u64,
    #[serde(rename = "commerce-orders")]
    pub commerce_orders: u64,
    /// At least 1.
    #[serde(rename = "commerce-products")]
    pub commerce_products: u64,
    /// At most `commerce-orders`: payment `p` pays order `p * orders / payments`. Follows
    /// `commerce-orders` (7/8 of them) when an update sets those alone.
    #[serde(rename = "commerce-payments")]
    pub commerce_payments: u64,
}

impl Default for DataProfile {
    fn default() -> Self {
        Self {
            chart_of_accounts: world::ACCOUNTS.len() as u64,
            customers: 60,
            suppliers: 40,
            invoices: 400,
            bills: 250,
            payments: 300,
            credit_notes: 30,
            journal_entries: 60,
            bank_accounts: 3,
            bank_transactions: 900,
            commerce_customers: 80,
            commerce_orders: 400,
            commerce_products: 40,
            commerce_payments: 350,
        }
    }
}

/// A change to some counts of a [`DataProfile`]: the fields given replace the current ones.
/// Same keys as [`DataProfile`]; unknown keys are refused.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DataProfileUpdate {
    #[serde(rename = "chartOfAccounts", skip_serializing_if = "Option::is_none")]
    pub chart_of_accounts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppliers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoices: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bills: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<u64>,
    #[serde(rename = "creditNotes", skip_serializing_if = "Option::is_none")]
    pub credit_notes: Option<u64>,
    #[serde(rename = "journalEntries", skip_serializing_if = "Option::is_none")]
    pub journal_entries: Option<u64>,
    #[serde(rename = "bankAccounts", skip_serializing_if = "Option::is_none")]
    pub bank_accounts: Option<u64>,
    #[serde(rename = "bankTransactions", skip_serializing_if = "Option::is_none")]
    pub bank_transactions: Option<u64>,
    #[serde(rename = "commerce-customers", skip_serializing_if = "Option::is_none")]
    pub commerce_customers: Option<u64>,
    #[serde(rename = "commerce-orders", skip_serializing_if = "Option::is_none")]
    pub commerce_orders: Option<u64>,
    #[serde(rename = "commerce-products", skip_serializing_if = "Option::is_none")]
    pub commerce_products: Option<u64>,
    #[serde(rename = "commerce-payments", skip_serializing_if = "Option::is_none")]
    pub commerce_payments: Option<u64>,
}

impl DataProfile {
    /// How many records of `data_type` this profile has. Tax rates depend on the
    /// organisation's country: this counts the UK's; [`crate::Sandbox::data_counts`] gives an
    /// owner's actual counts.
    pub fn count(&self, data_type: DataType) -> u64 {
        self.count_in(data_type, world::COUNTRIES.first())
    }

    pub(crate) fn count_in(&self, data_type: DataType, country: Option<&world::Country>) -> u64 {
        match data_type {
            DataType::Company | DataType::CommerceInfo => 1,
            DataType::ChartOfAccounts => self.chart_of_accounts,
            DataType::TaxRates => country.map_or(0, |c| c.tax_rates.len() as u64),
            DataType::Customers => self.customers,
            DataType::Suppliers => self.suppliers,
            DataType::Invoices => self.invoices,
            DataType::Bills => self.bills,
            DataType::Payments => self.payments,
            DataType::CreditNotes => self.credit_notes,
            DataType::JournalEntries => self.journal_entries,
            DataType::BankAccounts => self.bank_accounts,
            DataType::BankTransactions => self.bank_transactions,
            DataType::CommerceCustomers => self.commerce_customers,
            DataType::CommerceOrders => self.commerce_orders,
            DataType::CommerceProducts => self.commerce_products,
            DataType::CommercePayments => self.commerce_payments,
        }
    }

    /// This profile with the update's counts, checked. An update that sets `invoices` without
    /// `payments` sets payments to 3/4 of the invoices; one that sets `commerce-orders` without
    /// `commerce-payments`, to 7/8 of the orders (the default profile's proportions).
    pub fn with(&self, u: &DataProfileUpdate) -> Result<Self, String> {
        let payments = match (u.payments, u.invoices) {
            (Some(p), _) => p,
            (None, Some(invoices)) => invoices / 4 * 3 + invoices % 4 * 3 / 4,
            (None, None) => self.payments,
        };
        let commerce_payments = match (u.commerce_payments, u.commerce_orders) {
            (Some(p), _) => p,
            (None, Some(orders)) => orders / 8 * 7 + orders % 8 * 7 / 8,
            (None, None) => self.commerce_payments,
        };
        let p = Self {
            chart_of_accounts: u.chart_of_accounts.unwrap_or(self.chart_of_accounts),
            customers: u.customers.unwrap_or(self.customers),
            suppliers: u.suppliers.unwrap_or(self.suppliers),
            invoices: u.invoices.unwrap_or(self.invoices),
            bills: u.bills.unwrap_or(self.bills),
            payments,
            credit_notes: u.credit_notes.unwrap_or(self.credit_notes),
            journal_entries: u.journal_entries.unwrap_or(self.journal_entries),
            bank_accounts: u.bank_accounts.unwrap_or(self.bank_accounts),
            bank_transactions: u.bank_transactions.unwrap_or(self.bank_transactions),
            commerce_customers: u.commerce_customers.unwrap_or(self.commerce_customers),
            commerce_orders: u.commerce_orders.unwrap_or(self.commerce_orders),
            commerce_products: u.commerce_products.unwrap_or(self.commerce_products),
            commerce_payments,
        };
        p.validate()?;
        Ok(p)
    }

    /// The rules of the field docs: counts at most [`MAX_RECORDS`], the minimums, and payments
    /// not outnumbering what they pay.
    pub fn validate(&self) -> Result<(), String> {
        for t in DataType::ALL {
            let n = self.count(t);
            if n > MAX_RECORDS {
                return Err(format!("{t} is at most {MAX_RECORDS} (got {n})."));
            }
        }
        let template = world::ACCOUNTS.len() as u64;
        if self.chart_of_accounts < template {
            return Err(format!(
                "chartOfAccounts is at least {template}, the accounts line items refer to (got {}).",
                self.chart_of_accounts
            ));
        }
        for (name, n) in [
            ("customers", self.customers),
            ("suppliers", self.suppliers),
            ("bankAccounts", self.bank_accounts),
            ("commerce-customers", self.commerce_customers),
            ("commerce-products", self.commerce_products),
        ] {
            if n == 0 {
                return Err(format!(
                    "{name} is at least 1 (other records refer to them)."
                ));
            }
        }
        if self.bank_accounts > MAX_BANK_ACCOUNTS {
            return Err(format!(
                "bankAccounts is at most {MAX_BANK_ACCOUNTS} (got {}).",
                self.bank_accounts
            ));
        }
        if self.payments > self.invoices {
            return Err(format!(
                "payments ({}) cannot outnumber invoices ({}): each payment pays one invoice.",
                self.payments, self.invoices
            ));
        }
        if self.commerce_payments > self.commerce_orders {
            return Err(format!(
                "commerce-payments ({}) cannot outnumber commerce-orders ({}): each payment pays one order.",
                self.commerce_payments, self.commerce_orders
            ));
        }
        Ok(())
    }

    /// The counts of the types an accounting organisation (`commerce == false`) or a store has.
    pub(crate) fn counts(
        &self,
        commerce: bool,
        country: Option<&world::Country>,
    ) -> BTreeMap<DataType, u64> {
        DataType::ALL
            .into_iter()
            .filter(|t| t.is_commerce() == commerce)
            .map(|t| (t, self.count_in(t, country)))
            .collect()
    }
}

/// When generated records are dated and modified. Each type spreads its records evenly over a
/// window: record `i` of `n` is at `start + i * span / n` (its business date is that day), and
/// was last modified `MODIFIED_OFFSET_MS + lag` later. Master data (accounts, contacts, bank
/// accounts, products) is in the year before the transactions; payments lag what they pay.
pub(crate) mod timing {
    use super::{DAY_MS, DataType};

    /// 2022-07-01T00:00:00Z.
    pub const MASTER_START_MS: i64 = 1_656_633_600_000;
    pub const MASTER_SPAN_MS: i64 = 365 * DAY_MS;
    /// 2023-07-01T00:00:00Z.
    pub const TXN_START_MS: i64 = 1_688_169_600_000;
    pub const TXN_SPAN_MS: i64 = 730 * DAY_MS;
    /// Records are modified in office hours after their business instant.
    pub const MODIFIED_OFFSET_MS: i64 = 8 * 3_600_000;
    /// Accounting payments are dated up to 45 days after the invoice they pay.
    pub const PAYMENT_LAG_MS: i64 = 46 * DAY_MS;
    /// Shop payments up to 2 days after the order.
    pub const SHOP_PAYMENT_LAG_MS: i64 = 3 * DAY_MS;
    /// After every generated modified instant: touches are stamped at least this.
    pub const GENERATED_END_MS: i64 = TXN_START_MS + TXN_SPAN_MS + PAYMENT_LAG_MS + DAY_MS;

    /// `(start, span, lag)` of a data type's window.
    pub fn window(t: DataType) -> (i64, i64, i64) {
        match t {
            DataType::Company
            | DataType::CommerceInfo
            | DataType::ChartOfAccounts
            | DataType::TaxRates
            | DataType::Customers
            | DataType::Suppliers
            | DataType::BankAccounts
            | DataType::CommerceCustomers
            | DataType::CommerceProducts => (MASTER_START_MS, MASTER_SPAN_MS, 0),
            DataType::Payments => (TXN_START_MS, TXN_SPAN_MS, PAYMENT_LAG_MS),
            DataType::CommercePayments => (TXN_START_MS, TXN_SPAN_MS, SHOP_PAYMENT_LAG_MS),
            DataType::Invoices
            | DataType::Bills
            | DataType::CreditNotes
            | DataType::JournalEntries
            | DataType::BankTransactions
            | DataType::CommerceOrders => (TXN_START_MS, TXN_SPAN_MS, 0),
        }
    }

    /// The business instant of record `i` of `n` (its date is that day).
    pub fn instant(t: DataType, i: u64, n: u64) -> i64 {
        let (start, span, _) = window(t);
        let n = n.max(1);
        start + ((i128::from(i) * i128::from(span)) / i128::from(n)) as i64
    }

    /// The generated modified instant of record `i` of `n`: strictly increasing in `i` (for
    /// `n` up to the span in milliseconds).
    pub fn modified(t: DataType, i: u64, n: u64) -> i64 {
        let (_, _, lag) = window(t);
        instant(t, i, n) + MODIFIED_OFFSET_MS + lag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_type_names_round_trip() {
        for t in DataType::ALL {
            assert_eq!(DataType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().to_owned())
            );
            assert_eq!(
                t.index(),
                DataType::ALL.iter().position(|x| *x == t).unwrap()
            );
        }
        assert_eq!(DataType::parse("nope"), None);
    }

    #[test]
    fn profiles_merge_and_validate() {
        let d = DataProfile::default();
        d.validate().unwrap();
        let json = serde_json::to_value(d).unwrap();
        assert_eq!(json["invoices"], 400);
        assert_eq!(json["commerce-orders"], 400);
        let back: DataProfile = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);

        let u: DataProfileUpdate =
            serde_json::from_str(r#"{"invoices": 100000, "payments": 50000}"#).unwrap();
        let p = d.with(&u).unwrap();
        assert_eq!(p.invoices, 100_000);
        assert_eq!(p.payments, 50_000);
        assert_eq!(p.bills, d.bills);
        let follows: DataProfileUpdate =
            serde_json::from_str(r#"{"invoices": 12, "commerce-orders": 9}"#).unwrap();
        let p = d.with(&follows).unwrap();
        assert_eq!((p.payments, p.commerce_payments), (9, 7));
        let p = p
            .with(&serde_json::from_str(r#"{"invoices": 100000}"#).unwrap())
            .unwrap();
        assert_eq!(p.payments, 75_000);
        assert!(serde_json::from_str::<DataProfileUpdate>(r#"{"invoice": 1}"#).is_err());

        for bad in [
            r#"{"payments": 401}"#,
            r#"{"invoices": 10, "payments": 11}"#,
            r#"{"customers": 0}"#,
            r#"{"chartOfAccounts": 3}"#,
            r#"{"invoices": 10000001}"#,
            r#"{"bankAccounts": 1001}"#,
            r#"{"commerce-payments": 401}"#,
        ] {
            let u: DataProfileUpdate = serde_json::from_str(bad).unwrap();
            assert!(d.with(&u).is_err(), "{bad}");
        }
        assert_eq!(d.count(DataType::Company), 1);
        assert_eq!(d.count(DataType::TaxRates), 7);
        let counts = d.counts(true, None);
        assert_eq!(counts.len(), 5);
        assert_eq!(counts[&DataType::CommerceOrders], 400);
    }

    #[test]
    fn modified_instants_increase_and_end_before_touches() {
        for t in DataType::ALL {
            for n in [1u64, 7, 1000, MAX_RECORDS] {
                let mut prev = i64::MIN;
                let mut idx = vec![0, 1, n / 2, n.saturating_sub(2), n - 1];
                idx.sort_unstable();
                idx.dedup();
                for i in idx.into_iter().filter(|i| *i < n) {
                    let m = timing::modified(t, i, n);
                    assert!(m >= prev);
                    prev = m;
                }
                assert!(timing::modified(t, n - 1, n) < timing::GENERATED_END_MS);
                if n > 1 {
                    assert!(timing::modified(t, 1, n) > timing::modified(t, 0, n));
                }
            }
        }
    }
}
