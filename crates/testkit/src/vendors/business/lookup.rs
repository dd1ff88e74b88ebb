//! Next Caller's records API, The Data Group's lookup API and the Synthetix (SYNAPPS) API.

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

/// The email address the stand-in holds the documentation record for.
pub const NC_DOC_EMAIL: &str = "demo@nextcaller.com";

/// The record of Next Caller's documentation (the fixture of its Python client,
/// tests/test_by_phone.py), for `phone`.
pub fn next_caller_doc_record(phone: &str) -> serde_json::Value {
    json!({
        "id": "97d949a413f4ea8b85e9586e1f2d9a",
        "first_name": "Jerry", "last_name": "Seinfeld", "name": "Jerry Seinfeld",
        "language": "English", "fraud_threat": "low", "spoof": "false",
        "phone": [{"number": phone, "carrier": "Verizon Wireless", "line_type": "LAN"}],
        "address": [{"city": "New York", "extended_zip": "", "country": "USA", "line2": "Apt 5a",
                     "line1": "129 West 81st Street", "state": "NY", "zip_code": "10024"}],
        "email": NC_DOC_EMAIL,
        "social_links": [{"followers": 1, "type": "twitter", "url": "https://twitter.com/nextcaller"}],
        "age": "45-54", "gender": "Male", "household_income": "50k-75k", "occupation": "Entertainer"
    })
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
    let known = query.get("phone").map(String::as_str) == Some(host.known_phone)
        || query.get("email").map(String::as_str) == Some(NC_DOC_EMAIL);
    if !known {
        return json(StatusCode::NOT_FOUND, json!({"error": {"message": "No records found", "type": "Not Found"}}));
    }
    json(StatusCode::OK, json!({"records": [next_caller_doc_record(host.known_phone)]}))
}

// Synthetix API (SYNAPPS): "Provide your API consumer and application keys as the
// 'APPLICATIONKEY' and 'CONSUMERKEY' headers": http://synthetix.com/api/documentation/
// The spec's probe is `GET <URL>/external/views`; the default URL is
// https://api.syn-finity.com/1.1/.
pub const SYN_CONSUMER_KEY: &str = "syn-consumer-Sentinel-4b7d";
pub const SYN_APPLICATION_KEY: &str = "syn-app-Sentinel-c81a";

pub fn synthetix() -> Router {
    use axum::routing::post;
    Router::new()
        .route("/1.1/external/views", get(synthetix_views))
        .route("/1.1/external/session", post(synthetix_session))
        .route("/1.1/external/search", post(synthetix_search))
}

/// The consumer and application keys' refusal, when they are not the stand-in's.
fn synthetix_refusal(headers: &HeaderMap) -> Option<Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if header("CONSUMERKEY").as_deref() != Some(SYN_CONSUMER_KEY) {
        return Some(json(StatusCode::UNAUTHORIZED, json!({"error": "invalid consumer key"})));
    }
    if header("APPLICATIONKEY").as_deref() != Some(SYN_APPLICATION_KEY) {
        return Some(json(StatusCode::FORBIDDEN, json!({"error": "application key not valid for this consumer"})));
    }
    None
}

async fn synthetix_views(headers: HeaderMap) -> Response {
    if let Some(refusal) = synthetix_refusal(&headers) {
        return refusal;
    }
    json(StatusCode::OK, json!([{"view_id": 1, "name": "Customer FAQ"}, {"view_id": 2, "name": "Agent KB"}]))
}

// Session Management and search of the SYNAPPS external API: `POST external/session` with the
// two keys answers `{"token", "view"}`; `POST external/search` with the keys, the session as
// Bearer and `{"query", "channel": 14, "userid"}` answers `{"results": [{"label", "faq",
// "confidence", ...}]}` (https://documentation.synthetix.com/, Session Management; the
// Synthetix Knowledge API use case's examples).
const SYN_SESSION: &str = "5d2c7e1a-0b7f-4e47-9d4e-syn-session";
/// The question the stand-in's one article answers; a search for any of its words finds it.
pub const SYN_FAQ: &str = "How do I reset my voicemail PIN?";

