//! The receivers of the HTTP feeds, for their connection tests: WFM HTTP POST, Loxysoft and
//! NICE. No vendor publishes these wire formats; patchbay's docs/feeds.md defines them, after
//! the spec ("This button sends POST with an empty agent and services list", "the
//! authorization token for your Loxysoft account", "Keep alive update interval sends periodic
//! messages back to NICE servers", NICE's username and password). The receivers accept
//! exactly those shapes:
//! - WFM HTTP POST (docs/feeds.md#wfm-http-post): `{"agents": [...], "services": [...]}`,
//!   `Authorization: Bearer <token>` only when the account has a token;
//! - Loxysoft (docs/feeds.md#loxysoft-wfm): `{"agents": [...], "skills": [...]}`, Bearer token;
//! - NICE (docs/feeds.md#nice): a batch `{"seq", "sent_at", "resync", "messages"}` with Basic
//!   authentication; a keep-alive message is `{"type": "keep_alive", "at"}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use serde_json::Value;

pub const LOXYSOFT_PATH: &str = "/rta/acme";
pub const LOXYSOFT_TOKEN: &str = "loxy-token-Sentinel-3a6c";
pub const NICE_PATH: &str = "/rtdp/acme";
pub const NICE_USER: &str = "nice-feed";
pub const NICE_PASSWORD: &str = "nice-pw-Sentinel-e07b";
pub const WFM_PATH: &str = "/wfm/rta";
pub const WFM_TOKEN: &str = "wfm-token-Sentinel-5d92";

/// The user and password of a Basic `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The token of a Bearer `Authorization` header.
fn bearer(headers: &HeaderMap) -> Option<String> {
    Some(headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?.to_owned())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
}

/// A JSON object holding exactly the arrays `lists`.
fn is_object_of_lists(headers: &HeaderMap, body: &[u8], lists: [&str; 2]) -> bool {
    let Ok(Value::Object(update)) = serde_json::from_slice::<Value>(body) else { return false };
    is_json(headers)
        && update.len() == lists.len()
        && lists.iter().all(|list| update.get(*list).is_some_and(Value::is_array))
}

fn is_rfc3339(value: Option<&Value>) -> bool {
    value.and_then(Value::as_str).is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z'))
}

/// A NICE batch whose messages all have a type, keep-alives with their time.
fn is_nice_batch(headers: &HeaderMap, body: &[u8]) -> bool {
    let Ok(batch) = serde_json::from_slice::<Value>(body) else { return false };
    let messages = batch.get("messages").and_then(Value::as_array);
    is_json(headers)
        && batch.get("seq").is_some_and(Value::is_u64)
        && is_rfc3339(batch.get("sent_at"))
        && batch.get("resync").is_some_and(Value::is_boolean)
        && messages.is_some_and(|messages| {
            messages.iter().all(|m| match m.get("type").and_then(Value::as_str) {
                Some("keep_alive") => is_rfc3339(m.get("at")),
                Some(_) => true,
                None => false,
            })
        })
}

/// A Loxysoft account URL taking updates with its Bearer token.
pub fn loxysoft() -> Router {
    Router::new().route(
        LOXYSOFT_PATH,
        post(|headers: HeaderMap, body: Bytes| async move {
            if bearer(&headers).as_deref() != Some(LOXYSOFT_TOKEN) {
                return StatusCode::UNAUTHORIZED;
            }
            if !is_object_of_lists(&headers, &body, ["agents", "skills"]) {
                return StatusCode::BAD_REQUEST;
            }
            StatusCode::NO_CONTENT
        }),
    )
}

/// A NICE URL taking batches with Basic auth.
pub fn nice() -> Router {
    Router::new().route(
        NICE_PATH,
        post(|headers: HeaderMap, body: Bytes| async move {
            if basic(&headers) != Some((NICE_USER.into(), NICE_PASSWORD.into())) {
                return StatusCode::UNAUTHORIZED;
            }
            if !is_nice_batch(&headers, &body) {
                return StatusCode::BAD_REQUEST;
            }
            StatusCode::OK
        }),
    )
}

/// A WFM receiver; with a token it wants it as a Bearer token (none: 401, another: 403).
pub fn wfm(token: Option<&'static str>) -> Router {
    Router::new().route(WFM_PATH, post(wfm_update)).with_state(Arc::new(token))
}

async fn wfm_update(State(token): State<Arc<Option<&'static str>>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(token) = *token {
        match bearer(&headers) {
            None => return StatusCode::UNAUTHORIZED.into_response(),
            Some(sent) if sent != token => return StatusCode::FORBIDDEN.into_response(),
            Some(_) => {}
        }
    }
    if !is_object_of_lists(&headers, &body, ["agents", "services"]) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    StatusCode::OK.into_response()
}
