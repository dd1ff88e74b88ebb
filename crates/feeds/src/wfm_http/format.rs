//! The WFM HTTP POST update: the tenant's whole state as `{"agents": [...], "services":
//! [...]}`, agents with the account's Not Ready reason codes (docs/feeds.md).

use std::sync::Arc;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use crate::config::ReasonCodes;
use crate::events::AgentState;
use crate::fragments::AgentFragments;
use crate::state::{Agent, Service, Snapshot};
use crate::wire::{same, Rfc3339, StrList};

/// Encodes update bodies for one account, keeping each agent's JSON between calls.
pub struct WfmEncoder {
    reason_codes: ReasonCodes,
    fragments: AgentFragments,
}

impl WfmEncoder {
    pub fn new(reason_codes: ReasonCodes) -> WfmEncoder {
        WfmEncoder { reason_codes, fragments: AgentFragments::default() }
    }

    /// Appends the body for `snapshot`.
    pub fn encode(&mut self, snapshot: &Snapshot, out: &mut Vec<u8>) {
        let codes = &self.reason_codes;
        out.extend_from_slice(b"{\"agents\":");
        self.fragments
            .write_array(snapshot.version, &snapshot.agents, out, |agent, out| write_agent(agent, codes, out));
        out.extend_from_slice(b",\"services\":");
        serde_json::to_writer(&mut *out, &Services { services: &snapshot.services }).expect("encodes to memory");
        out.push(b'}');
    }
}

/// The body of one update, encoded from scratch.
pub fn encode_update(snapshot: &Snapshot, reason_codes: &ReasonCodes, out: &mut Vec<u8>) {
    WfmEncoder::new(reason_codes.clone()).encode(snapshot, out);
}

fn write_agent(agent: &Agent, reason_codes: &ReasonCodes, out: &mut Vec<u8>) {
    let reason_code = match agent.state {
        Some(AgentState::NotReady) => agent.reason.as_deref().and_then(|r| reason_codes.get(r).copied()),
        _ => None,
    };
    let json = AgentOut {
        agent_id: &agent.id,
        state: agent.state.map_or("logged_out", AgentState::as_str),
        reason: agent.reason.as_deref(),
        reason_code,
        since: Rfc3339(agent.since),
        extension: &agent.extension,
        services: StrList { items: &agent.services, map: same },
    };
    serde_json::to_writer(out, &json).expect("encodes to memory");
}

#[derive(Serialize)]
#[serde(bound(serialize = ""))]
struct AgentOut<'a, F: Fn(&'a str) -> &'a str> {
    agent_id: &'a str,
    state: &'static str,
    reason: Option<&'a str>,
    reason_code: Option<u32>,
    since: Rfc3339,
    extension: &'a str,
    services: StrList<'a, F>,
}

struct Services<'a> {
    services: &'a [Arc<Service>],
}

impl Serialize for Services<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.services.len()))?;
        for service in self.services {
            seq.serialize_element(&ServiceOut::new(&service.name, service))?;
        }
        seq.end()
    }
}

/// One service's statistics under the name a receiver knows it by.
#[derive(Serialize)]
pub(crate) struct ServiceOut<'a> {
    service: &'a str,
    calls_waiting: u32,
    longest_wait_s: u32,
    agents_ready: u32,
    agents_busy: u32,
    handled: u64,
    abandoned: u64,
    updated_at: Rfc3339,
}

impl<'a> ServiceOut<'a> {
    pub fn new(name: &'a str, service: &Service) -> ServiceOut<'a> {
        let s = service.stats;
        ServiceOut {
            service: name,
            calls_waiting: s.calls_waiting,
            longest_wait_s: s.longest_wait_s,
            agents_ready: s.agents_ready,
            agents_busy: s.agents_busy,
            handled: s.handled,
            abandoned: s.abandoned,
            updated_at: Rfc3339(service.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::state::LiveState;

    #[test]
    fn an_encoder_that_keeps_agent_json_between_ticks_writes_what_a_fresh_one_writes() {
        let state = LiveState::default();
        let at = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap();
        let codes = ReasonCodes::from([("Lunch".to_owned(), 7)]);
        let mut kept = WfmEncoder::new(codes.clone());
        let ticks = [
            r#"{"type":"agent_login","agent_id":"b","services":["S"]}
{"type":"agent_login","agent_id":"d"}"#,
            r#"{"type":"agent_state","agent_id":"d","state":"not_ready","reason":"Lunch"}
{"type":"agent_login","agent_id":"a"}
{"type":"agent_login","agent_id":"c"}"#,
            r#"{"type":"agent_logout","agent_id":"b"}
{"type":"service_stats","service":"S","handled":3}"#,
            "",
            r#"{"type":"agent_logout","agent_id":"a"}
{"type":"agent_logout","agent_id":"c"}
{"type":"agent_logout","agent_id":"d"}"#,
        ];
        for body in ticks {
            state.ingest("t", body.as_bytes(), at).unwrap();
            let snapshot = state.view("t").snapshot();
            let (mut incremental, mut fresh) = (Vec::new(), Vec::new());
            kept.encode(&snapshot, &mut incremental);
            encode_update(&snapshot, &codes, &mut fresh);
            assert_eq!(String::from_utf8(incremental).unwrap(), String::from_utf8(fresh).unwrap());
        }
    }

    #[test]
    fn agents_carry_the_mapped_reason_code_and_services_their_statistics() {
        let state = LiveState::default();
        let at = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap();
        let body = r#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales"]}
{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch"}
{"type":"agent_login","agent_id":"a2","extension":"1002"}
{"type":"agent_state","agent_id":"a2","state":"busy"}
{"type":"service_stats","service":"Sales","calls_waiting":3,"longest_wait_s":40,"agents_ready":2,"agents_busy":5,"handled":100,"abandoned":4}"#;
        state.ingest("t", body.as_bytes(), at).unwrap();
        let mut out = Vec::new();
        encode_update(&state.view("t").snapshot(), &ReasonCodes::from([("Lunch".to_owned(), 7)]), &mut out);
        let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            got,
            json!({
                "agents": [
                    {"agent_id": "a1", "state": "not_ready", "reason": "Lunch", "reason_code": 7,
                     "since": "2025-03-01T10:00:00Z", "extension": "1001", "services": ["Sales"]},
                    {"agent_id": "a2", "state": "busy", "reason": null, "reason_code": null,
                     "since": "2025-03-01T10:00:00Z", "extension": "1002", "services": []}
                ],
                "services": [
                    {"service": "Sales", "calls_waiting": 3, "longest_wait_s": 40, "agents_ready": 2,
                     "agents_busy": 5, "handled": 100, "abandoned": 4, "updated_at": "2025-03-01T10:00:00Z"}
                ]
            })
        );
    }
}
