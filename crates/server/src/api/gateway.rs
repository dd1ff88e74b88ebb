//! The runtime gateway's operations: typed calls the contact center's applications make
//! with a `gateway_client` (or admin) token, the chat bot bindings, and an account's usage.
//! The work is the `patchbay_gateway` crate's; these handlers read the body and answer.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Json;
use patchbay_api::{
    Bindings, CrmContacts, CrmSearchRequest, IdentifyRequest, Identity, Sentiment, SentimentRequest, SpeechRequest,
    SuggestRequest, Suggestions, Usage, UsageQuery,
};
use patchbay_gateway::Audio;

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

/// The audio as it comes: from the cache whole, or streamed from the vendor. The account
/// that made it is in `X-Patchbay-Account`, a cache hit says `X-Cache: hit`.
pub async fn speech(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<SpeechRequest>,
) -> ApiResult<Response> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let speech = state.gateway.speech(&tenant, &body).await?;
    let body = match speech.audio {
        Audio::Whole(bytes) => Body::from(bytes),
        Audio::Streamed(stream) => Body::from_stream(stream),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(speech.content_type));
    headers.insert("x-cache", HeaderValue::from_static(if speech.cached { "hit" } else { "miss" }));
    if let Ok(account) = HeaderValue::from_str(&speech.account.to_string()) {
        headers.insert("x-patchbay-account", account);
    }
    Ok(response)
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
