//! Local stand-ins for the messaging, bot, NLU and TTS vendors, each following its vendor's
//! documented contract: paths, where the credentials go (and refusing requests without
//! them), status codes and body shapes. The doc each follows is cited above it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

type Params = Query<HashMap<String, String>>;

/// Serves `router` over plain HTTP on a loopback port.
pub async fn serve(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// The user and password of a Basic `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// Something that answers 200 with HTML on every path: a captive portal or a web server that
/// is not the vendor's API.
pub fn not_the_vendor() -> Router {
    Router::new().fallback(|| async {
        ([("content-type", "text/html")], "<html><body>Welcome to the guest network</body></html>")
    })
}

// Facebook Graph API, debug_token:
// https://developers.facebook.com/docs/graph-api/reference/debug_token
// errors: https://developers.facebook.com/docs/graph-api/guides/error-handling

pub const FB_PAGE_ID: &str = "1234567890";
pub const FB_PAGE_TOKEN: &str = "EAAB-page-token-s3cr3t";
pub const FB_OTHER_PAGE_TOKEN: &str = "EAAB-other-page-s3cr3t";
pub const FB_USER_TOKEN: &str = "EAAB-user-token-s3cr3t";
pub const FB_READ_ONLY_TOKEN: &str = "EAAB-read-only-s3cr3t";

/// Graph API under `/v19.0/`.
pub fn facebook() -> Router {
    Router::new().route("/v19.0/debug_token", get(debug_token))
}

async fn debug_token(Query(q): Params) -> Response {
    let oauth = |code: i64, message: &str| {
        reply(
            StatusCode::BAD_REQUEST,
            json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}}),
        )
    };
    let known = [FB_PAGE_TOKEN, FB_OTHER_PAGE_TOKEN, FB_USER_TOKEN, FB_READ_ONLY_TOKEN];
    let Some(access) = q.get("access_token") else {
        return oauth(104, "An access token is required to request this resource.");
    };
    if !known.contains(&access.as_str()) {
        return oauth(190, "Invalid OAuth access token - Cannot parse access token");
    }
    let Some(input) = q.get("input_token") else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": {"message": "(#100) The parameter input_token is required", "type": "OAuthException", "code": 100}}),
        );
    };
    let page = |profile: &str, scopes: Value| {
        json!({"data": {
            "app_id": "138483919580948", "type": "PAGE", "application": "Acme Contact Center",
            "data_access_expires_at": 1_767_225_600, "expires_at": 0, "is_valid": true,
            "issued_at": 1_735_689_600, "profile_id": profile, "scopes": scopes, "user_id": "10215400000000000"
        }})
    };
    let body = match input.as_str() {
        FB_PAGE_TOKEN => page(FB_PAGE_ID, json!(["pages_show_list", "pages_messaging", "pages_manage_metadata"])),
        FB_OTHER_PAGE_TOKEN => page("5550001112", json!(["pages_show_list", "pages_messaging"])),
        FB_READ_ONLY_TOKEN => page(FB_PAGE_ID, json!(["pages_show_list", "pages_read_engagement"])),
        FB_USER_TOKEN => json!({"data": {
            "app_id": "138483919580948", "type": "USER", "application": "Acme Contact Center",
            "expires_at": 1_767_225_600, "is_valid": true, "scopes": ["public_profile"], "user_id": "10215400000000000"
        }}),
        _ => json!({"data": {"is_valid": false, "error": {"code": 190, "message": "Invalid OAuth access token."}}}),
    };
    reply(StatusCode::OK, body)
}

// LINE Messaging API, get bot info:
// https://developers.line.biz/en/reference/messaging-api/#get-bot-info

pub const LINE_TOKEN: &str = "line-channel-token-s3cr3t";

