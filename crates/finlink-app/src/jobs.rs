//! The job runtime: workers claim due jobs from the jobs table (any process sharing the
//! database may run them), keep their lease alive with heartbeats while a job runs, and record
//! the outcome with the fencing token they claimed with, so a worker whose lease ran out (and
//! whose job another worker took over) cannot commit. A killed worker's jobs run again once
//! their lease expires. Kinds: `refresh` and `retention` (see `lifecycle`).

use std::sync::Arc;
use std::time::Duration;

use finlink_domain::job::{Job, NewJob};
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

/// What running a job came to.
#[derive(Debug)]
pub enum JobOutcome {
    Done,
    /// Try again at this time (counts as a failed attempt).
    RetryAt(Timestamp, String),
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

    /// Claims up to `limit` due jobs for `owner` and runs them to completion, at once. Returns
    /// how many ran. Workers call this in a loop; tests call it after moving their clock.
    pub async fn run_due_jobs(&self, owner: &str, limit: u32, lease_secs: i64) -> Result<usize> {
        let now = self.clock.now();
        let jobs = self
            .store
            .claim_jobs(owner, now, now.plus_seconds(lease_secs), limit)
            .await?;
        let n = jobs.len();
        let runs = jobs
            .into_iter()
            .map(|job| self.run_claimed(job, lease_secs));
        futures::future::join_all(runs).await;
        Ok(n)
    }

    /// Runs one claimed job, heartbeating its lease, and records the outcome.
    async fn run_claimed(&self, job: Job, lease_secs: i64) {
        let heartbeat = {
            let app = self.clone();
            let (id, fence) = (job.id, job.fence);
            tokio::spawn(async move {
                let every = Duration::from_secs(u64::try_from(lease_secs / 3).unwrap_or(1).max(1));
                loop {
                    tokio::time::sleep(every).await;
                    let until = app.clock.now().plus_seconds(lease_secs);
                    match app.store.heartbeat_job(id, fence, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(job_id = %id, "job: lease lost to another worker");
                            break;
                        }
                        Err(e) => tracing::warn!(job_id = %id, error = %e, "job: heartbeat failed"),
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
        let heartbeat = AbortOnDrop(heartbeat);
        let watch = finlink_domain::clock::Stopwatch::start();
        let result = self.dispatch(&job).await;
        drop(heartbeat);
        metrics::histogram!("finlink_job_seconds", "kind" => job.kind.clone())
            .record(watch.seconds());
        let now = self.clock.now();
        let (outcome, recorded) = match result {
            Ok(JobOutcome::Done) => ("done", self.store.finish_job(job.id, job.fence, now).await),
            Ok(JobOutcome::RetryAt(at, why)) => {
                let retry = (job.attempts < job.max_attempts).then_some(at);
                let label = if retry.is_some() { "retry" } else { "dead" };
                (
                    label,
                    self.store
                        .fail_job(job.id, job.fence, &why, retry, now)
                        .await,
                )
            }
            Err(e) => {
                let retry = (job.attempts < job.max_attempts)
                    .then(|| now.plus_seconds(backoff_secs(job.attempts)));
                let label = if retry.is_some() { "error" } else { "dead" };
                tracing::warn!(job_id = %job.id, kind = %job.kind, error = %e, "job failed");
                (
                    label,
                    self.store
                        .fail_job(job.id, job.fence, &e.to_string(), retry, now)
                        .await,
                )
            }
        };
        metrics::counter!("finlink_jobs_total", "kind" => job.kind.clone(), "outcome" => outcome)
            .increment(1);
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job_id = %job.id, "job: another worker took it over; its outcome here is not recorded")
            }
            Err(e) => {
                tracing::error!(job_id = %job.id, error = %e, "job: cannot record the outcome; it runs again when its lease expires")
            }
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

    async fn dispatch(&self, job: &Job) -> Result<JobOutcome> {
        let payload: serde_json::Value = serde_json::from_str(&job.payload)
            .map_err(|e| Error::internal(format!("job {} has a malformed payload: {e}", job.id)))?;
        match job.kind.as_str() {
            crate::lifecycle::REFRESH_JOB => self.run_refresh_job(&payload, job.attempts).await,
            crate::lifecycle::RETENTION_JOB => self.run_retention_job(&payload).await,
            crate::webhooks::DELIVER_JOB => self.run_delivery_job(&payload, job.attempts).await,
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
        let now = app.clock.now();
        let claimed = app
            .store
            .claim_jobs(
                &owner,
                now,
                now.plus_seconds(settings.lease_secs),
                u32::try_from(free).unwrap_or(u32::MAX),
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
        if jobs.is_empty() {
            // Nothing claimable: wait for a new job, for a running one to finish (its key may be
            // holding others back), or for the poll interval.
            tokio::select! {
                _ = app.store.wait_for_jobs(settings.idle_poll) => {}
                _ = finished.notified() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for job in jobs {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                break;
            };
            let app = app.clone();
            let lease = settings.lease_secs;
            let finished = Arc::clone(&finished);
            tokio::spawn(async move {
                app.run_claimed(job, lease).await;
                drop(permit);
                finished.notify_one();
            });
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
