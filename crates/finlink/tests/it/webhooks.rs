//! Webhooks: the consumers API, deliveries raised with their events, Standard Webhooks
//! signatures (checked here with finlink's signer against the specification's example in its
//! unit test; the Python conformance test checks them with the official library), the retry
//! schedule on the injected clock, 410, rotation, retry, replay, and refused targets.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::harness::{Engine, TestServer};

#[derive(Default)]
struct Receiver {
    hits: Mutex<Vec<(HeaderMap, String)>>,
    /// Statuses to answer with, in order; then 200.
    script: Mutex<VecDeque<u16>>,
}

async fn hook(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: String,
) -> axum::http::StatusCode {
    r.hits.lock().await.push((headers, body));
    let status = r.script.lock().await.pop_front().unwrap_or(200);
    axum::http::StatusCode::from_u16(status).unwrap()
}

async fn receiver() -> (Arc<Receiver>, String) {
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(Arc::clone(&r));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, format!("http://{addr}/hook"))
}

async fn start(engine: Engine) -> TestServer {
    TestServer::start_with(engine, |cfg| {
        cfg.webhooks.allow_http = true;
        cfg.webhooks.allow_private_targets = true;
    })
    .await
}

fn header(h: &HeaderMap, k: &str) -> String {
    h.get(k).unwrap().to_str().unwrap().to_owned()
}

