//! A sentinel secret written into every secret field of every provider is found in no API
//! response, no log line, no audit row and no byte of the database; and a connection test
//! of every provider, logged at `trace` by the service's own subscriber, logs none of its
//! secrets in any form.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use patchbay_testkit::tls::{https, TestCa};
use patchbay_testkit::{backend_test, TestServer};
use reqwest::Method;
use serde_json::{json, Map, Value};
use sqlx::Connection;
use tracing_subscriber::util::SubscriberInitExt as _;

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

/// Every log line of this test binary, written by the subscriber `patchbay serve` installs,
/// at `trace`, the most verbose level an operator can ask for.
fn captured_logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        patchbay_server::logging::subscriber("trace", false, move || writer.clone()).init();
        logs
    })
    .clone()
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A valid value for a catalog field, as the catalog endpoint describes it, addressing
/// `host` and `port` where the field names a target.
fn sample(field: &Value, host: &str, port: u16) -> Value {
    match field["kind"].as_str().unwrap() {
        "secret" => json!(SENTINEL),
        "url" => json!(format!("{}://{host}:{port}/x", field["schemes"][0].as_str().unwrap())),
        "integer" if field["key"].as_str().unwrap().contains("port") => json!(port),
        "integer" => field["min"].clone(),
        _ if field["key"] == "api_version" => json!("v59.0"),
        "bool" => json!(true),
        "enum" => field["choices"][0]["value"].clone(),
        "mapping" => json!({}),
        "contact_field_mapping" => json!([]),
        "record_field_sizes" => json!({}),
        _ => match field["rule"].as_str() {
            Some("hostname") => json!(host),
            Some("host_port") => json!(format!("{host}:{port}")),
            Some("bucket_name") => json!("bucket-one"),
            Some("email") => json!("a@example.com"),
            Some("pem_certificate") => json!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            _ => json!("value"),
        },
    }
}

