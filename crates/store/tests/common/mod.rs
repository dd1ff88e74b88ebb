//! The backends every story test runs against: SQLite in a temporary directory always, and
//! PostgreSQL when `PATCHBAY_TEST_DATABASE_URL` names a server. Each PostgreSQL backend
//! gets a fresh database, so tests run in parallel without seeing each other's rows.

use std::io::Write;
use std::sync::Once;

use patchbay_store::SqlStore;
use sqlx::{Connection, Executor};

const DATABASE_URL_VAR: &str = "PATCHBAY_TEST_DATABASE_URL";

pub struct Backend {
    pub store: SqlStore,
    /// What `SqlStore::connect` was given, to reopen the same database.
    pub url: String,
    _cleanup: Cleanup,
}

enum Cleanup {
    /// The database file goes with the directory when dropped.
    Sqlite { _dir: tempfile::TempDir },
    /// Dropped through the server URL when the test ends, even when it panicked.
    Postgres { server_url: String, database: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Cleanup::Postgres { server_url, database } = self else {
            return;
        };
        let statement = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        let server_url = server_url.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with a
        // runtime of its own can.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(async {
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

impl Backend {
    pub fn name(&self) -> &'static str {
        self.store.backend_name()
    }

    /// Runs a `SELECT COUNT(*) ...` behind the store's back, to see rows the `Store` API
    /// does not show (orphaned secrets, say).
    pub async fn count(&self, sql: &str) -> i64 {
        match self.store.backend_name() {
            "sqlite" => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
            _ => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
        }
    }
}

/// SQLite, then PostgreSQL if configured. Prints (once per test binary, past the output
/// capture) when PostgreSQL is skipped.
pub async fn backends() -> Vec<Backend> {
    let mut backends = vec![sqlite().await];
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => backends.push(postgres(&url).await),
        _ => {
            static SKIP: Once = Once::new();
            SKIP.call_once(|| {
                let _ = writeln!(std::io::stderr(), "skipping postgres: {DATABASE_URL_VAR} not set");
            });
        }
    }
    backends
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("patchbay.db").display());
    Backend { store: SqlStore::connect(&url).await.expect("open sqlite"), url, _cleanup: Cleanup::Sqlite { _dir: dir } }
}

async fn postgres(server_url: &str) -> Backend {
    let database = format!("pb_{}", uuid::Uuid::new_v4().simple());
    let mut conn =
        sqlx::PgConnection::connect(server_url).await.unwrap_or_else(|e| panic!("connect to {DATABASE_URL_VAR}: {e}"));
    conn.execute(format!("CREATE DATABASE \"{database}\"").as_str()).await.expect("create test database");
    conn.close().await.expect("close");
    let mut url = url::Url::parse(server_url).expect("database url");
    url.set_path(&database);
    let url = url.to_string();
    let cleanup = Cleanup::Postgres { server_url: server_url.to_owned(), database };
    Backend { store: SqlStore::connect(&url).await.expect("open postgres"), url, _cleanup: cleanup }
}
