//! Object keys from a job's key prefix and file name template.
//!
//! A template is literal text and tokens `$(name)` (the catalog lists them:
//! `patchbay_catalog::export_job::TOKENS`). The key of a recording
//! is `{prefix}{rendered template}_{recording id}.{extension}`:
//!
//! - **Safe characters.** Literal text of the prefix and template may hold only
//!   `A-Z a-z 0-9 . - _` and `/` between folders (no empty, `.` or `..` folder, no leading
//!   `/`). In token values every other character (spaces, `/`, `+`, `:`, non-ASCII, ...)
//!   becomes `_`, a leading `.` becomes `_`, an empty value becomes `-`, and a value is cut
//!   to 64 characters. Keys thus need no special handling by S3 or its clients.
//! - **No collisions.** The recording id always ends the name, after `_` and before the
//!   extension, and may hold only `A-Z a-z 0-9 -`: it contains neither `_` nor `.`, so the
//!   key determines the id (the id is what follows the last `_` and precedes the last `.`),
//!   and two recordings never share a key. `$(globalInteractionId)` is not enough on its
//!   own: it names the interaction, which may have several recordings (transfers,
//!   consultations), and making values safe is lossy (`a b` and `a_b` both give `a_b`).
//! - Times are UTC: `$(callDate)` is `YYYY-MM-DD`, `$(callTime)` is `HH-MM-SS`.

use chrono::{DateTime, Utc};
use patchbay_catalog::export_job::TOKENS;
use serde::{Deserialize, Serialize};

/// The metadata of one recording, as the intake receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingMeta {
    pub recording_id: String,
    pub global_interaction_id: String,
    pub call_started_at: DateTime<Utc>,
    pub agent_login: String,
    #[serde(default)]
    pub agent_first_name: String,
    #[serde(default)]
    pub agent_last_name: String,
    #[serde(default)]
    pub customer_phone: String,
    pub direction: String,
    pub service: String,
    #[serde(default)]
    pub disposition: String,
    #[serde(default)]
    pub flagged: bool,
}

/// Longest token value in a key, in characters.
const MAX_VALUE: usize = 64;
/// Longest recording id.
const MAX_ID: usize = 64;
/// S3's limit on key length, in bytes.
const MAX_KEY: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown token `$({0})` in the file name template; known tokens: {known}", known = known_tokens())]
    UnknownToken(String),
    #[error("`$(` at character {0} of the file name template is not closed by `)`")]
    Unclosed(usize),
    #[error("the {0} may not hold `{1}`; use letters, digits, `.`, `-`, `_`, tokens `$(...)` and `/` between folders")]
    Character(&'static str, char),
    #[error("the {0} has an empty, `.` or `..` folder (check for `//` and a leading or trailing `/`)")]
    Folder(&'static str),
    #[error("the key prefix must be empty or end with `/`")]
    PrefixEnd,
    #[error("the file name template is empty")]
    Empty,
    #[error("a recording id must be 1 to {MAX_ID} characters of A-Z, a-z, 0-9 and `-`")]
    RecordingId,
    #[error("the file extension must be 1 to 8 characters of a-z and 0-9")]
    Extension,
    #[error("the object key would be {0} bytes; S3 allows {MAX_KEY}")]
    TooLong(usize),
}

fn known_tokens() -> String {
    TOKENS.iter().map(|t| format!("$({})", t.name)).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Token(&'static str),
}

/// A checked key prefix and file name template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    prefix: String,
    pieces: Vec<Piece>,
}

fn literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/')
}

/// Refuses empty, `.` and `..` folders; `shape` has tokens replaced by a letter.
fn check_folders(shape: &str, what: &'static str) -> Result<(), TemplateError> {
    if shape.split('/').any(|segment| matches!(segment, "" | "." | "..")) {
        return Err(TemplateError::Folder(what));
    }
    Ok(())
}

/// Checks a recording id: 1 to 64 characters of `A-Z a-z 0-9 -`.
pub fn check_recording_id(id: &str) -> Result<(), TemplateError> {
    if id.is_empty() || id.len() > MAX_ID || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(TemplateError::RecordingId);
    }
    Ok(())
}

