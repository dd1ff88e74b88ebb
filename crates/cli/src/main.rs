//! The `patchbay` binary: `serve` runs the service; the other verbs talk to a running
//! server over its REST API with a token.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "patchbay", version, about = "Integration accounts for contact centers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (API and admin screen).
    Serve(ServeArgs),
    /// Create, list and revoke API tokens on a running server.
    Tokens {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: TokensCommand,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Where the SQLite database, the master key ring and the admin token live.
    #[arg(long, env = "PATCHBAY_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "PATCHBAY_LISTEN", default_value = "127.0.0.1:8480")]
    listen: String,
    /// `postgres://…` to use PostgreSQL instead of SQLite in the data dir.
    #[arg(long, env = "PATCHBAY_DATABASE_URL")]
    database_url: Option<String>,
    /// Log format.
    #[arg(long, env = "PATCHBAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct ClientArgs {
    /// Base URL of the server.
    #[arg(long, env = "PATCHBAY_SERVER", default_value = "http://127.0.0.1:8480", global = true)]
    server: String,
    /// API token; defaults to PATCHBAY_TOKEN, then DATA_DIR/admin-token.
    #[arg(long, env = "PATCHBAY_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Data dir to read the admin token from when no token is given.
    #[arg(long, env = "PATCHBAY_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Create a token; it is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// sp_admin, tenant_admin or tenant_viewer.
        #[arg(long)]
        role: String,
        /// The tenant of a tenant_admin or tenant_viewer token.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Tokens { client, command } => tokens(client, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PATCHBAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let settings = patchbay_server::Settings {
        data_dir: args.data_dir,
        database_url: args.database_url,
        admin_token: std::env::var("PATCHBAY_ADMIN_TOKEN").ok(),
    };
    let started = patchbay_server::start(&settings).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    if let Some(token) = &started.new_admin_token {
        println!("Service-provider admin token (shown once; also in {}):", started.admin_token_path.display());
        println!("  {token}");
    }
    println!("patchbay listening on http://{addr} ({} database)", started.backend);
    tracing::info!(%addr, backend = started.backend, "listening");
    patchbay_server::serve(listener, started.state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(args: &ClientArgs) -> anyhow::Result<Client> {
        let token = match &args.token {
            Some(t) => t.clone(),
            None => {
                let path = args.data_dir.join("admin-token");
                std::fs::read_to_string(&path)
                    .with_context(|| {
                        format!("no token: pass --token, set PATCHBAY_TOKEN, or point --data-dir at a data dir with admin-token ({} unreadable)", path.display())
                    })?
                    .trim()
                    .to_owned()
            }
        };
        Ok(Client { http: reqwest::Client::new(), base: args.server.trim_end_matches('/').to_owned(), token })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await?;
        let value: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        if !status.is_success() {
            let detail = value.get("detail").and_then(Value::as_str).unwrap_or("");
            let mut message = format!("{status}: {detail}");
            for e in value.get("errors").and_then(Value::as_array).into_iter().flatten() {
                message.push_str(&format!(
                    "\n  {}: {}",
                    e["field"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                ));
            }
            bail!(message);
        }
        Ok(value)
    }
}

async fn tokens(args: ClientArgs, command: TokensCommand) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    match command {
        TokensCommand::Create { name, role, tenant } => {
            let created = client
                .call(
                    reqwest::Method::POST,
                    "/api/v1/tokens",
                    Some(json!({"name": name, "role": role, "tenant": tenant})),
                )
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!(
                    "created token {} ({})",
                    created["id"].as_str().unwrap_or(""),
                    created["role"].as_str().unwrap_or("")
                );
                println!("{}", created["token"].as_str().unwrap_or(""));
            }
        }
        TokensCommand::List => {
            let list = client.call(reqwest::Method::GET, "/api/v1/tokens", None).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list["items"])?);
            } else {
                println!("{:<38} {:<14} {:<16} {:<8} NAME", "ID", "ROLE", "TENANT", "STATE");
                for t in list["items"].as_array().into_iter().flatten() {
                    println!(
                        "{:<38} {:<14} {:<16} {:<8} {}",
                        t["id"].as_str().unwrap_or(""),
                        t["role"].as_str().unwrap_or(""),
                        t["tenant_id"].as_str().unwrap_or("-"),
                        if t["revoked_at"].is_null() { "active" } else { "revoked" },
                        t["name"].as_str().unwrap_or(""),
                    );
                }
            }
        }
        TokensCommand::Revoke { id } => {
            client.call(reqwest::Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
