//! The messenger edge: the traffic messengers send in. Each account whose provider declares
//! `inbound` in the catalog has a random hook id; a delivery to its webhook is checked
//! against the vendor's proof (signature or secret token over the raw body, in constant
//! time) before anything is parsed or kept, written to the inbox before the vendor gets its
//! 200 (`intake`: many deliveries per commit when busy), then read into conversations,
//! messages and numbered events (`reader`) that the contact center waits for (`events`).
//!
//! Owns: the vendors' proofs, delivery formats and send calls (`vendors`, one module each),
//! the intake and inbox reader tasks, waking waiters on new events, the reply sender
//! (`replies`), subscription deliveries signed as Standard Webhooks say (`subscriptions`),
//! the retention purge, the API view of events (`views`), the edge's metrics trait.
//!
//! Must not: answer HTTP (the server maps its answers), decide access, open a secret but
//! through `secrets`, reach a vendor or a subscriber but through `Egress`, let a secret or a
//! delivery's body reach a log, an error, an event or a refusal (vendor text is scrubbed).

mod events;
mod intake;
mod reader;
mod replies;
mod subscriptions;
mod vendors;
mod views;

use std::sync::Arc;
use std::time::{Duration, Instant};

use patchbay_catalog::Catalog;
use patchbay_connectors::{Egress, VendorUrls};
use patchbay_secrets::AccountSecrets;
use patchbay_store::{
    Account, Conversation, ConversationEvent, Delivery, EdgeStore, MessageRecord, NewOutbound, Rejection, Store,
    StoreError, Subscription,
};
use tokio::sync::Notify;
use uuid::Uuid;

pub use vendors::{Channel, Credentials, Refusal, Request};
pub use views::{event_view, message_view, type_name};

use events::Waiters;
use intake::Intake;

/// What the edge counts, for `/metrics`.
pub trait EdgeMetrics: Send + Sync {
    /// A delivery to `channel` (a provider key, or `unknown` for an unknown hook) that was
    /// kept (`accepted`) or refused with `reason` (`unknown_hook`, `disabled`, `too_large`,
    /// `content_type`, `missing_proof`, `bad_proof`, `handshake`).
    fn record_delivery(&self, channel: &str, outcome: &str);
    /// The seconds from keeping a delivery to its events.
    fn record_intake_latency(&self, channel: &str, seconds: f64);
    /// An attempt to send a reply through `channel` that ended as `outcome` (`sent`,
    /// `retry`, `failed`).
    fn record_send(&self, channel: &str, outcome: &str);
    /// A POST of an event to a subscription: `delivered` or `failed`.
    fn record_subscription_delivery(&self, outcome: &str);
}

/// The largest delivery body taken by default.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct EdgeOptions {
    /// The largest delivery body taken; larger ones get 413.
    pub body_limit: usize,
    /// How often the inbox is read when nothing woke the reader (deliveries kept by other
    /// nodes, or before a crash).
    pub sweep: Duration,
    /// The timeout of each call to a messenger's API (replies).
    pub egress_timeout: Duration,
    /// How often conversations past their tenant's retention are purged.
    pub purge_every: Duration,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        EdgeOptions {
            body_limit: DEFAULT_BODY_LIMIT,
            sweep: Duration::from_secs(2),
            egress_timeout: Duration::from_secs(10),
            purge_every: Duration::from_secs(3600),
        }
    }
}

/// The most characters of a reply each messenger takes.
fn max_reply_chars(channel: Channel) -> usize {
    match channel {
        // Send API text: "must be UTF-8 and has a 2000 character limit".
        Channel::Facebook => 2000,
        // sendMessage: "1-4096 characters after entities parsing".
        Channel::Telegram => 4096,
        // Push message text: "Max character limit: 5000".
        Channel::Line => 5000,
        // send_message: "Max length 7,000 characters".
        Channel::Viber => 7000,
        // Messages API text: "max 1000 characters" for SMS (the strictest of its channels).
        Channel::Nexmo => 1000,
    }
}

pub struct EdgeParts {
    pub store: Arc<dyn Store>,
    pub edge: Arc<dyn EdgeStore>,
    pub keys: Arc<AccountSecrets>,
    pub catalog: &'static Catalog,
    pub metrics: Arc<dyn EdgeMetrics>,
    /// Replies go out through the egress policy.
    pub egress: Egress,
    pub vendors: VendorUrls,
}

