//! Why a SAML Response is refused: one variant per reason, each with a stable code for logs
//! and metrics. Messages are for administrators: what to fix on the IdP or the account. They
//! may name ids, issuers, audiences and algorithms (clipped, control characters dropped,
//! through [`shown`]) and never carry the XML itself.

/// A SAML Response that is not accepted, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("the SAMLResponse is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the SAMLResponse is not base64")]
    NotBase64,
    #[error("the SAMLResponse is not UTF-8 text")]
    NotUtf8,
    #[error(
        "the SAMLResponse contains a document type declaration or an entity declaration, which SAML does not allow"
    )]
    Dtd,
    #[error("the SAMLResponse is not well-formed XML: {0}")]
    NotXml(String),
    #[error("the SAMLResponse is not a SAML 2.0 Response: {0}")]
    NotResponse(String),
    #[error("the IdP answered with status {code}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status { code: String, message: Option<String> },
    #[error("encrypted {0} are not supported: turn off assertion encryption for this service provider in the IdP")]
    Encrypted(&'static str),
    #[error("{0}")]
    Assertions(String),
    #[error("the ID {0} is used by more than one element")]
    DuplicateId(String),
    #[error("{0}")]
    SignaturePlacement(String),
    #[error("neither the Response nor the Assertion is signed: have the IdP sign the assertion")]
    Unsigned,
    #[error(
        "the signature uses SHA-1 ({0}), which is not accepted: have the IdP sign with RSA-SHA256 and SHA-256 digests"
    )]
    Sha1(String),
    #[error("the signature uses {0}, which is not supported: have the IdP sign with RSA-SHA256 and SHA-256 digests")]
    Algorithm(String),
    #[error("the signature of the {element} is not valid: {reason}")]
    Signature { element: &'static str, reason: String },
    #[error("the {element} was issued by {found}, but the account expects {expected}")]
    Issuer { element: &'static str, found: String, expected: String },
    #[error("the Assertion is meant for {found}, not for this service provider ({expected}): set the audience (SP entity ID) in the IdP to {expected}")]
    Audience { found: String, expected: String },
    #[error("the {element} is not valid before {at} (allowing {skew_seconds} s of clock skew): check the clocks of the IdP and this server")]
    NotYetValid { element: &'static str, at: String, skew_seconds: i64 },
    #[error("the {element} expired at {at} (allowing {skew_seconds} s of clock skew): sign in again, and check the clocks of the IdP and this server")]
    Expired { element: &'static str, at: String, skew_seconds: i64 },
    #[error("the Assertion's bearer confirmation is for {found}, not for this service provider's ACS URL {expected}: set the ACS URL in the IdP to {expected}")]
    Recipient { found: String, expected: String },
    #[error("the Response was sent to {found}, not to this service provider's ACS URL {expected}: set the ACS URL in the IdP to {expected}")]
    Destination { found: String, expected: String },
    #[error("the Response answers request {response}, but the Assertion answers {assertion}")]
    InResponseTo { response: String, assertion: String },
    #[error("the Assertion's NameID {0}")]
    NameId(&'static str),
    #[error("the Assertion has a condition this service provider does not understand ({0})")]
    Condition(String),
    #[error("the {0} is missing")]
    Missing(&'static str),
    #[error("the {what} is not valid: {why}")]
    Invalid { what: &'static str, why: String },
}

impl Refusal {
    /// A stable snake_case code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooLarge { .. } => "too_large",
            Refusal::NotBase64 => "base64",
            Refusal::NotUtf8 => "utf8",
            Refusal::Dtd => "dtd",
            Refusal::NotXml(_) => "xml",
            Refusal::NotResponse(_) => "not_response",
            Refusal::Status { .. } => "status",
            Refusal::Encrypted(_) => "encrypted",
            Refusal::Assertions(_) => "assertions",
            Refusal::DuplicateId(_) => "duplicate_id",
            Refusal::SignaturePlacement(_) => "signature_placement",
            Refusal::Unsigned => "unsigned",
            Refusal::Sha1(_) => "sha1",
            Refusal::Algorithm(_) => "algorithm",
            Refusal::Signature { .. } => "signature",
            Refusal::Issuer { .. } => "issuer",
            Refusal::Audience { .. } => "audience",
            Refusal::NotYetValid { .. } => "not_yet_valid",
            Refusal::Expired { .. } => "expired",
            Refusal::Recipient { .. } => "recipient",
            Refusal::Destination { .. } => "destination",
            Refusal::InResponseTo { .. } => "in_response_to",
            Refusal::NameId(_) => "name_id",
            Refusal::Condition(_) => "condition",
            Refusal::Missing(_) => "missing",
            Refusal::Invalid { .. } => "invalid",
        }
    }
}

/// Longest value from the message quoted in a refusal.
const SHOWN_CHARS: usize = 200;

/// A value taken from the message, fit for a refusal: control characters dropped, clipped.
pub(crate) fn shown(value: &str) -> String {
    let mut shown: String = value.chars().filter(|c| !c.is_control()).take(SHOWN_CHARS).collect();
    if value.chars().filter(|c| !c.is_control()).nth(SHOWN_CHARS).is_some() {
        shown.push('…');
    }
    format!("\"{shown}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_values_are_quoted_clipped_and_free_of_control_characters() {
        assert_eq!(shown("https://idp.example/\r\nforged"), "\"https://idp.example/forged\"");
        let long = shown(&"a".repeat(500));
        assert_eq!(long.chars().count(), SHOWN_CHARS + 3);
        assert!(long.ends_with("…\""));
    }

    #[test]
    fn codes_are_snake_case_and_distinct() {
        let all = [
            Refusal::TooLarge { limit: 1 },
            Refusal::NotBase64,
            Refusal::NotUtf8,
            Refusal::Dtd,
            Refusal::NotXml(String::new()),
            Refusal::NotResponse(String::new()),
            Refusal::Status { code: String::new(), message: None },
            Refusal::Encrypted("assertions"),
            Refusal::Assertions(String::new()),
            Refusal::DuplicateId(String::new()),
            Refusal::SignaturePlacement(String::new()),
            Refusal::Unsigned,
            Refusal::Sha1(String::new()),
            Refusal::Algorithm(String::new()),
            Refusal::Signature { element: "Response", reason: String::new() },
            Refusal::Issuer { element: "Response", found: String::new(), expected: String::new() },
            Refusal::Audience { found: String::new(), expected: String::new() },
            Refusal::NotYetValid { element: "Assertion", at: String::new(), skew_seconds: 0 },
            Refusal::Expired { element: "Assertion", at: String::new(), skew_seconds: 0 },
            Refusal::Recipient { found: String::new(), expected: String::new() },
            Refusal::Destination { found: String::new(), expected: String::new() },
            Refusal::InResponseTo { response: String::new(), assertion: String::new() },
            Refusal::NameId("is empty"),
            Refusal::Condition(String::new()),
            Refusal::Missing("Subject"),
            Refusal::Invalid { what: "NotBefore", why: String::new() },
        ];
        let mut codes: Vec<_> = all.iter().map(Refusal::code).collect();
        assert!(codes.iter().all(|c| c.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
