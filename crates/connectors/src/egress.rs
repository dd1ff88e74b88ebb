//! The one way out: every outbound connection of a test or action goes through `Egress`,
//! which resolves names, refuses targets the policy forbids (loopback, private, link-local
//! and cloud-metadata addresses unless the operator allows them) before any packet is sent,
//! applies timeouts, requires TLS 1.2 or later, and re-checks redirects.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::report::{Category, Failure, TestRun};

/// Kinds of address the policy may allow. Public addresses are always allowed; `Reserved`
/// never is. Which ranges make each class is the table [`RANGES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918, CGNAT (100.64/10), IPv6 unique local (fc00::/7).
    Private,
    /// 169.254/16 and fe80::/10, which hold the cloud metadata services (169.254.169.254).
    LinkLocal,
    /// An IPv6 address carrying a public IPv4 address (NAT64, 6to4, Teredo, IPv4-translated):
    /// a translator or relay turns it into an IPv4 destination.
    EmbeddedIpv4,
    /// Never a valid target, whatever the operator allows.
    Reserved,
}

impl AddressClass {
    pub fn of(ip: IpAddr) -> AddressClass {
        verdict(ip).class
    }

    /// The `--egress-allow` value that opens the class, if one does.
    fn flag(self) -> Option<&'static str> {
        match self {
            AddressClass::Loopback => Some("loopback"),
            AddressClass::Private => Some("private"),
            AddressClass::LinkLocal => Some("link-local"),
            AddressClass::EmbeddedIpv4 => Some("embedded-ipv4"),
            AddressClass::Public | AddressClass::Reserved => None,
        }
    }
}

/// A special-purpose range: every address in it is of a class, or stands for the IPv4
/// address(es) it carries.
struct Range {
    net: IpAddr,
    len: u32,
    name: &'static str,
    rule: Rule,
}

enum Rule {
    Class(AddressClass),
    /// The IPv4 address in the last 32 bits, as itself (IPv4-mapped: a dual-stack socket
    /// sends to that IPv4 address).
    Mapped,
    /// Carries the IPv4 addresses `extract` finds, which a translator or relay will reach:
    /// any of them not public makes the address `Reserved`; all public make it `class`.
    Carries(fn(u128) -> Vec<Ipv4Addr>, AddressClass),
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
}

/// The IPv4 address in the last 32 bits (NAT64 /96, IPv4-compatible, IPv4-translated).
fn last_32_bits(bits: u128) -> Vec<Ipv4Addr> {
    vec![Ipv4Addr::from(bits as u32)]
}

/// 6to4: the IPv4 address of the site's relay, in bits 16..48.
fn sixtofour(bits: u128) -> Vec<Ipv4Addr> {
    vec![Ipv4Addr::from((bits >> 80) as u32)]
}

/// Teredo: the server in bits 32..64 and the client, inverted, in the last 32 bits.
fn teredo(bits: u128) -> Vec<Ipv4Addr> {
    vec![Ipv4Addr::from((bits >> 64) as u32), Ipv4Addr::from(!(bits as u32))]
}

