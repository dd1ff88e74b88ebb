//! Feed targets: WFM HTTP POST, Loxysoft and NICE receive the live feeds whose wire formats
//! docs/feeds.md defines (the vendors publish none). A connection test sends what the feed
//! sends, minus the state: the same shape, authenticated the same way, so a receiver that
//! accepts the test accepts the feed. The feeds crate checks that its encoders, given an
//! empty state, write exactly the empty updates defined here.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use patchbay_catalog::keys::{loxysoft, nice, wfm};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::json;

use super::{Statuses, JSON};
use crate::report::{Failure, TestRun};
use crate::{Connector, Context};

/// The WFM HTTP POST update with both lists empty: what the spec's "POST with an empty
/// agent and services list" sends.
pub const WFM_EMPTY_UPDATE: &[u8] = br#"{"agents":[],"services":[]}"#;

/// The Loxysoft update with no agents and no skills.
pub const LOXYSOFT_EMPTY_UPDATE: &[u8] = br#"{"agents":[],"skills":[]}"#;

/// A NICE batch holding one keep-alive:
/// `{"seq", "sent_at", "resync": false, "messages": [{"type": "keep_alive", "at"}]}`.
/// Not a resync, so it changes nothing at the receiver.
pub fn nice_keep_alive_batch(seq: u64, at: DateTime<Utc>) -> Vec<u8> {
    let at = rfc3339(at);
    json!({"seq": seq, "sent_at": at, "resync": false, "messages": [{"type": "keep_alive", "at": at}]})
        .to_string()
        .into_bytes()
}

/// RFC 3339 in UTC, with milliseconds when they are not zero.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.trunc_subsecs(3).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The `seq` of a test's batch: feeds number theirs from 1, so 0 belongs to no feed.
const NICE_TEST_SEQ: u64 = 0;

/// How a feed POST authenticates.
enum Auth<'a> {
    Bearer(&'a str),
    Basic(&'a str, &'a str),
    None,
}

/// POSTs `body` as JSON to `url` and reads the status: any 2xx is acceptance.
async fn post(
    cx: &Context<'_>,
    run: &mut TestRun,
    url: &str,
    body: Vec<u8>,
    auth: Auth<'_>,
    statuses: &Statuses,
) -> Result<(), Failure> {
    let (step, outcome) = match auth {
        Auth::None => ("deliver", "the endpoint accepted the request"),
        _ => ("authenticate", "the credentials were accepted"),
    };
    let reply = cx
        .egress
        .http(run, Method::POST, url, cx.timeout, |r| {
            let r = r.header(CONTENT_TYPE, JSON).body(body);
            match auth {
                Auth::Bearer(token) => r.bearer_auth(token),
                Auth::Basic(user, password) => r.basic_auth(user, Some(password)),
                Auth::None => r,
            }
        })
        .await?;
    let status = reply.status;
    run.check(step, statuses.accept(&reply), |()| format!("HTTP {status}: {outcome}"))
}

/// Loxysoft WFM: a POST of an empty update to the account URL with the token.
pub(super) struct Loxysoft;

const LOXYSOFT: Statuses = Statuses { missing: "Loxysoft URL", forbidden_is_refusal: true };

#[async_trait]
impl Connector for Loxysoft {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("loxysoft", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let url = cx.account.need_text(loxysoft::URL)?;
        let token = cx.account.need_secret(loxysoft::TOKEN)?;
        let body = LOXYSOFT_EMPTY_UPDATE.to_vec();
        post(cx, run, url, body, Auth::Bearer(token), &LOXYSOFT).await?;
        Ok("The Loxysoft endpoint accepted an empty update.".into())
    }
}

/// NICE: an authenticated keep-alive batch to the NICE URL.
pub(super) struct Nice;

const NICE: Statuses = Statuses { missing: "NICE URL", forbidden_is_refusal: true };

#[async_trait]
impl Connector for Nice {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("nice", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let url = cx.account.need_text(nice::URL)?;
        let username = cx.account.need_text(nice::USERNAME)?;
        let password = cx.account.need_secret(nice::PASSWORD)?;
        let body = nice_keep_alive_batch(NICE_TEST_SEQ, Utc::now());
        post(cx, run, url, body, Auth::Basic(username, password), &NICE).await?;
        Ok("The NICE endpoint accepted an authenticated keep-alive.".into())
    }
}

/// WFM over HTTP POST: "sends POST with an empty agent and services list", with the token
/// as a Bearer token when one is set.
pub(super) struct WfmHttpPost;

const WFM: Statuses = Statuses { missing: "WFM URL", forbidden_is_refusal: true };

#[async_trait]
impl Connector for WfmHttpPost {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("wfm", "http_post")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let url = cx.account.need_text(wfm::http_post::URL)?;
        let auth = cx.account.secret(wfm::http_post::TOKEN).map_or(Auth::None, Auth::Bearer);
        let body = WFM_EMPTY_UPDATE.to_vec();
        post(cx, run, url, body, auth, &WFM).await?;
        Ok("The WFM endpoint accepted an empty update.".into())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::Value;

    use super::*;

    #[test]
    fn keep_alive_batches_carry_rfc3339_times_with_milliseconds_only_when_set() {
        let at = Utc.with_ymd_and_hms(2025, 3, 1, 9, 31, 0).unwrap();
        let batch: Value = serde_json::from_slice(&nice_keep_alive_batch(0, at)).unwrap();
        assert_eq!(
            batch,
            json!({"seq": 0, "sent_at": "2025-03-01T09:31:00Z", "resync": false,
                   "messages": [{"type": "keep_alive", "at": "2025-03-01T09:31:00Z"}]})
        );
        let later = at + chrono::Duration::microseconds(250_700);
        assert_eq!(rfc3339(later), "2025-03-01T09:31:00.250Z");
    }
}
