//! The client verbs: `types`, `tenants`, `accounts`, `tokens`.

use std::path::PathBuf;

use clap::Subcommand;
use patchbay_api::{
    Account, AccountCreate, AccountList, AccountUpdate, BulkTestReport, IntegrationTypes, Operation, Outcome, Role,
    Tenant, TenantCreate, TenantList, TenantSettings, TenantUpdate, TestReport, TokenCreate, TokenCreated, TokenList,
};
use patchbay_catalog::{Catalog, FieldKind, Provider};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::client::{escape, print_json, table, text, CliError, Client};

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
        /// The IANA time zone whose midnight starts the tenant's days (gateway quotas and
        /// usage); UTC when left out.
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Change a tenant's name or entitlements (service-provider admin), or its time zone
    /// (the tenant's admins too, when it is the only change).
    Update {
        tenant: String,
        #[arg(long)]
        name: Option<String>,
        /// The complete list of enabled gated types; repeatable. `--enable ''` clears it.
        #[arg(long = "enable")]
        enable: Option<Vec<String>>,
        /// The IANA time zone, e.g. `Europe/Berlin`.
        #[arg(long)]
        time_zone: Option<String>,
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
    /// A JSON file with the body (`type`, `provider`, `name`, `enabled`, `properties`; an
    /// account as `show --json` prints it will do); flags override it.
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
        /// sp_admin, tenant_admin, tenant_viewer, event_producer or gateway_client.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The tenant of a tenant-bound token (every role but sp_admin).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

pub async fn types(client: &Client) -> Result<(), CliError> {
    let catalog: IntegrationTypes = client.get(&Operation::ListIntegrationTypes.url(&[])).await?;
    if client.json {
        return print_json(&catalog.items);
    }
    let rows: Vec<Vec<String>> = catalog
        .items
        .iter()
        .map(|t| {
            let providers: Vec<String> = t.providers.iter().map(|p| escape(&p.key)).collect();
            vec![escape(&t.key), escape(&t.label), providers.join(", "), if t.gated { "yes" } else { "no" }.into()]
        })
        .collect();
    table(&["TYPE", "LABEL", "PROVIDERS", "GATED"], &rows);
    Ok(())
}

pub async fn tenants(client: &Client, command: TenantsCommand) -> Result<(), CliError> {
    match command {
        TenantsCommand::List => {
            let list: TenantList = client.get(&Operation::ListTenants.url(&[])).await?;
            if client.json {
                return print_json(&list.items);
            }
            let rows: Vec<Vec<String>> = list
                .items
                .iter()
                .map(|item| {
                    let t = &item.tenant;
                    vec![
                        escape(&t.id),
                        escape(&t.name),
                        enabled(&t.enabled_types),
                        escape(&t.time_zone),
                        item.account_count.to_string(),
                        item.failing_account_count.to_string(),
                        t.version.to_string(),
                    ]
                })
                .collect();
            table(&["ID", "NAME", "ENABLED TYPES", "TIME ZONE", "ACCOUNTS", "FAILING", "VERSION"], &rows);
            Ok(())
        }
        TenantsCommand::Show { tenant } => {
            show_tenant(client, &client.get(&Operation::GetTenant.url(&[&tenant])).await?)
        }
        TenantsCommand::Create { id, name, enable, time_zone } => {
            let body = TenantCreate { id, name, enabled_types: Some(enable), time_zone };
            show_tenant(client, &client.send(Method::POST, &Operation::CreateTenant.url(&[]), &body).await?)
        }
        TenantsCommand::Update { tenant, name: None, enable: None, time_zone: Some(time_zone) } => {
            // The time zone alone is the tenant's own setting: its admins may change it.
            let body = TenantSettings { time_zone };
            show_tenant(
                client,
                &client.send(Method::PUT, &Operation::UpdateTenantSettings.url(&[&tenant]), &body).await?,
            )
        }
        TenantsCommand::Update { tenant, name, enable, time_zone } => {
            let enabled_types = enable.map(|types| types.into_iter().filter(|t| !t.is_empty()).collect());
            let body = TenantUpdate { name, enabled_types, time_zone, ..TenantUpdate::default() };
            show_tenant(client, &client.send(Method::PUT, &Operation::UpdateTenant.url(&[&tenant]), &body).await?)
        }
        TenantsCommand::Delete { tenant } => {
            client.delete(&Operation::DeleteTenant.url(&[&tenant]), None).await?;
            println!("deleted tenant {tenant}");
            Ok(())
        }
    }
}

fn enabled(types: &[String]) -> String {
    if types.is_empty() {
        "-".into()
    } else {
        escape(&types.join(","))
    }
}

fn show_tenant(client: &Client, t: &Tenant) -> Result<(), CliError> {
    if client.json {
        return print_json(t);
    }
    println!("id:            {}", escape(&t.id));
    println!("name:          {}", escape(&t.name));
    println!("enabled types: {}", enabled(&t.enabled_types));
    println!("time zone:     {}", escape(&t.time_zone));
    println!("version:       {}", t.version);
    Ok(())
}

fn parse_pair(pair: &str, flag: &str) -> Result<(String, String), CliError> {
    pair.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| CliError::Usage(format!("{flag} takes KEY=VALUE, got `{pair}`")))
}

