//! The messenger edge's state: each inbound account's random hook id and what its webhook
//! saw (`edge_health`), the inbox of verified deliveries (written before the vendor's 200,
//! read into conversations after), conversations with their messages, and the per-tenant
//! numbered events the contact center reads.
//!
//! Events are numbered per tenant in commit order: every writer of events takes the
//! tenant's `edge_tenants` row (a row lock on PostgreSQL, the one writer on SQLite) and
//! holds it until it commits, so a reader that saw event `n` never later finds a smaller
//! number appearing. The inbox is read by one node at a time (an advisory lock on
//! PostgreSQL), oldest delivery first, so a conversation's messages become events in the
//! order they were delivered. Each inbound message is recorded once per account by the
//! vendor's id (`dedup_key`), so a redelivery gives no second event.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::sql::write_err;
use crate::sql::{json_text, now, parse_json, parse_uuid, Pools};
use crate::{Conflict, Result, SqlStore, StoreError, Timestamp};

/// How long conversations are kept when the tenant set nothing.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

/// The PostgreSQL advisory lock the inbox reader holds for its transaction.
const INBOX_LOCK: i64 = 0x7062_6564_6765; // "pbedge"

/// An account's inbound webhook: its hook id and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundHook {
    pub account_id: Uuid,
    pub hook_id: String,
    pub health: EdgeHealth,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeHealth {
    pub accepted: i64,
    pub rejected: i64,
    pub last_delivery_at: Option<Timestamp>,
    pub last_rejected: Option<RejectedDelivery>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedDelivery {
    pub at: Timestamp,
    /// The HTTP status the vendor got.
    pub status: u16,
    pub reason: String,
}

/// The account a hook id leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookTarget {
    pub tenant_id: String,
    pub account_id: Uuid,
}

/// A verified delivery to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub tenant_id: String,
    pub account_id: Uuid,
    pub provider: String,
    pub body: Vec<u8>,
}

/// A refused delivery, counted in the account's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub tenant_id: String,
    pub account_id: Uuid,
    pub status: u16,
    pub reason: String,
}

/// A kept delivery, as the inbox reader gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: i64,
    pub tenant_id: String,
    pub account_id: Uuid,
    pub provider: String,
    pub body: Vec<u8>,
    pub received_at: Timestamp,
}

/// What a delivery says, read by the vendor's parser.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub messages: Vec<InboundMessage>,
    pub statuses: Vec<StatusUpdate>,
}

/// A customer's message.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The customer (or chat) as the vendor names it; with the account, it keys the
    /// conversation.
    pub peer: String,
    /// Where replies are sent from, when the vendor needs it (Vonage: the number written to).
    pub reply_from: Option<String>,
    pub display_name: Option<String>,
    /// The vendor's id of this message (or of the update that carries it): one message per
    /// account and key.
    pub dedup_key: String,
    /// The vendor's message id.
    pub vendor_id: Option<String>,
    pub text: Option<String>,
    /// Vendor references (type, URL or file id, name), JSON.
    pub attachments: serde_json::Value,
    /// When the vendor says it was sent.
    pub at: Timestamp,
}

/// A vendor's word on a message sent to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The vendor's id of the outbound message.
    pub vendor_id: String,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub at: Timestamp,
}

/// Where a message stands. Outbound messages move forward only (`Pending` → `Sent` →
/// `Delivered` → `Read`), or to `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Received,
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Pending => "pending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<MessageStatus> {
        Ok(match text {
            "received" => MessageStatus::Received,
            "pending" => MessageStatus::Pending,
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "read" => MessageStatus::Read,
            "failed" => MessageStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("conversation_messages.status {other:?}"))),
        })
    }

    /// Whether a message at `self` may move to `next`.
    fn advances_to(self, next: MessageStatus) -> bool {
        match (self, next) {
            (MessageStatus::Failed | MessageStatus::Received, _) => false,
            (_, MessageStatus::Failed) => true,
            (current, next) => next > current,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageDirection {
    In,
    Out,
}

impl MessageDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageDirection::In => "in",
            MessageDirection::Out => "out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ConversationStarted,
    MessageIn,
    MessageStatus,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ConversationStarted => "conversation_started",
            EventKind::MessageIn => "message_in",
            EventKind::MessageStatus => "message_status",
        }
    }

    fn parse(text: &str) -> Result<EventKind> {
        Ok(match text {
            "conversation_started" => EventKind::ConversationStarted,
            "message_in" => EventKind::MessageIn,
            "message_status" => EventKind::MessageStatus,
            other => return Err(StoreError::Corrupt(format!("conversation_events.kind {other:?}"))),
        })
    }
}

/// A message as events carry it and the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: Uuid,
    pub direction: MessageDirection,
    pub text: Option<String>,
    pub attachments: serde_json::Value,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub vendor_id: Option<String>,
    pub at: Timestamp,
}

/// The customer of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub id: String,
    pub name: Option<String>,
}

/// One numbered event of a tenant, as it was when it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationEvent {
    pub seq: i64,
    pub kind: EventKind,
    pub conversation_id: Uuid,
    pub account_id: Uuid,
    pub channel: String,
    pub from: Peer,
    pub message: Option<MessageRecord>,
    pub at: Timestamp,
}

/// What the event row's payload holds besides its columns.
#[derive(Serialize, Deserialize)]
struct EventPayload {
    account_id: Uuid,
    channel: String,
    from: Peer,
    message: Option<MessageRecord>,
}

/// What one pass over the inbox did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboxPass {
    /// Deliveries read (and removed from the inbox).
    pub items: usize,
    /// Per delivery read: its provider and when it was received.
    pub received: Vec<(String, Timestamp)>,
    /// Tenants that got new events.
    pub tenants: Vec<String>,
    /// Inbound messages already recorded (redeliveries).
    pub duplicates: usize,
}

/// A conversation: one customer of one messenger account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: Uuid,
    pub tenant_id: String,
    pub account_id: Uuid,
    pub channel: String,
    pub peer: String,
    pub reply_from: Option<String>,
    pub display_name: Option<String>,
    pub started_at: Timestamp,
    pub last_message_at: Timestamp,
}

/// A reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbound<'a> {
    pub tenant: &'a str,
    pub conversation: Uuid,
    /// The caller's idempotency key: the same key again gives the same message, sent once.
    pub key: Option<&'a str>,
    pub text: &'a str,
    pub actor: &'a str,
}

