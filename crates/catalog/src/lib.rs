//! The catalog of integration types: every type, provider and property of the functional
//! spec, with labels, help texts, kinds, defaults, fixed values and rules, and the
//! validation of account input against them; and, with the same field descriptors, the
//! settings of a recording export job (`export_job`). Pure data and functions: no I/O, no
//! secrets in clear beyond checking their shape. The JSON schema, the API validation, the
//! admin forms and the docs are all derived from here; code elsewhere names properties
//! through [`keys`] and reads defaults, ranges and rules from here rather than restating them.

pub mod docs;
pub mod export_job;
pub mod keys;
mod model;
mod schema;
mod spec;
mod validate;

pub use model::*;
pub use validate::{
    check_name_characters, is_hidden_or_control, AccountInput, FieldError, SecretOp, Validated, ValidationContext,
};

use std::sync::OnceLock;

/// The catalog, built once.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(spec::build)
}

/// Turns a spec label into its property key: lower case, every run of non-alphanumeric
/// characters becomes one `_`, none at either end ("Access Key ID" -> `access_key_id`).
pub fn property_key(label: &str) -> String {
    let mut key = String::with_capacity(label.len());
    let mut gap = false;
    for ch in label.chars() {
        if ch.is_alphanumeric() {
            if gap && !key.is_empty() {
                key.push('_');
            }
            gap = false;
            key.extend(ch.to_lowercase());
        } else {
            gap = true;
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_keys_follow_the_snake_case_rule() {
        assert_eq!(property_key("Access Key ID"), "access_key_id");
        assert_eq!(property_key("Use private S3 storage"), "use_private_s3_storage");
        assert_eq!(property_key("Webhook Verify Token"), "webhook_verify_token");
        assert_eq!(property_key("Identity Provider Single Sign-On URL"), "identity_provider_single_sign_on_url");
        assert_eq!(property_key("Webhook url (host and port)"), "webhook_url_host_and_port");
    }
}
