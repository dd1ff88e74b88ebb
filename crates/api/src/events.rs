//! The event intake's answer and the counts of a tenant's live state.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the intake did with one body: events taken (applied, unchanged or stale) and every
/// one that was not, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeReport {
    pub accepted: u64,
    /// Of the accepted, those older than the state they would change.
    pub stale: u64,
    pub rejected: Vec<RejectedEvent>,
}

/// An event that was not taken: where it sat in the body and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectedEvent {
    /// The 1-based line of an NDJSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub line: Option<u64>,
    /// The 0-based index of a JSON array element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    pub reason: String,
}

/// Counts of a tenant's live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Live {
    /// Grows with every change the state takes.
    pub version: u64,
    /// Agents logged in.
    pub agents: u64,
    pub services: u64,
}
