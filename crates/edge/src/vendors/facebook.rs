//! Facebook Messenger webhooks.
//!
//! - Verification handshake: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
//!   is answered with the challenge when the token is the one configured
//!   (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests>).
//! - Payloads: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body keyed with the
//!   App Secret>` (<https://developers.facebook.com/docs/messenger-platform/webhooks#validate-payloads>).
//! - Events: `{"object":"page","entry":[{"id","time","messaging":[{"sender":{"id"},
//!   "recipient":{"id"},"timestamp","message":{"mid","text","attachments":[{"type",
//!   "payload":{"url"}}],"is_echo"}}]}]}`; delivery receipts `"delivery":{"mids":[…],
//!   "watermark"}` (<https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages>,
//!   `…/message-deliveries`).
//! - Replies: Send API `POST /me/messages?access_token=<page token>` with
//!   `{"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text"}}` ->
//!   `{"recipient_id", "message_id"}`; errors are Graph error objects, rate limits codes 4,
//!   17, 32, 613 (<https://developers.facebook.com/docs/messenger-platform/reference/send-api/>,
//!   <https://developers.facebook.com/docs/graph-api/guides/error-handling>).

use patchbay_catalog::keys::messenger::facebook;
use patchbay_store::{InboundMessage, MessageStatus, Parsed, StatusUpdate};
use serde_json::{json, Value};

use super::{
    endpoint, header, hmac_matches, millis, post_json, refused, same_secret, text, Credentials, Outbound, Refusal,
    Reply, Request, SendError,
};

const SIGNATURE: &str = "x-hub-signature-256";

pub(super) fn verify(account: &Credentials<'_>, request: &Request<'_>) -> Result<(), Refusal> {
    let given =
        header(request, SIGNATURE).ok_or_else(|| Refusal::missing("the delivery has no X-Hub-Signature-256 header"))?;
    let hex_digits = given
        .strip_prefix("sha256=")
        .ok_or_else(|| Refusal::missing("X-Hub-Signature-256 does not start with sha256="))?;
    let signature = hex::decode(hex_digits).map_err(|_| Refusal::missing("X-Hub-Signature-256 is not hexadecimal"))?;
    let secret = account.need(facebook::APP_SECRET, "App Secret")?;
    if hmac_matches(secret, request.body, &signature) {
        Ok(())
    } else {
        Err(Refusal::forbidden("X-Hub-Signature-256 does not match the body and the App Secret"))
    }
}

pub(super) fn handshake(account: &Credentials<'_>, query: &str) -> Result<String, Refusal> {
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "hub.mode" => mode = Some(value.into_owned()),
            "hub.verify_token" => token = Some(value.into_owned()),
            "hub.challenge" => challenge = Some(value.into_owned()),
            _ => {}
        }
    }
    if mode.as_deref() != Some("subscribe") {
        return Err(Refusal::forbidden("hub.mode is not subscribe"));
    }
    let expected = account.need(facebook::WEBHOOK_VERIFY_TOKEN, "Webhook Verify Token")?;
    match (token, challenge) {
        (Some(token), Some(challenge)) if same_secret(&token, expected) => Ok(challenge),
        (Some(_), Some(_)) => Err(Refusal::forbidden("hub.verify_token is not the account's Webhook Verify Token")),
        _ => Err(Refusal::forbidden("the handshake lacks hub.verify_token or hub.challenge")),
    }
}

pub(super) fn parse(body: &Value) -> Result<Parsed, String> {
    if body.get("object").and_then(Value::as_str) != Some("page") {
        return Err("the delivery is not a page event (`object` is not \"page\")".into());
    }
    let mut parsed = Parsed::default();
    let entries = body.get("entry").and_then(Value::as_array).ok_or("the delivery has no `entry` list")?;
    for event in entries.iter().filter_map(|e| e.get("messaging")?.as_array()).flatten() {
        let Some(sender) = event.get("sender").and_then(|s| text(s, "id")) else { continue };
        let at = millis(event.get("timestamp"));
        if let Some(message) = event.get("message") {
            // Echoes are the page's own sends.
            if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(mid) = text(message, "mid") else { continue };
            let attachments: Vec<Value> = message
                .get("attachments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|a| {
                    json!({
                        "type": a.get("type").and_then(Value::as_str).unwrap_or("file"),
                        "url": a.get("payload").and_then(|p| p.get("url")).cloned().unwrap_or(Value::Null),
                    })
                })
                .collect();
            parsed.messages.push(InboundMessage {
                peer: sender,
                reply_from: None,
                display_name: None,
                dedup_key: mid.clone(),
                vendor_id: Some(mid),
                text: text(message, "text"),
                attachments: Value::Array(attachments),
                at,
            });
        } else if let Some(delivery) = event.get("delivery") {
            let mids = delivery.get("mids").and_then(Value::as_array).into_iter().flatten();
            for mid in mids.filter_map(Value::as_str).map(|m| m.replace('\0', "")) {
                parsed.statuses.push(StatusUpdate {
                    vendor_id: mid,
                    status: MessageStatus::Delivered,
                    error: None,
                    at,
                });
            }
        }
    }
    Ok(parsed)
}

pub(super) async fn send(out: &Outbound<'_>, reply: &Reply<'_>) -> Result<Option<String>, SendError> {
    let token = out
        .account
        .secret(facebook::TOKEN)
        .ok_or_else(|| SendError::Permanent("the account has no page access token (Token)".into()))?;
    let mut url = endpoint(out, "facebook", &["me", "messages"])?;
    url.query_pairs_mut().append_pair("access_token", token);
    let body = json!({"recipient": {"id": reply.peer}, "messaging_type": "RESPONSE", "message": {"text": reply.text}});
    let answer = post_json(out, &url, &body, |r| r).await?;
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if (200..300).contains(&answer.status) {
        return Ok(text(&parsed, "message_id"));
    }
    let error = parsed.get("error");
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64).unwrap_or_default();
    let message = error.and_then(|e| text(e, "message")).map(|m| format!("{m} (code {code})"));
    match code {
        // Rate limits are retried whatever the status.
        4 | 17 | 32 | 613 => Err(SendError::Retry {
            after: None,
            error: format!("Facebook is rate limiting: {}", message.unwrap_or_default()),
        }),
        _ => Err(refused(out, &answer, message)),
    }
}
