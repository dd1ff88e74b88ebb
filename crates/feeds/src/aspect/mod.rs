//! WFM over TCP to the Aspect Real-Time Adherence server's Universal interface: the record
//! format (`format`), the feed that streams records over a kept-open connection (`feed`) and
//! the connection test (`connector`).

mod connector;
mod feed;
mod format;

pub(crate) use connector::AspectTcp;
pub(crate) use feed::run;
pub use format::{agent_mode, AspectEncoder, HealthFlag, RecordType, CHUNK_RECORDS, LOGOUT_MODE};

pub use crate::config::RecordFieldSizes;
