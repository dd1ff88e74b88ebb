//! The Integration Accounts list and the type picker in a real headless Chromium, on SQLite
//! and PostgreSQL: sortable columns, the filter kept in the URL and the count, copy buttons,
//! clone, Test all with live progress, the searchable picker; the history in labels and
//! plain words, a blocked test worded for who ran it; export run failures with their reasons;
//! the list and the runs at 390 px. Screenshots go to `target/ui-shots/`.

mod browser;
mod vendor;

use browser::{enum_title, Browser, Harness};
use fantoccini::key::Key;
use patchbay_catalog::keys::messenger::{facebook, viber};
use patchbay_catalog::keys::wfm::aspect_tcp;
use patchbay_catalog::keys::{aws, statistics_receiver, tts, zendesk};
use patchbay_testkit::backend_test;
use patchbay_testkit::moto::S3User;
use patchbay_testkit::peers::closed_port;
use reqwest::Method;
use serde_json::{json, Value};

const TENANT: &str = "acme";
const ZENDESK_TOKEN: &str = "zendesk-token-SENTINEL-1a2b";

fn accounts_path() -> String {
    format!("/api/v1/tenants/{TENANT}/integration-accounts")
}

/// Creates an account through the API; returns its id.
async fn create(h: &Harness, body: Value) -> String {
    let (status, created) = h.api(Method::POST, &accounts_path(), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("an id").to_owned()
}

async fn sign_in(b: &Browser, token: &str) {
    b.open("#/").await;
    b.wait("#token").await;
    b.fill("#token", token).await;
    b.click("#signin-form button[type=submit]").await;
    b.wait("button.sign-out").await;
}

async fn sign_out(b: &Browser) {
    b.click("button.sign-out").await;
    b.wait("#token").await;
}

/// The names of the rows of a type's group, in the order shown.
async fn names_in(b: &Browser, group: &str) -> Vec<String> {
    let names = b
        .js(&format!(
            "return [...document.querySelectorAll(\"tbody.group[data-group='{group}'] .account-row .account-link\")].map(a => a.textContent)"
        ))
        .await;
    serde_json::from_value(names).expect("names")
}

/// The tooltip of a row's health badge (the last test's message).
async fn health_title(b: &Browser, id: &str) -> String {
    b.attr(&format!(".account-row[data-id='{id}'] .health"), "title").await.unwrap_or_default()
}

/// Starts Test all and waits for its end; returns what the progress line said on the way.
async fn test_all(b: &Browser, total: usize) -> Vec<String> {
    b.js("const p = document.querySelector('.test-all-progress'); window.__progress = [];
          new MutationObserver(() => window.__progress.push(p.textContent))
            .observe(p, {childList: true, characterData: true, subtree: true});")
        .await;
    b.click("button.test-all").await;
    b.wait_text(".test-all-progress", &format!("Tested all {total}")).await;
    serde_json::from_value(b.js("return window.__progress").await).expect("progress texts")
}

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_accounts_list_sorts_filters_copies_clones_tests_all_and_picks_types(db) {
        Harness::run_on(&db, &[], |h| async move {
            let (status, body) = h.api(Method::POST, "/api/v1/tenants", Some(json!({"id": TENANT, "name": "Acme Support"}))).await;
            assert_eq!(status, 201, "{body}");
            let b = h.browser();
            let peer = std::net::TcpListener::bind("127.0.0.1:0").expect("a local peer");
            let stats = |name: &str, host: &str, port: u16| json!({"type": "statistics_receiver", "name": name,
                "properties": {statistics_receiver::HOST_NAME: host, statistics_receiver::PORT: port}});
            let live = create(&h, stats("Stats live", "127.0.0.1", peer.local_addr().unwrap().port())).await;
            let down = create(&h, stats("Stats down", "127.0.0.1", closed_port().port())).await;
            let private = create(&h, stats("Stats private", "10.0.0.1", 9000)).await;
            let mut spare = stats("Stats spare", "127.0.0.1", 9001);
            spare["enabled"] = json!(false);
            create(&h, spare).await;
            let zendesk = create(&h, json!({"type": "zendesk", "name": "Zendesk EU", "enabled": false,
                "properties": {zendesk::SUBDOMAIN_URL: "https://acme.zendesk.com", zendesk::EMAIL: "admin@acme.example",
                    zendesk::API_TOKEN: ZENDESK_TOKEN}})).await;
            create(&h, json!({"type": "tts", "provider": "google", "name": "Google voices",
                "properties": {tts::google::API_KEY: "google-key"}})).await;
            let viber = create(&h, json!({"type": "messenger", "provider": "viber", "name": "Viber",
                "properties": {viber::BOT_USERNAME: vendor::VIBER_BOT, viber::TOKEN: "viber-token"}})).await;
            let wfm = create(&h, json!({"type": "wfm", "provider": "aspect_tcp", "name": "Aspect RTA",
                "properties": {aspect_tcp::HOST_NAME: "127.0.0.1", aspect_tcp::PORT: closed_port().port()}})).await;
            let fb = create(&h, json!({"type": "messenger", "provider": "facebook", "name": "Facebook", "enabled": false,
                "properties": {facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "1234567890", facebook::TOKEN: "fb-token",
                    facebook::WEBHOOK_VERIFY_TOKEN: "verify-me"}})).await;
            let (status, generated) =
                h.api(Method::POST, &format!("{}/{fb}/actions/generate_token", accounts_path()), Some(json!({}))).await;
            assert_eq!(status, 200, "{generated}");
            let total = 9;

            sign_in(b, &h.admin_token).await;
            b.open(&format!("#/t/{TENANT}")).await;
            b.wait(".account-row").await;
            assert_eq!(b.count(".account-row").await, total);
            assert_eq!(b.text(".toolbar-summary").await, "9 accounts");
            let inline = "return getComputedStyle(document.querySelector('.state-inline')).display";
            assert_eq!(b.js_string(inline).await, "none", "the State column says it where it fits");

            // Sorting: by name within each type, a header press reverses it and says so.
            let ascending = ["Stats down", "Stats live", "Stats private", "Stats spare"];
            assert_eq!(names_in(b, "statistics_receiver").await, ascending);
            assert_eq!(b.attr("th.col-name", "aria-sort").await.as_deref(), Some("ascending"));
            b.click("button.sort-button[data-sort='name']").await;
            b.wait("th.col-name[aria-sort='descending']").await;
            let descending: Vec<&str> = ascending.iter().rev().copied().collect();
            assert_eq!(names_in(b, "statistics_receiver").await, descending);
            assert_eq!(b.attr("th.col-health", "aria-sort").await.as_deref(), Some("none"));
            assert!(b.url().await.contains("sort=-name"), "the order is in the URL");

            // The filter: in the count, in the URL, and still there after a reload.
            b.fill("#filter-name", "stats").await;
            b.wait_text(".toolbar-summary", "4 of 9 accounts").await;
            assert_eq!(b.count(".account-row").await, 4);
            assert!(b.url().await.contains("q=stats"), "{}", b.url().await);
            b.reload().await;
            b.wait(".account-row").await;
            assert_eq!(b.value("#filter-name").await, "stats");
            assert_eq!(b.text(".toolbar-summary").await, "4 of 9 accounts");
            assert_eq!(names_in(b, "statistics_receiver").await, descending, "the order survives the reload too");
            b.open(&format!("#/t/{TENANT}?type=messenger")).await;
            b.wait_text(".toolbar-summary", "2 of 9 accounts").await;
            assert_eq!(b.value("#filter-type").await, "messenger");

            // Copy buttons: the id, and a messenger's inbound webhook URL.
            b.js("window.__copied = []; Object.defineProperty(navigator.clipboard, 'writeText',
                  {value: (text) => { window.__copied.push(text); return Promise.resolve(); }});").await;
            b.click(&format!(".account-row[data-id='{viber}'] .copy-id")).await;
            b.wait_text(&format!(".account-row[data-id='{viber}'] .copy-id"), "Copied").await;
            b.click(&format!(".account-row[data-id='{viber}'] .copy-webhook")).await;
            let copied: Vec<String> = serde_json::from_value(b.js("return window.__copied").await).unwrap();
            assert_eq!(copied[0], viber);
            assert!(copied[1].starts_with(&format!("{}/hooks/", h.base)), "{copied:?}");
            let name = b.text(&format!(".account-row[data-id='{viber}'] .copy-id")).await;
            assert!(name.contains("Copied"), "{name}");
            let announced = b.js_string("return document.querySelector('.copy-status').textContent").await;
            assert_eq!(announced, "Copied the webhook URL of Viber.", "the copy is announced");

            // Clone: the new-account form, named "Copy of …", without the secrets.
            b.open(&format!("#/t/{TENANT}")).await;
            b.click(&format!(".account-row[data-id='{zendesk}'] .clone-account")).await;
            b.wait_url(&format!("/new/zendesk/default?clone={zendesk}")).await;
            b.wait_value("#f-name", "Copy of Zendesk EU").await;
            b.wait_text(".clone-notice", "secrets are not copied").await;
            assert_eq!(b.value("#prop-api_token").await, "", "the secret is entered again");
            assert_eq!(b.value(&format!("#prop-{}", zendesk::SUBDOMAIN_URL)).await, "https://acme.zendesk.com");
            assert_eq!(b.value(&format!("#prop-{}", zendesk::EMAIL)).await, "admin@acme.example", "the rest is copied");
            b.assert_source_free_of(&[ZENDESK_TOKEN]).await;

            // Test all, as the service provider: each row's health as its result comes, and
            // the operator's advice for a blocked address.
            b.open(&format!("#/t/{TENANT}")).await;
            b.wait(".account-row").await;
            assert_eq!(b.attr(".test-all-progress", "aria-live").await.as_deref(), Some("polite"));
            let progress = test_all(b, 6).await;
            assert!(progress.iter().any(|p| p.starts_with("Tested 0 of 6")), "{progress:?}");
            assert!(progress.iter().any(|p| p.starts_with("Tested 3 of 6")), "counted as results came: {progress:?}");
            assert!(progress.last().unwrap().contains("failing"), "{progress:?}");
            assert!(b.text(&format!(".account-row[data-id='{live}'] .col-health")).await.contains("Healthy"));
            let doc = h.api(Method::GET, "/api/v1/openapi.json", None).await.1;
            let unreachable = enum_title(&doc, "Category", "unreachable");
            assert!(b.text(&format!(".account-row[data-id='{down}'] .col-health")).await.contains(&unreachable));
            assert!(b.text(&format!(".account-row[data-id='{wfm}'] .col-health")).await.contains(&unreachable));
            assert!(b.text(&format!(".account-row[data-id='{private}'] .col-health")).await.contains(&enum_title(&doc, "Category", "blocked")));
            assert!(health_title(b, &private).await.contains("--egress-allow private"), "operators are told the flag");
            assert_eq!(b.count(".account-row .testing").await, 0, "every row shows its result");
            assert!(!b.exists(".account-row[data-type='zendesk'] .col-health time").await, "a disabled account is not tested");
            b.assert_accessible("accounts").await;
            b.shot("accounts").await;

            // The type picker: search, arrows, Enter; Escape returns to the add button.
            b.click(".add-account").await;
            b.wait("dialog[open] #pick-search").await;
            assert_eq!(b.focused().await, "pick-search");
            b.fill("#pick-search", "speech").await;
            b.wait_text("dialog[open] .pick-count", "2 matches").await;
            let types: Vec<String> = serde_json::from_value(
                b.js("return [...document.querySelectorAll('dialog[open] .pick-card')].map(c => c.dataset.type)").await,
            )
            .unwrap();
            assert_eq!(types, ["stt", "tts"], "Speech To Text and Text To Speech");
            b.fill("#pick-search", "govivace").await;
            b.wait("dialog[open] .pick-card[data-type='stt'][data-provider='govivace']").await;
            b.assert_accessible("type picker").await;
            b.shot("type-picker").await;
            b.fill("#pick-search", "statistics").await;
            b.wait_text("dialog[open] .pick-count", "1 match").await;
            b.press(Key::Down).await;
            assert_eq!(b.js_string("return document.activeElement.dataset.type || ''").await, "statistics_receiver");
            b.press(Key::Up).await;
            assert_eq!(b.focused().await, "pick-search", "ArrowUp from the first result goes back to the search");
            b.press(Key::Down).await;
            b.press(Key::Enter).await;
            b.wait_url("/new/statistics_receiver/default").await;
            b.open(&format!("#/t/{TENANT}")).await;
            b.click(".add-account").await;
            b.wait("dialog[open] #pick-search").await;
            b.press_escape().await;
            b.wait_gone("dialog[open]").await;
            assert!(b.focused().await.contains("add-account"), "focus returns to the add button");

            // The history in the form's words: choice labels, record sizes, the action's label.
            b.open(&format!("#/t/{TENANT}/a/{wfm}/history")).await;
            let created = b.wait_text(".audit-row[data-action='create']", "TCP (Aspect WFM)").await;
            assert!(created.contains("Agent ID: 16 characters"), "{created}");
            assert!(!created.contains('{') && !created.contains("agent_id"), "no JSON: {created}");
            b.open(&format!("#/t/{TENANT}/a/{fb}/history")).await;
            let generated = b.wait_text(".audit-row[data-action='update']", "Generate random token").await;
            assert!(!generated.contains("generate_token"), "{generated}");

            // A tenant administrator is told to ask the service provider, not a server flag.
            sign_out(b).await;
            let admin = h.token("acme admin", "tenant_admin", TENANT).await;
            sign_in(b, &admin).await;
            b.wait(".account-row").await;
            test_all(b, 6).await;
            let told = health_title(b, &private).await;
            assert!(told.contains("your service provider blocks connections") && told.contains("ask them"), "{told}");
            assert!(!told.contains("--egress-allow"), "{told}");

            // 390 px: no sideways page scroll, health times whole, the add button over no row.
            b.set_width(390).await;
            b.open(&format!("#/t/{TENANT}")).await;
            b.wait(".account-row").await;
            assert!(!b.scrolls_sideways().await, "the list does not scroll the page sideways");
            assert_ne!(b.js_string(inline).await, "none", "without the State column, the name says Disabled");
            let clipped = b
                .js("return [...document.querySelectorAll('.account-row .col-health time')].filter(t => {
                       const box = t.closest('.table-scroll').getBoundingClientRect(), r = t.getBoundingClientRect();
                       return r.right > box.right + 1 || r.left < box.left - 1 || r.right > window.innerWidth;
                     }).length")
                .await;
            assert_eq!(clipped, json!(0), "every health time shows whole at 390 px");
            for at in ["0", "document.documentElement.scrollHeight"] {
                b.js(&format!("window.scrollTo(0, {at})")).await;
                let covered = b
                    .js("const add = document.querySelector('.add-account').getBoundingClientRect();
                         return [...document.querySelectorAll('.account-row')].filter(row => {
                           const r = row.getBoundingClientRect();
                           return r.bottom > add.top && r.top < add.bottom && r.right > add.left && r.left < add.right;
                         }).length")
                    .await;
                assert_eq!(covered, json!(0), "the add button covers no row (scrolled to {at})");
            }
            b.js("window.scrollTo(0, 0)").await;
            b.shot("accounts-390").await;
            b.set_width(1280).await;
            drop(peer);
        })
        .await;
    }
}

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_export_run_says_why_each_recording_failed_and_links_the_aws_account(db) {
        Harness::run_on(&db, &[], |h| async move {
            let tenant = json!({"id": TENANT, "name": "Acme Support", "enabled_types": ["aws"]});
            let (status, body) = h.api(Method::POST, "/api/v1/tenants", Some(tenant)).await;
            assert_eq!(status, 201, "{body}");
            let b = h.browser();
            // A real S3-compatible server that refuses the account's secret: each recording fails.
            let s3 = S3User::start("calls");
            let account = create(&h, json!({"type": "aws", "name": "S3 archive", "properties": {
                aws::USE_PRIVATE_S3_STORAGE: true, aws::URL: s3.endpoint, aws::ACCESS_KEY_ID: s3.key,
                aws::SECRET_KEY: "WrongSecretSentinel0123456789", aws::S3_BUCKET: "calls"}})).await;
            let meta = json!({"global_interaction_id": "gi-1", "call_started_at": "2026-03-12T14:05:09Z",
                "agent_login": "jdoe", "direction": "inbound", "service": "Sales"});
            h.put_recording(TENANT, "rec-1", meta, Some(vec![7u8; 4096])).await;
            let jobs = format!("/api/v1/tenants/{TENANT}/recording-export-jobs");
            let job = json!({"name": "Nightly archive", "account_id": account, "services": ["Sales"]});
            let (status, job) = h.api(Method::POST, &jobs, Some(job)).await;
            assert_eq!(status, 201, "{job}");
            let job = job["id"].as_str().unwrap().to_owned();

            let viewer = h.token("acme viewer", "tenant_viewer", TENANT).await;
            sign_in(b, &viewer).await;
            b.open(&format!("#/t/{TENANT}/exports/{job}")).await;
            b.wait_text(".runs-status", "No runs yet").await;
            let (status, run) = h.api(Method::POST, &format!("{jobs}/{job}/run"), None).await;
            assert_eq!(status, 202, "{run}");
            b.reload().await;
            b.wait(".run-row:not([data-state='running'])").await;
            let error = b.text(".run-row .run-error").await;
            assert!(error.contains("refused the credentials") && !error.contains("see the failed rows"), "{error}");
            // The newest run's failed recordings show at once, each with its reason and advice.
            let failure = b.wait(".run-failure[data-recording='rec-1']").await.text().await.unwrap();
            let doc = h.api(Method::GET, "/api/v1/openapi.json", None).await.1;
            assert!(failure.contains(&enum_title(&doc, "Category", "invalid_credentials")), "{failure}");
            assert!(failure.contains("Sales") && failure.contains("refused the credentials"), "{failure}");
            assert!(failure.contains("check the user name, password, token or key"), "the category's advice: {failure}");
            assert!(!failure.contains("WrongSecretSentinel"), "{failure}");
            assert_eq!(
                b.attr(".run-failures .run-account-link", "href").await.as_deref(),
                Some(format!("#/t/{TENANT}/a/{account}").as_str()),
                "the AWS account, whose test checks the bucket"
            );
            assert_eq!(b.attr(".show-failures", "aria-expanded").await.as_deref(), Some("true"));
            b.click(".show-failures").await;
            b.wait_gone(".run-failures-row").await;
            b.click(".show-failures").await;
            b.wait(".run-failure[data-recording='rec-1']").await;
            b.assert_accessible("export run").await;
            b.shot("export-run").await;
            b.set_width(390).await;
            b.reload().await;
            b.wait(".run-failure[data-recording='rec-1']").await;
            let wide = b
                .js("const w = document.documentElement.clientWidth;
                     return [...document.querySelectorAll('body *')]
                       .filter(e => e.getBoundingClientRect().right > w + 1 && !e.parentElement.closest('.table-scroll'))
                       .slice(0, 5).map(e => e.tagName + '.' + e.className)")
                .await;
            assert!(!b.scrolls_sideways().await, "the runs scroll inside their card, not the page: {wide}");
            b.shot("export-run-390").await;
            b.set_width(1280).await;
        })
        .await;
    }
}