pub fn line() -> Router {
    Router::new().route(
        "/v2/bot/info",
        get(|headers: HeaderMap| async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {LINE_TOKEN}")) {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"message": "Authentication failed. Confirm that the access token in the authorization header is valid."}),
                );
            }
            reply(
                StatusCode::OK,
                json!({"userId": "Ub9952f8f1a2b3c4d5e6f708192a3b4c5", "basicId": "@216ruotc", "displayName": "Acme Support",
                       "pictureUrl": "https://profile.line-scdn.net/abcdefghijklmn", "chatMode": "chat", "markAsReadMode": "manual"}),
            )
        }),
    )
}

// Vonage (Nexmo) Account API, get balance (Basic auth or api_key/api_secret query):
// https://developer.vonage.com/en/api/account#getAccountBalance

pub const NEXMO_KEY: &str = "abcd1234";
pub const NEXMO_SECRET: &str = "nexmo-secret-s3cr3t";

pub fn nexmo() -> Router {
    Router::new().route(
        "/account/get-balance",
        get(|headers: HeaderMap, Query(q): Params| async move {
            let by_query = q.get("api_key").zip(q.get("api_secret")).map(|(k, s)| (k.clone(), s.clone()));
            match basic(&headers).or(by_query) {
                Some((key, secret)) if key == NEXMO_KEY && secret == NEXMO_SECRET => {
                    reply(StatusCode::OK, json!({"value": 10.28, "autoReload": false}))
                }
                _ => reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"type": "https://developer.nexmo.com/api-errors#unauthorized", "title": "Unauthorized",
                           "detail": "You did not provide correct credentials.", "instance": "797a8f199c45014ab7b08bfe9cc1c12c"}),
                ),
            }
        }),
    )
}

// Telegram Bot API: https://core.telegram.org/bots/api#making-requests (token in the path,
// `{"ok": false, "error_code", "description"}` errors), #getme, #setwebhook (`secret_token`:
// 1-256 characters A-Z, a-z, 0-9, _ and -; HTTPS URLs only), #getwebhookinfo.

pub const TELEGRAM_TOKEN: &str = "123456789:AAH-s3cr3t_tg-token";
pub const TELEGRAM_BOT: &str = "acme_support_bot";

/// What a Telegram stand-in holds and was sent.
#[derive(Default)]
pub struct TelegramState {
    pub webhook_url: String,
    pub secret_token: Option<String>,
    /// When set, getWebhookInfo reports this URL (another system re-set the webhook).
    pub reported_url: Option<String>,
    /// When set, getWebhookInfo reports this `last_error_message` (Telegram's text about
    /// the last failed delivery).
    pub last_error_message: Option<String>,
}

pub fn telegram(state: Arc<Mutex<TelegramState>>) -> Router {
    Router::new().route("/{bot}/{method}", get(telegram_method).post(telegram_method)).with_state(state)
}

