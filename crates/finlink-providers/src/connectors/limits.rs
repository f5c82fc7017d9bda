//! Request budgets shared by every pull, and waiting without a wall clock.
//!
//! [`RateLimiter`] keeps one token bucket per integration (the platform's app-wide limit) and
//! one per connection (its per-tenant limit), refilled from the injected [`Clock`]. A request
//! takes one token from both. A `429` pauses the connection's bucket until its `Retry-After`,
//! so every pull of that connection waits, not only the one that was refused.
//!
//! All waiting goes through a [`Sleeper`]: [`TokioSleeper`] in production, [`ClockSleeper`] in
//! tests (it moves a [`ManualClock`] instead of sleeping, and records what was asked).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use finlink_domain::{Clock, ManualClock};

/// Waits.
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, duration: Duration);
}

/// Sleeps on tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Moves a [`ManualClock`] forward instead of sleeping, and records every wait: tests check
/// that a pull waited what `Retry-After` said without waiting at all.
#[derive(Debug, Clone)]
pub struct ClockSleeper {
    clock: ManualClock,
    slept: Arc<Mutex<Vec<Duration>>>,
}

impl ClockSleeper {
    pub fn new(clock: ManualClock) -> Self {
        Self {
            clock,
            slept: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Every wait so far, in order.
    pub fn slept(&self) -> Vec<Duration> {
        self.slept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the waits so far.
    pub fn clear(&self) {
        self.slept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[async_trait]
impl Sleeper for ClockSleeper {
    async fn sleep(&self, duration: Duration) {
        self.slept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(duration);
        self.clock
            .advance_millis(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX));
        tokio::task::yield_now().await;
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    pub burst: u32,
    pub per_second: f64,
}

impl Budget {
    pub fn per_second(burst: u32, per_second: f64) -> Self {
        Self { burst, per_second }
    }

    /// `n` a minute, `n` at once (Xero: 60 a minute per tenant).
    pub fn per_minute(n: u32) -> Self {
        Self {
            burst: n,
            per_second: f64::from(n) / 60.0,
        }
    }
}

/// The budgets of one integration: app-wide and per connection; `None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct IntegrationBudgets {
    pub integration: Option<Budget>,
    pub connection: Option<Budget>,
}

impl IntegrationBudgets {
    pub const UNLIMITED: Self = Self {
        integration: None,
        connection: None,
    };
}

/// Which budgets apply: defaults, and overrides per integration key.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimits {
    pub default: IntegrationBudgets,
    pub integrations: BTreeMap<String, IntegrationBudgets>,
}

impl Default for RateLimits {
    /// 50 requests a second per integration (bursts of 100) and 5 per connection (bursts of
    /// 10): below the documented limits of the major platforms.
    fn default() -> Self {
        Self {
            default: IntegrationBudgets {
                integration: Some(Budget::per_second(100, 50.0)),
                connection: Some(Budget::per_second(10, 5.0)),
            },
            integrations: BTreeMap::new(),
        }
    }
}

impl RateLimits {
    /// No budgets at all (a `429` still pauses its connection).
    pub fn unlimited() -> Self {
        Self {
            default: IntegrationBudgets::UNLIMITED,
            integrations: BTreeMap::new(),
        }
    }

    /// With budgets for one integration.
    pub fn with_integration(mut self, key: &str, budgets: IntegrationBudgets) -> Self {
        self.integrations.insert(key.to_owned(), budgets);
        self
    }

    fn of(&self, key: &str) -> IntegrationBudgets {
        self.integrations.get(key).copied().unwrap_or(self.default)
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
    paused_until_ms: i64,
}

impl Bucket {
    fn new(budget: Option<Budget>, now: i64) -> Self {
        Self {
            tokens: budget.map_or(0.0, |b| f64::from(b.burst)),
            updated_ms: now,
            paused_until_ms: i64::MIN,
        }
    }

    fn refill(&mut self, budget: Option<Budget>, now: i64) {
        if let Some(b) = budget {
            let elapsed = (now - self.updated_ms).max(0) as f64 / 1000.0;
            self.tokens = (self.tokens + elapsed * b.per_second).min(f64::from(b.burst.max(1)));
        }
        self.updated_ms = self.updated_ms.max(now);
    }

    /// Milliseconds until a request may go.
    fn wait_ms(&self, budget: Option<Budget>, now: i64) -> u64 {
        if self.paused_until_ms > now {
            return u64::try_from(self.paused_until_ms - now).unwrap_or(u64::MAX);
        }
        match budget {
            Some(b) if self.tokens < 1.0 => {
                if b.per_second <= 0.0 {
                    return 60_000;
                }
                ((1.0 - self.tokens) / b.per_second * 1000.0)
                    .ceil()
                    .max(1.0) as u64
            }
            _ => 0,
        }
    }

    fn take(&mut self, budget: Option<Budget>) {
        if budget.is_some() {
            self.tokens -= 1.0;
        }
    }

    /// Carries no information (full and not paused): may be forgotten.
    fn idle(&self, budget: Option<Budget>, now: i64) -> bool {
        self.paused_until_ms <= now
            && budget.is_none_or(|b| self.tokens >= f64::from(b.burst.max(1)))
    }
}

#[derive(Default)]
struct Buckets {
    integrations: HashMap<String, Bucket>,
    connections: HashMap<String, Bucket>,
}

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 10_000;

fn bucket<'a>(
    map: &'a mut HashMap<String, Bucket>,
    key: &str,
    budget: Option<Budget>,
    now: i64,
) -> Option<&'a mut Bucket> {
    if !map.contains_key(key) {
        if map.len() >= MAX_BUCKETS {
            map.retain(|_, b| !b.idle(budget, now));
        }
        map.insert(key.to_owned(), Bucket::new(budget, now));
    }
    let b = map.get_mut(key)?;
    b.refill(budget, now);
    Some(b)
}

/// Budgets per integration and per connection, shared by every pull of a process.
pub struct RateLimiter {
    limits: RateLimits,
    clock: Arc<dyn Clock>,
    buckets: Mutex<Buckets>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(limits: RateLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            limits,
            clock,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Takes a request from both budgets, or says how long to wait first.
    pub fn try_acquire(&self, integration: &str, connection: &str) -> Option<Duration> {
        let budgets = self.limits.of(integration);
        let now = self.clock.now().as_millis();
        let mut guard = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let st = &mut *guard;
        let wi = bucket(&mut st.integrations, integration, budgets.integration, now)
            .map_or(0, |b| b.wait_ms(budgets.integration, now));
        let wc = bucket(&mut st.connections, connection, budgets.connection, now)
            .map_or(0, |b| b.wait_ms(budgets.connection, now));
        if wi == 0 && wc == 0 {
            if let Some(b) = st.integrations.get_mut(integration) {
                b.take(budgets.integration);
            }
            if let Some(b) = st.connections.get_mut(connection) {
                b.take(budgets.connection);
            }
            return None;
        }
        Some(Duration::from_millis(wi.max(wc)))
    }

    /// Waits (through `sleeper`) until both budgets allow a request, and takes it.
    pub async fn acquire(&self, integration: &str, connection: &str, sleeper: &dyn Sleeper) {
        while let Some(wait) = self.try_acquire(integration, connection) {
            sleeper.sleep(wait).await;
        }
    }

    /// The platform said to wait (`429` + `Retry-After`): no request of the connection goes
    /// before `now + wait`.
    pub fn pause_connection(&self, integration: &str, connection: &str, wait: Duration) {
        let budgets = self.limits.of(integration);
        let now = self.clock.now().as_millis();
        let until = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        let mut guard = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = bucket(&mut guard.connections, connection, budgets.connection, now) {
            b.paused_until_ms = b.paused_until_ms.max(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlink_domain::Timestamp;

    fn limiter(limits: RateLimits) -> (RateLimiter, ManualClock) {
        let clock = ManualClock::new(Timestamp::from_millis(1_000_000));
        (RateLimiter::new(limits, Arc::new(clock.clone())), clock)
    }

    #[test]
    fn buckets_refill_from_the_clock() {
        let limits = RateLimits::unlimited().with_integration(
            "xero",
            IntegrationBudgets {
                integration: Some(Budget::per_second(100, 100.0)),
                connection: Some(Budget::per_second(2, 1.0)),
            },
        );
        let (l, clock) = limiter(limits);
        assert_eq!(l.try_acquire("xero", "c1"), None);
        assert_eq!(l.try_acquire("xero", "c1"), None);
        assert_eq!(
            l.try_acquire("xero", "c1"),
            Some(Duration::from_millis(1000))
        );
        // Another connection has its own bucket.
        assert_eq!(l.try_acquire("xero", "c2"), None);
        clock.advance_millis(500);
        assert_eq!(
            l.try_acquire("xero", "c1"),
            Some(Duration::from_millis(500))
        );
        clock.advance_millis(500);
        assert_eq!(l.try_acquire("xero", "c1"), None);
        // Unlisted integrations use the default (unlimited here).
        for _ in 0..100 {
            assert_eq!(l.try_acquire("other", "c1"), None);
        }
    }

    #[test]
    fn the_integration_budget_is_shared_by_its_connections() {
        let limits = RateLimits::unlimited().with_integration(
            "xero",
            IntegrationBudgets {
                integration: Some(Budget::per_second(3, 1.0)),
                connection: None,
            },
        );
        let (l, _clock) = limiter(limits);
        for c in ["a", "b", "c"] {
            assert_eq!(l.try_acquire("xero", c), None);
        }
        assert!(l.try_acquire("xero", "d").is_some());
    }

    #[test]
    fn a_pause_holds_every_pull_of_the_connection() {
        let (l, clock) = limiter(RateLimits::unlimited());
        l.pause_connection("x", "c1", Duration::from_secs(2));
        assert_eq!(l.try_acquire("x", "c1"), Some(Duration::from_secs(2)));
        assert_eq!(l.try_acquire("x", "c2"), None);
        clock.advance_millis(2000);
        assert_eq!(l.try_acquire("x", "c1"), None);
    }

    #[tokio::test]
    async fn acquire_waits_through_the_sleeper() {
        let limits = RateLimits::unlimited().with_integration(
            "x",
            IntegrationBudgets {
                integration: None,
                connection: Some(Budget::per_second(1, 2.0)),
            },
        );
        let (l, clock) = limiter(limits);
        let sleeper = ClockSleeper::new(clock.clone());
        let start = clock.now();
        for _ in 0..5 {
            l.acquire("x", "c", &sleeper).await;
        }
        assert_eq!(sleeper.slept(), vec![Duration::from_millis(500); 4]);
        assert_eq!(clock.now().as_millis() - start.as_millis(), 2000);
    }
}
