use std::collections::BTreeMap;
use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use crate::{SecretContext, SecretString, VaultError};

pub(crate) const KEY_LEN: usize = 32;
const VERSION: u8 = 0x01;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_CHECK_DOMAIN: &[u8] = b"patchbay-key-check/v1";
const KEY_CHECK_PLAINTEXT: &[u8] = b"patchbay master key check";

/// 256 bits of key material on the heap (moves never copy it), zeroized on drop; a clone is
/// a second allocation, zeroized on its own drop. Invariant: exactly [`KEY_LEN`] bytes.
#[derive(Clone)]
pub(crate) struct MasterKey(Zeroizing<Vec<u8>>);

impl MasterKey {
    fn random() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; KEY_LEN]);
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Takes `bytes` if it is a whole key, otherwise returns its length.
    pub(crate) fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Result<Self, usize> {
        if bytes.len() == KEY_LEN {
            Ok(Self(bytes))
        } else {
            Err(bytes.len())
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }
}

/// One or more master keys, each with a `u32` id; one of them is active (used to seal).
/// `Debug` shows key ids only. Cloning copies the keys (for a holder that builds the next ring
/// beside the one in use, then swaps it in).
#[derive(Clone)]
pub struct KeyRing {
    pub(crate) keys: BTreeMap<u32, MasterKey>,
    pub(crate) active: u32,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing").field("active", &self.active).field("key_ids", &self.key_ids()).finish()
    }
}

impl KeyRing {
    /// A ring holding one fresh random key, id 1, active.
    pub fn generate() -> Self {
        Self { keys: BTreeMap::from([(1, MasterKey::random())]), active: 1 }
    }

    pub fn active_key_id(&self) -> u32 {
        self.active
    }

