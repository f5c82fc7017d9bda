//! `finlink-bench seed`: fills a database with companies through finlink's own store.
//! `finlink-bench baseline`: a bare axum handler doing the same SQLite point read as
//! `GET /companies/{id}` (rusqlite on the async worker, one connection per worker
//! thread), the baseline finlink's read figures are compared with.
//! `token-baseline`, `refresh-seed`, `refresh-storm`, `sched`: the refresh benchmark
//! (`bench/refresh.sh`, see `refresh.rs`).
//! `webhook-baseline`, `webhook-run`: the webhook benchmark (`bench/webhooks.sh`, see
//! `webhooks.rs`).

mod refresh;
mod webhooks;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use clap::{Parser, Subcommand};
use finlink::Config;
use finlink_domain::company::Company;
use finlink_domain::ids::CompanyId;
use finlink_domain::{Clock, SystemClock};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a client, print its API key on stdout, insert N companies, write some ids to --ids.
    Seed {
        #[arg(long)]
        companies: usize,
        #[arg(long)]
        ids: PathBuf,
    },
    /// Serve GET /companies/{id} straight from SQLite.
    Baseline {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        listen: String,
    },
    /// The sandbox token endpoint alone: mint N grants, refresh each once through finlink's
    /// OAuth client over loopback, print requests/s.
    TokenBaseline {
        #[arg(long)]
        requests: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// N Sandbox connections whose tokens expired an hour ago (N refresh jobs due at once).
    RefreshSeed {
        #[arg(long)]
        connections: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Run finlink with its workers until N refresh jobs are done; print refreshes/s and RSS.
    RefreshStorm {
        #[arg(long)]
        expect: u64,
        #[arg(long, default_value_t = 1800)]
        timeout_secs: u64,
    },
    /// Time `claim_jobs` with nothing due, with the queue of not-due jobs at each size.
    Sched {
        /// Comma-separated queue sizes, ascending.
        #[arg(long, value_delimiter = ',', default_value = "10000,1000000")]
        sizes: Vec<u64>,
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        /// The claim's limit (the workers pass their free slots, 64 by default).
        #[arg(long, default_value_t = 64)]
        limit: u32,
    },
    /// A local webhook receiver alone, hit with N signed POSTs through finlink's webhook sender
    /// at each concurrency; prints requests/s.
    WebhookBaseline {
        #[arg(long)]
        requests: usize,
        /// Comma-separated requests in flight, one measurement each.
        #[arg(long, value_delimiter = ',', default_value = "16,64")]
        concurrency: Vec<usize>,
    },
    /// finlink (API, workers) delivering N company.created events to a local receiver while
    /// they are made; prints deliveries/s and the latency from the commit to the receipt.
    WebhookRun {
        #[arg(long)]
        events: usize,
        /// create_company calls in flight.
        #[arg(long, default_value_t = 32)]
        in_flight: usize,
        /// Events per second (paced); as fast as possible when not given.
        #[arg(long)]
        rate: Option<f64>,
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
        /// Webhook consumers, each receiving every event (deliveries = events x consumers).
        #[arg(long, default_value_t = 1)]
        consumers: usize,
        /// Make every event first with no worker running, then start the workers and time
        /// how fast they drain the backlog.
        #[arg(long)]
        backlog: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Seed { companies, ids } => seed(companies, ids).await,
        Cmd::Baseline { db, listen } => baseline(db, listen).await,
        Cmd::TokenBaseline {
            requests,
            concurrency,
        } => refresh::token_baseline(requests, concurrency).await,
        Cmd::RefreshSeed {
            connections,
            concurrency,
        } => refresh::refresh_seed(connections, concurrency).await,
        Cmd::RefreshStorm {
            expect,
            timeout_secs,
        } => refresh::refresh_storm(expect, timeout_secs).await,
        Cmd::Sched {
            sizes,
            calls,
            limit,
        } => refresh::sched(&sizes, calls, limit).await,
        Cmd::WebhookBaseline {
            requests,
            concurrency,
        } => webhooks::webhook_baseline(requests, &concurrency).await,
        Cmd::WebhookRun {
            events,
            in_flight,
            rate,
            timeout_secs,
            consumers,
            backlog,
        } => webhooks::webhook_run(events, in_flight, rate, timeout_secs, consumers, backlog).await,
    }
}

async fn seed(n: usize, ids_file: PathBuf) -> anyhow::Result<()> {
    // Environment (FINLINK_DATA_DIR / FINLINK_DATABASE_URL / ...) picks the engine, as for finlink.
    let cfg = Config::load(None, &finlink::config::Overrides::default())?;
    let keyring = finlink::load_keyring(&cfg)?;
    let store = finlink::open_store(&cfg).await?;
    let app = finlink::build_app(
        &cfg,
        store.clone(),
        Arc::new(SystemClock),
        String::from("http://bench"),
        String::from("http://bench"),
        keyring,
    )?;
    let client = app
        .create_client("bench")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = app
        .create_api_key(client.id, None, vec![])
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let clock = SystemClock;
    let mut ids = Vec::new();
    let concurrency = if cfg.database_url.is_some() { 16 } else { 1 };
    let mut pending = futures::stream::FuturesUnordered::new();
    use futures::StreamExt;
    for i in 0..n {
        let now = clock.now().plus_millis(i as i64);
        let mut tags = BTreeMap::new();
        tags.insert(
            String::from("region"),
            String::from(if i % 2 == 0 { "uk" } else { "us" }),
        );
        let company = Company {
            id: CompanyId::new_v7(now),
            client_id: client.id,
            name: format!("Company {i:06}"),
            description: Some(String::from("seeded for the read benchmark")),
            tags,
            created: now,
            modified: now,
            last_sync: None,
            created_by_user_name: None,
            products: vec![],
            consumer_id: None,
            connections: vec![],
        };
        if i % (n / 1000).max(1) == 0 {
            ids.push(company.id.to_string());
        }
        let store = store.clone();
        pending.push(async move {
            store
                .insert_company(&company, &finlink_store::Effects::none())
                .await
        });
        if pending.len() >= concurrency
            && let Some(r) = pending.next().await
        {
            r.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    while let Some(r) = pending.next().await {
        r.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    std::fs::write(&ids_file, ids.join("\n")).context("writing ids")?;
    println!("{}", key.key);
    std::io::stdout().flush()?;
    Ok(())
}

thread_local! {
    static CONN: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
}

async fn baseline(db: PathBuf, listen: String) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/companies/{id}", get(read))
        .route("/companies", get(list))
        .route(
            "/vault/connections/accounting/sandbox/import",
            axum::routing::post(insert),
        )
        .with_state(Arc::new(db));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn with_conn<T>(
    db: &std::path::Path,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, StatusCode>,
) -> Result<T, StatusCode> {
    CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let c = rusqlite::Connection::open_with_flags(
                db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
            *slot = Some(c);
        }
        f(slot.as_ref().ok_or(StatusCode::INTERNAL_SERVER_ERROR)?)
    })
}

/// The same page of 100 companies as JSON, read straight from SQLite (no auth, no count).
async fn list(
    State(db): State<Arc<PathBuf>>,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Result<String, StatusCode> {
    let page: i64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let size: i64 = q
        .get("pageSize")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100);
    with_conn(&db, |conn| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, name, description, tags, created FROM companies \
                 ORDER BY client_id, created, id LIMIT ?1 OFFSET ?2",
            )
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let rows = stmt
            .query_map([size, (page - 1) * size], |r| {
                let tags: String = r.get(3)?;
                Ok(serde_json::json!({
                    "id": r.get::<_, String>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "description": r.get::<_, Option<String>>(2)?,
                    "tags": serde_json::from_str::<serde_json::Value>(&tags).unwrap_or_default(),
                    "created": r.get::<_, i64>(4)?,
                }))
            })
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(serde_json::json!({ "results": rows }).to_string())
    })
}

