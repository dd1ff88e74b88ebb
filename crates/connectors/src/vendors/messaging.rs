//! Connectors of this family (to be filled).

use std::sync::Arc;

use crate::Connector;

pub(crate) fn connectors() -> Vec<Arc<dyn Connector>> {
    Vec::new()
}
