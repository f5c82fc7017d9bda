//! The read endpoints of Codat's Accounting, Banking and Commerce APIs over the data finlink has
//! pulled: a company's accounting data (`GET /companies/{companyId}/data/invoices` ...) and a
//! connection's bank accounts, banking and commerce data
//! (`GET /companies/{companyId}/connections/{connectionId}/data/...`), each list with Codat's
//! paging (`page`, `pageSize` up to 5000), `query` and `orderBy` over the records' fields, and
//! each record by id. (`GET /companies/{companyId}/data/info` is in `sync.rs`.)
//!
//! Records are stored as the JSON text they are served as, so pages are written out without
//! parsing them again.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use finlink_app::data::DataScope;
use finlink_domain::data::DataType;
use finlink_domain::ids::{CompanyId, ConnectionId};
use finlink_domain::paging::Page;
use finlink_domain::sync::StoredRecord;
use finlink_store::records::RecordQuery;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::Links;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::ListParams;
use crate::state::HttpState;

/// A page of records in Codat's envelope (`Invoices`, `Accounts`, `Transactions`, `Orders` ...):
/// the records in Codat's data model of their type.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // documents the answer, which is written out from the stored JSON
pub struct DataRecords {
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<serde_json::Value>,
    pub page_number: u32,
    pub page_size: u32,
    /// Every record that matches `query`.
    pub total_results: u64,
    #[serde(rename = "_links")]
    pub links: Links,
}

fn json(body: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// A page as [`DataRecords`], with each record's stored JSON as it is.
fn page_response(
    path: &str,
    raw: &[(String, String)],
    page: Page<StoredRecord>,
) -> ApiResult<Response> {
    let links = serde_json::to_string(&Links::for_page(path, raw, &page))
        .map_err(|e| finlink_domain::Error::internal(format!("paging links: {e}")))?;
    let size: usize = page.items.iter().map(|r| r.data.len() + 1).sum();
    let mut out = String::with_capacity(size + links.len() + 96);
    out.push_str("{\"results\":[");
    for (i, r) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Written by the connectors with serde_json: one JSON object per record.
        out.push_str(&r.data);
    }
    out.push_str("],\"pageNumber\":");
    out.push_str(&page.request.page.to_string());
    out.push_str(",\"pageSize\":");
    out.push_str(&page.request.page_size.to_string());
    out.push_str(",\"totalResults\":");
    out.push_str(&page.total.to_string());
    out.push_str(",\"_links\":");
    out.push_str(&links);
    out.push('}');
    Ok(json(out))
}

fn record_query(params: &ListParams) -> RecordQuery {
    RecordQuery {
        page: params.page,
        filter: params.query.clone(),
        order: params.order_by.clone(),
        field_equals: None,
    }
}

async fn list(
    s: &HttpState,
    caller: &Caller,
    scope: DataScope,
    data_type: DataType,
    params: &ListParams,
) -> ApiResult<Response> {
    let page = s
        .app
        .list_data(caller.client(), scope, data_type, &record_query(params))
        .await?;
    page_response(&path_of(scope, data_type), &params.raw, page)
}

async fn get(
    s: &HttpState,
    caller: &Caller,
    scope: DataScope,
    data_type: DataType,
    id: &str,
) -> ApiResult<Response> {
    let r = s
        .app
        .get_data(caller.client(), scope, data_type, id)
        .await?;
    Ok(json(r.data))
}

/// The list's path (`_links.self`).
fn path_of(scope: DataScope, data_type: DataType) -> String {
    let segment = match data_type {
        DataType::ChartOfAccounts => "accounts",
        other => other.as_str(),
    };
    match scope.connection {
        None => format!("/companies/{}/data/{segment}", scope.company),
        Some(c) => format!(
            "/companies/{}/connections/{c}/data/{segment}",
            scope.company
        ),
    }
}

fn company_scope(company: &str) -> ApiResult<DataScope> {
    Ok(DataScope::company(CompanyId::parse(company)?))
}

fn connection_scope(company: &str, connection: &str) -> ApiResult<DataScope> {
    Ok(DataScope::connection(
        CompanyId::parse(company)?,
        ConnectionId::parse(connection)?,
    ))
}

