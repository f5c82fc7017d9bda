//! Master keys: rotation without downtime, refusal of unknown keys, ciphertexts bound to rows.

use std::sync::Arc;

use finlink::Config;
use finlink_domain::ids::{CompanyId, ConnectionId};
use finlink_domain::{ManualClock, Timestamp};
use finlink_vault::Keyring;
use serde_json::json;

use crate::harness::basic;

fn key() -> String {
    let (_, spec) = Keyring::generate();
    spec.expose().clone()
}

fn id_of(spec: &str) -> String {
    spec.split(':').next().unwrap().to_owned()
}

async fn start(dir: &std::path::Path, keys: &str) -> anyhow::Result<finlink::Server> {
    let cfg = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_owned(),
        master_keys: Some(keys.to_owned().into()),
        ..Config::default()
    };
    finlink::spawn(
        &cfg,
        Arc::new(ManualClock::new(Timestamp::from_millis(1_795_000_000_000))),
    )
    .await
}

/// Seal under A; put B first; rotate; remove A; restart: every secret opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_reseals_everything_and_old_keys_can_go() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (key(), key());
    let http = reqwest::Client::new();

    let server = start(dir.path(), &a).await.unwrap();
    let api_key = finlink::bootstrap(&server.app).await.unwrap().unwrap();
    let base = server.base_url();
    let mut ids = vec![];
    for i in 0..5 {
        let c: serde_json::Value = http
            .post(format!("{base}/companies"))
            .header("authorization", basic(&api_key))
            .json(&json!({"name": format!("Rotated {i}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cid = c["id"].as_str().unwrap().to_owned();
        let conn: serde_json::Value = http
            .post(format!("{base}/companies/{cid}/connections"))
            .header("authorization", basic(&api_key))
            .json(&json!({"platformKey": "mqjo"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let conn_id = conn["id"].as_str().unwrap().to_owned();
        let res = http
            .put(format!(
                "{base}/companies/{cid}/connections/{conn_id}/authorization"
            ))
            .header("authorization", basic(&api_key))
            .json(&json!({"accessToken": format!("at-{i}"), "refreshToken": format!("rt-{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        ids.push((cid, conn_id));
    }
    let client = server.app.first_client().await.unwrap().unwrap().id;
    // A webhook consumer whose secret was rotated: a current and a previous secret, both sealed.
    let consumer = server
        .app
        .create_webhook(
            client,
            finlink_app::webhooks::ConsumerInput {
                url: Some("https://93.184.216.34/hook".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let hook_secret = server
        .app
        .rotate_webhook_secret(client, consumer.id)
        .await
        .unwrap()
        .expose()
        .clone();
    let counts = server.app.store.credential_key_counts().await.unwrap();
    assert_eq!(counts, vec![(id_of(&a), 7)]);
    server.shutdown().await.unwrap();

    // B alone cannot start: 7 secrets are under A
    let e = start(dir.path(), &b).await.err().unwrap().to_string();
    assert!(e.contains(&id_of(&a)) && e.contains('7'), "{e}");

    // B first, A kept: start, rotate
    let server = start(dir.path(), &format!("{b},{a}")).await.unwrap();
    let n = server.app.reseal_all(2).await.unwrap();
    assert_eq!(n, 6);
    assert_eq!(
        server.app.store.credential_key_counts().await.unwrap(),
        vec![(id_of(&b), 7)]
    );
    server.shutdown().await.unwrap();

    // A removed: starts, and every secret opens with the right value
    let server = start(dir.path(), &b).await.unwrap();
    assert_eq!(
        server
            .app
            .webhook_secret(client, consumer.id)
            .await
            .unwrap()
            .expose(),
        &hook_secret
    );
    for (i, (_, conn)) in ids.iter().enumerate() {
        let sealed = server
            .app
            .store
            .get_credentials(client, ConnectionId::parse(conn).unwrap())
            .await
            .unwrap()
            .unwrap();
        let fields = finlink_app::credentials::open(&server.app.vault, &sealed).unwrap();
        assert_eq!(
            fields.get("accessToken").unwrap().expose(),
            &format!("at-{i}")
        );
        assert_eq!(
            fields.get("refreshToken").unwrap().expose(),
            &format!("rt-{i}")
        );
    }

    // a ciphertext moved to another row does not open
    let one = server
        .app
        .store
        .get_credentials(client, ConnectionId::parse(&ids[0].1).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut moved = server
        .app
        .store
        .get_credentials(client, ConnectionId::parse(&ids[1].1).unwrap())
        .await
        .unwrap()
        .unwrap();
    moved.sealed = one.sealed.clone();
    assert!(finlink_app::credentials::open(&server.app.vault, &moved).is_err());
    let _ = CompanyId::parse(&ids[0].0).unwrap();
    server.shutdown().await.unwrap();
}

/// SQLite with no key configured generates one (mode 0600) and keeps using it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_generates_a_development_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let first = finlink::load_keyring(&cfg).unwrap();
    let path = dir.path().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let second = finlink::load_keyring(&cfg).unwrap();
    assert_eq!(first.active_id(), second.active_id());
}

/// PostgreSQL without a master key refuses to start and says how to make one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_a_key_refuses_to_start() {
    let cfg = Config {
        database_url: Some("postgres://postgres@127.0.0.1:5432/test".into()),
        ..Config::default()
    };
    let e = finlink::load_keyring(&cfg).err().unwrap().to_string();
    assert!(
        e.contains("finlink encryption new-key") && e.contains("FINLINK_MASTER_KEYS"),
        "{e}"
    );
}
