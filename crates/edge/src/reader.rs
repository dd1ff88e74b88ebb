//! The inbox reader: one task per node reads kept deliveries into conversations, messages
//! and events, oldest first, whenever the intake kept some and every sweep interval (for
//! deliveries another node kept, or that a crash left behind). A delivery that cannot be
//! read is logged (its account, never its body) and dropped: it would never read better.

use std::sync::{Arc, Weak};

use chrono::Utc;
use patchbay_store::{InboxItem, Parsed};
use tokio::sync::Notify;

use crate::{Channel, Edge};

/// Deliveries read per transaction at most.
const PASS: i64 = 256;

pub(crate) fn spawn(edge: Weak<Edge>, kept: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            let Some(edge) = edge.upgrade() else { return };
            let sweep = edge.options.sweep;
            read_all(&edge).await;
            drop(edge);
            let _ = tokio::time::timeout(sweep, kept.notified()).await;
        }
    });
}

/// Reads until the inbox is empty (or the store fails; the next wake tries again).
async fn read_all(edge: &Edge) {
    loop {
        match edge.parts.edge.read_inbox(PASS, &read).await {
            Ok(pass) => {
                let now = Utc::now();
                for (provider, received) in &pass.received {
                    let seconds = (now - *received).num_microseconds().unwrap_or(0) as f64 / 1e6;
                    edge.parts.metrics.record_intake_latency(provider, seconds.max(0.0));
                }
                for tenant in &pass.tenants {
                    edge.events_written(tenant);
                }
                if pass.items < PASS as usize {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the edge could not read its inbox; trying again later");
                return;
            }
        }
    }
}

fn read(item: &InboxItem) -> Parsed {
    let parsed = match Channel::of(&item.provider) {
        Some(channel) => channel.parse(&item.body),
        None => Err(format!("no messenger reads deliveries of provider {:?}", item.provider)),
    };
    parsed.unwrap_or_else(|why| {
        tracing::warn!(tenant = %item.tenant_id, account = %item.account_id, reason = %why, "a kept delivery could not be read and is dropped");
        Parsed::default()
    })
}
