//! Testing many accounts of one tenant at once: 1,000 business accounts (CRMs, lookup,
//! knowledge base) through `Registry::test` against local peers that follow each vendor's contract, with the
//! concurrency bound the server uses (64), then the same with one account at a hung peer, whose
//! cost must be its timeout and no more. Prints the numbers; panics if a test reports wrongly.
//!
//! `cargo bench -p patchbay-connectors --bench bulk`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use patchbay_catalog::keys::{external_kb, next_caller, oracle_service_cloud, salesforce, servicenow, zendesk};
use patchbay_connectors::{AccountConfig, Category, Context, Egress, Outcome, Registry, TestReport, VendorUrls};
use patchbay_testkit::vendors::business::{crm, lookup};
use serde_json::json;

const ACCOUNTS: usize = 1_000;
const CONCURRENCY: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(1);

/// One account per business vendor, each aimed at its own peer.
async fn account_kinds(ca: &common::TestCa) -> (Vec<AccountConfig>, VendorUrls) {
    let base = |addr: std::net::SocketAddr| format!("http://{addr}");
    let oracle = base(common::http(crm::oracle()).await);
    let servicenow = base(common::http(crm::servicenow()).await);
    let zendesk = base(common::http(crm::zendesk()).await);
    let synthetix = base(common::http(lookup::synthetix()).await);
    let next_caller = common::http(lookup::next_caller(lookup::NextCallerHost {
        user: lookup::NC_USER,
        password: lookup::NC_PASSWORD,
        known_phone: lookup::NC_DOC_PHONE,
    }))
    .await;
    let instance = crm::SalesforceOrg { instance_url: String::new(), limits: crm::Limits::Granted };
    let instance_url = format!("https://127.0.0.1:{}", common::https(crm::salesforce(instance), ca).await.port());
    let login = crm::SalesforceOrg { instance_url, limits: crm::Limits::Granted };
    let salesforce = format!("https://127.0.0.1:{}", common::https(crm::salesforce(login), ca).await.port());

    let mut vendors = VendorUrls::default();
    vendors.set("next_caller", url::Url::parse(&format!("http://{next_caller}/")).unwrap()).unwrap();
    let kinds = vec![
        common::account(
            "oracle_service_cloud",
            "default",
            json!({oracle_service_cloud::SITE_URL: oracle, oracle_service_cloud::USERNAME: crm::ORACLE_USER}),
            &[(oracle_service_cloud::PASSWORD, crm::ORACLE_PASSWORD)],
        ),
        common::account(
            "salesforce",
            "default",
            json!({salesforce::LOGIN_URL: salesforce, salesforce::CONSUMER_KEY: crm::SF_CONSUMER_KEY}),
            &[(salesforce::CONSUMER_SECRET, crm::SF_CONSUMER_SECRET)],
        ),
        common::account(
            "servicenow",
            "default",
            json!({servicenow::INSTANCE_URL: servicenow, servicenow::USERNAME: crm::SN_USER}),
            &[(servicenow::PASSWORD, crm::SN_PASSWORD)],
        ),
        common::account(
            "zendesk",
            "default",
            json!({zendesk::SUBDOMAIN_URL: zendesk, zendesk::EMAIL: crm::ZD_EMAIL}),
            &[(zendesk::API_TOKEN, crm::ZD_API_TOKEN)],
        ),
        common::account(
            "next_caller",
            "default",
            json!({next_caller::USERNAME: lookup::NC_USER}),
            &[(next_caller::PASSWORD, lookup::NC_PASSWORD)],
        ),
        common::account(
            "external_kb",
            "synthetix",
            json!({external_kb::URL: format!("{synthetix}/1.1/")}),
            &[
                (external_kb::CONSUMER_KEY, lookup::SYN_CONSUMER_KEY),
                (external_kb::APPLICATION_KEY, lookup::SYN_APPLICATION_KEY),
            ],
        ),
    ];
    (kinds, vendors)
}

