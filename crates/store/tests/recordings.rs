//! Recordings, export jobs, runs and exports, against every backend.

mod common;

use chrono::{Duration, TimeZone, Utc};
use patchbay_store::{
    Audio, AudioState, Conflict, Export, ExportJobWrite, ExportState, NewRun, NewTenant, RecordingQuery,
    RecordingStore, RecordingWrite, RunProgress, RunState, Store, StoreError, Timestamp,
};
use serde_json::json;
use uuid::Uuid;

use common::backends;

fn at(minute: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, minute, 0).unwrap()
}

fn recording(id: &str, service: &str, agent: &str, minute: u32) -> RecordingWrite {
    RecordingWrite {
        id: id.to_owned(),
        global_interaction_id: format!("gi-{id}"),
        call_started_at: at(minute),
        agent_login: agent.to_owned(),
        agent_first_name: "Jo".into(),
        agent_last_name: "Smith".into(),
        customer_phone: "+15550100".into(),
        direction: "inbound".into(),
        service: service.to_owned(),
        disposition: "sale".into(),
        flagged: false,
    }
}

fn audio(size: i64) -> Audio {
    Audio { size, sha256: "ab".repeat(32), content_type: "audio/wav".into(), extension: "wav".into() }
}

fn job(name: &str, account: Uuid) -> ExportJobWrite {
    ExportJobWrite { name: name.into(), account_id: account, enabled: true, settings: json!({"services": ["Sales"]}) }
}

async fn tenant(store: &dyn Store, id: &str) {
    store.create_tenant(&NewTenant { id: id.into(), name: id.into(), enabled_types: vec![] }, "t").await.unwrap();
}

#[tokio::test]
async fn recordings_are_unique_per_tenant_and_searchable_newest_first() {
    for b in backends().await {
        println!("backend: {}", b.name());
        let s = &b.store;
        tenant(s, "acme").await;
        tenant(s, "globex").await;
        let first = s.insert_recording("acme", &recording("r1", "Sales", "jo", 1)).await.unwrap();
        assert_eq!(first.audio_state, AudioState::None);
        assert!(first.audio.is_none());
        let err = s.insert_recording("acme", &recording("r1", "Sales", "jo", 1)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Conflict::RecordingExists)), "{err:?}");
        s.insert_recording("globex", &recording("r1", "Sales", "jo", 1)).await.unwrap();
        s.insert_recording("acme", &recording("r2", "Support", "al", 2)).await.unwrap();
        s.insert_recording("acme", &recording("r3", "Sales", "al", 3)).await.unwrap();
        let missing = s.insert_recording("nobody", &recording("r9", "Sales", "jo", 1)).await.unwrap_err();
        assert!(matches!(missing, StoreError::NotFound), "{missing:?}");

        let with_audio = s.set_recording_audio("acme", "r1", &audio(42)).await.unwrap();
        assert_eq!(with_audio.audio_state, AudioState::Local);
        assert_eq!(with_audio.audio, Some(audio(42)));
        let mut changed = recording("r1", "Sales", "jo", 1);
        changed.disposition = "callback".into();
        let updated = s.update_recording("acme", &changed).await.unwrap();
        assert_eq!(updated.meta.disposition, "callback");
        assert_eq!(updated.audio, Some(audio(42)), "a metadata update keeps the audio");
        assert_eq!(updated.seq, first.seq);

        let ids = |found: Vec<patchbay_store::Recording>| found.into_iter().map(|r| r.meta.id).collect::<Vec<_>>();
        let all = RecordingQuery { limit: 10, ..Default::default() };
        assert_eq!(ids(s.search_recordings("acme", &all).await.unwrap()), ["r3", "r2", "r1"]);
        let sales = RecordingQuery { service: Some("Sales".into()), ..all.clone() };
        assert_eq!(ids(s.search_recordings("acme", &sales).await.unwrap()), ["r3", "r1"]);
        let al = RecordingQuery { agent_login: Some("al".into()), ..all.clone() };
        assert_eq!(ids(s.search_recordings("acme", &al).await.unwrap()), ["r3", "r2"]);
        let window = RecordingQuery { from: Some(at(2)), to: Some(at(3)), ..all.clone() };
        assert_eq!(ids(s.search_recordings("acme", &window).await.unwrap()), ["r2"]);
        let phone = RecordingQuery { customer_phone: Some("+15550100".into()), limit: 2, ..Default::default() };
        let page = s.search_recordings("acme", &phone).await.unwrap();
        let last = page.last().unwrap();
        let next = RecordingQuery { before: Some((last.meta.call_started_at, last.seq)), ..phone.clone() };
        assert_eq!(ids(page), ["r3", "r2"]);
        assert_eq!(ids(s.search_recordings("acme", &next).await.unwrap()), ["r1"]);
        assert_eq!(s.max_recording_seq("acme").await.unwrap(), s.get_recording("acme", "r3").await.unwrap().seq);
        assert_eq!(s.max_recording_seq("initech").await.unwrap(), 0);
    }
}

