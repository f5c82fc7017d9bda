//! Syncs on SQLite: datasets, batches and stored records (see `migrations/0009_sync.sql`).
//! The functions take a connection (a transaction's, for writes); `store.rs` runs them.

use finlink_domain::data::DataType;
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::sync::{DataTypeStatus, Dataset, StoredRecord, SyncBatch};
use finlink_domain::{Result, Timestamp};
use finlink_store::rows::{
    BATCH_COLUMNS, BatchRow, DATASET_COLUMNS, DATASET_INSERT_COLUMNS, DatasetRow, RECORD_COLUMNS,
    RecordRow,
};
use finlink_store::sql::ACTIVE_DATASET_STATUSES;
use finlink_store::{DatasetStart, DatasetUpdate, PageWrite, PullBatch, QueueOutcome};
use rusqlite::{Connection as Db, OptionalExtension, Row, params};

/// Raises a company's record version for a data type (`record_versions`, read by the count
/// cache of the read endpoints); in the transaction that changes its records.
const RAISE_RECORD_VERSION: &str = "INSERT INTO record_versions (company_id, data_type, version) \
     VALUES (?1, ?2, 1) ON CONFLICT (company_id, data_type) \
     DO UPDATE SET version = record_versions.version + 1";

use crate::pool::db_error;

pub(crate) fn dataset_row(r: &Row<'_>) -> rusqlite::Result<DatasetRow> {
    Ok(DatasetRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        company_id: r.get(2)?,
        connection_id: r.get(3)?,
        batch_id: r.get(4)?,
        data_type: r.get(5)?,
        status: r.get(6)?,
        status_description: r.get(7)?,
        error_message: r.get(8)?,
        requested: r.get(9)?,
        started: r.get(10)?,
        completed: r.get(11)?,
        progress: r.get(12)?,
        is_initial: r.get(13)?,
        resume_page: r.get(14)?,
        records: r.get(15)?,
        rejected: r.get(16)?,
        changed: r.get(17)?,
        modified_since: r.get(18)?,
        max_source_modified: r.get(19)?,
        updated: r.get(20)?,
    })
}

fn batch_row(r: &Row<'_>) -> rusqlite::Result<BatchRow> {
    Ok(BatchRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        company_id: r.get(2)?,
        is_initial: r.get(3)?,
        requested: r.get(4)?,
        completed: r.get(5)?,
    })
}

fn record_row(r: &Row<'_>, with_raw: bool) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        client_id: r.get(0)?,
        company_id: r.get(1)?,
        connection_id: r.get(2)?,
        data_type: r.get(3)?,
        record_id: r.get(4)?,
        data: r.get(5)?,
        source_modified: r.get(6)?,
        modified: r.get(7)?,
        dataset_id: r.get(8)?,
        raw: if with_raw { r.get(9)? } else { None },
    })
}

/// The dataset of this connection and data type that is queued or running.
fn active_dataset(db: &Db, connection: &str, data_type: &str) -> Result<Option<String>> {
    db.prepare_cached(&format!(
        "SELECT id FROM datasets WHERE connection_id = ?1 AND data_type = ?2 \
         AND status IN ({ACTIVE_DATASET_STATUSES})"
    ))
    .map_err(db_error)?
    .query_row(params![connection, data_type], |r| r.get(0))
    .optional()
    .map_err(db_error)
}