    /// All key ids, ascending.
    pub fn key_ids(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// Adds a fresh random key with the next id and makes it active (key rotation).
    /// Values sealed before stay readable until their key is removed; see [`KeyRing::reseal`].
    pub fn add_key(&mut self) -> u32 {
        let last = self.keys.keys().next_back().copied().unwrap_or(0);
        let id = last.checked_add(1).unwrap_or_else(|| {
            (1..u32::MAX).find(|id| !self.keys.contains_key(id)).expect("a key ring cannot hold u32::MAX keys")
        });
        self.keys.insert(id, MasterKey::random());
        self.active = id;
        id
    }

    /// Makes key `id` of the ring the one new values are sealed with.
    pub fn set_active(&mut self, id: u32) -> Result<(), VaultError> {
        self.key(id)?;
        self.active = id;
        Ok(())
    }

    /// Removes a retired key. Values still sealed with it can no longer be opened,
    /// so reseal them first. The active key cannot be removed.
    pub fn remove_key(&mut self, id: u32) -> Result<(), VaultError> {
        if id == self.active {
            return Err(VaultError::CannotRemoveActiveKey(id));
        }
        match self.keys.remove(&id) {
            Some(_) => Ok(()),
            None => Err(VaultError::UnknownKey(id)),
        }
    }

    /// Seals `plaintext` for `ctx` with the active key.
    pub fn seal(&self, ctx: &SecretContext<'_>, plaintext: &str) -> Vec<u8> {
        seal_with(self.active, &self.keys[&self.active], &ctx.aad(), plaintext.as_bytes())
    }

    /// Opens a value sealed for `ctx` with any key of the ring.
    pub fn open(&self, ctx: &SecretContext<'_>, sealed: &[u8]) -> Result<SecretString, VaultError> {
        let sealed = Sealed::parse(sealed)?;
        let plaintext = sealed.open(self.key(sealed.key_id)?, &ctx.aad()).ok_or(VaultError::WrongKeyOrContext)?;
        match String::from_utf8(plaintext) {
            Ok(text) => Ok(SecretString::from(text)),
            Err(err) => {
                err.into_bytes().zeroize();
                Err(VaultError::Malformed("plaintext is not UTF-8"))
            }
        }
    }

    /// Opens a value with whichever key sealed it and seals it again with the active key.
    pub fn reseal(&self, ctx: &SecretContext<'_>, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let secret = self.open(ctx, sealed)?;
        Ok(self.seal(ctx, secret.expose()))
    }

    /// A check value for key `key_id`: a fixed plaintext sealed under that key. Store it next to
    /// the data and pass it to [`KeyRing::verify_key_check`] at start-up to detect a wrong key ring.
    pub fn key_check(&self, key_id: u32) -> Result<Vec<u8>, VaultError> {
        let key = self.key(key_id)?;
        Ok(seal_with(key_id, key, &key_check_aad(key_id), KEY_CHECK_PLAINTEXT))
    }

    /// Confirms that key `key_id` of this ring made `check` (see [`KeyRing::key_check`]).
    pub fn verify_key_check(&self, key_id: u32, check: &[u8]) -> Result<(), VaultError> {
        let key = self.key(key_id)?;
        let sealed = Sealed::parse(check)?;
        if sealed.key_id != key_id {
            return Err(VaultError::Malformed("check value belongs to a different key id"));
        }
        match sealed.open(key, &key_check_aad(key_id)) {
            Some(plaintext) if plaintext == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(VaultError::WrongMasterKey { key_id }),
        }
    }

    fn key(&self, id: u32) -> Result<&MasterKey, VaultError> {
        self.keys.get(&id).ok_or(VaultError::UnknownKey(id))
    }
}

/// The id of the key that sealed `sealed`, without opening it.
pub fn sealed_key_id(sealed: &[u8]) -> Result<u32, VaultError> {
    Sealed::parse(sealed).map(|sealed| sealed.key_id)
}

fn key_check_aad(key_id: u32) -> Vec<u8> {
    [KEY_CHECK_DOMAIN, &key_id.to_be_bytes()].concat()
}

fn seal_with(key_id: u32, key: &MasterKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ciphertext = key
        .cipher()
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .expect("XChaCha20-Poly1305 only refuses plaintexts larger than 256 GiB");
    let mut sealed = Vec::with_capacity(1 + 4 + NONCE_LEN + ciphertext.len());
    sealed.push(VERSION);
    sealed.extend_from_slice(&key_id.to_be_bytes());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// A sealed value split into its parts.
struct Sealed<'a> {
    key_id: u32,
    nonce: &'a [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

impl<'a> Sealed<'a> {
    fn parse(sealed: &'a [u8]) -> Result<Self, VaultError> {
        let (&version, rest) = sealed.split_first().ok_or(VaultError::Malformed("value is empty"))?;
        if version != VERSION {
            return Err(VaultError::Malformed("unsupported format version"));
        }
        let truncated = || VaultError::Malformed("value is truncated");
        let (key_id, rest) = rest.split_first_chunk::<4>().ok_or_else(truncated)?;
        let (nonce, ciphertext) = rest
            .split_first_chunk::<NONCE_LEN>()
            .filter(|(_, ciphertext)| ciphertext.len() >= TAG_LEN)
            .ok_or_else(truncated)?;
        Ok(Self { key_id: u32::from_be_bytes(*key_id), nonce, ciphertext })
    }

    /// The plaintext, or `None` if `key` and `aad` do not authenticate the value.
    fn open(&self, key: &MasterKey, aad: &[u8]) -> Option<Vec<u8>> {
        key.cipher().decrypt(XNonce::from_slice(self.nonce), Payload { msg: self.ciphertext, aad }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: &str = "sentinel-Pa55w0rd!";

    fn ctx() -> SecretContext<'static> {
        SecretContext { tenant: "acme", account: "genesys-prod", field: "client_secret" }
    }

    #[test]
    fn sealed_value_opens_to_the_same_plaintext() {
        let ring = KeyRing::generate();
        for plaintext in [SENTINEL, "", "ünïcødé 🔑"] {
            let sealed = ring.seal(&ctx(), plaintext);
            assert_eq!(ring.open(&ctx(), &sealed).unwrap().expose(), plaintext);
        }
    }

    #[test]
    fn sealed_value_has_the_documented_layout() {
        let ring = KeyRing::generate();
        let sealed = ring.seal(&ctx(), SENTINEL);
        assert_eq!(sealed[0], 0x01);
        assert_eq!(sealed[1..5], 1u32.to_be_bytes());
        assert_eq!(sealed.len(), 1 + 4 + 24 + SENTINEL.len() + 16);
        assert!(!sealed.windows(SENTINEL.len()).any(|w| w == SENTINEL.as_bytes()));
    }

    #[test]
    fn value_does_not_open_for_another_tenant_account_or_field() {
        let ring = KeyRing::generate();
        let sealed = ring.seal(&ctx(), SENTINEL);
        let others = [
            SecretContext { tenant: "globex", ..ctx() },
            SecretContext { account: "genesys-test", ..ctx() },
            SecretContext { field: "client_id", ..ctx() },
        ];
        for other in others {
            assert!(
                matches!(ring.open(&other, &sealed), Err(VaultError::WrongKeyOrContext)),
                "{other:?} must not open the value"
            );
        }
    }

    #[test]
    fn changing_any_byte_makes_open_fail() {
        let ring = KeyRing::generate();
        let sealed = ring.seal(&ctx(), SENTINEL);
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            let result = ring.open(&ctx(), &tampered);
            match i {
                0 => assert!(matches!(result, Err(VaultError::Malformed(_)))),
                1..=4 => assert!(matches!(result, Err(VaultError::UnknownKey(_)))),
                _ => assert!(matches!(result, Err(VaultError::WrongKeyOrContext)), "byte {i}"),
            }
        }
    }

    #[test]
    fn truncated_or_unversioned_values_are_malformed() {
        let ring = KeyRing::generate();
        let sealed = ring.seal(&ctx(), "");
        for len in 0..sealed.len() {
            assert!(matches!(ring.open(&ctx(), &sealed[..len]), Err(VaultError::Malformed(_))), "length {len}");
        }
        let mut future = sealed.clone();
        future[0] = 0x02;
        assert!(matches!(sealed_key_id(&future), Err(VaultError::Malformed("unsupported format version"))));
    }

    #[test]
    fn value_sealed_with_a_key_not_in_the_ring_reports_its_id() {
        let mut ring = KeyRing::generate();
        ring.add_key();
        let sealed = ring.seal(&ctx(), SENTINEL);
        let older = KeyRing::generate();
        let err = older.open(&ctx(), &sealed).unwrap_err();
        assert!(matches!(err, VaultError::UnknownKey(2)));
        assert_eq!(err.to_string(), "key 2 is not in the master key ring");
    }

    #[test]
    fn value_does_not_open_with_a_different_ring() {
        let sealed = KeyRing::generate().seal(&ctx(), SENTINEL);
        let err = KeyRing::generate().open(&ctx(), &sealed).unwrap_err();
        assert!(matches!(err, VaultError::WrongKeyOrContext));
        let message = err.to_string();
        assert!(message.contains("different tenant, account or field"));
        assert!(message.contains("different key"));
    }

    #[test]
    fn sealing_the_same_value_twice_gives_different_bytes() {
        let ring = KeyRing::generate();
        let a = ring.seal(&ctx(), SENTINEL);
        let b = ring.seal(&ctx(), SENTINEL);
        assert_ne!(a, b);
        assert_ne!(a[5..29], b[5..29], "nonces must differ");
    }

    #[test]
    fn sealed_key_id_reads_the_header_without_a_ring() {
        let mut ring = KeyRing::generate();
        let first = ring.seal(&ctx(), SENTINEL);
        ring.add_key();
        let second = ring.seal(&ctx(), SENTINEL);
        assert_eq!(sealed_key_id(&first).unwrap(), 1);
        assert_eq!(sealed_key_id(&second).unwrap(), 2);
    }

    #[test]
    fn rotation_reseals_with_the_new_key_and_retires_the_old_one() {
        let mut ring = KeyRing::generate();
        let old = ring.seal(&ctx(), SENTINEL);

        assert_eq!(ring.add_key(), 2);
        assert_eq!(ring.active_key_id(), 2);
        assert_eq!(ring.key_ids(), [1, 2]);
        assert_eq!(ring.open(&ctx(), &old).unwrap().expose(), SENTINEL);

        let new = ring.reseal(&ctx(), &old).unwrap();
        assert_eq!(sealed_key_id(&new).unwrap(), 2);

        ring.remove_key(1).unwrap();
        assert_eq!(ring.key_ids(), [2]);
        assert_eq!(ring.open(&ctx(), &new).unwrap().expose(), SENTINEL);
        assert!(matches!(ring.open(&ctx(), &old), Err(VaultError::UnknownKey(1))));
    }

    #[test]
    fn reseal_keeps_the_context_binding() {
        let mut ring = KeyRing::generate();
        let old = ring.seal(&ctx(), SENTINEL);
        ring.add_key();
        let other = SecretContext { tenant: "globex", ..ctx() };
        assert!(matches!(ring.reseal(&other, &old), Err(VaultError::WrongKeyOrContext)));
    }

    #[test]
    fn active_key_cannot_be_removed_and_unknown_keys_are_reported() {
        let mut ring = KeyRing::generate();
        ring.add_key();
        assert!(matches!(ring.remove_key(2), Err(VaultError::CannotRemoveActiveKey(2))));
        assert!(matches!(ring.remove_key(7), Err(VaultError::UnknownKey(7))));
        assert_eq!(ring.key_ids(), [1, 2]);
    }

    #[test]
    fn new_key_ids_follow_the_highest_id_even_after_removal() {
        let mut ring = KeyRing::generate();
        ring.add_key();
        ring.add_key();
        ring.remove_key(1).unwrap();
        ring.remove_key(2).unwrap();
        assert_eq!(ring.add_key(), 4);
    }

    #[test]
    fn a_key_of_the_ring_can_be_made_active_again() {
        let mut ring = KeyRing::generate();
        ring.add_key();
        ring.set_active(1).unwrap();
        assert_eq!(sealed_key_id(&ring.seal(&ctx(), SENTINEL)).unwrap(), 1);
        assert!(matches!(ring.set_active(3), Err(VaultError::UnknownKey(3))));
        assert_eq!(ring.active_key_id(), 1);
    }

    #[test]
    fn a_clone_changes_independently_of_its_original() {
        let ring = KeyRing::generate();
        let sealed = ring.seal(&ctx(), SENTINEL);
        let mut next = ring.clone();
        next.add_key();
        assert_eq!(ring.key_ids(), [1]);
        assert_eq!((next.key_ids(), next.active_key_id()), (vec![1, 2], 2));
        assert_eq!(next.open(&ctx(), &sealed).unwrap().expose(), SENTINEL);
        assert!(matches!(ring.open(&ctx(), &next.seal(&ctx(), SENTINEL)), Err(VaultError::UnknownKey(2))));
    }

    #[test]
    fn debug_output_shows_key_ids_only() {
        let mut ring = KeyRing::generate();
        ring.add_key();
        let debug = format!("{ring:?}");
        assert_eq!(debug, "KeyRing { active: 2, key_ids: [1, 2] }");
        for key in ring.keys.values() {
            assert!(!debug.contains(&format!("{:?}", key.bytes())));
        }

        let secret = ring.open(&ctx(), &ring.seal(&ctx(), SENTINEL)).unwrap();
        assert!(!format!("{secret:?}").contains(SENTINEL));
        assert!(!format!("{secret}").contains(SENTINEL));
    }

    #[test]
    fn key_check_verifies_with_its_own_ring() {
        let mut ring = KeyRing::generate();
        let check = ring.key_check(1).unwrap();
        ring.add_key();
        ring.verify_key_check(1, &check).unwrap();
        let check2 = ring.key_check(2).unwrap();
        ring.verify_key_check(2, &check2).unwrap();
    }

    #[test]
    fn key_check_detects_a_different_ring() {
        let check = KeyRing::generate().key_check(1).unwrap();
        let err = KeyRing::generate().verify_key_check(1, &check).unwrap_err();
        assert!(matches!(err, VaultError::WrongMasterKey { key_id: 1 }));
        assert_eq!(
            err.to_string(),
            "the master key file does not match this database: key 1 cannot open its check \
             value; restore the key ring file that belongs to this database"
        );
    }

    #[test]
    fn key_check_is_not_a_secret_of_any_context() {
        let ring = KeyRing::generate();
        let check = ring.key_check(1).unwrap();
        assert!(matches!(ring.open(&ctx(), &check), Err(VaultError::WrongKeyOrContext)));
        let sealed = ring.seal(&ctx(), "patchbay master key check");
        assert!(matches!(ring.verify_key_check(1, &sealed), Err(VaultError::WrongMasterKey { key_id: 1 })));
    }

    #[test]
    fn key_check_for_a_missing_key_is_reported() {
        let mut ring = KeyRing::generate();
        ring.add_key();
        let check = ring.key_check(1).unwrap();
        ring.remove_key(1).unwrap();
        assert!(matches!(ring.key_check(1), Err(VaultError::UnknownKey(1))));
        assert!(matches!(ring.verify_key_check(1, &check), Err(VaultError::UnknownKey(1))));
        assert!(matches!(ring.verify_key_check(2, &check), Err(VaultError::Malformed(_))));
    }
}
