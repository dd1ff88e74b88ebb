//! The supervisor: feeds follow account changes at once, stop when removed, report unusable
//! properties and refused targets in health, and never show a secret.

use std::time::Duration;

use patchbay_catalog::keys::{loxysoft, nice, wfm};
use patchbay_connectors::{Egress, EgressPolicy};
use patchbay_feeds::{ApplySummary, FeedOptions, FeedSpec, FeedStatus, Limits, Upsert};
use serde_json::json;

use crate::common::*;

fn aspect_spec(port: u16) -> FeedSpec {
    spec(
        "wfm1",
        "wfm",
        "aspect_tcp",
        json!({wfm::aspect_tcp::HOST_NAME: "127.0.0.1", wfm::aspect_tcp::PORT: port}),
        &[],
    )
}

fn wfm_spec(url: &str, interval: u64) -> FeedSpec {
    spec(
        "wfm2",
        "wfm",
        "http_post",
        json!({wfm::http_post::URL: url, wfm::http_post::PERIODIC_UPDATE_INTERVAL: interval}),
        &[(wfm::http_post::TOKEN, "t")],
    )
}

#[tokio::test(start_paused = true)]
async fn a_changed_account_is_restarted_and_posts_to_its_new_url_at_once() {
    let world = World::new();
    let mut old = HttpReceiver::start().await;
    let mut new = HttpReceiver::start().await;
    assert_eq!(world.supervisor.upsert(wfm_spec(&old.url, 10)), Upsert::Started);
    old.next().await;
    old.next().await;
    assert_eq!(world.supervisor.upsert(wfm_spec(&old.url, 10)), Upsert::Unchanged);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(world.supervisor.upsert(wfm_spec(&new.url, 1)), Upsert::Restarted);
    let first = new.next().await;
    assert_eq!(world.elapsed(), 13, "the new configuration applies at once, not at the next interval");
    let second = new.next().await;
    assert_eq!(second.at - first.at, Duration::from_secs(1), "and with its own interval");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(old.pending(), 0, "nothing more reaches the old URL");
    let health = world.health_until("wfm2", "the answers", |h| h.sent >= 2 + 2 + 59).await;
    assert_eq!((health.restarts, health.failed), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_removed_account_stops_sending() {
    let world = World::new();
    let mut receiver = HttpReceiver::start().await;
    let mut rta = aspect_receiver(loopback(), Widths::DEFAULT, true);
    let aspect = aspect_spec(rta.addr.port());
    world.supervisor.upsert(aspect);
    world.supervisor.upsert(wfm_spec(&receiver.url, 1));
    receiver.next().await;
    rta.take(2).await;

    assert!(world.supervisor.remove("wfm2"));
    assert!(world.supervisor.remove("wfm1"));
    assert!(!world.supervisor.remove("wfm1"));
    rta.closed(1).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(receiver.pending(), 0);
    assert!(rta.pending().is_empty());
    assert!(world.supervisor.health("wfm2").is_none());
}

#[tokio::test(start_paused = true)]
async fn apply_starts_restarts_and_stops_feeds_to_match_the_accounts() {
    let world = World::new();
    let receiver = HttpReceiver::start().await;
    let nice = spec(
        "nice1",
        "nice",
        "default",
        json!({nice::URL: receiver.url, nice::USERNAME: "u"}),
        &[(nice::PASSWORD, "p")],
    );
    let aws = unchecked_spec("s3", "aws", "default", json!({"bucket": "b"}), &[]);
    let summary = world.supervisor.apply(vec![wfm_spec(&receiver.url, 10), nice.clone(), aws]);
    assert_eq!(
        summary,
        ApplySummary { started: vec!["wfm2".into(), "nice1".into()], ..ApplySummary::default() },
        "types that push nothing are ignored"
    );
    let summary = world.supervisor.apply(vec![wfm_spec(&receiver.url, 5)]);
    assert_eq!(
        summary,
        ApplySummary { restarted: vec!["wfm2".into()], stopped: vec!["nice1".into()], ..ApplySummary::default() }
    );
    let ids: Vec<_> = world.supervisor.health_all().into_iter().map(|h| h.account_id).collect();
    assert_eq!(ids, vec!["wfm2"]);
    let summary = world.supervisor.apply(Vec::new());
    assert_eq!(summary.stopped, vec!["wfm2".to_owned()]);
    assert!(world.supervisor.health_all().is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_every_feed_and_keeps_the_live_state() {
    let world = World::new();
    world.send("acme", r#"{"type":"agent_login","agent_id":"a1"}"#);
    let mut receiver = HttpReceiver::start().await;
    let mut rta = aspect_receiver(loopback(), Widths::DEFAULT, true);
    let aspect = aspect_spec(rta.addr.port());
    world.supervisor.apply(vec![aspect, wfm_spec(&receiver.url, 1)]);
    receiver.next().await;
    rta.take(3).await;
    world.supervisor.shutdown();
    rta.closed(1).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(receiver.pending(), 0);
    assert!(world.supervisor.health_all().is_empty());
    assert_eq!(world.supervisor.state().counts().agents_logged_in, 1);
}

#[tokio::test(start_paused = true)]
async fn an_account_with_unusable_properties_reports_it_in_health_until_corrected() {
    let world = World::new();
    let mut receiver = HttpReceiver::start().await;
    let broken = unchecked_spec("lox", "loxysoft", "default", json!({loxysoft::URL: receiver.url}), &[]);
    assert_eq!(world.supervisor.upsert(broken), Upsert::Invalid);
    let health = world.health("lox");
    assert_eq!(health.status, FeedStatus::InvalidConfig);
    assert_eq!(health.last_error.as_deref(), Some("properties.token: required"));
    let fixed = spec("lox", "loxysoft", "default", json!({loxysoft::URL: receiver.url}), &[(loxysoft::TOKEN, "x")]);
    assert_eq!(world.supervisor.upsert(fixed), Upsert::Restarted);
    receiver.next().await;
    world.health_until("lox", "running", |h| h.status == FeedStatus::Running).await;
}

#[tokio::test(start_paused = true)]
async fn health_and_errors_never_show_a_secret() {
    let world = World::new();
    let mut failing = HttpReceiver::start().await;
    failing.answer(Answer::Status(401));
    let sentinel = "SENTINEL-9f3b";
    let wfm = spec(
        "wfm2",
        "wfm",
        "http_post",
        json!({wfm::http_post::URL: format!("{}?key=q", failing.url)}),
        &[(wfm::http_post::TOKEN, sentinel)],
    );
    let down = patchbay_testkit::peers::closed_port();
    let nice = spec(
        "nice1",
        "nice",
        "default",
        json!({nice::URL: format!("http://{down}/nice"), nice::USERNAME: "u"}),
        &[(nice::PASSWORD, sentinel)],
    );
    assert!(!format!("{wfm:?}{nice:?}").contains(sentinel));
    world.supervisor.apply(vec![wfm, nice]);
    failing.next().await;
    world.health_until("wfm2", "a failure", |h| h.failed >= 1).await;
    world.health_until("nice1", "a failure", |h| h.failed >= 1).await;
    let all = serde_json::to_string(&world.supervisor.health_all()).unwrap();
    assert!(all.contains("HTTP 401") && all.contains("cannot connect"), "{all}");
    assert!(!all.contains(sentinel), "{all}");
    assert!(!all.contains("key=q"), "{all}");
}

#[tokio::test(start_paused = true)]
async fn feeds_to_targets_the_egress_policy_refuses_fail_with_the_reason() {
    let strict = Egress::new(EgressPolicy { timeout: Duration::from_secs(2), ..EgressPolicy::default() }).unwrap();
    let world = World::with(Limits::default(), FeedOptions::default(), strict);
    let mut receiver = HttpReceiver::start().await;
    let rta = aspect_receiver(loopback(), Widths::DEFAULT, true);
    world.supervisor.apply(vec![
        wfm_spec(&receiver.url, 10),
        aspect_spec(rta.addr.port()),
        spec(
            "lox",
            "loxysoft",
            "default",
            json!({loxysoft::URL: format!("http://localhost:{}/x", rta.addr.port())}),
            &[(loxysoft::TOKEN, "t")],
        ),
    ]);
    for account in ["wfm2", "wfm1", "lox"] {
        let health = world.health_until(account, "a refusal", |h| h.failed >= 1).await;
        let error = health.last_error.unwrap();
        assert!(error.contains("egress policy refuses"), "{account}: {error}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.pending(), 0, "no request reached a refused address");
}
