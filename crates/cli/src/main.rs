//! The `patchbay` binary: `serve` runs the service; the other verbs talk to a running
//! server over its REST API with a token. Exit codes: 0 ok, 1 other error, 2 usage,
//! 3 input refused, 4 not found, 5 not authenticated or not allowed, 6 server unreachable
//! or failed, 7 a connection test ran and failed, 8 `apply --plan` found changes pending.

mod client;
mod gateway;
mod keys;
mod provision;
mod recordings;
mod serve;
mod simulate;
mod users;
mod verbs;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use client::{CliError, Client, ClientArgs};

#[derive(Parser)]
#[command(name = "patchbay", version, about = "Integration accounts for contact centers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (API and admin screen).
    Serve(serve::ServeArgs),
    /// List the integration types of the catalog.
    Types {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Tenants (contact centers) and their entitlements.
    Tenants {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: verbs::TenantsCommand,
    },
    /// Integration accounts of a tenant.
    Accounts {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: verbs::AccountsCommand,
    },
    /// API tokens.
    Tokens {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: verbs::TokensCommand,
    },
    /// The people of a tenant who sign in to the admin screen through its identity provider.
    Users {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Master keys: status, rotation while the server runs, retirement of unused keys.
    Keys {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Use accounts through the runtime gateway as an application would (suggestions,
    /// sentiment, caller identification), the chat bot bindings, and usage.
    Gateway {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: gateway::GatewayCommand,
    },
    /// Recordings: search (also by the words of their transcripts), transcripts, and the
    /// automatic transcription of new ones.
    Recordings {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: recordings::RecordingsCommand,
    },
    /// Make tenants and accounts match provisioning files (YAML; secrets as references).
    Apply {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        args: provision::ApplyArgs,
    },
    /// Write tenants and accounts in the provisioning format, secrets as placeholders.
    Export {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        args: provision::ExportArgs,
    },
    /// Send a tenant realistic agent events (logins, calls, after-call work, not ready
    /// with reasons, logouts) for demos and benchmarks.
    Simulate {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        args: simulate::SimulateArgs,
    },
}

/// Makes glibc serve allocations of 1 MiB and more (upload parts are 8 MiB) with their own
/// mappings, returned to the OS when freed. Left to itself, glibc raises that threshold
/// after the first such buffer is freed and keeps later ones in its heap, so every export
/// run would leave the process tens of MiB larger than before it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_os() {
    // SAFETY: mallopt only sets an allocator parameter; it runs before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    return_large_buffers_to_the_os();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut changes_pending = false;
    let result: Result<(), CliError> = runtime.block_on(async {
        match cli.command {
            Command::Serve(mut args) => {
                let serve_matches = matches.subcommand_matches("serve").unwrap_or(&matches);
                match args.apply_config(serve_matches) {
                    Ok(()) => serve::serve(args).await.map_err(CliError::Other),
                    Err(e) => Err(CliError::Other(e)),
                }
            }
            Command::Types { client } => verbs::types(&Client::new(&client)?).await,
            Command::Tenants { client, command } => verbs::tenants(&Client::new(&client)?, command).await,
            Command::Accounts { client, command } => verbs::accounts(&Client::new(&client)?, command).await,
            Command::Tokens { client, command } => verbs::tokens(&Client::new(&client)?, command).await,
            Command::Users { client, command } => users::users(&Client::new(&client)?, command).await,
            Command::Keys { client, command } => keys::keys(&Client::new(&client)?, command).await,
            Command::Gateway { client, command } => gateway::gateway(&Client::new(&client)?, command).await,
            Command::Recordings { client, command } => recordings::recordings(&Client::new(&client)?, command).await,
            Command::Apply { client, args } => {
                changes_pending = provision::apply(&Client::new(&client)?, args).await?;
                Ok(())
            }
            Command::Export { client, args } => provision::export(&Client::new(&client)?, args).await,
            Command::Simulate { client, args } => simulate::run(&Client::new(&client)?, args).await,
        }
    });
    match result {
        Ok(()) if changes_pending => ExitCode::from(provision::CHANGES_PENDING),
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