#[tokio::test]
async fn export_jobs_have_unique_names_versions_and_an_audit_trail() {
    for b in backends().await {
        let s = &b.store;
        tenant(s, "acme").await;
        let account = Uuid::now_v7();
        let id = Uuid::now_v7();
        let created = s.create_export_job("acme", id, &job("Nightly", account), Some(at(5)), "alice").await.unwrap();
        assert_eq!(created.version, 1);
        let err = s.create_export_job("acme", Uuid::now_v7(), &job("NIGHTLY", account), None, "a").await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Conflict::NameTaken)), "{err:?}");
        assert_eq!(s.get_export_job("acme", id).await.unwrap(), created);
        assert_eq!(s.jobs_using_account("acme", account).await.unwrap().len(), 1);
        assert!(s.jobs_using_account("acme", Uuid::now_v7()).await.unwrap().is_empty());

        assert_eq!(s.due_export_jobs(at(4)).await.unwrap().len(), 0);
        assert_eq!(s.due_export_jobs(at(5)).await.unwrap()[0].id, id);
        s.set_next_run(id, Some(at(30))).await.unwrap();
        assert!(s.due_export_jobs(at(5)).await.unwrap().is_empty());

        let stale = s.update_export_job("acme", id, &job("Nightly", account), None, Some(7), "bob").await.unwrap_err();
        assert!(matches!(stale, StoreError::VersionMismatch { current: 1 }), "{stale:?}");
        let mut write = job("Hourly", account);
        write.enabled = false;
        let updated = s.update_export_job("acme", id, &write, None, Some(1), "bob").await.unwrap();
        assert_eq!((updated.version, updated.name.as_str(), updated.enabled), (2, "Hourly", false));
        assert_eq!(updated.updated_by, "bob");
        assert_eq!(s.list_export_jobs("acme").await.unwrap(), [updated]);

        s.delete_export_job("acme", id, Some(2), "carol").await.unwrap();
        assert!(matches!(s.get_export_job("acme", id).await.unwrap_err(), StoreError::NotFound));
        let trail = s
            .list_audit(&patchbay_store::AuditQuery {
                tenant_id: "acme".into(),
                account_id: None,
                before: None,
                limit: 10,
            })
            .await
            .unwrap();
        let actions: Vec<_> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions[..3],
            ["recording_export_job.delete", "recording_export_job.update", "recording_export_job.create"]
        );
        assert_eq!(trail[1].actor, "bob");
    }
}

