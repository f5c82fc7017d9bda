//! Bulk migration runs and batches (see `finlink_store::migration`).

use finlink_domain::company::Company;
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::{Error, Result, Timestamp};
use finlink_store::migration::{MigrationBatch, MigrationCounts, MigrationRowRecord, MigrationRun};
use finlink_store::rows::{
    COMPANY_COLUMNS, CompanyRow, ConnectionRow, CredentialsRow, attach_connections,
};
use rusqlite::{Connection as Db, OptionalExtension, Row, params, params_from_iter};

use crate::pool::db_error;
use crate::store::{company_row, connections_of, enqueue_job_tx, insert_audit_tx};

pub(crate) const RUN_COLUMNS: &str = "id, client_id, fingerprint, source, format, options, status, detail, \
     total_rows, canary_rows, watermark, created_count, updated_count, unchanged_count, duplicate_count, \
     invalid_count, failed_count, companies_created, created, updated, completed";

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A run row as read: its text columns, its number columns, its detail and completion time.
type RawRun = (Vec<String>, Vec<i64>, Option<String>, Option<i64>);

fn run_row(r: &Row<'_>) -> rusqlite::Result<RawRun> {
    let texts = vec![
        r.get::<_, String>(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ];
    let mut nums = Vec::with_capacity(12);
    for k in 8..20 {
        nums.push(r.get::<_, i64>(k)?);
    }
    Ok((texts, nums, r.get(7)?, r.get(20)?))
}

fn run_from((t, n, detail, completed): RawRun) -> Result<MigrationRun> {
    let get = |k: usize| t.get(k).cloned().unwrap_or_default();
    let num = |k: usize| n.get(k).copied().unwrap_or(0);
    Ok(MigrationRun {
        id: uuid::Uuid::parse_str(&get(0))
            .map_err(|_| Error::internal("stored migration run id is not a UUID"))?,
        client_id: ClientId::parse(&get(1))?,
        fingerprint: get(2),
        source: get(3),
        format: get(4),
        options: get(5),
        status: get(6),
        detail,
        total_rows: u(num(0)),
        canary_rows: u(num(1)),
        watermark: u(num(2)),
        counts: MigrationCounts {
            created: u(num(3)),
            updated: u(num(4)),
            unchanged: u(num(5)),
            duplicate: u(num(6)),
            invalid: u(num(7)),
            failed: u(num(8)),
            companies_created: u(num(9)),
        },
        created: Timestamp::from_millis(num(10)),
        updated: Timestamp::from_millis(num(11)),
        completed: completed.map(Timestamp::from_millis),
    })
}

pub(crate) fn insert_run(tx: &Db, r: &MigrationRun) -> Result<()> {
    let c = &r.counts;
    tx.execute(
        &format!(
            "INSERT INTO migration_runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
             ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
        ),
        params![
            r.id.to_string(),
            r.client_id.to_string(),
            r.fingerprint,
            r.source,
            r.format,
            r.options,
            r.status,
            r.detail,
            i(r.total_rows),
            i(r.canary_rows),
            i(r.watermark),
            i(c.created),
            i(c.updated),
            i(c.unchanged),
            i(c.duplicate),
            i(c.invalid),
            i(c.failed),
            i(c.companies_created),
            r.created.as_millis(),
            r.updated.as_millis(),
            r.completed.map(Timestamp::as_millis)
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

pub(crate) fn get_run(db: &Db, id: &str) -> Result<Option<MigrationRun>> {
    db.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM migration_runs WHERE id = ?1"
    ))
    .map_err(db_error)?
    .query_row(params![id], run_row)
    .optional()
    .map_err(db_error)?
    .map(run_from)
    .transpose()
}

pub(crate) fn find_run(db: &Db, client: &str, fingerprint: &str) -> Result<Option<MigrationRun>> {
    db.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM migration_runs WHERE client_id = ?1 AND fingerprint = ?2 \
         ORDER BY created DESC, id DESC LIMIT 1"
    ))
    .map_err(db_error)?
    .query_row(params![client, fingerprint], run_row)
    .optional()
    .map_err(db_error)?
    .map(run_from)
    .transpose()
}