/// A reply due to be sent, with where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMessage {
    pub id: Uuid,
    pub tenant_id: String,
    pub account_id: Uuid,
    pub conversation_id: Uuid,
    pub channel: String,
    pub peer: String,
    pub reply_from: Option<String>,
    pub text: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// When it was asked for.
    pub at: Timestamp,
}

/// How an attempt to send a reply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent {
        vendor_id: Option<String>,
    },
    /// Try again at `at` (the vendor was busy or failed); `error` says what happened.
    Retry {
        at: Timestamp,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// The field name a subscription's signing secret is sealed under.
pub const SIGNING_SECRET: &str = "signing_secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionState {
    Active,
    /// Gave up after failing too long; nothing is sent until it is resumed.
    Failed,
}

impl SubscriptionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Active => "active",
            SubscriptionState::Failed => "failed",
        }
    }
}

/// A new subscription, its signing secret already sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub id: Uuid,
    pub tenant_id: String,
    pub url: String,
    /// Event types (`message_in`, …) it receives.
    pub events: Vec<String>,
    pub secret: crate::SealedSecret,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: Uuid,
    pub tenant_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: crate::SealedSecret,
    pub state: SubscriptionState,
    /// The last event number done (delivered, or skipped as not subscribed).
    pub delivered_seq: i64,
    /// Failed attempts at the head event so far.
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub failing_since: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_status: Option<u16>,
    pub last_delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// How delivering a subscription's events went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Events through `seq` are done (delivered or skipped).
    Done { seq: i64, delivered: bool },
    /// The head event failed: try again at `retry_at`, or give up (`retry_at` `None`).
    Failed { error: String, status: Option<u16>, retry_at: Option<Timestamp> },
}

#[async_trait]
pub trait EdgeStore: Send + Sync + 'static {
    /// The inbound hooks of these accounts of the tenant, giving a new random hook id to
    /// each that has none yet.
    async fn inbound_hooks(&self, tenant: &str, accounts: &[Uuid]) -> Result<Vec<InboundHook>>;
    /// Gives the account a new random hook id (the old URL stops working at once),
    /// audited as `inbound_webhook.rotate`.
    async fn rotate_hook(&self, tenant: &str, account: Uuid, actor: &str) -> Result<InboundHook>;
    /// The account a hook id leads to.
    async fn hook_target(&self, hook_id: &str) -> Result<Option<HookTarget>>;
    /// Keeps the accepted deliveries in the inbox (read oldest first: in this order) and
    /// counts both kinds in the accounts' health, in one transaction; returns how many it kept.
    async fn write_deliveries(&self, accepted: &[Delivery], rejected: &[Rejection]) -> Result<usize>;
    /// Reads up to `limit` of the oldest kept deliveries with `read`, records what they say
    /// (conversations, messages, events) and removes them, in one transaction.
    async fn read_inbox(
        &self,
        limit: i64,
        read: &(dyn for<'i> Fn(&'i InboxItem) -> Parsed + Sync),
    ) -> Result<InboxPass>;
    /// Deliveries still in the inbox.
    async fn inbox_len(&self) -> Result<i64>;
    /// Up to `limit` of the tenant's events numbered above `after`, oldest first.
    async fn events_after(&self, tenant: &str, after: i64, limit: i64) -> Result<Vec<ConversationEvent>>;
    /// The tenant's last event number (0 before the first).
    async fn last_event(&self, tenant: &str) -> Result<i64>;
    /// The tenant's newest `limit` events of `kind`, newest first.
    async fn recent_events(&self, tenant: &str, kind: EventKind, limit: i64) -> Result<Vec<ConversationEvent>>;
    async fn conversation(&self, tenant: &str, id: Uuid) -> Result<Conversation>;
    /// The conversation's newest `limit` messages, oldest first.
    async fn conversation_messages(&self, tenant: &str, id: Uuid, limit: i64) -> Result<Vec<MessageRecord>>;
    /// Records a reply as `pending` and due now; `(message, true)`. With a key already used
    /// in the conversation for the same text, the message it made and `false`; for another
    /// text, `Conflict::IdempotencyKeyReused`.
    async fn create_outbound(&self, reply: &NewOutbound<'_>) -> Result<(MessageRecord, bool)>;
    /// Up to `limit` pending replies due now whose lease is free, oldest first, each leased
    /// for `lease` and counted as one more attempt.
    async fn take_due_outbound(&self, lease: std::time::Duration, limit: i64) -> Result<Vec<DueMessage>>;
    /// Records how an attempt ended: `Sent` and `Failed` give a `message_status` event.
    /// Returns the message as it is now.
    async fn finish_outbound(&self, id: Uuid, outcome: &SendOutcome) -> Result<MessageRecord>;
    /// Deletes the conversations (with their messages and events) untouched for longer
    /// than their tenant keeps them; returns how many went.
    async fn purge_conversations(&self, now: Timestamp) -> Result<u64>;
    /// How many days the tenant keeps conversations ([`DEFAULT_RETENTION_DAYS`] unless set).
    async fn retention_days(&self, tenant: &str) -> Result<i64>;
    /// Sets it, audited as `conversations.retention.update`.
    async fn set_retention_days(&self, tenant: &str, days: i64, actor: &str) -> Result<()>;
    /// Creates the subscription, starting after the tenant's newest event; audited as
    /// `subscription.create`.
    async fn create_subscription(&self, subscription: &NewSubscription) -> Result<Subscription>;
    async fn subscriptions(&self, tenant: &str) -> Result<Vec<Subscription>>;
    async fn subscription(&self, tenant: &str, id: Uuid) -> Result<Subscription>;
    /// Audited as `subscription.delete`.
    async fn delete_subscription(&self, tenant: &str, id: Uuid, actor: &str) -> Result<()>;
    /// Makes a failed subscription active again, due now, from where it stopped; audited as
    /// `subscription.resume`.
    async fn resume_subscription(&self, tenant: &str, id: Uuid, actor: &str) -> Result<Subscription>;
    /// Up to `limit` active subscriptions due now whose lease is free, each leased for `lease`.
    async fn take_due_subscriptions(&self, lease: std::time::Duration, limit: i64) -> Result<Vec<Subscription>>;
    /// Records how a delivery went and frees the lease. Nothing changes when the
    /// subscription was deleted meanwhile.
    async fn record_subscription(&self, id: Uuid, outcome: &DeliveryOutcome) -> Result<()>;
}

#[derive(sqlx::FromRow)]
struct HookRow {
    account_id: String,
    hook_id: String,
    accepted: Option<i64>,
    rejected: Option<i64>,
    last_delivery_at: Option<Timestamp>,
    last_rejected_at: Option<Timestamp>,
    last_rejected_status: Option<i64>,
    last_rejected_reason: Option<String>,
}

