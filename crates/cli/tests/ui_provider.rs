//! The service provider's screens end to end, on SQLite and PostgreSQL: the tenants list
//! (search, counts, sort), creating, renaming, gated types and deleting a tenant, API tokens
//! (minted and shown once, last use, revoked) and the master keys; then the refusals: a
//! tenant admin sees only their tenant's tokens and no provider page, a viewer no controls.

mod browser;
mod vendor;

use browser::{Browser, Harness};
use patchbay_catalog::keys::aws;
use patchbay_catalog::keys::messenger::facebook;
use patchbay_testkit::backend_test;
use reqwest::Method;
use serde_json::{json, Value};

/// A secret typed through the API; it must never reach the page.
const AWS_SECRET: &str = "aws-secret-key-SENTINEL-0b7d";

backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn service_provider_screens(db) {
        Harness::run_on(&db, &[], |h| async move {
            seed(&h).await;
            let b = h.browser();
            sign_in_with_token(b, &h.admin_token).await;
            tenants_story(&h, b).await;
            settings_story(&h, b).await;
            tokens_story(&h, b).await;
            keys_story(&h, b).await;
            tenant_admin_story(&h, b).await;
            viewer_story(&h, b).await;
            assert!(!h.server_log().contains(AWS_SECRET), "the server log holds a secret value");
        })
        .await;
    }
}

fn facebook_account(name: &str) -> Value {
    json!({
        "type": "messenger", "provider": "facebook", "name": name,
        "properties": {facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "1234", facebook::TOKEN: "page-token"}
    })
}

/// Two tenants; acme has two accounts, one of which failed its connection test.
async fn seed(h: &Harness) {
    for (id, name) in [("acme", "Acme Support"), ("globex", "Globex")] {
        let created = h.api(Method::POST, "/api/v1/tenants", Some(json!({"id": id, "name": name}))).await;
        assert_eq!(created.0, 201, "{created:?}");
    }
    let accounts = "/api/v1/tenants/acme/integration-accounts";
    let (status, tested) = h.api(Method::POST, accounts, Some(facebook_account("Facebook main"))).await;
    assert_eq!(status, 201, "{tested:?}");
    let (status, body) = h.api(Method::POST, accounts, Some(facebook_account("Facebook spare"))).await;
    assert_eq!(status, 201, "{body:?}");
    // Facebook is out of reach from the test: the test fails, and the account counts as failing.
    let id = tested["id"].as_str().expect("an id");
    let (_, report) = h.api(Method::POST, &format!("{accounts}/{id}/test?timeout_ms=500"), None).await;
    assert_eq!(report["status"], "failed", "{report:?}");
}

/// Signs in with an API token from the sign-in page.
async fn sign_in_with_token(b: &Browser, token: &str) {
    b.open("").await;
    b.fill("#token", token).await;
    b.click("#signin-form button[type=submit]").await;
    b.wait(".who-name").await;
}

async fn sign_out(b: &Browser) {
    b.click("button.sign-out").await;
    b.wait("#token").await;
}

/// Checks the screen at 390 px wide (no sideways page scroll), then goes back to 1280 px.
async fn check_narrow(b: &Browser, screen: &str) {
    b.set_width(390).await;
    assert!(!b.scrolls_sideways().await, "the {screen} screen scrolls sideways at 390 px");
    b.set_width(1280).await;
}

async fn row_ids(b: &Browser, table: &str) -> Vec<String> {
    let ids = b
        .js(&format!(
            "return [...document.querySelectorAll('{table} tbody tr')].map(r => r.dataset.tenant || r.dataset.id)"
        ))
        .await;
    serde_json::from_value(ids).expect("a list of ids")
}

