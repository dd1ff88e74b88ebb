//! The Aspect record: fixed-width UTF-16LE records for the Real-Time Adherence server's
//! Universal interface (layout in docs/feeds.md), one per agent change, snapshot marker or
//! heartbeat.

use chrono::{DateTime, Utc};

use crate::config::{ReasonCodes, RecordFieldSizes};
use crate::events::AgentState;
use crate::state::Agent;
use crate::wire::{put_digits, Civil};

/// The agent mode of a logged-out agent.
pub const LOGOUT_MODE: u32 = 27;

/// Records encoded per write; bounds what waits in memory when the receiver is slow.
pub const CHUNK_RECORDS: usize = 256;

/// The Aspect agent mode of a state.
pub fn agent_mode(state: Option<AgentState>) -> u32 {
    match state {
        Some(AgentState::Ready) => 1,
        Some(AgentState::Busy) => 2,
        Some(AgentState::AfterCallWork) => 3,
        Some(AgentState::Supervising) => 4,
        Some(AgentState::NotReady) => 5,
        None => LOGOUT_MODE,
    }
}

/// The first character of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// The agent logged in since the last records (current mode).
    Login,
    /// The agent logged out (mode 27).
    Logout,
    /// The agent's mode or reason changed.
    State,
    /// The agent's current state, inside a snapshot.
    Full,
    /// A snapshot starts; every logged-in agent follows as `F`.
    SnapshotBegin,
    /// The snapshot is complete; agents not in it are logged out.
    SnapshotEnd,
    /// Nothing changed this interval.
    Heartbeat,
}

impl RecordType {
    pub fn code(self) -> u8 {
        match self {
            RecordType::Login => b'L',
            RecordType::Logout => b'O',
            RecordType::State => b'S',
            RecordType::Full => b'F',
            RecordType::SnapshotBegin => b'B',
            RecordType::SnapshotEnd => b'E',
            RecordType::Heartbeat => b'H',
        }
    }
}

/// The second character: whether the feed is in its normal flow or recovering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthFlag {
    Normal,
    /// Records of the snapshot sent after a connection was lost or could not be opened.
    Recovered,
}

impl HealthFlag {
    pub fn code(self) -> u8 {
        match self {
            HealthFlag::Normal => b'N',
            HealthFlag::Recovered => b'R',
        }
    }
}

/// Character offsets of the fields in a record.
#[derive(Debug, Clone, Copy)]
struct Offsets {
    timestamp: usize,
    agent_id: usize,
    extension: usize,
    agent_mode: usize,
    reason_code: usize,
    service: usize,
}

/// Encodes records for one account's field sizes and reason codes.
#[derive(Debug, Clone)]
pub struct AspectEncoder {
    sizes: RecordFieldSizes,
    at: Offsets,
    /// A record of spaces ending in CR LF, copied and then filled in.
    blank: Vec<u8>,
    reason_codes: ReasonCodes,
}

impl AspectEncoder {
    pub fn new(sizes: RecordFieldSizes, reason_codes: ReasonCodes) -> AspectEncoder {
        let timestamp = 2;
        let agent_id = timestamp + sizes.timestamp;
        let extension = agent_id + sizes.agent_id;
        let agent_mode = extension + sizes.extension;
        let reason_code = agent_mode + sizes.agent_mode;
        let service = reason_code + sizes.reason_code;
        let mut blank: Vec<u8> = [b' ', 0].repeat(sizes.record_chars() - 2);
        blank.extend_from_slice(&[b'\r', 0, b'\n', 0]);
        AspectEncoder {
            sizes,
            at: Offsets { timestamp, agent_id, extension, agent_mode, reason_code, service },
            blank,
            reason_codes,
        }
    }

    /// The most bytes the feed holds for one write.
    pub fn max_write_bytes(&self) -> usize {
        (CHUNK_RECORDS + 1) * self.sizes.record_bytes()
    }

    /// The numeric code of the agent's Not Ready reason, when mapped.
    pub fn reason_code(&self, agent: &Agent) -> Option<u32> {
        if agent.state != Some(AgentState::NotReady) {
            return None;
        }
        agent.reason.as_deref().and_then(|r| self.reason_codes.get(r).copied())
    }

