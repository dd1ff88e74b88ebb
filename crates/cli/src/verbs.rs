//! The client verbs: `types`, `tenants`, `accounts`, `tokens`.

use std::path::PathBuf;

use clap::Subcommand;
use patchbay_api::{Operation, Role, TokenCreate, TokenCreated, TokenList};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::client::{escape, print_json, print_typed, table, text, CliError, Client};

#[derive(Subcommand)]
pub enum TenantsCommand {
    /// List the tenants this token sees.
    List,
    /// Show one tenant.
    Show { tenant: String },
    /// Create a tenant (service-provider admin).
    Create {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Gated integration types to enable (aws, nice, external_kb); repeatable.
        #[arg(long = "enable")]
        enable: Vec<String>,
    },
    /// Change a tenant's name or entitlements (service-provider admin).
    Update {
        tenant: String,
        #[arg(long)]
        name: Option<String>,
        /// The complete list of enabled gated types; repeatable. `--enable ''` clears it.
        #[arg(long = "enable")]
        enable: Option<Vec<String>>,
    },
    /// Delete a tenant with its accounts and tokens.
    Delete { tenant: String },
}

/// How an account's properties are given on the command line.
#[derive(clap::Args)]
pub struct PropertyArgs {
    /// `KEY=VALUE`, read as the property's kind says (integer, true/false, JSON for tables, else text).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// `KEY=ENV_VAR`: a secret property from an environment variable (keeps it out of shell history).
    #[arg(long = "secret-env", value_name = "KEY=VAR")]
    secret_env: Vec<String>,
    /// `KEY=PATH`: a secret property from a file (trailing newline removed).
    #[arg(long = "secret-file", value_name = "KEY=PATH")]
    secret_file: Vec<String>,
    /// A JSON file with the whole body (`type`, `provider`, `name`, `properties`); flags override it.
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// List a tenant's accounts.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long = "type")]
        type_key: Option<String>,
    },
    /// Show one account (secrets only as set / not set).
    Show {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Create an account.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long = "type")]
        type_key: Option<String>,
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        props: PropertyArgs,
    },
    /// Change an account: given properties replace the stored ones; omitted secrets are kept.
    Update {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Only update if the account is still at this version.
        #[arg(long)]
        if_version: Option<i64>,
        #[command(flatten)]
        props: PropertyArgs,
    },
    /// Delete an account.
    Delete {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        if_version: Option<i64>,
    },
    /// Test an account's connection (or all enabled accounts of the tenant with --all).
    Test {
        #[arg(long)]
        tenant: String,
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Per-call timeout in milliseconds.
        #[arg(long)]
        timeout_ms: Option<u64>,
    },
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create a token; it is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// sp_admin, tenant_admin, tenant_viewer or event_producer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The tenant of a tenant_admin or tenant_viewer token.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

pub async fn types(client: &Client) -> Result<(), CliError> {
    let catalog = client.get(&Operation::ListIntegrationTypes.url(&[])).await?;
    if client.json {
        return print_json(&catalog["items"]);
    }
    let rows: Vec<Vec<String>> = catalog["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let providers: Vec<&str> =
                t["providers"].as_array().into_iter().flatten().filter_map(|p| p["key"].as_str()).collect();
            vec![
                text(&t["key"]),
                text(&t["label"]),
                providers.join(", "),
                if t["gated"] == true { "yes".into() } else { "no".into() },
            ]
        })
        .collect();
    table(&["TYPE", "LABEL", "PROVIDERS", "GATED"], &rows);
    Ok(())
}