/// Tests `accounts` as the server does ("test all accounts of a tenant"): at most
/// `CONCURRENCY` at once. Returns the reports and the wall time.
async fn test_all(
    registry: &Registry,
    egress: &Egress,
    vendors: &VendorUrls,
    accounts: &[AccountConfig],
) -> (Vec<TestReport>, Duration) {
    let started = Instant::now();
    let reports = futures::stream::iter(accounts)
        .map(|account| async move {
            let cx =
                Context { egress, account, timeout: TIMEOUT, public_url: None, hook_id: None, tenant: None, vendors };
            registry.test(&cx).await
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    (reports, started.elapsed())
}

fn percentile(reports: &[TestReport], p: f64) -> u64 {
    let mut durations: Vec<u64> = reports.iter().map(|r| r.duration_ms).collect();
    durations.sort_unstable();
    let rank = ((durations.len() as f64 - 1.0) * p).round() as usize;
    durations[rank]
}

#[tokio::main]
async fn main() {
    let ca = common::TestCa::new();
    let egress = common::egress(Some(&ca));
    let registry = Registry::with([]);
    let (kinds, vendors) = account_kinds(&ca).await;
    let accounts: Vec<AccountConfig> = kinds.iter().cycle().take(ACCOUNTS).cloned().collect();

    let (warm_up, _) = test_all(&registry, &egress, &vendors, &accounts[..100]).await;
    assert!(
        warm_up.iter().all(|r| r.status == Outcome::Ok),
        "warm-up: {:#?}",
        warm_up.iter().find(|r| r.status != Outcome::Ok)
    );

    let (reports, healthy) = test_all(&registry, &egress, &vendors, &accounts).await;
    let failed: Vec<_> = reports.iter().filter(|r| r.status != Outcome::Ok).collect();
    assert!(failed.is_empty(), "{} of {ACCOUNTS} failed, e.g. {:#?}", failed.len(), failed.first());
    println!(
        "{ACCOUNTS} accounts ({} vendors), concurrency {CONCURRENCY}: {:.0} ms total (target 2000 ms), per test \
         p50 {} ms, p99 {} ms",
        kinds.len(),
        healthy.as_secs_f64() * 1e3,
        percentile(&reports, 0.5),
        percentile(&reports, 0.99)
    );

    // The hung account goes last, the worst place: nothing else overlaps its timeout.
    let hung = common::hung().await;
    let mut with_hung = accounts[..ACCOUNTS - 1].to_vec();
    with_hung.push(common::account(
        "oracle_service_cloud",
        "default",
        json!({oracle_service_cloud::SITE_URL: format!("http://{hung}"), oracle_service_cloud::USERNAME: crm::ORACLE_USER}),
        &[(oracle_service_cloud::PASSWORD, crm::ORACLE_PASSWORD)],
    ));
    let (reports, with_hung_peer) = test_all(&registry, &egress, &vendors, &with_hung).await;
    let failed: Vec<_> = reports.iter().filter(|r| r.status != Outcome::Ok).collect();
    assert!(
        failed.len() == 1 && failed[0].category == Some(Category::Timeout),
        "exactly the hung account fails, by timeout: {failed:#?}"
    );
    let extra = with_hung_peer.saturating_sub(healthy);
    println!(
        "{ACCOUNTS} accounts, one at a hung peer (timeout {} ms): {:.0} ms total, {:.0} ms more than all healthy; \
         the hung account's test took {} ms",
        TIMEOUT.as_millis(),
        with_hung_peer.as_secs_f64() * 1e3,
        extra.as_secs_f64() * 1e3,
        failed[0].duration_ms
    );
    let hung_cost = Duration::from_millis(failed[0].duration_ms);
    assert!(hung_cost < TIMEOUT + Duration::from_millis(200), "a hung peer costs its timeout, not more");
}
