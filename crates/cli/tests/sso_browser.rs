//! Single sign-on to the admin screen end to end: the real `patchbay serve` binary, a real
//! SAML identity provider (SimpleSAMLphp, see `patchbay_testkit::idp`) and a real headless
//! Chromium. The browser starts at patchbay's sign-in page, signs in at the identity
//! provider's own login form, is posted back to the Assertion Consumer Service by the
//! provider's page, and lands in the admin screen, or on the page that says why not.
//!
//! Cookies do not tell ports apart, so patchbay and the identity provider (both on
//! 127.0.0.1) share the browser's cookie jar: deleting the cookies on a patchbay page also
//! ends the session at the identity provider, which lets the next person sign in there.
//!
//! Like the other browser tests, the server keeps its data in SQLite in its data dir; the
//! server's own SSO tests (`crates/server/tests/sso.rs`) run the sign-in on both backends.

mod browser;
mod vendor;

use browser::{enum_title, Browser, Harness};
use patchbay_catalog::keys::{sso, sso_admin};
use patchbay_testkit::idp::{IdpOptions, IdpUser, SimpleSamlPhp};
use reqwest::Method;
use serde_json::json;

const TENANT: &str = "acme";
const IDP_NAME: &str = "Acme Identity";
const PASSWORD: &str = "correct horse battery staple";

/// `patchbay serve` takes the identity provider's http:// SSO URL on loopback.
const SERVE: &[&str] = &["--sso-allow-http-loopback"];

/// A person at the identity provider: their login, and the email (the NameID), display name
/// and `role` attribute it sends.
struct Person {
    login: &'static str,
    email: &'static str,
    name: &'static str,
    role: &'static str,
}

const ADA: Person = Person { login: "ada", email: "ada@acme.example", name: "Ada Lovelace", role: "admin" };
const BOB: Person = Person { login: "bob", email: "bob@acme.example", name: "Bob Hope", role: "agent" };
const CAROL: Person = Person { login: "carol", email: "carol@acme.example", name: "Carol Shaw", role: "admin" };

/// Creates the tenant and starts the identity provider, which knows patchbay's Admin SSO of
/// the tenant as its service provider (the URLs patchbay derives from the loopback address
/// the browser uses) and `people`.
async fn tenant_and_idp(h: &Harness, people: &[&Person]) -> SimpleSamlPhp {
    let created = h.api(Method::POST, "/api/v1/tenants", Some(json!({"id": TENANT, "name": "Acme Support"}))).await;
    assert_eq!(created.0, 201, "{created:?}");
    let root = format!("{}/sso/{TENANT}/admin", h.base);
    let users = people
        .iter()
        .map(|p| IdpUser {
            username: p.login.to_owned(),
            password: PASSWORD.to_owned(),
            attributes: vec![
                ("email".to_owned(), vec![p.email.to_owned()]),
                ("displayName".to_owned(), vec![p.name.to_owned()]),
                ("role".to_owned(), vec![p.role.to_owned()]),
            ],
        })
        .collect();
    let options = IdpOptions { sp_entity_id: format!("{root}/metadata"), acs_url: format!("{root}/acs"), users };
    tokio::task::spawn_blocking(move || SimpleSamlPhp::start(options)).await.expect("the identity provider starts")
}

/// The tenant's Admin SSO account: single sign-on on, the identity provider's URL, issuer and
/// certificate, the `role` attribute with `admin` for administrators. Returns its path.
async fn admin_sso(h: &Harness, idp: &SimpleSamlPhp, jit: bool) -> String {
    let properties = json!({
        sso::ENABLE_SINGLE_SIGN_ON: true,
        sso::IDENTITY_PROVIDER_SINGLE_SIGN_ON_URL: idp.sso_url,
        sso::IDENTITY_PROVIDER_ISSUER: idp.issuer,
        sso::IDENTITY_PROVIDER_CERTIFICATE: idp.certificate_pem,
        sso::ENABLE_JUST_IN_TIME_USER_PROVISIONING: jit,
        sso_admin::ROLE_ATTRIBUTE: "role",
        sso_admin::ADMINISTRATOR_ROLE_VALUES: "admin",
    });
    let body = json!({"type": "sso", "provider": "admin", "name": IDP_NAME, "properties": properties});
    let r = h.api(Method::POST, &format!("/api/v1/tenants/{TENANT}/integration-accounts"), Some(body)).await;
    assert_eq!(r.0, 201, "{r:?}");
    format!("/api/v1/tenants/{TENANT}/integration-accounts/{}", r.1["id"].as_str().unwrap())
}

/// From the sign-in page: Sign in with the identity provider, and its login form as `person`.
async fn sign_in_at_the_idp(b: &Browser, idp: &SimpleSamlPhp, person: &Person) {
    let button = b.wait_text(".sso-button", &format!("Sign in with {IDP_NAME}")).await;
    assert_eq!(button, format!("Sign in with {IDP_NAME}"));
    b.click(".sso-button").await;
    let login = b.wait_url("/module.php/core/loginuserpass.php").await;
    assert!(login.starts_with(&idp.base_url), "the identity provider's own login form: {login}");
    b.fill("#username", person.login).await;
    b.fill("#password", PASSWORD).await;
    b.click("#submit_button").await;
}

