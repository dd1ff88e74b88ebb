//! Connection tests and actions of messengers, chat bots, NLU and TTS against local servers
//! that follow each vendor's documented contract (see `patchbay_testkit::vendors::messaging`, which cites the
//! docs). Every report and action result is checked for the secrets it was given.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchbay_catalog::keys::{chat_bot, messenger, nlu, tts};
use patchbay_connectors::{
    AccountConfig, ActionResult, Category, Failure, Outcome, Registry, TestReport, TestStep, VendorUrls,
};
use patchbay_testkit::vendors::messaging as peers;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

/// Vendor URLs with `vendor` at `addr` (under `path`).
fn vendors_at(vendor: &str, addr: SocketAddr, path: &str) -> VendorUrls {
    let mut vendors = VendorUrls::default();
    vendors.set(vendor, Url::parse(&format!("http://{addr}/{path}")).unwrap()).unwrap();
    vendors
}

async fn run_test(account: &AccountConfig, vendors: &VendorUrls) -> TestReport {
    let egress = common::egress(None);
    let cx = common::context(&egress, account, vendors);
    Registry::with([]).test(&cx).await
}

async fn run_action(
    account: &AccountConfig,
    vendors: &VendorUrls,
    public_url: Option<&Url>,
    action: &str,
    params: Value,
) -> Result<ActionResult, (Failure, Vec<TestStep>)> {
    let egress = common::egress(None);
    let mut cx = common::context(&egress, account, vendors);
    cx.public_url = public_url;
    cx.hook_id = Some(HOOK);
    Registry::with([]).action(&cx, action, params.as_object().unwrap()).await
}

/// The saved account's inbound webhook hook id.
const HOOK: &str = "0123456789abcdef0123456789abcdef";

/// The report names none of `secrets`.
fn assert_secret_free(report: &impl serde::Serialize, secrets: &[&str]) {
    let shown = serde_json::to_string(report).unwrap();
    for secret in secrets {
        assert!(!shown.contains(secret), "a secret leaked into {shown}");
    }
}

fn assert_ok(report: &TestReport) {
    assert_eq!(report.status, Outcome::Ok, "{report:#?}");
    assert!(report.steps.iter().any(|s| s.name == "read"), "{report:#?}");
}

fn assert_failed(report: &TestReport, category: Category, needle: &str) {
    assert_eq!(report.status, Outcome::Failed, "{report:#?}");
    assert_eq!(report.category, Some(category), "{report:#?}");
    assert!(report.message.contains(needle), "`{needle}` not in: {}", report.message);
}

fn step_names(steps: &[TestStep]) -> Vec<&str> {
    steps.iter().map(|s| s.name.as_str()).collect()
}

// Facebook Messenger

fn facebook(token: &str) -> AccountConfig {
    common::account(
        "messenger",
        "facebook",
        json!({messenger::facebook::PAGE_USERNAME: "acme", messenger::facebook::PAGE_ID: peers::FB_PAGE_ID}),
        &[(messenger::facebook::TOKEN, token), (messenger::facebook::WEBHOOK_VERIFY_TOKEN, "verify-s3cr3t")],
    )
}

async fn facebook_vendors() -> VendorUrls {
    vendors_at("facebook", common::http(peers::facebook()).await, "v19.0/")
}

#[tokio::test]
async fn facebook_page_token_of_the_page_passes() {
    let report = run_test(&facebook(peers::FB_PAGE_TOKEN), &facebook_vendors().await).await;
    assert_ok(&report);
    assert!(report.message.contains(peers::FB_PAGE_ID), "{}", report.message);
    assert_eq!(step_names(&report.steps), ["resolve", "connect", "request", "authenticate", "read"]);
    assert!(report.steps[2].detail.contains("/v19.0/debug_token -> HTTP 200"), "{:?}", report.steps[2]);
    assert_secret_free(&report, &[peers::FB_PAGE_TOKEN, "verify-s3cr3t"]);
}

#[tokio::test]
async fn facebook_unknown_token_is_invalid_credentials() {
    let report = run_test(&facebook("EAAB-revoked-s3cr3t"), &facebook_vendors().await).await;
    assert_failed(&report, Category::InvalidCredentials, "OAuthException 190");
    assert_secret_free(&report, &["EAAB-revoked-s3cr3t"]);
}

#[tokio::test]
async fn facebook_token_of_another_page_names_both_pages() {
    let report = run_test(&facebook(peers::FB_OTHER_PAGE_TOKEN), &facebook_vendors().await).await;
    assert_failed(
        &report,
        Category::InvalidConfig,
        "belongs to page 5550001112, not to the configured Page ID 1234567890",
    );
    assert_secret_free(&report, &[peers::FB_OTHER_PAGE_TOKEN]);
}

#[tokio::test]
async fn facebook_user_token_is_not_a_page_token() {
    let report = run_test(&facebook(peers::FB_USER_TOKEN), &facebook_vendors().await).await;
    assert_failed(&report, Category::InvalidConfig, "USER access token");
    assert_secret_free(&report, &[peers::FB_USER_TOKEN]);
}

