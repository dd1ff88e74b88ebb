//! Responses signed by xmlsec1 (patchbay-testkit's forger) against `verify_response`: the
//! valid ones, in every shape IdPs sign them, are accepted, which proves the exclusive
//! canonicalization matches libxml2's byte for byte; every attack is refused with its code.

use chrono::{DateTime, Utc};
use patchbay_saml::{verify_response, Assertion, CertificateError, Checks, IdentityProvider, Refusal, ServiceProvider};
use patchbay_testkit::saml::{
    encode, keys, sign, Forger, Key, Method, Prefixes, ResponseBuilder, Signed, SIGNED_USER, VICTIM,
};

const ISSUER: &str = "https://idp.corp.example/saml";
const ENTITY_ID: &str = "https://patchbay.example/saml/acme";
const ACS_URL: &str = "https://patchbay.example/saml/acs/acme";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z").expect("time").with_timezone(&Utc)
}

fn forger() -> Forger {
    Forger::new(ISSUER, ENTITY_ID, ACS_URL, now())
}

fn sp() -> ServiceProvider {
    ServiceProvider { entity_id: ENTITY_ID.into(), acs_url: ACS_URL.into() }
}

fn trusting(keys: &[&Key]) -> IdentityProvider {
    let pem: String = keys.iter().map(|k| k.certificate_pem()).collect();
    IdentityProvider::from_pem(ISSUER, &pem).expect("certificates")
}

fn verify_with(encoded: &str, idp: &IdentityProvider) -> Result<Assertion, Refusal> {
    verify_response(encoded, &Checks { sp: &sp(), idp, now: now() })
}

fn verify(encoded: &str) -> Result<Assertion, Refusal> {
    verify_with(encoded, &trusting(&[&keys().rsa]))
}

#[track_caller]
fn refused(encoded: &str, code: &str) -> Refusal {
    let refusal = verify(encoded).expect_err("refused");
    assert_eq!(refusal.code(), code, "{refusal}");
    refusal
}

#[track_caller]
fn accepted_as_signed_user(assertion: Result<Assertion, Refusal>) -> Assertion {
    let assertion = assertion.expect("accepted");
    assert_eq!(assertion.name_id, SIGNED_USER);
    assert_eq!(assertion.issuer, ISSUER);
    assert_eq!(assertion.attributes["groups"], ["agents", "supervisors"]);
    assert_eq!(assertion.email(), Some(SIGNED_USER));
    assert_eq!(assertion.display_name().as_deref(), Some("Jane Doe"));
    assertion
}

fn signed_on(signed: Signed) -> ResponseBuilder {
    ResponseBuilder { signed, ..forger().response() }
}

// Accepted shapes.

#[test]
fn signed_on_the_assertion_only_is_accepted() {
    let response = signed_on(Signed::Assertion);
    let assertion = accepted_as_signed_user(verify(&response.encoded(&keys().rsa)));
    assert_eq!(assertion.id, response.assertion_id);
    assert_eq!(assertion.in_response_to, None);
    assert_eq!(assertion.session_index.as_deref(), Some("_session1"));
}

#[test]
fn signed_on_the_response_only_is_accepted() {
    accepted_as_signed_user(verify(&signed_on(Signed::Response).encoded(&keys().rsa)));
}

#[test]
fn signed_on_both_is_accepted() {
    accepted_as_signed_user(verify(&signed_on(Signed::Both).encoded(&keys().rsa)));
}

#[test]
fn ecdsa_p256_signature_is_accepted() {
    let response = ResponseBuilder { method: Method::EcdsaSha256, ..signed_on(Signed::Both) };
    accepted_as_signed_user(verify_with(&response.encoded(&keys().ec), &trusting(&[&keys().ec])));
}

#[test]
fn rsa_sha512_signature_is_accepted() {
    let response = ResponseBuilder { method: Method::RsaSha512, ..signed_on(Signed::Both) };
    accepted_as_signed_user(verify(&response.encoded(&keys().rsa)));
}

#[test]
fn inclusive_namespaces_prefix_list_is_honoured() {
    // `xs` appears only inside xsi:type values, so only the PrefixList makes it part of what
    // is signed; ignoring it would break the digest, rendering it anyway would too.
    for list in ["xs", "xs xsi #default", "saml samlp"] {
        let listed = ResponseBuilder { prefix_list: Some(list.into()), ..signed_on(Signed::Both) };
        accepted_as_signed_user(verify(&listed.encoded(&keys().rsa)));
    }
}

#[test]
fn saml2_prefixes_are_accepted() {
    let response = ResponseBuilder { prefixes: Prefixes::Saml2, ..signed_on(Signed::Both) };
    let xml = response.sign(&keys().rsa);
    assert!(xml.contains("<saml2p:Response") && xml.contains("<saml2:Assertion") && xml.contains("<dsig:Signature"));
    accepted_as_signed_user(verify(&encode(&xml)));
}

