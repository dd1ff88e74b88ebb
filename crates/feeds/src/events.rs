//! The event intake format: what producers report about agents, calls and services. Owns
//! the typed events, their validation rules and the parser for NDJSON and JSON-array
//! bodies, which names every bad line with the field and rule it broke. NDJSON lines are
//! parsed straight from the body's bytes; only the strings an event keeps are allocated.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

// Which way a call goes and what an agent is doing: the API's types, as recording
// metadata and the live stream name them too.
pub use patchbay_api::{AgentState, Direction};

use crate::wire::Rfc3339;

/// Longest agent id, call id or extension, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Longest service name or Not Ready reason, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Most services one agent can be logged in to.
pub const MAX_SERVICES_PER_AGENT: usize = 64;
/// How far `at` may lie after the time of receipt (clock skew between producer and us).
pub const MAX_FUTURE_SECS: i64 = 300;

/// A call as `call_start` and `call_end` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub call_id: String,
    pub agent_id: String,
    pub extension: Option<String>,
    pub service: Option<String>,
    pub direction: Option<Direction>,
}

/// Real-time statistics of one service; absent counters are zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ServiceStats {
    pub calls_waiting: u32,
    pub longest_wait_s: u32,
    pub agents_ready: u32,
    pub agents_busy: u32,
    pub handled: u64,
    pub abandoned: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    AgentLogin { agent_id: String, extension: String, services: Vec<String> },
    AgentState { agent_id: String, state: AgentState, reason: Option<String> },
    AgentLogout { agent_id: String },
    CallStart(Call),
    CallEnd(Call),
    ServiceStats { service: String, stats: ServiceStats },
}

impl EventKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::AgentLogin { .. } => "agent_login",
            EventKind::AgentState { .. } => "agent_state",
            EventKind::AgentLogout { .. } => "agent_logout",
            EventKind::CallStart(_) => "call_start",
            EventKind::CallEnd(_) => "call_end",
            EventKind::ServiceStats { .. } => "service_stats",
        }
    }
}

/// One validated event; `at` is the producer's time, or the time of receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
}

/// Events serialize back to the intake format (one object, `at` always present), so tools
/// such as a simulator can produce bodies the parser takes.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "type")]
            ty: &'static str,
            at: Rfc3339,
            #[serde(skip_serializing_if = "Option::is_none")]
            call_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            agent_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            extension: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            services: Option<&'a [String]>,
            #[serde(skip_serializing_if = "Option::is_none")]
            state: Option<AgentState>,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            service: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            direction: Option<Direction>,
            #[serde(flatten, skip_serializing_if = "Option::is_none")]
            stats: Option<&'a ServiceStats>,
        }
        let mut wire = Wire {
            ty: self.kind.type_name(),
            at: Rfc3339(self.at),
            call_id: None,
            agent_id: None,
            extension: None,
            services: None,
            state: None,
            reason: None,
            service: None,
            direction: None,
            stats: None,
        };
        match &self.kind {
            EventKind::AgentLogin { agent_id, extension, services } => {
                wire.agent_id = Some(agent_id);
                wire.extension = Some(extension);
                wire.services = Some(services);
            }
            EventKind::AgentState { agent_id, state, reason } => {
                wire.agent_id = Some(agent_id);
                wire.state = Some(*state);
                wire.reason = reason.as_deref();
            }
            EventKind::AgentLogout { agent_id } => wire.agent_id = Some(agent_id),
            EventKind::CallStart(call) | EventKind::CallEnd(call) => {
                wire.call_id = Some(&call.call_id);
                wire.agent_id = Some(&call.agent_id);
                wire.extension = call.extension.as_deref();
                wire.service = call.service.as_deref();
                wire.direction = call.direction;
            }
            EventKind::ServiceStats { service, stats } => {
                wire.service = Some(service);
                wire.stats = Some(stats);
            }
        }
        wire.serialize(serializer)
    }
}

/// `events` as NDJSON, one line each.
pub fn to_ndjson(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 128);
    for event in events {
        serde_json::to_writer(&mut out, event).expect("events serialize to memory");
        out.push(b'\n');
    }
    out
}

/// Where a rejected event sat in the body: the 1-based line of an NDJSON body, or the
/// 0-based index of a JSON array element. Serializes as `{"line": 3}` or `{"index": 2}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    Line(usize),
    Index(usize),
}

