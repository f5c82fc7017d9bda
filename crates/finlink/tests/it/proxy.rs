//! The proxy against the sandbox's data API: the credential is injected, a 401 from the
//! platform makes one refresh (single-flight path) and one replay, and downstream URLs off the
//! integration's hosts are refused.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_engines;
use crate::harness::TestServer;

async fn mint(ts: &TestServer) -> Value {
    let (s, grant) = ts
        .call(
            ts.http
                .post(format!("{}/sandbox/admin/mint", ts.base))
                .json(&json!({"companyName": "Proxy Ltd"})),
        )
        .await;
    assert_eq!(s, 200, "{grant}");
    grant
}

async fn refresh_requests(ts: &TestServer) -> u64 {
    let (_, st) = ts
        .call(ts.http.get(format!("{}/sandbox/admin/stats", ts.base)))
        .await;
    st["refresh_requests"].as_u64().unwrap()
}

async fn proxy_refreshes_once_on_401_and_replays(ts: &TestServer) {
    let grant = mint(ts).await;
    let c = ts.company("Proxy Ltd").await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let (_, conn) = ts
        .post(
            &format!("/companies/{cid}/connections"),
            json!({"platformKey": "mqjo"}),
        )
        .await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    // An access token the platform does not know (revoked, say) that finlink believes is valid.
    let (s, b) = ts
        .call(
            ts.req(
                Method::PUT,
                &format!("/companies/{cid}/connections/{conn_id}/authorization"),
            )
            .json(&json!({
                "accessToken": "not-a-token-the-sandbox-issued",
                "refreshToken": grant["refresh_token"],
                "expiresIn": "1800",
            })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let before = refresh_requests(ts).await;
    let path = format!("/companies/{cid}/connections/{conn_id}/proxy/ping?probe=1");
    let res = ts
        .req(Method::GET, &path)
        .header("cookie", "session=should-not-be-forwarded")
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["tenantId"], grant["tenant_id"]);
    assert_eq!(
        refresh_requests(ts).await,
        before + 1,
        "one refresh, then one replay"
    );
    // The refreshed token is stored: the next call needs no refresh.
    let (s, _) = ts.call(ts.req(Method::GET, &path)).await;
    assert_eq!(s, 200);
    assert_eq!(refresh_requests(ts).await, before + 1);

    // Only Linked connections, and only known ids.
    let (s, b) = ts
        .call(ts.req(
            Method::GET,
            &format!(
                "/companies/{cid}/connections/{}/proxy/ping",
                uuid::Uuid::nil()
            ),
        ))
        .await;
    assert!(s == 404 || s == 400, "{s} {b}");
}
both_engines!(proxy_refreshes_once_on_401_and_replays);

async fn apideck_proxy_stays_on_the_integration_hosts(ts: &TestServer) {
    let grant = mint(ts).await;
    let (s, b) = ts
        .call(
            ts.req(Method::POST, "/vault/connections/accounting/sandbox/import")
                .header("x-apideck-app-id", "app-1")
                .header("x-apideck-consumer-id", "proxy-consumer")
                .json(&json!({"credentials": {
                    "access_token": grant["access_token"],
                    "refresh_token": grant["refresh_token"],
                    "expires_in": 1800,
                }})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let call = |downstream: String| {
        ts.req(Method::GET, "/proxy")
            .header("x-apideck-app-id", "app-1")
            .header("x-apideck-consumer-id", "proxy-consumer")
            .header("x-apideck-service-id", "sandbox")
            .header("x-apideck-downstream-url", downstream)
    };
    let (s, b) = ts.call(call(format!("{}/sandbox/api/ping", ts.base))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["ok"], true);
    for bad in [
        "https://evil.example/steal".to_owned(),
        format!(
            "{}/sandbox/api/ping",
            ts.base.replace("127.0.0.1", "localhost")
        ),
        "https://user:pw@127.0.0.1/sandbox/api/ping".to_owned(),
    ] {
        let (s, b) = ts.call(call(bad.clone())).await;
        assert_eq!(s, 403, "{bad}: {b}");
        assert_eq!(b["status_code"], 403, "Apideck's error shape: {b}");
    }
    let (s, b) = ts
        .call(
            ts.req(Method::GET, "/proxy")
                .header("x-apideck-consumer-id", "proxy-consumer")
                .header("x-apideck-service-id", "sandbox"),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b.to_string().contains("x-apideck-downstream-url"), "{b}");
}
both_engines!(apideck_proxy_stays_on_the_integration_hosts);
