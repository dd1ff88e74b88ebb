//! The one way out: every outbound connection of a test or action goes through `Egress`,
//! which resolves names, refuses targets the policy forbids (loopback, private, link-local
//! and cloud-metadata addresses unless the operator allows them) before any packet is sent,
//! applies timeouts, requires TLS 1.2 or later, and re-checks redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::report::{Category, Failure, TestRun};

/// Kinds of address the policy may allow. Everything else public is always allowed;
/// unspecified, broadcast, multicast and documentation ranges are always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918, CGNAT (100.64/10), IPv6 unique local (fc00::/7).
    Private,
    /// 169.254/16 and fe80::/10, which hold the cloud metadata services (169.254.169.254).
    LinkLocal,
    /// Never a valid target.
    Reserved,
}

impl AddressClass {
    pub fn of(ip: IpAddr) -> AddressClass {
        match ip {
            IpAddr::V4(v4) => class_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => class_v4(v4),
                None => class_v6(v6),
            },
        }
    }

    fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private-network address",
            AddressClass::LinkLocal => "a link-local or cloud-metadata address",
            AddressClass::Reserved => "a reserved address",
        }
    }
}

fn class_v4(ip: Ipv4Addr) -> AddressClass {
    let o = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
        AddressClass::Private
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || o[0] >= 240
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn class_v6(ip: Ipv6Addr) -> AddressClass {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if first & 0xfe00 == 0xfc00 {
        AddressClass::Private
    } else if first & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if ip.is_unspecified() || ip.is_multicast() || first == 0x2001 && ip.segments()[1] == 0x0db8 {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

/// What the operator allows beyond public addresses, and how long calls may take.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub allow_link_local: bool,
    /// Default timeout of one outbound call.
    pub timeout: Duration,
    /// Extra trusted root certificates (PEM), e.g. a company CA.
    pub extra_roots_pem: Option<String>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy {
            allow_loopback: false,
            allow_private: false,
            allow_link_local: false,
            timeout: Duration::from_secs(10),
            extra_roots_pem: None,
        }
    }
}

impl EgressPolicy {
    /// Why `ip` may not be contacted, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        let class = AddressClass::of(ip);
        let allowed = match class {
            AddressClass::Public => true,
            AddressClass::Loopback => self.allow_loopback,
            AddressClass::Private => self.allow_private,
            AddressClass::LinkLocal => self.allow_link_local,
            AddressClass::Reserved => false,
        };
        if allowed {
            return None;
        }
        let flag = match class {
            AddressClass::Loopback => "; an operator can allow it with --egress-allow loopback",
            AddressClass::Private => "; an operator can allow it with --egress-allow private",
            AddressClass::LinkLocal => "; an operator can allow it with --egress-allow link-local",
            _ => "",
        };
        Some(format!("{ip} is {} and the egress policy refuses it{flag}", class.describe()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("the extra root certificates are not valid PEM: {0}")]
    Roots(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Outbound connections under one policy. Cheap to clone.
#[derive(Clone)]
pub struct Egress {
    policy: Arc<EgressPolicy>,
    tls: Arc<rustls::ClientConfig>,
    http: reqwest::Client,
}

/// A resolved, allowed target.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<SocketAddr>,
}

/// An HTTP answer read whole (bodies are capped).
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn json(&self) -> Result<serde_json::Value, Failure> {
        serde_json::from_slice(&self.body).map_err(|_| {
            Failure::new(Category::UnexpectedResponse, format!("the answer (HTTP {}) is not JSON", self.status))
        })
    }
}

/// Largest response body a probe reads.
const MAX_BODY: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 5;

impl Egress {
    pub fn new(policy: EgressPolicy) -> Result<Egress, EgressError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = &policy.extra_roots_pem {
            let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| EgressError::Roots(e.to_string()))?;
            if certs.is_empty() {
                return Err(EgressError::Roots("no CERTIFICATE block".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| EgressError::Roots(e.to_string()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| EgressError::Client(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let policy = Arc::new(policy);
        let redirect_policy = policy.clone();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls.clone())
            .dns_resolver(Arc::new(PolicyResolver { policy: policy.clone() }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match literal_refusal(&redirect_policy, attempt.url()) {
                    Some(why) => attempt.error(why),
                    None if !matches!(attempt.url().scheme(), "http" | "https") => {
                        attempt.error("redirect to a non-HTTP URL")
                    }
                    None => attempt.follow(),
                }
            }))
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .user_agent(concat!("patchbay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EgressError::Client(e.to_string()))?;
        Ok(Egress { policy, tls: Arc::new(tls), http })
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// Resolves `host` and keeps the addresses the policy allows; none allowed is `Blocked`.
    pub async fn resolve(&self, host: &str, port: u16, timeout: Duration) -> Result<Target, Failure> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
                Err(_) => return Err(Failure::new(Category::Timeout, format!("resolving {host} timed out"))),
                Ok(Err(e)) => return Err(Failure::new(Category::Unreachable, format!("{host} does not resolve: {e}"))),
                Ok(Ok(found)) => found.collect(),
            },
        };
        let mut refusals = Vec::new();
        let allowed: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match self.policy.refusal(a.ip()) {
                Some(why) => {
                    refusals.push(why);
                    false
                }
                None => true,
            })
            .collect();
        if allowed.is_empty() {
            let why = refusals.into_iter().next().unwrap_or_else(|| format!("{host} resolves to no address"));
            let category = if why.contains("refuses") { Category::Blocked } else { Category::Unreachable };
            return Err(Failure::new(category, why));
        }
        Ok(Target { host: host.to_owned(), port, addrs: allowed })
    }

    /// Connects to the first allowed address that answers.
    pub async fn connect(&self, target: &Target, timeout: Duration) -> Result<TcpStream, Failure> {
        let mut last = None;
        for addr in &target.addrs {
            match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Err(_) => last = Some(Failure::new(Category::Timeout, format!("connecting to {addr} timed out"))),
                Ok(Err(e)) => {
                    last = Some(Failure::new(Category::Unreachable, format!("cannot connect to {addr}: {e}")))
                }
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
            }
        }
        Err(last.unwrap_or_else(|| Failure::new(Category::Unreachable, "no address to connect to")))
    }

    /// TLS over an open stream, verifying the certificate for `host`.
    pub async fn tls(
        &self,
        stream: TcpStream,
        host: &str,
        timeout: Duration,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| Failure::new(Category::InvalidConfig, format!("`{host}` is not a valid TLS server name")))?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
            Err(_) => Err(Failure::new(Category::Timeout, "the TLS handshake timed out")),
            Ok(Err(e)) => Err(Failure::new(Category::Tls, format!("TLS handshake failed: {e}"))),
            Ok(Ok(s)) => Ok(s),
        }
    }

    /// The resolve, connect and (for https/wss) TLS steps of a URL, recorded in `run`.
    pub async fn reach(&self, run: &mut TestRun, url: &url::Url, timeout: Duration) -> Result<Target, Failure> {
        let host = url
            .host_str()
            .ok_or_else(|| Failure::new(Category::InvalidConfig, format!("the URL {url} names no host")))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Failure::new(Category::InvalidConfig, format!("the URL {url} has no port")))?;
        let target = run
            .step("resolve", self.resolve(&host, port, timeout), |t| {
                format!("{host} -> {}", t.addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
            })
            .await?;
        let stream = run.step("connect", self.connect(&target, timeout), peer).await?;
        if matches!(url.scheme(), "https" | "wss") {
            let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
            run.step("tls", self.tls(stream, &host, timeout), |s| {
                let (_, conn) = s.get_ref();
                format!(
                    "{} with a certificate valid for {host}",
                    conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default()
                )
            })
            .await?;
        }
        Ok(target)
    }

    /// Sends one HTTP request after the reach steps, as step `request`. `build` adds
    /// headers, auth and body. The answer is read whole (capped).
    pub async fn http(
        &self,
        run: &mut TestRun,
        method: reqwest::Method,
        url: &str,
        timeout: Duration,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<HttpReply, Failure> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Failure::new(Category::InvalidConfig, format!("`{url}` is not a valid URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Failure::new(Category::InvalidConfig, format!("`{}://` is not an HTTP URL", parsed.scheme())));
        }
        self.reach(run, &parsed, timeout).await?;
        let request = build(self.http.request(method.clone(), parsed.clone()).timeout(timeout));
        let shown = redacted(&parsed);
        run.step("request", self.send(request, timeout), |r| format!("{method} {shown} -> HTTP {}", r.status)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, timeout: Duration) -> Result<HttpReply, Failure> {
        let response = request.send().await.map_err(|e| classify(&e, timeout))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, timeout))? {
            let room = MAX_BODY.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_BODY {
                break;
            }
        }
        Ok(HttpReply { status, headers, body })
    }

    /// A request through the policy-enforcing client, for callers that stream or keep
    /// connections (feeds). Names are checked by the client's resolver; an IP-literal URL,
    /// which reqwest never resolves, is checked here, and so are redirects.
    pub fn request(&self, method: reqwest::Method, url: &url::Url) -> Result<reqwest::RequestBuilder, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{}://` is not an HTTP URL", url.scheme()));
        }
        if let Some(why) = literal_refusal(&self.policy, url) {
            return Err(why);
        }
        Ok(self.http.request(method, url.clone()))
    }
}

