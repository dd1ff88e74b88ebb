//! The OpenAPI 3.1 document of the REST API, served at `GET /api/v1/openapi.json` without
//! a token. It is derived, not written: the paths from the route table
//! (`patchbay_api::Operation::ALL`) with each operation's details (`describe`), the component
//! schemas and query parameters from the API types' JSON Schemas (`patchbay_api`, which take
//! the type and provider keys, each provider's properties schema and the export job settings
//! from the catalog), and the problem responses from the statuses the handlers answer. `tests/openapi.rs` checks real
//! responses of every operation against it.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use patchbay_api::{
    Access, AccountFilter, AuditQuery, ConversationEventsQuery, KbSearchQuery, Operation, PlaybackQuery,
    RecordingSearch, ResealQuery, RunsQuery, TestOptions, TranscribeQuery, UsageQuery,
};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// `GET /api/v1/openapi.json`: built and serialized once (the admin screen reads it at
/// every sign-in).
pub async fn serve() -> impl IntoResponse {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| Bytes::from(document().to_string())).clone();
    ([(header::CONTENT_TYPE, "application/json")], body)
}

/// The problem responses, by status.
const PROBLEMS: &[(&str, &str)] = &[
    ("400", "The request is malformed: not JSON, not an object, an unknown field, a wrong JSON kind."),
    ("401", "No token, or an unknown or revoked one."),
    ("403", "The token's role may not do this."),
    ("404", "No such resource, or it belongs to another tenant."),
    ("409", "A uniqueness or in-use rule."),
    ("412", "`If-Match` names an old version."),
    ("413", "The body is larger than this endpoint takes."),
    ("415", "The body's Content-Type is not one this endpoint takes."),
    ("416", "No byte range asked for lies within the resource; `Content-Range: bytes */<size>` gives its size."),
    ("422", "The input breaks a rule; `errors` names each field and rule."),
    ("426", "The request is not a WebSocket upgrade: send `Connection: Upgrade`, `Upgrade: websocket` and the `Sec-WebSocket-*` headers, as WebSocket clients do."),
    ("429", "Too many connection tests and actions run at once (for the tenant or in all), too many live streams open for the tenant, an account's daily gateway quota is used up (`category` `quota_exceeded`, with `RateLimit-*` headers) or the vendor limits the rate (`rate_limited`); `Retry-After` says when to try again."),
    ("502", "A remote service the request needed (an S3 bucket, a vendor of the gateway) failed or refused; `category` says why and `vendor_status` gives the vendor's HTTP status."),
    ("503", "A limit of the service was reached; retry later."),
    ("504", "The vendor did not answer within the gateway's timeout (`category` `timeout`)."),
];

fn problem_responses() -> Map<String, Value> {
    PROBLEMS
        .iter()
        .map(|(status, description)| {
            (
                format!("Problem{status}"),
                json!({
                    "description": description,
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }),
            )
        })
        .collect()
}

/// A response with a JSON body of a component schema.
fn body(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
    })
}

/// The same, with the resource's `ETag`.
fn tagged(description: &str, schema: &str) -> Value {
    let mut response = body(description, schema);
    response["headers"] = json!({"ETag": {"$ref": "#/components/headers/ETag"}});
    response
}

fn no_content(description: &str) -> Value {
    json!({"description": description})
}

fn request(schema: &str) -> Value {
    json!({
        "required": true,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
    })
}

fn param(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

/// The problems of a gateway operation: the account named or selected cannot serve it
/// (404, 409), the input (422), the account's daily quota or the vendor's rate limit (429),
/// the vendor failed or refused (502) or did not answer in time (504). Each vendor and
/// quota problem carries its `category`, and `vendor_status` when the vendor answered.
const GATEWAY_PROBLEMS: &[&str] = &["404", "409", "422", "429", "502", "504"];

/// What the document says of an operation beyond the route table: its parameters, request
/// body, success responses and the problem statuses its handler can answer. 400 (a query
/// string or path that does not parse), 401 and the 403/404 of its declared access are
/// added from the table.
struct Details {
    parameters: &'static [&'static str],
    request: Option<Value>,
    success: Value,
    problems: &'static [&'static str],
}

fn details(
    parameters: &'static [&'static str],
    request: Option<Value>,
    success: Value,
    problems: &'static [&'static str],
) -> Details {
    Details { parameters, request, success, problems }
}

