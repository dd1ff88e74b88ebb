//! The admin screen's sign-in, session and sign-out endpoints over the session store
//! (`crate::sessions`).

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{hash_token, Principal};
use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::sessions::{cookie_value, from_request, over_https, set_cookie, Holder, Sessions, LIFETIME};
use crate::state::AppState;

pub(crate) fn session_view(who: &Principal, csrf: &str) -> serde_json::Value {
    json!({ "csrf_token": csrf, "principal": crate::api::tokens::who_am_i(who) })
}

/// The sign-in body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    token: String,
}

/// `POST /ui/session` `{"token": "..."}`: checks the token and starts a session.
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(sessions): Extension<Sessions>,
    headers: HeaderMap,
    // A cross-site form cannot send JSON without a preflight, so `Input` requiring it stops
    // a page elsewhere from signing the browser in with a token of its choosing.
    Input(body): Input<SignIn>,
) -> ApiResult<Response> {
    let token = body.token.trim();
    if token.is_empty() {
        return Err(ApiError::invalid("token", "required", "paste an API token to sign in"));
    }
    let token_hash = hash_token(token);
    let who = Principal::for_token_hash(&state, &token_hash).await?;
    if !who.role.signs_in() {
        return Err(ApiError::Forbidden(
            "this is an application's token (an event producer's or a gateway client's): it calls the API and \
             cannot sign in to the admin screen; sign in with an administrator's or a viewer's token",
        ));
    }
    if let Some(tenant) = &who.tenant {
        if state.signon.admin_sso(tenant).await?.is_some_and(|sso| sso.required) {
            return Err(ApiError::Forbidden(
                "this contact center signs in to the admin screen through its identity provider: use \
                 Sign in with single sign-on (API calls with the token keep working)",
            ));
        }
    }
    if let Some(old) = cookie_value(&headers) {
        sessions.remove(old);
    }
    let (id, csrf) = sessions.create(Holder::Token(token_hash))?;
    let mut response = (StatusCode::CREATED, Json(session_view(&who, &csrf))).into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(&id, LIFETIME.as_secs(), over_https(&headers)));
    Ok(response)
}

/// `GET /ui/session`: the signed-in principal and the session's CSRF token (a reloaded
/// page needs it again; other origins cannot read it); 204 when this browser has no session,
/// which is the sign-in page's normal start and so no error (a browser logs every 4xx).
pub async fn current(State(state): State<AppState>, parts: Parts) -> ApiResult<Response> {
    let Some(session) = from_request(&parts) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let who = Principal::for_session(&state, &session).await?;
    Ok(Json(session_view(&who, &session.csrf)).into_response())
}

/// `DELETE /ui/session`: signs out (with the CSRF token) and clears the cookie.
pub async fn sign_out(Extension(sessions): Extension<Sessions>, parts: Parts) -> ApiResult<Response> {
    if let Some(session) = from_request(&parts) {
        session.check_csrf(&parts.method, &parts.headers)?;
        if let Some(id) = cookie_value(&parts.headers) {
            sessions.remove(id);
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie("", 0, over_https(&parts.headers)));
    Ok(response)
}
