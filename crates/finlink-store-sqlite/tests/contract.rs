#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The storage contract suite on SQLite.

use std::sync::Arc;

use finlink_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("finlink.db"))
        .await
        .unwrap();
    finlink_store::contract::run_all(Arc::new(store)).await;
}