/// The edge's handle: intake, inbox reader and event waiters.
pub struct Edge {
    parts: EdgeParts,
    options: EdgeOptions,
    intake: Intake,
    waiters: Waiters,
    /// Wakes the reply sender.
    replies: Arc<Notify>,
    /// Wakes the subscription deliveries (new events).
    subscribers: Arc<Notify>,
}

/// What the vendor gets: a status and a short text body (the ack, the handshake's
/// challenge, or why the delivery was refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    fn refused(refusal: Refusal) -> Answer {
        Answer { status: refusal.status, body: refusal.reason }
    }
}

/// An open hook: the account a delivery is for.
pub struct Hook {
    account: Account,
    channel: Channel,
}

impl Hook {
    pub fn account(&self) -> &Account {
        &self.account
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A reply's text breaks the messenger's rule.
    #[error("{message}")]
    Invalid { field: &'static str, rule: &'static str, message: String },
}

impl Edge {
    /// The edge, with its intake and inbox reader started on the current runtime; the
    /// reader reads what an earlier run left in the inbox at once.
    pub fn start(parts: EdgeParts, options: EdgeOptions) -> Arc<Edge> {
        let intake = Intake::start(parts.edge.clone());
        let replies = Arc::new(Notify::new());
        let subscribers = Arc::new(Notify::new());
        let edge = Arc::new(Edge {
            parts,
            options,
            intake,
            waiters: Waiters::default(),
            replies: replies.clone(),
            subscribers: subscribers.clone(),
        });
        reader::spawn(Arc::downgrade(&edge), edge.intake.kept());
        replies::spawn(Arc::downgrade(&edge), replies);
        subscriptions::spawn(Arc::downgrade(&edge), subscribers);
        spawn_purge(Arc::downgrade(&edge));
        edge
    }

    pub fn body_limit(&self) -> usize {
        self.options.body_limit
    }

    /// The account behind `hook_id`, if it takes deliveries now; otherwise the 404 to give.
    pub async fn open(&self, hook_id: &str) -> Result<Result<Hook, Answer>, EdgeError> {
        let not_found = || Answer { status: 404, body: "no such webhook".into() };
        let target = match self.parts.edge.hook_target(hook_id).await? {
            Some(target) => target,
            None => {
                self.parts.metrics.record_delivery("unknown", "unknown_hook");
                return Ok(Err(not_found()));
            }
        };
        let account = match self.parts.store.get_account(&target.tenant_id, target.account_id).await {
            Ok(account) => account,
            Err(StoreError::NotFound) => {
                self.parts.metrics.record_delivery("unknown", "unknown_hook");
                return Ok(Err(not_found()));
            }
            Err(e) => return Err(e.into()),
        };
        let inbound =
            self.parts.catalog.provider(&account.type_key, &account.provider).and_then(|p| p.inbound.as_ref());
        let Some(channel) = inbound.and_then(|_| Channel::of(&account.provider)) else {
            self.parts.metrics.record_delivery("unknown", "unknown_hook");
            return Ok(Err(not_found()));
        };
        let hook = Hook { account, channel };
        if !hook.account.enabled {
            self.refuse(&hook, "disabled", Refusal { status: 404, reason: "the account is disabled".into() }).await;
            return Ok(Err(not_found()));
        }
        Ok(Ok(hook))
    }

    /// Counts a refused delivery in the account's health and the metrics.
    pub async fn refuse(&self, hook: &Hook, reason_code: &str, refusal: Refusal) -> Answer {
        self.parts.metrics.record_delivery(hook.channel.provider(), reason_code);
        self.intake
            .reject(Rejection {
                tenant_id: hook.account.tenant_id.clone(),
                account_id: hook.account.id,
                status: refusal.status,
                reason: refusal.reason.clone(),
            })
            .await;
        Answer::refused(refusal)
    }

    /// A `GET` of the webhook (Facebook's subscription handshake).
    pub async fn handshake(&self, hook: &Hook, query: &str) -> Answer {
        let result = {
            let keys = self.parts.keys.lease().await;
            match keys.open(&hook.account) {
                Ok(secrets) => hook.channel.handshake(&credentials(&hook.account, &secrets), query),
                Err(e) => Err(unopened(&e)),
            }
        };
        match result {
            Ok(challenge) => {
                self.parts.metrics.record_delivery(hook.channel.provider(), "handshake");
                Answer { status: 200, body: challenge }
            }
            Err(refusal) => self.refuse(hook, "handshake", refusal).await,
        }
    }

