//! Bulk migration (`finlink migrate import`): the run table and the one write that records a
//! batch of rows. A batch's companies, connections, sealed credentials, refresh jobs, audit entry,
//! per-row outcomes and the run's watermark commit in one transaction, so a killed import never
//! leaves half a batch and a rerun continues exactly after the last committed row.

use finlink_domain::Timestamp;
use finlink_domain::company::Company;
use finlink_domain::connection::Connection;
use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::job::NewJob;

/// Where a run is.
pub mod status {
    /// The canary companies' rows are being imported and checked.
    pub const CANARY: &str = "canary";
    /// Rows are being imported (or the process stopped while they were: rerun to resume).
    pub const RUNNING: &str = "running";
    /// The canary rows are in place and one of their checks failed; rerun to check them again.
    pub const CANARY_FAILED: &str = "canary_failed";
    /// The canary rows were removed after a failed canary (`--rollback-canary`).
    pub const ROLLED_BACK: &str = "rolled_back";
    /// Every row has an outcome.
    pub const COMPLETED: &str = "completed";
}

/// What happened to one input row.
pub mod outcome {
    /// A new connection was created with the row's credentials.
    pub const CREATED: &str = "created";
    /// An existing connection without usable credentials (or any, with `--overwrite`) got them.
    pub const UPDATED: &str = "updated";
    /// The connection already exists with credentials; they were kept (no `--overwrite`).
    pub const UNCHANGED: &str = "unchanged";
    /// The same company, integration and tokens as an earlier row of the file.
    pub const DUPLICATE: &str = "duplicate";
    /// The row did not validate (only with `--skip-invalid`).
    pub const INVALID: &str = "invalid";
    /// The row validated but could not be stored (e.g. the company already has another
    /// accounting connection).
    pub const FAILED: &str = "failed";
}

/// Per-outcome counts of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MigrationCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub duplicate: u64,
    pub invalid: u64,
    pub failed: u64,
    /// Companies the run created (by external reference).
    pub companies_created: u64,
}

impl MigrationCounts {
    /// Rows with an outcome.
    pub fn rows(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.duplicate + self.invalid + self.failed
    }

    /// Counts one row's outcome.
    pub fn add(&mut self, outcome: &str) {
        match outcome {
            outcome::CREATED => self.created += 1,
            outcome::UPDATED => self.updated += 1,
            outcome::UNCHANGED => self.unchanged += 1,
            outcome::DUPLICATE => self.duplicate += 1,
            outcome::INVALID => self.invalid += 1,
            _ => self.failed += 1,
        }
    }
}

/// `N created, N updated, N unchanged, N duplicate, N invalid, N failed; N companies created`: the
/// one wording of a run's counts (the audit entry of a batch, the CLI's summary line).
impl std::fmt::Display for MigrationCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} duplicate, {} invalid, {} failed; {} companies created",
            self.created,
            self.updated,
            self.unchanged,
            self.duplicate,
            self.invalid,
            self.failed,
            self.companies_created
        )
    }
}

/// One `finlink migrate import` run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationRun {
    pub id: uuid::Uuid,
    pub client_id: ClientId,
    /// SHA-256 of the input, the client and the options that change outcomes: the same command
    /// over the same input finds its unfinished run.
    pub fingerprint: String,
    /// The input's path (`-` for standard input).
    pub source: String,
    /// `jsonl` or `csv`.
    pub format: String,
    /// The options, as JSON (for `migrate status`).
    pub options: String,
    pub status: String,
    /// Why the run stopped (a failed canary), when it did.
    pub detail: Option<String>,
    /// Data rows in the input.
    pub total_rows: u64,
    /// The rows of the canary companies at the head of the input.
    pub canary_rows: u64,
    /// Every row up to this row number (1-based, data rows) has its outcome recorded.
    pub watermark: u64,
    pub counts: MigrationCounts,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub completed: Option<Timestamp>,
}

/// One input row's outcome, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationRowRecord {
    pub row: u64,
    pub company_id: Option<CompanyId>,
    pub connection_id: Option<ConnectionId>,
    /// The run created this row's company.
    pub company_created: bool,
    pub outcome: String,
    pub error: Option<String>,
}

/// Credentials for an existing connection, with the connection's new provider settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MigrationUpdate {
    pub credentials: SealedCredentials,
    pub connection_info: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A batch of rows to record in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct MigrationBatch {
    pub run: uuid::Uuid,
    pub client: ClientId,
    /// The run's watermark this batch follows; nothing is written when it moved (another process
    /// is running the same run).
    pub after_row: u64,
    /// The watermark after this batch.
    pub up_to_row: u64,
    /// Companies to create (with their tags and consumer id = external reference).
    pub companies: Vec<Company>,
    /// New connections (already `Linked`), each with its credentials in `credentials`.
    pub connections: Vec<Connection>,
    /// Sealed credentials of the new connections (version 1).
    pub credentials: Vec<SealedCredentials>,
    /// Existing connections that get credentials: `Linked`, settings replaced, credentials
    /// replaced (version + 1), refresh health cleared.
    pub updates: Vec<MigrationUpdate>,
    /// Proactive refreshes (and the run's follow-up jobs).
    pub jobs: Vec<NewJob>,
    pub rows: Vec<MigrationRowRecord>,
    pub audit: AuditEntry,
    /// The counts this batch adds.
    pub counts: MigrationCounts,
    pub at: Timestamp,
}
