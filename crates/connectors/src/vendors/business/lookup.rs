//! Caller lookup (Next Caller) and the external knowledge base (Synthetix).

use async_trait::async_trait;
use patchbay_catalog::keys::{external_kb, next_caller};
use reqwest::header::ACCEPT;
use reqwest::Method;
use serde_json::Value;

use super::{endpoint, json_of, listed, secret_header, Statuses, CREDENTIALS_VALID, JSON};
use crate::egress::HttpReply;
use crate::report::{Category, Failure, TestRun};
use crate::{Connector, Context};

/// Next Caller: API v2.1 `GET /v2.1/records/?phone=…&format=json` with Basic auth, on the
/// sandbox host in Sandbox mode. The phone number is the one of Next Caller's documentation
/// examples, which the sandbox answers.
pub(super) struct NextCaller;

const NEXT_CALLER_TEST_PHONE: &str = "2125558383";
const NEXT_CALLER: Statuses = Statuses { missing: "Next Caller records endpoint", forbidden_is_refusal: false };

#[async_trait]
impl Connector for NextCaller {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("next_caller", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let account = cx.account;
        let username = account.need_text(next_caller::USERNAME)?;
        let password = account.need_secret(next_caller::PASSWORD)?;
        let vendor = if account.flag(next_caller::SANDBOX_MODE) { "next_caller_sandbox" } else { "next_caller" };
        let mut url = cx.vendors.get(vendor).join("v2.1/records/").map_err(|e| {
            Failure::new(Category::InvalidConfig, format!("the {vendor} vendor URL cannot take a path: {e}"))
        })?;
        url.query_pairs_mut().append_pair("phone", NEXT_CALLER_TEST_PHONE).append_pair("format", "json");
        let reply = cx
            .egress
            .http(run, Method::GET, url.as_str(), cx.timeout, |r| {
                r.basic_auth(username, Some(password)).header(ACCEPT, JSON)
            })
            .await?;
        // A 404 carrying Next Caller's error object ({"error": {"message", "code", "type"}})
        // comes after authentication: the credentials are good, the number has no record.
        let no_record = reply.status == 404 && next_caller_error(&reply);
        let status = reply.status;
        let accepted = if no_record { Ok(()) } else { NEXT_CALLER.accept(&reply) };
        run.check("authenticate", accepted, |()| format!("HTTP {status}: the credentials were accepted"))?;
        let read = if no_record {
            Ok("Next Caller holds no record for the test number".to_owned())
        } else {
            listed(&reply, "records", "Next Caller API", "vendor URL")
                .map(|n| format!("the records resource answered with {n} record(s)"))
        };
        run.check("read", read, Clone::clone)?;
        Ok(CREDENTIALS_VALID.into())
    }
}

fn next_caller_error(reply: &HttpReply) -> bool {
    serde_json::from_slice::<Value>(&reply.body).is_ok_and(|body| body.get("error").is_some_and(Value::is_object))
}

/// Synthetix KB: `GET <URL>/external/views`, the probe the spec names. SYNAPPS takes the
/// consumer and application keys as the `CONSUMERKEY` and `APPLICATIONKEY` headers.
pub(super) struct Synthetix;

const SYNTHETIX: Statuses = Statuses { missing: "Synthetix API at the URL", forbidden_is_refusal: true };

#[async_trait]
impl Connector for Synthetix {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("external_kb", "synthetix")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let base = cx.account.need_text(external_kb::URL)?;
        let consumer = secret_header(cx, external_kb::CONSUMER_KEY)?;
        let application = secret_header(cx, external_kb::APPLICATION_KEY)?;
        let url = endpoint(base, "/external/views");
        let reply = cx
            .egress
            .http(run, Method::GET, &url, cx.timeout, |r| {
                r.header("CONSUMERKEY", consumer).header("APPLICATIONKEY", application).header(ACCEPT, JSON)
            })
            .await?;
        SYNTHETIX.authenticate(run, &reply)?;
        run.check("read", synthetix_views(&reply), Clone::clone)?;
        Ok(CREDENTIALS_VALID.into())
    }
}

fn synthetix_views(reply: &HttpReply) -> Result<String, Failure> {
    match json_of(reply, "Synthetix API", "Url")? {
        Value::Array(views) => Ok(format!("the views resource listed {} view(s)", views.len())),
        Value::Object(_) => Ok("the views resource answered".to_owned()),
        _ => Err(Failure::new(Category::UnexpectedResponse, "the views answer is neither a list nor an object")),
    }
}
