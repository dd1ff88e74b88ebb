//! Single sign-on for the admin screen and the agent desktop: a tenant's SSO account read
//! into its settings (`config`), the SP-initiated sign-in (an AuthnRequest remembered for
//! the browser that started it), the Assertion Consumer Service (the response verified by
//! `patchbay-saml`, then InResponseTo against that browser's pending request, the assertion
//! id against replays on every node, the user found or created just in time with the role
//! the attribute mapping gives), the agent desktop's one-time codes, and whether a tenant
//! requires SSO.
//!
//! Must not answer HTTP or set cookies (the server maps [`Outcome`]s and [`Refused`]),
//! decide API access, or let a response's XML or an assertion's attributes reach a log or
//! an audit entry.

mod config;

use std::sync::Arc;

use base64::Engine;
use chrono::{TimeDelta, Utc};
use patchbay_saml::{Checks, ServiceProvider};
use patchbay_store::{SignInIdentity, SignonStore, SsoCode, SsoRequest, Store, StoreError, User};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use config::{AdminSso, SsoConfig};

/// How long a sign-in started here may take at the identity provider.
pub const REQUEST_LIFETIME: TimeDelta = TimeDelta::minutes(10);
/// How long an agent desktop's one-time code can be exchanged.
pub const CODE_LIFETIME: TimeDelta = TimeDelta::seconds(60);
/// How often each node deletes expired sign-in state.
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
/// The longest `state` an agent desktop may pass through the sign-in.
pub const STATE_MAX: usize = 512;

/// The two SSO accounts of a tenant (the catalog's `sso` providers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Admin,
    AgentDesktop,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Admin => "admin",
            Provider::AgentDesktop => "agent_desktop",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        [Provider::Admin, Provider::AgentDesktop].into_iter().find(|p| p.as_str() == s)
    }
}

/// Why a step of a sign-in is refused: a stable code for logs, metrics and the audit
/// trail, and a message for the person at the browser or the administrator.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

impl Refused {
    fn new(code: &'static str, message: impl Into<String>) -> Refused {
        Refused { code, message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignOnError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = SignOnError> = std::result::Result<T, E>;

/// What a verified sign-in gives.
#[derive(Debug)]
pub enum Outcome {
    /// A user of the admin screen, and the patchbay path to show.
    Admin { user: Box<User>, return_to: String },
    /// The agent desktop's return URL with its one-time `code` (and `state`) appended.
    AgentDesktop { redirect: String },
}

/// The SSO service of a node.
#[derive(Clone)]
pub struct SignOn {
    store: Arc<dyn Store>,
    signon: Arc<dyn SignonStore>,
    public_url: Option<url::Url>,
}

/// The SHA-256 of a browser's SSO cookie or of a code: only digests are stored.
pub fn digest(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// A new random value for a cookie or a code: 32 bytes, URL-safe base64.
pub fn random_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `path` is a path of this service (`/…`, never `//host` or `/\host`, which a
/// browser would take to another site).
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control() || c == '\\')
}

impl SignOn {
    /// The service, and its task that deletes expired pending requests, seen assertion ids
    /// and codes every [`PURGE_EVERY`].
    pub fn start(store: Arc<dyn Store>, signon: Arc<dyn SignonStore>, public_url: Option<url::Url>) -> SignOn {
        let purging = signon.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PURGE_EVERY);
            loop {
                every.tick().await;
                if let Err(e) = purging.purge_sso().await {
                    tracing::warn!(error = %e, "expired single sign-on state could not be purged");
                }
            }
        });
        SignOn { store, signon, public_url }
    }

    /// This service as the SAML service provider of `tenant`'s `provider` account. The base
    /// is the public URL; without one, `origin` (the request's own, which the server takes
    /// only for a loopback host).
    pub fn service_provider(&self, tenant: &str, provider: Provider, origin: Option<&str>) -> Result<ServiceProvider> {
        let no_base = || {
            Refused::new(
                "no_public_url",
                "single sign-on needs the service's public URL: start patchbay with --public-url",
            )
        };
        let base = match (&self.public_url, origin) {
            (Some(url), _) => url.clone(),
            (None, Some(origin)) => url::Url::parse(origin).map_err(|_| no_base())?,
            (None, None) => return Err(no_base().into()),
        };
        let url = |endpoint| {
            patchbay_connectors::sso_url(&base, tenant, provider.as_str(), endpoint)
                .map(String::from)
                .ok_or_else(no_base)
        };
        Ok(ServiceProvider { entity_id: url("metadata")?, acs_url: url("acs")? })
    }

