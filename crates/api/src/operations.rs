//! Every operation of the REST API, once: method, path (under [`API_PREFIX`]), the access it
//! declares, its OpenAPI operation id and summary. The server's router is built from this
//! table and an exhaustive match from operation to handler, so an operation cannot exist
//! without a handler and access, and a handler cannot be routed without an operation.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::Access;

/// Where the REST API is mounted.
pub const API_PREFIX: &str = "/api/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

macro_rules! operations {
    ($($(#[$meta:meta])* $name:ident = $method:ident $path:literal, $access:ident, $id:literal, $summary:literal;)*) => {
        /// One operation of the REST API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $($(#[$meta])* $name,)*
        }

        impl Operation {
            /// Every operation, in the order the document lists them.
            pub const ALL: &'static [Operation] = &[$(Operation::$name,)*];

            pub fn method(self) -> Method {
                match self {
                    $(Operation::$name => Method::$method,)*
                }
            }

            /// The path template under [`API_PREFIX`], with `{name}` parameters.
            pub fn path(self) -> &'static str {
                match self {
                    $(Operation::$name => $path,)*
                }
            }

            /// Who may call it.
            pub fn access(self) -> Access {
                match self {
                    $(Operation::$name => Access::$access,)*
                }
            }

            /// The OpenAPI `operationId`.
            pub fn id(self) -> &'static str {
                match self {
                    $(Operation::$name => $id,)*
                }
            }

            /// The OpenAPI `summary`.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Operation::$name => $summary,)*
                }
            }
        }
    };
}