/// The problem statuses an access can answer before the handler runs.
fn access_problems(access: Access) -> &'static [&'static str] {
    match access {
        Access::Public => &[],
        Access::Caller => &["401"],
        Access::Tokens | Access::Provider => &["401", "403"],
        Access::Zapier => &["401", "404", "429"],
        _ => &["401", "403", "404"],
    }
}

/// The operation object of `op`.
fn operation(op: Operation, details: Details) -> Value {
    let mut responses = details.success.as_object().cloned().unwrap_or_default();
    let malformed: &[&str] = if op.access() == Access::Public { &[] } else { &["400"] };
    let problems = malformed.iter().chain(access_problems(op.access())).chain(details.problems);
    for status in problems {
        if !responses.contains_key(*status) {
            responses.insert((*status).to_owned(), json!({"$ref": format!("#/components/responses/Problem{status}")}));
        }
    }
    let mut object = json!({
        "operationId": op.id(),
        "summary": op.summary(),
        "x-access": access_name(op.access()),
        "parameters": details.parameters.iter().map(|p| param(p)).collect::<Vec<_>>(),
        "responses": responses,
    });
    match op.access() {
        Access::Public => object["security"] = json!([]),
        Access::Zapier => object["security"] = json!([{"zapier": []}]),
        _ => {}
    }
    if let Some(request) = details.request {
        object["requestBody"] = request;
    }
    object
}

/// The access's name in the document's `x-access`.
fn access_name(access: Access) -> &'static str {
    match access {
        Access::Public => "public",
        Access::Caller => "caller",
        Access::TenantRead => "tenant_read",
        Access::TenantWrite => "tenant_write",
        Access::TenantEvents => "tenant_events",
        Access::TenantRecordings => "tenant_recordings",
        Access::TenantGateway => "tenant_gateway",
        Access::TenantProvider => "tenant_provider",
        Access::Tokens => "tokens",
        Access::Provider => "provider",
        Access::Zapier => "zapier",
    }
}

/// Links from a created resource to the operations on it, by its `id`.
fn links(targets: &[(&str, &str)], tenant_from_request: bool) -> Value {
    let links: Map<String, Value> = targets
        .iter()
        .map(|(name, operation)| {
            let mut parameters = json!({});
            if tenant_from_request {
                parameters["tenant"] = json!("$request.path.tenant");
                parameters["id"] = json!("$response.body#/id");
            } else {
                parameters["tenant"] = json!("$response.body#/id");
            }
            ((*name).to_owned(), json!({"operationId": operation, "parameters": parameters}))
        })
        .collect();
    Value::Object(links)
}

fn paths() -> Value {
    let mut paths = Map::new();
    for &op in Operation::ALL {
        let entry = paths.entry(op.path()).or_insert_with(|| json!({}));
        entry[op.method().as_str().to_lowercase()] = operation(op, describe(op));
    }
    Value::Object(paths)
}

