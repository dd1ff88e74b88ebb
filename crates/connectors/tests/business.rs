//! Connection tests of the business vendors (CRMs, caller lookup, knowledge base) against
//! local peers that follow each vendor's documented contract; the peers and the docs they
//! follow are in `patchbay_testkit::vendors::business`. Every report is checked for the account's
//! secrets as the API would return it.

mod common;

use std::sync::LazyLock;
use std::time::Duration;

use patchbay_catalog::keys::{
    external_kb, next_caller, oracle_service_cloud, salesforce, servicenow, tdg, zapier, zendesk,
};
use patchbay_connectors::{
    AccountConfig, Category, Context, Egress, EgressPolicy, Outcome, Registry, StepStatus, TestReport, VendorUrls,
};
use patchbay_testkit::vendors::business::crm::{self, Limits, SalesforceOrg};
use patchbay_testkit::vendors::business::lookup;
use serde_json::{json, Value};

/// This crate's connectors (the feed targets' are tested in `patchbay_feeds`).
static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry::with([]));

/// Runs the account's connection test; the report, serialized as the API returns it, must
/// carry none of the account's secrets.
async fn test_with(egress: &Egress, account: &AccountConfig, vendors: &VendorUrls, timeout: Duration) -> TestReport {
    let cx = Context { egress, account, timeout, public_url: None, hook_id: None, tenant: None, vendors };
    let report = REGISTRY.test(&cx).await;
    let shown = serde_json::to_string(&report).unwrap();
    for (field, secret) in account.secrets.iter().filter(|(_, s)| !s.expose().is_empty()) {
        assert!(!shown.contains(secret.expose()), "the secret `{field}` leaked into {shown}");
    }
    report
}

async fn test_account(account: &AccountConfig, vendors: &VendorUrls) -> TestReport {
    test_with(&common::egress(None), account, vendors, Duration::from_secs(2)).await
}

fn steps(report: &TestReport) -> Vec<&str> {
    report.steps.iter().map(|s| s.name.as_str()).collect()
}

fn assert_ok(report: &TestReport, message: &str) {
    assert_eq!(report.status, Outcome::Ok, "{report:#?}");
    assert_eq!(report.message, message);
    assert!(report.steps.iter().all(|s| s.status == StepStatus::Ok), "{report:#?}");
}

fn assert_failed(report: &TestReport, category: Category) {
    assert_eq!(report.status, Outcome::Failed, "{report:#?}");
    assert_eq!(report.category, Some(category), "{report:#?}");
    assert_eq!(report.steps.last().map(|s| s.status), Some(StepStatus::Failed), "{report:#?}");
}

/// The detail of the last step called `name`.
fn detail<'a>(report: &'a TestReport, name: &str) -> &'a str {
    report.steps.iter().rev().find(|s| s.name == name).map(|s| s.detail.as_str()).unwrap_or_default()
}

const VALID: &str = "Account credentials appear to be valid.";

fn http_base(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}")
}

fn vendors_at(base: &str) -> VendorUrls {
    let mut vendors = VendorUrls::default();
    let url = url::Url::parse(&format!("{base}/")).unwrap();
    vendors.set("next_caller", url.clone()).unwrap();
    vendors.set("next_caller_sandbox", url).unwrap();
    vendors
}

fn oracle_account(type_key: &str, site: &str, version: &str, password: &str) -> AccountConfig {
    let properties = json!({oracle_service_cloud::SITE_URL: site, oracle_service_cloud::USERNAME: crm::ORACLE_USER, oracle_service_cloud::API_VERSION: version});
    common::account(type_key, "default", properties, &[(oracle_service_cloud::PASSWORD, password)])
}

fn salesforce_client_credentials(login: &str, secret: &str) -> AccountConfig {
    let properties = json!({salesforce::LOGIN_URL: login, salesforce::AUTHENTICATION_METHOD: "client_credentials",
        salesforce::CONSUMER_KEY: crm::SF_CONSUMER_KEY, salesforce::API_VERSION: "v59.0"});
    common::account("salesforce", "default", properties, &[(salesforce::CONSUMER_SECRET, secret)])
}

