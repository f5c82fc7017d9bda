//! Refreshing OAuth 2.0 tokens. One function does it for every caller (validate now;
//! the refresh jobs, the credentials endpoint and the proxy later): single-flight per
//! connection in this process, a re-read after taking the lock, a merge that never
//! drops a refresh token the provider did not replace, and a compare-and-swap write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::AuthType;
use finlink_domain::{Error, Result, Timestamp};
use finlink_providers::oauth::OAuthError;

use crate::App;
use crate::credentials::{open, seal};
use crate::migration::Actor;

/// How long a refresh lease lasts unless its holder renews it: longer than the token request's
/// 20 s timeout, so even if every renewal were delayed the request ends before the lease can
/// pass to another process (which would spend the same refresh token). The holder renews it
/// every [`LEASE_RENEW`] while the request runs; a process that dies holding it (SIGKILL, a
/// crash) frees it within this many seconds.
const REFRESH_LEASE_SECS: i64 = 25;
const LEASE_RENEW: std::time::Duration = std::time::Duration::from_secs(5);
/// How often a waiting process looks again, and for how long in all (about the lease).
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(20);
const MAX_LEASE_POLLS: u32 = 1_600;

/// Access-token lifetime assumed when neither the provider nor the catalog says.
const FALLBACK_LIFETIME_SECS: i64 = 3600;

/// Per-connection locks for this process.
#[derive(Default)]
pub(crate) struct RefreshLocks {
    locks: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl RefreshLocks {
    fn get(&self, id: ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = match self.locks.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() > 10_000 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        Arc::clone(map.entry(id).or_default())
    }
}

/// What a refresh did.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// New tokens are stored (or another caller stored them while this one waited).
    Refreshed {
        expires_at: Option<Timestamp>,
        rotated: bool,
    },
    /// The provider rejected the grant: the business must reconnect.
    Rejected { reason: String },
    /// The provider failed for now; try again later.
    Transient { reason: String },
}

impl App {
    /// Refreshes a connection's OAuth 2.0 tokens now, whatever their expiry (Apideck's
    /// `validate`). Concurrent calls for one connection make one token request.
    pub async fn refresh_now(
        &self,
        actor: &Actor,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
    ) -> Result<RefreshOutcome> {
        self.refresh_seen(actor, client, company, connection, None)
            .await
    }

