//! Local stand-ins for vendor APIs (HTTP and WebSocket) that cannot run here, each following its vendor's
//! documented contract (the doc is cited next to it): the connection tests of the
//! connectors and the runtime gateway's operations are tested against the same ones.

pub mod business;
pub mod inbound;
pub mod messaging;
pub mod outbound;
/// Speech To Text over WSS: needs the test CA too.
#[cfg(feature = "tls")]
pub mod speech;
