//! The live state of every tenant, in memory: agents (state, reason, since, extension,
//! services, current call) and service statistics, rebuilt deterministically from events.
//! Owns the rule for late events, the memory bounds, and change tracking: every change
//! gets the next version of its tenant, so a feed reads only what changed since its last
//! tick, and feeds that report calls as they happen read a bounded journal. Readers that
//! only need to know *that* something changed (the live stream) watch the tenant's version,
//! which holds one value however far they are behind.
//!
//! Ordering rule: per agent (and per service), events apply in order of `at`. An event
//! older than the newest one already applied to the same agent or service is stale and
//! ignored; equal times apply in arrival order. Applying the same events in the same
//! order therefore always gives the same state, versions included.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::events::{self, AgentState, BodyError, Direction, Event, EventKind, Position, Rejected, ServiceStats};

/// Memory bounds of the live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Tenants the intake creates state for.
    pub max_tenants: usize,
    /// Logged-in agents per tenant; a login beyond it is rejected.
    pub max_agents: usize,
    /// Logged-out agents kept per tenant (so late events are recognised as stale);
    /// beyond it the longest logged-out agent is forgotten.
    pub max_logged_out: usize,
    /// Services with statistics per tenant; statistics of a further service are rejected.
    pub max_services: usize,
    /// Changes the journal of a tenant holds for feeds that report them one by one; a
    /// feed that falls further behind resynchronises from a snapshot.
    pub journal_capacity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tenants: 10_000,
            max_agents: 10_000,
            max_logged_out: 1_000,
            max_services: 1_000,
            journal_capacity: 1_024,
        }
    }
}

/// One agent as the feeds see it. Logged-out agents stay known (with `state: None`) until
/// the per-tenant bound of logged-out agents forgets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: Arc<str>,
    /// `None` when logged out.
    pub state: Option<AgentState>,
    /// The Not Ready reason, when there is one.
    pub reason: Option<Arc<str>>,
    /// When the agent entered the current state (or logged out).
    pub since: DateTime<Utc>,
    pub extension: Arc<str>,
    pub services: Arc<[Arc<str>]>,
    pub call: Option<ActiveCall>,
    /// The tenant version of the last change of this agent.
    pub version: u64,
    /// The tenant version of the agent's last login.
    pub login_version: u64,
    /// The newest `at` applied to this agent (the ordering rule's reference).
    pub last_at: DateTime<Utc>,
}

impl Agent {
    /// The service the agent works on now: the current call's, else the first logged-in one.
    pub fn current_service(&self) -> Option<&str> {
        self.call.as_ref().and_then(|c| c.service.as_deref()).or_else(|| self.services.first().map(|s| &**s))
    }
}

/// The call an agent is on; one at a time (a `call_start` for another call ends the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCall {
    pub call_id: Arc<str>,
    /// The call's extension, or the agent's when the call did not name one.
    pub extension: Arc<str>,
    pub service: Option<Arc<str>>,
    pub direction: Option<Direction>,
    pub since: DateTime<Utc>,
}

/// Statistics of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: Arc<str>,
    pub stats: ServiceStats,
    /// When the statistics last changed.
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub last_at: DateTime<Utc>,
}

/// One change, in the order it happened, for feeds that report changes one by one.
#[derive(Debug, Clone)]
pub enum Change {
    /// Logged in, or logged in again with another extension or services.
    Login(Arc<Agent>),
    State(Arc<Agent>),
    Logout(Arc<Agent>),
    /// `agent.call` is the call that started.
    CallStart(Arc<Agent>),
    CallEnd {
        agent: Arc<Agent>,
        call: ActiveCall,
        at: DateTime<Utc>,
    },
}

/// A journal entry: the change and the tenant version it made.
#[derive(Debug, Clone)]
pub struct Journaled {
    pub version: u64,
    pub change: Change,
}

/// Everything a feed reports in full: logged-in agents by id, services by name. The default
/// is a tenant with no agents and no services.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub version: u64,
    pub agents: Vec<Arc<Agent>>,
    pub services: Vec<Arc<Service>>,
}

/// Agents that changed after a version, oldest change first, logged-out ones included.
/// `resync` says the caller missed changes that are gone (a forgotten logout, or a tenant
/// state that was dropped and rebuilt) and must send a snapshot instead.
#[derive(Debug, Clone)]
pub struct Changes {
    pub version: u64,
    pub agents: Vec<Arc<Agent>>,
    pub resync: bool,
}

