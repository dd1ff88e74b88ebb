//! The I/O every feed kind shares, all through `Egress`: opening a TCP connection to a
//! receiver, writing with a deadline, noticing that the receiver went away, and one HTTP
//! POST with the account's authentication (the request the connection tests send too), and
//! the loop of the feeds that post the whole state at every interval. Errors are short texts
//! for health and logs; they never carry a URL's query, a header or a secret.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::RequestBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::config::{Auth, HttpTarget};
use crate::context::{FeedContext, Ticker};
use crate::state::Snapshot;

/// Resolves and connects under the egress policy.
pub(crate) async fn connect(ctx: &FeedContext, host: &str, port: u16) -> Result<TcpStream, String> {
    let timeout = ctx.io_timeout();
    let target = ctx.egress.resolve(host, port, timeout).await.map_err(|f| f.message)?;
    ctx.egress.connect(&target, timeout).await.map_err(|f| f.message)
}

/// Writes `bytes` whole, or fails when the receiver does not take them within `timeout`
/// (a receiver that stopped reading fills the socket buffers; the feed then drops the
/// connection instead of queueing more).
pub(crate) async fn write_all(writer: &mut OwnedWriteHalf, bytes: &[u8], timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, writer.write_all(bytes)).await {
        Err(_) => Err(format!("the receiver took no data for {} ms", timeout.as_millis())),
        Ok(Err(e)) => Err(format!("writing to the receiver failed: {e}")),
        Ok(Ok(())) => Ok(()),
    }
}

/// Resolves when the receiver closes the connection or it breaks; whatever the receiver
/// sends is read and discarded (the feeds are one-way).
pub(crate) async fn closed(reader: &mut OwnedReadHalf) -> String {
    let mut sink = [0u8; 1024];
    loop {
        match reader.read(&mut sink).await {
            Ok(0) => return "the receiver closed the connection".to_owned(),
            Ok(_) => continue,
            Err(e) => return format!("the connection broke: {e}"),
        }
    }
}

/// One JSON POST; `Ok` for a 2xx answer. The answer's body is read (up to a cap) so the
/// connection can be reused.
pub(crate) async fn post(ctx: &FeedContext, target: &HttpTarget, body: Vec<u8>) -> Result<(), String> {
    let timeout = ctx.io_timeout();
    let request =
        json_post(ctx.egress.request(reqwest::Method::POST, &target.url)?.timeout(timeout), &target.auth, body);
    let mut response = request.send().await.map_err(|e| describe(&e, timeout))?;
    let status = response.status();
    let mut read = 0usize;
    while read < ctx.options.max_response_bytes {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) => break,
            Err(e) if status.is_success() => return Err(describe(&e, timeout)),
            Err(_) => break,
        }
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered HTTP {}", status.as_u16()))
    }
}

/// `request` carrying `body` as JSON, authenticated with `auth`: what every HTTP feed and
/// its connection test send.
pub(crate) fn json_post(request: RequestBuilder, auth: &Auth, body: Vec<u8>) -> RequestBuilder {
    let request = request.header(CONTENT_TYPE, "application/json").body(body);
    match auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token.expose()),
        Auth::Basic { username, password } => request.basic_auth(username, Some(password.expose())),
    }
}

/// The egress client checks the addresses names resolve to; a URL naming an IP address
/// directly is checked here.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let chain = if parts.is_empty() { "unknown error".to_owned() } else { parts.join(": ") };
    if e.is_connect() {
        format!("cannot connect: {chain}")
    } else {
        format!("the request failed: {chain}")
    }
}

/// The loop of the HTTP feeds that post the tenant's whole state at every interval (WFM
/// HTTP POST, Loxysoft): one request in flight at most, ticks that fall inside a slow request
/// are skipped, failures are counted and the next request goes out at the next tick.
/// `encode` keeps per-agent JSON between ticks, so quiet ticks cost little.
pub(crate) async fn post_every(
    ctx: FeedContext,
    interval: Duration,
    target: HttpTarget,
    mut encode: impl FnMut(&Snapshot, &mut Vec<u8>),
) {
    let mut ticks = Ticker::starting(Instant::now(), interval);
    let mut size = 256;
    loop {
        ticks.tick().await;
        let snapshot = ctx.view().snapshot();
        let mut body = Vec::with_capacity(size);
        encode(&snapshot, &mut body);
        drop(snapshot);
        size = body.len() + 256;
        let bytes = body.len() as u64;
        ctx.health.pending(body.len());
        match post(&ctx, &target, body).await {
            Ok(()) => ctx.succeeded(1, bytes, true),
            Err(e) => ctx.failed(&e, false),
        }
    }
}
