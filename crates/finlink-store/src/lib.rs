//! Storage behind a trait. `finlink-store-sqlite` and `finlink-store-postgres` each
//! implement [`Store`]; [`contract`] is the one test suite both must pass.
//!
//! Every method that reads or changes a client's data takes the client id, so
//! another client's ids are simply not found: tenant isolation is a property of
//! the queries, not of the callers.

pub mod contract;
pub mod migration;
pub mod records;
pub mod rows;
pub mod sql;

use async_trait::async_trait;
use finlink_domain::api_key::ApiKey;
use finlink_domain::client::Client;
use finlink_domain::company::Company;
use finlink_domain::connection::{Connection, ConnectionError, ConnectionStatus, RefreshHealth};
use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::data::{DataType, DatasetStatus};
use finlink_domain::event::Event;
use finlink_domain::ids::{ApiKeyId, ClientId, CompanyId, ConnectionId};
use finlink_domain::job::{Job, JobRecord, JobResult, NewJob};
use finlink_domain::link::{IntegrationCredentials, LinkFlow};
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::profile::Profile;
use finlink_domain::query::{Expr, OrderBy};
use finlink_domain::sync::{DataTypeStatus, Dataset, StoredRecord, SyncBatch};
use finlink_domain::webhook::{Consumer, Delivery};
use finlink_domain::{Result, Timestamp};
pub use migration::{
    MigrationBatch, MigrationCounts, MigrationRowRecord, MigrationRun, MigrationUpdate,
};

/// A list request: paging plus the optional `query`, `tags` and `orderBy` parameters,
/// already parsed. The store checks properties against its whitelist.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub page: PageRequest,
    pub filter: Option<Expr>,
    /// Companies only: a query over tag keys.
    pub tags: Option<Expr>,
    pub order: Option<OrderBy>,
    /// Companies only: just those created as Apideck-style consumers.
    pub consumers_only: bool,
}

/// What inserting a connection did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionInsert {
    Inserted,
    /// The company already has this accounting connection; a company has at most one.
    AccountingExists(ConnectionId),
    /// The company does not exist (or is another client's).
    NoSuchCompany,
}

/// What else a write records in its own transaction: the events it raises and the jobs it
/// schedules. A crash can never keep the change and lose its event or its follow-up job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub events: Vec<Event>,
    pub jobs: Vec<NewJob>,
    /// Webhook deliveries of `events` (each with its job in `jobs`).
    pub deliveries: Vec<Delivery>,
    /// Datasets to queue (fetch on first link), each with its job; one whose connection and
    /// data type already has a dataset queued or running is left out with its job.
    pub pulls: Option<PullBatch>,
}

impl Effects {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.jobs.is_empty()
            && self.deliveries.is_empty()
            && self.pulls.as_ref().is_none_or(|p| p.pulls.is_empty())
    }

    /// Whether writing these schedules jobs (to wake workers).
    pub fn schedules_jobs(&self) -> bool {
        !self.jobs.is_empty() || self.pulls.as_ref().is_some_and(|p| !p.pulls.is_empty())
    }

    /// Just these events.
    pub fn events(events: Vec<Event>) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }
}

/// A dataset to queue, with the job that runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPull {
    pub dataset: Dataset,
    pub job: NewJob,
}

/// Datasets queued together (one `read.completed` when they have all ended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullBatch {
    pub batch: SyncBatch,
    pub pulls: Vec<NewPull>,
}

/// What queueing datasets did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueOutcome {
    /// These datasets were queued (with their jobs, and the batch when any was).
    Queued(Vec<uuid::Uuid>),
    /// Nothing was written: this dataset of the same connection and data type is still queued
    /// or running.
    Busy(uuid::Uuid),
}