#[tokio::test]
async fn facebook_page_token_without_pages_messaging_lacks_permission() {
    let report = run_test(&facebook(peers::FB_READ_ONLY_TOKEN), &facebook_vendors().await).await;
    assert_failed(&report, Category::Permission, "pages_messaging");
}

// LINE

fn line(token: &str) -> AccountConfig {
    common::account("messenger", "line", json!({}), &[(messenger::line::TOKEN, token)])
}

#[tokio::test]
async fn line_channel_token_passes_with_the_bot_name() {
    let vendors = vendors_at("line", common::http(peers::line()).await, "");
    let report = run_test(&line(peers::LINE_TOKEN), &vendors).await;
    assert_ok(&report);
    assert!(report.message.contains("Acme Support (@216ruotc)"), "{}", report.message);
    assert_secret_free(&report, &[peers::LINE_TOKEN]);
}

#[tokio::test]
async fn line_refused_token_is_invalid_credentials() {
    let vendors = vendors_at("line", common::http(peers::line()).await, "");
    let report = run_test(&line("line-wrong-s3cr3t"), &vendors).await;
    assert_failed(&report, Category::InvalidCredentials, "Authentication failed");
    assert_secret_free(&report, &["line-wrong-s3cr3t"]);
}

#[tokio::test]
async fn line_url_answering_something_else_is_unexpected() {
    let vendors = vendors_at("line", common::http(peers::not_the_vendor()).await, "");
    let report = run_test(&line(peers::LINE_TOKEN), &vendors).await;
    assert_failed(&report, Category::UnexpectedResponse, "not JSON");
}

// Nexmo (Vonage)

fn nexmo(secret: &str) -> AccountConfig {
    common::account(
        "messenger",
        "nexmo",
        json!({messenger::nexmo::KEY: peers::NEXMO_KEY}),
        &[(messenger::nexmo::SECRET, secret)],
    )
}

#[tokio::test]
async fn nexmo_key_and_secret_pass_with_the_balance() {
    let vendors = vendors_at("nexmo", common::http(peers::nexmo()).await, "");
    let report = run_test(&nexmo(peers::NEXMO_SECRET), &vendors).await;
    assert_ok(&report);
    assert!(report.message.contains("10.28 EUR"), "{}", report.message);
    assert_secret_free(&report, &[peers::NEXMO_SECRET]);
}

#[tokio::test]
async fn nexmo_wrong_secret_is_invalid_credentials() {
    let vendors = vendors_at("nexmo", common::http(peers::nexmo()).await, "");
    let report = run_test(&nexmo("nexmo-wrong-s3cr3t"), &vendors).await;
    assert_failed(&report, Category::InvalidCredentials, "HTTP 401");
    assert_secret_free(&report, &["nexmo-wrong-s3cr3t"]);
}

#[tokio::test]
async fn nexmo_url_answering_something_else_is_unexpected() {
    let vendors = vendors_at("nexmo", common::http(peers::not_the_vendor()).await, "");
    let report = run_test(&nexmo(peers::NEXMO_SECRET), &vendors).await;
    assert_failed(&report, Category::UnexpectedResponse, "not JSON");
}

// Telegram

fn telegram(username: &str, token: &str) -> AccountConfig {
    common::account(
        "messenger",
        "telegram",
        json!({messenger::telegram::BOT_USERNAME: username}),
        &[(messenger::telegram::TOKEN, token)],
    )
}

async fn telegram_peer() -> (VendorUrls, Arc<Mutex<peers::TelegramState>>) {
    let state = Arc::new(Mutex::new(peers::TelegramState::default()));
    let addr = common::http(peers::telegram(state.clone())).await;
    (vendors_at("telegram", addr, ""), state)
}

#[tokio::test]
async fn telegram_token_passes_when_the_bot_username_matches() {
    let (vendors, _) = telegram_peer().await;
    for username in [peers::TELEGRAM_BOT, "@Acme_Support_Bot"] {
        let report = run_test(&telegram(username, peers::TELEGRAM_TOKEN), &vendors).await;
        assert_ok(&report);
        assert!(report.message.contains("@acme_support_bot"), "{}", report.message);
        let request = report.steps.iter().find(|s| s.name == "request").unwrap();
        assert!(request.detail.ends_with("/bot[secret]/getMe -> HTTP 200"), "{request:?}");
        assert_secret_free(&report, &[peers::TELEGRAM_TOKEN, "AAH-s3cr3t_tg-token"]);
    }
}

#[tokio::test]
async fn telegram_unauthorized_and_malformed_tokens_are_invalid_credentials() {
    let (vendors, _) = telegram_peer().await;
    for (token, said) in [("123456789:AAH-revoked-s3cr3t", "Unauthorized"), ("not a token s3cr3t", "Not Found")] {
        let report = run_test(&telegram(peers::TELEGRAM_BOT, token), &vendors).await;
        assert_failed(&report, Category::InvalidCredentials, said);
        assert_secret_free(&report, &[token, "s3cr3t"]);
    }
}

#[tokio::test]
async fn telegram_token_of_another_bot_names_both_bots() {
    let (vendors, _) = telegram_peer().await;
    let report = run_test(&telegram("acme_sales_bot", peers::TELEGRAM_TOKEN), &vendors).await;
    assert_failed(&report, Category::InvalidConfig, "belongs to the bot @acme_support_bot, not to @acme_sales_bot");
}

