//! The one `Store` implementation, shared by SQLite and PostgreSQL.
//!
//! Each method body is written once and expanded by `with_reader!` / `in_write_tx!` into
//! one arm per backend, so it is compiled against each concrete pool type. That keeps a
//! single text of SQL (sqlx accepts `$1` placeholders on SQLite too) without generic
//! `Database` bounds or the `Any` driver. Queries are checked at run time (no database at
//! build time); the story tests run the same script against both backends.
//!
//! Only column types that both drivers decode to the same Rust type are used: TEXT,
//! 64-bit integers, BLOB/BYTEA, BOOLEAN and timestamps. JSON and uuids are stored as TEXT.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{SubsecRound, Utc};
use serde::Serialize;
use sqlx::error::ErrorKind;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    SqliteTransactionManager,
};
use sqlx::TransactionManager;
use uuid::Uuid;

use crate::{
    Account, AccountCounts, AccountWrite, ApiToken, AuditEntry, AuditQuery, Conflict, LastTestWrite, NewAudit,
    NewTenant, NewToken, Reseal, Result, SealedSecret, SecretCursor, Store, StoreError, StoredSecret, Tenant,
    TenantContents, TenantUpdate, Timestamp,
};

/// SQLite read connections. WAL lets them read beside the writer; each holds a thread of
/// its own inside sqlx, so a few are plenty.
const SQLITE_READERS: u32 = 4;
/// PostgreSQL connections, shared by reads and writes.
const POSTGRES_CONNECTIONS: u32 = 10;
/// How long SQLite waits for another process's write lock before failing with SQLITE_BUSY.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A `Store` over SQLite or PostgreSQL, chosen by the URL given to [`SqlStore::connect`].
/// Cloning is cheap and shares the connection pools.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pools: Pools,
}

#[derive(Clone)]
pub(crate) enum Pools {
    /// SQLite runs one write transaction at a time. A write pool of exactly one connection
    /// queues this process's writers (async, in order), so they never sleep in SQLite's
    /// retry loop nor run into its busy timeout, which is left to guard against other
    /// processes on the same file. WAL lets the read pool serve reads meanwhile.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// Evaluates `$body` with `$pool` bound to the backend's pool for reads.
macro_rules! with_reader {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pools {
            Pools::Sqlite { read: $pool, .. } => $body,
            Pools::Postgres($pool) => $body,
        }
    };
}

