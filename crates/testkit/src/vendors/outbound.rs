//! The messengers' send APIs, one stand-in serving all five, each following its vendor's
//! documented contract (cited at each handler): where the credentials go (refused without
//! them), the body's shape, the answer and its errors. Sent messages are kept for tests to
//! read, and scripted answers (a 429 with its retry hint, a 500, a refusal) go to the next
//! requests, as a busy or failing vendor would answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub const FB_PAGE_TOKEN: &str = "EAAB-send-page-s3cr3t";
pub const TELEGRAM_TOKEN: &str = "123456:AAH-send-telegram-s3cr3t";
pub const VIBER_TOKEN: &str = "viber-send-auth-s3cr3t";
pub const LINE_TOKEN: &str = "line-send-access-s3cr3t";
pub const VONAGE_KEY: &str = "abcd1234";
pub const VONAGE_SECRET: &str = "vonage-send-api-s3cr3t";

/// A message a vendor accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// `facebook`, `telegram`, `viber`, `line` or `nexmo`.
    pub vendor: &'static str,
    pub to: String,
    pub text: String,
    /// The vendor's id of it.
    pub id: String,
    /// LINE's `X-Line-Retry-Key`; Vonage's `from` and `channel` as `from@channel`.
    pub extra: Option<String>,
}

/// An answer given instead of accepting the next request of a vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scripted {
    /// 429, with the vendor's retry hint in seconds.
    Busy { retry_after: u64 },
    /// 500.
    Failing,
    /// The vendor's refusal of this recipient (Facebook 551, Telegram 403 blocked, Viber
    /// status 6, LINE 400, Vonage 422).
    Refused,
}

#[derive(Debug, Default)]
pub struct OutboundState {
    pub sent: Vec<Sent>,
    /// Requests that reached the stand-in with valid credentials, answered or not.
    pub requests: Vec<&'static str>,
    pub script: Vec<(&'static str, VecDeque<Scripted>)>,
    next_id: u64,
}

impl OutboundState {
    /// Answers the next requests to `vendor` with `answers`, in order.
    pub fn script(&mut self, vendor: &'static str, answers: impl IntoIterator<Item = Scripted>) {
        self.script.push((vendor, answers.into_iter().collect()));
    }

    fn take(&mut self, vendor: &'static str) -> Option<Scripted> {
        self.requests.push(vendor);
        self.script.iter_mut().find(|(v, q)| *v == vendor && !q.is_empty()).and_then(|(_, q)| q.pop_front())
    }

    fn accept(&mut self, vendor: &'static str, to: &str, text: &str, extra: Option<String>) -> String {
        self.next_id += 1;
        let id = format!("{vendor}-{}", self.next_id);
        self.sent.push(Sent { vendor, to: to.to_owned(), text: text.to_owned(), id: id.clone(), extra });
        id
    }
}

type Shared = Arc<Mutex<OutboundState>>;

/// Facebook at `/v19.0/`, Telegram, Viber, LINE and Vonage's Messages API at `/`.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v19.0/me/messages", post(facebook))
        .route("/{bot}/sendMessage", post(telegram))
        .route("/pa/send_message", post(viber))
        .route("/v2/bot/message/push", post(line))
        .route("/v1/messages", post(vonage))
        .with_state(state)
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, OutboundState> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn text_of(body: &Value, pointer: &str) -> String {
    body.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Send API: `POST /me/messages?access_token=`; errors are Graph error objects.
/// <https://developers.facebook.com/docs/messenger-platform/reference/send-api/>,
/// <https://developers.facebook.com/docs/messenger-platform/reference/send-api/error-codes>
async fn facebook(
    State(state): State<Shared>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let graph = |status: StatusCode, code: i64, message: &str| {
        (
            status,
            Json(json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}})),
        )
            .into_response()
    };
    if query.get("access_token").map(String::as_str) != Some(FB_PAGE_TOKEN) {
        return graph(StatusCode::BAD_REQUEST, 190, "Invalid OAuth access token - Cannot parse access token");
    }
    let to = text_of(&body, "/recipient/id");
    let text = text_of(&body, "/message/text");
    if to.is_empty() || text.is_empty() || body["messaging_type"].as_str().is_none() {
        return graph(StatusCode::BAD_REQUEST, 100, "(#100) The parameter recipient is required");
    }
    let mut state = lock(&state);
    match state.take("facebook") {
        Some(Scripted::Busy { .. }) => {
            graph(StatusCode::BAD_REQUEST, 613, "Calls to this api have exceeded the rate limit.")
        }
        Some(Scripted::Failing) => graph(StatusCode::INTERNAL_SERVER_ERROR, 2, "An unexpected error has occurred."),
        Some(Scripted::Refused) => graph(StatusCode::BAD_REQUEST, 551, "This person isn't available right now."),
        None => {
            let id = state.accept("facebook", &to, &text, None);
            Json(json!({"recipient_id": to, "message_id": id})).into_response()
        }
    }
}

