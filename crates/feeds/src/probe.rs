//! What the connection tests of the pushing integrations share (each integration's
//! `Connector` sits in its folder beside its feed and wire format): a TCP connect to a
//! stream receiver, and one POST of what an HTTP feed sends, authenticated as the feed
//! authenticates (`transport::json_post`). A test sends what the feed sends minus the state,
//! so a receiver that accepts the test accepts the feed.

use patchbay_catalog::keys::tcp_receiver;
use patchbay_connectors::{AccountConfig, Category, Context, Failure, TestRun};
use reqwest::Method;

use crate::config::Auth;
use crate::transport::json_post;

/// The receiver of a TCP feed (Aspect, statistics receiver) accepts a connection. The feeds
/// are one-way streams with no request to probe with; nothing is written, so the receiver
/// sees no record.
pub(crate) async fn connect(cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
    let host = cx.account.need_text(tcp_receiver::HOST_NAME)?;
    let port = port(cx.account)?;
    // Dropping the stream closes it.
    drop(cx.egress.open(run, host, port, cx.timeout).await?);
    Ok(format!("Connected to {host}:{port}."))
}

fn port(account: &AccountConfig) -> Result<u16, Failure> {
    let raw = account
        .int(tcp_receiver::PORT)
        .ok_or_else(|| Failure::new(Category::InvalidConfig, format!("`{}` is not set", tcp_receiver::PORT)))?;
    u16::try_from(raw)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Failure::new(Category::InvalidConfig, format!("port {raw} is not between 1 and 65535")))
}

/// POSTs `body` to `url` as the feed does; any 2xx is acceptance, as it is for the feed.
/// `target` names what a 404 says is missing ("Loxysoft URL"). With credentials the step is
/// `authenticate`, without `deliver`.
pub(crate) async fn post(
    cx: &Context<'_>,
    run: &mut TestRun,
    url: &str,
    body: Vec<u8>,
    auth: &Auth,
    target: &str,
) -> Result<(), Failure> {
    let (step, outcome) = match auth {
        Auth::None => ("deliver", "the endpoint accepted the request"),
        Auth::Bearer(_) | Auth::Basic { .. } => ("authenticate", "the credentials were accepted"),
    };
    let reply = cx.egress.http(run, Method::POST, url, cx.timeout, |r| json_post(r, auth, body)).await?;
    let status = reply.status;
    let accepted = match status {
        200..=299 => Ok(()),
        403 => Err(Failure::new(Category::InvalidCredentials, "the credentials were refused (HTTP 403)")),
        s => Err(Failure::from_status(s, target)),
    };
    run.check(step, accepted, |()| format!("HTTP {status}: {outcome}"))
}
