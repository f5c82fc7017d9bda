//! The webhook benchmark's subcommands (`bench/webhooks.sh`):
//!
//! - `webhook-baseline`: a local receiver (a bare axum handler on a loopback port that parses the
//!   body and records when it arrived) hit directly by finlink's own webhook sender
//!   (`WebhookSender::send`, the reqwest client the `deliver` jobs use) with `--concurrency`
//!   POSTs in flight, each a signed `company.created` envelope like finlink's: requests/s of the
//!   receiver with nothing of finlink around it. (No wrk: it is not installed.)
//! - `webhook-run`: the same receiver, and `finlink::spawn` (what `finlink serve` runs: API,
//!   workers) with one webhook consumer pointing at it. `--events` companies are created in
//!   process through `App::create_company` (`--in-flight` at a time, spread over as many companies
//!   as events, so the consumer's 16 delivery lanes all have work) while the workers deliver each
//!   `company.created`. Deliveries/s run from the first create call to the last delivery
//!   received; latency runs from the moment `create_company` returned (its transaction
//!   committed: the state change) to the receiver getting the POST, matched by the company id in
//!   `payload.id`, both read from one monotonic clock. The same latency measured from the
//!   event's `generatedDate` (finlink's clock, milliseconds, taken before the write) to the
//!   receiver's wall clock is printed too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use finlink::Config;
use finlink_app::companies::CompanyInput;
use finlink_app::webhooks::ConsumerInput;
use finlink_domain::clock::Stopwatch;
use finlink_domain::ids::CompanyId;
use finlink_domain::{Clock, SystemClock, Timestamp};
use finlink_providers::webhook::{TargetPolicy, WebhookSender, new_secret, sign};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

