//! `patchbay simulate`: drives a tenant's event intake with N agents and realistic churn
//! (login, ready, busy with calls, after-call work, not ready with reasons, logout), in
//! NDJSON batches, for demos and benchmarks. Deterministic for a given seed.

use std::time::{Duration, Instant};

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use patchbay_api::{IntakeReport, Operation};
use patchbay_feeds::events::{self, AgentState, Call, Direction};
use patchbay_feeds::{Event, EventKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::client::{CliError, Client};

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The tenant whose events are sent.
    #[arg(long)]
    tenant: String,
    /// How many agents.
    #[arg(long, default_value_t = 100)]
    agents: usize,
    /// How many events to send in all (logins included).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Events per second to aim for; 0 sends as fast as the server takes them.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Services agents are logged into (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "Sales,Support,Billing")]
    services: Vec<String>,
    /// Seed of the churn, for repeatable runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const REASONS: &[&str] = &["Lunch", "Break", "Training", "Meeting", "Coaching"];

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Out,
    Ready,
    Busy,
    AfterCall,
    NotReady,
}

/// The churn: each agent moves through a day's states.
struct Floor {
    rng: StdRng,
    modes: Vec<Mode>,
    services: Vec<String>,
    calls: u64,
    /// Number of this floor's first agent.
    first: usize,
    /// Distinguishes this floor's call ids from other floors'.
    prefix: usize,
}

impl Floor {
    fn next(&mut self) -> EventKind {
        let i = self.rng.gen_range(0..self.modes.len());
        let n = self.first + i;
        let agent_id = format!("agent-{n:05}");
        let service = self.services[n % self.services.len()].clone();
        let state = |state, reason| EventKind::AgentState { agent_id: agent_id.clone(), state, reason };
        let (mode, event) = match self.modes[i] {
            Mode::Out => (
                Mode::NotReady,
                EventKind::AgentLogin {
                    agent_id: agent_id.clone(),
                    extension: (1000 + n).to_string(),
                    services: vec![service],
                },
            ),
            Mode::Ready if self.rng.gen_bool(0.8) => {
                self.calls += 1;
                let call = Call {
                    call_id: format!("call-{}-{}", self.prefix, self.calls),
                    agent_id: agent_id.clone(),
                    extension: None,
                    service: Some(service),
                    direction: Some(Direction::Inbound),
                };
                (Mode::Busy, EventKind::CallStart(call))
            }
            Mode::Ready => {
                let reason = REASONS[self.rng.gen_range(0..REASONS.len())];
                (Mode::NotReady, state(AgentState::NotReady, Some(reason.to_owned())))
            }
            Mode::Busy => (Mode::AfterCall, state(AgentState::AfterCallWork, None)),
            Mode::AfterCall => (Mode::Ready, state(AgentState::Ready, None)),
            Mode::NotReady if self.rng.gen_bool(0.05) => (Mode::Out, EventKind::AgentLogout { agent_id }),
            Mode::NotReady => (Mode::Ready, state(AgentState::Ready, None)),
        };
        self.modes[i] = mode;
        event
    }

    /// `size` events in the intake's NDJSON, each at the time it is made: the events of one
    /// agent come from one floor, in order, so none is older than the one before it.
    fn batch(&mut self, size: usize) -> Vec<u8> {
        let batch: Vec<Event> = (0..size).map(|_| Event { kind: self.next(), at: Utc::now() }).collect();
        events::to_ndjson(&batch)
    }
}

/// What `simulate --json` prints.
#[derive(Serialize)]
struct Summary {
    events: usize,
    accepted: u64,
    rejected: u64,
    seconds: f64,
    events_per_second: f64,
}

/// What one sender reached.
#[derive(Default)]
struct Tally {
    sent: usize,
    accepted: u64,
    rejected: u64,
}

pub async fn run(client: &Client, args: SimulateArgs) -> Result<(), CliError> {
    if args.agents == 0 || args.batch == 0 || args.concurrency == 0 || args.services.is_empty() {
        return Err(CliError::Usage(
            "--agents, --batch, --concurrency and --services must not be zero or empty".into(),
        ));
    }
    let path = Operation::IngestEvents.url(&[&args.tenant]);
    let bar = ProgressBar::new(args.events as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} events  {per_sec}  {msg}")
            .map_err(|e| CliError::Other(e.into()))?,
    );
    let started = Instant::now();
    // Each sender owns a share of the agents and sends its batches in order, so the events
    // of one agent always arrive in the order they happened.
    let senders = args.concurrency.min(args.agents);
    let work = (0..senders).map(|k| {
        let share = args.events / senders + usize::from(k < args.events % senders);
        let agents = args.agents / senders + usize::from(k < args.agents % senders);
        let mut floor = Floor {
            rng: StdRng::seed_from_u64(args.seed.wrapping_add(k as u64)),
            modes: vec![Mode::Out; agents],
            services: args.services.clone(),
            calls: 0,
            first: k * (args.agents / senders) + k.min(args.agents % senders),
            prefix: k,
        };
        let (path, bar, rate) = (&path, &bar, args.rate / senders as u64);
        async move {
            let mut tally = Tally::default();
            while tally.sent < share {
                let size = args.batch.min(share - tally.sent);
                let body = floor.batch(size);
                tally.sent += size;
                if rate > 0 {
                    let due = Duration::from_secs_f64(tally.sent as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                let report: IntakeReport = client.post_raw(path, body).await?;
                tally.accepted += report.accepted;
                tally.rejected += report.rejected.len() as u64;
                bar.inc(size as u64);
            }
            Ok::<Tally, CliError>(tally)
        }
    });
    let tallies = futures::future::try_join_all(work).await?;
    bar.finish_and_clear();
    let sent: usize = tallies.iter().map(|t| t.sent).sum();
    let accepted: u64 = tallies.iter().map(|t| t.accepted).sum();
    let rejected: u64 = tallies.iter().map(|t| t.rejected).sum();
    let secs = started.elapsed().as_secs_f64();
    if client.json {
        let summary = Summary {
            events: sent,
            accepted,
            rejected,
            seconds: (secs * 1000.0).round() / 1000.0,
            events_per_second: (sent as f64 / secs).round(),
        };
        println!("{}", serde_json::to_string(&summary).map_err(anyhow::Error::from)?);
    } else {
        println!(
            "sent {sent} events for {} agents in {secs:.2} s ({:.0} events/s): {accepted} accepted, {rejected} rejected",
            args.agents,
            sent as f64 / secs
        );
    }
    Ok(())
}
