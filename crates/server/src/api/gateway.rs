//! The runtime gateway's operations: typed calls the contact center's applications make
//! with a `gateway_client` (or admin) token, the chat bot bindings, and an account's usage.
//! The work is the `patchbay_gateway` crate's; these handlers read the body and answer.

use axum::extract::{Path, Query, State};
use axum::Json;
use patchbay_api::{
    Bindings, CrmContacts, CrmSearchRequest, IdentifyRequest, Identity, Sentiment, SentimentRequest, SuggestRequest,
    Suggestions, Usage, UsageQuery,
};

use super::accounts::{account_id, account_not_found};
use super::tenants::not_found as tenant_not_found;
use crate::auth::Principal;
use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn suggest(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<SuggestRequest>,
) -> ApiResult<Json<Suggestions>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.suggest(&tenant, &body).await?))
}

pub async fn sentiment(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<SentimentRequest>,
) -> ApiResult<Json<Sentiment>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.sentiment(&tenant, &body).await?))
}

pub async fn identify(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<IdentifyRequest>,
) -> ApiResult<Json<Identity>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.identify(&tenant, &body).await?))
}

pub async fn crm_search(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<CrmSearchRequest>,
) -> ApiResult<Json<CrmContacts>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.crm_search(&tenant, &body).await?))
}

pub async fn bindings(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Json<Bindings>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.bindings(&tenant).await?))
}

pub async fn put_bindings(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Input(body): Input<Bindings>,
) -> ApiResult<Json<Bindings>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.replace_bindings(&tenant, &body, &who.actor()).await?))
}

pub async fn usage(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Query(query): Query<UsageQuery>,
) -> ApiResult<Json<Usage>> {
    let days = query.days.unwrap_or(UsageQuery::DEFAULT_DAYS);
    if !UsageQuery::DAYS.contains(&days) {
        let range = UsageQuery::DAYS;
        return Err(ApiError::invalid(
            "days",
            "range",
            format!("days must be between {} and {}", range.start(), range.end()),
        ));
    }
    let account = state.store.get_account(&tenant, account_id(&id)?).await.map_err(account_not_found)?;
    Ok(Json(state.gateway.usage(&tenant, &account, days).await?))
}
