//! Only this service builds sealing contexts and holds the key ring at run time: the HTTP
//! crate and the engines reach secrets through it, and cannot name the vault's
//! `SecretContext` or `KeyRing` because they do not depend on the vault.

use std::path::Path;

fn dependencies(krate: &str) -> toml::Table {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut parsed: toml::Table = text.parse().unwrap();
    match parsed.remove("dependencies") {
        Some(toml::Value::Table(dependencies)) => dependencies,
        other => panic!("{}: no [dependencies] table: {other:?}", manifest.display()),
    }
}

#[test]
fn the_server_and_the_engines_reach_secrets_only_through_the_service() {
    for krate in ["server", "jobs"] {
        let dependencies = dependencies(krate);
        assert!(dependencies.contains_key("patchbay-secrets"), "{krate} uses the account-secrets service");
        assert!(!dependencies.contains_key("patchbay-vault"), "{krate} must not depend on the vault");
    }
}