/// Every range the policy treats specially, first match wins (so more specific ranges come
/// first). Addresses in none are public. docs/operations.md ("Egress: refused address
/// ranges") lists the same table; a test keeps the two in step.
const RANGES: &[Range] = &[
    Range { net: v4(0, 0, 0, 0), len: 8, name: "\"this network\", RFC 791", rule: Rule::Class(AddressClass::Reserved) },
    Range { net: v4(10, 0, 0, 0), len: 8, name: "private network, RFC 1918", rule: Rule::Class(AddressClass::Private) },
    Range {
        net: v4(100, 64, 0, 0),
        len: 10,
        name: "shared CGNAT space, RFC 6598",
        rule: Rule::Class(AddressClass::Private),
    },
    Range { net: v4(127, 0, 0, 0), len: 8, name: "loopback", rule: Rule::Class(AddressClass::Loopback) },
    Range {
        net: v4(169, 254, 0, 0),
        len: 16,
        name: "link-local, where cloud metadata services answer",
        rule: Rule::Class(AddressClass::LinkLocal),
    },
    Range {
        net: v4(172, 16, 0, 0),
        len: 12,
        name: "private network, RFC 1918",
        rule: Rule::Class(AddressClass::Private),
    },
    Range {
        net: v4(192, 0, 2, 0),
        len: 24,
        name: "documentation, RFC 5737",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v4(192, 168, 0, 0),
        len: 16,
        name: "private network, RFC 1918",
        rule: Rule::Class(AddressClass::Private),
    },
    Range {
        net: v4(198, 18, 0, 0),
        len: 15,
        name: "benchmarking, RFC 2544",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v4(198, 51, 100, 0),
        len: 24,
        name: "documentation, RFC 5737",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v4(203, 0, 113, 0),
        len: 24,
        name: "documentation, RFC 5737",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range { net: v4(224, 0, 0, 0), len: 4, name: "multicast", rule: Rule::Class(AddressClass::Reserved) },
    Range {
        net: v4(240, 0, 0, 0),
        len: 4,
        name: "reserved, and the broadcast address",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range { net: v6(0, 0, 0, 0, 0, 0, 0, 0), len: 128, name: "unspecified", rule: Rule::Class(AddressClass::Reserved) },
    Range { net: v6(0, 0, 0, 0, 0, 0, 0, 1), len: 128, name: "loopback", rule: Rule::Class(AddressClass::Loopback) },
    Range { net: v6(0, 0, 0, 0, 0, 0xffff, 0, 0), len: 96, name: "IPv4-mapped", rule: Rule::Mapped },
    Range {
        net: v6(0, 0, 0, 0, 0xffff, 0, 0, 0),
        len: 96,
        name: "IPv4-translated, RFC 2765",
        rule: Rule::Carries(last_32_bits, AddressClass::EmbeddedIpv4),
    },
    Range {
        net: v6(0, 0, 0, 0, 0, 0, 0, 0),
        len: 96,
        name: "IPv4-compatible, deprecated by RFC 4291",
        rule: Rule::Carries(last_32_bits, AddressClass::Reserved),
    },
    Range {
        net: v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
        len: 96,
        name: "NAT64 well-known prefix, RFC 6052",
        rule: Rule::Carries(last_32_bits, AddressClass::EmbeddedIpv4),
    },
    Range {
        net: v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        len: 48,
        name: "local-use NAT64, RFC 8215, where the IPv4 address sits is the local translator's choice",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v6(0x100, 0, 0, 0, 0, 0, 0, 0),
        len: 64,
        name: "discard-only, RFC 6666",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v6(0x2001, 0, 0, 0, 0, 0, 0, 0),
        len: 32,
        name: "Teredo, RFC 4380",
        rule: Rule::Carries(teredo, AddressClass::EmbeddedIpv4),
    },
    Range {
        net: v6(0x2001, 2, 0, 0, 0, 0, 0, 0),
        len: 48,
        name: "benchmarking, RFC 5180",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v6(0x2001, 0x20, 0, 0, 0, 0, 0, 0),
        len: 28,
        name: "ORCHIDv2, RFC 7343",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        len: 32,
        name: "documentation, RFC 3849",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v6(0x2002, 0, 0, 0, 0, 0, 0, 0),
        len: 16,
        name: "6to4, RFC 3056",
        rule: Rule::Carries(sixtofour, AddressClass::EmbeddedIpv4),
    },
    Range {
        net: v6(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        len: 20,
        name: "documentation, RFC 9637",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v6(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        len: 7,
        name: "unique local, RFC 4193",
        rule: Rule::Class(AddressClass::Private),
    },
    Range {
        net: v6(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        len: 10,
        name: "link-local",
        rule: Rule::Class(AddressClass::LinkLocal),
    },
    Range {
        net: v6(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        len: 10,
        name: "site-local, deprecated by RFC 3879",
        rule: Rule::Class(AddressClass::Reserved),
    },
    Range {
        net: v6(0xff00, 0, 0, 0, 0, 0, 0, 0),
        len: 8,
        name: "multicast",
        rule: Rule::Class(AddressClass::Reserved),
    },
];

impl Range {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.len).unwrap_or(0);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.len).unwrap_or(0);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

impl Range {
    /// `net/len`, IPv6 in plain hex (Rust prints `::ffff:0:0` as `::ffff:0.0.0.0`).
    fn prefix(&self) -> String {
        match self.net {
            IpAddr::V6(net) if net.to_ipv4_mapped().is_some() => {
                let s = net.segments();
                format!("::ffff:{:x}:{:x}/{}", s[6], s[7], self.len)
            }
            net => format!("{net}/{}", self.len),
        }
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.prefix(), self.name)
    }
}

/// What the policy makes of an address: its class and, when it is not public, what it is
/// (the range, and any IPv4 address it carries), for the refusal.
struct Verdict {
    class: AddressClass,
    what: String,
}

fn verdict(ip: IpAddr) -> Verdict {
    let Some(range) = RANGES.iter().find(|r| r.contains(ip)) else {
        return Verdict { class: AddressClass::Public, what: "public".into() };
    };
    let bits = match ip {
        IpAddr::V6(v6) => u128::from(v6),
        IpAddr::V4(_) => 0,
    };
    match &range.rule {
        Rule::Class(class) => Verdict { class: *class, what: format!("in {range}") },
        Rule::Mapped => {
            let v4 = Ipv4Addr::from(bits as u32);
            let inner = verdict(IpAddr::V4(v4));
            Verdict { class: inner.class, what: format!("the IPv4-mapped form of {v4}, which is {}", inner.what) }
        }
        Rule::Carries(extract, public_as) => {
            let carried = extract(bits);
            let worst =
                carried.iter().map(|v4| (v4, verdict(IpAddr::V4(*v4)))).find(|(_, v)| v.class != AddressClass::Public);
            match worst {
                Some((v4, inner)) => Verdict {
                    class: AddressClass::Reserved,
                    what: format!("in {range} and carries {v4}, which is {}", inner.what),
                },
                None => {
                    let list = carried.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ");
                    Verdict { class: *public_as, what: format!("in {range} and carries the public {list}") }
                }
            }
        }
    }
}

/// What the operator allows beyond public addresses, how long calls may take, and where
/// names are looked up.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub allow_link_local: bool,
    pub allow_embedded_ipv4: bool,
    /// Default timeout of one outbound call.
    pub timeout: Duration,
    /// Extra trusted root certificates (PEM), e.g. a company CA.
    pub extra_roots_pem: Option<String>,
    pub names: Names,
}

/// Where names are looked up. Every answer passes the policy, whichever source gave it.
#[derive(Debug, Clone, Default)]
pub enum Names {
    /// The system's resolver (hosts file, DNS).
    #[default]
    System,
    /// Fixed answers, as a hosts file gives them; other names do not resolve. Tests answer
    /// with records no real zone serves (e.g. AAAA records in NAT64 or 6to4 ranges).
    Fixed(Arc<HashMap<String, Vec<IpAddr>>>),
}

impl Names {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        match self {
            Names::System => Ok(tokio::net::lookup_host((host, port)).await?.collect()),
            Names::Fixed(answers) => match answers.get(host) {
                Some(ips) => Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect()),
                None => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such name")),
            },
        }
    }
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy {
            allow_loopback: false,
            allow_private: false,
            allow_link_local: false,
            allow_embedded_ipv4: false,
            timeout: Duration::from_secs(10),
            extra_roots_pem: None,
            names: Names::System,
        }
    }
}