/// The signed-in admin screen shows `person` as signed in through single sign-on.
async fn assert_signed_in_as(h: &Harness, b: &Browser, person: &Person, role: &str) {
    b.wait_text(".who-name", person.email).await;
    assert_eq!(b.url().await, format!("{}/#/t/{TENANT}", h.base), "back on the tenant's page");
    assert_eq!(b.text(".who-via").await, "Signed in through single sign-on");
    let doc = h.api(Method::GET, "/api/v1/openapi.json", None).await.1;
    assert_eq!(b.text(".who-role").await, enum_title(&doc, "Role", role), "{}", person.login);
}

/// Just-in-time provisioning: the contact center is found by its id, the first sign-in
/// creates the user with the role the `role` attribute gives (admin: the admin controls;
/// another value: a viewer's read-only screen), the Users page shows them as created just in
/// time, the contact center is remembered, and signing out ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sign_ins_create_users_with_the_role_of_their_attribute_and_sign_out_ends_the_session() {
    Harness::run_serving(SERVE, |h| async move {
        let idp = tenant_and_idp(&h, &[&ADA, &BOB]).await;
        admin_sso(&h, &idp, true).await;
        let doc = h.api(Method::GET, "/api/v1/openapi.json", None).await.1;
        let b = h.browser();

        // The sign-in page finds the contact center's single sign-on by its id.
        b.open("").await;
        b.fill("#sso-tenant", "globex").await;
        b.click("#sso-form button[type=submit]").await;
        b.wait_text("#sso-tenant-error", "does not sign in through an identity provider").await;
        assert_eq!(b.attr("#sso-tenant", "aria-invalid").await.as_deref(), Some("true"));
        b.fill("#sso-tenant", TENANT).await;
        b.click("#sso-form button[type=submit]").await;
        b.wait(".sso-button").await;
        let href = b.attr(".sso-button", "href").await.expect("a link");
        assert_eq!(href, format!("/sso/{TENANT}/admin/login?return_to=%2F%23%2Ft%2F{TENANT}"));
        assert!(!b.exists(".sso-required").await, "token sign-in is not refused for the tenant");
        assert_eq!(b.unlabelled_inputs().await, json!([]), "every input of the sign-in page has a <label for>");
        b.assert_accessible("sign-in with single sign-on").await;
        b.shot("sign-in-sso").await;

        // An administrator by the attribute.
        sign_in_at_the_idp(b, &idp, &ADA).await;
        assert_signed_in_as(&h, b, &ADA, "tenant_admin").await;
        b.wait(".add-account").await;
        b.click("a.nav-users").await;
        let users = h.api(Method::GET, &format!("/api/v1/tenants/{TENANT}/users"), None).await.1;
        let ada = users["items"][0].clone();
        assert_eq!(
            (&ada["name_id"], &ada["role"], &ada["created_by"]),
            (&json!(ADA.email), &json!("tenant_admin"), &json!("jit"))
        );
        let row = format!(".user-row[data-id='{}']", ada["id"].as_str().unwrap());
        assert_eq!(b.text(&format!("{row} .created-by")).await, "Just in time");
        assert_eq!(b.text(&format!("{row} .user-role")).await, enum_title(&doc, "UserRole", "tenant_admin"));
        assert_eq!(b.text(&format!("{row} .user-name")).await, ADA.name, "the display name the IdP sent");
        assert!(!b.text(&format!("{row} .col-last-sign-in")).await.contains("Never"), "the sign-in is recorded");
        assert!(b.exists(".add-user").await && b.exists(".edit-user").await, "an administrator manages users");
        assert!(b.text(".sso-notice").await.contains(IDP_NAME));
        let remembered = b.js("return localStorage.getItem('patchbay.sso-tenant')").await;
        assert_eq!(remembered, json!(TENANT), "the contact center is remembered for the next visit");
        b.assert_accessible("users of an SSO tenant").await;
        b.shot("users-sso").await;

        // Signing out ends the session: the reloaded page asks to sign in, with the button.
        b.click("button.sign-out").await;
        b.wait_text(".notice", "You have signed out.").await;
        b.reload().await;
        b.wait("#token").await;
        b.wait_text(".sso-button", IDP_NAME).await;
        let session = b
            .js_async(
                "const done = arguments[arguments.length - 1];
                 fetch('/ui/session').then(r => done(r.status), e => done(String(e)));",
            )
            .await;
        assert_eq!(session, json!(204), "no session is left");

        // A viewer by the attribute: another person at the identity provider.
        b.delete_cookies().await;
        sign_in_at_the_idp(b, &idp, &BOB).await;
        assert_signed_in_as(&h, b, &BOB, "tenant_viewer").await;
        b.wait(".account-row, .empty").await;
        assert!(!b.exists(".add-account").await, "no admin controls for a viewer");
        b.click("a.nav-users").await;
        let users = h.api(Method::GET, &format!("/api/v1/tenants/{TENANT}/users"), None).await.1;
        let bob = users["items"].as_array().unwrap().iter().find(|u| u["name_id"] == BOB.email).expect("bob").clone();
        assert_eq!((&bob["role"], &bob["created_by"]), (&json!("tenant_viewer"), &json!("jit")));
        let row = format!(".user-row[data-id='{}']", bob["id"].as_str().unwrap());
        assert_eq!(b.text(&format!("{row} .created-by")).await, "Just in time");
        assert_eq!(b.text(&format!("{row} .user-role")).await, enum_title(&doc, "UserRole", "tenant_viewer"));
        assert_eq!(b.count(".user-row").await, 2);
        assert!(!b.exists(".add-user").await && !b.exists(".edit-user").await, "a viewer reads the users only");
    })
    .await;
}

