//! Local peers for connector tests, all on loopback: HTTP and HTTPS servers that follow a
//! vendor's documented contract (an axum router per test), a test CA the egress trusts,
//! a listener that accepts and never answers, and a port where nothing listens.
//! Each test binary (and the bulk bench) uses a different part of it.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use patchbay_connectors::{AccountConfig, Context, Egress, EgressPolicy, VendorUrls};
use patchbay_vault::SecretString;
use serde_json::{Map, Value};

/// A CA made for this test run and a server certificate it signed for `localhost` and
/// 127.0.0.1.
pub struct TestCa {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "patchbay test CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let mut leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        leaf_params.subject_alt_names.push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
            .unwrap();
        TestCa { ca_pem: ca.pem(), server_config: Arc::new(server_config) }
    }
}

/// An egress that allows loopback and trusts `ca` (when given), with a short timeout.
pub fn egress(ca: Option<&TestCa>) -> Egress {
    Egress::new(EgressPolicy {
        allow_loopback: true,
        timeout: Duration::from_secs(2),
        extra_roots_pem: ca.map(|c| c.ca_pem.clone()),
        ..EgressPolicy::default()
    })
    .unwrap()
}

/// Serves `router` over plain HTTP on a loopback port.
pub async fn http(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// Serves `router` over HTTPS (certificate from `ca`) on a loopback port.
pub async fn https(router: axum::Router, ca: &TestCa) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

pub use patchbay_testkit::peers::{closed_port, hung};

/// An account with these properties and secrets.
pub fn account(type_key: &str, provider: &str, properties: Value, secrets: &[(&str, &str)]) -> AccountConfig {
    let properties: Map<String, Value> = properties.as_object().cloned().unwrap_or_default();
    AccountConfig {
        id: Some("01a2b3c4-0000-7000-8000-000000000001".into()),
        type_key: type_key.into(),
        provider: provider.into(),
        name: format!("{type_key} {provider}"),
        properties,
        secrets: secrets.iter().map(|(k, v)| (k.to_string(), SecretString::from(v.to_string()))).collect(),
    }
}

/// A context for one call.
pub fn context<'a>(egress: &'a Egress, account: &'a AccountConfig, vendors: &'a VendorUrls) -> Context<'a> {
    Context { egress, account, timeout: Duration::from_secs(2), public_url: None, vendors }
}
