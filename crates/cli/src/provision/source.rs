//! The provisioning files: their format, reading them (files and directories, one or many
//! YAML documents each), and checking them against the catalog, with secret references
//! resolved, before anything is changed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use patchbay_api::{AccountCreate, AccountUpdate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use patchbay_catalog::Catalog;

use super::catalog::{field_keys, gated_keys, provider_keys, type_keys};

/// One YAML document.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub tenants: Vec<TenantSpec>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    pub id: String,
    /// Left alone when omitted (the id when the tenant is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Left alone when omitted (none when the tenant is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_types: Option<Vec<String>>,
    /// The IANA time zone of the tenant's days; left alone when omitted (UTC when the
    /// tenant is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// When omitted, the tenant's accounts are not managed (and never pruned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountSpec>>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub type_key: String,
    /// May be left out for types with one provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
}

fn enabled_by_default() -> bool {
    true
}

/// A secret value read from the environment or a file. Deliberately neither `Debug` nor
/// `Display`: it only ever goes into a request body.
pub struct SecretValue(String);

/// A tenant as the files want it, checked and with its secrets resolved.
pub struct DesiredTenant {
    pub id: String,
    pub name: Option<String>,
    /// Sorted and without duplicates, as the server keeps them.
    pub enabled_types: Option<Vec<String>>,
    pub time_zone: Option<String>,
    pub accounts: Option<Vec<DesiredAccount>>,
}

pub struct DesiredAccount {
    pub name: String,
    pub type_key: String,
    pub provider: String,
    pub enabled: bool,
    /// The non-secret properties as written.
    pub properties: Map<String, Value>,
    /// Secrets the files set (`Some`) or clear (`None`); the others keep their stored value.
    pub secrets: BTreeMap<String, Option<SecretValue>>,
}

impl DesiredAccount {
    /// The create body: the files' values with the secrets resolved.
    pub fn create(&self) -> AccountCreate {
        let mut properties = self.properties.clone();
        for (key, secret) in &self.secrets {
            properties.insert(key.clone(), secret.as_ref().map_or(Value::Null, |s| Value::String(s.0.clone())));
        }
        AccountCreate {
            type_key: self.type_key.clone(),
            provider: Some(self.provider.clone()),
            name: Some(self.name.clone()),
            enabled: Some(self.enabled),
            properties: Some(properties),
        }
    }

    /// The update body: the same fields (a secret cleared as `null`, one the files omit kept).
    pub fn update(&self) -> AccountUpdate {
        let AccountCreate { type_key, provider, name, enabled, properties } = self.create();
        AccountUpdate { type_key: Some(type_key), provider, name, enabled, properties, ..AccountUpdate::default() }
    }
}

/// Tenant ids appear in URLs: the server's rule, checked before any request.
fn valid_tenant_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The files `paths` name: files as given, directories searched (recursively, in name order)
/// for `.yaml`, `.yml` and `.json` files, skipping hidden entries.
fn files(paths: &[PathBuf], problems: &mut Vec<String>) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<String>) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return problems.push(format!("{}: cannot read the directory: {e}", dir.display())),
        };
        let mut entries: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out, problems);
            } else if path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = out.len();
            walk(path, &mut out, problems);
            if out.len() == before {
                problems.push(format!("{}: the directory holds no .yaml, .yml or .json file", path.display()));
            }
        } else if path.exists() {
            out.push(path.clone());
        } else {
            problems.push(format!("{}: no such file or directory", path.display()));
        }
    }
    out
}

/// Reads every document of the files `paths` name, each tenant with the file it came from.
pub fn read(paths: &[PathBuf], problems: &mut Vec<String>) -> Vec<(PathBuf, TenantSpec)> {
    // No source snippets in errors: a line of a file may hold an inline secret.
    let options = serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let mut tenants = Vec::new();
    for file in files(paths, problems) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{}: cannot read: {e}", file.display()));
                continue;
            }
        };
        match serde_saphyr::from_multiple_with_options::<Document>(&text, options.clone()) {
            Ok(docs) => tenants.extend(docs.into_iter().flat_map(|d| d.tenants).map(|t| (file.clone(), t))),
            Err(e) => problems.push(format!("{}: {e}", file.display())),
        }
    }
    tenants
}

/// How a secret property is written.
enum Reference<'a> {
    Env(&'a str),
    File(&'a str),
    Inline,
}

fn reference(value: &str) -> Reference<'_> {
    if let Some(var) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        let valid = var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            return Reference::Env(var);
        }
    }
    match value.strip_prefix("file:") {
        Some(path) if !path.is_empty() => Reference::File(path),
        _ => Reference::Inline,
    }
}

