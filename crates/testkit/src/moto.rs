//! moto's S3-compatible server (`moto_server`, PyPI `moto[server]`) as a child process on a
//! loopback port, killed on drop, and a way to run boto3 scripts (an independent client)
//! against it. moto takes the first `INITIAL_NO_AUTH_ACTION_COUNT` calls without
//! authentication; tests use them to create IAM users and keys, after which every call's
//! signature is checked.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl Moto {
    /// Starts moto allowing `unauthenticated_calls` calls before it checks credentials, and
    /// waits (at most 20 s) until it listens. Fails with the install command when missing.
    pub fn start(unauthenticated_calls: u32) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", unauthenticated_calls.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}); install it with: pip install 'moto[server]' boto3")
            });
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        moto.wait_until_listening(SocketAddr::from(([127, 0, 0, 1], port)));
        moto
    }

    fn wait_until_listening(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(_) => return,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!("moto_server exited before listening: {status}");
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("moto_server did not listen on {addr} within 20 s: {e}"),
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Python (boto3) script with `args` and returns the JSON it prints.
pub fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3 runs");
    assert!(
        out.status.success(),
        "the boto3 script failed (pip install boto3): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}