#[test]
fn default_namespaces_are_accepted() {
    let response = ResponseBuilder {
        prefixes: Prefixes::Default,
        prefix_list: Some("#default xs".into()),
        ..signed_on(Signed::Both)
    };
    let xml = response.sign(&keys().rsa);
    assert!(xml.contains("<Response xmlns=") && xml.contains("<Assertion xmlns="));
    accepted_as_signed_user(verify(&encode(&xml)));
    let plain = ResponseBuilder { prefixes: Prefixes::Default, ..signed_on(Signed::Both) };
    accepted_as_signed_user(verify(&plain.encoded(&keys().rsa)));
}

#[test]
fn certificate_trusted_second_is_accepted_for_a_rollover() {
    let rollover = trusting(&[&keys().rsa, &keys().rsa_next]);
    accepted_as_signed_user(verify_with(&forger().response().encoded(&keys().rsa_next), &rollover));
    accepted_as_signed_user(verify_with(&forger().valid(), &rollover));
}

#[test]
fn valid_response_answering_a_request_names_it() {
    let assertion = accepted_as_signed_user(verify(&forger().valid_in_response_to("_0123abcd")));
    assert_eq!(assertion.in_response_to.as_deref(), Some("_0123abcd"));
}

#[test]
fn base64_wrapped_in_lines_is_accepted() {
    let encoded = forger().valid();
    let wrapped: String =
        encoded.as_bytes().chunks(76).map(|line| format!("{}\r\n", String::from_utf8_lossy(line))).collect();
    accepted_as_signed_user(verify(&wrapped));
}

// The attack corpus.

#[test]
fn xml_signature_wrapping_is_refused() {
    let forger = forger();
    let variants = [
        ("XSW1", forger.xsw1()),
        ("XSW2", forger.xsw2()),
        ("XSW3", forger.xsw3()),
        ("XSW4", forger.xsw4()),
        ("XSW5", forger.xsw5()),
        ("XSW6", forger.xsw6()),
        ("XSW7", forger.xsw7()),
        ("XSW8", forger.xsw8()),
    ];
    for (name, encoded) in variants {
        let refusal = verify(&encoded).expect_err(name);
        assert_eq!(refusal.code(), "assertions", "{name}: {refusal}");
    }
}

#[test]
fn stripped_signature_is_refused() {
    refused(&forger().signature_stripped(), "unsigned");
}

#[test]
fn signature_by_another_key_is_refused_whatever_key_info_says() {
    let refusal = refused(&forger().signed_by_stranger(), "signature");
    assert!(refusal.to_string().contains("certificate the account trusts"), "{refusal}");
}

#[test]
fn ecdsa_signature_is_refused_by_an_account_trusting_only_rsa() {
    let response = ResponseBuilder { method: Method::EcdsaSha256, ..forger().response() };
    refused(&response.encoded(&keys().ec), "signature");
}

#[test]
fn sha1_is_refused() {
    let refusal = refused(&forger().sha1(), "sha1");
    assert!(refusal.to_string().contains("rsa-sha1"), "{refusal}");
}

#[test]
fn wrong_audience_is_refused() {
    refused(&forger().wrong_audience(), "audience");
}

#[test]
fn wrong_destination_is_refused() {
    refused(&forger().wrong_destination(), "destination");
}

#[test]
fn wrong_recipient_is_refused() {
    refused(&forger().wrong_recipient(), "recipient");
}

#[test]
fn expired_is_refused() {
    refused(&forger().expired(), "expired");
}

#[test]
fn not_yet_valid_is_refused() {
    refused(&forger().not_yet_valid(), "not_yet_valid");
}

#[test]
fn comment_in_name_id_does_not_truncate_it() {
    let assertion = verify(&forger().comment_in_name_id()).expect("the signature still holds");
    assert_eq!(assertion.name_id, format!("{VICTIM}.evil.example"));
    assert_ne!(assertion.email(), Some(VICTIM));
}

#[test]
fn billion_laughs_is_refused() {
    refused(&forger().billion_laughs(), "dtd");
}

#[test]
fn external_entity_is_refused() {
    refused(&forger().external_entity(), "dtd");
}

#[test]
fn two_signed_assertions_are_refused() {
    refused(&forger().two_assertions(), "assertions");
}

#[test]
fn encrypted_assertion_is_refused() {
    let refusal = refused(&forger().encrypted_assertion(), "encrypted");
    assert!(refusal.to_string().contains("turn off assertion encryption"), "{refusal}");
}

// The signature profile, on responses xmlsec1 signed.

#[test]
fn content_changed_after_signing_is_refused() {
    for signed in [Signed::Assertion, Signed::Response] {
        let xml = signed_on(signed).sign(&keys().rsa).replacen("Jane Doe", "Jane Admin", 1);
        let refusal = refused(&encode(&xml), "signature");
        assert!(refusal.to_string().contains("digest"), "{refusal}");
    }
}

