use std::path::Path;

use async_trait::async_trait;
use finlink_domain::api_key::ApiKey;
use finlink_domain::client::Client;
use finlink_domain::company::Company;
use finlink_domain::connection::{Connection, ConnectionError, ConnectionStatus, SourceType};
use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::event::Event;
use finlink_domain::ids::{ApiKeyId, ClientId, CompanyId, ConnectionId};
use finlink_domain::job::{Job, JobRecord, JobResult, NewJob};
use finlink_domain::link::{IntegrationCredentials, LinkFlow};
use finlink_domain::paging::Page;
use finlink_domain::paging::PageRequest;
use finlink_domain::profile::Profile;
use finlink_domain::webhook::{Consumer, Delivery};
use finlink_domain::{Error, Result, Timestamp};
use finlink_store::rows::{
    API_KEY_COLUMNS, ApiKeyRow, CLIENT_COLUMNS, COMPANY_COLUMNS, CONNECTION_COLUMNS, ClientRow,
    CompanyRow, ConnectionRow, PROFILE_COLUMNS, ProfileRow, attach_connections,
};
use finlink_store::rows::{AUDIT_COLUMNS, AuditRow, CREDENTIAL_COLUMNS, CredentialsRow};
use finlink_store::rows::{CONNECTION_INSERT_COLUMNS, EVENT_COLUMNS, EventRow};
use finlink_store::rows::{CONSUMER_COLUMNS, ConsumerRow, DELIVERY_COLUMNS, DeliveryRow};
use finlink_store::rows::{
    INTEGRATION_CREDENTIAL_COLUMNS, IntegrationCredentialsRow, LINK_FLOW_COLUMNS, LinkFlowRow,
    errors_json,
};
use finlink_store::rows::{JOB_COLUMNS, JobRow, job_error, prefixed};
use finlink_store::sql::{self, Dialect, Param, SqlBuilder};
use finlink_store::{ApiKeyInsert, ConnectionInsert, ListQuery, Store};
use finlink_store::{ConnectionUpdate, ConnectionWrite, Effects, EventFilter};
use finlink_store::{ConsumerSecrets, SealedSecret};
use finlink_store::{DatasetStart, DatasetUpdate, PageWrite, PullBatch, QueueOutcome};
use rusqlite::types::Value;
use rusqlite::{Connection as Db, OptionalExtension, Row, params, params_from_iter};
use std::sync::Arc;

use crate::pool::{Pool, db_error};

pub struct SqliteStore {
    pool: Pool,
    /// Woken when this process enqueues a job (SQLite has no cross-process notification;
    /// other processes find new work by polling).
    jobs_ready: Arc<tokio::sync::Notify>,
    /// Counts of the read endpoints' queries, per record version.
    counts: Arc<finlink_store::records::CountCache>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let path = path.to_owned();
        let readers = std::thread::available_parallelism()
            .map(|n| n.get() * 2)
            .unwrap_or(4)
            .clamp(2, 16);
        let (pool, _spare) = tokio::task::spawn_blocking(move || Pool::open(&path, readers))
            .await
            .map_err(|e| Error::internal(format!("sqlite open task: {e}")))?
            .map_err(|e| Error::internal(format!("cannot open the SQLite database: {e}")))?;
        Ok(Self {
            pool,
            jobs_ready: Arc::default(),
            counts: Arc::default(),
        })
    }

    /// Writes with `effects` in the same transaction, and wakes this process's workers when
    /// it scheduled jobs.
    async fn write_with<T: Send + 'static>(
        &self,
        effects: &Effects,
        f: impl FnOnce(&Db) -> Result<(T, bool)> + Send + 'static,
    ) -> Result<T> {
        let effects = effects.clone();
        let wake = effects.schedules_jobs();
        let out = self
            .pool
            .write(move |tx| {
                let (out, apply) = f(tx)?;
                if apply {
                    write_effects_tx(tx, &effects)?;
                }
                Ok(out)
            })
            .await?;
        if wake {
            self.jobs_ready.notify_one();
        }
        Ok(out)
    }
}

pub(crate) fn enqueue_job_tx(tx: &Db, j: &NewJob) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT INTO jobs (id, kind, payload, run_at, attempts, max_attempts, state, fence, \
             idempotency_key, concurrency_key, created, updated) \
             VALUES (?1, ?2, ?3, ?4, 0, ?5, 'queued', 0, ?6, ?7, ?8, ?8) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .map_err(db_error)?
        .execute(params![
            j.id.to_string(),
            j.kind,
            j.payload,
            j.run_at.as_millis(),
            j.max_attempts,
            j.idempotency_key,
            j.concurrency_key,
            j.created.as_millis()
        ])
        .map_err(db_error)?;
    Ok(n == 1)
}

pub(crate) fn write_effects_tx(tx: &Db, effects: &Effects) -> Result<()> {
    for e in &effects.events {
        let r = EventRow::from_domain(e);
        tx.prepare_cached(&format!(
            "INSERT INTO events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .map_err(db_error)?
        .execute(params![
            r.id,
            r.client_id,
            r.event_type,
            r.company_id,
            r.connection_id,
            r.payload,
            r.occurred_at
        ])
        .map_err(db_error)?;
    }
    for d in &effects.deliveries {
        insert_delivery_tx(tx, d)?;
    }
    for j in &effects.jobs {
        enqueue_job_tx(tx, j)?;
    }
    if let Some(pulls) = &effects.pulls {
        crate::sync::queue_pulls_tx(tx, pulls, false)?;
    }
    Ok(())
}

fn insert_delivery_tx(tx: &Db, d: &Delivery) -> Result<()> {
    let r = DeliveryRow::from_domain(d);
    // A delivery whose consumer was deleted meanwhile is dropped (the FK would refuse it).
    tx.prepare_cached(&format!(
        "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14 \
         WHERE EXISTS (SELECT 1 FROM webhook_consumers WHERE id = ?3)"
    ))
    .map_err(db_error)?
    .execute(params![
        r.id,
        r.client_id,
        r.consumer_id,
        r.event_id,
        r.event_type,
        r.event_at,
        r.state,
        r.attempts,
        r.last_attempt_at,
        r.response_status,
        r.duration_ms,
        r.response_body,
        r.next_attempt_at,
        r.created
    ])
    .map_err(db_error)?;
    Ok(())
}

fn consumer_row(r: &Row<'_>) -> rusqlite::Result<ConsumerRow> {
    Ok(ConsumerRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        url: r.get(2)?,
        disabled: r.get(3)?,
        disabled_reason: r.get(4)?,
        event_types: r.get(5)?,
        company_tags: r.get(6)?,
        failing_since: r.get(7)?,
        created: r.get(8)?,
        updated: r.get(9)?,
    })
}

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        consumer_id: r.get(2)?,
        event_id: r.get(3)?,
        event_type: r.get(4)?,
        event_at: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        last_attempt_at: r.get(8)?,
        response_status: r.get(9)?,
        duration_ms: r.get(10)?,
        response_body: r.get(11)?,
        next_attempt_at: r.get(12)?,
        created: r.get(13)?,
    })
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    event_row_at(r, 0)
}

/// An event whose columns start at `o`.
fn event_row_at(r: &Row<'_>, o: usize) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: r.get(o)?,
        client_id: r.get(o + 1)?,
        event_type: r.get(o + 2)?,
        company_id: r.get(o + 3)?,
        connection_id: r.get(o + 4)?,
        payload: r.get(o + 5)?,
        occurred_at: r.get(o + 6)?,
    })
}

fn values(params: Vec<Param>) -> Vec<Value> {
    params
        .into_iter()
        .map(|p| match p {
            Param::Text(s) => Value::Text(s),
            Param::Int(i) => Value::Integer(i),
            Param::Real(f) => Value::Real(f),
        })
        .collect()
}

fn client_row(r: &Row<'_>) -> rusqlite::Result<ClientRow> {
    Ok(ClientRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
    })
}

fn api_key_row(r: &Row<'_>) -> rusqlite::Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        name: r.get(2)?,
        lookup: r.get(3)?,
        hash: r.get(4)?,
        permissions: r.get(5)?,
        created: r.get(6)?,
    })
}

pub(crate) fn company_row(r: &Row<'_>) -> rusqlite::Result<CompanyRow> {
    Ok(CompanyRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        tags: r.get(4)?,
        created: r.get(5)?,
        modified: r.get(6)?,
        last_sync: r.get(7)?,
        created_by_user_name: r.get(8)?,
        products: r.get(9)?,
        consumer_id: r.get(10)?,
    })
}

fn connection_row(r: &Row<'_>) -> rusqlite::Result<ConnectionRow> {
    Ok(ConnectionRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        company_id: r.get(2)?,
        integration_key: r.get(3)?,
        integration_id: r.get(4)?,
        source_id: r.get(5)?,
        source_type: r.get(6)?,
        platform_name: r.get(7)?,
        status: r.get(8)?,
        created: r.get(9)?,
        modified: r.get(10)?,
        last_sync: r.get(11)?,
        errors: r.get(12)?,
        connection_info: r.get(13)?,
        refresh_failing_since: r.get(14)?,
        refresh_last_failed_at: r.get(15)?,
        credentials_expire_at: r.get(16)?,
        refresh_revoked: r.get(17)?,
    })
}

