//! The NICE messages: agent and call state messages and keep-alives, in numbered batches
//! (one POST body each); agent ids and extensions carry the account's prefixes. Owns the
//! NICE JSON (docs/feeds.md).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::events::{AgentState, Direction};
use crate::state::{ActiveCall, Agent, Change};
use crate::wire::Rfc3339;

/// One POST body.
#[derive(Debug, Serialize)]
pub struct NiceBatch {
    /// 1 for the first body a feed sends after it starts, then +1 per body.
    pub seq: u64,
    pub sent_at: Rfc3339,
    /// The messages are the complete state: agents not listed are logged out, calls not
    /// listed have ended.
    pub resync: bool,
    pub messages: Vec<NiceMessage>,
}

impl NiceBatch {
    /// A batch holding one keep-alive at `at`, sent at `at`. Not a resync, so it changes
    /// nothing at the receiver.
    pub fn keep_alive(seq: u64, at: DateTime<Utc>) -> NiceBatch {
        NiceBatch {
            seq,
            sent_at: Rfc3339(at),
            resync: false,
            messages: vec![NiceMessage::KeepAlive { at: Rfc3339(at) }],
        }
    }

    /// The POST body.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("batches serialize to memory")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NiceMessage {
    KeepAlive {
        at: Rfc3339,
    },
    AgentLogin {
        agent_id: String,
        extension: String,
        state: &'static str,
        reason: Option<String>,
        at: Rfc3339,
    },
    AgentState {
        agent_id: String,
        extension: String,
        state: &'static str,
        reason: Option<String>,
        at: Rfc3339,
    },
    AgentLogout {
        agent_id: String,
        extension: String,
        at: Rfc3339,
    },
    CallStart {
        call_id: String,
        agent_id: String,
        extension: String,
        service: Option<String>,
        direction: Option<Direction>,
        at: Rfc3339,
    },
    CallEnd {
        call_id: String,
        agent_id: String,
        extension: String,
        service: Option<String>,
        direction: Option<Direction>,
        at: Rfc3339,
    },
}

/// Builds messages with the account's prefixes.
#[derive(Debug, Clone)]
pub struct NiceEncoder {
    pub agent_id_prefix: String,
    pub extension_prefix: String,
}

impl NiceEncoder {
    fn agent_id(&self, agent: &Agent) -> String {
        format!("{}{}", self.agent_id_prefix, agent.id)
    }

    fn extension(&self, extension: &str) -> String {
        if extension.is_empty() {
            String::new()
        } else {
            format!("{}{extension}", self.extension_prefix)
        }
    }

    fn state(&self, agent: &Agent, login: bool) -> NiceMessage {
        let agent_id = self.agent_id(agent);
        let extension = self.extension(&agent.extension);
        let state = agent.state.map_or("logged_out", AgentState::as_str);
        let reason = agent.reason.as_deref().map(str::to_owned);
        let at = Rfc3339(agent.since);
        if login {
            NiceMessage::AgentLogin { agent_id, extension, state, reason, at }
        } else {
            NiceMessage::AgentState { agent_id, extension, state, reason, at }
        }
    }

    fn call(&self, agent: &Agent, call: &ActiveCall, end: Option<DateTime<Utc>>) -> NiceMessage {
        let call_id = call.call_id.to_string();
        let agent_id = self.agent_id(agent);
        let extension = self.extension(&call.extension);
        let service = call.service.as_deref().map(str::to_owned);
        let direction = call.direction;
        match end {
            None => {
                NiceMessage::CallStart { call_id, agent_id, extension, service, direction, at: Rfc3339(call.since) }
            }
            Some(at) => NiceMessage::CallEnd { call_id, agent_id, extension, service, direction, at: Rfc3339(at) },
        }
    }

    /// The message a journal entry becomes.
    pub fn change(&self, change: &Change) -> Option<NiceMessage> {
        Some(match change {
            Change::Login(agent) => self.state(agent, true),
            Change::State(agent) => self.state(agent, false),
            Change::Logout(agent) => NiceMessage::AgentLogout {
                agent_id: self.agent_id(agent),
                extension: self.extension(&agent.extension),
                at: Rfc3339(agent.since),
            },
            Change::CallStart(agent) => self.call(agent, agent.call.as_ref()?, None),
            Change::CallEnd { agent, call, at } => self.call(agent, call, Some(*at)),
        })
    }

    /// The full state: each logged-in agent's state, then each active call.
    pub fn resync(&self, agents: &[Arc<Agent>]) -> Vec<NiceMessage> {
        let states = agents.iter().map(|a| self.state(a, false));
        let calls = agents.iter().filter_map(|a| a.call.as_ref().map(|c| self.call(a, c, None)));
        states.chain(calls).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn keep_alive_batches_carry_rfc3339_times_with_milliseconds_only_when_set() {
        let at = Utc.with_ymd_and_hms(2025, 3, 1, 9, 31, 0).unwrap();
        let batch: Value = serde_json::from_slice(&NiceBatch::keep_alive(0, at).to_bytes()).unwrap();
        assert_eq!(
            batch,
            json!({"seq": 0, "sent_at": "2025-03-01T09:31:00Z", "resync": false,
                   "messages": [{"type": "keep_alive", "at": "2025-03-01T09:31:00Z"}]})
        );
        let later = at + chrono::Duration::microseconds(250_700);
        let batch: Value = serde_json::from_slice(&NiceBatch::keep_alive(7, later).to_bytes()).unwrap();
        assert_eq!(batch["sent_at"], "2025-03-01T09:31:00.250Z");
        assert_eq!(batch["messages"][0]["at"], "2025-03-01T09:31:00.250Z");
    }
}
