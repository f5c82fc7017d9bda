//! Clients: the tenants. Every company, connection, key and setting belongs to one.

use crate::Timestamp;
use crate::ids::ClientId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub created: Timestamp,
}
