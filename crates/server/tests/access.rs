//! The access matrix, generated from the route table: every operation of
//! `patchbay_api::Operation::ALL`, called by every role on its own tenant and on another one,
//! with no token and with an unknown one. A refused call must answer exactly the status and
//! problem `Access::decide` gives for the operation's declared access; an admitted call must
//! get past access: not 401 or 403, not the other tenant's 404, not 405 or a missing route
//! (the router serves every operation), and not the 500 a handler routed without a declared
//! access answers.

use patchbay_api::{Access, Denial, Operation, Role};
use patchbay_testkit::{backend_test, Reply, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const OWN: &str = "acme";
const OTHER: &str = "globex";

/// A caller of the matrix: no token, an unknown token, or a role's token (tenant-bound
/// roles belong to `OWN`).
struct Caller {
    label: String,
    token: Option<String>,
    role: Option<Role>,
}

fn method(op: Operation) -> Method {
    Method::from_bytes(op.method().as_str().as_bytes()).expect("an HTTP method")
}

fn line(enabled: bool) -> Value {
    json!({
        "type": "messenger", "provider": "line", "name": uuid::Uuid::new_v4().to_string(),
        "enabled": enabled, "properties": {"token": "t"},
    })
}

/// A fresh resource for the parameters an admitted call would consume or change.
async fn fresh_account(s: &TestServer, tenant: &str) -> String {
    let reply = s.call(Method::POST, &Operation::CreateAccount.url(&[tenant]), Some(line(false))).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["id"].as_str().expect("an id").to_owned()
}

async fn fresh_tenant(s: &TestServer) -> String {
    let id = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let reply = s.call(Method::POST, &Operation::CreateTenant.url(&[]), Some(json!({"id": id}))).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    id
}

async fn fresh_token(s: &TestServer, tenant: &str) -> String {
    let body = json!({"name": "matrix", "role": "tenant_viewer", "tenant": tenant});
    let reply = s.call(Method::POST, &Operation::CreateToken.url(&[]), Some(body)).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["id"].as_str().expect("an id").to_owned()
}

/// The URL of `op` on `tenant`, with fresh resources where an `admitted` call changes them
/// (a deleted tenant is a fresh one, so the matrix keeps its own).
async fn url(s: &TestServer, op: Operation, tenant: &str, admitted: bool) -> String {
    let mut values = Vec::new();
    for parameter in op.parameters() {
        let value = match (op, parameter) {
            (Operation::DeleteTenant, "tenant") if admitted => fresh_tenant(s).await,
            (_, "tenant") => tenant.to_owned(),
            (Operation::RevokeToken, "id") => fresh_token(s, tenant).await,
            (Operation::RetireKey, "id") => "4000000000".to_owned(),
            (_, "id") if op.path().contains("/integration-accounts/") => fresh_account(s, tenant).await,
            (_, "id" | "run_id" | "conversation_id" | "subscription_id" | "user_id" | "hook_id") => {
                uuid::Uuid::new_v4().to_string()
            }
            (_, "recording_id") => "rec-matrix".to_owned(),
            (_, "action") => "generate_token".to_owned(),
            (_, "trigger") => "new_recording".to_owned(),
            (_, other) => panic!("{op:?}: no value for the parameter {other}; add one here"),
        };
        values.push(value);
    }
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let url = op.url(&refs);
    // Tests and actions give up quickly on the vendor they cannot reach.
    if url.contains("/test") || url.contains("/actions/") {
        format!("{url}?timeout_ms=200")
    } else {
        url
    }
}

async fn call(s: &TestServer, op: Operation, url: &str, token: Option<&str>) -> Reply {
    let mut request = s.request(method(op), url, token);
    if matches!(op.method(), patchbay_api::Method::Post | patchbay_api::Method::Put) {
        request = request.json(&json!({}));
    }
    let response = request.send().await.expect("the server answers");
    let stream = response.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if stream {
        // An admitted event stream never ends: its status and headers are the answer.
        return Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: String::new(),
            body: Value::Null,
        };
    }
    Reply::read(response).await
}

fn expected_detail(access: Access, denial: Denial) -> String {
    match denial {
        Denial::Unauthenticated if access == Access::Zapier => patchbay_api::ZAPIER_CREDENTIALS.to_owned(),
        Denial::Unauthenticated => "send `Authorization: Bearer <token>` with a valid API token".to_owned(),
        Denial::Forbidden(reason) => reason.to_owned(),
        Denial::TenantNotFound => "tenant not found".to_owned(),
    }
}

