//! Each messenger's proof and delivery format, against the vendors' documented samples and
//! the testkit's senders (which sign as the vendors document).

use std::collections::BTreeMap;

use patchbay_catalog::keys::messenger;
use patchbay_edge::{Channel, Credentials, Request};
use patchbay_secrets::SecretString;
use patchbay_store::MessageStatus;
use patchbay_testkit::vendors::inbound::{self, Messenger};
use serde_json::{json, Map, Value};
use uuid::Uuid;

fn secrets(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), SecretString::from((*v).to_owned()))).collect()
}

fn headers(pairs: Vec<(String, String)>) -> http::HeaderMap {
    pairs
        .into_iter()
        .map(|(k, v)| (http::HeaderName::try_from(k).unwrap(), http::HeaderValue::try_from(v).unwrap()))
        .collect()
}

/// The status of checking `body` sent with `sent` headers against an account.
fn check(
    channel: Channel,
    properties: &Value,
    stored: &[(&str, &str)],
    sent: Vec<(String, String)>,
    body: &[u8],
) -> Result<(), (u16, String)> {
    let secrets = secrets(stored);
    let properties: Map<String, Value> = properties.as_object().cloned().unwrap_or_default();
    let account = Credentials { account_id: Uuid::nil(), properties: &properties, secrets: &secrets };
    let headers = headers(sent);
    channel.verify(&account, &Request { headers: &headers, body }).map_err(|r| (r.status, r.reason))
}

#[test]
fn every_catalog_provider_that_takes_deliveries_has_a_channel_and_back() {
    let catalog = patchbay_catalog::catalog();
    let inbound: Vec<&str> =
        catalog.types.iter().flat_map(|t| &t.providers).filter(|p| p.inbound.is_some()).map(|p| p.key).collect();
    assert!(!inbound.is_empty());
    for provider in &inbound {
        assert!(Channel::of(provider).is_some(), "{provider} declares inbound but no channel reads it");
    }
    for channel in Channel::ALL {
        assert!(inbound.contains(&channel.provider()), "{:?} reads a provider that declares no inbound", channel);
        let provider = catalog.provider("messenger", channel.provider()).unwrap();
        for secret in provider.inbound.as_ref().unwrap().secrets {
            assert!(provider.field(secret).is_some_and(|f| f.kind.is_secret()), "{secret} of {}", channel.provider());
        }
    }
}

#[test]
fn a_missing_secret_is_refused_naming_the_field_to_set() {
    let body = b"{}";
    let cases = [
        (Channel::Facebook, Messenger::Facebook { app_secret: "x".into() }, "App Secret"),
        (Channel::Line, Messenger::Line { channel_secret: "x".into() }, "Channel Secret"),
        (Channel::Nexmo, Messenger::Vonage { signature_secret: "x".into(), api_key: "k".into() }, "Signature Secret"),
        (Channel::Viber, Messenger::Viber { token: "x".into() }, "Token"),
        (Channel::Telegram, Messenger::Telegram { secret_token: "x".into() }, "Token"),
    ];
    for (channel, sender, label) in cases {
        let (status, reason) = check(channel, &json!({}), &[], sender.sign(body), body).unwrap_err();
        assert_eq!(status, 403, "{channel:?}");
        assert!(reason.contains(label) && reason.contains("set it"), "{channel:?}: {reason}");
    }
}

#[test]
fn facebook_signature_needs_its_prefix_and_hex() {
    let body = br#"{"object":"page","entry":[]}"#;
    let stored = [(messenger::facebook::APP_SECRET, "app-secret")];
    let good = Messenger::Facebook { app_secret: "app-secret".into() }.sign(body);
    assert_eq!(check(Channel::Facebook, &json!({}), &stored, good.clone(), body), Ok(()));
    let bare = vec![(good[0].0.clone(), good[0].1.trim_start_matches("sha256=").to_owned())];
    assert_eq!(check(Channel::Facebook, &json!({}), &stored, bare, body).unwrap_err().0, 401);
    let not_hex = vec![("X-Hub-Signature-256".to_owned(), "sha256=zz".to_owned())];
    assert_eq!(check(Channel::Facebook, &json!({}), &stored, not_hex, body).unwrap_err().0, 401);
}

