//! Recordings: the metadata a recording platform sends (`PUT …/recordings/{id}`), and a
//! recording as the API shows it (its metadata, where its audio is, and on a GET of one
//! recording where each export job put it). The call direction lives here because the
//! metadata's schema names its values; the event intake (feeds) re-exports it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Category;

/// Which way a call goes. Each value's title is how the admin screen names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer called the contact center.
    #[schemars(title = "Inbound")]
    Inbound,
    /// An agent called the customer.
    #[schemars(title = "Outbound")]
    Outbound,
    /// A call between people of the contact center.
    #[schemars(title = "Internal")]
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

/// The order of a recordings search: by call start, then by arrival for calls that started
/// at the same time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordingOrder {
    /// The latest call first (the default).
    #[default]
    Newest,
    /// The earliest call first.
    Oldest,
}

impl RecordingOrder {
    pub const ALL: [RecordingOrder; 2] = [RecordingOrder::Newest, RecordingOrder::Oldest];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordingOrder::Newest => "newest",
            RecordingOrder::Oldest => "oldest",
        }
    }

    pub fn parse(text: &str) -> Option<RecordingOrder> {
        RecordingOrder::ALL.into_iter().find(|o| o.as_str() == text)
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

/// Where a recording's audio is. Each value's title is how the admin screen names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AudioState {
    /// Not received yet.
    #[schemars(title = "Not received")]
    None,
    /// In the data dir.
    #[schemars(title = "On the server")]
    Local,
    /// Exported and the local copy removed: only in a bucket.
    #[schemars(title = "In the bucket")]
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

/// Where a recording stands with one export job. Each value's title is how the admin
/// screen names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    /// Started; a run resumes it.
    #[schemars(title = "Uploading")]
    Uploading,
    /// In the bucket, size and checksum verified.
    #[schemars(title = "Uploaded")]
    Success,
    /// Failed; retried by the next run.
    #[schemars(title = "Failed")]
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
    /// The bucket it was uploaded to (playback reads it from there); `null` until it was.
    pub bucket: Option<String>,
    pub error: Option<String>,
    /// What kind of failure, as a connection test of the account names it (what to check);
    /// `null` when the failure has none (this node's disk, the bucket holding other content
    /// under the key).
    pub error_category: Option<Category>,
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
    /// Its export to each job's bucket: on GET of one recording and in a search's items (not
    /// in the answer to a write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<RecordingExport>")]
    pub exports: Option<Vec<RecordingExport>>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of a search, in the order asked for (newest call first unless `order=oldest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingPage {
    pub items: Vec<Recording>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// `POST …/recordings/{recording_id}/transcript`: transcribe the recording's audio.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptRequest {
    /// The Speech To Text account; when left out, the tenant's default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
    /// A Watson recognition model (e.g. `en-US_NarrowbandModel` for telephone calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptState {
    /// The audio is streaming through the Speech To Text account.
    Running,
    Done,
    Failed,
}

/// The sentiment of an utterance, from the tenant's NLU account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UtteranceSentiment {
    pub label: crate::SentimentLabel,
    #[schemars(range(min = -1.0, max = 1.0))]
    pub score: f64,
}

/// One final result of the transcript: what was said and when (seconds from the start of
/// the audio, when the service gives times).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Utterance {
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub text: String,
    pub confidence: Option<f64>,
    /// `null` when the tenant has no enabled NLU account or sentiment stopped early (see
    /// the transcript's `sentiment_error`).
    pub sentiment: Option<UtteranceSentiment>,
}

/// Why a transcript failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptFailure {
    /// The connection-test category, when the Speech To Text service failed.
    pub category: Option<Category>,
    pub detail: String,
}

/// A recording's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    pub recording_id: String,
    pub state: TranscriptState,
    /// The Speech To Text account.
    pub account: Option<Uuid>,
    /// The NLU account that gave the sentiments.
    pub sentiment_account: Option<Uuid>,
    pub utterances: Vec<Utterance>,
    pub error: Option<TranscriptFailure>,
    /// Why some or all utterances have no sentiment (the NLU account's quota ran out, it
    /// failed, several are enabled).
    pub sentiment_error: Option<String>,
    /// Who asked for it (`auto` for the tenant's automatic transcription).
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET|PUT …/recording-transcription`: whether the tenant's new recordings are
/// transcribed as their audio arrives, as `POST …/transcript` would, requested by `auto`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptionSettings {
    pub enabled: bool,
    /// Only recordings of these services; empty: every service.
    #[schemars(length(max = 100), inner(length(min = 1, max = 200)))]
    pub services: Vec<String>,
    /// The Speech To Text account; left out: the tenant's default one at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
    /// A Watson recognition model; left out: the service's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub model: Option<String>,
}

impl TranscriptionSettings {
    pub const MAX_SERVICES: usize = 100;
    pub const SERVICE_MAX_CHARS: usize = 200;
}