/// What applying a batch did: every event is applied, unchanged (it repeated the current
/// state), stale (older than what is known) or rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub applied: usize,
    pub unchanged: usize,
    pub stale: usize,
    pub rejected: Vec<RejectedEvent>,
}

/// An event the state refused, by its index in the applied slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedEvent {
    pub index: usize,
    pub reason: String,
}

/// The intake's answer for one body: how many events were taken (applied, unchanged or
/// stale) and every line that was not, with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntakeReport {
    pub accepted: usize,
    pub stale: usize,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("live state is kept for at most {limit} tenants")]
    TooManyTenants { limit: usize },
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// Counts for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    pub tenants: usize,
    pub agents_logged_in: usize,
    pub agents_logged_out: usize,
    pub services: usize,
}

/// The live state of all tenants. Cheap to clone; the intake applies events to it and the
/// feeds read it.
#[derive(Clone, Default)]
pub struct LiveState {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    limits: Limits,
    tenants: RwLock<HashMap<Arc<str>, Arc<Tenant>>>,
}

struct Tenant {
    /// Tells this tenant state apart from every other one, in this process and across
    /// restarts: versions count from 0 again in a new state.
    epoch: u64,
    data: Mutex<TenantData>,
    /// The version after each applied batch.
    version: watch::Sender<u64>,
    /// The tenant was removed: readers of this state should stop.
    removed: AtomicBool,
}

impl LiveState {
    pub fn new(limits: Limits) -> LiveState {
        LiveState { inner: Arc::new(Inner { limits, tenants: RwLock::default() }) }
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The tenant's state for reading, created empty when the tenant has none yet.
    pub fn view(&self, tenant: &str) -> TenantView {
        if let Some(found) = self.find(tenant) {
            return TenantView { tenant: found };
        }
        let mut tenants = self.inner.tenants.write().unwrap_or_else(PoisonError::into_inner);
        let found = tenants.entry(Arc::from(tenant)).or_insert_with(Tenant::new).clone();
        TenantView { tenant: found }
    }

    fn find(&self, tenant: &str) -> Option<Arc<Tenant>> {
        self.inner.tenants.read().unwrap_or_else(PoisonError::into_inner).get(tenant).cloned()
    }

    fn for_intake(&self, tenant: &str) -> Result<Arc<Tenant>, IntakeError> {
        if let Some(found) = self.find(tenant) {
            return Ok(found);
        }
        let mut tenants = self.inner.tenants.write().unwrap_or_else(PoisonError::into_inner);
        if !tenants.contains_key(tenant) && tenants.len() >= self.inner.limits.max_tenants {
            return Err(IntakeError::TooManyTenants { limit: self.inner.limits.max_tenants });
        }
        Ok(tenants.entry(Arc::from(tenant)).or_insert_with(Tenant::new).clone())
    }

    /// Applies `events` in order to the tenant's state.
    pub fn apply(&self, tenant: &str, events: &[Event]) -> Result<ApplyReport, IntakeError> {
        let found = self.for_intake(tenant)?;
        let mut data = found.lock();
        let mut report = ApplyReport::default();
        for (index, event) in events.iter().enumerate() {
            match data.apply(event, &self.inner.limits) {
                Outcome::Applied => report.applied += 1,
                Outcome::Unchanged => report.unchanged += 1,
                Outcome::Stale => report.stale += 1,
                Outcome::Rejected(reason) => report.rejected.push(RejectedEvent { index, reason }),
            }
        }
        let version = data.version;
        drop(data);
        found.version.send_if_modified(|seen| std::mem::replace(seen, version) != version);
        Ok(report)
    }

    /// The intake in one call: parses `body` (NDJSON or a JSON array), applies the good
    /// events and reports every line that was not taken, by position.
    pub fn ingest(&self, tenant: &str, body: &[u8], received_at: DateTime<Utc>) -> Result<IntakeReport, IntakeError> {
        let parsed = events::parse_body(body, received_at)?;
        let applied = self.apply(tenant, &parsed.events)?;
        let mut rejected = parsed.rejected;
        rejected.extend(
            applied.rejected.into_iter().map(|r| Rejected { position: parsed.positions[r.index], reason: r.reason }),
        );
        rejected.sort_by_key(|r| match r.position {
            Position::Line(n) | Position::Index(n) => n,
        });
        Ok(IntakeReport {
            accepted: applied.applied + applied.unchanged + applied.stale,
            stale: applied.stale,
            rejected,
        })
    }

    /// Forgets a tenant (it was deleted). Feeds still reading it see an empty state.
    pub fn remove_tenant(&self, tenant: &str) {
        let removed = self.inner.tenants.write().unwrap_or_else(PoisonError::into_inner).remove(tenant);
        if let Some(removed) = removed {
            removed.removed.store(true, Ordering::SeqCst);
            removed.version.send_modify(|_| {});
        }
    }

    pub fn counts(&self) -> StateCounts {
        let tenants: Vec<Arc<Tenant>> =
            self.inner.tenants.read().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
        let mut counts = StateCounts { tenants: tenants.len(), ..StateCounts::default() };
        for tenant in tenants {
            let data = tenant.lock();
            counts.agents_logged_in += data.logged_in;
            counts.agents_logged_out += data.logged_out.len();
            counts.services += data.services.len();
        }
        counts
    }
}

/// One tenant's state, for feeds. Cheap to clone.
#[derive(Clone)]
pub struct TenantView {
    tenant: Arc<Tenant>,
}

impl TenantView {
    /// The version of the newest change (0 before any).
    pub fn version(&self) -> u64 {
        self.tenant.lock().version
    }

