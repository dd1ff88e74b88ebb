//! An SSO account's properties read into the settings a sign-in uses. The keys and the
//! defaults are the catalog's.

use patchbay_api::UserRole;
use patchbay_catalog::keys::{sso, sso_admin, sso_agent_desktop};
use patchbay_saml::{Assertion, IdentityProvider};
use patchbay_store::Account;
use serde_json::Value;

use crate::{Refused, Result};

/// One SSO account with single sign-on on.
pub struct SsoConfig {
    pub account_name: String,
    pub sso_url: String,
    pub idp: IdentityProvider,
    pub jit: bool,
    pub allow_idp_initiated: bool,
    /// Admin SSO: the attribute that decides a new user's role, and its values that make a
    /// tenant admin.
    pub role_attribute: String,
    pub admin_values: Vec<String>,
    /// Admin SSO: token sign-in to the admin screen is refused for the tenant.
    pub require_sso: bool,
    /// Agent Desktop SSO: where the desktop may be sent back.
    pub return_urls: Vec<String>,
}

/// The tenant's Admin SSO as the sign-in page offers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdminSso {
    /// The account's name, which the button shows ("Sign in with Okta").
    pub name: String,
    pub login_path: String,
    pub required: bool,
}

fn text<'a>(account: &'a Account, key: &str) -> Option<&'a str> {
    account.properties.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn flag(account: &Account, key: &str) -> bool {
    account.properties.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A list separated by commas, spaces or new lines.
fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl SsoConfig {
    pub fn read(account: &Account) -> Result<SsoConfig> {
        if !account.enabled || !flag(account, sso::ENABLE_SINGLE_SIGN_ON) {
            return Err(Refused::new(
                "not_enabled",
                format!("single sign-on is off on the account \u{201c}{}\u{201d}", account.name),
            )
            .into());
        }
        let missing = |what: &str| {
            Refused::new("not_configured", format!("the account \u{201c}{}\u{201d} has no {what}", account.name))
        };
        let sso_url = text(account, sso::IDENTITY_PROVIDER_SINGLE_SIGN_ON_URL).ok_or_else(|| missing("SSO URL"))?;
        let issuer = text(account, sso::IDENTITY_PROVIDER_ISSUER).ok_or_else(|| missing("IdP issuer"))?;
        let pem = text(account, sso::IDENTITY_PROVIDER_CERTIFICATE).ok_or_else(|| missing("IdP certificate"))?;
        let idp = IdentityProvider::from_pem(issuer, pem).map_err(|e| {
            Refused::new(
                "certificate",
                format!("the IdP certificate of \u{201c}{}\u{201d} cannot be used: {e}", account.name),
            )
        })?;
        Ok(SsoConfig {
            account_name: account.name.clone(),
            sso_url: sso_url.to_owned(),
            idp,
            jit: flag(account, sso::ENABLE_JUST_IN_TIME_USER_PROVISIONING),
            allow_idp_initiated: flag(account, sso::ALLOW_IDP_INITIATED_SIGN_IN),
            role_attribute: text(account, sso_admin::ROLE_ATTRIBUTE).unwrap_or_default().to_owned(),
            admin_values: list(text(account, sso_admin::ADMINISTRATOR_ROLE_VALUES)),
            require_sso: flag(account, sso_admin::REQUIRE_SINGLE_SIGN_ON),
            return_urls: list(text(account, sso_agent_desktop::ALLOWED_RETURN_URLS)),
        })
    }

    /// The role a new user gets: tenant admin when the role attribute holds one of the
    /// administrator values (compared ignoring case), else viewer.
    pub fn role_for(&self, assertion: &Assertion) -> UserRole {
        let values = assertion.attributes.get(&self.role_attribute).map(Vec::as_slice).unwrap_or_default();
        if values.iter().any(|v| self.admin_values.iter().any(|a| a.eq_ignore_ascii_case(v.trim()))) {
            UserRole::TenantAdmin
        } else {
            UserRole::TenantViewer
        }
    }

    pub fn admin_view(&self, tenant: &str) -> AdminSso {
        let tenant = url::form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>();
        AdminSso {
            name: self.account_name.clone(),
            login_path: format!("/sso/{tenant}/admin/login"),
            required: self.require_sso,
        }
    }
}