/// Queues `batch` in the caller's transaction (see `Store::queue_pulls`).
pub(crate) fn queue_pulls_tx(
    tx: &Db,
    batch: &PullBatch,
    all_or_nothing: bool,
) -> Result<QueueOutcome> {
    if all_or_nothing {
        for p in &batch.pulls {
            let d = &p.dataset;
            if let Some(id) =
                active_dataset(tx, &d.connection_id.to_string(), d.data_type.as_str())?
            {
                return Ok(QueueOutcome::Busy(parse_id(&id)?));
            }
        }
    }
    let mut queued = Vec::new();
    for p in &batch.pulls {
        let r = DatasetRow::from_domain(&p.dataset);
        let n = tx
            .prepare_cached(&format!(
                "INSERT INTO datasets ({DATASET_INSERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                 ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) \
                 ON CONFLICT DO NOTHING"
            ))
            .map_err(db_error)?
            .execute(params![
                r.id,
                r.client_id,
                r.company_id,
                r.connection_id,
                r.batch_id,
                r.data_type,
                r.status,
                r.status_description,
                r.error_message,
                r.requested,
                r.started,
                r.completed,
                r.progress,
                r.is_initial,
                r.resume_page,
                r.records,
                r.rejected,
                r.changed,
                r.modified_since,
                r.max_source_modified,
                r.updated
            ])
            .map_err(db_error)?;
        if n == 1 {
            crate::store::enqueue_job_tx(tx, &p.job)?;
            queued.push(p.dataset.id);
        }
    }
    if !queued.is_empty() {
        let b = BatchRow::from_domain(&batch.batch);
        tx.prepare_cached(&format!(
            "INSERT INTO sync_batches ({BATCH_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))
        .map_err(db_error)?
        .execute(params![
            b.id,
            b.client_id,
            b.company_id,
            b.is_initial,
            b.requested,
            b.completed
        ])
        .map_err(db_error)?;
    }
    Ok(QueueOutcome::Queued(queued))
}

fn parse_id(s: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s)
        .map_err(|e| finlink_domain::Error::internal(format!("stored dataset id: {e}")))
}

pub(crate) fn get_dataset(db: &Db, client: &str, id: &str) -> Result<Option<Dataset>> {
    db.prepare_cached(&format!(
        "SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.id = ?1 AND d.client_id = ?2"
    ))
    .map_err(db_error)?
    .query_row(params![id, client], dataset_row)
    .optional()
    .map_err(db_error)?
    .map(DatasetRow::into_domain)
    .transpose()
}

pub(crate) fn data_status(db: &Db, client: &str, company: &str) -> Result<Vec<DataTypeStatus>> {
    let mut latest = db
        .prepare_cached(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.company_id = ?1 AND d.client_id = ?2 \
             AND d.data_type = ?3 ORDER BY d.requested DESC, d.id DESC LIMIT 1"
        ))
        .map_err(db_error)?;
    let mut success = db
        .prepare_cached(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.company_id = ?1 AND d.client_id = ?2 \
             AND d.data_type = ?3 AND d.status = 'Complete' ORDER BY d.completed DESC, d.id DESC LIMIT 1"
        ))
        .map_err(db_error)?;
    let mut out = Vec::new();
    // One indexed lookup per data type (43): no scan of the company's whole history.
    for t in DataType::ALL {
        let Some(row) = latest
            .query_row(params![company, client, t.as_str()], dataset_row)
            .optional()
            .map_err(db_error)?
        else {
            continue;
        };
        let ok = success
            .query_row(params![company, client, t.as_str()], dataset_row)
            .optional()
            .map_err(db_error)?
            .map(DatasetRow::into_domain)
            .transpose()?;
        out.push(DataTypeStatus {
            data_type: *t,
            latest: row.into_domain()?,
            latest_success: ok,
        });
    }
    Ok(out)
}

/// The next incremental pull's modified-since: the newest source-modified time the last complete
/// pull saw, but never later than 5 minutes before it started. Pages come in id order, not
/// modified order, so a record changed on an early page while later pages were fetched has an
/// older time than the newest seen; taking the newest alone would skip it for good. (Filters
/// are inclusive, so the overlap only costs re-fetching what changed in those minutes.)
pub(crate) fn sync_watermark(
    db: &Db,
    client: &str,
    connection: &str,
    data_type: &str,
) -> Result<Option<Timestamp>> {
    let v: Option<Option<i64>> = db
        .prepare_cached(
            "SELECT CASE WHEN max_source_modified IS NULL OR started IS NULL THEN max_source_modified \
         ELSE MIN(max_source_modified, started - 300000) END FROM datasets WHERE connection_id = ?1 AND client_id = ?2 \
             AND data_type = ?3 AND status = 'Complete' ORDER BY completed DESC, id DESC LIMIT 1",
        )
        .map_err(db_error)?
        .query_row(params![connection, client, data_type], |r| r.get(0))
        .optional()
        .map_err(db_error)?;
    Ok(v.flatten().map(Timestamp::from_millis))
}

