//! Messengers: Facebook Messenger (Graph API), LINE, Nexmo (Vonage), Telegram and Viber.

use async_trait::async_trait;
use patchbay_catalog::keys::messenger;
use reqwest::Method;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::{hook_url, id_text, quote, text, vendor_url};
use crate::{ActionResult, Category, Connector, Context, Failure, HttpReply, TestRun};

/// Facebook Messenger: Graph API `GET debug_token` with the page token as both the token
/// inspected and the token calling. A page token is valid, of type PAGE, for the configured
/// page (`profile_id`), and allowed to message (`pages_messaging`).
/// <https://developers.facebook.com/docs/graph-api/reference/debug_token>
pub(super) struct Facebook;

#[async_trait]
impl Connector for Facebook {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("messenger", "facebook")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let page_id = cx.account.need_text(messenger::facebook::PAGE_ID)?;
        let token = cx.account.need_secret(messenger::facebook::TOKEN)?;
        let mut url = vendor_url(cx, "facebook", "debug_token")?;
        url.query_pairs_mut().append_pair("input_token", token).append_pair("access_token", token);
        let reply = cx.egress.http(run, Method::GET, url.as_str(), cx.timeout, |r| r).await?;
        let data = run.check("authenticate", debug_token_data(cx, &reply), |_| {
            "Facebook accepted the page access token".to_owned()
        })?;
        run.check("read", token_is_for_page(&data, page_id), |kind| format!("a {kind} token for page {page_id}"))?;
        Ok(format!("The Page access token is valid for page {page_id} and may send messages."))
    }
}

/// `data` of a debug_token answer whose token is valid.
fn debug_token_data(cx: &Context<'_>, reply: &HttpReply) -> Result<Value, Failure> {
    let body = match reply.json() {
        Ok(body) => body,
        Err(_) if !(200..300).contains(&reply.status) => return Err(Failure::from_status(reply.status, "page")),
        Err(f) => return Err(f),
    };
    if let Some(error) = body.get("error") {
        return Err(graph_error(cx, reply.status, error));
    }
    let data = body
        .get("data")
        .cloned()
        .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the debug_token answer has no `data`"))?;
    if data.get("is_valid").and_then(Value::as_bool) != Some(true) {
        let why = data
            .get("error")
            .and_then(|e| text(e, "message"))
            .map(|m| format!(": {}", quote(cx, m)))
            .unwrap_or_default();
        return Err(Failure::new(
            Category::InvalidCredentials,
            format!("Facebook says the page token is not valid{why}"),
        ));
    }
    Ok(data)
}

/// A Graph API error object as a failure. Codes:
/// <https://developers.facebook.com/docs/graph-api/guides/error-handling>
fn graph_error(cx: &Context<'_>, status: u16, error: &Value) -> Failure {
    let code = error.get("code").and_then(Value::as_i64).unwrap_or_default();
    let message = text(error, "message").map(|m| quote(cx, m)).unwrap_or_else(|| format!("HTTP {status}"));
    match code {
        102 | 190 | 463 | 467 => Failure::new(
            Category::InvalidCredentials,
            format!("Facebook refused the page access token (OAuthException {code}: {message})"),
        ),
        10 | 200..=299 => {
            Failure::new(Category::Permission, format!("the page token lacks a permission ({code}: {message})"))
        }
        4 | 17 | 32 | 613 => Failure::new(
            Category::UnexpectedResponse,
            format!("Facebook is rate limiting ({code}: {message}); try again later"),
        ),
        _ => Failure::new(Category::UnexpectedResponse, format!("Facebook answered error {code}: {message}")),
    }
}

/// The token's type when it is a page token for `page_id` that may message.
fn token_is_for_page(data: &Value, page_id: &str) -> Result<String, Failure> {
    let kind = text(data, "type").unwrap_or("unknown").to_owned();
    if kind != "PAGE" {
        return Err(Failure::new(
            Category::InvalidConfig,
            format!("the token is a {kind} access token; Messenger needs the Page access token of page {page_id}"),
        ));
    }
    match id_text(data, "profile_id") {
        Some(profile) if profile == page_id => {}
        Some(profile) => {
            return Err(Failure::new(
                Category::InvalidConfig,
                format!("the token belongs to page {profile}, not to the configured Page ID {page_id}"),
            ))
        }
        None => return Err(Failure::new(Category::UnexpectedResponse, "the debug_token answer names no page")),
    }
    if let Some(scopes) = data.get("scopes").and_then(Value::as_array) {
        if !scopes.iter().any(|s| s.as_str() == Some("pages_messaging")) {
            return Err(Failure::new(
                Category::Permission,
                "the page token lacks the pages_messaging permission Messenger needs",
            ));
        }
    }
    Ok(kind)
}