fn salesforce_password(login: &str, password: &str, security_token: &str) -> AccountConfig {
    let properties = json!({salesforce::LOGIN_URL: login, salesforce::AUTHENTICATION_METHOD: "password",
        salesforce::CONSUMER_KEY: crm::SF_CONSUMER_KEY, salesforce::USERNAME: crm::SF_USER, salesforce::API_VERSION: "v59.0"});
    let secrets =
        [("consumer_secret", crm::SF_CONSUMER_SECRET), ("password", password), ("security_token", security_token)];
    common::account("salesforce", "default", properties, &secrets)
}

fn servicenow_basic(instance: &str, username: &str, password: &str) -> AccountConfig {
    let properties = json!({servicenow::INSTANCE_URL: instance, servicenow::AUTHENTICATION_METHOD: "basic", servicenow::USERNAME: username});
    common::account("servicenow", "default", properties, &[(servicenow::PASSWORD, password)])
}

fn servicenow_oauth(instance: &str, client_secret: &str) -> AccountConfig {
    let properties = json!({servicenow::INSTANCE_URL: instance, servicenow::AUTHENTICATION_METHOD: "oauth", servicenow::USERNAME: crm::SN_USER,
        servicenow::CLIENT_ID: crm::SN_CLIENT_ID});
    common::account(
        "servicenow",
        "default",
        properties,
        &[(servicenow::PASSWORD, crm::SN_PASSWORD), (servicenow::CLIENT_SECRET, client_secret)],
    )
}

fn zendesk_api_token(subdomain: &str, email: &str, token: &str) -> AccountConfig {
    let properties =
        json!({zendesk::SUBDOMAIN_URL: subdomain, zendesk::AUTHENTICATION_METHOD: "api_token", zendesk::EMAIL: email});
    common::account("zendesk", "default", properties, &[(zendesk::API_TOKEN, token)])
}

fn zendesk_oauth(subdomain: &str, token: &str) -> AccountConfig {
    let properties = json!({zendesk::SUBDOMAIN_URL: subdomain, zendesk::AUTHENTICATION_METHOD: "oauth"});
    common::account("zendesk", "default", properties, &[(zendesk::OAUTH_ACCESS_TOKEN, token)])
}

fn next_caller_account(sandbox: bool, user: &str, password: &str) -> AccountConfig {
    let properties =
        json!({next_caller::SANDBOX_MODE: sandbox, next_caller::USERNAME: user, next_caller::FIELD_MAPPING: []});
    common::account("next_caller", "default", properties, &[(next_caller::PASSWORD, password)])
}

fn synthetix_account(base: &str, consumer: &str, application: &str) -> AccountConfig {
    let properties = json!({external_kb::URL: format!("{base}/1.1/"), external_kb::USE_AS_EXCLUSIVE_KB: false});
    common::account(
        "external_kb",
        "synthetix",
        properties,
        &[(external_kb::CONSUMER_KEY, consumer), (external_kb::APPLICATION_KEY, application)],
    )
}

/// One valid account of every business type and variant, all aimed at `base` (http).
fn every_business_account(base: &str) -> Vec<AccountConfig> {
    vec![
        oracle_account("oracle_service_cloud", base, "v1.4", crm::ORACLE_PASSWORD),
        oracle_account("rightnow", base, "v1.4", crm::ORACLE_PASSWORD),
        salesforce_client_credentials(base, crm::SF_CONSUMER_SECRET),
        salesforce_password(base, crm::SF_PASSWORD, crm::SF_SECURITY_TOKEN),
        servicenow_basic(base, crm::SN_USER, crm::SN_PASSWORD),
        servicenow_oauth(base, crm::SN_CLIENT_SECRET),
        zendesk_api_token(base, crm::ZD_EMAIL, crm::ZD_API_TOKEN),
        zendesk_oauth(base, crm::ZD_OAUTH_TOKEN),
        next_caller_account(false, lookup::NC_USER, lookup::NC_PASSWORD),
        next_caller_account(true, lookup::NC_SANDBOX_USER, lookup::NC_SANDBOX_PASSWORD),
        synthetix_account(base, lookup::SYN_CONSUMER_KEY, lookup::SYN_APPLICATION_KEY),
    ]
}

/// Which account a failure is about: its type, provider and non-secret properties.
fn label(account: &AccountConfig) -> String {
    format!("{}/{} {}", account.type_key, account.provider, Value::Object(account.properties.clone()))
}

