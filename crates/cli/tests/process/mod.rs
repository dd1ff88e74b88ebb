//! A real `patchbay serve` child process on a loopback port with its own data dir, and a
//! way to run the `patchbay` CLI against it. Stopped when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_patchbay");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

pub struct ServerProcess {
    pub base: String,
    pub admin_token: String,
    pub dir: tempfile::TempDir,
    port: u16,
    extra: Vec<String>,
    child: Child,
}

impl ServerProcess {
    /// Starts `patchbay serve` with `extra` arguments and waits (bounded) until it answers.
    pub fn start(extra: &[&str]) -> ServerProcess {
        ServerProcess::start_prepared(extra, |_| {})
    }

    /// As `start`, after `prepare` has filled the data dir (created 0700, empty) it is given.
    pub fn start_prepared(extra: &[&str], prepare: impl FnOnce(&Path)) -> ServerProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("the data dir");
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod 0700");
        prepare(&data);
        let port = free_port();
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let child = spawn(dir.path(), port, &extra);
        let base = format!("http://127.0.0.1:{port}");
        let mut server = ServerProcess { base, admin_token: String::new(), dir, port, extra, child };
        server.wait_until_listening();
        server.admin_token = std::fs::read_to_string(server.data_dir().join("admin-token"))
            .expect("the admin token file")
            .trim()
            .to_owned();
        server
    }

    /// Kills the server with SIGKILL, as a crash or `kill -9` would: no shutdown at all.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the server process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal} the server");
    }

    /// Starts the server again on the same data dir, port and arguments.
    pub fn restart(&mut self) {
        self.child = spawn(self.dir.path(), self.port, &self.extra);
        self.wait_until_listening();
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("patchbay serve exited with {status}: {}", self.log());
            }
            assert!(Instant::now() < deadline, "patchbay serve did not listen within 20 s: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs the CLI against this server with the admin token.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(&self.admin_token, args)
    }

    pub fn cli_as(&self, token: &str, args: &[&str]) -> Output {
        cli(args, &[("PATCHBAY_SERVER", &self.base), ("PATCHBAY_TOKEN", token)], self.dir.path())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `patchbay serve` on `port` with its data dir in `dir`, appending to `dir/server.log`.
fn spawn(dir: &Path, port: u16, extra: &[String]) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).expect("log file");
    Command::new(BIN)
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env_remove("PATCHBAY_ADMIN_TOKEN")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("patchbay serve starts")
}

/// Runs the CLI with `env`, in `cwd`.
pub fn cli(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(cwd).stdin(Stdio::null()).env_remove("PATCHBAY_TOKEN");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the CLI runs")
}
