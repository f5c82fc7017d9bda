//! Scheduled pulls: every data type a `Linked` connection syncs (its connectors pull it and its
//! `fetchOnFirstLink` is true) is pulled again `syncSchedule` hours after its last pull was
//! requested (scheduled, manual, or the fetch on first link), spread by a jitter of up to 5 %
//! of the schedule (at most 10 minutes). The schedules live in the jobs table:
//!
//! - A **step** job (`schedule`, payload `{client, company, connection, dataType, after}`) per
//!   connection and data type, due when its next pull is. Running, it recomputes the due time
//!   from the settings that apply now and the latest pull ([`schedule_due`]): not due yet (the
//!   schedule was lengthened, or a pull was requested meanwhile), it enqueues itself at the new
//!   time and stops; due, it queues the pull (skipped while one of that type is queued or
//!   running) and its next step in one transaction. The idempotency key is
//!   `schedule:{connection}:{dataType}:{due}` and the due time is a pure function of the state,
//!   so stale or duplicated steps converge on one job.
//! - A step finding its connection gone or not `Linked` (unlinked, deauthorized), or the data
//!   type no longer synced, stops the chain. A connection that becomes `Linked` again (Link,
//!   a reconnect, a token migration, a refresh that recovers a deauthorized one) starts its
//!   schedules anew, the first pull `syncSchedule` hours later ([`App::schedule_start_jobs`]).
//!   A token migration therefore pulls nothing at once: its first scheduled pull comes one
//!   schedule after the migration.
//! - A **plan** job (`schedule`, payload `{client, company?, plan: true}`), written with saved
//!   sync settings, enqueues the step of every data type of every `Linked` connection they
//!   cover at its recomputed time (a shorter schedule takes effect at once).

use std::collections::BTreeMap;

use finlink_domain::connection::{Connection, ConnectionStatus};
use finlink_domain::data::DataType;
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::job::NewJob;
use finlink_domain::paging::PageRequest;
use finlink_domain::sync_settings::{EffectiveSyncSettings, schedule_due};
use finlink_domain::{Error, Result, Timestamp};
use finlink_store::{Effects, ListQuery, PullBatch};
use serde_json::{Value, json};

use crate::App;
use crate::jobs::JobOutcome;

/// Steps and plans of the pull schedules.
pub const SCHEDULE_JOB: &str = "schedule";

/// Companies a plan job reads at a time.
const PLAN_PAGE: u32 = 200;

fn field<'a>(payload: &'a Value, k: &str) -> Result<&'a str> {
    payload
        .get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::internal(format!("schedule job payload has no {k}")))
}

impl App {
    fn schedule_step_job(
        &self,
        conn: &Connection,
        data_type: DataType,
        due: Timestamp,
        after: Option<Timestamp>,
    ) -> NewJob {
        let mut job = self.new_job(
            SCHEDULE_JOB,
            json!({
                "client": conn.client_id.to_string(),
                "company": conn.company_id.to_string(),
                "connection": conn.id.to_string(),
                "dataType": data_type.as_str(),
                "after": after.map(Timestamp::as_millis),
            }),
            due,
            Some(format!(
                "schedule:{}:{}:{}",
                conn.id,
                data_type,
                due.as_millis()
            )),
            Some(format!("schedule:{}:{}", conn.id, data_type)),
        );
        // A schedule that gives up is never resumed: retry (with backoff) for as long as it takes.
        job.max_attempts = i32::MAX;
        job
    }

    /// The plan job that reschedules the `Linked` connections of a company (or, with `None`,
    /// of the whole client) after its sync settings were saved at `at`.
    pub(crate) fn schedule_plan_job(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
        at: Timestamp,
    ) -> NewJob {
        let scope = company.map_or_else(|| String::from("*"), |c| c.to_string());
        let mut job = self.new_job(
            SCHEDULE_JOB,
            json!({
                "client": client.to_string(),
                "company": company.map(|c| c.to_string()),
                "plan": true,
            }),
            self.clock.now(),
            Some(format!("schedule_plan:{client}:{scope}:{}", at.as_millis())),
            Some(format!("schedule_plan:{client}")),
        );
        job.max_attempts = i32::MAX;
        job
    }

    /// The steps of every data type `conn` syncs. A type pulled before is due a schedule after
    /// its latest pull (at once when that is past), or after `floor` when later; a type never
    /// pulled is due a schedule after `floor` (default: now).
    async fn schedule_steps(
        &self,
        conn: &Connection,
        settings: &EffectiveSyncSettings,
        floor: Option<Timestamp>,
    ) -> Result<Vec<NewJob>> {
        let types = self.sync_all_types(settings, conn);
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let latest: BTreeMap<DataType, Timestamp> = self
            .store
            .latest_pulls(conn.client_id, conn.id)
            .await?
            .into_iter()
            .collect();
        let now = self.clock.now();
        let conn_id = conn.id.to_string();
        Ok(types
            .into_iter()
            .map(|t| {
                let (anchor, after) = match (latest.get(&t).copied(), floor) {
                    (Some(l), Some(f)) => (l.max(f), Some(f)),
                    (Some(l), None) => (l, None),
                    (None, f) => {
                        let f = f.unwrap_or(now);
                        (f, Some(f))
                    }
                };
                // Due already (a shorter schedule): now, under a key of its own; the step that
                // was due at that time may have run already (and found nothing due then).
                let due = schedule_due(anchor, settings.get(t).sync_schedule, &conn_id, t).max(now);
                self.schedule_step_job(conn, t, due, after)
            })
            .collect())
    }