/// `sendMessage`: the token in the path; `{"ok": false, "error_code", "description",
/// "parameters": {"retry_after"}}` on errors. <https://core.telegram.org/bots/api#sendmessage>
async fn telegram(State(state): State<Shared>, Path(bot): Path<String>, Json(body): Json<Value>) -> Response {
    let error = |status: StatusCode, description: &str, extra: Value| {
        let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
        if !extra.is_null() {
            body["parameters"] = extra;
        }
        (status, Json(body)).into_response()
    };
    if bot != format!("bot{TELEGRAM_TOKEN}") {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", Value::Null);
    }
    let to = match &body["chat_id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return error(StatusCode::BAD_REQUEST, "Bad Request: chat_id is empty", Value::Null),
    };
    let text = text_of(&body, "/text");
    if text.is_empty() {
        return error(StatusCode::BAD_REQUEST, "Bad Request: message text is empty", Value::Null);
    }
    let mut state = lock(&state);
    match state.take("telegram") {
        Some(Scripted::Busy { retry_after }) => error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too Many Requests: retry after {retry_after}"),
            json!({"retry_after": retry_after}),
        ),
        Some(Scripted::Failing) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", Value::Null),
        Some(Scripted::Refused) => error(StatusCode::FORBIDDEN, "Forbidden: bot was blocked by the user", Value::Null),
        None => {
            let id = state.accept("telegram", &to, &text, None);
            let message_id: u64 = id.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(1);
            Json(json!({"ok": true, "result": {"message_id": message_id, "date": 1_700_000_000, "chat": {"id": to}, "text": text}}))
                .into_response()
        }
    }
}

/// `send_message`: `X-Viber-Auth-Token`; HTTP 200 with `status` (0 ok, 2 invalid token, 6
/// receiver not subscribed, 12 too many requests).
/// <https://developers.viber.com/docs/api/rest-bot-api/#send-message>, `#error-codes`
async fn viber(State(state): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let status = |code: i64, message: &str| Json(json!({"status": code, "status_message": message})).into_response();
    if headers.get("x-viber-auth-token").and_then(|v| v.to_str().ok()) != Some(VIBER_TOKEN) {
        return status(2, "invalidAuthToken");
    }
    let to = text_of(&body, "/receiver");
    let text = text_of(&body, "/text");
    if to.is_empty() || text.is_empty() || body["sender"]["name"].as_str().is_none() || body["type"] != "text" {
        return status(3, "badData");
    }
    let mut state = lock(&state);
    match state.take("viber") {
        Some(Scripted::Busy { .. }) => status(12, "tooManyRequests"),
        Some(Scripted::Failing) => (StatusCode::INTERNAL_SERVER_ERROR, "").into_response(),
        Some(Scripted::Refused) => status(6, "receiverNotSubscribed"),
        None => {
            let id = state.accept("viber", &to, &text, None);
            let token: u64 = 5_000_000_000 + id.rsplit('-').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(1);
            Json(json!({"status": 0, "status_message": "ok", "message_token": token, "chat_hostname": "SN-CHAT-01_"}))
                .into_response()
        }
    }
}

/// Push message: bearer channel access token, `X-Line-Retry-Key`; a retry key already
/// accepted is `409` with `x-line-accepted-request-id`; 429 when rate limited.
/// <https://developers.line.biz/en/reference/messaging-api/#send-push-message>,
/// <https://developers.line.biz/en/reference/messaging-api/#retry-api-request>
async fn line(State(state): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let error = |status: StatusCode, message: &str| (status, Json(json!({"message": message}))).into_response();
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {LINE_TOKEN}")) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Authentication failed. Confirm that the access token in the authorization header is valid.",
        );
    }
    let to = text_of(&body, "/to");
    let text = text_of(&body, "/messages/0/text");
    if to.is_empty() || text.is_empty() {
        return error(StatusCode::BAD_REQUEST, "The request body has 1 error(s)");
    }
    let key = headers.get("x-line-retry-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut state = lock(&state);
    if let Some(key) = &key {
        if let Some(first) = state.sent.iter().find(|s| s.vendor == "line" && s.extra.as_deref() == Some(key.as_str()))
        {
            let mut response = error(StatusCode::CONFLICT, "The retry key is already accepted");
            response.headers_mut().insert("x-line-accepted-request-id", first.id.parse().expect("an id header"));
            return response;
        }
    }
    match state.take("line") {
        Some(Scripted::Busy { .. }) => error(StatusCode::TOO_MANY_REQUESTS, "The API rate limit has been exceeded."),
        Some(Scripted::Failing) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        Some(Scripted::Refused) => error(StatusCode::BAD_REQUEST, "Failed to send messages"),
        None => {
            let id = state.accept("line", &to, &text, key);
            Json(json!({"sentMessages": [{"id": id, "quoteToken": "IStG5h1Tz7b"}]})).into_response()
        }
    }
}

/// Messages API: Basic auth with the API key and secret; `202 {"message_uuid"}`; errors are
/// RFC 7807 problems. <https://developer.vonage.com/en/api/messages#SendMessage>
async fn vonage(State(state): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let problem = |status: StatusCode, title: &str, detail: &str| {
        (status, Json(json!({"type": "https://developer.vonage.com/api-errors#invalid-params", "title": title, "detail": detail, "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"})))
            .into_response()
    };
    use base64::Engine as _;
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{VONAGE_KEY}:{VONAGE_SECRET}")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "You did not provide correct credentials.");
    }
    let (to, from, channel, text) =
        (text_of(&body, "/to"), text_of(&body, "/from"), text_of(&body, "/channel"), text_of(&body, "/text"));
    if to.is_empty() || from.is_empty() || channel.is_empty() || text.is_empty() || body["message_type"] != "text" {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid params",
            "The value of one or more parameters is invalid.",
        );
    }
    let mut state = lock(&state);
    match state.take("nexmo") {
        Some(Scripted::Busy { .. }) => {
            problem(StatusCode::TOO_MANY_REQUESTS, "Rate Limit Hit", "Please wait, then retry your request")
        }
        Some(Scripted::Failing) => {
            problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error", "Something went wrong.")
        }
        Some(Scripted::Refused) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, "Invalid params", "The number is not reachable on this channel.")
        }
        None => {
            let id = state.accept("nexmo", &to, &text, Some(format!("{from}@{channel}")));
            (StatusCode::ACCEPTED, Json(json!({"message_uuid": id}))).into_response()
        }
    }
}