    /// A `POST` delivery: its content type and proof are checked, then it is kept; the
    /// answer comes once it is committed.
    pub async fn receive(&self, hook: &Hook, request: &Request<'_>) -> Result<Answer, EdgeError> {
        if !is_json(request.headers) {
            let refusal = Refusal {
                status: 415,
                reason: format!("{} sends application/json; this delivery is not", hook.channel.provider()),
            };
            return Ok(self.refuse(hook, "content_type", refusal).await);
        }
        let verified = {
            let keys = self.parts.keys.lease().await;
            match keys.open(&hook.account) {
                Ok(secrets) => hook.channel.verify(&credentials(&hook.account, &secrets), request),
                Err(e) => Err(unopened(&e)),
            }
        };
        if let Err(refusal) = verified {
            let code = if refusal.status == 401 { "missing_proof" } else { "bad_proof" };
            return Ok(self.refuse(hook, code, refusal).await);
        }
        self.intake
            .keep(Delivery {
                tenant_id: hook.account.tenant_id.clone(),
                account_id: hook.account.id,
                provider: hook.channel.provider().to_owned(),
                body: request.body.to_vec(),
            })
            .await?;
        self.parts.metrics.record_delivery(hook.channel.provider(), "accepted");
        Ok(Answer { status: 200, body: hook.channel.ack().to_owned() })
    }

