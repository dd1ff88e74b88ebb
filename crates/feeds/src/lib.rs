//! The data plane: the event intake format, the live agent and service state of every
//! tenant, and the feeds that carry it to WFM (Aspect RTA over TCP, HTTP POST), Loxysoft,
//! NICE and statistics receivers, one supervised task per enabled account.
//! It must not touch the store; every outbound connection goes through `Egress`, and
//! secrets stay `SecretString` until the request that sends them.

pub mod aspect;
mod clock;
mod config;
pub mod events;
mod health;
pub mod loxysoft;
pub mod nice;
mod runner;
mod state;
pub mod stats_receiver;
mod transport;
pub mod wfm_http;
mod wire;

pub use clock::Clock;
pub use config::{ConfigError, FeedKind, FeedSpec, ReasonCodes};
pub use events::{parse_body, Event, EventKind, Parsed, Position, Rejected};
pub use health::{FeedHealth, FeedStatus};
pub use runner::{ApplySummary, FeedOptions, Supervisor, Upsert};
pub use state::{
    ActiveCall, Agent, ApplyReport, Change, Changes, IntakeError, IntakeReport, Journaled, Limits, LiveState,
    RejectedEvent, Service, Snapshot, StateCounts, TenantView,
};
pub use wire::Rfc3339;
