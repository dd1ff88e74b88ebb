//! The egress policy refuses blocked targets before sending a packet, classifies failures,
//! and keeps the TLS floor.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use patchbay_connectors::{Category, Egress, EgressPolicy, Names, TestRun};

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
    let closed = common::closed_port();
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

/// Names with AAAA answers in IPv6 ranges that carry an IPv4 address or that are never a
/// target, and the range each refusal must name.
const REFUSED_ANSWERS: [(&str, &str, &str); 9] = [
    ("nat64.test", "64:ff9b::7f00:1", "64:ff9b::/96"),
    ("nat64-local.test", "64:ff9b:1::7f00:1", "64:ff9b:1::/48"),
    ("6to4.test", "2002:7f00:1::", "2002::/16"),
    ("compatible.test", "::127.0.0.1", "::/96"),
    ("translated.test", "::ffff:0:127.0.0.1", "::ffff:0:0:0/96"),
    ("teredo-client.test", "2001:0:808:808::80ff:fffe", "2001::/32"),
    ("teredo-server.test", "2001:0:a9fe:a9fe::f7f7:f7f7", "2001::/32"),
    ("site-local.test", "fec0::1", "fec0::/10"),
    ("multicast.test", "ff02::1", "ff00::/8"),
];

/// An egress that allows loopback, private and link-local targets (every class but
/// embedded IPv4) and whose names resolve to `answers`, as a DNS server would answer them.
fn egress_answering(answers: &[(&str, &str)]) -> Egress {
    let mut names: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for (name, ip) in answers {
        names.entry((*name).to_owned()).or_default().push(ip.parse().unwrap());
    }
    Egress::new(EgressPolicy {
        allow_loopback: true,
        allow_private: true,
        allow_link_local: true,
        timeout: Duration::from_secs(1),
        names: Names::Fixed(Arc::new(names)),
        ..EgressPolicy::default()
    })
    .unwrap()
}

/// Every message in an error's source chain.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[tokio::test]
async fn aaaa_answers_that_embed_ipv4_or_are_never_targets_are_refused_on_every_path() {
    let answers: Vec<(&str, &str)> = REFUSED_ANSWERS.iter().map(|(name, ip, _)| (*name, *ip)).collect();
    let egress = egress_answering(&answers);
    for (name, ip, range) in REFUSED_ANSWERS {
        // The resolve step of every test.
        let f = egress.resolve(name, 80, Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(f.category, Category::Blocked, "{name} -> {ip}: {f:?}");
        assert!(f.message.contains(range), "{name} -> {ip}: `{range}` not in {}", f.message);
        // A request through the HTTP client resolves with its own resolver under the policy.
        let url = url::Url::parse(&format!("http://{name}:8080/")).unwrap();
        let e = egress.request(reqwest::Method::GET, &url).unwrap().send().await.unwrap_err();
        let why = chain(&e);
        assert!(why.contains("refuses") && why.contains(range), "{name} -> {ip}: {why}");
        // And a whole HTTP exchange stops at `resolve`.
        let mut run = TestRun::new();
        let f =
            egress.http(&mut run, reqwest::Method::GET, url.as_str(), Duration::from_secs(1), |r| r).await.unwrap_err();
        assert_eq!(f.category, Category::Blocked, "{name} -> {ip}: {f:?}");
        assert_eq!(run.steps()[0].name, "resolve");
    }
}

#[tokio::test]
async fn of_a_names_answers_only_the_allowed_are_kept() {
    let target = common::http(axum::Router::new().route("/", axum::routing::get(|| async { "landed" }))).await;
    let egress = egress_answering(&[
        ("mixed.test", "64:ff9b::7f00:1"),
        ("mixed.test", "2002:7f00:1::"),
        ("mixed.test", "127.0.0.1"),
        ("mixed.test", "::127.0.0.1"),
    ]);
    let resolved = egress.resolve("mixed.test", target.port(), Duration::from_secs(1)).await.unwrap();
    assert_eq!(resolved.addrs, [target], "only the loopback answer is allowed");
    let mut run = TestRun::new();
    let url = format!("http://mixed.test:{}/", target.port());
    let ok = egress.http(&mut run, reqwest::Method::GET, &url, Duration::from_secs(1), |r| r).await.unwrap();
    assert_eq!(ok.body, b"landed");
}

#[tokio::test]
async fn redirects_to_addresses_that_embed_ipv4_are_blocked_with_loopback_allowed() {
    let answers: Vec<(&str, &str)> = REFUSED_ANSWERS.iter().map(|(name, ip, _)| (*name, *ip)).collect();
    let egress = egress_answering(&answers);
    for (name, ip, range) in REFUSED_ANSWERS {
        // By IP literal (the redirect policy checks it) and by name (the client's resolver does).
        for location in [format!("http://[{ip}]:8080/"), format!("http://{name}:8080/")] {
            let peer = common::http(redirector(location.clone())).await;
            let mut run = TestRun::new();
            let url = format!("http://127.0.0.1:{}/", peer.port());
            let f = egress.http(&mut run, reqwest::Method::GET, &url, Duration::from_secs(1), |r| r).await.unwrap_err();
            assert_eq!(f.category, Category::Blocked, "302 to {location}: {f:?}");
            assert!(f.message.contains(range), "302 to {location}: `{range}` not in {}", f.message);
        }
    }
}