/// A company's data type (Codat's Accounting API): list and get.
macro_rules! company_data {
    (
        $data_type:expr, tag = $tag:literal,
        list($list:ident, $list_path:literal, $list_op:literal, $list_summary:literal, $list_desc:literal),
        get($get:ident, $get_path:literal, $id:literal, $get_op:literal, $get_summary:literal)
    ) => {
        #[utoipa::path(get, path = $list_path, tag = $tag, operation_id = $list_op,
            summary = $list_summary, description = $list_desc,
            params(
                ("companyId" = String, Path, format = "uuid"),
                ("page" = Option<i32>, Query, minimum = 1),
                ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000),
                ("query" = Option<String>, Query, description = "Codat's query language over the records' fields, e.g. `status=Paid&&totalAmount>100`"),
                ("orderBy" = Option<String>, Query, description = "a field, `-` for descending, e.g. `-issueDate`"),
            ),
            responses((status = 200, body = DataRecords), (status = 400, body = ErrorMessage),
                (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage),
                (status = 409, description = "the data type has not been read yet", body = ErrorMessage)),
            security(("auth_header" = [])))]
        pub async fn $list(
            State(s): State<HttpState>,
            caller: Caller,
            Path(company): Path<String>,
            params: ListParams,
        ) -> ApiResult<Response> {
            list(&s, &caller, company_scope(&company)?, $data_type, &params).await
        }

        #[utoipa::path(get, path = $get_path, tag = $tag, operation_id = $get_op,
            summary = $get_summary,
            params(("companyId" = String, Path, format = "uuid"), ($id = String, Path)),
            responses((status = 200, description = "the record, in Codat's data model", body = Object),
                (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage),
                (status = 409, description = "the data type has not been read yet", body = ErrorMessage)),
            security(("auth_header" = [])))]
        pub async fn $get(
            State(s): State<HttpState>,
            caller: Caller,
            Path((company, id)): Path<(String, String)>,
        ) -> ApiResult<Response> {
            get(&s, &caller, company_scope(&company)?, $data_type, &id).await
        }
    };
}

/// A connection's data type (bank accounts, Codat's Banking and Commerce APIs): list, and get
/// when the type has one.
macro_rules! connection_data {
    (
        $data_type:expr, tag = $tag:literal,
        list($list:ident, $list_path:literal, $list_op:literal, $list_summary:literal, $list_desc:literal)
        $(, get($get:ident, $get_path:literal, $id:literal, $get_op:literal, $get_summary:literal))?
    ) => {
        #[utoipa::path(get, path = $list_path, tag = $tag, operation_id = $list_op,
            summary = $list_summary, description = $list_desc,
            params(
                ("companyId" = String, Path, format = "uuid"),
                ("connectionId" = String, Path, format = "uuid"),
                ("page" = Option<i32>, Query, minimum = 1),
                ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000),
                ("query" = Option<String>, Query, description = "Codat's query language over the records' fields"),
                ("orderBy" = Option<String>, Query, description = "a field, `-` for descending"),
            ),
            responses((status = 200, body = DataRecords), (status = 400, body = ErrorMessage),
                (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage),
                (status = 409, description = "the data type has not been read yet", body = ErrorMessage)),
            security(("auth_header" = [])))]
        pub async fn $list(
            State(s): State<HttpState>,
            caller: Caller,
            Path((company, connection)): Path<(String, String)>,
            params: ListParams,
        ) -> ApiResult<Response> {
            list(&s, &caller, connection_scope(&company, &connection)?, $data_type, &params).await
        }

        $(
            #[utoipa::path(get, path = $get_path, tag = $tag, operation_id = $get_op,
                summary = $get_summary,
                params(("companyId" = String, Path, format = "uuid"),
                    ("connectionId" = String, Path, format = "uuid"), ($id = String, Path)),
                responses((status = 200, description = "the record, in Codat's data model", body = Object),
                    (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage),
                    (status = 409, description = "the data type has not been read yet", body = ErrorMessage)),
                security(("auth_header" = [])))]
            pub async fn $get(
                State(s): State<HttpState>,
                caller: Caller,
                Path((company, connection, id)): Path<(String, String, String)>,
            ) -> ApiResult<Response> {
                get(&s, &caller, connection_scope(&company, &connection)?, $data_type, &id).await
            }
        )?
    };
}

