//! Telegram Bot API webhooks.
//!
//! - Proof: `X-Telegram-Bot-Api-Secret-Token` carries the `secret_token` given to
//!   `setWebhook` (<https://core.telegram.org/bots/api#setwebhook>); patchbay derives it
//!   from the account and its bot token (`telegram_webhook_secret`), so there is nothing
//!   more to store.
//! - Updates: `{"update_id", "message": {"message_id", "from": {"id", "first_name",
//!   "last_name", "username"}, "chat": {"id", "type"}, "date", "text" | "caption", "photo":
//!   [PhotoSize], "document", "voice", "audio", "video", "sticker", "location"}}`
//!   (<https://core.telegram.org/bots/api#update>, `#message`). Telegram sends an update
//!   again until it gets a 2xx; `update_id` recognises it.
//! - Replies: `POST /bot<token>/sendMessage` `{"chat_id", "text"}` -> `{"ok": true,
//!   "result": {"message_id"}}`; a 429 says `parameters.retry_after` in seconds
//!   (<https://core.telegram.org/bots/api#sendmessage>, `#responseparameters`).

use chrono::{TimeZone, Utc};
use patchbay_catalog::keys::messenger::telegram;
use patchbay_connectors::telegram_webhook_secret;
use patchbay_store::{InboundMessage, Parsed};
use serde_json::{json, Value};

use super::{
    endpoint, header, id_text, plausible, post_json, refused, same_secret, text, Credentials, Outbound, Refusal, Reply,
    Request, SendError,
};

const SECRET_TOKEN: &str = "x-telegram-bot-api-secret-token";

pub(super) fn verify(account: &Credentials<'_>, request: &Request<'_>) -> Result<(), Refusal> {
    let given = header(request, SECRET_TOKEN)
        .ok_or_else(|| Refusal::missing("the delivery has no X-Telegram-Bot-Api-Secret-Token header"))?;
    let token = account.need(telegram::TOKEN, "Token")?;
    if same_secret(given, &telegram_webhook_secret(&account.account_id.to_string(), token)) {
        Ok(())
    } else {
        Err(Refusal::forbidden(
            "X-Telegram-Bot-Api-Secret-Token is not the secret set with Set Webhook; run Set Webhook again",
        ))
    }
}

/// Attachment kinds of a message, each a file Telegram keeps (referenced by `file_id`).
const FILES: &[&str] = &["document", "voice", "audio", "video", "video_note", "animation", "sticker"];

pub(super) fn parse(body: &Value) -> Result<Parsed, String> {
    let update = id_text(body, "update_id").ok_or("the update has no `update_id`")?;
    let mut parsed = Parsed::default();
    let Some(message) = body.get("message") else {
        // Edits, channel posts, callbacks and the like carry no new customer message.
        return Ok(parsed);
    };
    let chat = message.get("chat").and_then(|c| id_text(c, "id")).ok_or("the message has no `chat.id`")?;
    let from = message.get("from");
    let name = from.and_then(|f| {
        let full = [text(f, "first_name"), text(f, "last_name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if full.is_empty() {
            text(f, "username")
        } else {
            Some(full)
        }
    });
    let mut attachments = Vec::new();
    // `photo` lists sizes of one picture, smallest first: the last is the original.
    if let Some(photo) = message.get("photo").and_then(Value::as_array).and_then(|sizes| sizes.last()) {
        attachments.push(json!({"type": "image", "file_id": photo.get("file_id")}));
    }
    for kind in FILES {
        if let Some(file) = message.get(*kind) {
            attachments.push(json!({
                "type": kind,
                "file_id": file.get("file_id"),
                "name": file.get("file_name"),
                "mime_type": file.get("mime_type"),
            }));
        }
    }
    if let Some(location) = message.get("location") {
        attachments.push(
            json!({"type": "location", "latitude": location.get("latitude"), "longitude": location.get("longitude")}),
        );
    }
    let at = plausible(message.get("date").and_then(Value::as_i64).and_then(|s| Utc.timestamp_opt(s, 0).single()));
    parsed.messages.push(InboundMessage {
        peer: chat,
        reply_from: None,
        display_name: name,
        dedup_key: update,
        vendor_id: id_text(message, "message_id"),
        text: text(message, "text").or_else(|| text(message, "caption")),
        attachments: Value::Array(attachments),
        at,
    });
    Ok(parsed)
}

pub(super) async fn send(out: &Outbound<'_>, reply: &Reply<'_>) -> Result<Option<String>, SendError> {
    let token = out
        .account
        .secret(telegram::TOKEN)
        .ok_or_else(|| SendError::Permanent("the account has no bot token (Token)".into()))?;
    let url = endpoint(out, "telegram", &[&format!("bot{token}"), "sendMessage"])?;
    let body = json!({"chat_id": reply.peer, "text": reply.text});
    let answer = post_json(out, &url, &body, |r| r).await?;
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if parsed.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(parsed.get("result").and_then(|r| id_text(r, "message_id")));
    }
    let description = text(&parsed, "description");
    let after = parsed
        .get("parameters")
        .and_then(|p| p.get("retry_after"))
        .and_then(Value::as_u64)
        .map(std::time::Duration::from_secs);
    match refused(out, &answer, description) {
        SendError::Retry { after: header, error } => Err(SendError::Retry { after: after.or(header), error }),
        permanent => Err(permanent),
    }
}