#[tokio::test]
async fn one_run_at_a_time_and_dead_runs_are_interrupted() {
    for b in backends().await {
        let s = &b.store;
        tenant(s, "acme").await;
        let job_id = Uuid::now_v7();
        s.create_export_job("acme", job_id, &job("J", Uuid::now_v7()), None, "a").await.unwrap();
        let new_run = |node: &str| NewRun {
            id: Uuid::now_v7(),
            job_id,
            tenant_id: "acme".into(),
            reason: "manual".into(),
            resumed_from: None,
            node: node.into(),
            upto_seq: 3,
            total: 3,
        };
        let run = s.start_run(&new_run("node-a")).await.unwrap();
        let err = s.start_run(&new_run("node-b")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Conflict::RunActive)), "{err:?}");
        let progress = RunProgress { exported: 2, failed: 1, bytes: 300 };
        s.run_progress(run.id, progress).await.unwrap();
        assert_eq!(s.get_run("acme", job_id, run.id).await.unwrap().progress, progress);

        let long_ago = Utc::now() - Duration::hours(1);
        assert!(
            s.interrupt_dead_runs(Some("node-b"), long_ago).await.unwrap().is_empty(),
            "a live run of another node"
        );
        assert!(s.interrupt_dead_runs(None, long_ago).await.unwrap().is_empty(), "a live run is left alone");
        let dead = s.interrupt_dead_runs(Some("node-a"), long_ago).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].state, RunState::Interrupted);

        let second = s.start_run(&new_run("node-b")).await.unwrap();
        let in_future = Utc::now() + Duration::hours(1);
        assert_eq!(s.interrupt_dead_runs(None, in_future).await.unwrap()[0].id, second.id, "stale heartbeat");

        let third = s.start_run(&new_run("node-b")).await.unwrap();
        let done = s.finish_run(third.id, RunState::Succeeded, progress, Some("k.csv"), None).await.unwrap();
        assert_eq!((done.state, done.metadata_key.as_deref()), (RunState::Succeeded, Some("k.csv")));
        assert!(done.finished_at.is_some());
        let listed: Vec<_> = s.list_runs("acme", job_id, 10).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(listed, [third.id, second.id, run.id]);
        assert_eq!(s.list_runs("acme", job_id, 1).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn candidates_are_local_recordings_of_the_services_not_yet_exported() {
    for b in backends().await {
        let s = &b.store;
        tenant(s, "acme").await;
        let job_id = Uuid::now_v7();
        let account = Uuid::now_v7();
        for (id, service) in [("a", "Sales"), ("b", "Support"), ("c", "Sales"), ("d", "Sales"), ("e", "Billing")] {
            s.insert_recording("acme", &recording(id, service, "jo", 1)).await.unwrap();
            if id != "d" {
                s.set_recording_audio("acme", id, &audio(10)).await.unwrap();
            }
        }
        let services = vec!["Sales".to_owned(), "Billing".to_owned()];
        let upto = s.max_recording_seq("acme").await.unwrap();
        let ids = |found: &[(patchbay_store::Recording, Option<Export>)]| {
            found.iter().map(|(r, _)| r.meta.id.clone()).collect::<Vec<_>>()
        };
        let found = s.export_candidates("acme", job_id, &services, 0, upto, 10).await.unwrap();
        assert_eq!(ids(&found), ["a", "c", "e"], "no audio yet: d; other service: b");
        assert_eq!(s.count_export_candidates("acme", job_id, &services, upto).await.unwrap(), 3);
        let first_page = s.export_candidates("acme", job_id, &services, 0, upto, 1).await.unwrap();
        let after = first_page[0].0.seq;
        assert_eq!(ids(&s.export_candidates("acme", job_id, &services, after, upto, 10).await.unwrap()), ["c", "e"]);
        let before_e = s.get_recording("acme", "e").await.unwrap().seq - 1;
        assert_eq!(ids(&s.export_candidates("acme", job_id, &services, 0, before_e, 10).await.unwrap()), ["a", "c"]);

        let export = |id: &str, state| Export {
            tenant_id: "acme".into(),
            recording_id: id.into(),
            job_id,
            account_id: account,
            object_key: format!("calls/{id}.wav"),
            state,
            upload_id: Some("up-1".into()),
            etag: None,
            error: None,
            attempts: 1,
            run_id: Uuid::now_v7(),
            updated_at: at(9),
        };
        s.put_export(&export("a", ExportState::Success)).await.unwrap();
        s.put_export(&export("c", ExportState::Uploading)).await.unwrap();
        let found = s.export_candidates("acme", job_id, &services, 0, upto, 10).await.unwrap();
        assert_eq!(ids(&found), ["c", "e"], "a is done");
        assert_eq!(
            found[0].1.as_ref().map(|e| (e.state, e.upload_id.clone())),
            Some((ExportState::Uploading, Some("up-1".into())))
        );
        assert_eq!(found[1].1, None);
        let other_job = s.export_candidates("acme", Uuid::now_v7(), &services, 0, upto, 10).await.unwrap();
        assert_eq!(ids(&other_job), ["a", "c", "e"], "exports are per job");

        let mut failed = export("c", ExportState::Failed);
        failed.error = Some("AccessDenied".into());
        failed.attempts = 2;
        s.put_export(&failed).await.unwrap();
        assert_eq!(s.exports_of_recording("acme", "c").await.unwrap(), [failed.clone()]);
        let a_run = s.exports_of_recording("acme", "a").await.unwrap()[0].run_id;
        let of_runs = s.exports_of_runs("acme", &[failed.run_id, a_run], 0, 10).await.unwrap();
        let listed: Vec<_> = of_runs.iter().map(|(r, e)| (r.meta.id.as_str(), e.state)).collect();
        assert_eq!(listed, [("a", ExportState::Success), ("c", ExportState::Failed)]);
        assert_eq!(s.exports_of_runs("acme", &[a_run], 0, 10).await.unwrap().len(), 1);
        assert!(s.exports_of_runs("acme", &[], 0, 10).await.unwrap().is_empty());

        s.set_audio_state("acme", "e", AudioState::Removed).await.unwrap();
        assert_eq!(ids(&s.export_candidates("acme", job_id, &services, 0, upto, 10).await.unwrap()), ["c"]);
        assert!(s.export_candidates("acme", job_id, &[], 0, upto, 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_recordings_jobs_runs_and_exports() {
    for b in backends().await {
        let s = &b.store;
        tenant(s, "acme").await;
        tenant(s, "globex").await;
        for t in ["acme", "globex"] {
            s.insert_recording(t, &recording("r1", "Sales", "jo", 1)).await.unwrap();
            let job_id = Uuid::now_v7();
            s.create_export_job(t, job_id, &job("J", Uuid::now_v7()), None, "a").await.unwrap();
            let run = NewRun {
                id: Uuid::now_v7(),
                job_id,
                tenant_id: t.into(),
                reason: "manual".into(),
                resumed_from: None,
                node: "n".into(),
                upto_seq: 1,
                total: 1,
            };
            let run = s.start_run(&run).await.unwrap();
            let export = Export {
                tenant_id: t.into(),
                recording_id: "r1".into(),
                job_id,
                account_id: Uuid::now_v7(),
                object_key: "k".into(),
                state: ExportState::Success,
                upload_id: None,
                etag: None,
                error: None,
                attempts: 1,
                run_id: run.id,
                updated_at: at(1),
            };
            s.put_export(&export).await.unwrap();
        }
        s.delete_tenant("acme", "root").await.unwrap();
        for table in ["recordings", "recording_export_jobs", "recording_export_runs", "recording_exports"] {
            let left = b.count(&format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = 'acme'")).await;
            let kept = b.count(&format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = 'globex'")).await;
            assert_eq!((table, left, kept), (table, 0, 1));
        }
    }
}