/// One record of a page to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    pub record_id: String,
    /// Codat's shape, as JSON text (with `modifiedDate` = `modified`).
    pub data: String,
    /// The platform's record, as JSON text.
    pub raw: String,
    /// A digest of the record without its `modifiedDate` (and of the raw record): an unchanged
    /// record re-fetched keeps its stored row, `modifiedDate` included.
    pub hash: String,
    pub source_modified: Option<Timestamp>,
    pub modified: Timestamp,
}

/// A page of a running pull, stored in one transaction with the dataset's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageWrite {
    pub client: ClientId,
    pub company: CompanyId,
    pub connection: ConnectionId,
    pub data_type: DataType,
    pub dataset: uuid::Uuid,
    /// The run's token from [`DatasetStart`]; a run that was taken over writes nothing.
    pub run_token: String,
    pub records: Vec<NewRecord>,
    pub rejected: u64,
    /// The page to resume from once this one is stored.
    pub next_page: u32,
    /// Percent done, when known.
    pub progress: Option<i32>,
    /// The latest source modified time in this page.
    pub max_source_modified: Option<Timestamp>,
    /// The pull's last page: the dataset moves to `Mapping`.
    pub is_last: bool,
    pub at: Timestamp,
}

/// A run of a pull starting (or resuming).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetStart {
    pub client: ClientId,
    pub dataset: uuid::Uuid,
    /// Identifies this run; page writes and the end must carry it.
    pub run_token: String,
    /// The incremental watermark; kept only by the first run (a resumed one keeps the first's).
    pub modified_since: Option<Timestamp>,
    pub at: Timestamp,
}

/// A change of a dataset's status: a pause (still in progress) or its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetUpdate {
    pub client: ClientId,
    pub dataset: uuid::Uuid,
    /// Applies only to this run (`None`: whatever run, e.g. a pull that never started).
    pub run_token: Option<String>,
    pub status: DatasetStatus,
    pub status_description: Option<String>,
    pub error_message: Option<String>,
    pub progress: Option<i32>,
    pub at: Timestamp,
}

/// A change to a connection's status, errors and refresh health (each only when `Some`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionWrite {
    pub status: Option<ConnectionStatus>,
    pub errors: Option<Vec<ConnectionError>>,
    pub refresh: Option<RefreshHealth>,
    /// Deletes the connection's credentials (a rejected grant's retention window ran out).
    pub drop_credentials: bool,
    pub at: Timestamp,
    /// Applies only while a refresh failure cycle is open (new credentials close it).
    pub only_if_failing: bool,
    /// Applies only while the connection is `Linked` or `Deauthorized` (not after an unlink).
    pub only_if_connected: bool,
}

/// Which events to list.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    pub event_type: Option<String>,
    pub company: Option<CompanyId>,
    pub connection: Option<ConnectionId>,
}

/// A webhook consumer's signing secret as stored: sealed under a master key.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_id: String,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A consumer's current secret and, within 24 hours of a rotation, the previous one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSecrets {
    pub current: SealedSecret,
    pub previous: Option<(SealedSecret, Timestamp)>,
}

/// The connection change that goes with storing credentials (in the same transaction).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionUpdate {
    pub status: ConnectionStatus,
    /// Replaces the connection's non-secret provider settings when `Some`.
    pub connection_info: Option<serde_json::Map<String, serde_json::Value>>,
    /// Replaces the connection's `dataConnectionErrors` when `Some`.
    pub errors: Option<Vec<ConnectionError>>,
    pub at: Timestamp,
}

