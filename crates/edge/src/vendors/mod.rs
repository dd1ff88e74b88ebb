//! One module per messenger: how its deliveries prove that they come from the vendor, and
//! how a delivery reads into messages and status updates. Each module cites the vendor's
//! documentation of both.

mod facebook;
mod line;
mod telegram;
mod viber;
mod vonage;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use patchbay_connectors::{Category, Egress, Failure, HttpReply, Scrubber, VendorUrls};
use patchbay_secrets::SecretString;
use patchbay_store::Parsed;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The messengers whose deliveries the edge takes: one per catalog provider that declares
/// `inbound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Facebook,
    Line,
    Nexmo,
    Telegram,
    Viber,
}

/// What a vendor's delivery carries, as the proof check sees it.
pub struct Request<'a> {
    pub headers: &'a http::HeaderMap,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
}

/// What the proof check needs of the account.
pub struct Credentials<'a> {
    pub account_id: uuid::Uuid,
    /// The account's non-secret properties.
    pub properties: &'a serde_json::Map<String, Value>,
    /// The account's opened secrets.
    pub secrets: &'a BTreeMap<String, SecretString>,
}

impl Credentials<'_> {
    pub(crate) fn secret(&self, key: &str) -> Option<&str> {
        self.secrets.get(key).map(SecretString::expose).filter(|s| !s.is_empty())
    }

    /// The secret the proof is checked with, or a refusal saying which field to set.
    fn need(&self, key: &str, label: &str) -> Result<&str, Refusal> {
        self.secret(key).ok_or_else(|| {
            Refusal::forbidden(format!("the account has no {label} to verify deliveries with; set it on the account"))
        })
    }
}

/// A delivery refused before anything was kept: the status the vendor gets and why (never
/// a secret or a body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    /// The proof is missing or malformed.
    fn missing(reason: impl Into<String>) -> Refusal {
        Refusal { status: 401, reason: reason.into() }
    }

    /// The proof does not match, or cannot be checked.
    fn forbidden(reason: impl Into<String>) -> Refusal {
        Refusal { status: 403, reason: reason.into() }
    }
}

impl Channel {
    pub const ALL: [Channel; 5] = [Channel::Facebook, Channel::Line, Channel::Nexmo, Channel::Telegram, Channel::Viber];

    /// The channel of a messenger provider key.
    pub fn of(provider: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.provider() == provider)
    }

    /// The catalog's provider key, which events call the `channel`.
    pub fn provider(self) -> &'static str {
        match self {
            Channel::Facebook => "facebook",
            Channel::Line => "line",
            Channel::Nexmo => "nexmo",
            Channel::Telegram => "telegram",
            Channel::Viber => "viber",
        }
    }

    /// Checks the delivery's proof against the raw body, in constant time.
    pub fn verify(self, account: &Credentials<'_>, request: &Request<'_>) -> Result<(), Refusal> {
        match self {
            Channel::Facebook => facebook::verify(account, request),
            Channel::Line => line::verify(account, request),
            Channel::Nexmo => vonage::verify(account, request),
            Channel::Telegram => telegram::verify(account, request),
            Channel::Viber => viber::verify(account, request),
        }
    }

    /// Answers a `GET` of the webhook: Facebook's subscription handshake; the others never
    /// send one.
    pub fn handshake(self, account: &Credentials<'_>, query: &str) -> Result<String, Refusal> {
        match self {
            Channel::Facebook => facebook::handshake(account, query),
            _ => Err(Refusal { status: 405, reason: format!("{} never sends a GET", self.provider()) }),
        }
    }

    /// Reads a kept delivery. An error says why nothing could be read.
    pub fn parse(self, body: &[u8]) -> Result<Parsed, String> {
        let body: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        match self {
            Channel::Facebook => facebook::parse(&body),
            Channel::Line => line::parse(&body),
            Channel::Nexmo => vonage::parse(&body),
            Channel::Telegram => telegram::parse(&body),
            Channel::Viber => viber::parse(&body),
        }
    }

    /// The body of the 200 that acknowledges a kept delivery.
    pub fn ack(self) -> &'static str {
        match self {
            // "Your webhook should respond with a 200 OK status and the EVENT_RECEIVED text."
            Channel::Facebook => "EVENT_RECEIVED",
            _ => "",
        }
    }
}

/// What sending a reply needs.
pub(crate) struct Outbound<'a> {
    pub egress: &'a Egress,
    pub vendors: &'a VendorUrls,
    pub timeout: Duration,
    pub account: &'a Credentials<'a>,
    /// Scrubs the account's secrets from whatever the vendor says.
    pub scrubber: &'a Scrubber,
}

