//! The job runtime: workers claim due jobs from the jobs table (any process sharing the
//! database may run them), keep their lease alive with heartbeats while a job runs, and record
//! the outcome with the fencing token they claimed with, so a worker whose lease ran out (and
//! whose job another worker took over) cannot commit. A killed worker's jobs run again once
//! their lease expires. Kinds: `refresh` and `retention` (see `lifecycle`), `deliver`
//! (`webhooks`), `pull` and `read_completed` (`sync`), `schedule` (`schedules`).

use std::sync::Arc;
use std::time::Duration;

use finlink_domain::job::{Job, JobRecord, JobResult, NewJob};
use finlink_domain::webhook::Delivery;
use finlink_domain::{Error, Result, Timestamp};
use rand::Rng;
use tokio::sync::{Semaphore, watch};

use crate::App;

/// How workers run.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// How long a claim holds a job before another worker may take it over.
    pub lease_secs: i64,
    /// How often an idle worker looks for due work when nothing wakes it.
    pub idle_poll: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 64,
            lease_secs: 60,
            idle_poll: Duration::from_millis(1000),
        }
    }
}

/// How often a worker deletes finished jobs, and how long they are kept (for `GET`-ing a job's
/// outcome and for idempotency keys to dedupe late duplicates).
const PRUNE_EVERY_SECS: i64 = 600;
const KEEP_FINISHED_SECS: i64 = 86_400;

/// Jobs a claim takes per concurrency key: a key's backlog (a webhook lane's deliveries) runs
/// in order on one worker with one claim and a few writes, not a claim and two writes per job.
pub const JOBS_PER_KEY: u32 = 32;

/// The least time between two claims of a worker loop (see `run_workers`).
const MIN_CLAIM_GAP: Duration = Duration::from_millis(2);

/// How long a running group's finished jobs may wait to be recorded together.
const RECORD_EVERY: Duration = Duration::from_millis(100);

/// Splits a claim into its groups: consecutive jobs with the same concurrency key (the store
/// answers a key's jobs together, in run order); a job without a key is a group of its own.
fn groups(jobs: Vec<Job>) -> Vec<Vec<Job>> {
    let mut out: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        match out.last_mut() {
            Some(g)
                if job.concurrency_key.is_some()
                    && g.first()
                        .is_some_and(|f| f.concurrency_key == job.concurrency_key) =>
            {
                g.push(job)
            }
            _ => out.push(vec![job]),
        }
    }
    out
}

/// Records the outcomes of every group a process runs in shared transactions: a writer takes
/// whatever groups have finished meanwhile and writes them together, so under load a commit
/// (and, on PostgreSQL, a WAL flush) covers many groups, and when idle a group's outcome is
/// written at once. A group waits for its outcome to be recorded before its slot (and its key)
/// is free again.
#[derive(Clone)]
pub(crate) struct Recorder {
    tx: tokio::sync::mpsc::Sender<RecordRequest>,
}

type RecordRequest = (
    Vec<JobRecord>,
    tokio::sync::oneshot::Sender<Result<Vec<bool>>>,
);

/// Transactions recording outcomes at once (each takes whatever finished while the others were
/// writing); on SQLite they queue for the one writer, on PostgreSQL they commit in parallel.
const RECORD_WRITERS: usize = 4;

/// The most outcomes one shared transaction records.
const RECORD_BATCH: usize = 1024;

