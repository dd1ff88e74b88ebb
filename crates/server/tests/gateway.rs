//! The runtime gateway through the API, on both backends, against vendor stand-ins that
//! follow each vendor's documented contract (`patchbay_testkit::vendors`): the selection
//! rules, daily quotas under parallel callers and across the tenant's midnight, field
//! mapping, bindings, the context of a stateless bot, and each vendor failure's category.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use patchbay_catalog::keys::{chat_bot, next_caller, nlu, tdg, zapier};
use patchbay_gateway::Clock;
use patchbay_testkit::tls::TestCa;
use patchbay_testkit::vendors::business::lookup;
use patchbay_testkit::vendors::messaging as peers;
use patchbay_testkit::{backend_test, Reply, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const ACCOUNTS: &str = "/api/v1/tenants/acme/integration-accounts";
const GATEWAY: &str = "/api/v1/tenants/acme/gateway";

/// The CA of the stand-ins' certificates, which the servers under test trust.
static CA: std::sync::LazyLock<TestCa> = std::sync::LazyLock::new(TestCa::new);

/// Serves a stand-in over HTTPS (accounts take `https://` URLs only).
async fn serve(router: axum::Router) -> std::net::SocketAddr {
    patchbay_testkit::tls::https(router, &CA).await
}

/// A clock a test moves (seconds since the epoch).
fn clock_at(start: DateTime<Utc>) -> (Clock, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(start.timestamp()));
    let read = now.clone();
    (Clock::from_fn(move || Utc.timestamp_opt(read.load(Ordering::SeqCst), 0).unwrap()), now)
}

async fn server(db: &TestDatabase, clock: Option<Clock>, vendors: &[(&str, String)]) -> TestServer {
    let vendors: Vec<(String, url::Url)> =
        vendors.iter().map(|(name, base)| ((*name).to_owned(), url::Url::parse(base).unwrap())).collect();
    let s = TestServer::start_with(db, |settings| {
        if let Some(clock) = clock {
            settings.gateway_clock = clock;
        }
        settings.vendor_urls = vendors;
        settings.egress.extra_roots_pem = Some(CA.ca_pem.clone());
    })
    .await;
    let r = s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme", "time_zone": "Europe/Berlin"}))).await;
    assert_eq!(r.status, 201, "{r:?}");
    s
}