/// A reply to send.
pub(crate) struct Reply<'a> {
    /// The conversation's customer (or chat) as the vendor names them.
    pub peer: &'a str,
    /// Where it is sent from (Vonage: the number the customer wrote to).
    pub reply_from: Option<&'a str>,
    pub text: &'a str,
    /// patchbay's id of the message: the vendor's idempotency key where it takes one (LINE).
    pub id: uuid::Uuid,
}

/// Why a reply was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendError {
    /// Worth another try: the vendor was busy (429), failed (5xx), or did not answer.
    Retry { after: Option<Duration>, error: String },
    /// Another try would fail the same way (credentials, a blocked customer, a bad request).
    Permanent(String),
}

impl Channel {
    /// Sends a reply through the vendor's API; the vendor's id of the message when it
    /// gives one.
    pub(crate) async fn send(self, out: &Outbound<'_>, reply: &Reply<'_>) -> Result<Option<String>, SendError> {
        match self {
            Channel::Facebook => facebook::send(out, reply).await,
            Channel::Line => line::send(out, reply).await,
            Channel::Nexmo => vonage::send(out, reply).await,
            Channel::Telegram => telegram::send(out, reply).await,
            Channel::Viber => viber::send(out, reply).await,
        }
    }
}

/// A call that did not get an answer: worth another try unless the egress policy refused
/// it or the account's configuration is wrong.
fn unanswered(out: &Outbound<'_>, failure: Failure) -> SendError {
    let error = out.scrubber.scrub(&failure.message);
    match failure.category {
        Category::Blocked | Category::InvalidConfig => SendError::Permanent(error),
        _ => SendError::Retry { after: None, error },
    }
}

/// Sends one JSON request and reads the answer (a send error when there was none).
async fn post_json(
    out: &Outbound<'_>,
    url: &url::Url,
    body: &Value,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<HttpReply, SendError> {
    out.egress
        .call(reqwest::Method::POST, url, out.timeout, |r| build(r.json(body)))
        .await
        .map_err(|f| unanswered(out, f))
}

/// The answer's status as a send error: 429 and 5xx are retried (after `Retry-After` when
/// given), other statuses are permanent; `what` is the vendor's own word on it, scrubbed.
fn refused(out: &Outbound<'_>, reply: &HttpReply, what: Option<String>) -> SendError {
    let words = what.map(|w| out.scrubber.scrub(&w)).map(|w| format!(": {}", clip(&w))).unwrap_or_default();
    let error = format!("the vendor answered HTTP {}{words}", reply.status);
    match reply.status {
        429 | 500..=599 => SendError::Retry { after: retry_after(reply), error },
        _ => SendError::Permanent(error),
    }
}

/// `Retry-After` in seconds, when the answer has one.
fn retry_after(reply: &HttpReply) -> Option<Duration> {
    reply
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Vendor text, at most 300 characters.
fn clip(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The vendor's base URL with `segments` appended to its path (each escaped as one segment).
fn endpoint(out: &Outbound<'_>, vendor: &str, segments: &[&str]) -> Result<url::Url, SendError> {
    let mut url = out.vendors.get(vendor).clone();
    url.path_segments_mut()
        .map_err(|()| SendError::Permanent(format!("the {vendor} API URL cannot take a path")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The value of header `name`, if it is there and readable.
fn header<'a>(request: &'a Request<'_>, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Whether `signature` is the HMAC-SHA256 of `body` under `key` (compared in constant time).
fn hmac_matches(key: &str, body: &[u8], signature: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

/// Whether two secrets are equal, compared in constant time.
fn same_secret(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// A string of the delivery, without NUL characters (JSON may carry `\u0000`, which no
/// PostgreSQL text holds: one such message would otherwise stop the inbox).
fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(|s| s.replace('\0', "")).filter(|s| !s.is_empty())
}

/// An id that vendors send as a string or a number.
fn id_text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.replace('\0', "")).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A time in milliseconds since the epoch, or now.
fn millis(value: Option<&Value>) -> DateTime<Utc> {
    plausible(value.and_then(Value::as_i64).and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
}

/// A vendor's time of a message when it is plausible (from 2000 to a day ahead), else now:
/// every database keeps it, and a wild clock cannot sort a message far away.
fn plausible(at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = Utc::now();
    let earliest = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
    match (at, earliest) {
        (Some(at), Some(earliest)) if at >= earliest && at <= now + chrono::Duration::days(1) => at,
        _ => now,
    }
}
