//! The audit trail: who did what, when, which fields changed (secrets only as changed).

use axum::extract::{Path, Query, State};
use axum::Json;
use patchbay_api::{AuditEntry, AuditPage, AuditQuery};

use uuid::Uuid;

use super::tenants::not_found;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The token id in an actor written by [`Principal::actor`] (`token:NAME (ID)`).
fn actor_token(actor: &str) -> Option<Uuid> {
    actor.strip_prefix("token:")?.strip_suffix(')')?.rsplit_once(" (")?.1.parse().ok()
}

async fn page(
    state: &AppState,
    who: &Principal,
    tenant: String,
    account_id: Option<Uuid>,
    page: AuditQuery,
) -> ApiResult<Json<AuditPage>> {
    let limit = page.limit.unwrap_or(AuditQuery::DEFAULT_LIMIT);
    if !AuditQuery::LIMIT.contains(&limit) {
        let (min, max) = (AuditQuery::LIMIT.start(), AuditQuery::LIMIT.end());
        return Err(ApiError::invalid("limit", "range", format!("limit must be between {min} and {max}")));
    }
    state.store.get_tenant(&tenant).await.map_err(not_found)?;
    let mut items = state
        .store
        .list_audit(&patchbay_store::AuditQuery { tenant_id: tenant.clone(), account_id, before: page.before, limit })
        .await?;
    if !who.is_sp_admin() {
        // The tenant's people see their own tokens by name; the service provider's tokens
        // by role only (their names and ids are the provider's business).
        let own: Vec<Uuid> = state
            .store
            .list_tokens()
            .await?
            .into_iter()
            .filter(|t| t.tenant_id.as_deref() == Some(&tenant))
            .map(|t| t.id)
            .collect();
        for item in &mut items {
            if actor_token(&item.actor).is_some_and(|id| !own.contains(&id)) {
                item.actor = Role::SpAdmin.as_str().to_owned();
            }
        }
    }
    let next_before = if items.len() as i64 == limit { items.last().map(|e| e.id) } else { None };
    let items = items
        .into_iter()
        .map(|e| AuditEntry {
            id: e.id,
            tenant_id: e.tenant_id,
            account_id: e.account_id,
            actor: e.actor,
            action: e.action,
            changes: e.changes,
            at: e.at,
        })
        .collect();
    Ok(Json(AuditPage { items, next_before }))
}

pub async fn for_tenant(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    page(&state, &who, tenant, None, q).await
}

pub async fn for_account(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound("integration account"))?;
    page(&state, &who, tenant, Some(id), q).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Identity;

    #[test]
    fn the_token_id_is_read_from_an_actor() {
        let id = Uuid::now_v7();
        let identity = Identity::Token { id, name: "ops (night)".into() };
        let principal = Principal { identity, role: Role::SpAdmin, tenant: None };
        assert_eq!(actor_token(&principal.actor()), Some(id));
        assert_eq!(actor_token("system"), None);
        assert_eq!(actor_token("token:x (not-a-uuid)"), None);
    }
}
