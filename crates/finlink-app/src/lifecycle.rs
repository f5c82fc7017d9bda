//! Keeping tokens alive: when each connection's proactive refresh runs, what a failed refresh
//! does to the connection, and the two jobs (`refresh`, `retention`) behind it.
//!
//! - A refresh job is scheduled with every credentials write: a margin before expiry (per
//!   integration, default 10 minutes, less a random jitter of up to a fifth of the margin), or
//!   before the platform's idle horizon for refresh tokens that die unused, or at once (with a
//!   short random spread) when the expiry is unknown.
//! - The first failed refresh of healthy credentials opens a failure cycle (`health` becomes
//!   `pending_refresh`; one `vault.connection.token_refresh.pending` event). A transient failure
//!   leaves the connection `Linked` and retries with backoff. A rejected grant makes it
//!   `Deauthorized` (one `connection.failed` event, a `dataConnectionErrors` entry) and starts a
//!   retention window (default 7 days) during which the credentials are kept and retried. A
//!   success closes the cycle (`.recovered`, and `connection.reconnected` when it was
//!   `Deauthorized`); the end of the window deletes the credentials (`.failed`).
//! - finlink's own failures (storage, decryption, configuration) are errors, not refresh
//!   outcomes: they never open a cycle or mark a connection `Deauthorized`.

use finlink_domain::connection::{Connection, ConnectionError, ConnectionStatus, RefreshHealth};
use finlink_domain::credentials::SealedCredentials;
use finlink_domain::event::types;
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::{AuthType, Integration};
use finlink_domain::job::NewJob;
use finlink_domain::{Error, Result, Timestamp};
use finlink_store::{ConnectionWrite, Effects};
use rand::Rng;
use serde_json::{Value, json};

use crate::App;
use crate::events::status_event;
use crate::jobs::{JobOutcome, backoff_secs};
use crate::migration::Actor;
use crate::refresh::RefreshOutcome;

pub const REFRESH_JOB: &str = "refresh";
pub const RETENTION_JOB: &str = "retention";

/// Refresh this long before expiry unless the catalog says otherwise.
pub const DEFAULT_MARGIN_SECS: i64 = 600;
/// A proactive refresh runs at least this long after the token was issued.
const MIN_REFRESH_INTERVAL_SECS: i64 = 60;
/// The `statusCode` of the error a rejected refresh records on the connection.
const REJECTED_STATUS_CODE: &str = "401";

/// Lifecycle settings from the configuration.
#[derive(Clone, Debug)]
pub struct LifecycleSettings {
    /// How long a rejected grant's credentials are kept (and retried) before they are deleted.
    pub retention_secs: i64,
    /// Refreshes of tokens with unknown expiry are spread over this many seconds from now.
    pub unknown_expiry_spread_secs: i64,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self {
            retention_secs: 7 * 86_400,
            unknown_expiry_spread_secs: 60,
        }
    }
}

fn random_up_to(secs: i64) -> i64 {
    if secs <= 0 {
        0
    } else {
        rand::thread_rng().gen_range(0..=secs)
    }
}

fn ids(payload: &Value) -> Result<(ClientId, CompanyId, ConnectionId)> {
    let field = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::internal(format!("job payload has no {k}")))
    };
    Ok((
        ClientId::parse(field("client")?)?,
        CompanyId::parse(field("company")?)?,
        ConnectionId::parse(field("connection")?)?,
    ))
}