/// An event that was not taken, and why (the field and the rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    #[serde(flatten)]
    pub position: Position,
    pub reason: String,
}

/// The result of parsing a body: the good events in body order (`positions[i]` is where
/// `events[i]` came from) and the rejected ones.
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<Event>,
    pub positions: Vec<Position>,
    pub rejected: Vec<Rejected>,
}

/// A body that cannot be split into events at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body starts a JSON array but is not valid JSON: {0}")]
    Array(String),
}

/// Parses an NDJSON body (one event per line; blank lines ignored) or, when the first
/// non-blank byte is `[`, a JSON array of events. Events without `at` get `received_at`.
pub fn parse_body(body: &[u8], received_at: DateTime<Utc>) -> Result<Parsed, BodyError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(Parsed::default()),
        Some(b'[') => parse_array(body, received_at),
        Some(_) => Ok(parse_ndjson(body, received_at)),
    }
}

fn parse_ndjson(body: &[u8], received_at: DateTime<Utc>) -> Parsed {
    let mut parsed = Parsed::default();
    let guess = body.len() / 96 + 1;
    parsed.events.reserve(guess);
    parsed.positions.reserve(guess);
    for (index, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let position = Position::Line(index + 1);
        match parse_line(line, received_at) {
            Ok(event) => {
                parsed.events.push(event);
                parsed.positions.push(position);
            }
            Err(reason) => parsed.rejected.push(Rejected { position, reason }),
        }
    }
    parsed
}

fn parse_array(body: &[u8], received_at: DateTime<Utc>) -> Result<Parsed, BodyError> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| BodyError::Array(e.to_string()))?;
    let mut parsed = Parsed::default();
    for (index, item) in items.iter().enumerate() {
        let position = Position::Index(index);
        let mut failed = None;
        let result = RawSeed { failed: &mut failed }.deserialize(item);
        match result.map_err(|e| describe(&e, failed)).and_then(|raw| raw.build(received_at)) {
            Ok(event) => {
                parsed.events.push(event);
                parsed.positions.push(position);
            }
            Err(reason) => parsed.rejected.push(Rejected { position, reason }),
        }
    }
    Ok(parsed)
}

/// Parses one event from its JSON text.
pub fn parse_event(json: &[u8], received_at: DateTime<Utc>) -> Result<Event, String> {
    parse_line(json.trim_ascii(), received_at)
}

fn parse_line(line: &[u8], received_at: DateTime<Utc>) -> Result<Event, String> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let mut failed = None;
    let raw = RawSeed { failed: &mut failed }.deserialize(&mut de).and_then(|raw| de.end().map(|()| raw));
    match raw {
        Ok(raw) => raw.build(received_at),
        Err(e) => Err(describe(&e, failed)),
    }
}

/// Turns a serde error into a reason: the field and its rule for a wrong type, the column
/// for broken JSON.
fn describe(e: &serde_json::Error, failed: Option<Failed>) -> String {
    match (e.classify(), failed) {
        (serde_json::error::Category::Data, Some(Failed::Type(field))) => {
            format!("{}: must be {}", field.name(), field.expected())
        }
        (serde_json::error::Category::Data, Some(Failed::Duplicate(field))) => {
            format!("{}: appears more than once", field.name())
        }
        (serde_json::error::Category::Data, None) => "the event must be a JSON object".to_owned(),
        _ => {
            let message = e.to_string();
            let message = message.rfind(" at line ").map_or(message.as_str(), |cut| &message[..cut]);
            format!("not valid JSON at column {}: {message}", e.column())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    At,
    AgentId,
    Extension,
    Services,
    State,
    Reason,
    CallId,
    Service,
    Direction,
    CallsWaiting,
    LongestWaitS,
    AgentsReady,
    AgentsBusy,
    Handled,
    Abandoned,
}

impl Field {
    const ALL: [Field; 16] = [
        Field::Type,
        Field::At,
        Field::AgentId,
        Field::Extension,
        Field::Services,
        Field::State,
        Field::Reason,
        Field::CallId,
        Field::Service,
        Field::Direction,
        Field::CallsWaiting,
        Field::LongestWaitS,
        Field::AgentsReady,
        Field::AgentsBusy,
        Field::Handled,
        Field::Abandoned,
    ];
    const COUNTERS: [Field; 6] = [
        Field::CallsWaiting,
        Field::LongestWaitS,
        Field::AgentsReady,
        Field::AgentsBusy,
        Field::Handled,
        Field::Abandoned,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::At => "at",
            Field::AgentId => "agent_id",
            Field::Extension => "extension",
            Field::Services => "services",
            Field::State => "state",
            Field::Reason => "reason",
            Field::CallId => "call_id",
            Field::Service => "service",
            Field::Direction => "direction",
            Field::CallsWaiting => "calls_waiting",
            Field::LongestWaitS => "longest_wait_s",
            Field::AgentsReady => "agents_ready",
            Field::AgentsBusy => "agents_busy",
            Field::Handled => "handled",
            Field::Abandoned => "abandoned",
        }
    }

    fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == key)
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }

    fn expected(self) -> &'static str {
        match self {
            Field::Services => "an array of strings",
            Field::CallsWaiting
            | Field::LongestWaitS
            | Field::AgentsReady
            | Field::AgentsBusy
            | Field::Handled
            | Field::Abandoned => "a non-negative integer",
            _ => "a string",
        }
    }

    fn counter_index(self) -> usize {
        Field::COUNTERS.iter().position(|f| *f == self).unwrap_or(0)
    }
}

