//! Local peers for connector tests, all on loopback: HTTP and HTTPS servers that follow a
//! vendor's documented contract (an axum router per test), a test CA the egress trusts,
//! a listener that accepts and never answers, and a port where nothing listens.
//! Each test binary (and the bulk bench) uses a different part of it.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;
use std::time::Duration;

use patchbay_catalog::{AccountInput, ValidationContext};
use patchbay_connectors::{AccountConfig, Context, Egress, EgressPolicy, VendorUrls};
use patchbay_vault::SecretString;
use serde_json::{Map, Value};

/// The tenant the accounts under test belong to.
pub const TENANT: &str = "acme";

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

pub use patchbay_testkit::peers::{closed_port, hung};
pub use patchbay_testkit::tls::{https, TestCa};
pub use patchbay_testkit::vendors::messaging::serve as http;

/// An account with these properties and secrets, as the server would hand it over: the
/// catalog validates them (the test fails on input the API would refuse) and applies its
/// defaults. The local peers speak plain `http://` where the catalog asks a vendor's URL for
/// `https://`: the check sees such a URL as `https://`, the account keeps it.
pub fn account(type_key: &str, provider: &str, properties: Value, secrets: &[(&str, &str)]) -> AccountConfig {
    let given: Map<String, Value> = properties.as_object().cloned().unwrap_or_default();
    let plain_http = |v: &Value| v.as_str().and_then(|s| s.strip_prefix("http://")).map(str::to_owned);
    let mut input: Map<String, Value> = given
        .iter()
        .map(|(k, v)| {
            (k.clone(), plain_http(v).map_or_else(|| v.clone(), |rest| Value::String(format!("https://{rest}"))))
        })
        .collect();
    input.extend(secrets.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))));
    let name = format!("{type_key} {provider}");
    let enabled = [type_key.to_owned()];
    let mut checked = patchbay_catalog::catalog()
        .validate(
            &AccountInput { type_key, provider, name: &name, properties: &input },
            &ValidationContext { enabled_types: &enabled, ..ValidationContext::default() },
        )
        .unwrap_or_else(|errors| panic!("the catalog refuses this {type_key}/{provider} fixture: {errors:?}"));
    for (key, value) in &given {
        if plain_http(value).is_some() {
            checked.properties.insert(key.clone(), value.clone());
        }
    }
    AccountConfig { properties: checked.properties, ..unchecked_account(type_key, provider, properties, secrets) }
}

/// An account the catalog would refuse, for the connectors' own checks of what they are
/// given (a connection test of unsaved input is validated first, but connectors must not
/// rely on it).
pub fn unchecked_account(type_key: &str, provider: &str, properties: Value, secrets: &[(&str, &str)]) -> AccountConfig {
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
    Context {
        egress,
        account,
        timeout: Duration::from_secs(2),
        public_url: None,
        hook_id: None,
        tenant: Some(TENANT),
        vendors,
    }
}