/// The bare baseline for imports: one row (the consumer, the body as a blob) inserted
/// into SQLite through one writer connection, WAL, synchronous=NORMAL.
async fn insert(
    State(db): State<Arc<PathBuf>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<String, StatusCode> {
    static WRITER: std::sync::OnceLock<std::sync::Mutex<rusqlite::Connection>> =
        std::sync::OnceLock::new();
    let consumer = headers
        .get("x-apideck-consumer-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = db.with_file_name("baseline-insert.db");
    let writer = WRITER.get_or_init(|| {
        let c = rusqlite::Connection::open(&path).unwrap_or_else(|_| {
            rusqlite::Connection::open_in_memory().unwrap_or_else(|_| std::process::abort())
        });
        let _ = c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
             CREATE TABLE IF NOT EXISTS imports (consumer TEXT PRIMARY KEY, body BLOB NOT NULL);",
        );
        std::sync::Mutex::new(c)
    });
    tokio::task::spawn_blocking(move || {
        let c = writer
            .lock()
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        c.execute(
            "INSERT INTO imports (consumer, body) VALUES (?1, ?2)",
            rusqlite::params![consumer, body.to_vec()],
        )
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(String::from("{}"))
    })
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
}

async fn read(
    State(db): State<Arc<PathBuf>>,
    Path(id): Path<String>,
) -> Result<String, StatusCode> {
    CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let c = rusqlite::Connection::open_with_flags(
                db.as_path(),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
            *slot = Some(c);
        }
        let conn = slot.as_ref().ok_or(StatusCode::INTERNAL_SERVER_ERROR)?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, name, description, tags, created FROM companies WHERE id = ?1",
            )
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let row = stmt
            .query_row([&id], |r| {
                Ok(serde_json::json!({
                    "id": r.get::<_, String>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "description": r.get::<_, Option<String>>(2)?,
                    "tags": r.get::<_, String>(3)?,
                    "created": r.get::<_, i64>(4)?,
                }))
            })
            .map_err(|_| StatusCode::NOT_FOUND)?;
        Ok(row.to_string())
    })
}
