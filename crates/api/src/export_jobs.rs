//! Recording export jobs and their runs: the job body (which the server also stores as the
//! job's settings), the job and run as the API shows them, and how the catalog describes the
//! settings for the job form. The catalog describes every setting but the services and the
//! window (`patchbay_catalog::export_job`): their schemas and defaults are read from there.

use chrono::{DateTime, NaiveTime, Utc};
use patchbay_catalog::export_job::{export_job_settings, keys, TemplateToken};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Category;

/// Daily export hours in UTC, `start` inclusive, `end` exclusive; `end` before `start`
/// spans midnight (22:00 to 06:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(with = "hhmm")]
    #[schemars(with = "String", regex(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: NaiveTime,
    #[serde(with = "hhmm")]
    #[schemars(with = "String", regex(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub end: NaiveTime,
}

impl Window {
    /// A time as a window writes it, `HH:MM` from 00:00 to 23:59 (the schema's pattern).
    pub fn parse_time(text: &str) -> Option<NaiveTime> {
        let (h, m) = text.split_once(':')?;
        let digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || !digits(m) {
            return None;
        }
        NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
    }
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        super::Window::parse_time(&text).ok_or_else(|| serde::de::Error::custom(format!("not a time HH:MM: {text}")))
    }
}

/// A described setting's JSON Schema, as the catalog gives it (`null` allowed: the default).
fn described(key: &str) -> Schema {
    let schema = export_job_settings().json_schema()["properties"][key].clone();
    Schema::try_from(schema).unwrap_or_else(|_| panic!("the catalog describes the export job setting `{key}`"))
}

/// A described setting's default.
fn default_of<T: DeserializeOwned>(key: &str) -> T {
    let value = export_job_settings().field(key).and_then(|f| f.default.clone()).unwrap_or(Value::Null);
    serde_json::from_value(value).unwrap_or_else(|e| panic!("the catalog's default of `{key}` does not fit: {e}"))
}

/// The schema (and the default, where it has one) of each described setting, by its catalog
/// key.
macro_rules! described_setting {
    ($schema:ident = $key:expr) => {
        fn $schema(_: &mut SchemaGenerator) -> Schema {
            described($key)
        }
    };
    ($schema:ident, $default:ident: $ty:ty = $key:expr) => {
        described_setting!($schema = $key);

        fn $default() -> $ty {
            default_of($key)
        }
    };
}

described_setting!(key_prefix, key_prefix_default: String = keys::KEY_PREFIX);
described_setting!(filename_template, filename_template_default: String = keys::FILENAME_TEMPLATE);
described_setting!(interval_seconds, interval_seconds_default: u64 = keys::INTERVAL_SECONDS);
described_setting!(bandwidth_limit = keys::BANDWIDTH_LIMIT);
described_setting!(delete_local, delete_local_default: bool = keys::DELETE_LOCAL_AFTER_EXPORT);
described_setting!(concurrency, concurrency_default: u64 = keys::CONCURRENCY);

/// What an export job does. The server stores the job's settings as this JSON. The described
/// settings' schemas (with their titles, descriptions and defaults) are the catalog's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobSettings {
    /// Services whose recordings the job exports (exact names).
    #[schemars(length(min = 1, max = 200), inner(length(min = 1, max = 255), regex(pattern = "\\S")))]
    pub services: Vec<String>,
    #[serde(default = "key_prefix_default")]
    #[schemars(schema_with = "key_prefix")]
    pub key_prefix: String,
    #[serde(default = "filename_template_default")]
    #[schemars(schema_with = "filename_template")]
    pub filename_template: String,
    #[serde(default = "interval_seconds_default")]
    #[schemars(schema_with = "interval_seconds")]
    pub interval_seconds: u64,
    /// Leave out to export at any hour.
    pub window: Option<Window>,
    #[serde(default)]
    #[schemars(schema_with = "bandwidth_limit")]
    pub bandwidth_limit_bytes_per_second: Option<u64>,
    #[serde(default = "delete_local_default")]
    #[schemars(schema_with = "delete_local")]
    pub delete_local_after_export: bool,
    #[serde(default = "concurrency_default")]
    #[schemars(schema_with = "concurrency")]
    pub concurrency: u64,
}

fn enabled_default() -> bool {
    true
}

