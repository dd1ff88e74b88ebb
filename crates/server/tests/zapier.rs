//! The API Zapier calls, through the server, on both backends: HTTP Basic with a Zapier
//! account's credentials (and nothing else), failures audited without the password, the
//! lock-out after ten failures; each polling trigger newest first with unique, stable ids;
//! a REST hook subscribed, delivered signed, retried, unsubscribed; the actions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchbay_catalog::keys::{messenger, statistics_receiver, zapier};
use patchbay_testkit::vendors::inbound::{self, Messenger, Policy};
use patchbay_testkit::{backend_test, Reply, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const ZAPIER: &str = "/api/v1/tenants/acme/zapier";
const ACCOUNTS: &str = "/api/v1/tenants/acme/integration-accounts";
const PASSWORD: &str = "zap-pa:ss-s3cr3t";
const TELEGRAM_TOKEN: &str = "123456:AAH-telegram-s3cr3t";

struct Zap {
    s: TestServer,
    http: reqwest::Client,
}

async fn setup(db: &TestDatabase) -> Zap {
    let s = TestServer::start(db).await;
    let r = s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme", "name": "Acme Support"}))).await;
    assert_eq!(r.status, 201, "{r:?}");
    for (name, username, enabled) in [("Zapier", "zap", true), ("Old Zapier", "old", false)] {
        let body = json!({"type": "zapier", "name": name, "enabled": enabled,
            "properties": {zapier::USERNAME: username, zapier::PASSWORD: PASSWORD}});
        let r = s.call(Method::POST, ACCOUNTS, Some(body)).await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    Zap { s, http: reqwest::Client::new() }
}

impl Zap {
    async fn call(&self, user: &str, password: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request =
            self.http.request(method, format!("{}{ZAPIER}{path}", self.s.base)).basic_auth(user, Some(password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    async fn zap(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call("zap", PASSWORD, method, path, body).await
    }

    async fn ids(&self, trigger: &str) -> Vec<String> {
        let r = self.zap(Method::GET, &format!("/triggers/{trigger}"), None).await;
        assert_eq!(r.status, 200, "{r:?}");
        r.body.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
    }

    /// A Telegram account of the tenant and how to send it a customer's message.
    async fn telegram(&self) -> (String, Messenger) {
        let body = json!({"type": "messenger", "provider": "telegram", "name": "Telegram",
            "properties": {messenger::telegram::BOT_USERNAME: "acme_bot", messenger::telegram::TOKEN: TELEGRAM_TOKEN}});
        let r = self.s.call(Method::POST, ACCOUNTS, Some(body)).await;
        assert_eq!(r.status, 201, "{r:?}");
        let id = r.body["id"].as_str().unwrap();
        let url = r.body["inbound_webhook_url"].as_str().unwrap();
        let url = if url.starts_with('/') { format!("{}{url}", self.s.base) } else { url.to_owned() };
        (url, Messenger::Telegram { secret_token: patchbay_connectors::telegram_webhook_secret(id, TELEGRAM_TOKEN) })
    }

    async fn message(&self, (url, telegram): &(String, Messenger), n: i64, chat: i64, text: &str) {
        let attempts = inbound::deliver(
            &self.http,
            url,
            telegram,
            &inbound::telegram_message(n, chat, "Ada", text),
            Policy::default(),
        )
        .await;
        assert_eq!(attempts.last().copied().flatten(), Some(200), "{attempts:?}");
    }

    /// Waits (at most 10 s) until the trigger has `n` items.
    async fn wait_for(&self, trigger: &str, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let ids = self.ids(trigger).await;
            if ids.len() >= n {
                return ids;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{trigger} never had {n} items");
    }
}

backend_test! {
    #[tokio::test]
    async fn only_an_enabled_zapier_accounts_credentials_get_in_and_failures_are_audited_without_the_password(db) {
        let z = setup(&db).await;
        let me = z.zap(Method::GET, "/me", None).await;
        assert_eq!(me.status, 200, "{}: {me:?}", db.backend);
        assert_eq!((me.body["tenant"].as_str(), me.body["tenant_name"].as_str()), (Some("acme"), Some("Acme Support")));
        assert_eq!(me.body["account_name"], "Zapier");

        let none = Reply::read(z.http.get(format!("{}{ZAPIER}/me", z.s.base)).send().await.unwrap()).await;
        assert_eq!(none.status, 401, "{}", db.backend);
        assert_eq!(none.headers["www-authenticate"], "Basic realm=\"patchbay\"");
        let bearer = z.s.call(Method::GET, &format!("{ZAPIER}/me"), None).await;
        assert_eq!(bearer.status, 401, "{}: a token, even the provider's, is no Zapier credential", db.backend);
        assert_eq!(z.call("zap", "wrong", Method::GET, "/me", None).await.status, 401);
        assert_eq!(z.call("old", PASSWORD, Method::GET, "/me", None).await.status, 401, "a disabled account");
        assert_eq!(z.call("nobody", PASSWORD, Method::GET, "/me", None).await.status, 401);
        let other = z.s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "globex"}))).await;
        assert_eq!(other.status, 201);
        let r = Reply::read(z.http.get(format!("{}/api/v1/tenants/globex/zapier/me", z.s.base))
            .basic_auth("zap", Some(PASSWORD)).send().await.unwrap()).await;
        assert_eq!(r.status, 401, "{}: another tenant's credentials", db.backend);

        let audit = z.s.call(Method::GET, "/api/v1/tenants/acme/audit", None).await;
        let failed: Vec<&Value> =
            audit.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "zapier.sign_in_failed").collect();
        assert_eq!(failed.len(), 3, "{}: {audit:?}", db.backend);
        assert!(failed.iter().any(|e| e["changes"]["username"] == "nobody"));
        assert!(!audit.text.contains(PASSWORD) && !audit.text.contains("wrong"), "{}: a password in the audit", db.backend);
    }
}

backend_test! {
    #[tokio::test]
    async fn ten_failures_in_a_minute_lock_the_username_out_even_with_the_right_password(db) {
        let z = setup(&db).await;
        for _ in 0..10 {
            assert_eq!(z.call("zap", "guess", Method::GET, "/me", None).await.status, 401);
        }
        let locked = z.zap(Method::GET, "/me", None).await;
        assert_eq!(locked.status, 429, "{}: {locked:?}", db.backend);
        let retry: u64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(z.call("nobody", "x", Method::GET, "/me", None).await.status, 401, "another username is not locked");
        let metrics = z.s.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"patchbay_zapier_sign_in_failures_total{outcome="refused"} 11"#), "{metrics}");
        assert!(metrics.contains(r#"patchbay_zapier_sign_in_failures_total{outcome="locked"} 1"#), "{metrics}");
    }
}

backend_test! {
    #[tokio::test]
    async fn each_trigger_lists_its_newest_items_first_with_stable_unique_ids(db) {
        let z = setup(&db).await;
        for trigger in ["new_conversation_message", "conversation_started", "new_recording", "export_run_finished",
            "account_health_changed"] {
            assert!(z.ids(trigger).await.is_empty(), "{}: {trigger} starts empty", db.backend);
        }
        let r = z.zap(Method::GET, "/triggers/new_everything", None).await;
        assert_eq!(r.status, 400, "{r:?}");
        assert_eq!(z.zap(Method::GET, "/triggers/new_recording?limit=0", None).await.status, 422);

        for id in ["rec-1", "rec-2", "rec-3"] {
            let meta = json!({"global_interaction_id": format!("gi-{id}"), "call_started_at": "2024-05-01T09:30:15Z",
                "agent_login": "jo", "customer_phone": "+1 555 0100", "direction": "inbound", "service": "Sales"});
            let r = z.s.call(Method::PUT, &format!("/api/v1/tenants/acme/recordings/{id}"), Some(meta)).await;
            assert_eq!(r.status, 201, "{r:?}");
        }
        let recordings = z.ids("new_recording").await;
        assert_eq!(recordings, ["rec-3", "rec-2", "rec-1"], "{}: newest first", db.backend);
        assert_eq!(z.ids("new_recording").await, recordings, "{}: stable across polls", db.backend);
        let r = z.zap(Method::GET, "/triggers/new_recording?limit=2", None).await;
        assert_eq!(r.body.as_array().unwrap().len(), 2);
        assert_eq!(r.body[0]["customer_phone"], "+1 555 0100");

        let telegram = z.telegram().await;
        z.message(&telegram, 1, 4242, "hello").await;
        z.message(&telegram, 2, 4242, "anyone there?").await;
        z.message(&telegram, 3, 5151, "hi from Bob").await;
        let messages = z.wait_for("new_conversation_message", 3).await;
        let started = z.wait_for("conversation_started", 2).await;
        let r = z.zap(Method::GET, "/triggers/new_conversation_message", None).await;
        let texts: Vec<&str> = r.body.as_array().unwrap().iter().map(|i| i["message"]["text"].as_str().unwrap()).collect();
        assert_eq!(texts, ["hi from Bob", "anyone there?", "hello"], "{}", db.backend);
        assert_eq!(z.ids("new_conversation_message").await, messages, "{}: stable", db.backend);
        let mut all = messages.clone();
        all.extend(started.clone());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5, "{}: ids unique across the conversation triggers", db.backend);

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = json!({"type": "statistics_receiver", "name": "Stats",
            "properties": {statistics_receiver::HOST_NAME: "127.0.0.1", statistics_receiver::PORT: port}});
        let r = z.s.call(Method::POST, ACCOUNTS, Some(body)).await;
        assert_eq!(r.status, 201, "{r:?}");
        let test = format!("{ACCOUNTS}/{}/test", r.body["id"].as_str().unwrap());
        assert_eq!(z.s.call(Method::POST, &test, None).await.body["status"], "ok");
        assert_eq!(z.s.call(Method::POST, &test, None).await.body["status"], "ok");
        drop(listener);
        assert_eq!(z.s.call(Method::POST, &test, None).await.body["status"], "failed");
        let r = z.zap(Method::GET, "/triggers/account_health_changed", None).await;
        let changes = r.body.as_array().unwrap();
        assert_eq!(changes.len(), 2, "{}: the first test and the change to failed, not the repeat: {r:?}", db.backend);
        assert_eq!((changes[0]["status"].as_str(), changes[0]["previous_status"].as_str()), (Some("failed"), Some("ok")));
        assert_eq!((changes[1]["status"].as_str(), changes[1]["previous_status"].as_str()), (Some("ok"), None));
        assert_eq!(changes[0]["account_name"], "Stats");
        assert_ne!(changes[0]["id"], changes[1]["id"]);
        let zapier_account = z.s.call(Method::GET, &format!("{ACCOUNTS}?type=zapier"), None).await.body["items"][0]["id"].clone();
        let r = z.s.call(Method::POST, &format!("{ACCOUNTS}/{}/test", zapier_account.as_str().unwrap()), None).await;
        assert_eq!(r.body["status"], "unsupported", "{r:?}");
        let r = z.zap(Method::GET, "/triggers/account_health_changed", None).await;
        assert_eq!(r.body[0]["status"], "unsupported", "{}: told as it is: {r:?}", db.backend);
    }
}

/// A hook target: answers 500 to the first `failures` POSTs, then 200; keeps what came.
async fn target(failures: usize) -> (String, Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>>) {
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>> = Arc::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/zap",
        axum::routing::post(move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                let mut kept = kept.lock().unwrap();
                kept.push((headers, body));
                if kept.len() <= failures {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/zap", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

backend_test! {
    #[tokio::test]
    async fn a_rest_hook_gets_new_items_signed_and_retried_until_unsubscribed(db) {
        let z = setup(&db).await;
        let (url, got) = target(1).await;
        let r = z.zap(Method::POST, "/hooks", Some(json!({"target_url": url, "event": "new_conversation_message"}))).await;
        assert_eq!(r.status, 201, "{}: {r:?}", db.backend);
        let hook = r.body["id"].as_str().unwrap().to_owned();
        assert!(r.body["secret"].as_str().unwrap().starts_with("whsec_"), "{r:?}");
        let polled = z.zap(Method::POST, "/hooks", Some(json!({"target_url": url, "event": "new_recording"}))).await;
        assert_eq!(polled.status, 422, "{}: new_recording is polled: {polled:?}", db.backend);

        let telegram = z.telegram().await;
        z.message(&telegram, 1, 4242, "hook me").await;
        let mut delivered = Vec::new();
        for _ in 0..200 {
            delivered = got.lock().unwrap().clone();
            if delivered.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(delivered.len(), 2, "{}: refused once, then delivered again: {delivered:?}", db.backend);
        let (headers, item) = &delivered[1];
        assert_eq!(item["type"], "message_in");
        assert_eq!(item["message"]["text"], "hook me");
        assert_eq!(delivered[0].1, delivered[1].1, "the same item again");
        let polled = z.ids("new_conversation_message").await;
        assert_eq!(item["id"].as_str(), polled.first().map(String::as_str), "{}: a hook item is the polled item", db.backend);
        assert!(headers["webhook-signature"].to_str().unwrap().starts_with("v1,"), "{headers:?}");
        assert!(headers.contains_key("webhook-id") && headers.contains_key("webhook-timestamp"));

        let other = z.s.call(Method::POST, ACCOUNTS, Some(json!({"type": "zapier", "name": "Zapier 2",
            "properties": {zapier::USERNAME: "zap2", zapier::PASSWORD: PASSWORD}}))).await;
        assert_eq!(other.status, 201);
        let r = z.call("zap2", PASSWORD, Method::DELETE, &format!("/hooks/{hook}"), None).await;
        assert_eq!(r.status, 404, "{}: another Zapier account's hook", db.backend);
        assert_eq!(z.zap(Method::DELETE, &format!("/hooks/{hook}"), None).await.status, 204);
        assert_eq!(z.zap(Method::DELETE, &format!("/hooks/{hook}"), None).await.status, 404);
        z.message(&telegram, 2, 4242, "after unsubscribing").await;
        z.wait_for("new_conversation_message", 2).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(got.lock().unwrap().len(), 2, "{}: nothing after unsubscribing", db.backend);
    }
}

backend_test! {
    #[tokio::test]
    async fn actions_add_an_article_answer_a_conversation_and_look_up_contacts(db) {
        let z = setup(&db).await;
        let r = z.zap(Method::POST, "/actions/create_kb_article",
            Some(json!({"title": "Refunds", "body": "Refunds take five days."}))).await;
        assert_eq!(r.status, 201, "{}: {r:?}", db.backend);
        let kb = z.s.call(Method::GET, "/api/v1/tenants/acme/kb/articles", None).await;
        assert_eq!(kb.body["items"][0]["created_by"].as_str().map(|a| a.starts_with("zapier:Zapier (")), Some(true), "{kb:?}");
        let r = z.zap(Method::POST, "/actions/create_kb_article", Some(json!({"title": "", "body": "x"}))).await;
        assert_eq!(r.status, 422, "{r:?}");

        let nowhere = uuid::Uuid::now_v7();
        let r = z.zap(Method::POST, "/actions/send_message", Some(json!({"conversation_id": nowhere, "text": "hi"}))).await;
        assert_eq!(r.status, 404, "{}: {r:?}", db.backend);
        let telegram = z.telegram().await;
        z.message(&telegram, 1, 4242, "where is my order?").await;
        let events = z.wait_for("conversation_started", 1).await;
        assert_eq!(events.len(), 1);
        let started = z.zap(Method::GET, "/triggers/conversation_started", None).await;
        let conversation = started.body[0]["conversation_id"].clone();
        let r = z.zap(Method::POST, "/actions/send_message", Some(json!({"conversation_id": conversation, "text": "On its way"}))).await;
        assert_eq!(r.status, 202, "{}: {r:?}", db.backend);
        assert_eq!((r.body["direction"].as_str(), r.body["text"].as_str()), (Some("out"), Some("On its way")));

        let r = z.zap(Method::POST, "/actions/lookup_contact", Some(json!({"phone": "+1 555 0100"}))).await;
        assert_eq!(r.status, 409, "{}: no CRM account yet: {r:?}", db.backend);
        assert!(r.text.contains("no_account"), "{r:?}");
    }
}
