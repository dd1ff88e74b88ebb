//! Per-agent JSON kept between ticks, for the feeds that post every agent at every interval
//! (WFM HTTP POST, Loxysoft).

use std::sync::Arc;

use crate::state::Agent;

/// Each agent's encoded JSON, kept between ticks and encoded again only when the agent
/// changed (its version moved), so a tick with few changes costs a copy of the body rather
/// than its encoding. Holds about one body's worth of bytes.
#[derive(Default)]
pub(crate) struct AgentFragments {
    entries: Vec<Fragment>,
    version: u64,
}

struct Fragment {
    id: Arc<str>,
    version: u64,
    json: Vec<u8>,
}

impl AgentFragments {
    /// Writes `agents` (sorted by id, as snapshots list them) as a JSON array, each element
    /// from the cache or from `encode`.
    pub fn write_array(
        &mut self,
        snapshot_version: u64,
        agents: &[Arc<Agent>],
        out: &mut Vec<u8>,
        mut encode: impl FnMut(&Agent, &mut Vec<u8>),
    ) {
        if snapshot_version < self.version {
            // The tenant's state was dropped and rebuilt: its versions started again.
            self.entries.clear();
        }
        self.version = snapshot_version;
        let mut old = std::mem::take(&mut self.entries).into_iter().peekable();
        let mut entries = Vec::with_capacity(agents.len());
        out.push(b'[');
        for (i, agent) in agents.iter().enumerate() {
            while old.next_if(|f| *f.id < *agent.id).is_some() {}
            let fragment = match old.next_if(|f| *f.id == *agent.id) {
                Some(cached) if cached.version == agent.version => cached,
                stale => {
                    let mut json = stale.map(|f| f.json).unwrap_or_default();
                    json.clear();
                    encode(agent, &mut json);
                    Fragment { id: agent.id.clone(), version: agent.version, json }
                }
            };
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&fragment.json);
            entries.push(fragment);
        }
        out.push(b']');
        self.entries = entries;
    }
}