#[tokio::test]
async fn vendor_text_quoting_a_secret_is_scrubbed() {
    let token = "123456789:AAH-echoed-s3cr3t";
    let echo = axum::Router::new().fallback(move || async move {
        (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"ok": false, "error_code": 400, "description": format!("Bad Request: token {token} is odd")}),
            ),
        )
    });
    let vendors = vendors_at("telegram", common::http(echo).await, "");
    let report = run_test(&telegram(peers::TELEGRAM_BOT, token), &vendors).await;
    assert_failed(&report, Category::UnexpectedResponse, "token [secret] is odd");
    assert_secret_free(&report, &[token]);
}

/// The forms in which a vendor may echo `secret`: as given, upper-cased, percent-encoded,
/// base64 (alone and as Basic credentials), JSON-escaped and split by control characters.
fn echoed_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let percent = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>();
    vec![
        secret.to_owned(),
        secret.to_uppercase(),
        percent.clone(),
        percent.to_lowercase(),
        b64.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        b64.encode(format!("bot:{secret}")),
        secret.replace(':', "\\u003a"),
        secret.replacen("s3cr", "s3\u{1}cr", 1),
        secret.replacen("AAH", "A\u{1b}A\nH", 1),
    ]
}

/// None of the forms of `secret` is in `shown`: its JSON, every string in it, and every
/// string with control characters removed (as a terminal would show it), in any case.
fn assert_no_form_of(shown: &impl serde::Serialize, secret: &str) {
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let value = serde_json::to_value(shown).unwrap();
    let mut texts = vec![value.to_string()];
    strings(&value, &mut texts);
    let visible: Vec<String> = texts.iter().map(|t| t.chars().filter(|c| !c.is_control()).collect()).collect();
    for text in texts.iter().chain(&visible) {
        let lower = text.to_lowercase();
        for form in echoed_forms(secret) {
            let form: String = form.chars().filter(|c| !c.is_control()).collect();
            assert!(!lower.contains(&form.to_lowercase()), "`{form}` is in {text}");
        }
    }
}

#[tokio::test]
async fn telegram_echoing_the_token_in_any_form_is_scrubbed_from_the_action_and_the_test() {
    let (vendors, state) = telegram_peer().await;
    let echoed = echoed_forms(peers::TELEGRAM_TOKEN).join(" | ");
    state.lock().unwrap().last_error_message = Some(format!("Wrong response from the webhook: {echoed}"));
    let account = telegram(peers::TELEGRAM_BOT, peers::TELEGRAM_TOKEN);
    let public = Url::parse("https://cc.acme.example/").unwrap();
    let outcome = run_action(&account, &vendors, Some(&public), "set_webhook", json!({})).await.unwrap();
    let last_error = outcome.webhook.as_ref().unwrap()["last_error_message"].as_str().unwrap();
    assert!(last_error.starts_with("Wrong response from the webhook: [secret] | [secret]"), "{last_error}");
    assert_no_form_of(&outcome, peers::TELEGRAM_TOKEN);

    let token = "123456789:AAH-echoed-s3cr3t";
    let description = format!("Bad Request: {}", echoed_forms(token).join(" | "));
    let echo = axum::Router::new().fallback(move || {
        let description = description.clone();
        async move {
            let body = json!({"ok": false, "error_code": 400, "description": description});
            (axum::http::StatusCode::BAD_REQUEST, axum::Json(body))
        }
    });
    let vendors = vendors_at("telegram", common::http(echo).await, "");
    let report = run_test(&telegram(peers::TELEGRAM_BOT, token), &vendors).await;
    assert_failed(&report, Category::UnexpectedResponse, "Bad Request: [secret] | [secret]");
    assert_no_form_of(&report, token);
}

