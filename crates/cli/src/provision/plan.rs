//! The server's current state of the tenants the files name, and the plan that makes it
//! match them: per tenant, what to create, update, delete or leave alone, in the order apply
//! runs it.

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};
use patchbay_api::{Account, AccountList, Operation, Tenant, TenantList};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::progress::Progress;
use super::source::{DesiredAccount, DesiredTenant};
use crate::client::{escape, CliError, Client};
use patchbay_catalog::Catalog;

/// Reads of the current state in flight at once.
const READ_CONCURRENCY: usize = 8;

pub async fn tenant_accounts(client: &Client, tenant: &str) -> Result<Vec<Account>, CliError> {
    client.get(&Operation::ListAccounts.url(&[tenant])).await.map(|list: AccountList| list.items)
}

pub async fn visible_tenants(client: &Client) -> Result<Vec<Tenant>, CliError> {
    client
        .get(&Operation::ListTenants.url(&[]))
        .await
        .map(|list: TenantList| list.items.into_iter().map(|item| item.tenant).collect())
}

/// A tenant and its accounts, or `None` when it does not exist (or this token cannot see it).
async fn current(client: &Client, id: &str) -> Result<Option<(Tenant, Vec<Account>)>, CliError> {
    let tenant: Tenant = match client.get(&Operation::GetTenant.url(&[id])).await {
        Ok(t) => t,
        Err(CliError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some((tenant, tenant_accounts(client, id).await?)))
}

pub struct Plan {
    pub tenants: Vec<TenantPlan>,
    /// Tenants the files do not name, with how many accounts each has (`--prune-tenants`).
    pub doomed: Vec<(String, usize)>,
    /// What the server would refuse and the plan can tell already: nothing is applied then.
    pub problems: Vec<String>,
}

pub struct TenantPlan {
    pub id: String,
    pub change: TenantChange,
    /// In the order apply runs them: deletes, updates (those that give up the default account
    /// first), unchanged, creates.
    pub accounts: Vec<AccountPlan>,
}

pub enum TenantChange {
    Create {
        name: String,
        enabled_types: Vec<String>,
        /// The server's default when the files name none.
        time_zone: Option<String>,
    },
    /// In up to two requests: before the accounts, the name and the entitlements with the
    /// added ones (`first`), so new accounts of a gated type are allowed; after them, the
    /// entitlements without the withdrawn ones (`then`), once pruned accounts no longer use them.
    Update {
        version: i64,
        name: String,
        /// Sent with `first`.
        time_zone: String,
        first: Option<Vec<String>>,
        then: Option<Vec<String>>,
        changed: Vec<String>,
    },
    Unchanged,
}

pub struct AccountPlan {
    pub name: String,
    pub type_key: String,
    pub provider: String,
    pub action: AccountAction,
}

pub enum AccountAction {
    Create(DesiredAccount),
    Update {
        id: Uuid,
        version: i64,
        changed: Vec<String>,
        desired: DesiredAccount,
    },
    /// Unchanged as far as the client can tell, but the files give secrets that are set on
    /// the server: apply sends them and the server compares (an equal value is no change).
    Resend {
        id: Uuid,
        version: i64,
        secrets: Vec<String>,
        desired: DesiredAccount,
    },
    Unchanged,
    Delete {
        id: Uuid,
        version: i64,
    },
}

#[derive(Default, Clone, Copy, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Counts {
    pub fn pending(&self) -> bool {
        self.create + self.update + self.delete > 0
    }
}

/// Reads the current state and works out the plan. With `prune`, accounts of managed tenants
/// that the files do not name are deleted; with `prune_tenants`, tenants they do not name.
pub async fn build(
    client: &Client,
    catalog: &Catalog,
    desired: Vec<DesiredTenant>,
    prune: bool,
    prune_tenants: bool,
    progress: &Progress,
) -> Result<Plan, CliError> {
    progress.start(desired.len(), "reading");
    let states: Vec<_> = futures::stream::iter(desired.iter().map(|t| async {
        let state = current(client, &t.id).await;
        progress.advance(&t.id);
        state
    }))
    .buffered(READ_CONCURRENCY)
    .try_collect()
    .await?;
    progress.finish();
    let doomed = if prune_tenants {
        let named: BTreeSet<&str> = desired.iter().map(|t| t.id.as_str()).collect();
        let mut doomed = Vec::new();
        for t in visible_tenants(client).await?.into_iter().filter(|t| !named.contains(t.id.as_str())) {
            let accounts = tenant_accounts(client, &t.id).await?.len();
            doomed.push((t.id, accounts));
        }
        doomed
    } else {
        Vec::new()
    };
    let mut problems = Vec::new();
    let tenants = desired
        .into_iter()
        .zip(states)
        .map(|(want, have)| plan_tenant(catalog, want, have, prune, &mut problems))
        .collect();
    Ok(Plan { tenants, doomed, problems })
}

