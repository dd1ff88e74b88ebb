//! What every feed task runs with: the options all feeds share, the task's context (its
//! tenant's state, egress, clock, health), a fixed-grid ticker and reconnect backoff with
//! jitter. Feed kinds and the supervisor depend on this; it depends on no feed kind.

use std::sync::Arc;
use std::time::Duration;

use patchbay_connectors::Egress;
use rand::Rng;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::health::HealthCell;
use crate::state::{LiveState, TenantView};

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

/// Ticks on a fixed grid (`first`, `first + period`, ...). The first tick comes at `first`,
/// or at once when that has passed (a feed starting `now` sends at once, not a period
/// later). A later tick that comes due while the caller is still busy with the previous one
/// is skipped, not delivered late: after a slow request the next one waits for the next
/// slot of the grid. Cancel-safe.
pub(crate) struct Ticker {
    next: Instant,
    period: Duration,
    /// Whether a tick was delivered (the first one is never skipped).
    ticked: bool,
}

impl Ticker {
    pub fn starting(first: Instant, period: Duration) -> Ticker {
        Ticker { next: first, period, ticked: false }
    }

    pub async fn tick(&mut self) {
        let now = Instant::now();
        if self.ticked && self.next < now {
            let behind = (now - self.next).as_nanos();
            let periods = behind.div_ceil(self.period.as_nanos().max(1));
            self.next += self.period * u32::try_from(periods).unwrap_or(u32::MAX);
        }
        tokio::time::sleep_until(self.next).await;
        self.ticked = true;
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

    #[tokio::test(start_paused = true)]
    async fn the_first_tick_comes_at_once_when_its_time_has_just_passed() {
        let start = Instant::now();
        let mut ticker = Ticker::starting(start, Duration::from_secs(10));
        tokio::time::advance(Duration::from_millis(1)).await;
        ticker.tick().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1), "not a period late");
        ticker.tick().await;
        assert_eq!(start.elapsed(), Duration::from_secs(10), "then on the grid");
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
