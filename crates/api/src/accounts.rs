//! Integration accounts: as the API shows them (secrets only as set or not), and the bodies
//! that create, change and test them. `properties` stays a map: the catalog validates it
//! against the provider's fields, and the request schemas embed each provider's own schema.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::catalog::{account_name, provider_key, type_key};
use crate::{LiveHealth, TestReport};

/// An integration account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: Uuid,
    pub tenant: String,
    #[serde(rename = "type")]
    #[schemars(schema_with = "type_key")]
    pub type_key: String,
    #[schemars(schema_with = "provider_key")]
    pub provider: String,
    pub name: String,
    pub enabled: bool,
    /// The non-secret properties.
    pub properties: Map<String, Value>,
    /// For each secret property of the provider: whether it is set. Never the value.
    pub secrets: BTreeMap<String, bool>,
    #[schemars(range(min = 1))]
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// The last connection test of the saved account.
    pub last_test: Option<TestReport>,
    /// The health of the account's traffic through the runtime gateway; null until its
    /// first gateway call.
    pub live: Option<LiveHealth>,
    /// Where the messenger delivers customers' messages (`{public_url}/hooks/{hook_id}`, a
    /// path when the service has no public URL); null for providers that deliver nothing.
    /// Rotating it (`…/inbound-webhook/rotate`) makes the old one stop at once.
    pub inbound_webhook_url: Option<String>,
    /// What the inbound webhook saw; null for providers that deliver nothing.
    pub inbound: Option<crate::InboundHealth>,
}

/// The accounts of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountList {
    pub items: Vec<Account>,
}

/// A new account. Its schema is one branch per type and provider (see `catalog`); the
/// catalog checks `properties` and every rule the schema cannot say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountCreate {
    #[serde(rename = "type")]
    pub type_key: String,
    /// May be left out where the type has one provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// An unsaved account to test: the create body, where `id` may name a saved account whose
/// secrets fill in the secrets the body omits (and whose name fills in a missing name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountTest {
    #[serde(rename = "type")]
    pub type_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

/// A change to an account. Omitted fields keep their values; in `properties` an omitted
/// secret keeps its value and `null` clears it. Fields of a GET response may be sent back
/// and are ignored (`id` must be the URL's; `type` cannot change).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "type_key")]
    pub type_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "provider_key")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "account_name")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    // The read-only fields of a GET response, ignored.
    #[serde(default, skip_serializing)]
    pub tenant: Option<Value>,
    #[serde(default, skip_serializing)]
    pub secrets: Option<Value>,
    #[serde(default, skip_serializing)]
    pub version: Option<Value>,
    #[serde(default, skip_serializing)]
    pub created_at: Option<Value>,
    #[serde(default, skip_serializing)]
    pub created_by: Option<Value>,
    #[serde(default, skip_serializing)]
    pub updated_at: Option<Value>,
    #[serde(default, skip_serializing)]
    pub updated_by: Option<Value>,
    #[serde(default, skip_serializing)]
    pub last_test: Option<Value>,
    #[serde(default, skip_serializing)]
    pub live: Option<Value>,
    #[serde(default, skip_serializing)]
    pub inbound_webhook_url: Option<Value>,
    #[serde(default, skip_serializing)]
    pub inbound: Option<Value>,
}
