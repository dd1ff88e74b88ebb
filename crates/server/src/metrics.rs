//! Prometheus metrics at `/metrics`: HTTP requests by route and status with latency,
//! connection tests by type and outcome, accounts by type (read at scrape time), events,
//! feeds, live state event streams open and refused, recordings received and recording
//! export runs, files and bytes, and the tokio runtime's alive tasks (read at scrape time).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use patchbay_feeds::Supervisor;
use patchbay_store::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TestLabels {
    pub r#type: String,
    pub provider: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GatewayLabels {
    r#type: String,
    provider: String,
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GatewayOutcomeLabels {
    r#type: String,
    provider: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabels {
    kind: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    tests: Family<TestLabels, Counter>,
    accounts: Family<TypeLabels, Gauge>,
    events: Family<EventLabels, Counter>,
    feed_sent: Family<FeedLabels, Gauge>,
    feed_failed: Family<FeedLabels, Gauge>,
    feeds_connected: Family<FeedLabels, Gauge>,
    feeds_running: Family<FeedLabels, Gauge>,
    recordings: Family<EventLabels, Counter>,
    export_runs: Family<EventLabels, Counter>,
    export_files: Family<EventLabels, Counter>,
    export_bytes: Counter,
    export_running: Gauge,
    connections_open: Gauge,
    live_streams_open: Gauge,
    live_streams_refused: Counter,
    connections_refused: Family<LimitLabels, Counter>,
    tasks_alive: Gauge,
    gateway_calls: Family<GatewayOutcomeLabels, Counter>,
    gateway_latency: Family<GatewayLabels, Histogram>,
    edge_deliveries: Family<DeliveryLabels, Counter>,
    edge_intake_latency: Family<ChannelLabels, Histogram>,
    edge_sends: Family<DeliveryLabels, Counter>,
    edge_subscription_posts: Family<EventLabels, Counter>,
    sso_sign_ins: Family<SignInLabels, Counter>,
    zapier_sign_ins: Family<EventLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A SAML sign-in ended: `outcome` is `signed_in` or the refusal's reason code.
    pub fn sso_sign_in(&self, provider: &str, outcome: &str) {
        self.sso_sign_ins.get_or_create(&SignInLabels { provider: provider.into(), outcome: outcome.into() }).inc();
    }

    /// A Zapier request was refused for its credentials (`refused`) or a lock-out (`locked`).
    pub fn zapier_refused(&self, outcome: &str) {
        self.zapier_sign_ins.get_or_create(&EventLabels { outcome: outcome.into() }).inc();
    }

    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("patchbay");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by method, route and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
        });
        registry.register("http_request_duration_seconds", "HTTP request latency by method and route", latency.clone());
        let tests = Family::<TestLabels, Counter>::default();
        registry.register("connection_tests", "Connection tests by type, provider and outcome", tests.clone());
        let accounts = Family::<TypeLabels, Gauge>::default();
        registry.register("integration_accounts", "Integration accounts by type, all tenants", accounts.clone());
        let events = Family::<EventLabels, Counter>::default();
        registry.register("events", "Events taken in (accepted) or refused (rejected)", events.clone());
        let feed_sent = Family::<FeedLabels, Gauge>::default();
        registry.register("feed_messages_sent", "Messages the running feeds sent, by feed kind", feed_sent.clone());
        let feed_failed = Family::<FeedLabels, Gauge>::default();
        registry.register("feed_send_failures", "Failed sends of the running feeds, by feed kind", feed_failed.clone());
        let feeds_connected = Family::<FeedLabels, Gauge>::default();
        registry.register(
            "feeds_connected",
            "Running feeds whose connection or last request is up",
            feeds_connected.clone(),
        );
        let feeds_running = Family::<FeedLabels, Gauge>::default();
        registry.register("feeds", "Running feeds, by feed kind", feeds_running.clone());
        let recordings = Family::<EventLabels, Counter>::default();
        registry.register("recordings_received", "Recording audio received (stored) or refused", recordings.clone());
        let export_runs = Family::<EventLabels, Counter>::default();
        registry.register("recording_export_runs", "Finished recording export runs by outcome", export_runs.clone());
        let export_files = Family::<EventLabels, Counter>::default();
        registry.register(
            "recording_export_files",
            "Recordings exported (success) or failed by export runs",
            export_files.clone(),
        );
        let export_bytes = Counter::default();
        registry.register("recording_export_bytes", "Audio bytes exported and verified", export_bytes.clone());
        let export_running = Gauge::default();
        registry.register("recording_export_runs_active", "Recording export runs in progress", export_running.clone());
        let connections_open = Gauge::default();
        registry.register("http_connections_open", "HTTP connections open now", connections_open.clone());
        let live_streams_open = Gauge::default();
        registry.register("live_streams_open", "Live state event streams open now", live_streams_open.clone());
        let live_streams_refused = Counter::default();
        registry.register(
            "live_streams_refused",
            "Live state event streams refused because their tenant had as many open as allowed",
            live_streams_refused.clone(),
        );
        let connections_refused = Family::<LimitLabels, Counter>::default();
        registry.register(
            "http_connections_refused",
            "HTTP connections refused at once, by the limit they hit",
            connections_refused.clone(),
        );
        let tasks_alive = Gauge::default();
        registry.register(
            "runtime_tasks_alive",
            "Tasks alive in the tokio runtime, read at scrape time",
            tasks_alive.clone(),
        );
        let gateway_calls = Family::<GatewayOutcomeLabels, Counter>::default();
        registry.register(
            "gateway_calls",
            "Runtime gateway calls by type, provider, operation and outcome (ok or a failure category)",
            gateway_calls.clone(),
        );
        let gateway_latency = Family::<GatewayLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
        });
        registry.register(
            "gateway_call_duration_seconds",
            "Runtime gateway call latency (the vendor's included) by type, provider and operation",
            gateway_latency.clone(),
        );
        let edge_deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "edge_deliveries",
            "Messenger webhook deliveries by channel and outcome (accepted, handshake, or why refused)",
            edge_deliveries.clone(),
        );
        let edge_intake_latency = Family::<ChannelLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
        });
        registry.register(
            "edge_intake_to_event_seconds",
            "Seconds from keeping a messenger delivery to its conversation events, by channel",
            edge_intake_latency.clone(),
        );
        let edge_sends = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "edge_reply_attempts",
            "Attempts to send replies through a messenger, by channel and outcome (sent, retry, failed)",
            edge_sends.clone(),
        );
        let edge_subscription_posts = Family::<EventLabels, Counter>::default();
        registry.register(
            "edge_subscription_posts",
            "Conversation events POSTed to subscriptions, delivered or failed",
            edge_subscription_posts.clone(),
        );
        let sso_sign_ins = Family::<SignInLabels, Counter>::default();
        registry.register(
            "sso_sign_ins",
            "SAML sign-ins by SSO provider and outcome (signed_in, or the reason code of the refusal)",
            sso_sign_ins.clone(),
        );
        let zapier_sign_ins = Family::<EventLabels, Counter>::default();
        registry.register(
            "zapier_sign_in_failures",
            "Zapier requests refused for their credentials (refused) or while the username is locked out (locked)",
            zapier_sign_ins.clone(),
        );
        Metrics {
            sso_sign_ins,
            zapier_sign_ins,
            edge_subscription_posts,
            edge_sends,
            edge_deliveries,
            edge_intake_latency,
            gateway_calls,
            gateway_latency,
            registry,
            requests,
            latency,
            tests,
            accounts,
            events,
            feed_sent,
            feed_failed,
            feeds_connected,
            feeds_running,
            recordings,
            export_runs,
            export_files,
            export_bytes,
            export_running,
            connections_open,
            live_streams_open,
            live_streams_refused,
            connections_refused,
            tasks_alive,
        }
    }

    pub fn connection_opened(&self) {
        self.connections_open.inc();
    }

    pub fn connection_closed(&self) {
        self.connections_open.dec();
    }

    pub fn live_stream_opened(&self) {
        self.live_streams_open.inc();
    }

    pub fn live_stream_closed(&self) {
        self.live_streams_open.dec();
    }

    pub fn live_stream_refused(&self) {
        self.live_streams_refused.inc();
    }

    pub fn record_connection_refused(&self, limit: &str) {
        self.connections_refused.get_or_create(&LimitLabels { limit: limit.into() }).inc();
    }

    pub fn record_recording(&self, outcome: &str) {
        self.recordings.get_or_create(&EventLabels { outcome: outcome.into() }).inc();
    }

    pub fn record_events(&self, accepted: u64, rejected: u64) {
        self.events.get_or_create(&EventLabels { outcome: "accepted".into() }).inc_by(accepted);
        self.events.get_or_create(&EventLabels { outcome: "rejected".into() }).inc_by(rejected);
    }

    pub fn record_test(&self, type_key: &str, provider: &str, outcome: &str) {
        self.tests
            .get_or_create(&TestLabels { r#type: type_key.into(), provider: provider.into(), outcome: outcome.into() })
            .inc();
    }
}

/// The gateway's counters (never by tenant: the label sets stay bounded).
impl patchbay_gateway::GatewayMetrics for Metrics {
    fn record_call(&self, type_key: &str, provider: &str, operation: &str, outcome: &str, seconds: f64) {
        let labels = GatewayLabels { r#type: type_key.into(), provider: provider.into(), operation: operation.into() };
        self.gateway_calls
            .get_or_create(&GatewayOutcomeLabels {
                r#type: labels.r#type.clone(),
                provider: labels.provider.clone(),
                operation: labels.operation.clone(),
                outcome: outcome.into(),
            })
            .inc();
        if outcome != "quota_exceeded" {
            self.gateway_latency.get_or_create(&labels).observe(seconds);
        }
    }
}

/// The messenger edge's counters (by channel, never by tenant or account).
impl patchbay_edge::EdgeMetrics for Metrics {
    fn record_delivery(&self, channel: &str, outcome: &str) {
        self.edge_deliveries.get_or_create(&DeliveryLabels { channel: channel.into(), outcome: outcome.into() }).inc();
    }

    fn record_intake_latency(&self, channel: &str, seconds: f64) {
        self.edge_intake_latency.get_or_create(&ChannelLabels { channel: channel.into() }).observe(seconds);
    }

    fn record_send(&self, channel: &str, outcome: &str) {
        self.edge_sends.get_or_create(&DeliveryLabels { channel: channel.into(), outcome: outcome.into() }).inc();
    }

    fn record_subscription_delivery(&self, outcome: &str) {
        self.edge_subscription_posts.get_or_create(&EventLabels { outcome: outcome.into() }).inc();
    }
}

/// The counters the engines update live here, registered with the rest.
impl patchbay_jobs::JobMetrics for Metrics {
    fn record_recording(&self, outcome: &str) {
        Metrics::record_recording(self, outcome);
    }

    fn record_export_file(&self, outcome: &str, bytes: u64) {
        self.export_files.get_or_create(&EventLabels { outcome: outcome.into() }).inc();
        self.export_bytes.inc_by(bytes);
    }

    /// A run started (`None`) or finished with `outcome`.
    fn record_export_run(&self, outcome: Option<&str>) {
        match outcome {
            None => {
                self.export_running.inc();
            }
            Some(outcome) => {
                self.export_running.dec();
                self.export_runs.get_or_create(&EventLabels { outcome: outcome.into() }).inc();
            }
        }
    }
}

/// Counts and times every request under its route template (never the raw path, which
/// would carry ids and explode the label set).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status: response.status().as_u16(),
        })
        .inc();
    metrics.latency.get_or_create(&RouteLabels { method, route }).observe(started.elapsed().as_secs_f64());
    response
}