fn mask(fields: &[Field]) -> u32 {
    fields.iter().fold(0, |m, f| m | f.bit())
}

/// Why deserializing stopped inside a field.
#[derive(Debug, Clone, Copy)]
enum Failed {
    Type(Field),
    Duplicate(Field),
}

/// An event as written, before validation; strings borrow from the body when they hold
/// no escapes.
#[derive(Default)]
struct Raw<'a> {
    /// Fields present with a non-null value.
    present: u32,
    seen: u32,
    unknown: Option<String>,
    ty: Option<Cow<'a, str>>,
    at: Option<Cow<'a, str>>,
    agent_id: Option<Cow<'a, str>>,
    extension: Option<Cow<'a, str>>,
    services: Option<Vec<Cow<'a, str>>>,
    state: Option<Cow<'a, str>>,
    reason: Option<Cow<'a, str>>,
    call_id: Option<Cow<'a, str>>,
    service: Option<Cow<'a, str>>,
    direction: Option<Cow<'a, str>>,
    counters: [Option<u64>; 6],
}

struct RawSeed<'s> {
    failed: &'s mut Option<Failed>,
}

impl<'de> DeserializeSeed<'de> for RawSeed<'_> {
    type Value = Raw<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RawSeed<'_> {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        let mut raw = Raw::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let field = match key {
                Key::Known(field) => field,
                Key::Unknown(name) => {
                    raw.unknown.get_or_insert(name);
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if raw.seen & field.bit() != 0 {
                *self.failed = Some(Failed::Duplicate(field));
                return Err(de::Error::custom("duplicate field"));
            }
            raw.seen |= field.bit();
            let present = match field {
                Field::Services => map.next_value_seed(OptStrList).map(|v| {
                    let some = v.is_some();
                    raw.services = v;
                    some
                }),
                Field::CallsWaiting
                | Field::LongestWaitS
                | Field::AgentsReady
                | Field::AgentsBusy
                | Field::Handled
                | Field::Abandoned => map.next_value_seed(OptU64).map(|v| {
                    raw.counters[field.counter_index()] = v;
                    v.is_some()
                }),
                _ => map.next_value_seed(OptStr).map(|v| {
                    let some = v.is_some();
                    *raw.text_slot(field) = v;
                    some
                }),
            };
            match present {
                Ok(true) => raw.present |= field.bit(),
                Ok(false) => {}
                Err(e) => {
                    *self.failed = Some(Failed::Type(field));
                    return Err(e);
                }
            }
        }
        Ok(raw)
    }
}

enum Key {
    Known(Field),
    Unknown(String),
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match Field::from_key(key) {
            Some(field) => Key::Known(field),
            None => Key::Unknown(shown(key)),
        })
    }
}

/// A string or null.
struct OptStr;

