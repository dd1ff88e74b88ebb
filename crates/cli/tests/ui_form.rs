//! The account form as users stumbled on it (issue 18's walkthrough), each fixed and pinned
//! here in a real headless Chromium against the real `patchbay serve`, on SQLite and
//! PostgreSQL: health that follows the saved values, asking before unsaved edits are lost,
//! generated tokens that wait for Save, placeholders that read as examples, the reason-code
//! rows, show/hide for typed secrets, fixed values as disabled controls, nothing-to-save,
//! no Clear on a required secret, loaded voices that stay a choice, viewers who can copy,
//! focus after a create and a sign-in page without a failed request.

mod browser;
mod vendor;

use browser::{Browser, Harness};
use patchbay_catalog::keys::chat_bot::alterra;
use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::keys::wfm::http_post;
use patchbay_catalog::keys::{aws, sso, statistics_receiver, tts};
use patchbay_testkit::backend_test;
use patchbay_testkit::peers::closed_port;
use reqwest::Method;
use serde_json::{json, Value};

const TENANT: &str = "acme";
const FB_TOKEN: &str = "fb-page-token-SENTINEL-0a71";
const FB_VERIFY: &str = "fb-verify-token-SENTINEL-33c0";

fn accounts() -> String {
    format!("/api/v1/tenants/{TENANT}/integration-accounts")
}

