//! The settings of a recording export job, described with the same field descriptors as
//! account properties: the key prefix and file name template (with the tokens a template
//! may use), the interval, the bandwidth cap, the concurrency and whether local copies are
//! deleted. The checks of a job body, its JSON Schema, the API's description of the job
//! form (`GET /api/v1/recording-export-jobs/settings`) and the recordings crate's defaults
//! all read these descriptors. The job's services and export window have no field kind:
//! the recordings crate checks them.

use std::sync::OnceLock;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::model::{Field, FieldKind, Required};
use crate::validate::FieldError;

/// The keys of the described settings in a job body.
pub mod keys {
    pub const KEY_PREFIX: &str = "key_prefix";
    pub const FILENAME_TEMPLATE: &str = "filename_template";
    pub const INTERVAL_SECONDS: &str = "interval_seconds";
    pub const BANDWIDTH_LIMIT: &str = "bandwidth_limit_bytes_per_second";
    pub const DELETE_LOCAL_AFTER_EXPORT: &str = "delete_local_after_export";
    pub const CONCURRENCY: &str = "concurrency";
}

/// A token of a file name template, `$(name)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TemplateToken {
    pub name: &'static str,
    /// What the token stands for.
    pub meaning: &'static str,
    /// A value, for the example key the job form shows.
    pub example: &'static str,
}

/// The tokens a file name template may use, in the order the job form lists them.
pub const TOKENS: &[TemplateToken] = &[
    TemplateToken { name: "callDate", meaning: "Call date, YYYY-MM-DD (UTC)", example: "2026-03-12" },
    TemplateToken { name: "callTime", meaning: "Call start time, HH-MM-SS (UTC)", example: "14-05-09" },
    TemplateToken { name: "agent", meaning: "Agent login", example: "jdoe" },
    TemplateToken { name: "agentFirstName", meaning: "Agent first name", example: "Jane" },
    TemplateToken { name: "agentLastName", meaning: "Agent last name", example: "Doe" },
    TemplateToken { name: "customerPhone", meaning: "Customer phone number", example: "15551234567" },
    TemplateToken { name: "direction", meaning: "Call direction", example: "inbound" },
    TemplateToken { name: "service", meaning: "Service name", example: "Sales" },
    TemplateToken { name: "disposition", meaning: "Disposition", example: "Resolved" },
    TemplateToken { name: "flagged", meaning: "Flagged: true or false", example: "false" },
    TemplateToken { name: "globalInteractionId", meaning: "Global interaction id", example: "8f14e45f" },
];

/// S3's limit on the length of an object key, in bytes: neither the prefix nor the template
/// can be longer.
pub const MAX_KEY_BYTES: usize = 1024;

/// The described settings of an export job.
#[derive(Debug, Serialize)]
pub struct ExportJobSettings {
    pub fields: Vec<Field>,
    pub tokens: &'static [TemplateToken],
}

/// The export job settings, built once.
pub fn export_job_settings() -> &'static ExportJobSettings {
    static SETTINGS: OnceLock<ExportJobSettings> = OnceLock::new();
    SETTINGS.get_or_init(build)
}

fn setting(key: &str, label: &'static str, help: &'static str, kind: FieldKind, default: Option<Value>) -> Field {
    Field {
        key: key.to_owned(),
        label,
        help,
        kind,
        default,
        fixed: false,
        required: Required::Never,
        example: None,
        target: false,
        loopback_http: false,
        addition: None,
    }
}

