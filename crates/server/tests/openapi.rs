//! The OpenAPI document at `/api/v1/openapi.json` against what the server really does:
//! every route of the router is documented (and nothing else), every documented operation
//! is called here and each real response is validated (status, content type, body) against
//! the documented JSON Schema, and the request bodies sent are valid by the document too.

use std::collections::BTreeSet;

use boon::{Compiler, Draft, Schemas};
use patchbay_api::Operation;
use patchbay_catalog::keys::messenger::facebook;
use patchbay_catalog::keys::{aws, zapier};
use patchbay_testkit::{Reply, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const DOC_URL: &str = "http://patchbay.invalid/openapi.json";
const SECRET: &str = "page-secret-7f3a";

/// Validates replies and requests against the document and remembers what was exercised.
struct Spec {
    doc: Value,
    compiler: Compiler,
    schemas: Schemas,
    exercised: BTreeSet<(String, String)>,
    bodies: Vec<String>,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Spec {
    fn new(doc: Value) -> Spec {
        let mut compiler = Compiler::new();
        compiler.set_default_draft(Draft::V2020_12);
        compiler.enable_format_assertions();
        compiler.add_resource(DOC_URL, doc.clone()).expect("the document loads as a JSON Schema resource");
        Spec { doc, compiler, schemas: Schemas::new(), exercised: BTreeSet::new(), bodies: Vec::new() }
    }

    fn validate(&mut self, pointer: &str, value: &Value, what: &str) {
        let index = self
            .compiler
            .compile(&format!("{DOC_URL}#{pointer}"), &mut self.schemas)
            .unwrap_or_else(|e| panic!("{what}: the schema at {pointer} does not compile: {e:#}"));
        if let Err(e) = self.schemas.validate(value, index) {
            panic!("{what}: {value:#} breaks the schema at {pointer}:\n{e:#}");
        }
    }

    fn operation_pointer(&self, method: &str, template: &str) -> String {
        let pointer = format!("/paths/{}/{}", escape(template), method.to_lowercase());
        assert!(self.doc.pointer(&pointer).is_some(), "{method} {template} is not documented");
        pointer
    }

    /// Checks a request body against the operation's documented request schema.
    fn request(&mut self, method: &str, template: &str, body: &Value) {
        let pointer =
            format!("{}/requestBody/content/application~1json/schema", self.operation_pointer(method, template));
        self.validate(&pointer, body, &format!("request of {method} {template}"));
    }

    /// Checks a reply against the operation's documented response for its status.
    fn reply(&mut self, method: &str, template: &str, reply: &Reply) {
        let what = format!("{method} {template} -> {}", reply.status);
        let operation = self.operation_pointer(method, template);
        let mut pointer = format!("{operation}/responses/{}", reply.status);
        let response = self.doc.pointer(&pointer).unwrap_or_else(|| panic!("{what}: status not documented: {reply:?}"));
        if let Some(target) = response.get("$ref").and_then(Value::as_str) {
            pointer = target.trim_start_matches('#').to_owned();
        }
        let response = self.doc.pointer(&pointer).expect("a documented response").clone();
        match response.get("content").and_then(Value::as_object) {
            None => assert!(reply.text.is_empty(), "{what}: a body where none is documented: {}", reply.text),
            Some(content) => {
                let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
                let media = content_type.split(';').next().unwrap_or("").trim();
                assert!(content.contains_key(media), "{what}: content type `{content_type}` is not documented");
                let schema = format!("{pointer}/content/{}/schema", escape(media));
                let json = media == "application/json" || media.ends_with("+json");
                let body = if json { reply.body.clone() } else { Value::String(reply.text.clone()) };
                self.validate(&schema, &body, &what);
            }
        }
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for name in headers.keys() {
                assert!(reply.headers.contains_key(name.as_str()), "{what}: documented header {name} is missing");
            }
        }
        self.exercised.insert((method.to_lowercase(), template.to_owned()));
        self.bodies.push(reply.text.clone());
    }

    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut all = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                all.insert((method.clone(), path.clone()));
            }
        }
        all
    }
}

/// The operations of the route table the router is built from, as `(method, path)`.
fn routed() -> BTreeSet<(String, String)> {
    Operation::ALL.iter().map(|op| (op.method().as_str().to_lowercase(), op.path().to_owned())).collect()
}

