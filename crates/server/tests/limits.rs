//! The HTTP listener under a connection flood: half-sent requests are cut off by the
//! header-read timeout, a client that stops reading its responses by the write-stall
//! timeout, one client address cannot hold more than its share of connections,
//! and with 2,000 idle sockets open the service still answers health checks and
//! authenticated reads at once, with bounded memory.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use patchbay_server::HttpLimits;
use patchbay_testkit::{backend_test, TestDatabase, TestServer};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HALF_SENT: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: patchbay\r\nX-Slow: ";

async fn start(db: &TestDatabase, limits: HttpLimits) -> TestServer {
    TestServer::start_with(db, |s| s.http = limits).await
}

fn server_addr(s: &TestServer) -> SocketAddr {
    s.base.trim_start_matches("http://").parse().expect("the test server listens on an IP address")
}

/// A connection from `source` (any 127/8 address is this host's loopback) that sends the
/// start of a request and then nothing.
async fn half_sent_from(source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).expect("bind a loopback source address");
    let mut stream = socket.connect(to).await.expect("connect");
    stream.write_all(HALF_SENT).await.expect("send half a request");
    stream
}

/// Reads until the server closes the connection (or `limit` passes); returns what came.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| seen)
}

async fn metric(s: &TestServer, name: &str) -> f64 {
    let text = s.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} is not in /metrics:\n{text}"))
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn a_half_sent_request_is_cut_off_after_the_header_read_timeout() {
    let db = TestDatabase::sqlite().await;
    let limits = HttpLimits { header_read_timeout: Duration::from_millis(500), ..HttpLimits::default() };
    let s = start(&db, limits).await;
    let mut idle = TcpStream::connect(server_addr(&s)).await.unwrap();
    let mut slow = half_sent_from(Ipv4Addr::LOCALHOST, server_addr(&s)).await;
    let started = Instant::now();
    assert!(read_until_closed(&mut slow, Duration::from_secs(10)).await.is_some(), "the half-sent request is closed");
    assert!(read_until_closed(&mut idle, Duration::from_secs(10)).await.is_some(), "a silent connection is closed");
    assert!(started.elapsed() >= Duration::from_millis(400), "not before the timeout: {:?}", started.elapsed());

    // Between requests of a kept-alive connection the same clock runs.
    let mut kept = TcpStream::connect(server_addr(&s)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: patchbay\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut kept, Duration::from_secs(10)).await.expect("closed after idling");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    s.stop().await;
}

