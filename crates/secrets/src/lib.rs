//! The account-secrets service: the one place that holds the master key ring at run time,
//! builds the sealing contexts (tenant, account id, field) and seals, opens and reseals the
//! secret values of integration accounts.
//!
//! [`AccountSecrets`] owns the ring in use and its leases ([`KeyLease`]: a fixed snapshot a
//! request keeps until its last use of sealed values), key rotation and retirement with the
//! key checks in the database, and resealing values still under older keys. A lease seals
//! the secrets of an account write and hands back the clear values it sealed them from, so
//! nobody opens what was just sealed.
//!
//! Must not: answer HTTP, decide who may see what, or let a secret reach a log, an error
//! message or a report (errors name tenants, accounts and fields, never values). No other
//! crate builds a `SecretContext` or holds a `KeyRing` at run time: the server and the
//! engines do not depend on the vault.

mod error;
mod keys;
mod lease;

pub use error::{KeyRingError, RetireError, SecretsError};
pub use keys::{AccountSecrets, KeyLease, ResealBatch, RingFile, Unopened};
pub use lease::{SealedWrite, SecretChange, TokenPurpose};
pub use patchbay_vault::SecretString;
