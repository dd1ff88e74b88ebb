//! The runtime gateway: what the contact center's applications send and get back when they
//! use an account through patchbay (suggestions, sentiment, caller identification), the
//! bindings of chat bots to services and launch points, and an account's daily usage.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Category;

/// The longest text a gateway operation takes, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// `POST …/gateway/suggestions`: suggestions for an agent from a chat bot account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    /// What the customer wrote.
    #[schemars(length(min = 1, max = 20_000))]
    pub text: String,
    /// The conversation this text belongs to; a stateless bot's context is kept per
    /// conversation.
    #[schemars(length(min = 1, max = 200))]
    pub conversation_id: String,
    /// The chat bot account; when left out, the service's binding, else the launch point's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
    /// The service whose suggestion engine answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub service: Option<String>,
    /// The chat launch point whose chat bot answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub launch_point: Option<String>,
}

/// One suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suggestion {
    pub text: String,
    /// How sure the bot is, from 0 to 1, when it says.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub confidence: Option<f64>,
}

/// The suggestions and the account that made them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suggestions {
    /// At most the account's Maximum suggestions, most confident first.
    pub suggestions: Vec<Suggestion>,
    pub account: Uuid,
}

/// Which chat bot account is the suggestion engine of each service and the chat bot of
/// each launch point. Each named account must be an enabled chat bot account of the tenant.
/// A PUT replaces both maps (send `{}` for none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bindings {
    /// Service name to account id.
    pub services: BTreeMap<String, Uuid>,
    /// Launch point name to account id.
    pub launch_points: BTreeMap<String, Uuid>,
}

impl Bindings {
    /// The longest service or launch point name, in characters.
    pub const NAME_MAX_CHARS: usize = 200;
    /// Bindings of each kind at most.
    pub const MAX_PER_KIND: usize = 1000;
}

/// `POST …/gateway/sentiment`: the sentiment of a text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SentimentRequest {
    #[schemars(length(min = 1, max = 20_000))]
    pub text: String,
    /// The NLU account; when left out, the tenant's only enabled one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
}

/// A sentiment label. Each value's title is how the admin screen names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLabel {
    /// The text reads as pleased.
    #[schemars(title = "Positive")]
    Positive,
    /// Neither pleased nor displeased.
    #[schemars(title = "Neutral")]
    Neutral,
    /// The text reads as displeased.
    #[schemars(title = "Negative")]
    Negative,
}

/// The sentiment of a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sentiment {
    pub label: SentimentLabel,
    /// From -1 (negative) to 1 (positive).
    #[schemars(range(min = -1.0, max = 1.0))]
    pub score: f64,
    pub account: Uuid,
}

/// `POST …/gateway/identify`: who a caller is, from a phone number or an email address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    /// The caller's phone number (digits, optionally with `+`, spaces, dashes, dots and
    /// parentheses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254))]
    pub email: Option<String>,
    /// The Next Caller or The Data Group account; when left out, the tenant's only enabled
    /// one of either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
}

/// The caller's contact fields, as the account's Field Mapping names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Contact field (e.g. `first_name`, `phones_by_type.mobile`, `custom.segment_code`) to
    /// value; empty when the vendor knows nothing of the caller.
    pub contact: BTreeMap<String, String>,
    pub account: Uuid,
}

/// `POST …/gateway/crm/contacts/search`: the CRM's contacts with a phone number or an
/// email address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmSearchRequest {
    /// The Salesforce, Zendesk, ServiceNow, Oracle Service Cloud or RightNow account; left
    /// out, the tenant's only enabled one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254))]
    pub email: Option<String>,
}

/// A contact as every CRM gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmContact {
    /// The CRM's id of the record.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Where the record is in the CRM.
    pub url: Option<String>,
}

/// The contacts found (at most 10) and the account searched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmContacts {
    pub contacts: Vec<CrmContact>,
    pub account: Uuid,
}

/// The audio formats speech comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AudioFormat {
    /// WAV (16-bit linear PCM).
    Wav,
    Mp3,
    /// Ogg with Opus.
    Ogg,
}

impl AudioFormat {
    pub const ALL: [AudioFormat; 3] = [AudioFormat::Wav, AudioFormat::Mp3, AudioFormat::Ogg];

