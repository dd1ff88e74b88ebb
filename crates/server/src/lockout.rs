//! Failed sign-ins counted per tenant and username in this node's memory: after
//! [`MAX_FAILURES`] in [`WINDOW`] the username is locked out until the first of them ages out.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one username in [`WINDOW`] after which it is refused for the rest of it.
pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Usernames tracked at most; beyond, the windows that ended are dropped first.
const MAX_TRACKED: usize = 10_000;

/// Failed sign-ins per tenant and username, in this node's memory.
#[derive(Default)]
pub struct Lockout {
    failures: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
}

impl Lockout {
    /// Seconds until `username` may try again, when it has failed too often.
    pub fn locked(&self, tenant: &str, username: &str, now: Instant) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let times = map.get_mut(&(tenant.to_owned(), username.to_owned()))?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            times.pop_front();
        }
        let first = *times.front()?;
        (times.len() >= MAX_FAILURES).then(|| (WINDOW - now.duration_since(first)).as_secs_f64().ceil().max(1.0) as u64)
    }

    pub fn fail(&self, tenant: &str, username: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let times = map.entry((tenant.to_owned(), username.to_owned())).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_in_a_minute_lock_a_username_until_the_first_ages_out() {
        let throttle = Lockout::default();
        let start = Instant::now();
        for i in 0..9 {
            throttle.fail("acme", "zap", start + Duration::from_secs(i));
        }
        assert_eq!(throttle.locked("acme", "zap", start + Duration::from_secs(10)), None);
        throttle.fail("acme", "zap", start + Duration::from_secs(10));
        assert_eq!(throttle.locked("acme", "zap", start + Duration::from_secs(10)), Some(50));
        assert_eq!(throttle.locked("acme", "other", start), None, "per username");
        assert_eq!(throttle.locked("globex", "zap", start), None, "per tenant");
        assert_eq!(throttle.locked("acme", "zap", start + Duration::from_secs(61)), None, "the first failure aged out");
    }
}
