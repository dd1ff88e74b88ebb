//! The CLI verbs against a real `patchbay serve`: tables and JSON, property kinds, secrets
//! from the environment, merged updates, and exit codes scripts can trust.

mod process;

use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::keys::statistics_receiver;
use process::ServerProcess;
use serde_json::Value;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("an exit code")
}

#[test]
fn verbs_manage_tenants_accounts_and_tokens_with_trustworthy_exit_codes() {
    let s = ServerProcess::start(&["--egress-allow", "loopback"]);
    let ok = s.cli(&["tenants", "create", "acme", "--name", "Acme", "--enable", "aws"]);
    assert_eq!(code(&ok), 0, "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(stdout(&ok).contains("enabled types: aws"));

    let types = s.cli(&["types", "--json"]);
    let keys: Vec<String> =
        json(&types).as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap().to_owned()).collect();
    let catalog: Vec<&str> = patchbay_catalog::catalog().types.iter().map(|t| t.key).collect();
    assert_eq!(keys, catalog, "every catalog type, in the catalog's order");
    assert!(stdout(&s.cli(&["types"])).contains("statistics_receiver"));

    // A receiver for the connection test.
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port().to_string();
    let created = s.cli(&[
        "accounts",
        "create",
        "--tenant",
        "acme",
        "--type",
        "statistics_receiver",
        "--name",
        "Stats",
        "--set",
        "host_name=127.0.0.1",
        "--set",
        &format!("port={port}"),
        "--json",
    ]);
    assert_eq!(code(&created), 0, "{}", String::from_utf8_lossy(&created.stderr));
    let stats = json(&created);
    assert_eq!(
        stats["properties"][statistics_receiver::PORT],
        port.parse::<i64>().unwrap(),
        "integers are sent as integers"
    );
    let stats_id = stats["id"].as_str().unwrap().to_owned();

    // Every enabled account at once: the reports as the API gives them.
    let all = s.cli(&["accounts", "test", "--tenant", "acme", "--all", "--json"]);
    assert_eq!(code(&all), 0, "{}{}", stdout(&all), String::from_utf8_lossy(&all.stderr));
    let all = json(&all);
    assert_eq!((all[0]["name"].as_str(), all[0]["report"]["status"].as_str()), (Some("Stats"), Some("ok")), "{all}");
    let shown = stdout(&s.cli(&["accounts", "show", "--tenant", "acme", &stats_id]));
    let saved = json(&s.cli(&["accounts", "show", "--tenant", "acme", &stats_id, "--json"]));
    let tested_at = saved["last_test"]["tested_at"].as_str().unwrap();
    assert!(shown.contains(&format!("last test: ok at {tested_at}\n")), "times as the API writes them: {shown}");

    // A body file: an account as `show --json` prints it, under another name, is a copy.
    let body = s.dir.path().join("stats.json");
    std::fs::write(&body, &created.stdout).unwrap();
    let copy =
        s.cli(&["accounts", "create", "--tenant", "acme", "-f", body.to_str().unwrap(), "--name", "Copy", "--json"]);
    assert_eq!(code(&copy), 0, "{}", String::from_utf8_lossy(&copy.stderr));
    let copy = json(&copy);
    assert_eq!((&copy["type"], &copy["properties"]), (&stats["type"], &stats["properties"]));
    assert_ne!(copy["id"], stats["id"]);
    assert_eq!(code(&s.cli(&["accounts", "delete", "--tenant", "acme", copy["id"].as_str().unwrap()])), 0);
    let untyped = s.cli(&["accounts", "create", "--tenant", "acme", "--name", "X"]);
    assert_eq!(code(&untyped), 2, "an account without a type is a usage error");
    assert!(String::from_utf8_lossy(&untyped.stderr).contains("--type"));

    let fb = std::process::Command::new(process::BIN)
        .args(["accounts", "create", "--tenant", "acme", "--type", "messenger", "--provider", "facebook"])
        .args([
            "--name",
            "FB",
            "--set",
            "page_username=acme",
            "--set",
            "page_id=000123",
            "--secret-env",
            "token=FB_TOKEN",
        ])
        .args(["--json"])
        .env("PATCHBAY_SERVER", &s.base)
        .env("PATCHBAY_TOKEN", &s.admin_token)
        .env("FB_TOKEN", "cli-secret-value")
        .output()
        .unwrap();
    assert_eq!(code(&fb), 0, "{}", String::from_utf8_lossy(&fb.stderr));
    let fb = json(&fb);
    assert_eq!(fb["properties"][facebook::PAGE_ID], "000123", "text stays text even when it is digits");
    assert_eq!(fb["secrets"][facebook::TOKEN], true);
    let fb_id = fb["id"].as_str().unwrap().to_owned();

    // An update names only what changes; the rest is kept.
    let renamed =
        s.cli(&["accounts", "update", "--tenant", "acme", &fb_id, "--set", "page_username=acme-support", "--json"]);
    assert_eq!(code(&renamed), 0, "{}", String::from_utf8_lossy(&renamed.stderr));
    let renamed = json(&renamed);
    assert_eq!(renamed["properties"][facebook::PAGE_ID], "000123");
    assert_eq!(renamed["properties"][facebook::PAGE_USERNAME], "acme-support");
    assert_eq!(renamed["secrets"][facebook::TOKEN], true);
    let stale = s.cli(&["accounts", "update", "--tenant", "acme", &fb_id, "--if-version", "1", "--name", "x"]);
    assert_eq!(code(&stale), 3, "a stale version is refused input");

    let list = s.cli(&["accounts", "list", "--tenant", "acme"]);
    let table = stdout(&list);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("Stats") && table.contains("FB"));
    assert!(
        !table.contains("cli-secret-value")
            && !stdout(&s.cli(&["accounts", "show", "--tenant", "acme", &fb_id])).contains("cli-secret-value")
    );

    let tested = s.cli(&["accounts", "test", "--tenant", "acme", &stats_id]);
    assert_eq!(code(&tested), 0, "{}{}", stdout(&tested), String::from_utf8_lossy(&tested.stderr));
    assert!(stdout(&tested).contains("connect"));
    drop(receiver);
    let failed = s.cli(&["accounts", "test", "--tenant", "acme", &stats_id]);
    assert_eq!(code(&failed), 7, "a failed test exits 7: {}", stdout(&failed));

    // Exit codes.
    let invalid = s.cli(&[
        "accounts",
        "create",
        "--tenant",
        "acme",
        "--type",
        "stt",
        "--provider",
        "watson",
        "--name",
        "S",
        "--set",
        "url=https://x.example",
    ]);
    assert_eq!(code(&invalid), 3);
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("properties.url (url_scheme)"));
    assert_eq!(code(&s.cli(&["accounts", "show", "--tenant", "acme", "00000000-0000-0000-0000-000000000000"])), 4);
    assert_eq!(code(&s.cli_as("pb_wrong", &["tenants", "list"])), 5);
    let unreachable = process::cli(
        &["tenants", "list"],
        &[("PATCHBAY_SERVER", "http://127.0.0.1:9"), ("PATCHBAY_TOKEN", "x")],
        s.dir.path(),
    );
    assert_eq!(code(&unreachable), 6);

    // Tokens.
    let minted =
        s.cli(&["tokens", "create", "--name", "viewer", "--role", "tenant_viewer", "--tenant", "acme", "--json"]);
    let minted = json(&minted);
    let viewer = minted["token"].as_str().unwrap();
    assert_eq!(code(&s.cli_as(viewer, &["accounts", "list", "--tenant", "acme"])), 0);
    assert_eq!(code(&s.cli_as(viewer, &["accounts", "delete", "--tenant", "acme", &fb_id])), 5);
    assert!(stdout(&s.cli(&["tokens", "list"])).contains("viewer"));
    assert_eq!(code(&s.cli(&["tokens", "revoke", minted["id"].as_str().unwrap()])), 0);
    assert_eq!(code(&s.cli_as(viewer, &["accounts", "list", "--tenant", "acme"])), 5);

    assert_eq!(code(&s.cli(&["accounts", "delete", "--tenant", "acme", &fb_id])), 0);
    assert_eq!(code(&s.cli(&["tenants", "show", "acme"])), 0);
}

