//! An in-process patchbay server on a loopback port, and whole-response helpers.

use serde_json::Value;

use crate::TestDatabase;

/// A WebSocket client's socket to the test server.
pub type WebSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A patchbay server running in this process on a loopback port.
pub struct TestServer {
    pub base: String,
    pub admin_token: String,
    pub data_dir: tempfile::TempDir,
    http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(db: &TestDatabase) -> TestServer {
        TestServer::start_with(db, |_| {}).await
    }

    /// Starts with settings adjusted by `adjust` (e.g. a stricter egress policy).
    pub async fn start_with(db: &TestDatabase, adjust: impl FnOnce(&mut patchbay_server::Settings)) -> TestServer {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut settings = patchbay_server::Settings {
            database_url: Some(db.url.clone()),
            // Tests talk to peers on loopback.
            egress: patchbay_server::EgressPolicy {
                allow_loopback: true,
                timeout: std::time::Duration::from_secs(2),
                ..patchbay_server::EgressPolicy::default()
            },
            ..patchbay_server::Settings::new(data_dir.path().join("data"))
        };
        adjust(&mut settings);
        let started = patchbay_server::start(&settings).await.expect("server starts");
        let admin_token = started.new_admin_token.expect("first start generates the admin token");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = patchbay_server::serve(listener, started.state, async {
                let _ = rx.await;
            })
            .await;
        });
        TestServer { base, admin_token, data_dir, http: reqwest::Client::new(), shutdown: Some(tx), task: Some(task) }
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// A request with a token (or none).
    pub fn request(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Sends a JSON request as the admin and returns status, headers and body.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.admin_token.clone(), method, path, body).await
    }

    pub async fn call_as(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.request(method, path, Some(token));
        if let Some(body) = body {
            req = req.json(&body);
        }
        Reply::read(req.send().await.expect("request reaches the server")).await
    }

    /// Opens a WebSocket on `path` (under the server's base) with a bearer token: the socket
    /// and the upgrade's headers, or the refused upgrade as a `Reply`.
    pub async fn websocket(&self, token: &str, path: &str) -> Result<(WebSocket, reqwest::header::HeaderMap), Reply> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let url = format!("{}{path}", self.base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("a WebSocket URL");
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("a token header"));
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, response)) => Ok((socket, response.headers().clone())),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let text = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                Err(Reply { status: response.status().as_u16(), headers: response.headers().clone(), text, body })
            }
            Err(e) => panic!("the WebSocket upgrade of {path} failed: {e}"),
        }
    }

    /// Creates a tenant (as the admin) and returns a token of `role` for it.
    pub async fn tenant_with_token(&self, tenant: &str, role: &str) -> String {
        let created =
            self.call(reqwest::Method::POST, "/api/v1/tenants", Some(serde_json::json!({"id": tenant}))).await;
        assert!(created.status == 201 || created.status == 409, "tenant create: {created:?}");
        self.token(role, Some(tenant)).await
    }

    pub async fn token(&self, role: &str, tenant: Option<&str>) -> String {
        let reply = self
            .call(
                reqwest::Method::POST,
                "/api/v1/tokens",
                Some(serde_json::json!({"name": format!("{role} test"), "role": role, "tenant": tenant})),
            )
            .await;
        assert_eq!(reply.status, 201, "token create: {reply:?}");
        reply.body["token"].as_str().expect("token in reply").to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, body }
    }

    pub fn etag(&self) -> String {
        self.headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    /// Asserts a problem+json answer of `status` whose `errors` are exactly `errors`
    /// (field, rule); `context` (the case being checked) goes into every message.
    pub fn assert_problem(&self, status: u16, errors: &[(&str, &str)], context: &str) {
        assert_eq!(self.status, status, "{context}: {}", self.text);
        assert_eq!(self.headers["content-type"], "application/problem+json", "{context}");
        let want: Vec<(String, String)> = errors.iter().map(|(f, r)| ((*f).to_owned(), (*r).to_owned())).collect();
        assert_eq!(self.field_errors(), want, "{context}: {}", self.text);
    }

    /// The `(field, rule)` pairs of a problem's `errors`.
    pub fn field_errors(&self) -> Vec<(String, String)> {
        self.body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["rule"].as_str().unwrap_or("").to_owned()))
            .collect()
    }
}

/// One Server-Sent Event as a client sees it (comments are skipped).
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// The event's name (`message` when it has none).
    pub event: String,
    pub id: Option<String>,
    /// The reconnection time the event advises, in milliseconds.
    pub retry: Option<u64>,
    /// The data parsed as JSON (`Null` when it is not JSON).
    pub data: Value,
    /// The data as sent.
    pub text: String,
}

/// A Server-Sent Events response being read, event by event, with bounded waits.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
    /// Everything read so far, as sent.
    pub raw: String,
}

impl EventStream {
    pub fn new(response: reqwest::Response) -> EventStream {
        EventStream { response, buffer: String::new(), raw: String::new() }
    }

    /// The next event, or `None` when the stream ended. Panics when none comes within
    /// `within`.
    pub async fn next(&mut self, within: std::time::Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_block(&block) {
                    return Some(event);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within {within:?}; read so far: {}", self.raw));
            match chunk.expect("the stream reads") {
                Some(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    self.raw.push_str(&text);
                    self.buffer.push_str(&text);
                }
                None => return None,
            }
        }
    }

    /// The next event named `name`, skipping others; panics when none comes within `within`.
    pub async fn next_named(&mut self, name: &str, within: std::time::Duration) -> SseEvent {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next(left).await.unwrap_or_else(|| panic!("the stream ended before a `{name}` event"));
            if event.event == name {
                return event;
            }
        }
    }
}

/// An event of one block of lines, or `None` for a block of comments only.
fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent { event: "message".into(), id: None, retry: None, data: Value::Null, text: String::new() };
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event.event = value.to_owned(),
            "id" => event.id = Some(value.to_owned()),
            "retry" => event.retry = value.parse().ok(),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() && event.id.is_none() && event.retry.is_none() {
        return None;
    }
    event.text = data.join("\n");
    event.data = serde_json::from_str(&event.text).unwrap_or(Value::Null);
    Some(event)
}
