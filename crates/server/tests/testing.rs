//! Connection tests and actions through the API: before and after saving, form values
//! winning over stored ones, results kept and audited, blocked targets, bulk tests, the
//! Generate random token action.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::keys::statistics_receiver;
use patchbay_catalog::keys::wfm::http_post;
use patchbay_testkit::{backend_test, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const ACCOUNTS: &str = "/api/v1/tenants/acme/integration-accounts";

/// A WFM HTTP POST receiver: accepts `{"agents": [], "services": []}` with the right token.
async fn wfm_receiver(token: &'static str) -> std::net::SocketAddr {
    let router = axum::Router::new().route(
        "/rta",
        axum::routing::post(move |headers: HeaderMap, body: axum::Json<Value>| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
            if auth != format!("Bearer {token}") {
                return StatusCode::UNAUTHORIZED;
            }
            if body.0 != json!({"agents": [], "services": []}) {
                return StatusCode::BAD_REQUEST;
            }
            StatusCode::OK
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

fn wfm(url: &str, token: Option<&str>) -> Value {
    let mut props = json!({http_post::URL: url});
    if let Some(t) = token {
        props[http_post::TOKEN] = json!(t);
    }
    json!({"type": "wfm", "provider": "http_post", "name": "WFM", "properties": props})
}

async fn tenant(db: &TestDatabase) -> TestServer {
    let s = TestServer::start(db).await;
    assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await.status, 201);
    s
}

backend_test! {
    #[tokio::test]
    async fn tests_use_the_form_values_before_and_after_saving(db) {
        let s = tenant(&db).await;
        let receiver = wfm_receiver("right-token").await;
        let url = format!("http://{receiver}/rta");
        let before = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(wfm(&url, Some("right-token")))).await;
        assert_eq!(before.body["status"], "ok", "{}", before.text);
        let steps: Vec<&str> =
            before.body["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(&steps[..3], ["resolve", "connect", "request"]);
        assert_eq!(s.call(Method::GET, ACCOUNTS, None).await.body["items"], json!([]), "a test saves nothing");

        let created = s.call(Method::POST, ACCOUNTS, Some(wfm(&url, Some("right-token")))).await;
        let id = created.body["id"].as_str().unwrap().to_owned();
        let mut form = wfm(&url, None);
        form["id"] = json!(id);
        let stored_secret = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(form.clone())).await;
        assert_eq!(
            stored_secret.body["status"], "ok",
            "the stored token fills in the omitted one: {}",
            stored_secret.text
        );

        form["properties"][http_post::TOKEN] = json!("typed-but-wrong");
        let typed = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(form.clone())).await;
        assert_eq!(typed.body["category"], "invalid_credentials", "the form's token wins: {}", typed.text);
        assert!(!typed.text.contains("typed-but-wrong"));

        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        form["properties"] = json!({http_post::URL: format!("http://{closed}/rta"), http_post::TOKEN: "right-token"});
        let moved = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(form)).await;
        assert_eq!(moved.body["category"], "unreachable", "the form's URL wins over the stored one: {}", moved.text);

        let saved = s.call(Method::POST, &format!("{ACCOUNTS}/{id}/test"), None).await;
        assert_eq!(saved.body["status"], "ok", "{}", saved.text);
        let account = s.call(Method::GET, &format!("{ACCOUNTS}/{id}"), None).await;
        assert_eq!(account.body["last_test"]["status"], "ok");
        assert!(account.body["last_test"]["tested_at"].is_string());
        assert_eq!(account.body["version"], 1, "a test does not change the account's version");
        let audit = s.call(Method::GET, &format!("{ACCOUNTS}/{id}/audit"), None).await;
        let actions: Vec<&str> =
            audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["test", "test.unsaved", "test.unsaved", "test.unsaved", "create"]);
        assert!(!audit.text.contains("right-token"));
        s.stop().await;
    }
}