/// Without just-in-time provisioning an unknown person is refused, and so is a disabled
/// user, each on a page that says why, with no session; a known user signs in with their
/// stored role. A contact center that requires single sign-on says so on the sign-in page,
/// and refuses its tokens there with the server's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_jit_unknown_and_disabled_users_are_refused_and_a_tenant_requiring_sso_refuses_its_tokens() {
    Harness::run_serving(SERVE, |h| async move {
        let idp = tenant_and_idp(&h, &[&ADA, &BOB, &CAROL]).await;
        let account = admin_sso(&h, &idp, false).await;
        let users = format!("/api/v1/tenants/{TENANT}/users");
        // Ada is known as a viewer (the stored role wins over the attribute); Bob is disabled.
        let r = h.api(Method::POST, &users, Some(json!({"name_id": ADA.email, "role": "tenant_viewer"}))).await;
        assert_eq!(r.0, 201, "{r:?}");
        let r = h.api(Method::POST, &users, Some(json!({"name_id": BOB.email, "role": "tenant_admin"}))).await;
        assert_eq!(r.0, 201, "{r:?}");
        let bob = format!("{users}/{}", r.1["id"].as_str().unwrap());
        let r = h.api(Method::PUT, &bob, Some(json!({"role": "tenant_admin", "enabled": false}))).await;
        assert_eq!(r.0, 200, "{r:?}");
        let b = h.browser();

        // Carol is not a user, and nobody creates her.
        b.open(&format!("#/signin?tenant={TENANT}")).await;
        sign_in_at_the_idp(b, &idp, &CAROL).await;
        b.wait_text("h1", "Sign-in refused").await;
        let page = b.text("main").await;
        assert!(page.contains(&format!("{} is not a user of this contact center", CAROL.email)), "{page}");
        assert!(page.contains("just-in-time provisioning is off") && page.contains("ask an administrator"), "{page}");
        b.assert_accessible("single sign-on refusal").await;
        b.shot("sso-refused").await;
        b.click("main a[href='/']").await;
        b.wait("#token").await;
        let listed = h.api(Method::GET, &users, None).await.1;
        assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");

        // Bob is disabled.
        b.delete_cookies().await;
        sign_in_at_the_idp(b, &idp, &BOB).await;
        b.wait_text("h1", "Sign-in refused").await;
        assert!(b.text("main").await.contains("your user is disabled"));
        b.open("").await;
        b.wait("#token").await;

        // Ada signs in with her stored role.
        b.delete_cookies().await;
        sign_in_at_the_idp(b, &idp, &ADA).await;
        assert_signed_in_as(&h, b, &ADA, "tenant_viewer").await;
        b.click("button.sign-out").await;
        b.wait("#token").await;

        // The contact center now requires single sign-on.
        let current = h.api(Method::GET, &account, None).await.1;
        let mut properties = current["properties"].as_object().unwrap().clone();
        properties.insert(sso_admin::REQUIRE_SINGLE_SIGN_ON.into(), json!(true));
        let r = h.api(Method::PUT, &account, Some(json!({"properties": properties}))).await;
        assert_eq!(r.0, 200, "{r:?}");
        let token = h.token("acme admin", "tenant_admin", TENANT).await;
        b.reload().await;
        b.wait_text(".sso-required", "signs in through its identity provider").await;
        b.fill("#token", &token).await;
        b.click("#signin-form button[type=submit]").await;
        b.wait_text("#token-error", "signs in to the admin screen through its identity provider").await;
        assert!(!b.exists(".who-name").await, "not signed in");
        b.assert_accessible("sign-in of a tenant requiring single sign-on").await;
        b.shot("sign-in-sso-required").await;
        // The service provider's own token still signs in.
        b.fill("#token", &h.admin_token).await;
        b.click("#signin-form button[type=submit]").await;
        b.wait(&format!("a.tenant-link[data-tenant='{TENANT}']")).await;
    })
    .await;
}