/// The documented derivation of Telegram's `secret_token`.
fn expected_secret(account_id: &str, token: &str) -> String {
    let digest = Sha256::digest(format!("patchbay telegram webhook\n{account_id}\n{token}\n"));
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn telegram_set_webhook_registers_the_account_url_with_a_derived_secret() {
    let (vendors, state) = telegram_peer().await;
    let account = telegram(peers::TELEGRAM_BOT, peers::TELEGRAM_TOKEN);
    let id = account.id.clone().unwrap();
    let public = Url::parse("https://cc.acme.example/patchbay/").unwrap();
    let outcome = run_action(&account, &vendors, Some(&public), "set_webhook", json!({})).await.unwrap();
    let hook = format!("https://cc.acme.example/patchbay/hooks/{HOOK}");
    assert_eq!(outcome.webhook.as_ref().unwrap()["url"], hook.as_str());
    assert!(outcome.message.contains(&hook), "{}", outcome.message);
    let sent = state.lock().unwrap().secret_token.clone().unwrap();
    assert_eq!(sent, expected_secret(&id, peers::TELEGRAM_TOKEN));
    assert_eq!(sent.len(), 32);
    assert_eq!(state.lock().unwrap().webhook_url, hook);
    assert_eq!(
        step_names(&outcome.steps),
        ["resolve", "connect", "request", "authenticate", "resolve", "connect", "request", "read"]
    );
    assert_secret_free(&outcome, &[peers::TELEGRAM_TOKEN, &sent]);

    // Deterministic per account and token: again the same, another account another.
    run_action(&account, &vendors, Some(&public), "set_webhook", json!({})).await.unwrap();
    assert_eq!(state.lock().unwrap().secret_token.as_deref(), Some(sent.as_str()));
    let mut other = account.clone();
    other.id = Some("01a2b3c4-0000-7000-8000-000000000002".into());
    run_action(&other, &vendors, Some(&public), "set_webhook", json!({})).await.unwrap();
    assert_ne!(state.lock().unwrap().secret_token.as_deref(), Some(sent.as_str()));
}

#[tokio::test]
async fn telegram_set_webhook_uses_the_webhook_url_field_when_set() {
    let (vendors, state) = telegram_peer().await;
    let given = "https://proxy.acme.example/telegram-in";
    let mut account = telegram(peers::TELEGRAM_BOT, peers::TELEGRAM_TOKEN);
    account.properties.insert(messenger::telegram::WEBHOOK_URL.into(), json!(given));
    let outcome = run_action(&account, &vendors, None, "set_webhook", json!({})).await.unwrap();
    assert_eq!(outcome.webhook.as_ref().unwrap()["url"], given);
    assert_eq!(state.lock().unwrap().webhook_url, given);
}

#[tokio::test]
async fn telegram_set_webhook_reports_a_read_back_mismatch() {
    let (vendors, state) = telegram_peer().await;
    state.lock().unwrap().reported_url = Some("https://elsewhere.example/hook".into());
    let public = Url::parse("https://cc.acme.example/").unwrap();
    let account = telegram(peers::TELEGRAM_BOT, peers::TELEGRAM_TOKEN);
    let (failure, steps) = run_action(&account, &vendors, Some(&public), "set_webhook", json!({})).await.unwrap_err();
    assert_eq!(failure.category, Category::UnexpectedResponse, "{failure:?}");
    assert!(failure.message.contains("now reports https://elsewhere.example/hook"), "{}", failure.message);
    assert_eq!(steps.last().unwrap().name, "read");
    assert_secret_free(&steps, &[peers::TELEGRAM_TOKEN]);
}

#[tokio::test]
async fn telegram_set_webhook_needs_an_https_public_url() {
    let (vendors, state) = telegram_peer().await;
    let account = telegram(peers::TELEGRAM_BOT, peers::TELEGRAM_TOKEN);
    let (failure, steps) = run_action(&account, &vendors, None, "set_webhook", json!({})).await.unwrap_err();
    assert_eq!(failure.category, Category::InvalidConfig);
    assert!(failure.message.contains("public URL"), "{}", failure.message);
    assert!(steps.is_empty(), "nothing is sent without a public URL");

    let plain = Url::parse("http://cc.acme.example/").unwrap();
    let (failure, _) = run_action(&account, &vendors, Some(&plain), "set_webhook", json!({})).await.unwrap_err();
    assert_eq!(failure.category, Category::InvalidConfig);
    assert!(failure.message.contains("HTTPS"), "{}", failure.message);
    assert!(state.lock().unwrap().webhook_url.is_empty());
}

// Viber

fn viber(username: &str, token: &str) -> AccountConfig {
    common::account(
        "messenger",
        "viber",
        json!({messenger::viber::BOT_USERNAME: username, messenger::viber::WEBHOOK_URL_HOST_AND_PORT: "old.acme.example:8443"}),
        &[(messenger::viber::TOKEN, token)],
    )
}

async fn viber_peer() -> (VendorUrls, Arc<Mutex<peers::ViberState>>) {
    let state = Arc::new(Mutex::new(peers::ViberState::default()));
    let addr = common::http(peers::viber(state.clone())).await;
    (vendors_at("viber", addr, ""), state)
}

#[tokio::test]
async fn viber_token_passes_when_the_account_name_or_uri_matches() {
    let (vendors, _) = viber_peer().await;
    for username in [peers::VIBER_URI, "acme support"] {
        let report = run_test(&viber(username, peers::VIBER_TOKEN), &vendors).await;
        assert_ok(&report);
        assert!(report.message.contains(peers::VIBER_NAME), "{}", report.message);
        assert_secret_free(&report, &[peers::VIBER_TOKEN]);
    }
}

#[tokio::test]
async fn viber_invalid_auth_token_is_invalid_credentials() {
    let (vendors, _) = viber_peer().await;
    let report = run_test(&viber(peers::VIBER_URI, "viber-wrong-s3cr3t"), &vendors).await;
    assert_failed(&report, Category::InvalidCredentials, "invalidAuthToken");
    assert_secret_free(&report, &["viber-wrong-s3cr3t"]);
}

#[tokio::test]
async fn viber_token_of_another_account_names_it() {
    let (vendors, _) = viber_peer().await;
    let report = run_test(&viber("acmesales", peers::VIBER_TOKEN), &vendors).await;
    assert_failed(&report, Category::InvalidConfig, "Acme Support (URI acmesupport), not to acmesales");
}

#[tokio::test]
async fn viber_set_webhook_sets_the_host_and_port_and_reads_it_back() {
    let (vendors, state) = viber_peer().await;
    let account = viber(peers::VIBER_URI, peers::VIBER_TOKEN);
    let params = json!({messenger::viber::WEBHOOK_URL_HOST_AND_PORT: "office.acme.example:1234"});
    let outcome = run_action(&account, &vendors, None, "set_webhook", params).await.unwrap();
    let hook = format!("https://office.acme.example:1234/hooks/{HOOK}");
    assert_eq!(state.lock().unwrap().webhook, hook);
    assert_eq!(outcome.webhook.as_ref().unwrap()["url"], hook.as_str());
    assert_eq!(outcome.webhook.as_ref().unwrap()["event_types"][0], "delivered");
    assert_eq!(step_names(&outcome.steps).last(), Some(&"read"));
    assert_secret_free(&outcome, &[peers::VIBER_TOKEN]);
}

#[tokio::test]
async fn viber_set_webhook_reports_a_read_back_mismatch() {
    let (vendors, state) = viber_peer().await;
    state.lock().unwrap().reported_webhook = Some("https://elsewhere.example/viber".into());
    let account = viber(peers::VIBER_URI, peers::VIBER_TOKEN);
    let params = json!({messenger::viber::WEBHOOK_URL_HOST_AND_PORT: "office.acme.example:1234"});
    let (failure, _) = run_action(&account, &vendors, None, "set_webhook", params).await.unwrap_err();
    assert_eq!(failure.category, Category::UnexpectedResponse, "{failure:?}");
    assert!(failure.message.contains("now reports https://elsewhere.example/viber"), "{}", failure.message);
}

#[tokio::test]
async fn viber_set_webhook_refused_by_viber_or_malformed_is_invalid_config() {
    let (vendors, state) = viber_peer().await;
    let account = viber(peers::VIBER_URI, peers::VIBER_TOKEN);
    let refused =
        json!({messenger::viber::WEBHOOK_URL_HOST_AND_PORT: format!("{}:443", peers::VIBER_UNREACHABLE_HOST)});
    let (failure, _) = run_action(&account, &vendors, None, "set_webhook", refused).await.unwrap_err();
    assert_eq!(failure.category, Category::InvalidConfig, "{failure:?}");
    assert!(failure.message.contains("invalidUrl"), "{}", failure.message);

    for malformed in ["office.acme.example", "office.acme.example:1234/path", "user@office.acme.example:1"] {
        let params = json!({ messenger::viber::WEBHOOK_URL_HOST_AND_PORT: malformed });
        let (failure, steps) = run_action(&account, &vendors, None, "set_webhook", params).await.unwrap_err();
        assert_eq!(failure.category, Category::InvalidConfig, "{malformed}: {failure:?}");
        assert!(steps.is_empty(), "{malformed}: nothing is sent");
    }
    assert!(state.lock().unwrap().webhook.is_empty());
}

// Alterra

fn alterra(addr: SocketAddr, path: &str, key: Option<&str>) -> AccountConfig {
    let properties = json!({chat_bot::alterra::URL: format!("http://{addr}{path}"), chat_bot::alterra::METHOD: "POST", chat_bot::alterra::USE_URL_ENCODE: false, chat_bot::alterra::MAXIMUM_SUGGESTIONS: 1});
    let secrets: Vec<(&str, &str)> = key.map(|k| ("api_key", k)).into_iter().collect();
    common::account("chat_bot", "alterra", properties, &secrets)
}

#[tokio::test]
async fn alterra_api_key_passes() {
    let addr = common::http(peers::alterra()).await;
    let report = run_test(&alterra(addr, "/demo/api", Some(peers::ALTERRA_KEY)), &VendorUrls::default()).await;
    assert_ok(&report);
    assert_secret_free(&report, &[peers::ALTERRA_KEY]);
}

#[tokio::test]
async fn alterra_wrong_or_missing_key_is_invalid_credentials() {
    let addr = common::http(peers::alterra()).await;
    let report = run_test(&alterra(addr, "/demo/api", Some("alterra-wrong-s3cr3t")), &VendorUrls::default()).await;
    assert_failed(&report, Category::InvalidCredentials, "refused the API key");
    assert_secret_free(&report, &["alterra-wrong-s3cr3t"]);
    let report = run_test(&alterra(addr, "/demo/api", None), &VendorUrls::default()).await;
    assert_failed(&report, Category::InvalidCredentials, "set API key");
}

#[tokio::test]
async fn alterra_url_without_the_bot_is_not_found() {
    let addr = common::http(peers::alterra()).await;
    let report = run_test(&alterra(addr, "/demo/apx", Some(peers::ALTERRA_KEY)), &VendorUrls::default()).await;
    assert_failed(&report, Category::NotFound, "HTTP 404");
}

#[tokio::test]
async fn alterra_url_answering_a_web_page_is_unexpected() {
    let addr = common::http(peers::not_the_vendor()).await;
    let report = run_test(&alterra(addr, "/demo/api", Some(peers::ALTERRA_KEY)), &VendorUrls::default()).await;
    assert_failed(&report, Category::UnexpectedResponse, "not JSON");
}

// Watson Conversation

fn watson_conversation(url: String, workspace: &str, password: &str) -> AccountConfig {
    common::account(
        "chat_bot",
        "watson",
        json!({chat_bot::watson::URL: url, chat_bot::watson::WORKSPACE_ID: workspace, chat_bot::watson::USERNAME: peers::WATSON_USER, chat_bot::watson::MAXIMUM_SUGGESTIONS: 3}),
        &[(chat_bot::watson::PASSWORD, password)],
    )
}

#[tokio::test]
async fn watson_conversation_workspace_passes_with_or_without_a_trailing_slash() {
    let addr = common::http(peers::watson_conversation()).await;
    for prefix in ["/conversation/api/v1/workspaces/", "/conversation/api/v1/workspaces"] {
        let account =
            watson_conversation(format!("http://{addr}{prefix}"), peers::WATSON_WORKSPACE, peers::WATSON_PASSWORD);
        let report = run_test(&account, &VendorUrls::default()).await;
        assert_ok(&report);
        assert!(report.message.contains("Acme support bot"), "{}", report.message);
        assert_secret_free(&report, &[peers::WATSON_PASSWORD]);
    }
}

#[tokio::test]
async fn watson_conversation_wrong_password_is_invalid_credentials() {
    let addr = common::http(peers::watson_conversation()).await;
    let url = format!("http://{addr}/conversation/api/v1/workspaces/");
    let report =
        run_test(&watson_conversation(url, peers::WATSON_WORKSPACE, "wrong-s3cr3t"), &VendorUrls::default()).await;
    assert_failed(&report, Category::InvalidCredentials, "HTTP 401");
    assert_secret_free(&report, &["wrong-s3cr3t"]);
}

#[tokio::test]
async fn watson_conversation_unknown_workspace_is_not_found() {
    let addr = common::http(peers::watson_conversation()).await;
    let url = format!("http://{addr}/conversation/api/v1/workspaces/");
    let report =
        run_test(&watson_conversation(url, "no-such-workspace", peers::WATSON_PASSWORD), &VendorUrls::default()).await;
    assert_failed(&report, Category::NotFound, "workspace no-such-workspace was not found");
    assert_eq!(
        report.steps.iter().find(|s| s.name == "authenticate").unwrap().status,
        patchbay_connectors::StepStatus::Ok
    );
}

// Watson Natural Language Understanding

fn nlu(url: String, password: &str) -> AccountConfig {
    common::account(
        "nlu",
        "default",
        json!({nlu::URL: url, nlu::METHOD: "POST", nlu::USERNAME: peers::WATSON_USER, nlu::LIMIT: 100}),
        &[(nlu::PASSWORD, password)],
    )
}

#[tokio::test]
async fn nlu_analyze_passes_with_or_without_a_version() {
    let addr = common::http(peers::watson_nlu()).await;
    for query in ["?version=2017-02-27", ""] {
        let url = format!("http://{addr}/natural-language-understanding/api/v1/analyze{query}");
        let report = run_test(&nlu(url, peers::WATSON_PASSWORD), &VendorUrls::default()).await;
        assert_ok(&report);
        assert!(report.message.contains("neutral"), "{}", report.message);
        assert_secret_free(&report, &[peers::WATSON_PASSWORD]);
    }
}

#[tokio::test]
async fn nlu_wrong_password_is_invalid_credentials() {
    let addr = common::http(peers::watson_nlu()).await;
    let url = format!("http://{addr}/natural-language-understanding/api/v1/analyze?version=2017-02-27");
    let report = run_test(&nlu(url, "wrong-s3cr3t"), &VendorUrls::default()).await;
    assert_failed(&report, Category::InvalidCredentials, "HTTP 401");
    assert_secret_free(&report, &["wrong-s3cr3t"]);
}

#[tokio::test]
async fn nlu_url_that_is_not_the_analyze_endpoint_is_not_found() {
    let addr = common::http(peers::watson_nlu()).await;
    let url = format!("http://{addr}/natural-language-understanding/api/v1/analyse?version=2017-02-27");
    let report = run_test(&nlu(url, peers::WATSON_PASSWORD), &VendorUrls::default()).await;
    assert_failed(&report, Category::NotFound, "analyze URL was not found");
}

// Watson Text to Speech

fn watson_tts(url: String, password: &str, voice: Option<&str>) -> AccountConfig {
    let mut properties = json!({tts::watson::URL: url, tts::watson::USER_NAME: peers::WATSON_USER});
    if let Some(voice) = voice {
        properties[tts::watson::VOICE] = json!(voice);
    }
    common::account("tts", "watson", properties, &[(tts::watson::PASSWORD, password)])
}

#[tokio::test]
async fn watson_tts_credentials_pass_with_the_spec_message() {
    let addr = common::http(peers::watson_tts()).await;
    for path in ["/text-to-speech/api/v1/", "/text-to-speech/api/v1"] {
        let account = watson_tts(format!("http://{addr}{path}"), peers::WATSON_PASSWORD, Some("en-US_LisaV3Voice"));
        let report = run_test(&account, &VendorUrls::default()).await;
        assert_ok(&report);
        assert_eq!(report.message, "Account credentials appear to be valid.");
        assert_eq!(report.steps.last().unwrap().name, "voice");
        assert_secret_free(&report, &[peers::WATSON_PASSWORD]);
    }
}

#[tokio::test]
async fn watson_tts_wrong_password_is_invalid_credentials() {
    let addr = common::http(peers::watson_tts()).await;
    let report = run_test(
        &watson_tts(format!("http://{addr}/text-to-speech/api/v1/"), "wrong-s3cr3t", None),
        &VendorUrls::default(),
    )
    .await;
    assert_failed(&report, Category::InvalidCredentials, "HTTP 401");
    assert_secret_free(&report, &["wrong-s3cr3t"]);
}

#[tokio::test]
async fn watson_tts_voice_not_offered_or_wrong_url_fails() {
    let addr = common::http(peers::watson_tts()).await;
    let url = format!("http://{addr}/text-to-speech/api/v1/");
    let report =
        run_test(&watson_tts(url, peers::WATSON_PASSWORD, Some("en-GB_KateVoice")), &VendorUrls::default()).await;
    assert_failed(&report, Category::InvalidConfig, "en-GB_KateVoice is not offered");
    let url = format!("http://{addr}/speech-to-text/api/v1/");
    let report = run_test(&watson_tts(url, peers::WATSON_PASSWORD, None), &VendorUrls::default()).await;
    assert_failed(&report, Category::NotFound, "no voices list");
}

#[tokio::test]
async fn watson_tts_load_voices_lists_names_and_descriptions() {
    let addr = common::http(peers::watson_tts()).await;
    let account = watson_tts(format!("http://{addr}/text-to-speech/api/v1/"), peers::WATSON_PASSWORD, None);
    let outcome = run_action(&account, &VendorUrls::default(), None, "load_voices", json!({})).await.unwrap();
    assert_eq!(outcome.voices.len(), 3);
    assert_eq!(outcome.voices[0].name, "en-US_LisaV3Voice");
    assert_eq!(outcome.voices[0].label, "Lisa: American English female voice.");
    assert_eq!(step_names(&outcome.steps), ["resolve", "connect", "request", "authenticate", "read"]);
    assert_secret_free(&outcome, &[peers::WATSON_PASSWORD]);
    let (failure, _) = run_action(
        &watson_tts(format!("http://{addr}/text-to-speech/api/v1/"), "wrong-s3cr3t", None),
        &VendorUrls::default(),
        None,
        "load_voices",
        json!({}),
    )
    .await
    .unwrap_err();
    assert_eq!(failure.category, Category::InvalidCredentials);
}

// Google Cloud Text-to-Speech

fn google_tts(key: &str, voice: Option<&str>) -> AccountConfig {
    let mut properties = json!({tts::google::URL: "https://www.googleapis.com/auth/cloud-platform"});
    if let Some(voice) = voice {
        properties[tts::google::VOICE] = json!(voice);
    }
    common::account("tts", "google", properties, &[(tts::google::API_KEY, key)])
}

async fn google_vendors() -> VendorUrls {
    vendors_at("google_tts", common::http(peers::google_tts()).await, "")
}

#[tokio::test]
async fn google_tts_key_passes_with_the_spec_message() {
    let report = run_test(&google_tts(peers::GOOGLE_KEY, Some("en-US-Standard-C")), &google_vendors().await).await;
    assert_ok(&report);
    assert_eq!(report.message, "Account credentials appear to be valid.");
    let request = report.steps.iter().find(|s| s.name == "request").unwrap();
    assert!(request.detail.ends_with("/v1/voices -> HTTP 200"), "{request:?}");
    assert_secret_free(&report, &[peers::GOOGLE_KEY]);
}

#[tokio::test]
async fn google_tts_invalid_key_is_invalid_credentials() {
    let report = run_test(&google_tts("AIzaSyD-wrong-s3cr3t", None), &google_vendors().await).await;
    assert_failed(&report, Category::InvalidCredentials, "API key not valid");
    assert_secret_free(&report, &["AIzaSyD-wrong-s3cr3t"]);
}

#[tokio::test]
async fn google_tts_key_of_a_project_without_the_api_lacks_permission() {
    let report = run_test(&google_tts(peers::GOOGLE_DISABLED_KEY, None), &google_vendors().await).await;
    assert_failed(&report, Category::Permission, "has not been used in project");
    assert_secret_free(&report, &[peers::GOOGLE_DISABLED_KEY]);
}

#[tokio::test]
async fn google_tts_voice_not_offered_is_invalid_config() {
    let report = run_test(&google_tts(peers::GOOGLE_KEY, Some("en-US-Wavenet-Z")), &google_vendors().await).await;
    assert_failed(&report, Category::InvalidConfig, "en-US-Wavenet-Z is not offered");
}

#[tokio::test]
async fn google_tts_load_voices_lists_names_languages_and_genders() {
    let vendors = google_vendors().await;
    let outcome =
        run_action(&google_tts(peers::GOOGLE_KEY, None), &vendors, None, "load_voices", json!({})).await.unwrap();
    let names: Vec<&str> = outcome.voices.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["en-US-Standard-C", "es-ES-Standard-A", "ja-JP-Standard-D"]);
    assert_eq!(outcome.voices[2].label, "ja-JP-Standard-D (ja-JP, male)");
    assert!(outcome.message.starts_with("3 voices"), "{}", outcome.message);
    assert_secret_free(&outcome, &[peers::GOOGLE_KEY]);
}

