//! The SP-initiated AuthnRequest (SAML 2.0 core section 3.4.1) sent by the HTTP-Redirect
//! binding (bindings section 3.4.4.1: raw DEFLATE, base64, then URL-encoded), unsigned as the
//! metadata declares.

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::c14n::{escape_attribute, escape_text};
use crate::names::{ASSERTION, HTTP_POST, PROTOCOL};
use crate::xml::encode_base64;
use crate::ServiceProvider;

/// Everything but RFC 3986's unreserved characters is percent-encoded in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A fresh request ID: `_` and 32 random hex digits (an xsd:ID must not start with a digit).
pub fn new_request_id() -> String {
    format!("_{:032x}", rand::random::<u128>())
}

/// The IdP SSO URL with SAMLRequest (deflated, base64, percent-encoded) and RelayState
/// appended (with `&` when the URL already has a query). The binding limits RelayState to
/// 80 bytes; the caller keeps it that short.
pub fn authn_request_url(
    sp: &ServiceProvider,
    idp_sso_url: &str,
    request_id: &str,
    issue_instant: DateTime<Utc>,
    relay_state: Option<&str>,
) -> String {
    let request = authn_request(sp, idp_sso_url, request_id, issue_instant);
    let deflated = miniz_oxide::deflate::compress_to_vec(request.as_bytes(), 6);
    let (base, fragment) = match idp_sso_url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (idp_sso_url, None),
    };
    let mut url = base.to_owned();
    match base.find('?') {
        None => url.push('?'),
        Some(_) if base.ends_with('?') || base.ends_with('&') => {}
        Some(_) => url.push('&'),
    }
    url.push_str("SAMLRequest=");
    url.extend(utf8_percent_encode(&encode_base64(&deflated), QUERY_VALUE));
    if let Some(relay_state) = relay_state {
        url.push_str("&RelayState=");
        url.extend(utf8_percent_encode(relay_state, QUERY_VALUE));
    }
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

fn authn_request(sp: &ServiceProvider, idp_sso_url: &str, request_id: &str, issue_instant: DateTime<Utc>) -> String {
    let attribute = |value: &str| {
        let mut escaped = String::new();
        escape_attribute(value, &mut escaped);
        escaped
    };
    let mut issuer = String::new();
    escape_text(&sp.entity_id, &mut issuer);
    format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="{protocol}" xmlns:saml="{assertion}" ID="{id}" Version="2.0" "#,
            r#"IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" "#,
            r#"ProtocolBinding="{binding}"><saml:Issuer>{issuer}</saml:Issuer>"#,
            r#"<samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#
        ),
        protocol = PROTOCOL,
        assertion = ASSERTION,
        id = attribute(request_id),
        instant = issue_instant.to_rfc3339_opts(SecondsFormat::Secs, true),
        destination = attribute(idp_sso_url),
        acs = attribute(&sp.acs_url),
        binding = HTTP_POST,
        issuer = issuer,
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use percent_encoding::percent_decode_str;

    use super::*;
    use crate::xml::{child, decode_base64};

    fn sp() -> ServiceProvider {
        ServiceProvider {
            entity_id: "https://patchbay.example/saml/acme&co".into(),
            acs_url: "https://patchbay.example/saml/acs?tenant=acme".into(),
        }
    }

    /// The query parameters of `url`, percent-decoded.
    fn query(url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').expect("a query").1;
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').expect("name=value");
                (name.to_owned(), percent_decode_str(value).decode_utf8().expect("utf-8").into_owned())
            })
            .collect()
    }

    fn inflate(value: &str) -> String {
        let deflated = decode_base64(value).expect("base64");
        String::from_utf8(miniz_oxide::inflate::decompress_to_vec(&deflated).expect("raw deflate")).expect("utf-8")
    }

    #[test]
    fn request_ids_are_fresh_xsd_ids() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('_'));
        assert!(a[1..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn redirect_url_carries_a_deflated_authn_request_and_relay_state() {
        let instant = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).single().expect("time");
        let url = authn_request_url(&sp(), "https://idp.example/sso", "_abc", instant, Some("/tenants/acme?x=1&y=2"));
        assert!(url.starts_with("https://idp.example/sso?SAMLRequest="));
        let params = query(&url);
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].0, "SAMLRequest");
        assert_eq!(params[1], ("RelayState".into(), "/tenants/acme?x=1&y=2".into()));

        let xml = inflate(&params[0].1);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let request = doc.root_element();
        assert!(request.has_tag_name((PROTOCOL, "AuthnRequest")));
        assert_eq!(request.attribute("ID"), Some("_abc"));
        assert_eq!(request.attribute("Version"), Some("2.0"));
        assert_eq!(request.attribute("IssueInstant"), Some("2025-03-04T05:06:07Z"));
        assert_eq!(request.attribute("Destination"), Some("https://idp.example/sso"));
        assert_eq!(
            request.attribute("AssertionConsumerServiceURL"),
            Some("https://patchbay.example/saml/acs?tenant=acme")
        );
        assert_eq!(request.attribute("ProtocolBinding"), Some(HTTP_POST));
        let issuer = child(request, ASSERTION, "Issuer").expect("Issuer");
        assert_eq!(issuer.text(), Some("https://patchbay.example/saml/acme&co"));
        let policy = child(request, PROTOCOL, "NameIDPolicy").expect("NameIDPolicy");
        assert_eq!(policy.attribute("AllowCreate"), Some("true"));
    }

    #[test]
    fn existing_query_is_continued_with_an_ampersand() {
        let now = Utc::now();
        let url = authn_request_url(&sp(), "https://idp.example/sso?app=7", "_a", now, None);
        assert!(url.starts_with("https://idp.example/sso?app=7&SAMLRequest="), "{url}");
        let names: Vec<_> = query(&url).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["app", "SAMLRequest"]);
        let url = authn_request_url(&sp(), "https://idp.example/sso?", "_a", now, None);
        assert!(url.starts_with("https://idp.example/sso?SAMLRequest="), "{url}");
    }

    #[test]
    fn fragment_stays_after_the_query() {
        let url = authn_request_url(&sp(), "https://idp.example/sso#top", "_a", Utc::now(), Some("r"));
        assert!(url.starts_with("https://idp.example/sso?SAMLRequest="), "{url}");
        assert!(url.ends_with("&RelayState=r#top"), "{url}");
    }
}
