//! A local stand-in for the vendor APIs behind the screen's actions, answering in each
//! vendor's documented shape:
//! - Google Cloud Text-to-Speech `GET /v1/voices`
//!   (<https://cloud.google.com/text-to-speech/docs/reference/rest/v1/voices/list>);
//! - Viber `POST /pa/set_webhook` and `POST /pa/get_account_info`, which reads the webhook
//!   back (<https://developers.viber.com/docs/api/rest-bot-api/#setting-a-webhook>,
//!   `#get-account-info`).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const VIBER_BOT: &str = "acmebot";

type Webhook = Arc<Mutex<Option<String>>>;

/// The peer, served on loopback until dropped.
pub struct VendorPeer {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl VendorPeer {
    pub async fn start() -> VendorPeer {
        let webhook: Webhook = Arc::default();
        let app = Router::new()
            .route("/v1/voices", get(voices))
            .route("/pa/set_webhook", post(set_webhook))
            .route("/pa/get_account_info", post(account_info))
            .with_state(webhook);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the vendor peer");
        let base = format!("http://{}/", listener.local_addr().expect("peer address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the vendor peer serves");
        });
        VendorPeer { base, task }
    }
}

impl Drop for VendorPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn voices() -> Json<Value> {
    Json(json!({"voices": [
        {"languageCodes": ["en-US"], "name": "en-US-Standard-A", "ssmlGender": "FEMALE", "naturalSampleRateHertz": 24000},
        {"languageCodes": ["de-DE"], "name": "de-DE-Standard-B", "ssmlGender": "MALE", "naturalSampleRateHertz": 24000},
    ]}))
}

async fn set_webhook(State(webhook): State<Webhook>, Json(body): Json<Value>) -> Json<Value> {
    *webhook.lock().unwrap() = body["url"].as_str().map(str::to_owned);
    Json(
        json!({"status": 0, "status_message": "ok", "event_types": ["delivered", "seen", "failed", "conversation_started"]}),
    )
}

async fn account_info(State(webhook): State<Webhook>) -> Json<Value> {
    let hook = webhook.lock().unwrap().clone();
    Json(json!({
        "status": 0, "status_message": "ok", "id": "pa:75346594275468546724",
        "name": VIBER_BOT, "uri": VIBER_BOT, "webhook": hook,
        "event_types": ["delivered", "seen", "failed", "conversation_started"],
    }))
}
