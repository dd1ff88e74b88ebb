//! What a request does with its lease: open an account's secrets, seal the secrets of an
//! account write (keeping what did not change), and reseal kept values under the active key.

use std::collections::BTreeMap;

use patchbay_catalog::{Provider, SecretOp, Validated};
use patchbay_store::{Account, SealedSecret};
use patchbay_vault::{SecretContext, SecretString};
use serde_json::{Map, Value};
use uuid::Uuid;

use base64::Engine;

use crate::{KeyLease, SecretsError};

/// What a sealed token handed to a client is for: part of its sealing context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// A connection test of a form's values, kept when exactly those values are saved.
    FormTest,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::FormTest => "form-test",
        }
    }
}

/// Where a sealed value belongs: the one place a context is built. Bound as associated
/// data, so a value sealed for one tenant, account and field opens for no other.
pub(crate) fn context<'a>(tenant: &'a str, account: &'a str, field: &'a str) -> SecretContext<'a> {
    SecretContext { tenant, account, field }
}

/// The secret part of a validated account input: which secret fields it sets (to the
/// value in `input`) or clears; a secret field it does not name keeps its stored value.
pub struct SecretChange<'a> {
    pub provider: &'a Provider,
    pub validated: &'a Validated,
    /// The input's properties, holding the clear values of the secrets it sets.
    pub input: &'a Map<String, Value>,
}

impl SecretChange<'_> {
    /// The clear value the input sets for a secret field.
    fn value(&self, field: &str) -> Option<&str> {
        match self.validated.secret_ops.get(field) {
            Some(SecretOp::Set) => self.input.get(field).and_then(Value::as_str),
            _ => None,
        }
    }
}

/// The sealed secrets of an account write, and the clear values they were sealed from (an
/// error when a value the write keeps does not open), for whoever runs the account.
pub struct SealedWrite {
    pub secrets: Vec<SealedSecret>,
    pub values: Result<BTreeMap<String, SecretString>, SecretsError>,
}

impl KeyLease {
    /// Opens every stored secret of `account`.
    pub fn open(&self, account: &Account) -> Result<BTreeMap<String, SecretString>, SecretsError> {
        account.secrets.iter().map(|s| Ok((s.field.clone(), self.open_one(account, s)?))).collect()
    }

    /// Opens one value sealed for `field` of `owner` (an account, or a subscription whose
    /// signing secret was sealed with its id) in `tenant`.
    pub fn open_sealed(&self, tenant: &str, owner: Uuid, secret: &SealedSecret) -> Result<SecretString, SecretsError> {
        let id = owner.to_string();
        self.ring().open(&context(tenant, &id, &secret.field), &secret.sealed).map_err(|error| SecretsError {
            account: owner,
            field: secret.field.clone(),
            error,
        })
    }

    fn open_one(&self, account: &Account, secret: &SealedSecret) -> Result<SecretString, SecretsError> {
        self.open_sealed(&account.tenant_id, account.id, secret)
    }

    /// The clear secret values an account has after `change` is applied over `stored`
    /// (none for a new account): the values the input sets, and the stored values of the
    /// secret fields it does not name (the only ones opened).
    pub fn values_after(
        &self,
        change: &SecretChange<'_>,
        stored: Option<&Account>,
    ) -> Result<BTreeMap<String, SecretString>, SecretsError> {
        let mut values = BTreeMap::new();
        for field in change.provider.secret_fields() {
            let value = match change.validated.secret_ops.get(&field.key) {
                Some(SecretOp::Set) => change.value(&field.key).map(SecretString::from),
                Some(SecretOp::Clear) => None,
                None => match stored.and_then(|a| a.secrets.iter().find(|s| s.field == field.key).map(|s| (a, s))) {
                    Some((account, kept)) => Some(self.open_one(account, kept)?),
                    None => None,
                },
            };
            if let Some(value) = value {
                values.insert(field.key.clone(), value);
            }
        }
        Ok(values)
    }

