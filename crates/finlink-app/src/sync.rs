//! Syncs: queueing pulls (`data/all`, `data/queue/{dataType}`, fetch on first link), running
//! them (the `pull` job), reporting them (`dataStatus`, pull history, `read.completed`), and
//! the stored company info (`data/info`).
//!
//! - A pull is a dataset (`finlink_domain::sync::Dataset`) plus a `pull` job, written together
//!   in one transaction. At most one dataset per connection and data type is queued or running
//!   (the store refuses or skips another), and the job's concurrency key is the same pair, so a
//!   dataset never runs twice at once.
//! - The job runs the connection's connector with a [`TokenSource`] on the single-flight
//!   refresh path and a sink that stores each page with the dataset's progress in one
//!   transaction. A run starts from the dataset's `resume_page`: a pull a killed worker
//!   abandoned resumes after its last stored page, and a record stored twice is one row.
//! - A pull after a successful one of the same connection and data type is incremental: it asks
//!   for records modified since that one's watermark (the latest source modified time it saw).
//!   The fetch on first link, and any pull before the first successful one, pulls everything,
//!   or from the data type's `syncFromUtc` / `syncFromWindow` when its sync settings set one.
//! - What a sync of everything (`data/all`, the fetch on first link) pulls, and in which order,
//!   is the sync settings' (`sync_settings`): the types with `fetchOnFirstLink` that the
//!   connection's connectors pull, in `syncOrder`.
//! - Transient failures (the platform failing beyond the connector's own page retries, a token
//!   endpoint failing for now, a storage error) pause the dataset and retry the job from the
//!   last stored page with backoff, at most [`MAX_PULL_ATTEMPTS`] times; other failures end
//!   the dataset in the error status of `PullError::dataset_status`. A refused refresh has
//!   already made the connection `Deauthorized` (the refresh lifecycle) when the dataset ends
//!   in `AuthError`.
//! - Ending a dataset enqueues a `read_completed` job for its batch (same transaction); the job
//!   raises `read.completed` (`.initial` for the fetch on first link) once every dataset of the
//!   batch has ended, exactly once (the batch is marked in the event's transaction).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use finlink_domain::connection::{Connection, ConnectionStatus, SourceType};
use finlink_domain::data::{DataType, DatasetStatus};
use finlink_domain::event::{Event, types};
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::{AuthType, FieldKind};
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::sync::{DataTypeStatus, Dataset, SyncBatch};
use finlink_domain::{Error, Result, Timestamp};
use finlink_providers::connectors::{
    self, ConnectionContext, PullError, PullRequest, PullSink, SinkError, TokenError, TokenSource,
};
use finlink_store::{
    DatasetStart, DatasetUpdate, Effects, ListQuery, NewPull, NewRecord, PageWrite, PullBatch,
    QueueOutcome,
};
use finlink_vault::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::App;
use crate::jobs::{JobOutcome, backoff_secs};
use crate::migration::Actor;
use crate::refresh::RefreshOutcome;

/// Runs one dataset (payload `{client, dataset}`).
pub const PULL_JOB: &str = "pull";
/// Raises a batch's `read.completed` once all its datasets have ended (payload `{client, batch}`).
pub const READ_COMPLETED_JOB: &str = "read_completed";

/// Runs of a pull that end in a transient failure before the dataset ends in its error status.
pub const MAX_PULL_ATTEMPTS: i32 = 6;

/// An access token that expires within this margin is refreshed before a page is fetched.
const TOKEN_MARGIN_SECS: i64 = 60;

fn job_ids(payload: &Value, key: &str) -> Result<(ClientId, uuid::Uuid)> {
    let field = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::internal(format!("job payload has no {k}")))
    };
    let client = ClientId::parse(field("client")?)?;
    let id = uuid::Uuid::parse_str(field(key)?)
        .map_err(|e| Error::internal(format!("job payload {key}: {e}")))?;
    Ok((client, id))
}

fn not_found_dataset(id: &str) -> Error {
    Error::NotFound {
        message: format!(
            "No pull operation (dataset) was found with ID '{}'.",
            id.chars().take(64).collect::<String>()
        ),
    }
}

