//! `patchbay serve`: flags, logging and start-up of the service.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::ValueEnum;
use patchbay_server::HttpLimits;

/// Flags of `serve`. Each value comes from, in this order: the flag, its environment
/// variable, the config file (`--config`), the default.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// A TOML config file; its keys are the flags' long names with `_` (see docs/configuration.md).
    #[arg(long, env = "PATCHBAY_CONFIG")]
    config: Option<PathBuf>,
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
    /// Address classes connection tests may reach besides public ones (comma-separated).
    #[arg(long, env = "PATCHBAY_EGRESS_ALLOW", value_enum, value_delimiter = ',')]
    egress_allow: Vec<EgressClass>,
    /// Timeout of each outbound call of a test or action, in seconds.
    #[arg(long, env = "PATCHBAY_EGRESS_TIMEOUT", default_value_t = 10.0)]
    egress_timeout: f64,
    /// PEM file of extra root certificates trusted for outbound TLS.
    #[arg(long, env = "PATCHBAY_EGRESS_CA_FILE")]
    egress_ca_file: Option<PathBuf>,
    /// Public base URL of this service, for webhooks that vendors call (Set Webhook).
    #[arg(long, env = "PATCHBAY_PUBLIC_URL")]
    public_url: Option<url::Url>,
    /// Replace a vendor API base URL, e.g. `telegram=https://proxy.example/` (repeatable).
    #[arg(long = "vendor-url", env = "PATCHBAY_VENDOR_URLS", value_delimiter = ',', value_parser = parse_vendor_url)]
    vendor_urls: Vec<(String, url::Url)>,
    /// A folder watched for recordings dropped as files: `{tenant}/{id}.wav` and `{tenant}/{id}.json`.
    #[arg(long, env = "PATCHBAY_RECORDINGS_SPOOL")]
    recordings_spool: Option<PathBuf>,
    /// Seconds a client has to send a request's headers (also between kept-alive requests).
    #[arg(long, env = "PATCHBAY_HEADER_READ_TIMEOUT", default_value_t = HttpLimits::default().header_read_timeout.as_secs_f64())]
    header_read_timeout: f64,
    /// Longest pause, in seconds, between two chunks of a request body.
    #[arg(long, env = "PATCHBAY_BODY_READ_TIMEOUT", default_value_t = HttpLimits::default().body_read_timeout.as_secs_f64())]
    body_read_timeout: f64,
    /// Seconds a response may wait on a client that reads nothing before the connection closes.
    #[arg(long, env = "PATCHBAY_WRITE_STALL_TIMEOUT", default_value_t = HttpLimits::default().write_stall_timeout.as_secs_f64())]
    write_stall_timeout: f64,
    /// HTTP connections open at once, all clients together.
    #[arg(long, env = "PATCHBAY_MAX_CONNECTIONS", default_value_t = HttpLimits::default().max_connections)]
    max_connections: usize,
    /// HTTP connections open at once from one client address (an IPv6 client is its /64).
    #[arg(long, env = "PATCHBAY_MAX_CONNECTIONS_PER_CLIENT", default_value_t = HttpLimits::default().max_connections_per_client)]
    max_connections_per_client: usize,
    /// Connection tests and actions one tenant may run at once; more are answered 429.
    #[arg(long, env = "PATCHBAY_TEST_LIMIT_PER_TENANT",
          default_value_t = patchbay_server::Settings::DEFAULT_TEST_LIMIT_PER_TENANT)]
    test_limit_per_tenant: usize,
    /// Connection tests and actions all tenants may run at once; more are answered 429.
    #[arg(long, env = "PATCHBAY_TEST_LIMIT_GLOBAL", default_value_t = patchbay_server::Settings::DEFAULT_TEST_LIMIT_GLOBAL)]
    test_limit_global: usize,
    /// Live state event streams (the admin screen's Live page) one tenant may hold open at
    /// once; more are answered 429.
    #[arg(long, env = "PATCHBAY_LIVE_STREAMS_PER_TENANT",
          default_value_t = patchbay_server::Settings::DEFAULT_LIVE_STREAMS_PER_TENANT)]
    live_streams_per_tenant: usize,
    /// Seconds without a heartbeat (database time) after which another node takes an export run over.
    #[arg(long, env = "PATCHBAY_EXPORT_RUN_EXPIRY", default_value_t = patchbay_server::Settings::DEFAULT_EXPORT_RUN_EXPIRY.as_secs_f64())]
    export_run_expiry: f64,
    /// Largest messenger webhook delivery body, in bytes; larger ones are answered 413.
    #[arg(long, env = "PATCHBAY_INBOUND_BODY_LIMIT", default_value_t = patchbay_server::Settings::DEFAULT_INBOUND_BODY_LIMIT)]
    inbound_body_limit: usize,
    /// Take http:// Identity Provider Single Sign-On URLs on loopback hosts (a test identity
    /// provider without TLS); off, they must be https://.
    #[arg(long, env = "PATCHBAY_SSO_ALLOW_HTTP_LOOPBACK")]
    sso_allow_http_loopback: bool,
}

