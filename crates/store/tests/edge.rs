//! The messenger edge's hooks, inbox, conversations and numbered events, against every
//! backend.

mod common;

use chrono::Utc;
use patchbay_store::{
    AccountWrite, AuditQuery, Conflict, Delivery, DeliveryOutcome, EdgeStore, EventKind, InboundMessage, InboxItem,
    MessageStatus, NewOutbound, NewSubscription, NewTenant, Parsed, Rejection, Reseal, SealedSecret, SendOutcome,
    Store, StoreError, SubscriptionState, SIGNING_SECRET,
};
use patchbay_testkit::backend_test;
use serde_json::json;
use uuid::Uuid;

use common::Backend;

async fn tenant_with_account(store: &dyn Store, tenant: &str) -> Uuid {
    store
        .create_tenant(
            &NewTenant { id: tenant.into(), name: tenant.into(), enabled_types: vec![], time_zone: "UTC".into() },
            "t",
        )
        .await
        .unwrap();
    let write = AccountWrite {
        type_key: "messenger".into(),
        provider: "telegram".into(),
        name: "bot".into(),
        enabled: true,
        properties: serde_json::Map::new(),
        secrets: vec![],
        singleton_key: None,
        default_key: None,
        last_test: patchbay_store::LastTestWrite::Keep,
    };
    let id = Uuid::new_v4();
    store.create_account(tenant, id, &write, "t", &json!({})).await.unwrap();
    id
}

fn delivery(tenant: &str, account: Uuid, body: &str) -> Delivery {
    Delivery { tenant_id: tenant.into(), account_id: account, provider: "telegram".into(), body: body.into() }
}

/// The test's "vendor format": `peer|key|text` per line.
fn read(item: &InboxItem) -> Parsed {
    let body = String::from_utf8(item.body.clone()).unwrap();
    let messages = body
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split('|').collect();
            InboundMessage {
                peer: parts[0].into(),
                reply_from: None,
                display_name: Some(format!("Customer {}", parts[0])),
                dedup_key: parts[1].into(),
                vendor_id: Some(parts[1].into()),
                text: Some(parts[2].into()),
                attachments: json!([]),
                at: Utc::now(),
            }
        })
        .collect();
    Parsed { messages, statuses: vec![] }
}

backend_test! {
    #[tokio::test]
    async fn hooks_are_random_per_account_and_rotate(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        let account = tenant_with_account(s, "acme").await;
        let other = tenant_with_account(s, "globex").await;
        let hooks = s.inbound_hooks("acme", &[account, other]).await.unwrap();
        assert_eq!(hooks.len(), 1, "another tenant's account gets no hook here: {hooks:?}");
        let first = hooks[0].hook_id.clone();
        assert_eq!(first.len(), 32);
        assert!(!first.contains(&account.to_string()) && !first.contains("acme"));
        assert_eq!(s.inbound_hooks("acme", &[account]).await.unwrap()[0].hook_id, first, "a hook id is kept");
        let target = s.hook_target(&first).await.unwrap().unwrap();
        assert_eq!((target.tenant_id.as_str(), target.account_id), ("acme", account));

        let rotated = s.rotate_hook("acme", account, "admin").await.unwrap();
        assert_ne!(rotated.hook_id, first);
        assert!(s.hook_target(&first).await.unwrap().is_none(), "the old hook id leads nowhere");
        assert!(s.rotate_hook("acme", other, "admin").await.is_err(), "another tenant's account");

        s.delete_account("acme", account, None, "admin").await.unwrap();
        assert!(s.hook_target(&rotated.hook_id).await.unwrap().is_none(), "a deleted account's hook goes with it");
    }
}

