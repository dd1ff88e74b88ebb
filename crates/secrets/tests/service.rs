//! The account-secrets service's contract, on both backends: a value opens only for the
//! tenant, account and field it was sealed for; a write keeps the sealed bytes of values it
//! does not change and hands back the clear values it sealed from; rotation and resealing
//! keep every value, also across a restart with the ring file.

use std::sync::Arc;

use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::{catalog, AccountInput, ValidationContext};
use patchbay_secrets::{AccountSecrets, KeyLease, RingFile, SealedWrite, SecretChange};
use patchbay_store::{Account, AccountWrite, NewTenant, SqlStore, Store};
use patchbay_testkit::{backend_test, TestDatabase};
use serde_json::{json, Map, Value};
use uuid::Uuid;

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    secrets: AccountSecrets,
}

impl Fixture {
    async fn new(db: &TestDatabase) -> Fixture {
        let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&db.url).await.unwrap());
        for tenant in ["acme", "beta"] {
            let new = NewTenant {
                id: tenant.into(),
                name: tenant.into(),
                enabled_types: Vec::new(),
                time_zone: "UTC".into(),
            };
            store.create_tenant(&new, "test").await.unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let ring = RingFile::load_or_create(&dir.path().join("master.key")).unwrap();
        let secrets = AccountSecrets::start(ring, store.clone()).await.unwrap();
        Fixture { dir, store, secrets }
    }

    /// Saves a Facebook Messenger account of `tenant` whose properties are `input` (a new
    /// one when `stored` is `None`), the way an account write does; returns the stored
    /// account and what sealing handed back.
    async fn save(&self, tenant: &str, input: &Map<String, Value>, stored: Option<&Account>) -> (Account, SealedWrite) {
        let provider = catalog().provider("messenger", "facebook").unwrap();
        let existing: Vec<String> =
            stored.map(|a| a.secrets.iter().map(|s| s.field.clone()).collect()).unwrap_or_default();
        let validated = catalog()
            .validate(
                &AccountInput { type_key: "messenger", provider: "facebook", name: "FB", properties: input },
                &ValidationContext {
                    enabled_types: &[],
                    existing_secrets: &existing,
                    stored_properties: stored.map(|a| &a.properties),
                    allow_loopback_http: false,
                },
            )
            .unwrap();
        let id = stored.map_or_else(Uuid::now_v7, |a| a.id);
        let keys = self.secrets.lease().await;
        let change = SecretChange { provider, validated: &validated, input };
        let sealed = keys.seal_write(tenant, id, &change, stored);
        let write = AccountWrite {
            type_key: "messenger".into(),
            provider: "facebook".into(),
            name: format!("FB {id}"),
            enabled: true,
            properties: validated.properties.clone(),
            secrets: sealed.secrets.clone(),
            singleton_key: validated.singleton_key.clone(),
            default_key: validated.default_key.clone(),
            last_test: patchbay_store::LastTestWrite::Keep,
        };
        let account = match stored {
            None => self.store.create_account(tenant, id, &write, "test", &json!({})).await.unwrap(),
            Some(a) => {
                self.store.update_account(tenant, id, &write, Some(a.version), "test", &json!({})).await.unwrap()
            }
        };
        (account, sealed)
    }
}

fn facebook(token: Option<&str>) -> Map<String, Value> {
    let mut properties = json!({facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "42"});
    if let Some(token) = token {
        properties[facebook::TOKEN] = json!(token);
    }
    properties.as_object().unwrap().clone()
}

fn token(keys: &KeyLease, account: &Account) -> String {
    keys.open(account).unwrap()["token"].expose().to_owned()
}

