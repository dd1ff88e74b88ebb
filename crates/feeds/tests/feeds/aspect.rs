//! The Aspect RTA feed: records decoded from the documented layout.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use patchbay_catalog::keys::wfm::aspect_tcp;
use patchbay_feeds::events::AgentState;
use patchbay_feeds::{FeedStatus, Limits, TenantView, Upsert};
use serde_json::{json, Value};

use crate::common::*;

fn aspect_spec(addr: SocketAddr, extra: Value) -> patchbay_feeds::FeedSpec {
    let mut properties = json!({
        aspect_tcp::HOST_NAME: "127.0.0.1",
        aspect_tcp::PORT: addr.port(),
        aspect_tcp::PERIODIC_UPDATE_INTERVAL: 10,
        aspect_tcp::REASON_CODES_MAPPING: {"Lunch": 7, "Training": 12}
    });
    properties.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    spec("wfm1", "wfm", "aspect_tcp", properties, &[])
}

/// The modes the docs give, by agent, from the live state itself.
fn truth(view: &TenantView) -> BTreeMap<String, String> {
    view.snapshot()
        .agents
        .iter()
        .map(|a| {
            let mode = match a.state {
                Some(AgentState::Ready) => "01",
                Some(AgentState::Busy) => "02",
                Some(AgentState::AfterCallWork) => "03",
                Some(AgentState::Supervising) => "04",
                Some(AgentState::NotReady) => "05",
                None => "27",
            };
            (a.id.to_string(), mode.to_owned())
        })
        .collect()
}

/// Reads records into `board` until a snapshot ends; returns the snapshot's records.
async fn read_snapshot(rta: &mut TcpReceiver<Record>, board: &mut Board) -> Vec<Record> {
    let mut records = Vec::new();
    loop {
        let (_, record) = rta.next().await;
        board.apply(&record);
        let end = record.kind == "E";
        if record.kind != "H" && (!records.is_empty() || record.kind == "B") {
            records.push(record);
        }
        if end {
            return records;
        }
    }
}

fn kinds(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.kind.as_str()).collect()
}

#[tokio::test(start_paused = true)]
async fn aspect_feed_sends_a_snapshot_on_connect_then_changes_then_heartbeats() {
    let world = World::new();
    world.send(
        "acme",
        r#"{"type":"agent_login","agent_id":"a2","extension":"1002","services":["Sales"]}
{"type":"agent_login","agent_id":"a1","extension":"1001","services":["Support","Sales"]}
{"type":"agent_state","agent_id":"a1","state":"ready"}"#,
    );
    let mut rta = aspect_receiver(loopback(), Widths::DEFAULT, true);
    assert_eq!(world.supervisor.upsert(aspect_spec(rta.addr, json!({}))), Upsert::Started);

    let snapshot = rta.take(4).await;
    assert_eq!(kinds(&snapshot), ["B", "F", "F", "E"]);
    assert!(snapshot.iter().all(|r| r.flag == "N" && r.timestamp == "20250301100000"));
    let a1 = &snapshot[1];
    assert_eq!(
        (a1.agent_id.as_str(), a1.extension.as_str(), a1.mode.as_str(), a1.reason_code.as_str(), a1.service.as_str()),
        ("a1", "1001", "01", "", "Support")
    );
    assert_eq!((snapshot[2].agent_id.as_str(), snapshot[2].mode.as_str()), ("a2", "05"), "login means not ready");
    assert_eq!(world.elapsed(), 0);

    world.send(
        "acme",
        r#"{"type":"agent_state","agent_id":"a1","state":"not_ready","reason":"Lunch"}
{"type":"agent_login","agent_id":"a3","extension":"1003"}"#,
    );
    let changes = rta.take(2).await;
    assert_eq!(world.elapsed(), 10, "changes go out at the interval");
    assert_eq!((changes[0].kind.as_str(), changes[0].agent_id.as_str()), ("S", "a1"));
    assert_eq!((changes[0].mode.as_str(), changes[0].reason_code.as_str()), ("05", "7"));
    assert_eq!((changes[1].kind.as_str(), changes[1].agent_id.as_str()), ("L", "a3"));
    assert_eq!(changes[1].service, "", "no call and no services: blank");

    let heartbeat = rta.next().await.1;
    assert_eq!(world.elapsed(), 20);
    assert_eq!((heartbeat.kind.as_str(), heartbeat.timestamp.as_str()), ("H", "20250301100020"));
    assert_eq!(heartbeat.agent_id, "");

    tokio::time::sleep(Duration::from_secs(5)).await;
    world.send(
        "acme",
        r#"{"type":"agent_logout","agent_id":"a2"}
{"type":"call_start","call_id":"c1","agent_id":"a3","service":"VIP"}
{"type":"agent_state","agent_id":"a3","state":"busy"}"#,
    );
    let changes = rta.take(2).await;
    assert_eq!(world.elapsed(), 30);
    assert_eq!(
        (
            changes[0].kind.as_str(),
            changes[0].agent_id.as_str(),
            changes[0].mode.as_str(),
            changes[0].timestamp.as_str()
        ),
        ("O", "a2", "27", "20250301100025")
    );
    assert_eq!((changes[1].kind.as_str(), changes[1].mode.as_str(), changes[1].service.as_str()), ("S", "02", "VIP"));
    let health = world.health("wfm1");
    assert!(health.connected);
    assert_eq!((health.status, health.sent, health.connects, health.failed), (FeedStatus::Running, 9, 1, 0));
    assert_eq!(health.bytes_sent, 9 * 204);
}