pub(crate) fn start_dataset(tx: &Db, s: &DatasetStart) -> Result<Option<Dataset>> {
    let (id, client) = (s.dataset.to_string(), s.client.to_string());
    let n = tx
        .prepare_cached(&format!(
            "UPDATE datasets SET status = 'Fetching', status_description = NULL, \
             modified_since = CASE WHEN started IS NULL THEN ?3 ELSE modified_since END, \
             started = COALESCE(started, ?4), run_token = ?5, updated = ?4 \
             WHERE id = ?1 AND client_id = ?2 AND status IN ({ACTIVE_DATASET_STATUSES})"
        ))
        .map_err(db_error)?
        .execute(params![
            id,
            client,
            s.modified_since.map(Timestamp::as_millis),
            s.at.as_millis(),
            s.run_token
        ])
        .map_err(db_error)?;
    if n == 0 {
        return Ok(None);
    }
    get_dataset(tx, &client, &id)
}

/// `max(column, ?n)` where either may be NULL.
fn later(column: &str, param: &str) -> String {
    format!(
        "CASE WHEN {param} IS NULL THEN {column} WHEN {column} IS NULL OR {column} < {param} \
         THEN {param} ELSE {column} END"
    )
}

pub(crate) fn store_page(tx: &Db, p: &PageWrite) -> Result<bool> {
    let (id, client) = (p.dataset.to_string(), p.client.to_string());
    let n = tx
        .prepare_cached(&format!(
            "UPDATE datasets SET resume_page = ?4, progress = COALESCE(?5, progress), \
             records = records + ?6, rejected = rejected + ?7, \
             max_source_modified = {}, \
             status = CASE WHEN ?9 THEN 'Mapping' ELSE status END, updated = ?10 \
             WHERE id = ?1 AND client_id = ?2 AND run_token = ?3 \
             AND status IN ({ACTIVE_DATASET_STATUSES})",
            later("max_source_modified", "?8")
        ))
        .map_err(db_error)?
        .execute(params![
            id,
            client,
            p.run_token,
            i64::from(p.next_page),
            p.progress.map(i64::from),
            i64::try_from(p.records.len()).unwrap_or(i64::MAX),
            i64::try_from(p.rejected).unwrap_or(i64::MAX),
            p.max_source_modified.map(Timestamp::as_millis),
            p.is_last,
            p.at.as_millis()
        ])
        .map_err(db_error)?;
    if n == 0 {
        return Ok(false);
    }
    let (company, connection, data_type) = (
        p.company.to_string(),
        p.connection.to_string(),
        p.data_type.as_str(),
    );
    // An unchanged record (same hash) is left as it is: its modifiedDate stays.
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO data_records (connection_id, data_type, record_id, client_id, company_id, \
             data, raw, hash, source_modified, modified, dataset_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (connection_id, data_type, record_id) DO UPDATE SET \
             data = excluded.data, raw = excluded.raw, hash = excluded.hash, \
             source_modified = excluded.source_modified, modified = excluded.modified, \
             dataset_id = excluded.dataset_id \
             WHERE data_records.hash <> excluded.hash",
        )
        .map_err(db_error)?;
    let mut changed = 0i64;
    for r in &p.records {
        changed += i64::try_from(
            upsert
                .execute(params![
                    connection,
                    data_type,
                    r.record_id,
                    client,
                    company,
                    r.data,
                    r.raw,
                    r.hash,
                    r.source_modified.map(Timestamp::as_millis),
                    r.modified.as_millis(),
                    id
                ])
                .map_err(db_error)?,
        )
        .unwrap_or(0);
    }
    if changed > 0 {
        tx.prepare_cached("UPDATE datasets SET changed = changed + ?2 WHERE id = ?1")
            .map_err(db_error)?
            .execute(params![id, changed])
            .map_err(db_error)?;
        tx.prepare_cached(RAISE_RECORD_VERSION)
            .map_err(db_error)?
            .execute(params![company, data_type])
            .map_err(db_error)?;
    }
    Ok(true)
}