fn peer(stream: &TcpStream) -> String {
    stream.peer_addr().map(|a| format!("connected to {a}")).unwrap_or_else(|_| "connected".into())
}

/// A URL as it may be shown: no query string (API keys travel there), no credentials.
pub fn redacted(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.to_string()
}

fn literal_refusal(policy: &EgressPolicy, url: &url::Url) -> Option<String> {
    match url.host()? {
        url::Host::Ipv4(ip) => policy.refusal(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => policy.refusal(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Maps a reqwest error to what the user can do about it, without echoing secrets
/// (reqwest errors carry the URL; ours never print it).
fn classify(e: &reqwest::Error, timeout: Duration) -> Failure {
    if e.is_timeout() {
        return Failure::new(Category::Timeout, format!("no answer within {} ms", timeout.as_millis()));
    }
    let chain = source_chain(e);
    if e.is_redirect() {
        let category = if chain.contains("refuses") { Category::Blocked } else { Category::UnexpectedResponse };
        return Failure::new(category, format!("redirect refused: {chain}"));
    }
    if chain.contains("refuses") {
        return Failure::new(Category::Blocked, chain);
    }
    if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") || chain.contains("handshake") {
        return Failure::new(Category::Tls, format!("TLS failed: {chain}"));
    }
    if e.is_connect() {
        return Failure::new(Category::Unreachable, format!("cannot connect: {chain}"));
    }
    Failure::new(Category::UnexpectedResponse, format!("the exchange failed: {chain}"))
}

fn source_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        "unknown error".into()
    } else {
        parts.join(": ")
    }
}

/// reqwest's resolver under the policy: a name that resolves only to refused addresses
/// fails before any connection is attempted.
struct PolicyResolver {
    policy: Arc<EgressPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.refusal(a.ip()) {
                    Some(why) => {
                        refusal.get_or_insert(why);
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                let why = refusal.unwrap_or_else(|| format!("{host} resolves to no address"));
                return Err(why.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classes_cover_the_ranges_the_policy_names() {
        let cases = [
            ("127.0.0.1", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("fd00::1", AddressClass::Private),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:169.254.169.254", AddressClass::LinkLocal),
            ("0.0.0.0", AddressClass::Reserved),
            ("255.255.255.255", AddressClass::Reserved),
            ("224.0.0.1", AddressClass::Reserved),
            ("8.8.8.8", AddressClass::Public),
            ("2606:4700::1111", AddressClass::Public),
        ];
        for (ip, class) in cases {
            assert_eq!(AddressClass::of(ip.parse().unwrap()), class, "{ip}");
        }
    }

    #[test]
    fn default_policy_refuses_everything_but_public_and_names_the_flag() {
        let policy = EgressPolicy::default();
        let why = policy.refusal("127.0.0.1".parse().unwrap()).unwrap();
        assert!(why.contains("--egress-allow loopback"), "{why}");
        assert!(policy.refusal("169.254.169.254".parse().unwrap()).unwrap().contains("metadata"));
        assert!(policy.refusal("8.8.8.8".parse().unwrap()).is_none());
        let open = EgressPolicy { allow_loopback: true, ..EgressPolicy::default() };
        assert!(open.refusal("127.0.0.1".parse().unwrap()).is_none());
        assert!(open.refusal("10.0.0.1".parse().unwrap()).is_some(), "loopback does not open private");
        assert!(open.refusal("0.0.0.0".parse().unwrap()).is_some(), "reserved is never allowed");
    }

    #[test]
    fn shown_urls_drop_query_and_credentials() {
        let url = url::Url::parse("https://user:pw@api.example.com/v1/voices?key=SECRET").unwrap();
        assert_eq!(redacted(&url), "https://api.example.com/v1/voices");
    }
}
