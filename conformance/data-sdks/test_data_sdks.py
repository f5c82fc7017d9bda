"""Codat's official data SDKs against finlink's read endpoints, with data synced from the built-in
sandboxes (retries off in every SDK):

* ``codat-accounting``: before a sync the reads are 409 (``ErrorMessage``); after it, invoices
  (listed page by page and by id), accounts, customers and company info carry exactly what the
  accounting sandbox generated (read from the sandbox's own API with the migrated grant); a query,
  an ordering, a 404 and a 400 come back as the SDK expects them;
* ``codat-banking``: a connection's banking transactions (list, paged, by id, a query) are the
  sandbox's bank transactions;
* ``codat-commerce``: a store's orders (list and by id) and company info are the Commerce
  Sandbox's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Dict, List

import pytest

from conftest import (
    Synced,
    accounting_sdk,
    banking_sdk,
    base,
    call,
    commerce_sdk,
    linked_company,
    sandbox,
    sync_all,
)

# Smaller than the sandbox's defaults, and several pages at the sizes used below.
PROFILE = {"invoices": 130, "customers": 24, "suppliers": 12, "payments": 60, "bills": 40,
           "creditNotes": 8, "journalEntries": 10, "bankAccounts": 3, "bankTransactions": 150}
# The accounting sandbox's data types: 12 accounting, 2 banking.
ACCOUNTING_TYPES = 14
COMMERCE_TYPES = 5


def cents(v) -> int:
    return int((Decimal(str(v)) * 100).to_integral_value())


def raw_list(server, grant: dict, path: str, key: str) -> List[dict]:
    """Every record of a sandbox accounting list, read with the grant."""
    out: List[dict] = []
    page = 1
    while True:
        body = sandbox(
            server, "GET", f"/api/{path}?page={page}&pageSize=100",
            headers={"Authorization": f"Bearer {grant['access_token']}", "X-Tenant-Id": grant["tenant_id"]},
        )
        out.extend(body[key])
        if page >= body["pagination"]["pageCount"]:
            return out
        page += 1


@pytest.fixture(scope="module")
def tenant(data_server) -> "base.Tenant":
    return data_server.new_tenant()


@pytest.fixture(scope="module")
def accounting(data_server, tenant) -> Synced:
    """A company migrated from a sandbox grant; its reads are 409 until it is synced, then it is."""
    grant = sandbox(data_server, "POST", "/admin/mint", {"companyName": "Data SDK Ltd", "data": PROFILE})
    company_id, connection_id = linked_company(tenant, "Dummy name", "mqjo", {
        "accessToken": grant["access_token"],
        "refreshToken": grant["refresh_token"],
        "expiresIn": str(grant["expires_in"]),
        "tenantId": grant["tenant_id"],
    })
    from codat_accounting.models import errors

    sdk = accounting_sdk(tenant)
    with pytest.raises(errors.ErrorMessage) as e:
        sdk.invoices.list(request={"company_id": company_id})
    assert e.value.data.status_code == 409, e.value
    assert "have not been read yet" in (e.value.data.error or "")
    sync_all(tenant, company_id, ACCOUNTING_TYPES)
    return Synced(company_id, connection_id, grant)


def test_accounting_invoices_are_the_sandboxs(data_server, tenant, accounting):
    sdk = accounting_sdk(tenant)
    cid = accounting.company_id
    invoices = []
    page = 1
    while True:
        res = sdk.invoices.list(request={"company_id": cid, "page": page, "page_size": 50})
        assert res.page_number == page and res.page_size == 50
        assert res.total_results == PROFILE["invoices"]
        assert res.links.self_.href == f"/companies/{cid}/data/invoices"
        invoices.extend(res.results or [])
        if res.links.next is None:
            break
        page += 1
    assert page == 3
    by_id = {i.id: i for i in invoices}
    assert len(by_id) == PROFILE["invoices"], "every invoice once"

    raw = raw_list(data_server, accounting.owner, "invoices", "Invoices")
    assert len(raw) == len(invoices)
    for r in raw:
        i = by_id[r["InvoiceID"]]
        assert i.invoice_number == r["InvoiceNumber"]
        assert cents(i.total_amount) == cents(r["Total"])
        assert cents(i.amount_due) == cents(r["AmountDue"])
        assert i.customer_ref.id == r["Contact"]["ContactID"]
        assert i.currency == r["CurrencyCode"]
        assert i.issue_date.startswith(r["Date"][:10])
    one = invoices[len(invoices) // 2]
    got = sdk.invoices.get(request={"company_id": cid, "invoice_id": one.id})
    assert got == one

    # Codat's documented queries, through the SDK.
    outstanding = sdk.invoices.list(request={"company_id": cid, "query": "amountDue>0", "page_size": 5000})
    assert outstanding.total_results == sum(1 for r in raw if cents(r["AmountDue"]) > 0)
    assert all(i.amount_due > 0 for i in outstanding.results)
    customer = raw[0]["Contact"]["ContactID"]
    theirs = sdk.invoices.list(request={
        "company_id": cid, "query": f"customerRef.id={customer}", "order_by": "-issueDate", "page_size": 5000,
    })
    assert theirs.total_results == sum(1 for r in raw if r["Contact"]["ContactID"] == customer)
    dates = [i.issue_date for i in theirs.results]
    assert dates == sorted(dates, reverse=True)

    from codat_accounting.models import errors

    with pytest.raises(errors.ErrorMessage) as e:
        sdk.invoices.get(request={"company_id": cid, "invoice_id": "no-such-invoice"})
    assert e.value.data.status_code == 404
    with pytest.raises(errors.ErrorMessage) as e:
        sdk.invoices.list(request={"company_id": cid, "query": "status>Paid"})
    assert e.value.data.status_code == 400
    assert e.value.data.error.startswith("Error parsing query - ")


def test_accounting_accounts_customers_and_company_info(data_server, tenant, accounting):
    sdk = accounting_sdk(tenant)
    cid = accounting.company_id
    info = sandbox(data_server, "GET", f"/admin/data/{accounting.owner['tenant_id']}")

    accounts = sdk.accounts.list(request={"company_id": cid, "page_size": 5000})
    assert accounts.total_results == info["counts"]["chartOfAccounts"] == len(accounts.results)
    raw_accounts = {a["AccountID"]: a for a in raw_list(data_server, accounting.owner, "accounts", "Accounts")}
    assert set(raw_accounts) == {a.id for a in accounts.results}
    for a in accounts.results:
        assert a.name == raw_accounts[a.id]["Name"]
    one = accounts.results[5]
    assert sdk.accounts.get(request={"company_id": cid, "account_id": one.id}) == one

    customers = sdk.customers.list(request={"company_id": cid, "page_size": 10, "page": 3})
    assert customers.total_results == PROFILE["customers"]
    assert len(customers.results) == PROFILE["customers"] - 20
    raw_customers = {c["ContactID"]: c for c in raw_list(data_server, accounting.owner, "customers", "Contacts")}
    for c in customers.results:
        assert c.customer_name == raw_customers[c.id]["Name"]
    got = sdk.customers.get(request={"company_id": cid, "customer_id": customers.results[0].id})
    assert got == customers.results[0]

    company = sdk.company_info.get(request={"company_id": cid})
    assert company.company_name == info["name"] == "Data SDK Ltd"
    assert company.base_currency == info["baseCurrency"]


def test_banking_transactions_are_the_sandboxs(data_server, tenant, accounting):
    sdk = banking_sdk(tenant)
    cid, conn = accounting.company_id, accounting.connection_id
    raw = {t["BankTransactionID"]: t for t in raw_list(data_server, accounting.owner, "bank-transactions", "BankTransactions")}
    seen: Dict[str, object] = {}
    page = 1
    while True:
        res = sdk.transactions.list(request={"company_id": cid, "connection_id": conn, "page": page, "page_size": 40})
        assert res.total_results == PROFILE["bankTransactions"]
        for t in res.results:
            assert t.id not in seen
            seen[t.id] = t
        if res.links.next is None:
            break
        page += 1
    assert set(seen) == set(raw)
    for tid, t in seen.items():
        r = raw[tid]
        sign = 1 if r["Type"] == "RECEIVE" else -1
        assert cents(t.amount) == sign * cents(r["Amount"]), (t, r)
        assert t.account_id == r["BankAccount"]["AccountID"]
        assert t.currency == r["CurrencyCode"]
    one = next(iter(seen.values()))
    assert sdk.transactions.get(request={"company_id": cid, "connection_id": conn, "transaction_id": one.id}) == one
    account = one.account_id
    mine = sdk.transactions.list(request={
        "company_id": cid, "connection_id": conn, "query": f"accountId={account}", "page_size": 5000,
    })
    assert mine.total_results == sum(1 for r in raw.values() if r["BankAccount"]["AccountID"] == account)
    accounts = sdk.accounts.list(request={"company_id": cid, "connection_id": conn})
    assert {a.id for a in accounts.results} == {r["BankAccount"]["AccountID"] for r in raw.values()}

    from codat_banking import ErrorMessage

    with pytest.raises(ErrorMessage) as e:
        sdk.transactions.get(request={"company_id": cid, "connection_id": conn, "transaction_id": "nope"})
    assert e.value.data.status_code == 404


def test_commerce_orders_are_the_stores(data_server, tenant):
    store = sandbox(data_server, "POST", "/admin/commerce/stores", {"name": "SDK Corner Shop"})
    company_id, conn = linked_company(tenant, "Shop Co", "aiwb", {"apiKey": store["apiKey"]})
    sdk = commerce_sdk(tenant)
    from codat_commerce import ErrorMessage

    with pytest.raises(ErrorMessage) as e:
        sdk.orders.list(request={"company_id": company_id, "connection_id": conn})
    assert e.value.data.status_code == 409
    sync_all(tenant, company_id, COMMERCE_TYPES)

    raw: List[dict] = []
    page = 1
    while True:
        body = sandbox(data_server, "GET", f"/commerce/api/orders?page={page}&limit=250",
                       headers={"X-Api-Key": store["apiKey"]})
        raw.extend(body["orders"])
        if not body["has_more"]:
            break
        page += 1
    orders = []
    page = 1
    while True:
        res = sdk.orders.list(request={"company_id": company_id, "connection_id": conn, "page": page, "page_size": 120})
        assert res.total_results == len(raw)
        orders.extend(res.results)
        if res.links.next is None:
            break
        page += 1
    by_id = {o.id: o for o in orders}
    assert set(by_id) == {str(r["id"]) for r in raw}
    for r in raw:
        o = by_id[str(r["id"])]
        # Codat's totalAmount is net of refunds (totalRefund is negative).
        assert cents(o.total_amount) - cents(o.total_refund) == cents(r["total_price"])
        assert cents(o.total_refund) == (-cents(r["total_price"]) if r["financial_status"] == "refunded" else 0)
        assert o.currency == r["currency"]
    one = orders[-1]
    assert sdk.orders.get(request={"company_id": company_id, "connection_id": conn, "order_id": one.id}) == one
    big = sdk.orders.list(request={
        "company_id": company_id, "connection_id": conn, "query": "totalAmount>=100", "order_by": "-totalAmount",
        "page_size": 5000,
    })
    assert big.total_results == sum(1 for o in orders if cents(o.total_amount) >= 10000)
    totals = [o.total_amount for o in big.results]
    assert totals == sorted(totals, reverse=True)
    info = sdk.company_info.get(request={"company_id": company_id, "connection_id": conn})
    assert info.company_name == "SDK Corner Shop"
    call(tenant, "DELETE", f"/companies/{company_id}/connections/{conn}")
    with pytest.raises(ErrorMessage) as e:
        sdk.orders.list(request={"company_id": company_id, "connection_id": conn})
    assert e.value.data.status_code == 404
