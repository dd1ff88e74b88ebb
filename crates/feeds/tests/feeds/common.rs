//! Loopback peers for the feed tests, following docs/feeds.md and not the encoders: an
//! Aspect RTA receiver whose record decoder is written from the documented layout, a
//! statistics line receiver, and an HTTP receiver (axum) whose answer a test switches
//! between OK, an error status, slow and silent. Plus the world a test runs in: live state,
//! a clock that follows tokio's paused time, and a supervisor.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use patchbay_catalog::{AccountInput, ValidationContext};
use patchbay_connectors::{Egress, EgressPolicy};
use patchbay_feeds::{Clock, FeedHealth, FeedOptions, FeedSpec, Limits, LiveState, Supervisor};
use patchbay_vault::SecretString;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// How long (paused, so virtual) a test waits for something before it fails.
const WAIT: Duration = Duration::from_secs(3600);

pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// 2025-03-01T10:00:00Z, when every test starts.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
}

/// Egress that allows loopback, with a 2 s timeout.
pub fn egress() -> Egress {
    Egress::new(EgressPolicy { allow_loopback: true, timeout: Duration::from_secs(2), ..EgressPolicy::default() })
        .unwrap()
}

pub fn options() -> FeedOptions {
    FeedOptions { backoff_min: Duration::from_secs(1), backoff_max: Duration::from_secs(4), ..FeedOptions::default() }
}

pub struct World {
    pub state: LiveState,
    pub clock: Clock,
    pub supervisor: Supervisor,
    pub start: Instant,
}

impl World {
    pub fn new() -> World {
        World::with(Limits::default(), options(), egress())
    }

    pub fn with(limits: Limits, options: FeedOptions, egress: Egress) -> World {
        let state = LiveState::new(limits);
        let clock = Clock::starting_at(t0());
        let supervisor = Supervisor::with_options(egress, state.clone(), clock, options);
        World { state, clock, supervisor, start: Instant::now() }
    }

    /// Ingests NDJSON for `tenant` now; every line must be taken.
    pub fn send(&self, tenant: &str, body: &str) {
        let report = self.state.ingest(tenant, body.as_bytes(), self.clock.now()).unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    }

