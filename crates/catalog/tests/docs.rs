//! `docs/integrations/` is generated from the catalog; this fails when it is stale.
//! `PATCHBAY_BLESS=1` rewrites the pages.

use std::path::PathBuf;

#[test]
fn integration_docs_match_the_catalog() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/integrations");
    let pages = patchbay_catalog::docs::pages(patchbay_catalog::catalog());
    if std::env::var_os("PATCHBAY_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &pages {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    let mut stale = Vec::new();
    for (name, text) in &pages {
        if std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text.as_str()) {
            stale.push(name.clone());
        }
    }
    let expected: Vec<&String> = pages.iter().map(|(n, _)| n).collect();
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !expected.contains(&n))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "docs/integrations is stale ({stale:?}, extra {extra:?}); run PATCHBAY_BLESS=1 cargo test -p patchbay-catalog --test docs"
    );
}
