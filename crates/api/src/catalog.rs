//! What the API's schemas take from the catalog: the keys of types and providers, the gated
//! types, the account bodies (one branch per type and provider with that provider's own
//! schema as `properties`), and the catalog as `GET /integration-types` shows it.

use std::borrow::Cow;

use patchbay_catalog::{catalog, Provider};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Every type key.
pub(crate) fn type_key(_: &mut SchemaGenerator) -> Schema {
    let keys: Vec<&str> = catalog().types.iter().map(|t| t.key).collect();
    json_schema!({"type": "string", "enum": keys})
}

/// Every provider key.
pub(crate) fn provider_key(_: &mut SchemaGenerator) -> Schema {
    let mut keys: Vec<&str> = catalog().types.iter().flat_map(|t| t.providers.iter().map(|p| p.key)).collect();
    keys.sort_unstable();
    keys.dedup();
    json_schema!({"type": "string", "enum": keys})
}

/// A list of gated type keys.
pub(crate) fn gated_types(_: &mut SchemaGenerator) -> Schema {
    let keys: Vec<&str> = catalog().types.iter().filter(|t| t.gated).map(|t| t.key).collect();
    json_schema!({"type": "array", "items": {"type": "string", "enum": keys}})
}

/// The rule of account, token and tenant names: no control characters, no space at the ends.
pub(crate) const NAME_PATTERN: &str = "^[^\\s\\x00-\\x1f\\x7f]([^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f])?$";

/// A provider's properties schema, embedded: `$schema` belongs to a document root only.
fn properties_schema(provider: &Provider) -> Value {
    let mut schema = provider.json_schema();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
    }
    schema
}

/// The same, with secrets never required: a stored account's secrets fill in the omitted ones.
fn secrets_optional(mut schema: Value) -> Value {
    let secrets: Vec<Value> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, field)| field["writeOnly"] == json!(true))
        .map(|(key, _)| json!(key))
        .collect();
    let keep = |list: &mut Value| {
        if let Some(list) = list.as_array_mut() {
            list.retain(|key| !secrets.contains(key));
        }
    };
    keep(&mut schema["required"]);
    if let Some(conditions) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
        conditions.iter_mut().for_each(|c| keep(&mut c["then"]["required"]));
    }
    schema
}

/// An account's name.
pub(crate) fn account_name(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "minLength": 1, "maxLength": 100, "pattern": NAME_PATTERN})
}

/// One branch per type and provider: `type` and `provider` fixed, `properties` that
/// provider's schema. `provider` may be left out where the type has one provider. For the
/// unsaved test (`saved_fills_in`), the name and secrets are optional and `id` may name the
/// saved account whose secrets fill in the omitted ones.
pub(crate) fn account_bodies(generator: &mut SchemaGenerator, saved_fills_in: bool) -> Schema {
    let name = Value::from(account_name(generator));
    let branches: Vec<Value> = catalog()
        .types
        .iter()
        .flat_map(|ty| {
            let name = name.clone();
            ty.providers.iter().map(move |provider| {
                let mut properties = Map::new();
                properties.insert("type".into(), json!({"const": ty.key}));
                properties.insert("provider".into(), json!({"const": provider.key}));
                properties.insert("name".into(), name.clone());
                properties.insert("enabled".into(), json!({"type": "boolean", "default": true}));
                let schema = properties_schema(provider);
                if saved_fills_in {
                    properties.insert("properties".into(), secrets_optional(schema));
                    properties.insert(
                        "id".into(),
                        json!({"type": "string", "format": "uuid", "description": "A saved account of the tenant."}),
                    );
                } else {
                    properties.insert("properties".into(), schema);
                }
                let mut required = vec!["type"];
                if ty.providers.len() > 1 {
                    required.push("provider");
                }
                if !saved_fills_in {
                    required.push("name");
                }
                json!({
                    "title": format!("{} / {}", ty.label, provider.label),
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                })
            })
        })
        .collect();
    json_schema!({"oneOf": branches})
}

/// The catalog: every type with its providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationTypes {
    pub items: Vec<IntegrationTypeInfo>,
}

/// One integration type as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationTypeInfo {
    #[schemars(schema_with = "type_key")]
    pub key: String,
    pub label: String,
    pub description: String,
    /// Further notes (entitlement, cardinality, where to find vendor guides).
    pub notes: Vec<String>,
    /// How many accounts a tenant may have: `{"rule": "many" | "one_per_tenant" (with its
    /// `group`) | "one_per_provider"}`.
    pub cardinality: Value,
    /// The service provider must enable the type for a tenant first.
    pub gated: bool,
    pub providers: Vec<ProviderInfo>,
}

/// One provider of a type: its fields, test, actions and the JSON Schema of its properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInfo {
    #[schemars(schema_with = "provider_key")]
    pub key: String,
    pub label: String,
    /// The fields in form order: key, label, kind, default, rules.
    pub fields: Vec<Value>,
    /// What "Test connection" does, or why there is none.
    pub test: Value,
    pub actions: Vec<Value>,
    /// The group of which one account of the tenant is the default, if any.
    pub default_group: Option<String>,
    /// The JSON Schema (draft 2020-12) of the provider's `properties`.
    pub json_schema: Value,
}

impl IntegrationTypes {
    /// The built-in catalog, as the API shows it.
    pub fn from_catalog(catalog: &patchbay_catalog::Catalog) -> IntegrationTypes {
        let items = catalog
            .types
            .iter()
            .map(|t| IntegrationTypeInfo {
                key: t.key.to_owned(),
                label: t.label.to_owned(),
                description: t.description.to_owned(),
                notes: t.notes.iter().map(|n| (*n).to_owned()).collect(),
                cardinality: value(&t.cardinality),
                gated: t.gated,
                providers: t
                    .providers
                    .iter()
                    .map(|p| ProviderInfo {
                        key: p.key.to_owned(),
                        label: p.label.to_owned(),
                        fields: p.fields.iter().map(value).collect(),
                        test: value(&p.test),
                        actions: p.actions.iter().map(value).collect(),
                        default_group: p.default_group.map(str::to_owned),
                        json_schema: p.json_schema(),
                    })
                    .collect(),
            })
            .collect();
        IntegrationTypes { items }
    }
}

/// A catalog description as JSON (plain data: it always serializes).
fn value<T: Serialize>(description: &T) -> Value {
    serde_json::to_value(description).unwrap_or(Value::Null)
}

impl JsonSchema for crate::AccountCreate {
    fn schema_name() -> Cow<'static, str> {
        "AccountCreate".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        account_bodies(generator, false)
    }
}

impl JsonSchema for crate::AccountTest {
    fn schema_name() -> Cow<'static, str> {
        "AccountTest".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        account_bodies(generator, true)
    }
}
