//! Recordings, export jobs, runs and exports, against every backend.

mod common;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use patchbay_store::{
    Audio, AudioState, Conflict, Export, ExportJobWrite, ExportRun, ExportState, Fence, NewRun, NewTenant, ObjectPlace,
    RecordingQuery, RecordingStore, RecordingWrite, RunProgress, RunState, Store, StoreError, Timestamp,
};
use patchbay_testkit::backend_test;
use serde_json::json;
use uuid::Uuid;

use common::Backend;

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

fn run_of(tenant: &str, job_id: Uuid, node: &str) -> NewRun {
    NewRun {
        id: Uuid::now_v7(),
        job_id,
        tenant_id: tenant.into(),
        reason: "manual".into(),
        resumed_from: None,
        node: node.into(),
        upto_seq: 1,
        total: 1,
    }
}

async fn tenant(store: &dyn Store, id: &str) {
    store
        .create_tenant(
            &NewTenant { id: id.into(), name: id.into(), enabled_types: vec![], time_zone: "UTC".into() },
            "t",
        )
        .await
        .unwrap();
}

backend_test! {
    #[tokio::test]
    async fn recordings_are_unique_per_tenant_and_searchable_newest_or_oldest_first(db) {
        let b = Backend::open(db).await;
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
        let next = RecordingQuery { after: Some((last.meta.call_started_at, last.seq)), ..phone.clone() };
        assert_eq!(ids(page), ["r3", "r2"]);
        assert_eq!(ids(s.search_recordings("acme", &next).await.unwrap()), ["r1"]);
        // Oldest first, page by page; a call that started at the same time as another comes after it.
        s.insert_recording("acme", &recording("r4", "Sales", "jo", 1)).await.unwrap();
        let oldest = RecordingQuery { oldest_first: true, limit: 2, ..Default::default() };
        let page = s.search_recordings("acme", &oldest).await.unwrap();
        let last = page.last().unwrap();
        let next = RecordingQuery { after: Some((last.meta.call_started_at, last.seq)), ..oldest.clone() };
        assert_eq!(ids(page), ["r1", "r4"]);
        assert_eq!(ids(s.search_recordings("acme", &next).await.unwrap()), ["r2", "r3"]);
        let newest = RecordingQuery { limit: 10, ..Default::default() };
        assert_eq!(ids(s.search_recordings("acme", &newest).await.unwrap()), ["r3", "r2", "r4", "r1"]);
        assert_eq!(s.max_recording_seq("acme").await.unwrap(), s.get_recording("acme", "r4").await.unwrap().seq);
        assert_eq!(s.max_recording_seq("initech").await.unwrap(), 0);
    }
}

backend_test! {
    #[tokio::test]
    async fn export_jobs_have_unique_names_versions_and_an_audit_trail(db) {
        let b = Backend::open(db).await;
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

backend_test! {
    #[tokio::test]
    async fn one_run_at_a_time_and_dead_runs_are_interrupted(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        let job_id = Uuid::now_v7();
        s.create_export_job("acme", job_id, &job("J", Uuid::now_v7()), None, "a").await.unwrap();
        let new_run = |node: &str| run_of("acme", job_id, node);
        let run = s.start_run(&new_run("node-a")).await.unwrap();
        let err = s.start_run(&new_run("node-b")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Conflict::RunActive)), "{err:?}");
        let progress = RunProgress { exported: 2, failed: 1, bytes: 300 };
        s.run_progress(run.fence(), progress).await.unwrap();
        assert_eq!(s.get_run("acme", job_id, run.id).await.unwrap().progress, progress);

        let hour = Duration::from_secs(3600);
        assert!(s.interrupt_dead_runs(Some("node-b"), hour).await.unwrap().is_empty(), "a live run of another node");
        assert!(s.interrupt_dead_runs(None, hour).await.unwrap().is_empty(), "a live run is left alone");
        let dead = s.interrupt_dead_runs(Some("node-a"), hour).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].state, RunState::Interrupted);

        let second = s.start_run(&new_run("node-b")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let expiry = Duration::from_millis(10);
        assert_eq!(s.interrupt_dead_runs(None, expiry).await.unwrap()[0].id, second.id, "stale heartbeat");

        let third = s.start_run(&new_run("node-b")).await.unwrap();
        let done = s.finish_run(third.fence(), RunState::Succeeded, progress, Some("k.csv"), None).await.unwrap();
        assert_eq!((done.state, done.metadata_key.as_deref()), (RunState::Succeeded, Some("k.csv")));
        assert!(done.finished_at.is_some());
        let listed: Vec<_> = s.list_runs("acme", job_id, 10).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(listed, [third.id, second.id, run.id]);
        assert_eq!(s.list_runs("acme", job_id, 1).await.unwrap().len(), 1);
    }
}