/// How a refusal tells the operator which `--egress-allow` value opens the range (the value
/// follows). Advice for operators only: [`for_tenants`] words it for a tenant's users.
pub const OPERATOR_REMEDY: &str = "; an operator can allow it with --egress-allow ";
/// How a refusal says no `--egress-allow` value opens the range.
pub const NEVER_ALLOWED: &str = " whatever --egress-allow says";
/// What a tenant's users are told instead of the `--egress-allow` value that opens a range.
const ASK_THE_PROVIDER: &str =
    "; your service provider blocks connections to such addresses: ask them to allow it if this address is right";
/// What a tenant's users are told of a range no `--egress-allow` value opens.
const NEVER_OPENED: &str = " (such addresses are never allowed)";

/// A text that may hold a refusal (a test's report, an export's failure), worded for a
/// tenant's users: the operator's `--egress-allow` advice becomes advice to ask their
/// service provider. What is kept is worded so, whoever caused it, since the tenant's users
/// read it later; only a live answer to the service provider keeps the flag.
pub fn for_tenants(mut text: String) -> String {
    if let Some(at) = text.find(OPERATOR_REMEDY) {
        let flag = at + OPERATOR_REMEDY.len();
        let end =
            text[flag..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).map_or(text.len(), |i| flag + i);
        text.replace_range(at..end, ASK_THE_PROVIDER);
    }
    if let Some(at) = text.find(NEVER_ALLOWED) {
        text.replace_range(at..at + NEVER_ALLOWED.len(), NEVER_OPENED);
    }
    text
}

