//! Messengers (Facebook Messenger, LINE, Nexmo, Telegram, Viber), chat bots (Alterra, Watson
//! Conversation), Watson Natural Language Understanding and text to speech (Watson, Google).
//! Each test is the cheapest authenticated read the vendor's public API documents, then a
//! check that the answer is about the configured target (page, bot, workspace, voice).
//!
//! Secrets travel only where the vendor requires them (headers, Basic auth, the query string
//! for Graph and Google, the path for Telegram) and never into a step, a failure or a log:
//! shown URLs drop the query, Telegram's token path is scrubbed to `bot[secret]` by the test run, and any text a
//! vendor sends back is scrubbed of the account's secrets before it is quoted.

mod bots;
mod messengers;

pub use messengers::telegram_webhook_secret;
mod speech;

use std::sync::Arc;

use serde_json::Value;
use url::Url;

use crate::{Category, Connector, Context, Failure};

pub(crate) fn connectors() -> Vec<Arc<dyn Connector>> {
    vec![
        Arc::new(messengers::Facebook),
        Arc::new(messengers::Line),
        Arc::new(messengers::Nexmo),
        Arc::new(messengers::Telegram),
        Arc::new(messengers::Viber),
        Arc::new(bots::Alterra),
        Arc::new(bots::WatsonConversation),
        Arc::new(bots::WatsonNlu),
        Arc::new(speech::WatsonTts),
        Arc::new(speech::GoogleTts),
    ]
}

/// Longest vendor text quoted in a message.
const MAX_QUOTE: usize = 300;

/// Text a vendor sent (an error description, a status message), fit to quote: the account's
/// secrets replaced, control characters dropped, length capped.
fn quote(cx: &Context<'_>, text: &str) -> String {
    let text = cx.account.scrubber().scrub(text);
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(MAX_QUOTE).collect();
    if text.chars().count() > MAX_QUOTE {
        out.push('…');
    }
    out
}

/// `path` under the base URL of a vendor without a URL property.
fn vendor_url(cx: &Context<'_>, vendor: &str, path: &str) -> Result<Url, Failure> {
    cx.vendors
        .get(vendor)
        .join(path)
        .map_err(|e| Failure::new(Category::InvalidConfig, format!("the {vendor} base URL cannot take `{path}`: {e}")))
}

/// A URL property as a base that relative paths extend (a trailing `/` added when missing).
fn base_url(cx: &Context<'_>, key: &str) -> Result<Url, Failure> {
    let mut url = account_url(cx, key)?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// A URL property, parsed.
fn account_url(cx: &Context<'_>, key: &str) -> Result<Url, Failure> {
    let raw = cx.account.need_text(key)?;
    Url::parse(raw).map_err(|e| Failure::new(Category::InvalidConfig, format!("`{key}` is not a valid URL: {e}")))
}

/// The account's inbound webhook under `base` (the public URL, or Viber's host and port).
fn hook_url(cx: &Context<'_>, base: &Url) -> Result<Url, Failure> {
    let hook = cx.hook_id.ok_or_else(|| {
        Failure::new(Category::InvalidConfig, "save the account first: its webhook URL is made when it is saved")
    })?;
    crate::inbound_webhook_url(base, hook)
        .ok_or_else(|| Failure::new(Category::InvalidConfig, format!("{base} cannot be a webhook base URL")))
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// An id that vendors send as a string or a number.
fn id_text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
