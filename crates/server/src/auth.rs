//! Authentication (a bearer token, or the admin screen's session cookie) and the one place
//! that applies each operation's declared [`Access`] before its handler runs. Tokens are
//! random, shown once, and stored as SHA-256 hashes. A principal bound to one tenant sees
//! other tenants as not found. Handlers never check access: they receive the [`Principal`]
//! this layer admitted.

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
pub use patchbay_api::Role;
use patchbay_api::{Access, Denial};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::sessions::{cookie_value, Holder, SessionAuth, Sessions};
use crate::state::AppState;

/// What the caller presented.
#[derive(Debug, Clone)]
pub enum Identity {
    /// An API token (or an admin-screen session signed in with one).
    Token { id: uuid::Uuid, name: String },
    /// A user signed in through the tenant's identity provider.
    User(Box<patchbay_store::User>),
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub identity: Identity,
    pub role: Role,
    pub tenant: Option<String>,
}

impl Principal {
    /// The name audit entries record: `token:NAME (ID)` or `user:NAME (ID)`.
    pub fn actor(&self) -> String {
        match &self.identity {
            Identity::Token { id, name } => format!("token:{name} ({id})"),
            Identity::User(user) => user.actor(),
        }
    }

    /// The token's name, or the user's email or subject.
    pub fn name(&self) -> &str {
        match &self.identity {
            Identity::Token { name, .. } => name,
            Identity::User(user) => user.name(),
        }
    }

    pub fn is_sp_admin(&self) -> bool {
        self.role == Role::SpAdmin
    }

    /// The caller as [`Access::decide`] takes it.
    pub fn caller(&self) -> (Role, Option<&str>) {
        (self.role, self.tenant.as_deref())
    }

    /// Whether the caller may read `tenant`'s resources (to filter lists by the same rule
    /// the routes apply).
    pub fn sees_tenant(&self, tenant: &str) -> bool {
        Access::TenantRead.decide(Some(self.caller()), Some(tenant)).is_ok()
    }
}

/// The role a stored token was issued with.
pub fn role_of(token: &patchbay_store::ApiToken) -> Result<Role, ApiError> {
    Role::parse(&token.role)
        .ok_or_else(|| ApiError::Internal(format!("token {} has unknown role {}", token.id, token.role)))
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
    /// The principal of an unrevoked token, by the token's hash; records the token's use
    /// (at most once a minute, see [`crate::token_uses::TokenUses`]).
    pub async fn for_token_hash(state: &AppState, hash: &[u8]) -> Result<Principal, ApiError> {
        let found = state.store.find_token(hash).await?.ok_or(ApiError::Unauthorized)?;
        let role = role_of(&found)?;
        state.token_uses.record(state.store.as_ref(), found.id).await;
        Ok(Principal { identity: Identity::Token { id: found.id, name: found.name }, role, tenant: found.tenant_id })
    }

    /// The principal of an admin-screen session: its token's, or its user's while the user
    /// exists and is enabled (a disabled or deleted user is signed out at once).
    pub async fn for_session(state: &AppState, session: &SessionAuth) -> Result<Principal, ApiError> {
        match &session.holder {
            Holder::Token(hash) => Principal::for_token_hash(state, hash).await,
            Holder::User { tenant, id } => {
                let user = match state.users.get_user(tenant, *id).await {
                    Ok(user) if user.enabled => user,
                    Ok(_) | Err(patchbay_store::StoreError::NotFound) => return Err(ApiError::Unauthorized),
                    Err(e) => return Err(e.into()),
                };
                let role = patchbay_api::UserRole::parse(&user.role)
                    .ok_or_else(|| ApiError::Internal(format!("user {} has unknown role {}", user.id, user.role)))?
                    .role();
                Ok(Principal { identity: Identity::User(Box::new(user)), role, tenant: Some(tenant.clone()) })
            }
        }
    }
}

/// What a request presents to authenticate: `Authorization: Bearer` when the request has
/// that header (`Err` when it is not a bearer token); else the admin screen's session
/// cookie. `None` without either.
enum Presented {
    Token(Vec<u8>),
    Session { sessions: Sessions, id: String },
}

impl Presented {
    fn of(parts: &Parts) -> Result<Option<Presented>, ApiError> {
        if let Some(authorization) = parts.headers.get(header::AUTHORIZATION) {
            let token = authorization.to_str().ok().and_then(bearer_token).ok_or(ApiError::Unauthorized)?;
            return Ok(Some(Presented::Token(hash_token(token))));
        }
        let sessions = parts.extensions.get::<Sessions>();
        Ok(sessions
            .zip(cookie_value(&parts.headers))
            .map(|(sessions, id)| Presented::Session { sessions: sessions.clone(), id: id.to_owned() }))
    }

