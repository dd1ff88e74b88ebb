//! Recording export end to end against a real S3-compatible server (moto, signatures
//! checked, bucket versioning on so a second upload of a key would show as a second
//! version), read back with boto3: chosen services only, templated keys, the metadata CSV,
//! local copies removed after a verified export, Range playback from the bucket, failed rows
//! retried once the account is fixed, failures kept in the words a tenant's users read.

use patchbay_catalog::keys::aws;
use patchbay_testkit::moto::{S3User, ENABLE_VERSIONING, GET_TEXT};
use patchbay_testkit::{backend_test, random_bytes, Reply, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const RECORDINGS: &str = "/api/v1/tenants/acme/recordings";
const JOBS: &str = "/api/v1/tenants/acme/recording-export-jobs";
const SETTINGS: &str = "/api/v1/recording-export-jobs/settings";
const ACCOUNTS: &str = "/api/v1/tenants/acme/integration-accounts";
const MIB: usize = 1024 * 1024;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn tenant(s: &TestServer) {
    let r = s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme", "enabled_types": ["aws"]}))).await;
    assert_eq!(r.status, 201, "{r:?}");
}

fn aws_account(s3: &S3User, bucket: &str, secret: &str) -> Value {
    json!({"type": "aws", "name": "Recordings", "properties": {aws::USE_PRIVATE_S3_STORAGE: true, aws::URL: s3.endpoint,
        aws::ACCESS_KEY_ID: s3.key, aws::SECRET_KEY: secret, aws::S3_BUCKET: bucket}})
}

/// Sends a recording's metadata and audio as the platform would.
async fn send(s: &TestServer, token: &str, id: &str, service: &str, agent: &str, audio: &[u8]) {
    let meta = json!({"global_interaction_id": format!("gi-{id}"), "call_started_at": "2024-05-01T09:30:15Z",
        "agent_login": agent, "agent_first_name": "Jo", "agent_last_name": "Smith, Jr.",
        "customer_phone": "+1 555 0100", "direction": "inbound", "service": service, "disposition": "sale"});
    let r = s.call_as(token, Method::PUT, &format!("{RECORDINGS}/{id}"), Some(meta)).await;
    assert_eq!(r.status, 201, "{r:?}");
    let request = s.request(Method::PUT, &format!("{RECORDINGS}/{id}/audio"), Some(token));
    let r = Reply::read(request.header("content-type", "audio/wav").body(audio.to_vec()).send().await.unwrap()).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["audio"]["sha256"], sha256(audio));
}

