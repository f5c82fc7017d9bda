//! Durable background jobs: rows in the database that any worker process can claim. A claim
//! takes a lease (owner, expiry) and bumps a fencing token; a worker commits only with the
//! fencing token it claimed with, so one whose lease ran out (and whose job another worker took
//! over) cannot commit. Failed attempts are retried with backoff until `max_attempts`, then the
//! job is dead, with its last error kept. An idempotency key makes enqueueing the same work twice
//! a no-op; a concurrency key allows at most one running job per key.

use crate::Timestamp;

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            _ => return None,
        })
    }
}

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    pub id: uuid::Uuid,
    /// What to do (`refresh`, ...).
    pub kind: String,
    /// The job's input as JSON; never a secret.
    pub payload: String,
    pub run_at: Timestamp,
    pub max_attempts: i32,
    /// Enqueueing again with the same key does nothing while the first job exists.
    pub idempotency_key: Option<String>,
    /// At most one running job per key.
    pub concurrency_key: Option<String>,
    pub created: Timestamp,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: uuid::Uuid,
    pub kind: String,
    pub payload: String,
    pub run_at: Timestamp,
    pub attempts: i32,
    pub max_attempts: i32,
    pub state: JobState,
    pub lease_owner: Option<String>,
    pub lease_expires: Option<Timestamp>,
    /// Bumped by every claim; a worker's writes must carry the value its claim returned.
    pub fence: i64,
    pub last_error: Option<String>,
    pub idempotency_key: Option<String>,
    pub concurrency_key: Option<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// How a claimed job's run ended, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobResult {
    Done,
    /// Queued again at `at` (a failed attempt).
    Retry {
        at: Timestamp,
        error: String,
    },
    /// No further attempt.
    Dead {
        error: String,
    },
    /// Not run: queued again at `at`, and its claim does not count as an attempt.
    Deferred {
        at: Timestamp,
        error: String,
    },
}

/// The outcome of one claimed job, recorded with the fencing token it was claimed with, and
/// the delivery attempt it made (for `deliver` jobs), written in the same transaction.
#[derive(Clone, Debug)]
pub struct JobRecord {
    pub id: uuid::Uuid,
    pub fence: i64,
    pub result: JobResult,
    pub at: Timestamp,
    pub delivery: Option<crate::webhook::Delivery>,
}
