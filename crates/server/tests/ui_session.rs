//! The admin screen's sessions, on every backend under test: signing in with a token sets
//! a strict cookie, writes through the cookie need the session's CSRF token, bearer tokens
//! work as before, signing out and revoking the token end the session, a viewer session
//! cannot write. And the screen itself is served with a strict Content Security Policy.

use patchbay_testkit::{backend_test, Reply, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

/// A signed-in browser: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    reply: Reply,
}

async fn sign_in_with(s: &TestServer, token: &str, https: bool) -> Session {
    let mut req = s.request(Method::POST, "/ui/session", None).json(&json!({"token": token}));
    if https {
        req = req.header("x-forwarded-proto", "https");
    }
    let reply = Reply::read(req.send().await.unwrap()).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let set_cookie = reply.headers["set-cookie"].to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = reply.body["csrf_token"].as_str().expect("a CSRF token").to_owned();
    Session { cookie, csrf, reply }
}

async fn sign_in(s: &TestServer, token: &str) -> Session {
    sign_in_with(s, token, false).await
}

/// A request carrying the session cookie, and the CSRF token when `csrf` is given.
async fn with_cookie(
    s: &TestServer,
    session: &Session,
    method: Method,
    path: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = s.request(method, path, None).header("cookie", &session.cookie);
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    Reply::read(req.send().await.unwrap()).await
}

fn problem_type(reply: &Reply) -> (&str, &str) {
    (
        reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(""),
        reply.body["type"].as_str().unwrap_or(""),
    )
}

