//! The live state for people watching it: the snapshot, and the Server-Sent Events stream
//! (a snapshot, then changes as events are ingested, feed health as it changes, resuming
//! with `Last-Event-ID`), its per-tenant cap, its gauge, its end at shutdown and its end
//! when the caller's token is revoked or session signed out.

use std::time::{Duration, Instant};

use patchbay_catalog::keys::statistics_receiver;
use patchbay_testkit::{backend_test, EventStream, Reply, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

async fn ingest(s: &TestServer, token: &str, tenant: &str, lines: &[&str]) {
    let sent = s
        .request(Method::POST, &format!("/api/v1/tenants/{tenant}/events"), Some(token))
        .body(lines.join("\n"))
        .send()
        .await
        .unwrap();
    let report = Reply::read(sent).await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["rejected"], json!([]), "{}", report.text);
}

async fn open(s: &TestServer, token: &str, tenant: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut request = s.request(Method::GET, &format!("/api/v1/tenants/{tenant}/live/stream"), Some(token));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.unwrap()
}

/// A statistics receiver peer: a loopback TCP listener that takes connections and reads
/// what comes.
async fn tcp_peer() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut socket, &mut sink).await;
            });
        }
    });
    port
}

fn metric(text: &str, name: &str) -> i64 {
    let line = text.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("no {name}: {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

backend_test! {
    #[tokio::test]
    async fn the_snapshot_lists_agents_services_and_the_tenants_feeds(db) {
        let s = TestServer::start(&db).await;
        let viewer = s.tenant_with_token("acme", "tenant_viewer").await;
        let producer = s.token("event_producer", Some("acme")).await;
        let port = tcp_peer().await;
        let account = json!({"type": "statistics_receiver", "name": "Wallboard",
            "properties": {statistics_receiver::HOST_NAME: "127.0.0.1", statistics_receiver::PORT: port}});
        let created = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(account)).await;
        assert_eq!(created.status, 201, "{created:?}");
        ingest(&s, &producer, "acme", &[
            r#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales"]}"#,
            r#"{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch"}"#,
            r#"{"type":"call_start","call_id":"c1","agent_id":"a1","service":"Sales","direction":"inbound"}"#,
            r#"{"type":"agent_login","agent_id":"a2"}"#,
            r#"{"type":"agent_logout","agent_id":"a2"}"#,
            r#"{"type":"service_stats","service":"Sales","calls_waiting":3,"handled":10}"#,
        ]).await;
        let r = s.call_as(&viewer, Method::GET, "/api/v1/tenants/acme/live/snapshot", None).await;
        assert_eq!(r.status, 200, "{r:?}");
        let agents = r.body["agents"].as_array().unwrap();
        assert_eq!(agents.len(), 1, "logged-out agents are not listed: {}", r.text);
        let a1 = &agents[0];
        assert_eq!((&a1["agent_id"], &a1["state"], &a1["reason"]), (&json!("a1"), &json!("not_ready"), &json!("Lunch")));
        assert_eq!((&a1["extension"], &a1["services"]), (&json!("1001"), &json!(["Sales"])));
        assert_eq!((&a1["call"]["call_id"], &a1["call"]["direction"]), (&json!("c1"), &json!("inbound")));
        let sales = &r.body["services"][0];
        assert_eq!((&sales["service"], &sales["calls_waiting"], &sales["handled"]), (&json!("Sales"), &json!(3), &json!(10)));
        assert!(sales["updated_at"].is_string());
        let feeds = r.body["feeds"].as_array().unwrap();
        assert_eq!(feeds.len(), 1, "{}", r.text);
        assert_eq!(feeds[0]["account_id"], created.body["id"]);
        assert_eq!(feeds[0]["kind"], "statistics_receiver");
        assert_eq!(r.body["export_runs"], json!([]));
        let other = s.tenant_with_token("globex", "tenant_viewer").await;
        let r = s.call_as(&other, Method::GET, "/api/v1/tenants/acme/live/snapshot", None).await;
        assert_eq!(r.status, 404, "another tenant's token does not see this tenant: {r:?}");
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn the_stream_sends_a_snapshot_then_each_change_and_resumes_from_its_last_id(db) {
        let s = TestServer::start(&db).await;
        let viewer = s.tenant_with_token("acme", "tenant_viewer").await;
        let producer = s.token("event_producer", Some("acme")).await;
        ingest(&s, &producer, "acme", &[r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}"#]).await;

        let response = open(&s, &viewer, "acme", None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut stream = EventStream::new(response);
        let snapshot = stream.next(WAIT).await.expect("a snapshot");
        assert_eq!(snapshot.event, "snapshot");
        assert_eq!(snapshot.retry, Some(3000), "the first event advises when to reconnect");
        assert_eq!(snapshot.id.as_deref(), snapshot.data["cursor"].as_str());
        assert_eq!(snapshot.data["agents"][0]["state"], "not_ready");

        ingest(&s, &producer, "acme", &[r#"{"type":"agent_state","agent_id":"a1","state":"ready"}"#]).await;
        let changed = stream.next_named("agent", WAIT).await;
        assert_eq!((&changed.data["agent_id"], &changed.data["state"]), (&json!("a1"), &json!("ready")));
        assert_ne!(changed.id, snapshot.id, "each change moves the cursor");
        ingest(&s, &producer, "acme", &[
            r#"{"type":"service_stats","service":"Sales","calls_waiting":2}"#,
            r#"{"type":"agent_logout","agent_id":"a1"}"#,
        ]).await;
        let removed = stream.next_named("agent_removed", WAIT).await;
        assert_eq!(removed.data, json!({"agent_id": "a1"}));
        let service = stream.next_named("service", WAIT).await;
        assert_eq!((&service.data["service"], &service.data["calls_waiting"]), (&json!("Sales"), &json!(2)));
        let last = service.id.clone().unwrap();
        drop(stream);

        // While the client is away, an agent logs in; back with its last id, it gets that.
        ingest(&s, &producer, "acme", &[r#"{"type":"agent_login","agent_id":"a2","extension":"1002"}"#]).await;
        let mut resumed = EventStream::new(open(&s, &viewer, "acme", Some(&last)).await);
        let first = resumed.next(WAIT).await.unwrap();
        assert_eq!(first.event, "agent", "a resumable id gets what changed, not a snapshot: {first:?}");
        assert_eq!(first.data["agent_id"], "a2");
        drop(resumed);

        for stale in ["1-1", "not a cursor", "99999999999999-0"] {
            let mut fresh = EventStream::new(open(&s, &viewer, "acme", Some(stale)).await);
            let first = fresh.next(WAIT).await.unwrap();
            assert_eq!(first.event, "snapshot", "an id of another state gets a fresh snapshot: {stale}");
            assert_eq!(first.data["agents"][0]["agent_id"], "a2");
        }
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn the_stream_tells_when_a_feeds_health_changes(db) {
        let s = TestServer::start(&db).await;
        let viewer = s.tenant_with_token("acme", "tenant_viewer").await;
        let mut stream = EventStream::new(open(&s, &viewer, "acme", None).await);
        let snapshot = stream.next_named("snapshot", WAIT).await;
        assert_eq!(snapshot.data["feeds"], json!([]));
        let port = tcp_peer().await;
        let account = json!({"type": "statistics_receiver", "name": "Wallboard",
            "properties": {statistics_receiver::HOST_NAME: "127.0.0.1", statistics_receiver::PORT: port}});
        let created = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(account)).await;
        assert_eq!(created.status, 201, "{created:?}");
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let feeds = stream.next_named("feeds", left).await;
            let items = feeds.data["items"].as_array().cloned().unwrap_or_default();
            let connected = items.iter().any(|f| f["account_id"] == created.body["id"] && f["connected"] == true);
            if connected {
                break;
            }
        }
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn a_tenant_over_its_stream_cap_gets_429_and_the_gauge_counts_open_streams(db) {
        let s = TestServer::start_with(&db, |settings| settings.live_streams_per_tenant = 2).await;
        let viewer = s.tenant_with_token("acme", "tenant_viewer").await;
        let producer = s.token("event_producer", Some("acme")).await;
        let other = s.tenant_with_token("globex", "tenant_viewer").await;
        let mut first = EventStream::new(open(&s, &viewer, "acme", None).await);
        first.next_named("snapshot", WAIT).await;
        let mut second = EventStream::new(open(&s, &viewer, "acme", None).await);
        second.next_named("snapshot", WAIT).await;

        let refused = Reply::read(open(&s, &viewer, "acme", None).await).await;
        assert_eq!(refused.status, 429, "{refused:?}");
        assert_eq!(refused.headers["content-type"], "application/problem+json");
        assert!(refused.headers.contains_key("retry-after"));
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(detail.contains("2 live streams open"), "{detail}");
        let elsewhere = open(&s, &other, "globex", None).await;
        assert_eq!(elsewhere.status(), 200, "another tenant is not affected");
        let text = s.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
        assert_eq!(metric(&text, "patchbay_live_streams_open"), 3, "{text}");
        assert_eq!(metric(&text, "patchbay_live_streams_refused_total"), 1);
        drop(elsewhere);

        // A closed stream frees its place once the server writes to it again.
        drop(second);
        let deadline = Instant::now() + WAIT;
        let mut n = 0;
        let reopened = loop {
            n += 1;
            let line = format!(r#"{{"type":"service_stats","service":"S","handled":{n}}}"#);
            ingest(&s, &producer, "acme", &[line.as_str()]).await;
            first.next_named("service", WAIT).await;
            let response = open(&s, &viewer, "acme", None).await;
            if response.status() == 200 {
                break response;
            }
            assert!(Instant::now() < deadline, "the closed stream's place was not freed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        drop(reopened);
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn open_streams_end_when_the_server_shuts_down(db) {
        let s = TestServer::start(&db).await;
        let viewer = s.tenant_with_token("acme", "tenant_viewer").await;
        let mut stream = EventStream::new(open(&s, &viewer, "acme", None).await);
        stream.next_named("snapshot", WAIT).await;
        let started = Instant::now();
        tokio::time::timeout(WAIT, s.stop()).await.expect("the shutdown does not wait for the stream");
        assert!(started.elapsed() < WAIT);
        let end: Option<Value> = stream.next(WAIT).await.map(|e| e.data);
        assert_eq!(end, None, "the stream ended");
    }
}

/// Reads the stream until it ends; panics when it has not within `within`.
async fn until_ended(stream: &mut EventStream, within: Duration) -> Duration {
    let started = Instant::now();
    while stream.next(within.saturating_sub(started.elapsed())).await.is_some() {}
    started.elapsed()
}

backend_test! {
    #[tokio::test]
    async fn a_stream_ends_when_its_token_is_revoked_or_its_session_signed_out(db) {
        let s = TestServer::start(&db).await;
        let admin = s.tenant_with_token("acme", "tenant_admin").await;
        let producer = s.token("event_producer", Some("acme")).await;
        let minted = s.call(Method::POST, "/api/v1/tokens",
            Some(json!({"name": "wallboard", "role": "tenant_viewer", "tenant": "acme"}))).await;
        let wallboard = minted.body["token"].as_str().unwrap().to_owned();
        let mut by_token = EventStream::new(open(&s, &wallboard, "acme", None).await);
        by_token.next_named("snapshot", WAIT).await;

        // The admin screen's stream, signed in with the admin's token: the session cookie.
        let signed = s.request(Method::POST, "/ui/session", None).json(&json!({"token": admin})).send().await.unwrap();
        let cookie = signed.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let csrf = Reply::read(signed).await.body["csrf_token"].as_str().unwrap().to_owned();
        let live = s.request(Method::GET, "/api/v1/tenants/acme/live/stream", None).header("cookie", &cookie);
        let mut by_session = EventStream::new(live.send().await.unwrap());
        by_session.next_named("snapshot", WAIT).await;

        let revoke = format!("/api/v1/tokens/{}", minted.body["id"].as_str().unwrap());
        assert_eq!(s.call(Method::DELETE, &revoke, None).await.status, 204);
        let took = until_ended(&mut by_token, WAIT).await;
        eprintln!("the revoked token's stream ended {took:?} after the revocation");
        assert_eq!(Reply::read(open(&s, &wallboard, "acme", None).await).await.status, 401, "no way back in");

        // The session's stream is another caller's: it goes on until the session ends.
        ingest(&s, &producer, "acme", &[r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}"#]).await;
        assert_eq!(by_session.next_named("agent", WAIT).await.data["agent_id"], "a1");
        let signed_out = s.request(Method::DELETE, "/ui/session", None)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert!(signed_out.status().is_success(), "{signed_out:?}");
        until_ended(&mut by_session, WAIT).await;
        s.stop().await;
    }
}
