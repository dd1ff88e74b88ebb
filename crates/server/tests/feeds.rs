//! The data plane through the API: events in from an event-producer token, the live state
//! out to a WFM HTTP POST receiver at the account's interval, config changes picked up,
//! deletion stopping traffic, feed health in the API and in /metrics.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchbay_catalog::keys::wfm::http_post;
use patchbay_testkit::{TestDatabase, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

/// A WFM HTTP POST receiver keeping every body it got.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let router = axum::Router::new().route(
        "/rta",
        axum::routing::post(move |body: axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body.0);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/rta", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, bodies)
}

/// Waits (at most 10 s) until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn agent_of(body: &Value, id: &str) -> Option<Value> {
    body["agents"].as_array()?.iter().find(|a| a["agent_id"] == id).cloned()
}

#[tokio::test]
async fn events_reach_the_wfm_receiver_and_account_changes_move_the_feed() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    let producer = s.token("event_producer", Some("acme")).await;
    let (first_url, first) = receiver().await;
    let wfm = json!({"type": "wfm", "provider": "http_post", "name": "WFM", "properties": {
        http_post::URL: first_url, http_post::TOKEN: "wfm-token",
        http_post::PERIODIC_UPDATE_INTERVAL: 1, http_post::REASON_CODES_MAPPING: {"Lunch": 7}}});
    let created = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(wfm)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let path = format!("/api/v1/tenants/acme/integration-accounts/{}", created.body["id"].as_str().unwrap());

    let events = [
        r#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales"]}"#,
        r#"{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch"}"#,
        r#"{"type":"agent_state","agent_id":"a1","state":"ready","reason":"Lunch"}"#,
    ]
    .join("\n");
    let sent =
        s.request(Method::POST, "/api/v1/tenants/acme/events", Some(&producer)).body(events).send().await.unwrap();
    let report = patchbay_testkit::Reply::read(sent).await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["accepted"], 2);
    assert_eq!(report.body["rejected"][0]["line"], 3, "{}", report.text);

    eventually("the agent at the receiver", || {
        first.lock().unwrap().iter().any(|b| {
            agent_of(b, "a1")
                .is_some_and(|a| a["state"] == "not_ready" && a["reason_code"] == 7 && a["extension"] == "1001")
        })
    })
    .await;
    let health = s.call(Method::GET, "/api/v1/tenants/acme/feeds", None).await;
    assert_eq!(health.body["items"][0]["kind"], "wfm_http", "{}", health.text);
    assert!(health.body["items"][0]["sent"].as_u64().unwrap() >= 1);
    assert!(!health.text.contains("wfm-token"));
    let metrics = s.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("patchbay_events_total{outcome=\"accepted\"} 2"), "{metrics}");
    assert!(metrics.contains("patchbay_feeds{kind=\"wfm_http\"} 1"), "{metrics}");

    // A changed URL moves the feed at once.
    let (second_url, second) = receiver().await;
    let moved = s
        .call(
            Method::PUT,
            &path,
            Some(json!({"properties": {http_post::URL: second_url, http_post::TOKEN: "wfm-token",
        http_post::PERIODIC_UPDATE_INTERVAL: 1, http_post::REASON_CODES_MAPPING: {"Lunch": 7}}})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    eventually("the moved feed", || !second.lock().unwrap().is_empty()).await;

    // Deleting the account stops the traffic.
    assert_eq!(s.call(Method::DELETE, &path, None).await.status, 204);
    let feeds = s.call(Method::GET, "/api/v1/tenants/acme/feeds", None).await;
    assert_eq!(feeds.body["items"], json!([]));
    let before = second.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(second.lock().unwrap().len() <= before + 1, "at most a request already in flight after the delete");
    s.stop().await;
}

#[tokio::test]
async fn event_tokens_send_events_only() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    let producer = s.tenant_with_token("acme", "event_producer").await;
    s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "globex"}))).await;
    let viewer = s.token("tenant_viewer", Some("acme")).await;
    let event = json!([{"type": "agent_login", "agent_id": "a1"}]);
    assert_eq!(
        s.call_as(&producer, Method::POST, "/api/v1/tenants/acme/events", Some(event.clone())).await.status,
        200
    );
    assert_eq!(
        s.call_as(&producer, Method::POST, "/api/v1/tenants/globex/events", Some(event.clone())).await.status,
        404
    );
    assert_eq!(s.call_as(&viewer, Method::POST, "/api/v1/tenants/acme/events", Some(event)).await.status, 403);
    assert_eq!(s.call_as(&producer, Method::GET, "/api/v1/tenants/acme/integration-accounts", None).await.status, 403);
    let live = s.call(Method::GET, "/api/v1/tenants/acme/live", None).await;
    assert_eq!(live.body["agents"], 1, "{}", live.text);
    let broken = s
        .request(Method::POST, "/api/v1/tenants/acme/events", Some(&s.admin_token.clone()))
        .body("[{")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    s.stop().await;
}
