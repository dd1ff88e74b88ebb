//! The Zapier integration in `zapier/` against the real `patchbay serve` binary: tenant
//! `acme` gets a Zapier account, a Zendesk account (a stand-in of Zendesk's API over HTTPS
//! on loopback) and at least two items for each trigger (Telegram deliveries to a messenger
//! account's inbound webhook, recordings, export runs, connection tests), then the app's own
//! tests (`npm test` in `zapier/`, zapier-platform-core's app tester) run against it while
//! new customers keep writing, so that the REST hooks the tests subscribe get deliveries.

mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patchbay_catalog::keys::{aws, messenger, nlu, zapier, zendesk};
use patchbay_testkit::tls::TestCa;
use patchbay_testkit::vendors::business::crm;
use patchbay_testkit::vendors::inbound::{self, Messenger};
use process::ServerProcess;
use serde_json::{json, Value};

const TENANT: &str = "acme";
const ZAPIER_USER: &str = "zapier-acme";
const ZAPIER_PASSWORD: &str = "zap-pw-Sentinel-5c1e";
const TELEGRAM_TOKEN: &str = "123456:AAH-zapier-telegram-token";
/// How long the app's tests may take.
const NPM_TEST_WITHIN: Duration = Duration::from_secs(300);
/// How often a new customer writes while the app's tests run.
const NEW_CUSTOMER_EVERY: Duration = Duration::from_millis(300);
/// The lines of patchbay's log a failure shows.
const LOG_LINES: usize = 40;

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zapier")
}

/// The admin API of the started server.
struct Admin<'a> {
    server: &'a ServerProcess,
    http: reqwest::Client,
}

impl Admin<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.server.base));
        request = request.bearer_auth(&self.server.admin_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the admin API answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// POSTs `body` and expects `want`; returns the answer.
    async fn post(&self, path: &str, body: Value, want: u16) -> Value {
        let (status, answer) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, want, "POST {path}: {answer}\n{}", self.server.log());
        answer
    }

    async fn account(&self, body: Value) -> String {
        let created = self.post(&format!("/api/v1/tenants/{TENANT}/integration-accounts"), body, 201).await;
        created["id"].as_str().expect("an account id").to_owned()
    }

    /// Polls `path` (bounded) until `done` holds for its answer.
    async fn until(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        // An export run against a closed port ends after the upload's retries, slower on a busy machine.
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let (status, answer) = self.call(reqwest::Method::GET, path, None).await;
            if status == 200 && done(&answer) {
                return answer;
            }
            assert!(Instant::now() < deadline, "{what} within 180 s: {status} {answer}\n{}", self.server.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A Telegram account's inbound webhook, written to as Telegram does.
#[derive(Clone)]
struct Telegram {
    hook: String,
    messenger: Messenger,
    http: reqwest::Client,
}

impl Telegram {
    async fn create(admin: &Admin<'_>) -> Telegram {
        let account: Value = admin
            .post(
                &format!("/api/v1/tenants/{TENANT}/integration-accounts"),
                json!({"type": "messenger", "provider": "telegram", "name": "Telegram",
                    "properties": {messenger::telegram::BOT_USERNAME: "acme_support_bot",
                                   messenger::telegram::TOKEN: TELEGRAM_TOKEN}}),
                201,
            )
            .await;
        let hook = format!("{}{}", admin.server.base, account["inbound_webhook_url"].as_str().expect("a webhook URL"));
        let secret = patchbay_connectors::telegram_webhook_secret(account["id"].as_str().unwrap(), TELEGRAM_TOKEN);
        Telegram { hook, messenger: Messenger::Telegram { secret_token: secret }, http: admin.http.clone() }
    }

    /// Delivers a customer's message; whether patchbay kept it (its 200).
    async fn write(&self, update: i64, chat: i64, name: &str, text: &str) -> bool {
        let body = serde_json::to_vec(&inbound::telegram_message(update, chat, name, text)).unwrap();
        let status =
            inbound::send_raw(&self.http, &self.hook, self.messenger.sign(&body), &body, Duration::from_secs(5)).await;
        status == Some(200)
    }
}

/// Two customers write: three messages in two conversations.
async fn seed_conversations(admin: &Admin<'_>, telegram: &Telegram) {
    for (update, chat, name, text) in [
        (1001, 7001, "Jane", "Hello, is my order on its way?"),
        (1002, 7002, "Omar", "I need to change my address"),
        (1003, 7001, "Jane", "It is order 4711"),
    ] {
        assert!(telegram.write(update, chat, name, text).await, "Telegram's delivery {update} is kept");
    }
    let path = format!("/api/v1/tenants/{TENANT}/conversations/events?after=0&limit=100");
    admin
        .until(&path, "the deliveries read into events", |page| {
            page["events"]
                .as_array()
                .is_some_and(|events| events.iter().filter(|e| e["type"] == "message_in").count() == 3)
        })
        .await;
}

/// While the app's tests run, a new customer writes every [`NEW_CUSTOMER_EVERY`], so that
/// the REST hooks they subscribe get deliveries (`message_in` and `conversation_started`).
fn customers_keep_writing(telegram: Telegram) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for n in 0.. {
            tokio::time::sleep(NEW_CUSTOMER_EVERY).await;
            telegram.write(2000 + n, 8000 + n, "Walk-in", &format!("Hello, I am customer {n}")).await;
        }
    })
}