// --- Oracle Service Cloud and RightNow -------------------------------------------------

#[tokio::test]
async fn oracle_service_cloud_and_rightnow_read_the_accounts_resource_with_basic_auth() {
    let site = http_base(common::http(crm::oracle()).await);
    for type_key in ["oracle_service_cloud", "rightnow"] {
        let report =
            test_account(&oracle_account(type_key, &site, "v1.4", crm::ORACLE_PASSWORD), &vendors_at(&site)).await;
        assert_ok(&report, VALID);
        assert_eq!(steps(&report), ["resolve", "connect", "request", "authenticate", "read"], "{type_key}");
        assert_eq!(detail(&report, "read"), "the accounts resource answered with 1 item(s)");
    }
}

#[tokio::test]
async fn oracle_refuses_a_wrong_password_as_invalid_credentials() {
    let site = http_base(common::http(crm::oracle()).await);
    let report = test_account(&oracle_account("rightnow", &site, "v1.4", "wrong-password"), &vendors_at(&site)).await;
    assert_failed(&report, Category::InvalidCredentials);
    assert_eq!(steps(&report).last(), Some(&"authenticate"));
}

#[tokio::test]
async fn oracle_reports_an_api_version_the_site_lacks_as_not_found() {
    let site = http_base(common::http(crm::oracle()).await);
    let account = oracle_account("oracle_service_cloud", &site, "v1.3", crm::ORACLE_PASSWORD);
    let report = test_account(&account, &vendors_at(&site)).await;
    assert_failed(&report, Category::NotFound);
    assert!(report.message.contains("site or Connect REST API version"), "{}", report.message);
}

// --- Salesforce --------------------------------------------------------------------------

/// A login server whose token answers point at a separate instance server (both HTTPS).
async fn salesforce_org(ca: &common::TestCa, limits: Limits) -> String {
    let instance = common::https(crm::salesforce(SalesforceOrg { instance_url: String::new(), limits }), ca).await;
    let instance_url = format!("https://127.0.0.1:{}", instance.port());
    let login = common::https(crm::salesforce(SalesforceOrg { instance_url, limits: Limits::Granted }), ca).await;
    format!("https://127.0.0.1:{}", login.port())
}

/// A login server whose token answers name `instance_url`.
async fn salesforce_login_naming(ca: &common::TestCa, instance_url: &str) -> String {
    let org = SalesforceOrg { instance_url: instance_url.to_owned(), limits: Limits::Granted };
    format!("https://127.0.0.1:{}", common::https(crm::salesforce(org), ca).await.port())
}

async fn test_salesforce(ca: &common::TestCa, account: &AccountConfig) -> TestReport {
    let report = test_with(&common::egress(Some(ca)), account, &VendorUrls::default(), Duration::from_secs(2)).await;
    let shown = serde_json::to_string(&report).unwrap();
    assert!(!shown.contains(crm::SF_ACCESS_TOKEN), "the access token leaked into {shown}");
    report
}

#[tokio::test]
async fn salesforce_client_credentials_get_a_token_then_read_the_limits_of_the_instance() {
    let ca = common::TestCa::new();
    let login = salesforce_org(&ca, Limits::Granted).await;
    let report = test_salesforce(&ca, &salesforce_client_credentials(&login, crm::SF_CONSUMER_SECRET)).await;
    assert_ok(&report, VALID);
    let two_calls =
        ["resolve", "connect", "tls", "request", "authenticate", "resolve", "connect", "tls", "request", "read"];
    assert_eq!(steps(&report), two_calls);
    assert_eq!(detail(&report, "read"), "14998 of 15000 daily API requests remaining");
    assert_ne!(report.steps[1].detail, report.steps[6].detail, "the limits come from the instance, not the login host");
}

#[tokio::test]
async fn salesforce_password_flow_sends_the_password_with_the_security_token_appended() {
    let ca = common::TestCa::new();
    let login = salesforce_org(&ca, Limits::Granted).await;
    let report = test_salesforce(&ca, &salesforce_password(&login, crm::SF_PASSWORD, crm::SF_SECURITY_TOKEN)).await;
    assert_ok(&report, VALID);
}