#[tokio::test]
async fn every_route_is_documented_and_answers_as_documented() {
    let db = TestDatabase::sqlite().await;
    let s = TestServer::start(&db).await;
    let fetched = Reply::read(s.request(Method::GET, "/api/v1/openapi.json", None).send().await.unwrap()).await;
    assert_eq!(fetched.status, 200, "the document needs no token: {fetched:?}");
    assert_eq!(fetched.body["openapi"], "3.1.0");
    let mut spec = Spec::new(fetched.body.clone());
    spec.reply("GET", "/openapi.json", &fetched);

    assert_eq!(routed(), spec.operations(), "the router and the document name different operations");

    // The account bodies come from the catalog: one branch per type and provider.
    let providers: usize = patchbay_catalog::catalog().types.iter().map(|t| t.providers.len()).sum();
    assert_eq!(spec.doc["components"]["schemas"]["AccountCreate"]["oneOf"].as_array().unwrap().len(), providers);

    let unauthenticated = Reply::read(s.request(Method::GET, "/api/v1/tenants", None).send().await.unwrap()).await;
    spec.reply("GET", "/tenants", &unauthenticated);
    assert_eq!(unauthenticated.status, 401);

    let r = s.call(Method::GET, "/api/v1/integration-types", None).await;
    spec.reply("GET", "/integration-types", &r);

    // Tenants.
    let tenant = json!({"id": "acme", "name": "Acme", "enabled_types": ["aws"]});
    spec.request("POST", "/tenants", &tenant);
    let r = s.call(Method::POST, "/api/v1/tenants", Some(tenant.clone())).await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("POST", "/tenants", &r);
    let r = s.call(Method::POST, "/api/v1/tenants", Some(tenant)).await;
    assert_eq!(r.status, 409);
    spec.reply("POST", "/tenants", &r);
    let r = s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "Not OK"}))).await;
    assert_eq!(r.status, 422);
    spec.reply("POST", "/tenants", &r);
    let r = s.call(Method::GET, "/api/v1/tenants", None).await;
    spec.reply("GET", "/tenants", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme", None).await;
    assert_eq!(r.status, 200);
    spec.reply("GET", "/tenants/{tenant}", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/nobody", None).await;
    assert_eq!(r.status, 404);
    spec.reply("GET", "/tenants/{tenant}", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/contents", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/contents", &r);
    let update = json!({"name": "Acme Support"});
    spec.request("PUT", "/tenants/{tenant}", &update);
    let put = |etag: &'static str, path: String, body: Value| {
        let request = s.request(Method::PUT, &path, Some(&s.admin_token)).header("if-match", etag).json(&body);
        async move { Reply::read(request.send().await.unwrap()).await }
    };
    let r = put("\"1\"", "/api/v1/tenants/acme".into(), update.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}", &r);
    let r = put("\"1\"", "/api/v1/tenants/acme".into(), json!({"name": "Lost update"})).await;
    assert_eq!(r.status, 412);
    spec.reply("PUT", "/tenants/{tenant}", &r);

    // Accounts.
    let accounts = "/api/v1/tenants/acme/integration-accounts";
    let facebook = json!({"type": "messenger", "provider": "facebook", "name": "Facebook main",
        "properties": {facebook::PAGE_USERNAME: "acme", facebook::PAGE_ID: "1234", facebook::TOKEN: SECRET}});
    let zapier =
        json!({"type": "zapier", "name": "Zapier", "properties": {zapier::USERNAME: "zap", zapier::PASSWORD: SECRET}});
    let mut ids = Vec::new();
    for body in [&facebook, &zapier] {
        spec.request("POST", "/tenants/{tenant}/integration-accounts", body);
        let r = s.call(Method::POST, accounts, Some(body.clone())).await;
        assert_eq!(r.status, 201, "{r:?}");
        spec.reply("POST", "/tenants/{tenant}/integration-accounts", &r);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let (facebook_id, zapier_id) = (&ids[0], &ids[1]);
    let r = s.call(Method::POST, accounts, Some(json!({"type": "stt", "provider": "govivace", "name": " x"}))).await;
    assert_eq!(r.status, 422);
    spec.reply("POST", "/tenants/{tenant}/integration-accounts", &r);
    let r = s.call(Method::POST, accounts, Some(json!([1]))).await;
    assert_eq!(r.status, 400);
    spec.reply("POST", "/tenants/{tenant}/integration-accounts", &r);
    let r = s
        .call(
            Method::POST,
            accounts,
            Some(json!({"type": "zapier", "name": "zapier",
                        "properties": {zapier::USERNAME: "z", zapier::PASSWORD: "p"}})),
        )
        .await;
    assert_eq!(r.status, 409);
    spec.reply("POST", "/tenants/{tenant}/integration-accounts", &r);
    let r = s.call(Method::GET, &format!("{accounts}?type=zapier"), None).await;
    spec.reply("GET", "/tenants/{tenant}/integration-accounts", &r);
    let r = s.call(Method::GET, &format!("{accounts}?type=nope"), None).await;
    assert_eq!(r.status, 422);
    spec.reply("GET", "/tenants/{tenant}/integration-accounts", &r);
    let r = s.call(Method::GET, &format!("{accounts}/{facebook_id}"), None).await;
    spec.reply("GET", "/tenants/{tenant}/integration-accounts/{id}", &r);
    // Disabled, so the bulk test below makes no outbound call.
    let disable = json!({"enabled": false});
    spec.request("PUT", "/tenants/{tenant}/integration-accounts/{id}", &disable);
    let r = put("\"1\"", format!("{accounts}/{facebook_id}"), disable).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/integration-accounts/{id}", &r);
    let r = s.call(Method::GET, &format!("{accounts}/not-a-uuid"), None).await;
    assert_eq!(r.status, 404);
    spec.reply("GET", "/tenants/{tenant}/integration-accounts/{id}", &r);

    // Tests and actions (Zapier has no outbound test: the report says so).
    let unsaved = json!({"type": "zapier", "properties": {zapier::USERNAME: "zap"}, "id": zapier_id});
    spec.request("POST", "/tenants/{tenant}/integration-accounts/test", &unsaved);
    let r = s.call(Method::POST, &format!("{accounts}/test"), Some(unsaved)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("unsupported")), "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/integration-accounts/test", &r);
    let r = s.call(Method::POST, &format!("{accounts}/{zapier_id}/test"), None).await;
    spec.reply("POST", "/tenants/{tenant}/integration-accounts/{id}/test", &r);
    let r = s.call(Method::POST, &format!("{accounts}/{zapier_id}/test?timeout_ms=1"), None).await;
    assert_eq!(r.status, 422);
    spec.reply("POST", "/tenants/{tenant}/integration-accounts/{id}/test", &r);
    let r = s.call(Method::POST, &format!("{accounts}/tests"), None).await;
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(1), "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/integration-accounts/tests", &r);
    let action = "/tenants/{tenant}/integration-accounts/{id}/actions/{action}";
    let r = s.call(Method::POST, &format!("{accounts}/{facebook_id}/actions/generate_token"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("POST", action, &r);
    let params = json!({"params": {}});
    spec.request("POST", action, &params);
    let r = s.call(Method::POST, &format!("{accounts}/{zapier_id}/actions/load_voices"), Some(params)).await;
    assert_eq!(r.status, 422);
    spec.reply("POST", action, &r);

    // Audit, events, feeds, live state.
    let r = s.call(Method::GET, &format!("{accounts}/{facebook_id}/audit?limit=2"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/integration-accounts/{id}/audit", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/audit", None).await;
    spec.reply("GET", "/tenants/{tenant}/audit", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/audit?limit=0", None).await;
    assert_eq!(r.status, 422);
    spec.reply("GET", "/tenants/{tenant}/audit", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/audit?limit=many", None).await;
    assert_eq!(r.status, 400, "a query string that does not parse is a problem too");
    spec.reply("GET", "/tenants/{tenant}/audit", &r);
    let r = s.call(Method::POST, "/api/v1/tenants/acme/events", Some(json!([]))).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/events", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/feeds", None).await;
    spec.reply("GET", "/tenants/{tenant}/feeds", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/live", None).await;
    spec.reply("GET", "/tenants/{tenant}/live", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/live/snapshot", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/live/snapshot", &r);
    let response =
        s.request(Method::GET, "/api/v1/tenants/acme/live/stream", Some(&s.admin_token)).send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let mut stream = patchbay_testkit::EventStream::new(response);
    let first = stream.next(std::time::Duration::from_secs(10)).await.expect("a first event");
    let event = json!({"event": first.event, "data": first.data});
    spec.validate("/components/schemas/LiveEvent", &event, "the stream's first event");
    assert_eq!(first.event, "snapshot");
    spec.reply(
        "GET",
        "/tenants/{tenant}/live/stream",
        &Reply { status, headers, text: stream.raw.clone(), body: Value::Null },
    );
    drop(stream);

    // Tokens.
    let token = json!({"name": "acme viewer", "role": "tenant_viewer", "tenant": "acme"});
    spec.request("POST", "/tokens", &token);
    let r = s.call(Method::POST, "/api/v1/tokens", Some(token)).await;
    assert_eq!(r.status, 201);
    spec.reply("POST", "/tokens", &r);
    let (viewer, viewer_id) = (r.body["token"].as_str().unwrap().to_owned(), r.body["id"].as_str().unwrap().to_owned());
    let r = s.call_as(&viewer, Method::GET, "/api/v1/tokens", None).await;
    assert_eq!(r.status, 403);
    spec.reply("GET", "/tokens", &r);
    let r = s.call_as(&viewer, Method::GET, "/api/v1/whoami", None).await;
    spec.reply("GET", "/whoami", &r);
    let r = s.call(Method::POST, "/api/v1/whoami", None).await;
    spec.reply("POST", "/whoami", &r);
    let r = s.call(Method::GET, "/api/v1/tokens", None).await;
    spec.reply("GET", "/tokens", &r);
    let r = s.call(Method::DELETE, &format!("/api/v1/tokens/{viewer_id}"), None).await;
    assert_eq!(r.status, 204);
    spec.reply("DELETE", "/tokens/{id}", &r);

    // Keys.
    let r = s.call(Method::GET, "/api/v1/keys", None).await;
    spec.reply("GET", "/keys", &r);
    let r = s.call(Method::POST, "/api/v1/keys/rotate", None).await;
    spec.reply("POST", "/keys/rotate", &r);
    let r = s.call(Method::POST, "/api/v1/keys/reseal?batch=1000", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("POST", "/keys/reseal", &r);
    let r = s.call(Method::DELETE, "/api/v1/keys/1", None).await;
    spec.reply("DELETE", "/keys/{id}", &r);

    // Recordings: intake, search, playback.
    let recordings = "/api/v1/tenants/acme/recordings";
    let meta = json!({"global_interaction_id": "gi-1", "call_started_at": "2024-05-01T09:30:00Z",
        "agent_login": "jo", "direction": "inbound", "service": "Sales", "customer_phone": "+15550100"});
    spec.request("PUT", "/tenants/{tenant}/recordings/{recording_id}", &meta);
    for expected in [201, 200] {
        let r = s.call(Method::PUT, &format!("{recordings}/rec-1"), Some(meta.clone())).await;
        assert_eq!(r.status, expected, "{r:?}");
        spec.reply("PUT", "/tenants/{tenant}/recordings/{recording_id}", &r);
    }
    let r = s.call(Method::PUT, &format!("{recordings}/rec-2"), Some(json!({"service": 3}))).await;
    assert_eq!(r.status, 422);
    spec.reply("PUT", "/tenants/{tenant}/recordings/{recording_id}", &r);
    let audio_put = |content_type: &'static str, body: &'static [u8]| {
        let request = s.request(Method::PUT, &format!("{recordings}/rec-1/audio"), Some(&s.admin_token));
        let request = request.header("content-type", content_type).body(body);
        async move { Reply::read(request.send().await.unwrap()).await }
    };
    let r = audio_put("audio/wav", b"RIFF0123456789").await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/recordings/{recording_id}/audio", &r);
    let r = audio_put("text/plain", b"nope").await;
    assert_eq!(r.status, 415, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/recordings/{recording_id}/audio", &r);
    let r = s.call(Method::GET, &format!("{recordings}/rec-1"), None).await;
    assert_eq!(r.body["audio"]["size"], 14, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/recordings/{recording_id}", &r);
    let r = s.call(Method::GET, &format!("{recordings}?service=Sales&from=2024-05-01T00:00:00Z"), None).await;
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(1), "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/recordings", &r);
    let r = s.call(Method::GET, &format!("{recordings}?direction=inbound&q=refund"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/recordings", &r);
    let r = s.call(Method::GET, &format!("{recordings}?direction=sideways"), None).await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/recordings", &r);
    for query in ["?download=true", "?download=maybe"] {
        let r = Reply::read(
            s.request(Method::GET, &format!("{recordings}/rec-1/audio{query}"), Some(&s.admin_token))
                .send()
                .await
                .unwrap(),
        )
        .await;
        spec.reply("GET", "/tenants/{tenant}/recordings/{recording_id}/audio", &r);
    }
    for (range, status) in [(None, 200), (Some("bytes=4-7"), 206), (Some("bytes=99-"), 416)] {
        let mut request = s.request(Method::GET, &format!("{recordings}/rec-1/audio"), Some(&s.admin_token));
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let r = Reply::read(request.send().await.unwrap()).await;
        assert_eq!(r.status, status, "{r:?}");
        spec.reply("GET", "/tenants/{tenant}/recordings/{recording_id}/audio", &r);
    }

    let transcript = format!("{recordings}/rec-1/transcript");
    let r = s.call(Method::POST, &transcript, Some(json!({}))).await;
    assert_eq!(r.status, 409, "no Speech To Text account yet: {r:?}");
    spec.reply("POST", "/tenants/{tenant}/recordings/{recording_id}/transcript", &r);
    let stt = json!({"type": "stt", "provider": "govivace", "name": "STT", "properties": {
        "url": "wss://127.0.0.1:9/telephony", "api_key": SECRET, "default_account": true}});
    assert_eq!(s.call(Method::POST, accounts, Some(stt)).await.status, 201);
    spec.request("POST", "/tenants/{tenant}/recordings/{recording_id}/transcript", &json!({}));
    let r = s.call(Method::POST, &transcript, Some(json!({}))).await;
    assert_eq!(r.status, 202, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/recordings/{recording_id}/transcript", &r);
    let r = s.call(Method::GET, &transcript, None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/recordings/{recording_id}/transcript", &r);

    let settings = "/api/v1/tenants/acme/recording-transcription";
    let r = s.call(Method::GET, settings, None).await;
    spec.reply("GET", "/tenants/{tenant}/recording-transcription", &r);
    let auto = json!({"enabled": true, "services": ["Sales"], "model": "en-US_NarrowbandModel"});
    spec.request("PUT", "/tenants/{tenant}/recording-transcription", &auto);
    let r = s.call(Method::PUT, settings, Some(auto)).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/recording-transcription", &r);
    let r = s.call(Method::PUT, settings, Some(json!({"enabled": true, "services": [""]}))).await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/recording-transcription", &r);

    // Recording export jobs, against a bucket that does not answer.
    let aws = json!({"type": "aws", "name": "Recordings", "properties": {aws::USE_PRIVATE_S3_STORAGE: true,
        aws::URL: "http://127.0.0.1:9/", aws::ACCESS_KEY_ID: "AKIAEXAMPLE", aws::SECRET_KEY: SECRET,
        aws::S3_BUCKET: "acme-rec"}});
    let r = s.call(Method::POST, accounts, Some(aws)).await;
    assert_eq!(r.status, 201, "{r:?}");
    let aws_id = r.body["id"].as_str().unwrap().to_owned();
    let r = s.call(Method::GET, "/api/v1/recording-export-jobs/settings", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/recording-export-jobs/settings", &r);
    let jobs = "/api/v1/tenants/acme/recording-export-jobs";
    let job = json!({"name": "Nightly", "account_id": aws_id, "services": ["Sales"], "key_prefix": "acme/",
        "window": {"start": "22:00", "end": "06:00"}});
    spec.request("POST", "/tenants/{tenant}/recording-export-jobs", &job);
    let r = s.call(Method::POST, jobs, Some(job.clone())).await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/recording-export-jobs", &r);
    let job_path = format!("{jobs}/{}", r.body["id"].as_str().unwrap());
    let r = s.call(Method::POST, jobs, Some(json!({"name": "Bad", "account_id": facebook_id, "services": []}))).await;
    assert_eq!(r.status, 422);
    spec.reply("POST", "/tenants/{tenant}/recording-export-jobs", &r);
    let r = s.call(Method::GET, jobs, None).await;
    spec.reply("GET", "/tenants/{tenant}/recording-export-jobs", &r);
    let r = s.call(Method::GET, &job_path, None).await;
    spec.reply("GET", "/tenants/{tenant}/recording-export-jobs/{id}", &r);
    let mut changed = job.clone();
    changed["window"] = Value::Null;
    let r = put("\"1\"", job_path.clone(), changed.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/recording-export-jobs/{id}", &r);
    let r = put("\"1\"", job_path.clone(), changed).await;
    assert_eq!(r.status, 412);
    spec.reply("PUT", "/tenants/{tenant}/recording-export-jobs/{id}", &r);
    let r = s.call(Method::DELETE, &format!("{accounts}/{aws_id}"), None).await;
    assert_eq!(r.status, 409, "an account in use by a job stays: {r:?}");
    spec.reply("DELETE", "/tenants/{tenant}/integration-accounts/{id}", &r);
    let r = s.call(Method::POST, &format!("{job_path}/run"), None).await;
    assert_eq!(r.status, 202, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/recording-export-jobs/{id}/run", &r);
    let run_path = format!("{job_path}/runs/{}", r.body["id"].as_str().unwrap());
    let mut run = r;
    for _ in 0..200 {
        if run.body["state"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        run = s.call(Method::GET, &run_path, None).await;
    }
    assert_eq!(run.body["state"], "failed", "{run:?}");
    spec.reply("GET", "/tenants/{tenant}/recording-export-jobs/{id}/runs/{run_id}", &run);
    let r = s.call(Method::GET, &format!("{job_path}/runs"), None).await;
    spec.reply("GET", "/tenants/{tenant}/recording-export-jobs/{id}/runs", &r);
    let r = s.call(Method::GET, &format!("{run_path}/metadata.csv"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.text.starts_with("status,object_key,error,recording_id"), "{}", r.text);
    spec.reply("GET", "/tenants/{tenant}/recording-export-jobs/{id}/runs/{run_id}/metadata.csv", &r);
    let r = s.call(Method::GET, &format!("{run_path}/failures"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/recording-export-jobs/{id}/runs/{run_id}/failures", &r);
    let r = s.call(Method::DELETE, &job_path, None).await;
    assert_eq!(r.status, 204);
    spec.reply("DELETE", "/tenants/{tenant}/recording-export-jobs/{id}", &r);

    // The runtime gateway: without accounts of these types, each answers its documented
    // problem (the successes are checked against the stand-ins in tests/gateway.rs).
    let calls = [
        ("sentiment", json!({"text": "hi"})),
        ("identify", json!({"phone": "2125558383"})),
        ("suggestions", json!({"text": "hi", "conversation_id": "c1"})),
        ("speech", json!({"text": "hi", "format": "wav"})),
    ];
    for (operation, body) in calls {
        let template = format!("/tenants/{{tenant}}/gateway/{operation}");
        spec.request("POST", &template, &body);
        let r = s.call(Method::POST, &format!("/api/v1/tenants/acme/gateway/{operation}"), Some(body)).await;
        assert!(r.status == 409 || r.status == 422, "{r:?}");
        spec.reply("POST", &template, &r);
    }
    let search = json!({"account": zapier_id, "phone": "2125558383"});
    spec.request("POST", "/tenants/{tenant}/gateway/crm/contacts/search", &search);
    let r = s.call(Method::POST, "/api/v1/tenants/acme/gateway/crm/contacts/search", Some(search)).await;
    assert_eq!(r.status, 409, "a Zapier account is no CRM: {r:?}");
    spec.reply("POST", "/tenants/{tenant}/gateway/crm/contacts/search", &r);
    // The tenant's own settings.
    let settings = json!({"time_zone": "Europe/Berlin"});
    spec.request("PUT", "/tenants/{tenant}/settings", &settings);
    let r = s.call(Method::PUT, "/api/v1/tenants/acme/settings", Some(settings)).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/settings", &r);
    let r = s.call(Method::PUT, "/api/v1/tenants/acme/settings", Some(json!({"time_zone": "Mars/Olympus"}))).await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/settings", &r);

    // The native knowledge base, and the gateway's search and topics over it.
    let article = json!({"title": "Refunds", "body": "Refunds go back to the card within five days."});
    spec.request("POST", "/tenants/{tenant}/kb/articles", &article);
    let r = s.call(Method::POST, "/api/v1/tenants/acme/kb/articles", Some(article.clone())).await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/kb/articles", &r);
    let article_path = format!("/api/v1/tenants/acme/kb/articles/{}", r.body["id"].as_str().unwrap());
    let r = s.call(Method::POST, "/api/v1/tenants/acme/kb/articles", Some(json!({"title": "", "body": "x"}))).await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/kb/articles", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/kb/articles", None).await;
    spec.reply("GET", "/tenants/{tenant}/kb/articles", &r);
    let r = s.call(Method::GET, &article_path, None).await;
    spec.reply("GET", "/tenants/{tenant}/kb/articles/{id}", &r);
    let r = put("\"1\"", article_path.clone(), article.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/kb/articles/{id}", &r);
    let r = put("\"1\"", article_path.clone(), article.clone()).await;
    assert_eq!(r.status, 412, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/kb/articles/{id}", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/gateway/kb/search?q=refund&limit=5", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/gateway/kb/search", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/gateway/kb/search?q=refund&limit=0", None).await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/gateway/kb/search", &r);
    let topic = json!({"title": "Parking", "body": "Lot B."});
    spec.request("POST", "/tenants/{tenant}/gateway/kb/topics", &topic);
    let r = s.call(Method::POST, "/api/v1/tenants/acme/gateway/kb/topics", Some(topic)).await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/gateway/kb/topics", &r);
    let r = s.call(Method::DELETE, &article_path, None).await;
    assert_eq!(r.status, 204, "{r:?}");
    spec.reply("DELETE", "/tenants/{tenant}/kb/articles/{id}", &r);

    let r = s.call(Method::GET, "/api/v1/tenants/acme/gateway/transcribe", None).await;
    assert_eq!(
        (r.status, &r.headers["upgrade"]),
        (426, &"websocket".parse::<reqwest::header::HeaderValue>().unwrap()),
        "{r:?}"
    );
    spec.reply("GET", "/tenants/{tenant}/gateway/transcribe", &r);

    // The messenger edge: a new inbound webhook URL, and the events (none yet; a bad cursor).
    let r = s.call(Method::POST, &format!("{accounts}/{facebook_id}/inbound-webhook/rotate"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/integration-accounts/{id}/inbound-webhook/rotate", &r);
    let r = s.call(Method::POST, &format!("{accounts}/{zapier_id}/inbound-webhook/rotate"), None).await;
    assert_eq!(r.status, 409, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/integration-accounts/{id}/inbound-webhook/rotate", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/conversations/events?after=latest&limit=10", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/conversations/events", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/conversations/events?after=soon", None).await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/conversations/events", &r);
    let nobody = format!("/api/v1/tenants/acme/conversations/{}", uuid::Uuid::now_v7());
    let r = s.call(Method::GET, &nobody, None).await;
    assert_eq!(r.status, 404, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/conversations/{conversation_id}", &r);
    let reply = json!({"text": "On its way"});
    spec.request("POST", "/tenants/{tenant}/conversations/{conversation_id}/messages", &reply);
    let r = s.call(Method::POST, &format!("{nobody}/messages"), Some(reply)).await;
    assert_eq!(r.status, 404, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/conversations/{conversation_id}/messages", &r);
    let r = s.call(Method::POST, &format!("{nobody}/messages"), Some(json!({"text": 1}))).await;
    assert_eq!(r.status, 400, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/conversations/{conversation_id}/messages", &r);
    let subscription = json!({"url": "https://hooks.acme.example/patchbay", "events": ["message_in"]});
    spec.request("POST", "/tenants/{tenant}/subscriptions", &subscription);
    let r = s.call(Method::POST, "/api/v1/tenants/acme/subscriptions", Some(subscription)).await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/subscriptions", &r);
    let subscription_path = format!("/api/v1/tenants/acme/subscriptions/{}", r.body["id"].as_str().unwrap());
    let r = s
        .call(Method::POST, "/api/v1/tenants/acme/subscriptions", Some(json!({"url": "x", "events": ["message_in"]})))
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/subscriptions", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/subscriptions", None).await;
    spec.reply("GET", "/tenants/{tenant}/subscriptions", &r);
    let r = s.call(Method::GET, &subscription_path, None).await;
    spec.reply("GET", "/tenants/{tenant}/subscriptions/{subscription_id}", &r);
    let r = s.call(Method::POST, &format!("{subscription_path}/resume"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/subscriptions/{subscription_id}/resume", &r);
    let r = s.call(Method::DELETE, &subscription_path, None).await;
    assert_eq!(r.status, 204, "{r:?}");
    spec.reply("DELETE", "/tenants/{tenant}/subscriptions/{subscription_id}", &r);
    let user = json!({"name_id": "ada@acme.example", "email": "ada@acme.example", "role": "tenant_viewer"});
    spec.request("POST", "/tenants/{tenant}/users", &user);
    let r = s.call(Method::POST, "/api/v1/tenants/acme/users", Some(user.clone())).await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/users", &r);
    let user_path = format!("/api/v1/tenants/acme/users/{}", r.body["id"].as_str().unwrap());
    let r = s.call(Method::POST, "/api/v1/tenants/acme/users", Some(user)).await;
    assert_eq!(r.status, 409, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/users", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/users", None).await;
    spec.reply("GET", "/tenants/{tenant}/users", &r);
    let r = s.call(Method::GET, &user_path, None).await;
    spec.reply("GET", "/tenants/{tenant}/users/{user_id}", &r);
    let change = json!({"role": "tenant_admin", "enabled": false});
    spec.request("PUT", "/tenants/{tenant}/users/{user_id}", &change);
    let r = s.call(Method::PUT, &user_path, Some(change)).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/users/{user_id}", &r);
    let r = s.call(Method::DELETE, &user_path, None).await;
    assert_eq!(r.status, 204, "{r:?}");
    spec.reply("DELETE", "/tenants/{tenant}/users/{user_id}", &r);
    let retention = json!({"retention_days": 30});
    spec.request("PUT", "/tenants/{tenant}/conversation-settings", &retention);
    let r = s.call(Method::PUT, "/api/v1/tenants/acme/conversation-settings", Some(retention)).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/conversation-settings", &r);
    let r = s.call(Method::PUT, "/api/v1/tenants/acme/conversation-settings", Some(json!({"retention_days": 0}))).await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/conversation-settings", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/conversation-settings", None).await;
    assert_eq!(r.body["retention_days"], 30, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/conversation-settings", &r);

    let bindings = json!({"services": {}, "launch_points": {}});
    spec.request("PUT", "/tenants/{tenant}/gateway/bindings", &bindings);
    let r = s.call(Method::PUT, "/api/v1/tenants/acme/gateway/bindings", Some(bindings)).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("PUT", "/tenants/{tenant}/gateway/bindings", &r);
    let r = s.call(Method::GET, "/api/v1/tenants/acme/gateway/bindings", None).await;
    spec.reply("GET", "/tenants/{tenant}/gateway/bindings", &r);
    let r = s.call(Method::GET, &format!("{accounts}/{zapier_id}/usage?days=3"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["days"].as_array().map(Vec::len), Some(3), "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/integration-accounts/{id}/usage", &r);
    let r = s.call(Method::GET, &format!("{accounts}/{zapier_id}/usage?days=0"), None).await;
    assert_eq!(r.status, 422, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/integration-accounts/{id}/usage", &r);

    // The Zapier API, with the Zapier account's credentials.
    let zap = |method: Method, path: &str| {
        s.request(method, &format!("/api/v1/tenants/acme/zapier{path}"), None).basic_auth("zap", Some(SECRET))
    };
    let r = Reply::read(zap(Method::GET, "/me").send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/zapier/me", &r);
    let r = Reply::read(s.request(Method::GET, "/api/v1/tenants/acme/zapier/me", None).send().await.unwrap()).await;
    assert_eq!(r.status, 401, "{r:?}");
    spec.reply("GET", "/tenants/{tenant}/zapier/me", &r);
    for trigger in patchbay_api::ZapierTrigger::ALL {
        let r = Reply::read(zap(Method::GET, &format!("/triggers/{}?limit=5", trigger.as_str())).send().await.unwrap())
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        spec.reply("GET", "/tenants/{tenant}/zapier/triggers/{trigger}", &r);
    }
    let hook = json!({"target_url": "https://hooks.zapier.example/catch/1", "event": "conversation_started"});
    spec.request("POST", "/tenants/{tenant}/zapier/hooks", &hook);
    let r = Reply::read(zap(Method::POST, "/hooks").json(&hook).send().await.unwrap()).await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/zapier/hooks", &r);
    let r =
        Reply::read(zap(Method::DELETE, &format!("/hooks/{}", r.body["id"].as_str().unwrap())).send().await.unwrap())
            .await;
    assert_eq!(r.status, 204, "{r:?}");
    spec.reply("DELETE", "/tenants/{tenant}/zapier/hooks/{hook_id}", &r);
    let article = json!({"title": "Zapped", "body": "Made by a zap."});
    spec.request("POST", "/tenants/{tenant}/zapier/actions/create_kb_article", &article);
    let r = Reply::read(zap(Method::POST, "/actions/create_kb_article").json(&article).send().await.unwrap()).await;
    assert_eq!(r.status, 201, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/zapier/actions/create_kb_article", &r);
    let send = json!({"conversation_id": uuid::Uuid::now_v7(), "text": "hi"});
    spec.request("POST", "/tenants/{tenant}/zapier/actions/send_message", &send);
    let r = Reply::read(zap(Method::POST, "/actions/send_message").json(&send).send().await.unwrap()).await;
    assert_eq!(r.status, 404, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/zapier/actions/send_message", &r);
    let lookup = json!({"email": "ada@acme.example"});
    spec.request("POST", "/tenants/{tenant}/zapier/actions/lookup_contact", &lookup);
    let r = Reply::read(zap(Method::POST, "/actions/lookup_contact").json(&lookup).send().await.unwrap()).await;
    assert_eq!(r.status, 409, "{r:?}");
    spec.reply("POST", "/tenants/{tenant}/zapier/actions/lookup_contact", &r);

    // Deletes, with a stale ETag first.
    let request = s.request(Method::DELETE, &format!("{accounts}/{zapier_id}"), Some(&s.admin_token));
    let r = Reply::read(request.header("if-match", "\"9\"").send().await.unwrap()).await;
    assert_eq!(r.status, 412);
    spec.reply("DELETE", "/tenants/{tenant}/integration-accounts/{id}", &r);
    let r = s.call(Method::DELETE, &format!("{accounts}/{zapier_id}"), None).await;
    assert_eq!(r.status, 204);
    spec.reply("DELETE", "/tenants/{tenant}/integration-accounts/{id}", &r);
    let r = s.call(Method::DELETE, "/api/v1/tenants/acme", None).await;
    assert_eq!(r.status, 204);
    spec.reply("DELETE", "/tenants/{tenant}", &r);

    let missed: Vec<_> = spec.operations().difference(&spec.exercised).cloned().collect();
    assert!(missed.is_empty(), "documented operations this test never called: {missed:?}");
    assert!(spec.bodies.iter().all(|b| !b.contains(SECRET)), "a stored secret came back in a response");
}
