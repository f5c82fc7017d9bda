use reqwest::Method;
use serde_json::{Value, json};

use crate::both_engines;
use crate::harness::{TestServer, assert_error};

async fn linked_sandbox_connection(ts: &TestServer) -> (String, String) {
    let c = ts.company("Migrated Co").await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let (_, conn) = ts
        .post(
            &format!("/companies/{cid}/connections"),
            json!({"platformKey": "mqjo"}),
        )
        .await;
    (cid, conn["id"].as_str().unwrap().to_owned())
}

async fn migrating_tokens_links_the_connection_and_keeps_them_sealed(ts: &TestServer) {
    let (cid, conn) = linked_sandbox_connection(ts).await;
    let path = format!("/companies/{cid}/connections/{conn}/authorization");
    let access = "AT-migrated-7f3a9c1e5b2d4f60a8e1";
    let refresh = "RT-migrated-0c4e8a2b6d1f3e5a7c9b";
    let (s, b) = ts
        .call(ts.req(Method::PUT, &path).json(&json!({
            "accessToken": access, "refreshToken": refresh, "tenantId": "tenant-42", "expiresIn": "1800"
        })))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "Linked");
    assert_eq!(b["id"], conn);
    assert_eq!(b["connectionInfo"]["tenantId"], "tenant-42");
    let text = b.to_string();
    assert!(
        !text.contains(access) && !text.contains(refresh),
        "no token in the response"
    );

    // a re-migration keeps the id and replaces the credentials
    let (s, b) = ts
        .call(
            ts.req(Method::PUT, &path)
                .json(&json!({"accessToken": "AT-second-1", "refreshToken": "RT-second-1"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["id"], conn);
    assert_eq!(
        b["connectionInfo"]["tenantId"], "tenant-42",
        "settings are kept unless replaced"
    );

    // audited, without secrets
    let (s, log) = ts.get("/audit").await;
    assert_eq!(s, 200, "{log}");
    assert_eq!(log["totalResults"], 2);
    assert_eq!(log["results"][0]["action"], "connection.migrate");
    assert!(
        log["results"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("apiKey:")
    );
    assert!(
        log["results"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("Sandbox")
    );
    assert!(!log.to_string().contains("RT-"));

    // no token value in the database
    let dump = ts.database_dump().await;
    for secret in [access, refresh, "AT-second-1", "RT-second-1"] {
        assert!(!dump.contains(secret), "{secret} found in the database");
    }
    assert!(dump.contains("tenant-42"), "the dump does see stored data");
}
both_engines!(migrating_tokens_links_the_connection_and_keeps_them_sealed);

async fn bad_migrations_change_nothing(ts: &TestServer) {
    let (cid, conn) = linked_sandbox_connection(ts).await;
    let path = format!("/companies/{cid}/connections/{conn}/authorization");
    let before = ts
        .get(&format!("/companies/{cid}/connections/{conn}"))
        .await
        .1;
    let ok = json!({"accessToken": "a", "refreshToken": "r"});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"accessToken": "a", "refreshToken": "r", "realmId": "1"}),
            "realmId",
        ),
        (json!({"accessToken": "a"}), "refreshToken"),
        (
            json!({"accessToken": 5, "refreshToken": "r"}),
            "accessToken",
        ),
        (
            json!({"accessToken": "a", "refreshToken": "r", "expiresIn": "soon"}),
            "expiresIn",
        ),
        (
            json!({"accessToken": "a", "refreshToken": "r", "expiresAt": "tomorrow"}),
            "expiresAt",
        ),
        (
            json!({"accessToken": "a", "refreshToken": "r", "expiresAt": "2030-01-01T00:00:00Z", "expiresIn": "60"}),
            "expiresIn",
        ),
        (json!(["accessToken"]), "body"),
    ];
    for (body, field) in cases {
        let (s, b) = ts.call(ts.req(Method::PUT, &path).json(&body)).await;
        let msg = assert_error(s, &b, 400);
        assert!(msg.contains(field), "{field}: {msg}");
    }
    let (s, b) = ts
        .call(
            ts.req(Method::PUT, &path)
                .header("content-type", "application/json"),
        )
        .await;
    assert_error(s, &b, 400);
    // unknown connection, unknown company, another client's connection
    let ghost = "0190b6b2-0000-7000-8000-000000000000";
    let (s, b) = ts
        .call(
            ts.req(
                Method::PUT,
                &format!("/companies/{cid}/connections/{ghost}/authorization"),
            )
            .json(&ok),
        )
        .await;
    assert_error(s, &b, 404);
    let (s, b) = ts
        .call(
            ts.req(
                Method::PUT,
                &format!("/companies/{ghost}/connections/{conn}/authorization"),
            )
            .json(&ok),
        )
        .await;
    assert_error(s, &b, 404);
    let other = ts.other_client_key().await;
    let (s, b) = ts
        .call(ts.req_as(&other, Method::PUT, &path).json(&ok))
        .await;
    assert_error(s, &b, 404);

    let after = ts
        .get(&format!("/companies/{cid}/connections/{conn}"))
        .await
        .1;
    assert_eq!(before, after, "nothing changed");
    assert_eq!(after["status"], "PendingAuth");
    let (_, log) = ts.get("/audit").await;
    assert_eq!(log["totalResults"], 0);
}
both_engines!(bad_migrations_change_nothing);

/// The sandbox's lifetimes come from the configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_lifetimes_are_configurable() {
    let ts = TestServer::start_with(crate::harness::Engine::Sqlite, |cfg| {
        cfg.sandbox.access_token_ttl_secs = Some(60);
    })
    .await;
    let (s, g) = ts
        .call(
            ts.http
                .post(format!("{}/sandbox/admin/mint", ts.base))
                .json(&json!({"companyName": "Short"})),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["expires_in"], 60);
    assert_eq!(g["company_name"], "Short");
    ts.stop().await;
}
