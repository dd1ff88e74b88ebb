//! The data plane: the event intake format, the live agent and service state of every
//! tenant, and the feeds that carry it to WFM (Aspect RTA over TCP, HTTP POST), Loxysoft,
//! NICE and statistics receivers, one supervised task per enabled account.
//! It must not touch the store; every outbound connection goes through `Egress`, and
//! secrets stay `SecretString` until the request that sends them. Property keys, defaults
//! and ranges come from the catalog. Modules import downward only (`context` and
//! `transport` below the feed kinds, the `runner` on top); a test keeps it so.

pub mod aspect;
mod clock;
mod config;
mod context;
pub mod events;
mod fragments;
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
pub use context::FeedOptions;
pub use events::{parse_body, Event, EventKind, Parsed, Position, Rejected};
pub use health::{FeedHealth, FeedStatus};
pub use runner::{ApplySummary, Supervisor, Upsert};
pub use state::{
    ActiveCall, Agent, ApplyReport, Change, Changes, IntakeError, IntakeReport, Journaled, Limits, LiveState,
    RejectedEvent, Service, Snapshot, StateCounts, TenantView,
};
pub use wire::Rfc3339;

#[cfg(test)]
mod tests {
    #[test]
    fn no_two_modules_import_each_other_even_through_others() {
        patchbay_testkit::sources::assert_no_import_circles(env!("CARGO_MANIFEST_DIR"));
    }
}
