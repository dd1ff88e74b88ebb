//! The HTTP feeds' connection tests (WFM HTTP POST, Loxysoft, NICE): what the feed sends for
//! an empty state, or a keep-alive, posted with the account's credentials to a receiver that
//! accepts only the documented shape; and every way the receiver can be wrong.

use std::time::Duration;

use patchbay_catalog::keys::{loxysoft, nice, wfm};
use patchbay_connectors::{AccountConfig, Category, Egress, EgressPolicy};
use serde_json::json;

use crate::common::{
    account, assert_failed, assert_ok, closed_base, detail, egress, http, hung_base, label, steps, test_account,
    test_with, unchecked_account,
};
use crate::receivers;

fn loxysoft_account(base: &str, token: &str) -> AccountConfig {
    let properties = json!({loxysoft::URL: format!("{base}{}", receivers::LOXYSOFT_PATH), loxysoft::PERIODIC_UPDATE_INTERVAL: 10,
        loxysoft::SKILLS_MAPPING: {}});
    account("loxysoft", "default", properties, &[(loxysoft::TOKEN, token)])
}

fn nice_account(base: &str, password: &str) -> AccountConfig {
    let properties = json!({nice::URL: format!("{base}{}", receivers::NICE_PATH), nice::USERNAME: receivers::NICE_USER,
        nice::KEEP_ALIVE_UPDATE_INTERVAL: 60, nice::AGENT_ID_PREFIX: "", nice::EXTENSION_PREFIX: ""});
    account("nice", "default", properties, &[(nice::PASSWORD, password)])
}

fn wfm_account(base: &str, token: Option<&str>) -> AccountConfig {
    let properties = json!({wfm::http_post::URL: format!("{base}{}", receivers::WFM_PATH), wfm::http_post::PROTOCOL: "http_post",
        wfm::http_post::PERIODIC_UPDATE_INTERVAL: 10});
    let secrets: Vec<(&str, &str)> = token.map(|t| (wfm::http_post::TOKEN, t)).into_iter().collect();
    account("wfm", "http_post", properties, &secrets)
}

/// One valid account of every HTTP feed and variant, all aimed at `base`.
fn every_http_feed_account(base: &str) -> Vec<AccountConfig> {
    vec![
        loxysoft_account(base, receivers::LOXYSOFT_TOKEN),
        nice_account(base, receivers::NICE_PASSWORD),
        wfm_account(base, Some(receivers::WFM_TOKEN)),
        wfm_account(base, None),
    ]
}

#[tokio::test]
async fn loxysoft_accepts_an_empty_update_with_its_token() {
    let base = http(receivers::loxysoft()).await;
    let report = test_account(&loxysoft_account(&base, receivers::LOXYSOFT_TOKEN)).await;
    assert_ok(&report, "The Loxysoft endpoint accepted an empty update.");
    assert_eq!(detail(&report, "authenticate"), "HTTP 204: the credentials were accepted");
}

#[tokio::test]
async fn nice_accepts_an_authenticated_keep_alive_batch() {
    let base = http(receivers::nice()).await;
    let report = test_account(&nice_account(&base, receivers::NICE_PASSWORD)).await;
    assert_ok(&report, "The NICE endpoint accepted an authenticated keep-alive.");
    assert_eq!(detail(&report, "authenticate"), "HTTP 200: the credentials were accepted");
}

#[tokio::test]
async fn wfm_http_post_sends_an_empty_agent_and_service_list_with_or_without_a_token() {
    let with_token = http(receivers::wfm(Some(receivers::WFM_TOKEN))).await;
    let report = test_account(&wfm_account(&with_token, Some(receivers::WFM_TOKEN))).await;
    assert_ok(&report, "The WFM endpoint accepted an empty update.");
    assert_eq!(steps(&report).last(), Some(&"authenticate"));

    let open = http(receivers::wfm(None)).await;
    let report = test_account(&wfm_account(&open, None)).await;
    assert_ok(&report, "The WFM endpoint accepted an empty update.");
    assert_eq!(steps(&report).last(), Some(&"deliver"), "no credentials were sent, so none were checked");
}

#[tokio::test]
async fn feed_targets_refusing_the_credentials_are_invalid_credentials() {
    let loxysoft = http(receivers::loxysoft()).await;
    let nice = http(receivers::nice()).await;
    let wfm = http(receivers::wfm(Some(receivers::WFM_TOKEN))).await;
    let cases = [
        loxysoft_account(&loxysoft, "wrong-token"),
        nice_account(&nice, "wrong-password"),
        wfm_account(&wfm, None),
        wfm_account(&wfm, Some("wrong-token")),
    ];
    for account in cases {
        let report = test_account(&account).await;
        assert_failed(&report, Category::InvalidCredentials);
    }
}

#[tokio::test]
async fn every_http_feed_reports_a_closed_port_as_unreachable() {
    let base = closed_base().await;
    for account in every_http_feed_account(&base) {
        let report = test_account(&account).await;
        assert_failed(&report, Category::Unreachable);
        assert_eq!(steps(&report), ["resolve", "connect"], "{}", label(&account));
    }
}

#[tokio::test]
async fn every_http_feed_times_out_against_a_hung_peer_within_its_timeout() {
    let base = hung_base().await;
    let timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let mut tests = tokio::task::JoinSet::new();
    for account in every_http_feed_account(&base) {
        tests.spawn(async move {
            let report = test_with(&egress(), &account, timeout).await;
            (label(&account), report)
        });
    }
    while let Some(done) = tests.join_next().await {
        let (label, report) = done.unwrap();
        assert_failed(&report, Category::Timeout);
        assert!(report.duration_ms < 1_500, "{label}: {} ms", report.duration_ms);
    }
    assert!(started.elapsed() < Duration::from_secs(2), "hung peers cost their timeout, concurrently");
}

#[tokio::test]
async fn every_http_feed_reports_a_url_without_its_receiver_as_not_found() {
    let base = http(axum::Router::new()).await;
    for account in every_http_feed_account(&base) {
        let report = test_account(&account).await;
        assert_failed(&report, Category::NotFound);
        assert!(report.message.contains("was not found (HTTP 404)"), "{}: {}", label(&account), report.message);
    }
}

#[tokio::test]
async fn every_http_feed_is_refused_a_loopback_target_under_the_default_policy() {
    let strict = Egress::new(EgressPolicy::default()).unwrap();
    let base = http(axum::Router::new()).await;
    for account in every_http_feed_account(&base) {
        let report = test_with(&strict, &account, Duration::from_secs(1)).await;
        assert_failed(&report, Category::Blocked);
        assert_eq!(steps(&report), ["resolve"], "{}", label(&account));
    }
}

#[tokio::test]
async fn missing_settings_fail_as_invalid_config_before_any_connection() {
    let base = "http://127.0.0.1:9";
    let cases = [
        unchecked_account("loxysoft", "default", json!({loxysoft::URL: base}), &[]),
        unchecked_account("nice", "default", json!({nice::URL: base, nice::USERNAME: "u"}), &[]),
        unchecked_account("wfm", "http_post", json!({}), &[]),
    ];
    for account in cases {
        let report = test_account(&account).await;
        assert_eq!(report.category, Some(Category::InvalidConfig), "{}: {report:#?}", label(&account));
        assert!(report.steps.is_empty(), "{}: nothing is sent", label(&account));
    }
}