fn plan_tenant(
    catalog: &Catalog,
    want: DesiredTenant,
    have: Option<(Tenant, Vec<Account>)>,
    prune: bool,
    problems: &mut Vec<String>,
) -> TenantPlan {
    let (change, mut current, entitled) = match have {
        None => {
            let enabled_types = want.enabled_types.clone().unwrap_or_default();
            let name = want.name.clone().unwrap_or_else(|| want.id.clone());
            let time_zone = want.time_zone.clone();
            (TenantChange::Create { name, enabled_types: enabled_types.clone(), time_zone }, Vec::new(), enabled_types)
        }
        Some((tenant, accounts)) => {
            let mut before = tenant.enabled_types.clone();
            before.sort();
            let name = want.name.as_deref().map(str::trim).unwrap_or(&tenant.name).to_owned();
            let after = want.enabled_types.clone().unwrap_or_else(|| before.clone());
            let mut changed = Vec::new();
            if name != tenant.name {
                changed.push("name".to_owned());
            }
            let time_zone = want.time_zone.clone().unwrap_or_else(|| tenant.time_zone.clone());
            if time_zone != tenant.time_zone {
                changed.push(format!("time_zone ({} -> {time_zone})", tenant.time_zone));
            }
            if after != before {
                let added = after.iter().filter(|t| !before.contains(t)).map(|t| format!("+{t}"));
                let removed = before.iter().filter(|t| !after.contains(t)).map(|t| format!("-{t}"));
                changed.push(format!("enabled_types ({})", added.chain(removed).collect::<Vec<_>>().join(", ")));
            }
            let change = if changed.is_empty() {
                TenantChange::Unchanged
            } else {
                let mut union: Vec<String> = before.iter().chain(&after).cloned().collect();
                union.sort();
                union.dedup();
                let first =
                    (name != tenant.name || time_zone != tenant.time_zone || union != before).then(|| union.clone());
                let then = (after != union).then(|| after.clone());
                TenantChange::Update { version: tenant.version, name, time_zone, first, then, changed }
            };
            (change, accounts, after)
        }
    };
    let mut deletes = Vec::new();
    let mut updates = Vec::new();
    let mut unchanged = Vec::new();
    let mut creates = Vec::new();
    let managed = want.accounts.is_some();
    for desired in want.accounts.into_iter().flatten() {
        let key = desired.name.to_lowercase();
        let existing = current.iter().position(|a| a.name.to_lowercase() == key).map(|i| current.remove(i));
        if catalog.get(&desired.type_key).is_some_and(|t| t.gated) && !entitled.contains(&desired.type_key) {
            problems.push(format!(
                "tenant {}, account \"{}\": `{}` is a gated type the tenant does not have; add it to the tenant's enabled_types",
                want.id, desired.name, desired.type_key
            ));
        }
        let (name, type_key, provider) = (desired.name.clone(), desired.type_key.clone(), desired.provider.clone());
        let step =
            |action| AccountPlan { name: name.clone(), type_key: type_key.clone(), provider: provider.clone(), action };
        match existing {
            None => creates.push(step(AccountAction::Create(desired))),
            Some(old) if old.type_key != desired.type_key => {
                // The type of an account cannot change: it is replaced, which deletes, so only
                // with --prune.
                if !prune {
                    problems.push(format!(
                        "tenant {}, account \"{}\": the account is a `{}` account and the type of an account cannot \
                         change; apply with --prune to replace it (its secrets go with it)",
                        want.id,
                        escape(&old.name),
                        old.type_key
                    ));
                }
                deletes.push(delete(old));
                creates.push(step(AccountAction::Create(desired)));
            }
            Some(old) => {
                for field in secrets_to_reenter(catalog, &desired, &old) {
                    problems.push(format!(
                        "tenant {}, account \"{}\": the files change where its secrets are sent, so the stored \
                         `{field}` is not reused; give `{field}` in the files again (a ${{ENV_VAR}} or file:PATH \
                         reference)",
                        want.id,
                        escape(&old.name)
                    ));
                }
                let plan = step(AccountAction::Unchanged);
                match compare(catalog, &desired, &old) {
                    Comparison::Changed(changed) => updates.push(AccountPlan {
                        action: AccountAction::Update { id: old.id, version: old.version, changed, desired },
                        ..plan
                    }),
                    Comparison::SecretsToCompare(secrets) => unchanged.push(AccountPlan {
                        action: AccountAction::Resend { id: old.id, version: old.version, secrets, desired },
                        ..plan
                    }),
                    Comparison::Same => unchanged.push(plan),
                }
            }
        }
    }
    if prune && managed {
        deletes.extend(current.into_iter().map(delete));
    }
    // An update that stops being the default account goes before one that becomes it.
    updates.sort_by_key(|a| match &a.action {
        AccountAction::Update { desired, .. } => {
            desired.properties.get(patchbay_catalog::keys::DEFAULT_ACCOUNT) == Some(&Value::Bool(true))
        }
        _ => false,
    });
    let accounts = deletes.into_iter().chain(updates).chain(unchanged).chain(creates).collect();
    TenantPlan { id: want.id, change, accounts }
}