/// Runs the job now and waits (at most 60 s) for the run to end.
async fn run(s: &TestServer, job: &str) -> Value {
    let started = s.call(Method::POST, &format!("{job}/run"), None).await;
    assert_eq!(started.status, 202, "{started:?}");
    let path = format!("{job}/runs/{}", started.body["id"].as_str().unwrap());
    for _ in 0..1200 {
        let run = s.call(Method::GET, &path, None).await;
        if run.body["state"] != "running" {
            return run.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the run did not end within 60 s");
}

async fn play(s: &TestServer, id: &str, range: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    play_with(s, id, range.map(|r| ("range", r)).as_slice()).await
}

/// Plays a recording back with these request headers: status, `Content-Range` and body.
async fn play_with(s: &TestServer, id: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, Vec<u8>) {
    let mut request = s.request(Method::GET, &format!("{RECORDINGS}/{id}/audio"), Some(&s.admin_token));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_range = response.headers().get("content-range").map(|v| v.to_str().unwrap().to_owned());
    (status, content_range, response.bytes().await.unwrap().to_vec())
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        rows.push(fields);
    }
    rows
}

backend_test! {
    #[tokio::test]
    async fn a_job_exports_its_services_under_templated_keys_with_a_metadata_csv_and_plays_back_from_the_bucket(db) {
        let s3 = S3User::start("calls");
        assert_eq!(s3.boto3(ENABLE_VERSIONING, &[]), "Enabled");
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let producer = s.token("event_producer", Some("acme")).await;
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        let r = s.call(Method::POST, ACCOUNTS, Some(aws_account(&s3, "calls", &s3.secret))).await;
        assert_eq!(r.status, 201, "{r:?}");
        let account = r.body["id"].as_str().unwrap().to_owned();

        let small = random_bytes(300 * 1024, 1);
        let big = random_bytes(12 * MIB, 2);
        let other = random_bytes(1000, 3);
        send(&s, &producer, "r1", "Sales EU", "jo", &small).await;
        send(&s, &producer, "r2", "Support", "al", &other).await;
        send(&s, &producer, "r3", "Sales EU", "j smith/../x", &big).await;
        let denied = s.call_as(&viewer, Method::PUT, &format!("{RECORDINGS}/r9"), Some(json!({}))).await;
        assert_eq!(denied.status, 403, "a viewer sends no recordings");

        let job = json!({"name": "Sales to S3", "account_id": account, "services": ["Sales EU"],
            "key_prefix": "acme/", "filename_template": "$(service)/$(callDate)/$(callTime)_$(agent)",
            "delete_local_after_export": true, "interval_seconds": 3600});
        let r = s.call(Method::POST, JOBS, Some(job)).await;
        assert_eq!(r.status, 201, "{r:?}");
        let job = format!("{JOBS}/{}", r.body["id"].as_str().unwrap());

        let finished = run(&s, &job).await;
        assert_eq!(finished["state"], "succeeded", "{finished}");
        assert_eq!((finished["total"].as_i64(), finished["exported"].as_i64()), (Some(2), Some(2)), "{finished}");
        assert_eq!(finished["failed"], 0);
        assert_eq!(finished["bytes"].as_u64(), Some((small.len() + big.len()) as u64));

        let k1 = "acme/Sales_EU/2024-05-01/09-30-15_jo_r1.wav";
        let k3 = "acme/Sales_EU/2024-05-01/09-30-15_j_smith_.._x_r3.wav";
        let seen = s3.read_back(&[k1, k3]);
        for (key, audio) in [(k1, &small), (k3, &big)] {
            assert_eq!(seen[key]["sha256"], sha256(audio), "{key}: {seen}");
            assert_eq!(seen[key]["versions"], 1, "{key} uploaded once");
            assert_eq!(seen[key]["content_type"], "audio/wav");
        }
        assert_eq!(seen["open_uploads"], 0);

        let csv_key = finished["metadata_key"].as_str().unwrap();
        assert!(csv_key.starts_with("acme/patchbay-export_") && csv_key.ends_with(".csv"), "{csv_key}");
        let csv = s3.boto3(GET_TEXT, &[csv_key]);
        let rows = csv_rows(csv.as_str().unwrap());
        assert_eq!(rows[0][..4], ["status", "object_key", "error", "recording_id"]);
        let body: Vec<(&str, &str, &str)> =
            rows[1..].iter().map(|r| (r[0].as_str(), r[1].as_str(), r[3].as_str())).collect();
        assert_eq!(body, [("success", k1, "r1"), ("success", k3, "r3")], "Support's r2 is not exported");
        assert_eq!(rows[1][8], "Smith, Jr.", "quoted fields survive");
        let local_csv =
            s.call(Method::GET, &format!("{job}/runs/{}/metadata.csv", finished["id"].as_str().unwrap()), None).await;
        assert_eq!(local_csv.text, csv.as_str().unwrap(), "the API serves the same file");

        let data = s.data_dir.path().join("data/recordings/acme");
        assert!(!data.join("r1.audio").exists() && !data.join("r3.audio").exists(), "exported copies are removed");
        assert!(data.join("r2.audio").exists(), "a recording no job exports stays");
        let r = s.call(Method::GET, &format!("{RECORDINGS}/r3"), None).await;
        assert_eq!(r.body["audio"]["state"], "removed", "{r:?}");
        assert_eq!(r.body["exports"][0]["object_key"], k3);
        assert_eq!(r.body["exports"][0]["state"], "success");

        let (status, range, body) = play(&s, "r3", Some("bytes=8388600-8388709")).await;
        assert_eq!((status, range.as_deref()), (206, Some(format!("bytes 8388600-8388709/{}", big.len()).as_str())));
        assert_eq!(body, big[8_388_600..=8_388_709], "a range across the upload's part boundary, from the bucket");
        let (status, _, body) = play(&s, "r1", Some("bytes=-100")).await;
        assert_eq!((status, &body[..]), (206, &small[small.len() - 100..]));
        let (status, _, body) = play(&s, "r1", None).await;
        assert_eq!((status, body == small), (200, true));
        let (status, _, body) = play(&s, "r2", Some("bytes=10-19")).await;
        assert_eq!((status, &body[..]), (206, &other[10..20]), "local playback");
        let (status, range, _) = play(&s, "r2", Some("bytes=5000-")).await;
        assert_eq!((status, range.as_deref()), (416, Some("bytes */1000")));

        let again = run(&s, &job).await;
        assert_eq!((again["state"].as_str(), again["total"].as_i64()), (Some("succeeded"), Some(0)), "{again}");
        assert_eq!(s3.read_back(&[k1])[k1]["versions"], 1, "nothing is uploaded twice");

        let changed = json!({"global_interaction_id": "gi-r1", "call_started_at": "2024-05-01T09:30:15Z",
            "agent_login": "someone-else", "direction": "inbound", "service": "Sales EU"});
        let r = s.call_as(&producer, Method::PUT, &format!("{RECORDINGS}/r1"), Some(changed)).await;
        assert_eq!(r.status, 409, "exported metadata is fixed: {r:?}");
        let request = s.request(Method::PUT, &format!("{RECORDINGS}/r1/audio"), Some(&producer));
        let r =
            Reply::read(request.header("content-type", "audio/wav").body(vec![1u8; 10]).send().await.unwrap()).await;
        assert_eq!(r.status, 409, "exported audio is fixed: {r:?}");

        let found = s.call(Method::GET, &format!("{RECORDINGS}?service=Sales%20EU&agent=jo"), None).await;
        let ids: Vec<&str> =
            found.body["items"].as_array().unwrap().iter().map(|r| r["recording_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["r1"], "{found:?}");
        let found = s.call(Method::GET, &format!("{RECORDINGS}?phone=%2B1%20555%200100&limit=2"), None).await;
        assert_eq!(found.body["items"].as_array().unwrap().len(), 2);
        let cursor = found.body["next_cursor"].as_str().unwrap();
        let rest =
            s.call(Method::GET, &format!("{RECORDINGS}?phone=%2B1%20555%200100&limit=2&cursor={cursor}"), None).await;
        assert_eq!(rest.body["items"].as_array().unwrap().len(), 1, "{rest:?}");
        let none = s.call(Method::GET, &format!("{RECORDINGS}?from=2024-05-02T00:00:00Z"), None).await;
        assert_eq!(none.body["items"], json!([]));
    }
}

#[tokio::test]
async fn wrong_credentials_and_a_missing_bucket_fail_rows_and_the_next_run_exports_them_once_fixed() {
    let db = TestDatabase::sqlite().await;
    let s3 = S3User::start("calls");
    let s = TestServer::start(&db).await;
    tenant(&s).await;
    let wrong = "WrongSecretSentinel0123456789";
    let r = s.call(Method::POST, ACCOUNTS, Some(aws_account(&s3, "calls", wrong))).await;
    let account = format!("{ACCOUNTS}/{}", r.body["id"].as_str().unwrap());
    let audio = random_bytes(2048, 9);
    for id in ["a1", "a2", "a3"] {
        send(&s, &s.admin_token, id, "Sales", "jo", &audio).await;
    }
    let job = json!({"name": "Nightly", "account_id": r.body["id"], "services": ["Sales"]});
    let r = s.call(Method::POST, JOBS, Some(job)).await;
    let job = format!("{JOBS}/{}", r.body["id"].as_str().unwrap());

    let failed = run(&s, &job).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!((failed["exported"].as_i64(), failed["failed"].as_i64()), (Some(0), Some(3)), "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("3 recordings failed") && !error.contains(wrong), "{error}");
    let csv = s.call(Method::GET, &format!("{job}/runs/{}/metadata.csv", failed["id"].as_str().unwrap()), None).await;
    let rows = csv_rows(&csv.text);
    assert_eq!(rows.len(), 4, "{}", csv.text);
    assert!(rows[1..].iter().all(|r| r[0] == "failed" && !r[2].is_empty()), "{}", csv.text);
    assert!(!csv.text.contains(wrong));
    let r = s.call(Method::GET, &format!("{RECORDINGS}/a1"), None).await;
    assert_eq!(r.body["exports"][0]["state"], "failed", "{r:?}");
    assert_eq!(r.body["exports"][0]["error_category"], "invalid_credentials", "what to check: {r:?}");
    assert_eq!(r.body["exports"][0]["bucket"], Value::Null, "not uploaded anywhere");
    assert_eq!(r.body["audio"]["state"], "local");

    let fix = |bucket: &str, secret: &str| json!({"type": "aws", "name": "Recordings", "properties": aws_account(&s3, bucket, secret)["properties"]});
    let r = s.call(Method::PUT, &account, Some(fix("no-such-bucket", &s3.secret))).await;
    assert_eq!(r.status, 200, "{r:?}");
    let missing = run(&s, &job).await;
    assert_eq!((missing["state"].as_str(), missing["failed"].as_i64()), (Some("failed"), Some(3)), "{missing}");
    assert!(missing["error"].as_str().unwrap().contains("no-such-bucket"), "{missing}");
    let r = s.call(Method::GET, &format!("{RECORDINGS}/a2"), None).await;
    assert_eq!(r.body["exports"][0]["attempts"], 2, "{r:?}");
    assert_eq!(r.body["exports"][0]["error_category"], "not_found", "{r:?}");

    let r = s.call(Method::PUT, &account, Some(fix("calls", &s3.secret))).await;
    assert_eq!(r.status, 200, "{r:?}");
    let fixed = run(&s, &job).await;
    assert_eq!(fixed["state"], "succeeded", "{fixed}");
    assert_eq!((fixed["total"].as_i64(), fixed["exported"].as_i64()), (Some(3), Some(3)), "{fixed}");
    let keys: Vec<String> =
        ["a1", "a2", "a3"].iter().map(|id| format!("2024-05-01/Sales/09-30-15_jo_{id}.wav")).collect();
    let seen = s3.read_back(&keys.iter().map(String::as_str).collect::<Vec<_>>());
    for key in &keys {
        assert_eq!(seen[key]["sha256"], sha256(&audio), "{seen}");
    }
    let r = s.call(Method::GET, &format!("{RECORDINGS}/a1"), None).await;
    let export = &r.body["exports"][0];
    assert_eq!(
        (&export["bucket"], &export["error"], &export["error_category"]),
        (&json!("calls"), &Value::Null, &Value::Null)
    );
    let metrics = s.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    for line in [
        "patchbay_recording_export_files_total{outcome=\"success\"} 3",
        "patchbay_recording_export_files_total{outcome=\"failed\"} 6",
        "patchbay_recording_export_runs_total{outcome=\"failed\"} 2",
        "patchbay_recording_export_runs_total{outcome=\"succeeded\"} 1",
        "patchbay_recording_export_runs_active 0",
        "patchbay_recordings_received_total{outcome=\"stored\"} 3",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn an_export_refused_by_the_egress_policy_is_kept_in_the_tenants_words() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start_with(&db, |settings| settings.egress = patchbay_server::EgressPolicy::default()).await;
    tenant(&s).await;
    let blocked = json!({"type": "aws", "name": "Recordings", "properties": {aws::USE_PRIVATE_S3_STORAGE: true,
        aws::URL: "http://127.0.0.1:9", aws::ACCESS_KEY_ID: "AKIAEXAMPLE", aws::SECRET_KEY: "sk", aws::S3_BUCKET: "calls"}});
    let account = s.call(Method::POST, ACCOUNTS, Some(blocked)).await;
    send(&s, &s.admin_token, "b1", "Sales", "jo", &random_bytes(1024, 3)).await;
    let job = json!({"name": "Nightly", "account_id": account.body["id"], "services": ["Sales"]});
    let job = format!("{JOBS}/{}", s.call(Method::POST, JOBS, Some(job)).await.body["id"].as_str().unwrap());
    let failed = run(&s, &job).await;
    assert_eq!(failed["state"], "failed", "{failed}");

    // The tenant's users read the run, the recording's export and the metadata file later:
    // they are told to ask their provider, whoever looks (the service provider here).
    let recording = s.call(Method::GET, &format!("{RECORDINGS}/b1"), None).await;
    let csv = s.call(Method::GET, &format!("{job}/runs/{}/metadata.csv", failed["id"].as_str().unwrap()), None).await;
    for (what, text) in [
        ("the run", failed["error"].as_str().unwrap()),
        ("the export", recording.body["exports"][0]["error"].as_str().unwrap()),
        ("the metadata file", csv.text.as_str()),
    ] {
        assert!(text.contains("your service provider blocks"), "{what}: {text}");
        assert!(!text.contains("--egress-allow"), "{what}: {text}");
    }
    s.stop().await;
}

#[tokio::test]
async fn spooled_recordings_are_taken_in_and_bad_ones_set_aside_with_the_reason() {
    let db = TestDatabase::sqlite().await;
    let spool = tempfile::tempdir().unwrap();
    let dir = spool.path().join("acme");
    std::fs::create_dir(&dir).unwrap();
    let s = TestServer::start_with(&db, |settings| settings.recordings_spool = Some(spool.path().to_owned())).await;
    tenant(&s).await;
    let audio = random_bytes(5000, 4);
    std::fs::write(dir.join("sp1.mp3"), &audio).unwrap();
    let meta = json!({"global_interaction_id": "gi-sp1", "call_started_at": "2024-05-01T09:30:00Z",
        "agent_login": "jo", "direction": "outbound", "service": "Sales"});
    std::fs::write(dir.join("sp1.json"), meta.to_string()).unwrap();
    std::fs::write(dir.join("sp2.wav"), b"RIFF").unwrap();
    std::fs::write(dir.join("sp2.json"), json!({"agent_login": "jo"}).to_string()).unwrap();
    std::fs::write(dir.join("sp3.wav"), b"RIFF").unwrap();

    let mut found = s.call(Method::GET, &format!("{RECORDINGS}/sp1"), None).await;
    for _ in 0..200 {
        if found.body["audio"]["state"] == "local" && dir.join("rejected/sp2.error.txt").exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        found = s.call(Method::GET, &format!("{RECORDINGS}/sp1"), None).await;
    }
    assert_eq!(found.status, 200, "{found:?}");
    assert_eq!(found.body["audio"]["content_type"], "audio/mpeg");
    assert_eq!(found.body["audio"]["sha256"], sha256(&audio));
    assert_eq!(found.body["direction"], "outbound");
    let (status, _, body) = play(&s, "sp1", None).await;
    assert_eq!((status, body == audio), (200, true));
    assert!(!dir.join("sp1.mp3").exists() && !dir.join("sp1.json").exists(), "taken-in files leave the spool");
    let why = std::fs::read_to_string(dir.join("rejected/sp2.error.txt")).unwrap();
    assert!(why.contains("service (required)") && why.contains("call_started_at (required)"), "{why}");
    assert!(dir.join("rejected/sp2.wav").exists() && dir.join("rejected/sp2.json").exists());
    assert!(dir.join("sp3.wav").exists(), "audio without its metadata waits");
    assert_eq!(s.call(Method::GET, &format!("{RECORDINGS}/sp3"), None).await.status, 404);
}

#[tokio::test]
async fn due_jobs_run_on_schedule_and_only_inside_their_window() {
    use patchbay_store::RecordingStore;

    let db = TestDatabase::sqlite().await;
    let s3 = S3User::start("calls");
    let s = TestServer::start(&db).await;
    tenant(&s).await;
    let r = s.call(Method::POST, ACCOUNTS, Some(aws_account(&s3, "calls", &s3.secret))).await;
    let account = r.body["id"].as_str().unwrap().to_owned();
    send(&s, &s.admin_token, "s1", "Sales", "jo", &random_bytes(100, 8)).await;
    let now = chrono::Utc::now();
    let hhmm = |hours: i64| (now + chrono::Duration::hours(hours)).format("%H:%M").to_string();
    let mut ids = Vec::new();
    for (name, window) in [("Open", Value::Null), ("Closed", json!({"start": hhmm(2), "end": hhmm(3)}))] {
        let job = json!({"name": name, "account_id": account, "services": ["Sales"], "window": window});
        let r = s.call(Method::POST, JOBS, Some(job)).await;
        assert_eq!(r.status, 201, "{r:?}");
        let next = chrono::DateTime::parse_from_rfc3339(r.body["next_run_at"].as_str().unwrap()).unwrap();
        assert!(next > now + chrono::Duration::minutes(59), "a new job first runs after its interval or window: {r:?}");
        ids.push(r.body["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    }
    // Make both due, behind the server's back, as time passing would.
    let store = patchbay_store::SqlStore::connect(&db.url).await.unwrap();
    for id in &ids {
        store.set_next_run(*id, Some(now - chrono::Duration::seconds(1))).await.unwrap();
    }
    let open = format!("{JOBS}/{}", ids[0]);
    let mut runs = Value::Null;
    for _ in 0..200 {
        runs = s.call(Method::GET, &format!("{open}/runs"), None).await.body;
        if runs["items"][0]["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(runs["items"][0]["reason"], "schedule", "{runs}");
    assert_eq!(runs["items"][0]["state"], "succeeded", "{runs}");
    let job = s.call(Method::GET, &open, None).await.body;
    let next = chrono::DateTime::parse_from_rfc3339(job["next_run_at"].as_str().unwrap()).unwrap();
    assert!(next > now + chrono::Duration::minutes(59), "the next run is an interval later: {job}");

    let closed = format!("{JOBS}/{}", ids[1]);
    let job = s.call(Method::GET, &closed, None).await.body;
    let next = chrono::DateTime::parse_from_rfc3339(job["next_run_at"].as_str().unwrap()).unwrap();
    assert!(next > now + chrono::Duration::minutes(100), "outside its window a due job waits for it: {job}");
    assert_eq!(s.call(Method::GET, &format!("{closed}/runs"), None).await.body["items"], json!([]));
}

backend_test! {
    #[tokio::test]
    async fn deleting_a_tenant_removes_its_audio_spool_export_state_and_tokens_and_hides_its_audit(db) {
        let s3 = S3User::start("gone");
        let spool = tempfile::tempdir().unwrap();
        let s = TestServer::start_with(&db, |settings| settings.recordings_spool = Some(spool.path().to_owned())).await;
        tenant(&s).await;
        let producer = s.token("event_producer", Some("acme")).await;
        let admin = s.token("tenant_admin", Some("acme")).await;
        let r = s.call(Method::POST, ACCOUNTS, Some(aws_account(&s3, "gone", &s3.secret))).await;
        let job = json!({"name": "All", "account_id": r.body["id"], "services": ["Sales"],
            "filename_template": "$(service)", "delete_local_after_export": false, "interval_seconds": 3600});
        let r = s.call(Method::POST, JOBS, Some(job)).await;
        let job = format!("{JOBS}/{}", r.body["id"].as_str().unwrap());
        send(&s, &producer, "r1", "Sales", "jo", &random_bytes(1000, 1)).await;
        let finished = run(&s, &job).await;
        assert_eq!(finished["state"], "succeeded", "{finished}");
        let data = s.data_dir.path().join("data");
        let csv = data.join(format!("exports/{}.csv", finished["id"].as_str().unwrap()));
        assert!(csv.is_file(), "the run kept its metadata file");
        let audio = data.join("recordings/acme");
        assert!(audio.join("r1.audio").is_file());
        let rejected = spool.path().join("acme/rejected");
        std::fs::create_dir_all(&rejected).unwrap();
        std::fs::write(rejected.join("r9.error.txt"), "no audio").unwrap();
        std::fs::create_dir_all(spool.path().join("globex")).unwrap();
        let sessions = s.request(Method::POST, "/ui/session", None).json(&json!({"token": admin})).send().await;
        assert_eq!(sessions.unwrap().status(), 201);

        assert_eq!(s.call(Method::DELETE, "/api/v1/tenants/acme", None).await.status, 204);
        assert!(!audio.exists(), "the tenant's audio is gone");
        assert!(!csv.exists(), "the runs' metadata files are gone");
        assert!(!spool.path().join("acme").exists(), "the tenant's spool folder is gone");
        assert!(spool.path().join("globex").exists(), "other tenants' spool folders stay");
        let denied = s.call_as(&admin, Method::GET, "/api/v1/tenants/acme", None).await;
        assert_eq!(denied.status, 401, "its tokens are gone");

        // A new tenant with the same id starts with no recordings, jobs or audit trail.
        tenant(&s).await;
        let trail = s.call(Method::GET, "/api/v1/tenants/acme/audit", None).await;
        let actions: Vec<&str> =
            trail.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["tenant.create"], "the old trail is not shown: {}", trail.text);
        assert_eq!(s.call(Method::GET, RECORDINGS, None).await.body["items"], json!([]));
        assert_eq!(s.call(Method::GET, JOBS, None).await.body["items"], json!([]));
        assert_eq!(s.call_as(&admin, Method::GET, RECORDINGS, None).await.status, 401);
        s.stop().await;
    }
}

#[tokio::test]
async fn playback_reads_from_the_bucket_of_the_export_after_the_accounts_bucket_changes() {
    let db = TestDatabase::sqlite().await;
    let s3 = S3User::start("calls");
    let s = TestServer::start(&db).await;
    tenant(&s).await;
    let r = s.call(Method::POST, ACCOUNTS, Some(aws_account(&s3, "calls", &s3.secret))).await;
    let account = format!("{ACCOUNTS}/{}", r.body["id"].as_str().unwrap());
    let audio = random_bytes(3000, 21);
    send(&s, &s.admin_token, "m1", "Sales", "jo", &audio).await;
    let job = json!({"name": "Move", "account_id": r.body["id"], "services": ["Sales"],
        "delete_local_after_export": true});
    let r = s.call(Method::POST, JOBS, Some(job)).await;
    let job = format!("{JOBS}/{}", r.body["id"].as_str().unwrap());
    assert_eq!(run(&s, &job).await["state"], "succeeded");
    let r = s.call(Method::GET, &format!("{RECORDINGS}/m1"), None).await;
    assert_eq!(r.body["audio"]["state"], "removed", "{r:?}");

    // Later exports go to another bucket; the earlier one stays where it was uploaded.
    let moved = json!({"type": "aws", "name": "Recordings", "properties": aws_account(&s3, "archive", &s3.secret)["properties"]});
    let r = s.call(Method::PUT, &account, Some(moved)).await;
    assert_eq!(r.status, 200, "{r:?}");
    let (status, _, body) = play(&s, "m1", None).await;
    assert_eq!((status, sha256(&body)), (200, sha256(&audio)), "played back from `calls`");
    let (status, range, body) = play(&s, "m1", Some("bytes=10-19")).await;
    assert_eq!((status, range.as_deref(), &body[..]), (206, Some("bytes 10-19/3000"), &audio[10..20]));
}

backend_test! {
    #[tokio::test]
    async fn if_range_with_a_stale_or_weak_validator_or_a_date_gets_the_whole_audio(db) {
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let audio = random_bytes(1000, 31);
        send(&s, &s.admin_token, "ir1", "Sales", "jo", &audio).await;
        let etag = format!("\"{}\"", sha256(&audio));
        let (status, range, body) = play_with(&s, "ir1", &[("range", "bytes=10-19"), ("if-range", &etag)]).await;
        assert_eq!(
            (status, range.as_deref(), &body[..]),
            (206, Some("bytes 10-19/1000"), &audio[10..20]),
            "current ETag"
        );
        let stale = format!("\"{}\"", sha256(b"older audio"));
        let weak = format!("W/{etag}");
        for validator in [stale.as_str(), weak.as_str(), "Wed, 01 May 2024 09:30:15 GMT", "not a validator"] {
            let (status, range, body) =
                play_with(&s, "ir1", &[("range", "bytes=10-19"), ("if-range", validator)]).await;
            assert_eq!((status, range, body == audio), (200, None, true), "If-Range {validator} gets the whole audio");
        }
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn malformed_ranges_are_ignored_and_ranges_beyond_the_end_get_416(db) {
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let audio = random_bytes(1000, 32);
        send(&s, &s.admin_token, "mr1", "Sales", "jo", &audio).await;
        for malformed in
            ["bytes=abc", "bytes=5-3", "bytes=+5-10", "bytes=0x10-20", "items=0-5", "bytes 0-5", "bytes=", "bytes=-"]
        {
            let (status, range, body) = play(&s, "mr1", Some(malformed)).await;
            assert_eq!((status, range, body == audio), (200, None, true), "Range {malformed} is ignored");
        }
        let (status, range, body) = play(&s, "mr1", Some("Bytes=0-4")).await;
        assert_eq!(
            (status, range.as_deref(), &body[..]),
            (206, Some("bytes 0-4/1000"), &audio[..5]),
            "the unit ignores case"
        );
        let (status, range, body) = play(&s, "mr1", Some("bytes=0-1,2-3")).await;
        assert_eq!((status, range, body == audio), (200, None, true), "several ranges get the whole audio");
        let (status, range, body) = play(&s, "mr1", Some("bytes=5000-6000, 990-")).await;
        assert_eq!(
            (status, range.as_deref(), &body[..]),
            (206, Some("bytes 990-999/1000"), &audio[990..]),
            "the one satisfiable range"
        );
        for beyond in [
            "bytes=1000-",
            "bytes=18446744073709551615-",
            "bytes=99999999999999999999999-",
            "bytes=5000-6000,7000-",
            "bytes=-0",
        ] {
            let (status, range, _) = play(&s, "mr1", Some(beyond)).await;
            assert_eq!((status, range.as_deref()), (416, Some("bytes */1000")), "Range {beyond}");
        }
        s.stop().await;
    }
}

/// Metadata breaking every field rule at once: control, bidi and zero-width characters, a
/// direction the product does not use, a phone number of no known shape, a call time before
/// any recording could exist.
fn bad_meta() -> (Value, Vec<(&'static str, &'static str)>) {
    let meta = json!({"global_interaction_id": "gi-\u{1b}[2J", "call_started_at": "1970-01-01T00:00:00Z",
        "agent_login": "jo\u{202e}nimda", "agent_first_name": "J\u{200b}o", "agent_last_name": "Smith\nX",
        "customer_phone": "call me", "direction": "sideways", "service": "Sales\u{0}", "disposition": "ok\u{7f}"});
    let errors = vec![
        ("global_interaction_id", "no_control_characters"),
        ("agent_login", "no_control_characters"),
        ("agent_first_name", "no_control_characters"),
        ("agent_last_name", "no_control_characters"),
        ("customer_phone", "phone"),
        ("direction", "enum"),
        ("service", "no_control_characters"),
        ("disposition", "no_control_characters"),
        ("call_started_at", "range"),
    ];
    (meta, errors)
}

backend_test! {
    #[tokio::test]
    async fn recording_metadata_breaking_field_rules_is_refused_naming_each_and_nothing_is_stored(db) {
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let (meta, errors) = bad_meta();
        let r = s.call(Method::PUT, &format!("{RECORDINGS}/bad1"), Some(meta)).await;
        r.assert_problem(422, &errors, "bad metadata");
        assert_eq!(s.call(Method::GET, &format!("{RECORDINGS}/bad1"), None).await.status, 404, "nothing stored");
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn spooled_metadata_breaking_field_rules_is_rejected_with_each_reason_and_nothing_is_stored(db) {
        let spool = tempfile::tempdir().unwrap();
        let dir = spool.path().join("acme");
        std::fs::create_dir(&dir).unwrap();
        let s = TestServer::start_with(&db, |settings| settings.recordings_spool = Some(spool.path().to_owned())).await;
        tenant(&s).await;
        let (meta, errors) = bad_meta();
        std::fs::write(dir.join("bad2.wav"), b"RIFF").unwrap();
        std::fs::write(dir.join("bad2.json"), meta.to_string()).unwrap();
        let why = dir.join("rejected/bad2.error.txt");
        for _ in 0..200 {
            if why.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let why = std::fs::read_to_string(&why).unwrap_or_else(|e| panic!("no error file: {e}"));
        for (field, rule) in errors {
            assert!(why.contains(&format!("{field} ({rule})")), "{field} ({rule}) in\n{why}");
        }
        assert!(!why.contains('\u{1b}') && !why.contains('\u{202e}'), "the reasons echo no control characters");
        assert_eq!(s.call(Method::GET, &format!("{RECORDINGS}/bad2"), None).await.status, 404, "nothing stored");
        s.stop().await;
    }
}

backend_test! {
    /// Every token may read how the job settings are described: the catalog's fields, their JSON
    /// Schema and the template tokens, the ones the job checks use.
    #[tokio::test]
    async fn the_export_job_settings_description_is_the_catalogs_for_every_token(db) {
        let described = patchbay_catalog::export_job::export_job_settings();
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let anonymous = Reply::read(s.request(Method::GET, SETTINGS, None).send().await.unwrap()).await;
        assert_eq!(anonymous.status, 401, "a token is needed");
        for role in ["tenant_admin", "tenant_viewer", "event_producer"] {
            let token = s.token(role, Some("acme")).await;
            let r = s.call_as(&token, Method::GET, SETTINGS, None).await;
            assert_eq!(r.status, 200, "{role}: {r:?}");
            assert_eq!(r.body["fields"], serde_json::to_value(&described.fields).unwrap());
            assert_eq!(r.body["json_schema"], described.json_schema());
            let tokens: Vec<&str> =
                r.body["tokens"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
            assert_eq!(tokens, described.tokens.iter().map(|t| t.name).collect::<Vec<_>>());
        }
        s.stop().await;
    }
}

backend_test! {
    /// Settings outside the described ranges are refused as before the catalog described them:
    /// 422, each field with its rule and message, and no job is made.
    #[tokio::test]
    async fn export_job_settings_outside_the_described_ranges_are_refused_as_before(db) {
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let aws = json!({"type": "aws", "name": "Recordings", "properties": {aws::USE_PRIVATE_S3_STORAGE: true,
            aws::URL: "http://127.0.0.1:9/", aws::ACCESS_KEY_ID: "AKIAEXAMPLE", aws::SECRET_KEY: "s3cr3t",
            aws::S3_BUCKET: "acme-rec"}});
        let account = s.call(Method::POST, ACCOUNTS, Some(aws)).await;
        assert_eq!(account.status, 201, "{account:?}");
        let job = |extra: Value| {
            let mut job = json!({"name": "Nightly", "account_id": account.body["id"], "services": ["Sales"]});
            job.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            job
        };
        let r = s.call(Method::POST, JOBS, Some(job(json!({"concurrency": 33})))).await;
        r.assert_problem(422, &[("concurrency", "range")], "concurrency 33");
        assert_eq!(r.body["errors"][0]["message"], "concurrency must be a whole number from 1 to 32");
        let r = s
            .call(
                Method::POST,
                JOBS,
                Some(job(json!({"concurrency": 0, "interval_seconds": 59, "key_prefix": 7,
                "bandwidth_limit_bytes_per_second": 1024, "delete_local_after_export": "yes"}))),
            )
            .await;
        r.assert_problem(
            422,
            &[
                ("key_prefix", "type"),
                ("interval_seconds", "range"),
                ("concurrency", "range"),
                ("bandwidth_limit_bytes_per_second", "range"),
                ("delete_local_after_export", "type"),
            ],
            "every field wrong",
        );
        let messages: Vec<&str> =
            r.body["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert_eq!(
            messages[..3],
            [
                "key_prefix must be a string",
                "interval_seconds must be a whole number from 60 to 604800",
                "concurrency must be a whole number from 1 to 32",
            ]
        );
        assert_eq!(messages[4], "delete_local_after_export must be true or false");
        let listed = s.call(Method::GET, JOBS, None).await;
        assert_eq!(listed.body["items"], json!([]), "nothing made");
        let r = s.call(Method::POST, JOBS, Some(job(json!({"concurrency": 32, "interval_seconds": 60})))).await;
        assert_eq!(r.status, 201, "the bounds themselves are accepted: {r:?}");
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn search_by_direction_finds_only_calls_of_that_direction_and_refuses_another_value_naming_it(db) {
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        for (id, direction) in [("d-in", "inbound"), ("d-out", "outbound"), ("d-int", "internal")] {
            let meta = json!({"global_interaction_id": format!("gi-{id}"), "call_started_at": "2024-05-01T09:30:15Z",
                "agent_login": "jo", "direction": direction, "service": "Sales"});
            let r = s.call(Method::PUT, &format!("{RECORDINGS}/{id}"), Some(meta)).await;
            assert_eq!(r.status, 201, "{r:?}");
        }
        let ids = |r: &Reply| -> Vec<String> {
            r.body["items"].as_array().unwrap().iter().map(|i| i["recording_id"].as_str().unwrap().to_owned()).collect()
        };
        for (direction, id) in [("inbound", "d-in"), ("outbound", "d-out"), ("internal", "d-int")] {
            let found = s.call(Method::GET, &format!("{RECORDINGS}?direction={direction}"), None).await;
            assert_eq!((found.status, ids(&found)), (200, vec![id.to_owned()]), "{direction}: {found:?}");
        }
        let both = s.call(Method::GET, &format!("{RECORDINGS}?direction=outbound&service=Sales&agent=jo"), None).await;
        assert_eq!(ids(&both), vec!["d-out".to_owned()], "with the other filters: {both:?}");
        let all = s.call(Method::GET, &format!("{RECORDINGS}?direction="), None).await;
        assert_eq!(ids(&all).len(), 3, "an empty direction is no filter: {all:?}");
        let refused = s.call(Method::GET, &format!("{RECORDINGS}?direction=sideways"), None).await;
        assert_eq!(refused.status, 422, "{refused:?}");
        assert_eq!(refused.body["errors"][0]["field"], "direction", "{refused:?}");
        assert_eq!(refused.body["errors"][0]["rule"], "enum", "{refused:?}");
        let message = refused.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("inbound, outbound, internal"), "the values are named: {message}");
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn a_search_pages_through_every_match_oldest_first_and_refuses_a_cursor_of_the_other_order(db) {
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        // o-2 and o-3 started at the same time: they come in the order they arrived.
        for (id, at) in [("o-2", "09:31"), ("o-4", "09:40"), ("o-1", "09:30"), ("o-3", "09:31")] {
            let meta = json!({"global_interaction_id": format!("gi-{id}"), "call_started_at": format!("2024-05-01T{at}:00Z"),
                "agent_login": "jo", "direction": "inbound", "service": "Sales"});
            let r = s.call(Method::PUT, &format!("{RECORDINGS}/{id}"), Some(meta)).await;
            assert_eq!(r.status, 201, "{r:?}");
        }
        let ids = |r: &Reply| -> Vec<String> {
            r.body["items"].as_array().unwrap().iter().map(|i| i["recording_id"].as_str().unwrap().to_owned()).collect()
        };
        let pages = |order: &'static str| {
            let s = &s;
            async move {
                let (mut seen, mut cursor) = (Vec::new(), None::<String>);
                for _ in 0..4 {
                    let after = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
                    let page = s.call(Method::GET, &format!("{RECORDINGS}?order={order}&limit=3{after}"), None).await;
                    assert_eq!(page.status, 200, "{page:?}");
                    seen.extend(ids(&page));
                    cursor = page.body["next_cursor"].as_str().map(str::to_owned);
                    if cursor.is_none() {
                        return seen;
                    }
                }
                panic!("more pages than recordings: {seen:?}");
            }
        };
        assert_eq!(pages("oldest").await, ["o-1", "o-2", "o-3", "o-4"]);
        assert_eq!(pages("newest").await, ["o-4", "o-3", "o-2", "o-1"]);
        let default = s.call(Method::GET, RECORDINGS, None).await;
        assert_eq!(ids(&default), ["o-4", "o-3", "o-2", "o-1"], "newest first when no order is asked for");

        let first = s.call(Method::GET, &format!("{RECORDINGS}?order=oldest&limit=2"), None).await;
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let mixed = s.call(Method::GET, &format!("{RECORDINGS}?limit=2&cursor={cursor}"), None).await;
        assert_eq!(mixed.status, 422, "{mixed:?}");
        assert_eq!((&mixed.body["errors"][0]["field"], &mixed.body["errors"][0]["rule"]), (&json!("cursor"), &json!("order")));
        let message = mixed.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("`oldest`"), "the cursor's order is named: {message}");
        let refused = s.call(Method::GET, &format!("{RECORDINGS}?order=longest"), None).await;
        assert_eq!(refused.status, 422, "{refused:?}");
        assert_eq!((&refused.body["errors"][0]["field"], &refused.body["errors"][0]["rule"]), (&json!("order"), &json!("enum")));
        let message = refused.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("newest, oldest"), "the values are named: {message}");
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn a_runs_failed_recordings_are_listed_with_their_reason_in_words_and_its_category(db) {
        let s3 = S3User::start("calls");
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let wrong = "WrongSecretSentinel0123456789";
        let r = s.call(Method::POST, ACCOUNTS, Some(aws_account(&s3, "calls", wrong))).await;
        let account_id = r.body["id"].as_str().unwrap().to_owned();
        let audio = random_bytes(2048, 5);
        for id in ["f1", "f2"] {
            send(&s, &s.admin_token, id, "Sales", "jo", &audio).await;
        }
        let r = s.call(Method::POST, JOBS, Some(json!({"name": "Nightly", "account_id": account_id, "services": ["Sales"]}))).await;
        let job = format!("{JOBS}/{}", r.body["id"].as_str().unwrap());

        let failed = run(&s, &job).await;
        assert_eq!(failed["failed"].as_i64(), Some(2), "{failed}");
        let error = failed["error"].as_str().unwrap();
        assert!(!error.contains("see the failed rows"), "the run says why, not where to look: {error}");
        assert!(error.contains("refused the credentials"), "{error}");
        let failures = format!("{job}/runs/{}/failures", failed["id"].as_str().unwrap());
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        let r = s.call_as(&viewer, Method::GET, &failures, None).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["more"], false);
        let items = r.body["items"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i["recording_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["f1", "f2"], "{r:?}");
        for item in items {
            assert_eq!(item["category"], "invalid_credentials", "{item}");
            assert_eq!(item["service"], "Sales");
            assert_eq!(item["attempts"], 1);
            assert!(item["object_key"].as_str().unwrap().ends_with("_jo_f1.wav") || item["object_key"].as_str().unwrap().ends_with("_jo_f2.wav"));
            assert!(!item["error"].as_str().unwrap().contains(wrong), "{item}");
        }

        // Fixed: the next run exports them, and the failed run lists none any more (they
        // belong to the run that last tried them).
        let fix = json!({"type": "aws", "name": "Recordings", "properties": aws_account(&s3, "calls", &s3.secret)["properties"]});
        let r = s.call(Method::PUT, &format!("{ACCOUNTS}/{account_id}"), Some(fix)).await;
        assert_eq!(r.status, 200, "{r:?}");
        let fixed = run(&s, &job).await;
        assert_eq!(fixed["state"], "succeeded", "{fixed}");
        let r = s.call(Method::GET, &failures, None).await;
        assert_eq!(r.body["items"], json!([]), "{r:?}");
        let r = s.call(Method::GET, &format!("{job}/runs/{}/failures", fixed["id"].as_str().unwrap()), None).await;
        assert_eq!(r.body["items"], json!([]), "{r:?}");
        let r = s.call(Method::GET, &format!("{job}/runs/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee/failures"), None).await;
        assert_eq!(r.status, 404, "{r:?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn audio_asked_for_as_a_download_is_an_attachment_named_after_the_recording(db) {
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let audio = random_bytes(1000, 33);
        send(&s, &s.admin_token, "dl-1", "Sales", "jo", &audio).await;
        let get = |query: &'static str| {
            let request = s.request(Method::GET, &format!("{RECORDINGS}/dl-1/audio{query}"), Some(&s.admin_token));
            async move { request.send().await.unwrap() }
        };
        let saved = get("?download=true").await;
        assert_eq!(saved.status().as_u16(), 200);
        assert_eq!(saved.headers()["content-disposition"], "attachment; filename=\"dl-1.wav\"");
        assert_eq!(saved.bytes().await.unwrap().to_vec(), audio);
        for query in ["", "?download=false"] {
            let played = get(query).await;
            assert_eq!(played.status().as_u16(), 200);
            assert!(played.headers().get("content-disposition").is_none(), "{query} plays in place");
        }
        let refused = Reply::read(get("?download=yes").await).await;
        assert_eq!(refused.status, 422, "{refused:?}");
        assert_eq!(refused.body["errors"][0]["field"], "download", "{refused:?}");
        s.stop().await;
    }
}

backend_test! {
    #[tokio::test]
    async fn an_s3_server_that_cannot_be_reached_is_said_in_plain_words(db) {
        let s = TestServer::start(&db).await;
        tenant(&s).await;
        let port = patchbay_testkit::peers::closed_port().port();
        let account = json!({"type": "aws", "name": "Recordings", "properties": {aws::USE_PRIVATE_S3_STORAGE: true,
            aws::URL: format!("http://127.0.0.1:{port}"), aws::ACCESS_KEY_ID: "AKIDEXAMPLE", aws::SECRET_KEY: "secret",
            aws::S3_BUCKET: "calls"}});
        let r = s.call(Method::POST, ACCOUNTS, Some(account)).await;
        assert_eq!(r.status, 201, "{r:?}");
        send(&s, &s.admin_token, "u1", "Sales", "jo", &random_bytes(1024, 6)).await;
        let r = s.call(Method::POST, JOBS, Some(json!({"name": "Nightly", "account_id": r.body["id"], "services": ["Sales"]}))).await;
        let job = format!("{JOBS}/{}", r.body["id"].as_str().unwrap());
        let failed = run(&s, &job).await;
        assert_eq!(failed["state"], "failed", "{failed}");
        let error = failed["error"].as_str().unwrap();
        assert!(error.contains(&format!("could not connect to the S3 server 127.0.0.1:{port}")), "{error}");
        for internal in ["client error", "tcp connect error", "os error", "PutObject", "HeadBucket"] {
            assert!(!error.contains(internal), "{internal} in {error}");
        }
    }
}
