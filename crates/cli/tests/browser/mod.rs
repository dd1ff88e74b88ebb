//! A real `patchbay serve` and a real headless Chromium (through chromedriver) for
//! end-to-end tests, with bounded waits. Everything started here is stopped when the
//! harness is dropped, also when the test fails. Shared by the browser test binaries, each
//! of which uses a part of it.
#![allow(dead_code)]

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{json, Value};

use patchbay_testkit::TestDatabase;

use crate::vendor::VendorPeer;

/// How long any one wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);
const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str = "install them with `apt-get install chromium chromium-driver`";
/// axe-core, installed by `scripts/test` (`npm ci` in crates/server/assets).
const AXE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/assets/node_modules/axe-core/axe.min.js");

pub fn shots_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/ui-shots"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join(name)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
}

/// Polls `check` every 100 ms until it yields a value; panics after `WAIT`.
async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {WAIT:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server, chromedriver and a browser session.
pub struct Harness {
    pub base: String,
    pub admin_token: String,
    pub http: reqwest::Client,
    browser: Browser,
    server: Child,
    driver: Child,
    dir: tempfile::TempDir,
    _vendor: VendorPeer,
}

impl Harness {
    /// Starts everything, runs `story`, then closes the browser session and stops the
    /// processes whatever happened; a failure in `story` fails the test after cleaning up.
    pub async fn run<F, Fut>(story: F)
    where
        F: FnOnce(Arc<Harness>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Harness::run_serving(&[], story).await;
    }

    /// As [`Harness::run`], with more arguments for `patchbay serve`.
    pub async fn run_serving<F, Fut>(serve_args: &[&str], story: F)
    where
        F: FnOnce(Arc<Harness>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Harness::run_with(None, serve_args, story).await;
    }

    /// As [`Harness::run_serving`], on the test database `db` (SQLite or PostgreSQL); a
    /// failure names the backend.
    pub async fn run_on<F, Fut>(db: &TestDatabase, serve_args: &[&str], story: F)
    where
        F: FnOnce(Arc<Harness>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        eprintln!("browser story on {}", db.backend);
        Harness::run_with(Some(db), serve_args, story).await;
    }

    async fn run_with<F, Fut>(db: Option<&TestDatabase>, serve_args: &[&str], story: F)
    where
        F: FnOnce(Arc<Harness>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let backend = db.map_or("the data dir's SQLite", |db| db.backend);
        let mut args: Vec<&str> = serve_args.to_vec();
        if let Some(db) = db {
            args.extend(["--database-url", db.url.as_str()]);
        }
        let harness = Arc::new(Harness::start(&args).await);
        let client = harness.browser.client().clone();
        let outcome = tokio::spawn(story(harness.clone())).await;
        if outcome.is_err() {
            eprintln!("the browser story failed on {backend}");
            harness.browser.save_failure_shot().await;
            let log = harness.server_log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("last server log lines:");
            for line in tail.iter().rev() {
                eprintln!("  {line}");
            }
        }
        let closed = client.close().await;
        drop(harness);
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
        closed.expect("the browser session closes");
    }

    async fn start(serve_args: &[&str]) -> Harness {
        let chromedriver =
            on_path("chromedriver").unwrap_or_else(|| panic!("chromedriver is not installed (not on PATH): {INSTALL}"));
        assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: {INSTALL}");
        let dir = tempfile::tempdir().expect("tempdir");
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");

        let vendor = VendorPeer::start().await;
        let port = free_port();
        let data_dir = dir.path().join("data");
        let server = Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .args(["serve", "--data-dir"])
            .arg(&data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            // Connection tests and actions reach the test's own peers on loopback.
            .args(["--egress-allow", "loopback"])
            .args(["--vendor-url", &format!("google_tts={}", vendor.base)])
            .args(["--vendor-url", &format!("viber={}", vendor.base)])
            .args(serve_args)
            .env_remove("PATCHBAY_ADMIN_TOKEN")
            .env_remove("PATCHBAY_DATABASE_URL")
            .env_remove("PATCHBAY_LISTEN")
            .env_remove("PATCHBAY_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(log("server.log"))
            .stderr(log("server.log"))
            .spawn()
            .expect("start patchbay serve");
        let driver_port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log("chromedriver.log"))
            .stderr(log("chromedriver.log"))
            // Its own process group, so the browsers it starts can be stopped with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL}", chromedriver.display()));
        // From here on, dropping the half-built harness stops what is running.
        let mut harness = Harness {
            base: format!("http://127.0.0.1:{port}"),
            admin_token: String::new(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client"),
            browser: Browser { c: None, base: String::new() },
            server,
            driver,
            dir,
            _vendor: vendor,
        };
        let health = format!("{}/healthz", harness.base);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = harness.server.try_wait() {
                panic!("patchbay serve exited with {status}: {}", harness.server_log());
            }
            if harness.http.get(&health).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "patchbay serve did not answer /healthz within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        harness.admin_token =
            std::fs::read_to_string(data_dir.join("admin-token")).expect("admin token").trim().to_owned();
        let status = format!("http://127.0.0.1:{driver_port}/status");
        poll("chromedriver to be ready", || async {
            let reply = harness.http.get(&status).send().await.ok()?;
            let body: Value = reply.json().await.ok()?;
            body["value"]["ready"].as_bool().filter(|ready| *ready)
        })
        .await;

        let profile = harness.dir.path().join("chromium-profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .unwrap_or_else(|e| {
                panic!("no browser session: {e}; chromedriver log: {}", harness.read_log("chromedriver.log"))
            });
        harness.browser = Browser { c: Some(client), base: harness.base.clone() };
        harness
    }

    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    fn read_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    pub fn server_log(&self) -> String {
        self.read_log("server.log")
    }

    /// Stops the server as an operator's SIGTERM does (its streams end, then its port
    /// closes), leaving the browser on its page: what a page sees when the server goes away.
    pub fn stop_server(&self) {
        let status = Command::new("kill").args(["-TERM", &self.server.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM the server");
    }

    /// An API call with the service provider's admin token: the status and the JSON answer.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.admin_token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Sends a recording's metadata and, when given, its audio (a WAV file) as the platform
    /// would, with the admin token; each must be taken (201).
    pub async fn put_recording(&self, tenant: &str, id: &str, meta: Value, audio: Option<Vec<u8>>) {
        let path = format!("/api/v1/tenants/{tenant}/recordings/{id}");
        let (status, answer) = self.api(Method::PUT, &path, Some(meta)).await;
        assert_eq!(status, 201, "{path}: {answer}");
        if let Some(audio) = audio {
            let sent = self
                .http
                .put(format!("{}{path}/audio", self.base))
                .bearer_auth(&self.admin_token)
                .header("content-type", "audio/wav")
                .body(audio)
                .send()
                .await
                .expect("the server answers");
            assert_eq!(sent.status().as_u16(), 201, "{path}/audio");
        }
    }

    /// A new token of `role` for the tenant `tenant`, named `name`.
    pub async fn token(&self, name: &str, role: &str, tenant: &str) -> String {
        let body = serde_json::json!({"name": name, "role": role, "tenant": tenant});
        let (status, created) = self.api(Method::POST, "/api/v1/tokens", Some(body)).await;
        assert_eq!(status, 201, "{created:?}");
        created["token"].as_str().expect("the token").to_owned()
    }

    /// As [`Harness::api`], at the resource's `version` (`If-Match`).
    pub async fn api_if_match(&self, method: Method, path: &str, version: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .header("if-match", format!("\"{version}\""))
            .json(&body)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// The title the API document (`GET /api/v1/openapi.json`) gives `value` of the enumeration
/// `schema`, as the admin screen shows it.
pub fn enum_title(doc: &Value, schema: &str, value: &str) -> String {
    let values = doc["components"]["schemas"][schema]["oneOf"].as_array().expect("an enumeration");
    let found = values.iter().find(|v| v["const"] == value).unwrap_or_else(|| panic!("{schema} has no {value}"));
    found["title"].as_str().expect("a title").to_owned()
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        // chromedriver leads its own process group: stop it and any browser left behind.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.wait();
    }
}

/// The browser session, with waits that give up after `WAIT`.
pub struct Browser {
    c: Option<Client>,
    base: String,
}

impl Browser {
    fn client(&self) -> &Client {
        self.c.as_ref().expect("a browser session")
    }

    /// Navigates to `#/...` (a same-page route) or to the start page.
    pub async fn open(&self, hash: &str) {
        self.client().goto(&format!("{}/{hash}", self.base)).await.expect("navigate");
    }

    /// Reloads the page, as the browser's reload button does.
    pub async fn reload(&self) {
        self.client().refresh().await.expect("reload");
    }

    /// Deletes the cookies of the page's host: every port of it, since cookies do not
    /// tell ports apart.
    pub async fn delete_cookies(&self) {
        self.client().delete_all_cookies().await.expect("delete cookies");
    }

    /// The id (or, without one, the classes) of the focused element.
    pub async fn focused(&self) -> String {
        self.js_string("const e = document.activeElement; return e ? (e.id || e.className) : ''").await
    }

    pub async fn url(&self) -> String {
        self.client().current_url().await.expect("current url").to_string()
    }

    /// Waits until the URL contains `needle`; returns the URL.
    pub async fn wait_url(&self, needle: &str) -> String {
        poll(&format!("the URL to contain “{needle}”"), || async {
            let url = self.client().current_url().await.ok()?.to_string();
            url.contains(needle).then_some(url)
        })
        .await
    }

    /// Waits until the URL's fragment is exactly `hash` (`#/t/acme`, say): after a redirect
    /// to a page whose address a longer one starts with.
    pub async fn wait_hash(&self, hash: &str) {
        poll(&format!("the page to be at {hash}"), || async {
            let url = self.client().current_url().await.ok()?;
            (url.fragment().map(|f| format!("#{f}")).as_deref() == Some(hash)).then_some(())
        })
        .await
    }

    /// Waits until an element matching `css` is displayed, and returns it.
    pub async fn wait(&self, css: &str) -> fantoccini::elements::Element {
        poll(&format!("`{css}` to be displayed"), || async {
            for el in self.client().find_all(Locator::Css(css)).await.ok()? {
                if el.is_displayed().await.unwrap_or(false) {
                    return Some(el);
                }
            }
            None
        })
        .await
    }

    pub async fn wait_gone(&self, css: &str) {
        poll(&format!("`{css}` to disappear"), || async {
            self.client().find_all(Locator::Css(css)).await.ok().filter(|all| all.is_empty()).map(|_| ())
        })
        .await
    }

    /// Waits until the element's text contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        poll(&format!("`{css}` to show “{needle}”"), || async {
            let el = self.client().find(Locator::Css(css)).await.ok()?;
            let text = el.text().await.ok()?;
            text.contains(needle).then_some(text)
        })
        .await
    }

    pub async fn wait_value(&self, css: &str, expected: &str) {
        poll(&format!("`{css}` to hold “{expected}”"), || async {
            let el = self.client().find(Locator::Css(css)).await.ok()?;
            (el.prop("value").await.ok()??.as_str() == expected).then_some(())
        })
        .await
    }

    /// Scrolls the element to the middle of the window (clear of sticky bars) and clicks it.
    pub async fn click(&self, css: &str) {
        let el = poll(&format!("`{css}` to be clickable"), || async {
            let el = self.client().find(Locator::Css(css)).await.ok()?;
            (el.is_displayed().await.ok()? && el.is_enabled().await.ok()?).then_some(el)
        })
        .await;
        let handle = serde_json::to_value(&el).expect("element reference");
        self.client().execute("arguments[0].scrollIntoView({block: 'center'})", vec![handle]).await.expect("scroll");
        el.click().await.unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Replaces the input's value by typing.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.wait(css).await;
        el.clear().await.unwrap_or_else(|e| panic!("clear `{css}`: {e}"));
        el.send_keys(text).await.unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    /// Chooses the option with `value` in a <select>.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.wait(css).await;
        el.select_by_value(value).await.unwrap_or_else(|e| panic!("select {value} in `{css}`: {e}"));
    }

    pub async fn press_escape(&self) {
        self.press(Key::Escape).await;
    }

    /// Presses `key` on the focused element.
    pub async fn press(&self, key: Key) {
        let active = self.client().active_element().await.expect("focused element");
        active.send_keys(&key).await.unwrap_or_else(|e| panic!("press {key:?}: {e}"));
    }

    /// The value of the first displayed element matching `css`. Read in the same poll that
    /// finds it, so a live page that re-renders the element in between does not fail the read.
    pub async fn value(&self, css: &str) -> String {
        poll(&format!("the value of `{css}`"), || async {
            for el in self.client().find_all(Locator::Css(css)).await.ok()? {
                if el.is_displayed().await.unwrap_or(false) {
                    return Some(el.prop("value").await.ok()?.unwrap_or_default());
                }
            }
            None
        })
        .await
    }

    /// The text of the first displayed element matching `css`, read as `value` reads.
    pub async fn text(&self, css: &str) -> String {
        poll(&format!("the text of `{css}`"), || async {
            for el in self.client().find_all(Locator::Css(css)).await.ok()? {
                if el.is_displayed().await.unwrap_or(false) {
                    return el.text().await.ok();
                }
            }
            None
        })
        .await
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("`{css}`: {e}"))
            .attr(name)
            .await
            .expect("attr")
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.client().find_all(Locator::Css(css)).await.expect("find").is_empty()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client().find_all(Locator::Css(css)).await.expect("find").len()
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client().execute(script, Vec::new()).await.expect("script runs")
    }

    pub async fn js_string(&self, script: &str) -> String {
        self.js(script).await.as_str().expect("a string").to_owned()
    }

    pub async fn js_async(&self, script: &str) -> Value {
        self.client().execute_async(script, Vec::new()).await.expect("async script runs")
    }

    /// Ids (or classes) of inputs on the page that no <label for> names.
    pub async fn unlabelled_inputs(&self) -> Value {
        self.js("return [...document.querySelectorAll('input, select, textarea')]
               .filter(e => e.type !== 'hidden' && e.labels.length === 0)
               .map(e => e.id || e.className)")
            .await
    }

    /// The page source (the serialized DOM) holds none of `secrets`.
    pub async fn assert_source_free_of(&self, secrets: &[&str]) {
        let source = self.client().source().await.expect("page source");
        for (i, secret) in secrets.iter().enumerate() {
            assert!(!source.contains(secret), "secret #{i} appears in the page source at {}", self.url().await);
        }
    }

    /// Runs axe-core on the page as it is now and fails on any serious or critical
    /// violation of WCAG 2.x A/AA or of axe's best practices, naming `screen`, each rule and
    /// the elements that break it.
    pub async fn assert_accessible(&self, screen: &str) {
        let axe = std::fs::read_to_string(AXE)
            .unwrap_or_else(|e| panic!("{AXE}: {e}; install it with `npm ci` in crates/server/assets"));
        let script = format!(
            "{axe}\n;const done = arguments[arguments.length - 1];
             axe.run(document, {{runOnly: {{type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}}}})
               .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => `${{v.id}} (${{v.impact}}): ${{v.help}} at ${{v.nodes.map(n => n.target.join(' ')).join(', ')}}`)))
               .catch(e => done([`axe failed: ${{e}}`]));"
        );
        let found = self.client().execute_async(&script, Vec::new()).await.expect("axe-core runs");
        let found: Vec<String> = serde_json::from_value(found).expect("a list of violations");
        assert!(found.is_empty(), "accessibility violations on the {screen} screen:\n  {}", found.join("\n  "));
    }

    /// Sets the window's width in CSS pixels (the height stays 900).
    pub async fn set_width(&self, width: u32) {
        self.client().set_window_size(width, 900).await.expect("resize the window");
    }

    /// Whether the page scrolls sideways (content wider than the window).
    pub async fn scrolls_sideways(&self) -> bool {
        self.js("return document.documentElement.scrollWidth > document.documentElement.clientWidth")
            .await
            .as_bool()
            .expect("a boolean")
    }

    /// Saves a PNG of the window to `target/ui-shots/<name>.png` (without passing toasts, on
    /// the pages that have them).
    pub async fn shot(&self, name: &str) {
        self.js("document.getElementById('toasts')?.replaceChildren()").await;
        let png = self.client().screenshot().await.expect("screenshot");
        std::fs::create_dir_all(shots_dir()).expect("create target/ui-shots");
        std::fs::write(shots_dir().join(format!("{name}.png")), png).expect("write screenshot");
    }

    async fn save_failure_shot(&self) {
        if let Ok(png) = self.client().screenshot().await {
            if std::fs::create_dir_all(shots_dir()).is_ok() {
                let _ = std::fs::write(shots_dir().join("failure.png"), png);
            }
        }
    }
}