pub async fn tenants(client: &Client, command: TenantsCommand) -> Result<(), CliError> {
    match command {
        TenantsCommand::List => {
            let list = client.get(&Operation::ListTenants.url(&[])).await?;
            if client.json {
                return print_json(&list["items"]);
            }
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| vec![text(&t["id"]), text(&t["name"]), enabled(&t["enabled_types"]), text(&t["version"])])
                .collect();
            table(&["ID", "NAME", "ENABLED TYPES", "VERSION"], &rows);
            Ok(())
        }
        TenantsCommand::Show { tenant } => {
            show_tenant(client, &client.get(&Operation::GetTenant.url(&[&tenant])).await?)
        }
        TenantsCommand::Create { id, name, enable } => {
            let body = json!({"id": id, "name": name, "enabled_types": enable});
            let created = client.call(Method::POST, &Operation::CreateTenant.url(&[]), Some(body)).await?;
            show_tenant(client, &created)
        }
        TenantsCommand::Update { tenant, name, enable } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            if let Some(enable) = enable {
                let types: Vec<String> = enable.into_iter().filter(|t| !t.is_empty()).collect();
                body.insert("enabled_types".into(), json!(types));
            }
            let path = Operation::UpdateTenant.url(&[&tenant]);
            let updated = client.call(Method::PUT, &path, Some(Value::Object(body))).await?;
            show_tenant(client, &updated)
        }
        TenantsCommand::Delete { tenant } => {
            client.call(Method::DELETE, &Operation::DeleteTenant.url(&[&tenant]), None).await?;
            println!("deleted tenant {tenant}");
            Ok(())
        }
    }
}

fn enabled(types: &Value) -> String {
    let list: Vec<&str> = types.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if list.is_empty() {
        "-".into()
    } else {
        list.join(",")
    }
}

fn show_tenant(client: &Client, t: &Value) -> Result<(), CliError> {
    if client.json {
        return print_json(t);
    }
    println!("id:            {}", text(&t["id"]));
    println!("name:          {}", text(&t["name"]));
    println!("enabled types: {}", enabled(&t["enabled_types"]));
    println!("version:       {}", text(&t["version"]));
    Ok(())
}

fn parse_pair(pair: &str, flag: &str) -> Result<(String, String), CliError> {
    pair.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| CliError::Usage(format!("{flag} takes KEY=VALUE, got `{pair}`")))
}

impl PropertyArgs {
    /// The body from `--file`, with `--set`/`--secret-*` merged into its properties.
    fn body(&self) -> Result<Map<String, Value>, CliError> {
        let mut body = match &self.file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
                match serde_json::from_str(&text) {
                    Ok(Value::Object(m)) => m,
                    _ => return Err(CliError::Usage(format!("{} must hold a JSON object", path.display()))),
                }
            }
            None => Map::new(),
        };
        let mut props = match body.remove("properties") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for pair in &self.set {
            let (k, v) = parse_pair(pair, "--set")?;
            props.insert(k, Value::String(v));
        }
        for pair in &self.secret_env {
            let (k, var) = parse_pair(pair, "--secret-env")?;
            let value = std::env::var(&var)
                .map_err(|_| CliError::Usage(format!("--secret-env {k}: the environment variable {var} is not set")))?;
            props.insert(k, Value::String(value));
        }
        for pair in &self.secret_file {
            let (k, path) = parse_pair(pair, "--secret-file")?;
            let value = std::fs::read_to_string(&path)
                .map_err(|e| CliError::Usage(format!("--secret-file {k}: cannot read {path}: {e}")))?;
            props.insert(k, Value::String(value.trim_end_matches(['\n', '\r']).to_owned()));
        }
        if !props.is_empty() || self.file.is_some() {
            body.insert("properties".into(), Value::Object(props));
        }
        Ok(body)
    }
}

/// Turns `--set` text into the JSON kind the catalog gives the property (the server
/// refuses a number sent as text, and a page id typed as digits must stay text).
async fn coerce(
    client: &Client,
    body: &mut Map<String, Value>,
    type_key: &str,
    provider: &str,
    set: &[String],
) -> Result<(), CliError> {
    let catalog = client.get(&Operation::ListIntegrationTypes.url(&[])).await?;
    let fields = catalog["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["key"] == type_key)
        .and_then(|t| t["providers"].as_array().and_then(|ps| ps.iter().find(|p| p["key"] == provider).cloned()))
        .map(|p| p["fields"].clone())
        .unwrap_or(Value::Null);
    let Some(Value::Object(props)) = body.get_mut("properties") else { return Ok(()) };
    for pair in set {
        let Some((key, raw)) = pair.split_once('=') else { continue };
        let kind = fields.as_array().into_iter().flatten().find(|f| f["key"] == key).map(|f| f["kind"].clone());
        let value = match kind.as_ref().and_then(Value::as_str) {
            Some("integer") => raw
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| CliError::Usage(format!("--set {key}: `{raw}` is not an integer")))?,
            Some("bool") => raw
                .parse::<bool>()
                .map(Value::Bool)
                .map_err(|_| CliError::Usage(format!("--set {key}: use true or false")))?,
            Some("mapping" | "contact_field_mapping" | "record_field_sizes") => serde_json::from_str(raw)
                .map_err(|e| CliError::Usage(format!("--set {key}: the value must be JSON ({e})")))?,
            _ => Value::String(raw.to_owned()),
        };
        props.insert(key.to_owned(), value);
    }
    Ok(())
}

