//! Codat's Accounting API models: company info, chart of accounts, tax rates, customers,
//! suppliers, invoices, bills, credit notes, payments, journal entries, bank accounts and their
//! transactions.
//!
//! Field names and enum strings are those of `codat-accounting` (PyPI): `Invoice`, `Bill`,
//! `CreditNote`, `Payment`, `JournalEntry`, `Account`, `TaxRate`, `Customer`, `Supplier`,
//! `BankAccount`, `AccountingBankAccountTransaction`, `CompanyDataset`. Fields the SDK requires
//! are plain values here; the others are `Option`s left out of the JSON when unknown.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::codat_enum;
use super::common::{
    AccountRef, AccountingAddress, CustomerRef, ItemRef, PhoneNumber, SupplierRef, TaxRateRef,
    WebLink,
};

/// Codat's `supplementalData`: extra platform fields configured per client.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct SupplementalData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// Company info (`company`, `GET /companies/{id}/data/info`; the SDK's `CompanyDataset`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CompanyInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_legal_name: Option<String>,
    /// The company's id in the accounting platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounting_platform_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<AccountingAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_links: Option<Vec<WebLink>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_currency: Option<String>,
    /// The start of the current financial year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub financial_year_start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_number: Option<String>,
    /// Links into the platform, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_urls: Option<BTreeMap<String, String>>,
    /// When the company was created in the platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_lock_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplemental_data: Option<SupplementalData>,
    /// Codat does not populate it for company info; kept for symmetry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// `AccountType`.
    AccountType {
        Unknown = "Unknown",
        Asset = "Asset",
        Expense = "Expense",
        Income = "Income",
        Liability = "Liability",
        Equity = "Equity",
    }
}

codat_enum! {
    /// `AccountStatus`.
    AccountStatus {
        Unknown = "Unknown",
        Active = "Active",
        Archived = "Archived",
        Pending = "Pending",
    }
}

/// A chart-of-accounts account (`chartOfAccounts`, `GET .../data/accounts`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// e.g. `Asset.Current`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fully_qualified_category: Option<String>,
    /// e.g. `Asset.Current.Accounts Receivable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fully_qualified_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_balance: Option<f64>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub account_type: Option<AccountType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AccountStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_bank_account: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// `TaxRateStatus`.
    TaxRateStatus {
        Unknown = "Unknown",
        Active = "Active",
        Archived = "Archived",
    }
}

/// A component of a tax rate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaxRateComponent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub is_compound: bool,
}

/// A tax rate (`taxRates`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaxRate {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The platform's code for the rate (Xero's `TaxType`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Percent, compounding included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_tax_rate: Option<f64>,
    /// Percent, the sum of the components.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_tax_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<TaxRateComponent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaxRateStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// `CustomerStatus` (also the status of a customer's contacts).
    CustomerStatus {
        Unknown = "Unknown",
        Active = "Active",
        Archived = "Archived",
    }
}

codat_enum! {
    /// `SupplierStatus`.
    SupplierStatus {
        Unknown = "Unknown",
        Active = "Active",
        Archived = "Archived",
    }
}

/// A contact person of a customer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Vec<PhoneNumber>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<AccountingAddress>,
    pub status: CustomerStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
}

/// A customer (`customers`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<AccountingAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_currency: Option<String>,
    pub status: CustomerStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

/// A supplier (`suppliers`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Supplier {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<AccountingAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_currency: Option<String>,
    pub status: SupplierStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

/// A line of an invoice or a credit note (`InvoiceLineItem`, `CreditNoteLineItem`).
///
/// `subTotal = quantity * unitAmount - discountAmount` (tax excluded),
/// `totalAmount = subTotal + taxAmount`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceLineItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Excluding tax.
    pub unit_amount: f64,
    pub quantity: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_percentage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_ref: Option<AccountRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate_ref: Option<TaxRateRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_ref: Option<ItemRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_direct_income: Option<bool>,
}

codat_enum! {
    /// `InvoiceStatus`.
    InvoiceStatus {
        Unknown = "Unknown",
        Draft = "Draft",
        Submitted = "Submitted",
        PartiallyPaid = "PartiallyPaid",
        Paid = "Paid",
        Void = "Void",
    }
}

/// An invoice (`invoices`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<CustomerRef>,
    pub issue_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// When it was fully paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_on_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_items: Option<Vec<InvoiceLineItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_total: Option<f64>,
    pub total_tax_amount: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_discount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_percentage: Option<f64>,
    pub total_amount: f64,
    pub amount_due: f64,
    pub status: InvoiceStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

