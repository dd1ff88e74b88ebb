//! Fuzz target of the catalog (see `scripts/fuzz`): account input through every type and
//! provider. Valid accounts are built from the catalog's own descriptors (every required
//! field filled with a value its kind takes, optional ones now and then) and must pass;
//! the same accounts with values swapped for hostile JSON, unknown keys, and arbitrary
//! types, providers and names must never panic, and every error names a field of the
//! input and a rule.

use patchbay_catalog::{
    catalog, contact_fields, AccountInput, Field, FieldError, FieldKind, MappingValue, Provider, Required, TextRule,
    ValidationContext,
};
use patchbay_testkit::fuzz::{config, hostile_text, json_value};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Map, Value};

/// Every `(type, provider)` of the catalog.
fn pairs() -> Vec<(&'static str, &'static Provider)> {
    catalog().types.iter().flat_map(|t| t.providers.iter().map(move |p| (t.key, p))).collect()
}

/// Every gated type, enabled: validity is what is fuzzed, not entitlement.
fn enabled() -> Vec<String> {
    catalog().types.iter().filter(|t| t.gated).map(|t| t.key.to_owned()).collect()
}

/// Printable text of 1 to `max` characters, not starting or ending with a space.
fn printable(max: usize) -> impl Strategy<Value = String> {
    let max = max.clamp(2, 40);
    prop_oneof![
        proptest::string::string_regex(&format!("[A-Za-z0-9]([A-Za-z0-9 ._-]{{0,{}}}[A-Za-z0-9])?", max - 2)).unwrap(),
        proptest::collection::vec(
            any::<char>().prop_map(|c| if patchbay_catalog::is_hidden_or_control(c) || c.is_whitespace() {
                'x'
            } else {
                c
            }),
            1..=max
        )
        .prop_map(|c| c.into_iter().collect()),
    ]
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
}

/// A DNS name (its last label starts with a letter: URLs read a numeric one as IPv4) or an
/// IP address.
fn hostname() -> impl Strategy<Value = String> {
    prop_oneof![
        (proptest::collection::vec(label(), 0..3), "[a-z]([a-z0-9-]{0,8}[a-z0-9])?").prop_map(|(mut l, last)| {
            l.push(last);
            l.join(".")
        }),
        any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string()),
        any::<std::net::Ipv6Addr>().prop_map(|ip| ip.to_string()),
    ]
}

