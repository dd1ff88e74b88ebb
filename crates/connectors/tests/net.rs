//! WebSocket (STT) and SSO connection tests against loopback peers: a WSS server with a
//! certificate from the test CA, and HTTPS servers standing in for a SAML identity provider,
//! with certificates made by rcgen.

mod common;

use chrono::Datelike as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use futures::StreamExt as _;
use patchbay_catalog::keys::{sso, sso_agent_desktop, stt};
use patchbay_connectors::VendorUrls;
use patchbay_connectors::{AccountConfig, Category, Context, Egress, EgressPolicy, Outcome, Registry, TestReport};
use serde_json::json;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

async fn run_test(egress: &Egress, account: &AccountConfig, timeout: Duration) -> TestReport {
    let vendors = VendorUrls::default();
    let cx = Context { timeout, ..common::context(egress, account, &vendors) };
    Registry::with([]).test(&cx).await
}

fn step_names(report: &TestReport) -> Vec<&str> {
    report.steps.iter().map(|s| s.name.as_str()).collect()
}

// ---- WSS: STT Watson and GoVivace ----------------------------------------------------------

/// What the WSS peer saw of a successful session.
#[derive(Default)]
struct Seen {
    path_and_query: Vec<String>,
    closed_politely: usize,
}

/// A WSS server with the test CA's certificate. `allow` decides the upgrade from the
/// request (path, query, headers): `Err(status)` refuses it as the services do.
async fn wss_server(
    ca: &common::TestCa,
    allow: fn(&Request) -> Result<(), StatusCode>,
) -> (std::net::SocketAddr, Arc<Mutex<Seen>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config.clone());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                // tungstenite's `Callback` fixes this signature, large error response and all.
                #[allow(clippy::result_large_err)]
                let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
                    log.lock().unwrap().path_and_query.push(request.uri().to_string());
                    match allow(request) {
                        Ok(()) => Ok(response),
                        Err(status) => {
                            let mut refusal = ErrorResponse::new(Some("refused".into()));
                            *refusal.status_mut() = status;
                            Err(refusal)
                        }
                    }
                };
                let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(tls, callback).await else { return };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_close() {
                        log.lock().unwrap().closed_politely += 1;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// IBM Watson STT: the WebSocket `/v1/recognize` method under the service URL, with the
/// service credentials (<https://cloud.ibm.com/docs/speech-to-text?topic=speech-to-text-websockets>);
/// wrong credentials are refused with 401.
fn watson_peer(request: &Request) -> Result<(), StatusCode> {
    if request.uri().path() != "/speech-to-text/api/v1/recognize" {
        return Err(StatusCode::NOT_FOUND);
    }
    // "Basic " + base64("stt-user:right-password")
    match request.headers().get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Basic c3R0LXVzZXI6cmlnaHQtcGFzc3dvcmQ=") => Ok(()),
        _ => Err(StatusCode::UNAUTHORIZED),
    }
}

/// GoVivace: the account's URL with the API key as the `key` query parameter.
fn govivace_peer(request: &Request) -> Result<(), StatusCode> {
    match request.uri().query() {
        Some("key=right-key") if request.uri().path() == "/telephony" => Ok(()),
        _ => Err(StatusCode::FORBIDDEN),
    }
}

fn watson_account(url: &str, password: &str) -> AccountConfig {
    common::account(
        "stt",
        "watson",
        json!({stt::watson::URL: url, stt::watson::USERNAME: "stt-user"}),
        &[(stt::watson::PASSWORD, password)],
    )
}

fn govivace_account(url: &str, key: &str) -> AccountConfig {
    common::account("stt", "govivace", json!({stt::govivace::URL: url}), &[(stt::govivace::API_KEY, key)])
}