impl HookRow {
    fn into_hook(self) -> Result<InboundHook> {
        let last_rejected = match (self.last_rejected_at, self.last_rejected_status, self.last_rejected_reason) {
            (Some(at), Some(status), Some(reason)) => Some(RejectedDelivery {
                at,
                status: u16::try_from(status)
                    .map_err(|_| StoreError::Corrupt(format!("edge_health.last_rejected_status {status}")))?,
                reason,
            }),
            _ => None,
        };
        Ok(InboundHook {
            account_id: parse_uuid("edge_hooks.account_id", &self.account_id)?,
            hook_id: self.hook_id,
            health: EdgeHealth {
                accepted: self.accepted.unwrap_or_default(),
                rejected: self.rejected.unwrap_or_default(),
                last_delivery_at: self.last_delivery_at,
                last_rejected,
            },
        })
    }
}

const HOOKS: &str = "SELECT k.account_id, k.hook_id, h.accepted, h.rejected, h.last_delivery_at, h.last_rejected_at, \
                     h.last_rejected_status, h.last_rejected_reason \
                     FROM edge_hooks k LEFT JOIN edge_health h ON h.account_id = k.account_id \
                     WHERE k.tenant_id = $1";

/// A new hook id: 128 random bits from the operating system, as 32 hex digits.
fn new_hook_id() -> String {
    Uuid::new_v4().simple().to_string()
}

#[derive(sqlx::FromRow)]
struct InboxRow {
    id: i64,
    tenant_id: String,
    account_id: String,
    provider: String,
    body: Vec<u8>,
    received_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    kind: String,
    conversation_id: String,
    payload: String,
    at: Timestamp,
}

impl EventRow {
    fn into_event(self) -> Result<ConversationEvent> {
        let payload: EventPayload = parse_json("conversation_events.payload", &self.payload)?;
        Ok(ConversationEvent {
            seq: self.seq,
            kind: EventKind::parse(&self.kind)?,
            conversation_id: parse_uuid("conversation_events.conversation_id", &self.conversation_id)?,
            account_id: payload.account_id,
            channel: payload.channel,
            from: payload.from,
            message: payload.message,
            at: self.at,
        })
    }
}

/// An event about to be numbered and written.
struct PendingEvent {
    tenant: String,
    kind: EventKind,
    conversation: String,
    payload: String,
    at: Timestamp,
}

impl PendingEvent {
    fn new(tenant: &str, kind: EventKind, conversation: &str, payload: &EventPayload, at: Timestamp) -> PendingEvent {
        PendingEvent {
            tenant: tenant.to_owned(),
            kind,
            conversation: conversation.to_owned(),
            payload: json_text(payload),
            at,
        }
    }
}

/// Events written per statement at most.
const EVENTS_PER_INSERT: usize = 100;

/// Numbers `$events` (a `Vec<PendingEvent>`, in order) and writes them inside `$tx`: one
/// block of numbers per tenant from its counter row (locked until the commit), then the
/// events, many per statement.
macro_rules! insert_events {
    ($tx:ident, $events:expr) => {{
        let events: Vec<PendingEvent> = $events;
        let mut tenants: Vec<&str> = Vec::new();
        for event in &events {
            if !tenants.contains(&event.tenant.as_str()) {
                tenants.push(&event.tenant);
            }
        }
        for tenant in tenants {
            let mine: Vec<&PendingEvent> = events.iter().filter(|e| e.tenant == tenant).collect();
            let count = mine.len() as i64;
            let first: i64 = sqlx::query_scalar(
                "INSERT INTO edge_tenants (tenant_id, next_seq) VALUES ($1, $2 + 1) \
                 ON CONFLICT (tenant_id) DO UPDATE SET next_seq = edge_tenants.next_seq + $2 \
                 RETURNING next_seq - $2",
            )
            .bind(tenant)
            .bind(count)
            .fetch_one(&mut *$tx)
            .await?;
            for (chunk_at, chunk) in mine.chunks(EVENTS_PER_INSERT).enumerate() {
                let base = first + (chunk_at * EVENTS_PER_INSERT) as i64;
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO conversation_events (tenant_id, seq, kind, conversation_id, payload, at) ",
                );
                insert.push_values(chunk.iter().enumerate(), |mut row, (n, event)| {
                    row.push_bind(tenant)
                        .push_bind(base + n as i64)
                        .push_bind(event.kind.as_str())
                        .push_bind(event.conversation.as_str())
                        .push_bind(event.payload.as_str())
                        .push_bind(event.at);
                });
                insert.build().execute(&mut *$tx).await?;
            }
        }
    }};
}

/// A message joined with its conversation's customer.
macro_rules! message_columns {
    () => {
        "SELECT m.id, m.conversation_id, m.direction, m.text, m.attachments, m.status, m.error, m.vendor_id, m.at, \
         c.peer, c.display_name FROM conversation_messages m JOIN conversations c ON c.id = m.conversation_id"
    };
}

#[derive(Clone, sqlx::FromRow)]
struct MessageRow {
    id: String,
    conversation_id: String,
    direction: String,
    text: Option<String>,
    attachments: String,
    status: String,
    error: Option<String>,
    vendor_id: Option<String>,
    at: Timestamp,
    peer: String,
    display_name: Option<String>,
}

impl MessageRow {
    fn into_record(self) -> Result<MessageRecord> {
        Ok(MessageRecord {
            id: parse_uuid("conversation_messages.id", &self.id)?,
            direction: match self.direction.as_str() {
                "in" => MessageDirection::In,
                "out" => MessageDirection::Out,
                other => return Err(StoreError::Corrupt(format!("conversation_messages.direction {other:?}"))),
            },
            text: self.text,
            attachments: parse_json("conversation_messages.attachments", &self.attachments)?,
            status: MessageStatus::parse(&self.status)?,
            error: self.error,
            vendor_id: self.vendor_id,
            at: self.at,
        })
    }
}

