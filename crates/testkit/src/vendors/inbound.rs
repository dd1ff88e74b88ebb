//! Messengers as senders: deliveries built and signed as each vendor documents, sent the
//! way the vendor sends them (again after a failure or a timeout; LINE marks a
//! redelivery), for the messenger edge's tests and bench.
//!
//! - Facebook: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`
//!   <https://developers.facebook.com/docs/messenger-platform/webhooks#validate-payloads>;
//!   failed deliveries are retried.
//! - Telegram: `X-Telegram-Bot-Api-Secret-Token` <https://core.telegram.org/bots/api#setwebhook>;
//!   "in case of an unsuccessful request, we will give up after a reasonable amount of attempts".
//! - Viber: `X-Viber-Content-Signature: <hex HMAC-SHA256(auth token, body)>`
//!   <https://developers.viber.com/docs/api/rest-bot-api/#callbacks>.
//! - LINE: `X-Line-Signature: <base64 HMAC-SHA256(channel secret, body)>`; a redelivered
//!   event has `deliveryContext.isRedelivery: true` and its `webhookEventId` unchanged
//!   <https://developers.line.biz/en/reference/messaging-api/#webhook-event-objects>,
//!   `#signature-validation`, and "Redelivering webhooks" in the Messaging API docs.
//! - Vonage: `Authorization: Bearer <JWT HS256(signature secret)>` with `payload_hash`,
//!   `iat`, `jti`, `iss: "Vonage"`, `api_key`
//!   <https://developer.vonage.com/en/getting-started/concepts/webhooks#validating-signed-webhooks>.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A messenger with the secret it signs deliveries with.
#[derive(Debug, Clone)]
pub enum Messenger {
    Facebook { app_secret: String },
    Telegram { secret_token: String },
    Viber { token: String },
    Line { channel_secret: String },
    Vonage { signature_secret: String, api_key: String },
}

fn hmac_sha256(key: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

impl Messenger {
    /// The headers proving `body` comes from this messenger.
    pub fn sign(&self, body: &[u8]) -> Vec<(String, String)> {
        match self {
            Messenger::Facebook { app_secret } => {
                vec![("X-Hub-Signature-256".into(), format!("sha256={}", hex::encode(hmac_sha256(app_secret, body))))]
            }
            Messenger::Telegram { secret_token } => {
                vec![("X-Telegram-Bot-Api-Secret-Token".into(), secret_token.clone())]
            }
            Messenger::Viber { token } => {
                vec![("X-Viber-Content-Signature".into(), hex::encode(hmac_sha256(token, body)))]
            }
            Messenger::Line { channel_secret } => vec![(
                "X-Line-Signature".into(),
                base64::engine::general_purpose::STANDARD.encode(hmac_sha256(channel_secret, body)),
            )],
            Messenger::Vonage { signature_secret, api_key } => {
                let claims = json!({
                    "iat": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs(),
                    "jti": uuid::Uuid::new_v4().to_string(),
                    "iss": "Vonage",
                    "payload_hash": hex::encode(Sha256::digest(body)),
                    "api_key": api_key,
                    "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
                });
                let token = jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                    &claims,
                    &jsonwebtoken::EncodingKey::from_secret(signature_secret.as_bytes()),
                )
                .expect("HS256 signs");
                vec![("Authorization".into(), format!("Bearer {token}"))]
            }
        }
    }

    /// `payload` as this messenger sends it again after a failed attempt (LINE marks it).
    fn redelivered(&self, payload: &Value) -> Value {
        let mut payload = payload.clone();
        if let (Messenger::Line { .. }, Some(events)) = (self, payload.get_mut("events").and_then(Value::as_array_mut))
        {
            for event in events {
                event["deliveryContext"] = json!({"isRedelivery": true});
            }
        }
        payload
    }
}

/// How a messenger sends: attempts and the time it waits for each answer.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub attempts: u32,
    pub timeout: Duration,
    pub backoff: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { attempts: 3, timeout: Duration::from_secs(5), backoff: Duration::from_millis(50) }
    }
}

/// What one attempt got: the status, or `None` when it timed out or failed to connect.
pub type Attempt = Option<u16>;

