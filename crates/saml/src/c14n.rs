//! Exclusive XML Canonicalization 1.0 without comments
//! (<https://www.w3.org/TR/xml-exc-c14n/>) of one element's subtree, with the escaping and
//! ordering rules of Canonical XML 1.0 (<https://www.w3.org/TR/xml-c14n/#ProcessingModel>).
//!
//! roxmltree resolves names to namespace URIs but keeps no prefixes, so the prefixes of
//! element and attribute names are read from the input text through the nodes' byte ranges.
//! The in-scope namespaces of an element come from roxmltree (inherited ones included).

use roxmltree::{Node, NodeId, NodeType};

/// The prefix `xml` is bound by definition and never declared in the output.
const XML_PREFIX: &str = "xml";

/// The exc-c14n octets of `apex` and its descendants, leaving out the subtree of `omit`
/// (the enveloped-signature transform's Signature). `inclusive` is the InclusiveNamespaces
/// PrefixList, with `""` for `#default`: those prefixes are rendered by the rules of
/// Canonical XML 1.0 (whenever in scope) instead of only where visibly utilized.
pub(crate) fn canonicalize(apex: Node<'_, '_>, omit: Option<NodeId>, inclusive: &[&str]) -> Vec<u8> {
    let input = apex.document().input_text();
    let mut out = String::with_capacity(apex.range().len());
    // Namespace declarations rendered by the output ancestors of the element being written,
    // innermost last: (prefix, URI), "" being the default namespace.
    let mut rendered: Vec<(&str, &str)> = Vec::new();
    // An explicit stack instead of recursion: nesting depth does not grow the call stack.
    let mut steps = vec![Step::Open(apex)];
    while let Some(step) = steps.pop() {
        let node = match step {
            Step::Close { qname, rendered_len } => {
                out.push_str("</");
                out.push_str(qname);
                out.push('>');
                rendered.truncate(rendered_len);
                continue;
            }
            Step::Open(node) => node,
        };
        match node.node_type() {
            NodeType::Element if Some(node.id()) == omit => {}
            NodeType::Element => {
                let rendered_len = rendered.len();
                let qname = element_qname(input, node);
                out.push('<');
                out.push_str(qname);
                write_namespaces(node, prefix_of(qname), inclusive, &mut rendered, &mut out);
                write_attributes(input, node, &mut out);
                out.push('>');
                steps.push(Step::Close { qname, rendered_len });
                steps.extend(node.children().rev().map(Step::Open));
            }
            NodeType::Text => escape_text(node.text().unwrap_or_default(), &mut out),
            NodeType::PI => {
                if let Some(pi) = node.pi() {
                    out.push_str("<?");
                    out.push_str(pi.target);
                    if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                        out.push(' ');
                        out.push_str(value);
                    }
                    out.push_str("?>");
                }
            }
            // Without comments; the root node is never below an element.
            NodeType::Comment | NodeType::Root => {}
        }
    }
    out.into_bytes()
}

enum Step<'a, 'input> {
    Open(Node<'a, 'input>),
    Close { qname: &'input str, rendered_len: usize },
}

/// The element's qualified name as written in its start tag.
fn element_qname<'input>(input: &'input str, node: Node<'_, 'input>) -> &'input str {
    let tag = &input[node.range().start + 1..];
    let end = tag.find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>').unwrap_or(tag.len());
    &tag[..end]
}

/// The prefix of a qualified name, `""` when it has none.
fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(prefix, _)| prefix)
}

/// The value the element has in scope for `prefix` (`""` when none, or undeclared by `xmlns=""`).
fn in_scope<'a>(node: Node<'a, '_>, prefix: &str) -> &'a str {
    let wanted = (!prefix.is_empty()).then_some(prefix);
    node.namespaces().find(|ns| ns.name() == wanted).map_or("", |ns| ns.uri())
}

