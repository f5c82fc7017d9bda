//! finlink's PostgreSQL store. Several `finlink serve` processes can share one
//! database: every rule that spans rows (one accounting connection per company, at
//! most N API keys per client) is enforced by the database inside a transaction,
//! not by a process.

use std::str::FromStr;

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
use finlink_store::ConnectionUpdate;
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
use finlink_store::{ConnectionWrite, Effects, EventFilter};
use finlink_store::{ConsumerSecrets, SealedSecret};
use finlink_store::{DatasetStart, DatasetUpdate, PageWrite, PullBatch, QueueOutcome};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};

mod migration;
mod records;
mod settings;
mod sync;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The `NOTIFY` channel new jobs are announced on (one per schema).
    channel: String,
    /// One `LISTEN`ing connection per process, opened on first wait.
    listener: std::sync::Arc<tokio::sync::Mutex<Option<sqlx::postgres::PgListener>>>,
    /// Woken when this process enqueues a job.
    /// Counts of the read endpoints' queries, per record version.
    counts: std::sync::Arc<finlink_store::records::CountCache>,
    jobs_ready: std::sync::Arc<tokio::sync::Notify>,
    /// Coalesces the `NOTIFY`s that announce new jobs to other processes.
    announcer: std::sync::Arc<Announcer>,
}

/// The `NOTIFY` that tells other processes' workers about new jobs is sent after the commit,
/// not in the enqueueing transaction: PostgreSQL serialises the commits of notifying
/// transactions on one lock (held across the WAL flush), which capped event-raising writes at
/// about one commit per flush. One announcement at a time is in flight; requests made while it
/// is sent are folded into the next one. A lost announcement (a crash right after the commit)
/// only delays the job to the next poll.
#[derive(Default)]
struct Announcer {
    sending: std::sync::atomic::AtomicBool,
    again: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore")
    }
}

fn db_error(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => Error::Unavailable(String::from(
            "The database is not reachable right now; please retry.",
        )),
        _ => Error::internal(format!("postgres: {e}")),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

fn is_fk_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23503"))
}

