//! The Statistics Data Receiver: NDJSON lines over TCP at a fixed cadence.

use std::time::Duration;

use patchbay_catalog::keys::statistics_receiver;
use patchbay_feeds::{FeedSpec, FeedStatus};
use serde_json::json;

use crate::common::*;

fn stats_spec(addr: std::net::SocketAddr) -> FeedSpec {
    spec(
        "stats",
        "statistics_receiver",
        "default",
        json!({statistics_receiver::PROTOCOL: "TCP", statistics_receiver::HOST_NAME: "127.0.0.1", statistics_receiver::PORT: addr.port()}),
        &[],
    )
}

#[tokio::test(start_paused = true)]
async fn statistics_receiver_gets_every_service_on_connect_and_every_five_seconds() {
    let world = World::new();
    world.send(
        "acme",
        r#"{"type":"service_stats","service":"Sales","calls_waiting":3,"longest_wait_s":40,"agents_ready":2,"agents_busy":5,"handled":100,"abandoned":4}
{"type":"service_stats","service":"Billing","calls_waiting":0}"#,
    );
    let mut receiver = line_receiver(loopback());
    world.supervisor.upsert(stats_spec(receiver.addr));
    let (_, first) = receiver.next().await;
    assert_eq!(
        first,
        json!({"type": "statistics", "seq": 1, "sent_at": "2025-03-01T10:00:00Z", "services": [
            {"service": "Billing", "calls_waiting": 0, "longest_wait_s": 0, "agents_ready": 0, "agents_busy": 0,
             "handled": 0, "abandoned": 0, "updated_at": "2025-03-01T10:00:00Z"},
            {"service": "Sales", "calls_waiting": 3, "longest_wait_s": 40, "agents_ready": 2, "agents_busy": 5,
             "handled": 100, "abandoned": 4, "updated_at": "2025-03-01T10:00:00Z"}
        ]})
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    world.send("acme", r#"{"type":"service_stats","service":"Billing","calls_waiting":7}"#);
    let (_, second) = receiver.next().await;
    assert_eq!(world.elapsed(), 5);
    assert_eq!((second["seq"].clone(), second["sent_at"].clone()), (json!(2), json!("2025-03-01T10:00:05Z")));
    assert_eq!(second["services"][0]["calls_waiting"], 7);
    assert_eq!(second["services"][0]["updated_at"], "2025-03-01T10:00:02Z");
    let (_, third) = receiver.next().await;
    assert_eq!((world.elapsed(), third["seq"].clone()), (10, json!(3)));
}

#[tokio::test(start_paused = true)]
async fn statistics_feed_reconnects_after_the_receiver_is_killed() {
    let world = World::new();
    world.send("acme", r#"{"type":"service_stats","service":"Sales","handled":1}"#);
    let mut receiver = line_receiver(loopback());
    let addr = receiver.addr;
    world.supervisor.upsert(stats_spec(addr));
    receiver.next().await;
    receiver.stop().await;
    world.health_until("stats", "the lost connection", |h| h.failed >= 2 && !h.connected).await;
    world.send("acme", r#"{"type":"service_stats","service":"Sales","handled":2}"#);
    let mut receiver = line_receiver(addr);
    let (connection, line) = receiver.next().await;
    assert_eq!((connection, line["seq"].clone()), (1, json!(1)));
    assert_eq!(line["services"][0]["handled"], 2);
    let health = world.health_until("stats", "running", |h| h.status == FeedStatus::Running).await;
    assert_eq!(health.connects, 2);
}
