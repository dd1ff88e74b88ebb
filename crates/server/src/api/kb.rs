//! The tenant's native knowledge base: articles administered through the API (with ETags
//! and `If-Match` like accounts), searched through the gateway. The content rules are the
//! gateway's (`patchbay_gateway::checked_article`), which also takes submitted topics.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchbay_api::{KbArticle, KbArticleList, KbArticleWrite, KbResults, KbSearchQuery, KbTopicCreated};
use uuid::Uuid;

use super::common::{etag, if_match};
use super::tenants::not_found as tenant_not_found;
use crate::auth::Principal;
use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn view(article: patchbay_store::Article) -> KbArticle {
    KbArticle {
        id: article.id,
        title: article.title,
        body: article.body,
        url: article.url,
        version: article.version,
        created_at: article.created_at,
        created_by: article.created_by,
        updated_at: article.updated_at,
        updated_by: article.updated_by,
    }
}

fn respond(status: StatusCode, article: patchbay_store::Article) -> Response {
    let tag = etag(article.version);
    let mut response = (status, Json(view(article))).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    response
}

fn article_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse().map_err(|_| ApiError::NotFound("article"))
}

fn not_found(e: patchbay_store::StoreError) -> ApiError {
    match e {
        patchbay_store::StoreError::NotFound => ApiError::NotFound("article"),
        other => other.into(),
    }
}

pub async fn list(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Json<KbArticleList>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let items = state.kb.list_articles(&tenant).await?.into_iter().map(view).collect();
    Ok(Json(KbArticleList { items }))
}

pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Input(body): Input<KbArticleWrite>,
) -> ApiResult<Response> {
    create_article(&state, &tenant, &body, &who.actor()).await
}

/// Adds an article (the API's and Zapier's action).
pub(crate) async fn create_article(
    state: &AppState,
    tenant: &str,
    body: &KbArticleWrite,
    actor: &str,
) -> ApiResult<Response> {
    state.store.get_tenant(tenant).await.map_err(tenant_not_found)?;
    let write = patchbay_gateway::checked_article(body)?;
    let article = state.kb.create_article(tenant, Uuid::now_v7(), &write, actor).await?;
    Ok(respond(StatusCode::CREATED, article))
}

pub async fn get(State(state): State<AppState>, Path((tenant, id)): Path<(String, String)>) -> ApiResult<Response> {
    let article = state.kb.get_article(&tenant, article_id(&id)?).await.map_err(not_found)?;
    Ok(respond(StatusCode::OK, article))
}

pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    Input(body): Input<KbArticleWrite>,
) -> ApiResult<Response> {
    let expected = if_match(&headers)?;
    let id = article_id(&id)?;
    let write = patchbay_gateway::checked_article(&body)?;
    let article = state.kb.update_article(&tenant, id, &write, expected, &who.actor()).await.map_err(not_found)?;
    Ok(respond(StatusCode::OK, article))
}

pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = if_match(&headers)?;
    state.kb.delete_article(&tenant, article_id(&id)?, expected, &who.actor()).await.map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn search(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(query): Query<KbSearchQuery>,
) -> ApiResult<Json<KbResults>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.kb_search(&tenant, &query).await?))
}

pub async fn topic(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Input(body): Input<KbArticleWrite>,
) -> ApiResult<(StatusCode, Json<KbTopicCreated>)> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok((StatusCode::CREATED, Json(state.gateway.kb_topic(&tenant, &body, &who.actor()).await?)))
}
