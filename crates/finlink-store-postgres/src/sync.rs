//! Syncs on PostgreSQL: datasets, batches and stored records (see `migrations/0009_sync.sql`).
//! A page's records are upserted with one statement from arrays, whatever their number.

use finlink_domain::data::DataType;
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::sync::{DataTypeStatus, Dataset, StoredRecord, SyncBatch};
use finlink_domain::{Error, Result, Timestamp};
use finlink_store::rows::{
    BATCH_COLUMNS, BatchRow, DATASET_COLUMNS, DATASET_INSERT_COLUMNS, DatasetRow, RECORD_COLUMNS,
    RecordRow,
};
use finlink_store::sql::ACTIVE_DATASET_STATUSES;
use finlink_store::{DatasetStart, DatasetUpdate, PageWrite, PullBatch, QueueOutcome};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::{db_error, enqueue_job_on, get};

pub(crate) fn dataset_row(r: &PgRow) -> Result<DatasetRow> {
    Ok(DatasetRow {
        id: get(r, 0)?,
        client_id: get(r, 1)?,
        company_id: get(r, 2)?,
        connection_id: get(r, 3)?,
        batch_id: get(r, 4)?,
        data_type: get(r, 5)?,
        status: get(r, 6)?,
        status_description: get(r, 7)?,
        error_message: get(r, 8)?,
        requested: get(r, 9)?,
        started: get(r, 10)?,
        completed: get(r, 11)?,
        progress: get(r, 12)?,
        is_initial: get(r, 13)?,
        resume_page: get(r, 14)?,
        records: get(r, 15)?,
        rejected: get(r, 16)?,
        changed: get(r, 17)?,
        modified_since: get(r, 18)?,
        max_source_modified: get(r, 19)?,
        updated: get(r, 20)?,
    })
}

fn dataset(r: &PgRow) -> Result<Dataset> {
    dataset_row(r)?.into_domain()
}

fn record(r: &PgRow, with_raw: bool) -> Result<StoredRecord> {
    RecordRow {
        client_id: get(r, 0)?,
        company_id: get(r, 1)?,
        connection_id: get(r, 2)?,
        data_type: get(r, 3)?,
        record_id: get(r, 4)?,
        data: get(r, 5)?,
        source_modified: get(r, 6)?,
        modified: get(r, 7)?,
        dataset_id: get(r, 8)?,
        raw: if with_raw { get(r, 9)? } else { None },
    }
    .into_domain()
}

fn parse_id(s: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|e| Error::internal(format!("stored dataset id: {e}")))
}

async fn active_dataset(
    tx: &mut PgConnection,
    connection: &str,
    data_type: &str,
) -> Result<Option<String>> {
    sqlx::query_scalar(&format!(
        "SELECT id FROM datasets WHERE connection_id = $1 AND data_type = $2 \
         AND status IN ({ACTIVE_DATASET_STATUSES})"
    ))
    .bind(connection)
    .bind(data_type)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)
}

