//! The refresh benchmark's subcommands (`bench/refresh.sh`):
//!
//! - `token-baseline`: the built-in sandbox's token endpoint alone (its router on a loopback
//!   port, nothing of finlink's), hammered by finlink's own OAuth client (`OAuthClient::refresh`,
//!   the call the workers make) with `--concurrency` requests in flight, each with a fresh
//!   refresh token of its own: the baseline.
//! - `refresh-seed`: N connections to the Sandbox integration (`mqjo`), each with a grant minted
//!   by the sandbox and migrated in as `PUT .../authorization` does, with an expiry an hour ago,
//!   so that N refresh jobs are due at once. Workers do not run here.
//! - `refresh-storm`: `finlink::spawn` (what `finlink serve` runs: API, sandbox at `/sandbox`,
//!   workers) over the seeded database, timed until every seeded connection's refresh job is
//!   done; RSS sampled along the way.
//! - `sched`: `Store::claim_jobs` timed with 10k, then 1M refresh jobs queued that are not due.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use finlink::Config;
use finlink_app::companies::CompanyInput;
use finlink_app::migration::Actor;
use finlink_domain::clock::Stopwatch;
use finlink_domain::{Clock, SystemClock};
use finlink_providers::oauth::{OAuthClient, TokenEndpoint};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

fn cfg() -> anyhow::Result<Config> {
    // Environment (FINLINK_DATA_DIR / FINLINK_DATABASE_URL / ...) picks the engine, as for finlink.
    Config::load(None, &finlink::config::Overrides::default())
}

