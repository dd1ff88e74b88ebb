//! The store's story, told once and run against every backend (`backend_test!`).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::SubsecRound;

use patchbay_store::{
    Account, AccountWrite, AuditEntry, AuditQuery, Conflict, NewAudit, NewTenant, NewToken, SealedSecret, SqlStore,
    Store, StoreError, TenantContents, TenantUpdate,
};
use patchbay_testkit::{backend_test, TestDatabase};
use serde_json::json;
use uuid::Uuid;

use common::Backend;

const ACTOR: &str = "tester";

fn new_tenant(id: &str) -> NewTenant {
    NewTenant {
        id: id.to_owned(),
        name: format!("Tenant {id}"),
        enabled_types: vec!["wfm".to_owned(), "loxysoft".to_owned()],
        time_zone: "UTC".to_owned(),
    }
}

fn secret(field: &str, key_id: u32, sealed: &[u8]) -> SealedSecret {
    SealedSecret { field: field.to_owned(), key_id, sealed: sealed.to_vec() }
}

fn write(type_key: &str, name: &str) -> AccountWrite {
    let mut properties = serde_json::Map::new();
    properties.insert("region".to_owned(), json!("eu-west"));
    properties.insert("port".to_owned(), json!(443));
    AccountWrite {
        type_key: type_key.to_owned(),
        provider: format!("{type_key}-provider"),
        name: name.to_owned(),
        enabled: true,
        properties,
        secrets: vec![secret("api_key", 1, b"sealed-api-key")],
        singleton_key: None,
        default_key: None,
        last_test: patchbay_store::LastTestWrite::Keep,
    }
}

fn singleton(type_key: &str, name: &str, group: &str) -> AccountWrite {
    AccountWrite { singleton_key: Some(group.to_owned()), ..write(type_key, name) }
}

fn default_of(type_key: &str, name: &str, group: &str) -> AccountWrite {
    AccountWrite { default_key: Some(group.to_owned()), ..write(type_key, name) }
}

async fn setup(b: &Backend, tenants: &[&str]) {
    for id in tenants {
        b.store.create_tenant(&new_tenant(id), ACTOR).await.unwrap();
    }
}

async fn create(s: &SqlStore, tenant: &str, w: &AccountWrite) -> Result<Account, StoreError> {
    s.create_account(tenant, Uuid::new_v4(), w, ACTOR, &json!({"name": w.name})).await
}

async fn audit_of(s: &SqlStore, tenant: &str, account: Option<Uuid>) -> Vec<AuditEntry> {
    s.list_audit(&AuditQuery { tenant_id: tenant.to_owned(), account_id: account, before: None, limit: 1000 })
        .await
        .unwrap()
}