impl PostgresStore {
    /// Connects and applies migrations. `schema`, when given, is created if missing and
    /// used as the search path (tests give each run its own schema).
    pub async fn connect(url: &str, schema: Option<&str>, max_connections: u32) -> Result<Self> {
        let mut opts = PgConnectOptions::from_str(url)
            .map_err(|e| Error::internal(format!("the PostgreSQL URL is not valid: {e}")))?;
        if let Some(schema) = schema {
            if !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(Error::internal(
                    "schema names may only use letters, digits and _",
                ));
            }
            let setup = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await
                .map_err(|e| Error::internal(format!("cannot connect to PostgreSQL: {e}")))?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .execute(&setup)
                .await
                .map_err(db_error)?;
            setup.close().await;
            opts = opts.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| Error::internal(format!("cannot connect to PostgreSQL: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::internal(format!("PostgreSQL migrations failed: {e}")))?;
        Ok(Self {
            pool,
            channel: format!("finlink_jobs_{}", schema.unwrap_or("public")),
            listener: std::sync::Arc::new(tokio::sync::Mutex::new(None)),
            jobs_ready: std::sync::Arc::default(),
            announcer: std::sync::Arc::default(),
            counts: std::sync::Arc::default(),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Writes `effects` in `tx`, announcing new jobs to every process's workers at commit.
    async fn write_effects(&self, tx: &mut sqlx::PgConnection, effects: &Effects) -> Result<()> {
        for e in &effects.events {
            let r = EventRow::from_domain(e);
            sqlx::query(&format!(
                "INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(&r.id)
            .bind(&r.client_id)
            .bind(&r.event_type)
            .bind(&r.company_id)
            .bind(&r.connection_id)
            .bind(&r.payload)
            .bind(r.occurred_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        // Many consumers make many deliveries and jobs per event: one statement each, from
        // arrays, whatever their number.
        if !effects.deliveries.is_empty() {
            let rows: Vec<DeliveryRow> = effects
                .deliveries
                .iter()
                .map(DeliveryRow::from_domain)
                .collect();
            let text = |f: fn(&DeliveryRow) -> &String| -> Vec<String> {
                rows.iter().map(|r| f(r).clone()).collect()
            };
            // A delivery whose consumer was deleted meanwhile is dropped.
            sqlx::query(&format!(
                "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) SELECT u.* FROM unnest($1::text[], $2::text[], \
                 $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], \
                 $11::bigint[], $12::text[], $13::bigint[], $14::bigint[]) AS u({DELIVERY_COLUMNS}) \
                 WHERE EXISTS (SELECT 1 FROM webhook_consumers c WHERE c.id = u.consumer_id)"
            ))
            .bind(text(|r| &r.id))
            .bind(text(|r| &r.client_id))
            .bind(text(|r| &r.consumer_id))
            .bind(text(|r| &r.event_id))
            .bind(text(|r| &r.event_type))
            .bind(rows.iter().map(|r| r.event_at).collect::<Vec<_>>())
            .bind(text(|r| &r.state))
            .bind(rows.iter().map(|r| r.attempts).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.last_attempt_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.response_status).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.duration_ms).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.response_body.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.next_attempt_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.created).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        match effects.jobs.as_slice() {
            [] => {}
            [one] => {
                enqueue_job_on(&mut *tx, one).await?;
            }
            jobs => {
                sqlx::query(
                    "INSERT INTO jobs (id, kind, payload, run_at, attempts, max_attempts, state, fence, \
                     idempotency_key, concurrency_key, created, updated) \
                     SELECT u.id, u.kind, u.payload, u.run_at, 0, u.max_attempts, 'queued', 0, u.idem, u.conc, u.created, u.created \
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[]) \
                     AS u(id, kind, payload, run_at, max_attempts, idem, conc, created) \
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(jobs.iter().map(|j| j.id.to_string()).collect::<Vec<_>>())
                .bind(jobs.iter().map(|j| j.kind.clone()).collect::<Vec<_>>())
                .bind(jobs.iter().map(|j| j.payload.clone()).collect::<Vec<_>>())
                .bind(jobs.iter().map(|j| j.run_at.as_millis()).collect::<Vec<_>>())
                .bind(jobs.iter().map(|j| i64::from(j.max_attempts)).collect::<Vec<_>>())
                .bind(jobs.iter().map(|j| j.idempotency_key.clone()).collect::<Vec<_>>())
                .bind(jobs.iter().map(|j| j.concurrency_key.clone()).collect::<Vec<_>>())
                .bind(jobs.iter().map(|j| j.created.as_millis()).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
        }
        if let Some(pulls) = &effects.pulls {
            sync::queue_pulls_tx(&mut *tx, pulls, false).await?;
        }
        Ok(())
    }

    /// Wakes this process's workers, and every other process's through `NOTIFY` (see
    /// [`Announcer`]).
    fn announce_jobs(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.jobs_ready.notify_one();
        let a = &self.announcer;
        a.again.store(true, SeqCst);
        if a.sending.swap(true, SeqCst) {
            return; // the sender in flight sends again
        }
        let (pool, channel, a) = (
            self.pool.clone(),
            self.channel.clone(),
            std::sync::Arc::clone(&self.announcer),
        );
        tokio::spawn(async move {
            loop {
                while a.again.swap(false, SeqCst) {
                    if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                        .bind(&channel)
                        .execute(&pool)
                        .await
                    {
                        tracing::warn!(error = %e, "jobs: NOTIFY failed; other processes find the jobs when they poll");
                    }
                }
                a.sending.store(false, SeqCst);
                // A request made after the last send but before `sending` was cleared.
                if !a.again.load(SeqCst) || a.sending.swap(true, SeqCst) {
                    return;
                }
            }
        });
    }

    /// Commits and wakes this process's workers when jobs were written.
    async fn commit_with(
        &self,
        tx: sqlx::Transaction<'_, Postgres>,
        effects: &Effects,
    ) -> Result<()> {
        tx.commit().await.map_err(db_error)?;
        if effects.schedules_jobs() {
            self.announce_jobs();
        }
        Ok(())
    }
}

/// Locks the client row (so concurrent inserts for one client cannot both pass a limit) and
/// counts its rows in `table` (a fixed table name, never input).
async fn count_for_client_locked(
    tx: &mut sqlx::PgConnection,
    table: &str,
    client: &str,
) -> Result<i64> {
    sqlx::query("SELECT 1 FROM clients WHERE id = $1 FOR UPDATE")
        .bind(client)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
    sqlx::query(&format!(
        "SELECT COUNT(*) FROM {table} WHERE client_id = $1"
    ))
    .bind(client)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)?
    .try_get(0)
    .map_err(db_error)
}

async fn enqueue_job_on<'e>(ex: impl sqlx::PgExecutor<'e>, job: &NewJob) -> Result<bool> {
    let n = sqlx::query(
        "INSERT INTO jobs (id, kind, payload, run_at, attempts, max_attempts, state, fence, \
         idempotency_key, concurrency_key, created, updated) \
         VALUES ($1, $2, $3, $4, 0, $5, 'queued', 0, $6, $7, $8, $8) \
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(job.id.to_string())
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(job.run_at.as_millis())
    .bind(i64::from(job.max_attempts))
    .bind(&job.idempotency_key)
    .bind(&job.concurrency_key)
    .bind(job.created.as_millis())
    .execute(ex)
    .await
    .map_err(db_error)?
    .rows_affected();
    Ok(n == 1)
}

/// Applies a [`ConnectionWrite`] and returns the connection; None when it does not exist.
async fn apply_connection_write(
    tx: &mut sqlx::PgConnection,
    client: &str,
    company: &str,
    id: &str,
    w: &ConnectionWrite,
) -> Result<Option<Connection>> {
    let refresh = w.refresh.as_ref();
    let row = sqlx::query(&format!(
        "UPDATE connections dc SET status = COALESCE($4, dc.status), errors = COALESCE($5, dc.errors), \
         refresh_failing_since = CASE WHEN $6 THEN $7 ELSE dc.refresh_failing_since END, \
         refresh_last_failed_at = CASE WHEN $6 THEN $8 ELSE dc.refresh_last_failed_at END, \
         credentials_expire_at = CASE WHEN $6 THEN $9 ELSE dc.credentials_expire_at END, \
         refresh_revoked = CASE WHEN $6 THEN $10 ELSE dc.refresh_revoked END, modified = $11 \
         WHERE dc.id = $1 AND dc.client_id = $2 AND dc.company_id = $3 \
         AND (NOT $12 OR dc.refresh_failing_since IS NOT NULL) \
         AND (NOT $13 OR dc.status IN ('Linked', 'Deauthorized')) RETURNING {CONNECTION_COLUMNS}"
    ))
    .bind(id)
    .bind(client)
    .bind(company)
    .bind(w.status.map(|s| s.as_str()))
    .bind(w.errors.as_deref().map(errors_json))
    .bind(refresh.is_some())
    .bind(refresh.and_then(|h| h.failing_since).map(Timestamp::as_millis))
    .bind(refresh.and_then(|h| h.last_failed_at).map(Timestamp::as_millis))
    .bind(refresh.and_then(|h| h.credentials_expire_at).map(Timestamp::as_millis))
    .bind(refresh.is_some_and(|h| h.revoked))
    .bind(w.at.as_millis())
    .bind(w.only_if_failing)
    .bind(w.only_if_connected)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    let Some(row) = row else { return Ok(None) };
    if w.drop_credentials {
        sqlx::query("DELETE FROM credentials WHERE connection_id = $1 AND client_id = $2")
            .bind(id)
            .bind(client)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    Ok(Some(connection_row(&row)?.into_domain()?))
}

fn bind_all<'q>(
    mut q: Query<'q, Postgres, PgArguments>,
    params: &'q [Param],
) -> Query<'q, Postgres, PgArguments> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s.as_str()),
            Param::Int(i) => q.bind(*i),
            Param::Real(f) => q.bind(*f),
        };
    }
    q
}

fn get<'r, T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>>(
    r: &'r PgRow,
    i: usize,
) -> Result<T> {
    r.try_get(i).map_err(db_error)
}

fn client_row(r: &PgRow) -> Result<ClientRow> {
    Ok(ClientRow {
        id: get(r, 0)?,
        name: get(r, 1)?,
        created: get(r, 2)?,
    })
}

fn api_key_row(r: &PgRow) -> Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: get(r, 0)?,
        client_id: get(r, 1)?,
        name: get(r, 2)?,
        lookup: get(r, 3)?,
        hash: get(r, 4)?,
        permissions: get(r, 5)?,
        created: get(r, 6)?,
    })
}

fn company_row(r: &PgRow) -> Result<CompanyRow> {
    Ok(CompanyRow {
        id: get(r, 0)?,
        client_id: get(r, 1)?,
        name: get(r, 2)?,
        description: get(r, 3)?,
        tags: get(r, 4)?,
        created: get(r, 5)?,
        modified: get(r, 6)?,
        last_sync: get(r, 7)?,
        created_by_user_name: get(r, 8)?,
        products: get(r, 9)?,
        consumer_id: get(r, 10)?,
    })
}

fn credentials_row(r: &PgRow) -> Result<CredentialsRow> {
    Ok(CredentialsRow {
        client_id: get(r, 0)?,
        company_id: get(r, 1)?,
        connection_id: get(r, 2)?,
        auth_type: get(r, 3)?,
        key_id: get(r, 4)?,
        sealed: get(r, 5)?,
        token_type: get(r, 6)?,
        scopes: get(r, 7)?,
        expires_at: get(r, 8)?,
        issued_at: get(r, 9)?,
        needs_refresh: get(r, 10)?,
        version: get(r, 11)?,
        updated: get(r, 12)?,
    })
}

fn audit_row(r: &PgRow) -> Result<AuditRow> {
    Ok(AuditRow {
        id: get(r, 0)?,
        client_id: get(r, 1)?,
        actor: get(r, 2)?,
        action: get(r, 3)?,
        company_id: get(r, 4)?,
        connection_id: get(r, 5)?,
        outcome: get(r, 6)?,
        detail: get(r, 7)?,
        at: get(r, 8)?,
    })
}

async fn insert_audit_on<'e, E: sqlx::PgExecutor<'e>>(ex: E, a: &AuditRow) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&a.id)
    .bind(&a.client_id)
    .bind(&a.actor)
    .bind(&a.action)
    .bind(&a.company_id)
    .bind(&a.connection_id)
    .bind(&a.outcome)
    .bind(&a.detail)
    .bind(a.at)
    .execute(ex)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Adds $1 to one random shard of client $2's company count.
const COUNT_ADD: &str = "INSERT INTO company_counts (client_id, shard, n) \
     VALUES ($2, floor(random() * 16)::SMALLINT, $1) \
     ON CONFLICT (client_id, shard) DO UPDATE SET n = company_counts.n + excluded.n";

/// How many columns `COMPANY_COLUMNS` selects (where joined connection columns start).
const COMPANY_FIELDS: usize = 11;

fn event_row(r: &PgRow) -> Result<EventRow> {
    event_row_at(r, 0)
}

/// An event whose columns start at `o`.
fn event_row_at(r: &PgRow, o: usize) -> Result<EventRow> {
    Ok(EventRow {
        id: get(r, o)?,
        client_id: get(r, o + 1)?,
        event_type: get(r, o + 2)?,
        company_id: get(r, o + 3)?,
        connection_id: get(r, o + 4)?,
        payload: get(r, o + 5)?,
        occurred_at: get(r, o + 6)?,
    })
}

fn consumer_row(r: &PgRow) -> Result<ConsumerRow> {
    Ok(ConsumerRow {
        id: get(r, 0)?,
        client_id: get(r, 1)?,
        url: get(r, 2)?,
        disabled: get(r, 3)?,
        disabled_reason: get(r, 4)?,
        event_types: get(r, 5)?,
        company_tags: get(r, 6)?,
        failing_since: get(r, 7)?,
        created: get(r, 8)?,
        updated: get(r, 9)?,
    })
}

fn delivery_row(r: &PgRow) -> Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: get(r, 0)?,
        client_id: get(r, 1)?,
        consumer_id: get(r, 2)?,
        event_id: get(r, 3)?,
        event_type: get(r, 4)?,
        event_at: get(r, 5)?,
        state: get(r, 6)?,
        attempts: get(r, 7)?,
        last_attempt_at: get(r, 8)?,
        response_status: get(r, 9)?,
        duration_ms: get(r, 10)?,
        response_body: get(r, 11)?,
        next_attempt_at: get(r, 12)?,
        created: get(r, 13)?,
    })
}

fn connection_row(r: &PgRow) -> Result<ConnectionRow> {
    connection_row_at(r, 0)
}

/// Reads a connection from columns starting at `at`.
fn connection_row_at(r: &PgRow, at: usize) -> Result<ConnectionRow> {
    Ok(ConnectionRow {
        id: get(r, at)?,
        client_id: get(r, at + 1)?,
        company_id: get(r, at + 2)?,
        integration_key: get(r, at + 3)?,
        integration_id: get(r, at + 4)?,
        source_id: get(r, at + 5)?,
        source_type: get(r, at + 6)?,
        platform_name: get(r, at + 7)?,
        status: get(r, at + 8)?,
        created: get(r, at + 9)?,
        modified: get(r, at + 10)?,
        last_sync: get(r, at + 11)?,
        errors: get(r, at + 12)?,
        connection_info: get(r, at + 13)?,
        refresh_failing_since: get(r, at + 14)?,
        refresh_last_failed_at: get(r, at + 15)?,
        credentials_expire_at: get(r, at + 16)?,
        refresh_revoked: get(r, at + 17)?,
    })
}

