//! The vendor calls of the gateway's operations, each following its vendor's documented
//! API, through the egress policy's pooled client. A vendor's answer becomes a typed value
//! or a `GatewayError::Vendor` with the category a user can act on; text a vendor sends
//! back is scrubbed of the account's secrets before it goes anywhere.

use std::time::Duration;

use patchbay_api::{SentimentLabel, Suggestion};
use patchbay_catalog::keys::{chat_bot, next_caller, nlu, tdg};
use patchbay_connectors::egress::classify;
use patchbay_connectors::{AccountConfig, Category, Egress, Failure, HttpReply, VendorUrls};
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::Method;
use serde_json::{json, Map, Value};
use url::Url;

use crate::GatewayError;

/// What a vendor call needs: the egress, the account with its secrets, the timeout.
pub(crate) struct Call<'a> {
    pub egress: &'a Egress,
    pub account: &'a AccountConfig,
    pub vendors: &'a VendorUrls,
    pub timeout: Duration,
}

pub(crate) const JSON: &str = "application/json";

/// Largest answer read whole beyond a JSON answer's cap (base64 audio).
const LARGE_BODY: usize = 32 * 1024 * 1024;

impl Call<'_> {
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<HttpReply, GatewayError> {
        self.egress
            .call(method, url, self.timeout, build)
            .await
            .map_err(|f| GatewayError::from_failure(self.scrubbed(f)))
    }

    /// Sends a request and returns once the answer's headers are in, for bodies streamed on
    /// (audio) or larger than a JSON answer.
    pub(crate) async fn stream(
        &self,
        method: Method,
        url: &Url,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, GatewayError> {
        let request = self.egress.request(method, url).map_err(|why| {
            let category = if why.contains("refuses") { Category::Blocked } else { Category::InvalidConfig };
            GatewayError::from_failure(self.scrubbed(Failure::new(category, why)))
        })?;
        match tokio::time::timeout(self.timeout, build(request).send()).await {
            Err(_) => Err(GatewayError::Vendor {
                failure: Failure::new(Category::Timeout, format!("no answer within {} ms", self.timeout.as_millis())),
                status: None,
                retry_after: None,
            }),
            Ok(Err(e)) => Err(GatewayError::from_failure(self.scrubbed(classify(&e, self.timeout)))),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// The rest of an answer read whole, up to `LARGE_BODY` bytes (a vendor error, or audio
    /// in JSON).
    pub(crate) async fn read_rest(&self, mut response: reqwest::Response) -> Result<HttpReply, GatewayError> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout(self.timeout, response.chunk()).await {
                Err(_) => return Err(self.stalled()),
                Ok(Err(e)) => return Err(GatewayError::from_failure(self.scrubbed(classify(&e, self.timeout)))),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    if body.len() + chunk.len() > LARGE_BODY {
                        return Err(GatewayError::Vendor {
                            failure: Failure::new(
                                Category::UnexpectedResponse,
                                format!("the vendor's answer is larger than {} MiB", LARGE_BODY / (1024 * 1024)),
                            ),
                            status: Some(status),
                            retry_after: None,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
        Ok(HttpReply { status, headers, body })
    }

    /// A request whose answer may be larger than a JSON answer, read whole.
    pub(crate) async fn send_large(
        &self,
        method: Method,
        url: &Url,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<HttpReply, GatewayError> {
        let response = self.stream(method, url, build).await?;
        self.read_rest(response).await
    }

    /// The body of an answer as a stream; a pause longer than the timeout between two
    /// chunks ends it with an error.
    pub(crate) fn body_stream(&self, response: reqwest::Response) -> crate::speech::AudioStream {
        let timeout = self.timeout;
        Box::pin(futures::stream::unfold(Some(response), move |response| async move {
            let mut response = response?;
            match tokio::time::timeout(timeout, response.chunk()).await {
                Err(_) => Some((Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the vendor stalled")), None)),
                Ok(Err(e)) => Some((
                    Err(std::io::Error::other(format!(
                        "the vendor's answer broke off: {}",
                        classify(&e, timeout).message
                    ))),
                    None,
                )),
                Ok(Ok(None)) => None,
                Ok(Ok(Some(chunk))) => Some((Ok(chunk), Some(response))),
            }
        }))
    }

    fn stalled(&self) -> GatewayError {
        GatewayError::Vendor {
            failure: Failure::new(Category::Timeout, format!("the answer stalled for {} ms", self.timeout.as_millis())),
            status: None,
            retry_after: None,
        }
    }

    pub(crate) fn scrubbed(&self, failure: Failure) -> Failure {
        Failure::new(failure.category, self.account.scrubber().scrub(&failure.message))
    }

    /// A vendor's error answer as a failure, naming `what` was asked for, with the vendor's
    /// own words (`said`) when it gave some.
    pub(crate) fn refused(&self, reply: &HttpReply, what: &str, said: Option<&str>) -> GatewayError {
        let said = said.map(|s| format!(": {}", clip(&self.account.scrubber().scrub(s)))).unwrap_or_default();
        let status = reply.status;
        let (category, message) = match status {
            401 => {
                (Category::InvalidCredentials, format!("the vendor refused the account's credentials (HTTP 401{said})"))
            }
            403 => (Category::Permission, format!("the credentials lack permission (HTTP 403{said})")),
            404 => (Category::NotFound, format!("the {what} was not found (HTTP 404{said}); check the account")),
            429 => (Category::RateLimited, format!("the vendor is limiting the rate of calls (HTTP 429{said})")),
            500..=599 => (Category::VendorError, format!("the vendor failed (HTTP {status}{said})")),
            _ => (Category::UnexpectedResponse, format!("the vendor refused the call (HTTP {status}{said})")),
        };
        GatewayError::Vendor {
            failure: Failure::new(category, message),
            status: Some(status),
            retry_after: retry_after(reply),
        }
    }

    /// A refusal whose category the vendor's body says (an OAuth error, say), with its words.
    pub(crate) fn refused_as(&self, reply: &HttpReply, category: Category, what: &str, said: &str) -> GatewayError {
        let said = clip(&self.account.scrubber().scrub(said));
        GatewayError::Vendor {
            failure: Failure::new(category, format!("the vendor refused the {what} (HTTP {}): {said}", reply.status)),
            status: Some(reply.status),
            retry_after: retry_after(reply),
        }
    }

    /// The account's settings cannot be used as they are.
    pub(crate) fn invalid(&self, message: String) -> GatewayError {
        GatewayError::from_failure(Failure::new(Category::InvalidConfig, message))
    }

    /// An answer that is not what the vendor documents.
    pub(crate) fn garbled(&self, reply: &HttpReply, what: &str) -> GatewayError {
        GatewayError::Vendor {
            failure: Failure::new(
                Category::UnexpectedResponse,
                format!("the vendor's answer (HTTP {}) is not {what}; check the account's URL", reply.status),
            ),
            status: Some(reply.status),
            retry_after: None,
        }
    }

    pub(crate) fn text(&self, key: &str) -> Result<&str, GatewayError> {
        self.account.need_text(key).map_err(GatewayError::from_failure)
    }

    pub(crate) fn secret(&self, key: &str) -> Result<&str, GatewayError> {
        self.account.need_secret(key).map_err(GatewayError::from_failure)
    }

    fn url(&self, key: &str) -> Result<Url, GatewayError> {
        let text = self.text(key)?;
        Url::parse(text).map_err(|e| {
            GatewayError::from_failure(Failure::new(Category::InvalidConfig, format!("`{key}` is not a URL: {e}")))
        })
    }
}

/// A vendor's words shortened for a message (after scrubbing: a cut through a secret would
/// leave a part the scrubber no longer knows).
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// `Retry-After` in seconds (the delta form; an HTTP date is read as "a minute").
fn retry_after(reply: &HttpReply) -> Option<u64> {
    let value = reply.headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    Some(value.parse::<u64>().unwrap_or(60))
}

pub(crate) fn json_of(reply: &HttpReply) -> Option<Value> {
    serde_json::from_slice(&reply.body).ok()
}

/// The `error` text of an IBM Cloud error answer (`{"error": "...", "code": 401}`).
pub(crate) fn ibm_error(reply: &HttpReply) -> Option<String> {
    json_of(reply)?.get("error")?.as_str().map(str::to_owned)
}

/// Adds `version` to a Watson URL that has none.
fn with_version(mut url: Url, version: &str) -> Url {
    if !url.query_pairs().any(|(k, _)| k == "version") {
        url.query_pairs_mut().append_pair("version", version);
    }
    url
}

/// The NLU API version of the spec's default URL, added when the account's URL has none.
const NLU_VERSION: &str = "2017-02-27";

/// Watson Natural Language Understanding `analyze` with `features.sentiment`: POST to the
/// account's analyze URL with Basic auth.
/// <https://cloud.ibm.com/apidocs/natural-language-understanding#analyze>
pub(crate) async fn sentiment(call: &Call<'_>, text: &str) -> Result<(SentimentLabel, f64), GatewayError> {
    let url = with_version(call.url(nlu::URL)?, NLU_VERSION);
    let username = call.text(nlu::USERNAME)?;
    let password = call.secret(nlu::PASSWORD)?;
    let body = json!({"text": text, "features": {"sentiment": {"document": true}}});
    let reply = call
        .send(Method::POST, &url, |r| r.basic_auth(username, Some(password)).header(ACCEPT, JSON).json(&body))
        .await?;
    if !(200..300).contains(&reply.status) {
        return Err(call.refused(&reply, "analyze URL", ibm_error(&reply).as_deref()));
    }
    let document = json_of(&reply).and_then(|b| b.get("sentiment")?.get("document").cloned());
    let label = document.as_ref().and_then(|d| d.get("label")?.as_str()).and_then(|l| match l {
        "positive" => Some(SentimentLabel::Positive),
        "neutral" => Some(SentimentLabel::Neutral),
        "negative" => Some(SentimentLabel::Negative),
        _ => None,
    });
    let score = document.as_ref().and_then(|d| d.get("score")?.as_f64()).filter(|s| (-1.0..=1.0).contains(s));
    match (label, score) {
        (Some(label), Some(score)) => Ok((label, score)),
        // Watson leaves the score out of a neutral document sentiment.
        (Some(SentimentLabel::Neutral), None) => Ok((SentimentLabel::Neutral, 0.0)),
        _ => Err(call.garbled(&reply, "a Watson document sentiment")),
    }
}

/// Alterra: no public API documentation was found. What the spec fixes is followed: a POST
/// (the fixed method) to the account's URL, not URL-encoded (a JSON body), one suggestion.
/// The body carries `text`, `conversation_id` and the optional API key as `api_key`, as the
/// connection test sends it. The answer is read leniently: the first of `results` or
/// `suggestions` (`answer` or `text`, with `score` or `confidence`), or a top-level
/// `answer` or `text`.
pub(crate) async fn alterra(call: &Call<'_>, text: &str, conversation: &str) -> Result<Vec<Suggestion>, GatewayError> {
    let url = call.url(chat_bot::alterra::URL)?;
    let mut body = json!({"text": text, "conversation_id": conversation});
    if let Some(key) = call.account.secret(chat_bot::alterra::API_KEY) {
        body["api_key"] = Value::String(key.to_owned());
    }
    let reply = call.send(Method::POST, &url, |r| r.header(ACCEPT, JSON).json(&body)).await?;
    if !(200..300).contains(&reply.status) {
        let said = json_of(&reply)
            .and_then(|b| b.get("error").or_else(|| b.get("message")).and_then(Value::as_str).map(str::to_owned));
        return Err(call.refused(&reply, "bot", said.as_deref()));
    }
    let Some(answer) = json_of(&reply) else { return Err(call.garbled(&reply, "JSON")) };
    let listed = answer.get("results").or_else(|| answer.get("suggestions"));
    let first = match listed.and_then(Value::as_array) {
        Some(results) => results.first().cloned(),
        None => Some(answer.clone()),
    };
    let suggestion = first.as_ref().and_then(|r| {
        let text = r.get("answer").or_else(|| r.get("text"))?.as_str()?.trim();
        let confidence = r.get("score").or_else(|| r.get("confidence")).and_then(Value::as_f64);
        (!text.is_empty())
            .then(|| Suggestion { text: text.to_owned(), confidence: confidence.filter(|c| (0.0..=1.0).contains(c)) })
    });
    match (suggestion, listed) {
        (Some(s), _) => Ok(vec![s]),
        (None, Some(Value::Array(results))) if results.is_empty() => Ok(Vec::new()),
        (None, _) => Err(call.garbled(&reply, "a bot answer with `results`, `answer` or `text`")),
    }
}

/// The Assistant v1 API version of the spec's URL prefix.
const CONVERSATION_VERSION: &str = "2017-05-26";

/// Watson Conversation (Assistant v1) `message`: POST `{url}{workspace_id}/message` with
/// Basic auth, the conversation's kept context and `alternate_intents` when more than one
/// suggestion may be shown. The dialog's output texts are the suggestions (the top
/// intent's confidence on each), at most `max`; the answer's context is returned to keep.
/// <https://cloud.ibm.com/apidocs/assistant-v1#message>
pub(crate) async fn watson_message(
    call: &Call<'_>,
    text: &str,
    context: Option<Value>,
    max: usize,
) -> Result<(Vec<Suggestion>, Option<Value>), GatewayError> {
    let workspace = call.text(chat_bot::watson::WORKSPACE_ID)?;
    let username = call.text(chat_bot::watson::USERNAME)?;
    let password = call.secret(chat_bot::watson::PASSWORD)?;
    let mut url = call.url(chat_bot::watson::URL)?;
    url.path_segments_mut()
        .map_err(|()| {
            GatewayError::from_failure(Failure::new(Category::InvalidConfig, "the URL cannot take a workspace path"))
        })?
        .pop_if_empty()
        .push(workspace)
        .push("message");
    let url = with_version(url, CONVERSATION_VERSION);
    // Watson refuses line breaks and tabs in `input.text`.
    let input: String = text.chars().map(|c| if matches!(c, '\r' | '\n' | '\t') { ' ' } else { c }).collect();
    let mut body = json!({"input": {"text": input}, "alternate_intents": max > 1});
    if let Some(context) = context {
        body["context"] = context;
    }
    let reply = call
        .send(Method::POST, &url, |r| r.basic_auth(username, Some(password)).header(ACCEPT, JSON).json(&body))
        .await?;
    if !(200..300).contains(&reply.status) {
        return Err(call.refused(&reply, "workspace", ibm_error(&reply).as_deref()));
    }
    let Some(answer) = json_of(&reply).filter(|a| a.get("output").is_some_and(Value::is_object)) else {
        return Err(call.garbled(&reply, "a Watson message answer"));
    };
    let confidence = answer
        .get("intents")
        .and_then(Value::as_array)
        .and_then(|intents| intents.first())
        .and_then(|top| top.get("confidence")?.as_f64())
        .filter(|c| (0.0..=1.0).contains(c));
    let output = &answer["output"];
    let texts: Vec<&str> = match output.get("text").and_then(Value::as_array) {
        Some(texts) => texts.iter().filter_map(Value::as_str).collect(),
        None => output
            .get("generic")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter(|i| i.get("response_type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|i| i.get("text")?.as_str())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let suggestions = texts
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .take(max)
        .map(|t| Suggestion { text: t.to_owned(), confidence })
        .collect();
    Ok((suggestions, answer.get("context").filter(|c| c.is_object()).cloned()))
}

/// Next Caller API v2.1 records: `GET /v2.1/records/?phone=…&format=json` (or `email=`)
/// with Basic auth, on the sandbox host in Sandbox mode. The first record, or none when
/// Next Caller holds none (an empty list, or a 404 with its error object).
/// <https://nextcaller.com/documentation/v2.1/>
pub(crate) async fn next_caller_record(call: &Call<'_>, by: &Lookup<'_>) -> Result<Option<Value>, GatewayError> {
    let username = call.text(next_caller::USERNAME)?;
    let password = call.secret(next_caller::PASSWORD)?;
    let vendor = if call.account.flag(next_caller::SANDBOX_MODE) { "next_caller_sandbox" } else { "next_caller" };
    let mut url = call.vendors.get(vendor).join("v2.1/records/").map_err(|e| {
        GatewayError::from_failure(Failure::new(
            Category::InvalidConfig,
            format!("the {vendor} URL cannot take a path: {e}"),
        ))
    })?;
    match by {
        Lookup::Phone(phone) => url.query_pairs_mut().append_pair("phone", phone),
        Lookup::Email(email) => url.query_pairs_mut().append_pair("email", email),
    };
    url.query_pairs_mut().append_pair("format", "json");
    let reply = call.send(Method::GET, &url, |r| r.basic_auth(username, Some(password)).header(ACCEPT, JSON)).await?;
    let error = json_of(&reply).and_then(|b| b.get("error").filter(|e| e.is_object()).cloned());
    if reply.status == 404 && error.is_some() {
        return Ok(None);
    }
    if !(200..300).contains(&reply.status) {
        let said = error.as_ref().and_then(|e| e.get("message")?.as_str());
        return Err(call.refused(&reply, "Next Caller records endpoint", said));
    }
    match json_of(&reply).as_ref().and_then(|b| b.get("records")?.as_array()) {
        Some(records) => Ok(records.first().cloned()),
        None => Err(call.garbled(&reply, "Next Caller records")),
    }
}

/// The Data Group's API (v3, the generation that takes a username, password and API key):
/// `POST /v3/auth` with `x-api-key` and `{"username", "password"}` gives an authorization
/// token (read from `token`, `authorizationToken` or `AuthorizationToken`: the field's name
/// is not in the public pages), then `POST /v3/sync/lookup/phone` (`{"phone"}`) or
/// `/v3/sync/lookup/email` (`{"email"}`) with `AuthorizationToken` and `x-api-key`. The
/// answer is the person (`first_name`, `last_name`, `address`, ...); 204 or 404 mean none.
/// <https://thedatagroup.com/user-guide/>
pub(crate) async fn tdg_record(call: &Call<'_>, by: &Lookup<'_>) -> Result<Option<Value>, GatewayError> {
    let username = call.text(tdg::USERNAME)?;
    let password = call.secret(tdg::PASSWORD)?;
    let key = call.secret(tdg::API_KEY)?;
    let base = call.vendors.get("tdg");
    let join = |path: &str| {
        base.join(path).map_err(|e| {
            GatewayError::from_failure(Failure::new(
                Category::InvalidConfig,
                format!("the tdg URL cannot take a path: {e}"),
            ))
        })
    };
    let credentials = json!({"username": username, "password": password});
    let auth = call
        .send(Method::POST, &join("v3/auth")?, |r| r.header("x-api-key", key).header(ACCEPT, JSON).json(&credentials))
        .await?;
    let said = |reply: &HttpReply| {
        json_of(reply)
            .and_then(|b| b.get("message").or_else(|| b.get("error")).and_then(Value::as_str).map(str::to_owned))
    };
    if !(200..300).contains(&auth.status) {
        return Err(call.refused(&auth, "authentication endpoint", said(&auth).as_deref()));
    }
    let token = json_of(&auth).and_then(|b| {
        ["token", "authorizationToken", "AuthorizationToken"]
            .iter()
            .find_map(|k| b.get(*k).and_then(Value::as_str).map(str::to_owned))
    });
    let Some(token) = token else { return Err(call.garbled(&auth, "an authorization token")) };
    let (path, body) = match by {
        Lookup::Phone(phone) => ("v3/sync/lookup/phone", json!({"phone": phone})),
        Lookup::Email(email) => ("v3/sync/lookup/email", json!({"email": email})),
    };
    let reply = call
        .send(Method::POST, &join(path)?, |r| {
            r.header("AuthorizationToken", token.as_str()).header("x-api-key", key).header(ACCEPT, JSON).json(&body)
        })
        .await?;
    match reply.status {
        204 | 404 => Ok(None),
        200..=299 => match json_of(&reply) {
            Some(Value::Object(person)) if person.is_empty() => Ok(None),
            Some(person @ Value::Object(_)) => Ok(Some(person)),
            _ => Err(call.garbled(&reply, "a person")),
        },
        _ => Err(call.refused(&reply, "lookup endpoint", said(&reply).as_deref())),
    }
}

/// What a caller is looked up by: a phone number's digits, or an email address.
pub(crate) enum Lookup<'a> {
    Phone(String),
    Email(&'a str),
}

/// A vendor record flattened to the names a Field Mapping's rows use: object keys joined
/// with `.`, list items by their position from 0 (`phone.0.number`, `address.0.city`).
/// Only text, numbers and booleans are values; empty text is left out.
pub(crate) fn flatten(record: &Value) -> Map<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
        let join = |key: &str| if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") };
        match value {
            Value::Object(fields) => fields.iter().for_each(|(k, v)| walk(&join(k), v, out)),
            Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(&join(&i.to_string()), v, out)),
            Value::String(s) if s.trim().is_empty() => {}
            Value::Null => {}
            leaf => {
                out.insert(prefix.to_owned(), leaf.clone());
            }
        }
    }
    let mut out = Map::new();
    walk("", record, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use patchbay_connectors::EgressPolicy;

    use super::*;

    /// A secret that a vendor's long error text carries across the point where the text is
    /// cut for a message is not shown, not even its beginning.
    #[test]
    fn a_secret_cut_by_the_clip_of_vendor_text_is_still_hidden() {
        let secret = "SENTINEL-0123456789abcdef";
        let account = AccountConfig {
            secrets: [("password".to_owned(), secret.into())].into_iter().collect(),
            ..AccountConfig::default()
        };
        let egress = Egress::new(EgressPolicy::default()).unwrap();
        let vendors = VendorUrls::default();
        let call = Call { egress: &egress, account: &account, vendors: &vendors, timeout: Duration::from_secs(1) };
        let reply = HttpReply { status: 500, headers: Default::default(), body: Vec::new() };
        let said = format!("{}{secret} and more", "x".repeat(195));
        let GatewayError::Vendor { failure, .. } = call.refused(&reply, "analyze URL", Some(&said)) else {
            panic!("a vendor failure")
        };
        assert!(!failure.message.contains("SENTINEL"), "{}", failure.message);
        assert!(failure.message.contains("[secr"), "the secret's place is marked: {}", failure.message);
    }
}