    /// The schedules a connection starts with when it becomes `Linked` (to write with that
    /// change): each synced type's first scheduled pull `syncSchedule` hours from now (the
    /// fetch on first link, when there is one, is queued in the same transaction).
    pub(crate) async fn schedule_start_jobs(&self, conn: &Connection) -> Result<Vec<NewJob>> {
        if self.connectors.data_types(&conn.integration_key).is_empty() {
            return Ok(Vec::new());
        }
        let settings = self
            .effective_sync_settings(conn.client_id, conn.company_id)
            .await?;
        self.schedule_steps(conn, &settings, Some(self.clock.now()))
            .await
    }

    /// The `schedule` job: a step or a plan.
    pub(crate) async fn run_schedule_job(&self, payload: &Value) -> Result<JobOutcome> {
        let client = ClientId::parse(field(payload, "client")?)?;
        if payload.get("plan").and_then(Value::as_bool) == Some(true) {
            let company = match payload.get("company").and_then(Value::as_str) {
                Some(c) => Some(CompanyId::parse(c)?),
                None => None,
            };
            return self.run_schedule_plan(client, company).await;
        }
        let company = CompanyId::parse(field(payload, "company")?)?;
        let connection = ConnectionId::parse(field(payload, "connection")?)?;
        let data_type = DataType::parse(field(payload, "dataType")?)
            .ok_or_else(|| Error::internal("schedule job payload: unknown data type"))?;
        let after = payload
            .get("after")
            .and_then(Value::as_i64)
            .map(Timestamp::from_millis);
        self.run_schedule_step(client, company, connection, data_type, after)
            .await
    }

    async fn run_schedule_step(
        &self,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        data_type: DataType,
        after: Option<Timestamp>,
    ) -> Result<JobOutcome> {
        let Some(conn) = self
            .store
            .get_connection(client, company, connection)
            .await?
        else {
            return Ok(JobOutcome::Done); // deleted: the schedule ends
        };
        if conn.status != ConnectionStatus::Linked {
            tracing::info!(connection_id = %connection, data_type = %data_type, status = %conn.status, "schedule: stopped, the connection is not Linked");
            return Ok(JobOutcome::Done);
        }
        let settings = self.effective_sync_settings(client, company).await?;
        if !self.sync_all_types(&settings, &conn).contains(&data_type) {
            tracing::info!(connection_id = %connection, data_type = %data_type, "schedule: stopped, the data type is no longer synced");
            return Ok(JobOutcome::Done);
        }
        let schedule = settings.get(data_type).sync_schedule;
        let latest = self
            .store
            .latest_pulls(client, connection)
            .await?
            .into_iter()
            .find(|(t, _)| *t == data_type)
            .map(|(_, at)| at);
        let now = self.clock.now();
        let anchor = match (latest, after) {
            (Some(l), Some(a)) => l.max(a),
            (Some(l), None) => l,
            (None, Some(a)) => a,
            (None, None) => now,
        };
        let conn_id = connection.to_string();
        let due = schedule_due(anchor, schedule, &conn_id, data_type);
        if due > now {
            // Not due (yet): the step that is, once.
            let job = self.schedule_step_job(&conn, data_type, due, after);
            self.store.enqueue_job(&job).await?;
            return Ok(JobOutcome::Done);
        }
        let batch = self.new_batch(client, company, false);
        let pull = self.new_pull(&conn, &batch, data_type);
        let requested = pull.dataset.requested;
        let next = schedule_due(requested, schedule, &conn_id, data_type);
        let effects = Effects {
            jobs: vec![self.schedule_step_job(&conn, data_type, next, None)],
            pulls: Some(PullBatch {
                batch,
                pulls: vec![pull],
            }),
            ..Effects::none()
        };
        // A pull of this type already queued or running is left as it is (and this one skipped).
        self.store.write_effects(&effects).await?;
        metrics::counter!("finlink_scheduled_pulls_total", "data_type" => data_type.as_str())
            .increment(1);
        tracing::info!(connection_id = %connection, data_type = %data_type, schedule_hours = schedule, next = %next, "schedule: pull queued");
        Ok(JobOutcome::Done)
    }

    async fn run_schedule_plan(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
    ) -> Result<JobOutcome> {
        let mut planned = 0usize;
        match company {
            Some(id) => {
                let Some(co) = self.store.get_company(client, id).await? else {
                    return Ok(JobOutcome::Done);
                };
                planned += self.plan_company(&co).await?;
            }
            None => {
                let mut page = 1;
                loop {
                    let query = ListQuery {
                        page: PageRequest {
                            page,
                            page_size: PLAN_PAGE,
                        },
                        ..ListQuery::default()
                    };
                    let companies = self.store.list_companies(client, &query).await?;
                    for co in &companies.items {
                        planned += self.plan_company(co).await?;
                    }
                    if companies.items.len() < PLAN_PAGE as usize {
                        break;
                    }
                    page += 1;
                }
            }
        }
        tracing::info!(client_id = %client, company_id = ?company, steps = planned, "schedule: rescheduled after a settings change");
        Ok(JobOutcome::Done)
    }

    async fn plan_company(&self, co: &finlink_domain::company::Company) -> Result<usize> {
        let linked: Vec<&Connection> = co
            .connections
            .iter()
            .filter(|c| c.status == ConnectionStatus::Linked)
            .filter(|c| !self.connectors.data_types(&c.integration_key).is_empty())
            .collect();
        if linked.is_empty() {
            return Ok(0);
        }
        let settings = self.effective_sync_settings(co.client_id, co.id).await?;
        let mut n = 0;
        for conn in linked {
            let steps = self.schedule_steps(conn, &settings, None).await?;
            n += steps.len();
            if !steps.is_empty() {
                self.store
                    .write_effects(&Effects {
                        jobs: steps,
                        ..Effects::none()
                    })
                    .await?;
            }
        }
        Ok(n)
    }
}
