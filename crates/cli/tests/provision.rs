//! Provisioning as code against a real `patchbay serve`: `apply` creates, changes nothing
//! the second time (no version bumps), updates exactly what a file changes, prunes, refuses
//! inline secrets and missing references without changing anything, and `export` writes no
//! secret and round-trips to a fresh server.

mod process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::keys::wfm::{aspect_tcp, http_post};
use patchbay_catalog::keys::{loxysoft, statistics_receiver, DEFAULT_ACCOUNT};
use process::ServerProcess;
use serde_json::{json, Value};

const FB_TOKEN: &str = "fb-token-SENTINEL-5c1e";
const FB_VERIFY: &str = "fb-verify-SENTINEL-0b7a";
const S3_SECRET: &str = "s3-secret-SENTINEL-d4f2";
const STT_KEY: &str = "stt-key-SENTINEL-9a3c";
const LOX_TOKEN: &str = "lox-token-SENTINEL-71e8";
const SENTINELS: &[&str] = &[FB_TOKEN, FB_VERIFY, S3_SECRET, STT_KEY, LOX_TOKEN];

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("an exit code")
}

/// Every output of the CLI, checked for secret values at the end of each test.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    fn assert_no_secret(&self, server: &ServerProcess) {
        for text in self.0.iter().chain([&server.log()]) {
            for sentinel in SENTINELS {
                assert!(!text.contains(sentinel), "a secret value was printed: {text}");
            }
        }
    }
}

/// Runs the CLI against `s` with the admin token and `env`, in the test's directory.
fn run(s: &ServerProcess, log: &mut Transcript, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec![("PATCHBAY_SERVER", s.base.as_str()), ("PATCHBAY_TOKEN", s.admin_token.as_str())];
    all.extend_from_slice(env);
    let out = process::cli(args, &all, s.dir.path());
    log.0.push(format!("{}{}", stdout(&out), stderr(&out)));
    out
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
    std::fs::write(&path, text).expect("the file is written");
    path
}

/// `GET` on the API with the admin token.
fn get(s: &ServerProcess, path: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", s.base))
            .bearer_auth(&s.admin_token)
            .send()
            .await
            .expect("the server answers");
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().await.expect("JSON")
    })
}

fn accounts(s: &ServerProcess, tenant: &str) -> BTreeMap<String, Value> {
    let list = get(s, &format!("/api/v1/tenants/{tenant}/integration-accounts"));
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| (a["name"].as_str().unwrap().to_owned(), a.clone()))
        .collect()
}

fn versions(s: &ServerProcess, tenant: &str) -> BTreeMap<String, i64> {
    accounts(s, tenant).into_iter().map(|(name, a)| (name, a["version"].as_i64().unwrap())).collect()
}