// Every provider

/// One account per provider with `addr` as its vendor, and the secrets it holds.
fn every_provider_at(addr: SocketAddr) -> Vec<(AccountConfig, VendorUrls, &'static str)> {
    let base = format!("http://{addr}");
    vec![
        (facebook(peers::FB_PAGE_TOKEN), vendors_at("facebook", addr, "v19.0/"), peers::FB_PAGE_TOKEN),
        (line(peers::LINE_TOKEN), vendors_at("line", addr, ""), peers::LINE_TOKEN),
        (nexmo(peers::NEXMO_SECRET), vendors_at("nexmo", addr, ""), peers::NEXMO_SECRET),
        (telegram(peers::TELEGRAM_BOT, peers::TELEGRAM_TOKEN), vendors_at("telegram", addr, ""), peers::TELEGRAM_TOKEN),
        (viber(peers::VIBER_URI, peers::VIBER_TOKEN), vendors_at("viber", addr, ""), peers::VIBER_TOKEN),
        (alterra(addr, "/demo/api", Some(peers::ALTERRA_KEY)), VendorUrls::default(), peers::ALTERRA_KEY),
        (
            watson_conversation(
                format!("{base}/conversation/api/v1/workspaces/"),
                peers::WATSON_WORKSPACE,
                peers::WATSON_PASSWORD,
            ),
            VendorUrls::default(),
            peers::WATSON_PASSWORD,
        ),
        (
            nlu(format!("{base}/natural-language-understanding/api/v1/analyze"), peers::WATSON_PASSWORD),
            VendorUrls::default(),
            peers::WATSON_PASSWORD,
        ),
        (
            watson_tts(format!("{base}/text-to-speech/api/v1/"), peers::WATSON_PASSWORD, None),
            VendorUrls::default(),
            peers::WATSON_PASSWORD,
        ),
        (google_tts(peers::GOOGLE_KEY, None), vendors_at("google_tts", addr, ""), peers::GOOGLE_KEY),
    ]
}