/// LINE: `GET /v2/bot/info` with the channel access token as a bearer token.
/// <https://developers.line.biz/en/reference/messaging-api/#get-bot-info>
pub(super) struct Line;

#[async_trait]
impl Connector for Line {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("messenger", "line")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let token = cx.account.need_secret(messenger::line::TOKEN)?;
        let url = vendor_url(cx, "line", "v2/bot/info")?;
        let reply = cx.egress.http(run, Method::GET, url.as_str(), cx.timeout, |r| r.bearer_auth(token)).await?;
        let accepted = match reply.status {
            200..=299 => Ok(()),
            401 => Err(Failure::new(
                Category::InvalidCredentials,
                format!("LINE refused the channel access token (HTTP 401{})", vendor_message(cx, &reply)),
            )),
            s => Err(Failure::from_status(s, "bot")),
        };
        run.check("authenticate", accepted, |()| "LINE accepted the channel access token".to_owned())?;
        let bot = run.check("read", reply.json().and_then(line_bot), |(name, id)| format!("bot {name} ({id})"))?;
        Ok(format!("The LINE bot {} ({}) answered.", bot.0, bot.1))
    }
}

/// `(displayName, basicId)` of a bot info answer.
fn line_bot(body: Value) -> Result<(String, String), Failure> {
    let user_id = text(&body, "userId");
    let basic_id = text(&body, "basicId");
    match (user_id, basic_id) {
        (Some(user_id), basic_id) => {
            Ok((text(&body, "displayName").unwrap_or(user_id).to_owned(), basic_id.unwrap_or(user_id).to_owned()))
        }
        (None, _) => Err(Failure::new(Category::UnexpectedResponse, "the answer is not LINE bot info (no `userId`)")),
    }
}

/// `": <message>"` from a JSON error body with a `message` (LINE), or nothing.
fn vendor_message(cx: &Context<'_>, reply: &HttpReply) -> String {
    serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|b| text(&b, "message").map(|m| format!(": {}", quote(cx, m))))
        .unwrap_or_default()
}

/// Nexmo (Vonage): `GET /account/get-balance` with the API key and secret as Basic auth,
/// which the Account API documents besides query parameters; the header keeps the secret out
/// of URLs. <https://developer.vonage.com/en/api/account#getAccountBalance>
pub(super) struct Nexmo;

#[async_trait]
impl Connector for Nexmo {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("messenger", "nexmo")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let key = cx.account.need_text(messenger::nexmo::KEY)?;
        let secret = cx.account.need_secret(messenger::nexmo::SECRET)?;
        let url = vendor_url(cx, "nexmo", "account/get-balance")?;
        let reply =
            cx.egress.http(run, Method::GET, url.as_str(), cx.timeout, |r| r.basic_auth(key, Some(secret))).await?;
        let accepted = match reply.status {
            200..=299 => Ok(()),
            401 => Err(Failure::new(Category::InvalidCredentials, "Vonage refused the API key and secret (HTTP 401)")),
            s => Err(Failure::from_status(s, "account")),
        };
        run.check("authenticate", accepted, |()| "Vonage accepted the API key and secret".to_owned())?;
        let balance = run.check(
            "read",
            reply.json().and_then(|b| {
                b.get("value").and_then(Value::as_f64).ok_or_else(|| {
                    Failure::new(Category::UnexpectedResponse, "the answer is not a Vonage balance (no `value`)")
                })
            }),
            |v| format!("balance {v:.2} EUR"),
        )?;
        Ok(format!("Vonage accepted the API key and secret; the account balance is {balance:.2} EUR."))
    }
}

/// Telegram: Bot API `getMe`, whose `username` must be the configured bot's; Set Webhook is
/// `setWebhook` with a `secret_token`, read back with `getWebhookInfo`.
/// <https://core.telegram.org/bots/api#making-requests>, `#getme`, `#setwebhook`,
/// `#getwebhookinfo`.
pub(super) struct Telegram;

