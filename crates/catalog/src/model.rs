use serde::Serialize;
use serde_json::{Map, Value};

/// All integration types, in the order the spec lists them.
#[derive(Debug, Serialize)]
pub struct Catalog {
    pub types: Vec<IntegrationType>,
}

impl Catalog {
    pub fn get(&self, type_key: &str) -> Option<&IntegrationType> {
        self.types.iter().find(|t| t.key == type_key)
    }

    pub fn provider(&self, type_key: &str, provider: &str) -> Option<&Provider> {
        self.get(type_key)?.provider(provider)
    }
}

#[derive(Debug, Serialize)]
pub struct IntegrationType {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    /// Further notes of the spec (entitlement, cardinality, where to find vendor guides).
    pub notes: Vec<&'static str>,
    pub cardinality: Cardinality,
    /// When true, the service provider must enable this type for a tenant before the tenant
    /// can have accounts of it.
    pub gated: bool,
    pub providers: Vec<Provider>,
}

impl IntegrationType {
    pub fn provider(&self, key: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.key == key)
    }

    /// The cardinality group an account of this type and provider occupies, if any:
    /// at most one account per tenant per group.
    pub fn singleton_key(&self, provider: &str) -> Option<String> {
        match &self.cardinality {
            Cardinality::Many => None,
            Cardinality::OnePerTenant { group } => Some((*group).to_owned()),
            Cardinality::OnePerProvider => Some(format!("{}:{provider}", self.key)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Cardinality {
    /// Any number of accounts per tenant.
    Many,
    /// At most one account per tenant across all types sharing `group`.
    OnePerTenant { group: &'static str },
    /// At most one account per tenant for each provider of the type.
    OnePerProvider,
}

#[derive(Debug, Serialize)]
pub struct Provider {
    pub key: &'static str,
    pub label: &'static str,
    pub fields: Vec<Field>,
    /// What "Test connection" does for this provider, or why there is none.
    pub test: TestSupport,
    pub actions: Vec<Action>,
    /// When set, the bool property `default_account` marks the tenant's one default account
    /// of this group.
    pub default_group: Option<&'static str>,
    /// The vendor delivers traffic to this service (the messenger edge's inbound webhook):
    /// how each delivery proves it comes from the vendor.
    pub inbound: Option<Inbound>,
}

/// How a provider's inbound deliveries are proven (the edge checks the proof against the
/// raw body before anything is parsed or stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inbound {
    /// The proof in words, for docs and forms.
    pub proof: &'static str,
    /// The secret fields the proof is checked with; a delivery to an account missing one is
    /// refused.
    pub secrets: &'static [&'static str],
}

impl Provider {
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }

    pub fn secret_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.kind.is_secret())
    }

    pub fn action(&self, key: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.key == key)
    }

    /// The fields that decide where this provider's secrets are sent (see [`Field::target`]).
    pub fn target_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.target)
    }

    /// The secret fields that must be entered again when the non-secret properties go from
    /// `old` to `new`: every secret field of the provider when any target field's value
    /// differs, none otherwise. Stored secrets are never sent to a place other than the one
    /// they were saved for; whoever moves the account must know its secrets.
    pub fn target_changed(&self, old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<&str> {
        if self.target_fields().any(|f| old.get(&f.key) != new.get(&f.key)) {
            self.secret_fields().map(|f| f.key.as_str()).collect()
        } else {
            Vec::new()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TestSupport {
    /// The provider has a connection test; `probe` says what it does.
    Supported { probe: &'static str },
    /// The spec gives this provider no connection test.
    None { reason: &'static str },
}

/// A per-provider action besides the connection test.
#[derive(Debug, Serialize)]
pub struct Action {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    /// Parameters the action asks for (e.g. Viber's webhook host and port).
    pub params: Vec<Field>,
}

#[derive(Debug, Serialize)]
pub struct Field {
    /// The property key: the label in snake case.
    pub key: String,
    pub label: &'static str,
    pub help: &'static str,
    #[serde(flatten)]
    pub kind: FieldKind,
    pub default: Option<Value>,
    /// Shown but not editable; the value is always `default`.
    pub fixed: bool,
    pub required: Required,
    /// Example value for input placeholders.
    pub example: Option<&'static str>,
    /// The value decides where the account's secrets are sent (a URL, host, port, endpoint,
    /// instance, webhook address, or a switch between a sandbox and a production host):
    /// when it changes, stored secrets are not reused (`Provider::target_changed`).
    pub target: bool,
    /// Not in the spec: why patchbay adds this field (e.g. a secret needed to verify the
    /// vendor's deliveries).
    /// An https URL field that takes http:// on a loopback host when the operator allows it
    /// (`ValidationContext::allow_loopback_http`): a test identity provider without TLS.
    pub loopback_http: bool,
    pub addition: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    Text {
        max_len: usize,
        rule: Option<TextRule>,
    },
    /// Write-only: stored sealed, never returned.
    Secret {
        max_len: usize,
    },
    Url {
        schemes: &'static [&'static str],
    },
    Integer {
        min: i64,
        max: i64,
        unit: Option<&'static str>,
    },
    Bool,
    Enum {
        choices: Vec<Choice>,
    },
    /// A table from a text key to a value, e.g. service name -> Loxysoft skill code.
    Mapping {
        key_label: &'static str,
        value_label: &'static str,
        value: MappingValue,
    },
    /// A list of rows mapping an external (vendor) field to a contact field.
    ContactFieldMapping,
    /// Named record fields with their lengths in characters.
    RecordFieldSizes {
        fields: Vec<RecordField>,
    },
}

impl FieldKind {
    pub fn is_secret(&self) -> bool {
        matches!(self, FieldKind::Secret { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextRule {
    /// A DNS host name or an IP address.
    Hostname,
    /// `host:port`.
    HostPort,
    /// An S3 bucket name (3-63 lower-case letters, digits, dots, hyphens).
    BucketName,
    /// One or more PEM `CERTIFICATE` blocks.
    PemCertificate,
    /// An e-mail address.
    Email,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MappingValue {
    Text { max_len: usize },
    Integer { min: i64, max: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordField {
    pub key: &'static str,
    pub label: &'static str,
    pub default: u32,
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "when", rename_all = "snake_case")]
pub enum Required {
    Never,
    Always,
    /// Required when another property has the given value.
    If {
        field: &'static str,
        equals: Value,
    },
}

/// The contact fields a field mapping row may target, as the spec lists them: basic types,
/// and categories that take a selector (`phones_by_type.mobile`, `emails_by_order.2`).
pub mod contact_fields {
    /// Basic contact fields (`custom.<name>` adds a custom field such as `my_custom_field`).
    pub const BASIC: &[(&str, &str)] = &[
        ("title", "Title"),
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("position", "Position"),
        ("segment", "Segment"),
        ("summary", "Summary"),
        ("date_of_birth", "Date of birth"),
        ("messengers", "Messengers"),
        ("status", "Status"),
    ];

    /// Categories and the selectors each accepts.
    pub const CATEGORIES: &[(&str, &str, Selector)] = &[
        ("addresses", "Addresses", Selector::Types(&["business", "home", "other"])),
        ("phones_by_type", "Phone by type", Selector::Types(&["business", "home", "mobile", "fax", "pager", "other"])),
        ("phones_by_order", "Phones by order", Selector::Order(5)),
        ("social_links_by_order", "Social links by order", Selector::Order(5)),
        ("emails_by_type", "Emails by type", Selector::Types(&["business", "home", "other"])),
        ("emails_by_order", "Emails by order", Selector::Order(5)),
    ];

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Selector {
        Types(&'static [&'static str]),
        /// 1-based position up to this number.
        Order(u32),
    }

    /// Checks a contact field reference; the error says what is accepted.
    pub fn check(reference: &str) -> Result<(), String> {
        if BASIC.iter().any(|(k, _)| *k == reference) {
            return Ok(());
        }
        let Some((head, tail)) = reference.split_once('.') else {
            return Err(format!(
                "unknown contact field `{reference}`; use a basic field ({}), `custom.<name>`, or `<category>.<selector>`",
                BASIC.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            ));
        };
        if head == "custom" {
            let ok = !tail.is_empty()
                && tail.len() <= 64
                && tail.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            return if ok {
                Ok(())
            } else {
                Err("a custom contact field name is 1-64 characters of a-z, 0-9 and _".into())
            };
        }
        let Some((_, _, selector)) = CATEGORIES.iter().find(|(k, _, _)| *k == head) else {
            return Err(format!(
                "unknown contact field category `{head}`; categories are {}",
                CATEGORIES.iter().map(|(k, _, _)| *k).collect::<Vec<_>>().join(", ")
            ));
        };
        match selector {
            Selector::Types(types) if types.contains(&tail) => Ok(()),
            Selector::Types(types) => Err(format!("`{head}` takes one of: {}", types.join(", "))),
            Selector::Order(max) => match tail.parse::<u32>() {
                Ok(n) if (1..=*max).contains(&n) => Ok(()),
                _ => Err(format!("`{head}` takes a position from 1 to {max}")),
            },
        }
    }
}
