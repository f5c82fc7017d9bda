//! Sync settings and schedule anchors on SQLite (see `migrations/0010_sync_settings.sql`).
//! The functions take a connection (a transaction's, for writes); `store.rs` runs them.

use finlink_domain::data::DataType;
use finlink_domain::sync_settings::{SyncSettings, decode_settings, encode_settings};
use finlink_domain::{Error, Result, Timestamp};
use rusqlite::{Connection as Db, OptionalExtension, params};

use crate::pool::db_error;

pub(crate) fn get_sync_settings(
    db: &Db,
    client: &str,
    company: Option<&str>,
) -> Result<Option<SyncSettings>> {
    let row: Option<(bool, String, i64)> = match company {
        None => db
            .prepare_cached(
                "SELECT overrides_defaults, settings, updated FROM client_sync_settings \
                 WHERE client_id = ?1",
            )
            .map_err(db_error)?
            .query_row(params![client], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(db_error)?,
        Some(company) => db
            .prepare_cached(
                "SELECT overrides_defaults, settings, updated FROM company_sync_settings \
                 WHERE company_id = ?1 AND client_id = ?2",
            )
            .map_err(db_error)?
            .query_row(params![company, client], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(db_error)?,
    };
    row.map(|(overrides_defaults, settings, updated)| {
        Ok(SyncSettings {
            overrides_defaults,
            settings: decode_settings(&settings)?,
            updated: Timestamp::from_millis(updated),
        })
    })
    .transpose()
}

/// False when the company does not exist (or is another client's).
pub(crate) fn put_sync_settings(
    tx: &Db,
    client: &str,
    company: Option<&str>,
    s: &SyncSettings,
) -> Result<bool> {
    let settings = encode_settings(&s.settings)?;
    let at = s.updated.as_millis();
    let n = match company {
        None => tx
            .prepare_cached(
                "INSERT INTO client_sync_settings (client_id, overrides_defaults, settings, updated) \
                 SELECT id, ?2, ?3, ?4 FROM clients WHERE id = ?1 \
                 ON CONFLICT (client_id) DO UPDATE SET overrides_defaults = excluded.overrides_defaults, \
                 settings = excluded.settings, updated = excluded.updated",
            )
            .map_err(db_error)?
            .execute(params![client, s.overrides_defaults, settings, at])
            .map_err(db_error)?,
        Some(company) => tx
            .prepare_cached(
                "INSERT INTO company_sync_settings \
                 (company_id, client_id, overrides_defaults, settings, updated) \
                 SELECT id, client_id, ?3, ?4, ?5 FROM companies WHERE id = ?1 AND client_id = ?2 \
                 ON CONFLICT (company_id) DO UPDATE SET overrides_defaults = excluded.overrides_defaults, \
                 settings = excluded.settings, updated = excluded.updated",
            )
            .map_err(db_error)?
            .execute(params![company, client, s.overrides_defaults, settings, at])
            .map_err(db_error)?,
    };
    Ok(n == 1)
}

pub(crate) fn latest_pulls(
    db: &Db,
    client: &str,
    connection: &str,
) -> Result<Vec<(DataType, Timestamp)>> {
    let mut stmt = db
        .prepare_cached(
            "SELECT data_type, MAX(requested) FROM datasets \
             WHERE connection_id = ?1 AND client_id = ?2 GROUP BY data_type",
        )
        .map_err(db_error)?;
    let rows = stmt
        .query_map(params![connection, client], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    rows.into_iter()
        .map(|(t, at)| {
            let t = DataType::parse(&t)
                .ok_or_else(|| Error::internal(format!("stored data type '{t}'")))?;
            Ok((t, Timestamp::from_millis(at)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// Upgrading a database with clients enqueues one schedule plan per client, with a job id
    /// the store reads back.
    #[test]
    fn the_migration_plans_schedules_for_existing_clients() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        for sql in [
            include_str!("../migrations/0001_foundation.sql"),
            include_str!("../migrations/0002_credentials_audit.sql"),
            include_str!("../migrations/0003_link.sql"),
            include_str!("../migrations/0004_leases.sql"),
            include_str!("../migrations/0005_jobs.sql"),
            include_str!("../migrations/0006_events_refresh_health.sql"),
            include_str!("../migrations/0007_webhooks.sql"),
            include_str!("../migrations/0008_job_groups.sql"),
            include_str!("../migrations/0009_sync.sql"),
        ] {
            db.execute_batch(sql).unwrap();
        }
        let client = uuid::Uuid::now_v7().to_string();
        db.execute(
            "INSERT INTO clients (id, name, created) VALUES (?1, 'Old', 0)",
            [&client],
        )
        .unwrap();
        db.execute_batch(include_str!("../migrations/0010_sync_settings.sql"))
            .unwrap();
        let (id, payload, key): (String, String, String) = db
            .query_row(
                "SELECT id, payload, idempotency_key FROM jobs WHERE kind = 'schedule'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().to_string(), id);
        let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(payload["client"], client.as_str());
        assert_eq!(payload["plan"], true);
        assert_eq!(key, format!("schedule_plan:{client}:*:0"));
    }
}