async fn telegram_method(
    State(state): State<Arc<Mutex<TelegramState>>>,
    Path((bot, method)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Response {
    let error = |code: u16, description: &str| {
        reply(StatusCode::from_u16(code).unwrap(), json!({"ok": false, "error_code": code, "description": description}))
    };
    let Some(token) = bot.strip_prefix("bot") else { return error(404, "Not Found") };
    let well_formed = token.split_once(':').is_some_and(|(id, key)| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit())
            && !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if !well_formed {
        return error(404, "Not Found");
    }
    if token != TELEGRAM_TOKEN {
        return error(401, "Unauthorized");
    }
    let ok = |result: Value| reply(StatusCode::OK, json!({"ok": true, "result": result}));
    match method.as_str() {
        "getMe" => ok(json!({"id": 123456789, "is_bot": true, "first_name": "Acme Support", "username": TELEGRAM_BOT,
                             "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false})),
        "setWebhook" => {
            let body = body.map(|Json(b)| b).unwrap_or_default();
            let url = body.get("url").and_then(Value::as_str).unwrap_or_default().to_owned();
            if !url.starts_with("https://") {
                return error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook");
            }
            let secret = body.get("secret_token").and_then(Value::as_str).map(str::to_owned);
            if let Some(s) = &secret {
                if s.is_empty()
                    || s.len() > 256
                    || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return error(400, "Bad Request: secret token contains unallowed characters");
                }
            }
            let mut state = state.lock().unwrap();
            state.webhook_url = url;
            state.secret_token = secret;
            reply(StatusCode::OK, json!({"ok": true, "result": true, "description": "Webhook was set"}))
        }
        "getWebhookInfo" => {
            let state = state.lock().unwrap();
            let url = state.reported_url.clone().unwrap_or_else(|| state.webhook_url.clone());
            let mut info =
                json!({"url": url, "has_custom_certificate": false, "pending_update_count": 0, "max_connections": 40});
            if let Some(message) = &state.last_error_message {
                info["last_error_date"] = json!(1_700_000_000);
                info["last_error_message"] = json!(message);
            }
            ok(info)
        }
        _ => error(404, "Not Found: method not found"),
    }
}

// Viber REST bot API: https://developers.viber.com/docs/api/rest-bot-api/ (X-Viber-Auth-Token;
// HTTP 200 with `status` 0 for success), get account info:
// https://creators.viber.com/docs/bots-api/resources/app/get-info, errors (1 invalidUrl,
// 2 invalidAuthToken): https://creators.viber.com/docs/bots-api/errors

pub const VIBER_TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-s3cr3t";
pub const VIBER_NAME: &str = "Acme Support";
pub const VIBER_URI: &str = "acmesupport";
/// A webhook host whose server Viber cannot reach (its validation callback fails).
pub const VIBER_UNREACHABLE_HOST: &str = "down.acme.example";

#[derive(Default)]
pub struct ViberState {
    pub webhook: String,
    /// When set, get_account_info reports this webhook.
    pub reported_webhook: Option<String>,
}

const VIBER_EVENTS: [&str; 6] = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"];

pub fn viber(state: Arc<Mutex<ViberState>>) -> Router {
    Router::new()
        .route("/pa/get_account_info", post(viber_account_info))
        .route("/pa/set_webhook", post(viber_set_webhook))
        .with_state(state)
}

fn viber_authorized(headers: &HeaderMap) -> bool {
    headers.get("x-viber-auth-token").and_then(|v| v.to_str().ok()) == Some(VIBER_TOKEN)
}

fn viber_status(status: i64, message: &str) -> Response {
    reply(StatusCode::OK, json!({"status": status, "status_message": message}))
}

async fn viber_account_info(State(state): State<Arc<Mutex<ViberState>>>, headers: HeaderMap) -> Response {
    if !viber_authorized(&headers) {
        return viber_status(2, "invalidAuthToken");
    }
    let state = state.lock().unwrap();
    let webhook = state.reported_webhook.clone().unwrap_or_else(|| state.webhook.clone());
    reply(
        StatusCode::OK,
        json!({"status": 0, "status_message": "ok", "id": "pa:75346594275468546724", "name": VIBER_NAME, "uri": VIBER_URI,
               "icon": "https://example.com/icon.jpg", "background": "https://example.com/bg.jpg", "category": "Organizations",
               "subcategory": "Customer Service", "location": {"lon": 0.1, "lat": 0.2}, "country": "US",
               "webhook": webhook, "event_types": VIBER_EVENTS, "subscribers_count": 35}),
    )
}

async fn viber_set_webhook(
    State(state): State<Arc<Mutex<ViberState>>>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    if !viber_authorized(&headers) {
        return viber_status(2, "invalidAuthToken");
    }
    let Some(url) = body.as_ref().and_then(|Json(b)| b.get("url")).and_then(Value::as_str).map(str::to_owned) else {
        return viber_status(4, "missingData");
    };
    if !url.starts_with("https://") || url.starts_with(&format!("https://{VIBER_UNREACHABLE_HOST}")) {
        return viber_status(1, "invalidUrl");
    }
    state.lock().unwrap().webhook = url;
    reply(StatusCode::OK, json!({"status": 0, "status_message": "ok", "event_types": VIBER_EVENTS}))
}

// Alterra: no public API documentation was found; this follows what the spec implies (POST,
// JSON, the optional API key) and the usual statuses.

pub const ALTERRA_KEY: &str = "alterra-key-s3cr3t";

pub fn alterra() -> Router {
    Router::new().route(
        "/demo/api",
        post(|Json(body): Json<Value>| async move {
            if body.get("api_key").and_then(Value::as_str) != Some(ALTERRA_KEY) {
                return reply(StatusCode::UNAUTHORIZED, json!({"error": "invalid api key"}));
            }
            if body.get("text").and_then(Value::as_str).is_none() {
                return reply(StatusCode::BAD_REQUEST, json!({"error": "text is required"}));
            }
            reply(StatusCode::OK, json!({"suggestions": [{"text": "Hello! How can I help you today?"}]}))
        }),
    )
}

// IBM Watson Conversation (Assistant v1) get workspace, Basic auth, `version` required:
// https://cloud.ibm.com/apidocs/assistant-v1#getworkspace

pub const WATSON_USER: &str = "3d5a0c1e-watson-user";
pub const WATSON_PASSWORD: &str = "watson-password-s3cr3t";
pub const WATSON_WORKSPACE: &str = "9978a49e-ea89-4493-b33d-82298d3db20d";

fn watson_authorized(headers: &HeaderMap) -> bool {
    basic(headers).is_some_and(|(u, p)| u == WATSON_USER && p == WATSON_PASSWORD)
}

fn watson_error(status: StatusCode, error: &str) -> Response {
    reply(status, json!({"error": error, "code": status.as_u16()}))
}

pub fn watson_conversation() -> Router {
    Router::new().route(
        "/conversation/api/v1/workspaces/{id}",
        get(|Path(id): Path<String>, Query(q): Params, headers: HeaderMap| async move {
            if !watson_authorized(&headers) {
                return watson_error(StatusCode::UNAUTHORIZED, "Unauthorized");
            }
            if !q.contains_key("version") {
                return watson_error(StatusCode::BAD_REQUEST, "Missing required query parameter `version`");
            }
            if id != WATSON_WORKSPACE {
                return watson_error(StatusCode::NOT_FOUND, "Resource not found");
            }
            reply(
                StatusCode::OK,
                json!({"name": "Acme support bot", "language": "en", "description": "Suggestions for agents",
                       "workspace_id": id, "learning_opt_out": false, // not a property key: Watson's workspace
                       "created": "2017-06-01T10:00:00.000Z", "updated": "2017-06-02T10:00:00.000Z"}),
            )
        }),
    )
}

// IBM Watson Natural Language Understanding analyze, Basic auth, `version` required:
// https://cloud.ibm.com/apidocs/natural-language-understanding#analyze

pub fn watson_nlu() -> Router {
    watson_nlu_counted(Arc::default())
}

/// What the NLU stand-in answers for texts that ask for a fault (vendor failures a test
/// provokes): `fail:401`, `fail:429` (with `Retry-After: 7`), `fail:500`, `fail:slow` (no
/// answer for 10 s), `fail:garbage` (200 with a body that is not JSON). Other texts get a
/// document sentiment: `positive` for "love" or "great", `negative` for "angry" or
/// "terrible", else `neutral`. `calls` counts the requests that reached it.
pub fn watson_nlu_counted(calls: Arc<std::sync::atomic::AtomicUsize>) -> Router {
    Router::new().route(
        "/natural-language-understanding/api/v1/analyze",
        post(move |Query(q): Params, headers: HeaderMap, Json(body): Json<Value>| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { nlu_analyze(&q, &headers, &body).await }
        }),
    )
}

async fn nlu_analyze(q: &HashMap<String, String>, headers: &HeaderMap, body: &Value) -> Response {
    if !watson_authorized(headers) {
        return watson_error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if !q.contains_key("version") {
        return watson_error(StatusCode::BAD_REQUEST, "Missing required query parameter `version`");
    }
    let Some(text) = body.get("text").and_then(Value::as_str) else {
        return watson_error(StatusCode::BAD_REQUEST, "no text, html or url to analyze");
    };
    if body.pointer("/features/sentiment").is_none() {
        return watson_error(StatusCode::BAD_REQUEST, "no features specified");
    }
    match text {
        "fail:401" => return watson_error(StatusCode::UNAUTHORIZED, "Unauthorized"),
        "fail:429" => {
            let mut r = watson_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("7"));
            return r;
        }
        "fail:500" => return watson_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        "fail:slow" => tokio::time::sleep(std::time::Duration::from_secs(10)).await,
        "fail:garbage" => return (StatusCode::OK, "<html>upstream hiccup</html>").into_response(),
        _ => {}
    }
    let lower = text.to_lowercase();
    let (label, score) = if lower.contains("love") || lower.contains("great") {
        ("positive", 0.91)
    } else if lower.contains("angry") || lower.contains("terrible") {
        ("negative", -0.84)
    } else {
        ("neutral", 0.0)
    };
    reply(
        StatusCode::OK,
        json!({"usage": {"text_units": 1, "text_characters": text.len(), "features": 1},
               "sentiment": {"document": {"score": score, "label": label}}, "language": "en"}),
    )
}

// IBM Watson Assistant v1 message, Basic auth, `version` required; stateless: the client
// sends back the `context` of the previous answer, whose `conversation_id` and
// `system.dialog_turn_counter` carry the conversation:
// https://cloud.ibm.com/apidocs/assistant-v1#message

/// Answers `message` on the stand-in's workspace: the output text names the turn of the
/// conversation (from the context sent back) and echoes the input; `alternate_intents`
/// adds a second, less confident intent.
pub fn watson_assistant() -> Router {
    Router::new().route(
        "/conversation/api/v1/workspaces/{id}/message",
        post(|Path(id): Path<String>, Query(q): Params, headers: HeaderMap, Json(body): Json<Value>| async move {
            if !watson_authorized(&headers) {
                return watson_error(StatusCode::UNAUTHORIZED, "Unauthorized");
            }
            if !q.contains_key("version") {
                return watson_error(StatusCode::BAD_REQUEST, "Missing required query parameter `version`");
            }
            if id != WATSON_WORKSPACE {
                return watson_error(StatusCode::NOT_FOUND, "Resource not found");
            }
            let text = body.pointer("/input/text").and_then(Value::as_str).unwrap_or_default().to_owned();
            if text.contains(['\n', '\r', '\t']) {
                return watson_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid input text: line breaks and tabs are not allowed",
                );
            }
            let turn = body.pointer("/context/system/dialog_turn_counter").and_then(Value::as_u64).unwrap_or(0) + 1;
            let conversation = body
                .pointer("/context/conversation_id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("conv-{}", text.len()), str::to_owned);
            let mut intents = vec![json!({"intent": "greeting", "confidence": 0.87})];
            if body.get("alternate_intents") == Some(&Value::Bool(true)) {
                intents.push(json!({"intent": "goodbye", "confidence": 0.11}));
            }
            reply(
                StatusCode::OK,
                json!({
                    "input": {"text": text},
                    "intents": intents,
                    "entities": [],
                    "context": {"conversation_id": conversation,
                                "system": {"dialog_turn_counter": turn, "dialog_request_counter": turn}},
                    "output": {"text": [format!("Turn {turn}: you said {text}"), "Anything else?"],
                               "log_messages": [], "nodes_visited": ["node_1"]},
                    "user_id": conversation,
                }),
            )
        }),
    )
}

// IBM Watson Text to Speech list voices, Basic auth:
// https://cloud.ibm.com/docs/text-to-speech?topic=text-to-speech-voices-list

/// Audio a stand-in "synthesizes": the format's magic bytes, then 2,000 bytes per character
/// of the text (so a long text makes an answer of megabytes), derived from the text.
pub fn synthesized(magic: &[u8], text: &str) -> Vec<u8> {
    let mut audio = magic.to_vec();
    let seed = text.bytes().fold(17u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    audio.extend((0..text.chars().count() * 2000).map(|i| seed.wrapping_add(i as u8)));
    audio
}

/// The magic bytes of the formats the stand-ins produce.
pub const WAV_MAGIC: &[u8] = b"RIFF\0\0\0\0WAVEfmt ";
pub const MP3_MAGIC: &[u8] = b"ID3\x04\0\0";
pub const OGG_MAGIC: &[u8] = b"OggS\0\x02";

// IBM Watson Text to Speech synthesize: `POST {url}/v1/synthesize?voice=…` with Basic auth,
// `{"text": …}` (SSML allowed) and the format in `Accept`; the answer is the audio, or
// `{"error", "code"}` (404 "Model '…' not found" for an unknown voice):
// https://cloud.ibm.com/apidocs/text-to-speech#synthesize
pub fn watson_tts() -> Router {
    watson_tts_counted(Arc::default())
}

/// The Watson TTS stand-in; `calls` counts the synthesize requests that reached it.
pub fn watson_tts_counted(calls: Arc<std::sync::atomic::AtomicUsize>) -> Router {
    Router::new()
        .route(
            "/text-to-speech/api/v1/synthesize",
            post(move |Query(q): Params, headers: HeaderMap, Json(body): Json<Value>| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    if !watson_authorized(&headers) {
                        return watson_error(StatusCode::UNAUTHORIZED, "Unauthorized");
                    }
                    let voice = q.get("voice").map_or("en-US_MichaelV3Voice", String::as_str);
                    if !["en-US_MichaelV3Voice", "en-US_LisaV3Voice", "de-DE_DieterV3Voice"].contains(&voice) {
                        return watson_error(StatusCode::NOT_FOUND, &format!("Model '{voice}' not found"));
                    }
                    let Some(text) = body.get("text").and_then(Value::as_str) else {
                        return watson_error(StatusCode::BAD_REQUEST, "Required parameter \"text\" is missing.");
                    };
                    let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or("audio/ogg;codecs=opus");
                    let (magic, content_type) = match accept {
                        "audio/wav" => (WAV_MAGIC, "audio/wav"),
                        "audio/mp3" | "audio/mpeg" => (MP3_MAGIC, "audio/mpeg"),
                        _ => (OGG_MAGIC, "audio/ogg;codecs=opus"),
                    };
                    ([("content-type", content_type)], synthesized(magic, text)).into_response()
                }
            }),
        )
        .route(
        "/text-to-speech/api/v1/voices",
        get(|headers: HeaderMap| async move {
            if !watson_authorized(&headers) {
                return watson_error(StatusCode::UNAUTHORIZED, "Unauthorized");
            }
            let voice = |name: &str, language: &str, gender: &str, description: &str| {
                json!({"name": name, "language": language, "gender": gender, "customizable": true,
                       "url": format!("https://api.us-south.text-to-speech.watson.cloud.ibm.com/v1/voices/{name}"),
                       "supported_features": {"voice_transformation": false, "custom_pronunciation": true},
                       "description": description})
            };
            reply(
                StatusCode::OK,
                json!({"voices": [
                    voice("en-US_LisaV3Voice", "en-US", "female", "Lisa: American English female voice."),
                    voice("es-LA_SofiaV3Voice", "es-LA", "female", "Sofia: Latin American Spanish (español latinoamericano) female voice."),
                    voice("de-DE_DieterV3Voice", "de-DE", "male", "Dieter: Standard German (Standarddeutsch) male voice."),
                ]}),
            )
        }),
    )
}

// Google Cloud Text-to-Speech voices.list with an API key (`key` query parameter):
// https://cloud.google.com/text-to-speech/docs/reference/rest/v1/voices/list,
// https://cloud.google.com/docs/authentication/api-keys-use; error model:
// https://cloud.google.com/apis/design/errors

pub const GOOGLE_KEY: &str = "AIzaSyD-google-key-s3cr3t";
/// A valid key of a project where the Text-to-Speech API is not enabled.
pub const GOOGLE_DISABLED_KEY: &str = "AIzaSyD-disabled-project-s3cr3t";

// Google Cloud Text-to-Speech text:synthesize (`POST /v1/text:synthesize?key=…`, body
// `{input: {text|ssml}, voice: {languageCode, name}, audioConfig: {audioEncoding}}`; the
// answer is `{"audioContent": <base64>}`, LINEAR16 with its WAV header):
// https://cloud.google.com/text-to-speech/docs/reference/rest/v1/text/synthesize
async fn google_synthesize(Query(q): Params, Json(body): Json<Value>) -> Response {
    if q.get("key").map(String::as_str) != Some(GOOGLE_KEY) {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}),
        );
    }
    let text = body.pointer("/input/text").or_else(|| body.pointer("/input/ssml")).and_then(Value::as_str);
    let language = body.pointer("/voice/languageCode").and_then(Value::as_str);
    let (Some(text), Some(_)) = (text, language) else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": 400, "message": "Invalid request: input and voice.languageCode are required.", "status": "INVALID_ARGUMENT"}}),
        );
    };
    let magic = match body.pointer("/audioConfig/audioEncoding").and_then(Value::as_str) {
        Some("LINEAR16") => WAV_MAGIC,
        Some("MP3") => MP3_MAGIC,
        Some("OGG_OPUS") => OGG_MAGIC,
        _ => {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": 400, "message": "Invalid audio encoding.", "status": "INVALID_ARGUMENT"}}),
            )
        }
    };
    let audio = base64::engine::general_purpose::STANDARD.encode(synthesized(magic, text));
    reply(StatusCode::OK, json!({"audioContent": audio}))
}

