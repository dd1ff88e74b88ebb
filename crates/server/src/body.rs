//! Request bodies: JSON read into the API's request types (`patchbay_api`), so that every
//! shape problem names its field and rule, the same way catalog validation does. A JSON body
//! must say so in its `Content-Type`, and an object may not name a key twice (which parsers
//! resolve differently, so a proxy and patchbay could read two different requests).

use std::cell::RefCell;
use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The raw body of a request that takes JSON: a non-empty body must be sent as
/// `application/json` (or `application/*+json`), else 415.
pub struct JsonBytes(pub Bytes);

/// Whether a `Content-Type` value names JSON.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let json = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_json);
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!("the body is larger than {} bytes", crate::BODY_LIMIT))
            } else if timed_out(&rejection) {
                ApiError::RequestTimeout("the request body stopped arriving; send it again".into())
            } else {
                ApiError::BadRequest { detail: rejection.body_text(), errors: Vec::new() }
            }
        })?;
        if !bytes.is_empty() && !json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        Ok(JsonBytes(bytes))
    }
}

/// Whether reading a body failed because it stalled longer than the body-read timeout.
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The body as a JSON object, for handlers that check its fields themselves. A key named
/// twice in one object of a well-formed body is refused (422 naming it).
pub fn json_object(bytes: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Checked { path: String::new(), duplicate: &duplicate }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    let value = match parsed {
        Ok(value) => value,
        Err(e) => {
            // A key named twice is reported only in a well-formed body: one that is not JSON
            // at all is a 400 whatever came before the break.
            let well_formed = || serde_json::from_slice::<de::IgnoredAny>(bytes).is_ok();
            return Err(match duplicate.into_inner().filter(|_| well_formed()) {
                Some(key) => ApiError::invalid(
                    key.clone(),
                    "duplicate_key",
                    format!("`{key}` appears more than once in its object; send each key once"),
                ),
                None => ApiError::BadRequest {
                    detail: format!("the request body is not valid JSON: {e}"),
                    errors: Vec::new(),
                },
            });
        }
    };
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(ApiError::BadRequest { detail: "the request body must be a JSON object".into(), errors: Vec::new() }),
    }
}

/// Builds a `Value` like serde_json does, but fails on a key seen twice in one object and
/// remembers its path (`properties.url`, `items[2].name`).
struct Checked<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl Checked<'_> {
    fn child(&self, key: impl fmt::Display, index: bool) -> String {
        match (self.path.is_empty(), index) {
            (_, true) => format!("{}[{key}]", self.path),
            (true, false) => key.to_string(),
            (false, false) => format!("{}.{key}", self.path),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(Checked { path: self.child(items.len(), true), duplicate: self.duplicate })?
        {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.child(&key, false);
            if object.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(path);
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(Checked { path, duplicate: self.duplicate })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// The body read into `T`, a request type of the API. What does not fit is refused naming
/// the field: an unknown field or a wrong JSON kind is a 400, a missing required field a 422,
/// a value outside an enumeration a 422 listing the choices.
pub fn typed<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let object = json_object(bytes)?;
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| refusal(&e.path().to_string(), e.inner()))
}

/// A request type read from the body (see [`typed`]).
pub struct Input<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(request, state).await?;
        typed(&bytes).map(Input)
    }
}