    /// The tenant's events after `after`, waiting up to `wait` for the first one.
    pub async fn events(
        &self,
        tenant: &str,
        after: i64,
        limit: i64,
        wait: Duration,
    ) -> Result<Vec<ConversationEvent>, EdgeError> {
        let deadline = Instant::now() + wait;
        loop {
            let woken = self.waiters.listen(tenant);
            let events = self.parts.edge.events_after(tenant, after, limit).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if !events.is_empty() || left.is_zero() {
                return Ok(events);
            }
            // Events written by another node wake nobody here: look again at least every
            // second.
            let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), woken).await;
        }
    }

    /// The tenant's last event number.
    /// The tenant's newest `limit` events of `kind`, newest first.
    pub async fn recent_events(
        &self,
        tenant: &str,
        kind: patchbay_store::EventKind,
        limit: i64,
    ) -> Result<Vec<patchbay_store::ConversationEvent>, EdgeError> {
        Ok(self.parts.edge.recent_events(tenant, kind, limit).await?)
    }

    pub async fn last_event(&self, tenant: &str) -> Result<i64, EdgeError> {
        Ok(self.parts.edge.last_event(tenant).await?)
    }

    /// A conversation of the tenant.
    pub async fn conversation(&self, tenant: &str, id: Uuid) -> Result<Conversation, EdgeError> {
        Ok(self.parts.edge.conversation(tenant, id).await?)
    }

    /// The conversation's newest `limit` messages, oldest first.
    pub async fn messages(&self, tenant: &str, id: Uuid, limit: i64) -> Result<Vec<MessageRecord>, EdgeError> {
        Ok(self.parts.edge.conversation_messages(tenant, id, limit).await?)
    }

    /// Asks for a reply to be sent: `(message, true)` when it is new, the message an
    /// earlier request with the same key made and `false` otherwise. The sender is woken
    /// at once; the outcome comes as a `message_status` event.
    pub async fn reply(
        &self,
        tenant: &str,
        conversation: Uuid,
        key: Option<&str>,
        text: &str,
        actor: &str,
    ) -> Result<(MessageRecord, bool), EdgeError> {
        let found = self.parts.edge.conversation(tenant, conversation).await?;
        let limit = Channel::of(&found.channel).map_or(1000, max_reply_chars);
        let chars = text.chars().count();
        if text.trim().is_empty() {
            return Err(EdgeError::Invalid {
                field: "text",
                rule: "required",
                message: "the reply has no text".into(),
            });
        }
        if chars > limit {
            return Err(EdgeError::Invalid {
                field: "text",
                rule: "max_length",
                message: format!("{} takes at most {limit} characters; this reply has {chars}", found.channel),
            });
        }
        let made = self.parts.edge.create_outbound(&NewOutbound { tenant, conversation, key, text, actor }).await?;
        if made.1 {
            self.replies.notify_one();
        }
        Ok(made)
    }

    /// Wakes those waiting for the tenant's events, and the subscription deliveries.
    pub(crate) fn events_written(&self, tenant: &str) {
        self.waiters.wake(tenant);
        self.subscribers.notify_one();
    }

    /// Creates a subscription with a new signing secret; the secret is returned this once.
    pub async fn subscribe(
        &self,
        tenant: &str,
        url: &str,
        events: &[&str],
        actor: &str,
    ) -> Result<(Subscription, String), EdgeError> {
        let invalid = |rule, message: String| EdgeError::Invalid { field: "url", rule, message };
        let parsed = url::Url::parse(url).map_err(|e| invalid("url", format!("`url` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("scheme", format!("`url` must be http or https, not {}", parsed.scheme())));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("credentials", "`url` may not carry a user or password".into()));
        }
        if let Err(why) = self.parts.egress.request(reqwest::Method::POST, &parsed) {
            return Err(invalid("blocked", why));
        }
        if events.is_empty() {
            return Err(EdgeError::Invalid {
                field: "events",
                rule: "required",
                message: "name at least one event type".into(),
            });
        }
        let mut wanted: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
        wanted.sort();
        wanted.dedup();
        let secret = subscriptions::new_secret();
        let id = Uuid::now_v7();
        let sealed = self.parts.keys.lease().await.seal(tenant, id, patchbay_store::SIGNING_SECRET, &secret);
        let new = patchbay_store::NewSubscription {
            id,
            tenant_id: tenant.to_owned(),
            url: parsed.to_string(),
            events: wanted,
            secret: sealed,
            actor: actor.to_owned(),
        };
        let created = self.parts.edge.create_subscription(&new).await?;
        Ok((created, secret))
    }

    pub async fn subscriptions(&self, tenant: &str) -> Result<Vec<Subscription>, EdgeError> {
        Ok(self.parts.edge.subscriptions(tenant).await?)
    }

    pub async fn subscription(&self, tenant: &str, id: Uuid) -> Result<Subscription, EdgeError> {
        Ok(self.parts.edge.subscription(tenant, id).await?)
    }

    pub async fn unsubscribe(&self, tenant: &str, id: Uuid, actor: &str) -> Result<(), EdgeError> {
        Ok(self.parts.edge.delete_subscription(tenant, id, actor).await?)
    }

    /// Delivers again to a failed subscription, from the event that failed.
    pub async fn resume(&self, tenant: &str, id: Uuid, actor: &str) -> Result<Subscription, EdgeError> {
        let resumed = self.parts.edge.resume_subscription(tenant, id, actor).await?;
        self.subscribers.notify_one();
        Ok(resumed)
    }

    /// How many days the tenant keeps conversations.
    pub async fn retention_days(&self, tenant: &str) -> Result<i64, EdgeError> {
        Ok(self.parts.edge.retention_days(tenant).await?)
    }

    /// Sets how many days the tenant keeps conversations.
    pub async fn set_retention_days(&self, tenant: &str, days: i64, actor: &str) -> Result<(), EdgeError> {
        Ok(self.parts.edge.set_retention_days(tenant, days, actor).await?)
    }

    /// Gives the account a new hook id (audited); the old one leads nowhere from now on.
    pub async fn rotate(&self, tenant: &str, account: Uuid, actor: &str) -> Result<(), EdgeError> {
        self.parts.edge.rotate_hook(tenant, account, actor).await?;
        Ok(())
    }

    /// The inbound hooks of these accounts (one is made for each that lacks it).
    pub async fn hooks(&self, tenant: &str, accounts: &[Uuid]) -> Result<Vec<patchbay_store::InboundHook>, EdgeError> {
        Ok(self.parts.edge.inbound_hooks(tenant, accounts).await?)
    }
}

/// Purges conversations past their tenant's retention, at start and every `purge_every`.
fn spawn_purge(edge: std::sync::Weak<Edge>) {
    tokio::spawn(async move {
        loop {
            let Some(strong) = edge.upgrade() else { return };
            let every = strong.options.purge_every;
            match strong.parts.edge.purge_conversations(chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "purged conversations past their tenant's retention"),
                Err(e) => tracing::error!(error = %e, "the edge could not purge old conversations"),
            }
            drop(strong);
            tokio::time::sleep(every).await;
        }
    });
}

fn credentials<'a>(
    account: &'a Account,
    secrets: &'a std::collections::BTreeMap<String, patchbay_secrets::SecretString>,
) -> Credentials<'a> {
    Credentials { account_id: account.id, properties: &account.properties, secrets }
}

fn unopened(error: &patchbay_secrets::SecretsError) -> Refusal {
    tracing::error!(error = %error, "cannot open an account's secrets to verify a delivery");
    Refusal { status: 503, reason: "the account's secrets cannot be opened now; try again later".into() }
}

/// Whether the delivery says it is JSON (`application/json`, any parameters).
fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}