/// A save that sends back the `Patchbay-Tested` header of a form test.
async fn save_tested(
    s: &TestServer,
    method: Method,
    path: &str,
    body: Value,
    tested: &str,
    version: Option<String>,
) -> Value {
    let mut req = s.request(method, path, Some(&s.admin_token)).header("patchbay-tested", tested).json(&body);
    if let Some(v) = version {
        req = req.header("if-match", v);
    }
    let reply = patchbay_testkit::Reply::read(req.send().await.unwrap()).await;
    assert!(reply.status == 200 || reply.status == 201, "{}", reply.text);
    reply.body
}

backend_test! {
    #[tokio::test]
    async fn a_changed_target_leaves_the_account_untested_and_a_form_test_of_the_saved_values_is_kept(db) {
        let s = tenant(&db).await;
        let receiver = wfm_receiver("right-token").await;
        let good = format!("http://{receiver}/rta");
        let closed = format!("http://{}/rta", patchbay_testkit::peers::closed_port());

        // Created after a passing form test of the same values: tested from the start.
        let form = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(wfm(&good, Some("right-token")))).await;
        assert_eq!(form.body["status"], "ok", "{}", form.text);
        let tested = form.headers["patchbay-tested"].to_str().unwrap().to_owned();
        assert!(!tested.contains("right-token") && !form.text.contains("right-token"), "the token is sealed");
        let created = save_tested(&s, Method::POST, ACCOUNTS, wfm(&good, Some("right-token")), &tested, None).await;
        assert_eq!(created["last_test"]["status"], "ok", "the form test is the new account's last test");
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("{ACCOUNTS}/{id}");

        // A failing saved test, then a fix to the URL saved without a test: untested, not "failed".
        let broken = s.call(Method::PUT, &path, Some(wfm(&closed, Some("right-token")))).await;
        assert_eq!(broken.status, 200, "{}", broken.text);
        assert_eq!(broken.body["last_test"], Value::Null, "a new URL leaves the account untested");
        let failed = s.call(Method::POST, &format!("{path}/test"), None).await;
        assert_eq!(failed.body["status"], "failed", "{}", failed.text);
        let renamed = s.call(Method::PUT, &path, Some(json!({"name": "WFM main"}))).await;
        assert_eq!(renamed.body["last_test"]["status"], "failed", "a new name keeps the last test");
        let mut mapped = wfm(&closed, None);
        mapped["name"] = json!("WFM main");
        mapped["properties"][http_post::REASON_CODES_MAPPING] = json!({"Lunch": 1});
        let mapped = s.call(Method::PUT, &path, Some(mapped)).await;
        assert_eq!(mapped.status, 200, "{}", mapped.text);
        assert_eq!(mapped.body["last_test"]["status"], "failed", "a setting that is not the target keeps it");

        // The fix, tested on the form and saved with the test: the failure is gone.
        let mut fix = wfm(&good, Some("right-token"));
        fix["id"] = json!(id);
        fix["name"] = json!("WFM main");
        let form = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(fix.clone())).await;
        assert_eq!(form.body["status"], "ok", "{}", form.text);
        let tested = form.headers["patchbay-tested"].to_str().unwrap().to_owned();
        let version = s.call(Method::GET, &path, None).await.etag();
        let saved = save_tested(&s, Method::PUT, &path, fix.clone(), &tested, Some(version)).await;
        assert_eq!(saved["last_test"]["status"], "ok", "{saved}");
        let listed = s.call(Method::GET, ACCOUNTS, None).await;
        assert_eq!(listed.body["items"][0]["last_test"]["status"], "ok", "the list shows the kept test too");
        let audit = s.call(Method::GET, &format!("{path}/audit"), None).await;
        assert_eq!(audit.body["items"][0]["action"], "test", "the kept test is in the history: {}", audit.text);

        // A test of other values, or of no saved account, is not kept.
        let form = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(fix.clone())).await;
        let of_good = form.headers["patchbay-tested"].to_str().unwrap().to_owned();
        let version = s.call(Method::GET, &path, None).await.etag();
        let saved = save_tested(&s, Method::PUT, &path, wfm(&closed, Some("right-token")), &of_good, Some(version)).await;
        assert_eq!(saved["last_test"], Value::Null, "a test of other values is not kept");
        let form = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(wfm(&good, Some("right-token")))).await;
        let unsaved = form.headers["patchbay-tested"].to_str().unwrap().to_owned();
        let version = s.call(Method::GET, &path, None).await.etag();
        let saved = save_tested(&s, Method::PUT, &path, wfm(&good, Some("right-token")), &unsaved, Some(version)).await;
        assert_eq!(saved["last_test"], Value::Null, "a test made for a new account is not kept by this one");
        let version = s.call(Method::GET, &path, None).await.etag();
        let saved = save_tested(&s, Method::PUT, &path, wfm(&closed, Some("right-token")), "not-a-token", Some(version)).await;
        assert_eq!(saved["last_test"], Value::Null, "a header that does not open is ignored");
    }
}

