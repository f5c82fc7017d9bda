//! The read endpoints (Codat's Accounting, Banking and Commerce APIs) over data synced from the
//! built-in sandboxes: every endpoint, paging, the query language and `orderBy` over the
//! records' fields, values checked against the sandbox's own API, 404/409/400 answers, unlink
//! and delete.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_engines;
use crate::credentials::migrated;
use crate::harness::{TestServer, assert_error};

/// The company-level accounting endpoints and their data types (the sandbox's counts' keys).
const ACCOUNTING: [(&str, &str); 9] = [
    ("accounts", "chartOfAccounts"),
    ("customers", "customers"),
    ("suppliers", "suppliers"),
    ("invoices", "invoices"),
    ("bills", "bills"),
    ("payments", "payments"),
    ("creditNotes", "creditNotes"),
    ("journalEntries", "journalEntries"),
    ("taxRates", "taxRates"),
];

/// Percent-encodes a query value or a path segment.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn get_ok(ts: &TestServer, path: &str) -> Value {
    let (s, b) = ts.get(path).await;
    assert_eq!(s, 200, "GET {path}: {b}");
    b
}

/// Every record of a list, page by page (`pageSize` per page), checking the envelope and that
/// no record comes twice.
async fn all_pages(ts: &TestServer, path: &str, extra: &str, page_size: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    let mut page: u32 = 1;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let b = get_ok(
            ts,
            &format!("{path}{sep}page={page}&pageSize={page_size}{extra}"),
        )
        .await;
        assert_eq!(b["pageNumber"], page);
        assert_eq!(b["pageSize"], page_size);
        let total = b["totalResults"].as_u64().unwrap();
        let results = b["results"].as_array().unwrap().clone();
        assert_eq!(b["_links"]["self"]["href"], path.split('?').next().unwrap());
        assert!(
            b["_links"]["current"]["href"]
                .as_str()
                .unwrap()
                .contains(&format!("page={page}&pageSize={page_size}"))
        );
        assert_eq!(b["_links"]["previous"].is_object(), page > 1, "{b}");
        let seen = u64::from(page - 1) * u64::from(page_size) + results.len() as u64;
        assert_eq!(
            b["_links"]["next"].is_object(),
            seen < total,
            "{}",
            b["_links"]
        );
        for r in &results {
            assert!(
                ids.insert(r["id"].as_str().unwrap_or("").to_owned()) || r["id"].is_null(),
                "{} twice",
                r["id"]
            );
        }
        out.extend(results);
        if seen >= total {
            assert_eq!(out.len() as u64, total);
            return out;
        }
        page += 1;
    }
}

async fn total(ts: &TestServer, path: &str) -> u64 {
    get_ok(ts, path).await["totalResults"].as_u64().unwrap()
}

async fn sandbox_info(ts: &TestServer, owner: &str) -> Value {
    let (s, info) = ts
        .call(
            ts.http
                .get(format!("{}/sandbox/admin/data/{owner}", ts.base)),
        )
        .await;
    assert_eq!(s, 200, "{info}");
    info
}

/// A migrated sandbox company synced to `Complete`: (company id, connection id, grant).
async fn synced(ts: &TestServer) -> (String, String, Value) {
    let (cid, conn, grant) = migrated(ts).await;
    let (s, b) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_eq!(s, 204, "{b}");
    ts.run_jobs().await;
    let st = get_ok(ts, &format!("/companies/{cid}/dataStatus")).await;
    for v in st.as_object().unwrap().values() {
        assert_eq!(v["currentStatus"], "Complete", "{v}");
    }
    (cid, conn, grant)
}

fn money(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 100.0).round() as i64
}

// -- 1 -------------------------------------------------------------------------------------------

