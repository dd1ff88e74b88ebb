//! CRM APIs: Oracle Service Cloud (RightNow) Connect REST, Salesforce OAuth and REST, the
//! ServiceNow Table API and OAuth endpoint, Zendesk's users/me.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::{basic, bearer, content_type_is, form, json};

// Oracle B2C Service (Service Cloud, formerly RightNow), Connect REST API v1.4.
// Basic authorization with a staff account:
//   https://docs.oracle.com/en/cloud/saas/service/18a/cxsvc/c_osvc_authentication_and_authorization.html
// From CCOM v1.4 `OSvC-CREST-Application-Context` is required (400 without it, at most 40
// characters): https://docs.oracle.com/en/cloud/saas/b2c-service/cxsvc/c_osvc_custom_headers.html
// GET of the accounts resource: https://docs.oracle.com/en/cloud/saas/b2c-service/cxsvc/c_osvc_quick_start.html
pub const ORACLE_USER: &str = "connect.api";
pub const ORACLE_PASSWORD: &str = "osc-pw-Sentinel-41d7";

/// A site serving Connect REST API v1.4 only.
pub fn oracle() -> Router {
    Router::new()
        .route("/services/rest/connect/v1.4/accounts", get(oracle_accounts))
        .route("/services/rest/connect/v1.4/queryResults/", get(oracle_query))
}

/// What a site answers a request without the v1.4 annotation (at most 40 characters) or
/// the staff account's Basic credentials.
fn oracle_refusal(headers: &HeaderMap) -> Option<Response> {
    let context = headers.get("OSvC-CREST-Application-Context").and_then(|v| v.to_str().ok());
    if !context.is_some_and(|c| !c.is_empty() && c.len() <= 40) {
        return Some(json(
            StatusCode::BAD_REQUEST,
            json!({"title": "Bad Request", "status": 400, "detail": "OSvC-CREST-Application-Context header is required"}),
        ));
    }
    if basic(headers) != Some((ORACLE_USER.into(), ORACLE_PASSWORD.into())) {
        return Some(json(
            StatusCode::UNAUTHORIZED,
            json!({"title": "Unauthorized", "status": 401, "detail": "Access Denied"}),
        ));
    }
    None
}

/// The contact every CRM stand-in holds, found by this phone number or email address.
pub const CONTACT_PHONE: &str = "4155551212";
pub const CONTACT_EMAIL: &str = "jane.doe@example.com";

// Connect REST API ROQL queries (`GET …/queryResults/?query=`, one table per query with
// `columnNames` and `rows` of strings):
//   https://docs.oracle.com/en/cloud/saas/b2c-service/cxsvc/op-services-rest-connect-v1.4-queryresults-get.html
async fn oracle_query(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if let Some(refusal) = oracle_refusal(&headers) {
        return refusal;
    }
    let Some(roql) = query.get("query").filter(|q| q.to_uppercase().starts_with("SELECT ")) else {
        return json(
            StatusCode::BAD_REQUEST,
            json!({"title": "Bad Request", "status": 400, "detail": "Invalid query parameter", "o:errorCode": "OSC-CREST-00007"}),
        );
    };
    let found = roql.contains(&format!("'{CONTACT_PHONE}'")) || roql.contains(&format!("'{CONTACT_EMAIL}'"));
    // A contact with two phones comes back as two rows.
    let rows = if found {
        json!([["12", "Jane Doe", CONTACT_EMAIL, CONTACT_PHONE], ["12", "Jane Doe", CONTACT_EMAIL, "4155550000"]])
    } else {
        json!([])
    };
    let count = rows.as_array().map_or(0, Vec::len);
    json(
        StatusCode::OK,
        json!({"items": [{"tableName": "Contacts", "count": count,
                          "columnNames": ["id", "lookupName", "address", "number"], "rows": rows}],
               "links": [{"rel": "self"}]}),
    )
}

async fn oracle_accounts(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if let Some(refusal) = oracle_refusal(&headers) {
        return refusal;
    }
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let items: Vec<_> = (1..=limit.min(3)).map(|id| json!({"id": id, "lookupName": format!("Staff {id}")})).collect();
    json(StatusCode::OK, json!({"items": items, "hasMore": true, "links": [{"rel": "canonical"}]}))
}

