//! The messenger edge through the server, on both backends: deliveries sent as each vendor
//! sends them (`patchbay_testkit::vendors::inbound`) to the accounts' inbound webhooks;
//! proofs valid, missing, wrong and replayed; Facebook's handshake; refusals by size,
//! content type, account state and hook; a vendor retrying after a slow answer; events by
//! long-poll and Server-Sent Events, a stream's end when its token is revoked or the server
//! stops; a delivery kept before a crash read after the restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchbay_catalog::keys::messenger;
use patchbay_testkit::vendors::inbound::{self, Messenger, Policy};
use patchbay_testkit::vendors::outbound::{self, OutboundState, Scripted};
use patchbay_testkit::{backend_test, EventStream, Reply, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const ACCOUNTS: &str = "/api/v1/tenants/acme/integration-accounts";
const EVENTS: &str = "/api/v1/tenants/acme/conversations/events";

const APP_SECRET: &str = "fb-app-s3cr3t";
const VERIFY_TOKEN: &str = "fb-verify-s3cr3t";
const TELEGRAM_TOKEN: &str = "123456:AAH-telegram-s3cr3t";
const VIBER_TOKEN: &str = "viber-auth-s3cr3t";
const LINE_SECRET: &str = "line-channel-s3cr3t";
const VONAGE_SECRET: &str = "vonage-signature-s3cr3t";
const VONAGE_KEY: &str = "abcd1234";

async fn server(db: &TestDatabase) -> TestServer {
    let s = TestServer::start(db).await;
    let r = s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    assert_eq!(r.status, 201, "{r:?}");
    s
}

/// An account of each messenger: (provider, account id, its inbound webhook URL, how it signs).
struct Accounts(Vec<(&'static str, String, String, Messenger)>);

impl Accounts {
    fn of(&self, provider: &str) -> (&str, &str, &Messenger) {
        let (_, id, url, messenger) = self.0.iter().find(|a| a.0 == provider).expect("an account of the provider");
        (id, url, messenger)
    }
}

async fn create(s: &TestServer, provider: &str, properties: Value) -> (String, String) {
    let body =
        json!({"type": "messenger", "provider": provider, "name": format!("{provider} in"), "properties": properties});
    let r = s.call(Method::POST, ACCOUNTS, Some(body)).await;
    assert_eq!(r.status, 201, "{r:?}");
    let url = r.body["inbound_webhook_url"].as_str().expect("an inbound webhook URL").to_owned();
    assert!(url.starts_with("/hooks/") && url.len() == "/hooks/".len() + 32, "{url}");
    assert_eq!(r.body["inbound"]["accepted"], 0);
    (r.body["id"].as_str().unwrap().to_owned(), format!("{}{url}", s.base))
}

async fn accounts(s: &TestServer) -> Accounts {
    let (fb, fb_url) = create(
        s,
        "facebook",
        json!({messenger::facebook::PAGE_USERNAME: "acme", messenger::facebook::PAGE_ID: "1234567890",
            messenger::facebook::TOKEN: "EAAB-page-s3cr3t", messenger::facebook::WEBHOOK_VERIFY_TOKEN: VERIFY_TOKEN,
            messenger::facebook::APP_SECRET: APP_SECRET}),
    )
    .await;
    let (tg, tg_url) = create(
        s,
        "telegram",
        json!({messenger::telegram::BOT_USERNAME: "acme_bot", messenger::telegram::TOKEN: TELEGRAM_TOKEN}),
    )
    .await;
    let (vb, vb_url) = create(
        s,
        "viber",
        json!({messenger::viber::BOT_USERNAME: "acmesupport", messenger::viber::TOKEN: VIBER_TOKEN}),
    )
    .await;
    let (ln, ln_url) = create(
        s,
        "line",
        json!({messenger::line::TOKEN: "line-access-s3cr3t", messenger::line::CHANNEL_SECRET: LINE_SECRET}),
    )
    .await;
    let (vn, vn_url) = create(
        s,
        "nexmo",
        json!({messenger::nexmo::KEY: VONAGE_KEY, messenger::nexmo::SECRET: "vonage-api-s3cr3t",
            messenger::nexmo::SIGNATURE_SECRET: VONAGE_SECRET}),
    )
    .await;
    let telegram_secret = patchbay_connectors::telegram_webhook_secret(&tg, TELEGRAM_TOKEN);
    Accounts(vec![
        ("facebook", fb, fb_url, Messenger::Facebook { app_secret: APP_SECRET.into() }),
        ("telegram", tg, tg_url, Messenger::Telegram { secret_token: telegram_secret }),
        ("viber", vb, vb_url, Messenger::Viber { token: VIBER_TOKEN.into() }),
        ("line", ln, ln_url, Messenger::Line { channel_secret: LINE_SECRET.into() }),
        ("nexmo", vn, vn_url, Messenger::Vonage { signature_secret: VONAGE_SECRET.into(), api_key: VONAGE_KEY.into() }),
    ])
}

/// A customer's message as each vendor sends it, `n` making it a new one.
fn message(provider: &str, n: i64, text: &str) -> Value {
    match provider {
        "facebook" => inbound::facebook_message("1234567890", "psid-1", &format!("m_{n}"), text),
        "telegram" => inbound::telegram_message(700_000 + n, 4242, "Ada", text),
        "viber" => inbound::viber_message(5_000_000_000 + n, "01234567890A=", "Ada Lovelace", text),
        "line" => inbound::line_message(
            &format!("01FZ74A0TDDPYRVKNK77XKC{n:03}"),
            "U4af4980629",
            &format!("1435379{n}"),
            text,
        ),
        "nexmo" => inbound::vonage_message(
            &format!("aaaaaaaa-bbbb-cccc-dddd-{n:012}"),
            "whatsapp",
            "447700900001",
            "447700900000",
            "Ada",
            text,
        ),
        other => panic!("no message of {other}"),
    }
}

fn once() -> Policy {
    Policy { attempts: 1, ..Policy::default() }
}

/// Every event after `after`, waiting up to `wait` seconds for the first.
async fn events(s: &TestServer, after: &str, wait: u64) -> (Vec<Value>, String) {
    let r = s.call(Method::GET, &format!("{EVENTS}?after={after}&wait={wait}&limit=1000"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    (r.body["events"].as_array().unwrap().clone(), r.body["next"].as_str().unwrap().to_owned())
}

/// Waits until the events after `after` include `n` of type `kind`.
async fn events_until(s: &TestServer, kind: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (all, _) = events(s, "0", 1).await;
        if all.iter().filter(|e| e["type"] == kind).count() >= n || Instant::now() > deadline {
            return all;
        }
    }
}

backend_test! {
    #[tokio::test]
    async fn each_messenger_delivery_with_a_valid_proof_becomes_one_event(db) {
        let s = server(&db).await;
        let accounts = accounts(&s).await;
        let client = reqwest::Client::new();
        for (provider, id, url, messenger) in &accounts.0 {
            let body = serde_json::to_vec(&message(provider, 1, &format!("hello from {provider}"))).unwrap();
            let signed = messenger.sign(&body);
            let timeout = Duration::from_secs(5);
            assert_eq!(inbound::send_raw(&client, url, signed.clone(), &body, timeout).await, Some(200), "{provider}");
            // The same delivery again (a replay, or the vendor's redelivery): taken, no second event.
            assert_eq!(inbound::send_raw(&client, url, signed.clone(), &body, timeout).await, Some(200), "{provider} replay");
            assert_eq!(inbound::send_raw(&client, url, vec![], &body, timeout).await, Some(401), "{provider} without proof");
            let forged = match messenger {
                Messenger::Facebook { .. } => Messenger::Facebook { app_secret: "guess".into() },
                Messenger::Telegram { .. } => Messenger::Telegram { secret_token: "guess".into() },
                Messenger::Viber { .. } => Messenger::Viber { token: "guess".into() },
                Messenger::Line { .. } => Messenger::Line { channel_secret: "guess".into() },
                Messenger::Vonage { api_key, .. } => Messenger::Vonage { signature_secret: "guess".into(), api_key: api_key.clone() },
            };
            assert_eq!(inbound::send_raw(&client, url, forged.sign(&body), &body, timeout).await, Some(403), "{provider} forged");
            // A valid proof of another body (Telegram's secret token does not sign the body).
            if *provider != "telegram" {
                let other = serde_json::to_vec(&message(provider, 2, "tampered")).unwrap();
                assert_eq!(inbound::send_raw(&client, url, signed, &other, timeout).await, Some(403), "{provider} tampered");
            }

            let account = s.call(Method::GET, &format!("{ACCOUNTS}/{id}"), None).await;
            let health = &account.body["inbound"];
            let rejected = if *provider == "telegram" { 2 } else { 3 };
            assert_eq!((health["accepted"].as_i64(), health["rejected"].as_i64()), (Some(2), Some(rejected)), "{provider}: {health}");
            assert!(health["last_delivery_at"].is_string(), "{provider}");
            assert_eq!(health["last_rejected"]["status"], 403, "{provider}");
            let reason = health["last_rejected"]["reason"].as_str().unwrap();
            assert!(!reason.contains("s3cr3t"), "{provider}: {reason}");
        }
        let all = events_until(&s, "message_in", 5).await;
        let messages: Vec<&Value> = all.iter().filter(|e| e["type"] == "message_in").collect();
        assert_eq!(messages.len(), 5, "one event per vendor message: {all:#?}");
        assert_eq!(all.iter().filter(|e| e["type"] == "conversation_started").count(), 5);
        for (provider, id, _, _) in &accounts.0 {
            let event = messages.iter().find(|e| e["channel"] == *provider).unwrap_or_else(|| panic!("{provider}"));
            assert_eq!(event["account"], id.as_str());
            assert_eq!(event["message"]["text"], format!("hello from {provider}"));
            assert_eq!(event["message"]["direction"], "in");
            assert_eq!(event["message"]["status"], "received");
        }
        let names: Vec<(&str, &str)> = messages.iter().map(|e| (e["channel"].as_str().unwrap(), e["from"]["name"].as_str().unwrap_or(""))).collect();
        assert!(names.contains(&("telegram", "Ada")) && names.contains(&("viber", "Ada Lovelace")), "{names:?}");
        let nexmo = messages.iter().find(|e| e["channel"] == "nexmo").unwrap();
        assert_eq!(nexmo["from"]["id"], "whatsapp:447700900001", "Vonage's channel is part of the customer");
        let ids: Vec<i64> = all.iter().map(|e| e["id"].as_str().unwrap().parse().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
        assert!(!serde_json::to_string(&all).unwrap().contains("s3cr3t"));
    }
}

backend_test! {
    #[tokio::test]
    async fn facebook_handshake_answers_the_challenge_only_for_the_verify_token(db) {
        let s = server(&db).await;
        let accounts = accounts(&s).await;
        let (_, url, _) = accounts.of("facebook");
        let client = reqwest::Client::new();
        let ok = client
            .get(format!("{url}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        assert_eq!(ok.text().await.unwrap(), "1158201444");
        for query in [
            "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            "hub.mode=unsubscribe&hub.verify_token=fb-verify-s3cr3t&hub.challenge=1",
            "hub.mode=subscribe&hub.challenge=1",
        ] {
            let refused = client.get(format!("{url}?{query}")).send().await.unwrap();
            assert_eq!(refused.status(), 403, "{query}");
            assert_eq!(refused.headers()["content-type"], "application/problem+json");
            assert!(!refused.text().await.unwrap().contains("s3cr3t"));
        }
        let (_, telegram, _) = accounts.of("telegram");
        assert_eq!(client.get(format!("{telegram}?hub.mode=subscribe")).send().await.unwrap().status(), 405);
    }
}

backend_test! {
    #[tokio::test]
    async fn oversize_wrong_type_disabled_unknown_and_rotated_hooks_are_refused_and_keep_nothing(db) {
        let s = TestServer::start_with(&db, |settings| settings.inbound_body_limit = 4096).await;
        assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await.status, 201);
        let accounts = accounts(&s).await;
        let (id, url, messenger) = accounts.of("telegram");
        let client = reqwest::Client::new();
        let timeout = Duration::from_secs(5);

        let big = serde_json::to_vec(&message("telegram", 1, &"x".repeat(5000))).unwrap();
        assert_eq!(inbound::send_raw(&client, url, messenger.sign(&big), &big, timeout).await, Some(413));

        let body = serde_json::to_vec(&message("telegram", 2, "hi")).unwrap();
        let form = client
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Telegram-Bot-Api-Secret-Token", messenger.sign(&body)[0].1.clone())
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), 415);
        assert_eq!(form.headers()["content-type"], "application/problem+json");

        let unknown = format!("{}/hooks/{}", s.base, "0".repeat(32));
        assert_eq!(inbound::send_raw(&client, &unknown, messenger.sign(&body), &body, timeout).await, Some(404));

        let account = s.call(Method::GET, &format!("{ACCOUNTS}/{id}"), None).await;
        let disable = s
            .request(Method::PUT, &format!("{ACCOUNTS}/{id}"), Some(&s.admin_token))
            .header("If-Match", account.etag())
            .json(&json!({"enabled": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(disable.status(), 200, "{:?}", disable.text().await);
        assert_eq!(inbound::send_raw(&client, url, messenger.sign(&body), &body, timeout).await, Some(404));
        let account = s.call(Method::GET, &format!("{ACCOUNTS}/{id}"), None).await;
        let health = &account.body["inbound"];
        assert_eq!((health["accepted"].as_i64(), health["rejected"].as_i64()), (Some(0), Some(3)), "{health}");
        assert_eq!(health["last_rejected"]["status"], 404);
        let enable = s
            .request(Method::PUT, &format!("{ACCOUNTS}/{id}"), Some(&s.admin_token))
            .header("If-Match", account.etag())
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(enable.status(), 200);

        let rotated = s.call(Method::POST, &format!("{ACCOUNTS}/{id}/inbound-webhook/rotate"), None).await;
        assert_eq!(rotated.status, 200, "{rotated:?}");
        let new_url = format!("{}{}", s.base, rotated.body["inbound_webhook_url"].as_str().unwrap());
        assert_ne!(&new_url, url);
        assert_eq!(inbound::send_raw(&client, url, messenger.sign(&body), &body, timeout).await, Some(404), "the old URL");
        assert_eq!(inbound::send_raw(&client, &new_url, messenger.sign(&body), &body, timeout).await, Some(200));
        let audit = s.call(Method::GET, &format!("{ACCOUNTS}/{id}/audit"), None).await;
        assert!(audit.text.contains("inbound_webhook.rotate"), "{}", audit.text);

        let (all, _) = events(&s, "0", 5).await;
        let texts: Vec<&str> = all.iter().filter_map(|e| e["message"]["text"].as_str()).collect();
        assert_eq!(texts, ["hi"], "only the delivery through the new URL was kept");

        let (aws, _) = {
            let r = s
                .call(Method::POST, ACCOUNTS, Some(json!({"type": "nlu", "name": "nlu", "properties": {
                    patchbay_catalog::keys::nlu::URL: "https://nlu.example", patchbay_catalog::keys::nlu::USERNAME: "u",
                    patchbay_catalog::keys::nlu::PASSWORD: "p"}})))
                .await;
            assert_eq!(r.status, 201, "{r:?}");
            assert!(r.body["inbound_webhook_url"].is_null() && r.body["inbound"].is_null());
            (r.body["id"].as_str().unwrap().to_owned(), ())
        };
        let refused = s.call(Method::POST, &format!("{ACCOUNTS}/{aws}/inbound-webhook/rotate"), None).await;
        assert_eq!(refused.status, 409, "{refused:?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_vendor_retrying_after_a_slow_answer_gives_one_event(db) {
        let s = server(&db).await;
        let accounts = accounts(&s).await;
        let (_, url, messenger) = accounts.of("line");
        // Another connection holds the inbox's write lock for a while: the first attempt's
        // answer comes after LINE stopped waiting, so LINE sends it again, marked as a
        // redelivery.
        let blocker = db.hold_write_lock("edge_inbox", Duration::from_millis(1500)).await;
        let policy = Policy { attempts: 3, timeout: Duration::from_millis(500), backoff: Duration::from_millis(100) };
        let attempts = inbound::deliver(&reqwest::Client::new(), url, messenger, &message("line", 7, "slow"), policy).await;
        blocker.await.unwrap();
        assert_eq!(attempts.first(), Some(&None), "the first attempt timed out: {attempts:?}");
        assert_eq!(attempts.last(), Some(&Some(200)), "{attempts:?}");
        let all = events_until(&s, "message_in", 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (all_later, _) = events(&s, "0", 0).await;
        assert_eq!(all_later.len(), all.len());
        let texts: Vec<&str> = all_later.iter().filter_map(|e| e["message"]["text"].as_str()).collect();
        assert_eq!(texts, ["slow"], "{all_later:#?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn events_long_poll_waits_for_the_next_and_streams_as_server_sent_events(db) {
        let s = server(&db).await;
        let accounts = accounts(&s).await;
        let (_, url, messenger) = accounts.of("viber");
        let client = reqwest::Client::new();
        let (none, next) = events(&s, "latest", 0).await;
        assert!(none.is_empty());
        assert_eq!(next, "0");

        let waiting = {
            let request = s.request(Method::GET, &format!("{EVENTS}?after=0&wait=20"), Some(&s.admin_token));
            tokio::spawn(async move {
                let started = Instant::now();
                let body: Value = request.send().await.unwrap().json().await.unwrap();
                (body, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = Instant::now();
        inbound::deliver(&client, url, messenger, &message("viber", 1, "first"), once()).await;
        let (page, waited) = waiting.await.unwrap();
        assert!(waited < Duration::from_secs(10), "the poll ended when the event came: {waited:?}");
        assert!(sent.elapsed() < Duration::from_secs(5));
        let ids: Vec<&str> = page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert!(!ids.is_empty(), "{page}");
        assert_eq!(page["next"], *ids.last().unwrap());

        // Server-Sent Events from the start, then resumed after the first with Last-Event-ID.
        inbound::deliver(&client, url, messenger, &message("viber", 2, "second"), once()).await;
        let all = events_until(&s, "message_in", 2).await;
        let stream = s
            .request(Method::GET, EVENTS, Some(&s.admin_token))
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(stream.headers()["content-type"], "text/event-stream");
        let frames = read_sse(stream, all.len()).await;
        assert_eq!(frames.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), all.iter().map(|e| e["id"].as_str().unwrap()).collect::<Vec<_>>());
        assert_eq!(frames[0].1, "conversation_started");
        assert_eq!(frames[1].2["message"]["text"], "first");
        let resumed = s
            .request(Method::GET, EVENTS, Some(&s.admin_token))
            .header("Accept", "text/event-stream")
            .header("Last-Event-ID", frames[1].0.clone())
            .send()
            .await
            .unwrap();
        let rest = read_sse(resumed, 1).await;
        assert_eq!(rest[0].2["message"]["text"], "second");

        for bad in ["after=x", "wait=61", "limit=0"] {
            let r = s.call(Method::GET, &format!("{EVENTS}?{bad}"), None).await;
            assert_eq!(r.status, 422, "{bad}: {r:?}");
        }
    }
}

backend_test! {
    #[tokio::test]
    async fn an_event_stream_ends_when_its_token_is_revoked_and_when_the_server_stops(db) {
        let s = server(&db).await;
        let desk = json!({"name": "agent desktop", "role": "gateway_client", "tenant": "acme"});
        let minted = s.call(Method::POST, "/api/v1/tokens", Some(desk)).await;
        let token = minted.body["token"].as_str().unwrap().to_owned();
        let open = |token: String| {
            s.request(Method::GET, EVENTS, Some(&token)).header("Accept", "text/event-stream").send()
        };
        let mut revoked = EventStream::new(open(token).await.unwrap());
        let mut kept = EventStream::new(open(s.admin_token.clone()).await.unwrap());
        let path = format!("/api/v1/tokens/{}", minted.body["id"].as_str().unwrap());
        assert_eq!(s.call(Method::DELETE, &path, None).await.status, 204);
        let started = Instant::now();
        while revoked.next(Duration::from_secs(15)).await.is_some() {}
        eprintln!("the revoked token's stream ended {:?} after the revocation", started.elapsed());

        let stopping = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), s.stop()).await.expect("the shutdown does not wait for the stream");
        assert!(kept.next(Duration::from_secs(10)).await.is_none(), "the other stream ended at the shutdown");
        assert!(stopping.elapsed() < Duration::from_secs(10));
    }
}

/// The first `n` events of a Server-Sent Events response: (id, event name, data).
async fn read_sse(mut response: reqwest::Response, n: usize) -> Vec<(String, String, Value)> {
    let mut text = String::new();
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while frames.len() < n {
        let chunk =
            tokio::time::timeout_at(deadline.into(), response.chunk()).await.expect("events in time").unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                frame.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_owned()))
            };
            if let (Some(id), Some(event), Some(data)) = (field("id"), field("event"), field("data")) {
                frames.push((id, event, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    frames
}

backend_test! {
    #[tokio::test]
    async fn a_delivery_kept_before_a_crash_becomes_an_event_after_the_restart(db) {
        let s = server(&db).await;
        let accounts = accounts(&s).await;
        let (id, _, _) = accounts.of("telegram");
        let id = id.parse().unwrap();
        // The restarted node has the same master key ring.
        let data = tempfile::tempdir().unwrap();
        std::fs::copy(s.data_dir.path().join("data/master.key"), data.path().join("master.key")).unwrap();
        s.stop().await;
        // What a node killed between the 200 and reading its inbox leaves behind.
        let store = patchbay_store::SqlStore::connect(&db.url).await.unwrap();
        let body = serde_json::to_vec(&message("telegram", 9, "kept before the crash")).unwrap();
        let delivery = patchbay_store::Delivery { tenant_id: "acme".into(), account_id: id, provider: "telegram".into(), body };
        patchbay_store::EdgeStore::write_deliveries(&store, &[delivery], &[]).await.unwrap();
        drop(store);

        let dir = data.path().to_owned();
        let restarted = TestServer::start_with(&db, |settings| settings.data_dir = dir).await;
        let token = restarted.token("gateway_client", Some("acme")).await;
        let r = restarted.call_as(&token, Method::GET, &format!("{EVENTS}?after=0&wait=10"), None).await;
        assert_eq!(r.status, 200, "{r:?}");
        let texts: Vec<&str> = r.body["events"].as_array().unwrap().iter().filter_map(|e| e["message"]["text"].as_str()).collect();
        assert_eq!(texts, ["kept before the crash"]);
    }
}

/// A server whose messenger APIs are the send stand-in, and its state.
async fn server_with_senders(db: &TestDatabase) -> (TestServer, Arc<Mutex<OutboundState>>) {
    let state = Arc::new(Mutex::new(OutboundState::default()));
    let addr = patchbay_testkit::vendors::messaging::serve(outbound::router(state.clone())).await;
    let base = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let s = TestServer::start_with(db, |settings| {
        for vendor in ["telegram", "viber", "line", "nexmo_messages"] {
            settings.vendor_urls.push((vendor.to_owned(), base.clone()));
        }
        settings.vendor_urls.push(("facebook".to_owned(), base.join("v19.0/").unwrap()));
    })
    .await;
    assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await.status, 201);
    (s, state)
}

/// Accounts with the send stand-in's credentials (and the inbound proofs' secrets).
async fn sending_accounts(s: &TestServer) -> Accounts {
    let (fb, fb_url) = create(
        s,
        "facebook",
        json!({messenger::facebook::PAGE_USERNAME: "acme", messenger::facebook::PAGE_ID: "1234567890",
            messenger::facebook::TOKEN: outbound::FB_PAGE_TOKEN, messenger::facebook::APP_SECRET: APP_SECRET}),
    )
    .await;
    let (tg, tg_url) = create(
        s,
        "telegram",
        json!({messenger::telegram::BOT_USERNAME: "acme_bot", messenger::telegram::TOKEN: outbound::TELEGRAM_TOKEN}),
    )
    .await;
    let (vb, vb_url) = create(
        s,
        "viber",
        json!({messenger::viber::BOT_USERNAME: "Acme Support", messenger::viber::TOKEN: outbound::VIBER_TOKEN}),
    )
    .await;
    let (ln, ln_url) = create(
        s,
        "line",
        json!({messenger::line::TOKEN: outbound::LINE_TOKEN, messenger::line::CHANNEL_SECRET: LINE_SECRET}),
    )
    .await;
    let (vn, vn_url) = create(
        s,
        "nexmo",
        json!({messenger::nexmo::KEY: outbound::VONAGE_KEY, messenger::nexmo::SECRET: outbound::VONAGE_SECRET,
            messenger::nexmo::SIGNATURE_SECRET: VONAGE_SECRET}),
    )
    .await;
    let telegram_secret = patchbay_connectors::telegram_webhook_secret(&tg, outbound::TELEGRAM_TOKEN);
    Accounts(vec![
        ("facebook", fb, fb_url, Messenger::Facebook { app_secret: APP_SECRET.into() }),
        ("telegram", tg, tg_url, Messenger::Telegram { secret_token: telegram_secret }),
        ("viber", vb, vb_url, Messenger::Viber { token: outbound::VIBER_TOKEN.into() }),
        ("line", ln, ln_url, Messenger::Line { channel_secret: LINE_SECRET.into() }),
        (
            "nexmo",
            vn,
            vn_url,
            Messenger::Vonage { signature_secret: VONAGE_SECRET.into(), api_key: outbound::VONAGE_KEY.into() },
        ),
    ])
}

/// The conversation of each provider's first customer message (delivered as the vendor does).
async fn conversations(s: &TestServer, accounts: &Accounts) -> Vec<(&'static str, String)> {
    let client = reqwest::Client::new();
    for (provider, _, url, messenger) in &accounts.0 {
        let attempts = inbound::deliver(&client, url, messenger, &message(provider, 1, "hello"), once()).await;
        assert_eq!(attempts, [Some(200)], "{provider}");
    }
    let all = events_until(s, "message_in", accounts.0.len()).await;
    accounts
        .0
        .iter()
        .map(|(provider, ..)| {
            let event = all.iter().find(|e| e["type"] == "message_in" && e["channel"] == *provider).unwrap();
            (*provider, event["conversation_id"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn send_reply(s: &TestServer, token: &str, conversation: &str, key: Option<&str>, text: &str) -> Reply {
    let mut request = s
        .request(Method::POST, &format!("/api/v1/tenants/acme/conversations/{conversation}/messages"), Some(token))
        .json(&json!({"text": text}));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    Reply::read(request.send().await.unwrap()).await
}

/// Waits for the reply's `message_status` event with a final status.
async fn outcome_of(s: &TestServer, message_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (all, _) = events(s, "0", 1).await;
        let ended = all.iter().rev().find(|e| {
            e["type"] == "message_status"
                && e["message"]["id"] == message_id
                && matches!(e["message"]["status"].as_str(), Some("sent" | "failed"))
        });
        if let Some(event) = ended {
            return event.clone();
        }
        assert!(Instant::now() < deadline, "no outcome for {message_id}: {all:#?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn replies_go_out_through_each_messenger_once_per_idempotency_key(db) {
        let (s, sent) = server_with_senders(&db).await;
        let accounts = sending_accounts(&s).await;
        let token = s.token("gateway_client", Some("acme")).await;
        for (provider, conversation) in conversations(&s, &accounts).await {
            let key = format!("reply-1-{provider}");
            let first = send_reply(&s, &token, &conversation, Some(&key), &format!("Hi from {provider}")).await;
            assert_eq!(first.status, 202, "{provider}: {first:?}");
            assert_eq!((first.body["direction"].as_str(), first.body["status"].as_str()), (Some("out"), Some("pending")));
            let again = send_reply(&s, &token, &conversation, Some(&key), &format!("Hi from {provider}")).await;
            assert_eq!((again.status, &again.body["id"]), (200, &first.body["id"]), "{provider}: the same key, the same reply");
            let other = send_reply(&s, &token, &conversation, Some(&key), "Another text").await;
            other.assert_problem(409, &[("Idempotency-Key", "reused")], provider);

            let event = outcome_of(&s, first.body["id"].as_str().unwrap()).await;
            assert_eq!(event["message"]["status"], "sent", "{provider}: {event}");
            assert_eq!(event["conversation_id"], conversation.as_str());
            let vendor_id = event["message"]["vendor_id"].as_str().unwrap_or_default().to_owned();
            let sent = sent.lock().unwrap();
            let to_vendor: Vec<_> = sent.sent.iter().filter(|m| m.vendor == provider).collect();
            assert_eq!(to_vendor.len(), 1, "{provider}: sent once: {to_vendor:?}");
            assert_eq!(to_vendor[0].text, format!("Hi from {provider}"));
            assert!(vendor_id.ends_with(to_vendor[0].id.rsplit('-').next().unwrap()), "{provider}: {vendor_id} / {:?}", to_vendor[0]);
            let expected_to = match provider {
                "facebook" => "psid-1",
                "telegram" => "4242",
                "viber" => "01234567890A=",
                "line" => "U4af4980629",
                _ => "447700900001",
            };
            assert_eq!(to_vendor[0].to, expected_to, "{provider}");
            if provider == "nexmo" {
                assert_eq!(to_vendor[0].extra.as_deref(), Some("447700900000@whatsapp"), "replies from the number written to");
            }
            if provider == "line" {
                assert_eq!(to_vendor[0].extra.as_deref(), first.body["id"].as_str(), "the reply's id is LINE's retry key");
            }
        }
        let conversation = &conversations(&s, &accounts).await[1].1;
        let got = s.call_as(&token, Method::GET, &format!("/api/v1/tenants/acme/conversations/{conversation}"), None).await;
        assert_eq!(got.status, 200, "{got:?}");
        let texts: Vec<&str> = got.body["messages"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
        assert_eq!(texts, ["hello", "Hi from telegram"]);
        assert_eq!(got.body["customer"]["name"], "Ada");

        let long = send_reply(&s, &token, conversation, None, &"x".repeat(4097)).await;
        long.assert_problem(422, &[("text", "max_length")], "Telegram takes 4096 characters");
        let bad_key = send_reply(&s, &token, conversation, Some(&"k".repeat(256)), "hi").await;
        bad_key.assert_problem(400, &[("Idempotency-Key", "format")], "a key of 256 characters");
        let unknown = send_reply(&s, &token, &uuid::Uuid::now_v7().to_string(), None, "hi").await;
        assert_eq!(unknown.status, 404);
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        assert_eq!(send_reply(&s, &viewer, conversation, None, "hi").await.status, 403);
        assert!(!serde_json::to_string(&events(&s, "0", 0).await.0).unwrap().contains("s3cr3t"));
    }
}

backend_test! {
    #[tokio::test]
    async fn a_busy_vendor_is_tried_again_after_its_hint_and_a_refusal_fails_the_reply(db) {
        let (s, sent) = server_with_senders(&db).await;
        let accounts = sending_accounts(&s).await;
        let all = conversations(&s, &accounts).await;
        let conversation = |provider: &str| all.iter().find(|c| c.0 == provider).unwrap().1.clone();
        sent.lock().unwrap().script("telegram", [Scripted::Busy { retry_after: 1 }, Scripted::Failing]);
        sent.lock().unwrap().script("viber", [Scripted::Refused]);
        let asked = Instant::now();
        let busy = send_reply(&s, &s.admin_token, &conversation("telegram"), None, "after a wait").await;
        let refused = send_reply(&s, &s.admin_token, &conversation("viber"), None, "to nobody").await;

        let event = outcome_of(&s, busy.body["id"].as_str().unwrap()).await;
        assert_eq!(event["message"]["status"], "sent", "{event}");
        assert!(asked.elapsed() >= Duration::from_secs(1), "Telegram's retry_after was honoured");
        let telegram_requests = sent.lock().unwrap().requests.iter().filter(|v| **v == "telegram").count();
        assert_eq!(telegram_requests, 3, "a 429, a 500, then sent");

        let event = outcome_of(&s, refused.body["id"].as_str().unwrap()).await;
        assert_eq!(event["message"]["status"], "failed");
        assert!(event["message"]["error"].as_str().unwrap().contains("receiverNotSubscribed"), "{event}");
        assert_eq!(sent.lock().unwrap().requests.iter().filter(|v| **v == "viber").count(), 1, "a refusal is not retried");

        // A reply Viber accepts, then Viber's receipt of it: delivered.
        let later = send_reply(&s, &s.admin_token, &conversation("viber"), None, "second try").await;
        let event = outcome_of(&s, later.body["id"].as_str().unwrap()).await;
        assert_eq!(event["message"]["status"], "sent", "{event}");
        let token: i64 = event["message"]["vendor_id"].as_str().unwrap().parse().unwrap();
        let (_, viber_url, viber) = accounts.of("viber");
        let receipt = inbound::viber_status("delivered", token, "01234567890A=");
        assert_eq!(inbound::deliver(&reqwest::Client::new(), viber_url, viber, &receipt, once()).await, [Some(200)]);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (all, _) = events(&s, "0", 1).await;
            let delivered = all.iter().any(|e| {
                e["message"]["id"] == later.body["id"] && e["message"]["status"] == "delivered" && e["type"] == "message_status"
            });
            if delivered {
                break;
            }
            assert!(Instant::now() < deadline, "no delivered status: {all:#?}");
        }
    }
}

/// What a subscription target received: each request's headers and body.
type Received = Arc<Mutex<Vec<(reqwest::header::HeaderMap, Vec<u8>)>>>;

/// Serves a target recording every POST on `listener`.
fn target(listener: tokio::net::TcpListener, received: Received) {
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let received = received.clone();
        async move {
            received.lock().unwrap().push((headers, body.to_vec()));
            axum::http::StatusCode::NO_CONTENT
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// Whether the Standard Webhooks reference verifier (Python `standardwebhooks`) accepts a delivery.
fn reference_verifies(secret: &str, headers: &reqwest::header::HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let script = "import sys\nfrom standardwebhooks import Webhook\n\
                  Webhook(sys.argv[1]).verify(sys.stdin.buffer.read(), {'webhook-id': sys.argv[2], \
                  'webhook-timestamp': sys.argv[3], 'webhook-signature': sys.argv[4]})\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret, &header("webhook-id"), &header("webhook-timestamp"), &header("webhook-signature")])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the Standard Webhooks reference verifier is missing: pip install standardwebhooks (scripts/test installs it)"
    );
    out.status.success()
}

backend_test! {
    #[tokio::test]
    async fn a_subscription_target_that_was_down_gets_every_event_in_order_signed_as_standard_webhooks_say(db) {
        let s = server(&db).await;
        let accounts = accounts(&s).await;
        let (_, url, messenger) = accounts.of("telegram");
        // A port nobody listens on yet: the target is down.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let body = json!({"url": format!("http://127.0.0.1:{port}/patchbay-events"), "events": ["conversation_started", "message_in"]});
        let created = s.call(Method::POST, "/api/v1/tenants/acme/subscriptions", Some(body)).await;
        assert_eq!(created.status, 201, "{created:?}");
        let secret = created.body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        let path = format!("/api/v1/tenants/acme/subscriptions/{}", created.body["id"].as_str().unwrap());
        let shown = s.call(Method::GET, &path, None).await;
        assert!(!shown.text.contains(&secret[6..]), "the secret is shown once: {}", shown.text);

        let client = reqwest::Client::new();
        let sends = [(4242, "a1"), (5151, "b1"), (4242, "a2")];
        for (n, (chat, text)) in sends.iter().enumerate() {
            let update = inbound::telegram_message(800_000 + n as i64, *chat, "Ada", text);
            assert_eq!(inbound::deliver(&client, url, messenger, &update, once()).await, [Some(200)]);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = s.call(Method::GET, &path, None).await;
            if r.body["failure"]["attempts"].as_i64().unwrap_or(0) >= 1 {
                assert_eq!(r.body["state"], "active");
                assert!(r.body["failure"]["next_attempt_at"].is_string(), "{r:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the failure is not shown: {r:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let received: Received = Arc::default();
        target(tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap(), received.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        while received.lock().unwrap().len() < 5 {
            assert!(Instant::now() < deadline, "got {} of 5 events", received.lock().unwrap().len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let got = received.lock().unwrap().clone();
        assert_eq!(got.len(), 5, "each event once");
        let events: Vec<Value> = got.iter().map(|(_, body)| serde_json::from_slice(body).unwrap()).collect();
        let ids: Vec<i64> = events.iter().map(|e| e["id"].as_str().unwrap().parse().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
        let texts: Vec<&str> = events.iter().filter_map(|e| e["message"]["text"].as_str()).collect();
        assert_eq!(texts, ["a1", "b1", "a2"]);
        for (headers, body) in &got {
            assert_eq!(headers["content-type"], "application/json");
            assert!(headers["webhook-id"].to_str().unwrap().starts_with("msg_"));
            assert!(reference_verifies(&secret, headers, body), "the reference verifier refuses {headers:?}");
        }
        let (headers, body) = &got[0];
        let mut tampered = body.clone();
        tampered[0] = b' ';
        assert!(!reference_verifies(&secret, headers, &tampered), "a changed body does not verify");

        let r = s.call(Method::GET, &path, None).await;
        assert_eq!((r.body["state"].as_str(), r.body["failure"].is_null()), (Some("active"), true), "{r:?}");
        assert_eq!(r.body["delivered_through"], ids.last().unwrap().to_string());
        let resumed = s.call(Method::POST, &format!("{path}/resume"), None).await;
        assert_eq!(resumed.status, 200);
        let listed = s.call(Method::GET, "/api/v1/tenants/acme/subscriptions", None).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(s.call(Method::DELETE, &path, None).await.status, 204);
        assert_eq!(s.call(Method::GET, &path, None).await.status, 404);

        for (bad, rule) in [
            (json!({"url": "ftp://example.com/x", "events": ["message_in"]}), ("url", "scheme")),
            (json!({"url": "https://user:pw@example.com/x", "events": ["message_in"]}), ("url", "credentials")),
            (json!({"url": "http://10.1.2.3/x", "events": ["message_in"]}), ("url", "blocked")),
            (json!({"url": "https://example.com/x", "events": []}), ("events", "required")),
        ] {
            let r = s.call(Method::POST, "/api/v1/tenants/acme/subscriptions", Some(bad.clone())).await;
            r.assert_problem(422, &[rule], &bad.to_string());
        }
    }
}

backend_test! {
    #[tokio::test]
    async fn a_message_with_nul_characters_is_recorded_and_does_not_stop_the_inbox(db) {
        let s = server(&db).await;
        let accounts = accounts(&s).await;
        let (_, url, messenger) = accounts.of("telegram");
        let client = reqwest::Client::new();
        // JSON may carry U+0000, which no PostgreSQL text holds.
        let nul = inbound::telegram_message(900_001, 4242, "A\u{0}da", "hi\u{0} there");
        assert_eq!(inbound::deliver(&client, url, messenger, &nul, once()).await, [Some(200)]);
        let after = inbound::telegram_message(900_002, 4242, "Ada", "and then");
        assert_eq!(inbound::deliver(&client, url, messenger, &after, once()).await, [Some(200)]);
        let all = events_until(&s, "message_in", 2).await;
        let texts: Vec<&str> = all.iter().filter_map(|e| e["message"]["text"].as_str()).collect();
        assert_eq!(texts, ["hi there", "and then"]);
    }
}