impl App {
    /// When the proactive refresh of `creds` is due (never before now).
    pub fn refresh_due_at(&self, integ: &Integration, creds: &SealedCredentials) -> Timestamp {
        let now = self.clock.now();
        let oauth = integ.oauth.as_ref();
        let margin = oauth
            .and_then(|o| o.refresh_margin_secs)
            .map(|m| i64::try_from(m).unwrap_or(i64::MAX))
            .unwrap_or(DEFAULT_MARGIN_SECS);
        let issued = creds.issued_at.unwrap_or(creds.updated);
        let by_expiry = match creds.expires_at {
            None => now.plus_seconds(random_up_to(
                self.settings.lifecycle.unknown_expiry_spread_secs,
            )),
            Some(t) => {
                // A token that lives less than twice the margin refreshes at half its life, and
                // never sooner than a minute after it was issued: no refresh loop on platforms
                // with short-lived tokens (Sage: 5 minutes).
                let lifetime = (t.as_millis() - issued.as_millis()) / 1000;
                let margin = if lifetime > 0 {
                    margin.min(lifetime / 2)
                } else {
                    margin
                };
                let at = t.plus_seconds(-margin - random_up_to(margin / 5));
                if lifetime > 0 {
                    at.max(issued.plus_seconds(MIN_REFRESH_INTERVAL_SECS.min(lifetime / 2)))
                } else {
                    at
                }
            }
        };
        // Refresh tokens that die when unused: refresh at four fifths of the idle horizon.
        let by_idle = oauth.and_then(|o| o.refresh_token_idle_days).map(|days| {
            let horizon = i64::from(days) * 86_400;
            creds
                .issued_at
                .unwrap_or(creds.updated)
                .plus_seconds(horizon * 4 / 5 - random_up_to(horizon / 20))
        });
        let at = by_idle.map_or(by_expiry, |i| i.min(by_expiry));
        at.max(now)
    }

    /// The refresh job for freshly written credentials (OAuth 2.0 only).
    pub(crate) fn refresh_job_for(
        &self,
        integ: &Integration,
        creds: &SealedCredentials,
    ) -> Option<NewJob> {
        if integ.auth_type != AuthType::Oauth2 {
            return None;
        }
        let conn = creds.connection_id;
        let updated = creds.updated.as_millis();
        let mut job = self.new_job(
            REFRESH_JOB,
            json!({
                "client": creds.client_id.to_string(),
                "company": creds.company_id.to_string(),
                "connection": conn.to_string(),
                "credentialsUpdated": updated,
            }),
            self.refresh_due_at(integ, creds),
            Some(format!("refresh:{conn}:{updated}")),
            Some(format!("refresh:{conn}")),
        );
        // A refresh job never gives up: a connection without one is never refreshed again.
        // Backoff is capped at an hour (rejections: 30 minutes or more) until the credentials
        // are replaced or deleted.
        job.max_attempts = i32::MAX;
        Some(job)
    }

    /// What storing new credentials on `before` raises and schedules: the status event
    /// (`connection.connected` or `.reconnected`), `.recovered` when a failure cycle was open,
    /// the proactive refresh, and the pull schedules when it becomes `Linked` (`schedules`).
    pub(crate) async fn credentials_effects(
        &self,
        before: &Connection,
        integ: &Integration,
        creds: &SealedCredentials,
    ) -> Result<Effects> {
        let mut effects = Effects::none();
        effects.jobs.extend(self.refresh_job_for(integ, creds));
        if before.status != ConnectionStatus::Linked {
            effects.jobs.extend(self.schedule_start_jobs(before).await?);
        }
        let status_change = status_event(before.status, ConnectionStatus::Linked);
        let recovered = before.refresh.failing_since.is_some();
        if status_change.is_some() || recovered {
            let company = self
                .get_company(before.client_id, before.company_id)
                .await?;
            let mut after = before.clone();
            after.status = ConnectionStatus::Linked;
            after.modified = self.clock.now();
            after.refresh = RefreshHealth {
                last_failed_at: before.refresh.last_failed_at,
                ..RefreshHealth::default()
            };
            if let Some(t) = status_change {
                effects
                    .events
                    .push(self.connection_event(t, &company, &after));
            }
            if recovered {
                effects.events.push(self.vault_event(
                    types::TOKEN_REFRESH_RECOVERED,
                    &company,
                    &after,
                ));
            }
            return self.with_deliveries(effects, Some(&company.tags)).await;
        }
        Ok(effects)
    }

