//! Shared state and start-up: the data dir, the master key ring (checked against the
//! database), the store, and the bootstrap service-provider admin token.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use anyhow::{bail, Context};
use base64::Engine;
use patchbay_catalog::Catalog;
use patchbay_connectors::{Egress, EgressPolicy, Registry, VendorUrls};
use patchbay_store::{CachedStore, NewToken, RecordingStore, SqlStore, Store};
use patchbay_vault::KeyRing;
use tokio::sync::{oneshot, Mutex, OwnedSemaphorePermit, Semaphore};

use crate::auth::{generate_token, hash_token, Role};
use crate::listen::HttpLimits;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keys>,
    pub catalog: &'static Catalog,
    pub outbound: Arc<Outbound>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The live state and the feeds of every tenant (data plane).
    pub feeds: patchbay_feeds::Supervisor,
    /// Recordings, export jobs and runs (not cached: written as often as read).
    pub recordings: Arc<dyn RecordingStore>,
    /// Recording audio files and the export runs of this node.
    pub exporter: Arc<crate::export::Exporter>,
    /// Timeouts and connection limits of the HTTP listener.
    pub http: HttpLimits,
    /// The recordings spool folder, when one is watched.
    pub spool: Option<PathBuf>,
}

/// The master key ring in use, swapped while requests run (key rotation and retirement).
///
/// A request that reads or writes sealed values takes a [`KeyLease`] before it reads them
/// and keeps it until its last use of them: a snapshot of the ring that never blocks and
/// never changes under it. A new ring is installed at once, then the change waits until
/// every lease of the ring before has ended. Rotation installs the new key inactive first,
/// so every request that can read a value sealed with the new key knows it, and returns
/// only once no request seals with the old key any more. Keep leases short: never across an
/// outbound call, or rotation waits for it.
pub struct Keys {
    current: std::sync::RwLock<Arc<Generation>>,
    /// Serializes ring changes (ring file, key checks); holds the signal that the last lease
    /// of the current ring has ended.
    changes: Mutex<oneshot::Receiver<()>>,
    path: PathBuf,
}

/// One installed ring. Its sender drops with the last lease, which wakes a waiting change.
struct Generation {
    ring: KeyRing,
    _released: oneshot::Sender<()>,
}

/// A snapshot of the ring (see [`Keys`]).
pub struct KeyLease(Arc<Generation>);

impl std::ops::Deref for KeyLease {
    type Target = KeyRing;

    fn deref(&self) -> &KeyRing {
        &self.0.ring
    }
}