/// A stored record's digest without its `modifiedDate`, with the raw record.
fn record_hash(unstamped: &str, raw: &str) -> String {
    let mut h = Sha256::new();
    h.update(unstamped.as_bytes());
    h.update([0u8]);
    h.update(raw.as_bytes());
    h.finalize()
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl App {
    // -- what a sync pulls ---------------------------------------------------------------------

    /// The data types a sync of everything (and a schedule) pulls from `conn`, in the order
    /// they are queued: those with `fetchOnFirstLink` that its connectors pull, in `syncOrder`.
    pub fn sync_all_types(
        &self,
        settings: &finlink_domain::sync_settings::EffectiveSyncSettings,
        conn: &Connection,
    ) -> Vec<DataType> {
        settings.fetch_on_first_link(&self.connectors.data_types(&conn.integration_key))
    }

    pub(crate) fn new_batch(
        &self,
        client: ClientId,
        company: CompanyId,
        initial: bool,
    ) -> SyncBatch {
        SyncBatch {
            id: uuid::Uuid::now_v7(),
            client_id: client,
            company_id: company,
            is_initial: initial,
            requested: self.clock.now(),
            completed: None,
        }
    }

    pub(crate) fn new_pull(
        &self,
        conn: &Connection,
        batch: &SyncBatch,
        data_type: DataType,
    ) -> NewPull {
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7();
        let dataset = Dataset::queued(
            id,
            conn.client_id,
            conn.company_id,
            conn.id,
            batch.id,
            data_type,
            batch.is_initial,
            now,
        );
        let mut job = self.new_job(
            PULL_JOB,
            json!({ "client": conn.client_id.to_string(), "dataset": id.to_string() }),
            now,
            Some(format!("pull:{id}")),
            Some(format!("pull:{}:{}", conn.id, data_type)),
        );
        // The handler ends the dataset after MAX_PULL_ATTEMPTS. The job itself never dies: a
        // dead job could leave its dataset active (Fetching) for good after failures of
        // finlink's own (storage), and the one-active-dataset rule would then refuse that type.
        job.max_attempts = i32::MAX;
        NewPull { dataset, job }
    }

    /// The fetch on first link of a connection linked through Link, to queue in the same
    /// transaction as its status change. None when its connectors pull nothing.
    pub(crate) async fn first_link_pulls(&self, conn: &Connection) -> Result<Option<PullBatch>> {
        if self.connectors.data_types(&conn.integration_key).is_empty() {
            return Ok(None);
        }
        let settings = self
            .effective_sync_settings(conn.client_id, conn.company_id)
            .await?;
        let batch = self.new_batch(conn.client_id, conn.company_id, true);
        let pulls: Vec<NewPull> = self
            .sync_all_types(&settings, conn)
            .into_iter()
            .map(|t| self.new_pull(conn, &batch, t))
            .collect();
        Ok((!pulls.is_empty()).then_some(PullBatch { batch, pulls }))
    }

    // -- the API -------------------------------------------------------------------------------

    /// `POST /companies/{id}/data/all`: one dataset per data type with fetch on first link that
    /// each `Linked` connection pulls, queued in `syncOrder`; a type already queued or running
    /// is left as it is.
    pub async fn refresh_all_data(&self, client: ClientId, company: CompanyId) -> Result<()> {
        let co = self.get_company(client, company).await?;
        let linked: Vec<&Connection> = co
            .connections
            .iter()
            .filter(|c| c.status == ConnectionStatus::Linked)
            .collect();
        if linked.is_empty() {
            return Err(no_linked_connection(company));
        }
        let settings = self.effective_sync_settings(client, company).await?;
        let batch = self.new_batch(client, company, false);
        let mut pulls = Vec::new();
        for conn in linked {
            for t in self.sync_all_types(&settings, conn) {
                pulls.push(self.new_pull(conn, &batch, t));
            }
        }
        if pulls.is_empty() {
            return Ok(());
        }
        let n = pulls.len();
        if let QueueOutcome::Queued(ids) = self
            .store
            .queue_pulls(&PullBatch { batch, pulls }, false)
            .await?
        {
            tracing::info!(company_id = %company, queued = ids.len(), busy = n - ids.len(), "sync: data/all queued");
        }
        Ok(())
    }

    /// `POST /companies/{id}/data/queue/{dataType}`: a dataset of `data_type` on each `Linked`
    /// connection that pulls it (or on `connection` alone). Refused while one is queued or
    /// running. Answers the (first) dataset queued.
    pub async fn queue_data_type(
        &self,
        client: ClientId,
        company: CompanyId,
        data_type: &str,
        connection: Option<ConnectionId>,
    ) -> Result<Dataset> {
        let co = self.get_company(client, company).await?;
        let dt = DataType::parse(data_type).ok_or_else(|| {
            Error::invalid(
                "dataType",
                "QueueDataType",
                format!(
                    "'{}' is not a data type; use one of Codat's data types, e.g. invoices, chartOfAccounts, company, banking-accounts, commerce-orders.",
                    data_type.chars().take(64).collect::<String>()
                ),
            )
        })?;
        let candidates: Vec<&Connection> = match connection {
            Some(id) => {
                let c =
                    co.connections
                        .iter()
                        .find(|c| c.id == id)
                        .ok_or_else(|| Error::NotFound {
                            message: format!(
                                "Data connection {id} not found for company {company}."
                            ),
                        })?;
                if c.status != ConnectionStatus::Linked {
                    return Err(Error::invalid(
                        "connectionId",
                        "QueueDataType",
                        format!(
                            "Connection {id} is {}; only Linked connections sync (relink it through its linkUrl).",
                            c.status
                        ),
                    ));
                }
                vec![c]
            }
            None => co
                .connections
                .iter()
                .filter(|c| c.status == ConnectionStatus::Linked)
                .collect(),
        };
        if candidates.is_empty() {
            return Err(no_linked_connection(company));
        }
        let supporting: Vec<&Connection> = candidates
            .iter()
            .copied()
            .filter(|c| self.connectors.connector(&c.integration_key, dt).is_some())
            .collect();
        if supporting.is_empty() {
            let names: Vec<&str> = candidates
                .iter()
                .map(|c| c.platform_name.as_str())
                .collect();
            return Err(Error::invalid(
                "dataType",
                "QueueDataType",
                format!(
                    "Datatype {dt} not supported by platform(s) {}.",
                    names.join(", ")
                ),
            ));
        }
        let batch = self.new_batch(client, company, false);
        let pulls = supporting
            .iter()
            .map(|c| self.new_pull(c, &batch, dt))
            .collect();
        match self
            .store
            .queue_pulls(&PullBatch { batch, pulls }, true)
            .await?
        {
            QueueOutcome::Busy(id) => Err(Error::invalid(
                "dataType",
                "QueueDataType",
                format!(
                    "DatasetAlreadyInProgressException: Cannot queue {dt} sync for {company} as previous sync {id} is still in progress."
                ),
            )),
            QueueOutcome::Queued(ids) => {
                let first = ids
                    .first()
                    .ok_or_else(|| Error::internal("queueing a data type queued nothing"))?;
                self.store
                    .get_dataset(client, *first)
                    .await?
                    .ok_or_else(|| not_found_dataset(&first.to_string()))
            }
        }
    }

    /// `GET /companies/{id}/dataStatus`.
    pub async fn data_status(
        &self,
        client: ClientId,
        company: CompanyId,
    ) -> Result<Vec<DataTypeStatus>> {
        let status = self.store.data_status(client, company).await?;
        if status.is_empty() {
            self.get_company(client, company).await?;
        }
        Ok(status)
    }

    /// `GET /companies/{id}/data/history`.
    pub async fn list_pull_operations(
        &self,
        client: ClientId,
        company: CompanyId,
        query: &ListQuery,
    ) -> Result<Page<Dataset>> {
        let page = self.store.list_datasets(client, company, query).await?;
        if page.total == 0 {
            self.get_company(client, company).await?;
        }
        Ok(page)
    }

    /// `GET /companies/{id}/data/history/{datasetId}`.
    pub async fn get_pull_operation(
        &self,
        client: ClientId,
        company: CompanyId,
        id: &str,
    ) -> Result<Dataset> {
        let parsed = uuid::Uuid::parse_str(id)
            .ok()
            .filter(|_| id.len() == 36)
            .ok_or_else(|| not_found_dataset(id))?;
        match self.store.get_dataset(client, parsed).await? {
            Some(d) if d.company_id == company => Ok(d),
            _ => {
                self.get_company(client, company).await?;
                Err(not_found_dataset(id))
            }
        }
    }

    /// `GET /companies/{id}/data/info`: the stored `company` record (Codat's
    /// `AccountingCompanyInfo`) of the company's accounting connection, as JSON text. A
    /// `Conflict` until a `company` pull has stored it.
    pub async fn company_info(&self, client: ClientId, company: CompanyId) -> Result<String> {
        let co = self.get_company(client, company).await?;
        let accounting = co
            .connections
            .iter()
            .find(|c| c.source_type == SourceType::Accounting);
        let record = match accounting {
            Some(conn) => self
                .store
                .list_records(
                    client,
                    company,
                    Some(conn.id),
                    DataType::Company,
                    PageRequest {
                        page: 1,
                        page_size: 10,
                    },
                )
                .await?
                .items
                .into_iter()
                // One record per organisation; the latest if the connection was relinked to another.
                .max_by_key(|r| r.modified),
            None => None,
        };
        record.map(|r| r.data).ok_or_else(|| {
            Error::Conflict(format!(
                "The company info of company {company} has not been read yet: sync the company data type of its accounting connection (POST /companies/{company}/data/all or /data/queue/company) and wait until GET /companies/{company}/dataStatus shows company Complete."
            ))
        })
    }

    // -- the pull job --------------------------------------------------------------------------

    /// Ends a dataset that could not run (nothing fetched).
    async fn end_unrun(
        &self,
        ds: &Dataset,
        status: DatasetStatus,
        message: String,
    ) -> Result<JobOutcome> {
        let effects = self.batch_check(ds);
        self.store
            .update_dataset(
                &DatasetUpdate {
                    client: ds.client_id,
                    dataset: ds.id,
                    run_token: None,
                    status,
                    status_description: None,
                    error_message: Some(message),
                    progress: None,
                    at: self.clock.now(),
                },
                &effects,
            )
            .await?;
        Ok(JobOutcome::Done)
    }

    /// The `read_completed` job that checks a dataset's batch once it has ended.
    fn batch_check(&self, ds: &Dataset) -> Effects {
        let job = self.new_job(
            READ_COMPLETED_JOB,
            json!({ "client": ds.client_id.to_string(), "batch": ds.batch_id.to_string() }),
            self.clock.now(),
            Some(format!("read_completed:{}", ds.id)),
            Some(format!("read_completed:{}", ds.batch_id)),
        );
        Effects {
            jobs: vec![job],
            ..Effects::none()
        }
    }

    /// The `pull` job: runs (or resumes) one dataset.
    pub(crate) async fn run_pull_job(&self, payload: &Value, attempts: i32) -> Result<JobOutcome> {
        let (client, id) = job_ids(payload, "dataset")?;
        let Some(ds) = self.store.get_dataset(client, id).await? else {
            return Ok(JobOutcome::Done); // its connection was deleted
        };
        if !ds.status.is_in_progress() {
            return Ok(JobOutcome::Done);
        }
        if attempts > MAX_PULL_ATTEMPTS + 1 {
            return self
                .end_unrun(
                    &ds,
                    DatasetStatus::InternalError,
                    format!(
                        "finlink could not run this pull after {} attempts.",
                        attempts - 1
                    ),
                )
                .await;
        }
        let Some(conn) = self
            .store
            .get_connection(client, ds.company_id, ds.connection_id)
            .await?
        else {
            return Ok(JobOutcome::Done);
        };
        match conn.status {
            ConnectionStatus::Linked => {}
            ConnectionStatus::Deauthorized => {
                return self
                    .end_unrun(
                        &ds,
                        DatasetStatus::AuthError,
                        format!(
                            "Connection {} is Deauthorized: the business must link it again (its linkUrl).",
                            conn.id
                        ),
                    )
                    .await;
            }
            other => {
                return self
                    .end_unrun(
                        &ds,
                        DatasetStatus::PrerequisiteNotMet,
                        format!(
                            "Connection {} is {other}; only Linked connections sync.",
                            conn.id
                        ),
                    )
                    .await;
            }
        }
        let Some(connector) = self
            .connectors
            .connector(&conn.integration_key, ds.data_type)
        else {
            return self
                .end_unrun(
                    &ds,
                    DatasetStatus::NotSupported,
                    format!(
                        "Datatype {} not supported by platform(s) {}.",
                        ds.data_type, conn.platform_name
                    ),
                )
                .await;
        };
        let integ = self.integration(&conn.integration_key)?.clone();
        // The watermark is chosen by the first run; a resumed run keeps it. Before the first
        // successful pull (and for the fetch on first link), the sync settings' syncFrom bounds
        // the full pull.
        let modified_since = if ds.started.is_none() {
            let watermark = if ds.is_initial {
                None
            } else {
                self.store
                    .sync_watermark(client, conn.id, ds.data_type)
                    .await?
            };
            match watermark {
                Some(w) => Some(w),
                None => self
                    .effective_sync_settings(client, conn.company_id)
                    .await?
                    .get(ds.data_type)
                    .sync_from(self.clock.now()),
            }
        } else {
            None
        };
        let run_token = uuid::Uuid::new_v4().simple().to_string();
        let Some(ds) = self
            .store
            .start_dataset(&DatasetStart {
                client,
                dataset: ds.id,
                run_token: run_token.clone(),
                modified_since,
                at: self.clock.now(),
            })
            .await?
        else {
            return Ok(JobOutcome::Done);
        };
        let credential_field = if integ.auth_type == AuthType::Oauth2 {
            String::from("accessToken")
        } else {
            integ
                .fields
                .iter()
                .find(|f| f.kind == FieldKind::Credential)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| String::from("apiKey"))
        };
        let tokens = Arc::new(SyncTokens {
            app: self.clone(),
            client,
            company: conn.company_id,
            connection: conn.id,
            oauth: integ.auth_type == AuthType::Oauth2,
            field: credential_field,
            seen: Mutex::new(None),
        });
        let mut context = ConnectionContext::new(conn.id.to_string(), tokens);
        for (k, v) in conn.connection_info.iter().flatten() {
            if let Some(s) = v.as_str() {
                context = context.with_setting(k, s);
            }
        }
        let mut request = PullRequest::full(ds.data_type).resume_from(ds.resume_page);
        if let Some(since) = ds.modified_since {
            request = request.modified_since(since);
        }
        let mut sink = StoreSink {
            app: self.clone(),
            ds: ds.clone(),
            run_token: run_token.clone(),
            rejected: 0,
            lost: false,
        };
        tracing::info!(dataset_id = %ds.id, connection_id = %conn.id, data_type = %ds.data_type, resume_page = ds.resume_page, incremental = ds.modified_since.is_some(), "sync: pull started");
        let result = connector.pull(&context, &request, &mut sink).await;
        if sink.lost {
            // Another run took the dataset over (or it ended meanwhile): its outcome is theirs.
            return Ok(JobOutcome::Done);
        }
        let now = self.clock.now();
        let update = |status: DatasetStatus,
                      description: Option<String>,
                      error: Option<String>,
                      progress: Option<i32>| DatasetUpdate {
            client,
            dataset: ds.id,
            run_token: Some(run_token.clone()),
            status,
            status_description: description,
            error_message: error,
            progress,
            at: now,
        };
        match result {
            Ok(summary) => {
                let rejected = ds.rejected + sink.rejected;
                let description = (rejected > 0).then(|| {
                    format!(
                        "{rejected} record(s) could not be mapped to Codat's {} model and were not stored.",
                        ds.data_type
                    )
                });
                let ended = self
                    .store
                    .update_dataset(
                        &update(DatasetStatus::Complete, description, None, Some(100)),
                        &self.batch_check(&ds),
                    )
                    .await?;
                if let Some(d) = ended {
                    metrics::counter!("finlink_pulls_total", "data_type" => d.data_type.as_str(), "status" => "Complete")
                        .increment(1);
                    tracing::info!(dataset_id = %d.id, records = d.records, changed = d.changed, pages = summary.pages, "sync: pull complete");
                }
                Ok(JobOutcome::Done)
            }
            Err(e) if e.is_retryable() && attempts < MAX_PULL_ATTEMPTS => {
                let wait = match &e {
                    PullError::RateLimited {
                        retry_after_secs: Some(s),
                    } => i64::try_from(*s)
                        .unwrap_or(3600)
                        .max(backoff_secs(attempts)),
                    _ => backoff_secs(attempts),
                };
                let at = now.plus_seconds(wait);
                let message = pull_error_message(&e);
                tracing::warn!(dataset_id = %ds.id, error = %message, retry_at = %at, "sync: pull paused");
                self.store
                    .update_dataset(
                        &update(
                            DatasetStatus::Fetching,
                            Some(format!("Paused until {}", at.to_rfc3339())),
                            Some(message.clone()),
                            None,
                        ),
                        &Effects::none(),
                    )
                    .await?;
                Ok(JobOutcome::RetryAt(at, message))
            }
            Err(e) => {
                let status = e.dataset_status();
                let message = pull_error_message(&e);
                tracing::warn!(dataset_id = %ds.id, status = %status, error = %message, "sync: pull failed");
                metrics::counter!("finlink_pulls_total", "data_type" => ds.data_type.as_str(), "status" => status.as_str())
                    .increment(1);
                self.store
                    .update_dataset(
                        &update(status, None, Some(message), None),
                        &self.batch_check(&ds),
                    )
                    .await?;
                Ok(JobOutcome::Done)
            }
        }
    }

    /// The `read_completed` job: raises the batch's event once all its datasets have ended.
    pub(crate) async fn run_read_completed_job(&self, payload: &Value) -> Result<JobOutcome> {
        let (client, id) = job_ids(payload, "batch")?;
        let Some((batch, datasets)) = self.store.get_batch(client, id).await? else {
            return Ok(JobOutcome::Done);
        };
        if batch.completed.is_some() || datasets.iter().any(|d| d.status.is_in_progress()) {
            // Reported already, or a later dataset's check will report it.
            return Ok(JobOutcome::Done);
        }
        let now = self.clock.now();
        if datasets.is_empty() {
            self.store
                .complete_batch(client, id, now, &Effects::none())
                .await?;
            return Ok(JobOutcome::Done);
        }
        let Some(company) = self.store.get_company(client, batch.company_id).await? else {
            return Ok(JobOutcome::Done);
        };
        let event = self.read_completed_event(&company, &batch, &datasets);
        let effects = self.raise(vec![event], Some(&company.tags)).await?;
        if self.store.complete_batch(client, id, now, &effects).await? {
            tracing::info!(company_id = %company.id, batch = %id, datasets = datasets.len(), initial = batch.is_initial, "sync: read completed");
        }
        Ok(JobOutcome::Done)
    }

    /// `read.completed` / `read.completed.initial`: `{referenceCompany, modifiedFromDate,
    /// dataTypes: [{connectionId, dataType, recordsModified, status, issues, datasetId}]}`.
    fn read_completed_event(
        &self,
        company: &finlink_domain::company::Company,
        batch: &SyncBatch,
        datasets: &[Dataset],
    ) -> Event {
        let event_type = if batch.is_initial {
            types::READ_COMPLETED_INITIAL
        } else {
            types::READ_COMPLETED
        };
        // The earliest watermark of the incremental pulls (none: everything was pulled).
        let modified_from: Option<Timestamp> =
            datasets.iter().filter_map(|d| d.modified_since).min();
        let data_types: Vec<Value> = datasets
            .iter()
            .map(|d| {
                let mut issues = Vec::new();
                let logs = format!(
                    "{}/companies/{}/data/history/{}",
                    self.settings.public_url, d.company_id, d.id
                );
                if d.status.is_error() {
                    issues.push(json!({
                        "type": format!("error.{}", d.status),
                        "message": d.error_message.clone().unwrap_or_else(|| d.status.to_string()),
                        "links": { "logs": logs },
                    }));
                }
                if d.rejected > 0 {
                    issues.push(json!({
                        "type": "warning.mapping",
                        "message": format!("{} record(s) could not be mapped to Codat's {} model and were not stored.", d.rejected, d.data_type),
                        "links": { "logs": logs },
                    }));
                }
                json!({
                    "connectionId": d.connection_id.to_string(),
                    "dataType": d.data_type.as_str(),
                    "recordsModified": d.changed > 0,
                    "status": d.status.as_str(),
                    "issues": issues,
                    "datasetId": d.id.to_string(),
                })
            })
            .collect();
        let one_connection = datasets
            .first()
            .map(|d| d.connection_id)
            .filter(|c| datasets.iter().all(|d| d.connection_id == *c));
        let payload = json!({
            "referenceCompany": {
                "id": company.id.to_string(),
                "name": company.name,
                "description": company.description,
                "links": { "portal": self.company_link_url(&company.id) },
                "tags": company.tags,
            },
            "modifiedFromDate": modified_from.map(|t| t.to_rfc3339()),
            "dataTypes": data_types,
        });
        Event {
            id: uuid::Uuid::now_v7(),
            client_id: company.client_id,
            event_type: event_type.to_owned(),
            company_id: Some(company.id),
            connection_id: one_connection,
            payload: payload.to_string(),
            occurred_at: self.clock.now(),
        }
    }
}

