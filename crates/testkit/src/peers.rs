//! Misbehaving TCP peers on loopback: one that accepts and never answers, and a port
//! where nothing listens.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A listener that accepts connections and never answers (a hung peer).
pub async fn hung() -> SocketAddr {
    hung_counted().await.0
}

/// A hung peer that also counts the connections it accepted.
pub async fn hung_counted() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (addr, accepted)
}

/// The sockets that keep [`closed_port`]s taken until the test process ends.
static HELD_CLOSED: Mutex<Vec<tokio::net::TcpSocket>> = Mutex::new(Vec::new());

/// A loopback port where nothing listens, for as long as the test process runs: a connection
/// to it is refused. The port stays bound (without `SO_REUSEADDR`, never listening), so no
/// other test's peer can be given it meanwhile; a port merely let go of can be, and a test
/// that expected a refusal then meets a peer that answers, or one that never does.
pub fn closed_port() -> SocketAddr {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("bind loopback");
    let addr = socket.local_addr().expect("addr");
    HELD_CLOSED.lock().unwrap_or_else(PoisonError::into_inner).push(socket);
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_refuses_connections_and_cannot_be_bound_by_another_peer() {
        let closed = closed_port();
        let refused = tokio::net::TcpStream::connect(closed).await.expect_err("nothing listens");
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}");
        // As a peer of another test binds: `TcpListener::bind` sets `SO_REUSEADDR`.
        let taken = tokio::net::TcpListener::bind(closed).await.expect_err("the port stays taken");
        assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse, "{taken}");
    }
}
