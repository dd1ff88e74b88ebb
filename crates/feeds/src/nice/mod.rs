//! NICE recording: the batches of agent and call messages (`format`), the feed that posts
//! them as they happen with keep-alives between (`feed`) and the connection test that posts
//! a keep-alive (`connector`).

mod connector;
mod feed;
mod format;

pub(crate) use connector::Nice;
pub(crate) use feed::run;
pub use format::{NiceBatch, NiceEncoder, NiceMessage};
