//! A recording export killed with SIGKILL in the middle of a run (one recording exported, a
//! multipart upload half sent) finishes after a restart with nothing lost and nothing
//! uploaded twice: the bucket has versioning on, so a second upload of any key would show
//! as a second version; boto3 reads everything back. And a stalled owner (SIGSTOP) whose
//! run another node on the same PostgreSQL took over is fenced when it wakes up (SIGCONT).

mod process;

use std::time::Duration;

use patchbay_catalog::keys::aws;
use patchbay_testkit::moto::{S3User, ENABLE_VERSIONING, GET_TEXT};
use patchbay_testkit::random_bytes;
use process::ServerProcess;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;
const RECORDINGS: &str = "/api/v1/tenants/acme/recordings";

/// How many parts the bucket's open multipart uploads hold.
const OPEN_PARTS: &str = r#"
uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
print(json.dumps(sum(len(s3.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", []))
                     for u in uploads)))
"#;

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn audio(&self, id: &str, audio: Vec<u8>) {
        let response = self
            .http
            .put(format!("{}{RECORDINGS}/{id}/audio", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "audio/wav")
            .body(audio)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }

    /// The tenant `acme` with an `aws` account for the moto bucket `calls`; the account.
    async fn tenant_with_bucket(&self, s3: &S3User) -> Value {
        let (status, _) =
            self.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme", "enabled_types": ["aws"]}))).await;
        assert_eq!(status, 201);
        let account = json!({"type": "aws", "name": "S3", "properties": {aws::USE_PRIVATE_S3_STORAGE: true,
            aws::URL: s3.endpoint, aws::ACCESS_KEY_ID: s3.key, aws::SECRET_KEY: s3.secret, aws::S3_BUCKET: "calls"}});
        self.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(account)).await.1
    }

    /// Recordings of the service `Sales` by agent `jo` with this audio.
    async fn recordings(&self, audio: &[(&str, Vec<u8>)]) {
        for (id, bytes) in audio {
            let meta = json!({"global_interaction_id": format!("gi-{id}"), "call_started_at": "2024-05-01T09:30:00Z",
                "agent_login": "jo", "direction": "inbound", "service": "Sales"});
            assert_eq!(self.call(Method::PUT, &format!("{RECORDINGS}/{id}"), Some(meta)).await.0, 201);
            self.audio(id, bytes.clone()).await;
        }
    }

    /// Creates the export job `job` and returns its path.
    async fn job(&self, job: Value) -> String {
        let (status, job) = self.call(Method::POST, "/api/v1/tenants/acme/recording-export-jobs", Some(job)).await;
        assert_eq!(status, 201, "{job}");
        format!("/api/v1/tenants/acme/recording-export-jobs/{}", job["id"].as_str().unwrap())
    }
}

/// Every recording's audio is in the bucket under its key, intact, as exactly one version.
fn assert_uploaded_once(s3: &S3User, audio: &[(&str, Vec<u8>)]) -> Vec<String> {
    let keys: Vec<String> = audio.iter().map(|(id, _)| format!("2024-05-01/jo_{id}.wav")).collect();
    let seen = s3.read_back(&keys.iter().map(String::as_str).collect::<Vec<_>>());
    for ((_, bytes), key) in audio.iter().zip(&keys) {
        assert_eq!(seen[key]["sha256"], format!("{:x}", Sha256::digest(bytes)), "{key} intact: {seen}");
        assert_eq!(seen[key]["versions"], 1, "{key} uploaded exactly once: {seen}");
    }
    keys
}

