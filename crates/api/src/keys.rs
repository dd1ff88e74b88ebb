//! Master keys: how many values each seals, and what a reseal call did.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The master keys known to the ring or sealing values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyStatus {
    /// The key new values are sealed with.
    pub active: u32,
    pub keys: Vec<KeyInfo>,
}

impl KeyStatus {
    /// Values sealed by keys other than the active one.
    pub fn older_values(&self) -> u64 {
        self.keys.iter().filter(|k| !k.active).map(|k| k.values).sum()
    }
}

/// One master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInfo {
    pub id: u32,
    pub active: bool,
    /// False for a key that seals values but is missing from this server's ring (another
    /// node rotated, or the ring file was replaced); those values do not open here.
    pub in_ring: bool,
    /// How many secret values this key seals.
    pub values: u64,
    /// When a rotation added this key (the active key's is the last rotation); none for a
    /// key the ring was created with, or one rotated in before patchbay recorded this.
    pub rotated_at: Option<DateTime<Utc>>,
}

/// What one `POST /keys/reseal` call did; loop while `next` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResealReport {
    pub active: u32,
    /// Values this call sealed again under the active key.
    pub resealed: u64,
    /// Values an account write changed while this call resealed them; the write wins, and a
    /// value it left under an older key is picked up by the next pass.
    pub skipped: u64,
    /// Values that do not open with this ring: they stay as they are.
    pub failed: Vec<ResealFailure>,
    /// Values still sealed by a key other than the active one, after this call.
    pub remaining: u64,
    /// Where the next call continues (`?after=`); `null` when this pass is complete.
    pub next: Option<String>,
}

/// A value a reseal could not open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResealFailure {
    pub tenant: String,
    pub account: Uuid,
    pub field: String,
    pub key_id: u32,
    pub error: String,
}
