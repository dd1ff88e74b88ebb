use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub id: String,
    pub name: String,
    pub enabled_types: Vec<String>,
    /// An IANA time zone name (checked by the caller).
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantUpdate {
    pub name: String,
    pub enabled_types: Vec<String>,
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// Gated integration types the service provider enabled for this tenant, sorted.
    pub enabled_types: Vec<String>,
    /// The IANA time zone whose midnight starts the tenant's days (quotas, usage).
    pub time_zone: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One secret property, sealed by the vault. The store never sees it in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub field: String,
    pub key_id: u32,
    pub sealed: Vec<u8>,
}

/// A sealed value with the tenant and account it belongs to, as key rotation reads it. A
/// subscription's signing secret is one too: its `account_id` is the subscription's id
/// (the id it was sealed with) and its field [`crate::SIGNING_SECRET`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub tenant_id: String,
    pub account_id: Uuid,
    pub secret: SealedSecret,
}

/// A stored value sealed again under another key: replaces `current` only if the row still
/// holds `current.secret.sealed`, so a concurrent account write wins over the reseal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reseal {
    pub current: StoredSecret,
    pub key_id: u32,
    pub sealed: Vec<u8>,
}

/// Where a page of [`StoredSecret`]s ends: the next page starts after this account and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretCursor {
    pub account_id: Uuid,
    pub field: String,
}

/// The writable state of an account (create and full update).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountWrite {
    pub type_key: String,
    pub provider: String,
    pub name: String,
    pub enabled: bool,
    /// Non-secret properties only.
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// The complete set of sealed secrets of the account after this write.
    pub secrets: Vec<SealedSecret>,
    /// Cardinality group this account occupies, e.g. `wfm` or `sso:admin`; at most one
    /// account per tenant per group (unique index).
    pub singleton_key: Option<String>,
    /// Default-account group this account is the default of, e.g. `stt`; at most one per
    /// tenant per group (unique index).
    pub default_key: Option<String>,
    /// What becomes of the account's last connection test.
    pub last_test: LastTestWrite,
}

/// What a write does to an account's last connection test: keep it (nothing that decides
/// where the account connects changed), clear it (something did, and the old result no
/// longer describes the account), or set it to a test of exactly the values written
/// (recorded in the audit trail as a `test` entry of the same actor).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum LastTestWrite {
    #[default]
    Keep,
    Clear,
    Set(serde_json::Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: Uuid,
    pub tenant_id: String,
    pub type_key: String,
    pub provider: String,
    pub name: String,
    pub enabled: bool,
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Sorted by field.
    pub secrets: Vec<SealedSecret>,
    pub singleton_key: Option<String>,
    pub default_key: Option<String>,
    pub version: i64,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
    pub last_test: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    pub tenant_id: String,
    pub account_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub changes: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub tenant_id: String,
    pub account_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub changes: serde_json::Value,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub tenant_id: String,
    pub account_id: Option<Uuid>,
    /// Only entries with an id lower than this (paging, newest first).
    pub before: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: Uuid,
    pub name: String,
    /// `sp_admin`, `tenant_admin`, `tenant_viewer` (the server owns the meaning).
    pub role: String,
    pub tenant_id: Option<String>,
    /// SHA-256 of the token; the token itself is never stored.
    pub hash: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub tenant_id: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// When the token last authenticated, to the minute (see [`crate::Store::touch_token`]).
    pub last_used_at: Option<Timestamp>,
}

/// How many accounts a tenant has, and how many of them failed their last connection test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountCounts {
    pub accounts: i64,
    /// Accounts whose last connection test failed (untested ones and ones whose provider
    /// has no test are not counted).
    pub failing: i64,
}

/// What a tenant holds that deleting it removes, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantContents {
    pub accounts: i64,
    pub export_jobs: i64,
    pub users: i64,
    /// Tokens not revoked yet (revoked ones go too, but no longer let anyone in).
    pub tokens: i64,
    pub recordings: i64,
}
