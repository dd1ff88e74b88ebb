//! The admin screen end to end: the real `patchbay serve` binary, driven in a real headless
//! Chromium through chromedriver (Debian's `chromium` and `chromium-driver`). Screenshots
//! go to `target/ui-shots/`.

mod browser;
mod vendor;

use browser::{enum_title, Browser, Harness};
use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::keys::wfm::http_post;
use patchbay_catalog::keys::{next_caller, statistics_receiver, tts, zendesk};
use patchbay_testkit::backend_test;
use patchbay_testkit::peers::closed_port;
use reqwest::Method;
use serde_json::{json, Value};

const TENANT: &str = "acme";

/// Secret values typed into the browser; none may ever show up in the page source or the log.
const FB_TOKEN: &str = "fb-page-token-SENTINEL-7f3a";
const STT_PASSWORD: &str = "stt-password-SENTINEL-91c2";
const ZENDESK_TOKEN: &str = "zendesk-api-token-SENTINEL-4d8e";
const NICE_PASSWORD: &str = "nice-password-SENTINEL-2b6f";
const NEXT_CALLER_PASSWORD: &str = "next-caller-password-SENTINEL-c5a1";
const TTS_KEY: &str = "google-api-key-SENTINEL-8e0d";
const VIBER_TOKEN: &str = "viber-token-SENTINEL-63b9";
const AWS_SECRET: &str = "aws-secret-key-SENTINEL-5e27";
const SECRETS: &[&str] =
    &[FB_TOKEN, STT_PASSWORD, ZENDESK_TOKEN, NICE_PASSWORD, NEXT_CALLER_PASSWORD, TTS_KEY, VIBER_TOKEN, AWS_SECRET];

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admin_screen_end_to_end(db) {
        Harness::run_on(&db, &[], |h| async move {
            let created = h.api(Method::POST, "/api/v1/tenants", Some(json!({"id": TENANT, "name": "Acme Support"}))).await;
            assert_eq!(created.0, 201, "{created:?}");
            let b = h.browser();
            let ids = admin_story(&h, b).await;
            conflict_and_delete(&h, b, &ids).await;
            let job = export_story(&h, b).await;
            viewer_story(&h, b, &job).await;
            let log = h.server_log();
            for secret in SECRETS {
                assert!(!log.contains(secret), "the server log holds a secret value");
            }
        })
        .await;
    }
}

struct Ids {
    zendesk: String,
    stats: String,
    nice: String,
}

fn accounts_path() -> String {
    format!("/api/v1/tenants/{TENANT}/integration-accounts")
}

fn jobs_path() -> String {
    format!("/api/v1/tenants/{TENANT}/recording-export-jobs")
}

/// Opens the "+" picker from the list and picks a type (and provider, when asked).
async fn pick(b: &Browser, type_key: &str, provider: Option<&str>) {
    b.open(&format!("#/t/{TENANT}")).await;
    b.click(".add-account").await;
    b.click(&format!("dialog[open] .pick-card[data-type='{type_key}']")).await;
    if let Some(p) = provider {
        b.click(&format!("dialog[open] .pick-card[data-provider='{p}']")).await;
    }
    b.wait("#f-name").await;
}

/// Saves the form and waits for the account page it leads to; returns the new account's id.
async fn create(b: &Browser, name: &str) -> String {
    b.click("button.save").await;
    let url = b.wait_url("/a/").await;
    b.wait_text("h1.page-title", name).await;
    let id = url.rsplit("/a/").next().expect("account url").to_owned();
    b.assert_source_free_of(SECRETS).await;
    id
}

