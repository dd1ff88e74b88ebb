//! Small readers over roxmltree nodes, and base64 as SAML writes it.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use roxmltree::Node;

/// Standard alphabet; padding optional, as IdPs differ.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64 that may be wrapped into lines or indented (XML-DSig values, form fields).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    BASE64.decode(compact).ok()
}

pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Whether `node` is the element `local` of namespace `ns`.
pub(crate) fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == local
}

/// The child elements of `node`.
pub(crate) fn elements<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(Node::is_element)
}

/// The first child element `local` of namespace `ns`.
pub(crate) fn child<'a, 'input>(node: Node<'a, 'input>, ns: &str, local: &str) -> Option<Node<'a, 'input>> {
    elements(node).find(|c| is(*c, ns, local))
}

/// The child elements `local` of namespace `ns`.
pub(crate) fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    elements(node).filter(move |c| is(*c, ns, local))
}

/// All the text of an element's descendants, in document order, comments left out: text
/// split by a comment reads as one (`a<!---->b` is `ab`, as the signature saw it).
pub(crate) fn text(node: Node<'_, '_>) -> String {
    node.descendants().filter(Node::is_text).filter_map(|t| t.text()).collect()
}

/// The text of an element that may hold only text; `None` when it has child elements.
pub(crate) fn simple_text(node: Node<'_, '_>) -> Option<String> {
    if elements(node).next().is_some() {
        return None;
    }
    Some(text(node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_may_be_wrapped_and_unpadded() {
        assert_eq!(decode_base64("aGVs\n  bG8=\r\n").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("not base64!"), None);
    }

    #[test]
    fn text_joins_the_pieces_a_comment_splits() {
        let doc = roxmltree::Document::parse("<n>admin@corp.example<!---->.evil.example</n>").expect("xml");
        assert_eq!(text(doc.root_element()), "admin@corp.example.evil.example");
        assert_eq!(simple_text(doc.root_element()).as_deref(), Some("admin@corp.example.evil.example"));
    }

    #[test]
    fn simple_text_refuses_child_elements() {
        let doc = roxmltree::Document::parse("<n>admin<b>x</b></n>").expect("xml");
        assert_eq!(simple_text(doc.root_element()), None);
        assert_eq!(text(doc.root_element()), "adminx");
    }
}