backend_test! {
    #[tokio::test]
    async fn candidates_are_local_recordings_of_the_services_not_yet_exported(db) {
        let b = Backend::open(db).await;
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

        s.create_export_job("acme", job_id, &job("J", account), None, "a").await.unwrap();
        let first_run = s.start_run(&run_of("acme", job_id, "n")).await.unwrap();
        let export = |id: &str, state, run: &ExportRun| Export {
            tenant_id: "acme".into(),
            recording_id: id.into(),
            job_id,
            account_id: account,
            object_key: format!("calls/{id}.wav"),
            state,
            upload_id: Some("up-1".into()),
            etag: None,
            error: None,
            category: None,
            attempts: 1,
            run_id: run.id,
            updated_at: at(9),
            place: None,
        };
        let placed = Export {
            place: Some(ObjectPlace {
                bucket: "calls".into(),
                endpoint: Some("http://s3.local".into()),
                region: "eu-west-1".into(),
            }),
            ..export("a", ExportState::Success, &first_run)
        };
        s.put_export(&placed, first_run.epoch).await.unwrap();
        s.put_export(&export("c", ExportState::Uploading, &first_run), first_run.epoch).await.unwrap();
        let found = s.export_candidates("acme", job_id, &services, 0, upto, 10).await.unwrap();
        assert_eq!(ids(&found), ["c", "e"], "a is done");
        assert_eq!(
            found[0].1.as_ref().map(|e| (e.state, e.upload_id.clone())),
            Some((ExportState::Uploading, Some("up-1".into())))
        );
        assert_eq!(found[1].1, None);
        let other_job = s.export_candidates("acme", Uuid::now_v7(), &services, 0, upto, 10).await.unwrap();
        assert_eq!(ids(&other_job), ["a", "c", "e"], "exports are per job");
        assert_eq!(s.exports_of_recording("acme", "a").await.unwrap(), [placed], "the bucket is kept");

        s.finish_run(first_run.fence(), RunState::Failed, RunProgress::default(), None, None).await.unwrap();
        let second_run = s.start_run(&run_of("acme", job_id, "n")).await.unwrap();
        let mut failed = export("c", ExportState::Failed, &second_run);
        failed.error = Some("AccessDenied".into());
        failed.category = Some("permission".into());
        failed.attempts = 2;
        s.put_export(&failed, second_run.epoch).await.unwrap();
        assert_eq!(s.exports_of_recording("acme", "c").await.unwrap(), [failed.clone()], "with its category");
        let candidate = s.export_candidates("acme", job_id, &services, 0, upto, 10).await.unwrap();
        assert_eq!(candidate[0].1.as_ref().and_then(|e| e.category.as_deref()), Some("permission"));
        let a_run = s.exports_of_recording("acme", "a").await.unwrap()[0].run_id;
        let of_runs = s.exports_of_runs("acme", &[failed.run_id, a_run], 0, 10).await.unwrap();
        let listed: Vec<_> = of_runs.iter().map(|(r, e)| (r.meta.id.as_str(), e.state)).collect();
        assert_eq!(listed, [("a", ExportState::Success), ("c", ExportState::Failed)]);
        assert_eq!(s.exports_of_runs("acme", &[a_run], 0, 10).await.unwrap().len(), 1);
        assert!(s.exports_of_runs("acme", &[], 0, 10).await.unwrap().is_empty());

        s.set_audio_state(second_run.fence(), "acme", "e", AudioState::Removed).await.unwrap();
        assert_eq!(ids(&s.export_candidates("acme", job_id, &services, 0, upto, 10).await.unwrap()), ["c"]);
        assert!(s.export_candidates("acme", job_id, &[], 0, upto, 10).await.unwrap().is_empty());
    }
}

