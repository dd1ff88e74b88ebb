//! The admin screen's Live page end to end, on SQLite and PostgreSQL: the real `patchbay
//! serve`, a real headless Chromium, events ingested through the API with an event
//! producer's token, and feeds that talk to real loopback peers (one listening, one a
//! closed port), a revoked token that ends the page it watches, and a server that goes
//! away under it. Screenshots go to `target/ui-shots/`.

mod browser;
mod vendor;

use std::time::{Duration, Instant};

use browser::{enum_title, Browser, Harness};
use patchbay_catalog::keys::statistics_receiver;
use patchbay_catalog::keys::wfm::http_post;
use patchbay_testkit::peers::closed_port;
use reqwest::Method;
use serde_json::json;

const TENANT: &str = "acme";
const WAIT: Duration = Duration::from_secs(20);

async fn sign_in_with_token(b: &Browser, token: &str) {
    b.open("").await;
    b.fill("#token", token).await;
    b.click("#signin-form button[type=submit]").await;
    b.wait(".who-name").await;
}

/// Sends NDJSON events with the producer's token; all must be taken.
async fn ingest(h: &Harness, producer: &str, lines: &[&str]) {
    let reply = h
        .http
        .post(format!("{}/api/v1/tenants/{TENANT}/events", h.base))
        .bearer_auth(producer)
        .body(lines.join("\n"))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(reply.status(), 200);
    let report: serde_json::Value = reply.json().await.expect("a report");
    assert_eq!(report["rejected"], json!([]), "{report}");
}

/// A loopback TCP peer that takes connections and reads what comes (a statistics receiver).
async fn tcp_peer() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut socket, &mut tokio::io::sink()).await;
            });
        }
    });
    port
}

/// The number of live streams open on the server, from `/metrics`.
async fn streams_open(h: &Harness) -> i64 {
    let text = h.http.get(format!("{}/metrics", h.base)).send().await.expect("metrics").text().await.expect("text");
    let line = text.lines().find(|l| l.starts_with("patchbay_live_streams_open ")).expect("the gauge");
    line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number")
}