/// Two recordings' metadata, as the platform sends it.
async fn seed_recordings(admin: &Admin<'_>) {
    for (id, agent) in [("call-0001", "jsmith"), ("call-0002", "akhan")] {
        let meta = json!({"global_interaction_id": format!("gi-{id}"), "call_started_at": "2024-05-01T09:30:15Z",
            "agent_login": agent, "agent_first_name": "Jo", "agent_last_name": "Smith",
            "customer_phone": "+1 555 0100", "direction": "inbound", "service": "Sales", "disposition": "sale"});
        let path = format!("/api/v1/tenants/{TENANT}/recordings/{id}");
        let (status, answer) = admin.call(reqwest::Method::PUT, &path, Some(meta)).await;
        assert_eq!(status, 201, "PUT {path}: {answer}");
    }
}

/// Two runs of an export job to an S3 endpoint nobody listens on: both end, failed.
async fn seed_export_runs(admin: &Admin<'_>) {
    let closed = patchbay_testkit::peers::closed_port();
    let account = admin
        .account(json!({"type": "aws", "name": "Recordings", "properties": {
            aws::USE_PRIVATE_S3_STORAGE: true, aws::URL: format!("http://{closed}"),
            aws::ACCESS_KEY_ID: "AKIAZAPIERTEST", aws::SECRET_KEY: "aws-secret-Sentinel-77b2", aws::S3_BUCKET: "calls"}}))
        .await;
    let jobs = format!("/api/v1/tenants/{TENANT}/recording-export-jobs");
    let job =
        admin.post(&jobs, json!({"name": "Sales to S3", "account_id": account, "services": ["Sales"]}), 201).await;
    let job = format!("{jobs}/{}", job["id"].as_str().expect("a job id"));
    for _ in 0..2 {
        let run = admin.post(&format!("{job}/run"), json!({}), 202).await;
        let path = format!("{job}/runs/{}", run["id"].as_str().expect("a run id"));
        admin.until(&path, "the export run to end", |run| run["state"] != "running").await;
    }
}

/// Saved connection tests: the Zendesk account's passes, an NLU account's (nobody listens at
/// its URL) fails; each is its account's first, so each is a health change.
async fn seed_health_changes(admin: &Admin<'_>, zendesk_account: &str) {
    let closed = patchbay_testkit::peers::closed_port();
    let nlu_account = admin
        .account(json!({"type": "nlu", "name": "Sentiment", "properties": {
            nlu::URL: format!("https://{closed}/natural-language-understanding/api/v1/analyze?version=2017-02-27"),
            nlu::USERNAME: "apikey", nlu::PASSWORD: "nlu-pw-Sentinel-2a90"}}))
        .await;
    let accounts = format!("/api/v1/tenants/{TENANT}/integration-accounts");
    for (id, want) in [(zendesk_account, "ok"), (nlu_account.as_str(), "failed")] {
        let report = admin.post(&format!("{accounts}/{id}/test"), json!({}), 200).await;
        assert_eq!(report["status"], want, "{report}");
    }
}

