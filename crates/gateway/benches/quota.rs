//! Quota reservations per second on SQLite and PostgreSQL: 64 callers reserving units of
//! 1,000 accounts through the gateway's ledger (batched: one transaction for whatever waits)
//! side by side with the same callers each writing its own transaction, in one run. Every
//! reservation is a committed conditional upsert (SQLite with `synchronous = FULL`).
//!
//! `cargo bench -p patchbay-gateway --bench quota` (PostgreSQL too when
//! `PATCHBAY_TEST_DATABASE_URL` names a server). Prints the numbers; goal >= 5,000/s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use patchbay_gateway::Ledger;
use patchbay_store::{AccountWrite, GatewayStore, NewTenant, SqlStore, Store, UnitRequest};
use patchbay_testkit::TestDatabase;
use uuid::Uuid;

const CALLERS: usize = 64;
const ACCOUNTS: usize = 1000;
const RUN: Duration = Duration::from_secs(5);

async fn accounts(store: &SqlStore) -> Vec<Uuid> {
    let tenant = NewTenant { id: "acme".into(), name: "Acme".into(), enabled_types: vec![], time_zone: "UTC".into() };
    store.create_tenant(&tenant, "bench").await.unwrap();
    let mut ids = Vec::with_capacity(ACCOUNTS);
    for i in 0..ACCOUNTS {
        let id = Uuid::now_v7();
        let write = AccountWrite {
            type_key: "nlu".into(),
            provider: "default".into(),
            name: format!("nlu {i}"),
            enabled: true,
            properties: serde_json::Map::new(),
            secrets: Vec::new(),
            singleton_key: None,
            default_key: None,
            last_test: patchbay_store::LastTestWrite::Keep,
        };
        store.create_account("acme", id, &write, "bench", &serde_json::json!({})).await.unwrap();
        ids.push(id);
    }
    ids
}

/// Reservations per second of `CALLERS` tasks for `RUN`, each reserving through `reserve`.
async fn rate<F, Fut>(ids: &Arc<Vec<Uuid>>, day: NaiveDate, reserve: F) -> f64
where
    F: Fn(UnitRequest) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let (ids, done, reserve) = (ids.clone(), done.clone(), reserve.clone());
            tokio::spawn(async move {
                let mut n = caller;
                while started.elapsed() < RUN {
                    let request =
                        UnitRequest { tenant: "acme".into(), account: ids[n % ids.len()], day, limit: i64::MAX };
                    reserve(request).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    n += CALLERS;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn bench(db: TestDatabase) {
    let store = SqlStore::connect(&db.url).await.unwrap();
    let ids = Arc::new(accounts(&store).await);
    let ledger_store: Arc<dyn GatewayStore> = Arc::new(store.clone());
    let ledger = Ledger::start(ledger_store.clone());
    let batched = rate(&ids, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), move |r| {
        let ledger = ledger.clone();
        async move {
            ledger.reserve(r).await.unwrap();
        }
    })
    .await;
    let single = rate(&ids, NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(), move |r| {
        let store = ledger_store.clone();
        async move {
            store.write_ledger(&[], &[r]).await.unwrap();
        }
    })
    .await;
    println!(
        "{:<10} ledger (batched) {:>9.0}/s   one transaction each {:>8.0}/s   ratio {:.1}x",
        db.backend,
        batched,
        single,
        batched / single
    );
}

#[tokio::main]
async fn main() {
    println!(
        "quota reservations, {CALLERS} callers over {ACCOUNTS} accounts, {}s each ({} cores)",
        RUN.as_secs(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    bench(TestDatabase::sqlite().await).await;
    if let Some(db) = TestDatabase::postgres_if_configured().await {
        bench(db).await;
    }
}