async fn tenants_story(h: &Harness, b: &Browser) {
    b.wait(".tenants-table").await;
    assert!(!b.url().await.contains("#/t/"), "the service provider starts at the tenants");
    assert_eq!(row_ids(b, ".tenants-table").await, ["acme", "globex"]);
    assert_eq!(b.text(".tenants-table tr[data-tenant='acme'] .account-count").await, "2");
    assert_eq!(b.text(".tenants-table tr[data-tenant='acme'] .failing-count").await, "1");
    assert_eq!(b.text(".tenants-table tr[data-tenant='globex'] .failing-count").await, "0");
    b.assert_accessible("tenants").await;
    b.shot("tenants").await;
    check_narrow(b, "tenants").await;

    // Search by name, kept in the URL across a reload; then by id.
    b.fill("#tenant-search", "glob").await;
    assert_eq!(row_ids(b, ".tenants-table").await, ["globex"]);
    b.wait_text("#tenant-count", "1 of 2").await;
    b.wait_url("q=glob").await;
    b.reload().await;
    b.wait_value("#tenant-search", "glob").await;
    assert_eq!(row_ids(b, ".tenants-table").await, ["globex"]);
    b.fill("#tenant-search", "acme").await;
    assert_eq!(row_ids(b, ".tenants-table").await, ["acme"]);
    b.fill("#tenant-search", "nothing-like-it").await;
    b.wait(".no-match").await;
    b.open("#/").await;
    b.wait(".tenants-table tr[data-tenant='globex']").await;

    // Sorted by the number of accounts, both ways, and the order is kept in the URL.
    b.click("[data-sort='accounts']").await;
    b.wait_url("sort=accounts").await;
    assert_eq!(row_ids(b, ".tenants-table").await, ["globex", "acme"]);
    assert_eq!(b.attr(".tenants-table th.col-accounts", "aria-sort").await.as_deref(), Some("ascending"));
    b.click("[data-sort='accounts']").await;
    b.wait_url("sort=-accounts").await;
    assert_eq!(row_ids(b, ".tenants-table").await, ["acme", "globex"]);
    b.reload().await;
    b.wait(".tenants-table").await;
    assert_eq!(b.attr(".tenants-table th.col-accounts", "aria-sort").await.as_deref(), Some("descending"));
    assert_eq!(row_ids(b, ".tenants-table").await, ["acme", "globex"]);

    // Create: the server's refusals next to the id field, focused; then a good one.
    b.click(".add-tenant").await;
    b.fill("#new-tenant-id", "Not OK").await;
    b.click("#new-tenant-form button.save").await;
    b.wait("#new-tenant-id-error").await;
    assert_eq!(b.focused().await, "new-tenant-id");
    assert_eq!(b.attr("#new-tenant-id", "aria-invalid").await.as_deref(), Some("true"));
    b.assert_accessible("add tenant dialog").await;
    b.fill("#new-tenant-id", "acme").await;
    b.click("#new-tenant-form button.save").await;
    b.wait_text("#new-tenant-id-error", "already exists").await;
    assert_eq!(b.focused().await, "new-tenant-id");
    b.fill("#new-tenant-id", "initech").await;
    b.fill("#new-tenant-name", "Initech").await;
    b.click("#new-tenant-form button.save").await;
    b.wait_hash("#/t/initech/settings").await;
    b.wait_text("h1.page-title", "Settings").await;
    let (status, tenant) = h.api(Method::GET, "/api/v1/tenants/initech", None).await;
    assert_eq!((status, tenant["name"].as_str()), (200, Some("Initech")));
}