/// Resolves one secret property; the error names the property, never the value.
fn resolve_secret(value: &Value, file: &Path, allow_inline: bool) -> Result<Option<SecretValue>, String> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s,
        _ => return Err("a secret is a reference: ${ENV_VAR} or file:PATH (or null to clear it)".into()),
    };
    let secret = match reference(text) {
        Reference::Env(var) => match std::env::var(var) {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => return Err(format!("the environment variable {var} is not set")),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(format!("the environment variable {var} is not valid UTF-8"))
            }
        },
        Reference::File(path) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(path);
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_owned()
        }
        Reference::Inline if allow_inline => text.clone(),
        Reference::Inline => return Err(
            "the value is written inline; write a reference (${ENV_VAR} or file:PATH), or pass --allow-inline-secrets"
                .into(),
        ),
    };
    if secret.is_empty() {
        return Err("the referenced value is empty (write null to clear a secret)".into());
    }
    Ok(Some(SecretValue(secret)))
}

/// Checks the tenants read from the files against the catalog and resolves their secret
/// references. Every problem is reported, each naming its file, tenant, account and property.
pub fn check(
    tenants: Vec<(PathBuf, TenantSpec)>,
    catalog: &Catalog,
    allow_inline: bool,
    problems: &mut Vec<String>,
) -> Vec<DesiredTenant> {
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut out = Vec::new();
    for (file, spec) in tenants {
        let at = format!("{}: tenant {}", file.display(), spec.id);
        if !valid_tenant_id(&spec.id) {
            problems.push(format!("{at}: a tenant id is 1-63 characters of a-z, 0-9 and -"));
        }
        if let Some(first) = seen.get(&spec.id) {
            problems.push(format!("{at}: the tenant is also declared in {}", first.display()));
        }
        seen.entry(spec.id.clone()).or_insert_with(|| file.clone());
        if spec.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            problems.push(format!("{at}: the name is empty"));
        }
        let enabled_types = spec.enabled_types.map(|mut types| {
            for t in &types {
                if !catalog.get(t).is_some_and(|ty| ty.gated) {
                    problems.push(format!(
                        "{at}: enabled_types: `{t}` is not a gated type (gated types: {})",
                        gated_keys(catalog)
                    ));
                }
            }
            types.sort();
            types.dedup();
            types
        });
        let accounts = spec.accounts.map(|accounts| {
            let mut names: HashMap<String, String> = HashMap::new();
            accounts
                .into_iter()
                .filter_map(|account| {
                    let at = format!("{at}, account \"{}\"", account.name);
                    if let Some(first) = names.insert(account.name.to_lowercase(), account.name.clone()) {
                        problems.push(format!(
                            "{at}: the name is taken by \"{first}\" (names are unique per tenant, ignoring case)"
                        ));
                    }
                    check_account(account, &file, catalog, allow_inline, &at, problems)
                })
                .collect()
        });
        if spec.time_zone.as_deref().is_some_and(|z| z.trim().is_empty()) {
            problems.push(format!("{at}: the time zone is empty"));
        }
        out.push(DesiredTenant { id: spec.id, name: spec.name, enabled_types, time_zone: spec.time_zone, accounts });
    }
    out
}

fn check_account(
    account: AccountSpec,
    file: &Path,
    catalog: &Catalog,
    allow_inline: bool,
    at: &str,
    problems: &mut Vec<String>,
) -> Option<DesiredAccount> {
    if account.name.trim().is_empty() {
        problems.push(format!("{at}: the name is empty"));
    }
    let Some(ty) = catalog.get(&account.type_key) else {
        problems.push(format!("{at}: unknown type `{}` (types: {})", account.type_key, type_keys(catalog)));
        return None;
    };
    let provider_key = match account.provider.as_deref() {
        Some(p) => p,
        None if ty.providers.len() == 1 => ty.providers[0].key,
        None => {
            problems.push(format!("{at}: `provider` is required for `{}`: one of {}", ty.key, provider_keys(ty)));
            return None;
        }
    };
    let Some(provider) = ty.provider(provider_key) else {
        problems.push(format!(
            "{at}: unknown provider `{provider_key}` for `{}` (providers: {})",
            ty.key,
            provider_keys(ty)
        ));
        return None;
    };
    let mut properties = Map::new();
    let mut secrets = BTreeMap::new();
    for (key, value) in account.properties {
        match provider.field(&key) {
            None => problems.push(format!(
                "{at}: `{key}` is not a property of {}/{} (properties: {})",
                ty.key,
                provider.key,
                field_keys(provider)
            )),
            Some(field) if field.kind.is_secret() => match resolve_secret(&value, file, allow_inline) {
                Ok(secret) => {
                    secrets.insert(key, secret);
                }
                Err(why) => problems.push(format!("{at}, secret property `{key}`: {why}")),
            },
            Some(_) => {
                properties.insert(key, value);
            }
        }
    }
    Some(DesiredAccount {
        name: account.name,
        type_key: ty.key.to_owned(),
        provider: provider.key.to_owned(),
        enabled: account.enabled,
        properties,
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_whole_values() {
        assert!(matches!(reference("${FB_TOKEN}"), Reference::Env("FB_TOKEN")));
        assert!(matches!(reference("file:/run/secrets/x"), Reference::File("/run/secrets/x")));
        for inline in ["EAAB123", "Bearer ${X}", "${1X}", "${}", "file:", "$FB_TOKEN"] {
            assert!(matches!(reference(inline), Reference::Inline), "{inline}");
        }
    }
}