fn show_account(client: &Client, a: &Value) -> Result<(), CliError> {
    if client.json {
        return print_json(a);
    }
    println!("id:        {}", text(&a["id"]));
    println!("name:      {}", text(&a["name"]));
    println!("type:      {} / {}", text(&a["type"]), text(&a["provider"]));
    println!("enabled:   {}", text(&a["enabled"]));
    println!("version:   {}", text(&a["version"]));
    for (k, v) in a["properties"].as_object().into_iter().flatten() {
        println!("  {k} = {}", text(v));
    }
    for (k, v) in a["secrets"].as_object().into_iter().flatten() {
        println!("  {k} = {}", if v == true { "(secret, set)" } else { "(secret, not set)" });
    }
    if !a["last_test"].is_null() {
        println!("last test: {} at {}", text(&a["last_test"]["status"]), text(&a["last_test"]["tested_at"]));
    }
    Ok(())
}

fn print_report(client: &Client, report: &Value) -> Result<(), CliError> {
    if client.json {
        print_json(report)?;
    } else {
        for step in report["steps"].as_array().into_iter().flatten() {
            println!("  [{:>6}] {:<12} {}", text(&step["status"]), text(&step["name"]), text(&step["detail"]));
        }
        let category =
            if report["category"].is_null() { String::new() } else { format!(" ({})", text(&report["category"])) };
        println!("{}{category}: {}", text(&report["status"]), text(&report["message"]));
    }
    match report["status"].as_str() {
        Some("failed") => Err(CliError::CheckFailed(format!("the test failed: {}", text(&report["message"])))),
        _ => Ok(()),
    }
}

