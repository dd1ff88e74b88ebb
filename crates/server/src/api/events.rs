//! The event intake and the data plane's state: `POST …/events` (NDJSON or a JSON array),
//! the tenant's live state, and the health of its feeds.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use patchbay_api::{FeedList, IntakeReport, Live, RejectedEvent};
use patchbay_feeds::events::Position;
use patchbay_feeds::IntakeError;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn ingest(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<IntakeReport>)> {
    state.store.get_tenant(&tenant).await.map_err(super::tenants::not_found)?;
    match state.feeds.state().ingest(&tenant, &bytes, chrono::Utc::now()) {
        Ok(report) => {
            state.metrics.record_events(report.accepted as u64, report.rejected.len() as u64);
            let rejected = report
                .rejected
                .into_iter()
                .map(|r| {
                    let (line, index) = match r.position {
                        Position::Line(line) => (Some(line as u64), None),
                        Position::Index(index) => (None, Some(index as u64)),
                    };
                    RejectedEvent { line, index, reason: r.reason }
                })
                .collect();
            let answer = IntakeReport { accepted: report.accepted as u64, stale: report.stale as u64, rejected };
            Ok((StatusCode::OK, Json(answer)))
        }
        Err(IntakeError::Body(why)) => Err(ApiError::BadRequest {
            detail: format!("the body is neither NDJSON nor a JSON array of events: {why}"),
            errors: Vec::new(),
        }),
        Err(e @ IntakeError::TooManyTenants { .. }) => {
            Err(ApiError::Unavailable { detail: e.to_string(), retry_after: 60 })
        }
    }
}

/// Health of the tenant's feeds.
pub async fn feeds(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<Json<FeedList>> {
    state.store.get_tenant(&tenant).await.map_err(super::tenants::not_found)?;
    let items = super::live::feeds_of(&state, &tenant, &who);
    Ok(Json(FeedList { items }))
}

/// Counts of the tenant's live state (agents logged in, services).
pub async fn live(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Json<Live>> {
    state.store.get_tenant(&tenant).await.map_err(super::tenants::not_found)?;
    let view = state.feeds.state().view(&tenant);
    let snapshot = view.snapshot();
    Ok(Json(Live {
        version: view.version(),
        agents: snapshot.agents.len() as u64,
        services: snapshot.services.len() as u64,
    }))
}
