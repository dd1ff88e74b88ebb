//! Sending replies: one task per node takes the replies that are due (a lease in the
//! database, so two nodes never send the same one at once), sends each through its
//! messenger's API, and records how it went. A busy or failing vendor (429, 5xx, no answer)
//! is tried again after its `Retry-After`, else after a growing, jittered pause, up to
//! [`MAX_ATTEMPTS`]; a refusal (credentials, a blocked customer) fails the reply at once.
//! Sent and failed replies become `message_status` events.

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::Utc;
use patchbay_connectors::Scrubber;
use patchbay_store::{DueMessage, SendOutcome, StoreError};
use rand::Rng;
use tokio::sync::Notify;

use crate::vendors::{Outbound, Reply, SendError};
use crate::{credentials, Channel, Edge};

/// Attempts of one reply at most.
pub const MAX_ATTEMPTS: i64 = 8;
/// Replies taken per pass at most.
const PASS: i64 = 64;
/// Replies of different conversations sent at once.
const PARALLEL: usize = 16;
/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(300);
/// How often due replies are looked for when nothing woke the sender (retries, replies
/// asked for on other nodes).
const SWEEP: Duration = Duration::from_secs(1);

pub(crate) fn spawn(edge: Weak<Edge>, wake: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            let Some(strong) = edge.upgrade() else { return };
            send_due(&strong).await;
            drop(strong);
            let _ = tokio::time::timeout(SWEEP, wake.notified()).await;
        }
    });
}

async fn send_due(edge: &Edge) {
    // A lease outlives an attempt: the call's timeout and the time to record it.
    let lease = edge.options.egress_timeout * 2 + Duration::from_secs(10);
    loop {
        let due = match edge.parts.edge.take_due_outbound(lease, PASS).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "the edge could not read the replies due; trying again later");
                return;
            }
        };
        let taken = due.len();
        // One task per conversation, in order within it.
        let mut conversations: Vec<Vec<DueMessage>> = Vec::new();
        for message in due {
            match conversations.iter_mut().find(|c| c[0].conversation_id == message.conversation_id) {
                Some(conversation) => conversation.push(message),
                None => conversations.push(vec![message]),
            }
        }
        futures::StreamExt::for_each_concurrent(
            futures::stream::iter(conversations),
            PARALLEL,
            |messages| async move {
                for message in messages {
                    send_one(edge, message).await;
                }
            },
        )
        .await;
        if taken < PASS as usize {
            return;
        }
    }
}

async fn send_one(edge: &Edge, message: DueMessage) {
    let channel = Channel::of(&message.channel);
    let result = match channel {
        Some(channel) => attempt(edge, channel, &message).await,
        None => Err(SendError::Permanent(format!("no messenger sends for provider {:?}", message.channel))),
    };
    let outcome = match result {
        Ok(vendor_id) => SendOutcome::Sent { vendor_id },
        Err(SendError::Retry { after, error }) if message.attempts < MAX_ATTEMPTS => {
            let pause = after.unwrap_or_else(|| backoff(message.attempts)).min(MAX_PAUSE);
            let at = Utc::now() + chrono::Duration::from_std(pause).unwrap_or_else(|_| chrono::Duration::seconds(1));
            SendOutcome::Retry { at, error }
        }
        Err(SendError::Retry { error, .. }) => {
            SendOutcome::Failed { error: format!("{error} (gave up after {} attempts)", message.attempts) }
        }
        Err(SendError::Permanent(error)) => SendOutcome::Failed { error },
    };
    let code = match &outcome {
        SendOutcome::Sent { .. } => "sent",
        SendOutcome::Retry { .. } => "retry",
        SendOutcome::Failed { .. } => "failed",
    };
    edge.parts.metrics.record_send(&message.channel, code);
    match edge.parts.edge.finish_outbound(message.id, &outcome).await {
        Ok(_) => {
            if !matches!(outcome, SendOutcome::Retry { .. }) {
                edge.events_written(&message.tenant_id);
            }
        }
        Err(StoreError::NotFound) => {}
        Err(e) => tracing::error!(error = %e, message = %message.id, "the edge could not record how a reply went"),
    }
}

/// One try: the account as it is now, its secrets opened for the call only.
async fn attempt(edge: &Edge, channel: Channel, message: &DueMessage) -> Result<Option<String>, SendError> {
    let account = match edge.parts.store.get_account(&message.tenant_id, message.account_id).await {
        Ok(account) => account,
        Err(StoreError::NotFound) => return Err(SendError::Permanent("the messenger account was deleted".into())),
        Err(e) => return Err(SendError::Retry { after: None, error: format!("cannot read the account: {e}") }),
    };
    if !account.enabled {
        return Err(SendError::Permanent("the messenger account is disabled".into()));
    }
    let secrets = {
        let keys = edge.parts.keys.lease().await;
        keys.open(&account).map_err(|e| {
            tracing::error!(error = %e, account = %account.id, "cannot open an account's secrets to send a reply");
            SendError::Retry { after: None, error: "the account's secrets cannot be opened now".into() }
        })?
    };
    let scrubber = Scrubber::new(secrets.values().cloned().collect());
    let account_view = credentials(&account, &secrets);
    let out = Outbound {
        egress: &edge.parts.egress,
        vendors: &edge.parts.vendors,
        timeout: edge.options.egress_timeout,
        account: &account_view,
        scrubber: &scrubber,
    };
    let reply =
        Reply { peer: &message.peer, reply_from: message.reply_from.as_deref(), text: &message.text, id: message.id };
    channel.send(&out, &reply).await
}

/// The pause before attempt `attempts + 1`: 2^attempts seconds, capped, with up to a
/// quarter of jitter so that replies failed together are not retried together.
fn backoff(attempts: i64) -> Duration {
    let base = Duration::from_secs(1u64 << attempts.clamp(0, 8) as u32).min(MAX_PAUSE);
    let jitter = rand::thread_rng().gen_range(0.0..0.25);
    base.mul_f64(1.0 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_with_jitter_and_stay_capped() {
        for attempts in 1..=MAX_ATTEMPTS {
            let pause = backoff(attempts);
            let base = Duration::from_secs(1 << attempts).min(MAX_PAUSE);
            assert!(pause >= base && pause <= base.mul_f64(1.25), "{attempts}: {pause:?}");
        }
        assert!(backoff(60) <= MAX_PAUSE.mul_f64(1.25));
    }
}
