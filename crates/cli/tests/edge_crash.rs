//! The messenger edge killed with SIGKILL while deliveries pour in: every delivery that got
//! its 200 becomes exactly one event after the restart (nothing acknowledged is lost, and
//! nothing is read twice), on SQLite and, when `PATCHBAY_TEST_DATABASE_URL` names a server,
//! on PostgreSQL.

mod process;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchbay_catalog::keys::messenger;
use patchbay_testkit::vendors::inbound::{self, Messenger};
use patchbay_testkit::TestDatabase;
use process::ServerProcess;
use serde_json::{json, Value};

const TOKEN: &str = "123456:AAH-crash-telegram-token";
const SENDERS: usize = 16;

async fn killed_mid_intake_loses_no_acknowledged_delivery(extra: &[&str]) {
    let mut server = ServerProcess::start(extra);
    let http = reqwest::Client::new();
    let admin = server.admin_token.clone();
    let post =
        |path: &str, body: Value| http.post(format!("{}{path}", server.base)).bearer_auth(&admin).json(&body).send();
    assert_eq!(post("/api/v1/tenants", json!({"id": "acme"})).await.unwrap().status(), 201);
    let account: Value = post(
        "/api/v1/tenants/acme/integration-accounts",
        json!({"type": "messenger", "provider": "telegram", "name": "bot",
            "properties": {messenger::telegram::BOT_USERNAME: "crash_bot", messenger::telegram::TOKEN: TOKEN}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let hook = format!("{}{}", server.base, account["inbound_webhook_url"].as_str().unwrap());
    let secret = patchbay_connectors::telegram_webhook_secret(account["id"].as_str().unwrap(), TOKEN);
    let messenger = Messenger::Telegram { secret_token: secret };

    // Senders deliver new updates as fast as they can; the server is killed under them.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let (hook, messenger, acked, stop) = (hook.clone(), messenger.clone(), acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let text = format!("s{sender}-{n}");
                let update =
                    inbound::telegram_message(sender as i64 * 1_000_000 + n, 7000 + sender as i64, "Crash", &text);
                let body = serde_json::to_vec(&update).unwrap();
                let status =
                    inbound::send_raw(&client, &hook, messenger.sign(&body), &body, Duration::from_secs(2)).await;
                match status {
                    Some(200) => acked.lock().unwrap().push(text),
                    Some(other) => panic!("a delivery was refused with {other}"),
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 200 {
        assert!(Instant::now() < deadline, "deliveries are acknowledged: {}", server.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    let counts = loop {
        // Every event so far, page by page.
        let mut all = Vec::new();
        let mut next = "0".to_owned();
        loop {
            let page: Value = http
                .get(format!("{}/api/v1/tenants/acme/conversations/events?after={next}&limit=1000", server.base))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let events = page["events"].as_array().unwrap();
            if events.is_empty() {
                break;
            }
            all.extend(events.iter().cloned());
            next = page["next"].as_str().unwrap().to_owned();
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for event in all.iter().filter(|e| e["type"] == "message_in") {
            *counts.entry(event["message"]["text"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        if acked.iter().all(|t| counts.contains_key(t)) || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let lost: Vec<&String> = acked.iter().filter(|t| !counts.contains_key(*t)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged deliveries have no event: {lost:?}", lost.len(), acked.len());
    let twice: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "deliveries read twice: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_intake_loses_no_acknowledged_delivery_on_sqlite() {
    killed_mid_intake_loses_no_acknowledged_delivery(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_intake_loses_no_acknowledged_delivery_on_postgres() {
    let Some(db) = TestDatabase::postgres_if_configured().await else { return };
    killed_mid_intake_loses_no_acknowledged_delivery(&["--database-url", &db.url]).await;
}
