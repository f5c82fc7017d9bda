//! Bulk migration runs: a batch is all or nothing with the run's watermark, a stale batch writes
//! nothing, rows come back in order, a rollback removes what the run created.

use finlink_domain::company::Company;
use finlink_domain::connection::{ConnectionStatus, SourceType};
use finlink_domain::credentials::SealedCredentials;
use finlink_domain::integration::AuthType;

use super::{audit, company, connection, new_client, new_job, ts};
use crate::migration::{MigrationBatch, MigrationCounts, MigrationRowRecord, MigrationRun};
use crate::migration::{MigrationUpdate, outcome, status};
use crate::{Effects, Store};

fn creds(conn: &finlink_domain::connection::Connection, at: i64, byte: u8) -> SealedCredentials {
    SealedCredentials {
        client_id: conn.client_id,
        company_id: conn.company_id,
        connection_id: conn.id,
        auth_type: AuthType::Oauth2,
        key_id: "keyM".into(),
        sealed: vec![byte; 8],
        token_type: None,
        scopes: vec![],
        expires_at: None,
        issued_at: Some(ts(at)),
        needs_refresh: true,
        version: 0,
        updated: ts(at),
    }
}

fn row(
    n: u64,
    co: &Company,
    conn: Option<&finlink_domain::connection::Connection>,
    created: bool,
    o: &str,
) -> MigrationRowRecord {
    MigrationRowRecord {
        row: n,
        company_id: Some(co.id),
        connection_id: conn.map(|c| c.id),
        company_created: created,
        outcome: o.into(),
        error: None,
    }
}