async fn admin_story(h: &Harness, b: &Browser) -> Ids {
    // Sign in: a wrong token is refused, the admin token works, and the token is gone from the page.
    b.open("").await;
    b.fill("#token", "pb_not-a-real-token").await;
    b.click("#signin-form button[type=submit]").await;
    b.wait_text("#token-error", "unknown or has been revoked").await;
    b.shot("sign-in").await;
    b.fill("#token", &h.admin_token).await;
    b.click("#signin-form button[type=submit]").await;
    b.wait(&format!("a.tenant-link[data-tenant='{TENANT}']")).await;
    // The role is named as the API document titles it.
    assert_eq!(b.text(".who-role").await, "Service-provider admin");
    b.shot("tenants").await;
    b.click(&format!("a.tenant-link[data-tenant='{TENANT}']")).await;
    b.wait_text(".empty", "Integration accounts specify parameters required for interoperability").await;
    b.assert_source_free_of(&[h.admin_token.as_str()]).await;

    // The picker hides gated types the tenant lacks; Escape closes it.
    b.click(".add-account").await;
    b.wait("dialog[open] .pick-card[data-type='messenger']").await;
    assert!(!b.exists("dialog[open] .pick-card[data-type='nice']").await, "NICE is gated and not enabled");
    assert!(!b.exists("dialog[open] .pick-card[data-type='aws']").await, "AWS is gated and not enabled");
    b.press_escape().await;
    b.wait_gone("dialog[open]").await;

    // Facebook Messenger, with a generated webhook verify token.
    pick(b, "messenger", Some("facebook")).await;
    b.fill("#f-name", "Facebook main").await;
    b.fill("#prop-page_username", "acme").await;
    b.fill("#prop-page_id", "1234567890").await;
    b.fill("#prop-token", FB_TOKEN).await;
    b.click("button.action-generate_token").await;
    b.wait(".once-box").await;
    let generated = b.js_string("return document.querySelector('.once-value').value").await;
    assert!(generated.len() >= 40, "a generated token: {generated:?}");
    assert_eq!(b.js_string("return document.getElementById('prop-webhook_verify_token').value").await, generated);
    assert_eq!(b.unlabelled_inputs().await, json!([]), "every input has a <label for>");
    b.assert_source_free_of(&[generated.as_str()]).await;
    b.js("window.scrollTo(0, 0)").await;
    b.shot("add-form").await;
    let facebook = create(b, "Facebook main").await;
    b.assert_source_free_of(&[generated.as_str()]).await;
    let got = h.api(Method::GET, &format!("{}/{facebook}", accounts_path()), None).await;
    assert_eq!(
        got.1["secrets"],
        json!({facebook::APP_SECRET: false, facebook::TOKEN: true, facebook::WEBHOOK_VERIFY_TOKEN: true}),
        "{got:?}"
    );
    assert_eq!(b.text("[data-field='token'] .secret-state").await, "Set");
    // On the saved account a new token replaces the stored one only when confirmed and
    // saved: it goes into the form, shown once, and the account is unchanged until Save.
    b.click("button.action-generate_token").await;
    b.wait_text("dialog[open] .dialog-title", "Replace the Webhook Verify Token?").await;
    b.click("dialog[open] button.confirm").await;
    b.wait("[data-field='webhook_verify_token'] .once-box").await;
    let stored = b.js_string("return document.querySelector('.once-value').value").await;
    assert!(stored.len() >= 40 && stored != generated, "a new token: {stored:?}");
    assert_eq!(h.api(Method::GET, &format!("{}/{facebook}", accounts_path()), None).await.1["version"], 1);
    b.click("button.save").await;
    b.wait_text(".meta .version", "2").await;
    b.assert_source_free_of(&[generated.as_str(), stored.as_str()]).await;

    // Speech To Text: the default wss:// URL is pre-filled; an https:// URL is refused next
    // to the field, and the password typed for that failed save stays out of the page.
    pick(b, "stt", Some("watson")).await;
    assert_eq!(b.value("#prop-url").await, "wss://stream.watsonplatform.net", "the default is pre-filled");
    b.fill("#f-name", "Watson STT").await;
    b.fill("#prop-url", "https://stream.watsonplatform.net").await;
    b.fill("#prop-username", "watson-user").await;
    b.fill("#prop-password", STT_PASSWORD).await;
    b.click("button.save").await;
    let error = b.wait_text("#prop-url-error", "wss://").await;
    assert!(error.contains("https://"), "the error names what was wrong: {error}");
    assert_eq!(b.attr("#prop-url", "aria-invalid").await.as_deref(), Some("true"));
    b.wait_text(".banner-error", "not saved").await;
    b.assert_source_free_of(SECRETS).await;
    b.shot("add-form-error").await;
    assert_eq!(h.api(Method::GET, &accounts_path(), None).await.1["items"].as_array().unwrap().len(), 1);
    b.fill("#prop-url", "wss://stream.watsonplatform.net").await;
    create(b, "Watson STT").await;

    // WFM (HTTP POST) with a reason code mapping row, checked row by row before saving.
    pick(b, "wfm", Some("http_post")).await;
    b.fill("#f-name", "WFM feed").await;
    b.fill("#prop-url", "https://wfm.acme.example/feed").await;
    b.click("[data-field='reason_codes_mapping'] .map-add").await;
    b.fill("[data-field='reason_codes_mapping'] .map-key", "Lunch").await;
    b.fill("[data-field='reason_codes_mapping'] .map-value", "100000").await;
    b.click("button.save").await;
    b.wait_text("[data-field='reason_codes_mapping'] .row-error", "from 0 to 99999").await;
    b.fill("[data-field='reason_codes_mapping'] .map-value", "12").await;
    assert_eq!(b.unlabelled_inputs().await, json!([]), "mapping rows have labels too");
    let wfm = create(b, "WFM feed").await;
    let got = h.api(Method::GET, &format!("{}/{wfm}", accounts_path()), None).await;
    assert_eq!(got.1["properties"][http_post::REASON_CODES_MAPPING], json!({"Lunch": 12}), "{got:?}");
    assert_eq!(got.1["properties"][http_post::PROTOCOL], "http_post", "the fixed value is applied");

    // WFM and Loxysoft WFM share one account per tenant: both are now shown as taken.
    b.open(&format!("#/t/{TENANT}")).await;
    b.click(".add-account").await;
    b.wait("dialog[open] .pick-card[data-type='loxysoft']").await;
    assert!(b.attr("dialog[open] .pick-card[data-type='loxysoft']", "disabled").await.is_some());
    assert!(b.attr("dialog[open] .pick-card[data-type='wfm']", "disabled").await.is_some());
    b.wait_text("dialog[open] .pick-card[data-type='loxysoft'] .pick-taken", "WFM feed").await;
    b.shot("type-picker-taken").await;
    b.click("dialog[open] .dialog-close").await;
    b.wait_gone("dialog[open]").await;

    // Zendesk.
    pick(b, "zendesk", None).await;
    b.fill("#f-name", "Zendesk").await;
    b.fill("#prop-subdomain_url", "https://acme.zendesk.com").await;
    b.fill("#prop-email", "admin@acme.example").await;
    b.fill("#prop-api_token", ZENDESK_TOKEN).await;
    let zendesk = create(b, "Zendesk").await;

    // Text To Speech (Google): Load Voices, on the saved account, fills a voice choice.
    pick(b, "tts", Some("google")).await;
    b.fill("#f-name", "Google voices").await;
    b.fill("#prop-api_key", TTS_KEY).await;
    assert!(b.attr("button.action-load_voices", "disabled").await.is_some(), "Load Voices needs a saved account");
    let tts = create(b, "Google voices").await;
    b.click("button.action-load_voices").await;
    b.wait_text(".results", "2 voices are offered").await;
    b.select("select#prop-voice", "de-DE-Standard-B").await;
    b.click("button.save").await;
    b.wait_text(".meta .version", "2").await;
    let got = h.api(Method::GET, &format!("{}/{tts}", accounts_path()), None).await;
    assert_eq!(got.1["properties"][tts::google::VOICE], "de-DE-Standard-B", "{got:?}");

    // Viber: Set Webhook asks for the host and port, refuses what is not one, and shows
    // what Viber reads back.
    pick(b, "messenger", Some("viber")).await;
    b.fill("#f-name", "Viber").await;
    b.fill("#prop-bot_username", vendor::VIBER_BOT).await;
    b.fill("#prop-token", VIBER_TOKEN).await;
    create(b, "Viber").await;
    // The inbound webhook URL to give the vendor, with what it saw so far.
    let hook = b.value(".inbound-card .inbound-url").await;
    assert!(hook.starts_with(&format!("{}/hooks/", h.base)) && hook.len() == h.base.len() + 7 + 32, "{hook}");
    b.wait_text(".inbound-card .inbound-counts", "0 accepted, 0 refused").await;
    b.click("button.action-set_webhook").await;
    b.fill("dialog[open] #param-webhook_url_host_and_port", "office").await;
    b.click("dialog[open] button[type=submit]").await;
    b.wait_text("dialog[open] #param-webhook_url_host_and_port-error", "host:port").await;
    b.fill("dialog[open] #param-webhook_url_host_and_port", "office.acme.example:8443").await;
    b.click("dialog[open] button[type=submit]").await;
    b.wait_gone("dialog[open]").await;
    let readback = b.wait_text(".results .readback", "https://office.acme.example:8443/hooks/").await;
    assert!(readback.contains("delivered"), "{readback}");
    b.shot("set-webhook").await;

    // Statistics Data Receiver, tested before saving on the form's values: a closed port
    // is unreachable, a listener on loopback answers.
    let peer = std::net::TcpListener::bind("127.0.0.1:0").expect("a local peer");
    let peer_port = peer.local_addr().unwrap().port().to_string();
    pick(b, "statistics_receiver", None).await;
    assert_eq!(b.value("#prop-protocol").await, "TCP", "the fixed protocol is shown");
    assert!(b.attr("#prop-protocol", "disabled").await.is_some(), "as a disabled choice, out of the tab order");
    b.fill("#f-name", "Stats feed").await;
    b.fill("#prop-host_name", "127.0.0.1").await;
    b.fill("#prop-port", &closed_port().port().to_string()).await;
    b.click("button.test-connection").await;
    b.wait_text(".results .report-failed", "Unreachable").await;
    assert!(
        b.text(".results .report-advice").await.contains("check the host name or URL, the port"),
        "the failure category's advice from the API document is shown"
    );
    assert!(b.exists(".results .step-failed").await, "the failing step is shown");
    b.fill("#prop-port", &peer_port).await;
    b.click("button.test-connection").await;
    b.wait_text(".results .report-ok", "Connection OK").await;
    assert!(b.text(".results .steps").await.contains("Connect"), "each step is shown");
    b.js("window.scrollTo(0, 0)").await;
    b.shot("test-result").await;
    let stats = create(b, "Stats feed").await;
    // Created right after a passing test of the same values: healthy from the start.
    b.wait_text(".header-health", "Healthy").await;
    // Tested again once saved: the result is kept and shows as the account's health.
    b.click("button.test-connection").await;
    b.wait_text(".results .report-ok", "Connection OK").await;
    b.wait_text(".header-health", "Healthy").await;
    drop(peer);

    // NICE is offered once the service provider enables it for the tenant.
    let enabled =
        h.api(Method::PUT, &format!("/api/v1/tenants/{TENANT}"), Some(json!({"enabled_types": ["nice"]}))).await;
    assert_eq!(enabled.0, 200, "{enabled:?}");
    pick(b, "nice", None).await;
    assert_eq!(b.value("#prop-keep_alive_update_interval").await, "60");
    b.fill("#f-name", "NICE recording").await;
    b.fill("#prop-username", "nice-user").await;
    b.fill("#prop-password", NICE_PASSWORD).await;
    b.fill("#prop-url", "https://nice.acme.example/feed").await;
    let nice = create(b, "NICE recording").await;

    // Next Caller: field mapping rows to a contact field of a category and to a custom field.
    pick(b, "next_caller", None).await;
    b.fill("#f-name", "Next Caller").await;
    b.fill("#prop-username", "nc-user").await;
    b.fill("#prop-password", NEXT_CALLER_PASSWORD).await;
    let rows = "[data-field='field_mapping'] .map-item";
    b.click("[data-field='field_mapping'] .map-add").await;
    b.fill(&format!("{rows}:nth-child(1) .cmap-external"), "mobile").await;
    b.select(&format!("{rows}:nth-child(1) .cmap-contact"), "phones_by_type.mobile").await;
    b.click("[data-field='field_mapping'] .map-add").await;
    b.fill(&format!("{rows}:nth-child(2) .cmap-external"), "loyalty").await;
    b.select(&format!("{rows}:nth-child(2) .cmap-contact"), "__custom__").await;
    b.fill(&format!("{rows}:nth-child(2) .cmap-custom"), "loyalty tier").await;
    b.click("button.save").await;
    b.wait_text(&format!("{rows}:nth-child(2) .row-error"), "a-z, 0-9 and _").await;
    b.fill(&format!("{rows}:nth-child(2) .cmap-custom"), "loyalty_tier").await;
    assert_eq!(b.unlabelled_inputs().await, json!([]), "field mapping rows have labels too");
    b.shot("field-mapping").await;
    let next_caller = create(b, "Next Caller").await;
    let got = h.api(Method::GET, &format!("{}/{next_caller}", accounts_path()), None).await;
    assert_eq!(
        got.1["properties"][next_caller::FIELD_MAPPING],
        json!([
            {"external_field": "mobile", "contact_field": "phones_by_type.mobile"},
            {"external_field": "loyalty", "contact_field": "custom.loyalty_tier"},
        ]),
        "{got:?}"
    );

    // WFM over TCP has record field sizes, pre-filled with their defaults; saving it is
    // refused because the tenant already has its WFM account, and the form says why.
    b.open(&format!("#/t/{TENANT}/new/wfm/aspect_tcp")).await;
    assert_eq!(b.value("input[data-record='agent_id']").await, "16");
    assert_eq!(b.value("input[data-record='timestamp']").await, "14");
    assert_eq!(b.unlabelled_inputs().await, json!([]), "record field sizes have labels");
    b.fill("#f-name", "Aspect RTA").await;
    b.fill("#prop-host_name", "rta.acme.example").await;
    b.fill("#prop-port", "7000").await;
    b.fill("input[data-record='agent_id']", "300").await;
    b.click("button.save").await;
    b.wait_text("[data-field='record_field_sizes'] .row-error", "from 1 to 255").await;
    b.fill("input[data-record='agent_id']", "20").await;
    b.click("button.save").await;
    b.wait_text(".banner-error", "already has its one account").await;
    assert!(b.url().await.contains("/new/"), "nothing was created");

    // The list: grouped by type, nine accounts (leaving the refused form is confirmed).
    b.open(&format!("#/t/{TENANT}")).await;
    b.wait_text("dialog[open] .dialog-message", "the new WFM account").await;
    b.click("dialog[open] button.confirm").await;
    b.wait(".account-row").await;
    for t in ["messenger", "stt", "wfm", "zendesk", "tts", "statistics_receiver", "nice", "next_caller"] {
        assert!(b.exists(&format!("tbody.group[data-group='{t}'] .account-row")).await, "a {t} group");
    }
    assert_eq!(b.count(".account-row").await, 9);
    assert_eq!(b.unlabelled_inputs().await, json!([]), "the filters have labels");
    let health = b.text(&format!(".account-row[data-id='{stats}'] .col-health")).await;
    assert!(health.contains("Healthy"), "the stats feed's health in the list: {health:?}");
    // Accounts that push live data show their feed: the WFM host does not resolve, so it retries.
    b.wait_text(&format!(".account-row[data-id='{wfm}'] .feed-badge"), "Feed").await;
    assert!(!b.exists(".account-row[data-type='zendesk'] .feed-badge").await, "a CRM has no feed");
    b.shot("list").await;
    b.assert_source_free_of(SECRETS).await;

    // Edit: rename Zendesk.
    b.click(&format!(".account-row[data-id='{zendesk}'] .account-link")).await;
    b.wait_text("h1.page-title", "Zendesk").await;
    assert_eq!(b.value("#f-name").await, "Zendesk");
    b.fill("#f-name", "Zendesk EU").await;
    b.click("button.save").await;
    b.wait_text("h1.page-title", "Zendesk EU").await;
    b.wait_text(".meta .version", "2").await;
    let got = h.api(Method::GET, &format!("{}/{zendesk}", accounts_path()), None).await;
    assert_eq!((got.1["name"].as_str(), got.1["version"].as_i64()), (Some("Zendesk EU"), Some(2)));
    assert_eq!(got.1["secrets"][zendesk::API_TOKEN], true, "an untouched secret keeps its value");

    Ids { zendesk, stats, nice }
}

