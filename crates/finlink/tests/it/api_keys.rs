use reqwest::Method;
use serde_json::json;

use crate::both_engines;
use crate::harness::{TestServer, assert_error};

async fn keys_are_shown_once_limited_and_revocable(ts: &TestServer) {
    let (s, list) = ts.get("/apiKeys").await;
    assert_eq!(s, 200);
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    assert!(
        list["results"][0].get("apiKey").is_none(),
        "stored keys are never shown again"
    );

    let (s, k) = ts.post("/apiKeys", json!({"name": "ci"})).await;
    assert_eq!(s, 201, "{k}");
    let new_key = k["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(new_key.len(), 48);
    assert_eq!(k["name"], "ci");
    // the new key works
    let (s, _) = ts
        .call(ts.req_as(&new_key, Method::GET, "/companies"))
        .await;
    assert_eq!(s, 200);
    // no body is fine
    let (s, _) = ts
        .call(
            ts.req(Method::POST, "/apiKeys")
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!(s, 201);
    for _ in 0..7 {
        let (s, _) = ts.post("/apiKeys", json!({})).await;
        assert_eq!(s, 201);
    }
    // that is 10: the 11th is refused
    let (s, b) = ts.post("/apiKeys", json!({"name": "eleventh"})).await;
    let msg = assert_error(s, &b, 409);
    assert!(msg.contains("10"), "{msg}");
    let (s, b) = ts.post("/apiKeys", json!({"permissions": ["root"]})).await;
    assert_error(s, &b, 400);

    // delete: 204, then the key is refused
    let id = k["id"].as_str().unwrap();
    let (s, _) = ts
        .call(ts.req(Method::DELETE, &format!("/apiKeys/{id}")))
        .await;
    assert_eq!(s, 204);
    let (s, b) = ts
        .call(ts.req_as(&new_key, Method::GET, "/companies"))
        .await;
    assert_error(s, &b, 401);
    let (s, b) = ts
        .call(ts.req(Method::DELETE, &format!("/apiKeys/{id}")))
        .await;
    assert_error(s, &b, 404);
    let (_, list) = ts.get("/apiKeys").await;
    assert_eq!(list["results"].as_array().unwrap().len(), 9);
    // no key ever reaches the database in clear (only its 12-character lookup prefix)
    let dump = ts.database_dump().await;
    assert!(!dump.contains(&new_key), "an API key is stored in clear");
    assert!(
        !dump.contains(&ts.key),
        "the first API key is stored in clear"
    );
    assert!(
        dump.contains(&ts.key[..12]),
        "the dump does see the lookup prefix"
    );
}
both_engines!(keys_are_shown_once_limited_and_revocable);

async fn profile_round_trip(ts: &TestServer) {
    let (s, p) = ts.get("/profile").await;
    assert_eq!(s, 200);
    assert_eq!(p["name"], "Default");
    assert_eq!(p["redirectUrl"], "");
    let want = json!({
        "name": "Bob's Burgers",
        "redirectUrl": "https://bobs-burgers.example/{companyId}",
        "logoUrl": "https://bobs-burgers.example/logo.png",
        "iconUrl": "https://bobs-burgers.example/icon.png",
        "whiteListUrls": ["https://bobs-burgers.example"],
        "confirmCompanyName": true
    });
    let (s, got) = ts.call(ts.req(Method::PUT, "/profile").json(&want)).await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got, want);
    let (_, again) = ts.get("/profile").await;
    assert_eq!(again, want);
    let (s, b) = ts
        .call(
            ts.req(Method::PUT, "/profile")
                .json(&json!({"name": "x", "redirectUrl": "javascript:alert(1)"})),
        )
        .await;
    assert_error(s, &b, 400);
    let (s, b) = ts
        .call(
            ts.req(Method::PUT, "/profile")
                .json(&json!({"redirectUrl": "https://x.example"})),
        )
        .await;
    assert_error(s, &b, 400);
    let (_, unchanged) = ts.get("/profile").await;
    assert_eq!(unchanged, want);
}
both_engines!(profile_round_trip);
