//! Keeping tokens alive: proactive refresh jobs, the failure lifecycle (transient, rejected,
//! retention), events written with the changes they report, and finlink's own failures never
//! marking a connection `Deauthorized`. The sandbox injects the platform's failures; the clock
//! is moved by hand and due jobs are run with `run_jobs`, so nothing sleeps.

use finlink_domain::connection::{ConnectionStatus, Health};
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_engines;
use crate::credentials::{migrated, refresh_requests};
use crate::harness::TestServer;

const MINUTE: i64 = 60_000;

async fn events(ts: &TestServer, query: &str) -> Vec<Value> {
    let (s, b) = ts.get(&format!("/events?pageSize=500&{query}")).await;
    assert_eq!(s, 200, "{b}");
    b["results"].as_array().unwrap().clone()
}

fn count(events: &[Value], t: &str) -> usize {
    events.iter().filter(|e| e["eventType"] == t).count()
}

async fn inject(ts: &TestServer, kind: &str, count: u32) {
    let res = ts
        .http
        .post(format!("{}/sandbox/admin/failures", ts.base))
        .json(&json!({"kind": kind, "count": count}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

async fn clear_failures(ts: &TestServer) {
    let res = ts
        .http
        .delete(format!("{}/sandbox/admin/failures", ts.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

struct Ids {
    client: ClientId,
    company: CompanyId,
    connection: ConnectionId,
}

async fn ids(ts: &TestServer, cid: &str, conn_id: &str) -> Ids {
    let company = CompanyId::parse(cid).unwrap();
    let client = ts
        .app()
        .store
        .company_owner(company)
        .await
        .unwrap()
        .unwrap();
    Ids {
        client,
        company,
        connection: ConnectionId::parse(conn_id).unwrap(),
    }
}

async fn connection(ts: &TestServer, ids: &Ids) -> finlink_domain::connection::Connection {
    ts.app()
        .store
        .get_connection(ids.client, ids.company, ids.connection)
        .await
        .unwrap()
        .unwrap()
}

async fn proactive_refresh_and_failure_lifecycle(ts: &TestServer) {
    let (cid, conn_id, grant) = migrated(ts).await;
    let ids = ids(ts, &cid, &conn_id).await;
    let of_company = format!("companyId={cid}");
    let evs = events(ts, &of_company).await;
    for t in [
        "company.created",
        "connection.created",
        "connection.connected",
    ] {
        assert_eq!(count(&evs, t), 1, "{t} in {evs:?}");
    }

    // Nothing is due yet: the sandbox token lives 30 minutes, the margin is 10 (less jitter).
    assert_eq!(ts.run_jobs().await, 0);
    assert_eq!(refresh_requests(ts).await, 0);
    ts.clock.advance_millis(21 * MINUTE);
    assert!(ts.run_jobs().await >= 1);
    assert_eq!(
        refresh_requests(ts).await,
        1,
        "the proactive refresh ran once"
    );
    let c = connection(ts, &ids).await;
    assert_eq!(c.status, ConnectionStatus::Linked);
    assert_eq!(c.health(), Health::Ok);
    // The next one is scheduled off the new token, not run again now.
    assert_eq!(ts.run_jobs().await, 0);

    // A transient failure: still Linked, one pending event, retried with backoff, recovered.
    inject(ts, "serverError", 3).await;
    ts.clock.advance_millis(21 * MINUTE);
    ts.run_jobs().await;
    let c = connection(ts, &ids).await;
    assert_eq!(
        c.status,
        ConnectionStatus::Linked,
        "a 500 never deauthorizes"
    );
    assert_eq!(c.health(), Health::PendingRefresh);
    assert!(c.refresh.last_failed_at.is_some());
    assert!(c.refresh.credentials_expire_at.is_none());
    for _ in 0..3 {
        ts.clock.advance_millis(5 * MINUTE);
        ts.run_jobs().await;
    }
    let c = connection(ts, &ids).await;
    assert_eq!(c.health(), Health::Ok, "{c:?}");
    let evs = events(ts, &of_company).await;
    assert_eq!(
        count(&evs, "vault.connection.token_refresh.pending"),
        1,
        "one per cycle, not per attempt"
    );
    assert_eq!(count(&evs, "vault.connection.token_refresh.recovered"), 1);
    assert_eq!(count(&evs, "connection.failed"), 0);

    // A rejected grant: Deauthorized with an error entry, credentials kept for the window.
    inject(ts, "invalidGrant", 50).await;
    ts.clock.advance_millis(31 * MINUTE);
    ts.run_jobs().await;
    let c = connection(ts, &ids).await;
    assert_eq!(c.status, ConnectionStatus::Deauthorized);
    assert_eq!(c.health(), Health::PendingRefresh);
    let active: Vec<_> = c.errors.iter().filter(|e| e.status == "Active").collect();
    assert_eq!(active.len(), 1, "{:?}", c.errors);
    assert_eq!(active[0].status_code, "401");
    assert!(c.refresh.credentials_expire_at.is_some());
    // Retried over the next day: still one pending and one failed event.
    for _ in 0..8 {
        ts.clock.advance_millis(180 * MINUTE);
        ts.run_jobs().await;
    }
    let evs = events(ts, &of_company).await;
    assert_eq!(
        count(&evs, "vault.connection.token_refresh.pending"),
        2,
        "{evs:#?}"
    );
    assert_eq!(count(&evs, "connection.failed"), 1);
    // The platform heals within the window: Linked again, reconnected and recovered once.
    clear_failures(ts).await;
    ts.clock.advance_millis(180 * MINUTE);
    ts.run_jobs().await;
    let c = connection(ts, &ids).await;
    assert_eq!(c.status, ConnectionStatus::Linked, "{c:?}");
    assert_eq!(c.health(), Health::Ok);
    assert!(
        c.errors.iter().all(|e| e.status == "Resolved"),
        "{:?}",
        c.errors
    );
    let evs = events(ts, &of_company).await;
    assert_eq!(count(&evs, "vault.connection.token_refresh.recovered"), 2);
    assert_eq!(count(&evs, "connection.reconnected"), 1);

    // Rejected again, and this time the retention window (7 days) runs out: credentials go.
    inject(ts, "invalidGrant", 200).await;
    ts.clock.advance_millis(31 * MINUTE);
    ts.run_jobs().await;
    assert_eq!(
        connection(ts, &ids).await.status,
        ConnectionStatus::Deauthorized
    );
    for _ in 0..8 {
        ts.clock.advance_millis(24 * 60 * MINUTE);
        ts.run_jobs().await;
    }
    let c = connection(ts, &ids).await;
    assert_eq!(c.status, ConnectionStatus::Deauthorized);
    assert_eq!(c.health(), Health::Revoked);
    assert!(
        ts.app()
            .store
            .get_credentials(ids.client, ids.connection)
            .await
            .unwrap()
            .is_none(),
        "the credentials are deleted when the window runs out"
    );
    let evs = events(ts, &of_company).await;
    assert_eq!(count(&evs, "vault.connection.token_refresh.pending"), 3);
    assert_eq!(count(&evs, "vault.connection.token_refresh.failed"), 1);
    assert_eq!(count(&evs, "connection.failed"), 2);
    clear_failures(ts).await;

    // Filters, and no event carries a token.
    let failed = events(ts, "eventType=vault.connection.token_refresh.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["payload"]["entity"]["health"], "revoked");
    assert_eq!(failed[0]["connectionId"], conn_id.as_str());
    let all = serde_json::to_string(&events(ts, "").await).unwrap();
    for secret in [&grant["access_token"], &grant["refresh_token"]] {
        assert!(
            !all.contains(secret.as_str().unwrap()),
            "an event holds a token"
        );
    }
    let (s, b) = ts.get("/events?eventType=nope").await;
    assert_eq!(s, 400, "{b}");
    let metrics = ts
        .http
        .get(format!("{}/metrics", ts.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"finlink_jobs_total{kind="refresh",outcome="done"}"#,
        r#"finlink_jobs_total{kind="refresh",outcome="retry"}"#,
        r#"finlink_jobs_total{kind="retention",outcome="done"}"#,
        r#"finlink_refreshes_total{integration="mqjo",outcome="rejected"}"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

/// finlink's own failure (credentials it cannot decrypt) is an error the job retries, never a
/// refresh outcome: the connection stays Linked, no failure cycle opens, no event is raised.
async fn own_failures_never_deauthorize(ts: &TestServer) {
    let (cid, conn_id, _) = migrated(ts).await;
    let ids = ids(ts, &cid, &conn_id).await;
    let store = &ts.app().store;
    let creds = store
        .get_credentials(ids.client, ids.connection)
        .await
        .unwrap()
        .unwrap();
    let broken = finlink_domain::credentials::SealedCredentials {
        sealed: b"not a vault envelope".to_vec(),
        ..creds.clone()
    };
    assert!(
        store
            .swap_credentials(
                &broken,
                creds.version,
                None,
                &finlink_store::Effects::none()
            )
            .await
            .unwrap()
    );
    ts.clock.advance_millis(21 * MINUTE);
    ts.run_jobs().await;
    let c = connection(ts, &ids).await;
    assert_eq!(c.status, ConnectionStatus::Linked);
    assert_eq!(c.health(), Health::Ok);
    assert_eq!(refresh_requests(ts).await, 0);
    let evs = events(ts, &format!("companyId={cid}")).await;
    assert_eq!(count(&evs, "vault.connection.token_refresh.pending"), 0);
    // The explicit refresh (validate) path reports it as finlink's failure too.
    let e = ts
        .app()
        .refresh_now(
            &finlink_app::migration::Actor::Cli,
            ids.client,
            ids.company,
            ids.connection,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, finlink_domain::Error::Internal(_)), "{e:?}");
    assert_eq!(connection(ts, &ids).await.status, ConnectionStatus::Linked);
}

/// Company and connection changes raise Codat's events, in the same write.
async fn changes_raise_events(ts: &TestServer) {
    let c = ts.company("Events Ltd").await;
    let cid = c["id"].as_str().unwrap();
    let (s, conn) = ts
        .post(
            &format!("/companies/{cid}/connections"),
            json!({"platformKey": "mqjo"}),
        )
        .await;
    assert_eq!(s, 200, "{conn}");
    let conn_id = conn["id"].as_str().unwrap();
    let (s, _) = ts
        .call(ts.req(
            Method::DELETE,
            &format!("/companies/{cid}/connections/{conn_id}"),
        ))
        .await;
    assert_eq!(s, 200);
    let (s, _) = ts
        .call(ts.req(Method::DELETE, &format!("/companies/{cid}")))
        .await;
    assert_eq!(s, 204);
    let evs = events(ts, &format!("companyId={cid}")).await;
    let types: Vec<&str> = evs
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "company.deleted",
            "connection.deleted",
            "connection.created",
            "company.created"
        ],
        "newest first"
    );
    let created = &evs[2];
    assert_eq!(created["payload"]["referenceCompany"]["name"], "Events Ltd");
    assert_eq!(created["payload"]["connection"]["status"], "PendingAuth");
    assert_eq!(evs[3]["payload"]["name"], "Events Ltd");
    let (s, page) = ts
        .get(&format!("/events?companyId={cid}&pageSize=1&page=2"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(page["totalResults"], 4);
    assert_eq!(page["results"][0]["eventType"], "connection.deleted");
    // Another client sees none of them.
    let other = ts.other_client_key().await;
    let (s, b) = ts.call(ts.req_as(&other, Method::GET, "/events")).await;
    assert_eq!(s, 200);
    assert_eq!(b["totalResults"], 0);
}

both_engines!(proactive_refresh_and_failure_lifecycle);
both_engines!(own_failures_never_deauthorize);
both_engines!(changes_raise_events);
