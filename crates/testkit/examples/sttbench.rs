//! The latency a speech-to-text relay adds per audio message: `sttbench STANDIN_DIR
//! GATEWAY_URL TOKEN [MESSAGES]` sends 20 ms audio messages (640 bytes: 16 kHz, 16-bit) to
//! the `standin stt` in STANDIN_DIR directly (wss, its CA) and through patchbay's
//! `GET …/gateway/transcribe` (GATEWAY_URL, a `ws://` URL with the query, and TOKEN), one
//! at a time, each timed until the result that names it comes back. The two alternate in
//! rounds of 500 so both see the same machine; prints p50 and p99 of each and what the
//! relay adds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use rustls::pki_types::pem::PemObject as _;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const ROUND: usize = 500;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(gateway), Some(token)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: sttbench STANDIN_DIR GATEWAY_URL TOKEN [MESSAGES]");
        std::process::exit(2);
    };
    let messages: usize = args.get(4).and_then(|n| n.parse().ok()).unwrap_or(5000);
    let dir = std::path::Path::new(dir);
    let port: u16 = std::fs::read_to_string(dir.join("port")).expect("port").trim().parse().expect("a port");
    let ca = rustls::pki_types::CertificateDer::from_pem_file(dir.join("ca.pem")).expect("ca.pem");
    let mut direct = direct_socket(port, ca).await;
    let mut relayed = relayed_socket(gateway, token).await;
    let (mut direct_times, mut relayed_times) = (Vec::new(), Vec::new());
    let mut seq = 0u64;
    while direct_times.len() < messages {
        for _ in 0..ROUND {
            seq += 1;
            direct_times.push(round_trip(&mut direct, seq, watson_text).await);
        }
        for _ in 0..ROUND {
            seq += 1;
            relayed_times.push(round_trip(&mut relayed, seq, piece_text).await);
        }
    }
    let (d50, d99) = percentiles(&mut direct_times);
    let (r50, r99) = percentiles(&mut relayed_times);
    println!("speech to text, one 20 ms audio message at a time, {messages} messages each ({} cores)", num_cores());
    println!("{:<28} p50 {:>8.3} ms   p99 {:>8.3} ms", "stand-in directly", d50, d99);
    println!("{:<28} p50 {:>8.3} ms   p99 {:>8.3} ms", "  through the gateway", r50, r99);
    println!("{:<28} p50 {:>8.3} ms   p99 {:>8.3} ms", "  added by the relay", r50 - d50, r99 - d99);
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Socket = WebSocketStream<Box<dyn Io>>;

/// The stand-in over TLS, started as patchbay starts a Watson session.
async fn direct_socket(port: u16, ca: rustls::pki_types::CertificateDer<'static>) -> Socket {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("the CA");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("the stand-in");
    tcp.set_nodelay(true).expect("nodelay");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS");
    let mut request =
        format!("wss://localhost:{port}/speech-to-text/api/v1/recognize").into_client_request().expect("a request");
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", patchbay_testkit::vendors::speech::STT_USER, patchbay_testkit::vendors::speech::STT_PASSWORD),
    );
    request.headers_mut().insert("authorization", format!("Basic {basic}").parse().expect("a header"));
    let (mut socket, _) =
        tokio_tungstenite::client_async(request, Box::new(tls) as Box<dyn Io>).await.expect("upgrade");
    let start = json!({"action": "start", "content-type": "audio/l16;rate=16000;endianness=little-endian", "interim_results": true});
    socket.send(Message::text(start.to_string())).await.expect("start");
    socket.next().await.expect("listening").expect("listening");
    socket
}

/// patchbay's transcription socket, over plain TCP as on loopback.
async fn relayed_socket(url: &str, token: &str) -> Socket {
    let mut request = url.into_client_request().expect("a ws:// URL");
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("a header"));
    let uri = request.uri().clone();
    let tcp = tokio::net::TcpStream::connect((uri.host().expect("a host"), uri.port_u16().unwrap_or(80)))
        .await
        .expect("patchbay");
    tcp.set_nodelay(true).expect("nodelay");
    let (socket, _) = tokio_tungstenite::client_async(request, Box::new(tcp) as Box<dyn Io>).await.expect("upgrade");
    socket
}

/// Sends one message numbered `seq` and waits for the result naming it: milliseconds.
async fn round_trip(socket: &mut Socket, seq: u64, text: fn(&Value) -> Option<&str>) -> f64 {
    let mut audio = vec![0u8; 640];
    audio[..8].copy_from_slice(&seq.to_be_bytes());
    let tag: String = seq.to_be_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let started = Instant::now();
    socket.send(Message::binary(audio)).await.expect("send");
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a result within 5 s")
            .expect("the socket is open")
            .expect("a message");
        let Message::Text(body) = message else { continue };
        let value: Value = serde_json::from_str(&body).expect("JSON");
        if text(&value).is_some_and(|t| t.trim() == tag) {
            return started.elapsed().as_secs_f64() * 1000.0;
        }
    }
}

fn watson_text(value: &Value) -> Option<&str> {
    value["results"][0]["alternatives"][0]["transcript"].as_str()
}

fn piece_text(value: &Value) -> Option<&str> {
    value["text"].as_str()
}

fn percentiles(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    (at(0.50), at(0.99))
}
