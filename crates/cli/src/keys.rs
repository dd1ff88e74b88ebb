//! `patchbay keys`: which master key seals how many secret values, rotation to a new key
//! while the server runs (resumable, with a progress bar), and retirement of unused keys.

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use patchbay_api::{KeyInfo, KeyStatus, Operation, ResealFailure, ResealReport};
use serde::Serialize;

use crate::client::{escape, print_json, table, CliError, Client};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// How many secret values each master key seals, and which key is active.
    Status,
    /// Seal every secret value under a new master key while the server runs. Run it again
    /// after an interruption: it continues the unfinished rotation instead of adding a key.
    Rotate {
        /// Values resealed per request.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        batch: u32,
        /// Afterwards, retire the older keys (they then seal nothing).
        #[arg(long)]
        retire_old: bool,
    },
    /// Remove keys that seal nothing from the ring: KEY_ID, or else every unused older key.
    Retire { key_id: Option<u32> },
}

/// What `keys retire --json` prints.
#[derive(Serialize)]
struct Retired {
    retired: Vec<u64>,
}

/// What `keys rotate --json` prints: every value is sealed by `active` once it returns.
#[derive(Serialize)]
struct Rotated {
    active: u32,
    resealed: u64,
    remaining: u64,
    retired: Vec<u64>,
}

pub async fn keys(client: &Client, command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::Status => status(client).await,
        KeysCommand::Rotate { batch, retire_old } => rotate(client, batch, retire_old).await,
        KeysCommand::Retire { key_id } => {
            let retired = retire(client, key_id).await?;
            if client.json {
                print_json(&Retired { retired })
            } else {
                print_retired(&retired);
                Ok(())
            }
        }
    }
}

async fn key_status(client: &Client) -> Result<KeyStatus, CliError> {
    client.get(&Operation::KeyStatus.url(&[])).await
}

async fn status(client: &Client) -> Result<(), CliError> {
    let status = key_status(client).await?;
    if client.json {
        return print_json(&status);
    }
    let rows: Vec<Vec<String>> = status
        .keys
        .iter()
        .map(|k| {
            let state = match (k.active, k.in_ring) {
                (true, _) => "active",
                (false, true) => "older",
                (false, false) => "not in this server's ring",
            };
            vec![k.id.to_string(), state.to_owned(), k.values.to_string()]
        })
        .collect();
    table(&["KEY", "STATE", "VALUES"], &rows);
    Ok(())
}

async fn rotate(client: &Client, batch: u32, retire_old: bool) -> Result<(), CliError> {
    let before = key_status(client).await?;
    let pending = before.older_values();
    let status = if pending == 0 {
        let rotated: KeyStatus = client.post(&Operation::RotateKeys.url(&[])).await?;
        if !client.json {
            println!("key {} is now active (was key {})", rotated.active, before.active);
        }
        rotated
    } else {
        if !client.json {
            println!(
                "continuing the rotation to key {}: {pending} values are still sealed by older keys",
                before.active
            );
        }
        before
    };
    let total = status.older_values();
    let resealed = reseal_all(client, batch, total).await?;
    let retired = if retire_old { retire(client, None).await? } else { Vec::new() };
    if client.json {
        return print_json(&Rotated { active: status.active, resealed, remaining: 0, retired });
    }
    println!("resealed {resealed} values; every value is now sealed by key {}", status.active);
    if retire_old {
        print_retired(&retired);
    } else {
        println!("older keys stay in the ring until you run `patchbay keys retire`");
    }
    Ok(())
}

/// Calls `POST /keys/reseal` until no value is left under an older key, showing progress
/// out of `total`. Each pass pages through the values once; a value that an account write
/// left under an older key meanwhile is taken by the next pass. Returns how many values this
/// run resealed.
async fn reseal_all(client: &Client, batch: u32, total: u64) -> Result<u64, CliError> {
    let bar = if client.json { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template("resealing [{bar:40}] {pos}/{len} values ({eta} left)")
            .map_err(anyhow::Error::from)?
            .progress_chars("=> "),
    );
    let mut after: Option<String> = None;
    let mut resealed = 0;
    let mut pass_resealed = 0;
    let mut failed: Vec<ResealFailure> = Vec::new();
    loop {
        let mut path = format!("{}?batch={batch}", Operation::ResealSecrets.url(&[]));
        if let Some(after) = &after {
            path.push_str("&after=");
            path.extend(url::form_urlencoded::byte_serialize(after.as_bytes()));
        }
        let reply: ResealReport = match client.post(&path).await {
            Ok(reply) => reply,
            Err(e) => {
                bar.abandon();
                return Err(e);
            }
        };
        resealed += reply.resealed;
        pass_resealed += reply.resealed;
        failed.extend(reply.failed);
        let remaining = reply.remaining;
        bar.set_position(total.saturating_sub(remaining));
        match reply.next {
            Some(next) => after = Some(next),
            None if remaining == 0 => break,
            None if pass_resealed == 0 => {
                bar.abandon();
                return Err(stuck(remaining, &failed));
            }
            None => {
                after = None;
                pass_resealed = 0;
                failed.clear();
            }
        }
    }
    bar.finish_and_clear();
    Ok(resealed)
}

fn stuck(remaining: u64, failed: &[ResealFailure]) -> CliError {
    let mut message = format!("{remaining} values are still sealed by older keys and could not be resealed:");
    for f in failed {
        message.push_str(&format!(
            "\n  tenant {} account {} field {} (key {}): {}",
            escape(&f.tenant),
            f.account,
            escape(&f.field),
            f.key_id,
            escape(&f.error)
        ));
    }
    message.push_str("\nset those secrets again (`patchbay accounts update`), then run `patchbay keys rotate` again");
    CliError::Other(anyhow::anyhow!(message))
}

/// Retires `key_id`, or else every older key that seals nothing; refuses (exit 3) when an
/// older key still seals values. Returns the retired key ids.
async fn retire(client: &Client, key_id: Option<u32>) -> Result<Vec<u64>, CliError> {
    let ids: Vec<u64> = match key_id {
        Some(id) => vec![u64::from(id)],
        None => {
            let status = key_status(client).await?;
            let older: Vec<&KeyInfo> = status.keys.iter().filter(|k| !k.active && k.in_ring).collect();
            let in_use: Vec<String> = older
                .iter()
                .filter(|k| k.values != 0)
                .map(|k| format!("key {} still seals {} values", k.id, k.values))
                .collect();
            if !in_use.is_empty() {
                return Err(CliError::Rejected(format!(
                    "{}; run `patchbay keys rotate` to reseal them first",
                    in_use.join(", ")
                )));
            }
            older.iter().map(|k| u64::from(k.id)).collect()
        }
    };
    for id in &ids {
        client.delete(&Operation::RetireKey.url(&[&id.to_string()]), None).await?;
    }
    Ok(ids)
}

fn print_retired(retired: &[u64]) {
    match retired {
        [] => println!("no older key to retire"),
        ids => {
            let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
            println!("retired key {}", ids.join(", "));
        }
    }
}
