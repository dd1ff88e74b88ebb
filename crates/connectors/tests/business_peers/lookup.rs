//! Next Caller's records API and the Synthetix (SYNAPPS) API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::{basic, json};

// Next Caller API v2.1: `GET /v2.1/records/?phone=...&format=json` with Basic access
// authentication, on api.nextcaller.com or api.sandbox.nextcaller.com:
//   https://nextcaller.com/documentation/v2.1/
// and Next Caller's own Java client (API_VERSION "2.1", `records/` with `format=json&phone=`,
// errors `{"error": {"message", "code", "type"}}`): github.com/Nextcaller/nextcaller-java-api
// (src/main/java/com/nextcaller/integration/util/PrepareUrlUtil.java, response/ErrorMessage.java).
pub const NC_USER: &str = "nc-api-user";
pub const NC_PASSWORD: &str = "nc-pw-Sentinel-2f8b";
pub const NC_SANDBOX_USER: &str = "nc-sandbox-user";
pub const NC_SANDBOX_PASSWORD: &str = "nc-sandbox-Sentinel-90d4";
/// The number of Next Caller's documentation examples.
pub const NC_DOC_PHONE: &str = "2125558383";

/// One Next Caller host (production or sandbox): the API user it knows and the one number
/// it holds a record for.
pub struct NextCallerHost {
    pub user: &'static str,
    pub password: &'static str,
    pub known_phone: &'static str,
}

pub fn next_caller(host: NextCallerHost) -> Router {
    Router::new().route("/v2.1/records/", get(next_caller_records)).with_state(Arc::new(host))
}

async fn next_caller_records(
    State(host): State<Arc<NextCallerHost>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if basic(&headers) != Some((host.user.into(), host.password.into())) {
        return json(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"message": "Authentication credentials were not provided or are invalid.", "type": "Unauthorized"}}),
        );
    }
    if query.get("format").map(String::as_str) != Some("json") {
        return json(
            StatusCode::BAD_REQUEST,
            json!({"error": {"message": "Unsupported format", "type": "Bad Request"}}),
        );
    }
    if query.get("phone").map(String::as_str) != Some(host.known_phone) {
        return json(StatusCode::NOT_FOUND, json!({"error": {"message": "No records found", "type": "Not Found"}}));
    }
    json(
        StatusCode::OK,
        json!({"records": [{"id": "97d949a413f4ea8b85e9586e1f2d9a", "first_name": "Jerry", "last_name": "Seinfeld", "phone": [{"number": host.known_phone}]}]}),
    )
}

// Synthetix API (SYNAPPS): "Provide your API consumer and application keys as the
// 'APPLICATIONKEY' and 'CONSUMERKEY' headers": http://synthetix.com/api/documentation/
// The spec's probe is `GET <URL>/external/views`; the default URL is
// https://api.syn-finity.com/1.1/.
pub const SYN_CONSUMER_KEY: &str = "syn-consumer-Sentinel-4b7d";
pub const SYN_APPLICATION_KEY: &str = "syn-app-Sentinel-c81a";

pub fn synthetix() -> Router {
    Router::new().route("/1.1/external/views", get(synthetix_views))
}

async fn synthetix_views(headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if header("CONSUMERKEY").as_deref() != Some(SYN_CONSUMER_KEY) {
        return json(StatusCode::UNAUTHORIZED, json!({"error": "invalid consumer key"}));
    }
    if header("APPLICATIONKEY").as_deref() != Some(SYN_APPLICATION_KEY) {
        return json(StatusCode::FORBIDDEN, json!({"error": "application key not valid for this consumer"}));
    }
    json(StatusCode::OK, json!([{"view_id": 1, "name": "Customer FAQ"}, {"view_id": 2, "name": "Agent KB"}]))
}
