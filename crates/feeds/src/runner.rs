//! The supervisor of feed tasks: one task per enabled account of a pushing type, started,
//! restarted (its configuration changed) or stopped to match what the server asks for, at
//! once rather than at the next interval. Owns the options every feed shares, the context a
//! feed task runs with, reconnect backoff with jitter, and the health table.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use patchbay_connectors::Egress;
use rand::Rng;
use serde::Serialize;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::{FeedConfig, FeedKind, FeedSpec, HttpTarget};
use crate::health::{FeedHealth, HealthCell};
use crate::state::{LiveState, Snapshot, TenantView};
use crate::{aspect, loxysoft, nice, stats_receiver, transport, wfm_http};

/// Settings every feed shares; the defaults are what production uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedOptions {
    /// How often the Aspect feed sends a full snapshot on an open connection.
    pub snapshot_every: Duration,
    /// How often the statistics receiver gets the service statistics.
    pub statistics_every: Duration,
    /// First reconnect delay; it doubles per failure up to `backoff_max`, with jitter.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Deadline of one connect, write or request; `None` takes the egress policy's timeout.
    pub io_timeout: Option<Duration>,
    /// Most NICE messages in one POST.
    pub nice_batch_max: usize,
    /// Most bytes of an HTTP answer read (and discarded).
    pub max_response_bytes: usize,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            snapshot_every: Duration::from_secs(15 * 60),
            statistics_every: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            io_timeout: None,
            nice_batch_max: 500,
            max_response_bytes: 64 * 1024,
        }
    }
}

/// What one feed task runs with.
pub(crate) struct FeedContext {
    pub tenant: String,
    pub egress: Egress,
    pub state: LiveState,
    pub clock: Clock,
    pub options: FeedOptions,
    pub health: Arc<HealthCell>,
}

impl FeedContext {
    pub fn view(&self) -> TenantView {
        self.state.view(&self.tenant)
    }

    pub fn io_timeout(&self) -> Duration {
        self.options.io_timeout.unwrap_or(self.egress.policy().timeout)
    }

    pub fn backoff(&self) -> Backoff {
        Backoff { min: self.options.backoff_min, max: self.options.backoff_max, attempt: 0 }
    }

    pub fn succeeded(&self, messages: u64, bytes: u64, connected: bool) {
        if self.health.success(messages, bytes, connected) {
            tracing::info!("feed recovered");
        }
    }

    /// Counts and logs a failure: a warning for the first of a run, debug for the rest, so a
    /// receiver that is down for hours does not flood the log.
    pub fn failed(&self, error: &str, connected: bool) {
        if self.health.failure(error, connected) {
            tracing::warn!(error, "feed failed; retrying");
        } else {
            tracing::debug!(error, "feed still failing");
        }
    }
}

/// The loop of the HTTP feeds that post the tenant's whole state at every interval (WFM
/// HTTP POST, Loxysoft): one request in flight at most, ticks that fall inside a slow request
/// are skipped, failures are counted and the next request goes out at the next tick.
/// `encode` keeps per-agent JSON between ticks, so quiet ticks cost little.
pub(crate) async fn post_every(
    ctx: FeedContext,
    interval: Duration,
    target: HttpTarget,
    mut encode: impl FnMut(&Snapshot, &mut Vec<u8>),
) {
    let mut ticks = Ticker::starting(Instant::now(), interval);
    let mut size = 256;
    loop {
        ticks.tick().await;
        let snapshot = ctx.view().snapshot();
        let mut body = Vec::with_capacity(size);
        encode(&snapshot, &mut body);
        drop(snapshot);
        size = body.len() + 256;
        let bytes = body.len() as u64;
        ctx.health.pending(body.len());
        match transport::post(&ctx, &target, body).await {
            Ok(()) => ctx.succeeded(1, bytes, true),
            Err(e) => ctx.failed(&e, false),
        }
    }
}

