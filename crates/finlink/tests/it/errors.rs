use reqwest::Method;
use serde_json::{Value, json};

use crate::both_engines;
use crate::harness::{TestServer, assert_error, basic};

async fn bad_input_gets_clear_answers(ts: &TestServer) {
    // no key, wrong key, malformed header
    let (s, b) = ts.call(ts.http.get(format!("{}/companies", ts.base))).await;
    assert_error(s, &b, 401);
    let (s, b) = ts
        .call(ts.req_as(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Method::GET,
            "/companies",
        ))
        .await;
    assert_error(s, &b, 401);
    let wrong_secret = format!("{}{}", &ts.key[..12], "x".repeat(36));
    let (s, b) = ts
        .call(ts.req_as(&wrong_secret, Method::GET, "/companies"))
        .await;
    assert_error(s, &b, 401);
    let (s, b) = ts
        .call(
            ts.http
                .get(format!("{}/companies", ts.base))
                .header("authorization", "Basic %%%"),
        )
        .await;
    assert_error(s, &b, 401);
    // Bearer works too
    let (s, _) = ts
        .call(
            ts.http
                .get(format!("{}/companies", ts.base))
                .bearer_auth(&ts.key),
        )
        .await;
    assert_eq!(s, 200);

    // malformed JSON, wrong types
    let (s, b) = ts
        .call(
            ts.req(Method::POST, "/companies")
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.contains("not valid JSON"), "{msg}");
    let (s, b) = ts.post("/companies", json!({"name": ["x"]})).await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.contains("name"), "{msg}");
    // an empty body where one is required
    let (s, b) = ts
        .call(
            ts.req(Method::POST, "/companies")
                .header("content-type", "application/json"),
        )
        .await;
    assert_error(s, &b, 400);
    // oversized body
    // The server answers 413 as soon as the declared length is too big and closes the connection;
    // a client still sending may see the close before the answer (a reset), so try a few times.
    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let mut answered = None;
    for _ in 0..5 {
        // Its own client: the connection the server closes must not go back to the shared pool.
        let once = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let sent = once
            .post(format!("{}/companies", ts.base))
            .header("authorization", crate::harness::basic(&ts.key))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await;
        if let Ok(res) = sent {
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            answered = Some((status, body));
            break;
        }
    }
    let (s, b) = answered.expect("the oversized request was never answered");
    assert_error(s, &b, 413);
    // malformed ids are 404s that say what an id looks like
    let (s, b) = ts.get("/companies/not-a-uuid").await;
    let msg = assert_error(s, &b, 404);
    assert!(msg.contains("UUID"), "{msg}");
    // unknown routes and methods
    let (s, b) = ts.get("/no/such/route").await;
    assert_error(s, &b, 404);
    let (s, b) = ts.call(ts.req(Method::DELETE, "/companies")).await;
    assert_error(s, &b, 405);
    // double slashes, as the SDK sends with a trailing-slash server URL
    let (s, _) = ts
        .call(
            ts.http
                .get(format!("{}//companies", ts.base))
                .header("authorization", basic(&ts.key)),
        )
        .await;
    assert_eq!(s, 200);
    // nothing was stored by any of it
    let (_, list) = ts.get("/companies").await;
    assert_eq!(list["totalResults"], 0);
}
both_engines!(bad_input_gets_clear_answers);

