//! Business systems reached over their HTTP APIs: CRMs (Oracle Service Cloud, RightNow,
//! Salesforce, ServiceNow, Zendesk), caller lookup (Next Caller) and the external knowledge
//! base (Synthetix). Each test is the cheapest authenticated read the vendor documents.

mod crm;
mod lookup;

use std::sync::Arc;

use patchbay_catalog::{catalog, Field, FieldKind};
use reqwest::header::HeaderValue;
use serde_json::Value;

use crate::egress::HttpReply;
use crate::report::{Category, Failure, TestRun};
use crate::{Connector, Context};

pub(crate) fn connectors() -> Vec<Arc<dyn Connector>> {
    vec![
        Arc::new(crm::OracleConnect),
        Arc::new(crm::Salesforce),
        Arc::new(crm::ServiceNow),
        Arc::new(crm::Zendesk),
        Arc::new(lookup::NextCaller),
        Arc::new(lookup::Synthetix),
    ]
}

/// The media type the APIs take and answer.
const JSON: &str = "application/json";

/// The success message the seed gives for credential tests.
const CREDENTIALS_VALID: &str = "Account credentials appear to be valid.";

/// Longest vendor-provided text put in a report.
const SHOWN_MAX: usize = 200;

/// `base` (a URL property, with or without a trailing slash) followed by `path`.
fn endpoint(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// Vendor-provided text as it may be shown: capped, and with every secret of the account
/// replaced, in case the vendor echoes what it was sent.
fn shown(cx: &Context<'_>, text: &str) -> String {
    cx.account.scrubber().scrub(text).chars().take(SHOWN_MAX).collect()
}

/// What a vendor's HTTP statuses mean.
struct Statuses {
    /// The target a 404 means is missing, e.g. "Oracle site or Connect REST API version".
    missing: &'static str,
    /// The vendor refuses bad credentials with 403 as well as 401 (otherwise 403 means the
    /// credentials are valid but lack a permission).
    forbidden_is_refusal: bool,
}

impl Statuses {
    fn failure(&self, status: u16) -> Failure {
        match status {
            403 if self.forbidden_is_refusal => {
                Failure::new(Category::InvalidCredentials, "the credentials were refused (HTTP 403)")
            }
            s => Failure::from_status(s, self.missing),
        }
    }

    /// `Ok` for a 2xx answer, else what its status means.
    fn accept(&self, reply: &HttpReply) -> Result<(), Failure> {
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(self.failure(reply.status))
        }
    }

    /// The `authenticate` step of an API that answers refused credentials with a status.
    fn authenticate(&self, run: &mut TestRun, reply: &HttpReply) -> Result<(), Failure> {
        let status = reply.status;
        run.check("authenticate", self.accept(reply), |_| format!("HTTP {status}: the credentials were accepted"))
    }
}

/// An answer that is not JSON does not come from `api`: the `property` leads elsewhere.
fn not_json(reply: &HttpReply, api: &str, property: &str) -> Failure {
    Failure::new(
        Category::UnexpectedResponse,
        format!("the answer (HTTP {}) is not JSON from the {api}; check the {property}", reply.status),
    )
}

/// The JSON of an answer from `api`.
fn json_of(reply: &HttpReply, api: &str, property: &str) -> Result<Value, Failure> {
    serde_json::from_slice(&reply.body).map_err(|_| not_json(reply, api, property))
}

/// The length of the list `key` of a JSON answer from `api`.
fn listed(reply: &HttpReply, key: &str, api: &str, property: &str) -> Result<usize, Failure> {
    json_of(reply, api, property)?
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::len)
        .ok_or_else(|| Failure::new(Category::UnexpectedResponse, format!("the {api} answer has no `{key}` list")))
}

