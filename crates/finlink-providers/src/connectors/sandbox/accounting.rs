//! The accounting sandbox (Xero-like, PascalCase) to Codat's Accounting and Banking models.
//!
//! Mapping rules worth knowing:
//!
//! - Documents: `ACCREC` invoices are `invoices`, `ACCPAY` ones `bills`, `ACCRECCREDIT` credit
//!   notes `creditNotes`; any other type under those lists is a mapping error (it belongs to
//!   another data type). Line items refer to accounts by code and to tax rates by tax type:
//!   both are resolved against the chart of accounts and the tax rates, fetched first
//!   (`accountRef {id, name}`, `taxRateRef {id, name, effectiveTaxRate}`); an unknown code
//!   leaves the ref out rather than inventing one.
//! - Statuses: `DRAFT` -> `Draft`; `SUBMITTED` -> `Submitted` (bills: `Draft`, not yet
//!   approved); `AUTHORISED` -> `PartiallyPaid` when something was paid and something is due,
//!   else `Submitted` (bills: `Open`); `PAID` -> `Paid`; `VOIDED`/`DELETED` -> `Void`.
//! - Currency rates are turned around to Codat's convention (base per document unit).
//! - Payments: one line of the payment's amount linked to its invoice with a negative link
//!   amount (it reduces what the customer owes); `accountRef` is the bank account it went into.
//! - Bank accounts: `BANK` is a Debit account, `CREDITCARD` a Credit one, whose balances Codat
//!   signs the other way round (a positive balance is owed): the sandbox's (Xero's) negative
//!   card balance becomes positive. Transactions: `RECEIVE` positive, `SPEND` negative.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use finlink_domain::Timestamp;
use finlink_domain::connection::SourceType;
use finlink_domain::data::accounting::{
    Account, AccountStatus, AccountType, BankAccount, BankAccountStatus, BankAccountType,
    BankTransaction, BankTransactionType, Bill, BillLineItem, BillStatus, CompanyInfo, Contact,
    CreditNote, CreditNoteStatus, Customer, CustomerStatus, Invoice, InvoiceLineItem,
    InvoiceStatus, JournalEntry, JournalLine, Payment, PaymentLine, PaymentLineLink,
    PaymentLinkType, Supplier, SupplierStatus, TaxRate, TaxRateComponent, TaxRateStatus,
};
use finlink_domain::data::banking::{
    AccountBalanceAmounts, AccountIdentifierType, AccountIdentifiers, AccountInstitution,
    BankingAccount, BankingAccountType, BankingTransaction, TransactionCode,
};
use finlink_domain::data::common::{
    AccountRef, AccountingAddress, AccountingAddressType, CustomerRef, ItemRef, PhoneNumber,
    PhoneNumberType, SupplierRef, TaxRateRef, WebLink, WebLinkType,
};
use finlink_domain::data::{DataType, Record, codat_date, codat_instant};
use reqwest::header::HeaderName;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::super::http::{
    AuthScheme, MapFailure, Mapped, PageApi, PageQuery, PageRequest, Pager, RawPage,
};
use super::super::{ConnectionContext, PullError};
use super::{
    ACCOUNTING_KEY, MAX_PAGE_SIZE, TENANT_SETTING, codat_rate, date_str, endpoint, full_name,
    instant, instant_str, malformed, money,
};

const TENANT_HEADER: HeaderName = HeaderName::from_static("x-tenant-id");

const ACCOUNTING_TYPES: [DataType; 12] = [
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
];

const BANKING_TYPES: [DataType; 2] = [DataType::BankingAccounts, DataType::BankingTransactions];

/// The list path (under the API base) and the JSON key of its records.
fn endpoint_of(t: DataType) -> Option<(&'static str, &'static str)> {
    Some(match t {
        DataType::Company => ("/organisation", "Organisations"),
        DataType::ChartOfAccounts => ("/accounts", "Accounts"),
        DataType::TaxRates => ("/tax-rates", "TaxRates"),
        DataType::Customers => ("/customers", "Contacts"),
        DataType::Suppliers => ("/suppliers", "Contacts"),
        DataType::Invoices => ("/invoices", "Invoices"),
        DataType::Bills => ("/bills", "Bills"),
        DataType::Payments => ("/payments", "Payments"),
        DataType::CreditNotes => ("/credit-notes", "CreditNotes"),
        DataType::JournalEntries => ("/manual-journals", "ManualJournals"),
        DataType::BankAccounts | DataType::BankingAccounts => ("/bank-accounts", "BankAccounts"),
        DataType::BankTransactions | DataType::BankingTransactions => {
            ("/bank-transactions", "BankTransactions")
        }
        _ => return None,
    })
}

fn request(
    base: &str,
    connection: &ConnectionContext,
    query: &PageQuery,
) -> Result<PageRequest, PullError> {
    let (path, _) = endpoint_of(query.data_type).ok_or_else(|| PullError::NotSupported {
        integration: ACCOUNTING_KEY.to_owned(),
        data_type: query.data_type,
    })?;
    let mut url = endpoint(base, path)?;
    if !query.data_type.is_single() {
        let mut q = url.query_pairs_mut();
        q.append_pair("page", &query.page.to_string());
        q.append_pair("pageSize", &query.page_size.min(MAX_PAGE_SIZE).to_string());
        if let Some(since) = query.modified_since {
            q.append_pair("modifiedSince", &since.to_rfc3339());
        }
    }
    let mut headers = Vec::new();
    if let Some(tenant) = connection.setting(TENANT_SETTING) {
        headers.push((TENANT_HEADER, tenant.to_owned()));
    }
    Ok(PageRequest { url, headers })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    page_count: Option<u32>,
    item_count: Option<u64>,
}

fn parse_page(query: &PageQuery, body: &[u8]) -> Result<RawPage, PullError> {
    let (_, key) = endpoint_of(query.data_type).ok_or_else(|| PullError::NotSupported {
        integration: ACCOUNTING_KEY.to_owned(),
        data_type: query.data_type,
    })?;
    let mut obj: serde_json::Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| malformed("page", e))?;
    let records = match obj.remove(key) {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(malformed("page", format!("\"{key}\" is not a list"))),
    };
    if query.data_type.is_single() {
        let n = records.len() as u64;
        return Ok(RawPage {
            records,
            has_more: false,
            total_records: Some(n),
            total_pages: Some(1),
        });
    }
    let pagination: Option<Pagination> = obj
        .remove("pagination")
        .and_then(|v| serde_json::from_value(v).ok());
    let page_count = pagination.as_ref().and_then(|p| p.page_count);
    let has_more = match page_count {
        Some(count) => query.page < count,
        None => records.len() as u64 >= u64::from(query.page_size),
    };
    Ok(RawPage {
        records,
        has_more,
        total_records: pagination.and_then(|p| p.item_count),
        total_pages: page_count,
    })
}

// ---------------------------------------------------------------------------------------------
// Reference data

/// What the mapping of a data type needs from other data types.
#[derive(Debug, Default)]
pub struct AccountingRefs {
    /// Chart code -> (id, name).
    accounts_by_code: HashMap<String, (String, Option<String>)>,
    /// Chart id -> name.
    account_names: HashMap<String, String>,
    /// Tax type -> ref.
    tax_rates: HashMap<String, TaxRateRef>,
    /// Bank account id -> (name, is a credit account).
    bank_accounts: HashMap<String, (Option<String>, bool)>,
    organisation_name: Option<String>,
    base_currency: Option<String>,
}

