//! finlink's SQLite store.
//!
//! One file in WAL mode. Writes go through a single writer connection inside
//! `BEGIN IMMEDIATE` transactions (so a write never fails half-way on a lock it
//! could not upgrade); reads use a small pool of read-only connections, which WAL
//! lets run alongside the writer. rusqlite, not sqlx: on point reads it is about
//! 40% faster here (see `../shared/reference/ceilings.md`), and every call runs on
//! tokio's blocking pool so the async workers never wait on disk.

mod migrate;
mod migration;
mod pool;
mod records;
mod settings;
mod store;
mod sync;

pub use store::SqliteStore;
