//! The ring in use, its leases, the key checks in the database, rotation, retirement and
//! resealing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use base64::Engine;
use chrono::{DateTime, Utc};
use patchbay_store::{Reseal, SecretCursor, Store, StoreError};
use patchbay_vault::KeyRing;
use tokio::sync::{oneshot, Mutex};
use uuid::Uuid;

use crate::lease::context;
use crate::{KeyRingError, RetireError};

const KEY_CHECKS: &str = "key_checks";
/// When a rotation added each key, by key id. Keys a ring was created with, and keys
/// rotated in before patchbay recorded this, have no entry.
const KEY_ROTATIONS: &str = "key_rotations";

/// The master key ring file, read (or created) before the database is opened.
pub struct RingFile {
    ring: KeyRing,
    path: PathBuf,
}

impl RingFile {
    /// Reads the ring at `path`, or creates one with a fresh key there (mode 0600).
    pub fn load_or_create(path: &Path) -> Result<RingFile, KeyRingError> {
        let (ring, _created) =
            KeyRing::load_or_create(path).map_err(|source| KeyRingError::Open { path: path.to_owned(), source })?;
        Ok(RingFile { ring, path: path.to_owned() })
    }
}

/// The master key ring in use, swapped while requests run (key rotation and retirement),
/// and every operation on the sealed secrets of accounts.
///
/// A request that reads or writes sealed values takes a [`KeyLease`] before it reads them
/// and keeps it until its last use of them: a snapshot of the ring that never blocks and
/// never changes under it. A new ring is installed at once, then the change waits until
/// every lease of the ring before has ended. Rotation installs the new key inactive first,
/// so every request that can read a value sealed with the new key knows it, and returns
/// only once no request seals with the old key any more. Keep leases short: never across an
/// outbound call, or rotation waits for it.
pub struct AccountSecrets {
    current: std::sync::RwLock<Arc<Generation>>,
    /// Serializes ring changes (ring file, key checks); holds the signal that the last lease
    /// of the current ring has ended.
    changes: Mutex<oneshot::Receiver<()>>,
    path: PathBuf,
    store: Arc<dyn Store>,
}

/// One installed ring. Its sender drops with the last lease, which wakes a waiting change.
struct Generation {
    ring: KeyRing,
    _released: oneshot::Sender<()>,
}

/// A snapshot of the ring (see [`AccountSecrets`]): what a request seals and opens with.
pub struct KeyLease(Arc<Generation>);

impl KeyLease {
    pub(crate) fn ring(&self) -> &KeyRing {
        &self.0.ring
    }

    /// The key new values are sealed with.
    pub fn active_key_id(&self) -> u32 {
        self.ring().active_key_id()
    }

    /// Every key of the ring, ascending.
    pub fn key_ids(&self) -> Vec<u32> {
        self.ring().key_ids()
    }
}

/// What one resealing pass did (see [`AccountSecrets::reseal_batch`]).
#[derive(Debug)]
pub struct ResealBatch {
    pub active: u32,
    /// Values sealed again under the active key.
    pub resealed: u64,
    /// Values an account write changed while they were resealed; the write wins.
    pub skipped: u64,
    /// Values that do not open with this ring: they stay as they are.
    pub failed: Vec<Unopened>,
    /// Values still sealed by a key other than the active one, after this pass.
    pub remaining: i64,
    /// Where the next pass continues; `None` when this one reached the end.
    pub next: Option<SecretCursor>,
}

/// A stored value that resealing could not open.
#[derive(Debug)]
pub struct Unopened {
    pub tenant: String,
    pub account: Uuid,
    pub field: String,
    pub key_id: u32,
    pub error: String,
}

impl AccountSecrets {
    /// Checks `ring` against the key checks of `store` (see [`check_keys`]) and holds it.
    pub async fn start(ring: RingFile, store: Arc<dyn Store>) -> Result<AccountSecrets, KeyRingError> {
        check_keys(store.as_ref(), &ring.ring, &ring.path).await?;
        let (released, signal) = oneshot::channel();
        Ok(AccountSecrets {
            current: std::sync::RwLock::new(Arc::new(Generation { ring: ring.ring, _released: released })),
            changes: Mutex::new(signal),
            path: ring.path,
            store,
        })
    }