/// Queues `batch` in `tx` (see `Store::queue_pulls`). With `all_or_nothing`, a `Busy` answer
/// means the caller must roll `tx` back.
pub(crate) async fn queue_pulls_tx(
    tx: &mut PgConnection,
    batch: &PullBatch,
    all_or_nothing: bool,
) -> Result<QueueOutcome> {
    if all_or_nothing {
        for p in &batch.pulls {
            let d = &p.dataset;
            if let Some(id) =
                active_dataset(tx, &d.connection_id.to_string(), d.data_type.as_str()).await?
            {
                return Ok(QueueOutcome::Busy(parse_id(&id)?));
            }
        }
    }
    let mut queued = Vec::new();
    for p in &batch.pulls {
        let r = DatasetRow::from_domain(&p.dataset);
        // The partial unique index (one active dataset per connection and data type) makes a
        // concurrent duplicate a no-op here.
        let n = sqlx::query(&format!(
            "INSERT INTO datasets ({DATASET_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
             ON CONFLICT DO NOTHING"
        ))
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.company_id)
        .bind(&r.connection_id)
        .bind(&r.batch_id)
        .bind(&r.data_type)
        .bind(&r.status)
        .bind(&r.status_description)
        .bind(&r.error_message)
        .bind(r.requested)
        .bind(r.started)
        .bind(r.completed)
        .bind(r.progress)
        .bind(r.is_initial)
        .bind(r.resume_page)
        .bind(r.records)
        .bind(r.rejected)
        .bind(r.changed)
        .bind(r.modified_since)
        .bind(r.max_source_modified)
        .bind(r.updated)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if n == 1 {
            enqueue_job_on(&mut *tx, &p.job).await?;
            queued.push(p.dataset.id);
        } else if all_or_nothing {
            let d = &p.dataset;
            let id = active_dataset(tx, &d.connection_id.to_string(), d.data_type.as_str())
                .await?
                .ok_or_else(|| {
                    Error::Unavailable(String::from("The database is busy; please retry."))
                })?;
            return Ok(QueueOutcome::Busy(parse_id(&id)?));
        }
    }
    if !queued.is_empty() {
        let b = BatchRow::from_domain(&batch.batch);
        sqlx::query(&format!(
            "INSERT INTO sync_batches ({BATCH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&b.id)
        .bind(&b.client_id)
        .bind(&b.company_id)
        .bind(b.is_initial)
        .bind(b.requested)
        .bind(b.completed)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(QueueOutcome::Queued(queued))
}

pub(crate) async fn get_dataset<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    client: &str,
    id: &str,
) -> Result<Option<Dataset>> {
    sqlx::query(&format!(
        "SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.id = $1 AND d.client_id = $2"
    ))
    .bind(id)
    .bind(client)
    .fetch_optional(ex)
    .await
    .map_err(db_error)?
    .map(|r| dataset(&r))
    .transpose()
}

pub(crate) async fn data_status(
    pool: &sqlx::PgPool,
    client: &str,
    company: &str,
) -> Result<Vec<DataTypeStatus>> {
    let types: Vec<String> = DataType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    // One indexed lookup per data type (a lateral join), not a scan of the whole history.
    let latest = sqlx::query(&format!(
        "SELECT {DATASET_COLUMNS} FROM unnest($3::text[]) AS t(dt) CROSS JOIN LATERAL \
         (SELECT * FROM datasets x WHERE x.company_id = $1 AND x.client_id = $2 AND x.data_type = t.dt \
          ORDER BY x.requested DESC, x.id DESC LIMIT 1) d"
    ))
    .bind(company)
    .bind(client)
    .bind(&types)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let success = sqlx::query(&format!(
        "SELECT {DATASET_COLUMNS} FROM unnest($3::text[]) AS t(dt) CROSS JOIN LATERAL \
         (SELECT * FROM datasets x WHERE x.company_id = $1 AND x.client_id = $2 AND x.data_type = t.dt \
          AND x.status = 'Complete' ORDER BY x.completed DESC, x.id DESC LIMIT 1) d"
    ))
    .bind(company)
    .bind(client)
    .bind(&types)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let mut ok: Vec<Dataset> = success.iter().map(dataset).collect::<Result<_>>()?;
    let mut out = Vec::new();
    for r in &latest {
        let latest = dataset(r)?;
        let pos = ok.iter().position(|d| d.data_type == latest.data_type);
        out.push(DataTypeStatus {
            data_type: latest.data_type,
            latest_success: pos.map(|i| ok.swap_remove(i)),
            latest,
        });
    }
    out.sort_by_key(|s| s.data_type);
    Ok(out)
}

/// The next incremental pull's modified-since: the newest source-modified time the last complete
/// pull saw, but never later than 5 minutes before it started. Pages come in id order, not
/// modified order, so a record changed on an early page while later pages were fetched has an
/// older time than the newest seen; taking the newest alone would skip it for good. (Filters
/// are inclusive, so the overlap only costs re-fetching what changed in those minutes.)
pub(crate) async fn sync_watermark(
    pool: &sqlx::PgPool,
    client: &str,
    connection: &str,
    data_type: &str,
) -> Result<Option<Timestamp>> {
    let v: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT CASE WHEN max_source_modified IS NULL OR started IS NULL THEN max_source_modified \
         ELSE LEAST(max_source_modified, started - 300000) END FROM datasets WHERE connection_id = $1 AND client_id = $2 \
         AND data_type = $3 AND status = 'Complete' ORDER BY completed DESC, id DESC LIMIT 1",
    )
    .bind(connection)
    .bind(client)
    .bind(data_type)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    Ok(v.flatten().map(Timestamp::from_millis))
}

pub(crate) async fn start_dataset(
    pool: &sqlx::PgPool,
    s: &DatasetStart,
) -> Result<Option<Dataset>> {
    sqlx::query(&format!(
        "UPDATE datasets d SET status = 'Fetching', status_description = NULL, \
         modified_since = CASE WHEN d.started IS NULL THEN $3 ELSE d.modified_since END, \
         started = COALESCE(d.started, $4), run_token = $5, updated = $4 \
         WHERE d.id = $1 AND d.client_id = $2 AND d.status IN ({ACTIVE_DATASET_STATUSES}) \
         RETURNING {DATASET_COLUMNS}"
    ))
    .bind(s.dataset.to_string())
    .bind(s.client.to_string())
    .bind(s.modified_since.map(Timestamp::as_millis))
    .bind(s.at.as_millis())
    .bind(&s.run_token)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    .map(|r| dataset(&r))
    .transpose()
}

