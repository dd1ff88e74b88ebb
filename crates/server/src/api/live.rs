//! A tenant's live state for people watching it: the snapshot (`GET …/live/snapshot`) and
//! the Server-Sent Events stream (`GET …/live/stream`). The stream opens with a `snapshot`
//! event, then sends what changed: agents and services as the live state changes (it
//! watches the tenant's version, which holds one value, and reads the changes when the
//! client is ready for them, so a slow client gets them coalesced and nothing queues up for
//! it), the feeds' health and the running export runs polled and sent whole when they
//! differ. Every event's `id` is the stream's cursor: a reconnect with `Last-Event-ID`
//! goes on from it, or gets a fresh snapshot when it cannot. A tenant may hold
//! `LiveStreams::per_tenant` streams open; every stream ends when the server shuts down,
//! and when its caller's credential no longer admits it (checked every `RECHECK`: a
//! revoked token, a signed-out session or a disabled user stops receiving within that).
//! Feed errors are worded for the caller (see `testing::worded_for`).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchbay_api::{
    FeedHealth, LiveAgent, LiveAgentRemoved, LiveCall, LiveEvent, LiveExportRun, LiveExportRuns, LiveFeeds,
    LiveService, LiveSnapshot,
};
use patchbay_feeds::{Agent, Service, TenantView};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::export_jobs::run_view;
use super::tenants::not_found;
use crate::auth::{Credential, Principal};
use crate::error::{ApiError, ApiResult};
use crate::live::StreamSlot;
use crate::state::AppState;

/// How often the stream looks at the feeds' health.
const POLL: Duration = Duration::from_secs(1);
/// The export runs are read every this many polls (they are in the database).
const RUNS_EVERY: u32 = 2;
/// A comment goes out after this long without an event, so proxies and the client see a
/// live connection.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a client waits before it reconnects (the `retry:` advice).
const RETRY: Duration = Duration::from_secs(3);
/// Running export runs a snapshot lists at most (a job runs once at a time).
const MAX_RUNS: i64 = 100;
/// The caller's credential is checked again every this many polls.
const RECHECK: u32 = 5;

/// The opaque cursor of a tenant state's version: `epoch-version`.
fn cursor(view: &TenantView, version: u64) -> String {
    format!("{}-{version}", view.epoch())
}

/// The version a cursor names, when it is of this tenant state.
fn resumable(view: &TenantView, cursor: &str) -> Option<u64> {
    let (epoch, version) = cursor.trim().split_once('-')?;
    let (epoch, version) = (epoch.parse::<u64>().ok()?, version.parse::<u64>().ok()?);
    (epoch == view.epoch() && !view.changes_since(version).resync).then_some(version)
}

fn agent_view(agent: &Agent) -> Option<LiveAgent> {
    Some(LiveAgent {
        agent_id: agent.id.to_string(),
        state: agent.state?,
        reason: agent.reason.as_deref().map(str::to_owned),
        since: agent.since,
        extension: agent.extension.to_string(),
        services: agent.services.iter().map(|s| s.to_string()).collect(),
        call: agent.call.as_ref().map(|call| LiveCall {
            call_id: call.call_id.to_string(),
            extension: call.extension.to_string(),
            service: call.service.as_deref().map(str::to_owned),
            direction: call.direction,
            since: call.since,
        }),
    })
}

fn service_view(service: &Service) -> LiveService {
    LiveService {
        service: service.name.to_string(),
        calls_waiting: service.stats.calls_waiting,
        longest_wait_s: service.stats.longest_wait_s,
        agents_ready: service.stats.agents_ready,
        agents_busy: service.stats.agents_busy,
        handled: service.stats.handled,
        abandoned: service.stats.abandoned,
        updated_at: service.updated_at,
    }
}

/// The health of the tenant's feeds, by account id, their errors worded for `who`.
pub(super) fn feeds_of(state: &AppState, tenant: &str, who: &Principal) -> Vec<FeedHealth> {
    let mut feeds: Vec<FeedHealth> = state.feeds.health_all().into_iter().filter(|h| h.tenant == tenant).collect();
    for error in feeds.iter_mut().filter_map(|feed| feed.last_error.as_mut()) {
        super::testing::worded_for(who, error);
    }
    feeds.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    feeds
}

