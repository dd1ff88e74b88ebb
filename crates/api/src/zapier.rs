//! The API a Zapier integration calls with the credentials of one of the tenant's Zapier
//! accounts (HTTP Basic): its connection test, polling triggers, REST hooks and actions.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Category, Outcome};

/// Zapier's connection test: who the credentials are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZapierMe {
    pub tenant: String,
    pub tenant_name: String,
    /// The Zapier account whose credentials were used.
    pub account_id: Uuid,
    pub account_name: String,
}

/// What a Zapier trigger watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZapierTrigger {
    /// A customer's message arrived through a messenger (items are `message_in` events).
    NewConversationMessage,
    /// A customer wrote for the first time (items are `conversation_started` events).
    ConversationStarted,
    /// A call recording arrived.
    NewRecording,
    /// A recording export run ended (succeeded, failed or was interrupted).
    ExportRunFinished,
    /// An account's connection test came out otherwise than the one before.
    AccountHealthChanged,
}

impl ZapierTrigger {
    pub const ALL: [ZapierTrigger; 5] = [
        ZapierTrigger::NewConversationMessage,
        ZapierTrigger::ConversationStarted,
        ZapierTrigger::NewRecording,
        ZapierTrigger::ExportRunFinished,
        ZapierTrigger::AccountHealthChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ZapierTrigger::NewConversationMessage => "new_conversation_message",
            ZapierTrigger::ConversationStarted => "conversation_started",
            ZapierTrigger::NewRecording => "new_recording",
            ZapierTrigger::ExportRunFinished => "export_run_finished",
            ZapierTrigger::AccountHealthChanged => "account_health_changed",
        }
    }

    pub fn parse(s: &str) -> Option<ZapierTrigger> {
        ZapierTrigger::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The conversation event type a REST hook of this trigger receives, for the triggers
    /// patchbay pushes; the others are polled.
    pub fn event_type(self) -> Option<&'static str> {
        match self {
            ZapierTrigger::NewConversationMessage => Some("message_in"),
            ZapierTrigger::ConversationStarted => Some("conversation_started"),
            _ => None,
        }
    }
}

/// `GET …/zapier/triggers/{trigger}?limit=`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZapierTriggerQuery {
    /// How many items, newest first (1 to 100; 50 when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

impl ZapierTriggerQuery {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const LIMIT: std::ops::RangeInclusive<i64> = 1..=100;
}

/// An `account_health_changed` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthChange {
    /// Unique and stable: the test's audit entry.
    pub id: String,
    pub account_id: Uuid,
    /// None once the account is deleted.
    pub account_name: Option<String>,
    #[serde(rename = "type")]
    pub type_key: Option<String>,
    pub provider: Option<String>,
    pub status: Outcome,
    /// None for the account's first test.
    pub previous_status: Option<Outcome>,
    pub category: Option<Category>,
    pub message: String,
    pub tested_at: DateTime<Utc>,
}

/// `POST …/zapier/hooks`: a REST hook subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZapierHookCreate {
    /// Where Zapier wants the items POSTed.
    #[schemars(length(min = 1, max = 2048))]
    pub target_url: String,
    pub event: ZapierTrigger,
}

/// A REST hook subscription: each new item of the trigger is POSTed to `target_url`,
/// signed as Standard Webhooks says with `secret`, retried with backoff for a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZapierHook {
    pub id: Uuid,
    pub event: ZapierTrigger,
    pub target_url: String,
    /// The signing secret (`whsec_…`), shown only here.
    pub secret: String,
}

/// `POST …/zapier/actions/send_message`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZapierSendMessage {
    pub conversation_id: Uuid,
    #[schemars(length(min = 1, max = 7000))]
    pub text: String,
}