backend_test! {
    #[tokio::test]
    async fn every_operation_answers_every_caller_as_its_declared_access_says(db) {
        let s = TestServer::start(&db).await;
        s.tenant_with_token(OWN, "tenant_admin").await;
        s.tenant_with_token(OTHER, "tenant_admin").await;
        let mut callers = vec![
            Caller { label: "no token".into(), token: None, role: None },
            Caller { label: "unknown token".into(), token: Some("pb_not_a_token".into()), role: None },
        ];
        for role in Role::ALL {
            let token = if role.is_tenant_bound() {
                s.token(role.as_str(), Some(OWN)).await
            } else {
                s.admin_token.clone()
            };
            callers.push(Caller { label: role.as_str().into(), token: Some(token), role: Some(role) });
        }
        let mut checked = 0;
        for &op in Operation::ALL {
            let tenants: &[&str] = if op.access().is_tenant_scoped() { &[OWN, OTHER] } else { &[OWN] };
            for caller in &callers {
                for &tenant in tenants {
                    let own = caller.role.filter(|r| r.is_tenant_bound()).map(|_| OWN);
                    let decision = op.access().decide(caller.role.map(|r| (r, own)), Some(tenant));
                    let url = url(&s, op, tenant, decision.is_ok()).await;
                    let reply = call(&s, op, &url, caller.token.as_deref()).await;
                    let who = format!("{} {} ({:?}) as {} on {tenant}", op.method().as_str(), url, op.access(), caller.label);
                    match decision {
                        Err(denial) => {
                            assert_eq!(reply.status, denial.status(), "{who}: {reply:?}");
                            assert_eq!(reply.body["detail"], json!(expected_detail(op.access(), denial)), "{who}: {reply:?}");
                        }
                        Ok(()) => {
                            assert!(![401, 403, 405, 500].contains(&reply.status), "{who} was admitted: {reply:?}");
                            let detail = reply.body["detail"].as_str().unwrap_or_default();
                            assert!(
                                reply.status != 404 || !["tenant not found", "route not found"].contains(&detail),
                                "{who} was admitted: {reply:?}"
                            );
                        }
                    }
                    checked += 1;
                }
            }
        }
        let scoped = Operation::ALL.iter().filter(|op| op.access().is_tenant_scoped()).count();
        assert_eq!(checked, (Operation::ALL.len() + scoped) * (Role::ALL.len() + 2));
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn tenant_data_and_tokens_stay_within_their_tenant(db) {
        let s = TestServer::start(&db).await;
        let acme_admin = s.tenant_with_token(OWN, "tenant_admin").await;
        let acme_viewer = s.token("tenant_viewer", Some(OWN)).await;
        let globex_admin = s.tenant_with_token(OTHER, "tenant_admin").await;

        // An account of globex is not reachable through acme's path, even by id.
        let g = fresh_account(&s, OTHER).await;
        let cross = s.call_as(&acme_admin, Method::GET, &Operation::GetAccount.url(&[OWN, &g]), None).await;
        assert_eq!(cross.status, 404);
        let cross_put =
            s.call_as(&acme_admin, Method::PUT, &Operation::UpdateAccount.url(&[OWN, &g]), Some(json!({"name": "x"}))).await;
        assert_eq!(cross_put.status, 404);

        // Lists show only what the caller may read.
        let listed = s.call_as(&acme_viewer, Method::GET, &Operation::ListTenants.url(&[]), None).await;
        let ids: Vec<&str> = listed.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [OWN]);

        // Tokens: a tenant admin mints only for its tenant, never a service-provider token.
        let tokens = Operation::CreateToken.url(&[]);
        let foreign = json!({"name": "x", "role": "tenant_viewer", "tenant": OTHER});
        assert_eq!(s.call_as(&acme_admin, Method::POST, &tokens, Some(foreign)).await.status, 404);
        let escalate = json!({"name": "x", "role": "sp_admin"});
        assert_eq!(s.call_as(&acme_admin, Method::POST, &tokens, Some(escalate)).await.status, 403);
        let own = s.call_as(&acme_admin, Method::GET, &Operation::ListTokens.url(&[]), None).await;
        assert!(own.body["items"].as_array().unwrap().iter().all(|t| t["tenant_id"] == OWN), "{}", own.text);
        assert!(!own.text.contains("\"token\""), "token values are never listed");

        // Revocation: another tenant's admin does not find the token; its own admin revokes it.
        let minted = s.call(Method::POST, &tokens, Some(json!({"name": "temp", "role": "tenant_viewer", "tenant": OWN}))).await;
        let temp = minted.body["token"].as_str().unwrap().to_owned();
        let whoami = Operation::WhoAmI.url(&[]);
        assert_eq!(s.call_as(&temp, Method::GET, &whoami, None).await.status, 200);
        let revoke = Operation::RevokeToken.url(&[minted.body["id"].as_str().unwrap()]);
        assert_eq!(s.call_as(&globex_admin, Method::DELETE, &revoke, None).await.status, 404);
        assert_eq!(s.call_as(&acme_admin, Method::DELETE, &revoke, None).await.status, 204);
        assert_eq!(s.call_as(&temp, Method::GET, &whoami, None).await.status, 401);
        s.stop().await;
    }
}

#[test]
fn every_access_kind_is_used_by_an_operation() {
    for access in Access::ALL {
        assert!(Operation::ALL.iter().any(|op| op.access() == access), "{access:?} is declared by no operation");
    }
}