patchbay_testkit::backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_live_page_shows_agents_feeds_and_its_connection_as_they_change(db) {
        Harness::run_on(&db, &["--live-streams-per-tenant", "1"], |h| async move {
            let created = h.api(Method::POST, "/api/v1/tenants", Some(json!({"id": TENANT, "name": "Acme Support"}))).await;
            assert_eq!(created.0, 201, "{created:?}");
            let doc = h.api(Method::GET, "/api/v1/openapi.json", None).await.1;
            let producer = h.token("platform", "event_producer", TENANT).await;
            let accounts = format!("/api/v1/tenants/{TENANT}/integration-accounts");
            let port = tcp_peer().await;
            let stats = json!({"type": "statistics_receiver", "name": "Wallboard",
                "properties": {statistics_receiver::HOST_NAME: "127.0.0.1", statistics_receiver::PORT: port}});
            let (status, stats) = h.api(Method::POST, &accounts, Some(stats)).await;
            assert_eq!(status, 201, "{stats}");
            let closed = closed_port().port();
            let wfm = json!({"type": "wfm", "provider": "http_post", "name": "WFM forecasting", "properties": {
                http_post::URL: format!("http://127.0.0.1:{closed}/rta"), http_post::TOKEN: "wfm-token",
                http_post::PERIODIC_UPDATE_INTERVAL: 1}});
            let (status, wfm) = h.api(Method::POST, &accounts, Some(wfm)).await;
            assert_eq!(status, 201, "{wfm}");

            // The tenant's one allowed stream is taken: the page says it is disconnected and
            // offers Retry.
            let held = h
                .http
                .get(format!("{}/api/v1/tenants/{TENANT}/live/stream", h.base))
                .bearer_auth(&h.admin_token)
                .send()
                .await
                .expect("a stream");
            assert_eq!(held.status(), 200);
            let b = h.browser();
            sign_in_with_token(b, &h.admin_token).await;
            b.click(&format!("a.tenant-link[data-tenant='{TENANT}']")).await;
            b.click("a.nav-live").await;
            b.wait_text("h1.page-title", "Live").await;
            b.wait(".stream-status[data-state='closed']").await;
            assert!(b.text(".stream-status").await.contains("Disconnected"));
            assert!(b.exists(".stream-retry:not([hidden])").await, "Retry is offered");
            b.js("window.livePageMarker = 'kept'").await;

            // The held stream goes; Retry connects.
            drop(held);
            let deadline = Instant::now() + WAIT;
            let mut n = 0;
            loop {
                // A change makes the server write to the held stream's closed connection.
                n += 1;
                let line = format!(r#"{{"type":"service_stats","service":"Warmup","handled":{n}}}"#);
                ingest(&h, &producer, &[line.as_str()]).await;
                if b.exists(".stream-retry:not([hidden])").await {
                    b.click(".stream-retry").await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                if b.exists(".stream-status[data-state='live']").await {
                    break;
                }
                assert!(Instant::now() < deadline, "the page did not connect after Retry");
            }
            assert_eq!(b.text(".stream-status .stream-text").await, "Live");
            assert!(b.exists(".stream-retry[hidden]").await, "no Retry while live");
            b.wait_text(".live-agents-body .empty-state", "No agents logged in").await;

            // Agents appear and change without a reload.
            ingest(&h, &producer, &[
                r#"{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales","VIP"]}"#,
                r#"{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch"}"#,
            ]).await;
            let row = ".live-agents tr[data-agent='a1']";
            b.wait(&format!("{row}[data-state='not_ready']")).await;
            assert_eq!(b.text(&format!("{row} .agent-state")).await, enum_title(&doc, "AgentState", "not_ready"));
            assert_eq!(b.text(&format!("{row} .col-reason")).await, "Lunch");
            assert_eq!(b.text(&format!("{row} .col-extension")).await, "1001");
            assert_eq!(b.text(&format!("{row} .col-services")).await, "Sales, VIP");
            ingest(&h, &producer, &[
                r#"{"type":"agent_state","agent_id":"a1","state":"busy"}"#,
                r#"{"type":"call_start","call_id":"c1","agent_id":"a1","service":"VIP","direction":"inbound"}"#,
                r#"{"type":"service_stats","service":"Sales","calls_waiting":4,"longest_wait_s":75,"handled":12}"#,
            ]).await;
            b.wait(&format!("{row}[data-state='busy']")).await;
            b.wait_text(&format!("{row} .col-call"), "Inbound on VIP").await;
            let sales = b.wait_text(".live-services tr[data-service='Sales']", "1 min 15 s").await;
            assert!(sales.contains('4') && sales.contains("12"), "{sales}");
            assert_eq!(b.js_string("return String(window.livePageMarker)").await, "kept", "the page was not reloaded");

            // Time in state ticks by itself.
            let tick = format!("{row} .col-time time");
            let first = b.text(&tick).await;
            tokio::time::sleep(Duration::from_millis(2100)).await;
            assert_ne!(b.text(&tick).await, first, "time in state ticks every second");

            // Feeds: one connected to its receiver, one failing in plain words.
            let stats_card = format!(".feed-card[data-account='{}']", stats["id"].as_str().unwrap());
            b.wait_text(&format!("{stats_card} .feed-connected"), "Yes").await;
            assert!(b.text(&format!("{stats_card} .feed-name")).await.contains("Wallboard"));
            let wfm_card = format!(".feed-card[data-account='{}']", wfm["id"].as_str().unwrap());
            b.wait_text(&format!("{wfm_card} .feed-error-text"), "Nothing accepts connections").await;
            assert_eq!(b.text(&format!("{wfm_card} .feed-connected")).await, "No");
            b.wait_text(".live-runs-body .empty-state", "No export runs in progress").await;

            ingest(&h, &producer, &[r#"{"type":"agent_logout","agent_id":"a1"}"#]).await;
            b.wait_gone(row).await;
            ingest(&h, &producer, &[
                r#"{"type":"agent_login","agent_id":"a2","extension":"1002"}"#,
                r#"{"type":"agent_state","agent_id":"a2","state":"ready"}"#,
            ]).await;
            b.wait(".live-agents tr[data-agent='a2'][data-state='ready']").await;

            b.assert_accessible("live").await;
            b.shot("live").await;
            b.set_width(390).await;
            b.wait(".live-agents tr[data-agent='a2']").await;
            assert!(!b.scrolls_sideways().await, "the Live page fits 390 px");
            b.shot("live-390").await;
            b.set_width(1280).await;

            // Leaving the page closes its stream.
            b.click("a.nav-exports").await;
            b.wait_text("h1.page-title", "Recording Export").await;
            let deadline = Instant::now() + WAIT;
            let mut n = 0;
            while streams_open(&h).await != 0 {
                n += 1;
                let line = format!(r#"{{"type":"service_stats","service":"Sales","handled":{}}}"#, 100 + n);
                ingest(&h, &producer, &[line.as_str()]).await;
                assert!(Instant::now() < deadline, "the Live page's stream stayed open after leaving it");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }

            // A revoked token ends the Live page it watches: its stream stops, and the page
            // gives way to the sign-in page, which says why.
            let wallboard = json!({"name": "wallboard", "role": "tenant_viewer", "tenant": TENANT});
            let (status, minted) = h.api(Method::POST, "/api/v1/tokens", Some(wallboard)).await;
            assert_eq!(status, 201, "{minted}");
            b.delete_cookies().await;
            sign_in_with_token(b, minted["token"].as_str().expect("the token")).await;
            b.open(&format!("#/t/{TENANT}/live")).await;
            b.wait(".stream-status[data-state='live']").await;
            let revoke = format!("/api/v1/tokens/{}", minted["id"].as_str().expect("the token's id"));
            assert_eq!(h.api(Method::DELETE, &revoke, None).await.0, 204);
            b.wait_text("p.notice", "Your session has ended").await;
            assert!(b.exists("#signin-form").await);

            // The server goes away under a watching page: its stream drops, and the page says
            // it is reconnecting (the browser tries again by itself), not that it is live.
            sign_in_with_token(b, &h.admin_token).await;
            b.open(&format!("#/t/{TENANT}/live")).await;
            b.wait(".stream-status[data-state='live']").await;
            h.stop_server();
            b.wait(".stream-status[data-state='reconnecting']").await;
            assert_eq!(b.text(".stream-status .stream-text").await, "Reconnecting…");
            assert!(b.exists(".stream-retry[hidden]").await, "no Retry while the browser tries by itself");
        })
        .await;
    }
}
