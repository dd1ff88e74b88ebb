//! CRMs: the cheapest authenticated read each vendor's public REST API documents.

use async_trait::async_trait;
use patchbay_catalog::keys::{oracle_service_cloud, salesforce, servicenow, zendesk};
use patchbay_vault::SecretString;
use reqwest::header::ACCEPT;
use reqwest::Method;
use serde_json::Value;

use super::{api_version, choice, endpoint, json_of, listed, not_json, shown, Statuses, CREDENTIALS_VALID, JSON};
use crate::egress::{redacted, HttpReply};
use crate::report::{Category, Failure, TestRun};
use crate::{Connector, Context};

/// Oracle Service Cloud and RightNow (its former name): the Connect REST API's
/// `GET {site}/services/rest/connect/{version}/accounts?limit=1` with Basic auth. From CCOM
/// v1.4 every request must carry `OSvC-CREST-Application-Context` (at most 40 characters).
pub(super) struct OracleConnect;

const ORACLE_CONTEXT: &str = "patchbay connection test";
const ORACLE: Statuses = Statuses { missing: "site or Connect REST API version", forbidden_is_refusal: false };

#[async_trait]
impl Connector for OracleConnect {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("oracle_service_cloud", "default"), ("rightnow", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let account = cx.account;
        let site = account.need_text(oracle_service_cloud::SITE_URL)?;
        let username = account.need_text(oracle_service_cloud::USERNAME)?;
        let password = account.need_secret(oracle_service_cloud::PASSWORD)?;
        let version = api_version(cx, oracle_service_cloud::API_VERSION)?;
        let url = endpoint(site, &format!("/services/rest/connect/{version}/accounts?limit=1"));
        let reply = cx
            .egress
            .http(run, Method::GET, &url, cx.timeout, |r| {
                r.basic_auth(username, Some(password))
                    .header("OSvC-CREST-Application-Context", ORACLE_CONTEXT)
                    .header(ACCEPT, JSON)
            })
            .await?;
        ORACLE.authenticate(run, &reply)?;
        let read = listed(&reply, "items", "Connect REST API", "Site URL");
        run.check("read", read, |n| format!("the accounts resource answered with {n} item(s)"))?;
        Ok(CREDENTIALS_VALID.into())
    }
}

/// Salesforce: an OAuth 2.0 token request to `{login}/services/oauth2/token` (client
/// credentials, or username and password with the security token appended), then
/// `GET {instance_url}/services/data/{version}/limits` with the token. The instance URL comes
/// from the token answer and goes through the egress policy like any other target.
pub(super) struct Salesforce;

const SALESFORCE_TOKEN: Statuses =
    Statuses { missing: "OAuth token endpoint at the Login URL", forbidden_is_refusal: false };
const SALESFORCE_DATA: Statuses = Statuses { missing: "REST API version", forbidden_is_refusal: false };

#[async_trait]
impl Connector for Salesforce {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("salesforce", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let account = cx.account;
        let login = account.need_text(salesforce::LOGIN_URL)?;
        let login_url = url::Url::parse(login)
            .map_err(|e| Failure::new(Category::InvalidConfig, format!("`login_url` is not a valid URL: {e}")))?;
        let method = choice(cx, salesforce::AUTHENTICATION_METHOD)?;
        let client_id = account.need_text(salesforce::CONSUMER_KEY)?;
        let client_secret = account.need_secret(salesforce::CONSUMER_SECRET)?;
        let version = api_version(cx, salesforce::API_VERSION)?;
        let password: SecretString;
        let mut form = vec![("grant_type", method), ("client_id", client_id), ("client_secret", client_secret)];
        if method == "password" {
            let token = account.secret(salesforce::SECURITY_TOKEN).unwrap_or("");
            password = SecretString::from(format!("{}{token}", account.need_secret(salesforce::PASSWORD)?));
            form.push(("username", account.need_text(salesforce::USERNAME)?));
            form.push(("password", password.expose()));
        }
        let token_url = endpoint(login, "/services/oauth2/token");
        let reply =
            cx.egress.http(run, Method::POST, &token_url, cx.timeout, |r| r.form(&form).header(ACCEPT, JSON)).await?;
        let https_only = login_url.scheme() == "https";
        let (token, instance) = run.check("authenticate", salesforce_token(cx, &reply, https_only), |(_, i)| {
            format!("access token issued for the instance {}", redacted(i))
        })?;
        let limits_url = endpoint(instance.as_str(), &format!("/services/data/{version}/limits"));
        let reply = cx
            .egress
            .http(run, Method::GET, &limits_url, cx.timeout, |r| r.bearer_auth(token.expose()).header(ACCEPT, JSON))
            .await?;
        run.check("read", salesforce_limits(&reply), Clone::clone)?;
        Ok(CREDENTIALS_VALID.into())
    }
}