backend_test! {
    #[tokio::test]
    async fn an_unsaved_test_to_another_url_does_not_get_the_stored_secrets(db) {
        let s = tenant(&db).await;
        let receiver = wfm_receiver("stored-token").await;
        let created =
            s.call(Method::POST, ACCOUNTS, Some(wfm(&format!("http://{receiver}/rta"), Some("stored-token")))).await;
        let id = created.body["id"].as_str().unwrap().to_owned();
        let (elsewhere, accepted) = patchbay_testkit::peers::hung_counted().await;
        let mut form = wfm(&format!("http://{elsewhere}/rta"), None);
        form["id"] = json!(id);
        let refused = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(form.clone())).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(
            refused.field_errors(),
            [("properties.token".to_owned(), "reenter_secret_on_target_change".to_owned())]
        );
        assert_eq!(refused.headers["content-type"], "application/problem+json");
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing reached the new host");

        form["properties"][http_post::TOKEN] = json!("typed-again");
        let retyped = s.call(Method::POST, &format!("{ACCOUNTS}/test?timeout_ms=300"), Some(form)).await;
        assert_eq!(retyped.status, 200, "with the secret typed again the test runs: {}", retyped.text);
        assert!(accepted.load(Ordering::SeqCst) > 0, "the test reached the new host");
        s.stop().await;
    }
}

#[tokio::test]
async fn blocked_targets_are_refused_without_a_connection() {
    let db = TestDatabase::sqlite().await;
    let strict =
        TestServer::start_with(&db, |settings| settings.egress = patchbay_server::EgressPolicy::default()).await;
    strict.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    for host in ["127.0.0.1", "localhost", "169.254.169.254"] {
        let body = json!({"type": "statistics_receiver", "name": "Stats",
            "properties": {statistics_receiver::HOST_NAME: host, statistics_receiver::PORT: port}});
        let report = strict.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(body)).await;
        assert_eq!(report.body["category"], "blocked", "{host}: {}", report.text);
        assert!(report.body["message"].as_str().unwrap().contains("--egress-allow"), "{}", report.text);
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no packet reached the blocked target");
    strict.stop().await;

    // Loopback allowed does not open the metadata address.
    let open_db = TestDatabase::sqlite().await;
    let open = TestServer::start(&open_db).await;
    open.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    let body = json!({"type": "statistics_receiver", "name": "Stats",
        "properties": {statistics_receiver::HOST_NAME: "169.254.169.254", statistics_receiver::PORT: 80}});
    assert_eq!(open.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(body)).await.body["category"], "blocked");
    open.stop().await;
}