impl KeyTemplate {
    /// Checks `prefix` (empty or ending in `/`) and `template`, naming the first problem.
    pub fn new(prefix: &str, template: &str) -> Result<KeyTemplate, TemplateError> {
        if let Some(c) = prefix.chars().find(|c| !literal_char(*c)) {
            return Err(TemplateError::Character("key prefix", c));
        }
        if !prefix.is_empty() {
            if !prefix.ends_with('/') {
                return Err(TemplateError::PrefixEnd);
            }
            check_folders(&prefix[..prefix.len() - 1], "key prefix")?;
        }
        if template.is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut pieces = Vec::new();
        let mut shape = String::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find("$(") {
                Some(0) => {
                    let at = template.len() - rest.len();
                    let close = rest.find(')').ok_or(TemplateError::Unclosed(template[..at].chars().count()))?;
                    let name = &rest[2..close];
                    let token =
                        TOKENS.iter().find(|t| t.name == name).ok_or(TemplateError::UnknownToken(name.into()))?;
                    pieces.push(Piece::Token(token.name));
                    shape.push('x');
                    rest = &rest[close + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let text = &rest[..end];
                    if let Some(c) = text.chars().find(|c| !literal_char(*c)) {
                        return Err(TemplateError::Character("file name template", c));
                    }
                    pieces.push(Piece::Literal(text.to_owned()));
                    shape.push_str(text);
                    rest = &rest[end..];
                }
            }
        }
        check_folders(&shape, "file name template")?;
        Ok(KeyTemplate { prefix: prefix.to_owned(), pieces })
    }

    /// The object key of `meta` with file extension `extension` (e.g. `wav`).
    pub fn key(&self, meta: &RecordingMeta, extension: &str) -> Result<String, TemplateError> {
        check_recording_id(&meta.recording_id)?;
        if extension.is_empty()
            || extension.len() > 8
            || !extension.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(TemplateError::Extension);
        }
        let mut key = self.prefix.clone();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => key.push_str(text),
                Piece::Token(token) => key.push_str(&safe(&value(meta, token))),
            }
        }
        key.push('_');
        key.push_str(&meta.recording_id);
        key.push('.');
        key.push_str(extension);
        if key.len() > MAX_KEY {
            return Err(TemplateError::TooLong(key.len()));
        }
        Ok(key)
    }
}

fn value(meta: &RecordingMeta, token: &str) -> String {
    match token {
        "callDate" => meta.call_started_at.format("%Y-%m-%d").to_string(),
        "callTime" => meta.call_started_at.format("%H-%M-%S").to_string(),
        "agent" => meta.agent_login.clone(),
        "agentFirstName" => meta.agent_first_name.clone(),
        "agentLastName" => meta.agent_last_name.clone(),
        "customerPhone" => meta.customer_phone.clone(),
        "direction" => meta.direction.clone(),
        "service" => meta.service.clone(),
        "disposition" => meta.disposition.clone(),
        "flagged" => meta.flagged.to_string(),
        "globalInteractionId" => meta.global_interaction_id.clone(),
        other => unreachable!("`{other}` is not in TOKENS"),
    }
}

