//! Keeps the feed supervisor in step with the stored accounts: every enabled account of a
//! pushing type runs one feed. Writes through this node update the supervisor at once; a
//! periodic reconcile picks up changes made through other nodes sharing PostgreSQL.

use std::time::Duration;

use patchbay_feeds::{FeedKind, FeedSpec};
use patchbay_store::Account;

use crate::state::AppState;

/// How often the stored accounts are compared with the running feeds.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(5);

async fn spec(state: &AppState, account: &Account) -> Option<FeedSpec> {
    FeedKind::of(&account.type_key, &account.provider)?;
    if !account.enabled {
        return None;
    }
    let keys = state.keys.lease().await;
    let secrets = match crate::api::open_secrets(&keys, account) {
        Ok(secrets) => secrets,
        Err(_) => {
            tracing::error!(account = %account.id, "cannot open the secrets of a feed account");
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

/// After an account was created or changed: start, restart or stop its feed.
pub async fn account_saved(state: &AppState, account: &Account) {
    match spec(state, account).await {
        Some(spec) => {
            state.feeds.upsert(spec);
        }
        None => {
            state.feeds.remove(&account.id.to_string());
        }
    }
}

/// After an account was deleted.
pub fn account_deleted(state: &AppState, id: &uuid::Uuid) {
    state.feeds.remove(&id.to_string());
}

/// After a tenant was deleted: its feeds stop and its live state is dropped.
pub fn tenant_deleted(state: &AppState, tenant: &str) {
    for health in state.feeds.health_all().into_iter().filter(|h| h.tenant == tenant) {
        state.feeds.remove(&health.account_id);
    }
    state.feeds.state().remove_tenant(tenant);
}

/// Makes the running feeds match the stored accounts of every tenant.
pub async fn reconcile(state: &AppState) -> Result<(), patchbay_store::StoreError> {
    let mut specs = Vec::new();
    for tenant in state.store.list_tenants().await? {
        for account in state.store.list_accounts(&tenant.id, None).await? {
            if let Some(spec) = spec(state, &account).await {
                specs.push(spec);
            }
        }
    }
    let summary = state.feeds.apply(specs);
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

/// Reconciles now and then every [`RECONCILE_EVERY`] until the runtime stops.
pub fn spawn_reconciler(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = reconcile(&state).await {
                tracing::warn!(error = %e, "cannot reconcile feeds");
            }
        }
    });
}