impl Recorder {
    /// Starts the writers; they stop when the last `Recorder` is dropped.
    fn start(app: &App) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel::<RecordRequest>(1024);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..RECORD_WRITERS {
            let (store, rx) = (Arc::clone(&app.store), Arc::clone(&rx));
            tokio::spawn(async move {
                loop {
                    // Takes what is waiting (at least one request), then writes it while the
                    // next writer takes what comes meanwhile.
                    let waiting = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else {
                            return;
                        };
                        let mut waiting = vec![first];
                        let mut n = waiting[0].0.len();
                        while n < RECORD_BATCH {
                            match rx.try_recv() {
                                Ok(more) => {
                                    n += more.0.len();
                                    waiting.push(more);
                                }
                                Err(_) => break,
                            }
                        }
                        waiting
                    };
                    Self::write(store.as_ref(), waiting).await;
                }
            });
        }
        Self { tx }
    }

    async fn write(store: &dyn finlink_store::Store, waiting: Vec<RecordRequest>) {
        let mut all = Vec::new();
        let mut replies = Vec::with_capacity(waiting.len());
        for (records, reply) in waiting {
            replies.push((records.len(), reply));
            all.extend(records);
        }
        match store.record_jobs(&all).await {
            Ok(applied) => {
                let mut applied = applied.into_iter();
                for (len, reply) in replies {
                    let _ = reply.send(Ok(applied.by_ref().take(len).collect()));
                }
            }
            Err(e) => {
                for (_, reply) in replies {
                    let _ = reply.send(Err(Error::internal(e.to_string())));
                }
            }
        }
    }

    async fn record(&self, records: Vec<JobRecord>) -> Result<Vec<bool>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tx
            .send((records, reply))
            .await
            .map_err(|_| Error::internal("the outcome writer stopped"))?;
        answer
            .await
            .map_err(|_| Error::internal("the outcome writer stopped"))?
    }
}

/// What running a job came to.
#[derive(Debug)]
pub enum JobOutcome {
    Done,
    /// Try again at this time (counts as a failed attempt).
    RetryAt(Timestamp, String),
    /// Not run now: try at this time, without counting this claim as an attempt.
    DeferTo(Timestamp, String),
}

/// The delay before attempt `attempt + 1`: 30 s doubling to at most an hour, with ±20 % jitter.
pub fn backoff_secs(attempt: i32) -> i64 {
    let base = 30i64.saturating_mul(1i64 << attempt.clamp(0, 20).saturating_sub(1).max(0));
    let capped = base.min(3600);
    let jitter = rand::thread_rng().gen_range(-(capped / 5)..=(capped / 5));
    (capped + jitter).max(1)
}

impl App {
    /// A job to enqueue now, due at `run_at`.
    pub(crate) fn new_job(
        &self,
        kind: &str,
        payload: serde_json::Value,
        run_at: Timestamp,
        idempotency_key: Option<String>,
        concurrency_key: Option<String>,
    ) -> NewJob {
        NewJob {
            id: uuid::Uuid::now_v7(),
            kind: kind.to_owned(),
            payload: payload.to_string(),
            run_at,
            max_attempts: 30,
            idempotency_key,
            concurrency_key,
            created: self.clock.now(),
        }
    }

    /// Claims up to `limit` groups of due jobs for `owner` and runs them to completion, the
    /// groups at once. Returns how many jobs ran. Tests call this after moving their clock.
    pub async fn run_due_jobs(&self, owner: &str, limit: u32, lease_secs: i64) -> Result<usize> {
        let now = self.clock.now();
        let jobs = self
            .store
            .claim_jobs(
                owner,
                now,
                now.plus_seconds(lease_secs),
                limit,
                JOBS_PER_KEY,
            )
            .await?;
        let n = jobs.len();
        let runs = groups(jobs)
            .into_iter()
            .map(|group| self.run_group(group, lease_secs, None));
        futures::future::join_all(runs).await;
        Ok(n)
    }

