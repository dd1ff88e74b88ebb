//! WFM over HTTP POST: the update's JSON (`format`), the feed that posts it at every interval
//! (`feed`) and the connection test that posts it for an empty state (`connector`).

mod connector;
mod feed;
mod format;

pub(crate) use connector::WfmHttpPost;
pub(crate) use feed::run;
pub(crate) use format::ServiceOut;
pub use format::{encode_update, WfmEncoder};
