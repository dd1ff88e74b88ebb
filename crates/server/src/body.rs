//! Request bodies are parsed by hand from JSON so that every shape problem names its field
//! and rule, the same way catalog validation does.

use axum::body::Bytes;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object body whose keys are checked against `allowed`.
pub struct Body {
    object: Map<String, Value>,
}

/// The body as a JSON object, for handlers that check its fields themselves.
pub fn json_object(bytes: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest {
        detail: format!("the request body is not valid JSON: {e}"),
        errors: Vec::new(),
    })?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(ApiError::BadRequest { detail: "the request body must be a JSON object".into(), errors: Vec::new() }),
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
