//! Clients (tenants).

use finlink_domain::client::Client;
use finlink_domain::ids::ClientId;
use finlink_domain::profile::Profile;
use finlink_domain::{Error, Result};

use crate::App;

impl App {
    /// Creates a client with a default profile named after it.
    pub async fn create_client(&self, name: &str) -> Result<Client> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::invalid(
                "name",
                "Client",
                "A client name is required (1 to 200 characters).",
            ));
        }
        let now = self.clock.now();
        let client = Client {
            id: ClientId::new_v7(now),
            name: name.to_owned(),
            created: now,
        };
        let profile = Profile {
            name: name.to_owned(),
            ..Profile::default()
        };
        self.store.insert_client(&client, &profile).await?;
        Ok(client)
    }

    /// The oldest client, if any.
    pub async fn first_client(&self) -> Result<Option<Client>> {
        Ok(self.store.list_clients().await?.into_iter().next())
    }

    pub async fn get_client(&self, id: ClientId) -> Result<Client> {
        self.store
            .get_client(id)
            .await?
            .ok_or_else(|| Error::not_found("client", id))
    }
}