    /// What a successful refresh changes on the connection besides its credentials: closes an
    /// open failure cycle and restores `Linked`. None when there is nothing to change.
    pub(crate) async fn refresh_success_write(
        &self,
        conn: &Connection,
        integ: &Integration,
        next: &SealedCredentials,
    ) -> Result<(Option<ConnectionWrite>, Effects)> {
        let now = self.clock.now();
        let mut effects = self.credentials_effects(conn, integ, next).await?;
        if conn.refresh.failing_since.is_none() && conn.status == ConnectionStatus::Linked {
            return Ok((None, effects));
        }
        if conn.status != ConnectionStatus::Linked && conn.status != ConnectionStatus::Deauthorized
        {
            // Unlinked or pending: a refresh does not relink it; the events above do not apply.
            effects.events.clear();
            effects.deliveries.clear();
            effects.jobs.retain(|j| {
                j.kind != crate::webhooks::DELIVER_JOB && j.kind != crate::schedules::SCHEDULE_JOB
            });
        }
        let write = ConnectionWrite {
            status: (conn.status == ConnectionStatus::Deauthorized)
                .then_some(ConnectionStatus::Linked),
            errors: Some(resolve_refresh_errors(&conn.errors, now)),
            refresh: Some(RefreshHealth {
                last_failed_at: conn.refresh.last_failed_at,
                ..RefreshHealth::default()
            }),
            drop_credentials: false,
            at: now,
            only_if_failing: false,
            only_if_connected: false,
        };
        Ok((Some(write), effects))
    }

    /// Records a failed refresh on the connection: opens the failure cycle on the first one, and
    /// for a rejected grant marks the connection `Deauthorized` and starts the retention window.
    pub(crate) async fn record_refresh_failure(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        rejected: bool,
        reason: &str,
    ) -> Result<()> {
        let now = self.clock.now();
        let conn = self.get_connection(client, company, connection).await?;
        let mut after = conn.clone();
        let first = conn.refresh.failing_since.is_none();
        after.refresh.failing_since.get_or_insert(now);
        after.refresh.last_failed_at = Some(now);
        after.refresh.revoked = false;
        after.modified = now;
        let mut effects = Effects::none();
        let mut write = ConnectionWrite {
            status: None,
            errors: None,
            refresh: None,
            drop_credentials: false,
            at: now,
            only_if_failing: false,
            only_if_connected: true,
        };
        if rejected {
            if after.refresh.credentials_expire_at.is_none() {
                let until = now.plus_seconds(self.settings.lifecycle.retention_secs);
                after.refresh.credentials_expire_at = Some(until);
                effects.jobs.push(self.new_job(
                    RETENTION_JOB,
                    json!({
                        "client": client.to_string(),
                        "company": company.to_string(),
                        "connection": connection.to_string(),
                    }),
                    until,
                    Some(format!("retention:{connection}:{}", now.as_millis())),
                    Some(format!("refresh:{connection}")),
                ));
            }
            if conn.status == ConnectionStatus::Linked {
                after.status = ConnectionStatus::Deauthorized;
                write.status = Some(ConnectionStatus::Deauthorized);
            }
            // One active error per cycle, refreshed with the latest reason.
            let mut errors: Vec<ConnectionError> = conn
                .errors
                .iter()
                .filter(|e| !(e.status == "Active" && e.status_code == REJECTED_STATUS_CODE))
                .cloned()
                .collect();
            errors.push(ConnectionError {
                status_code: REJECTED_STATUS_CODE.to_owned(),
                status_text: String::from("Unauthorized"),
                error_message: format!(
                    "The platform rejected the refresh token ({reason}); the business must reconnect unless it recovers by {}.",
                    after
                        .refresh
                        .credentials_expire_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                ),
                errored_on_utc: now,
                status: String::from("Active"),
                resolved_on_utc: None,
            });
            after.errors = errors.clone();
            write.errors = Some(errors);
        }
        write.refresh = Some(after.refresh.clone());
        if first || write.status.is_some() {
            let company_row = self.get_company(client, company).await?;
            if first {
                effects.events.push(self.vault_event(
                    types::TOKEN_REFRESH_PENDING,
                    &company_row,
                    &after,
                ));
            }
            if let Some(t) = write.status.and_then(|s| status_event(conn.status, s)) {
                effects
                    .events
                    .push(self.connection_event(t, &company_row, &after));
            }
            effects = self
                .with_deliveries(effects, Some(&company_row.tags))
                .await?;
        }
        self.store
            .update_connection(client, company, connection, &write, &effects)
            .await?;
        Ok(())
    }

