//! Bulk migration (`finlink migrate import`): validate every row, run a canary, import the rest in
//! batches, resume after an interruption. The CLI reads the file and prints; this module decides.
//!
//! - **Two passes over the input.** The first checks every row (the rules of the per-connection
//!   API: [`check_fields`](crate::migration::check_fields), the catalog, company names and tags),
//!   finds duplicate (company, integration) pairs by a digest of each row's tokens (never the
//!   tokens), and fingerprints the input. The second imports. Memory holds the digests (16 bytes
//!   per connection slot) and the row numbers of bad rows, never the rows.
//! - **Run identity.** SHA-256 of the input bytes, the client and the options that change
//!   outcomes (`--overwrite`, `--skip-invalid`). The same command finds its unfinished run and
//!   continues after its watermark; a batch and the watermark commit together.
//! - **Companies** are found or created by external reference (`companyRef`, kept as the
//!   company's consumer id, unique per client), or named by finlink id (`companyId`).
//! - **Connections** are one per (company, integration) (one accounting connection per company).
//!   One that exists with credentials is left alone (`unchanged`) unless `overwrite`: a rerun never
//!   puts back tokens a platform has rotated since.
//! - **No fetch on first link, no per-connection webhooks.** Each OAuth connection gets its
//!   proactive refresh job, spread over the refresh window when its expiry is unknown or already
//!   due; the pull schedules of the client's linked connections are planned once, when the run
//!   completes.

pub mod rows;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Read};

use finlink_domain::company::Company;
use finlink_domain::connection::{Connection, ConnectionStatus, SourceType};
use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::data::DatasetStatus;
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::AuthType;
use finlink_domain::{Error, Result};
use finlink_store::migration::{outcome, status};
use finlink_store::{
    Effects, MigrationBatch, MigrationCounts, MigrationRowRecord, MigrationRun, MigrationUpdate,
};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use rows::{CheckedRow, CompanyKey, Format, RowError, RowInput, RowReader};

use crate::App;
use crate::migration::Actor;
use crate::refresh::RefreshOutcome;

/// Opens the input (called once per pass).
pub type Opener<'a> = dyn Fn() -> std::io::Result<Box<dyn BufRead + Send>> + Send + Sync + 'a;

/// Called with each row's verdict in validation: its number, whether it is valid, and the
/// earlier row it duplicates.
pub type RowVerdict<'a> =
    dyn FnMut(u64, std::result::Result<(), &RowError>, Option<u64>) + Send + 'a;

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub client: ClientId,
    pub format: Format,
    /// The input's path, `-` for standard input (for `migrate status`).
    pub source: String,
    pub skip_invalid: bool,
    pub overwrite: bool,
    /// Companies to import and check end to end before the rest (0: no canary).
    pub canary: u32,
    pub rollback_canary: bool,
    pub batch_size: usize,
    /// Refreshes of tokens with unknown (or already passed) expiry are spread over this window.
    pub refresh_window_secs: i64,
    pub canary_timeout: std::time::Duration,
}

/// What the validation pass found.
#[derive(Debug, Default)]
pub struct Validation {
    pub total: u64,
    /// Every invalid row, in order.
    pub errors: Vec<(u64, RowError)>,
    /// Rows that repeat an earlier row (same company, integration and tokens): row -> earlier row.
    pub duplicates: HashMap<u64, u64>,
    /// Rows of the canary companies at the head of the input.
    pub canary_rows: u64,
    pub canary_companies: u64,
    pub fingerprint: String,
}

impl Validation {
    pub fn valid(&self) -> u64 {
        self.total - self.errors.len() as u64
    }
}

/// Progress, for the CLI to show.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Validation read `rows` rows so far.
    Validating {
        rows: u64,
    },
    /// A run starts or resumes importing (`done` rows already recorded).
    Importing {
        run: &'a MigrationRun,
        done: u64,
        total: u64,
    },
    /// A batch committed: rows up to `done` have outcomes.
    Batch {
        done: u64,
        total: u64,
    },
    /// A canary connection was checked.
    CanaryChecked {
        row: u64,
        connection: ConnectionId,
        result: std::result::Result<String, String>,
    },
    Note(String),
}

/// One canary connection's failure.
#[derive(Debug, Clone)]
pub struct CanaryFailure {
    pub row: u64,
    pub company: Option<CompanyId>,
    pub connection: Option<ConnectionId>,
    pub error: String,
}

/// How a run ended.
#[derive(Debug)]
pub enum ImportEnd {
    /// Every row has an outcome.
    Completed(MigrationRun),
    /// Rows are invalid and `skip_invalid` is off: nothing was written.
    Invalid(Validation),
    /// The canary failed; its rows are in place (or removed with `rollback_canary`).
    CanaryFailed {
        run: MigrationRun,
        failures: Vec<CanaryFailure>,
        rolled_back: bool,
    },
}