async fn conflict_and_delete(h: &Harness, b: &Browser, ids: &Ids) {
    // Someone changes the account through the API while it is open in the browser.
    let path = format!("{}/{}", accounts_path(), ids.stats);
    b.open(&format!("#/t/{TENANT}/a/{}", ids.stats)).await;
    b.wait_text("h1.page-title", "Stats feed").await;
    let behind = h
        .api_if_match(
            Method::PUT,
            &path,
            "1",
            json!({"name": "Stats feed", "properties": {statistics_receiver::HOST_NAME: "stats.acme.example", statistics_receiver::PORT: 6000}}),
        )
        .await;
    assert_eq!(behind.0, 200, "{behind:?}");
    b.fill("#prop-host_name", "stats2.acme.example").await;
    b.click("button.save").await;
    b.wait_text(".banner-stale", "Someone else changed this account").await;
    let text = b.text(".banner-stale").await;
    assert!(text.contains("nothing was overwritten") && text.contains("version 2"), "{text}");
    let now = h.api(Method::GET, &path, None).await.1;
    assert_eq!(
        (
            now["properties"][statistics_receiver::HOST_NAME].as_str(),
            now["properties"][statistics_receiver::PORT].as_i64()
        ),
        (Some("stats.acme.example"), Some(6000))
    );
    assert_eq!(b.value("#prop-host_name").await, "stats2.acme.example", "the user's edit is still in the form");
    b.click(".banner-stale button.reload").await;
    b.wait_value("#prop-port", "6000").await;
    assert_eq!(b.value("#prop-host_name").await, "stats.acme.example");

    // The account's history: created in the browser with the form's passing test kept,
    // tested again once saved, changed through the API.
    b.click("a.tab-history").await;
    b.wait(".audit-row[data-action='update']").await;
    let actions = b.js("return [...document.querySelectorAll('.audit-row')].map(r => r.dataset.action)").await;
    assert_eq!(actions, json!(["update", "test", "test", "create"]), "newest first");
    let change = b.text(".audit-row[data-action='update']").await;
    assert!(change.contains("Host name") && change.contains("Port") && change.contains("6000"), "{change}");
    b.assert_accessible("account history").await;
    b.shot("history").await;

    // Delete asks first; Cancel keeps the account, confirming deletes it.
    b.open(&format!("#/t/{TENANT}/a/{}", ids.nice)).await;
    b.wait_text("h1.page-title", "NICE recording").await;
    b.click("button.delete").await;
    b.wait_text("dialog[open]", "Delete “NICE recording”?").await;
    b.click("dialog[open] .btn-secondary").await;
    b.wait_gone("dialog[open]").await;
    assert_eq!(h.api(Method::GET, &format!("{}/{}", accounts_path(), ids.nice), None).await.0, 200);
    b.click("button.delete").await;
    b.click("dialog[open] button.confirm").await;
    b.wait(".accounts-table").await;
    assert!(!b.exists(&format!(".account-row[data-id='{}']", ids.nice)).await);
    assert_eq!(h.api(Method::GET, &format!("{}/{}", accounts_path(), ids.nice), None).await.0, 404);
    assert!(b.exists(&format!(".account-row[data-id='{}']", ids.zendesk)).await);
}