#[tokio::test]
async fn watson_handshake_with_basic_auth_succeeds_and_closes_politely() {
    let ca = common::TestCa::new();
    let (addr, seen) = wss_server(&ca, watson_peer).await;
    let account = watson_account(&format!("wss://localhost:{}", addr.port()), "right-password");
    let report = run_test(&common::egress(Some(&ca)), &account, Duration::from_secs(2)).await;
    assert_eq!(report.status, Outcome::Ok, "{report:?}");
    assert_eq!(step_names(&report), ["resolve", "connect", "tls", "handshake"]);
    assert!(report.steps[3].detail.contains("HTTP 101"), "{:?}", report.steps[3]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.path_and_query, ["/speech-to-text/api/v1/recognize"]);
    assert_eq!(seen.closed_politely, 1, "the connector sent a Close frame");
}

#[tokio::test]
async fn watson_wrong_password_is_invalid_credentials_without_the_password() {
    let ca = common::TestCa::new();
    let (addr, _) = wss_server(&ca, watson_peer).await;
    let account = watson_account(&format!("wss://localhost:{}", addr.port()), "WrongPasswordSentinel");
    let report = run_test(&common::egress(Some(&ca)), &account, Duration::from_secs(2)).await;
    assert_eq!(report.category, Some(Category::InvalidCredentials), "{report:?}");
    assert!(report.message.contains("HTTP 401"), "{}", report.message);
    assert!(!serde_json::to_string(&report).unwrap().contains("WrongPasswordSentinel"));
}

#[tokio::test]
async fn govivace_sends_the_api_key_as_the_key_parameter_and_never_shows_it() {
    let ca = common::TestCa::new();
    let (addr, seen) = wss_server(&ca, govivace_peer).await;
    let url = format!("wss://localhost:{}/telephony", addr.port());
    let ok = run_test(&common::egress(Some(&ca)), &govivace_account(&url, "right-key"), Duration::from_secs(2)).await;
    assert_eq!(ok.status, Outcome::Ok, "{ok:?}");
    assert_eq!(seen.lock().unwrap().path_and_query, ["/telephony?key=right-key"]);
    assert!(!serde_json::to_string(&ok).unwrap().contains("right-key"), "the key is not in the report");

    let refused =
        run_test(&common::egress(Some(&ca)), &govivace_account(&url, "WrongKeySentinel"), Duration::from_secs(2)).await;
    assert_eq!(refused.category, Some(Category::InvalidCredentials), "{refused:?}");
    assert!(!serde_json::to_string(&refused).unwrap().contains("WrongKeySentinel"));
}

