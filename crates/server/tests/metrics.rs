//! `/metrics` counts requests by route template and status, and accounts by type.

use patchbay_testkit::{TestDatabase, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn metrics_count_requests_by_route_and_accounts_by_type() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    let line = json!({"type": "messenger", "provider": "line", "name": "L", "properties": {"token": "t"}});
    let created = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(line)).await;
    let id = created.body["id"].as_str().unwrap();
    s.call(Method::GET, &format!("/api/v1/tenants/acme/integration-accounts/{id}"), None).await;
    s.call(Method::GET, "/api/v1/tenants/acme/integration-accounts/00000000-0000-0000-0000-000000000000", None).await;
    let zapier = json!({"type": "zapier", "name": "Z", "properties": {"username": "u", "password": "p"}});
    s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts/test", Some(zapier)).await;

    let text = s.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    let route = "/api/v1/tenants/{tenant}/integration-accounts/{id}";
    assert!(
        text.contains(&format!("patchbay_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"200\"}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("patchbay_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"404\"}} 1")),
        "{text}"
    );
    assert!(!text.contains(id), "raw paths never become labels");
    assert!(text.contains("patchbay_integration_accounts{type=\"messenger\"} 1"), "{text}");
    assert!(
        text.contains(
            "patchbay_connection_tests_total{type=\"zapier\",provider=\"default\",outcome=\"unsupported\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("patchbay_http_request_duration_seconds_bucket"));
    s.stop().await;
}

/// The value of an unlabelled metric in `/metrics`.
fn sample(text: &str, name: &str) -> i64 {
    let line = text.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("no {name}: {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn metrics_count_the_runtimes_alive_tasks_at_scrape_time() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    let scrape = || async { s.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap() };
    let before = sample(&scrape().await, "patchbay_runtime_tasks_alive");
    let (release, held) = tokio::sync::watch::channel(false);
    // 200 parked tasks, judged with a slack of 50 for the server's own tasks coming and going.
    let parked: Vec<_> = (0..200)
        .map(|_| {
            let mut held = held.clone();
            tokio::spawn(async move {
                while !*held.borrow_and_update() {
                    held.changed().await.unwrap()
                }
            })
        })
        .collect();
    let during = sample(&scrape().await, "patchbay_runtime_tasks_alive");
    assert!(during >= before + 150, "200 parked tasks must be counted: {before} before, {during} during");
    release.send(true).unwrap();
    for task in parked {
        task.await.unwrap();
    }
    let after = sample(&scrape().await, "patchbay_runtime_tasks_alive");
    assert!(after <= during - 150, "finished tasks must leave the count: {during} during, {after} after");
    s.stop().await;
}
