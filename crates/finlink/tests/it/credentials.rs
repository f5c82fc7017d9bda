//! The credentials endpoint: permission, audit, refresh-before-handing-out through the
//! single-flight path (many concurrent reads of an expired token make one token request).

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_engines;
use crate::harness::TestServer;

/// A company with a sandbox connection migrated from a freshly minted grant; returns
/// (company id, connection id, the grant).
pub(crate) async fn migrated(ts: &TestServer) -> (String, String, Value) {
    let (s, grant) = ts
        .call(
            ts.http
                .post(format!("{}/sandbox/admin/mint", ts.base))
                .json(&json!({"companyName": "Creds Ltd"})),
        )
        .await;
    assert_eq!(s, 200, "{grant}");
    let c = ts.company("Creds Ltd").await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let (s, conn) = ts
        .post(
            &format!("/companies/{cid}/connections"),
            json!({"platformKey": "mqjo"}),
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
            .json(&json!({
                "accessToken": grant["access_token"],
                "refreshToken": grant["refresh_token"],
                "expiresIn": grant["expires_in"].to_string(),
                "tenantId": grant["tenant_id"],
            })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (cid, conn_id, grant)
}

async fn reader_key(ts: &TestServer) -> String {
    let (s, k) = ts
        .post(
            "/apiKeys",
            json!({"name": "reader", "permissions": ["credentials:read"]}),
        )
        .await;
    assert_eq!(s, 201, "{k}");
    k["apiKey"].as_str().unwrap().to_owned()
}

pub(crate) async fn refresh_requests(ts: &TestServer) -> u64 {
    let (s, st) = ts
        .call(ts.http.get(format!("{}/sandbox/admin/stats", ts.base)))
        .await;
    assert_eq!(s, 200, "{st}");
    st["refresh_requests"].as_u64().unwrap()
}

async fn credentials_need_the_permission_and_are_audited(ts: &TestServer) {
    let (cid, conn_id, grant) = migrated(ts).await;
    let path = format!("/companies/{cid}/connections/{conn_id}/credentials");
    // the bootstrap key has no credentials:read
    let (s, b) = ts.get(&path).await;
    assert_eq!(s, 403, "{b}");
    assert!(
        b["error"].as_str().unwrap().contains("credentials:read"),
        "{b}"
    );

    let key = reader_key(ts).await;
    let (s, b) = ts.call(ts.req_as(&key, Method::GET, &path)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["accessToken"], grant["access_token"]);
    assert_eq!(b["refreshed"], false);
    assert!(b.get("refreshToken").is_none(), "{b}");
    assert_eq!(b["settings"]["tenantId"], grant["tenant_id"]);
    assert_eq!(b["platformKey"], "mqjo");

    let (s, b) = ts
        .call(ts.req_as(
            &key,
            Method::GET,
            &format!("{path}?includeRefreshToken=true"),
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["refreshToken"], grant["refresh_token"]);
    let (s, b) = ts
        .call(ts.req_as(
            &key,
            Method::GET,
            &format!("{path}?includeRefreshToken=maybe"),
        ))
        .await;
    assert_eq!(s, 400, "{b}");

    let (_, log) = ts.get("/audit?pageSize=100").await;
    let reads: Vec<&Value> = log["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "credentials.read")
        .collect();
    assert_eq!(reads.len(), 2, "{log}");
    assert!(reads.iter().any(|e| {
        e["detail"]
            .as_str()
            .unwrap()
            .contains("refresh token included")
    }));
    // another client's key cannot read them
    let other = ts.other_client_key().await;
    let (s, _) = ts.call(ts.req_as(&other, Method::GET, &path)).await;
    assert!(s == 403 || s == 404, "{s}");
    assert!(
        !log.to_string()
            .contains(grant["access_token"].as_str().unwrap())
    );
}
both_engines!(credentials_need_the_permission_and_are_audited);

async fn expired_tokens_refresh_once_for_many_readers(ts: &TestServer) {
    let (cid, conn_id, grant) = migrated(ts).await;
    let key = reader_key(ts).await;
    let path = format!("/companies/{cid}/connections/{conn_id}/credentials");
    let before = refresh_requests(ts).await;
    // past the access token's lifetime (the sandbox and finlink share the injected clock)
    ts.clock.advance_millis(31 * 60 * 1000);
    let reads = (0..20).map(|_| {
        let rb = ts.req_as(&key, Method::GET, &path);
        async move { ts.call(rb).await }
    });
    let answers = futures::future::join_all(reads).await;
    let mut tokens = std::collections::BTreeSet::new();
    for (s, b) in &answers {
        assert_eq!(*s, 200, "{b}");
        tokens.insert(b["accessToken"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        tokens.len(),
        1,
        "every reader got the same new token: {tokens:?}"
    );
    assert!(!tokens.contains(grant["access_token"].as_str().unwrap()));
    assert_eq!(
        refresh_requests(ts).await,
        before + 1,
        "one token request for 20 readers"
    );
    assert!(
        answers
            .iter()
            .filter(|(_, b)| b["refreshed"] == true)
            .count()
            >= 1
    );
    let (_, conn) = ts
        .get(&format!("/companies/{cid}/connections/{conn_id}"))
        .await;
    assert_eq!(conn["status"], "Linked");

    // Prometheus sees the refresh and the connection.
    let metrics = ts
        .http
        .get(format!("{}/metrics", ts.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"finlink_refreshes_total{integration="mqjo",outcome="refreshed"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("finlink_refresh_seconds"), "{metrics}");
    assert!(
        metrics.contains(r#"finlink_connections{status="Linked"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"finlink_jobs{state="dead"} 0"#)
            && metrics.contains(r#"finlink_jobs{state="queued"}"#),
        "{metrics}"
    );
    assert!(!metrics.contains(grant["access_token"].as_str().unwrap()));
}
both_engines!(expired_tokens_refresh_once_for_many_readers);
