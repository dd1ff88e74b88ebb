//! Request bodies are parsed by hand from JSON so that every shape problem names its field
//! and rule, the same way catalog validation does. A JSON body must say so in its
//! `Content-Type`, and an object may not name a key twice (which parsers resolve
//! differently, so a proxy and patchbay could read two different requests).

use std::cell::RefCell;
use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object body whose keys are checked against `allowed`.
pub struct Body {
    object: Map<String, Value>,
}

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
/// twice in one object is refused (422 naming it).
pub fn json_object(bytes: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Checked { path: String::new(), duplicate: &duplicate }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    let value = match parsed {
        Ok(value) => value,
        Err(e) => {
            return Err(match duplicate.into_inner() {
                Some(key) => ApiError::invalid(
                    key.clone(),
                    "duplicate_key",
                    format!("`{key}` appears more than once in its object; send each key once"),
                ),
                None => ApiError::BadRequest {
                    detail: format!("the request body is not valid JSON: {e}"),
                    errors: Vec::new(),
                },
            })
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

impl Body {
    pub fn parse(bytes: &Bytes, allowed: &[&str]) -> Result<Body, ApiError> {
        let object = json_object(bytes)?;
        for key in object.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::bad_field(
                    key.clone(),
                    "unknown_field",
                    format!("`{key}` is not accepted here; fields: {}", allowed.join(", ")),
                ));
            }
        }
        Ok(Body { object })
    }

    /// Fills in a value the caller left out.
    pub fn set(&mut self, key: &str, value: Value) {
        self.object.insert(key.to_owned(), value);
    }

    pub fn string(&self, key: &str) -> Result<Option<&str>, ApiError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::bad_field(key, "type", format!("`{key}` must be a string"))),
        }
    }

    pub fn required_string(&self, key: &str) -> Result<&str, ApiError> {
        self.string(key)?.ok_or_else(|| ApiError::invalid(key, "required", format!("`{key}` is required")))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::bad_field(key, "type", format!("`{key}` must be true or false"))),
        }
    }

    pub fn object(&self, key: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(ApiError::bad_field(key, "type", format!("`{key}` must be an object"))),
        }
    }

    pub fn string_list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ApiError::bad_field(key, "type", format!("`{key}` must be a list of strings")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::bad_field(key, "type", format!("`{key}` must be a list of strings"))),
        }
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
    fn json_media_types_are_recognised() {
        for yes in ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json"] {
            assert!(is_json(yes), "{yes}");
        }
        for no in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "application/jsonx"] {
            assert!(!is_json(no), "{no}");
        }
    }
}