#[tokio::test]
async fn a_plain_https_server_is_not_a_websocket_endpoint() {
    let ca = common::TestCa::new();
    let router = axum::Router::new().fallback(|| async { "a web page" });
    let addr = common::https(router, &ca).await;
    let account = watson_account(&format!("wss://localhost:{}", addr.port()), "right-password");
    let report = run_test(&common::egress(Some(&ca)), &account, Duration::from_secs(2)).await;
    assert_eq!(report.category, Some(Category::UnexpectedResponse), "{report:?}");
    assert!(report.message.contains("HTTP 200 instead of a WebSocket upgrade"), "{}", report.message);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_failure() {
    let ca = common::TestCa::new();
    let (addr, seen) = wss_server(&ca, govivace_peer).await;
    let url = format!("wss://localhost:{}/telephony", addr.port());
    let report = run_test(&common::egress(None), &govivace_account(&url, "right-key"), Duration::from_secs(2)).await;
    assert_eq!(report.category, Some(Category::Tls), "{report:?}");
    assert_eq!(report.steps.last().unwrap().name, "tls");
    assert!(seen.lock().unwrap().path_and_query.is_empty(), "no request went over the untrusted connection");
}

#[tokio::test]
async fn a_speech_server_that_hangs_costs_only_the_timeout() {
    // One peer never starts TLS; the other completes TLS and never answers the upgrade.
    let ca = common::TestCa::new();
    let hung = common::hung().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config.clone());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(tls) = acceptor.accept(tcp).await {
                held.push(tls);
            }
        }
    });
    for (addr, step) in [(hung, "tls"), (silent, "handshake")] {
        let started = Instant::now();
        let account = watson_account(&format!("wss://localhost:{}", addr.port()), "right-password");
        // A second: the silent peer's TLS handshake must finish inside it even on a loaded
        // machine (300 ms did not, under the whole suite on two cores), so that the timeout
        // falls on the step after it.
        let report = run_test(&common::egress(Some(&ca)), &account, Duration::from_secs(1)).await;
        assert_eq!(report.category, Some(Category::Timeout), "{step}: {report:?}");
        assert_eq!(report.steps.last().unwrap().name, step);
        assert!(started.elapsed() < Duration::from_secs(3), "{step}: took {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn speech_urls_must_be_wss_and_loopback_is_blocked_by_default() {
    let report = run_test(
        &common::egress(None),
        &common::unchecked_account(
            "stt",
            "watson",
            json!({stt::watson::URL: "ws://localhost:1", stt::watson::USERNAME: "stt-user"}),
            &[(stt::watson::PASSWORD, "right-password")],
        ),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(report.category, Some(Category::InvalidConfig), "{report:?}");
    assert!(report.steps.is_empty());

    let ca = common::TestCa::new();
    let (addr, seen) = wss_server(&ca, govivace_peer).await;
    let strict = Egress::new(EgressPolicy::default()).unwrap();
    let url = format!("wss://127.0.0.1:{}/telephony", addr.port());
    let report = run_test(&strict, &govivace_account(&url, "right-key"), Duration::from_secs(2)).await;
    assert_eq!(report.category, Some(Category::Blocked), "{report:?}");
    assert!(seen.lock().unwrap().path_and_query.is_empty());
}

// ---- SSO: Agent Desktop and Admin ----------------------------------------------------------

/// A self-signed IdP signing certificate valid between the two dates.
fn idp_certificate(not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> String {
    let mut params = rcgen::CertificateParams::new(vec!["idp.example.com".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "idp.example.com");
    params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

fn sso_account(provider: &str, enabled: bool, url: &str, certificate: &str) -> AccountConfig {
    let mut properties = sso_properties(enabled, url, certificate);
    if provider == "agent_desktop" {
        properties[sso_agent_desktop::ALLOWED_RETURN_URLS] = json!("https://desktop.example.com/signed-in");
    }
    common::account("sso", provider, properties, &[])
}

fn sso_properties(enabled: bool, url: &str, certificate: &str) -> serde_json::Value {
    json!({
        sso::ENABLE_SINGLE_SIGN_ON: enabled,
        sso::IDENTITY_PROVIDER_SINGLE_SIGN_ON_URL: url,
        sso::IDENTITY_PROVIDER_ISSUER: "https://idp.example.com/saml",
        sso::IDENTITY_PROVIDER_CERTIFICATE: certificate,
    })
}

/// A SAML IdP's SSO endpoint: a GET without `SAMLRequest` gets 400, as SimpleSAMLphp and
/// most IdPs answer; other paths 404; `/broken` a server error.
fn idp_router() -> axum::Router {
    axum::Router::new()
        .route(
            "/saml2/idp/SSOService.php",
            axum::routing::get(|| async { (StatusCode::BAD_REQUEST, "no SAMLRequest") }),
        )
        .route("/broken", axum::routing::get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
}

#[tokio::test]
async fn a_valid_certificate_and_an_answering_sso_url_pass_enabled_or_not() {
    let ca = common::TestCa::new();
    let addr = common::https(idp_router(), &ca).await;
    let url = format!("https://localhost:{}/saml2/idp/SSOService.php", addr.port());
    let certificate = idp_certificate((2020, 1, 1), (2090, 1, 1));
    for (provider, enabled) in [("agent_desktop", true), ("admin", false)] {
        let report = run_test(
            &common::egress(Some(&ca)),
            &sso_account(provider, enabled, &url, &certificate),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(report.status, Outcome::Ok, "{provider}: {report:?}");
        assert_eq!(step_names(&report), ["certificate", "metadata", "resolve", "connect", "tls", "request", "answer"]);
        let metadata = format!("/sso/{}/{provider}/metadata", common::TENANT);
        assert!(report.steps[1].detail.contains(&metadata), "{:?}", report.steps[1]);
        assert!(report.message.contains(&metadata), "{}", report.message);
        assert!(!report.message.contains("Warning"), "{}", report.message);
        let detail = &report.steps[0].detail;
        assert!(detail.contains("CN=idp.example.com") && detail.contains("2020-01-01 to 2090-01-01"), "{detail}");
        assert!(report.message.starts_with("The IdP certificate is valid until 2090-01-01"), "{}", report.message);
        assert_eq!(report.message.contains("not enabled"), !enabled, "{}", report.message);
    }
}

#[tokio::test]
async fn a_certificate_ending_within_30_days_passes_with_a_warning_to_renew_it() {
    let ca = common::TestCa::new();
    let addr = common::https(idp_router(), &ca).await;
    let url = format!("https://localhost:{}/saml2/idp/SSOService.php", addr.port());
    let soon = chrono::Utc::now() + chrono::TimeDelta::days(12);
    let (year, month, day) = (soon.year(), soon.month() as u8, soon.day() as u8);
    let certificate = idp_certificate((2020, 1, 1), (year, month, day));
    let report =
        run_test(&common::egress(Some(&ca)), &sso_account("admin", true, &url, &certificate), Duration::from_secs(2))
            .await;
    assert_eq!(report.status, Outcome::Ok, "{report:?}");
    assert!(report.message.contains("Warning: the IdP certificate ends in 11 days"), "{}", report.message);
}

#[tokio::test]
async fn an_out_of_date_certificate_fails_with_its_dates() {
    let url = "https://idp.example.com/sso";
    let cases = [
        (idp_certificate((2018, 1, 1), (2020, 1, 1)), "expired on 2020-01-01 (valid from 2018-01-01 to 2020-01-01)"),
        (idp_certificate((2090, 1, 1), (2095, 1, 1)), "not valid yet (valid from 2090-01-01 to 2095-01-01)"),
    ];
    for (certificate, expected) in cases {
        let report =
            run_test(&common::egress(None), &sso_account("admin", true, url, &certificate), Duration::from_secs(2))
                .await;
        assert_eq!(report.category, Some(Category::InvalidConfig), "{report:?}");
        assert!(report.message.contains(expected), "{}", report.message);
        assert_eq!(step_names(&report), ["certificate"], "the URL is not tried with a bad certificate");
    }
}

#[tokio::test]
async fn text_that_is_not_a_certificate_is_invalid_config() {
    let url = "https://idp.example.com/sso";
    let not_der = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    for (garbage, expected) in [("hello", "no PEM CERTIFICATE block"), (not_der, "not an X.509 certificate")] {
        let report = run_test(
            &common::egress(None),
            &common::unchecked_account("sso", "admin", sso_properties(true, url, garbage), &[]),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(report.category, Some(Category::InvalidConfig), "{report:?}");
        assert!(report.message.contains(expected), "{}", report.message);
    }
}

#[tokio::test]
async fn an_sso_url_that_is_missing_or_broken_fails() {
    let ca = common::TestCa::new();
    let addr = common::https(idp_router(), &ca).await;
    let certificate = idp_certificate((2020, 1, 1), (2090, 1, 1));
    for (path, category) in [("/nothing-here", Category::NotFound), ("/broken", Category::UnexpectedResponse)] {
        let url = format!("https://localhost:{}{path}", addr.port());
        let report = run_test(
            &common::egress(Some(&ca)),
            &sso_account("agent_desktop", true, &url, &certificate),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(report.category, Some(category), "{path}: {report:?}");
        assert_eq!(report.steps.last().unwrap().name, "answer");
    }
}

#[tokio::test]
async fn an_unreachable_or_hung_sso_url_fails_with_its_category() {
    let certificate = idp_certificate((2020, 1, 1), (2090, 1, 1));
    let closed = common::closed_port();
    let hung = common::hung().await;
    for (addr, category) in [(closed, Category::Unreachable), (hung, Category::Timeout)] {
        let url = format!("https://localhost:{}/sso", addr.port());
        let started = Instant::now();
        let report = run_test(
            &common::egress(None),
            &sso_account("admin", true, &url, &certificate),
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(report.category, Some(category), "{report:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    }
}
