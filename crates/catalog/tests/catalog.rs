//! Table-driven checks of the catalog against the functional spec
//! (`shared/seed/integration-accounts.txt`): every type, provider, default, fixed value and
//! rule, and the validation errors bad input gets.

use patchbay_catalog::{
    catalog, property_key, AccountInput, Cardinality, FieldKind, MappingValue, SecretOp, TestSupport, ValidationContext,
};
use serde_json::{json, Map, Value};

const ALL_GATED: &[&str] = &["aws", "nice", "external_kb"];

fn enabled() -> Vec<String> {
    ALL_GATED.iter().map(|s| s.to_string()).collect()
}

/// A value that satisfies the field, built from its kind (used to fill required fields).
fn sample(kind: &FieldKind, key: &str) -> Value {
    match kind {
        FieldKind::Text { rule: Some(rule), .. } => match rule {
            patchbay_catalog::TextRule::Hostname => json!("rta.example.com"),
            patchbay_catalog::TextRule::HostPort => json!("hooks.example.com:8443"),
            patchbay_catalog::TextRule::BucketName => json!("acme-recordings"),
            patchbay_catalog::TextRule::Email => json!("agent@example.com"),
            patchbay_catalog::TextRule::PemCertificate => json!(TEST_CERT),
        },
        FieldKind::Text { .. } => json!(format!("{key}-value")),
        FieldKind::Secret { .. } => json!(format!("{key}-s3cr3t")),
        FieldKind::Url { schemes } => json!(format!("{}://svc.example.com/path", schemes[0])),
        FieldKind::Integer { min, .. } => json!(min),
        FieldKind::Bool => json!(true),
        FieldKind::Enum { choices } => json!(choices[0].value),
        FieldKind::Mapping { value: MappingValue::Integer { .. }, .. } => json!({"Lunch": 7}),
        FieldKind::Mapping { .. } => json!({"Sales": "S1"}),
        FieldKind::ContactFieldMapping => json!([{"external_field": "fname", "contact_field": "first_name"}]),
        FieldKind::RecordFieldSizes { .. } => json!({"agent_id": 20}),
    }
}

const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUKyxRDeX0X0Yk9V0v4vSk2r9aVhEwCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----\n";

/// Every field set to a valid sample, fixed fields left out.
fn full_properties(type_key: &str, provider: &str) -> Map<String, Value> {
    let p = catalog().provider(type_key, provider).unwrap();
    p.fields.iter().filter(|f| !f.fixed).map(|f| (f.key.clone(), sample(&f.kind, &f.key))).collect()
}

fn validate(
    type_key: &str,
    provider: &str,
    props: &Map<String, Value>,
) -> Result<patchbay_catalog::Validated, Vec<patchbay_catalog::FieldError>> {
    let enabled = enabled();
    catalog().validate(
        &AccountInput { type_key, provider, name: "Main", properties: props },
        &ValidationContext {
            enabled_types: &enabled,
            existing_secrets: &[],
            stored_properties: None,
            allow_loopback_http: false,
        },
    )
}

fn rules_for(errors: &[patchbay_catalog::FieldError], field: &str) -> Vec<&'static str> {
    errors.iter().filter(|e| e.field == field).map(|e| e.rule).collect()
}

#[test]
fn catalog_has_exactly_the_twenty_types_with_their_providers() {
    let expected: &[(&str, &[&str])] = &[
        ("aws", &["default"]),
        ("chat_bot", &["alterra", "watson"]),
        ("external_kb", &["synthetix"]),
        ("loxysoft", &["default"]),
        ("messenger", &["facebook", "line", "nexmo", "telegram", "viber"]),
        ("nice", &["default"]),
        ("nlu", &["default"]),
        ("next_caller", &["default"]),
        ("oracle_service_cloud", &["default"]),
        ("rightnow", &["default"]),
        ("salesforce", &["default"]),
        ("servicenow", &["default"]),
        ("sso", &["agent_desktop", "admin"]),
        ("stt", &["watson", "govivace"]),
        ("statistics_receiver", &["default"]),
        ("tts", &["watson", "google"]),
        ("tdg", &["default"]),
        ("wfm", &["aspect_tcp", "http_post"]),
        ("zapier", &["default"]),
        ("zendesk", &["default"]),
    ];
    let actual: Vec<(&str, Vec<&str>)> =
        catalog().types.iter().map(|t| (t.key, t.providers.iter().map(|p| p.key).collect())).collect();
    let expected: Vec<(&str, Vec<&str>)> = expected.iter().map(|(k, p)| (*k, p.to_vec())).collect();
    assert_eq!(actual, expected);
}

