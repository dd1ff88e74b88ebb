//! SAML single sign-on through the server, on both backends: responses built and signed by
//! the test (`patchbay_testkit::saml`, signed by xmlsec1) posted to the Assertion Consumer
//! Service as a browser would. Sign-in of a new user (just in time, with the mapped role), a
//! known one, a disabled one, without JIT; InResponseTo bound to the browser that started
//! the sign-in; replays; unsolicited responses; the attack corpus, each refused with its
//! reason in the audit trail and no session; a tenant that requires SSO; the agent
//! desktop's one-time code.

use base64::Engine;
use patchbay_catalog::keys::{sso, sso_admin, sso_agent_desktop};
use patchbay_testkit::saml::{keys, Forger, SIGNED_USER};
use patchbay_testkit::{backend_test, TestDatabase, TestServer};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ISSUER: &str = "https://idp.corp.example/metadata";
const IDP_SSO: &str = "https://idp.corp.example/sso";
const DESKTOP: &str = "https://desktop.acme.example/signed-in";

struct Sso {
    s: TestServer,
    forger: Forger,
    admin_account: String,
    http: reqwest::Client,
}

async fn setup(db: &TestDatabase, jit: bool) -> Sso {
    let s = TestServer::start(db).await;
    let r = s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    assert_eq!(r.status, 201, "{r:?}");
    let mut properties = common_properties(jit);
    properties.insert(sso_admin::ROLE_ATTRIBUTE.into(), json!("groups"));
    properties.insert(sso_admin::ADMINISTRATOR_ROLE_VALUES.into(), json!("supervisors, leads"));
    let body = json!({"type": "sso", "provider": "admin", "name": "Corp IdP", "properties": properties});
    let r = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(body)).await;
    assert_eq!(r.status, 201, "{r:?}");
    let admin_account = r.body["id"].as_str().unwrap().to_owned();
    let root = format!("{}/sso/acme/admin", s.base);
    let forger = Forger::new(ISSUER, &format!("{root}/metadata"), &format!("{root}/acs"), chrono::Utc::now());
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Sso { s, forger, admin_account, http }
}

fn common_properties(jit: bool) -> serde_json::Map<String, Value> {
    let mut properties = serde_json::Map::new();
    properties.insert(sso::ENABLE_SINGLE_SIGN_ON.into(), json!(true));
    properties.insert(sso::IDENTITY_PROVIDER_SINGLE_SIGN_ON_URL.into(), json!(IDP_SSO));
    properties.insert(sso::IDENTITY_PROVIDER_ISSUER.into(), json!(ISSUER));
    properties.insert(sso::IDENTITY_PROVIDER_CERTIFICATE.into(), json!(keys().rsa.certificate_pem()));
    properties.insert(sso::ENABLE_JUST_IN_TIME_USER_PROVISIONING.into(), json!(jit));
    properties
}

/// A browser: the cookies it was given.
#[derive(Default)]
struct Browser {
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn take(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn has(&self, name: &str) -> bool {
        self.cookies.iter().any(|(k, _)| k == name)
    }
}

impl Sso {
    /// Starts a sign-in; returns the AuthnRequest's ID (read from the redirect, as the IdP
    /// would).
    async fn login(&self, browser: &mut Browser, provider: &str, query: &str) -> String {
        let response = self
            .http
            .get(format!("{}/sso/acme/{provider}/login{query}", self.s.base))
            .header(COOKIE, browser.header())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{:?}", response.text().await);
        browser.take(&response);
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with(IDP_SSO), "{location}");
        let url = url::Url::parse(&location).unwrap();
        let request = url.query_pairs().find(|(k, _)| k == "SAMLRequest").expect("a SAMLRequest").1.into_owned();
        let deflated = base64::engine::general_purpose::STANDARD.decode(request).unwrap();
        let xml = String::from_utf8(miniz_oxide::inflate::decompress_to_vec(&deflated).unwrap()).unwrap();
        let id = xml.split("ID=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let acs = format!("AssertionConsumerServiceURL=\"{}/sso/acme/{provider}/acs\"", self.s.base);
        assert!(xml.contains(&acs), "{xml}");
        id
    }

