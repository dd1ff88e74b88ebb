//! SP-initiated sign-in against a real identity provider: SimpleSAMLphp (see
//! `patchbay_testkit::idp`) takes the AuthnRequest `authn_request_url` builds, shows its login
//! form, and answers with the auto-POST form whose signed `SAMLResponse` `verify_response`
//! must accept. The test plays the browser: it follows redirects and carries cookies by hand,
//! and reads the form instead of posting it to the ACS URL, where nothing listens.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::Utc;
use patchbay_saml::{
    authn_request_url, new_request_id, verify_response, Checks, IdentityProvider, Refusal, ServiceProvider,
};
use patchbay_testkit::idp::{IdpOptions, IdpUser, SimpleSamlPhp, NAME_ID_FORMAT};
use reqwest::blocking::{Client, Response};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};

const SP_ENTITY_ID: &str = "https://patchbay.example/saml/metadata";
/// Loopback, with nothing listening: the form that would go there is read instead.
const ACS_URL: &str = "http://127.0.0.1:9/saml/acs";
const PASSWORD: &str = "it's a \\ \"pass:word\"";
const RELAY_STATE: &str = "/ui/";

fn start_idp() -> (SimpleSamlPhp, ServiceProvider) {
    let attribute = |name: &str, value: &str| (name.to_owned(), vec![value.to_owned()]);
    let idp = SimpleSamlPhp::start(IdpOptions {
        sp_entity_id: SP_ENTITY_ID.to_owned(),
        acs_url: ACS_URL.to_owned(),
        users: vec![IdpUser {
            username: "ada".to_owned(),
            password: PASSWORD.to_owned(),
            attributes: vec![
                attribute("uid", "ada"),
                attribute("email", "ada@example.org"),
                attribute("displayName", "Ada Lovelace"),
                attribute("role", "admin"),
            ],
        }],
    });
    (idp, ServiceProvider { entity_id: SP_ENTITY_ID.to_owned(), acs_url: ACS_URL.to_owned() })
}

/// What a browser does here: no redirect followed and no cookie kept unless by hand.
struct Browser {
    client: Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client");
        Browser { client, cookies: BTreeMap::new() }
    }

    /// GETs `url`, following up to 10 redirects; the final URL and its page (200).
    fn open(&mut self, url: &str) -> (Url, String) {
        let mut url = Url::parse(url).expect("a URL");
        for _ in 0..10 {
            let answer = self.client.get(url.clone()).header(COOKIE, self.cookie_header()).send().expect("GET");
            self.keep_cookies(&answer);
            if !answer.status().is_redirection() {
                assert_eq!(answer.status(), StatusCode::OK, "GET {url}");
                return (url, answer.text().expect("a page"));
            }
            let location = answer.headers().get(LOCATION).expect("a redirect's Location").to_str().expect("ASCII");
            url = url.join(location).expect("a Location URL");
        }
        panic!("more than 10 redirects");
    }

    /// POSTs a form to `url`; its page (200).
    fn submit(&mut self, url: &Url, form: &[(&str, &str)]) -> String {
        let answer =
            self.client.post(url.clone()).header(COOKIE, self.cookie_header()).form(form).send().expect("POST");
        self.keep_cookies(&answer);
        assert_eq!(answer.status(), StatusCode::OK, "POST {url}");
        answer.text().expect("a page")
    }

    fn keep_cookies(&mut self, answer: &Response) {
        for header in answer.headers().get_all(SET_COOKIE) {
            let header = header.to_str().expect("an ASCII cookie");
            let pair = header.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }
}

/// The value of the page's `<input name="NAME" value="…">`, HTML entities decoded.
fn input_value(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!("name=\"{name}\""))?;
    let tag = &page[page[..at].rfind('<')?..at + page[at..].find('>')?];
    let start = tag.find("value=\"")? + "value=\"".len();
    let value = &tag[start..start + tag[start..].find('"')?];
    let decoded = [("&quot;", "\""), ("&#039;", "'"), ("&#39;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")]
        .iter()
        .fold(value.to_owned(), |text, (entity, plain)| text.replace(entity, plain));
    Some(decoded)
}

/// The `action` of the page's first form.
fn form_action(page: &str) -> Option<String> {
    let form = &page[page.find("<form")?..];
    let start = form.find("action=\"")? + "action=\"".len();
    Some(form[start..start + form[start..].find('"')?].to_owned())
}

