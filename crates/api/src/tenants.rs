//! Tenants (contact centers) and the audit trail.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::catalog::gated_types;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// The gated types the service provider enabled for the tenant, sorted.
    #[schemars(schema_with = "gated_types")]
    pub enabled_types: Vec<String>,
    /// The IANA time zone (e.g. `Europe/Berlin`) whose midnight starts the tenant's days:
    /// the gateway's daily quotas and usage follow it.
    pub time_zone: String,
    #[schemars(range(min = 1))]
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The tenants the caller sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantList {
    pub items: Vec<TenantListItem>,
}

/// A tenant as the list shows it: with how many accounts it has and how many of them fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenantListItem {
    #[serde(flatten)]
    pub tenant: Tenant,
    /// How many integration accounts the tenant has.
    pub account_count: u64,
    /// How many of them failed their last connection test (accounts never tested, and
    /// those whose provider has no test, are not counted).
    pub failing_account_count: u64,
}

/// What deleting a tenant removes, counted: the tenant's integration accounts (with their
/// secrets and history), recording export jobs (with their runs), users, API tokens that
/// still work, and recordings (with their audio).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantContents {
    pub accounts: u64,
    pub export_jobs: u64,
    pub users: u64,
    /// Tokens not revoked yet.
    pub tokens: u64,
    pub recordings: u64,
}

/// A new tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCreate {
    /// 1-63 characters of a-z, 0-9 and -, starting with a letter or digit.
    #[schemars(regex(pattern = "^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub id: String,
    /// The id when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200), regex(pattern = "\\S"))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "gated_types")]
    pub enabled_types: Option<Vec<String>>,
    /// An IANA time zone name; `UTC` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
}

impl TenantCreate {
    /// The time zone of a tenant created without one.
    pub const DEFAULT_TIME_ZONE: &'static str = "UTC";
}

/// A change to a tenant. Omitted fields keep their values. Fields of a GET response may be
/// sent back; `id` must be the URL's, the others are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200), regex(pattern = "\\S"))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "gated_types")]
    pub enabled_types: Option<Vec<String>>,
    /// An IANA time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing)]
    pub version: Option<Value>,
    #[serde(default, skip_serializing)]
    pub created_at: Option<Value>,
    #[serde(default, skip_serializing)]
    pub updated_at: Option<Value>,
}

/// The settings of a tenant its own admins change (the tenant's name and entitlements are
/// the service provider's: `TenantUpdate`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// An IANA time zone name: the tenant's days (gateway quotas and usage) start at its
    /// midnight.
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub id: i64,
    pub tenant_id: String,
    pub account_id: Option<Uuid>,
    /// `token:NAME (ID)`, a role for another party's token, or `system`.
    pub actor: String,
    pub action: String,
    /// What changed; secrets only as `set`, `replaced` or `cleared`.
    pub changes: Value,
    pub at: DateTime<Utc>,
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next page.
    pub next_before: Option<i64>,
}