fn delete(old: Account) -> AccountPlan {
    AccountPlan {
        name: old.name,
        type_key: old.type_key,
        provider: old.provider,
        action: AccountAction::Delete { id: old.id, version: old.version },
    }
}

/// The stored secrets an update would need again because it changes a field that decides
/// where they are sent (the catalog's rule `reenter_secret_on_target_change`, which the server
/// enforces too) and which the files do not give.
fn secrets_to_reenter(catalog: &Catalog, desired: &DesiredAccount, old: &Account) -> Vec<String> {
    let Some(provider) = catalog.provider(&desired.type_key, &desired.provider) else { return Vec::new() };
    if desired.provider != old.provider {
        return Vec::new();
    }
    provider
        .target_changed(&old.properties, &provider.stored_form(&desired.properties))
        .into_iter()
        .filter(|key| old.secrets.get(*key) == Some(&true) && !desired.secrets.contains_key(*key))
        .map(str::to_owned)
        .collect()
}

enum Comparison {
    Changed(Vec<String>),
    SecretsToCompare(Vec<String>),
    Same,
}

/// Compares an account of the files with the stored one: name (its case), provider,
/// enabled, the non-secret properties as the server would store them, and which secrets are
/// set. Secret values cannot be compared here (the server never returns them).
fn compare(catalog: &Catalog, desired: &DesiredAccount, old: &Account) -> Comparison {
    let mut changed = Vec::new();
    if desired.name != old.name {
        changed.push("name".to_owned());
    }
    if desired.provider != old.provider {
        changed.push("provider".to_owned());
    }
    if desired.enabled != old.enabled {
        changed.push("enabled".to_owned());
    }
    let provider = catalog.get(&desired.type_key).and_then(|t| t.provider(&desired.provider));
    let expected = provider.map(|p| p.stored_form(&desired.properties)).unwrap_or_default();
    let keys: BTreeSet<&String> = expected.keys().chain(old.properties.keys()).collect();
    changed.extend(keys.into_iter().filter(|k| expected.get(*k) != old.properties.get(*k)).cloned());
    let mut resend = Vec::new();
    for (key, value) in &desired.secrets {
        let set = old.secrets.get(key) == Some(&true) && desired.provider == old.provider;
        match (value, set) {
            (Some(_), false) => changed.push(format!("secret {key} set")),
            (Some(_), true) => resend.push(key.clone()),
            (None, true) => changed.push(format!("secret {key} cleared")),
            (None, false) => {}
        }
    }
    if !changed.is_empty() {
        Comparison::Changed(changed)
    } else if !resend.is_empty() {
        Comparison::SecretsToCompare(resend)
    } else {
        Comparison::Same
    }
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for t in &self.tenants {
            match t.change {
                TenantChange::Create { .. } => counts.create += 1,
                TenantChange::Update { .. } => counts.update += 1,
                TenantChange::Unchanged => counts.unchanged += 1,
            }
            for a in &t.accounts {
                match a.action {
                    AccountAction::Create(_) => counts.create += 1,
                    AccountAction::Update { .. } => counts.update += 1,
                    AccountAction::Resend { .. } | AccountAction::Unchanged => counts.unchanged += 1,
                    AccountAction::Delete { .. } => counts.delete += 1,
                }
            }
        }
        counts.delete += self.doomed.len();
        counts
    }

    /// Requests apply sends, for the progress bar.
    pub fn steps(&self) -> usize {
        let tenant_steps = |t: &TenantPlan| match &t.change {
            TenantChange::Create { .. } => 1,
            TenantChange::Update { first, then, .. } => usize::from(first.is_some()) + usize::from(then.is_some()),
            TenantChange::Unchanged => 0,
        };
        let account_steps = |t: &TenantPlan| t.accounts.iter().filter(|a| a.sends()).count();
        self.tenants.iter().map(|t| tenant_steps(t) + account_steps(t)).sum::<usize>() + self.doomed.len()
    }
}