async fn health_openapi_and_docs(ts: &TestServer) {
    let (s, b) = ts.call(ts.http.get(format!("{}/healthz", ts.base))).await;
    assert_eq!(s, 200);
    assert_eq!(b["status"], "ok");
    let (s, _) = ts.call(ts.http.get(format!("{}/readyz", ts.base))).await;
    assert_eq!(s, 200);
    let (s, doc) = ts
        .call(ts.http.get(format!("{}/openapi.json", ts.base)))
        .await;
    assert_eq!(s, 200);
    for p in [
        "/companies",
        "/companies/{companyId}",
        "/companies/{companyId}/connections",
        "/integrations",
        "/profile",
        "/apiKeys",
        "/apiKeys/{apiKeyId}",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
    let res = ts
        .http
        .get(format!("{}/docs", ts.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"));
    let html = res.text().await.unwrap();
    assert!(html.contains("/companies/{companyId}/connections"));
    assert!(!html.contains("<script"), "the docs page runs no script");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the docs page loads nothing external"
    );
    let css = ts
        .http
        .get(format!("{}/assets/docs.css", ts.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
}
both_engines!(health_openapi_and_docs);

/// Every route in the router is in the OpenAPI document with its methods, and the
/// document is what `finlink openapi` prints.
#[test]
fn openapi_document_covers_the_codat_operations() {
    let doc = serde_json::to_value(finlink_http::openapi()).unwrap();
    let expect = [
        ("/companies", "get"),
        ("/companies", "post"),
        ("/companies/{companyId}", "get"),
        ("/companies/{companyId}", "put"),
        ("/companies/{companyId}", "patch"),
        ("/companies/{companyId}", "delete"),
        ("/companies/{companyId}/connections", "get"),
        ("/companies/{companyId}/connections", "post"),
        ("/companies/{companyId}/connections/{connectionId}", "get"),
        ("/companies/{companyId}/connections/{connectionId}", "patch"),
        (
            "/companies/{companyId}/connections/{connectionId}",
            "delete",
        ),
        ("/integrations", "get"),
        ("/integrations/{platformKey}", "get"),
        ("/integrations/{platformKey}/branding", "get"),
        ("/profile", "get"),
        ("/profile", "put"),
        ("/apiKeys", "get"),
        ("/apiKeys", "post"),
        ("/apiKeys/{apiKeyId}", "delete"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/companies/{companyId}/data/all", "post"),
        ("/companies/{companyId}/data/queue/{dataType}", "post"),
        ("/companies/{companyId}/dataStatus", "get"),
        ("/companies/{companyId}/data/history", "get"),
        ("/companies/{companyId}/data/history/{datasetId}", "get"),
        ("/companies/{companyId}/data/info", "get"),
        ("/profile/syncSettings", "get"),
        ("/profile/syncSettings", "post"),
        ("/companies/{companyId}/syncSettings", "get"),
        ("/companies/{companyId}/syncSettings", "post"),
    ];
    for (p, m) in expect {
        assert!(doc["paths"][p][m].is_object(), "{m} {p}");
    }
    // success codes the Codat SDK expects
    assert!(doc["paths"]["/companies"]["post"]["responses"]["200"].is_object());
    assert!(doc["paths"]["/companies/{companyId}"]["delete"]["responses"]["204"].is_object());
    assert!(doc["paths"]["/companies/{companyId}/connections/{connectionId}"]["delete"]["responses"]["200"].is_object());
    assert!(doc["paths"]["/apiKeys"]["post"]["responses"]["201"].is_object());
    assert!(
        doc["paths"]["/companies/{companyId}/data/all"]["post"]["responses"]["204"].is_object()
    );
    // sync settings: both POSTs answer 204; a SyncSetting's four required fields
    for p in [
        "/profile/syncSettings",
        "/companies/{companyId}/syncSettings",
    ] {
        assert!(
            doc["paths"][p]["post"]["responses"]["204"].is_object(),
            "{p}"
        );
        assert!(
            doc["paths"][p]["get"]["responses"]["200"].is_object(),
            "{p}"
        );
    }
    let setting = &doc["components"]["schemas"]["SyncSettingDto"];
    for f in ["dataType", "fetchOnFirstLink", "syncSchedule", "syncOrder"] {
        assert!(
            setting["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == f),
            "SyncSetting.{f} is required"
        );
    }
    let queue = &doc["paths"]["/companies/{companyId}/data/queue/{dataType}"]["post"];
    assert_eq!(
        queue["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PullOperationDto"
    );
    let op = &doc["components"]["schemas"]["PullOperationDto"];
    assert_eq!(op["properties"]["progress"]["type"], "integer");
    for f in [
        "id",
        "companyId",
        "connectionId",
        "dataType",
        "status",
        "requested",
        "progress",
        "isCompleted",
        "isErrored",
    ] {
        assert!(
            op["required"].as_array().unwrap().iter().any(|r| r == f),
            "PullOperation.{f} is required"
        );
    }
}
