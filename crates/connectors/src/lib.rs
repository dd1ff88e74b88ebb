//! Connection tests and account actions, one connector per integration type and provider,
//! speaking each vendor's real protocol (S3 SigV4, HTTPS APIs, WSS, certificates), and the
//! `Registry` that finds them. The pushing integrations (Aspect TCP, WFM HTTP POST, Loxysoft,
//! NICE, statistics receiver) keep their connectors beside their feeds in `patchbay_feeds`,
//! which adds them to a registry (`patchbay_feeds::registry()`, the whole set); this crate
//! knows nothing of feeds. Every outbound call goes through `Egress`. Connectors see one
//! account's values, with its secrets in clear only for the call; they never see another
//! tenant's data and never put a secret in a report, an error or a log line.

pub mod egress;
mod net;
mod report;
mod s3;
mod scrub;
mod vendors;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use patchbay_vault::SecretString;
use serde_json::{Map, Value};

pub use egress::{Egress, EgressError, EgressPolicy, HttpReply, Names};
pub use net::{stt_endpoint, Upgrade, VendorSocket};
pub use patchbay_api::{ActionResult, Voice};
pub use report::{Category, Failure, Outcome, StepStatus, TestReport, TestRun, TestStep};
pub use s3::{S3Target, EMPTY_SHA256};
pub use scrub::Scrubber;
pub use vendors::telegram_webhook_secret;

/// The values of one account as a connector sees them: non-secret properties (defaults
/// applied) and the secrets in clear.
#[derive(Debug, Clone, Default)]
pub struct AccountConfig {
    pub id: Option<String>,
    pub type_key: String,
    pub provider: String,
    pub name: String,
    pub properties: Map<String, Value>,
    pub secrets: BTreeMap<String, SecretString>,
}

impl AccountConfig {
    pub fn text(&self, key: &str) -> Option<&str> {
        self.properties.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.properties.get(key).and_then(Value::as_i64)
    }

    /// Finds this account's secrets in text.
    pub fn scrubber(&self) -> Scrubber {
        Scrubber::new(self.secrets.values().cloned().collect())
    }

    pub fn flag(&self, key: &str) -> bool {
        self.properties.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn secret(&self, key: &str) -> Option<&str> {
        self.secrets.get(key).map(SecretString::expose).filter(|s| !s.is_empty())
    }

    /// A required text property, or an `InvalidConfig` failure naming it.
    pub fn need_text(&self, key: &str) -> Result<&str, Failure> {
        self.text(key).ok_or_else(|| Failure::new(Category::InvalidConfig, format!("`{key}` is not set")))
    }

    /// A required secret, or an `InvalidConfig` failure naming it.
    pub fn need_secret(&self, key: &str) -> Result<&str, Failure> {
        self.secret(key).ok_or_else(|| Failure::new(Category::InvalidConfig, format!("the secret `{key}` is not set")))
    }
}

/// What a connector gets for one call.
pub struct Context<'a> {
    pub egress: &'a Egress,
    pub account: &'a AccountConfig,
    /// Timeout of each outbound call.
    pub timeout: Duration,
    /// Public base URL of this service (for webhooks), when configured.
    pub public_url: Option<&'a url::Url>,
    /// The saved account's inbound webhook hook id, when its provider takes deliveries.
    pub hook_id: Option<&'a str>,
    /// The tenant the account belongs to (the SSO accounts' service-provider URLs name it).
    pub tenant: Option<&'a str>,
    /// Where the vendors without a URL property live.
    pub vendors: &'a VendorUrls,
}

/// The first path segment of single sign-on: `{public_url}/sso/{tenant}/{provider}/{endpoint}`.
pub const SSO_SEGMENT: &str = "sso";

/// A single sign-on endpoint (`metadata`, `login`, `acs`) of the tenant's SSO account of
/// `provider`, under `base` (any path of `base` kept); `None` when `base` cannot take a path.
pub fn sso_url(base: &url::Url, tenant: &str, provider: &str, endpoint: &str) -> Option<url::Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().ok()?.pop_if_empty().extend([SSO_SEGMENT, tenant, provider, endpoint]);
    Some(url)
}