async fn create(s: &TestServer, body: Value) -> String {
    let r = s.call(Method::POST, ACCOUNTS, Some(body)).await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

fn nlu_account(name: &str, addr: std::net::SocketAddr, password: &str) -> Value {
    json!({"type": "nlu", "name": name, "properties": {
        nlu::URL: format!("https://{addr}/natural-language-understanding/api/v1/analyze?version=2017-02-27"),
        nlu::USERNAME: peers::WATSON_USER, nlu::PASSWORD: password}})
}

async fn sentiment(s: &TestServer, token: &str, body: Value) -> Reply {
    s.call_as(token, Method::POST, &format!("{GATEWAY}/sentiment"), Some(body)).await
}

/// GETs `path` until `settled` holds for the answer (at most 5 s): call outcomes (errors,
/// live health) are written after the answer, by the ledger's next batch.
async fn settled(s: &TestServer, path: &str, settled: impl Fn(&Value) -> bool) -> Reply {
    for _ in 0..100 {
        let r = s.call(Method::GET, path, None).await;
        if settled(&r.body) {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} did not settle: {:?}", s.call(Method::GET, path, None).await)
}

/// A problem+json of a vendor or quota failure.
fn assert_gateway_problem(r: &Reply, status: u16, category: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.body["category"], category, "{r:?}");
    assert!(r.headers.get("content-type").is_some_and(|v| v == "application/problem+json"), "{r:?}");
}

backend_test! {
    #[tokio::test]
    async fn sentiment_takes_the_only_nlu_account_and_a_gateway_client_sees_nothing_else(db) {
        let addr = serve(peers::watson_nlu()).await;
        let s = server(&db, None, &[]).await;
        let client = s.token("gateway_client", Some("acme")).await;
        let r = sentiment(&s, &client, json!({"text": "I love this service"})).await;
        assert_eq!(r.status, 409, "no NLU account yet: {r:?}");
        assert_eq!(r.body["errors"][0]["rule"], "no_account", "{r:?}");

        let id = create(&s, nlu_account("Sentiment", addr, peers::WATSON_PASSWORD)).await;
        let r = sentiment(&s, &client, json!({"text": "I love this service"})).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body, json!({"label": "positive", "score": 0.91, "account": id}));
        let r = sentiment(&s, &client, json!({"text": "I am angry", "account": id})).await;
        assert_eq!((r.status, &r.body["label"]), (200, &json!("negative")), "{r:?}");

        create(&s, nlu_account("Second", addr, peers::WATSON_PASSWORD)).await;
        let r = sentiment(&s, &client, json!({"text": "fine"})).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("ambiguous")), "{r:?}");

        // A gateway client calls the gateway and nothing else.
        let r = s.call_as(&client, Method::GET, ACCOUNTS, None).await;
        assert_eq!(r.status, 403, "{r:?}");
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        let r = sentiment(&s, &viewer, json!({"text": "fine", "account": id})).await;
        assert_eq!(r.status, 403, "a viewer does not call the gateway: {r:?}");
        let other = s.tenant_with_token("globex", "gateway_client").await;
        let r = sentiment(&s, &other, json!({"text": "fine", "account": id})).await;
        assert_eq!(r.status, 404, "another tenant's client: {r:?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn naming_an_account_of_another_type_another_tenant_or_a_disabled_one_is_refused(db) {
        let addr = serve(peers::watson_nlu()).await;
        let s = server(&db, None, &[]).await;
        let nlu_id = create(&s, nlu_account("Sentiment", addr, peers::WATSON_PASSWORD)).await;
        let zapier = create(&s, json!({"type": "zapier", "name": "Zapier", "properties": {
            zapier::USERNAME: "zap", zapier::PASSWORD: "zap-Sentinel-pw"}})).await;
        let r = sentiment(&s, &s.admin_token, json!({"text": "hi", "account": zapier})).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("type")), "{r:?}");
        s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "globex"}))).await;
        let r = s.call(Method::POST, "/api/v1/tenants/globex/gateway/sentiment", Some(json!({"text": "hi", "account": nlu_id}))).await;
        assert_eq!(r.status, 404, "another tenant's account: {r:?}");
        let path = format!("{ACCOUNTS}/{nlu_id}");
        let mut account = s.call(Method::GET, &path, None).await.body;
        account["enabled"] = json!(false);
        let r = s.call(Method::PUT, &path, Some(account)).await;
        assert_eq!(r.status, 200, "{r:?}");
        let r = sentiment(&s, &s.admin_token, json!({"text": "hi", "account": nlu_id})).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("disabled")), "{r:?}");
        let r = sentiment(&s, &s.admin_token, json!({"text": " "})).await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (422, &json!("text")), "{r:?}");
        let r = sentiment(&s, &s.admin_token, json!({"txt": "hi"})).await;
        assert_eq!(r.status, 400, "an unknown field: {r:?}");
    }
}

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_daily_quota_lets_exactly_its_limit_through_parallel_callers_and_starts_again_at_the_tenants_midnight(db) {
        let calls = Arc::new(AtomicUsize::new(0));
        let addr = serve(peers::watson_nlu_counted(calls.clone())).await;
        // 23:30 in Berlin (UTC+1): the tenant's day ends in 30 minutes.
        let (clock, now) = clock_at(Utc.with_ymd_and_hms(2026, 12, 7, 22, 30, 0).unwrap());
        let s = server(&db, Some(clock), &[]).await;
        let id = create(&s, nlu_account("Sentiment", addr, peers::WATSON_PASSWORD)).await;
        let limit = 100; // the NLU provider's fixed Limit
        let s = Arc::new(s);
        let callers = (0..=limit).map(|i| {
            let s = s.clone();
            tokio::spawn(async move { sentiment(&s, &s.admin_token, json!({"text": format!("call {i}")})).await })
        });
        let replies: Vec<Reply> = futures::future::join_all(callers).await.into_iter().map(Result::unwrap).collect();
        let ok = replies.iter().filter(|r| r.status == 200).count();
        assert_eq!(ok, limit, "exactly the limit succeeds");
        assert_eq!(calls.load(Ordering::SeqCst), limit, "the refused call never reached the vendor");
        let refused = replies.iter().find(|r| r.status == 429).expect("one refusal");
        assert_gateway_problem(refused, 429, "quota_exceeded");
        assert_eq!(refused.headers["retry-after"], "1800", "30 minutes to Berlin's midnight");
        assert_eq!(refused.headers["ratelimit-limit"], "100");
        assert_eq!(refused.headers["ratelimit-remaining"], "0");
        assert_eq!(refused.headers["ratelimit-reset"], "1800");

        now.fetch_add(1800, Ordering::SeqCst);
        let r = sentiment(&s, &s.admin_token, json!({"text": "a new day"})).await;
        assert_eq!(r.status, 200, "the quota starts again at the tenant's midnight: {r:?}");

        let usage = s.call(Method::GET, &format!("{ACCOUNTS}/{id}/usage?days=2"), None).await;
        assert_eq!(usage.status, 200, "{usage:?}");
        assert_eq!(usage.body["time_zone"], "Europe/Berlin");
        let days: Vec<(String, i64, i64)> = usage.body["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["day"].as_str().unwrap().to_owned(), d["calls"].as_i64().unwrap(), d["quota"].as_i64().unwrap()))
            .collect();
        assert_eq!(days, [("2026-12-07".to_owned(), 100, 100), ("2026-12-08".to_owned(), 1, 100)]);
    }
}