    /// Appends one agent record; the timestamp is when the agent entered its state.
    pub fn agent(&self, out: &mut Vec<u8>, kind: RecordType, health: HealthFlag, agent: &Agent) {
        let start = out.len();
        out.extend_from_slice(&self.blank);
        let rec = &mut out[start..];
        self.head(rec, kind, health, agent.since);
        put_text(rec, self.at.agent_id, self.sizes.agent_id, &agent.id);
        put_text(rec, self.at.extension, self.sizes.extension, &agent.extension);
        let mut mode = [b'0'; 8];
        let mode = &mut mode[..self.sizes.agent_mode];
        put_digits(mode, agent_mode(agent.state));
        put_ascii(rec, self.at.agent_mode, mode);
        if let Some(code) = self.reason_code(agent) {
            let mut digits = [0u8; 10];
            let len = decimal(code, &mut digits);
            let shown = len.min(self.sizes.reason_code);
            put_ascii(rec, self.at.reason_code, &digits[..shown]);
        }
        if let Some(service) = agent.current_service() {
            put_text(rec, self.at.service, self.sizes.service, service);
        }
    }

    /// Appends a record without agent fields (snapshot markers, heartbeat) stamped `at`.
    pub fn marker(&self, out: &mut Vec<u8>, kind: RecordType, health: HealthFlag, at: DateTime<Utc>) {
        let start = out.len();
        out.extend_from_slice(&self.blank);
        self.head(&mut out[start..], kind, health, at);
    }

    fn head(&self, rec: &mut [u8], kind: RecordType, health: HealthFlag, at: DateTime<Utc>) {
        rec[0] = kind.code();
        rec[2] = health.code();
        let civil = Civil::of(at);
        put_ascii(rec, self.at.timestamp, &civil.compact());
        if self.sizes.timestamp >= 17 {
            let mut millis = [b'0'; 3];
            put_digits(&mut millis, civil.millis);
            put_ascii(rec, self.at.timestamp + 14, &millis);
        }
    }
}

/// Writes ASCII bytes as UTF-16LE code units from character `offset` (high bytes are
/// already zero in the blank record).
fn put_ascii(rec: &mut [u8], offset: usize, ascii: &[u8]) {
    for (slot, &b) in rec[offset * 2..].chunks_exact_mut(2).zip(ascii) {
        slot[0] = b;
    }
}

/// Writes `text` left-aligned in a field of `width` code units, cut at the field's end
/// without splitting a surrogate pair; control characters (C0, DEL and C1) become spaces.
fn put_text(rec: &mut [u8], offset: usize, width: usize, text: &str) {
    let field = &mut rec[offset * 2..(offset + width) * 2];
    if text.is_ascii() {
        for (slot, b) in field.chunks_exact_mut(2).zip(text.bytes()) {
            slot[0] = if b < 0x20 || b == 0x7f { b' ' } else { b };
        }
        return;
    }
    let mut used = 0;
    for ch in text.chars() {
        let ch = if ch.is_control() { ' ' } else { ch };
        let mut units = [0u16; 2];
        let units = ch.encode_utf16(&mut units);
        if used + units.len() > width {
            break;
        }
        for unit in units.iter() {
            field[used * 2..used * 2 + 2].copy_from_slice(&unit.to_le_bytes());
            used += 1;
        }
    }
}

