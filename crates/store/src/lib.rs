//! Persistence for patchbay: tenants, integration accounts with their sealed secrets,
//! the audit trail, API tokens and small metadata values, behind one `Store` trait;
//! recordings and export jobs (`RecordingStore`) and the runtime gateway's quotas, usage,
//! bindings and conversation contexts (`GatewayStore`) and the native knowledge base
//! (`KbStore`) and the messenger edge's hooks, inbox, conversations and events
//! (`EdgeStore`) and single sign-on's users, pending requests, seen assertions and
//! one-time codes (`SignonStore`) beside it.
//! Two backends share one implementation: SQLite (embedded default) and PostgreSQL.
//! Every tenant-scoped call takes the tenant; the store never sees a secret in clear.

mod cache;
mod model;
#[macro_use]
mod sql;
mod edge;
mod fulltext;
mod gateway;
mod kb;
mod recordings;
mod signon;
mod transcripts;
mod zapier;

pub use cache::CachedStore;
pub use edge::*;
pub use fulltext::search_words;
pub use gateway::*;
pub use kb::*;
pub use model::*;
pub use recordings::*;
pub use signon::*;
pub use sql::SqlStore;
pub use transcripts::*;
pub use zapier::*;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

/// What a store call can fail with. Uniqueness and cardinality rules are enforced by the
/// database (unique indexes), and surface here as `Conflict`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(Conflict),
    #[error("version mismatch: the stored version is {current}")]
    VersionMismatch { current: i64 },
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A write of an export run attempt that lost its run (interrupted or taken over by
    /// another node): refused, and its writer must stop.
    #[error("export run {} attempt {} no longer holds its run (taken over); its write is refused", .0.run_id, .0.epoch)]
    Fenced(Fence),
}

/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A tenant with this id already exists.
    TenantExists,
    /// Another account (or export job) of the tenant has this name (compared case-insensitively).
    NameTaken,
    /// The tenant already has the one account allowed for this singleton group
    /// (e.g. `wfm` covering the `wfm` and `loxysoft` types, `sso:admin`).
    SingletonTaken,
    /// Another account of the tenant is already the default of this group (e.g. `stt`).
    DefaultTaken,
    /// A token with this id or hash already exists.
    TokenExists,
    /// The tenant already has a recording with this id.
    RecordingExists,
    /// The export job has a run in progress.
    RunActive,
    /// The account is bound to a service or launch point of the runtime gateway.
    Bound,
    /// The recording's transcript is being made (by a node whose heartbeat is recent).
    TranscriptRunning,
    /// The conversation already has a message sent with this idempotency key, with
    /// another text.
    IdempotencyKeyReused,
    /// The tenant already has a user with this subject (NameID).
    UserExists,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conflict::TenantExists => "tenant exists",
            Conflict::NameTaken => "name taken",
            Conflict::SingletonTaken => "singleton taken",
            Conflict::DefaultTaken => "default taken",
            Conflict::TokenExists => "token exists",
            Conflict::RecordingExists => "recording exists",
            Conflict::RunActive => "run active",
            Conflict::Bound => "bound",
            Conflict::TranscriptRunning => "transcript running",
            Conflict::IdempotencyKeyReused => "idempotency key reused",
            Conflict::UserExists => "user exists",
        })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The one persistence interface. Writes that change an account also write their audit