#[tokio::test]
async fn what_is_kept_of_a_blocked_test_is_worded_for_the_tenants_users_whoever_ran_it() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start_with(&db, |settings| settings.egress = patchbay_server::EgressPolicy::default()).await;
    let admin = s.tenant_with_token("acme", "tenant_admin").await;
    let body = json!({"type": "statistics_receiver", "name": "Stats",
        "properties": {statistics_receiver::HOST_NAME: "127.0.0.1", statistics_receiver::PORT: 9}});
    let created = s.call(Method::POST, ACCOUNTS, Some(body.clone())).await;
    let path = format!("{ACCOUNTS}/{}", created.body["id"].as_str().unwrap());
    let operator_advice = |text: &str| text.contains("--egress-allow loopback");
    let tenant_advice = |text: &str| text.contains("your service provider blocks") && !text.contains("--egress-allow");

    // The service provider is answered with the flag that opens the range…
    let ran = s.call(Method::POST, &format!("{path}/test"), None).await;
    assert_eq!(ran.body["category"], "blocked", "{}", ran.text);
    assert!(operator_advice(ran.body["message"].as_str().unwrap()), "{}", ran.text);
    let bulk = s.call(Method::POST, &format!("{ACCOUNTS}/tests"), None).await;
    assert!(operator_advice(bulk.body["items"][0]["report"]["message"].as_str().unwrap()), "{}", bulk.text);
    let unsaved = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(body)).await;
    assert!(operator_advice(unsaved.body["message"].as_str().unwrap()), "{}", unsaved.text);

    // …while the account's last test and the history, which the tenant's users read, are not.
    let shown = s.call_as(&admin, Method::GET, &path, None).await;
    assert!(tenant_advice(shown.body["last_test"]["message"].as_str().unwrap()), "{}", shown.text);
    let history = s.call_as(&admin, Method::GET, "/api/v1/tenants/acme/audit", None).await;
    let tests: Vec<&Value> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("test"))
        .collect();
    assert_eq!(tests.len(), 3, "the saved, bulk and unsaved tests are audited: {}", history.text);
    for entry in tests {
        assert!(tenant_advice(entry["changes"]["message"].as_str().unwrap()), "{entry}");
    }
    assert!(!history.text.contains("--egress-allow"), "{}", history.text);
    s.stop().await;
}

#[tokio::test]
async fn bulk_test_reports_every_enabled_account_and_a_hung_peer_costs_its_timeout() {
    let db = TestDatabase::sqlite().await;
    let s = tenant(&db).await;
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = receiver.local_addr().unwrap();
    tokio::spawn(async move { while receiver.accept().await.is_ok() {} });
    let hung = patchbay_testkit::peers::hung().await;
    for (name, host, port, enabled) in [("up", "127.0.0.1", up.port(), true), ("off", "127.0.0.1", up.port(), false)] {
        let body = json!({"type": "statistics_receiver", "name": name, "enabled": enabled,
            "properties": {statistics_receiver::HOST_NAME: host, statistics_receiver::PORT: port}});
        assert_eq!(s.call(Method::POST, ACCOUNTS, Some(body)).await.status, 201);
    }
    assert_eq!(s.call(Method::POST, ACCOUNTS, Some(wfm(&format!("http://{hung}/rta"), None))).await.status, 201);
    let reply = s.call(Method::POST, &format!("{ACCOUNTS}/tests?timeout_ms=300"), None).await;
    let items = reply.body["items"].as_array().unwrap();
    let outcomes: Vec<(&str, &str)> =
        items.iter().map(|i| (i["name"].as_str().unwrap(), i["report"]["status"].as_str().unwrap())).collect();
    assert_eq!(outcomes, [("up", "ok"), ("WFM", "failed")], "{}", reply.text);
    assert_eq!(items[1]["report"]["category"], "timeout");
    let bad = s.call(Method::POST, &format!("{ACCOUNTS}/tests?timeout_ms=5"), None).await;
    assert_eq!(bad.field_errors(), [("timeout_ms".to_owned(), "range".to_owned())]);
    s.stop().await;
}

backend_test! {
    #[tokio::test]
    async fn generate_token_stores_a_fresh_random_token_and_shows_it_once(db) {
        let s = tenant(&db).await;
        let fb = json!({"type": "messenger", "provider": "facebook", "name": "FB",
                        "properties": {facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "42",
                                       facebook::TOKEN: "page"}});
        let created = s.call(Method::POST, ACCOUNTS, Some(fb)).await;
        let path = format!("{ACCOUNTS}/{}", created.body["id"].as_str().unwrap());
        let first = s.call(Method::POST, &format!("{path}/actions/generate_token"), None).await;
        assert_eq!(first.status, 200, "{}", first.text);
        let token = first.body["token"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 43, "32 random bytes in URL-safe base64");
        assert_eq!(first.body["account"]["secrets"][facebook::WEBHOOK_VERIFY_TOKEN], true);
        assert_eq!(first.etag(), "\"2\"");
        let second = s.call(Method::POST, &format!("{path}/actions/generate_token"), None).await;
        assert_ne!(second.body["token"], first.body["token"]);
        let shown = s.call(Method::GET, &path, None).await;
        assert!(!shown.text.contains(&token));
        let audit = s.call(Method::GET, &format!("{path}/audit"), None).await;
        assert_eq!(audit.body["items"][0]["changes"]["secrets.webhook_verify_token"], "replaced");
        assert_eq!(audit.body["items"][1]["changes"]["secrets.webhook_verify_token"], "set");
        assert!(!audit.text.contains(&token));

        let unknown = s.call(Method::POST, &format!("{path}/actions/load_voices"), None).await;
        assert_eq!(unknown.field_errors(), [("action".to_owned(), "unknown_action".to_owned())]);
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        let refused = s.call_as(&viewer, Method::POST, &format!("{path}/actions/generate_token"), None).await;
        assert_eq!(refused.status, 403);
        assert_eq!(s.call_as(&viewer, Method::POST, &format!("{path}/test"), None).await.status, 403);
        s.stop().await;
    }
}