impl<'de> DeserializeSeed<'de> for OptStr {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptStr {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(StrVisitor).map(Some)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// An array of strings or null; reading stops being useful past the per-agent limit, so
/// longer arrays are cut at one more than it (validation then names the limit).
struct OptStrList;

impl<'de> DeserializeSeed<'de> for OptStrList {
    type Value = Option<Vec<Cow<'de, str>>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptStrList {
    type Value = Option<Vec<Cow<'de, str>>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(MAX_SERVICES_PER_AGENT + 1));
        while let Some(item) = seq.next_element_seed(StrSeed)? {
            if items.len() <= MAX_SERVICES_PER_AGENT {
                items.push(item);
            }
        }
        Ok(Some(items))
    }
}

struct StrSeed;

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A non-negative integer or null.
struct OptU64;

impl<'de> DeserializeSeed<'de> for OptU64 {
    type Value = Option<u64>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptU64 {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_u64(self)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    AgentLogin,
    AgentState,
    AgentLogout,
    CallStart,
    CallEnd,
    ServiceStats,
}

impl Type {
    const ALL: [(Type, &'static str); 6] = [
        (Type::AgentLogin, "agent_login"),
        (Type::AgentState, "agent_state"),
        (Type::AgentLogout, "agent_logout"),
        (Type::CallStart, "call_start"),
        (Type::CallEnd, "call_end"),
        (Type::ServiceStats, "service_stats"),
    ];

    fn parse(text: &str) -> Option<Type> {
        Type::ALL.iter().find(|(_, name)| *name == text).map(|(t, _)| *t)
    }

    fn allowed(self) -> u32 {
        let own = match self {
            Type::AgentLogin => mask(&[Field::AgentId, Field::Extension, Field::Services]),
            Type::AgentState => mask(&[Field::AgentId, Field::State, Field::Reason]),
            Type::AgentLogout => mask(&[Field::AgentId]),
            Type::CallStart | Type::CallEnd => {
                mask(&[Field::CallId, Field::AgentId, Field::Extension, Field::Service, Field::Direction])
            }
            Type::ServiceStats => mask(&[Field::Service]) | mask(&Field::COUNTERS),
        };
        own | mask(&[Field::Type, Field::At])
    }
}

impl<'a> Raw<'a> {
    fn text_slot(&mut self, field: Field) -> &mut Option<Cow<'a, str>> {
        match field {
            Field::Type => &mut self.ty,
            Field::At => &mut self.at,
            Field::AgentId => &mut self.agent_id,
            Field::Extension => &mut self.extension,
            Field::State => &mut self.state,
            Field::Reason => &mut self.reason,
            Field::CallId => &mut self.call_id,
            Field::Service => &mut self.service,
            _ => &mut self.direction,
        }
    }

