#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The storage contract suite on PostgreSQL, when `FINLINK_TEST_POSTGRES_URL` is set.
//! The run gets its own schema, dropped afterwards.

use std::sync::Arc;

use finlink_store_postgres::PostgresStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_store_contract() {
    let Ok(url) = std::env::var("FINLINK_TEST_POSTGRES_URL") else {
        eprintln!("FINLINK_TEST_POSTGRES_URL is not set: skipping the PostgreSQL contract run");
        return;
    };
    let schema = format!("finlink_contract_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::connect(&url, Some(&schema), 4)
        .await
        .unwrap();
    finlink_store::contract::run_all(Arc::new(store.clone())).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(store.pool())
        .await
        .unwrap();
}
