//! Verifying a SAML 2.0 Response of the HTTP-POST binding (SAML 2.0 core section 3.2.2 and
//! profiles section 4.1.4.3) and reading its Assertion.
//!
//! Against XML Signature Wrapping, what is read comes only from signed elements, found by
//! node identity: the one Assertion must be a direct child of the Response; if the Response
//! is signed, that child is covered by it; else the Assertion carries its own signature.
//! Every Signature present must verify; one that does not is never ignored.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use roxmltree::{Document, Node, ParsingOptions};

use crate::names::{self, ASSERTION, DSIG, PROTOCOL};
use crate::refusal::{shown, Refusal};
use crate::xml::{child, children, decode_base64, elements, is, simple_text, text};
use crate::{dsig, IdentityProvider, ServiceProvider};

/// Clock skew allowed between the IdP and this server on every time bound.
pub const MAX_SKEW: TimeDelta = TimeDelta::minutes(2);

/// Largest decoded SAMLResponse accepted.
const MAX_DECODED: usize = 256 * 1024;
/// Most XML nodes a Response may have; real ones have a few hundred.
const MAX_NODES: u32 = 16 * 1024;
/// Deepest element nesting accepted; a SAML Response needs about ten levels.
const MAX_DEPTH: usize = 64;

/// What a Response is checked against.
pub struct Checks<'a> {
    pub sp: &'a ServiceProvider,
    pub idp: &'a IdentityProvider,
    pub now: DateTime<Utc>,
}

/// What a verified Response says about the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// The Assertion's ID (for the replay cache).
    pub id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// `None`: IdP-initiated (unsolicited); the server decides whether to accept that.
    pub in_response_to: Option<String>,
    /// When this crate stops accepting the Assertion (its earliest NotOnOrAfter plus
    /// [`MAX_SKEW`]): keep its id in the replay cache until then.
    pub expires: DateTime<Utc>,
    /// Attribute values by Name, and by FriendlyName too.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// `encoded` is the SAMLResponse form value (base64 of the XML).
pub fn verify_response(encoded: &str, checks: &Checks<'_>) -> Result<Assertion, Refusal> {
    let xml = decode(encoded)?;
    let doc = parse(&xml)?;
    let response = doc.root_element();
    check_response_element(response)?;
    check_status(response)?;
    refuse_encrypted(&doc)?;
    let assertion = the_assertion(&doc)?;
    check_unique_ids(&doc)?;
    let signed = check_signatures(response, assertion, checks.idp)?;
    read(response, assertion, signed, checks)
}

fn decode(encoded: &str) -> Result<String, Refusal> {
    // Base64 grows by 4/3; refuse what cannot fit before decoding it.
    let encoded_chars = encoded.bytes().filter(|b| !b.is_ascii_whitespace()).count();
    if encoded_chars > MAX_DECODED.div_ceil(3) * 4 {
        return Err(Refusal::TooLarge { limit: MAX_DECODED });
    }
    let bytes = decode_base64(encoded).ok_or(Refusal::NotBase64)?;
    if bytes.len() > MAX_DECODED {
        return Err(Refusal::TooLarge { limit: MAX_DECODED });
    }
    String::from_utf8(bytes).map_err(|_| Refusal::NotUtf8)
}

/// DTDs are refused before parsing (SAML messages must not have one: core section 1.3), and
/// the parser refuses them too.
fn parse(xml: &str) -> Result<Document<'_>, Refusal> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(Refusal::Dtd);
    }
    parse_xml(xml)
}

fn parse_xml(xml: &str) -> Result<Document<'_>, Refusal> {
    let options = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => Refusal::Dtd,
        roxmltree::Error::NodesLimitReached => Refusal::NotXml(format!("it has more than {MAX_NODES} nodes")),
        e => {
            let at = e.pos();
            Refusal::NotXml(format!("error at line {} column {}", at.row, at.col))
        }
    })?;
    // Depth of each element, computed once in document order from its parent's.
    let mut depths = vec![0usize; doc.descendants().count() + 1];
    for node in doc.descendants().filter(Node::is_element) {
        let depth = node.parent().map_or(0, |p| depths[p.id().get_usize()]) + 1;
        if depth > MAX_DEPTH {
            return Err(Refusal::NotXml(format!("elements are nested deeper than {MAX_DEPTH} levels")));
        }
        depths[node.id().get_usize()] = depth;
    }
    Ok(doc)
}

fn check_response_element(response: Node<'_, '_>) -> Result<(), Refusal> {
    if !is(response, PROTOCOL, "Response") {
        let name = response.tag_name();
        return Err(Refusal::NotResponse(format!(
            "its root element is {} in namespace {}",
            shown(name.name()),
            shown(name.namespace().unwrap_or_default())
        )));
    }
    match response.attribute("Version") {
        Some("2.0") => Ok(()),
        other => Err(Refusal::NotResponse(format!("its Version is {}, not 2.0", shown(other.unwrap_or_default())))),
    }
}