/// entry in the same transaction, so the trail never misses a change.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    async fn create_tenant(&self, tenant: &NewTenant, actor: &str) -> Result<Tenant>;
    async fn get_tenant(&self, id: &str) -> Result<Tenant>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    /// Every tenant as `list_tenants` orders them, each with how many accounts it has and
    /// how many of them failed their last connection test: one statement.
    async fn list_tenants_with_counts(&self) -> Result<Vec<(Tenant, AccountCounts)>>;
    /// What deleting the tenant would remove, counted in one statement.
    async fn tenant_contents(&self, id: &str) -> Result<TenantContents>;
    /// Replaces name and enabled types. `expected_version` (when given) must match.
    async fn update_tenant(
        &self,
        id: &str,
        update: &TenantUpdate,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<Tenant>;
    /// Deletes the tenant with all its accounts, secrets, tokens, recordings and export jobs,
    /// runs and state. Its audit trail (with the deletion) moves to an archive key,
    /// `{id}@deleted-{uuid}`, that no tenant id can equal: a later tenant of the same id
    /// never sees it, the service provider still finds it. Returns the archive key.
    async fn delete_tenant(&self, id: &str, actor: &str) -> Result<String>;

    async fn create_account(
        &self,
        tenant: &str,
        id: Uuid,
        write: &AccountWrite,
        actor: &str,
        changes: &serde_json::Value,
    ) -> Result<Account>;
    async fn get_account(&self, tenant: &str, id: Uuid) -> Result<Account>;
    /// How many accounts of each type exist across all tenants (for metrics).
    async fn account_counts(&self) -> Result<Vec<(String, i64)>>;
    /// Accounts of one tenant ordered by type then name, optionally of one type. Shared
    /// (`Arc`) so a cached list is handed out without copying every account.
    async fn list_accounts(&self, tenant: &str, type_key: Option<&str>) -> Result<Vec<Arc<Account>>>;
    /// Replaces everything in `write` (including the full set of sealed secrets) and bumps
    /// the version by one; the last test is kept, cleared or set as `write.last_test` says.
    async fn update_account(
        &self,
        tenant: &str,
        id: Uuid,
        write: &AccountWrite,
        expected_version: Option<i64>,
        actor: &str,
        changes: &serde_json::Value,
    ) -> Result<Account>;
    /// Deletes the account; an account bound to a service or launch point of the gateway is
    /// refused (`Conflict::Bound`).
    async fn delete_account(&self, tenant: &str, id: Uuid, expected_version: Option<i64>, actor: &str) -> Result<()>;
    /// Stores the last connection-test result of an account (does not bump its version)
    /// and appends an audit entry with `action = "test"`.
    async fn record_test_result(&self, tenant: &str, id: Uuid, result: &serde_json::Value, actor: &str) -> Result<()>;

    /// Appends an audit entry that is not tied to a write above.
    async fn append_audit(&self, entry: &NewAudit) -> Result<()>;
    /// Newest first; `before` pages by audit id.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

    async fn create_token(&self, token: &NewToken) -> Result<ApiToken>;
    /// The token with this hash, unless revoked.
    async fn find_token(&self, hash: &[u8]) -> Result<Option<ApiToken>>;
    async fn list_tokens(&self) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, id: Uuid) -> Result<()>;
    /// Records that the unrevoked token `id` authenticated at `at`, unless its recorded last
    /// use is less than `every` before `at` (so a busy token is written at most once per
    /// `every`, by however many nodes). Returns whether it wrote.
    async fn touch_token(&self, id: Uuid, at: Timestamp, every: chrono::Duration) -> Result<bool>;

    /// How many sealed values (account secrets and subscriptions' signing secrets) each key
    /// id seals, by key id ascending (keys sealing nothing are absent).
    async fn secrets_by_key_counts(&self) -> Result<Vec<(u32, i64)>>;
    /// Up to `limit` sealed values whose key is not `active`, ordered by account id then
    /// field, starting after `after` (key rotation pages through them).
    async fn secrets_sealed_by_other_keys(
        &self,
        active: u32,
        after: Option<&SecretCursor>,
        limit: i64,
    ) -> Result<Vec<StoredSecret>>;
    /// Applies each reseal whose row still holds the sealed bytes it was made from, in one
    /// transaction, and returns how many it applied. A value changed or removed meanwhile is
    /// left alone. Does not bump account versions: the secret's value is unchanged.
    async fn replace_sealed(&self, reseals: &[Reseal]) -> Result<u64>;

    async fn get_meta(&self, key: &str) -> Result<Option<String>>;
    async fn set_meta(&self, key: &str, value: &str) -> Result<()>;
}
