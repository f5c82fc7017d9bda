//! Webhooks: consumers (Codat's API plus finlink's secret, delivery log and replay), the
//! deliveries added to every write that raises events (so a delivery exists exactly when its
//! event does), and the `deliver` job that signs and sends one event to one consumer.

use std::collections::BTreeMap;

use finlink_domain::event::{Event, types};
use finlink_domain::ids::ClientId;
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::webhook::{
    self, Consumer, Delivery, DeliveryState, MAX_CONSUMERS, RETRY_DELAYS_SECS,
};
use finlink_domain::{Error, Result, Timestamp};
use finlink_providers::webhook::{new_secret, sign};
use finlink_store::{Effects, EventFilter, SealedSecret};
use finlink_vault::{Aad, Purpose, SecretString};
use rand::Rng;
use serde_json::{Value, json};

use crate::App;
use crate::jobs::JobOutcome;

pub const DELIVER_JOB: &str = "deliver";

/// Deliveries to one consumer run in this many lanes, one at a time per lane. A company's events
/// always take the same lane, so they arrive in order; different companies' events are
/// delivered in parallel, so one consumer is not limited to one request at a time.
const LANES: u64 = 16;

fn lane(key: uuid::Uuid) -> u64 {
    let (hi, lo) = key.as_u64_pair();
    (hi ^ lo) % LANES
}

pub(crate) fn secret_aad(client: ClientId, consumer: uuid::Uuid) -> Aad {
    Aad::new(&[&client.to_string(), &consumer.to_string(), "webhook secret"])
}

/// What a client sends to create or change a consumer.
#[derive(Clone, Debug, Default)]
pub struct ConsumerInput {
    pub url: Option<String>,
    pub disabled: Option<bool>,
    pub event_types: Option<Vec<String>>,
    pub company_tags: Option<Vec<String>>,
}

fn not_found(id: uuid::Uuid) -> Error {
    Error::NotFound {
        message: format!("Webhook consumer {id} not found."),
    }
}

fn check_event_types(types_: &[String]) -> Result<()> {
    for t in types_ {
        if t.trim().is_empty() || t.len() > 100 {
            return Err(Error::invalid(
                "eventTypes",
                "WebhookConsumer",
                format!("'{t}' is not an event type."),
            ));
        }
    }
    Ok(())
}

impl App {
    async fn checked_url(&self, url: &str) -> Result<String> {
        self.webhooks
            .check_target(url.trim())
            .await
            .map(|u| u.to_string())
            .map_err(|e| Error::invalid("url", "WebhookConsumer", format!("{url}: {e}")))
    }

    fn seal_secret(&self, client: ClientId, id: uuid::Uuid, secret: &str) -> Result<SealedSecret> {
        let sealed = self
            .vault
            .seal(
                Purpose::WebhookSecret,
                &secret_aad(client, id),
                secret.as_bytes(),
            )
            .map_err(|e| Error::internal(format!("sealing a webhook secret: {e}")))?;
        Ok(SealedSecret {
            key_id: self.vault.active_id().to_string(),
            sealed,
        })
    }

    fn open_secret(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        s: &SealedSecret,
    ) -> Result<SecretString> {
        self.vault
            .open_string(Purpose::WebhookSecret, &secret_aad(client, id), &s.sealed)
            .map_err(|e| Error::internal(format!("opening the secret of consumer {id}: {e}")))
    }

    /// Creates a consumer with a new `whsec_` secret (`GET .../secret` shows it).
    pub async fn create_webhook(&self, client: ClientId, input: ConsumerInput) -> Result<Consumer> {
        let url = input.url.as_deref().unwrap_or_default();
        if url.trim().is_empty() {
            return Err(Error::invalid("url", "WebhookConsumer", "url is required."));
        }
        let url = self.checked_url(url).await?;
        let event_types = input.event_types.unwrap_or_default();
        check_event_types(&event_types)?;
        let company_tags = input.company_tags.unwrap_or_default();
        webhook::check_company_tags(&company_tags)
            .map_err(|m| Error::invalid("companyTags", "WebhookConsumer", m))?;
        let now = self.clock.now();
        let consumer = Consumer {
            id: uuid::Uuid::now_v7(),
            client_id: client,
            url,
            disabled: input.disabled.unwrap_or(false),
            disabled_reason: None,
            event_types,
            company_tags,
            failing_since: None,
            created: now,
            updated: now,
        };
        let secret = self.seal_secret(client, consumer.id, &new_secret())?;
        if !self
            .store
            .insert_consumer(&consumer, &secret, MAX_CONSUMERS)
            .await?
        {
            return Err(Error::invalid(
                "webhookConsumers",
                "WebhookConsumer",
                format!(
                    "A client has at most {MAX_CONSUMERS} webhook consumers; delete one first."
                ),
            ));
        }
        Ok(consumer)
    }