#[tokio::test]
async fn salesforce_token_refusals_are_invalid_credentials_with_the_oauth_error() {
    let ca = common::TestCa::new();
    let login = salesforce_org(&ca, Limits::Granted).await;
    let cases = [
        (salesforce_client_credentials(&login, "wrong-secret"), "invalid_client"),
        (salesforce_password(&login, "wrong-password", crm::SF_SECURITY_TOKEN), "invalid_grant"),
        (salesforce_password(&login, crm::SF_PASSWORD, "stale-security-token"), "invalid_grant"),
    ];
    for (account, error) in cases {
        let report = test_salesforce(&ca, &account).await;
        assert_failed(&report, Category::InvalidCredentials);
        assert_eq!(steps(&report).last(), Some(&"authenticate"));
        assert!(report.message.contains(error), "{error}: {}", report.message);
    }
}

#[tokio::test]
async fn salesforce_limits_refused_after_the_token_are_credentials_or_permission() {
    let ca = common::TestCa::new();
    for (limits, category) in
        [(Limits::SessionInvalid, Category::InvalidCredentials), (Limits::Forbidden, Category::Permission)]
    {
        let login = salesforce_org(&ca, limits).await;
        let report = test_salesforce(&ca, &salesforce_client_credentials(&login, crm::SF_CONSUMER_SECRET)).await;
        assert_failed(&report, category);
        assert_eq!(steps(&report).last(), Some(&"read"));
    }
}

#[tokio::test]
async fn salesforce_instance_url_at_a_metadata_address_is_blocked_before_any_packet() {
    let ca = common::TestCa::new();
    let login = salesforce_login_naming(&ca, "https://169.254.169.254").await;
    let report = test_salesforce(&ca, &salesforce_client_credentials(&login, crm::SF_CONSUMER_SECRET)).await;
    assert_failed(&report, Category::Blocked);
    assert_eq!(steps(&report), ["resolve", "connect", "tls", "request", "authenticate", "resolve"]);
    assert!(report.message.contains("169.254.169.254"), "{}", report.message);
}

#[tokio::test]
async fn salesforce_never_sends_the_token_to_a_plain_http_instance() {
    let ca = common::TestCa::new();
    let instance = SalesforceOrg { instance_url: String::new(), limits: Limits::Granted };
    let plain = http_base(common::http(crm::salesforce(instance)).await);
    let login = salesforce_login_naming(&ca, &plain).await;
    let report = test_salesforce(&ca, &salesforce_client_credentials(&login, crm::SF_CONSUMER_SECRET)).await;
    assert_failed(&report, Category::UnexpectedResponse);
    assert_eq!(steps(&report).last(), Some(&"authenticate"));
    assert!(report.message.contains("only sent over HTTPS"), "{}", report.message);
}

#[tokio::test]
async fn salesforce_api_version_the_instance_lacks_is_not_found() {
    let ca = common::TestCa::new();
    let login = salesforce_org(&ca, Limits::Granted).await;
    let mut account = salesforce_client_credentials(&login, crm::SF_CONSUMER_SECRET);
    account.properties.insert(salesforce::API_VERSION.into(), json!("45.0"));
    let report = test_salesforce(&ca, &account).await;
    assert_failed(&report, Category::NotFound);
    assert!(report.message.contains("REST API version"), "{}", report.message);
}

// --- ServiceNow --------------------------------------------------------------------------

#[tokio::test]
async fn servicenow_basic_auth_reads_one_sys_user() {
    let instance = http_base(common::http(crm::servicenow()).await);
    let report =
        test_account(&servicenow_basic(&instance, crm::SN_USER, crm::SN_PASSWORD), &vendors_at(&instance)).await;
    assert_ok(&report, VALID);
    assert_eq!(steps(&report), ["resolve", "connect", "request", "authenticate", "read"]);
    assert_eq!(detail(&report, "read"), "the sys_user table answered with 1 record(s)");
}

#[tokio::test]
async fn servicenow_oauth_gets_a_token_then_reads_with_it() {
    let instance = http_base(common::http(crm::servicenow()).await);
    let report = test_account(&servicenow_oauth(&instance, crm::SN_CLIENT_SECRET), &vendors_at(&instance)).await;
    assert_ok(&report, VALID);
    let two_calls = ["resolve", "connect", "request", "authenticate", "resolve", "connect", "request", "read"];
    assert_eq!(steps(&report), two_calls);
    assert!(!serde_json::to_string(&report).unwrap().contains(crm::SN_ACCESS_TOKEN));
}

