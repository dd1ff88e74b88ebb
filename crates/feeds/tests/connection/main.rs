//! The connection tests of the pushing integrations, run through `patchbay_feeds::registry()`
//! as the server runs them, against loopback receivers that follow docs/feeds.md: TCP
//! receivers (Aspect, statistics receiver) and HTTP receivers (WFM HTTP POST, Loxysoft,
//! NICE); and the registry checked against the catalog.

mod common;
mod coverage;
mod http;
mod receivers;
mod tcp;