    /// Refreshes the credentials the caller saw (`seen_version`, from the read that made it
    /// decide they are stale). If they have changed since, someone else refreshed: that result is
    /// the answer, and no token request is made. Without a version, the current ones are
    /// refreshed (an explicit "refresh now").
    pub async fn refresh_seen(
        &self,
        actor: &Actor,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        seen_version: Option<i64>,
    ) -> Result<RefreshOutcome> {
        let conn = self.get_connection(client, company, connection).await?;
        let integ = self.integration(&conn.integration_key)?.clone();
        if integ.auth_type != AuthType::Oauth2 {
            return Err(Error::bad_request(format!(
                "{} does not use OAuth 2.0; there is nothing to refresh.",
                integ.name
            )));
        }
        let before = self.credentials_of(client, connection).await?;
        if seen_version.is_some_and(|seen| seen != before.version) {
            return Ok(RefreshOutcome::Refreshed {
                expires_at: before.expires_at,
                rotated: false,
            });
        }
        // Single-flight: one task per process (a mutex), then one process across all that share
        // the database (a lease row). After each, re-read: if another caller refreshed while this
        // one waited, its result is the answer and no second token request is made.
        let lock = self.refresh_locks.get(connection);
        let _guard = lock.lock().await;
        let key = format!("refresh:{connection}");
        let owner = uuid::Uuid::new_v4().simple().to_string();
        let mut polls = 0u32;
        loop {
            let current = self.credentials_of(client, connection).await?;
            if current.version != before.version {
                return Ok(RefreshOutcome::Refreshed {
                    expires_at: current.expires_at,
                    rotated: false,
                });
            }
            let now = self.clock.now();
            if self
                .store
                .try_lease(&key, &owner, now.plus_seconds(REFRESH_LEASE_SECS), now)
                .await?
            {
                break;
            }
            polls += 1;
            if polls > MAX_LEASE_POLLS {
                return Ok(RefreshOutcome::Transient {
                    reason: String::from(
                        "another finlink process has been refreshing this connection for too long",
                    ),
                });
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
        let renewal = {
            let (app, key, owner) = (self.clone(), key.clone(), owner.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LEASE_RENEW).await;
                    let now = app.clock.now();
                    match app
                        .store
                        .try_lease(&key, &owner, now.plus_seconds(REFRESH_LEASE_SECS), now)
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(connection_id = %connection, "refresh: the lease was lost while refreshing");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(connection_id = %connection, error = %e, "refresh: cannot renew the lease")
                        }
                    }
                }
            })
        };
        let result = self
            .refresh_leased(actor, client, company, connection, &conn, &integ, &before)
            .await;
        renewal.abort();
        if let Err(e) = self.store.release_lease(&key, &owner).await {
            tracing::warn!(connection_id = %connection, error = %e, "refresh: could not release the lease; it runs out by itself");
        }
        result
    }

    /// The refresh itself, with the lease held.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_leased(
        &self,
        actor: &Actor,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        conn: &finlink_domain::connection::Connection,
        integ: &finlink_domain::integration::Integration,
        before: &SealedCredentials,
    ) -> Result<RefreshOutcome> {
        // Re-read with the lease held, in case a holder finished between our read and taking it.
        let current = self.credentials_of(client, connection).await?;
        if current.version != before.version {
            return Ok(RefreshOutcome::Refreshed {
                expires_at: current.expires_at,
                rotated: false,
            });
        }
        let shop = crate::oauth_apps::shop_of(integ, conn.connection_info.as_ref());
        let endpoint = self
            .resolve_oauth(client, integ, shop.as_deref())
            .await?
            .token;
        let mut secrets = open(&self.vault, &current)?;
        let refresh_token = secrets.get("refreshToken").cloned().ok_or_else(|| {
            Error::bad_request(format!(
                "Connection {connection} has no refresh token to refresh with."
            ))
        })?;
        let watch = finlink_domain::clock::Stopwatch::start();
        let result = self.oauth.refresh(&endpoint, &refresh_token).await;
        let outcome = match &result {
            Ok(_) => "refreshed",
            Err(OAuthError::Rejected { .. }) => "rejected",
            Err(OAuthError::Transient { .. }) => "transient",
            Err(OAuthError::Internal(_)) => "error",
        };
        metrics::histogram!("finlink_refresh_seconds", "integration" => integ.key.clone())
            .record(watch.seconds());
        metrics::counter!("finlink_refreshes_total", "integration" => integ.key.clone(), "outcome" => outcome)
            .increment(1);
        let now = self.clock.now();
        match result {
            Ok(tokens) => {
                secrets.set("accessToken", tokens.access_token);
                let rotated = tokens.refresh_token.is_some();
                if let Some(r) = tokens.refresh_token {
                    secrets.set("refreshToken", r);
                }
                let lifetime = tokens
                    .expires_in
                    .or_else(|| {
                        integ
                            .oauth
                            .as_ref()
                            .and_then(|o| o.default_token_lifetime_secs)
                            .map(|s| s as i64)
                    })
                    .unwrap_or(FALLBACK_LIFETIME_SECS);
                let expires_at = Some(now.plus_seconds(lifetime));
                let next = SealedCredentials {
                    key_id: self.vault.active_id().to_string(),
                    sealed: seal(&self.vault, client, connection, &secrets)?,
                    token_type: tokens.token_type.or(current.token_type.clone()),
                    scopes: tokens
                        .scope
                        .map(|s| s.split_whitespace().map(str::to_owned).collect())
                        .unwrap_or_else(|| current.scopes.clone()),
                    expires_at,
                    issued_at: Some(now),
                    needs_refresh: false,
                    updated: now,
                    ..current.clone()
                };
                // The rotated refresh token is stored with a compare-and-swap: two writers never
                // both win. The same transaction closes a failure cycle and schedules the next
                // proactive refresh.
                let fresh = self.get_connection(client, company, connection).await?;
                let (write, effects) = self.refresh_success_write(&fresh, integ, &next).await?;
                if !self
                    .store
                    .swap_credentials(&next, current.version, write.as_ref(), &effects)
                    .await?
                {
                    return Err(Error::internal(format!(
                        "credentials of {connection} changed during a refresh"
                    )));
                }
                self.audit(
                    actor,
                    client,
                    (Some(company), Some(connection)),
                    "connection.refresh",
                    "success",
                    format!(
                        "token refreshed{}",
                        if rotated {
                            "; refresh token rotated"
                        } else {
                            ""
                        }
                    ),
                )
                .await;
                Ok(RefreshOutcome::Refreshed {
                    expires_at,
                    rotated,
                })
            }
            Err(OAuthError::Rejected {
                error, description, ..
            }) => {
                let reason = format!(
                    "{error}{}",
                    description.map(|d| format!(": {d}")).unwrap_or_default()
                );
                self.audit(
                    actor,
                    client,
                    (Some(company), Some(connection)),
                    "connection.refresh",
                    "failure",
                    format!("the provider rejected the grant ({reason})"),
                )
                .await;
                self.record_refresh_failure(client, company, connection, true, &reason)
                    .await?;
                Ok(RefreshOutcome::Rejected { reason })
            }
            Err(OAuthError::Transient { reason, .. }) => {
                self.audit(
                    actor,
                    client,
                    (Some(company), Some(connection)),
                    "connection.refresh",
                    "failure",
                    format!("the provider failed for now ({reason})"),
                )
                .await;
                self.record_refresh_failure(client, company, connection, false, &reason)
                    .await?;
                Ok(RefreshOutcome::Transient { reason })
            }
            Err(OAuthError::Internal(e)) => Err(Error::internal(e)),
        }
    }

    pub(crate) async fn credentials_of(
        &self,
        client: ClientId,
        connection: ConnectionId,
    ) -> Result<SealedCredentials> {
        self.store.get_credentials(client, connection).await?.ok_or_else(|| {
            Error::bad_request(format!(
                "Connection {connection} has no credentials yet: link it through its linkUrl or migrate its tokens (PUT .../authorization)."
            ))
        })
    }

    /// An audit record stamped now (for writes that carry it in their own transaction).
    pub(crate) fn audit_record(
        &self,
        actor: &Actor,
        client: ClientId,
        (company, connection): (Option<CompanyId>, Option<ConnectionId>),
        action: &str,
        outcome: &str,
        detail: String,
    ) -> AuditEntry {
        AuditEntry {
            id: uuid::Uuid::now_v7(),
            client_id: client,
            actor: actor.label(),
            action: action.to_owned(),
            company_id: company,
            connection_id: connection,
            outcome: outcome.to_owned(),
            detail: Some(detail),
            at: self.clock.now(),
        }
    }

    /// Appends to the audit log; a failure to audit is logged, not raised (the change it
    /// describes has already happened).
    pub async fn audit(
        &self,
        actor: &Actor,
        client: ClientId,
        (company, connection): (Option<CompanyId>, Option<ConnectionId>),
        action: &str,
        outcome: &str,
        detail: String,
    ) {
        let entry = self.audit_record(
            actor,
            client,
            (company, connection),
            action,
            outcome,
            detail,
        );
        if let Err(e) = self.store.insert_audit(&entry).await {
            tracing::error!(error = %e, action, "could not write the audit log");
        }
    }
}