#[tokio::test]
async fn servicenow_refused_password_or_client_secret_is_invalid_credentials() {
    let instance = http_base(common::http(crm::servicenow()).await);
    let vendors = vendors_at(&instance);
    let basic = test_account(&servicenow_basic(&instance, crm::SN_USER, "wrong-password"), &vendors).await;
    assert_failed(&basic, Category::InvalidCredentials);
    let oauth = test_account(&servicenow_oauth(&instance, "wrong-client-secret"), &vendors).await;
    assert_failed(&oauth, Category::InvalidCredentials);
    assert!(oauth.message.contains("access_denied"), "{}", oauth.message);
}

#[tokio::test]
async fn servicenow_user_without_roles_is_a_permission_failure() {
    let instance = http_base(common::http(crm::servicenow()).await);
    let account = servicenow_basic(&instance, crm::SN_USER_WITHOUT_ROLES, crm::SN_PASSWORD);
    let report = test_account(&account, &vendors_at(&instance)).await;
    assert_failed(&report, Category::Permission);
}

#[tokio::test]
async fn servicenow_instance_answering_a_web_page_points_at_the_instance_url() {
    let instance = http_base(common::http(crm::servicenow_hibernating()).await);
    let report =
        test_account(&servicenow_basic(&instance, crm::SN_USER, crm::SN_PASSWORD), &vendors_at(&instance)).await;
    assert_failed(&report, Category::UnexpectedResponse);
    assert!(report.message.contains("check the Instance URL"), "{}", report.message);
}

// --- Zendesk -----------------------------------------------------------------------------

#[tokio::test]
async fn zendesk_api_token_and_oauth_token_both_read_users_me() {
    let subdomain = http_base(common::http(crm::zendesk()).await);
    let vendors = vendors_at(&subdomain);
    for account in [
        zendesk_api_token(&subdomain, crm::ZD_EMAIL, crm::ZD_API_TOKEN),
        zendesk_oauth(&subdomain, crm::ZD_OAUTH_TOKEN),
    ] {
        let report = test_account(&account, &vendors).await;
        assert_ok(&report, VALID);
        assert_eq!(detail(&report, "authenticate"), "HTTP 200: signed in as user 35436, role admin");
    }
}

#[tokio::test]
async fn zendesk_refused_tokens_are_invalid_credentials() {
    let subdomain = http_base(common::http(crm::zendesk()).await);
    let vendors = vendors_at(&subdomain);
    for account in [zendesk_api_token(&subdomain, crm::ZD_EMAIL, "wrong-token"), zendesk_oauth(&subdomain, "expired")] {
        let report = test_account(&account, &vendors).await;
        assert_failed(&report, Category::InvalidCredentials);
        assert!(report.message.contains("HTTP 401"), "{}", report.message);
    }
}

#[tokio::test]
async fn zendesk_anonymous_user_answer_is_invalid_credentials_not_success() {
    let subdomain = http_base(common::http(crm::zendesk()).await);
    let account = zendesk_api_token(&subdomain, "someone.else@acme.example", crm::ZD_API_TOKEN);
    let report = test_account(&account, &vendors_at(&subdomain)).await;
    assert_failed(&report, Category::InvalidCredentials);
    assert!(report.message.contains("anonymous user"), "{}", report.message);
}

// --- Next Caller -------------------------------------------------------------------------

/// Production and sandbox hosts, each knowing its own API user.
async fn next_caller_hosts(known_phone: &'static str) -> VendorUrls {
    let production = lookup::NextCallerHost { user: lookup::NC_USER, password: lookup::NC_PASSWORD, known_phone };
    let sandbox =
        lookup::NextCallerHost { user: lookup::NC_SANDBOX_USER, password: lookup::NC_SANDBOX_PASSWORD, known_phone };
    let mut vendors = VendorUrls::default();
    let production = common::http(lookup::next_caller(production)).await;
    let sandbox = common::http(lookup::next_caller(sandbox)).await;
    vendors.set("next_caller", url::Url::parse(&format!("http://{production}/")).unwrap()).unwrap();
    vendors.set("next_caller_sandbox", url::Url::parse(&format!("http://{sandbox}/")).unwrap()).unwrap();
    vendors
}

