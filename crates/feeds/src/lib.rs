//! The data plane: the event intake format, the live agent and service state of every
//! tenant, and the pushing integrations that carry it to WFM (Aspect RTA over TCP, HTTP
//! POST), Loxysoft, NICE and statistics receivers, one supervised feed task per enabled
//! account. Each pushing integration is one folder (`aspect`, `wfm_http`, `loxysoft`,
//! `nice`, `stats_receiver`) holding its wire format, its feed and its connection test (a
//! `patchbay_connectors::Connector` that sends what the feed sends, from the same encoder);
//! [`registry`] is the connectors' registry with those connection tests added, the one every
//! caller uses.
//! It must not touch the store; every outbound connection goes through `Egress`, and
//! secrets stay `SecretString` until the request that sends them. Property keys, defaults
//! and ranges come from the catalog. Modules import downward only (`context`, `transport`
//! and `probe` below the integrations, the `runner` on top); a test keeps it so.

pub mod aspect;
mod clock;
mod config;
mod context;
pub mod events;
mod fragments;
mod health;
pub mod loxysoft;
pub mod nice;
mod probe;
mod runner;
mod state;
pub mod stats_receiver;
mod transport;
pub mod wfm_http;
mod wire;

use std::sync::Arc;

use patchbay_connectors::{Connector, Registry};

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

/// Every connection test and action: the connectors crate's own and the pushing
/// integrations' of this crate. The server builds its registry here, and so does every test
/// that runs connection tests, so none of them misses an integration.
pub fn registry() -> Registry {
    let pushing: [Arc<dyn Connector>; 5] = [
        Arc::new(aspect::AspectTcp),
        Arc::new(wfm_http::WfmHttpPost),
        Arc::new(loxysoft::Loxysoft),
        Arc::new(nice::Nice),
        Arc::new(stats_receiver::StatisticsReceiver),
    ];
    Registry::with(pushing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feed_kind_has_its_connection_test_in_the_registry() {
        let registry = registry();
        for kind in FeedKind::ALL {
            for &(type_key, provider) in kind.handles() {
                let connector = registry.get(type_key, provider);
                assert_eq!(connector.map(|c| c.handles()), Some(kind.handles()), "{kind:?}");
            }
        }
    }

    #[test]
    fn no_two_modules_import_each_other_even_through_others() {
        patchbay_testkit::sources::assert_no_import_circles(env!("CARGO_MANIFEST_DIR"));
    }
}