pub fn google_tts() -> Router {
    Router::new().route("/v1/text:synthesize", post(google_synthesize)).route(
        "/v1/voices",
        get(|Query(q): Params| async move {
            let error = |code: u16, status: &str, message: &str, reason: &str| {
                reply(
                    StatusCode::from_u16(code).unwrap(),
                    json!({"error": {"code": code, "message": message, "status": status, "details": [{
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
                        "metadata": {"service": "texttospeech.googleapis.com"}}]}}),
                )
            };
            match q.get("key").map(String::as_str) {
                None => error(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
                    "CONSUMER_INVALID",
                ),
                Some(GOOGLE_KEY) => reply(
                    StatusCode::OK,
                    json!({"voices": [
                        {"languageCodes": ["en-US"], "name": "en-US-Standard-C", "ssmlGender": "FEMALE", "naturalSampleRateHertz": 24000},
                        {"languageCodes": ["es-ES"], "name": "es-ES-Standard-A", "ssmlGender": "FEMALE", "naturalSampleRateHertz": 24000},
                        {"languageCodes": ["ja-JP"], "name": "ja-JP-Standard-D", "ssmlGender": "MALE", "naturalSampleRateHertz": 22050},
                    ]}),
                ),
                Some(GOOGLE_DISABLED_KEY) => error(
                    403,
                    "PERMISSION_DENIED",
                    "Cloud Text-to-Speech API has not been used in project 123456789 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/texttospeech.googleapis.com/overview?project=123456789 then retry.",
                    "SERVICE_DISABLED",
                ),
                Some(_) => error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"),
            }
        }),
    )
}
