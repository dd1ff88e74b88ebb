//! Validation of account input against the catalog. Every problem is reported (not just the
//! first), each naming the field path and a stable rule identifier.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::*;

/// Account input as it arrives (create, full update, or an unsaved connection test).
#[derive(Debug, Clone, Copy)]
pub struct AccountInput<'a> {
    pub type_key: &'a str,
    pub provider: &'a str,
    pub name: &'a str,
    pub properties: &'a Map<String, Value>,
}

/// What the caller knows about the tenant and the stored account.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidationContext<'a> {
    /// Gated types the service provider enabled for the tenant.
    pub enabled_types: &'a [String],
    /// Secret fields the stored account already has (empty for a new account).
    pub existing_secrets: &'a [String],
    /// The stored account's non-secret properties (none for a new account): when a target
    /// field differs from them, the stored secrets are not reused.
    pub stored_properties: Option<&'a Map<String, Value>>,
    /// The operator allows http:// on loopback hosts in the fields marked `loopback_http`.
    pub allow_loopback_http: bool,
}

/// A change to one secret field. The value itself stays in the input: the catalog only
/// checks its shape and never hands it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOp {
    Set,
    Clear,
}

/// Valid input, normalized: defaults and fixed values applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// Non-secret properties with their final values.
    pub properties: Map<String, Value>,
    /// Secret fields the input sets or clears; a secret field absent here keeps its value.
    pub secret_ops: BTreeMap<String, SecretOp>,
    /// Secret fields set after this write.
    pub secrets_set: BTreeSet<String>,
    pub singleton_key: Option<String>,
    pub default_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// `name`, `type`, `provider`, or `properties.<key>` with a sub-path for tables.
    pub field: String,
    /// A stable identifier of the broken rule, e.g. `required`, `url_scheme`, `range`.
    pub rule: &'static str,
    pub message: String,
}

const NAME_MAX: usize = 100;
const URL_MAX: usize = 2048;
const MAPPING_MAX_ROWS: usize = 1000;
const MAPPING_KEY_MAX: usize = 255;
const FIELD_MAPPING_MAX_ROWS: usize = 200;

struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, rule: &'static str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), rule, message: message.into() });
    }
}

