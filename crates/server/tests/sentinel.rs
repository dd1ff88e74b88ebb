//! A sentinel secret written into every secret field of every provider is found in no API
//! response, no log line, no audit row and no byte of the database.

use std::io::Write;
use std::sync::{Arc, Mutex};

use patchbay_testkit::{databases, TestServer};
use reqwest::Method;
use serde_json::{json, Map, Value};
use sqlx::Connection;

const SENTINEL: &str = "SENTINEL-7f3a9c-do-not-leak";

/// Collects every log line of this test binary.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A valid value for a catalog field, as the catalog endpoint describes it.
fn sample(field: &Value) -> Value {
    match field["kind"].as_str().unwrap() {
        "secret" => json!(SENTINEL),
        "url" => json!(format!("{}://svc.example.com/x", field["schemes"][0].as_str().unwrap())),
        "integer" => field["min"].clone(),
        "bool" => json!(true),
        "enum" => field["choices"][0]["value"].clone(),
        "mapping" => json!({}),
        "contact_field_mapping" => json!([]),
        "record_field_sizes" => json!({}),
        _ => match field["rule"].as_str() {
            Some("hostname") => json!("host.example.com"),
            Some("host_port") => json!("host.example.com:443"),
            Some("bucket_name") => json!("bucket-one"),
            Some("email") => json!("a@example.com"),
            Some("pem_certificate") => json!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            _ => json!("value"),
        },
    }
}

async fn database_text(db: &patchbay_testkit::TestDatabase) -> Vec<u8> {
    if db.backend == "sqlite" {
        return db.sqlite_files().iter().flat_map(|p| std::fs::read(p).unwrap_or_default()).collect();
    }
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut text = Vec::new();
    for table in ["tenants", "accounts", "account_secrets", "audit", "tokens", "meta"] {
        let rows: String =
            sqlx::query_scalar(&format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {table} t"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        text.extend_from_slice(rows.as_bytes());
    }
    text
}

#[tokio::test]
async fn sentinel_secret_is_in_no_response_log_audit_or_database_byte() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt().with_env_filter("trace").with_writer(move || writer.clone()).with_ansi(false).init();

    for db in databases().await {
        let s = TestServer::start(&db).await;
        let mut responses = String::new();
        let tenant = json!({"id": "acme", "enabled_types": ["aws", "nice", "external_kb"]});
        s.call(Method::POST, "/api/v1/tenants", Some(tenant)).await;
        let catalog = s.call(Method::GET, "/api/v1/integration-types", None).await;
        let mut paths = Vec::new();
        for t in catalog.body["items"].as_array().unwrap() {
            for p in t["providers"].as_array().unwrap() {
                let props: Map<String, Value> = p["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["fixed"] != json!(true))
                    .map(|f| (f["key"].as_str().unwrap().to_owned(), sample(f)))
                    .collect();
                let name = format!("{} {}", t["key"].as_str().unwrap(), p["key"].as_str().unwrap());
                let body = json!({"type": t["key"], "provider": p["key"], "name": name, "properties": props});
                let created =
                    s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(body.clone())).await;
                responses.push_str(&created.text);
                if created.status != 201 {
                    // Singleton groups allow one account (wfm/loxysoft); everything else must save.
                    assert_eq!(created.status, 409, "{name}: {}", created.text);
                    continue;
                }
                let path =
                    format!("/api/v1/tenants/acme/integration-accounts/{}", created.body["id"].as_str().unwrap());
                // A failed save that carries the secret does not echo it.
                let mut bad = body.clone();
                bad["name"] = json!("");
                responses.push_str(&s.call(Method::PUT, &path, Some(bad)).await.text);
                let mut replace = body.clone();
                replace["name"] = json!(format!("{name} v2"));
                responses.push_str(&s.call(Method::PUT, &path, Some(replace)).await.text);
                responses.push_str(&s.call(Method::GET, &path, None).await.text);
                responses.push_str(&s.call(Method::GET, &format!("{path}/audit"), None).await.text);
                paths.push(path);
            }
        }
        // 29 providers, less the two that share the WFM singleton with the first and the
        // second default STT account.
        assert_eq!(paths.len(), 26, "{}: accounts saved", s.backend);
        for path in [
            "/api/v1/tenants/acme/integration-accounts",
            "/api/v1/tenants/acme/audit?limit=500",
            "/api/v1/tenants/acme",
        ] {
            responses.push_str(&s.call(Method::GET, path, None).await.text);
        }
        assert!(!responses.contains(SENTINEL), "{}: a response carries the secret", s.backend);
        let bytes = database_text(&db).await;
        assert!(!bytes.is_empty());
        let hex = SENTINEL.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let haystack = String::from_utf8_lossy(&bytes);
        assert!(
            !haystack.contains(SENTINEL) && !haystack.contains(&hex),
            "{}: the database holds the secret in clear",
            s.backend
        );
        s.stop().await;
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request"), "the log capture works");
    assert!(!logs.contains(SENTINEL), "a log line carries the secret");
}