fn domain(e: finlink_domain::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn init_logging() {
    let filter = std::env::var("FINLINK_LOG").unwrap_or_else(|_| String::from("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// One POST the receiver got.
struct Receipt {
    /// Seconds on the run's stopwatch.
    at: f64,
    /// The receiver's wall clock, ms.
    wall_ms: i64,
    /// `payload.id` (the company id).
    id: Option<String>,
    /// `generatedDate`, ms.
    generated_ms: Option<i64>,
    /// `webhook-id`.
    msg_id: Option<String>,
    /// Which consumer it was sent to (`/hook/{k}`).
    consumer: usize,
}

struct Receiver {
    t: Stopwatch,
    got: Mutex<Vec<Receipt>>,
    count: AtomicUsize,
    /// POSTs missing one of the Standard Webhooks headers.
    unsigned: AtomicUsize,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    axum::extract::Path(consumer): axum::extract::Path<usize>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let at = r.t.seconds();
    let wall_ms = SystemClock.now().as_millis();
    if ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .any(|h| !headers.contains_key(*h))
    {
        r.unsigned.fetch_add(1, Ordering::Relaxed);
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let receipt = Receipt {
        at,
        wall_ms,
        id: v
            .pointer("/payload/id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        generated_ms: v
            .get("generatedDate")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
            .map(Timestamp::as_millis),
        msg_id: headers
            .get("webhook-id")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned),
        consumer,
    };
    if let Ok(mut got) = r.got.lock() {
        got.push(receipt);
    }
    r.count.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

/// Starts the receiver on a loopback port; returns it and its URL.
async fn start_receiver(t: Stopwatch) -> anyhow::Result<(Arc<Receiver>, String)> {
    let r = Arc::new(Receiver {
        t,
        got: Mutex::new(Vec::new()),
        count: AtomicUsize::new(0),
        unsigned: AtomicUsize::new(0),
    });
    let router = axum::Router::new()
        .route("/hook/{consumer}", axum::routing::post(receive))
        .with_state(Arc::clone(&r));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    // Consumer k posts to `{url}/{k}`.
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((r, url))
}

/// The `p` quantile of sorted seconds, in milliseconds.
fn pct_ms(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] * 1e3
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(",")
}

/// The receiver alone, driven by finlink's webhook sender with each of `concurrencies` in flight.
pub async fn webhook_baseline(requests: usize, concurrencies: &[usize]) -> anyhow::Result<()> {
    let t = Stopwatch::start();
    let (receiver, url) = start_receiver(t).await?;
    let url = format!("{url}/0");
    let sender = WebhookSender::new(TargetPolicy {
        allow_http: true,
        allow_private: true,
    })?;
    // A body like finlink's `company.created` envelope, signed as the workers sign.
    let now = SystemClock.now();
    let id = CompanyId::new_v7(now);
    let event_id = CompanyId::new_v7(now).to_string();
    let body = json!({
        "id": event_id,
        "eventType": "company.created",
        "generatedDate": now.to_rfc3339(),
        "payload": {
            "id": id.to_string(),
            "name": "Webhook Bench 0000000",
            "description": null,
            "redirect": format!("http://bench/link/{id}"),
            "lastSync": null,
            "created": now.to_rfc3339(),
            "createdByUserName": null,
            "products": [],
            "tags": {},
        },
    })
    .to_string()
    .into_bytes();
    let msg_id = format!("msg_{}", event_id.replace('-', ""));
    let ts = now.as_millis() / 1000;
    let signature =
        sign(&new_secret(), &msg_id, ts, &body).context("cannot sign the baseline body")?;
    let headers = [
        ("webhook-id", msg_id),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", signature),
        ("x-finlink-event-type", String::from("company.created")),
    ];
    // Warm up the connections.
    futures::stream::iter(0..256)
        .for_each_concurrent(64, |_| {
            let (sender, url, headers, body) = (&sender, &url, &headers, &body);
            async move {
                sender.send(url, headers, body.clone()).await;
            }
        })
        .await;
    for &c in concurrencies {
        let before = receiver.count.load(Ordering::Relaxed);
        let start = Stopwatch::start();
        let ok = futures::stream::iter(0..requests)
            .map(|_| {
                let (sender, url, headers, body) = (&sender, &url, &headers, &body);
                async move {
                    sender
                        .send(url, headers, body.clone())
                        .await
                        .status
                        .is_some_and(|s| (200..300).contains(&s))
                }
            })
            .buffer_unordered(c)
            .fold(0usize, |n, ok| async move { n + usize::from(ok) })
            .await;
        let secs = start.seconds();
        println!(
            "concurrency={c} requests={requests} ok={ok} received={} secs={secs:.2} rps={:.0} load={}",
            receiver.count.load(Ordering::Relaxed) - before,
            requests as f64 / secs,
            loadavg(),
        );
    }
    Ok(())
}

/// finlink delivering `events` `company.created` events to the receiver while they are made, as
/// fast as `in_flight` calls go or at `rate` events/s.
pub async fn webhook_run(
    events: usize,
    in_flight: usize,
    rate: Option<f64>,
    timeout_secs: u64,
    consumers: usize,
    backlog: bool,
) -> anyhow::Result<()> {
    init_logging();
    let consumers = consumers.max(1);
    // Environment (FINLINK_DATA_DIR / FINLINK_DATABASE_URL / FINLINK_WORKERS__...) picks the
    // engine and the workers' settings, as for finlink.
    let mut cfg = Config::load(None, &finlink::config::Overrides::default())?;
    cfg.listen = String::from("127.0.0.1:0");
    // Backlog: the events are all made first, with no worker running; then workers start.
    cfg.workers.enabled = !backlog;
    cfg.webhooks.allow_http = true;
    cfg.webhooks.allow_private_targets = true;
    let t = Stopwatch::start();
    let (receiver, url) = start_receiver(t).await?;
    let server = finlink::spawn(&cfg, Arc::new(SystemClock)).await?;
    let app = server.app.clone();
    let client = app.create_client("webhook bench").await.map_err(domain)?.id;
    let mut consumer_ids = Vec::new();
    for k in 0..consumers {
        let c = app
            .create_webhook(
                client,
                ConsumerInput {
                    url: Some(format!("{url}/{k}")),
                    ..ConsumerInput::default()
                },
            )
            .await
            .map_err(domain)?;
        consumer_ids.push(c.id);
    }
    let expected = events * consumers;
    let load_start = loadavg();

    let created = Arc::new(AtomicUsize::new(0));
    let progress = {
        let (created, receiver) = (Arc::clone(&created), Arc::clone(&receiver));
        tokio::spawn(async move {
            let mut next = 5.0;
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let s = t.seconds();
                if s >= next {
                    next += 5.0;
                    eprintln!(
                        "  {s:.0} s: {} events, {} deliveries received",
                        created.load(Ordering::Relaxed),
                        receiver.count.load(Ordering::Relaxed)
                    );
                }
            }
        })
    };

    // The state changes: (company id, seconds when create_company returned).
    let t0 = t.seconds();
    let commits: Vec<(String, f64)> = futures::stream::iter(0..events)
        .map(|i| {
            let (app, created) = (&app, &created);
            async move {
                // Paced: event i is made at i / rate seconds, not before.
                if let Some(r) = rate.filter(|r| *r > 0.0) {
                    let wait = i as f64 / r - (t.seconds() - t0);
                    if wait > 0.0 {
                        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    }
                }
                let c = app
                    .create_company(
                        client,
                        CompanyInput {
                            name: format!("Webhook Bench {i:07}"),
                            ..CompanyInput::default()
                        },
                    )
                    .await
                    .map_err(domain)?;
                let at = t.seconds();
                created.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok((c.id.to_string(), at))
            }
        })
        .buffer_unordered(in_flight)
        .try_collect()
        .await?;
    let made = t.seconds();
    let commit_at: HashMap<String, f64> = commits.into_iter().collect();
    let (stop_workers, workers) = if backlog {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (Some(tx), Some(finlink::spawn_workers(&cfg, &app, rx)))
    } else {
        (None, None)
    };
    // Deliveries are counted from here: the first event (live), or the workers' start (backlog).
    let start = if backlog { t.seconds() } else { t0 };

    // Wait for every event's delivery to every consumer.
    let mut timed_out = false;
    loop {
        let matched = {
            let got = receiver
                .got
                .lock()
                .map_err(|_| anyhow::anyhow!("receiver poisoned"))?;
            got.iter()
                .filter(|r| r.id.as_ref().is_some_and(|id| commit_at.contains_key(id)))
                .map(|r| (r.consumer, r.id.as_deref()))
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        if matched >= expected {
            break;
        }
        if t.seconds() - start > timeout_secs as f64 {
            timed_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    progress.abort();
    let waited = t.seconds();
    let load_end = loadavg();

    let (delivered, lat, gen_lat, last, during, early, dups, others) = {
        let got = receiver
            .got
            .lock()
            .map_err(|_| anyhow::anyhow!("receiver poisoned"))?;
        let mut first: HashMap<(usize, &str), &Receipt> = HashMap::new();
        let mut seen_msgs = std::collections::HashSet::new();
        let (mut dups, mut others) = (0usize, 0usize);
        for r in got.iter() {
            if let Some(m) = &r.msg_id
                && !seen_msgs.insert((r.consumer, m.as_str()))
            {
                dups += 1;
            }
            match r.id.as_deref().filter(|id| commit_at.contains_key(*id)) {
                Some(id) => {
                    first.entry((r.consumer, id)).or_insert(r);
                }
                None => others += 1,
            }
        }
        let mut lat = Vec::with_capacity(expected);
        let mut gen_lat = Vec::with_capacity(first.len());
        let (mut last, mut during, mut early) = (start, 0usize, 0usize);
        for ((_, id), r) in &first {
            let committed = commit_at.get(*id).copied().unwrap_or(r.at);
            // Delivered before the harness saw create_company return: counts as 0.
            if r.at < committed {
                early += 1;
            }
            lat.push((r.at - committed).max(0.0));
            if let Some(g) = r.generated_ms {
                gen_lat.push((r.wall_ms - g) as f64 / 1e3);
            }
            last = last.max(r.at);
            if r.at <= made {
                during += 1;
            }
        }
        let delivered = lat.len();
        // Not delivered when the run gave up: at least this long (the percentiles become lower
        // bounds).
        for (id, committed) in &commit_at {
            for k in 0..consumers {
                if !first.contains_key(&(k, id.as_str())) {
                    lat.push(waited - committed);
                }
            }
        }
        lat.sort_by(f64::total_cmp);
        gen_lat.sort_by(f64::total_cmp);
        (delivered, lat, gen_lat, last, during, early, dups, others)
    };
    let jobs = app.store.job_state_counts().await.map_err(domain)?;
    let mut deliveries = 0;
    for id in &consumer_ids {
        deliveries += app
            .list_webhook_deliveries(
                client,
                *id,
                finlink_domain::paging::PageRequest::new(Some(1), Some(1)).map_err(domain)?,
            )
            .await
            .map_err(domain)?
            .total;
    }
    let make_secs = made - t0;
    let secs = if timed_out {
        waited - start
    } else {
        last - start
    };
    let drain_secs = if timed_out {
        waited - made
    } else {
        (last - made).max(0.0)
    };
    println!(
        "events={events} consumers={consumers} backlog={} expected={expected} delivered={delivered} timed_out={} secs={secs:.2} rate={:.0} make_secs={make_secs:.2} events_per_sec={:.0} \
         delivered_while_making={during} rate_while_making={:.0} drain_secs={drain_secs:.2} drain_rate={:.0} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} \
         gen_p50_ms={:.0} gen_p99_ms={:.0} gen_max_ms={:.0} early={early} duplicates={dups} other_posts={others} \
         unsigned={} delivery_rows={deliveries} load_start={load_start} load_end={load_end} jobs={jobs:?}",
        u8::from(backlog),
        u8::from(timed_out),
        delivered as f64 / secs,
        events as f64 / make_secs,
        during as f64 / make_secs,
        (delivered - during) as f64 / drain_secs.max(1e-9),
        pct_ms(&lat, 0.5),
        pct_ms(&lat, 0.9),
        pct_ms(&lat, 0.99),
        pct_ms(&lat, 1.0),
        pct_ms(&gen_lat, 0.5),
        pct_ms(&gen_lat, 0.99),
        pct_ms(&gen_lat, 1.0),
        receiver.unsigned.load(Ordering::Relaxed),
    );
    if let (Some(stop), Some(workers)) = (stop_workers, workers) {
        let _ = stop.send(true);
        let _ = workers.await;
    }
    server.shutdown().await?;
    Ok(())
}
