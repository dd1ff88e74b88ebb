//! The admin screen's Interaction Records end to end, on SQLite and PostgreSQL: a real
//! `patchbay serve`, a real headless Chromium, recordings exported to a local S3-compatible
//! server (moto, signatures checked) by a job that removes the local copies, so that
//! playback streams from the bucket; transcripts made through the Watson stand-ins (speech
//! to text over WSS, sentiment over HTTPS); a run to a bucket that never answers, in
//! progress on the Live page. Screenshots go to `target/ui-shots/`.

mod browser;
mod vendor;

use std::io::Write as _;
use std::time::Duration;

use browser::{enum_title, Browser, Harness};
use patchbay_catalog::keys::{aws, nlu, stt};
use patchbay_testkit::moto::S3User;
use patchbay_testkit::tls::TestCa;
use patchbay_testkit::vendors::messaging as peers;
use patchbay_testkit::vendors::speech::{self, Behaviour, SttPeer};
use reqwest::Method;
use serde_json::{json, Value};

const TENANT: &str = "acme";
const RECORDINGS: &str = "/api/v1/tenants/acme/recordings";
const ACCOUNTS: &str = "/api/v1/tenants/acme/integration-accounts";
const JOBS: &str = "/api/v1/tenants/acme/recording-export-jobs";
/// The playback route as `/metrics` labels it.
const AUDIO_ROUTE: &str = "route=\"/api/v1/tenants/{tenant}/recordings/{recording_id}/audio\"";
/// Recordings of the `Bulk` service, more than the screen's page of 50.
const BULK: usize = 52;

patchbay_testkit::backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn interaction_records_are_found_played_from_s3_by_range_and_transcribed(db) {
        let ca = TestCa::new();
        let mut ca_file = tempfile::NamedTempFile::new().expect("a temporary file");
        ca_file.write_all(ca.ca_pem.as_bytes()).expect("write the test CA");
        let ca_path = ca_file.path().to_str().expect("a UTF-8 path").to_owned();
        Harness::run_on(&db, &["--egress-ca-file", &ca_path], |h| async move {
            let b = h.browser();
            let seeded = seed(&h, &ca).await;
            admin_story(&h, b, &seeded).await;
            viewer_story(&h, b).await;
        })
        .await;
    }
}

/// What the seed made, for the stories to check against.
struct Seeded {
    /// The AWS account whose secret is wrong.
    bad_account: String,
    /// Keep moto and the speech stand-in running.
    _s3: S3User,
    _stt: SttPeer,
}

async fn call(h: &Harness, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) = h.api(method, path, Some(body)).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

fn meta(started: &str, agent: &str, phone: &str, direction: &str, service: &str) -> Value {
    json!({"global_interaction_id": format!("gi-{started}"), "call_started_at": started, "agent_login": agent,
        "agent_first_name": "Jo", "agent_last_name": "Smith", "customer_phone": phone, "direction": direction,
        "service": service})
}

/// GETs `path` until `done` holds for the answer (at most 60 s); returns it.
async fn settled(h: &Harness, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        let (_, answer) = h.api(Method::GET, path, None).await;
        if done(&answer) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} did not settle within 60 s");
}

/// Runs the export job now and waits for its run to end; returns the run.
async fn run_job(h: &Harness, job: &str) -> Value {
    let run = call(h, Method::POST, &format!("{JOBS}/{job}/run"), json!({})).await;
    let path = format!("{JOBS}/{job}/runs/{}", run["id"].as_str().expect("a run id"));
    settled(h, &path, |r| r["state"] != "running").await
}