/// Runs `npm test` in `zapier/` with `env` (bounded): its exit status and output.
fn npm_test(env: &[(&str, String)]) -> (Option<i32>, String) {
    let dir = app_dir();
    let output = tempfile::NamedTempFile::new().expect("a file for npm's output");
    let mut command = Command::new("npm");
    command
        .args(["test", "--silent", "--", "--verbose"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(output.reopen().expect("npm's stdout"))
        .stderr(output.reopen().expect("npm's stderr"));
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("npm runs (Node.js and npm are installed)");
    let deadline = Instant::now() + NPM_TEST_WITHIN;
    let status = loop {
        if let Some(status) = child.try_wait().expect("npm's status") {
            break status.code();
        }
        if Instant::now() > deadline {
            child.kill().expect("stop npm");
            child.wait().expect("reap npm");
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (status, std::fs::read_to_string(output.path()).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zapier_app_passes_its_tests_against_a_seeded_patchbay() {
    assert!(
        app_dir().join("node_modules").is_dir(),
        "zapier/node_modules is missing: run `npm ci --prefix zapier` (scripts/test runs it)"
    );
    let ca = TestCa::new();
    let zendesk_addr = patchbay_testkit::tls::https(crm::zendesk(), &ca).await;
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let server = ServerProcess::start(&["--egress-allow", "loopback", "--egress-ca-file", ca_file.to_str().unwrap()]);
    let admin = Admin { server: &server, http: reqwest::Client::new() };

    admin.post("/api/v1/tenants", json!({"id": TENANT, "name": "Acme Support", "enabled_types": ["aws"]}), 201).await;
    admin
        .account(json!({"type": "zapier", "provider": "default", "name": "Zapier",
            "properties": {zapier::USERNAME: ZAPIER_USER, zapier::PASSWORD: ZAPIER_PASSWORD}}))
        .await;
    let zendesk_account = admin
        .account(json!({"type": "zendesk", "name": "Zendesk", "properties": {
            zendesk::SUBDOMAIN_URL: format!("https://{zendesk_addr}"), zendesk::EMAIL: crm::ZD_EMAIL,
            zendesk::API_TOKEN: crm::ZD_API_TOKEN}}))
        .await;
    let telegram = Telegram::create(&admin).await;
    seed_conversations(&admin, &telegram).await;
    seed_recordings(&admin).await;
    seed_export_runs(&admin).await;
    seed_health_changes(&admin, &zendesk_account).await;

    let env = [
        ("PATCHBAY_BASE_URL", server.base.clone()),
        ("PATCHBAY_TENANT", TENANT.to_owned()),
        ("PATCHBAY_ZAPIER_USERNAME", ZAPIER_USER.to_owned()),
        ("PATCHBAY_ZAPIER_PASSWORD", ZAPIER_PASSWORD.to_owned()),
        ("PATCHBAY_CONTACT_EMAIL", crm::CONTACT_EMAIL.to_owned()),
        ("PATCHBAY_CONTACT_PHONE", crm::CONTACT_PHONE.to_owned()),
    ];
    let customers = customers_keep_writing(telegram);
    let (status, output) = tokio::task::spawn_blocking(move || npm_test(&env)).await.unwrap();
    customers.abort();
    println!("{output}");
    let log = server.log();
    let log_tail: Vec<&str> = log.lines().rev().take(LOG_LINES).collect();
    assert_eq!(
        status,
        Some(0),
        "npm test in zapier/ failed (None: it ran longer than {NPM_TEST_WITHIN:?}); its output is above; \
         the end of patchbay's log:\n{}",
        log_tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(!log.contains(ZAPIER_PASSWORD), "the Zapier account's password reached the log");
}
