//! The connections: one writer, several readers, used on tokio's blocking pool.
//! A small hand-written pool (a mutex-guarded stack plus a semaphore) because the
//! SQLite pool crates either wrap sqlx or add a second async layer over the same thing.

use std::path::Path;
use std::sync::{Arc, Mutex};

use finlink_domain::{Error, Result};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::Semaphore;

pub struct Pool {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

pub fn db_error(e: rusqlite::Error) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Error::Unavailable(String::from("The database is busy; please retry."))
        }
        _ => Error::internal(format!("sqlite: {e}")),
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -8000)?; // 8 MB per connection
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl Pool {
    pub fn open(path: &Path, readers: usize) -> rusqlite::Result<(Self, Connection)> {
        let mut writer = Connection::open(path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        configure(&writer)?;
        crate::migrate::run(&mut writer)?;
        let mut rs = Vec::with_capacity(readers);
        for _ in 0..readers.max(1) {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            configure(&r)?;
            rs.push(r);
        }
        let n = rs.len();
        // A separate connection for maintenance (checkpoints at shutdown).
        let spare = Connection::open(path)?;
        Ok((
            Self {
                writer: Arc::new(Mutex::new(writer)),
                readers: Arc::new(Mutex::new(rs)),
                permits: Arc::new(Semaphore::new(n)),
            },
            spare,
        ))
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer; commits when it returns Ok.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut conn = writer
                .lock()
                .map_err(|_| Error::internal("sqlite writer lock poisoned"))?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let out = f(&tx)?;
            tx.commit().map_err(db_error)?;
            Ok(out)
        })
        .await
        .map_err(|e| Error::internal(format!("sqlite write task: {e}")))?
    }

    /// Runs a short read (an indexed point lookup) on a read-only connection, on the
    /// calling thread: for reads of a few microseconds, handing off to the blocking pool
    /// costs more than the read (the read benchmark in `bench/read.sh` shows it).
    pub async fn read_point<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T>,
    {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::internal("sqlite reader pool closed"))?;
        let conn = self
            .readers
            .lock()
            .map_err(|_| Error::internal("sqlite reader pool poisoned"))?
            .pop()
            .ok_or_else(|| Error::internal("sqlite reader pool empty"))?;
        let out = f(&conn);
        if let Ok(mut rs) = self.readers.lock() {
            rs.push(conn);
        }
        drop(permit);
        out
    }

    /// A list read: on the calling thread when it is a plain indexed page (`cheap`),
    /// on the blocking pool when a filter may make it scan.
    pub async fn read_list<T, F>(&self, cheap: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        if cheap {
            self.read_point(f).await
        } else {
            self.read(f).await
        }
    }

    /// Runs `f` on a read-only connection on the blocking pool (for reads that may scan).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("sqlite reader pool closed"))?;
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let conn = readers
                .lock()
                .map_err(|_| Error::internal("sqlite reader pool poisoned"))?
                .pop()
                .ok_or_else(|| Error::internal("sqlite reader pool empty"))?;
            let out = f(&conn);
            if let Ok(mut rs) = readers.lock() {
                rs.push(conn);
            }
            drop(permit);
            out
        })
        .await
        .map_err(|e| Error::internal(format!("sqlite read task: {e}")))?
    }
}