/// The details of each operation. The match is exhaustive: a new operation cannot go
/// undocumented.
fn describe(op: Operation) -> Details {
    use Operation as O;
    let w = &["tenant"][..];
    let wi = &["tenant", "id"][..];
    let wr = &["tenant", "recording_id"][..];
    let wj = &["tenant", "job_id"][..];
    let wa = &["tenant", "article_id"][..];
    match op {
        O::OpenApi => details(
            &[],
            None,
            json!({"200": {"description": "The OpenAPI 3.1 document.", "content": {"application/json": {"schema": {"type": "object"}}}}}),
            &[],
        ),
        O::ListIntegrationTypes => {
            details(&[], None, json!({"200": body("Every type with its providers.", "IntegrationTypes")}), &[])
        }
        O::ListTenants => details(&[], None, json!({"200": body("The tenants.", "TenantList")}), &[]),
        O::CreateTenant => {
            let mut created = json!({"201": tagged("The tenant.", "Tenant")});
            created["201"]["links"] = links(
                &[
                    ("GetTenant", "getTenant"),
                    ("UpdateTenant", "updateTenant"),
                    ("ListAccounts", "listAccounts"),
                    ("CreateAccount", "createAccount"),
                    ("TenantAudit", "tenantAudit"),
                ],
                false,
            );
            details(&[], Some(request("TenantCreate")), created, &["409", "422"])
        }
        O::GetTenant => details(w, None, json!({"200": tagged("The tenant.", "Tenant")}), &[]),
        O::UpdateTenant => details(
            &["tenant", "If-Match"],
            Some(request("TenantUpdate")),
            json!({"200": tagged("The tenant.", "Tenant")}),
            &["409", "412", "422"],
        ),
        O::UpdateTenantSettings => details(
            &["tenant", "If-Match"],
            Some(request("TenantSettings")),
            json!({"200": tagged("The tenant.", "Tenant")}),
            &["412", "422"],
        ),
        O::DeleteTenant => details(w, None, json!({"204": no_content("Deleted.")}), &[]),
        O::TenantContents => {
            details(w, None, json!({"200": body("What deleting the tenant removes.", "TenantContents")}), &[])
        }
        O::ListAccounts => {
            details(&["tenant", "type"], None, json!({"200": body("The accounts.", "AccountList")}), &["422"])
        }
        O::CreateAccount => {
            let mut created = json!({"201": tagged("The account (secrets only as set or not).", "Account")});
            created["201"]["headers"]["Location"] =
                json!({"description": "The account's URL.", "schema": {"type": "string"}});
            created["201"]["links"] = links(
                &[
                    ("GetAccount", "getAccount"),
                    ("UpdateAccount", "updateAccount"),
                    ("DeleteAccount", "deleteAccount"),
                    ("TestAccount", "testAccount"),
                    ("AccountAudit", "accountAudit"),
                ],
                true,
            );
            details(&["tenant", "Patchbay-Tested"], Some(request("AccountCreate")), created, &["409", "422"])
        }
        O::GetAccount => details(wi, None, json!({"200": tagged("The account.", "Account")}), &[]),
        O::UpdateAccount => details(
            &["tenant", "id", "If-Match", "Patchbay-Tested"],
            Some(request("AccountUpdate")),
            json!({"200": tagged("The account.", "Account")}),
            &["409", "412", "422"],
        ),
        O::DeleteAccount => {
            details(&["tenant", "id", "If-Match"], None, json!({"204": no_content("Deleted.")}), &["409", "412"])
        }
        O::TestUnsavedAccount => {
            let mut tested = json!({"200": body("The test report.", "TestReport")});
            tested["200"]["headers"]["Patchbay-Tested"] = json!({
                "description": "The report and the values tested, sealed: send it back with the create or update of exactly these values (within 15 minutes) to keep this report as the account's last test.",
                "schema": {"type": "string"},
            });
            details(&["tenant", "timeout_ms"], Some(request("AccountTest")), tested, &["422", "429"])
        }
        O::TestAllAccounts => details(
            &["tenant", "timeout_ms"],
            None,
            json!({"200": body("A report per account.", "BulkTestReport")}),
            &["422", "429"],
        ),
        O::TestAccount => details(
            &["tenant", "id", "timeout_ms"],
            None,
            json!({"200": body("The test report.", "TestReport")}),
            &["422", "429"],
        ),
        O::RunAction => details(
            &["tenant", "id", "action", "timeout_ms", "If-Match"],
            Some(
                json!({"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionRequest"}}}}),
            ),
            json!({
                "200": body("What the action did.", "ActionResult"),
                "502": body("The vendor refused or failed.", "ActionFailure"),
            }),
            &["412", "422", "429"],
        ),
        O::RotateInboundWebhook => details(
            wi,
            None,
            json!({"200": tagged("The account with its new inbound webhook URL.", "Account")}),
            &["409"],
        ),
        O::AccountAudit => details(
            &["tenant", "id", "limit", "before"],
            None,
            json!({"200": body("A page of entries.", "AuditPage")}),
            &["422"],
        ),
        O::TenantAudit => details(
            &["tenant", "limit", "before"],
            None,
            json!({"200": body("A page of entries.", "AuditPage")}),
            &["422"],
        ),
        O::IngestEvents => details(
            w,
            Some(json!({"required": true, "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            }})),
            json!({"200": body("Accepted, stale and rejected events.", "IntakeReport")}),
            &["503"],
        ),
        O::ListFeeds => details(w, None, json!({"200": body("One entry per feed.", "FeedList")}), &[]),
        O::LiveState => details(w, None, json!({"200": body("The counts.", "Live")}), &[]),
        O::LiveSnapshot => details(w, None, json!({"200": body("The live state now.", "LiveSnapshot")}), &[]),
        O::LiveStream => details(
            &["tenant", "live_Last-Event-ID"],
            None,
            json!({"200": {
                "description": "Server-Sent Events, without end: each event's name and JSON data are one `LiveEvent` (`event`, `data`). The first is `snapshot` (with `retry:` advice), or after a `Last-Event-ID` it can resume from, what changed since; then `agent`, `agent_removed` and `service` as the live state changes, `feeds` and `export_runs` (whole lists) when they differ from what was sent (looked at every 1 and 2 s), and a `: heartbeat` comment after 15 s without an event. Every event's `id` is the cursor to resume from. The stream ends when the server shuts down or the tenant is deleted.",
                "content": {"text/event-stream": {
                    "schema": {"type": "string"},
                    "x-events": {"$ref": "#/components/schemas/LiveEvent"},
                }},
            }}),
            &["429"],
        ),
        O::SearchRecordings => details(
            &[
                "tenant",
                "search_from",
                "search_to",
                "search_service",
                "search_agent",
                "search_phone",
                "search_direction",
                "search_q",
                "search_order",
                "search_limit",
                "search_cursor",
            ],
            None,
            json!({"200": body("A page of recordings.", "RecordingPage")}),
            &["422"],
        ),
        O::GetRecording => details(wr, None, json!({"200": body("The recording.", "Recording")}), &[]),
        O::PutRecording => details(
            wr,
            Some(request("RecordingMeta")),
            json!({"200": body("Replaced or unchanged.", "Recording"), "201": body("Created.", "Recording")}),
            &["409", "422"],
        ),
        O::PlayRecording => {
            let audio = audio_content();
            details(
                &["tenant", "recording_id", "download", "Range", "If-Range"],
                None,
                json!({
                    "200": {"description": "The whole audio.", "content": audio.clone()},
                    "206": {"description": "The byte range asked for, with Content-Range.", "content": audio},
                }),
                &["416", "422", "502"],
            )
        }
        O::PutRecordingAudio => details(
            wr,
            Some(json!({"required": true, "content": audio_content()})),
            json!({"200": body("Replaced (not exported yet).", "Recording"), "201": body("Stored.", "Recording")}),
            &["409", "413", "415"],
        ),
        O::TranscribeRecording => details(
            &["tenant", "recording_id"],
            Some(request("TranscriptRequest")),
            json!({"202": body("The transcript, started (`running`); GET it until it is `done` or `failed`.", "Transcript")}),
            &["404", "409", "422"],
        ),
        O::GetTranscript => {
            details(&["tenant", "recording_id"], None, json!({"200": body("The transcript.", "Transcript")}), &[])
        }
        O::GetTranscription => {
            details(w, None, json!({"200": body("The automatic transcription.", "TranscriptionSettings")}), &[])
        }
        O::PutTranscription => details(
            w,
            Some(request("TranscriptionSettings")),
            json!({"200": body("The automatic transcription.", "TranscriptionSettings")}),
            &["422"],
        ),
        O::ExportJobSettings => {
            details(&[], None, json!({"200": body("The described settings.", "ExportJobSettings")}), &[])
        }
        O::ListExportJobs => details(w, None, json!({"200": body("The jobs.", "ExportJobList")}), &[]),
        O::CreateExportJob => {
            let mut created = json!({"201": tagged("The job.", "ExportJob")});
            created["201"]["links"] = json!({
                "GetExportJob": {"operationId": "getExportJob", "parameters": {"tenant": "$request.path.tenant", "id": "$response.body#/id"}},
                "RunExportJob": {"operationId": "runExportJob", "parameters": {"tenant": "$request.path.tenant", "id": "$response.body#/id"}},
                "ListExportRuns": {"operationId": "listExportRuns", "parameters": {"tenant": "$request.path.tenant", "id": "$response.body#/id"}},
            });
            details(w, Some(request("ExportJobWrite")), created, &["409", "422"])
        }
        O::GetExportJob => details(wj, None, json!({"200": tagged("The job.", "ExportJob")}), &[]),
        O::UpdateExportJob => details(
            &["tenant", "job_id", "If-Match"],
            Some(request("ExportJobWrite")),
            json!({"200": tagged("The job.", "ExportJob")}),
            &["409", "412", "422"],
        ),
        O::DeleteExportJob => {
            details(&["tenant", "job_id", "If-Match"], None, json!({"204": no_content("Deleted.")}), &["412"])
        }
        O::RunExportJob => details(wj, None, json!({"202": body("The run, started.", "ExportRun")}), &["409"]),
        O::ListExportRuns => details(
            &["tenant", "job_id", "runs_limit"],
            None,
            json!({"200": body("The runs.", "ExportRunList")}),
            &["422"],
        ),
        O::GetExportRun => {
            details(&["tenant", "job_id", "run_id"], None, json!({"200": body("The run.", "ExportRun")}), &[])
        }
        O::ListExportRunFailures => details(
            &["tenant", "job_id", "run_id"],
            None,
            json!({"200": body("The failed recordings, at most 100.", "ExportFailureList")}),
            &[],
        ),
        O::GetExportRunMetadata => details(
            &["tenant", "job_id", "run_id"],
            None,
            json!({"200": {"description": "RFC 4180 CSV, one row per recording.", "content": {"text/csv": {"schema": {"type": "string"}}}}}),
            &[],
        ),
        O::Suggest => details(
            w,
            Some(request("SuggestRequest")),
            json!({"200": body("The suggestions.", "Suggestions")}),
            GATEWAY_PROBLEMS,
        ),
        O::Sentiment => details(
            w,
            Some(request("SentimentRequest")),
            json!({"200": body("The sentiment.", "Sentiment")}),
            GATEWAY_PROBLEMS,
        ),
        O::Identify => details(
            w,
            Some(request("IdentifyRequest")),
            json!({"200": body("The caller's contact fields.", "Identity")}),
            GATEWAY_PROBLEMS,
        ),
        O::Speech => details(
            w,
            Some(request("SpeechRequest")),
            json!({"200": {
                "description": "The audio in the format asked for, streamed. `X-Cache: hit` when it came from the tenant's cache; `X-Patchbay-Account` names the account.",
                "content": speech_content(),
            }}),
            GATEWAY_PROBLEMS,
        ),
        O::Transcribe => details(
            &["tenant", "stt_account", "stt_format", "stt_rate", "stt_model", "stt_interim"],
            None,
            json!({"101": {
                "description": "Switching Protocols: a WebSocket. The client sends its audio in binary messages and `{\"action\": \"end\"}` (`TranscribeControl`) as text when it is done; the server sends each result as a text message (`TranscriptPiece`) and closes with 1000 once the last final one is sent. A failure during the stream is a `TranscribeFailure` message, then a close with 1008 (the client broke the protocol), 1013 (the service asks to retry later) or 1011. `X-Patchbay-Account` names the account.",
                "x-messages": {
                    "client": [{"type": "string", "format": "binary"}, {"$ref": "#/components/schemas/TranscribeControl"}],
                    "server": [{"$ref": "#/components/schemas/TranscriptPiece"}, {"$ref": "#/components/schemas/TranscribeFailure"}],
                },
            }}),
            &["404", "409", "422", "426", "429", "502", "504"],
        ),
        O::CrmSearch => details(
            w,
            Some(request("CrmSearchRequest")),
            json!({"200": body("The contacts found.", "CrmContacts")}),
            GATEWAY_PROBLEMS,
        ),
        O::KbSearch => details(
            &["tenant", "kb_q", "kb_limit"],
            None,
            json!({"200": body("The articles found, best first, and where they were found.", "KbResults")}),
            GATEWAY_PROBLEMS,
        ),
        O::KbTopic => details(
            w,
            Some(request("KbArticleWrite")),
            json!({"201": body("Where the topic went.", "KbTopicCreated")}),
            &["409", "422"],
        ),
        O::ConversationEvents => details(
            &["tenant", "events_after", "events_wait", "events_limit", "Last-Event-ID"],
            None,
            json!({"200": {
                "description": "A page of events (`application/json`), or with `Accept: text/event-stream` a stream of them: each SSE event has the event's `id`, its `type` as the event name, and the event as JSON data.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ConversationEventPage"}},
                    "text/event-stream": {"schema": {"type": "string"}},
                },
            }}),
            &["422"],
        ),
        O::GetConversation => details(
            &["tenant", "conversation_id"],
            None,
            json!({"200": body("The conversation and its newest messages.", "Conversation")}),
            &[],
        ),
        O::SendReply => details(
            &["tenant", "conversation_id", "Idempotency-Key"],
            Some(request("ReplyRequest")),
            json!({
                "202": body("The reply, pending: its outcome comes as a `message_status` event.", "ConversationMessage"),
                "200": body("The reply an earlier request with this Idempotency-Key made (nothing is sent again).", "ConversationMessage"),
            }),
            &["400", "409", "422"],
        ),
        O::ListSubscriptions => details(w, None, json!({"200": body("The subscriptions.", "SubscriptionList")}), &[]),
        O::CreateSubscription => details(
            w,
            Some(request("SubscriptionCreate")),
            json!({"201": body("The subscription and its signing secret, shown this once.", "SubscriptionCreated")}),
            &["422"],
        ),
        O::GetSubscription => details(
            &["tenant", "subscription_id"],
            None,
            json!({"200": body("The subscription.", "Subscription")}),
            &[],
        ),
        O::DeleteSubscription => {
            details(&["tenant", "subscription_id"], None, json!({"204": no_content("Deleted.")}), &[])
        }
        O::ResumeSubscription => details(
            &["tenant", "subscription_id"],
            None,
            json!({"200": body("The subscription, active again.", "Subscription")}),
            &[],
        ),
        O::GetConversationSettings => {
            details(w, None, json!({"200": body("The settings.", "ConversationSettings")}), &[])
        }
        O::PutConversationSettings => details(
            w,
            Some(request("ConversationSettings")),
            json!({"200": body("The settings.", "ConversationSettings")}),
            &["422"],
        ),
        O::GetBindings => details(w, None, json!({"200": body("The bindings.", "Bindings")}), &[]),
        O::PutBindings => {
            details(w, Some(request("Bindings")), json!({"200": body("The bindings.", "Bindings")}), &["422"])
        }
        O::AccountUsage => details(
            &["tenant", "id", "days"],
            None,
            json!({"200": body("Calls, errors and quota per day.", "Usage")}),
            &["422"],
        ),
        O::ZapierMe => details(&["tenant"], None, json!({"200": body("Who the credentials are.", "ZapierMe")}), &[]),
        O::ZapierTriggerItems => details(
            &["tenant", "trigger", "zapier_limit"],
            None,
            json!({"200": {"description": "The newest items first; each has a unique, stable `id` (the other fields are the trigger's: a conversation event, a recording, an export run or a health change).", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}}}}),
            &["400", "422"],
        ),
        O::ZapierSubscribe => details(
            &["tenant"],
            Some(request("ZapierHookCreate")),
            json!({"201": body("The hook, with its signing secret (shown once).", "ZapierHook")}),
            &["422"],
        ),
        O::ZapierUnsubscribe => details(&["tenant", "hook_id"], None, json!({"204": no_content("Unsubscribed.")}), &[]),
        O::ZapierSendMessage => details(
            &["tenant"],
            Some(request("ZapierSendMessage")),
            json!({"202": body("The reply, pending.", "ConversationMessage"), "200": body("The same reply, already sent.", "ConversationMessage")}),
            &["422"],
        ),
        O::ZapierCreateKbArticle => details(
            &["tenant"],
            Some(request("KbArticleWrite")),
            json!({"201": tagged("The article.", "KbArticle")}),
            &["422"],
        ),
        O::ZapierLookupContact => details(
            &["tenant"],
            Some(request("CrmSearchRequest")),
            json!({"200": body("The contacts.", "CrmContacts")}),
            &["409", "422", "502"],
        ),
        O::ListUsers => details(w, None, json!({"200": body("The users, by email.", "UserList")}), &[]),
        O::CreateUser => {
            details(w, Some(request("UserCreate")), json!({"201": tagged("The user.", "User")}), &["409", "422"])
        }
        O::GetUser => details(&["tenant", "user_id"], None, json!({"200": tagged("The user.", "User")}), &[]),
        O::UpdateUser => details(
            &["tenant", "user_id", "If-Match"],
            Some(request("UserUpdate")),
            json!({"200": tagged("The user.", "User")}),
            &["412", "422"],
        ),
        O::DeleteUser => {
            details(&["tenant", "user_id", "If-Match"], None, json!({"204": no_content("Deleted.")}), &["412"])
        }
        O::ListKbArticles => details(w, None, json!({"200": body("The articles, by title.", "KbArticleList")}), &[]),
        O::CreateKbArticle => {
            details(w, Some(request("KbArticleWrite")), json!({"201": tagged("The article.", "KbArticle")}), &["422"])
        }
        O::GetKbArticle => details(wa, None, json!({"200": tagged("The article.", "KbArticle")}), &[]),
        O::UpdateKbArticle => details(
            &["tenant", "article_id", "If-Match"],
            Some(request("KbArticleWrite")),
            json!({"200": tagged("The article.", "KbArticle")}),
            &["412", "422"],
        ),
        O::DeleteKbArticle => {
            details(&["tenant", "article_id", "If-Match"], None, json!({"204": no_content("Deleted.")}), &["412"])
        }
        O::ListTokens => details(&[], None, json!({"200": body("The tokens.", "TokenList")}), &[]),
        O::CreateToken => {
            let mut created = json!({"201": body("The token, with its value shown only here.", "TokenCreated")});
            created["201"]["links"] =
                json!({"RevokeToken": {"operationId": "revokeToken", "parameters": {"id": "$response.body#/id"}}});
            details(&[], Some(request("TokenCreate")), created, &["404", "422"])
        }
        O::RevokeToken => details(&["token_id"], None, json!({"204": no_content("Revoked.")}), &["404"]),
        O::WhoAmI | O::WhoAmIPost => details(&[], None, json!({"200": body("The token.", "WhoAmI")}), &[]),
        O::KeyStatus => details(&[], None, json!({"200": body("The keys.", "KeyStatus")}), &[]),
        O::RotateKeys => details(&[], None, json!({"201": body("The keys.", "KeyStatus")}), &[]),
        O::ResealSecrets => details(
            &["batch", "after"],
            None,
            json!({"200": body("What this call did; loop while `next` is set.", "ResealReport")}),
            &["422"],
        ),
        O::RetireKey => details(&["key_id"], None, json!({"204": no_content("Removed.")}), &["404", "409"]),
    }
}

