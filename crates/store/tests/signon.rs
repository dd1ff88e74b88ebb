//! Single sign-on's state on both backends: a pending request taken once and only by the
//! browser that started it, assertion ids refused the second time, codes used once, expired
//! rows purged; users created just in time once however many sign-ins race, disabled users
//! returned untouched.

mod common;

use chrono::{TimeDelta, Utc};
use patchbay_store::{NewTenant, SignInIdentity, SignonStore, SsoCode, SsoRequest, Store, UserChange};
use patchbay_testkit::backend_test;
use serde_json::json;

use common::Backend;

async fn tenant(store: &dyn Store, id: &str) {
    let new = NewTenant { id: id.into(), name: id.into(), enabled_types: vec![], time_zone: "UTC".into() };
    store.create_tenant(&new, "t").await.unwrap();
}

fn request(id: &str, browser: &[u8], expires_in: TimeDelta) -> SsoRequest {
    SsoRequest {
        id: id.into(),
        tenant_id: "acme".into(),
        provider: "admin".into(),
        browser_hash: browser.to_vec(),
        return_to: "/#/tenants/acme".into(),
        expires_at: Utc::now() + expires_in,
    }
}

backend_test! {
    #[tokio::test]
    async fn sign_in_state_is_taken_once_by_its_own_browser_and_expires(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        s.create_sso_request(&request("_r1", b"alice", TimeDelta::minutes(10))).await.unwrap();
        s.create_sso_request(&request("_old", b"alice", TimeDelta::seconds(-1))).await.unwrap();
        assert_eq!(s.take_sso_request("acme", "admin", "_r1", b"mallory").await.unwrap(), None);
        assert_eq!(s.take_sso_request("acme", "agent_desktop", "_r1", b"alice").await.unwrap(), None);
        let taken = s.take_sso_request("acme", "admin", "_r1", b"alice").await.unwrap().expect("alice's request");
        assert_eq!(taken.return_to, "/#/tenants/acme");
        assert_eq!(s.take_sso_request("acme", "admin", "_r1", b"alice").await.unwrap(), None, "{}: once", b.store.backend_name());
        assert_eq!(s.take_sso_request("acme", "admin", "_old", b"alice").await.unwrap(), None, "expired");

        let later = Utc::now() + TimeDelta::minutes(5);
        assert!(s.record_assertion("acme", "https://idp", "_a1", later).await.unwrap());
        assert!(!s.record_assertion("acme", "https://idp", "_a1", later).await.unwrap(), "a replay");
        assert!(s.record_assertion("acme", "https://other-idp", "_a1", later).await.unwrap(), "per issuer");
        s.record_assertion("acme", "https://idp", "_gone", Utc::now() - TimeDelta::seconds(1)).await.unwrap();

        let code = SsoCode { return_to: "https://desktop.example/cb".into(), identity: json!({"subject": "ada"}) };
        s.create_sso_code("acme", b"code-hash", &code, Utc::now() + TimeDelta::seconds(60)).await.unwrap();
        s.create_sso_code("acme", b"stale-hash", &code, Utc::now() - TimeDelta::seconds(1)).await.unwrap();
        assert_eq!(s.take_sso_code("globex", b"code-hash").await.unwrap(), None, "another tenant's");
        assert_eq!(s.take_sso_code("acme", b"code-hash").await.unwrap(), Some(code));
        assert_eq!(s.take_sso_code("acme", b"code-hash").await.unwrap(), None, "once");

        // The expired request was taken above; the expired assertion id and code remain.
        assert_eq!(s.purge_sso().await.unwrap(), 2, "{}", b.store.backend_name());
        assert_eq!(b.count("SELECT COUNT(*) FROM sso_assertions").await, 2);
        assert_eq!(s.purge_sso().await.unwrap(), 0);
    }
}

backend_test! {
    #[tokio::test]
    async fn racing_first_sign_ins_create_one_user_and_a_disabled_user_is_left_as_is(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        let ada = SignInIdentity { name_id: "ada@acme.example".into(), email: Some("ada@acme.example".into()), display_name: None };
        assert_eq!(s.sign_in_user("acme", "admin", &ada, None).await.unwrap(), None, "no JIT, no user");
        let signed_in = futures::future::join_all((0..8).map(|_| s.sign_in_user("acme", "admin", &ada, Some("tenant_admin")))).await;
        let ids: std::collections::BTreeSet<_> = signed_in.into_iter().map(|u| u.unwrap().unwrap().id).collect();
        assert_eq!(ids.len(), 1, "{}: one user", b.store.backend_name());
        let users = s.list_users("acme").await.unwrap();
        assert_eq!((users.len(), users[0].created_by.as_str(), users[0].role.as_str()), (1, "jit", "tenant_admin"));
        assert_eq!(b.count("SELECT COUNT(*) FROM audit WHERE action = 'user.create'").await, 1);

        let user = &users[0];
        let change = UserChange { role: None, enabled: Some(false) };
        let disabled = s.update_user("acme", user.id, &change, Some(user.version), "token:ops (1)").await.unwrap();
        let renamed = SignInIdentity { display_name: Some("Ada L.".into()), ..ada };
        let again = s.sign_in_user("acme", "admin", &renamed, Some("tenant_viewer")).await.unwrap().unwrap();
        assert!(!again.enabled);
        assert_eq!((again.display_name, again.last_sign_in_at, again.version), (None, disabled.last_sign_in_at, disabled.version));
        assert_eq!(b.count("SELECT COUNT(*) FROM audit WHERE action = 'user.sign_in'").await, 8);
    }
}