    /// The current ring, unchanged for as long as the lease is held.
    pub async fn lease(&self) -> KeyLease {
        KeyLease(self.current.read().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// Adds a new key and makes it the active one: written to the ring file first (so a
    /// restart keeps it), installed inactive, then active, then its check value recorded.
    /// Returns the new key's id.
    pub async fn rotate(&self) -> Result<u32, KeyRingError> {
        let mut released = self.changes.lock().await;
        let mut next = self.lease().await.ring().clone();
        let previous = next.active_key_id();
        let id = next.add_key();
        next.save(&self.path).map_err(|source| KeyRingError::Write { path: self.path.clone(), source })?;
        let mut staged = next.clone();
        staged.set_active(previous)?;
        self.install(&mut released, staged).await;
        let check = next.key_check(id)?;
        self.install(&mut released, next).await;
        let mut checks = key_checks(self.store.as_ref()).await?;
        checks.insert(id, base64::engine::general_purpose::STANDARD.encode(check));
        save_checks(self.store.as_ref(), &checks).await?;
        let mut rotated = key_rotations(self.store.as_ref()).await?;
        rotated.insert(id, Utc::now());
        save_rotations(self.store.as_ref(), &rotated).await?;
        tracing::info!(key_id = id, previous_key_id = previous, "added a master key; new values are sealed with it");
        Ok(id)
    }

    /// Removes key `id` if it is not active and seals no value. Requests write values only
    /// under the active key (and reseal older values they keep), so none can bring the key
    /// back; requests that still hold the old ring can open what they read with it. The key
    /// check goes before the ring file: a file that still holds the key after a crash is fine.
    pub async fn retire(&self, id: u32) -> Result<(), RetireError> {
        let mut released = self.changes.lock().await;
        let mut next = self.lease().await.ring().clone();
        if id == next.active_key_id() {
            return Err(RetireError::Active(id));
        }
        if !next.key_ids().contains(&id) {
            return Err(RetireError::Unknown(id));
        }
        let counts = self.store.secrets_by_key_counts().await.map_err(KeyRingError::from)?;
        if let Some(&(_, values)) = counts.iter().find(|(key, _)| *key == id) {
            return Err(RetireError::InUse { id, values });
        }
        next.remove_key(id).map_err(KeyRingError::from)?;
        self.forget(&next, id).await?;
        self.install(&mut released, next).await;
        tracing::info!(key_id = id, "retired a master key");
        Ok(())
    }

    /// Seals up to `batch` values still under older keys again under the active key,
    /// starting after `after`. Each replacement only lands if the stored value is still the
    /// one that was read, so a concurrent account write is never overwritten.
    pub async fn reseal_batch(&self, after: Option<&SecretCursor>, batch: u32) -> Result<ResealBatch, StoreError> {
        let lease = self.lease().await;
        let active = lease.active_key_id();
        let found = self.store.secrets_sealed_by_other_keys(active, after, i64::from(batch)).await?;
        let mut reseals = Vec::with_capacity(found.len());
        let mut failed = Vec::new();
        for stored in &found {
            let account = stored.account_id.to_string();
            let ctx = context(&stored.tenant_id, &account, &stored.secret.field);
            match lease.ring().reseal(&ctx, &stored.secret.sealed) {
                Ok(sealed) => reseals.push(Reseal { current: stored.clone(), key_id: active, sealed }),
                Err(e) => failed.push(Unopened {
                    tenant: stored.tenant_id.clone(),
                    account: stored.account_id,
                    field: stored.secret.field.clone(),
                    key_id: stored.secret.key_id,
                    error: e.to_string(),
                }),
            }
        }
        let resealed = self.store.replace_sealed(&reseals).await?;
        drop(lease);
        let remaining =
            self.store.secrets_by_key_counts().await?.iter().filter(|(id, _)| *id != active).map(|(_, n)| n).sum();
        let next = match found.last() {
            Some(last) if found.len() == batch as usize => {
                Some(SecretCursor { account_id: last.account_id, field: last.secret.field.clone() })
            }
            _ => None,
        };
        Ok(ResealBatch { active, resealed, skipped: reseals.len() as u64 - resealed, failed, remaining, next })
    }

    /// When a rotation added each key, by key id (see [`KEY_ROTATIONS`]).
    pub async fn rotation_times(&self) -> Result<BTreeMap<u32, DateTime<Utc>>, KeyRingError> {
        key_rotations(self.store.as_ref()).await
    }

    /// Removes key `id`'s check and rotation time, then writes `next` (the ring without it)
    /// to the ring file.
    async fn forget(&self, next: &KeyRing, id: u32) -> Result<(), KeyRingError> {
        let mut checks = key_checks(self.store.as_ref()).await?;
        if checks.remove(&id).is_some() {
            save_checks(self.store.as_ref(), &checks).await?;
        }
        let mut rotated = key_rotations(self.store.as_ref()).await?;
        if rotated.remove(&id).is_some() {
            save_rotations(self.store.as_ref(), &rotated).await?;
        }
        next.save(&self.path).map_err(|source| KeyRingError::Write { path: self.path.clone(), source })
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

/// The stored check value of each key, base64, by key id.
async fn key_checks(store: &dyn Store) -> Result<BTreeMap<u32, String>, KeyRingError> {
    match store.get_meta(KEY_CHECKS).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| KeyRingError::CorruptChecks(format!("the stored key checks are corrupt: {e}"))),
        None => Ok(BTreeMap::new()),
    }
}

async fn save_checks(store: &dyn Store, checks: &BTreeMap<u32, String>) -> Result<(), KeyRingError> {
    let json = serde_json::to_string(checks)
        .map_err(|e| KeyRingError::CorruptChecks(format!("the key checks cannot be written: {e}")))?;
    Ok(store.set_meta(KEY_CHECKS, &json).await?)
}

async fn key_rotations(store: &dyn Store) -> Result<BTreeMap<u32, DateTime<Utc>>, KeyRingError> {
    match store.get_meta(KEY_ROTATIONS).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| KeyRingError::CorruptChecks(format!("the stored key rotation times are corrupt: {e}"))),
        None => Ok(BTreeMap::new()),
    }
}

