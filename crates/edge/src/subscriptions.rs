//! Subscriptions: conversation events POSTed to the contact center's URL, one event per
//! request, signed as the Standard Webhooks specification says
//! (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>):
//! `webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature: v1,<base64
//! HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, the key being the base64 after `whsec_`.
//!
//! One task per node takes the subscriptions that have events to deliver (a lease in the
//! database, so a subscription is delivered by one node at a time) and sends its events in
//! order: an event is sent only after the one before it was delivered, so order holds per
//! conversation (and per tenant). A failed event is tried again after an exponential,
//! jittered pause (1 s doubling to an hour) until it has failed for [`GIVE_UP_AFTER`]; then
//! the subscription is `failed` and visible as such until resumed. Targets are reached
//! through the egress policy.

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use patchbay_store::{DeliveryOutcome, Subscription};
use rand::{Rng, RngCore};
use sha2::Sha256;
use std::sync::{Arc, Weak};
use tokio::sync::Notify;

use crate::{event_view, type_name, Edge};

/// How long a subscription's next event is retried before the subscription fails.
pub(crate) const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(3600);
/// Subscriptions delivered at once.
const PARALLEL: usize = 16;
/// Events read per pass of one subscription.
const EVENTS: i64 = 100;
/// How often subscriptions are looked at when nothing woke the task.
const SWEEP: Duration = Duration::from_secs(1);
/// The prefix of a signing secret.
pub(crate) const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub(crate) fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// The `webhook-signature` value of a delivery.
pub(crate) fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

pub(crate) fn spawn(edge: Weak<Edge>, wake: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            let Some(strong) = edge.upgrade() else { return };
            deliver_due(&strong).await;
            drop(strong);
            let _ = tokio::time::timeout(SWEEP, wake.notified()).await;
        }
    });
}

async fn deliver_due(edge: &Edge) {
    let lease = edge.options.egress_timeout * (EVENTS as u32).min(10) + Duration::from_secs(30);
    let due = match edge.parts.edge.take_due_subscriptions(lease, 64).await {
        Ok(due) => due,
        Err(e) => {
            tracing::error!(error = %e, "the edge could not read the subscriptions due; trying again later");
            return;
        }
    };
    futures::StreamExt::for_each_concurrent(futures::stream::iter(due), PARALLEL, |subscription| async move {
        let outcomes = deliver(edge, &subscription).await;
        for outcome in outcomes {
            if let Err(e) = edge.parts.edge.record_subscription(subscription.id, &outcome).await {
                tracing::error!(error = %e, subscription = %subscription.id, "cannot record a subscription's delivery");
            }
        }
    })
    .await;
}

/// Delivers the subscription's next events in order; what to record (progress, then the
/// failure that stopped it, if any).
async fn deliver(edge: &Edge, subscription: &Subscription) -> Vec<DeliveryOutcome> {
    let events = match edge.parts.edge.events_after(&subscription.tenant_id, subscription.delivered_seq, EVENTS).await {
        Ok(events) => events,
        Err(e) => {
            tracing::error!(error = %e, "cannot read events for a subscription");
            return vec![DeliveryOutcome::Failed {
                error: "patchbay could not read the events".into(),
                status: None,
                retry_at: Some(Utc::now() + chrono::Duration::seconds(5)),
            }];
        }
    };
    let secret = {
        let keys = edge.parts.keys.lease().await;
        keys.open_sealed(&subscription.tenant_id, subscription.id, &subscription.secret)
    };
    let secret = match secret {
        Ok(secret) => secret,
        Err(e) => {
            tracing::error!(error = %e, subscription = %subscription.id, "cannot open a subscription's signing secret");
            return vec![failure(
                subscription,
                "the signing secret cannot be opened; patchbay's key ring is not the one it was sealed with".into(),
                None,
            )];
        }
    };
    let mut done: Option<(i64, bool)> = None;
    let mut outcomes = Vec::new();
    for event in events {
        let seq = event.seq;
        let view = event_view(event);
        let wanted = subscription.events.iter().any(|e| e == type_name(view.kind));
        if !wanted {
            done = Some((seq, done.is_some_and(|d| d.1)));
            continue;
        }
        match post(edge, subscription, secret.expose(), &view).await {
            Ok(()) => {
                edge.parts.metrics.record_subscription_delivery("delivered");
                done = Some((seq, true));
            }
            Err((error, status)) => {
                edge.parts.metrics.record_subscription_delivery("failed");
                if let Some((seq, delivered)) = done.take() {
                    outcomes.push(DeliveryOutcome::Done { seq, delivered });
                }
                outcomes.push(failure(subscription, error, status));
                return outcomes;
            }
        }
    }
    let (seq, delivered) = done.unwrap_or((subscription.delivered_seq, false));
    outcomes.push(DeliveryOutcome::Done { seq, delivered });
    outcomes
}