    pub fn snapshot(&self) -> Snapshot {
        let data = self.tenant.lock();
        Snapshot {
            version: data.version,
            agents: data.agents.values().filter(|a| a.state.is_some()).cloned().collect(),
            services: data.services.values().cloned().collect(),
        }
    }

    /// Every service with statistics, by name.
    pub fn services(&self) -> Vec<Arc<Service>> {
        self.tenant.lock().services.values().cloned().collect()
    }

    /// The services whose statistics changed after `version`, by name.
    pub fn services_since(&self, version: u64) -> Vec<Arc<Service>> {
        self.tenant.lock().services.values().filter(|s| s.version > version).cloned().collect()
    }

    /// Tells this tenant state apart from any other (a removed and recreated tenant, another
    /// process): a version means something only together with its epoch.
    pub fn epoch(&self) -> u64 {
        self.tenant.epoch
    }

    /// The tenant's version, updated after every batch that changed something (and marked
    /// changed when the tenant is removed). It holds one value: a reader that falls behind
    /// sees only the newest, and reads what changed with [`TenantView::changes_since`] and
    /// [`TenantView::services_since`].
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.tenant.version.subscribe()
    }

    /// The tenant was removed; this state takes no more events.
    pub fn is_removed(&self) -> bool {
        self.tenant.removed.load(Ordering::SeqCst)
    }

    /// The agents that changed after `version`, oldest change first.
    pub fn changes_since(&self, version: u64) -> Changes {
        let data = self.tenant.lock();
        if version < data.evicted_floor || version > data.version {
            return Changes { version: data.version, agents: Vec::new(), resync: true };
        }
        let agents = data.by_version.range(version + 1..).filter_map(|(_, id)| data.agents.get(id).cloned()).collect();
        Changes { version: data.version, agents, resync: false }
    }

    pub fn agent(&self, id: &str) -> Option<Arc<Agent>> {
        self.tenant.lock().agents.get(id).cloned()
    }

    /// Changes from now on, one by one. The journal holds at most
    /// [`Limits::journal_capacity`] entries per tenant; a receiver that falls further behind
    /// gets `RecvError::Lagged` and must resynchronise from a snapshot. Subscribe before
    /// taking the snapshot, then skip entries at or below its version.
    pub fn subscribe(&self, capacity: usize) -> broadcast::Receiver<Journaled> {
        let mut data = self.tenant.lock();
        match &data.journal {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(capacity.max(1));
                data.journal = Some(sender);
                receiver
            }
        }
    }
}

/// The next tenant state's epoch: counted up from the process's start time in microseconds,
/// so a restarted process does not hand out its predecessor's epochs.
fn next_epoch() -> u64 {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    NEXT.get_or_init(|| AtomicU64::new(Utc::now().timestamp_micros().unsigned_abs())).fetch_add(1, Ordering::SeqCst)
}

