//! LINE Messaging API webhooks.
//!
//! - Proof: `X-Line-Signature` is the base64 HMAC-SHA256 of the body keyed with the channel
//!   secret (<https://developers.line.biz/en/reference/messaging-api/#signature-validation>).
//! - Body: `{"destination", "events": [{"type": "message", "message": {"id", "type": "text" |
//!   "image" | "video" | "audio" | "file" | "location" | "sticker", "text", "fileName"},
//!   "webhookEventId", "deliveryContext": {"isRedelivery"}, "timestamp", "source": {"type":
//!   "user" | "group" | "room", "userId", "groupId", "roomId"}, "replyToken"}]}`
//!   (<https://developers.line.biz/en/reference/messaging-api/#webhook-event-objects>). A
//!   redelivered event keeps its `webhookEventId`, which recognises it.
//! - Replies: `POST /v2/bot/message/push` with the channel access token as a bearer token,
//!   `X-Line-Retry-Key: <uuid>` and `{"to", "messages": [{"type": "text", "text"}]}` ->
//!   `{"sentMessages": [{"id"}]}`; the same retry key again is `409` with the first
//!   request's id in `x-line-accepted-request-id`: already sent
//!   (<https://developers.line.biz/en/reference/messaging-api/#send-push-message>,
//!   `#retry-api-request`).

use base64::Engine;
use patchbay_catalog::keys::messenger::line;
use patchbay_store::{InboundMessage, Parsed};
use serde_json::{json, Value};

use super::{
    endpoint, header, hmac_matches, millis, post_json, refused, text, Credentials, Outbound, Refusal, Reply, Request,
    SendError,
};

const SIGNATURE: &str = "x-line-signature";

pub(super) fn verify(account: &Credentials<'_>, request: &Request<'_>) -> Result<(), Refusal> {
    let given =
        header(request, SIGNATURE).ok_or_else(|| Refusal::missing("the delivery has no X-Line-Signature header"))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(given)
        .map_err(|_| Refusal::missing("X-Line-Signature is not base64"))?;
    let secret = account.need(line::CHANNEL_SECRET, "Channel Secret")?;
    if hmac_matches(secret, request.body, &signature) {
        Ok(())
    } else {
        Err(Refusal::forbidden("X-Line-Signature does not match the body and the Channel Secret"))
    }
}

pub(super) fn parse(body: &Value) -> Result<Parsed, String> {
    let events = body.get("events").and_then(Value::as_array).ok_or("the delivery has no `events` list")?;
    let mut parsed = Parsed::default();
    for event in events.iter().filter(|e| e.get("type").and_then(Value::as_str) == Some("message")) {
        let Some(message) = event.get("message") else { continue };
        let Some(id) = text(message, "id") else { continue };
        let source = event.get("source");
        let peer = source.and_then(|s| text(s, "groupId").or_else(|| text(s, "roomId")).or_else(|| text(s, "userId")));
        let Some(peer) = peer else { continue };
        let kind = text(message, "type").unwrap_or_else(|| "text".into());
        let attachments = match kind.as_str() {
            "text" => vec![],
            "location" => vec![
                json!({"type": "location", "latitude": message.get("latitude"), "longitude": message.get("longitude")}),
            ],
            "sticker" => vec![
                json!({"type": "sticker", "package_id": message.get("packageId"), "sticker_id": message.get("stickerId")}),
            ],
            // Content is fetched from LINE by message id.
            other => vec![json!({"type": other, "message_id": id, "name": message.get("fileName")})],
        };
        parsed.messages.push(InboundMessage {
            peer,
            reply_from: None,
            display_name: None,
            dedup_key: text(event, "webhookEventId").unwrap_or_else(|| id.clone()),
            vendor_id: Some(id),
            text: text(message, "text"),
            attachments: Value::Array(attachments),
            at: millis(event.get("timestamp")),
        });
    }
    Ok(parsed)
}

pub(super) async fn send(out: &Outbound<'_>, reply: &Reply<'_>) -> Result<Option<String>, SendError> {
    let token = out
        .account
        .secret(line::TOKEN)
        .ok_or_else(|| SendError::Permanent("the account has no channel access token (Token)".into()))?;
    let url = endpoint(out, "line", &["v2", "bot", "message", "push"])?;
    let body = json!({"to": reply.peer, "messages": [{"type": "text", "text": reply.text}]});
    let key = reply.id.to_string();
    let answer = post_json(out, &url, &body, |r| r.bearer_auth(token).header("X-Line-Retry-Key", key)).await?;
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    match answer.status {
        200..=299 => Ok(parsed
            .get("sentMessages")
            .and_then(Value::as_array)
            .and_then(|sent| sent.first())
            .and_then(|m| text(m, "id"))),
        // An earlier attempt with this retry key was accepted: sent once, not twice.
        409 if answer.headers.contains_key("x-line-accepted-request-id") => Ok(None),
        _ => Err(refused(out, &answer, text(&parsed, "message"))),
    }
}
