//! Vendors reached over HTTPS APIs: messaging, bots and speech (`messaging`), and business
//! systems: CRMs, lookup services, knowledge base, WFM and recording feeds (`business`).

mod business;
mod messaging;

use std::sync::Arc;

pub use business::feed::{LOXYSOFT_EMPTY_UPDATE, WFM_EMPTY_UPDATE};

use crate::Connector;

pub(crate) fn connectors() -> Vec<Arc<dyn Connector>> {
    messaging::connectors().into_iter().chain(business::connectors()).collect()
}