#[tokio::test]
async fn every_provider_reports_a_closed_port_as_unreachable() {
    let closed = common::closed_port();
    let egress = common::egress(None);
    let cases = every_provider_at(closed);
    let registry = Registry::with([]);
    let reports = futures::future::join_all(cases.iter().map(|(account, vendors, _)| {
        let registry = &registry;
        let egress = &egress;
        async move { registry.test(&common::context(egress, account, vendors)).await }
    }))
    .await;
    for ((account, _, secret), report) in cases.iter().zip(&reports) {
        let who = format!("{}/{}", account.type_key, account.provider);
        assert_eq!(report.category, Some(Category::Unreachable), "{who}: {report:#?}");
        assert_eq!(report.steps.last().unwrap().name, "connect", "{who}");
        assert_secret_free(report, &[secret]);
    }
}

#[tokio::test]
async fn every_provider_reports_a_hung_vendor_as_timeout_within_its_timeout() {
    let hung = common::hung().await;
    let egress = common::egress(None);
    let cases = every_provider_at(hung);
    let registry = Registry::with([]);
    let started = Instant::now();
    let reports = futures::future::join_all(cases.iter().map(|(account, vendors, _)| {
        let registry = &registry;
        let egress = &egress;
        async move {
            let mut cx = common::context(egress, account, vendors);
            cx.timeout = Duration::from_millis(300);
            registry.test(&cx).await
        }
    }))
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "hung vendors cost only their timeout: {:?}",
        started.elapsed()
    );
    for ((account, _, secret), report) in cases.iter().zip(&reports) {
        let who = format!("{}/{}", account.type_key, account.provider);
        assert_eq!(report.category, Some(Category::Timeout), "{who}: {report:#?}");
        assert_eq!(report.steps.last().unwrap().name, "request", "{who}");
        assert_secret_free(report, &[secret]);
    }
}