    async fn post(&self, browser: &mut Browser, provider: &str, saml_response: &str) -> reqwest::Response {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLResponse", saml_response)
            .append_pair("RelayState", "/#/ignored")
            .finish();
        let response = self
            .http
            .post(format!("{}/sso/acme/{provider}/acs", self.s.base))
            .header(COOKIE, browser.header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        browser.take(&response);
        response
    }

    /// The admin-screen session of this browser, when it has one.
    async fn session(&self, browser: &Browser) -> Option<Value> {
        let response =
            self.http.get(format!("{}/ui/session", self.s.base)).header(COOKIE, browser.header()).send().await;
        let response = response.unwrap();
        if response.status() == StatusCode::OK {
            Some(response.json().await.unwrap())
        } else {
            // No session (204), or one whose user can no longer sign in (401).
            let status = response.status();
            assert!(status == StatusCode::NO_CONTENT || status == StatusCode::UNAUTHORIZED, "{status}");
            None
        }
    }

    async fn set(&self, changes: Value) {
        let path = format!("/api/v1/tenants/acme/integration-accounts/{}", self.admin_account);
        let current = self.s.call(Method::GET, &path, None).await;
        let mut properties = current.body["properties"].as_object().unwrap().clone();
        properties.extend(changes.as_object().unwrap().clone());
        let r = self.s.call(Method::PUT, &path, Some(json!({"properties": properties}))).await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    /// The reason codes of the refused sign-ins in the audit trail, oldest first.
    async fn refusals(&self) -> Vec<String> {
        let r = self.s.call(Method::GET, "/api/v1/tenants/acme/audit?limit=200", None).await;
        let mut codes: Vec<String> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "sso.sign_in_refused")
            .map(|e| e["changes"]["reason"].as_str().unwrap().to_owned())
            .collect();
        codes.reverse();
        codes
    }

    async fn users(&self) -> Vec<Value> {
        let r = self.s.call(Method::GET, "/api/v1/tenants/acme/users", None).await;
        assert_eq!(r.status, 200, "{r:?}");
        r.body["items"].as_array().unwrap().clone()
    }
}

backend_test! {
    #[tokio::test]
    async fn a_first_sign_in_creates_the_user_just_in_time_with_the_mapped_role_and_a_session(db) {
        let sso = setup(&db, true).await;
        let mut browser = Browser::default();
        let id = sso.login(&mut browser, "admin", "?return_to=%2F%23%2Ftenants%2Facme").await;
        assert!(browser.has("patchbay_sso"), "{}: the sign-in is bound to the browser", db.backend);
        let response = sso.post(&mut browser, "admin", &sso.forger.valid_in_response_to(&id)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}: {:?}", db.backend, response.text().await);
        assert_eq!(response.headers()[LOCATION], "/#/tenants/acme");
        let session = sso.session(&browser).await.expect("a session");
        let principal = &session["principal"];
        assert_eq!(principal["role"], "tenant_admin", "{}: groups=supervisors maps to admin: {session}", db.backend);
        assert_eq!(principal["tenant"], "acme");
        assert_eq!(principal["name"], SIGNED_USER);
        assert!(principal["token_id"].is_null() && principal["user_id"].is_string(), "{session}");

        let users = sso.users().await;
        assert_eq!(users.len(), 1, "{users:?}");
        assert_eq!(users[0]["created_by"], "jit");
        assert_eq!(users[0]["name_id"], SIGNED_USER);
        assert_eq!(users[0]["display_name"], "Jane Doe");
        assert!(users[0]["last_sign_in_at"].is_string(), "{users:?}");
        let audit = sso.s.call(Method::GET, "/api/v1/tenants/acme/audit", None).await;
        let actions: Vec<&str> = audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"user.create") && actions.contains(&"user.sign_in"), "{actions:?}");

        // What the user does is theirs in the trail, and the session signs out.
        let csrf = session["csrf_token"].as_str().unwrap();
        let response = sso.http.delete(format!("{}/ui/session", sso.s.base))
            .header(COOKIE, browser.header()).header("x-csrf-token", csrf).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        browser.take(&response);
        assert!(sso.session(&browser).await.is_none(), "{}: signed out", db.backend);
    }
}

