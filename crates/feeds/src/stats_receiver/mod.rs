//! The Statistics Data Receiver: the statistics line (`format`), the feed that streams it
//! over a kept-open TCP connection (`feed`) and the connection test (`connector`).

mod connector;
mod feed;
mod format;

pub(crate) use connector::StatisticsReceiver;
pub(crate) use feed::run;
pub use format::encode_line;
