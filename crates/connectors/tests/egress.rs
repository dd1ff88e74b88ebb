//! The egress policy refuses blocked targets before sending a packet, classifies failures,
//! and keeps the TLS floor.

mod common;

use std::time::Duration;

use patchbay_connectors::{Category, Egress, EgressPolicy, TestRun};

#[tokio::test]
async fn blocked_targets_are_refused_before_any_packet() {
    // A listener that counts connections: the refusal must come before connect.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let strict = Egress::new(EgressPolicy::default()).unwrap();
    for url in [
        format!("http://{addr}/"),
        format!("http://localhost:{}/", addr.port()),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::ffff:127.0.0.1]/".to_owned(),
        "http://0.0.0.0/".to_owned(),
    ] {
        let mut run = TestRun::new();
        let failure =
            strict.http(&mut run, reqwest::Method::GET, &url, Duration::from_secs(1), |r| r).await.unwrap_err();
        assert_eq!(failure.category, Category::Blocked, "{url}: {failure:?}");
        assert_eq!(run.steps()[0].name, "resolve");
    }
    // A request built for streaming callers is refused too, by name and by IP literal.
    let by_name = url::Url::parse(&format!("http://localhost:{}/", addr.port())).unwrap();
    assert!(strict.request(reqwest::Method::GET, &by_name).unwrap().send().await.is_err());
    let literal = url::Url::parse(&format!("http://{addr}/")).unwrap();
    assert!(strict.request(reqwest::Method::GET, &literal).unwrap_err().contains("refuses"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection reached the blocked target");
}

fn redirector(location: String) -> axum::Router {
    axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let location = location.clone();
            async move { (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, location)]) }
        }),
    )
}

#[tokio::test]
async fn redirects_are_rechecked_against_the_policy() {
    let target = common::http(axum::Router::new().route("/", axum::routing::get(|| async { "landed" }))).await;
    let egress = common::egress(None);
    let allowed = common::http(redirector(format!("http://127.0.0.1:{}/", target.port()))).await;
    let mut run = TestRun::new();
    let url = format!("http://127.0.0.1:{}/", allowed.port());
    let ok = egress.http(&mut run, reqwest::Method::GET, &url, Duration::from_secs(1), |r| r).await.unwrap();
    assert_eq!(ok.body, b"landed", "an allowed redirect is followed");

    for location in ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"] {
        let blocked = common::http(redirector(location.to_owned())).await;
        let mut run = TestRun::new();
        let url = format!("http://127.0.0.1:{}/", blocked.port());
        let f = egress.http(&mut run, reqwest::Method::GET, &url, Duration::from_secs(1), |r| r).await.unwrap_err();
        assert_eq!(f.category, Category::Blocked, "{location}: {f:?}");
    }
}

#[tokio::test]
async fn unreachable_hung_and_tls_failures_have_their_categories() {
    let egress = common::egress(None);
    let closed = common::closed_port().await;
    let mut run = TestRun::new();
    let f = egress
        .http(&mut run, reqwest::Method::GET, &format!("http://{closed}/"), Duration::from_secs(1), |r| r)
        .await
        .unwrap_err();
    assert_eq!(f.category, Category::Unreachable, "{f:?}");

    let hung = common::hung().await;
    let started = std::time::Instant::now();
    let mut run = TestRun::new();
    let f = egress
        .http(&mut run, reqwest::Method::GET, &format!("http://{hung}/"), Duration::from_millis(300), |r| r)
        .await
        .unwrap_err();
    assert_eq!(f.category, Category::Timeout, "{f:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "a hung peer costs only its timeout");

    // HTTPS to a server whose CA the egress does not trust.
    let ca = common::TestCa::new();
    let server = common::https(axum::Router::new().route("/", axum::routing::get(|| async { "hi" })), &ca).await;
    let mut run = TestRun::new();
    let url = format!("https://localhost:{}/", server.port());
    let f = egress.http(&mut run, reqwest::Method::GET, &url, Duration::from_secs(1), |r| r).await.unwrap_err();
    assert_eq!(f.category, Category::Tls, "{f:?}");
    assert_eq!(run.steps().last().unwrap().name, "tls");
    let trusting = common::egress(Some(&ca));
    let mut run = TestRun::new();
    let ok = trusting.http(&mut run, reqwest::Method::GET, &url, Duration::from_secs(1), |r| r).await.unwrap();
    assert_eq!(ok.status, 200);
    let names: Vec<&str> = run.steps().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["resolve", "connect", "tls", "request"]);
}