#[tokio::test]
async fn types_without_a_test_say_so() {
    let db = TestDatabase::sqlite().await;
    let s = tenant(&db).await;
    let zapier = json!({"type": "zapier", "name": "Zaps", "properties": {"username": "z", "password": "p"}});
    let report = s.call(Method::POST, &format!("{ACCOUNTS}/test"), Some(zapier)).await;
    assert_eq!(report.body["status"], "unsupported", "{}", report.text);
    s.stop().await;
}

/// Connections one test of a WFM URL opens: the connect step's, then the request's.
const CONNECTIONS_PER_TEST: usize = 2;

/// Waits (bounded) until `count` reaches `n` tests' connections.
async fn reaches(count: &AtomicUsize, n: usize) {
    for _ in 0..200 {
        if count.load(Ordering::SeqCst) >= n * CONNECTIONS_PER_TEST {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the hung peer got {} connections, not those of {n} tests", count.load(Ordering::SeqCst));
}

backend_test! {
    #[tokio::test]
    async fn hung_tests_fill_the_tenant_slots_then_the_global_ones(db) {
        let s = TestServer::start_with(&db, |settings| {
            settings.test_limit_per_tenant = 2;
            settings.test_limit_global = 3;
        })
        .await;
        let acme = s.tenant_with_token("acme", "tenant_admin").await;
        let globex = s.tenant_with_token("globex", "tenant_admin").await;
        let (hung, accepted) = patchbay_testkit::peers::hung_counted().await;
        let body = wfm(&format!("http://{hung}/rta"), Some("t"));
        let test = |tenant: &'static str, token: String| {
            let path = format!("/api/v1/tenants/{tenant}/integration-accounts/test?timeout_ms=2000");
            let server = s.request(Method::POST, &path, Some(&token)).json(&body);
            async move { patchbay_testkit::Reply::read(server.send().await.unwrap()).await }
        };
        let held: Vec<_> = (0..2).map(|_| tokio::spawn(test("acme", acme.clone()))).collect();
        reaches(&accepted, 2).await;
        let full = test("acme", acme.clone()).await;
        assert_eq!(full.status, 429, "the tenant's slots are full: {}", full.text);
        assert_eq!(full.headers["content-type"], "application/problem+json");
        assert_eq!(full.headers["retry-after"], "2", "retry after one timeout");
        assert_eq!(full.body["status"], 429);

        let other = tokio::spawn(test("globex", globex.clone()));
        reaches(&accepted, 3).await;
        let global = test("globex", globex.clone()).await;
        assert_eq!(global.status, 429, "the global slots are full: {}", global.text);
        assert!(global.headers.contains_key("retry-after"));
        assert_eq!(accepted.load(Ordering::SeqCst), 3 * CONNECTIONS_PER_TEST, "refused tests connect nowhere");

        for task in held.into_iter().chain([other]) {
            let done = task.await.unwrap();
            assert_eq!(done.status, 200, "a held test ends with its timeout: {}", done.text);
        }
        let freed = test("acme", acme.clone());
        let freed = tokio::spawn(freed);
        reaches(&accepted, 4).await;
        freed.abort();
        s.stop().await;
    }
}
