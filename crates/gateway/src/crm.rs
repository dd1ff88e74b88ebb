//! Contact search in the CRMs, each through its documented search API with the account's
//! authentication: Salesforce (SOSL over phone or email fields), Zendesk (users search),
//! ServiceNow (Table API over `sys_user`) and Oracle Service Cloud / RightNow (ROQL over
//! Contacts). A contact is `{id, name, email, phone, url}` whatever the CRM.

use patchbay_api::CrmContact;
use patchbay_catalog::keys::{oracle_service_cloud, salesforce, servicenow, zendesk};
use reqwest::header::ACCEPT;
use reqwest::Method;
use serde_json::Value;
use url::Url;

use crate::vendors::{json_of, Call, Lookup, JSON};
use crate::GatewayError;

/// Contacts returned at most.
pub(crate) const MAX_CONTACTS: usize = 10;

pub(crate) async fn search(call: &Call<'_>, by: &Lookup<'_>) -> Result<Vec<CrmContact>, GatewayError> {
    match call.account.type_key.as_str() {
        "salesforce" => salesforce_search(call, by).await,
        "zendesk" => zendesk_search(call, by).await,
        "servicenow" => servicenow_search(call, by).await,
        "oracle_service_cloud" | "rightnow" => oracle_search(call, by).await,
        other => Err(crate::unserved(other, &call.account.provider)),
    }
}

/// A property's value, or the catalog's default for it.
fn setting(call: &Call<'_>, key: &str) -> String {
    call.account.text(key).map(str::to_owned).unwrap_or_else(|| {
        patchbay_catalog::catalog()
            .provider(&call.account.type_key, &call.account.provider)
            .and_then(|p| p.field(key))
            .and_then(|f| f.default.as_ref()?.as_str().map(str::to_owned))
            .unwrap_or_default()
    })
}

/// An API version as it goes into a path (`v59.0`, `v1.4`).
fn version(call: &Call<'_>, key: &str) -> Result<String, GatewayError> {
    let version = setting(call, key);
    let digits = version.strip_prefix('v').unwrap_or(&version);
    if digits.starts_with(|c: char| c.is_ascii_digit()) && digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        Ok(format!("v{digits}"))
    } else {
        Err(call.invalid(format!("`{key}` is not an API version (`{version}`)")))
    }
}

/// `base` with `path` appended (with or without a trailing slash on `base`).
fn join(call: &Call<'_>, base: &str, path: &str) -> Result<Url, GatewayError> {
    Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|e| call.invalid(format!("`{base}` cannot take the path {path}: {e}")))
}