#[test]
fn vonage_tokens_must_be_hs256_for_this_body_and_this_account() {
    let body = br#"{"message_uuid":"u"}"#;
    let stored = [(messenger::nexmo::SIGNATURE_SECRET, "sig-secret")];
    let account = json!({messenger::nexmo::KEY: "abcd1234"});
    let ours = Messenger::Vonage { signature_secret: "sig-secret".into(), api_key: "abcd1234".into() };
    assert_eq!(check(Channel::Nexmo, &account, &stored, ours.sign(body), body), Ok(()));
    let other_account = Messenger::Vonage { signature_secret: "sig-secret".into(), api_key: "ffff0000".into() };
    let (status, reason) = check(Channel::Nexmo, &account, &stored, other_account.sign(body), body).unwrap_err();
    assert_eq!((status, reason.contains("api_key")), (403, true), "{reason}");
    // An unsigned token ("alg": "none") carries no proof.
    let unsigned = format!(
        "Bearer {}.{}.",
        base64_url(br#"{"alg":"none","typ":"JWT"}"#),
        base64_url(json!({"payload_hash": "x"}).to_string().as_bytes())
    );
    let refused = check(Channel::Nexmo, &account, &stored, vec![("Authorization".into(), unsigned)], body).unwrap_err();
    assert!(refused.0 == 401 || refused.0 == 403, "{refused:?}");
    assert_eq!(check(Channel::Nexmo, &account, &stored, vec![], body).unwrap_err().0, 401);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn facebook_messages_attachments_echoes_and_delivery_receipts() {
    let body = json!({"object": "page", "entry": [{"id": "1", "time": 1, "messaging": [
        {"sender": {"id": "PSID"}, "recipient": {"id": "1"}, "timestamp": 1_458_692_752_478_i64,
         "message": {"mid": "m_1", "text": "hello", "attachments": [{"type": "image", "payload": {"url": "https://cdn.example/i.png"}}]}},
        {"sender": {"id": "1"}, "recipient": {"id": "PSID"}, "timestamp": 1, "message": {"mid": "m_echo", "is_echo": true, "text": "ours"}},
        {"sender": {"id": "PSID"}, "recipient": {"id": "1"}, "delivery": {"mids": ["m_sent"], "watermark": 1}},
    ]}]});
    let parsed = Channel::Facebook.parse(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(parsed.messages.len(), 1, "the echo of the page's own message is no customer message");
    let m = &parsed.messages[0];
    assert_eq!((m.peer.as_str(), m.dedup_key.as_str(), m.text.as_deref()), ("PSID", "m_1", Some("hello")));
    assert_eq!(m.attachments, json!([{"type": "image", "url": "https://cdn.example/i.png"}]));
    assert_eq!(m.at.timestamp_millis(), 1_458_692_752_478);
    assert_eq!(parsed.statuses.len(), 1);
    assert_eq!(
        (parsed.statuses[0].vendor_id.as_str(), parsed.statuses[0].status),
        ("m_sent", MessageStatus::Delivered)
    );
    assert!(Channel::Facebook.parse(br#"{"object":"instagram","entry":[]}"#).is_err());
}

#[test]
fn telegram_updates_with_photos_captions_and_other_kinds() {
    let photo = json!({"update_id": 10, "message": {"message_id": 5, "date": 1_700_000_000,
        "from": {"id": 42, "first_name": "Ada", "last_name": "Lovelace"}, "chat": {"id": 42, "type": "private"},
        "caption": "look", "photo": [{"file_id": "small"}, {"file_id": "large"}]}});
    let parsed = Channel::Telegram.parse(&serde_json::to_vec(&photo).unwrap()).unwrap();
    let m = &parsed.messages[0];
    assert_eq!((m.peer.as_str(), m.dedup_key.as_str(), m.vendor_id.as_deref()), ("42", "10", Some("5")));
    assert_eq!((m.text.as_deref(), m.display_name.as_deref()), (Some("look"), Some("Ada Lovelace")));
    assert_eq!(m.attachments[0]["file_id"], "large", "the last size is the original");
    let edit = json!({"update_id": 11, "edited_message": {"message_id": 5, "chat": {"id": 42}, "text": "changed"}});
    assert!(Channel::Telegram.parse(&serde_json::to_vec(&edit).unwrap()).unwrap().messages.is_empty());
    assert!(Channel::Telegram.parse(br#"{"message":{}}"#).is_err(), "an update has an update_id");
}

#[test]
fn viber_messages_statuses_and_callbacks_without_a_message() {
    let picture = json!({"event": "message", "timestamp": 1, "message_token": 4_912_661_846_655_238_145_i64,
        "sender": {"id": "01234567890A=", "name": "John McClane"},
        "message": {"type": "picture", "text": "a photo", "media": "https://dl.viber.example/p.jpg"}});
    let parsed = Channel::Viber.parse(&serde_json::to_vec(&picture).unwrap()).unwrap();
    let m = &parsed.messages[0];
    assert_eq!(m.dedup_key, "4912661846655238145");
    assert_eq!(m.attachments[0]["url"], "https://dl.viber.example/p.jpg");
    for (event, status) in
        [("delivered", MessageStatus::Delivered), ("seen", MessageStatus::Read), ("failed", MessageStatus::Failed)]
    {
        let parsed = Channel::Viber.parse(&serde_json::to_vec(&inbound::viber_status(event, 7, "u")).unwrap()).unwrap();
        assert_eq!(parsed.statuses[0].status, status, "{event}");
        assert_eq!(parsed.statuses[0].error.is_some(), status == MessageStatus::Failed);
    }
    for quiet in [inbound::viber_webhook_check(), json!({"event": "subscribed", "timestamp": 1, "user": {"id": "u"}})] {
        let parsed = Channel::Viber.parse(&serde_json::to_vec(&quiet).unwrap()).unwrap();
        assert!(parsed.messages.is_empty() && parsed.statuses.is_empty());
    }
}

#[test]
fn line_events_from_users_and_groups_keep_their_webhook_event_id() {
    let body = json!({"destination": "U0", "events": [
        {"type": "message", "timestamp": 1, "webhookEventId": "E1", "deliveryContext": {"isRedelivery": true},
         "source": {"type": "group", "groupId": "G1", "userId": "U1"}, "message": {"id": "100", "type": "image"}},
        {"type": "follow", "timestamp": 1, "webhookEventId": "E2", "source": {"type": "user", "userId": "U1"}},
    ]});
    let parsed = Channel::Line.parse(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(parsed.messages.len(), 1);
    let m = &parsed.messages[0];
    assert_eq!((m.peer.as_str(), m.dedup_key.as_str()), ("G1", "E1"), "a group chat is the conversation");
    assert_eq!(m.attachments[0], json!({"type": "image", "message_id": "100", "name": null}));
}

#[test]
fn vonage_inbound_and_status_webhooks() {
    let image = json!({"channel": "mms", "message_uuid": "u1", "to": "447700900000", "from": "447700900001",
        "timestamp": "2020-01-01T14:00:00.000Z", "message_type": "image", "image": {"url": "https://api.nexmo.example/i"}});
    let parsed = Channel::Nexmo.parse(&serde_json::to_vec(&image).unwrap()).unwrap();
    let m = &parsed.messages[0];
    assert_eq!((m.peer.as_str(), m.reply_from.as_deref()), ("mms:447700900001", Some("447700900000")));
    assert_eq!(m.attachments[0]["url"], "https://api.nexmo.example/i");
    assert_eq!(m.at.to_rfc3339(), "2020-01-01T14:00:00+00:00");
    let mut rejected = inbound::vonage_status("u2", "rejected", "sms", "a", "b");
    rejected["error"] = json!({"type": "https://developer.vonage.com/api-errors#1300", "title": "1300", "detail": "Not part of the provider network"});
    let parsed = Channel::Nexmo.parse(&serde_json::to_vec(&rejected).unwrap()).unwrap();
    assert_eq!(parsed.statuses[0].status, MessageStatus::Failed);
    assert_eq!(parsed.statuses[0].error.as_deref(), Some("Not part of the provider network"));
}

#[test]
fn nul_characters_are_dropped_from_what_a_delivery_says() {
    let update = serde_json::json!({"update_id": 1, "message": {"message_id": 2, "date": 1,
        "from": {"id": 3, "first_name": "A\0da"}, "chat": {"id": 3}, "text": "hi\0 there"}});
    let parsed = Channel::Telegram.parse(&serde_json::to_vec(&update).unwrap()).unwrap();
    assert_eq!(parsed.messages[0].text.as_deref(), Some("hi there"));
    assert_eq!(parsed.messages[0].display_name.as_deref(), Some("Ada"));
}

#[test]
fn a_vendor_time_no_database_keeps_becomes_the_time_of_arrival() {
    // Before any PostgreSQL date, far ahead, past 2100, and no date chrono has.
    for date in [-8_000_000_000_000_i64, 6_250_000_000_000, 4_102_444_800, 99_999_999_999_999] {
        let update = serde_json::json!({"update_id": 1, "message": {"message_id": 2, "date": date,
            "chat": {"id": 3}, "text": "hi"}});
        let before = chrono::Utc::now();
        let at = Channel::Telegram.parse(&serde_json::to_vec(&update).unwrap()).unwrap().messages[0].at;
        assert!(at >= before && at <= chrono::Utc::now(), "{date}: {at}");
    }
}