#[test]
fn property_keys_are_the_labels_in_snake_case_and_never_attributes() {
    for t in &catalog().types {
        for p in &t.providers {
            for f in &p.fields {
                assert_eq!(f.key, property_key(f.label), "{}/{}", t.key, p.key);
                assert!(!["name", "type", "provider"].contains(&f.key.as_str()), "{}/{} has {}", t.key, p.key, f.key);
                assert!(!f.help.is_empty(), "{}/{}/{} has no help text", t.key, p.key, f.key);
            }
        }
    }
}

#[test]
fn seed_defaults_and_fixed_values_are_in_the_catalog() {
    // (type, provider, property, value, fixed)
    let table: &[(&str, &str, &str, Value, bool)] = &[
        ("aws", "default", "use_private_s3_storage", json!(false), false),
        ("chat_bot", "alterra", "url", json!("https://dev.alterra.cc/demo/api"), false),
        ("chat_bot", "alterra", "method", json!("POST"), true),
        ("chat_bot", "alterra", "use_url_encode", json!(false), true),
        ("chat_bot", "alterra", "maximum_suggestions", json!(1), true),
        ("external_kb", "synthetix", "url", json!("https://api.syn-finity.com/1.1/"), false),
        ("external_kb", "synthetix", "use_as_exclusive_kb", json!(false), false),
        ("loxysoft", "default", "periodic_update_interval", json!(10), false),
        ("nice", "default", "keep_alive_update_interval", json!(60), false),
        ("nice", "default", "agent_id_prefix", json!(""), false),
        ("nice", "default", "extension_prefix", json!(""), false),
        (
            "nlu",
            "default",
            "url",
            json!(
                "https://gateway.watsonplatform.net/natural-language-understanding/api/v1/analyze?version=2017-02-27"
            ),
            false,
        ),
        ("nlu", "default", "method", json!("POST"), true),
        ("nlu", "default", "limit", json!(100), true),
        ("next_caller", "default", "sandbox_mode", json!(false), false),
        ("sso", "admin", "use_template", json!(false), true),
        ("sso", "agent_desktop", "use_template", json!(false), true),
        ("stt", "watson", "url", json!("wss://stream.watsonplatform.net"), false),
        ("stt", "govivace", "url", json!("wss://services.govivace.com/telephony"), false),
        ("stt", "watson", "default_account", json!(false), false),
        ("statistics_receiver", "default", "protocol", json!("TCP"), true),
        ("tts", "watson", "url", json!("https://stream.watsonplatform.net/text-to-speech/api/v1/"), false),
        ("tts", "google", "url", json!("https://www.googleapis.com/auth/cloud-platform"), false),
        ("wfm", "aspect_tcp", "protocol", json!("tcp"), true),
        ("wfm", "http_post", "protocol", json!("http_post"), true),
    ];
    for (t, p, key, value, fixed) in table {
        let field = catalog().provider(t, p).unwrap().field(key).unwrap_or_else(|| panic!("{t}/{p} lacks {key}"));
        assert_eq!(field.default.as_ref(), Some(value), "{t}/{p}/{key} default");
        assert_eq!(field.fixed, *fixed, "{t}/{p}/{key} fixed");
    }
}

