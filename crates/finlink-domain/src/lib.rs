//! finlink's domain model. No I/O and no async runtime live here: everything in
//! this crate is plain data and pure functions, so every other crate can depend on it.

pub mod api_key;
pub mod client;
pub mod clock;
pub mod company;
pub mod connection;
pub mod credentials;
pub mod data;
pub mod error;
pub mod event;
pub mod ids;
pub mod integration;
pub mod job;
pub mod link;
pub mod paging;
pub mod profile;
pub mod query;
pub mod sync;
pub mod sync_settings;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{Error, Result};