    /// The `refresh` job: refreshes the credentials it was scheduled for, unless they have been
    /// replaced since (the newer write scheduled its own job).
    pub(crate) async fn run_refresh_job(
        &self,
        payload: &Value,
        attempts: i32,
    ) -> Result<JobOutcome> {
        let (client, company, connection) = ids(payload)?;
        let Some(conn) = self
            .store
            .get_connection(client, company, connection)
            .await?
        else {
            return Ok(JobOutcome::Done);
        };
        if !matches!(
            conn.status,
            ConnectionStatus::Linked | ConnectionStatus::Deauthorized
        ) {
            return Ok(JobOutcome::Done);
        }
        let Some(creds) = self.store.get_credentials(client, connection).await? else {
            return Ok(JobOutcome::Done);
        };
        let scheduled_for = payload.get("credentialsUpdated").and_then(Value::as_i64);
        if scheduled_for.is_some_and(|u| u != creds.updated.as_millis()) {
            return Ok(JobOutcome::Done);
        }
        let outcome = self
            .refresh_seen(
                &Actor::Worker,
                client,
                company,
                connection,
                Some(creds.version),
            )
            .await;
        let now = self.clock.now();
        match outcome {
            Ok(RefreshOutcome::Refreshed { .. }) => Ok(JobOutcome::Done),
            Ok(RefreshOutcome::Transient { reason }) => Ok(JobOutcome::RetryAt(
                now.plus_seconds(backoff_secs(attempts)),
                format!("the platform failed for now: {reason}"),
            )),
            Ok(RefreshOutcome::Rejected { reason }) => Ok(JobOutcome::RetryAt(
                // Retried (rarely) through the retention window in case the platform recovers.
                now.plus_seconds(backoff_secs(attempts).max(1800)),
                format!("the platform rejected the grant: {reason}"),
            )),
            // Nothing to refresh with (no refresh token), or finlink's configuration lacks the
            // integration's OAuth app: look again in 6 hours rather than giving up for good.
            Err(Error::Validation { message, .. }) => Ok(JobOutcome::RetryAt(
                now.plus_seconds(6 * 3600),
                format!("cannot refresh: {message}"),
            )),
            Err(e) => Err(e),
        }
    }

    /// The `retention` job: when a rejected grant's window has run out without recovery,
    /// deletes the credentials and raises `vault.connection.token_refresh.failed`.
    pub(crate) async fn run_retention_job(&self, payload: &Value) -> Result<JobOutcome> {
        let (client, company, connection) = ids(payload)?;
        let Some(conn) = self
            .store
            .get_connection(client, company, connection)
            .await?
        else {
            return Ok(JobOutcome::Done);
        };
        let now = self.clock.now();
        let Some(until) = conn.refresh.credentials_expire_at else {
            return Ok(JobOutcome::Done);
        };
        if conn.refresh.failing_since.is_none() || conn.status != ConnectionStatus::Deauthorized {
            return Ok(JobOutcome::Done);
        }
        if until > now {
            return Ok(JobOutcome::RetryAt(
                until,
                String::from("the window has not run out"),
            ));
        }
        let mut after = conn.clone();
        after.refresh = RefreshHealth {
            failing_since: None,
            last_failed_at: conn.refresh.last_failed_at,
            credentials_expire_at: None,
            revoked: true,
        };
        after.modified = now;
        let company_row = self.get_company(client, company).await?;
        let effects = self
            .raise(
                vec![self.vault_event(types::TOKEN_REFRESH_FAILED, &company_row, &after)],
                Some(&company_row.tags),
            )
            .await?;
        let write = ConnectionWrite {
            status: None,
            errors: None,
            refresh: Some(after.refresh.clone()),
            drop_credentials: true,
            at: now,
            only_if_failing: true,
            only_if_connected: true,
        };
        // Conditional: if new credentials closed the cycle meanwhile (a reconnect), nothing is
        // deleted and no event is raised.
        if self
            .store
            .update_connection(client, company, connection, &write, &effects)
            .await?
            .is_none()
        {
            return Ok(JobOutcome::Done);
        }
        self.audit(
            &Actor::Worker,
            client,
            (Some(company), Some(connection)),
            "connection.credentials_deleted",
            "success",
            String::from("the retention window of a rejected grant ran out; credentials deleted"),
        )
        .await;
        Ok(JobOutcome::Done)
    }
}

/// Marks active refresh-rejection errors resolved.
fn resolve_refresh_errors(errors: &[ConnectionError], now: Timestamp) -> Vec<ConnectionError> {
    errors
        .iter()
        .cloned()
        .map(|mut e| {
            if e.status == "Active" && e.status_code == REJECTED_STATUS_CODE {
                e.status = String::from("Resolved");
                e.resolved_on_utc = Some(now);
            }
            e
        })
        .collect()
}