pub(crate) fn list_runs(db: &Db, limit: u32) -> Result<Vec<MigrationRun>> {
    let rows = db
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM migration_runs ORDER BY created DESC, id DESC LIMIT ?1"
        ))
        .map_err(db_error)?
        .query_map(params![limit], run_row)
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    rows.into_iter().map(run_from).collect()
}

pub(crate) fn companies(
    db: &Db,
    client: &str,
    refs: &[String],
    ids: &[CompanyId],
) -> Result<Vec<Company>> {
    let mut found: Vec<Company> = Vec::new();
    let mut query = |column: &str, keys: &[String]| -> Result<()> {
        for chunk in keys.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|k| format!("?{}", k + 2)).collect();
            let text = format!(
                "SELECT {COMPANY_COLUMNS} FROM companies c WHERE c.client_id = ?1 AND c.{column} IN ({})",
                marks.join(",")
            );
            let mut values: Vec<&str> = vec![client];
            values.extend(chunk.iter().map(String::as_str));
            let rows = db
                .prepare(&text)
                .map_err(db_error)?
                .query_map(params_from_iter(values.iter()), company_row)
                .map_err(db_error)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_error)?;
            for r in rows {
                let c = CompanyRow::into_domain(r)?;
                if !found.iter().any(|f| f.id == c.id) {
                    found.push(c);
                }
            }
        }
        Ok(())
    };
    query("consumer_id", refs)?;
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    query("id", &ids)?;
    let company_ids: Vec<String> = found.iter().map(|c| c.id.to_string()).collect();
    let mut conns = Vec::new();
    for chunk in company_ids.chunks(500) {
        conns.extend(connections_of(db, chunk)?);
    }
    attach_connections(&mut found, conns);
    Ok(found)
}

const CREDENTIALS_UPSERT: &str = "INSERT INTO credentials (client_id, company_id, connection_id, auth_type, key_id, \
     sealed, token_type, scopes, expires_at, issued_at, needs_refresh, version, updated) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12) \
     ON CONFLICT (connection_id) DO UPDATE SET auth_type = excluded.auth_type, key_id = excluded.key_id, \
     sealed = excluded.sealed, token_type = excluded.token_type, scopes = excluded.scopes, \
     expires_at = excluded.expires_at, issued_at = excluded.issued_at, \
     needs_refresh = excluded.needs_refresh, version = credentials.version + 1, updated = excluded.updated";

fn insert_credentials(tx: &Db, r: &CredentialsRow) -> Result<()> {
    tx.prepare_cached(CREDENTIALS_UPSERT)
        .map_err(db_error)?
        .execute(params![
            r.client_id,
            r.company_id,
            r.connection_id,
            r.auth_type,
            r.key_id,
            r.sealed,
            r.token_type,
            r.scopes,
            r.expires_at,
            r.issued_at,
            r.needs_refresh,
            r.updated
        ])
        .map_err(db_error)?;
    Ok(())
}

/// A batch with its rows already converted to column values, outside the writer's lock.
pub(crate) struct Prepared {
    batch: MigrationBatch,
    run: String,
    client: String,
    companies: Vec<CompanyRow>,
    connections: Vec<ConnectionRow>,
    credentials: Vec<CredentialsRow>,
    updates: Vec<(CredentialsRow, Option<String>)>,
    row_ids: Vec<(Option<String>, Option<String>)>,
    audit: finlink_store::rows::AuditRow,
}

pub(crate) fn prepare(batch: MigrationBatch) -> Prepared {
    Prepared {
        run: batch.run.to_string(),
        client: batch.client.to_string(),
        companies: batch
            .companies
            .iter()
            .map(CompanyRow::from_domain)
            .collect(),
        connections: batch
            .connections
            .iter()
            .map(ConnectionRow::from_domain)
            .collect(),
        credentials: batch
            .credentials
            .iter()
            .map(CredentialsRow::from_domain)
            .collect(),
        updates: batch
            .updates
            .iter()
            .map(|u| {
                (
                    CredentialsRow::from_domain(&u.credentials),
                    u.connection_info
                        .as_ref()
                        .map(|m| serde_json::to_string(m).unwrap_or_default()),
                )
            })
            .collect(),
        row_ids: batch
            .rows
            .iter()
            .map(|r| {
                (
                    r.company_id.map(|x| x.to_string()),
                    r.connection_id.map(|x| x.to_string()),
                )
            })
            .collect(),
        audit: finlink_store::rows::AuditRow::from_domain(&batch.audit),
        batch,
    }
}