/// Recording export: an AWS account, a job made in the form (a bad key prefix refused next
/// to its field first), a run started with Run now and followed until it ends (the bucket is
/// a closed port, so it fails), the schedule window edited, and a job deleted. Returns the
/// job's id.
async fn export_story(h: &Harness, b: &Browser) -> String {
    let enabled =
        h.api(Method::PUT, &format!("/api/v1/tenants/{TENANT}"), Some(json!({"enabled_types": ["nice", "aws"]}))).await;
    assert_eq!(enabled.0, 200, "{enabled:?}");
    // The Recording Export screen, from the navigation: no jobs, nor the AWS account they need.
    b.click("a.nav-exports").await;
    b.wait_text(".empty", "does not have yet").await;
    assert!(b.exists(".add-export-job").await, "an administrator may add a job");
    pick(b, "aws", None).await;
    b.fill("#f-name", "S3 archive").await;
    b.click("#prop-use_private_s3_storage").await;
    b.fill("#prop-url", &format!("http://127.0.0.1:{}", closed_port().port())).await;
    b.fill("#prop-access_key_id", "AKIAIOSFODNN7EXAMPLE").await;
    b.fill("#prop-secret_key", AWS_SECRET).await;
    b.fill("#prop-s3_bucket", "acme-recordings").await;
    let aws = create(b, "S3 archive").await;
    // One recording of the exported service, so that the run has something to upload.
    let meta = json!({"global_interaction_id": "gi-1", "call_started_at": "2026-03-12T14:05:09Z",
        "agent_login": "jdoe", "direction": "inbound", "service": "Sales"});
    h.put_recording(TENANT, "rec-1", meta, Some(vec![7u8; 4096])).await;

    b.click("a.nav-exports").await;
    b.wait_text(".empty", "No recording export jobs yet").await;
    assert!(!b.text(".empty").await.contains("does not have yet"), "the account is there now");
    b.click(".add-export-job").await;
    b.wait("#job-name").await;
    assert_eq!(b.value("#job-account").await, aws, "the only AWS account is chosen");
    // The form is the API's description of the settings: default template, tokens, ranges.
    let described = h.api(Method::GET, "/api/v1/recording-export-jobs/settings", None).await.1;
    let field = |key: &str| described["fields"].as_array().unwrap().iter().find(|f| f["key"] == key).unwrap().clone();
    assert_eq!(json!(b.value("#job-filename_template").await), field("filename_template")["default"]);
    assert_eq!(
        b.count(".token-list li").await,
        described["tokens"].as_array().unwrap().len(),
        "every token is offered"
    );
    assert!(b.text(".key-example").await.contains("2026-03-12/Sales/14-05-09_jdoe_"), "an example key");
    let concurrency = field("concurrency");
    assert_eq!(b.value("#job-concurrency").await, concurrency["default"].to_string());
    assert_eq!(b.attr("#job-concurrency", "max").await, Some(concurrency["max"].to_string()));
    assert_eq!(b.unlabelled_inputs().await, json!([]), "every input of the job form has a <label for>");
    b.fill("#job-name", "Nightly archive").await;
    let example = b.attr("#job-services", "placeholder").await.unwrap_or_default();
    assert!(example.starts_with("e.g. "), "the Services box's example reads as one: {example:?}");
    b.fill("#job-services", "Sales, Support").await;
    b.fill("#job-key_prefix", "acme").await;
    b.fill("#job-concurrency", "2").await;
    b.fill("#job-interval", "30").await;
    b.select("#job-interval-unit", "seconds").await;
    // Leaving the unsaved job asks first; staying keeps what was typed.
    b.click("a.nav-exports").await;
    b.wait_text("dialog[open] .dialog-message", "the new export job").await;
    b.click("dialog[open] .dialog-actions .btn-secondary").await;
    b.wait_gone("dialog[open]").await;
    assert!(b.url().await.ends_with("/exports/new"), "stayed on the form");
    assert_eq!(b.value("#job-services").await, "Sales, Support");
    b.click("button.save").await;
    b.wait_text("#job-key_prefix-error", "end with").await;
    b.wait_text("#job-interval-error", "Run every 1 minute to 7 days (60 to 604,800 seconds).").await;
    b.fill("#job-interval", "1").await;
    b.select("#job-interval-unit", "hours").await;
    assert_eq!(b.attr("#job-key_prefix", "aria-invalid").await.as_deref(), Some("true"));
    b.wait_text(".banner-error", "not saved").await;
    assert_eq!(h.api(Method::GET, &jobs_path(), None).await.1["items"], json!([]), "nothing was saved");
    b.js("window.scrollTo(0, 0)").await;
    b.shot("export-form-error").await;
    b.fill("#job-key_prefix", "acme/").await;
    b.js("document.querySelector(\"[data-field='filename_template']\").scrollIntoView()").await;
    b.assert_accessible("export job form").await;
    b.shot("export-form").await;
    b.click("button.save").await;
    b.wait_text("h1.page-title", "Nightly archive").await;
    b.wait("a.tab-runs.active").await;
    let url = b.url().await;
    let job = url.rsplit("/exports/").next().expect("job url").to_owned();
    let got = h.api(Method::GET, &format!("{}/{job}", jobs_path()), None).await.1;
    assert_eq!(
        (&got["account_id"], &got["services"], &got["key_prefix"], &got["concurrency"], &got["window"]),
        (&json!(aws), &json!(["Sales", "Support"]), &json!("acme/"), &json!(2), &Value::Null),
        "{got}"
    );

    // Run now: a run row appears at once and follows the run (polled) until it ends.
    b.wait_text(".runs-status", "No runs yet").await;
    b.click("button.run-now").await;
    b.wait(".run-row").await;
    let ended = b.wait(".run-row:not([data-state='running'])").await;
    assert_eq!(ended.attr("data-state").await.expect("attr").as_deref(), Some("failed"), "no S3 is reachable");
    assert_eq!(b.text(".run-row .run-state").await, "Failed");
    assert!(b.text(".run-row .col-progress").await.contains("of 1"), "the run counts the recording");
    assert!(!b.text(".run-row .run-error").await.is_empty(), "the reason is shown");
    let csv = b.attr(".run-row .metadata-link", "href").await.expect("a metadata link");
    let metadata = h.http.get(format!("{}{csv}", h.base)).bearer_auth(&h.admin_token).send().await.unwrap();
    assert_eq!(metadata.status().as_u16(), 200, "the link names the run's metadata file");
    b.shot("export-runs").await;

    // Settings: export only at night, saved with the version it was read at.
    b.click("a.tab-settings").await;
    b.wait("#job-window-between").await;
    assert!(b.attr("#job-window-start", "disabled").await.is_some(), "no hours while any hour is chosen");
    b.click("#job-window-between").await;
    b.click("button.save").await;
    b.wait_text(".meta .version", "2").await;
    let got = h.api(Method::GET, &format!("{}/{job}", jobs_path()), None).await.1;
    assert_eq!(got["window"], json!({"start": "22:00", "end": "06:00"}), "{got}");

    // The list: the job with its account, services, schedule and last run.
    b.click("a.nav-exports").await;
    let row = format!(".job-row[data-id='{job}']");
    b.wait(&row).await;
    let text = b.text(&row).await;
    for part in
        ["Nightly archive", "S3 archive", "Sales", "Support", "Every 1 hour", "22:00–06:00 UTC", "Enabled", "Failed"]
    {
        assert!(text.contains(part), "the row shows {part}: {text}");
    }
    b.assert_accessible("export jobs").await;
    b.shot("exports-list").await;

    // Delete asks first.
    let temp = json!({"name": "Temporary", "account_id": aws, "services": ["Support"], "enabled": false});
    let temp = h.api(Method::POST, &jobs_path(), Some(temp)).await;
    assert_eq!(temp.0, 201, "{temp:?}");
    let temp = temp.1["id"].as_str().unwrap().to_owned();
    b.open(&format!("#/t/{TENANT}/exports/{temp}/settings")).await;
    b.wait_text("h1.page-title", "Temporary").await;
    b.click("button.delete").await;
    b.wait_text("dialog[open]", "Delete “Temporary”?").await;
    b.click("dialog[open] button.confirm").await;
    b.wait(&row).await;
    assert!(!b.exists(&format!(".job-row[data-id='{temp}']")).await);
    assert_eq!(h.api(Method::GET, &format!("{}/{temp}", jobs_path()), None).await.0, 404);
    b.assert_source_free_of(SECRETS).await;
    job
}