/// Sends `payload` to `url` as `messenger`: again (re-signed, re-marked) after a non-2xx
/// answer or a timeout, up to the policy's attempts. Returns every attempt's outcome.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    messenger: &Messenger,
    payload: &Value,
    policy: Policy,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut body = payload.clone();
    for attempt in 0..policy.attempts {
        if attempt > 0 {
            tokio::time::sleep(policy.backoff).await;
            body = messenger.redelivered(&body);
        }
        let bytes = serde_json::to_vec(&body).expect("JSON");
        let outcome = send_raw(client, url, messenger.sign(&bytes), &bytes, policy.timeout).await;
        attempts.push(outcome);
        if outcome.is_some_and(|s| (200..300).contains(&s)) {
            break;
        }
    }
    attempts
}

/// One POST of `body` with `headers` as JSON; its status, or `None` on a timeout.
pub async fn send_raw(
    client: &reqwest::Client,
    url: &str,
    headers: Vec<(String, String)>,
    body: &[u8],
    timeout: Duration,
) -> Attempt {
    let mut request = client.post(url).timeout(timeout).header("Content-Type", "application/json").body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.ok().map(|r| r.status().as_u16())
}

/// A customer's text message to a Facebook page.
/// <https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages>
pub fn facebook_message(page_id: &str, psid: &str, mid: &str, text: &str) -> Value {
    json!({"object": "page", "entry": [{"id": page_id, "time": 1_700_000_000_000_i64, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": 1_700_000_000_000_i64,
        "message": {"mid": mid, "text": text},
    }]}]})
}

/// Facebook's receipt that page messages were delivered.
/// <https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/message-deliveries>
pub fn facebook_delivery(page_id: &str, psid: &str, mids: &[&str]) -> Value {
    json!({"object": "page", "entry": [{"id": page_id, "time": 1_700_000_000_000_i64, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page_id},
        "delivery": {"mids": mids, "watermark": 1_700_000_000_000_i64},
    }]}]})
}

/// A private chat's text message to a bot. <https://core.telegram.org/bots/api#update>
pub fn telegram_message(update_id: i64, chat_id: i64, first_name: &str, text: &str) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id % 100_000, "date": 1_700_000_000,
        "from": {"id": chat_id, "is_bot": false, "first_name": first_name},
        "chat": {"id": chat_id, "type": "private", "first_name": first_name},
        "text": text,
    }})
}

/// A Viber user's text message. <https://developers.viber.com/docs/api/rest-bot-api/#receive-message-from-user>
pub fn viber_message(message_token: i64, sender_id: &str, name: &str, text: &str) -> Value {
    json!({"event": "message", "timestamp": 1_700_000_000_000_i64, "message_token": message_token,
        "sender": {"id": sender_id, "name": name, "language": "en", "country": "GB", "api_version": 1},
        "message": {"type": "text", "text": text}})
}

/// Viber's callback about a message the account sent (`delivered`, `seen`, `failed`).
pub fn viber_status(event: &str, message_token: i64, user_id: &str) -> Value {
    json!({"event": event, "timestamp": 1_700_000_000_000_i64, "message_token": message_token, "user_id": user_id})
}

/// Viber's check of a new webhook URL, sent by set_webhook.
pub fn viber_webhook_check() -> Value {
    json!({"event": "webhook", "timestamp": 1_700_000_000_000_i64, "chat_hostname": "SN-376_", "message_token": 5_000_000_000_i64})
}

/// A LINE user's text message. <https://developers.line.biz/en/reference/messaging-api/#message-event>
pub fn line_message(event_id: &str, user_id: &str, message_id: &str, text: &str) -> Value {
    json!({"destination": "Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0", "events": [{
        "type": "message", "mode": "active", "timestamp": 1_700_000_000_000_i64,
        "source": {"type": "user", "userId": user_id}, "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": false}, "replyToken": "757913772c4646b784d4b7ce46d12671",
        "message": {"id": message_id, "type": "text", "quoteToken": "q3Plxr4AgKd", "text": text},
    }]})
}

/// An inbound message of the Vonage Messages API. <https://developer.vonage.com/en/api/messages#inbound-message>
pub fn vonage_message(uuid: &str, channel: &str, from: &str, to: &str, name: &str, text: &str) -> Value {
    json!({"channel": channel, "message_uuid": uuid, "to": to, "from": from,
        "timestamp": "2023-11-14T22:13:20Z", "message_type": "text", "text": text, "profile": {"name": name}})
}

/// A message status of the Vonage Messages API. <https://developer.vonage.com/en/api/messages#message-status>
pub fn vonage_status(uuid: &str, status: &str, channel: &str, from: &str, to: &str) -> Value {
    json!({"message_uuid": uuid, "to": to, "from": from, "timestamp": "2023-11-14T22:13:21Z",
        "status": status, "channel": channel})
}
