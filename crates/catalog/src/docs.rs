//! Markdown reference pages generated from the catalog: an index and one page per type.
//! A test keeps `docs/integrations/` equal to this output.

use std::fmt::Write;

use serde_json::Value;

use crate::model::*;

/// `(file name, contents)` of every page.
pub fn pages(catalog: &Catalog) -> Vec<(String, String)> {
    let mut pages = vec![("README.md".to_owned(), index(catalog))];
    pages.extend(catalog.types.iter().map(|t| (format!("{}.md", t.key), type_page(t))));
    pages
}

const GENERATED: &str = "<!-- Generated from the catalog (crates/catalog); do not edit. Regenerate with `PATCHBAY_BLESS=1 cargo test -p patchbay-catalog --test docs`. -->\n\n";

fn index(catalog: &Catalog) -> String {
    let mut s = String::from(GENERATED);
    s.push_str("# Integration types\n\n| type | key | providers | accounts per tenant | enabled by the service provider |\n| --- | --- | --- | --- | --- |\n");
    for t in &catalog.types {
        let providers: Vec<String> = t.providers.iter().map(|p| format!("`{}`", p.key)).collect();
        let _ = writeln!(
            s,
            "| [{}]({}.md) | `{}` | {} | {} | {} |",
            t.label,
            t.key,
            t.key,
            providers.join(", "),
            cardinality(&t.cardinality),
            if t.gated { "yes" } else { "no" }
        );
    }
    s
}

fn cardinality(c: &Cardinality) -> String {
    match c {
        Cardinality::Many => "many".into(),
        Cardinality::OnePerTenant { group } => format!("one (group `{group}`)"),
        Cardinality::OnePerProvider => "one per provider".into(),
    }
}

fn type_page(t: &IntegrationType) -> String {
    let mut s = String::from(GENERATED);
    let _ = writeln!(s, "# {} (`{}`)\n\n{}\n", t.label, t.key, t.description);
    let _ = writeln!(s, "- Accounts per tenant: {}", cardinality(&t.cardinality));
    let _ = writeln!(s, "- Must be enabled by the service provider: {}", if t.gated { "yes" } else { "no" });
    for note in &t.notes {
        let _ = writeln!(s, "- {note}");
    }
    for p in &t.providers {
        let _ = writeln!(s, "\n## Provider `{}`: {}\n", p.key, p.label);
        s.push_str("| property | label | kind | default | required | notes |\n| --- | --- | --- | --- | --- | --- |\n");
        for f in &p.fields {
            let default = match (&f.default, f.fixed) {
                (Some(v), true) => format!("{} (fixed)", show(v)),
                (Some(v), false) => show(v),
                (None, _) => String::new(),
            };
            let required = match &f.required {
                Required::Never => "no".to_owned(),
                Required::Always => "yes".to_owned(),
                Required::If { field, equals } => format!("when `{field}` is {equals}"),
            };
            let added =
                f.addition.map(|why| format!(" *Added by patchbay (not in the spec):* {why}")).unwrap_or_default();
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | {}{added} |",
                f.key,
                f.label,
                kind(&f.kind),
                default,
                required,
                f.help
            );
        }
        let targets: Vec<String> = p.target_fields().map(|f| format!("`{}`", f.key)).collect();
        if !targets.is_empty() && p.secret_fields().next().is_some() {
            let (verb, it) = if targets.len() == 1 { ("decides", "it") } else { ("decide", "any of them") };
            let _ = writeln!(
                s,
                "\n**Where the secrets go:** {} {verb} where the secrets are sent; a change to {it} needs every \
                 stored secret entered again (rule `reenter_secret_on_target_change`).",
                targets.join(", ")
            );
        }
        match &p.test {
            TestSupport::Supported { probe } => {
                let _ = writeln!(s, "\n**Test connection:** {probe}");
            }
            TestSupport::None { reason } => {
                let _ = writeln!(s, "\n**Test connection:** none. {reason}");
            }
        }
        if let Some(inbound) = &p.inbound {
            let _ = writeln!(
                s,
                "\n**Inbound webhook:** the account's `inbound_webhook_url` receives the vendor's deliveries \
                 (see [the messenger edge](../edge.md)). Proof checked: {}",
                inbound.proof
            );
        }
        for a in &p.actions {
            let _ = writeln!(s, "\n**Action `{}` ({}):** {}", a.key, a.label, a.help);
            for param in &a.params {
                let _ = writeln!(s, "- parameter `{}`: {}", param.key, param.help);
            }
        }
        if let Some(group) = p.default_group {
            let _ = writeln!(s, "\nAt most one account of the tenant in group `{group}` has `default_account` set.");
        }
    }
    s
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "empty".into(),
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn kind(k: &FieldKind) -> String {
    match k {
        FieldKind::Text { rule: Some(rule), .. } => {
            format!("text ({})", serde_json::to_value(rule).unwrap_or_default().as_str().unwrap_or(""))
        }
        FieldKind::Text { .. } => "text".into(),
        FieldKind::Secret { .. } => "secret (write-only)".into(),
        FieldKind::Url { schemes } => {
            format!("URL ({})", schemes.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(", "))
        }
        FieldKind::Integer { min, max, unit } => {
            format!("integer {min}-{max}{}", unit.map(|u| format!(" {u}")).unwrap_or_default())
        }
        FieldKind::Bool => "bool".into(),
        FieldKind::Enum { choices } => {
            format!("one of {}", choices.iter().map(|c| format!("`{}`", c.value)).collect::<Vec<_>>().join(", "))
        }
        FieldKind::Mapping { key_label, value_label, .. } => format!("table {key_label} → {value_label}"),
        FieldKind::ContactFieldMapping => "rows external field → contact field".into(),
        FieldKind::RecordFieldSizes { fields } => format!(
            "field sizes: {}",
            fields
                .iter()
                .map(|f| format!("`{}` {} ({}-{})", f.key, f.default, f.min, f.max))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