/// The config file: every key optional; unknown keys are refused.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    database_url: Option<String>,
    log_format: Option<String>,
    egress_allow: Option<Vec<String>>,
    egress_timeout: Option<f64>,
    egress_ca_file: Option<PathBuf>,
    public_url: Option<String>,
    /// Vendor name -> base URL.
    vendor_urls: Option<std::collections::BTreeMap<String, String>>,
    recordings_spool: Option<PathBuf>,
    header_read_timeout: Option<f64>,
    body_read_timeout: Option<f64>,
    write_stall_timeout: Option<f64>,
    max_connections: Option<usize>,
    max_connections_per_client: Option<usize>,
    test_limit_per_tenant: Option<usize>,
    test_limit_global: Option<usize>,
    live_streams_per_tenant: Option<usize>,
    export_run_expiry: Option<f64>,
    inbound_body_limit: Option<usize>,
    sso_allow_http_loopback: Option<bool>,
}

impl ServeArgs {
    /// Fills in, from the config file, every value that neither a flag nor an environment
    /// variable gave.
    pub fn apply_config(&mut self, matches: &clap::ArgMatches) -> anyhow::Result<()> {
        let Some(path) = &self.config else { return Ok(()) };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {}", path.display()))?;
        let file: ConfigFile =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("the config file {} is invalid: {e}", path.display()))?;
        let unset = |id: &str| {
            !matches!(
                matches.value_source(id),
                Some(clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable)
            )
        };
        let bad = |key: &str, why: String| anyhow::anyhow!("the config file {}: `{key}` {why}", path.display());
        if let (true, Some(v)) = (unset("data_dir"), file.data_dir) {
            self.data_dir = v;
        }
        if let (true, Some(v)) = (unset("listen"), file.listen) {
            self.listen = v;
        }
        if let (true, Some(v)) = (unset("database_url"), file.database_url) {
            self.database_url = Some(v);
        }
        if let (true, Some(v)) = (unset("log_format"), file.log_format) {
            self.log_format =
                LogFormat::from_str(&v, true).map_err(|_| bad("log_format", "must be text or json".into()))?;
        }
        if let (true, Some(v)) = (unset("egress_allow"), file.egress_allow) {
            self.egress_allow = v
                .iter()
                .map(|c| EgressClass::from_str(c, true))
                .collect::<Result<_, _>>()
                .map_err(|_| bad("egress_allow", "takes loopback, private, link-local and embedded-ipv4".into()))?;
        }
        if let (true, Some(v)) = (unset("egress_timeout"), file.egress_timeout) {
            self.egress_timeout = v;
        }
        if let (true, Some(v)) = (unset("egress_ca_file"), file.egress_ca_file) {
            self.egress_ca_file = Some(v);
        }
        if let (true, Some(v)) = (unset("public_url"), file.public_url) {
            self.public_url = Some(url::Url::parse(&v).map_err(|e| bad("public_url", format!("is not a URL: {e}")))?);
        }
        if let (true, Some(v)) = (unset("vendor_urls"), file.vendor_urls) {
            self.vendor_urls = v
                .into_iter()
                .map(|(name, url)| parse_vendor_url(&format!("{name}={url}")).map_err(|e| bad("vendor_urls", e)))
                .collect::<Result<_, _>>()?;
        }
        if let (true, Some(v)) = (unset("recordings_spool"), file.recordings_spool) {
            self.recordings_spool = Some(v);
        }
        if let (true, Some(v)) = (unset("header_read_timeout"), file.header_read_timeout) {
            self.header_read_timeout = v;
        }
        if let (true, Some(v)) = (unset("body_read_timeout"), file.body_read_timeout) {
            self.body_read_timeout = v;
        }
        if let (true, Some(v)) = (unset("write_stall_timeout"), file.write_stall_timeout) {
            self.write_stall_timeout = v;
        }
        if let (true, Some(v)) = (unset("max_connections"), file.max_connections) {
            self.max_connections = v;
        }
        if let (true, Some(v)) = (unset("max_connections_per_client"), file.max_connections_per_client) {
            self.max_connections_per_client = v;
        }
        if let (true, Some(v)) = (unset("test_limit_per_tenant"), file.test_limit_per_tenant) {
            self.test_limit_per_tenant = v;
        }
        if let (true, Some(v)) = (unset("test_limit_global"), file.test_limit_global) {
            self.test_limit_global = v;
        }
        if let (true, Some(v)) = (unset("live_streams_per_tenant"), file.live_streams_per_tenant) {
            self.live_streams_per_tenant = v;
        }
        if let (true, Some(v)) = (unset("export_run_expiry"), file.export_run_expiry) {
            self.export_run_expiry = v;
        }
        if let (true, Some(v)) = (unset("inbound_body_limit"), file.inbound_body_limit) {
            self.inbound_body_limit = v;
        }
        if let (true, Some(v)) = (unset("sso_allow_http_loopback"), file.sso_allow_http_loopback) {
            self.sso_allow_http_loopback = v;
        }
        Ok(())
    }

    /// The listener's limits, checked.
    fn http_limits(&self) -> anyhow::Result<HttpLimits> {
        let seconds = |flag: &str, v: f64| {
            if (0.1..=3600.0).contains(&v) {
                Ok(std::time::Duration::from_secs_f64(v))
            } else {
                Err(anyhow::anyhow!("--{flag} must be between 0.1 and 3600 seconds"))
            }
        };
        if self.max_connections == 0 || self.max_connections_per_client == 0 {
            bail!("--max-connections and --max-connections-per-client must be at least 1");
        }
        Ok(HttpLimits {
            header_read_timeout: seconds("header-read-timeout", self.header_read_timeout)?,
            body_read_timeout: seconds("body-read-timeout", self.body_read_timeout)?,
            write_stall_timeout: seconds("write-stall-timeout", self.write_stall_timeout)?,
            max_connections: self.max_connections,
            max_connections_per_client: self.max_connections_per_client,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EgressClass {
    Loopback,
    Private,
    LinkLocal,
    EmbeddedIpv4,
}

fn parse_vendor_url(s: &str) -> Result<(String, url::Url), String> {
    let (name, url) = s.split_once('=').ok_or("expected NAME=URL")?;
    let url = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    Ok((name.to_owned(), url))
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = std::env::var("PATCHBAY_LOG").unwrap_or_else(|_| patchbay_server::logging::DEFAULT_FILTER.to_owned());
    patchbay_server::logging::subscriber(&filter, matches!(format, LogFormat::Json), std::io::stderr).init();
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    if !(0.1..=300.0).contains(&args.egress_timeout) {
        bail!("--egress-timeout must be between 0.1 and 300 seconds");
    }
    if !(2.0..=3600.0).contains(&args.export_run_expiry) {
        bail!("--export-run-expiry must be between 2 and 3600 seconds");
    }
    if !(1024..=64 * 1024 * 1024).contains(&args.inbound_body_limit) {
        bail!("--inbound-body-limit must be between 1 KiB and 64 MiB");
    }
    let extra_roots_pem = match &args.egress_ca_file {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?),
        None => None,
    };
    let http = args.http_limits()?;
    raise_open_files_limit(http.max_connections);
    let settings = patchbay_server::Settings {
        http,
        database_url: args.database_url,
        admin_token: std::env::var("PATCHBAY_ADMIN_TOKEN").ok(),
        egress: patchbay_server::EgressPolicy {
            allow_loopback: args.egress_allow.contains(&EgressClass::Loopback),
            allow_private: args.egress_allow.contains(&EgressClass::Private),
            allow_link_local: args.egress_allow.contains(&EgressClass::LinkLocal),
            allow_embedded_ipv4: args.egress_allow.contains(&EgressClass::EmbeddedIpv4),
            timeout: std::time::Duration::from_secs_f64(args.egress_timeout),
            extra_roots_pem,
            names: Default::default(),
        },
        public_url: args.public_url,
        vendor_urls: args.vendor_urls,
        recordings_spool: args.recordings_spool,
        test_limit_per_tenant: args.test_limit_per_tenant,
        test_limit_global: args.test_limit_global,
        live_streams_per_tenant: args.live_streams_per_tenant,
        export_run_expiry: std::time::Duration::from_secs_f64(args.export_run_expiry),
        inbound_body_limit: args.inbound_body_limit,
        sso_allow_http_loopback: args.sso_allow_http_loopback,
        ..patchbay_server::Settings::new(args.data_dir)
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

/// Open files the process needs besides its HTTP connections (database, audio, outbound).
const OTHER_FILES: u64 = 1024;

/// Raises the soft open-files limit to the hard one (as Go and nginx do), so that
/// `--max-connections` is reachable; warns when even the hard limit is too low.
fn raise_open_files_limit(max_connections: usize) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    let needed = max_connections as u64 + OTHER_FILES;
    if limit.rlim_cur < needed {
        tracing::warn!(
            open_files = limit.rlim_cur,
            needed,
            "the open-files limit is below --max-connections plus {OTHER_FILES}; lower --max-connections or raise `ulimit -n`"
        );
    }
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