fn write_namespaces<'a>(
    node: Node<'a, '_>,
    element_prefix: &str,
    inclusive: &[&str],
    rendered: &mut Vec<(&'a str, &'a str)>,
    out: &mut String,
) {
    let input = node.document().input_text();
    // Visibly utilized: the element's own prefix (the default namespace when unprefixed) and
    // the prefixes of its attributes (unprefixed attributes are in no namespace).
    let mut prefixes: Vec<&str> = vec![element_prefix];
    prefixes.extend(node.attributes().map(|a| prefix_of(&input[a.range_qname()])).filter(|p| !p.is_empty()));
    // The PrefixList's prefixes when in scope; `#default` always, so that an `xmlns=""`
    // under a rendered default namespace is written as Canonical XML 1.0 does.
    prefixes.extend(inclusive.iter().copied().filter(|p| p.is_empty() || !in_scope(node, p).is_empty()));
    prefixes.sort_unstable();
    prefixes.dedup();
    for prefix in prefixes.into_iter().filter(|p| *p != XML_PREFIX) {
        let Some(ns) = node.namespaces().find(|ns| ns.name().unwrap_or_default() == prefix) else {
            // No default namespace in scope: one is written (as `xmlns=""`) only to undo a
            // non-empty default an output ancestor rendered.
            if prefix.is_empty() && rendered_value(rendered, "").is_some_and(|uri| !uri.is_empty()) {
                out.push_str(" xmlns=\"\"");
                rendered.push(("", ""));
            }
            continue;
        };
        let (prefix, uri) = (ns.name().unwrap_or_default(), ns.uri());
        if rendered_value(rendered, prefix).unwrap_or_default() == uri {
            continue;
        }
        out.push_str(" xmlns");
        if !prefix.is_empty() {
            out.push(':');
            out.push_str(prefix);
        }
        out.push_str("=\"");
        escape_attribute(uri, out);
        out.push('"');
        rendered.push((prefix, uri));
    }
}

fn rendered_value<'a>(rendered: &[(&str, &'a str)], prefix: &str) -> Option<&'a str> {
    rendered.iter().rev().find(|(p, _)| *p == prefix).map(|(_, uri)| *uri)
}

/// Attributes sorted by namespace URI (none first), then local name.
fn write_attributes(input: &str, node: Node<'_, '_>, out: &mut String) {
    let mut attributes: Vec<_> = node.attributes().collect();
    attributes.sort_by(|a, b| {
        (a.namespace().unwrap_or_default(), a.name()).cmp(&(b.namespace().unwrap_or_default(), b.name()))
    });
    for attribute in attributes {
        out.push(' ');
        out.push_str(&input[attribute.range_qname()]);
        out.push_str("=\"");
        escape_attribute(attribute.value(), out);
        out.push('"');
    }
}

