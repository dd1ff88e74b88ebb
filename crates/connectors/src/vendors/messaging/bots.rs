//! Chat bots (Alterra, Watson Conversation) and Watson Natural Language Understanding.

use async_trait::async_trait;
use patchbay_catalog::keys::{chat_bot, nlu};
use reqwest::Method;
use serde_json::{json, Value};

use super::{account_url, base_url, quote, text};
use crate::egress::redacted;
use crate::{Category, Connector, Context, Failure, HttpReply, TestRun};

/// The text sent where a test must send some.
const PROBE_TEXT: &str = "patchbay connection test";

/// Alterra: no public API documentation was found, so the test does what the spec implies:
/// a POST (the fixed method) of a JSON body (URL encoding is fixed off) to the URL, with the
/// optional API key as the body's `api_key`. A 2xx with a JSON body passes (a web page is not
/// a bot); 401/403 mean the key was refused, 404 that the URL is not the bot's.
pub(super) struct Alterra;

#[async_trait]
impl Connector for Alterra {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("chat_bot", "alterra")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let url = account_url(cx, chat_bot::alterra::URL)?;
        let key = cx.account.secret(chat_bot::alterra::API_KEY);
        let mut body = json!({"text": PROBE_TEXT});
        if let Some(key) = key {
            body["api_key"] = Value::String(key.to_owned());
        }
        let reply = cx.egress.http(run, Method::POST, url.as_str(), cx.timeout, |r| r.json(&body)).await?;
        let accepted = match reply.status {
            200..=299 => Ok(()),
            401 | 403 if key.is_none() => Err(Failure::new(
                Category::InvalidCredentials,
                format!("the bot wants an API key (HTTP {}); set API key", reply.status),
            )),
            401 | 403 => Err(Failure::new(
                Category::InvalidCredentials,
                format!("the bot refused the API key (HTTP {})", reply.status),
            )),
            404 => Err(Failure::new(Category::NotFound, "nothing answers at this URL (HTTP 404); check Url")),
            s => Err(Failure::from_status(s, "bot")),
        };
        let what = if key.is_some() { "the bot accepted the API key" } else { "the bot needs no API key" };
        run.check("authenticate", accepted, |()| what.to_owned())?;
        run.check("read", reply.json(), |_| format!("a JSON answer of {} bytes", reply.body.len()))?;
        Ok(format!("The bot at {} answered the test request.", redacted(&url)))
    }
}

/// Watson Conversation (Assistant v1): `GET {url}{workspace_id}?version=2017-05-26` with
/// Basic auth reads the workspace.
/// <https://cloud.ibm.com/apidocs/assistant-v1#getworkspace>
pub(super) struct WatsonConversation;

/// The Conversation API version the spec's URL prefix belongs to.
const CONVERSATION_VERSION: &str = "2017-05-26";

#[async_trait]
impl Connector for WatsonConversation {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("chat_bot", "watson")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let workspace = cx.account.need_text(chat_bot::watson::WORKSPACE_ID)?;
        let username = cx.account.need_text(chat_bot::watson::USERNAME)?;
        let password = cx.account.need_secret(chat_bot::watson::PASSWORD)?;
        let mut url = base_url(cx, chat_bot::watson::URL)?;
        url.path_segments_mut()
            .map_err(|()| Failure::new(Category::InvalidConfig, "`url` cannot take a workspace path"))?
            .pop_if_empty()
            .push(workspace);
        url.query_pairs_mut().append_pair("version", CONVERSATION_VERSION);
        let reply = cx
            .egress
            .http(run, Method::GET, url.as_str(), cx.timeout, |r| r.basic_auth(username, Some(password)))
            .await?;
        let accepted = match reply.status {
            200..=299 | 404 => Ok(()),
            s => Err(ibm_failure(cx, &reply, s, "workspace")),
        };
        run.check("authenticate", accepted, |()| "Watson accepted the username and password".to_owned())?;
        let name = run.check(
            "read",
            if reply.status == 404 {
                Err(Failure::new(
                    Category::NotFound,
                    format!("the workspace {workspace} was not found (HTTP 404); check Workspace ID and Url"),
                ))
            } else {
                reply.json().and_then(|body| match (text(&body, "workspace_id"), text(&body, "name")) {
                    (Some(id), _) if id != workspace => Err(Failure::new(
                        Category::UnexpectedResponse,
                        format!("asked for workspace {workspace}, Watson answered with workspace {id}"),
                    )),
                    (Some(_), name) | (None, name @ Some(_)) => Ok(name.unwrap_or(workspace).to_owned()),
                    (None, None) => {
                        Err(Failure::new(Category::UnexpectedResponse, "the answer is not a Watson workspace"))
                    }
                })
            },
            |name| format!("workspace {name}"),
        )?;
        Ok(format!("The Watson Conversation workspace {name} ({workspace}) answered."))
    }
}

/// Watson Natural Language Understanding: a POST of one sentence with `features.sentiment`
/// to the analyze URL with Basic auth (`version` added when the URL has none).
/// <https://cloud.ibm.com/apidocs/natural-language-understanding#analyze>
pub(super) struct WatsonNlu;

/// The NLU API version of the spec's default URL.
const NLU_VERSION: &str = "2017-02-27";

#[async_trait]
impl Connector for WatsonNlu {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("nlu", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let username = cx.account.need_text(nlu::USERNAME)?;
        let password = cx.account.need_secret(nlu::PASSWORD)?;
        let mut url = account_url(cx, nlu::URL)?;
        if !url.query_pairs().any(|(k, _)| k == "version") {
            url.query_pairs_mut().append_pair("version", NLU_VERSION);
        }
        let body = json!({"text": PROBE_TEXT, "features": {"sentiment": {}}});
        let reply = cx
            .egress
            .http(run, Method::POST, url.as_str(), cx.timeout, |r| r.basic_auth(username, Some(password)).json(&body))
            .await?;
        let accepted = match reply.status {
            200..=299 => Ok(()),
            s => Err(ibm_failure(cx, &reply, s, "analyze URL")),
        };
        run.check("authenticate", accepted, |()| "Watson accepted the username and password".to_owned())?;
        let label = run.check(
            "read",
            reply.json().and_then(|body| {
                body.get("sentiment")
                    .and_then(|s| s.get("document"))
                    .and_then(|d| text(d, "label"))
                    .map(str::to_owned)
                    .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the answer has no document sentiment"))
            }),
            |label| format!("document sentiment {label}"),
        )?;
        Ok(format!("Watson Natural Language Understanding analysed a test sentence (sentiment {label})."))
    }
}

/// An IBM Cloud error answer (`{"error": ..., "code": ...}`) as a failure.
fn ibm_failure(cx: &Context<'_>, reply: &HttpReply, status: u16, what: &str) -> Failure {
    let said = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|b| text(&b, "error").map(|e| format!(": {}", quote(cx, e))))
        .unwrap_or_default();
    match status {
        401 => Failure::new(
            Category::InvalidCredentials,
            format!("Watson refused the username and password (HTTP 401{said})"),
        ),
        403 => Failure::new(Category::Permission, format!("the credentials lack permission (HTTP 403{said})")),
        404 => Failure::new(Category::NotFound, format!("the {what} was not found (HTTP 404{said}); check Url")),
        400 => Failure::new(Category::UnexpectedResponse, format!("Watson refused the request (HTTP 400{said})")),
        s => Failure::from_status(s, what),
    }
}