#[tokio::test(start_paused = true)]
async fn aspect_records_use_the_account_field_sizes_and_cut_long_values() {
    let world = World::new();
    world.send(
        "acme",
        r#"{"type":"agent_login","agent_id":"Jürgen-Müller","extension":"100123","services":["Ventes été"],"at":"2025-03-01T09:59:58.125Z"}
{"type":"agent_state","agent_id":"Jürgen-Müller","state":"not_ready","reason":"Pause café","at":"2025-03-01T09:59:58.125Z"}"#,
    );
    let widths = Widths { timestamp: 17, agent_id: 6, extension: 4, agent_mode: 3, reason_code: 2, service: 5 };
    let mut rta = aspect_receiver(loopback(), widths, true);
    let sizes = json!({aspect_tcp::RECORD_FIELD_SIZES: {
        "timestamp": 17, "agent_id": 6, "extension": 4, "agent_mode": 3, "reason_code": 2, "service": 5
    }, aspect_tcp::REASON_CODES_MAPPING: {"Pause café": 123}});
    world.supervisor.upsert(aspect_spec(rta.addr, sizes));
    let snapshot = rta.take(3).await;
    let agent = &snapshot[1];
    assert_eq!(
        agent,
        &Record {
            kind: "F".into(),
            flag: "N".into(),
            timestamp: "20250301095958125".into(),
            agent_id: "Jürgen".into(),
            extension: "1001".into(),
            mode: "005".into(),
            reason_code: "12".into(),
            service: "Vente".into(),
        }
    );
    assert_eq!(snapshot[0].timestamp, "20250301100000000");
}

#[tokio::test(start_paused = true)]
async fn aspect_feed_sends_a_full_snapshot_every_fifteen_minutes() {
    let world = World::new();
    world.send("acme", r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}"#);
    let mut rta = aspect_receiver(loopback(), Widths::DEFAULT, true);
    world.supervisor.upsert(aspect_spec(rta.addr, json!({})));
    assert_eq!(kinds(&rta.take(3).await), ["B", "F", "E"]);
    let mut heartbeats = 0;
    loop {
        let record = rta.next().await.1;
        if record.kind == "H" {
            heartbeats += 1;
            continue;
        }
        assert_eq!((record.kind.as_str(), record.flag.as_str()), ("B", "N"));
        break;
    }
    assert_eq!(world.elapsed(), 900);
    assert_eq!(heartbeats, 89, "a heartbeat at 10 s, 20 s, ... 890 s");
    assert_eq!(kinds(&rta.take(2).await), ["F", "E"]);
    assert_eq!(rta.next().await.1.kind, "H", "changes and heartbeats resume");
    assert_eq!(world.elapsed(), 910);
}

