//! The bounds of the live state's event streams: how many one tenant may hold open at once
//! (a stream over the cap is refused, not queued), the open-stream gauge, and the stop
//! signal that ends every event stream when the server shuts down, the conversation events'
//! too (an endless response would otherwise hold the shutdown's drain until its deadline).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// The live streams of every tenant on this node.
pub struct LiveStreams {
    per_tenant: usize,
    open: Mutex<HashMap<String, usize>>,
    stop: CancellationToken,
    metrics: Arc<Metrics>,
}

/// One open stream; dropping it frees its place.
pub struct StreamSlot {
    streams: Arc<LiveStreams>,
    tenant: String,
}

impl LiveStreams {
    pub fn new(per_tenant: usize, metrics: Arc<Metrics>) -> Arc<LiveStreams> {
        Arc::new(LiveStreams { per_tenant, open: Mutex::default(), stop: CancellationToken::new(), metrics })
    }

    /// How many streams one tenant may hold open.
    pub fn per_tenant(&self) -> usize {
        self.per_tenant
    }

    /// A place for a new stream of `tenant`, or `None` when the tenant holds as many as
    /// allowed.
    pub fn try_open(self: &Arc<Self>, tenant: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(tenant.to_owned()).or_default();
        if *count >= self.per_tenant {
            drop(open);
            self.metrics.live_stream_refused();
            return None;
        }
        *count += 1;
        self.metrics.live_stream_opened();
        Some(StreamSlot { streams: self.clone(), tenant: tenant.to_owned() })
    }

    /// A handle on the stop signal, for a stream to keep.
    pub fn stop_signal(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Ends every stream (the server is shutting down).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.tenant);
            }
        }
        drop(open);
        self.streams.metrics.live_stream_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_over_its_cap_is_refused_while_others_still_open_streams() {
        let streams = LiveStreams::new(2, Arc::new(Metrics::new()));
        let first = streams.try_open("acme").unwrap();
        let _second = streams.try_open("acme").unwrap();
        assert!(streams.try_open("acme").is_none());
        assert!(streams.try_open("globex").is_some(), "another tenant is not affected");
        drop(first);
        assert!(streams.try_open("acme").is_some(), "a closed stream frees its place");
    }
}