/// How many of the accounts made one per catalog provider save: all but those whose
/// one-per-tenant group or default group (the sample sets every `default_account`) an
/// earlier one already holds.
fn saved_of_every_provider() -> usize {
    let mut held = std::collections::HashSet::new();
    let catalog = patchbay_catalog::catalog();
    let providers = catalog.types.iter().flat_map(|t| t.providers.iter().map(move |p| (t, p)));
    providers
        .filter(|(t, p)| {
            let groups: Vec<String> =
                t.singleton_key(p.key).into_iter().chain(p.default_group.map(|g| format!("default {g}"))).collect();
            let free = groups.iter().all(|g| !held.contains(g));
            if free {
                held.extend(groups);
            }
            free
        })
        .count()
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

backend_test! {
    #[tokio::test]
    async fn sentinel_secret_is_in_no_response_log_audit_or_database_byte(db) {
        let logs = captured_logs();

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
                    .map(|f| (f["key"].as_str().unwrap().to_owned(), sample(f, "svc.example.com", 443)))
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
        assert_eq!(paths.len(), saved_of_every_provider(), "accounts saved");
        for path in [
            "/api/v1/tenants/acme/integration-accounts",
            "/api/v1/tenants/acme/audit?limit=500",
            "/api/v1/tenants/acme",
        ] {
            responses.push_str(&s.call(Method::GET, path, None).await.text);
        }
        assert!(!responses.contains(SENTINEL), "a response carries the secret");
        let bytes = database_text(&db).await;
        assert!(!bytes.is_empty());
        let hex = SENTINEL.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let haystack = String::from_utf8_lossy(&bytes);
        assert!(!haystack.contains(SENTINEL) && !haystack.contains(&hex), "the database holds the secret in clear");
        s.stop().await;
        let logs = logs.text();
        assert!(logs.contains("request"), "the log capture works");
        assert!(!logs.contains(SENTINEL), "a log line carries the secret");
    }
}

/// The forms a log line may carry the sentinel in: as is, percent-encoded (either hex case,
/// or form encoding), and base64 of either alphabet at every alignment (so also inside
/// `user:secret` Basic credentials or a JSON body).
fn sentinel_forms() -> Vec<String> {
    let percent: String = SENTINEL
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    let mut forms = vec![
        SENTINEL.to_owned(),
        percent.clone(),
        percent.to_lowercase(),
        url::form_urlencoded::byte_serialize(SENTINEL.as_bytes()).collect(),
    ];
    for engine in [base64::engine::general_purpose::STANDARD, base64::engine::general_purpose::URL_SAFE] {
        for offset in 0..3 {
            // The characters that depend on the sentinel's bytes alone, whatever precedes or follows.
            let encoded = engine.encode([&b"xx"[..offset], SENTINEL.as_bytes()].concat());
            let first = if offset == 0 { 0 } else { 4 };
            let last = (offset + SENTINEL.len()) / 3 * 4;
            forms.push(encoded[first..last].to_owned());
        }
    }
    forms
}

/// A peer that refuses every request with `status` and the error body `shape` makes of
/// all it was sent (method, path and query, headers with the credentials, body).
fn echoing(status: axum::http::StatusCode, shape: fn(&axum::http::Uri, String) -> Value) -> axum::Router {
    axum::Router::new().fallback(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: axum::http::HeaderMap,
              body: axum::body::Bytes| async move {
            let echo = format!("{method} {uri} {headers:?} {}", String::from_utf8_lossy(&body));
            (status, axum::Json(shape(&uri, echo)))
        },
    )
}

/// `router` over HTTPS as every vendor (the built-in vendor URLs point at it) and a server
/// that trusts it.
async fn serving_every_vendor(
    db: &patchbay_testkit::TestDatabase,
    router: axum::Router,
    ca: &TestCa,
) -> (std::net::SocketAddr, TestServer) {
    let peer = https(router, ca).await;
    let vendor_url = url::Url::parse(&format!("https://localhost:{}/", peer.port())).unwrap();
    let s = TestServer::start_with(db, |settings| {
        settings.egress.extra_roots_pem = Some(ca.ca_pem.clone());
        settings.vendor_urls =
            patchbay_connectors::VENDORS.iter().map(|(name, _)| ((*name).to_owned(), vendor_url.clone())).collect();
    })
    .await;
    (peer, s)
}

/// A provider's connection test request: every field sampled, targets at `peer`.
fn test_body(type_key: &Value, provider: &Value, peer: std::net::SocketAddr) -> Value {
    let props: Map<String, Value> = provider["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fixed"] != json!(true))
        .map(|f| (f["key"].as_str().unwrap().to_owned(), sample(f, "localhost", peer.port())))
        .collect();
    json!({"type": type_key, "provider": provider["key"], "name": "trace test", "properties": props})
}

backend_test! {
    #[tokio::test]
    async fn at_trace_a_connection_test_of_every_provider_logs_no_secret_in_any_form(db) {
        let logs = captured_logs();
        // One HTTPS peer stands in for every vendor: it answers each request (a WebSocket
        // handshake too) with 401, after the client has sent its credentials.
        let ca = TestCa::new();
        let router = axum::Router::new().fallback(|| async {
            (axum::http::StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "unauthorized"})))
        });
        let (peer, s) = serving_every_vendor(&db, router, &ca).await;
        let tenant = json!({"id": "acme", "enabled_types": ["aws", "nice", "external_kb"]});
        s.call(Method::POST, "/api/v1/tenants", Some(tenant)).await;
        let catalog = s.call(Method::GET, "/api/v1/integration-types", None).await;
        let mut missed = Vec::new();
        for t in catalog.body["items"].as_array().unwrap() {
            for p in t["providers"].as_array().unwrap().iter().filter(|p| p["test"]["kind"] == "supported") {
                let name = format!("{} {}", t["key"].as_str().unwrap(), p["key"].as_str().unwrap());
                let body = test_body(&t["key"], p, peer);
                let report = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts/test", Some(body)).await;
                assert_eq!(report.status, 200, "{name}: {}", report.text);
                let steps = report.body["steps"].as_array().unwrap();
                if !steps.iter().any(|step| step["name"] == "connect" && step["status"] == "ok") {
                    missed.push(format!("{name}: {}", report.body["message"]));
                }
            }
        }
        // Every provider with a test but SSO (which stops at its made-up IdP certificate)
        // reached the peer.
        assert!(missed.iter().all(|m| m.starts_with("sso ")), "not tested against the peer: {missed:#?}");
        s.stop().await;
        let logs = logs.text();
        assert!(logs.contains("TRACE"), "the capture holds trace lines");
        let forms = sentinel_forms();
        let leaks: Vec<&str> = logs.lines().filter(|l| forms.iter().any(|f| l.contains(f))).collect();
        assert!(leaks.is_empty(), "{} log lines at trace carry a secret:\n{}", leaks.len(), leaks.join("\n"));
    }
}