// Salesforce OAuth 2.0 token endpoint and REST API.
// Client credentials flow (consumer key and secret for a token of the integration user):
//   https://help.salesforce.com/apex/HTViewHelpDoc?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm
// Username-password flow (the security token appended to the password):
//   https://developer.salesforce.com/docs/atlas.en-us.194.0.api_rest.meta/api_rest/intro_understanding_username_password_oauth_flow.htm
// Refusals are OAuth 2.0 error responses, `{"error": ..., "error_description": ...}` with 400
// (https://www.rfc-editor.org/rfc/rfc6749#section-5.2); Salesforce adds `invalid_client_id`.
// The token answer's fields (access_token, instance_url, token_type, ...):
//   https://developer.salesforce.com/docs/atlas.en-us.262.0.chatterapi.meta/chatterapi/quickstart_connecting.htm
// Limits (`/vXX.X/limits/`, Bearer token, View Setup and Configuration permission):
//   https://developer.salesforce.com/docs/atlas.en-us.214.0.api_rest.meta/api_rest/resources_limits.htm
pub const SF_CONSUMER_KEY: &str = "3MVG9connected.app.key";
pub const SF_CONSUMER_SECRET: &str = "sf-secret-Sentinel-8c2e";
pub const SF_USER: &str = "integration@acme.example";
pub const SF_PASSWORD: &str = "sf-pw-Sentinel-55aa";
pub const SF_SECURITY_TOKEN: &str = "sf-token-Sentinel-0b9f";
pub const SF_ACCESS_TOKEN: &str = "00Dx0000000BV7z!AR8-access-Sentinel-e3d1";

/// A Salesforce org: its login endpoint and, at `instance_url` (which the token answer
/// names), REST API v59.0.
pub struct SalesforceOrg {
    pub instance_url: String,
    pub limits: Limits,
}

/// How the limits resource treats the token the org issued.
#[derive(Clone, Copy)]
pub enum Limits {
    Granted,
    /// The integration user lacks the View Setup and Configuration permission.
    Forbidden,
    /// The session ended between the token request and the read.
    SessionInvalid,
}

pub fn salesforce(org: SalesforceOrg) -> Router {
    Router::new()
        .route("/services/oauth2/token", post(salesforce_token))
        .route("/services/data/v59.0/limits", get(salesforce_limits))
        .route("/services/data/v59.0/search/", get(salesforce_search))
        .with_state(Arc::new(org))
}

async fn salesforce_token(State(org): State<Arc<SalesforceOrg>>, headers: HeaderMap, body: Bytes) -> Response {
    let refuse = |error: &str, description: &str| {
        json(StatusCode::BAD_REQUEST, json!({"error": error, "error_description": description}))
    };
    if !content_type_is(&headers, "application/x-www-form-urlencoded") {
        return refuse("unsupported_grant_type", "grant type not supported");
    }
    let fields = form(&body);
    let field = |name: &str| fields.get(name).map(String::as_str);
    if field("client_id") != Some(SF_CONSUMER_KEY) {
        return refuse("invalid_client_id", "client identifier invalid");
    }
    if field("client_secret") != Some(SF_CONSUMER_SECRET) {
        return refuse("invalid_client", "invalid client credentials");
    }
    match field("grant_type") {
        Some("client_credentials") => {}
        Some("password") => {
            let password = format!("{SF_PASSWORD}{SF_SECURITY_TOKEN}");
            if field("username") != Some(SF_USER) || field("password") != Some(password.as_str()) {
                return refuse("invalid_grant", "authentication failure");
            }
        }
        _ => return refuse("unsupported_grant_type", "grant type not supported"),
    }
    json(
        StatusCode::OK,
        json!({
            "access_token": SF_ACCESS_TOKEN,
            "signature": "nUFHwtfIGLKDTHcLWmDBG8frv0t+HQGl/iCZFIQUarE=",
            "token_format": "opaque",
            "instance_url": org.instance_url, // not a property key: Salesforce's token answer
            "id": "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
            "token_type": "Bearer",
            "issued_at": "1278448832702"
        }),
    )
}

async fn salesforce_limits(State(org): State<Arc<SalesforceOrg>>, headers: HeaderMap) -> Response {
    let session_invalid = json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]);
    if bearer(&headers).as_deref() != Some(SF_ACCESS_TOKEN) {
        return json(StatusCode::UNAUTHORIZED, session_invalid);
    }
    match org.limits {
        Limits::Granted => {}
        Limits::SessionInvalid => return json(StatusCode::UNAUTHORIZED, session_invalid),
        Limits::Forbidden => {
            return json(
                StatusCode::FORBIDDEN,
                json!([{"message": "insufficient access rights", "errorCode": "INSUFFICIENT_ACCESS"}]),
            )
        }
    }
    json(
        StatusCode::OK,
        json!({"DailyApiRequests": {"Max": 15000, "Remaining": 14998}, "DataStorageMB": {"Max": 5, "Remaining": 5}}),
    )
}

