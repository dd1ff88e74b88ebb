//! Recordings: the metadata a recording platform sends (`PUT …/recordings/{id}`), and a
//! recording as the API shows it (its metadata, where its audio is, and on a GET of one
//! recording where each export job put it). The call direction lives here because the
//! metadata's schema names its values; the event intake (feeds) re-exports it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which way a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
}

impl Direction {
    pub const ALL: [Direction; 3] = [Direction::Inbound, Direction::Outbound, Direction::Internal];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        Direction::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// The metadata of a recording. The intake checks each field (every problem at once) and
/// trims the texts; left-out texts are empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingMeta {
    #[schemars(length(min = 1, max = 255), regex(pattern = "\\S"))]
    pub global_interaction_id: String,
    /// RFC 3339, from 2000-01-01 to a day from now.
    pub call_started_at: DateTime<Utc>,
    #[schemars(length(min = 1, max = 255), regex(pattern = "\\S"))]
    pub agent_login: String,
    #[serde(default)]
    #[schemars(length(max = 255))]
    pub agent_first_name: String,
    #[serde(default)]
    #[schemars(length(max = 255))]
    pub agent_last_name: String,
    /// A phone number: an optional +, then digits with spaces, -, ., ( or ) between them.
    #[serde(default)]
    pub customer_phone: String,
    pub direction: Direction,
    #[schemars(length(min = 1, max = 255), regex(pattern = "\\S"))]
    pub service: String,
    #[serde(default)]
    #[schemars(length(max = 255))]
    pub disposition: String,
    #[serde(default)]
    pub flagged: bool,
}

/// Where a recording's audio is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AudioState {
    /// Not received yet.
    None,
    /// In the data dir.
    Local,
    /// Exported and the local copy removed: only in a bucket.
    Removed,
}

/// A recording's audio; the details are `null` until it is received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingAudio {
    pub state: AudioState,
    #[schemars(range(min = 1))]
    pub size: Option<i64>,
    /// Hex SHA-256 of the bytes received.
    pub sha256: Option<String>,
    pub content_type: Option<String>,
}

/// Where a recording stands with one export job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    /// Started; a run resumes it.
    Uploading,
    /// In the bucket, size and checksum verified.
    Success,
    /// Failed; retried by the next run.
    Failed,
}

/// A recording's export by one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingExport {
    pub job_id: Uuid,
    pub account_id: Uuid,
    pub state: ExportState,
    pub object_key: String,
    pub error: Option<String>,
    /// Upload attempts so far.
    #[schemars(range(min = 1))]
    pub attempts: i64,
    pub run_id: Uuid,
    pub updated_at: DateTime<Utc>,
}

/// A recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    pub recording_id: String,
    pub tenant: String,
    #[serde(flatten)]
    pub meta: RecordingMeta,
    pub audio: RecordingAudio,
    /// Only on GET of one recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<RecordingExport>")]
    pub exports: Option<Vec<RecordingExport>>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of a search, newest call first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingPage {
    pub items: Vec<Recording>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
}