operations! {
    OpenApi = Get "/openapi.json", Public, "openapi", "This document";
    ListIntegrationTypes = Get "/integration-types", Caller, "listIntegrationTypes",
        "The catalog of integration types and providers";
    ListTenants = Get "/tenants", Caller, "listTenants", "The tenants the token may see";
    CreateTenant = Post "/tenants", Provider, "createTenant", "Create a tenant (sp_admin)";
    GetTenant = Get "/tenants/{tenant}", TenantRead, "getTenant", "A tenant";
    UpdateTenant = Put "/tenants/{tenant}", TenantProvider, "updateTenant",
        "Rename a tenant or change its gated types (sp_admin)";
    UpdateTenantSettings = Put "/tenants/{tenant}/settings", TenantWrite, "updateTenantSettings",
        "Change the tenant's own settings (its time zone)";
    DeleteTenant = Delete "/tenants/{tenant}", TenantProvider, "deleteTenant",
        "Delete a tenant, its accounts and tokens (sp_admin)";
    TenantContents = Get "/tenants/{tenant}/contents", TenantProvider, "tenantContents",
        "What deleting the tenant removes: its accounts, export jobs, users, tokens and recordings, counted (sp_admin)";
    ListAccounts = Get "/tenants/{tenant}/integration-accounts", TenantRead, "listAccounts", "The tenant's accounts";
    CreateAccount = Post "/tenants/{tenant}/integration-accounts", TenantWrite, "createAccount", "Create an account";
    GetAccount = Get "/tenants/{tenant}/integration-accounts/{id}", TenantRead, "getAccount", "An account";
    UpdateAccount = Put "/tenants/{tenant}/integration-accounts/{id}", TenantWrite, "updateAccount",
        "Update an account";
    DeleteAccount = Delete "/tenants/{tenant}/integration-accounts/{id}", TenantWrite, "deleteAccount",
        "Delete an account";
    TestUnsavedAccount = Post "/tenants/{tenant}/integration-accounts/test", TenantWrite, "testUnsavedAccount",
        "Test an unsaved account body; saves nothing";
    TestAllAccounts = Post "/tenants/{tenant}/integration-accounts/tests", TenantWrite, "testAllAccounts",
        "Test every enabled account of the tenant";
    TestAccount = Post "/tenants/{tenant}/integration-accounts/{id}/test", TenantWrite, "testAccount",
        "Test a saved account and keep the result";
    RunAction = Post "/tenants/{tenant}/integration-accounts/{id}/actions/{action}", TenantWrite, "runAction",
        "Run an action the catalog declares for the account's provider";
    RotateInboundWebhook = Post "/tenants/{tenant}/integration-accounts/{id}/inbound-webhook/rotate", TenantWrite,
        "rotateInboundWebhook",
        "Give a messenger account a new inbound webhook URL; the old one stops at once (set the new one at the vendor)";
    AccountAudit = Get "/tenants/{tenant}/integration-accounts/{id}/audit", TenantRead, "accountAudit",
        "The account's audit trail, newest first";
    TenantAudit = Get "/tenants/{tenant}/audit", TenantRead, "tenantAudit", "The tenant's audit trail, newest first";
    IngestEvents = Post "/tenants/{tenant}/events", TenantEvents, "ingestEvents",
        "Agent and service events: NDJSON or a JSON array";
    ListFeeds = Get "/tenants/{tenant}/feeds", TenantRead, "listFeeds", "Health of the tenant's feeds";
    LiveState = Get "/tenants/{tenant}/live", TenantRead, "liveState", "Counts of the tenant's live state";
    LiveSnapshot = Get "/tenants/{tenant}/live/snapshot", TenantRead, "liveSnapshot",
        "The tenant's agents, service statistics, feeds' health and running export runs, now";
    LiveStream = Get "/tenants/{tenant}/live/stream", TenantRead, "liveStream",
        "Server-Sent Events: a snapshot of the tenant's live state, then what changes";
    SearchRecordings = Get "/tenants/{tenant}/recordings", TenantRead, "searchRecordings",
        "Recordings by time range, service, agent and phone, newest call first";
    GetRecording = Get "/tenants/{tenant}/recordings/{recording_id}", TenantRead, "getRecording",
        "A recording with where it was exported";
    PutRecording = Put "/tenants/{tenant}/recordings/{recording_id}", TenantRecordings, "putRecording",
        "Create a recording or replace its metadata (fixed once exported)";
    PlayRecording = Get "/tenants/{tenant}/recordings/{recording_id}/audio", TenantRead, "playRecording",
        "The audio, whole or one byte range, from the data dir or the bucket it was exported to";
    PutRecordingAudio = Put "/tenants/{tenant}/recordings/{recording_id}/audio", TenantRecordings,
        "putRecordingAudio", "The audio as a streamed body of any size (PUT the metadata first)";
    TranscribeRecording = Post "/tenants/{tenant}/recordings/{recording_id}/transcript", TenantWrite,
        "transcribeRecording",
        "Transcribe the recording's audio (in the background) through a Speech To Text account, with sentiment per utterance";
    GetTranscript = Get "/tenants/{tenant}/recordings/{recording_id}/transcript", TenantRead, "getTranscript",
        "The recording's transcript: its state, and once done its utterances with times and sentiment";
    GetTranscription = Get "/tenants/{tenant}/recording-transcription", TenantRead, "getTranscription",
        "Whether new recordings are transcribed as their audio arrives, and how";
    PutTranscription = Put "/tenants/{tenant}/recording-transcription", TenantWrite, "putTranscription",
        "Turn the automatic transcription of new recordings on or off";
    ExportJobSettings = Get "/recording-export-jobs/settings", Caller, "getExportJobSettings",
        "How an export job's settings are described (fields, JSON Schema, template tokens)";
    ListExportJobs = Get "/tenants/{tenant}/recording-export-jobs", TenantRead, "listExportJobs",
        "The tenant's recording export jobs";
    CreateExportJob = Post "/tenants/{tenant}/recording-export-jobs", TenantWrite, "createExportJob",
        "Create a periodic recording export job";
    GetExportJob = Get "/tenants/{tenant}/recording-export-jobs/{id}", TenantRead, "getExportJob",
        "A job with its last run";
    UpdateExportJob = Put "/tenants/{tenant}/recording-export-jobs/{id}", TenantWrite, "updateExportJob",
        "Replace a job";
    DeleteExportJob = Delete "/tenants/{tenant}/recording-export-jobs/{id}", TenantWrite, "deleteExportJob",
        "Delete a job and its runs (exports stay playable)";
    RunExportJob = Post "/tenants/{tenant}/recording-export-jobs/{id}/run", TenantWrite, "runExportJob",
        "Run the job now";
    ListExportRuns = Get "/tenants/{tenant}/recording-export-jobs/{id}/runs", TenantRead, "listExportRuns",
        "The job's runs, newest first";
    GetExportRun = Get "/tenants/{tenant}/recording-export-jobs/{id}/runs/{run_id}", TenantRead, "getExportRun",
        "One run";
    GetExportRunMetadata = Get "/tenants/{tenant}/recording-export-jobs/{id}/runs/{run_id}/metadata.csv",
        TenantRead, "getExportRunMetadata", "The run's metadata CSV, once the run ended";
    ListExportRunFailures = Get "/tenants/{tenant}/recording-export-jobs/{id}/runs/{run_id}/failures",
        TenantRead, "listExportRunFailures", "The recordings the run could not export, each with its reason";
    Suggest = Post "/tenants/{tenant}/gateway/suggestions", TenantGateway, "suggest",
        "Suggestions for an agent from a chat bot account";
    Sentiment = Post "/tenants/{tenant}/gateway/sentiment", TenantGateway, "sentiment",
        "The sentiment of a text, from a Natural Language Understanding account";
    Identify = Post "/tenants/{tenant}/gateway/identify", TenantGateway, "identify",
        "Who a caller is, from Next Caller or The Data Group, as contact fields";
    Speech = Post "/tenants/{tenant}/gateway/speech", TenantGateway, "speech",
        "Speech for a prompt, from a Text To Speech account (the audio, streamed)";
    Transcribe = Get "/tenants/{tenant}/gateway/transcribe", TenantGateway, "transcribe",
        "Stream audio to a Speech To Text account over a WebSocket; the transcript comes back as it forms";
    CrmSearch = Post "/tenants/{tenant}/gateway/crm/contacts/search", TenantGateway, "crmSearch",
        "Contacts with a phone number or email address, from a CRM account";
    KbSearch = Get "/tenants/{tenant}/gateway/kb/search", TenantGateway, "kbSearch",
        "Search the knowledge base: the exclusive external KB, else the native KB and then the external one";
    KbTopic = Post "/tenants/{tenant}/gateway/kb/topics", TenantGateway, "kbTopic",
        "Submit a topic to the knowledge base (the native KB unless an external one is exclusive)";
    ConversationEvents = Get "/tenants/{tenant}/conversations/events", TenantGateway, "conversationEvents",
        "The tenant's conversation events after a cursor: a page (long-poll with `wait`), or Server-Sent Events";
    GetConversation = Get "/tenants/{tenant}/conversations/{conversation_id}", TenantGateway, "getConversation",
        "A conversation with its newest messages";
    SendReply = Post "/tenants/{tenant}/conversations/{conversation_id}/messages", TenantGateway, "sendReply",
        "Send a reply to the customer through the messenger (once per Idempotency-Key); its outcome comes as a message_status event";
    ListSubscriptions = Get "/tenants/{tenant}/subscriptions", TenantRead, "listSubscriptions",
        "Where the tenant's conversation events are POSTed, and how delivery goes";
    CreateSubscription = Post "/tenants/{tenant}/subscriptions", TenantWrite, "createSubscription",
        "POST conversation events to a URL, signed as Standard Webhooks says (the secret is shown once)";
    GetSubscription = Get "/tenants/{tenant}/subscriptions/{subscription_id}", TenantRead, "getSubscription",
        "A subscription and how its delivery goes";
    DeleteSubscription = Delete "/tenants/{tenant}/subscriptions/{subscription_id}", TenantWrite,
        "deleteSubscription", "Stop POSTing events to a URL";
    ResumeSubscription = Post "/tenants/{tenant}/subscriptions/{subscription_id}/resume", TenantWrite,
        "resumeSubscription", "Deliver again to a failed subscription, from the event that failed";
    GetConversationSettings = Get "/tenants/{tenant}/conversation-settings", TenantRead, "getConversationSettings",
        "How long the tenant keeps conversations";
    PutConversationSettings = Put "/tenants/{tenant}/conversation-settings", TenantWrite, "putConversationSettings",
        "Change how long the tenant keeps conversations";
    GetBindings = Get "/tenants/{tenant}/gateway/bindings", TenantRead, "getBindings",
        "Which chat bot serves each service and launch point";
    PutBindings = Put "/tenants/{tenant}/gateway/bindings", TenantWrite, "putBindings",
        "Replace the chat bot bindings of services and launch points";
    AccountUsage = Get "/tenants/{tenant}/integration-accounts/{id}/usage", TenantRead, "accountUsage",
        "Gateway calls, errors and quota per day, and the live health of the account's traffic";
    ListKbArticles = Get "/tenants/{tenant}/kb/articles", TenantRead, "listKbArticles",
        "The tenant's native knowledge base articles";
    CreateKbArticle = Post "/tenants/{tenant}/kb/articles", TenantWrite, "createKbArticle",
        "Add an article to the native knowledge base";
    GetKbArticle = Get "/tenants/{tenant}/kb/articles/{id}", TenantRead, "getKbArticle", "A native KB article";
    UpdateKbArticle = Put "/tenants/{tenant}/kb/articles/{id}", TenantWrite, "updateKbArticle",
        "Replace a native KB article";
    DeleteKbArticle = Delete "/tenants/{tenant}/kb/articles/{id}", TenantWrite, "deleteKbArticle",
        "Delete a native KB article";
    ListUsers = Get "/tenants/{tenant}/users", TenantRead, "listUsers",
        "The people who sign in to the admin screen through the tenant's identity provider";
    CreateUser = Post "/tenants/{tenant}/users", TenantWrite, "createUser",
        "Add a user before their first sign-in (needed when just-in-time provisioning is off)";
    GetUser = Get "/tenants/{tenant}/users/{user_id}", TenantRead, "getUser", "A user";
    UpdateUser = Put "/tenants/{tenant}/users/{user_id}", TenantWrite, "updateUser",
        "Change a user's role, or disable them (their sessions end at once)";
    DeleteUser = Delete "/tenants/{tenant}/users/{user_id}", TenantWrite, "deleteUser",
        "Remove a user (a later sign-in creates them again only when just-in-time provisioning is on)";
    ZapierMe = Get "/tenants/{tenant}/zapier/me", Zapier, "zapierMe",
        "Zapier's connection test: the tenant and the Zapier account whose credentials were used";
    ZapierTriggerItems = Get "/tenants/{tenant}/zapier/triggers/{trigger}", Zapier, "zapierTrigger",
        "A polling trigger's newest items first, each with a unique, stable `id`";
    ZapierSubscribe = Post "/tenants/{tenant}/zapier/hooks", Zapier, "zapierSubscribe",
        "Subscribe a REST hook: new items of the trigger are POSTed, signed, to `target_url`";
    ZapierUnsubscribe = Delete "/tenants/{tenant}/zapier/hooks/{hook_id}", Zapier, "zapierUnsubscribe",
        "Unsubscribe a REST hook";
    ZapierSendMessage = Post "/tenants/{tenant}/zapier/actions/send_message", Zapier, "zapierSendMessage",
        "Send a reply to a customer's conversation through its messenger";
    ZapierCreateKbArticle = Post "/tenants/{tenant}/zapier/actions/create_kb_article", Zapier,
        "zapierCreateKbArticle", "Add an article to the native knowledge base";
    ZapierLookupContact = Post "/tenants/{tenant}/zapier/actions/lookup_contact", Zapier, "zapierLookupContact",
        "Contacts with a phone number or email address, from the tenant's CRM through the gateway";
    ListTokens = Get "/tokens", Tokens, "listTokens", "The tokens the caller may see (never their values)";
    CreateToken = Post "/tokens", Tokens, "createToken", "Create a token";
    RevokeToken = Delete "/tokens/{id}", Tokens, "revokeToken", "Revoke a token";
    WhoAmI = Get "/whoami", Caller, "whoami", "The presented token";
    WhoAmIPost = Post "/whoami", Caller, "whoamiPost", "The presented token";
    KeyStatus = Get "/keys", Provider, "keyStatus", "Master keys and how many values each seals (sp_admin)";
    RotateKeys = Post "/keys/rotate", Provider, "rotateKeys", "A new active master key (sp_admin)";
    ResealSecrets = Post "/keys/reseal", Provider, "resealSecrets",
        "Seal a batch of values under the active key (sp_admin)";
    RetireKey = Delete "/keys/{id}", Provider, "retireKey",
        "Remove a key that is not active and seals nothing (sp_admin)";
}

