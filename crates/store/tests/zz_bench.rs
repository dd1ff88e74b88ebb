mod common;
use patchbay_store::*;
use std::time::Instant;
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bench() {
    let b = common::backends().await.swap_remove(0);
    b.store.create_tenant(&NewTenant { id: "a".into(), name: "a".into(), enabled_types: vec![] }, "x").await.unwrap();
    let started = Instant::now();
    let mut hs = vec![];
    for t in 0..16 {
        let s = b.store.clone();
        hs.push(tokio::spawn(async move {
            for i in 0..200 {
                let w = AccountWrite {
                    type_key: "stt".into(),
                    provider: "p".into(),
                    name: format!("n{t}-{i}"),
                    enabled: true,
                    properties: Default::default(),
                    secrets: vec![
                        SealedSecret { field: "a".into(), key_id: 1, sealed: vec![1; 64] },
                        SealedSecret { field: "b".into(), key_id: 1, sealed: vec![1; 64] },
                    ],
                    singleton_key: None,
                    default_key: None,
                };
                s.create_account("a", uuid::Uuid::new_v4(), &w, "x", &serde_json::json!({})).await.unwrap();
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let e = started.elapsed();
    println!("parallel 3200 creates: {e:?} = {:.0}/s", 3200.0 / e.as_secs_f64());
    let started = Instant::now();
    let mut hs = vec![];
    for _ in 0..16 {
        let s = b.store.clone();
        hs.push(tokio::spawn(async move {
            for _ in 0..50 {
                s.list_accounts("a", Some("stt")).await.unwrap();
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    println!("800 lists of 3200: {:?}", started.elapsed());
}