fn domain(e: finlink_domain::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// `(VmRSS, VmHWM)` of this process in kB.
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mb(kb: u64) -> String {
    format!("{:.0}", kb as f64 / 1024.0)
}

fn init_logging() {
    let filter = std::env::var("FINLINK_LOG").unwrap_or_else(|_| String::from("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

/// The sandbox token endpoint alone, on loopback, driven by finlink's OAuth client.
pub async fn token_baseline(requests: usize, concurrency: usize) -> anyhow::Result<()> {
    let cfg = cfg()?;
    let sandbox = finlink::open_sandbox(&cfg, Arc::new(SystemClock))?;
    let router = axum::Router::new().nest("/sandbox", sandbox.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });

    let t = Stopwatch::start();
    let tokens: Vec<String> = futures::stream::iter(0..requests)
        .map(|i| {
            let sb = sandbox.clone();
            async move {
                sb.mint(&format!("Baseline Company {i:07}"))
                    .await
                    .map(|g| g.refresh_token)
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    eprintln!("baseline: minted {requests} grants in {:.1} s", t.seconds());

    let catalog = finlink_providers::Catalog::built_in()?;
    let auth = catalog
        .get("mqjo")
        .and_then(|i| i.oauth.as_ref())
        .map(|o| o.client_auth)
        .context("the catalog has no Sandbox (mqjo) OAuth settings")?;
    let endpoint = TokenEndpoint {
        url: format!("http://{addr}/sandbox/oauth/token"),
        client_id: finlink::SANDBOX_CLIENT_ID.to_owned(),
        client_secret: Some(finlink::SANDBOX_CLIENT_SECRET.to_owned().into()),
        auth,
    };
    let client = OAuthClient::new(Duration::from_secs(20))?;
    let before = sandbox.stats();
    let t = Stopwatch::start();
    let ok = futures::stream::iter(tokens)
        .map(|token| {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            async move { client.refresh(&endpoint, &token.into()).await.is_ok() }
        })
        .buffer_unordered(concurrency)
        .fold(0usize, |n, ok| async move { n + usize::from(ok) })
        .await;
    let secs = t.seconds();
    let after = sandbox.stats();
    println!(
        "requests={requests} ok={ok} secs={secs:.2} rps={:.0} concurrency={concurrency} sandbox_refresh_requests={} grants_revoked={}",
        requests as f64 / secs,
        after.refresh_requests - before.refresh_requests,
        after.grants_revoked - before.grants_revoked,
    );
    Ok(())
}

/// N Sandbox connections whose (migrated) tokens expired an hour ago: N refresh jobs due now.
pub async fn refresh_seed(n: usize, concurrency: usize) -> anyhow::Result<()> {
    let cfg = cfg()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keyring = finlink::load_keyring(&cfg)?;
    let store = finlink::open_store(&cfg).await?;
    let sandbox = finlink::open_sandbox(&cfg, Arc::clone(&clock))?;
    let app = finlink::build_app(
        &cfg,
        store,
        Arc::clone(&clock),
        String::from("http://bench"),
        String::from("http://bench"),
        keyring,
    )?;
    let client = app.create_client("refresh bench").await.map_err(domain)?.id;
    let expired = clock.now().plus_seconds(-3600).to_rfc3339();
    let done = AtomicUsize::new(0);
    let t = Stopwatch::start();
    futures::stream::iter(0..n)
        .map(|i| {
            let (app, sandbox, expired, done) = (&app, &sandbox, &expired, &done);
            async move {
                let name = format!("Refresh Bench {i:07}");
                let grant = sandbox.mint(&name).await?;
                let company = app
                    .create_company(
                        client,
                        CompanyInput {
                            name,
                            ..CompanyInput::default()
                        },
                    )
                    .await
                    .map_err(domain)?;
                let conn = app
                    .create_connection(client, company.id, "mqjo")
                    .await
                    .map_err(domain)?;
                let body: BTreeMap<String, Value> = [
                    ("accessToken", grant.access_token),
                    ("refreshToken", grant.refresh_token),
                    ("tenantId", grant.tenant_id),
                    ("expiresAt", expired.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect();
                app.migrate_connection(&Actor::Cli, client, company.id, conn.id, &body)
                    .await
                    .map_err(domain)?;
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d % 20_000 == 0 {
                    eprintln!("  seeded {d} in {:.0} s", t.seconds());
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await?;
    let secs = t.seconds();
    let jobs = app.store.job_state_counts().await.map_err(domain)?;
    println!(
        "seeded={n} secs={secs:.1} per_sec={:.0} jobs={jobs:?}",
        n as f64 / secs
    );
    Ok(())
}

async fn done_jobs(app: &finlink_app::App) -> anyhow::Result<u64> {
    Ok(app
        .store
        .job_state_counts()
        .await
        .map_err(domain)?
        .into_iter()
        .find(|(s, _)| s == "done")
        .map_or(0, |(_, n)| n))
}

/// Runs finlink (API, sandbox, workers) over the seeded database until `expect` refresh jobs
/// are done, sampling RSS.
pub async fn refresh_storm(expect: u64, timeout_secs: u64) -> anyhow::Result<()> {
    init_logging();
    let mut cfg = cfg()?;
    cfg.listen = String::from("127.0.0.1:0");
    cfg.workers.enabled = true;
    let (rss_idle, _) = rss_kb();
    let t = Stopwatch::start();
    let server = finlink::spawn(&cfg, Arc::new(SystemClock)).await?;
    let sandbox = server
        .sandbox
        .clone()
        .context("the sandbox is disabled (FINLINK_SANDBOX__ENABLED)")?;
    // (seconds, sandbox refresh requests, VmRSS kB)
    let mut samples: Vec<(f64, u64, u64)> = Vec::new();
    let mut next_report = 5.0;
    let mut first_request = None;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let secs = t.seconds();
        let requests = sandbox.stats().refresh_requests;
        if first_request.is_none() && requests > 0 {
            first_request = Some(secs);
        }
        samples.push((secs, requests, rss_kb().0));
        if secs >= next_report {
            next_report += 5.0;
            eprintln!(
                "  {secs:.0} s: {requests} token requests, RSS {} MB",
                mb(rss_kb().0)
            );
        }
        if requests >= expect && done_jobs(&server.app).await? >= expect {
            break;
        }
        if secs > timeout_secs as f64 {
            let jobs = server.app.store.job_state_counts().await.map_err(domain)?;
            anyhow::bail!(
                "timed out after {secs:.0} s: {requests} token requests, jobs {jobs:?}, sandbox {:?}",
                sandbox.stats()
            );
        }
    }
    let secs = t.seconds();
    let (rss_end, hwm) = rss_kb();
    let stats = sandbox.stats();
    let jobs = server.app.store.job_state_counts().await.map_err(domain)?;
    // RSS when the storm had made this share of its token requests.
    let at = |share: f64| {
        let target = (expect as f64 * share).ceil() as u64;
        samples
            .iter()
            .find(|(_, r, _)| *r >= target.max(1))
            .map_or(0, |(_, _, kb)| *kb)
    };
    let peak = samples.iter().map(|(_, _, kb)| *kb).max().unwrap_or(0);
    println!(
        "refreshed={expect} secs={secs:.2} rate={:.0} first_request_at={:.2} rss_idle_mb={} rss_10_mb={} rss_50_mb={} rss_90_mb={} rss_100_mb={} rss_end_mb={rss_end_mb} rss_peak_sampled_mb={} vmhwm_mb={} token_requests={} refresh_requests={} grants_revoked={} failures_injected={} jobs={jobs:?}",
        expect as f64 / secs,
        first_request.unwrap_or(0.0),
        mb(rss_idle),
        mb(at(0.1)),
        mb(at(0.5)),
        mb(at(0.9)),
        mb(at(1.0)),
        mb(peak),
        mb(hwm),
        stats.token_requests,
        stats.refresh_requests,
        stats.grants_revoked,
        stats.failures_injected,
        rss_end_mb = mb(rss_end),
    );
    server.shutdown().await?;
    Ok(())
}

/// Adds refresh jobs `from..to` (queued, due between 1 hour and 31 days from now) in one
/// statement, the fast way for each engine.
async fn add_not_due_jobs(cfg: &Config, from: u64, to: u64, now: i64) -> anyhow::Result<()> {
    if from >= to {
        return Ok(());
    }
    let (from, to) = (from as i64, to as i64 - 1);
    match &cfg.database_url {
        None => {
            let path = cfg.data_dir.join("finlink.db");
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut c = rusqlite::Connection::open(&path)?;
                c.busy_timeout(Duration::from_secs(30))?;
                let tx = c.transaction()?;
                tx.execute(
                    "WITH RECURSIVE s(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM s WHERE i < ?2) \
                     INSERT INTO jobs (id, kind, payload, run_at, attempts, max_attempts, state, fence, \
                                       idempotency_key, concurrency_key, created, updated) \
                     SELECT printf('%08x-0000-7000-8000-%012x', (?3 / 1000) % 4294967296, i), 'refresh', \
                            '{\"client\":\"00000000-0000-7000-8000-000000000000\",\"company\":\"00000000-0000-7000-8000-000000000001\",\"connection\":\"' \
                              || printf('00000000-0000-7000-9000-%012x', i) || '\",\"credentialsUpdated\":' || ?3 || '}', \
                            ?3 + 3600000 + (i * 7919 % 2592000) * 1000, 0, 30, 'queued', 0, \
                            'bench:' || i, 'refresh:' || printf('00000000-0000-7000-9000-%012x', i), ?3, ?3 \
                     FROM s",
                    rusqlite::params![from, to, now],
                )?;
                tx.commit()?;
                Ok(())
            })
            .await??;
        }
        Some(url) => {
            use std::str::FromStr;
            let mut opts = sqlx::postgres::PgConnectOptions::from_str(url)?;
            if let Some(schema) = &cfg.database_schema {
                opts = opts.options([("search_path", schema.as_str())]);
            }
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?;
            sqlx::query(
                "INSERT INTO jobs (id, kind, payload, run_at, attempts, max_attempts, state, fence, \
                                   idempotency_key, concurrency_key, created, updated) \
                 SELECT lpad(to_hex(($3 / 1000) % 4294967296), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(i), 12, '0'), \
                        'refresh', \
                        '{\"client\":\"00000000-0000-7000-8000-000000000000\",\"company\":\"00000000-0000-7000-8000-000000000001\",\"connection\":\"00000000-0000-7000-9000-' \
                          || lpad(to_hex(i), 12, '0') || '\",\"credentialsUpdated\":' || $3 || '}', \
                        $3 + 3600000 + (i * 7919 % 2592000) * 1000, 0, 30, 'queued', 0, \
                        'bench:' || i, 'refresh:00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'), $3, $3 \
                 FROM generate_series($1::bigint, $2::bigint) AS i",
            )
            .bind(from)
            .bind(to)
            .bind(now)
            .execute(&pool)
            .await?;
            // As autovacuum would soon after a bulk load: give the planner statistics.
            sqlx::query("ANALYZE jobs").execute(&pool).await?;
            pool.close().await;
        }
    }
    Ok(())
}

/// The `p` quantile of sorted seconds, in microseconds.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] * 1e6
}

/// `claim_jobs` with nothing due, timed at each size of the queue of not-yet-due jobs.
pub async fn sched(sizes: &[u64], calls: usize, limit: u32) -> anyhow::Result<()> {
    let cfg = cfg()?;
    let store = finlink::open_store(&cfg).await?;
    let clock = SystemClock;
    let mut have = 0u64;
    for &size in sizes {
        let t = Stopwatch::start();
        add_not_due_jobs(&cfg, have, size, clock.now().as_millis()).await?;
        have = have.max(size);
        let fill_secs = t.seconds();
        let queued = store
            .job_state_counts()
            .await
            .map_err(domain)?
            .into_iter()
            .find(|(s, _)| s == "queued")
            .map_or(0, |(_, n)| n);
        let mut lat = Vec::with_capacity(calls);
        for i in 0..calls + calls / 10 {
            let now = clock.now();
            let t = Stopwatch::start();
            let jobs = store
                .claim_jobs("bench-sched", now, now.plus_seconds(60), limit, 1)
                .await
                .map_err(domain)?;
            let took = t.seconds();
            anyhow::ensure!(
                jobs.is_empty(),
                "claim_jobs found {} due job(s)",
                jobs.len()
            );
            if i >= calls / 10 {
                lat.push(took); // the first tenth warms up
            }
        }
        lat.sort_by(f64::total_cmp);
        let mean = lat.iter().sum::<f64>() / lat.len() as f64 * 1e6;
        println!(
            "size={size} queued={queued} fill_secs={fill_secs:.1} calls={calls} p50_us={:.0} p99_us={:.0} mean_us={mean:.0} max_us={:.0}",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            percentile(&lat, 1.0),
        );
    }
    Ok(())
}