/// Creates the tenant (with AWS enabled) and an account through the API; returns its id.
async fn setup(h: &Harness, body: Value) -> String {
    let tenant = json!({"id": TENANT, "name": "Acme Support", "enabled_types": ["aws"]});
    let (status, _) = h.api(Method::POST, "/api/v1/tenants", Some(tenant)).await;
    assert!(status == 201 || status == 409, "the tenant: {status}");
    let (status, created) = h.api(Method::POST, &accounts(), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("an id").to_owned()
}

async fn sign_in(b: &Browser, token: &str) {
    b.open("").await;
    b.fill("#token", token).await;
    b.click("#signin-form button[type=submit]").await;
    b.wait(".who-name").await;
}

fn stats(port: u16) -> Value {
    json!({"type": "statistics_receiver", "name": "Stats feed",
           "properties": {statistics_receiver::HOST_NAME: "127.0.0.1", statistics_receiver::PORT: port}})
}

async fn version(h: &Harness, id: &str) -> i64 {
    h.api(Method::GET, &format!("{}/{id}", accounts()), None).await.1["version"].as_i64().expect("a version")
}

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_follows_the_saved_values_and_leaving_with_edits_asks_first(db) {
        Harness::run_on(&db, &[], |h| async move {
            let id = setup(&h, stats(closed_port().port())).await;
            let (_, failed) = h.api(Method::POST, &format!("{}/{id}/test", accounts()), None).await;
            assert_eq!(failed["status"], "failed", "{failed}");
            let peer = std::net::TcpListener::bind("127.0.0.1:0").expect("a local peer");
            let open = peer.local_addr().unwrap().port();
            let b = h.browser();
            sign_in(b, &h.admin_token).await;
            b.open(&format!("#/t/{TENANT}/a/{id}")).await;
            b.wait_text(".header-health", "Unreachable").await;
            b.assert_accessible("account").await;

            // 1. Fixed, tested OK on the form and saved: the account is healthy, here and in the list.
            b.fill("#prop-port", &open.to_string()).await;
            b.click("button.test-connection").await;
            b.wait_text(".results .report-ok", "Connection OK").await;
            b.click("button.save").await;
            b.wait_text(".meta .version", "2").await;
            b.wait_text(".header-health", "Healthy").await;
            b.open(&format!("#/t/{TENANT}")).await;
            b.wait_text(&format!(".account-row[data-id='{id}'] .col-health"), "Healthy").await;

            // 1. A new target saved without a test: untested, not the old result.
            b.open(&format!("#/t/{TENANT}/a/{id}")).await;
            b.fill("#prop-port", &closed_port().port().to_string()).await;
            b.click("button.save").await;
            b.wait_text(".meta .version", "3").await;
            b.wait_text(".header-health", "Not tested").await;

            // 2. Unsaved edits: the sidebar link, the tenant switch and Back ask first.
            b.fill("#f-name", "Stats feed (edited)").await;
            b.click("a.nav-link[href='#/t/acme']").await;
            b.wait_text("dialog[open] .dialog-title", "Leave without saving?").await;
            b.click("dialog[open] .dialog-actions .btn-secondary").await;
            b.wait_gone("dialog[open]").await;
            assert!(b.url().await.ends_with(&format!("/a/{id}")), "stayed on the account");
            assert_eq!(b.value("#f-name").await, "Stats feed (edited)", "the edit is still there");
            b.js("history.back()").await;
            b.wait_text("dialog[open] .dialog-title", "Leave without saving?").await;
            b.click("dialog[open] .dialog-actions .btn-secondary").await;
            b.wait_gone("dialog[open]").await;
            assert_eq!(b.value("#f-name").await, "Stats feed (edited)", "Back did not drop the edit");
            b.click("a.tenant-switch").await;
            b.wait_text("dialog[open] .dialog-message", "Stats feed").await;
            b.click("dialog[open] button.confirm").await;
            b.wait("a.tenant-link").await;
            assert_eq!(version(&h, &id).await, 3, "leaving saved nothing");
        })
        .await;
    }
}

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn generated_and_typed_secrets_wait_for_save_and_show_on_request(db) {
        Harness::run_on(&db, &[], |h| async move {
            let id = setup(&h, json!({"type": "messenger", "provider": "facebook", "name": "Facebook main",
                "properties": {facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "1234567890",
                               facebook::TOKEN: FB_TOKEN, facebook::WEBHOOK_VERIFY_TOKEN: FB_VERIFY}})).await;
            let b = h.browser();
            sign_in(b, &h.admin_token).await;
            b.open(&format!("#/t/{TENANT}/a/{id}")).await;
            b.wait("#f-name").await;

            // 10. A required secret offers Replace, not Clear; an optional one both.
            assert!(!b.js("return document.querySelector(\"[data-field='token'] .secret-clear\").hidden === false").await.as_bool().unwrap(),
                "no Clear on the required Page Access Token");
            b.wait("[data-field='webhook_verify_token'] .secret-clear").await;

            // 3. Generate on a saved account: asked first; cancelled, nothing changes.
            b.click("button.action-generate_token").await;
            b.wait_text("dialog[open] .dialog-title", "Replace the Webhook Verify Token?").await;
            b.click("dialog[open] .dialog-actions .btn-secondary").await;
            b.wait_gone("dialog[open]").await;
            assert!(!b.exists(".once-box").await, "cancelled: nothing generated");
            b.click("button.action-generate_token").await;
            b.click("dialog[open] button.confirm").await;
            b.wait("[data-field='webhook_verify_token'] .once-box").await;
            let generated = b.js_string("return document.querySelector('.once-value').value").await;
            assert_eq!(version(&h, &id).await, 1, "generating stores nothing");
            b.assert_accessible("account with a generated token").await;
            b.click("button.save").await;
            b.wait_text(".meta .version", "2").await;
            b.assert_source_free_of(&[generated.as_str(), FB_TOKEN, FB_VERIFY]).await;

            // 7. On a new form, a generated token survives Test connection; typed secrets show on request.
            b.open(&format!("#/t/{TENANT}/new/messenger/facebook")).await;
            b.wait_text("h1.page-title", "New ").await;
            b.fill("#f-name", "Facebook second").await;
            b.fill("#prop-page_username", "acme2").await;
            b.fill("#prop-page_id", "42").await;
            b.fill("#prop-token", "typed-token").await;
            b.click("[data-field='token'] .secret-reveal").await;
            assert_eq!(b.attr("#prop-token", "type").await.as_deref(), Some("text"), "Show shows what is typed");
            assert_eq!(b.attr("[data-field='token'] .secret-reveal", "aria-pressed").await.as_deref(), Some("true"));
            b.click("[data-field='token'] .secret-reveal").await;
            assert_eq!(b.attr("#prop-token", "type").await.as_deref(), Some("password"), "Hide hides it again");
            b.click("button.action-generate_token").await;
            b.wait("[data-field='webhook_verify_token'] .once-box").await;
            let fresh = b.js_string("return document.querySelector('.once-value').value").await;
            b.click("button.test-connection").await;
            b.wait(".results > *").await;
            assert_eq!(b.js_string("return document.querySelector('.once-value').value").await, fresh,
                "the generated token is still shown once a test starts");
            assert_eq!(b.value("#prop-webhook_verify_token").await, fresh);
        })
        .await;
    }
}

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fields_read_as_what_they_are_for_admins_and_viewers(db) {
        Harness::run_on(&db, &[], |h| async move {
            let sso_id = setup(&h, json!({"type": "sso", "provider": "admin", "name": "Admin SSO",
                "properties": {sso::ENABLE_SINGLE_SIGN_ON: false}})).await;
            let b = h.browser();

            // 12. The sign-in page fetches nothing that fails (no 401 in the console).
            b.open("").await;
            b.wait("#token").await;
            let failed = b.js("return performance.getEntriesByType('resource')
                .filter(e => e.responseStatus >= 400).map(e => e.name)").await;
            assert_eq!(failed, json!([]), "requests that failed on the sign-in page");
            b.assert_accessible("sign-in").await;
            sign_in(b, &h.admin_token).await;

            // 4. Examples read as examples, muted; none where there is no value to type.
            b.open(&format!("#/t/{TENANT}/new/aws/default")).await;
            b.wait(&format!("#prop-{}", aws::S3_BUCKET)).await;
            let example = b.attr(&format!("#prop-{}", aws::ACCESS_KEY_ID), "placeholder").await.unwrap_or_default();
            assert!(example.is_empty() || example.starts_with("e.g. "), "the example says so: {example:?}");
            let bucket = b.attr(&format!("#prop-{}", aws::S3_BUCKET), "placeholder").await.unwrap_or_default();
            assert!(bucket.is_empty() || bucket.starts_with("e.g. "), "the example says so: {bucket:?}");
            let colors = b.js(&format!("const e = document.getElementById('prop-{}');
                return [getComputedStyle(e, '::placeholder').color, getComputedStyle(e).color]", aws::S3_BUCKET)).await;
            assert_ne!(colors[0], colors[1], "placeholders are muted");
            b.assert_accessible("new AWS account").await;

            // 9. Fixed values are the disabled control the spec describes, out of the tab order.
            b.open(&format!("#/t/{TENANT}/new/chat_bot/alterra")).await;
            b.wait(&format!("#prop-{}", alterra::METHOD)).await;
            let fixed = b.js(&format!("return ['{}', '{}', '{}'].map(k => {{
                    const e = document.getElementById('prop-' + k);
                    return [e.tagName, e.type, e.disabled, e.type === 'checkbox' ? e.checked : e.value];
                }})", alterra::METHOD, alterra::USE_URL_ENCODE, alterra::MAXIMUM_SUGGESTIONS)).await;
            assert_eq!(fixed, json!([["SELECT", "select-one", true, "POST"], ["INPUT", "checkbox", true, false],
                ["INPUT", "number", true, "1"]]), "Method, Use url encode, Maximum suggestions");

            // 6. Reason codes: no error for the half not typed yet; a fixed value clears its mark.
            b.open(&format!("#/t/{TENANT}/new/wfm/http_post")).await;
            b.wait(&format!("[data-field='{}']", http_post::REASON_CODES_MAPPING)).await;
            let rows = format!("[data-field='{}']", http_post::REASON_CODES_MAPPING);
            b.click(&format!("{rows} .map-add")).await;
            b.fill(&format!("{rows} .map-key"), "Lunch").await;
            b.js(&format!("document.querySelector(\"{rows} .map-value\").focus()")).await;
            assert!(!b.exists(&format!("{rows} .row-error:not([hidden])")).await, "no error before the code is typed");
            b.fill(&format!("{rows} .map-value"), "100000").await;
            b.js(&format!("document.querySelector(\"{rows} .map-add\").focus()")).await;
            b.wait_text(&format!("{rows} .row-error"), "from 0 to 99999").await;
            b.fill(&format!("{rows} .map-value"), "12").await;
            b.wait_gone(&format!("{rows} [aria-invalid='true']")).await;
            b.click(&format!("{rows} .map-add")).await;
            b.fill(&format!("{rows} .map-item:nth-child(2) .map-key"), "Break").await;
            b.click(&format!("{rows} .map-add")).await;
            assert_eq!(b.count(&format!("{rows} .map-item")).await, 3, "Add row took the click after a half-filled row");

            // 12. Focus after a create is on the new page's title, not lost on <body>.
            // (Leaving the half-filled WFM form is confirmed first.)
            b.open(&format!("#/t/{TENANT}/new/tts/google")).await;
            b.click("dialog[open] button.confirm").await;
            b.wait(&format!("#prop-{}", tts::google::API_KEY)).await;
            b.fill("#f-name", "Google voices").await;
            b.fill(&format!("#prop-{}", tts::google::API_KEY), "google-key").await;
            b.click("button.save").await;
            b.wait_url("/a/").await;
            b.wait_text("h1.page-title", "Google voices").await;
            assert_eq!(b.js_string("return document.activeElement.className").await, "page-title");

            // 10. Load Voices, choose, save: the voice stays a choice; saving again without a change says so.
            b.click("button.action-load_voices").await;
            b.wait_text(".results", "voices are offered").await;
            b.select(&format!("select#prop-{}", tts::google::VOICE), "de-DE-Standard-B").await;
            b.click("button.save").await;
            b.wait_text(".meta .version", "2").await;
            b.wait(&format!("select#prop-{}", tts::google::VOICE)).await;
            assert_eq!(b.value(&format!("#prop-{}", tts::google::VOICE)).await, "de-DE-Standard-B");
            b.click("button.save").await;
            b.wait_text("#toasts", "Nothing to save").await;
            b.wait_text(".meta .version", "2").await;

            // 12. A viewer can select and copy values; 4. an empty certificate box shows no example.
            let viewer = h.token("viewer", "tenant_viewer", TENANT).await;
            b.click("button.sign-out").await;
            b.wait("#token").await;
            sign_in(b, &viewer).await;
            b.open(&format!("#/t/{TENANT}/a/{sso_id}")).await;
            let cert = format!("#prop-{}", sso::IDENTITY_PROVIDER_CERTIFICATE);
            b.wait(&cert).await;
            assert_eq!(b.attr(&cert, "placeholder").await.unwrap_or_default(), "", "no example in a viewer's empty box");
            let state = b.js(&format!("const e = document.querySelector('{cert}'); return [e.disabled, e.readOnly]")).await;
            assert_eq!(state, json!([false, true]), "read-only, so it can be selected and copied");
            b.assert_accessible("account as a viewer").await;
            b.set_width(390).await;
            b.wait(&cert).await;
            assert!(!b.scrolls_sideways().await, "the account page fits 390 px");
            b.shot("account-390").await;
            b.set_width(1280).await;
        })
        .await;
    }
}