    /// The principal it names now. A session's writes must carry the session's CSRF token
    /// (`request` is the request that presents it).
    async fn principal(&self, state: &AppState, request: Option<&Parts>) -> Result<Principal, ApiError> {
        match self {
            Presented::Token(hash) => Principal::for_token_hash(state, hash).await,
            Presented::Session { sessions, id } => {
                let session = sessions.find(id).ok_or(ApiError::Unauthorized)?;
                if let Some(parts) = request {
                    session.check_csrf(&parts.method, &parts.headers)?;
                }
                Principal::for_session(state, &session).await
            }
        }
    }
}

/// The caller a request presents, or `None` when it presents nothing.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    match Presented::of(parts)? {
        Some(presented) => presented.principal(state, Some(parts)).await.map(Some),
        None => Ok(None),
    }
}

/// What an admitted request authenticated with, kept by a response that outlives the
/// request (a live stream) to ask again, now and then, whether it still admits the caller:
/// a revoked token, a signed-out or expired session, a disabled or deleted user, or a token
/// whose tenant is gone ends such a response too.
pub struct Credential(Presented);

impl Credential {
    /// The credential of a request the route layer admitted.
    pub fn of(parts: &Parts) -> Result<Credential, ApiError> {
        Presented::of(parts)?.map(Credential).ok_or(ApiError::Unauthorized)
    }

    /// The caller now, when the credential still admits `access` to `tenant`; `None` when
    /// it does not; `Err` when that cannot be told (the store failed).
    pub async fn readmit(&self, state: &AppState, access: Access, tenant: &str) -> Result<Option<Principal>, ApiError> {
        let decided = async {
            let principal = self.0.principal(state, None).await?;
            access.decide(Some(principal.caller()), Some(tenant))?;
            Ok(principal)
        };
        match decided.await {
            Ok(principal) => Ok(Some(principal)),
            Err(ApiError::Unauthorized | ApiError::Forbidden(_) | ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// For a route outside the operation table that takes a caller (the agent desktop's code
/// exchange): authenticates and applies `access` for `tenant`, by the same rule.
pub async fn admit(state: &AppState, parts: &Parts, access: Access, tenant: &str) -> Result<Principal, ApiError> {
    let principal = authenticate(parts, state).await?;
    access.decide(principal.as_ref().map(Principal::caller), Some(tenant))?;
    principal.ok_or(ApiError::Unauthorized)
}

/// The route layer of every operation: authenticates the caller, decides `access` for the
/// path's `{tenant}`, and hands the admitted principal to the handler.
pub async fn enforce(access: Access, State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if access == Access::Zapier {
        let tenant = match RawPathParams::from_request_parts(&mut parts, &state).await {
            Ok(params) => params.iter().find(|(name, _)| *name == "tenant").map(|(_, value)| value.to_owned()),
            Err(e) => return e.into_response(),
        };
        let Some(tenant) = tenant else {
            return ApiError::Internal("a Zapier operation without {tenant}".into()).into_response();
        };
        match crate::zapier::admit(&state, &parts, &tenant).await {
            Ok(caller) => parts.extensions.insert(caller),
            Err(answer) => return answer,
        };
    } else if access != Access::Public {
        let principal = match authenticate(&parts, &state).await {
            Ok(principal) => principal,
            Err(e) => return e.into_response(),
        };
        let tenant = match RawPathParams::from_request_parts(&mut parts, &state).await {
            Ok(params) => params.iter().find(|(name, _)| *name == "tenant").map(|(_, value)| value.to_owned()),
            Err(e) => return e.into_response(),
        };
        let caller = principal.as_ref().map(Principal::caller);
        if let Err(denial) = access.decide(caller, tenant.as_deref()) {
            return ApiError::from(denial).into_response();
        }
        if let Some(principal) = principal {
            parts.extensions.insert(principal);
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

impl From<Denial> for ApiError {
    fn from(denial: Denial) -> Self {
        match denial {
            Denial::Unauthenticated => ApiError::Unauthorized,
            Denial::Forbidden(reason) => ApiError::Forbidden(reason),
            Denial::TenantNotFound => ApiError::NotFound("tenant"),
        }
    }
}

/// The principal [`enforce`] admitted. A handler routed without a declared access gets a
/// 500, never an unchecked caller.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Internal(format!("{} {} declares no access", parts.method, parts.uri.path())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler routed outside the route table (no `enforce` layer) never gets a caller.
    #[tokio::test]
    async fn a_handler_routed_without_a_declared_access_answers_500() {
        use tower::ServiceExt;
        async fn handler(who: Principal) -> String {
            who.actor()
        }
        let app = axum::Router::new().route("/undeclared", axum::routing::get(handler));
        let request = axum::http::Request::get("/undeclared")
            .header(header::AUTHORIZATION, "Bearer pb_anything")
            .body(axum::body::Body::empty())
            .expect("a request");
        let response = app.oneshot(request).await.expect("a response");
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }

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