fn tenant_ids(s: &ServerProcess) -> Vec<String> {
    let list = get(s, "/api/v1/tenants");
    list["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

/// The lines of a plan that announce a change or an unchanged item, without the summary.
fn plan_lines(out: &Output) -> Vec<String> {
    stdout(out).lines().filter(|l| !l.starts_with("plan:")).map(str::to_owned).collect()
}

const ACME: &str = r#"
# Acme's integration accounts.
tenants:
  - id: acme
    name: Acme Support
    enabled_types: [aws]
    accounts:
      - name: Facebook main
        type: messenger
        provider: facebook
        enabled: true
        properties:
          page_username: acme
          page_id: "1234567890"
          token: ${FB_PAGE_TOKEN}
          webhook_verify_token: file:secrets/fb_verify
      - name: Stats
        type: statistics_receiver
        properties:
          host_name: stats.example.com
          port: 9000
      - name: RTA
        type: wfm
        provider: aspect_tcp
        properties:
          host_name: rta.example.com
          port: 5000
          record_field_sizes: {service: 40}
          reason_codes_mapping: {Lunch: 3, Break: 4}
      - name: Recordings
        type: aws
        enabled: false
        properties:
          s3_bucket: acme-recordings
          access_key_id: AKIAEXAMPLE
          secret_key: ${S3_SECRET}
---
tenants:
  - id: beta
    name: Beta Care
    accounts: []
"#;

fn acme_env() -> Vec<(&'static str, &'static str)> {
    vec![("FB_PAGE_TOKEN", FB_TOKEN), ("S3_SECRET", S3_SECRET)]
}

#[test]
fn apply_creates_then_is_idempotent_and_updates_exactly_what_changed() {
    let s = ServerProcess::start(&[]);
    let mut log = Transcript::default();
    let dir = s.dir.path().join("files");
    write(&dir, "secrets/fb_verify", &format!("{FB_VERIFY}\n"));
    let file = write(&dir, "acme.yaml", ACME);
    let file = file.to_str().unwrap();
    let env = acme_env();

    // The plan lists what apply would do and changes nothing; exit 8 means changes are pending.
    let plan = run(&s, &mut log, &["apply", "-f", file, "--plan"], &env);
    assert_eq!(code(&plan), 8, "{}{}", stdout(&plan), stderr(&plan));
    assert_eq!(
        plan_lines(&plan),
        [
            "+ create tenant acme: name \"Acme Support\", enabled types: aws",
            "  + create \"Facebook main\" (messenger/facebook)",
            "  + create \"Stats\" (statistics_receiver/default)",
            "  + create \"RTA\" (wfm/aspect_tcp)",
            "  + create \"Recordings\" (aws/default)",
            "+ create tenant beta: name \"Beta Care\", enabled types: none",
        ]
    );
    assert!(stdout(&plan).contains("plan: 6 to create, 0 to update, 0 to delete, 0 unchanged"));
    assert!(tenant_ids(&s).is_empty(), "a plan changes nothing");

    let applied = run(&s, &mut log, &["apply", "-f", file], &env);
    assert_eq!(code(&applied), 0, "{}", stderr(&applied));
    assert!(stdout(&applied).contains("applied: 6 created, 0 updated, 0 deleted, 0 unchanged"), "{}", stdout(&applied));
    let acme = accounts(&s, "acme");
    assert_eq!(acme.len(), 4);
    let fb = &acme["Facebook main"];
    assert_eq!(fb["properties"], json!({facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "1234567890"}));
    assert_eq!(
        fb["secrets"],
        json!({facebook::APP_SECRET: false, facebook::TOKEN: true, facebook::WEBHOOK_VERIFY_TOKEN: true})
    );
    let sizes = &acme["RTA"]["properties"][aspect_tcp::RECORD_FIELD_SIZES];
    assert_eq!(sizes["service"], 40);
    assert_eq!(sizes["agent_id"], 16, "the server fills in defaults");
    assert_eq!(acme["Recordings"]["enabled"], false);
    assert_eq!(get(&s, "/api/v1/tenants/acme")["enabled_types"], json!(["aws"]));
    let before = versions(&s, "acme");
    assert!(before.values().all(|v| *v == 1), "{before:?}");
    let tenant_version = get(&s, "/api/v1/tenants/acme")["version"].clone();
    let audit_entries = get(&s, "/api/v1/tenants/acme/audit")["items"].as_array().unwrap().len();

    // Applying the same files again changes nothing: no version, no audit entry.
    let plan = run(&s, &mut log, &["apply", "-f", file, "--plan"], &env);
    assert_eq!(code(&plan), 0, "{}", stdout(&plan));
    assert!(stdout(&plan).contains("  = unchanged \"Stats\" (statistics_receiver/default)\n"), "{}", stdout(&plan));
    assert!(stdout(&plan).contains("plan: no changes (6 unchanged)"), "{}", stdout(&plan));
    let again = run(&s, &mut log, &["apply", "-f", file], &env);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(stdout(&again).contains("applied: 0 created, 0 updated, 0 deleted, 6 unchanged"), "{}", stdout(&again));
    assert_eq!(versions(&s, "acme"), before, "a second apply bumps no version");
    assert_eq!(get(&s, "/api/v1/tenants/acme")["version"], tenant_version);
    assert_eq!(get(&s, "/api/v1/tenants/acme/audit")["items"].as_array().unwrap().len(), audit_entries);

    // One property changes: exactly that account is updated.
    write(&dir, "acme.yaml", &ACME.replace("port: 9000", "port: 9001"));
    let plan = run(&s, &mut log, &["apply", "-f", file, "--plan", "--json"], &env);
    assert_eq!(code(&plan), 8);
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("a JSON plan");
    let changes: Vec<&Value> =
        plan["changes"].as_array().unwrap().iter().filter(|c| c["action"] != "unchanged").collect();
    assert_eq!(
        changes,
        [
            &json!({"tenant": "acme", "account": "Stats", "type": "statistics_receiver", "provider": "default", "action": "update", "details": ["port"]})
        ]
    );
    assert_eq!(plan["summary"], json!({"create": 0, "update": 1, "delete": 0, "unchanged": 5}));
    let updated = run(&s, &mut log, &["apply", "-f", file], &env);
    assert_eq!(code(&updated), 0, "{}", stderr(&updated));
    assert!(
        stdout(&updated).contains("  ~ update \"Stats\" (statistics_receiver/default): port"),
        "{}",
        stdout(&updated)
    );
    let after = versions(&s, "acme");
    for (name, version) in &after {
        assert_eq!(*version, before[name] + i64::from(name == "Stats"), "{name}");
    }
    assert_eq!(accounts(&s, "acme")["Stats"]["properties"][statistics_receiver::PORT], 9001);

    // A secret's value cannot be compared by the client: the plan says so, apply sends it
    // and the server tells whether it changed.
    let rotated = [("FB_PAGE_TOKEN", "fb-token-rotated"), ("S3_SECRET", S3_SECRET)];
    let plan = run(&s, &mut log, &["apply", "-f", file, "--plan"], &rotated);
    assert_eq!(code(&plan), 0);
    assert!(stdout(&plan).contains(
        "  = unchanged \"Facebook main\" (messenger/facebook): secrets sent for the server to compare: token webhook_verify_token"
    ));
    let applied = run(&s, &mut log, &["apply", "-f", file], &rotated);
    assert_eq!(code(&applied), 0, "{}", stderr(&applied));
    assert!(stdout(&applied).contains("~ update \"Facebook main\" (messenger/facebook): a secret value changed"));
    let rotated_versions = versions(&s, "acme");
    assert_eq!(rotated_versions["Facebook main"], after["Facebook main"] + 1);
    assert_eq!(rotated_versions["Recordings"], after["Recordings"], "an equal secret is no change");

    // Renaming the tenant, its time zone, a case change of an account name and disabling are
    // updates too.
    let edited = ACME
        .replace("port: 9000", "port: 9001")
        .replace("name: Acme Support", "name: Acme Europe\n    time_zone: Europe/Berlin");
    let edited = edited.replace("name: Stats", "name: STATS");
    write(
        &dir,
        "acme.yaml",
        &edited.replace(
            "        type: statistics_receiver\n",
            "        type: statistics_receiver\n        enabled: false\n",
        ),
    );
    let plan = run(&s, &mut log, &["apply", "-f", file, "--plan"], &rotated);
    let lines = plan_lines(&plan);
    assert!(lines.contains(&"~ update tenant acme: name, time_zone (UTC -> Europe/Berlin)".to_owned()), "{lines:?}");
    assert!(
        lines.contains(&"  ~ update \"STATS\" (statistics_receiver/default): name, enabled".to_owned()),
        "{lines:?}"
    );
    let applied = run(&s, &mut log, &["apply", "-f", file], &rotated);
    assert_eq!(code(&applied), 0, "{}", stderr(&applied));
    let tenant = get(&s, "/api/v1/tenants/acme");
    assert_eq!((&tenant["name"], &tenant["time_zone"]), (&json!("Acme Europe"), &json!("Europe/Berlin")));
    log.assert_no_secret(&s);
}

#[test]
fn prune_deletes_what_the_files_no_longer_name() {
    let s = ServerProcess::start(&[]);
    let mut log = Transcript::default();
    let dir = s.dir.path().join("files");
    let env = [("STT_KEY", STT_KEY), ("LOX_TOKEN", LOX_TOKEN)];
    let first = r#"
tenants:
  - id: acme
    accounts:
      - {name: RTA, type: wfm, provider: http_post, properties: {url: "https://wfm.example.com/rta"}}
      - {name: Stats, type: statistics_receiver, properties: {host_name: stats.example.com, port: 9000}}
      - {name: Old stats, type: statistics_receiver, properties: {host_name: old.example.com, port: 9000}}
      - {name: STT A, type: stt, provider: govivace, properties: {api_key: "${STT_KEY}", default_account: true}}
      - {name: STT B, type: stt, provider: govivace, properties: {api_key: "${STT_KEY}"}}
  - id: beta
  - id: gamma
    accounts: []
"#;
    let file = write(&dir, "tenants.yaml", first);
    let file = file.to_str().unwrap();
    assert_eq!(code(&run(&s, &mut log, &["apply", "-f", file], &env)), 0);
    assert_eq!(accounts(&s, "acme").len(), 5);
    // Accounts made outside the files: in beta (whose accounts the files do not list) and in acme.
    for (tenant, name) in [("beta", "Manual"), ("acme", "Manual")] {
        let made = run(
            &s,
            &mut log,
            &[
                "accounts",
                "create",
                "--tenant",
                tenant,
                "--type",
                "statistics_receiver",
                "--name",
                name,
                "--set",
                "host_name=m.example.com",
                "--set",
                "port=1",
            ],
            &[],
        );
        assert_eq!(code(&made), 0, "{}", stderr(&made));
    }
    let stats_version = versions(&s, "acme")["Stats"];

    // The WFM account moves from WFM to Loxysoft (one per tenant: the delete goes first), Old
    // stats goes, and the default STT account moves from A to B.
    let second = r#"
tenants:
  - id: acme
    accounts:
      - {name: Loxysoft, type: loxysoft, properties: {url: "https://lox.example.com/feed", token: "${LOX_TOKEN}"}}
      - {name: Stats, type: statistics_receiver, properties: {host_name: stats.example.com, port: 9000}}
      - {name: STT B, type: stt, provider: govivace, properties: {api_key: "${STT_KEY}", default_account: true}}
      - {name: STT A, type: stt, provider: govivace, properties: {api_key: "${STT_KEY}"}}
  - id: beta
"#;
    write(&dir, "tenants.yaml", second);
    let plan = run(&s, &mut log, &["apply", "-f", file, "--plan"], &env);
    assert_eq!(code(&plan), 8);
    assert_eq!(
        plan_lines(&plan),
        [
            "= unchanged tenant acme",
            "  ~ update \"STT A\" (stt/govivace): default_account",
            "  ~ update \"STT B\" (stt/govivace): default_account",
            "  = unchanged \"Stats\" (statistics_receiver/default)",
            "  + create \"Loxysoft\" (loxysoft/default)",
            "= unchanged tenant beta",
        ],
        "without --prune nothing is deleted"
    );
    let plan = run(&s, &mut log, &["apply", "-f", file, "--plan", "--prune"], &env);
    assert_eq!(code(&plan), 8);
    let lines = plan_lines(&plan);
    assert_eq!(
        lines[..4],
        [
            "= unchanged tenant acme",
            "  - delete \"Manual\" (statistics_receiver/default)",
            "  - delete \"Old stats\" (statistics_receiver/default)",
            "  - delete \"RTA\" (wfm/http_post)",
        ]
    );
    assert!(!stdout(&plan).contains("gamma") && !stdout(&plan).contains("delete tenant"), "{}", stdout(&plan));
    assert_eq!(accounts(&s, "acme").len(), 6, "a plan changes nothing");

    let applied = run(&s, &mut log, &["apply", "-f", file, "--prune"], &env);
    assert_eq!(code(&applied), 0, "{}{}", stdout(&applied), stderr(&applied));
    let acme = accounts(&s, "acme");
    assert_eq!(acme.keys().collect::<Vec<_>>(), ["Loxysoft", "STT A", "STT B", "Stats"]);
    assert_eq!(acme["STT B"]["properties"][DEFAULT_ACCOUNT], true);
    assert_eq!(acme["STT A"]["properties"][DEFAULT_ACCOUNT], false);
    assert_eq!(acme["Stats"]["version"], stats_version, "what the files still name is untouched");
    assert_eq!(accounts(&s, "beta").len(), 1, "a tenant whose accounts the files do not list keeps them");
    assert_eq!(tenant_ids(&s), ["acme", "beta", "gamma"], "tenants are pruned only with --prune-tenants");

    // --prune-tenants deletes the tenants the files no longer name.
    let plan = run(&s, &mut log, &["apply", "-f", file, "--plan", "--prune", "--prune-tenants"], &env);
    assert_eq!(code(&plan), 8);
    assert!(
        plan_lines(&plan).contains(&"- delete tenant gamma: with its 0 account(s)".to_owned()),
        "{}",
        stdout(&plan)
    );
    let pruned = run(&s, &mut log, &["apply", "-f", file, "--prune", "--prune-tenants"], &env);
    assert_eq!(code(&pruned), 0, "{}", stderr(&pruned));
    assert_eq!(tenant_ids(&s), ["acme", "beta"]);
    let settled = run(&s, &mut log, &["apply", "-f", file, "--plan", "--prune", "--prune-tenants"], &env);
    assert_eq!(code(&settled), 0, "{}", stdout(&settled));

    // An account whose type changes is replaced, which deletes it: only with --prune.
    let retyped = second.replace(
        "{name: Stats, type: statistics_receiver, properties: {host_name: stats.example.com, port: 9000}}",
        "{name: Stats, type: stt, provider: govivace, properties: {api_key: \"${STT_KEY}\"}}",
    );
    write(&dir, "tenants.yaml", &retyped);
    let refused = run(&s, &mut log, &["apply", "-f", file], &env);
    assert_eq!(code(&refused), 3);
    assert!(stderr(&refused).contains("account \"Stats\": the account is a `statistics_receiver` account"));
    assert_eq!(accounts(&s, "acme")["Stats"]["type"], "statistics_receiver");
    let plan = run(&s, &mut log, &["apply", "-f", file, "--prune", "--plan"], &env);
    let lines = plan_lines(&plan);
    assert!(lines.contains(&"  - delete \"Stats\" (statistics_receiver/default)".to_owned()), "{lines:?}");
    assert!(lines.contains(&"  + create \"Stats\" (stt/govivace)".to_owned()), "{lines:?}");
    assert_eq!(code(&run(&s, &mut log, &["apply", "-f", file, "--prune"], &env)), 0);
    assert_eq!(accounts(&s, "acme")["Stats"]["type"], "stt");
    log.assert_no_secret(&s);
}

#[test]
fn bad_files_change_nothing_and_never_show_a_secret() {
    let s = ServerProcess::start(&[]);
    let mut log = Transcript::default();
    let dir = s.dir.path().join("files");
    let inline = r#"
tenants:
  - id: acme
    accounts:
      - name: FB
        type: messenger
        provider: facebook
        properties: {page_username: acme, page_id: "1", token: fb-token-SENTINEL-5c1e}
"#;
    let file = write(&dir, "inline.yaml", inline);
    let refused = run(&s, &mut log, &["apply", "-f", file.to_str().unwrap()], &[]);
    assert_eq!(code(&refused), 3);
    assert!(
        stderr(&refused).contains("tenant acme, account \"FB\", secret property `token`: the value is written inline"),
        "{}",
        stderr(&refused)
    );
    assert!(tenant_ids(&s).is_empty());
    let forced = run(&s, &mut log, &["apply", "-f", file.to_str().unwrap(), "--allow-inline-secrets"], &[]);
    assert_eq!(code(&forced), 0, "{}", stderr(&forced));
    assert_eq!(accounts(&s, "acme")["FB"]["secrets"][facebook::TOKEN], true);

    // A missing reference anywhere stops everything, naming tenant, account and property.
    let missing = r#"
tenants:
  - id: first
    accounts:
      - {name: Stats, type: statistics_receiver, properties: {host_name: stats.example.com, port: 9000}}
  - id: second
    accounts:
      - name: STT
        type: stt
        provider: govivace
        properties: {api_key: "${PATCHBAY_TEST_UNSET_VARIABLE}"}
      - name: Loxysoft
        type: loxysoft
        properties: {url: "https://lox.example.com/", token: "file:no/such/file"}
"#;
    write(&dir, "missing.yaml", missing);
    let refused = run(&s, &mut log, &["apply", "-f", dir.to_str().unwrap()], &[]);
    assert_eq!(code(&refused), 3);
    let err = stderr(&refused);
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(err.contains("tenant second, account \"STT\", secret property `api_key`: the environment variable PATCHBAY_TEST_UNSET_VARIABLE is not set"), "{err}");
    assert!(err.contains("tenant second, account \"Loxysoft\", secret property `token`: cannot read"), "{err}");
    assert!(
        err.contains("inline.yaml: tenant acme, account \"FB\", secret property `token`"),
        "a directory is read whole: {err}"
    );
    assert_eq!(tenant_ids(&s), ["acme"], "nothing was created");

    // Unknown keys, unknown properties and duplicate names are found before any request.
    let wrong = r#"
tenants:
  - id: third
    acounts: []
  - id: fourth
    accounts:
      - {name: A, type: statistics_receiver, properties: {host: x}}
      - {name: a, type: statistics_receiver}
"#;
    let file = write(&dir, "wrong.yaml", wrong);
    let refused = run(&s, &mut log, &["apply", "-f", file.to_str().unwrap()], &[]);
    assert_eq!(code(&refused), 3);
    assert!(stderr(&refused).contains("unknown field `acounts`"), "{}", stderr(&refused));
    let split = write(&dir, "split/wrong.yaml", &wrong.replace("    acounts: []\n", ""));
    let refused = run(&s, &mut log, &["apply", "-f", split.to_str().unwrap()], &[]);
    let err = stderr(&refused);
    assert!(err.contains("account \"A\": `host` is not a property of statistics_receiver/default"), "{err}");
    assert!(err.contains("account \"a\": the name is taken by \"A\""), "{err}");
    assert_eq!(tenant_ids(&s), ["acme"]);

    // An empty file does not prune every tenant.
    let empty = write(&dir, "empty/none.yaml", "# nothing yet\n");
    let refused = run(&s, &mut log, &["apply", "-f", empty.to_str().unwrap(), "--prune", "--prune-tenants"], &[]);
    assert_eq!(code(&refused), 3);
    assert!(stderr(&refused).contains("the files name no tenant"), "{}", stderr(&refused));
    assert_eq!(tenant_ids(&s), ["acme"]);

    // A gated type the tenant is not entitled to is refused before anything is sent.
    let gated = "tenants:\n  - id: fifth\n    accounts:\n      - {name: S3, type: aws, properties: {s3_bucket: b-1}}\n";
    let file = write(&dir, "split/wrong.yaml", gated);
    let refused = run(&s, &mut log, &["apply", "-f", file.to_str().unwrap()], &[]);
    assert_eq!(code(&refused), 3);
    assert!(
        stderr(&refused).contains("account \"S3\": `aws` is a gated type the tenant does not have"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(tenant_ids(&s), ["acme"]);

    // The server's own validation is reported per account, with its field errors.
    let invalid = r#"
tenants:
  - id: acme
    accounts:
      - name: FB
        type: messenger
        provider: facebook
        properties: {page_username: acme, page_id: "1", token: "${FB_PAGE_TOKEN}"}
      - name: Watson
        type: stt
        provider: watson
        properties: {url: "https://stt.example.com", username: u, password: "${STT_KEY}"}
"#;
    let file = write(&dir, "split/invalid.yaml", invalid);
    let env = [("FB_PAGE_TOKEN", FB_TOKEN), ("STT_KEY", STT_KEY)];
    let failed = run(&s, &mut log, &["apply", "-f", file.to_str().unwrap()], &env);
    assert_eq!(code(&failed), 3);
    let err = stderr(&failed);
    assert!(err.contains("tenant acme (its remaining changes were skipped): account \"Watson\": HTTP 422"), "{err}");
    assert!(err.contains("properties.url (url_scheme)"), "{err}");
    assert!(!accounts(&s, "acme").contains_key("Watson"));
    log.assert_no_secret(&s);
}

#[test]
fn export_writes_no_secret_and_round_trips_to_a_fresh_server() {
    let a = ServerProcess::start(&[]);
    let mut log = Transcript::default();
    let dir = a.dir.path().join("files");
    write(&dir, "secrets/fb_verify", FB_VERIFY);
    let stt = r#"
tenants:
  - id: contoso-eu
    name: Contoso Europe
    accounts:
      - name: STT main
        type: stt
        provider: govivace
        properties: {api_key: "${STT_KEY}", default_account: true, url: "wss://stt.example.com/x"}
      - name: Loxysoft
        type: loxysoft
        enabled: false
        properties:
          url: https://lox.example.com/feed
          token: ${LOX_TOKEN}
          skills_mapping: {Sales: S1, Support: S2}
      - name: FB
        type: messenger
        provider: facebook
        properties: {page_username: on, page_id: 000123, token: "${FB_PAGE_TOKEN}"}
"#;
    let files = [write(&dir, "acme.yaml", ACME), write(&dir, "contoso.yaml", stt)];
    let mut env = acme_env();
    env.extend([("STT_KEY", STT_KEY), ("LOX_TOKEN", LOX_TOKEN)]);
    let applied =
        run(&a, &mut log, &["apply", "-f", files[0].to_str().unwrap(), "-f", files[1].to_str().unwrap()], &env);
    assert_eq!(code(&applied), 0, "{}", stderr(&applied));

    let exported = run(&a, &mut log, &["export"], &[]);
    assert_eq!(code(&exported), 0, "{}", stderr(&exported));
    let text = stdout(&exported);
    assert!(text.contains("token: ${PATCHBAY_ACME_FACEBOOK_MAIN_TOKEN}"), "{text}");
    assert!(text.contains("webhook_verify_token: ${PATCHBAY_ACME_FACEBOOK_MAIN_WEBHOOK_VERIFY_TOKEN}"), "{text}");
    assert!(text.contains("api_key: ${PATCHBAY_CONTOSO_EU_STT_MAIN_API_KEY}"), "{text}");
    assert!(text.contains("#   PATCHBAY_ACME_RECORDINGS_SECRET_KEY\n"), "the header lists the variables: {text}");
    let one = run(&a, &mut log, &["export", "--tenant", "beta"], &[]);
    assert!(stdout(&one).contains("- id: beta") && !stdout(&one).contains("acme"), "{}", stdout(&one));

    // Into a directory: one file per tenant, applied to a fresh server with the variables set.
    let out_dir = a.dir.path().join("exported");
    let written = run(&a, &mut log, &["export", "-o", &format!("{}/", out_dir.display())], &[]);
    assert_eq!(code(&written), 0, "{}", stderr(&written));
    let mut names: Vec<String> =
        std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["acme.yaml", "beta.yaml", "contoso-eu.yaml"]);
    let placeholders: Vec<String> =
        text.split("${").skip(1).map(|rest| rest.split('}').next().unwrap().to_owned()).collect();
    assert_eq!(placeholders.len(), 6, "{placeholders:?}");
    let values: Vec<(String, String)> = placeholders.iter().map(|p| (p.clone(), format!("new-value-of-{p}"))).collect();
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let b = ServerProcess::start(&[]);
    let out_dir = out_dir.to_str().unwrap();
    let missing = run(&b, &mut log, &["apply", "-f", out_dir], &[]);
    assert_eq!(code(&missing), 3, "the placeholders must be set");
    assert!(tenant_ids(&b).is_empty());
    let restored = run(&b, &mut log, &["apply", "-f", out_dir], &values);
    assert_eq!(code(&restored), 0, "{}{}", stdout(&restored), stderr(&restored));
    for server in [&a, &b] {
        assert_eq!(tenant_ids(server), ["acme", "beta", "contoso-eu"]);
    }
    for tenant in ["acme", "beta", "contoso-eu"] {
        let (ta, tb) = (get(&a, &format!("/api/v1/tenants/{tenant}")), get(&b, &format!("/api/v1/tenants/{tenant}")));
        assert_eq!((&ta["name"], &ta["enabled_types"]), (&tb["name"], &tb["enabled_types"]), "{tenant}");
        let (aa, ab) = (accounts(&a, tenant), accounts(&b, tenant));
        assert_eq!(aa.keys().collect::<Vec<_>>(), ab.keys().collect::<Vec<_>>(), "{tenant}");
        for (name, x) in &aa {
            let y = &ab[name];
            for key in ["type", "provider", "enabled", "properties", "secrets"] {
                assert_eq!(x[key], y[key], "{tenant} / {name}: {key}");
            }
        }
    }
    // YAML 1.2: `on` is text, and digits with a leading zero stay text, both ways.
    assert_eq!(
        accounts(&b, "contoso-eu")["FB"]["properties"],
        json!({facebook::PAGE_USERNAME: "on", facebook::PAGE_ID: "000123"})
    );
    assert_eq!(
        accounts(&b, "contoso-eu")["Loxysoft"]["properties"][loxysoft::SKILLS_MAPPING],
        json!({"Sales": "S1", "Support": "S2"})
    );

    // The export describes the first server exactly: planning it there changes nothing.
    let plan = run(&a, &mut log, &["apply", "-f", out_dir, "--plan"], &values);
    assert_eq!(code(&plan), 0, "{}", stdout(&plan));
    log.assert_no_secret(&a);
    log.assert_no_secret(&b);
}

const WFM_FILE: &str = r#"
tenants:
  - id: acme
    accounts:
      - name: WFM
        type: wfm
        provider: http_post
        properties:
          url: https://wfm.example.com/rta
          token: ${WFM_TOKEN}
"#;

#[test]
fn apply_that_moves_an_account_needs_its_secrets_in_the_files_again() {
    let s = ServerProcess::start(&[]);
    let mut log = Transcript::default();
    let dir = s.dir.path().join("files");
    let file = write(&dir, "acme.yaml", WFM_FILE);
    let file = file.to_str().unwrap();
    let env = [("WFM_TOKEN", LOX_TOKEN)];
    assert_eq!(code(&run(&s, &mut log, &["apply", "-f", file], &env)), 0);

    // The URL moves and the token line is gone: the stored token would follow the URL.
    let moved =
        WFM_FILE.replace("wfm.example.com", "wfm.attacker.example").replace("          token: ${WFM_TOKEN}\n", "");
    write(&dir, "acme.yaml", &moved);
    for args in [&["apply", "-f", file, "--plan"][..], &["apply", "-f", file][..]] {
        let refused = run(&s, &mut log, args, &[]);
        assert_eq!(code(&refused), 3, "{args:?}: {}{}", stdout(&refused), stderr(&refused));
        let why = stderr(&refused);
        assert!(why.contains("nothing was changed"), "{why}");
        assert!(why.contains("account \"WFM\"") && why.contains("`token`"), "names the account and field: {why}");
    }
    let wfm = &accounts(&s, "acme")["WFM"];
    assert_eq!(
        (wfm["version"].as_i64(), wfm["properties"][http_post::URL].as_str()),
        (Some(1), Some("https://wfm.example.com/rta"))
    );

    // With the reference given again, apply moves it.
    write(&dir, "acme.yaml", &WFM_FILE.replace("wfm.example.com", "wfm2.example.com"));
    let applied = run(&s, &mut log, &["apply", "-f", file], &env);
    assert_eq!(code(&applied), 0, "{}", stderr(&applied));
    assert_eq!(accounts(&s, "acme")["WFM"]["properties"][http_post::URL], "https://wfm2.example.com/rta");
    log.assert_no_secret(&s);
}