    fn build(self, received_at: DateTime<Utc>) -> Result<Event, String> {
        let ty_text = self.ty.as_deref().ok_or("type: required")?;
        let names = || Type::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ");
        let ty = Type::parse(ty_text)
            .ok_or_else(|| format!("type: unknown event type `{}`; expected one of {}", shown(ty_text), names()))?;
        if let Some(name) = &self.unknown {
            return Err(format!("`{name}` is not a field of {ty_text}"));
        }
        let extra = self.present & !ty.allowed();
        if let Some(field) = Field::ALL.into_iter().find(|f| extra & f.bit() != 0) {
            return Err(format!("`{}` is not a field of {ty_text}", field.name()));
        }
        let at = match &self.at {
            None => received_at,
            Some(text) => parse_at(text, received_at)?,
        };
        let kind = match ty {
            Type::AgentLogin => EventKind::AgentLogin {
                agent_id: id(Field::AgentId, self.agent_id)?,
                extension: optional(Field::Extension, self.extension, MAX_ID_CHARS)?.unwrap_or_default(),
                services: services(self.services)?,
            },
            Type::AgentState => {
                let state_text = self.state.as_deref().ok_or("state: required")?;
                let state = AgentState::parse(state_text).ok_or_else(|| {
                    let all = AgentState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                    format!("state: `{}` is not a state; expected one of {all}", shown(state_text))
                })?;
                if state != AgentState::NotReady && self.reason.is_some() {
                    return Err("reason: only allowed with state not_ready".to_owned());
                }
                EventKind::AgentState {
                    agent_id: id(Field::AgentId, self.agent_id)?,
                    state,
                    reason: optional(Field::Reason, self.reason, MAX_NAME_CHARS)?.filter(|r| !r.is_empty()),
                }
            }
            Type::AgentLogout => EventKind::AgentLogout { agent_id: id(Field::AgentId, self.agent_id)? },
            Type::CallStart | Type::CallEnd => {
                let direction = match self.direction.as_deref() {
                    None => None,
                    Some(text) => Some(Direction::parse(text).ok_or_else(|| {
                        format!(
                            "direction: `{}` is not a direction; expected one of inbound, outbound, internal",
                            shown(text)
                        )
                    })?),
                };
                let call = Call {
                    call_id: id(Field::CallId, self.call_id)?,
                    agent_id: id(Field::AgentId, self.agent_id)?,
                    extension: optional(Field::Extension, self.extension, MAX_ID_CHARS)?.filter(|e| !e.is_empty()),
                    service: optional(Field::Service, self.service, MAX_NAME_CHARS)?.filter(|s| !s.is_empty()),
                    direction,
                };
                if ty == Type::CallStart {
                    EventKind::CallStart(call)
                } else {
                    EventKind::CallEnd(call)
                }
            }
            Type::ServiceStats => {
                let c = &self.counters;
                EventKind::ServiceStats {
                    service: required(Field::Service, self.service, MAX_NAME_CHARS)?,
                    stats: ServiceStats {
                        calls_waiting: small(Field::CallsWaiting, c[0])?,
                        longest_wait_s: small(Field::LongestWaitS, c[1])?,
                        agents_ready: small(Field::AgentsReady, c[2])?,
                        agents_busy: small(Field::AgentsBusy, c[3])?,
                        handled: c[4].unwrap_or(0),
                        abandoned: c[5].unwrap_or(0),
                    },
                }
            }
        };
        Ok(Event { at, kind })
    }
}

fn parse_at(text: &str, received_at: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("at: `{}` is not an RFC 3339 timestamp such as 2025-01-31T09:30:00Z", shown(text)))?
        .with_timezone(&Utc);
    if (at - received_at).num_seconds() > MAX_FUTURE_SECS {
        return Err(format!("at: more than {MAX_FUTURE_SECS} s after the time of receipt"));
    }
    Ok(at)
}

fn id(field: Field, value: Option<Cow<'_, str>>) -> Result<String, String> {
    required(field, value, MAX_ID_CHARS)
}

fn required(field: Field, value: Option<Cow<'_, str>>, max: usize) -> Result<String, String> {
    let value = value.ok_or_else(|| format!("{}: required", field.name()))?;
    if value.is_empty() {
        return Err(format!("{}: must not be empty", field.name()));
    }
    checked(field, value, max)
}

fn optional(field: Field, value: Option<Cow<'_, str>>, max: usize) -> Result<Option<String>, String> {
    value.map(|v| checked(field, v, max)).transpose()
}

fn checked(field: Field, value: Cow<'_, str>, max: usize) -> Result<String, String> {
    if value.len() > max && value.chars().count() > max {
        return Err(format!("{}: at most {max} characters", field.name()));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{}: must not contain control characters", field.name()));
    }
    Ok(value.into_owned())
}

fn services(value: Option<Vec<Cow<'_, str>>>) -> Result<Vec<String>, String> {
    let items = value.unwrap_or_default();
    if items.len() > MAX_SERVICES_PER_AGENT {
        return Err(format!("services: at most {MAX_SERVICES_PER_AGENT} services"));
    }
    items
        .into_iter()
        .map(|s| {
            if s.is_empty() {
                return Err("services: a service name must not be empty".to_owned());
            }
            checked(Field::Services, s, MAX_NAME_CHARS)
        })
        .collect()
}

fn small(field: Field, value: Option<u64>) -> Result<u32, String> {
    u32::try_from(value.unwrap_or(0)).map_err(|_| format!("{}: at most {}", field.name(), u32::MAX))
}

/// User input as it may appear in a reason: at most 64 characters.
fn shown(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
    }

    fn one(line: &str) -> Result<Event, String> {
        parse_event(line.as_bytes(), now())
    }

