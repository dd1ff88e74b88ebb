//! A read-through cache in front of a store that this process alone writes (SQLite in the
//! data dir). Reads of tenants, accounts and tokens come from memory; every write through
//! the cache invalidates what it touches. A generation counter per tenant keeps a read that
//! raced a write from caching what it read before the write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    Account, AccountCounts, AccountWrite, ApiToken, AuditEntry, AuditQuery, NewAudit, NewTenant, NewToken, Reseal,
    Result, SecretCursor, Store, StoredSecret, Tenant, TenantContents, TenantUpdate, Timestamp,
};

/// Tenants whose accounts are held at most; past it the cache starts over.
const MAX_TENANTS: usize = 10_000;
/// Tokens held at most; past it the cache starts over.
const MAX_TOKENS: usize = 10_000;

pub struct CachedStore<S> {
    inner: S,
    /// Bumped by every write; a load stores its result only if no write came in between.
    generation: AtomicU64,
    tenants: RwLock<HashMap<String, Tenant>>,
    accounts: RwLock<HashMap<String, Arc<TenantAccounts>>>,
    tokens: RwLock<HashMap<Vec<u8>, ApiToken>>,
}

/// A tenant's accounts as `list_accounts` sorts them, and where each id is among them.
struct TenantAccounts {
    list: Vec<Arc<Account>>,
    by_id: HashMap<Uuid, usize>,
}

impl<S: Store> CachedStore<S> {
    pub fn new(inner: S) -> CachedStore<S> {
        CachedStore {
            inner,
            generation: AtomicU64::new(0),
            tenants: RwLock::default(),
            accounts: RwLock::default(),
            tokens: RwLock::default(),
        }
    }

    /// After a write to the tenant row itself (and so to everything under it).
    fn invalidate_tenant(&self, tenant: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        write(&self.tenants).remove(tenant);
        write(&self.accounts).remove(tenant);
    }

    /// After a write to one of the tenant's accounts.
    fn invalidate_accounts(&self, tenant: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        write(&self.accounts).remove(tenant);
    }

    fn invalidate_tokens(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        write(&self.tokens).clear();
    }

