//! Vonage (Nexmo) Messages API webhooks.
//!
//! - Proof: signed webhooks carry `Authorization: Bearer <JWT>`, signed HS256 with the
//!   account's signature secret; its `payload_hash` claim is the hex SHA-256 of the body,
//!   and `api_key` names the account
//!   (<https://developer.vonage.com/en/getting-started/concepts/webhooks#validating-signed-webhooks>).
//! - Inbound message: `{"channel": "sms" | "mms" | "whatsapp" | "messenger" | "viber_service",
//!   "message_uuid", "to", "from", "timestamp", "message_type": "text" | "image" | "audio" |
//!   "video" | "file" | …, "text", "image": {"url"}, …, "profile": {"name"}}`; message
//!   status: the same keys with `status` (`submitted`, `delivered`, `read`, `rejected`,
//!   `undeliverable`) and `error` (<https://developer.vonage.com/en/api/messages#webhooks>).
//!   The same number on two channels is two conversations.
//! - Replies: `POST /v1/messages` with the API key and secret as Basic auth and
//!   `{"message_type": "text", "text", "to", "from", "channel"}` -> `202 {"message_uuid"}`;
//!   errors are RFC 7807 problems (`title`, `detail`)
//!   (<https://developer.vonage.com/en/api/messages#SendMessage>).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use patchbay_catalog::keys::messenger::nexmo;
use patchbay_store::{InboundMessage, MessageStatus, Parsed, StatusUpdate};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    endpoint, header, plausible, post_json, refused, same_secret, text, Credentials, Outbound, Refusal, Reply, Request,
    SendError,
};

/// How far in the future a token's `iat` may be (clock skew).
const SKEW_SECONDS: i64 = 300;

#[derive(Deserialize)]
struct Claims {
    iat: Option<i64>,
    payload_hash: Option<String>,
    api_key: Option<String>,
}

pub(super) fn verify(account: &Credentials<'_>, request: &Request<'_>) -> Result<(), Refusal> {
    let bearer = header(request, "authorization")
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| Refusal::missing("the delivery has no Authorization: Bearer token (is Signed Webhooks on?)"))?;
    let secret = account.need(nexmo::SIGNATURE_SECRET, "Signature Secret")?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims =
        jsonwebtoken::decode::<Claims>(bearer.trim(), &DecodingKey::from_secret(secret.as_bytes()), &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    Refusal::forbidden("the token's signature does not match the Signature Secret")
                }
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                    Refusal::forbidden("the token is not signed with HS256")
                }
                _ => Refusal::missing("the Authorization token is not a signed JWT"),
            })?
            .claims;
    let hash = hex::encode(Sha256::digest(request.body));
    match claims.payload_hash {
        Some(given) if same_secret(&given.to_ascii_lowercase(), &hash) => {}
        Some(_) => return Err(Refusal::forbidden("the token's payload_hash is not the SHA-256 of the body")),
        None => return Err(Refusal::missing("the token has no payload_hash claim")),
    }
    if let Some(issued) = claims.iat {
        if issued > Utc::now().timestamp() + SKEW_SECONDS {
            return Err(Refusal::forbidden("the token was issued in the future (iat)"));
        }
    }
    if let (Some(given), Some(key)) = (claims.api_key, account.properties.get(nexmo::KEY).and_then(Value::as_str)) {
        if given != key {
            return Err(Refusal::forbidden("the token's api_key is not the account's Key"));
        }
    }
    Ok(())
}

/// Kinds of message whose content is a file at a URL, under the key of the same name.
const MEDIA: &[&str] = &["image", "audio", "video", "file", "vcard", "sticker"];

pub(super) fn parse(body: &Value) -> Result<Parsed, String> {
    let uuid = text(body, "message_uuid").ok_or("the webhook has no `message_uuid`")?;
    let at = plausible(
        text(body, "timestamp").and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc)),
    );
    let mut parsed = Parsed::default();
    if let Some(status) = text(body, "status") {
        let status = match status.as_str() {
            "submitted" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "read" => MessageStatus::Read,
            "rejected" | "undeliverable" => MessageStatus::Failed,
            _ => return Ok(parsed),
        };
        let error = (status == MessageStatus::Failed).then(|| {
            body.get("error")
                .and_then(|e| text(e, "detail").or_else(|| text(e, "title")))
                .unwrap_or_else(|| "the message could not be delivered".into())
        });
        parsed.statuses.push(StatusUpdate { vendor_id: uuid, status, error, at });
        return Ok(parsed);
    }
    let channel = text(body, "channel").ok_or("the message has no `channel`")?;
    let from = text(body, "from").ok_or("the message has no `from`")?;
    let kind = text(body, "message_type").unwrap_or_else(|| "text".into());
    let attachments: Vec<Value> = MEDIA
        .iter()
        .filter(|k| **k == kind)
        .filter_map(|k| body.get(*k))
        .map(|media| json!({"type": kind, "url": media.get("url"), "name": media.get("name")}))
        .collect();
    parsed.messages.push(InboundMessage {
        peer: format!("{channel}:{from}"),
        reply_from: text(body, "to"),
        display_name: body.get("profile").and_then(|p| text(p, "name")),
        dedup_key: uuid.clone(),
        vendor_id: Some(uuid),
        text: text(body, "text"),
        attachments: Value::Array(attachments),
        at,
    });
    Ok(parsed)
}

pub(super) async fn send(out: &Outbound<'_>, reply: &Reply<'_>) -> Result<Option<String>, SendError> {
    let key = out.account.properties.get(nexmo::KEY).and_then(Value::as_str).unwrap_or_default();
    let secret = out
        .account
        .secret(nexmo::SECRET)
        .ok_or_else(|| SendError::Permanent("the account has no API secret (Secret)".into()))?;
    let (channel, to) = reply
        .peer
        .split_once(':')
        .ok_or_else(|| SendError::Permanent(format!("`{}` is not a Vonage channel and number", reply.peer)))?;
    let from =
        reply.reply_from.ok_or_else(|| SendError::Permanent("the conversation has no number to reply from".into()))?;
    let url = endpoint(out, "nexmo_messages", &["v1", "messages"])?;
    let body = json!({"message_type": "text", "text": reply.text, "to": to, "from": from, "channel": channel});
    let answer = post_json(out, &url, &body, |r| r.basic_auth(key, Some(secret))).await?;
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if (200..300).contains(&answer.status) {
        return Ok(text(&parsed, "message_uuid"));
    }
    let words = match (text(&parsed, "title"), text(&parsed, "detail")) {
        (Some(title), Some(detail)) => Some(format!("{title}: {detail}")),
        (title, detail) => title.or(detail),
    };
    Err(refused(out, &answer, words))
}