company_data!(
    DataType::ChartOfAccounts,
    tag = "Data",
    list(
        list_accounts,
        "/companies/{companyId}/data/accounts",
        "list-accounts",
        "List accounts",
        "The chart of accounts (data type `chartOfAccounts`), as Codat's `Account`."
    ),
    get(
        get_account,
        "/companies/{companyId}/data/accounts/{accountId}",
        "accountId",
        "get-account",
        "Get account"
    )
);
company_data!(
    DataType::Customers,
    tag = "Data",
    list(
        list_customers,
        "/companies/{companyId}/data/customers",
        "list-customers",
        "List customers",
        "Customers, as Codat's `Customer`."
    ),
    get(
        get_customer,
        "/companies/{companyId}/data/customers/{customerId}",
        "customerId",
        "get-customer",
        "Get customer"
    )
);
company_data!(
    DataType::Suppliers,
    tag = "Data",
    list(
        list_suppliers,
        "/companies/{companyId}/data/suppliers",
        "list-suppliers",
        "List suppliers",
        "Suppliers, as Codat's `Supplier`."
    ),
    get(
        get_supplier,
        "/companies/{companyId}/data/suppliers/{supplierId}",
        "supplierId",
        "get-supplier",
        "Get supplier"
    )
);
company_data!(
    DataType::Invoices,
    tag = "Data",
    list(
        list_invoices,
        "/companies/{companyId}/data/invoices",
        "list-invoices",
        "List invoices",
        "Invoices, as Codat's `Invoice`. Outstanding invoices: `query=amountDue>0`; due after a day: `query=dueDate>2021-01-28`; newest first: `orderBy=-issueDate`."
    ),
    get(
        get_invoice,
        "/companies/{companyId}/data/invoices/{invoiceId}",
        "invoiceId",
        "get-invoice",
        "Get invoice"
    )
);
company_data!(
    DataType::Bills,
    tag = "Data",
    list(
        list_bills,
        "/companies/{companyId}/data/bills",
        "list-bills",
        "List bills",
        "Bills, as Codat's `Bill`. Outstanding bills: `query=amountDue>0`."
    ),
    get(
        get_bill,
        "/companies/{companyId}/data/bills/{billId}",
        "billId",
        "get-bill",
        "Get bill"
    )
);
company_data!(
    DataType::Payments,
    tag = "Data",
    list(
        list_payments,
        "/companies/{companyId}/data/payments",
        "list-payments",
        "List payments",
        "Payments against invoices, as Codat's `Payment`."
    ),
    get(
        get_payment,
        "/companies/{companyId}/data/payments/{paymentId}",
        "paymentId",
        "get-payment",
        "Get payment"
    )
);
company_data!(
    DataType::CreditNotes,
    tag = "Data",
    list(
        list_credit_notes,
        "/companies/{companyId}/data/creditNotes",
        "list-credit-notes",
        "List credit notes",
        "Credit notes, as Codat's `CreditNote`."
    ),
    get(
        get_credit_note,
        "/companies/{companyId}/data/creditNotes/{creditNoteId}",
        "creditNoteId",
        "get-credit-note",
        "Get credit note"
    )
);
company_data!(
    DataType::JournalEntries,
    tag = "Data",
    list(
        list_journal_entries,
        "/companies/{companyId}/data/journalEntries",
        "list-journal-entries",
        "List journal entries",
        "Journal entries, as Codat's `JournalEntry`."
    ),
    get(
        get_journal_entry,
        "/companies/{companyId}/data/journalEntries/{journalEntryId}",
        "journalEntryId",
        "get-journal-entry",
        "Get journal entry"
    )
);
company_data!(
    DataType::TaxRates,
    tag = "Data",
    list(
        list_tax_rates,
        "/companies/{companyId}/data/taxRates",
        "list-tax-rates",
        "List all tax rates",
        "Tax rates, as Codat's `TaxRate`."
    ),
    get(
        get_tax_rate,
        "/companies/{companyId}/data/taxRates/{taxRateId}",
        "taxRateId",
        "get-tax-rate",
        "Get tax rate"
    )
);