#[tokio::test]
async fn an_export_killed_mid_run_finishes_after_restart_with_nothing_lost_or_uploaded_twice() {
    let s3 = S3User::start("calls");
    assert_eq!(s3.boto3(ENABLE_VERSIONING, &[]), "Enabled");
    let mut server = ServerProcess::start(&["--egress-allow", "loopback"]);
    // No kept-alive connections: they would die with the killed server.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let api = Api { http, base: server.base.clone(), token: server.admin_token.clone() };
    let account = api.tenant_with_bucket(&s3).await;

    let audio: Vec<(&str, Vec<u8>)> = vec![
        ("c1", random_bytes(MIB, 1)),
        ("c2", random_bytes(18 * MIB, 2)),
        ("c3", random_bytes(MIB, 3)),
        ("c4", random_bytes(MIB / 2, 4)),
    ];
    api.recordings(&audio).await;
    // One file at a time, slowly: the kill lands after c1 is exported and while c2's
    // multipart upload has sent part of its 8 MiB parts.
    let job = json!({"name": "Crash", "account_id": account["id"], "services": ["Sales"], "concurrency": 1,
        "bandwidth_limit_bytes_per_second": 4 * MIB, "filename_template": "$(callDate)/$(agent)"});
    let job = api.job(job).await;
    let (status, first) = api.call(Method::POST, &format!("{job}/run"), None).await;
    assert_eq!(status, 202, "{first}");

    let mut ready = false;
    for _ in 0..300 {
        let (_, c1) = api.call(Method::GET, &format!("{RECORDINGS}/c1"), None).await;
        if c1["exports"][0]["state"] == "success" && s3.boto3(OPEN_PARTS, &[]).as_i64().unwrap_or(0) >= 1 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "c1 exported and a part of c2 sent within the time allowed:\n{}", server.log());
    server.kill();
    let c2_parts = s3.boto3(OPEN_PARTS, &[]);
    assert!(c2_parts.as_i64().unwrap() < 3, "killed before c2 was complete: {c2_parts}");

    server.restart();
    let mut runs = Value::Null;
    for _ in 0..1200 {
        runs = api.call(Method::GET, &format!("{job}/runs"), None).await.1;
        if runs["items"][0]["state"] != "running" && runs["items"][0]["reason"] == "resume" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let items = runs["items"].as_array().expect("runs");
    assert_eq!(items.len(), 2, "{runs}");
    let (resumed, interrupted) = (&items[0], &items[1]);
    assert_eq!(
        (interrupted["id"].as_str(), interrupted["state"].as_str()),
        (first["id"].as_str(), Some("interrupted"))
    );
    assert_eq!(resumed["state"], "succeeded", "{runs}\n{}", server.log());
    assert_eq!(resumed["resumed_from"], interrupted["id"]);
    assert_eq!(resumed["exported"], 3, "c2, c3 and c4 were left: {resumed}");

    let keys = assert_uploaded_once(&s3, &audio);
    let seen = s3.read_back(&keys.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(seen["open_uploads"], 0, "no multipart upload left behind");
    assert!(
        server.log().contains("resumed a multipart upload: parts already in the bucket were not sent again"),
        "c2's parts sent before the kill were not sent again:\n{}",
        server.log()
    );

    let csv = s3.boto3(GET_TEXT, &[resumed["metadata_key"].as_str().unwrap()]);
    let csv = csv.as_str().unwrap();
    for key in &keys {
        assert!(csv.contains(&format!("success,{key},")), "{key} in the resumed run's metadata:\n{csv}");
    }
    assert_eq!(csv.lines().count(), 5, "a header and one row per recording, c1 from the interrupted run:\n{csv}");
}

#[tokio::test]
async fn a_stalled_owner_whose_run_was_taken_over_is_fenced_and_nothing_is_uploaded_twice_or_lost() {
    let Ok(server_url) = std::env::var(patchbay_testkit::DATABASE_URL_VAR) else {
        eprintln!(
            "skipping: a takeover needs two nodes on one PostgreSQL ({} not set)",
            patchbay_testkit::DATABASE_URL_VAR
        );
        return;
    };
    let db = patchbay_testkit::TestDatabase::postgres(&server_url).await;
    let s3 = S3User::start("calls");
    assert_eq!(s3.boto3(ENABLE_VERSIONING, &[]), "Enabled");
    // Runs of a node silent for 5 s are taken over (60 s by default).
    let args = ["--egress-allow", "loopback", "--database-url", &db.url, "--export-run-expiry", "5"];
    let owner = ServerProcess::start(&args);
    // The other node shares the database, the key ring and (as a shared volume would) the audio.
    let owner_data = owner.data_dir();
    let other = ServerProcess::start_prepared(&args, |data| {
        std::fs::copy(owner_data.join("master.key"), data.join("master.key")).unwrap();
        std::os::unix::fs::symlink(owner_data.join("recordings"), data.join("recordings")).unwrap();
    });
    // The second start replaced the bootstrap admin token in the shared database.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let api = Api { http: http.clone(), base: owner.base.clone(), token: other.admin_token.clone() };
    let other_api = Api { http, base: other.base.clone(), token: other.admin_token.clone() };
    let account = api.tenant_with_bucket(&s3).await;
    let audio: Vec<(&str, Vec<u8>)> = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]
        .into_iter()
        .zip(1..)
        .map(|(id, n)| (id, random_bytes(MIB, n)))
        .collect();
    api.recordings(&audio).await;

    // One 1 MiB file at a time at 1 MiB/s: the run takes about 8 s.
    let job = api
        .job(json!({"name": "Fenced", "account_id": account["id"], "services": ["Sales"], "concurrency": 1,
            "bandwidth_limit_bytes_per_second": MIB, "filename_template": "$(callDate)/$(agent)"}))
        .await;
    let (status, first) = api.call(Method::POST, &format!("{job}/run"), None).await;
    assert_eq!(status, 202, "{first}");
    let mut started = false;
    for _ in 0..300 {
        let (_, c1) = api.call(Method::GET, &format!("{RECORDINGS}/c1"), None).await;
        if c1["exports"][0]["state"] == "success" {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started, "c1 exported within the time allowed:\n{}", owner.log());
    owner.signal("STOP");

    let mut runs = Value::Null;
    for _ in 0..600 {
        runs = other_api.call(Method::GET, &format!("{job}/runs"), None).await.1;
        if runs["items"][0]["reason"] == "resume" && runs["items"][0]["state"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resumed = runs["items"][0].clone();
    assert_eq!(
        resumed["state"],
        "succeeded",
        "the other node took the run over and finished it: {runs}\n{}",
        other.log()
    );
    assert_eq!(resumed["resumed_from"], first["id"], "{runs}");

    owner.signal("CONT");
    let mut fenced = false;
    for _ in 0..100 {
        if owner.log().contains("export run fenced") {
            fenced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fenced, "the woken owner's writes are refused and it says so:\n{}", owner.log());
    // Time for anything the woken owner might still do.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let runs = other_api.call(Method::GET, &format!("{job}/runs"), None).await.1;
    let items = runs["items"].as_array().expect("runs");
    assert_eq!(items.len(), 2, "{runs}");
    let (resumed, taken) = (&items[0], &items[1]);
    assert_eq!(taken["id"], first["id"]);
    assert_eq!(taken["state"], "interrupted", "the stalled owner could not finish the run it lost: {runs}");
    assert!(taken["epoch"].as_i64() > first["epoch"].as_i64(), "the takeover bumped the epoch: {first} {runs}");
    assert!(resumed["epoch"].as_i64() > taken["epoch"].as_i64(), "{runs}");
    assert_eq!(resumed["state"], "succeeded", "{runs}");
    assert_ne!(resumed["node"], taken["node"], "{runs}");
    for (id, _) in &audio {
        let (_, recording) = other_api.call(Method::GET, &format!("{RECORDINGS}/{id}"), None).await;
        assert_eq!(recording["exports"][0]["state"], "success", "{id} not lost: {recording}");
    }
    assert_uploaded_once(&s3, &audio);
    let csv = s3.boto3(GET_TEXT, &[resumed["metadata_key"].as_str().unwrap()]);
    assert_eq!(csv.as_str().unwrap().lines().count(), 1 + audio.len(), "every recording in the metadata file:\n{csv}");
}