#[test]
fn seed_properties_exist_with_their_kinds() {
    // (type, provider, property, kind name)
    let table: &[(&str, &str, &str, &str)] = &[
        ("aws", "default", "url", "url"),
        ("aws", "default", "access_key_id", "text"),
        ("aws", "default", "secret_key", "secret"),
        ("aws", "default", "s3_bucket", "text"),
        ("chat_bot", "alterra", "api_key", "secret"),
        ("chat_bot", "watson", "workspace_id", "text"),
        ("chat_bot", "watson", "username", "text"),
        ("chat_bot", "watson", "password", "secret"),
        ("chat_bot", "watson", "max_api_calls_per_day", "integer"),
        ("chat_bot", "watson", "maximum_suggestions", "integer"),
        ("external_kb", "synthetix", "consumer_key", "secret"),
        ("external_kb", "synthetix", "application_key", "secret"),
        ("loxysoft", "default", "url", "url"),
        ("loxysoft", "default", "token", "secret"),
        ("loxysoft", "default", "skills_mapping", "mapping"),
        ("messenger", "facebook", "page_username", "text"),
        ("messenger", "facebook", "page_id", "text"),
        ("messenger", "facebook", "token", "secret"),
        ("messenger", "facebook", "webhook_verify_token", "secret"),
        ("messenger", "line", "token", "secret"),
        ("messenger", "nexmo", "key", "text"),
        ("messenger", "nexmo", "secret", "secret"),
        ("messenger", "telegram", "bot_username", "text"),
        ("messenger", "telegram", "token", "secret"),
        ("messenger", "viber", "bot_username", "text"),
        ("messenger", "viber", "token", "secret"),
        ("nice", "default", "username", "text"),
        ("nice", "default", "password", "secret"),
        ("nice", "default", "url", "url"),
        ("nlu", "default", "username", "text"),
        ("nlu", "default", "password", "secret"),
        ("next_caller", "default", "username", "text"),
        ("next_caller", "default", "password", "secret"),
        ("next_caller", "default", "field_mapping", "contact_field_mapping"),
        ("sso", "admin", "enable_single_sign_on", "bool"),
        ("sso", "admin", "identity_provider_single_sign_on_url", "url"),
        ("sso", "admin", "identity_provider_issuer", "text"),
        ("sso", "admin", "identity_provider_certificate", "text"),
        ("sso", "admin", "enable_just_in_time_user_provisioning", "bool"),
        ("stt", "watson", "username", "text"),
        ("stt", "watson", "password", "secret"),
        ("stt", "govivace", "api_key", "secret"),
        ("stt", "govivace", "default_account", "bool"),
        ("statistics_receiver", "default", "host_name", "text"),
        ("statistics_receiver", "default", "port", "integer"),
        ("tts", "watson", "user_name", "text"),
        ("tts", "watson", "password", "secret"),
        ("tts", "google", "api_key", "secret"),
        ("tdg", "default", "username", "text"),
        ("tdg", "default", "password", "secret"),
        ("tdg", "default", "api_key", "secret"),
        ("tdg", "default", "field_mapping", "contact_field_mapping"),
        ("wfm", "aspect_tcp", "host_name", "text"),
        ("wfm", "aspect_tcp", "port", "integer"),
        ("wfm", "aspect_tcp", "record_field_sizes", "record_field_sizes"),
        ("wfm", "aspect_tcp", "reason_codes_mapping", "mapping"),
        ("wfm", "http_post", "url", "url"),
        ("wfm", "http_post", "token", "secret"),
        ("wfm", "http_post", "reason_codes_mapping", "mapping"),
        ("zapier", "default", "username", "text"),
        ("zapier", "default", "password", "secret"),
    ];
    for (t, p, key, kind) in table {
        let field = catalog().provider(t, p).unwrap().field(key).unwrap_or_else(|| panic!("{t}/{p} lacks {key}"));
        let actual = serde_json::to_value(&field.kind).unwrap()["kind"].as_str().unwrap().to_owned();
        assert_eq!(&actual, kind, "{t}/{p}/{key}");
    }
}

#[test]
fn cardinality_gates_and_tests_follow_the_spec() {
    let c = catalog();
    assert_eq!(c.get("wfm").unwrap().cardinality, Cardinality::OnePerTenant { group: "wfm" });
    assert_eq!(c.get("loxysoft").unwrap().cardinality, Cardinality::OnePerTenant { group: "wfm" });
    assert_eq!(c.get("sso").unwrap().singleton_key("admin").as_deref(), Some("sso:admin"));
    assert_eq!(c.get("aws").unwrap().singleton_key("default"), None);
    let gated: Vec<&str> = c.types.iter().filter(|t| t.gated).map(|t| t.key).collect();
    assert_eq!(gated, ["aws", "external_kb", "nice"]);
    for t in ["tdg", "zapier"] {
        assert!(matches!(c.provider(t, "default").unwrap().test, TestSupport::None { .. }), "{t}");
    }
    let actions: Vec<(&str, &str, &str)> = c
        .types
        .iter()
        .flat_map(|t| t.providers.iter().flat_map(move |p| p.actions.iter().map(move |a| (t.key, p.key, a.key))))
        .collect();
    assert_eq!(
        actions,
        [
            ("messenger", "facebook", "generate_token"),
            ("messenger", "telegram", "set_webhook"),
            ("messenger", "viber", "set_webhook"),
            ("tts", "watson", "load_voices"),
            ("tts", "google", "load_voices"),
        ]
    );
}