/// The field a serde error names, as `parent.key` (`parent` is `.` at the top).
fn field_path(parent: &str, key: &str) -> String {
    if parent == "." {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The first `` `quoted` `` word of a serde message.
fn quoted(message: &str) -> Option<&str> {
    message.split('`').nth(1)
}

/// The choices serde lists after `expected one of`, unquoted.
fn choices(message: &str) -> String {
    match message.split_once("expected one of ") {
        Some((_, list)) => list.replace('`', ""),
        None => "none".to_owned(),
    }
}

/// A JSON kind as serde's `expected …` names it, in the words of our messages.
fn kind(expected: &str) -> &str {
    match expected {
        "a boolean" => "true or false",
        "a map" | "struct" => "an object",
        "a sequence" => "a list",
        "a string" | "a borrowed string" => "a string",
        other => other,
    }
}

/// The refusal of a body serde could not read into the request type. serde reports shape
/// errors as text only; the forms matched here are the ones `serde::de::Error` writes.
fn refusal(path: &str, error: &serde_json::Error) -> ApiError {
    let message = error.to_string();
    if message.starts_with("unknown field") {
        // serde_path_to_error's path already ends at the unknown key.
        let key = quoted(&message).unwrap_or("?");
        let field = if path == "." { key.to_owned() } else { path.to_owned() };
        let message = format!("`{key}` is not accepted here; fields: {}", choices(&message));
        ApiError::bad_field(field, "unknown_field", message)
    } else if message.starts_with("missing field") {
        let key = quoted(&message).unwrap_or("?");
        ApiError::invalid(field_path(path, key), "required", format!("`{key}` is required"))
    } else if message.starts_with("unknown variant") {
        ApiError::invalid(path, "choice", format!("{path} must be one of {}", choices(&message)))
    } else if let Some((_, expected)) = message.strip_prefix("invalid type: ").and_then(|m| m.split_once(", expected "))
    {
        ApiError::bad_field(path, "type", format!("`{path}` must be {}", kind(expected)))
    } else {
        ApiError::invalid(path, "value", format!("`{path}`: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(body: &str) -> Option<String> {
        match json_object(&Bytes::from(body.to_owned())) {
            Err(ApiError::Validation(errors)) => Some(errors[0].field.clone()),
            _ => None,
        }
    }

    #[test]
    fn a_key_named_twice_is_refused_naming_its_path() {
        assert_eq!(field_of(r#"{"name": "a", "name": "b"}"#).as_deref(), Some("name"));
        assert_eq!(field_of(r#"{"properties": {"url": "a", "url": "b"}}"#).as_deref(), Some("properties.url"));
        assert_eq!(field_of(r#"{"items": [{}, {"k": 1, "k": 2}]}"#).as_deref(), Some("items[1].k"));
    }

    #[test]
    fn objects_without_repeats_parse_as_serde_json_would() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": {"a": 1}}"#;
        let object = json_object(&Bytes::from(text)).unwrap();
        assert_eq!(Value::Object(object), serde_json::from_str::<Value>(text).unwrap());
        assert!(matches!(json_object(&Bytes::from("{} x")), Err(ApiError::BadRequest { .. })), "trailing text");
        assert!(matches!(json_object(&Bytes::from("[]")), Err(ApiError::BadRequest { .. })), "not an object");
    }

    #[test]
    fn a_body_that_is_not_json_is_a_400_even_when_a_key_repeats_before_it_breaks() {
        for body in [r#"{"a": 1, "a": 2"#, r#"{"a": 1, "a": 2} x"#, r#"{"a": 1, "a": 2,}"#, r#"{"a": 1, "a": [}"#] {
            assert!(matches!(json_object(&Bytes::from(body)), Err(ApiError::BadRequest { .. })), "{body}");
        }
        assert_eq!(field_of(r#"{"a": 1, "a": 1e400}"#).as_deref(), Some("a"), "well-formed, only out of range");
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "the fields are read by serde only")]
    struct Sample {
        name: String,
        enabled: Option<bool>,
        role: Option<patchbay_api::Role>,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "the fields are read by serde only")]
    struct Inner {
        list: Vec<String>,
    }

    /// The status, field, rule and message a body gets when read as `Sample`.
    fn refused(body: &str) -> (u16, String, &'static str, String) {
        let error = typed::<Sample>(&Bytes::from(body.to_owned())).expect_err("refused");
        let (status, errors) = match error {
            ApiError::BadRequest { errors, .. } => (400, errors),
            ApiError::Validation(errors) => (422, errors),
            other => panic!("{other:?}"),
        };
        let first = errors.into_iter().next().expect("a field error");
        (status, first.field, first.rule, first.message)
    }

    #[test]
    fn a_typed_body_names_the_field_and_rule_it_breaks() {
        assert!(typed::<Sample>(&Bytes::from(r#"{"name": "a", "enabled": null}"#)).is_ok());
        let unknown = refused(r#"{"name": "a", "nmae": "b"}"#);
        assert_eq!((unknown.0, unknown.1.as_str(), unknown.2), (400, "nmae", "unknown_field"));
        assert!(unknown.3.contains("name, enabled, role, inner"), "{}", unknown.3);
        assert_eq!(refused(r#"{"enabled": true}"#), (422, "name".into(), "required", "`name` is required".into()));
        assert_eq!(refused(r#"{"name": 5}"#), (400, "name".into(), "type", "`name` must be a string".into()));
        assert_eq!(
            refused(r#"{"name": "a", "enabled": "yes"}"#),
            (400, "enabled".into(), "type", "`enabled` must be true or false".into())
        );
        let role = refused(r#"{"name": "a", "role": "root"}"#);
        assert_eq!((role.0, role.1.as_str(), role.2), (422, "role", "choice"));
        assert!(role.3.contains("tenant_admin"), "{}", role.3);
        assert_eq!(refused(r#"{"name": "a", "inner": {}}"#).1, "inner.list");
        assert_eq!(refused(r#"{"name": "a", "inner": {"list": ["x", 1]}}"#).1, "inner.list[1]");
        assert_eq!(refused(r#"{"name": "a", "inner": {"list": [], "x": 1}}"#).1, "inner.x");
    }

    #[test]
    fn json_media_types_are_recognised() {
        for yes in ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json"] {
            assert!(is_json(yes), "{yes}");
        }
        for no in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "application/jsonx"] {
            assert!(!is_json(no), "{no}");
        }
    }
}

/// Fuzz target of the JSON body reader (see `scripts/fuzz`): arbitrary and byte-mutated
/// bodies, nesting far past serde_json's depth limit, huge numbers, and keys named twice at
/// any depth. Never a panic, a stack overflow or a 5xx; a repeated key is reported at its
/// real path.
#[cfg(test)]
mod fuzz {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use patchbay_testkit::fuzz::{config, hostile_text, json_value, mutated};
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    /// The nesting serde_json refuses (its recursion limit).
    const SERDE_JSON_MAX_LEVELS: usize = 128;

    /// What a body gets: a map, or the answer's status with the fields and rules it names.
    type Refusal = (StatusCode, Vec<(String, &'static str)>);

    fn read(bytes: &[u8]) -> Result<Map<String, Value>, Refusal> {
        json_object(&Bytes::copy_from_slice(bytes)).map_err(|e| {
            let fields = match &e {
                ApiError::Validation(errors) => errors.iter().map(|f| (f.field.clone(), f.rule)).collect(),
                _ => Vec::new(),
            };
            (e.into_response().status(), fields)
        })
    }

    /// A body is read as serde_json reads it, or refused with a 400 (422 for a repeated key
    /// in a well-formed body).
    fn agrees_with_serde(bytes: &[u8]) -> Result<(), TestCaseError> {
        let ours = read(bytes);
        match (serde_json::from_slice::<Value>(bytes), ours) {
            (Ok(Value::Object(theirs)), Ok(ours)) => prop_assert_eq!(theirs, ours),
            (Ok(Value::Object(_)), Err((status, _))) => {
                prop_assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "serde_json read an object we refused")
            }
            (_, Ok(ours)) => prop_assert!(false, "we read {:?} where serde_json read no object", ours),
            // Well-formed but no object, or a number out of range: a repeat may be named first.
            (_, Err((status, _))) if serde_json::from_slice::<de::IgnoredAny>(bytes).is_ok() => {
                prop_assert!(
                    status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
                    "{}",
                    status
                )
            }
            (_, Err((status, _))) => prop_assert_eq!(status, StatusCode::BAD_REQUEST, "broken JSON"),
        }
        Ok(())
    }

    /// A JSON tree whose objects can be written with a key twice.
    #[derive(Debug, Clone)]
    enum Node {
        Leaf(Value),
        List(Vec<Node>),
        Object(Vec<(String, Node)>),
    }

    fn node() -> impl Strategy<Value = Node> {
        let leaf = json_value().prop_map(Node::Leaf);
        leaf.prop_recursive(8, 64, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Node::List),
                proptest::collection::vec((prop_oneof!["[a-z]{1,2}", hostile_text()], inner), 0..5).prop_map(
                    |entries| {
                        let mut seen = std::collections::BTreeSet::new();
                        Node::Object(entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect())
                    }
                ),
            ]
        })
    }

    /// Writes `node`; keys are escaped as `\uXXXX` throughout when `escape` (the same key
    /// in another spelling).
    fn write(node: &Node, escape: bool, out: &mut String) {
        match node {
            Node::Leaf(v) => out.push_str(&v.to_string()),
            Node::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, escape, out);
                }
                out.push(']');
            }
            Node::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if escape {
                        out.push('"');
                        for unit in key.encode_utf16() {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                        out.push('"');
                    } else {
                        out.push_str(&serde_json::to_string(key).unwrap());
                    }
                    out.push(':');
                    write(value, escape, out);
                }
                out.push('}');
            }
        }
    }

    /// Paths (as `json_object` names them) of every object in `node`.
    fn objects(node: &Node, path: &str, out: &mut Vec<String>) {
        let child = |segment: String| if path.is_empty() { segment } else { format!("{path}.{segment}") };
        match node {
            Node::Leaf(_) => {}
            Node::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    objects(item, &format!("{path}[{i}]"), out);
                }
            }
            Node::Object(entries) => {
                out.push(path.to_owned());
                for (key, value) in entries {
                    objects(value, &child(key.clone()), out);
                }
            }
        }
    }

    /// Adds a repeat of a key to the object at `target` (an empty object gets `k` twice);
    /// returns the path the repeat must be reported at.
    fn repeat_key(node: &mut Node, path: &str, target: &str, which: Index) -> Option<String> {
        let child = |segment: String| if path.is_empty() { segment } else { format!("{path}.{segment}") };
        match node {
            Node::Leaf(_) => None,
            Node::List(items) => items
                .iter_mut()
                .enumerate()
                .find_map(|(i, item)| repeat_key(item, &format!("{path}[{i}]"), target, which)),
            Node::Object(entries) if path == target => {
                if entries.is_empty() {
                    entries.push(("k".into(), Node::Leaf(Value::Null)));
                }
                let key = entries[which.index(entries.len())].0.clone();
                entries.push((key.clone(), Node::Leaf(Value::Bool(true))));
                Some(child(key))
            }
            Node::Object(entries) => {
                entries.iter_mut().find_map(|(key, value)| repeat_key(value, &child(key.clone()), target, which))
            }
        }
    }

    fn object_body() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec((hostile_text(), node()), 0..5).prop_map(|entries| {
            let mut seen = std::collections::BTreeSet::new();
            let root = Node::Object(entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect());
            let mut out = String::new();
            write(&root, false, &mut out);
            out.into_bytes()
        })
    }

    /// `depth` opened arrays and objects, closed again when `closed`.
    fn nested(depth: usize, shape: &[bool], closed: bool) -> Vec<u8> {
        let mut out = b"{\"a\":".to_vec();
        for i in 0..depth {
            out.extend_from_slice(if shape[i % shape.len()] { b"{\"k\":" } else { b"[" });
        }
        out.extend_from_slice(b"0");
        if closed {
            for i in (0..depth).rev() {
                out.push(if shape[i % shape.len()] { b'}' } else { b']' });
            }
            out.push(b'}');
        }
        out
    }

    #[test]
    fn nesting_ten_thousand_deep_is_a_400_not_a_stack_overflow() {
        for shape in [[true], [false]] {
            for closed in [true, false] {
                let (status, _) = read(&nested(10_000, &shape, closed)).unwrap_err();
                assert_eq!(status, StatusCode::BAD_REQUEST, "shape {shape:?}, closed {closed}");
            }
        }
        assert!(read(&nested(100, &[true, false], true)).is_ok(), "100 levels are fine");
    }

    proptest! {
        #![proptest_config(config(1024))]

        #[test]
        fn fuzz_json_body_any_bytes(bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..256),
            mutated(object_body()),
            object_body(),
        ]) {
            agrees_with_serde(&bytes)?;
        }

        #[test]
        fn fuzz_json_body_deep_nesting(depth in prop_oneof![0usize..=10_000, 120usize..=136], shape in proptest::collection::vec(any::<bool>(), 1..4), closed in any::<bool>()) {
            let got = read(&nested(depth, &shape, closed));
            // The outer object is a level too; serde_json refuses the 128th.
            if depth + 1 >= SERDE_JSON_MAX_LEVELS || !closed {
                prop_assert_eq!(got.map_err(|(status, _)| status), Err(StatusCode::BAD_REQUEST));
            } else {
                prop_assert!(got.is_ok(), "{} levels", depth);
            }
        }

        #[test]
        fn fuzz_json_body_huge_numbers(
            sign in prop_oneof![Just(""), Just("-")],
            digits in "[1-9][0-9]{0,400}",
            fraction in prop::option::of("[0-9]{1,400}"),
            exponent in prop::option::of(-1000i32..=1000),
        ) {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            let exponent = exponent.map(|e| format!("e{e}")).unwrap_or_default();
            let body = format!("{{\"n\":{sign}{digits}{fraction}{exponent}}}");
            agrees_with_serde(body.as_bytes())?;
        }

        #[test]
        fn fuzz_json_body_repeated_key_is_named_by_its_path(
            entries in proptest::collection::vec((hostile_text(), node()), 0..5),
            target in any::<Index>(),
            which in any::<Index>(),
            escape in any::<bool>(),
        ) {
            let mut seen = std::collections::BTreeSet::new();
            let mut root = Node::Object(entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect());
            let mut paths = Vec::new();
            objects(&root, "", &mut paths);
            let target = paths[target.index(paths.len())].clone();
            let want = repeat_key(&mut root, "", &target, which).expect("the target is an object of the tree");
            let mut text = String::new();
            write(&root, escape, &mut text);
            match read(text.as_bytes()) {
                Err((StatusCode::UNPROCESSABLE_ENTITY, fields)) => {
                    prop_assert_eq!(fields, vec![(want, "duplicate_key")]);
                }
                Err((status, _)) if depth(&text) >= SERDE_JSON_MAX_LEVELS => prop_assert_eq!(status, StatusCode::BAD_REQUEST),
                other => prop_assert!(false, "{:?} for a repeated `{}` in {}", other, want, text),
            }
        }
    }

    /// The deepest nesting of arrays and objects in JSON text (brackets in strings count
    /// too, which only overestimates).
    fn depth(text: &str) -> usize {
        let (mut depth, mut deepest) = (0usize, 0);
        for b in text.bytes() {
            match b {
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }
}