/// Ticks on a fixed grid (`first`, `first + period`, ...). A tick that comes due while the
/// caller is still busy with the previous one is skipped, not delivered late: after a slow
/// request the next one waits for the next slot of the grid. Cancel-safe.
pub(crate) struct Ticker {
    next: Instant,
    period: Duration,
}

impl Ticker {
    pub fn starting(first: Instant, period: Duration) -> Ticker {
        Ticker { next: first, period }
    }

    pub async fn tick(&mut self) {
        let now = Instant::now();
        if self.next < now {
            let behind = (now - self.next).as_nanos();
            let periods = behind.div_ceil(self.period.as_nanos().max(1));
            self.next += self.period * u32::try_from(periods).unwrap_or(u32::MAX);
        }
        tokio::time::sleep_until(self.next).await;
        self.next += self.period;
    }
}

/// Exponential backoff with jitter: the n-th delay is uniform in [d/2, d] where
/// d = min(max, min * 2^n).
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.min.saturating_mul(2u32.saturating_pow(self.attempt)).min(self.max);
        self.attempt = self.attempt.saturating_add(1).min(31);
        ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// What `upsert` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Upsert {
    Started,
    /// The configuration changed: the old task stopped and a new one started.
    Restarted,
    Unchanged,
    /// The properties cannot be used; health says why and no task runs.
    Invalid,
    /// The account's type does not push anything.
    NotAFeed,
}

/// What `apply` did, by account id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    pub started: Vec<String>,
    pub restarted: Vec<String>,
    pub stopped: Vec<String>,
    pub unchanged: Vec<String>,
    pub invalid: Vec<String>,
}

/// Runs the feeds. Cheap to clone; dropping the last clone stops every feed.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    egress: Egress,
    state: LiveState,
    clock: Clock,
    options: FeedOptions,
    runtime: tokio::runtime::Handle,
    feeds: Mutex<HashMap<String, Running>>,
}

