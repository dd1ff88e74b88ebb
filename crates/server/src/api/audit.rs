//! The audit trail: who did what, when, which fields changed (secrets only as changed).

use axum::extract::{Path, Query, State};
use axum::Json;
use patchbay_store::AuditQuery;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::tenants::not_found;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Page {
    limit: Option<i64>,
    before: Option<i64>,
}

const MAX_LIMIT: i64 = 500;

async fn page(state: &AppState, tenant: String, account_id: Option<Uuid>, page: Page) -> ApiResult<Json<Value>> {
    let limit = page.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid("limit", "range", format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    state.store.get_tenant(&tenant).await.map_err(not_found)?;
    let items =
        state.store.list_audit(&AuditQuery { tenant_id: tenant, account_id, before: page.before, limit }).await?;
    let next_before = if items.len() as i64 == limit { items.last().map(|e| e.id) } else { None };
    Ok(Json(json!({ "items": items, "next_before": next_before })))
}

pub async fn for_tenant(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<Page>,
) -> ApiResult<Json<Value>> {
    who.can_read(&tenant)?;
    page(&state, tenant, None, q).await
}

pub async fn for_account(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<Page>,
) -> ApiResult<Json<Value>> {
    who.can_read(&tenant)?;
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound("integration account"))?;
    page(&state, tenant, Some(id), q).await
}