#[derive(Clone, Copy, Default)]
struct Needs {
    chart: bool,
    tax_rates: bool,
    bank_accounts: bool,
    organisation: bool,
}

fn needs(t: DataType) -> Needs {
    match t {
        DataType::Invoices | DataType::Bills | DataType::CreditNotes => Needs {
            chart: true,
            tax_rates: true,
            ..Needs::default()
        },
        DataType::JournalEntries => Needs {
            chart: true,
            organisation: true,
            ..Needs::default()
        },
        DataType::Payments | DataType::BankTransactions | DataType::BankingTransactions => Needs {
            bank_accounts: true,
            ..Needs::default()
        },
        DataType::BankingAccounts => Needs {
            organisation: true,
            ..Needs::default()
        },
        _ => Needs::default(),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

async fn load_refs<A: PageApi>(
    api: &A,
    pager: &Pager,
    connection: &ConnectionContext,
    data_type: DataType,
) -> Result<AccountingRefs, PullError> {
    let needs = needs(data_type);
    let mut refs = AccountingRefs::default();
    if needs.chart {
        for a in pager
            .fetch_all(api, connection, DataType::ChartOfAccounts)
            .await?
        {
            let (Some(id), name) = (text(&a, "AccountID"), text(&a, "Name")) else {
                continue;
            };
            if let Some(code) = text(&a, "Code") {
                refs.accounts_by_code
                    .insert(code, (id.clone(), name.clone()));
            }
            if let Some(name) = name {
                refs.account_names.insert(id, name);
            }
        }
    }
    if needs.tax_rates {
        for r in pager.fetch_all(api, connection, DataType::TaxRates).await? {
            let Some(tax_type) = text(&r, "TaxType") else {
                continue;
            };
            refs.tax_rates.insert(
                tax_type,
                TaxRateRef {
                    id: text(&r, "TaxRateID"),
                    name: text(&r, "Name"),
                    effective_tax_rate: r.get("EffectiveRate").and_then(Value::as_f64),
                },
            );
        }
    }
    if needs.bank_accounts {
        for b in pager
            .fetch_all(api, connection, DataType::BankAccounts)
            .await?
        {
            if let Some(id) = text(&b, "AccountID") {
                let credit = text(&b, "Type").as_deref() == Some("CREDITCARD");
                refs.bank_accounts.insert(id, (text(&b, "Name"), credit));
            }
        }
    }
    if needs.organisation
        && let Some(org) = pager
            .fetch_all(api, connection, DataType::Company)
            .await?
            .into_iter()
            .next()
    {
        refs.organisation_name = text(&org, "Name");
        refs.base_currency = text(&org, "BaseCurrency");
    }
    Ok(refs)
}

// ---------------------------------------------------------------------------------------------
// The sandbox's shapes (only what is mapped)

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAddress {
    address_type: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawPhone {
    phone_type: Option<String>,
    phone_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawOrganisation {
    #[serde(rename = "OrganisationID")]
    organisation_id: Option<String>,
    name: Option<String>,
    legal_name: Option<String>,
    base_currency: Option<String>,
    financial_year_end_day: Option<u32>,
    financial_year_end_month: Option<u32>,
    tax_number: Option<String>,
    registration_number: Option<String>,
    #[serde(default)]
    addresses: Vec<RawAddress>,
    #[serde(default)]
    phones: Vec<RawPhone>,
    website: Option<String>,
    #[serde(rename = "CreatedDateUTC")]
    created_date_utc: Option<String>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAccount {
    #[serde(rename = "AccountID")]
    account_id: Option<String>,
    code: Option<String>,
    name: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    class: Option<String>,
    status: Option<String>,
    description: Option<String>,
    currency_code: Option<String>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTaxComponent {
    name: Option<String>,
    rate: Option<f64>,
    #[serde(default)]
    is_compound: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTaxRate {
    #[serde(rename = "TaxRateID")]
    tax_rate_id: Option<String>,
    name: Option<String>,
    tax_type: Option<String>,
    status: Option<String>,
    effective_rate: Option<f64>,
    #[serde(default)]
    tax_components: Vec<RawTaxComponent>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawContact {
    #[serde(rename = "ContactID")]
    contact_id: Option<String>,
    contact_status: Option<String>,
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email_address: Option<String>,
    #[serde(default)]
    phones: Vec<RawPhone>,
    #[serde(default)]
    addresses: Vec<RawAddress>,
    tax_number: Option<String>,
    company_number: Option<String>,
    default_currency: Option<String>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
struct RawContactRef {
    #[serde(rename = "ContactID")]
    contact_id: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawLineItem {
    item_code: Option<String>,
    description: Option<String>,
    quantity: Option<f64>,
    unit_amount: Option<f64>,
    account_code: Option<String>,
    tax_type: Option<String>,
    tax_amount: Option<f64>,
    line_amount: Option<f64>,
}

/// An invoice or a bill.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawInvoice {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "InvoiceID")]
    invoice_id: Option<String>,
    invoice_number: Option<String>,
    reference: Option<String>,
    contact: Option<RawContactRef>,
    date: Option<String>,
    due_date: Option<String>,
    status: Option<String>,
    line_amount_types: Option<String>,
    #[serde(default)]
    line_items: Vec<RawLineItem>,
    sub_total: Option<f64>,
    total_tax: Option<f64>,
    total: Option<f64>,
    amount_paid: Option<f64>,
    amount_credited: Option<f64>,
    amount_due: Option<f64>,
    currency_code: Option<String>,
    currency_rate: Option<f64>,
    fully_paid_on_date: Option<String>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawCreditNote {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "CreditNoteID")]
    credit_note_id: Option<String>,
    credit_note_number: Option<String>,
    reference: Option<String>,
    contact: Option<RawContactRef>,
    date: Option<String>,
    status: Option<String>,
    line_amount_types: Option<String>,
    #[serde(default)]
    line_items: Vec<RawLineItem>,
    sub_total: Option<f64>,
    total_tax: Option<f64>,
    total: Option<f64>,
    remaining_credit: Option<f64>,
    currency_code: Option<String>,
    currency_rate: Option<f64>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
struct RawPaymentAccount {
    #[serde(rename = "AccountID")]
    account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawPaymentInvoice {
    #[serde(rename = "InvoiceID")]
    invoice_id: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    currency_code: Option<String>,
    contact: Option<RawContactRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawPayment {
    #[serde(rename = "PaymentID")]
    payment_id: Option<String>,
    date: Option<String>,
    amount: Option<f64>,
    currency_rate: Option<f64>,
    reference: Option<String>,
    payment_type: Option<String>,
    account: Option<RawPaymentAccount>,
    invoice: Option<RawPaymentInvoice>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawJournalLine {
    #[serde(rename = "AccountID")]
    account_id: Option<String>,
    description: Option<String>,
    line_amount: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawJournal {
    #[serde(rename = "ManualJournalID")]
    manual_journal_id: Option<String>,
    narration: Option<String>,
    date: Option<String>,
    #[serde(default)]
    journal_lines: Vec<RawJournalLine>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawBankAccount {
    #[serde(rename = "AccountID")]
    account_id: Option<String>,
    code: Option<String>,
    name: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    bank_name: Option<String>,
    bank_account_number: Option<String>,
    currency_code: Option<String>,
    balance: Option<f64>,
    description: Option<String>,
    status: Option<String>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
struct RawBankAccountRef {
    #[serde(rename = "AccountID")]
    account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawBankTransaction {
    #[serde(rename = "BankTransactionID")]
    bank_transaction_id: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    bank_account: Option<RawBankAccountRef>,
    date: Option<String>,
    description: Option<String>,
    amount: Option<f64>,
    currency_code: Option<String>,
    running_balance: Option<f64>,
    #[serde(default)]
    is_reconciled: bool,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Mapping helpers

/// The record as `T`, or a failure naming its id.
fn shape<T: DeserializeOwned>(raw: &Value, id_field: &str) -> Result<T, MapFailure> {
    T::deserialize(raw).map_err(|e| {
        MapFailure::new(
            raw.get(id_field).and_then(Value::as_str),
            format!("unexpected record shape: {e}"),
        )
    })
}

fn required_id(id: Option<String>, field: &str) -> Result<String, MapFailure> {
    id.ok_or_else(|| MapFailure::new(None, format!("the record has no {field}")))
}

fn address(a: &RawAddress) -> AccountingAddress {
    AccountingAddress {
        address_type: match a.address_type.as_deref() {
            Some("POBOX") => AccountingAddressType::Billing,
            Some("STREET" | "DELIVERY") => AccountingAddressType::Delivery,
            _ => AccountingAddressType::Unknown,
        },
        line1: a.address_line1.clone(),
        line2: a.address_line2.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        country: a.country.clone(),
        postal_code: a.postal_code.clone(),
    }
}

fn phone(p: &RawPhone) -> Option<PhoneNumber> {
    let number = p.phone_number.clone().filter(|n| !n.trim().is_empty())?;
    Some(PhoneNumber {
        number: Some(number),
        phone_type: match p.phone_type.as_deref() {
            Some("DEFAULT") => PhoneNumberType::Primary,
            Some("MOBILE") => PhoneNumberType::Mobile,
            Some("FAX") => PhoneNumberType::Fax,
            Some("DDI") => PhoneNumberType::Landline,
            _ => PhoneNumberType::Unknown,
        },
    })
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// The first day of the financial year running at `at`, from the year end's day and month.
fn financial_year_start(end_day: u32, end_month: u32, at: Timestamp) -> Option<String> {
    let today = Utc
        .timestamp_millis_opt(at.as_millis())
        .single()?
        .date_naive();
    // The year end in year `y`, the 29th of February falling back to the 28th.
    let end_in = |y: i32| {
        (0..4).find_map(|back| NaiveDate::from_ymd_opt(y, end_month, end_day.checked_sub(back)?))
    };
    let mut end = end_in(today.year())?;
    if end >= today {
        end = end_in(today.year() - 1)?;
    }
    end.succ_opt().map(codat_date)
}

/// `(type, fully qualified category)` of a chart account from its type, or failing that its
/// class.
fn account_category(
    kind: Option<&str>,
    class: Option<&str>,
) -> (AccountType, Option<&'static str>) {
    match kind.unwrap_or("") {
        "REVENUE" | "SALES" => (AccountType::Income, Some("Income.Revenue")),
        "OTHERINCOME" => (AccountType::Income, Some("Income.Other Income")),
        "DIRECTCOSTS" => (AccountType::Expense, Some("Expense.Direct Costs")),
        "OVERHEADS" | "EXPENSE" => (AccountType::Expense, Some("Expense.Overheads")),
        "DEPRECIATN" => (AccountType::Expense, Some("Expense.Depreciation")),
        "CURRENT" | "BANK" => (AccountType::Asset, Some("Asset.Current")),
        "INVENTORY" => (AccountType::Asset, Some("Asset.Inventory")),
        "FIXED" => (AccountType::Asset, Some("Asset.Fixed")),
        "NONCURRENT" => (AccountType::Asset, Some("Asset.NonCurrent")),
        "PREPAYMENT" => (AccountType::Asset, Some("Asset.Prepayment")),
        "CURRLIAB" => (AccountType::Liability, Some("Liability.Current")),
        "TERMLIAB" | "LIABILITY" => (AccountType::Liability, Some("Liability.NonCurrent")),
        "EQUITY" => (AccountType::Equity, Some("Equity.Owners Equity")),
        _ => match class.unwrap_or("") {
            "ASSET" => (AccountType::Asset, None),
            "LIABILITY" => (AccountType::Liability, None),
            "EQUITY" => (AccountType::Equity, None),
            "REVENUE" => (AccountType::Income, None),
            "EXPENSE" => (AccountType::Expense, None),
            _ => (AccountType::Unknown, None),
        },
    }
}

/// A document line's amounts in minor units: `(unit excl. tax, quantity, discount, sub total
/// excl. tax, tax, total)`.
struct LineAmounts {
    unit: f64,
    quantity: f64,
    discount: Option<f64>,
    sub_total: f64,
    tax: f64,
    total: f64,
}

fn line_amounts(l: &RawLineItem, amount_types: Option<&str>) -> LineAmounts {
    let quantity = l.quantity.unwrap_or(1.0);
    let unit = l.unit_amount.unwrap_or(0.0);
    let line = money::cents(l.line_amount.unwrap_or(quantity * unit));
    let tax = money::cents(l.tax_amount.unwrap_or(0.0));
    let inclusive = amount_types == Some("Inclusive");
    let (sub, total) = if inclusive {
        (line - tax, line)
    } else {
        (line, line + tax)
    };
    let unit_excl = if inclusive && quantity != 0.0 {
        money::round2(money::amount(sub) / quantity)
    } else {
        unit
    };
    let discount = money::cents(quantity * unit_excl) - sub;
    LineAmounts {
        unit: unit_excl,
        quantity,
        discount: (discount > 0).then(|| money::amount(discount)),
        sub_total: money::amount(sub),
        tax: money::amount(tax),
        total: money::amount(total),
    }
}

fn account_ref_by_code(refs: &AccountingRefs, code: Option<&str>) -> Option<AccountRef> {
    let (id, name) = refs.accounts_by_code.get(code?)?;
    Some(AccountRef {
        id: Some(id.clone()),
        name: name.clone(),
    })
}

fn tax_rate_ref(refs: &AccountingRefs, tax_type: Option<&str>) -> Option<TaxRateRef> {
    refs.tax_rates.get(tax_type?).cloned()
}

fn item_ref(code: Option<&str>) -> Option<ItemRef> {
    code.filter(|c| !c.is_empty()).map(|c| ItemRef {
        id: c.to_owned(),
        name: None,
    })
}

fn invoice_line(
    l: &RawLineItem,
    amount_types: Option<&str>,
    refs: &AccountingRefs,
) -> InvoiceLineItem {
    let a = line_amounts(l, amount_types);
    InvoiceLineItem {
        description: l.description.clone(),
        unit_amount: a.unit,
        quantity: a.quantity,
        discount_amount: a.discount,
        discount_percentage: None,
        sub_total: Some(a.sub_total),
        tax_amount: Some(a.tax),
        total_amount: Some(a.total),
        account_ref: account_ref_by_code(refs, l.account_code.as_deref()),
        tax_rate_ref: tax_rate_ref(refs, l.tax_type.as_deref()),
        item_ref: item_ref(l.item_code.as_deref()),
        is_direct_income: Some(false),
    }
}

fn bill_line(
    n: usize,
    l: &RawLineItem,
    amount_types: Option<&str>,
    refs: &AccountingRefs,
) -> BillLineItem {
    let a = line_amounts(l, amount_types);
    BillLineItem {
        line_number: Some((n + 1).to_string()),
        description: l.description.clone(),
        unit_amount: a.unit,
        quantity: a.quantity,
        discount_amount: a.discount,
        discount_percentage: None,
        sub_total: Some(a.sub_total),
        tax_amount: Some(a.tax),
        total_amount: Some(a.total),
        account_ref: account_ref_by_code(refs, l.account_code.as_deref()),
        tax_rate_ref: tax_rate_ref(refs, l.tax_type.as_deref()),
        item_ref: item_ref(l.item_code.as_deref()),
        is_direct_cost: Some(false),
    }
}

fn customer_ref(c: Option<&RawContactRef>) -> Option<CustomerRef> {
    let c = c?;
    Some(CustomerRef {
        id: c.contact_id.clone()?,
        company_name: c.name.clone(),
    })
}

fn amount(x: Option<f64>) -> f64 {
    money::round2(x.unwrap_or(0.0))
}

fn mapped(
    source_id: String,
    updated: Option<&str>,
    record: impl Into<Record>,
) -> Result<Mapped, MapFailure> {
    Ok(Mapped {
        source_id,
        source_modified: instant(updated),
        record: record.into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Accounting records

fn company(raw: &Value, at: Timestamp) -> Result<Mapped, MapFailure> {
    let o: RawOrganisation = shape(raw, "OrganisationID")?;
    let id = required_id(o.organisation_id.clone(), "OrganisationID")?;
    let info = CompanyInfo {
        company_name: o.name.clone(),
        company_legal_name: o.legal_name.clone(),
        accounting_platform_ref: Some(id.clone()),
        addresses: non_empty(o.addresses.iter().map(address).collect()),
        phone_numbers: non_empty(o.phones.iter().filter_map(phone).collect()),
        web_links: o.website.clone().map(|url| {
            vec![WebLink {
                link_type: Some(WebLinkType::Website),
                url: Some(url),
            }]
        }),
        base_currency: o.base_currency.clone(),
        financial_year_start_date: match (o.financial_year_end_day, o.financial_year_end_month) {
            (Some(d), Some(m)) => financial_year_start(d, m, at),
            _ => None,
        },
        registration_number: o.registration_number.clone(),
        tax_number: o.tax_number.clone(),
        source_urls: None,
        created_date: instant_str(o.created_date_utc.as_deref()),
        ledger_lock_date: None,
        supplemental_data: None,
        // Codat leaves the dates of company info out.
        modified_date: None,
        source_modified_date: instant_str(o.updated_date_utc.as_deref()),
    };
    mapped(id, o.updated_date_utc.as_deref(), info)
}

fn account(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let a: RawAccount = shape(raw, "AccountID")?;
    let id = required_id(a.account_id, "AccountID")?;
    let (account_type, category) = account_category(a.kind.as_deref(), a.class.as_deref());
    let record = Account {
        id: id.clone(),
        nominal_code: a.code,
        fully_qualified_category: category.map(str::to_owned),
        fully_qualified_name: match (category, &a.name) {
            (Some(c), Some(n)) => Some(format!("{c}.{n}")),
            _ => None,
        },
        name: a.name,
        description: a.description,
        currency: a.currency_code,
        current_balance: None,
        account_type: Some(account_type),
        status: Some(match a.status.as_deref() {
            Some("ACTIVE") => AccountStatus::Active,
            Some("ARCHIVED" | "DELETED") => AccountStatus::Archived,
            _ => AccountStatus::Unknown,
        }),
        is_bank_account: Some(a.kind.as_deref() == Some("BANK")),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(a.updated_date_utc.as_deref()),
    };
    mapped(id, a.updated_date_utc.as_deref(), record)
}

fn tax_rate(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let r: RawTaxRate = shape(raw, "TaxRateID")?;
    let id = required_id(r.tax_rate_id, "TaxRateID")?;
    let total: f64 = r.tax_components.iter().filter_map(|c| c.rate).sum();
    let record = TaxRate {
        id: id.clone(),
        name: r.name,
        code: r.tax_type,
        effective_tax_rate: r.effective_rate,
        total_tax_rate: Some((total * 10_000.0).round() / 10_000.0),
        components: non_empty(
            r.tax_components
                .into_iter()
                .map(|c| TaxRateComponent {
                    name: c.name,
                    rate: c.rate,
                    is_compound: c.is_compound,
                })
                .collect(),
        ),
        status: Some(match r.status.as_deref() {
            Some("ACTIVE") => TaxRateStatus::Active,
            Some("ARCHIVED" | "DELETED") => TaxRateStatus::Archived,
            _ => TaxRateStatus::Unknown,
        }),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(r.updated_date_utc.as_deref()),
    };
    mapped(id, r.updated_date_utc.as_deref(), record)
}

fn contact_status(s: Option<&str>) -> CustomerStatus {
    match s {
        Some("ACTIVE") => CustomerStatus::Active,
        Some("ARCHIVED") => CustomerStatus::Archived,
        _ => CustomerStatus::Unknown,
    }
}

fn customer(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let c: RawContact = shape(raw, "ContactID")?;
    let id = required_id(c.contact_id.clone(), "ContactID")?;
    let status = contact_status(c.contact_status.as_deref());
    let phones: Vec<PhoneNumber> = c.phones.iter().filter_map(phone).collect();
    let addresses: Vec<AccountingAddress> = c.addresses.iter().map(address).collect();
    let person = full_name(c.first_name.as_deref(), c.last_name.as_deref());
    let record = Customer {
        id: id.clone(),
        customer_name: c.name.clone(),
        contact_name: person.clone(),
        email_address: c.email_address.clone(),
        phone: phones.first().and_then(|p| p.number.clone()),
        contacts: person.is_some().then(|| {
            vec![Contact {
                name: person.clone(),
                email: c.email_address.clone(),
                phone: non_empty(phones.clone()),
                address: addresses.first().cloned(),
                status,
                modified_date: instant_str(c.updated_date_utc.as_deref()),
            }]
        }),
        addresses: non_empty(addresses),
        registration_number: c.company_number.clone(),
        tax_number: c.tax_number.clone(),
        default_currency: c.default_currency.clone(),
        status,
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(c.updated_date_utc.as_deref()),
    };
    mapped(id, c.updated_date_utc.as_deref(), record)
}

fn supplier(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let c: RawContact = shape(raw, "ContactID")?;
    let id = required_id(c.contact_id.clone(), "ContactID")?;
    let record = Supplier {
        id: id.clone(),
        supplier_name: c.name.clone(),
        contact_name: full_name(c.first_name.as_deref(), c.last_name.as_deref()),
        email_address: c.email_address.clone(),
        phone: c.phones.iter().find_map(phone).and_then(|p| p.number),
        addresses: non_empty(c.addresses.iter().map(address).collect()),
        registration_number: c.company_number.clone(),
        tax_number: c.tax_number.clone(),
        default_currency: c.default_currency.clone(),
        status: match c.contact_status.as_deref() {
            Some("ACTIVE") => SupplierStatus::Active,
            Some("ARCHIVED") => SupplierStatus::Archived,
            _ => SupplierStatus::Unknown,
        },
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(c.updated_date_utc.as_deref()),
    };
    mapped(id, c.updated_date_utc.as_deref(), record)
}

fn invoice_status(status: Option<&str>, paid: i64, due: i64) -> InvoiceStatus {
    match status {
        Some("DRAFT") => InvoiceStatus::Draft,
        Some("SUBMITTED") => InvoiceStatus::Submitted,
        Some("AUTHORISED") if paid > 0 && due > 0 => InvoiceStatus::PartiallyPaid,
        Some("AUTHORISED") if paid > 0 => InvoiceStatus::Paid,
        Some("AUTHORISED") => InvoiceStatus::Submitted,
        Some("PAID") => InvoiceStatus::Paid,
        Some("VOIDED" | "DELETED") => InvoiceStatus::Void,
        _ => InvoiceStatus::Unknown,
    }
}

fn bill_status(status: Option<&str>, paid: i64, due: i64) -> BillStatus {
    match status {
        Some("DRAFT" | "SUBMITTED") => BillStatus::Draft,
        Some("AUTHORISED") if paid > 0 && due > 0 => BillStatus::PartiallyPaid,
        Some("AUTHORISED") if paid > 0 => BillStatus::Paid,
        Some("AUTHORISED") => BillStatus::Open,
        Some("PAID") => BillStatus::Paid,
        Some("VOIDED" | "DELETED") => BillStatus::Void,
        _ => BillStatus::Unknown,
    }
}

fn invoice(raw: &Value, refs: &AccountingRefs, at: &str) -> Result<Mapped, MapFailure> {
    let d: RawInvoice = shape(raw, "InvoiceID")?;
    let id = required_id(d.invoice_id.clone(), "InvoiceID")?;
    if d.kind.as_deref() != Some("ACCREC") {
        return Err(MapFailure::new(
            Some(&id),
            format!(
                "an invoice of type {} is not a sales invoice (ACCREC)",
                d.kind.as_deref().unwrap_or("(none)")
            ),
        ));
    }
    let issue_date = date_str(d.date.as_deref())
        .ok_or_else(|| MapFailure::new(Some(&id), "the invoice has no valid Date"))?;
    let paid = money::cents(d.amount_paid.unwrap_or(0.0) + d.amount_credited.unwrap_or(0.0));
    let due = money::cents(d.amount_due.unwrap_or(0.0));
    let amount_types = d.line_amount_types.as_deref();
    let record = Invoice {
        id: id.clone(),
        invoice_number: d.invoice_number.clone(),
        customer_ref: customer_ref(d.contact.as_ref()),
        issue_date,
        due_date: date_str(d.due_date.as_deref()),
        paid_on_date: date_str(d.fully_paid_on_date.as_deref()),
        currency: d.currency_code.clone(),
        currency_rate: codat_rate(d.currency_rate),
        line_items: Some(
            d.line_items
                .iter()
                .map(|l| invoice_line(l, amount_types, refs))
                .collect(),
        ),
        sub_total: Some(amount(d.sub_total)),
        total_tax_amount: amount(d.total_tax),
        total_discount: Some(0.0),
        discount_percentage: Some(0.0),
        total_amount: amount(d.total),
        amount_due: amount(d.amount_due),
        status: invoice_status(d.status.as_deref(), paid, due),
        note: d.reference.clone(),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(d.updated_date_utc.as_deref()),
    };
    mapped(id, d.updated_date_utc.as_deref(), record)
}

fn bill(raw: &Value, refs: &AccountingRefs, at: &str) -> Result<Mapped, MapFailure> {
    let d: RawInvoice = shape(raw, "InvoiceID")?;
    let id = required_id(d.invoice_id.clone(), "InvoiceID")?;
    if d.kind.as_deref() != Some("ACCPAY") {
        return Err(MapFailure::new(
            Some(&id),
            format!(
                "a bill of type {} is not a purchase invoice (ACCPAY)",
                d.kind.as_deref().unwrap_or("(none)")
            ),
        ));
    }
    let issue_date = date_str(d.date.as_deref())
        .ok_or_else(|| MapFailure::new(Some(&id), "the bill has no valid Date"))?;
    let paid = money::cents(d.amount_paid.unwrap_or(0.0) + d.amount_credited.unwrap_or(0.0));
    let due = money::cents(d.amount_due.unwrap_or(0.0));
    let amount_types = d.line_amount_types.as_deref();
    let record = Bill {
        id: id.clone(),
        // The bill's number is its friendly reference; the supplier's reference is the note.
        reference: d.invoice_number.clone().or_else(|| d.reference.clone()),
        supplier_ref: d.contact.as_ref().and_then(|c| {
            Some(SupplierRef {
                id: c.contact_id.clone()?,
                supplier_name: c.name.clone(),
            })
        }),
        issue_date,
        due_date: date_str(d.due_date.as_deref()),
        currency: d.currency_code.clone(),
        currency_rate: codat_rate(d.currency_rate),
        line_items: Some(
            d.line_items
                .iter()
                .enumerate()
                .map(|(n, l)| bill_line(n, l, amount_types, refs))
                .collect(),
        ),
        sub_total: amount(d.sub_total),
        tax_amount: amount(d.total_tax),
        total_amount: amount(d.total),
        amount_due: Some(amount(d.amount_due)),
        status: bill_status(d.status.as_deref(), paid, due),
        note: d.reference.clone().filter(|_| d.invoice_number.is_some()),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(d.updated_date_utc.as_deref()),
    };
    mapped(id, d.updated_date_utc.as_deref(), record)
}

fn credit_note(raw: &Value, refs: &AccountingRefs, at: &str) -> Result<Mapped, MapFailure> {
    let d: RawCreditNote = shape(raw, "CreditNoteID")?;
    let id = required_id(d.credit_note_id.clone(), "CreditNoteID")?;
    if d.kind.as_deref() != Some("ACCRECCREDIT") {
        return Err(MapFailure::new(
            Some(&id),
            format!(
                "a credit note of type {} is not a sales credit note (ACCRECCREDIT)",
                d.kind.as_deref().unwrap_or("(none)")
            ),
        ));
    }
    let total = money::cents(d.total.unwrap_or(0.0));
    let remaining = money::cents(d.remaining_credit.unwrap_or(0.0));
    let status = match d.status.as_deref() {
        Some("DRAFT") => CreditNoteStatus::Draft,
        Some("SUBMITTED") => CreditNoteStatus::Submitted,
        Some("AUTHORISED") if remaining == 0 && total > 0 => CreditNoteStatus::Paid,
        Some("AUTHORISED") if remaining < total => CreditNoteStatus::PartiallyPaid,
        Some("AUTHORISED") => CreditNoteStatus::Submitted,
        Some("PAID") => CreditNoteStatus::Paid,
        Some("VOIDED" | "DELETED") => CreditNoteStatus::Void,
        _ => CreditNoteStatus::Unknown,
    };
    let amount_types = d.line_amount_types.as_deref();
    let record = CreditNote {
        id: id.clone(),
        credit_note_number: d.credit_note_number.clone(),
        customer_ref: customer_ref(d.contact.as_ref()),
        issue_date: date_str(d.date.as_deref()),
        allocated_on_date: None,
        currency: d.currency_code.clone(),
        currency_rate: codat_rate(d.currency_rate),
        line_items: Some(
            d.line_items
                .iter()
                .map(|l| invoice_line(l, amount_types, refs))
                .collect(),
        ),
        sub_total: amount(d.sub_total),
        total_tax_amount: amount(d.total_tax),
        total_discount: 0.0,
        discount_percentage: 0.0,
        total_amount: money::amount(total),
        remaining_credit: money::amount(remaining),
        status,
        note: d.reference.clone(),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(d.updated_date_utc.as_deref()),
    };
    mapped(id, d.updated_date_utc.as_deref(), record)
}

fn payment(raw: &Value, refs: &AccountingRefs, at: &str) -> Result<Mapped, MapFailure> {
    let p: RawPayment = shape(raw, "PaymentID")?;
    let id = required_id(p.payment_id.clone(), "PaymentID")?;
    let link_type = match p.payment_type.as_deref() {
        Some("ACCRECPAYMENT") => PaymentLinkType::Invoice,
        Some("ARCREDITPAYMENT") => PaymentLinkType::CreditNote,
        other => {
            return Err(MapFailure::new(
                Some(&id),
                format!(
                    "a {} payment is not a customer payment (bill payments are billPayments)",
                    other.unwrap_or("(typeless)")
                ),
            ));
        }
    };
    let date = date_str(p.date.as_deref())
        .ok_or_else(|| MapFailure::new(Some(&id), "the payment has no valid Date"))?;
    let total = amount(p.amount);
    let rate = codat_rate(p.currency_rate);
    let invoice = p.invoice.as_ref();
    if let Some(kind) = invoice.and_then(|i| i.kind.as_deref())
        && kind != "ACCREC"
        && link_type == PaymentLinkType::Invoice
    {
        return Err(MapFailure::new(
            Some(&id),
            format!("a customer payment of a {kind} document"),
        ));
    }
    let bank = p.account.as_ref().and_then(|a| a.account_id.clone());
    let record = Payment {
        id: id.clone(),
        date: date.clone(),
        total_amount: Some(total),
        currency: invoice.and_then(|i| i.currency_code.clone()),
        currency_rate: rate,
        customer_ref: customer_ref(invoice.and_then(|i| i.contact.as_ref())),
        account_ref: bank.map(|b| AccountRef {
            name: refs.bank_accounts.get(&b).and_then(|(n, _)| n.clone()),
            id: Some(b),
        }),
        reference: p.reference.clone(),
        note: None,
        lines: Some(vec![PaymentLine {
            amount: total,
            allocated_on_date: Some(date),
            links: invoice
                .and_then(|i| i.invoice_id.clone())
                .map(|invoice_id| {
                    vec![PaymentLineLink {
                        link_type,
                        id: Some(invoice_id),
                        amount: Some(-total),
                        currency_rate: rate,
                    }]
                }),
        }]),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(p.updated_date_utc.as_deref()),
    };
    mapped(id, p.updated_date_utc.as_deref(), record)
}

fn journal_entry(raw: &Value, refs: &AccountingRefs, at: &str) -> Result<Mapped, MapFailure> {
    let j: RawJournal = shape(raw, "ManualJournalID")?;
    let id = required_id(j.manual_journal_id.clone(), "ManualJournalID")?;
    let lines: Vec<JournalLine> = j
        .journal_lines
        .iter()
        .map(|l| JournalLine {
            net_amount: amount(l.line_amount),
            currency: refs.base_currency.clone(),
            description: l.description.clone(),
            account_ref: l.account_id.clone().map(|a| AccountRef {
                name: refs.account_names.get(&a).cloned(),
                id: Some(a),
            }),
        })
        .collect();
    let balance: i64 = lines.iter().map(|l| money::cents(l.net_amount)).sum();
    if balance != 0 {
        return Err(MapFailure::new(
            Some(&id),
            format!(
                "the journal's lines do not balance (off by {})",
                money::amount(balance)
            ),
        ));
    }
    let record = JournalEntry {
        id: id.clone(),
        description: j.narration.clone(),
        posted_on: date_str(j.date.as_deref()),
        created_on: None,
        updated_on: instant_str(j.updated_date_utc.as_deref()),
        journal_lines: Some(lines),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(j.updated_date_utc.as_deref()),
    };
    mapped(id, j.updated_date_utc.as_deref(), record)
}

/// A bank account number split the way Codat files it.
#[derive(Default, Debug, PartialEq)]
struct Numbers {
    sort_code: Option<String>,
    account_number: Option<String>,
    iban: Option<String>,
    masked: Option<String>,
}

fn split_number(raw: Option<&str>) -> Numbers {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Numbers::default();
    };
    let b = raw.as_bytes();
    if raw.contains('*') {
        return Numbers {
            masked: Some(raw.to_owned()),
            ..Numbers::default()
        };
    }
    if b.len() > 15
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
    {
        return Numbers {
            iban: Some(raw.split_whitespace().collect()),
            ..Numbers::default()
        };
    }
    // A UK sort code and account number: `12-34-56 12345678`.
    if let Some((sort, number)) = raw.split_once(' ')
        && sort.len() == 8
        && sort
            .split('-')
            .all(|p| p.len() == 2 && p.bytes().all(|c| c.is_ascii_digit()))
    {
        return Numbers {
            sort_code: Some(sort.to_owned()),
            account_number: Some(number.trim().to_owned()),
            ..Numbers::default()
        };
    }
    Numbers {
        account_number: Some(raw.to_owned()),
        ..Numbers::default()
    }
}

/// Codat signs a Credit account's balance the other way round from the ledger.
fn signed_balance(ledger: Option<f64>, credit: bool) -> Option<f64> {
    ledger.map(|b| {
        if credit {
            -money::round2(b)
        } else {
            money::round2(b)
        }
    })
}

fn bank_account(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let b: RawBankAccount = shape(raw, "AccountID")?;
    let id = required_id(b.account_id.clone(), "AccountID")?;
    let credit = b.kind.as_deref() == Some("CREDITCARD");
    let numbers = split_number(b.bank_account_number.as_deref());
    let record = BankAccount {
        id: id.clone(),
        account_name: b.name.clone(),
        account_type: Some(match b.kind.as_deref() {
            Some("BANK") => BankAccountType::Debit,
            Some("CREDITCARD") => BankAccountType::Credit,
            _ => BankAccountType::Unknown,
        }),
        nominal_code: b.code.clone(),
        sort_code: numbers.sort_code,
        account_number: numbers.account_number.or(numbers.masked),
        iban: numbers.iban,
        institution: b.bank_name.clone(),
        currency: b.currency_code.clone(),
        balance: signed_balance(b.balance, credit),
        available_balance: None,
        overdraft_limit: None,
        status: Some(match b.status.as_deref() {
            Some("ACTIVE") => BankAccountStatus::Active,
            Some("ARCHIVED" | "DELETED") => BankAccountStatus::Archived,
            _ => BankAccountStatus::Unknown,
        }),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(b.updated_date_utc.as_deref()),
    };
    mapped(id, b.updated_date_utc.as_deref(), record)
}

/// Money in is positive on both kinds of account.
fn signed_amount(t: &RawBankTransaction) -> Result<f64, String> {
    let a = money::round2(t.amount.unwrap_or(0.0).abs());
    match t.kind.as_deref() {
        Some("RECEIVE" | "RECEIVE-OVERPAYMENT" | "RECEIVE-PREPAYMENT" | "RECEIVE-TRANSFER") => {
            Ok(a)
        }
        Some("SPEND" | "SPEND-OVERPAYMENT" | "SPEND-PREPAYMENT" | "SPEND-TRANSFER") => Ok(-a),
        other => Err(format!(
            "unknown bank transaction type {}",
            other.unwrap_or("(none)")
        )),
    }
}

fn bank_transaction(raw: &Value, refs: &AccountingRefs, at: &str) -> Result<Mapped, MapFailure> {
    let t: RawBankTransaction = shape(raw, "BankTransactionID")?;
    let id = required_id(t.bank_transaction_id.clone(), "BankTransactionID")?;
    let amount = signed_amount(&t).map_err(|m| MapFailure::new(Some(&id), m))?;
    let account_id = t.bank_account.as_ref().and_then(|a| a.account_id.clone());
    let credit = account_id
        .as_ref()
        .and_then(|a| refs.bank_accounts.get(a))
        .is_some_and(|(_, credit)| *credit);
    let record = BankTransaction {
        id: id.clone(),
        account_id,
        cleared_on_date: date_str(t.date.as_deref()),
        description: t.description.clone(),
        amount: Some(amount),
        balance: signed_balance(t.running_balance, credit),
        reconciled: Some(t.is_reconciled),
        transaction_type: Some(if amount >= 0.0 {
            BankTransactionType::Credit
        } else {
            BankTransactionType::Debit
        }),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(t.updated_date_utc.as_deref()),
    };
    mapped(id, t.updated_date_utc.as_deref(), record)
}

// ---------------------------------------------------------------------------------------------
// Banking records

fn banking_account(raw: &Value, refs: &AccountingRefs, at: &str) -> Result<Mapped, MapFailure> {
    let b: RawBankAccount = shape(raw, "AccountID")?;
    let id = required_id(b.account_id.clone(), "AccountID")?;
    let credit = b.kind.as_deref() == Some("CREDITCARD");
    let name = b
        .name
        .clone()
        .ok_or_else(|| MapFailure::new(Some(&id), "the bank account has no Name"))?;
    let currency = b
        .currency_code
        .clone()
        .ok_or_else(|| MapFailure::new(Some(&id), "the bank account has no CurrencyCode"))?;
    let numbers = split_number(b.bank_account_number.as_deref());
    let record = BankingAccount {
        id: id.clone(),
        informal_name: b.description.clone(),
        holder: refs.organisation_name.clone(),
        account_type: match b.kind.as_deref() {
            Some("BANK") => BankingAccountType::Debit,
            Some("CREDITCARD") => BankingAccountType::Credit,
            _ => BankingAccountType::Unknown,
        },
        balance: AccountBalanceAmounts {
            current: signed_balance(b.balance, credit),
            available: None,
            limit: None,
        },
        identifiers: AccountIdentifiers {
            identifier_type: if credit {
                AccountIdentifierType::Credit
            } else {
                AccountIdentifierType::Depository
            },
            subtype: Some(String::from(if credit {
                "credit card"
            } else if name.to_ascii_lowercase().contains("saving") {
                "savings"
            } else {
                "checking"
            })),
            number: numbers.account_number.or(numbers.iban.clone()),
            bank_code: numbers.sort_code,
            iban: numbers.iban,
            bic: None,
            masked_account_number: numbers.masked,
        },
        institution: AccountInstitution {
            id: None,
            name: b.bank_name.clone(),
        },
        name,
        currency,
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(b.updated_date_utc.as_deref()),
    };
    mapped(id, b.updated_date_utc.as_deref(), record)
}

fn banking_transaction(raw: &Value, refs: &AccountingRefs, at: &str) -> Result<Mapped, MapFailure> {
    let t: RawBankTransaction = shape(raw, "BankTransactionID")?;
    let id = required_id(t.bank_transaction_id.clone(), "BankTransactionID")?;
    let amount = signed_amount(&t).map_err(|m| MapFailure::new(Some(&id), m))?;
    let account_id = t
        .bank_account
        .as_ref()
        .and_then(|a| a.account_id.clone())
        .ok_or_else(|| MapFailure::new(Some(&id), "the transaction has no BankAccount"))?;
    let currency = t
        .currency_code
        .clone()
        .ok_or_else(|| MapFailure::new(Some(&id), "the transaction has no CurrencyCode"))?;
    let card = refs
        .bank_accounts
        .get(&account_id)
        .is_some_and(|(_, credit)| *credit);
    let date = date_str(t.date.as_deref());
    let record = BankingTransaction {
        id: id.clone(),
        account_id,
        amount: Some(amount),
        currency,
        description: t.description.clone(),
        merchant_name: None,
        posted_date: date.clone(),
        authorized_date: date,
        code: Some(match (amount >= 0.0, card) {
            (true, _) => TransactionCode::Credit,
            (false, true) => TransactionCode::Purchase,
            (false, false) => TransactionCode::Payment,
        }),
        transaction_category_ref: None,
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(t.updated_date_utc.as_deref()),
    };
    mapped(id, t.updated_date_utc.as_deref(), record)
}

// ---------------------------------------------------------------------------------------------
// The two APIs

/// The accounting sandbox's data for Codat's Accounting API.
#[derive(Clone, Debug)]
pub struct SandboxAccounting {
    base: String,
}

impl SandboxAccounting {
    /// `api_base`: the absolute API base, e.g. `http://127.0.0.1:8080/sandbox/api`.
    pub fn new(api_base: impl Into<String>) -> Self {
        Self {
            base: api_base.into(),
        }
    }
}

#[async_trait]
impl PageApi for SandboxAccounting {
    type Refs = AccountingRefs;

    fn integration_key(&self) -> &str {
        ACCOUNTING_KEY
    }

    fn source_type(&self) -> SourceType {
        SourceType::Accounting
    }

    fn data_types(&self) -> &[DataType] {
        &ACCOUNTING_TYPES
    }

    fn auth(&self) -> AuthScheme {
        AuthScheme::Bearer
    }

    fn default_page_size(&self) -> u32 {
        MAX_PAGE_SIZE
    }

    fn page_request(
        &self,
        connection: &ConnectionContext,
        query: &PageQuery,
    ) -> Result<PageRequest, PullError> {
        request(&self.base, connection, query)
    }

    fn parse_page(&self, query: &PageQuery, body: &[u8]) -> Result<RawPage, PullError> {
        parse_page(query, body)
    }

    async fn references(
        &self,
        pager: &Pager,
        connection: &ConnectionContext,
        data_type: DataType,
    ) -> Result<AccountingRefs, PullError> {
        load_refs(self, pager, connection, data_type).await
    }

    fn map(
        &self,
        data_type: DataType,
        raw: &Value,
        refs: &AccountingRefs,
        fetched_at: Timestamp,
    ) -> Result<Mapped, MapFailure> {
        let at = codat_instant(fetched_at);
        match data_type {
            DataType::Company => company(raw, fetched_at),
            DataType::ChartOfAccounts => account(raw, &at),
            DataType::TaxRates => tax_rate(raw, &at),
            DataType::Customers => customer(raw, &at),
            DataType::Suppliers => supplier(raw, &at),
            DataType::Invoices => invoice(raw, refs, &at),
            DataType::Bills => bill(raw, refs, &at),
            DataType::Payments => payment(raw, refs, &at),
            DataType::CreditNotes => credit_note(raw, refs, &at),
            DataType::JournalEntries => journal_entry(raw, refs, &at),
            DataType::BankAccounts => bank_account(raw, &at),
            DataType::BankTransactions => bank_transaction(raw, refs, &at),
            other => Err(MapFailure::new(
                None,
                format!("{other} is not an accounting type"),
            )),
        }
    }
}

/// The accounting sandbox's bank accounts and transactions for Codat's Banking API.
#[derive(Clone, Debug)]
pub struct SandboxBanking {
    base: String,
}

impl SandboxBanking {
    /// `api_base` as for [`SandboxAccounting::new`].
    pub fn new(api_base: impl Into<String>) -> Self {
        Self {
            base: api_base.into(),
        }
    }
}

#[async_trait]
impl PageApi for SandboxBanking {
    type Refs = AccountingRefs;

    fn integration_key(&self) -> &str {
        ACCOUNTING_KEY
    }

    fn source_type(&self) -> SourceType {
        SourceType::Banking
    }

    fn data_types(&self) -> &[DataType] {
        &BANKING_TYPES
    }

    fn auth(&self) -> AuthScheme {
        AuthScheme::Bearer
    }

    fn default_page_size(&self) -> u32 {
        MAX_PAGE_SIZE
    }

    fn page_request(
        &self,
        connection: &ConnectionContext,
        query: &PageQuery,
    ) -> Result<PageRequest, PullError> {
        request(&self.base, connection, query)
    }

    fn parse_page(&self, query: &PageQuery, body: &[u8]) -> Result<RawPage, PullError> {
        parse_page(query, body)
    }

    async fn references(
        &self,
        pager: &Pager,
        connection: &ConnectionContext,
        data_type: DataType,
    ) -> Result<AccountingRefs, PullError> {
        load_refs(self, pager, connection, data_type).await
    }

    fn map(
        &self,
        data_type: DataType,
        raw: &Value,
        refs: &AccountingRefs,
        fetched_at: Timestamp,
    ) -> Result<Mapped, MapFailure> {
        let at = codat_instant(fetched_at);
        match data_type {
            DataType::BankingAccounts => banking_account(raw, refs, &at),
            DataType::BankingTransactions => banking_transaction(raw, refs, &at),
            other => Err(MapFailure::new(
                None,
                format!("{other} is not a banking type"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn financial_years_start_after_the_year_end() {
        let at = |s: &str| Timestamp::parse(s).unwrap();
        // UK: year end 31 March.
        assert_eq!(
            financial_year_start(31, 3, at("2025-08-01")).as_deref(),
            Some("2025-04-01T00:00:00")
        );
        assert_eq!(
            financial_year_start(31, 3, at("2025-03-31")).as_deref(),
            Some("2024-04-01T00:00:00")
        );
        assert_eq!(
            financial_year_start(31, 3, at("2025-04-01")).as_deref(),
            Some("2025-04-01T00:00:00")
        );
        // Calendar year.
        assert_eq!(
            financial_year_start(31, 12, at("2025-08-01")).as_deref(),
            Some("2025-01-01T00:00:00")
        );
        // 29 February in a common year.
        assert_eq!(
            financial_year_start(29, 2, at("2025-08-01")).as_deref(),
            Some("2025-03-01T00:00:00")
        );
        assert_eq!(financial_year_start(31, 13, at("2025-08-01")), None);
    }

    #[test]
    fn account_numbers_are_split() {
        assert_eq!(
            split_number(Some("12-34-56 12345678")),
            Numbers {
                sort_code: Some("12-34-56".into()),
                account_number: Some("12345678".into()),
                ..Numbers::default()
            }
        );
        assert_eq!(
            split_number(Some("IE12 BOFI 9000 0112 3456 78"))
                .iban
                .as_deref(),
            Some("IE12BOFI90000112345678")
        );
        assert_eq!(
            split_number(Some("**** **** **** 1234")).masked.as_deref(),
            Some("**** **** **** 1234")
        );
        assert_eq!(
            split_number(Some("123-456 123456789"))
                .account_number
                .as_deref(),
            Some("123-456 123456789")
        );
        assert_eq!(split_number(None), Numbers::default());
    }

    #[test]
    fn statuses() {
        assert_eq!(
            invoice_status(Some("AUTHORISED"), 100, 50),
            InvoiceStatus::PartiallyPaid
        );
        assert_eq!(
            invoice_status(Some("AUTHORISED"), 0, 50),
            InvoiceStatus::Submitted
        );
        assert_eq!(invoice_status(Some("PAID"), 50, 0), InvoiceStatus::Paid);
        assert_eq!(invoice_status(Some("VOIDED"), 0, 0), InvoiceStatus::Void);
        assert_eq!(invoice_status(Some("WEIRD"), 0, 0), InvoiceStatus::Unknown);
        assert_eq!(bill_status(Some("AUTHORISED"), 0, 50), BillStatus::Open);
        assert_eq!(bill_status(Some("SUBMITTED"), 0, 50), BillStatus::Draft);
    }

    #[test]
    fn inclusive_lines_are_turned_exclusive() {
        let l: RawLineItem = serde_json::from_value(json!({
            "Quantity": 2, "UnitAmount": 60.0, "TaxAmount": 20.0, "LineAmount": 120.0
        }))
        .unwrap();
        let a = line_amounts(&l, Some("Inclusive"));
        assert_eq!(
            (a.unit, a.sub_total, a.tax, a.total),
            (50.0, 100.0, 20.0, 120.0)
        );
        assert_eq!(a.discount, None);
        let a = line_amounts(&l, Some("Exclusive"));
        assert_eq!(
            (a.unit, a.sub_total, a.tax, a.total),
            (60.0, 120.0, 20.0, 140.0)
        );
        let l: RawLineItem = serde_json::from_value(json!({
            "Quantity": 3, "UnitAmount": 10.0, "TaxAmount": 0.0, "LineAmount": 27.0
        }))
        .unwrap();
        assert_eq!(line_amounts(&l, Some("Exclusive")).discount, Some(3.0));
    }

    #[test]
    fn wrong_documents_are_mapping_errors() {
        let refs = AccountingRefs::default();
        let bill_as_invoice = json!({"Type": "ACCPAY", "InvoiceID": "x", "Date": "2024-01-01"});
        let err = invoice(&bill_as_invoice, &refs, "t").unwrap_err();
        assert_eq!(err.source_id.as_deref(), Some("x"));
        assert!(err.reason.contains("ACCREC"), "{}", err.reason);
        let no_id = json!({"Type": "ACCREC", "Date": "2024-01-01"});
        assert!(invoice(&no_id, &refs, "t").is_err());
        let bad_shape = json!({"InvoiceID": "y", "LineItems": "nope"});
        assert_eq!(
            invoice(&bad_shape, &refs, "t")
                .unwrap_err()
                .source_id
                .as_deref(),
            Some("y")
        );
        let unbalanced = json!({"ManualJournalID": "j", "JournalLines": [
            {"AccountID": "a", "LineAmount": 10.0}, {"AccountID": "b", "LineAmount": -9.0}
        ]});
        assert!(journal_entry(&unbalanced, &refs, "t").is_err());
        let bill_payment =
            json!({"PaymentID": "p", "PaymentType": "ACCPAYPAYMENT", "Date": "2024-01-01"});
        assert!(payment(&bill_payment, &refs, "t").is_err());
    }
}