backend_test! {
    #[tokio::test]
    async fn without_jit_an_unknown_user_is_refused_and_a_known_one_signs_in_with_their_role(db) {
        let sso = setup(&db, false).await;
        let mut browser = Browser::default();
        let id = sso.login(&mut browser, "admin", "").await;
        let response = sso.post(&mut browser, "admin", &sso.forger.valid_in_response_to(&id)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{}", db.backend);
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "the refusal page cannot be framed: {csp}");
        let page = response.text().await.unwrap();
        assert!(page.contains("just-in-time provisioning is off"), "{page}");
        assert!(sso.session(&browser).await.is_none());
        assert!(sso.users().await.is_empty(), "{}: nobody was created", db.backend);
        assert_eq!(sso.refusals().await, ["unknown_user"]);

        let r = sso.s.call(Method::POST, "/api/v1/tenants/acme/users",
            Some(json!({"name_id": SIGNED_USER, "role": "tenant_viewer"}))).await;
        assert_eq!(r.status, 201, "{r:?}");
        let id = sso.login(&mut browser, "admin", "").await;
        let response = sso.post(&mut browser, "admin", &sso.forger.valid_in_response_to(&id)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", db.backend);
        assert_eq!(response.headers()[LOCATION], "/");
        let session = sso.session(&browser).await.expect("a session");
        assert_eq!(session["principal"]["role"], "tenant_viewer", "{}: the stored role, not the attribute", db.backend);
    }
}

backend_test! {
    #[tokio::test]
    async fn a_disabled_user_cannot_sign_in_and_disabling_ends_their_session(db) {
        let sso = setup(&db, true).await;
        let mut browser = Browser::default();
        let id = sso.login(&mut browser, "admin", "").await;
        sso.post(&mut browser, "admin", &sso.forger.valid_in_response_to(&id)).await;
        assert!(sso.session(&browser).await.is_some());
        let user = &sso.users().await[0];
        let path = format!("/api/v1/tenants/acme/users/{}", user["id"].as_str().unwrap());
        let r = sso.s.call(Method::PUT, &path, Some(json!({"role": "tenant_admin", "enabled": false}))).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert!(sso.session(&browser).await.is_none(), "{}: the session ended with the user", db.backend);

        let mut again = Browser::default();
        let id = sso.login(&mut again, "admin", "").await;
        let response = sso.post(&mut again, "admin", &sso.forger.valid_in_response_to(&id)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{}", db.backend);
        assert!(sso.session(&again).await.is_none());
        assert_eq!(sso.refusals().await, ["user_disabled"]);
    }
}

backend_test! {
    #[tokio::test]
    async fn a_response_is_taken_only_in_the_browser_that_started_the_sign_in_and_only_once(db) {
        let sso = setup(&db, true).await;
        let (mut alice, mut mallory) = (Browser::default(), Browser::default());
        let id = sso.login(&mut alice, "admin", "").await;
        sso.login(&mut mallory, "admin", "").await;
        let response = sso.forger.valid_in_response_to(&id);
        let stolen = sso.post(&mut mallory, "admin", &response).await;
        assert_eq!(stolen.status(), StatusCode::FORBIDDEN, "{}: InResponseTo of another browser", db.backend);
        assert!(sso.session(&mallory).await.is_none());
        let mut cookieless = Browser::default();
        assert_eq!(sso.post(&mut cookieless, "admin", &response).await.status(), StatusCode::FORBIDDEN);
        // The rightful browser still signs in with it: another's attempt did not use it up.
        assert_eq!(sso.post(&mut alice, "admin", &response).await.status(), StatusCode::SEE_OTHER, "{}", db.backend);
        assert!(sso.session(&alice).await.is_some());
        // Once.
        let mut replay = Browser::default();
        sso.login(&mut replay, "admin", "").await;
        assert_eq!(sso.post(&mut alice, "admin", &response).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(sso.refusals().await, ["in_response_to", "in_response_to", "in_response_to"]);
    }
}

backend_test! {
    #[tokio::test]
    async fn unsolicited_responses_are_refused_unless_allowed_and_then_never_twice(db) {
        let sso = setup(&db, true).await;
        let mut browser = Browser::default();
        let unsolicited = sso.forger.valid();
        assert_eq!(sso.post(&mut browser, "admin", &unsolicited).await.status(), StatusCode::FORBIDDEN);
        assert!(sso.session(&browser).await.is_none());
        sso.set(json!({sso::ALLOW_IDP_INITIATED_SIGN_IN: true})).await;
        let response = sso.post(&mut browser, "admin", &unsolicited).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", db.backend);
        assert_eq!(response.headers()[LOCATION], "/#/ignored", "{}: a local RelayState is followed", db.backend);
        let mut other = Browser::default();
        assert_eq!(sso.post(&mut other, "admin", &unsolicited).await.status(), StatusCode::FORBIDDEN);
        assert!(sso.session(&other).await.is_none(), "{}: a replay opens no session", db.backend);
        assert_eq!(sso.refusals().await, ["unsolicited", "replayed"]);
    }
}

backend_test! {
    #[tokio::test]
    async fn every_attack_of_the_corpus_is_refused_with_its_reason_and_no_session(db) {
        let sso = setup(&db, true).await;
        // Unsolicited responses allowed, so each refusal below is the verifier's own.
        sso.set(json!({sso::ALLOW_IDP_INITIATED_SIGN_IN: true})).await;
        let f = &sso.forger;
        let corpus: Vec<(&str, String, Option<&str>)> = vec![
            ("xsw1", f.xsw1(), None),
            ("xsw2", f.xsw2(), None),
            ("xsw3", f.xsw3(), None),
            ("xsw4", f.xsw4(), None),
            ("xsw5", f.xsw5(), None),
            ("xsw6", f.xsw6(), None),
            ("xsw7", f.xsw7(), None),
            ("xsw8", f.xsw8(), None),
            ("signature stripped", f.signature_stripped(), Some("unsigned")),
            ("signed by another key", f.signed_by_stranger(), Some("signature")),
            ("SHA-1", f.sha1(), Some("sha1")),
            ("wrong audience", f.wrong_audience(), Some("audience")),
            ("wrong destination", f.wrong_destination(), Some("destination")),
            ("wrong recipient", f.wrong_recipient(), Some("recipient")),
            ("expired", f.expired(), Some("expired")),
            ("not yet valid", f.not_yet_valid(), Some("not_yet_valid")),
            ("billion laughs", f.billion_laughs(), Some("dtd")),
            ("external entity", f.external_entity(), Some("dtd")),
            ("two assertions", f.two_assertions(), Some("assertions")),
            ("encrypted assertion", f.encrypted_assertion(), Some("encrypted")),
        ];
        for (name, response, _) in &corpus {
            let mut browser = Browser::default();
            let answer = sso.post(&mut browser, "admin", response).await;
            assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{}: {name} must be refused", db.backend);
            assert!(!browser.has("patchbay_session"), "{}: {name} opened a session", db.backend);
        }
        let refusals = sso.refusals().await;
        assert_eq!(refusals.len(), corpus.len(), "{}: each refusal is audited: {refusals:?}", db.backend);
        for ((name, _, expected), code) in corpus.iter().zip(&refusals) {
            assert!(!code.is_empty(), "{name}");
            if let Some(expected) = expected {
                assert_eq!(code, expected, "{}: {name}", db.backend);
            }
        }
        assert!(sso.users().await.is_empty(), "{}: no attack created a user", db.backend);
        let metrics = sso.s.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"patchbay_sso_sign_ins_total{provider="admin",outcome="sha1"} 1"#), "{metrics}");

        // A comment inside the NameID does not truncate it: the whole signed value is the user.
        let mut browser = Browser::default();
        let answer = sso.post(&mut browser, "admin", &f.comment_in_name_id()).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", db.backend);
        let users = sso.users().await;
        assert_eq!(users.len(), 1);
        assert_ne!(users[0]["name_id"], patchbay_testkit::saml::VICTIM, "{}: truncated at the comment", db.backend);
    }
}

backend_test! {
    #[tokio::test]
    async fn a_tenant_that_requires_sso_refuses_token_sign_in_to_the_screen_but_not_the_api(db) {
        let sso = setup(&db, true).await;
        let token = sso.s.token("tenant_admin", Some("acme")).await;
        let sign_in = |token: String| {
            sso.http.post(format!("{}/ui/session", sso.s.base)).json(&json!({"token": token})).send()
        };
        assert_eq!(sign_in(token.clone()).await.unwrap().status(), StatusCode::CREATED);
        let offer = sso.http.get(format!("{}/ui/sso/acme", sso.s.base)).send().await.unwrap();
        let offer: Value = offer.json().await.unwrap();
        assert_eq!(offer, json!({"name": "Corp IdP", "login_path": "/sso/acme/admin/login", "required": false}));

        sso.set(json!({sso_admin::REQUIRE_SINGLE_SIGN_ON: true})).await;
        let refused = sign_in(token.clone()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{}", db.backend);
        let r = sso.s.call_as(&token, Method::GET, "/api/v1/tenants/acme/integration-accounts", None).await;
        assert_eq!(r.status, 200, "{}: API calls with the token keep working", db.backend);
        assert_eq!(sign_in(sso.s.admin_token.clone()).await.unwrap().status(), StatusCode::CREATED, "the provider's token");
        let none = sso.http.get(format!("{}/ui/sso/globex", sso.s.base)).send().await.unwrap();
        assert_eq!(none.status(), StatusCode::NOT_FOUND);
    }
}

backend_test! {
    #[tokio::test]
    async fn the_agent_desktop_gets_a_one_time_code_for_the_verified_identity(db) {
        let sso = setup(&db, false).await;
        let mut properties = common_properties(false);
        properties.insert(sso_agent_desktop::ALLOWED_RETURN_URLS.into(), json!(format!("{DESKTOP} https://other.example/cb")));
        let body = json!({"type": "sso", "provider": "agent_desktop", "name": "Desktop IdP", "properties": properties});
        let r = sso.s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(body)).await;
        assert_eq!(r.status, 201, "{r:?}");
        let root = format!("{}/sso/acme/agent_desktop", sso.s.base);
        let forger = Forger::new(ISSUER, &format!("{root}/metadata"), &format!("{root}/acs"), chrono::Utc::now());

        let refused = sso.http.get(format!("{root}/login?return_to=https%3A%2F%2Fevil.example%2F")).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{}: only allowed return URLs", db.backend);
        let sign_in = || async {
            let mut browser = Browser::default();
            let desktop = url::form_urlencoded::byte_serialize(DESKTOP.as_bytes()).collect::<String>();
            let id = sso.login(&mut browser, "agent_desktop", &format!("?return_to={desktop}&state=xyz-42")).await;
            let response = sso.post(&mut browser, "agent_desktop", &forger.valid_in_response_to(&id)).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}: {:?}", db.backend, response.text().await);
            assert!(!browser.has("patchbay_session"), "{}: the desktop sign-in opens no admin session", db.backend);
            let redirect = url::Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap();
            assert!(redirect.as_str().starts_with(DESKTOP), "{redirect}");
            let pairs: std::collections::HashMap<_, _> = redirect.query_pairs().into_owned().collect();
            assert_eq!(pairs["state"], "xyz-42");
            pairs["code"].clone()
        };
        let exchange = |token: Option<String>, code: String, return_to: &str| {
            let mut request = sso.http.post(format!("{root}/token")).json(&json!({"code": code, "return_to": return_to}));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        let code = sign_in().await;
        assert_eq!(exchange(None, code.clone(), DESKTOP).await.unwrap().status(), StatusCode::UNAUTHORIZED);
        let viewer = sso.s.token("tenant_viewer", Some("acme")).await;
        assert_eq!(exchange(Some(viewer), code.clone(), DESKTOP).await.unwrap().status(), StatusCode::FORBIDDEN);
        let gateway = sso.s.token("gateway_client", Some("acme")).await;
        let wrong = exchange(Some(gateway.clone()), code.clone(), "https://other.example/cb").await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}: another return URL", db.backend);
        let burnt = exchange(Some(gateway.clone()), code, DESKTOP).await.unwrap();
        assert_eq!(burnt.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}: a code tried wrongly is gone", db.backend);

        let code = sign_in().await;
        let identity = exchange(Some(gateway.clone()), code.clone(), DESKTOP).await.unwrap();
        assert_eq!(identity.status(), StatusCode::OK, "{}", db.backend);
        let identity: Value = identity.json().await.unwrap();
        assert_eq!(identity["subject"], SIGNED_USER);
        assert_eq!(identity["issuer"], ISSUER);
        assert_eq!(identity["attributes"]["groups"], json!(["agents", "supervisors"]), "{identity}");
        let again = exchange(Some(gateway), code, DESKTOP).await.unwrap();
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}: a code is used once", db.backend);
    }
}

backend_test! {
    #[tokio::test]
    async fn the_sp_metadata_names_the_entity_id_and_the_acs_url(db) {
        let sso = setup(&db, true).await;
        let response = sso.http.get(&sso.forger.sp_entity_id).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{}", db.backend);
        assert_eq!(response.headers()["content-type"], "application/samlmetadata+xml");
        let xml = response.text().await.unwrap();
        assert!(xml.contains(&format!("entityID=\"{}\"", sso.forger.sp_entity_id)), "{xml}");
        assert!(xml.contains(&format!("Location=\"{}\"", sso.forger.acs_url)), "{xml}");
        let missing = sso.http.get(format!("{}/sso/acme/agent_desktop/metadata", sso.s.base)).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{}: no Agent Desktop SSO account", db.backend);
        let body = missing.text().await.unwrap();
        assert!(body.contains("single sign-on"), "{body}");
    }
}