/// The failure of the head event: retried after a pause, or the end once it has failed
/// for [`GIVE_UP_AFTER`].
fn failure(subscription: &Subscription, error: String, status: Option<u16>) -> DeliveryOutcome {
    let now = Utc::now();
    let since = subscription.failing_since.unwrap_or(now);
    let give_up = chrono::Duration::from_std(GIVE_UP_AFTER).unwrap_or_else(|_| chrono::Duration::hours(24));
    let retry_at = if now - since >= give_up {
        None
    } else {
        Some(
            now + chrono::Duration::from_std(backoff(subscription.attempts))
                .unwrap_or_else(|_| chrono::Duration::seconds(1)),
        )
    };
    DeliveryOutcome::Failed { error, status, retry_at }
}

/// 2^attempts seconds, capped at [`MAX_PAUSE`], with up to a quarter of jitter.
fn backoff(attempts: i64) -> Duration {
    let base = Duration::from_secs(1u64 << attempts.clamp(0, 12) as u32).min(MAX_PAUSE);
    base.mul_f64(1.0 + rand::thread_rng().gen_range(0.0..0.25))
}

/// One signed POST; the error in words and the target's status when it failed.
async fn post(
    edge: &Edge,
    subscription: &Subscription,
    secret: &str,
    event: &patchbay_api::ConversationEvent,
) -> Result<(), (String, Option<u16>)> {
    let url = url::Url::parse(&subscription.url).map_err(|e| (format!("the URL does not parse: {e}"), None))?;
    let body = serde_json::to_vec(event).map_err(|e| (format!("the event does not encode: {e}"), None))?;
    let id = format!("msg_{}_{}", subscription.id.simple(), event.id);
    let timestamp = Utc::now().timestamp();
    let signed = signature(secret, &id, timestamp, &body);
    let reply = edge
        .parts
        .egress
        .call(reqwest::Method::POST, &url, edge.options.egress_timeout, |r| {
            r.header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", &signed)
                .body(body)
        })
        .await
        .map_err(|f| (f.message, None))?;
    if (200..300).contains(&reply.status) {
        Ok(())
    } else {
        Err((format!("the target answered HTTP {}", reply.status), Some(reply.status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(signature(secret, id, 1614265330, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_subscription_failing_for_a_day_gives_up_and_before_that_waits_longer_each_time() {
        let subscription = |attempts: i64, failing_for: chrono::Duration| Subscription {
            id: uuid::Uuid::nil(),
            tenant_id: "acme".into(),
            url: "https://hooks.example/".into(),
            events: vec![],
            secret: patchbay_store::SealedSecret { field: "signing_secret".into(), key_id: 1, sealed: vec![] },
            state: patchbay_store::SubscriptionState::Active,
            delivered_seq: 0,
            attempts,
            next_attempt_at: None,
            failing_since: Some(Utc::now() - failing_for),
            last_error: None,
            last_status: None,
            last_delivered_at: None,
            created_at: Utc::now(),
            created_by: "t".into(),
        };
        let retry = |s: &Subscription| match failure(s, "down".into(), None) {
            DeliveryOutcome::Failed { retry_at, .. } => retry_at,
            other => panic!("{other:?}"),
        };
        let soon = retry(&subscription(0, chrono::Duration::zero())).expect("retried");
        let later = retry(&subscription(6, chrono::Duration::hours(1))).expect("retried");
        assert!(later - Utc::now() > soon - Utc::now());
        assert!(retry(&subscription(30, chrono::Duration::hours(23))).is_some(), "still within the day");
        assert_eq!(retry(&subscription(30, chrono::Duration::hours(24))), None, "given up after a day");
        for attempts in 0..20 {
            assert!(backoff(attempts) <= MAX_PAUSE.mul_f64(1.25));
        }
    }

    #[test]
    fn secrets_are_whsec_and_32_random_bytes() {
        let a = new_secret();
        assert!(a.starts_with(SECRET_PREFIX));
        let key = base64::engine::general_purpose::STANDARD.decode(&a[SECRET_PREFIX.len()..]).unwrap();
        assert_eq!(key.len(), 32);
        assert_ne!(a, new_secret());
    }
}