/// A new export job, or its replacement (`PUT`): every setting at once, the left-out ones
/// at their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportJobWrite {
    #[schemars(length(min = 1, max = 100), regex(pattern = "\\S"))]
    pub name: String,
    /// An `aws` integration account of the tenant.
    pub account_id: Uuid,
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    #[serde(flatten)]
    pub settings: JobSettings,
}

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportRunReason {
    /// The job's interval came round.
    Schedule,
    /// `POST …/run`.
    Manual,
    /// It continues an interrupted run.
    Resume,
}

impl ExportRunReason {
    pub const ALL: [ExportRunReason; 3] = [ExportRunReason::Schedule, ExportRunReason::Manual, ExportRunReason::Resume];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportRunReason::Schedule => "schedule",
            ExportRunReason::Manual => "manual",
            ExportRunReason::Resume => "resume",
        }
    }

    pub fn parse(text: &str) -> Option<ExportRunReason> {
        ExportRunReason::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportRunState {
    Running,
    /// Every recording of the run exported, metadata file written.
    Succeeded,
    /// Some recordings (or the metadata file) failed; they are retried next run.
    Failed,
    /// The node running it stopped; the next run picks up what it left.
    Interrupted,
}

/// A run of an export job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRun {
    pub id: Uuid,
    pub job_id: Uuid,
    pub reason: ExportRunReason,
    /// The interrupted run this one continues.
    pub resumed_from: Option<Uuid>,
    pub state: ExportRunState,
    /// The node that runs it.
    pub node: String,
    /// Recordings the run set out to export.
    #[schemars(range(min = 0))]
    pub total: i64,
    #[schemars(range(min = 0))]
    pub exported: i64,
    #[schemars(range(min = 0))]
    pub failed: i64,
    #[schemars(range(min = 0))]
    pub bytes: i64,
    /// The object key of the run's metadata CSV, once written.
    pub metadata_key: Option<String>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The attempt's fencing epoch: bumped when the run is interrupted or taken over.
    #[schemars(range(min = 1))]
    pub epoch: i64,
}

/// Runs of a job, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRunList {
    pub items: Vec<ExportRun>,
}

/// A recording a run could not export, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportFailure {
    pub recording_id: String,
    pub service: String,
    pub call_started_at: DateTime<Utc>,
    /// Where the recording was to be uploaded (empty when the key could not be made).
    pub object_key: String,
    /// What kind of failure it was, for advice on what to do; none for a failure on this
    /// server's side (its local copy of the audio, say).
    pub category: Option<Category>,
    /// What went wrong, in words.
    pub error: String,
    /// Upload attempts so far; the next run tries again.
    #[schemars(range(min = 1))]
    pub attempts: i64,
    pub failed_at: DateTime<Utc>,
}

/// The recordings a run could not export (those a later run did not retry), in the order
/// they arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportFailureList {
    pub items: Vec<ExportFailure>,
    /// The run has more failures than listed (see the run's metadata file for all).
    pub more: bool,
}

impl ExportFailureList {
    /// The most failures listed.
    pub const LIMIT: i64 = 100;
}

/// An export job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportJob {
    pub id: Uuid,
    pub tenant: String,
    #[serde(flatten)]
    pub job: ExportJobWrite,
    /// When the scheduler runs it next (none while disabled).
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run: Option<ExportRun>,
    #[schemars(range(min = 1))]
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// The export jobs of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportJobList {
    pub items: Vec<ExportJob>,
}

/// One described setting, shaped like a provider's field in `IntegrationTypes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SettingField {
    pub key: String,
    pub label: String,
    pub help: String,
    /// `text`, `integer` or `bool`; its rules (`max_len`, `min`, `max`, `unit`) beside it.
    pub kind: String,
    /// The default, the rules of the kind, and the other traits of a field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A token of a file name template, `$(name)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateTokenInfo {
    pub name: String,
    /// What the token stands for.
    pub meaning: String,
    /// A value, for the example key the job form shows.
    pub example: String,
}

/// How the catalog describes an export job's settings: the fields (shaped like a provider's
/// in IntegrationTypes), their JSON Schema, and the file name template's tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportJobSettings {
    pub fields: Vec<SettingField>,
    /// The JSON Schema (draft 2020-12) of the described settings in a job body.
    pub json_schema: Map<String, Value>,
    pub tokens: Vec<TemplateTokenInfo>,
}

