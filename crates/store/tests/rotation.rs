//! What key rotation needs from the store, on every backend (`backend_test!`):
//! counts of values per key, paging through values under other keys, and conditional
//! replacement that loses to a concurrent account write.

mod common;

use patchbay_store::{AccountWrite, CachedStore, NewTenant, Reseal, SealedSecret, SecretCursor, Store, StoredSecret};
use patchbay_testkit::{backend_test, TestDatabase};
use serde_json::json;
use uuid::Uuid;

use common::Backend;

const ACTOR: &str = "tester";

fn secret(field: &str, key_id: u32, sealed: &str) -> SealedSecret {
    SealedSecret { field: field.to_owned(), key_id, sealed: sealed.as_bytes().to_vec() }
}

fn write(name: &str, secrets: Vec<SealedSecret>) -> AccountWrite {
    AccountWrite {
        type_key: "stt".to_owned(),
        provider: "stt-provider".to_owned(),
        name: name.to_owned(),
        enabled: true,
        properties: serde_json::Map::new(),
        secrets,
        singleton_key: None,
        default_key: None,
        last_test: patchbay_store::LastTestWrite::Keep,
    }
}

async fn tenant(store: &dyn Store, id: &str) {
    let tenant =
        NewTenant { id: id.to_owned(), name: id.to_owned(), enabled_types: Vec::new(), time_zone: "UTC".into() };
    store.create_tenant(&tenant, ACTOR).await.unwrap();
}

async fn account(store: &dyn Store, tenant: &str, name: &str, secrets: Vec<SealedSecret>) -> Uuid {
    let id = Uuid::new_v4();
    store.create_account(tenant, id, &write(name, secrets), ACTOR, &json!({})).await.unwrap();
    id
}

fn reseal(current: &StoredSecret, key_id: u32) -> Reseal {
    let sealed = format!("{}@{key_id}", String::from_utf8_lossy(&current.secret.sealed)).into_bytes();
    Reseal { current: current.clone(), key_id, sealed }
}

/// Every value under a key other than `active`, a page of `limit` at a time.
async fn all_pages(store: &dyn Store, active: u32, limit: i64) -> (Vec<StoredSecret>, usize) {
    let mut out: Vec<StoredSecret> = Vec::new();
    let mut pages = 0;
    loop {
        let after = out.last().map(|s| SecretCursor { account_id: s.account_id, field: s.secret.field.clone() });
        let page = store.secrets_sealed_by_other_keys(active, after.as_ref(), limit).await.unwrap();
        assert!(page.len() <= limit as usize);
        pages += 1;
        let done = page.len() < limit as usize;
        out.extend(page);
        if done {
            return (out, pages);
        }
    }
}

backend_test! {
    #[tokio::test]
    async fn values_are_counted_per_key_and_paged_in_account_and_field_order(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        tenant(s, "beta").await;
        assert!(s.secrets_by_key_counts().await.unwrap().is_empty());
        assert!(s.secrets_sealed_by_other_keys(1, None, 10).await.unwrap().is_empty());

        let one = account(s, "acme", "One", vec![secret("token", 1, "a-token"), secret("api_key", 1, "a-key")]).await;
        let two = account(s, "acme", "Two", vec![secret("api_key", 2, "b-key")]).await;
        let three =
            account(s, "beta", "Three", vec![secret("password", 1, "c-pass"), secret("secret", 3, "c-secret")]).await;
        account(s, "beta", "None", Vec::new()).await;
        assert_eq!(s.secrets_by_key_counts().await.unwrap(), [(1, 3), (2, 1), (3, 1)]);

        let (under_others, pages) = all_pages(s, 2, 2).await;
        assert_eq!(pages, 3, "4 values, 2 a page, and an empty last page");
        let mut expected = vec![
            (one, "api_key", "acme", 1),
            (one, "token", "acme", 1),
            (three, "password", "beta", 1),
            (three, "secret", "beta", 3),
        ];
        expected.sort_by_key(|(id, field, _, _)| (id.to_string(), *field));
        let got: Vec<(Uuid, &str, &str, u32)> = under_others
            .iter()
            .map(|v| (v.account_id, v.secret.field.as_str(), v.tenant_id.as_str(), v.secret.key_id))
            .collect();
        assert_eq!(got, expected);
        assert!(under_others.iter().all(|v| v.account_id != two));
        let first = under_others.iter().find(|v| v.account_id == one && v.secret.field == "token").unwrap();
        assert_eq!(first.secret.sealed, b"a-token");

        let (all_but_one, _) = all_pages(s, 1, 100).await;
        assert_eq!(all_but_one.len(), 2);
        assert!(s.secrets_sealed_by_other_keys(2, None, 0).await.unwrap().is_empty());
    }
}