/// Why a key cannot be retired.
#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    #[error("key {0} is not in the master key ring")]
    Unknown(u32),
    #[error("key {0} is the active key; rotate to a new key first")]
    Active(u32),
    #[error("key {id} still seals {values} values; reseal them first (`patchbay keys rotate`)")]
    InUse { id: u32, values: i64 },
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Keys {
    pub fn new(ring: KeyRing, path: PathBuf) -> Keys {
        let (released, signal) = oneshot::channel();
        Keys {
            current: std::sync::RwLock::new(Arc::new(Generation { ring, _released: released })),
            changes: Mutex::new(signal),
            path,
        }
    }

    /// The current ring, unchanged for as long as the lease is held.
    pub async fn lease(&self) -> KeyLease {
        KeyLease(self.current.read().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// Adds a new key and makes it the active one: written to the ring file first (so a
    /// restart keeps it), installed inactive, then active, then its check value recorded.
    /// Returns the new key's id.
    pub async fn rotate(&self, store: &dyn Store) -> anyhow::Result<u32> {
        let mut released = self.changes.lock().await;
        let mut next = KeyRing::clone(&*self.lease().await);
        let previous = next.active_key_id();
        let id = next.add_key();
        next.save(&self.path).with_context(|| format!("cannot write the master key ring {}", self.path.display()))?;
        let mut staged = next.clone();
        staged.set_active(previous)?;
        self.install(&mut released, staged).await;
        let check = next.key_check(id)?;
        self.install(&mut released, next).await;
        let mut checks = key_checks(store).await?;
        checks.insert(id, base64::engine::general_purpose::STANDARD.encode(check));
        store.set_meta(KEY_CHECKS, &serde_json::to_string(&checks)?).await?;
        tracing::info!(key_id = id, previous_key_id = previous, "added a master key; new values are sealed with it");
        Ok(id)
    }

    /// Removes key `id` if it is not active and seals no value. Requests write values only
    /// under the active key (and reseal older values they keep), so none can bring the key
    /// back; requests that still hold the old ring can open what they read with it. The key
    /// check goes before the ring file: a file that still holds the key after a crash is fine.
    pub async fn retire(&self, store: &dyn Store, id: u32) -> Result<(), RetireError> {
        let mut released = self.changes.lock().await;
        let mut next = KeyRing::clone(&*self.lease().await);
        if id == next.active_key_id() {
            return Err(RetireError::Active(id));
        }
        if !next.key_ids().contains(&id) {
            return Err(RetireError::Unknown(id));
        }
        let counts = store.secrets_by_key_counts().await.map_err(anyhow::Error::from)?;
        if let Some(&(_, values)) = counts.iter().find(|(key, _)| *key == id) {
            return Err(RetireError::InUse { id, values });
        }
        next.remove_key(id).map_err(anyhow::Error::from)?;
        self.forget(store, &next, id).await?;
        self.install(&mut released, next).await;
        tracing::info!(key_id = id, "retired a master key");
        Ok(())
    }

    /// Removes key `id`'s check, then writes `next` (the ring without it) to the ring file.
    async fn forget(&self, store: &dyn Store, next: &KeyRing, id: u32) -> anyhow::Result<()> {
        let mut checks = key_checks(store).await?;
        if checks.remove(&id).is_some() {
            store.set_meta(KEY_CHECKS, &serde_json::to_string(&checks)?).await?;
        }
        next.save(&self.path).with_context(|| format!("cannot write the master key ring {}", self.path.display()))
    }

    /// Makes `ring` the current one, then waits until the last lease of the one before ends.
    async fn install(&self, released: &mut oneshot::Receiver<()>, ring: KeyRing) {
        let (sender, signal) = oneshot::channel();
        let generation = Arc::new(Generation { ring, _released: sender });
        drop(std::mem::replace(&mut *self.current.write().unwrap_or_else(PoisonError::into_inner), generation));
        // Resolves (with an error, as nothing is sent) when the old generation's sender drops.
        let _ = std::mem::replace(released, signal).await;
    }
}

/// Everything connection tests and actions need to reach the outside.
pub struct Outbound {
    pub egress: Egress,
    pub connectors: Registry,
    pub vendors: VendorUrls,
    pub public_url: Option<url::Url>,
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

/// How to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; SQLite in the data dir when absent.
    pub database_url: Option<String>,
    /// Sets the service-provider admin token instead of generating one.
    pub admin_token: Option<String>,
    /// What outbound connections (tests, actions) may reach.
    pub egress: EgressPolicy,
    /// Public base URL of this service, for webhooks vendors call.
    pub public_url: Option<url::Url>,
    /// Vendor API base URLs that replace the built-in ones.
    pub vendor_urls: Vec<(String, url::Url)>,
    /// A folder watched for recordings dropped as files (see `spool.rs`).
    pub recordings_spool: Option<PathBuf>,
    /// Timeouts and connection limits of the HTTP listener.
    pub http: HttpLimits,
    /// Connection tests and actions of one tenant that may run at once.
    pub test_limit_per_tenant: usize,
    /// Connection tests and actions of all tenants that may run at once.
    pub test_limit_global: usize,
    /// An export run whose heartbeat is older than this (database time) is taken over.
    pub export_run_expiry: std::time::Duration,
}

impl Settings {
    pub const DEFAULT_TEST_LIMIT_PER_TENANT: usize = 4;
    pub const DEFAULT_TEST_LIMIT_GLOBAL: usize = 32;
    /// An export run whose heartbeat is older than this (database time) belongs to a dead
    /// node, unless the node is started with another expiry.
    pub const DEFAULT_EXPORT_RUN_EXPIRY: std::time::Duration = std::time::Duration::from_secs(60);

    /// Defaults for a data dir: SQLite, generated admin token, strict egress.
    pub fn new(data_dir: PathBuf) -> Settings {
        Settings {
            data_dir,
            database_url: None,
            admin_token: None,
            egress: EgressPolicy::default(),
            public_url: None,
            vendor_urls: Vec::new(),
            recordings_spool: None,
            http: HttpLimits::default(),
            test_limit_per_tenant: Settings::DEFAULT_TEST_LIMIT_PER_TENANT,
            test_limit_global: Settings::DEFAULT_TEST_LIMIT_GLOBAL,
            export_run_expiry: Settings::DEFAULT_EXPORT_RUN_EXPIRY,
        }
    }
}

/// What start-up produced, for the caller to report.
pub struct Started {
    pub state: AppState,
    /// The admin token, when it was generated by this start (print it once).
    pub new_admin_token: Option<String>,
    pub admin_token_path: PathBuf,
    pub backend: &'static str,
}

const KEY_CHECKS: &str = "key_checks";
const BOOTSTRAP_TOKEN: &str = "bootstrap_admin_token_id";

pub async fn start(settings: &Settings) -> anyhow::Result<Started> {
    if settings.test_limit_per_tenant == 0 || settings.test_limit_global == 0 {
        bail!("the connection test limits must be at least 1");
    }
    create_private_dir(&settings.data_dir)?;
    let key_path = settings.data_dir.join("master.key");
    let (keys, _created) = KeyRing::load_or_create(&key_path)
        .with_context(|| format!("cannot open the master key ring {}", key_path.display()))?;
    let url = match &settings.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", settings.data_dir.join("patchbay.db").display()),
    };
    let store = SqlStore::connect(&url).await.context("cannot open the database")?;
    let backend = store.backend_name();
    let recordings: Arc<dyn RecordingStore> = Arc::new(store.clone());
    // SQLite in the data dir has one writer, this process, so reads can be served from
    // memory. PostgreSQL may be shared by several nodes and is always read.
    let store: Arc<dyn Store> = match backend {
        "sqlite" => Arc::new(CachedStore::new(store)),
        _ => Arc::new(store),
    };
    check_keys(store.as_ref(), &keys, &key_path).await?;

    let mut vendors = VendorUrls::default();
    for (name, url) in &settings.vendor_urls {
        vendors.set(name, url.clone()).map_err(anyhow::Error::msg)?;
    }
    let outbound = Outbound {
        egress: Egress::new(settings.egress.clone()).context("cannot set up outbound connections")?,
        connectors: Registry::new(),
        vendors,
        public_url: settings.public_url.clone(),
        test_concurrency: 64,
        slots: TestSlots::new(settings.test_limit_per_tenant, settings.test_limit_global),
    };

    let node = crate::export::node_id(&settings.data_dir).context("cannot read or write the node id")?;
    let admin_token_path = settings.data_dir.join("admin-token");
    let new_admin_token = bootstrap_admin(store.as_ref(), settings.admin_token.as_deref(), &admin_token_path).await?;
    let feeds = patchbay_feeds::Supervisor::new(
        outbound.egress.clone(),
        patchbay_feeds::LiveState::new(patchbay_feeds::Limits::default()),
    );
    let state = AppState {
        store,
        keys: Arc::new(Keys::new(keys, key_path)),
        catalog: patchbay_catalog::catalog(),
        outbound: Arc::new(outbound),
        metrics: Arc::new(crate::metrics::Metrics::new()),
        feeds,
        recordings,
        exporter: Arc::new(crate::export::Exporter::new(node, &settings.data_dir, settings.export_run_expiry)),
        http: settings.http,
        spool: settings.recordings_spool.clone(),
    };
    crate::feeds::reconcile(&state).await.context("cannot start the feeds")?;
    crate::feeds::spawn_reconciler(state.clone());
    crate::export::start(&state).await.context("cannot start the recording export scheduler")?;
    if let Some(spool) = &settings.recordings_spool {
        if !spool.is_dir() {
            bail!("the recordings spool {} is not a folder", spool.display());
        }
        crate::spool::spawn(state.clone(), spool.clone());
    }
    Ok(Started { state, new_admin_token, admin_token_path, backend })
}

/// The data dir holds the key ring, the database and call audio: only the service's user
/// may enter it. An existing dir that others could read is tightened (and said so).
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    }
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make the data dir {} private (mode 0700)", dir.display()))?;
        tracing::warn!(dir = %dir.display(), was = format!("{mode:o}"), "made the data dir private (mode 0700)");
    }
    Ok(())
}