impl ExportJobSettings {
    /// The catalog's description, as the API shows it.
    pub fn from_catalog(settings: &patchbay_catalog::export_job::ExportJobSettings) -> ExportJobSettings {
        let token = |t: &TemplateToken| TemplateTokenInfo {
            name: t.name.to_owned(),
            meaning: t.meaning.to_owned(),
            example: t.example.to_owned(),
        };
        let json_schema = match settings.json_schema() {
            Value::Object(schema) => schema,
            other => unreachable!("the settings' JSON Schema is an object, not {other}"),
        };
        ExportJobSettings {
            fields: settings
                .fields
                .iter()
                .map(|field| {
                    serde_json::to_value(field).and_then(serde_json::from_value).unwrap_or_else(|e| {
                        panic!("the catalog's field `{}` has a key, label, help and kind: {e}", field.key)
                    })
                })
                .collect(),
            json_schema,
            tokens: settings.tokens.iter().map(token).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_job_body_reads_and_writes_flat_with_the_catalogs_defaults() {
        let account = Uuid::nil();
        let body = json!({"name": "Nightly", "account_id": account, "services": ["Sales"]});
        let job: ExportJobWrite = serde_json::from_value(body).unwrap();
        assert_eq!(
            job,
            ExportJobWrite {
                name: "Nightly".into(),
                account_id: account,
                enabled: true,
                settings: JobSettings {
                    services: vec!["Sales".into()],
                    key_prefix: String::new(),
                    filename_template: "$(callDate)/$(service)/$(callTime)_$(agent)".into(),
                    interval_seconds: 3600,
                    window: None,
                    bandwidth_limit_bytes_per_second: None,
                    delete_local_after_export: false,
                    concurrency: 4,
                },
            }
        );
        let written = serde_json::to_value(&job).unwrap();
        assert_eq!((&written["window"], &written["interval_seconds"]), (&Value::Null, &json!(3600)), "flat");
        assert_eq!(serde_json::from_value::<ExportJobWrite>(written).unwrap(), job);
        let unknown = json!({"name": "N", "account_id": account, "services": ["S"], "colour": "red"});
        assert!(serde_json::from_value::<ExportJobWrite>(unknown).is_err(), "an unknown field is refused");
    }

    #[test]
    fn every_described_setting_is_a_field_of_the_job_body_with_the_catalogs_schema() {
        let fields = crate::request_fields::<ExportJobWrite>();
        let schemas = crate::component_schemas();
        let described = export_job_settings().json_schema();
        for field in &export_job_settings().fields {
            assert!(fields.contains(&field.key), "{} is not a field of {fields:?}", field.key);
            let mut schema = schemas["ExportJobWrite"]["properties"][&field.key].clone();
            if field.default.is_none() {
                // Serde's default for a setting without one: none.
                assert_eq!(schema.as_object_mut().and_then(|s| s.remove("default")), Some(Value::Null));
            }
            assert_eq!(schema, described["properties"][&field.key], "{}", field.key);
        }
        assert_eq!(&fields[..3], ["name", "account_id", "enabled"]);
        assert_eq!(schemas["ExportJobWrite"]["required"], json!(["name", "account_id", "services"]));
    }

    #[test]
    fn windows_are_hh_mm() {
        let window: Window = serde_json::from_value(json!({"start": "22:00", "end": "06:30"})).unwrap();
        assert_eq!(serde_json::to_value(window).unwrap(), json!({"start": "22:00", "end": "06:30"}));
        for bad in ["24:00", "7:00", "07:0", "07-00", "+7:00", "07:60", ""] {
            assert_eq!(Window::parse_time(bad), None, "{bad}");
        }
        assert_eq!(Window::parse_time("23:59"), NaiveTime::from_hms_opt(23, 59, 0));
    }

    #[test]
    fn the_settings_description_shows_the_catalogs_fields_as_they_are() {
        let catalog = export_job_settings();
        let shown = ExportJobSettings::from_catalog(catalog);
        assert_eq!(serde_json::to_value(&shown.fields).unwrap(), serde_json::to_value(&catalog.fields).unwrap());
        assert_eq!(Value::Object(shown.json_schema), catalog.json_schema());
        assert_eq!(shown.tokens.len(), catalog.tokens.len());
    }
}
