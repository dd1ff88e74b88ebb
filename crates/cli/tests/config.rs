//! `serve --config FILE`: the file fills in what neither a flag nor an environment variable
//! gave; unknown keys are refused with the file and key named.

mod process;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn answers(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn config_file_fills_in_what_flags_and_environment_leave_out() {
    let dir = tempfile::tempdir().unwrap();
    let (file_port, env_port) = (process::free_port(), process::free_port());
    let config = dir.path().join("patchbay.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{file_port}\"\negress_allow = [\"loopback\"]\n[vendor_urls]\ntelegram = \"http://127.0.0.1:9/\"\n",
            dir.path().join("from-file").display()
        ),
    )
    .unwrap();
    let server = |env: &[(&str, String)]| {
        let mut command = Command::new(process::BIN);
        command.args(["serve", "--config"]).arg(&config).stdout(Stdio::null()).stderr(Stdio::null());
        command.env_remove("PATCHBAY_LISTEN").env_remove("PATCHBAY_DATA_DIR");
        for (k, v) in env {
            command.env(k, v);
        }
        Killed(command.spawn().unwrap())
    };
    {
        let _s = server(&[]);
        assert!(answers(file_port), "the file's listen address is used");
        assert!(dir.path().join("from-file/admin-token").exists(), "the file's data dir is used");
    }
    {
        let _s = server(&[("PATCHBAY_LISTEN", format!("127.0.0.1:{env_port}"))]);
        assert!(answers(env_port), "the environment wins over the file");
    }
    let flag_port = process::free_port();
    let mut command = Command::new(process::BIN);
    command.args(["serve", "--config"]).arg(&config).args(["--listen", &format!("127.0.0.1:{flag_port}")]);
    let _s = Killed(
        command
            .env("PATCHBAY_LISTEN", format!("127.0.0.1:{env_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(answers(flag_port), "the flag wins over the environment and the file");
}

#[test]
fn unknown_config_keys_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("patchbay.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisen = \"typo\"\n").unwrap();
    let out = Command::new(process::BIN).args(["serve", "--config"]).arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lisen") && err.contains("patchbay.toml"), "{err}");
}

#[test]
fn connection_limits_and_timeouts_come_from_the_config_file() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let port = process::free_port();
    let config = dir.path().join("patchbay.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\nmax_connections_per_client = 2\nheader_read_timeout = 0.5\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut command = Command::new(process::BIN);
    command.args(["serve", "--config"]).arg(&config).stdout(Stdio::null()).stderr(Stdio::null());
    command.env_remove("PATCHBAY_LISTEN").env_remove("PATCHBAY_DATA_DIR");
    let _s = Killed(command.spawn().unwrap());
    assert!(answers(port));
    // `answers` left no connection open; hold two, the third is refused.
    std::thread::sleep(Duration::from_millis(200));
    let held: Vec<_> = (0..2).map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut third = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = third.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("max_connections_per_client"), "{answer:?}");
    // The held ones send nothing and are closed after the file's 0.5 s header-read timeout.
    for mut stream in held {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 16];
        let n = stream.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "closed without an answer");
        assert!(started.elapsed() < Duration::from_secs(4), "closed by the timeout, not the test's");
        let _ = stream.write_all(b"x");
    }
}

#[test]
fn test_limits_are_read_from_flags_environment_and_file_and_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("patchbay.toml");
    std::fs::write(&config, format!("data_dir = \"{}\"\ntest_limit_global = 0\n", dir.path().join("d").display()))
        .unwrap();
    let start = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(process::BIN);
        command.arg("serve").args(args).args(["--listen", &format!("127.0.0.1:{}", process::free_port())]);
        command.env_remove("PATCHBAY_DATA_DIR").env("PATCHBAY_DATA_DIR", dir.path().join("d"));
        for (k, v) in env {
            command.env(k, v);
        }
        command.stdin(Stdio::null()).output().unwrap()
    };
    let config = config.to_str().unwrap();
    for (args, env) in [
        (vec!["--config", config], vec![]),
        (vec!["--test-limit-per-tenant", "0"], vec![]),
        (vec![], vec![("PATCHBAY_TEST_LIMIT_GLOBAL", "0")]),
    ] {
        let out = start(&args, &env);
        assert!(!out.status.success(), "{args:?} {env:?}: a zero limit stops the start");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("the connection test limits must be at least 1"), "{args:?} {env:?}: {said}");
    }
}