impl AccountPlan {
    /// Whether apply sends a request for this account.
    pub fn sends(&self) -> bool {
        !matches!(self.action, AccountAction::Unchanged)
    }
}

/// One line of the plan (or of what apply did), for people and for `--json`.
#[derive(Serialize)]
pub struct Line {
    pub tenant: String,
    pub action: &'static str,
    pub details: Vec<String>,
    /// `None` for a line about the tenant itself.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRef>,
}

/// The account a line is about.
#[derive(Serialize)]
pub struct AccountRef {
    #[serde(rename = "account")]
    pub name: String,
    #[serde(rename = "type")]
    pub type_key: String,
    pub provider: String,
}

impl Line {
    pub fn tenant(id: &str, action: &'static str, details: Vec<String>) -> Line {
        Line { tenant: id.to_owned(), account: None, action, details }
    }

    pub fn account(tenant: &str, a: &AccountPlan, action: &'static str, details: Vec<String>) -> Line {
        Line {
            tenant: tenant.to_owned(),
            account: Some(AccountRef {
                name: a.name.clone(),
                type_key: a.type_key.clone(),
                provider: a.provider.clone(),
            }),
            action,
            details,
        }
    }

    pub fn text(&self) -> String {
        let sign = match self.action {
            "create" => '+',
            "update" => '~',
            "delete" => '-',
            _ => '=',
        };
        let details = if self.details.is_empty() { String::new() } else { format!(": {}", self.details.join(", ")) };
        let line = match &self.account {
            None => format!("{sign} {} tenant {}{details}", self.action, self.tenant),
            Some(a) => format!("  {sign} {} \"{}\" ({}/{}){details}", self.action, a.name, a.type_key, a.provider),
        };
        escape(&line)
    }
}

pub fn tenant_line(id: &str, change: &TenantChange) -> Line {
    match change {
        TenantChange::Create { name, enabled_types, time_zone } => {
            let types = if enabled_types.is_empty() { "none".to_owned() } else { enabled_types.join(" ") };
            let mut details = vec![format!("name \"{name}\""), format!("enabled types: {types}")];
            if let Some(zone) = time_zone {
                details.push(format!("time zone {zone}"));
            }
            Line::tenant(id, "create", details)
        }
        TenantChange::Update { changed, .. } => Line::tenant(id, "update", changed.clone()),
        TenantChange::Unchanged => Line::tenant(id, "unchanged", Vec::new()),
    }
}

pub fn account_line(tenant: &str, a: &AccountPlan) -> Line {
    match &a.action {
        AccountAction::Create(_) => Line::account(tenant, a, "create", Vec::new()),
        AccountAction::Update { changed, .. } => Line::account(tenant, a, "update", changed.clone()),
        AccountAction::Resend { secrets, .. } => Line::account(
            tenant,
            a,
            "unchanged",
            vec![format!("secrets sent for the server to compare: {}", secrets.join(" "))],
        ),
        AccountAction::Unchanged => Line::account(tenant, a, "unchanged", Vec::new()),
        AccountAction::Delete { .. } => Line::account(tenant, a, "delete", Vec::new()),
    }
}

pub fn doomed_line(id: &str, accounts: usize) -> Line {
    Line::tenant(id, "delete", vec![format!("with its {accounts} account(s)")])
}

/// The plan as lines, in the order apply runs it.
pub fn lines(plan: &Plan) -> Vec<Line> {
    let mut out = Vec::new();
    for t in &plan.tenants {
        out.push(tenant_line(&t.id, &t.change));
        out.extend(t.accounts.iter().map(|a| account_line(&t.id, a)));
    }
    out.extend(plan.doomed.iter().map(|(id, accounts)| doomed_line(id, *accounts)));
    out
}