/// The path of a single sign-on endpoint (`/sso/{tenant}/{provider}/{endpoint}`, each part
/// percent-encoded as one segment), for links within this service.
pub fn sso_path(tenant: &str, provider: &str, endpoint: &str) -> String {
    let local = url::Url::parse("http://patchbay.invalid/").expect("a fixed URL");
    sso_url(&local, tenant, provider, endpoint).expect("an http URL takes a path").path().to_owned()
}

/// The first path segment of inbound webhooks: `{public_url}/hooks/{hook_id}`.
pub const HOOKS_SEGMENT: &str = "hooks";

/// An account's inbound webhook URL under `base` (any path of `base` kept), or `None` when
/// `base` cannot take a path.
pub fn inbound_webhook_url(base: &url::Url, hook_id: &str) -> Option<url::Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().ok()?.pop_if_empty().extend([HOOKS_SEGMENT, hook_id]);
    Some(url)
}

/// Base URLs of vendor APIs that accounts do not configure (Telegram, Facebook Graph,
/// LINE, Vonage's account and Messages APIs, Viber, Google, Next Caller, The Data Group). The real ones by default; an operator may
/// point one at a proxy, and tests point them at local servers that follow each vendor's
/// documented contract.
#[derive(Debug, Clone)]
pub struct VendorUrls {
    urls: BTreeMap<&'static str, url::Url>,
}

/// The vendors and their public API base URLs.
pub const VENDORS: &[(&str, &str)] = &[
    ("facebook", "https://graph.facebook.com/v19.0/"),
    ("google_tts", "https://texttospeech.googleapis.com/"),
    ("line", "https://api.line.me/"),
    ("nexmo", "https://rest.nexmo.com/"),
    ("nexmo_messages", "https://api.nexmo.com/"),
    ("next_caller", "https://api.nextcaller.com/"),
    ("next_caller_sandbox", "https://api.sandbox.nextcaller.com/"),
    ("tdg", "https://api.thedatagroup.com/"),
    ("telegram", "https://api.telegram.org/"),
    ("viber", "https://chatapi.viber.com/"),
];

impl Default for VendorUrls {
    fn default() -> Self {
        let urls = VENDORS
            .iter()
            .map(|(name, url)| (*name, url::Url::parse(url).expect("the built-in vendor URLs are valid")))
            .collect();
        VendorUrls { urls }
    }
}