#[async_trait]
impl EdgeStore for SqlStore {
    async fn inbound_hooks(&self, tenant: &str, accounts: &[Uuid]) -> Result<Vec<InboundHook>> {
        let read = |rows: Vec<HookRow>| -> Result<HashMap<Uuid, InboundHook>> {
            rows.into_iter().map(|r| r.into_hook().map(|h| (h.account_id, h))).collect()
        };
        let rows: Vec<HookRow> = with_reader!(self, |pool| sqlx::query_as(HOOKS).bind(tenant).fetch_all(pool).await?);
        let mut hooks = read(rows)?;
        let missing: Vec<&Uuid> = accounts.iter().filter(|a| !hooks.contains_key(a)).collect();
        if !missing.is_empty() {
            let now = now();
            let rows: Vec<HookRow> = in_write_tx!(self, |tx| {
                for account in &missing {
                    // An account of another tenant, or deleted meanwhile, gets no hook.
                    sqlx::query(
                        "INSERT INTO edge_hooks (hook_id, tenant_id, account_id, created_at) \
                         SELECT $1, tenant_id, id, $4 FROM accounts WHERE tenant_id = $2 AND id = $3 \
                         ON CONFLICT (account_id) DO NOTHING",
                    )
                    .bind(new_hook_id())
                    .bind(tenant)
                    .bind(account.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query_as(HOOKS).bind(tenant).fetch_all(&mut *tx).await?
            });
            hooks = read(rows)?;
        }
        Ok(accounts.iter().filter_map(|a| hooks.remove(a)).collect())
    }

    async fn rotate_hook(&self, tenant: &str, account: Uuid, actor: &str) -> Result<InboundHook> {
        let now = now();
        let id = account.to_string();
        in_write_tx!(self, |tx| {
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            sqlx::query(
                "INSERT INTO edge_hooks (hook_id, tenant_id, account_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account_id) DO UPDATE SET hook_id = excluded.hook_id, created_at = excluded.created_at",
            )
            .bind(new_hook_id())
            .bind(tenant)
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, tenant, Some(&id), actor, "inbound_webhook.rotate", serde_json::json!({}), now);
        });
        self.inbound_hooks(tenant, &[account]).await?.pop().ok_or(StoreError::NotFound)
    }

    async fn hook_target(&self, hook_id: &str) -> Result<Option<HookTarget>> {
        let row: Option<(String, String)> = with_reader!(self, |pool| {
            sqlx::query_as("SELECT tenant_id, account_id FROM edge_hooks WHERE hook_id = $1")
                .bind(hook_id)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(tenant_id, account)| {
            Ok(HookTarget { tenant_id, account_id: parse_uuid("edge_hooks.account_id", &account)? })
        })
        .transpose()
    }

    async fn write_deliveries(&self, accepted: &[Delivery], rejected: &[Rejection]) -> Result<usize> {
        let now = now();
        // One health update per account and batch.
        let mut counts: HashMap<(&str, Uuid), (i64, Option<&Rejection>)> = HashMap::new();
        for delivery in accepted {
            counts.entry((&delivery.tenant_id, delivery.account_id)).or_default().0 += 1;
        }
        let mut refused: HashMap<(&str, Uuid), (i64, &Rejection)> = HashMap::new();
        for rejection in rejected {
            let entry = refused.entry((&rejection.tenant_id, rejection.account_id)).or_insert((0, rejection));
            entry.0 += 1;
            entry.1 = rejection;
        }
        in_write_tx!(self, |tx| {
            for chunk in accepted.chunks(EVENTS_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO edge_inbox (tenant_id, account_id, provider, body, received_at) ",
                );
                insert.push_values(chunk, |mut row, delivery| {
                    row.push_bind(delivery.tenant_id.as_str())
                        .push_bind(delivery.account_id.to_string())
                        .push_bind(delivery.provider.as_str())
                        .push_bind(delivery.body.as_slice())
                        .push_bind(now);
                });
                insert.build().execute(&mut *tx).await?;
            }
            for ((tenant, account), (n, _)) in &counts {
                sqlx::query(
                    "INSERT INTO edge_health (account_id, tenant_id, accepted, rejected, last_delivery_at) \
                     SELECT id, tenant_id, $3, 0, $4 FROM accounts WHERE id = $1 AND tenant_id = $2 \
                     ON CONFLICT (account_id) DO UPDATE SET accepted = edge_health.accepted + excluded.accepted, \
                     last_delivery_at = excluded.last_delivery_at",
                )
                .bind(account.to_string())
                .bind(*tenant)
                .bind(n)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for ((tenant, account), (n, last)) in &refused {
                sqlx::query(
                    "INSERT INTO edge_health (account_id, tenant_id, accepted, rejected, last_rejected_at, \
                     last_rejected_status, last_rejected_reason) \
                     SELECT id, tenant_id, 0, $3, $4, $5, $6 FROM accounts WHERE id = $1 AND tenant_id = $2 \
                     ON CONFLICT (account_id) DO UPDATE SET rejected = edge_health.rejected + excluded.rejected, \
                     last_rejected_at = excluded.last_rejected_at, \
                     last_rejected_status = excluded.last_rejected_status, \
                     last_rejected_reason = excluded.last_rejected_reason",
                )
                .bind(account.to_string())
                .bind(*tenant)
                .bind(n)
                .bind(now)
                .bind(i64::from(last.status))
                .bind(&last.reason)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(accepted.len())
    }

    async fn read_inbox(
        &self,
        limit: i64,
        read: &(dyn for<'i> Fn(&'i InboxItem) -> Parsed + Sync),
    ) -> Result<InboxPass> {
        let now = now();
        let postgres = matches!(self.pools, Pools::Postgres(_));
        let mut pass = InboxPass::default();
        in_write_tx!(self, |tx| {
            if postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INBOX_LOCK).execute(&mut *tx).await?;
            }
            let rows: Vec<InboxRow> = sqlx::query_as(
                "SELECT id, tenant_id, account_id, provider, body, received_at FROM edge_inbox ORDER BY id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let mut read_ids = Vec::with_capacity(rows.len());
            let items = rows
                .into_iter()
                .map(|row| inbox_item(row).map(|item| (read(&item), item)))
                .collect::<Result<Vec<_>>>()?;
            // Which of the pass's inbound messages are already recorded: one query per
            // account and hundred keys.
            let mut keys: HashMap<String, Vec<&str>> = HashMap::new();
            for (parsed, item) in &items {
                let account = keys.entry(item.account_id.to_string()).or_default();
                account.extend(parsed.messages.iter().map(|m| m.dedup_key.as_str()));
            }
            let mut recorded: std::collections::HashSet<(String, &str)> = std::collections::HashSet::new();
            for (account, wanted) in &keys {
                for chunk in wanted.chunks(EVENTS_PER_INSERT) {
                    let mut query = sqlx::QueryBuilder::new(
                        "SELECT dedup_key FROM conversation_messages WHERE direction = 'in' AND account_id = ",
                    );
                    query.push_bind(account.as_str()).push(" AND dedup_key IN (");
                    let mut list = query.separated(", ");
                    for key in chunk {
                        list.push_bind(*key);
                    }
                    query.push(")");
                    let found: Vec<(String,)> = query.build_query_as().fetch_all(&mut *tx).await?;
                    for (key,) in found {
                        if let Some(known) = chunk.iter().find(|k| **k == key) {
                            recorded.insert((account.clone(), *known));
                        }
                    }
                }
            }
            // What the pass does, in delivery order: new messages (a repeat within the pass
            // counts as a redelivery) and status updates.
            enum Step<'a> {
                Message(&'a InboxItem, &'a InboundMessage),
                Status(&'a InboxItem, &'a StatusUpdate),
            }
            let mut steps = Vec::new();
            // The conversations the new messages need: upserted once each, with the
            // first message's name and reply address, all at the pass's `now`.
            // Keyed by account and peer; `proposed` holds the id each would get if new.
            let mut wanted: Vec<(&InboxItem, &InboundMessage, String)> = Vec::new();
            let mut proposed: HashMap<(String, String), String> = HashMap::new();
            let mut conversations: HashMap<(String, String), (String, Option<String>, bool)> = HashMap::new();
            for (parsed, item) in &items {
                let account = item.account_id.to_string();
                for message in &parsed.messages {
                    if !recorded.insert((account.clone(), message.dedup_key.as_str())) {
                        pass.duplicates += 1;
                        continue;
                    }
                    let key = (account.clone(), message.peer.clone());
                    if let std::collections::hash_map::Entry::Vacant(new) = proposed.entry(key) {
                        let id = Uuid::now_v7().to_string();
                        wanted.push((item, message, id.clone()));
                        new.insert(id);
                    }
                    steps.push(Step::Message(item, message));
                }
                steps.extend(parsed.statuses.iter().map(|u| Step::Status(item, u)));
            }
            for chunk in wanted.chunks(EVENTS_PER_INSERT) {
                let mut upsert = sqlx::QueryBuilder::new(
                    "INSERT INTO conversations (id, tenant_id, account_id, channel, peer, reply_from, display_name, \
                     started_at, last_message_at) ",
                );
                upsert.push_values(chunk, |mut row, (item, message, proposed)| {
                    row.push_bind(proposed.as_str())
                        .push_bind(item.tenant_id.as_str())
                        .push_bind(item.account_id.to_string())
                        .push_bind(item.provider.as_str())
                        .push_bind(message.peer.as_str())
                        .push_bind(message.reply_from.as_deref())
                        .push_bind(message.display_name.as_deref())
                        .push_bind(now)
                        .push_bind(now);
                });
                upsert.push(
                    " ON CONFLICT (account_id, peer) DO UPDATE SET last_message_at = excluded.last_message_at, \
                     display_name = COALESCE(excluded.display_name, conversations.display_name), \
                     reply_from = COALESCE(excluded.reply_from, conversations.reply_from) \
                     RETURNING id, account_id, peer, display_name",
                );
                let rows: Vec<(String, String, String, Option<String>)> =
                    upsert.build_query_as().fetch_all(&mut *tx).await?;
                for (id, account, peer, name) in rows {
                    let key = (account, peer);
                    let started = proposed.get(&key) == Some(&id);
                    conversations.insert(key, (id, name, started));
                }
            }
            let mut events = Vec::new();
            let mut messages: Vec<(&InboxItem, &InboundMessage, String, MessageRecord)> = Vec::new();
            for step in steps {
                match step {
                    Step::Message(item, message) => {
                        let key = (item.account_id.to_string(), message.peer.clone());
                        let Some((conversation, name, started)) = conversations.get_mut(&key) else {
                            return Err(StoreError::Corrupt("a conversation upsert returned no row".into()));
                        };
                        if *started {
                            // Its first event, once.
                            *started = false;
                            let payload = EventPayload {
                                account_id: item.account_id,
                                channel: item.provider.clone(),
                                from: Peer { id: message.peer.clone(), name: name.clone() },
                                message: None,
                            };
                            let started_event = EventKind::ConversationStarted;
                            events.push(PendingEvent::new(&item.tenant_id, started_event, conversation, &payload, now));
                        }
                        let record = MessageRecord {
                            id: Uuid::now_v7(),
                            direction: MessageDirection::In,
                            text: message.text.clone(),
                            attachments: message.attachments.clone(),
                            status: MessageStatus::Received,
                            error: None,
                            vendor_id: message.vendor_id.clone(),
                            at: message.at,
                        };
                        let payload = EventPayload {
                            account_id: item.account_id,
                            channel: item.provider.clone(),
                            from: Peer { id: message.peer.clone(), name: name.clone() },
                            message: Some(record.clone()),
                        };
                        events.push(PendingEvent::new(
                            &item.tenant_id,
                            EventKind::MessageIn,
                            conversation,
                            &payload,
                            now,
                        ));
                        messages.push((item, message, conversation.clone(), record));
                        if !pass.tenants.contains(&item.tenant_id) {
                            pass.tenants.push(item.tenant_id.clone());
                        }
                    }
                    Step::Status(item, update) => {
                        let row: Option<MessageRow> = sqlx::query_as(concat!(
                            message_columns!(),
                            " WHERE m.account_id = $1 AND m.direction = 'out' AND m.vendor_id = $2"
                        ))
                        .bind(item.account_id.to_string())
                        .bind(&update.vendor_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        let Some(row) = row else { continue };
                        let current = MessageStatus::parse(&row.status)?;
                        if !current.advances_to(update.status) {
                            continue;
                        }
                        sqlx::query(
                            "UPDATE conversation_messages SET status = $2, error = $3, updated_at = $4 WHERE id = $1",
                        )
                        .bind(&row.id)
                        .bind(update.status.as_str())
                        .bind(update.error.as_deref())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        let conversation = row.conversation_id.clone();
                        let (peer, name) = (row.peer.clone(), row.display_name.clone());
                        let mut record = row.into_record()?;
                        record.status = update.status;
                        record.error = update.error.clone();
                        let payload = EventPayload {
                            account_id: item.account_id,
                            channel: item.provider.clone(),
                            from: Peer { id: peer, name },
                            message: Some(record),
                        };
                        let kind = EventKind::MessageStatus;
                        events.push(PendingEvent::new(&item.tenant_id, kind, &conversation, &payload, update.at));
                        if !pass.tenants.contains(&item.tenant_id) {
                            pass.tenants.push(item.tenant_id.clone());
                        }
                    }
                }
            }
            for chunk in messages.chunks(EVENTS_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO conversation_messages (id, tenant_id, account_id, conversation_id, direction, \
                     dedup_key, vendor_id, text, attachments, status, at, updated_at) ",
                );
                insert.push_values(chunk, |mut row, (item, message, conversation, record)| {
                    row.push_bind(record.id.to_string())
                        .push_bind(item.tenant_id.as_str())
                        .push_bind(item.account_id.to_string())
                        .push_bind(conversation.as_str())
                        .push_bind("in")
                        .push_bind(message.dedup_key.as_str())
                        .push_bind(message.vendor_id.as_deref())
                        .push_bind(message.text.as_deref())
                        .push_bind(json_text(&message.attachments))
                        .push_bind(record.status.as_str())
                        .push_bind(message.at)
                        .push_bind(now);
                });
                insert.build().execute(&mut *tx).await?;
            }
            for (_, item) in &items {
                read_ids.push(item.id);
                pass.items += 1;
                pass.received.push((item.provider.clone(), item.received_at));
            }
            insert_events!(tx, events);
            for chunk in read_ids.chunks(EVENTS_PER_INSERT) {
                let mut delete = sqlx::QueryBuilder::new("DELETE FROM edge_inbox WHERE id IN (");
                let mut ids = delete.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                delete.push(")");
                delete.build().execute(&mut *tx).await?;
            }
        });
        Ok(pass)
    }

    async fn inbox_len(&self) -> Result<i64> {
        Ok(with_reader!(self, |pool| { sqlx::query_scalar("SELECT COUNT(*) FROM edge_inbox").fetch_one(pool).await? }))
    }

    async fn events_after(&self, tenant: &str, after: i64, limit: i64) -> Result<Vec<ConversationEvent>> {
        let rows: Vec<EventRow> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, kind, conversation_id, payload, at FROM conversation_events \
                 WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(tenant)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(EventRow::into_event).collect()
    }

    async fn recent_events(&self, tenant: &str, kind: EventKind, limit: i64) -> Result<Vec<ConversationEvent>> {
        let rows: Vec<EventRow> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, kind, conversation_id, payload, at FROM conversation_events \
                 WHERE tenant_id = $1 AND kind = $2 ORDER BY seq DESC LIMIT $3",
            )
            .bind(tenant)
            .bind(kind.as_str())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(EventRow::into_event).collect()
    }

    async fn last_event(&self, tenant: &str) -> Result<i64> {
        let next: Option<i64> = with_reader!(self, |pool| {
            sqlx::query_scalar("SELECT next_seq FROM edge_tenants WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(pool)
                .await?
        });
        Ok(next.map_or(0, |n| n - 1))
    }

    async fn conversation(&self, tenant: &str, id: Uuid) -> Result<Conversation> {
        let row: Option<ConversationRow> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT id, tenant_id, account_id, channel, peer, reply_from, display_name, started_at, \
                 last_message_at FROM conversations WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound)?.into_conversation()
    }

    async fn conversation_messages(&self, tenant: &str, id: Uuid, limit: i64) -> Result<Vec<MessageRecord>> {
        let rows: Vec<MessageRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(
                message_columns!(),
                " WHERE m.tenant_id = $1 AND m.conversation_id = $2 ORDER BY m.at DESC, m.id DESC LIMIT $3"
            ))
            .bind(tenant)
            .bind(id.to_string())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        let mut messages = rows.into_iter().map(MessageRow::into_record).collect::<Result<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    async fn create_outbound(&self, reply: &NewOutbound<'_>) -> Result<(MessageRecord, bool)> {
        let now = now();
        let conversation = reply.conversation.to_string();
        let id = Uuid::now_v7();
        let dedup = match reply.key {
            Some(key) => format!("{conversation}:key:{key}"),
            None => format!("{conversation}:id:{id}"),
        };
        in_write_tx!(self, |tx| {
            let account: Option<String> =
                sqlx::query_scalar("SELECT account_id FROM conversations WHERE tenant_id = $1 AND id = $2")
                    .bind(reply.tenant)
                    .bind(&conversation)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(account) = account else { return Err(StoreError::NotFound) };
            let existing: Option<MessageRow> = sqlx::query_as(concat!(
                message_columns!(),
                " WHERE m.account_id = $1 AND m.direction = 'out' AND m.dedup_key = $2"
            ))
            .bind(&account)
            .bind(&dedup)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(existing) = existing {
                if existing.text.as_deref() != Some(reply.text) {
                    return Err(StoreError::Conflict(Conflict::IdempotencyKeyReused));
                }
                return Ok((existing.into_record()?, false));
            }
            sqlx::query(
                "INSERT INTO conversation_messages (id, tenant_id, account_id, conversation_id, direction, dedup_key, \
                 text, attachments, status, at, updated_at, actor, attempts, due_at) \
                 VALUES ($1, $2, $3, $4, 'out', $5, $6, '[]', 'pending', $7, $7, $8, 0, $7)",
            )
            .bind(id.to_string())
            .bind(reply.tenant)
            .bind(&account)
            .bind(&conversation)
            .bind(&dedup)
            .bind(reply.text)
            .bind(now)
            .bind(reply.actor)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            sqlx::query("UPDATE conversations SET last_message_at = $2 WHERE id = $1")
                .bind(&conversation)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        });
        let record = MessageRecord {
            id,
            direction: MessageDirection::Out,
            text: Some(reply.text.to_owned()),
            attachments: serde_json::json!([]),
            status: MessageStatus::Pending,
            error: None,
            vendor_id: None,
            at: now,
        };
        Ok((record, true))
    }

    async fn take_due_outbound(&self, lease: std::time::Duration, limit: i64) -> Result<Vec<DueMessage>> {
        let now = now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
        let rows: Vec<DueRow> = in_write_tx!(self, |tx| {
            let rows: Vec<DueRow> = sqlx::query_as(
                "SELECT m.id, m.tenant_id, m.account_id, m.conversation_id, c.channel, c.peer, c.reply_from, m.text, \
                 m.attempts, m.at FROM conversation_messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.due_at IS NOT NULL AND m.due_at <= $1 AND (m.lease_until IS NULL OR m.lease_until < $1) \
                 ORDER BY m.at, m.id LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let mut taken = Vec::with_capacity(rows.len());
            for row in rows {
                // Conditional, so two nodes never take the same reply.
                let updated = sqlx::query(
                    "UPDATE conversation_messages SET lease_until = $2, attempts = attempts + 1 \
                     WHERE id = $1 AND due_at IS NOT NULL AND (lease_until IS NULL OR lease_until < $3)",
                )
                .bind(&row.id)
                .bind(until)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 1 {
                    taken.push(row);
                }
            }
            taken
        });
        rows.into_iter().map(DueRow::into_due).collect()
    }

    async fn finish_outbound(&self, id: Uuid, outcome: &SendOutcome) -> Result<MessageRecord> {
        let now = now();
        let id_text = id.to_string();
        let row: MessageRow = in_write_tx!(self, |tx| {
            let (status, vendor_id, error, due): (&str, Option<&str>, Option<&str>, Option<Timestamp>) = match outcome {
                SendOutcome::Sent { vendor_id } => ("sent", vendor_id.as_deref(), None, None),
                SendOutcome::Retry { at, error } => ("pending", None, Some(error.as_str()), Some(*at)),
                SendOutcome::Failed { error } => ("failed", None, Some(error.as_str()), None),
            };
            let updated = sqlx::query(
                "UPDATE conversation_messages SET status = $2, vendor_id = COALESCE($3, vendor_id), error = $4, \
                 due_at = $5, lease_until = NULL, updated_at = $6 WHERE id = $1 AND direction = 'out' AND status = 'pending'",
            )
            .bind(&id_text)
            .bind(status)
            .bind(vendor_id)
            .bind(error)
            .bind(due)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let row: MessageRow = sqlx::query_as(concat!(message_columns!(), " WHERE m.id = $1"))
                .bind(&id_text)
                .fetch_one(&mut *tx)
                .await?;
            if !matches!(outcome, SendOutcome::Retry { .. }) {
                let (tenant, account, channel): (String, String, String) =
                    sqlx::query_as("SELECT c.tenant_id, c.account_id, c.channel FROM conversations c WHERE c.id = $1")
                        .bind(&row.conversation_id)
                        .fetch_one(&mut *tx)
                        .await?;
                let payload = EventPayload {
                    account_id: parse_uuid("conversations.account_id", &account)?,
                    channel,
                    from: Peer { id: row.peer.clone(), name: row.display_name.clone() },
                    message: Some(row.clone().into_record()?),
                };
                insert_events!(
                    tx,
                    vec![PendingEvent::new(&tenant, EventKind::MessageStatus, &row.conversation_id, &payload, now)]
                );
            }
            row
        });
        row.into_record()
    }

    async fn purge_conversations(&self, now: Timestamp) -> Result<u64> {
        let tenants: Vec<(String, Option<i64>)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT DISTINCT c.tenant_id, t.retention_days FROM conversations c \
                 LEFT JOIN edge_tenants t ON t.tenant_id = c.tenant_id",
            )
            .fetch_all(pool)
            .await?
        });
        let mut purged = 0;
        for (tenant, days) in tenants {
            let cutoff = now - chrono::Duration::days(days.unwrap_or(DEFAULT_RETENTION_DAYS));
            purged += in_write_tx!(self, |tx| {
                sqlx::query("DELETE FROM conversations WHERE tenant_id = $1 AND last_message_at < $2")
                    .bind(&tenant)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            });
        }
        Ok(purged)
    }

    async fn retention_days(&self, tenant: &str) -> Result<i64> {
        let days: Option<Option<i64>> = with_reader!(self, |pool| {
            sqlx::query_scalar("SELECT retention_days FROM edge_tenants WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(pool)
                .await?
        });
        Ok(days.flatten().unwrap_or(DEFAULT_RETENTION_DAYS))
    }

    async fn set_retention_days(&self, tenant: &str, days: i64, actor: &str) -> Result<()> {
        let now = now();
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO edge_tenants (tenant_id, next_seq, retention_days) VALUES ($1, 1, $2) \
                 ON CONFLICT (tenant_id) DO UPDATE SET retention_days = excluded.retention_days",
            )
            .bind(tenant)
            .bind(days)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            insert_audit!(
                &mut *tx,
                tenant,
                None::<&str>,
                actor,
                "conversations.retention.update",
                serde_json::json!({"retention_days": days}),
                now
            );
        });
        Ok(())
    }

    async fn create_subscription(&self, new: &NewSubscription) -> Result<Subscription> {
        let now = now();
        let id = new.id.to_string();
        in_write_tx!(self, |tx| {
            let last: Option<i64> = sqlx::query_scalar("SELECT next_seq - 1 FROM edge_tenants WHERE tenant_id = $1")
                .bind(&new.tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO subscriptions (id, tenant_id, url, events, secret_key_id, secret_sealed, state, \
                 delivered_seq, attempts, next_attempt_at, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, 0, $8, $8, $9)",
            )
            .bind(&id)
            .bind(&new.tenant_id)
            .bind(&new.url)
            .bind(json_text(&new.events))
            .bind(i64::from(new.secret.key_id))
            .bind(new.secret.sealed.as_slice())
            .bind(last.unwrap_or(0))
            .bind(now)
            .bind(&new.actor)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            insert_audit!(
                &mut *tx,
                &new.tenant_id,
                None::<&str>,
                &new.actor,
                "subscription.create",
                serde_json::json!({"subscription": id, "url": new.url, "events": new.events}),
                now
            );
        });
        self.subscription(&new.tenant_id, new.id).await
    }

    async fn subscriptions(&self, tenant: &str) -> Result<Vec<Subscription>> {
        let rows: Vec<SubscriptionRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(subscription_columns!(), " WHERE tenant_id = $1 ORDER BY created_at, id"))
                .bind(tenant)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(SubscriptionRow::into_subscription).collect()
    }

    async fn subscription(&self, tenant: &str, id: Uuid) -> Result<Subscription> {
        let row: Option<SubscriptionRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(subscription_columns!(), " WHERE tenant_id = $1 AND id = $2"))
                .bind(tenant)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound)?.into_subscription()
    }

    async fn delete_subscription(&self, tenant: &str, id: Uuid, actor: &str) -> Result<()> {
        let now = now();
        let id = id.to_string();
        in_write_tx!(self, |tx| {
            let deleted = sqlx::query("DELETE FROM subscriptions WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(
                &mut *tx,
                tenant,
                None::<&str>,
                actor,
                "subscription.delete",
                serde_json::json!({"subscription": id}),
                now
            );
        });
        Ok(())
    }

    async fn resume_subscription(&self, tenant: &str, id: Uuid, actor: &str) -> Result<Subscription> {
        let now = now();
        let id_text = id.to_string();
        in_write_tx!(self, |tx| {
            let resumed = sqlx::query(
                "UPDATE subscriptions SET state = 'active', attempts = 0, next_attempt_at = $3, failing_since = NULL \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(&id_text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if resumed.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(
                &mut *tx,
                tenant,
                None::<&str>,
                actor,
                "subscription.resume",
                serde_json::json!({"subscription": id_text}),
                now
            );
        });
        self.subscription(tenant, id).await
    }

    async fn take_due_subscriptions(&self, lease: std::time::Duration, limit: i64) -> Result<Vec<Subscription>> {
        let now = now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
        let rows: Vec<SubscriptionRow> = in_write_tx!(self, |tx| {
            let rows: Vec<SubscriptionRow> = sqlx::query_as(concat!(
                subscription_columns!(),
                " WHERE state = 'active' AND (next_attempt_at IS NULL OR next_attempt_at <= $1) \
                 AND (lease_until IS NULL OR lease_until < $1) \
                 AND EXISTS (SELECT 1 FROM edge_tenants t WHERE t.tenant_id = subscriptions.tenant_id \
                 AND t.next_seq - 1 > subscriptions.delivered_seq) ORDER BY next_attempt_at, id LIMIT $2"
            ))
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let mut taken = Vec::with_capacity(rows.len());
            for row in rows {
                let updated = sqlx::query(
                    "UPDATE subscriptions SET lease_until = $2 WHERE id = $1 AND (lease_until IS NULL OR lease_until < $3)",
                )
                .bind(&row.id)
                .bind(until)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 1 {
                    taken.push(row);
                }
            }
            taken
        });
        rows.into_iter().map(SubscriptionRow::into_subscription).collect()
    }

    async fn record_subscription(&self, id: Uuid, outcome: &DeliveryOutcome) -> Result<()> {
        let now = now();
        let id = id.to_string();
        in_write_tx!(self, |tx| {
            match outcome {
                DeliveryOutcome::Done { seq, delivered } => {
                    sqlx::query(
                        "UPDATE subscriptions SET \
                         delivered_seq = CASE WHEN delivered_seq < $2 THEN $2 ELSE delivered_seq END, attempts = 0, \
                         next_attempt_at = NULL, failing_since = NULL, lease_until = NULL, \
                         last_delivered_at = CASE WHEN $3 THEN $4 ELSE last_delivered_at END, \
                         last_error = CASE WHEN $3 THEN NULL ELSE last_error END WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(seq)
                    .bind(delivered)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                DeliveryOutcome::Failed { error, status, retry_at } => {
                    sqlx::query(
                        "UPDATE subscriptions SET attempts = attempts + 1, next_attempt_at = $2, \
                         failing_since = COALESCE(failing_since, $3), last_error = $4, last_status = $5, \
                         lease_until = NULL, state = CASE WHEN $6 THEN 'failed' ELSE state END WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(retry_at)
                    .bind(now)
                    .bind(error)
                    .bind(status.map(i64::from))
                    .bind(retry_at.is_none())
                    .execute(&mut *tx)
                    .await?;
                }
            }
        });
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: String,
    tenant_id: String,
    account_id: String,
    channel: String,
    peer: String,
    reply_from: Option<String>,
    display_name: Option<String>,
    started_at: Timestamp,
    last_message_at: Timestamp,
}

impl ConversationRow {
    fn into_conversation(self) -> Result<Conversation> {
        Ok(Conversation {
            id: parse_uuid("conversations.id", &self.id)?,
            account_id: parse_uuid("conversations.account_id", &self.account_id)?,
            tenant_id: self.tenant_id,
            channel: self.channel,
            peer: self.peer,
            reply_from: self.reply_from,
            display_name: self.display_name,
            started_at: self.started_at,
            last_message_at: self.last_message_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: String,
    tenant_id: String,
    account_id: String,
    conversation_id: String,
    channel: String,
    peer: String,
    reply_from: Option<String>,
    text: Option<String>,
    attempts: i64,
    at: Timestamp,
}

impl DueRow {
    fn into_due(self) -> Result<DueMessage> {
        Ok(DueMessage {
            id: parse_uuid("conversation_messages.id", &self.id)?,
            account_id: parse_uuid("conversation_messages.account_id", &self.account_id)?,
            conversation_id: parse_uuid("conversation_messages.conversation_id", &self.conversation_id)?,
            tenant_id: self.tenant_id,
            channel: self.channel,
            peer: self.peer,
            reply_from: self.reply_from,
            text: self.text.unwrap_or_default(),
            // Counted when taken: this attempt included.
            attempts: self.attempts + 1,
            at: self.at,
        })
    }
}

fn inbox_item(row: InboxRow) -> Result<InboxItem> {
    Ok(InboxItem {
        id: row.id,
        account_id: parse_uuid("edge_inbox.account_id", &row.account_id)?,
        tenant_id: row.tenant_id,
        provider: row.provider,
        body: row.body,
        received_at: row.received_at,
    })
}

macro_rules! subscription_columns {
    () => {
        "SELECT id, tenant_id, url, events, secret_key_id, secret_sealed, state, delivered_seq, attempts, \
         next_attempt_at, failing_since, last_error, last_status, last_delivered_at, created_at, created_by \
         FROM subscriptions"
    };
}
use subscription_columns;

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    tenant_id: String,
    url: String,
    events: String,
    secret_key_id: i64,
    secret_sealed: Vec<u8>,
    state: String,
    delivered_seq: i64,
    attempts: i64,
    next_attempt_at: Option<Timestamp>,
    failing_since: Option<Timestamp>,
    last_error: Option<String>,
    last_status: Option<i64>,
    last_delivered_at: Option<Timestamp>,
    created_at: Timestamp,
    created_by: String,
}

impl SubscriptionRow {
    fn into_subscription(self) -> Result<Subscription> {
        Ok(Subscription {
            id: parse_uuid("subscriptions.id", &self.id)?,
            tenant_id: self.tenant_id,
            url: self.url,
            events: parse_json("subscriptions.events", &self.events)?,
            secret: crate::SealedSecret {
                field: SIGNING_SECRET.to_owned(),
                key_id: u32::try_from(self.secret_key_id)
                    .map_err(|_| StoreError::Corrupt(format!("subscriptions.secret_key_id {}", self.secret_key_id)))?,
                sealed: self.secret_sealed,
            },
            state: match self.state.as_str() {
                "active" => SubscriptionState::Active,
                "failed" => SubscriptionState::Failed,
                other => return Err(StoreError::Corrupt(format!("subscriptions.state {other:?}"))),
            },
            delivered_seq: self.delivered_seq,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            failing_since: self.failing_since,
            last_error: self.last_error,
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            last_delivered_at: self.last_delivered_at,
            created_at: self.created_at,
            created_by: self.created_by,
        })
    }
}