fn text_of(record: &Value, key: &str) -> Option<String> {
    match record.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Salesforce: an OAuth 2.0 token as the account says (client credentials, or username and
/// password with the security token appended), then SOSL
/// `FIND {term} IN PHONE|EMAIL FIELDS RETURNING Contact(Id, Name, Email, Phone)` at
/// `{instance_url}/services/data/{version}/search/`. From API v36.0 the answer is
/// `{"searchRecords": [...]}`, before a bare list.
/// <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_search.htm>
async fn salesforce_search(call: &Call<'_>, by: &Lookup<'_>) -> Result<Vec<CrmContact>, GatewayError> {
    let login = call.text(salesforce::LOGIN_URL)?;
    let method = setting(call, salesforce::AUTHENTICATION_METHOD);
    let client_id = call.text(salesforce::CONSUMER_KEY)?;
    let client_secret = call.secret(salesforce::CONSUMER_SECRET)?;
    let version = version(call, salesforce::API_VERSION)?;
    let password;
    let mut form = vec![("grant_type", method.as_str()), ("client_id", client_id), ("client_secret", client_secret)];
    if method == "password" {
        let token = call.account.secret(salesforce::SECURITY_TOKEN).unwrap_or("");
        password = format!("{}{token}", call.secret(salesforce::PASSWORD)?);
        form.push(("username", call.text(salesforce::USERNAME)?));
        form.push(("password", password.as_str()));
    }
    let reply = call
        .send(Method::POST, &join(call, login, "/services/oauth2/token")?, |r| r.form(&form).header(ACCEPT, JSON))
        .await?;
    let body = json_of(&reply);
    if let Some(error) = body.as_ref().and_then(|b| b.get("error")?.as_str()) {
        let said = body.as_ref().and_then(|b| b.get("error_description")?.as_str()).unwrap_or(error);
        return Err(call.refused_as(&reply, patchbay_connectors::Category::InvalidCredentials, "token request", said));
    }
    if !(200..300).contains(&reply.status) {
        return Err(call.refused(&reply, "OAuth token endpoint at the Login URL", None));
    }
    let token = body.as_ref().and_then(|b| b.get("access_token")?.as_str()).map(str::to_owned);
    let instance = body.as_ref().and_then(|b| b.get("instance_url")?.as_str()).and_then(|u| Url::parse(u).ok());
    let (Some(token), Some(instance)) = (token, instance) else {
        return Err(call.garbled(&reply, "a Salesforce token answer"));
    };
    if instance.scheme() != "https" && Url::parse(login).is_ok_and(|l| l.scheme() == "https") {
        return Err(call.garbled(&reply, "a token answer with an https instance_url"));
    }
    let (term, fields) = match by {
        Lookup::Phone(digits) => (digits.clone(), "PHONE"),
        Lookup::Email(email) => (sosl_escaped(email), "EMAIL"),
    };
    let sosl =
        format!("FIND {{{term}}} IN {fields} FIELDS RETURNING Contact(Id, Name, Email, Phone) LIMIT {MAX_CONTACTS}");
    let mut url = join(call, instance.as_str(), &format!("/services/data/{version}/search/"))?;
    url.query_pairs_mut().append_pair("q", &sosl);
    let reply = call.send(Method::GET, &url, |r| r.bearer_auth(&token).header(ACCEPT, JSON)).await?;
    if !(200..300).contains(&reply.status) {
        // Errors are a list: [{"message", "errorCode"}].
        let said = json_of(&reply).and_then(|b| b.get(0)?.get("message")?.as_str().map(str::to_owned));
        return Err(call.refused(&reply, "REST API version", said.as_deref()));
    }
    let records = match json_of(&reply) {
        Some(Value::Array(records)) => records,
        Some(Value::Object(mut body)) => match body.remove("searchRecords") {
            Some(Value::Array(records)) => records,
            _ => return Err(call.garbled(&reply, "a SOSL search answer")),
        },
        _ => return Err(call.garbled(&reply, "a SOSL search answer")),
    };
    let base = instance.as_str().trim_end_matches('/').to_owned();
    Ok(records
        .iter()
        .filter_map(|r| {
            let id = text_of(r, "Id")?;
            Some(CrmContact {
                url: Some(format!("{base}/{id}")),
                name: text_of(r, "Name").unwrap_or_default(),
                email: text_of(r, "Email"),
                phone: text_of(r, "Phone"),
                id,
            })
        })
        .take(MAX_CONTACTS)
        .collect())
}

/// SOSL's reserved characters escaped with a backslash.
fn sosl_escaped(term: &str) -> String {
    term.chars().fold(String::new(), |mut out, c| {
        if "?&|!{}[]()^~*:\\\"'+-".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// Zendesk: `GET {subdomain}/api/v2/users/search.json?query=phone:… | email:…` with the
/// `{email}/token` API token or an OAuth token. A user's page for agents is
/// `{subdomain}/agent/users/{id}`.
/// <https://developer.zendesk.com/api-reference/ticketing/users/users/#search-users>
async fn zendesk_search(call: &Call<'_>, by: &Lookup<'_>) -> Result<Vec<CrmContact>, GatewayError> {
    let base = call.text(zendesk::SUBDOMAIN_URL)?;
    let query = match by {
        Lookup::Phone(digits) => format!("phone:{digits}"),
        Lookup::Email(email) => format!("email:{email}"),
    };
    let mut url = join(call, base, "/api/v2/users/search.json")?;
    url.query_pairs_mut().append_pair("query", &query);
    let reply = if setting(call, zendesk::AUTHENTICATION_METHOD) == "oauth" {
        let token = call.secret(zendesk::OAUTH_ACCESS_TOKEN)?;
        call.send(Method::GET, &url, |r| r.bearer_auth(token).header(ACCEPT, JSON)).await?
    } else {
        let user = format!("{}/token", call.text(zendesk::EMAIL)?);
        let token = call.secret(zendesk::API_TOKEN)?;
        call.send(Method::GET, &url, |r| r.basic_auth(user, Some(token)).header(ACCEPT, JSON)).await?
    };
    if !(200..300).contains(&reply.status) {
        let said = json_of(&reply).and_then(|b| b.get("error")?.as_str().map(str::to_owned));
        return Err(call.refused(&reply, "Zendesk account at the Subdomain URL", said.as_deref()));
    }
    let Some(users) = json_of(&reply).and_then(|b| b.get("users")?.as_array().cloned()) else {
        return Err(call.garbled(&reply, "a Zendesk users answer"));
    };
    let base = base.trim_end_matches('/');
    Ok(users
        .iter()
        .filter_map(|u| {
            let id = text_of(u, "id")?;
            Some(CrmContact {
                url: Some(format!("{base}/agent/users/{id}")),
                name: text_of(u, "name").unwrap_or_default(),
                email: text_of(u, "email"),
                phone: text_of(u, "phone"),
                id,
            })
        })
        .take(MAX_CONTACTS)
        .collect())
}

/// ServiceNow: the Table API over `sys_user` (`sysparm_query` on phone and mobile phone, or
/// email; `sysparm_limit`), with Basic auth or a Bearer token from `oauth_token.do` as the
/// account says. A record's form is `{instance}/sys_user.do?sys_id=…`.
/// <https://www.servicenow.com/docs/r/yokohama/api-reference/rest-apis/c_TableAPI.html>
async fn servicenow_search(call: &Call<'_>, by: &Lookup<'_>) -> Result<Vec<CrmContact>, GatewayError> {
    let instance = call.text(servicenow::INSTANCE_URL)?;
    let username = call.text(servicenow::USERNAME)?;
    let password = call.secret(servicenow::PASSWORD)?;
    let query = match by {
        Lookup::Phone(digits) => format!("phone={digits}^ORmobile_phone={digits}"),
        Lookup::Email(email) => format!("email={}", email.replace('^', "")),
    };
    let mut url = join(call, instance, "/api/now/table/sys_user")?;
    url.query_pairs_mut()
        .append_pair("sysparm_query", &query)
        .append_pair("sysparm_limit", &MAX_CONTACTS.to_string())
        .append_pair("sysparm_fields", "sys_id,name,email,phone,mobile_phone");
    let reply = if setting(call, servicenow::AUTHENTICATION_METHOD) == "basic" {
        call.send(Method::GET, &url, |r| r.basic_auth(username, Some(password)).header(ACCEPT, JSON)).await?
    } else {
        let form = [
            ("grant_type", "password"),
            ("client_id", call.text(servicenow::CLIENT_ID)?),
            ("client_secret", call.secret(servicenow::CLIENT_SECRET)?),
            ("username", username),
            ("password", password),
        ];
        let reply = call
            .send(Method::POST, &join(call, instance, "/oauth_token.do")?, |r| r.form(&form).header(ACCEPT, JSON))
            .await?;
        let token = json_of(&reply).and_then(|b| b.get("access_token")?.as_str().map(str::to_owned));
        match (reply.status, token) {
            (200..=299, Some(token)) => {
                call.send(Method::GET, &url, |r| r.bearer_auth(token).header(ACCEPT, JSON)).await?
            }
            (400 | 401, _) => {
                return Err(call.refused_as(
                    &reply,
                    patchbay_connectors::Category::InvalidCredentials,
                    "OAuth token request",
                    "access denied",
                ))
            }
            (200..=299, None) => return Err(call.garbled(&reply, "a ServiceNow token answer")),
            _ => return Err(call.refused(&reply, "OAuth endpoint of the instance", None)),
        }
    };
    let body = json_of(&reply);
    // Releases before Helsinki answer an empty result with 404 and "No Record found".
    let no_record = reply.status == 404
        && body.as_ref().and_then(|b| b.get("error")?.get("message")?.as_str()) == Some("No Record found");
    if no_record {
        return Ok(Vec::new());
    }
    if !(200..300).contains(&reply.status) {
        let said = body.as_ref().and_then(|b| b.get("error")?.get("message")?.as_str().map(str::to_owned));
        return Err(call.refused(&reply, "instance or Table API", said.as_deref()));
    }
    let Some(records) = body.and_then(|b| b.get("result")?.as_array().cloned()) else {
        return Err(call.garbled(&reply, "a ServiceNow Table API answer"));
    };
    let base = instance.trim_end_matches('/');
    Ok(records
        .iter()
        .filter_map(|r| {
            let id = text_of(r, "sys_id")?;
            Some(CrmContact {
                url: Some(format!("{base}/sys_user.do?sys_id={id}")),
                name: text_of(r, "name").unwrap_or_default(),
                email: text_of(r, "email"),
                phone: text_of(r, "phone").or_else(|| text_of(r, "mobile_phone")),
                id,
            })
        })
        .take(MAX_CONTACTS)
        .collect())
}

/// The annotation Connect REST API v1.4 and later require on every request.
const ORACLE_CONTEXT: &str = "patchbay runtime gateway";

/// Oracle Service Cloud and RightNow: ROQL over Contacts at
/// `{site}/services/rest/connect/{version}/queryResults/?query=…` with Basic auth and the
/// `OSvC-CREST-Application-Context` annotation. The answer is one table per query:
/// `{"items": [{"columnNames": [...], "rows": [[...]]}]}`, every value a string.
/// <https://docs.oracle.com/en/cloud/saas/b2c-service/cxsvc/op-services-rest-connect-v1.4-queryresults-get.html>
async fn oracle_search(call: &Call<'_>, by: &Lookup<'_>) -> Result<Vec<CrmContact>, GatewayError> {
    let site = call.text(oracle_service_cloud::SITE_URL)?;
    let username = call.text(oracle_service_cloud::USERNAME)?;
    let password = call.secret(oracle_service_cloud::PASSWORD)?;
    let version = version(call, oracle_service_cloud::API_VERSION)?;
    let condition = match by {
        Lookup::Phone(digits) => format!("Phones.Number = '{digits}'"),
        Lookup::Email(email) => format!("Emails.Address = '{}'", email.replace('\'', "''")),
    };
    let roql = format!(
        "SELECT ID, LookupName, Emails.Address, Phones.Number FROM Contacts WHERE {condition} LIMIT {MAX_CONTACTS}"
    );
    let mut url = join(call, site, &format!("/services/rest/connect/{version}/queryResults/"))?;
    url.query_pairs_mut().append_pair("query", &roql);
    let reply = call
        .send(Method::GET, &url, |r| {
            r.basic_auth(username, Some(password))
                .header("OSvC-CREST-Application-Context", ORACLE_CONTEXT)
                .header(ACCEPT, JSON)
        })
        .await?;
    if !(200..300).contains(&reply.status) {
        let said = json_of(&reply).and_then(|b| b.get("detail")?.as_str().map(str::to_owned));
        return Err(call.refused(&reply, "site or Connect REST API version", said.as_deref()));
    }
    let table = json_of(&reply).and_then(|b| b.get("items")?.get(0).cloned());
    let columns: Option<Vec<String>> = table.as_ref().and_then(|t| {
        t.get("columnNames")?.as_array().map(|c| c.iter().filter_map(|n| n.as_str().map(str::to_lowercase)).collect())
    });
    let rows = table.as_ref().and_then(|t| t.get("rows")?.as_array().cloned());
    let (Some(columns), Some(rows)) = (columns, rows) else {
        return Err(call.garbled(&reply, "a ROQL query result"));
    };
    let at = |name: &str| columns.iter().position(|c| c == name);
    let (id, name, email, phone) = (at("id"), at("lookupname"), at("address"), at("number"));
    let base = site.trim_end_matches('/');
    let mut contacts: Vec<CrmContact> = Vec::new();
    for row in &rows {
        let value =
            |i: Option<usize>| i.and_then(|i| row.get(i)?.as_str().filter(|s| !s.is_empty()).map(str::to_owned));
        let Some(contact_id) = value(id) else { continue };
        // A contact with several emails or phones comes back as several rows.
        if contacts.iter().any(|c| c.id == contact_id) {
            continue;
        }
        contacts.push(CrmContact {
            url: Some(format!("{base}/services/rest/connect/{version}/contacts/{contact_id}")),
            name: value(name).unwrap_or_default(),
            email: value(email),
            phone: value(phone),
            id: contact_id,
        });
    }
    contacts.truncate(MAX_CONTACTS);
    Ok(contacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sosl_reserved_characters_are_escaped() {
        assert_eq!(sosl_escaped("o'neil+1@example.com"), "o\\'neil\\+1@example.com");
        assert_eq!(sosl_escaped("a}b{c"), "a\\}b\\{c");
    }
}
