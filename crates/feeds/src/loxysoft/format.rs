//! The Loxysoft update: the tenant's whole state as `{"agents": [...], "skills": [...]}`,
//! services named by their Loxysoft codes from the account's skills mapping (a service
//! without a code keeps its name). Owns the Loxysoft JSON shape (docs/feeds.md).

use std::collections::HashMap;
use std::sync::Arc;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use crate::events::{AgentState, Direction};
use crate::fragments::AgentFragments;
use crate::state::{Agent, Service, Snapshot};
use crate::wire::{Rfc3339, StrList};

/// Encodes update bodies for one account, keeping each agent's JSON between calls.
pub struct LoxysoftEncoder {
    skills: HashMap<String, String>,
    fragments: AgentFragments,
}

impl LoxysoftEncoder {
    /// `skills`: service name -> Loxysoft code.
    pub fn new(skills: HashMap<String, String>) -> LoxysoftEncoder {
        LoxysoftEncoder { skills, fragments: AgentFragments::default() }
    }

    /// Appends the body for `snapshot`.
    pub fn encode(&mut self, snapshot: &Snapshot, out: &mut Vec<u8>) {
        let skills = &self.skills;
        out.extend_from_slice(b"{\"agents\":");
        self.fragments
            .write_array(snapshot.version, &snapshot.agents, out, |agent, out| write_agent(agent, skills, out));
        out.extend_from_slice(b",\"skills\":");
        serde_json::to_writer(&mut *out, &Skills { services: &snapshot.services, skills }).expect("encodes to memory");
        out.push(b'}');
    }
}

/// The body of one update, encoded from scratch.
pub fn encode_update(snapshot: &Snapshot, skills: &HashMap<String, String>, out: &mut Vec<u8>) {
    LoxysoftEncoder::new(skills.clone()).encode(snapshot, out);
}

fn code<'a>(skills: &'a HashMap<String, String>, service: &'a str) -> &'a str {
    skills.get(service).map_or(service, String::as_str)
}

#[derive(Serialize)]
#[serde(bound(serialize = ""))]
struct AgentOut<'a, F: Fn(&'a str) -> &'a str> {
    agent_id: &'a str,
    state: &'static str,
    reason: Option<&'a str>,
    since: Rfc3339,
    extension: &'a str,
    skills: StrList<'a, F>,
    call: Option<CallOut<'a>>,
}

#[derive(Serialize)]
struct CallOut<'a> {
    call_id: &'a str,
    skill: Option<&'a str>,
    direction: Option<Direction>,
    since: Rfc3339,
}

fn write_agent(agent: &Agent, skills: &HashMap<String, String>, out: &mut Vec<u8>) {
    let json = AgentOut {
        agent_id: &agent.id,
        state: agent.state.map_or("logged_out", AgentState::as_str),
        reason: agent.reason.as_deref(),
        since: Rfc3339(agent.since),
        extension: &agent.extension,
        skills: StrList { items: &agent.services, map: |s| code(skills, s) },
        call: agent.call.as_ref().map(|c| CallOut {
            call_id: &c.call_id,
            skill: c.service.as_deref().map(|s| code(skills, s)),
            direction: c.direction,
            since: Rfc3339(c.since),
        }),
    };
    serde_json::to_writer(out, &json).expect("encodes to memory");
}

struct Skills<'a> {
    services: &'a [Arc<Service>],
    skills: &'a HashMap<String, String>,
}

#[derive(Serialize)]
struct SkillOut<'a> {
    skill: &'a str,
    service: &'a str,
    calls_waiting: u32,
    longest_wait_s: u32,
    agents_ready: u32,
    agents_busy: u32,
    handled: u64,
    abandoned: u64,
    updated_at: Rfc3339,
}

impl Serialize for Skills<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.services.len()))?;
        for service in self.services {
            let s = service.stats;
            seq.serialize_element(&SkillOut {
                skill: code(self.skills, &service.name),
                service: &service.name,
                calls_waiting: s.calls_waiting,
                longest_wait_s: s.longest_wait_s,
                agents_ready: s.agents_ready,
                agents_busy: s.agents_busy,
                handled: s.handled,
                abandoned: s.abandoned,
                updated_at: Rfc3339(service.updated_at),
            })?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::state::LiveState;

    #[test]
    fn services_are_named_by_their_loxysoft_codes() {
        let state = LiveState::default();
        let at = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap();
        let body = r#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales","Support"]}
{"type":"agent_state","agent_id":"a1","state":"busy"}
{"type":"call_start","call_id":"c1","agent_id":"a1","service":"Sales","direction":"inbound"}
{"type":"service_stats","service":"Sales","calls_waiting":1}"#;
        state.ingest("t", body.as_bytes(), at).unwrap();
        let skills = HashMap::from([("Sales".to_owned(), "SK-01".to_owned())]);
        let mut out = Vec::new();
        encode_update(&state.view("t").snapshot(), &skills, &mut out);
        let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            got,
            json!({
                "agents": [{
                    "agent_id": "a1", "state": "busy", "reason": null, "since": "2025-03-01T10:00:00Z",
                    "extension": "1001", "skills": ["SK-01", "Support"],
                    "call": {"call_id": "c1", "skill": "SK-01", "direction": "inbound", "since": "2025-03-01T10:00:00Z"}
                }],
                "skills": [{
                    "skill": "SK-01", "service": "Sales", "calls_waiting": 1, "longest_wait_s": 0, "agents_ready": 0,
                    "agents_busy": 0, "handled": 0, "abandoned": 0, "updated_at": "2025-03-01T10:00:00Z"
                }]
            })
        );
    }
}