backend_test! {
    #[tokio::test]
    async fn replacing_a_sealed_value_changes_only_rows_that_still_hold_it(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        let kept = account(s, "acme", "Kept", vec![secret("token", 1, "kept-token")]).await;
        let raced = account(s, "acme", "Raced", vec![secret("token", 1, "raced-token")]).await;
        let gone = account(s, "acme", "Gone", vec![secret("token", 1, "gone-token")]).await;
        let before = s.get_account("acme", kept).await.unwrap();
        let audit_rows = b.count("SELECT COUNT(*) FROM audit").await;

        let found = s.secrets_sealed_by_other_keys(2, None, 10).await.unwrap();
        let reseals: Vec<Reseal> = found.iter().map(|v| reseal(v, 2)).collect();
        // Between reading and resealing, one account is written and another deleted.
        s.update_account(
            "acme",
            raced,
            &write("Raced", vec![secret("token", 1, "typed-anew")]),
            None,
            ACTOR,
            &json!({}),
        )
        .await
        .unwrap();
        s.delete_account("acme", gone, None, ACTOR).await.unwrap();

        assert_eq!(s.replace_sealed(&reseals).await.unwrap(), 1);
        let after = s.get_account("acme", kept).await.unwrap();
        assert_eq!(after.secrets, [secret("token", 2, "kept-token@2")]);
        assert_eq!(after.version, before.version, "a reseal is not a change of the account");
        assert_eq!(after.updated_at, before.updated_at);
        let raced_now = s.get_account("acme", raced).await.unwrap();
        assert_eq!(raced_now.secrets, [secret("token", 1, "typed-anew")], "the concurrent write wins");
        assert_eq!(s.secrets_by_key_counts().await.unwrap(), [(1, 1), (2, 1)]);
        assert_eq!(b.count("SELECT COUNT(*) FROM audit").await, audit_rows + 2, "only the update and delete");

        assert_eq!(s.replace_sealed(&reseals).await.unwrap(), 0, "applying the same reseals again changes nothing");
        assert_eq!(s.replace_sealed(&[]).await.unwrap(), 0);
        let next = s.secrets_sealed_by_other_keys(2, None, 10).await.unwrap();
        assert_eq!(next.len(), 1, "the raced value is picked up by the next pass");
        assert_eq!(s.replace_sealed(&[reseal(&next[0], 2)]).await.unwrap(), 1);
        assert_eq!(s.secrets_by_key_counts().await.unwrap(), [(2, 2)]);
        assert!(s.secrets_sealed_by_other_keys(2, None, 10).await.unwrap().is_empty());
    }
}

/// The SQLite read cache drops a tenant's accounts when their secrets are resealed, and
/// keeps other tenants' accounts.
#[tokio::test]
async fn cached_store_serves_resealed_values_after_a_replacement() {
    let b = Backend::open(TestDatabase::sqlite().await).await;
    let cached = CachedStore::new(b.store.clone());
    tenant(&cached, "acme").await;
    tenant(&cached, "beta").await;
    let id = account(&cached, "acme", "One", vec![secret("token", 1, "old")]).await;
    let other = account(&cached, "beta", "Other", vec![secret("token", 2, "other")]).await;
    assert_eq!(cached.get_account("acme", id).await.unwrap().secrets, [secret("token", 1, "old")]);
    cached.get_account("beta", other).await.unwrap();

    let found = cached.secrets_sealed_by_other_keys(2, None, 10).await.unwrap();
    assert_eq!(cached.replace_sealed(&[reseal(&found[0], 2)]).await.unwrap(), 1);
    assert_eq!(cached.get_account("acme", id).await.unwrap().secrets, [secret("token", 2, "old@2")]);
    assert_eq!(cached.list_accounts("acme", None).await.unwrap()[0].secrets, [secret("token", 2, "old@2")]);
    assert_eq!(cached.secrets_by_key_counts().await.unwrap(), [(2, 2)]);
}