/// The stored check value of each key, base64, by key id.
async fn key_checks(store: &dyn Store) -> anyhow::Result<BTreeMap<u32, String>> {
    match store.get_meta(KEY_CHECKS).await? {
        Some(json) => serde_json::from_str(&json).context("the stored key checks are corrupt"),
        None => Ok(BTreeMap::new()),
    }
}

/// Each key of the ring seals a known value into the database the first time it is seen;
/// later starts must open it. A ring that does not belong to this database, or lacks a key
/// that still seals values, fails here with a message that says what to do, instead of
/// failing on the first secret read.
async fn check_keys(store: &dyn Store, keys: &KeyRing, key_path: &Path) -> anyhow::Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut checks = key_checks(store).await?;
    for (id, values) in store.secrets_by_key_counts().await? {
        if !keys.key_ids().contains(&id) {
            bail!(
                "the master key ring {} lacks key {id}, which seals {values} secret values in this database; restore the key ring file that belongs to this database",
                key_path.display()
            );
        }
    }
    for (id, blob) in &checks {
        if !keys.key_ids().contains(id) {
            bail!(
                "the master key ring {} lacks key {id}, which this database uses; restore the key ring file that belongs to this database",
                key_path.display()
            );
        }
        let blob = b64.decode(blob).context("a stored key check is not base64")?;
        keys.verify_key_check(*id, &blob)
            .with_context(|| format!("the master key ring {} does not match this database", key_path.display()))?;
    }
    let mut changed = false;
    for id in keys.key_ids() {
        if let std::collections::btree_map::Entry::Vacant(slot) = checks.entry(id) {
            slot.insert(b64.encode(keys.key_check(id)?));
            changed = true;
        }
    }
    if changed {
        store.set_meta(KEY_CHECKS, &serde_json::to_string(&checks)?).await?;
    }
    Ok(())
}