/// Before a sync the data is not readable (409) and unknown ids are 404; after it every
/// accounting endpoint lists exactly what the sandbox generated, page by page, and serves each
/// record by id; invoices match the sandbox's own API field by field.
async fn accounting_data_is_the_sandboxs(ts: &TestServer) {
    let (cid, _, grant) = migrated(ts).await;
    for (path, _) in ACCOUNTING {
        let (s, b) = ts.get(&format!("/companies/{cid}/data/{path}")).await;
        assert!(
            assert_error(s, &b, 409).contains("have not been read yet"),
            "{b}"
        );
    }
    let (s, b) = ts.get(&format!("/companies/{cid}/data/invoices/x")).await;
    assert_error(s, &b, 409);
    let unknown = "0190a0a0-0000-7000-8000-000000000001";
    let (s, b) = ts.get(&format!("/companies/{unknown}/data/invoices")).await;
    assert!(assert_error(s, &b, 404).contains(unknown));
    let (s, b) = ts.get("/companies/not-an-id/data/invoices").await;
    assert_error(s, &b, 404);
    let (s, b) = ts
        .call(
            ts.http
                .get(format!("{}/companies/{cid}/data/invoices", ts.base)),
        )
        .await;
    assert_error(s, &b, 401);

    let (s, b) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_eq!(s, 204, "{b}");
    ts.run_jobs().await;
    let tenant = grant["tenant_id"].as_str().unwrap();
    let info = sandbox_info(ts, tenant).await;
    for (path, data_type) in ACCOUNTING {
        let list = format!("/companies/{cid}/data/{path}");
        let records = all_pages(ts, &list, "", 5000).await;
        assert_eq!(
            records.len() as u64,
            info["counts"][data_type].as_u64().unwrap(),
            "{path}"
        );
        // In record id order by default.
        let ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "{path}");
        let one = &records[records.len() / 2];
        let got = get_ok(ts, &format!("{list}/{}", enc(one["id"].as_str().unwrap()))).await;
        assert_eq!(&got, one, "{path}");
        let (s, b) = ts.get(&format!("{list}/no-such-id")).await;
        assert!(assert_error(s, &b, 404).contains("no-such-id"), "{b}");
    }

    // Paging: 400 invoices in pages of 150 (and of 7), every one once.
    let list = format!("/companies/{cid}/data/invoices");
    let invoices = all_pages(ts, &list, "", 150).await;
    assert_eq!(invoices.len(), 400);
    let small = all_pages(ts, &list, "", 7).await;
    assert_eq!(small, invoices);
    let past = get_ok(ts, &format!("{list}?page=9&pageSize=50")).await;
    assert_eq!(past["results"], json!([]));
    assert_eq!(past["totalResults"], 400);

    // The sandbox's own invoices, read with the migrated grant.
    let (s, raw) = ts
        .call(
            ts.http
                .get(format!(
                    "{}/sandbox/api/invoices?page=1&pageSize=1000",
                    ts.base
                ))
                .bearer_auth(grant["access_token"].as_str().unwrap())
                .header("X-Tenant-Id", tenant),
        )
        .await;
    assert_eq!(s, 200, "{raw}");
    let raw = raw["Invoices"].as_array().unwrap();
    assert_eq!(raw.len(), invoices.len());
    let by_id: std::collections::BTreeMap<&str, &Value> = invoices
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i))
        .collect();
    let mut sum_raw = 0;
    for r in raw {
        let i = by_id[r["InvoiceID"].as_str().unwrap()];
        assert_eq!(money(&i["totalAmount"]), money(&r["Total"]));
        assert_eq!(money(&i["amountDue"]), money(&r["AmountDue"]));
        assert_eq!(i["customerRef"]["id"], r["Contact"]["ContactID"]);
        assert_eq!(i["invoiceNumber"], r["InvoiceNumber"]);
        sum_raw += money(&r["Total"]);
    }
    let sum: i64 = invoices.iter().map(|i| money(&i["totalAmount"])).sum();
    assert_eq!(sum, sum_raw);
    let outstanding = raw.iter().filter(|r| money(&r["AmountDue"]) > 0).count() as u64;
    assert_eq!(
        total(ts, &format!("{list}?query={}", enc("amountDue>0"))).await,
        outstanding
    );

    // data/info is the company's.
    let info_rec = get_ok(ts, &format!("/companies/{cid}/data/info")).await;
    assert_eq!(info_rec["companyName"], info["name"]);
}
both_engines!(accounting_data_is_the_sandboxs);

// -- 2 -------------------------------------------------------------------------------------------