backend_test! {
    #[tokio::test]
    async fn a_value_sealed_for_one_account_opens_for_no_other_account_or_tenant(db) {
        let f = Fixture::new(&db).await;
        let (a, _) = f.save("acme", &facebook(Some("token-a")), None).await;
        let (b, _) = f.save("acme", &facebook(Some("token-b")), None).await;
        let keys = f.secrets.lease().await;
        assert_eq!(token(&keys, &a), "token-a");

        let b_holding_a = Account { secrets: a.secrets.clone(), ..b.clone() };
        let refused = keys.open(&b_holding_a).expect_err("a value copied to another account does not open");
        assert_eq!((refused.account, refused.field.as_str()), (b.id, "token"));
        assert!(!refused.to_string().contains("token-a"), "the error names no value: {refused}");

        let a_in_beta = Account { tenant_id: "beta".into(), ..a.clone() };
        assert!(keys.open(&a_in_beta).is_err(), "a value moved to another tenant does not open");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_write_keeps_unchanged_values_as_sealed_and_hands_back_the_values_it_sealed_from(db) {
        let f = Fixture::new(&db).await;
        let (created, sealed) = f.save("acme", &facebook(Some("first")), None).await;
        assert_eq!(sealed.values.unwrap()["token"].expose(), "first");

        let (same, sealed) = f.save("acme", &facebook(Some("first")), Some(&created)).await;
        assert_eq!(same.secrets, created.secrets, "re-sending a value keeps its sealed bytes");
        assert_eq!(sealed.values.unwrap()["token"].expose(), "first");

        let (kept, sealed) = f.save("acme", &facebook(None), Some(&same)).await;
        assert_eq!(kept.secrets, created.secrets, "an omitted secret keeps its value");
        assert_eq!(sealed.values.unwrap()["token"].expose(), "first", "a kept value comes from the stored one");

        let (changed, sealed) = f.save("acme", &facebook(Some("second")), Some(&kept)).await;
        assert_ne!(changed.secrets[0].sealed, created.secrets[0].sealed);
        assert_eq!(sealed.values.unwrap()["token"].expose(), "second");
        assert_eq!(token(&f.secrets.lease().await, &changed), "second");

        // A kept value that does not open is kept as it is; the clear values say it did not open.
        let (other, _) = f.save("acme", &facebook(Some("other")), None).await;
        let damaged = Account { secrets: other.secrets.clone(), ..changed.clone() };
        let keys = f.secrets.lease().await;
        let provider = catalog().provider("messenger", "facebook").unwrap();
        let input = facebook(None);
        let validated = catalog()
            .validate(
                &AccountInput { type_key: "messenger", provider: "facebook", name: "FB", properties: &input },
                &ValidationContext {
                    enabled_types: &[],
                    existing_secrets: &["token".to_owned()],
                    stored_properties: Some(&damaged.properties),
                allow_loopback_http: false,
                },
            )
            .unwrap();
        let sealed = keys.seal_write(
            "acme",
            damaged.id,
            &SecretChange { provider, validated: &validated, input: &input },
            Some(&damaged),
        );
        assert_eq!(sealed.secrets, other.secrets);
        assert_eq!(sealed.values.expect_err("the kept value does not open").account, damaged.id);
    }
}

backend_test! {
    #[tokio::test]
    async fn rotation_and_resealing_keep_every_value_across_a_restart(db) {
        let f = Fixture::new(&db).await;
        let mut accounts = Vec::new();
        for n in 0..3 {
            let value = format!("token-{n}");
            accounts.push((f.save("acme", &facebook(Some(&value)), None).await.0, value));
        }
        assert_eq!(f.secrets.rotate().await.unwrap(), 2);
        assert_eq!(f.secrets.lease().await.active_key_id(), 2);

        // A write after rotation moves the values it keeps to the new key.
        let (first, _) = &accounts[0];
        let mut kept = first.secrets.clone();
        f.secrets.lease().await.reseal_kept("acme", first.id, &mut kept);
        assert_eq!(kept[0].key_id, 2);
        assert_eq!(token(&f.secrets.lease().await, &Account { secrets: kept, ..first.clone() }), "token-0");

        let page = f.secrets.reseal_batch(None, 2).await.unwrap();
        assert_eq!((page.resealed, page.remaining, page.failed.len()), (2, 1, 0));
        let rest = f.secrets.reseal_batch(page.next.as_ref(), 2).await.unwrap();
        assert_eq!((rest.resealed, rest.remaining, rest.next.is_none()), (1, 0, true));
        f.secrets.retire(1).await.expect("key 1 seals nothing any more");

        let ring = RingFile::load_or_create(&f.dir.path().join("master.key")).unwrap();
        let restarted = AccountSecrets::start(ring, f.store.clone()).await.unwrap();
        let keys = restarted.lease().await;
        assert_eq!(keys.key_ids(), [2]);
        for (account, value) in &accounts {
            let now = f.store.get_account("acme", account.id).await.unwrap();
            assert!(now.secrets.iter().all(|s| s.key_id == 2));
            assert_eq!(&token(&keys, &now), value);
        }
    }
}
