//! Syncs against the built-in sandbox: `data/all`, `data/queue`, `dataStatus`, pull history and
//! `data/info` over HTTP; the pull jobs run with `run_jobs` (waits move the manual clock);
//! faults injected in the sandbox's data API (429, 500, a token refused mid-pull); pulls
//! resumed from their last stored page; `read.completed(.initial)` delivered to a webhook.

use std::sync::Arc;

use axum::routing::post;
use finlink_domain::data::DataType;
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::paging::PageRequest;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::both_engines;
use crate::credentials::migrated;
use crate::harness::{Engine, TestServer, assert_error};

/// The data types the accounting sandbox (`mqjo`) provides: 12 accounting, 2 banking.
const SANDBOX_TYPES: usize = 14;

async fn sandbox_post(ts: &TestServer, path: &str, body: Value) -> Value {
    let (s, b) = ts
        .call(
            ts.http
                .post(format!("{}/sandbox{path}", ts.base))
                .json(&body),
        )
        .await;
    assert!(s == 200 || s == 204, "POST /sandbox{path}: {s} {b}");
    b
}

async fn stats(ts: &TestServer) -> Value {
    let (s, b) = ts
        .call(ts.http.get(format!("{}/sandbox/admin/stats", ts.base)))
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn requests_of(ts: &TestServer, data_type: &str) -> u64 {
    stats(ts).await["data_requests_by_type"][data_type]
        .as_u64()
        .unwrap_or(0)
}

async fn data_status(ts: &TestServer, cid: &str) -> Value {
    let (s, b) = ts.get(&format!("/companies/{cid}/dataStatus")).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn queue(ts: &TestServer, cid: &str, data_type: &str) -> Value {
    let (s, b) = ts
        .call(ts.req(
            Method::POST,
            &format!("/companies/{cid}/data/queue/{data_type}"),
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn dataset(ts: &TestServer, cid: &str, id: &str) -> Value {
    let (s, b) = ts.get(&format!("/companies/{cid}/data/history/{id}")).await;
    assert_eq!(s, 200, "{b}");
    b
}

struct Ids {
    client: ClientId,
    company: CompanyId,
    connection: ConnectionId,
}

async fn ids(ts: &TestServer, cid: &str, conn_id: &str) -> Ids {
    let company = CompanyId::parse(cid).unwrap();
    Ids {
        client: ts
            .app()
            .store
            .company_owner(company)
            .await
            .unwrap()
            .unwrap(),
        company,
        connection: ConnectionId::parse(conn_id).unwrap(),
    }
}

/// How many records of a type the store holds for the connection.
async fn stored(ts: &TestServer, ids: &Ids, data_type: DataType) -> u64 {
    ts.app()
        .store
        .list_records(
            ids.client,
            ids.company,
            Some(ids.connection),
            data_type,
            PageRequest {
                page: 1,
                page_size: 1,
            },
        )
        .await
        .unwrap()
        .total
}

// -- 1 -------------------------------------------------------------------------------------------

/// The seed's "View data" workflow after a token migration: nothing is pulled until the
/// client asks; `data/all` pulls every data type the sandbox provides to `Complete`; the
/// history and `dataStatus` say so; `data/info` gives the platform's company name, which
/// replaces the dummy one. A second pull is incremental.
async fn migrated_company_syncs_on_demand(ts: &TestServer) {
    let (cid, conn_id, grant) = migrated(ts).await;
    let tenant = grant["tenant_id"].as_str().unwrap().to_owned();
    let ids = ids(ts, &cid, &conn_id).await;
    ts.run_jobs().await;
    assert_eq!(
        data_status(ts, &cid).await,
        json!({}),
        "a migration pulls nothing"
    );
    let (s, h) = ts.get(&format!("/companies/{cid}/data/history")).await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["totalResults"], 0);
    let (s, b) = ts.get(&format!("/companies/{cid}/data/info")).await;
    assert!(assert_error(s, &b, 409).contains("not been read yet"));

    let (s, b) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_eq!(s, 204, "{b}");
    let status = data_status(ts, &cid).await;
    let status = status.as_object().unwrap();
    assert_eq!(status.len(), SANDBOX_TYPES, "{status:?}");
    for (t, st) in status {
        assert_eq!(st["dataType"], t.as_str());
        assert_eq!(st["currentStatus"], "Queued", "{st}");
        assert!(st.get("latestSuccessfulSyncId").is_none(), "{st}");
    }
    // A type already queued is refused, in Codat's words.
    let (s, b) = ts
        .call(ts.req(
            Method::POST,
            &format!("/companies/{cid}/data/queue/invoices"),
        ))
        .await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.contains("DatasetAlreadyInProgressException"), "{msg}");
    // data/all again leaves the queued ones as they are.
    let (s, _) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_eq!(s, 204);

    ts.run_jobs().await;
    let status = data_status(ts, &cid).await;
    for (t, st) in status.as_object().unwrap() {
        assert_eq!(st["currentStatus"], "Complete", "{t}: {st}");
        assert_eq!(st["latestSyncId"], st["latestSuccessfulSyncId"], "{st}");
        assert!(st["lastSuccessfulSync"].is_string(), "{st}");
    }
    let (s, h) = ts
        .get(&format!(
            "/companies/{cid}/data/history?pageSize=5&query=status%3DComplete"
        ))
        .await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["totalResults"], SANDBOX_TYPES);
    assert_eq!(h["results"].as_array().unwrap().len(), 5);
    assert!(h["_links"]["next"]["href"].is_string(), "{h}");
    let first = &h["results"][0];
    assert_eq!(
        (
            first["progress"].as_i64(),
            &first["isCompleted"],
            &first["isErrored"]
        ),
        (Some(100), &json!(true), &json!(false)),
        "{first}"
    );
    assert_eq!(first["companyId"], cid.as_str());
    assert_eq!(first["connectionId"], conn_id.as_str());
    let one = dataset(ts, &cid, first["id"].as_str().unwrap()).await;
    assert_eq!(&one, first);
    let (s, b) = ts
        .get(&format!(
            "/companies/{cid}/data/history?query=isCompleted%3Dtrue"
        ))
        .await;
    assert!(assert_error(s, &b, 400).contains("Could not resolve property isCompleted on Dataset"));

    // Everything the sandbox generated is stored, once.
    let (s, info) = ts
        .call(
            ts.http
                .get(format!("{}/sandbox/admin/data/{tenant}", ts.base)),
        )
        .await;
    assert_eq!(s, 200, "{info}");
    for (t, key) in [
        (DataType::Invoices, "invoices"),
        (DataType::Customers, "customers"),
        (DataType::BankTransactions, "bankTransactions"),
        (DataType::JournalEntries, "journalEntries"),
    ] {
        assert_eq!(
            stored(ts, &ids, t).await,
            info["counts"][key].as_u64().unwrap(),
            "{key}"
        );
    }

    // data/info: the platform's company name replaces the dummy one.
    let (s, company_info) = ts.get(&format!("/companies/{cid}/data/info")).await;
    assert_eq!(s, 200, "{company_info}");
    assert_eq!(company_info["companyName"], grant["company_name"]);
    assert!(company_info["baseCurrency"].is_string(), "{company_info}");
    let (s, renamed) = ts
        .call(
            ts.req(Method::PATCH, &format!("/companies/{cid}"))
                .json(&json!({ "name": company_info["companyName"] })),
        )
        .await;
    assert_eq!(s, 200, "{renamed}");
    assert_eq!(renamed["name"], grant["company_name"]);
    assert!(renamed["lastSync"].is_string(), "{renamed}");
    assert!(
        renamed["dataConnections"][0]["lastSync"].is_string(),
        "{renamed}"
    );

    // Incremental: only what changed since the last pull comes again; an unchanged record keeps
    // its modifiedDate, a changed one gets a new one.
    let before = ts
        .app()
        .store
        .list_records(
            ids.client,
            ids.company,
            Some(ids.connection),
            DataType::Invoices,
            PageRequest {
                page: 1,
                page_size: 500,
            },
        )
        .await
        .unwrap();
    ts.clock.advance_millis(3_600_000);
    let touched = sandbox_post(
        ts,
        &format!("/admin/data/{tenant}/touch"),
        json!({"type": "invoices", "indices": [3, 150]}),
    )
    .await;
    let touched_ids: Vec<&str> = touched["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let n0 = requests_of(ts, "invoices").await;
    let d = queue(ts, &cid, "invoices").await;
    assert_eq!(d["status"], "Queued");
    assert_eq!(
        (&d["progress"], &d["isCompleted"]),
        (&json!(0), &json!(false))
    );
    ts.run_jobs().await;
    let d = dataset(ts, &cid, d["id"].as_str().unwrap()).await;
    assert_eq!(d["status"], "Complete", "{d}");
    assert_eq!(
        requests_of(ts, "invoices").await,
        n0 + 1,
        "one page of changes"
    );
    let ds = ts
        .app()
        .store
        .get_dataset(ids.client, d["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(ds.modified_since.is_some(), "incremental");
    assert!(ds.records >= 2 && ds.records < 10, "{ds:?}");
    assert_eq!(stored(ts, &ids, DataType::Invoices).await, before.total);
    for r in &before.items {
        let after = ts
            .app()
            .store
            .get_record(
                ids.client,
                ids.company,
                Some(ids.connection),
                DataType::Invoices,
                &r.record_id,
            )
            .await
            .unwrap()
            .unwrap();
        if touched_ids.contains(&r.record_id.as_str()) {
            assert!(after.modified > r.modified, "{}", r.record_id);
            assert!(after.data.contains("(rev 1)"), "{}", after.data);
        } else {
            assert_eq!(after.modified, r.modified, "{}", r.record_id);
            assert_eq!(after.data, r.data);
        }
    }

    // Bad requests.
    let (s, b) = ts
        .call(ts.req(
            Method::POST,
            &format!("/companies/{cid}/data/queue/widgets"),
        ))
        .await;
    assert!(assert_error(s, &b, 400).contains("not a data type"));
    let (s, b) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/queue/items")))
        .await;
    assert!(
        assert_error(s, &b, 400).contains("Datatype items not supported by platform(s) Sandbox")
    );
    let other = ts.company("Other Co").await;
    let other_id = other["id"].as_str().unwrap();
    let (s, b) = ts
        .call(ts.req(
            Method::POST,
            &format!("/companies/{other_id}/data/queue/invoices?connectionId={conn_id}"),
        ))
        .await;
    assert_error(s, &b, 404);
    let (s, b) = ts
        .call(ts.req(Method::POST, &format!("/companies/{other_id}/data/all")))
        .await;
    assert!(assert_error(s, &b, 400).contains("no Linked connection"));
    let missing = "8a3f3f8e-0000-4000-8000-000000000000";
    for (m, p) in [
        (Method::POST, format!("/companies/{missing}/data/all")),
        (
            Method::POST,
            format!("/companies/{missing}/data/queue/invoices"),
        ),
        (Method::GET, format!("/companies/{missing}/dataStatus")),
        (Method::GET, format!("/companies/{missing}/data/history")),
        (Method::GET, format!("/companies/{missing}/data/info")),
        (
            Method::GET,
            format!("/companies/{cid}/data/history/{missing}"),
        ),
        (
            Method::GET,
            format!(
                "/companies/{other_id}/data/history/{}",
                d["id"].as_str().unwrap()
            ),
        ),
    ] {
        let (s, b) = ts.call(ts.req(m, &p)).await;
        assert_error(s, &b, 404);
    }
    // Another client sees none of it.
    let key = ts.other_client_key().await;
    let (s, b) = ts
        .call(ts.req_as(&key, Method::GET, &format!("/companies/{cid}/dataStatus")))
        .await;
    assert_error(s, &b, 404);
    let (s, b) = ts
        .call(ts.req_as(&key, Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_error(s, &b, 404);

    // Unlinked: the data stays readable; no new pull. Deleted: the data goes with it.
    let (s, b) = ts
        .call(
            ts.req(
                Method::PATCH,
                &format!("/companies/{cid}/connections/{conn_id}"),
            )
            .json(&json!({"status": "Unlinked"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, again) = ts.get(&format!("/companies/{cid}/data/info")).await;
    assert_eq!((s, &again), (200, &company_info));
    let (s, b) = ts
        .call(ts.req(
            Method::POST,
            &format!("/companies/{cid}/data/queue/invoices"),
        ))
        .await;
    assert_error(s, &b, 400);
    let (s, b) = ts
        .call(ts.req(
            Method::DELETE,
            &format!("/companies/{cid}/connections/{conn_id}"),
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(stored(ts, &ids, DataType::Invoices).await, 0);
    let (s, b) = ts.get(&format!("/companies/{cid}/data/info")).await;
    assert_error(s, &b, 409);
    let (s, h) = ts.get(&format!("/companies/{cid}/data/history")).await;
    assert_eq!((s, &h["totalResults"]), (200, &json!(0)), "{h}");
}
both_engines!(migrated_company_syncs_on_demand);

// -- 2 -------------------------------------------------------------------------------------------

/// A 429 with Retry-After and a 500 are retried on their page alone; a platform failing beyond
/// the page retries pauses the dataset and the job resumes it from its last stored page.
async fn faults_are_retried_from_the_page(ts: &TestServer) {
    let (cid, conn_id, grant) = migrated(ts).await;
    let tenant = grant["tenant_id"].as_str().unwrap().to_owned();
    let ids = ids(ts, &cid, &conn_id).await;
    // 4 pages of 1000 each.
    sandbox_post(
        ts,
        &format!("/admin/data/{tenant}"),
        json!({"invoices": 3500, "bills": 3500, "bankTransactions": 3500}),
    )
    .await;

    // 429 on page 2, Retry-After 7 s: waited out (on the test clock), the page asked again.
    sandbox_post(
        ts,
        "/admin/data-failures",
        json!({"kind": "rateLimited", "type": "invoices", "page": 2, "retryAfter": 7}),
    )
    .await;
    let t0 = finlink_domain::Clock::now(&ts.clock).as_millis();
    let d = queue(ts, &cid, "invoices").await;
    ts.run_jobs().await;
    let d = dataset(ts, &cid, d["id"].as_str().unwrap()).await;
    assert_eq!(d["status"], "Complete", "{d}");
    assert_eq!(
        requests_of(ts, "invoices").await,
        5,
        "4 pages, page 2 twice"
    );
    assert!(
        finlink_domain::Clock::now(&ts.clock).as_millis() - t0 >= 7_000,
        "Retry-After was waited"
    );
    assert_eq!(stored(ts, &ids, DataType::Invoices).await, 3500);

    // A 500 on page 3: that page again.
    sandbox_post(
        ts,
        "/admin/data-failures",
        json!({"kind": "serverError", "type": "bills", "page": 3}),
    )
    .await;
    let d = queue(ts, &cid, "bills").await;
    ts.run_jobs().await;
    let d = dataset(ts, &cid, d["id"].as_str().unwrap()).await;
    assert_eq!(d["status"], "Complete", "{d}");
    assert_eq!(requests_of(ts, "bills").await, 5);
    assert_eq!(stored(ts, &ids, DataType::Bills).await, 3500);

    // 500 on page 3 beyond the connector's 3 retries: the dataset pauses (still Fetching),
    // the job runs again later and resumes at page 3; pages 1 and 2 are not fetched again.
    sandbox_post(
        ts,
        "/admin/data-failures",
        json!({"kind": "serverError", "type": "bankTransactions", "page": 3, "count": 4}),
    )
    .await;
    let d = queue(ts, &cid, "bankTransactions").await;
    let id = d["id"].as_str().unwrap().to_owned();
    ts.run_jobs().await;
    let paused = dataset(ts, &cid, &id).await;
    assert_eq!(paused["status"], "Fetching", "{paused}");
    assert!(
        paused["statusDescription"]
            .as_str()
            .unwrap()
            .starts_with("Paused until "),
        "{paused}"
    );
    assert!(
        paused["errorMessage"].as_str().unwrap().contains("500"),
        "{paused}"
    );
    assert_eq!(paused["progress"], 50, "{paused}");
    assert_eq!(requests_of(ts, "bankTransactions").await, 2 + 4);
    assert_eq!(stored(ts, &ids, DataType::BankTransactions).await, 2000);
    ts.clock.advance_millis(3_600_000);
    ts.run_jobs().await;
    let done = dataset(ts, &cid, &id).await;
    assert_eq!(done["status"], "Complete", "{done}");
    assert_eq!(done["errorMessage"], Value::Null, "{done}");
    assert_eq!(requests_of(ts, "bankTransactions").await, 2 + 4 + 2);
    assert_eq!(stored(ts, &ids, DataType::BankTransactions).await, 3500);
    let ds = ts
        .app()
        .store
        .get_dataset(ids.client, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ds.records, 3500, "every page counted once");
}
both_engines!(faults_are_retried_from_the_page);

// -- 3 -------------------------------------------------------------------------------------------

/// The platform refuses the token mid-pull and the refresh is refused too (the grant was
/// revoked): the dataset ends in `AuthError` with the pages before kept, and the refresh
/// lifecycle makes the connection `Deauthorized` (with its event).
async fn refused_token_mid_pull_deauthorizes(ts: &TestServer) {
    let (cid, conn_id, grant) = migrated(ts).await;
    let tenant = grant["tenant_id"].as_str().unwrap().to_owned();
    let ids = ids(ts, &cid, &conn_id).await;
    sandbox_post(
        ts,
        &format!("/admin/data/{tenant}"),
        json!({"invoices": 3500}),
    )
    .await;
    sandbox_post(
        ts,
        "/admin/data-failures",
        json!({"kind": "invalidToken", "type": "invoices", "page": 2}),
    )
    .await;
    sandbox_post(
        ts,
        "/admin/failures",
        json!({"kind": "invalidGrant", "count": 1}),
    )
    .await;
    let d = queue(ts, &cid, "invoices").await;
    ts.run_jobs().await;
    let d = dataset(ts, &cid, d["id"].as_str().unwrap()).await;
    assert_eq!(d["status"], "AuthError", "{d}");
    assert_eq!(d["isErrored"], true);
    assert!(
        d["errorMessage"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{d}"
    );
    assert_eq!(
        stored(ts, &ids, DataType::Invoices).await,
        1000,
        "page 1 kept"
    );
    let (s, conn) = ts
        .get(&format!("/companies/{cid}/connections/{conn_id}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(conn["status"], "Deauthorized", "{conn}");
    let (s, ev) = ts.get("/events?eventType=connection.failed").await;
    assert_eq!(s, 200, "{ev}");
    assert_eq!(ev["totalResults"], 1, "{ev}");
    let (s, ev) = ts.get("/events?eventType=read.completed").await;
    assert_eq!(s, 200, "{ev}");
    let payload = &ev["results"][0]["payload"];
    assert_eq!(payload["dataTypes"][0]["status"], "AuthError", "{ev}");
    assert_eq!(
        payload["dataTypes"][0]["issues"][0]["type"], "error.AuthError",
        "{ev}"
    );
    // No new pull on a Deauthorized connection.
    let (s, b) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_error(s, &b, 400);
    assert!(
        !ev.to_string()
            .contains(grant["access_token"].as_str().unwrap()),
        "no token in events"
    );
}
both_engines!(refused_token_mid_pull_deauthorizes);

// -- 4 -------------------------------------------------------------------------------------------

#[derive(Default)]
struct Receiver {
    hits: Mutex<Vec<Value>>,
}

async fn receiver() -> (Arc<Receiver>, String) {
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |axum::extract::State(r): axum::extract::State<Arc<Receiver>>, body: String| async move {
                    r.hits.lock().await.push(serde_json::from_str(&body).unwrap());
                    axum::http::StatusCode::OK
                },
            ),
        )
        .with_state(Arc::clone(&r));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, format!("http://{addr}/hook"))
}

/// Linking through Link pulls every data type once (fetch on first link) and a webhook
/// consumer gets `read.completed.initial` once they have all ended; a later `data/all` gives
/// `read.completed`.
async fn link_fetches_on_first_link_and_reports(engine: Engine) {
    let ts = TestServer::start_with(engine, |cfg| {
        cfg.webhooks.allow_http = true;
        cfg.webhooks.allow_private_targets = true;
    })
    .await;
    let (rx, url) = receiver().await;
    let (s, hook) = ts
        .post(
            "/webhooks",
            json!({"url": url, "eventTypes": ["read.completed", "read.completed.initial"]}),
        )
        .await;
    assert_eq!(s, 201, "{hook}");
    let (cid, conn_id) = crate::link::link_sandbox(&ts, "Harbour Supplies Ltd").await;
    let status = data_status(&ts, &cid).await;
    assert_eq!(status.as_object().unwrap().len(), SANDBOX_TYPES, "{status}");
    assert!(rx.hits.lock().await.is_empty());

    ts.run_jobs().await;
    {
        let hits = rx.hits.lock().await;
        assert_eq!(hits.len(), 1, "{hits:?}");
        let e = &hits[0];
        assert_eq!(e["eventType"], "read.completed.initial", "{e}");
        let p = &e["payload"];
        assert_eq!(p["referenceCompany"]["id"], cid.as_str());
        assert_eq!(p["modifiedFromDate"], Value::Null, "a full pull");
        let types = p["dataTypes"].as_array().unwrap();
        assert_eq!(types.len(), SANDBOX_TYPES);
        for t in types {
            assert_eq!(t["status"], "Complete", "{t}");
            assert_eq!(t["connectionId"], conn_id.as_str());
            assert_eq!(t["recordsModified"], true, "{t}");
            assert_eq!(t["issues"], json!([]), "{t}");
        }
    }
    let (s, info) = ts.get(&format!("/companies/{cid}/data/info")).await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["companyName"], "Harbour Supplies Ltd");

    // A later data/all: incremental, read.completed (not .initial), nothing changed.
    let (s, _) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_eq!(s, 204);
    ts.run_jobs().await;
    let hits = rx.hits.lock().await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    let e = &hits[1];
    assert_eq!(e["eventType"], "read.completed", "{e}");
    assert!(e["payload"]["modifiedFromDate"].is_string(), "{e}");
    let types = e["payload"]["dataTypes"].as_array().unwrap();
    assert_eq!(types.len(), SANDBOX_TYPES);
    assert!(types.iter().all(|t| t["status"] == "Complete"), "{e}");
    drop(hits);
    let (s, ev) = ts.get("/events?eventType=read.completed.initial").await;
    assert_eq!((s, &ev["totalResults"]), (200, &json!(1)), "{ev}");
    ts.stop().await;
}

mod link_fetches_on_first_link {
    use crate::harness::Engine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::link_fetches_on_first_link_and_reports(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
            eprintln!("FINLINK_TEST_POSTGRES_URL is not set: skipping");
            return;
        }
        super::link_fetches_on_first_link_and_reports(Engine::Postgres).await;
    }
}

// -- 5 -------------------------------------------------------------------------------------------

/// A commerce connection (an API key, no refresh) pulls its five data types; a company without an
/// accounting connection has no `data/info`.
async fn commerce_store_syncs_with_its_api_key(ts: &TestServer) {
    let store = sandbox_post(ts, "/admin/commerce/stores", json!({"name": "Corner Shop"})).await;
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
    let (s, _) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_eq!(s, 204);
    ts.run_jobs().await;
    let status = data_status(ts, &cid).await;
    let status = status.as_object().unwrap();
    let mut types: Vec<&str> = status.keys().map(String::as_str).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "commerce-companyInfo",
            "commerce-customers",
            "commerce-orders",
            "commerce-payments",
            "commerce-products"
        ]
    );
    for st in status.values() {
        assert_eq!(st["currentStatus"], "Complete", "{st}");
    }
    let ids = ids(ts, &cid, &conn_id).await;
    let (s, info) = ts
        .call(ts.http.get(format!(
            "{}/sandbox/admin/data/{}",
            ts.base,
            store["storeId"].as_str().unwrap()
        )))
        .await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(
        stored(ts, &ids, DataType::CommerceOrders).await,
        info["counts"]["commerce-orders"].as_u64().unwrap()
    );
    assert_eq!(stored(ts, &ids, DataType::CommerceCompanyInfo).await, 1);
    let (s, b) = ts.get(&format!("/companies/{cid}/data/info")).await;
    assert_error(s, &b, 409);
    assert!(
        !ts.database_dump()
            .await
            .contains(store["apiKey"].as_str().unwrap()),
        "the key is not stored in clear, not even in raw records"
    );
}
both_engines!(commerce_store_syncs_with_its_api_key);
