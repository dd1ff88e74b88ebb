//! The health of a tenant's feeds: what each feed says about itself.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a feed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedStatus {
    /// Started, nothing attempted yet.
    Starting,
    /// The last attempt succeeded.
    Running,
    /// The last attempt failed; the feed retries (next tick, or after a backoff).
    Retrying,
    /// The account's properties cannot be used; the feed waits for a corrected account.
    InvalidConfig,
}

/// The health of one feed. Errors in it never carry a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedHealth {
    pub account_id: String,
    pub tenant: String,
    /// `aspect_tcp`, `wfm_http`, `loxysoft`, `nice` or `statistics_receiver`.
    pub kind: String,
    pub status: FeedStatus,
    /// TCP feeds: the connection is open. HTTP feeds: the last request succeeded.
    pub connected: bool,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Messages delivered: Aspect records, statistics lines, or HTTP requests answered 2xx.
    pub sent: u64,
    /// Failed connection attempts, writes and requests.
    pub failed: u64,
    pub bytes_sent: u64,
    /// TCP connections opened.
    pub connects: u64,
    /// Configuration changes applied to this account's feed.
    pub restarts: u64,
    /// Bytes encoded and not yet handed to the network (one write or request at most).
    pub pending_bytes: u64,
    /// The most `pending_bytes` has been.
    pub max_pending_bytes: u64,
}

/// One entry per feed of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedList {
    pub items: Vec<FeedHealth>,
}
