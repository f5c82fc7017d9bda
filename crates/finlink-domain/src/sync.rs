//! Syncs: pull operations (Codat's datasets), the batches they are queued in, and the stored
//! records they bring in.
//!
//! - A [`Dataset`] pulls one data type of one connection. It is queued (`Queued`), runs
//!   (`Fetching`, then `Mapping` once its last page is stored) and ends `Complete` or in an error
//!   status. Pages are stored as they come; [`Dataset::resume_page`] is the first page not stored
//!   yet, so a pull that a killed worker abandoned resumes there.
//! - A [`SyncBatch`] groups the datasets queued together (one `data/all`, one `data/queue`, the
//!   fetch on first link): when the last of them ends, `read.completed` (or
//!   `read.completed.initial`) reports every one of them.
//! - A [`StoredRecord`] is one record in Codat's shape, with the platform's raw record beside it.

use crate::Timestamp;
use crate::data::{DataType, DatasetStatus};
use crate::ids::{ClientId, CompanyId, ConnectionId};

/// One pull of one data type of one connection (Codat's `PullOperation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub id: uuid::Uuid,
    pub client_id: ClientId,
    pub company_id: CompanyId,
    pub connection_id: ConnectionId,
    pub batch_id: uuid::Uuid,
    pub data_type: DataType,
    pub status: DatasetStatus,
    pub status_description: Option<String>,
    pub error_message: Option<String>,
    pub requested: Timestamp,
    pub started: Option<Timestamp>,
    pub completed: Option<Timestamp>,
    /// Percent done, 0 to 100.
    pub progress: i32,
    /// The first pull after the connection was linked (fetch on first link).
    pub is_initial: bool,
    /// The next page to fetch (1-based); the pages before it are stored.
    pub resume_page: u32,
    /// Records stored by this pull.
    pub records: u64,
    /// Records the connector could not map.
    pub rejected: u64,
    /// Records this pull created or changed in the store.
    pub changed: u64,
    /// The incremental watermark this pull used (`None`: everything).
    pub modified_since: Option<Timestamp>,
    /// The latest source modified time seen: the next pull's `modified_since`.
    pub max_source_modified: Option<Timestamp>,
    pub updated: Timestamp,
}

impl Dataset {
    /// A dataset queued now.
    #[allow(clippy::too_many_arguments)]
    pub fn queued(
        id: uuid::Uuid,
        client_id: ClientId,
        company_id: CompanyId,
        connection_id: ConnectionId,
        batch_id: uuid::Uuid,
        data_type: DataType,
        is_initial: bool,
        at: Timestamp,
    ) -> Self {
        Self {
            id,
            client_id,
            company_id,
            connection_id,
            batch_id,
            data_type,
            status: DatasetStatus::Queued,
            status_description: None,
            error_message: None,
            requested: at,
            started: None,
            completed: None,
            progress: 0,
            is_initial,
            resume_page: 1,
            records: 0,
            rejected: 0,
            changed: 0,
            modified_since: None,
            max_source_modified: None,
            updated: at,
        }
    }

    /// Ended successfully.
    pub fn is_completed(&self) -> bool {
        self.status == DatasetStatus::Complete
    }

    /// Ended in an error status.
    pub fn is_errored(&self) -> bool {
        self.status.is_error()
    }
}

/// Datasets queued together; `read.completed` reports them when the last one ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncBatch {
    pub id: uuid::Uuid,
    pub client_id: ClientId,
    pub company_id: CompanyId,
    /// Fetch on first link: reported as `read.completed.initial`.
    pub is_initial: bool,
    pub requested: Timestamp,
    /// When its event was raised.
    pub completed: Option<Timestamp>,
}

/// The state of one data type of a company (`dataStatus`): its latest dataset and its latest
/// successful one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataTypeStatus {
    pub data_type: DataType,
    pub latest: Dataset,
    pub latest_success: Option<Dataset>,
}

/// One stored record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    pub client_id: ClientId,
    pub company_id: CompanyId,
    pub connection_id: ConnectionId,
    pub data_type: DataType,
    pub record_id: String,
    /// The record in Codat's shape (JSON text).
    pub data: String,
    /// The record as the platform sent it (JSON text); only read by `get_record`.
    pub raw: Option<String>,
    pub source_modified: Option<Timestamp>,
    /// When finlink last stored a changed version (the record's `modifiedDate`).
    pub modified: Timestamp,
    /// The dataset that last changed it.
    pub dataset_id: uuid::Uuid,
}