/// The tenant's running export runs with their jobs' names, oldest first.
async fn runs_of(state: &AppState, tenant: &str) -> ApiResult<Vec<LiveExportRun>> {
    let runs = state.recordings.running_runs(tenant, MAX_RUNS).await?;
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let names: HashMap<_, _> =
        state.recordings.list_export_jobs(tenant).await?.into_iter().map(|job| (job.id, job.name)).collect();
    runs.iter()
        .map(|run| {
            Ok(LiveExportRun { job_name: names.get(&run.job_id).cloned().unwrap_or_default(), run: run_view(run)? })
        })
        .collect()
}

/// The snapshot and the live state's version it shows.
fn snapshot_of(view: &TenantView, feeds: Vec<FeedHealth>, export_runs: Vec<LiveExportRun>) -> (LiveSnapshot, u64) {
    let snapshot = view.snapshot();
    let live = LiveSnapshot {
        cursor: cursor(view, snapshot.version),
        agents: snapshot.agents.iter().filter_map(|a| agent_view(a)).collect(),
        services: snapshot.services.iter().map(|s| service_view(s)).collect(),
        feeds,
        export_runs,
    };
    (live, snapshot.version)
}

/// `GET …/live/snapshot`
pub async fn snapshot(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<Json<LiveSnapshot>> {
    state.store.get_tenant(&tenant).await.map_err(not_found)?;
    let view = state.feeds.state().view(&tenant);
    let runs = runs_of(&state, &tenant).await?;
    Ok(Json(snapshot_of(&view, feeds_of(&state, &tenant, &who), runs).0))
}

/// `GET …/live/stream`
pub async fn stream(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    parts: Parts,
) -> ApiResult<Response> {
    let credential = Credential::of(&parts)?;
    state.store.get_tenant(&tenant).await.map_err(not_found)?;
    let slot = state.live.try_open(&tenant).ok_or_else(|| ApiError::TooManyRequests {
        detail: format!(
            "this tenant already has {} live streams open, the most allowed; close one (another browser tab, say) \
             and retry",
            state.live.per_tenant()
        ),
        retry_after: RETRY.as_secs(),
    })?;
    let view = state.feeds.state().view(&tenant);
    // Watch before reading, so no change falls between the read and the watch.
    let mut watch = view.watch();
    watch.mark_unchanged();
    let feeds = feeds_of(&state, &tenant, &who);
    let runs = runs_of(&state, &tenant).await?;
    let last = parts.headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let mut streamer = Streamer {
        stop: state.live.stop_signal(),
        state,
        tenant,
        credential,
        who,
        ended: false,
        view,
        watch,
        version: 0,
        feeds: feeds.clone(),
        runs: runs.clone(),
        queue: VecDeque::new(),
        ticker: poll_ticker(),
        polls: 0,
        _slot: slot,
    };
    match last.and_then(|cursor| resumable(&streamer.view, cursor)) {
        Some(version) => {
            streamer.version = version;
            streamer.read_changes();
            let id = cursor(&streamer.view, streamer.version);
            streamer.queue.push_back(event(&LiveEvent::Feeds(LiveFeeds { items: feeds }), &id));
            streamer.queue.push_back(event(&LiveEvent::ExportRuns(LiveExportRuns { items: runs }), &id));
        }
        None => streamer.push_snapshot(),
    }
    if let Some(first) = streamer.queue.pop_front() {
        streamer.queue.push_front(first.retry(RETRY));
    }
    let events = futures::stream::unfold(streamer, |mut streamer| async move {
        let next = streamer.next().await?;
        Some((Ok::<_, Infallible>(next), streamer))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")).into_response())
}

fn poll_ticker() -> tokio::time::Interval {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + POLL, POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

fn event(live: &LiveEvent, id: &str) -> Event {
    match live.data() {
        Ok(data) => Event::default().event(live.name()).id(id).data(data),
        Err(e) => Event::default().comment(format!("unencodable event: {e}")),
    }
}

/// One client's stream: where it stands and what it was last sent.
struct Streamer {
    state: AppState,
    tenant: String,
    /// What the caller authenticated with, checked again every `RECHECK` polls.
    credential: Credential,
    /// The caller as last admitted.
    who: Principal,
    /// The credential no longer admits the caller.
    ended: bool,
    view: TenantView,
    watch: watch::Receiver<u64>,
    /// The live state's version the client has.
    version: u64,
    feeds: Vec<FeedHealth>,
    runs: Vec<LiveExportRun>,
    /// Events of one read, sent before the next read.
    queue: VecDeque<Event>,
    ticker: tokio::time::Interval,
    polls: u32,
    stop: CancellationToken,
    _slot: StreamSlot,
}

impl Streamer {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if self.ended || self.stop.is_cancelled() || self.view.is_removed() {
                return None;
            }
            if let Some(next) = self.queue.pop_front() {
                return Some(next);
            }
            tokio::select! {
                () = self.stop.cancelled() => return None,
                changed = self.watch.changed() => {
                    changed.ok()?;
                    self.watch.mark_unchanged();
                    self.read_changes();
                }
                _ = self.ticker.tick() => self.poll().await,
            }
        }
    }

    /// Queues the agents and services that changed after the client's version.
    fn read_changes(&mut self) {
        let changes = self.view.changes_since(self.version);
        if changes.resync {
            self.push_snapshot();
            return;
        }
        let id = cursor(&self.view, changes.version);
        for agent in &changes.agents {
            let live = match agent_view(agent) {
                Some(live) => LiveEvent::Agent(live),
                None => LiveEvent::AgentRemoved(LiveAgentRemoved { agent_id: agent.id.to_string() }),
            };
            self.queue.push_back(event(&live, &id));
        }
        for service in self.view.services_since(self.version) {
            self.queue.push_back(event(&LiveEvent::Service(service_view(&service)), &id));
        }
        self.version = changes.version;
    }

    fn push_snapshot(&mut self) {
        self.queue.clear();
        let (snapshot, version) = snapshot_of(&self.view, self.feeds.clone(), self.runs.clone());
        self.version = version;
        let id = snapshot.cursor.clone();
        self.queue.push_back(event(&LiveEvent::Snapshot(snapshot), &id));
    }

    /// Asks whether the caller's credential still admits the stream; ends it when not. A
    /// store that cannot answer keeps the stream (the next check asks again).
    async fn recheck(&mut self) {
        let access = patchbay_api::Operation::LiveStream.access();
        match self.credential.readmit(&self.state, access, &self.tenant).await {
            Ok(Some(who)) => self.who = who,
            Ok(None) => {
                tracing::info!(
                    tenant = %self.tenant,
                    caller = %self.who.actor(),
                    "live stream ended: its credential no longer admits it"
                );
                self.ended = true;
            }
            Err(e) => tracing::warn!(tenant = %self.tenant, error = ?e, "cannot check a live stream's caller"),
        }
    }

    /// Sends the feeds' health and the export runs when they differ from what was sent.
    async fn poll(&mut self) {
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(RECHECK) {
            self.recheck().await;
            if self.ended {
                return;
            }
        }
        let id = cursor(&self.view, self.version);
        let feeds = feeds_of(&self.state, &self.tenant, &self.who);
        if feeds != self.feeds {
            self.feeds = feeds.clone();
            self.queue.push_back(event(&LiveEvent::Feeds(LiveFeeds { items: feeds }), &id));
        }
        if !self.polls.is_multiple_of(RUNS_EVERY) {
            return;
        }
        match runs_of(&self.state, &self.tenant).await {
            Ok(runs) if runs != self.runs => {
                self.runs = runs.clone();
                self.queue.push_back(event(&LiveEvent::ExportRuns(LiveExportRuns { items: runs }), &id));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(tenant = %self.tenant, error = ?e, "cannot read the running export runs"),
        }
    }
}