backend_test! {
    #[tokio::test]
    async fn vendor_failures_come_back_in_their_categories_and_count_as_the_vendor_saw_them(db) {
        let addr = serve(peers::watson_nlu()).await;
        let s = server(&db, None, &[]).await;
        let id = create(&s, nlu_account("Sentiment", addr, peers::WATSON_PASSWORD)).await;
        let mut replies = Vec::new();
        let r = sentiment(&s, &s.admin_token, json!({"text": "fail:401"})).await;
        assert_gateway_problem(&r, 502, "invalid_credentials");
        assert_eq!(r.body["vendor_status"], 401);
        replies.push(r);
        let r = sentiment(&s, &s.admin_token, json!({"text": "fail:429"})).await;
        assert_gateway_problem(&r, 429, "rate_limited");
        assert_eq!(r.headers["retry-after"], "7", "the vendor's Retry-After is passed on");
        replies.push(r);
        let r = sentiment(&s, &s.admin_token, json!({"text": "fail:500"})).await;
        assert_gateway_problem(&r, 502, "vendor_error");
        assert_eq!(r.body["vendor_status"], 500);
        replies.push(r);
        let r = sentiment(&s, &s.admin_token, json!({"text": "fail:garbage"})).await;
        assert_gateway_problem(&r, 502, "unexpected_response");
        replies.push(r);
        let r = sentiment(&s, &s.admin_token, json!({"text": "fail:slow"})).await;
        assert_gateway_problem(&r, 504, "timeout");
        replies.push(r);
        let closed = patchbay_testkit::peers::closed_port();
        let unreachable = create(&s, nlu_account("Down", closed, peers::WATSON_PASSWORD)).await;
        let r = sentiment(&s, &s.admin_token, json!({"text": "hi", "account": unreachable})).await;
        assert_gateway_problem(&r, 502, "unreachable");
        replies.push(r);
        for r in &replies {
            assert!(!r.text.contains(peers::WATSON_PASSWORD), "{r:?}");
            assert!(r.status < 500 || r.status == 502 || r.status == 504, "never a 5xx of patchbay's own: {r:?}");
        }

        // Every failure that reached the vendor counts; the unreachable one does not.
        let errors = |n: i64| move |b: &Value| b["days"][0]["errors"].as_i64() == Some(n);
        let usage = settled(&s, &format!("{ACCOUNTS}/{id}/usage?days=1"), errors(5)).await;
        assert_eq!(usage.body["days"][0]["calls"].as_i64(), Some(5), "{usage:?}");
        assert_eq!(usage.body["live"]["last_error"]["category"], "timeout", "{usage:?}");
        let usage = settled(&s, &format!("{ACCOUNTS}/{unreachable}/usage?days=1"), errors(1)).await;
        assert_eq!(usage.body["days"][0]["calls"].as_i64(), Some(0), "{usage:?}");
        let account = s.call(Method::GET, &format!("{ACCOUNTS}/{id}"), None).await;
        assert_eq!(account.body["live"]["last_error"]["category"], "timeout", "the account shows its live health: {account:?}");
        assert!(account.body["live"]["last_success_at"].is_null(), "{account:?}");
        let list = s.call(Method::GET, ACCOUNTS, None).await;
        let listed: Vec<&Value> = list.body["items"].as_array().unwrap().iter().filter(|a| a["id"] == id.as_str()).collect();
        assert_eq!(listed[0]["live"], account.body["live"], "the list shows it too");
        let r = sentiment(&s, &s.admin_token, json!({"text": "I love it", "account": id})).await;
        assert_eq!(r.status, 200);
        settled(&s, &format!("{ACCOUNTS}/{id}"), |a| a["live"]["last_success_at"].is_string()).await;
        let metrics = s.request(Method::GET, "/metrics", Some(&s.admin_token)).send().await.unwrap().text().await.unwrap();
        assert!(
            metrics.contains(r#"gateway_calls_total{type="nlu",provider="default",operation="sentiment",outcome="rate_limited"} 1"#),
            "{metrics}"
        );
    }
}

backend_test! {
    #[tokio::test]
    async fn suggestions_follow_the_bindings_and_a_watson_conversation_keeps_its_context(db) {
        let watson = serve(peers::watson_assistant()).await;
        let alterra = serve(peers::alterra()).await;
        let s = server(&db, None, &[]).await;
        let bot = create(&s, json!({"type": "chat_bot", "provider": "watson", "name": "Watson", "properties": {
            chat_bot::watson::URL: format!("https://{watson}/conversation/api/v1/workspaces/"),
            chat_bot::watson::WORKSPACE_ID: peers::WATSON_WORKSPACE,
            chat_bot::watson::USERNAME: peers::WATSON_USER, chat_bot::watson::PASSWORD: peers::WATSON_PASSWORD,
            chat_bot::watson::MAXIMUM_SUGGESTIONS: 1}})).await;
        let faq = create(&s, json!({"type": "chat_bot", "provider": "alterra", "name": "FAQ", "properties": {
            chat_bot::alterra::URL: format!("https://{alterra}/demo/api"), chat_bot::alterra::API_KEY: peers::ALTERRA_KEY}})).await;
        let path = format!("{GATEWAY}/suggestions");
        let suggest = |body: Value| s.call(Method::POST, &path, Some(body));

        let r = suggest(json!({"text": "hello", "conversation_id": "c1", "service": "Sales"})).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("unbound")), "{r:?}");
        let bindings = json!({"services": {"Sales": bot}, "launch_points": {"web-chat": faq}});
        let r = s.call(Method::PUT, &format!("{GATEWAY}/bindings"), Some(bindings.clone())).await;
        assert_eq!((r.status, &r.body), (200, &bindings), "{r:?}");
        let r = s.call(Method::GET, &format!("{GATEWAY}/bindings"), None).await;
        assert_eq!(r.body, bindings);
        let wrong = json!({"services": {"Support": faq, "Billing": "00000000-0000-4000-8000-000000000000"}, "launch_points": {}});
        let r = s.call(Method::PUT, &format!("{GATEWAY}/bindings"), Some(wrong)).await;
        assert_eq!(r.status, 422, "an unknown account: {r:?}");
        assert_eq!(s.call(Method::GET, &format!("{GATEWAY}/bindings"), None).await.body, bindings, "nothing changed");

        let r = suggest(json!({"text": "hello", "conversation_id": "c1", "service": "Sales"})).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body, json!({"suggestions": [{"text": "Turn 1: you said hello", "confidence": 0.87}], "account": bot}));
        let r = suggest(json!({"text": "and again", "conversation_id": "c1", "service": "Sales"})).await;
        assert_eq!(r.body["suggestions"][0]["text"], "Turn 2: you said and again", "the context was kept: {r:?}");
        let r = suggest(json!({"text": "hi", "conversation_id": "c2", "service": "Sales"})).await;
        assert_eq!(r.body["suggestions"][0]["text"], "Turn 1: you said hi", "another conversation: {r:?}");
        let r = suggest(json!({"text": "hello", "conversation_id": "c3", "service": "Unbound", "launch_point": "web-chat"})).await;
        assert_eq!((r.status, &r.body["account"]), (200, &json!(faq)), "the launch point's bot: {r:?}");
        assert_eq!(r.body["suggestions"].as_array().map(Vec::len), Some(1), "{r:?}");

        // A bound bot is neither deleted nor disabled.
        let r = s.call(Method::DELETE, &format!("{ACCOUNTS}/{bot}"), None).await;
        assert_eq!(r.status, 409, "{r:?}");
        assert!(r.body["detail"].as_str().unwrap().contains("service Sales"), "{r:?}");
        let mut account = s.call(Method::GET, &format!("{ACCOUNTS}/{bot}"), None).await.body;
        account["enabled"] = json!(false);
        let r = s.call(Method::PUT, &format!("{ACCOUNTS}/{bot}"), Some(account)).await;
        assert_eq!(r.status, 409, "{r:?}");
        let r = s.call(Method::PUT, &format!("{GATEWAY}/bindings"), Some(json!({"services": {}, "launch_points": {"web-chat": faq}}))).await;
        assert_eq!(r.status, 200, "{r:?}");
        let r = s.call(Method::DELETE, &format!("{ACCOUNTS}/{bot}"), None).await;
        assert_eq!(r.status, 204, "unbound, it goes: {r:?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn identify_maps_the_vendors_fields_through_the_field_mapping(db) {
        let nc = serve(lookup::next_caller(lookup::NextCallerHost {
            user: lookup::NC_USER, password: lookup::NC_PASSWORD, known_phone: lookup::NC_DOC_PHONE,
        }))
        .await;
        let tdg_peer = serve(lookup::tdg()).await;
        let s = server(&db, None, &[("next_caller", format!("https://{nc}/")), ("tdg", format!("https://{tdg_peer}/"))]).await;
        let mapping = json!([
            {"external_field": "first_name", "contact_field": "first_name"},
            {"external_field": "last_name", "contact_field": "last_name"},
            {"external_field": "address.0.city", "contact_field": "custom.city"},
            {"external_field": "age", "contact_field": null},
        ]);
        let nc_id = create(&s, json!({"type": "next_caller", "name": "Next Caller", "properties": {
            next_caller::USERNAME: lookup::NC_USER, next_caller::PASSWORD: lookup::NC_PASSWORD,
            next_caller::FIELD_MAPPING: mapping}})).await;
        let path = format!("{GATEWAY}/identify");
        let identify = |body: Value| s.call(Method::POST, &path, Some(body));
        let r = identify(json!({"phone": "(212) 555-8383"})).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.body,
            json!({"contact": {"first_name": "Jerry", "last_name": "Seinfeld", "custom.city": "New York"}, "account": nc_id}),
            "mapped rows only; `age` maps to none, unmapped vendor fields stay out"
        );
        let r = identify(json!({"email": lookup::NC_DOC_EMAIL})).await;
        assert_eq!(r.body["contact"]["first_name"], "Jerry", "{r:?}");
        let r = identify(json!({"phone": "2125550000"})).await;
        assert_eq!((r.status, &r.body["contact"]), (200, &json!({})), "no record, no fields: {r:?}");

        let tdg_id = create(&s, json!({"type": "tdg", "name": "TDG", "properties": {
            tdg::USERNAME: lookup::TDG_USER, tdg::PASSWORD: lookup::TDG_PASSWORD, tdg::API_KEY: lookup::TDG_API_KEY,
            tdg::FIELD_MAPPING: [{"external_field": "last_name", "contact_field": "last_name"},
                                 {"external_field": "address.city", "contact_field": "addresses.home"}]}})).await;
        let r = identify(json!({"phone": lookup::TDG_PHONE})).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("ambiguous")), "{r:?}");
        let r = identify(json!({"phone": lookup::TDG_PHONE, "account": tdg_id})).await;
        assert_eq!(r.body, json!({"contact": {"last_name": "Doe", "addresses.home": "Chicago"}, "account": tdg_id}), "{r:?}");
        let r = identify(json!({"phone": "12"})).await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (422, &json!("phone")), "{r:?}");
        for secret in [lookup::NC_PASSWORD, lookup::TDG_PASSWORD, lookup::TDG_API_KEY] {
            assert!(!r.text.contains(secret));
        }
    }
}

