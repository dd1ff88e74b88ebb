//! The API's view of conversation events and messages: what the long-poll, the event
//! stream and subscription deliveries carry (one definition for all three).

use patchbay_api::{
    ConversationEvent, ConversationEventType, ConversationMessage, Customer, MessageDirection, MessageStatus,
};
use patchbay_store as store;

/// The event's `type` as the SSE event name and the subscription filter say it.
pub fn type_name(kind: ConversationEventType) -> &'static str {
    match kind {
        ConversationEventType::ConversationStarted => "conversation_started",
        ConversationEventType::MessageIn => "message_in",
        ConversationEventType::MessageStatus => "message_status",
    }
}

pub fn event_view(event: store::ConversationEvent) -> ConversationEvent {
    ConversationEvent {
        id: event.seq.to_string(),
        kind: match event.kind {
            store::EventKind::ConversationStarted => ConversationEventType::ConversationStarted,
            store::EventKind::MessageIn => ConversationEventType::MessageIn,
            store::EventKind::MessageStatus => ConversationEventType::MessageStatus,
        },
        conversation_id: event.conversation_id,
        account: event.account_id,
        channel: event.channel,
        from: Customer { id: event.from.id, name: event.from.name },
        message: event.message.map(message_view),
        at: event.at,
    }
}

pub fn message_view(message: store::MessageRecord) -> ConversationMessage {
    ConversationMessage {
        id: message.id,
        direction: match message.direction {
            store::MessageDirection::In => MessageDirection::In,
            store::MessageDirection::Out => MessageDirection::Out,
        },
        text: message.text,
        attachments: match message.attachments {
            serde_json::Value::Array(items) => items,
            serde_json::Value::Null => Vec::new(),
            other => vec![other],
        },
        status: match message.status {
            store::MessageStatus::Received => MessageStatus::Received,
            store::MessageStatus::Pending => MessageStatus::Pending,
            store::MessageStatus::Sent => MessageStatus::Sent,
            store::MessageStatus::Delivered => MessageStatus::Delivered,
            store::MessageStatus::Read => MessageStatus::Read,
            store::MessageStatus::Failed => MessageStatus::Failed,
        },
        error: message.error,
        vendor_id: message.vendor_id,
        at: message.at,
    }
}
