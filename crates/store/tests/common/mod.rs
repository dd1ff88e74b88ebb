//! The store every story test runs against, opened on a fresh database from the shared
//! testkit (`backend_test!` makes one test per backend: SQLite always, PostgreSQL when
//! `PATCHBAY_TEST_DATABASE_URL` names a server).

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
    /// The store on `db`, which lives as long as the `Backend`.
    pub async fn open(db: TestDatabase) -> Backend {
        let store = SqlStore::connect(&db.url).await.expect("open the test database");
        Backend { store, url: db.url.clone(), _db: db }
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