async fn viewer_story(h: &Harness, b: &Browser, job: &str) {
    let viewer = h.token("acme viewer", "tenant_viewer", TENANT).await;

    b.click("button.sign-out").await;
    b.wait("#token").await;
    b.fill("#token", &viewer).await;
    b.click("#signin-form button[type=submit]").await;
    b.wait(".account-row").await;
    assert!(b.url().await.ends_with(&format!("#/t/{TENANT}")), "a tenant user lands on the tenant");
    assert!(!b.exists(".add-account").await, "no add button for a viewer");

    b.click(".account-row[data-type='zendesk'] .account-link").await;
    b.wait_text("h1.page-title", "Zendesk EU").await;
    assert!(!b.exists("button.save").await && !b.exists("button.delete").await, "no save or delete for a viewer");
    assert!(!b.exists(".secret-replace").await && !b.exists(".test-connection").await);
    let enabled = b
        .js("return [...document.querySelectorAll('form input, form select, form textarea')]
                .filter(e => !e.disabled && !e.readOnly).map(e => e.id)")
        .await;
    assert_eq!(enabled, json!([]), "every input is read-only for a viewer");
    b.assert_accessible("account as a viewer").await;
    b.shot("viewer").await;

    // The viewer's session cannot write, even with its valid CSRF token; nor can its bearer token.
    let attempt = b
        .js_async(
            "const done = arguments[arguments.length - 1];
             (async () => {
               const s = await (await fetch('/ui/session')).json();
               const list = await (await fetch('/api/v1/tenants/acme/integration-accounts')).json();
               const r = await fetch('/api/v1/tenants/acme/integration-accounts/' + list.items[0].id, {
                 method: 'DELETE', headers: {'X-CSRF-Token': s.csrf_token}});
               done(r.status);
             })().catch(e => done(String(e)));",
        )
        .await;
    assert_eq!(attempt, json!(403));
    let bearer = h
        .http
        .post(format!("{}{}", h.base, accounts_path()))
        .bearer_auth(&viewer)
        .json(&json!({"type": "zapier", "name": "z", "properties": {"username": "u", "password": "p"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 403);
    assert_eq!(h.api(Method::GET, &accounts_path(), None).await.1["items"].as_array().unwrap().len(), 9);

    // Recording export: the viewer sees the jobs and their runs, and nothing that changes them.
    b.click("a.nav-exports").await;
    b.wait(&format!(".job-row[data-id='{job}']")).await;
    assert!(!b.exists(".add-export-job").await, "no add button for a viewer");
    b.click(&format!(".job-row[data-id='{job}'] .job-link")).await;
    b.wait(".run-row").await;
    assert!(!b.exists("button.run-now").await, "no Run now for a viewer");
    b.click("a.tab-settings").await;
    b.wait("#job-name").await;
    assert!(!b.exists("button.save").await && !b.exists("button.delete").await, "no save or delete for a viewer");
    assert!(!b.exists("button.token").await, "no token buttons for a viewer");
    let enabled = b
        .js("return [...document.querySelectorAll('form input, form select, form textarea')]
                .filter(e => !e.disabled && !e.readOnly).map(e => e.id)")
        .await;
    assert_eq!(enabled, json!([]), "every input of the job is read-only for a viewer");
    b.assert_accessible("export job as a viewer").await;
    assert_eq!(b.attr("#job-services", "placeholder").await.unwrap_or_default(), "", "no example for a viewer");
    b.shot("viewer-export").await;
    b.assert_source_free_of(SECRETS).await;
    b.assert_source_free_of(&[viewer.as_str()]).await;
}

// The Users page: an administrator adds a user (a blank subject and a taken one refused
// next to the field), changes a role, disables a user, meets a change made elsewhere and
// overwrites nothing, deletes a user after confirming; a viewer sees the users and nothing
// that changes them.
backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn users_page_for_an_administrator_and_a_viewer(db) {
        Harness::run_on(&db, &[], |h| async move {
            let created = h.api(Method::POST, "/api/v1/tenants", Some(json!({"id": TENANT, "name": "Acme Support"}))).await;
            assert_eq!(created.0, 201, "{created:?}");
            let doc = h.api(Method::GET, "/api/v1/openapi.json", None).await.1;
            let (admin_title, viewer_title) =
                (enum_title(&doc, "UserRole", "tenant_admin"), enum_title(&doc, "UserRole", "tenant_viewer"));
            let b = h.browser();
            sign_in_with_token(b, &h.admin_token).await;
            b.click(&format!("a.tenant-link[data-tenant='{TENANT}']")).await;
            b.click("a.nav-users").await;
            b.wait_text("h1.page-title", "Users").await;
            b.wait_text(".users-empty", "No users yet").await;
            assert!(b.text(".sso-off").await.contains("Single sign-on is off"), "without Admin SSO nobody can sign in");

            // Add: the subject is required, and said so next to its field.
            b.click(".add-user").await;
            b.wait("dialog[open] #new-user-name_id").await;
            assert_eq!(b.focused().await, "new-user-name_id", "the dialog focuses its first field");
            assert_eq!(b.unlabelled_inputs().await, json!([]), "every input of the dialog has a <label for>");
            b.click("dialog[open] button.save").await;
            b.wait_text("#new-user-name_id-error", "Enter the subject").await;
            assert_eq!(b.attr("#new-user-name_id", "aria-invalid").await.as_deref(), Some("true"));
            b.fill("#new-user-name_id", "ada@acme.example").await;
            b.fill("#new-user-email", "ada@acme.example").await;
            b.fill("#new-user-display_name", "Ada Lovelace").await;
            b.select("#new-user-role", "tenant_admin").await;
            b.click("dialog[open] button.save").await;
            b.wait_gone("dialog[open]").await;
            let users = h.api(Method::GET, &users_path(), None).await.1["items"].clone();
            assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
            let got = &users[0];
            assert_eq!(
                json!([got["name_id"], got["email"], got["display_name"], got["role"], got["enabled"]]),
                json!(["ada@acme.example", "ada@acme.example", "Ada Lovelace", "tenant_admin", true])
            );
            let ada = got["id"].as_str().unwrap().to_owned();
            let row = format!(".user-row[data-id='{ada}']");
            let text = b.wait_text(&row, "Ada Lovelace").await;
            assert!(text.contains("ada@acme.example") && text.contains("Enabled") && text.contains("Never"), "{text}");
            assert_eq!(b.text(&format!("{row} .user-role")).await, admin_title, "the role as the API document titles it");
            assert_eq!(
                b.text(&format!("{row} .created-by")).await,
                b.text(".who-name").await,
                "created by the signed-in token"
            );
            assert_eq!(b.focused().await, "btn btn-secondary btn-small edit-user", "focus goes to the new user's row");

            // A subject the tenant already has is refused next to the field; Escape leaves the dialog.
            b.click(".add-user").await;
            b.fill("dialog[open] #new-user-name_id", "ada@acme.example").await;
            b.click("dialog[open] button.save").await;
            b.wait_text("#new-user-name_id-error", "already has a user with this subject").await;
            b.shot("users-add-error").await;
            b.press_escape().await;
            b.wait_gone("dialog[open]").await;
            assert_eq!(h.api(Method::GET, &users_path(), None).await.1["items"].as_array().unwrap().len(), 1);

            let bob = h
                .api(Method::POST, &users_path(), Some(json!({"name_id": "bob@acme.example", "role": "tenant_viewer"})))
                .await;
            assert_eq!(bob.0, 201, "{bob:?}");
            let bob = bob.1["id"].as_str().unwrap().to_owned();
            b.reload().await;
            let bob_row = format!(".user-row[data-id='{bob}']");
            b.wait(&bob_row).await;
            assert_eq!(b.text(&format!("{bob_row} .user-role")).await, viewer_title);

            // Change a role.
            b.click(&format!("{bob_row} .edit-user")).await;
            b.wait_text("dialog[open] .user-identity", "bob@acme.example").await;
            assert_eq!(b.unlabelled_inputs().await, json!([]), "every input of the dialog has a <label for>");
            b.select("#edit-user-role", "tenant_admin").await;
            b.click("dialog[open] button.save").await;
            b.wait_gone("dialog[open]").await;
            b.wait_text(&format!("{bob_row} .user-role"), &admin_title).await;
            let got = h.api(Method::GET, &user_path(&bob), None).await.1;
            assert_eq!((&got["role"], &got["enabled"], &got["version"]), (&json!("tenant_admin"), &json!(true), &json!(2)));

            // Disable.
            b.click(&format!("{row} .edit-user")).await;
            b.click("dialog[open] #edit-user-enabled").await;
            b.click("dialog[open] button.save").await;
            b.wait_gone("dialog[open]").await;
            b.wait(&format!("{row}[data-enabled='false']")).await;
            assert_eq!(b.text(&format!("{row} .user-state")).await, "Disabled");
            let got = h.api(Method::GET, &user_path(&ada), None).await.1;
            assert_eq!((&got["role"], &got["enabled"]), (&json!("tenant_admin"), &json!(false)), "{got}");
            b.assert_accessible("users").await;
            b.shot("users").await;

            // Someone else changes the user while the dialog is open: nothing is overwritten.
            b.click(&format!("{bob_row} .edit-user")).await;
            b.wait("dialog[open] #edit-user-enabled").await;
            let behind =
                h.api_if_match(Method::PUT, &user_path(&bob), "2", json!({"role": "tenant_viewer", "enabled": true})).await;
            assert_eq!(behind.0, 200, "{behind:?}");
            b.click("dialog[open] #edit-user-enabled").await;
            b.click("dialog[open] button.save").await;
            let stale = b.wait_text("dialog[open] .banner-stale", "Someone else changed this user").await;
            assert!(stale.contains("nothing was overwritten") && stale.contains("version 3"), "{stale}");
            let got = h.api(Method::GET, &user_path(&bob), None).await.1;
            assert_eq!((&got["role"], &got["enabled"]), (&json!("tenant_viewer"), &json!(true)), "{got}");
            b.click("dialog[open] .banner-stale button.reload").await;
            b.wait_gone("dialog[open]").await;
            b.wait_text(&format!("{bob_row} .user-role"), &viewer_title).await;

            // Delete asks first: Cancel keeps the user, confirming deletes them.
            b.click(&format!("{bob_row} .edit-user")).await;
            b.click("dialog[open] button.delete").await;
            b.wait_text("dialog.dialog-confirm[open]", "Delete “bob@acme.example”?").await;
            b.click("dialog.dialog-confirm[open] .btn-secondary").await;
            b.wait_gone("dialog.dialog-confirm[open]").await;
            assert_eq!(h.api(Method::GET, &user_path(&bob), None).await.0, 200);
            b.click("dialog[open] button.delete").await;
            b.click("dialog.dialog-confirm[open] button.confirm").await;
            b.wait_gone("dialog[open]").await;
            b.wait_gone(&bob_row).await;
            assert_eq!(h.api(Method::GET, &user_path(&bob), None).await.0, 404);
            assert!(b.exists(&row).await);

            // A viewer sees the users and nothing that changes them.
            let viewer = h.token("acme viewer", "tenant_viewer", TENANT).await;
            b.click("button.sign-out").await;
            sign_in_with_token(b, &viewer).await;
            b.click("a.nav-users").await;
            b.wait_text(&format!("{row} .user-state"), "Disabled").await;
            assert!(b.exists(".readonly-notice").await, "the page says it is read-only");
            assert!(!b.exists(".add-user").await && !b.exists(".edit-user").await, "no add or edit for a viewer");
            b.assert_accessible("users as a viewer").await;
            b.shot("users-viewer").await;
        })
        .await;
    }
}

fn users_path() -> String {
    format!("/api/v1/tenants/{TENANT}/users")
}

fn user_path(id: &str) -> String {
    format!("{}/{id}", users_path())
}

/// Signs in with an API token from the sign-in page.
async fn sign_in_with_token(b: &Browser, token: &str) {
    b.open("").await;
    b.fill("#token", token).await;
    b.click("#signin-form button[type=submit]").await;
    b.wait(".who-name").await;
}