async fn settings_story(h: &Harness, b: &Browser) {
    b.wait("#tenant-name").await;
    b.assert_accessible("tenant settings").await;

    // Rename, at the version read.
    b.fill("#tenant-name", "Initech Corp").await;
    b.click(".save-name").await;
    b.wait_text(".tenant-box .tenant-name", "Initech Corp").await;
    let (_, tenant) = h.api(Method::GET, "/api/v1/tenants/initech", None).await;
    assert_eq!(tenant["name"], "Initech Corp");

    // Someone else renames it meanwhile: the stale-version banner, nothing overwritten.
    let (status, _) = h.api(Method::PUT, "/api/v1/tenants/initech", Some(json!({"name": "Initech Inc"}))).await;
    assert_eq!(status, 200);
    b.fill("#tenant-name", "Lost update").await;
    b.click(".save-name").await;
    b.wait_text(".banner-stale", "Someone else changed this contact center").await;
    let (_, tenant) = h.api(Method::GET, "/api/v1/tenants/initech", None).await;
    assert_eq!(tenant["name"], "Initech Inc", "the stale rename changed nothing");
    b.click(".banner-stale .reload").await;
    b.wait_value("#tenant-name", "Initech Inc").await;

    // The gated types are the catalog's; each switch says what it does.
    let (_, catalog) = h.api(Method::GET, "/api/v1/integration-types", None).await;
    let gated: Vec<String> = catalog["items"]
        .as_array()
        .expect("types")
        .iter()
        .filter(|t| t["gated"] == true)
        .map(|t| t["key"].as_str().expect("a key").to_owned())
        .collect();
    assert!(gated.contains(&"aws".to_owned()), "{gated:?}");
    assert_eq!(b.count(".switch-row").await, gated.len());
    let aws_switch = "#gated-aws";
    assert_eq!(b.attr(aws_switch, "role").await.as_deref(), Some("switch"));
    assert!(b.text(".switch-row[data-type='aws'] .field-help").await.starts_with("Off"));
    b.click(aws_switch).await;
    b.wait_text(".switch-row[data-type='aws'] .field-help", "On").await;
    let (_, tenant) = h.api(Method::GET, "/api/v1/tenants/initech", None).await;
    assert_eq!(tenant["enabled_types"], json!(["aws"]));

    // An AWS account uses it: after a reload the switch cannot be turned off, and says why.
    let account = json!({"type": "aws", "name": "Recordings", "properties": {aws::USE_PRIVATE_S3_STORAGE: true,
        aws::URL: "http://127.0.0.1:9/", aws::ACCESS_KEY_ID: "AKIAEXAMPLE", aws::SECRET_KEY: AWS_SECRET,
        aws::S3_BUCKET: "initech-rec"}});
    let (status, created) = h.api(Method::POST, "/api/v1/tenants/initech/integration-accounts", Some(account)).await;
    assert_eq!(status, 201, "{created:?}");
    b.reload().await;
    b.wait_text(".switch-row[data-type='aws'] .field-help", "only after that account is deleted").await;
    assert_eq!(b.attr(aws_switch, "disabled").await.as_deref(), Some("true"));
    b.shot("tenant-settings").await;
    check_narrow(b, "tenant settings").await;

    // Delete: the server counts what goes; the button waits for the typed id.
    let token = h.token("initech desk", "tenant_viewer", "initech").await;
    b.click(".delete-tenant").await;
    b.wait_text("dialog[open] .contents-list li[data-what='accounts']", "1 integration account").await;
    b.wait_text("dialog[open] .contents-list li[data-what='tokens']", "1 API token").await;
    b.wait_text("dialog[open] .contents-list li[data-what='export_jobs']", "0 recording export jobs").await;
    b.assert_accessible("delete tenant dialog").await;
    assert_eq!(b.attr("dialog[open] .confirm-delete", "disabled").await.as_deref(), Some("true"));
    b.fill("#confirm-tenant-id", "initec").await;
    assert_eq!(b.attr("dialog[open] .confirm-delete", "disabled").await.as_deref(), Some("true"));
    b.fill("#confirm-tenant-id", "initech").await;
    b.click("dialog[open] .confirm-delete").await;
    b.wait(".tenants-table").await;
    b.wait_gone(".tenants-table tr[data-tenant='initech']").await;
    assert_eq!(h.api(Method::GET, "/api/v1/tenants/initech", None).await.0, 404);
    let whoami = h.http.get(format!("{}/api/v1/whoami", h.base)).bearer_auth(&token).send().await.expect("answer");
    assert_eq!(whoami.status().as_u16(), 401, "the deleted tenant's tokens stop");
}