fn build() -> ExportJobSettings {
    let text = FieldKind::Text { max_len: MAX_KEY_BYTES, rule: None };
    let fields = vec![
        setting(
            keys::KEY_PREFIX,
            "Key prefix",
            "The folder in the bucket that every key starts with: empty, or ending in “/”.",
            text.clone(),
            Some(json!("")),
        ),
        setting(
            keys::FILENAME_TEMPLATE,
            "File name template",
            "Forms each key after the prefix; “/” makes folders. The recording id and file extension always end the \
             name, so keys never collide.",
            text,
            Some(json!("$(callDate)/$(service)/$(callTime)_$(agent)")),
        ),
        setting(
            keys::INTERVAL_SECONDS,
            "Run every",
            "From the start of one run to the next: 1 minute to 7 days.",
            FieldKind::Integer { min: 60, max: 7 * 24 * 3600, unit: Some("s") },
            Some(json!(3600)),
        ),
        setting(
            keys::CONCURRENCY,
            "Parallel uploads",
            "Files a run uploads at the same time: 1 to 32.",
            FieldKind::Integer { min: 1, max: 32, unit: None },
            Some(json!(4)),
        ),
        setting(
            keys::BANDWIDTH_LIMIT,
            "Bandwidth limit",
            "Caps the upload speed of a run. Leave empty for no limit; at least 64 KiB/s.",
            FieldKind::Integer { min: 64 * 1024, max: i64::MAX, unit: Some("bytes/s") },
            None,
        ),
        setting(
            keys::DELETE_LOCAL_AFTER_EXPORT,
            "Delete the local copy after export",
            "Removes the server’s copy of a recording once every export job of its service has uploaded it; playback \
             then comes from the bucket.",
            FieldKind::Bool,
            Some(json!(false)),
        ),
    ];
    ExportJobSettings { fields, tokens: TOKENS }
}

impl ExportJobSettings {
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The `(min, max)` of an integer setting.
    ///
    /// # Panics
    /// When `key` is not an integer setting: the keys are this module's constants.
    pub fn range(&self, key: &str) -> (i64, i64) {
        match self.field(key).map(|f| &f.kind) {
            Some(FieldKind::Integer { min, max, .. }) => (*min, *max),
            _ => panic!("`{key}` is not an integer setting of an export job"),
        }
    }

    /// Reads the described settings from a job body, in the order of the fields: each
    /// value checked against its field; an absent, `null` or refused one is replaced by the
    /// field's default (`null` for a setting without one). Returns every value and every
    /// problem, each naming its field and rule; keys the settings do not describe are the
    /// caller's.
    pub fn read(&self, body: &Map<String, Value>) -> (Map<String, Value>, Vec<FieldError>) {
        let mut values = Map::new();
        let mut errors = Vec::new();
        for field in &self.fields {
            let key = field.key.as_str();
            let default = || field.default.clone().unwrap_or(Value::Null);
            let value = match body.get(key).filter(|v| !v.is_null()) {
                None => default(),
                Some(value) => check(field, value).unwrap_or_else(|(rule, message)| {
                    errors.push(FieldError { field: key.to_owned(), rule, message });
                    default()
                }),
            };
            values.insert(key.to_owned(), value);
        }
        (values, errors)
    }

    /// JSON Schema (draft 2020-12) of the described settings in a job body. Every setting
    /// may be left out or `null` for its default.
    pub fn json_schema(&self) -> Value {
        let properties: Map<String, Value> = self
            .fields
            .iter()
            .map(|field| {
                let mut schema = field.json_schema();
                if let Some(kind) = schema.get("type").cloned() {
                    schema["type"] = json!([kind, "null"]);
                }
                (field.key.clone(), schema)
            })
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Recording export job settings",
            "type": "object",
            "properties": properties,
        })
    }
}