pub(crate) fn update_dataset(tx: &Db, u: &DatasetUpdate) -> Result<Option<Dataset>> {
    let (id, client) = (u.dataset.to_string(), u.client.to_string());
    let ended = !u.status.is_in_progress();
    let complete = u.status == finlink_domain::data::DatasetStatus::Complete;
    let n = tx
        .prepare_cached(&format!(
            "UPDATE datasets SET status = ?4, status_description = ?5, error_message = ?6, \
             progress = COALESCE(?7, progress), completed = CASE WHEN ?8 THEN ?9 ELSE completed END, \
             max_source_modified = CASE WHEN ?10 THEN {} ELSE max_source_modified END, \
             updated = ?9 \
             WHERE id = ?1 AND client_id = ?2 AND (?3 IS NULL OR run_token = ?3) \
             AND status IN ({ACTIVE_DATASET_STATUSES})",
            later("max_source_modified", "modified_since")
        ))
        .map_err(db_error)?
        .execute(params![
            id,
            client,
            u.run_token,
            u.status.as_str(),
            u.status_description,
            u.error_message,
            u.progress.map(i64::from),
            ended,
            u.at.as_millis(),
            complete
        ])
        .map_err(db_error)?;
    if n == 0 {
        return Ok(None);
    }
    let Some(d) = get_dataset(tx, &client, &id)? else {
        return Ok(None);
    };
    if complete {
        let at = u.at.as_millis();
        tx.prepare_cached("UPDATE companies SET last_sync = ?2 WHERE id = ?1")
            .map_err(db_error)?
            .execute(params![d.company_id.to_string(), at])
            .map_err(db_error)?;
        tx.prepare_cached("UPDATE connections SET last_sync = ?2 WHERE id = ?1")
            .map_err(db_error)?
            .execute(params![d.connection_id.to_string(), at])
            .map_err(db_error)?;
    }
    Ok(Some(d))
}

pub(crate) fn get_batch(
    db: &Db,
    client: &str,
    id: &str,
) -> Result<Option<(SyncBatch, Vec<Dataset>)>> {
    let Some(b) = db
        .prepare_cached(&format!(
            "SELECT {BATCH_COLUMNS} FROM sync_batches WHERE id = ?1 AND client_id = ?2"
        ))
        .map_err(db_error)?
        .query_row(params![id, client], batch_row)
        .optional()
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let rows = db
        .prepare_cached(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.batch_id = ?1 AND d.client_id = ?2 \
             ORDER BY d.requested, d.id"
        ))
        .map_err(db_error)?
        .query_map(params![id, client], dataset_row)
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    let datasets = rows
        .into_iter()
        .map(DatasetRow::into_domain)
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((b.into_domain()?, datasets)))
}

pub(crate) fn complete_batch(tx: &Db, client: &str, id: &str, at: Timestamp) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE sync_batches SET completed = ?3 WHERE id = ?1 AND client_id = ?2 \
             AND completed IS NULL",
        )
        .map_err(db_error)?
        .execute(params![id, client, at.as_millis()])
        .map_err(db_error)?;
    Ok(n == 1)
}

pub(crate) fn list_records(
    db: &Db,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: &str,
    page: PageRequest,
) -> Result<Page<StoredRecord>> {
    let scope = "FROM data_records r WHERE r.company_id = ?1 AND r.data_type = ?2 \
                 AND r.client_id = ?3 AND (?4 IS NULL OR r.connection_id = ?4)";
    let total: i64 = db
        .prepare_cached(&format!("SELECT COUNT(*) {scope}"))
        .map_err(db_error)?
        .query_row(params![company, data_type, client, connection], |r| {
            r.get(0)
        })
        .map_err(db_error)?;
    let rows = db
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} {scope} ORDER BY r.record_id, r.connection_id LIMIT ?5 OFFSET ?6"
        ))
        .map_err(db_error)?
        .query_map(
            params![
                company,
                data_type,
                client,
                connection,
                i64::try_from(page.limit()).unwrap_or(i64::MAX),
                i64::try_from(page.offset()).unwrap_or(i64::MAX)
            ],
            |r| record_row(r, false),
        )
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(RecordRow::into_domain)
            .collect::<Result<Vec<_>>>()?,
        total: u64::try_from(total).unwrap_or(0),
        request: page,
    })
}

pub(crate) fn get_record(
    db: &Db,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: &str,
    record_id: &str,
) -> Result<Option<StoredRecord>> {
    db.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS}, r.raw FROM data_records r WHERE r.company_id = ?1 \
         AND r.data_type = ?2 AND r.record_id = ?3 AND r.client_id = ?4 \
         AND (?5 IS NULL OR r.connection_id = ?5) ORDER BY r.connection_id LIMIT 1"
    ))
    .map_err(db_error)?
    .query_row(
        params![company, data_type, record_id, client, connection],
        |r| record_row(r, true),
    )
    .optional()
    .map_err(db_error)?
    .map(RecordRow::into_domain)
    .transpose()
}
