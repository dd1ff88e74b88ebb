//! Who may call the Zapier API (`/api/v1/tenants/{tenant}/zapier/…`, handlers in
//! `api::zapier`): HTTP Basic with the username and password of one of the tenant's enabled
//! Zapier accounts, the password compared in constant time; ten failures in a minute for a username lock
//! it out (429 with `Retry-After`) on this node (`lockout`); every failure is audited with the
//! username, never the password.

use std::time::Instant;

use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use patchbay_catalog::keys::zapier as zapier_keys;
use patchbay_store::NewAudit;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The longest username looked at (and audited).
const USERNAME_MAX: usize = 255;

/// The Zapier account whose credentials a request carried.
#[derive(Debug, Clone)]
pub struct ZapierCaller {
    pub account_id: Uuid,
    pub account_name: String,
}

impl ZapierCaller {
    /// The actor the audit trail and the edge's subscriptions record.
    pub fn actor(&self) -> String {
        format!("zapier:{} ({})", self.account_name, self.account_id)
    }

    /// Whether `actor` is this account's (under any name it had).
    pub fn made(&self, actor: &str) -> bool {
        actor.starts_with("zapier:") && actor.ends_with(&format!(" ({})", self.account_id))
    }
}

/// The username and password of a `Basic` authorization header.
fn basic(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (user, password) =
        String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    Some((user, password))
}

/// Admits a request of the Zapier API: the caller of valid Basic credentials of an enabled
/// Zapier account of `tenant`, or the answer to send instead.
pub async fn admit(state: &AppState, parts: &Parts, tenant: &str) -> Result<ZapierCaller, Response> {
    let Some((username, password)) = basic(parts) else {
        return Err(ApiError::ZapierUnauthorized.into_response());
    };
    let username: String = username.chars().take(USERNAME_MAX).collect();
    let now = Instant::now();
    if let Some(retry_after) = state.zapier_lockout.locked(tenant, &username, now) {
        state.metrics.zapier_refused("locked");
        return Err(ApiError::TooManyRequests {
            detail: "too many failed sign-ins for this username; wait and try again".into(),
            retry_after,
        }
        .into_response());
    }
    match check(state, tenant, &username, &password).await {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => {
            state.zapier_lockout.fail(tenant, &username, now);
            state.metrics.zapier_refused("refused");
            let audit = NewAudit {
                tenant_id: tenant.to_owned(),
                account_id: None,
                actor: "zapier".into(),
                action: "zapier.sign_in_failed".into(),
                changes: json!({"username": username}),
            };
            if let Err(e) = state.store.append_audit(&audit).await {
                tracing::warn!(tenant, error = %e, "a failed Zapier sign-in could not be audited");
            }
            tracing::warn!(tenant, "a Zapier sign-in failed");
            Err(ApiError::ZapierUnauthorized.into_response())
        }
        Err(e) => Err(e.into_response()),
    }
}

/// The enabled Zapier account of `tenant` with these credentials. Only accounts of this
/// username have their password opened; passwords are compared in constant time.
async fn check(state: &AppState, tenant: &str, username: &str, password: &str) -> ApiResult<Option<ZapierCaller>> {
    let accounts = match state.store.list_accounts(tenant, Some("zapier")).await {
        Ok(accounts) => accounts,
        Err(patchbay_store::StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let named = |a: &&std::sync::Arc<patchbay_store::Account>| {
        a.enabled && a.properties.get(zapier_keys::USERNAME).and_then(Value::as_str) == Some(username)
    };
    let candidates: Vec<_> = accounts.iter().filter(named).collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let keys = state.keys.lease().await;
    for account in candidates {
        let secrets = keys.open(account)?;
        let stored = secrets.get(zapier_keys::PASSWORD).map(|s| s.expose()).unwrap_or_default();
        if !stored.is_empty() && bool::from(stored.as_bytes().ct_eq(password.as_bytes())) {
            return Ok(Some(ZapierCaller { account_id: account.id, account_name: account.name.clone() }));
        }
    }
    Ok(None)
}

/// The caller [`admit`] let in (a 500 for a handler routed without it).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ZapierCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ZapierCaller>().cloned().ok_or_else(|| {
            ApiError::Internal(format!("{} {} is not a Zapier operation", parts.method, parts.uri.path()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read_with_colons_in_the_password() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("zap:pa:ss");
        let request = axum::http::Request::get("/").header(header::AUTHORIZATION, format!("basic {encoded}"));
        let (parts, ()) = request.body(()).unwrap().into_parts();
        assert_eq!(basic(&parts), Some(("zap".into(), "pa:ss".into())));
        let bearer = axum::http::Request::get("/").header(header::AUTHORIZATION, "Bearer pb_x");
        assert_eq!(basic(&bearer.body(()).unwrap().into_parts().0), None);
    }
}