impl EgressPolicy {
    /// Why `ip` may not be contacted, or `None` when it may. The reason names the range and
    /// the `--egress-allow` value that opens it, if one does ([`OPERATOR_REMEDY`]).
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        let Verdict { class, what } = verdict(ip);
        let allowed = match class {
            AddressClass::Public => true,
            AddressClass::Loopback => self.allow_loopback,
            AddressClass::Private => self.allow_private,
            AddressClass::LinkLocal => self.allow_link_local,
            AddressClass::EmbeddedIpv4 => self.allow_embedded_ipv4,
            AddressClass::Reserved => false,
        };
        if allowed {
            return None;
        }
        let remedy = match class.flag() {
            Some(flag) => format!("{OPERATOR_REMEDY}{flag}"),
            None => NEVER_ALLOWED.to_owned(),
        };
        Some(format!("{ip} is {what}, and the egress policy refuses it{remedy}"))
    }

    /// The addresses of `host` (a name or an IP literal) the policy allows; none allowed is
    /// `Blocked`, with the first refusal's reason.
    async fn allowed_addrs(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
        let found = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => self
                .names
                .lookup(host, port)
                .await
                .map_err(|e| Failure::new(Category::Unreachable, format!("{host} does not resolve: {e}")))?,
        };
        let mut refusal = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.refusal(a.ip()) {
                Some(why) => {
                    refusal.get_or_insert(why);
                    false
                }
                None => true,
            })
            .collect();
        match (allowed.is_empty(), refusal) {
            (false, _) => Ok(allowed),
            (true, Some(why)) => Err(Failure::new(Category::Blocked, why)),
            (true, None) => Err(Failure::new(Category::Unreachable, format!("{host} resolves to no address"))),
        }
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
        match tokio::time::timeout(timeout, self.policy.allowed_addrs(host, port)).await {
            Err(_) => Err(Failure::new(Category::Timeout, format!("resolving {host} timed out"))),
            Ok(Err(f)) => Err(f),
            Ok(Ok(addrs)) => Ok(Target { host: host.to_owned(), port, addrs }),
        }
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

    /// The resolve and connect steps of `host:port`, recorded in `run`: the open stream.
    pub async fn open(
        &self,
        run: &mut TestRun,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<TcpStream, Failure> {
        let target = run
            .step("resolve", self.resolve(host, port, timeout), |t| {
                format!("{host} -> {}", t.addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
            })
            .await?;
        run.step("connect", self.connect(&target, timeout), peer).await
    }

    /// The resolve, connect and (for https/wss) TLS steps of a URL, recorded in `run`.
    pub async fn reach(&self, run: &mut TestRun, url: &url::Url, timeout: Duration) -> Result<(), Failure> {
        let host = url
            .host_str()
            .ok_or_else(|| Failure::new(Category::InvalidConfig, format!("the URL {url} names no host")))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Failure::new(Category::InvalidConfig, format!("the URL {url} has no port")))?;
        let stream = self.open(run, &host, port, timeout).await?;
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
        Ok(())
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

    /// Sends one HTTP request through the pooled, policy-enforcing client and reads the
    /// answer whole (capped), for live traffic (the runtime gateway): no steps, and
    /// connections are kept for the next call. The timeout covers the whole exchange.
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &url::Url,
        timeout: Duration,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<HttpReply, Failure> {
        let request = self.request(method, url).map_err(|why| {
            let category = if why.contains("refuses") { Category::Blocked } else { Category::InvalidConfig };
            Failure::new(category, why)
        })?;
        let send = self.send(build(request.timeout(timeout)), timeout);
        tokio::time::timeout(timeout, send).await.unwrap_or_else(|_| {
            Err(Failure::new(Category::Timeout, format!("no answer within {} ms", timeout.as_millis())))
        })
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
pub fn classify(e: &reqwest::Error, timeout: Duration) -> Failure {
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
            let allowed = policy.allowed_addrs(name.as_str(), 0).await.map_err(|f| f.message)?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_worded_for_tenants_ask_the_provider_and_name_no_flag() {
        let policy = EgressPolicy::default();
        let opens = policy.refusal("127.0.0.1".parse().unwrap()).unwrap();
        assert!(opens.contains("--egress-allow loopback"), "{opens}");
        let told = for_tenants(format!("cannot connect: {opens}; nothing was sent"));
        assert!(told.starts_with("cannot connect: 127.0.0.1 is"), "the rest is kept: {told}");
        assert!(told.contains("ask them to allow it") && told.ends_with("; nothing was sent"), "{told}");
        let never = for_tenants(policy.refusal("fec0::1".parse().unwrap()).unwrap());
        assert!(never.ends_with("(such addresses are never allowed)"), "{never}");
        for told in [told, never] {
            assert!(!told.contains("--egress-allow"), "{told}");
        }
    }

    #[test]
    fn address_classes_cover_every_range_the_policy_names() {
        use AddressClass::*;
        let cases = [
            // IPv4
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("169.254.169.254", LinkLocal),
            ("0.0.0.0", Reserved),
            ("0.1.2.3", Reserved),
            ("255.255.255.255", Reserved),
            ("240.0.0.1", Reserved),
            ("224.0.0.1", Reserved),
            ("192.0.2.1", Reserved),
            ("198.51.100.7", Reserved),
            ("203.0.113.9", Reserved),
            ("198.18.0.1", Reserved),
            ("198.19.255.1", Reserved),
            ("8.8.8.8", Public),
            ("100.128.0.1", Public),
            // IPv6 of its own
            ("::1", Loopback),
            ("::", Reserved),
            ("fd00::1", Private),
            ("fc00::1", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", Reserved),
            ("feff::1", Reserved),
            ("ff02::1", Reserved),
            ("ff0e::1", Reserved),
            ("100::1", Reserved),
            ("100::ffff:ffff:ffff:ffff", Reserved),
            ("2001:2::1", Reserved),
            ("2001:2:0:ffff::1", Reserved),
            ("2001:20::1", Reserved),
            ("2001:2f:ffff::1", Reserved),
            ("2001:db8::1", Reserved),
            ("3fff::1", Reserved),
            ("3fff:fff:ffff::1", Reserved),
            ("3fff:1000::1", Public),
            ("2606:4700::1111", Public),
            ("2001:4860:4860::8888", Public),
            // IPv4-mapped: the IPv4 address itself
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:8.8.8.8", Public),
            // NAT64, well-known prefix (RFC 6052): the last 32 bits
            ("64:ff9b::7f00:1", Reserved),
            ("64:ff9b::127.0.0.1", Reserved),
            ("64:ff9b::a00:1", Reserved),
            ("64:ff9b::a9fe:a9fe", Reserved),
            ("64:ff9b::c0a8:101", Reserved),
            ("64:ff9b::808:808", EmbeddedIpv4),
            // NAT64, local-use prefix (RFC 8215): where the IPv4 address sits is the translator's choice
            ("64:ff9b:1::7f00:1", Reserved),
            ("64:ff9b:1::808:808", Reserved),
            ("64:ff9b:1:7f00:1::", Reserved),
            // 6to4 (RFC 3056): bits 16..48
            ("2002:7f00:1::", Reserved),
            ("2002:7f00:1::1", Reserved),
            ("2002:a9fe:a9fe::1", Reserved),
            ("2002:a00:1::1", Reserved),
            ("2002:808:808::1", EmbeddedIpv4),
            // IPv4-compatible (deprecated, RFC 4291)
            ("::127.0.0.1", Reserved),
            ("::169.254.169.254", Reserved),
            ("::8.8.8.8", Reserved),
            ("::2", Reserved),
            // IPv4-translated (RFC 2765)
            ("::ffff:0:127.0.0.1", Reserved),
            ("::ffff:0:10.0.0.1", Reserved),
            ("::ffff:0:8.8.8.8", EmbeddedIpv4),
            // Teredo (RFC 4380): server in bits 32..64, client (inverted) in the last 32 bits
            ("2001:0:808:808:0:0:80ff:fffe", Reserved),
            ("2001:0:7f00:1:0:0:f7f7:f7f7", Reserved),
            ("2001:0:a9fe:a9fe:8000:ffff:f7f7:f7f7", Reserved),
            ("2001:0:808:808::f5f5:fefe", Reserved),
            ("2001:0:808:808::f7f7:f7f7", EmbeddedIpv4),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .map(|(ip, class)| (ip, class, AddressClass::of(ip.parse().unwrap())))
            .filter(|(_, class, found)| class != &found)
            .map(|(ip, class, found)| format!("{ip}: {found:?} instead of {class:?}"))
            .collect();
        assert!(wrong.is_empty(), "{} misclassified:\n{}", wrong.len(), wrong.join("\n"));
    }

    #[test]
    fn an_embedded_non_public_ipv4_is_refused_whatever_the_operator_allows() {
        let open = EgressPolicy {
            allow_loopback: true,
            allow_private: true,
            allow_link_local: true,
            allow_embedded_ipv4: true,
            ..EgressPolicy::default()
        };
        let cases = [
            ("64:ff9b::7f00:1", ["64:ff9b::/96", "NAT64", "127.0.0.1"]),
            ("64:ff9b:1::808:808", ["64:ff9b:1::/48", "local-use NAT64", "translator"]),
            ("2002:7f00:1::", ["2002::/16", "6to4", "127.0.0.1"]),
            ("::169.254.169.254", ["::/96", "IPv4-compatible", "169.254.169.254"]),
            ("::ffff:0:10.0.0.1", ["::ffff:0:0:0/96", "IPv4-translated", "10.0.0.1"]),
            ("2001:0:808:808::80ff:fffe", ["2001::/32", "Teredo", "127.0.0.1"]),
            ("2001:0:7f00:1::f7f7:f7f7", ["2001::/32", "Teredo", "127.0.0.1"]),
        ];
        for (ip, needles) in cases {
            let why = open.refusal(ip.parse().unwrap()).unwrap_or_else(|| panic!("{ip} is allowed"));
            for needle in needles.iter().chain(&["whatever --egress-allow"]) {
                assert!(why.contains(needle), "{ip}: `{needle}` not in: {why}");
            }
        }
    }

    #[test]
    fn an_embedded_public_ipv4_needs_its_own_allow_class() {
        for ip in ["64:ff9b::808:808", "2002:808:808::1", "::ffff:0:8.8.8.8", "2001:0:808:808::f7f7:f7f7"] {
            let ip: IpAddr = ip.parse().unwrap();
            let loopback = EgressPolicy { allow_loopback: true, allow_private: true, ..EgressPolicy::default() };
            let why = loopback.refusal(ip).unwrap_or_else(|| panic!("{ip} is allowed"));
            assert!(why.contains("8.8.8.8") && why.contains("--egress-allow embedded-ipv4"), "{ip}: {why}");
            let open = EgressPolicy { allow_embedded_ipv4: true, ..EgressPolicy::default() };
            assert_eq!(open.refusal(ip), None, "{ip}");
        }
    }

    #[test]
    fn refusals_name_the_range_and_the_flag_that_opens_it() {
        let policy = EgressPolicy::default();
        let cases = [
            ("127.0.0.1", "127.0.0.0/8", Some("loopback")),
            ("::1", "::1/128", Some("loopback")),
            ("172.20.0.1", "172.16.0.0/12", Some("private")),
            ("fd00::1", "fc00::/7", Some("private")),
            ("fe80::1", "fe80::/10", Some("link-local")),
            ("fec0::1", "fec0::/10", None),
            ("ff02::1", "ff00::/8", None),
            ("100::1", "100::/64", None),
            ("2001:20::1", "2001:20::/28", None),
            ("2001:2::1", "2001:2::/48", None),
            ("2001:db8::1", "2001:db8::/32", None),
            ("3fff::1", "3fff::/20", None),
            ("198.18.0.1", "198.18.0.0/15", None),
        ];
        for (ip, range, flag) in cases {
            let why = policy.refusal(ip.parse().unwrap()).unwrap_or_else(|| panic!("{ip} is allowed"));
            assert!(why.contains(range), "{ip}: `{range}` not in: {why}");
            match flag {
                Some(flag) => assert!(why.contains(&format!("--egress-allow {flag}")), "{ip}: {why}"),
                None => assert!(why.contains("whatever --egress-allow"), "{ip}: {why}"),
            }
        }
    }

    #[test]
    fn the_operations_guide_lists_every_range_with_what_opens_it() {
        let guide = include_str!("../../../docs/operations.md");
        let section = guide.split("### Egress: refused address ranges").nth(1).expect("the section exists");
        for range in RANGES {
            let prefix = format!("`{}`", range.prefix());
            let row = section
                .lines()
                .find(|l| l.starts_with('|') && l.contains(&prefix))
                .unwrap_or_else(|| panic!("{prefix} is not in the table"));
            let opens = match range.rule {
                Rule::Class(AddressClass::Reserved) | Rule::Carries(_, AddressClass::Reserved) => {
                    "always refused".to_owned()
                }
                Rule::Class(class) | Rule::Carries(_, class) => format!("`--egress-allow {}`", class.flag().unwrap()),
                Rule::Mapped => "judged as the IPv4 address".to_owned(),
            };
            assert!(row.contains(&opens), "{prefix}: `{opens}` not in {row}");
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
