use crate::both_engines;
use crate::harness::{TestServer, assert_error};

async fn catalog_listing_and_logos(ts: &TestServer) {
    let (s, p) = ts.get("/integrations?pageSize=100").await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["totalResults"], 34);
    let all = p["results"].as_array().unwrap();
    let sandbox = all.iter().find(|i| i["key"] == "mqjo").unwrap();
    assert_eq!(sandbox["enabled"], true);
    let xero = all.iter().find(|i| i["key"] == "gbol").unwrap();
    assert_eq!(xero["enabled"], false);
    assert_eq!(xero["name"], "Xero");
    for i in all {
        for f in ["key", "logoUrl", "name"] {
            assert!(i[f].is_string(), "{f} in {i}");
        }
        assert!(i["enabled"].is_boolean());
    }

    let (_, banks) = ts
        .get("/integrations?query=sourceType%3DBanking&orderBy=name")
        .await;
    let names: Vec<&str> = banks["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Plaid", "TrueLayer"]);
    let (_, enabled) = ts.get("/integrations?query=enabled%3Dtrue").await;
    assert_eq!(enabled["totalResults"], 2);
    let (s, b) = ts.get("/integrations?query=secret%3D1").await;
    assert_error(s, &b, 400);

    let (s, x) = ts.get("/integrations/gbol").await;
    assert_eq!(s, 200);
    assert_eq!(x["sourceType"], "Accounting");
    let logo = ts
        .http
        .get(x["logoUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    assert!(logo.text().await.unwrap().contains("<svg"));

    let (s, b) = ts.get("/integrations/gbol/branding").await;
    assert_eq!(s, 200);
    assert!(
        b["logo"]["full"]["image"]["src"]
            .as_str()
            .unwrap()
            .starts_with(&ts.base)
    );
    let (s, b) = ts.get("/integrations/zzzz").await;
    assert_error(s, &b, 404);
    let (s, b) = ts.get("/integrations/zzzz/branding").await;
    assert_error(s, &b, 404);
}
both_engines!(catalog_listing_and_logos);

async fn configured_integrations_are_enabled(ts: &TestServer) {
    let (_, x) = ts.get("/integrations/gbol").await;
    assert_eq!(x["enabled"], true);
    let (_, s) = ts.get("/integrations/mqjo").await;
    assert_eq!(s["enabled"], false, "the sandbox can be switched off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_decides_what_is_enabled() {
    let ts = TestServer::start_with(crate::harness::Engine::Sqlite, |cfg| {
        cfg.sandbox.enabled = false;
        cfg.integrations.insert(
            "gbol".into(),
            finlink::config::IntegrationConfig {
                client_id: Some("id".into()),
                client_secret: Some("secret".to_string().into()),
                ..Default::default()
            },
        );
    })
    .await;
    configured_integrations_are_enabled(&ts).await;
    ts.stop().await;
}