/// A value the field's kind takes.
fn valid_value(field: &Field) -> BoxedStrategy<Value> {
    match &field.kind {
        FieldKind::Text { rule: None, max_len } | FieldKind::Secret { max_len } => {
            printable(*max_len).prop_map(Value::String).boxed()
        }
        FieldKind::Text { rule: Some(rule), .. } => match rule {
            TextRule::Hostname => hostname().prop_map(Value::String).boxed(),
            TextRule::HostPort => (proptest::collection::vec(label(), 1..4), 1u16..)
                .prop_map(|(h, port)| json!(format!("{}:{port}", h.join("."))))
                .boxed(),
            TextRule::BucketName => "[a-z][a-z0-9-]{1,30}[a-z0-9]".prop_map(Value::String).boxed(),
            TextRule::Email => ("[a-z0-9._+-]{1,12}", proptest::collection::vec(label(), 2..4))
                .prop_map(|(local, domain)| json!(format!("{local}@{}", domain.join("."))))
                .boxed(),
            TextRule::PemCertificate => proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 1..3)
                .prop_map(|blocks| {
                    let pems: Vec<pem::Pem> = blocks.into_iter().map(|b| pem::Pem::new("CERTIFICATE", b)).collect();
                    json!(pem::encode_many(&pems))
                })
                .boxed(),
        },
        FieldKind::Url { schemes } => {
            (prop::sample::select(schemes.to_vec()), hostname(), "(/[a-z0-9._~-]{0,12}){0,3}")
                .prop_map(|(scheme, host, path)| {
                    let host = if host.contains(':') { format!("[{host}]") } else { host };
                    json!(format!("{scheme}://{host}{path}"))
                })
                .boxed()
        }
        FieldKind::Integer { min, max, .. } => {
            prop_oneof![Just(*min), Just(*max), *min..=*max].prop_map(Value::from).boxed()
        }
        FieldKind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        FieldKind::Enum { choices } => {
            prop::sample::select(choices.iter().map(|c| c.value).collect::<Vec<_>>()).prop_map(|v| json!(v)).boxed()
        }
        FieldKind::Mapping { value, .. } => {
            let value = match value.clone() {
                MappingValue::Text { max_len } => printable(max_len).prop_map(Value::String).boxed(),
                MappingValue::Integer { min, max } => (min..=max).prop_map(Value::from).boxed(),
            };
            proptest::collection::vec((printable(255), value), 0..5)
                .prop_map(|rows| {
                    let mut seen = std::collections::BTreeSet::new();
                    let rows = rows.into_iter().filter(|(k, _)| seen.insert(k.to_lowercase()));
                    Value::Object(rows.collect())
                })
                .boxed()
        }
        FieldKind::ContactFieldMapping => {
            let targets: Vec<&str> = contact_fields::BASIC.iter().map(|(k, _)| *k).collect();
            proptest::collection::vec((printable(255), prop::option::of(prop::sample::select(targets))), 0..5)
                .prop_map(|rows| {
                    let (mut externals, mut contacts) =
                        (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
                    let rows = rows
                        .into_iter()
                        .filter(|(e, c)| externals.insert(e.clone()) && c.is_none_or(|c| contacts.insert(c)))
                        .map(|(e, c)| json!({"external_field": e, "contact_field": c}));
                    Value::Array(rows.collect())
                })
                .boxed()
        }
        FieldKind::RecordFieldSizes { fields } => fields
            .iter()
            .map(|f| (Just(f.key), prop::option::of(f.min..=f.max)))
            .collect::<Vec<_>>()
            .prop_map(|sizes| {
                Value::Object(sizes.into_iter().filter_map(|(k, n)| Some((k.to_owned(), json!(n?)))).collect())
            })
            .boxed(),
    }
}

/// A valid account of one provider: its type, provider, name and properties.
#[derive(Debug, Clone)]
struct Account {
    type_key: String,
    provider: String,
    name: String,
    properties: Map<String, Value>,
}

fn valid_account() -> impl Strategy<Value = Account> {
    prop::sample::select(pairs()).prop_flat_map(|(type_key, provider)| {
        let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = provider
            .fields
            .iter()
            .filter(|f| !f.fixed)
            .map(|f| {
                let key = f.key.clone();
                let value = valid_value(f).prop_map(move |v| (key.clone(), v));
                match f.required {
                    // A conditionally required field is always given, so its condition cannot matter.
                    Required::Always | Required::If { .. } => value.prop_map(Some).boxed(),
                    Required::Never => prop::option::weighted(0.6, value).boxed(),
                }
            })
            .collect();
        (printable(100), fields).prop_map(move |(name, fields)| Account {
            type_key: type_key.to_owned(),
            provider: provider.key.to_owned(),
            name,
            properties: fields.into_iter().flatten().collect(),
        })
    })
}

/// What can happen to a valid account.
#[derive(Debug, Clone)]
enum Twist {
    Value(Index, Value),
    Remove(Index),
    Unknown(String, Value),
    Name(String),
    Type(String),
    Provider(String),
}

fn twist() -> impl Strategy<Value = Twist> {
    let types: Vec<String> = catalog().types.iter().map(|t| t.key.to_owned()).collect();
    let providers: Vec<String> = pairs().into_iter().map(|(_, p)| p.key.to_owned()).collect();
    prop_oneof![
        4 => (any::<Index>(), json_value()).prop_map(|(i, v)| Twist::Value(i, v)),
        1 => any::<Index>().prop_map(Twist::Remove),
        1 => (hostile_text(), json_value()).prop_map(|(k, v)| Twist::Unknown(k, v)),
        1 => prop_oneof![hostile_text(), Just(" x".to_owned()), Just("x".repeat(101))].prop_map(Twist::Name),
        1 => prop_oneof![hostile_text(), prop::sample::select(types)].prop_map(Twist::Type),
        1 => prop_oneof![hostile_text(), prop::sample::select(providers)].prop_map(Twist::Provider),
    ]
}