/// Evaluates `$body` inside a write transaction bound to `$tx` and commits when the body
/// yields its value; an early `?`/`return` drops the transaction, which rolls it back, so
/// a change and its audit row land together or not at all.
///
/// SQLite starts with `BEGIN IMMEDIATE`, taking the write lock before the first statement:
/// a deferred transaction that must upgrade from a read lock fails with SQLITE_BUSY at
/// once instead of waiting when another process holds the write lock.
macro_rules! in_write_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.pools {
            Pools::Sqlite { write, .. } => {
                let mut $tx = write.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Pools::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Inserts the sealed secrets of one account inside `$tx`.
macro_rules! insert_secrets {
    ($tx:ident, $account_id:expr, $secrets:expr) => {
        for secret in $secrets {
            sqlx::query(
                "INSERT INTO account_secrets (account_id, field, key_id, sealed) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind($account_id)
            .bind(&secret.field)
            .bind(i64::from(secret.key_id))
            .bind(secret.sealed.as_slice())
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// Appends one audit row inside `$tx` (or on any executor).
macro_rules! insert_audit {
    ($executor:expr, $tenant:expr, $account_id:expr, $actor:expr, $action:expr, $changes:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO audit (tenant_id, account_id, actor, action, changes, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind($tenant)
        .bind($account_id)
        .bind($actor)
        .bind($action)
        .bind($changes.to_string())
        .bind($at)
        .execute($executor)
        .await?
    };
}

/// Deletes row `$id` of the tenant-scoped, versioned `$table` (only at `$expected` version
/// when given) and audits `$action` with `$changes`, in one transaction; returns from the
/// calling function with `NotFound` or `VersionMismatch` when no row matched.
macro_rules! delete_versioned {
    ($store:expr, $table:literal, $tenant:expr, $id:expr, $expected:expr, $actor:expr, $action:expr, $changes:expr) => {{
        let now = now();
        in_write_tx!($store, |tx| {
            let deleted = sqlx::query(concat!(
                "DELETE FROM ",
                $table,
                " WHERE tenant_id = $1 AND id = $2 AND ($3 IS NULL OR version = $3)"
            ))
            .bind($tenant)
            .bind($id)
            .bind($expected)
            .execute(&mut *tx)
            .await?;
            if deleted.rows_affected() == 0 {
                return Err(missing_or_stale!(
                    tx,
                    concat!("SELECT version FROM ", $table, " WHERE tenant_id = $1 AND id = $2"),
                    $tenant,
                    $id
                ));
            }
            insert_audit!(&mut *tx, $tenant, None::<&str>, $actor, $action, $changes, now);
        });
    }};
}

/// After a conditional write matched no row, tells why: the row is gone (`NotFound`) or
/// its version moved on (`VersionMismatch`). `$sql` selects the current version.
macro_rules! missing_or_stale {
    ($tx:ident, $sql:expr $(, $arg:expr)*) => {{
        let current: Option<i64> = sqlx::query_scalar($sql)
            $(.bind($arg))*
            .fetch_optional(&mut *$tx)
            .await?;
        match current {
            Some(current) => StoreError::VersionMismatch { current },
            None => StoreError::NotFound,
        }
    }};
}

/// Account columns joined with their secrets: one statement reads an account (or a whole
/// list) with its secrets from one snapshot, with no query per account.
macro_rules! select_accounts {
    () => {
        "SELECT a.id, a.tenant_id, a.type_key, a.provider, a.name, a.enabled, a.properties, \
         a.singleton_key, a.default_key, a.version, a.created_at, a.created_by, a.updated_at, \
         a.updated_by, a.last_test, \
         s.field AS secret_field, s.key_id AS secret_key_id, s.sealed AS secret_sealed \
         FROM accounts a LEFT JOIN account_secrets s ON s.account_id = a.id "
    };
}

macro_rules! select_tenants {
    () => {
        "SELECT id, name, enabled_types, time_zone, version, created_at, updated_at FROM tenants "
    };
}

macro_rules! select_tokens {
    () => {
        "SELECT id, name, role, tenant_id, created_at, revoked_at, last_used_at FROM tokens "
    };
}

/// How long PostgreSQL lets a session sit idle inside a transaction before it ends the
/// session. Every transaction here is a few statements with no other I/O between them, so
/// only a stalled process (stopped, frozen, swapped out) idles this long; ending its session
/// releases the run row its fenced write locked, so another node's takeover of that run does
/// not wait for the stalled node to wake, and the stalled node's commit then fails.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "10s";

impl SqlStore {
    /// Opens `sqlite://PATH` (creating the file if missing) or `postgres://` /
    /// `postgresql://`, and brings the schema up to date with that backend's migrations.
    pub async fn connect(url: &str) -> Result<SqlStore> {
        let pools = if url.starts_with("sqlite:") {
            connect_sqlite(url).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?
                .options([("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION_TIMEOUT)]);
            let pool = PgPoolOptions::new().max_connections(POSTGRES_CONNECTIONS).connect_with(options).await?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Pools::Postgres(pool)
        } else {
            // Only the scheme: the rest of a URL may carry a password.
            let scheme = url.split_once(':').map_or("(none)", |(scheme, _)| scheme);
            return Err(StoreError::UnsupportedUrl(format!(
                "scheme {scheme:?}; expected sqlite://, postgres:// or postgresql://"
            )));
        };
        Ok(SqlStore { pools })
    }

    /// `"sqlite"` or `"postgres"`, for logs and `/readyz`.
    pub fn backend_name(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite { .. } => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }
}

/// The database and its WAL and shared-memory files hold sealed secrets and tenant data:
/// only the service's user may read them. SQLite gives the WAL and shared-memory files the
/// database file's mode, so the database is created 0600 before SQLite opens it, and files
/// left looser by an older version are tightened.
fn private_sqlite_files(database: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(database)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut path = database.as_os_str().to_owned();
        path.push(suffix);
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

async fn connect_sqlite(url: &str) -> Result<Pools> {
    // Every acknowledged write survives a power loss: with WAL, FULL syncs the log at each
    // commit (NORMAL would lose the commits since the last checkpoint).
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let in_memory = options.get_filename() == std::path::Path::new(":memory:") || url.contains("mode=memory");
    if !in_memory {
        private_sqlite_files(options.get_filename()).map_err(sqlx::Error::Io)?;
    }
    // The writer lives as long as the store: it keeps its prepared statements, and an
    // in-memory database (`sqlite::memory:`) lasts while one connection to it is open.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .after_release(out_of_transaction)
        .connect_with(options.clone())
        .await?;
    sqlx::migrate!("migrations/sqlite").run(&write).await?;
    let read = SqlitePoolOptions::new().max_connections(SQLITE_READERS).connect_with(options).await?;
    Ok(Pools::Sqlite { read, write })
}

/// Returns the writer to its pool outside any transaction. A write dropped midway (its task
/// aborted, its client gone) can leave the connection inside the transaction it began: the
/// `BEGIN` was done, but the `Transaction` that would have rolled it back on drop was never
/// made, so every later `BEGIN IMMEDIATE` on the connection would fail. Rolling back (nothing
/// to do when no transaction is open) keeps the connection, which an in-memory database
/// needs; only when that fails does the pool close it and open another.
fn out_of_transaction(
    conn: &mut SqliteConnection,
    _: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = std::result::Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if SqliteTransactionManager::get_transaction_depth(conn) == 0 {
            return Ok(true);
        }
        Ok(SqliteTransactionManager::rollback(conn).await.is_ok())
    })
}

/// Now, truncated to microseconds: PostgreSQL keeps no more, so a value written and read
/// back compares equal on both backends.
pub(crate) fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

/// JSON text of a value the store writes. The values passed here (JSON values, string
/// lists) serialize infallibly: every map key is a string.
pub(crate) fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("JSON values and string lists always serialize")
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(crate) fn parse_uuid(column: &str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn parse_key_id(value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("account_secrets.key_id {value}")))
}

/// Unique-index names (PostgreSQL reports the index) and column lists (SQLite reports
/// "UNIQUE constraint failed: <columns>") of each uniqueness rule.
const UNIQUE_RULES: &[(&str, &str, Conflict)] = &[
    ("accounts_name_key", "accounts.tenant_id, accounts.name_key", Conflict::NameTaken),
    ("accounts_singleton_key", "accounts.tenant_id, accounts.singleton_key", Conflict::SingletonTaken),
    ("accounts_default_key", "accounts.tenant_id, accounts.default_key", Conflict::DefaultTaken),
    ("tenants_pkey", "tenants.id", Conflict::TenantExists),
    ("tokens_pkey", "tokens.id", Conflict::TokenExists),
    ("users_name_id", "users.tenant_id, users.name_id", Conflict::UserExists),
    ("recordings_id", "recordings.tenant_id, recordings.id", Conflict::RecordingExists),
    (
        "recording_export_jobs_name_key",
        "recording_export_jobs.tenant_id, recording_export_jobs.name_key",
        Conflict::NameTaken,
    ),
    ("recording_export_runs_running", "recording_export_runs.job_id", Conflict::RunActive),
    ("tokens_hash_key", "tokens.hash", Conflict::TokenExists),
];

/// Maps a failed write: a broken uniqueness rule becomes its `Conflict`; a broken foreign
/// key becomes `NotFound`, since the only references a caller can get wrong are to a
/// tenant that does not exist.
pub(crate) fn write_err(error: sqlx::Error) -> StoreError {
    let Some(db) = error.as_database_error() else {
        return StoreError::Backend(error);
    };
    match db.kind() {
        ErrorKind::UniqueViolation => {
            let rule = match db.constraint() {
                Some(name) => UNIQUE_RULES.iter().find(|(pg, _, _)| *pg == name),
                None => db
                    .message()
                    .strip_prefix("UNIQUE constraint failed: ")
                    .and_then(|cols| UNIQUE_RULES.iter().find(|(_, lite, _)| *lite == cols)),
            };
            match rule {
                Some((_, _, conflict)) => StoreError::Conflict(conflict.clone()),
                None => StoreError::Backend(error),
            }
        }
        ErrorKind::ForeignKeyViolation => StoreError::NotFound,
        _ => StoreError::Backend(error),
    }
}

fn sorted_secrets(secrets: &[SealedSecret]) -> Vec<SealedSecret> {
    let mut secrets = secrets.to_vec();
    secrets.sort_by(|a, b| a.field.cmp(&b.field));
    secrets
}

/// Sorted and without duplicates, as `Tenant::enabled_types` promises.
fn normalized_types(types: &[String]) -> Vec<String> {
    let mut types = types.to_vec();
    types.sort();
    types.dedup();
    types
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    enabled_types: String,
    time_zone: String,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TenantRow {
    fn into_tenant(self) -> Result<Tenant> {
        Ok(Tenant {
            enabled_types: parse_json("tenants.enabled_types", &self.enabled_types)?,
            id: self.id,
            name: self.name,
            time_zone: self.time_zone,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A tenant with its account counts (`list_tenants_with_counts`).
#[derive(sqlx::FromRow)]
struct TenantCountsRow {
    #[sqlx(flatten)]
    tenant: TenantRow,
    account_count: i64,
    failing_count: i64,
}

impl Pools {
    /// The text of `key` in the JSON object that `column` holds as text, as SQL.
    fn json_text(&self, column: &str, key: &str) -> String {
        match self {
            Pools::Sqlite { .. } => format!("json_extract({column}, '$.{key}')"),
            Pools::Postgres(_) => format!("(({column})::jsonb ->> '{key}')"),
        }
    }
}

/// One row of `select_accounts!`: an account with one of its secrets (or none).
#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    tenant_id: String,
    type_key: String,
    provider: String,
    name: String,
    enabled: bool,
    properties: String,
    singleton_key: Option<String>,
    default_key: Option<String>,
    version: i64,
    created_at: Timestamp,
    created_by: String,
    updated_at: Timestamp,
    updated_by: String,
    last_test: Option<String>,
    secret_field: Option<String>,
    secret_key_id: Option<i64>,
    secret_sealed: Option<Vec<u8>>,
}

impl AccountRow {
    fn take_secret(&mut self) -> Result<Option<SealedSecret>> {
        let (Some(field), Some(key_id), Some(sealed)) =
            (self.secret_field.take(), self.secret_key_id.take(), self.secret_sealed.take())
        else {
            return Ok(None);
        };
        Ok(Some(SealedSecret { field, key_id: parse_key_id(key_id)?, sealed }))
    }

    fn into_account(self, id: Uuid) -> Result<Account> {
        Ok(Account {
            id,
            tenant_id: self.tenant_id,
            type_key: self.type_key,
            provider: self.provider,
            name: self.name,
            enabled: self.enabled,
            properties: parse_json("accounts.properties", &self.properties)?,
            secrets: Vec::new(),
            singleton_key: self.singleton_key,
            default_key: self.default_key,
            version: self.version,
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
            last_test: self.last_test.as_deref().map(|text| parse_json("accounts.last_test", text)).transpose()?,
        })
    }
}

/// Folds joined rows into accounts. Rows of one account are adjacent because every query
/// orders by a key unique per account.
fn group_accounts(rows: Vec<AccountRow>) -> Result<Vec<Account>> {
    let mut accounts: Vec<Account> = Vec::new();
    for mut row in rows {
        let id = parse_uuid("accounts.id", &row.id)?;
        let secret = row.take_secret()?;
        match accounts.last_mut() {
            Some(last) if last.id == id => last.secrets.extend(secret),
            _ => {
                let mut account = row.into_account(id)?;
                account.secrets.extend(secret);
                accounts.push(account);
            }
        }
    }
    for account in &mut accounts {
        account.secrets.sort_by(|a, b| a.field.cmp(&b.field));
    }
    Ok(accounts)
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    tenant_id: String,
    account_id: Option<String>,
    actor: String,
    action: String,
    changes: String,
    at: Timestamp,
}

impl AuditRow {
    fn into_entry(self) -> Result<AuditEntry> {
        Ok(AuditEntry {
            id: self.id,
            tenant_id: self.tenant_id,
            account_id: self.account_id.as_deref().map(|text| parse_uuid("audit.account_id", text)).transpose()?,
            actor: self.actor,
            action: self.action,
            changes: parse_json("audit.changes", &self.changes)?,
            at: self.at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    name: String,
    role: String,
    tenant_id: Option<String>,
    created_at: Timestamp,
    revoked_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
}

impl TokenRow {
    fn into_token(self) -> Result<ApiToken> {
        Ok(ApiToken {
            id: parse_uuid("tokens.id", &self.id)?,
            name: self.name,
            role: self.role,
            tenant_id: self.tenant_id,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct StoredSecretRow {
    tenant_id: String,
    account_id: String,
    field: String,
    key_id: i64,
    sealed: Vec<u8>,
}

impl StoredSecretRow {
    fn into_stored(self) -> Result<StoredSecret> {
        Ok(StoredSecret {
            tenant_id: self.tenant_id,
            account_id: parse_uuid("account_secrets.account_id", &self.account_id)?,
            secret: SealedSecret { field: self.field, key_id: parse_key_id(self.key_id)?, sealed: self.sealed },
        })
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        with_reader!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    async fn create_tenant(&self, tenant: &NewTenant, actor: &str) -> Result<Tenant> {
        let now = now();
        let created = Tenant {
            id: tenant.id.clone(),
            name: tenant.name.clone(),
            enabled_types: normalized_types(&tenant.enabled_types),
            time_zone: tenant.time_zone.clone(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let changes = serde_json::json!({
            "name": created.name,
            "enabled_types": created.enabled_types,
            "time_zone": created.time_zone,
        });
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO tenants (id, name, enabled_types, time_zone, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&created.id)
            .bind(&created.name)
            .bind(json_text(&created.enabled_types))
            .bind(&created.time_zone)
            .bind(created.version)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            insert_audit!(&mut *tx, &created.id, None::<&str>, actor, "tenant.create", changes, now);
        });
        Ok(created)
    }

    async fn get_tenant(&self, id: &str) -> Result<Tenant> {
        let row: Option<TenantRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_tenants!(), "WHERE id = $1")).bind(id).fetch_optional(pool).await?
        });
        row.ok_or(StoreError::NotFound)?.into_tenant()
    }

    async fn account_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows: Vec<(String, i64)> = with_reader!(self, |pool| {
            sqlx::query_as("SELECT type_key, COUNT(*) FROM accounts GROUP BY type_key ORDER BY type_key")
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows: Vec<TenantRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_tenants!(), "ORDER BY id")).fetch_all(pool).await?
        });
        rows.into_iter().map(TenantRow::into_tenant).collect()
    }

    async fn list_tenants_with_counts(&self) -> Result<Vec<(Tenant, AccountCounts)>> {
        // A failing account is one whose stored last test report says `"status": "failed"`.
        let sql = format!(
            "SELECT t.id, t.name, t.enabled_types, t.time_zone, t.version, t.created_at, t.updated_at, \
             COALESCE(c.accounts, 0) AS account_count, COALESCE(c.failing, 0) AS failing_count \
             FROM tenants t LEFT JOIN (SELECT tenant_id, COUNT(*) AS accounts, \
             SUM(CASE WHEN {status} = 'failed' THEN 1 ELSE 0 END) AS failing \
             FROM accounts GROUP BY tenant_id) c ON c.tenant_id = t.id ORDER BY t.id",
            status = self.pools.json_text("last_test", "status"),
        );
        let rows: Vec<TenantCountsRow> = with_reader!(self, |pool| { sqlx::query_as(&sql).fetch_all(pool).await? });
        rows.into_iter()
            .map(|row| {
                let counts = AccountCounts { accounts: row.account_count, failing: row.failing_count };
                Ok((row.tenant.into_tenant()?, counts))
            })
            .collect()
    }

    async fn tenant_contents(&self, id: &str) -> Result<TenantContents> {
        let row: Option<(i64, i64, i64, i64, i64)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM accounts WHERE tenant_id = $1), \
                 (SELECT COUNT(*) FROM recording_export_jobs WHERE tenant_id = $1), \
                 (SELECT COUNT(*) FROM users WHERE tenant_id = $1), \
                 (SELECT COUNT(*) FROM tokens WHERE tenant_id = $1 AND revoked_at IS NULL), \
                 (SELECT COUNT(*) FROM recordings WHERE tenant_id = $1) \
                 FROM tenants WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let (accounts, export_jobs, users, tokens, recordings) = row.ok_or(StoreError::NotFound)?;
        Ok(TenantContents { accounts, export_jobs, users, tokens, recordings })
    }

    async fn update_tenant(
        &self,
        id: &str,
        update: &TenantUpdate,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<Tenant> {
        let now = now();
        let enabled_types = normalized_types(&update.enabled_types);
        let changes = serde_json::json!({
            "name": update.name,
            "enabled_types": enabled_types,
            "time_zone": update.time_zone,
        });
        let (version, created_at): (i64, Timestamp) = in_write_tx!(self, |tx| {
            let updated = sqlx::query_as(
                "UPDATE tenants SET name = $2, enabled_types = $3, time_zone = $6, version = version + 1, \
                 updated_at = $4 WHERE id = $1 AND ($5 IS NULL OR version = $5) \
                 RETURNING version, created_at",
            )
            .bind(id)
            .bind(&update.name)
            .bind(json_text(&enabled_types))
            .bind(now)
            .bind(expected_version)
            .bind(&update.time_zone)
            .fetch_optional(&mut *tx)
            .await
            .map_err(write_err)?;
            let Some(updated) = updated else {
                return Err(missing_or_stale!(tx, "SELECT version FROM tenants WHERE id = $1", id));
            };
            insert_audit!(&mut *tx, id, None::<&str>, actor, "tenant.update", changes, now);
            updated
        });
        Ok(Tenant {
            id: id.to_owned(),
            name: update.name.clone(),
            enabled_types,
            time_zone: update.time_zone.clone(),
            version,
            created_at,
            updated_at: now,
        })
    }

    async fn delete_tenant(&self, id: &str, actor: &str) -> Result<String> {
        let now = now();
        let archive = format!("{id}@deleted-{}", Uuid::now_v7());
        in_write_tx!(self, |tx| {
            let deleted = sqlx::query("DELETE FROM tenants WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("UPDATE audit SET tenant_id = $2 WHERE tenant_id = $1")
                .bind(id)
                .bind(&archive)
                .execute(&mut *tx)
                .await?;
            insert_audit!(
                &mut *tx,
                &archive,
                None::<&str>,
                actor,
                "tenant.delete",
                serde_json::json!({"tenant": id}),
                now
            );
        });
        Ok(archive)
    }

    async fn create_account(
        &self,
        tenant: &str,
        id: Uuid,
        write: &AccountWrite,
        actor: &str,
        changes: &serde_json::Value,
    ) -> Result<Account> {
        let now = now();
        let id_text = id.to_string();
        let account = Account {
            id,
            tenant_id: tenant.to_owned(),
            type_key: write.type_key.clone(),
            provider: write.provider.clone(),
            name: write.name.clone(),
            enabled: write.enabled,
            properties: write.properties.clone(),
            secrets: sorted_secrets(&write.secrets),
            singleton_key: write.singleton_key.clone(),
            default_key: write.default_key.clone(),
            version: 1,
            created_at: now,
            created_by: actor.to_owned(),
            updated_at: now,
            updated_by: actor.to_owned(),
            last_test: match &write.last_test {
                LastTestWrite::Set(report) => Some(report.clone()),
                LastTestWrite::Keep | LastTestWrite::Clear => None,
            },
        };
        let last_test = account.last_test.as_ref().map(|report| report.to_string());
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO accounts (id, tenant_id, type_key, provider, name, name_key, \
                 enabled, properties, singleton_key, default_key, version, created_at, \
                 created_by, updated_at, updated_by, last_test) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12, $13, $14)",
            )
            .bind(&id_text)
            .bind(tenant)
            .bind(&write.type_key)
            .bind(&write.provider)
            .bind(&write.name)
            .bind(write.name.to_lowercase())
            .bind(write.enabled)
            .bind(json_text(&write.properties))
            .bind(write.singleton_key.as_deref())
            .bind(write.default_key.as_deref())
            .bind(account.version)
            .bind(now)
            .bind(actor)
            .bind(last_test.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            insert_secrets!(tx, &id_text, &write.secrets);
            insert_audit!(&mut *tx, tenant, Some(&id_text), actor, "create", changes, now);
            if let Some(report) = &account.last_test {
                insert_audit!(&mut *tx, tenant, Some(&id_text), actor, "test", report, now);
            }
        });
        Ok(account)
    }

    async fn get_account(&self, tenant: &str, id: Uuid) -> Result<Account> {
        let rows: Vec<AccountRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_accounts!(), "WHERE a.tenant_id = $1 AND a.id = $2"))
                .bind(tenant)
                .bind(id.to_string())
                .fetch_all(pool)
                .await?
        });
        group_accounts(rows)?.pop().ok_or(StoreError::NotFound)
    }

    async fn list_accounts(&self, tenant: &str, type_key: Option<&str>) -> Result<Vec<Arc<Account>>> {
        let rows: Vec<AccountRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(
                select_accounts!(),
                "WHERE a.tenant_id = $1 AND ($2 IS NULL OR a.type_key = $2) \
                 ORDER BY a.type_key, a.name_key"
            ))
            .bind(tenant)
            .bind(type_key)
            .fetch_all(pool)
            .await?
        });
        Ok(group_accounts(rows)?.into_iter().map(Arc::new).collect())
    }

    async fn update_account(
        &self,
        tenant: &str,
        id: Uuid,
        write: &AccountWrite,
        expected_version: Option<i64>,
        actor: &str,
        changes: &serde_json::Value,
    ) -> Result<Account> {
        let now = now();
        let id_text = id.to_string();
        let (version, created_at, created_by, last_test): (i64, Timestamp, String, Option<String>) =
            in_write_tx!(self, |tx| {
                let updated = sqlx::query_as(
                    "UPDATE accounts SET type_key = $3, provider = $4, name = $5, name_key = $6, \
                     enabled = $7, properties = $8, singleton_key = $9, default_key = $10, \
                     version = version + 1, updated_at = $11, updated_by = $12, \
                     last_test = CASE WHEN $14 THEN $15 ELSE last_test END \
                     WHERE tenant_id = $1 AND id = $2 AND ($13 IS NULL OR version = $13) \
                     RETURNING version, created_at, created_by, last_test",
                )
                .bind(tenant)
                .bind(&id_text)
                .bind(&write.type_key)
                .bind(&write.provider)
                .bind(&write.name)
                .bind(write.name.to_lowercase())
                .bind(write.enabled)
                .bind(json_text(&write.properties))
                .bind(write.singleton_key.as_deref())
                .bind(write.default_key.as_deref())
                .bind(now)
                .bind(actor)
                .bind(expected_version)
                .bind(!matches!(write.last_test, LastTestWrite::Keep))
                .bind(match &write.last_test {
                    LastTestWrite::Set(report) => Some(report.to_string()),
                    LastTestWrite::Keep | LastTestWrite::Clear => None,
                })
                .fetch_optional(&mut *tx)
                .await
                .map_err(write_err)?;
                let Some(updated) = updated else {
                    return Err(missing_or_stale!(
                        tx,
                        "SELECT version FROM accounts WHERE tenant_id = $1 AND id = $2",
                        tenant,
                        &id_text
                    ));
                };
                sqlx::query("DELETE FROM account_secrets WHERE account_id = $1")
                    .bind(&id_text)
                    .execute(&mut *tx)
                    .await?;
                insert_secrets!(tx, &id_text, &write.secrets);
                insert_audit!(&mut *tx, tenant, Some(&id_text), actor, "update", changes, now);
                if let LastTestWrite::Set(report) = &write.last_test {
                    insert_audit!(&mut *tx, tenant, Some(&id_text), actor, "test", report, now);
                }
                updated
            });
        Ok(Account {
            id,
            tenant_id: tenant.to_owned(),
            type_key: write.type_key.clone(),
            provider: write.provider.clone(),
            name: write.name.clone(),
            enabled: write.enabled,
            properties: write.properties.clone(),
            secrets: sorted_secrets(&write.secrets),
            singleton_key: write.singleton_key.clone(),
            default_key: write.default_key.clone(),
            version,
            created_at,
            created_by,
            updated_at: now,
            updated_by: actor.to_owned(),
            last_test: last_test.as_deref().map(|text| parse_json("accounts.last_test", text)).transpose()?,
        })
    }

    async fn delete_account(&self, tenant: &str, id: Uuid, expected_version: Option<i64>, actor: &str) -> Result<()> {
        let now = now();
        let id_text = id.to_string();
        in_write_tx!(self, |tx| {
            let bound: Option<String> = sqlx::query_scalar(
                "SELECT name FROM gateway_bindings WHERE tenant_id = $1 AND account_id = $2 LIMIT 1",
            )
            .bind(tenant)
            .bind(&id_text)
            .fetch_optional(&mut *tx)
            .await?;
            if bound.is_some() {
                return Err(StoreError::Conflict(Conflict::Bound));
            }
            let deleted = sqlx::query(
                "DELETE FROM accounts \
                 WHERE tenant_id = $1 AND id = $2 AND ($3 IS NULL OR version = $3)",
            )
            .bind(tenant)
            .bind(&id_text)
            .bind(expected_version)
            .execute(&mut *tx)
            .await?;
            if deleted.rows_affected() == 0 {
                return Err(missing_or_stale!(
                    tx,
                    "SELECT version FROM accounts WHERE tenant_id = $1 AND id = $2",
                    tenant,
                    &id_text
                ));
            }
            insert_audit!(&mut *tx, tenant, Some(&id_text), actor, "delete", serde_json::json!({}), now);
        });
        Ok(())
    }

    async fn record_test_result(&self, tenant: &str, id: Uuid, result: &serde_json::Value, actor: &str) -> Result<()> {
        let now = now();
        let id_text = id.to_string();
        in_write_tx!(self, |tx| {
            let updated = sqlx::query("UPDATE accounts SET last_test = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(&id_text)
                .bind(result.to_string())
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(&mut *tx, tenant, Some(&id_text), actor, "test", result, now);
        });
        Ok(())
    }

    async fn append_audit(&self, entry: &NewAudit) -> Result<()> {
        let now = now();
        let account_id = entry.account_id.map(|id| id.to_string());
        in_write_tx!(self, |tx| {
            insert_audit!(
                &mut *tx,
                &entry.tenant_id,
                account_id.as_deref(),
                &entry.actor,
                &entry.action,
                entry.changes,
                now
            );
        });
        Ok(())
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        // Two statements rather than `($n IS NULL OR account_id = $n)`, so each can use its
        // own index and stop after `limit` rows.
        let before = query.before.unwrap_or(i64::MAX);
        let limit = query.limit.max(0);
        let account_id = query.account_id.map(|id| id.to_string());
        let rows: Vec<AuditRow> = with_reader!(self, |pool| match &account_id {
            None => {
                sqlx::query_as(
                    "SELECT id, tenant_id, account_id, actor, action, changes, at FROM audit \
                     WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(&query.tenant_id)
                .bind(before)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
            Some(account_id) => {
                sqlx::query_as(
                    "SELECT id, tenant_id, account_id, actor, action, changes, at FROM audit \
                     WHERE tenant_id = $1 AND account_id = $4 AND id < $2 \
                     ORDER BY id DESC LIMIT $3",
                )
                .bind(&query.tenant_id)
                .bind(before)
                .bind(limit)
                .bind(account_id)
                .fetch_all(pool)
                .await?
            }
        });
        rows.into_iter().map(AuditRow::into_entry).collect()
    }

    async fn create_token(&self, token: &NewToken) -> Result<ApiToken> {
        let now = now();
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO tokens (id, name, role, tenant_id, hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(token.id.to_string())
            .bind(&token.name)
            .bind(&token.role)
            .bind(token.tenant_id.as_deref())
            .bind(token.hash.as_slice())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        });
        Ok(ApiToken {
            id: token.id,
            name: token.name.clone(),
            role: token.role.clone(),
            tenant_id: token.tenant_id.clone(),
            created_at: now,
            revoked_at: None,
            last_used_at: None,
        })
    }

    async fn find_token(&self, hash: &[u8]) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_tokens!(), "WHERE hash = $1 AND revoked_at IS NULL"))
                .bind(hash)
                .fetch_optional(pool)
                .await?
        });
        row.map(TokenRow::into_token).transpose()
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        let rows: Vec<TokenRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_tokens!(), "ORDER BY created_at, id")).fetch_all(pool).await?
        });
        rows.into_iter().map(TokenRow::into_token).collect()
    }

    async fn revoke_token(&self, id: Uuid) -> Result<()> {
        let now = now();
        // Revoking twice keeps the first revocation time.
        let revoked = in_write_tx!(self, |tx| {
            sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                .bind(id.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        if revoked == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn touch_token(&self, id: Uuid, at: Timestamp, every: chrono::Duration) -> Result<bool> {
        let at = at.trunc_subsecs(6);
        let written = in_write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE tokens SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL \
                 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(id.to_string())
            .bind(at)
            .bind(at - every)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(written > 0)
    }

    async fn secrets_by_key_counts(&self) -> Result<Vec<(u32, i64)>> {
        let rows: Vec<(i64, i64)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT key_id, COUNT(*) FROM (SELECT key_id FROM account_secrets \
                 UNION ALL SELECT secret_key_id AS key_id FROM subscriptions) sealed GROUP BY key_id ORDER BY key_id",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(|(id, count)| Ok((parse_key_id(id)?, count))).collect()
    }

    async fn secrets_sealed_by_other_keys(
        &self,
        active: u32,
        after: Option<&SecretCursor>,
        limit: i64,
    ) -> Result<Vec<StoredSecret>> {
        let after_account = after.map(|c| c.account_id.to_string());
        let rows: Vec<StoredSecretRow> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT tenant_id, account_id, field, key_id, sealed FROM (\
                 SELECT a.tenant_id, s.account_id, s.field, s.key_id, s.sealed \
                 FROM account_secrets s JOIN accounts a ON a.id = s.account_id \
                 UNION ALL SELECT tenant_id, id AS account_id, 'signing_secret' AS field, secret_key_id AS key_id, \
                 secret_sealed AS sealed FROM subscriptions) sealed \
                 WHERE key_id <> $1 AND ($2 IS NULL OR (account_id, field) > ($2, $3)) \
                 ORDER BY account_id, field LIMIT $4",
            )
            .bind(i64::from(active))
            .bind(after_account.as_deref())
            .bind(after.map(|c| c.field.as_str()))
            .bind(limit.max(0))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(StoredSecretRow::into_stored).collect()
    }

    async fn replace_sealed(&self, reseals: &[Reseal]) -> Result<u64> {
        if reseals.is_empty() {
            return Ok(0);
        }
        let replaced = in_write_tx!(self, |tx| {
            let mut replaced = 0;
            for reseal in reseals {
                let current = &reseal.current;
                replaced += sqlx::query(
                    "UPDATE account_secrets SET key_id = $4, sealed = $5 \
                     WHERE account_id = $1 AND field = $2 AND sealed = $3",
                )
                .bind(current.account_id.to_string())
                .bind(&current.secret.field)
                .bind(current.secret.sealed.as_slice())
                .bind(i64::from(reseal.key_id))
                .bind(reseal.sealed.as_slice())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                // A subscription's signing secret, sealed with the subscription id in place
                // of an account id.
                if current.secret.field == crate::SIGNING_SECRET {
                    replaced += sqlx::query(
                        "UPDATE subscriptions SET secret_key_id = $3, secret_sealed = $4 \
                         WHERE id = $1 AND secret_sealed = $2",
                    )
                    .bind(current.account_id.to_string())
                    .bind(current.secret.sealed.as_slice())
                    .bind(i64::from(reseal.key_id))
                    .bind(reseal.sealed.as_slice())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
            replaced
        });
        Ok(replaced)
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        Ok(with_reader!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key).fetch_optional(pool).await?
        }))
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn sqlite_commits_sync_fully_and_its_files_are_private() {
        let dir = patchbay_testkit::TestDatabase::sqlite().await;
        let Pools::Sqlite { write, read } = connect_sqlite(&dir.url).await.expect("connect") else {
            panic!("a sqlite URL gives SQLite pools")
        };
        for pool in [&write, &read] {
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(pool).await.expect("pragma");
            assert_eq!(level, 2, "synchronous is FULL (2), so an acknowledged commit survives a power loss");
        }
        sqlx::query("CREATE TABLE t (x INTEGER)").execute(&write).await.expect("write");
        let files = dir.sqlite_files();
        assert!(files.iter().any(|f| f.to_string_lossy().ends_with("-wal")), "the WAL exists: {files:?}");
        for file in files {
            let mode = std::fs::metadata(&file).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is mode {mode:o}", file.display());
        }
    }
}
