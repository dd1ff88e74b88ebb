//! Local stand-ins for the business vendors' HTTP APIs. Each follows its vendor's documented
//! contract (paths, authentication, status codes, body shapes; the doc is cited next to it)
//! and refuses what the vendor refuses: a test passes only when the connector sent what the
//! vendor expects. Secrets are distinctive so a leak into a report is found by search.

pub mod crm;
pub mod lookup;

use std::collections::HashMap;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::Value;

/// The user and password of a Basic `Authorization` header.
pub fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The token of a Bearer `Authorization` header.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    Some(headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?.to_owned())
}

/// Whether the request declares a JSON or form body, as the vendors require.
pub fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(expected))
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub fn json(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}
