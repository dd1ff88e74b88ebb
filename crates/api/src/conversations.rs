//! The messenger edge's contract: an account's inbound webhook health, conversation events
//! (long-poll and Server-Sent Events) and the messages they carry.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// What an account's inbound webhook saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundHealth {
    /// Deliveries verified and kept.
    pub accepted: i64,
    /// Deliveries refused (proof, size, content type, disabled account).
    pub rejected: i64,
    /// When a delivery was last kept.
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// The last refused delivery and why.
    pub last_rejected: Option<RejectedDelivery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectedDelivery {
    pub at: DateTime<Utc>,
    /// The HTTP status the vendor got.
    pub status: u16,
    pub reason: String,
}

/// What happened in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationEventType {
    /// A customer wrote to the account for the first time (or after the conversation was purged).
    ConversationStarted,
    /// A customer's message.
    MessageIn,
    /// A message sent to the customer changed its status.
    MessageStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageDirection {
    /// From the customer.
    In,
    /// To the customer.
    Out,
}

/// Where a message stands. A customer's message is `received`; one sent to the customer
/// moves from `pending` to `sent`, `delivered`, `read`, or to `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Received,
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

/// The customer of a conversation, as the messenger names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// The messenger's id of the customer or chat (Vonage: `channel:number`).
    pub id: String,
    /// The customer's name, when the messenger gives it.
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationMessage {
    pub id: Uuid,
    pub direction: MessageDirection,
    pub text: Option<String>,
    /// Vendor references to files, places and stickers (`type` and the vendor's URL or id);
    /// patchbay does not fetch them.
    pub attachments: Vec<Value>,
    pub status: MessageStatus,
    /// Why the message failed.
    pub error: Option<String>,
    /// The messenger's id of the message.
    pub vendor_id: Option<String>,
    /// When the message was written (the messenger's time for a customer's message).
    pub at: DateTime<Utc>,
}

/// One event of the tenant's conversations. `id` is also the cursor: events after it come
/// with `after=<id>` (or `Last-Event-ID`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationEvent {
    /// Increases with every event of the tenant, in the order they happened.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ConversationEventType,
    pub conversation_id: Uuid,
    /// The messenger account.
    pub account: Uuid,
    /// The messenger (the account's provider: `facebook`, `line`, `nexmo`, `telegram`, `viber`).
    pub channel: String,
    /// The customer.
    pub from: Customer,
    /// The message, for `message_in` and `message_status`.
    pub message: Option<ConversationMessage>,
    pub at: DateTime<Utc>,
}

/// A page of events and the cursor to continue after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationEventPage {
    pub events: Vec<ConversationEvent>,
    /// Pass as `after` for the next page: the last event's id, or `after` when there was none.
    pub next: String,
}

/// `GET …/conversations/events?…`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationEventsQuery {
    /// The cursor: events after this id. Left out, `0` (from the oldest kept event);
    /// `latest` starts after the newest (only what happens from now on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]{1,18}|latest)$"))]
    pub after: Option<String>,
    /// Seconds to wait for the first event when there is none yet (long-poll); 0 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 60))]
    pub wait: Option<u64>,
    /// Events per page at most; 100 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
}

impl ConversationEventsQuery {
    pub const WAIT_SECONDS: RangeInclusive<u64> = 0..=60;
    pub const LIMIT: RangeInclusive<i64> = 1..=1000;
    pub const DEFAULT_LIMIT: i64 = 100;
    /// `after` that starts at the newest event.
    pub const LATEST: &'static str = "latest";
}

/// `POST …/conversations/{conversation_id}/messages`: a reply to the customer. Send an
/// `Idempotency-Key` header (any unique string, e.g. a UUID) so that a retried request sends
/// the reply once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// The text; each messenger takes a most: Facebook 2000 characters, Telegram 4096,
    /// LINE 5000, Viber 7000, Vonage 1000.
    #[schemars(length(min = 1, max = 7000))]
    pub text: String,
}

impl ReplyRequest {
    /// The longest `Idempotency-Key` taken.
    pub const KEY_MAX_CHARS: usize = 255;
}

/// A conversation with its newest messages (oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    pub id: Uuid,
    pub account: Uuid,
    pub channel: String,
    pub customer: Customer,
    pub started_at: DateTime<Utc>,
    pub last_message_at: DateTime<Utc>,
    /// At most the newest 100.
    pub messages: Vec<ConversationMessage>,
}

impl Conversation {
    /// Messages shown with a conversation at most.
    pub const MESSAGES: i64 = 100;
}

/// How long the tenant keeps conversations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationSettings {
    /// Days after its last message that a conversation (its messages and events) is
    /// deleted; 90 unless set.
    #[schemars(range(min = 1, max = 3650))]
    pub retention_days: i64,
}

impl ConversationSettings {
    pub const RETENTION_DAYS: RangeInclusive<i64> = 1..=3650;
}

/// `POST …/subscriptions`: where conversation events are POSTed, signed as the Standard
/// Webhooks specification says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionCreate {
    /// An `http` or `https` URL the egress policy lets patchbay reach.
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// The event types to receive (at least one).
    #[schemars(length(min = 1))]
    pub events: Vec<ConversationEventType>,
}

impl SubscriptionCreate {
    pub const URL_MAX_CHARS: usize = 2048;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// Events are delivered.
    Active,
    /// Deliveries failed for longer than patchbay retries (24 hours); nothing is sent until
    /// it is resumed, then delivery goes on from the event that failed.
    Failed,
}

/// Why the subscription's next event has not been delivered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionFailure {
    /// When the event now due first failed.
    pub since: DateTime<Utc>,
    /// Failed attempts at it.
    pub attempts: i64,
    pub last_error: String,
    /// The target's HTTP status, when it answered.
    pub last_status: Option<u16>,
    /// When it is tried again; null once the subscription has failed.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<ConversationEventType>,
    pub state: SubscriptionState,
    /// The id of the last event done (delivered, or not subscribed to); the next delivery
    /// is the next event after it.
    pub delivered_through: String,
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// Null while deliveries succeed.
    pub failure: Option<SubscriptionFailure>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// A new subscription with its signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriptionCreated {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// `whsec_` and the base64 key that signs every delivery (`webhook-signature`); keep it,
    /// it is not shown again.
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionList {
    pub items: Vec<Subscription>,
}