#[async_trait]
impl Connector for Telegram {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("messenger", "telegram")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let expected = cx.account.need_text(messenger::telegram::BOT_USERNAME)?.trim_start_matches('@');
        let token = cx.account.need_secret(messenger::telegram::TOKEN)?;
        let reply = telegram_call(cx, run, token, "getMe", None).await?;
        let bot = run.check(
            "authenticate",
            telegram_result(cx, &reply, "the request", Category::UnexpectedResponse),
            |_| "Telegram accepted the bot token".to_owned(),
        )?;
        let username = run.check(
            "read",
            match text(&bot, "username") {
                Some(name) if name.eq_ignore_ascii_case(expected) => Ok(name.to_owned()),
                Some(name) => Err(Failure::new(
                    Category::InvalidConfig,
                    format!("the token belongs to the bot @{name}, not to @{expected}; check Bot Username and Token"),
                )),
                None => Err(Failure::new(Category::UnexpectedResponse, "the getMe answer names no bot username")),
            },
            |name| format!("bot @{name}"),
        )?;
        Ok(format!("The Telegram bot @{username} answered."))
    }

    async fn action(
        &self,
        cx: &Context<'_>,
        action: &str,
        _params: &Map<String, Value>,
        run: &mut TestRun,
    ) -> Result<ActionResult, Failure> {
        if action != "set_webhook" {
            return Err(Failure::new(Category::InvalidConfig, format!("`{action}` is not an action of Telegram")));
        }
        let token = cx.account.need_secret(messenger::telegram::TOKEN)?;
        let id = cx.account.id.as_deref().ok_or_else(|| {
            Failure::new(Category::InvalidConfig, "save the account first: the webhook's secret names its id")
        })?;
        let hook = match cx.account.text(messenger::telegram::WEBHOOK_URL) {
            Some(given) => Url::parse(given).map_err(|e| {
                Failure::new(
                    Category::InvalidConfig,
                    format!("`{}` is not a URL: {e}", messenger::telegram::WEBHOOK_URL),
                )
            })?,
            None => {
                let base = cx.public_url.ok_or_else(|| {
                    Failure::new(
                        Category::InvalidConfig,
                        "this service has no public URL for Telegram to call: give a Webhook URL, or ask the \
                         operator to set the service's public URL",
                    )
                })?;
                hook_url(cx, base)?
            }
        };
        if hook.scheme() != "https" {
            return Err(Failure::new(
                Category::InvalidConfig,
                format!("Telegram only calls HTTPS webhooks; {hook} is not https"),
            ));
        }
        let body = json!({"url": hook.as_str(), "secret_token": telegram_webhook_secret(id, token)});
        let reply = telegram_call(cx, run, token, "setWebhook", Some(&body)).await?;
        let what = format!("the webhook URL {hook}");
        run.check("authenticate", telegram_result(cx, &reply, &what, Category::InvalidConfig), |_| {
            format!("Telegram accepted {what}")
        })?;
        let reply = telegram_call(cx, run, token, "getWebhookInfo", None).await?;
        let info = run.check(
            "read",
            telegram_result(cx, &reply, "the request", Category::UnexpectedResponse)
                .and_then(|info| webhook_matches(text(&info, "url"), hook.as_str()).map(|()| info)),
            |_| format!("Telegram reports the webhook {hook}"),
        )?;
        let mut webhook = json!({
            "url": hook.as_str(),
            "pending_update_count": info.get("pending_update_count").cloned().unwrap_or(Value::Null),
        });
        if let Some(error) = text(&info, "last_error_message") {
            webhook["last_error_message"] = Value::String(quote(cx, error));
        }
        Ok(ActionResult {
            message: format!("Telegram now delivers this bot's updates to {hook}."),
            webhook: Some(webhook),
            ..ActionResult::default()
        })
    }
}

/// The `secret_token` patchbay gives Telegram's setWebhook for an account: the first 32 hex
/// digits of SHA-256 over `patchbay telegram webhook`, the account id and the bot token, each
/// followed by a newline. Telegram sends it back in `X-Telegram-Bot-Api-Secret-Token` with
/// every update, so the webhook receiver recomputes it from the account it already stores
/// and compares, with nothing more to store; a new token or another account gives another
/// value, and the value does not reveal the token.
pub fn telegram_webhook_secret(account_id: &str, bot_token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"patchbay telegram webhook\n")
        .chain_update(account_id.as_bytes())
        .chain_update(b"\n")
        .chain_update(bot_token.as_bytes())
        .chain_update(b"\n")
        .finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// One Bot API call: `GET` without a body, `POST` with a JSON body. The token is in the path
