//! The NICE recording feed: agent and call state messages as they happen, and a keep-alive
//! every `keep_alive_update_interval`, posted to the account URL with Basic authentication.
//! Agent ids and extensions carry the account's prefixes. Owns the NICE JSON messages
//! (docs/feeds.md). Changes come from the tenant's journal, so a call that starts and ends
//! between two posts is still reported; a feed that falls behind the journal, or whose post
//! failed, sends a full resynchronisation next.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

use crate::config::NiceConfig;
use crate::context::{FeedContext, Ticker};
use crate::events::{AgentState, Direction};
use crate::state::{ActiveCall, Agent, Change, Journaled};
use crate::transport;
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

pub(crate) async fn run(ctx: FeedContext, config: NiceConfig) {
    let encoder = NiceEncoder { agent_id_prefix: config.agent_id_prefix, extension_prefix: config.extension_prefix };
    let capacity = ctx.state.limits().journal_capacity;
    let mut journal = ctx.view().subscribe(capacity);
    let mut keep_alive = Ticker::starting(Instant::now() + config.keep_alive, config.keep_alive);
    let mut backoff = ctx.backoff();
    let mut seq = 0u64;
    let mut cursor = 0u64;
    let mut resync = true;
    loop {
        let mut messages = Vec::new();
        let sending_resync = resync;
        if resync {
            journal = ctx.view().subscribe(capacity);
            let snapshot = ctx.view().snapshot();
            cursor = snapshot.version;
            messages = encoder.resync(&snapshot.agents);
        } else {
            tokio::select! {
                _ = keep_alive.tick() => messages.push(NiceMessage::KeepAlive { at: Rfc3339(ctx.clock.now()) }),
                entry = journal.recv() => match entry {
                    Ok(entry) => {
                        take(&encoder, &entry, &mut cursor, &mut messages);
                        while messages.len() < ctx.options.nice_batch_max {
                            match journal.try_recv() {
                                Ok(entry) => take(&encoder, &entry, &mut cursor, &mut messages),
                                Err(TryRecvError::Lagged(_)) => {
                                    resync = true;
                                    break;
                                }
                                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                            }
                        }
                    }
                    Err(RecvError::Lagged(_) | RecvError::Closed) => resync = true,
                },
            }
            if resync || messages.is_empty() {
                continue;
            }
        }
        seq += 1;
        let batch = NiceBatch { seq, sent_at: Rfc3339(ctx.clock.now()), resync: sending_resync, messages };
        let body = serde_json::to_vec(&batch).expect("batches serialize to memory");
        let bytes = body.len() as u64;
        ctx.health.pending(body.len());
        match transport::post(&ctx, &config.target, body).await {
            Ok(()) => {
                ctx.succeeded(1, bytes, true);
                resync = false;
                backoff.reset();
            }
            Err(e) => {
                ctx.failed(&e, false);
                resync = true;
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// Adds the message of a journal entry the feed has not reported yet.
fn take(encoder: &NiceEncoder, entry: &Journaled, cursor: &mut u64, messages: &mut Vec<NiceMessage>) {
    if entry.version <= *cursor {
        return;
    }
    *cursor = entry.version;
    messages.extend(encoder.change(&entry.change));
}