fn check_status(response: Node<'_, '_>) -> Result<(), Refusal> {
    let status = child(response, PROTOCOL, "Status").ok_or(Refusal::Missing("Response's Status"))?;
    let code = child(status, PROTOCOL, "StatusCode").ok_or(Refusal::Missing("Response's StatusCode"))?;
    let value = code.attribute("Value").unwrap_or_default();
    if value == names::STATUS_SUCCESS {
        return Ok(());
    }
    // The second-level code says more (e.g. AuthnFailed, RequestDenied).
    let detail = child(code, PROTOCOL, "StatusCode").and_then(|c| c.attribute("Value"));
    let code = match detail {
        Some(detail) => format!("{} ({})", shown(value), shown(detail)),
        None => shown(value),
    };
    let message = child(status, PROTOCOL, "StatusMessage").map(|m| shown(&text(m)));
    Err(Refusal::Status { code, message })
}

fn refuse_encrypted(doc: &Document<'_>) -> Result<(), Refusal> {
    for node in doc.descendants().filter(|n| n.tag_name().namespace() == Some(ASSERTION)) {
        let what = match node.tag_name().name() {
            "EncryptedAssertion" => "assertions",
            "EncryptedID" => "NameIDs",
            "EncryptedAttribute" => "attributes",
            _ => continue,
        };
        return Err(Refusal::Encrypted(what));
    }
    Ok(())
}

/// Exactly one Assertion in the whole document, a direct child of the Response.
fn the_assertion<'a, 'input>(doc: &'a Document<'input>) -> Result<Node<'a, 'input>, Refusal> {
    let mut assertions = doc.descendants().filter(|n| is(*n, ASSERTION, "Assertion"));
    let Some(assertion) = assertions.next() else {
        return Err(Refusal::Assertions("the Response holds no Assertion".into()));
    };
    let more = assertions.count();
    if more > 0 {
        return Err(Refusal::Assertions(format!(
            "the Response holds {} Assertion elements; exactly one is accepted",
            more + 1
        )));
    }
    if assertion.parent_element() != Some(doc.root_element()) {
        return Err(Refusal::Assertions("the Assertion is not a direct child of the Response".into()));
    }
    Ok(assertion)
}

/// ID attributes: SAML's `ID`, XML-DSig's `Id`, and `xml:id`.
fn check_unique_ids(doc: &Document<'_>) -> Result<(), Refusal> {
    let mut ids: Vec<&str> = doc
        .descendants()
        .flat_map(|n| n.attributes())
        .filter(|a| matches!((a.namespace(), a.name()), (None, "ID" | "Id") | (Some(names::XML), "id")))
        .map(|a| a.value())
        .collect();
    ids.sort_unstable();
    match ids.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(Refusal::DuplicateId(shown(w[0]))),
        None => Ok(()),
    }
}

/// Which of the Response and the Assertion are signed (every signature present verified).
#[derive(Clone, Copy)]
struct Signed {
    response: bool,
}

fn check_signatures(
    response: Node<'_, '_>,
    assertion: Node<'_, '_>,
    idp: &IdentityProvider,
) -> Result<Signed, Refusal> {
    let signatures: Vec<_> = response.descendants().filter(|n| is(*n, DSIG, "Signature")).collect();
    for signature in &signatures {
        let parent = signature.parent_element();
        if parent != Some(response) && parent != Some(assertion) {
            return Err(Refusal::SignaturePlacement(
                "a Signature is neither a direct child of the Response nor of the Assertion".into(),
            ));
        }
    }
    let on = |element: Node<'_, '_>| signatures.iter().filter(|s| s.parent_element() == Some(element)).count();
    for (element, name) in [(response, "Response"), (assertion, "Assertion")] {
        if on(element) > 1 {
            return Err(Refusal::SignaturePlacement(format!("the {name} holds more than one Signature")));
        }
    }
    if signatures.is_empty() {
        return Err(Refusal::Unsigned);
    }
    for signature in &signatures {
        let name = if signature.parent_element() == Some(response) { "Response" } else { "Assertion" };
        dsig::verify(*signature, idp, name)?;
    }
    Ok(Signed { response: on(response) == 1 })
}