/// Makes sure a service-provider admin token exists: the one from `PATCHBAY_ADMIN_TOKEN`,
/// else the one in `DIR/admin-token`, else a new one written there (mode 0600). A replaced
/// bootstrap token is revoked. Returns the token when it was generated now.
async fn bootstrap_admin(store: &dyn Store, configured: Option<&str>, path: &Path) -> anyhow::Result<Option<String>> {
    let (token, generated) = match configured {
        Some(t) if t.trim().len() < 16 => bail!("PATCHBAY_ADMIN_TOKEN must be at least 16 characters"),
        Some(t) => (t.trim().to_owned(), false),
        None => match std::fs::read_to_string(path) {
            Ok(t) if !t.trim().is_empty() => (t.trim().to_owned(), false),
            Ok(_) | Err(_) => {
                let t = generate_token();
                write_private(path, &t)?;
                (t, true)
            }
        },
    };
    let hash = hash_token(&token);
    if store.find_token(&hash).await?.is_some() {
        return Ok(None);
    }
    if let Some(old) = store.get_meta(BOOTSTRAP_TOKEN).await? {
        if let Ok(old) = old.parse() {
            match store.revoke_token(old).await {
                Ok(()) | Err(patchbay_store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let id = uuid::Uuid::now_v7();
    store
        .create_token(&NewToken {
            id,
            name: "bootstrap admin".into(),
            role: Role::SpAdmin.as_str().into(),
            tenant_id: None,
            hash,
        })
        .await?;
    store.set_meta(BOOTSTRAP_TOKEN, &id.to_string()).await?;
    Ok(generated.then_some(token))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}
