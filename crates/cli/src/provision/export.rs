//! `patchbay export`: tenants and their accounts in the provisioning format. Secrets are
//! never exported (the API does not return them): each secret that is set becomes a
//! reference to an environment variable `PATCHBAY_<TENANT>_<ACCOUNT>_<PROPERTY>`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use patchbay_api::{Account, Operation, Tenant};
use serde_json::{Map, Value};

use super::plan::{tenant_accounts, visible_tenants};
use super::source::{AccountSpec, Document, TenantSpec};
use super::ExportArgs;
use crate::client::{CliError, Client};
use patchbay_catalog::Catalog;

/// Upper snake case: ASCII letters and digits upper-cased, every run of other characters
/// one `_`, none at either end ("Facebook main" -> `FACEBOOK_MAIN`).
fn upper_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c.to_ascii_uppercase());
        } else {
            gap = true;
        }
    }
    out
}

/// The environment variable names of one export, unique within it.
#[derive(Default)]
struct Placeholders(HashSet<String>);

impl Placeholders {
    /// `PATCHBAY_<TENANT>_<ACCOUNT>_<PROPERTY>`; a part with no ASCII letter or digit is `X`,
    /// and a name already taken gets `_2`, `_3`, ... appended.
    fn name(&mut self, tenant: &str, account: &str, property: &str) -> String {
        let part = |s: &str| Some(upper_snake(s)).filter(|p| !p.is_empty()).unwrap_or_else(|| "X".into());
        let base = format!("PATCHBAY_{}_{}_{}", part(tenant), part(account), part(property));
        let mut name = base.clone();
        let mut n = 2;
        while !self.0.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }
}

/// An account in the file format: provider always named, fixed properties left out (they
/// cannot change), each set secret as a placeholder reference, in the catalog's order.
fn account_spec(
    catalog: &Catalog,
    tenant: &str,
    a: Account,
    names: &mut Placeholders,
    vars: &mut Vec<String>,
) -> AccountSpec {
    let provider = catalog.get(&a.type_key).and_then(|t| t.provider(&a.provider));
    let properties = match provider {
        None => a.properties,
        Some(p) => {
            let mut properties = Map::new();
            for field in &p.fields {
                if field.kind.is_secret() {
                    if a.secrets.get(&field.key) == Some(&true) {
                        let var = names.name(tenant, &a.name, &field.key);
                        properties.insert(field.key.clone(), Value::String(format!("${{{var}}}")));
                        vars.push(var);
                    }
                } else if let Some(value) = a.properties.get(&field.key).filter(|_| !field.fixed) {
                    properties.insert(field.key.clone(), value.clone());
                }
            }
            properties
        }
    };
    AccountSpec { name: a.name, type_key: a.type_key, provider: Some(a.provider), enabled: a.enabled, properties }
}

fn render(tenants: Vec<TenantSpec>, vars: &[String], json: bool) -> Result<String, CliError> {
    let doc = Document { tenants };
    if json {
        return Ok(serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)? + "\n");
    }
    let yaml = serde_saphyr::to_string(&doc).map_err(|e| anyhow::anyhow!("cannot write YAML: {e}"))?;
    let mut header = String::from("# Written by `patchbay export`. Secret values are never exported.\n");
    if !vars.is_empty() {
        header.push_str("# Each secret that is set is a reference; set these variables before `patchbay apply`:\n");
        for var in vars {
            header.push_str(&format!("#   {var}\n"));
        }
    }
    Ok(header + &yaml)
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| CliError::Other(anyhow::anyhow!("cannot write {}: {e}", path.display())))
}

pub async fn export(client: &Client, args: ExportArgs) -> Result<(), CliError> {
    let catalog = patchbay_catalog::catalog();
    let tenants: Vec<Tenant> = if args.tenants.is_empty() {
        visible_tenants(client).await?
    } else {
        let mut tenants = Vec::new();
        for id in &args.tenants {
            let tenant = client.get(&Operation::GetTenant.url(&[id])).await;
            tenants.push(tenant.map_err(|e| super::within(&format!("tenant {id}"), e))?);
        }
        tenants
    };
    let accounts: Vec<Vec<Account>> =
        futures::stream::iter(tenants.iter().map(|t| tenant_accounts(client, &t.id))).buffered(8).try_collect().await?;
    let mut names = Placeholders::default();
    let exported: Vec<(TenantSpec, Vec<String>)> = tenants
        .into_iter()
        .zip(accounts)
        .map(|(t, accounts)| {
            let mut vars = Vec::new();
            let accounts =
                accounts.into_iter().map(|a| account_spec(catalog, &t.id, a, &mut names, &mut vars)).collect();
            let spec = TenantSpec {
                id: t.id,
                name: Some(t.name),
                enabled_types: Some(t.enabled_types),
                time_zone: Some(t.time_zone),
                accounts: Some(accounts),
            };
            (spec, vars)
        })
        .collect();
    let json = client.json;
    let into_dir = |p: &PathBuf| p.is_dir() || p.to_string_lossy().ends_with('/');
    match args.output {
        Some(dir) if into_dir(&dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::Other(anyhow::anyhow!("cannot create {}: {e}", dir.display())))?;
            for (spec, vars) in exported {
                let file = dir.join(format!("{}.{}", spec.id, if json { "json" } else { "yaml" }));
                let accounts = spec.accounts.as_ref().map_or(0, Vec::len);
                write(&file, &render(vec![spec], &vars, json)?)?;
                eprintln!("wrote {} ({accounts} account(s), {} secret reference(s))", file.display(), vars.len());
            }
        }
        output => {
            let vars: Vec<String> = exported.iter().flat_map(|(_, v)| v.clone()).collect();
            let text = render(exported.into_iter().map(|(spec, _)| spec).collect(), &vars, json)?;
            match output {
                Some(file) => {
                    write(&file, &text)?;
                    eprintln!("wrote {} ({} secret reference(s))", file.display(), vars.len());
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_upper_snake_case_and_unique() {
        let mut names = Placeholders::default();
        assert_eq!(names.name("acme-eu", "Facebook main", "token"), "PATCHBAY_ACME_EU_FACEBOOK_MAIN_TOKEN");
        assert_eq!(
            names.name("acme", "FB (old) #2", "webhook_verify_token"),
            "PATCHBAY_ACME_FB_OLD_2_WEBHOOK_VERIFY_TOKEN"
        );
        assert_eq!(names.name("acme", "Straße", "api_key"), "PATCHBAY_ACME_STRA_E_API_KEY");
        assert_eq!(names.name("acme", "日本", "api_key"), "PATCHBAY_ACME_X_API_KEY");
        assert_eq!(names.name("acme", "fb-main", "token"), "PATCHBAY_ACME_FB_MAIN_TOKEN");
        assert_eq!(names.name("acme", "FB main", "token"), "PATCHBAY_ACME_FB_MAIN_TOKEN_2", "a clash is numbered");
    }
}