#[test]
fn every_provider_accepts_a_complete_valid_body_and_applies_defaults() {
    for t in &catalog().types {
        for p in &t.providers {
            let props = full_properties(t.key, p.key);
            let v = validate(t.key, p.key, &props).unwrap_or_else(|e| panic!("{}/{}: {e:?}", t.key, p.key));
            for f in p.fields.iter().filter(|f| f.fixed) {
                assert_eq!(v.properties.get(&f.key), f.default.as_ref(), "{}/{}/{}", t.key, p.key, f.key);
            }
            for f in p.secret_fields() {
                assert_eq!(v.secret_ops.get(&f.key), Some(&SecretOp::Set));
                assert!(!v.properties.contains_key(&f.key), "secret {} leaked into properties", f.key);
            }
        }
    }
}

#[test]
fn every_required_field_left_out_is_reported_by_name() {
    for t in &catalog().types {
        for p in &t.providers {
            for f in p.fields.iter().filter(|f| f.required == patchbay_catalog::Required::Always && f.default.is_none())
            {
                let mut props = full_properties(t.key, p.key);
                props.remove(&f.key);
                let errors =
                    validate(t.key, p.key, &props).expect_err(&format!("{}/{} without {}", t.key, p.key, f.key));
                assert_eq!(rules_for(&errors, &format!("properties.{}", f.key)), ["required"], "{}/{}", t.key, p.key);
            }
        }
    }
}

#[test]
fn fixed_values_cannot_be_changed() {
    let cases: &[(&str, &str, &str, Value)] = &[
        ("chat_bot", "alterra", "method", json!("GET")),
        ("chat_bot", "alterra", "use_url_encode", json!(true)),
        ("chat_bot", "alterra", "maximum_suggestions", json!(2)),
        ("nlu", "default", "limit", json!(50)),
        ("statistics_receiver", "default", "protocol", json!("UDP")),
        ("sso", "admin", "use_template", json!(true)),
        ("wfm", "aspect_tcp", "protocol", json!("http_post")),
    ];
    for (t, p, key, value) in cases {
        let mut props = full_properties(t, p);
        props.insert(key.to_string(), value.clone());
        let errors = validate(t, p, &props).unwrap_err();
        assert_eq!(rules_for(&errors, &format!("properties.{key}")), ["fixed"], "{t}/{p}/{key}");
    }
    // Sending the fixed value itself is fine.
    let mut props = full_properties("chat_bot", "alterra");
    props.insert("method".into(), json!("POST"));
    assert!(validate("chat_bot", "alterra", &props).is_ok());
}

#[test]
fn stt_urls_accept_only_wss() {
    for p in ["watson", "govivace"] {
        for bad in ["https://stream.watsonplatform.net", "ws://stream.watsonplatform.net", "http://x.example"] {
            let mut props = full_properties("stt", p);
            props.insert("url".into(), json!(bad));
            let errors = validate("stt", p, &props).unwrap_err();
            assert_eq!(rules_for(&errors, "properties.url"), ["url_scheme"], "{p} {bad}");
            assert!(errors[0].message.contains("wss://"), "{}", errors[0].message);
        }
    }
}

#[test]
fn private_s3_url_is_required_only_when_private_storage_is_on() {
    let mut props = full_properties("aws", "default");
    props.remove("url");
    props.insert("use_private_s3_storage".into(), json!(false));
    assert!(validate("aws", "default", &props).is_ok());
    props.insert("use_private_s3_storage".into(), json!(true));
    let errors = validate("aws", "default", &props).unwrap_err();
    assert_eq!(rules_for(&errors, "properties.url"), ["required"]);
    assert!(errors[0].message.contains("Use private S3 storage"), "named by its label: {}", errors[0].message);
}

#[test]
fn conditional_crm_credentials_follow_the_auth_method() {
    let mut props = full_properties("zendesk", "default");
    props.insert("authentication_method".into(), json!("oauth"));
    props.remove("oauth_access_token");
    props.remove("email");
    props.remove("api_token");
    let errors = validate("zendesk", "default", &props).unwrap_err();
    assert_eq!(rules_for(&errors, "properties.oauth_access_token"), ["required"]);
    assert!(rules_for(&errors, "properties.email").is_empty());
}

#[test]
fn gated_types_need_the_tenant_entitlement() {
    for t in ALL_GATED {
        let p = catalog().get(t).unwrap().providers[0].key;
        let props = full_properties(t, p);
        let errors = catalog()
            .validate(
                &AccountInput { type_key: t, provider: p, name: "X", properties: &props },
                &ValidationContext {
                    enabled_types: &[],
                    existing_secrets: &[],
                    stored_properties: None,
                    allow_loopback_http: false,
                },
            )
            .unwrap_err();
        assert_eq!(rules_for(&errors, "type"), ["not_enabled"], "{t}");
    }
}