    /// Seconds since the test started.
    pub fn elapsed(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    pub fn health(&self, account: &str) -> FeedHealth {
        self.supervisor.health(account).expect("the feed is known")
    }

    /// Waits (in paused time) until the account's health satisfies `test`.
    pub async fn health_until(&self, account: &str, what: &str, test: impl Fn(&FeedHealth) -> bool) -> FeedHealth {
        within(what, async {
            loop {
                let health = self.health(account);
                if test(&health) {
                    return health;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
    }
}

/// A feed spec as the server hands it over: the catalog validates the properties (the test
/// fails on input the API would refuse) and applies its defaults.
pub fn spec(account: &str, type_key: &str, provider: &str, properties: Value, secrets: &[(&str, &str)]) -> FeedSpec {
    let mut input = properties.as_object().expect("properties are an object").clone();
    input.extend(secrets.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))));
    let enabled = [type_key.to_owned()];
    let checked = patchbay_catalog::catalog()
        .validate(
            &AccountInput { type_key, provider, name: account, properties: &input },
            &ValidationContext { enabled_types: &enabled, ..ValidationContext::default() },
        )
        .unwrap_or_else(|errors| panic!("the catalog refuses this {type_key}/{provider} fixture: {errors:?}"));
    FeedSpec { properties: checked.properties, ..unchecked_spec(account, type_key, provider, properties, secrets) }
}

/// A feed spec the catalog would refuse, for the feeds' own checks of what they are given.
pub fn unchecked_spec(
    account: &str,
    type_key: &str,
    provider: &str,
    properties: Value,
    secrets: &[(&str, &str)],
) -> FeedSpec {
    FeedSpec {
        account_id: account.to_owned(),
        tenant: "acme".to_owned(),
        type_key: type_key.to_owned(),
        provider: provider.to_owned(),
        properties: properties.as_object().expect("properties are an object").clone(),
        secrets: secrets.iter().map(|(k, v)| (k.to_string(), SecretString::from(*v))).collect(),
    }
}

/// A loopback address where nothing listens (yet).
pub async fn free_addr() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

// ---- Aspect records, decoded as docs/feeds.md "Record layout" describes them.

/// The widths of the six configurable fields, in UTF-16 code units.
#[derive(Debug, Clone, Copy)]
pub struct Widths {
    pub timestamp: usize,
    pub agent_id: usize,
    pub extension: usize,
    pub agent_mode: usize,
    pub reason_code: usize,
    pub service: usize,
}

impl Widths {
    pub const DEFAULT: Widths =
        Widths { timestamp: 14, agent_id: 16, extension: 10, agent_mode: 2, reason_code: 24, service: 32 };

    /// Type, flag, six fields, CR LF.
    fn units(&self) -> usize {
        1 + 1 + self.timestamp + self.agent_id + self.extension + self.agent_mode + self.reason_code + self.service + 2
    }
}

/// One record with trailing spaces trimmed from every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub flag: String,
    pub timestamp: String,
    pub agent_id: String,
    pub extension: String,
    pub mode: String,
    pub reason_code: String,
    pub service: String,
}

/// Takes every complete record off the front of `buf`.
pub fn decode_records(buf: &mut Vec<u8>, widths: Widths) -> Vec<Record> {
    let len = widths.units() * 2;
    let mut records = Vec::new();
    while buf.len() >= len {
        let units: Vec<u16> = buf[..len].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        buf.drain(..len);
        assert_eq!(&units[units.len() - 2..], &[0x0d, 0x0a], "every record ends with CR LF");
        let mut at = 0;
        let mut field = |width: usize| {
            let text = String::from_utf16(&units[at..at + width]).expect("a field holds whole characters");
            at += width;
            text.trim_end_matches(' ').to_owned()
        };
        records.push(Record {
            kind: field(1),
            flag: field(1),
            timestamp: field(widths.timestamp),
            agent_id: field(widths.agent_id),
            extension: field(widths.extension),
            mode: field(widths.agent_mode),
            reason_code: field(widths.reason_code),
            service: field(widths.service),
        });
    }
    records
}

/// What an RTA knows after applying records as the docs say: a snapshot (`B` .. `E`)
/// replaces everything, `L`/`S` set an agent, `O` removes it, `H` changes nothing.
#[derive(Debug, Default)]
pub struct Board {
    pub agents: BTreeMap<String, Record>,
    snapshot: Option<BTreeMap<String, Record>>,
}

impl Board {
    pub fn apply(&mut self, record: &Record) {
        match record.kind.as_str() {
            "B" => self.snapshot = Some(BTreeMap::new()),
            "F" => {
                self.snapshot
                    .as_mut()
                    .expect("F only inside a snapshot")
                    .insert(record.agent_id.clone(), record.clone());
            }
            "E" => self.agents = self.snapshot.take().expect("E ends a snapshot"),
            "L" | "S" => {
                self.agents.insert(record.agent_id.clone(), record.clone());
            }
            "O" => {
                self.agents.remove(&record.agent_id);
            }
            "H" => {}
            other => panic!("unknown record type {other}"),
        }
    }