connection_data!(
    DataType::BankAccounts,
    tag = "Data",
    list(
        list_bank_accounts,
        "/companies/{companyId}/connections/{connectionId}/data/bankAccounts",
        "list-bank-accounts",
        "List bank accounts",
        "The bank accounts of the connection's accounting platform, as Codat's accounting `BankAccount`."
    ),
    get(
        get_bank_account,
        "/companies/{companyId}/connections/{connectionId}/data/bankAccounts/{accountId}",
        "accountId",
        "get-bank-account",
        "Get bank account"
    )
);
connection_data!(
    DataType::BankingAccounts,
    tag = "Data",
    list(
        list_banking_accounts,
        "/companies/{companyId}/connections/{connectionId}/data/banking-accounts",
        "list-all-banking-accounts",
        "List banking accounts",
        "Bank accounts, as Codat's Banking `Account`."
    ),
    get(
        get_banking_account,
        "/companies/{companyId}/connections/{connectionId}/data/banking-accounts/{accountId}",
        "accountId",
        "get-banking-account",
        "Get banking account"
    )
);
connection_data!(
    DataType::BankingTransactions,
    tag = "Data",
    list(
        list_banking_transactions,
        "/companies/{companyId}/connections/{connectionId}/data/banking-transactions",
        "list-all-banking-transactions",
        "List banking transactions",
        "Bank transactions, as Codat's Banking `Transaction`. One account's: `query=accountId=...`."
    ),
    get(
        get_banking_transaction,
        "/companies/{companyId}/connections/{connectionId}/data/banking-transactions/{transactionId}",
        "transactionId",
        "get-banking-transaction",
        "Get banking transaction"
    )
);
connection_data!(
    DataType::CommerceCustomers,
    tag = "Data",
    list(
        list_commerce_customers,
        "/companies/{companyId}/connections/{connectionId}/data/commerce-customers",
        "list-commerce-customers",
        "List commerce customers",
        "The store's customers, as Codat's Commerce `Customer`."
    ),
    get(
        get_commerce_customer,
        "/companies/{companyId}/connections/{connectionId}/data/commerce-customers/{customerId}",
        "customerId",
        "get-commerce-customer",
        "Get commerce customer"
    )
);
connection_data!(
    DataType::CommerceOrders,
    tag = "Data",
    list(
        list_commerce_orders,
        "/companies/{companyId}/connections/{connectionId}/data/commerce-orders",
        "list-commerce-orders",
        "List orders",
        "The store's orders, as Codat's Commerce `Order`."
    ),
    get(
        get_commerce_order,
        "/companies/{companyId}/connections/{connectionId}/data/commerce-orders/{orderId}",
        "orderId",
        "get-commerce-order",
        "Get order"
    )
);
connection_data!(
    DataType::CommerceProducts,
    tag = "Data",
    list(
        list_commerce_products,
        "/companies/{companyId}/connections/{connectionId}/data/commerce-products",
        "list-commerce-products",
        "List products",
        "The store's products, as Codat's Commerce `Product`."
    ),
    get(
        get_commerce_product,
        "/companies/{companyId}/connections/{connectionId}/data/commerce-products/{productId}",
        "productId",
        "get-commerce-product",
        "Get product"
    )
);
connection_data!(
    DataType::CommercePayments,
    tag = "Data",
    list(
        list_commerce_payments,
        "/companies/{companyId}/connections/{connectionId}/data/commerce-payments",
        "list-commerce-payments",
        "List payments",
        "The store's payments, as Codat's Commerce `Payment`."
    ),
    get(
        get_commerce_payment,
        "/companies/{companyId}/connections/{connectionId}/data/commerce-payments/{paymentId}",
        "paymentId",
        "get-commerce-payment",
        "Get payment"
    )
);

