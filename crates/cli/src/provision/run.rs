//! Runs a plan against the server, tenant by tenant in the plan's order, each write with the
//! version read (`If-Match`), printing each change as it is made.

use patchbay_api::{Account, Operation, Tenant, TenantCreate, TenantUpdate};
use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use super::plan::{
    account_line, doomed_line, tenant_line, AccountAction, AccountPlan, Counts, Line, Plan, TenantChange, TenantPlan,
};
use super::progress::Progress;
use super::source::DesiredAccount;
use super::{reword, within};
use crate::client::{CliError, Client};

/// What apply printed and counted.
struct Output<'a> {
    progress: &'a Progress,
    json: bool,
    lines: Vec<Line>,
    /// The line of an unchanged tenant, printed before its first changed account.
    header: Option<String>,
    counts: Counts,
}

/// What `apply --json` prints.
#[derive(Serialize)]
struct Applied {
    applied: Vec<Line>,
    summary: Counts,
}

impl Output<'_> {
    fn emit(&mut self, line: Line) {
        match line.action {
            "create" => self.counts.create += 1,
            "update" => self.counts.update += 1,
            "delete" => self.counts.delete += 1,
            _ => {}
        }
        if self.json {
            self.lines.push(line);
            return;
        }
        if let Some(header) = self.header.take() {
            self.progress.println(&header);
        }
        self.progress.println(&line.text());
    }
}

/// Applies `plan`. A failure stops the rest of its tenant; other tenants go on unless the
/// token was refused or the server failed. Tenants are pruned only when all else succeeded.
pub async fn run(client: &Client, plan: Plan, progress: &Progress) -> Result<(), CliError> {
    let mut out = Output { progress, json: client.json, lines: Vec::new(), header: None, counts: Default::default() };
    progress.start(plan.steps(), "applying");
    let mut failures = Vec::new();
    for tenant in plan.tenants {
        let id = tenant.id.clone();
        if let Err(e) = run_tenant(client, tenant, &mut out).await {
            let fatal = matches!(e, CliError::Denied(_) | CliError::Server(_));
            failures.push(within(&format!("tenant {id} (its remaining changes were skipped)"), e));
            if fatal {
                break;
            }
        }
    }
    if failures.is_empty() {
        for (id, accounts) in plan.doomed {
            progress.working_on(&id);
            let deleted = client.delete(&Operation::DeleteTenant.url(&[&id]), None).await;
            if let Err(e) = deleted {
                failures.push(within(&format!("tenant {id}"), e));
                break;
            }
            out.emit(doomed_line(&id, accounts));
            progress.advance(&id);
        }
    }
    progress.finish();
    let c = out.counts;
    let summary =
        format!("{} created, {} updated, {} deleted, {} unchanged", c.create, c.update, c.delete, c.unchanged);
    if out.json {
        crate::client::print_json(&Applied { applied: out.lines, summary: c })?;
    } else if failures.is_empty() {
        println!("applied: {summary}");
    } else {
        println!("applied in part: {summary}");
    }
    let mut failures = failures.into_iter();
    match failures.next() {
        None => Ok(()),
        Some(first) => Err(failures.fold(first, |all, e| reword(all, |m| format!("{m}\n{e}")))),
    }
}

async fn run_tenant(client: &Client, tenant: TenantPlan, out: &mut Output<'_>) -> Result<(), CliError> {
    let id = tenant.id;
    let path = Operation::UpdateTenant.url(&[&id]);
    let mut withdraw = None;
    out.header = None;
    let line = tenant_line(&id, &tenant.change);
    match tenant.change {
        TenantChange::Create { name, enabled_types, time_zone } => {
            out.progress.working_on(&id);
            let body = TenantCreate { id: id.clone(), name: Some(name), enabled_types: Some(enabled_types), time_zone };
            let _: Tenant = client.send(Method::POST, &Operation::CreateTenant.url(&[]), &body).await?;
            out.emit(line);
            out.progress.advance(&id);
        }
        TenantChange::Update { version, name, time_zone, first, then, .. } => {
            out.progress.working_on(&id);
            let mut version = version;
            if let Some(types) = first {
                let body = TenantUpdate {
                    name: Some(name),
                    enabled_types: Some(types),
                    time_zone: Some(time_zone),
                    ..TenantUpdate::default()
                };
                let updated: Tenant = client.send_if(Method::PUT, &path, Some(&body), Some(version)).await?;
                version = updated.version;
                out.progress.advance(&id);
            }
            withdraw = then.map(|types| (version, types));
            out.emit(line);
        }
        TenantChange::Unchanged => {
            out.counts.unchanged += 1;
            out.header = Some(line.text());
        }
    }
    for account in tenant.accounts {
        let label = format!("{id} / {}", account.name);
        out.progress.working_on(&label);
        let sent = run_account(client, &id, &account, out).await;
        sent.map_err(|e| within(&format!("account \"{}\"", account.name), e))?;
        if account.sends() {
            out.progress.advance(&label);
        }
    }
    if let Some((version, types)) = withdraw {
        let body = TenantUpdate { enabled_types: Some(types), ..TenantUpdate::default() };
        let _: Tenant = client.send_if(Method::PUT, &path, Some(&body), Some(version)).await?;
        out.progress.advance(&id);
    }
    Ok(())
}

async fn run_account(client: &Client, tenant: &str, a: &AccountPlan, out: &mut Output<'_>) -> Result<(), CliError> {
    match &a.action {
        AccountAction::Create(desired) => {
            let path = Operation::CreateAccount.url(&[tenant]);
            let _: Account = client.send(Method::POST, &path, &desired.create()).await?;
            out.emit(account_line(tenant, a));
        }
        AccountAction::Update { id, version, desired, .. } => {
            update(client, tenant, id, *version, desired).await?;
            out.emit(account_line(tenant, a));
        }
        AccountAction::Resend { id, version, secrets, desired } => {
            let after = update(client, tenant, id, *version, desired).await?;
            if after.version == *version {
                out.counts.unchanged += 1;
            } else {
                let what = format!("a secret value changed (sent: {})", secrets.join(" "));
                out.emit(Line::account(tenant, a, "update", vec![what]));
            }
        }
        AccountAction::Unchanged => out.counts.unchanged += 1,
        AccountAction::Delete { id, version } => {
            client.delete(&Operation::DeleteAccount.url(&[tenant, &id.to_string()]), Some(*version)).await?;
            out.emit(account_line(tenant, a));
        }
    }
    Ok(())
}

/// Sends the files' account over the stored one at `version`; the answer is the account saved.
async fn update(
    client: &Client,
    tenant: &str,
    id: &Uuid,
    version: i64,
    desired: &DesiredAccount,
) -> Result<Account, CliError> {
    let path = Operation::UpdateAccount.url(&[tenant, &id.to_string()]);
    client.send_if(Method::PUT, &path, Some(&desired.update()), Some(version)).await
}
