use reqwest::Method;
use serde_json::json;

use crate::both_engines;
use crate::harness::{TestServer, assert_error};

async fn connection_lifecycle_and_rules(ts: &TestServer) {
    let c = ts.company("Linked Co").await;
    let cid = c["id"].as_str().unwrap();
    let path = format!("/companies/{cid}/connections");

    let (s, conn) = ts.post(&path, json!({"platformKey": "mqjo"})).await;
    assert_eq!(s, 200, "{conn}");
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    assert_eq!(conn["status"], "PendingAuth");
    assert_eq!(conn["sourceType"], "Accounting");
    assert_eq!(conn["platformName"], "Sandbox");
    assert_eq!(conn["integrationKey"], "mqjo");
    assert_eq!(
        conn["linkUrl"],
        format!(
            "{}/link/companies/{cid}/connections/{conn_id}/start",
            ts.base
        )
    );
    for f in [
        "id",
        "integrationId",
        "sourceId",
        "sourceType",
        "platformName",
        "linkUrl",
        "status",
        "created",
    ] {
        assert!(conn[f].is_string(), "{f} in {conn}");
    }

    // a second accounting connection names the first
    let (s, b) = ts.post(&path, json!({"platformKey": "mqjo"})).await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.contains(&conn_id), "{msg}");
    // commerce is unlimited
    for _ in 0..2 {
        ts.clock.advance_millis(10);
        let (s, b) = ts.post(&path, json!({"platformKey": "aiwb"})).await;
        assert_eq!(s, 200, "{b}");
    }
    // unknown, malformed and not-enabled platforms
    let (s, b) = ts.post(&path, json!({"platformKey": "zzzz"})).await;
    let msg = assert_error(s, &b, 404);
    assert!(msg.contains("zzzz"), "{msg}");
    let (s, b) = ts.post(&path, json!({"platformKey": "gbol"})).await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.contains("not enabled"), "{msg}");
    // empty body with a JSON content type is "no body"
    let (s, b) = ts
        .call(
            ts.req(Method::POST, &path)
                .header("content-type", "application/json"),
        )
        .await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.contains("platformKey is required"), "{msg}");

    let (_, list) = ts.get(&path).await;
    assert_eq!(list["totalResults"], 3);
    assert_eq!(list["_links"]["self"]["href"], path);
    let (_, list) = ts.get(&format!("{path}?query=sourceType%3DCommerce")).await;
    assert_eq!(list["totalResults"], 2);
    let (_, company) = ts.get(&format!("/companies/{cid}")).await;
    assert_eq!(company["dataConnections"].as_array().unwrap().len(), 3);
    assert_eq!(company["dataConnections"][0]["id"], conn_id);
    let (_, linked) = ts
        .get("/companies?query=dataConnections.status%3DPendingAuth")
        .await;
    assert_eq!(linked["totalResults"], 1);

    // only Linked connections can be unlinked
    let (s, b) = ts
        .call(
            ts.req(Method::PATCH, &format!("{path}/{conn_id}"))
                .json(&json!({"status": "Unlinked"})),
        )
        .await;
    let msg = assert_error(s, &b, 400);
    assert!(msg.contains("PendingAuth"), "{msg}");
    let (s, b) = ts
        .call(
            ts.req(Method::PATCH, &format!("{path}/{conn_id}"))
                .json(&json!({"status": "Linked"})),
        )
        .await;
    assert_error(s, &b, 400);
    let (s, b) = ts
        .call(
            ts.req(Method::PATCH, &format!("{path}/{conn_id}"))
                .json(&json!({"status": "Unlinked", "x": 1})),
        )
        .await;
    assert_error(s, &b, 400);
    // a Linked one can (linking itself arrives with Link and migration; set it directly here)
    let company_id = finlink_domain::ids::CompanyId::parse(cid).unwrap();
    let conn_uuid = finlink_domain::ids::ConnectionId::parse(&conn_id).unwrap();
    let client = ts.app().first_client().await.unwrap().unwrap().id;
    ts.app()
        .store
        .set_connection_status(
            client,
            company_id,
            conn_uuid,
            finlink_domain::connection::ConnectionStatus::Linked,
            ts.clock.now(),
            &finlink_store::Effects::none(),
        )
        .await
        .unwrap();
    let (s, b) = ts
        .call(
            ts.req(Method::PATCH, &format!("{path}/{conn_id}"))
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "Unlinked");

    let (s, _) = ts
        .call(ts.req(Method::DELETE, &format!("{path}/{conn_id}")))
        .await;
    assert_eq!(s, 200);
    let (s, b) = ts.get(&format!("{path}/{conn_id}")).await;
    assert_error(s, &b, 404);
    // with the accounting connection gone, a new one is allowed
    let (s, b) = ts.post(&path, json!({"platformKey": "mqjo"})).await;
    assert_eq!(s, 200, "{b}");

    // deleting the company deletes its connections
    let other = b["id"].as_str().unwrap().to_owned();
    let (s, _) = ts
        .call(ts.req(Method::DELETE, &format!("/companies/{cid}")))
        .await;
    assert_eq!(s, 204);
    let (s, b) = ts.get(&format!("{path}/{other}")).await;
    assert_error(s, &b, 404);
    let (s, b) = ts.get(&path).await;
    assert_error(s, &b, 404);
}
both_engines!(connection_lifecycle_and_rules);

use finlink_domain::Clock as _;
