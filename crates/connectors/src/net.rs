//! Connectors that test a network protocol rather than a vendor's HTTP API: a WebSocket
//! handshake over TLS with the credentials (STT Watson and GoVivace), and the SAML identity
//! provider behind SSO (its signing certificate and its SSO URL).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, AUTHORIZATION};
use tokio_tungstenite::WebSocketStream;
use x509_cert::der::Decode as _;

use patchbay_catalog::keys::{sso, stt};

use crate::egress::redacted;
use crate::{AccountConfig, Category, Connector, Context, Egress, Failure, HttpReply, TestRun};

pub(crate) fn connectors() -> Vec<Arc<dyn Connector>> {
    vec![Arc::new(SpeechToText), Arc::new(Sso)]
}

/// Speech to text over a WebSocket: the handshake is where the services check credentials,
/// so a completed upgrade (HTTP 101) means the URL and credentials work. No audio is sent.
struct SpeechToText;

/// How long a polite close may take before the socket is simply dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

#[async_trait]
impl Connector for SpeechToText {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("stt", "watson"), ("stt", "govivace")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let (url, authorization) = stt_endpoint(cx.account)?;
        websocket_handshake(cx, run, &url, authorization).await?;
        Ok(format!("The WebSocket handshake with {} succeeded with these credentials.", redacted(&url)))
    }
}

/// The WebSocket URL of a Speech To Text account's recognition service and the
/// `Authorization` header it takes (none for GoVivace, whose key is in the query). The
/// value is marked sensitive; the URL's query may hold a key, so show it `redacted`.
pub fn stt_endpoint(account: &AccountConfig) -> Result<(url::Url, Option<HeaderValue>), Failure> {
    match account.provider.as_str() {
        "watson" => watson_request(account),
        "govivace" => govivace_request(account),
        other => Err(Failure::new(Category::InvalidConfig, format!("no Speech To Text provider `{other}`"))),
    }
}