#[tokio::test]
async fn next_caller_reads_the_records_of_the_documented_test_number() {
    let vendors = next_caller_hosts(lookup::NC_DOC_PHONE).await;
    let report = test_account(&next_caller_account(false, lookup::NC_USER, lookup::NC_PASSWORD), &vendors).await;
    assert_ok(&report, VALID);
    assert_eq!(detail(&report, "read"), "the records resource answered with 1 record(s)");
}

#[tokio::test]
async fn next_caller_sandbox_mode_goes_to_the_sandbox_host() {
    let vendors = next_caller_hosts(lookup::NC_DOC_PHONE).await;
    let sandbox = next_caller_account(true, lookup::NC_SANDBOX_USER, lookup::NC_SANDBOX_PASSWORD);
    assert_ok(&test_account(&sandbox, &vendors).await, VALID);
    let production = next_caller_account(false, lookup::NC_SANDBOX_USER, lookup::NC_SANDBOX_PASSWORD);
    assert_failed(&test_account(&production, &vendors).await, Category::InvalidCredentials);
}

#[tokio::test]
async fn next_caller_wrong_password_is_invalid_credentials() {
    let vendors = next_caller_hosts(lookup::NC_DOC_PHONE).await;
    let report = test_account(&next_caller_account(false, lookup::NC_USER, "wrong-password"), &vendors).await;
    assert_failed(&report, Category::InvalidCredentials);
}

#[tokio::test]
async fn next_caller_without_a_record_for_the_test_number_still_accepts_the_credentials() {
    let vendors = next_caller_hosts("4155550100").await;
    let report = test_account(&next_caller_account(false, lookup::NC_USER, lookup::NC_PASSWORD), &vendors).await;
    assert_ok(&report, VALID);
    assert_eq!(detail(&report, "read"), "Next Caller holds no record for the test number");
}

// --- Synthetix (External KB) ---------------------------------------------------------------

#[tokio::test]
async fn synthetix_lists_external_views_with_consumer_and_application_keys() {
    let base = http_base(common::http(lookup::synthetix()).await);
    let account = synthetix_account(&base, lookup::SYN_CONSUMER_KEY, lookup::SYN_APPLICATION_KEY);
    let report = test_account(&account, &vendors_at(&base)).await;
    assert_ok(&report, VALID);
    assert_eq!(detail(&report, "read"), "the views resource listed 2 view(s)");
}

#[tokio::test]
async fn synthetix_refused_consumer_or_application_key_is_invalid_credentials() {
    let base = http_base(common::http(lookup::synthetix()).await);
    let vendors = vendors_at(&base);
    for account in [
        synthetix_account(&base, "wrong-consumer-key", lookup::SYN_APPLICATION_KEY),
        synthetix_account(&base, lookup::SYN_CONSUMER_KEY, "wrong-application-key"),
    ] {
        assert_failed(&test_account(&account, &vendors).await, Category::InvalidCredentials);
    }
}

// --- Every type: unreachable, hung, wrong target, blocked, settings --------------------------

#[tokio::test]
async fn every_business_type_reports_a_closed_port_as_unreachable() {
    let base = http_base(common::closed_port());
    let vendors = vendors_at(&base);
    for account in every_business_account(&base) {
        let report = test_account(&account, &vendors).await;
        assert_failed(&report, Category::Unreachable);
        assert_eq!(steps(&report), ["resolve", "connect"], "{}", label(&account));
    }
}

#[tokio::test]
async fn every_business_type_times_out_against_a_hung_peer_within_its_timeout() {
    let base = http_base(common::hung().await);
    let vendors = vendors_at(&base);
    let egress = common::egress(None);
    let accounts = every_business_account(&base);
    let timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let reports =
        futures::future::join_all(accounts.iter().map(|account| test_with(&egress, account, &vendors, timeout))).await;
    for (account, report) in accounts.iter().zip(&reports) {
        assert_failed(report, Category::Timeout);
        assert!(report.duration_ms < 1_500, "{}: {} ms", label(account), report.duration_ms);
    }
    assert!(started.elapsed() < Duration::from_secs(2), "hung peers cost their timeout, concurrently");
}

