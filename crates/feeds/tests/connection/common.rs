//! What the connection tests run with: an egress that allows loopback, local HTTP servers,
//! accounts the catalog checks, and a run through the registry that fails the test when a
//! report carries one of the account's secrets.

use std::sync::LazyLock;
use std::time::Duration;

use patchbay_catalog::{AccountInput, ValidationContext};
use patchbay_connectors::{
    AccountConfig, Category, Context, Egress, EgressPolicy, Outcome, Registry, StepStatus, TestReport, VendorUrls,
};
use patchbay_vault::SecretString;
use serde_json::{Map, Value};

pub use patchbay_testkit::peers::closed_port;

static REGISTRY: LazyLock<Registry> = LazyLock::new(patchbay_feeds::registry);

/// An egress that allows loopback, with a short timeout.
pub fn egress() -> Egress {
    Egress::new(EgressPolicy { allow_loopback: true, timeout: Duration::from_secs(2), ..EgressPolicy::default() })
        .unwrap()
}

/// Serves `router` over plain HTTP on a loopback port; its base URL.
pub async fn http(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// The base URL of a loopback port where nothing listens.
pub async fn closed_base() -> String {
    format!("http://{}", closed_port())
}

/// The base URL of a peer that accepts and never answers.
pub async fn hung_base() -> String {
    format!("http://{}", patchbay_testkit::peers::hung().await)
}

/// An account with these properties and secrets, as the server would hand it over: the
/// catalog validates them (the test fails on input the API would refuse) and applies its
/// defaults.
pub fn account(type_key: &str, provider: &str, properties: Value, secrets: &[(&str, &str)]) -> AccountConfig {
    let mut input: Map<String, Value> = properties.as_object().cloned().unwrap_or_default();
    input.extend(secrets.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))));
    let name = format!("{type_key} {provider}");
    let enabled = [type_key.to_owned()];
    let checked = patchbay_catalog::catalog()
        .validate(
            &AccountInput { type_key, provider, name: &name, properties: &input },
            &ValidationContext { enabled_types: &enabled, ..ValidationContext::default() },
        )
        .unwrap_or_else(|errors| panic!("the catalog refuses this {type_key}/{provider} fixture: {errors:?}"));
    AccountConfig { properties: checked.properties, ..unchecked_account(type_key, provider, properties, secrets) }
}

/// An account the catalog would refuse, for the connection tests' own checks of what they
/// are given.
pub fn unchecked_account(type_key: &str, provider: &str, properties: Value, secrets: &[(&str, &str)]) -> AccountConfig {
    AccountConfig {
        id: Some("01a2b3c4-0000-7000-8000-000000000001".into()),
        type_key: type_key.into(),
        provider: provider.into(),
        name: format!("{type_key} {provider}"),
        properties: properties.as_object().cloned().unwrap_or_default(),
        secrets: secrets.iter().map(|(k, v)| (k.to_string(), SecretString::from(*v))).collect(),
    }
}

/// Runs the account's connection test; the report, serialized as the API returns it, must
/// carry none of the account's secrets.
pub async fn test_with(egress: &Egress, account: &AccountConfig, timeout: Duration) -> TestReport {
    let vendors = VendorUrls::default();
    let cx = Context { egress, account, timeout, public_url: None, hook_id: None, tenant: None, vendors: &vendors };
    let report = REGISTRY.test(&cx).await;
    let shown = serde_json::to_string(&report).unwrap();
    for (field, secret) in account.secrets.iter().filter(|(_, s)| !s.expose().is_empty()) {
        assert!(!shown.contains(secret.expose()), "the secret `{field}` leaked into {shown}");
    }
    report
}

/// The connection test with a loopback-allowing egress and a 2 s timeout.
pub async fn test_account(account: &AccountConfig) -> TestReport {
    test_with(&egress(), account, Duration::from_secs(2)).await
}

pub fn steps(report: &TestReport) -> Vec<&str> {
    report.steps.iter().map(|s| s.name.as_str()).collect()
}

/// The detail of the last step called `name`.
pub fn detail<'a>(report: &'a TestReport, name: &str) -> &'a str {
    report.steps.iter().rev().find(|s| s.name == name).map(|s| s.detail.as_str()).unwrap_or_default()
}

pub fn assert_ok(report: &TestReport, message: &str) {
    assert_eq!(report.status, Outcome::Ok, "{report:#?}");
    assert_eq!(report.message, message);
    assert!(report.steps.iter().all(|s| s.status == StepStatus::Ok), "{report:#?}");
}

pub fn assert_failed(report: &TestReport, category: Category) {
    assert_eq!(report.status, Outcome::Failed, "{report:#?}");
    assert_eq!(report.category, Some(category), "{report:#?}");
    assert_eq!(report.steps.last().map(|s| s.status), Some(StepStatus::Failed), "{report:#?}");
}

pub fn label(account: &AccountConfig) -> String {
    format!("{}/{}", account.type_key, account.provider)
}