    /// Runs a claimed group (one job, or a concurrency key's jobs in order), heartbeating the
    /// leases of the jobs not yet recorded, and records the outcomes together: at the end, or
    /// every [`RECORD_EVERY`] while a long group runs.
    async fn run_group(&self, jobs: Vec<Job>, lease_secs: i64, recorder: Option<&Recorder>) {
        let open: Arc<std::sync::Mutex<Vec<(uuid::Uuid, i64)>>> = Arc::new(std::sync::Mutex::new(
            jobs.iter().map(|j| (j.id, j.fence)).collect(),
        ));
        let heartbeat = {
            let app = self.clone();
            let open = Arc::clone(&open);
            tokio::spawn(async move {
                let every = Duration::from_secs(u64::try_from(lease_secs / 3).unwrap_or(1).max(1));
                loop {
                    tokio::time::sleep(every).await;
                    let until = app.clock.now().plus_seconds(lease_secs);
                    let ids = open.lock().map(|v| v.clone()).unwrap_or_default();
                    for (id, fence) in ids {
                        match app.store.heartbeat_job(id, fence, until).await {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::warn!(job_id = %id, "job: lease lost to another worker")
                            }
                            Err(e) => {
                                tracing::warn!(job_id = %id, error = %e, "job: heartbeat failed")
                            }
                        }
                    }
                }
            })
        };
        // Stops the heartbeat however this function ends (a panicking job included), so a
        // lease is never renewed for a job nobody runs.
        struct AbortOnDrop(tokio::task::JoinHandle<()>);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let _heartbeat = AbortOnDrop(heartbeat);
        let mut cache = crate::webhooks::DeliveryCache::default();
        if jobs.iter().any(|j| j.kind == crate::webhooks::DELIVER_JOB)
            && let Err(e) = self.prefetch_deliveries(&jobs, &mut cache).await
        {
            tracing::warn!(error = %e, "jobs: prefetching deliveries failed; reading them one by one");
        }
        let mut records = Vec::new();
        let mut since = finlink_domain::clock::Stopwatch::start();
        for job in &jobs {
            let watch = finlink_domain::clock::Stopwatch::start();
            let result = self.dispatch(job, &mut cache).await;
            metrics::histogram!("finlink_job_seconds", "kind" => job.kind.clone())
                .record(watch.seconds());
            if records.is_empty() {
                since = finlink_domain::clock::Stopwatch::start();
            }
            records.push(self.record_of(job, result));
            if since.seconds() >= RECORD_EVERY.as_secs_f64() {
                self.record(&mut records, &open, recorder).await;
            }
        }
        self.record(&mut records, &open, recorder).await;
    }

    /// What to record for a job's run.
    fn record_of(&self, job: &Job, result: Result<(JobOutcome, Option<Delivery>)>) -> JobRecord {
        let now = self.clock.now();
        let (label, result, delivery) = match result {
            Ok((JobOutcome::Done, d)) => ("done", JobResult::Done, d),
            Ok((JobOutcome::RetryAt(at, error), d)) => {
                if job.attempts < job.max_attempts {
                    ("retry", JobResult::Retry { at, error }, d)
                } else {
                    // Out of attempts: a delivery waiting for a retry has failed for good.
                    let d = d.map(|mut d| {
                        d.state = finlink_domain::webhook::DeliveryState::Failed;
                        d.next_attempt_at = None;
                        d
                    });
                    ("dead", JobResult::Dead { error }, d)
                }
            }
            Ok((JobOutcome::DeferTo(at, error), d)) => {
                ("deferred", JobResult::Deferred { at, error }, d)
            }
            Err(e) => {
                tracing::warn!(job_id = %job.id, kind = %job.kind, error = %e, "job failed");
                let error = e.to_string();
                if job.attempts < job.max_attempts {
                    let at = now.plus_seconds(backoff_secs(job.attempts));
                    ("error", JobResult::Retry { at, error }, None)
                } else {
                    ("dead", JobResult::Dead { error }, None)
                }
            }
        };
        metrics::counter!("finlink_jobs_total", "kind" => job.kind.clone(), "outcome" => label)
            .increment(1);
        JobRecord {
            id: job.id,
            fence: job.fence,
            result,
            at: now,
            delivery,
        }
    }

    /// Records `records` in one transaction and stops heartbeating them.
    async fn record(
        &self,
        records: &mut Vec<JobRecord>,
        open: &std::sync::Mutex<Vec<(uuid::Uuid, i64)>>,
        recorder: Option<&Recorder>,
    ) {
        if records.is_empty() {
            return;
        }
        let batch = std::mem::take(records);
        let ids: Vec<uuid::Uuid> = batch.iter().map(|r| r.id).collect();
        let recorded = match recorder {
            Some(r) => r.record(batch).await,
            None => self.store.record_jobs(&batch).await,
        };
        match recorded {
            Ok(applied) => {
                for (id, ok) in ids.iter().zip(applied) {
                    if !ok {
                        tracing::warn!(job_id = %id, "job: another worker took it over; its outcome here is not recorded");
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = ids.len(), "job: cannot record the outcomes; the jobs run again when their leases expire")
            }
        }
        if let Ok(mut v) = open.lock() {
            v.retain(|(id, _)| !ids.contains(id));
        }
    }

    /// Deletes jobs that finished more than a day ago, in batches.
    pub async fn prune_finished_jobs(&self) -> u64 {
        let before = self.clock.now().plus_seconds(-KEEP_FINISHED_SECS);
        let mut total = 0;
        loop {
            match self.store.prune_jobs(before, 5_000).await {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => {
                    tracing::warn!(error = %e, "jobs: pruning finished jobs failed");
                    return total;
                }
            }
        }
    }

    async fn dispatch(
        &self,
        job: &Job,
        cache: &mut crate::webhooks::DeliveryCache,
    ) -> Result<(JobOutcome, Option<Delivery>)> {
        let payload: serde_json::Value = serde_json::from_str(&job.payload)
            .map_err(|e| Error::internal(format!("job {} has a malformed payload: {e}", job.id)))?;
        match job.kind.as_str() {
            crate::lifecycle::REFRESH_JOB => {
                Ok((self.run_refresh_job(&payload, job.attempts).await?, None))
            }
            crate::lifecycle::RETENTION_JOB => Ok((self.run_retention_job(&payload).await?, None)),
            crate::webhooks::DELIVER_JOB => {
                self.run_delivery_job(&payload, job.attempts, cache).await
            }
            crate::sync::PULL_JOB => Ok((self.run_pull_job(&payload, job.attempts).await?, None)),
            crate::schedules::SCHEDULE_JOB => Ok((self.run_schedule_job(&payload).await?, None)),
            crate::sync::READ_COMPLETED_JOB => {
                Ok((self.run_read_completed_job(&payload).await?, None))
            }
            other => Err(Error::internal(format!("unknown job kind '{other}'"))),
        }
    }
}

