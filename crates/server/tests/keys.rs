//! Key rotation through the API: a new key while requests flow (none fails, every secret
//! still opens, the old key then seals nothing and can be retired), resealing in batches
//! that resume from a cursor, values that cannot be resealed, start-up with a ring that
//! lacks a key the database uses, and roles.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::keys::wfm::http_post;
use patchbay_secrets::{AccountSecrets, RingFile};
use patchbay_store::{SqlStore, Store};
use patchbay_testkit::{backend_test, Reply, TestDatabase, TestServer};
use patchbay_vault::{sealed_key_id, KeyRing};
use reqwest::Method;
use serde_json::{json, Value};

const KEYS: &str = "/api/v1/keys";

fn accounts(tenant: &str) -> String {
    format!("/api/v1/tenants/{tenant}/integration-accounts")
}

/// Tokens ever given to each WFM slot; the receiver accepts only those of its slot.
type Tokens = Arc<Mutex<HashMap<usize, HashSet<String>>>>;

fn allow(tokens: &Tokens, slot: usize, token: &str) {
    tokens.lock().unwrap().entry(slot).or_default().insert(token.to_owned());
}

/// A WFM HTTP POST receiver at `/rta/{slot}` that checks the bearer token, so a passing
/// connection test proves the server opened the stored secret.
async fn receiver(tokens: Tokens) -> std::net::SocketAddr {
    let router = axum::Router::new().route(
        "/rta/{slot}",
        axum::routing::post(move |axum::extract::Path(slot): axum::extract::Path<usize>, headers: HeaderMap| {
            let tokens = tokens.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let token = auth.strip_prefix("Bearer ").unwrap_or("");
                match tokens.lock().unwrap().get(&slot) {
                    Some(known) if known.contains(token) => StatusCode::OK,
                    _ => StatusCode::UNAUTHORIZED,
                }
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

fn wfm(addr: std::net::SocketAddr, slot: usize, token: Option<&str>) -> Value {
    let mut properties = json!({http_post::URL: format!("http://{addr}/rta/{slot}")});
    if let Some(token) = token {
        properties[http_post::TOKEN] = json!(token);
    }
    json!({"type": "wfm", "provider": "http_post", "name": "WFM", "properties": properties})
}

fn facebook(name: &str, token: &str) -> Value {
    json!({"type": "messenger", "provider": "facebook", "name": name,
           "properties": {facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "42", facebook::TOKEN: token}})
}

async fn created(s: &TestServer, path: &str, body: Value) -> String {
    let reply = s.call(Method::POST, path, Some(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// The values each key seals, from `GET /keys`.
async fn values_by_key(s: &TestServer) -> Vec<(u64, u64)> {
    let status = s.call(Method::GET, KEYS, None).await;
    assert_eq!(status.status, 200, "{}", status.text);
    status.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["id"].as_u64().unwrap(), k["values"].as_u64().unwrap()))
        .collect()
}

async fn reseal(s: &TestServer, batch: u32, after: Option<&str>) -> Reply {
    let path = match after {
        Some(after) => format!("{KEYS}/reseal?batch={batch}&after={after}"),
        None => format!("{KEYS}/reseal?batch={batch}"),
    };
    let reply = s.call(Method::POST, &path, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
}

/// Reseals in batches, pass after pass, until no value is left under an older key, as the
/// CLI does. Returns how many values it resealed.
async fn reseal_everything(s: &TestServer, batch: u32, pause: Duration) -> u64 {
    let (mut after, mut resealed, mut pass) = (None::<String>, 0, 0);
    loop {
        let reply = reseal(s, batch, after.as_deref()).await;
        assert_eq!(reply.body["failed"], json!([]), "{}", reply.text);
        let done = reply.body["resealed"].as_u64().unwrap();
        resealed += done;
        pass += done;
        tokio::time::sleep(pause).await;
        match reply.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None if reply.body["remaining"] == 0 => return resealed,
            None => {
                assert!(pass > 0, "a pass that reseals nothing cannot finish: {}", reply.text);
                (after, pass) = (None, 0);
            }
        }
    }
}

/// Every secret in the database, opened with the ring file: `(tenant, account, field, key id, value)`.
async fn open_everything(url: &str, ring_path: &Path) -> Vec<(String, String, String, u32, String)> {
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    let secrets = AccountSecrets::start(RingFile::load_or_create(ring_path).unwrap(), store.clone()).await.unwrap();
    let keys = secrets.lease().await;
    let mut out = Vec::new();
    for tenant in store.list_tenants().await.unwrap() {
        for account in store.list_accounts(&tenant.id, None).await.unwrap() {
            let id = account.id.to_string();
            let values = keys.open(&account).unwrap_or_else(|e| panic!("{e}"));
            for secret in &account.secrets {
                let value = &values[&secret.field];
                assert_eq!(
                    sealed_key_id(&secret.sealed).unwrap(),
                    secret.key_id,
                    "the key_id column matches the value"
                );
                out.push((
                    tenant.id.clone(),
                    id.clone(),
                    secret.field.clone(),
                    secret.key_id,
                    value.expose().to_owned(),
                ));
            }
        }
    }
    out
}

/// The ring file of a running test server, copied where the test keeps it.
fn keep_ring(s: &TestServer, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    KeyRing::load(s.data_dir.path().join("data").join("master.key")).unwrap().save(&path).unwrap();
    path
}

/// Starts on `db` with a new data dir `dir` holding the ring at `ring`.
async fn start_with_ring(db: &TestDatabase, ring: &Path, dir: &Path) -> anyhow::Result<patchbay_server::Started> {
    std::fs::create_dir_all(dir).unwrap();
    KeyRing::load(ring).unwrap().save(dir.join("master.key")).unwrap();
    patchbay_server::start(&patchbay_server::Settings {
        database_url: Some(db.url.clone()),
        ..patchbay_server::Settings::new(dir.to_owned())
    })
    .await
}

/// Shared by the traffic tasks: what ran, and every request that did not succeed.
#[derive(Default)]
struct Traffic {
    stop: AtomicBool,
    requests: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Traffic {
    fn check(&self, what: &str, reply: &Reply, expected: u16) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if reply.status != expected {
            self.failures.lock().unwrap().push(format!("{what}: {} {}", reply.status, reply.text));
        } else if reply.body.get("steps").is_some() && reply.body["status"] != "ok" {
            self.failures.lock().unwrap().push(format!("{what}: test {}", reply.text));
        }
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
    }
}

/// A WFM account (one per tenant) at receiver slot `slot`.
#[derive(Clone)]
struct Wfm {
    tenant: String,
    id: String,
    slot: usize,
}

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn rotation_while_requests_flow_fails_none_and_leaves_every_secret_open(db) {
        let s = Arc::new(TestServer::start(&db).await);
        let tokens: Tokens = Arc::default();
        let addr = receiver(tokens.clone()).await;
        let wfms: Arc<Mutex<Vec<Wfm>>> = Arc::default();
        let mut messengers = Vec::new();
        for slot in 0..4 {
            let tenant = format!("t{slot}");
            assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": tenant}))).await.status, 201);
            let token = format!("wfm-{slot}-0");
            allow(&tokens, slot, &token);
            let id = created(&s, &accounts(&tenant), wfm(addr, slot, Some(&token))).await;
            wfms.lock().unwrap().push(Wfm { tenant: tenant.clone(), id, slot });
            for n in 0..3 {
                let id = created(&s, &accounts(&tenant), facebook(&format!("FB {n}"), &format!("fb-{slot}-{n}"))).await;
                messengers.push((tenant.clone(), id));
            }
        }
        assert_eq!(values_by_key(&s).await, [(1, 16)]);

        let traffic = Arc::new(Traffic::default());
        let mut tasks = tokio::task::JoinSet::new();
        // Creates tenants with a WFM account each.
        {
            let (s, t, wfms, tokens) = (s.clone(), traffic.clone(), wfms.clone(), tokens.clone());
            tasks.spawn(async move {
                let mut slot = 4;
                while t.running() && slot < 40 {
                    let tenant = format!("t{slot}");
                    t.check(
                        "create tenant",
                        &s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": tenant}))).await,
                        201,
                    );
                    let token = format!("wfm-{slot}-0");
                    allow(&tokens, slot, &token);
                    let reply = s.call(Method::POST, &accounts(&tenant), Some(wfm(addr, slot, Some(&token)))).await;
                    t.check("create account", &reply, 201);
                    if let Some(id) = reply.body["id"].as_str() {
                        wfms.lock().unwrap().push(Wfm { tenant, id: id.to_owned(), slot });
                    }
                    slot += 1;
                }
            });
        }
        // Updates WFM accounts: a new token, or a new name that keeps the stored token.
        {
            let (s, t, wfms, tokens) = (s.clone(), traffic.clone(), wfms.clone(), tokens.clone());
            tasks.spawn(async move {
                let mut round = 1;
                while t.running() {
                    let all = wfms.lock().unwrap().clone();
                    for w in all {
                        let path = format!("{}/{}", accounts(&w.tenant), w.id);
                        let body = if round % 2 == 0 {
                            let token = format!("wfm-{}-{round}", w.slot);
                            allow(&tokens, w.slot, &token);
                            wfm(addr, w.slot, Some(&token))
                        } else {
                            let mut body = wfm(addr, w.slot, None);
                            body["name"] = json!(format!("WFM {round}"));
                            body
                        };
                        t.check("update", &s.call(Method::PUT, &path, Some(body)).await, 200);
                    }
                    round += 1;
                }
            });
        }
        // Generates webhook tokens and renames messenger accounts, keeping their page token.
        {
            let (s, t) = (s.clone(), traffic.clone());
            tasks.spawn(async move {
                let mut round = 0;
                while t.running() {
                    for (tenant, id) in &messengers {
                        let path = format!("{}/{id}", accounts(tenant));
                        let reply = if round % 2 == 0 {
                            s.call(Method::POST, &format!("{path}/actions/generate_token"), None).await
                        } else {
                            s.call(Method::PUT, &path, Some(json!({"name": format!("FB {id} {round}")}))).await
                        };
                        t.check("messenger write", &reply, 200);
                    }
                    round += 1;
                }
            });
        }
        // Tests saved accounts, and unsaved forms whose token comes from the stored secret.
        for parity in 0..2 {
            let (s, t, wfms) = (s.clone(), traffic.clone(), wfms.clone());
            tasks.spawn(async move {
                while t.running() {
                    let all = wfms.lock().unwrap().clone();
                    for w in all.iter().filter(|w| w.slot % 2 == parity) {
                        let saved = format!("{}/{}/test", accounts(&w.tenant), w.id);
                        t.check("saved test", &s.call(Method::POST, &saved, None).await, 200);
                        let mut form = wfm(addr, w.slot, None);
                        form["id"] = json!(w.id);
                        let unsaved = format!("{}/test", accounts(&w.tenant));
                        t.check("unsaved test", &s.call(Method::POST, &unsaved, Some(form)).await, 200);
                    }
                }
            });
        }
        // Reads lists and accounts.
        {
            let (s, t, wfms) = (s.clone(), traffic.clone(), wfms.clone());
            tasks.spawn(async move {
                while t.running() {
                    let all = wfms.lock().unwrap().clone();
                    for w in all {
                        t.check("list", &s.call(Method::GET, &accounts(&w.tenant), None).await, 200);
                        t.check(
                            "get",
                            &s.call(Method::GET, &format!("{}/{}", accounts(&w.tenant), w.id), None).await,
                            200,
                        );
                    }
                }
            });
        }

        tokio::time::sleep(Duration::from_millis(300)).await;
        let before_rotation = traffic.requests.load(Ordering::SeqCst);
        let rotated = s.call(Method::POST, &format!("{KEYS}/rotate"), None).await;
        assert_eq!(rotated.status, 201, "{}", rotated.text);
        assert_eq!(rotated.body["active"], 2);
        // Writes meanwhile seal what they store with the new key too, so they and the reseal
        // share the work.
        reseal_everything(&s, 3, Duration::from_millis(5)).await;
        let old = values_by_key(&s).await;
        assert_eq!(old.iter().find(|(id, _)| *id == 1), Some(&(1, 0)), "the old key seals nothing: {old:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        traffic.stop.store(true, Ordering::SeqCst);
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
        let during = traffic.requests.load(Ordering::SeqCst) - before_rotation;
        assert!(during > 50, "requests flowed during the rotation: {during}");
        assert_eq!(*traffic.failures.lock().unwrap(), Vec::<String>::new());

        // Every secret opens with the ring file, under the new key, with a value it was given.
        let ring_path = s.data_dir.path().join("data").join("master.key");
        let opened = open_everything(&db.url, &ring_path).await;
        let wfm_ids: HashMap<String, usize> = wfms.lock().unwrap().iter().map(|w| (w.id.clone(), w.slot)).collect();
        for (tenant, account, field, key_id, value) in &opened {
            assert_eq!(*key_id, 2, "{tenant}/{account}/{field}");
            match (wfm_ids.get(account), field.as_str()) {
                (Some(slot), http_post::TOKEN) => {
                    assert!(tokens.lock().unwrap()[slot].contains(value), "{account}: {value}")
                }
                (None, facebook::TOKEN) => assert!(value.starts_with("fb-"), "{account}: {value}"),
                (None, facebook::WEBHOOK_VERIFY_TOKEN) => assert_eq!(value.len(), 43),
                other => panic!("unexpected secret {other:?}"),
            }
        }
        let total = opened.len() as u64;
        assert_eq!(values_by_key(&s).await, [(1, 0), (2, total)]);

        // The old key can now be retired; the active one and unknown ones cannot.
        assert_eq!(
            s.call(Method::DELETE, &format!("{KEYS}/2"), None).await.field_errors(),
            [("id".to_owned(), "active".to_owned())]
        );
        assert_eq!(s.call(Method::DELETE, &format!("{KEYS}/1"), None).await.status, 204);
        assert_eq!(s.call(Method::DELETE, &format!("{KEYS}/1"), None).await.status, 404);
        assert_eq!(s.call(Method::DELETE, &format!("{KEYS}/x"), None).await.status, 404);
        let status = s.call(Method::GET, KEYS, None).await;
        let rotated_at = status.body["keys"][0]["rotated_at"].clone();
        let when: chrono::DateTime<chrono::Utc> = serde_json::from_value(rotated_at.clone()).expect("a rotation time");
        assert!((chrono::Utc::now() - when).num_minutes() < 5, "key 2 was added by this rotation: {when}");
        assert_eq!(
            status.body,
            json!({"active": 2, "keys": [{"id": 2, "active": true, "in_ring": true, "values": total, "rotated_at": rotated_at}]})
        );
        assert_eq!(KeyRing::load(&ring_path).unwrap().key_ids(), [2], "the ring file lost the old key");
        let all = wfms.lock().unwrap().clone();
        for w in all {
            let report = s.call(Method::POST, &format!("{}/{}/test", accounts(&w.tenant), w.id), None).await;
            assert_eq!(report.body["status"], "ok", "{}", report.text);
        }
        assert!(!status.text.contains("wfm-") && !rotated.text.contains("wfm-"));

        // A restart with the ring file works, and opens what the server sealed.
        let kept = tempfile::tempdir().unwrap();
        let ring = keep_ring(&s, kept.path(), "master.key");
        Arc::into_inner(s).expect("the tasks are done").stop().await;
        let again = start_with_ring(&db, &ring, &kept.path().join("data")).await.unwrap();
        assert_eq!(again.state.keys.lease().await.key_ids(), [2]);
    }
}

backend_test! {
    #[tokio::test]
    async fn resealing_resumes_from_its_cursor_and_counts_each_value_once(db) {
        let s = TestServer::start(&db).await;
        for tenant in ["acme", "beta"] {
            assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": tenant}))).await.status, 201);
            for n in 0..3 {
                created(&s, &accounts(tenant), facebook(&format!("FB {n}"), &format!("{tenant}-{n}"))).await;
            }
        }
        assert_eq!(s.call(Method::POST, &format!("{KEYS}/rotate"), None).await.status, 201);
        let first = reseal(&s, 2, None).await;
        assert_eq!((first.body["resealed"].as_u64(), first.body["remaining"].as_u64()), (Some(2), Some(4)));
        let second = reseal(&s, 2, first.body["next"].as_str()).await;
        assert_eq!(second.body["remaining"], 2);
        // Interrupted here: a new run starts without a cursor and finds only what is left.
        let rest = reseal_everything(&s, 2, Duration::ZERO).await;
        assert_eq!(rest, 2, "nothing is resealed twice");
        assert_eq!(values_by_key(&s).await, [(1, 0), (2, 6)]);
        let done = reseal(&s, 2, None).await;
        assert_eq!(
            done.body,
            json!({"active": 2, "resealed": 0, "skipped": 0, "failed": [], "remaining": 0, "next": null})
        );

        let bad_batch = s.call(Method::POST, &format!("{KEYS}/reseal?batch=0"), None).await;
        assert_eq!(bad_batch.field_errors(), [("batch".to_owned(), "range".to_owned())]);
        let too_big = s.call(Method::POST, &format!("{KEYS}/reseal?batch=1001"), None).await;
        assert_eq!(too_big.status, 422);
        let bad_cursor = s.call(Method::POST, &format!("{KEYS}/reseal?after=nope"), None).await;
        assert_eq!(bad_cursor.field_errors(), [("after".to_owned(), "cursor".to_owned())]);
        s.stop().await;
    }
}

/// A value copied into another account's row does not open there (its context differs):
/// resealing reports it, keeps going, and the key it is under cannot be retired.
#[tokio::test]
async fn a_value_that_does_not_open_is_reported_and_keeps_its_key() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await.status, 201);
    let a = created(&s, &accounts("acme"), facebook("A", "value-a")).await;
    let b = created(&s, &accounts("acme"), facebook("B", "value-b")).await;
    created(&s, &accounts("acme"), facebook("C", "value-c")).await;
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query("UPDATE account_secrets SET sealed = (SELECT sealed FROM account_secrets WHERE account_id = $1) WHERE account_id = $2")
            .bind(&a)
            .bind(&b)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(s.call(Method::POST, &format!("{KEYS}/rotate"), None).await.status, 201);
    let reply = reseal(&s, 10, None).await;
    assert_eq!(reply.body["resealed"], 2);
    assert_eq!(reply.body["remaining"], 1);
    assert_eq!(reply.body["next"], Value::Null);
    let failed = &reply.body["failed"];
    assert_eq!(
        (failed[0]["account"].as_str(), &failed[0]["field"], &failed[0]["key_id"]),
        (Some(b.as_str()), &json!(facebook::TOKEN), &json!(1))
    );
    assert!(failed[0]["error"].as_str().unwrap().contains("cannot be opened"), "{}", reply.text);
    assert!(!reply.text.contains("value-a"));
    let refused = s.call(Method::DELETE, &format!("{KEYS}/1"), None).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body["detail"].as_str().unwrap().contains("key 1 still seals 1 values"), "{}", refused.text);
    s.stop().await;
}

backend_test! {
    #[tokio::test]
    async fn start_refuses_a_ring_without_a_key_the_database_still_uses(db) {
        let s = TestServer::start(&db).await;
        assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await.status, 201);
        created(&s, &accounts("acme"), facebook("FB", "page-token")).await;
        let kept = tempfile::tempdir().unwrap();
        let before = keep_ring(&s, kept.path(), "before.key");
        assert_eq!(s.call(Method::POST, &format!("{KEYS}/rotate"), None).await.status, 201);
        let rotated = keep_ring(&s, kept.path(), "rotated.key");
        s.stop().await;

        let old = start_with_ring(&db, &before, &kept.path().join("old")).await.err().expect("the old ring is refused");
        let old = format!("{old:#}");
        assert!(old.contains("lacks key 2"), "{old}");
        let mut without_old = KeyRing::load(&rotated).unwrap();
        without_old.remove_key(1).unwrap();
        let trimmed = kept.path().join("trimmed.key");
        without_old.save(&trimmed).unwrap();
        let early = start_with_ring(&db, &trimmed, &kept.path().join("trimmed")).await.err().expect("refused");
        let early = format!("{early:#}");
        assert!(early.contains("lacks key 1, which seals 1 secret values"), "{early}");
        assert!(early.contains("master.key"), "the message names the file: {early}");

        let again = start_with_ring(&db, &rotated, &kept.path().join("data")).await.expect("the rotated ring opens");
        assert_eq!(again.state.keys.lease().await.active_key_id(), 2);
    }
}

/// The new key is known to every request before any value is sealed with it, and no request
/// seals with the old key once rotation returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_waits_for_requests_that_hold_the_old_ring() {
    let db = TestDatabase::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let started = patchbay_server::start(&patchbay_server::Settings {
        database_url: Some(db.url.clone()),
        ..patchbay_server::Settings::new(dir.path().join("data"))
    })
    .await
    .unwrap();
    let keys = started.state.keys.clone();
    let in_flight = keys.lease().await;
    let rotation = {
        let keys = keys.clone();
        tokio::spawn(async move { keys.rotate().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!rotation.is_finished(), "a request still holds the old ring");
    assert_eq!(in_flight.key_ids(), [1], "a lease never changes");
    let during = keys.lease().await;
    assert_eq!((during.key_ids(), during.active_key_id()), (vec![1, 2], 1), "the new key is known, not used");
    drop(in_flight);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!rotation.is_finished(), "a request may still seal with the old key");
    drop(during);
    assert_eq!(rotation.await.unwrap(), 2);
    assert_eq!(keys.lease().await.active_key_id(), 2);
}

backend_test! {
    /// An account write after rotation seals the values it keeps with the new key, without
    /// calling them changed: no version bump for a write that changes nothing, no audit noise.
    #[tokio::test]
    async fn writes_after_rotation_seal_kept_values_with_the_new_key(db) {
        let s = TestServer::start(&db).await;
        assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await.status, 201);
        let id = created(&s, &accounts("acme"), facebook("FB", "page-token")).await;
        let path = format!("{}/{id}", accounts("acme"));
        assert_eq!(s.call(Method::POST, &format!("{KEYS}/rotate"), None).await.status, 201);

        let same = s.call(Method::PUT, &path, Some(facebook("FB", "page-token"))).await;
        assert_eq!(same.body["version"], 1, "re-sending the stored value is no change");
        assert_eq!(values_by_key(&s).await, [(1, 1), (2, 0)]);

        let renamed = s.call(Method::PUT, &path, Some(json!({"name": "FB renamed"}))).await;
        assert_eq!(renamed.body["version"], 2, "{}", renamed.text);
        assert_eq!(values_by_key(&s).await, [(1, 0), (2, 1)], "the kept token moved to the new key");
        let audit = s.call(Method::GET, &format!("{path}/audit"), None).await;
        assert_eq!(audit.body["items"][0]["changes"], json!({"name": {"from": "FB", "to": "FB renamed"}}));
        s.stop().await;
    }
}

#[tokio::test]
async fn only_a_service_provider_admin_manages_keys() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    let admin = s.tenant_with_token("acme", "tenant_admin").await;
    let viewer = s.token("tenant_viewer", Some("acme")).await;
    for token in [&admin, &viewer] {
        for (method, path) in [
            (Method::GET, KEYS.to_owned()),
            (Method::POST, format!("{KEYS}/rotate")),
            (Method::POST, format!("{KEYS}/reseal")),
            (Method::DELETE, format!("{KEYS}/1")),
        ] {
            let reply = s.call_as(token, method.clone(), &path, None).await;
            assert_eq!(reply.status, 403, "{method} {path}: {}", reply.text);
        }
    }
    let anonymous = s.request(Method::POST, &format!("{KEYS}/rotate"), None).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(values_by_key(&s).await, [(1, 0)], "nothing rotated");
    s.stop().await;
}
