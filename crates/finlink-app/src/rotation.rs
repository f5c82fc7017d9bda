//! Key rotation: after a new master key is put first, every new write uses it, and this
//! pass re-seals old rows in batches. Each row is written with a compare-and-swap on its
//! version, so the pass never locks the API and never overwrites a concurrent refresh;
//! it can stop at any point and resume where it left off.

use finlink_domain::Result;
use finlink_domain::credentials::SealedCredentials;
use finlink_vault::Purpose;

use crate::App;
use crate::credentials::aad;

/// How one pass went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    pub resealed: u64,
    /// Rows that changed under us (a refresh wrote first); the next pass takes them.
    pub skipped: u64,
}

impl App {
    /// Re-seals up to `batch` credentials not under the active key. Returns what it did;
    /// zero resealed and zero skipped means nothing is left.
    pub async fn reseal_batch(&self, batch: u32) -> Result<ResealReport> {
        let active = self.vault.active_id().to_string();
        let rows = self.store.credentials_not_under(&active, batch).await?;
        let mut report = ResealReport::default();
        for row in rows {
            let fresh = self.vault.reseal(
                Purpose::Credentials,
                &aad(row.client_id, row.connection_id),
                &row.sealed,
            );
            let sealed = match fresh {
                Ok(s) => s,
                Err(e) => {
                    return Err(finlink_domain::Error::internal(format!(
                        "re-sealing connection {}: {e}",
                        row.connection_id
                    )));
                }
            };
            let next = SealedCredentials {
                key_id: active.clone(),
                sealed,
                ..row.clone()
            };
            if self
                .store
                .swap_credentials(&next, row.version, None, &finlink_store::Effects::none())
                .await?
            {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
        }
        Ok(report)
    }

    /// Re-seals up to `batch` clients' OAuth client secrets not under the active key.
    pub async fn reseal_client_secrets(&self, batch: u32) -> Result<u64> {
        let active = self.vault.active_id().to_string();
        let rows = self
            .store
            .integration_credentials_not_under(&active, batch)
            .await?;
        let mut n = 0;
        for row in rows {
            let Some(old) = &row.sealed_secret else {
                continue;
            };
            let sealed = self
                .vault
                .reseal(
                    Purpose::ClientSecret,
                    &crate::oauth_apps::secret_aad(row.client_id, &row.integration_key),
                    old,
                )
                .map_err(|e| {
                    finlink_domain::Error::internal(format!(
                        "re-sealing the client secret of integration {}: {e}",
                        row.integration_key
                    ))
                })?;
            let next = finlink_domain::link::IntegrationCredentials {
                sealed_secret: Some(sealed),
                key_id: Some(active.clone()),
                ..row.clone()
            };
            self.store.put_integration_credentials(&next).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Re-seals up to `batch` webhook consumers' signing secrets not under the active key.
    pub async fn reseal_webhook_secrets(&self, batch: u32) -> Result<u64> {
        let active = self.vault.active_id().to_string();
        let mut n = 0;
        for (client, id) in self.store.webhook_secrets_not_under(&active, batch).await? {
            let Some(secrets) = self.store.get_consumer_secrets(client, id).await? else {
                continue;
            };
            let reseal = |s: &finlink_store::SealedSecret| {
                self.vault
                    .reseal(
                        Purpose::WebhookSecret,
                        &crate::webhooks::secret_aad(client, id),
                        &s.sealed,
                    )
                    .map(|sealed| finlink_store::SealedSecret {
                        key_id: active.clone(),
                        sealed,
                    })
                    .map_err(|e| {
                        finlink_domain::Error::internal(format!(
                            "re-sealing the secret of webhook consumer {id}: {e}"
                        ))
                    })
            };
            let next = finlink_store::ConsumerSecrets {
                current: reseal(&secrets.current)?,
                previous: match &secrets.previous {
                    Some((p, until)) => Some((reseal(p)?, *until)),
                    None => None,
                },
            };
            self.store
                .replace_consumer_secrets(client, id, &next)
                .await?;
            n += 1;
        }
        Ok(n)
    }

    /// Re-seals until nothing is left under an old key.
    pub async fn reseal_all(&self, batch: u32) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = self.reseal_client_secrets(batch).await?
                + self.reseal_webhook_secrets(batch).await?;
            total += n;
            if n > 0 {
                continue;
            }
            let r = self.reseal_batch(batch).await?;
            total += r.resealed;
            if r.resealed == 0 && r.skipped == 0 {
                return Ok(total);
            }
            if r.resealed == 0 {
                tokio::task::yield_now().await;
            }
        }
    }
}