backend_test! {
    #[tokio::test]
    async fn gateway_calls_of_every_gateway_provider_carry_no_secret_back_even_from_a_vendor_that_echoes(db) {
        let logs = captured_logs();
        // One HTTPS peer stands in for every vendor and refuses each request with an error
        // that echoes all it was sent (path and query, headers with the credentials, body),
        // in the error shape each vendor's client reads: `{"error": "…"}` for IBM, OAuth,
        // Zendesk, Alterra and The Data Group, `{"error": {"message": "…"}}` for Next Caller,
        // ServiceNow and Google.
        let ca = TestCa::new();
        let router = echoing(axum::http::StatusCode::UNAUTHORIZED, |uri, echo| {
            let nested = ["/v2.1/records", "/api/now/", "text:synthesize"].iter().any(|p| uri.to_string().contains(p));
            if nested {
                json!({"error": {"message": echo.clone()}, "detail": echo})
            } else {
                json!({"error": echo.clone(), "error_description": echo.clone(), "message": echo.clone(), "detail": echo})
            }
        });
        let (peer, s) = serving_every_vendor(&db, router, &ca).await;
        s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme", "enabled_types": ["external_kb"]}))).await;
        let catalog = s.call(Method::GET, "/api/v1/integration-types", None).await;
        let operation = |type_key: &str| -> Option<(&'static str, Value)> {
            Some(match type_key {
                "chat_bot" => ("suggestions", json!({"text": "hello", "conversation_id": "c1"})),
                "nlu" => ("sentiment", json!({"text": "hello"})),
                "next_caller" | "tdg" => ("identify", json!({"phone": "2125558383"})),
                "salesforce" | "zendesk" | "servicenow" | "oracle_service_cloud" | "rightnow" => {
                    ("crm/contacts/search", json!({"phone": "2125558383"}))
                }
                "tts" => ("speech", json!({"text": "hello", "format": "wav"})),
                // The native KB is empty, so a search goes on to the external one.
                "external_kb" => ("kb/search?q=hello", Value::Null),
                // A WebSocket: the peer refuses the upgrade.
                "stt" => ("transcribe", Value::Null),
                _ => return None,
            })
        };
        let mut responses = String::new();
        let mut called = Vec::new();
        for t in catalog.body["items"].as_array().unwrap() {
            let Some((path, request)) = operation(t["key"].as_str().unwrap()) else { continue };
            for p in t["providers"].as_array().unwrap() {
                let name = format!("{} {}", t["key"].as_str().unwrap(), p["key"].as_str().unwrap());
                let mut body = test_body(&t["key"], p, peer);
                body["name"] = json!(name);
                // One default account per tenant; this test names each account.
                if let Some(default) = body["properties"].get_mut("default_account") {
                    *default = json!(false);
                }
                let created = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(body)).await;
                assert_eq!(created.status, 201, "{name}: {}", created.text);
                let id = created.body["id"].as_str().unwrap().to_owned();
                let url = format!("/api/v1/tenants/acme/gateway/{path}");
                let r = if path == "transcribe" {
                    s.websocket(&s.admin_token, &format!("{url}?account={id}")).await.map(|_| ()).expect_err("refused")
                } else if request.is_null() {
                    s.call(Method::GET, &url, None).await
                } else {
                    let mut request = request.clone();
                    request["account"] = json!(id);
                    s.call(Method::POST, &url, Some(request)).await
                };
                assert_eq!(r.status, 502, "{name}: the call reached the peer, which refused it: {r:?}");
                responses.push_str(&r.text);
                let usage = s.call(Method::GET, &format!("/api/v1/tenants/acme/integration-accounts/{id}/usage?days=1"), None).await;
                responses.push_str(&usage.text);
                called.push((t["key"].as_str().unwrap().to_owned(), p["key"].as_str().unwrap().to_owned()));
            }
        }
        called.sort();
        let mut served: Vec<(String, String)> = patchbay_gateway::SERVED
            .iter()
            .flat_map(|(_, pairs)| pairs.iter().map(|(t, p)| ((*t).to_owned(), (*p).to_owned())))
            .collect();
        served.sort();
        assert_eq!(called, served, "every pair the gateway speaks to was called");
        s.stop().await;
        let forms = sentinel_forms();
        let leaked: Vec<&String> = forms.iter().filter(|f| responses.contains(f.as_str())).collect();
        assert!(leaked.is_empty(), "a response or usage entry carries a secret: {leaked:?}\n{responses}");
        let logs = logs.text();
        let leaks: Vec<&str> = logs.lines().filter(|l| forms.iter().any(|f| l.contains(f))).collect();
        assert!(leaks.is_empty(), "{} log lines carry a secret:\n{}", leaks.len(), leaks.join("\n"));
    }
}

