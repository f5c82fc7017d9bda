//! Sync settings and schedule anchors on PostgreSQL (see `migrations/0010_sync_settings.sql`).

use finlink_domain::data::DataType;
use finlink_domain::sync_settings::{SyncSettings, decode_settings, encode_settings};
use finlink_domain::{Error, Result, Timestamp};
use sqlx::PgConnection;

use crate::db_error;

pub(crate) async fn get_sync_settings(
    pool: &sqlx::PgPool,
    client: &str,
    company: Option<&str>,
) -> Result<Option<SyncSettings>> {
    let row: Option<(bool, String, i64)> = match company {
        None => sqlx::query_as(
            "SELECT overrides_defaults, settings, updated FROM client_sync_settings \
             WHERE client_id = $1",
        )
        .bind(client)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?,
        Some(company) => sqlx::query_as(
            "SELECT overrides_defaults, settings, updated FROM company_sync_settings \
             WHERE company_id = $1 AND client_id = $2",
        )
        .bind(company)
        .bind(client)
        .fetch_optional(pool)
        .await
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
pub(crate) async fn put_sync_settings(
    tx: &mut PgConnection,
    client: &str,
    company: Option<&str>,
    s: &SyncSettings,
) -> Result<bool> {
    let settings = encode_settings(&s.settings)?;
    let at = s.updated.as_millis();
    let done = match company {
        None => sqlx::query(
            "INSERT INTO client_sync_settings (client_id, overrides_defaults, settings, updated) \
             SELECT id, $2, $3, $4 FROM clients WHERE id = $1 \
             ON CONFLICT (client_id) DO UPDATE SET overrides_defaults = EXCLUDED.overrides_defaults, \
             settings = EXCLUDED.settings, updated = EXCLUDED.updated",
        )
        .bind(client)
        .bind(s.overrides_defaults)
        .bind(&settings)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?,
        Some(company) => sqlx::query(
            "INSERT INTO company_sync_settings \
             (company_id, client_id, overrides_defaults, settings, updated) \
             SELECT id, client_id, $3, $4, $5 FROM companies WHERE id = $1 AND client_id = $2 \
             ON CONFLICT (company_id) DO UPDATE SET overrides_defaults = EXCLUDED.overrides_defaults, \
             settings = EXCLUDED.settings, updated = EXCLUDED.updated",
        )
        .bind(company)
        .bind(client)
        .bind(s.overrides_defaults)
        .bind(&settings)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?,
    };
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn latest_pulls(
    pool: &sqlx::PgPool,
    client: &str,
    connection: &str,
) -> Result<Vec<(DataType, Timestamp)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT data_type, MAX(requested) FROM datasets \
         WHERE connection_id = $1 AND client_id = $2 GROUP BY data_type",
    )
    .bind(connection)
    .bind(client)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.into_iter()
        .map(|(t, at)| {
            let t = DataType::parse(&t)
                .ok_or_else(|| Error::internal(format!("stored data type '{t}'")))?;
            Ok((t, Timestamp::from_millis(at)))
        })
        .collect()
}