#[test]
fn simulate_drives_the_event_intake_with_consistent_churn() {
    let s = ServerProcess::start(&[]);
    assert_eq!(code(&s.cli(&["tenants", "create", "acme"])), 0);
    let out =
        s.cli(&["simulate", "--tenant", "acme", "--agents", "50", "--events", "2000", "--batch", "250", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let summary = json(&out);
    assert_eq!(summary["events"], 2000);
    assert_eq!(summary["accepted"], 2000, "the simulated churn is consistent: {summary}");
    assert_eq!(summary["rejected"], 0);
    let again = s.cli(&["simulate", "--tenant", "nowhere", "--events", "10"]);
    assert_eq!(code(&again), 4, "an unknown tenant is not found");
}

#[test]
fn user_verbs_add_list_change_and_delete_a_tenants_users() {
    let s = ServerProcess::start(&[]);
    assert_eq!(code(&s.cli(&["tenants", "create", "acme"])), 0);
    let args = ["users", "create", "--tenant", "acme", "--name-id", "ada@acme.example", "--role", "tenant_viewer"];
    let created = s.cli(&[&args[..], &["--email", "ada@acme.example", "--json"]].concat());
    assert_eq!(code(&created), 0, "{}", String::from_utf8_lossy(&created.stderr));
    let id = json(&created)["id"].as_str().unwrap().to_owned();
    assert_eq!(code(&s.cli(&args)), 3, "the subject is taken");
    assert_eq!(code(&s.cli(&["users", "create", "--tenant", "acme", "--name-id", "x", "--role", "sp_admin"])), 2);
    let changed = s.cli(&["users", "set", "--tenant", "acme", &id, "--role", "tenant_admin", "--disable", "--json"]);
    assert_eq!(code(&changed), 0, "{}", String::from_utf8_lossy(&changed.stderr));
    let changed = json(&changed);
    assert_eq!((changed["role"].as_str(), changed["enabled"].as_bool()), (Some("tenant_admin"), Some(false)));
    let list = stdout(&s.cli(&["users", "list", "--tenant", "acme"]));
    assert!(list.contains("ada@acme.example") && list.contains("disabled") && list.contains("tenant_admin"), "{list}");
    assert_eq!(code(&s.cli(&["users", "delete", "--tenant", "acme", &id])), 0);
    assert_eq!(code(&s.cli(&["users", "delete", "--tenant", "acme", &id])), 4);
}

#[test]
fn tenant_verbs_and_json_logs_with_request_ids() {
    let s = ServerProcess::start(&["--log-format", "json"]);
    assert_eq!(code(&s.cli(&["tenants", "create", "acme", "--name", "Acme"])), 0);
    let updated = s.cli(&["tenants", "update", "acme", "--name", "Acme Support", "--enable", "nice", "--json"]);
    assert_eq!(code(&updated), 0, "{}", String::from_utf8_lossy(&updated.stderr));
    let updated = json(&updated);
    assert_eq!(
        (updated["name"].as_str(), updated["enabled_types"].clone()),
        (Some("Acme Support"), serde_json::json!(["nice"]))
    );
    let list = s.cli(&["tenants", "list", "--json"]);
    assert_eq!(json(&list).as_array().unwrap().len(), 1);
    assert_eq!(code(&s.cli(&["tenants", "update", "acme", "--enable", "zendesk"])), 3, "only gated types are enabled");
    assert_eq!(code(&s.cli(&["tenants", "delete", "acme"])), 0);
    assert_eq!(code(&s.cli(&["tenants", "show", "acme"])), 4);

    let log = s.log();
    let lines: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "the log is JSON lines: {log}");
    assert!(lines.iter().any(|l| l.to_string().contains("request_id")), "request lines carry their request id: {log}");
}

/// Names stored before the name rule (written to the database directly, as an older version
/// could have) are printed escaped: no escape sequence, newline or bidi control reaches the
/// terminal. JSON output carries them as JSON escapes.
#[test]
fn names_stored_before_the_rule_are_printed_escaped() {
    use patchbay_store::Store;
    let mut s = ServerProcess::start(&[]);
    s.kill();
    let db = format!("sqlite://{}", s.data_dir().join("patchbay.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = patchbay_store::SqlStore::connect(&db).await.unwrap();
        let tenant = patchbay_store::NewTenant {
            id: "evil".into(),
            name: "Evil\u{1b}[2J\nCorp\u{202E}".into(),
            enabled_types: Vec::new(),
            time_zone: "UTC".into(),
        };
        store.create_tenant(&tenant, "test").await.unwrap();
        let token = patchbay_store::NewToken {
            id: uuid::Uuid::new_v4(),
            name: "ops\u{0}\u{200B}bot".into(),
            role: "tenant_viewer".into(),
            tenant_id: Some("evil".into()),
            hash: vec![7; 32],
        };
        store.create_token(&token).await.unwrap();
    });
    s.restart();

    for args in [&["tenants", "list"][..], &["tenants", "show", "evil"][..], &["tokens", "list"][..]] {
        let out = s.cli(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let printed = stdout(&out);
        for raw in ['\u{1b}', '\u{0}', '\u{202E}', '\u{200B}'] {
            assert!(!printed.contains(raw), "{args:?} printed U+{:04X} raw: {printed:?}", u32::from(raw));
        }
        assert!(!printed.contains("\nCorp"), "{args:?}: a stored newline starts no new line: {printed:?}");
    }
    let listed = stdout(&s.cli(&["tenants", "list"]));
    assert!(listed.contains(r"Evil\u{001b}[2J\u{000a}Corp\u{202e}"), "{listed}");
    let tokens = stdout(&s.cli(&["tokens", "list"]));
    assert!(tokens.contains(r"ops\u{0000}\u{200b}bot"), "{tokens}");
    let json_out = s.cli(&["tenants", "show", "evil", "--json"]);
    assert_eq!(json(&json_out)["name"], "Evil\u{1b}[2J\nCorp\u{202E}", "JSON keeps the value, escaped by JSON");
}

#[test]
fn gateway_verbs_ask_for_sentiment_bind_bots_and_show_usage() {
    use patchbay_catalog::keys::nlu;
    use patchbay_testkit::vendors::messaging as peers;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ca = patchbay_testkit::tls::TestCa::new();
    let addr = runtime.block_on(patchbay_testkit::tls::https(peers::watson_nlu(), &ca));
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let s = ServerProcess::start(&["--egress-allow", "loopback", "--egress-ca-file", ca_file.to_str().unwrap()]);
    assert_eq!(code(&s.cli(&["tenants", "create", "acme"])), 0);
    // The time zone alone is the tenant's own setting: its admin changes it.
    let tenant_admin =
        s.cli(&["tokens", "create", "--name", "ops", "--role", "tenant_admin", "--tenant", "acme", "--json"]);
    let tenant_admin = json(&tenant_admin)["token"].as_str().unwrap().to_owned();
    let out = s.cli_as(&tenant_admin, &["tenants", "update", "acme", "--time-zone", "Europe/Berlin"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("time zone:     Europe/Berlin"), "{}", stdout(&out));
    let out = s.cli_as(&tenant_admin, &["tenants", "update", "acme", "--name", "Acme"]);
    assert_eq!(code(&out), 5, "the name stays the service provider's");
    let url = format!("{}=https://{addr}/natural-language-understanding/api/v1/analyze", nlu::URL);
    let user = format!("{}={}", nlu::USERNAME, peers::WATSON_USER);
    let password = format!("{}=NLU_PASSWORD", nlu::PASSWORD);
    let mut create = std::process::Command::new(env!("CARGO_BIN_EXE_patchbay"));
    create
        .args(["accounts", "create", "--tenant", "acme", "--type", "nlu", "--name", "Sentiment", "--json"])
        .args(["--set", &url, "--set", &user, "--secret-env", &password])
        .env("PATCHBAY_SERVER", &s.base)
        .env("PATCHBAY_TOKEN", &s.admin_token)
        .env("NLU_PASSWORD", peers::WATSON_PASSWORD);
    let created = create.output().unwrap();
    assert_eq!(code(&created), 0, "{}", String::from_utf8_lossy(&created.stderr));
    let id = json(&created)["id"].as_str().unwrap().to_owned();

    let out = s.cli(&["gateway", "sentiment", "acme", "I love this"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out), "positive (+0.91)\n");
    let out = s.cli(&["gateway", "sentiment", "acme", "I am angry", "--json"]);
    assert_eq!((json(&out)["label"].as_str(), json(&out)["account"].as_str()), (Some("negative"), Some(id.as_str())));

    let out = s.cli(&["gateway", "bind", "acme", &id, "--service", "Sales"]);
    assert_ne!(code(&out), 0, "an NLU account is not a chat bot");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("this operation takes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = s.cli(&["gateway", "usage", "acme", &id, "--days", "1", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let usage = json(&out);
    assert_eq!(
        (usage["days"][0]["calls"].as_i64(), usage["days"][0]["quota"].as_i64()),
        (Some(2), Some(100)),
        "{usage}"
    );
    assert_eq!(usage["time_zone"], "Europe/Berlin");

    // A prompt written to a file, its format from the extension.
    use patchbay_catalog::keys::tts::watson;
    let tts = runtime.block_on(patchbay_testkit::tls::https(peers::watson_tts(), &ca));
    let url = format!("{}=https://{tts}/text-to-speech/api/v1/", watson::URL);
    let user = format!("{}={}", watson::USER_NAME, peers::WATSON_USER);
    let password = format!("{}=TTS_PASSWORD", watson::PASSWORD);
    let mut create = std::process::Command::new(env!("CARGO_BIN_EXE_patchbay"));
    create
        .args(["accounts", "create", "--tenant", "acme", "--type", "tts", "--provider", "watson", "--name", "Prompts"])
        .args(["--set", &url, "--set", &user, "--secret-env", &password])
        .env("PATCHBAY_SERVER", &s.base)
        .env("PATCHBAY_TOKEN", &s.admin_token)
        .env("TTS_PASSWORD", peers::WATSON_PASSWORD);
    assert_eq!(code(&create.output().unwrap()), 0);
    let prompt = s.dir.path().join("prompt.wav");
    let out = s.cli(&["gateway", "speak", "acme", "Welcome to Acme", "-o", prompt.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&prompt).unwrap(), peers::synthesized(peers::WAV_MAGIC, "Welcome to Acme"));
    let out = s.cli(&["gateway", "speak", "acme", "Hi", "-o", "prompt.flac"]);
    assert_eq!(code(&out), 2, "a format the gateway does not make is a usage error");

    // A call recording transcribed through the default Speech To Text account.
    use patchbay_catalog::keys::stt::watson as stt;
    use patchbay_testkit::vendors::speech;
    let peer = runtime.block_on(speech::watson_stt(&ca, speech::Behaviour::Normal));
    let url = format!("{}=wss://localhost:{}", stt::URL, peer.addr.port());
    let user = format!("{}={}", stt::USERNAME, speech::STT_USER);
    let password = format!("{}=STT_PASSWORD", stt::PASSWORD);
    let mut create = std::process::Command::new(env!("CARGO_BIN_EXE_patchbay"));
    create
        .args(["accounts", "create", "--tenant", "acme", "--type", "stt", "--provider", "watson", "--name", "Calls"])
        .args([
            "--set",
            &url,
            "--set",
            &user,
            "--secret-env",
            &password,
            "--set",
            &format!("{}=true", stt::DEFAULT_ACCOUNT),
        ])
        .env("PATCHBAY_SERVER", &s.base)
        .env("PATCHBAY_TOKEN", &s.admin_token)
        .env("STT_PASSWORD", speech::STT_PASSWORD);
    let created = create.output().unwrap();
    assert_eq!(code(&created), 0, "{}", String::from_utf8_lossy(&created.stderr));
    let call = s.dir.path().join("call.wav");
    std::fs::write(&call, speech::wav(3.0, 8000)).unwrap();
    let out = s.cli(&["gateway", "transcribe", "acme", call.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out), "[   0.00 –    2.00]  utterance 1  (90%)\n[   2.00 –    3.00]  utterance 2  (90%)\n");
    assert!(peer.log.lock().unwrap().audio == std::fs::read(&call).unwrap(), "the file went as it is");
    let out = s.cli(&["gateway", "transcribe", "acme", call.to_str().unwrap(), "--model", "xx-XX_None"]);
    assert_eq!(code(&out), 6, "the vendor refused the model");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Model xx-XX_None not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.cli(&["gateway", "transcribe", "acme", "call.raw"]);
    assert_eq!(code(&out), 2, "raw audio needs its rate");

    // The same call as a stored recording: transcribed with sentiment, then found by its words.
    let http = reqwest::Client::new();
    let recording = format!("{}/api/v1/tenants/acme/recordings/call-1", s.base);
    let meta = serde_json::json!({"global_interaction_id": "gi-1", "call_started_at": "2026-12-01T09:30:15Z",
        "agent_login": "jo", "agent_first_name": "Jo", "agent_last_name": "Smith", "customer_phone": "+1 555 0100",
        "direction": "inbound", "service": "Sales", "disposition": "sale"});
    runtime.block_on(async {
        let put = http.put(&recording).bearer_auth(&s.admin_token).json(&meta).send().await.unwrap();
        assert_eq!(put.status(), 201);
        let audio =
            http.put(format!("{recording}/audio")).bearer_auth(&s.admin_token).header("content-type", "audio/wav");
        assert_eq!(audio.body(std::fs::read(&call).unwrap()).send().await.unwrap().status(), 201);
    });
    let out = s.cli(&["recordings", "transcribe", "acme", "call-1"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout(&out),
        "[   0.00 –    2.00]  utterance 1  neutral +0.00\n[   2.00 –    3.00]  utterance 2  neutral +0.00\n"
    );
    let out = s.cli(&["recordings", "search", "acme", "--q", "utterance 2", "--json"]);
    assert_eq!(json(&out)["items"][0]["recording_id"], "call-1", "{}", stdout(&out));
    runtime.block_on(async {
        let earlier = serde_json::json!({"global_interaction_id": "gi-0", "call_started_at": "2026-11-30T08:00:00Z",
            "agent_login": "jo", "direction": "outbound", "service": "Sales"});
        let put = http.put(recording.replace("call-1", "call-0")).bearer_auth(&s.admin_token).json(&earlier);
        assert_eq!(put.send().await.unwrap().status(), 201);
    });
    let ids = |out: &std::process::Output| -> Vec<String> {
        let items = json(out)["items"].as_array().cloned().unwrap_or_default();
        items.iter().map(|r| r["recording_id"].as_str().unwrap_or_default().to_owned()).collect()
    };
    assert_eq!(ids(&s.cli(&["recordings", "search", "acme", "--json"])), ["call-1", "call-0"]);
    assert_eq!(ids(&s.cli(&["recordings", "search", "acme", "--oldest", "--json"])), ["call-0", "call-1"]);
    let out = s.cli(&["recordings", "auto-transcribe", "acme", "--on", "--service", "Sales"]);
    assert_eq!(stdout(&out), "new recordings of Sales are transcribed as their audio arrives\n");

    // A topic goes to the native knowledge base and is found there.
    let out = s.cli(&["gateway", "topic", "acme", "Parking", "Visitors park in lot B."]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).starts_with("submitted to native as "), "{}", stdout(&out));
    let out = s.cli(&["gateway", "kb", "acme", "lot b", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let found = json(&out);
    assert_eq!((found["provider"].as_str(), found["results"][0]["title"].as_str()), (Some("native"), Some("Parking")));
}