fn no_linked_connection(company: CompanyId) -> Error {
    Error::bad_request(format!(
        "Company {company} has no Linked connection to sync: link one through its linkUrl, or migrate its tokens (PUT /companies/{company}/connections/{{connectionId}}/authorization), then refresh its data."
    ))
}

/// What a dataset says about a failed pull (connector errors carry no secret, no URL and no
/// response body; finlink's own failures are not detailed on the wire).
fn pull_error_message(e: &PullError) -> String {
    match e {
        PullError::Sink(_) => String::from(
            "finlink could not store the data it read; the pull resumes from its last stored page.",
        ),
        other => other.to_string(),
    }
}

/// Stores each page of a pull with the dataset's progress, in one transaction.
struct StoreSink {
    app: App,
    ds: Dataset,
    run_token: String,
    /// Records this run could not map.
    rejected: u64,
    /// The dataset was taken over by another run, or ended: nothing more is written.
    lost: bool,
}

#[async_trait]
impl PullSink for StoreSink {
    async fn page(&mut self, page: connectors::Page) -> std::result::Result<(), SinkError> {
        let mut records = Vec::with_capacity(page.items.len());
        let mut max_source_modified: Option<Timestamp> = None;
        for item in page.items {
            let mut unstamped = item.record.clone();
            unstamped.set_modified_date(None);
            let body = serde_json::to_string(&unstamped)
                .map_err(|e| SinkError(format!("serialising a record: {e}")))?;
            let raw = item.raw.to_string();
            let data = serde_json::to_string(&item.record)
                .map_err(|e| SinkError(format!("serialising a record: {e}")))?;
            if item.source_modified > max_source_modified {
                max_source_modified = item.source_modified;
            }
            records.push(NewRecord {
                record_id: item.source_id,
                hash: record_hash(&body, &raw),
                data,
                raw,
                source_modified: item.source_modified,
                modified: page.fetched_at,
            });
        }
        let rejected = page.rejected.len() as u64;
        let progress = if page.is_last {
            Some(100)
        } else {
            page.total_pages.filter(|t| *t > 0).map(|t| {
                i32::try_from(u64::from(page.number.min(t)) * 100 / u64::from(t))
                    .unwrap_or(0)
                    .min(99)
            })
        };
        let write = PageWrite {
            client: self.ds.client_id,
            company: self.ds.company_id,
            connection: self.ds.connection_id,
            data_type: self.ds.data_type,
            dataset: self.ds.id,
            run_token: self.run_token.clone(),
            records,
            rejected,
            next_page: page.resume_from.unwrap_or(page.number.saturating_add(1)),
            progress,
            max_source_modified,
            is_last: page.is_last,
            at: self.app.clock.now(),
        };
        match self.app.store.store_page(&write).await {
            Ok(true) => {
                self.rejected += rejected;
                metrics::counter!("finlink_pull_records_total", "data_type" => self.ds.data_type.as_str())
                    .increment(write.records.len() as u64);
                Ok(())
            }
            Ok(false) => {
                self.lost = true;
                Err(SinkError(String::from(
                    "the pull was taken over by another run",
                )))
            }
            Err(e) => {
                tracing::warn!(dataset_id = %self.ds.id, error = %e, "sync: storing a page failed");
                Err(SinkError(String::from("storing the page failed")))
            }
        }
    }
}