    pub async fn list_webhooks(&self, client: ClientId) -> Result<Vec<Consumer>> {
        self.store.list_consumers(client).await
    }

    pub async fn get_webhook(&self, client: ClientId, id: uuid::Uuid) -> Result<Consumer> {
        self.store
            .get_consumer(client, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Changes the fields given; enabling clears finlink's `disabledReason` and failure streak.
    pub async fn update_webhook(
        &self,
        client: ClientId,
        id: uuid::Uuid,
        input: ConsumerInput,
    ) -> Result<Consumer> {
        let mut c = self.get_webhook(client, id).await?;
        if let Some(url) = input.url {
            c.url = self.checked_url(&url).await?;
        }
        if let Some(t) = input.event_types {
            check_event_types(&t)?;
            c.event_types = t;
        }
        if let Some(t) = input.company_tags {
            webhook::check_company_tags(&t)
                .map_err(|m| Error::invalid("companyTags", "WebhookConsumer", m))?;
            c.company_tags = t;
        }
        if let Some(d) = input.disabled {
            c.disabled = d;
            if !d {
                c.disabled_reason = None;
                c.failing_since = None;
            }
        }
        c.updated = self.clock.now();
        if !self.store.update_consumer(&c).await? {
            return Err(not_found(id));
        }
        Ok(c)
    }

    pub async fn delete_webhook(&self, client: ClientId, id: uuid::Uuid) -> Result<()> {
        if self.store.delete_consumer(client, id).await? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    /// The consumer's current signing secret.
    pub async fn webhook_secret(&self, client: ClientId, id: uuid::Uuid) -> Result<SecretString> {
        let s = self
            .store
            .get_consumer_secrets(client, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.open_secret(client, id, &s.current)
    }

    /// A new secret; the previous one also signs for 24 hours.
    pub async fn rotate_webhook_secret(
        &self,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<SecretString> {
        let secret = new_secret();
        let sealed = self.seal_secret(client, id, &secret)?;
        let now = self.clock.now();
        if !self
            .store
            .rotate_consumer_secret(
                client,
                id,
                &sealed,
                now.plus_seconds(webhook::PREVIOUS_SECRET_SECS),
                now,
            )
            .await?
        {
            return Err(not_found(id));
        }
        Ok(SecretString::from(secret))
    }

    pub async fn list_webhook_deliveries(
        &self,
        client: ClientId,
        consumer: uuid::Uuid,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        self.get_webhook(client, consumer).await?;
        self.store.list_deliveries(client, consumer, page).await
    }

    /// Sends a delivery again now (whatever its state).
    pub async fn retry_webhook_delivery(
        &self,
        client: ClientId,
        consumer: uuid::Uuid,
        delivery: uuid::Uuid,
    ) -> Result<Delivery> {
        let d = self
            .store
            .get_delivery(client, delivery)
            .await?
            .filter(|d| d.consumer_id == consumer)
            .ok_or_else(|| Error::NotFound {
                message: format!("Delivery {delivery} not found for consumer {consumer}."),
            })?;
        let now = self.clock.now();
        let mut effects = Effects::none();
        effects
            .jobs
            .push(self.delivery_job(&d, d.event_id, now, Some(now)));
        self.store.write_effects(&effects).await?;
        Ok(d)
    }

    /// Delivers again every event since `since` that the consumer wants (new deliveries, so the
    /// receiver sees the original `webhook-id`s and can dedupe). Returns how many.
    pub async fn replay_webhook(
        &self,
        client: ClientId,
        consumer: uuid::Uuid,
        since: Timestamp,
    ) -> Result<u64> {
        let c = self.get_webhook(client, consumer).await?;
        if c.disabled {
            return Err(Error::Conflict(format!(
                "Webhook consumer {consumer} is disabled; enable it (PATCH disabled=false) before replaying."
            )));
        }
        let mut page = PageRequest::new(Some(1), Some(500))?;
        let mut total = 0u64;
        loop {
            let events = self
                .store
                .list_events(
                    client,
                    &EventFilter {
                        since: Some(since),
                        ..EventFilter::default()
                    },
                    page,
                )
                .await?;
            let mut effects = Effects::none();
            for e in &events.items {
                let tags = self.tags_of(client, e).await?;
                if c.wants(&e.event_type, tags.as_ref()) {
                    self.add_delivery(&mut effects, &c, e);
                    total += 1;
                }
            }
            self.store.write_effects(&effects).await?;
            if u64::from(page.page) * u64::from(page.page_size) >= events.total {
                return Ok(total);
            }
            page = PageRequest::new(
                Some(i64::from(page.page) + 1),
                Some(i64::from(page.page_size)),
            )?;
        }
    }

    async fn tags_of(
        &self,
        client: ClientId,
        e: &Event,
    ) -> Result<Option<BTreeMap<String, String>>> {
        // A deleted company's tags are in its company.deleted payload; otherwise read them.
        if let Ok(Value::Object(p)) = serde_json::from_str::<Value>(&e.payload) {
            let tags = p
                .get("tags")
                .or_else(|| p.get("referenceCompany").and_then(|r| r.get("tags")));
            if let Some(Value::Object(t)) = tags {
                return Ok(Some(
                    t.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                        .collect(),
                ));
            }
        }
        match e.company_id {
            Some(c) => Ok(self.store.get_company(client, c).await?.map(|c| c.tags)),
            None => Ok(None),
        }
    }

    fn delivery_job(
        &self,
        d: &Delivery,
        lane_key: uuid::Uuid,
        run_at: Timestamp,
        retry_of: Option<Timestamp>,
    ) -> finlink_domain::job::NewJob {
        let mut job = self.new_job(
            DELIVER_JOB,
            json!({"client": d.client_id.to_string(), "delivery": d.id.to_string()}),
            run_at,
            Some(match retry_of {
                None => format!("deliver:{}", d.id),
                Some(t) => format!("deliver:{}:{}", d.id, t.as_millis()),
            }),
            Some(format!("deliver:{}:{}", d.consumer_id, lane(lane_key))),
        );
        job.max_attempts = i32::try_from(RETRY_DELAYS_SECS.len() + 1).unwrap_or(8);
        job
    }

    fn add_delivery(&self, effects: &mut Effects, c: &Consumer, e: &Event) {
        let now = self.clock.now();
        let d = Delivery {
            id: uuid::Uuid::now_v7(),
            client_id: e.client_id,
            consumer_id: c.id,
            event_id: e.id,
            event_type: e.event_type.clone(),
            event_at: e.occurred_at,
            state: DeliveryState::Pending,
            attempts: 0,
            last_attempt_at: None,
            response_status: None,
            duration_ms: None,
            response_body: None,
            next_attempt_at: Some(now),
            created: now,
        };
        // Due at the event's time, in the company's lane, so a company's events go out in order.
        let lane_key = e.company_id.map_or(e.id, |c| *c.as_uuid());
        effects
            .jobs
            .push(self.delivery_job(&d, lane_key, e.occurred_at, None));
        effects.deliveries.push(d);
    }

    /// The effects of raising `events` about a company with `tags`: the events and, for every
    /// consumer that wants one, its delivery and job (all written with the change).
    pub(crate) async fn raise(
        &self,
        events: Vec<Event>,
        tags: Option<&BTreeMap<String, String>>,
    ) -> Result<Effects> {
        self.with_deliveries(Effects::events(events), tags).await
    }

    /// Adds a delivery (and its job) for every consumer that wants each event of `effects`.
    pub(crate) async fn with_deliveries(
        &self,
        mut effects: Effects,
        tags: Option<&BTreeMap<String, String>>,
    ) -> Result<Effects> {
        let Some(first) = effects.events.first() else {
            return Ok(effects);
        };
        let consumers = self.store.list_consumers(first.client_id).await?;
        if consumers.is_empty() {
            return Ok(effects);
        }
        let events = effects.events.clone();
        for e in &events {
            for c in consumers.iter().filter(|c| c.wants(&e.event_type, tags)) {
                self.add_delivery(&mut effects, c, e);
            }
        }
        Ok(effects)
    }

    /// A delivery failed for good (no further attempt), to record with its job.
    fn give_up(mut d: Delivery) -> Result<(JobOutcome, Option<Delivery>)> {
        d.state = DeliveryState::Failed;
        d.next_attempt_at = None;
        Ok((JobOutcome::Done, Some(d)))
    }

    /// Reads the deliveries (with their events) of a claimed group's `deliver` jobs at once.
    pub(crate) async fn prefetch_deliveries(
        &self,
        jobs: &[finlink_domain::job::Job],
        cache: &mut DeliveryCache,
    ) -> Result<()> {
        let ids: Vec<uuid::Uuid> = jobs
            .iter()
            .filter(|j| j.kind == DELIVER_JOB)
            .filter_map(|j| serde_json::from_str::<Value>(&j.payload).ok())
            .filter_map(|p| p.get("delivery")?.as_str()?.parse().ok())
            .collect();
        for (d, e) in self.store.get_deliveries_with_events(&ids).await? {
            cache.deliveries.insert(d.id, (d, e));
        }
        Ok(())
    }

    /// The consumer of a delivery with its sealed secrets, read once per group.
    async fn cached_consumer<'c>(
        &self,
        cache: &'c mut DeliveryCache,
        client: ClientId,
        id: uuid::Uuid,
    ) -> Result<Option<&'c mut CachedConsumer>> {
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.consumers.entry(id) {
            let consumer = match self.store.get_consumer(client, id).await? {
                Some(consumer) => {
                    let secrets = self
                        .store
                        .get_consumer_secrets(client, id)
                        .await?
                        .ok_or_else(|| Error::internal("consumer without a secret"))?;
                    Some(CachedConsumer {
                        consumer,
                        secrets,
                        held_until: None,
                    })
                }
                None => None,
            };
            slot.insert(consumer);
        }
        Ok(cache.consumers.get_mut(&id).and_then(Option::as_mut))
    }

    /// The body a receiver gets: Codat's envelope, or Apideck's for `vault.*` events.
    fn envelope(event: &Event, attempt: i32) -> Vec<u8> {
        let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
        let body = if event.event_type.starts_with("vault.") {
            let mut p = match payload {
                Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            p.insert("event_id".into(), json!(event.id.to_string()));
            p.insert("event_type".into(), json!(event.event_type));
            p.insert("execution_attempt".into(), json!(attempt));
            p.insert("occurred_at".into(), json!(event.occurred_at.to_rfc3339()));
            json!({ "payload": p })
        } else {
            json!({
                "id": event.id.to_string(),
                "eventType": event.event_type,
                "generatedDate": event.occurred_at.to_rfc3339(),
                "payload": payload,
            })
        };
        body.to_string().into_bytes()
    }

    /// The `deliver` job: signs and sends one event to one consumer, and answers the attempt
    /// to record with the job and what comes next per the retry schedule. Within a claimed
    /// group (a lane's deliveries, in event order), a failure holds the rest of the consumer's
    /// deliveries back until its retry, so they stay in order and a sick receiver is not sent
    /// the whole group.
    pub(crate) async fn run_delivery_job(
        &self,
        payload: &Value,
        attempts: i32,
        cache: &mut DeliveryCache,
    ) -> Result<(JobOutcome, Option<Delivery>)> {
        let field = |k: &str| {
            payload
                .get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| Error::internal(format!("deliver job payload has no {k}")))
        };
        let client = ClientId::parse(field("client")?)?;
        let id = uuid::Uuid::parse_str(field("delivery")?)
            .map_err(|e| Error::internal(format!("deliver job: {e}")))?;
        let found = match cache.deliveries.remove(&id) {
            Some(found) => Some(found),
            None => self
                .store
                .get_deliveries_with_events(&[id])
                .await?
                .into_iter()
                .next(),
        };
        let Some((mut d, event)) = found.filter(|(d, _)| d.client_id == client) else {
            return Ok((JobOutcome::Done, None));
        };
        let now = self.clock.now();
        let consumer = self.cached_consumer(cache, client, d.consumer_id).await?;
        let Some(cached) = consumer.filter(|c| !c.consumer.disabled) else {
            d.response_body = Some(String::from("not sent: the consumer is disabled"));
            return Self::give_up(d);
        };
        let Some(event) = event else {
            return Ok((JobOutcome::Done, None));
        };
        if let Some(at) = cached.held_until {
            d.state = DeliveryState::Pending;
            d.next_attempt_at = Some(at);
            let why = "held back: an earlier delivery in its lane failed";
            return Ok((JobOutcome::DeferTo(at, why.into()), Some(d)));
        }
        let consumer = &cached.consumer;
        let body = Self::envelope(&event, d.attempts + 1);
        let msg_id = format!("msg_{}", event.id.simple());
        let ts = now.as_millis() / 1000;
        let mut signatures = Vec::new();
        let mut all = vec![&cached.secrets.current];
        if let Some((prev, until)) = &cached.secrets.previous
            && *until > now
        {
            all.push(prev);
        }
        for s in all {
            let secret = self.open_secret(client, consumer.id, s)?;
            signatures.push(
                sign(secret.expose(), &msg_id, ts, &body)
                    .ok_or_else(|| Error::internal("a webhook secret is not base64"))?,
            );
        }
        let headers = [
            ("webhook-id", msg_id),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", signatures.join(" ")),
            ("x-finlink-event-type", event.event_type.clone()),
        ];
        let watch = finlink_domain::clock::Stopwatch::start();
        let sent = self.webhooks.send(&consumer.url, &headers, body).await;
        let took = watch.seconds();
        let ok = sent.status.is_some_and(|s| (200..300).contains(&s));
        metrics::counter!("finlink_webhook_deliveries_total", "outcome" => if ok { "delivered" } else { "failed" })
            .increment(1);
        metrics::histogram!("finlink_webhook_delivery_seconds").record(took);
        d.attempts += 1;
        d.last_attempt_at = Some(now);
        d.response_status = sent.status.map(i32::from);
        d.duration_ms = Some((took * 1000.0).round() as i64);
        d.response_body = Some(sent.body);
        if ok {
            d.state = DeliveryState::Succeeded;
            d.next_attempt_at = None;
            if consumer.failing_since.is_some() {
                self.store
                    .note_consumer_success(client, consumer.id)
                    .await?;
                cached.consumer.failing_since = None;
            }
            return Ok((JobOutcome::Done, Some(d)));
        }
        // Targeted writes, not the whole consumer row: a PATCH from the client while this
        // attempt ran is not undone, and only one of several failing lanes disables it.
        let since = self
            .store
            .note_consumer_failure(client, consumer.id, now)
            .await?
            .unwrap_or(now);
        cached.consumer.failing_since = Some(since);
        let gone = sent.status == Some(410);
        let failing_too_long =
            now.as_millis() - since.as_millis() >= webhook::DISABLE_AFTER_SECS * 1000;
        if gone || failing_too_long {
            let consumer = cached.consumer.clone();
            cached.consumer.disabled = true;
            let reason = if gone { "gone" } else { "failing" };
            let e = Event {
                id: uuid::Uuid::now_v7(),
                client_id: client,
                event_type: types::WEBHOOK_CONSUMER_DISABLED.to_owned(),
                company_id: None,
                connection_id: None,
                payload: json!({
                    "id": consumer.id.to_string(),
                    "url": consumer.url,
                    "disabledReason": reason,
                })
                .to_string(),
                occurred_at: now,
            };
            // The event goes to the other consumers that want it (this one is being disabled).
            let mut effects = self.with_deliveries(Effects::events(vec![e]), None).await?;
            let own: Vec<String> = effects
                .deliveries
                .iter()
                .filter(|x| x.consumer_id == consumer.id)
                .map(|x| x.id.to_string())
                .collect();
            effects.deliveries.retain(|x| x.consumer_id != consumer.id);
            effects
                .jobs
                .retain(|j| !own.iter().any(|id| j.payload.contains(id.as_str())));
            self.store
                .disable_consumer(client, consumer.id, reason, now, &effects)
                .await?;
            return Self::give_up(d);
        }
        let delay = usize::try_from(attempts.max(1) - 1)
            .ok()
            .and_then(|i| RETRY_DELAYS_SECS.get(i).copied());
        match delay {
            Some(secs) => {
                let jitter = rand::thread_rng().gen_range(0..=secs / 10);
                let at = now.plus_seconds(secs + jitter);
                d.state = DeliveryState::Pending;
                d.next_attempt_at = Some(at);
                cached.held_until = Some(at);
                let why = format!("attempt {} failed ({:?})", d.attempts, d.response_status);
                Ok((JobOutcome::RetryAt(at, why), Some(d)))
            }
            None => Self::give_up(d),
        }
    }
}

/// What the `deliver` jobs of one claimed group share: their deliveries and events (read
/// together), and each consumer with its sealed secrets (read once).
#[derive(Default)]
pub(crate) struct DeliveryCache {
    deliveries: std::collections::HashMap<uuid::Uuid, (Delivery, Option<Event>)>,
    /// None: the consumer is gone.
    consumers: std::collections::HashMap<uuid::Uuid, Option<CachedConsumer>>,
}

pub(crate) struct CachedConsumer {
    consumer: Consumer,
    secrets: finlink_store::ConsumerSecrets,
    /// A delivery of this group failed: the rest wait for its retry.
    held_until: Option<Timestamp>,
}
