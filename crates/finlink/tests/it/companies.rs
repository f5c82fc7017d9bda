use reqwest::Method;
use serde_json::json;

use crate::both_engines;
use crate::harness::{TestServer, assert_error};

async fn create_get_replace_update_delete(ts: &TestServer) {
    let (s, c) = ts
        .post(
            "/companies",
            json!({"name": "Company (Codat[1])", "description": "d", "tags": {"region": "uk"}}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(c["name"], "Company Codat1");
    assert_eq!(c["redirect"], format!("{}/link/company/{id}", ts.base));
    assert_eq!(c["tags"]["region"], "uk");
    assert_eq!(c["dataConnections"], json!([]));
    assert!(c["created"].as_str().unwrap().ends_with('Z'));

    let (s, got) = ts.get(&format!("/companies/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(got, c);

    // PATCH keeps what is not sent
    ts.clock.advance_millis(1000);
    let (s, p) = ts
        .call(
            ts.req(Method::PATCH, &format!("/companies/{id}"))
                .json(&json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["name"], "Renamed");
    assert_eq!(p["description"], "d");
    assert_eq!(p["tags"]["region"], "uk");
    // PATCH with tags {} clears tags, and null too
    let (_, p) = ts
        .call(
            ts.req(Method::PATCH, &format!("/companies/{id}"))
                .json(&json!({"tags": {}})),
        )
        .await;
    assert_eq!(p["tags"], json!({}));
    assert_eq!(p["description"], "d");
    let (_, p) = ts
        .call(
            ts.req(Method::PATCH, &format!("/companies/{id}"))
                .json(&json!({"tags": {"a": "b"}})),
        )
        .await;
    assert_eq!(p["tags"], json!({"a": "b"}));
    let (_, p) = ts
        .call(
            ts.req(Method::PATCH, &format!("/companies/{id}"))
                .json(&json!({"tags": null})),
        )
        .await;
    assert_eq!(p["tags"], json!({}));

    // PUT clears what is not sent
    let (s, r) = ts
        .call(
            ts.req(Method::PUT, &format!("/companies/{id}"))
                .json(&json!({"name": "Replaced"})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["name"], "Replaced");
    assert_eq!(r["description"], serde_json::Value::Null);

    let (s, b) = ts
        .call(ts.req(Method::DELETE, &format!("/companies/{id}")))
        .await;
    assert_eq!(s, 204, "{b}");
    let (s, b) = ts.get(&format!("/companies/{id}")).await;
    let msg = assert_error(s, &b, 404);
    assert!(msg.contains(&id), "{msg}");
    let (s, b) = ts
        .call(ts.req(Method::DELETE, &format!("/companies/{id}")))
        .await;
    assert_error(s, &b, 404);
}
both_engines!(create_get_replace_update_delete);

async fn names_and_tags_are_validated_and_nothing_is_stored(ts: &TestServer) {
    for bad in [
        json!({"name": "()[]"}),
        json!({"name": ""}),
        json!({"description": "no name"}),
        json!({"name": 5}),
        json!({"name": "ok", "tags": {"k": 1}}),
        json!({"name": "ok", "tags": {"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1","g":"1","h":"1","i":"1","j":"1","k":"1"}}),
        json!({"name": "ok", "tags": {"this-key-is-far-too-long-for-codat": "v"}}),
    ] {
        let (s, b) = ts.post("/companies", bad.clone()).await;
        assert_error(s, &b, 400);
    }
    let (_, list) = ts.get("/companies").await;
    assert_eq!(list["totalResults"], 0, "{list}");
}
both_engines!(names_and_tags_are_validated_and_nothing_is_stored);

async fn listing_paging_queries_and_links(ts: &TestServer) {
    for i in 0..7 {
        ts.clock.advance_millis(1000);
        let region = if i % 2 == 0 { "uk" } else { "us" };
        let (s, _) = ts
            .post(
                "/companies",
                json!({"name": format!("Acme {i}"), "tags": {"region": region}}),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, p) = ts.get("/companies?page=2&pageSize=3").await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["pageNumber"], 2);
    assert_eq!(p["pageSize"], 3);
    assert_eq!(p["totalResults"], 7);
    assert_eq!(p["results"].as_array().unwrap().len(), 3);
    assert_eq!(p["results"][0]["name"], "Acme 3");
    assert_eq!(p["_links"]["self"]["href"], "/companies");
    assert_eq!(
        p["_links"]["current"]["href"],
        "/companies?page=2&pageSize=3"
    );
    assert_eq!(p["_links"]["next"]["href"], "/companies?page=3&pageSize=3");
    assert_eq!(
        p["_links"]["previous"]["href"],
        "/companies?page=1&pageSize=3"
    );
    let (_, last) = ts.get("/companies?page=3&pageSize=3").await;
    assert!(last["_links"].get("next").is_none());

    let (_, q) = ts.get("/companies?query=name%3DAcme%202").await;
    assert_eq!(q["totalResults"], 1);
    let (_, q) = ts
        .get("/companies?query=name~acme&orderBy=-created&pageSize=2")
        .await;
    assert_eq!(q["totalResults"], 7);
    assert_eq!(q["results"][0]["name"], "Acme 6");
    assert_eq!(
        q["_links"]["current"]["href"],
        "/companies?page=1&pageSize=2&query=name%7Eacme&orderBy=-created"
    );
    let (_, t) = ts.get("/companies?tags=region%3Duk").await;
    assert_eq!(t["totalResults"], 4);
    let (_, t) = ts
        .get("/companies?query=tags.region%3Dus%20%7C%7C%20name%3DAcme%200")
        .await;
    assert_eq!(t["totalResults"], 4);

    let (s, b) = ts.get("/companies?query=name%3E%3D").await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.starts_with("Error parsing query - "), "{msg}");
    let (s, b) = ts.get("/companies?query=password%3Dx").await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.contains("Could not resolve property password"), "{msg}");
    let (s, b) = ts.get("/companies?orderBy=secret").await;
    assert_error(s, &b, 400);
    let (s, b) = ts.get("/companies?pageSize=5001").await;
    assert_error(s, &b, 400);
    let (s, b) = ts.get("/companies?page=abc").await;
    assert_error(s, &b, 400);
    let long = "name%3Da%26%26".repeat(300);
    let (s, b) = ts.get(&format!("/companies?query={long}")).await;
    assert_error(s, &b, 400);
}
both_engines!(listing_paging_queries_and_links);