/// Opens the login form for a fresh AuthnRequest: its URL, page and the request's id.
fn login_form(browser: &mut Browser, idp: &SimpleSamlPhp, sp: &ServiceProvider) -> (Url, String, String) {
    let request_id = new_request_id();
    let (login, page) = browser.open(&authn_request_url(sp, &idp.sso_url, &request_id, Utc::now(), Some(RELAY_STATE)));
    assert_eq!(login.path(), "/module.php/core/loginuserpass.php", "the IdP shows its login form");
    (login, page, request_id)
}

fn sign_in(browser: &mut Browser, login: &Url, page: &str, password: &str) -> String {
    let state = input_value(page, "AuthState").expect("the login form's AuthState");
    browser.submit(login, &[("username", "ada"), ("password", password), ("AuthState", &state)])
}

#[test]
fn the_idp_metadata_names_the_issuer_sso_url_and_certificate_it_is_started_with() {
    let (idp, _) = start_idp();
    let (_, metadata) = Browser::new().open(&idp.issuer);
    assert!(metadata.contains(&format!("entityID=\"{}\"", idp.issuer)), "{metadata}");
    let redirect_sso = format!(
        "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{}\"/>",
        idp.sso_url
    );
    assert!(metadata.contains(&redirect_sso), "{metadata}");
    let certificate: String = idp.certificate_pem.lines().filter(|line| !line.starts_with("-----")).collect();
    assert!(metadata.contains(&format!("<ds:X509Certificate>{certificate}</ds:X509Certificate>")), "{metadata}");
}

#[test]
fn a_user_signs_in_and_the_signed_response_verifies() {
    let (idp, sp) = start_idp();
    let mut browser = Browser::new();
    let (login, page, request_id) = login_form(&mut browser, &idp, &sp);
    let post_form = sign_in(&mut browser, &login, &page, PASSWORD);

    assert_eq!(form_action(&post_form).as_deref(), Some(ACS_URL), "the IdP posts to the ACS URL: {post_form}");
    assert_eq!(input_value(&post_form, "RelayState").as_deref(), Some(RELAY_STATE));
    let saml_response = input_value(&post_form, "SAMLResponse").expect("a SAMLResponse");
    let xml = base64::engine::general_purpose::STANDARD.decode(&saml_response).expect("base64");
    let xml = String::from_utf8(xml).expect("UTF-8");
    assert_eq!(
        xml.matches("<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>").count(),
        2,
        "the response and its assertion are signed with RSA-SHA256: {xml}"
    );

    let trusted = IdentityProvider::from_pem(&idp.issuer, &idp.certificate_pem).expect("the IdP's certificate");
    let assertion = verify_response(&saml_response, &Checks { sp: &sp, idp: &trusted, now: Utc::now() })
        .unwrap_or_else(|refusal| panic!("the IdP's response is refused: {refusal:?}"));
    assert_eq!(assertion.in_response_to.as_deref(), Some(request_id.as_str()));
    assert_eq!(assertion.issuer, idp.issuer);
    assert_eq!(assertion.name_id, "ada@example.org");
    assert_eq!(assertion.name_id_format.as_deref(), Some(NAME_ID_FORMAT));
    assert_eq!(assertion.attributes.get("role"), Some(&vec!["admin".to_owned()]));
    assert_eq!(assertion.attributes.get("displayName"), Some(&vec!["Ada Lovelace".to_owned()]));
    assert!(assertion.expires > Utc::now());
}

#[test]
fn the_response_does_not_verify_with_another_idps_certificate() {
    let (idp, sp) = start_idp();
    let (other, _) = start_idp();
    let mut browser = Browser::new();
    let (login, page, _) = login_form(&mut browser, &idp, &sp);
    let post_form = sign_in(&mut browser, &login, &page, PASSWORD);
    let saml_response = input_value(&post_form, "SAMLResponse").expect("a SAMLResponse");

    let impostor = IdentityProvider::from_pem(&idp.issuer, &other.certificate_pem).expect("a certificate");
    let refused = verify_response(&saml_response, &Checks { sp: &sp, idp: &impostor, now: Utc::now() });
    assert!(matches!(refused, Err(Refusal::Signature { .. })), "{:?}", refused.err());
}

#[test]
fn a_wrong_password_shows_the_login_form_again_without_a_response() {
    let (idp, sp) = start_idp();
    let mut browser = Browser::new();
    let (login, page, _) = login_form(&mut browser, &idp, &sp);

    let again = sign_in(&mut browser, &login, &page, "not the password");
    assert!(again.contains("Incorrect username or password"), "{again}");
    assert!(again.contains("name=\"password\""), "the login form again: {again}");
    assert_eq!(input_value(&again, "SAMLResponse"), None);

    let post_form = sign_in(&mut browser, &login, &again, PASSWORD);
    assert!(input_value(&post_form, "SAMLResponse").is_some(), "the form shown again still signs in: {post_form}");
}