fn actions(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, expected: Conflict) {
    match result {
        Err(StoreError::Conflict(conflict)) => assert_eq!(conflict, expected),
        other => panic!("expected Conflict({expected:?}), got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(matches!(result, Err(StoreError::NotFound)), "expected NotFound, got {result:?}");
}

fn assert_version_mismatch<T: std::fmt::Debug>(result: Result<T, StoreError>, current: i64) {
    match result {
        Err(StoreError::VersionMismatch { current: got }) => assert_eq!(got, current),
        other => panic!("expected VersionMismatch {{ current: {current} }}, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_rejects_unknown_schemes_without_echoing_the_url() {
    let result = SqlStore::connect("mysql://root:hunter2@localhost/db").await;
    match result {
        Err(StoreError::UnsupportedUrl(message)) => {
            assert!(message.contains("mysql"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        Err(other) => panic!("expected UnsupportedUrl, got {other:?}"),
        Ok(store) => panic!("connected to {}", store.backend_name()),
    }
}

backend_test! {
    #[tokio::test]
    async fn reopening_keeps_data_and_reruns_no_migration(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        b.store.ping().await.unwrap();
        let created = create(&b.store, "acme", &write("stt", "Speech")).await.unwrap();
        let reopened = SqlStore::connect(&b.url).await.unwrap();
        assert_eq!(reopened.backend_name(), b.store.backend_name());
        assert_eq!(reopened.get_account("acme", created.id).await.unwrap(), created);
    }
}

backend_test! {
    #[tokio::test]
    async fn tenants_are_created_read_updated_and_deleted(db) {
        let b = Backend::open(db).await;
        setup(&b, &[]).await;
        let s = &b.store;
        let created = s.create_tenant(&new_tenant("acme"), ACTOR).await.unwrap();
        assert_eq!(created.version, 1);
        assert_eq!(created.enabled_types, ["loxysoft", "wfm"], "sorted");
        assert_eq!(s.get_tenant("acme").await.unwrap(), created);
        assert_conflict(s.create_tenant(&new_tenant("acme"), ACTOR).await, Conflict::TenantExists);
        s.create_tenant(&new_tenant("beta"), ACTOR).await.unwrap();
        let ids: Vec<String> = s.list_tenants().await.unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["acme", "beta"]);

        let update = TenantUpdate {
            name: "Acme Corp".to_owned(),
            enabled_types: vec!["stt".to_owned(), "wfm".to_owned(), "stt".to_owned()],
            time_zone: "Europe/Berlin".to_owned(),
        };
        let updated = s.update_tenant("acme", &update, Some(1), ACTOR).await.unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.name, "Acme Corp");
        assert_eq!(updated.enabled_types, ["stt", "wfm"]);
        assert_eq!(updated.time_zone, "Europe/Berlin");
        assert_eq!(updated.created_at, created.created_at);
        assert_eq!(s.get_tenant("acme").await.unwrap(), updated);
        assert_version_mismatch(s.update_tenant("acme", &update, Some(1), ACTOR).await, 2);
        assert_not_found(s.update_tenant("nope", &update, None, ACTOR).await);
        assert_eq!(s.update_tenant("acme", &update, None, ACTOR).await.unwrap().version, 3);

        let archive = s.delete_tenant("acme", ACTOR).await.unwrap();
        assert_not_found(s.get_tenant("acme").await);
        assert_not_found(s.delete_tenant("acme", ACTOR).await);
        assert!(audit_of(s, "acme", None).await.is_empty(), "the id keeps no trail");
        let trail = audit_of(s, &archive, None).await;
        assert_eq!(actions(&trail), ["tenant.delete", "tenant.update", "tenant.update", "tenant.create"]);
        assert!(trail.iter().all(|e| e.account_id.is_none()));
        assert_eq!(trail[1].changes["name"], "Acme Corp");
    }
}

backend_test! {
    #[tokio::test]
    async fn accounts_are_created_read_listed_updated_and_deleted(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        let s = &b.store;
        let id = Uuid::new_v4();
        let w = write("stt", "Speech");
        let created = s.create_account("acme", id, &w, ACTOR, &json!({})).await.unwrap();
        assert_eq!(created.id, id);
        assert_eq!(created.version, 1);
        assert_eq!(created.created_at, created.updated_at);
        assert_eq!(created.last_test, None);
        assert_eq!(s.get_account("acme", id).await.unwrap(), created);
        assert_not_found(s.get_account("acme", Uuid::new_v4()).await);
        assert_not_found(create(s, "no-such-tenant", &write("stt", "X")).await);

        for (type_key, name) in [("wfm", "zeta"), ("stt", "alpha"), ("stt", "Beta")] {
            create(s, "acme", &write(type_key, name)).await.unwrap();
        }
        let listed: Vec<(String, String)> =
            s.list_accounts("acme", None).await.unwrap().iter().map(|a| (a.type_key.clone(), a.name.clone())).collect();
        let expected = [("stt", "alpha"), ("stt", "Beta"), ("stt", "Speech"), ("wfm", "zeta")]
            .map(|(t, n)| (t.to_owned(), n.to_owned()));
        assert_eq!(listed, expected, "by type, then case-insensitive name");
        let stt = s.list_accounts("acme", Some("stt")).await.unwrap();
        assert_eq!(stt.len(), 3);
        assert!(stt.iter().all(|a| a.type_key == "stt"));
        assert!(s.list_accounts("acme", Some("crm")).await.unwrap().is_empty());

        let mut changed = w.clone();
        changed.name = "Speech EU".to_owned();
        changed.enabled = false;
        changed.properties.insert("region".to_owned(), json!("eu-north"));
        let updated = s.update_account("acme", id, &changed, Some(1), "editor", &json!({"name": 1})).await.unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.name, "Speech EU");
        assert!(!updated.enabled);
        assert_eq!(updated.created_at, created.created_at);
        assert_eq!(updated.created_by, ACTOR);
        assert_eq!(updated.updated_by, "editor");
        assert!(updated.updated_at >= created.updated_at);
        assert_eq!(s.get_account("acme", id).await.unwrap(), updated);
        assert_eq!(s.update_account("acme", id, &changed, None, ACTOR, &json!({})).await.unwrap().version, 3);

        s.delete_account("acme", id, Some(3), ACTOR).await.unwrap();
        assert_not_found(s.get_account("acme", id).await);
        assert_not_found(s.delete_account("acme", id, None, ACTOR).await);
        assert_not_found(s.update_account("acme", id, &changed, None, ACTOR, &json!({})).await);
        assert_eq!(s.list_accounts("acme", None).await.unwrap().len(), 3);
    }
}

backend_test! {
    #[tokio::test]
    async fn names_are_unique_per_tenant_ignoring_case_including_unicode(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme", "beta"]).await;
        let s = &b.store;
        create(s, "acme", &write("stt", "Main")).await.unwrap();
        assert_conflict(create(s, "acme", &write("wfm", "MAIN")).await, Conflict::NameTaken);
        create(s, "acme", &write("stt", "Ärger")).await.unwrap();
        assert_conflict(create(s, "acme", &write("stt", "ärger")).await, Conflict::NameTaken);
        // Another tenant may reuse the name.
        create(s, "beta", &write("stt", "main")).await.unwrap();

        let other = create(s, "acme", &write("stt", "Other")).await.unwrap();
        assert_conflict(
            s.update_account("acme", other.id, &write("stt", "ÄRGER"), None, ACTOR, &json!({})).await,
            Conflict::NameTaken,
        );
        assert_eq!(s.get_account("acme", other.id).await.unwrap(), other);
        // Changing only the case of its own name is no conflict.
        let renamed =
            s.update_account("acme", other.id, &write("stt", "OTHER"), None, ACTOR, &json!({})).await.unwrap();
        assert_eq!(renamed.name, "OTHER");
    }
}

backend_test! {
    #[tokio::test]
    async fn singleton_and_default_groups_admit_one_account_each(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme", "beta"]).await;
        let s = &b.store;
        create(s, "acme", &singleton("wfm", "Calabrio", "wfm")).await.unwrap();
        assert_conflict(create(s, "acme", &singleton("loxysoft", "Loxy", "wfm")).await, Conflict::SingletonTaken);
        create(s, "acme", &singleton("sso", "Admin SSO", "sso:admin")).await.unwrap();
        create(s, "beta", &singleton("loxysoft", "Loxy", "wfm")).await.unwrap();
        // Accounts outside any group never collide.
        create(s, "acme", &write("crm", "One")).await.unwrap();
        create(s, "acme", &write("crm", "Two")).await.unwrap();

        let first = create(s, "acme", &default_of("stt", "Google", "stt")).await.unwrap();
        assert_conflict(create(s, "acme", &default_of("stt", "Azure", "stt")).await, Conflict::DefaultTaken);
        let second = create(s, "acme", &write("stt", "Azure")).await.unwrap();
        assert_conflict(
            s.update_account("acme", second.id, &default_of("stt", "Azure", "stt"), None, ACTOR, &json!({})).await,
            Conflict::DefaultTaken,
        );
        // Handing the default over: the first lets go, then the second takes it.
        s.update_account("acme", first.id, &write("stt", "Google"), None, ACTOR, &json!({})).await.unwrap();
        let second = s
            .update_account("acme", second.id, &default_of("stt", "Azure", "stt"), None, ACTOR, &json!({}))
            .await
            .unwrap();
        assert_eq!(second.default_key.as_deref(), Some("stt"));
    }
}

/// Runs `tasks` concurrent creates of `make(i)` and returns the successes and the errors.
async fn race(store: &SqlStore, tasks: usize, make: impl Fn(usize) -> AccountWrite) -> (usize, Vec<StoreError>) {
    let store = Arc::new(store.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let (store, barrier, w) = (store.clone(), barrier.clone(), make(i));
            tokio::spawn(async move {
                barrier.wait().await;
                create(&store, "acme", &w).await
            })
        })
        .collect();
    let mut ok = 0;
    let mut errors = Vec::new();
    for result in futures::future::join_all(handles).await {
        match result.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn parallel_creates_admit_exactly_one_per_rule(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        let s = &b.store;
        let (ok, errors) = race(s, 16, |i| singleton("wfm", &format!("WFM {i}"), "wfm")).await;
        assert_eq!(ok, 1, "{errors:?}");
        assert_eq!(errors.len(), 15);
        assert!(errors.iter().all(|e| matches!(e, StoreError::Conflict(Conflict::SingletonTaken))), "{errors:?}");

        let (ok, errors) = race(s, 16, |i| {
            let name = if i % 2 == 0 { "Shared" } else { "SHARED" };
            write("stt", name)
        })
        .await;
        assert_eq!(ok, 1, "{errors:?}");
        assert!(errors.iter().all(|e| matches!(e, StoreError::Conflict(Conflict::NameTaken))), "{errors:?}");

        let (ok, errors) = race(s, 16, |i| write("crm", &format!("CRM {i}"))).await;
        assert_eq!(ok, 16, "{errors:?}");
        assert_eq!(s.list_accounts("acme", None).await.unwrap().len(), 18);
        assert_eq!(audit_of(s, "acme", None).await.len(), 1 + 18, "one per create");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_stale_version_changes_nothing(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        let s = &b.store;
        let created = create(s, "acme", &write("stt", "Speech")).await.unwrap();
        let updated =
            s.update_account("acme", created.id, &write("stt", "Speech 2"), Some(1), ACTOR, &json!({})).await.unwrap();
        let trail_before = audit_of(s, "acme", Some(created.id)).await;

        let mut stale = write("stt", "Stale");
        stale.secrets = vec![secret("other", 9, b"x")];
        assert_version_mismatch(s.update_account("acme", created.id, &stale, Some(1), ACTOR, &json!({})).await, 2);
        assert_version_mismatch(s.delete_account("acme", created.id, Some(1), ACTOR).await, 2);
        assert_eq!(s.get_account("acme", created.id).await.unwrap(), updated);
        assert_eq!(audit_of(s, "acme", Some(created.id)).await, trail_before);
    }
}

backend_test! {
    #[tokio::test]
    async fn another_tenants_account_is_not_found(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme", "beta"]).await;
        let s = &b.store;
        let mine = create(s, "acme", &write("stt", "Speech")).await.unwrap();
        let w = write("stt", "Hijacked");
        assert_not_found(s.get_account("beta", mine.id).await);
        assert_not_found(s.update_account("beta", mine.id, &w, None, ACTOR, &json!({})).await);
        assert_not_found(s.update_account("beta", mine.id, &w, Some(1), ACTOR, &json!({})).await);
        assert_not_found(s.delete_account("beta", mine.id, None, ACTOR).await);
        assert_not_found(s.record_test_result("beta", mine.id, &json!({"ok": true}), ACTOR).await);
        assert!(s.list_accounts("beta", None).await.unwrap().is_empty());
        assert!(audit_of(s, "beta", None).await.len() == 1, "only tenant.create");
        assert_eq!(s.get_account("acme", mine.id).await.unwrap(), mine);
    }
}

backend_test! {
    #[tokio::test]
    async fn secrets_round_trip_sorted_and_are_replaced_as_a_set(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        let s = &b.store;
        let every_byte: Vec<u8> = (0..=255).collect();
        let mut w = write("stt", "Speech");
        w.secrets =
            vec![secret("zeta", u32::MAX, &every_byte), secret("alpha", 0, b""), secret("mid", 7, b"\0sealed\0")];
        let created = create(s, "acme", &w).await.unwrap();
        let fields: Vec<&str> = created.secrets.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["alpha", "mid", "zeta"]);
        let read = s.get_account("acme", created.id).await.unwrap();
        assert_eq!(read.secrets, created.secrets);
        assert_eq!(read.secrets[2].sealed, every_byte);
        assert_eq!(read.secrets[2].key_id, u32::MAX);

        w.secrets = vec![secret("mid", 8, b"resealed")];
        let updated = s.update_account("acme", created.id, &w, None, ACTOR, &json!({})).await.unwrap();
        assert_eq!(updated.secrets, w.secrets);
        assert_eq!(s.get_account("acme", created.id).await.unwrap().secrets, w.secrets);

        w.secrets.clear();
        s.update_account("acme", created.id, &w, None, ACTOR, &json!({})).await.unwrap();
        let listed = s.list_accounts("acme", None).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].secrets.is_empty());
        assert_eq!(b.count("SELECT COUNT(*) FROM account_secrets").await, 0);
    }
}

backend_test! {
    #[tokio::test]
    async fn listing_loads_each_accounts_own_secrets(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        let s = &b.store;
        let mut expected = Vec::new();
        for i in 0..5u8 {
            let mut w = write("stt", &format!("Account {i}"));
            w.secrets = (0..i).map(|j| secret(&format!("f{j}"), u32::from(j), &[i, j])).collect();
            expected.push(create(s, "acme", &w).await.unwrap());
        }
        let listed: Vec<Account> =
            s.list_accounts("acme", None).await.unwrap().iter().map(|a| Account::clone(a)).collect();
        assert_eq!(listed, expected);
    }
}

backend_test! {
    #[tokio::test]
    async fn audit_rows_commit_with_their_change_and_only_then(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        let s = &b.store;
        let id = Uuid::new_v4();
        let w = singleton("wfm", "Calabrio", "wfm");
        s.create_account("acme", id, &w, "alice", &json!({"created": "Calabrio"})).await.unwrap();
        s.update_account("acme", id, &w, Some(1), "bob", &json!({"enabled": [true, true]})).await.unwrap();
        let before_test = s.get_account("acme", id).await.unwrap();
        let result = json!({"ok": false, "error": "timeout", "ms": 5000});
        s.record_test_result("acme", id, &result, "carol").await.unwrap();
        let tested = s.get_account("acme", id).await.unwrap();
        assert_eq!(tested.last_test.as_ref(), Some(&result));
        assert_eq!(tested.version, before_test.version, "a test is no edit");
        assert_eq!(tested.updated_at, before_test.updated_at);

        // Failed writes leave no trace.
        let rows_before = audit_of(s, "acme", None).await.len();
        assert!(create(s, "acme", &singleton("loxysoft", "Loxy", "wfm")).await.is_err());
        assert!(create(s, "acme", &write("stt", "CALABRIO")).await.is_err());
        assert!(s.update_account("acme", id, &w, Some(1), ACTOR, &json!({})).await.is_err());
        assert!(s.delete_account("acme", id, Some(1), ACTOR).await.is_err());
        assert_eq!(audit_of(s, "acme", None).await.len(), rows_before);

        s.delete_account("acme", id, None, "dave").await.unwrap();
        s.append_audit(&NewAudit {
            tenant_id: "acme".to_owned(),
            account_id: None,
            actor: "erin".to_owned(),
            action: "export".to_owned(),
            changes: json!({"format": "csv"}),
        })
        .await
        .unwrap();

        let trail = audit_of(s, "acme", Some(id)).await;
        assert_eq!(actions(&trail), ["delete", "test", "update", "create"]);
        let actors: Vec<&str> = trail.iter().map(|e| e.actor.as_str()).collect();
        assert_eq!(actors, ["dave", "carol", "bob", "alice"]);
        assert_eq!(trail[0].changes, json!({}));
        assert_eq!(trail[1].changes, result);
        assert_eq!(trail[2].changes, json!({"enabled": [true, true]}));
        assert_eq!(trail[3].changes, json!({"created": "Calabrio"}));
        assert!(trail.iter().all(|e| e.account_id == Some(id)));
        assert!(trail.windows(2).all(|w| w[0].id > w[1].id && w[0].at >= w[1].at));

        let all = audit_of(s, "acme", None).await;
        assert_eq!(actions(&all)[..2], ["export", "delete"]);
        assert_eq!(all.last().unwrap().action, "tenant.create");

        let page = s
            .list_audit(&AuditQuery {
                tenant_id: "acme".to_owned(),
                account_id: None,
                before: Some(all[1].id),
                limit: 2,
            })
            .await
            .unwrap();
        assert_eq!(page, all[2..4]);
        let none = s
            .list_audit(&AuditQuery { tenant_id: "other".to_owned(), account_id: None, before: None, limit: 10 })
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}

backend_test! {
    #[tokio::test]
    async fn tokens_are_created_found_by_hash_and_revoked(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        let s = &b.store;
        let admin = NewToken {
            id: Uuid::new_v4(),
            name: "bootstrap".to_owned(),
            role: "sp_admin".to_owned(),
            tenant_id: None,
            hash: vec![0xAA; 32],
        };
        let tenant_token = NewToken {
            id: Uuid::new_v4(),
            name: "acme admin".to_owned(),
            role: "tenant_admin".to_owned(),
            tenant_id: Some("acme".to_owned()),
            hash: vec![0xBB; 32],
        };
        let created = s.create_token(&admin).await.unwrap();
        assert_eq!(created.revoked_at, None);
        s.create_token(&tenant_token).await.unwrap();
        assert_eq!(s.find_token(&admin.hash).await.unwrap(), Some(created.clone()));
        assert_eq!(s.find_token(&[0xCC; 32]).await.unwrap(), None);

        assert_conflict(
            s.create_token(&NewToken { hash: vec![0xDD; 32], ..admin.clone() }).await,
            Conflict::TokenExists,
        );
        assert_conflict(s.create_token(&NewToken { id: Uuid::new_v4(), ..admin.clone() }).await, Conflict::TokenExists);
        assert_not_found(
            s.create_token(&NewToken {
                id: Uuid::new_v4(),
                tenant_id: Some("no-such-tenant".to_owned()),
                hash: vec![0xEE; 32],
                ..admin.clone()
            })
            .await,
        );

        let ids: BTreeSet<Uuid> = s.list_tokens().await.unwrap().iter().map(|t| t.id).collect();
        assert_eq!(ids, BTreeSet::from([admin.id, tenant_token.id]));

        s.revoke_token(admin.id).await.unwrap();
        assert_eq!(s.find_token(&admin.hash).await.unwrap(), None);
        let revoked_at =
            s.list_tokens().await.unwrap().into_iter().find(|t| t.id == admin.id).unwrap().revoked_at.expect("revoked");
        s.revoke_token(admin.id).await.unwrap();
        let again = s.list_tokens().await.unwrap();
        assert_eq!(
            again.iter().find(|t| t.id == admin.id).unwrap().revoked_at,
            Some(revoked_at),
            "revoking twice keeps the first time"
        );
        assert_not_found(s.revoke_token(Uuid::new_v4()).await);
        assert!(s.find_token(&tenant_token.hash).await.unwrap().is_some());
    }
}

backend_test! {
    #[tokio::test]
    async fn the_tenant_list_counts_accounts_and_those_whose_last_test_failed(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme", "beta", "empty"]).await;
        let s = &b.store;
        let failed = create(s, "acme", &write("crm", "Failing")).await.unwrap();
        let passed = create(s, "acme", &write("crm", "Passing")).await.unwrap();
        let unsupported = create(s, "acme", &write("crm", "No test")).await.unwrap();
        create(s, "acme", &write("crm", "Never tested")).await.unwrap();
        let beta = create(s, "beta", &write("crm", "Beta failing")).await.unwrap();
        for (tenant, id, status) in [
            ("acme", failed.id, "failed"),
            ("acme", passed.id, "ok"),
            ("acme", unsupported.id, "unsupported"),
            ("beta", beta.id, "failed"),
        ] {
            let report = json!({"status": status, "category": null, "message": "m", "steps": []});
            s.record_test_result(tenant, id, &report, ACTOR).await.unwrap();
        }
        let listed: Vec<(String, i64, i64)> = s
            .list_tenants_with_counts()
            .await
            .unwrap()
            .into_iter()
            .map(|(t, c)| (t.id, c.accounts, c.failing))
            .collect();
        assert_eq!(
            listed,
            [("acme".to_owned(), 4, 1), ("beta".to_owned(), 1, 1), ("empty".to_owned(), 0, 0)],
            "a failed last test counts; a passed, unsupported or missing one does not"
        );
        let tenants: Vec<_> = s.list_tenants_with_counts().await.unwrap().into_iter().map(|(t, _)| t).collect();
        assert_eq!(tenants, s.list_tenants().await.unwrap(), "the same tenants as the plain list");
    }
}

backend_test! {
    #[tokio::test]
    async fn tenant_contents_count_what_deleting_the_tenant_removes(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme", "beta"]).await;
        let s = &b.store;
        create(s, "acme", &write("crm", "One")).await.unwrap();
        create(s, "acme", &write("crm", "Two")).await.unwrap();
        create(s, "beta", &write("crm", "Other tenant's")).await.unwrap();
        let token = |name: &str, tenant: &str, hash: u8| NewToken {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            role: "tenant_viewer".to_owned(),
            tenant_id: Some(tenant.to_owned()),
            hash: vec![hash; 32],
        };
        s.create_token(&token("working", "acme", 1)).await.unwrap();
        let revoked = s.create_token(&token("revoked", "acme", 2)).await.unwrap();
        s.revoke_token(revoked.id).await.unwrap();
        s.create_token(&token("beta's", "beta", 3)).await.unwrap();
        let contents = s.tenant_contents("acme").await.unwrap();
        assert_eq!(
            contents,
            TenantContents { accounts: 2, export_jobs: 0, users: 0, tokens: 1, recordings: 0 },
            "only acme's, and only tokens that still work"
        );
        assert_not_found(s.tenant_contents("nope").await);
    }
}

backend_test! {
    #[tokio::test]
    async fn a_tokens_last_use_is_written_at_most_once_per_interval(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme"]).await;
        let s = &b.store;
        let new = NewToken {
            id: Uuid::new_v4(),
            name: "busy".to_owned(),
            role: "tenant_admin".to_owned(),
            tenant_id: Some("acme".to_owned()),
            hash: vec![0x11; 32],
        };
        let created = s.create_token(&new).await.unwrap();
        assert_eq!(created.last_used_at, None);
        let minute = chrono::Duration::seconds(60);
        let last_use = || async { s.list_tokens().await.unwrap().into_iter().find(|t| t.id == new.id).unwrap().last_used_at };
        let t0 = chrono::Utc::now().trunc_subsecs(6);
        assert!(s.touch_token(new.id, t0, minute).await.unwrap(), "the first use is written");
        assert_eq!(last_use().await, Some(t0));
        let soon = t0 + chrono::Duration::seconds(59);
        assert!(!s.touch_token(new.id, soon, minute).await.unwrap(), "a use within the interval is not");
        assert_eq!(last_use().await, Some(t0));
        let later = t0 + minute;
        assert!(s.touch_token(new.id, later, minute).await.unwrap(), "a use an interval later is");
        assert_eq!(last_use().await, Some(later));
        assert_eq!(s.find_token(&new.hash).await.unwrap().unwrap().last_used_at, Some(later));
        s.revoke_token(new.id).await.unwrap();
        assert!(!s.touch_token(new.id, later + minute, minute).await.unwrap(), "a revoked token is not touched");
        assert!(!s.touch_token(Uuid::new_v4(), later, minute).await.unwrap(), "nor an unknown one");
    }
}

backend_test! {
    #[tokio::test]
    async fn meta_values_are_read_and_overwritten(db) {
        let b = Backend::open(db).await;
        setup(&b, &[]).await;
        let s = &b.store;
        assert_eq!(s.get_meta("vault.key_id").await.unwrap(), None);
        s.set_meta("vault.key_id", "1").await.unwrap();
        s.set_meta("other", "x").await.unwrap();
        assert_eq!(s.get_meta("vault.key_id").await.unwrap().as_deref(), Some("1"));
        s.set_meta("vault.key_id", "2").await.unwrap();
        assert_eq!(s.get_meta("vault.key_id").await.unwrap().as_deref(), Some("2"));
        assert_eq!(s.get_meta("other").await.unwrap().as_deref(), Some("x"));
    }
}

backend_test! {
    #[tokio::test]
    async fn deleting_a_tenant_removes_its_accounts_secrets_and_tokens_and_archives_its_audit(db) {
        let b = Backend::open(db).await;
        setup(&b, &["acme", "beta"]).await;
        let s = &b.store;
        let gone = create(s, "acme", &write("stt", "Speech")).await.unwrap();
        let kept = create(s, "beta", &write("stt", "Speech")).await.unwrap();
        let token = NewToken {
            id: Uuid::new_v4(),
            name: "acme".to_owned(),
            role: "tenant_viewer".to_owned(),
            tenant_id: Some("acme".to_owned()),
            hash: vec![1; 32],
        };
        s.create_token(&token).await.unwrap();

        let archive = s.delete_tenant("acme", ACTOR).await.unwrap();
        assert_not_found(s.get_account("acme", gone.id).await);
        assert_eq!(s.find_token(&token.hash).await.unwrap(), None);
        assert!(s.list_tokens().await.unwrap().is_empty());
        assert_eq!(b.count("SELECT COUNT(*) FROM account_secrets").await, 1);
        assert_eq!(s.get_account("beta", kept.id).await.unwrap(), kept);
        assert!(archive.starts_with("acme@deleted-"), "{archive}");
        assert_eq!(
            actions(&audit_of(s, &archive, None).await),
            ["tenant.delete", "create", "tenant.create"],
            "the trail is kept under the archive key"
        );
        assert_eq!(actions(&audit_of(s, "beta", None).await), ["create", "tenant.create"]);

        // A tenant of the same id starts empty, its trail too.
        s.create_tenant(&new_tenant("acme"), ACTOR).await.unwrap();
        assert!(s.list_accounts("acme", None).await.unwrap().is_empty());
        assert_eq!(actions(&audit_of(s, "acme", None).await), ["tenant.create"]);
        create(s, "acme", &write("stt", "Speech")).await.unwrap();
        let again = s.delete_tenant("acme", ACTOR).await.unwrap();
        assert_ne!(again, archive, "each deletion has its own archive");
    }
}

/// The read cache used on SQLite answers every read after a write through it with the
/// write's result, and forgets revoked tokens at once.
#[tokio::test]
async fn cached_store_reads_its_own_writes() {
    let b = Backend::open(TestDatabase::sqlite().await).await;
    let cached = patchbay_store::CachedStore::new(b.store.clone());
    cached.create_tenant(&new_tenant("acme"), ACTOR).await.unwrap();
    assert!(cached.list_accounts("acme", None).await.unwrap().is_empty(), "an empty list is cached");
    let created = cached.create_account("acme", Uuid::new_v4(), &write("stt", "One"), ACTOR, &json!({})).await.unwrap();
    assert_eq!(cached.list_accounts("acme", None).await.unwrap().len(), 1);
    assert_eq!(cached.get_account("acme", created.id).await.unwrap().version, 1);

    let mut renamed = write("stt", "Renamed");
    renamed.secrets.clear();
    cached.update_account("acme", created.id, &renamed, Some(1), ACTOR, &json!({})).await.unwrap();
    let got = cached.get_account("acme", created.id).await.unwrap();
    assert_eq!((got.name.as_str(), got.version, got.secrets.len()), ("Renamed", 2, 0));
    cached.record_test_result("acme", created.id, &json!({"status": "ok"}), ACTOR).await.unwrap();
    assert_eq!(cached.get_account("acme", created.id).await.unwrap().last_test, Some(json!({"status": "ok"})));

    let update = TenantUpdate { name: "Acme 2".into(), enabled_types: vec![], time_zone: "UTC".into() };
    cached.get_tenant("acme").await.unwrap();
    cached.update_tenant("acme", &update, None, ACTOR).await.unwrap();
    assert_eq!(cached.get_tenant("acme").await.unwrap().name, "Acme 2");

    let token = NewToken {
        id: Uuid::new_v4(),
        name: "t".into(),
        role: "tenant_admin".into(),
        tenant_id: None,
        hash: vec![9; 32],
    };
    cached.create_token(&token).await.unwrap();
    assert!(cached.find_token(&token.hash).await.unwrap().is_some());
    cached.revoke_token(token.id).await.unwrap();
    assert!(cached.find_token(&token.hash).await.unwrap().is_none(), "a revoked token is not served from the cache");

    cached.delete_account("acme", created.id, None, ACTOR).await.unwrap();
    assert!(matches!(cached.get_account("acme", created.id).await, Err(StoreError::NotFound)));
}

backend_test! {
    #[tokio::test]
    async fn a_write_dropped_midway_leaves_the_store_writable(db) {
        use std::future::Future;
        let b = Backend::open(db).await;
        let s = &b.store;
        // A write whose task is aborted or whose client hangs up is dropped wherever it stands:
        // here after each number of steps (a poll, then time for the database to go on).
        for i in 0..40u32 {
            let tenant = new_tenant(&format!("dropped-{i}"));
            let mut write = std::pin::pin!(s.create_tenant(&tenant, ACTOR));
            for _ in 0..=i % 8 {
                let done = std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx).is_ready())).await;
                if done {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
        let after = s.create_tenant(&new_tenant("after"), ACTOR).await;
        assert!(after.is_ok(), "a write after the dropped ones: {after:?}");
        assert_eq!(s.get_tenant("after").await.unwrap().id, "after");
    }
}