/// `value` in decimal into `out`, returning the length.
fn decimal(mut value: u32, out: &mut [u8; 10]) -> usize {
    let mut tmp = [0u8; 10];
    let mut len = 0;
    loop {
        tmp[len] = b'0' + (value % 10) as u8;
        len += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for i in 0..len {
        out[i] = tmp[len - 1 - i];
    }
    len
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::state::ActiveCall;

    fn agent(id: &str, state: Option<AgentState>, reason: Option<&str>) -> Agent {
        Agent {
            id: Arc::from(id),
            state,
            reason: reason.map(Arc::from),
            since: Utc.with_ymd_and_hms(2025, 3, 1, 9, 30, 5).unwrap(),
            extension: Arc::from("1001"),
            services: Arc::from(vec![Arc::from("Sales")]),
            call: None,
            version: 1,
            login_version: 1,
            last_at: Utc.with_ymd_and_hms(2025, 3, 1, 9, 30, 5).unwrap(),
        }
    }

    fn utf16(rec: &[u8]) -> String {
        let units: Vec<u16> = rec.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        String::from_utf16(&units).unwrap()
    }

    /// The worked example of docs/feeds.md, byte for byte.
    #[test]
    fn the_documented_example_record_is_what_the_encoder_writes() {
        let codes = ReasonCodes::from([("Lunch".to_owned(), 7)]);
        let encoder = AspectEncoder::new(RecordFieldSizes::default(), codes);
        let mut out = Vec::new();
        encoder.agent(
            &mut out,
            RecordType::State,
            HealthFlag::Normal,
            &agent("a1", Some(AgentState::NotReady), Some("Lunch")),
        );
        assert_eq!(out.len(), 204);
        let text = utf16(&out);
        let want = format!("SN20250301093005{:<16}{:<10}05{:<24}{:<32}\r\n", "a1", "1001", "7", "Sales");
        assert_eq!(text, want);
        let docs = include_str!("../../../../docs/feeds.md");
        let block = docs.split("<!-- aspect-example-hex -->\n```\n").nth(1).expect("the example is in the docs");
        let documented: Vec<u8> = block
            .lines()
            .take_while(|l| !l.starts_with("```"))
            .flat_map(|l| {
                l[6..].split("  ").next().unwrap_or("").split(' ').map(|b| u8::from_str_radix(b, 16).unwrap())
            })
            .collect();
        assert_eq!(out, documented);
        assert_eq!(&out[200..], &[0x0d, 0x00, 0x0a, 0x00]);
    }

    #[test]
    fn fields_are_cut_at_their_width_without_splitting_surrogate_pairs() {
        let sizes = RecordFieldSizes { agent_id: 3, extension: 2, service: 3, ..RecordFieldSizes::default() };
        let encoder = AspectEncoder::new(sizes, ReasonCodes::new());
        let mut a = agent("agent-long", Some(AgentState::Ready), None);
        a.extension = Arc::from("12345");
        a.services = Arc::from(vec![Arc::from("a😀b")]);
        let mut out = Vec::new();
        encoder.agent(&mut out, RecordType::Full, HealthFlag::Recovered, &a);
        assert_eq!(out.len(), sizes.record_bytes());
        let text = utf16(&out);
        assert_eq!(text, format!("FR20250301093005age1201{}a😀\r\n", " ".repeat(24)));
        let mut b = a.clone();
        b.services = Arc::from(vec![Arc::from("ab😀")]);
        out.clear();
        encoder.agent(&mut out, RecordType::Full, HealthFlag::Recovered, &b);
        assert!(utf16(&out).ends_with("ab \r\n"), "a pair that does not fit leaves a space");
    }

    #[test]
    fn control_characters_become_spaces_c1_included() {
        let sizes = RecordFieldSizes { agent_id: 4, extension: 4, service: 4, ..RecordFieldSizes::default() };
        let encoder = AspectEncoder::new(sizes, ReasonCodes::new());
        let mut a = agent("a\u{1b}b", Some(AgentState::Ready), None);
        a.extension = Arc::from("1\u{85}2é");
        a.services = Arc::from(vec![Arc::from("\u{9b}2Jé")]);
        let mut out = Vec::new();
        encoder.agent(&mut out, RecordType::Full, HealthFlag::Normal, &a);
        let text: Vec<char> = utf16(&out).chars().collect();
        let field = |from: usize| text[from..from + 4].iter().collect::<String>();
        assert_eq!(field(16), "a b ", "C0 in ASCII text");
        assert_eq!(field(20), "1 2é", "NEL (C1) in non-ASCII text");
        assert_eq!(field(text.len() - 6), " 2Jé", "CSI (C1)");
    }

    #[test]
    fn modes_reason_codes_and_services_follow_the_agent() {
        let codes = ReasonCodes::from([("Lunch".to_owned(), 123456)]);
        let sizes = RecordFieldSizes { agent_mode: 4, reason_code: 3, timestamp: 17, ..RecordFieldSizes::default() };
        let encoder = AspectEncoder::new(sizes, codes);
        let field = |out: &[u8], from: usize, width: usize| utf16(&out[from * 2..(from + width) * 2]);
        let (mode_at, reason_at, service_at) = (2 + 17 + 16 + 10, 2 + 17 + 16 + 10 + 4, 2 + 17 + 16 + 10 + 4 + 3);
        let mut out = Vec::new();
        encoder.agent(&mut out, RecordType::State, HealthFlag::Normal, &agent("a", None, None));
        assert_eq!(field(&out, mode_at, 4), "0027");
        let mut on_call = agent("a", Some(AgentState::NotReady), Some("Lunch"));
        on_call.since += chrono::Duration::milliseconds(45);
        on_call.call = Some(ActiveCall {
            call_id: Arc::from("c1"),
            extension: Arc::from("1001"),
            service: Some(Arc::from("VIP")),
            direction: None,
            since: on_call.since,
        });
        out.clear();
        encoder.agent(&mut out, RecordType::State, HealthFlag::Normal, &on_call);
        assert_eq!(field(&out, 2, 17), "20250301093005045");
        assert_eq!(field(&out, mode_at, 4), "0005");
        assert_eq!(field(&out, reason_at, 3), "123", "a code longer than its field is cut like text");
        assert_eq!(field(&out, service_at, 4), "VIP ", "the current call's service comes first");
        out.clear();
        encoder.agent(
            &mut out,
            RecordType::State,
            HealthFlag::Normal,
            &agent("a", Some(AgentState::NotReady), Some("Gym")),
        );
        assert_eq!(field(&out, reason_at, 3), "   ", "an unmapped reason leaves the code empty");
    }
}