/// Runs workers until `stop` turns true, then waits (at most `grace`) for running jobs to
/// finish; jobs still running then are taken over by another worker when their lease expires.
pub async fn run_workers(
    app: App,
    settings: WorkerSettings,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let finished = Arc::new(tokio::sync::Notify::new());
    tracing::info!(owner = %owner, concurrency = settings.concurrency, "workers started");
    let mut next_prune = app.clock.now();
    let mut last_claim = finlink_domain::clock::Stopwatch::start();
    let recorder = Recorder::start(&app);
    loop {
        if *stop.borrow() {
            break;
        }
        if app.clock.now() >= next_prune {
            next_prune = app.clock.now().plus_seconds(PRUNE_EVERY_SECS);
            app.prune_finished_jobs().await;
        }
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => drop(p),
                _ = stop.changed() => {}
            }
            continue;
        }
        // Wake-ups come in bursts (every enqueue and every finished group sends one): claims
        // that find nothing are spaced out so a burst does not become a burst of claims.
        if let Some(wait) = MIN_CLAIM_GAP.checked_sub(Duration::from_secs_f64(last_claim.seconds()))
        {
            tokio::time::sleep(wait).await;
        }
        last_claim = finlink_domain::clock::Stopwatch::start();
        let now = app.clock.now();
        let claimed = app
            .store
            .claim_jobs(
                &owner,
                now,
                now.plus_seconds(settings.lease_secs),
                u32::try_from(free).unwrap_or(u32::MAX),
                JOBS_PER_KEY,
            )
            .await;
        let jobs = match claimed {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "workers: cannot claim jobs; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(settings.idle_poll) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let groups = groups(jobs);
        let drained = groups.len() < free;
        for group in groups {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                break;
            };
            let app = app.clone();
            let lease = settings.lease_secs;
            let finished = Arc::clone(&finished);
            let recorder = recorder.clone();
            tokio::spawn(async move {
                app.run_group(group, lease, Some(&recorder)).await;
                drop(permit);
                finished.notify_one();
            });
        }
        if drained {
            // Everything claimable is taken: wait for a new job, for a running group to finish
            // (its key may be holding others back), or for the poll interval.
            tokio::select! {
                _ = app.store.wait_for_jobs(settings.idle_poll) => {}
                _ = finished.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }
    let all = u32::try_from(settings.concurrency.max(1)).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "workers: jobs still running at shutdown; their leases expire and another worker takes them over"
        );
    }
    tracing::info!(owner = %owner, "workers stopped");
}