/// Text nodes: `&`, `<`, `>` and carriage returns are escaped.
pub(crate) fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Attribute values: `&`, `<`, `"` and the whitespace characters other than space are escaped.
pub(crate) fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n_of(xml: &str, element: &str, inclusive: &[&str]) -> String {
        let doc = roxmltree::Document::parse(xml).expect("well-formed");
        let apex = doc.descendants().find(|n| n.is_element() && n.tag_name().name() == element).expect("element");
        String::from_utf8(canonicalize(apex, None, inclusive)).expect("utf-8")
    }

    /// The example of exc-c14n section 2.2: the same subtree in two documents canonicalizes
    /// the same, with only the namespaces it uses, declared where first used.
    #[test]
    fn exclusive_form_of_a_subtree_ignores_the_context_it_was_in() {
        let first = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
        let second = r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n2:pdu>"#;
        let expected = r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#;
        assert_eq!(c14n_of(first, "elem2", &[]), expected);
        assert_eq!(c14n_of(second, "elem2", &[]), expected);
    }

    /// A namespace declared on an ancestor outside the subtree is written on the first
    /// output element that uses it (the enveloped Assertion of a Response).
    #[test]
    fn namespace_from_outside_the_subtree_is_declared_where_used() {
        let xml = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net"><n3:stuff/><n3:more/></n1:elem2></n0:local>"#;
        assert_eq!(
            c14n_of(xml, "elem2", &[]),
            r#"<n1:elem2 xmlns:n1="http://example.net"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff><n3:more xmlns:n3="ftp://example.org"></n3:more></n1:elem2>"#
        );
    }

    /// Canonical XML 1.0 section 3.3 (start and end tags) read exclusively: empty elements
    /// get end tags, whitespace in tags goes, attributes sort by namespace URI then name,
    /// declarations sort by prefix, and `xmlns=""` appears only to undo a rendered default.
    #[test]
    fn start_and_end_tags_follow_the_spec_example() {
        let xml = "<doc>\n   <e1   />\n   <e2   ></e2>\n   <e3   name = \"elem3\"   id=\"elem3\"   />\n   <e4   name=\"elem4\"   id=\"elem4\"   ></e4>\n   <e5 a:attr=\"out\" b:attr=\"sorted\" attr2=\"all\" attr=\"I'm\"\n      xmlns:b=\"http://www.ietf.org\"\n      xmlns:a=\"http://www.w3.org\"\n      xmlns=\"http://example.org\"/>\n   <e6 xmlns=\"\" xmlns:a=\"http://www.w3.org\">\n      <e7 xmlns=\"http://www.ietf.org\">\n         <e8 xmlns=\"\" xmlns:a=\"http://www.w3.org\">\n            <e9 xmlns=\"\" xmlns:a=\"http://www.ietf.org\" attr=\"default\"/>\n         </e8>\n      </e7>\n   </e6>\n</doc>";
        let expected = "<doc>\n   <e1></e1>\n   <e2></e2>\n   <e3 id=\"elem3\" name=\"elem3\"></e3>\n   <e4 id=\"elem4\" name=\"elem4\"></e4>\n   <e5 xmlns=\"http://example.org\" xmlns:a=\"http://www.w3.org\" xmlns:b=\"http://www.ietf.org\" attr=\"I'm\" attr2=\"all\" b:attr=\"sorted\" a:attr=\"out\"></e5>\n   <e6>\n      <e7 xmlns=\"http://www.ietf.org\">\n         <e8 xmlns=\"\">\n            <e9 attr=\"default\"></e9>\n         </e8>\n      </e7>\n   </e6>\n</doc>";
        assert_eq!(c14n_of(xml, "doc", &[]), expected);
    }

    /// Canonical XML 1.0 section 3.4 (character modifications and character references),
    /// without its DTD (so every attribute is CDATA): references are replaced, CDATA
    /// sections become escaped text, attribute values are normalized then escaped.
    #[test]
    fn characters_are_escaped_as_the_spec_example() {
        let xml = "<doc>\n   <text>First line&#x0d;&#10;Second line</text>\n   <value>&#x32;</value>\n   <compute><![CDATA[value>\"0\" && value<\"10\" ?\"valid\":\"error\"]]></compute>\n   <compute expr='value>\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"'>valid</compute>\n   <norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/>\n   <normNames attr='   A   &#x20;&#13;&#xa;&#9;   B   '/>\n</doc>";
        let expected = "<doc>\n   <text>First line&#xD;\nSecond line</text>\n   <value>2</value>\n   <compute>value&gt;\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"</compute>\n   <compute expr=\"value>&quot;0&quot; &amp;&amp; value&lt;&quot;10&quot; ?&quot;valid&quot;:&quot;error&quot;\">valid</compute>\n   <norm attr=\" '    &#xD;&#xA;&#x9;   ' \"></norm>\n   <normNames attr=\"   A    &#xD;&#xA;&#x9;   B   \"></normNames>\n</doc>";
        assert_eq!(c14n_of(xml, "doc", &[]), expected);
    }

    /// Canonical XML 1.0 section 3.6: characters are written as UTF-8, not as references.
    #[test]
    fn character_references_become_utf8() {
        assert_eq!(c14n_of("<doc>&#169;</doc>", "doc", &[]), "<doc>\u{a9}</doc>");
    }

    /// Line ends in text are normalized to line feeds when parsed; carriage returns that
    /// were written as references stay, escaped.
    #[test]
    fn line_ends_are_normalized_and_carriage_returns_escaped() {
        assert_eq!(c14n_of("<doc>a\r\nb&#13;c</doc>", "doc", &[]), "<doc>a\nb&#xD;c</doc>");
    }

    #[test]
    fn comments_are_dropped_and_processing_instructions_kept() {
        assert_eq!(
            c14n_of("<doc>a<!-- x -->b<?pi  data?><?bare?></doc>", "doc", &[]),
            "<doc>ab<?pi data?><?bare?></doc>"
        );
    }

    /// A prefix used only inside a value (an `xsi:type` QName) is declared only when the
    /// PrefixList names it; then on the apex, where it is in scope.
    #[test]
    fn prefix_list_declares_prefixes_used_only_in_content() {
        let xml = r#"<r xmlns:a="urn:a" xmlns:xs="urn:xs" xmlns:xsi="urn:xsi"><a:v xsi:type="xs:string">x</a:v></r>"#;
        assert_eq!(c14n_of(xml, "v", &[]), r#"<a:v xmlns:a="urn:a" xmlns:xsi="urn:xsi" xsi:type="xs:string">x</a:v>"#);
        assert_eq!(
            c14n_of(xml, "v", &["xs"]),
            r#"<a:v xmlns:a="urn:a" xmlns:xs="urn:xs" xmlns:xsi="urn:xsi" xsi:type="xs:string">x</a:v>"#
        );
        // A listed prefix that is not in scope is not written.
        assert_eq!(c14n_of(xml, "v", &["zz"]), c14n_of(xml, "v", &[]));
    }

    /// `#default` in the PrefixList renders the default namespace on an element that does
    /// not use it, and only once down the tree.
    #[test]
    fn prefix_list_default_renders_the_default_namespace() {
        let xml = r#"<r xmlns="urn:d" xmlns:a="urn:a"><a:v><a:w/></a:v></r>"#;
        assert_eq!(c14n_of(xml, "v", &[]), r#"<a:v xmlns:a="urn:a"><a:w></a:w></a:v>"#);
        assert_eq!(c14n_of(xml, "v", &[""]), r#"<a:v xmlns="urn:d" xmlns:a="urn:a"><a:w></a:w></a:v>"#);
    }

    /// A declaration repeated with the same value below an output ancestor that rendered it
    /// is not written again; one with another value is.
    #[test]
    fn redeclarations_are_written_only_when_the_value_changes() {
        let xml = r#"<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:1"><p:c xmlns:p="urn:2"/></p:b></p:a>"#;
        assert_eq!(c14n_of(xml, "a", &[]), r#"<p:a xmlns:p="urn:1"><p:b><p:c xmlns:p="urn:2"></p:c></p:b></p:a>"#);
    }

    #[test]
    fn omitted_subtree_is_left_out() {
        let xml = r#"<a ID="1"> <s><t/></s> <b/></a>"#;
        let doc = roxmltree::Document::parse(xml).expect("well-formed");
        let s = doc.descendants().find(|n| n.has_tag_name("s")).expect("s");
        let out = canonicalize(doc.root_element(), Some(s.id()), &[]);
        assert_eq!(String::from_utf8(out).expect("utf-8"), r#"<a ID="1">  <b></b></a>"#);
    }

    #[test]
    fn default_namespace_is_declared_on_the_apex() {
        let xml = r#"<r xmlns="urn:d"><v a="1"><w/></v></r>"#;
        assert_eq!(c14n_of(xml, "v", &[]), r#"<v xmlns="urn:d" a="1"><w></w></v>"#);
    }
}