/// A secret as an HTTP header value, marked sensitive so it is never logged.
fn secret_header(cx: &Context<'_>, field: &str) -> Result<HeaderValue, Failure> {
    let mut value = HeaderValue::from_str(cx.account.need_secret(field)?).map_err(|_| {
        Failure::new(
            Category::InvalidConfig,
            format!("the secret `{field}` has characters an HTTP header cannot carry"),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The catalog's field `key` of the account's provider (the connectors only ask for
/// fields their provider has; the key constants are checked against the catalog).
fn catalog_field(cx: &Context<'_>, key: &str) -> Result<&'static Field, Failure> {
    let account = cx.account;
    catalog().provider(&account.type_key, &account.provider).and_then(|p| p.field(key)).ok_or_else(|| {
        Failure::new(
            Category::InvalidConfig,
            format!("`{key}` is not a property of {}/{}", account.type_key, account.provider),
        )
    })
}

/// The catalog's default text of `key`, if it has one.
fn default_text(field: &'static Field) -> Option<&'static str> {
    field.default.as_ref().and_then(Value::as_str)
}

/// The value of a choice property, or the catalog's default when unset; one of the
/// catalog's choices.
fn choice<'a>(cx: &'a Context<'_>, key: &str) -> Result<&'a str, Failure> {
    let field = catalog_field(cx, key)?;
    let allowed: Vec<&str> = match &field.kind {
        FieldKind::Enum { choices } => choices.iter().map(|c| c.value).collect(),
        _ => Vec::new(),
    };
    let value = cx.account.text(key).or(default_text(field)).unwrap_or_default();
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(Failure::new(
            Category::InvalidConfig,
            format!("`{key}` is `{value}`; it must be one of {}", allowed.join(", ")),
        ))
    }
}

/// An API version as it goes into a URL path (`v1.4`, `v59.0`); `59.0` is taken as `v59.0`.
/// Unset, it is the catalog's default.
fn api_version(cx: &Context<'_>, key: &str) -> Result<String, Failure> {
    let default = default_text(catalog_field(cx, key)?).unwrap_or_default();
    let version = cx.account.text(key).unwrap_or(default);
    let digits = version.strip_prefix('v').unwrap_or(version);
    if digits.starts_with(|c: char| c.is_ascii_digit()) && digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        Ok(format!("v{digits}"))
    } else {
        Err(Failure::new(Category::InvalidConfig, format!("`{key}` must look like {default}, not `{version}`")))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use patchbay_catalog::keys::salesforce;
    use patchbay_vault::SecretString;
    use serde_json::json;

    use super::*;
    use crate::{AccountConfig, Egress, EgressPolicy, VendorUrls};

    fn with_context<T>(account: &AccountConfig, f: impl FnOnce(&Context<'_>) -> T) -> T {
        let egress = Egress::new(EgressPolicy::default()).unwrap();
        let vendors = VendorUrls::default();
        let cx = Context {
            egress: &egress,
            account,
            timeout: Duration::from_secs(1),
            public_url: None,
            hook_id: None,
            tenant: None,
            vendors: &vendors,
        };
        f(&cx)
    }

    #[test]
    fn endpoints_join_with_or_without_a_trailing_slash() {
        assert_eq!(
            endpoint("https://api.syn-finity.com/1.1/", "/external/views"),
            "https://api.syn-finity.com/1.1/external/views"
        );
        assert_eq!(endpoint("https://x.custhelp.com", "/services"), "https://x.custhelp.com/services");
    }

    #[test]
    fn vendor_text_never_shows_a_secret_even_when_capped() {
        let secret = "s3cr3t-value";
        let account = AccountConfig {
            secrets: [(salesforce::PASSWORD.to_owned(), SecretString::from(secret))].into(),
            ..AccountConfig::default()
        };
        let echoed = format!("{}{secret}", "x".repeat(SHOWN_MAX - 4));
        with_context(&account, |cx| {
            let text = shown(cx, &echoed);
            assert!(!text.contains(&secret[..4]), "{text}");
            assert_eq!(text.chars().count(), SHOWN_MAX);
            assert_eq!(shown(cx, &format!("bad password {secret}")), "bad password [secret]");
        });
    }

    #[test]
    fn api_versions_get_their_v_and_nothing_else_goes_into_the_path() {
        let versions = [
            (None, Some("v59.0")),
            (Some("45.0"), Some("v45.0")),
            (Some("v1.4"), Some("v1.4")),
            (Some("../v1"), None),
            (Some("v"), None),
        ];
        for (set, expected) in versions {
            let account = AccountConfig {
                type_key: "salesforce".into(),
                provider: "default".into(),
                properties: set
                    .map(|v| json!({ salesforce::API_VERSION: v }))
                    .and_then(|p| p.as_object().cloned())
                    .unwrap_or_default(),
                ..AccountConfig::default()
            };
            let got = with_context(&account, |cx| api_version(cx, salesforce::API_VERSION).ok());
            assert_eq!(got.as_deref(), expected, "{set:?}");
        }
    }
}
