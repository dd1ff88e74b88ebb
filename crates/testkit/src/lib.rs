//! Shared test helpers: fresh databases on every backend under test (SQLite always,
//! PostgreSQL when `PATCHBAY_TEST_DATABASE_URL` names a server) and an in-process patchbay
//! server on a loopback port, and moto's S3 server for S3 tests; with `fuzz`, the fuzz targets' configuration and
//! mutators; with `idp`, SimpleSAMLphp as a SAML 2.0 identity provider; with `saml`, a SAML
//! IdP forger and attack corpus; checks on a crate's own sources (import circles). Used only
//! by tests.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Once;

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

impl TestDatabase {
    /// Takes a write lock on `table` from a connection of its own and holds it for `held`
    /// (SQLite: the database's one write lock; PostgreSQL: an exclusive lock on the table),
    /// so the server's writes to it wait meanwhile. Returns once the lock is taken; the
    /// handle ends when it is released.
    pub async fn hold_write_lock(&self, table: &str, held: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let (taken, lock_taken) = tokio::sync::oneshot::channel();
        let url = self.url.clone();
        let statement = format!("LOCK TABLE {table} IN EXCLUSIVE MODE");
        let sqlite = self.backend == "sqlite";
        let holder = tokio::spawn(async move {
            if sqlite {
                let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("connect to the test database");
                conn.execute("BEGIN IMMEDIATE").await.expect("take the write lock");
                let _ = taken.send(());
                tokio::time::sleep(held).await;
                conn.execute("COMMIT").await.expect("release the write lock");
            } else {
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect to the test database");
                conn.execute("BEGIN").await.expect("begin");
                conn.execute(statement.as_str()).await.expect("lock the table");
                let _ = taken.send(());
                tokio::time::sleep(held).await;
                conn.execute("COMMIT").await.expect("release the lock");
            }
        });
        lock_taken.await.expect("the lock is taken");
        holder
    }

    /// A PostgreSQL database when `PATCHBAY_TEST_DATABASE_URL` names a server; else `None`,
    /// said once per test binary so a green run without PostgreSQL is visible as such.
    pub async fn postgres_if_configured() -> Option<TestDatabase> {
        match std::env::var(DATABASE_URL_VAR) {
            Ok(url) if !url.is_empty() => Some(TestDatabase::postgres(&url).await),
            _ => {
                static SKIP: Once = Once::new();
                SKIP.call_once(|| {
                    let _ = writeln!(std::io::stderr(), "skipping postgres: {DATABASE_URL_VAR} not set");
                });
                None
            }
        }
    }
}

/// One test per backend, named after it: `backend_test! { #[tokio::test] async fn name(db) { … } }`
/// becomes `name::sqlite` and `name::postgres`, each running the body with a fresh
/// database of that backend, so a failure says which backend failed. The attributes given
/// (the test runner's, e.g. `#[tokio::test(flavor = "multi_thread")]`) go on both. The
/// body's function is named so as not to shadow the test file's own helpers (a `run`, say).
#[macro_export]
macro_rules! backend_test {
    ($(#[$attr:meta])* async fn $name:ident($db:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn __backend_test_body($db: $crate::TestDatabase) $body

            $(#[$attr])*
            async fn sqlite() {
                __backend_test_body($crate::TestDatabase::sqlite().await).await
            }

            $(#[$attr])*
            async fn postgres() {
                if let Some(db) = $crate::TestDatabase::postgres_if_configured().await {
                    __backend_test_body(db).await
                }
            }
        }
    };
}

#[cfg(feature = "fuzz")]
pub mod fuzz;
#[cfg(feature = "idp")]
pub mod idp;
pub mod moto;
pub mod peers;
#[cfg(feature = "saml")]
pub mod saml;
pub mod sources;

/// `len` pseudo-random bytes (xorshift from `seed`): audio stand-ins that do not compress.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "vendors")]
pub mod vendors;
#[cfg(feature = "server")]
pub use server::{EventStream, Reply, SseEvent, TestServer, WebSocket};
