//! The HTTP listener: accepts connections under limits and serves them with HTTP/1.1.
//!
//! `axum::serve` has no header-read timeout and no connection limits, so one client holding
//! thousands of half-sent requests could use up the process's file descriptors. Here every
//! connection must finish its request headers within `header_read_timeout` (also between
//! requests of a kept-alive connection), a request body that stalls longer than
//! `body_read_timeout` between chunks fails, a response the client stops reading for
//! `write_stall_timeout` (nothing of it leaves the socket's buffer; a stalled download, a
//! live stream whose reader went away) closes the connection, and at most
//! `max_connections` connections
//! (`max_connections_per_client` per client address; an IPv6 client is its /64) are open
//! at once. A connection over a limit gets a one-line 503 problem and is closed at once, so
//! refused clients cost nothing while they wait. TLS and HTTP/2 belong to the reverse proxy
//! in front (which should then be given a per-client limit of its own pool size).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use crate::metrics::Metrics;

/// Limits on the connections and requests of the HTTP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time a client has to send a request's headers, counted from the connection's start
    /// or the end of its previous response.
    pub header_read_timeout: Duration,
    /// Longest pause between two chunks of a request body.
    pub body_read_timeout: Duration,
    /// Longest time a response may wait to write to a client that reads nothing.
    pub write_stall_timeout: Duration,
    /// Connections open at once, all clients together.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_client: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            write_stall_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_connections_per_client: 256,
        }
    }
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` are open.
    Full,
    /// The client already has `max_connections_per_client` open.
    PerClient,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Full => "max_connections",
            Refusal::PerClient => "max_connections_per_client",
        }
    }
}

/// Counts open connections in total and per client.
struct Gate {
    limits: HttpLimits,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
struct Ticket {
    gate: Arc<Gate>,
    client: IpAddr,
}

/// The address a client's connections are counted under: IPv4 (also when mapped into
/// IPv6), or the /64 of an IPv6 address, which one client usually holds whole.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

impl Gate {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let client = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.limits.max_connections {
            return Err(Refusal::Full);
        }
        let count = open.per_client.entry(client).or_default();
        if *count >= self.limits.max_connections_per_client {
            return Err(Refusal::PerClient);
        }
        *count += 1;
        open.total += 1;
        Ok(Ticket { gate: self.clone(), client })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total -= 1;
        if let Some(count) = open.per_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.per_client.remove(&self.client);
            }
        }
    }
}

/// The answer a refused connection gets before it is closed. Written without waiting: a
/// client that does not read it just loses it.
fn refusal_response(why: Refusal) -> String {
    let detail = match why {
        Refusal::Full => "the service has as many connections open as it allows; retry shortly",
        Refusal::PerClient => "this client address has as many connections open as the service allows; close some",
    };
    let body = serde_json::json!({
        "type": "urn:patchbay:problem:unavailable",
        "title": "Temporarily unavailable",
        "status": 503,
        "detail": detail,
        "limit": why.as_str(),
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// How long a stop waits for requests in flight (a slow download, say) to finish.
const DRAIN: Duration = Duration::from_secs(30);

/// Errors of `accept` that concern one connection only (the next accept may succeed).
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets each
/// connection finish its request in flight and waits for them (at most `DRAIN`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gate = Arc::new(Gate { limits, open: Mutex::new(Open::default()) });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (drained_tx, drained_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait for connections to close
                    // instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let ticket = match gate.admit(peer.ip()) {
            Ok(ticket) => ticket,
            Err(why) => {
                metrics.record_connection_refused(why.as_str());
                let _ = stream.try_write(refusal_response(why).as_bytes());
                continue;
            }
        };
        metrics.connection_opened();
        let connection = Connection {
            stream,
            peer,
            app: app.clone(),
            limits,
            stop: stop_rx.clone(),
            _drained: drained_rx.clone(),
            _ticket: ticket,
            metrics: metrics.clone(),
        };
        tokio::spawn(connection.run());
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(drained_rx);
    if tokio::time::timeout(DRAIN, drained_tx.closed()).await.is_err() {
        tracing::warn!(
            still_open = drained_tx.receiver_count(),
            "stopping with connections still open after {} s",
            DRAIN.as_secs()
        );
    }
    Ok(())
}

/// One admitted connection and what it holds until it ends.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: HttpLimits,
    stop: watch::Receiver<bool>,
    /// Dropped when the connection ends; `serve` waits for all of them on shutdown.
    _drained: watch::Receiver<()>,
    _ticket: Ticket,
    metrics: Arc<Metrics>,
}

impl Connection {
    async fn run(mut self) {
        let _ = self.stream.set_nodelay(true);
        let peer = self.peer;
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(self.limits.header_read_timeout).keep_alive(true);
        let mut stream = TimeoutStream::new(self.stream);
        stream.set_write_timeout(Some(self.limits.write_stall_timeout));
        let connection = builder.serve_connection(TokioIo::new(Box::pin(stream)), service).with_upgrades();
        tokio::pin!(connection);
        let outcome = tokio::select! {
            outcome = connection.as_mut() => outcome,
            _ = self.stop.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.as_mut().await
            }
        };
        if let Err(e) = outcome {
            tracing::debug!(error = %e, %peer, "connection ended with an error");
        }
        self.metrics.connection_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max: usize, per_client: usize) -> Arc<Gate> {
        let limits =
            HttpLimits { max_connections: max, max_connections_per_client: per_client, ..HttpLimits::default() };
        Arc::new(Gate { limits, open: Mutex::new(Open::default()) })
    }

    #[test]
    fn a_client_over_its_limit_is_refused_while_others_still_get_in() {
        let gate = gate(10, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).err(), Some(Refusal::PerClient));
        assert!(gate.admit(b).is_ok(), "another client is not affected");
        drop(first);
        assert!(gate.admit(a).is_ok(), "a closed connection frees its place");
    }

    #[test]
    fn the_global_limit_refuses_every_client_once_reached() {
        let gate = gate(2, 5);
        let _a = gate.admit("192.0.2.1".parse().unwrap()).unwrap();
        let b = gate.admit("192.0.2.2".parse().unwrap()).unwrap();
        assert_eq!(gate.admit("192.0.2.3".parse().unwrap()).err(), Some(Refusal::Full));
        drop(b);
        let _c = gate.admit("192.0.2.3".parse().unwrap()).unwrap();
        assert_eq!(gate.open.lock().unwrap().per_client.len(), 2, "counts of clients with no connection go");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let gate = gate(10, 1);
        let _a = gate.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert_eq!(gate.admit("2001:db8:1:2:ffff::9".parse().unwrap()).err(), Some(Refusal::PerClient));
        assert!(gate.admit("2001:db8:1:3::1".parse().unwrap()).is_ok(), "another /64 is another client");
        let _v4 = gate.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert_eq!(gate.admit("::ffff:192.0.2.7".parse().unwrap()).err(), Some(Refusal::PerClient));
    }

    #[test]
    fn the_refusal_is_a_complete_problem_response() {
        let text = refusal_response(Refusal::PerClient);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["limit"], "max_connections_per_client");
    }
}
