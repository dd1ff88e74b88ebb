//! API tokens. A service-provider admin creates tokens of any role; a tenant admin creates
//! tenant tokens for its own tenant. The token is shown once, in the creation response.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use patchbay_store::{ApiToken, NewAudit, NewToken};
use serde_json::json;
use uuid::Uuid;

use patchbay_api::{Access, Token, TokenCreate, TokenCreated, TokenList, WhoAmI};

use crate::auth::{generate_token, hash_token, role_of, Identity, Principal, Role};
use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The API's view of a stored token.
fn view(token: ApiToken) -> ApiResult<Token> {
    let role = role_of(&token)?;
    Ok(Token {
        id: token.id,
        name: token.name,
        role,
        tenant_id: token.tenant_id,
        created_at: token.created_at,
        revoked_at: token.revoked_at,
        last_used_at: token.last_used_at,
    })
}

fn visible(who: &Principal, token: &ApiToken) -> bool {
    Access::manage_token(who.caller(), token.tenant_id.as_deref()).is_ok()
}

pub async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<TokenList>> {
    let tokens = state.store.list_tokens().await?.into_iter().filter(|t| visible(&who, t)).map(view);
    Ok(Json(TokenList { items: tokens.collect::<ApiResult<_>>()? }))
}

pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Input(body): Input<TokenCreate>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "length", "a token name is 1-100 characters"));
    }
    patchbay_catalog::check_name_characters("name", "A token name", &name)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let TokenCreate { role, tenant, .. } = body;
    match (role, &tenant) {
        (Role::SpAdmin, Some(_)) => {
            return Err(ApiError::invalid(
                "tenant",
                "not_allowed",
                "a service-provider admin token belongs to no tenant",
            ))
        }
        (Role::TenantAdmin | Role::TenantViewer | Role::EventProducer | Role::GatewayClient, None) => {
            return Err(ApiError::invalid("tenant", "required", "a tenant token needs `tenant`"))
        }
        _ => {}
    }
    Access::manage_token(who.caller(), tenant.as_deref())?;
    if let Some(t) = &tenant {
        state.store.get_tenant(t).await.map_err(super::tenants::not_found)?;
    }
    let token = generate_token();
    let id = Uuid::now_v7();
    let created = state
        .store
        .create_token(&NewToken {
            id,
            name,
            role: role.as_str().into(),
            tenant_id: tenant.clone(),
            hash: hash_token(&token),
        })
        .await?;
    if let Some(t) = &tenant {
        state
            .store
            .append_audit(&NewAudit {
                tenant_id: t.clone(),
                account_id: None,
                actor: who.actor(),
                action: "token.create".into(),
                changes: json!({"token_id": id, "name": created.name, "role": created.role}),
            })
            .await?;
    }
    Ok((StatusCode::CREATED, Json(TokenCreated { details: view(created)?, token })))
}

pub async fn revoke(State(state): State<AppState>, who: Principal, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound("token"))?;
    let token = state
        .store
        .list_tokens()
        .await?
        .into_iter()
        .find(|t| t.id == id && visible(&who, t))
        .ok_or(ApiError::NotFound("token"))?;
    state.store.revoke_token(token.id).await?;
    if let Some(tenant) = token.tenant_id {
        state
            .store
            .append_audit(&NewAudit {
                tenant_id: tenant,
                account_id: None,
                actor: who.actor(),
                action: "token.revoke".into(),
                changes: json!({"token_id": token.id, "name": token.name, "role": token.role}),
            })
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Who is calling (for the CLI and the admin screen).
pub async fn whoami(who: Principal) -> Json<WhoAmI> {
    Json(who_am_i(&who))
}

pub fn who_am_i(who: &Principal) -> WhoAmI {
    let (token_id, user_id) = match &who.identity {
        Identity::Token { id, .. } => (Some(*id), None),
        Identity::User(user) => (None, Some(user.id)),
    };
    WhoAmI { token_id, user_id, name: who.name().to_owned(), role: who.role, tenant: who.tenant.clone() }
}
