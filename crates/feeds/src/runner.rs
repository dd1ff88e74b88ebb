//! The supervisor of feed tasks: one task per enabled account of a pushing type, started,
//! restarted (its configuration changed) or stopped to match what the server asks for, at
//! once rather than at the next interval, and the health table. It sits on top: it starts
//! the feed kinds, and nothing in the crate imports it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use patchbay_connectors::Egress;
use serde::Serialize;
use tokio::task::AbortHandle;
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::{FeedConfig, FeedKind, FeedSpec};
use crate::context::{FeedContext, FeedOptions};
use crate::health::{FeedHealth, HealthCell};
use crate::state::LiveState;
use crate::{aspect, loxysoft, nice, stats_receiver, wfm_http};

/// What `upsert` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Upsert {
    Started,
    /// The configuration changed: the old task stopped and a new one started.
    Restarted,
    Unchanged,
    /// The properties cannot be used; health says why and no task runs.
    Invalid,
    /// The account's type does not push anything.
    NotAFeed,
}

/// What `apply` did, by account id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    pub started: Vec<String>,
    pub restarted: Vec<String>,
    pub stopped: Vec<String>,
    pub unchanged: Vec<String>,
    pub invalid: Vec<String>,
}

/// Runs the feeds. Cheap to clone; dropping the last clone stops every feed.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    egress: Egress,
    state: LiveState,
    clock: Clock,
    options: FeedOptions,
    runtime: tokio::runtime::Handle,
    feeds: Mutex<HashMap<String, Running>>,
}

struct Running {
    spec: FeedSpec,
    health: Arc<HealthCell>,
    task: Option<AbortHandle>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Supervisor {
    /// A supervisor with the system clock and default options. Must be called inside a
    /// tokio runtime; feed tasks run on it.
    pub fn new(egress: Egress, state: LiveState) -> Supervisor {
        Supervisor::with_options(egress, state, Clock::system(), FeedOptions::default())
    }

    pub fn with_options(egress: Egress, state: LiveState, clock: Clock, options: FeedOptions) -> Supervisor {
        Supervisor {
            inner: Arc::new(Inner {
                egress,
                state,
                clock,
                options,
                runtime: tokio::runtime::Handle::current(),
                feeds: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn state(&self) -> &LiveState {
        &self.inner.state
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.inner.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the running feeds exactly `specs`: starts new ones, restarts changed ones and
    /// stops the rest. Accounts of types that push nothing are ignored.
    pub fn apply(&self, specs: Vec<FeedSpec>) -> ApplySummary {
        let mut summary = ApplySummary::default();
        let wanted: HashSet<String> = specs.iter().map(|s| s.account_id.clone()).collect();
        let gone: Vec<String> = self.feeds().keys().filter(|id| !wanted.contains(*id)).cloned().collect();
        for id in gone {
            if self.remove(&id) {
                summary.stopped.push(id);
            }
        }
        for spec in specs {
            let id = spec.account_id.clone();
            match self.upsert(spec) {
                Upsert::Started => summary.started.push(id),
                Upsert::Restarted => summary.restarted.push(id),
                Upsert::Unchanged => summary.unchanged.push(id),
                Upsert::Invalid => summary.invalid.push(id),
                Upsert::NotAFeed => {}
            }
        }
        summary
    }

    /// Starts the account's feed, or restarts it when anything in `spec` changed.
    pub fn upsert(&self, spec: FeedSpec) -> Upsert {
        let Some(kind) = FeedKind::of(&spec.type_key, &spec.provider) else {
            self.remove(&spec.account_id);
            return Upsert::NotAFeed;
        };
        let mut feeds = self.feeds();
        let previous = feeds.remove(&spec.account_id);
        if let Some(running) = &previous {
            if running.spec == spec {
                feeds.insert(spec.account_id.clone(), previous.expect("checked above"));
                return Upsert::Unchanged;
            }
        }
        let existed = previous.is_some();
        let health = match &previous {
            Some(running) => {
                running.health.restarted(&spec.tenant, kind);
                running.health.clone()
            }
            None => Arc::new(HealthCell::new(&spec.account_id, &spec.tenant, kind, self.inner.clock)),
        };
        drop(previous);
        let (task, outcome) = match FeedConfig::parse(kind, &spec) {
            Err(e) => {
                tracing::warn!(account = %spec.account_id, tenant = %spec.tenant, error = %e, "feed not started");
                health.invalid(e.to_string());
                (None, Upsert::Invalid)
            }
            Ok(config) => {
                let outcome = if existed { Upsert::Restarted } else { Upsert::Started };
                (Some(self.spawn(&spec, kind, config, health.clone())), outcome)
            }
        };
        feeds.insert(spec.account_id.clone(), Running { spec, health, task });
        outcome
    }

    /// Stops the account's feed; says whether there was one.
    pub fn remove(&self, account_id: &str) -> bool {
        let removed = self.feeds().remove(account_id);
        removed.is_some()
    }

    /// Stops every feed.
    pub fn shutdown(&self) {
        let all: Vec<Running> = self.feeds().drain().map(|(_, r)| r).collect();
        drop(all);
    }

    pub fn health(&self, account_id: &str) -> Option<FeedHealth> {
        self.feeds().get(account_id).map(|r| r.health.read())
    }

    /// Every feed's health, by tenant then account id.
    pub fn health_all(&self) -> Vec<FeedHealth> {
        let mut all: Vec<FeedHealth> = self.feeds().values().map(|r| r.health.read()).collect();
        all.sort_by(|a, b| (&a.tenant, &a.account_id).cmp(&(&b.tenant, &b.account_id)));
        all
    }

    fn spawn(&self, spec: &FeedSpec, kind: FeedKind, config: FeedConfig, health: Arc<HealthCell>) -> AbortHandle {
        let ctx = FeedContext {
            tenant: spec.tenant.clone(),
            egress: self.inner.egress.clone(),
            state: self.inner.state.clone(),
            clock: self.inner.clock,
            options: self.inner.options.clone(),
            health,
        };
        let span = tracing::info_span!("feed", account = %spec.account_id, tenant = %spec.tenant, kind = ?kind);
        let task = async move {
            match config {
                FeedConfig::Aspect(c) => aspect::run(ctx, c).await,
                FeedConfig::WfmHttp(c) => wfm_http::run(ctx, c).await,
                FeedConfig::Loxysoft(c) => loxysoft::run(ctx, c).await,
                FeedConfig::Nice(c) => nice::run(ctx, c).await,
                FeedConfig::Stats(c) => stats_receiver::run(ctx, c).await,
            }
        };
        self.inner.runtime.spawn(task.instrument(span)).abort_handle()
    }
}
