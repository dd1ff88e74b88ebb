//! Authentication (a bearer token, or the admin screen's session cookie) and role checks.
//! Tokens are random, shown once, and stored as SHA-256 hashes. A principal bound to one
//! tenant sees other tenants as not found.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Service-provider administrator: every tenant, tenants themselves, entitlements.
    SpAdmin,
    /// Administers the accounts of one tenant.
    TenantAdmin,
    /// Reads the accounts of one tenant.
    TenantViewer,
    /// Sends the agent and service events and the recordings of one tenant (the
    /// contact-center platform); nothing else.
    EventProducer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::SpAdmin, Role::TenantAdmin, Role::TenantViewer, Role::EventProducer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SpAdmin => "sp_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::TenantViewer => "tenant_viewer",
            Role::EventProducer => "event_producer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: uuid::Uuid,
    pub token_name: String,
    pub role: Role,
    pub tenant: Option<String>,
}

impl Principal {
    /// The name audit entries record.
    pub fn actor(&self) -> String {
        format!("token:{} ({})", self.token_name, self.token_id)
    }

    pub fn is_sp_admin(&self) -> bool {
        self.role == Role::SpAdmin
    }

    pub fn require_sp_admin(&self) -> Result<(), ApiError> {
        if self.is_sp_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("only a service-provider admin may do this"))
        }
    }

    /// May read the tenant's resources. Another tenant answers 404, so its existence stays hidden.
    pub fn can_read(&self, tenant: &str) -> Result<(), ApiError> {
        match (&self.role, &self.tenant) {
            (Role::SpAdmin, _) => Ok(()),
            (Role::EventProducer, Some(own)) if own == tenant => {
                Err(ApiError::Forbidden("an event producer token can only send events and recordings"))
            }
            (_, Some(own)) if own == tenant => Ok(()),
            _ => Err(ApiError::NotFound("tenant")),
        }
    }

    /// May send the tenant's events: its event producers and admins.
    pub fn can_send_events(&self, tenant: &str) -> Result<(), ApiError> {
        match (&self.role, &self.tenant) {
            (Role::SpAdmin, _) => Ok(()),
            (Role::TenantAdmin | Role::EventProducer, Some(own)) if own == tenant => Ok(()),
            (Role::TenantViewer, Some(own)) if own == tenant => {
                Err(ApiError::Forbidden("a viewer token cannot send events"))
            }
            _ => Err(ApiError::NotFound("tenant")),
        }
    }

    /// May send the tenant's recordings (metadata and audio): its event producers and admins.
    pub fn can_send_recordings(&self, tenant: &str) -> Result<(), ApiError> {
        match (&self.role, &self.tenant) {
            (Role::TenantViewer, Some(own)) if own == tenant => {
                Err(ApiError::Forbidden("a viewer token cannot send recordings"))
            }
            _ => self.can_send_events(tenant),
        }
    }

    /// May change the tenant's accounts.
    pub fn can_write(&self, tenant: &str) -> Result<(), ApiError> {
        self.can_read(tenant)?;
        if self.role == Role::TenantViewer {
            return Err(ApiError::Forbidden("a viewer token cannot change anything"));
        }
        Ok(())
    }
}

/// A new random API token: `pb_` and 32 random bytes in URL-safe base64.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("pb_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 9110 11.1); spaces may separate it from the token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl Principal {
    /// The principal of an unrevoked token, by the token's hash.
    pub async fn for_token_hash(state: &AppState, hash: &[u8]) -> Result<Principal, ApiError> {
        let found = state.store.find_token(hash).await?.ok_or(ApiError::Unauthorized)?;
        let role = Role::parse(&found.role)
            .ok_or_else(|| ApiError::Internal(format!("token {} has unknown role {}", found.id, found.role)))?;
        Ok(Principal { token_id: found.id, token_name: found.name, role, tenant: found.tenant_id })
    }
}

/// `Authorization: Bearer` when the request has that header; else the admin screen's
/// session cookie, whose writes must carry the session's CSRF token.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(authorization) = parts.headers.get(header::AUTHORIZATION) {
            let token = authorization.to_str().ok().and_then(bearer_token).ok_or(ApiError::Unauthorized)?;
            return Principal::for_token_hash(state, &hash_token(token)).await;
        }
        let session = crate::ui::session::from_request(parts).ok_or(ApiError::Unauthorized)?;
        session.check_csrf(&parts.method, &parts.headers)?;
        Principal::for_token_hash(state, &session.token_hash).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_matched_ignoring_case() {
        for value in ["Bearer pb_x", "bearer pb_x", "BEARER  pb_x", "BeArEr pb_x "] {
            assert_eq!(bearer_token(value), Some("pb_x"), "{value}");
        }
        for value in ["Basic pb_x", "Bearer", "Bearer   ", "Bearerpb_x", "pb_x"] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }
}