impl Account {
    fn apply(&mut self, twist: &Twist) {
        match twist {
            Twist::Value(i, _) | Twist::Remove(i) => {
                let Some(provider) = catalog().provider(&self.type_key, &self.provider) else { return };
                if provider.fields.is_empty() {
                    return;
                }
                let key = provider.fields[i.index(provider.fields.len())].key.clone();
                if let Twist::Value(_, v) = twist {
                    self.properties.insert(key, v.clone());
                } else {
                    self.properties.remove(&key);
                }
            }
            Twist::Unknown(k, v) => {
                self.properties.insert(k.clone(), v.clone());
            }
            Twist::Name(n) => self.name = n.clone(),
            Twist::Type(t) => self.type_key = t.clone(),
            Twist::Provider(p) => self.provider = p.clone(),
        }
    }

    fn validate(&self) -> Result<patchbay_catalog::Validated, Vec<FieldError>> {
        let enabled = enabled();
        catalog().validate(
            &AccountInput {
                type_key: &self.type_key,
                provider: &self.provider,
                name: &self.name,
                properties: &self.properties,
            },
            &ValidationContext {
                enabled_types: &enabled,
                existing_secrets: &[],
                stored_properties: None,
                allow_loopback_http: false,
            },
        )
    }
}

/// Whether `error` names a field of the input: `name`, `type`, `provider`, or a property —
/// one of the provider's (with a sub-path into a table) or, for `unknown_field`, a key the
/// input holds.
fn names_a_field(error: &FieldError, account: &Account) -> bool {
    if ["name", "type", "provider"].contains(&error.field.as_str()) {
        return true;
    }
    let Some(path) = error.field.strip_prefix("properties.") else { return false };
    if error.rule == "unknown_field" && account.properties.contains_key(path) {
        return true;
    }
    let Some(provider) = catalog().provider(&account.type_key, &account.provider) else { return false };
    provider
        .fields
        .iter()
        .any(|f| path.strip_prefix(f.key.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '['])))
}

proptest! {
    #![proptest_config(config(1024))]

    /// Accounts built from the descriptors are accepted, and keep no secret among the
    /// properties.
    #[test]
    fn fuzz_account_valid_accounts_are_accepted(account in valid_account()) {
        let validated = account.validate();
        prop_assert!(validated.is_ok(), "{:?}\n{:#?}", validated.err(), account);
        let provider = catalog().provider(&account.type_key, &account.provider).unwrap();
        for key in validated.unwrap().properties.keys() {
            let field = provider.field(key);
            prop_assert!(field.is_some_and(|f| !f.kind.is_secret()), "`{}` in the stored properties", key);
        }
    }

    /// Twisted accounts never panic; each error names a field of the input and a rule.
    #[test]
    fn fuzz_account_errors_name_a_field_and_a_rule(account in valid_account(), twists in proptest::collection::vec(twist(), 1..4)) {
        let mut account = account;
        for t in &twists {
            account.apply(t);
        }
        if let Err(errors) = account.validate() {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(names_a_field(e, &account), "{:?} names no field of {:#?}", e, account);
                prop_assert!(!e.rule.is_empty() && !e.message.is_empty(), "{:?}", e);
            }
        }
    }

    /// Any JSON object as the properties of any type and provider.
    #[test]
    fn fuzz_account_any_json_properties(
        pair in prop::sample::select(pairs()),
        properties in proptest::collection::vec((hostile_text(), json_value()), 0..8),
        keyed in proptest::collection::vec((any::<Index>(), json_value()), 0..8),
        name in hostile_text(),
    ) {
        let (type_key, provider) = pair;
        let mut map: Map<String, Value> = properties.into_iter().collect();
        for (i, v) in keyed.into_iter().filter(|_| !provider.fields.is_empty()) {
            map.insert(provider.fields[i.index(provider.fields.len())].key.clone(), v);
        }
        let account = Account { type_key: type_key.to_owned(), provider: provider.key.to_owned(), name, properties: map };
        if let Err(errors) = account.validate() {
            for e in &errors {
                prop_assert!(names_a_field(e, &account), "{:?} names no field of {:#?}", e, account);
            }
        }
    }
}