/// The media types of synthesized speech, each a binary body.
fn speech_content() -> Map<String, Value> {
    patchbay_api::AudioFormat::ALL
        .iter()
        .map(|f| (f.content_type().to_owned(), json!({"schema": {"type": "string", "format": "binary"}})))
        .collect()
}

/// The audio media types a recording may have, each a binary body.
fn audio_content() -> Map<String, Value> {
    patchbay_recordings::AUDIO_TYPES
        .iter()
        .map(|(t, _)| ((*t).to_owned(), json!({"schema": {"type": "string", "format": "binary"}})))
        .collect()
}

/// The query parameters of a query type, by `prefix` and name: each property of its schema,
/// with its description, required when the type requires it. A parameter is present or
/// absent, never null.
fn query_parameters<T: JsonSchema>(prefix: &str) -> Map<String, Value> {
    let schema =
        Value::from(schemars::SchemaGenerator::new(SchemaSettings::draft2020_12()).into_root_schema_for::<T>());
    let properties = schema["properties"].as_object().cloned().unwrap_or_default();
    let required: Vec<&str> =
        schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    properties
        .into_iter()
        .map(|(name, mut property)| {
            let is_required = required.contains(&name.as_str());
            let description = property.as_object_mut().and_then(|p| p.remove("description")).unwrap_or(json!(""));
            if let Some(types) = property["type"].as_array() {
                let kinds: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                property["type"] = if kinds.len() == 1 { kinds[0].clone() } else { Value::Array(kinds) };
            }
            let parameter = json!({"name": name, "in": "query", "required": is_required, "description": description, "schema": property});
            (format!("{prefix}{name}"), parameter)
        })
        .collect()
}

