//! Roles and tenant isolation over every route: no token is 401, another tenant's
//! resources are 404, a viewer reads but cannot change, a tenant admin cannot touch
//! tenants or entitlements.

use patchbay_testkit::{databases, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    /// Reads are allowed to viewers; writes are not.
    write: bool,
    /// Only a service-provider admin may call it.
    sp_only: bool,
}

fn route(method: Method, path: String, body: Option<Value>, write: bool, sp_only: bool) -> Route {
    Route { method, path, body, write, sp_only }
}

fn line(name: &str) -> Value {
    json!({"type": "messenger", "provider": "line", "name": name, "properties": {"token": "t"}})
}

async fn create_account(s: &TestServer, tenant: &str, name: &str) -> String {
    let reply = s.call(Method::POST, &format!("/api/v1/tenants/{tenant}/integration-accounts"), Some(line(name))).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Every tenant-scoped route of acme; a fresh account id for the destructive ones.
async fn acme_routes(s: &TestServer) -> Vec<Route> {
    let t = "/api/v1/tenants/acme";
    let a = create_account(s, "acme", &format!("a-{}", uuid::Uuid::new_v4())).await;
    let b = create_account(s, "acme", &format!("b-{}", uuid::Uuid::new_v4())).await;
    vec![
        route(Method::GET, t.into(), None, false, false),
        route(Method::GET, format!("{t}/integration-accounts"), None, false, false),
        route(Method::GET, format!("{t}/integration-accounts/{a}"), None, false, false),
        route(Method::GET, format!("{t}/integration-accounts/{a}/audit"), None, false, false),
        route(Method::GET, format!("{t}/audit"), None, false, false),
        route(
            Method::POST,
            format!("{t}/integration-accounts"),
            Some(line(&uuid::Uuid::new_v4().to_string())),
            true,
            false,
        ),
        route(
            Method::PUT,
            format!("{t}/integration-accounts/{a}"),
            Some(json!({"name": uuid::Uuid::new_v4().to_string()})),
            true,
            false,
        ),
        route(Method::DELETE, format!("{t}/integration-accounts/{b}"), None, true, false),
        route(Method::PUT, t.into(), Some(json!({"name": "Acme Inc"})), true, true),
    ]
}

async fn status(s: &TestServer, token: Option<&str>, r: &Route) -> u16 {
    let mut req = s.request(r.method.clone(), &r.path, token);
    if let Some(body) = &r.body {
        req = req.json(body);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_route_enforces_roles_and_tenant_isolation() {
    for db in databases().await {
        let s = TestServer::start(&db).await;
        let acme_admin = s.tenant_with_token("acme", "tenant_admin").await;
        let acme_viewer = s.token("tenant_viewer", Some("acme")).await;
        let globex_admin = s.tenant_with_token("globex", "tenant_admin").await;

        for r in acme_routes(&s).await {
            assert_eq!(status(&s, None, &r).await, 401, "no token: {} {}", r.method, r.path);
            assert_eq!(status(&s, Some("pb_not_a_token"), &r).await, 401, "bad token: {} {}", r.method, r.path);
            assert_eq!(status(&s, Some(&globex_admin), &r).await, 404, "other tenant: {} {}", r.method, r.path);
            let viewer = status(&s, Some(&acme_viewer), &r).await;
            if r.write {
                assert_eq!(viewer, 403, "viewer write: {} {}", r.method, r.path);
            } else {
                assert_eq!(viewer, 200, "viewer read: {} {}", r.method, r.path);
            }
        }
        for r in acme_routes(&s).await {
            let admin = status(&s, Some(&acme_admin), &r).await;
            if r.sp_only {
                assert_eq!(admin, 403, "tenant admin on sp route: {} {}", r.method, r.path);
            } else {
                assert!((200..300).contains(&admin), "tenant admin: {} {} -> {admin}", r.method, r.path);
            }
        }
        for r in acme_routes(&s).await {
            let sp = status(&s, Some(&s.admin_token.clone()), &r).await;
            assert!((200..300).contains(&sp), "sp admin: {} {} -> {sp}", r.method, r.path);
        }

        // An account of globex is not reachable through acme's path, even by id.
        let g = create_account(&s, "globex", "globex line").await;
        let cross =
            s.call_as(&acme_admin, Method::GET, &format!("/api/v1/tenants/acme/integration-accounts/{g}"), None).await;
        assert_eq!(cross.status, 404);
        let cross_put = s
            .call_as(
                &acme_admin,
                Method::PUT,
                &format!("/api/v1/tenants/acme/integration-accounts/{g}"),
                Some(json!({"name": "x"})),
            )
            .await;
        assert_eq!(cross_put.status, 404);

        // Tenant-level routes.
        let create_tenant = json!({"id": "initech"});
        assert_eq!(
            s.call_as(&acme_admin, Method::POST, "/api/v1/tenants", Some(create_tenant.clone())).await.status,
            403
        );
        assert_eq!(s.call_as(&acme_admin, Method::DELETE, "/api/v1/tenants/acme", None).await.status, 403);
        let listed = s.call_as(&acme_viewer, Method::GET, "/api/v1/tenants", None).await;
        let ids: Vec<&str> =
            listed.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["acme"]);

        // Tokens: a viewer cannot mint or list; a tenant admin mints only for its tenant.
        let viewer_mint = json!({"name": "x", "role": "tenant_admin", "tenant": "acme"});
        assert_eq!(s.call_as(&acme_viewer, Method::POST, "/api/v1/tokens", Some(viewer_mint)).await.status, 403);
        assert_eq!(s.call_as(&acme_viewer, Method::GET, "/api/v1/tokens", None).await.status, 403);
        let foreign = json!({"name": "x", "role": "tenant_viewer", "tenant": "globex"});
        assert_eq!(s.call_as(&acme_admin, Method::POST, "/api/v1/tokens", Some(foreign)).await.status, 404);
        let escalate = json!({"name": "x", "role": "sp_admin"});
        assert_eq!(s.call_as(&acme_admin, Method::POST, "/api/v1/tokens", Some(escalate)).await.status, 403);
        let own = s.call_as(&acme_admin, Method::GET, "/api/v1/tokens", None).await;
        assert!(own.body["items"].as_array().unwrap().iter().all(|t| t["tenant_id"] == "acme"), "{}", own.text);
        assert!(!own.text.contains("\"token\""), "token values are never listed");

        // Revocation takes effect.
        let minted = s
            .call(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "temp", "role": "tenant_viewer", "tenant": "acme"})),
            )
            .await;
        let temp = minted.body["token"].as_str().unwrap().to_owned();
        assert_eq!(s.call_as(&temp, Method::GET, "/api/v1/whoami", None).await.status, 200);
        let id = minted.body["id"].as_str().unwrap();
        assert_eq!(s.call_as(&globex_admin, Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await.status, 404);
        assert_eq!(s.call_as(&acme_admin, Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await.status, 204);
        assert_eq!(s.call_as(&temp, Method::GET, "/api/v1/whoami", None).await.status, 401);
        s.stop().await;
    }
}
