//! A connection test run on the admin screen's form, before saving, kept as the account's
//! last test when exactly the tested values are saved; and the rule that a save which
//! changes where or how the account connects leaves it untested.
//!
//! The test of an unsaved body answers with a [`TESTED_HEADER`]: the report and a digest of
//! the values it ran with (type, provider, properties and the clear secrets), sealed with
//! the active master key for the tenant and the account (the nil id for an account not
//! created yet), valid for [`VALID_FOR`]. A create or update that sends it back keeps the
//! report as the last test when the values it saves have the same digest. The client can
//! neither read the digest (it would leak a hash of the secrets) nor forge a report; any
//! node with the key ring opens it, so no state is kept between the test and the save.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use patchbay_connectors::TestReport;
use patchbay_secrets::{KeyLease, SecretString, TokenPurpose};
use patchbay_store::LastTestWrite;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The header that carries a form test from its answer to the save.
pub const TESTED_HEADER: &str = "patchbay-tested";
/// How long after the test a save may keep it.
pub const VALID_FOR: chrono::Duration = chrono::Duration::minutes(15);

/// What an account's values are, for comparing the tested ones with the saved ones.
pub struct Values<'a> {
    pub type_key: &'a str,
    pub provider: &'a str,
    pub properties: &'a Map<String, Value>,
    pub secrets: &'a BTreeMap<String, SecretString>,
}

impl Values<'_> {
    fn digest(&self) -> String {
        let secrets: BTreeMap<&str, &str> = self.secrets.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        let text = json!({
            "type": self.type_key,
            "provider": self.provider,
            "properties": self.properties,
            "secrets": secrets,
        })
        .to_string();
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    digest: String,
    report: Value,
    expires: DateTime<Utc>,
}

/// The header value for a test of `values` of account `owner` (None: not created yet).
pub fn seal(keys: &KeyLease, tenant: &str, owner: Option<Uuid>, values: &Values<'_>, report: &TestReport) -> String {
    let sealed = Sealed {
        digest: values.digest(),
        report: serde_json::to_value(report).unwrap_or(Value::Null),
        expires: Utc::now() + VALID_FOR,
    };
    let text = serde_json::to_string(&sealed).unwrap_or_default();
    keys.seal_token(tenant, owner.unwrap_or(Uuid::nil()), TokenPurpose::FormTest, &text)
}

/// The report the request's header carries, when it opens for `tenant` and `owner`, has
/// not expired and was taken of exactly `values`; else None (the header is advice: a save
/// never fails because of it).
fn kept_report(
    keys: &KeyLease,
    headers: &HeaderMap,
    tenant: &str,
    owner: Option<Uuid>,
    values: &Values<'_>,
) -> Option<Value> {
    let token = headers.get(TESTED_HEADER)?.to_str().ok()?;
    let opened = keys.open_token(tenant, owner.unwrap_or(Uuid::nil()), TokenPurpose::FormTest, token)?;
    let sealed: Sealed = serde_json::from_str(opened.expose()).ok()?;
    (sealed.expires > Utc::now() && sealed.digest == values.digest()).then_some(sealed.report)
}

/// What a save does to the last test: set it to the form's test of exactly these values;
/// else clear it when the save changes a property or a secret (which decide where and how
/// the account connects); else keep it (a new name or the enabled switch).
pub fn last_test_after(
    keys: &KeyLease,
    headers: &HeaderMap,
    tenant: &str,
    owner: Option<Uuid>,
    values: Option<&Values<'_>>,
    connection_changed: bool,
) -> LastTestWrite {
    match values.and_then(|v| kept_report(keys, headers, tenant, owner, v)) {
        Some(report) => LastTestWrite::Set(report),
        None if connection_changed => LastTestWrite::Clear,
        None => LastTestWrite::Keep,
    }
}
