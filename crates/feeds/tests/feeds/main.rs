//! Feeds end to end on loopback, in paused time: events into the live state, bytes and JSON
//! out at local receivers that decode what docs/feeds.md specifies; receivers that are
//! down, killed, slow, failing or silent; and the supervisor following account changes.

mod aspect;
mod common;
mod fuzz;
mod http;
mod nice;
mod statistics;
mod supervisor;