impl PropertyArgs {
    /// The body in `--file`, read as the update body: it names every field an account body
    /// can have, each optional, and takes an account as `accounts show --json` prints it.
    fn file(&self) -> Result<AccountUpdate, CliError> {
        let Some(path) = &self.file else { return Ok(AccountUpdate::default()) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| CliError::Usage(format!("{} must hold an account body as JSON: {e}", path.display())))
    }

    /// The properties `--set`, `--secret-env` and `--secret-file` give, `--set` values read as
    /// the kind `provider` gives the property: the server refuses a number sent as text, and a
    /// page id typed as digits must stay text. Without a provider, values are text.
    fn values(&self, provider: Option<&Provider>) -> Result<Map<String, Value>, CliError> {
        let mut props = Map::new();
        for pair in &self.set {
            let (key, raw) = parse_pair(pair, "--set")?;
            let value = match provider.and_then(|p| p.field(&key)).map(|f| &f.kind) {
                Some(FieldKind::Integer { .. }) => raw
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| CliError::Usage(format!("--set {key}: `{raw}` is not an integer")))?,
                Some(FieldKind::Bool) => raw
                    .parse::<bool>()
                    .map(Value::Bool)
                    .map_err(|_| CliError::Usage(format!("--set {key}: use true or false")))?,
                Some(
                    FieldKind::Mapping { .. } | FieldKind::ContactFieldMapping | FieldKind::RecordFieldSizes { .. },
                ) => serde_json::from_str(&raw)
                    .map_err(|e| CliError::Usage(format!("--set {key}: the value must be JSON ({e})")))?,
                Some(
                    FieldKind::Text { .. } | FieldKind::Secret { .. } | FieldKind::Url { .. } | FieldKind::Enum { .. },
                )
                | None => Value::String(raw),
            };
            props.insert(key, value);
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
        Ok(props)
    }
}

/// The catalog's provider of a type: the one named, or the type's only one.
fn provider_of<'a>(catalog: &'a Catalog, type_key: &str, provider: Option<&str>) -> Option<&'a Provider> {
    let ty = catalog.get(type_key)?;
    match provider {
        Some(key) => ty.provider(key),
        None => ty.providers.first().filter(|_| ty.providers.len() == 1),
    }
}

fn show_account(client: &Client, a: &Account) -> Result<(), CliError> {
    if client.json {
        return print_json(a);
    }
    println!("id:        {}", a.id);
    println!("name:      {}", escape(&a.name));
    println!("type:      {} / {}", escape(&a.type_key), escape(&a.provider));
    println!("enabled:   {}", a.enabled);
    println!("version:   {}", a.version);
    for (k, v) in &a.properties {
        println!("  {} = {}", escape(k), text(v));
    }
    for (k, set) in &a.secrets {
        println!("  {} = {}", escape(k), if *set { "(secret, set)" } else { "(secret, not set)" });
    }
    if let Some(test) = &a.last_test {
        println!("last test: {} at {}", text(&test.status), text(&test.tested_at));
    }
    if let Some(live) = &a.live {
        if let Some(at) = &live.last_success_at {
            println!("last live call ok: {}", text(at));
        }
        if let Some(e) = &live.last_error {
            println!("last live call failed: {} at {}: {}", text(&e.category), text(&e.at), escape(&e.message));
        }
    }
    Ok(())
}

fn print_report(client: &Client, report: &TestReport) -> Result<(), CliError> {
    if client.json {
        print_json(report)?;
    } else {
        for step in &report.steps {
            println!("  [{:>6}] {:<12} {}", text(&step.status), escape(&step.name), escape(&step.detail));
        }
        let category = report.category.map(|c| format!(" ({})", text(&c))).unwrap_or_default();
        println!("{}{category}: {}", text(&report.status), escape(&report.message));
    }
    match report.status {
        Outcome::Failed => Err(CliError::CheckFailed(format!("the test failed: {}", escape(&report.message)))),
        Outcome::Ok | Outcome::Unsupported => Ok(()),
    }
}

