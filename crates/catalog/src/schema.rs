//! JSON Schema (draft 2020-12) of a provider's `properties` object, derived from the fields.
//! Secrets are `writeOnly`; fixed fields are `const`; conditional requirements are `if/then`.

use serde_json::{json, Map, Value};

use crate::model::*;

impl Provider {
    pub fn json_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut conditions = Vec::new();
        for field in &self.fields {
            properties.insert(field.key.clone(), field.json_schema());
            match &field.required {
                Required::Never => {}
                Required::Always => required.push(Value::String(field.key.clone())),
                Required::If { field: other, equals } => conditions.push(json!({
                    "if": {"properties": {*other: {"const": equals}}, "required": [other]},
                    "then": {"required": [field.key]},
                })),
            }
        }
        let mut schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.label,
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        });
        if !conditions.is_empty() {
            schema["allOf"] = Value::Array(conditions);
        }
        schema
    }
}

impl Field {
    pub fn json_schema(&self) -> Value {
        let mut s = match &self.kind {
            FieldKind::Text { max_len, rule } => {
                let mut s = json!({"type": "string", "maxLength": max_len});
                match rule {
                    Some(TextRule::Hostname) => s["format"] = json!("hostname"),
                    Some(TextRule::Email) => s["format"] = json!("email"),
                    Some(TextRule::BucketName) => {
                        s["pattern"] = json!("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$");
                    }
                    Some(TextRule::HostPort) => s["pattern"] = json!("^.+:[0-9]{1,5}$"),
                    Some(TextRule::PemCertificate) => s["contentMediaType"] = json!("application/x-pem-file"),
                    None => {}
                }
                s
            }
            FieldKind::Secret { max_len } => {
                json!({"type": ["string", "null"], "minLength": 1, "maxLength": max_len, "writeOnly": true})
            }
            FieldKind::Url { schemes } => json!({
                "type": "string",
                "format": "uri",
                "pattern": format!("^({})://", schemes.join("|")),
            }),
            FieldKind::Integer { min, max, .. } => json!({"type": "integer", "minimum": min, "maximum": max}),
            FieldKind::Bool => json!({"type": "boolean"}),
            FieldKind::Enum { choices } => json!({"enum": choices.iter().map(|c| c.value).collect::<Vec<_>>()}),
            FieldKind::Mapping { value, .. } => {
                let value = match value {
                    MappingValue::Text { max_len } => json!({"type": "string", "minLength": 1, "maxLength": max_len}),
                    MappingValue::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
                };
                json!({"type": "object", "additionalProperties": value})
            }
            FieldKind::ContactFieldMapping => json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "external_field": {"type": "string", "minLength": 1},
                        "contact_field": {"type": ["string", "null"]},
                    },
                    "required": ["external_field"],
                    "additionalProperties": false,
                },
            }),
            FieldKind::RecordFieldSizes { fields } => {
                let props: Map<String, Value> = fields
                    .iter()
                    .map(|f| {
                        (
                            f.key.to_owned(),
                            json!({"type": "integer", "minimum": f.min, "maximum": f.max, "default": f.default, "title": f.label}),
                        )
                    })
                    .collect();
                json!({"type": "object", "properties": props, "additionalProperties": false})
            }
        };
        s["title"] = json!(self.label);
        s["description"] = json!(self.help);
        if let Some(default) = &self.default {
            if self.fixed {
                s["const"] = default.clone();
                s["readOnly"] = json!(true);
            }
            s["default"] = default.clone();
        }
        if let Some(example) = self.example {
            s["examples"] = json!([example]);
        }
        s
    }
}