    /// The media type of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            AudioFormat::Wav => "audio/wav",
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::Ogg => "audio/ogg",
        }
    }
}

/// `POST …/gateway/speech`: speech for a prompt, from a Text To Speech account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeechRequest {
    /// Plain text; give this or `ssml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 5000))]
    pub text: Option<String>,
    /// SSML (`<speak>…</speak>`); give this or `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 5000))]
    pub ssml: Option<String>,
    /// The voice; the account's Voice when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub voice: Option<String>,
    pub format: AudioFormat,
    /// The Text To Speech account; when left out, the tenant's only enabled one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
}

impl SpeechRequest {
    /// The longest text or SSML, in characters (Watson takes 5 KB in a body).
    pub const MAX_CHARS: usize = 5000;
}

/// `?days=` of an account's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UsageQuery {
    /// Days back from today (in the tenant's time zone), today included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 366), extend("default" = 30))]
    pub days: Option<u32>,
}

impl UsageQuery {
    pub const DAYS: RangeInclusive<u32> = 1..=366;
    pub const DEFAULT_DAYS: u32 = 30;
}

/// One day of an account's gateway usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageDay {
    /// The day in the tenant's time zone.
    pub day: NaiveDate,
    /// Calls that reached the vendor (a call the vendor refused or failed counts; one that
    /// never left patchbay does not).
    pub calls: i64,
    /// Calls that failed, whether or not they reached the vendor.
    pub errors: i64,
    /// The daily quota, for accounts that have one.
    pub quota: Option<i64>,
}

/// The last failed gateway call of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveError {
    pub at: DateTime<Utc>,
    pub category: Category,
    pub message: String,
}

/// The health of an account's live traffic through the runtime gateway, as its connection
/// tests give the health of its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveHealth {
    /// When a gateway call of the account last succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last gateway call of the account that failed.
    pub last_error: Option<LiveError>,
}

/// An account's gateway usage, oldest day first, every day of the range listed, and the
/// live health of its traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub account: Uuid,
    /// The tenant's time zone, in which the days are counted.
    pub time_zone: String,
    pub days: Vec<UsageDay>,
    pub live: LiveHealth,
}

/// The audio a transcription takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AudioInput {
    /// A WAV file as it is, header first: the header gives the rate.
    #[default]
    Wav,
    /// Raw 16-bit signed little-endian mono PCM at `rate` Hz.
    L16,
}

/// `GET …/gateway/transcribe?…`: the query of the WebSocket upgrade that streams audio to
/// a Speech To Text account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscribeQuery {
    /// The Speech To Text account; when left out, the tenant's default STT account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
    /// What the binary messages hold; `wav` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<AudioInput>,
    /// The sample rate of `l16` audio in Hz (required for `l16`, refused for `wav`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 8000, max = 48000))]
    pub rate: Option<u32>,
    /// The recognition model of a Watson account (e.g. `en-US_NarrowbandModel`); the
    /// service's default when left out. GoVivace picks its model by the account's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub model: Option<String>,
    /// Whether interim (not final) results are sent too; `true` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interim: Option<bool>,
}

impl TranscribeQuery {
    /// The sample rates `l16` audio may have.
    pub const RATES: RangeInclusive<u32> = 8000..=48000;
    pub const MODEL_MAX_CHARS: usize = 100;
}

/// The one text message a transcription client sends: `{"action": "end"}`, the end of its
/// audio. The results still due follow, then the server closes (1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscribeControl {
    pub action: TranscribeAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscribeAction {
    End,
}

/// A result of a transcription, one text message each: interim results may be revised,
/// a final one is not. Times are seconds from the start of the audio, when the service
/// gives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptPiece {
    #[serde(rename = "final")]
    pub is_final: bool,
    pub text: String,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub start: Option<f64>,
    #[serde(default)]
    pub end: Option<f64>,
}

/// The last message of a transcription that failed, before the server closes (1008 for the
/// client's own mistake, 1011 otherwise): the failure in the categories of the other
/// gateway operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscribeFailure {
    pub error: TranscribeError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscribeError {
    /// What went wrong, as a connection test says it; absent for a mistake of the client's.
    pub category: Option<Category>,
    pub detail: String,
}
