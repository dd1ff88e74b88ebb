//! Receiving recordings: their metadata, checked field by field, and their audio, streamed
//! into the data dir (`recordings/{tenant}/{recording id}.audio`) through a temporary file
//! that is synced and renamed into place only when complete, so a crash never leaves a
//! half-written recording where the exporter would find it.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use patchbay_catalog::FieldError;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::template::{check_recording_id, RecordingMeta};

/// Longest accepted metadata value, in characters.
const MAX_VALUE: usize = 255;

/// The metadata fields a recording body may hold.
pub const META_FIELDS: &[&str] = &[
    "global_interaction_id",
    "call_started_at",
    "agent_login",
    "agent_first_name",
    "agent_last_name",
    "customer_phone",
    "direction",
    "service",
    "disposition",
    "flagged",
];

/// Reads a recording's metadata body. Every problem is reported, naming its field and rule.
pub fn meta_from_body(recording_id: &str, body: &Map<String, Value>) -> Result<RecordingMeta, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut error = |field: &str, rule: &'static str, message: String| {
        errors.push(FieldError { field: field.into(), rule, message })
    };
    if let Err(e) = check_recording_id(recording_id) {
        error("recording_id", "recording_id", e.to_string());
    }
    for field in body.keys().filter(|k| !META_FIELDS.contains(&k.as_str())) {
        error(field, "unknown_field", format!("{field} is not a recording field; known: {}", META_FIELDS.join(", ")));
    }
    let mut text = |field: &str, required: bool| match body.get(field) {
        None | Some(Value::Null) if required => {
            error(field, "required", format!("{field} is required"));
            String::new()
        }
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if required && s.trim().is_empty() => {
            error(field, "required", format!("{field} must not be empty"));
            String::new()
        }
        Some(Value::String(s)) if s.chars().count() > MAX_VALUE => {
            error(field, "max_length", format!("{field} must be at most {MAX_VALUE} characters"));
            String::new()
        }
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => {
            error(field, "type", format!("{field} must be a string"));
            String::new()
        }
    };
    let global_interaction_id = text("global_interaction_id", true);
    let agent_login = text("agent_login", true);
    let agent_first_name = text("agent_first_name", false);
    let agent_last_name = text("agent_last_name", false);
    let customer_phone = text("customer_phone", false);
    let direction = text("direction", true);
    let service = text("service", true);
    let disposition = text("disposition", false);
    let started = text("call_started_at", true);
    let call_started_at = match DateTime::parse_from_rfc3339(&started) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => {
            if !started.is_empty() {
                error(
                    "call_started_at",
                    "rfc3339",
                    "call_started_at must be an RFC 3339 time, e.g. 2024-05-01T09:30:00Z".into(),
                );
            }
            DateTime::<Utc>::UNIX_EPOCH
        }
    };
    let flagged = match body.get("flagged") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            error("flagged", "type", "flagged must be true or false".into());
            false
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RecordingMeta {
        recording_id: recording_id.to_owned(),
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
    })
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
        self.root.join(tenant).join(format!("{recording_id}.audio"))
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
