//! Codat's Banking API models (`banking-accounts`, `banking-transactions`), from
//! `codat-banking` (PyPI): `Account`, `Transaction`. Both are read per connection.
//!
//! These are the bank's view of an account (identifiers, institution, cleared balance), where
//! [`super::accounting::BankAccount`] is the ledger's view of the same account.

use serde::{Deserialize, Serialize};

use super::codat_enum;

codat_enum! {
    /// The banking account `type`: Credit (positive balances are liabilities, positive
    /// transactions reduce them) or Debit (positive balances are assets, positive transactions
    /// increase them).
    BankingAccountType {
        Unknown = "Unknown",
        Credit = "Credit",
        Debit = "Debit",
    }
}

codat_enum! {
    /// `AccountIdentifierType`.
    AccountIdentifierType {
        Account = "Account",
        Card = "Card",
        Credit = "Credit",
        Depository = "Depository",
        Investment = "Investment",
        Loan = "Loan",
        Other = "Other",
    }
}

codat_enum! {
    /// `TransactionCode`: what kind of transaction it is.
    TransactionCode {
        Unknown = "Unknown",
        Fee = "Fee",
        Payment = "Payment",
        Cash = "Cash",
        Transfer = "Transfer",
        Interest = "Interest",
        Cashback = "Cashback",
        Cheque = "Cheque",
        DirectDebit = "DirectDebit",
        Purchase = "Purchase",
        StandingOrder = "StandingOrder",
        Adjustment = "Adjustment",
        Credit = "Credit",
        Other = "Other",
        NotSupported = "NotSupported",
    }
}

/// `balance` of a banking account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct AccountBalanceAmounts {
    /// Cleared transactions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<f64>,
    /// Including pending transactions, excluding any overdraft.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<f64>,
    /// The lowest allowed balance (a 100.00 overdraft is `-100.00`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
}

/// `identifiers` of a banking account (`type` is required).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccountIdentifiers {
    #[serde(rename = "type")]
    pub identifier_type: AccountIdentifierType,
    /// Detailed category, e.g. `checking`, `savings`, `credit card`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The national routing number (a UK sort code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_account_number: Option<String>,
}

/// `institution` of a banking account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct AccountInstitution {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A bank account in the Banking API (`banking-accounts`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BankingAccount {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub informal_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    #[serde(rename = "type")]
    pub account_type: BankingAccountType,
    pub balance: AccountBalanceAmounts,
    pub currency: String,
    pub identifiers: AccountIdentifiers,
    pub institution: AccountInstitution,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

/// `transactionCategoryRef`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TransactionCategoryRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A bank transaction in the Banking API (`banking-transactions`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BankingTransaction {
    pub id: String,
    /// The banking account's id.
    pub account_id: String,
    /// Signed per the account's type: money in is positive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posted_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<TransactionCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_category_ref: Option<TransactionCategoryRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}
