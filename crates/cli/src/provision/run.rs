//! Runs a plan against the server, tenant by tenant in the plan's order, each write with the
//! version read (`If-Match`), printing each change as it is made.

use patchbay_api::Operation;
use reqwest::Method;
use serde_json::{json, Value};

use super::plan::{
    account_line, doomed_line, tenant_line, AccountAction, AccountPlan, CurrentAccount, CurrentTenant, Line, Plan,
    TenantChange, TenantPlan,
};
use super::progress::Progress;
use super::{reword, within};
use crate::client::{parse, CliError, Client};

/// What apply printed and counted.
struct Output<'a> {
    progress: &'a Progress,
    json: bool,
    lines: Vec<Value>,
    /// The line of an unchanged tenant, printed before its first changed account.
    header: Option<String>,
    counts: super::plan::Counts,
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
            self.lines.push(line.json());
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
            let deleted = client.call(Method::DELETE, &Operation::DeleteTenant.url(&[&id]), None).await;
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
        crate::client::print_json(&json!({"applied": out.lines, "summary": c}))?;
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
        TenantChange::Create { name, enabled_types } => {
            out.progress.working_on(&id);
            let body = json!({"id": id, "name": name, "enabled_types": enabled_types});
            client.call(Method::POST, &Operation::CreateTenant.url(&[]), Some(body)).await?;
            out.emit(line);
            out.progress.advance(&id);
        }
        TenantChange::Update { version, name, first, then, .. } => {
            out.progress.working_on(&id);
            let mut version = version;
            if let Some(types) = first {
                let body = json!({"name": name, "enabled_types": types});
                let updated: CurrentTenant =
                    parse(client.call_with(Method::PUT, &path, Some(body), Some(version)).await?)?;
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
        client.call_with(Method::PUT, &path, Some(json!({"enabled_types": types})), Some(version)).await?;
        out.progress.advance(&id);
    }
    Ok(())
}

async fn run_account(client: &Client, tenant: &str, a: &AccountPlan, out: &mut Output<'_>) -> Result<(), CliError> {
    let url = |id: &str| Operation::UpdateAccount.url(&[tenant, id]);
    match &a.action {
        AccountAction::Create(desired) => {
            client.call(Method::POST, &Operation::CreateAccount.url(&[tenant]), Some(desired.body())).await?;
            out.emit(account_line(tenant, a));
        }
        AccountAction::Update { id, version, desired, .. } => {
            client.call_with(Method::PUT, &url(id), Some(desired.body()), Some(*version)).await?;
            out.emit(account_line(tenant, a));
        }
        AccountAction::Resend { id, version, secrets, desired } => {
            let sent = client.call_with(Method::PUT, &url(id), Some(desired.body()), Some(*version)).await?;
            let after: CurrentAccount = parse(sent)?;
            if after.version == *version {
                out.counts.unchanged += 1;
            } else {
                let what = format!("a secret value changed (sent: {})", secrets.join(" "));
                out.emit(Line::account(tenant, a, "update", vec![what]));
            }
        }
        AccountAction::Unchanged => out.counts.unchanged += 1,
        AccountAction::Delete { id, version } => {
            client
                .call_with(Method::DELETE, &Operation::DeleteAccount.url(&[tenant, id]), None, Some(*version))
                .await?;
            out.emit(account_line(tenant, a));
        }
    }
    Ok(())
}
