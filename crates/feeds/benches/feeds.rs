//! Data-plane benchmarks (`cargo bench -p patchbay-feeds`): Aspect records encoded per
//! second on one core, events parsed and applied per second, the encode work of one tick of
//! 100,000 agents over 1,000 tenants for each feed kind, and events taken per second
//! through an HTTP intake on loopback (axum + reqwest in one process, two worker threads).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use patchbay_feeds::aspect::{AspectEncoder, HealthFlag, RecordFieldSizes, RecordType, CHUNK_RECORDS};
use patchbay_feeds::loxysoft::LoxysoftEncoder;
use patchbay_feeds::nice::NiceEncoder;
use patchbay_feeds::wfm_http::WfmEncoder;
use patchbay_feeds::{events, stats_receiver, Journaled, LiveState, ReasonCodes};

const TENANTS: usize = 1_000;
const AGENTS_PER_TENANT: usize = 100;
const STATES: [&str; 5] = ["ready", "busy", "after_call_work", "not_ready", "supervising"];
const REASONS: [&str; 4] = ["Lunch", "Break", "Training", "Meeting"];

fn main() {
    println!(
        "patchbay-feeds benchmarks ({} logical CPUs)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    aspect_encoding();
    parsing_and_applying();
    ticks();
    http_intake();
}

fn reason_codes() -> ReasonCodes {
    REASONS.iter().enumerate().map(|(i, r)| (r.to_string(), i as u32 + 1)).collect()
}

/// NDJSON: one login per agent of `tenant`, then `changes` state changes spread over them.
fn churn_body(agents: usize, changes: usize, seed: usize) -> Vec<u8> {
    let mut body = String::with_capacity(changes * 96);
    for i in 0..changes {
        let agent = (i * 7 + seed) % agents;
        let state = STATES[(i + seed) % STATES.len()];
        if state == "not_ready" {
            let reason = REASONS[i % REASONS.len()];
            body.push_str(&format!(
                "{{\"type\":\"agent_state\",\"agent_id\":\"agent-{agent:04}\",\"state\":\"not_ready\",\"reason\":\"{reason}\"}}\n"
            ));
        } else {
            body.push_str(&format!(
                "{{\"type\":\"agent_state\",\"agent_id\":\"agent-{agent:04}\",\"state\":\"{state}\"}}\n"
            ));
        }
    }
    body.into_bytes()
}

fn logins(agents: usize) -> Vec<u8> {
    let mut body = String::new();
    for a in 0..agents {
        body.push_str(&format!(
            "{{\"type\":\"agent_login\",\"agent_id\":\"agent-{a:04}\",\"extension\":\"{}\",\"services\":[\"Sales\",\"Support\"]}}\n",
            1000 + a
        ));
    }
    body.into_bytes()
}

/// 1,000 tenants of 100 logged-in agents with mixed states, and statistics of two services.
fn populated() -> LiveState {
    let state = LiveState::default();
    let now = Utc::now();
    let stats = b"{\"type\":\"service_stats\",\"service\":\"Sales\",\"calls_waiting\":3,\"handled\":100}\n{\"type\":\"service_stats\",\"service\":\"Support\",\"calls_waiting\":1}\n";
    for t in 0..TENANTS {
        let tenant = format!("tenant-{t:04}");
        state.ingest(&tenant, &logins(AGENTS_PER_TENANT), now).unwrap();
        state.ingest(&tenant, &churn_body(AGENTS_PER_TENANT, AGENTS_PER_TENANT, t), now).unwrap();
        state.ingest(&tenant, stats, now).unwrap();
    }
    state
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn aspect_encoding() {
    let state = populated();
    let agents = state.view("tenant-0000").snapshot().agents;
    let encoder = AspectEncoder::new(RecordFieldSizes::default(), reason_codes());
    let mut out = Vec::with_capacity(encoder.max_write_bytes());
    let total = 5_000_000;
    let start = Instant::now();
    let mut encoded = 0;
    while encoded < total {
        for agent in agents.iter().take(CHUNK_RECORDS) {
            encoder.agent(&mut out, RecordType::State, HealthFlag::Normal, agent);
        }
        encoded += CHUNK_RECORDS.min(agents.len());
        black_box(&out);
        out.clear();
    }
    let elapsed = start.elapsed();
    println!(
        "aspect encode:         {:>12.0} records/s on one core ({} bytes each)",
        per_second(encoded, elapsed),
        RecordFieldSizes::default().record_bytes()
    );
}

fn parsing_and_applying() {
    let agents = 1_000;
    let batches: Vec<Vec<u8>> = (0..100).map(|seed| churn_body(agents, 1_000, seed)).collect();
    let events: usize = 100 * 1_000;
    let now = Utc::now();

    let start = Instant::now();
    for body in &batches {
        black_box(events::parse_body(body, now).unwrap());
    }
    let parse = start.elapsed();

    let state = LiveState::default();
    state.ingest("bench", &logins(agents), now).unwrap();
    let start = Instant::now();
    let mut accepted = 0;
    for body in &batches {
        accepted += state.ingest("bench", body, now).unwrap().accepted;
    }
    let ingest = start.elapsed();
    assert_eq!(accepted, events);
    let bytes: usize = batches.iter().map(Vec::len).sum();
    println!(
        "parse NDJSON:          {:>12.0} events/s on one core ({:.0} MB/s)",
        per_second(events, parse),
        bytes as f64 / parse.as_secs_f64() / 1e6
    );
    println!("parse + apply:         {:>12.0} events/s on one core", per_second(events, ingest));
}

/// The encode work of one tick across all tenants, for each feed kind, after `changes`
/// agents (spread over the tenants) changed since the previous tick. Encoders persist across
/// ticks as they do in the feed tasks; the network is left out.
fn ticks() {
    let state = populated();
    let tenants: Vec<String> = (0..TENANTS).map(|t| format!("tenant-{t:04}")).collect();
    let aspect = AspectEncoder::new(RecordFieldSizes::default(), reason_codes());
    let nice = NiceEncoder { agent_id_prefix: "BP-".into(), extension_prefix: "EXT".into() };
    let skills: HashMap<String, String> = HashMap::from([("Sales".into(), "SK-01".into())]);
    let mut journals: Vec<_> = tenants.iter().map(|t| state.view(t).subscribe(4096)).collect();
    let mut cursors: Vec<u64> = tenants.iter().map(|t| state.view(t).version()).collect();
    let mut wfm: Vec<WfmEncoder> = tenants.iter().map(|_| WfmEncoder::new(reason_codes())).collect();
    let mut lox: Vec<LoxysoftEncoder> = tenants.iter().map(|_| LoxysoftEncoder::new(skills.clone())).collect();
    for (i, tenant) in tenants.iter().enumerate() {
        let snapshot = state.view(tenant).snapshot();
        wfm[i].encode(&snapshot, &mut Vec::new());
        lox[i].encode(&snapshot, &mut Vec::new());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "tick of {} agents over {TENANTS} tenants, encode work of all {TENANTS} feeds of a kind, one core (ms):",
        TENANTS * AGENTS_PER_TENANT
    );
    println!("  changed | aspect changes | WFM HTTP | Loxysoft | NICE  | statistics | aspect snapshot (every 15 min)");
    for (round, changes) in [0usize, 1_000, 8_333, 100_000].into_iter().enumerate() {
        let per_tenant = changes / TENANTS;
        let now = Utc::now();
        for (i, tenant) in tenants.iter().enumerate() {
            if per_tenant > 0 {
                state.ingest(tenant, &churn_body(AGENTS_PER_TENANT, per_tenant, i + round * 13), now).unwrap();
            }
        }
        let start = Instant::now();
        let mut out = Vec::with_capacity(aspect.max_write_bytes());
        for (i, tenant) in tenants.iter().enumerate() {
            let changed = state.view(tenant).changes_since(cursors[i]);
            if changed.agents.is_empty() {
                aspect.marker(&mut out, RecordType::Heartbeat, HealthFlag::Normal, now);
            }
            for agent in &changed.agents {
                aspect.agent(&mut out, RecordType::State, HealthFlag::Normal, agent);
            }
            cursors[i] = changed.version;
            black_box(&out);
            out.clear();
        }
        let aspect_tick = start.elapsed();

        let start = Instant::now();
        for tenant in &tenants {
            for chunk in state.view(tenant).snapshot().agents.chunks(CHUNK_RECORDS) {
                for agent in chunk {
                    aspect.agent(&mut out, RecordType::Full, HealthFlag::Normal, agent);
                }
                black_box(&out);
                out.clear();
            }
        }
        let aspect_snapshot = start.elapsed();

        let start = Instant::now();
        for (i, tenant) in tenants.iter().enumerate() {
            let mut body = Vec::with_capacity(16 * 1024);
            wfm[i].encode(&state.view(tenant).snapshot(), &mut body);
            black_box(body);
        }
        let wfm_tick = start.elapsed();

        let start = Instant::now();
        for (i, tenant) in tenants.iter().enumerate() {
            let mut body = Vec::with_capacity(16 * 1024);
            lox[i].encode(&state.view(tenant).snapshot(), &mut body);
            black_box(body);
        }
        let lox_tick = start.elapsed();

        let start = Instant::now();
        for journal in &mut journals {
            let mut batch = Vec::new();
            while let Ok(Journaled { change, .. }) = journal.try_recv() {
                batch.extend(nice.change(&change));
            }
            if !batch.is_empty() {
                black_box(serde_json::to_vec(&batch).unwrap());
            }
        }
        let nice_tick = start.elapsed();

        let start = Instant::now();
        for (seq, tenant) in tenants.iter().enumerate() {
            let mut line = Vec::new();
            stats_receiver::encode_line(seq as u64, now, &state.view(tenant).services(), &mut line);
            black_box(line);
        }
        let stats_tick = start.elapsed();

        println!(
            "  {changes:>7} | {:>14.2} | {:>8.2} | {:>8.2} | {:>5.2} | {:>10.2} | {:>6.2}",
            ms(aspect_tick),
            ms(wfm_tick),
            ms(lox_tick),
            ms(nice_tick),
            ms(stats_tick),
            ms(aspect_snapshot),
        );
    }
}

/// An intake endpoint like the server's (parse + apply + JSON answer) on loopback, driven by
/// concurrent clients posting NDJSON batches of 1,000 events.
fn http_intake() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        use axum::body::Bytes;
        use axum::extract::{Path, State};
        use axum::routing::post;

        let state = LiveState::default();
        let agents = 1_000;
        let tenants = 8;
        for t in 0..tenants {
            state.ingest(&format!("t{t}"), &logins(agents), Utc::now()).unwrap();
        }
        async fn intake(State(state): State<LiveState>, Path(tenant): Path<String>, body: Bytes) -> axum::Json<usize> {
            let report = state.ingest(&tenant, &body, Utc::now()).expect("a known tenant");
            axum::Json(report.accepted)
        }
        let router = axum::Router::new().route("/tenants/{tenant}/events", post(intake)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });

        let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..16).map(|seed| churn_body(agents, 1_000, seed)).collect());
        let client = reqwest::Client::new();
        let taken = Arc::new(AtomicU64::new(0));
        let duration = Duration::from_secs(5);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..8 {
            let (client, bodies, taken) = (client.clone(), bodies.clone(), taken.clone());
            let url = format!("http://{addr}/tenants/t{}/events", c % tenants);
            tasks.push(tokio::spawn(async move {
                let mut i = c;
                while start.elapsed() < duration {
                    let body = bodies[i % bodies.len()].clone();
                    let response = client.post(&url).body(body).send().await.unwrap();
                    let accepted: usize = response.json().await.unwrap();
                    taken.fetch_add(accepted as u64, Ordering::Relaxed);
                    i += 1;
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = start.elapsed();
        let taken = taken.load(Ordering::Relaxed) as usize;
        println!(
            "HTTP intake, loopback: {:>12.0} events/s (8 clients, batches of 1,000, server and clients on 2 worker threads)",
            per_second(taken, elapsed)
        );
    });
}
