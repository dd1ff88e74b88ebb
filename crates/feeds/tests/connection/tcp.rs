//! The TCP feeds' connection test (Aspect, statistics receiver): a connect to the receiver,
//! nothing written.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patchbay_catalog::keys::{tcp_receiver, wfm};
use patchbay_connectors::{AccountConfig, Category, Egress, EgressPolicy, Outcome};
use patchbay_feeds::FeedKind;
use serde_json::json;

use crate::common::{account, closed_port, egress, steps, test_with, unchecked_account};

/// A listener that accepts and counts connections.
async fn counting_listener() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, accepted)
}

fn tcp_account(type_key: &str, provider: &str, host: &str, port: impl Into<serde_json::Value>) -> AccountConfig {
    account(type_key, provider, json!({tcp_receiver::HOST_NAME: host, tcp_receiver::PORT: port.into()}), &[])
}

/// The `(type, provider)` of both TCP feeds.
fn tcp_types() -> impl Iterator<Item = (&'static str, &'static str)> {
    [FeedKind::AspectTcp, FeedKind::StatisticsReceiver].into_iter().flat_map(|kind| kind.handles().iter().copied())
}

#[tokio::test]
async fn a_listening_receiver_is_connected_for_both_tcp_types() {
    let (addr, accepted) = counting_listener().await;
    for (type_key, provider) in tcp_types() {
        let account = tcp_account(type_key, provider, "127.0.0.1", addr.port());
        let report = test_with(&egress(), &account, Duration::from_secs(2)).await;
        assert_eq!(report.status, Outcome::Ok, "{type_key}: {report:?}");
        assert_eq!(report.message, format!("Connected to 127.0.0.1:{}.", addr.port()));
        assert_eq!(steps(&report), ["resolve", "connect"]);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "each test opened one connection");
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let closed = closed_port();
    for (type_key, provider) in tcp_types() {
        let report =
            test_with(&egress(), &tcp_account(type_key, provider, "127.0.0.1", closed.port()), Duration::from_secs(2))
                .await;
        assert_eq!(report.category, Some(Category::Unreachable), "{type_key}: {report:?}");
        assert_eq!(report.steps.last().unwrap().name, "connect");
    }
}

/// A connect that gets no answer, on loopback: a listener that never accepts, with its
/// accept queue filled. Linux then drops further SYNs, so the next connect hangs.
#[tokio::test]
async fn a_receiver_that_never_completes_the_connect_times_out() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut queue_full = false;
    for _ in 0..64 {
        match tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(addr)).await {
            Ok(stream) => held.push(stream.unwrap()),
            Err(_) => {
                queue_full = true;
                break;
            }
        }
    }
    assert!(queue_full, "the accept queue never filled after {} connections", held.len());
    let started = Instant::now();
    let account = tcp_account("wfm", "aspect_tcp", "127.0.0.1", addr.port());
    let report = test_with(&egress(), &account, Duration::from_millis(300)).await;
    assert_eq!(report.category, Some(Category::Timeout), "{report:?}");
    assert_eq!(report.steps.last().unwrap().name, "connect");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn loopback_receivers_are_blocked_by_the_default_policy() {
    let (addr, accepted) = counting_listener().await;
    let strict = Egress::new(EgressPolicy::default()).unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let report = test_with(
            &strict,
            &tcp_account("statistics_receiver", "default", host, addr.port()),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(report.category, Some(Category::Blocked), "{host}: {report:?}");
        assert_eq!(steps(&report), ["resolve"]);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection reached the blocked receiver");
}

#[tokio::test]
async fn a_port_outside_the_tcp_range_is_invalid_config() {
    for port in [json!(0), json!(70000), json!(null)] {
        let report = test_with(
            &egress(),
            &unchecked_account(
                "wfm",
                "aspect_tcp",
                json!({wfm::aspect_tcp::HOST_NAME: "127.0.0.1", wfm::aspect_tcp::PORT: port}),
                &[],
            ),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(report.category, Some(Category::InvalidConfig), "{port}: {report:?}");
        assert!(report.steps.is_empty());
    }
}
