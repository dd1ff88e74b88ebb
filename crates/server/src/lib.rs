//! The patchbay HTTP service: the REST API (problem+json errors, bearer-token roles,
//! tenant isolation), the admin screen at `/`, health endpoints and start-up. It owns
//! request handling and never touches SQL or key material directly: those belong to the
//! store and the vault.

mod api;
mod auth;
mod body;
mod error;
mod hooks;
mod listen;
mod live;
mod lockout;
pub mod logging;
mod metrics;
mod openapi;
mod ranges;
mod sessions;
mod sso;
mod startup;
mod state;
mod token_uses;
mod ui;
mod zapier;

pub use auth::{generate_token, hash_token, Role};
pub use listen::HttpLimits;
pub use patchbay_connectors::EgressPolicy;
pub use startup::{start, Settings, Started};
pub use state::AppState;

use std::time::Duration;

use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// Largest accepted request body.
const BODY_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .nest(patchbay_api::API_PREFIX, api::router(&state))
        .merge(ui::router(&state))
        .merge(hooks::router(&state))
        .merge(sso::router(&state))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::scrape))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .fallback(|| async { ApiError::NotFound("route") })
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(state.http.body_read_timeout))
        .layer(axum::middleware::from_fn(error::problem_for_rejections))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::Extension(sessions::Sessions::default()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                // One access-log line per request at INFO, inside the span that carries the request id.
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Headers every response carries: no MIME sniffing, no Referer to other sites, and no
/// caching unless the handler chose a policy (responses carry tokens, secrets' presence
/// and tenant data, which no shared or browser cache should keep).
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database timed out"),
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.http;
    let metrics = state.metrics.clone();
    let live = state.live.clone();
    // Event streams (the live state's, the conversations') never end by themselves: they
    // end first, so the drain can finish.
    let shutdown = async move {
        shutdown.await;
        live.stop();
    };
    listen::serve(listener, router(state), limits, metrics, shutdown).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_two_modules_import_each_other_even_through_others() {
        patchbay_testkit::sources::assert_no_import_circles(env!("CARGO_MANIFEST_DIR"));
    }
}