/// What a scrape reads besides the counters: accounts by type, the running feeds.
#[derive(Clone)]
pub struct Sources {
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn Store>,
    pub feeds: Supervisor,
}

pub async fn scrape(State(state): State<Sources>) -> Response {
    match state.store.account_counts().await {
        Ok(counts) => {
            state.metrics.accounts.clear();
            for (type_key, n) in counts {
                state.metrics.accounts.get_or_create(&TypeLabels { r#type: type_key }).set(n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count accounts for metrics"),
    }
    let m = &state.metrics;
    m.tasks_alive.set(i64::try_from(tokio::runtime::Handle::current().metrics().num_alive_tasks()).unwrap_or(i64::MAX));
    for family in [&m.feed_sent, &m.feed_failed, &m.feeds_connected, &m.feeds_running] {
        family.clear();
    }
    for health in state.feeds.health_all() {
        let labels = FeedLabels { kind: health.kind.clone() };
        m.feeds_running.get_or_create(&labels).inc();
        m.feed_sent.get_or_create(&labels).inc_by(i64::try_from(health.sent).unwrap_or(i64::MAX));
        m.feed_failed.get_or_create(&labels).inc_by(i64::try_from(health.failed).unwrap_or(i64::MAX));
        if health.connected {
            m.feeds_connected.get_or_create(&labels).inc();
        }
    }
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &state.metrics.registry) {
        tracing::error!(error = %e, "cannot encode metrics");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}