backend_test! {
    #[tokio::test]
    async fn messenger_deliveries_and_replies_carry_no_secret_into_responses_events_or_logs(db) {
        use patchbay_testkit::vendors::inbound::{self, Messenger};
        let logs = captured_logs();
        // Every messenger's API is one HTTPS peer that refuses each reply with an error
        // echoing all it was sent (path with Telegram's token, Facebook's query, headers with
        // Viber's, LINE's and Vonage's credentials), in each vendor's error shape.
        let ca = TestCa::new();
        let router = echoing(axum::http::StatusCode::BAD_REQUEST, |_, echo| {
            json!({"error": {"message": echo.clone(), "code": 100}, "description": echo.clone(),
                "message": echo.clone(), "title": echo.clone(), "detail": echo, "ok": false})
        });
        let (_, s) = serving_every_vendor(&db, router, &ca).await;
        s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
        let catalog = s.call(Method::GET, "/api/v1/integration-types", None).await;
        let messenger = catalog.body["items"].as_array().unwrap().iter().find(|t| t["key"] == "messenger").unwrap().clone();
        let client = reqwest::Client::new();
        let mut responses = String::new();
        for p in messenger["providers"].as_array().unwrap() {
            let provider = p["key"].as_str().unwrap();
            let mut properties: Map<String, Value> = p["fields"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["fixed"] != json!(true))
                .map(|f| (f["key"].as_str().unwrap().to_owned(), sample(f, "svc.example.com", 443)))
                .collect();
            properties.remove(patchbay_catalog::keys::messenger::telegram::WEBHOOK_URL);
            let body = json!({"type": "messenger", "provider": provider, "name": provider, "properties": properties});
            let created = s.call(Method::POST, "/api/v1/tenants/acme/integration-accounts", Some(body)).await;
            assert_eq!(created.status, 201, "{provider}: {}", created.text);
            responses.push_str(&created.text);
            let hook = format!("{}{}", s.base, created.body["inbound_webhook_url"].as_str().unwrap());
            let id = created.body["id"].as_str().unwrap();
            let signer = match provider {
                "facebook" => Messenger::Facebook { app_secret: SENTINEL.into() },
                "telegram" => Messenger::Telegram { secret_token: patchbay_connectors::telegram_webhook_secret(id, SENTINEL) },
                "viber" => Messenger::Viber { token: SENTINEL.into() },
                "line" => Messenger::Line { channel_secret: SENTINEL.into() },
                _ => Messenger::Vonage {
                    signature_secret: SENTINEL.into(),
                    api_key: properties[patchbay_catalog::keys::messenger::nexmo::KEY].as_str().unwrap().into(),
                },
            };
            let message = match provider {
                "facebook" => inbound::facebook_message("1", "psid", "m_1", "hi"),
                "telegram" => inbound::telegram_message(1, 42, "Ada", "hi"),
                "viber" => inbound::viber_message(1, "u1", "Ada", "hi"),
                "line" => inbound::line_message("E1", "U1", "1", "hi"),
                _ => inbound::vonage_message("u-1", "sms", "447700900001", "447700900000", "Ada", "hi"),
            };
            let bytes = serde_json::to_vec(&message).unwrap();
            let timeout = std::time::Duration::from_secs(5);
            assert_eq!(inbound::send_raw(&client, &hook, signer.sign(&bytes), &bytes, timeout).await, Some(200), "{provider}");
            let wrong = [
                ("X-Hub-Signature-256", "sha256=00"),
                ("X-Telegram-Bot-Api-Secret-Token", "guess"),
                ("X-Viber-Content-Signature", "00"),
                ("X-Line-Signature", "AA=="),
                ("Authorization", "Bearer a.b.c"),
            ];
            let refused = client.post(&hook).header("content-type", "application/json").body(bytes.clone());
            let refused = wrong.iter().fold(refused, |r, (k, v)| r.header(*k, *v)).send().await.unwrap();
            assert!(matches!(refused.status().as_u16(), 401 | 403), "{provider}");
            responses.push_str(&refused.text().await.unwrap());
            if provider == "facebook" {
                let handshake = client.get(format!("{hook}?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1")).send().await.unwrap();
                responses.push_str(&handshake.text().await.unwrap());
            }
        }
        // A reply in each conversation: every vendor refuses it with an echo of the request.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let started = loop {
            let page = s.call(Method::GET, "/api/v1/tenants/acme/conversations/events?after=0&wait=1", None).await;
            let started: Vec<String> = page.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"] == "conversation_started")
                .map(|e| e["conversation_id"].as_str().unwrap().to_owned())
                .collect();
            if started.len() == 5 || std::time::Instant::now() > deadline {
                break started;
            }
        };
        assert_eq!(started.len(), 5, "a conversation per messenger");
        for conversation in &started {
            let path = format!("/api/v1/tenants/acme/conversations/{conversation}/messages");
            let r = s.call(Method::POST, &path, Some(json!({"text": "hello back"}))).await;
            assert_eq!(r.status, 202, "{r:?}");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let events = loop {
            let page = s.call(Method::GET, "/api/v1/tenants/acme/conversations/events?after=0&limit=1000", None).await;
            let failed = page.body["events"].as_array().unwrap().iter().filter(|e| e["message"]["status"] == "failed").count();
            if failed == 5 || std::time::Instant::now() > deadline {
                break page;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let failures: Vec<&str> =
            events.body["events"].as_array().unwrap().iter().filter_map(|e| e["message"]["error"].as_str()).collect();
        assert_eq!(failures.len(), 5, "every reply was refused by the echoing vendor: {}", events.text);
        assert!(failures.iter().any(|f| f.contains("[secret]")), "the vendor's echo is scrubbed, not dropped: {failures:?}");
        responses.push_str(&events.text);
        for conversation in &started {
            responses.push_str(&s.call(Method::GET, &format!("/api/v1/tenants/acme/conversations/{conversation}"), None).await.text);
        }
        responses.push_str(&s.call(Method::GET, "/api/v1/tenants/acme/integration-accounts", None).await.text);
        s.stop().await;
        let forms = sentinel_forms();
        let leaked: Vec<&String> = forms.iter().filter(|f| responses.contains(f.as_str())).collect();
        assert!(leaked.is_empty(), "a response or event carries a secret: {leaked:?}\n{responses}");
        let logs = logs.text();
        let leaks: Vec<&str> = logs.lines().filter(|l| forms.iter().any(|f| l.contains(f))).collect();
        assert!(leaks.is_empty(), "{} log lines carry a secret:\n{}", leaks.len(), leaks.join("\n"));
    }
}
