//! Shared test helpers: fresh databases on every backend under test (SQLite always,
//! PostgreSQL when `PATCHBAY_TEST_DATABASE_URL` names a server) and an in-process patchbay
//! server on a loopback port. Used only by tests.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Once;

use serde_json::Value;
use sqlx::{Connection, Executor};

pub const DATABASE_URL_VAR: &str = "PATCHBAY_TEST_DATABASE_URL";

/// A database that exists for one test and is removed when dropped.
pub struct TestDatabase {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    pub backend: &'static str,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The database file goes with the directory.
    Sqlite { dir: tempfile::TempDir },
    /// Dropped through the server URL when the test ends, even when it panicked.
    Postgres { server_url: String, database: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { server_url, database } = &self.cleanup else { return };
        let statement = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        let server_url = server_url.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with a
        // runtime of its own can.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(sqlx::Error::Io)?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&server_url).await?;
                conn.execute(statement.as_str()).await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(std::io::stderr(), "could not drop test database {database}");
        }
    }
}

impl TestDatabase {
    pub async fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("patchbay.db").display());
        TestDatabase { url, backend: "sqlite", cleanup: Cleanup::Sqlite { dir } }
    }

    pub async fn postgres(server_url: &str) -> TestDatabase {
        let database = format!("pb_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(server_url)
            .await
            .unwrap_or_else(|e| panic!("connect to {DATABASE_URL_VAR}: {e}"));
        conn.execute(format!("CREATE DATABASE \"{database}\"").as_str()).await.expect("create test database");
        conn.close().await.expect("close");
        let mut url = url::Url::parse(server_url).expect("database url");
        url.set_path(&database);
        TestDatabase {
            url: url.to_string(),
            backend: "postgres",
            cleanup: Cleanup::Postgres { server_url: server_url.to_owned(), database },
        }
    }

    /// The SQLite database files (main file, WAL), to search their bytes.
    pub fn sqlite_files(&self) -> Vec<PathBuf> {
        match &self.cleanup {
            Cleanup::Sqlite { dir } => std::fs::read_dir(dir.path())
                .map(|entries| entries.flatten().map(|e| e.path()).collect())
                .unwrap_or_default(),
            Cleanup::Postgres { .. } => Vec::new(),
        }
    }
}

/// SQLite, then PostgreSQL if configured. Says once per test binary when PostgreSQL is
/// skipped, so a green run without it is visible as such.
pub async fn databases() -> Vec<TestDatabase> {
    let mut dbs = vec![TestDatabase::sqlite().await];
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => dbs.push(TestDatabase::postgres(&url).await),
        _ => {
            static SKIP: Once = Once::new();
            SKIP.call_once(|| {
                let _ = writeln!(std::io::stderr(), "skipping postgres: {DATABASE_URL_VAR} not set");
            });
        }
    }
    dbs
}

/// A patchbay server running in this process on a loopback port.
pub struct TestServer {
    pub base: String,
    pub admin_token: String,
    pub data_dir: tempfile::TempDir,
    pub backend: &'static str,
    http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(db: &TestDatabase) -> TestServer {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let settings = patchbay_server::Settings {
            data_dir: data_dir.path().join("data"),
            database_url: Some(db.url.clone()),
            admin_token: None,
        };
        let started = patchbay_server::start(&settings).await.expect("server starts");
        let admin_token = started.new_admin_token.expect("first start generates the admin token");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = patchbay_server::serve(listener, started.state, async {
                let _ = rx.await;
            })
            .await;
        });
        TestServer {
            base,
            admin_token,
            data_dir,
            backend: db.backend,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// A request with a token (or none).
    pub fn request(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Sends a JSON request as the admin and returns status, headers and body.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.admin_token.clone(), method, path, body).await
    }

    pub async fn call_as(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.request(method, path, Some(token));
        if let Some(body) = body {
            req = req.json(&body);
        }
        Reply::read(req.send().await.expect("request reaches the server")).await
    }

    /// Creates a tenant (as the admin) and returns a token of `role` for it.
    pub async fn tenant_with_token(&self, tenant: &str, role: &str) -> String {
        let created =
            self.call(reqwest::Method::POST, "/api/v1/tenants", Some(serde_json::json!({"id": tenant}))).await;
        assert!(created.status == 201 || created.status == 409, "tenant create: {created:?}");
        self.token(role, Some(tenant)).await
    }

    pub async fn token(&self, role: &str, tenant: Option<&str>) -> String {
        let reply = self
            .call(
                reqwest::Method::POST,
                "/api/v1/tokens",
                Some(serde_json::json!({"name": format!("{role} test"), "role": role, "tenant": tenant})),
            )
            .await;
        assert_eq!(reply.status, 201, "token create: {reply:?}");
        reply.body["token"].as_str().expect("token in reply").to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, body }
    }

    pub fn etag(&self) -> String {
        self.headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    /// The `(field, rule)` pairs of a problem's `errors`.
    pub fn field_errors(&self) -> Vec<(String, String)> {
        self.body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["rule"].as_str().unwrap_or("").to_owned()))
            .collect()
    }
}