impl Tenant {
    fn new() -> Arc<Tenant> {
        Arc::new(Tenant {
            epoch: next_epoch(),
            data: Mutex::new(TenantData::default()),
            version: watch::channel(0).0,
            removed: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, TenantData> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

enum Outcome {
    Applied,
    Unchanged,
    Stale,
    Rejected(String),
}

#[derive(Default)]
struct TenantData {
    version: u64,
    agents: BTreeMap<Arc<str>, Arc<Agent>>,
    /// Every known agent at the version of its last change.
    by_version: BTreeMap<u64, Arc<str>>,
    /// Logged-out agents by the version of their logout, oldest first (eviction order).
    logged_out: BTreeMap<u64, Arc<str>>,
    logged_in: usize,
    /// The newest version of a forgotten agent: readers behind it missed a logout.
    evicted_floor: u64,
    services: BTreeMap<Arc<str>, Arc<Service>>,
    journal: Option<broadcast::Sender<Journaled>>,
}

fn not_logged_in(agent_id: &str) -> Outcome {
    Outcome::Rejected(format!("agent_id: agent `{agent_id}` is not logged in; send agent_login first"))
}

fn shared_list(items: &[String]) -> Arc<[Arc<str>]> {
    items.iter().map(|s| Arc::from(s.as_str())).collect()
}

impl TenantData {
    fn apply(&mut self, event: &Event, limits: &Limits) -> Outcome {
        let at = event.at;
        match &event.kind {
            EventKind::AgentLogin { agent_id, extension, services } => {
                self.login(agent_id, extension, services, at, limits)
            }
            EventKind::AgentState { agent_id, state, reason } => {
                let Some(agent) = self.agents.get(agent_id.as_str()) else { return not_logged_in(agent_id) };
                if at < agent.last_at {
                    return Outcome::Stale;
                }
                if agent.state.is_none() {
                    return not_logged_in(agent_id);
                }
                if agent.state == Some(*state) && agent.reason.as_deref() == reason.as_deref() {
                    self.touch(agent_id, at);
                    return Outcome::Unchanged;
                }
                self.update(agent_id, at, Change::State, |a| {
                    a.state = Some(*state);
                    a.reason = reason.as_deref().map(Arc::from);
                    a.since = at;
                });
                Outcome::Applied
            }
            EventKind::AgentLogout { agent_id } => {
                let Some(agent) = self.agents.get(agent_id.as_str()) else { return Outcome::Unchanged };
                if at < agent.last_at {
                    return Outcome::Stale;
                }
                if agent.state.is_none() {
                    self.touch(agent_id, at);
                    return Outcome::Unchanged;
                }
                if let Some(call) = agent.call.clone() {
                    self.end_call(agent_id, call, at);
                }
                let version = self.update(agent_id, at, Change::Logout, |a| {
                    a.state = None;
                    a.reason = None;
                    a.call = None;
                    a.since = at;
                });
                self.logged_in -= 1;
                let id = self.by_version[&version].clone();
                self.logged_out.insert(version, id);
                while self.logged_out.len() > limits.max_logged_out {
                    let Some((old, id)) = self.logged_out.pop_first() else { break };
                    self.agents.remove(&id);
                    self.by_version.remove(&old);
                    self.evicted_floor = self.evicted_floor.max(old);
                }
                Outcome::Applied
            }
            EventKind::CallStart(call) => {
                let Some(agent) = self.agents.get(call.agent_id.as_str()) else { return not_logged_in(&call.agent_id) };
                if at < agent.last_at {
                    return Outcome::Stale;
                }
                if agent.state.is_none() {
                    return not_logged_in(&call.agent_id);
                }
                let extension: Arc<str> = match &call.extension {
                    Some(e) => Arc::from(e.as_str()),
                    None => agent.extension.clone(),
                };
                let next = ActiveCall {
                    call_id: Arc::from(call.call_id.as_str()),
                    extension,
                    service: call.service.as_deref().map(Arc::from),
                    direction: call.direction,
                    since: at,
                };
                match agent.call.clone() {
                    Some(current) if same_call(&current, &next) => {
                        self.touch(&call.agent_id, at);
                        return Outcome::Unchanged;
                    }
                    Some(current) => self.end_call(&call.agent_id, current, at),
                    None => {}
                }
                self.update(&call.agent_id, at, Change::CallStart, |a| a.call = Some(next));
                Outcome::Applied
            }
            EventKind::CallEnd(call) => {
                let Some(agent) = self.agents.get(call.agent_id.as_str()) else { return Outcome::Unchanged };
                if at < agent.last_at {
                    return Outcome::Stale;
                }
                match agent.call.clone() {
                    Some(current) if *current.call_id == *call.call_id => {
                        self.end_call(&call.agent_id, current, at);
                        Outcome::Applied
                    }
                    _ => {
                        self.touch(&call.agent_id, at);
                        Outcome::Unchanged
                    }
                }
            }
            EventKind::ServiceStats { service, stats } => self.service_stats(service, *stats, at, limits),
        }
    }

    fn login(
        &mut self,
        agent_id: &str,
        extension: &str,
        services: &[String],
        at: DateTime<Utc>,
        limits: &Limits,
    ) -> Outcome {
        let existing = self.agents.get(agent_id);
        if let Some(agent) = existing {
            if at < agent.last_at {
                return Outcome::Stale;
            }
            if agent.state.is_some() {
                let same = *agent.extension == *extension
                    && agent.services.len() == services.len()
                    && agent.services.iter().zip(services).all(|(a, b)| **a == **b);
                if same {
                    self.touch(agent_id, at);
                    return Outcome::Unchanged;
                }
                self.update(agent_id, at, Change::Login, |a| {
                    a.extension = Arc::from(extension);
                    a.services = shared_list(services);
                });
                return Outcome::Applied;
            }
        }
        if self.logged_in >= limits.max_agents {
            return Outcome::Rejected(format!(
                "agent_id: the tenant already has {} logged-in agents, the limit",
                limits.max_agents
            ));
        }
        let version = self.next_version();
        let id: Arc<str> = match self.agents.get(agent_id) {
            Some(old) => {
                self.by_version.remove(&old.version);
                self.logged_out.remove(&old.version);
                old.id.clone()
            }
            None => Arc::from(agent_id),
        };
        let agent = Arc::new(Agent {
            id: id.clone(),
            state: Some(AgentState::NotReady),
            reason: None,
            since: at,
            extension: Arc::from(extension),
            services: shared_list(services),
            call: None,
            version,
            login_version: version,
            last_at: at,
        });
        self.logged_in += 1;
        self.by_version.insert(version, id.clone());
        self.journal(version, || Change::Login(agent.clone()));
        self.agents.insert(id, agent);
        Outcome::Applied
    }

    fn service_stats(&mut self, service: &str, stats: ServiceStats, at: DateTime<Utc>, limits: &Limits) -> Outcome {
        let Some(current) = self.services.get_mut(service) else {
            if self.services.len() >= limits.max_services {
                return Outcome::Rejected(format!(
                    "service: the tenant already has statistics of {} services, the limit",
                    limits.max_services
                ));
            }
            self.version += 1;
            let name: Arc<str> = Arc::from(service);
            let record = Service { name: name.clone(), stats, updated_at: at, version: self.version, last_at: at };
            self.services.insert(name, Arc::new(record));
            return Outcome::Applied;
        };
        if at < current.last_at {
            return Outcome::Stale;
        }
        if current.stats == stats {
            Arc::make_mut(current).last_at = at;
            return Outcome::Unchanged;
        }
        self.version += 1;
        let s = Arc::make_mut(current);
        s.stats = stats;
        s.updated_at = at;
        s.last_at = at;
        s.version = self.version;
        Outcome::Applied
    }

    fn next_version(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    /// Records `at` as the agent's newest time without a visible change.
    fn touch(&mut self, agent_id: &str, at: DateTime<Utc>) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            if agent.last_at != at {
                Arc::make_mut(agent).last_at = at;
            }
        }
    }

    /// Changes a known agent, gives it the next version and journals `change`.
    fn update(
        &mut self,
        agent_id: &str,
        at: DateTime<Utc>,
        change: fn(Arc<Agent>) -> Change,
        edit: impl FnOnce(&mut Agent),
    ) -> u64 {
        let version = self.next_version();
        let entry = self.agents.get_mut(agent_id).expect("update is called for known agents");
        let agent = Arc::make_mut(entry);
        self.by_version.remove(&agent.version);
        edit(agent);
        agent.version = version;
        agent.last_at = at;
        self.by_version.insert(version, agent.id.clone());
        let snapshot = entry.clone();
        self.journal(version, || change(snapshot));
        version
    }

    fn end_call(&mut self, agent_id: &str, call: ActiveCall, at: DateTime<Utc>) {
        let version = self.next_version();
        let entry = self.agents.get_mut(agent_id).expect("calls end on known agents");
        let agent = Arc::make_mut(entry);
        self.by_version.remove(&agent.version);
        agent.call = None;
        agent.version = version;
        agent.last_at = at;
        self.by_version.insert(version, agent.id.clone());
        let snapshot = entry.clone();
        self.journal(version, || Change::CallEnd { agent: snapshot, call, at });
    }

    fn journal(&mut self, version: u64, change: impl FnOnce() -> Change) {
        if let Some(sender) = &self.journal {
            if sender.receiver_count() == 0 {
                self.journal = None;
            } else {
                let _ = sender.send(Journaled { version, change: change() });
            }
        }
    }
}

fn same_call(a: &ActiveCall, b: &ActiveCall) -> bool {
    a.call_id == b.call_id && a.extension == b.extension && a.service == b.service && a.direction == b.direction
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::events::parse_body;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    fn events(body: &str) -> Vec<Event> {
        let parsed = parse_body(body.as_bytes(), t(0)).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        parsed.events
    }

    fn at(secs: i64) -> String {
        crate::wire::Rfc3339(t(secs)).to_string()
    }

    #[test]
    fn login_state_call_and_logout_build_the_agent() {
        let state = LiveState::default();
        let body = format!(
            r#"{{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Sales","VIP"],"at":"{}"}}
{{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch","at":"{}"}}
{{"type":"call_start","call_id":"c1","agent_id":"a1","service":"VIP","direction":"inbound","at":"{}"}}"#,
            at(-30),
            at(-20),
            at(-10)
        );
        let report = state.apply("acme", &events(&body)).unwrap();
        assert_eq!(report.applied, 3);
        let agent = state.view("acme").agent("a1").unwrap();
        assert_eq!(agent.state, Some(AgentState::NotReady));
        assert_eq!(agent.reason.as_deref(), Some("Lunch"));
        assert_eq!(agent.since, t(-20));
        assert_eq!(&*agent.extension, "1001");
        assert_eq!(agent.current_service(), Some("VIP"));
        let call = agent.call.as_ref().unwrap();
        assert_eq!((&*call.call_id, &*call.extension, call.since), ("c1", "1001", t(-10)));
        state.apply("acme", &events(r#"{"type":"agent_logout","agent_id":"a1"}"#)).unwrap();
        let agent = state.view("acme").agent("a1").unwrap();
        assert_eq!((agent.state, agent.call.is_none(), agent.since), (None, true, t(0)));
        assert!(state.view("acme").snapshot().agents.is_empty(), "snapshots list logged-in agents only");
    }

    #[test]
    fn the_same_events_in_the_same_order_give_the_same_state() {
        let mut body = String::new();
        for i in 0..200 {
            let agent = i % 17;
            let line = match i % 5 {
                0 => format!(r#"{{"type":"agent_login","agent_id":"a{agent}","extension":"{i}","at":"{}"}}"#, at(i)),
                1 => format!(r#"{{"type":"agent_state","agent_id":"a{agent}","state":"busy","at":"{}"}}"#, at(i - 3)),
                2 => format!(r#"{{"type":"call_start","call_id":"c{i}","agent_id":"a{agent}","at":"{}"}}"#, at(i)),
                3 => format!(r#"{{"type":"service_stats","service":"S{}","handled":{i},"at":"{}"}}"#, i % 3, at(i)),
                _ => format!(r#"{{"type":"agent_logout","agent_id":"a{agent}","at":"{}"}}"#, at(i - 7)),
            };
            body.push_str(&line);
            body.push('\n');
        }
        let evs = events(&body);
        let (one, two) = (LiveState::default(), LiveState::default());
        let r1 = one.apply("t", &evs).unwrap();
        let r2 = two.apply("t", &evs).unwrap();
        assert_eq!(r1, r2);
        let (s1, s2) = (one.view("t").snapshot(), two.view("t").snapshot());
        assert_eq!(s1.version, s2.version);
        assert_eq!(s1.agents, s2.agents);
        assert_eq!(s1.services, s2.services);
    }

    #[test]
    fn an_event_older_than_the_newest_applied_to_its_agent_is_stale() {
        let state = LiveState::default();
        let body = format!(
            r#"{{"type":"agent_login","agent_id":"a1","at":"{}"}}
{{"type":"agent_state","agent_id":"a1","state":"busy","at":"{}"}}
{{"type":"agent_state","agent_id":"a1","state":"ready","at":"{}"}}
{{"type":"agent_state","agent_id":"a1","state":"after_call_work","at":"{}"}}"#,
            at(0),
            at(10),
            at(5),
            at(10)
        );
        let report = state.apply("t", &events(&body)).unwrap();
        assert_eq!((report.applied, report.stale), (3, 1));
        let agent = state.view("t").agent("a1").unwrap();
        assert_eq!(agent.state, Some(AgentState::AfterCallWork), "equal times apply in arrival order");
        let late_logout = format!(r#"{{"type":"agent_logout","agent_id":"a1","at":"{}"}}"#, at(9));
        assert_eq!(state.apply("t", &events(&late_logout)).unwrap().stale, 1);
        assert!(state.view("t").agent("a1").unwrap().state.is_some());
    }

    #[test]
    fn events_for_agents_not_logged_in_are_rejected_with_the_reason() {
        let state = LiveState::default();
        let body = r#"{"type":"agent_state","agent_id":"ghost","state":"ready"}
{"type":"call_start","call_id":"c","agent_id":"ghost"}
{"type":"agent_logout","agent_id":"ghost"}
{"type":"call_end","call_id":"c","agent_id":"ghost"}"#;
        let report = state.ingest("t", body.as_bytes(), t(0)).unwrap();
        assert_eq!(report.accepted, 2, "logout and call end of an unknown agent change nothing");
        let reasons: Vec<_> = report.rejected.iter().map(|r| (r.position, r.reason.as_str())).collect();
        let why = "agent_id: agent `ghost` is not logged in; send agent_login first";
        assert_eq!(reasons, vec![(Position::Line(1), why), (Position::Line(2), why)]);
    }

    #[test]
    fn repeating_the_current_state_is_no_change() {
        let state = LiveState::default();
        let body = r#"{"type":"agent_login","agent_id":"a1"}
{"type":"agent_state","agent_id":"a1","state":"ready"}"#;
        state.apply("t", &events(body)).unwrap();
        let before = state.view("t").version();
        let report = state.apply("t", &events(r#"{"type":"agent_state","agent_id":"a1","state":"ready"}"#)).unwrap();
        assert_eq!(report.unchanged, 1);
        assert_eq!(state.view("t").version(), before);
    }

    #[test]
    fn changes_since_lists_each_changed_agent_once_in_change_order() {
        let state = LiveState::default();
        let body = r#"{"type":"agent_login","agent_id":"a1"}
{"type":"agent_login","agent_id":"a2"}
{"type":"agent_login","agent_id":"a3"}"#;
        state.apply("t", &events(body)).unwrap();
        let view = state.view("t");
        let cursor = view.version();
        let body = r#"{"type":"agent_state","agent_id":"a3","state":"ready"}
{"type":"agent_state","agent_id":"a1","state":"ready"}
{"type":"agent_state","agent_id":"a3","state":"busy"}"#;
        state.apply("t", &events(body)).unwrap();
        let changes = view.changes_since(cursor);
        assert!(!changes.resync);
        let ids: Vec<_> = changes.agents.iter().map(|a| &*a.id).collect();
        assert_eq!(ids, vec!["a1", "a3"]);
        assert!(view.changes_since(changes.version).agents.is_empty());
    }

    #[test]
    fn logged_out_agents_are_forgotten_beyond_the_bound_and_behind_readers_resync() {
        let limits = Limits { max_logged_out: 3, ..Limits::default() };
        let state = LiveState::new(limits);
        let view = state.view("t");
        let mut body = String::new();
        for i in 0..10 {
            body.push_str(&format!("{{\"type\":\"agent_login\",\"agent_id\":\"a{i}\"}}\n"));
        }
        state.apply("t", &events(&body)).unwrap();
        let cursor = view.version();
        let mut body = String::new();
        for i in 0..10 {
            body.push_str(&format!("{{\"type\":\"agent_logout\",\"agent_id\":\"a{i}\"}}\n"));
        }
        state.apply("t", &events(&body)).unwrap();
        let counts = state.counts();
        assert_eq!((counts.agents_logged_in, counts.agents_logged_out), (0, 3));
        assert!(view.agent("a0").is_none());
        assert!(view.agent("a9").is_some());
        assert!(view.changes_since(cursor).resync, "a reader that missed forgotten logouts must resync");
        assert!(!view.changes_since(view.version()).resync);
    }

    #[test]
    fn logins_services_and_tenants_beyond_their_limits_are_rejected() {
        let limits = Limits { max_agents: 2, max_services: 1, max_tenants: 1, ..Limits::default() };
        let state = LiveState::new(limits);
        let body = r#"{"type":"agent_login","agent_id":"a1"}
{"type":"agent_login","agent_id":"a2"}
{"type":"agent_login","agent_id":"a3"}
{"type":"service_stats","service":"S1"}
{"type":"service_stats","service":"S2"}"#;
        let report = state.ingest("t", body.as_bytes(), t(0)).unwrap();
        assert_eq!(report.accepted, 3);
        assert_eq!(report.rejected[0].reason, "agent_id: the tenant already has 2 logged-in agents, the limit");
        assert_eq!(report.rejected[1].reason, "service: the tenant already has statistics of 1 services, the limit");
        assert_eq!(state.ingest("other", body.as_bytes(), t(0)).unwrap_err(), IntakeError::TooManyTenants { limit: 1 });
    }

    #[test]
    fn a_removed_tenant_starts_empty_and_its_readers_resync() {
        let state = LiveState::default();
        state.apply("t", &events(r#"{"type":"agent_login","agent_id":"a1"}"#)).unwrap();
        let cursor = state.view("t").version();
        state.remove_tenant("t");
        assert_eq!(state.counts(), StateCounts::default());
        let view = state.view("t");
        assert!(view.snapshot().agents.is_empty());
        assert!(view.changes_since(cursor).resync, "a cursor from the old state is ahead of the new one");
    }

    #[test]
    fn watchers_see_the_newest_version_and_the_services_that_changed_after_theirs() {
        let state = LiveState::default();
        let view = state.view("t");
        let mut watch = view.watch();
        state.apply("t", &events(r#"{"type":"service_stats","service":"S1","handled":1}"#)).unwrap();
        let cursor = view.version();
        state.apply("t", &events(r#"{"type":"agent_login","agent_id":"a1"}"#)).unwrap();
        state.apply("t", &events(r#"{"type":"service_stats","service":"S2","handled":1}"#)).unwrap();
        assert!(watch.has_changed().unwrap());
        assert_eq!(*watch.borrow_and_update(), view.version(), "one value: the newest");
        let names: Vec<_> = view.services_since(cursor).iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, vec!["S2"]);
        state.apply("t", &events(r#"{"type":"service_stats","service":"S2","handled":1}"#)).unwrap();
        assert!(!watch.has_changed().unwrap(), "a batch that changed nothing is not news");
    }

    #[test]
    fn a_removed_tenant_tells_its_watchers_and_its_successor_has_another_epoch() {
        let state = LiveState::default();
        let view = state.view("t");
        let mut watch = view.watch();
        state.remove_tenant("t");
        assert!(watch.has_changed().unwrap() && view.is_removed());
        watch.mark_unchanged();
        let again = state.view("t");
        assert_ne!(again.epoch(), view.epoch());
        assert!(!again.is_removed());
    }

    #[test]
    fn the_journal_carries_calls_that_start_and_end_between_reads() {
        let state = LiveState::default();
        let view = state.view("t");
        let mut journal = view.subscribe(16);
        let body = r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}
{"type":"call_start","call_id":"c1","agent_id":"a1"}
{"type":"call_end","call_id":"c1","agent_id":"a1"}
{"type":"agent_logout","agent_id":"a1"}"#;
        state.apply("t", &events(body)).unwrap();
        let mut kinds = Vec::new();
        while let Ok(entry) = journal.try_recv() {
            kinds.push(match entry.change {
                Change::Login(_) => "login".to_owned(),
                Change::State(_) => "state".to_owned(),
                Change::Logout(_) => "logout".to_owned(),
                Change::CallStart(a) => format!("call_start {}", a.call.as_ref().unwrap().call_id),
                Change::CallEnd { call, .. } => format!("call_end {}", call.call_id),
            });
        }
        assert_eq!(kinds, vec!["login", "call_start c1", "call_end c1", "logout"]);
    }
}
