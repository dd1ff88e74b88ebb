//! Keeps the feed supervisor in step with the stored accounts: every enabled account of a
//! pushing type runs one feed. Writes through this node update the supervisor at once (with
//! the clear values the write was sealed from); a periodic reconcile picks up changes made
//! through other nodes sharing PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use patchbay_feeds::{FeedKind, FeedSpec, Supervisor};
use patchbay_secrets::{AccountSecrets, SecretString, SecretsError};
use patchbay_store::{Account, Store, StoreError};

/// How often the stored accounts are compared with the running feeds.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// Starts, restarts and stops the feeds of the stored accounts.
#[derive(Clone)]
pub struct FeedReconciler {
    store: Arc<dyn Store>,
    secrets: Arc<AccountSecrets>,
    feeds: Supervisor,
}

/// The feed an account runs, if any; `secrets` are the account's clear values.
fn spec(
    account: &Account,
    secrets: impl FnOnce() -> Result<BTreeMap<String, SecretString>, SecretsError>,
) -> Option<FeedSpec> {
    FeedKind::of(&account.type_key, &account.provider)?;
    if !account.enabled {
        return None;
    }
    let secrets = match secrets() {
        Ok(secrets) => secrets,
        Err(e) => {
            tracing::error!(account = %account.id, error = %e, "cannot open the secrets of a feed account");
            return None;
        }
    };
    Some(FeedSpec {
        account_id: account.id.to_string(),
        tenant: account.tenant_id.clone(),
        type_key: account.type_key.clone(),
        provider: account.provider.clone(),
        properties: account.properties.clone(),
        secrets,
    })
}

impl FeedReconciler {
    pub fn new(store: Arc<dyn Store>, secrets: Arc<AccountSecrets>, feeds: Supervisor) -> FeedReconciler {
        FeedReconciler { store, secrets, feeds }
    }

    /// After an account was created or changed, with the clear secret values it was saved
    /// with: start, restart or stop its feed.
    pub fn account_saved(&self, account: &Account, secrets: Result<BTreeMap<String, SecretString>, SecretsError>) {
        match spec(account, || secrets) {
            Some(spec) => {
                self.feeds.upsert(spec);
            }
            None => {
                self.feeds.remove(&account.id.to_string());
            }
        }
    }

    /// After an account was deleted.
    pub fn account_deleted(&self, id: &uuid::Uuid) {
        self.feeds.remove(&id.to_string());
    }

    /// After a tenant was deleted: its feeds stop and its live state is dropped.
    pub fn tenant_deleted(&self, tenant: &str) {
        for health in self.feeds.health_all().into_iter().filter(|h| h.tenant == tenant) {
            self.feeds.remove(&health.account_id);
        }
        self.feeds.state().remove_tenant(tenant);
    }

    /// Makes the running feeds match the stored accounts of every tenant.
    pub async fn reconcile(&self) -> Result<(), StoreError> {
        let mut specs = Vec::new();
        for tenant in self.store.list_tenants().await? {
            for account in self.store.list_accounts(&tenant.id, None).await? {
                let keys = self.secrets.lease().await;
                if let Some(spec) = spec(&account, || keys.open(&account)) {
                    specs.push(spec);
                }
            }
        }
        let summary = self.feeds.apply(specs);
        if !(summary.started.is_empty() && summary.restarted.is_empty() && summary.stopped.is_empty()) {
            tracing::info!(
                started = summary.started.len(),
                restarted = summary.restarted.len(),
                stopped = summary.stopped.len(),
                "feeds reconciled"
            );
        }
        Ok(())
    }

    /// Reconciles every [`RECONCILE_EVERY`] (the first time at once) until the runtime stops.
    pub fn spawn(self) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECONCILE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.reconcile().await {
                    tracing::warn!(error = %e, "cannot reconcile feeds");
                }
            }
        });
    }
}
