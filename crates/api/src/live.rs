//! A tenant's live state as the admin screen and API clients read it: agents, service
//! statistics, the health of the tenant's feeds and its running export runs, as one
//! snapshot (`GET …/live/snapshot`, and the first event of the stream) and as the events
//! of the Server-Sent Events stream (`GET …/live/stream`) that follow it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Direction, ExportRun, FeedHealth};

/// What an agent is doing while logged in. Each state's title is how the admin screen
/// names it (read from the OpenAPI document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Waiting for a call.
    #[schemars(title = "Ready")]
    Ready,
    /// On a call.
    #[schemars(title = "Busy")]
    Busy,
    /// Wrapping up the last call.
    #[schemars(title = "After call work")]
    AfterCallWork,
    /// Not taking calls, often with a reason.
    #[schemars(title = "Not Ready")]
    NotReady,
    /// Supervising other agents.
    #[schemars(title = "Supervising")]
    Supervising,
}

impl AgentState {
    pub const ALL: [AgentState; 5] =
        [AgentState::Ready, AgentState::Busy, AgentState::AfterCallWork, AgentState::NotReady, AgentState::Supervising];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Ready => "ready",
            AgentState::Busy => "busy",
            AgentState::AfterCallWork => "after_call_work",
            AgentState::NotReady => "not_ready",
            AgentState::Supervising => "supervising",
        }
    }

    pub fn parse(text: &str) -> Option<AgentState> {
        AgentState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A logged-in agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveAgent {
    pub agent_id: String,
    pub state: AgentState,
    /// The Not Ready reason, when there is one.
    pub reason: Option<String>,
    /// When the agent entered the current state.
    pub since: DateTime<Utc>,
    pub extension: String,
    /// The services the agent logged in to.
    pub services: Vec<String>,
    /// The call the agent is on.
    pub call: Option<LiveCall>,
}

/// The call an agent is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveCall {
    pub call_id: String,
    /// The call's extension, or the agent's when the call did not name one.
    pub extension: String,
    pub service: Option<String>,
    pub direction: Option<Direction>,
    pub since: DateTime<Utc>,
}

/// The statistics of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveService {
    pub service: String,
    pub calls_waiting: u32,
    pub longest_wait_s: u32,
    pub agents_ready: u32,
    pub agents_busy: u32,
    pub handled: u64,
    pub abandoned: u64,
    /// When the statistics last changed.
    pub updated_at: DateTime<Utc>,
}

/// A running export run, with its job's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveExportRun {
    pub job_name: String,
    pub run: ExportRun,
}

/// Everything the Live page shows, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveSnapshot {
    /// Where the stream stands: the `id` of the stream's events, opaque; a stream opened
    /// with it as `Last-Event-ID` goes on from here.
    pub cursor: String,
    /// Logged-in agents, by id.
    pub agents: Vec<LiveAgent>,
    /// Services with statistics, by name.
    pub services: Vec<LiveService>,
    /// The health of the tenant's feeds.
    pub feeds: Vec<FeedHealth>,
    /// The tenant's running export runs, oldest first.
    pub export_runs: Vec<LiveExportRun>,
}

/// An agent that logged out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveAgentRemoved {
    pub agent_id: String,
}

/// The health of every feed of the tenant, whole (a feed that is not listed is gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveFeeds {
    pub items: Vec<FeedHealth>,
}

/// The tenant's running export runs, whole (a run that is not listed is no longer running).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveExportRuns {
    pub items: Vec<LiveExportRun>,
}

/// One event of the live stream: `event` is the Server-Sent Event's name and `data` its
/// JSON data. A stream starts with `snapshot` (also after a reconnect that cannot resume);
/// the others say what changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case", deny_unknown_fields)]
pub enum LiveEvent {
    /// Everything, replacing what the client holds.
    Snapshot(LiveSnapshot),
    /// An agent logged in or changed (state, reason, extension, services or call).
    Agent(LiveAgent),
    /// An agent logged out.
    AgentRemoved(LiveAgentRemoved),
    /// A service's statistics changed.
    Service(LiveService),
    /// A feed's health changed: every feed of the tenant.
    Feeds(LiveFeeds),
    /// A run started, progressed or ended: every running run of the tenant.
    ExportRuns(LiveExportRuns),
}

impl LiveEvent {
    /// The Server-Sent Event's name.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::Snapshot(_) => "snapshot",
            LiveEvent::Agent(_) => "agent",
            LiveEvent::AgentRemoved(_) => "agent_removed",
            LiveEvent::Service(_) => "service",
            LiveEvent::Feeds(_) => "feeds",
            LiveEvent::ExportRuns(_) => "export_runs",
        }
    }

    /// The Server-Sent Event's data.
    pub fn data(&self) -> serde_json::Result<String> {
        match self {
            LiveEvent::Snapshot(v) => serde_json::to_string(v),
            LiveEvent::Agent(v) => serde_json::to_string(v),
            LiveEvent::AgentRemoved(v) => serde_json::to_string(v),
            LiveEvent::Service(v) => serde_json::to_string(v),
            LiveEvent::Feeds(v) => serde_json::to_string(v),
            LiveEvent::ExportRuns(v) => serde_json::to_string(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_name_is_the_tag_its_json_carries() {
        let events = [
            LiveEvent::AgentRemoved(LiveAgentRemoved { agent_id: "a1".into() }),
            LiveEvent::Feeds(LiveFeeds { items: Vec::new() }),
            LiveEvent::ExportRuns(LiveExportRuns { items: Vec::new() }),
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["event"], event.name());
            assert_eq!(json["data"], serde_json::from_str::<serde_json::Value>(&event.data().unwrap()).unwrap());
        }
    }

    #[test]
    fn agent_states_parse_from_their_names() {
        for state in AgentState::ALL {
            assert_eq!(AgentState::parse(state.as_str()), Some(state));
        }
        assert_eq!(AgentState::parse("away"), None);
    }
}
