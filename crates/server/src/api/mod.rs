//! REST API v1, one module per resource.

mod accounts;
mod audit;
mod common;
mod conversations;
mod events;
mod export_jobs;
mod form_test;
mod gateway;
mod kb;
mod keys;
mod live;
mod recordings;
mod tenants;
mod testing;
pub(crate) mod tokens;
mod types;
mod users;
mod zapier;

use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use patchbay_api::{Method, Operation};

use crate::state::AppState;

/// The REST API: one route per operation of [`Operation::ALL`], each behind the layer that
/// applies its declared access.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut paths: Vec<&'static str> = Operation::ALL.iter().map(|op| op.path()).collect();
    paths.sort_unstable();
    paths.dedup();
    paths.into_iter().fold(Router::new(), |router, path| {
        let methods = Operation::ALL.iter().filter(|op| op.path() == path).fold(MethodRouter::new(), |methods, &op| {
            let access = op.access();
            methods.merge(
                handler(op)
                    .route_layer(axum::middleware::from_fn_with_state(state.clone(), move |state, request, next| {
                        crate::auth::enforce(access, state, request, next)
                    })),
            )
        });
        router.route(path, methods)
    })
}

/// The handler of each operation. The match is exhaustive: an operation cannot be added
/// without one.
fn handler(op: Operation) -> MethodRouter<AppState> {
    use Operation as O;
    let method = match op.method() {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Put => MethodFilter::PUT,
        Method::Delete => MethodFilter::DELETE,
    };
    match op {
        O::OpenApi => on(method, crate::openapi::serve),
        O::ListIntegrationTypes => on(method, types::list),
        O::ListTenants => on(method, tenants::list),
        O::CreateTenant => on(method, tenants::create),
        O::GetTenant => on(method, tenants::get),
        O::UpdateTenant => on(method, tenants::update),
        O::UpdateTenantSettings => on(method, tenants::update_settings),
        O::DeleteTenant => on(method, tenants::delete),
        O::TenantContents => on(method, tenants::contents),
        O::ListAccounts => on(method, accounts::list),
        O::CreateAccount => on(method, accounts::create),
        O::GetAccount => on(method, accounts::get),
        O::UpdateAccount => on(method, accounts::update),
        O::DeleteAccount => on(method, accounts::delete),
        O::TestUnsavedAccount => on(method, testing::test_unsaved),
        O::TestAllAccounts => on(method, testing::test_all),
        O::TestAccount => on(method, testing::test_saved),
        O::RunAction => on(method, testing::action),
        O::RotateInboundWebhook => on(method, accounts::rotate_inbound_webhook),
        O::ConversationEvents => on(method, conversations::events),
        O::GetConversation => on(method, conversations::get),
        O::SendReply => on(method, conversations::reply),
        O::ListSubscriptions => on(method, conversations::subscriptions),
        O::CreateSubscription => on(method, conversations::subscribe),
        O::GetSubscription => on(method, conversations::subscription),
        O::DeleteSubscription => on(method, conversations::unsubscribe),
        O::ResumeSubscription => on(method, conversations::resume),
        O::GetConversationSettings => on(method, conversations::settings),
        O::PutConversationSettings => on(method, conversations::put_settings),
        O::AccountAudit => on(method, audit::for_account),
        O::TenantAudit => on(method, audit::for_tenant),
        O::IngestEvents => on(method, events::ingest),
        O::ListFeeds => on(method, events::feeds),
        O::LiveState => on(method, events::live),
        O::LiveSnapshot => on(method, live::snapshot),
        O::LiveStream => on(method, live::stream),
        O::SearchRecordings => on(method, recordings::search),
        O::GetRecording => on(method, recordings::get),
        O::PutRecording => on(method, recordings::put_meta),
        O::PlayRecording => on(method, recordings::audio),
        O::PutRecordingAudio => on(method, recordings::put_audio),
        O::TranscribeRecording => on(method, recordings::transcribe),
        O::GetTranscript => on(method, recordings::transcript),
        O::GetTranscription => on(method, recordings::transcription),
        O::PutTranscription => on(method, recordings::put_transcription),
        O::ExportJobSettings => on(method, export_jobs::settings),
        O::ListExportJobs => on(method, export_jobs::list),
        O::CreateExportJob => on(method, export_jobs::create),
        O::GetExportJob => on(method, export_jobs::get),
        O::UpdateExportJob => on(method, export_jobs::update),
        O::DeleteExportJob => on(method, export_jobs::delete),
        O::RunExportJob => on(method, export_jobs::run),
        O::ListExportRuns => on(method, export_jobs::runs),
        O::GetExportRun => on(method, export_jobs::get_run),
        O::GetExportRunMetadata => on(method, export_jobs::metadata),
        O::ListExportRunFailures => on(method, export_jobs::failures),
        O::Suggest => on(method, gateway::suggest),
        O::Sentiment => on(method, gateway::sentiment),
        O::Identify => on(method, gateway::identify),
        O::Speech => on(method, gateway::speech),
        O::Transcribe => on(method, gateway::transcribe),
        O::CrmSearch => on(method, gateway::crm_search),
        O::KbSearch => on(method, kb::search),
        O::KbTopic => on(method, kb::topic),
        O::GetBindings => on(method, gateway::bindings),
        O::PutBindings => on(method, gateway::put_bindings),
        O::AccountUsage => on(method, gateway::usage),
        O::ListKbArticles => on(method, kb::list),
        O::CreateKbArticle => on(method, kb::create),
        O::GetKbArticle => on(method, kb::get),
        O::UpdateKbArticle => on(method, kb::update),
        O::DeleteKbArticle => on(method, kb::delete),
        O::ListUsers => on(method, users::list),
        O::CreateUser => on(method, users::create),
        O::GetUser => on(method, users::get),
        O::UpdateUser => on(method, users::update),
        O::DeleteUser => on(method, users::delete),
        O::ZapierMe => on(method, zapier::me),
        O::ZapierTriggerItems => on(method, zapier::trigger_items),
        O::ZapierSubscribe => on(method, zapier::subscribe),
        O::ZapierUnsubscribe => on(method, zapier::unsubscribe),
        O::ZapierSendMessage => on(method, zapier::send_message),
        O::ZapierCreateKbArticle => on(method, zapier::create_kb_article),
        O::ZapierLookupContact => on(method, zapier::lookup_contact),
        O::ListTokens => on(method, tokens::list),
        O::CreateToken => on(method, tokens::create),
        O::RevokeToken => on(method, tokens::revoke),
        O::WhoAmI | O::WhoAmIPost => on(method, tokens::whoami),
        O::KeyStatus => on(method, keys::status),
        O::RotateKeys => on(method, keys::rotate),
        O::ResealSecrets => on(method, keys::reseal),
        O::RetireKey => on(method, keys::retire),
    }
}
