//! Contract checks of sync settings and schedule anchors.

use finlink_domain::Timestamp;
use finlink_domain::connection::SourceType;
use finlink_domain::data::DataType;
use finlink_domain::sync_settings::{SyncSetting, SyncSettings, default_setting};

use super::{batch_of, company, connection, new_client, new_job, ts};
use crate::{Effects, QueueOutcome, Store};

fn settings(at: i64, overrides: bool, list: Vec<SyncSetting>) -> SyncSettings {
    SyncSettings {
        overrides_defaults: overrides,
        settings: list,
        updated: ts(at),
    }
}

/// Sync settings are stored per client and per company (replaced by a put, with its effects in
/// the same transaction), isolated by client, and gone with their company; `latest_pulls`
/// answers a connection's latest request per data type.
pub(super) async fn sync_settings(s: &dyn Store) {
    let c = new_client(s, "Settings", 30_000).await;
    let other = new_client(s, "Settings other", 30_001).await;
    let co = company(c.id, "Settings Co", 30_002, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    assert!(s.get_sync_settings(c.id, None).await.unwrap().is_none());
    assert!(
        s.get_sync_settings(c.id, Some(co.id))
            .await
            .unwrap()
            .is_none()
    );

    // Client level: every field round trips; a put replaces.
    let full = SyncSetting {
        data_type: DataType::BankingTransactions,
        fetch_on_first_link: false,
        sync_schedule: 720,
        sync_order: -3,
        sync_from_utc: Some(Timestamp::from_millis(1_577_880_000_123)),
        sync_from_window: None,
        months_to_sync: Some(24),
        is_locked: true,
    };
    let windowed = SyncSetting {
        sync_from_window: Some(12),
        ..default_setting(DataType::Invoices)
    };
    let first = settings(30_010, true, vec![full.clone(), windowed.clone()]);
    assert!(
        s.put_sync_settings(c.id, None, &first, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(s.get_sync_settings(c.id, None).await.unwrap(), Some(first));
    let second = settings(30_011, false, vec![windowed.clone()]);
    let job = new_job("schedule", 90_000_000_000, None, None);
    let effects = Effects {
        jobs: vec![job.clone()],
        ..Effects::none()
    };
    assert!(
        s.put_sync_settings(c.id, None, &second, &effects)
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_sync_settings(c.id, None).await.unwrap(),
        Some(second.clone())
    );
    assert!(
        s.get_job(job.id).await.unwrap().is_some(),
        "with its effects"
    );
    assert!(s.get_sync_settings(other.id, None).await.unwrap().is_none());

    // Company level: only the owner's company; nothing (effects included) written otherwise.
    let co_settings = settings(30_020, true, vec![full.clone()]);
    assert!(
        s.put_sync_settings(c.id, Some(co.id), &co_settings, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_sync_settings(c.id, Some(co.id)).await.unwrap(),
        Some(co_settings.clone())
    );
    assert_eq!(
        s.get_sync_settings(c.id, None).await.unwrap(),
        Some(second),
        "the client's are apart"
    );
    let refused = new_job("schedule", 90_000_000_000, None, None);
    let effects = Effects {
        jobs: vec![refused.clone()],
        ..Effects::none()
    };
    assert!(
        !s.put_sync_settings(other.id, Some(co.id), &co_settings, &effects)
            .await
            .unwrap()
    );
    let missing = company(c.id, "Never stored", 30_021, &[]);
    assert!(
        !s.put_sync_settings(c.id, Some(missing.id), &co_settings, &effects)
            .await
            .unwrap()
    );
    assert!(s.get_job(refused.id).await.unwrap().is_none());
    assert!(
        s.get_sync_settings(other.id, Some(co.id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.get_sync_settings(c.id, Some(co.id)).await.unwrap(),
        Some(co_settings)
    );

    // The latest request per data type of a connection.
    let acc = connection(&co, "mqjo", SourceType::Accounting, 30_030);
    s.insert_connection(&acc, &Effects::none()).await.unwrap();
    assert!(s.latest_pulls(c.id, acc.id).await.unwrap().is_empty());
    let b1 = batch_of(
        &co,
        &[(&acc, DataType::Invoices), (&acc, DataType::Company)],
        false,
        30_040,
    );
    assert!(matches!(
        s.queue_pulls(&b1, true).await.unwrap(),
        QueueOutcome::Queued(_)
    ));
    let mut b2 = batch_of(&co, &[(&acc, DataType::Bills)], false, 30_050);
    // A second invoices dataset, once the first has ended.
    let ended = crate::DatasetUpdate {
        client: c.id,
        dataset: b1.pulls[0].dataset.id,
        run_token: None,
        status: finlink_domain::data::DatasetStatus::Complete,
        status_description: None,
        error_message: None,
        progress: Some(100),
        at: ts(30_045),
    };
    s.update_dataset(&ended, &Effects::none()).await.unwrap();
    let later = batch_of(&co, &[(&acc, DataType::Invoices)], false, 30_060);
    b2.pulls.extend(later.pulls);
    assert!(matches!(
        s.queue_pulls(&b2, true).await.unwrap(),
        QueueOutcome::Queued(_)
    ));
    let mut latest = s.latest_pulls(c.id, acc.id).await.unwrap();
    latest.sort();
    assert_eq!(
        latest,
        vec![
            (DataType::Bills, ts(30_050)),
            (DataType::Company, ts(30_040)),
            (DataType::Invoices, ts(30_060)),
        ]
    );
    assert!(s.latest_pulls(other.id, acc.id).await.unwrap().is_empty());

    // Deleting the company deletes its settings.
    assert!(
        s.delete_company(c.id, co.id, &Effects::none())
            .await
            .unwrap()
    );
    assert!(
        s.get_sync_settings(c.id, Some(co.id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.latest_pulls(c.id, acc.id).await.unwrap().is_empty());
}
