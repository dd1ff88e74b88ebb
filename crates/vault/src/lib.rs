//! Owns sealing and opening of secret values (XChaCha20-Poly1305) and the master key ring file.
//! Must not touch a database or the network: callers store the sealed bytes and choose where the
//! key ring file lives.
//!
//! # Sealed values
//!
//! [`KeyRing::seal`] encrypts with the ring's active key and returns
//!
//! ```text
//! [version 0x01][key id: u32 big-endian][nonce: 24 random bytes][ciphertext][tag: 16 bytes]
//! ```
//!
//! The [`SecretContext`] (tenant, account, field) is bound as associated data, so a sealed value
//! copied to another tenant, account or field fails to open. The associated data is the domain
//! tag `patchbay-secret/v1` followed by each of the three parts, each prefixed with its length
//! as a big-endian `u64`.
//!
//! # Key ring file
//!
//! A UTF-8 text file, mode `0600`, one directive per line:
//!
//! ```text
//! # patchbay master key ring; keep secret, back it up with the database
//! active 2
//! key 1 <standard base64 of 32 bytes>
//! key 2 <standard base64 of 32 bytes>
//! ```
//!
//! - `key <id> <base64>`: a 256-bit key; `<id>` is a decimal `u32`, unique in the file.
//! - `active <id>`: exactly once; the key new values are sealed with. It must be in the file.
//! - Blank lines and lines starting with `#` are ignored; words are separated by whitespace.
//!
//! [`KeyRing::load`] refuses a file whose permissions are wider than `0600`.
//! [`KeyRing::save`] writes a temporary file (created with mode `0600`) in the same directory,
//! fsyncs it, renames it over the target and fsyncs the directory.

mod error;
mod keyfile;
mod ring;
mod secret;

pub use error::VaultError;
pub use ring::{sealed_key_id, KeyRing};
pub use secret::{SecretContext, SecretString};