// Salesforce SOSL search (`GET /services/data/vXX.X/search/?q=FIND {…} IN PHONE FIELDS
// RETURNING Contact(…)`, Bearer token; from v36.0 `{"searchRecords": [...]}`; errors a list of
// `{"message", "errorCode"}`):
//   https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_search.htm
async fn salesforce_search(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if bearer(&headers).as_deref() != Some(SF_ACCESS_TOKEN) {
        return json(
            StatusCode::UNAUTHORIZED,
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        );
    }
    let Some(sosl) = query.get("q").filter(|q| q.starts_with("FIND {")) else {
        return json(
            StatusCode::BAD_REQUEST,
            json!([{"message": "unexpected token: q", "errorCode": "MALFORMED_SEARCH"}]),
        );
    };
    let found = sosl.contains(&format!("{{{CONTACT_PHONE}}} IN PHONE FIELDS"))
        || sosl.contains(&format!("{{{CONTACT_EMAIL}}} IN EMAIL FIELDS"));
    let records = if found {
        json!([{"attributes": {"type": "Contact", "url": "/services/data/v59.0/sobjects/Contact/003D000000IqhSLIAZ"},
                "Id": "003D000000IqhSLIAZ", "Name": "Jane Doe", "Email": CONTACT_EMAIL, "Phone": "(415) 555-1212"}])
    } else {
        json!([])
    };
    json(StatusCode::OK, json!({"searchRecords": records}))
}

// ServiceNow Table API (`GET /api/now/table/{tableName}`, `sysparm_limit`, answers
// `{"result": [...]}`; the user needs roles to read the table):
//   https://www.servicenow.com/docs/r/yokohama/api-reference/rest-apis/c_TableAPI.html
// OAuth password grant at `/oauth_token.do` (form body: grant_type, client_id, client_secret,
// username, password):
//   https://www.servicenow.com/docs/r/yokohama/platform-security/authentication/r_OAuthAPIRequestParameters.html
pub const SN_USER: &str = "patchbay.integration";
pub const SN_USER_WITHOUT_ROLES: &str = "no.roles";
pub const SN_PASSWORD: &str = "sn-pw-Sentinel-73c0";
pub const SN_CLIENT_ID: &str = "be3aeb583ace210011c15b24a43e25d8";
pub const SN_CLIENT_SECRET: &str = "sn-client-Sentinel-19fe";
pub const SN_ACCESS_TOKEN: &str = "sn-access-Sentinel-d4a8";

pub fn servicenow() -> Router {
    Router::new()
        .route("/api/now/table/sys_user", get(servicenow_table))
        .route("/oauth_token.do", post(servicenow_token))
}

