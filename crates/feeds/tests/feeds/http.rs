//! WFM HTTP POST and Loxysoft: the JSON at a local axum receiver, intervals, and receivers
//! that fail, hang or are slow.

use std::time::Duration;

use patchbay_catalog::keys::{loxysoft, wfm};
use patchbay_feeds::{FeedOptions, FeedSpec, FeedStatus, Limits};
use serde_json::json;

use crate::common::*;

fn wfm_spec(url: &str, token: Option<&str>) -> FeedSpec {
    let secrets: Vec<(&str, &str)> = token.map(|t| (wfm::http_post::TOKEN, t)).into_iter().collect();
    spec(
        "wfm2",
        "wfm",
        "http_post",
        json!({wfm::http_post::URL: url, wfm::http_post::PERIODIC_UPDATE_INTERVAL: 10, wfm::http_post::REASON_CODES_MAPPING: {"Lunch": 7}}),
        &secrets,
    )
}

const AGENTS: &str = r#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales"]}
{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch"}
{"type":"agent_login","agent_id":"a2","extension":"1002"}
{"type":"agent_state","agent_id":"a2","state":"busy"}
{"type":"service_stats","service":"Sales","calls_waiting":3,"longest_wait_s":40,"agents_ready":2,"agents_busy":5,"handled":100,"abandoned":4}"#;

#[tokio::test(start_paused = true)]
async fn wfm_http_posts_the_whole_state_every_interval_with_the_bearer_token() {
    let world = World::new();
    world.send("acme", AGENTS);
    let mut receiver = HttpReceiver::start().await;
    world.supervisor.upsert(wfm_spec(&receiver.url, Some("wfm-token")));

    let first = receiver.next().await;
    assert_eq!(world.elapsed(), 0, "the first update goes out when the feed starts");
    assert_eq!(first.path, "/feed");
    assert_eq!(first.authorization.as_deref(), Some("Bearer wfm-token"));
    assert_eq!(first.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        first.body,
        json!({
            "agents": [
                {"agent_id": "a1", "state": "not_ready", "reason": "Lunch", "reason_code": 7,
                 "since": "2025-03-01T10:00:00Z", "extension": "1001", "services": ["Sales"]},
                {"agent_id": "a2", "state": "busy", "reason": null, "reason_code": null,
                 "since": "2025-03-01T10:00:00Z", "extension": "1002", "services": []}
            ],
            "services": [
                {"service": "Sales", "calls_waiting": 3, "longest_wait_s": 40, "agents_ready": 2, "agents_busy": 5,
                 "handled": 100, "abandoned": 4, "updated_at": "2025-03-01T10:00:00Z"}
            ]
        })
    );
    let second = receiver.next().await;
    assert_eq!(second.at - first.at, Duration::from_secs(10));
    assert_eq!(second.body, first.body);

    tokio::time::sleep(Duration::from_secs(5)).await;
    world.send("acme", r#"{"type":"agent_logout","agent_id":"a1"}"#);
    let third = receiver.next().await;
    assert_eq!(third.at - first.at, Duration::from_secs(20));
    let agents = third.body["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "logged-out agents are left out");
    assert_eq!(agents[0]["agent_id"], "a2");
    let health = world.health_until("wfm2", "three answers", |h| h.sent == 3).await;
    assert_eq!((health.status, health.failed, health.connected), (FeedStatus::Running, 0, true));
}

#[tokio::test(start_paused = true)]
async fn wfm_http_without_a_token_sends_no_authorization() {
    let world = World::new();
    let mut receiver = HttpReceiver::start().await;
    world.supervisor.upsert(wfm_spec(&receiver.url, None));
    let request = receiver.next().await;
    assert_eq!(request.authorization, None);
    assert_eq!(request.body, json!({"agents": [], "services": []}));
}

#[tokio::test(start_paused = true)]
async fn wfm_http_errors_are_counted_and_the_next_request_follows_the_interval() {
    let world = World::new();
    world.send("acme", AGENTS);
    let mut receiver = HttpReceiver::start().await;
    receiver.answer(Answer::Status(500));
    world.supervisor.upsert(wfm_spec(&receiver.url, Some("t")));
    let times: Vec<_> = [receiver.next().await.at, receiver.next().await.at, receiver.next().await.at].into();
    assert_eq!(times[1] - times[0], Duration::from_secs(10));
    assert_eq!(times[2] - times[1], Duration::from_secs(10));
    let health = world.health_until("wfm2", "three failures", |h| h.failed == 3).await;
    assert_eq!((health.status, health.sent, health.connected), (FeedStatus::Retrying, 0, false));
    assert_eq!(health.last_error.as_deref(), Some("the receiver answered HTTP 500"));

    receiver.answer(Answer::Ok);
    let recovered = receiver.next().await;
    assert_eq!(recovered.at - times[2], Duration::from_secs(10));
    let health = world.health_until("wfm2", "a success", |h| h.sent == 1).await;
    assert_eq!(health.status, FeedStatus::Running);
    assert_eq!(health.last_success, Some(t0() + chrono::Duration::seconds(30)));
}

#[tokio::test(start_paused = true)]
async fn wfm_http_request_that_gets_no_answer_times_out_and_the_feed_goes_on() {
    let world = World::new();
    let mut receiver = HttpReceiver::start().await;
    receiver.answer(Answer::Silent);
    world.supervisor.upsert(wfm_spec(&receiver.url, None));
    let first = receiver.next().await;
    let health = world.health_until("wfm2", "the timeout", |h| h.failed == 1).await;
    assert_eq!(health.last_error.as_deref(), Some("no answer within 2000 ms"));
    assert_eq!(health.last_error_at, Some(t0() + chrono::Duration::seconds(2)));
    receiver.answer(Answer::Ok);
    let second = receiver.next().await;
    assert_eq!(second.at - first.at, Duration::from_secs(10));
    world.health_until("wfm2", "a success", |h| h.sent == 1 && h.status == FeedStatus::Running).await;
}

#[tokio::test(start_paused = true)]
async fn wfm_http_slow_receiver_gets_one_request_at_a_time_and_missed_intervals_are_skipped() {
    let options = FeedOptions { io_timeout: Some(Duration::from_secs(60)), ..options() };
    let world = World::with(Limits::default(), options, egress());
    world.send("acme", AGENTS);
    let mut receiver = HttpReceiver::start().await;
    receiver.answer(Answer::Slow(Duration::from_secs(25)));
    world.supervisor.upsert(wfm_spec(&receiver.url, None));
    let mut offsets = Vec::new();
    let mut body = Vec::new();
    for _ in 0..3 {
        let request = receiver.next().await;
        offsets.push((request.at - world.start).as_secs());
        body = serde_json::to_vec(&request.body).unwrap();
    }
    assert_eq!(offsets, vec![0, 30, 60]);
    let health = world.health("wfm2");
    assert_eq!((health.sent, health.failed), (2, 0));
    assert_eq!(health.max_pending_bytes, body.len() as u64, "one body waits, however slow the receiver");
}

#[tokio::test(start_paused = true)]
async fn loxysoft_posts_skill_codes_with_its_token() {
    let world = World::new();
    world.send(
        "acme",
        r#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales","Support"]}
{"type":"agent_state","agent_id":"a1","state":"busy"}
{"type":"call_start","call_id":"c1","agent_id":"a1","service":"Sales","direction":"inbound"}
{"type":"service_stats","service":"Sales","calls_waiting":1,"handled":9}"#,
    );
    let mut receiver = HttpReceiver::start().await;
    let lox = spec(
        "lox",
        "loxysoft",
        "default",
        json!({loxysoft::URL: receiver.url, loxysoft::SKILLS_MAPPING: {"Sales": "SK-01"}}),
        &[(loxysoft::TOKEN, "lox-token")],
    );
    world.supervisor.upsert(lox);
    let first = receiver.next().await;
    assert_eq!(first.authorization.as_deref(), Some("Bearer lox-token"));
    assert_eq!(
        first.body,
        json!({
            "agents": [{
                "agent_id": "a1", "state": "busy", "reason": null, "since": "2025-03-01T10:00:00Z",
                "extension": "1001", "skills": ["SK-01", "Support"],
                "call": {"call_id": "c1", "skill": "SK-01", "direction": "inbound", "since": "2025-03-01T10:00:00Z"}
            }],
            "skills": [{
                "skill": "SK-01", "service": "Sales", "calls_waiting": 1, "longest_wait_s": 0, "agents_ready": 0,
                "agents_busy": 0, "handled": 9, "abandoned": 0, "updated_at": "2025-03-01T10:00:00Z"
            }]
        })
    );
    let second = receiver.next().await;
    assert_eq!(second.at - first.at, Duration::from_secs(10), "the default interval is 10 s");
}