/// A token value made safe for a key (see the module docs).
fn safe(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(MAX_VALUE)
        .enumerate()
        .map(|(i, c)| match c {
            '.' if i == 0 => '_',
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') => c,
            _ => '_',
        })
        .collect();
    if out.is_empty() {
        out.push('-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str) -> RecordingMeta {
        RecordingMeta {
            recording_id: id.to_owned(),
            global_interaction_id: "GI-0001".to_owned(),
            call_started_at: DateTime::parse_from_rfc3339("2024-05-01T14:05:09Z").unwrap().with_timezone(&Utc),
            agent_login: "j.smith".to_owned(),
            agent_first_name: "José María".to_owned(),
            agent_last_name: "O'Brien/Smith".to_owned(),
            customer_phone: "+1 (555) 010-2030".to_owned(),
            direction: "inbound".to_owned(),
            service: "Sales EU".to_owned(),
            disposition: String::new(),
            flagged: true,
        }
    }

    #[test]
    fn every_token_renders_and_unsafe_characters_become_underscores() {
        let all: String = TOKENS.iter().map(|t| format!("$({})", t.name)).collect::<Vec<_>>().join("-");
        let key = KeyTemplate::new("calls/", &all).unwrap().key(&meta("r1"), "wav").unwrap();
        assert_eq!(
            key,
            "calls/2024-05-01-14-05-09-j.smith-Jos__Mar_a-O_Brien_Smith-_1__555__010-2030-inbound-Sales_EU---true-GI-0001_r1.wav"
        );
        assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b"./-_".contains(&b)), "{key}");
    }

    #[test]
    fn folders_come_only_from_the_template_and_values_cannot_climb() {
        let template = KeyTemplate::new("", "$(service)/$(callDate)/$(agent)").unwrap();
        let mut m = meta("r2");
        m.service = "../etc".to_owned();
        m.agent_login = "..".to_owned();
        assert_eq!(template.key(&m, "mp3").unwrap(), "_._etc/2024-05-01/_._r2.mp3");
        let mut long = meta("r3");
        long.service = "s".repeat(500);
        let key = template.key(&long, "wav").unwrap();
        assert!(key.starts_with(&format!("{}/", "s".repeat(64))), "{key}");
    }

    #[test]
    fn the_recording_id_always_ends_the_name_so_keys_never_collide() {
        let template = KeyTemplate::new("", "$(callDate)_$(agent)").unwrap();
        let a = template.key(&meta("rec-1"), "wav").unwrap();
        let b = template.key(&meta("rec-2"), "wav").unwrap();
        assert_eq!(a, "2024-05-01_j.smith_rec-1.wav");
        assert_ne!(a, b, "same metadata, different recordings");
        // Values whose safe forms agree, even with the interaction id in the template.
        let with_gi = KeyTemplate::new("", "$(globalInteractionId)_$(service)").unwrap();
        let (mut x, mut y) = (meta("x1"), meta("y1"));
        x.service = "a b".to_owned();
        y.service = "a_b".to_owned();
        assert_ne!(with_gi.key(&x, "wav").unwrap(), with_gi.key(&y, "wav").unwrap());
        // The id cannot contain `_` or `.`, so it cannot pose as part of the name.
        for bad in ["a_b", "a.b", "", "a/b", "a b", &"x".repeat(65)] {
            assert_eq!(template.key(&meta(bad), "wav").unwrap_err(), TemplateError::RecordingId, "{bad:?}");
        }
        assert_eq!(template.key(&meta("r"), "WAV").unwrap_err(), TemplateError::Extension);
        assert_eq!(template.key(&meta("r"), "w.av").unwrap_err(), TemplateError::Extension);
    }

    #[test]
    fn unknown_tokens_and_unsafe_templates_are_refused_naming_the_problem() {
        let err = KeyTemplate::new("", "$(callDate)_$(agentName)").unwrap_err();
        assert_eq!(err, TemplateError::UnknownToken("agentName".into()));
        assert!(err.to_string().contains("`$(agentName)`") && err.to_string().contains("$(agentFirstName)"));
        assert_eq!(KeyTemplate::new("", "x_$(agent").unwrap_err(), TemplateError::Unclosed(2));
        assert_eq!(KeyTemplate::new("", "a b").unwrap_err(), TemplateError::Character("file name template", ' '));
        assert_eq!(KeyTemplate::new("", "a$b").unwrap_err(), TemplateError::Character("file name template", '$'));
        assert_eq!(KeyTemplate::new("", "").unwrap_err(), TemplateError::Empty);
        for bad in ["/$(agent)", "$(agent)/", "a//$(agent)", "../$(agent)", "./x"] {
            assert_eq!(KeyTemplate::new("", bad).unwrap_err(), TemplateError::Folder("file name template"), "{bad}");
        }
        assert_eq!(KeyTemplate::new("calls", "$(agent)").unwrap_err(), TemplateError::PrefixEnd);
        assert_eq!(KeyTemplate::new("a//", "$(agent)").unwrap_err(), TemplateError::Folder("key prefix"));
        assert_eq!(KeyTemplate::new("a b/", "$(agent)").unwrap_err(), TemplateError::Character("key prefix", ' '));
        assert!(KeyTemplate::new("tenant-1/calls/", "$(callDate)/x.$(agent)").is_ok());
    }

    #[test]
    fn metadata_reads_the_intake_json_with_optional_fields() {
        let m: RecordingMeta = serde_json::from_value(serde_json::json!({
            "recording_id": "r1", "global_interaction_id": "g", "call_started_at": "2024-05-01T16:05:09+02:00",
            "agent_login": "a", "direction": "outbound", "service": "s"
        }))
        .unwrap();
        assert_eq!(m.call_started_at.to_rfc3339(), "2024-05-01T14:05:09+00:00");
        assert!(!m.flagged && m.disposition.is_empty());
        let key = KeyTemplate::new("", "$(callTime)_$(disposition)").unwrap().key(&m, "wav").unwrap();
        assert_eq!(key, "14-05-09_-_r1.wav");
    }
}
