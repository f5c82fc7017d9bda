//! Schema migrations, applied in order at start, recorded in `PRAGMA user_version`.
//! Hand-written (20 lines) rather than a migration crate: SQLite's own
//! `user_version` is the natural ledger and the files are plain SQL.

use rusqlite::Connection;

/// The migrations, in order. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_foundation",
        include_str!("../migrations/0001_foundation.sql"),
    ),
    (
        "0002_credentials_audit",
        include_str!("../migrations/0002_credentials_audit.sql"),
    ),
    ("0003_link", include_str!("../migrations/0003_link.sql")),
    ("0004_leases", include_str!("../migrations/0004_leases.sql")),
    ("0005_jobs", include_str!("../migrations/0005_jobs.sql")),
    (
        "0006_events_refresh_health",
        include_str!("../migrations/0006_events_refresh_health.sql"),
    ),
    (
        "0007_webhooks",
        include_str!("../migrations/0007_webhooks.sql"),
    ),
    (
        "0008_job_groups",
        include_str!("../migrations/0008_job_groups.sql"),
    ),
    ("0009_sync", include_str!("../migrations/0009_sync.sql")),
    (
        "0010_sync_settings",
        include_str!("../migrations/0010_sync_settings.sql"),
    ),
    (
        "0011_data_reads",
        include_str!("../migrations/0011_data_reads.sql"),
    ),
    (
        "0012_migration_runs",
        include_str!("../migrations/0012_migration_runs.sql"),
    ),
    (
        "0013_record_versions",
        include_str!("../migrations/0013_record_versions.sql"),
    ),
];

pub fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the database schema is version {current}, newer than this finlink ({known}); upgrade finlink"
        )));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(migration = name, "applied SQLite migration");
    }
    Ok(())
}
