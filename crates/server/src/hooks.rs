//! Messenger webhooks at `/hooks/{hook_id}`, outside the API: vendors authenticate with
//! their own proof (checked by the edge against the raw body), never with a token. The body
//! is read up to the edge's limit only after the hook is known, so every refusal counts in
//! the account's health; refusals are problem+json, acknowledgements what the vendor
//! expects.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use patchbay_edge::{Answer, Refusal};

use crate::error::ApiError;
use crate::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(&format!("/{}/{{hook_id}}", patchbay_connectors::HOOKS_SEGMENT), get(handshake).post(deliver))
        .layer(DefaultBodyLimit::max(state.edge.body_limit()))
}

async fn handshake(State(state): State<AppState>, Path(hook_id): Path<String>, RawQuery(query): RawQuery) -> Response {
    let hook = match state.edge.open(&hook_id).await {
        Ok(Ok(hook)) => hook,
        Ok(Err(answer)) => return answered(answer),
        Err(e) => return ApiError::Internal(e.to_string()).into_response(),
    };
    answered(state.edge.handshake(&hook, query.as_deref().unwrap_or("")).await)
}

async fn deliver(
    State(state): State<AppState>,
    Path(hook_id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let hook = match state.edge.open(&hook_id).await {
        Ok(Ok(hook)) => hook,
        Ok(Err(answer)) => return answered(answer),
        Err(e) => return ApiError::Internal(e.to_string()).into_response(),
    };
    let body = match Bytes::from_request(request, &state).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let refusal = Refusal {
                status: 413,
                reason: format!("the delivery is larger than {} bytes", state.edge.body_limit()),
            };
            return answered(state.edge.refuse(&hook, "too_large", refusal).await);
        }
        Err(rejection) if crate::body::timed_out(&rejection) => {
            return ApiError::RequestTimeout("the delivery stopped arriving".into()).into_response()
        }
        Err(rejection) => {
            return ApiError::BadRequest { detail: rejection.body_text(), errors: Vec::new() }.into_response()
        }
    };
    match state.edge.receive(&hook, &patchbay_edge::Request { headers: &headers, body: &body }).await {
        Ok(answer) => answered(answer),
        Err(e) => ApiError::Unavailable {
            detail: format!("the delivery could not be kept ({e}); send it again"),
            retry_after: 1,
        }
        .into_response(),
    }
}

/// The edge's answer: 200 with the vendor's acknowledgement as text, or a refusal as
/// problem+json.
fn answered(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_success() {
        let mut response = (status, answer.body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        return response;
    }
    ApiError::Refused { status, detail: answer.body }.into_response()
}