/// A line of a bill (`BillLineItem`); amounts as on [`InvoiceLineItem`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BillLineItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub unit_amount: f64,
    pub quantity: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_percentage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_ref: Option<AccountRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate_ref: Option<TaxRateRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_ref: Option<ItemRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_direct_cost: Option<bool>,
}

codat_enum! {
    /// `BillStatus`.
    BillStatus {
        Unknown = "Unknown",
        Open = "Open",
        PartiallyPaid = "PartiallyPaid",
        Paid = "Paid",
        Void = "Void",
        Draft = "Draft",
    }
}

/// A bill (`bills`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bill {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_ref: Option<SupplierRef>,
    pub issue_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_items: Option<Vec<BillLineItem>>,
    pub sub_total: f64,
    pub tax_amount: f64,
    pub total_amount: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_due: Option<f64>,
    pub status: BillStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// `CreditNoteStatus`.
    CreditNoteStatus {
        Unknown = "Unknown",
        Draft = "Draft",
        Submitted = "Submitted",
        Paid = "Paid",
        Void = "Void",
        PartiallyPaid = "PartiallyPaid",
    }
}

/// A credit note (`creditNotes`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CreditNote {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_note_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<CustomerRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_on_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_items: Option<Vec<InvoiceLineItem>>,
    pub sub_total: f64,
    pub total_tax_amount: f64,
    pub total_discount: f64,
    pub discount_percentage: f64,
    pub total_amount: f64,
    /// What is left to allocate.
    pub remaining_credit: f64,
    pub status: CreditNoteStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// `PaymentLinkType`: what a payment line's link points at.
    PaymentLinkType {
        Unknown = "Unknown",
        Unlinked = "Unlinked",
        Invoice = "Invoice",
        CreditNote = "CreditNote",
        Other = "Other",
        Refund = "Refund",
        Payment = "Payment",
        PaymentOnAccount = "PaymentOnAccount",
        ManualJournal = "ManualJournal",
        Discount = "Discount",
    }
}

/// A link of a payment line to the record it settles.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentLineLink {
    #[serde(rename = "type")]
    pub link_type: PaymentLinkType,
    /// The linked record's id (an invoice's for `Invoice`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// By how much the linked record's balance changes, in its currency: negative reduces what
    /// the customer owes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_rate: Option<f64>,
}

/// A line of a payment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentLine {
    /// In the payment's currency.
    pub amount: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_on_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<PaymentLineLink>>,
}

/// A customer payment (`payments`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub id: String,
    pub date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<CustomerRef>,
    /// The (bank) account the money went into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_ref: Option<AccountRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<PaymentLine>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

/// A line of a journal entry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JournalLine {
    /// Debits positive, credits negative; an entry's lines sum to zero.
    pub net_amount: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_ref: Option<AccountRef>,
}

/// A journal entry (`journalEntries`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The date it was posted to the ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posted_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_lines: Option<Vec<JournalLine>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// The `accountType` of a bank account. Credit: positive balances are liabilities and
    /// positive transactions reduce them; Debit: positive balances are assets and positive
    /// transactions increase them.
    BankAccountType {
        Unknown = "Unknown",
        Credit = "Credit",
        Debit = "Debit",
    }
}

codat_enum! {
    /// `BankAccountStatus`.
    BankAccountStatus {
        Unknown = "Unknown",
        Active = "Active",
        Archived = "Archived",
        Pending = "Pending",
    }
}

/// A bank account in the Accounting API (`bankAccounts`, per connection).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BankAccount {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_type: Option<BankAccountType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    #[serde(rename = "iBan", skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub institution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Signed per [`BankAccountType`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_balance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdraft_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BankAccountStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// `BankTransactionType` (OFX transaction types).
    BankTransactionType {
        Unknown = "Unknown",
        Credit = "Credit",
        Debit = "Debit",
        Int = "Int",
        Div = "Div",
        Fee = "Fee",
        SerChg = "SerChg",
        Dep = "Dep",
        Atm = "Atm",
        Pos = "Pos",
        Xfer = "Xfer",
        Check = "Check",
        Payment = "Payment",
        Cash = "Cash",
        DirectDep = "DirectDep",
        DirectDebit = "DirectDebit",
        RepeatPmt = "RepeatPmt",
        Other = "Other",
    }
}

/// A bank transaction in the Accounting API (`bankTransactions`, read per bank account at
/// `.../bankAccounts/{accountId}/bankTransactions`; the SDK's
/// `AccountingBankAccountTransaction`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BankTransaction {
    pub id: String,
    /// The bank account's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleared_on_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Signed per the account's [`BankAccountType`] (money in is positive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    /// The account's balance after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_type: Option<BankTransactionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}