#[test]
fn unknown_type_provider_and_field_are_named() {
    let props = Map::new();
    let e = validate("fax", "default", &props).unwrap_err();
    assert_eq!(rules_for(&e, "type"), ["unknown_type"]);
    let e = validate("messenger", "whatsapp", &props).unwrap_err();
    assert_eq!(rules_for(&e, "provider"), ["unknown_provider"]);
    let mut props = full_properties("messenger", "line");
    props.insert("colour".into(), json!("red"));
    props.insert("name".into(), json!("attribute, not property"));
    let e = validate("messenger", "line", &props).unwrap_err();
    assert_eq!(rules_for(&e, "properties.colour"), ["unknown_field"]);
    assert_eq!(rules_for(&e, "properties.name"), ["unknown_field"]);
}

#[test]
fn wrong_kinds_and_ranges_are_rejected_per_field() {
    let cases: &[(&str, &str, &str, Value, &str)] = &[
        ("statistics_receiver", "default", "port", json!("80"), "type"),
        ("statistics_receiver", "default", "port", json!(0), "range"),
        ("statistics_receiver", "default", "port", json!(70000), "range"),
        ("statistics_receiver", "default", "port", json!(80.5), "type"),
        ("statistics_receiver", "default", "host_name", json!("bad host!"), "hostname"),
        ("loxysoft", "default", "periodic_update_interval", json!(0), "range"),
        ("aws", "default", "use_private_s3_storage", json!("yes"), "type"),
        ("aws", "default", "s3_bucket", json!("Bad_Bucket"), "bucket_name"),
        ("aws", "default", "url", json!("ftp://s3.example.com"), "url_scheme"),
        ("aws", "default", "url", json!("https://user:pw@s3.example.com"), "url_credentials"),
        ("aws", "default", "url", json!("not a url"), "url_invalid"),
        ("aws", "default", "secret_key", json!(42), "type"),
        ("aws", "default", "secret_key", json!(""), "empty"),
        ("salesforce", "default", "authentication_method", json!("magic"), "choice"),
        ("messenger", "viber", "webhook_url_host_and_port", json!("no-port"), "host_port"),
        ("zendesk", "default", "email", json!("not-an-email"), "email"),
        ("sso", "admin", "identity_provider_certificate", json!("hello"), "pem_certificate"),
        (
            "sso",
            "admin",
            "identity_provider_certificate",
            json!("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            "pem_certificate",
        ),
    ];
    for (t, p, key, value, rule) in cases {
        let mut props = full_properties(t, p);
        props.insert(key.to_string(), value.clone());
        let errors = validate(t, p, &props).unwrap_err();
        assert_eq!(rules_for(&errors, &format!("properties.{key}")), [*rule], "{t}/{p}/{key}={value}: {errors:?}");
    }
}

#[test]
fn mapping_tables_are_checked_row_by_row() {
    let mut props = full_properties("wfm", "aspect_tcp");
    props.insert("reason_codes_mapping".into(), json!({"Lunch": 7, "Break": "x", "Training": -1}));
    let e = validate("wfm", "aspect_tcp", &props).unwrap_err();
    assert_eq!(rules_for(&e, "properties.reason_codes_mapping.Break"), ["mapping_value"]);
    assert_eq!(rules_for(&e, "properties.reason_codes_mapping.Training"), ["mapping_value"]);
    assert!(rules_for(&e, "properties.reason_codes_mapping.Lunch").is_empty());

    let mut props = full_properties("loxysoft", "default");
    props.insert("skills_mapping".into(), json!({"Sales": "SK-1", "Support": ""}));
    let e = validate("loxysoft", "default", &props).unwrap_err();
    assert_eq!(rules_for(&e, "properties.skills_mapping.Support"), ["mapping_value"]);

    let mut props = full_properties("next_caller", "default");
    props.insert(
        "field_mapping".into(),
        json!([
            {"external_field": "first", "contact_field": "first_name"},
            {"external_field": "cell", "contact_field": "phones_by_type.mobile"},
            {"external_field": "mail2", "contact_field": "emails_by_order.2"},
            {"external_field": "x", "contact_field": "custom.my_custom_field"},
            {"external_field": "nothing", "contact_field": null},
            {"external_field": "bad", "contact_field": "phones_by_type.satellite"},
            {"external_field": "far", "contact_field": "emails_by_order.9"},
            {"external_field": "again", "contact_field": "first_name"},
        ]),
    );
    let e = validate("next_caller", "default", &props).unwrap_err();
    assert_eq!(rules_for(&e, "properties.field_mapping[5].contact_field"), ["contact_field"]);
    assert_eq!(rules_for(&e, "properties.field_mapping[6].contact_field"), ["contact_field"]);
    assert_eq!(rules_for(&e, "properties.field_mapping[7].contact_field"), ["duplicate"]);
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn record_field_sizes_fill_defaults_and_check_ranges() {
    let mut props = full_properties("wfm", "aspect_tcp");
    props.insert("record_field_sizes".into(), json!({"agent_id": 20}));
    let v = validate("wfm", "aspect_tcp", &props).unwrap();
    let sizes = &v.properties["record_field_sizes"];
    assert_eq!(sizes["agent_id"], json!(20));
    assert_eq!(sizes["reason_code"], json!(24));
    props.insert("record_field_sizes".into(), json!({"timestamp": 3, "colour": 2}));
    let e = validate("wfm", "aspect_tcp", &props).unwrap_err();
    assert_eq!(rules_for(&e, "properties.record_field_sizes.timestamp"), ["range"]);
    assert_eq!(rules_for(&e, "properties.record_field_sizes.colour"), ["record_field"]);
}

#[test]
fn secrets_keep_clear_and_replace() {
    let enabled = enabled();
    let existing = vec!["token".to_string(), "webhook_verify_token".to_string()];
    let mut props = full_properties("messenger", "facebook");
    props.remove("token");
    props.insert("webhook_verify_token".into(), Value::Null);
    let v = catalog()
        .validate(
            &AccountInput { type_key: "messenger", provider: "facebook", name: "FB", properties: &props },
            &ValidationContext {
                enabled_types: &enabled,
                existing_secrets: &existing,
                stored_properties: None,
                allow_loopback_http: false,
            },
        )
        .unwrap();
    assert_eq!(v.secret_ops.get("token"), None, "omitted secret keeps its value");
    assert_eq!(v.secret_ops.get("webhook_verify_token"), Some(&SecretOp::Clear));
    assert_eq!(v.secrets_set.iter().collect::<Vec<_>>(), ["app_secret", "token"]);
    // Clearing a required secret is refused.
    props.insert("token".into(), Value::Null);
    let errors = catalog()
        .validate(
            &AccountInput { type_key: "messenger", provider: "facebook", name: "FB", properties: &props },
            &ValidationContext {
                enabled_types: &enabled,
                existing_secrets: &existing,
                stored_properties: None,
                allow_loopback_http: false,
            },
        )
        .unwrap_err();
    assert_eq!(rules_for(&errors, "properties.token"), ["required"]);
}

#[test]
fn names_are_required_trimmed_and_bounded() {
    let props = full_properties("messenger", "line");
    for (name, rule) in
        [("", "required"), ("  ", "required"), (" x", "whitespace"), ("a\u{7}b", "no_control_characters")]
    {
        let e = catalog()
            .validate(
                &AccountInput { type_key: "messenger", provider: "line", name, properties: &props },
                &ValidationContext::default(),
            )
            .unwrap_err();
        assert_eq!(rules_for(&e, "name"), [rule], "{name:?}");
    }
    let long = "n".repeat(101);
    let e = catalog()
        .validate(
            &AccountInput { type_key: "messenger", provider: "line", name: &long, properties: &props },
            &ValidationContext::default(),
        )
        .unwrap_err();
    assert_eq!(rules_for(&e, "name"), ["max_length"]);
}

#[test]
fn singleton_and_default_keys_come_from_the_catalog() {
    let v = validate("loxysoft", "default", &full_properties("loxysoft", "default")).unwrap();
    assert_eq!(v.singleton_key.as_deref(), Some("wfm"));
    let mut props = full_properties("stt", "govivace");
    props.insert("default_account".into(), json!(true));
    assert_eq!(validate("stt", "govivace", &props).unwrap().default_key.as_deref(), Some("stt"));
    props.insert("default_account".into(), json!(false));
    assert_eq!(validate("stt", "govivace", &props).unwrap().default_key, None);
}

#[test]
fn json_schema_marks_secrets_write_only_and_fixed_values_const() {
    let alterra = catalog().provider("chat_bot", "alterra").unwrap().json_schema();
    assert_eq!(alterra["properties"]["api_key"]["writeOnly"], json!(true));
    assert_eq!(alterra["properties"]["method"]["const"], json!("POST"));
    assert_eq!(alterra["additionalProperties"], json!(false));
    let aws = catalog().provider("aws", "default").unwrap().json_schema();
    assert_eq!(aws["allOf"][0]["then"]["required"], json!(["url"]));
    let stt = catalog().provider("stt", "watson").unwrap().json_schema();
    assert_eq!(stt["properties"]["url"]["pattern"], json!("^(wss)://"));
}

/// Providers with a secret and a URL- or host-like field whose value does not decide where
/// the secret goes, and why.
const NOT_A_TARGET: &[(&str, &str, &str)] = &[
    ("tts", "google", "the URL is an OAuth scope; the API key goes to Google's fixed API"),
    (
        "messenger",
        "viber",
        "the token goes to Viber's fixed API; the webhook address gets deliveries signed with it, never the token",
    ),
    (
        "messenger",
        "telegram",
        "the token goes to Telegram's fixed API; the webhook URL gets deliveries with a secret derived from it, never the token",
    ),
];

fn host_like(field: &patchbay_catalog::Field) -> bool {
    use patchbay_catalog::TextRule;
    let by_kind = matches!(
        field.kind,
        FieldKind::Url { .. } | FieldKind::Text { rule: Some(TextRule::Hostname | TextRule::HostPort), .. }
    );
    let by_name = ["url", "host", "port", "region", "endpoint", "instance", "webhook", "sandbox", "site"]
        .iter()
        .any(|word| field.key.contains(word));
    !field.kind.is_secret() && (by_kind || by_name)
}

#[test]
fn every_provider_declares_the_fields_that_decide_where_it_connects() {
    let expected: &[(&str, &str, &[&str])] = &[
        ("aws", "default", &["use_private_s3_storage", "url"]),
        ("chat_bot", "alterra", &["url"]),
        ("chat_bot", "watson", &["url"]),
        ("external_kb", "synthetix", &["url"]),
        ("loxysoft", "default", &["url"]),
        ("messenger", "facebook", &[]),
        ("messenger", "line", &[]),
        ("messenger", "nexmo", &[]),
        ("messenger", "telegram", &[]),
        ("messenger", "viber", &[]),
        ("nice", "default", &["url"]),
        ("nlu", "default", &["url"]),
        ("next_caller", "default", &["sandbox_mode"]),
        ("oracle_service_cloud", "default", &["site_url"]),
        ("rightnow", "default", &["site_url"]),
        ("salesforce", "default", &["login_url"]),
        ("servicenow", "default", &["instance_url"]),
        ("sso", "agent_desktop", &["identity_provider_single_sign_on_url"]),
        ("sso", "admin", &["identity_provider_single_sign_on_url"]),
        ("stt", "watson", &["url"]),
        ("stt", "govivace", &["url"]),
        ("statistics_receiver", "default", &["host_name", "port"]),
        ("tts", "watson", &["url"]),
        ("tts", "google", &[]),
        ("tdg", "default", &[]),
        ("wfm", "aspect_tcp", &["host_name", "port"]),
        ("wfm", "http_post", &["url"]),
        ("zapier", "default", &[]),
        ("zendesk", "default", &["subdomain_url"]),
    ];
    let mut listed = 0;
    for t in &catalog().types {
        for p in &t.providers {
            let (_, _, want) = expected
                .iter()
                .find(|(ty, pr, _)| *ty == t.key && *pr == p.key)
                .unwrap_or_else(|| panic!("{}/{} is missing from the table of target fields", t.key, p.key));
            listed += 1;
            let targets: Vec<&str> = p.target_fields().map(|f| f.key.as_str()).collect();
            assert_eq!(&targets, want, "target fields of {}/{}", t.key, p.key);
            assert!(p.target_fields().all(|f| !f.kind.is_secret()), "{}/{}: a secret is no target", t.key, p.key);
            let exempt = NOT_A_TARGET.iter().any(|(ty, pr, _)| *ty == t.key && *pr == p.key);
            // Targets also decide when a saved account's last test stops describing it, so a
            // provider without secrets declares them too.
            if p.fields.iter().filter(|f| !f.fixed).any(host_like) && !exempt {
                assert!(
                    !targets.is_empty(),
                    "{}/{} has a URL/host-like field but declares no target field",
                    t.key,
                    p.key
                );
            }
        }
    }
    assert_eq!(listed, expected.len(), "the table lists a provider the catalog does not have");
}

#[test]
fn changing_a_target_field_needs_the_stored_secrets_entered_again() {
    let enabled = enabled();
    let existing = vec!["token".to_owned()];
    let stored = validate("wfm", "http_post", &full_properties("wfm", "http_post")).unwrap().properties;
    let check = |props: Map<String, Value>| {
        catalog().validate(
            &AccountInput { type_key: "wfm", provider: "http_post", name: "WFM", properties: &props },
            &ValidationContext {
                enabled_types: &enabled,
                existing_secrets: &existing,
                stored_properties: Some(&stored),
                allow_loopback_http: false,
            },
        )
    };
    let mut moved = stored.clone();
    moved.insert("url".into(), json!("https://elsewhere.example.net/rta"));
    let errors = check(moved.clone()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(rules_for(&errors, "properties.token"), ["reenter_secret_on_target_change"]);
    assert!(errors[0].message.contains("`url`"), "the message names the moved field: {}", errors[0].message);

    let mut with_token = moved.clone();
    with_token.insert("token".into(), json!("typed-again"));
    assert!(check(with_token).is_ok(), "giving the secret again is allowed");
    let mut cleared = moved;
    cleared.insert("token".into(), Value::Null);
    assert!(check(cleared).is_ok(), "clearing the secret sends nothing stored");

    let mut same_target = stored.clone();
    same_target.insert("periodic_update_interval".into(), json!(30));
    assert!(check(same_target).is_ok(), "a change elsewhere keeps the stored secrets");

    let aws = catalog().provider("aws", "default").unwrap();
    let off = json!({"use_private_s3_storage": false}).as_object().unwrap().clone();
    let on = json!({"use_private_s3_storage": true, "url": "https://s3.attacker.example"}).as_object().unwrap().clone();
    assert_eq!(aws.target_changed(&off, &on), ["secret_key"], "switching to a private S3 server moves the key");
    assert!(aws.target_changed(&on, &on).is_empty());
}

#[test]
fn names_refuse_control_bidi_and_zero_width_characters() {
    let props = full_properties("messenger", "line");
    let hidden = [
        '\u{0}', '\u{1b}', '\n', '\r', '\u{7f}', '\u{85}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{200E}',
        '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}',
    ];
    for c in hidden {
        let name = format!("Main{c}Line");
        let e = catalog()
            .validate(
                &AccountInput { type_key: "messenger", provider: "line", name: &name, properties: &props },
                &ValidationContext::default(),
            )
            .unwrap_err();
        assert_eq!(rules_for(&e, "name"), ["no_control_characters"], "U+{:04X}", u32::from(c));
    }
    for fine in ["Main line", "Zürich – Süd", "東京", "Ünïcödé 😀"] {
        assert!(patchbay_catalog::check_name_characters("name", "Name", fine).is_ok(), "{fine}");
    }
}

#[test]
fn stored_form_applies_fixed_values_defaults_and_trimming_and_keeps_refused_values() {
    use patchbay_catalog::keys::wfm::{aspect_tcp, http_post};
    let aspect = catalog().provider("wfm", "aspect_tcp").unwrap();
    let given = json!({ aspect_tcp::HOST_NAME: " rta.example.com ", aspect_tcp::PORT: 7000,
        aspect_tcp::RECORD_FIELD_SIZES: {"service": 40} });
    let stored = aspect.stored_form(given.as_object().unwrap());
    assert_eq!(stored[aspect_tcp::PROTOCOL], aspect.field(aspect_tcp::PROTOCOL).unwrap().default.clone().unwrap());
    assert_eq!(stored[aspect_tcp::HOST_NAME], "rta.example.com");
    assert_eq!(
        &stored[aspect_tcp::PERIODIC_UPDATE_INTERVAL],
        aspect.field(aspect_tcp::PERIODIC_UPDATE_INTERVAL).unwrap().default.as_ref().unwrap()
    );
    assert_eq!(stored[aspect_tcp::RECORD_FIELD_SIZES]["service"], 40);
    assert_eq!(stored[aspect_tcp::RECORD_FIELD_SIZES]["agent_id"], 16, "omitted sizes take their defaults");

    let blank =
        aspect.stored_form(json!({ aspect_tcp::HOST_NAME: "  ", aspect_tcp::PORT: "7000" }).as_object().unwrap());
    assert_eq!(blank.get(aspect_tcp::HOST_NAME), None, "blank is omitted");
    assert_eq!(blank[aspect_tcp::PORT], "7000", "a value validation refuses stays as given");

    let post = catalog().provider("wfm", "http_post").unwrap();
    let stored = post.stored_form(
        json!({ http_post::URL: " https://wfm.example.com/ ", http_post::TOKEN: "x" }).as_object().unwrap(),
    );
    assert_eq!(stored[http_post::URL], "https://wfm.example.com/");
    assert_eq!(stored.get(http_post::TOKEN), None, "secrets are left out");
}