/// as Telegram requires; the test run scrubs it from every step (`bot[secret]`).
async fn telegram_call(
    cx: &Context<'_>,
    run: &mut TestRun,
    token: &str,
    method: &str,
    body: Option<&Value>,
) -> Result<HttpReply, Failure> {
    let base = cx.vendors.get("telegram");
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| Failure::new(Category::InvalidConfig, "the Telegram base URL cannot take a path"))?
        .pop_if_empty()
        .push(&format!("bot{token}"))
        .push(method);
    let verb = if body.is_some() { reqwest::Method::POST } else { reqwest::Method::GET };
    cx.egress
        .http(run, verb, url.as_str(), cx.timeout, |request| match body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
}

/// The `result` of a Bot API answer, or what its error means. A 400 is about `what`, with
/// category `bad_request`. <https://core.telegram.org/bots/api#making-requests>
fn telegram_result(cx: &Context<'_>, reply: &HttpReply, what: &str, bad_request: Category) -> Result<Value, Failure> {
    let body: Value = match serde_json::from_slice(&reply.body) {
        Ok(body) => body,
        Err(_) if (200..300).contains(&reply.status) => {
            return Err(Failure::new(Category::UnexpectedResponse, "the answer is not Bot API JSON"))
        }
        Err(_) => return Err(Failure::from_status(reply.status, "Bot API URL")),
    };
    if body.get("ok").and_then(Value::as_bool) == Some(true) {
        return body
            .get("result")
            .cloned()
            .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the Bot API answer has no `result`"));
    }
    let code = body.get("error_code").and_then(Value::as_i64).unwrap_or(i64::from(reply.status));
    let description = text(&body, "description").map(|d| quote(cx, d)).unwrap_or_else(|| format!("error {code}"));
    Err(match code {
        401 => Failure::new(
            Category::InvalidCredentials,
            format!("Telegram refused the bot token ({description}); copy it from @BotFather again"),
        ),
        404 => Failure::new(
            Category::InvalidCredentials,
            format!("Telegram does not recognise the bot token ({description}); it looks like 123456:ABC-DEF…"),
        ),
        400 => Failure::new(bad_request, format!("Telegram refused {what}: {description}")),
        403 => Failure::new(Category::Permission, format!("Telegram refused the request: {description}")),
        429 => Failure::new(Category::UnexpectedResponse, format!("Telegram is rate limiting ({description})")),
        _ => Failure::new(Category::UnexpectedResponse, format!("Telegram answered error {code}: {description}")),
    })
}

/// A webhook read back from the vendor against the one set.
fn webhook_matches(found: Option<&str>, set: &str) -> Result<(), Failure> {
    match found {
        Some(found) if found == set => Ok(()),
        Some(found) => Err(Failure::new(
            Category::UnexpectedResponse,
            format!("the webhook was set to {set} but the vendor now reports {found}; is another system setting it?"),
        )),
        None => Err(Failure::new(
            Category::UnexpectedResponse,
            format!("the webhook was set to {set} but the vendor reports none"),
        )),
    }
}

/// Viber: `POST /pa/get_account_info` with `X-Viber-Auth-Token`; status 0 and an account
/// whose name or URI is the configured bot. Set Webhook is `POST /pa/set_webhook`, read back
/// from the account info's `webhook`.
/// <https://developers.viber.com/docs/api/rest-bot-api/#get-account-info>, `#setting-a-webhook`,
/// errors: <https://creators.viber.com/docs/bots-api/errors>
pub(super) struct Viber;