backend_test! {
    #[tokio::test]
    async fn deliveries_become_numbered_events_once_per_vendor_message(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        let account = tenant_with_account(s, "acme").await;
        s.inbound_hooks("acme", &[account]).await.unwrap();
        let rejected = Rejection { tenant_id: "acme".into(), account_id: account, status: 401, reason: "bad signature".into() };
        let kept = s
            .write_deliveries(
                &[delivery("acme", account, "u1|m1|hello\nu1|m2|again"), delivery("acme", account, "u1|m1|hello")],
                &[rejected],
            )
            .await
            .unwrap();
        assert_eq!(kept, 2);
        assert_eq!(s.inbox_len().await.unwrap(), 2);
        let health = &s.inbound_hooks("acme", &[account]).await.unwrap()[0].health;
        assert_eq!((health.accepted, health.rejected), (2, 1));
        assert!(health.last_delivery_at.is_some());
        assert_eq!(health.last_rejected.as_ref().map(|r| (r.status, r.reason.as_str())), Some((401, "bad signature")));

        let pass = s.read_inbox(100, &read).await.unwrap();
        assert_eq!((pass.items, pass.duplicates), (2, 1), "the redelivered m1 is recognised");
        assert_eq!(pass.tenants, ["acme"]);
        assert_eq!(s.inbox_len().await.unwrap(), 0);
        let events = s.events_after("acme", 0, 100).await.unwrap();
        let kinds: Vec<(i64, EventKind)> = events.iter().map(|e| (e.seq, e.kind)).collect();
        assert_eq!(
            kinds,
            [(1, EventKind::ConversationStarted), (2, EventKind::MessageIn), (3, EventKind::MessageIn)]
        );
        let texts: Vec<_> = events.iter().filter_map(|e| e.message.as_ref()?.text.clone()).collect();
        assert_eq!(texts, ["hello", "again"]);
        assert!(events.iter().all(|e| e.conversation_id == events[0].conversation_id && e.account_id == account));
        assert_eq!(events[1].from.name.as_deref(), Some("Customer u1"));
        assert_eq!(events[1].message.as_ref().unwrap().status, MessageStatus::Received);
        assert_eq!(s.events_after("acme", 2, 100).await.unwrap().len(), 1);
        assert_eq!(s.last_event("acme").await.unwrap(), 3);
        assert_eq!(s.last_event("globex").await.unwrap(), 0);

        // A later delivery from another customer starts another conversation; numbering goes on.
        s.write_deliveries(&[delivery("acme", account, "u2|m3|hi")], &[]).await.unwrap();
        s.read_inbox(100, &read).await.unwrap();
        let later = s.events_after("acme", 3, 100).await.unwrap();
        assert_eq!(later.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
        assert_ne!(later[0].conversation_id, events[0].conversation_id);

        // A delivery kept but not yet read survives its process: another opens the same
        // database and reads it.
        s.write_deliveries(&[delivery("acme", account, "u2|m4|still there")], &[]).await.unwrap();
        let reopened = patchbay_store::SqlStore::connect(&b.url).await.unwrap();
        assert_eq!(reopened.read_inbox(100, &read).await.unwrap().items, 1);
        assert_eq!(s.last_event("acme").await.unwrap(), 6);

        s.delete_account("acme", account, None, "admin").await.unwrap();
        assert!(s.events_after("acme", 0, 100).await.unwrap().is_empty(), "an account's conversations go with it");
        for table in ["edge_hooks", "edge_health", "conversations", "conversation_messages", "conversation_events"] {
            assert_eq!(b.count(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
        }
    }
}

backend_test! {
    #[tokio::test]
    async fn replies_are_sent_once_per_key_leased_to_one_sender_and_end_in_a_status_event(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        let account = tenant_with_account(s, "acme").await;
        s.write_deliveries(&[delivery("acme", account, "u1|m1|hello")], &[]).await.unwrap();
        s.read_inbox(100, &read).await.unwrap();
        let conversation = s.events_after("acme", 0, 1).await.unwrap()[0].conversation_id;
        let got = s.conversation("acme", conversation).await.unwrap();
        assert_eq!((got.account_id, got.peer.as_str(), got.channel.as_str()), (account, "u1", "telegram"));
        assert!(s.conversation("globex", conversation).await.is_err(), "another tenant's conversation");

        let reply = |key: Option<&'static str>, text: &'static str| NewOutbound {
            tenant: "acme",
            conversation,
            key,
            text,
            actor: "agent",
        };
        let (first, created) = s.create_outbound(&reply(Some("k1"), "On its way")).await.unwrap();
        assert!(created);
        assert_eq!(first.status, MessageStatus::Pending);
        let (again, created) = s.create_outbound(&reply(Some("k1"), "On its way")).await.unwrap();
        assert_eq!((again.id, created), (first.id, false), "the same key is the same message");
        let reused = s.create_outbound(&reply(Some("k1"), "Something else")).await.unwrap_err();
        assert!(matches!(reused, StoreError::Conflict(Conflict::IdempotencyKeyReused)), "{reused:?}");
        let (second, _) = s.create_outbound(&reply(None, "Anything else?")).await.unwrap();

        let lease = std::time::Duration::from_secs(60);
        let due = s.take_due_outbound(lease, 10).await.unwrap();
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), [first.id, second.id], "oldest first");
        assert_eq!((due[0].peer.as_str(), due[0].attempts), ("u1", 1));
        assert!(s.take_due_outbound(lease, 10).await.unwrap().is_empty(), "leased replies are not taken twice");

        let sent = s.finish_outbound(first.id, &SendOutcome::Sent { vendor_id: Some("v1".into()) }).await.unwrap();
        assert_eq!((sent.status, sent.vendor_id.as_deref()), (MessageStatus::Sent, Some("v1")));
        let later = Utc::now() - chrono::Duration::seconds(1);
        let retry = SendOutcome::Retry { at: later, error: "HTTP 429".into() };
        assert_eq!(s.finish_outbound(second.id, &retry).await.unwrap().status, MessageStatus::Pending);
        let due = s.take_due_outbound(lease, 10).await.unwrap();
        assert_eq!((due.len(), due[0].attempts), (1, 2), "due again, as the second attempt");
        let failed = s.finish_outbound(second.id, &SendOutcome::Failed { error: "blocked".into() }).await.unwrap();
        assert_eq!((failed.status, failed.error.as_deref()), (MessageStatus::Failed, Some("blocked")));
        assert!(s.finish_outbound(second.id, &SendOutcome::Failed { error: "x".into() }).await.is_err(), "ended");

        // The vendor's receipt moves the sent reply on.
        let receipt = |item: &InboxItem| Parsed {
            messages: vec![],
            statuses: vec![patchbay_store::StatusUpdate {
                vendor_id: String::from_utf8(item.body.clone()).unwrap(),
                status: MessageStatus::Delivered,
                error: None,
                at: Utc::now(),
            }],
        };
        s.write_deliveries(&[delivery("acme", account, "v1")], &[]).await.unwrap();
        s.read_inbox(100, &receipt).await.unwrap();
        let statuses: Vec<_> = s
            .events_after("acme", 2, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.message.unwrap().status))
            .collect();
        assert_eq!(
            statuses,
            [
                (EventKind::MessageStatus, MessageStatus::Sent),
                (EventKind::MessageStatus, MessageStatus::Failed),
                (EventKind::MessageStatus, MessageStatus::Delivered),
            ]
        );
        let messages = s.conversation_messages("acme", conversation, 10).await.unwrap();
        let texts: Vec<_> = messages.iter().map(|m| (m.text.clone().unwrap(), m.status)).collect();
        assert_eq!(
            texts,
            [
                ("hello".to_owned(), MessageStatus::Received),
                ("On its way".to_owned(), MessageStatus::Delivered),
                ("Anything else?".to_owned(), MessageStatus::Failed),
            ]
        );
    }
}