/// The tenant with two AWS accounts (moto's bucket with the right secret and with a wrong
/// one), a Watson STT account and an NLU account on the stand-ins; recordings: two of
/// `Sales` exported (their local copies removed), one of `Support` whose export failed, one
/// without audio, one of `Sales` not exported yet, and the `Bulk` ones without audio.
async fn seed(h: &Harness, ca: &TestCa) -> Seeded {
    call(h, Method::POST, "/api/v1/tenants", json!({"id": TENANT, "name": "Acme Support", "enabled_types": ["aws"]}))
        .await;
    let s3 = tokio::task::spawn_blocking(|| S3User::start("calls")).await.expect("moto starts");
    let account = |name: &str, secret: &str| {
        json!({"type": "aws", "name": name, "properties": {aws::USE_PRIVATE_S3_STORAGE: true, aws::URL: s3.endpoint,
            aws::ACCESS_KEY_ID: s3.key, aws::SECRET_KEY: secret, aws::S3_BUCKET: "calls"}})
    };
    let good = call(h, Method::POST, ACCOUNTS, account("Call archive", &s3.secret)).await;
    let bad = call(h, Method::POST, ACCOUNTS, account("Support archive", "not-the-secret")).await;
    let stt_peer = speech::watson_stt(ca, Behaviour::Normal).await;
    call(
        h,
        Method::POST,
        ACCOUNTS,
        json!({"type": "stt", "provider": "watson", "name": "Watson STT", "properties": {
        stt::watson::URL: format!("wss://localhost:{}", stt_peer.addr.port()), stt::watson::USERNAME: speech::STT_USER,
        stt::watson::PASSWORD: speech::STT_PASSWORD, stt::watson::DEFAULT_ACCOUNT: true}}),
    )
    .await;
    let nlu_peer = patchbay_testkit::tls::https(peers::watson_nlu(), ca).await;
    call(
        h,
        Method::POST,
        ACCOUNTS,
        json!({"type": "nlu", "name": "Sentiment", "properties": {
        nlu::URL: format!("https://{nlu_peer}/natural-language-understanding/api/v1/analyze?version=2017-02-27"),
        nlu::USERNAME: peers::WATSON_USER, nlu::PASSWORD: peers::WATSON_PASSWORD}}),
    )
    .await;

    let wav = speech::wav(3.0, 8000);
    for (id, started, agent, phone, direction, service) in [
        ("call-s3", "2026-03-12T14:05:09Z", "jo", "+1 555 0100", "inbound", "Sales"),
        ("call-out", "2026-03-12T13:00:00Z", "al", "+1 555 0199", "outbound", "Sales"),
        ("call-fail", "2026-03-12T12:00:00Z", "jo", "+1 555 0142", "inbound", "Support"),
    ] {
        h.put_recording(TENANT, id, meta(started, agent, phone, direction, service), Some(wav.clone())).await;
    }
    h.put_recording(
        TENANT,
        "call-none",
        meta("2026-03-12T11:00:00Z", "jo", "+1 555 0177", "internal", "Sales Desk"),
        None,
    )
    .await;
    for i in 0..BULK {
        let started = format!("2026-02-01T10:{:02}:{:02}Z", i / 60, i % 60);
        h.put_recording(TENANT, &format!("bulk-{i}"), meta(&started, "bo", "+1 555 0300", "inbound", "Bulk"), None)
            .await;
    }

    let sales = call(
        h,
        Method::POST,
        JOBS,
        json!({"name": "Sales archive", "account_id": good["id"],
        "services": ["Sales"], "delete_local_after_export": true}),
    )
    .await;
    let run = run_job(h, sales["id"].as_str().unwrap()).await;
    assert_eq!((&run["state"], &run["exported"]), (&json!("succeeded"), &json!(2)), "{run}");
    let support = call(
        h,
        Method::POST,
        JOBS,
        json!({"name": "Support archive", "account_id": bad["id"],
        "services": ["Support"]}),
    )
    .await;
    let run = run_job(h, support["id"].as_str().unwrap()).await;
    assert_eq!((&run["state"], &run["failed"]), (&json!("failed"), &json!(1)), "{run}");

    // The audio of the exported calls is now only in the bucket: playback must read it there.
    let (_, exported) = h.api(Method::GET, &format!("{RECORDINGS}/call-s3"), None).await;
    assert_eq!(exported["audio"]["state"], "removed", "the local copy is gone after the export: {exported}");
    assert_eq!(
        (&exported["exports"][0]["state"], &exported["exports"][0]["bucket"]),
        (&json!("success"), &json!("calls"))
    );
    // A recording of Sales that came after the run: the job's next run exports it.
    let late = meta("2026-03-12T10:00:00Z", "jo", "+1 555 0111", "inbound", "Sales");
    h.put_recording(TENANT, "call-new", late, Some(speech::wav(1.0, 8000))).await;
    let (_, failed) = h.api(Method::GET, &format!("{RECORDINGS}/call-fail"), None).await;
    assert_eq!(failed["exports"][0]["error_category"], "invalid_credentials", "{failed}");
    Seeded { bad_account: bad["id"].as_str().unwrap().to_owned(), _s3: s3, _stt: stt_peer }
}

