//! The REST API's contract, shared by the server and the CLI: the request and response
//! bodies (serde types whose JSON Schemas become the OpenAPI components), the roles a token can have,
//! who may call what (`Access` and its one decision rule), and the table of every
//! operation (method, path, access, id, summary). The server builds its router and the
//! OpenAPI document's paths from [`Operation::ALL`]; tests generate the access matrix from
//! it; the CLI names paths through it.
//!
//! The catalog is its only patchbay dependency: the schemas take the keys of types and
//! providers from it, the account bodies' schemas embed each provider's own, and the export
//! job settings' schemas and defaults are the catalog's description of them.
//!
//! It must not do I/O, know handlers, or depend on the server: it is plain data and rules.

mod access;
mod accounts;
mod catalog;
mod conversations;
mod events;
mod export_jobs;
mod feeds;
mod gateway;
mod kb;
mod keys;
mod live;
mod operations;
mod problem;
mod queries;
mod recordings;
mod schema;
mod tenants;
mod testing;
mod tokens;
mod users;
mod zapier;

pub use access::{Access, Denial, Role, ZAPIER_CREDENTIALS};
pub use accounts::{Account, AccountCreate, AccountList, AccountTest, AccountUpdate};
pub use catalog::{IntegrationTypeInfo, IntegrationTypes, ProviderInfo};
pub use conversations::{
    Conversation, ConversationEvent, ConversationEventPage, ConversationEventType, ConversationEventsQuery,
    ConversationMessage, ConversationSettings, Customer, InboundHealth, MessageDirection, MessageStatus,
    RejectedDelivery, ReplyRequest, Subscription, SubscriptionCreate, SubscriptionCreated, SubscriptionFailure,
    SubscriptionList, SubscriptionState,
};
pub use events::{IntakeReport, Live, RejectedEvent};
pub use export_jobs::{
    ExportFailure, ExportFailureList, ExportJob, ExportJobList, ExportJobSettings, ExportJobWrite, ExportRun,
    ExportRunList, ExportRunReason, ExportRunState, JobSettings, SettingField, TemplateTokenInfo, Window,
};
pub use feeds::{FeedHealth, FeedList, FeedStatus};
pub use gateway::{
    AudioFormat, AudioInput, Bindings, CrmContact, CrmContacts, CrmSearchRequest, IdentifyRequest, Identity, LiveError,
    LiveHealth, Sentiment, SentimentLabel, SentimentRequest, SpeechRequest, SuggestRequest, Suggestion, Suggestions,
    TranscribeAction, TranscribeControl, TranscribeError, TranscribeFailure, TranscribeQuery, TranscriptPiece, Usage,
    UsageDay, UsageQuery, MAX_TEXT_CHARS,
};
pub use kb::{KbArticle, KbArticleList, KbArticleWrite, KbResult, KbResults, KbSearchQuery, KbSource, KbTopicCreated};
pub use keys::{KeyInfo, KeyStatus, ResealFailure, ResealReport};
pub use live::{
    AgentState, LiveAgent, LiveAgentRemoved, LiveCall, LiveEvent, LiveExportRun, LiveExportRuns, LiveFeeds,
    LiveService, LiveSnapshot,
};
pub use operations::{Method, Operation, API_PREFIX};
pub use problem::{FieldError, Problem};
pub use queries::{AccountFilter, AuditQuery, PlaybackQuery, RecordingSearch, ResealQuery, RunsQuery, TestOptions};
pub use recordings::{
    AudioState, Direction, ExportState, Recording, RecordingAudio, RecordingExport, RecordingMeta, RecordingOrder,
    RecordingPage, Transcript, TranscriptFailure, TranscriptRequest, TranscriptState, TranscriptionSettings, Utterance,
    UtteranceSentiment,
};
pub use schema::{component_schemas, request_fields};
pub use tenants::{
    AuditEntry, AuditPage, Tenant, TenantContents, TenantCreate, TenantList, TenantListItem, TenantSettings,
    TenantUpdate,
};
pub use testing::{
    ActionFailure, ActionRequest, ActionResult, BulkTestItem, BulkTestReport, Category, Failed, Outcome, StepStatus,
    TestReport, TestStep, Voice,
};
pub use tokens::{Token, TokenCreate, TokenCreated, TokenList, WhoAmI};
pub use users::{User, UserCreate, UserList, UserRole, UserUpdate};
pub use zapier::{
    HealthChange, ZapierHook, ZapierHookCreate, ZapierMe, ZapierSendMessage, ZapierTrigger, ZapierTriggerQuery,
};