pub async fn accounts(client: &Client, command: AccountsCommand) -> Result<(), CliError> {
    match command {
        AccountsCommand::List { tenant, type_key } => {
            let query = type_key.map(|t| format!("?type={t}")).unwrap_or_default();
            let list = client.get(&format!("{}{query}", Operation::ListAccounts.url(&[&tenant]))).await?;
            if client.json {
                return print_json(&list["items"]);
            }
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    vec![
                        text(&a["id"]),
                        text(&a["type"]),
                        text(&a["provider"]),
                        text(&a["name"]),
                        text(&a["version"]),
                        a["last_test"].get("status").map(text).unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            table(&["ID", "TYPE", "PROVIDER", "NAME", "VERSION", "LAST TEST"], &rows);
            Ok(())
        }
        AccountsCommand::Show { tenant, id } => {
            show_account(client, &client.get(&Operation::GetAccount.url(&[&tenant, &id])).await?)
        }
        AccountsCommand::Create { tenant, type_key, provider, name, props } => {
            let mut body = props.body()?;
            for (k, v) in [("type", type_key), ("provider", provider), ("name", name)] {
                if let Some(v) = v {
                    body.insert(k.into(), json!(v));
                }
            }
            let type_key = body.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
            let provider = body.get("provider").and_then(Value::as_str).unwrap_or("default").to_owned();
            coerce(client, &mut body, &type_key, &provider, &props.set).await?;
            let path = Operation::CreateAccount.url(&[&tenant]);
            show_account(client, &client.call(Method::POST, &path, Some(Value::Object(body))).await?)
        }
        AccountsCommand::Update { tenant, id, name, if_version, props } => {
            // Properties given here are merged into the stored ones, so an update names only
            // what changes; the stored version guards against a concurrent edit.
            let path = Operation::UpdateAccount.url(&[&tenant, &id]);
            let current = client.get(&path).await?;
            let mut body = props.body()?;
            let type_key = text(&current["type"]);
            let provider = text(&current["provider"]);
            coerce(client, &mut body, &type_key, &provider, &props.set).await?;
            let mut merged = current["properties"].as_object().cloned().unwrap_or_default();
            if let Some(Value::Object(given)) = body.remove("properties") {
                merged.extend(given);
            }
            body.insert("properties".into(), Value::Object(merged));
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            let expected = if_version.or(current["version"].as_i64());
            show_account(client, &client.call_with(Method::PUT, &path, Some(Value::Object(body)), expected).await?)
        }
        AccountsCommand::Delete { tenant, id, if_version } => {
            let path = Operation::DeleteAccount.url(&[&tenant, &id]);
            client.call_with(Method::DELETE, &path, None, if_version).await?;
            println!("deleted {id}");
            Ok(())
        }
        AccountsCommand::Test { tenant, id, all, timeout_ms } => {
            let query = timeout_ms.map(|t| format!("?timeout_ms={t}")).unwrap_or_default();
            match (id, all) {
                (Some(id), _) => {
                    let path = format!("{}{query}", Operation::TestAccount.url(&[&tenant, &id]));
                    print_report(client, &client.call(Method::POST, &path, None).await?)
                }
                (None, true) => {
                    let path = format!("{}{query}", Operation::TestAllAccounts.url(&[&tenant]));
                    let result = client.call(Method::POST, &path, None).await?;
                    if client.json {
                        print_json(&result["items"])?;
                    }
                    let items = result["items"].as_array().cloned().unwrap_or_default();
                    if !client.json {
                        let rows: Vec<Vec<String>> = items
                            .iter()
                            .map(|i| {
                                vec![
                                    text(&i["type"]),
                                    text(&i["name"]),
                                    text(&i["report"]["status"]),
                                    text(&i["report"]["category"]),
                                    text(&i["report"]["message"]),
                                ]
                            })
                            .collect();
                        table(&["TYPE", "NAME", "STATUS", "CATEGORY", "MESSAGE"], &rows);
                    }
                    let failed = items.iter().filter(|i| i["report"]["status"] == "failed").count();
                    if failed > 0 {
                        return Err(CliError::CheckFailed(format!("{failed} of {} tests failed", items.len())));
                    }
                    Ok(())
                }
                (None, false) => Err(CliError::Usage("name an account id or pass --all".into())),
            }
        }
    }
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| {
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("a role is one of {}", roles.join(", "))
    })
}

pub async fn tokens(client: &Client, command: TokensCommand) -> Result<(), CliError> {
    match command {
        TokensCommand::Create { name, role, tenant } => {
            let body = TokenCreate { name, role, tenant };
            let created: TokenCreated =
                client.send(Method::POST, &Operation::CreateToken.url(&[]), Some(&body)).await?;
            if client.json {
                return print_typed(&created);
            }
            println!("created token {} ({})", created.details.id, created.details.role.as_str());
            println!("{}", created.token);
            Ok(())
        }
        TokensCommand::List => {
            let list: TokenList = client.send(Method::GET, &Operation::ListTokens.url(&[]), None::<&()>).await?;
            if client.json {
                return print_typed(&list.items);
            }
            let rows: Vec<Vec<String>> = list
                .items
                .iter()
                .map(|t| {
                    vec![
                        t.id.to_string(),
                        t.role.as_str().to_owned(),
                        t.tenant_id.as_deref().map_or_else(|| "-".to_owned(), escape),
                        if t.revoked_at.is_none() { "active".into() } else { "revoked".into() },
                        escape(&t.name),
                    ]
                })
                .collect();
            table(&["ID", "ROLE", "TENANT", "STATE", "NAME"], &rows);
            Ok(())
        }
        TokensCommand::Revoke { id } => {
            client.call(Method::DELETE, &Operation::RevokeToken.url(&[&id]), None).await?;
            println!("revoked {id}");
            Ok(())
        }
    }
}