/// How many playback requests `/metrics` counts with this status.
async fn playbacks(h: &Harness, status: u16) -> u64 {
    let text = h.http.get(format!("{}/metrics", h.base)).send().await.expect("metrics").text().await.expect("text");
    let status = format!("status=\"{status}\"");
    text.lines()
        .filter(|l| l.contains("http_requests_total{") && l.contains(AUDIO_ROUTE) && l.contains(&status))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

/// The text without its terminal colours (the log's field names are styled).
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence `ESC [ ... letter`.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Plays the page's audio (muted, as autoplay allows) and waits for `canplay` or an error;
/// returns what happened with the element's ready state and duration.
async fn play(b: &Browser) -> Value {
    b.js_async(
        "const done = arguments[arguments.length - 1];
         const a = document.querySelector('audio.record-audio');
         const report = (what) => { a.pause(); done({what, ready: a.readyState, duration: a.duration}); };
         if (a.readyState >= 3) { report('canplay'); return; }
         a.addEventListener('canplay', () => report('canplay'), {once: true});
         a.addEventListener('error', () => report('error: ' + (a.error && a.error.message)), {once: true});
         setTimeout(() => report('nothing within 15 s'), 15000);
         a.muted = true;
         a.play().catch(() => {});",
    )
    .await
}

async fn sign_in(b: &Browser, token: &str) {
    b.open("").await;
    b.wait("#token").await;
    b.fill("#token", token).await;
    b.click("#signin-form button[type=submit]").await;
    b.wait(".who-role").await;
}

/// Row ids of the results, in their order.
async fn result_ids(b: &Browser) -> Value {
    b.js("return [...document.querySelectorAll('.records-table tbody tr')].map(r => r.dataset.id)").await
}

/// Waits (at most 20 s) until the results are the recordings `ids` with the count saying so:
/// while a new search loads, the page before it stays.
async fn wait_results(b: &Browser, ids: &[&str]) {
    let expected = json!(ids);
    for _ in 0..200 {
        if result_ids(b).await == expected {
            let count = if ids.len() == 1 {
                "1 recording found.".to_owned()
            } else {
                format!("{} recordings found.", ids.len())
            };
            b.wait_text(".records-summary", &count).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the results are {} rather than {expected}", result_ids(b).await);
}

async fn admin_story(h: &Harness, b: &Browser, seeded: &Seeded) {
    sign_in(b, &h.admin_token).await;
    b.open(&format!("#/t/{TENANT}")).await;
    b.click("a.nav-records").await;
    b.wait_text("h1.page-title", "Interaction Records").await;
    b.wait_text(".records-summary", "50 recordings shown; more match").await;
    assert_eq!(b.unlabelled_inputs().await, json!([]), "every filter has a <label for>");
    b.assert_accessible("Interaction Records search").await;
    b.shot("records").await;

    // Each row says how its export stands: uploaded, failed (the reason on hover) or not tried.
    let doc = h.api(Method::GET, "/api/v1/openapi.json", None).await.1;
    let row = |id: &str| format!(".records-table tr[data-id='{id}'] .export-summary");
    let uploaded = format!("{}[data-state='success']", row("call-s3"));
    assert_eq!(b.text(&uploaded).await, enum_title(&doc, "ExportState", "success"));
    b.wait(&format!("{}[data-state='failed']", row("call-fail"))).await;
    let failed = h.api(Method::GET, &format!("{RECORDINGS}/call-fail"), None).await.1;
    let reason = failed["exports"][0]["error"].as_str().expect("the failure's reason");
    assert_eq!(b.attr(&row("call-fail"), "title").await.as_deref(), Some(reason), "the reason on hover");
    b.wait(&format!("{}[data-state='none']", row("call-new"))).await;

    // Paging by the API's cursor: Load more adds the rest and moves the focus to the first new row.
    b.click("button.load-more").await;
    b.wait_text(".records-summary", &format!("{} recordings found.", BULK + 5)).await;
    assert_eq!(b.js_string("return document.activeElement.closest('tr').dataset.id").await, "bulk-6");
    assert!(!b.exists("button.load-more:not([hidden])").await, "nothing more to load");

    // Sorted by call time, oldest first: the API's order, so a new search finds the oldest
    // calls of all (not of those loaded) and the header keeps the focus; the order is in the
    // URL and survives a reload.
    b.click(".records-table button[data-sort='time']").await;
    b.wait_url("sort=time").await;
    b.wait_text(".records-summary", "50 recordings shown; more match. Load more to see them.").await;
    assert_eq!(result_ids(b).await[0], "bulk-0", "the oldest call of all");
    assert_eq!(b.js_string("return document.activeElement.dataset.sort || ''").await, "time");
    b.reload().await;
    b.wait_text(".records-summary", "50 recordings shown").await;
    assert_eq!(b.attr(".records-table th.col-time", "aria-sort").await.as_deref(), Some("ascending"));
    assert_eq!(result_ids(b).await[0], "bulk-0", "the oldest call of all, after a reload");
    // Another column sorts the rows loaded, and the count says so while more match.
    b.click(".records-table button[data-sort='service']").await;
    b.wait_url("sort=service").await;
    b.wait_text(".records-summary", "Sorted by Service among those shown: Load more to include the rest.").await;
    assert_eq!(b.attr(".records-table th.col-service", "aria-sort").await.as_deref(), Some("ascending"));

    // Found by phone number; the filter is in the URL and survives a reload.
    b.fill("#rec-phone", "+1 555 0100").await;
    b.click("button.search-records").await;
    let url = b.wait_url("phone=").await;
    assert!(url.contains("/recordings?phone=%2B1+555+0100"), "{url}");
    wait_results(b, &["call-s3"]).await;
    assert_eq!(b.focused().await, "records-summary", "the focus moves to the result count");
    b.reload().await;
    b.wait_text(".records-summary", "1 recording found.").await;
    assert_eq!(b.value("#rec-phone").await, "+1 555 0100", "the filter survives a reload");
    assert_eq!(result_ids(b).await, json!(["call-s3"]));

    // Direction, with the service: only the outbound Sales call; Back returns to the phone search.
    b.fill("#rec-phone", "").await;
    b.fill("#rec-service", "Sales").await;
    b.select("#rec-direction", "outbound").await;
    b.click("button.search-records").await;
    b.wait_url("direction=outbound").await;
    wait_results(b, &["call-out"]).await;
    b.reload().await;
    b.wait_text(".records-summary", "1 recording found.").await;
    assert_eq!(b.value("#rec-direction").await, "outbound");
    b.js("history.back()").await;
    b.wait_value("#rec-phone", "+1 555 0100").await;
    wait_results(b, &["call-s3"]).await;

    // The recording, played from the bucket: the browser's requests are Range requests (the
    // server answered 206 to them), and the audio element reached `canplay`.
    let (ranged, whole) = (playbacks(h, 206).await, playbacks(h, 200).await);
    b.click("tr[data-id='call-s3'] a.record-link").await;
    b.wait("audio.record-audio").await;
    assert_eq!(
        b.attr("audio.record-audio", "src").await.as_deref(),
        Some("/api/v1/tenants/acme/recordings/call-s3/audio")
    );
    assert_eq!(b.attr("audio.record-audio", "preload").await.as_deref(), Some("metadata"));
    let played = play(b).await;
    assert_eq!(played["what"], "canplay", "{played}");
    assert!((played["duration"].as_f64().unwrap() - 3.0).abs() < 0.1, "the 3 s of the WAV file: {played}");
    assert!(playbacks(h, 206).await > ranged, "the audio came as byte ranges (206)");
    assert_eq!(playbacks(h, 200).await, whole, "never as a whole answer without a Range");
    let log = plain(&h.server_log());
    assert!(
        log.lines().any(|l| l.contains("/recordings/call-s3/audio") && l.contains("status=206")),
        "the access log has the 206 answers to the player"
    );
    let (_, still) = h.api(Method::GET, &format!("{RECORDINGS}/call-s3"), None).await;
    assert_eq!(still["audio"]["state"], "removed", "played with no local copy");
    b.wait_text(".record-player", "streamed from the bucket").await;
    assert_eq!(b.text(".export-item[data-state='success'] .export-bucket").await, "calls");
    assert!(b.text(".export-item[data-state='success'] .export-key").await.ends_with("_call-s3.wav"));
    let download = b.attr("a.download-audio", "href").await.expect("a download link");
    assert_eq!(download, "/api/v1/tenants/acme/recordings/call-s3/audio?download=true");

    // No transcript yet: an administrator asks for one; it shows with each utterance's sentiment.
    b.wait(".transcript-state[data-state='none']").await;
    b.click("button.transcribe").await;
    b.wait(".transcript-state[data-state='done']").await;
    let neutral = enum_title(&doc, "SentimentLabel", "neutral");
    assert_eq!(b.count(".utterance").await, 2, "2 s per utterance of the stand-in");
    assert_eq!(b.text(".utterance:first-child .utterance-text").await, "utterance 1");
    assert_eq!(b.text(".utterance:first-child .sentiment").await, neutral);
    b.js("window.scrollTo(0, 0)").await;
    b.assert_accessible("recording").await;
    b.shot("record").await;
    b.set_width(390).await;
    assert!(!b.scrolls_sideways().await, "the recording fits 390 px");
    b.open(&format!("#/t/{TENANT}/recordings")).await;
    b.wait_text(".records-summary", "50 recordings shown").await;
    assert!(!b.scrolls_sideways().await, "the search fits 390 px");
    b.set_width(1280).await;

    // Found by a word of its transcript.
    b.fill("#rec-q", "utterance").await;
    b.click("button.search-records").await;
    b.wait_url("q=utterance").await;
    wait_results(b, &["call-s3"]).await;

    // A failed export says why in plain words, and leads to the AWS account to test it.
    b.open(&format!("#/t/{TENANT}/recordings/call-fail")).await;
    let failure = b.wait(".export-item[data-state='failed']").await;
    let invalid = enum_title(&doc, "Category", "invalid_credentials");
    assert_eq!(b.text(".export-item[data-state='failed'] .export-category").await, format!("{invalid}:"));
    assert!(failure.text().await.unwrap().contains("Check and test Support archive"), "names the account");
    assert_eq!(
        b.attr(".export-item[data-state='failed'] a.export-account", "href").await,
        Some(format!("#/t/{TENANT}/a/{}", seeded.bad_account))
    );

    // Not exported yet: pending with the job that will.
    b.open(&format!("#/t/{TENANT}/recordings/call-new")).await;
    let pending = b.wait(".export-item[data-state='pending']").await.text().await.unwrap();
    assert!(pending.contains("Pending") && pending.contains("Sales archive"), "{pending}");

    // A recording whose audio has not come says so instead of showing a player.
    b.open(&format!("#/t/{TENANT}/recordings/call-none")).await;
    b.wait_text(".no-audio", "has not been received yet").await;
    assert!(!b.exists("audio").await && !b.exists("button.transcribe").await);

    // A run in progress shows on the Live page with its progress: its bucket never answers,
    // so the run goes on while each upload waits out the outbound timeout.
    let hung = patchbay_testkit::peers::hung().await;
    let slow = call(
        h,
        Method::POST,
        ACCOUNTS,
        json!({"type": "aws", "name": "Slow archive", "properties": {
        aws::USE_PRIVATE_S3_STORAGE: true, aws::URL: format!("http://{hung}"), aws::ACCESS_KEY_ID: "AKIASLOWEXAMPLE",
        aws::SECRET_KEY: "slow-secret", aws::S3_BUCKET: "slow"}}),
    )
    .await;
    for i in 0..2 {
        let started = format!("2026-03-13T09:0{i}:00Z");
        h.put_recording(
            TENANT,
            &format!("slow-{i}"),
            meta(&started, "jo", "+1 555 0400", "inbound", "Slow"),
            Some(speech::wav(1.0, 8000)),
        )
        .await;
    }
    let job =
        call(h, Method::POST, JOBS, json!({"name": "Slow archive", "account_id": slow["id"], "services": ["Slow"]}))
            .await;
    let run = call(h, Method::POST, &format!("{JOBS}/{}/run", job["id"].as_str().expect("a job id")), json!({})).await;
    b.open(&format!("#/t/{TENANT}/live")).await;
    let item = format!(".live-run[data-run='{}']", run["id"].as_str().expect("a run id"));
    b.wait(&format!("{item} progress.run-bar")).await;
    assert_eq!(b.attr(&format!("{item} progress.run-bar"), "max").await.as_deref(), Some("2"));
    assert_eq!(b.attr(&format!("{item} progress.run-bar"), "value").await.as_deref(), Some("0"));
    let label = b.text(&format!("{item} .live-run-label")).await;
    assert!(label.contains("Slow archive") && label.contains("0 of 2 recordings"), "{label}");
    b.assert_accessible("Live with an export run").await;
    b.click("button.sign-out").await;
    b.wait("#token").await;
}

async fn viewer_story(h: &Harness, b: &Browser) {
    let viewer = h.token("acme viewer", "tenant_viewer", TENANT).await;
    sign_in(b, &viewer).await;
    b.click("a.nav-records").await;
    b.wait_text(".records-summary", "recordings shown").await;
    b.fill("#rec-phone", "+1 555 0199").await;
    b.click("button.search-records").await;
    wait_results(b, &["call-out"]).await;
    b.click("tr[data-id='call-out'] a.record-link").await;
    // A viewer plays the recording and reads transcripts, and is offered no Transcribe.
    b.wait(".transcript-state[data-state='none']").await;
    assert_eq!(play(b).await["what"], "canplay");
    assert!(!b.exists("button.transcribe").await, "no Transcribe for a viewer");
    b.open(&format!("#/t/{TENANT}/recordings/call-s3")).await;
    b.wait(".transcript-state[data-state='done']").await;
    assert!(!b.exists("button.transcribe").await, "no Transcribe again for a viewer");
    let refused = h
        .http
        .post(format!("{}{RECORDINGS}/call-out/transcript", h.base))
        .bearer_auth(&viewer)
        .json(&json!({}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(refused.status().as_u16(), 403, "nor may the viewer's token transcribe");
}
