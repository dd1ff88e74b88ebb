//! What every request and response obeys: JSON bodies say so and name each key once, the
//! Bearer scheme is matched ignoring case, every error is problem+json, every response
//! carries the security headers, and a tenant's people see the service provider's actions
//! by role only.

use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::keys::zapier;
use patchbay_testkit::{backend_test, Reply, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::json;

backend_test! {
    #[tokio::test]
    async fn a_json_body_without_a_json_content_type_is_refused_with_415_and_changes_nothing(db) {
        let s = TestServer::start(&db).await;
        for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
            let mut request =
                s.request(Method::POST, "/api/v1/tenants", Some(&s.admin_token)).body(r#"{"id": "acme"}"#);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let reply = Reply::read(request.send().await.unwrap()).await;
            assert_eq!(reply.status, 415, "{content_type:?}: {reply:?}");
            assert_eq!(reply.headers["content-type"], "application/problem+json");
            assert!(reply.body["detail"].as_str().unwrap().contains("application/json"), "says what to send");
        }
        let tenants = s.call(Method::GET, "/api/v1/tenants", None).await;
        assert_eq!(tenants.body["items"], json!([]), "nothing was created");
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn a_key_sent_twice_in_a_json_object_is_refused_naming_it_and_changes_nothing(db) {
        let s = TestServer::start(&db).await;
        let reply = Reply::read(
            s.request(Method::POST, "/api/v1/tenants", Some(&s.admin_token))
                .header("content-type", "application/json")
                .body(r#"{"id": "acme", "name": "Acme", "id": "evil"}"#)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 422, "{reply:?}");
        assert_eq!(reply.field_errors(), vec![("id".to_owned(), "duplicate_key".to_owned())]);
        let tenants = s.call(Method::GET, "/api/v1/tenants", None).await;
        assert_eq!(tenants.body["items"], json!([]), "nothing was created");

        s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
        let nested = Reply::read(
            s.request(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(&s.admin_token))
                .header("content-type", "application/json")
                .body(r#"{"type": "messenger", "provider": "line", "name": "L", "properties": {"token": "a", "token": "b"}}"#)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(nested.status, 422, "{nested:?}");
        assert_eq!(nested.field_errors(), vec![("properties.token".to_owned(), "duplicate_key".to_owned())]);
        let accounts = s.call(Method::GET, "/api/v1/tenants/acme/integration-accounts", None).await;
        assert_eq!(accounts.body["items"], json!([]), "nothing was created");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let reply = s
            .request(Method::GET, "/api/v1/tenants", None)
            .header("authorization", format!("{scheme} {}", s.admin_token))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{scheme}");
    }
    let wrong = s.request(Method::GET, "/api/v1/tenants", None).header("authorization", "Basic abc").send().await;
    assert_eq!(wrong.unwrap().status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn an_oversized_sign_in_is_answered_as_problem_json() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    let huge = json!({"token": "x".repeat(2 * 1024 * 1024)});
    let reply = Reply::read(s.request(Method::POST, "/ui/session", None).json(&huge).send().await.unwrap()).await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["status"], 413);
    s.stop().await;
}

#[tokio::test]
async fn every_response_carries_nosniff_and_referrer_policy_and_token_responses_are_not_stored() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    let facebook = json!({"type": "messenger", "provider": "facebook", "name": "F",
        "properties": {facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "42", facebook::TOKEN: "t"}});
    let created = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(facebook)).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let minted = s
        .call(Method::POST, "/api/v1/tokens", Some(json!({"name": "ops", "role": "tenant_viewer", "tenant": "acme"})))
        .await;
    let generated = s
        .call(Method::POST, &format!("/api/v1/tenants/acme/integration-accounts/{id}/actions/generate_token"), None)
        .await;
    assert_eq!(generated.status, 200, "{generated:?}");
    for (what, reply) in [("token creation", &minted), ("generate_token", &generated)] {
        assert_eq!(reply.headers["cache-control"], "no-store", "{what}");
    }
    let mut replies = vec![minted, generated, created];
    for path in ["/healthz", "/metrics", "/", "/api/v1/openapi.json", "/api/v1/tenants", "/no/such/route"] {
        replies.push(Reply::read(s.request(Method::GET, path, Some(&s.admin_token)).send().await.unwrap()).await);
    }
    replies.push(Reply::read(s.request(Method::GET, "/api/v1/tenants", None).send().await.unwrap()).await);
    for reply in &replies {
        assert_eq!(reply.headers["x-content-type-options"], "nosniff", "{reply:?}");
        assert_eq!(reply.headers["referrer-policy"], "no-referrer", "{reply:?}");
        assert!(reply.headers.contains_key("cache-control"), "{reply:?}");
    }
    s.stop().await;
}

backend_test! {
    #[tokio::test]
    async fn tenant_people_see_the_service_providers_actions_by_role_only(db) {
        let s = TestServer::start(&db).await;
        let admin = s.tenant_with_token("acme", "tenant_admin").await;
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        let zapier =
            |name: &str| json!({"type": "zapier", "name": name,
                                "properties": {zapier::USERNAME: "u", zapier::PASSWORD: "p"}});
        s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(zapier("by provider"))).await;
        s.call_as(&admin, Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(zapier("by tenant"))).await;

        let seen = s.call_as(&viewer, Method::GET, "/api/v1/tenants/acme/audit", None).await;
        assert_eq!(seen.status, 200, "{seen:?}");
        let actors: Vec<&str> =
            seen.body["items"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
        assert!(actors.contains(&"sp_admin"), "{actors:?}");
        assert!(actors.iter().any(|a| a.starts_with("token:tenant_admin test (")), "own tokens by name: {actors:?}");
        assert!(!seen.text.contains("bootstrap admin"), "{}", seen.text);

        let provider = s.call(Method::GET, "/api/v1/tenants/acme/audit", None).await;
        let actors: Vec<&str> =
            provider.body["items"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
        assert!(actors.iter().all(|a| a.starts_with("token:")), "the provider sees every name: {actors:?}");
        s.stop().await;
    }
}
