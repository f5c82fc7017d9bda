#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! finlink's HTTP integration tests: a real server on a loopback port, driven over
//! HTTP, on SQLite always and on PostgreSQL when `FINLINK_TEST_POSTGRES_URL` is set.
//! One binary for the whole crate (add modules here, not new test files).

mod harness;

mod api_keys;
mod companies;
mod connections;
mod credentials;
mod data;
mod errors;
mod integrations;
mod isolation;
mod lifecycle;
mod link;
mod migrate_cli;
mod migration;
mod proxy;
mod refresh;
mod sync;
mod sync_settings;
mod vault;
mod vault_api;
mod webhooks;
