//! The Apideck-style `/vault` endpoints.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_engines;
use crate::harness::TestServer;

fn vault(
    ts: &TestServer,
    m: Method,
    path: &str,
    consumer: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut rb = ts
        .http
        .request(m, format!("{}{}", ts.base, path))
        .bearer_auth(&ts.key)
        .header("x-apideck-app-id", "app-1");
    if let Some(c) = consumer {
        rb = rb.header("x-apideck-consumer-id", c);
    }
    rb
}

fn assert_apideck_error(status: u16, body: &Value, expected: u16) -> String {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status_code"], expected, "{body}");
    assert!(body["type_name"].is_string(), "{body}");
    assert_eq!(body["correlation_id"].as_str().unwrap().len(), 32);
    body["message"].as_str().unwrap().to_owned()
}

async fn import_is_an_upsert_visible_through_both_apis(ts: &TestServer) {
    let path = "/vault/connections/accounting/sandbox/import";
    let body = json!({
        "credentials": {"access_token": "AT-apideck-1", "refresh_token": "RT-apideck-1", "issued_at": "2026-11-23T10:00:00Z", "expires_in": 3600},
        "settings": {"tenant_id": "org-7"},
        "metadata": {"source": "apideck"}
    });
    let (s, b) = ts
        .call(vault(ts, Method::POST, path, Some("account:1")).json(&body))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status_code"], 200);
    let d = &b["data"];
    assert_eq!(d["service_id"], "sandbox");
    assert_eq!(d["unified_api"], "accounting");
    assert_eq!(d["consumer_id"], "account:1");
    assert_eq!(d["state"], "callable");
    assert_eq!(d["settings"]["tenantId"], "org-7");
    assert_eq!(d["metadata"]["source"], "apideck");
    assert_eq!(
        d["token_expires_at"],
        finlink_domain::Timestamp::parse("2026-11-23T11:00:00Z")
            .unwrap()
            .as_millis()
    );
    let conn_id = d["id"].as_str().unwrap().to_owned();
    let company_id = d["company_id"].as_str().unwrap().to_owned();

    // the same connection through the Codat API
    let (_, c) = ts
        .get(&format!("/companies/{company_id}/connections/{conn_id}"))
        .await;
    assert_eq!(c["status"], "Linked");
    assert_eq!(c["platformName"], "Sandbox");

    // a second import updates the same connection (expires_in in milliseconds, as the guide's example)
    let again = json!({
        "credentials": {"access_token": "AT-apideck-2", "refresh_token": "RT-apideck-2", "issued_at": "2026-11-23T10:00:00Z", "expires_in": 3_600_000},
        "metadata": {"team": "b"}
    });
    let (s, b) = ts
        .call(vault(ts, Method::POST, path, Some("account:1")).json(&again))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["id"], conn_id);
    assert_eq!(
        b["data"]["metadata"],
        json!({"source": "apideck", "team": "b"})
    );
    assert_eq!(b["data"]["settings"]["tenantId"], "org-7");
    assert_eq!(
        b["data"]["token_expires_at"].as_i64().unwrap(),
        finlink_domain::Timestamp::parse("2026-11-23T11:00:00Z")
            .unwrap()
            .as_millis(),
        "3600000 is read as milliseconds: one hour"
    );
    // without expiry: needs a refresh before first use (expiry unknown)
    let (s, b) = ts
        .call(
            vault(ts, Method::POST, path, Some("account:1"))
                .json(&json!({"credentials": {"access_token": "a3", "refresh_token": "r3"}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["token_expires_at"], Value::Null);

    // consumer_id in the body, as Apideck's migration guide shows
    let (s, b) = ts
        .call(vault(ts, Method::POST, path, None).json(&json!({"consumer_id": "account:2", "credentials": {"access_token": "a", "refresh_token": "r"}})))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["consumer_id"], "account:2");

    // read, list, patch
    let (s, one) = ts
        .call(vault(
            ts,
            Method::GET,
            "/vault/connections/accounting/sandbox",
            Some("account:1"),
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(one["data"]["id"], conn_id);
    let (_, all) = ts
        .call(vault(
            ts,
            Method::GET,
            "/vault/connections",
            Some("account:1"),
        ))
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
    let (_, none) = ts
        .call(vault(
            ts,
            Method::GET,
            "/vault/connections?api=ecommerce",
            Some("account:1"),
        ))
        .await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    let (s, p) = ts
        .call(
            vault(
                ts,
                Method::PATCH,
                "/vault/connections/accounting/sandbox",
                Some("account:1"),
            )
            .json(&json!({"settings": {"tenant_id": "org-8"}})),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["data"]["settings"]["tenantId"], "org-8");

    // consumers
    let (_, consumers) = ts
        .call(vault(ts, Method::GET, "/vault/consumers", None))
        .await;
    assert_eq!(consumers["data"].as_array().unwrap().len(), 2);
    let (s, cons) = ts
        .call(vault(ts, Method::GET, "/vault/consumers/account:1", None))
        .await;
    assert_eq!(s, 200, "{cons}");
    assert_eq!(cons["data"]["connections"].as_array().unwrap().len(), 1);
    // a consumer is a company on the Codat side too, and plain companies are not consumers
    ts.company("Not a consumer").await;
    let (_, consumers) = ts
        .call(vault(ts, Method::GET, "/vault/consumers", None))
        .await;
    assert_eq!(consumers["data"].as_array().unwrap().len(), 2);

    // secrets never answered, never stored in clear
    let dump = ts.database_dump().await;
    for t in [
        "AT-apideck-1",
        "RT-apideck-1",
        "AT-apideck-2",
        "RT-apideck-2",
    ] {
        assert!(!dump.contains(t), "{t} stored in clear");
    }

    // delete the connection, then the consumer with everything
    let (s, _) = ts
        .call(vault(
            ts,
            Method::DELETE,
            "/vault/connections/accounting/sandbox",
            Some("account:1"),
        ))
        .await;
    assert_eq!(s, 204);
    let (s, b) = ts
        .call(vault(
            ts,
            Method::GET,
            "/vault/connections/accounting/sandbox",
            Some("account:1"),
        ))
        .await;
    assert_apideck_error(s, &b, 404);
    let (s, b) = ts
        .call(vault(
            ts,
            Method::DELETE,
            "/vault/consumers/account:2",
            None,
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["consumer_id"], "account:2");
    let (s, b) = ts
        .call(vault(ts, Method::GET, "/vault/consumers/account:2", None))
        .await;
    assert_apideck_error(s, &b, 404);
}
both_engines!(import_is_an_upsert_visible_through_both_apis);

async fn bad_imports_are_refused_and_change_nothing(ts: &TestServer) {
    let ok_creds = json!({"access_token": "a", "refresh_token": "r"});
    let cases: Vec<(&str, Option<&str>, Value, u16, &str)> = vec![
        (
            "/vault/connections/accounting/sandbox/import",
            Some("c1"),
            json!({"credentials": {"access_token": "a"}}),
            400,
            "refresh_token",
        ),
        (
            "/vault/connections/accounting/sandbox/import",
            Some("c1"),
            json!({"credentials": ok_creds, "settings": {"realm_id": "1"}}),
            400,
            "realmId",
        ),
        (
            "/vault/connections/accounting/sandbox/import",
            Some("c1"),
            json!({"credentials": {"access_token": 1, "refresh_token": "r"}}),
            400,
            "access_token",
        ),
        (
            "/vault/connections/accounting/sandbox/import",
            Some("c1"),
            json!({"credentials": {"access_token": "a", "refresh_token": "r", "issued_at": "yesterday", "expires_in": 10}}),
            400,
            "issued_at",
        ),
        (
            "/vault/connections/accounting/sandbox/import",
            None,
            json!({"credentials": ok_creds}),
            400,
            "x-apideck-consumer-id",
        ),
        (
            "/vault/connections/accounting/nosuch/import",
            Some("c1"),
            json!({"credentials": ok_creds}),
            404,
            "nosuch",
        ),
        (
            "/vault/connections/ecommerce/sandbox/import",
            Some("c1"),
            json!({"credentials": ok_creds}),
            400,
            "accounting",
        ),
        (
            "/vault/connections/accounting/xero/import",
            Some("c1"),
            json!({"credentials": ok_creds, "settings": {"tenant_id": "t"}}),
            400,
            "not enabled",
        ),
    ];
    for (path, consumer, body, code, needle) in cases {
        let (s, b) = ts
            .call(vault(ts, Method::POST, path, consumer).json(&body))
            .await;
        let msg = assert_apideck_error(s, &b, code);
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    let (s, b) = ts
        .call(
            ts.http
                .post(format!(
                    "{}/vault/connections/accounting/sandbox/import",
                    ts.base
                ))
                .json(&json!({})),
        )
        .await;
    assert_apideck_error(s, &b, 401);
    let (_, consumers) = ts
        .call(vault(ts, Method::GET, "/vault/consumers", None))
        .await;
    assert_eq!(
        consumers["data"].as_array().unwrap().len(),
        0,
        "no consumer was created"
    );
    let (_, companies) = ts.get("/companies").await;
    assert_eq!(companies["totalResults"], 0);

    // another client's consumer is invisible
    let (s, _) = ts
        .call(
            vault(
                ts,
                Method::POST,
                "/vault/connections/accounting/sandbox/import",
                Some("mine"),
            )
            .json(&json!({"credentials": ok_creds})),
        )
        .await;
    assert_eq!(s, 200);
    let other = ts.other_client_key().await;
    let (s, b) = ts
        .call(
            ts.http
                .get(format!("{}/vault/connections/accounting/sandbox", ts.base))
                .bearer_auth(&other)
                .header("x-apideck-consumer-id", "mine"),
        )
        .await;
    assert_apideck_error(s, &b, 404);
}
both_engines!(bad_imports_are_refused_and_change_nothing);