#[tokio::test]
async fn every_business_type_reports_a_url_without_its_api_as_not_found() {
    let base = http_base(common::http(axum::Router::new()).await);
    let vendors = vendors_at(&base);
    for account in every_business_account(&base) {
        let report = test_account(&account, &vendors).await;
        assert_failed(&report, Category::NotFound);
        assert!(report.message.contains("was not found (HTTP 404)"), "{}: {}", label(&account), report.message);
    }
}

#[tokio::test]
async fn every_business_type_is_refused_a_loopback_target_under_the_default_policy() {
    let strict = Egress::new(EgressPolicy::default()).unwrap();
    let base = http_base(common::http(axum::Router::new()).await);
    let vendors = vendors_at(&base);
    for account in every_business_account(&base) {
        let report = test_with(&strict, &account, &vendors, Duration::from_secs(1)).await;
        assert_failed(&report, Category::Blocked);
        assert_eq!(steps(&report), ["resolve"], "{}", label(&account));
    }
}

/// `account` with the secret `key` empty, as the catalog would refuse it.
fn with_empty_secret(mut account: AccountConfig, key: &str) -> AccountConfig {
    account.secrets.insert(key.to_owned(), "".into());
    account
}

#[tokio::test]
async fn missing_or_unusable_settings_fail_as_invalid_config_before_any_connection() {
    let base = "http://127.0.0.1:9";
    let mut unknown_method = servicenow_basic(base, crm::SN_USER, crm::SN_PASSWORD);
    unknown_method.properties.insert(servicenow::AUTHENTICATION_METHOD.into(), json!("kerberos"));
    let cases = [
        common::unchecked_account(
            "oracle_service_cloud",
            "default",
            json!({oracle_service_cloud::SITE_URL: base, oracle_service_cloud::USERNAME: "u"}),
            &[],
        ),
        common::unchecked_account(
            "salesforce",
            "default",
            json!({salesforce::LOGIN_URL: base, salesforce::CONSUMER_KEY: "k"}),
            &[],
        ),
        with_empty_secret(salesforce_password(base, "unused", crm::SF_SECURITY_TOKEN), "password"),
        with_empty_secret(servicenow_oauth(base, "unused"), "client_secret"),
        with_empty_secret(zendesk_oauth(base, "unused"), "oauth_access_token"),
        common::unchecked_account(
            "external_kb",
            "synthetix",
            json!({external_kb::URL: base}),
            &[(external_kb::CONSUMER_KEY, "line\nbreak")],
        ),
        oracle_account("rightnow", base, "../v1.4", crm::ORACLE_PASSWORD),
        unknown_method,
    ];
    for account in cases {
        let report = test_account(&account, &vendors_at(base)).await;
        assert_eq!(report.category, Some(Category::InvalidConfig), "{}: {report:#?}", label(&account));
        assert!(report.steps.is_empty(), "{}: nothing is sent", label(&account));
    }
}

#[tokio::test]
async fn types_without_a_test_in_the_spec_are_reported_unsupported() {
    let vendors = VendorUrls::default();
    let cases = [
        ("tdg", json!({tdg::USERNAME: "u", tdg::FIELD_MAPPING: []}), tdg::PASSWORD),
        ("zapier", json!({zapier::USERNAME: "zapier"}), zapier::PASSWORD),
    ];
    for (type_key, properties, password) in cases {
        let account = common::unchecked_account(type_key, "default", properties, &[(password, "unused-Sentinel")]);
        let report = test_account(&account, &vendors).await;
        assert_eq!(report.status, Outcome::Unsupported, "{type_key}");
        assert!(report.steps.is_empty());
    }
}

#[test]
fn every_business_type_with_a_probe_has_a_connector() {
    let pairs: Vec<(String, String)> =
        every_business_account("http://x").iter().map(|a| (a.type_key.clone(), a.provider.clone())).collect();
    for (type_key, provider) in pairs {
        assert!(REGISTRY.get(&type_key, &provider).is_some(), "{type_key}/{provider}");
    }
    assert!(REGISTRY.get("tdg", "default").is_none() && REGISTRY.get("zapier", "default").is_none());
}