backend_test! {
    #[tokio::test]
    async fn deleting_a_tenant_removes_its_recordings_jobs_runs_and_exports(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        tenant(s, "globex").await;
        for t in ["acme", "globex"] {
            s.insert_recording(t, &recording("r1", "Sales", "jo", 1)).await.unwrap();
            let job_id = Uuid::now_v7();
            s.create_export_job(t, job_id, &job("J", Uuid::now_v7()), None, "a").await.unwrap();
            let run = s.start_run(&run_of(t, job_id, "n")).await.unwrap();
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
                category: None,
                attempts: 1,
                run_id: run.id,
                updated_at: at(1),
                place: None,
            };
            s.put_export(&export, run.epoch).await.unwrap();
        }
        s.delete_tenant("acme", "root").await.unwrap();
        for table in ["recordings", "recording_export_jobs", "recording_export_runs", "recording_exports"] {
            let left = b.count(&format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = 'acme'")).await;
            let kept = b.count(&format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = 'globex'")).await;
            assert_eq!((table, left, kept), (table, 0, 1));
        }
    }
}

backend_test! {
    #[tokio::test]
    async fn a_taken_over_runs_stale_owner_cannot_write_progress_exports_audio_state_or_finish(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        s.insert_recording("acme", &recording("r1", "Sales", "jo", 1)).await.unwrap();
        s.set_recording_audio("acme", "r1", &audio(10)).await.unwrap();
        let job_id = Uuid::now_v7();
        s.create_export_job("acme", job_id, &job("J", Uuid::now_v7()), None, "a").await.unwrap();
        let stale = s.start_run(&run_of("acme", job_id, "node-a")).await.unwrap();
        // node-a stalls; node-b takes the run over and resumes it.
        let taken = s.interrupt_dead_runs(Some("node-a"), Duration::from_secs(3600)).await.unwrap();
        assert_eq!(taken.len(), 1);
        assert!(taken[0].epoch > stale.epoch, "the takeover bumps the epoch");
        let resumed =
            s.start_run(&NewRun { resumed_from: Some(stale.id), ..run_of("acme", job_id, "node-b") }).await.unwrap();
        assert!(resumed.epoch > taken[0].epoch, "the resumed attempt has a higher epoch");

        let fenced = |e: StoreError| matches!(e, StoreError::Fenced(Fence { run_id, epoch }) if run_id == stale.id && epoch == stale.epoch);
        let progress = RunProgress { exported: 1, failed: 0, bytes: 10 };
        let refused = s.run_progress(stale.fence(), progress).await.unwrap_err();
        assert!(fenced(refused), "a stale owner's progress is refused");
        let export = Export {
            tenant_id: "acme".into(),
            recording_id: "r1".into(),
            job_id,
            account_id: Uuid::now_v7(),
            object_key: "k".into(),
            state: ExportState::Uploading,
            upload_id: Some("up-stale".into()),
            etag: None,
            error: None,
            category: None,
            attempts: 1,
            run_id: stale.id,
            updated_at: at(1),
            place: None,
        };
        let refused = s.put_export(&export, stale.epoch).await.unwrap_err();
        assert!(fenced(refused), "a stale owner's export state and upload id are refused");
        let refused = s.set_audio_state(stale.fence(), "acme", "r1", AudioState::Removed).await.unwrap_err();
        assert!(fenced(refused), "a stale owner cannot mark the audio removed");
        let refused =
            s.finish_run(stale.fence(), RunState::Succeeded, progress, Some("k.csv"), None).await.unwrap_err();
        assert!(fenced(refused), "a stale owner's finish is refused");
        let kept = s.get_run("acme", job_id, stale.id).await.unwrap();
        assert_eq!((kept.state, kept.progress), (RunState::Interrupted, RunProgress::default()));
        assert!(s.exports_of_recording("acme", "r1").await.unwrap().is_empty());
        assert_eq!(s.get_recording("acme", "r1").await.unwrap().audio_state, AudioState::Local);

        // The new owner writes with its own fence; an epoch it does not hold is refused too.
        let own = Export { run_id: resumed.id, ..export };
        s.put_export(&own, resumed.epoch).await.unwrap();
        assert!(s.put_export(&own, resumed.epoch + 1).await.is_err(), "a made-up epoch is refused");
        s.run_progress(resumed.fence(), progress).await.unwrap();
        s.finish_run(resumed.fence(), RunState::Succeeded, progress, None, None).await.unwrap();
        let after = s.run_progress(resumed.fence(), progress).await.unwrap_err();
        assert!(matches!(after, StoreError::Fenced(_)), "no write after the finish: {after:?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn heartbeats_expire_by_the_databases_clock(db) {
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        let job_id = Uuid::now_v7();
        s.create_export_job("acme", job_id, &job("J", Uuid::now_v7()), None, "a").await.unwrap();
        let run = s.start_run(&run_of("acme", job_id, "node-a")).await.unwrap();
        // The heartbeat is the database's time: it is older than 1 s only once 1 s passed there.
        let expiry = Duration::from_secs(1);
        assert!(s.interrupt_dead_runs(None, expiry).await.unwrap().is_empty(), "just started");
        tokio::time::sleep(Duration::from_millis(700)).await;
        s.run_progress(run.fence(), RunProgress::default()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(
            s.interrupt_dead_runs(None, expiry).await.unwrap().is_empty(),
            "the beat 0.7 s ago keeps the run alive, though it started 1.4 s ago"
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        let dead = s.interrupt_dead_runs(None, expiry).await.unwrap();
        assert_eq!(dead.iter().map(|r| r.id).collect::<Vec<_>>(), [run.id], "1.3 s without a beat");
        assert_eq!(dead[0].epoch, run.epoch + 1);
        let row_heartbeat = s.get_run("acme", job_id, run.id).await.unwrap().heartbeat_at;
        assert!(row_heartbeat > run.heartbeat_at, "the beat moved the heartbeat");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_transcript_runs_on_one_node_at_a_time_until_its_heartbeat_is_stale_and_is_searchable_when_done(db) {
        use patchbay_store::{TranscriptOutcome, TranscriptState, TranscriptStore};
        let b = Backend::open(db).await;
        let s = &b.store;
        tenant(s, "acme").await;
        s.insert_recording("acme", &recording("r1", "Sales", "jo", 1)).await.unwrap();
        s.insert_recording("acme", &recording("r2", "Sales", "jo", 2)).await.unwrap();
        let minute = Duration::from_secs(60);
        let started = s.start_transcript("acme", "r1", "ops", "node-a", minute).await.unwrap();
        assert_eq!((started.state, started.node.as_str(), started.utterances.clone()), (TranscriptState::Running, "node-a", json!([])));
        let busy = s.start_transcript("acme", "r1", "ops", "node-b", minute).await.unwrap_err();
        assert!(matches!(busy, StoreError::Conflict(Conflict::TranscriptRunning)), "{busy:?}");
        s.beat_transcript("acme", "r1", "node-a").await.unwrap();

        // node-a stops beating: once its heartbeat is older than the expiry, node-b takes over.
        let taken = s.start_transcript("acme", "r1", "ops", "node-b", Duration::ZERO).await.unwrap();
        assert_eq!(taken.node, "node-b");
        assert!(matches!(s.beat_transcript("acme", "r1", "node-a").await, Err(StoreError::NotFound)), "node-a lost it");
        let done = TranscriptOutcome {
            state: TranscriptState::Done,
            account_id: Some(Uuid::now_v7()),
            sentiment_account_id: None,
            utterances: json!([{"text": "I want a refund"}]),
            text: "I want a refund\nfor my Rückerstattung".into(),
            error_category: None,
            error: None,
            sentiment_error: Some("no NLU".into()),
        };
        assert!(matches!(s.finish_transcript("acme", "r1", "node-a", &done).await, Err(StoreError::NotFound)));
        let finished = s.finish_transcript("acme", "r1", "node-b", &done).await.unwrap();
        assert_eq!((finished.state, finished.utterances, finished.sentiment_error), (TranscriptState::Done, json!([{"text": "I want a refund"}]), Some("no NLU".into())));
        assert!(finished.finished_at.is_some());

        let ids = |found: Vec<patchbay_store::Recording>| found.into_iter().map(|r| r.meta.id).collect::<Vec<_>>();
        let search = |q: &str| RecordingQuery { words: patchbay_store::search_words(q), limit: 10, ..Default::default() };
        assert_eq!(ids(s.search_recordings("acme", &search("REFUND want")).await.unwrap()), ["r1"]);
        assert_eq!(ids(s.search_recordings("acme", &search("rückerst")).await.unwrap()), ["r1"], "a prefix, diacritics kept");
        assert!(s.search_recordings("acme", &search("refund never")).await.unwrap().is_empty(), "every word");
        assert!(s.search_recordings("globex", &search("refund")).await.unwrap().is_empty());

        // A finished transcript is started again at once, and its words leave the index.
        let again = s.start_transcript("acme", "r1", "ops", "node-a", minute).await.unwrap();
        assert_eq!((again.state, again.error), (TranscriptState::Running, None));
        assert!(s.search_recordings("acme", &search("refund")).await.unwrap().is_empty());
        assert!(matches!(s.get_transcript("acme", "r2").await, Err(StoreError::NotFound)));
    }
}