async fn write_tags(tx: &mut sqlx::PgConnection, company: &Company) -> Result<()> {
    let id = company.id.to_string();
    sqlx::query("DELETE FROM company_tags WHERE company_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    if company.tags.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = company.tags.keys().map(String::as_str).collect();
    let values: Vec<&str> = company.tags.values().map(String::as_str).collect();
    sqlx::query(
        "INSERT INTO company_tags (company_id, tag_key, tag_value) SELECT $1, k, v FROM UNNEST($2::text[], $3::text[]) AS t(k, v)",
    )
    .bind(&id)
    .bind(&keys)
    .bind(&values)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

impl PostgresStore {
    async fn run_list(
        &self,
        select: &str,
        where_: SqlBuilder,
        order: &str,
        q: &ListQuery,
        known_total: Option<i64>,
    ) -> Result<(Vec<PgRow>, u64)> {
        let count_sql = format!("SELECT COUNT(*) {}", where_.text);
        let page_sql = format!(
            "SELECT {select} {} ORDER BY {order} LIMIT {} OFFSET {}",
            where_.text,
            q.page.limit(),
            q.page.offset()
        );
        let total: i64 = match known_total {
            Some(t) => t,
            None => bind_all(sqlx::query(&count_sql), &where_.params)
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?
                .try_get(0)
                .map_err(db_error)?,
        };
        let rows = bind_all(sqlx::query(&page_sql), &where_.params)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }

    async fn connections_of(&self, company_ids: &[String]) -> Result<Vec<Connection>> {
        if company_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections dc WHERE dc.company_id = ANY($1) ORDER BY dc.created, dc.id"
        ))
        .bind(company_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| connection_row(r)?.into_domain())
            .collect()
    }

    async fn get_connection_on<'e, E: sqlx::PgExecutor<'e>>(
        ex: E,
        client: &str,
        company: &str,
        id: &str,
    ) -> Result<Option<Connection>> {
        sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections dc WHERE dc.id = $1 AND dc.client_id = $2 AND dc.company_id = $3"
        ))
        .bind(id)
        .bind(client)
        .bind(company)
        .fetch_optional(ex)
        .await
        .map_err(db_error)?
        .map(|r| connection_row(&r)?.into_domain())
        .transpose()
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn insert_client(&self, client: &Client, profile: &Profile) -> Result<()> {
        let p = ProfileRow::from_domain(profile);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("INSERT INTO clients (id, name, created) VALUES ($1, $2, $3)")
            .bind(client.id.to_string())
            .bind(&client.name)
            .bind(client.created.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(&format!("INSERT INTO profiles (client_id, {PROFILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(client.id.to_string())
            .bind(&p.name)
            .bind(&p.redirect_url)
            .bind(&p.logo_url)
            .bind(&p.icon_url)
            .bind(&p.white_list_urls)
            .bind(p.confirm_company_name)
            .bind(&p.link_settings)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn get_client(&self, id: ClientId) -> Result<Option<Client>> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| client_row(&r)?.into_domain())
        .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(|r| client_row(r)?.into_domain()).collect()
    }

    async fn insert_api_key(&self, key: &ApiKey, max_per_client: u32) -> Result<ApiKeyInsert> {
        let r = ApiKeyRow::from_domain(key);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let n = count_for_client_locked(&mut tx, "api_keys", &r.client_id).await?;
        if n >= i64::from(max_per_client) {
            return Ok(ApiKeyInsert::LimitReached);
        }
        sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.name)
        .bind(&r.lookup)
        .bind(&r.hash)
        .bind(&r.permissions)
        .bind(r.created)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(ApiKeyInsert::Inserted)
    }

    async fn find_api_key(&self, lookup: &str) -> Result<Option<ApiKey>> {
        sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE lookup = $1"
        ))
        .bind(lookup)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| api_key_row(&r)?.into_domain())
        .transpose()
    }

    async fn list_api_keys(&self, client: ClientId) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE client_id = $1 ORDER BY created, id"
        ))
        .bind(client.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(|r| api_key_row(r)?.into_domain()).collect()
    }

    async fn delete_api_key(&self, client: ClientId, id: ApiKeyId) -> Result<bool> {
        let n = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND client_id = $2")
            .bind(id.to_string())
            .bind(client.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn get_profile(&self, client: ClientId) -> Result<Option<Profile>> {
        sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE client_id = $1"
        ))
        .bind(client.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| {
            ProfileRow {
                name: get(&r, 0)?,
                redirect_url: get(&r, 1)?,
                logo_url: get(&r, 2)?,
                icon_url: get(&r, 3)?,
                white_list_urls: get(&r, 4)?,
                confirm_company_name: get(&r, 5)?,
                link_settings: get(&r, 6)?,
            }
            .into_domain()
        })
        .transpose()
    }

    async fn put_profile(&self, client: ClientId, profile: &Profile) -> Result<()> {
        let p = ProfileRow::from_domain(profile);
        sqlx::query(&format!(
            "INSERT INTO profiles (client_id, {PROFILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, redirect_url = excluded.redirect_url, \
             logo_url = excluded.logo_url, icon_url = excluded.icon_url, \
             white_list_urls = excluded.white_list_urls, confirm_company_name = excluded.confirm_company_name, \
             link_settings = excluded.link_settings"
        ))
        .bind(client.to_string())
        .bind(&p.name)
        .bind(&p.redirect_url)
        .bind(&p.logo_url)
        .bind(&p.icon_url)
        .bind(&p.white_list_urls)
        .bind(p.confirm_company_name)
        .bind(&p.link_settings)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn insert_company(&self, company: &Company, effects: &Effects) -> Result<()> {
        let r = CompanyRow::from_domain(company);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO companies (id, client_id, name, description, tags, created, modified, last_sync, \
             created_by_user_name, products, consumer_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.tags)
        .bind(r.created)
        .bind(r.modified)
        .bind(r.last_sync)
        .bind(&r.created_by_user_name)
        .bind(&r.products)
        .bind(&r.consumer_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(COUNT_ADD)
            .bind(1i64)
            .bind(&r.client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        write_tags(&mut tx, company).await?;
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await
    }

    async fn company_owner(&self, id: CompanyId) -> Result<Option<ClientId>> {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT client_id FROM companies WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        owner.map(|o| ClientId::parse(&o)).transpose()
    }

    async fn get_company(&self, client: ClientId, id: CompanyId) -> Result<Option<Company>> {
        // One round trip: the company joined with its connections (one row per connection,
        // or one row with NULL connection columns).
        let rows = sqlx::query(&format!(
            "SELECT {COMPANY_COLUMNS}, {CONNECTION_COLUMNS} FROM companies c \
             LEFT JOIN connections dc ON dc.company_id = c.id \
             WHERE c.id = $1 AND c.client_id = $2 ORDER BY dc.created, dc.id"
        ))
        .bind(id.to_string())
        .bind(client.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut company = company_row(first)?.into_domain()?;
        for r in &rows {
            if r.try_get::<Option<String>, _>(COMPANY_FIELDS)
                .map_err(db_error)?
                .is_some()
            {
                company
                    .connections
                    .push(connection_row_at(r, COMPANY_FIELDS)?.into_domain()?);
            }
        }
        Ok(Some(company))
    }

    async fn update_company(&self, company: &Company) -> Result<bool> {
        let r = CompanyRow::from_domain(company);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let n = sqlx::query(
            "UPDATE companies SET name = $3, description = $4, tags = $5, modified = $6, consumer_id = $7, \
             last_sync = $8, products = $9 WHERE id = $1 AND client_id = $2",
        )
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.tags)
        .bind(r.modified)
        .bind(&r.consumer_id)
        .bind(r.last_sync)
        .bind(&r.products)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        write_tags(&mut tx, company).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn delete_company(
        &self,
        client: ClientId,
        id: CompanyId,
        effects: &Effects,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let n = sqlx::query("DELETE FROM companies WHERE id = $1 AND client_id = $2")
            .bind(id.to_string())
            .bind(client.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if n > 0 {
            sqlx::query(COUNT_ADD)
                .bind(-1i64)
                .bind(client.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            self.write_effects(&mut tx, effects).await?;
        }
        self.commit_with(tx, effects).await?;
        Ok(n > 0)
    }

    async fn list_companies(&self, client: ClientId, query: &ListQuery) -> Result<Page<Company>> {
        let order = sql::order_by(&sql::COMPANIES, query.order.as_ref())?;
        let where_ = sql::list_where(
            Dialect::Postgres,
            "FROM companies c",
            &[Param::Text(client.to_string())],
            &sql::COMPANIES,
            query,
        )?;
        let known_total = if query.filter.is_none() && query.tags.is_none() && !query.consumers_only
        {
            let n: Option<i64> =
                sqlx::query("SELECT SUM(n)::BIGINT FROM company_counts WHERE client_id = $1")
                    .bind(client.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?
                    .map(|r| r.try_get::<Option<i64>, _>(0))
                    .transpose()
                    .map_err(db_error)?
                    .flatten();
            Some(n.unwrap_or(0))
        } else {
            None
        };
        let (rows, total) = self
            .run_list(COMPANY_COLUMNS, where_, &order, query, known_total)
            .await?;
        let mut companies = rows
            .iter()
            .map(|r| company_row(r)?.into_domain())
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<String> = companies.iter().map(|c| c.id.to_string()).collect();
        attach_connections(&mut companies, self.connections_of(&ids).await?);
        Ok(Page {
            items: companies,
            total,
            request: query.page,
        })
    }

    async fn insert_connection(
        &self,
        connection: &Connection,
        effects: &Effects,
    ) -> Result<ConnectionInsert> {
        let r = ConnectionRow::from_domain(connection);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let exists =
            sqlx::query("SELECT 1 FROM companies WHERE id = $1 AND client_id = $2 FOR SHARE")
                .bind(&r.company_id)
                .bind(&r.client_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        if exists.is_none() {
            return Ok(ConnectionInsert::NoSuchCompany);
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO connections ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (company_id) WHERE source_type = 'Accounting' DO NOTHING",
            CONNECTION_INSERT_COLUMNS
        ))
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.company_id)
        .bind(&r.integration_key)
        .bind(&r.integration_id)
        .bind(&r.source_id)
        .bind(&r.source_type)
        .bind(&r.platform_name)
        .bind(&r.status)
        .bind(r.created)
        .bind(r.modified)
        .bind(r.last_sync)
        .bind(&r.errors)
        .bind(&r.connection_info)
        .execute(&mut *tx)
        .await;
        let n = match inserted {
            Ok(done) => done.rows_affected(),
            Err(e) if is_fk_violation(&e) => return Ok(ConnectionInsert::NoSuchCompany),
            Err(e) if is_unique_violation(&e) => 0,
            Err(e) => return Err(db_error(e)),
        };
        if n == 0 && connection.source_type == SourceType::Accounting {
            let existing: Option<String> = sqlx::query(
                "SELECT id FROM connections WHERE company_id = $1 AND source_type = 'Accounting'",
            )
            .bind(&r.company_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(db_error)?;
            if let Some(id) = existing {
                return Ok(ConnectionInsert::AccountingExists(ConnectionId::parse(
                    &id,
                )?));
            }
            return Err(Error::internal("connection insert affected no rows"));
        }
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(ConnectionInsert::Inserted)
    }

    async fn get_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
    ) -> Result<Option<Connection>> {
        Self::get_connection_on(
            &self.pool,
            &client.to_string(),
            &company.to_string(),
            &id.to_string(),
        )
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
            Dialect::Postgres,
            "FROM connections dc",
            &[
                Param::Text(client.to_string()),
                Param::Text(company.to_string()),
            ],
            &sql::CONNECTIONS,
            query,
        )?;
        let (rows, total) = self
            .run_list(CONNECTION_COLUMNS, where_, &order, query, None)
            .await?;
        let items = rows
            .iter()
            .map(|r| connection_row(r)?.into_domain())
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total,
            request: query.page,
        })
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
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let row = sqlx::query(&format!(
            "UPDATE connections dc SET status = $4, modified = $5 WHERE dc.id = $1 AND dc.client_id = $2 \
             AND dc.company_id = $3 RETURNING {CONNECTION_COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(client.to_string())
        .bind(company.to_string())
        .bind(status.as_str())
        .bind(at.as_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let connection = connection_row(&row)?.into_domain()?;
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(Some(connection))
    }

    async fn update_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        write: &ConnectionWrite,
        effects: &Effects,
    ) -> Result<Option<Connection>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let Some(connection) = apply_connection_write(
            &mut tx,
            &client.to_string(),
            &company.to_string(),
            &id.to_string(),
            write,
        )
        .await?
        else {
            return Ok(None);
        };
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(Some(connection))
    }

    async fn delete_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        effects: &Effects,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let n = sqlx::query(
            "DELETE FROM connections WHERE id = $1 AND client_id = $2 AND company_id = $3",
        )
        .bind(id.to_string())
        .bind(client.to_string())
        .bind(company.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if n > 0 {
            // Its records went with it: counts of the company's records are stale.
            sqlx::query("UPDATE record_versions SET version = version + 1 WHERE company_id = $1")
                .bind(company.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            self.write_effects(&mut tx, effects).await?;
        }
        self.commit_with(tx, effects).await?;
        Ok(n > 0)
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
        let info = update
            .connection_info
            .as_ref()
            .map(|m| serde_json::to_string(m).unwrap_or_default());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let updated = sqlx::query(&format!(
            "UPDATE connections dc SET status = $4, modified = $5, connection_info = COALESCE($6, dc.connection_info), \
             errors = COALESCE($7, dc.errors), refresh_failing_since = NULL, credentials_expire_at = NULL, \
             refresh_revoked = FALSE \
             WHERE dc.id = $1 AND dc.client_id = $2 AND dc.company_id = $3 RETURNING {CONNECTION_COLUMNS}"
        ))
        .bind(&r.connection_id)
        .bind(&r.client_id)
        .bind(&r.company_id)
        .bind(update.status.as_str())
        .bind(update.at.as_millis())
        .bind(info)
        .bind(update.errors.as_deref().map(errors_json))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = updated else { return Ok(None) };
        let connection = connection_row(&row)?.into_domain()?;
        sqlx::query(&format!(
            "INSERT INTO credentials ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12) \
             ON CONFLICT (connection_id) DO UPDATE SET auth_type = excluded.auth_type, key_id = excluded.key_id, \
             sealed = excluded.sealed, token_type = excluded.token_type, scopes = excluded.scopes, \
             expires_at = excluded.expires_at, issued_at = excluded.issued_at, \
             needs_refresh = excluded.needs_refresh, version = credentials.version + 1, updated = excluded.updated",
            CREDENTIAL_COLUMNS.replace("cr.", "")
        ))
        .bind(&r.client_id)
        .bind(&r.company_id)
        .bind(&r.connection_id)
        .bind(&r.auth_type)
        .bind(&r.key_id)
        .bind(&r.sealed)
        .bind(&r.token_type)
        .bind(&r.scopes)
        .bind(r.expires_at)
        .bind(r.issued_at)
        .bind(r.needs_refresh)
        .bind(r.updated)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        insert_audit_on(&mut *tx, &a).await?;
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(Some(connection))
    }

    async fn get_credentials(
        &self,
        client: ClientId,
        connection: ConnectionId,
    ) -> Result<Option<SealedCredentials>> {
        sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials cr WHERE cr.connection_id = $1 AND cr.client_id = $2"
        ))
        .bind(connection.to_string())
        .bind(client.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| credentials_row(&r)?.into_domain())
        .transpose()
    }

    async fn swap_credentials(
        &self,
        credentials: &SealedCredentials,
        expected_version: i64,
        write: Option<&ConnectionWrite>,
        effects: &Effects,
    ) -> Result<bool> {
        let r = CredentialsRow::from_domain(credentials);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let n = sqlx::query(
            "UPDATE credentials SET key_id = $3, sealed = $4, token_type = $5, scopes = $6, expires_at = $7, \
             issued_at = $8, needs_refresh = $9, version = version + 1, updated = $10 \
             WHERE connection_id = $1 AND client_id = $2 AND version = $11",
        )
        .bind(&r.connection_id)
        .bind(&r.client_id)
        .bind(&r.key_id)
        .bind(&r.sealed)
        .bind(&r.token_type)
        .bind(&r.scopes)
        .bind(r.expires_at)
        .bind(r.issued_at)
        .bind(r.needs_refresh)
        .bind(r.updated)
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        if let Some(w) = write {
            apply_connection_write(&mut tx, &r.client_id, &r.company_id, &r.connection_id, w)
                .await?;
        }
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(true)
    }

    async fn connection_status_counts(&self) -> Result<Vec<(String, u64)>> {
        count_by(
            &self.pool,
            "SELECT status, COUNT(*) FROM connections GROUP BY status ORDER BY status",
        )
        .await
    }

    async fn credential_key_counts(&self) -> Result<Vec<(String, u64)>> {
        count_by(&self.pool, "SELECT key_id, COUNT(*) FROM (SELECT key_id FROM credentials UNION ALL SELECT key_id FROM integration_credentials WHERE key_id IS NOT NULL UNION ALL SELECT key_id FROM webhook_consumers UNION ALL SELECT previous_key_id FROM webhook_consumers WHERE previous_key_id IS NOT NULL) k GROUP BY key_id ORDER BY key_id").await
    }

    async fn credentials_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<SealedCredentials>> {
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials cr WHERE cr.key_id <> $1 ORDER BY cr.connection_id LIMIT $2"
        ))
        .bind(active_key)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| credentials_row(r)?.into_domain())
            .collect()
    }

    async fn insert_audit(&self, entry: &AuditEntry) -> Result<()> {
        insert_audit_on(&self.pool, &AuditRow::from_domain(entry)).await
    }

    async fn set_connection_errors(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        errors: &[ConnectionError],
        audit: &AuditEntry,
    ) -> Result<Option<Connection>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let row = sqlx::query(&format!(
            "UPDATE connections dc SET errors = $4, modified = $5 \
             WHERE dc.id = $1 AND dc.client_id = $2 AND dc.company_id = $3 RETURNING {CONNECTION_COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(client.to_string())
        .bind(company.to_string())
        .bind(errors_json(errors))
        .bind(audit.at.as_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let connection = connection_row(&row)?.into_domain()?;
        insert_audit_on(&mut *tx, &AuditRow::from_domain(audit)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(connection))
    }

    async fn list_audit(&self, client: ClientId, page: PageRequest) -> Result<Page<AuditEntry>> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM audit WHERE client_id = $1")
            .bind(client.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?
            .try_get(0)
            .map_err(db_error)?;
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit WHERE client_id = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(client.to_string())
        .bind(page.limit() as i64)
        .bind(page.offset() as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let items = rows
            .iter()
            .map(|r| audit_row(r)?.into_domain())
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
            request: page,
        })
    }

    async fn set_connection_info(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        info: &serde_json::Map<String, serde_json::Value>,
        at: Timestamp,
    ) -> Result<Option<Connection>> {
        let info = serde_json::to_string(info).map_err(|e| Error::internal(e.to_string()))?;
        let row = sqlx::query(&format!(
            "UPDATE connections dc SET connection_info = $4, modified = $5 WHERE dc.id = $1 AND dc.client_id = $2 \
             AND dc.company_id = $3 RETURNING {CONNECTION_COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(client.to_string())
        .bind(company.to_string())
        .bind(info)
        .bind(at.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|r| connection_row(&r)?.into_domain()).transpose()
    }

    async fn insert_link_flow(&self, flow: &LinkFlow) -> Result<()> {
        let r = LinkFlowRow::from_domain(flow);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("DELETE FROM link_flows WHERE expires < $1")
            .bind(flow.created.as_millis() - 24 * 3600 * 1000)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(&format!(
            "INSERT INTO link_flows ({LINK_FLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&r.id)
        .bind(&r.state_hash)
        .bind(&r.browser_hash)
        .bind(&r.client_id)
        .bind(&r.company_id)
        .bind(&r.connection_id)
        .bind(&r.integration_key)
        .bind(&r.lang)
        .bind(&r.stage)
        .bind(&r.sealed)
        .bind(r.version)
        .bind(r.created)
        .bind(r.expires)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn get_link_flow(&self, id: &str) -> Result<Option<LinkFlow>> {
        sqlx::query(&format!(
            "SELECT {LINK_FLOW_COLUMNS} FROM link_flows WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| link_flow_row(&r)?.into_domain())
        .transpose()
    }

    async fn find_link_flow_by_state(&self, state_hash: &str) -> Result<Option<LinkFlow>> {
        sqlx::query(&format!(
            "SELECT {LINK_FLOW_COLUMNS} FROM link_flows WHERE state_hash = $1"
        ))
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| link_flow_row(&r)?.into_domain())
        .transpose()
    }

    async fn update_link_flow(&self, flow: &LinkFlow, expected_version: i64) -> Result<bool> {
        let r = LinkFlowRow::from_domain(flow);
        let n = sqlx::query(
            "UPDATE link_flows SET stage = $2, sealed = $3, expires = $4, version = $5 + 1 \
             WHERE id = $1 AND version = $5",
        )
        .bind(&r.id)
        .bind(&r.stage)
        .bind(&r.sealed)
        .bind(r.expires)
        .bind(expected_version)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn put_integration_credentials(&self, creds: &IntegrationCredentials) -> Result<()> {
        let r = IntegrationCredentialsRow::from_domain(creds);
        sqlx::query(&format!(
            "INSERT INTO integration_credentials ({INTEGRATION_CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (client_id, integration_key) DO UPDATE SET oauth_client_id = excluded.oauth_client_id, \
             sealed_secret = excluded.sealed_secret, key_id = excluded.key_id, updated = excluded.updated"
        ))
        .bind(&r.client_id)
        .bind(&r.integration_key)
        .bind(&r.oauth_client_id)
        .bind(&r.sealed_secret)
        .bind(&r.key_id)
        .bind(r.updated)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_integration_credentials(
        &self,
        client: ClientId,
        integration_key: &str,
    ) -> Result<Option<IntegrationCredentials>> {
        sqlx::query(&format!(
            "SELECT {INTEGRATION_CREDENTIAL_COLUMNS} FROM integration_credentials WHERE client_id = $1 AND integration_key = $2"
        ))
        .bind(client.to_string())
        .bind(integration_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| integration_credentials_row(&r)?.into_domain())
        .transpose()
    }

    async fn list_integration_credentials(
        &self,
        client: ClientId,
    ) -> Result<Vec<IntegrationCredentials>> {
        sqlx::query(&format!(
            "SELECT {INTEGRATION_CREDENTIAL_COLUMNS} FROM integration_credentials WHERE client_id = $1 ORDER BY integration_key"
        ))
        .bind(client.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| integration_credentials_row(r)?.into_domain())
        .collect()
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<bool> {
        let added = enqueue_job_on(&self.pool, job).await?;
        if added {
            self.announce_jobs();
        }
        Ok(added)
    }

    async fn get_event(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Event>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND client_id = $2"
        ))
        .bind(id.to_string())
        .bind(client.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| event_row(&r)?.into_domain())
        .transpose()
    }

    async fn insert_consumer(
        &self,
        consumer: &Consumer,
        secret: &SealedSecret,
        max: usize,
    ) -> Result<bool> {
        let r = ConsumerRow::from_domain(consumer);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let n = count_for_client_locked(&mut tx, "webhook_consumers", &r.client_id).await?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= max {
            return Ok(false);
        }
        sqlx::query(&format!(
            "INSERT INTO webhook_consumers ({CONSUMER_COLUMNS}, key_id, secret) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.url)
        .bind(r.disabled)
        .bind(&r.disabled_reason)
        .bind(&r.event_types)
        .bind(&r.company_tags)
        .bind(r.failing_since)
        .bind(r.created)
        .bind(r.updated)
        .bind(&secret.key_id)
        .bind(&secret.sealed)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn list_consumers(&self, client: ClientId) -> Result<Vec<Consumer>> {
        sqlx::query(&format!(
            "SELECT {CONSUMER_COLUMNS} FROM webhook_consumers WHERE client_id = $1 ORDER BY created, id"
        ))
        .bind(client.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| consumer_row(r)?.into_domain())
        .collect()
    }

    async fn get_consumer(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Consumer>> {
        sqlx::query(&format!(
            "SELECT {CONSUMER_COLUMNS} FROM webhook_consumers WHERE id = $1 AND client_id = $2"
        ))
        .bind(id.to_string())
        .bind(client.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| consumer_row(&r)?.into_domain())
        .transpose()
    }

    async fn update_consumer(&self, consumer: &Consumer) -> Result<bool> {
        let r = ConsumerRow::from_domain(consumer);
        let n = sqlx::query(
            "UPDATE webhook_consumers SET url = $3, disabled = $4, disabled_reason = $5, event_types = $6, \
             company_tags = $7, failing_since = $8, updated = $9 WHERE id = $1 AND client_id = $2",
        )
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.url)
        .bind(r.disabled)
        .bind(&r.disabled_reason)
        .bind(&r.event_types)
        .bind(&r.company_tags)
        .bind(r.failing_since)
        .bind(r.updated)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn note_consumer_failure(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        at: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let row = sqlx::query(
            "UPDATE webhook_consumers SET failing_since = COALESCE(failing_since, $3) \
             WHERE id = $1 AND client_id = $2 RETURNING failing_since",
        )
        .bind(id.to_string())
        .bind(client.to_string())
        .bind(at.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        match row {
            Some(r) => Ok(get::<Option<i64>>(&r, 0)?.map(Timestamp::from_millis)),
            None => Ok(None),
        }
    }

    async fn note_consumer_success(&self, client: ClientId, id: uuid::Uuid) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_consumers SET failing_since = NULL \
             WHERE id = $1 AND client_id = $2 AND failing_since IS NOT NULL",
        )
        .bind(id.to_string())
        .bind(client.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn disable_consumer(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        reason: &str,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let n = sqlx::query(
            "UPDATE webhook_consumers SET disabled = TRUE, disabled_reason = $3, updated = $4 \
             WHERE id = $1 AND client_id = $2 AND NOT disabled",
        )
        .bind(id.to_string())
        .bind(client.to_string())
        .bind(reason)
        .bind(at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        PostgresStore::write_effects(self, &mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(true)
    }

    async fn delete_consumer(&self, client: ClientId, id: uuid::Uuid) -> Result<bool> {
        let n = sqlx::query("DELETE FROM webhook_consumers WHERE id = $1 AND client_id = $2")
            .bind(id.to_string())
            .bind(client.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(n == 1)
    }

    async fn get_consumer_secrets(
        &self,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<Option<ConsumerSecrets>> {
        let row = sqlx::query(
            "SELECT key_id, secret, previous_key_id, previous_secret, previous_expires \
             FROM webhook_consumers WHERE id = $1 AND client_id = $2",
        )
        .bind(id.to_string())
        .bind(client.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(r) = row else { return Ok(None) };
        let current = SealedSecret {
            key_id: get(&r, 0)?,
            sealed: get(&r, 1)?,
        };
        let prev_key: Option<String> = get(&r, 2)?;
        let prev: Option<Vec<u8>> = get(&r, 3)?;
        let until: Option<i64> = get(&r, 4)?;
        let previous = match (prev_key, prev, until) {
            (Some(key_id), Some(sealed), Some(until)) => Some((
                SealedSecret { key_id, sealed },
                Timestamp::from_millis(until),
            )),
            _ => None,
        };
        Ok(Some(ConsumerSecrets { current, previous }))
    }

    async fn rotate_consumer_secret(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        next: &SealedSecret,
        previous_until: Timestamp,
        at: Timestamp,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE webhook_consumers SET previous_key_id = key_id, previous_secret = secret, \
             previous_expires = $3, key_id = $4, secret = $5, updated = $6 WHERE id = $1 AND client_id = $2",
        )
        .bind(id.to_string())
        .bind(client.to_string())
        .bind(previous_until.as_millis())
        .bind(&next.key_id)
        .bind(&next.sealed)
        .bind(at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn webhook_secrets_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<(ClientId, uuid::Uuid)>> {
        let rows = sqlx::query(
            "SELECT client_id, id FROM webhook_consumers WHERE key_id <> $1 \
             OR (previous_key_id IS NOT NULL AND previous_key_id <> $1) ORDER BY id LIMIT $2",
        )
        .bind(active_key)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let c: String = get(r, 0)?;
                let id: String = get(r, 1)?;
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
        let (pk, ps, pu) = match &secrets.previous {
            Some((p, until)) => (
                Some(p.key_id.clone()),
                Some(p.sealed.clone()),
                Some(until.as_millis()),
            ),
            None => (None, None, None),
        };
        let n = sqlx::query(
            "UPDATE webhook_consumers SET key_id = $3, secret = $4, previous_key_id = $5, \
             previous_secret = $6, previous_expires = $7 WHERE id = $1 AND client_id = $2",
        )
        .bind(id.to_string())
        .bind(client.to_string())
        .bind(&secrets.current.key_id)
        .bind(&secrets.current.sealed)
        .bind(pk)
        .bind(ps)
        .bind(pu)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn get_deliveries_with_events(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<Vec<(Delivery, Option<Event>)>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let rows = sqlx::query(&format!(
            "SELECT {}, {} FROM webhook_deliveries d LEFT JOIN events e \
             ON e.id = d.event_id AND e.client_id = d.client_id WHERE d.id = ANY($1)",
            prefixed("d", DELIVERY_COLUMNS),
            prefixed("e", EVENT_COLUMNS)
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let event_id: Option<String> = get(r, 14)?;
            let event = match event_id {
                Some(_) => Some(event_row_at(r, 14)?.into_domain()?),
                None => None,
            };
            out.push((delivery_row(r)?.into_domain()?, event));
        }
        Ok(out)
    }

    async fn get_delivery(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Delivery>> {
        sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND client_id = $2"
        ))
        .bind(id.to_string())
        .bind(client.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| delivery_row(&r)?.into_domain())
        .transpose()
    }

    async fn list_deliveries(
        &self,
        client: ClientId,
        consumer: uuid::Uuid,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE consumer_id = $1 AND client_id = $2",
        )
        .bind(consumer.to_string())
        .bind(client.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?
        .try_get(0)
        .map_err(db_error)?;
        let items = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE consumer_id = $1 AND client_id = $2 \
             ORDER BY id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(consumer.to_string())
        .bind(client.to_string())
        .bind(page.limit() as i64)
        .bind(page.offset() as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| delivery_row(r)?.into_domain())
        .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
            request: page,
        })
    }

    async fn write_effects(&self, effects: &Effects) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        PostgresStore::write_effects(self, &mut tx, effects).await?;
        self.commit_with(tx, effects).await
    }

    async fn wait_for_jobs(&self, timeout: std::time::Duration) {
        // One task per process listens; others wait for this process's own wake-ups.
        let Ok(mut guard) = self.listener.try_lock() else {
            let _ = tokio::time::timeout(timeout, self.jobs_ready.notified()).await;
            return;
        };
        if guard.is_none() {
            match sqlx::postgres::PgListener::connect_with(&self.pool).await {
                Ok(mut l) => match l.listen(&self.channel).await {
                    Ok(()) => *guard = Some(l),
                    Err(e) => tracing::warn!(error = %e, "jobs: LISTEN failed; polling instead"),
                },
                Err(e) => tracing::warn!(error = %e, "jobs: no LISTEN connection; polling instead"),
            }
        }
        let lost = match guard.as_mut() {
            Some(l) => {
                tokio::select! {
                    r = l.recv() => r.is_err(),
                    _ = self.jobs_ready.notified() => false,
                    _ = tokio::time::sleep(timeout) => false,
                }
            }
            None => {
                let _ = tokio::time::timeout(timeout, self.jobs_ready.notified()).await;
                false
            }
        };
        if lost {
            *guard = None;
        }
    }

    async fn list_events(
        &self,
        client: ClientId,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        let mut where_ = String::from("client_id = $1");
        let mut args: Vec<String> = vec![client.to_string()];
        if let Some(t) = &filter.event_type {
            args.push(t.clone());
            where_.push_str(&format!(" AND event_type = ${}", args.len()));
        }
        if let Some(c) = filter.company {
            args.push(c.to_string());
            where_.push_str(&format!(" AND company_id = ${}", args.len()));
        }
        if let Some(c) = filter.connection {
            args.push(c.to_string());
            where_.push_str(&format!(" AND connection_id = ${}", args.len()));
        }
        if let Some(t) = filter.since {
            // Bound as text and cast, so every parameter here is a string.
            args.push(t.as_millis().to_string());
            where_.push_str(&format!(" AND occurred_at >= (${})::BIGINT", args.len()));
        }
        let count_sql = format!("SELECT COUNT(*) FROM events WHERE {where_}");
        let mut count = sqlx::query(&count_sql);
        for a in &args {
            count = count.bind(a);
        }
        let total: i64 = count
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?
            .try_get(0)
            .map_err(db_error)?;
        let list_sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE {where_} ORDER BY id DESC LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let mut list = sqlx::query(&list_sql);
        for a in &args {
            list = list.bind(a);
        }
        let rows = list
            .bind(page.limit() as i64)
            .bind(page.offset() as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let items = rows
            .iter()
            .map(|r| event_row(r)?.into_domain())
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
            request: page,
        })
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        per_key: u32,
    ) -> Result<Vec<Job>> {
        let (now, until) = (now.as_millis(), lease_until.as_millis());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Candidates locked with SKIP LOCKED: concurrent workers take disjoint sets. Two queries,
        // each walking its partial index in order and stopping at the limit (one query with an
        // OR over both states scans and sorts every due job).
        let mut candidates = Vec::new();
        for sql in [
            // Jobs whose concurrency key is busy are left out here, not after the limit: a backlog
            // behind one busy key never hides other due work.
            "SELECT id, concurrency_key, run_at FROM jobs j WHERE state = 'queued' AND run_at <= $1 \
             AND (concurrency_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r WHERE \
             r.concurrency_key = j.concurrency_key AND r.state = 'running' AND r.lease_expires > $1)) \
             ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            // Found by lease expiry (its index), merged by run_at like the queued ones, so a job
            // taken over comes before the jobs queued behind it on its key.
            "SELECT id, concurrency_key, run_at FROM jobs WHERE state = 'running' \
             AND lease_expires <= $1 ORDER BY lease_expires LIMIT $2 FOR UPDATE SKIP LOCKED",
        ] {
            for row in sqlx::query(sql)
                .bind(now)
                .bind(i64::from(limit) * 4)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?
            {
                let (id, key, run_at): (String, Option<String>, i64) =
                    (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
                candidates.push((run_at, id, key));
            }
        }
        candidates.sort_by_key(|c| c.0); // stable: ties keep each query's id order
        // A group's head: the first candidate of each key (and every job without one).
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let heads: Vec<&(i64, String, Option<String>)> = candidates
            .iter()
            .filter(|(_, _, k)| k.as_deref().is_none_or(|k| seen.insert(k)))
            .collect();
        let keys: Vec<String> = heads.iter().filter_map(|h| h.2.clone()).collect();
        let mut free: std::collections::HashSet<String> = std::collections::HashSet::new();
        if !keys.is_empty() {
            // Claims of a key are serialised across workers for the rest of this transaction;
            // a key another worker is claiming right now is skipped, not waited for.
            let locked: Vec<String> = sqlx::query_scalar(
                "SELECT k FROM unnest($1::text[]) AS k WHERE pg_try_advisory_xact_lock(hashtextextended(k, 7))",
            )
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            // A key is taken only if nothing of it runs under a live lease and this head is its
            // first queued job: a head found past a row another claimer had locked (SKIP
            // LOCKED) would otherwise run before that earlier job.
            let locked_heads: Vec<&&(i64, String, Option<String>)> = heads
                .iter()
                .filter(|h| h.2.as_ref().is_some_and(|k| locked.contains(k)))
                .collect();
            let busy: Vec<String> = sqlx::query_scalar(
                "SELECT h.key FROM unnest($1::text[], $2::text[], $3::bigint[]) AS h(key, head, run_at) WHERE \
                 EXISTS (SELECT 1 FROM jobs WHERE concurrency_key = h.key AND state = 'running' \
                 AND lease_expires > $4 AND id <> h.head) \
                 OR EXISTS (SELECT 1 FROM jobs WHERE concurrency_key = h.key AND state = 'queued' \
                 AND (run_at, id) < (h.run_at, h.head))",
            )
            .bind(locked_heads.iter().filter_map(|h| h.2.clone()).collect::<Vec<_>>())
            .bind(locked_heads.iter().map(|h| h.1.clone()).collect::<Vec<_>>())
            .bind(locked_heads.iter().map(|h| h.0).collect::<Vec<_>>())
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            free = locked.into_iter().filter(|k| !busy.contains(k)).collect();
        }
        let chosen: Vec<&(i64, String, Option<String>)> = heads
            .into_iter()
            .filter(|h| h.2.as_ref().is_none_or(|k| free.contains(k)))
            .take(limit as usize)
            .collect();
        if chosen.is_empty() {
            tx.commit().await.map_err(db_error)?;
            return Ok(Vec::new());
        }
        let claim = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $2, lease_expires = $3, fence = fence + 1, \
             attempts = attempts + 1, updated = $4 WHERE id = ANY($1) RETURNING {JOB_COLUMNS}"
        );
        let ids: Vec<&str> = chosen.iter().map(|h| h.1.as_str()).collect();
        let mut claimed_heads = Vec::with_capacity(ids.len());
        for r in sqlx::query(&claim)
            .bind(&ids)
            .bind(owner)
            .bind(until)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?
        {
            claimed_heads.push(job_row(&r)?.into_domain()?);
        }
        // The keys' next due jobs come with their heads, for this owner to run in order.
        let mut followers: std::collections::HashMap<String, Vec<Job>> =
            std::collections::HashMap::new();
        let group_keys: Vec<String> = chosen.iter().filter_map(|h| h.2.clone()).collect();
        if per_key > 1 && !group_keys.is_empty() {
            // In run order per key; rows another claimer holds are not waited for (two claims
            // waiting on each other's rows would deadlock), and a key's followers stop at the
            // first such row, so none runs before an earlier one.
            let mut next: Vec<(String, i64, String)> = Vec::new();
            for r in sqlx::query(
                "SELECT f.concurrency_key, f.run_at, f.id FROM unnest($1::text[]) AS k(key) CROSS JOIN LATERAL \
                 (SELECT id, concurrency_key, run_at FROM jobs WHERE concurrency_key = k.key AND state = 'queued' \
                 AND run_at <= $2 ORDER BY run_at, id LIMIT $3) f",
            )
            .bind(&group_keys)
            .bind(now)
            .bind(i64::from(per_key - 1))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?
            {
                next.push((get(&r, 0)?, get(&r, 1)?, get(&r, 2)?));
            }
            let ids: Vec<&str> = next.iter().map(|n| n.2.as_str()).collect();
            let lockable: std::collections::HashSet<String> = sqlx::query_scalar(
                "SELECT id FROM jobs WHERE id = ANY($1) AND state = 'queued' FOR UPDATE SKIP LOCKED",
            )
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?
            .into_iter()
            .collect();
            next.sort();
            let mut take: Vec<&str> = Vec::new();
            let mut stopped: std::collections::HashSet<&str> = std::collections::HashSet::new();
            for (key, _, id) in &next {
                if stopped.contains(key.as_str()) {
                    continue;
                }
                if lockable.contains(id) {
                    take.push(id);
                } else {
                    stopped.insert(key);
                }
            }
            let sql = format!(
                "UPDATE jobs SET state = 'running', lease_owner = $2, lease_expires = $3, fence = fence + 1, \
                 attempts = attempts + 1, updated = $4 WHERE id = ANY($1) RETURNING {JOB_COLUMNS}"
            );
            for r in sqlx::query(&sql)
                .bind(&take)
                .bind(owner)
                .bind(until)
                .bind(now)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?
            {
                let job = job_row(&r)?.into_domain()?;
                if let Some(k) = job.concurrency_key.clone() {
                    followers.entry(k).or_default().push(job);
                }
            }
        }
        tx.commit().await.map_err(db_error)?;
        claimed_heads.sort_by_key(|j| (j.run_at, j.id));
        let mut claimed = Vec::new();
        for head in claimed_heads {
            let mut more = head
                .concurrency_key
                .as_ref()
                .and_then(|k| followers.remove(k))
                .unwrap_or_default();
            more.sort_by_key(|j| (j.run_at, j.id));
            claimed.push(head);
            claimed.extend(more);
        }
        Ok(claimed)
    }

    async fn heartbeat_job(
        &self,
        id: uuid::Uuid,
        fence: i64,
        lease_until: Timestamp,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE jobs SET lease_expires = $3 WHERE id = $1 AND fence = $2 AND state = 'running'",
        )
        .bind(id.to_string())
        .bind(fence)
        .bind(lease_until.as_millis())
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn record_jobs(&self, records: &[JobRecord]) -> Result<Vec<bool>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // Two statements whatever the batch's size: the jobs, then the deliveries of the jobs
        // whose fence held, each from arrays.
        let n = records.len();
        let (mut ids, mut fences, mut states, mut run_ats, mut errors, mut ats) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for r in records {
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
            ids.push(r.id.to_string());
            fences.push(r.fence);
            states.push(state);
            run_ats.push(run_at);
            errors.push(error);
            ats.push(r.at.as_millis());
        }
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let applied: Vec<String> = sqlx::query_scalar(
            "UPDATE jobs j SET state = CASE WHEN u.state = 'deferred' THEN 'queued' ELSE u.state END, \
             run_at = COALESCE(u.run_at, j.run_at), \
             attempts = j.attempts - CASE WHEN u.state = 'deferred' THEN 1 ELSE 0 END, \
             last_error = CASE WHEN u.state = 'done' THEN j.last_error ELSE u.error END, \
             lease_owner = NULL, lease_expires = NULL, updated = u.at \
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[]) \
             AS u(id, fence, state, run_at, error, at) \
             WHERE j.id = u.id AND j.fence = u.fence AND j.state = 'running' RETURNING j.id",
        )
        .bind(&ids)
        .bind(&fences)
        .bind(&states)
        .bind(&run_ats)
        .bind(&errors)
        .bind(&ats)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let applied: std::collections::HashSet<String> = applied.into_iter().collect();
        let deliveries: Vec<DeliveryRow> = records
            .iter()
            .zip(&ids)
            .filter(|(_, id)| applied.contains(*id))
            .filter_map(|(r, _)| r.delivery.as_ref().map(DeliveryRow::from_domain))
            .collect();
        if !deliveries.is_empty() {
            let col = |f: fn(&DeliveryRow) -> Option<i64>| -> Vec<Option<i64>> {
                deliveries.iter().map(f).collect()
            };
            sqlx::query(
                "UPDATE webhook_deliveries d SET state = u.state, attempts = u.attempts, \
                 last_attempt_at = u.last_attempt_at, response_status = u.response_status, \
                 duration_ms = u.duration_ms, response_body = u.response_body, next_attempt_at = u.next_attempt_at \
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[]) \
                 AS u(id, state, attempts, last_attempt_at, response_status, duration_ms, response_body, next_attempt_at) \
                 WHERE d.id = u.id",
            )
            .bind(deliveries.iter().map(|d| d.id.clone()).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|d| d.state.clone()).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|d| d.attempts).collect::<Vec<_>>())
            .bind(col(|d| d.last_attempt_at))
            .bind(col(|d| d.response_status))
            .bind(col(|d| d.duration_ms))
            .bind(deliveries.iter().map(|d| d.response_body.clone()).collect::<Vec<_>>())
            .bind(col(|d| d.next_attempt_at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(ids.iter().map(|id| applied.contains(id)).collect())
    }

    async fn get_job(&self, id: uuid::Uuid) -> Result<Option<Job>> {
        sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|r| job_row(&r)?.into_domain())
            .transpose()
    }

    async fn prune_jobs(&self, before: Timestamp, limit: u32) -> Result<u64> {
        let n = sqlx::query(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'done' AND updated < $1 \
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(before.as_millis())
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(n)
    }

    async fn job_state_counts(&self) -> Result<Vec<(String, u64)>> {
        count_by(
            &self.pool,
            "SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state",
        )
        .await
    }

    async fn try_lease(
        &self,
        key: &str,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let n = sqlx::query("INSERT INTO leases (key, owner, expires_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at WHERE leases.expires_at <= $4 OR leases.owner = excluded.owner")
            .bind(key)
            .bind(owner)
            .bind(until.as_millis())
            .bind(now.as_millis())
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(n == 1)
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE key = $1 AND owner = $2")
            .bind(key)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn integration_credentials_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<IntegrationCredentials>> {
        sqlx::query(&format!(
            "SELECT {INTEGRATION_CREDENTIAL_COLUMNS} FROM integration_credentials \
             WHERE key_id IS NOT NULL AND key_id <> $1 ORDER BY client_id, integration_key LIMIT $2"
        ))
        .bind(active_key)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| integration_credentials_row(r)?.into_domain())
        .collect()
    }

    async fn delete_integration_credentials(
        &self,
        client: ClientId,
        integration_key: &str,
    ) -> Result<bool> {
        let n = sqlx::query(
            "DELETE FROM integration_credentials WHERE client_id = $1 AND integration_key = $2",
        )
        .bind(client.to_string())
        .bind(integration_key)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(n > 0)
    }

    // -- syncs ---------------------------------------------------------------------------------

    async fn queue_pulls(&self, batch: &PullBatch, all_or_nothing: bool) -> Result<QueueOutcome> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let out = sync::queue_pulls_tx(&mut tx, batch, all_or_nothing).await?;
        match &out {
            // Rolled back: nothing is written.
            QueueOutcome::Busy(_) => return Ok(out),
            QueueOutcome::Queued(ids) => {
                tx.commit().await.map_err(db_error)?;
                if !ids.is_empty() {
                    self.announce_jobs();
                }
            }
        }
        Ok(out)
    }

    async fn get_dataset(
        &self,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<Option<finlink_domain::sync::Dataset>> {
        sync::get_dataset(&self.pool, &client.to_string(), &id.to_string()).await
    }

    async fn list_datasets(
        &self,
        client: ClientId,
        company: CompanyId,
        query: &ListQuery,
    ) -> Result<Page<finlink_domain::sync::Dataset>> {
        let order = sql::order_by(&sql::DATASETS, query.order.as_ref())?;
        let where_ = sql::list_where(
            Dialect::Postgres,
            "FROM datasets d",
            &[
                Param::Text(client.to_string()),
                Param::Text(company.to_string()),
            ],
            &sql::DATASETS,
            query,
        )?;
        let (rows, total) = self
            .run_list(
                finlink_store::rows::DATASET_COLUMNS,
                where_,
                &order,
                query,
                None,
            )
            .await?;
        Ok(Page {
            items: rows
                .iter()
                .map(|r| sync::dataset_row(r)?.into_domain())
                .collect::<Result<Vec<_>>>()?,
            total,
            request: query.page,
        })
    }

    async fn data_status(
        &self,
        client: ClientId,
        company: CompanyId,
    ) -> Result<Vec<finlink_domain::sync::DataTypeStatus>> {
        sync::data_status(&self.pool, &client.to_string(), &company.to_string()).await
    }

    async fn sync_watermark(
        &self,
        client: ClientId,
        connection: ConnectionId,
        data_type: finlink_domain::data::DataType,
    ) -> Result<Option<Timestamp>> {
        sync::sync_watermark(
            &self.pool,
            &client.to_string(),
            &connection.to_string(),
            data_type.as_str(),
        )
        .await
    }

    async fn start_dataset(
        &self,
        start: &DatasetStart,
    ) -> Result<Option<finlink_domain::sync::Dataset>> {
        sync::start_dataset(&self.pool, start).await
    }

    async fn store_page(&self, page: &PageWrite) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if !sync::store_page(&mut tx, page).await? {
            return Ok(false);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn update_dataset(
        &self,
        update: &DatasetUpdate,
        effects: &Effects,
    ) -> Result<Option<finlink_domain::sync::Dataset>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let Some(d) = sync::update_dataset(&mut tx, update).await? else {
            return Ok(None);
        };
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(Some(d))
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
        sync::get_batch(&self.pool, &client.to_string(), &id.to_string()).await
    }

    async fn complete_batch(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if !sync::complete_batch(&mut tx, &client.to_string(), &id.to_string(), at).await? {
            return Ok(false);
        }
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(true)
    }

    async fn list_records(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: finlink_domain::data::DataType,
        page: PageRequest,
    ) -> Result<Page<finlink_domain::sync::StoredRecord>> {
        let connection = connection.map(|c| c.to_string());
        sync::list_records(
            &self.pool,
            &client.to_string(),
            &company.to_string(),
            connection.as_deref(),
            data_type.as_str(),
            page,
        )
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
        let connection = connection.map(|c| c.to_string());
        sync::get_record(
            &self.pool,
            &client.to_string(),
            &company.to_string(),
            connection.as_deref(),
            data_type.as_str(),
            record_id,
        )
        .await
    }

    // -- sync settings and schedules -----------------------------------------------------------

    async fn get_sync_settings(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
    ) -> Result<Option<finlink_domain::sync_settings::SyncSettings>> {
        let company = company.map(|c| c.to_string());
        settings::get_sync_settings(&self.pool, &client.to_string(), company.as_deref()).await
    }

    async fn put_sync_settings(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
        s: &finlink_domain::sync_settings::SyncSettings,
        effects: &Effects,
    ) -> Result<bool> {
        let company = company.map(|c| c.to_string());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if !settings::put_sync_settings(&mut tx, &client.to_string(), company.as_deref(), s).await?
        {
            return Ok(false);
        }
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(true)
    }

    async fn latest_pulls(
        &self,
        client: ClientId,
        connection: ConnectionId,
    ) -> Result<Vec<(finlink_domain::data::DataType, Timestamp)>> {
        settings::latest_pulls(&self.pool, &client.to_string(), &connection.to_string()).await
    }

    // -- reading data: the read endpoints -------------------------------------------------------

    async fn data_type_read(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: finlink_domain::data::DataType,
    ) -> Result<bool> {
        let connection = connection.map(|c| c.to_string());
        records::data_type_read(
            &self.pool,
            &client.to_string(),
            &company.to_string(),
            connection.as_deref(),
            data_type,
        )
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
        let connection = connection.map(|c| c.to_string());
        records::query_records(
            &self.pool,
            &self.counts,
            &client.to_string(),
            &company.to_string(),
            connection.as_deref(),
            data_type,
            query,
        )
        .await
    }
    async fn insert_migration_run(&self, run: &finlink_store::MigrationRun) -> Result<()> {
        self.mig_insert_run(run).await
    }

    async fn get_migration_run(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<finlink_store::MigrationRun>> {
        self.mig_get_run(id).await
    }

    async fn find_migration_run(
        &self,
        client: ClientId,
        fingerprint: &str,
    ) -> Result<Option<finlink_store::MigrationRun>> {
        self.mig_find_run(client, fingerprint).await
    }

    async fn list_migration_runs(&self, limit: u32) -> Result<Vec<finlink_store::MigrationRun>> {
        self.mig_list_runs(limit).await
    }

    async fn migration_companies(
        &self,
        client: ClientId,
        refs: &[String],
        ids: &[CompanyId],
    ) -> Result<Vec<Company>> {
        self.mig_companies(client, refs, ids).await
    }

    async fn import_migration_batch(&self, batch: finlink_store::MigrationBatch) -> Result<bool> {
        self.mig_import_batch(&batch).await
    }

    async fn set_migration_run_status(
        &self,
        id: uuid::Uuid,
        status: &str,
        detail: Option<&str>,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool> {
        self.mig_set_status(id, status, detail, at, effects).await
    }

    async fn list_migration_rows(
        &self,
        run: uuid::Uuid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<finlink_store::MigrationRowRecord>> {
        self.mig_list_rows(run, after, limit).await
    }

    async fn rollback_migration_run(&self, id: uuid::Uuid, at: Timestamp) -> Result<u64> {
        self.mig_rollback(id, at).await
    }
}

/// `SELECT key, COUNT(*) ... GROUP BY key` as pairs.
async fn count_by(pool: &PgPool, sql: &str) -> Result<Vec<(String, u64)>> {
    let rows = sqlx::query(sql).fetch_all(pool).await.map_err(db_error)?;
    rows.iter()
        .map(|r| {
            Ok((
                get::<String>(r, 0)?,
                u64::try_from(get::<i64>(r, 1)?).unwrap_or(0),
            ))
        })
        .collect()
}

fn job_row(r: &PgRow) -> Result<JobRow> {
    Ok(JobRow {
        id: get(r, 0)?,
        kind: get(r, 1)?,
        payload: get(r, 2)?,
        run_at: get(r, 3)?,
        attempts: get(r, 4)?,
        max_attempts: get(r, 5)?,
        state: get(r, 6)?,
        lease_owner: get(r, 7)?,
        lease_expires: get(r, 8)?,
        fence: get(r, 9)?,
        last_error: get(r, 10)?,
        idempotency_key: get(r, 11)?,
        concurrency_key: get(r, 12)?,
        created: get(r, 13)?,
        updated: get(r, 14)?,
    })
}

fn link_flow_row(r: &PgRow) -> Result<LinkFlowRow> {
    Ok(LinkFlowRow {
        id: get(r, 0)?,
        state_hash: get(r, 1)?,
        browser_hash: get(r, 2)?,
        client_id: get(r, 3)?,
        company_id: get(r, 4)?,
        connection_id: get(r, 5)?,
        integration_key: get(r, 6)?,
        lang: get(r, 7)?,
        stage: get(r, 8)?,
        sealed: get(r, 9)?,
        version: get(r, 10)?,
        created: get(r, 11)?,
        expires: get(r, 12)?,
    })
}

fn integration_credentials_row(r: &PgRow) -> Result<IntegrationCredentialsRow> {
    Ok(IntegrationCredentialsRow {
        client_id: get(r, 0)?,
        integration_key: get(r, 1)?,
        oauth_client_id: get(r, 2)?,
        sealed_secret: get(r, 3)?,
        key_id: get(r, 4)?,
        updated: get(r, 5)?,
    })
}
