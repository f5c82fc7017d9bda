//! Refresh through the one refresh path against an OAuth token endpoint that is not
//! finlink's: the merge keeps a refresh token the provider did not replace, concurrent
//! refreshes of one connection make one token request, failures are classified.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::routing::post;
use finlink::Config;
use finlink_app::migration::Actor;
use finlink_app::refresh::RefreshOutcome;
use finlink_domain::{ManualClock, Timestamp};
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[derive(Default)]
struct Provider {
    requests: AtomicUsize,
    /// Form bodies received, in order.
    seen: Mutex<Vec<BTreeMap<String, String>>>,
    /// What to answer next: (status, body). Empty: a token without a refresh token.
    script: Mutex<Vec<(u16, Value)>>,
    /// Held while the test wants requests to wait (to overlap concurrent callers).
    gate: Mutex<()>,
}

async fn token(
    State(p): State<Arc<Provider>>,
    body: axum::extract::Form<BTreeMap<String, String>>,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let _wait = p.gate.lock().await;
    let n = p.requests.fetch_add(1, Ordering::SeqCst) + 1;
    p.seen.lock().await.push(body.0);
    let next = p.script.lock().await.pop();
    let (status, body) = next.unwrap_or((
        200,
        json!({"access_token": format!("access-{n}"), "expires_in": "600", "token_type": "bearer"}),
    ));
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        axum::Json(body),
    )
}

async fn provider() -> (Arc<Provider>, String) {
    let p = Arc::new(Provider::default());
    let app = axum::Router::new()
        .route("/sandbox/oauth/token", post(token))
        .with_state(Arc::clone(&p));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (p, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_single_flight_and_classification() {
    let (prov, url) = provider().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let keyring = finlink::load_keyring(&cfg).unwrap();
    let store = finlink::open_store(&cfg).await.unwrap();
    let clock = ManualClock::new(Timestamp::from_millis(1_795_000_000_000));
    let app = finlink::build_app(
        &cfg,
        store,
        Arc::new(clock.clone()),
        url.clone(),
        url,
        keyring,
    )
    .unwrap();

    let client = app.create_client("Refresh").await.unwrap();
    let company = app
        .create_company(
            client.id,
            finlink_app::companies::CompanyInput {
                name: "R".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let conn = app
        .create_connection(client.id, company.id, "mqjo")
        .await
        .unwrap();
    let body: BTreeMap<String, Value> = [
        ("accessToken", "old-access"),
        ("refreshToken", "the-only-refresh-token"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect();
    app.migrate_connection(&Actor::Cli, client.id, company.id, conn.id, &body)
        .await
        .unwrap();

    // 1. the provider answers without a refresh token: the stored one is kept
    let out = app
        .refresh_now(&Actor::Cli, client.id, company.id, conn.id)
        .await
        .unwrap();
    assert!(
        matches!(out, RefreshOutcome::Refreshed { rotated: false, .. }),
        "{out:?}"
    );
    let out = app
        .refresh_now(&Actor::Cli, client.id, company.id, conn.id)
        .await
        .unwrap();
    assert!(matches!(out, RefreshOutcome::Refreshed { .. }), "{out:?}");
    {
        let seen = prov.seen.lock().await;
        assert_eq!(seen.len(), 2);
        for form in seen.iter() {
            assert_eq!(form["grant_type"], "refresh_token");
            assert_eq!(
                form["refresh_token"], "the-only-refresh-token",
                "the old refresh token was kept"
            );
        }
    }
    let sealed = app
        .store
        .get_credentials(client.id, conn.id)
        .await
        .unwrap()
        .unwrap();
    let fields = finlink_app::credentials::open(&app.vault, &sealed).unwrap();
    assert_eq!(fields.get("accessToken").unwrap().expose(), "access-2");
    assert_eq!(
        sealed.expires_at,
        Some(clock.now_ts().plus_seconds(600)),
        "expires_in given as a string"
    );

    // 2. a rotating answer replaces it
    prov.script.lock().await.push((
        200,
        json!({"access_token": "a3", "refresh_token": "rotated-1", "expires_in": 1800}),
    ));
    let out = app
        .refresh_now(&Actor::Cli, client.id, company.id, conn.id)
        .await
        .unwrap();
    assert!(
        matches!(out, RefreshOutcome::Refreshed { rotated: true, .. }),
        "{out:?}"
    );

    // 3. ten concurrent refreshes of the credentials they all judged stale: one token request
    // (each caller names the version it saw, as the credentials endpoint, the proxy and the jobs
    // do; a caller that starts after the refresh finished then uses its result)
    let before = prov.requests.load(Ordering::SeqCst);
    let seen = app
        .store
        .get_credentials(client.id, conn.id)
        .await
        .unwrap()
        .unwrap()
        .version;
    let gate = prov.gate.lock().await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.refresh_seen(&Actor::Cli, client.id, company.id, conn.id, Some(seen))
                .await
        }));
    }
    tokio::task::yield_now().await;
    drop(gate);
    for t in tasks {
        assert!(matches!(
            t.await.unwrap().unwrap(),
            RefreshOutcome::Refreshed { .. }
        ));
    }
    assert_eq!(
        prov.requests.load(Ordering::SeqCst) - before,
        1,
        "single flight"
    );
    assert_eq!(
        prov.seen.lock().await.last().unwrap()["refresh_token"],
        "rotated-1"
    );

    // 4. failures are classified and change nothing stored
    let version = app
        .store
        .get_credentials(client.id, conn.id)
        .await
        .unwrap()
        .unwrap()
        .version;
    prov.script
        .lock()
        .await
        .push((500, json!({"error": "server_error"})));
    assert!(matches!(
        app.refresh_now(&Actor::Cli, client.id, company.id, conn.id)
            .await
            .unwrap(),
        RefreshOutcome::Transient { .. }
    ));
    prov.script.lock().await.push((429, json!({})));
    assert!(matches!(
        app.refresh_now(&Actor::Cli, client.id, company.id, conn.id)
            .await
            .unwrap(),
        RefreshOutcome::Transient { .. }
    ));
    prov.script.lock().await.push((
        400,
        json!({"error": "invalid_grant", "error_description": "revoked"}),
    ));
    let out = app
        .refresh_now(&Actor::Cli, client.id, company.id, conn.id)
        .await
        .unwrap();
    assert!(
        matches!(&out, RefreshOutcome::Rejected { reason } if reason.contains("invalid_grant")),
        "{out:?}"
    );
    assert_eq!(
        app.store
            .get_credentials(client.id, conn.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        version
    );
    let audit = app
        .store
        .list_audit(client.id, finlink_domain::paging::PageRequest::default())
        .await
        .unwrap();
    assert!(
        audit
            .items
            .iter()
            .any(|a| a.action == "connection.refresh" && a.outcome == "failure")
    );
    assert!(
        audit
            .items
            .iter()
            .all(|a| !a.detail.clone().unwrap_or_default().contains("rotated-1"))
    );
}

trait NowTs {
    fn now_ts(&self) -> Timestamp;
}

impl NowTs for ManualClock {
    fn now_ts(&self) -> Timestamp {
        finlink_domain::Clock::now(self)
    }
}
