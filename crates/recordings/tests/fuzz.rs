//! Fuzz target of the object keys (see `scripts/fuzz`): key prefixes and file name
//! templates from their grammar (literals, folders, known and unknown tokens, unclosed
//! `$(`, unsafe characters) and byte-mutated, with arbitrary metadata. Keys keep the
//! promises of docs/recordings.md "Object keys"; every template error names its field.

use chrono::{DateTime, TimeZone, Utc};
use patchbay_catalog::export_job::TOKENS;
use patchbay_recordings::{settings_from_body, KeyTemplate, RecordingMeta, TemplateError};
use patchbay_testkit::fuzz::{config, hostile_text, mutated_text};
use proptest::prelude::*;
use serde_json::json;

/// S3's limit, in bytes, as the docs give it.
const MAX_KEY_BYTES: usize = 1024;

/// The characters a key may hold: the safe set and `/` between folders.
fn safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/')
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9._-]{1,6}",
        2 => Just("/".to_owned()),
        4 => prop::sample::select(TOKENS.iter().map(|t| t.name).collect::<Vec<_>>()).prop_map(|t| format!("$({t})")),
        1 => hostile_text().prop_map(|t| format!("$({t})")),
        1 => Just("$(agent".to_owned()),
        1 => prop::sample::select(vec![".", "..", "$", "(", ")", " ", "\\", "\0", "é"]).prop_map(str::to_owned),
    ]
}

fn template() -> impl Strategy<Value = String> {
    let grammar = proptest::collection::vec(piece(), 0..10).prop_map(|p| p.concat()).boxed();
    prop_oneof![
        4 => grammar.clone(),
        2 => mutated_text(grammar),
        1 => hostile_text(),
        1 => Just(TOKENS.iter().map(|t| format!("$({})", t.name)).collect::<Vec<_>>().join("/")),
    ]
}

fn prefix() -> impl Strategy<Value = String> {
    let folders = proptest::collection::vec("[A-Za-z0-9._-]{1,12}", 0..4)
        .prop_map(|f| f.iter().map(|f| format!("{f}/")).collect::<String>())
        .boxed();
    prop_oneof![4 => folders.clone(), 1 => mutated_text(folders), 1 => hostile_text()]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("../../etc/passwd".to_owned()),
        hostile_text(),
        "[a-z/. ]{60,70}",
        proptest::collection::vec(any::<char>(), 0..200).prop_map(|c| c.into_iter().collect()),
    ]
}

fn recording_id() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[A-Za-z0-9-]{1,64}", 1 => hostile_text(), 1 => "[a-z]{65}"]
}

fn extension() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z0-9]{1,8}", 1 => hostile_text()]
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        4 => (0i64..4_102_444_800).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap()),
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => Just(DateTime::<Utc>::MAX_UTC),
    ]
}

prop_compose! {
    fn meta()(
        recording_id in recording_id(),
        strings in proptest::collection::vec(value(), 8),
        call_started_at in instant(),
        flagged in any::<bool>(),
    ) -> RecordingMeta {
        let [gi, login, first, last, phone, direction, service, disposition]: [String; 8] = strings.try_into().unwrap();
        RecordingMeta {
            recording_id,
            global_interaction_id: gi,
            call_started_at,
            agent_login: login,
            agent_first_name: first,
            agent_last_name: last,
            customer_phone: phone,
            direction,
            service,
            disposition,
            flagged,
        }
    }
}