fn read(
    response: Node<'_, '_>,
    assertion: Node<'_, '_>,
    signed: Signed,
    checks: &Checks<'_>,
) -> Result<Assertion, Refusal> {
    let (sp, idp, now) = (checks.sp, checks.idp, checks.now);
    if assertion.attribute("Version") != Some("2.0") {
        return Err(Refusal::Invalid { what: "Assertion", why: "its Version is not 2.0".into() });
    }
    let id = assertion.attribute("ID").ok_or(Refusal::Missing("Assertion's ID"))?.to_owned();

    if let Some(issuer) = child(response, ASSERTION, "Issuer") {
        check_issuer(issuer, "Response", idp)?;
    }
    let issuer = child(assertion, ASSERTION, "Issuer").ok_or(Refusal::Missing("Assertion's Issuer"))?;
    let issuer = check_issuer(issuer, "Assertion", idp)?;

    match response.attribute("Destination") {
        Some(destination) if destination != sp.acs_url => {
            return Err(Refusal::Destination { found: shown(destination), expected: shown(&sp.acs_url) });
        }
        None if signed.response => return Err(Refusal::Missing("signed Response's Destination")),
        _ => {}
    }

    let mut expires = check_conditions(assertion, sp, now)?;

    let subject = child(assertion, ASSERTION, "Subject").ok_or(Refusal::Missing("Assertion's Subject"))?;
    let name_id = child(subject, ASSERTION, "NameID").ok_or(Refusal::Missing("Assertion's NameID"))?;
    let name_id_format = name_id.attribute("Format").map(str::to_owned);
    let name_id = simple_text(name_id).ok_or(Refusal::NameId("holds elements where only text is allowed"))?;
    let name_id = name_id.trim().to_owned();
    if name_id.is_empty() {
        return Err(Refusal::NameId("is empty"));
    }

    let confirmation = bearer_confirmation(subject, sp, now)?;
    expires = expires.min(confirmation.not_on_or_after);
    let in_response_to = confirmation.in_response_to;
    if signed.response {
        if let Some(answered) = response.attribute("InResponseTo") {
            if in_response_to.as_deref() != Some(answered) {
                return Err(Refusal::InResponseTo {
                    response: shown(answered),
                    assertion: in_response_to.as_deref().map_or_else(|| "no request".into(), shown),
                });
            }
        }
    }

    let session_index =
        children(assertion, ASSERTION, "AuthnStatement").find_map(|s| s.attribute("SessionIndex")).map(str::to_owned);

    Ok(Assertion {
        id,
        issuer,
        name_id,
        name_id_format,
        session_index,
        in_response_to,
        expires: expires + MAX_SKEW,
        attributes: attributes(assertion),
    })
}

fn check_issuer(issuer: Node<'_, '_>, element: &'static str, idp: &IdentityProvider) -> Result<String, Refusal> {
    let found = simple_text(issuer).map(|t| t.trim().to_owned()).unwrap_or_default();
    if found != idp.issuer {
        return Err(Refusal::Issuer { element, found: shown(&found), expected: shown(&idp.issuer) });
    }
    Ok(found)
}

