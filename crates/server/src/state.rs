//! The state every request handler shares: the stores, the account-secrets service, the
//! catalog, outbound connections with their slots, metrics, and the handles of the engines
//! (`patchbay_jobs`) that start-up constructed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};

use patchbay_catalog::Catalog;
use patchbay_connectors::{Egress, Registry, VendorUrls};
use patchbay_jobs::{Exporter, FeedReconciler, Intake};
use patchbay_secrets::AccountSecrets;
use patchbay_store::{RecordingStore, Store};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::listen::HttpLimits;
use crate::metrics::{Metrics, Sources};

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The account-secrets service: the key ring, its leases, sealing and opening.
    pub keys: Arc<AccountSecrets>,
    pub catalog: &'static Catalog,
    pub outbound: Arc<Outbound>,
    pub metrics: Arc<Metrics>,
    /// The live state and the feeds of every tenant (data plane).
    pub feeds: patchbay_feeds::Supervisor,
    /// Recordings, export jobs and runs (not cached: written as often as read).
    pub recordings: Arc<dyn RecordingStore>,
    /// Recording audio files and the export runs of this node.
    pub exporter: Arc<Exporter>,
    /// Recording metadata and audio intake (the API and the spool).
    pub intake: Intake,
    /// Starts and stops the feeds of accounts as they are saved.
    pub reconciler: FeedReconciler,
    /// Timeouts and connection limits of the HTTP listener.
    pub http: HttpLimits,
    /// The recordings spool folder, when one is watched.
    pub spool: Option<PathBuf>,
    /// The runtime gateway (applications use accounts through it).
    pub gateway: Arc<patchbay_gateway::Gateway>,
    /// Transcripts of recordings, made through the gateway.
    pub transcriber: Arc<patchbay_jobs::Transcriber>,
    /// The tenants' native knowledge bases.
    pub kb: Arc<dyn patchbay_store::KbStore>,
    /// The messenger edge: inbound webhooks, conversations and their events.
    pub edge: Arc<patchbay_edge::Edge>,
    /// The tenants' users (people who sign in through an identity provider).
    pub users: Arc<dyn patchbay_store::SignonStore>,
    /// SAML single sign-on for the admin screen and the agent desktop.
    pub signon: patchbay_signon::SignOn,
    /// What the Zapier API reads beyond the other stores.
    pub zapier: Arc<dyn patchbay_store::ZapierStore>,
    /// Failed Zapier sign-ins per username, on this node.
    pub zapier_lockout: Arc<crate::lockout::Lockout>,
    /// When this node last recorded each token's use.
    pub token_uses: Arc<crate::token_uses::TokenUses>,
    /// The live state's event streams open on this node, per tenant.
    pub live: Arc<crate::live::LiveStreams>,
}

impl axum::extract::FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

impl axum::extract::FromRef<AppState> for Sources {
    fn from_ref(state: &AppState) -> Self {
        Sources { metrics: state.metrics.clone(), store: state.store.clone(), feeds: state.feeds.clone() }
    }
}

/// Everything connection tests and actions need to reach the outside.
pub struct Outbound {
    pub egress: Egress,
    pub connectors: Registry,
    pub vendors: VendorUrls,
    pub public_url: Option<url::Url>,
    /// Identity Provider Single Sign-On URLs may be http:// on loopback hosts.
    pub sso_allow_http_loopback: bool,
    /// How many tests of one bulk request run at once.
    pub test_concurrency: usize,
    /// The slots connection tests and actions run in, per tenant and in all.
    pub slots: TestSlots,
}

/// Bounds the connection tests and actions that run at once, per tenant and in all, so one
/// tenant cannot occupy the outbound connections (and a hung peer's timeouts) for everyone.
pub struct TestSlots {
    per_tenant: usize,
    global: Arc<Semaphore>,
    tenants: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A taken slot; dropping it frees it.
pub struct TestSlot {
    _tenant: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl TestSlots {
    pub fn new(per_tenant: usize, global: usize) -> TestSlots {
        TestSlots {
            per_tenant,
            global: Arc::new(Semaphore::new(global)),
            tenants: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn tenant(&self, tenant: &str) -> Arc<Semaphore> {
        let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        tenants.entry(tenant.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant))).clone()
    }

    /// A slot now, or `None` when the tenant's or the service's slots are all taken.
    pub fn try_take(&self, tenant: &str) -> Option<TestSlot> {
        let tenant = self.tenant(tenant).try_acquire_owned().ok()?;
        let global = self.global.clone().try_acquire_owned().ok()?;
        Some(TestSlot { _tenant: tenant, _global: global })
    }

    /// A slot, waiting for one to free up.
    pub async fn take(&self, tenant: &str) -> TestSlot {
        let tenant = self.tenant(tenant).acquire_owned().await.expect("the semaphore is never closed");
        let global = self.global.clone().acquire_owned().await.expect("the semaphore is never closed");
        TestSlot { _tenant: tenant, _global: global }
    }

    /// Forgets a deleted tenant's counter.
    pub fn forget(&self, tenant: &str) {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner).remove(tenant);
    }
}