async fn tokens_story(h: &Harness, b: &Browser) {
    b.click(".nav-tokens").await;
    b.wait(".tokens-table").await;
    assert!(b.url().await.ends_with("#/tokens"));
    b.assert_accessible("tokens").await;

    // Mint a tenant admin token for acme: shown once, with a copy button.
    b.click(".add-token").await;
    b.fill("#token-name", "Acme desk").await;
    b.select("#token-role", "tenant_admin").await;
    b.select("#token-tenant", "acme").await;
    b.click("#new-token-form .mint-token").await;
    b.wait("#new-token-value").await;
    let token = b.value("#new-token-value").await;
    assert!(token.starts_with("pb_"), "{token}");
    assert!(b.exists("dialog[open] .token-once button.copy").await, "a copy button");
    b.wait_text("dialog[open] .once-warning", "will not be shown again").await;
    assert_eq!(b.focused().await, "new-token-value");
    b.assert_accessible("new token dialog").await;
    b.click("dialog[open] .done").await;
    b.wait_gone("dialog[open]").await;
    b.assert_source_free_of(&[&token]).await;
    let (_, list) = h.api(Method::GET, "/api/v1/tokens", None).await;
    let minted =
        list["items"].as_array().expect("tokens").iter().find(|t| t["name"] == "Acme desk").expect("minted").clone();
    assert_eq!((minted["role"].as_str(), minted["tenant_id"].as_str()), (Some("tenant_admin"), Some("acme")));
    let id = minted["id"].as_str().expect("an id").to_owned();
    let row = format!(".tokens-table tr[data-id='{id}']");
    b.wait_text(&format!("{row} .last-used"), "Not yet").await;

    // Its use shows as its last use.
    let whoami = |token: String| async move {
        h.http
            .get(format!("{}/api/v1/whoami", h.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("answer")
            .status()
            .as_u16()
    };
    assert_eq!(whoami(token.clone()).await, 200);
    b.reload().await;
    b.wait_text(&format!("{row} .last-used"), "just now").await;
    b.shot("tokens").await;
    check_narrow(b, "tokens").await;

    // Revoke, after confirming: marked revoked, and refused from then on.
    b.click(&format!("{row} .revoke")).await;
    b.click("dialog[open] .confirm").await;
    b.wait(&format!(".tokens-table tr[data-id='{id}'][data-state='revoked']")).await;
    assert!(!b.exists(&format!("{row} .revoke")).await, "a revoked token has nothing to revoke");
    assert_eq!(whoami(token).await, 401);
}

async fn keys_story(h: &Harness, b: &Browser) {
    b.click(".nav-keys").await;
    b.wait(".keys-table").await;
    assert_eq!(b.text(".active-key").await, "Key 1");
    b.wait_text(".last-rotation", "Never").await;
    assert!(b.text("pre.command").await.contains("patchbay keys rotate"));
    let (status, _) = h.api(Method::POST, "/api/v1/keys/rotate", None).await;
    assert_eq!(status, 201);
    b.reload().await;
    b.wait_text(".active-key", "Key 2").await;
    let rotated =
        b.js_string("return document.querySelector('.last-rotation time')?.getAttribute('datetime') || ''").await;
    assert!(!rotated.is_empty(), "the rotation's time");
    assert_eq!(b.count(".keys-table tbody tr").await, 2);
    let (_, status) = h.api(Method::GET, "/api/v1/keys", None).await;
    let older =
        status["keys"].as_array().expect("keys").iter().find(|k| k["id"] == 1).expect("key 1")["values"].clone();
    assert_eq!(b.text(".keys-table tr[data-id='1'] .key-values").await, older.to_string());
    b.assert_accessible("keys").await;
    b.shot("keys").await;
    check_narrow(b, "keys").await;
}

async fn tenant_admin_story(h: &Harness, b: &Browser) {
    let admin = h.token("acme admin", "tenant_admin", "acme").await;
    h.token("globex viewer", "tenant_viewer", "globex").await;
    sign_out(b).await;
    sign_in_with_token(b, &admin).await;
    b.wait_url("#/t/acme").await;
    for nav in [".nav-tenants", ".nav-tokens", ".nav-keys", ".nav-settings"] {
        assert!(!b.exists(nav).await, "a tenant admin has no {nav}");
    }
    for page in ["#/", "#/keys", "#/t/acme/settings"] {
        b.open(page).await;
        b.wait_hash("#/t/acme").await;
        b.wait(".account-row").await;
    }
    b.open("#/tokens").await;
    b.wait_hash("#/t/acme/tokens").await;
    b.wait(".tokens-table").await;
    let (_, list) = h.api(Method::GET, "/api/v1/tokens", None).await;
    let own: Vec<String> = list["items"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter(|t| t["tenant_id"] == "acme")
        .map(|t| t["id"].as_str().expect("an id").to_owned())
        .collect();
    let mut shown = row_ids(b, ".tokens-table").await;
    shown.sort();
    let mut expected = own.clone();
    expected.sort();
    assert_eq!(shown, expected, "only acme's tokens");
    assert!(!b.exists(".tokens-table th.col-tenant").await, "no tenant column within a tenant");
    b.assert_accessible("tenant tokens").await;

    // Only the roles of a tenant, for this tenant.
    b.click(".add-token").await;
    b.wait("#token-role").await;
    assert!(!b.exists("#token-role option[value='sp_admin']").await, "a tenant admin cannot mint a provider token");
    assert!(b.exists("#token-role option[value='event_producer']").await);
    b.fill("#token-name", "Platform").await;
    b.select("#token-role", "event_producer").await;
    b.click("#new-token-form .mint-token").await;
    b.wait("#new-token-value").await;
    b.click("dialog[open] .done").await;
    let (_, list) = h.api(Method::GET, "/api/v1/tokens", None).await;
    assert!(list["items"]
        .as_array()
        .expect("tokens")
        .iter()
        .any(|t| t["name"] == "Platform" && t["role"] == "event_producer" && t["tenant_id"] == "acme"));
    check_narrow(b, "tenant tokens").await;
}

async fn viewer_story(h: &Harness, b: &Browser) {
    let viewer = h.token("acme reader", "tenant_viewer", "acme").await;
    sign_out(b).await;
    sign_in_with_token(b, &viewer).await;
    b.wait(".account-row").await;
    for nav in [".nav-tenants", ".nav-tokens", ".nav-keys", ".nav-settings", ".nav-tenant-tokens"] {
        assert!(!b.exists(nav).await, "a viewer has no {nav}");
    }
    for page in ["#/t/acme/tokens", "#/t/acme/settings", "#/keys", "#/tokens"] {
        b.open(page).await;
        b.wait_hash("#/t/acme").await;
        b.wait(".account-row").await;
        for control in [".add-token", ".revoke", ".delete-tenant", ".add-tenant"] {
            assert!(!b.exists(control).await, "a viewer sees {control} on {page}");
        }
    }
}