/// `max(column, param)` where either may be NULL.
fn later(column: &str, param: &str) -> String {
    format!("GREATEST({column}, {param})")
}

pub(crate) async fn store_page(tx: &mut PgConnection, p: &PageWrite) -> Result<bool> {
    let (id, client) = (p.dataset.to_string(), p.client.to_string());
    let n = sqlx::query(&format!(
        "UPDATE datasets SET resume_page = $4, progress = COALESCE($5, progress), \
         records = records + $6, rejected = rejected + $7, max_source_modified = {}, \
         status = CASE WHEN $9 THEN 'Mapping' ELSE status END, updated = $10 \
         WHERE id = $1 AND client_id = $2 AND run_token = $3 \
         AND status IN ({ACTIVE_DATASET_STATUSES})",
        later("max_source_modified", "$8::bigint")
    ))
    .bind(&id)
    .bind(&client)
    .bind(&p.run_token)
    .bind(i64::from(p.next_page))
    .bind(p.progress.map(i64::from))
    .bind(i64::try_from(p.records.len()).unwrap_or(i64::MAX))
    .bind(i64::try_from(p.rejected).unwrap_or(i64::MAX))
    .bind(p.max_source_modified.map(Timestamp::as_millis))
    .bind(p.is_last)
    .bind(p.at.as_millis())
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    if p.records.is_empty() {
        return Ok(true);
    }
    // One row per record id (the last one wins): an upsert may not touch a row twice.
    let mut seen = std::collections::HashSet::new();
    let mut records: Vec<&finlink_store::NewRecord> = p
        .records
        .iter()
        .rev()
        .filter(|r| seen.insert(r.record_id.as_str()))
        .collect();
    records.reverse();
    let text = |f: fn(&finlink_store::NewRecord) -> &String| -> Vec<&str> {
        records.iter().map(|r| f(r).as_str()).collect()
    };
    // An unchanged record (same hash) is left as it is: its modifiedDate stays. The rows
    // affected are the records created or changed.
    let changed = sqlx::query(
        "INSERT INTO data_records (connection_id, data_type, record_id, client_id, company_id, \
         data, raw, hash, source_modified, modified, dataset_id) \
         SELECT $1, $2, u.record_id, $3, $4, u.data, u.raw, u.hash, u.source_modified, u.modified, $5 \
         FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[]) \
         AS u(record_id, data, raw, hash, source_modified, modified) \
         ON CONFLICT (connection_id, data_type, record_id) DO UPDATE SET \
         data = excluded.data, raw = excluded.raw, hash = excluded.hash, \
         source_modified = excluded.source_modified, modified = excluded.modified, \
         dataset_id = excluded.dataset_id \
         WHERE data_records.hash <> excluded.hash",
    )
    .bind(p.connection.to_string())
    .bind(p.data_type.as_str())
    .bind(&client)
    .bind(p.company.to_string())
    .bind(&id)
    .bind(text(|r| &r.record_id))
    .bind(text(|r| &r.data))
    .bind(text(|r| &r.raw))
    .bind(text(|r| &r.hash))
    .bind(
        records
            .iter()
            .map(|r| r.source_modified.map(Timestamp::as_millis))
            .collect::<Vec<_>>(),
    )
    .bind(
        records
            .iter()
            .map(|r| r.modified.as_millis())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if changed > 0 {
        sqlx::query("UPDATE datasets SET changed = changed + $2 WHERE id = $1")
            .bind(&id)
            .bind(i64::try_from(changed).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // The count cache of the read endpoints (finlink_store::records::CountCache).
        sqlx::query(
            "INSERT INTO record_versions (company_id, data_type, version) VALUES ($1, $2, 1) \
             ON CONFLICT (company_id, data_type) DO UPDATE SET version = record_versions.version + 1",
        )
        .bind(p.company.to_string())
        .bind(p.data_type.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(true)
}

pub(crate) async fn update_dataset(
    tx: &mut PgConnection,
    u: &DatasetUpdate,
) -> Result<Option<Dataset>> {
    let ended = !u.status.is_in_progress();
    let complete = u.status == finlink_domain::data::DatasetStatus::Complete;
    let row = sqlx::query(&format!(
        "UPDATE datasets d SET status = $4, status_description = $5, error_message = $6, \
         progress = COALESCE($7, d.progress), completed = CASE WHEN $8 THEN $9 ELSE d.completed END, \
         max_source_modified = CASE WHEN $10 THEN {} ELSE d.max_source_modified END, updated = $9 \
         WHERE d.id = $1 AND d.client_id = $2 AND ($3::text IS NULL OR d.run_token = $3) \
         AND d.status IN ({ACTIVE_DATASET_STATUSES}) RETURNING {DATASET_COLUMNS}",
        later("d.max_source_modified", "d.modified_since")
    ))
    .bind(u.dataset.to_string())
    .bind(u.client.to_string())
    .bind(&u.run_token)
    .bind(u.status.as_str())
    .bind(&u.status_description)
    .bind(&u.error_message)
    .bind(u.progress.map(i64::from))
    .bind(ended)
    .bind(u.at.as_millis())
    .bind(complete)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    let Some(row) = row else { return Ok(None) };
    let d = dataset(&row)?;
    if complete {
        let at = u.at.as_millis();
        sqlx::query("UPDATE companies SET last_sync = $2 WHERE id = $1")
            .bind(d.company_id.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("UPDATE connections SET last_sync = $2 WHERE id = $1")
            .bind(d.connection_id.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    Ok(Some(d))
}

pub(crate) async fn get_batch(
    pool: &sqlx::PgPool,
    client: &str,
    id: &str,
) -> Result<Option<(SyncBatch, Vec<Dataset>)>> {
    let Some(b) = sqlx::query(&format!(
        "SELECT {BATCH_COLUMNS} FROM sync_batches WHERE id = $1 AND client_id = $2"
    ))
    .bind(id)
    .bind(client)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    else {
        return Ok(None);
    };
    let batch = BatchRow {
        id: get(&b, 0)?,
        client_id: get(&b, 1)?,
        company_id: get(&b, 2)?,
        is_initial: get(&b, 3)?,
        requested: get(&b, 4)?,
        completed: get(&b, 5)?,
    }
    .into_domain()?;
    let rows = sqlx::query(&format!(
        "SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.batch_id = $1 AND d.client_id = $2 \
         ORDER BY d.requested, d.id"
    ))
    .bind(id)
    .bind(client)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let datasets = rows.iter().map(dataset).collect::<Result<Vec<_>>>()?;
    Ok(Some((batch, datasets)))
}

pub(crate) async fn complete_batch(
    tx: &mut PgConnection,
    client: &str,
    id: &str,
    at: Timestamp,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE sync_batches SET completed = $3 WHERE id = $1 AND client_id = $2 \
         AND completed IS NULL",
    )
    .bind(id)
    .bind(client)
    .bind(at.as_millis())
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    Ok(n == 1)
}

pub(crate) async fn list_records(
    pool: &sqlx::PgPool,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: &str,
    page: PageRequest,
) -> Result<Page<StoredRecord>> {
    let scope = "FROM data_records r WHERE r.company_id = $1 AND r.data_type = $2 \
                 AND r.client_id = $3 AND ($4::text IS NULL OR r.connection_id = $4)";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {scope}"))
        .bind(company)
        .bind(data_type)
        .bind(client)
        .bind(connection)
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
    let rows = sqlx::query(&format!(
        "SELECT {RECORD_COLUMNS} {scope} ORDER BY r.record_id, r.connection_id LIMIT $5 OFFSET $6"
    ))
    .bind(company)
    .bind(data_type)
    .bind(client)
    .bind(connection)
    .bind(i64::try_from(page.limit()).unwrap_or(i64::MAX))
    .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(Page {
        items: rows
            .iter()
            .map(|r| record(r, false))
            .collect::<Result<Vec<_>>>()?,
        total: u64::try_from(total).unwrap_or(0),
        request: page,
    })
}

pub(crate) async fn get_record(
    pool: &sqlx::PgPool,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: &str,
    record_id: &str,
) -> Result<Option<StoredRecord>> {
    sqlx::query(&format!(
        "SELECT {RECORD_COLUMNS}, r.raw FROM data_records r WHERE r.company_id = $1 \
         AND r.data_type = $2 AND r.record_id = $3 AND r.client_id = $4 \
         AND ($5::text IS NULL OR r.connection_id = $5) ORDER BY r.connection_id LIMIT 1"
    ))
    .bind(company)
    .bind(data_type)
    .bind(record_id)
    .bind(client)
    .bind(connection)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    .map(|r| record(&r, true))
    .transpose()
}
