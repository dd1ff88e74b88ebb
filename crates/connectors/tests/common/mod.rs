//! Local peers for connector tests, all on loopback: HTTP and HTTPS servers that follow a
//! vendor's documented contract (an axum router per test), a test CA the egress trusts,
//! a listener that accepts and never answers, and a port where nothing listens.
//! Each test binary (and the bulk bench) uses a different part of it.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;
use std::time::Duration;

use patchbay_connectors::{AccountConfig, Context, Egress, EgressPolicy, VendorUrls};
use patchbay_vault::SecretString;
use serde_json::{Map, Value};

/// An egress that allows loopback and trusts `ca` (when given), with a short timeout.
pub fn egress(ca: Option<&TestCa>) -> Egress {
    Egress::new(EgressPolicy {
        allow_loopback: true,
        timeout: Duration::from_secs(2),
        extra_roots_pem: ca.map(|c| c.ca_pem.clone()),
        ..EgressPolicy::default()
    })
    .unwrap()
}

/// Serves `router` over plain HTTP on a loopback port.
pub async fn http(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

pub use patchbay_testkit::peers::{closed_port, hung};
pub use patchbay_testkit::tls::{https, TestCa};

/// An account with these properties and secrets.
pub fn account(type_key: &str, provider: &str, properties: Value, secrets: &[(&str, &str)]) -> AccountConfig {
    let properties: Map<String, Value> = properties.as_object().cloned().unwrap_or_default();
    AccountConfig {
        id: Some("01a2b3c4-0000-7000-8000-000000000001".into()),
        type_key: type_key.into(),
        provider: provider.into(),
        name: format!("{type_key} {provider}"),
        properties,
        secrets: secrets.iter().map(|(k, v)| (k.to_string(), SecretString::from(v.to_string()))).collect(),
    }
}

/// A context for one call.
pub fn context<'a>(egress: &'a Egress, account: &'a AccountConfig, vendors: &'a VendorUrls) -> Context<'a> {
    Context { egress, account, timeout: Duration::from_secs(2), public_url: None, vendors }
}
