//! Providers: the catalog of platforms finlink connects to, the OAuth client, and the
//! connectors that pull their data ([`connectors`]).
//!
//! The built-in catalog is data, not code: one TOML file per integration under
//! `catalog/integrations/` and one SVG logo per integration under `catalog/logos/`,
//! embedded in the binary at build time. Operators add custom integrations in the
//! configuration file; they are merged here.

pub mod catalog;
pub mod connectors;
pub mod oauth;
pub mod webhook;

pub use catalog::{Catalog, CatalogError};
