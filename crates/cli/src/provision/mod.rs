//! Provisioning as code. `patchbay apply` makes the server match YAML files of tenants and
//! their accounts, secrets written as references (`${ENV_VAR}`, `file:PATH`); `--plan` shows
//! the changes without making them. `patchbay export` writes that format from the server,
//! each secret as a placeholder reference. See docs/provisioning.md.

mod catalog;
mod export;
mod plan;
mod progress;
mod run;
mod source;

use std::path::PathBuf;

use serde::Serialize;

pub use export::export;

use crate::client::{CliError, Client};

/// The exit code of `apply --plan` when something would change.
pub const CHANGES_PENDING: u8 = 8;

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// A YAML file, or a directory searched for *.yaml, *.yml and *.json files; repeatable.
    #[arg(short = 'f', long = "file", value_name = "FILE|DIR", required = true)]
    files: Vec<PathBuf>,
    /// Print what would change and change nothing; exit 8 when something would change.
    #[arg(long)]
    plan: bool,
    /// Delete accounts that the files no longer name, in the tenants whose accounts they list.
    #[arg(long)]
    prune: bool,
    /// With --prune, also delete the tenants (with their accounts) that the files do not name.
    #[arg(long, requires = "prune")]
    prune_tenants: bool,
    /// Accept secret values written in the files instead of references.
    #[arg(long)]
    allow_inline_secrets: bool,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// A tenant to export; repeatable. Every tenant the token sees when none is given.
    #[arg(long = "tenant", value_name = "TENANT")]
    tenants: Vec<String>,
    /// Write to this file, or into this directory (one that exists, or a path ending in `/`)
    /// as one <tenant>.yaml per tenant. Standard output when omitted.
    #[arg(short = 'o', long = "output", value_name = "FILE|DIR")]
    output: Option<PathBuf>,
}

/// What `apply --plan --json` prints.
#[derive(Serialize)]
struct PlanOutput<'a> {
    pending: bool,
    changes: &'a [plan::Line],
    summary: plan::Counts,
}

/// `e` with its message rewritten by `f`, keeping its kind (and so its exit code).
fn reword(e: CliError, f: impl FnOnce(String) -> String) -> CliError {
    match e {
        CliError::Usage(m) => CliError::Usage(f(m)),
        CliError::Rejected(m) => CliError::Rejected(f(m)),
        CliError::NotFound(m) => CliError::NotFound(f(m)),
        CliError::Denied(m) => CliError::Denied(f(m)),
        CliError::Server(m) => CliError::Server(f(m)),
        CliError::CheckFailed(m) => CliError::CheckFailed(f(m)),
        CliError::Other(e) => CliError::Other(anyhow::anyhow!(f(format!("{e:#}")))),
    }
}

/// `e` with `what` before its message, keeping its kind.
fn within(what: &str, e: CliError) -> CliError {
    reword(e, |m| format!("{what}: {m}"))
}

/// Checks the files, reads the server's state and plans; then prints the plan (`--plan`) or
/// applies it. Returns whether a plan found changes pending.
pub async fn apply(client: &Client, args: ApplyArgs) -> Result<bool, CliError> {
    let mut problems = Vec::new();
    let specs = source::read(&args.files, &mut problems);
    let catalog = patchbay_catalog::catalog();
    let desired = source::check(specs, catalog, args.allow_inline_secrets, &mut problems);
    if args.prune_tenants && desired.is_empty() && problems.is_empty() {
        problems.push("the files name no tenant: --prune-tenants would delete every tenant".into());
    }
    if !problems.is_empty() {
        return Err(CliError::Rejected(format!(
            "nothing was changed; the files are invalid:\n  {}",
            problems.join("\n  ")
        )));
    }
    let progress = progress::Progress::new();
    let plan = plan::build(client, catalog, desired, args.prune, args.prune_tenants, &progress).await?;
    if !plan.problems.is_empty() {
        return Err(CliError::Rejected(format!("nothing was changed:\n  {}", plan.problems.join("\n  "))));
    }
    if !args.plan {
        run::run(client, plan, &progress).await?;
        return Ok(false);
    }
    let counts = plan.counts();
    let lines = plan::lines(&plan);
    if client.json {
        crate::client::print_json(&PlanOutput { pending: counts.pending(), changes: &lines, summary: counts })?;
    } else {
        for line in &lines {
            println!("{}", line.text());
        }
        if counts.pending() {
            println!(
                "plan: {} to create, {} to update, {} to delete, {} unchanged",
                counts.create, counts.update, counts.delete, counts.unchanged
            );
        } else {
            println!("plan: no changes ({} unchanged)", counts.unchanged);
        }
    }
    Ok(counts.pending())
}
