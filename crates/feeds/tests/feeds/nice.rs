//! NICE: batches of messages as they happen, keep-alives, prefixes, Basic auth, and
//! resynchronisation after failures and after falling behind the journal.

use std::time::Duration;

use base64::Engine;
use patchbay_catalog::keys::nice;
use patchbay_feeds::{FeedSpec, FeedStatus, Limits};
use serde_json::{json, Value};

use crate::common::*;

fn nice_spec(url: &str) -> FeedSpec {
    spec(
        "nice1",
        "nice",
        "default",
        json!({
            nice::URL: url,
            nice::USERNAME: "bp",
            nice::KEEP_ALIVE_UPDATE_INTERVAL: 30,
            nice::AGENT_ID_PREFIX: "BP-",
            nice::EXTENSION_PREFIX: "EXT"
        }),
        &[(nice::PASSWORD, "s3cret")],
    )
}

fn messages(body: &Value) -> Vec<Value> {
    body["messages"].as_array().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn nice_reports_calls_as_they_happen_with_prefixes_and_basic_auth() {
    let world = World::new();
    world.send(
        "acme",
        r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}
{"type":"agent_state","agent_id":"a1","state":"ready"}"#,
    );
    let mut receiver = HttpReceiver::start().await;
    world.supervisor.upsert(nice_spec(&receiver.url));

    let first = receiver.next().await;
    let credentials = base64::engine::general_purpose::STANDARD.encode("bp:s3cret");
    assert_eq!(first.authorization, Some(format!("Basic {credentials}")));
    assert_eq!(
        first.body,
        json!({"seq": 1, "sent_at": "2025-03-01T10:00:00Z", "resync": true, "messages": [
            {"type": "agent_state", "agent_id": "BP-a1", "extension": "EXT1001", "state": "ready", "reason": null,
             "at": "2025-03-01T10:00:00Z"}
        ]})
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    world.send(
        "acme",
        r#"{"type":"call_start","call_id":"c1","agent_id":"a1","service":"Sales","direction":"inbound"}
{"type":"call_end","call_id":"c1","agent_id":"a1"}
{"type":"agent_state","agent_id":"a1","state":"after_call_work"}"#,
    );
    let second = receiver.next().await;
    assert_eq!(world.elapsed(), 3, "changes go out at once, not at an interval");
    let call = json!({"call_id": "c1", "agent_id": "BP-a1", "extension": "EXT1001", "service": "Sales",
                      "direction": "inbound", "at": "2025-03-01T10:00:03Z"});
    let mut start = call.clone();
    start["type"] = json!("call_start");
    let mut end = call;
    end["type"] = json!("call_end");
    assert_eq!(second.body["seq"], 2);
    assert_eq!(second.body["resync"], false);
    assert_eq!(
        messages(&second.body),
        vec![
            start,
            end,
            json!({"type": "agent_state", "agent_id": "BP-a1", "extension": "EXT1001", "state": "after_call_work",
                   "reason": null, "at": "2025-03-01T10:00:03Z"})
        ]
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    world.send(
        "acme",
        r#"{"type":"agent_login","agent_id":"a2"}
{"type":"agent_logout","agent_id":"a1"}"#,
    );
    let third = receiver.next().await;
    assert_eq!(
        messages(&third.body),
        vec![
            json!({"type": "agent_login", "agent_id": "BP-a2", "extension": "", "state": "not_ready", "reason": null,
                   "at": "2025-03-01T10:00:05Z"}),
            json!({"type": "agent_logout", "agent_id": "BP-a1", "extension": "EXT1001", "at": "2025-03-01T10:00:05Z"})
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn nice_sends_a_keep_alive_every_interval() {
    let world = World::new();
    let mut receiver = HttpReceiver::start().await;
    world.supervisor.upsert(nice_spec(&receiver.url));
    let first = receiver.next().await;
    assert_eq!(first.body["messages"], json!([]), "the first batch is the (empty) full state");
    for (n, at) in [(2, "2025-03-01T10:00:30Z"), (3, "2025-03-01T10:01:00Z")] {
        let request = receiver.next().await;
        assert_eq!(request.body["seq"], n);
        assert_eq!(request.body["messages"], json!([{"type": "keep_alive", "at": at}]));
    }
    assert_eq!(world.elapsed(), 60);
}

#[tokio::test(start_paused = true)]
async fn nice_resyncs_with_the_true_state_after_failed_posts() {
    let world = World::new();
    let mut receiver = HttpReceiver::start().await;
    receiver.answer(Answer::Status(503));
    world.supervisor.upsert(nice_spec(&receiver.url));
    receiver.next().await;
    world.health_until("nice1", "a failure", |h| h.failed >= 1).await;
    world.send(
        "acme",
        r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}
{"type":"agent_state","agent_id":"a1","state":"busy"}
{"type":"call_start","call_id":"c9","agent_id":"a1","direction":"outbound"}"#,
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    receiver.pending();
    receiver.answer(Answer::Ok);
    let request = loop {
        let request = receiver.next().await;
        if request.body["resync"] == true && !messages(&request.body).is_empty() {
            break request;
        }
    };
    let kinds: Vec<_> = messages(&request.body).iter().map(|m| m["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, vec!["agent_state", "call_start"]);
    assert_eq!(messages(&request.body)[1]["call_id"], "c9");
    let health = world.health_until("nice1", "a success", |h| h.status == FeedStatus::Running).await;
    assert!(health.failed >= 2 && health.sent >= 1);
}

#[tokio::test(start_paused = true)]
async fn nice_resyncs_instead_of_queueing_changes_behind_a_slow_request() {
    let limits = Limits { journal_capacity: 8, ..Limits::default() };
    let world = World::with(limits, options(), egress());
    world.send("acme", r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}"#);
    let mut receiver = HttpReceiver::start().await;
    world.supervisor.upsert(nice_spec(&receiver.url));
    receiver.next().await;
    receiver.answer(Answer::Slow(Duration::from_millis(1500)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    world.send("acme", r#"{"type":"agent_state","agent_id":"a1","state":"ready"}"#);
    let slow = receiver.next().await;
    assert_eq!(messages(&slow.body).len(), 1);
    receiver.answer(Answer::Ok);
    let mut flips = String::new();
    for i in 0..500 {
        let state = if i % 2 == 0 { "busy" } else { "ready" };
        flips.push_str(&format!("{{\"type\":\"agent_state\",\"agent_id\":\"a1\",\"state\":\"{state}\"}}\n"));
    }
    flips.push_str(r#"{"type":"agent_state","agent_id":"a1","state":"supervising"}"#);
    world.send("acme", &flips);
    let next = receiver.next().await;
    assert_eq!(next.body["resync"], true, "501 changes do not fit a journal of 8: the feed resyncs");
    assert_eq!(next.at - slow.at, Duration::from_millis(1500), "right after the slow request");
    let all = messages(&next.body);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["state"], "supervising");
    let health = world.health("nice1");
    assert_eq!(health.failed, 0);
}