    /// The tenant's accounts, sorted as `list_accounts` sorts them, with an index by id.
    async fn accounts_of(&self, tenant: &str) -> Result<Arc<TenantAccounts>> {
        if let Some(hit) = read(&self.accounts).get(tenant) {
            return Ok(hit.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let list = self.inner.list_accounts(tenant, None).await?;
        let by_id = list.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        let loaded = Arc::new(TenantAccounts { list, by_id });
        let mut cache = write(&self.accounts);
        if self.generation.load(Ordering::SeqCst) == generation {
            if cache.len() >= MAX_TENANTS {
                cache.clear();
            }
            cache.insert(tenant.to_owned(), loaded.clone());
        }
        Ok(loaded)
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl<S: Store> Store for CachedStore<S> {
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn create_tenant(&self, tenant: &NewTenant, actor: &str) -> Result<Tenant> {
        let result = self.inner.create_tenant(tenant, actor).await;
        self.invalidate_tenant(&tenant.id);
        result
    }

    async fn get_tenant(&self, id: &str) -> Result<Tenant> {
        if let Some(hit) = read(&self.tenants).get(id) {
            return Ok(hit.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let tenant = self.inner.get_tenant(id).await?;
        let mut cache = write(&self.tenants);
        if self.generation.load(Ordering::SeqCst) == generation {
            if cache.len() >= MAX_TENANTS {
                cache.clear();
            }
            cache.insert(id.to_owned(), tenant.clone());
        }
        Ok(tenant)
    }

    async fn account_counts(&self) -> Result<Vec<(String, i64)>> {
        self.inner.account_counts().await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.inner.list_tenants().await
    }

    async fn list_tenants_with_counts(&self) -> Result<Vec<(Tenant, AccountCounts)>> {
        self.inner.list_tenants_with_counts().await
    }

    async fn tenant_contents(&self, id: &str) -> Result<TenantContents> {
        self.inner.tenant_contents(id).await
    }

    async fn update_tenant(
        &self,
        id: &str,
        update: &TenantUpdate,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<Tenant> {
        let result = self.inner.update_tenant(id, update, expected_version, actor).await;
        self.invalidate_tenant(id);
        result
    }

    async fn delete_tenant(&self, id: &str, actor: &str) -> Result<String> {
        let result = self.inner.delete_tenant(id, actor).await;
        self.invalidate_tenant(id);
        self.invalidate_tokens();
        result
    }

    async fn create_account(
        &self,
        tenant: &str,
        id: Uuid,
        write: &AccountWrite,
        actor: &str,
        changes: &serde_json::Value,
    ) -> Result<Account> {
        let result = self.inner.create_account(tenant, id, write, actor, changes).await;
        self.invalidate_accounts(tenant);
        result
    }

    async fn get_account(&self, tenant: &str, id: Uuid) -> Result<Account> {
        let accounts = self.accounts_of(tenant).await?;
        let at = accounts.by_id.get(&id).ok_or(crate::StoreError::NotFound)?;
        Ok(Account::clone(&accounts.list[*at]))
    }

    async fn list_accounts(&self, tenant: &str, type_key: Option<&str>) -> Result<Vec<Arc<Account>>> {
        let all = self.accounts_of(tenant).await?;
        Ok(all.list.iter().filter(|a| type_key.is_none_or(|t| a.type_key == t)).cloned().collect())
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
        let result = self.inner.update_account(tenant, id, write, expected_version, actor, changes).await;
        self.invalidate_accounts(tenant);
        result
    }

    async fn delete_account(&self, tenant: &str, id: Uuid, expected_version: Option<i64>, actor: &str) -> Result<()> {
        let result = self.inner.delete_account(tenant, id, expected_version, actor).await;
        self.invalidate_accounts(tenant);
        result
    }

    async fn record_test_result(&self, tenant: &str, id: Uuid, result: &serde_json::Value, actor: &str) -> Result<()> {
        let outcome = self.inner.record_test_result(tenant, id, result, actor).await;
        self.invalidate_accounts(tenant);
        outcome
    }

    async fn append_audit(&self, entry: &NewAudit) -> Result<()> {
        self.inner.append_audit(entry).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.inner.list_audit(query).await
    }

    async fn create_token(&self, token: &NewToken) -> Result<ApiToken> {
        self.inner.create_token(token).await
    }

    async fn find_token(&self, hash: &[u8]) -> Result<Option<ApiToken>> {
        if let Some(hit) = read(&self.tokens).get(hash) {
            return Ok(Some(hit.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let found = self.inner.find_token(hash).await?;
        if let Some(token) = &found {
            let mut cache = write(&self.tokens);
            if self.generation.load(Ordering::SeqCst) == generation {
                if cache.len() >= MAX_TOKENS {
                    cache.clear();
                }
                cache.insert(hash.to_vec(), token.clone());
            }
        }
        Ok(found)
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        self.inner.list_tokens().await
    }

    async fn revoke_token(&self, id: Uuid) -> Result<()> {
        let result = self.inner.revoke_token(id).await;
        self.invalidate_tokens();
        result
    }

    async fn touch_token(&self, id: Uuid, at: Timestamp, every: chrono::Duration) -> Result<bool> {
        self.inner.touch_token(id, at, every).await
    }

    async fn secrets_by_key_counts(&self) -> Result<Vec<(u32, i64)>> {
        self.inner.secrets_by_key_counts().await
    }

    async fn secrets_sealed_by_other_keys(
        &self,
        active: u32,
        after: Option<&SecretCursor>,
        limit: i64,
    ) -> Result<Vec<StoredSecret>> {
        self.inner.secrets_sealed_by_other_keys(active, after, limit).await
    }

    async fn replace_sealed(&self, reseals: &[Reseal]) -> Result<u64> {
        let result = self.inner.replace_sealed(reseals).await;
        let tenants: std::collections::BTreeSet<&str> = reseals.iter().map(|r| r.current.tenant_id.as_str()).collect();
        for tenant in tenants {
            self.invalidate_accounts(tenant);
        }
        result
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        self.inner.get_meta(key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.inner.set_meta(key, value).await
    }
}
