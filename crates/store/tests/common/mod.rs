//! The backends every story test runs against, from the shared testkit: SQLite always,
//! PostgreSQL when `PATCHBAY_TEST_DATABASE_URL` names a server (a fresh database each).

use patchbay_store::SqlStore;
use patchbay_testkit::TestDatabase;
use sqlx::Connection;

pub struct Backend {
    pub store: SqlStore,
    /// What `SqlStore::connect` was given, to reopen the same database.
    pub url: String,
    _db: TestDatabase,
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

/// SQLite, then PostgreSQL if configured.
pub async fn backends() -> Vec<Backend> {
    let mut out = Vec::new();
    for db in patchbay_testkit::databases().await {
        let store = SqlStore::connect(&db.url).await.expect("open the test database");
        out.push(Backend { store, url: db.url.clone(), _db: db });
    }
    out
}