pub(crate) fn import_batch(tx: &Db, p: &Prepared) -> Result<bool> {
    let b = &p.batch;
    let (run, client) = (&p.run, &p.client);
    let c = &b.counts;
    // The watermark moves first: a second process on the same run finds it moved and writes
    // nothing (the writer lock orders the two transactions).
    let n = tx
        .prepare_cached(
            "UPDATE migration_runs SET watermark = ?3, created_count = created_count + ?4, \
             updated_count = updated_count + ?5, unchanged_count = unchanged_count + ?6, \
             duplicate_count = duplicate_count + ?7, invalid_count = invalid_count + ?8, \
             failed_count = failed_count + ?9, companies_created = companies_created + ?10, updated = ?11 \
             WHERE id = ?1 AND watermark = ?2 AND client_id = ?12",
        )
        .map_err(db_error)?
        .execute(params![
            run,
            i(b.after_row),
            i(b.up_to_row),
            i(c.created),
            i(c.updated),
            i(c.unchanged),
            i(c.duplicate),
            i(c.invalid),
            i(c.failed),
            i(c.companies_created),
            b.at.as_millis(),
            client
        ])
        .map_err(db_error)?;
    if n == 0 {
        return Ok(false);
    }
    // A bulk import touches many index pages per batch: a larger page cache for the writer
    // (64 MB, freed with the process) keeps them in memory.
    tx.execute_batch("PRAGMA cache_size = -65536")
        .map_err(db_error)?;
    if !b.companies.is_empty() {
        let mut company = tx
            .prepare_cached(
                "INSERT INTO companies (id, client_id, name, description, tags, created, modified, last_sync, \
                 created_by_user_name, products, consumer_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(db_error)?;
        let mut tag = tx
            .prepare_cached(
                "INSERT INTO company_tags (company_id, tag_key, tag_value) VALUES (?1, ?2, ?3)",
            )
            .map_err(db_error)?;
        for (co, r) in b.companies.iter().zip(&p.companies) {
            company
                .execute(params![
                    r.id,
                    r.client_id,
                    r.name,
                    r.description,
                    r.tags,
                    r.created,
                    r.modified,
                    r.last_sync,
                    r.created_by_user_name,
                    r.products,
                    r.consumer_id
                ])
                .map_err(db_error)?;
            for (k, v) in &co.tags {
                tag.execute(params![r.id, k, v]).map_err(db_error)?;
            }
        }
        tx.prepare_cached("UPDATE clients SET company_count = company_count + ?2 WHERE id = ?1")
            .map_err(db_error)?
            .execute(params![client, i(b.companies.len() as u64)])
            .map_err(db_error)?;
    }
    {
        let mut conn = tx
            .prepare_cached(&format!(
                "INSERT INTO connections ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                finlink_store::rows::CONNECTION_INSERT_COLUMNS
            ))
            .map_err(db_error)?;
        for r in &p.connections {
            conn.execute(params![
                r.id,
                r.client_id,
                r.company_id,
                r.integration_key,
                r.integration_id,
                r.source_id,
                r.source_type,
                r.platform_name,
                r.status,
                r.created,
                r.modified,
                r.last_sync,
                r.errors,
                r.connection_info
            ])
            .map_err(db_error)?;
        }
    }
    for r in &p.credentials {
        insert_credentials(tx, r)?;
    }
    for (r, info) in &p.updates {
        let n = tx
            .prepare_cached(
                "UPDATE connections SET status = 'Linked', modified = ?4, connection_info = COALESCE(?5, connection_info), \
                 refresh_failing_since = NULL, credentials_expire_at = NULL, refresh_revoked = 0 \
                 WHERE id = ?1 AND client_id = ?2 AND company_id = ?3",
            )
            .map_err(db_error)?
            .execute(params![r.connection_id, r.client_id, r.company_id, b.at.as_millis(), info])
            .map_err(db_error)?;
        if n == 0 {
            return Err(Error::Conflict(format!(
                "connection {} was deleted while it was being migrated; run the import again",
                r.connection_id
            )));
        }
        insert_credentials(tx, r)?;
    }
    for j in &b.jobs {
        enqueue_job_tx(tx, j)?;
    }
    {
        let mut row = tx
            .prepare_cached(
                "INSERT INTO migration_rows (run_id, row_no, company_id, connection_id, company_created, outcome, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(db_error)?;
        for (r, (co, conn)) in b.rows.iter().zip(&p.row_ids) {
            row.execute(params![
                run,
                i(r.row),
                co,
                conn,
                r.company_created,
                r.outcome,
                r.error
            ])
            .map_err(db_error)?;
        }
    }
    insert_audit_tx(tx, &p.audit)?;
    Ok(true)
}

pub(crate) fn set_status(
    tx: &Db,
    id: &str,
    status: &str,
    detail: Option<&str>,
    at: Timestamp,
) -> Result<bool> {
    let completed =
        (status == finlink_store::migration::status::COMPLETED).then_some(at.as_millis());
    let n = tx
        .execute(
            "UPDATE migration_runs SET status = ?2, detail = ?3, updated = ?4, completed = COALESCE(?5, completed) \
             WHERE id = ?1",
            params![id, status, detail, at.as_millis(), completed],
        )
        .map_err(db_error)?;
    Ok(n == 1)
}

pub(crate) fn list_rows(
    db: &Db,
    run: &str,
    after: u64,
    limit: u32,
) -> Result<Vec<MigrationRowRecord>> {
    let rows = db
        .prepare_cached(
            "SELECT row_no, company_id, connection_id, company_created, outcome, error FROM migration_rows \
             WHERE run_id = ?1 AND row_no > ?2 ORDER BY row_no LIMIT ?3",
        )
        .map_err(db_error)?
        .query_map(params![run, i(after), limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    rows.into_iter()
        .map(|(row, co, conn, created, outcome, error)| {
            Ok(MigrationRowRecord {
                row: u(row),
                company_id: co.as_deref().map(CompanyId::parse).transpose()?,
                connection_id: conn.as_deref().map(ConnectionId::parse).transpose()?,
                company_created: created,
                outcome,
                error,
            })
        })
        .collect()
}

pub(crate) fn rollback(tx: &Db, id: &str, at: Timestamp) -> Result<u64> {
    let Some(run) = get_run(tx, id)? else {
        return Ok(0);
    };
    let client = run.client_id.to_string();
    let deleted = tx
        .execute(
            "DELETE FROM connections WHERE client_id = ?2 AND id IN \
             (SELECT connection_id FROM migration_rows WHERE run_id = ?1 AND outcome = 'created')",
            params![id, client],
        )
        .map_err(db_error)?;
    let companies = tx
        .execute(
            "DELETE FROM companies WHERE client_id = ?2 AND id IN \
             (SELECT company_id FROM migration_rows WHERE run_id = ?1 AND company_created = 1) \
             AND NOT EXISTS (SELECT 1 FROM connections dc WHERE dc.company_id = companies.id)",
            params![id, client],
        )
        .map_err(db_error)?;
    tx.execute(
        "UPDATE clients SET company_count = company_count - ?2 WHERE id = ?1",
        params![client, i(companies as u64)],
    )
    .map_err(db_error)?;
    tx.execute(
        "DELETE FROM jobs WHERE kind = 'refresh' AND state = 'queued' AND concurrency_key IN \
         (SELECT 'refresh:' || connection_id FROM migration_rows WHERE run_id = ?1 AND outcome = 'created')",
        params![id],
    )
    .map_err(db_error)?;
    tx.execute("DELETE FROM migration_rows WHERE run_id = ?1", params![id])
        .map_err(db_error)?;
    tx.execute(
        "UPDATE migration_runs SET status = ?2, watermark = 0, created_count = 0, updated_count = 0, \
         unchanged_count = 0, duplicate_count = 0, invalid_count = 0, failed_count = 0, companies_created = 0, \
         updated = ?3 WHERE id = ?1",
        params![id, finlink_store::migration::status::ROLLED_BACK, at.as_millis()],
    )
    .map_err(db_error)?;
    Ok(deleted as u64)
}
