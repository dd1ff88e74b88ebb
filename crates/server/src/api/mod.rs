//! REST API v1, one module per resource.

mod accounts;
mod audit;
mod events;
mod export_jobs;
mod keys;
mod recordings;
mod tenants;
mod testing;
mod tokens;
mod types;

pub(crate) use recordings::{audio_replaceable, record_audio, store_meta};
pub(crate) use testing::open_secrets;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/integration-types", get(types::list))
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route("/tenants/{tenant}", get(tenants::get).put(tenants::update).delete(tenants::delete))
        .route("/tenants/{tenant}/integration-accounts", get(accounts::list).post(accounts::create))
        .route(
            "/tenants/{tenant}/integration-accounts/{id}",
            get(accounts::get).put(accounts::update).delete(accounts::delete),
        )
        .route("/tenants/{tenant}/integration-accounts/test", post(testing::test_unsaved))
        .route("/tenants/{tenant}/integration-accounts/tests", post(testing::test_all))
        .route("/tenants/{tenant}/integration-accounts/{id}/test", post(testing::test_saved))
        .route("/tenants/{tenant}/integration-accounts/{id}/actions/{action}", post(testing::action))
        .route("/tenants/{tenant}/integration-accounts/{id}/audit", get(audit::for_account))
        .route("/tenants/{tenant}/audit", get(audit::for_tenant))
        .route("/tenants/{tenant}/events", post(events::ingest))
        .route("/tenants/{tenant}/feeds", get(events::feeds))
        .route("/tenants/{tenant}/live", get(events::live))
        .route("/tenants/{tenant}/recordings", get(recordings::search))
        .route("/tenants/{tenant}/recordings/{recording_id}", get(recordings::get).put(recordings::put_meta))
        .route("/tenants/{tenant}/recordings/{recording_id}/audio", get(recordings::audio).put(recordings::put_audio))
        .route("/recording-export-jobs/settings", get(export_jobs::settings))
        .route("/tenants/{tenant}/recording-export-jobs", get(export_jobs::list).post(export_jobs::create))
        .route(
            "/tenants/{tenant}/recording-export-jobs/{id}",
            get(export_jobs::get).put(export_jobs::update).delete(export_jobs::delete),
        )
        .route("/tenants/{tenant}/recording-export-jobs/{id}/run", post(export_jobs::run))
        .route("/tenants/{tenant}/recording-export-jobs/{id}/runs", get(export_jobs::runs))
        .route("/tenants/{tenant}/recording-export-jobs/{id}/runs/{run_id}", get(export_jobs::get_run))
        .route("/tenants/{tenant}/recording-export-jobs/{id}/runs/{run_id}/metadata.csv", get(export_jobs::metadata))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/whoami", post(tokens::whoami).get(tokens::whoami))
        .route("/keys", get(keys::status))
        .route("/keys/rotate", post(keys::rotate))
        .route("/keys/reseal", post(keys::reseal))
        .route("/keys/{id}", axum::routing::delete(keys::retire))
}

/// A list response: `{"items": [...]}`, serialized straight from the items.
#[derive(serde::Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// The ETag of a versioned resource.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("a number is a valid header value")
}

/// The version `If-Match` asks for: `None` when absent or `*`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let value = value.to_str().unwrap_or("").trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::bad_field("If-Match", "etag", "If-Match must be an ETag this API returned, e.g. \"3\""))
}
