//! Wall-clock time for what feeds put on the wire and in health. Either the system clock,
//! or a clock that starts at a chosen instant and follows tokio's (pausable) time, so
//! tests with a paused runtime get deterministic timestamps.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor: Option<(DateTime<Utc>, Instant)>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    pub fn system() -> Clock {
        Clock { anchor: None }
    }

    /// A clock that reads `at` now and advances with `tokio::time`.
    pub fn starting_at(at: DateTime<Utc>) -> Clock {
        Clock { anchor: Some((at, Instant::now())) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.anchor {
            None => Utc::now(),
            Some((at, instant)) => {
                at + chrono::Duration::from_std(instant.elapsed()).unwrap_or_else(|_| chrono::Duration::zero())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_started_clock_follows_paused_tokio_time() {
        let start = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap();
        let clock = Clock::starting_at(start);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(clock.now(), start + chrono::Duration::milliseconds(1500));
    }
}