    /// The tenant's SSO account of `provider` when single sign-on is on.
    pub async fn config(&self, tenant: &str, provider: Provider) -> Result<SsoConfig> {
        let accounts = self.store.list_accounts(tenant, Some("sso")).await?;
        let account = accounts.iter().find(|a| a.provider == provider.as_str()).ok_or_else(|| {
            Refused::new("not_configured", format!("this contact center has no {} account", provider_label(provider)))
        })?;
        SsoConfig::read(account)
    }

    /// The SP metadata XML of the tenant's `provider` account.
    pub async fn metadata(&self, tenant: &str, provider: Provider, origin: Option<&str>) -> Result<String> {
        self.config(tenant, provider).await?;
        Ok(patchbay_saml::sp_metadata(&self.service_provider(tenant, provider, origin)?))
    }

    /// Starts a sign-in in the browser whose SSO cookie digests to `browser`: remembers the
    /// request and returns the identity provider's URL to send the browser to. `return_to`
    /// is a path of this service (admin) or one of the account's allowed return URLs (agent
    /// desktop, which may add a `state` to get back).
    pub async fn login(
        &self,
        tenant: &str,
        provider: Provider,
        browser: &[u8],
        return_to: Option<&str>,
        state: Option<&str>,
        origin: Option<&str>,
    ) -> Result<String> {
        let config = self.config(tenant, provider).await?;
        let return_to = match provider {
            Provider::Admin => {
                let path = return_to.unwrap_or("/");
                if !is_local_path(path) {
                    return Err(Refused::new("return_to", "the sign-in may only return to a page of patchbay").into());
                }
                path.to_owned()
            }
            Provider::AgentDesktop => desktop_return(&config, return_to, state)?,
        };
        let sp = self.service_provider(tenant, provider, origin)?;
        let id = patchbay_saml::new_request_id();
        let now = Utc::now();
        self.signon
            .create_sso_request(&SsoRequest {
                id: id.clone(),
                tenant_id: tenant.to_owned(),
                provider: provider.as_str().to_owned(),
                browser_hash: browser.to_vec(),
                return_to,
                expires_at: now + REQUEST_LIFETIME,
            })
            .await?;
        Ok(patchbay_saml::authn_request_url(&sp, &config.sso_url, &id, now, None))
    }

    /// The Assertion Consumer Service: verifies `saml_response` for the tenant's `provider`
    /// account and signs the person in. `browser` is the digest of the browser's SSO cookie,
    /// when it sent one; `relay_state` is only used for IdP-initiated sign-ins.
    pub async fn acs(
        &self,
        tenant: &str,
        provider: Provider,
        saml_response: &str,
        relay_state: Option<&str>,
        browser: Option<&[u8]>,
        origin: Option<&str>,
    ) -> Result<Outcome> {
        let config = self.config(tenant, provider).await?;
        let sp = self.service_provider(tenant, provider, origin)?;
        let assertion =
            patchbay_saml::verify_response(saml_response, &Checks { sp: &sp, idp: &config.idp, now: Utc::now() })
                .map_err(|refusal| Refused::new(refusal.code(), refusal.to_string()))?;
        let return_to = match &assertion.in_response_to {
            Some(request_id) => {
                let pending = match browser {
                    Some(browser) => {
                        self.signon.take_sso_request(tenant, provider.as_str(), request_id, browser).await?
                    }
                    None => None,
                };
                pending
                    .ok_or_else(|| {
                        Refused::new(
                            "in_response_to",
                            "this response answers a sign-in this browser did not start here, or one that \
                             expired: start the sign-in again",
                        )
                    })?
                    .return_to
            }
            None if config.allow_idp_initiated => match provider {
                Provider::Admin => relay_state.filter(|p| is_local_path(p)).unwrap_or("/").to_owned(),
                Provider::AgentDesktop => desktop_return(&config, relay_state, None)?,
            },
            None => {
                return Err(Refused::new(
                    "unsolicited",
                    "sign-ins started at the identity provider are not allowed for this account: start \
                     the sign-in from patchbay (or allow IdP-initiated sign-in on the SSO account)",
                )
                .into())
            }
        };
        if !self.signon.record_assertion(tenant, &assertion.issuer, &assertion.id, assertion.expires).await? {
            return Err(Refused::new("replayed", "this response was already used: start the sign-in again").into());
        }
        let identity = SignInIdentity {
            name_id: assertion.name_id.clone(),
            email: assertion.email().map(str::to_owned),
            display_name: assertion.display_name(),
        };
        match provider {
            Provider::Admin => {
                let jit_role = config.jit.then(|| config.role_for(&assertion).role().as_str());
                let user = self.signon.sign_in_user(tenant, provider.as_str(), &identity, jit_role).await?.ok_or_else(
                    || {
                        Refused::new(
                            "unknown_user",
                            format!(
                                "{} is not a user of this contact center, and just-in-time provisioning is off: \
                                 ask an administrator to add you",
                                identity.email.as_deref().unwrap_or(&identity.name_id)
                            ),
                        )
                    },
                )?;
                if !user.enabled {
                    return Err(Refused::new(
                        "user_disabled",
                        "your user is disabled in this contact center: ask an administrator",
                    )
                    .into());
                }
                Ok(Outcome::Admin { user: Box::new(user), return_to })
            }
            Provider::AgentDesktop => {
                let code = random_value();
                let verified = json!({
                    "subject": assertion.name_id,
                    "name_id_format": assertion.name_id_format,
                    "email": identity.email,
                    "name": identity.display_name,
                    "issuer": assertion.issuer,
                    "session_index": assertion.session_index,
                    "attributes": assertion.attributes,
                    "just_in_time": config.jit,
                    "authenticated_at": Utc::now(),
                });
                let (url, state) = split_state(&return_to);
                self.signon
                    .create_sso_code(
                        tenant,
                        &digest(&code),
                        &SsoCode { return_to: url.to_owned(), identity: verified },
                        Utc::now() + CODE_LIFETIME,
                    )
                    .await?;
                let mut redirect = url::Url::parse(url).map_err(|_| Refused::new("return_to", "bad return URL"))?;
                redirect.query_pairs_mut().append_pair("code", &code);
                if let Some(state) = state {
                    redirect.query_pairs_mut().append_pair("state", state);
                }
                Ok(Outcome::AgentDesktop { redirect: redirect.into() })
            }
        }
    }