async fn servicenow_table(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let user = match (basic(&headers), bearer(&headers)) {
        (Some((user, password)), _) if password == SN_PASSWORD => Some(user),
        (_, Some(token)) if token == SN_ACCESS_TOKEN => Some(SN_USER.to_owned()),
        _ => None,
    };
    match user.as_deref() {
        Some(SN_USER) => {}
        Some(SN_USER_WITHOUT_ROLES) => {
            return json(
                StatusCode::FORBIDDEN,
                json!({"error": {"message": "Insufficient rights to query records", "detail": "Field(s) present in the query do not have permission to be read"}, "status": "failure"}),
            )
        }
        _ => {
            return json(
                StatusCode::UNAUTHORIZED,
                json!({"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}),
            )
        }
    }
    let limit: usize = query.get("sysparm_limit").and_then(|l| l.parse().ok()).unwrap_or(10_000);
    if let Some(filter) = query.get("sysparm_query") {
        let found = filter == &format!("phone={CONTACT_PHONE}^ORmobile_phone={CONTACT_PHONE}")
            || filter == &format!("email={CONTACT_EMAIL}");
        let result = if found {
            json!([{"sys_id": "6816f79cc0a8016401c5a33be04be441", "name": "Jane Doe", "email": CONTACT_EMAIL,
                    "phone": "", "mobile_phone": "415-555-1212"}])
        } else {
            json!([])
        };
        return json(StatusCode::OK, json!({"result": result}));
    }
    let record = |n: usize| {
        json!({
            "sys_id": format!("{n:032x}"),
            "user_name": "admin", // not a property key: a field of ServiceNow's sys_user table
        })
    };
    let result: Vec<_> = (1..=limit.min(2)).map(record).collect();
    json(StatusCode::OK, json!({"result": result}))
}

async fn servicenow_token(headers: HeaderMap, body: Bytes) -> Response {
    let fields = form(&body);
    let field = |name: &str| fields.get(name).map(String::as_str);
    let accepted = content_type_is(&headers, "application/x-www-form-urlencoded")
        && field("grant_type") == Some("password")
        && field("client_id") == Some(SN_CLIENT_ID)
        && field("client_secret") == Some(SN_CLIENT_SECRET)
        && field("username") == Some(SN_USER)
        && field("password") == Some(SN_PASSWORD);
    if !accepted {
        return json(StatusCode::UNAUTHORIZED, json!({"error_description": "access_denied", "error": "server_error"}));
    }
    json(
        StatusCode::OK,
        json!({"access_token": SN_ACCESS_TOKEN, "refresh_token": "sn-refresh", "scope": "useraccount", "token_type": "Bearer", "expires_in": 1799}),
    )
}

/// A developer instance asleep: every path answers with a web page.
pub fn servicenow_hibernating() -> Router {
    Router::new().fallback(|| async { Html("<html><body>Your instance is hibernating.</body></html>") })
}

// Zendesk Support API, Show Self (`GET /api/v2/users/me.json`, allowed for anonymous users):
//   https://developer.zendesk.com/api-reference/ticketing/users/users/#show-self
// API token auth (`{email}/token:{api_token}` Basic) and OAuth (Bearer):
//   https://support.zendesk.com/hc/en-us/articles/4408831452954-Authentication-for-API-requests
// Credentials for an unknown user come back as "Anonymous user" with a null id
// (https://github.com/zendesk/zendesk_api_client_rb/issues/27,
// https://github.com/blakmatrix/node-zendesk/issues/152); a wrong token for a known user is
// 401 `{"error": "Couldn't authenticate you"}` (https://github.com/Speedygeek/ZendeskApi_v2/issues/505).
pub const ZD_EMAIL: &str = "agent@acme.example";
pub const ZD_API_TOKEN: &str = "zd-token-Sentinel-6e21";
pub const ZD_OAUTH_TOKEN: &str = "zd-oauth-Sentinel-a0c5";

pub fn zendesk() -> Router {
    Router::new()
        .route("/api/v2/users/me.json", get(zendesk_me))
        .route("/api/v2/users/search.json", get(zendesk_search))
}

// Zendesk Search Users (`GET /api/v2/users/search.json?query=`, search syntax such as
// `phone:…` or `email:…`; `{"users": [...], "count"}`; 401 `{"error": "Couldn't authenticate
// you"}`):
//   https://developer.zendesk.com/api-reference/ticketing/users/users/#search-users
async fn zendesk_search(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let authenticated = bearer(&headers).as_deref() == Some(ZD_OAUTH_TOKEN)
        || basic(&headers) == Some((format!("{ZD_EMAIL}/token"), ZD_API_TOKEN.to_owned()));
    if !authenticated {
        return json(StatusCode::UNAUTHORIZED, json!({"error": "Couldn't authenticate you"}));
    }
    let asked = query.get("query").map(String::as_str).unwrap_or_default();
    let found = asked == format!("phone:{CONTACT_PHONE}") || asked == format!("email:{CONTACT_EMAIL}");
    let users = if found {
        json!([{"id": 35437, "url": "https://acme.zendesk.com/api/v2/users/35437.json", "name": "Jane Doe",
                "email": CONTACT_EMAIL, "phone": "+14155551212", "role": "end-user", "active": true}])
    } else {
        json!([])
    };
    let count = users.as_array().map_or(0, Vec::len);
    json(StatusCode::OK, json!({"users": users, "next_page": null, "previous_page": null, "count": count}))
}

async fn zendesk_me(headers: HeaderMap) -> Response {
    let agent =
        json!({"user": {"id": 35436, "name": "Acme Agent", "email": ZD_EMAIL, "role": "admin", "verified": true}});
    let anonymous = json!({"user": {"id": null, "url": null, "name": "Anonymous user", "email": "invalid@example.com", "role": "end-user", "verified": false}});
    if let Some(token) = bearer(&headers) {
        return if token == ZD_OAUTH_TOKEN {
            json(StatusCode::OK, agent)
        } else {
            json(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."}),
            )
        };
    }
    match basic(&headers) {
        Some((user, token)) if user == format!("{ZD_EMAIL}/token") => {
            if token == ZD_API_TOKEN {
                json(StatusCode::OK, agent)
            } else {
                json(StatusCode::UNAUTHORIZED, json!({"error": "Couldn't authenticate you"}))
            }
        }
        _ => json(StatusCode::OK, anonymous),
    }
}
