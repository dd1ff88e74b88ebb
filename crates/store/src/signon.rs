//! Single sign-on: the tenant's users (created by an admin or just in time at their first
//! verified sign-in), the AuthnRequests waiting for their answer (bound to one browser,
//! taken once), the assertion ids seen until they expire (a replay is refused on every
//! node), and the agent desktop's one-time codes. Every change to a user and every sign-in
//! is audited with the write.

use async_trait::async_trait;
use serde_json::json;
use uuid::Uuid;

use crate::sql::{now, parse_uuid, write_err, Pools};
use crate::{Result, SqlStore, StoreError, Timestamp};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: String,
    pub name_id: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: String,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_sign_in_at: Option<Timestamp>,
    pub version: i64,
}

/// A user an admin adds before their first sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name_id: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: String,
}

/// What an admin may change on a user; `None` keeps the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<String>,
    pub enabled: Option<bool>,
}

/// Who the identity provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInIdentity {
    pub name_id: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

/// An AuthnRequest waiting for its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoRequest {
    pub id: String,
    pub tenant_id: String,
    pub provider: String,
    pub browser_hash: Vec<u8>,
    pub return_to: String,
    pub expires_at: Timestamp,
}

/// A one-time code and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoCode {
    pub return_to: String,
    pub identity: serde_json::Value,
}

#[async_trait]
pub trait SignonStore: Send + Sync + 'static {
    /// The tenant's users, by email then subject.
    async fn list_users(&self, tenant: &str) -> Result<Vec<User>>;
    async fn get_user(&self, tenant: &str, id: Uuid) -> Result<User>;
    /// Adds a user (enabled), audited as `user.create`; `Conflict::UserExists` when the
    /// tenant has a user with this subject.
    async fn create_user(&self, tenant: &str, user: &NewUser, actor: &str) -> Result<User>;
    /// Changes role or enabled (at `expected_version` when given), audited as `user.update`.
    async fn update_user(
        &self,
        tenant: &str,
        id: Uuid,
        change: &UserChange,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<User>;
    async fn delete_user(&self, tenant: &str, id: Uuid, expected_version: Option<i64>, actor: &str) -> Result<()>;
    /// A verified sign-in through `provider`: the user of `identity.name_id` gets the email
    /// and name the IdP sent and the sign-in time, audited as `user.sign_in`. An unknown
    /// user is created first (by `jit`, audited as `user.create`) when `jit_role` is given;
    /// without it the answer is `None`. A disabled user is returned unchanged, and nothing
    /// is written: the caller refuses it.
    async fn sign_in_user(
        &self,
        tenant: &str,
        provider: &str,
        identity: &SignInIdentity,
        jit_role: Option<&str>,
    ) -> Result<Option<User>>;
    async fn create_sso_request(&self, request: &SsoRequest) -> Result<()>;
    /// Takes (deletes) the pending request `id` of `tenant` and `provider` that `browser_hash`
    /// started, so a response is used once; `None` when there is none or it has expired.
    /// Another browser's attempt leaves the request in place.
    async fn take_sso_request(
        &self,
        tenant: &str,
        provider: &str,
        id: &str,
        browser_hash: &[u8],
    ) -> Result<Option<SsoRequest>>;
    /// Records an assertion id until `expires`; `false` when it was already recorded (a replay).
    async fn record_assertion(
        &self,
        tenant: &str,
        issuer: &str,
        assertion_id: &str,
        expires: Timestamp,
    ) -> Result<bool>;
    async fn create_sso_code(&self, tenant: &str, code_hash: &[u8], code: &SsoCode, expires: Timestamp) -> Result<()>;
    /// Takes the code (deleted either way) if it has not expired.
    async fn take_sso_code(&self, tenant: &str, code_hash: &[u8]) -> Result<Option<SsoCode>>;
    /// Deletes expired requests, assertion ids and codes; returns how many rows went.
    async fn purge_sso(&self) -> Result<u64>;
}

type UserRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    bool,
    String,
    Timestamp,
    Timestamp,
    Option<Timestamp>,
    i64,
);

const COLUMNS: &str = "id, tenant_id, name_id, email, display_name, role, enabled, created_by, created_at, \
                       updated_at, last_sign_in_at, version";

