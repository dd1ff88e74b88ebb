//! The tenant's users (people who sign in through the tenant's identity provider): listed,
//! added before a first sign-in, their role changed or disabled, removed; with ETags and
//! `If-Match` like accounts. The store audits each change.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchbay_api::{User, UserCreate, UserList, UserRole, UserUpdate};
use patchbay_store::{NewUser, UserChange};
use uuid::Uuid;

use super::common::{etag, if_match};
use super::tenants::not_found as tenant_not_found;
use crate::auth::Principal;
use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn view(user: patchbay_store::User) -> ApiResult<User> {
    let role = UserRole::parse(&user.role)
        .ok_or_else(|| ApiError::Internal(format!("user {} has unknown role {}", user.id, user.role)))?;
    Ok(User {
        id: user.id,
        name_id: user.name_id,
        email: user.email,
        display_name: user.display_name,
        role,
        enabled: user.enabled,
        created_by: user.created_by,
        created_at: user.created_at,
        updated_at: user.updated_at,
        last_sign_in_at: user.last_sign_in_at,
        version: user.version,
    })
}

fn respond(status: StatusCode, user: patchbay_store::User) -> ApiResult<Response> {
    let tag = etag(user.version);
    let mut response = (status, Json(view(user)?)).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    Ok(response)
}

fn user_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse().map_err(|_| ApiError::NotFound("user"))
}

fn not_found(e: patchbay_store::StoreError) -> ApiError {
    match e {
        patchbay_store::StoreError::NotFound => ApiError::NotFound("user"),
        other => other.into(),
    }
}

/// A text field trimmed, `None` when blank; refused over `max` characters or with control
/// characters.
fn optional_text(field: &'static str, value: Option<String>, max: usize) -> ApiResult<Option<String>> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else { return Ok(None) };
    if value.chars().count() > max {
        return Err(ApiError::invalid(field, "max_length", format!("{field} is at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "characters", format!("{field} must not hold control characters")));
    }
    Ok(Some(value))
}

pub async fn list(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Json<UserList>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let items = state.users.list_users(&tenant).await?.into_iter().map(view).collect::<ApiResult<_>>()?;
    Ok(Json(UserList { items }))
}

pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Input(body): Input<UserCreate>,
) -> ApiResult<Response> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let name_id = body.name_id.trim().to_owned();
    if name_id.is_empty() {
        return Err(ApiError::invalid("name_id", "required", "name_id is the subject the identity provider sends"));
    }
    let name_id = optional_text("name_id", Some(name_id), 256)?.unwrap_or_default();
    let new = NewUser {
        name_id,
        email: optional_text("email", body.email, 256)?,
        display_name: optional_text("display_name", body.display_name, 256)?,
        role: body.role.role().as_str().to_owned(),
    };
    let user = state.users.create_user(&tenant, &new, &who.actor()).await?;
    respond(StatusCode::CREATED, user)
}

pub async fn get(State(state): State<AppState>, Path((tenant, id)): Path<(String, String)>) -> ApiResult<Response> {
    let user = state.users.get_user(&tenant, user_id(&id)?).await.map_err(not_found)?;
    respond(StatusCode::OK, user)
}

pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    Input(body): Input<UserUpdate>,
) -> ApiResult<Response> {
    let expected = if_match(&headers)?;
    let change = UserChange { role: Some(body.role.role().as_str().to_owned()), enabled: Some(body.enabled) };
    let user =
        state.users.update_user(&tenant, user_id(&id)?, &change, expected, &who.actor()).await.map_err(not_found)?;
    respond(StatusCode::OK, user)
}

pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = if_match(&headers)?;
    state.users.delete_user(&tenant, user_id(&id)?, expected, &who.actor()).await.map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}