#[tokio::test(start_paused = true)]
async fn aspect_feed_connects_once_the_receiver_comes_up_and_flags_the_snapshot_recovered() {
    let world = World::new();
    let addr = free_addr().await;
    world.supervisor.upsert(aspect_spec(addr, json!({})));
    let health = world.health_until("wfm1", "a failed connect", |h| h.failed >= 2).await;
    assert!(!health.connected);
    assert_eq!(health.status, FeedStatus::Retrying);
    assert!(health.last_error.as_deref().unwrap().contains("cannot connect"), "{health:?}");

    world.send(
        "acme",
        r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}
{"type":"agent_state","agent_id":"a1","state":"busy"}"#,
    );
    let mut rta = aspect_receiver(addr, Widths::DEFAULT, true);
    let mut board = Board::default();
    let snapshot = read_snapshot(&mut rta, &mut board).await;
    assert_eq!(kinds(&snapshot), ["B", "F", "E"]);
    assert!(snapshot.iter().all(|r| r.flag == "R"), "{snapshot:?}");
    assert_eq!(board.modes(), truth(&world.state.view("acme")));
    let health = world.health_until("wfm1", "running", |h| h.status == FeedStatus::Running).await;
    assert!(health.connected);
    assert_eq!(health.connects, 1);
}

#[tokio::test(start_paused = true)]
async fn aspect_feed_reconnects_after_the_receiver_is_killed_and_converges_to_the_true_state() {
    let world = World::new();
    world.send(
        "acme",
        r#"{"type":"agent_login","agent_id":"a1","extension":"1001"}
{"type":"agent_login","agent_id":"a2","extension":"1002"}"#,
    );
    let mut rta = aspect_receiver(loopback(), Widths::DEFAULT, true);
    let addr = rta.addr;
    world.supervisor.upsert(aspect_spec(addr, json!({})));
    let mut board = Board::default();
    read_snapshot(&mut rta, &mut board).await;
    world.send("acme", r#"{"type":"agent_state","agent_id":"a1","state":"ready"}"#);
    board.apply(&rta.next().await.1);
    assert_eq!(board.modes(), truth(&world.state.view("acme")));

    rta.stop().await;
    world.health_until("wfm1", "the lost connection", |h| !h.connected && h.failed >= 1).await;
    world.send(
        "acme",
        r#"{"type":"agent_logout","agent_id":"a1"}
{"type":"agent_login","agent_id":"a5","extension":"1005"}
{"type":"agent_state","agent_id":"a2","state":"supervising"}"#,
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(world.health("wfm1").failed >= 3, "reconnects keep failing while the receiver is down");

    let mut rta = aspect_receiver(addr, Widths::DEFAULT, true);
    let snapshot = read_snapshot(&mut rta, &mut board).await;
    assert!(snapshot.iter().all(|r| r.flag == "R"));
    assert_eq!(board.modes(), truth(&world.state.view("acme")));
    assert_eq!(board.modes(), BTreeMap::from([("a2".into(), "04".into()), ("a5".into(), "05".into())]));

    world.send("acme", r#"{"type":"agent_state","agent_id":"a5","state":"ready"}"#);
    let (connection, record) = rta.next().await;
    assert_eq!((connection, record.kind.as_str(), record.flag.as_str()), (1, "S", "N"));
    assert_eq!(world.health("wfm1").connects, 2);
}

#[tokio::test(start_paused = true)]
async fn aspect_feed_drops_a_stalled_connection_and_holds_at_most_one_chunk() {
    let limits = Limits { max_agents: 50_000, ..Limits::default() };
    let world = World::with(limits, options(), egress());
    let agents = 40_000;
    let mut body = String::new();
    for i in 0..agents {
        body.push_str(&format!("{{\"type\":\"agent_login\",\"agent_id\":\"agent-{i:05}\",\"extension\":\"{i}\"}}\n"));
    }
    world.send("acme", &body);
    let stalled = aspect_receiver(loopback(), Widths::DEFAULT, false);
    let addr = stalled.addr;
    world.supervisor.upsert(aspect_spec(addr, json!({})));
    let health = world.health_until("wfm1", "the write to time out", |h| h.failed >= 1).await;
    assert!(health.last_error.as_deref().unwrap().contains("took no data for 2000 ms"), "{health:?}");
    let bound = 257 * 204;
    assert!(health.max_pending_bytes > 0 && health.max_pending_bytes <= bound, "{}", health.max_pending_bytes);
    assert!(health.sent < agents, "the stalled receiver did not get the whole snapshot");

    stalled.stop().await;
    let mut rta = aspect_receiver(addr, Widths::DEFAULT, true);
    let mut board = Board::default();
    let snapshot = read_snapshot(&mut rta, &mut board).await;
    assert_eq!(snapshot.len(), agents as usize + 2);
    assert!(snapshot.iter().all(|r| r.flag == "R"));
    assert_eq!(board.modes(), truth(&world.state.view("acme")));
    assert!(world.health("wfm1").max_pending_bytes <= bound);
}