/// Wraps a reader and digests everything read through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

fn io(e: std::io::Error) -> Error {
    Error::bad_request(format!("the input cannot be read: {e}"))
}

impl App {
    /// The validation pass: checks every row (calling `on_row` with each verdict), finds
    /// duplicates and the canary's extent, fingerprints the input.
    pub async fn migrate_validate(
        &self,
        opts: &ImportOptions,
        open: &Opener<'_>,
        on_row: &mut RowVerdict<'_>,
        progress: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<Validation> {
        let now = self.clock.now();
        let client = opts.client.to_string();
        let mut hashing = Hashing {
            inner: open().map_err(io)?,
            hash: Sha256::new(),
        };
        let mut v = Validation::default();
        let mut slots: HashMap<u64, (u64, u64, u32)> = HashMap::new();
        let mut integrations: HashMap<String, Option<RowError>> = HashMap::new();
        let mut integ_index: HashMap<String, u32> = HashMap::new();
        let mut known_companies: HashMap<CompanyId, bool> = HashMap::new();
        let mut canary_keys: HashSet<CompanyKey> = HashSet::new();
        let mut canary_open = opts.canary > 0;
        {
            let reader = std::io::BufReader::with_capacity(256 * 1024, &mut hashing);
            let mut rows = RowReader::new(reader, opts.format).map_err(|e| {
                Error::bad_request(format!(
                    "the input is not a {} file: {e}",
                    opts.format.as_str()
                ))
            })?;
            while let Some((n, parsed)) = rows.next_row() {
                v.total = n;
                if n % 50_000 == 0 {
                    progress(Progress::Validating { rows: n });
                }
                let checked = parsed.and_then(|r| rows::check_row(&self.catalog, &r, &client, now));
                let checked = match checked {
                    Ok(c) => c,
                    Err(e) => {
                        on_row(n, Err(&e), None);
                        v.errors.push((n, e));
                        continue;
                    }
                };
                let key = checked.integration.key.clone();
                if !integrations.contains_key(&key) {
                    let verdict = self
                        .ensure_enabled_for(opts.client, checked.integration)
                        .await
                        .err()
                        .map(|e| RowError::new("integration", e.to_string()));
                    integrations.insert(key.clone(), verdict);
                }
                if let Some(Some(e)) = integrations.get(&key) {
                    on_row(n, Err(e), None);
                    v.errors.push((n, e.clone()));
                    continue;
                }
                if let CompanyKey::Id(id) = &checked.company {
                    let exists = match known_companies.get(id) {
                        Some(e) => *e,
                        None => {
                            let e = self.store.get_company(opts.client, *id).await?.is_some();
                            known_companies.insert(*id, e);
                            e
                        }
                    };
                    if !exists {
                        let e = RowError::new(
                            "companyId",
                            format!(
                                "company {id} does not exist for this client; give companyRef and companyName to create it instead."
                            ),
                        );
                        on_row(n, Err(&e), None);
                        v.errors.push((n, e));
                        continue;
                    }
                }
                let next_index = integ_index.len() as u32;
                let idx = *integ_index.entry(key.clone()).or_insert(next_index);
                let slot = checked.slot();
                match slots.get(&slot) {
                    Some((fp, first, i)) if *i == idx && *fp == checked.token_fingerprint => {
                        v.duplicates.insert(n, *first);
                        on_row(n, Ok(()), Some(*first));
                        continue;
                    }
                    Some((_, first, i)) if *i == idx => {
                        let e = RowError::new(
                            "credentials",
                            format!(
                                "row {first} has other tokens for the same company and integration; keep the current ones in one row."
                            ),
                        );
                        on_row(n, Err(&e), None);
                        v.errors.push((n, e));
                        continue;
                    }
                    Some((_, first, _)) => {
                        let e = RowError::new(
                            "integration",
                            format!(
                                "row {first} gives this company another accounting integration; a company has one accounting connection."
                            ),
                        );
                        on_row(n, Err(&e), None);
                        v.errors.push((n, e));
                        continue;
                    }
                    None => {
                        slots.insert(slot, (checked.token_fingerprint, n, idx));
                    }
                }
                if canary_open {
                    if !canary_keys.contains(&checked.company) {
                        if canary_keys.len() as u64 >= u64::from(opts.canary) {
                            canary_open = false;
                        } else {
                            canary_keys.insert(checked.company.clone());
                        }
                    }
                    if canary_open {
                        v.canary_rows = n;
                    }
                }
                on_row(n, Ok(()), None);
            }
        }
        // The rest of the input (trailing bytes the reader did not need) is part of it too.
        let mut rest = Vec::new();
        let _ = hashing.read_to_end(&mut rest);
        v.canary_companies = canary_keys.len() as u64;
        let mut fp = hashing.hash;
        fp.update(b"|client=");
        fp.update(client.as_bytes());
        fp.update(format!("|format={}", opts.format.as_str()).as_bytes());
        fp.update(format!("|overwrite={}", opts.overwrite).as_bytes());
        fp.update(format!("|skip_invalid={}", opts.skip_invalid).as_bytes());
        v.fingerprint = fp
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        progress(Progress::Validating { rows: v.total });
        Ok(v)
    }

    /// `finlink migrate import`: validate, then (unless rows are invalid) canary and import,
    /// resuming the unfinished run of the same input and options.
    pub async fn migrate_import(
        &self,
        opts: &ImportOptions,
        open: &Opener<'_>,
        progress: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<ImportEnd> {
        let v = self
            .migrate_validate(opts, open, &mut |_, _, _| {}, progress)
            .await?;
        if !v.errors.is_empty() && !opts.skip_invalid {
            return Ok(ImportEnd::Invalid(v));
        }
        let now = self.clock.now();
        let mut run = match self
            .store
            .find_migration_run(opts.client, &v.fingerprint)
            .await?
        {
            Some(r) if r.status != status::COMPLETED && r.status != status::ROLLED_BACK => {
                progress(Progress::Note(format!(
                    "resuming run {} ({} of {} rows already recorded)",
                    r.id, r.watermark, r.total_rows
                )));
                r
            }
            previous => {
                if let Some(p) = previous.filter(|p| p.status == status::COMPLETED) {
                    progress(Progress::Note(format!(
                        "this input was imported before by run {} (completed); rows already in place are reported unchanged",
                        p.id
                    )));
                }
                let run = MigrationRun {
                    id: uuid::Uuid::now_v7(),
                    client_id: opts.client,
                    fingerprint: v.fingerprint.clone(),
                    source: opts.source.clone(),
                    format: opts.format.as_str().to_owned(),
                    options: json!({
                        "canary": opts.canary,
                        "skipInvalid": opts.skip_invalid,
                        "overwrite": opts.overwrite,
                        "batchSize": opts.batch_size,
                        "refreshWindowSecs": opts.refresh_window_secs,
                    })
                    .to_string(),
                    status: if v.canary_rows > 0 {
                        status::CANARY.to_owned()
                    } else {
                        status::RUNNING.to_owned()
                    },
                    detail: None,
                    total_rows: v.total,
                    canary_rows: v.canary_rows,
                    watermark: 0,
                    counts: MigrationCounts::default(),
                    created: now,
                    updated: now,
                    completed: None,
                };
                self.store.insert_migration_run(&run).await?;
                run
            }
        };
        let invalid: HashMap<u64, &RowError> = v.errors.iter().map(|(n, e)| (*n, e)).collect();
        if run.status == status::CANARY || run.status == status::CANARY_FAILED {
            if run.watermark < run.canary_rows {
                progress(Progress::Importing {
                    run: &run,
                    done: run.watermark,
                    total: run.total_rows,
                });
                self.import_rows(opts, open, &run, run.canary_rows, &v, &invalid, progress)
                    .await?;
            }
            // `--canary 0` on a rerun skips the checks of a run that had a canary.
            let (failures, keep) = if opts.canary == 0 {
                (Vec::new(), Vec::new())
            } else {
                self.check_canary(opts, &run, progress).await?
            };
            let at = self.clock.now();
            if !failures.is_empty() {
                let detail = failures
                    .iter()
                    .map(|f| format!("row {}: {}", f.row, f.error))
                    .collect::<Vec<_>>()
                    .join("; ");
                let rolled_back = if opts.rollback_canary && keep.is_empty() {
                    self.store.rollback_migration_run(run.id, at).await?;
                    self.store
                        .set_migration_run_status(
                            run.id,
                            status::ROLLED_BACK,
                            Some(&format!("canary failed, canary rows removed: {detail}")),
                            at,
                            &Effects::none(),
                        )
                        .await?;
                    true
                } else {
                    let detail = if opts.rollback_canary {
                        format!(
                            "{detail}; not rolled back: the canary connection(s) of row(s) {} were refreshed or held credentials before this run, and removing them could lose a grant",
                            keep.iter()
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    } else {
                        detail
                    };
                    self.store
                        .set_migration_run_status(
                            run.id,
                            status::CANARY_FAILED,
                            Some(&detail),
                            at,
                            &Effects::none(),
                        )
                        .await?;
                    false
                };
                let run = self.reload_run(run.id).await?;
                return Ok(ImportEnd::CanaryFailed {
                    run,
                    failures,
                    rolled_back,
                });
            }
            self.store
                .set_migration_run_status(run.id, status::RUNNING, None, at, &Effects::none())
                .await?;
            run = self.reload_run(run.id).await?;
        }
        progress(Progress::Importing {
            run: &run,
            done: run.watermark,
            total: run.total_rows,
        });
        if run.watermark < run.total_rows {
            self.import_rows(opts, open, &run, run.total_rows, &v, &invalid, progress)
                .await?;
        }
        let at = self.clock.now();
        // The pull schedules of the client's linked connections, planned once for the run (one
        // job, not one per connection): each migrated connection's first scheduled pull comes a
        // schedule after the plan runs.
        let plan = self.schedule_plan_job(opts.client, None, at);
        self.store
            .set_migration_run_status(
                run.id,
                status::COMPLETED,
                None,
                at,
                &Effects {
                    jobs: vec![plan],
                    ..Effects::none()
                },
            )
            .await?;
        Ok(ImportEnd::Completed(self.reload_run(run.id).await?))
    }

    async fn reload_run(&self, id: uuid::Uuid) -> Result<MigrationRun> {
        self.store
            .get_migration_run(id)
            .await?
            .ok_or_else(|| Error::internal(format!("migration run {id} disappeared")))
    }

    /// Imports rows after the run's watermark up to `to_row`, batch by batch.
    #[allow(clippy::too_many_arguments)]
    async fn import_rows(
        &self,
        opts: &ImportOptions,
        open: &Opener<'_>,
        run: &MigrationRun,
        to_row: u64,
        v: &Validation,
        invalid: &HashMap<u64, &RowError>,
        progress: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<()> {
        let current = self.reload_run(run.id).await?;
        let mut watermark = current.watermark;
        let reader = std::io::BufReader::with_capacity(256 * 1024, open().map_err(io)?);
        let mut rows = RowReader::new(reader, opts.format)
            .map_err(|e| Error::bad_request(format!("the input cannot be read again: {e}")))?;
        let now = self.clock.now();
        let client = opts.client.to_string();
        let batch_size = opts.batch_size.max(1);
        let mut batch: Vec<(u64, std::result::Result<CheckedRow<'_>, String>)> =
            Vec::with_capacity(batch_size);
        let mut last_row = watermark;
        // One batch is written while the next is read, checked and sealed (two cores at work);
        // `carry` is what the batch in flight did to its companies, which the next one's lookup
        // may not see yet.
        let mut carry: Vec<Company> = Vec::new();
        let mut pending: Option<(u64, tokio::task::JoinHandle<Result<bool>>)> = None;
        let flush = |pending: Option<(u64, tokio::task::JoinHandle<Result<bool>>)>| async move {
            match pending {
                None => Ok(None),
                Some((up_to, task)) => {
                    let ok = task
                        .await
                        .map_err(|e| Error::internal(format!("migration batch task: {e}")))??;
                    if !ok {
                        return Err(Error::Conflict(format!(
                            "migration run {} moved on under this process (another `finlink migrate import` of the same input is running); stop one of them",
                            run.id
                        )));
                    }
                    Ok(Some(up_to))
                }
            }
        };
        loop {
            let next = rows.next_row();
            let end = match &next {
                None => true,
                Some((n, _)) => *n > to_row,
            };
            if let Some((n, parsed)) = next.filter(|(n, _)| *n <= to_row) {
                if n <= watermark {
                    continue;
                }
                last_row = n;
                let entry = if let Some(e) = invalid.get(&n) {
                    Err(e.to_string())
                } else if let Some(first) = v.duplicates.get(&n) {
                    Err(format!("duplicate of row {first}"))
                } else {
                    match parsed.and_then(|r| rows::check_row(&self.catalog, &r, &client, now)) {
                        Ok(c) => Ok(c),
                        // The file changed between the passes.
                        Err(e) => {
                            return Err(Error::bad_request(format!(
                                "row {n} no longer validates ({e}); the input changed while it was imported. Run the command again."
                            )));
                        }
                    }
                };
                batch.push((n, entry));
                if batch.len() < batch_size {
                    continue;
                }
            }
            // A full batch, or the end: rows past the last one read (blank trailing lines) count
            // as read.
            let up_to = if end { to_row.max(last_row) } else { last_row };
            if batch.is_empty() && up_to <= watermark {
                break;
            }
            let built = self
                .build_batch(
                    opts,
                    run.id,
                    watermark,
                    up_to,
                    std::mem::take(&mut batch),
                    v,
                    &mut carry,
                )
                .await?;
            if let Some(done) = flush(pending.take()).await? {
                progress(Progress::Batch {
                    done,
                    total: run.total_rows,
                });
            }
            let store = std::sync::Arc::clone(&self.store);
            pending = Some((
                up_to,
                tokio::spawn(async move { store.import_migration_batch(built).await }),
            ));
            watermark = up_to;
            if end {
                break;
            }
        }
        if let Some(done) = flush(pending.take()).await? {
            progress(Progress::Batch {
                done,
                total: run.total_rows,
            });
        }
        Ok(())
    }

    /// Builds one batch: finds the companies and connections the rows name (in the database,
    /// then in `carry`, the companies the batch still being written touched), seals the
    /// credentials, schedules the refreshes. Leaves in `carry` the companies this batch touched.
    #[allow(clippy::too_many_arguments)]
    async fn build_batch(
        &self,
        opts: &ImportOptions,
        run: uuid::Uuid,
        after_row: u64,
        up_to_row: u64,
        rows: Vec<(u64, std::result::Result<CheckedRow<'_>, String>)>,
        v: &Validation,
        carry: &mut Vec<Company>,
    ) -> Result<MigrationBatch> {
        let now = self.clock.now();
        let client = opts.client;
        let mut refs: Vec<String> = Vec::new();
        let mut ids: Vec<CompanyId> = Vec::new();
        for (_, r) in &rows {
            match r.as_ref().map(|c| &c.company) {
                Ok(CompanyKey::Ref(r)) => refs.push(r.clone()),
                Ok(CompanyKey::Id(id)) => ids.push(*id),
                Err(_) => {}
            }
        }
        refs.sort();
        refs.dedup();
        ids.sort();
        ids.dedup();
        let mut by_id: HashMap<CompanyId, Company> = HashMap::new();
        let mut by_ref: HashMap<String, CompanyId> = HashMap::new();
        let found = self.store.migration_companies(client, &refs, &ids).await?;
        for c in found.into_iter().chain(std::mem::take(carry)) {
            if let Some(r) = &c.consumer_id {
                by_ref.insert(r.clone(), c.id);
            }
            by_id.insert(c.id, c);
        }
        let mut touched: HashSet<CompanyId> = HashSet::new();
        // Connections this batch already writes: a second row for one of them is refused (a
        // company named by `companyId` in one row and by `companyRef` in another is one company,
        // which validation, keyed by how rows name companies, cannot see).
        let mut written: HashMap<ConnectionId, u64> = HashMap::new();
        let mut out = MigrationBatch {
            run,
            client,
            after_row,
            up_to_row,
            companies: Vec::new(),
            connections: Vec::new(),
            credentials: Vec::new(),
            updates: Vec::new(),
            jobs: Vec::new(),
            rows: Vec::with_capacity(rows.len()),
            audit: AuditEntry {
                id: uuid::Uuid::now_v7(),
                client_id: client,
                actor: Actor::Cli.label(),
                action: String::from("migration.import"),
                company_id: None,
                connection_id: None,
                outcome: String::from("success"),
                detail: None,
                at: now,
            },
            counts: MigrationCounts::default(),
            at: now,
        };
        for (n, r) in rows {
            let checked = match r {
                Ok(c) => c,
                Err(e) => {
                    let dup = v.duplicates.contains_key(&n);
                    let o = if dup {
                        outcome::DUPLICATE
                    } else {
                        outcome::INVALID
                    };
                    out.counts.add(o);
                    out.rows.push(MigrationRowRecord {
                        row: n,
                        company_id: None,
                        connection_id: None,
                        company_created: false,
                        outcome: o.to_owned(),
                        error: Some(e),
                    });
                    continue;
                }
            };
            // The company.
            let mut company_created = false;
            let company_id = match &checked.company {
                CompanyKey::Id(id) => by_id.contains_key(id).then_some(*id),
                CompanyKey::Ref(r) => match by_ref.get(r) {
                    Some(id) => Some(*id),
                    None => {
                        let c = Company {
                            id: CompanyId::new_v7(now),
                            client_id: client,
                            name: checked.company_name.clone(),
                            description: None,
                            tags: checked.tags.clone(),
                            created: now,
                            modified: now,
                            last_sync: None,
                            created_by_user_name: None,
                            products: Vec::new(),
                            consumer_id: Some(r.clone()),
                            connections: Vec::new(),
                        };
                        out.companies.push(c.clone());
                        out.counts.companies_created += 1;
                        company_created = true;
                        by_ref.insert(r.clone(), c.id);
                        let id = c.id;
                        by_id.insert(id, c);
                        Some(id)
                    }
                },
            };
            let Some(company) = company_id.and_then(|id| by_id.get_mut(&id)) else {
                let id = match &checked.company {
                    CompanyKey::Id(id) => Some(*id),
                    CompanyKey::Ref(_) => None,
                };
                out.counts.add(outcome::FAILED);
                out.rows.push(MigrationRowRecord {
                    row: n,
                    company_id: id,
                    connection_id: None,
                    company_created: false,
                    outcome: outcome::FAILED.to_owned(),
                    error: Some(String::from(
                        "companyId: the company was deleted during the import",
                    )),
                });
                continue;
            };
            touched.insert(company.id);
            let integ = checked.integration;
            let existing = company
                .connections
                .iter()
                .find(|c| c.integration_key == integ.key)
                .cloned();
            if existing.is_none()
                && integ.source_type == SourceType::Accounting
                && let Some(other) = company
                    .connections
                    .iter()
                    .find(|c| c.source_type == SourceType::Accounting)
            {
                out.counts.add(outcome::FAILED);
                out.rows.push(MigrationRowRecord {
                    row: n,
                    company_id: Some(company.id),
                    connection_id: Some(other.id),
                    company_created,
                    outcome: outcome::FAILED.to_owned(),
                    error: Some(format!(
                        "integration: company {} already has an accounting connection to {} ({}); a company has one accounting connection. Delete it first or drop this row.",
                        company.id, other.platform_name, other.id
                    )),
                });
                continue;
            }
            if let Some(first) = existing.as_ref().and_then(|c| written.get(&c.id)) {
                out.counts.add(outcome::FAILED);
                out.rows.push(MigrationRowRecord {
                    row: n,
                    company_id: Some(company.id),
                    connection_id: existing.as_ref().map(|c| c.id),
                    company_created,
                    outcome: outcome::FAILED.to_owned(),
                    error: Some(format!(
                        "integration: row {first} already gives company {}'s {} connection (a company named by companyId in one row and by companyRef in another is the same company); keep one of the rows.",
                        company.id, integ.name
                    )),
                });
                continue;
            }
            if let Some(conn) = &existing
                && !opts.overwrite
                && conn.status == ConnectionStatus::Linked
            {
                out.counts.add(outcome::UNCHANGED);
                out.rows.push(MigrationRowRecord {
                    row: n,
                    company_id: Some(company.id),
                    connection_id: Some(conn.id),
                    company_created,
                    outcome: outcome::UNCHANGED.to_owned(),
                    error: None,
                });
                continue;
            }
            let conn_id = existing
                .as_ref()
                .map_or_else(|| ConnectionId::new_v7(now), |c| c.id);
            let sealed =
                crate::credentials::seal(&self.vault, client, conn_id, &checked.input.secrets)?;
            let needs_refresh =
                integ.auth_type == AuthType::Oauth2 && checked.input.expiry.expires_at.is_none();
            let creds = SealedCredentials {
                client_id: client,
                company_id: company.id,
                connection_id: conn_id,
                auth_type: integ.auth_type,
                key_id: self.vault.active_id().to_string(),
                sealed,
                token_type: checked.input.token_type.clone(),
                scopes: checked.input.scopes.clone(),
                expires_at: checked.input.expiry.expires_at,
                issued_at: checked.input.expiry.issued_at.or(Some(now)),
                needs_refresh,
                version: 0,
                updated: now,
            };
            let mut info = existing
                .as_ref()
                .and_then(|c| c.connection_info.clone())
                .unwrap_or_default();
            info.extend(checked.input.settings.clone());
            if !checked.metadata.is_empty() {
                let mut meta = info
                    .get("metadata")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                meta.extend(checked.metadata.clone());
                info.insert("metadata".into(), Value::Object(meta));
            }
            let info = (!info.is_empty()).then_some(info);
            if let Some(mut job) = self.refresh_job_for(integ, &creds) {
                let due_soon = job.run_at.as_millis() <= now.plus_seconds(60).as_millis();
                if (creds.expires_at.is_none() || due_soon) && opts.refresh_window_secs > 0 {
                    let spread = rand::thread_rng().gen_range(0..=opts.refresh_window_secs);
                    let latest = creds
                        .expires_at
                        .filter(|e| e.as_millis() > now.as_millis())
                        .map_or(spread, |e| {
                            spread.min((e.as_millis() - now.as_millis()) / 1000)
                        });
                    job.run_at = now.plus_seconds(latest.max(0));
                }
                out.jobs.push(job);
            }
            let o = match existing {
                Some(_) => {
                    out.updates.push(MigrationUpdate {
                        credentials: creds,
                        connection_info: info,
                    });
                    outcome::UPDATED
                }
                None => {
                    let conn = Connection {
                        id: conn_id,
                        client_id: client,
                        company_id: company.id,
                        integration_key: integ.key.clone(),
                        integration_id: integ.integration_id(),
                        source_id: integ.source_id(),
                        source_type: integ.source_type,
                        platform_name: integ.name.clone(),
                        status: ConnectionStatus::Linked,
                        created: now,
                        modified: now,
                        last_sync: None,
                        errors: Vec::new(),
                        connection_info: info,
                        refresh: Default::default(),
                    };
                    company.connections.push(conn.clone());
                    out.connections.push(conn);
                    out.credentials.push(creds);
                    outcome::CREATED
                }
            };
            written.insert(conn_id, n);
            out.counts.add(o);
            out.rows.push(MigrationRowRecord {
                row: n,
                company_id: Some(company.id),
                connection_id: Some(conn_id),
                company_created,
                outcome: o.to_owned(),
                error: None,
            });
        }
        let c = &out.counts;
        out.audit.detail = Some(format!(
            "migration run {run}, rows {}-{}: {c}",
            after_row + 1,
            up_to_row
        ));
        carry.extend(touched.iter().filter_map(|id| by_id.remove(id)));
        Ok(out)
    }

    /// Checks the canary rows' connections end to end: a token refresh (OAuth 2.0) and a test
    /// pull of one data type, each within the canary timeout.
    async fn check_canary(
        &self,
        opts: &ImportOptions,
        run: &MigrationRun,
        progress: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<(Vec<CanaryFailure>, Vec<u64>)> {
        let mut failures = Vec::new();
        // Canary rows a rollback must not remove: a connection whose token was refreshed (the
        // platform may have rotated it: the file's token is spent, and deleting the connection
        // would lose the grant) or that held credentials before this run (`updated`).
        let mut keep = Vec::new();
        let mut after = 0;
        loop {
            let rows = self.store.list_migration_rows(run.id, after, 500).await?;
            let Some(last) = rows.last() else { break };
            after = last.row;
            for r in rows.iter().filter(|r| r.row <= run.canary_rows) {
                if r.outcome == outcome::FAILED {
                    // A canary row that could not even be stored fails the canary.
                    failures.push(CanaryFailure {
                        row: r.row,
                        company: r.company_id,
                        connection: r.connection_id,
                        error: r
                            .error
                            .clone()
                            .unwrap_or_else(|| String::from("not stored")),
                    });
                    continue;
                }
                let (Some(company), Some(connection)) = (r.company_id, r.connection_id) else {
                    continue;
                };
                if r.outcome != outcome::CREATED && r.outcome != outcome::UPDATED {
                    continue;
                }
                let mut refreshed = false;
                let result = self
                    .check_connection(
                        opts.client,
                        company,
                        connection,
                        opts.canary_timeout,
                        &mut refreshed,
                    )
                    .await
                    .map_err(|e| e.to_string());
                if refreshed || r.outcome == outcome::UPDATED {
                    keep.push(r.row);
                }
                if let Err(e) = &result {
                    failures.push(CanaryFailure {
                        row: r.row,
                        company: Some(company),
                        connection: Some(connection),
                        error: e.clone(),
                    });
                }
                progress(Progress::CanaryChecked {
                    row: r.row,
                    connection,
                    result,
                });
            }
            if after >= run.canary_rows {
                break;
            }
        }
        Ok((failures, keep))
    }

    /// One connection end to end: refresh (OAuth 2.0), then a pull of one data type within
    /// `pull_timeout`. The refresh is never cut short: a refresh cancelled after the platform
    /// issued a rotated token pair but before finlink stored it would lose the grant (it ends
    /// on its own, within the HTTP client's timeouts).
    async fn check_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        pull_timeout: std::time::Duration,
        refreshed: &mut bool,
    ) -> Result<String> {
        let conn = self.get_connection(client, company, connection).await?;
        let integ = self.integration(&conn.integration_key)?.clone();
        let mut said = Vec::new();
        if integ.auth_type == AuthType::Oauth2 {
            match self
                .refresh_now(&Actor::Cli, client, company, connection)
                .await?
            {
                RefreshOutcome::Refreshed { .. } => {
                    *refreshed = true;
                    said.push(String::from("token refreshed"));
                }
                RefreshOutcome::Rejected { reason } => {
                    return Err(Error::bad_request(format!(
                        "{} rejected the refresh token ({reason}): the tokens are not valid for finlink's OAuth app. Check that finlink uses the same client id as the old system, and that the old system has stopped refreshing.",
                        integ.name
                    )));
                }
                RefreshOutcome::Transient { reason } => {
                    return Err(Error::bad_request(format!(
                        "{} did not refresh the token for now ({reason}); try again later.",
                        integ.name
                    )));
                }
            }
        }
        match tokio::time::timeout(
            pull_timeout,
            self.test_pull(client, company, connection, &integ.key),
        )
        .await
        {
            Ok(pulled) => said.push(pulled?),
            Err(_) => {
                return Err(Error::bad_request(format!(
                    "the test pull did not end within {} seconds",
                    pull_timeout.as_secs()
                )));
            }
        }
        Ok(said.join(", "))
    }

    /// A pull of one data type of the connection (the company info where there is one), run
    /// here rather than by a worker; what it pulled, or why it did not complete.
    async fn test_pull(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        integration: &str,
    ) -> Result<String> {
        let types = self.connectors.data_types(integration);
        let Some(dt) = types
            .iter()
            .find(|t| t.as_str() == "company" || t.as_str() == "commerce-companyInfo")
            .or_else(|| types.first())
            .copied()
        else {
            return Ok(String::from("no data type to test-pull"));
        };
        let ds = self
            .queue_data_type(client, company, dt.as_str(), Some(connection))
            .await?;
        let payload = json!({"client": client.to_string(), "dataset": ds.id.to_string()});
        let mut last = ds.clone();
        for attempt in 1..=5 {
            self.run_pull_job(&payload, attempt).await?;
            last = self
                .store
                .get_dataset(client, ds.id)
                .await?
                .ok_or_else(|| Error::internal("the test pull's dataset disappeared"))?;
            if !last.status.is_in_progress() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        if last.status != DatasetStatus::Complete {
            return Err(Error::bad_request(format!(
                "the test pull of {dt} ended {}{}",
                last.status,
                last.error_message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )));
        }
        Ok(format!("{dt} pulled ({} records)", last.records))
    }

    /// The rows of a run, in order (for the report).
    pub async fn migration_rows(
        &self,
        run: uuid::Uuid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<MigrationRowRecord>> {
        self.store.list_migration_rows(run, after, limit).await
    }

    /// Runs, newest first (`finlink migrate status`).
    pub async fn migration_runs(&self, limit: u32) -> Result<Vec<MigrationRun>> {
        self.store.list_migration_runs(limit).await
    }

    pub async fn migration_run(&self, id: uuid::Uuid) -> Result<Option<MigrationRun>> {
        self.store.get_migration_run(id).await
    }

    /// One export row per connection of the client: the import format, with the credentials'
    /// fields only when `secrets`. Companies are paged `page` at a time.
    pub async fn migration_export(
        &self,
        client: ClientId,
        secrets: bool,
        write: &mut (dyn FnMut(&BTreeMap<String, Value>) -> std::io::Result<()> + Send),
    ) -> Result<u64> {
        let mut n = 0;
        let mut page = 1;
        loop {
            let q = finlink_store::ListQuery {
                page: finlink_domain::paging::PageRequest {
                    page,
                    page_size: 1000,
                },
                ..Default::default()
            };
            let companies = self.store.list_companies(client, &q).await?;
            if companies.items.is_empty() {
                break;
            }
            for co in &companies.items {
                for conn in &co.connections {
                    let mut row: BTreeMap<String, Value> = BTreeMap::new();
                    row.insert(
                        "companyRef".into(),
                        Value::String(co.consumer_id.clone().unwrap_or_else(|| co.id.to_string())),
                    );
                    row.insert("companyName".into(), Value::String(co.name.clone()));
                    if !co.tags.is_empty() {
                        row.insert("tags".into(), json!(co.tags));
                    }
                    row.insert(
                        "integration".into(),
                        Value::String(conn.integration_key.clone()),
                    );
                    if let Some(info) = &conn.connection_info {
                        for (k, v) in info {
                            if let Value::String(_) = v {
                                row.insert(k.clone(), v.clone());
                            } else if k == "metadata" {
                                row.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    if let Some(creds) = self.store.get_credentials(client, conn.id).await? {
                        if let Some(e) = creds.expires_at {
                            row.insert("expiresAt".into(), Value::String(e.to_rfc3339()));
                        }
                        if secrets {
                            let fields = crate::credentials::open(&self.vault, &creds)?;
                            for (k, v) in &fields.0 {
                                row.insert(k.clone(), Value::String(v.expose().clone()));
                            }
                        }
                    }
                    write(&row).map_err(|e| Error::internal(format!("writing the export: {e}")))?;
                    n += 1;
                }
            }
            if u64::from(page) * 1000 >= companies.total {
                break;
            }
            page += 1;
        }
        Ok(n)
    }
}
