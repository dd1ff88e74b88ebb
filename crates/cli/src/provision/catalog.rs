//! What provisioning needs of the server's catalog (`GET /api/v1/integration-types`): the
//! types and whether they are gated, their providers, and each property's kind, default and
//! fixed value, to tell secrets from values and to compare values the way the server stores
//! them.

use patchbay_api::Operation;
use serde_json::{Map, Value};

use crate::client::{CliError, Client};

pub struct Catalog {
    types: Vec<TypeInfo>,
}

pub struct TypeInfo {
    pub key: String,
    pub gated: bool,
    pub providers: Vec<ProviderInfo>,
}

pub struct ProviderInfo {
    pub key: String,
    pub fields: Vec<FieldInfo>,
}

pub struct FieldInfo {
    pub key: String,
    kind: String,
    default: Option<Value>,
    fixed: bool,
    /// For record field sizes: each record field with its default size.
    record_defaults: Vec<(String, Value)>,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

impl Catalog {
    pub async fn fetch(client: &Client) -> Result<Catalog, CliError> {
        Ok(Catalog::parse(&client.get(&Operation::ListIntegrationTypes.url(&[])).await?))
    }

    fn parse(catalog: &Value) -> Catalog {
        let list = |v: &Value, key: &str| v[key].as_array().cloned().unwrap_or_default();
        let types = list(catalog, "items")
            .iter()
            .map(|t| TypeInfo {
                key: text(&t["key"]),
                gated: t["gated"] == true,
                providers: list(t, "providers")
                    .iter()
                    .map(|p| ProviderInfo {
                        key: text(&p["key"]),
                        fields: list(p, "fields")
                            .iter()
                            .map(|f| FieldInfo {
                                key: text(&f["key"]),
                                kind: text(&f["kind"]),
                                default: f.get("default").filter(|d| !d.is_null()).cloned(),
                                fixed: f["fixed"] == true,
                                record_defaults: list(f, "fields")
                                    .iter()
                                    .map(|r| (text(&r["key"]), r["default"].clone()))
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        Catalog { types }
    }

    pub fn get(&self, type_key: &str) -> Option<&TypeInfo> {
        self.types.iter().find(|t| t.key == type_key)
    }

    pub fn type_keys(&self) -> String {
        self.types.iter().map(|t| t.key.as_str()).collect::<Vec<_>>().join(", ")
    }

    pub fn gated_keys(&self) -> String {
        self.types.iter().filter(|t| t.gated).map(|t| t.key.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl TypeInfo {
    pub fn provider(&self, key: &str) -> Option<&ProviderInfo> {
        self.providers.iter().find(|p| p.key == key)
    }

    pub fn provider_keys(&self) -> String {
        self.providers.iter().map(|p| p.key.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl ProviderInfo {
    pub fn field(&self, key: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.key == key)
    }

    pub fn field_keys(&self) -> String {
        self.fields.iter().map(|f| f.key.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The non-secret properties the server stores for `given`: fixed properties hold their
    /// value, omitted or blank ones take their default, text is trimmed, tables are normalized.
    /// Values the server would refuse are kept as given, so they compare as a change and the
    /// server's error reaches the user.
    pub fn stored_form(&self, given: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for field in self.fields.iter().filter(|f| !f.is_secret()) {
            let value = if field.fixed {
                Some(field.default.clone().unwrap_or(Value::Null))
            } else {
                match given.get(&field.key).filter(|v| !is_blank(v)) {
                    Some(v) => Some(field.normalize(v)),
                    None => field.default.clone(),
                }
            };
            if let Some(value) = value {
                out.insert(field.key.clone(), value);
            }
        }
        out
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn trimmed(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.trim().to_owned()),
        other => other.clone(),
    }
}

impl FieldInfo {
    pub fn is_secret(&self) -> bool {
        self.kind == "secret"
    }

    pub fn is_fixed(&self) -> bool {
        self.fixed
    }

    fn normalize(&self, value: &Value) -> Value {
        match (self.kind.as_str(), value) {
            ("text" | "url", Value::String(_)) => trimmed(value),
            ("mapping", Value::Object(rows)) => {
                Value::Object(rows.iter().map(|(k, v)| (k.trim().to_owned(), trimmed(v))).collect())
            }
            ("contact_field_mapping", Value::Array(rows)) => Value::Array(
                rows.iter()
                    .map(|row| match row {
                        Value::Object(o) => {
                            let external = o.get("external_field").map(trimmed).unwrap_or_default();
                            let contact = o.get("contact_field").filter(|v| !is_blank(v)).map(trimmed);
                            let mut out = Map::new();
                            out.insert("external_field".into(), external);
                            out.insert("contact_field".into(), contact.unwrap_or(Value::Null));
                            for (k, v) in o.iter().filter(|(k, _)| *k != "external_field" && *k != "contact_field") {
                                out.insert(k.clone(), v.clone());
                            }
                            Value::Object(out)
                        }
                        other => other.clone(),
                    })
                    .collect(),
            ),
            ("record_field_sizes", Value::Object(sizes)) => {
                let mut out = Map::new();
                for (key, default) in &self.record_defaults {
                    let size = sizes.get(key).filter(|v| !v.is_null()).unwrap_or(default);
                    out.insert(key.clone(), size.clone());
                }
                for (k, v) in sizes {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
                Value::Object(out)
            }
            _ => value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn catalog() -> Catalog {
        Catalog::parse(&json!({"items": [{
            "key": "wfm", "gated": false,
            "providers": [{"key": "aspect", "fields": [
                {"key": "protocol", "kind": "enum", "default": "aspect", "fixed": true},
                {"key": "url", "kind": "url", "default": null, "fixed": false},
                {"key": "interval", "kind": "integer", "default": 30, "fixed": false},
                {"key": "token", "kind": "secret", "default": null, "fixed": false},
                {"key": "codes", "kind": "mapping", "default": {}, "fixed": false},
                {"key": "rows", "kind": "contact_field_mapping", "default": null, "fixed": false},
                {"key": "sizes", "kind": "record_field_sizes", "fixed": false,
                 "fields": [{"key": "agent_id", "default": 16}, {"key": "service", "default": 32}]}
            ]}]
        }]}))
    }

    #[test]
    fn stored_form_applies_defaults_fixed_values_and_trimming_like_the_server() {
        let catalog = catalog();
        let provider = catalog.get("wfm").unwrap().provider("aspect").unwrap();
        let given = json!({
            "url": " https://wfm.example.com/ ", "token": "x", "codes": {" Lunch ": " 1 "},
            "rows": [{"external_field": " a ", "contact_field": ""}], "sizes": {"service": 40}
        });
        let stored = provider.stored_form(given.as_object().unwrap());
        assert_eq!(
            Value::Object(stored),
            json!({
                "protocol": "aspect", "url": "https://wfm.example.com/", "interval": 30, "codes": {"Lunch": "1"},
                "rows": [{"external_field": "a", "contact_field": null}], "sizes": {"agent_id": 16, "service": 40}
            }),
            "the secret is left out; omitted values take their defaults"
        );
        let blank = provider.stored_form(json!({"url": "  ", "interval": null}).as_object().unwrap());
        assert_eq!(blank.get("url"), None);
        assert_eq!(blank["interval"], 30);
        let odd = provider.stored_form(json!({"interval": "30", "sizes": {"bogus": 1}}).as_object().unwrap());
        assert_eq!(odd["interval"], "30", "a value the server refuses stays as given");
        assert_eq!(odd["sizes"]["bogus"], 1);
    }
}
