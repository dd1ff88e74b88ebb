use std::path::PathBuf;

use patchbay_store::StoreError;
use patchbay_vault::VaultError;
use uuid::Uuid;

/// A stored value that does not open with the ring in use (another ring, a value copied
/// from another row, damaged bytes). Names the account and field, never the value.
#[derive(Debug, thiserror::Error)]
#[error("cannot open secret {field} of account {account}: {error}")]
pub struct SecretsError {
    pub account: Uuid,
    pub field: String,
    pub error: VaultError,
}

/// Why the key ring cannot be opened, checked against the database, or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("cannot open the master key ring {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: VaultError,
    },
    #[error("cannot write the master key ring {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: VaultError,
    },
    #[error(
        "the master key ring {} lacks key {id}, which seals {values} secret values in this database; restore the key ring file that belongs to this database",
        .path.display()
    )]
    LacksSealingKey { path: PathBuf, id: u32, values: i64 },
    #[error(
        "the master key ring {} lacks key {id}, which this database uses; restore the key ring file that belongs to this database",
        .path.display()
    )]
    LacksCheckedKey { path: PathBuf, id: u32 },
    #[error("the master key ring {} does not match this database", .path.display())]
    Mismatch {
        path: PathBuf,
        #[source]
        source: VaultError,
    },
    #[error("{0}")]
    CorruptChecks(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
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
    Failed(#[from] KeyRingError),
}