    /// The agent desktop exchanges its one-time code (with the return URL it was sent to)
    /// for the verified identity: once, within [`CODE_LIFETIME`].
    pub async fn exchange(&self, tenant: &str, code: &str, return_to: &str) -> Result<serde_json::Value> {
        let invalid = || Refused::new("invalid_code", "the code is unknown, used or expired");
        let taken = self.signon.take_sso_code(tenant, &digest(code)).await?.ok_or_else(invalid)?;
        if taken.return_to != return_to {
            return Err(Refused::new("return_to", "return_to is not the URL the code was sent to").into());
        }
        Ok(taken.identity)
    }

    /// The tenant's Admin SSO as the sign-in page shows it, when single sign-on is on.
    pub async fn admin_sso(&self, tenant: &str) -> Result<Option<AdminSso>> {
        match self.config(tenant, Provider::Admin).await {
            Ok(config) => Ok(Some(config.admin_view(tenant))),
            Err(SignOnError::Refused(_)) | Err(SignOnError::Store(StoreError::NotFound)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn provider_label(provider: Provider) -> &'static str {
    match provider {
        Provider::Admin => "Admin SSO",
        Provider::AgentDesktop => "Agent Desktop SSO",
    }
}

/// The allowed return URL the agent desktop asked for, with its `state` kept after a
/// newline (split again by [`split_state`]).
fn desktop_return(config: &SsoConfig, return_to: Option<&str>, state: Option<&str>) -> Result<String> {
    let Some(return_to) = return_to else {
        return Err(Refused::new("return_to", "the agent desktop must say where to return (return_to)").into());
    };
    if !config.return_urls.iter().any(|allowed| allowed == return_to) {
        return Err(Refused::new("return_to", "return_to is not one of the account's allowed return URLs").into());
    }
    match state {
        Some(state) if state.len() > STATE_MAX || state.contains('\n') => {
            Err(Refused::new("state", format!("state is at most {STATE_MAX} characters on one line")).into())
        }
        Some(state) => Ok(format!("{return_to}\n{state}")),
        None => Ok(return_to.to_owned()),
    }
}

fn split_state(stored: &str) -> (&str, Option<&str>) {
    match stored.split_once('\n') {
        Some((url, state)) => (url, Some(state)),
        None => (stored, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_service_are_local() {
        for ok in ["/", "/#/tenants/acme", "/ui/x?y=1"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example/", "evil", "", "/\t/x", "/a\\b"] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }

    #[test]
    fn a_desktop_state_survives_the_round_trip() {
        assert_eq!(split_state("https://d.example/cb\nxyz"), ("https://d.example/cb", Some("xyz")));
        assert_eq!(split_state("https://d.example/cb"), ("https://d.example/cb", None));
    }
}
