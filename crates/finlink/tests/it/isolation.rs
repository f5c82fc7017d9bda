use reqwest::Method;
use serde_json::json;

use crate::both_engines;
use crate::harness::{TestServer, assert_error};

/// A second client cannot read, list, change or delete the first client's objects:
/// every attempt is a 404 (never a 403), and nothing changes.
async fn tenants_are_isolated(ts: &TestServer) {
    let c = ts.company("Mine").await;
    let cid = c["id"].as_str().unwrap();
    let (_, conn) = ts
        .post(
            &format!("/companies/{cid}/connections"),
            json!({"platformKey": "mqjo"}),
        )
        .await;
    let conn_id = conn["id"].as_str().unwrap();
    let (_, mine) = ts.get("/apiKeys").await;
    let my_key_id = mine["results"][0]["id"].as_str().unwrap();

    let other = ts.other_client_key().await;
    let as_other = |m: Method, p: &str| ts.req_as(&other, m, p);
    let cpath = format!("/companies/{cid}");
    let npath = format!("/companies/{cid}/connections/{conn_id}");
    for (m, p, body) in [
        (Method::GET, cpath.clone(), None),
        (Method::PUT, cpath.clone(), Some(json!({"name": "stolen"}))),
        (
            Method::PATCH,
            cpath.clone(),
            Some(json!({"name": "stolen"})),
        ),
        (Method::DELETE, cpath.clone(), None),
        (Method::GET, format!("{cpath}/connections"), None),
        (
            Method::POST,
            format!("{cpath}/connections"),
            Some(json!({"platformKey": "aiwb"})),
        ),
        (Method::GET, npath.clone(), None),
        (
            Method::PATCH,
            npath.clone(),
            Some(json!({"status": "Unlinked"})),
        ),
        (Method::DELETE, npath.clone(), None),
        (Method::DELETE, format!("/apiKeys/{my_key_id}"), None),
    ] {
        let mut rb = as_other(m.clone(), &p);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let (s, b) = ts.call(rb).await;
        assert_error(s, &b, 404);
    }
    let (_, list) = ts.call(as_other(Method::GET, "/companies")).await;
    assert_eq!(list["totalResults"], 0);
    let (_, list) = ts
        .call(as_other(Method::GET, "/companies?query=name%3DMine"))
        .await;
    assert_eq!(list["totalResults"], 0);
    let (_, keys) = ts.call(as_other(Method::GET, "/apiKeys")).await;
    assert_eq!(keys["results"].as_array().unwrap().len(), 1);

    // the first client's things are untouched
    let (_, again) = ts.get(&cpath).await;
    assert_eq!(again["name"], "Mine");
    assert_eq!(again["dataConnections"].as_array().unwrap().len(), 1);
    let (_, mine_after) = ts.get("/apiKeys").await;
    assert_eq!(mine_after["results"].as_array().unwrap().len(), 1);
}
both_engines!(tenants_are_isolated);