/// The access token and instance URL of a token answer. Refusals carry
/// `{"error": "invalid_client" | "invalid_client_id" | "invalid_grant" | ..., "error_description"}`.
fn salesforce_token(
    cx: &Context<'_>,
    reply: &HttpReply,
    https_only: bool,
) -> Result<(SecretString, url::Url), Failure> {
    let parsed: Option<Value> = serde_json::from_slice(&reply.body).ok();
    if let Some(body) = &parsed {
        if let Some(error) = body.get("error").and_then(Value::as_str) {
            let category = match error {
                "invalid_client" | "invalid_client_id" | "invalid_grant" | "unauthorized_client" => {
                    Category::InvalidCredentials
                }
                "unsupported_grant_type" | "invalid_request" => Category::InvalidConfig,
                _ => Category::UnexpectedResponse,
            };
            let description = body
                .get("error_description")
                .and_then(Value::as_str)
                .map(|d| format!(" ({})", shown(cx, d)))
                .unwrap_or_default();
            return Err(Failure::new(
                category,
                format!("Salesforce refused the token request: {}{description}", shown(cx, error)),
            ));
        }
    }
    SALESFORCE_TOKEN.accept(reply)?;
    let body = parsed.ok_or_else(|| not_json(reply, "Salesforce OAuth endpoint", "Login URL"))?;
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the token answer carries no access_token"))?;
    let instance =
        body.get("instance_url").and_then(Value::as_str).and_then(|u| url::Url::parse(u).ok()).ok_or_else(|| {
            Failure::new(Category::UnexpectedResponse, "the token answer carries no valid instance_url")
        })?;
    match instance.scheme() {
        "https" => {}
        "http" if !https_only => {}
        scheme => {
            return Err(Failure::new(
                Category::UnexpectedResponse,
                format!("the token answer's instance_url is a {scheme}:// URL; the token is only sent over HTTPS"),
            ))
        }
    }
    Ok((SecretString::from(token), instance))
}

/// The limits resource needs the View Setup and Configuration permission; it answers
/// `{"DailyApiRequests": {"Max": 15000, "Remaining": 14998}, ...}`.
fn salesforce_limits(reply: &HttpReply) -> Result<String, Failure> {
    match reply.status {
        401 => {
            return Err(Failure::new(Category::InvalidCredentials, "Salesforce refused the access token (HTTP 401)"))
        }
        403 => {
            return Err(Failure::new(
                Category::Permission,
                "the integration user lacks the View Setup and Configuration permission the limits resource needs \
                 (HTTP 403)",
            ))
        }
        _ => SALESFORCE_DATA.accept(reply)?,
    }
    let body = json_of(reply, "Salesforce REST API", "API Version")?;
    let daily = body
        .get("DailyApiRequests")
        .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the limits answer has no DailyApiRequests entry"))?;
    Ok(match (daily.get("Remaining").and_then(Value::as_i64), daily.get("Max").and_then(Value::as_i64)) {
        (Some(remaining), Some(max)) => format!("{remaining} of {max} daily API requests remaining"),
        _ => "the limits resource answered".into(),
    })
}

/// ServiceNow: the Table API's `GET {instance}/api/now/table/sys_user?sysparm_limit=1` with
/// Basic auth, or with a Bearer token from `POST {instance}/oauth_token.do` (password grant
/// with the application registry's client id and secret).
pub(super) struct ServiceNow;

const SERVICENOW: Statuses = Statuses { missing: "instance or Table API", forbidden_is_refusal: false };
const SERVICENOW_OAUTH: Statuses = Statuses { missing: "OAuth endpoint of the instance", forbidden_is_refusal: false };