backend_test! {
    #[tokio::test]
    async fn crm_search_finds_contacts_in_each_crm_with_its_own_authentication(db) {
        use patchbay_catalog::keys::{oracle_service_cloud as osc, salesforce as sf, servicenow as sn, zendesk as zd};
        use patchbay_testkit::vendors::business::crm;

        let instance = serve(crm::salesforce(crm::SalesforceOrg { instance_url: String::new(), limits: crm::Limits::Granted })).await;
        let login = serve(crm::salesforce(crm::SalesforceOrg {
            instance_url: format!("https://{instance}"),
            limits: crm::Limits::Granted,
        }))
        .await;
        let zendesk_addr = serve(crm::zendesk()).await;
        let servicenow = serve(crm::servicenow()).await;
        let oracle = serve(crm::oracle()).await;
        let s = server(&db, None, &[]).await;
        let salesforce = create(&s, json!({"type": "salesforce", "name": "SF", "properties": {
            sf::LOGIN_URL: format!("https://{login}"), sf::AUTHENTICATION_METHOD: "password",
            sf::CONSUMER_KEY: crm::SF_CONSUMER_KEY, sf::CONSUMER_SECRET: crm::SF_CONSUMER_SECRET,
            sf::USERNAME: crm::SF_USER, sf::PASSWORD: crm::SF_PASSWORD, sf::SECURITY_TOKEN: crm::SF_SECURITY_TOKEN}})).await;
        let zendesk = create(&s, json!({"type": "zendesk", "name": "ZD", "properties": {
            zd::SUBDOMAIN_URL: format!("https://{zendesk_addr}"), zd::EMAIL: crm::ZD_EMAIL, zd::API_TOKEN: crm::ZD_API_TOKEN}})).await;
        let servicenow = create(&s, json!({"type": "servicenow", "name": "SN", "properties": {
            sn::INSTANCE_URL: format!("https://{servicenow}"), sn::AUTHENTICATION_METHOD: "oauth",
            sn::USERNAME: crm::SN_USER, sn::PASSWORD: crm::SN_PASSWORD,
            sn::CLIENT_ID: crm::SN_CLIENT_ID, sn::CLIENT_SECRET: crm::SN_CLIENT_SECRET}})).await;
        let oracle_props = json!({osc::SITE_URL: format!("https://{oracle}"), osc::USERNAME: crm::ORACLE_USER,
            osc::PASSWORD: crm::ORACLE_PASSWORD});
        let oracle = create(&s, json!({"type": "oracle_service_cloud", "name": "OSC", "properties": oracle_props})).await;
        let rightnow = create(&s, json!({"type": "rightnow", "name": "RN", "properties": oracle_props})).await;
        let path = format!("{GATEWAY}/crm/contacts/search");
        for (account, id, url) in [
            (&salesforce, "003D000000IqhSLIAZ", format!("https://{instance}/003D000000IqhSLIAZ")),
            (&zendesk, "35437", format!("https://{zendesk_addr}/agent/users/35437")),
            (&servicenow, "6816f79cc0a8016401c5a33be04be441", String::new()),
            (&oracle, "12", String::new()),
            (&rightnow, "12", String::new()),
        ] {
            for by in [json!({"phone": "(415) 555-1212"}), json!({"email": crm::CONTACT_EMAIL})] {
                let mut body = by.clone();
                body["account"] = json!(account);
                let r = s.call(Method::POST, &path, Some(body)).await;
                assert_eq!(r.status, 200, "{r:?}");
                let contacts = r.body["contacts"].as_array().unwrap();
                assert_eq!(contacts.len(), 1, "one contact (a contact's rows are merged) by {by}: {r:?}");
                assert_eq!((contacts[0]["id"].as_str(), contacts[0]["name"].as_str()), (Some(id), Some("Jane Doe")), "{r:?}");
                assert_eq!(contacts[0]["email"], crm::CONTACT_EMAIL, "{r:?}");
                assert!(contacts[0]["phone"].as_str().is_some_and(|p| p.contains("555")), "{r:?}");
                if !url.is_empty() {
                    assert_eq!(contacts[0]["url"], url, "{r:?}");
                }
            }
            let r = s.call(Method::POST, &path, Some(json!({"account": account, "phone": "2025550000"}))).await;
            assert_eq!((r.status, &r.body["contacts"]), (200, &json!([])), "nobody: {r:?}");
        }
        let nlu = create(&s, nlu_account("NLU", closed_addr().await, peers::WATSON_PASSWORD)).await;
        let r = s.call(Method::POST, &path, Some(json!({"account": nlu, "phone": crm::CONTACT_PHONE}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("type")), "{r:?}");
        let r = s.call(Method::POST, &path, Some(json!({"phone": crm::CONTACT_PHONE}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("ambiguous")), "five CRMs, none named: {r:?}");
    }
}

async fn closed_addr() -> std::net::SocketAddr {
    patchbay_testkit::peers::closed_port()
}

backend_test! {
    #[tokio::test]
    async fn speech_streams_the_vendors_audio_and_serves_identical_requests_from_the_tenants_cache(db) {
        use patchbay_catalog::keys::tts;

        let calls = Arc::new(AtomicUsize::new(0));
        let watson = serve(peers::watson_tts_counted(calls.clone())).await;
        let google = serve(peers::google_tts()).await;
        let s = server(&db, None, &[("google_tts", format!("https://{google}/"))]).await;
        let watson_id = create(&s, json!({"type": "tts", "provider": "watson", "name": "Watson TTS", "properties": {
            tts::watson::URL: format!("https://{watson}/text-to-speech/api/v1/"), tts::watson::USER_NAME: peers::WATSON_USER,
            tts::watson::PASSWORD: peers::WATSON_PASSWORD, tts::watson::VOICE: "en-US_LisaV3Voice"}})).await;
        let client = s.token("gateway_client", Some("acme")).await;
        let speak = |body: Value| {
            let request = s.request(Method::POST, &format!("{GATEWAY}/speech"), Some(&client)).json(&body);
            async move { request.send().await.unwrap() }
        };

        let r = speak(json!({"text": "Welcome to Acme", "format": "wav"})).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "audio/wav");
        assert_eq!(r.headers()["x-cache"], "miss");
        assert_eq!(r.headers()["x-patchbay-account"], watson_id.as_str());
        let audio = r.bytes().await.unwrap();
        assert_eq!(audio, peers::synthesized(peers::WAV_MAGIC, "Welcome to Acme"));
        let r = speak(json!({"text": "Welcome to Acme", "format": "wav"})).await;
        assert_eq!(r.headers()["x-cache"], "hit");
        assert_eq!(r.bytes().await.unwrap(), audio, "the same audio");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the cached prompt did not reach the vendor");
        let r = speak(json!({"text": "Welcome to Acme", "format": "mp3"})).await;
        assert_eq!((r.headers()["x-cache"].to_str().unwrap(), r.headers()["content-type"].to_str().unwrap()), ("miss", "audio/mpeg"));
        assert!(r.bytes().await.unwrap().starts_with(peers::MP3_MAGIC));

        // A long prompt: megabytes streamed through, more than any JSON answer is read.
        let long = "Your call is important to us. ".repeat(60);
        let r = speak(json!({"ssml": format!("<speak>{long}</speak>"), "format": "ogg"})).await;
        assert_eq!(r.status(), 200);
        let audio = r.bytes().await.unwrap();
        assert_eq!(audio.len(), peers::OGG_MAGIC.len() + 2000 * format!("<speak>{long}</speak>").chars().count());
        assert!(audio.len() > 3 * 1024 * 1024, "{}", audio.len());

        let r = s.call_as(&client, Method::POST, &format!("{GATEWAY}/speech"), Some(json!({"text": "Hi", "voice": "xx-XX_NobodyVoice", "format": "wav"}))).await;
        assert_gateway_problem(&r, 502, "not_found");
        assert_eq!(r.body["vendor_status"], 404);
        let r = s.call_as(&client, Method::POST, &format!("{GATEWAY}/speech"), Some(json!({"text": "Hi", "ssml": "<speak/>", "format": "wav"}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (422, &json!("one_of")), "{r:?}");
        let r = s.call_as(&client, Method::POST, &format!("{GATEWAY}/speech"), Some(json!({"text": "Hi", "format": "flac"}))).await;
        assert_eq!(r.status, 422, "an unknown format: {r:?}");

        let google_id = create(&s, json!({"type": "tts", "provider": "google", "name": "Google TTS", "properties": {
            tts::google::API_KEY: peers::GOOGLE_KEY, tts::google::VOICE: "en-US-Standard-C"}})).await;
        let r = s.call_as(&client, Method::POST, &format!("{GATEWAY}/speech"), Some(json!({"text": "Hi", "format": "wav"}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("ambiguous")), "{r:?}");
        let r = speak(json!({"text": "Hola", "format": "wav", "account": google_id, "voice": "es-ES-Standard-A"})).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap(), peers::synthesized(peers::WAV_MAGIC, "Hola"), "decoded from base64");
    }
}

/// Two server processes (each its own pools and ledger) on one PostgreSQL share one quota:
/// the reservation is the database's, not a node's. PostgreSQL only: SQLite is one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgresql_share_one_daily_quota() {
    let Some(db) = TestDatabase::postgres_if_configured().await else { return };
    let calls = Arc::new(AtomicUsize::new(0));
    let addr = serve(peers::watson_nlu_counted(calls.clone())).await;
    let first = server(&db, None, &[]).await;
    let id = create(&first, nlu_account("Sentiment", addr, peers::WATSON_PASSWORD)).await;
    // The second node shares the first one's master key ring, as nodes of one cluster do.
    let second_dir = tempfile::tempdir().unwrap();
    let data = second_dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(first.data_dir.path().join("data/master.key"), data.join("master.key")).unwrap();
    let second = TestServer::start_with(&db, |settings| {
        settings.data_dir = data.clone();
        settings.egress.extra_roots_pem = Some(CA.ca_pem.clone());
    })
    .await;
    // The second node's start replaced the bootstrap admin token; tokens live in the shared
    // database, so its token works on both nodes.
    let token = second.admin_token.clone();
    let first = Arc::new(first);
    let second = Arc::new(second);
    let callers = (0..101).map(|i| {
        let node = if i % 2 == 0 { first.clone() } else { second.clone() };
        let (id, token) = (id.clone(), token.clone());
        tokio::spawn(async move {
            let body = json!({"text": format!("call {i}"), "account": id});
            node.call_as(&token, Method::POST, &format!("{GATEWAY}/sentiment"), Some(body)).await.status
        })
    });
    let statuses: Vec<u16> = futures::future::join_all(callers).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 100, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1, "{statuses:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 100, "the refused call never reached the vendor");
}

backend_test! {
    #[tokio::test]
    async fn native_kb_articles_are_found_by_their_words_and_the_external_kb_is_exclusive_or_supplementary(db) {
        use patchbay_catalog::keys::external_kb;

        let synthetix = serve(lookup::synthetix()).await;
        let s = server(&db, None, &[]).await;
        let r = s.call(Method::PUT, "/api/v1/tenants/acme", Some(json!({"enabled_types": ["external_kb"]}))).await;
        assert_eq!(r.status, 200, "{r:?}");
        let articles = "/api/v1/tenants/acme/kb/articles";
        let write = |title: &str, body: &str| json!({"title": title, "body": body});
        let r = s.call(Method::POST, articles, Some(write("Refunds", "Refunds go back to the card used for the payment within five days."))).await;
        assert_eq!(r.status, 201, "{r:?}");
        assert_eq!(r.etag(), "\"1\"");
        let refunds = r.body["id"].as_str().unwrap().to_owned();
        s.call(Method::POST, articles, Some(write("Card payments", "We take Visa and Mastercard; a refund takes five days."))).await;
        s.call(Method::POST, articles, Some(write("Opening hours", "Mondays to Fridays, 8:00 to 20:00."))).await;
        let r = s.call(Method::POST, articles, Some(json!({"title": "Bad", "body": "x", "url": "http://kb.example/x"}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (422, &json!("url")), "{r:?}");
        assert_eq!(s.call(Method::GET, articles, None).await.body["items"].as_array().map(Vec::len), Some(3));

        let client = s.token("gateway_client", Some("acme")).await;
        let search = |q: &str| {
            let path = format!("{GATEWAY}/kb/search?q={}", url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>());
            let client = client.clone();
            let s = &s;
            async move { s.call_as(&client, Method::GET, &path, None).await }
        };
        let r = search("REFUND").await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["provider"], "native");
        let titles: Vec<&str> = r.body["results"].as_array().unwrap().iter().map(|x| x["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["Refunds", "Card payments"], "a word in the title ranks first; `refund` also finds `refunds`");
        assert_eq!(r.body["results"][0]["source"], "native");
        assert_eq!(r.body["results"][0]["id"], refunds.as_str());
        assert!(r.body["results"][1]["snippet"].as_str().unwrap().contains("[refund]"), "{r:?}");
        let r = search("five days card").await;
        assert_eq!(r.body["results"].as_array().map(Vec::len), Some(2), "every word, in any order: {r:?}");
        let r = search("\" OR * NEAR(").await;
        assert_eq!((r.status, r.body["results"].as_array().map(Vec::len)), (200, Some(0)), "operators are words: {r:?}");
        let r = search("!!!").await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (422, &json!("q")), "{r:?}");

        // A supplementary external KB is searched only when the native KB finds nothing.
        let kb = |exclusive: bool| json!({"type": "external_kb", "name": if exclusive { "Synthetix exclusive" } else { "Synthetix" },
            "properties": {external_kb::URL: format!("https://{synthetix}/1.1/"), external_kb::CONSUMER_KEY: lookup::SYN_CONSUMER_KEY,
                external_kb::APPLICATION_KEY: lookup::SYN_APPLICATION_KEY, external_kb::USE_AS_EXCLUSIVE_KB: exclusive}});
        let supplementary = create(&s, kb(false)).await;
        let r = search("refund").await;
        assert_eq!(r.body["provider"], "native", "the native KB found it: {r:?}");
        let r = search("voicemail pin").await;
        assert_eq!(r.body["provider"], supplementary.as_str(), "{r:?}");
        assert_eq!(r.body["results"][0], json!({"title": lookup::SYN_FAQ, "snippet": lookup::SYN_FAQ, "url": null, "id": "qed3246", "source": "external"}));
        let r = s.call_as(&client, Method::POST, &format!("{GATEWAY}/kb/topics"), Some(write("Parking", "Visitors park in lot B."))).await;
        assert_eq!((r.status, &r.body["provider"]), (201, &json!("native")), "{r:?}");
        assert_eq!(search("parking").await.body["results"][0]["title"], "Parking", "a submitted topic is found");

        // An exclusive external KB is the only one searched, and takes no topics.
        let exclusive = create(&s, kb(true)).await;
        let r = search("refund").await;
        assert_eq!((r.body["provider"].as_str(), r.body["results"].as_array().map(Vec::len)), (Some(exclusive.as_str()), Some(0)), "{r:?}");
        let r = s.call_as(&client, Method::POST, &format!("{GATEWAY}/kb/topics"), Some(write("Parking", "Lot C."))).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("exclusive_kb")), "{r:?}");

        // Articles change with ETags and go.
        let path = format!("{articles}/{refunds}");
        let r = s.call(Method::PUT, &path, Some(write("Refunds and returns", "Returns within 30 days."))).await;
        assert_eq!((r.status, r.etag()), (200, "\"2\"".to_owned()), "{r:?}");
        let stale = s.request(Method::PUT, &path, Some(&s.admin_token)).header("if-match", "\"1\"").json(&write("x", "y"));
        assert_eq!(stale.send().await.unwrap().status(), 412);
        assert_eq!(s.call(Method::DELETE, &path, None).await.status, 204);
        assert_eq!(s.call(Method::GET, &path, None).await.status, 404);
        let audit = s.call(Method::GET, "/api/v1/tenants/acme/audit", None).await;
        let actions: Vec<&str> = audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert!(["kb.create", "kb.update", "kb.delete"].iter().all(|a| actions.contains(a)), "{actions:?}");
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        assert_eq!(s.call_as(&viewer, Method::GET, articles, None).await.status, 200);
        assert_eq!(s.call_as(&viewer, Method::POST, articles, Some(write("a", "b"))).await.status, 403);
    }
}

backend_test! {
    #[tokio::test]
    async fn a_tenant_admin_sets_the_time_zone_its_days_follow(db) {
        let s = server(&db, None, &[]).await;
        let admin = s.token("tenant_admin", Some("acme")).await;
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        let settings = "/api/v1/tenants/acme/settings";
        let r = s.call_as(&admin, Method::PUT, settings, Some(json!({"time_zone": "America/New_York"}))).await;
        assert_eq!((r.status, &r.body["time_zone"]), (200, &json!("America/New_York")), "{r:?}");
        let r = s.call_as(&admin, Method::PUT, settings, Some(json!({"time_zone": "Mars/Olympus"}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (422, &json!("time_zone")), "{r:?}");
        let r = s.call_as(&viewer, Method::PUT, settings, Some(json!({"time_zone": "UTC"}))).await;
        assert_eq!(r.status, 403, "{r:?}");
        let r = s.call_as(&admin, Method::PUT, "/api/v1/tenants/acme", Some(json!({"time_zone": "UTC"}))).await;
        assert_eq!(r.status, 403, "the tenant itself (name, entitlements) stays the service provider's: {r:?}");
        let id = create(&s, nlu_account("Sentiment", closed_addr().await, peers::WATSON_PASSWORD)).await;
        let usage = s.call(Method::GET, &format!("{ACCOUNTS}/{id}/usage?days=1"), None).await;
        assert_eq!(usage.body["time_zone"], "America/New_York", "{usage:?}");
        let audit = s.call(Method::GET, "/api/v1/tenants/acme/audit", None).await;
        assert!(audit.text.contains("America/New_York"), "the change is audited: {audit:?}");
    }
}