async fn save_rotations(store: &dyn Store, rotated: &BTreeMap<u32, DateTime<Utc>>) -> Result<(), KeyRingError> {
    let json = serde_json::to_string(rotated)
        .map_err(|e| KeyRingError::CorruptChecks(format!("the key rotation times cannot be written: {e}")))?;
    Ok(store.set_meta(KEY_ROTATIONS, &json).await?)
}

/// Each key of the ring seals a known value into the database the first time it is seen;
/// later starts must open it. A ring that does not belong to this database, or lacks a key
/// that still seals values, fails here with a message that says what to do, instead of
/// failing on the first secret read.
async fn check_keys(store: &dyn Store, keys: &KeyRing, key_path: &Path) -> Result<(), KeyRingError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut checks = key_checks(store).await?;
    for (id, values) in store.secrets_by_key_counts().await? {
        if !keys.key_ids().contains(&id) {
            return Err(KeyRingError::LacksSealingKey { path: key_path.to_owned(), id, values });
        }
    }
    for (id, blob) in &checks {
        if !keys.key_ids().contains(id) {
            return Err(KeyRingError::LacksCheckedKey { path: key_path.to_owned(), id: *id });
        }
        let blob =
            b64.decode(blob).map_err(|_| KeyRingError::CorruptChecks("a stored key check is not base64".into()))?;
        keys.verify_key_check(*id, &blob)
            .map_err(|source| KeyRingError::Mismatch { path: key_path.to_owned(), source })?;
    }
    let mut changed = false;
    for id in keys.key_ids() {
        if let std::collections::btree_map::Entry::Vacant(slot) = checks.entry(id) {
            slot.insert(b64.encode(keys.key_check(id)?));
            changed = true;
        }
    }
    if changed {
        save_checks(store, &checks).await?;
    }
    Ok(())
}