#[async_trait]
impl Connector for ServiceNow {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("servicenow", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let account = cx.account;
        let instance = account.need_text(servicenow::INSTANCE_URL)?;
        let method = choice(cx, servicenow::AUTHENTICATION_METHOD)?;
        let username = account.need_text(servicenow::USERNAME)?;
        let password = account.need_secret(servicenow::PASSWORD)?;
        let table = endpoint(instance, "/api/now/table/sys_user?sysparm_limit=1");
        let reply = if method == "basic" {
            let reply = cx
                .egress
                .http(run, Method::GET, &table, cx.timeout, |r| {
                    r.basic_auth(username, Some(password)).header(ACCEPT, JSON)
                })
                .await?;
            SERVICENOW.authenticate(run, &reply)?;
            reply
        } else {
            let form = [
                ("grant_type", "password"),
                ("client_id", account.need_text(servicenow::CLIENT_ID)?),
                ("client_secret", account.need_secret(servicenow::CLIENT_SECRET)?),
                ("username", username),
                ("password", password),
            ];
            let token_url = endpoint(instance, "/oauth_token.do");
            let reply = cx
                .egress
                .http(run, Method::POST, &token_url, cx.timeout, |r| r.form(&form).header(ACCEPT, JSON))
                .await?;
            let token =
                run.check("authenticate", servicenow_token(cx, &reply), |_| "access token issued".to_owned())?;
            cx.egress
                .http(run, Method::GET, &table, cx.timeout, |r| r.bearer_auth(token.expose()).header(ACCEPT, JSON))
                .await?
        };
        let read =
            SERVICENOW.accept(&reply).and_then(|()| listed(&reply, "result", "ServiceNow Table API", "Instance URL"));
        run.check("read", read, |n| format!("the sys_user table answered with {n} record(s)"))?;
        Ok(CREDENTIALS_VALID.into())
    }
}

/// The access token of an `oauth_token.do` answer; refusals are 401 (or 400) with
/// `{"error": "server_error", "error_description": "access_denied"}`.
fn servicenow_token(cx: &Context<'_>, reply: &HttpReply) -> Result<SecretString, Failure> {
    if matches!(reply.status, 400 | 401) {
        let why = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|b| {
                b.get("error_description").or_else(|| b.get("error")).and_then(Value::as_str).map(str::to_owned)
            })
            .map(|d| format!(": {}", shown(cx, &d)))
            .unwrap_or_default();
        return Err(Failure::new(
            Category::InvalidCredentials,
            format!("ServiceNow refused the OAuth token request (HTTP {}){why}", reply.status),
        ));
    }
    SERVICENOW_OAUTH.accept(reply)?;
    let body = json_of(reply, "ServiceNow OAuth endpoint", "Instance URL")?;
    body.get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(SecretString::from)
        .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the token answer carries no access_token"))
}

/// Zendesk: `GET {subdomain}/api/v2/users/me.json` with `{email}/token:{api token}` Basic auth
/// or an OAuth Bearer token. The endpoint is open to anonymous users: credentials Zendesk
/// does not accept can still get a 200 with an anonymous user (`"id": null`), which is a
/// refusal, not a success.
pub(super) struct Zendesk;

const ZENDESK: Statuses = Statuses { missing: "Zendesk account at the Subdomain URL", forbidden_is_refusal: false };

#[async_trait]
impl Connector for Zendesk {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("zendesk", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let account = cx.account;
        let base = account.need_text(zendesk::SUBDOMAIN_URL)?;
        let method = choice(cx, zendesk::AUTHENTICATION_METHOD)?;
        let url = endpoint(base, "/api/v2/users/me.json");
        let reply = if method == "oauth" {
            let token = account.need_secret(zendesk::OAUTH_ACCESS_TOKEN)?;
            cx.egress.http(run, Method::GET, &url, cx.timeout, |r| r.bearer_auth(token).header(ACCEPT, JSON)).await?
        } else {
            let user = format!("{}/token", account.need_text(zendesk::EMAIL)?);
            let token = account.need_secret(zendesk::API_TOKEN)?;
            cx.egress
                .http(run, Method::GET, &url, cx.timeout, |r| r.basic_auth(user, Some(token)).header(ACCEPT, JSON))
                .await?
        };
        run.check("authenticate", zendesk_user(cx, &reply), Clone::clone)?;
        Ok(CREDENTIALS_VALID.into())
    }
}

/// Who Zendesk says the caller is: a user with an id, or a refusal.
fn zendesk_user(cx: &Context<'_>, reply: &HttpReply) -> Result<String, Failure> {
    ZENDESK.accept(reply)?;
    let body = json_of(reply, "Zendesk API", "Subdomain URL")?;
    let user = body
        .get("user")
        .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the users/me answer has no `user`"))?;
    let Some(id) = user.get("id").and_then(Value::as_u64) else {
        return Err(Failure::new(
            Category::InvalidCredentials,
            "Zendesk answered as an anonymous user: the credentials were not accepted (check the email, the \
             token, and that token access is enabled)",
        ));
    };
    let role = user.get("role").and_then(Value::as_str).map(|r| format!(", role {}", shown(cx, r))).unwrap_or_default();
    Ok(format!("HTTP {}: signed in as user {id}{role}", reply.status))
}