/// Audience and validity window; returns the Conditions' NotOnOrAfter (or the far future).
fn check_conditions(
    assertion: Node<'_, '_>,
    sp: &ServiceProvider,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Refusal> {
    let conditions = child(assertion, ASSERTION, "Conditions").ok_or_else(|| Refusal::Audience {
        found: "no audience (the Assertion has no Conditions)".into(),
        expected: shown(&sp.entity_id),
    })?;
    check_window(conditions, "Assertion", now)?;
    let mut restrictions = 0;
    for condition in elements(conditions) {
        match (condition.tag_name().namespace(), condition.tag_name().name()) {
            (Some(ASSERTION), "AudienceRestriction") => {
                restrictions += 1;
                let audiences: Vec<String> =
                    children(condition, ASSERTION, "Audience").map(|a| text(a).trim().to_owned()).collect();
                if !audiences.contains(&sp.entity_id) {
                    let found: Vec<_> = audiences.iter().map(|a| shown(a)).collect();
                    let found = if found.is_empty() { "no audience".into() } else { found.join(", ") };
                    return Err(Refusal::Audience { found, expected: shown(&sp.entity_id) });
                }
            }
            // OneTimeUse is what the replay cache does; ProxyRestriction limits others.
            (Some(ASSERTION), "OneTimeUse" | "ProxyRestriction") => {}
            (_, name) => return Err(Refusal::Condition(shown(name))),
        }
    }
    if restrictions == 0 {
        return Err(Refusal::Audience { found: "no audience".into(), expected: shown(&sp.entity_id) });
    }
    Ok(time(conditions, "NotOnOrAfter")?.unwrap_or(DateTime::<Utc>::MAX_UTC - MAX_SKEW))
}

/// NotBefore and NotOnOrAfter of `node`, when present, hold at `now` give or take MAX_SKEW.
fn check_window(node: Node<'_, '_>, element: &'static str, now: DateTime<Utc>) -> Result<(), Refusal> {
    let skew_seconds = MAX_SKEW.num_seconds();
    if let Some(not_before) = time(node, "NotBefore")? {
        if now + MAX_SKEW < not_before {
            return Err(Refusal::NotYetValid { element, at: stamp(not_before), skew_seconds });
        }
    }
    if let Some(not_on_or_after) = time(node, "NotOnOrAfter")? {
        if now - MAX_SKEW >= not_on_or_after {
            return Err(Refusal::Expired { element, at: stamp(not_on_or_after), skew_seconds });
        }
    }
    Ok(())
}

struct Confirmation {
    not_on_or_after: DateTime<Utc>,
    in_response_to: Option<String>,
}

/// A bearer SubjectConfirmation for this service provider's ACS URL, in date (SAML 2.0
/// profiles section 4.1.4.2).
fn bearer_confirmation(
    subject: Node<'_, '_>,
    sp: &ServiceProvider,
    now: DateTime<Utc>,
) -> Result<Confirmation, Refusal> {
    let bearers: Vec<_> = children(subject, ASSERTION, "SubjectConfirmation")
        .filter(|c| c.attribute("Method") == Some(names::BEARER))
        .filter_map(|c| child(c, ASSERTION, "SubjectConfirmationData"))
        .collect();
    if bearers.is_empty() {
        return Err(Refusal::Missing("Assertion's bearer SubjectConfirmation"));
    }
    let Some(data) = bearers.iter().find(|d| d.attribute("Recipient") == Some(sp.acs_url.as_str())) else {
        let found: Vec<_> = bearers.iter().map(|d| shown(d.attribute("Recipient").unwrap_or_default())).collect();
        return Err(Refusal::Recipient { found: found.join(", "), expected: shown(&sp.acs_url) });
    };
    let not_on_or_after =
        time(*data, "NotOnOrAfter")?.ok_or(Refusal::Missing("NotOnOrAfter of the bearer SubjectConfirmationData"))?;
    check_window(*data, "bearer SubjectConfirmationData", now)?;
    Ok(Confirmation { not_on_or_after, in_response_to: data.attribute("InResponseTo").map(str::to_owned) })
}

/// An xsd:dateTime attribute; SAML wants UTC with `Z`, a time without zone is read as UTC.
fn time(node: Node<'_, '_>, attribute: &'static str) -> Result<Option<DateTime<Utc>>, Refusal> {
    let Some(value) = node.attribute(attribute) else { return Ok(None) };
    let parsed = DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc()));
    match parsed {
        Ok(t) => Ok(Some(t)),
        Err(_) => Err(Refusal::Invalid { what: attribute, why: format!("{} is not an xsd:dateTime", shown(value)) }),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The AttributeStatements' values by Name, and by FriendlyName too.
fn attributes(assertion: Node<'_, '_>) -> BTreeMap<String, Vec<String>> {
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for attribute in
        children(assertion, ASSERTION, "AttributeStatement").flat_map(|s| children(s, ASSERTION, "Attribute"))
    {
        let values: Vec<String> = children(attribute, ASSERTION, "AttributeValue").map(text).collect();
        let name = attribute.attribute("Name");
        let friendly = attribute.attribute("FriendlyName").filter(|f| Some(*f) != name);
        for key in name.into_iter().chain(friendly) {
            attributes.entry(key.to_owned()).or_default().extend(values.iter().cloned());
        }
    }
    attributes
}

/// Attribute names (compared ignoring case) that carry an email address.
const EMAIL_ATTRIBUTES: [&str; 7] = [
    "email",
    "mail",
    "emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/claims/emailaddress",
    "user.email",
];
const DISPLAY_NAME_ATTRIBUTES: [&str; 7] = [
    "displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "cn",
    "urn:oid:2.5.4.3",
];
const GIVEN_NAME_ATTRIBUTES: [&str; 4] =
    ["givenname", "firstname", "urn:oid:2.5.4.42", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"];
const SURNAME_ATTRIBUTES: [&str; 5] =
    ["sn", "surname", "lastname", "urn:oid:2.5.4.4", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"];

impl Assertion {
    /// The email attribute (`email`, `mail`, the common claim URIs), else the NameID when it
    /// looks like an email address.
    pub fn email(&self) -> Option<&str> {
        self.first_of(&EMAIL_ATTRIBUTES).or_else(|| looks_like_email(&self.name_id).then_some(self.name_id.as_str()))
    }

    /// `displayName`, `name` or `cn`, else `givenName` and `sn` joined.
    pub fn display_name(&self) -> Option<String> {
        if let Some(name) = self.first_of(&DISPLAY_NAME_ATTRIBUTES) {
            return Some(name.to_owned());
        }
        let parts: Vec<_> =
            [self.first_of(&GIVEN_NAME_ATTRIBUTES), self.first_of(&SURNAME_ATTRIBUTES)].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The first non-blank value of the first attribute (in `names`' order) that has one.
    fn first_of(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|wanted| {
            self.attributes
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .flat_map(|(_, values)| values)
                .map(|v| v.trim())
                .find(|v| !v.is_empty())
        })
    }
}

fn looks_like_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use patchbay_testkit::saml::{keys, Attribute, Forger, ResponseBuilder, Signed as Templates};

    use super::*;

    const ISSUER: &str = "https://idp.corp.example/saml";
    const ENTITY_ID: &str = "https://patchbay.example/saml/acme";
    const ACS_URL: &str = "https://patchbay.example/saml/acs/acme";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z").expect("time").with_timezone(&Utc)
    }

    fn forger() -> Forger {
        Forger::new(ISSUER, ENTITY_ID, ACS_URL, now())
    }

    /// An unsigned Response (no templates) from the forger's defaults.
    fn unsigned() -> ResponseBuilder {
        ResponseBuilder { signed: Templates::Neither, ..forger().response() }
    }

    fn sp() -> ServiceProvider {
        ServiceProvider { entity_id: ENTITY_ID.into(), acs_url: ACS_URL.into() }
    }

    fn idp() -> IdentityProvider {
        IdentityProvider::from_pem(ISSUER, keys().rsa.certificate_pem()).expect("certificate")
    }

    /// Everything after the signature checks, as if the signatures said `response_signed`.
    fn read_at(xml: &str, response_signed: bool, now: DateTime<Utc>) -> Result<Assertion, Refusal> {
        let doc = parse(xml)?;
        let assertion = the_assertion(&doc)?;
        let (sp, idp) = (sp(), idp());
        read(doc.root_element(), assertion, Signed { response: response_signed }, &Checks { sp: &sp, idp: &idp, now })
    }

    fn read_xml(xml: &str) -> Result<Assertion, Refusal> {
        read_at(xml, false, now())
    }

    /// The checks before the signatures' (which the document has none of).
    fn structure(xml: &str) -> Result<(), Refusal> {
        let doc = parse(xml)?;
        let response = doc.root_element();
        check_response_element(response)?;
        check_status(response)?;
        refuse_encrypted(&doc)?;
        let assertion = the_assertion(&doc)?;
        check_unique_ids(&doc)?;
        check_signatures(response, assertion, &idp()).map(|_| ())
    }

    fn code(result: Result<impl std::fmt::Debug, Refusal>) -> &'static str {
        result.expect_err("refused").code()
    }

    #[test]
    fn unsigned_response_reads_every_field() {
        let xml = unsigned().answering("_req1").xml();
        let assertion = read_xml(&xml).expect("read");
        assert_eq!(assertion.issuer, ISSUER);
        assert_eq!(assertion.name_id, "jane.doe@corp.example");
        assert_eq!(assertion.name_id_format.as_deref(), Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"));
        assert_eq!(assertion.session_index.as_deref(), Some("_session1"));
        assert_eq!(assertion.in_response_to.as_deref(), Some("_req1"));
        assert_eq!(assertion.expires, now() + TimeDelta::minutes(5) + MAX_SKEW);
        assert_eq!(assertion.attributes["groups"], ["agents", "supervisors"]);
        assert_eq!(assertion.attributes["displayName"], ["Jane Doe"]);
        assert_eq!(assertion.attributes["urn:oid:2.16.840.1.113730.3.1.241"], ["Jane Doe"]);
        assert_eq!(assertion.email(), Some("jane.doe@corp.example"));
        assert_eq!(assertion.display_name().as_deref(), Some("Jane Doe"));
    }

    #[test]
    fn input_must_be_base64_of_utf8_within_the_size_limit() {
        assert_eq!(code(decode("%%%")), "base64");
        assert_eq!(code(decode(&crate::xml::encode_base64(&[0xff, 0xfe]))), "utf8");
        assert_eq!(code(decode(&"A".repeat(MAX_DECODED / 3 * 4 + 8))), "too_large");
        let wrapped = crate::xml::encode_base64(b"<x/>").chars().flat_map(|c| [c, '\n']).collect::<String>();
        assert_eq!(decode(&wrapped).expect("wrapped base64"), "<x/>");
    }

    #[test]
    fn dtd_and_entity_declarations_are_refused_before_parsing() {
        let xml = unsigned().xml();
        let with_dtd = format!("<!DOCTYPE samlp:Response>{xml}");
        assert_eq!(code(parse(&with_dtd)), "dtd");
        // Even where a parser would not read it as a declaration.
        let in_comment = xml.replacen("<saml:Subject>", "<saml:Subject><!-- <!ENTITY x 'y'> -->", 1);
        assert_eq!(code(parse(&in_comment)), "dtd");
    }

    #[test]
    fn parser_refuses_dtds_too() {
        assert_eq!(code(parse_xml("<!DOCTYPE r [<!ENTITY e 'x'>]><r>&e;</r>")), "dtd");
    }

    #[test]
    fn parser_bounds_nodes_and_depth() {
        let many = format!("<r>{}</r>", "<a/>".repeat(MAX_NODES as usize));
        assert_eq!(code(parse(&many)), "xml");
        let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        assert_eq!(code(parse(&deep)), "xml");
        let fine = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn root_must_be_a_saml2_response() {
        let xml = unsigned().xml();
        let other = xml.replace("samlp:Response", "samlp:ArtifactResponse");
        assert_eq!(code(structure(&other)), "not_response");
        let wrong_ns = xml.replace(PROTOCOL, "urn:oasis:names:tc:SAML:1.0:protocol");
        assert_eq!(code(structure(&wrong_ns)), "not_response");
        let old = xml.replacen(r#"Version="2.0""#, r#"Version="1.1""#, 1);
        assert_eq!(code(structure(&old)), "not_response");
    }

    #[test]
    fn status_other_than_success_is_refused_naming_code_and_message() {
        let xml = unsigned().xml().replacen(
            r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>"#,
            concat!(
                r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder">"#,
                r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode>"#,
                r#"<samlp:StatusMessage>User is not assigned to this application</samlp:StatusMessage>"#
            ),
            1,
        );
        let refusal = structure(&xml).expect_err("refused");
        assert_eq!(refusal.code(), "status");
        let message = refusal.to_string();
        assert!(message.contains("status:Responder") && message.contains("AuthnFailed"), "{message}");
        assert!(message.contains("User is not assigned to this application"), "{message}");
    }

    #[test]
    fn encrypted_elements_anywhere_are_refused() {
        let xml = unsigned().xml();
        let encrypted = xml.replacen("<saml:Subject>", "<saml:Subject><saml:EncryptedID/>", 1);
        assert_eq!(code(structure(&encrypted)), "encrypted");
        let assertion = xml.replacen("<samlp:Status>", "<saml:EncryptedAssertion/><samlp:Status>", 1);
        let refusal = structure(&assertion).expect_err("refused");
        assert_eq!(refusal.code(), "encrypted");
        assert!(refusal.to_string().contains("turn off assertion encryption for this service provider in the IdP"));
    }

    #[test]
    fn exactly_one_assertion_directly_under_the_response() {
        let xml = unsigned().xml();
        let start = xml.find("<saml:Assertion").expect("start");
        let end = xml.find("</saml:Assertion>").expect("end") + "</saml:Assertion>".len();
        let none = format!("{}{}", &xml[..start], &xml[end..]);
        assert_eq!(code(structure(&none)), "assertions");
        let second = xml[start..end].replace(r#"ID="_a"#, r#"ID="_b"#);
        let two = format!("{}{second}{}", &xml[..end], &xml[end..]);
        assert_eq!(code(structure(&two)), "assertions");
        let nested =
            format!("{}<samlp:Extensions>{}</samlp:Extensions>{}", &xml[..start], &xml[start..end], &xml[end..]);
        assert_eq!(code(structure(&nested)), "assertions");
    }

    #[test]
    fn ids_must_be_unique() {
        let builder = unsigned();
        let xml = builder.xml().replacen(
            "<samlp:Status>",
            &format!(r#"<samlp:Extensions><x ID="{}"/></samlp:Extensions><samlp:Status>"#, builder.assertion_id),
            1,
        );
        assert_eq!(code(structure(&xml)), "duplicate_id");
    }

    #[test]
    fn unsigned_response_is_refused() {
        assert_eq!(code(structure(&unsigned().xml())), "unsigned");
    }

    #[test]
    fn signatures_only_directly_under_the_response_or_the_assertion() {
        let signature = r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>"#;
        let xml = unsigned().xml();
        let in_subject = xml.replacen("<saml:Subject>", &format!("<saml:Subject>{signature}"), 1);
        assert_eq!(code(structure(&in_subject)), "signature_placement");
        let twice = xml.replacen("<samlp:Status>", &format!("{signature}{signature}<samlp:Status>"), 1);
        assert_eq!(code(structure(&twice)), "signature_placement");
        let on_assertion = xml.replacen("<saml:Subject>", &format!("{signature}{signature}<saml:Subject>"), 1);
        assert_eq!(code(structure(&on_assertion)), "signature_placement");
    }

    #[test]
    fn issuers_must_be_the_accounts() {
        let other = "https://evil.example/idp".to_owned();
        let xml = ResponseBuilder { issuer: other.clone(), ..unsigned() }.xml();
        assert_eq!(code(read_xml(&xml)), "issuer");
        let xml = ResponseBuilder { response_issuer: Some(other), ..unsigned() }.xml();
        assert_eq!(code(read_xml(&xml)), "issuer");
        let xml = ResponseBuilder { response_issuer: None, ..unsigned() }.xml();
        assert!(read_xml(&xml).is_ok());
    }

    #[test]
    fn audience_must_name_this_service_provider() {
        let xml = ResponseBuilder { audience: "https://other.example".into(), ..unsigned() }.xml();
        let refusal = read_xml(&xml).expect_err("refused");
        assert_eq!(refusal.code(), "audience");
        assert!(refusal.to_string().contains(ENTITY_ID));
        let start = xml.find("<saml:Conditions").expect("conditions");
        let end = xml.find("</saml:Conditions>").expect("end") + "</saml:Conditions>".len();
        let without_conditions = format!("{}{}", &xml[..start], &xml[end..]);
        assert_eq!(code(read_xml(&without_conditions)), "audience");
    }

    #[test]
    fn a_second_audience_restriction_must_name_it_too() {
        let xml = unsigned().xml().replacen(
            "</saml:Conditions>",
            "<saml:AudienceRestriction><saml:Audience>https://other.example</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
            1,
        );
        assert_eq!(code(read_xml(&xml)), "audience");
    }

    #[test]
    fn unknown_conditions_are_refused() {
        let xml = unsigned().xml().replacen(
            "</saml:Conditions>",
            r#"<saml:Condition xsi:type="xs:string">whatever</saml:Condition></saml:Conditions>"#,
            1,
        );
        assert_eq!(code(read_xml(&xml)), "condition");
    }

    #[test]
    fn validity_window_allows_the_skew_and_no_more() {
        let xml = unsigned().xml();
        let not_before = now() - TimeDelta::minutes(1);
        let not_on_or_after = now() + TimeDelta::minutes(5);
        assert!(read_at(&xml, false, not_before - MAX_SKEW).is_ok());
        assert_eq!(code(read_at(&xml, false, not_before - MAX_SKEW - TimeDelta::seconds(1))), "not_yet_valid");
        assert!(read_at(&xml, false, not_on_or_after + MAX_SKEW - TimeDelta::seconds(1)).is_ok());
        assert_eq!(code(read_at(&xml, false, not_on_or_after + MAX_SKEW)), "expired");
    }

    #[test]
    fn subject_confirmation_must_be_in_date_on_its_own() {
        // Conditions open for a day, the bearer confirmation expired.
        let xml = unsigned().xml();
        let late = now() + TimeDelta::minutes(30);
        let wide = xml.replacen(
            &format!(r#"NotOnOrAfter="{}">"#, stamp(now() + TimeDelta::minutes(5))),
            &format!(r#"NotOnOrAfter="{}">"#, stamp(now() + TimeDelta::days(1))),
            1,
        );
        let refusal = read_at(&wide, false, late).expect_err("refused");
        assert_eq!(refusal.code(), "expired");
        assert!(refusal.to_string().contains("SubjectConfirmationData"), "{refusal}");
    }

    #[test]
    fn subject_confirmation_needs_not_on_or_after() {
        let xml = unsigned().xml();
        let at = stamp(now() + TimeDelta::minutes(5));
        let without = xml.replacen(
            &format!(r#"<saml:SubjectConfirmationData NotOnOrAfter="{at}""#),
            "<saml:SubjectConfirmationData",
            1,
        );
        assert_eq!(code(read_xml(&without)), "missing");
    }

    #[test]
    fn expires_is_the_earliest_not_on_or_after_plus_skew() {
        let xml = unsigned().xml();
        let earlier = now() + TimeDelta::minutes(3);
        let at = stamp(now() + TimeDelta::minutes(5));
        let xml = xml.replacen(
            &format!(r#"<saml:SubjectConfirmationData NotOnOrAfter="{at}""#),
            &format!(r#"<saml:SubjectConfirmationData NotOnOrAfter="{}""#, stamp(earlier)),
            1,
        );
        assert_eq!(read_xml(&xml).expect("read").expires, earlier + MAX_SKEW);
    }

    #[test]
    fn recipient_must_be_the_acs_url() {
        let xml = ResponseBuilder { recipient: "https://other.example/acs".into(), ..unsigned() }.xml();
        assert_eq!(code(read_xml(&xml)), "recipient");
        let holder = unsigned().xml().replace("cm:bearer", "cm:holder-of-key");
        assert_eq!(code(read_xml(&holder)), "missing");
    }

    #[test]
    fn destination_must_be_the_acs_url_and_is_required_when_the_response_is_signed() {
        let xml = ResponseBuilder { destination: Some("https://other.example/acs".into()), ..unsigned() }.xml();
        assert_eq!(code(read_xml(&xml)), "destination");
        let xml = ResponseBuilder { destination: None, ..unsigned() }.xml();
        assert!(read_at(&xml, false, now()).is_ok());
        assert_eq!(code(read_at(&xml, true, now())), "missing");
    }

    /// What the Response says beyond its Assertion counts only when the Response is signed.
    #[test]
    fn response_in_response_to_counts_only_when_the_response_is_signed() {
        let xml =
            ResponseBuilder { response_in_response_to: Some("_other".into()), ..unsigned().answering("_req") }.xml();
        let read = read_at(&xml, false, now()).expect("unsigned Response's InResponseTo is not read");
        assert_eq!(read.in_response_to.as_deref(), Some("_req"));
        assert_eq!(code(read_at(&xml, true, now())), "in_response_to");
        let unsolicited = ResponseBuilder { response_in_response_to: Some("_other".into()), ..unsigned() }.xml();
        assert_eq!(code(read_at(&unsolicited, true, now())), "in_response_to");
        let both = unsigned().answering("_req").xml();
        assert_eq!(read_at(&both, true, now()).expect("read").in_response_to.as_deref(), Some("_req"));
    }

    #[test]
    fn name_id_is_all_its_text_without_comments() {
        let builder = ResponseBuilder { name_id: "admin@corp.example.evil.example".into(), ..unsigned() };
        let xml =
            builder.xml().replacen("admin@corp.example.evil.example", "admin@corp.example<!---->.evil.example", 1);
        assert_eq!(read_xml(&xml).expect("read").name_id, "admin@corp.example.evil.example");
        let with_cdata =
            builder.xml().replacen("admin@corp.example.evil.example", "admin@corp<![CDATA[.example]]>.evil.example", 1);
        assert_eq!(read_xml(&with_cdata).expect("read").name_id, "admin@corp.example.evil.example");
    }

    #[test]
    fn name_id_with_elements_or_empty_is_refused() {
        let xml = unsigned().xml();
        let nested =
            xml.replacen(">jane.doe@corp.example</saml:NameID>", "><b>jane.doe@corp.example</b></saml:NameID>", 1);
        assert_eq!(code(read_xml(&nested)), "name_id");
        let empty = xml.replacen(">jane.doe@corp.example</saml:NameID>", ">  </saml:NameID>", 1);
        assert_eq!(code(read_xml(&empty)), "name_id");
    }

    #[test]
    fn attribute_values_are_all_their_text() {
        let xml = ResponseBuilder { attributes: vec![Attribute::new("role", &["adm"])], ..unsigned() }.xml().replacen(
            ">adm<",
            ">adm<!---->in<",
            1,
        );
        assert_eq!(read_xml(&xml).expect("read").attributes["role"], ["admin"]);
    }

    fn with_attributes(name_id: &str, attributes: &[(&str, &str)]) -> Assertion {
        let attributes = attributes.iter().map(|(name, value)| Attribute::new(name, &[value])).collect();
        read_xml(&ResponseBuilder { name_id: name_id.into(), attributes, ..unsigned() }.xml()).expect("read")
    }

    #[test]
    fn email_comes_from_the_attributes_else_an_email_like_name_id() {
        let claim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
        assert_eq!(with_attributes("u123", &[(claim, "a@corp.example")]).email(), Some("a@corp.example"));
        assert_eq!(with_attributes("u123", &[("mail", "b@corp.example")]).email(), Some("b@corp.example"));
        assert_eq!(with_attributes("c@corp.example", &[]).email(), Some("c@corp.example"));
        assert_eq!(with_attributes("u123", &[]).email(), None);
        assert_eq!(with_attributes("CORP\\jane", &[]).email(), None);
    }

    #[test]
    fn display_name_falls_back_to_given_name_and_surname() {
        assert_eq!(with_attributes("u", &[("cn", "Jane Q. Doe")]).display_name().as_deref(), Some("Jane Q. Doe"));
        let parts = with_attributes("u", &[("givenName", "Jane"), ("sn", "Doe")]);
        assert_eq!(parts.display_name().as_deref(), Some("Jane Doe"));
        assert_eq!(with_attributes("u", &[("sn", "Doe")]).display_name().as_deref(), Some("Doe"));
        assert_eq!(with_attributes("u", &[]).display_name(), None);
    }

    #[test]
    fn times_without_zone_are_utc_and_garbage_is_refused() {
        let xml = unsigned().xml();
        let at = stamp(now() + TimeDelta::minutes(5));
        let naive = xml.replace(&at, at.trim_end_matches('Z'));
        assert_eq!(read_xml(&naive).expect("read").expires, now() + TimeDelta::minutes(5) + MAX_SKEW);
        let garbage = xml.replace(&at, "tomorrow");
        assert_eq!(code(read_xml(&garbage)), "invalid");
    }
}