/// List bank account transactions
///
/// The transactions of one bank account of the connection's accounting platform (data type
/// `bankTransactions`), as Codat's accounting `BankTransactions`. 404 when the connection's bank
/// accounts have been read and this is not one of them.
#[utoipa::path(get, path = "/companies/{companyId}/connections/{connectionId}/data/bankAccounts/{accountId}/bankTransactions",
    tag = "Data", operation_id = "list-bank-account-transactions",
    params(
        ("companyId" = String, Path, format = "uuid"),
        ("connectionId" = String, Path, format = "uuid"),
        ("accountId" = String, Path),
        ("page" = Option<i32>, Query, minimum = 1),
        ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000),
        ("query" = Option<String>, Query, description = "Codat's query language over the records' fields"),
        ("orderBy" = Option<String>, Query, description = "a field, `-` for descending"),
    ),
    responses((status = 200, body = DataRecords), (status = 400, body = ErrorMessage),
        (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage),
        (status = 409, description = "the data type has not been read yet", body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn list_bank_account_transactions(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, connection, account)): Path<(String, String, String)>,
    params: ListParams,
) -> ApiResult<Response> {
    let scope = connection_scope(&company, &connection)?;
    let page = s
        .app
        .list_bank_account_transactions(caller.client(), scope, &account, &record_query(&params))
        .await?;
    let path = format!(
        "{}/{account}/bankTransactions",
        path_of(scope, DataType::BankAccounts)
    );
    page_response(&path, &params.raw, page)
}

/// Get commerce company info
///
/// The store's profile (data type `commerce-companyInfo`), as Codat's Commerce `CompanyInfo`.
#[utoipa::path(get, path = "/companies/{companyId}/connections/{connectionId}/data/commerce-info",
    tag = "Data", operation_id = "get-commerce-company-info",
    params(("companyId" = String, Path, format = "uuid"), ("connectionId" = String, Path, format = "uuid")),
    responses((status = 200, description = "Codat's Commerce CompanyInfo", body = Object),
        (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage),
        (status = 409, description = "the company info has not been read yet", body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get_commerce_info(
    State(s): State<HttpState>,
    caller: Caller,
    Path((company, connection)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = s
        .app
        .single_data(
            caller.client(),
            connection_scope(&company, &connection)?,
            DataType::CommerceCompanyInfo,
        )
        .await?;
    Ok(json(r.data))
}

/// Every read route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts))
        .routes(routes!(get_account))
        .routes(routes!(list_customers))
        .routes(routes!(get_customer))
        .routes(routes!(list_suppliers))
        .routes(routes!(get_supplier))
        .routes(routes!(list_invoices))
        .routes(routes!(get_invoice))
        .routes(routes!(list_bills))
        .routes(routes!(get_bill))
        .routes(routes!(list_payments))
        .routes(routes!(get_payment))
        .routes(routes!(list_credit_notes))
        .routes(routes!(get_credit_note))
        .routes(routes!(list_journal_entries))
        .routes(routes!(get_journal_entry))
        .routes(routes!(list_tax_rates))
        .routes(routes!(get_tax_rate))
        .routes(routes!(list_bank_accounts))
        .routes(routes!(get_bank_account))
        .routes(routes!(list_bank_account_transactions))
        .routes(routes!(list_banking_accounts))
        .routes(routes!(get_banking_account))
        .routes(routes!(list_banking_transactions))
        .routes(routes!(get_banking_transaction))
        .routes(routes!(list_commerce_customers))
        .routes(routes!(get_commerce_customer))
        .routes(routes!(list_commerce_orders))
        .routes(routes!(get_commerce_order))
        .routes(routes!(list_commerce_products))
        .routes(routes!(get_commerce_product))
        .routes(routes!(list_commerce_payments))
        .routes(routes!(get_commerce_payment))
        .routes(routes!(get_commerce_info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_paths() {
        let co = CompanyId::parse("0190a0a0-0000-7000-8000-000000000001").unwrap();
        let conn = ConnectionId::parse("0190a0a0-0000-7000-8000-000000000002").unwrap();
        assert_eq!(
            path_of(DataScope::company(co), DataType::ChartOfAccounts),
            format!("/companies/{co}/data/accounts")
        );
        assert_eq!(
            path_of(DataScope::connection(co, conn), DataType::CommerceOrders),
            format!("/companies/{co}/connections/{conn}/data/commerce-orders")
        );
    }
}