    /// Seals the secrets of a write of account `id`: new values sealed, unchanged values kept
    /// as stored (a value equal to the stored one keeps its sealed bytes, so re-sending it is
    /// no change). The clear values come from the input and the stored values, never from
    /// opening what was just sealed.
    pub fn seal_write(
        &self,
        tenant: &str,
        id: Uuid,
        change: &SecretChange<'_>,
        stored: Option<&Account>,
    ) -> SealedWrite {
        let account = id.to_string();
        let ring = self.ring();
        let mut secrets = Vec::new();
        for field in change.provider.secret_fields() {
            let kept = stored.and_then(|e| e.secrets.iter().find(|s| s.field == field.key));
            let ctx = context(tenant, &account, &field.key);
            match change.validated.secret_ops.get(&field.key) {
                Some(SecretOp::Clear) => {}
                Some(SecretOp::Set) => {
                    let value = change.value(&field.key).unwrap_or_default();
                    let unchanged = kept
                        .is_some_and(|s| ring.open(&ctx, &s.sealed).map(|old| old.expose() == value).unwrap_or(false));
                    match kept {
                        Some(s) if unchanged => secrets.push(s.clone()),
                        _ => secrets.push(SealedSecret {
                            field: field.key.clone(),
                            key_id: ring.active_key_id(),
                            sealed: ring.seal(&ctx, value),
                        }),
                    }
                }
                None => secrets.extend(kept.cloned()),
            }
        }
        SealedWrite { secrets, values: self.values_after(change, stored) }
    }

    /// Seals one value for `field` of account `id` (or of a subscription, by its id) with
    /// the active key.
    pub fn seal(&self, tenant: &str, id: Uuid, field: &str, value: &str) -> SealedSecret {
        let account = id.to_string();
        let ring = self.ring();
        SealedSecret {
            field: field.to_owned(),
            key_id: ring.active_key_id(),
            sealed: ring.seal(&context(tenant, &account, field), value),
        }
    }

    /// Seals `text`, which the server hands a client to bring back unchanged, for `owner`
    /// (an account, or the nil id for one not created yet) in `tenant` under `purpose`:
    /// URL-safe base64 of the key id and the sealed bytes. Purposes have a `-`, which no
    /// account field key has, so a token never opens as a secret, nor a secret as a token.
    pub fn seal_token(&self, tenant: &str, owner: Uuid, purpose: TokenPurpose, text: &str) -> String {
        let secret = self.seal(tenant, owner, purpose.as_str(), text);
        let mut bytes = secret.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&secret.sealed);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Opens what [`KeyLease::seal_token`] sealed for the same tenant, owner and purpose;
    /// None for anything else (another owner, a retired key, a value that was changed).
    pub fn open_token(&self, tenant: &str, owner: Uuid, purpose: TokenPurpose, token: &str) -> Option<SecretString> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
        let (key_id, sealed) = bytes.split_first_chunk::<4>()?;
        let secret = SealedSecret {
            field: purpose.as_str().into(),
            key_id: u32::from_be_bytes(*key_id),
            sealed: sealed.to_vec(),
        };
        self.open_sealed(tenant, owner, &secret).ok()
    }

    /// Seals again under the active key each of an account's values that an older key
    /// sealed, before an account write stores them: a write never brings back a value that a
    /// reseal moved off an older key. A value that does not open is kept as it is.
    pub fn reseal_kept(&self, tenant: &str, id: Uuid, secrets: &mut [SealedSecret]) {
        let ring = self.ring();
        let active = ring.active_key_id();
        let account = id.to_string();
        for secret in secrets.iter_mut().filter(|s| s.key_id != active) {
            if let Ok(sealed) = ring.reseal(&context(tenant, &account, &secret.field), &secret.sealed) {
                secret.key_id = active;
                secret.sealed = sealed;
            }
        }
    }
}
