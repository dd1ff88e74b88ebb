//! Viber REST Bot API callbacks.
//!
//! - Proof: `X-Viber-Content-Signature` is the hex HMAC-SHA256 of the body keyed with the
//!   account's authentication token (<https://developers.viber.com/docs/api/rest-bot-api/#callbacks>).
//! - Callbacks: `{"event": "message", "timestamp", "message_token", "sender": {"id", "name"},
//!   "message": {"type": "text" | "picture" | "video" | "file" | "location" | "contact" |
//!   "sticker" | "url", "text", "media", "file_name", "location"}}`; `delivered`, `seen` and
//!   `failed` (with `desc`) about a message sent, by its `message_token`; `webhook` (sent
//!   by set_webhook to check the URL: answered 200), `subscribed`, `unsubscribed`,
//!   `conversation_started` carry no message.
//! - Replies: `POST /pa/send_message` with `X-Viber-Auth-Token` and `{"receiver", "min_api_version",
//!   "sender": {"name"}, "type": "text", "text"}` -> `{"status": 0, "message_token"}`; status
//!   12 is "too many requests", others are refusals
//!   (<https://developers.viber.com/docs/api/rest-bot-api/#send-message>, `#error-codes`).

use patchbay_catalog::keys::messenger::viber;
use patchbay_store::{InboundMessage, MessageStatus, Parsed, StatusUpdate};
use serde_json::{json, Value};

use super::{
    endpoint, header, hmac_matches, id_text, millis, post_json, refused, text, Credentials, Outbound, Refusal, Reply,
    Request, SendError,
};

const SIGNATURE: &str = "x-viber-content-signature";

pub(super) fn verify(account: &Credentials<'_>, request: &Request<'_>) -> Result<(), Refusal> {
    let given = header(request, SIGNATURE)
        .ok_or_else(|| Refusal::missing("the delivery has no X-Viber-Content-Signature header"))?;
    let signature = hex::decode(given).map_err(|_| Refusal::missing("X-Viber-Content-Signature is not hexadecimal"))?;
    let token = account.need(viber::TOKEN, "Token")?;
    if hmac_matches(token, request.body, &signature) {
        Ok(())
    } else {
        Err(Refusal::forbidden("X-Viber-Content-Signature does not match the body and the Token"))
    }
}

pub(super) fn parse(body: &Value) -> Result<Parsed, String> {
    let event = text(body, "event").ok_or("the callback has no `event`")?;
    let at = millis(body.get("timestamp"));
    let mut parsed = Parsed::default();
    let status = match event.as_str() {
        "message" => {
            let sender = body.get("sender").ok_or("the message has no `sender`")?;
            let peer = text(sender, "id").ok_or("the message has no `sender.id`")?;
            let token = id_text(body, "message_token").ok_or("the message has no `message_token`")?;
            let message = body.get("message").ok_or("the callback has no `message`")?;
            let kind = text(message, "type").unwrap_or_else(|| "text".into());
            let attachments = match kind.as_str() {
                "text" => vec![],
                "location" => vec![json!({"type": "location", "location": message.get("location")})],
                "contact" => vec![json!({"type": "contact", "contact": message.get("contact")})],
                other => vec![json!({"type": other, "url": message.get("media"), "name": message.get("file_name")})],
            };
            parsed.messages.push(InboundMessage {
                peer,
                reply_from: None,
                display_name: text(sender, "name"),
                dedup_key: token.clone(),
                vendor_id: Some(token),
                text: text(message, "text"),
                attachments: Value::Array(attachments),
                at,
            });
            return Ok(parsed);
        }
        "delivered" => MessageStatus::Delivered,
        "seen" => MessageStatus::Read,
        "failed" => MessageStatus::Failed,
        _ => return Ok(parsed),
    };
    if let Some(token) = id_text(body, "message_token") {
        let error = (status == MessageStatus::Failed).then(|| text(body, "desc").unwrap_or_else(|| "failed".into()));
        parsed.statuses.push(StatusUpdate { vendor_id: token, status, error, at });
    }
    Ok(parsed)
}

pub(super) async fn send(out: &Outbound<'_>, reply: &Reply<'_>) -> Result<Option<String>, SendError> {
    let token = out
        .account
        .secret(viber::TOKEN)
        .ok_or_else(|| SendError::Permanent("the account has no authentication token (Token)".into()))?;
    let name = out.account.properties.get(viber::BOT_USERNAME).and_then(Value::as_str).unwrap_or("Support");
    let url = endpoint(out, "viber", &["pa", "send_message"])?;
    let body = json!({"receiver": reply.peer, "min_api_version": 1, "sender": {"name": name}, "type": "text", "text": reply.text});
    let answer = post_json(out, &url, &body, |r| r.header("X-Viber-Auth-Token", token)).await?;
    if !(200..300).contains(&answer.status) {
        return Err(refused(out, &answer, None));
    }
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let message = text(&parsed, "status_message").unwrap_or_default();
    match parsed.get("status").and_then(Value::as_i64) {
        Some(0) => Ok(id_text(&parsed, "message_token")),
        Some(12) => Err(SendError::Retry { after: None, error: format!("Viber: too many requests ({message})") }),
        Some(status) => Err(SendError::Permanent(format!("Viber refused the message: status {status} ({message})"))),
        None => Err(SendError::Retry { after: None, error: "the answer is not Viber's (no `status`)".into() }),
    }
}
