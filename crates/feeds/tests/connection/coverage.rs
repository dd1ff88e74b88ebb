//! The registry every caller uses and the catalog agree: every provider the catalog gives a
//! connection test has a connector, and no provider the spec leaves without one gets one.

use patchbay_catalog::{catalog, TestSupport};

#[test]
fn every_provider_with_a_test_in_the_catalog_has_a_connector() {
    let registry = patchbay_feeds::registry();
    for t in &catalog().types {
        for p in &t.providers {
            let has = registry.get(t.key, p.key).is_some();
            match &p.test {
                TestSupport::Supported { .. } => {
                    assert!(has, "{}/{} has a probe in the catalog but no connector", t.key, p.key)
                }
                TestSupport::None { .. } => {
                    assert!(!has, "{}/{} has no test in the spec but a connector", t.key, p.key)
                }
            }
        }
    }
}