    /// Agent id -> mode.
    pub fn modes(&self) -> BTreeMap<String, String> {
        self.agents.iter().map(|(id, r)| (id.clone(), r.mode.clone())).collect()
    }
}

// ---- TCP receivers.

/// What a TCP receiver saw on a connection (numbered from 1).
#[derive(Debug)]
pub enum Seen<T> {
    Item(usize, T),
    Closed(usize),
}

type Decoder<T> = Arc<dyn Fn(&mut Vec<u8>) -> Vec<T> + Send + Sync>;

/// A TCP receiver on loopback that decodes what arrives with `decode`. A stalled receiver
/// accepts connections (with a small receive buffer) and never reads.
pub struct TcpReceiver<T> {
    pub addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen<T>>,
    task: JoinHandle<()>,
}

impl<T: Send + 'static> TcpReceiver<T> {
    pub fn bind(addr: SocketAddr, reading: bool, decode: Decoder<T>) -> TcpReceiver<T> {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        if !reading {
            socket.set_recv_buffer_size(4096).unwrap();
        }
        socket.bind(addr).unwrap();
        let listener = socket.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, seen) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            let mut number = 0;
            while let Ok((mut stream, _)) = listener.accept().await {
                number += 1;
                let (tx, decode) = (tx.clone(), decode.clone());
                connections.spawn(async move {
                    if !reading {
                        std::future::pending::<()>().await;
                    }
                    let mut buf = Vec::new();
                    let mut chunk = vec![0u8; 64 * 1024];
                    loop {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                buf.extend_from_slice(&chunk[..n]);
                                for item in decode(&mut buf) {
                                    let _ = tx.send(Seen::Item(number, item));
                                }
                            }
                        }
                    }
                    let _ = tx.send(Seen::Closed(number));
                });
            }
        });
        TcpReceiver { addr, seen, task }
    }

    /// The next item, with its connection number.
    pub async fn next(&mut self) -> (usize, T) {
        within("a record", async {
            loop {
                match self.seen.recv().await.expect("the receiver runs") {
                    Seen::Item(connection, item) => return (connection, item),
                    Seen::Closed(_) => continue,
                }
            }
        })
        .await
    }

    /// The next `n` items.
    pub async fn take(&mut self, n: usize) -> Vec<T> {
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.next().await.1);
        }
        items
    }

    /// Waits until connection `number` closes.
    pub async fn closed(&mut self, number: usize) {
        within("the connection to close", async {
            loop {
                if let Seen::Closed(n) = self.seen.recv().await.expect("the receiver runs") {
                    if n == number {
                        return;
                    }
                }
            }
        })
        .await
    }

    /// Items that arrived and were not read yet.
    pub fn pending(&mut self) -> Vec<Seen<T>> {
        std::iter::from_fn(|| self.seen.try_recv().ok()).collect()
    }

    /// Closes the listener and every connection.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

pub fn aspect_receiver(addr: SocketAddr, widths: Widths, reading: bool) -> TcpReceiver<Record> {
    TcpReceiver::bind(addr, reading, Arc::new(move |buf: &mut Vec<u8>| decode_records(buf, widths)))
}

/// Statistics lines: JSON objects ending in `\n`.
pub fn line_receiver(addr: SocketAddr) -> TcpReceiver<Value> {
    TcpReceiver::bind(
        addr,
        true,
        Arc::new(|buf: &mut Vec<u8>| {
            let mut lines = Vec::new();
            while let Some(end) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                lines.push(serde_json::from_slice(&line).expect("each line is JSON"));
            }
            lines
        }),
    )
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

// ---- HTTP receiver.

/// How the HTTP receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Ok,
    Status(u16),
    /// Answers 200 after this long.
    Slow(Duration),
    /// Reads the request and never answers.
    Silent,
}

#[derive(Debug)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

#[derive(Clone)]
struct Peer {
    answer: Arc<Mutex<Answer>>,
    tx: mpsc::UnboundedSender<Received>,
}

pub struct HttpReceiver {
    pub url: String,
    answer: Arc<Mutex<Answer>>,
    requests: mpsc::UnboundedReceiver<Received>,
    task: JoinHandle<()>,
}

async fn receive(State(peer): State<Peer>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let _ = peer.tx.send(Received {
        at: Instant::now(),
        path: uri.path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let answer = peer.answer.lock().unwrap().clone();
    match answer {
        Answer::Ok => StatusCode::OK,
        Answer::Status(code) => StatusCode::from_u16(code).unwrap(),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK
        }
        Answer::Silent => std::future::pending().await,
    }
}

impl HttpReceiver {
    pub async fn start() -> HttpReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(Answer::Ok));
        let (tx, requests) = mpsc::unbounded_channel();
        let router = axum::Router::new().fallback(receive).with_state(Peer { answer: answer.clone(), tx });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        HttpReceiver { url: format!("http://{addr}/feed"), answer, requests, task }
    }

    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    pub async fn next(&mut self) -> Received {
        within("a request", self.requests.recv()).await.expect("the receiver runs")
    }

    /// Requests that arrived and were not read yet.
    pub fn pending(&mut self) -> usize {
        std::iter::from_fn(|| self.requests.try_recv().ok()).count()
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