impl VendorUrls {
    /// Points `vendor` elsewhere; unknown vendors are refused with the known names.
    pub fn set(&mut self, vendor: &str, url: url::Url) -> Result<(), String> {
        match VENDORS.iter().find(|(name, _)| *name == vendor) {
            Some((name, _)) => {
                self.urls.insert(name, url);
                Ok(())
            }
            None => Err(format!(
                "unknown vendor `{vendor}`; vendors: {}",
                VENDORS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// The base URL of `vendor` (always ends with `/`).
    pub fn get(&self, vendor: &str) -> &url::Url {
        self.urls.get(vendor).unwrap_or_else(|| panic!("vendor `{vendor}` is not in VENDORS"))
    }
}

/// Every string in `value` scrubbed (what a vendor reports back, e.g. a webhook's last error).
fn scrub_strings(run: &TestRun, value: &mut Value) {
    match value {
        Value::String(s) => *s = run.scrub(s),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_strings(run, v)),
        Value::Object(fields) => fields.values_mut().for_each(|v| scrub_strings(run, v)),
        _ => {}
    }
}

/// One integration type/provider's test and actions.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The `(type, provider)` pairs served.
    fn handles(&self) -> &'static [(&'static str, &'static str)];

    /// The connection test; `Ok` carries the success message.
    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure>;

    /// An action the catalog declares for the provider (other than `generate_token`,
    /// which needs no network and is the server's).
    async fn action(
        &self,
        cx: &Context<'_>,
        action: &str,
        params: &Map<String, Value>,
        run: &mut TestRun,
    ) -> Result<ActionResult, Failure> {
        let _ = (cx, params, run);
        Err(Failure::new(Category::InvalidConfig, format!("`{action}` is not an action of this provider")))
    }
}

/// Connectors by `(type, provider)`.
#[derive(Clone)]
pub struct Registry {
    by_key: HashMap<(&'static str, &'static str), Arc<dyn Connector>>,
}

impl Registry {
    /// This crate's connectors and `more`, the connectors of integrations that live
    /// elsewhere (`patchbay_feeds::registry()` passes the pushing integrations' and is the
    /// registry the server uses). Panics when two connectors handle the same
    /// `(type, provider)`: one of them would never run.
    pub fn with(more: impl IntoIterator<Item = Arc<dyn Connector>>) -> Registry {
        let own = s3::connectors().into_iter().chain(vendors::connectors()).chain(net::connectors());
        let mut by_key = HashMap::new();
        for c in own.chain(more) {
            for &key in c.handles() {
                if by_key.insert(key, c.clone()).is_some() {
                    panic!("two connectors handle {}/{}", key.0, key.1);
                }
            }
        }
        Registry { by_key }
    }

    pub fn get(&self, type_key: &str, provider: &str) -> Option<&Arc<dyn Connector>> {
        self.by_key.iter().find(|((t, p), _)| *t == type_key && *p == provider).map(|(_, c)| c)
    }

    /// Runs the connection test of the account's provider.
    pub async fn test(&self, cx: &Context<'_>) -> TestReport {
        let Some(connector) = self.get(&cx.account.type_key, &cx.account.provider) else {
            return TestRun::unsupported("this integration type has no connection test");
        };
        let mut run = TestRun::scrubbing(cx.account.scrubber());
        let result = connector.test(cx, &mut run).await;
        run.finish(result)
    }

    pub async fn action(
        &self,
        cx: &Context<'_>,
        action: &str,
        params: &Map<String, Value>,
    ) -> Result<ActionResult, (Failure, Vec<TestStep>)> {
        let mut run = TestRun::scrubbing(cx.account.scrubber());
        let Some(connector) = self.get(&cx.account.type_key, &cx.account.provider) else {
            return Err((Failure::new(Category::InvalidConfig, "this provider has no actions"), Vec::new()));
        };
        match connector.action(cx, action, params, &mut run).await {
            Ok(mut outcome) => {
                outcome.message = run.scrub(&outcome.message);
                if let Some(webhook) = &mut outcome.webhook {
                    scrub_strings(&run, webhook);
                }
                outcome.steps = run.steps().to_vec();
                Ok(outcome)
            }
            Err(f) => Err((Failure::new(f.category, run.scrub(&f.message)), run.steps().to_vec())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector for the given pairs whose test always passes.
    struct Stub(&'static [(&'static str, &'static str)]);

    #[async_trait]
    impl Connector for Stub {
        fn handles(&self) -> &'static [(&'static str, &'static str)] {
            self.0
        }

        async fn test(&self, _: &Context<'_>, _: &mut TestRun) -> Result<String, Failure> {
            Ok("stub".into())
        }
    }

    #[test]
    fn connectors_from_outside_are_found_beside_the_own_ones() {
        let registry = Registry::with([Arc::new(Stub(&[("tdg", "default")])) as Arc<dyn Connector>]);
        assert_eq!(registry.get("tdg", "default").map(|c| c.handles()), Some(&[("tdg", "default")][..]));
        assert!(registry.get("sso", "admin").is_some(), "the crate's own connectors stay");
        assert!(Registry::with([]).get("tdg", "default").is_none());
    }

    #[test]
    #[should_panic(expected = "two connectors handle sso/admin")]
    fn a_second_connector_for_a_served_pair_is_refused() {
        Registry::with([Arc::new(Stub(&[("sso", "admin")])) as Arc<dyn Connector>]);
    }
}