    #[test]
    fn every_event_type_of_the_issue_parses() {
        let body = br#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales"]}
{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch","at":"2025-03-01T09:59:00Z"}
{"type":"agent_logout","agent_id":"a1"}
{"type":"call_start","call_id":"c1","agent_id":"a1","extension":"1001","service":"Sales","direction":"inbound"}
{"type":"call_end","call_id":"c1","agent_id":"a1","extension":"1001","service":"Sales","direction":"inbound"}
{"type":"service_stats","service":"Sales","calls_waiting":3,"longest_wait_s":40,"agents_ready":2,"agents_busy":5,"handled":100,"abandoned":4}
"#;
        let parsed = parse_body(body, now()).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        assert_eq!(parsed.events.len(), 6);
        assert_eq!(
            parsed.events[0].kind,
            EventKind::AgentLogin { agent_id: "a1".into(), extension: "1001".into(), services: vec!["Sales".into()] }
        );
        assert_eq!(parsed.events[0].at, now(), "no `at` means the time of receipt");
        assert_eq!(parsed.events[1].at, Utc.with_ymd_and_hms(2025, 3, 1, 9, 59, 0).unwrap());
        assert_eq!(
            parsed.events[5].kind,
            EventKind::ServiceStats {
                service: "Sales".into(),
                stats: ServiceStats {
                    calls_waiting: 3,
                    longest_wait_s: 40,
                    agents_ready: 2,
                    agents_busy: 5,
                    handled: 100,
                    abandoned: 4
                }
            }
        );
        assert_eq!(parsed.positions, (1..=6).map(Position::Line).collect::<Vec<_>>());
    }

    #[test]
    fn bad_lines_are_named_by_line_number_and_good_lines_are_kept() {
        let body = b"{\"type\":\"agent_logout\",\"agent_id\":\"a1\"}\n\n   \n{\"type\":\"agent_state\",\"agent_id\":\"a1\",\"state\":\"ready\",\"reason\":\"x\"}\r\n{\"type\":\"agent_logout\",\"agent_id\":\"a2\"}\r\n{oops\n";
        let parsed = parse_body(body, now()).unwrap();
        assert_eq!(parsed.events.len(), 2);
        assert_eq!(parsed.positions, vec![Position::Line(1), Position::Line(5)]);
        assert_eq!(parsed.rejected.len(), 2);
        assert_eq!(parsed.rejected[0].position, Position::Line(4));
        assert_eq!(parsed.rejected[0].reason, "reason: only allowed with state not_ready");
        assert_eq!(parsed.rejected[1].position, Position::Line(6));
        assert!(parsed.rejected[1].reason.starts_with("not valid JSON at column 2"), "{}", parsed.rejected[1].reason);
    }

    #[test]
    fn reasons_name_the_field_and_the_rule() {
        let cases = [
            (r#"{"agent_id":"a1"}"#, "type: required"),
            (r#"{"type":"agent_dance","agent_id":"a1"}"#, "type: unknown event type `agent_dance`"),
            (r#"{"type":"agent_logout"}"#, "agent_id: required"),
            (r#"{"type":"agent_logout","agent_id":""}"#, "agent_id: must not be empty"),
            (r#"{"type":"agent_logout","agent_id":5}"#, "agent_id: must be a string"),
            (r#"{"type":"agent_logout","agent_id":"a","agent_id":"b"}"#, "agent_id: appears more than once"),
            (r#"{"type":"agent_state","agent_id":"a1"}"#, "state: required"),
            (r#"{"type":"agent_state","agent_id":"a1","state":"asleep"}"#, "state: `asleep` is not a state"),
            (r#"{"type":"agent_state","agent_id":"a1","state":"busy","reason":"Lunch"}"#, "reason: only allowed"),
            (r#"{"type":"agent_logout","agent_id":"a1","state":"busy"}"#, "`state` is not a field of agent_logout"),
            (r#"{"type":"agent_logout","agent_id":"a1","colour":"red"}"#, "`colour` is not a field of agent_logout"),
            (r#"{"type":"agent_login","agent_id":"a1","services":"Sales"}"#, "services: must be an array of strings"),
            (r#"{"type":"service_stats","service":"S","calls_waiting":-1}"#, "calls_waiting: must be a non-negative"),
            (r#"{"type":"service_stats","service":"S","handled":1.5}"#, "handled: must be a non-negative integer"),
            (r#"{"type":"service_stats","service":"S","agents_busy":4294967296}"#, "agents_busy: at most 4294967295"),
            (r#"{"type":"call_start","call_id":"c","agent_id":"a","direction":"up"}"#, "direction: `up` is not"),
            (r#"{"type":"agent_logout","agent_id":"a1","at":"yesterday"}"#, "at: `yesterday` is not an RFC 3339"),
            (r#"{"type":"agent_logout","agent_id":"a1","at":"2025-03-01T10:06:00Z"}"#, "at: more than 300 s after"),
            (r#"{"type":"agent_logout","agent_id":"a\u0007"}"#, "agent_id: must not contain control characters"),
            (r#"{"type":"agent_logout","agent_id":"a\u0085"}"#, "agent_id: must not contain control characters"),
            (r#"{"type":"agent_login","agent_id":"a","services":["S\u009b2J"]}"#, "services: must not contain control"),
            (r#"["agent_logout"]"#, "the event must be a JSON object"),
            (r#"{"type":"agent_logout","agent_id":"a1"} x"#, "not valid JSON at column"),
        ];
        for (line, want) in cases {
            let got = one(line).unwrap_err();
            assert!(got.starts_with(want), "{line}: got `{got}`, want `{want}`");
        }
        let long = format!(r#"{{"type":"agent_logout","agent_id":"{}"}}"#, "x".repeat(MAX_ID_CHARS + 1));
        assert_eq!(one(&long).unwrap_err(), "agent_id: at most 128 characters");
    }

    #[test]
    fn null_counts_as_absent() {
        let event = one(r#"{"type":"agent_state","agent_id":"a1","state":"ready","reason":null,"at":null}"#).unwrap();
        assert_eq!(event.kind, EventKind::AgentState { agent_id: "a1".into(), state: AgentState::Ready, reason: None });
        assert_eq!(event.at, now());
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let event = one(r#"{"type":"agent_login","agent_id":"J\u00f6rg \"J\"","services":["Sal\u00e9s"]}"#).unwrap();
        let EventKind::AgentLogin { agent_id, services, extension } = event.kind else { panic!() };
        assert_eq!(agent_id, "Jörg \"J\"");
        assert_eq!(services, vec!["Salés".to_owned()]);
        assert_eq!(extension, "");
    }

    #[test]
    fn a_json_array_reports_bad_elements_by_index() {
        let body = br#" [{"type":"agent_logout","agent_id":"a1"}, {"type":"agent_logout"}, 7,
            {"type":"agent_state","agent_id":"a1","state":"supervising"}]"#;
        let parsed = parse_body(body, now()).unwrap();
        assert_eq!(parsed.events.len(), 2);
        assert_eq!(parsed.positions, vec![Position::Index(0), Position::Index(3)]);
        let rejected: Vec<_> = parsed.rejected.iter().map(|r| (r.position, r.reason.as_str())).collect();
        assert_eq!(
            rejected,
            vec![(Position::Index(1), "agent_id: required"), (Position::Index(2), "the event must be a JSON object")]
        );
        assert!(matches!(parse_body(b"[{\"type\":", now()), Err(BodyError::Array(_))));
    }

    #[test]
    fn rejections_serialize_with_line_or_index() {
        let r = Rejected { position: Position::Line(3), reason: "agent_id: required".into() };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"line":3,"reason":"agent_id: required"}"#);
        let r = Rejected { position: Position::Index(0), reason: "x".into() };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"index":0,"reason":"x"}"#);
    }

    #[test]
    fn events_serialize_to_lines_the_parser_takes_back() {
        let body = br#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales","VIP"]}
{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch"}
{"type":"call_start","call_id":"c1","agent_id":"a1","service":"Sales","direction":"outbound"}
{"type":"call_end","call_id":"c1","agent_id":"a1"}
{"type":"service_stats","service":"Sales","calls_waiting":3,"handled":100}
{"type":"agent_logout","agent_id":"a1","at":"2025-03-01T09:00:00.250Z"}"#;
        let parsed = parse_body(body, now()).unwrap();
        let again = parse_body(&to_ndjson(&parsed.events), now()).unwrap();
        assert!(again.rejected.is_empty(), "{:?}", again.rejected);
        assert_eq!(again.events, parsed.events);
    }
}