backend_test! {
    #[tokio::test]
    async fn sign_in_sets_a_strict_cookie_and_returns_a_csrf_token(db) {
        let s = TestServer::start(&db).await;
        let session = sign_in(&s, &s.admin_token).await;
        let set_cookie = session.reply.headers["set-cookie"].to_str().unwrap();
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
            assert!(set_cookie.contains(flag), "{flag} missing in {set_cookie}");
        }
        assert!(!set_cookie.contains("Secure"), "plain http on loopback must still work: {set_cookie}");
        assert!(session.cookie.starts_with("patchbay_session=") && session.cookie.len() > 40, "{}", session.cookie);
        assert_eq!(session.reply.headers["cache-control"], "no-store");
        assert_eq!(session.reply.body["principal"]["role"], "sp_admin");
        assert!(session.csrf.len() >= 32);
        assert!(!session.reply.text.contains(&s.admin_token), "the token is not echoed");

        let behind_tls = sign_in_with(&s, &s.admin_token, true).await;
        assert!(behind_tls.reply.headers["set-cookie"].to_str().unwrap().contains("; Secure"));
        assert_ne!(behind_tls.csrf, session.csrf, "each session has its own CSRF token");

        let current = with_cookie(&s, &session, Method::GET, "/ui/session", None, None).await;
        assert_eq!((current.status, current.body["csrf_token"].as_str()), (200, Some(session.csrf.as_str())));

        let wrong =
            s.request(Method::POST, "/ui/session", None).json(&json!({"token": "pb_wrong"})).send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        assert!(wrong.headers().get("set-cookie").is_none());
        let form = s
            .request(Method::POST, "/ui/session", None)
            .header("content-type", "text/plain")
            .body(json!({"token": s.admin_token}).to_string())
            .send()
            .await
            .unwrap();
        let form = Reply::read(form).await;
        assert_eq!(form.status, 415, "a cross-site form cannot sign the browser in: {form:?}");
        assert!(form.headers.get("set-cookie").is_none());
        let empty = s.request(Method::POST, "/ui/session", None).json(&json!({"token": " "})).send().await.unwrap();
        let empty = Reply::read(empty).await;
        assert_eq!((empty.status, empty.field_errors()), (422, vec![("token".to_owned(), "required".to_owned())]));
        // An application's token calls the API; it does not open the admin screen.
        s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "apps"}))).await;
        for role in ["event_producer", "gateway_client"] {
            let app = s.token(role, Some("apps")).await;
            let refused =
                s.request(Method::POST, "/ui/session", None).json(&json!({"token": app})).send().await.unwrap();
            assert!(refused.headers().get("set-cookie").is_none(), "no session for a {role} token");
            let refused = Reply::read(refused).await;
            assert_eq!(refused.status, 403, "a {role} token cannot sign in: {}", refused.text);
            assert!(refused.text.contains("application's token"), "{}", refused.text);
        }
        let nobody = Reply::read(s.request(Method::GET, "/ui/session", None).send().await.unwrap()).await;
        assert_eq!(nobody.status, 204, "no session is no error");
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn cookie_writes_need_the_sessions_csrf_token(db) {
        let s = TestServer::start(&db).await;
        let session = sign_in(&s, &s.admin_token).await;
        let read = with_cookie(&s, &session, Method::GET, "/api/v1/tenants", None, None).await;
        assert_eq!(read.status, 200, "reads need no CSRF token: {read:?}");

        let tenant = json!({"id": "acme", "name": "Acme"});
        let missing = with_cookie(&s, &session, Method::POST, "/api/v1/tenants", None, Some(tenant.clone())).await;
        assert_eq!(missing.status, 403, "{missing:?}");
        assert_eq!(problem_type(&missing), ("application/problem+json", "urn:patchbay:problem:forbidden"));
        assert!(missing.body["detail"].as_str().unwrap().contains("X-CSRF-Token"));
        let other = sign_in(&s, &s.admin_token).await;
        let wrong =
            with_cookie(&s, &session, Method::POST, "/api/v1/tenants", Some(&other.csrf), Some(tenant.clone())).await;
        assert_eq!(wrong.status, 403, "another session's CSRF token does not fit: {wrong:?}");
        assert_eq!(s.call(Method::GET, "/api/v1/tenants/acme", None).await.status, 404, "nothing was created");

        let ok = with_cookie(&s, &session, Method::POST, "/api/v1/tenants", Some(&session.csrf), Some(tenant)).await;
        assert_eq!(ok.status, 201, "{ok:?}");
        let account = json!({"type": "messenger", "provider": "line", "name": "LINE", "properties": {"token": "t"}});
        let path = "/api/v1/tenants/acme/integration-accounts";
        let created = with_cookie(&s, &session, Method::POST, path, Some(&session.csrf), Some(account)).await;
        assert_eq!(created.status, 201, "{created:?}");
        assert!(created.body["created_by"].as_str().unwrap().contains("bootstrap admin"), "audited as the token");
        let id = created.body["id"].as_str().unwrap();
        let delete = with_cookie(&s, &session, Method::DELETE, &format!("{path}/{id}"), None, None).await;
        assert_eq!(delete.status, 403);
        let delete =
            with_cookie(&s, &session, Method::DELETE, &format!("{path}/{id}"), Some(&session.csrf), None).await;
        assert_eq!(delete.status, 204);
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn bearer_requests_are_unaffected(db) {
        let s = TestServer::start(&db).await;
        let created = s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
        assert_eq!(created.status, 201, "bearer writes need no CSRF token: {created:?}");
        // A bearer header decides, whatever cookie comes along.
        let session = sign_in(&s, &s.admin_token).await;
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        let as_viewer = s
            .request(Method::POST, "/api/v1/tenants", Some(&viewer))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .json(&json!({"id": "globex"}))
            .send()
            .await
            .unwrap();
        assert_eq!(as_viewer.status(), 403);
        let bad_bearer =
            s.request(Method::GET, "/api/v1/tenants", Some("pb_wrong")).header("cookie", &session.cookie).send().await;
        assert_eq!(bad_bearer.unwrap().status(), 401, "a wrong bearer token does not fall back to the cookie");
        let forged = s
            .request(Method::GET, "/api/v1/tenants", None)
            .header("cookie", "patchbay_session=made-up")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn signing_out_or_revoking_the_token_ends_the_session(db) {
        let s = TestServer::start(&db).await;
        let session = sign_in(&s, &s.admin_token).await;
        let refused = with_cookie(&s, &session, Method::DELETE, "/ui/session", None, None).await;
        assert_eq!(refused.status, 403, "signing out needs the CSRF token too");
        assert_eq!(with_cookie(&s, &session, Method::GET, "/api/v1/tenants", None, None).await.status, 200);
        let out = with_cookie(&s, &session, Method::DELETE, "/ui/session", Some(&session.csrf), None).await;
        assert_eq!(out.status, 204);
        assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "the cookie is cleared");
        assert_eq!(with_cookie(&s, &session, Method::GET, "/api/v1/tenants", None, None).await.status, 401);
        assert_eq!(with_cookie(&s, &session, Method::GET, "/ui/session", None, None).await.status, 204);

        s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
        let reply = s
            .call(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "acme admin", "role": "tenant_admin", "tenant": "acme"})),
            )
            .await;
        let admin = sign_in(&s, reply.body["token"].as_str().unwrap()).await;
        assert_eq!(admin.reply.body["principal"]["tenant"], "acme");
        assert_eq!(with_cookie(&s, &admin, Method::GET, "/api/v1/tenants/acme", None, None).await.status, 200);
        let revoked =
            s.call(Method::DELETE, &format!("/api/v1/tokens/{}", reply.body["id"].as_str().unwrap()), None).await;
        assert_eq!(revoked.status, 204);
        assert_eq!(with_cookie(&s, &admin, Method::GET, "/api/v1/tenants/acme", None, None).await.status, 401);
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn a_viewer_session_reads_but_cannot_write(db) {
        let s = TestServer::start(&db).await;
        let viewer = s.tenant_with_token("acme", "tenant_viewer").await;
        let session = sign_in(&s, &viewer).await;
        assert_eq!(session.reply.body["principal"]["role"], "tenant_viewer");
        let path = "/api/v1/tenants/acme/integration-accounts";
        assert_eq!(with_cookie(&s, &session, Method::GET, path, None, None).await.status, 200);
        let account = json!({"type": "messenger", "provider": "line", "name": "LINE", "properties": {"token": "t"}});
        let write = with_cookie(&s, &session, Method::POST, path, Some(&session.csrf), Some(account)).await;
        assert_eq!(write.status, 403, "{write:?}");
        assert_eq!(s.call(Method::GET, path, None).await.body["items"], json!([]));
        let other = with_cookie(&s, &session, Method::GET, "/api/v1/tenants/globex", None, None).await;
        assert_eq!(other.status, 404, "tenant isolation holds for sessions");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_screen_is_served_from_the_binary_with_a_strict_policy() {
    let db = patchbay_testkit::TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    let index = Reply::read(s.request(Method::GET, "/", None).send().await.unwrap()).await;
    assert_eq!(index.status, 200);
    assert_eq!(index.headers["content-type"], "text/html; charset=utf-8");
    let csp = index.headers["content-security-policy"].to_str().unwrap();
    // `media-src 'self'`: the recordings' player streams from the playback API of this origin.
    for rule in
        ["default-src 'self'", "script-src 'self'", "style-src 'self'", "media-src 'self'", "frame-ancestors 'none'"]
    {
        assert!(csp.contains(rule), "{rule} missing in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(index.headers["x-content-type-options"], "nosniff");
    assert!(index.text.contains("<script type=\"module\" src=\"/ui/assets/app.js\"></script>"));
    let etag = index.etag();
    let again = s.request(Method::GET, "/", None).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304, "a browser revalidates cheaply");

    for (file, kind) in [
        ("app.js", "text/javascript"),
        ("form.js", "text/javascript"),
        ("app.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let asset =
            Reply::read(s.request(Method::GET, &format!("/ui/assets/{file}"), None).send().await.unwrap()).await;
        assert_eq!(asset.status, 200, "{file}");
        assert!(asset.headers["content-type"].to_str().unwrap().starts_with(kind), "{file}: {:?}", asset.headers);
        assert_eq!(asset.headers["cache-control"], "no-cache");
        assert!(!asset.etag().is_empty());
        let text = asset.text.replace("http://www.w3.org/2000/svg", "");
        assert!(!text.contains("http://") && !text.contains("https://"), "{file} loads nothing from elsewhere");
    }
    let missing = Reply::read(s.request(Method::GET, "/ui/assets/nope.js", None).send().await.unwrap()).await;
    assert_eq!((missing.status, problem_type(&missing).0), (404, "application/problem+json"));

    let anonymous = s.request(Method::GET, "/ui/contact-fields", None).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let session = sign_in(&s, &s.admin_token).await;
    let fields = with_cookie(&s, &session, Method::GET, "/ui/contact-fields", None, None).await;
    assert_eq!(fields.status, 200);
    let choices: Vec<&str> = fields.body["categories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["choices"].as_array().unwrap())
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert!(choices.contains(&"phones_by_type.mobile") && choices.contains(&"emails_by_order.2"), "{choices:?}");
    for choice in &choices {
        assert!(patchbay_catalog::contact_fields::check(choice).is_ok(), "{choice} is accepted by the catalog");
    }
    s.stop().await;
}
