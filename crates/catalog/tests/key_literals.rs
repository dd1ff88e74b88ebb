//! Code outside the catalog names property keys through `patchbay_catalog::keys`, never as
//! string literals. This scans the sources, tests and benches of every crate that depends on
//! the catalog for a quoted catalog key in a place where it can only be a property key:
//! - the argument of an account accessor (`text`, `need_text`, `secret`, `need_secret`,
//!   `flag`, `int`) or of a helper taking `(cx, "key")`;
//! - a read or write of a `properties`/`secrets` map (`properties.get("…")`, `properties["…"]`,
//!   `.insert("…"`), also inside a JSON answer (`account["properties"]["…"]`);
//! - an object key (`"…":`) when the key is specific enough (it has an underscore) not to be
//!   an ordinary word of a vendor's JSON.
//!
//! A vendor's own field that happens to share a catalog key's name (Salesforce's
//! `instance_url` in a test peer's token answer) is marked on its line with a comment
//! saying `not a property key`, and why.
//!
//! It is a plain text scan of files in the repository, with no clock, network or ordering in
//! it, so it gives the same answer on every run; comments are skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use patchbay_catalog::catalog;

/// The folders scanned in every crate that depends on the catalog (the others, such as the
/// store, hold field names as opaque data and know no key).
const SCANNED: &[&str] = &["src", "tests", "benches"];
const ACCESSORS: &[&str] = &["text", "need_text", "secret", "need_secret", "flag", "int"];

fn property_keys() -> BTreeSet<String> {
    let fields = catalog()
        .types
        .iter()
        .flat_map(|t| &t.providers)
        .flat_map(|p| p.fields.iter().chain(p.actions.iter().flat_map(|a| &a.params)).map(|f| f.key.clone()));
    fields.collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Why the quoted `key` at `at` in `code` is a property key, if it is one.
fn property_use(code: &str, at: usize, key: &str) -> Option<&'static str> {
    let before = code[..at].trim_end();
    let after = &code[at + key.len() + 2..];
    if let Some(call) = before.strip_suffix('(') {
        let name = call.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or_default();
        if ACCESSORS.contains(&name) {
            return Some("an account accessor's argument");
        }
    }
    if before.ends_with("(cx,") {
        return Some("a helper's property argument");
    }
    let map_access = [
        "properties.get(",
        "properties[",
        "secrets.get(",
        ".insert(",
        "properties.remove(",
        "[\"properties\"][",
        "[\"secrets\"][",
    ];
    if map_access.iter().any(|m| before.ends_with(m)) && (before.contains("properties") || before.contains("secrets")) {
        return Some("a properties/secrets map access");
    }
    if after.starts_with(':') && !after.starts_with("::") && key.contains('_') {
        return Some("an object key");
    }
    None
}

fn literal_uses(file: &Path, keys: &BTreeSet<String>) -> Vec<String> {
    literal_uses_in(&std::fs::read_to_string(file).unwrap(), &file.display().to_string(), keys)
}

/// What marks a line whose quoted key is a vendor's field, not a property key.
const NOT_A_KEY: &str = "not a property key";

fn literal_uses_in(text: &str, name: &str, keys: &BTreeSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = match line.find("//") {
            Some(at) if line[at..].contains(NOT_A_KEY) => continue,
            Some(at) => &line[..at],
            None => line,
        };
        let mut rest = 0;
        while let Some(open) = code[rest..].find('"').map(|i| rest + i) {
            let Some(close) = code[open + 1..].find('"').map(|i| open + 1 + i) else { break };
            let word = &code[open + 1..close];
            if keys.contains(word) {
                if let Some(why) = property_use(code, open, word) {
                    found.push(format!("{name}:{}: \"{word}\" as {why}", n + 1));
                }
            }
            rest = close + 1;
        }
    }
    found
}

#[test]
fn no_property_key_is_spelled_as_a_literal_outside_the_catalog() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned();
    let keys = property_keys();
    let mut files = Vec::new();
    let mut others: Vec<PathBuf> = std::fs::read_dir(&crates)
        .expect("the crates folder")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| !path.ends_with("catalog"))
        .filter(|path| {
            std::fs::read_to_string(path.join("Cargo.toml")).is_ok_and(|manifest| manifest.contains("patchbay-catalog"))
        })
        .collect();
    others.sort();
    for known in ["connectors", "feeds", "server", "cli"] {
        assert!(others.iter().any(|p| p.ends_with(known)), "{known} is not among the scanned crates: {others:?}");
    }
    for crate_dir in &others {
        for dir in SCANNED.iter().map(|d| crate_dir.join(d)).filter(|d| d.is_dir()) {
            rust_files(&dir, &mut files);
        }
    }
    files.sort();
    let found: Vec<String> = files.iter().flat_map(|f| literal_uses(f, &keys)).collect();
    assert!(found.is_empty(), "use patchbay_catalog::keys instead of:\n{}", found.join("\n"));
}

#[test]
fn the_scan_finds_each_kind_of_property_use() {
    let keys: BTreeSet<String> = ["s3_bucket", "url", "host_name"].map(String::from).into();
    let cases = [
        (r#"let b = account.need_text("s3_bucket")?;"#, true),
        (r#"let u = base_url(cx, "url")?;"#, true),
        (r#"let x = desired.properties.get("url");"#, true),
        (r#"assert_eq!(got["properties"]["host_name"], "h");"#, true),
        (r#"assert_eq!(got["secrets"]["url"], true);"#, true),
        (r#"assert_eq!(got["answer"]["url"], "u");"#, false),
        (r#"json!({"host_name": "h"})"#, true),
        (r#"json!({"url": hook})"#, false),
        (r#"body.get("url")"#, false),
        (r#"// account.text("url")"#, false),
        (r#"json!({"host_name": "h"}) // not a property key: the vendor's field"#, false),
        (r#"json!({"host_name": "h"}) // a property key"#, true),
    ];
    for (code, flagged) in cases {
        assert_eq!(!literal_uses_in(code, "case.rs", &keys).is_empty(), flagged, "{code}");
    }
}