backend_test! {
    #[tokio::test]
    async fn conversations_older_than_the_tenants_retention_are_purged(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        let account = tenant_with_account(s, "acme").await;
        assert_eq!(s.retention_days("acme").await.unwrap(), patchbay_store::DEFAULT_RETENTION_DAYS);
        s.write_deliveries(&[delivery("acme", account, "u1|m1|old")], &[]).await.unwrap();
        s.read_inbox(100, &read).await.unwrap();
        let now = Utc::now();
        assert_eq!(s.purge_conversations(now + chrono::Duration::days(89)).await.unwrap(), 0);
        s.set_retention_days("acme", 7, "admin").await.unwrap();
        assert_eq!(s.retention_days("acme").await.unwrap(), 7);
        assert_eq!(s.purge_conversations(now + chrono::Duration::days(6)).await.unwrap(), 0);
        assert_eq!(s.purge_conversations(now + chrono::Duration::days(8)).await.unwrap(), 1);
        assert!(s.events_after("acme", 0, 100).await.unwrap().is_empty());
        assert_eq!(b.count("SELECT COUNT(*) FROM conversation_messages").await, 0);
        assert!(s.last_event("acme").await.unwrap() >= 2, "numbering goes on after a purge");
    }
}

backend_test! {
    #[tokio::test]
    async fn subscriptions_start_after_the_newest_event_record_progress_and_failures_and_rotate_with_the_key_ring(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        let account = tenant_with_account(s, "acme").await;
        s.write_deliveries(&[delivery("acme", account, "u1|m1|before")], &[]).await.unwrap();
        s.read_inbox(100, &read).await.unwrap();
        let id = Uuid::now_v7();
        let sealed = SealedSecret { field: SIGNING_SECRET.into(), key_id: 1, sealed: b"sealed-by-key-1".to_vec() };
        let new = NewSubscription {
            id,
            tenant_id: "acme".into(),
            url: "https://hooks.acme.example/in".into(),
            events: vec!["message_in".into()],
            secret: sealed.clone(),
            actor: "admin".into(),
        };
        let created = s.create_subscription(&new).await.unwrap();
        assert_eq!((created.delivered_seq, created.state), (2, SubscriptionState::Active), "starts after the newest");
        let lease = std::time::Duration::from_secs(60);
        assert!(s.take_due_subscriptions(lease, 10).await.unwrap().is_empty(), "nothing new to deliver");

        s.write_deliveries(&[delivery("acme", account, "u1|m2|after")], &[]).await.unwrap();
        s.read_inbox(100, &read).await.unwrap();
        let due = s.take_due_subscriptions(lease, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert!(s.take_due_subscriptions(lease, 10).await.unwrap().is_empty(), "leased to one sender");
        let retry_at = Utc::now() + chrono::Duration::seconds(30);
        let failed = DeliveryOutcome::Failed { error: "HTTP 503".into(), status: Some(503), retry_at: Some(retry_at) };
        s.record_subscription(id, &failed).await.unwrap();
        let got = s.subscription("acme", id).await.unwrap();
        assert_eq!((got.attempts, got.last_status, got.state), (1, Some(503), SubscriptionState::Active));
        assert!(got.failing_since.is_some());
        assert!(s.take_due_subscriptions(lease, 10).await.unwrap().is_empty(), "not due before its retry");
        let gave_up = DeliveryOutcome::Failed { error: "HTTP 503".into(), status: Some(503), retry_at: None };
        s.record_subscription(id, &gave_up).await.unwrap();
        assert_eq!(s.subscription("acme", id).await.unwrap().state, SubscriptionState::Failed);
        let resumed = s.resume_subscription("acme", id, "admin").await.unwrap();
        assert_eq!((resumed.state, resumed.attempts, resumed.failing_since), (SubscriptionState::Active, 0, None));
        s.record_subscription(id, &DeliveryOutcome::Done { seq: 3, delivered: true }).await.unwrap();
        let done = s.subscription("acme", id).await.unwrap();
        assert_eq!((done.delivered_seq, done.last_error.as_deref()), (3, None));
        assert!(done.last_delivered_at.is_some());

        // The signing secret is one of the values key rotation reseals.
        let counts = s.secrets_by_key_counts().await.unwrap();
        assert!(counts.contains(&(1, 1)), "{counts:?}");
        let others = s.secrets_sealed_by_other_keys(2, None, 100).await.unwrap();
        let stored = others.iter().find(|o| o.account_id == id).expect("the subscription's secret");
        assert_eq!((stored.tenant_id.as_str(), stored.secret.field.as_str()), ("acme", SIGNING_SECRET));
        let reseal = Reseal { current: stored.clone(), key_id: 2, sealed: b"sealed-by-key-2".to_vec() };
        assert_eq!(s.replace_sealed(&[reseal]).await.unwrap(), 1);
        assert_eq!(s.subscription("acme", id).await.unwrap().secret.key_id, 2);

        s.delete_subscription("acme", id, "admin").await.unwrap();
        assert!(s.subscription("acme", id).await.is_err());
        let audit = s.list_audit(&AuditQuery { tenant_id: "acme".into(), account_id: None, before: None, limit: 100 }).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        for action in ["subscription.create", "subscription.resume", "subscription.delete"] {
            assert!(actions.contains(&action), "{action}: {actions:?}");
        }
    }
}
