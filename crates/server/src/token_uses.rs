//! When this node last recorded each token's use, so that authentication writes it to the
//! store at most once a minute per token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When this node last recorded each token's use. Authentication writes a token's last use
/// at most once per [`TokenUses::EVERY`], so a busy token does not turn every request into
/// a database write; the store's own condition keeps several nodes from writing it more
/// often between them.
#[derive(Debug, Default)]
pub struct TokenUses(Mutex<HashMap<uuid::Uuid, Instant>>);

impl TokenUses {
    /// How often a token's last use is written at most.
    pub const EVERY: Duration = Duration::from_secs(60);
    /// Tokens remembered at most; past it the ones not due any more are forgotten.
    const MAX: usize = 10_000;

    /// Whether a use of `token` at `now` is to be written; notes it as written if so.
    pub(crate) fn due(&self, token: uuid::Uuid, now: Instant) -> bool {
        let mut last = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.get(&token).is_some_and(|at| now.saturating_duration_since(*at) < Self::EVERY) {
            return false;
        }
        if last.len() >= Self::MAX {
            last.retain(|_, at| now.saturating_duration_since(*at) < Self::EVERY);
        }
        last.insert(token, now);
        true
    }

    /// Records that `token` authenticated now, when it is due. A failed write is logged, not
    /// the request's failure: the last use is a hint for people, not a guard.
    pub(crate) async fn record(&self, store: &dyn patchbay_store::Store, token: uuid::Uuid) {
        if !self.due(token, Instant::now()) {
            return;
        }
        let every = chrono::Duration::from_std(Self::EVERY).unwrap_or_else(|_| chrono::Duration::zero());
        if let Err(e) = store.touch_token(token, chrono::Utc::now(), every).await {
            tracing::warn!(token = %token, error = %e, "cannot record a token's last use");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokens_use_is_due_once_a_minute() {
        let uses = TokenUses::default();
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let start = Instant::now();
        assert!(uses.due(a, start), "the first use is written");
        assert!(!uses.due(a, start + Duration::from_secs(59)), "a use within the minute is not");
        assert!(uses.due(b, start + Duration::from_secs(1)), "each token has its own minute");
        assert!(uses.due(a, start + TokenUses::EVERY), "a use a minute later is");
        assert!(!uses.due(a, start + TokenUses::EVERY + Duration::from_secs(1)));
    }
}