/// What a path segment may hold as is; everything else is percent-encoded.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

impl Operation {
    /// The names of the path's parameters, in order.
    pub fn parameters(self) -> impl Iterator<Item = &'static str> {
        self.path().split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }

    /// The full path (with [`API_PREFIX`]) with `values` filled into the parameters in
    /// order, each percent-encoded as one segment.
    ///
    /// # Panics
    /// When the number of values is not the number of parameters: a programming error.
    pub fn url(self, values: &[&str]) -> String {
        let mut values = values.iter();
        let mut url = String::from(API_PREFIX);
        for segment in self.path().split('/').skip(1) {
            url.push('/');
            if segment.starts_with('{') {
                let value = values.next().unwrap_or_else(|| panic!("{} needs a value for {segment}", self.id()));
                url.extend(utf8_percent_encode(value, SEGMENT));
            } else {
                url.push_str(segment);
            }
        }
        assert!(values.next().is_none(), "{} was given more values than it has parameters", self.id());
        url
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn operation_ids_and_method_paths_are_unique() {
        let ids: HashSet<_> = Operation::ALL.iter().map(|op| op.id()).collect();
        assert_eq!(ids.len(), Operation::ALL.len());
        let routes: HashSet<_> = Operation::ALL.iter().map(|op| (op.method(), op.path())).collect();
        assert_eq!(routes.len(), Operation::ALL.len());
    }

    #[test]
    fn tenant_scoped_access_is_declared_only_on_paths_with_a_tenant() {
        for op in Operation::ALL {
            let has_tenant = op.parameters().any(|p| p == "tenant");
            // Zapier's credentials are a tenant's by construction: the server admits them for
            // the path's tenant only, before `decide`.
            let scoped = op.access().is_tenant_scoped() || op.access() == Access::Zapier;
            assert_eq!(scoped, has_tenant, "{op:?} {}", op.path());
        }
    }

    #[test]
    fn urls_fill_parameters_in_order_and_encode_each_as_one_segment() {
        assert_eq!(
            Operation::GetAccount.url(&["acme", "a/b c"]),
            "/api/v1/tenants/acme/integration-accounts/a%2Fb%20c"
        );
        assert_eq!(Operation::ListTokens.url(&[]), "/api/v1/tokens");
    }
}
