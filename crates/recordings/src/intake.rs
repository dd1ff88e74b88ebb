//! Receiving recordings: their metadata, checked field by field, and their audio, streamed
//! into the data dir (`recordings/{tenant}/{recording id}.audio`) through a temporary file
//! that is synced and renamed into place only when complete, so a crash never leaves a
//! half-written recording where the exporter would find it.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use patchbay_api::{request_fields, Direction, RecordingMeta};
use patchbay_catalog::{check_name_characters, FieldError};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::template::check_recording_id;

/// Longest accepted metadata value, in characters.
const MAX_VALUE: usize = 255;

/// Customer phone numbers: at most this many characters, with 1 to `MAX_PHONE_DIGITS`
/// digits (E.164 has at most 15; international prefixes and extensions add a few).
const MAX_PHONE_CHARS: usize = 32;
const MAX_PHONE_DIGITS: usize = 20;

/// The earliest call time accepted; the latest is a day past the receiving node's clock
/// (`FUTURE_SKEW`), for platforms whose clocks run ahead.
const EARLIEST_CALL: &str = "2000-01-01T00:00:00Z";
const FUTURE_SKEW: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Reads a recording's metadata body into [`RecordingMeta`] (the API's type, whose fields
/// are the ones a body may hold). Every problem is reported at once, each naming its field
/// and rule: the recording id, unknown fields, types, required fields, lengths, characters
/// (the names' rule, [`check_name_characters`]), `direction` (a call [`Direction`]), the
/// shape of `customer_phone` and the range of `call_started_at`.
pub fn meta_from_body(recording_id: &str, body: &Map<String, Value>) -> Result<RecordingMeta, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut error = |field: &str, rule: &'static str, message: String| {
        errors.push(FieldError { field: field.into(), rule, message })
    };
    if let Err(e) = check_recording_id(recording_id) {
        error("recording_id", "recording_id", e.to_string());
    }
    let known = request_fields::<RecordingMeta>();
    for field in body.keys().filter(|k| !known.contains(k)) {
        error(field, "unknown_field", format!("{field} is not a recording field; known: {}", known.join(", ")));
    }
    let mut text = |field: &str, required: bool, check: fn(&str) -> Result<(), (&'static str, String)>| {
        match body.get(field) {
            None | Some(Value::Null) if required => error(field, "required", format!("{field} is required")),
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if required && s.trim().is_empty() => {
                error(field, "required", format!("{field} must not be empty"))
            }
            Some(Value::String(s)) if s.chars().count() > MAX_VALUE => {
                error(field, "max_length", format!("{field} must be at most {MAX_VALUE} characters"))
            }
            Some(Value::String(s)) => match check_name_characters(field, field, s) {
                Err(e) => error(field, e.rule, e.message),
                Ok(()) if s.trim().is_empty() => return String::new(),
                Ok(()) => match check(s.trim()) {
                    Ok(()) => return s.trim().to_owned(),
                    Err((rule, message)) => error(field, rule, format!("{field} {message}")),
                },
            },
            Some(_) => error(field, "type", format!("{field} must be a string")),
        }
        String::new()
    };
    let any = |_: &str| Ok(());
    let global_interaction_id = text("global_interaction_id", true, any);
    let agent_login = text("agent_login", true, any);
    let agent_first_name = text("agent_first_name", false, any);
    let agent_last_name = text("agent_last_name", false, any);
    let customer_phone = text("customer_phone", false, check_phone);
    let direction = text("direction", true, check_direction);
    let service = text("service", true, any);
    let disposition = text("disposition", false, any);
    let started = text("call_started_at", true, check_call_time);
    let call_started_at = parse_time(&started).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let flagged = match body.get("flagged") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            error("flagged", "type", "flagged must be true or false".into());
            false
        }
    };
    // A direction that does not parse was reported as missing or not one of them.
    match Direction::parse(&direction) {
        Some(direction) if errors.is_empty() => Ok(RecordingMeta {
            global_interaction_id,
            call_started_at,
            agent_login,
            agent_first_name,
            agent_last_name,
            customer_phone,
            direction,
            service,
            disposition,
            flagged,
        }),
        _ => Err(errors),
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// One of the call directions the event intake knows (`inbound`, `outbound`, `internal`).
fn check_direction(value: &str) -> Result<(), (&'static str, String)> {
    match Direction::parse(value) {
        Some(_) => Ok(()),
        None => {
            let all: Vec<&str> = Direction::ALL.iter().map(|d| d.as_str()).collect();
            Err(("enum", format!("must be one of {}", all.join(", "))))
        }
    }
}

/// An optional leading `+`, then a digit or `(`, then digits, spaces, `-`, `.`, `(` and `)`:
/// 1 to [`MAX_PHONE_DIGITS`] digits, at most [`MAX_PHONE_CHARS`] characters (`+1 555 0100`,
/// `(030) 123-45`, an extension `1001`).
fn check_phone(value: &str) -> Result<(), (&'static str, String)> {
    let number = value.strip_prefix('+').unwrap_or(value);
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let shaped = number.starts_with(|c: char| c.is_ascii_digit() || c == '(')
        && number.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    if shaped && (1..=MAX_PHONE_DIGITS).contains(&digits) && value.chars().count() <= MAX_PHONE_CHARS {
        return Ok(());
    }
    Err((
        "phone",
        format!(
            "must be a phone number: an optional +, then digits with spaces, -, ., ( or ) between them; \
             1 to {MAX_PHONE_DIGITS} digits, at most {MAX_PHONE_CHARS} characters"
        ),
    ))
}

/// An RFC 3339 time from [`EARLIEST_CALL`] to a day from now.
fn check_call_time(value: &str) -> Result<(), (&'static str, String)> {
    let Some(at) = parse_time(value) else {
        return Err(("rfc3339", "must be an RFC 3339 time, e.g. 2024-05-01T09:30:00Z".into()));
    };
    let earliest = parse_time(EARLIEST_CALL).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    if at < earliest || at > Utc::now() + FUTURE_SKEW {
        return Err(("range", format!("must lie between {EARLIEST_CALL} and a day from now")));
    }
    Ok(())
}

/// Audio formats accepted, by content type, with the file extension their keys get.
pub const AUDIO_TYPES: &[(&str, &str)] = &[
    ("audio/wav", "wav"),
    ("audio/x-wav", "wav"),
    ("audio/wave", "wav"),
    ("audio/mpeg", "mp3"),
    ("audio/ogg", "ogg"),
    ("audio/opus", "opus"),
    ("audio/webm", "webm"),
    ("audio/mp4", "m4a"),
    ("audio/flac", "flac"),
    ("audio/basic", "au"),
];

/// The extension for a `Content-Type` (parameters ignored), if the type is accepted.
pub fn extension_for(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    AUDIO_TYPES.iter().find(|(t, _)| *t == essence).map(|(_, ext)| *ext)
}

/// The content type for a file extension (spool files), if accepted.
pub fn content_type_for(extension: &str) -> Option<&'static str> {
    let extension = extension.to_ascii_lowercase();
    AUDIO_TYPES.iter().find(|(_, ext)| *ext == extension).map(|(t, _)| *t)
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the audio is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the audio body is empty")]
    Empty,
    #[error("reading the audio body failed: {0}")]
    Body(String),
    #[error("storing the audio failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The recordings' audio files under the data dir.
#[derive(Debug, Clone)]
pub struct AudioDir {
    root: PathBuf,
}

impl AudioDir {
    pub fn new(root: impl Into<PathBuf>) -> AudioDir {
        AudioDir { root: root.into() }
    }

    /// Where the audio of a recording lives (tenant ids and recording ids are path-safe).
    pub fn path(&self, tenant: &str, recording_id: &str) -> PathBuf {
        self.tenant_dir(tenant).join(format!("{recording_id}.audio"))
    }

    /// The folder that holds every audio file of `tenant`.
    pub fn tenant_dir(&self, tenant: &str) -> PathBuf {
        self.root.join(tenant)
    }

    /// Streams `body` into the recording's file (replacing it), at most `max_bytes`.
    pub async fn write<S, E>(
        &self,
        tenant: &str,
        recording_id: &str,
        body: S,
        max_bytes: u64,
    ) -> Result<Written, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let (temp, mut file) = self.temp_file(tenant).await?;
        let result = async {
            let mut hash = Sha256::new();
            let mut size = 0u64;
            let mut body = std::pin::pin!(body);
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
                size += chunk.len() as u64;
                if size > max_bytes {
                    return Err(WriteError::TooLarge(max_bytes));
                }
                hash.update(&chunk);
                file.write_all(&chunk).await?;
            }
            Ok(Written { size, sha256: hex::encode(hash.finalize()) })
        }
        .await;
        self.finish(tenant, recording_id, temp, file, result).await
    }

    /// Copies a local file (a spool drop) into the recording's file.
    pub async fn import(
        &self,
        tenant: &str,
        recording_id: &str,
        source: &Path,
        max_bytes: u64,
    ) -> Result<Written, WriteError> {
        let mut input = tokio::fs::File::open(source).await?;
        let (temp, mut file) = self.temp_file(tenant).await?;
        let result = async {
            let mut hash = Sha256::new();
            let mut size = 0u64;
            let mut buffer = vec![0u8; 256 * 1024];
            loop {
                let read = input.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                size += read as u64;
                if size > max_bytes {
                    return Err(WriteError::TooLarge(max_bytes));
                }
                hash.update(&buffer[..read]);
                file.write_all(&buffer[..read]).await?;
            }
            Ok(Written { size, sha256: hex::encode(hash.finalize()) })
        }
        .await;
        self.finish(tenant, recording_id, temp, file, result).await
    }

    /// Removes a recording's file; a file already gone is fine.
    pub async fn remove(&self, tenant: &str, recording_id: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path(tenant, recording_id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn temp_file(&self, tenant: &str) -> std::io::Result<(PathBuf, tokio::fs::File)> {
        let dir = self.root.join(tenant);
        tokio::fs::create_dir_all(&dir).await?;
        let temp = dir.join(format!(".incoming-{}", uuid::Uuid::new_v4()));
        let file = tokio::fs::File::create(&temp).await?;
        Ok((temp, file))
    }

    async fn finish(
        &self,
        tenant: &str,
        recording_id: &str,
        temp: PathBuf,
        mut file: tokio::fs::File,
        result: Result<Written, WriteError>,
    ) -> Result<Written, WriteError> {
        let done = async {
            let written = result?;
            if written.size == 0 {
                return Err(WriteError::Empty);
            }
            file.flush().await?;
            file.sync_all().await?;
            tokio::fs::rename(&temp, self.path(tenant, recording_id)).await?;
            Ok(written)
        }
        .await;
        if done.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn metadata_is_read_with_every_problem_named() {
        let meta = meta_from_body(
            "rec-1",
            &body(json!({
                "global_interaction_id": "gi-1",
                "call_started_at": "2024-05-01T11:30:00+02:00",
                "agent_login": "jo",
                "direction": "inbound",
                "service": "Sales EU",
                "flagged": true,
            })),
        )
        .unwrap();
        assert_eq!(meta.call_started_at.to_rfc3339(), "2024-05-01T09:30:00+00:00");
        assert_eq!((meta.service.as_str(), meta.flagged, meta.customer_phone.as_str()), ("Sales EU", true, ""));

        let errors = meta_from_body(
            "bad id",
            &body(json!({"call_started_at": "yesterday", "agent_login": 7, "direction": " ", "colour": "red"})),
        )
        .unwrap_err();
        let named: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(
            named,
            [
                ("recording_id", "recording_id"),
                ("colour", "unknown_field"),
                ("global_interaction_id", "required"),
                ("agent_login", "type"),
                ("direction", "required"),
                ("service", "required"),
                ("call_started_at", "rfc3339"),
            ]
        );
    }

    fn valid() -> Map<String, Value> {
        body(json!({"global_interaction_id": "gi-1", "call_started_at": "2024-05-01T09:30:00Z",
            "agent_login": "jo", "direction": "inbound", "service": "Sales"}))
    }

    /// The (field, rule) pairs refused when `field` is set to `value` in valid metadata.
    fn refused(field: &str, value: Value) -> Vec<(String, &'static str)> {
        let mut meta = valid();
        meta.insert(field.into(), value);
        match meta_from_body("rec-1", &meta) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.field, e.rule)).collect(),
        }
    }

    fn one(field: &str, rule: &'static str) -> Vec<(String, &'static str)> {
        vec![(field.to_owned(), rule)]
    }

    #[test]
    fn every_text_field_refuses_control_bidi_and_zero_width_characters() {
        let fields = request_fields::<RecordingMeta>();
        let texts = fields
            .iter()
            .filter(|f| !matches!(f.as_str(), "flagged" | "call_started_at" | "direction" | "customer_phone"));
        for field in texts {
            for bad in [
                "a\u{0}b",
                "a\u{1b}[2Jb",
                "a\nb",
                "a\tb",
                "a\u{7f}b",
                "a\u{85}b",
                "a\u{202e}b",
                "a\u{2066}b",
                "a\u{200f}b",
                "a\u{61c}b",
                "a\u{200b}b",
                "a\u{2060}b",
                "a\u{feff}b",
            ] {
                assert_eq!(refused(field, json!(bad)), one(field, "no_control_characters"), "{field}: {bad:?}");
            }
            assert_eq!(refused(field, json!("Zoë Ñúñez, 北京")), [], "{field}: other letters are fine");
        }
        for field in ["direction", "customer_phone", "call_started_at"] {
            assert_eq!(refused(field, json!("\u{202e}")), one(field, "no_control_characters"), "{field}");
        }
    }

    #[test]
    fn lengths_are_bounded() {
        assert_eq!(refused("agent_login", json!("a".repeat(255))), []);
        assert_eq!(refused("agent_login", json!("a".repeat(256))), one("agent_login", "max_length"));
        assert_eq!(
            refused("disposition", json!("é".repeat(256))),
            one("disposition", "max_length"),
            "characters, not bytes"
        );
    }

    #[test]
    fn direction_is_one_of_the_call_directions() {
        for ok in ["inbound", "outbound", "internal", " inbound "] {
            assert_eq!(refused("direction", json!(ok)), [], "{ok}");
        }
        for bad in ["Inbound", "sideways", "in bound", "inbound\u{200b}x"] {
            assert!(!refused("direction", json!(bad)).is_empty(), "{bad}");
        }
        assert_eq!(refused("direction", json!("sideways")), one("direction", "enum"));
        assert_eq!(refused("direction", json!(" ")), one("direction", "required"));
        assert_eq!(refused("direction", json!(1)), one("direction", "type"));
    }

    #[test]
    fn customer_phone_has_the_documented_shape() {
        for ok in ["+1 555 0100", "+15550100", "(030) 123-45", "030.123.45", "1001", "", "12345678901234567890"] {
            assert_eq!(refused("customer_phone", json!(ok)), [], "{ok}");
        }
        for bad in [
            "call me",
            "+",
            "++1",
            "-1",
            "=1+1",
            "+1 555 0100 x12",
            "123456789012345678901",
            "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7",
            "+١٢٣",
        ] {
            assert_eq!(refused("customer_phone", json!(bad)), one("customer_phone", "phone"), "{bad:?}");
        }
    }

    #[test]
    fn call_time_is_rfc3339_within_bounds() {
        assert_eq!(refused("call_started_at", json!("2000-01-01T00:00:00Z")), []);
        assert_eq!(refused("call_started_at", json!("2000-01-01T00:59:59+01:00")), one("call_started_at", "range"));
        assert_eq!(refused("call_started_at", json!("1970-01-01T00:00:00Z")), one("call_started_at", "range"));
        let soon = (Utc::now() + chrono::TimeDelta::hours(23)).to_rfc3339();
        let later = (Utc::now() + chrono::TimeDelta::hours(25)).to_rfc3339();
        assert_eq!(refused("call_started_at", json!(soon)), [], "a platform clock a little ahead");
        assert_eq!(refused("call_started_at", json!(later)), one("call_started_at", "range"));
        assert_eq!(refused("call_started_at", json!("2024-05-01 09:30")), one("call_started_at", "rfc3339"));
        assert_eq!(refused("call_started_at", json!(20240501)), one("call_started_at", "type"));
    }

    #[test]
    fn flagged_is_a_boolean() {
        assert_eq!(refused("flagged", json!(false)), []);
        assert_eq!(refused("flagged", json!("yes")), one("flagged", "type"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = meta_from_body(
            "rec-1",
            &body(json!({"global_interaction_id": "g\u{0}", "call_started_at": "1999-12-31T23:59:59Z",
                "agent_login": "jo", "direction": "up", "service": "S\u{202e}", "customer_phone": "x"})),
        )
        .unwrap_err();
        let named: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(
            named,
            [
                ("global_interaction_id", "no_control_characters"),
                ("customer_phone", "phone"),
                ("direction", "enum"),
                ("service", "no_control_characters"),
                ("call_started_at", "range"),
            ]
        );
        assert!(errors.iter().all(|e| e.message.starts_with(&e.field)), "{errors:?}");
    }

    /// Arbitrary JSON values, biased toward the field names and values near the rules.
    fn json_value() -> impl Strategy<Value = Value> {
        let text = prop_oneof![
            any::<String>(),
            "[a-z +()0-9.-]{0,40}",
            prop_oneof![Just("inbound"), Just("outbound"), Just("2024-05-01T09:30:00Z"), Just("+1 555 0100")]
                .prop_map(String::from),
            prop::collection::vec(prop_oneof![any::<char>(), Just('\u{202e}'), Just('\u{0}'), Just('9')], 0..300)
                .prop_map(|c| c.into_iter().collect()),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn metadata_body() -> impl Strategy<Value = Map<String, Value>> {
        let key = prop_oneof![4 => prop::sample::select(request_fields::<RecordingMeta>()), 1 => any::<String>()];
        prop::collection::vec((key, json_value()), 0..14).prop_map(|kv| kv.into_iter().collect())
    }

    proptest! {
        #![proptest_config(patchbay_testkit::fuzz::config(1024))]

        /// Fuzz target: any JSON object and recording id give metadata or errors (no panic);
        /// every error names the recording id, a metadata field or a key of the body, with a
        /// rule and a message; accepted metadata holds no control, bidi or zero-width character.
        #[test]
        fn fuzz_recording_meta_any_json_object_gives_metadata_or_errors_naming_their_field(
            id in prop_oneof![Just("rec-1".to_owned()), any::<String>()],
            meta in metadata_body(),
        ) {
            match meta_from_body(&id, &meta) {
                Ok(m) => {
                    let texts = [&m.global_interaction_id, &m.agent_login, &m.agent_first_name, &m.agent_last_name,
                        &m.customer_phone, &m.service, &m.disposition];
                    prop_assert!(texts.iter().all(|t| !t.chars().any(patchbay_catalog::is_hidden_or_control)));
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        let named = e.field == "recording_id" || request_fields::<RecordingMeta>().contains(&e.field) || meta.contains_key(&e.field);
                        prop_assert!(named, "{e:?}");
                        prop_assert!(!e.rule.is_empty() && !e.message.is_empty(), "{e:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn content_types_map_to_extensions_and_back() {
        assert_eq!(extension_for("audio/wav"), Some("wav"));
        assert_eq!(extension_for("Audio/MPEG; charset=binary"), Some("mp3"));
        assert_eq!(extension_for("text/plain"), None);
        assert_eq!(content_type_for("WAV"), Some("audio/wav"));
        assert_eq!(content_type_for("exe"), None);
    }

    #[tokio::test]
    async fn audio_lands_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let audio = AudioDir::new(dir.path());
        let chunks = vec![Ok::<_, std::io::Error>(Bytes::from_static(b"RIFF")), Ok(Bytes::from_static(b"data"))];
        let written = audio.write("acme", "r1", futures::stream::iter(chunks), 100).await.unwrap();
        assert_eq!(written.size, 8);
        assert_eq!(written.sha256, hex::encode(Sha256::digest(b"RIFFdata")));
        assert_eq!(std::fs::read(audio.path("acme", "r1")).unwrap(), b"RIFFdata");

        let broken = vec![Ok(Bytes::from_static(b"RIFF")), Err(std::io::Error::other("connection reset"))];
        let err = audio.write("acme", "r1", futures::stream::iter(broken), 100).await.unwrap_err();
        assert!(matches!(err, WriteError::Body(ref m) if m.contains("connection reset")), "{err}");
        let big = vec![Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 101]))];
        assert!(matches!(
            audio.write("acme", "r1", futures::stream::iter(big), 100).await,
            Err(WriteError::TooLarge(100))
        ));
        assert_eq!(std::fs::read(audio.path("acme", "r1")).unwrap(), b"RIFFdata", "the earlier audio stays");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("acme")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");

        audio.remove("acme", "r1").await.unwrap();
        audio.remove("acme", "r1").await.unwrap();
        assert!(!audio.path("acme", "r1").exists());
    }
}
