//! End-to-end latency of the messenger edge: `edgebench BASE HOOK_URL SECRET_TOKEN TOKEN
//! [DELIVERIES]` long-polls BASE's conversation events (with the gateway TOKEN) while it
//! sends DELIVERIES Telegram updates, one every 5 ms, to HOOK_URL with the account's
//! SECRET_TOKEN, and times each from the start of its POST to the moment its `message_in`
//! event reaches the long-poll. Prints p50, p99 and max, and the ack (POST) p50 and p99.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchbay_testkit::vendors::inbound::{self, Messenger};
use serde_json::Value;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(base), Some(hook), Some(secret), Some(token)) = (args.get(1), args.get(2), args.get(3), args.get(4))
    else {
        eprintln!("usage: edgebench BASE HOOK_URL SECRET_TOKEN TOKEN [DELIVERIES]");
        std::process::exit(2);
    };
    let deliveries: usize = args.get(5).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let client = reqwest::Client::new();
    let events = format!("{base}/api/v1/tenants/acme/conversations/events");
    let latest: Value =
        client.get(format!("{events}?after=latest")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let mut cursor = latest["next"].as_str().unwrap().to_owned();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let arrived: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let poller = {
        let (client, token, sent, arrived) = (client.clone(), token.clone(), sent.clone(), arrived.clone());
        tokio::spawn(async move {
            while arrived.lock().unwrap().len() < deliveries {
                let page: Value = client
                    .get(format!("{events}?after={cursor}&wait=20&limit=1000"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let now = Instant::now();
                for event in page["events"].as_array().into_iter().flatten() {
                    let Some(text) = event["message"]["text"].as_str() else { continue };
                    if let Some(started) = sent.lock().unwrap().get(text) {
                        arrived.lock().unwrap().push(now - *started);
                    }
                }
                cursor = page["next"].as_str().unwrap().to_owned();
            }
        })
    };
    let messenger = Messenger::Telegram { secret_token: secret.clone() };
    let run = std::process::id() as i64 * 1_000_000;
    let mut acks = Vec::with_capacity(deliveries);
    for n in 0..deliveries {
        let text = format!("bench {run} {n}");
        let update = inbound::telegram_message(run + n as i64, 10_000 + (n % 50) as i64, "Bench", &text);
        let body = serde_json::to_vec(&update).unwrap();
        let started = Instant::now();
        sent.lock().unwrap().insert(text, started);
        let status = inbound::send_raw(&client, hook, messenger.sign(&body), &body, Duration::from_secs(10)).await;
        acks.push(started.elapsed());
        assert_eq!(status, Some(200), "delivery {n}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::timeout(Duration::from_secs(60), poller).await.expect("every event arrives").unwrap();
    let mut times = arrived.lock().unwrap().clone();
    times.sort();
    acks.sort();
    let at = |v: &[Duration], q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "delivery to long-poll, {deliveries} deliveries: p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms   (ack p50 {:.1} ms, p99 {:.1} ms)",
        at(&times, 0.5),
        at(&times, 0.99),
        at(&times, 1.0),
        at(&acks, 0.5),
        at(&acks, 0.99)
    );
}
