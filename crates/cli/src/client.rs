//! A small client of the REST API for the CLI verbs, with exit codes scripts can trust.

use std::path::PathBuf;

use patchbay_api::Problem;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Where and as whom the CLI talks to a running server.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// Base URL of the server.
    #[arg(long, env = "PATCHBAY_SERVER", default_value = "http://127.0.0.1:8480", global = true)]
    pub server: String,
    /// API token; defaults to PATCHBAY_TOKEN, then DATA_DIR/admin-token.
    #[arg(long, env = "PATCHBAY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Data dir to read the admin token from when no token is given.
    #[arg(long, env = "PATCHBAY_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A CLI failure and the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit 2 is clap's (usage).
    #[error("{0}")]
    Usage(String),
    /// Exit 3: the server refused the input (400, 409, 412, 422).
    #[error("{0}")]
    Rejected(String),
    /// Exit 4: not found (404).
    #[error("{0}")]
    NotFound(String),
    /// Exit 5: no or bad token, or not allowed (401, 403).
    #[error("{0}")]
    Denied(String),
    /// Exit 6: the server is unreachable or failed (5xx).
    #[error("{0}")]
    Server(String),
    /// Exit 7: a connection test or action ran and failed.
    #[error("{0}")]
    CheckFailed(String),
    /// Exit 1: anything else.
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Other(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Rejected(_) => 3,
            CliError::NotFound(_) => 4,
            CliError::Denied(_) => 5,
            CliError::Server(_) => 6,
            CliError::CheckFailed(_) => 7,
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    pub json: bool,
}

impl Client {
    pub fn new(args: &ClientArgs) -> Result<Client, CliError> {
        let token = match &args.token {
            Some(t) => t.clone(),
            None => {
                let path = args.data_dir.join("admin-token");
                std::fs::read_to_string(&path)
                    .map_err(|_| {
                        CliError::Denied(format!(
                            "no token: pass --token, set PATCHBAY_TOKEN, or point --data-dir at a data dir with admin-token ({} unreadable)",
                            path.display()
                        ))
                    })?
                    .trim()
                    .to_owned()
            }
        };
        Ok(Client {
            http: reqwest::Client::new(),
            base: args.server.trim_end_matches('/').to_owned(),
            token,
            json: args.json,
        })
    }

    /// A GET whose answer is read as the API type `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send_if(Method::GET, path, None::<&()>, None).await
    }

    /// A POST without a body whose answer is read as the API type `T`.
    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send_if(Method::POST, path, None::<&()>, None).await
    }

    /// A DELETE, with an optional `If-Match` version.
    pub async fn delete(&self, path: &str, if_match: Option<i64>) -> Result<(), CliError> {
        self.send_if(Method::DELETE, path, None::<&()>, if_match).await
    }

    /// A request with a typed body whose answer is read as the API type `T`.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, CliError> {
        self.send_if(method, path, Some(body), None).await
    }

    /// A request with a typed body (or none) and an optional `If-Match` version, whose answer
    /// is read as the API type `T`.
    pub async fn send_if<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        if_match: Option<i64>,
    ) -> Result<T, CliError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(v) = if_match {
            req = req.header("if-match", format!("\"{v}\""));
        }
        self.answer(req).await
    }

    /// Posts a body as it is (e.g. NDJSON events); the answer is read as the API type `T`.
    pub async fn post_raw<T: DeserializeOwned>(&self, path: &str, body: Vec<u8>) -> Result<T, CliError> {
        let req =
            self.http.post(format!("{}{path}", self.base)).header("content-type", "application/x-ndjson").body(body);
        self.answer(req).await
    }

    /// A request with a typed body whose successful answer is bytes (audio); a failure is
    /// read as a problem like any other.
    pub async fn send_bytes(&self, method: Method, path: &str, body: &impl Serialize) -> Result<Vec<u8>, CliError> {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(body)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| CliError::Server(format!("cannot reach {}: {e}", self.base)))?;
        if !resp.status().is_success() {
            Self::read(resp).await?;
            return Err(CliError::Server("the server failed without saying why".into()));
        }
        Ok(resp.bytes().await.map_err(|e| CliError::Server(format!("the answer broke off: {e}")))?.to_vec())
    }

    async fn answer<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, CliError> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| CliError::Server(format!("cannot reach {}: {e}", self.base)))?;
        serde_json::from_value(Self::read(resp).await?)
            .map_err(|e| CliError::Server(format!("the server's answer has an unexpected shape: {e}")))
    }

    /// The JSON of a successful answer, or the error its status stands for.
    async fn read(resp: reqwest::Response) -> Result<Value, CliError> {
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| CliError::Server(e.to_string()))?;
        let value: Value =
            if body.is_empty() { Value::Null } else { serde_json::from_str(&body).unwrap_or(Value::String(body)) };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        Err(refusal(status, value))
    }

    /// Opens a WebSocket on an API path (`ws://`, or `wss://` for an `https://` server) with
    /// the token; a refused upgrade is read as a problem like any other answer.
    pub async fn websocket(&self, path: &str) -> Result<(WebSocket, reqwest::header::HeaderMap), CliError> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let base = match self.base.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => self.base.clone(),
        };
        let mut request = format!("{base}{path}")
            .into_client_request()
            .map_err(|e| CliError::Usage(format!("the server URL {} cannot take a WebSocket: {e}", self.base)))?;
        let token = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| CliError::Denied("the token cannot be sent in an HTTP header".into()))?;
        request.headers_mut().insert("authorization", token);
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, response)) => Ok((socket, response.headers().clone())),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response.body().as_deref().unwrap_or_default();
                let value = serde_json::from_slice(body).unwrap_or(Value::Null);
                Err(refusal(response.status().as_u16(), value))
            }
            Err(e) => Err(CliError::Server(format!("cannot reach {}: {e}", self.base))),
        }
    }
}

/// A WebSocket to the server.
pub type WebSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The error a refused answer stands for, with the problem's words.
fn refusal(status: u16, value: Value) -> CliError {
    let message = match serde_json::from_value::<Problem>(value) {
        Ok(problem) => {
            let mut message = format!("HTTP {status}: {}", escape(&problem.detail));
            for e in &problem.errors {
                message.push_str(&format!("\n  {} ({}): {}", escape(&e.field), escape(&e.rule), escape(&e.message)));
            }
            message
        }
        Err(_) => format!("HTTP {status}: the server's answer is not a problem document"),
    };
    match status {
        401 | 403 => CliError::Denied(message),
        404 => CliError::NotFound(message),
        400..=499 => CliError::Rejected(message),
        _ => CliError::Server(message),
    }
}

/// Prints rows as aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// A value from the server as a table cell or text line, as the API writes it (an enum by
/// its name, a time in RFC 3339), escaped (see [`escape`]); `-` for none.
pub fn text(v: &impl Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(Value::Null) | Err(_) => "-".into(),
        Ok(Value::String(s)) => escape(&s),
        Ok(other) => other.to_string(),
    }
}

/// Text as it is safe to print on a terminal: each control, bidirectional or zero-width
/// character (those no name may hold, see `patchbay_catalog::is_hidden_or_control`) becomes
/// `\u{..}`, so nothing printed can move the cursor, recolour the terminal or make one name
/// pass for another, whatever the server stored before the rule. JSON output is escaped by
/// the serializer instead.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if patchbay_catalog::is_hidden_or_control(c) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints an API type (or the CLI's own summary) as JSON.
pub fn print_json(v: &impl Serialize) -> Result<(), CliError> {
    println!("{}", serde_json::to_string_pretty(v).map_err(anyhow::Error::from)?);
    Ok(())
}