/// A connection's credential for its pulls: the stored token, refreshed ahead of expiry and
/// after a `401` through the single-flight refresh path (one refresh per connection across
/// processes; a refused refresh runs the failure lifecycle).
struct SyncTokens {
    app: App,
    client: ClientId,
    company: CompanyId,
    connection: ConnectionId,
    oauth: bool,
    /// The secret field sent: `accessToken`, or the API key's field.
    field: String,
    /// The credentials version and token last handed out.
    seen: Mutex<Option<(i64, SecretString)>>,
}

fn unavailable(e: &Error) -> TokenError {
    match e {
        Error::Validation { message, .. } => TokenError::Rejected(message.clone()),
        _ => TokenError::Unavailable(String::from(
            "finlink could not read the connection's credentials for now",
        )),
    }
}

impl SyncTokens {
    async fn refresh(&self, version: i64) -> std::result::Result<RefreshOutcome, TokenError> {
        self.app
            .refresh_seen(
                &Actor::Worker,
                self.client,
                self.company,
                self.connection,
                Some(version),
            )
            .await
            .map_err(|e| {
                tracing::warn!(connection_id = %self.connection, error = %e, "sync: refreshing the token failed");
                unavailable(&e)
            })
    }
}

#[async_trait]
impl TokenSource for SyncTokens {
    async fn token(&self) -> std::result::Result<SecretString, TokenError> {
        let read = || async {
            self.app
                .store
                .get_credentials(self.client, self.connection)
                .await
                .map_err(|e| unavailable(&e))?
                .ok_or_else(|| {
                    TokenError::Rejected(String::from(
                        "the connection has no credentials; link it again",
                    ))
                })
        };
        let mut sealed = read().await?;
        let now = self.app.clock.now();
        let stale = sealed.needs_refresh
            || sealed
                .expires_at
                .is_some_and(|e| e <= now.plus_seconds(TOKEN_MARGIN_SECS));
        if self.oauth && stale {
            match self.refresh(sealed.version).await? {
                RefreshOutcome::Refreshed { .. } => sealed = read().await?,
                RefreshOutcome::Rejected { reason } => return Err(TokenError::Rejected(reason)),
                RefreshOutcome::Transient { reason } => {
                    let valid = !sealed.needs_refresh && sealed.expires_at.is_some_and(|e| e > now);
                    if !valid {
                        return Err(TokenError::Unavailable(reason));
                    }
                }
            }
        }
        let secrets = crate::credentials::open(&self.app.vault, &sealed).map_err(|e| {
            tracing::warn!(connection_id = %self.connection, error = %e, "sync: opening the credentials failed");
            TokenError::Unavailable(String::from(
                "finlink could not open the connection's credentials",
            ))
        })?;
        let token = secrets.get(&self.field).cloned().ok_or_else(|| {
            TokenError::Rejected(format!(
                "the connection's credentials have no {}; link it again",
                self.field
            ))
        })?;
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((sealed.version, token.clone()));
        }
        Ok(token)
    }

    async fn rejected(&self, token: &SecretString) -> std::result::Result<(), TokenError> {
        if !self.oauth {
            return Ok(());
        }
        let version = match self.seen.lock() {
            Ok(seen) => match seen.as_ref() {
                Some((v, t)) if t.expose() == token.expose() => Some(*v),
                _ => None,
            },
            Err(_) => None,
        };
        // A token this source did not hand out last: it has changed already.
        let Some(version) = version else {
            return Ok(());
        };
        match self.refresh(version).await? {
            RefreshOutcome::Refreshed { .. } => Ok(()),
            RefreshOutcome::Rejected { reason } => Err(TokenError::Rejected(reason)),
            RefreshOutcome::Transient { reason } => Err(TokenError::Unavailable(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_ignore_nothing_but_what_they_are_given() {
        let a = record_hash("{\"id\":\"1\"}", "{\"ID\":1}");
        assert_eq!(a, record_hash("{\"id\":\"1\"}", "{\"ID\":1}"));
        assert_ne!(a, record_hash("{\"id\":\"1\"}", "{\"ID\":2}"));
        assert_ne!(a, record_hash("{\"id\":\"2\"}", "{\"ID\":1}"));
        assert_eq!(a.len(), 40);
    }
}