struct Running {
    spec: FeedSpec,
    health: Arc<HealthCell>,
    task: Option<AbortHandle>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Supervisor {
    /// A supervisor with the system clock and default options. Must be called inside a
    /// tokio runtime; feed tasks run on it.
    pub fn new(egress: Egress, state: LiveState) -> Supervisor {
        Supervisor::with_options(egress, state, Clock::system(), FeedOptions::default())
    }

    pub fn with_options(egress: Egress, state: LiveState, clock: Clock, options: FeedOptions) -> Supervisor {
        Supervisor {
            inner: Arc::new(Inner {
                egress,
                state,
                clock,
                options,
                runtime: tokio::runtime::Handle::current(),
                feeds: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn state(&self) -> &LiveState {
        &self.inner.state
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.inner.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the running feeds exactly `specs`: starts new ones, restarts changed ones and
    /// stops the rest. Accounts of types that push nothing are ignored.
    pub fn apply(&self, specs: Vec<FeedSpec>) -> ApplySummary {
        let mut summary = ApplySummary::default();
        let wanted: HashSet<String> = specs.iter().map(|s| s.account_id.clone()).collect();
        let gone: Vec<String> = self.feeds().keys().filter(|id| !wanted.contains(*id)).cloned().collect();
        for id in gone {
            if self.remove(&id) {
                summary.stopped.push(id);
            }
        }
        for spec in specs {
            let id = spec.account_id.clone();
            match self.upsert(spec) {
                Upsert::Started => summary.started.push(id),
                Upsert::Restarted => summary.restarted.push(id),
                Upsert::Unchanged => summary.unchanged.push(id),
                Upsert::Invalid => summary.invalid.push(id),
                Upsert::NotAFeed => {}
            }
        }
        summary
    }

    /// Starts the account's feed, or restarts it when anything in `spec` changed.
    pub fn upsert(&self, spec: FeedSpec) -> Upsert {
        let Some(kind) = FeedKind::of(&spec.type_key, &spec.provider) else {
            self.remove(&spec.account_id);
            return Upsert::NotAFeed;
        };
        let mut feeds = self.feeds();
        let previous = feeds.remove(&spec.account_id);
        if let Some(running) = &previous {
            if running.spec == spec {
                feeds.insert(spec.account_id.clone(), previous.expect("checked above"));
                return Upsert::Unchanged;
            }
        }
        let existed = previous.is_some();
        let health = match &previous {
            Some(running) => {
                running.health.restarted(&spec.tenant, kind);
                running.health.clone()
            }
            None => Arc::new(HealthCell::new(&spec.account_id, &spec.tenant, kind, self.inner.clock)),
        };
        drop(previous);
        let (task, outcome) = match FeedConfig::parse(kind, &spec) {
            Err(e) => {
                tracing::warn!(account = %spec.account_id, tenant = %spec.tenant, error = %e, "feed not started");
                health.invalid(e.to_string());
                (None, Upsert::Invalid)
            }
            Ok(config) => {
                let outcome = if existed { Upsert::Restarted } else { Upsert::Started };
                (Some(self.spawn(&spec, kind, config, health.clone())), outcome)
            }
        };
        feeds.insert(spec.account_id.clone(), Running { spec, health, task });
        outcome
    }

    /// Stops the account's feed; says whether there was one.
    pub fn remove(&self, account_id: &str) -> bool {
        let removed = self.feeds().remove(account_id);
        removed.is_some()
    }

    /// Stops every feed.
    pub fn shutdown(&self) {
        let all: Vec<Running> = self.feeds().drain().map(|(_, r)| r).collect();
        drop(all);
    }

    pub fn health(&self, account_id: &str) -> Option<FeedHealth> {
        self.feeds().get(account_id).map(|r| r.health.read())
    }

    /// Every feed's health, by tenant then account id.
    pub fn health_all(&self) -> Vec<FeedHealth> {
        let mut all: Vec<FeedHealth> = self.feeds().values().map(|r| r.health.read()).collect();
        all.sort_by(|a, b| (&a.tenant, &a.account_id).cmp(&(&b.tenant, &b.account_id)));
        all
    }

    fn spawn(&self, spec: &FeedSpec, kind: FeedKind, config: FeedConfig, health: Arc<HealthCell>) -> AbortHandle {
        let ctx = FeedContext {
            tenant: spec.tenant.clone(),
            egress: self.inner.egress.clone(),
            state: self.inner.state.clone(),
            clock: self.inner.clock,
            options: self.inner.options.clone(),
            health,
        };
        let span = tracing::info_span!("feed", account = %spec.account_id, tenant = %spec.tenant, kind = ?kind);
        let task = async move {
            match config {
                FeedConfig::Aspect(c) => aspect::run(ctx, c).await,
                FeedConfig::WfmHttp(c) => wfm_http::run(ctx, c).await,
                FeedConfig::Loxysoft(c) => loxysoft::run(ctx, c).await,
                FeedConfig::Nice(c) => nice::run(ctx, c).await,
                FeedConfig::Stats(c) => stats_receiver::run(ctx, c).await,
            }
        };
        self.inner.runtime.spawn(task.instrument(span)).abort_handle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_that_come_due_while_busy_are_skipped_not_delivered_late() {
        let start = Instant::now();
        let mut ticker = Ticker::starting(start, Duration::from_secs(10));
        ticker.tick().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(25)).await;
        ticker.tick().await;
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        ticker.tick().await;
        assert_eq!(start.elapsed(), Duration::from_secs(40));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stays_within_its_jitter() {
        let mut backoff = Backoff { min: Duration::from_secs(1), max: Duration::from_secs(8), attempt: 0 };
        for ceiling in [1u64, 2, 4, 8, 8, 8] {
            let d = backoff.next_delay();
            let ceiling = Duration::from_secs(ceiling);
            assert!(d >= ceiling / 2 && d <= ceiling, "{d:?} not within [{:?}, {ceiling:?}]", ceiling / 2);
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_secs(1));
    }
}