/// Every `v1,` signature in the header that `secret` makes.
fn verifies(h: &HeaderMap, body: &str, secret: &str) -> bool {
    let id = header(h, "webhook-id");
    let ts: i64 = header(h, "webhook-timestamp").parse().unwrap();
    let expected = finlink_providers::webhook::sign(secret, &id, ts, body.as_bytes()).unwrap();
    header(h, "webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

async fn create(ts: &TestServer, body: Value) -> (u16, Value) {
    ts.post("/webhooks", body).await
}

async fn secret(ts: &TestServer, id: &str) -> String {
    let (s, b) = ts.get(&format!("/webhooks/{id}/secret")).await;
    assert_eq!(s, 200, "{b}");
    b["secret"].as_str().unwrap().to_owned()
}

async fn deliveries_flow(ts: &TestServer) {
    let (rx, url) = receiver().await;
    let (s, all) = create(ts, json!({"url": url, "disabled": false, "eventTypes": []})).await;
    assert_eq!(s, 201, "{all}");
    let id = all["id"].as_str().unwrap().to_owned();
    assert_eq!(all["disabled"], false);
    let (s, list) = ts.get("/webhooks").await;
    assert_eq!(s, 200);
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    let key = secret(ts, &id).await;
    assert!(key.starts_with("whsec_"), "{key}");

    // An event is delivered once, signed, in Codat's envelope, with the event id as webhook-id.
    let c = ts.company("Hooked Ltd").await;
    assert_eq!(ts.run_jobs().await, 1);
    {
        let hits = rx.hits.lock().await;
        assert_eq!(hits.len(), 1);
        let (h, body) = &hits[0];
        assert!(verifies(h, body, &key));
        let b: Value = serde_json::from_str(body).unwrap();
        assert_eq!(b["eventType"], "company.created");
        assert_eq!(b["payload"]["id"], c["id"]);
        assert_eq!(
            header(h, "webhook-id"),
            format!("msg_{}", b["id"].as_str().unwrap().replace('-', ""))
        );
    }

    // Receiver down: 503 three times; attempts after 5 s, 5 min and 30 min; then delivered.
    rx.script.lock().await.extend([503, 503, 503]);
    ts.company("Down Ltd").await;
    ts.run_jobs().await;
    let (s, log) = ts.get(&format!("/webhooks/{id}/deliveries")).await;
    assert_eq!(s, 200, "{log}");
    let latest = &log["results"][0];
    assert_eq!(latest["status"], "pending");
    assert_eq!(latest["attempts"], 1);
    assert_eq!(latest["responseStatus"], 503);
    assert!(latest["nextAttemptAt"].is_string());
    for wait_ms in [6_000, 331_000, 1_981_000] {
        assert_eq!(
            ts.run_jobs().await,
            0,
            "nothing before the next attempt is due"
        );
        ts.clock.advance_millis(wait_ms);
        assert_eq!(ts.run_jobs().await, 1);
    }
    let (_, log) = ts.get(&format!("/webhooks/{id}/deliveries")).await;
    let latest = &log["results"][0];
    assert_eq!(latest["status"], "succeeded", "{log}");
    assert_eq!(latest["attempts"], 4);
    assert_eq!(log["totalResults"], 2);
    {
        let hits = rx.hits.lock().await;
        assert_eq!(hits.len(), 5);
        let ids: std::collections::BTreeSet<String> = hits[1..]
            .iter()
            .map(|(h, _)| header(h, "webhook-id"))
            .collect();
        assert_eq!(ids.len(), 1, "a retry keeps the webhook-id");
    }

    // Rotation: for a day both secrets sign.
    let (s, rotated) = ts
        .call(ts.req(Method::POST, &format!("/webhooks/{id}/secret/rotate")))
        .await;
    assert_eq!(s, 200, "{rotated}");
    let new_key = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    ts.company("Rotated Ltd").await;
    ts.run_jobs().await;
    {
        let hits = rx.hits.lock().await;
        let (h, body) = hits.last().unwrap();
        assert!(verifies(h, body, &key) && verifies(h, body, &new_key));
    }
    ts.clock.advance_millis(25 * 3_600_000);
    ts.company("Later Ltd").await;
    ts.run_jobs().await;
    {
        let hits = rx.hits.lock().await;
        let (h, body) = hits.last().unwrap();
        assert!(verifies(h, body, &new_key) && !verifies(h, body, &key));
    }

    // Retry and replay send the same events again (same webhook-id).
    let (_, log) = ts.get(&format!("/webhooks/{id}/deliveries")).await;
    let first = log["results"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, b) = ts
        .call(ts.req(
            Method::POST,
            &format!("/webhooks/{id}/deliveries/{first}/retry"),
        ))
        .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(ts.run_jobs().await, 1);
    let before = rx.hits.lock().await.len();
    let (s, b) = ts
        .call(ts.req(
            Method::POST,
            &format!("/webhooks/{id}/replay?since=2020-01-01T00:00:00Z"),
        ))
        .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["deliveries"], 4);
    ts.run_jobs().await;
    assert_eq!(rx.hits.lock().await.len(), before + 4);
    let (s, _) = ts
        .call(ts.req(
            Method::POST,
            &format!("/webhooks/{id}/replay?since=yesterday"),
        ))
        .await;
    assert_eq!(s, 400);

    // 410 Gone disables the consumer at once, with a reason and an event.
    rx.script.lock().await.push_back(410);
    ts.company("Gone Ltd").await;
    ts.run_jobs().await;
    let (_, got) = ts.get(&format!("/webhooks/{id}")).await;
    assert_eq!(got["disabled"], true, "{got}");
    assert_eq!(got["disabledReason"], "gone");
    let (_, evs) = ts.get("/events?eventType=webhooks.consumer.disabled").await;
    assert_eq!(evs["totalResults"], 1);
    let n = rx.hits.lock().await.len();
    ts.company("Quiet Ltd").await;
    ts.run_jobs().await;
    assert_eq!(
        rx.hits.lock().await.len(),
        n,
        "a disabled consumer gets nothing"
    );
    // Re-enabled by the client.
    let (s, got) = ts
        .call(
            ts.req(Method::PATCH, &format!("/webhooks/{id}"))
                .json(&json!({"disabled": false})),
        )
        .await;
    assert_eq!(s, 200, "{got}");
    assert!(got.get("disabledReason").is_none());
    let (s, _) = ts
        .call(ts.req(Method::DELETE, &format!("/webhooks/{id}")))
        .await;
    assert_eq!(s, 204);
    let (s, _) = ts.get(&format!("/webhooks/{id}")).await;
    assert_eq!(s, 404);
}

async fn filters_tags_and_limits(ts: &TestServer) {
    let (rx, url) = receiver().await;
    let (s, c) = create(
        ts,
        json!({"url": url, "eventTypes": ["connection.created"], "companyTags": ["region:uk"]}),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let (s, legacy) = create(
        ts,
        json!({"url": format!("{url}?legacy"), "eventTypes": ["DataConnectionStatusChanged"]}),
    )
    .await;
    assert_eq!(s, 201, "{legacy}");
    let plain = ts.company("No Tags").await;
    let pid = plain["id"].as_str().unwrap();
    let (s, _) = ts
        .post(
            &format!("/companies/{pid}/connections"),
            json!({"platformKey": "mqjo"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, tagged) = ts
        .post(
            "/companies",
            json!({"name": "Tagged", "tags": {"region": "uk"}}),
        )
        .await;
    assert_eq!(s, 200, "{tagged}");
    let tid = tagged["id"].as_str().unwrap();
    let (s, _) = ts
        .post(
            &format!("/companies/{tid}/connections"),
            json!({"platformKey": "mqjo"}),
        )
        .await;
    assert_eq!(s, 200);
    ts.run_jobs().await;
    let hits = rx.hits.lock().await;
    let got: Vec<(String, String)> = hits
        .iter()
        .map(|(_, b)| {
            let v: Value = serde_json::from_str(b).unwrap();
            (
                v["eventType"].as_str().unwrap().to_owned(),
                v["payload"]["referenceCompany"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    drop(hits);
    // The tagged consumer: only connection.created of the tagged company. The legacy one: both
    // connection.created events (DataConnectionStatusChanged maps to connection.*).
    assert_eq!(
        got.iter()
            .filter(|(t, n)| t == "connection.created" && n == "Tagged")
            .count(),
        2,
        "{got:?}"
    );
    assert_eq!(
        got.iter()
            .filter(|(t, n)| t == "connection.created" && n == "No Tags")
            .count(),
        1,
        "{got:?}"
    );
    assert!(
        got.iter().all(|(t, _)| t == "connection.created"),
        "{got:?}"
    );

    // Bad input and the limit of 50.
    for bad in [
        json!({"url": "not a url"}),
        json!({}),
        json!({"url": url, "companyTags": ["no-colon"]}),
        json!({"url": url, "companyTags": (0..11).map(|i| format!("k:{i}")).collect::<Vec<_>>()}),
    ] {
        let (s, b) = create(ts, bad.clone()).await;
        assert_eq!(s, 400, "{bad} -> {b}");
    }
    for i in 2..50 {
        let (s, _) = create(ts, json!({"url": format!("{url}?{i}")})).await;
        assert_eq!(s, 201);
    }
    let (s, b) = create(ts, json!({"url": url})).await;
    assert_eq!(s, 400, "{b}");
    // Another client sees none of them.
    let other = ts.other_client_key().await;
    let (_, l) = ts.call(ts.req_as(&other, Method::GET, "/webhooks")).await;
    assert_eq!(l["results"].as_array().unwrap().len(), 0);
}

/// Every attempt of every delivery fails: after the schedule runs out the delivery is failed, and
/// once the consumer has failed for 5 days it is disabled with `failing` and an event.
async fn failing_for_five_days_disables(ts: &TestServer) {
    let (rx, url) = receiver().await;
    rx.script.lock().await.extend(std::iter::repeat_n(500, 40));
    let (s, c) = create(ts, json!({"url": url})).await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    ts.company("Unlucky Ltd").await;
    ts.run_jobs().await;
    // The schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (+ up to 10 %).
    for secs in [6, 331, 1_981, 7_921, 19_801, 39_601, 39_601] {
        ts.clock.advance_millis(secs * 1000);
        assert_eq!(ts.run_jobs().await, 1, "an attempt after {secs} s");
    }
    let (_, log) = ts.get(&format!("/webhooks/{id}/deliveries")).await;
    assert_eq!(log["results"][0]["status"], "failed", "{log}");
    assert_eq!(log["results"][0]["attempts"], 8);
    assert_eq!(log["results"][0]["responseStatus"], 500);
    assert!(log["results"][0]["nextAttemptAt"].is_null());
    let (_, got) = ts.get(&format!("/webhooks/{id}")).await;
    assert_eq!(got["disabled"], false, "not yet 5 days");
    ts.clock.advance_millis(4 * 86_400_000);
    ts.company("Still Unlucky Ltd").await;
    ts.run_jobs().await;
    let (_, got) = ts.get(&format!("/webhooks/{id}")).await;
    assert_eq!(got["disabled"], true, "{got}");
    assert_eq!(got["disabledReason"], "failing");
    let (_, evs) = ts.get("/events?eventType=webhooks.consumer.disabled").await;
    assert_eq!(evs["totalResults"], 1);
}

/// Without the operator's permission, private and plain-http targets are refused.
async fn private_targets_are_refused(engine: Engine) {
    let ts = TestServer::start(engine).await;
    for url in [
        "http://127.0.0.1/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.7/hook",
        "https://192.168.1.20/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
    ] {
        let (s, b) = create(&ts, json!({"url": url})).await;
        assert_eq!(s, 400, "{url} -> {b}");
    }
    let (_, l) = ts.get("/webhooks").await;
    assert_eq!(l["results"].as_array().unwrap().len(), 0);
    ts.stop().await;
}

/// A company's events share a lane and are claimed together; a failed attempt holds back the
/// rest of its lane until its retry, so they still arrive in order.
async fn lane_holds_back_after_a_failure(ts: &TestServer) {
    let (rx, url) = receiver().await;
    let (s, consumer) = create(ts, json!({"url": url})).await;
    assert_eq!(s, 201, "{consumer}");
    let id = consumer["id"].as_str().unwrap().to_owned();
    let c = ts.company("In Order Ltd").await;
    let cid = c["id"].as_str().unwrap();
    let (s, _) = ts
        .call(ts.req(Method::DELETE, &format!("/companies/{cid}")))
        .await;
    assert_eq!(s, 204);
    rx.script.lock().await.push_back(503);
    assert_eq!(ts.run_jobs().await, 2, "both claimed in one group");
    assert_eq!(rx.hits.lock().await.len(), 1, "the second was held back");
    let (_, log) = ts.get(&format!("/webhooks/{id}/deliveries")).await;
    let by_type = |t: &str| {
        log["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["eventType"] == t)
            .unwrap()
            .clone()
    };
    let (created, deleted) = (by_type("company.created"), by_type("company.deleted"));
    assert_eq!(
        (
            created["attempts"].clone(),
            created["responseStatus"].clone()
        ),
        (json!(1), json!(503))
    );
    assert_eq!(deleted["attempts"], 0, "{deleted}");
    assert_eq!(deleted["status"], "pending");
    assert_eq!(deleted["nextAttemptAt"], created["nextAttemptAt"]);
    ts.clock.advance_millis(6_000);
    assert_eq!(ts.run_jobs().await, 2);
    let hits = rx.hits.lock().await;
    let types: Vec<String> = hits
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["eventType"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        ["company.created", "company.created", "company.deleted"]
    );
}

mod engines {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lane_order_sqlite() {
        let ts = start(Engine::Sqlite).await;
        lane_holds_back_after_a_failure(&ts).await;
        ts.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lane_order_postgres() {
        if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
            return;
        }
        let ts = start(Engine::Postgres).await;
        lane_holds_back_after_a_failure(&ts).await;
        ts.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deliveries_sqlite() {
        let ts = start(Engine::Sqlite).await;
        deliveries_flow(&ts).await;
        ts.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deliveries_postgres() {
        if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
            return;
        }
        let ts = start(Engine::Postgres).await;
        deliveries_flow(&ts).await;
        ts.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filters_sqlite() {
        let ts = start(Engine::Sqlite).await;
        filters_tags_and_limits(&ts).await;
        ts.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filters_postgres() {
        if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
            return;
        }
        let ts = start(Engine::Postgres).await;
        filters_tags_and_limits(&ts).await;
        ts.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_sqlite() {
        let ts = start(Engine::Sqlite).await;
        failing_for_five_days_disables(&ts).await;
        ts.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_postgres() {
        if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
            return;
        }
        let ts = start(Engine::Postgres).await;
        failing_for_five_days_disables(&ts).await;
        ts.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn private_targets_sqlite() {
        private_targets_are_refused(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn private_targets_postgres() {
        if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
            return;
        }
        private_targets_are_refused(Engine::Postgres).await;
    }
}
