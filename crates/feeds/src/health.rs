//! Feed health: what each feed says about itself (connected, last success, last error,
//! counts, bytes waiting to be sent), kept per account for the API, the admin screen and
//! `/metrics`. Errors in it never carry a secret: they come from our own messages and from
//! transport errors stripped of URLs.

use std::sync::{Mutex, PoisonError};

pub use patchbay_api::{FeedHealth, FeedStatus};

use crate::clock::Clock;
use crate::config::FeedKind;

pub(crate) struct HealthCell {
    clock: Clock,
    inner: Mutex<FeedHealth>,
}

impl HealthCell {
    pub fn new(account_id: &str, tenant: &str, kind: FeedKind, clock: Clock) -> HealthCell {
        HealthCell {
            clock,
            inner: Mutex::new(FeedHealth {
                account_id: account_id.to_owned(),
                tenant: tenant.to_owned(),
                kind: kind.name(),
                status: FeedStatus::Starting,
                connected: false,
                last_success: None,
                last_error: None,
                last_error_at: None,
                sent: 0,
                failed: 0,
                bytes_sent: 0,
                connects: 0,
                restarts: 0,
                pending_bytes: 0,
                max_pending_bytes: 0,
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut FeedHealth) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn read(&self) -> FeedHealth {
        self.with(|h| h.clone())
    }

    /// A new configuration for the same account: counters stay, status starts over.
    pub fn restarted(&self, tenant: &str, kind: FeedKind) {
        self.with(|h| {
            h.restarts += 1;
            h.tenant = tenant.to_owned();
            h.kind = kind.name();
            h.status = FeedStatus::Starting;
            h.connected = false;
            h.pending_bytes = 0;
        });
    }

    pub fn invalid(&self, error: String) {
        let now = self.clock.now();
        self.with(|h| {
            h.status = FeedStatus::InvalidConfig;
            h.connected = false;
            h.last_error = Some(error);
            h.last_error_at = Some(now);
        });
    }

    pub fn connected(&self) {
        self.with(|h| {
            h.connected = true;
            h.connects += 1;
        });
    }

    pub fn disconnected(&self) {
        self.with(|h| {
            h.connected = false;
            h.pending_bytes = 0;
        });
    }

    pub fn pending(&self, bytes: usize) {
        self.with(|h| {
            h.pending_bytes = bytes as u64;
            h.max_pending_bytes = h.max_pending_bytes.max(bytes as u64);
        });
    }

    /// Records a delivery; says whether the feed was failing before (a recovery).
    pub fn success(&self, messages: u64, bytes: u64, connected: bool) -> bool {
        let now = self.clock.now();
        self.with(|h| {
            let recovered = h.status == FeedStatus::Retrying;
            h.status = FeedStatus::Running;
            h.connected = connected;
            h.last_success = Some(now);
            h.sent += messages;
            h.bytes_sent += bytes;
            h.pending_bytes = 0;
            recovered
        })
    }

    /// Records a failure; says whether it is the first of a run (worth a warning).
    pub fn failure(&self, error: &str, connected: bool) -> bool {
        let now = self.clock.now();
        self.with(|h| {
            let first = h.status != FeedStatus::Retrying;
            h.status = FeedStatus::Retrying;
            h.connected = connected;
            h.failed += 1;
            h.pending_bytes = 0;
            h.last_error = Some(error.to_owned());
            h.last_error_at = Some(now);
            first
        })
    }
}
