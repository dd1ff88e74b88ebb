//! The bounded XML-DSig profile SAML needs (SAML 2.0 core section 5.4): an enveloped
//! signature whose one Reference points at the very element that contains it, transformed by
//! enveloped-signature then exc-c14n, SignedInfo canonicalized by exc-c14n, RSA or ECDSA
//! with SHA-2. The key is only one of the account's; KeyInfo in the message is ignored.

use roxmltree::Node;
use sha2::Digest as _;

use crate::c14n::canonicalize;
use crate::keys::{IdentityProvider, SignatureAlgorithm};
use crate::names::{self, DSIG, EXC_C14N};
use crate::refusal::{shown, Refusal};
use crate::xml::{decode_base64, elements, is, simple_text};

#[derive(Clone, Copy)]
enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            DigestAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
            DigestAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Checks the `ds:Signature` node against the element that contains it (`element` names it
/// in refusals: "Response" or "Assertion").
pub(crate) fn verify(signature: Node<'_, '_>, idp: &IdentityProvider, element: &'static str) -> Result<(), Refusal> {
    let invalid = |reason: &str| Refusal::Signature { element, reason: reason.to_owned() };
    let signed = signature.parent_element().ok_or_else(|| invalid("it has no parent element"))?;

    let parts: Vec<_> = elements(signature).collect();
    let (signed_info, signature_value) = match parts.as_slice() {
        [info, value] => (*info, *value),
        [info, value, key_info] if is(*key_info, DSIG, "KeyInfo") => (*info, *value),
        _ => return Err(invalid("it must hold SignedInfo, SignatureValue and at most a KeyInfo, in that order")),
    };
    if !is(signed_info, DSIG, "SignedInfo") || !is(signature_value, DSIG, "SignatureValue") {
        return Err(invalid("it must hold SignedInfo, SignatureValue and at most a KeyInfo, in that order"));
    }

    let info: Vec<_> = elements(signed_info).collect();
    let [canonicalization, method, reference] = info.as_slice() else {
        let references = info.iter().filter(|n| is(**n, DSIG, "Reference")).count();
        return Err(invalid(&format!(
            "SignedInfo must hold CanonicalizationMethod, SignatureMethod and exactly one Reference (it has {references} References)"
        )));
    };
    if !is(*canonicalization, DSIG, "CanonicalizationMethod")
        || !is(*method, DSIG, "SignatureMethod")
        || !is(*reference, DSIG, "Reference")
    {
        return Err(invalid(
            "SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference, in that order",
        ));
    }
    let reference_parts: Vec<_> = elements(*reference).collect();
    let [transforms, digest_method, digest_value] = reference_parts.as_slice() else {
        return Err(invalid("the Reference must hold Transforms, DigestMethod and DigestValue"));
    };
    if !is(*transforms, DSIG, "Transforms")
        || !is(*digest_method, DSIG, "DigestMethod")
        || !is(*digest_value, DSIG, "DigestValue")
    {
        return Err(invalid("the Reference must hold Transforms, DigestMethod and DigestValue, in that order"));
    }

    // SHA-1 first, so that it is named as such wherever it appears.
    let method_uri = algorithm(*method);
    let digest_uri = algorithm(*digest_method);
    if let Some(sha1) = [method_uri, digest_uri].into_iter().find(|uri| names::SHA1_ALGORITHMS.contains(uri)) {
        return Err(Refusal::Sha1(shown(sha1)));
    }
    let signature_algorithm = match method_uri {
        names::RSA_SHA256 => SignatureAlgorithm::RsaSha256,
        names::RSA_SHA384 => SignatureAlgorithm::RsaSha384,
        names::RSA_SHA512 => SignatureAlgorithm::RsaSha512,
        names::ECDSA_SHA256 => SignatureAlgorithm::EcdsaSha256,
        names::ECDSA_SHA384 => SignatureAlgorithm::EcdsaSha384,
        other => return Err(Refusal::Algorithm(format!("the signature method {}", shown(other)))),
    };
    if elements(*method).next().is_some() {
        return Err(Refusal::Algorithm(format!("the signature method {} with parameters", shown(method_uri))));
    }
    let digest_algorithm = match digest_uri {
        names::SHA256 => DigestAlgorithm::Sha256,
        names::SHA384 => DigestAlgorithm::Sha384,
        names::SHA512 => DigestAlgorithm::Sha512,
        other => return Err(Refusal::Algorithm(format!("the digest method {}", shown(other)))),
    };
    let info_prefixes = exclusive_c14n_prefixes(*canonicalization)
        .ok_or_else(|| Refusal::Algorithm(format!("the canonicalization {}", shown(algorithm(*canonicalization)))))?;
    let reference_prefixes = transform_prefixes(*transforms)?;

    let id = signed.attribute("ID").ok_or_else(|| invalid(&format!("the signed {element} has no ID")))?;
    let uri = reference.attribute("URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(id) {
        return Err(invalid(&format!(
            "its Reference points at {}, not at the {element} that holds it ({})",
            shown(uri),
            shown(id)
        )));
    }

    let expected_digest = simple_text(*digest_value)
        .and_then(|t| decode_base64(&t))
        .ok_or_else(|| invalid("the DigestValue is not base64"))?;
    let signature_bytes = simple_text(signature_value)
        .and_then(|t| decode_base64(&t))
        .ok_or_else(|| invalid("the SignatureValue is not base64"))?;

    let digest = digest_algorithm.digest(&canonicalize(signed, Some(signature.id()), &reference_prefixes));
    if digest != expected_digest {
        return Err(invalid(&format!("the digest does not match: the {element} was changed after it was signed")));
    }
    let signed_info_octets = canonicalize(signed_info, None, &info_prefixes);
    if !idp.verifies(signature_algorithm, &signed_info_octets, &signature_bytes) {
        return Err(invalid(
            "it was not made by a certificate the account trusts: check that the account holds the IdP's current signing certificate",
        ));
    }
    Ok(())
}

fn algorithm<'a>(node: Node<'a, '_>) -> &'a str {
    node.attribute("Algorithm").unwrap_or_default()
}

/// Exactly enveloped-signature then exc-c14n; the prefixes of the latter's PrefixList.
fn transform_prefixes<'a>(transforms: Node<'a, '_>) -> Result<Vec<&'a str>, Refusal> {
    let list: Vec<_> = elements(transforms).collect();
    let named = || {
        let uris: Vec<_> = list.iter().map(|t| shown(algorithm(*t))).collect();
        Refusal::Algorithm(format!("the transforms {} (expected enveloped-signature then exc-c14n)", uris.join(", ")))
    };
    let [enveloped, exclusive] = list.as_slice() else { return Err(named()) };
    if !list.iter().all(|t| is(*t, DSIG, "Transform"))
        || algorithm(*enveloped) != names::ENVELOPED
        || elements(*enveloped).next().is_some()
    {
        return Err(named());
    }
    exclusive_c14n_prefixes(*exclusive).ok_or_else(named)
}

/// The InclusiveNamespaces PrefixList of an exc-c14n method element (`""` for `#default`),
/// or `None` when the method is anything else (with comments included).
fn exclusive_c14n_prefixes<'a>(method: Node<'a, '_>) -> Option<Vec<&'a str>> {
    if algorithm(method) != EXC_C14N {
        return None;
    }
    let parameters: Vec<_> = elements(method).collect();
    match parameters.as_slice() {
        [] => Some(Vec::new()),
        [inclusive] if is(*inclusive, EXC_C14N, "InclusiveNamespaces") => Some(
            inclusive
                .attribute("PrefixList")
                .unwrap_or_default()
                .split_ascii_whitespace()
                .map(|p| if p == "#default" { "" } else { p })
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first<'a, 'i>(doc: &'a roxmltree::Document<'i>, local: &str) -> Node<'a, 'i> {
        doc.descendants().find(|n| n.is_element() && n.tag_name().name() == local).expect("element")
    }

    #[test]
    fn prefix_list_is_read_with_default() {
        let xml = format!(
            r#"<t xmlns="{DSIG}" Algorithm="{EXC_C14N}"><ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="xs  #default saml"/></t>"#
        );
        let doc = roxmltree::Document::parse(&xml).expect("xml");
        assert_eq!(exclusive_c14n_prefixes(doc.root_element()), Some(vec!["xs", "", "saml"]));
    }

    #[test]
    fn exclusive_c14n_with_comments_is_not_exclusive_c14n() {
        let xml = format!(r#"<t Algorithm="{EXC_C14N}WithComments"/>"#);
        let doc = roxmltree::Document::parse(&xml).expect("xml");
        assert_eq!(exclusive_c14n_prefixes(doc.root_element()), None);
    }

    #[test]
    fn transforms_must_be_enveloped_then_exclusive() {
        let transforms = |list: &str| format!(r#"<ds:Transforms xmlns:ds="{DSIG}">{list}</ds:Transforms>"#);
        let t = |uri: &str| format!(r#"<ds:Transform Algorithm="{uri}"/>"#);
        let ok = transforms(&(t(names::ENVELOPED) + &t(EXC_C14N)));
        let doc = roxmltree::Document::parse(&ok).expect("xml");
        assert_eq!(transform_prefixes(first(&doc, "Transforms")).expect("accepted"), Vec::<&str>::new());
        for refused in [
            transforms(&t(EXC_C14N)),
            transforms(&(t(EXC_C14N) + &t(names::ENVELOPED))),
            transforms(&(t(names::ENVELOPED) + &t("http://www.w3.org/TR/2001/REC-xml-c14n-20010315"))),
            transforms(&(t(names::ENVELOPED) + &t(EXC_C14N) + &t("http://www.w3.org/TR/1999/REC-xslt-19991116"))),
        ] {
            let doc = roxmltree::Document::parse(&refused).expect("xml");
            let refusal = transform_prefixes(first(&doc, "Transforms")).expect_err("refused");
            assert_eq!(refusal.code(), "algorithm", "{refused}");
        }
    }
}