/// What inserting an API key did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeyInsert {
    Inserted,
    /// The client already has the maximum number of keys.
    LimitReached,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    // -- clients ----------------------------------------------------------------

    /// Creates a client with its profile.
    async fn insert_client(&self, client: &Client, profile: &Profile) -> Result<()>;
    async fn get_client(&self, id: ClientId) -> Result<Option<Client>>;
    /// All clients, oldest first.
    async fn list_clients(&self) -> Result<Vec<Client>>;

    // -- API keys ---------------------------------------------------------------

    /// Inserts a key unless the client already has `max_per_client` keys (checked
    /// atomically with the insert).
    async fn insert_api_key(&self, key: &ApiKey, max_per_client: u32) -> Result<ApiKeyInsert>;
    /// Finds a key by its public lookup prefix (across clients: this is how a
    /// request's client is found).
    async fn find_api_key(&self, lookup: &str) -> Result<Option<ApiKey>>;
    /// The client's keys, oldest first.
    async fn list_api_keys(&self, client: ClientId) -> Result<Vec<ApiKey>>;
    async fn delete_api_key(&self, client: ClientId, id: ApiKeyId) -> Result<bool>;

    // -- profile ----------------------------------------------------------------

    async fn get_profile(&self, client: ClientId) -> Result<Option<Profile>>;
    async fn put_profile(&self, client: ClientId, profile: &Profile) -> Result<()>;

    // -- companies --------------------------------------------------------------

    async fn insert_company(&self, company: &Company, effects: &Effects) -> Result<()>;
    /// The client a company belongs to, whichever client that is. Only for the hosted Link
    /// pages, where the company id in the URL is what grants access.
    async fn company_owner(&self, id: CompanyId) -> Result<Option<ClientId>>;
    /// The company with its connections.
    async fn get_company(&self, client: ClientId, id: CompanyId) -> Result<Option<Company>>;
    /// Writes name, description, tags, consumer id and modified time. False when not found.
    async fn update_company(&self, company: &Company) -> Result<bool>;
    /// Deletes the company and its connections. False when not found.
    async fn delete_company(
        &self,
        client: ClientId,
        id: CompanyId,
        effects: &Effects,
    ) -> Result<bool>;
    /// A page of companies, each with its connections.
    async fn list_companies(&self, client: ClientId, query: &ListQuery) -> Result<Page<Company>>;

    // -- connections ------------------------------------------------------------

    /// Effects are written only when the connection is inserted.
    async fn insert_connection(
        &self,
        connection: &Connection,
        effects: &Effects,
    ) -> Result<ConnectionInsert>;
    async fn get_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
    ) -> Result<Option<Connection>>;
    async fn list_connections(
        &self,
        client: ClientId,
        company: CompanyId,
        query: &ListQuery,
    ) -> Result<Page<Connection>>;
    /// Sets a connection's status; returns the updated connection, or None when not found.
    async fn set_connection_status(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        status: ConnectionStatus,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<Option<Connection>>;
    /// Applies `write` to a connection; None (and nothing written) when it does not exist.
    async fn update_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        write: &ConnectionWrite,
        effects: &Effects,
    ) -> Result<Option<Connection>>;
    async fn delete_connection(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        effects: &Effects,
    ) -> Result<bool>;
    /// Replaces a connection's non-secret provider settings; None when not found.
    async fn set_connection_info(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        info: &serde_json::Map<String, serde_json::Value>,
        at: Timestamp,
    ) -> Result<Option<Connection>>;

    // -- credentials and audit ------------------------------------------------------

    /// Stores (replacing) a connection's sealed credentials, applies `update` to the
    /// connection, and appends `audit`, in one transaction. The stored version becomes
    /// the previous version + 1 (1 for the first). Returns the updated connection, or
    /// None (and changes nothing) when the connection does not exist for that client and company.
    /// New credentials close any refresh failure cycle (`last_failed_at` is kept).
    async fn store_credentials(
        &self,
        credentials: &SealedCredentials,
        update: &ConnectionUpdate,
        audit: &AuditEntry,
        effects: &Effects,
    ) -> Result<Option<Connection>>;

    async fn get_credentials(
        &self,
        client: ClientId,
        connection: ConnectionId,
    ) -> Result<Option<SealedCredentials>>;

    /// Writes `credentials` only if the stored version is still `expected_version`
    /// (compare-and-swap); the new version is `expected_version + 1`. False when another
    /// writer got there first (or the row is gone); then neither `write` nor `effects` is applied.
    async fn swap_credentials(
        &self,
        credentials: &SealedCredentials,
        expected_version: i64,
        write: Option<&ConnectionWrite>,
        effects: &Effects,
    ) -> Result<bool>;

    /// How many connections have each status, across every client (for metrics).
    async fn connection_status_counts(&self) -> Result<Vec<(String, u64)>>;

    /// How many stored secrets (connection credentials and clients' OAuth client secrets) each
    /// master key seals.
    async fn credential_key_counts(&self) -> Result<Vec<(String, u64)>>;

    /// Up to `limit` credentials sealed under a key other than `active_key`.
    async fn credentials_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<SealedCredentials>>;

    /// Replaces a connection's `dataConnectionErrors` and appends `audit`, in one transaction.
    /// None (and nothing written) when the connection does not exist.
    async fn set_connection_errors(
        &self,
        client: ClientId,
        company: CompanyId,
        id: ConnectionId,
        errors: &[ConnectionError],
        audit: &AuditEntry,
    ) -> Result<Option<Connection>>;

    async fn insert_audit(&self, entry: &AuditEntry) -> Result<()>;

    /// The client's audit log, newest first.
    async fn list_audit(&self, client: ClientId, page: PageRequest) -> Result<Page<AuditEntry>>;

    // -- Link flows -------------------------------------------------------------------

    /// Stores a new flow, and deletes flows that expired more than a day before it was created.
    async fn insert_link_flow(&self, flow: &LinkFlow) -> Result<()>;
    async fn get_link_flow(&self, id: &str) -> Result<Option<LinkFlow>>;
    /// The flow whose `state_hash` this is.
    async fn find_link_flow_by_state(&self, state_hash: &str) -> Result<Option<LinkFlow>>;
    /// Writes the flow's stage, sealed secrets and expiry only if its stored version is still
    /// `expected_version` (compare-and-swap); the stored version becomes `expected_version + 1`.
    /// False when another request got there first.
    async fn update_link_flow(&self, flow: &LinkFlow, expected_version: i64) -> Result<bool>;

    // -- integration credentials (a client's own OAuth apps) ----------------------------

    /// Inserts or replaces the client's OAuth app for an integration.
    async fn put_integration_credentials(&self, creds: &IntegrationCredentials) -> Result<()>;
    async fn get_integration_credentials(
        &self,
        client: ClientId,
        integration_key: &str,
    ) -> Result<Option<IntegrationCredentials>>;
    /// The client's OAuth apps, by integration key.
    async fn list_integration_credentials(
        &self,
        client: ClientId,
    ) -> Result<Vec<IntegrationCredentials>>;
    async fn delete_integration_credentials(
        &self,
        client: ClientId,
        integration_key: &str,
    ) -> Result<bool>;
    // -- durable jobs (finlink_domain::job) ------------------------------------------------

    /// Enqueues a job. False (and nothing written) when a job with its idempotency key exists.
    async fn enqueue_job(&self, job: &NewJob) -> Result<bool>;
    /// Claims due jobs for `owner` until `lease_until`: queued ones whose `run_at` has come, and
    /// running ones whose lease ran out (their worker died). Takes up to `limit` jobs that
    /// start a group; a job with a concurrency key is skipped while another owner's running job
    /// holds that key, and when taken, up to `per_key - 1` more due queued jobs of its key come
    /// with it (in `run_at` order, right after it in the answer), for the owner to run one after
    /// another. Each claim bumps the fencing token and the attempt count.
    async fn claim_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        per_key: u32,
    ) -> Result<Vec<Job>>;
    /// Extends a lease; false when the fencing token is stale (the job was taken over).
    async fn heartbeat_job(
        &self,
        id: uuid::Uuid,
        fence: i64,
        lease_until: Timestamp,
    ) -> Result<bool>;
    /// Records the outcomes of claimed jobs, with their delivery attempts, in one transaction.
    /// Each record is applied only if its fencing token is current (the job was not taken
    /// over); the answer says which were.
    async fn record_jobs(&self, records: &[JobRecord]) -> Result<Vec<bool>>;
    /// Marks a job done; false when the fencing token is stale.
    async fn finish_job(&self, id: uuid::Uuid, fence: i64, now: Timestamp) -> Result<bool> {
        let r = JobRecord {
            id,
            fence,
            result: JobResult::Done,
            at: now,
            delivery: None,
        };
        Ok(self.record_jobs(&[r]).await?.first() == Some(&true))
    }
    /// Records a failed attempt: queued again at `retry_at`, or dead when `retry_at` is None.
    /// False when the fencing token is stale.
    async fn fail_job(
        &self,
        id: uuid::Uuid,
        fence: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool> {
        let error = error.to_owned();
        let result = match retry_at {
            Some(at) => JobResult::Retry { at, error },
            None => JobResult::Dead { error },
        };
        let r = JobRecord {
            id,
            fence,
            result,
            at: now,
            delivery: None,
        };
        Ok(self.record_jobs(&[r]).await?.first() == Some(&true))
    }
    async fn get_job(&self, id: uuid::Uuid) -> Result<Option<Job>>;
    /// How many jobs are in each state.
    async fn job_state_counts(&self) -> Result<Vec<(String, u64)>>;
    /// Deletes up to `limit` jobs that finished (`done`) before `before`; returns how many.
    async fn prune_jobs(&self, before: Timestamp, limit: u32) -> Result<u64>;

    /// Waits until a job may have become due (PostgreSQL: a `NOTIFY` from any process; both
    /// engines: an enqueue in this process), or `timeout`, whichever comes first.
    async fn wait_for_jobs(&self, timeout: std::time::Duration);

    // -- events ------------------------------------------------------------------------

    /// The client's events, newest first.
    async fn list_events(
        &self,
        client: ClientId,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<Event>>;

    /// One event.
    async fn get_event(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Event>>;

    // -- webhooks ------------------------------------------------------------------------

    /// Inserts a consumer unless the client has `max` already (false then, nothing written).
    async fn insert_consumer(
        &self,
        consumer: &Consumer,
        secret: &SealedSecret,
        max: usize,
    ) -> Result<bool>;
    /// The client's consumers, oldest first.
    async fn list_consumers(&self, client: ClientId) -> Result<Vec<Consumer>>;
    async fn get_consumer(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Consumer>>;
    /// Writes url, disabled, disabled reason, event types, tags, failing-since and updated.
    async fn update_consumer(&self, consumer: &Consumer) -> Result<bool>;
    /// Records a failed delivery: starts the consumer's failure streak unless one runs; returns
    /// when the streak began (None when the consumer is gone).
    async fn note_consumer_failure(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        at: Timestamp,
    ) -> Result<Option<Timestamp>>;
    /// Records a successful delivery: ends the consumer's failure streak.
    async fn note_consumer_success(&self, client: ClientId, id: uuid::Uuid) -> Result<()>;
    /// Disables an enabled consumer with `reason`, writing `effects` in the same transaction;
    /// false (and nothing written) when it is gone or already disabled.
    async fn disable_consumer(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        reason: &str,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool>;
    /// Deletes the consumer and its deliveries (their jobs end when they find it gone).
    async fn delete_consumer(&self, client: ClientId, id: uuid::Uuid) -> Result<bool>;
    async fn get_consumer_secrets(
        &self,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<Option<ConsumerSecrets>>;
    /// Makes `next` the current secret and the current one the previous until `previous_until`.
    async fn rotate_consumer_secret(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        next: &SealedSecret,
        previous_until: Timestamp,
        at: Timestamp,
    ) -> Result<bool>;
    /// Consumers with a secret (current or previous) sealed under a key other than `active_key`.
    async fn webhook_secrets_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<(ClientId, uuid::Uuid)>>;
    /// Replaces a consumer's sealed secrets as they are (re-sealing under another key).
    async fn replace_consumer_secrets(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        secrets: &ConsumerSecrets,
    ) -> Result<bool>;
    async fn get_delivery(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Delivery>>;
    /// The deliveries with these ids (of any client: for the delivery jobs), each with its
    /// event when that still exists; in no particular order, missing ones left out.
    async fn get_deliveries_with_events(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<Vec<(Delivery, Option<Event>)>>;
    /// A consumer's deliveries, newest first.
    async fn list_deliveries(
        &self,
        client: ClientId,
        consumer: uuid::Uuid,
        page: PageRequest,
    ) -> Result<Page<Delivery>>;
    /// Writes `effects` alone, in one transaction (replays and manual retries).
    async fn write_effects(&self, effects: &Effects) -> Result<()>;

    // -- leases (single-flight across processes) -------------------------------------------

    /// Takes the lease `key` for `owner` until `until`, if it is free: absent, run out at `now`,
    /// or already `owner`'s. True when `owner` holds it afterwards. Atomic across processes.
    async fn try_lease(
        &self,
        key: &str,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool>;
    /// Gives the lease back, if `owner` still holds it.
    async fn release_lease(&self, key: &str, owner: &str) -> Result<()>;

    /// Up to `limit` client secrets sealed under a key other than `active_key` (for rotation).
    async fn integration_credentials_not_under(
        &self,
        active_key: &str,
        limit: u32,
    ) -> Result<Vec<IntegrationCredentials>>;

    // -- syncs (finlink_domain::sync) ----------------------------------------------------------

    /// Queues a batch's datasets with their jobs, and the batch (when any dataset is queued).
    /// A dataset whose connection and data type already has one queued or running is busy:
    /// with `all_or_nothing`, the first busy one's id is the answer and nothing is written;
    /// otherwise busy ones are left out (with their jobs).
    async fn queue_pulls(&self, batch: &PullBatch, all_or_nothing: bool) -> Result<QueueOutcome>;
    async fn get_dataset(&self, client: ClientId, id: uuid::Uuid) -> Result<Option<Dataset>>;
    /// A company's datasets (pull history), newest first unless `query.order` says otherwise.
    async fn list_datasets(
        &self,
        client: ClientId,
        company: CompanyId,
        query: &ListQuery,
    ) -> Result<Page<Dataset>>;
    /// Per data type with any dataset: the latest (by request) and the latest successful.
    async fn data_status(
        &self,
        client: ClientId,
        company: CompanyId,
    ) -> Result<Vec<DataTypeStatus>>;
    /// The incremental watermark of a connection's data type: the `max_source_modified` of its
    /// latest `Complete` dataset.
    async fn sync_watermark(
        &self,
        client: ClientId,
        connection: ConnectionId,
        data_type: DataType,
    ) -> Result<Option<Timestamp>>;
    /// Starts (or resumes) a queued or running dataset: `Fetching`, `started` when first, the
    /// watermark when first, the run token. None when it is gone or has ended.
    async fn start_dataset(&self, start: &DatasetStart) -> Result<Option<Dataset>>;
    /// Upserts a page's records (by connection, data type and record id; an unchanged record
    /// keeps its row) and advances the dataset (resume page, progress, counts, watermark), in
    /// one transaction. False (and nothing written) when the dataset is gone, has ended, or
    /// another run took it over.
    async fn store_page(&self, page: &PageWrite) -> Result<bool>;
    /// Changes a dataset still queued or running (and, with a run token, still this run's).
    /// An end status sets `completed`; `Complete` also carries the watermark forward and sets
    /// the company's and the connection's `lastSync`. `effects` are written only when applied.
    async fn update_dataset(
        &self,
        update: &DatasetUpdate,
        effects: &Effects,
    ) -> Result<Option<Dataset>>;
    /// A batch and its datasets.
    async fn get_batch(
        &self,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<Option<(SyncBatch, Vec<Dataset>)>>;
    /// Marks a batch reported, with `effects` (its event); false (nothing written) when it was
    /// already reported or is gone.
    async fn complete_batch(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool>;
    /// A page of a company's stored records of one type (of one connection when given), by
    /// record id.
    async fn list_records(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: DataType,
        page: PageRequest,
    ) -> Result<Page<StoredRecord>>;
    /// One stored record, with its raw record.
    async fn get_record(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: DataType,
        record_id: &str,
    ) -> Result<Option<StoredRecord>>;

    // -- sync settings and schedules (finlink_domain::sync_settings) ---------------------------

    /// The sync settings stored for a client (`company` None) or for one of its companies.
    async fn get_sync_settings(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
    ) -> Result<Option<finlink_domain::sync_settings::SyncSettings>>;
    /// Replaces them, with `effects` in the same transaction. False (nothing written) when the
    /// company does not exist or is another client's.
    async fn put_sync_settings(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
        settings: &finlink_domain::sync_settings::SyncSettings,
        effects: &Effects,
    ) -> Result<bool>;
    /// Per data type a connection has datasets of: when the latest one was requested (the
    /// anchor of its schedule).
    async fn latest_pulls(
        &self,
        client: ClientId,
        connection: ConnectionId,
    ) -> Result<Vec<(DataType, Timestamp)>>;

    // -- reading data: the read endpoints (records::RecordQuery) --------------------------------

    /// Whether a pull of `data_type` has completed (`Complete`) for the company (on `connection`
    /// when given): the data is readable; until then the read endpoints answer 409.
    async fn data_type_read(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: DataType,
    ) -> Result<bool>;
    /// A page of a company's stored records of one type (of one connection when given),
    /// filtered by `query.filter` and ordered by `query.order` over the records' fields (by
    /// record id otherwise); the total counts every record that matches.
    async fn query_records(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: Option<ConnectionId>,
        data_type: DataType,
        query: &records::RecordQuery,
    ) -> Result<Page<StoredRecord>>;

    // -- bulk migration (`finlink migrate`) ---------------------------------------------------

    async fn insert_migration_run(&self, run: &MigrationRun) -> Result<()>;
    async fn get_migration_run(&self, id: uuid::Uuid) -> Result<Option<MigrationRun>>;
    /// The client's newest run with this fingerprint.
    async fn find_migration_run(
        &self,
        client: ClientId,
        fingerprint: &str,
    ) -> Result<Option<MigrationRun>>;
    /// Runs of every client, newest first.
    async fn list_migration_runs(&self, limit: u32) -> Result<Vec<MigrationRun>>;
    /// The client's companies whose consumer id (external reference) is one of `refs` or whose
    /// id is one of `ids`, each with its connections.
    async fn migration_companies(
        &self,
        client: ClientId,
        refs: &[String],
        ids: &[CompanyId],
    ) -> Result<Vec<Company>>;
    /// Records a batch in one transaction (see [`MigrationBatch`]). False, with nothing written,
    /// when the run's watermark is no longer `batch.after_row`.
    async fn import_migration_batch(&self, batch: MigrationBatch) -> Result<bool>;
    /// Sets a run's status and detail (`completed` also sets `completed`), with `effects` in the
    /// same transaction. False when the run does not exist.
    async fn set_migration_run_status(
        &self,
        id: uuid::Uuid,
        status: &str,
        detail: Option<&str>,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool>;
    /// A run's recorded rows after row number `after`, in row order.
    async fn list_migration_rows(
        &self,
        run: uuid::Uuid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<MigrationRowRecord>>;
    /// Deletes the connections the run created and the companies it created (when they have no
    /// other connection left), forgets its rows, sets its watermark and counts to zero and its
    /// status to `rolled_back`. Returns how many connections were deleted.
    async fn rollback_migration_run(&self, id: uuid::Uuid, at: Timestamp) -> Result<u64>;
}