#[tokio::test]
async fn a_stalled_request_body_fails_after_the_body_read_timeout() {
    let db = TestDatabase::sqlite().await;
    let limits = HttpLimits { body_read_timeout: Duration::from_millis(500), ..HttpLimits::default() };
    let s = start(&db, limits).await;
    let mut stream = TcpStream::connect(server_addr(&s)).await.unwrap();
    let head = format!(
        "POST /api/v1/tenants HTTP/1.1\r\nHost: patchbay\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"id\": ",
        s.admin_token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await.expect("the server gives up");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "a stalled body gets 408: {text}");
    assert!(text.contains("application/problem+json"), "{text}");
    let tenants = s.call(Method::GET, "/api/v1/tenants", None).await;
    assert_eq!(tenants.body["items"].as_array().map(Vec::len), Some(0), "nothing was created");
    s.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_after_the_write_stall_timeout() {
    let db = TestDatabase::sqlite().await;
    let limits = HttpLimits { write_stall_timeout: Duration::from_millis(500), ..HttpLimits::default() };
    let s = start(&db, limits).await;
    // A slow but steady reader keeps its connection for as long as it takes: the clock runs
    // only while nothing leaves the socket's buffer.
    let openapi = s.request(Method::GET, "/api/v1/openapi.json", None).send().await.unwrap().bytes().await.unwrap();
    let request = "GET /api/v1/openapi.json HTTP/1.1\r\nHost: patchbay\r\n\r\n";
    let wanted = 8 * openapi.len();
    let mut steady = TcpStream::connect(server_addr(&s)).await.unwrap();
    steady.write_all(request.repeat(8).as_bytes()).await.unwrap();
    let (started, mut got, mut buf) = (Instant::now(), 0, vec![0u8; 64 * 1024]);
    while got < wanted {
        match tokio::time::timeout(Duration::from_secs(10), steady.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => got += n,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(got >= wanted, "a reader that keeps reading gets every response ({got} of {wanted} bytes)");
    assert!(started.elapsed() > Duration::from_millis(500), "reading took longer than one stall may");
    drop(steady);

    // A client that asks for megabytes and reads nothing holds its connection only so long.
    let mut stalled = small_window(server_addr(&s)).await;
    stalled.write_all(request.repeat(200).as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(metric(&s, "patchbay_http_connections_open").await >= 2.0, "the stalled connection is open at first");
    let mut closed = false;
    for _ in 0..100 {
        // Only the connection asking for the metrics is left.
        if metric(&s, "patchbay_http_connections_open").await < 2.0 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "the server closed the connection whose client stopped reading");
    drop(stalled);
    s.stop().await;
}

/// A connection whose receive window is small, so the server's writes stall soon when it
/// does not read.
async fn small_window(to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("a small receive buffer");
    socket.connect(to).await.expect("connect")
}

#[tokio::test]
async fn one_client_address_over_its_limit_is_refused_while_others_are_served() {
    let db = TestDatabase::sqlite().await;
    let limits = HttpLimits { max_connections_per_client: 20, ..HttpLimits::default() };
    let s = start(&db, limits).await;
    let flooder = Ipv4Addr::new(127, 0, 0, 2);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(half_sent_from(flooder, server_addr(&s)).await);
    }
    let mut refused = half_sent_from(flooder, server_addr(&s)).await;
    let answer = read_until_closed(&mut refused, Duration::from_secs(5)).await.expect("refused at once");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 1") && text.contains("max_connections_per_client"), "{text}");

    let health = s.request(Method::GET, "/healthz", None).send().await.unwrap();
    assert_eq!(health.status(), 200, "127.0.0.1 is another client");
    assert_eq!(metric(&s, "patchbay_http_connections_refused_total{limit=\"max_connections_per_client\"}").await, 1.0);
    drop(held);
    s.stop().await;
}

#[tokio::test]
async fn the_global_connection_limit_refuses_everybody_once_reached() {
    let db = TestDatabase::sqlite().await;
    let limits = HttpLimits { max_connections: 30, max_connections_per_client: 10, ..HttpLimits::default() };
    let s = start(&db, limits).await;
    let mut held = Vec::new();
    for client in 2..5 {
        for _ in 0..10 {
            held.push(half_sent_from(Ipv4Addr::new(127, 0, 0, client), server_addr(&s)).await);
        }
    }
    let mut refused = half_sent_from(Ipv4Addr::new(127, 0, 0, 9), server_addr(&s)).await;
    let answer = read_until_closed(&mut refused, Duration::from_secs(5)).await.expect("refused at once");
    assert!(String::from_utf8_lossy(&answer).contains("\"limit\":\"max_connections\""));
    held.truncate(29);
    // A freed place is taken by the next client (the server notices the close first).
    let health = async {
        for _ in 0..50 {
            if let Ok(r) = s.request(Method::GET, "/healthz", None).send().await {
                if r.status() == 200 {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    assert!(health.await, "a place freed by a closed connection is given to another client");
    drop(held);
    s.stop().await;
}

backend_test! {
    #[tokio::test]
    async fn two_thousand_idle_sockets_leave_health_and_authenticated_reads_answering_within_a_second(db) {
        let limits = HttpLimits { header_read_timeout: Duration::from_secs(3), ..HttpLimits::default() };
        let s = start(&db, limits).await;
        s.call(Method::POST, "/api/v1/tenants", Some(serde_json::json!({"id": "acme"}))).await;
        let before = rss_kib();
        let mut idle = Vec::with_capacity(2000);
        // 20 addresses x 100 sockets: under the per-client limit, so the server holds all.
        for client in 0..20u8 {
            for _ in 0..100 {
                idle.push(half_sent_from(Ipv4Addr::new(127, 0, 1, 10 + client), server_addr(&s)).await);
            }
        }
        let open = metric(&s, "patchbay_http_connections_open").await;
        assert!(open >= 2000.0, "the server holds the 2,000 idle connections ({open} open)");
        for path in ["/healthz", "/api/v1/tenants/acme"] {
            let started = Instant::now();
            let reply =
                tokio::time::timeout(Duration::from_secs(1), s.request(Method::GET, path, Some(&s.admin_token)).send())
                    .await
                    .unwrap_or_else(|_| panic!("{path} did not answer within 1 s"))
                    .unwrap();
            assert_eq!(reply.status(), 200, "{path}");
            eprintln!("{path} answered in {:?} with 2,000 idle sockets", started.elapsed());
        }
        let grown = rss_kib().saturating_sub(before);
        eprintln!("process RSS grew by {grown} KiB with 2,000 idle connections held");
        assert!(grown < 64 * 1024, "memory stays bounded (grew {grown} KiB)");

        // The header-read timeout then frees them all.
        let mut freed = false;
        for _ in 0..100 {
            if metric(&s, "patchbay_http_connections_open").await < 10.0 {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(freed, "the idle connections are closed after the header-read timeout");
        drop(idle);
        s.stop().await;
    }
}