pub async fn accounts(client: &Client, command: AccountsCommand) -> Result<(), CliError> {
    match command {
        AccountsCommand::List { tenant, type_key } => {
            let query = type_key.map(|t| format!("?type={t}")).unwrap_or_default();
            let list: AccountList = client.get(&format!("{}{query}", Operation::ListAccounts.url(&[&tenant]))).await?;
            if client.json {
                return print_json(&list.items);
            }
            let rows: Vec<Vec<String>> = list
                .items
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        escape(&a.type_key),
                        escape(&a.provider),
                        escape(&a.name),
                        a.version.to_string(),
                        text(&a.last_test.as_ref().map(|t| t.status)),
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
            let file = props.file()?;
            let type_key = type_key.or(file.type_key).ok_or_else(|| {
                CliError::Usage("an account needs a type: pass --type or give `type` in --file".into())
            })?;
            let provider = provider.or(file.provider);
            let given = props.values(provider_of(patchbay_catalog::catalog(), &type_key, provider.as_deref()))?;
            let mut properties = file.properties;
            if !given.is_empty() {
                properties.get_or_insert_with(Map::new).extend(given);
            }
            let body =
                AccountCreate { type_key, provider, name: name.or(file.name), enabled: file.enabled, properties };
            show_account(client, &client.send(Method::POST, &Operation::CreateAccount.url(&[&tenant]), &body).await?)
        }
        AccountsCommand::Update { tenant, id, name, if_version, props } => {
            // Properties given here are merged into the stored ones, so an update names only
            // what changes; the stored version guards against a concurrent edit.
            let path = Operation::UpdateAccount.url(&[&tenant, &id]);
            let current: Account = client.get(&path).await?;
            let mut body = props.file()?;
            let provider = patchbay_catalog::catalog().provider(&current.type_key, &current.provider);
            let mut properties = current.properties;
            properties.extend(body.properties.take().unwrap_or_default());
            properties.extend(props.values(provider)?);
            body.properties = Some(properties);
            if name.is_some() {
                body.name = name;
            }
            let expected = if_version.or(Some(current.version));
            show_account(client, &client.send_if(Method::PUT, &path, Some(&body), expected).await?)
        }
        AccountsCommand::Delete { tenant, id, if_version } => {
            client.delete(&Operation::DeleteAccount.url(&[&tenant, &id]), if_version).await?;
            println!("deleted {id}");
            Ok(())
        }
        AccountsCommand::Test { tenant, id, all, timeout_ms } => {
            let query = timeout_ms.map(|t| format!("?timeout_ms={t}")).unwrap_or_default();
            match (id, all) {
                (Some(id), _) => {
                    let path = format!("{}{query}", Operation::TestAccount.url(&[&tenant, &id]));
                    print_report(client, &client.post(&path).await?)
                }
                (None, true) => {
                    let path = format!("{}{query}", Operation::TestAllAccounts.url(&[&tenant]));
                    let result: BulkTestReport = client.post(&path).await?;
                    if client.json {
                        print_json(&result.items)?;
                    } else {
                        let rows: Vec<Vec<String>> = result
                            .items
                            .iter()
                            .map(|i| {
                                vec![
                                    escape(&i.type_key),
                                    escape(&i.name),
                                    text(&i.report.status),
                                    text(&i.report.category),
                                    escape(&i.report.message),
                                ]
                            })
                            .collect();
                        table(&["TYPE", "NAME", "STATUS", "CATEGORY", "MESSAGE"], &rows);
                    }
                    let failed = result.items.iter().filter(|i| i.report.status == Outcome::Failed).count();
                    if failed > 0 {
                        return Err(CliError::CheckFailed(format!("{failed} of {} tests failed", result.items.len())));
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
            let created: TokenCreated = client.send(Method::POST, &Operation::CreateToken.url(&[]), &body).await?;
            if client.json {
                return print_json(&created);
            }
            println!("created token {} ({})", created.details.id, created.details.role.as_str());
            println!("{}", created.token);
            Ok(())
        }
        TokensCommand::List => {
            let list: TokenList = client.get(&Operation::ListTokens.url(&[])).await?;
            if client.json {
                return print_json(&list.items);
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
                        t.last_used_at.map_or_else(|| "-".to_owned(), |at| at.format("%Y-%m-%d %H:%M").to_string()),
                        escape(&t.name),
                    ]
                })
                .collect();
            table(&["ID", "ROLE", "TENANT", "STATE", "LAST USED", "NAME"], &rows);
            Ok(())
        }
        TokensCommand::Revoke { id } => {
            client.delete(&Operation::RevokeToken.url(&[&id]), None).await?;
            println!("revoked {id}");
            Ok(())
        }
    }
}