fn wss_url(raw: &str) -> Result<url::Url, Failure> {
    let mut url = url::Url::parse(raw)
        .map_err(|e| Failure::new(Category::InvalidConfig, format!("the URL is not valid: {e}")))?;
    if url.scheme() != "wss" || url.host_str().is_none() {
        return Err(Failure::new(Category::InvalidConfig, "the URL must start with wss:// and name a host"));
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(url)
}

/// Watson: `{url}/speech-to-text/api/v1/recognize` for the classic service URL
/// (`wss://stream.watsonplatform.net`, the seed's default), `{url}/v1/recognize` when the URL
/// already has the service path (IBM Cloud's `.../instances/{id}`), with HTTP Basic auth of
/// the username and password
/// (<https://cloud.ibm.com/docs/speech-to-text?topic=speech-to-text-websockets>).
fn watson_request(account: &AccountConfig) -> Result<(url::Url, Option<HeaderValue>), Failure> {
    let mut url = wss_url(account.need_text(stt::watson::URL)?)?;
    let base = url.path().trim_end_matches('/').to_owned();
    let path = if base.is_empty() {
        "/speech-to-text/api/v1/recognize".to_owned()
    } else if base.ends_with("/v1/recognize") {
        base
    } else {
        format!("{base}/v1/recognize")
    };
    url.set_path(&path);
    let user = account.need_text(stt::watson::USERNAME)?;
    let password = account.need_secret(stt::watson::PASSWORD)?;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut value = HeaderValue::from_str(&format!("Basic {basic}"))
        .map_err(|_| Failure::new(Category::InvalidConfig, "the username cannot be sent in an HTTP header"))?;
    value.set_sensitive(true);
    Ok((url, Some(value)))
}

/// GoVivace: the account's URL itself, with the API key in the `key` query parameter as
/// GoVivace's speech API takes it. Reports show URLs without their query.
fn govivace_request(account: &AccountConfig) -> Result<(url::Url, Option<HeaderValue>), Failure> {
    let mut url = wss_url(account.need_text(stt::govivace::URL)?)?;
    url.query_pairs_mut().append_pair("key", account.need_secret(stt::govivace::API_KEY)?);
    Ok((url, None))
}

async fn websocket_handshake(
    cx: &Context<'_>,
    run: &mut TestRun,
    url: &url::Url,
    authorization: Option<HeaderValue>,
) -> Result<(), Failure> {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let tcp = cx.egress.open(run, &host, port, cx.timeout).await?;
    let tls = run
        .step("tls", cx.egress.tls(tcp, &host, cx.timeout), |s| {
            let version = s.get_ref().1.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
            format!("{version} with a certificate valid for {host}")
        })
        .await?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Failure::new(Category::InvalidConfig, format!("cannot build the WebSocket request: {e}")))?;
    if let Some(value) = authorization {
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    let shown = redacted(url);
    let (mut socket, _): (VendorSocket, _) = run
        .step("handshake", upgrade(request, tls, cx.timeout), |(_, response)| {
            format!("GET {shown} -> HTTP {} (WebSocket open)", response.status().as_u16())
        })
        .await?;
    // Close as RFC 6455 asks: send a Close frame and read until the peer's Close comes back.
    let _ = tokio::time::timeout(CLOSE_WAIT.min(cx.timeout), async {
        socket.close(None).await?;
        while socket.next().await.transpose()?.is_some() {}
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    })
    .await;
    Ok(())
}

async fn upgrade(
    request: Request,
    stream: TlsStream<TcpStream>,
    timeout: Duration,
) -> Result<(VendorSocket, Response), Failure> {
    match handshake(request, stream, timeout).await? {
        Ok(pair) => Ok(pair),
        Err(refusal) => Err(match refusal.status {
            status @ (401 | 403) => {
                Failure::new(Category::InvalidCredentials, format!("the credentials were refused (HTTP {status})"))
            }
            status => Failure::new(
                Category::UnexpectedResponse,
                format!("HTTP {status} instead of a WebSocket upgrade; is this the service's WebSocket URL?"),
            ),
        }),
    }
}

/// The WebSocket upgrade over an open stream: the socket, or the HTTP answer the server
/// gave instead (capped like any answer).
async fn handshake(
    request: Request,
    stream: TlsStream<TcpStream>,
    timeout: Duration,
) -> Result<Result<(VendorSocket, Response), HttpReply>, Failure> {
    use tokio_tungstenite::tungstenite::Error;
    match tokio::time::timeout(timeout, tokio_tungstenite::client_async(request, stream)).await {
        Err(_) => Err(Failure::new(
            Category::Timeout,
            format!("no answer to the WebSocket upgrade within {} ms", timeout.as_millis()),
        )),
        Ok(Err(Error::Http(response))) => {
            let (parts, body) = response.into_parts();
            let mut body = body.unwrap_or_default();
            body.truncate(MAX_REFUSAL);
            Ok(Err(HttpReply { status: parts.status.as_u16(), headers: parts.headers, body }))
        }
        Ok(Err(e)) => Err(Failure::new(Category::UnexpectedResponse, format!("the WebSocket handshake failed: {e}"))),
        Ok(Ok(pair)) => Ok(Ok(pair)),
    }
}

/// Largest body of a refused upgrade that is kept.
const MAX_REFUSAL: usize = 64 * 1024;

/// A WebSocket to a vendor, over TLS.
pub type VendorSocket = WebSocketStream<TlsStream<TcpStream>>;

/// How a WebSocket upgrade for live traffic ended.
pub enum Upgrade {
    Open(Box<VendorSocket>),
    /// The server answered HTTP instead, as it came, for the caller to read in its vendor's
    /// terms.
    Refused(HttpReply),
}

impl Egress {
    /// Opens a WebSocket to a `wss://` URL for live traffic (the runtime gateway): resolve,
    /// connect and TLS under the egress policy, then the upgrade with `request`'s headers,
    /// each bounded by `timeout`. No steps are recorded.
    pub async fn websocket(&self, request: Request, timeout: Duration) -> Result<Upgrade, Failure> {
        let uri = request.uri();
        if uri.scheme_str() != Some("wss") {
            return Err(Failure::new(Category::InvalidConfig, "the URL must start with wss://"));
        }
        let host = uri
            .host()
            .ok_or_else(|| Failure::new(Category::InvalidConfig, "the URL names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let target = self.resolve(&host, port, timeout).await?;
        let tcp = self.connect(&target, timeout).await?;
        let tls = self.tls(tcp, &host, timeout).await?;
        Ok(match handshake(request, tls, timeout).await? {
            Ok((socket, _)) => Upgrade::Open(Box::new(socket)),
            Err(reply) => Upgrade::Refused(reply),
        })
    }
}

/// SAML single sign-on: patchbay verifies assertions with the IdP's certificate, so it must
/// parse and be in date; users are sent to the SSO URL, so it must answer. A SAML SSO
/// endpoint answers a GET without `SAMLRequest` with an error page or a redirect: any HTTP
/// answer but 404 or a server error counts. Tested whether or not SSO is enabled yet, so an
/// administrator can check before switching it on.
struct Sso;

#[async_trait]
impl Connector for Sso {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("sso", "agent_desktop"), ("sso", "admin")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let pem = cx.account.need_text(sso::IDENTITY_PROVIDER_CERTIFICATE)?;
        let cert = run.check("certificate", certificate(pem, Utc::now()), IdpCertificate::describe)?;
        let metadata = sp_metadata(cx);
        run.check("metadata", Ok::<_, Failure>(&metadata), |m| format!("the service provider metadata: {m}"))?;
        let raw = cx.account.need_text(sso::IDENTITY_PROVIDER_SINGLE_SIGN_ON_URL)?;
        if !raw.starts_with("https://") {
            return Err(Failure::new(Category::InvalidConfig, "the SSO URL must start with https://"));
        }
        let reply = cx.egress.http(run, reqwest::Method::GET, raw, cx.timeout, |r| r).await?;
        run.check("answer", sso_answer(reply.status), |s| format!("the SSO URL answers (HTTP {s})"))?;
        let enabled = if cx.account.flag(sso::ENABLE_SINGLE_SIGN_ON) {
            ""
        } else {
            " Single sign-on is not enabled for this account yet."
        };
        let renew = if cert.days_left < RENEW_WITHIN_DAYS {
            format!(
                " Warning: the IdP certificate ends in {} days: get the next one from the IdP and paste both here \
                 for the rollover.",
                cert.days_left
            )
        } else {
            String::new()
        };
        Ok(format!(
            "The IdP certificate is valid until {} and the SSO URL answers. Give the IdP this service provider's \
             metadata: {metadata}.{renew}{enabled}",
            day(cert.not_after)
        ))
    }
}

/// A certificate ending sooner than this is reported, so it is replaced in time.
const RENEW_WITHIN_DAYS: i64 = 30;

/// Where this service provider's metadata is for the account's tenant and provider: the
/// full URL with a public URL, else its path.
fn sp_metadata(cx: &Context<'_>) -> String {
    let tenant = cx.tenant.unwrap_or("{tenant}");
    match cx.public_url.and_then(|base| crate::sso_url(base, tenant, &cx.account.provider, "metadata")) {
        Some(url) => url.to_string(),
        None => format!(
            "{} (start patchbay with --public-url for the full URL)",
            crate::sso_path(tenant, &cx.account.provider, "metadata")
        ),
    }
}

struct IdpCertificate {
    subject: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    days_left: i64,
}

impl IdpCertificate {
    fn describe(&self) -> String {
        format!(
            "{}: valid from {} to {} ({} days left)",
            self.subject,
            day(self.not_before),
            day(self.not_after),
            self.days_left
        )
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The first certificate of the PEM text, parsed as X.509 and checked against `now`.
fn certificate(pem: &str, now: DateTime<Utc>) -> Result<IdpCertificate, Failure> {
    let invalid = |why: String| Failure::new(Category::InvalidConfig, why);
    let der = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .ok_or_else(|| invalid("the IdP certificate has no PEM CERTIFICATE block".into()))?
        .map_err(|e| invalid(format!("the IdP certificate is not valid PEM: {e}")))?;
    let cert = x509_cert::Certificate::from_der(&der)
        .map_err(|e| invalid(format!("the IdP certificate is not an X.509 certificate: {e}")))?;
    let validity = &cert.tbs_certificate.validity;
    let not_before = DateTime::<Utc>::from(validity.not_before.to_system_time());
    let not_after = DateTime::<Utc>::from(validity.not_after.to_system_time());
    let span = format!("valid from {} to {}", day(not_before), day(not_after));
    if now < not_before {
        return Err(invalid(format!("the IdP certificate is not valid yet ({span})")));
    }
    if now > not_after {
        return Err(invalid(format!("the IdP certificate expired on {} ({span})", day(not_after))));
    }
    Ok(IdpCertificate {
        subject: cert.tbs_certificate.subject.to_string(),
        not_before,
        not_after,
        days_left: (not_after - now).num_days(),
    })
}

fn sso_answer(status: u16) -> Result<u16, Failure> {
    match status {
        404 => Err(Failure::new(Category::NotFound, "the SSO URL answers HTTP 404: no SSO endpoint is there")),
        500..=599 => Err(Failure::new(Category::UnexpectedResponse, format!("the SSO URL answers HTTP {status}"))),
        _ => Ok(status),
    }
}