impl Catalog {
    /// Checks `input` against the catalog. On success the result carries the normalized
    /// properties; on failure, every problem found.
    pub fn validate(
        &self,
        input: &AccountInput<'_>,
        ctx: &ValidationContext<'_>,
    ) -> Result<Validated, Vec<FieldError>> {
        let mut errors = Errors(Vec::new());
        check_name(input.name, &mut errors);
        let Some(ty) = self.get(input.type_key) else {
            errors.push(
                "type",
                "unknown_type",
                format!(
                    "unknown integration type `{}`; known types: {}",
                    input.type_key,
                    self.types.iter().map(|t| t.key).collect::<Vec<_>>().join(", ")
                ),
            );
            return Err(errors.0);
        };
        if ty.gated && !ctx.enabled_types.iter().any(|t| t == ty.key) {
            errors.push(
                "type",
                "not_enabled",
                format!("the `{}` integration type must be enabled for this tenant by the service provider", ty.key),
            );
        }
        let Some(provider) = ty.provider(input.provider) else {
            errors.push(
                "provider",
                "unknown_provider",
                format!(
                    "unknown provider `{}` for type `{}`; providers: {}",
                    input.provider,
                    ty.key,
                    ty.providers.iter().map(|p| p.key).collect::<Vec<_>>().join(", ")
                ),
            );
            return Err(errors.0);
        };
        for key in input.properties.keys() {
            if provider.field(key).is_none() {
                errors.push(
                    format!("properties.{key}"),
                    "unknown_field",
                    format!(
                        "`{key}` is not a property of {} {}; properties: {}",
                        ty.label,
                        provider.label,
                        provider.fields.iter().map(|f| f.key.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }

        let mut properties = Map::new();
        let mut secret_ops = BTreeMap::new();
        for field in &provider.fields {
            let path = format!("properties.{}", field.key);
            let given = input.properties.get(&field.key);
            if let FieldKind::Secret { max_len } = field.kind {
                match given {
                    None => {}
                    Some(Value::Null) => {
                        secret_ops.insert(field.key.clone(), SecretOp::Clear);
                    }
                    Some(value) if check_secret(&path, field.label, max_len, value, &mut errors) => {
                        secret_ops.insert(field.key.clone(), SecretOp::Set);
                    }
                    Some(_) => {}
                }
                continue;
            }
            if let Some(value) = stored_value(&path, field, given, ctx.allow_loopback_http, &mut errors) {
                properties.insert(field.key.clone(), value);
            }
        }

        let secrets_set: BTreeSet<String> = provider
            .secret_fields()
            .filter(|f| match secret_ops.get(&f.key) {
                Some(SecretOp::Set) => true,
                Some(SecretOp::Clear) => false,
                None => ctx.existing_secrets.contains(&f.key),
            })
            .map(|f| f.key.clone())
            .collect();

        if let Some(stored) = ctx.stored_properties {
            check_targets(provider, stored, &properties, &secret_ops, ctx.existing_secrets, &mut errors);
        }

        for field in &provider.fields {
            let required = match &field.required {
                Required::Never => false,
                Required::Always => true,
                Required::If { field: other, equals } => properties.get(*other) == Some(equals),
            };
            let present = if field.kind.is_secret() {
                secrets_set.contains(&field.key)
            } else {
                properties.contains_key(&field.key)
            };
            let already_reported = errors.0.iter().any(|e| e.field == format!("properties.{}", field.key));
            if required && !present && !already_reported {
                let why = match &field.required {
                    Required::If { field: other, equals } => {
                        format!("{} is required when {}", field.label, condition(provider, other, equals))
                    }
                    _ => format!("{} is required", field.label),
                };
                errors.push(format!("properties.{}", field.key), "required", why);
            }
        }

        if !errors.0.is_empty() {
            return Err(errors.0);
        }
        let default_key = provider
            .default_group
            .filter(|_| properties.get(crate::keys::DEFAULT_ACCOUNT) == Some(&Value::Bool(true)))
            .map(str::to_owned);
        Ok(Validated {
            properties,
            secret_ops,
            secrets_set,
            singleton_key: ty.singleton_key(provider.key),
            default_key,
        })
    }

    /// Checks the parameters of an action (e.g. Viber's webhook host and port).
    pub fn validate_action_params(
        &self,
        action: &Action,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<FieldError>> {
        let mut errors = Errors(Vec::new());
        for key in params.keys() {
            if !action.params.iter().any(|f| &f.key == key) {
                errors.push(key.clone(), "unknown_field", format!("`{key}` is not a parameter of {}", action.label));
            }
        }
        let mut out = Map::new();
        for field in &action.params {
            match params.get(&field.key).filter(|v| !is_blank(v)) {
                Some(value) => {
                    if let Some(value) = check_value(&field.key, field, value, false, &mut errors) {
                        out.insert(field.key.clone(), value);
                    }
                }
                None if field.required == Required::Always => {
                    errors.push(field.key.clone(), "required", format!("{} is required", field.label))
                }
                None => {}
            }
        }
        if errors.0.is_empty() {
            Ok(out)
        } else {
            Err(errors.0)
        }
    }
}

/// The rule `reenter_secret_on_target_change`: when a field that decides where the secrets
/// are sent changes, each stored secret the input does not give again is an error.
fn check_targets(
    provider: &Provider,
    stored: &Map<String, Value>,
    properties: &Map<String, Value>,
    secret_ops: &BTreeMap<String, SecretOp>,
    existing_secrets: &[String],
    errors: &mut Errors,
) {
    let reenter = provider.target_changed(stored, properties);
    if reenter.is_empty() {
        return;
    }
    let moved: Vec<String> = provider
        .target_fields()
        .filter(|f| stored.get(&f.key) != properties.get(&f.key))
        .map(|f| format!("`{}`", f.key))
        .collect();
    for key in reenter {
        if secret_ops.contains_key(key) || !existing_secrets.iter().any(|s| s == key) {
            continue;
        }
        let label = provider.field(key).map_or(key, |f| f.label);
        errors.push(
            format!("properties.{key}"),
            "reenter_secret_on_target_change",
            format!(
                "{label} must be entered again: {} changed, and a stored secret is only sent where it was saved for",
                moved.join(", ")
            ),
        );
    }
}

/// The value stored for the non-secret `field` when `given` is entered: the fixed value, the
/// given value normalized, or the default when nothing (or blank) is given. What is wrong
/// with `given` goes to `errors`.
fn stored_value(
    path: &str,
    field: &Field,
    given: Option<&Value>,
    loopback_http: bool,
    errors: &mut Errors,
) -> Option<Value> {
    let given = given.filter(|v| !is_blank(v));
    if field.fixed {
        let fixed = field.default.clone().unwrap_or(Value::Null);
        if given.is_some_and(|value| *value != fixed) {
            errors.push(path, "fixed", format!("{} is fixed to {fixed} and cannot be changed", field.label));
        }
        return Some(fixed);
    }
    match given {
        Some(value) => check_value(path, field, value, loopback_http, errors),
        None => field.default.clone(),
    }
}

impl Provider {
    /// The non-secret properties an account of this provider stores when `given` is
    /// entered, as `validate` stores them: fixed values, defaults for what is omitted or
    /// blank, trimmed text and normalized tables. A value validation refuses is kept as
    /// given (so a caller comparing with what is stored sees a change, and the refusal comes
    /// from the API); secrets are left out.
    pub fn stored_form(&self, given: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for field in self.fields.iter().filter(|f| !f.kind.is_secret()) {
            let mut errors = Errors(Vec::new());
            let given_value = given.get(&field.key);
            let stored = stored_value(&field.key, field, given_value, true, &mut errors);
            let value = if errors.0.is_empty() { stored } else { given_value.cloned() };
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

fn check_name(name: &str, errors: &mut Errors) {
    if name.trim().is_empty() {
        errors.push("name", "required", "Name is required");
    } else if name.trim() != name {
        errors.push("name", "whitespace", "Name must not start or end with spaces");
    } else if name.chars().count() > NAME_MAX {
        errors.push("name", "max_length", format!("Name is at most {NAME_MAX} characters"));
    } else if let Err(e) = check_name_characters("name", "Name", name) {
        errors.0.push(e);
    }
}

/// Whether `c` may not appear in a name: control characters (C0, DEL, C1: NUL, ESC,
/// newlines...), bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
/// U+061C) and zero-width characters (U+200B-U+200D, U+2060, U+FEFF). They could rewrite a
/// terminal that prints the name, or make two different names look alike.
pub fn is_hidden_or_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'
                | '\u{FEFF}'
        )
}

/// The one character rule of every name (tenants, tokens, accounts): none of
/// [`is_hidden_or_control`]. The error names `field` and the rule `no_control_characters`.
pub fn check_name_characters(field: &str, label: &str, name: &str) -> Result<(), FieldError> {
    match name.chars().find(|c| is_hidden_or_control(*c)) {
        None => Ok(()),
        Some(c) => Err(FieldError {
            field: field.to_owned(),
            rule: "no_control_characters",
            message: format!(
                "{label} must not contain control, bidirectional or zero-width characters (found U+{:04X})",
                u32::from(c)
            ),
        }),
    }
}

fn check_secret(path: &str, label: &str, max_len: usize, value: &Value, errors: &mut Errors) -> bool {
    match value {
        Value::String(s) if s.is_empty() => {
            errors.push(path, "empty", format!("{} cannot be empty; send null to clear it", label));
            false
        }
        Value::String(s) if s.chars().count() > max_len => {
            errors.push(path, "max_length", format!("{} is at most {max_len} characters", label));
            false
        }
        Value::String(s) if s.chars().any(char::is_control) => {
            errors.push(path, "control_character", format!("{} must not contain control characters", label));
            false
        }
        Value::String(_) => true,
        other => {
            errors.push(path, "type", format!("{} must be a string, not {}", label, kind_name(other)));
            false
        }
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks a non-secret value; returns the normalized value when it is valid.
/// `loopback_http`: the operator allows http:// on loopback hosts where the field allows it.
fn check_value(path: &str, field: &Field, value: &Value, loopback_http: bool, errors: &mut Errors) -> Option<Value> {
    let label = field.label;
    let wrong_type = |errors: &mut Errors, expected: &str| {
        errors.push(path, "type", format!("{label} must be {expected}, not {}", kind_name(value)));
        None
    };
    match &field.kind {
        FieldKind::Secret { .. } => None,
        FieldKind::Text { max_len, rule } => {
            let Value::String(s) = value else { return wrong_type(errors, "a string") };
            let s = s.trim();
            if s.chars().count() > *max_len {
                errors.push(path, "max_length", format!("{label} is at most {max_len} characters"));
                return None;
            }
            if rule != &Some(TextRule::PemCertificate) && s.chars().any(char::is_control) {
                errors.push(path, "control_character", format!("{label} must not contain control characters"));
                return None;
            }
            if let Some(rule) = rule {
                if let Err((rule_id, message)) = check_text_rule(*rule, s) {
                    errors.push(path, rule_id, format!("{label}: {message}"));
                    return None;
                }
            }
            Some(Value::String(s.to_owned()))
        }
        FieldKind::Url { schemes } => {
            let Value::String(s) = value else { return wrong_type(errors, "a URL string") };
            let s = s.trim();
            if s.len() > URL_MAX {
                errors.push(path, "max_length", format!("{label} is at most {URL_MAX} characters"));
                return None;
            }
            match url::Url::parse(s) {
                Err(e) => {
                    errors.push(path, "url_invalid", format!("{label} is not a valid URL ({e})"));
                    None
                }
                Ok(u)
                    if !(schemes.contains(&u.scheme())
                        || loopback_http && field.loopback_http && is_loopback_http(&u)) =>
                {
                    let allowed: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
                    errors.push(
                        path,
                        "url_scheme",
                        format!("{label} must start with {}, not {}://", allowed.join(" or "), u.scheme()),
                    );
                    None
                }
                Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                    errors.push(path, "url_invalid", format!("{label} must name a host"));
                    None
                }
                Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                    errors.push(
                        path,
                        "url_credentials",
                        format!("{label} must not carry credentials; use the account's credential fields"),
                    );
                    None
                }
                Ok(_) => Some(Value::String(s.to_owned())),
            }
        }
        FieldKind::Integer { min, max, unit } => {
            let Some(n) = value.as_i64().filter(|_| value.is_i64() || value.is_u64()) else {
                return wrong_type(errors, "an integer");
            };
            if n < *min || n > *max {
                let unit = unit.map(|u| format!(" {u}")).unwrap_or_default();
                let message = if min == max {
                    format!("{label} must be {min}{unit}")
                } else {
                    format!("{label} must be between {min} and {max}{unit}")
                };
                errors.push(path, "range", message);
                return None;
            }
            Some(Value::from(n))
        }
        FieldKind::Bool => match value {
            Value::Bool(b) => Some(Value::Bool(*b)),
            _ => wrong_type(errors, "true or false"),
        },
        FieldKind::Enum { choices } => {
            let Value::String(s) = value else { return wrong_type(errors, "a string") };
            if choices.iter().any(|c| c.value == s) {
                Some(Value::String(s.clone()))
            } else {
                let values: Vec<&str> = choices.iter().map(|c| c.value).collect();
                errors.push(path, "choice", format!("{label} must be one of {}", values.join(", ")));
                None
            }
        }
        FieldKind::Mapping { value: value_kind, key_label, value_label } => {
            let Value::Object(map) = value else { return wrong_type(errors, "an object") };
            check_mapping(path, label, key_label, value_label, value_kind, map, errors)
        }
        FieldKind::ContactFieldMapping => {
            let Value::Array(rows) = value else { return wrong_type(errors, "an array of rows") };
            check_contact_mapping(path, label, rows, errors)
        }
        FieldKind::RecordFieldSizes { fields } => {
            let Value::Object(map) = value else { return wrong_type(errors, "an object") };
            check_record_sizes(path, fields, map, errors)
        }
    }
}

fn check_mapping(
    path: &str,
    label: &str,
    key_label: &str,
    value_label: &str,
    value_kind: &MappingValue,
    map: &Map<String, Value>,
    errors: &mut Errors,
) -> Option<Value> {
    if map.len() > MAPPING_MAX_ROWS {
        errors.push(path, "max_rows", format!("{label} has at most {MAPPING_MAX_ROWS} rows"));
        return None;
    }
    let before = errors.0.len();
    let mut out = Map::new();
    let mut seen = BTreeSet::new();
    for (key, value) in map {
        let row = format!("{path}.{key}");
        let trimmed = key.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAPPING_KEY_MAX || trimmed.chars().any(char::is_control) {
            errors.push(&row, "mapping_key", format!("{key_label} must be 1-{MAPPING_KEY_MAX} printable characters"));
            continue;
        }
        if !seen.insert(trimmed.to_lowercase()) {
            errors.push(&row, "duplicate", format!("{key_label} `{trimmed}` appears twice"));
            continue;
        }
        match value_kind {
            MappingValue::Text { max_len } => match value.as_str().map(str::trim) {
                Some(v) if !v.is_empty() && v.chars().count() <= *max_len => {
                    out.insert(trimmed.to_owned(), Value::String(v.to_owned()));
                }
                _ => errors.push(
                    &row,
                    "mapping_value",
                    format!("{value_label} must be a string of 1-{max_len} characters"),
                ),
            },
            MappingValue::Integer { min, max } => match value.as_i64() {
                Some(n) if (value.is_i64() || value.is_u64()) && (*min..=*max).contains(&n) => {
                    out.insert(trimmed.to_owned(), Value::from(n));
                }
                _ => {
                    errors.push(&row, "mapping_value", format!("{value_label} must be an integer from {min} to {max}"))
                }
            },
        }
    }
    (errors.0.len() == before).then_some(Value::Object(out))
}

fn check_contact_mapping(path: &str, label: &str, rows: &[Value], errors: &mut Errors) -> Option<Value> {
    if rows.len() > FIELD_MAPPING_MAX_ROWS {
        errors.push(path, "max_rows", format!("{label} has at most {FIELD_MAPPING_MAX_ROWS} rows"));
        return None;
    }
    let before = errors.0.len();
    let mut out = Vec::with_capacity(rows.len());
    let mut targets = BTreeSet::new();
    let mut externals = BTreeSet::new();
    for (i, row) in rows.iter().enumerate() {
        let row_path = format!("{path}[{i}]");
        let Value::Object(obj) = row else {
            errors.push(&row_path, "type", "each row is an object with `external_field` and `contact_field`");
            continue;
        };
        for key in obj.keys() {
            if key != "external_field" && key != "contact_field" {
                errors.push(
                    format!("{row_path}.{key}"),
                    "unknown_field",
                    "a row has only `external_field` and `contact_field`",
                );
            }
        }
        let external = obj.get("external_field").and_then(Value::as_str).map(str::trim).unwrap_or("");
        if external.is_empty() || external.chars().count() > MAPPING_KEY_MAX {
            errors.push(
                format!("{row_path}.external_field"),
                "required",
                format!("external_field is required (1-{MAPPING_KEY_MAX} characters)"),
            );
        } else if !externals.insert(external.to_owned()) {
            errors.push(format!("{row_path}.external_field"), "duplicate", format!("`{external}` is mapped twice"));
        }
        let contact = match obj.get("contact_field") {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(s)) if s.trim().is_empty() => Value::Null,
            Some(Value::String(s)) => {
                let s = s.trim();
                if let Err(message) = contact_fields::check(s) {
                    errors.push(format!("{row_path}.contact_field"), "contact_field", message);
                } else if !targets.insert(s.to_owned()) {
                    errors.push(
                        format!("{row_path}.contact_field"),
                        "duplicate",
                        format!("contact field `{s}` is the target of two rows"),
                    );
                }
                Value::String(s.to_owned())
            }
            Some(other) => {
                errors.push(
                    format!("{row_path}.contact_field"),
                    "type",
                    format!("contact_field must be a string or null, not {}", kind_name(other)),
                );
                Value::Null
            }
        };
        out.push(serde_json::json!({"external_field": external, "contact_field": contact}));
    }
    (errors.0.len() == before).then_some(Value::Array(out))
}

fn check_record_sizes(
    path: &str,
    fields: &[RecordField],
    map: &Map<String, Value>,
    errors: &mut Errors,
) -> Option<Value> {
    let before = errors.0.len();
    for key in map.keys() {
        if !fields.iter().any(|f| f.key == key) {
            errors.push(
                format!("{path}.{key}"),
                "record_field",
                format!(
                    "unknown record field `{key}`; fields: {}",
                    fields.iter().map(|f| f.key).collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    let mut out = Map::new();
    for f in fields {
        let size = match map.get(f.key) {
            None | Some(Value::Null) => i64::from(f.default),
            Some(v) => match v.as_i64().filter(|_| v.is_i64() || v.is_u64()) {
                Some(n) if (i64::from(f.min)..=i64::from(f.max)).contains(&n) => n,
                _ => {
                    errors.push(
                        format!("{path}.{}", f.key),
                        "range",
                        format!("{} size must be an integer from {} to {} characters", f.label, f.min, f.max),
                    );
                    continue;
                }
            },
        };
        out.insert(f.key.to_owned(), Value::from(size));
    }
    (errors.0.len() == before).then_some(Value::Object(out))
}

impl TextRule {
    /// Checks `s` against the rule, wherever a value of this kind is used (validation of
    /// account input, and a connector or job about to use it); the error says what is accepted.
    pub fn check(self, s: &str) -> Result<(), String> {
        check_text_rule(self, s).map_err(|(_, message)| message)
    }
}

fn check_text_rule(rule: TextRule, s: &str) -> Result<(), (&'static str, String)> {
    match rule {
        TextRule::Hostname => {
            if is_hostname(s) {
                Ok(())
            } else {
                Err(("hostname", format!("`{s}` is not a host name or IP address")))
            }
        }
        TextRule::HostPort => {
            let bad = || ("host_port", format!("`{s}` is not host:port (e.g. office.yourcompany.com:1234)"));
            let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
            let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
            if port_ok && (is_hostname(host) || host.parse::<IpAddr>().is_ok()) {
                Ok(())
            } else {
                Err(bad())
            }
        }
        TextRule::BucketName => check_bucket(s).map_err(|m| ("bucket_name", m)),
        TextRule::PemCertificate => {
            let blocks = pem::parse_many(s).map_err(|e| {
                ("pem_certificate", format!("is not PEM ({e}); paste the certificate including its BEGIN/END lines"))
            })?;
            if blocks.is_empty() {
                return Err((
                    "pem_certificate",
                    "has no PEM block; paste the certificate including its BEGIN/END lines".into(),
                ));
            }
            if let Some(block) = blocks.iter().find(|b| b.tag() != "CERTIFICATE") {
                return Err((
                    "pem_certificate",
                    format!("holds a `{}` block; only CERTIFICATE blocks belong here", block.tag()),
                ));
            }
            Ok(())
        }
        TextRule::Email => {
            let ok = s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !local.contains(' ') && domain.contains('.') && is_hostname(domain)
            });
            if ok {
                Ok(())
            } else {
                Err(("email", format!("`{s}` is not an email address")))
            }
        }
    }
}

/// An http:// URL whose host is a loopback address or `localhost`.
fn is_loopback_http(u: &url::Url) -> bool {
    u.scheme() == "http"
        && match u.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

fn is_hostname(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn check_bucket(s: &str) -> Result<(), String> {
    let rules = "3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit";
    let chars_ok = s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ends_ok =
        s.starts_with(|c: char| c.is_ascii_alphanumeric()) && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&s.len()) || !chars_ok || !ends_ok {
        return Err(format!("`{s}` is not a valid S3 bucket name ({rules})"));
    }
    if s.contains("..") {
        return Err(format!("`{s}` is not a valid S3 bucket name (no two adjacent periods)"));
    }
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(format!("`{s}` is not a valid S3 bucket name (it must not look like an IP address)"));
    }
    Ok(())
}

/// "Enable single sign-on is selected": the condition of a conditional requirement in the
/// words of the form (the other field's label, a choice's label), never its key or JSON.
fn condition(provider: &Provider, other: &str, equals: &Value) -> String {
    let Some(field) = provider.fields.iter().find(|f| f.key == other) else {
        return format!("{other} is {equals}");
    };
    let label = field.label;
    match (&field.kind, equals) {
        (FieldKind::Bool, Value::Bool(true)) => format!("{label} is selected"),
        (FieldKind::Bool, Value::Bool(false)) => format!("{label} is not selected"),
        (FieldKind::Enum { choices }, Value::String(v)) => match choices.iter().find(|c| c.value == v) {
            Some(choice) => format!("{label} is {}", choice.label),
            None => format!("{label} is {v}"),
        },
        (_, Value::String(v)) => format!("{label} is {v}"),
        (_, other) => format!("{label} is {other}"),
    }
}