pub(super) async fn migration_runs(s: &dyn Store) {
    let c = new_client(s, "Migration", 70_000).await;
    let run = MigrationRun {
        id: uuid::Uuid::now_v7(),
        client_id: c.id,
        fingerprint: format!("fp-{}", c.id),
        source: "in.jsonl".into(),
        format: "jsonl".into(),
        options: "{}".into(),
        status: status::RUNNING.into(),
        detail: None,
        total_rows: 4,
        canary_rows: 1,
        watermark: 0,
        counts: MigrationCounts::default(),
        created: ts(70_001),
        updated: ts(70_001),
        completed: None,
    };
    s.insert_migration_run(&run).await.unwrap();
    assert_eq!(
        s.get_migration_run(run.id).await.unwrap(),
        Some(run.clone())
    );
    assert_eq!(
        s.find_migration_run(c.id, &run.fingerprint).await.unwrap(),
        Some(run.clone())
    );
    assert_eq!(s.find_migration_run(c.id, "other").await.unwrap(), None);
    assert!(
        s.list_migration_runs(1000)
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == run.id)
    );

    // A batch: two new companies (by reference), two connections, an invalid row.
    let mut a = company(c.id, "Mig A", 70_002, &[("region", "eu")]);
    a.consumer_id = Some("ref-a".into());
    let mut b = company(c.id, "Mig B", 70_003, &[]);
    b.consumer_id = Some("ref-b".into());
    let mut ca = connection(&a, "mqjo", SourceType::Accounting, 70_004);
    ca.status = ConnectionStatus::Linked;
    let mut cb = connection(&b, "mqjo", SourceType::Accounting, 70_005);
    cb.status = ConnectionStatus::Linked;
    let mut counts = MigrationCounts::default();
    for o in [outcome::CREATED, outcome::CREATED, outcome::INVALID] {
        counts.add(o);
    }
    counts.companies_created = 2;
    let job = new_job(
        "refresh",
        70_010,
        Some(&format!("mig-{}", ca.id)),
        Some(&format!("refresh:{}", ca.id)),
    );
    let batch = MigrationBatch {
        run: run.id,
        client: c.id,
        after_row: 0,
        up_to_row: 3,
        companies: vec![a.clone(), b.clone()],
        connections: vec![ca.clone(), cb.clone()],
        credentials: vec![creds(&ca, 70_006, 1), creds(&cb, 70_006, 2)],
        updates: vec![],
        jobs: vec![job.clone()],
        rows: vec![
            row(1, &a, Some(&ca), true, outcome::CREATED),
            row(2, &b, Some(&cb), true, outcome::CREATED),
            MigrationRowRecord {
                row: 3,
                company_id: None,
                connection_id: None,
                company_created: false,
                outcome: outcome::INVALID.into(),
                error: Some("integration: 'x' is not an integration".into()),
            },
        ],
        audit: audit(&ca, "migration.import", 70_006),
        counts,
        at: ts(70_006),
    };
    assert!(s.import_migration_batch(batch.clone()).await.unwrap());
    let got = s.get_migration_run(run.id).await.unwrap().unwrap();
    assert_eq!(got.watermark, 3);
    assert_eq!(got.counts, counts);
    let stored = s.get_company(c.id, a.id).await.unwrap().unwrap();
    assert_eq!(stored.consumer_id.as_deref(), Some("ref-a"));
    assert_eq!(stored.tags.get("region").map(String::as_str), Some("eu"));
    assert_eq!(stored.connections.len(), 1);
    assert_eq!(stored.connections[0].status, ConnectionStatus::Linked);
    let cr = s.get_credentials(c.id, ca.id).await.unwrap().unwrap();
    assert_eq!((cr.version, cr.sealed.clone()), (1, vec![1; 8]));
    // The same batch again (a second process, or a replay): nothing written.
    assert!(!s.import_migration_batch(batch.clone()).await.unwrap());
    assert_eq!(
        s.get_migration_run(run.id).await.unwrap().unwrap().counts,
        counts
    );
    // Found by reference and by id, with their connections.
    let found = s
        .migration_companies(c.id, &["ref-a".into(), "nope".into()], &[b.id])
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|f| f.connections.len() == 1));
    assert!(
        s.migration_companies(c.id, &[], &[])
            .await
            .unwrap()
            .is_empty()
    );

    // A batch that updates an existing connection's credentials.
    let mut counts2 = MigrationCounts::default();
    counts2.add(outcome::UPDATED);
    let batch2 = MigrationBatch {
        run: run.id,
        client: c.id,
        after_row: 3,
        up_to_row: 4,
        companies: vec![],
        connections: vec![],
        credentials: vec![],
        updates: vec![MigrationUpdate {
            credentials: creds(&cb, 70_020, 9),
            connection_info: Some(
                serde_json::json!({"tenantId": "t"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        }],
        jobs: vec![],
        rows: vec![row(4, &b, Some(&cb), false, outcome::UPDATED)],
        audit: audit(&cb, "migration.import", 70_020),
        counts: counts2,
        at: ts(70_020),
    };
    assert!(s.import_migration_batch(batch2).await.unwrap());
    let cr = s.get_credentials(c.id, cb.id).await.unwrap().unwrap();
    assert_eq!((cr.version, cr.sealed.clone()), (2, vec![9; 8]));
    let conn = s.get_connection(c.id, b.id, cb.id).await.unwrap().unwrap();
    assert_eq!(conn.connection_info.unwrap()["tenantId"], "t");
    let rows = s.list_migration_rows(run.id, 1, 10).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(
        rows[1].error.as_deref(),
        Some("integration: 'x' is not an integration")
    );
    assert!(rows[0].company_created);

    // Completion, with its follow-up job.
    let plan = new_job("schedule", 70_030, Some(&format!("plan-{}", run.id)), None);
    assert!(
        s.set_migration_run_status(
            run.id,
            status::COMPLETED,
            None,
            ts(70_030),
            &Effects {
                jobs: vec![plan.clone()],
                ..Effects::none()
            }
        )
        .await
        .unwrap()
    );
    let done = s.get_migration_run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status.as_str(), done.completed),
        (status::COMPLETED, Some(ts(70_030)))
    );
    assert!(s.get_job(plan.id).await.unwrap().is_some());
    assert!(
        !s.set_migration_run_status(
            uuid::Uuid::now_v7(),
            status::COMPLETED,
            None,
            ts(1),
            &Effects::none()
        )
        .await
        .unwrap()
    );

    // Rollback: the connections and companies the run created go (b's connection was created by
    // row 2, then updated by row 4).
    // A connection made outside the run keeps its company.
    let other = connection(&b, "bank", SourceType::Banking, 70_035);
    s.insert_connection(&other, &Effects::none()).await.unwrap();
    assert_eq!(
        s.rollback_migration_run(run.id, ts(70_040)).await.unwrap(),
        2
    );
    assert!(s.get_company(c.id, a.id).await.unwrap().is_none());
    assert!(
        s.get_company(c.id, b.id).await.unwrap().is_some(),
        "b keeps the connection made outside the run"
    );
    let rb = s.get_migration_run(run.id).await.unwrap().unwrap();
    assert_eq!((rb.status.as_str(), rb.watermark), (status::ROLLED_BACK, 0));
    assert!(
        s.list_migration_rows(run.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