pub(crate) fn connections_of(db: &Db, company_ids: &[String]) -> Result<Vec<Connection>> {
    if company_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=company_ids.len()).map(|i| format!("?{i}")).collect();
    let text = format!(
        "SELECT {CONNECTION_COLUMNS} FROM connections dc WHERE dc.company_id IN ({}) ORDER BY dc.created, dc.id",
        placeholders.join(",")
    );
    let mut stmt = db.prepare_cached(&text).map_err(db_error)?;
    let rows = stmt
        .query_map(params_from_iter(company_ids.iter()), connection_row)
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    rows.into_iter().map(ConnectionRow::into_domain).collect()
}

fn write_tags(tx: &Db, company: &Company) -> Result<()> {
    let id = company.id.to_string();
    tx.execute(
        "DELETE FROM company_tags WHERE company_id = ?1",
        params![id],
    )
    .map_err(db_error)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO company_tags (company_id, tag_key, tag_value) VALUES (?1, ?2, ?3)",
        )
        .map_err(db_error)?;
    for (k, v) in &company.tags {
        stmt.execute(params![id, k, v]).map_err(db_error)?;
    }
    Ok(())
}

fn run_list<T>(
    db: &Db,
    select: &str,
    where_: SqlBuilder,
    order: &str,
    q: &ListQuery,
    known_total: Option<i64>,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<(Vec<T>, u64)> {
    let count_sql = format!("SELECT COUNT(*) {}", where_.text);
    let page_sql = format!(
        "SELECT {select} {} ORDER BY {order} LIMIT {} OFFSET {}",
        where_.text,
        q.page.limit(),
        q.page.offset()
    );
    let params = values(where_.params);
    let total: i64 = match known_total {
        Some(t) => t,
        None => db
            .prepare_cached(&count_sql)
            .map_err(db_error)?
            .query_row(params_from_iter(params.iter()), |r| r.get(0))
            .map_err(db_error)?,
    };
    let mut stmt = db.prepare_cached(&page_sql).map_err(db_error)?;
    let rows = stmt
        .query_map(params_from_iter(params.iter()), map)
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

fn credentials_row(r: &Row<'_>) -> rusqlite::Result<CredentialsRow> {
    Ok(CredentialsRow {
        client_id: r.get(0)?,
        company_id: r.get(1)?,
        connection_id: r.get(2)?,
        auth_type: r.get(3)?,
        key_id: r.get(4)?,
        sealed: r.get(5)?,
        token_type: r.get(6)?,
        scopes: r.get(7)?,
        expires_at: r.get(8)?,
        issued_at: r.get(9)?,
        needs_refresh: r.get(10)?,
        version: r.get(11)?,
        updated: r.get(12)?,
    })
}

pub(crate) fn insert_audit_tx(db: &Db, a: &AuditRow) -> Result<()> {
    db.prepare_cached(&format!(
        "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))
    .map_err(db_error)?
    .execute(params![
        a.id,
        a.client_id,
        a.actor,
        a.action,
        a.company_id,
        a.connection_id,
        a.outcome,
        a.detail,
        a.at
    ])
    .map_err(db_error)?;
    Ok(())
}

/// Applies a [`ConnectionWrite`]; false when the connection does not exist.
fn apply_connection_write(
    tx: &Db,
    client: &str,
    company: &str,
    id: &str,
    w: &ConnectionWrite,
) -> Result<bool> {
    let errors = w.errors.as_deref().map(errors_json);
    let refresh = w.refresh.as_ref();
    let n = tx
        .prepare_cached(
            "UPDATE connections SET status = COALESCE(?4, status), errors = COALESCE(?5, errors), \
             refresh_failing_since = CASE WHEN ?6 THEN ?7 ELSE refresh_failing_since END, \
             refresh_last_failed_at = CASE WHEN ?6 THEN ?8 ELSE refresh_last_failed_at END, \
             credentials_expire_at = CASE WHEN ?6 THEN ?9 ELSE credentials_expire_at END, \
             refresh_revoked = CASE WHEN ?6 THEN ?10 ELSE refresh_revoked END, modified = ?11 \
             WHERE id = ?1 AND client_id = ?2 AND company_id = ?3 \
             AND (NOT ?12 OR refresh_failing_since IS NOT NULL) \
             AND (NOT ?13 OR status IN ('Linked', 'Deauthorized'))",
        )
        .map_err(db_error)?
        .execute(params![
            id,
            client,
            company,
            w.status.map(|s| s.as_str()),
            errors,
            refresh.is_some(),
            refresh
                .and_then(|h| h.failing_since)
                .map(Timestamp::as_millis),
            refresh
                .and_then(|h| h.last_failed_at)
                .map(Timestamp::as_millis),
            refresh
                .and_then(|h| h.credentials_expire_at)
                .map(Timestamp::as_millis),
            refresh.is_some_and(|h| h.revoked),
            w.at.as_millis(),
            w.only_if_failing,
            w.only_if_connected
        ])
        .map_err(db_error)?;
    if n == 0 {
        return Ok(false);
    }
    if w.drop_credentials {
        tx.execute(
            "DELETE FROM credentials WHERE connection_id = ?1 AND client_id = ?2",
            params![id, client],
        )
        .map_err(db_error)?;
    }
    Ok(true)
}

fn get_connection_tx(db: &Db, client: &str, company: &str, id: &str) -> Result<Option<Connection>> {
    db.prepare_cached(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM connections dc WHERE dc.id = ?1 AND dc.client_id = ?2 AND dc.company_id = ?3"
    ))
    .map_err(db_error)?
    .query_row(params![id, client, company], connection_row)
    .optional()
    .map_err(db_error)?
    .map(ConnectionRow::into_domain)
    .transpose()
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.pool
            .read(|db| db.query_row("SELECT 1", [], |_| Ok(())).map_err(db_error))
            .await
    }

    async fn insert_client(&self, client: &Client, profile: &Profile) -> Result<()> {
        let (id, name, created) = (
            client.id.to_string(),
            client.name.clone(),
            client.created.as_millis(),
        );
        let p = ProfileRow::from_domain(profile);
        self.pool
            .write(move |tx| {
                tx.execute("INSERT INTO clients (id, name, created) VALUES (?1, ?2, ?3)", params![id, name, created])
                    .map_err(db_error)?;
                tx.execute(
                    &format!("INSERT INTO profiles (client_id, {PROFILE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                    params![id, p.name, p.redirect_url, p.logo_url, p.icon_url, p.white_list_urls, p.confirm_company_name, p.link_settings],
                )
                .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn get_client(&self, id: ClientId) -> Result<Option<Client>> {
        let id = id.to_string();
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {CLIENT_COLUMNS} FROM clients WHERE id = ?1"
                ))
                .map_err(db_error)?
                .query_row(params![id], client_row)
                .optional()
                .map_err(db_error)?
                .map(ClientRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn list_clients(&self) -> Result<Vec<Client>> {
        self.pool
            .read(|db| {
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created, id"
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map([], client_row)
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_error)?;
                rows.into_iter().map(ClientRow::into_domain).collect()
            })
            .await
    }

    async fn insert_api_key(&self, key: &ApiKey, max_per_client: u32) -> Result<ApiKeyInsert> {
        let r = ApiKeyRow::from_domain(key);
        self.pool
            .write(move |tx| {
                let n: i64 = tx
                    .query_row("SELECT COUNT(*) FROM api_keys WHERE client_id = ?1", params![r.client_id], |x| x.get(0))
                    .map_err(db_error)?;
                if n >= i64::from(max_per_client) {
                    return Ok(ApiKeyInsert::LimitReached);
                }
                tx.execute(
                    &format!("INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                    params![r.id, r.client_id, r.name, r.lookup, r.hash, r.permissions, r.created],
                )
                .map_err(db_error)?;
                Ok(ApiKeyInsert::Inserted)
            })
            .await
    }

    async fn find_api_key(&self, lookup: &str) -> Result<Option<ApiKey>> {
        let lookup = lookup.to_owned();
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE lookup = ?1"
                ))
                .map_err(db_error)?
                .query_row(params![lookup], api_key_row)
                .optional()
                .map_err(db_error)?
                .map(ApiKeyRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn list_api_keys(&self, client: ClientId) -> Result<Vec<ApiKey>> {
        let client = client.to_string();
        self.pool
            .read(move |db| {
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE client_id = ?1 ORDER BY created, id"
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(params![client], api_key_row)
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_error)?;
                rows.into_iter().map(ApiKeyRow::into_domain).collect()
            })
            .await
    }

    async fn delete_api_key(&self, client: ClientId, id: ApiKeyId) -> Result<bool> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "DELETE FROM api_keys WHERE id = ?1 AND client_id = ?2",
                        params![id, client],
                    )
                    .map_err(db_error)?;
                Ok(n > 0)
            })
            .await
    }

    async fn get_profile(&self, client: ClientId) -> Result<Option<Profile>> {
        let client = client.to_string();
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {PROFILE_COLUMNS} FROM profiles WHERE client_id = ?1"
                ))
                .map_err(db_error)?
                .query_row(params![client], |r| {
                    Ok(ProfileRow {
                        name: r.get(0)?,
                        redirect_url: r.get(1)?,
                        logo_url: r.get(2)?,
                        icon_url: r.get(3)?,
                        white_list_urls: r.get(4)?,
                        confirm_company_name: r.get(5)?,
                        link_settings: r.get(6)?,
                    })
                })
                .optional()
                .map_err(db_error)?
                .map(ProfileRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn put_profile(&self, client: ClientId, profile: &Profile) -> Result<()> {
        let client = client.to_string();
        let p = ProfileRow::from_domain(profile);
        self.pool
            .write(move |tx| {
                tx.execute(
                    &format!(
                        "INSERT INTO profiles (client_id, {PROFILE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                         ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, redirect_url = excluded.redirect_url, \
                         logo_url = excluded.logo_url, icon_url = excluded.icon_url, \
                         white_list_urls = excluded.white_list_urls, confirm_company_name = excluded.confirm_company_name, \
                         link_settings = excluded.link_settings"
                    ),
                    params![client, p.name, p.redirect_url, p.logo_url, p.icon_url, p.white_list_urls, p.confirm_company_name, p.link_settings],
                )
                .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn insert_company(&self, company: &Company, effects: &Effects) -> Result<()> {
        let r = CompanyRow::from_domain(company);
        let company = company.clone();
        self.write_with(effects, move |tx| {
                tx.execute(
                    "INSERT INTO companies (id, client_id, name, description, tags, created, modified, last_sync, \
                     created_by_user_name, products, consumer_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![
                        r.id, r.client_id, r.name, r.description, r.tags, r.created, r.modified, r.last_sync,
                        r.created_by_user_name, r.products, r.consumer_id
                    ],
                )
                .map_err(db_error)?;
                tx.execute("UPDATE clients SET company_count = company_count + 1 WHERE id = ?1", params![r.client_id])
                    .map_err(db_error)?;
                write_tags(tx, &company).map(|()| ((), true))
            })
            .await
    }

    async fn company_owner(&self, id: CompanyId) -> Result<Option<ClientId>> {
        let id = id.to_string();
        let owner: Option<String> = self
            .pool
            .read_point(move |db| {
                db.prepare_cached("SELECT client_id FROM companies WHERE id = ?1")
                    .map_err(db_error)?
                    .query_row(params![id], |r| r.get(0))
                    .optional()
                    .map_err(db_error)
            })
            .await?;
        owner.map(|o| ClientId::parse(&o)).transpose()
    }

    async fn get_company(&self, client: ClientId, id: CompanyId) -> Result<Option<Company>> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .read_point(move |db| {
                let row = db
                    .prepare_cached(&format!(
                        "SELECT {COMPANY_COLUMNS} FROM companies c WHERE c.id = ?1 AND c.client_id = ?2"
                    ))
                    .map_err(db_error)?
                    .query_row(params![id, client], company_row)
                    .optional()
                    .map_err(db_error)?;
                let Some(row) = row else { return Ok(None) };
                let mut company = row.into_domain()?;
                company.connections = connections_of(db, &[id])?;
                Ok(Some(company))
            })
            .await
    }

    async fn update_company(&self, company: &Company) -> Result<bool> {
        let r = CompanyRow::from_domain(company);
        let company = company.clone();
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "UPDATE companies SET name = ?3, description = ?4, tags = ?5, modified = ?6, \
                         consumer_id = ?7, last_sync = ?8, products = ?9 WHERE id = ?1 AND client_id = ?2",
                        params![r.id, r.client_id, r.name, r.description, r.tags, r.modified, r.consumer_id, r.last_sync, r.products],
                    )
                    .map_err(db_error)?;
                if n == 0 {
                    return Ok(false);
                }
                write_tags(tx, &company)?;
                Ok(true)
            })
            .await
    }

    async fn delete_company(
        &self,
        client: ClientId,
        id: CompanyId,
        effects: &Effects,
    ) -> Result<bool> {
        let (client, id) = (client.to_string(), id.to_string());
        self.write_with(effects, move |tx| {
            // Connections and tags go with it (ON DELETE CASCADE).
            let n = tx
                .execute(
                    "DELETE FROM companies WHERE id = ?1 AND client_id = ?2",
                    params![id, client],
                )
                .map_err(db_error)?;
            if n > 0 {
                tx.execute(
                    "UPDATE clients SET company_count = company_count - 1 WHERE id = ?1",
                    params![client],
                )
                .map_err(db_error)?;
            }
            Ok((n > 0, n > 0))
        })
        .await
    }

    async fn list_companies(&self, client: ClientId, query: &ListQuery) -> Result<Page<Company>> {
        let order = sql::order_by(&sql::COMPANIES, query.order.as_ref())?;
        let where_ = sql::list_where(
            Dialect::Sqlite,
            "FROM companies c",
            &[Param::Text(client.to_string())],
            &sql::COMPANIES,
            query,
        )?;
        let q = query.clone();
        let unfiltered = query.filter.is_none() && query.tags.is_none() && !query.consumers_only;
        let client = client.to_string();
        self.pool
            .read_list(unfiltered, move |db| {
                let known_total = if unfiltered {
                    db.prepare_cached("SELECT company_count FROM clients WHERE id = ?1")
                        .map_err(db_error)?
                        .query_row(params![client], |r| r.get::<_, i64>(0))
                        .optional()
                        .map_err(db_error)?
                        .or(Some(0))
                } else {
                    None
                };
                let (rows, total) = run_list(
                    db,
                    COMPANY_COLUMNS,
                    where_,
                    &order,
                    &q,
                    known_total,
                    company_row,
                )?;
                let mut companies = rows
                    .into_iter()
                    .map(CompanyRow::into_domain)
                    .collect::<Result<Vec<_>>>()?;
                let ids: Vec<String> = companies.iter().map(|c| c.id.to_string()).collect();
                attach_connections(&mut companies, connections_of(db, &ids)?);
                Ok(Page {
                    items: companies,
                    total,
                    request: q.page,
                })
            })
            .await
    }

    async fn insert_connection(
        &self,
        connection: &Connection,
        effects: &Effects,
    ) -> Result<ConnectionInsert> {
        let r = ConnectionRow::from_domain(connection);
        let accounting = connection.source_type == SourceType::Accounting;
        self.write_with(effects, move |tx| {
                let exists: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM companies WHERE id = ?1 AND client_id = ?2",
                        params![r.company_id, r.client_id],
                        |x| x.get(0),
                    )
                    .optional()
                    .map_err(db_error)?;
                if exists.is_none() {
                    return Ok((ConnectionInsert::NoSuchCompany, false));
                }
                if accounting {
                    let existing: Option<String> = tx
                        .query_row(
                            "SELECT id FROM connections WHERE company_id = ?1 AND source_type = 'Accounting'",
                            params![r.company_id],
                            |x| x.get(0),
                        )
                        .optional()
                        .map_err(db_error)?;
                    if let Some(id) = existing {
                        let id = ConnectionId::parse(&id)?;
                        return Ok((ConnectionInsert::AccountingExists(id), false));
                    }
                }
                tx.execute(
                    &format!(
                        "INSERT INTO connections ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                        CONNECTION_INSERT_COLUMNS
                    ),
                    params![
                        r.id, r.client_id, r.company_id, r.integration_key, r.integration_id, r.source_id,
                        r.source_type, r.platform_name, r.status, r.created, r.modified, r.last_sync, r.errors,
                        r.connection_info
                    ],
                )
                .map_err(db_error)?;
                Ok((ConnectionInsert::Inserted, true))
            })
            .await
    }

    async fn get_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
    ) -> Result<Option<Connection>> {
        let (client, company, id) = (client.to_string(), company.to_string(), id.to_string());
        self.pool
            .read_point(move |db| get_connection_tx(db, &client, &company, &id))
            .await
    }

    async fn list_connections(
        &self,
        client: ClientId,
        company: CompanyId,
        query: &ListQuery,
    ) -> Result<Page<Connection>> {
        let order = sql::order_by(&sql::CONNECTIONS, query.order.as_ref())?;
        let where_ = sql::list_where(
            Dialect::Sqlite,
            "FROM connections dc",
            &[
                Param::Text(client.to_string()),
                Param::Text(company.to_string()),
            ],
            &sql::CONNECTIONS,
            query,
        )?;
        let q = query.clone();
        self.pool
            .read(move |db| {
                let (rows, total) = run_list(
                    db,
                    CONNECTION_COLUMNS,
                    where_,
                    &order,
                    &q,
                    None,
                    connection_row,
                )?;
                let items = rows
                    .into_iter()
                    .map(ConnectionRow::into_domain)
                    .collect::<Result<Vec<_>>>()?;
                Ok(Page {
                    items,
                    total,
                    request: q.page,
                })
            })
            .await
    }

    async fn set_connection_status(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        status: ConnectionStatus,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<Option<Connection>> {
        let (client, company, id) = (client.to_string(), company.to_string(), id.to_string());
        self.write_with(effects, move |tx| {
                let n = tx
                    .execute(
                        "UPDATE connections SET status = ?4, modified = ?5 WHERE id = ?1 AND client_id = ?2 AND company_id = ?3",
                        params![id, client, company, status.as_str(), at.as_millis()],
                    )
                    .map_err(db_error)?;
                if n == 0 {
                    return Ok((None, false));
                }
                Ok((get_connection_tx(tx, &client, &company, &id)?, true))
            })
            .await
    }

    async fn update_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        write: &ConnectionWrite,
        effects: &Effects,
    ) -> Result<Option<Connection>> {
        let (client, company, id) = (client.to_string(), company.to_string(), id.to_string());
        let write = write.clone();
        self.write_with(effects, move |tx| {
            if !apply_connection_write(tx, &client, &company, &id, &write)? {
                return Ok((None, false));
            }
            Ok((get_connection_tx(tx, &client, &company, &id)?, true))
        })
        .await
    }

    async fn delete_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        effects: &Effects,
    ) -> Result<bool> {
        let (client, company, id) = (client.to_string(), company.to_string(), id.to_string());
        self.write_with(effects, move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM connections WHERE id = ?1 AND client_id = ?2 AND company_id = ?3",
                    params![id, client, company],
                )
                .map_err(db_error)?;
            if n > 0 {
                // Its records went with it: counts of the company's records are stale.
                tx.execute(
                    "UPDATE record_versions SET version = version + 1 WHERE company_id = ?1",
                    params![company],
                )
                .map_err(db_error)?;
            }
            Ok((n > 0, n > 0))
        })
        .await
    }

    async fn store_credentials(
        &self,
        credentials: &SealedCredentials,
        update: &ConnectionUpdate,
        audit: &AuditEntry,
        effects: &Effects,
    ) -> Result<Option<Connection>> {
        let r = CredentialsRow::from_domain(credentials);
        let a = AuditRow::from_domain(audit);
        let status = update.status.as_str();
        let info = update
            .connection_info
            .as_ref()
            .map(|m| serde_json::to_string(m).unwrap_or_default());
        let at = update.at.as_millis();
        let errors = update.errors.as_deref().map(errors_json);
        self.write_with(effects, move |tx| {
                let n = tx
                    .execute(
                        "UPDATE connections SET status = ?4, modified = ?5, connection_info = COALESCE(?6, connection_info), \
                         errors = COALESCE(?7, errors), refresh_failing_since = NULL, credentials_expire_at = NULL, \
                         refresh_revoked = 0 \
                         WHERE id = ?1 AND client_id = ?2 AND company_id = ?3",
                        params![r.connection_id, r.client_id, r.company_id, status, at, info, errors],
                    )
                    .map_err(db_error)?;
                if n == 0 {
                    return Ok((None, false));
                }
                tx.execute(
                    &format!(
                        "INSERT INTO credentials ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12) \
                         ON CONFLICT (connection_id) DO UPDATE SET auth_type = excluded.auth_type, key_id = excluded.key_id, \
                         sealed = excluded.sealed, token_type = excluded.token_type, scopes = excluded.scopes, \
                         expires_at = excluded.expires_at, issued_at = excluded.issued_at, \
                         needs_refresh = excluded.needs_refresh, version = credentials.version + 1, updated = excluded.updated",
                        CREDENTIAL_COLUMNS.replace("cr.", "")
                    ),
                    params![
                        r.client_id, r.company_id, r.connection_id, r.auth_type, r.key_id, r.sealed, r.token_type,
                        r.scopes, r.expires_at, r.issued_at, r.needs_refresh, r.updated
                    ],
                )
                .map_err(db_error)?;
                insert_audit_tx(tx, &a)?;
                Ok((get_connection_tx(tx, &r.client_id, &r.company_id, &r.connection_id)?, true))
            })
            .await
    }

    async fn get_credentials(
        &self,
        client: ClientId,
        connection: ConnectionId,
    ) -> Result<Option<SealedCredentials>> {
        let (client, connection) = (client.to_string(), connection.to_string());
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {CREDENTIAL_COLUMNS} FROM credentials cr WHERE cr.connection_id = ?1 AND cr.client_id = ?2"
                ))
                .map_err(db_error)?
                .query_row(params![connection, client], credentials_row)
                .optional()
                .map_err(db_error)?
                .map(CredentialsRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn swap_credentials(
        &self,
        credentials: &SealedCredentials,
        expected_version: i64,
        write: Option<&ConnectionWrite>,
        effects: &Effects,
    ) -> Result<bool> {
        let r = CredentialsRow::from_domain(credentials);
        let write = write.cloned();
        self.write_with(effects, move |tx| {
                let n = tx
                    .execute(
                        "UPDATE credentials SET key_id = ?3, sealed = ?4, token_type = ?5, scopes = ?6, expires_at = ?7, \
                         issued_at = ?8, needs_refresh = ?9, version = version + 1, updated = ?10 \
                         WHERE connection_id = ?1 AND client_id = ?2 AND version = ?11",
                        params![
                            r.connection_id, r.client_id, r.key_id, r.sealed, r.token_type, r.scopes, r.expires_at,
                            r.issued_at, r.needs_refresh, r.updated, expected_version
                        ],
                    )
                    .map_err(db_error)?;
                if n == 1
                    && let Some(w) = &write
                {
                    apply_connection_write(tx, &r.client_id, &r.company_id, &r.connection_id, w)?;
                }
                Ok((n == 1, n == 1))
            })
            .await
    }

    async fn connection_status_counts(&self) -> Result<Vec<(String, u64)>> {
        self.pool
            .read(|db| {
                count_by(
                    db,
                    "SELECT status, COUNT(*) FROM connections GROUP BY status ORDER BY status",
                )
            })
            .await
    }

    async fn credential_key_counts(&self) -> Result<Vec<(String, u64)>> {
        self.pool.read(|db| count_by(db, "SELECT key_id, COUNT(*) FROM (SELECT key_id FROM credentials UNION ALL SELECT key_id FROM integration_credentials WHERE key_id IS NOT NULL UNION ALL SELECT key_id FROM webhook_consumers UNION ALL SELECT previous_key_id FROM webhook_consumers WHERE previous_key_id IS NOT NULL) k GROUP BY key_id ORDER BY key_id")).await
    }

    async fn credentials_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<SealedCredentials>> {
        let active_key = active_key.to_owned();
        self.pool
            .read(move |db| {
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {CREDENTIAL_COLUMNS} FROM credentials cr WHERE cr.key_id <> ?1 ORDER BY cr.connection_id LIMIT ?2"
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(params![active_key, limit], credentials_row)
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_error)?;
                rows.into_iter().map(CredentialsRow::into_domain).collect()
            })
            .await
    }

    async fn insert_audit(&self, entry: &AuditEntry) -> Result<()> {
        let a = AuditRow::from_domain(entry);
        self.pool.write(move |tx| insert_audit_tx(tx, &a)).await
    }

    async fn set_connection_errors(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        errors: &[ConnectionError],
        audit: &AuditEntry,
    ) -> Result<Option<Connection>> {
        let (client, company, id) = (client.to_string(), company.to_string(), id.to_string());
        let errors = errors_json(errors);
        let a = AuditRow::from_domain(audit);
        let at = audit.at.as_millis();
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "UPDATE connections SET errors = ?4, modified = ?5 WHERE id = ?1 AND client_id = ?2 AND company_id = ?3",
                        params![id, client, company, errors, at],
                    )
                    .map_err(db_error)?;
                if n == 0 {
                    return Ok(None);
                }
                insert_audit_tx(tx, &a)?;
                get_connection_tx(tx, &client, &company, &id)
            })
            .await
    }

    async fn list_audit(&self, client: ClientId, page: PageRequest) -> Result<Page<AuditEntry>> {
        let client = client.to_string();
        self.pool
            .read(move |db| {
                let total: i64 = db
                    .prepare_cached("SELECT COUNT(*) FROM audit WHERE client_id = ?1")
                    .map_err(db_error)?
                    .query_row(params![client], |r| r.get(0))
                    .map_err(db_error)?;
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {AUDIT_COLUMNS} FROM audit WHERE client_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2 OFFSET ?3"
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(params![client, page.limit() as i64, page.offset() as i64], |r| {
                        Ok(AuditRow {
                            id: r.get(0)?,
                            client_id: r.get(1)?,
                            actor: r.get(2)?,
                            action: r.get(3)?,
                            company_id: r.get(4)?,
                            connection_id: r.get(5)?,
                            outcome: r.get(6)?,
                            detail: r.get(7)?,
                            at: r.get(8)?,
                        })
                    })
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_error)?;
                let items = rows.into_iter().map(AuditRow::into_domain).collect::<Result<Vec<_>>>()?;
                Ok(Page { items, total: u64::try_from(total).unwrap_or(0), request: page })
            })
            .await
    }

    async fn set_connection_info(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        info: &serde_json::Map<String, serde_json::Value>,
        at: Timestamp,
    ) -> Result<Option<Connection>> {
        let (client, company, id) = (client.to_string(), company.to_string(), id.to_string());
        let info = serde_json::to_string(info)
            .map_err(|e| finlink_domain::Error::internal(e.to_string()))?;
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "UPDATE connections SET connection_info = ?4, modified = ?5 WHERE id = ?1 AND client_id = ?2 AND company_id = ?3",
                        params![id, client, company, info, at.as_millis()],
                    )
                    .map_err(db_error)?;
                if n == 0 {
                    return Ok(None);
                }
                get_connection_tx(tx, &client, &company, &id)
            })
            .await
    }

    async fn insert_link_flow(&self, flow: &LinkFlow) -> Result<()> {
        let r = LinkFlowRow::from_domain(flow);
        let cutoff = flow.created.as_millis() - 24 * 3600 * 1000;
        self.pool
            .write(move |tx| {
                tx.prepare_cached("DELETE FROM link_flows WHERE expires < ?1")
                    .map_err(db_error)?
                    .execute(params![cutoff])
                    .map_err(db_error)?;
                tx.prepare_cached(&format!(
                    "INSERT INTO link_flows ({LINK_FLOW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ))
                .map_err(db_error)?
                .execute(params![
                    r.id, r.state_hash, r.browser_hash, r.client_id, r.company_id, r.connection_id,
                    r.integration_key, r.lang, r.stage, r.sealed, r.version, r.created, r.expires
                ])
                .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn get_link_flow(&self, id: &str) -> Result<Option<LinkFlow>> {
        let id = id.to_owned();
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {LINK_FLOW_COLUMNS} FROM link_flows WHERE id = ?1"
                ))
                .map_err(db_error)?
                .query_row(params![id], link_flow_row)
                .optional()
                .map_err(db_error)?
                .map(LinkFlowRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn find_link_flow_by_state(&self, state_hash: &str) -> Result<Option<LinkFlow>> {
        let state_hash = state_hash.to_owned();
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {LINK_FLOW_COLUMNS} FROM link_flows WHERE state_hash = ?1"
                ))
                .map_err(db_error)?
                .query_row(params![state_hash], link_flow_row)
                .optional()
                .map_err(db_error)?
                .map(LinkFlowRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn update_link_flow(&self, flow: &LinkFlow, expected_version: i64) -> Result<bool> {
        let r = LinkFlowRow::from_domain(flow);
        self.pool
            .write(move |tx| {
                let n = tx
                    .prepare_cached(
                        "UPDATE link_flows SET stage = ?2, sealed = ?3, expires = ?4, version = ?5 + 1 \
                         WHERE id = ?1 AND version = ?5",
                    )
                    .map_err(db_error)?
                    .execute(params![r.id, r.stage, r.sealed, r.expires, expected_version])
                    .map_err(db_error)?;
                Ok(n == 1)
            })
            .await
    }

    async fn put_integration_credentials(&self, creds: &IntegrationCredentials) -> Result<()> {
        let r = IntegrationCredentialsRow::from_domain(creds);
        self.pool
            .write(move |tx| {
                tx.execute(
                    &format!(
                        "INSERT INTO integration_credentials ({INTEGRATION_CREDENTIAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (client_id, integration_key) DO UPDATE SET oauth_client_id = excluded.oauth_client_id, \
                         sealed_secret = excluded.sealed_secret, key_id = excluded.key_id, updated = excluded.updated"
                    ),
                    params![r.client_id, r.integration_key, r.oauth_client_id, r.sealed_secret, r.key_id, r.updated],
                )
                .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn get_integration_credentials(
        &self,
        client: ClientId,
        integration_key: &str,
    ) -> Result<Option<IntegrationCredentials>> {
        let (client, key) = (client.to_string(), integration_key.to_owned());
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {INTEGRATION_CREDENTIAL_COLUMNS} FROM integration_credentials WHERE client_id = ?1 AND integration_key = ?2"
                ))
                .map_err(db_error)?
                .query_row(params![client, key], integration_credentials_row)
                .optional()
                .map_err(db_error)?
                .map(IntegrationCredentialsRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn list_integration_credentials(
        &self,
        client: ClientId,
    ) -> Result<Vec<IntegrationCredentials>> {
        let client = client.to_string();
        self.pool
            .read(move |db| {
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {INTEGRATION_CREDENTIAL_COLUMNS} FROM integration_credentials WHERE client_id = ?1 ORDER BY integration_key"
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(params![client], integration_credentials_row)
                    .map_err(db_error)?;
                let mut out = Vec::new();
                for r in rows {
                    out.push(r.map_err(db_error)?.into_domain()?);
                }
                Ok(out)
            })
            .await
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<bool> {
        let j = job.clone();
        let added = self.pool.write(move |tx| enqueue_job_tx(tx, &j)).await?;
        if added {
            self.jobs_ready.notify_one();
        }
        Ok(added)
    }

    async fn get_event(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Event>> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1 AND client_id = ?2"
                ))
                .map_err(db_error)?
                .query_row(params![id, client], event_row)
                .optional()
                .map_err(db_error)?
                .map(EventRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn insert_consumer(
        &self,
        consumer: &Consumer,
        secret: &SealedSecret,
        max: usize,
    ) -> Result<bool> {
        let r = ConsumerRow::from_domain(consumer);
        let secret = secret.clone();
        self.pool
            .write(move |tx| {
                let n: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM webhook_consumers WHERE client_id = ?1",
                        params![r.client_id],
                        |x| x.get(0),
                    )
                    .map_err(db_error)?;
                if usize::try_from(n).unwrap_or(usize::MAX) >= max {
                    return Ok(false);
                }
                tx.execute(
                    &format!(
                        "INSERT INTO webhook_consumers ({CONSUMER_COLUMNS}, key_id, secret) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                    ),
                    params![
                        r.id,
                        r.client_id,
                        r.url,
                        r.disabled,
                        r.disabled_reason,
                        r.event_types,
                        r.company_tags,
                        r.failing_since,
                        r.created,
                        r.updated,
                        secret.key_id,
                        secret.sealed
                    ],
                )
                .map_err(db_error)?;
                Ok(true)
            })
            .await
    }

    async fn list_consumers(&self, client: ClientId) -> Result<Vec<Consumer>> {
        let client = client.to_string();
        self.pool
            .read(move |db| {
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {CONSUMER_COLUMNS} FROM webhook_consumers WHERE client_id = ?1 ORDER BY created, id"
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(params![client], consumer_row)
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_error)?;
                rows.into_iter().map(ConsumerRow::into_domain).collect()
            })
            .await
    }

    async fn get_consumer(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Consumer>> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {CONSUMER_COLUMNS} FROM webhook_consumers WHERE id = ?1 AND client_id = ?2"
                ))
                .map_err(db_error)?
                .query_row(params![id, client], consumer_row)
                .optional()
                .map_err(db_error)?
                .map(ConsumerRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn update_consumer(&self, consumer: &Consumer) -> Result<bool> {
        let r = ConsumerRow::from_domain(consumer);
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "UPDATE webhook_consumers SET url = ?3, disabled = ?4, disabled_reason = ?5, event_types = ?6, \
                         company_tags = ?7, failing_since = ?8, updated = ?9 WHERE id = ?1 AND client_id = ?2",
                        params![
                            r.id, r.client_id, r.url, r.disabled, r.disabled_reason, r.event_types, r.company_tags,
                            r.failing_since, r.updated
                        ],
                    )
                    .map_err(db_error)?;
                Ok(n == 1)
            })
            .await
    }

    async fn note_consumer_failure(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        at: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let (client, id) = (client.to_string(), id.to_string());
        let since: Option<i64> = self
            .pool
            .write(move |tx| {
                tx.query_row(
                    "UPDATE webhook_consumers SET failing_since = COALESCE(failing_since, ?3) \
                     WHERE id = ?1 AND client_id = ?2 RETURNING failing_since",
                    params![id, client, at.as_millis()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_error)
            })
            .await?;
        Ok(since.map(Timestamp::from_millis))
    }

    async fn note_consumer_success(&self, client: ClientId, id: uuid::Uuid) -> Result<()> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .write(move |tx| {
                tx.execute(
                    "UPDATE webhook_consumers SET failing_since = NULL \
                     WHERE id = ?1 AND client_id = ?2 AND failing_since IS NOT NULL",
                    params![id, client],
                )
                .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn disable_consumer(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        reason: &str,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool> {
        let (client, id, reason) = (client.to_string(), id.to_string(), reason.to_owned());
        self.write_with(effects, move |tx| {
            let n = tx
                .execute(
                    "UPDATE webhook_consumers SET disabled = 1, disabled_reason = ?3, updated = ?4 \
                     WHERE id = ?1 AND client_id = ?2 AND disabled = 0",
                    params![id, client, reason, at.as_millis()],
                )
                .map_err(db_error)?;
            Ok((n == 1, n == 1))
        })
        .await
    }

    async fn delete_consumer(&self, client: ClientId, id: uuid::Uuid) -> Result<bool> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "DELETE FROM webhook_consumers WHERE id = ?1 AND client_id = ?2",
                        params![id, client],
                    )
                    .map_err(db_error)?;
                Ok(n == 1)
            })
            .await
    }

    async fn get_consumer_secrets(
        &self,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<Option<ConsumerSecrets>> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .read_point(move |db| {
                db.prepare_cached(
                    "SELECT key_id, secret, previous_key_id, previous_secret, previous_expires \
                     FROM webhook_consumers WHERE id = ?1 AND client_id = ?2",
                )
                .map_err(db_error)?
                .query_row(params![id, client], |r| {
                    let current = SealedSecret {
                        key_id: r.get(0)?,
                        sealed: r.get(1)?,
                    };
                    let prev_key: Option<String> = r.get(2)?;
                    let prev: Option<Vec<u8>> = r.get(3)?;
                    let until: Option<i64> = r.get(4)?;
                    let previous = match (prev_key, prev, until) {
                        (Some(key_id), Some(sealed), Some(until)) => Some((
                            SealedSecret { key_id, sealed },
                            Timestamp::from_millis(until),
                        )),
                        _ => None,
                    };
                    Ok(ConsumerSecrets { current, previous })
                })
                .optional()
                .map_err(db_error)
            })
            .await
    }

    async fn rotate_consumer_secret(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        next: &SealedSecret,
        previous_until: Timestamp,
        at: Timestamp,
    ) -> Result<bool> {
        let (client, id) = (client.to_string(), id.to_string());
        let next = next.clone();
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "UPDATE webhook_consumers SET previous_key_id = key_id, previous_secret = secret, \
                         previous_expires = ?3, key_id = ?4, secret = ?5, updated = ?6 WHERE id = ?1 AND client_id = ?2",
                        params![id, client, previous_until.as_millis(), next.key_id, next.sealed, at.as_millis()],
                    )
                    .map_err(db_error)?;
                Ok(n == 1)
            })
            .await
    }

    async fn webhook_secrets_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<(ClientId, uuid::Uuid)>> {
        let active = active_key.to_owned();
        let rows: Vec<(String, String)> = self
            .pool
            .read(move |db| {
                let mut stmt = db
                    .prepare_cached(
                        "SELECT client_id, id FROM webhook_consumers WHERE key_id <> ?1 \
                         OR (previous_key_id IS NOT NULL AND previous_key_id <> ?1) ORDER BY id LIMIT ?2",
                    )
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(params![active, limit], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_error)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(c, id)| {
                Ok((
                    ClientId::parse(&c)?,
                    uuid::Uuid::parse_str(&id)
                        .map_err(|e| Error::internal(format!("consumer id {id}: {e}")))?,
                ))
            })
            .collect()
    }

    async fn replace_consumer_secrets(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        secrets: &ConsumerSecrets,
    ) -> Result<bool> {
        let (client, id) = (client.to_string(), id.to_string());
        let s = secrets.clone();
        self.pool
            .write(move |tx| {
                let (pk, ps, pu) = match &s.previous {
                    Some((p, until)) => (Some(p.key_id.clone()), Some(p.sealed.clone()), Some(until.as_millis())),
                    None => (None, None, None),
                };
                let n = tx
                    .execute(
                        "UPDATE webhook_consumers SET key_id = ?3, secret = ?4, previous_key_id = ?5, \
                         previous_secret = ?6, previous_expires = ?7 WHERE id = ?1 AND client_id = ?2",
                        params![id, client, s.current.key_id, s.current.sealed, pk, ps, pu],
                    )
                    .map_err(db_error)?;
                Ok(n == 1)
            })
            .await
    }

    async fn get_deliveries_with_events(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<Vec<(Delivery, Option<Event>)>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.pool
            .read_point(move |db| {
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {}, {} FROM webhook_deliveries d LEFT JOIN events e \
                         ON e.id = d.event_id AND e.client_id = d.client_id WHERE d.id = ?1",
                        prefixed("d", DELIVERY_COLUMNS),
                        prefixed("e", EVENT_COLUMNS)
                    ))
                    .map_err(db_error)?;
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    let row = stmt
                        .query_row(params![id], |r| {
                            let d = delivery_row(r)?;
                            let event_id: Option<String> = r.get(14)?;
                            let e = match event_id {
                                Some(_) => Some(event_row_at(r, 14)?),
                                None => None,
                            };
                            Ok((d, e))
                        })
                        .optional()
                        .map_err(db_error)?;
                    if let Some((d, e)) = row {
                        out.push((d.into_domain()?, e.map(EventRow::into_domain).transpose()?));
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn get_delivery(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Delivery>> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1 AND client_id = ?2"
                ))
                .map_err(db_error)?
                .query_row(params![id, client], delivery_row)
                .optional()
                .map_err(db_error)?
                .map(DeliveryRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn list_deliveries(
        &self,
        client: ClientId,
        consumer: uuid::Uuid,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        let (client, consumer) = (client.to_string(), consumer.to_string());
        self.pool
            .read(move |db| {
                let total: i64 = db
                    .prepare_cached(
                        "SELECT COUNT(*) FROM webhook_deliveries WHERE consumer_id = ?1 AND client_id = ?2",
                    )
                    .map_err(db_error)?
                    .query_row(params![consumer, client], |r| r.get(0))
                    .map_err(db_error)?;
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE consumer_id = ?1 AND client_id = ?2 \
                         ORDER BY id DESC LIMIT ?3 OFFSET ?4"
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(
                        params![consumer, client, page.limit() as i64, page.offset() as i64],
                        delivery_row,
                    )
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_error)?;
                let items = rows
                    .into_iter()
                    .map(DeliveryRow::into_domain)
                    .collect::<Result<Vec<_>>>()?;
                Ok(Page { items, total: u64::try_from(total).unwrap_or(0), request: page })
            })
            .await
    }

    async fn write_effects(&self, effects: &Effects) -> Result<()> {
        self.write_with(effects, |_| Ok(((), true))).await
    }

    async fn wait_for_jobs(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.jobs_ready.notified()).await;
    }

    async fn list_events(
        &self,
        client: ClientId,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        let mut where_ = String::from("client_id = ?1");
        let mut args: Vec<Value> = vec![Value::Text(client.to_string())];
        if let Some(t) = &filter.event_type {
            args.push(Value::Text(t.clone()));
            where_.push_str(&format!(" AND event_type = ?{}", args.len()));
        }
        if let Some(c) = filter.company {
            args.push(Value::Text(c.to_string()));
            where_.push_str(&format!(" AND company_id = ?{}", args.len()));
        }
        if let Some(c) = filter.connection {
            args.push(Value::Text(c.to_string()));
            where_.push_str(&format!(" AND connection_id = ?{}", args.len()));
        }
        if let Some(t) = filter.since {
            args.push(Value::Integer(t.as_millis()));
            where_.push_str(&format!(" AND occurred_at >= ?{}", args.len()));
        }
        self.pool
            .read(move |db| {
                let total: i64 = db
                    .prepare_cached(&format!("SELECT COUNT(*) FROM events WHERE {where_}"))
                    .map_err(db_error)?
                    .query_row(params_from_iter(args.iter()), |r| r.get(0))
                    .map_err(db_error)?;
                let n = args.len();
                let mut all = args.clone();
                all.push(Value::Integer(page.limit() as i64));
                all.push(Value::Integer(page.offset() as i64));
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE {where_} ORDER BY id DESC LIMIT ?{} OFFSET ?{}",
                        n + 1,
                        n + 2
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(params_from_iter(all.iter()), event_row)
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_error)?;
                let items = rows.into_iter().map(EventRow::into_domain).collect::<Result<Vec<_>>>()?;
                Ok(Page { items, total: u64::try_from(total).unwrap_or(0), request: page })
            })
            .await
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        per_key: u32,
    ) -> Result<Vec<Job>> {
        let owner = owner.to_owned();
        let (now, until) = (now.as_millis(), lease_until.as_millis());
        // A read first (partial indexes, no lock): an idle worker polling finds nothing due
        // without taking the database's one writer lock from the processes that are writing.
        let any_due: bool = self
            .pool
            .read(move |db| {
                db.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND run_at <= ?1) \
                     OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND lease_expires <= ?1)",
                )
                .map_err(db_error)?
                .query_row(params![now], |r| r.get(0))
                .map_err(db_error)
            })
            .await?;
        if !any_due {
            return Ok(Vec::new());
        }
        // One write transaction (BEGIN IMMEDIATE): candidates, the concurrency-key check and
        // the claims are atomic against every other process.
        self.pool
            .write(move |tx| {
                let mut candidates: Vec<(String, Option<String>)> = Vec::new();
                {
                    let mut due = tx
                        .prepare_cached(
                            // Jobs whose concurrency key is busy are left out here, not after the
                            // limit: a backlog behind one busy key never hides other due work.
                            "SELECT id, concurrency_key, run_at FROM jobs j WHERE state = 'queued' AND run_at <= ?1 \
                             AND (concurrency_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r WHERE \
                             r.concurrency_key = j.concurrency_key AND r.state = 'running' AND r.lease_expires > ?1)) \
                             UNION ALL \
                             SELECT id, concurrency_key, run_at FROM jobs WHERE state = 'running' AND lease_expires <= ?1 \
                             ORDER BY 3, 1 LIMIT ?2",
                        )
                        .map_err(db_error)?;
                    let rows = due
                        .query_map(params![now, i64::from(limit) * 4], |r| Ok((r.get(0)?, r.get(1)?)))
                        .map_err(db_error)?;
                    for r in rows {
                        candidates.push(r.map_err(db_error)?);
                    }
                }
                let mut taken_keys: Vec<String> = Vec::new();
                let mut claimed = Vec::new();
                let mut groups = 0usize;
                for (id, key) in candidates {
                    if groups >= limit as usize {
                        break;
                    }
                    if let Some(k) = &key {
                        if taken_keys.contains(k) {
                            continue;
                        }
                        let busy: bool = tx
                            .prepare_cached(
                                "SELECT EXISTS (SELECT 1 FROM jobs WHERE concurrency_key = ?1 AND state = 'running' \
                                 AND lease_expires > ?2 AND id <> ?3)",
                            )
                            .map_err(db_error)?
                            .query_row(params![k, now, id], |r| r.get(0))
                            .map_err(db_error)?;
                        if busy {
                            continue;
                        }
                        taken_keys.push(k.clone());
                    }
                    let job = tx
                        .prepare_cached(&format!(
                            "UPDATE jobs SET state = 'running', lease_owner = ?2, lease_expires = ?3, fence = fence + 1, \
                             attempts = attempts + 1, updated = ?4 WHERE id = ?1 RETURNING {JOB_COLUMNS}"
                        ))
                        .map_err(db_error)?
                        .query_row(params![id, owner, until, now], job_row)
                        .map_err(db_error)?;
                    let head_run_at = job.run_at;
                    claimed.push(job.into_domain()?);
                    // The key's next due jobs come with it, for this owner to run in order.
                    if let Some(k) = &key
                        && per_key > 1
                    {
                        let mut stmt = tx
                            .prepare_cached(&format!(
                                "UPDATE jobs SET state = 'running', lease_owner = ?2, lease_expires = ?3, fence = fence + 1, \
                                 attempts = attempts + 1, updated = ?4 WHERE id IN (SELECT id FROM jobs \
                                 WHERE concurrency_key = ?1 AND state = 'queued' AND run_at <= ?4 AND run_at >= ?5 \
                                 ORDER BY run_at, id LIMIT ?6) RETURNING {JOB_COLUMNS}"
                            ))
                            .map_err(db_error)?;
                        let rows = stmt
                            .query_map(
                                params![k, owner, until, now, head_run_at, i64::from(per_key - 1)],
                                job_row,
                            )
                            .map_err(db_error)?;
                        let mut more = Vec::new();
                        for r in rows {
                            more.push(r.map_err(db_error)?.into_domain()?);
                        }
                        more.sort_by_key(|j| (j.run_at, j.id));
                        claimed.extend(more);
                    }
                    groups += 1;
                }
                Ok(claimed)
            })
            .await
    }

    async fn heartbeat_job(
        &self,
        id: uuid::Uuid,
        fence: i64,
        lease_until: Timestamp,
    ) -> Result<bool> {
        let id = id.to_string();
        self.pool
            .write(move |tx| {
                let n = tx
                    .prepare_cached(
                        "UPDATE jobs SET lease_expires = ?3 WHERE id = ?1 AND fence = ?2 AND state = 'running'",
                    )
                    .map_err(db_error)?
                    .execute(params![id, fence, lease_until.as_millis()])
                    .map_err(db_error)?;
                Ok(n == 1)
            })
            .await
    }

    async fn record_jobs(&self, records: &[JobRecord]) -> Result<Vec<bool>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<_> = records
            .iter()
            .map(|r| {
                let (state, run_at, error) = match &r.result {
                    JobResult::Done => ("done", None, None),
                    JobResult::Retry { at, error } => {
                        ("queued", Some(at.as_millis()), Some(job_error(error)))
                    }
                    JobResult::Dead { error } => ("dead", None, Some(job_error(error))),
                    JobResult::Deferred { at, error } => {
                        ("deferred", Some(at.as_millis()), Some(job_error(error)))
                    }
                };
                (
                    r.id.to_string(),
                    r.fence,
                    state,
                    run_at,
                    error,
                    r.at.as_millis(),
                    r.delivery.as_ref().map(DeliveryRow::from_domain),
                )
            })
            .collect();
        self.pool
            .write(move |tx| {
                let mut applied = Vec::with_capacity(records.len());
                for (id, fence, state, run_at, error, at, delivery) in &records {
                    let n = tx
                        .prepare_cached(
                            "UPDATE jobs SET state = CASE WHEN ?3 = 'deferred' THEN 'queued' ELSE ?3 END, \
                             run_at = COALESCE(?4, run_at), attempts = attempts - CASE WHEN ?3 = 'deferred' THEN 1 ELSE 0 END, \
                             last_error = CASE WHEN ?3 = 'done' THEN last_error ELSE ?5 END, \
                             lease_owner = NULL, lease_expires = NULL, updated = ?6 \
                             WHERE id = ?1 AND fence = ?2 AND state = 'running'",
                        )
                        .map_err(db_error)?
                        .execute(params![id, fence, state, run_at, error, at])
                        .map_err(db_error)?;
                    if n == 1
                        && let Some(r) = delivery
                    {
                        tx.prepare_cached(
                            "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, last_attempt_at = ?4, \
                             response_status = ?5, duration_ms = ?6, response_body = ?7, next_attempt_at = ?8 WHERE id = ?1",
                        )
                        .map_err(db_error)?
                        .execute(params![
                            r.id, r.state, r.attempts, r.last_attempt_at, r.response_status, r.duration_ms,
                            r.response_body, r.next_attempt_at
                        ])
                        .map_err(db_error)?;
                    }
                    applied.push(n == 1);
                }
                Ok(applied)
            })
            .await
    }

    async fn get_job(&self, id: uuid::Uuid) -> Result<Option<Job>> {
        let id = id.to_string();
        self.pool
            .read_point(move |db| {
                db.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))
                    .map_err(db_error)?
                    .query_row(params![id], job_row)
                    .optional()
                    .map_err(db_error)?
                    .map(JobRow::into_domain)
                    .transpose()
            })
            .await
    }

    async fn prune_jobs(&self, before: Timestamp, limit: u32) -> Result<u64> {
        let before = before.as_millis();
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'done' AND updated < ?1 LIMIT ?2)",
                        params![before, limit],
                    )
                    .map_err(db_error)?;
                Ok(n as u64)
            })
            .await
    }

    async fn job_state_counts(&self) -> Result<Vec<(String, u64)>> {
        self.pool
            .read(|db| {
                count_by(
                    db,
                    "SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state",
                )
            })
            .await
    }

    async fn try_lease(
        &self,
        key: &str,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        self.pool
            .write(move |tx| {
                let n = tx
                    .prepare_cached("INSERT INTO leases (key, owner, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at WHERE leases.expires_at <= ?4 OR leases.owner = excluded.owner")
                    .map_err(db_error)?
                    .execute(params![key, owner, until.as_millis(), now.as_millis()])
                    .map_err(db_error)?;
                Ok(n == 1)
            })
            .await
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<()> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        self.pool
            .write(move |tx| {
                tx.prepare_cached("DELETE FROM leases WHERE key = ?1 AND owner = ?2")
                    .map_err(db_error)?
                    .execute(params![key, owner])
                    .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn integration_credentials_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<IntegrationCredentials>> {
        let active = active_key.to_owned();
        self.pool
            .read(move |db| {
                let mut stmt = db
                    .prepare_cached(&format!(
                        "SELECT {INTEGRATION_CREDENTIAL_COLUMNS} FROM integration_credentials \
                         WHERE key_id IS NOT NULL AND key_id <> ?1 ORDER BY client_id, integration_key LIMIT ?2"
                    ))
                    .map_err(db_error)?;
                let rows = stmt
                    .query_map(params![active, limit], integration_credentials_row)
                    .map_err(db_error)?;
                let mut out = Vec::new();
                for r in rows {
                    out.push(r.map_err(db_error)?.into_domain()?);
                }
                Ok(out)
            })
            .await
    }

    async fn delete_integration_credentials(
        &self,
        client: ClientId,
        integration_key: &str,
    ) -> Result<bool> {
        let (client, key) = (client.to_string(), integration_key.to_owned());
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        "DELETE FROM integration_credentials WHERE client_id = ?1 AND integration_key = ?2",
                        params![client, key],
                    )
                    .map_err(db_error)?;
                Ok(n > 0)
            })
            .await
    }

    // -- syncs ---------------------------------------------------------------------------------

    async fn queue_pulls(&self, batch: &PullBatch, all_or_nothing: bool) -> Result<QueueOutcome> {
        let batch = batch.clone();
        let out = self
            .pool
            .write(move |tx| crate::sync::queue_pulls_tx(tx, &batch, all_or_nothing))
            .await?;
        if matches!(&out, QueueOutcome::Queued(ids) if !ids.is_empty()) {
            self.jobs_ready.notify_one();
        }
        Ok(out)
    }

    async fn get_dataset(
        &self,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<Option<finlink_domain::sync::Dataset>> {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .read_point(move |db| crate::sync::get_dataset(db, &client, &id))
            .await
    }

    async fn list_datasets(
        &self,
        client: ClientId,
        company: CompanyId,
        query: &ListQuery,
    ) -> Result<Page<finlink_domain::sync::Dataset>> {
        let order = sql::order_by(&sql::DATASETS, query.order.as_ref())?;
        let where_ = sql::list_where(
            Dialect::Sqlite,
            "FROM datasets d",
            &[
                Param::Text(client.to_string()),
                Param::Text(company.to_string()),
            ],
            &sql::DATASETS,
            query,
        )?;
        let q = query.clone();
        self.pool
            .read(move |db| {
                let (rows, total) = run_list(
                    db,
                    finlink_store::rows::DATASET_COLUMNS,
                    where_,
                    &order,
                    &q,
                    None,
                    crate::sync::dataset_row,
                )?;
                Ok(Page {
                    items: rows
                        .into_iter()
                        .map(finlink_store::rows::DatasetRow::into_domain)
                        .collect::<Result<Vec<_>>>()?,
                    total,
                    request: q.page,
                })
            })
            .await
    }

    async fn data_status(
        &self,
        client: ClientId,
        company: CompanyId,
    ) -> Result<Vec<finlink_domain::sync::DataTypeStatus>> {
        let (client, company) = (client.to_string(), company.to_string());
        self.pool
            .read(move |db| crate::sync::data_status(db, &client, &company))
            .await
    }

    async fn sync_watermark(
        &self,
        client: ClientId,
        connection: ConnectionId,
        data_type: finlink_domain::data::DataType,
    ) -> Result<Option<Timestamp>> {
        let (client, connection) = (client.to_string(), connection.to_string());
        self.pool
            .read_point(move |db| {
                crate::sync::sync_watermark(db, &client, &connection, data_type.as_str())
            })
            .await
    }

    async fn start_dataset(
        &self,
        start: &DatasetStart,
    ) -> Result<Option<finlink_domain::sync::Dataset>> {
        let start = start.clone();
        self.pool
            .write(move |tx| crate::sync::start_dataset(tx, &start))
            .await
    }

    async fn store_page(&self, page: &PageWrite) -> Result<bool> {
        let page = page.clone();
        self.pool
            .write(move |tx| crate::sync::store_page(tx, &page))
            .await
    }

    async fn update_dataset(
        &self,
        update: &DatasetUpdate,
        effects: &Effects,
    ) -> Result<Option<finlink_domain::sync::Dataset>> {
        let update = update.clone();
        self.write_with(effects, move |tx| {
            let d = crate::sync::update_dataset(tx, &update)?;
            let applied = d.is_some();
            Ok((d, applied))
        })
        .await
    }

    async fn get_batch(
        &self,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<
        Option<(
            finlink_domain::sync::SyncBatch,
            Vec<finlink_domain::sync::Dataset>,
        )>,
    > {
        let (client, id) = (client.to_string(), id.to_string());
        self.pool
            .read(move |db| crate::sync::get_batch(db, &client, &id))
            .await
    }

    async fn complete_batch(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool> {
        let (client, id) = (client.to_string(), id.to_string());
        self.write_with(effects, move |tx| {
            let done = crate::sync::complete_batch(tx, &client, &id, at)?;
            Ok((done, done))
        })
        .await
    }

    async fn list_records(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: finlink_domain::data::DataType,
        page: PageRequest,
    ) -> Result<Page<finlink_domain::sync::StoredRecord>> {
        let (client, company) = (client.to_string(), company.to_string());
        let connection = connection.map(|c| c.to_string());
        self.pool
            .read(move |db| {
                crate::sync::list_records(
                    db,
                    &client,
                    &company,
                    connection.as_deref(),
                    data_type.as_str(),
                    page,
                )
            })
            .await
    }

    async fn get_record(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: finlink_domain::data::DataType,
        record_id: &str,
    ) -> Result<Option<finlink_domain::sync::StoredRecord>> {
        let (client, company) = (client.to_string(), company.to_string());
        let connection = connection.map(|c| c.to_string());
        let record_id = record_id.to_owned();
        self.pool
            .read_point(move |db| {
                crate::sync::get_record(
                    db,
                    &client,
                    &company,
                    connection.as_deref(),
                    data_type.as_str(),
                    &record_id,
                )
            })
            .await
    }

    // -- sync settings and schedules -----------------------------------------------------------

    async fn get_sync_settings(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
    ) -> Result<Option<finlink_domain::sync_settings::SyncSettings>> {
        let (client, company) = (client.to_string(), company.map(|c| c.to_string()));
        self.pool
            .read_point(move |db| {
                crate::settings::get_sync_settings(db, &client, company.as_deref())
            })
            .await
    }

    async fn put_sync_settings(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
        settings: &finlink_domain::sync_settings::SyncSettings,
        effects: &Effects,
    ) -> Result<bool> {
        let (client, company) = (client.to_string(), company.map(|c| c.to_string()));
        let settings = settings.clone();
        self.write_with(effects, move |tx| {
            let done =
                crate::settings::put_sync_settings(tx, &client, company.as_deref(), &settings)?;
            Ok((done, done))
        })
        .await
    }

    async fn latest_pulls(
        &self,
        client: ClientId,
        connection: ConnectionId,
    ) -> Result<Vec<(finlink_domain::data::DataType, Timestamp)>> {
        let (client, connection) = (client.to_string(), connection.to_string());
        self.pool
            .read(move |db| crate::settings::latest_pulls(db, &client, &connection))
            .await
    }

    // -- reading data: the read endpoints -------------------------------------------------------

    async fn data_type_read(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: finlink_domain::data::DataType,
    ) -> Result<bool> {
        let (client, company) = (client.to_string(), company.to_string());
        let connection = connection.map(|c| c.to_string());
        self.pool
            .read_point(move |db| {
                crate::records::data_type_read(
                    db,
                    &client,
                    &company,
                    connection.as_deref(),
                    data_type,
                )
            })
            .await
    }

    async fn query_records(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: finlink_domain::data::DataType,
        query: &finlink_store::records::RecordQuery,
    ) -> Result<Page<finlink_domain::sync::StoredRecord>> {
        let (client, company) = (client.to_string(), company.to_string());
        let connection = connection.map(|c| c.to_string());
        let query = query.clone();
        let counts = self.counts.clone();
        self.pool
            .read(move |db| {
                crate::records::query_records(
                    db,
                    &counts,
                    &client,
                    &company,
                    connection.as_deref(),
                    data_type,
                    &query,
                )
            })
            .await
    }

    async fn insert_migration_run(&self, run: &finlink_store::MigrationRun) -> Result<()> {
        let run = run.clone();
        self.pool
            .write(move |tx| crate::migration::insert_run(tx, &run))
            .await
    }

    async fn get_migration_run(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<finlink_store::MigrationRun>> {
        let id = id.to_string();
        self.pool
            .read_point(move |db| crate::migration::get_run(db, &id))
            .await
    }

    async fn find_migration_run(
        &self,
        client: ClientId,
        fingerprint: &str,
    ) -> Result<Option<finlink_store::MigrationRun>> {
        let (client, fp) = (client.to_string(), fingerprint.to_owned());
        self.pool
            .read_point(move |db| crate::migration::find_run(db, &client, &fp))
            .await
    }

    async fn list_migration_runs(&self, limit: u32) -> Result<Vec<finlink_store::MigrationRun>> {
        self.pool
            .read(move |db| crate::migration::list_runs(db, limit))
            .await
    }

    async fn migration_companies(
        &self,
        client: ClientId,
        refs: &[String],
        ids: &[CompanyId],
    ) -> Result<Vec<Company>> {
        let (client, refs, ids) = (client.to_string(), refs.to_vec(), ids.to_vec());
        self.pool
            .read(move |db| crate::migration::companies(db, &client, &refs, &ids))
            .await
    }

    async fn import_migration_batch(&self, batch: finlink_store::MigrationBatch) -> Result<bool> {
        let wake = !batch.jobs.is_empty();
        // Column values are made here, on the async side; the writer only binds and steps.
        let prepared = crate::migration::prepare(batch);
        let out = self
            .pool
            .write(move |tx| crate::migration::import_batch(tx, &prepared))
            .await?;
        if out && wake {
            self.jobs_ready.notify_one();
        }
        Ok(out)
    }

    async fn set_migration_run_status(
        &self,
        id: uuid::Uuid,
        status: &str,
        detail: Option<&str>,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool> {
        let (id, status, detail) = (id.to_string(), status.to_owned(), detail.map(str::to_owned));
        self.write_with(effects, move |tx| {
            let ok = crate::migration::set_status(tx, &id, &status, detail.as_deref(), at)?;
            Ok((ok, ok))
        })
        .await
    }

    async fn list_migration_rows(
        &self,
        run: uuid::Uuid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<finlink_store::MigrationRowRecord>> {
        let run = run.to_string();
        self.pool
            .read(move |db| crate::migration::list_rows(db, &run, after, limit))
            .await
    }

    async fn rollback_migration_run(&self, id: uuid::Uuid, at: Timestamp) -> Result<u64> {
        let id = id.to_string();
        self.pool
            .write(move |tx| crate::migration::rollback(tx, &id, at))
            .await
    }
}

/// `SELECT key, COUNT(*) ... GROUP BY key` as pairs.
fn count_by(db: &Db, sql: &str) -> Result<Vec<(String, u64)>> {
    let mut stmt = db.prepare_cached(sql).map_err(db_error)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
        .collect())
}

fn job_row(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        payload: r.get(2)?,
        run_at: r.get(3)?,
        attempts: r.get(4)?,
        max_attempts: r.get(5)?,
        state: r.get(6)?,
        lease_owner: r.get(7)?,
        lease_expires: r.get(8)?,
        fence: r.get(9)?,
        last_error: r.get(10)?,
        idempotency_key: r.get(11)?,
        concurrency_key: r.get(12)?,
        created: r.get(13)?,
        updated: r.get(14)?,
    })
}

fn link_flow_row(r: &Row<'_>) -> rusqlite::Result<LinkFlowRow> {
    Ok(LinkFlowRow {
        id: r.get(0)?,
        state_hash: r.get(1)?,
        browser_hash: r.get(2)?,
        client_id: r.get(3)?,
        company_id: r.get(4)?,
        connection_id: r.get(5)?,
        integration_key: r.get(6)?,
        lang: r.get(7)?,
        stage: r.get(8)?,
        sealed: r.get(9)?,
        version: r.get(10)?,
        created: r.get(11)?,
        expires: r.get(12)?,
    })
}

fn integration_credentials_row(r: &Row<'_>) -> rusqlite::Result<IntegrationCredentialsRow> {
    Ok(IntegrationCredentialsRow {
        client_id: r.get(0)?,
        integration_key: r.get(1)?,
        oauth_client_id: r.get(2)?,
        sealed_secret: r.get(3)?,
        key_id: r.get(4)?,
        updated: r.get(5)?,
    })
}