fn user(row: UserRow) -> Result<User> {
    let (id, tenant_id, name_id, email, display_name, role, enabled, created_by, created_at, updated_at, last, version) =
        row;
    Ok(User {
        id: parse_uuid("users.id", &id)?,
        tenant_id,
        name_id,
        email,
        display_name,
        role,
        enabled,
        created_by,
        created_at,
        updated_at,
        last_sign_in_at: last,
        version,
    })
}

impl User {
    /// How the user is named to people: the email, else the subject.
    pub fn name(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.name_id)
    }

    /// The actor the audit trail records for what the user does: `user:NAME (ID)`.
    pub fn actor(&self) -> String {
        format!("user:{} ({})", self.name(), self.id)
    }
}

#[async_trait]
impl SignonStore for SqlStore {
    async fn list_users(&self, tenant: &str) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = with_reader!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY COALESCE(email, name_id), name_id"
            ))
            .bind(tenant)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(user).collect()
    }

    async fn get_user(&self, tenant: &str, id: Uuid) -> Result<User> {
        let row: Option<UserRow> = with_reader!(self, |pool| {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"))
                .bind(tenant)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        user(row.ok_or(StoreError::NotFound)?)
    }

    async fn create_user(&self, tenant: &str, new: &NewUser, actor: &str) -> Result<User> {
        let now = now();
        let id = Uuid::now_v7();
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO users (id, tenant_id, name_id, email, display_name, role, enabled, created_by, \
                 created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8, $8, 1)",
            )
            .bind(id.to_string())
            .bind(tenant)
            .bind(&new.name_id)
            .bind(new.email.as_deref())
            .bind(new.display_name.as_deref())
            .bind(&new.role)
            .bind(actor)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            let changes = json!({"user": id, "name_id": new.name_id, "email": new.email, "role": new.role});
            insert_audit!(&mut *tx, tenant, None::<&str>, actor, "user.create", changes, now);
        });
        self.get_user(tenant, id).await
    }

    async fn update_user(
        &self,
        tenant: &str,
        id: Uuid,
        change: &UserChange,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<User> {
        let now = now();
        let id_text = id.to_string();
        in_write_tx!(self, |tx| {
            let updated = sqlx::query(
                "UPDATE users SET role = COALESCE($3, role), enabled = COALESCE($4, enabled), \
                 version = version + 1, updated_at = $5 \
                 WHERE tenant_id = $1 AND id = $2 AND ($6 IS NULL OR version = $6)",
            )
            .bind(tenant)
            .bind(&id_text)
            .bind(change.role.as_deref())
            .bind(change.enabled)
            .bind(now)
            .bind(expected_version)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(missing_or_stale!(
                    tx,
                    "SELECT version FROM users WHERE tenant_id = $1 AND id = $2",
                    tenant,
                    &id_text
                ));
            }
            let changes = json!({"user": id_text, "role": change.role, "enabled": change.enabled});
            insert_audit!(&mut *tx, tenant, None::<&str>, actor, "user.update", changes, now);
        });
        self.get_user(tenant, id).await
    }

    async fn delete_user(&self, tenant: &str, id: Uuid, expected_version: Option<i64>, actor: &str) -> Result<()> {
        let id_text = id.to_string();
        let gone = json!({"user": id_text});
        delete_versioned!(self, "users", tenant, &id_text, expected_version, actor, "user.delete", gone);
        Ok(())
    }

    async fn sign_in_user(
        &self,
        tenant: &str,
        provider: &str,
        identity: &SignInIdentity,
        jit_role: Option<&str>,
    ) -> Result<Option<User>> {
        let now = now();
        let signed_in = in_write_tx!(self, |tx| {
            if let Some(role) = jit_role {
                let id = Uuid::now_v7().to_string();
                let created = sqlx::query(
                    "INSERT INTO users (id, tenant_id, name_id, email, display_name, role, enabled, created_by, \
                     created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, TRUE, 'jit', $7, $7, 1) \
                     ON CONFLICT (tenant_id, name_id) DO NOTHING",
                )
                .bind(&id)
                .bind(tenant)
                .bind(&identity.name_id)
                .bind(identity.email.as_deref())
                .bind(identity.display_name.as_deref())
                .bind(role)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(write_err)?;
                if created.rows_affected() == 1 {
                    let changes = json!({"user": id, "name_id": identity.name_id, "email": identity.email,
                        "role": role, "provider": provider});
                    insert_audit!(&mut *tx, tenant, None::<&str>, "jit", "user.create", changes, now);
                }
            }
            let row: Option<UserRow> =
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND name_id = $2"))
                    .bind(tenant)
                    .bind(&identity.name_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(found) = row.map(user).transpose()? else { return Ok(None) };
            if !found.enabled {
                return Ok(Some(found));
            }
            sqlx::query(
                "UPDATE users SET email = COALESCE($3, email), display_name = COALESCE($4, display_name), \
                 last_sign_in_at = $5 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(found.id.to_string())
            .bind(identity.email.as_deref())
            .bind(identity.display_name.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let changes = json!({"user": found.id, "provider": provider});
            insert_audit!(&mut *tx, tenant, None::<&str>, found.actor(), "user.sign_in", changes, now);
            found.id
        });
        self.get_user(tenant, signed_in).await.map(Some)
    }

    async fn create_sso_request(&self, request: &SsoRequest) -> Result<()> {
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO sso_requests (id, tenant_id, provider, browser_hash, return_to, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&request.id)
            .bind(&request.tenant_id)
            .bind(&request.provider)
            .bind(request.browser_hash.as_slice())
            .bind(&request.return_to)
            .bind(request.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        });
        Ok(())
    }

    async fn take_sso_request(
        &self,
        tenant: &str,
        provider: &str,
        id: &str,
        browser_hash: &[u8],
    ) -> Result<Option<SsoRequest>> {
        let now = now();
        let row: Option<(String, Timestamp)> = in_write_tx!(self, |tx| {
            sqlx::query_as(
                "DELETE FROM sso_requests WHERE id = $1 AND tenant_id = $2 AND provider = $3 AND browser_hash = $4 \
                 RETURNING return_to, expires_at",
            )
            .bind(id)
            .bind(tenant)
            .bind(provider)
            .bind(browser_hash)
            .fetch_optional(&mut *tx)
            .await?
        });
        Ok(row.filter(|(_, expires_at)| *expires_at > now).map(|(return_to, expires_at)| SsoRequest {
            id: id.to_owned(),
            tenant_id: tenant.to_owned(),
            provider: provider.to_owned(),
            browser_hash: browser_hash.to_vec(),
            return_to,
            expires_at,
        }))
    }

    async fn record_assertion(
        &self,
        tenant: &str,
        issuer: &str,
        assertion_id: &str,
        expires: Timestamp,
    ) -> Result<bool> {
        let inserted = in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO sso_assertions (tenant_id, issuer, assertion_id, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, issuer, assertion_id) DO NOTHING",
            )
            .bind(tenant)
            .bind(issuer)
            .bind(assertion_id)
            .bind(expires)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(inserted == 1)
    }

    async fn create_sso_code(&self, tenant: &str, code_hash: &[u8], code: &SsoCode, expires: Timestamp) -> Result<()> {
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO sso_codes (code_hash, tenant_id, return_to, identity, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(code_hash)
            .bind(tenant)
            .bind(&code.return_to)
            .bind(code.identity.to_string())
            .bind(expires)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        });
        Ok(())
    }

    async fn take_sso_code(&self, tenant: &str, code_hash: &[u8]) -> Result<Option<SsoCode>> {
        let now = now();
        let row: Option<(String, String, Timestamp)> = in_write_tx!(self, |tx| {
            sqlx::query_as(
                "DELETE FROM sso_codes WHERE code_hash = $1 AND tenant_id = $2 \
                 RETURNING return_to, identity, expires_at",
            )
            .bind(code_hash)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?
        });
        let Some((return_to, identity, expires_at)) = row else { return Ok(None) };
        if expires_at <= now {
            return Ok(None);
        }
        let identity =
            serde_json::from_str(&identity).map_err(|e| StoreError::Corrupt(format!("sso_codes.identity: {e}")))?;
        Ok(Some(SsoCode { return_to, identity }))
    }

    async fn purge_sso(&self) -> Result<u64> {
        let now = now();
        let purged = in_write_tx!(self, |tx| {
            let mut purged = 0;
            for table in ["sso_requests", "sso_assertions", "sso_codes"] {
                purged += sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            purged
        });
        Ok(purged)
    }
}