#[test]
fn changed_signature_value_is_refused() {
    let xml = forger().response().sign(&keys().rsa);
    let start = xml.find("<ds:SignatureValue>").expect("value") + "<ds:SignatureValue>".len();
    let mut bytes = xml.into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    refused(&encode(&String::from_utf8(bytes).expect("utf-8")), "signature");
}

/// Each signature is checked; a valid one elsewhere does not excuse a broken one.
#[test]
fn broken_assertion_signature_is_refused_under_a_valid_response_signature() {
    let response = signed_on(Signed::Assertion);
    let xml = response.sign(&keys().rsa);
    // Break the Assertion's signature, then sign the Response over it.
    let start = xml.find("<ds:SignatureValue>").expect("value") + "<ds:SignatureValue>".len();
    let mut broken = xml.into_bytes();
    broken[start] = if broken[start] == b'A' { b'B' } else { b'A' };
    let broken = String::from_utf8(broken).expect("utf-8");
    let both = ResponseBuilder { signed: Signed::Both, ..response.clone() };
    let template = both.xml();
    let response_signature = &template
        [template.find("  <ds:Signature").expect("template")..template.find("  <samlp:Status>").expect("status")];
    let at = broken.find("  <samlp:Status>").expect("status");
    let xml = format!("{}{response_signature}{}", &broken[..at], &broken[at..]);
    let xml = sign(&xml, &keys().rsa, &[&response.response_id]);
    let refusal = refused(&encode(&xml), "signature");
    assert!(refusal.to_string().contains("Assertion"), "{refusal}");
}

#[test]
fn reference_to_another_element_is_refused() {
    // The Assertion's signature covers the Response (a valid signature, of the wrong thing).
    let response = forger().response();
    let template = response.xml().replacen(
        &format!(r##"URI="#{}""##, response.assertion_id),
        &format!(r##"URI="#{}""##, response.response_id),
        1,
    );
    let xml = sign(&template, &keys().rsa, &[&response.response_id]);
    let refusal = refused(&encode(&xml), "signature");
    assert!(refusal.to_string().contains("Reference points at"), "{refusal}");
}

#[test]
fn two_references_are_refused() {
    let response = forger().response();
    let template = response.xml();
    let start = template.find("<ds:Reference").expect("reference");
    let end = template.find("</ds:Reference>").expect("end") + "</ds:Reference>".len();
    let doubled = format!("{}{}{}", &template[..end], &template[start..end], &template[end..]);
    let xml = sign(&doubled, &keys().rsa, &[&response.assertion_id]);
    let refusal = refused(&encode(&xml), "signature");
    assert!(refusal.to_string().contains("exactly one Reference"), "{refusal}");
}

#[test]
fn other_algorithms_are_refused_by_name() {
    let xml = forger().response().sign(&keys().rsa);
    let swaps = [
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"),
        (
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#""#,
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments""#,
        ),
        (
            r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#""#,
            r#"<ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315""#,
        ),
        ("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/04/xmldsig-more#md5"),
    ];
    for (from, to) in swaps {
        assert!(xml.contains(from), "{from}");
        let refusal = refused(&encode(&xml.replacen(from, to, 1)), "algorithm");
        let named = to.split('"').find(|part| part.starts_with("http")).expect("uri");
        assert!(refusal.to_string().contains(named), "{refusal}");
    }
}

#[test]
fn sha1_digest_alone_is_refused_as_sha1() {
    let xml = forger().response().sign(&keys().rsa);
    let xml = xml.replacen("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1", 1);
    refused(&encode(&xml), "sha1");
}

#[test]
fn refusals_carry_no_xml() {
    let forger = forger();
    for encoded in
        [forger.xsw1(), forger.xsw8(), forger.signed_by_stranger(), forger.wrong_audience(), forger.expired()]
    {
        let message = verify(&encoded).expect_err("refused").to_string();
        assert!(!message.contains('<') && !message.contains(SIGNED_USER) && !message.contains(VICTIM), "{message}");
    }
}

// The account's certificates.

#[test]
fn every_certificate_block_is_trusted() {
    let both = trusting(&[&keys().stranger, &keys().rsa]);
    accepted_as_signed_user(verify_with(&forger().valid(), &both));
    accepted_as_signed_user(verify_with(&forger().signed_by_stranger(), &both));
}

#[test]
fn short_rsa_keys_are_refused_when_configured() {
    let short = Key::rsa(1024, "Short");
    let refused = IdentityProvider::from_pem(ISSUER, short.certificate_pem()).expect_err("refused");
    assert!(matches!(refused, CertificateError::UnsupportedKey { number: 1, .. }), "{refused}");
    assert!(refused.to_string().contains("1024-bit RSA key"), "{refused}");
}
