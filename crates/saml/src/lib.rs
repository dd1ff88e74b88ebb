//! SAML 2.0 single sign-on for a service provider: parsing and verifying Responses of the
//! HTTP-POST binding under a bounded XML-DSig profile (enveloped, exclusive XML
//! canonicalization, RSA or ECDSA with SHA-2, keys only from the account's certificates),
//! exclusive XML canonicalization itself, the SP-initiated AuthnRequest of the HTTP-Redirect
//! binding, and the SP metadata.
//!
//! Must not do I/O, read the clock (callers pass `now`), keep state (the replay cache and the
//! requests in flight are the caller's), or log a response's content; refusals carry no XML.

mod c14n;
mod dsig;
mod keys;
mod metadata;
mod names;
mod refusal;
mod request;
mod response;
mod xml;

pub use keys::{CertificateError, IdentityProvider};
pub use metadata::sp_metadata;
pub use refusal::Refusal;
pub use request::{authn_request_url, new_request_id};
pub use response::{verify_response, Assertion, Checks, MAX_SKEW};

/// This service provider as one account configures it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceProvider {
    /// The SP entity ID: the audience assertions must name.
    pub entity_id: String,
    /// The Assertion Consumer Service URL (HTTP-POST): Destination and Recipient.
    pub acs_url: String,
}