/// Checks one present value; the wording is the export job API's.
fn check(field: &Field, value: &Value) -> Result<Value, (&'static str, String)> {
    let key = &field.key;
    match &field.kind {
        FieldKind::Text { max_len, .. } => match value {
            Value::String(s) if s.chars().count() > *max_len => {
                Err(("max_length", format!("{key} is at most {max_len} characters")))
            }
            Value::String(s) => Ok(Value::String(s.clone())),
            _ => Err(("type", format!("{key} must be a string"))),
        },
        FieldKind::Integer { min, max, .. } => match value.as_i64() {
            Some(n) if (*min..=*max).contains(&n) => Ok(Value::from(n)),
            _ => {
                let rule = if value.is_u64() || value.is_i64() { "range" } else { "type" };
                Err((rule, format!("{key} must be a whole number from {min} to {max}")))
            }
        },
        FieldKind::Bool => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            _ => Err(("type", format!("{key} must be true or false"))),
        },
        other => unreachable!("export job settings use text, integer and bool fields, not {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    fn rules(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field.as_str(), e.rule)).collect()
    }

    #[test]
    fn absent_and_null_settings_take_the_described_defaults() {
        let settings = export_job_settings();
        let (values, errors) = settings.read(&body(json!({"concurrency": null})));
        assert!(errors.is_empty(), "{errors:?}");
        for field in &settings.fields {
            assert_eq!(Some(&values[&field.key]), field.default.as_ref().or(Some(&Value::Null)), "{}", field.key);
        }
        assert_eq!(values[keys::INTERVAL_SECONDS], 3600);
        assert_eq!(values[keys::BANDWIDTH_LIMIT], Value::Null);
    }

    #[test]
    fn values_outside_the_described_ranges_are_refused_naming_the_bounds() {
        let settings = export_job_settings();
        let (values, errors) = settings.read(&body(json!({
                "concurrency": 33,
                "interval_seconds": 59,
                "bandwidth_limit_bytes_per_second": 65535,
                "key_prefix": 3,
                "filename_template": "x".repeat(MAX_KEY_BYTES + 1),
                "delete_local_after_export": "yes",
        })));
        assert_eq!(
            rules(&errors),
            [
                ("key_prefix", "type"),
                ("filename_template", "max_length"),
                ("interval_seconds", "range"),
                ("concurrency", "range"),
                ("bandwidth_limit_bytes_per_second", "range"),
                ("delete_local_after_export", "type"),
            ]
        );
        assert_eq!(errors[3].message, "concurrency must be a whole number from 1 to 32");
        assert_eq!(errors[2].message, "interval_seconds must be a whole number from 60 to 604800");
        assert_eq!(
            (&values[keys::CONCURRENCY], &values[keys::KEY_PREFIX]),
            (&json!(4), &json!("")),
            "refused: defaults"
        );
        let (_, typed) = settings.read(&body(json!({"concurrency": "four", "interval_seconds": 1.5})));
        assert_eq!(rules(&typed), [("interval_seconds", "type"), ("concurrency", "type")]);
        let (min, max) = settings.range(keys::CONCURRENCY);
        for n in [min, max] {
            let (values, errors) = settings.read(&body(json!({"concurrency": n})));
            assert_eq!((values[keys::CONCURRENCY].as_i64(), errors.len()), (Some(n), 0), "{n} is in range");
        }
    }

    #[test]
    fn the_json_schema_states_the_same_bounds_and_defaults() {
        let settings = export_job_settings();
        let schema = settings.json_schema();
        for field in &settings.fields {
            let property = &schema["properties"][&field.key];
            if let FieldKind::Integer { min, max, .. } = field.kind {
                assert_eq!((property["minimum"].as_i64(), property["maximum"].as_i64()), (Some(min), Some(max)));
            }
            assert_eq!(property.get("default"), field.default.as_ref(), "{}", field.key);
            assert!(property["type"].as_array().is_some_and(|t| t.contains(&json!("null"))), "{}", field.key);
        }
    }

    #[test]
    fn the_default_template_uses_only_known_tokens() {
        let template = export_job_settings().field(keys::FILENAME_TEMPLATE).and_then(|f| f.default.clone()).unwrap();
        let template = template.as_str().unwrap();
        let used: Vec<&str> = template.split("$(").skip(1).map(|rest| &rest[..rest.find(')').unwrap()]).collect();
        assert!(!used.is_empty());
        assert!(used.iter().all(|name| TOKENS.iter().any(|t| t.name == *name)), "{used:?}");
    }
}