#[tokio::test]
async fn every_provider_has_a_connector_and_refuses_unknown_actions() {
    let registry = Registry::with([]);
    let addr = common::closed_port();
    for (account, vendors, _) in every_provider_at(addr) {
        assert!(
            registry.get(&account.type_key, &account.provider).is_some(),
            "{}/{}",
            account.type_key,
            account.provider
        );
        let (failure, steps) = run_action(&account, &vendors, None, "reboot", json!({})).await.unwrap_err();
        assert_eq!(failure.category, Category::InvalidConfig, "{}/{}", account.type_key, account.provider);
        assert!(steps.is_empty());
    }
}

#[tokio::test]
async fn missing_settings_are_invalid_config_before_any_request() {
    let addr = common::closed_port();
    for (mut account, vendors, _) in every_provider_at(addr) {
        account.secrets.clear();
        let report = run_test(&account, &vendors).await;
        let who = format!("{}/{}", account.type_key, account.provider);
        if account.provider == "alterra" {
            // Alterra's API key is optional: the test goes out without it.
            assert_eq!(report.category, Some(Category::Unreachable), "{who}: {report:#?}");
        } else {
            assert_eq!(report.category, Some(Category::InvalidConfig), "{who}: {report:#?}");
            assert!(report.steps.is_empty(), "{who}");
        }
    }
}