fn parameters() -> Value {
    let path = |name: &str, description: &str| json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}});
    let mut account_id = path("id", "The account id.");
    account_id["schema"]["format"] = json!("uuid");
    let mut token_id = path("id", "The token id.");
    token_id["schema"]["format"] = json!("uuid");
    let mut job_id = path("id", "The export job id.");
    job_id["schema"]["format"] = json!("uuid");
    let mut article_id = path("id", "The article id.");
    article_id["schema"]["format"] = json!("uuid");
    let mut run_id = path("run_id", "The run id.");
    run_id["schema"]["format"] = json!("uuid");
    let mut key_id = path("id", "The key id.");
    key_id["schema"] = json!({"type": "integer", "minimum": 0, "maximum": u32::MAX});
    let mut parameters = json!({
        "tenant": path("tenant", "The tenant id."),
        "id": account_id,
        "token_id": token_id,
        "key_id": key_id,
        "action": path("action", "An action key of the provider, e.g. `generate_token`."),
        "subscription_id": {"name": "subscription_id", "in": "path", "required": true, "description": "The subscription id.", "schema": {"type": "string", "format": "uuid"}},
        "hook_id": {"name": "hook_id", "in": "path", "required": true, "description": "The hook id.", "schema": {"type": "string", "format": "uuid"}},
        "trigger": {"name": "trigger", "in": "path", "required": true, "description": "The trigger.", "schema": {"$ref": "#/components/schemas/ZapierTrigger"}},
        "zapier_limit": {"name": "limit", "in": "query", "required": false, "description": "How many items, newest first (1 to 100; 50 when left out).", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
        "user_id": {"name": "user_id", "in": "path", "required": true, "description": "The user id.", "schema": {"type": "string", "format": "uuid"}},
        "conversation_id": {"name": "conversation_id", "in": "path", "required": true, "description": "The conversation id.", "schema": {"type": "string", "format": "uuid"}},
        "Idempotency-Key": {"name": "Idempotency-Key", "in": "header", "required": false, "description": "Any unique string up to 255 printable characters (a UUID, say): a request repeated with the same key and text sends the reply once; the same key with another text is a 409.", "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
        "recording_id": {"name": "recording_id", "in": "path", "required": true, "description": "The recording id: 1 to 64 of A-Z a-z 0-9 -.", "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$"}},
        "job_id": job_id,
        "article_id": article_id,
        "run_id": run_id,
        "Range": {"name": "Range", "in": "header", "required": false, "description": "One byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n`. A Range that does not parse is ignored (200); several satisfiable ranges get the whole audio; none satisfiable is 416.", "schema": {"type": "string"}},
        "live_Last-Event-ID": {"name": "Last-Event-ID", "in": "header", "required": false, "description": "The `id` of the last event received (a reconnecting EventSource sends it): the stream goes on after it, or starts with a fresh snapshot when it cannot (another node or process, a restart, or changes it no longer holds).", "schema": {"type": "string"}},
        "Last-Event-ID": {"name": "Last-Event-ID", "in": "header", "required": false, "description": "With `Accept: text/event-stream`: the id of the last event received; the stream goes on after it (instead of `after`).", "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}},
        "If-Range": {"name": "If-Range", "in": "header", "required": false, "description": "The ETag (strong) the client holds: the Range applies only while it is current, else the whole audio (200). A weak ETag or a date never matches.", "schema": {"type": "string"}},
        "Patchbay-Tested": {
            "name": "Patchbay-Tested", "in": "header", "required": false,
            "description": "The `Patchbay-Tested` header of a test of unsaved values: when this request saves exactly those values within 15 minutes, the test becomes the account's last test. Otherwise (or when it does not open) it is ignored, and a change of a property or secret leaves the account untested.",
            "schema": {"type": "string", "maxLength": 4096},
        },
        "If-Match": {
            "name": "If-Match", "in": "header", "required": false,
            "description": "An ETag this API returned (`\"3\"`) or `*`; a stale one is a 412.",
            "schema": {"type": "string", "pattern": "^(\\*|(W/)?\"[0-9]{1,18}\")$"},
        },
    });
    if let Some(all) = parameters.as_object_mut() {
        all.extend(query_parameters::<AccountFilter>(""));
        all.extend(query_parameters::<TestOptions>(""));
        all.extend(query_parameters::<AuditQuery>(""));
        all.extend(query_parameters::<ResealQuery>(""));
        all.extend(query_parameters::<RecordingSearch>("search_"));
        all.extend(query_parameters::<PlaybackQuery>(""));
        all.extend(query_parameters::<RunsQuery>("runs_"));
        all.extend(query_parameters::<UsageQuery>(""));
        all.extend(query_parameters::<KbSearchQuery>("kb_"));
        all.extend(query_parameters::<TranscribeQuery>("stt_"));
        all.extend(query_parameters::<ConversationEventsQuery>("events_"));
    }
    parameters
}

/// The whole document.
pub fn document() -> Value {
    let schemas = patchbay_api::component_schemas();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "patchbay",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Integration accounts of contact centers: catalog, tenants, accounts with write-only \
                secrets, connection tests, audit, tokens, events and feeds, recordings with their export to S3 and playback, and the runtime gateway through which applications use accounts. Errors are application/problem+json.",
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "zapier": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The username and password of one of the tenant's enabled Zapier accounts."
                },
            },
            "schemas": schemas,
            "responses": problem_responses(),
            "parameters": parameters(),
            "headers": {"ETag": {"description": "The version: `\"<version>\"`.", "schema": {"type": "string", "pattern": "^\"[0-9]+\"$"}}},
        },
    })
}
