//! Vendors reached over HTTPS APIs: messaging, bots and speech (`messaging`), and business
//! systems: CRMs, lookup services and the knowledge base (`business`).

mod business;
mod messaging;

pub use messaging::telegram_webhook_secret;

use std::sync::Arc;

use crate::Connector;

pub(crate) fn connectors() -> Vec<Arc<dyn Connector>> {
    messaging::connectors().into_iter().chain(business::connectors()).collect()
}