/// A token value as the docs make it safe: unsafe characters become `_`, a leading `.`
/// becomes `_`, empty becomes `-`, at most 64 characters.
fn safe_value(value: &str) -> String {
    let out: String = value
        .chars()
        .take(64)
        .enumerate()
        .map(|(i, c)| if (c == '.' && i == 0) || !safe_char(c) || c == '/' { '_' } else { c })
        .collect();
    if out.is_empty() {
        "-".to_owned()
    } else {
        out
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_extension(ext: &str) -> bool {
    (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The field a job body's error must name when only one of prefix and template is bad.
fn job_errors(prefix: &str, template: &str) -> Vec<(String, &'static str)> {
    let body = json!({"services": ["Sales"], "key_prefix": prefix, "filename_template": template});
    match settings_from_body(body.as_object().unwrap()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| (e.field, e.rule)).collect(),
    }
}

proptest! {
    #![proptest_config(config(2048))]

    /// Keys are what the docs promise; refusals name the broken part.
    #[test]
    fn fuzz_s3_key_templates_make_safe_keys(prefix in prefix(), template in template(), meta in meta(), ext in extension()) {
        let checked = KeyTemplate::new(&prefix, &template);
        let errors = job_errors(&prefix, &template);
        prop_assert_eq!(checked.is_ok(), errors.is_empty(), "{:?}", errors);
        for (field, rule) in &errors {
            prop_assert!(field == "key_prefix" || field == "filename_template", "{} names no template field", field);
            prop_assert_eq!(*rule, "template");
        }
        let prefix_alone = KeyTemplate::new(&prefix, "x").is_ok();
        let template_alone = KeyTemplate::new("", &template).is_ok();
        if prefix_alone && !template_alone {
            prop_assert_eq!(&errors, &vec![("filename_template".to_owned(), "template")]);
        }
        if template_alone && !prefix_alone {
            prop_assert_eq!(&errors, &vec![("key_prefix".to_owned(), "template")]);
        }
        let Ok(keys) = checked else { return Ok(()) };
        match keys.key(&meta, &ext) {
            Err(TemplateError::RecordingId) => prop_assert!(!valid_id(&meta.recording_id)),
            Err(TemplateError::Extension) => prop_assert!(valid_id(&meta.recording_id) && !valid_extension(&ext)),
            Err(TemplateError::TooLong(n)) => prop_assert!(n > MAX_KEY_BYTES),
            Err(other) => prop_assert!(false, "a checked template failed with {:?}", other),
            Ok(key) => {
                prop_assert!(valid_id(&meta.recording_id) && valid_extension(&ext));
                prop_assert!(key.len() <= MAX_KEY_BYTES, "{} bytes", key.len());
                prop_assert!(key.chars().all(safe_char), "unsafe character in {:?}", key);
                prop_assert!(!key.starts_with('/'), "{:?}", key);
                prop_assert!(key.split('/').all(|s| !matches!(s, "" | "." | "..")), "empty, . or .. folder in {:?}", key);
                prop_assert!(key.starts_with(&prefix), "{:?} lost its prefix", key);
                let tail = format!("_{}.{ext}", meta.recording_id);
                prop_assert!(key.ends_with(&tail), "{:?} does not end with {:?}", key, tail);
                let literal_slashes = template.split("$(").enumerate()
                    .map(|(i, part)| if i == 0 { part } else { part.split_once(')').map_or("", |(_, rest)| rest) })
                    .map(|part| part.matches('/').count())
                    .sum::<usize>();
                prop_assert_eq!(key.matches('/').count(), prefix.matches('/').count() + literal_slashes, "a value added a folder: {:?}", key);
            }
        }
    }

    /// Token values follow the docs' safety rule: the metadata's text in every text token,
    /// and the call's UTC date and time and the flag in theirs.
    #[test]
    fn fuzz_s3_key_token_values_follow_the_safety_rule(
        meta in meta(),
        text in value(),
        id in "[A-Za-z0-9-]{1,64}",
        token in prop::sample::select(TOKENS.iter().map(|t| t.name).filter(|t| !["callDate", "callTime", "flagged"].contains(t)).collect::<Vec<_>>()),
    ) {
        let meta = RecordingMeta {
            recording_id: id.clone(),
            global_interaction_id: text.clone(),
            agent_login: text.clone(),
            agent_first_name: text.clone(),
            agent_last_name: text.clone(),
            customer_phone: text.clone(),
            direction: text.clone(),
            service: text.clone(),
            disposition: text.clone(),
            ..meta
        };
        let key = |template: &str| KeyTemplate::new("", template).unwrap().key(&meta, "wav").unwrap();
        prop_assert_eq!(key(&format!("$({token})")), format!("{}_{id}.wav", safe_value(&text)));
        let at = meta.call_started_at;
        prop_assert_eq!(
            key("$(callDate)_$(callTime)_$(flagged)"),
            format!("{}_{}_{}_{id}.wav", safe_value(&at.format("%Y-%m-%d").to_string()), at.format("%H-%M-%S"), meta.flagged)
        );
    }
}