#[async_trait]
impl Connector for Viber {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("messenger", "viber")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let expected = cx.account.need_text(messenger::viber::BOT_USERNAME)?;
        let token = cx.account.need_secret(messenger::viber::TOKEN)?;
        let reply = viber_call(cx, run, token, "pa/get_account_info", &json!({})).await?;
        let info = run.check("authenticate", viber_result(cx, &reply, "", Category::UnexpectedResponse), |_| {
            "Viber accepted the authentication token".to_owned()
        })?;
        let name = run.check("read", viber_account_is(&info, expected), |name| format!("account {name}"))?;
        Ok(format!("The Viber account {name} answered."))
    }

    async fn action(
        &self,
        cx: &Context<'_>,
        action: &str,
        params: &Map<String, Value>,
        run: &mut TestRun,
    ) -> Result<ActionResult, Failure> {
        if action != "set_webhook" {
            return Err(Failure::new(Category::InvalidConfig, format!("`{action}` is not an action of Viber")));
        }
        let token = cx.account.need_secret(messenger::viber::TOKEN)?;
        let host_port = params
            .get(messenger::viber::WEBHOOK_URL_HOST_AND_PORT)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| cx.account.text(messenger::viber::WEBHOOK_URL_HOST_AND_PORT))
            .ok_or_else(|| Failure::new(Category::InvalidConfig, "`webhook_url_host_and_port` is not set"))?;
        let base = Url::parse(&format!("https://{host_port}/"))
            .ok()
            .filter(|u| {
                let has_port = u.port().is_some() || host_port.ends_with(":443");
                has_port && u.path() == "/" && u.username().is_empty() && u.query().is_none()
            })
            .ok_or_else(|| {
                Failure::new(
                    Category::InvalidConfig,
                    format!("`{host_port}` is not host:port (e.g. office.yourcompany.com:1234)"),
                )
            })?;
        let hook = hook_url(cx, &base)?;
        let reply = viber_call(cx, run, token, "pa/set_webhook", &json!({"url": hook.as_str()})).await?;
        let what = format!(" the webhook URL {hook}");
        run.check("authenticate", viber_result(cx, &reply, &what, Category::InvalidConfig), |_| {
            format!("Viber accepted{what}")
        })?;
        let reply = viber_call(cx, run, token, "pa/get_account_info", &json!({})).await?;
        let info = run.check(
            "read",
            viber_result(cx, &reply, "", Category::UnexpectedResponse)
                .and_then(|info| webhook_matches(text(&info, "webhook"), hook.as_str()).map(|()| info)),
            |_| format!("Viber reports the webhook {hook}"),
        )?;
        Ok(ActionResult {
            message: format!("Viber now delivers this account's messages to {hook}."),
            webhook: Some(json!({
                "url": hook.as_str(),
                "event_types": info.get("event_types").cloned().unwrap_or(Value::Null),
            })),
            ..ActionResult::default()
        })
    }
}

async fn viber_call(
    cx: &Context<'_>,
    run: &mut TestRun,
    token: &str,
    path: &str,
    body: &Value,
) -> Result<HttpReply, Failure> {
    let url = vendor_url(cx, "viber", path)?;
    cx.egress
        .http(run, Method::POST, url.as_str(), cx.timeout, |r| r.header("X-Viber-Auth-Token", token).json(body))
        .await
}

/// A Viber answer with status 0, or what its status means. Status 1 (invalidUrl) is about
/// `what`, with category `bad_url`.
fn viber_result(cx: &Context<'_>, reply: &HttpReply, what: &str, bad_url: Category) -> Result<Value, Failure> {
    if !(200..300).contains(&reply.status) {
        return Err(Failure::from_status(reply.status, "Viber API URL"));
    }
    let body = reply.json()?;
    let status = body
        .get("status")
        .and_then(Value::as_i64)
        .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the answer is not Viber's (no `status`)"))?;
    let message = text(&body, "status_message").map(|m| quote(cx, m)).unwrap_or_default();
    match status {
        0 => Ok(body),
        1 => Err(Failure::new(bad_url, format!("Viber refused{what} ({message})"))),
        2 => Err(Failure::new(
            Category::InvalidCredentials,
            format!("Viber refused the authentication token ({message})"),
        )),
        7 | 9 => {
            Err(Failure::new(Category::Permission, format!("the Viber account is blocked or suspended ({message})")))
        }
        8 => Err(Failure::new(Category::NotFound, format!("the Viber account was not found ({message})"))),
        s => Err(Failure::new(Category::UnexpectedResponse, format!("Viber answered status {s} ({message})"))),
    }
}

/// The account's name when its name or URI is `expected` (ignoring case).
fn viber_account_is(info: &Value, expected: &str) -> Result<String, Failure> {
    let name = text(info, "name");
    let uri = text(info, "uri");
    let matches = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case(expected));
    if matches(name) || matches(uri) {
        return Ok(name.or(uri).unwrap_or(expected).to_owned());
    }
    Err(Failure::new(
        Category::InvalidConfig,
        format!(
            "the token belongs to the Viber account {} (URI {}), not to {expected}; check Bot Username and Token",
            name.unwrap_or("?"),
            uri.unwrap_or("?")
        ),
    ))
}
