//! Connection tests and account actions: the report a test gives (step by step, with a
//! failure category a user can act on), and an action's request, result and failure. The
//! connectors produce these types; the server stores and returns them.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::catalog::{provider_key, type_key};
use crate::Account;

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
    /// The provider has no connection test (the spec gives it none).
    Unsupported,
}

/// What went wrong, in terms of what the user can do about it. Each category's title and
/// description (the advice) reach the admin screen through the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The host could not be reached: check the host name or URL, the port and any firewall
    /// in between.
    #[schemars(title = "Unreachable")]
    Unreachable,
    /// The secure connection failed: check the certificate, the host name in the URL and that
    /// TLS 1.2 or later is offered.
    #[schemars(title = "TLS problem")]
    Tls,
    /// The service refused the credentials: check the user name, password, token or key.
    #[schemars(title = "Invalid credentials")]
    InvalidCredentials,
    /// The service answered, but the bucket, workspace, page or bot does not exist.
    #[schemars(title = "Not found")]
    NotFound,
    /// The credentials are valid but lack a permission this integration needs.
    #[schemars(title = "Permission denied")]
    Permission,
    /// The service answered something its API does not document; check the URL and version.
    #[schemars(title = "Unexpected response")]
    UnexpectedResponse,
    /// No answer in time: the service may be down or a firewall drops the traffic.
    #[schemars(title = "Timed out")]
    Timeout,
    /// The server's outbound policy does not allow this address (loopback, private or
    /// metadata addresses).
    #[schemars(title = "Blocked")]
    Blocked,
    /// The account's properties cannot be used as they are.
    #[schemars(title = "Invalid settings")]
    InvalidConfig,
    /// The service is limiting the rate of requests: wait the time it asks, or spread the
    /// calls out.
    #[schemars(title = "Rate limited")]
    RateLimited,
    /// The service failed (an HTTP 5xx or an error of its own); try again later, and check
    /// the service's status page if it persists.
    #[schemars(title = "Service error")]
    VendorError,
    /// The account's daily quota is used up; it starts again at the tenant's midnight.
    #[schemars(title = "Quota exceeded")]
    QuotaExceeded,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::Unreachable,
        Category::Tls,
        Category::InvalidCredentials,
        Category::NotFound,
        Category::Permission,
        Category::UnexpectedResponse,
        Category::Timeout,
        Category::Blocked,
        Category::InvalidConfig,
        Category::RateLimited,
        Category::VendorError,
        Category::QuotaExceeded,
    ];
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Failed,
}

/// One step of a test or action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestStep {
    /// `resolve`, `connect`, `tls`, `request`, `authenticate`, `read`, `certificate`, ...
    pub name: String,
    pub status: StepStatus,
    pub detail: String,
    pub duration_ms: u64,
}

/// The result of a connection test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestReport {
    pub status: Outcome,
    /// Set when the test failed.
    pub category: Option<Category>,
    pub message: String,
    pub steps: Vec<TestStep>,
    pub tested_at: DateTime<Utc>,
    pub duration_ms: u64,
}

/// One account's report in a test of all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTestItem {
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    #[schemars(schema_with = "type_key")]
    pub type_key: String,
    #[schemars(schema_with = "provider_key")]
    pub provider: String,
    pub report: TestReport,
}

/// The reports of a test of every enabled account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTestReport {
    pub items: Vec<BulkTestItem>,
}

/// The body of an action; the parameters are those the provider's action declares.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Map<String, Value>>,
}

/// A voice the speech service offers (`load_voices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Voice {
    /// The id to store in the account.
    pub name: String,
    /// How the vendor describes it (language, gender).
    pub label: String,
}

/// What an action did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionResult {
    pub message: String,
    /// `load_voices`: the voices offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voices: Vec<Voice>,
    /// `set_webhook`: what the vendor reports for the webhook after setting it (read back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Value>,
    /// `generate_token`: the token, shown only here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `generate_token`: the account as saved with the new token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Box<Account>>,
    /// The steps of an action that talked to the vendor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<TestStep>,
}

/// The status of a failed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Failed {
    Failed,
}

/// An action the vendor refused or failed (a 502).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionFailure {
    pub status: Failed,
    pub category: Category,
    pub message: String,
    pub steps: Vec<TestStep>,
}