/// The query language and `orderBy` over invoice fields, checked against the full list:
/// equality (ignoring case), numbers, nested refs, whole days, AND/OR with groups, ordering both
/// ways with paging; bad queries are 400s in Codat's shape.
async fn invoices_are_queried_and_ordered(ts: &TestServer) {
    let (cid, _, _) = synced(ts).await;
    let list = format!("/companies/{cid}/data/invoices");
    let all = all_pages(ts, &list, "", 5000).await;
    let matching = |f: &dyn Fn(&Value) -> bool| -> Vec<String> {
        all.iter()
            .filter(|i| f(i))
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let query = |q: &str| {
        let q = q.to_owned();
        let list = list.clone();
        async move {
            all_pages(ts, &list, &format!("&query={}", enc(&q)), 60)
                .await
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };

    let paid = matching(&|i| i["status"] == "Paid");
    assert!(!paid.is_empty() && paid.len() < all.len());
    assert_eq!(query("status=Paid").await, paid);
    assert_eq!(
        query("status = paid").await,
        paid,
        "ignoring case, spaces around"
    );
    assert_eq!(
        query("status!=Paid").await,
        matching(&|i| i["status"] != "Paid")
    );
    let big = matching(&|i| i["totalAmount"].as_f64().unwrap() > 1000.0);
    assert!(!big.is_empty() && big.len() < all.len());
    assert_eq!(query("totalAmount>1000").await, big);
    assert_eq!(
        query("totalAmount<=1000").await,
        matching(&|i| i["totalAmount"].as_f64().unwrap() <= 1000.0)
    );
    let customer = all[0]["customerRef"]["id"].as_str().unwrap().to_owned();
    let theirs = matching(&|i| i["customerRef"]["id"] == customer.as_str());
    assert!(!theirs.is_empty());
    assert_eq!(query(&format!("customerRef.id={customer}")).await, theirs);
    let name = all[0]["customerRef"]["companyName"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        query(&format!("customerRef.companyName~{}", name.to_uppercase())).await,
        matching(&|i| i["customerRef"]["companyName"] == name.as_str())
    );
    // Whole days: issue dates are `YYYY-MM-DDT00:00:00`.
    let day = all[all.len() / 2]["issueDate"].as_str().unwrap()[..10].to_owned();
    assert_eq!(
        query(&format!("issueDate>{day}")).await,
        matching(&|i| i["issueDate"].as_str().unwrap()[..10] > *day)
    );
    assert_eq!(
        query(&format!("issueDate={day}")).await,
        matching(&|i| i["issueDate"].as_str().unwrap()[..10] == *day)
    );
    assert_eq!(
        query(&format!(
            "{{status=Paid||status=Draft}}&&totalAmount>1000&&issueDate<={day}"
        ))
        .await,
        matching(&|i| (i["status"] == "Paid" || i["status"] == "Draft")
            && i["totalAmount"].as_f64().unwrap() > 1000.0
            && i["issueDate"].as_str().unwrap()[..10] <= *day)
    );
    assert_eq!(
        query("status=Paid&&amountDue>0||status=Draft").await,
        matching(
            &|i| (i["status"] == "Paid" && i["amountDue"].as_f64().unwrap() > 0.0)
                || i["status"] == "Draft"
        )
    );

    // orderBy, both ways, across pages; ties broken by id.
    let amounts = |v: &[Value]| -> Vec<(i64, String)> {
        v.iter()
            .map(|i| {
                (
                    money(&i["totalAmount"]),
                    i["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let asc = all_pages(ts, &list, "&orderBy=totalAmount", 90).await;
    let mut want = amounts(&all);
    want.sort();
    assert_eq!(amounts(&asc), want);
    let desc = all_pages(ts, &list, "&orderBy=-totalAmount", 90).await;
    want.reverse();
    assert_eq!(amounts(&desc), want);
    let newest_paid = all_pages(
        ts,
        &list,
        &format!("&orderBy=-issueDate&query={}", enc("status=Paid")),
        25,
    )
    .await;
    let dates: Vec<&str> = newest_paid
        .iter()
        .map(|i| i["issueDate"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(newest_paid.len(), paid.len());

    // Bad input: 400 in Codat's shape, saying what is wrong.
    for (q, says) in [
        ("query=status>Paid", "compares numbers and dates"),
        ("query=customerRef..id=1", "not a valid property path"),
        ("query=line-items=1", "is not a property"),
        ("query=issueDate>2024-02-30", "is not a date"),
        ("query=status=", "has no value"),
        ("orderBy=line-items", "is not a property"),
        ("pageSize=5001", "pageSize"),
        ("page=0", "page"),
    ] {
        let (s, b) = ts.get(&format!("{list}?{}", q.replace('>', "%3E"))).await;
        let msg = assert_error(s, &b, 400);
        assert!(msg.contains(says), "{q}: {msg}");
    }
}
both_engines!(invoices_are_queried_and_ordered);

// -- 3 -------------------------------------------------------------------------------------------

/// A connection's bank accounts (accounting), their transactions by account, and its banking
/// data; types the platform does not provide are 404; another client sees nothing; data stays
/// readable after an unlink and goes with the connection.
async fn connection_data_unlink_and_delete(ts: &TestServer) {
    let (cid, conn, grant) = synced(ts).await;
    let tenant = grant["tenant_id"].as_str().unwrap();
    let info = sandbox_info(ts, tenant).await;
    let base = format!("/companies/{cid}/connections/{conn}/data");
    let accounts = all_pages(ts, &format!("{base}/bankAccounts"), "", 100).await;
    assert_eq!(
        accounts.len() as u64,
        info["counts"]["bankAccounts"].as_u64().unwrap()
    );
    let txns = info["counts"]["bankTransactions"].as_u64().unwrap();
    let mut sum = 0;
    for a in &accounts {
        let id = a["id"].as_str().unwrap();
        assert_eq!(&get_ok(ts, &format!("{base}/bankAccounts/{id}")).await, a);
        let theirs = all_pages(
            ts,
            &format!("{base}/bankAccounts/{id}/bankTransactions"),
            "",
            128,
        )
        .await;
        assert!(theirs.iter().all(|t| t["accountId"] == id));
        sum += theirs.len() as u64;
    }
    assert_eq!(sum, txns, "every transaction is in one account");
    let first = accounts[0]["id"].as_str().unwrap();
    let q = format!("&query={}&orderBy=-amount", enc("amount>100"));
    let filtered = all_pages(
        ts,
        &format!("{base}/bankAccounts/{first}/bankTransactions"),
        &q,
        50,
    )
    .await;
    assert!(!filtered.is_empty());
    assert!(
        filtered
            .iter()
            .all(|t| t["amount"].as_f64().unwrap() > 100.0)
    );
    assert!(
        filtered
            .windows(2)
            .all(|w| w[0]["amount"].as_f64() >= w[1]["amount"].as_f64())
    );
    let (s, b) = ts
        .get(&format!(
            "{base}/bankAccounts/no-such-account/bankTransactions"
        ))
        .await;
    assert!(assert_error(s, &b, 404).contains("no-such-account"));

    // Banking: accounts and transactions of the same platform, in the Banking API's shapes.
    let banking = all_pages(ts, &format!("{base}/banking-accounts"), "", 100).await;
    assert_eq!(banking.len(), accounts.len());
    let bid = banking[0]["id"].as_str().unwrap();
    assert_eq!(
        &get_ok(ts, &format!("{base}/banking-accounts/{}", enc(bid))).await,
        &banking[0]
    );
    let bt = all_pages(ts, &format!("{base}/banking-transactions"), "", 1000).await;
    assert_eq!(bt.len() as u64, txns);
    let one = &bt[17];
    assert_eq!(
        &get_ok(
            ts,
            &format!(
                "{base}/banking-transactions/{}",
                enc(one["id"].as_str().unwrap())
            )
        )
        .await,
        one
    );
    let of_account = format!("accountId={}", one["accountId"].as_str().unwrap());
    assert_eq!(
        total(
            ts,
            &format!("{base}/banking-transactions?query={}", enc(&of_account))
        )
        .await,
        bt.iter()
            .filter(|t| t["accountId"] == one["accountId"])
            .count() as u64
    );

    // What the platform does not provide, and ids that are not there.
    let (s, b) = ts.get(&format!("{base}/commerce-orders")).await;
    assert!(assert_error(s, &b, 404).contains("not supported"), "{b}");
    let (s, b) = ts.get(&format!("{base}/commerce-info")).await;
    assert_error(s, &b, 404);
    let other = "0190a0a0-0000-7000-8000-000000000002";
    let (s, b) = ts
        .get(&format!(
            "/companies/{cid}/connections/{other}/data/bankAccounts"
        ))
        .await;
    assert!(assert_error(s, &b, 404).contains(other));
    let (s, b) = ts.get(&format!("{base}/banking-transactions/nope")).await;
    assert_error(s, &b, 404);

    // Another client: 404, not 403.
    let key = ts.other_client_key().await;
    for path in [
        format!("/companies/{cid}/data/invoices"),
        format!("{base}/bankAccounts"),
    ] {
        let (s, b) = ts.call(ts.req_as(&key, Method::GET, &path)).await;
        assert_error(s, &b, 404);
    }

    // Unlinked: still readable.
    let (s, b) = ts
        .call(
            ts.req(
                Method::PATCH,
                &format!("/companies/{cid}/connections/{conn}"),
            )
            .json(&json!({"status": "Unlinked"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        total(ts, &format!("/companies/{cid}/data/invoices")).await,
        400
    );
    assert_eq!(
        total(ts, &format!("{base}/bankAccounts")).await,
        accounts.len() as u64
    );
    // Deleted: its data goes with it.
    let (s, b) = ts
        .call(ts.req(
            Method::DELETE,
            &format!("/companies/{cid}/connections/{conn}"),
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = ts.get(&format!("/companies/{cid}/data/invoices")).await;
    assert_error(s, &b, 409);
    let (s, b) = ts.get(&format!("{base}/bankAccounts")).await;
    assert_error(s, &b, 404);
    let (s, b) = ts.get(&format!("/companies/{cid}/data/info")).await;
    assert_error(s, &b, 409);
}
both_engines!(connection_data_unlink_and_delete);

// -- 4 -------------------------------------------------------------------------------------------

/// A commerce store's data per connection: its info, customers, orders, products and payments,
/// as many as the Commerce Sandbox has, each by id; a numeric query and ordering on orders.
async fn commerce_data_per_connection(ts: &TestServer) {
    let (s, store) = ts
        .call(
            ts.http
                .post(format!("{}/sandbox/admin/commerce/stores", ts.base))
                .json(&json!({"name": "Corner Shop"})),
        )
        .await;
    assert_eq!(s, 200, "{store}");
    let c = ts.company("Shop Co").await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let (s, conn) = ts
        .post(
            &format!("/companies/{cid}/connections"),
            json!({"platformKey": "aiwb"}),
        )
        .await;
    assert_eq!(s, 200, "{conn}");
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    let (s, b) = ts
        .call(
            ts.req(
                Method::PUT,
                &format!("/companies/{cid}/connections/{conn_id}/authorization"),
            )
            .json(&json!({"apiKey": store["apiKey"]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let base = format!("/companies/{cid}/connections/{conn_id}/data");
    let (s, b) = ts.get(&format!("{base}/commerce-info")).await;
    assert_error(s, &b, 409);
    let (s, b) = ts.get(&format!("{base}/commerce-orders")).await;
    assert_error(s, &b, 409);
    let (s, _) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_eq!(s, 204);
    ts.run_jobs().await;

    let info = sandbox_info(ts, store["storeId"].as_str().unwrap()).await;
    let shop = get_ok(ts, &format!("{base}/commerce-info")).await;
    assert_eq!(shop["companyName"], "Corner Shop");
    for t in [
        "commerce-customers",
        "commerce-orders",
        "commerce-products",
        "commerce-payments",
    ] {
        let records = all_pages(ts, &format!("{base}/{t}"), "", 1000).await;
        assert_eq!(
            records.len() as u64,
            info["counts"][t].as_u64().unwrap(),
            "{t}"
        );
        let one = &records[records.len() - 1];
        assert_eq!(
            &get_ok(
                ts,
                &format!("{base}/{t}/{}", enc(one["id"].as_str().unwrap()))
            )
            .await,
            one,
            "{t}"
        );
    }
    let orders = all_pages(ts, &format!("{base}/commerce-orders"), "", 1000).await;
    let big: Vec<&Value> = orders
        .iter()
        .filter(|o| o["totalAmount"].as_f64().unwrap_or(0.0) >= 100.0)
        .collect();
    let got = all_pages(
        ts,
        &format!("{base}/commerce-orders"),
        &format!("&query={}&orderBy=-totalAmount", enc("totalAmount>=100")),
        40,
    )
    .await;
    assert_eq!(got.len(), big.len());
    assert!(
        got.windows(2)
            .all(|w| w[0]["totalAmount"].as_f64() >= w[1]["totalAmount"].as_f64())
    );
    // The company has no accounting data.
    let (s, b) = ts.get(&format!("/companies/{cid}/data/invoices")).await;
    assert_error(s, &b, 409);
    let (s, b) = ts.get(&format!("{base}/bankAccounts")).await;
    assert_error(s, &b, 404);
}
both_engines!(commerce_data_per_connection);

/// Every read endpoint is in the OpenAPI document, with Codat's operation ids and 409.
#[test]
fn read_endpoints_are_documented() {
    let doc = serde_json::to_value(finlink_http::openapi()).unwrap();
    let mut n = 0;
    for (path, _) in ACCOUNTING {
        for p in [
            format!("/companies/{{companyId}}/data/{path}"),
            format!(
                "/companies/{{companyId}}/data/{path}/{{{}Id}}",
                match path {
                    "accounts" => "account",
                    "customers" => "customer",
                    "suppliers" => "supplier",
                    "invoices" => "invoice",
                    "bills" => "bill",
                    "payments" => "payment",
                    "creditNotes" => "creditNote",
                    "journalEntries" => "journalEntry",
                    _ => "taxRate",
                }
            ),
        ] {
            let op = &doc["paths"][&p]["get"];
            assert!(op.is_object(), "{p}");
            assert!(op["responses"]["409"].is_object(), "{p}");
            n += 1;
        }
    }
    for p in [
        "bankAccounts",
        "bankAccounts/{accountId}",
        "bankAccounts/{accountId}/bankTransactions",
        "banking-accounts",
        "banking-accounts/{accountId}",
        "banking-transactions",
        "banking-transactions/{transactionId}",
        "commerce-customers",
        "commerce-customers/{customerId}",
        "commerce-orders",
        "commerce-orders/{orderId}",
        "commerce-products",
        "commerce-products/{productId}",
        "commerce-payments",
        "commerce-payments/{paymentId}",
        "commerce-info",
    ] {
        let p = format!("/companies/{{companyId}}/connections/{{connectionId}}/data/{p}");
        assert!(doc["paths"][&p]["get"].is_object(), "{p}");
        n += 1;
    }
    assert_eq!(n, 34);
    assert_eq!(
        doc["paths"]["/companies/{companyId}/data/invoices"]["get"]["operationId"],
        "list-invoices"
    );
    let page = &doc["components"]["schemas"]["DataRecords"];
    for f in [
        "results",
        "pageNumber",
        "pageSize",
        "totalResults",
        "_links",
    ] {
        assert!(page["properties"][f].is_object(), "{f}");
    }
    let params: Vec<&str> =
        doc["paths"]["/companies/{companyId}/data/invoices"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
    assert_eq!(
        params,
        ["companyId", "page", "pageSize", "query", "orderBy"]
    );
}

// -- 5 -------------------------------------------------------------------------------------------

/// `totalResults` of a full page is counted once per version of the company's records and
/// reused while nothing changed (finlink_store::records::CountCache); a pull that adds records
/// changes it, so a total is never stale.
async fn totals_follow_writes(ts: &TestServer) {
    let (cid, _, grant) = synced(ts).await;
    let all = format!("/companies/{cid}/data/invoices?pageSize=10");
    let paid = format!("{all}&query={}", enc("status=Paid"));
    let paid_count = |pages: &[Value]| pages.iter().filter(|i| i["status"] == "Paid").count();
    let first = all_pages(ts, &format!("/companies/{cid}/data/invoices"), "", 1000).await;
    assert_eq!(total(ts, &all).await, 400);
    assert_eq!(
        total(ts, &all).await,
        400,
        "the second count is the cached one"
    );
    let paid_first = total(ts, &paid).await;
    assert_eq!(paid_first, paid_count(&first) as u64);

    // The platform gains 30 invoices and the next (incremental) pull stores those it finds
    // (the ones whose modified date is after the watermark): the totals follow.
    let tenant = grant["tenant_id"].as_str().unwrap();
    let (s, b) = ts
        .call(
            ts.http
                .post(format!("{}/sandbox/admin/data/{tenant}", ts.base))
                .json(&json!({"invoices": 430})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = ts
        .call(ts.req(
            Method::POST,
            &format!("/companies/{cid}/data/queue/invoices"),
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    ts.run_jobs().await;
    let grown = all_pages(ts, &format!("/companies/{cid}/data/invoices"), "", 1000).await;
    assert!(grown.len() > 400, "{}", grown.len());
    assert_eq!(total(ts, &all).await, grown.len() as u64);
    assert_eq!(total(ts, &paid).await, paid_count(&grown) as u64);
}
both_engines!(totals_follow_writes);