async fn synthetix_session(headers: HeaderMap) -> Response {
    if let Some(refusal) = synthetix_refusal(&headers) {
        return refusal;
    }
    json(StatusCode::OK, json!({"token": SYN_SESSION, "view": "FAQs"}))
}

async fn synthetix_search(headers: HeaderMap, axum::Json(body): axum::Json<serde_json::Value>) -> Response {
    if let Some(refusal) = synthetix_refusal(&headers) {
        return refusal;
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(SYN_SESSION) {
        return json(StatusCode::UNAUTHORIZED, json!({"error": "session token invalid or expired"}));
    }
    let (Some(query), Some(14), Some(_)) = (body["query"].as_str(), body["channel"].as_u64(), body["userid"].as_str())
    else {
        return json(StatusCode::BAD_REQUEST, json!({"error": "query, channel and userid are required"}));
    };
    let words: Vec<String> = SYN_FAQ.to_lowercase().split(|c: char| !c.is_alphanumeric()).map(str::to_owned).collect();
    let found = query.to_lowercase().split_whitespace().any(|w| words.iter().any(|f| f == w));
    let results = if found {
        json!([{"index": 0, "label": "qed3246", "faq": SYN_FAQ, "view": "FAQs", "id": "qed3246", "comments": 0,
                "confidence": 81, "faq_mnemonics": "", "recommended": false, "taxonomy": {"category": ["Voicemail"]}}])
    } else {
        json!([])
    };
    json(StatusCode::OK, json!({"results": results}))
}

// The Data Group API v3 (the generation with a username, password and API key): log in with
// `POST /v3/auth` (`x-api-key`, body `{"username", "password"}`; the answer carries the
// authorization token, valid 8 hours), then `POST /v3/sync/lookup/phone` (`{"phone"}`) or
// `/v3/sync/lookup/email` (`{"email"}`) with the `AuthorizationToken` and `x-api-key`
// headers; the answer is the person (`first_name`, `last_name`, `address`). Documented at
// https://thedatagroup.com/user-guide/ and http://thedatagroup.com/authorization-tutorial/,
// and in Apache Streams' client (streams-contrib/streams-processor-thedatagroup). The
// token's field name is not in the public pages; this stand-in answers `token`.
pub const TDG_USER: &str = "tdg-user";
pub const TDG_PASSWORD: &str = "tdg-pw-Sentinel-61c2";
pub const TDG_API_KEY: &str = "tdg-key-Sentinel-7ae0";
const TDG_TOKEN: &str = "tdg-token-Sentinel-0b9f";
/// The number the stand-in holds a person for.
pub const TDG_PHONE: &str = "3125550147";

pub fn tdg() -> Router {
    use axum::routing::post;
    Router::new().route("/v3/auth", post(tdg_auth)).route("/v3/sync/lookup/{kind}", post(tdg_lookup))
}

async fn tdg_auth(headers: HeaderMap, axum::Json(body): axum::Json<serde_json::Value>) -> Response {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key != Some(TDG_API_KEY) {
        return json(StatusCode::FORBIDDEN, json!({"message": "Forbidden"}));
    }
    if body["username"] != TDG_USER || body["password"] != TDG_PASSWORD {
        return json(StatusCode::UNAUTHORIZED, json!({"message": "Invalid username or password"}));
    }
    json(StatusCode::OK, json!({"token": TDG_TOKEN}))
}

async fn tdg_lookup(
    axum::extract::Path(kind): axum::extract::Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if header("x-api-key").as_deref() != Some(TDG_API_KEY) {
        return json(StatusCode::FORBIDDEN, json!({"message": "Forbidden"}));
    }
    if header("AuthorizationToken").as_deref() != Some(TDG_TOKEN) {
        return json(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}));
    }
    let found = match kind.as_str() {
        "phone" => body["phone"] == TDG_PHONE,
        "email" => body["email"] == "pat@example.com",
        _ => return json(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    };
    if !found {
        return axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT);
    }
    json(
        StatusCode::OK,
        json!({"first_name": "Pat", "last_name": "Doe",
               "address": {"address_1": "1 Main St", "city": "Chicago", "state": "IL", "zipcode": "60601"}}),
    )
}
