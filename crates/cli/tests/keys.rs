//! `patchbay keys` against a real `patchbay serve`: status, a rotation that resumes where an
//! interrupted one stopped (nothing resealed twice), retirement refused while a key is in
//! use, `rotate --retire-old`, and secrets that still open afterwards.

mod process;

use std::process::Output;

use axum::http::{HeaderMap, StatusCode};
use process::ServerProcess;
use serde_json::{json, Value};

const WFM_TOKEN: &str = "cli-wfm-token";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: Output) -> Output {
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    out
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// `[(key id, values)]` from `keys status --json`.
fn values_by_key(s: &ServerProcess) -> Vec<(u64, u64)> {
    let status = json_of(&ok(s.cli(&["keys", "status", "--json"])));
    status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["id"].as_u64().unwrap(), k["values"].as_u64().unwrap()))
        .collect()
}

/// A WFM HTTP POST receiver that accepts only [`WFM_TOKEN`], so a passing connection test
/// proves the server opened the stored token.
async fn receiver() -> std::net::SocketAddr {
    let router = axum::Router::new().route(
        "/rta",
        axum::routing::post(|headers: HeaderMap| async move {
            match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                Some(auth) if auth == format!("Bearer {WFM_TOKEN}") => StatusCode::OK,
                _ => StatusCode::UNAUTHORIZED,
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// What an interrupted `keys rotate` left behind: a new key and one batch resealed.
async fn interrupted_rotation(s: &ServerProcess) -> Value {
    let http = reqwest::Client::new();
    for path in ["/api/v1/keys/rotate", "/api/v1/keys/reseal?batch=2"] {
        let reply = http.post(format!("{}{path}", s.base)).bearer_auth(&s.admin_token).send().await.unwrap();
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        if path.contains("reseal") {
            return reply.json().await.unwrap();
        }
    }
    unreachable!("the loop returns the reseal reply")
}

#[test]
fn keys_rotate_resumes_shows_status_and_retires_unused_keys() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let peer = runtime.block_on(receiver());
    let s = ServerProcess::start(&["--egress-allow", "loopback"]);
    ok(s.cli(&["tenants", "create", "acme"]));
    let secret = s.dir.path().join("token");
    std::fs::write(&secret, WFM_TOKEN).unwrap();
    let secret_arg = format!("token={}", secret.display());
    let wfm = ok(s.cli(&[
        "accounts",
        "create",
        "--tenant",
        "acme",
        "--type",
        "wfm",
        "--provider",
        "http_post",
        "--name",
        "WFM",
        "--set",
        &format!("url=http://{peer}/rta"),
        "--secret-file",
        &secret_arg,
        "--json",
    ]));
    let wfm_id = json_of(&wfm)["id"].as_str().unwrap().to_owned();
    for n in 0..4 {
        ok(s.cli(&[
            "accounts",
            "create",
            "--tenant",
            "acme",
            "--type",
            "messenger",
            "--provider",
            "facebook",
            "--name",
            &format!("FB {n}"),
            "--set",
            "page_username=acme",
            "--set",
            "page_id=42",
            "--secret-file",
            &secret_arg,
        ]));
    }
    ok(s.cli(&["accounts", "test", "--tenant", "acme", &wfm_id]));

    let table = stdout(&ok(s.cli(&["keys", "status"])));
    assert!(table.starts_with("KEY"), "{table}");
    assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "active", "5"]), "{table}");

    // A rotation interrupted after its first batch.
    let first = runtime.block_on(interrupted_rotation(&s));
    assert_eq!((first["resealed"].as_u64(), first["remaining"].as_u64()), (Some(2), Some(3)), "{first}");
    assert_eq!(values_by_key(&s), [(1, 3), (2, 2)]);
    let in_use = s.cli(&["keys", "retire", "1"]);
    assert_eq!(in_use.status.code(), Some(3), "a key that still seals values stays");
    assert!(String::from_utf8_lossy(&in_use.stderr).contains("still seals 3 values"));
    assert_eq!(s.cli(&["keys", "retire"]).status.code(), Some(3), "no older key is unused yet");

    // Running it again continues with the same key and reseals only what is left.
    let resumed = stdout(&ok(s.cli(&["keys", "rotate", "--batch", "2"])));
    assert!(resumed.contains("continuing the rotation to key 2: 3 values"), "{resumed}");
    assert!(resumed.contains("resealed 3 values; every value is now sealed by key 2"), "{resumed}");
    assert_eq!(values_by_key(&s), [(1, 0), (2, 5)]);
    ok(s.cli(&["accounts", "test", "--tenant", "acme", &wfm_id]));

    assert_eq!(s.cli(&["keys", "retire", "2"]).status.code(), Some(3), "the active key stays");
    assert_eq!(s.cli(&["keys", "retire", "7"]).status.code(), Some(4));
    assert!(stdout(&ok(s.cli(&["keys", "retire"]))).contains("retired key 1"));
    assert!(stdout(&ok(s.cli(&["keys", "retire"]))).contains("no older key to retire"));
    assert_eq!(values_by_key(&s), [(2, 5)]);

    // A whole rotation in one go, retiring the old key afterwards.
    let rotated = json_of(&ok(s.cli(&["keys", "rotate", "--retire-old", "--batch", "2", "--json"])));
    assert_eq!(rotated, json!({"active": 3, "resealed": 5, "remaining": 0, "retired": [2]}));
    assert_eq!(values_by_key(&s), [(3, 5)]);
    let tested = ok(s.cli(&["accounts", "test", "--tenant", "acme", &wfm_id]));
    assert!(stdout(&tested).contains("ok"), "the token still opens: {}", stdout(&tested));

    let viewer = json_of(&ok(s.cli(&[
        "tokens",
        "create",
        "--name",
        "v",
        "--role",
        "tenant_admin",
        "--tenant",
        "acme",
        "--json",
    ])));
    let denied = s.cli_as(viewer["token"].as_str().unwrap(), &["keys", "rotate"]);
    assert_eq!(denied.status.code(), Some(5), "only a service-provider admin rotates");
    assert!(!s.log().contains(WFM_TOKEN), "no secret in the server log");
}
