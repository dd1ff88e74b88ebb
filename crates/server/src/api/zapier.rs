//! The Zapier API's operations: the other planes as Zapier expects them (polling triggers
//! newest first with stable ids, REST hooks that are the messenger edge's signed, retried
//! subscriptions, actions). Who may call is `crate::zapier`'s.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchbay_api::{
    CrmContacts, CrmSearchRequest, HealthChange, KbArticleWrite, Outcome, ZapierHook, ZapierHookCreate, ZapierMe,
    ZapierSendMessage, ZapierTrigger, ZapierTriggerQuery,
};
use patchbay_store::EventKind;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::zapier::ZapierCaller;

pub async fn me(
    State(state): State<AppState>,
    caller: ZapierCaller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<ZapierMe>> {
    let found = state.store.get_tenant(&tenant).await.map_err(super::tenants::not_found)?;
    Ok(Json(ZapierMe {
        tenant: found.id,
        tenant_name: found.name,
        account_id: caller.account_id,
        account_name: caller.account_name,
    }))
}

fn trigger(raw: &str) -> ApiResult<ZapierTrigger> {
    ZapierTrigger::parse(raw).ok_or_else(|| {
        let known: Vec<&str> = ZapierTrigger::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::bad_field("trigger", "unknown", format!("the triggers are {}", known.join(", ")))
    })
}

/// `GET …/zapier/triggers/{trigger}`: the newest items first, each with its stable `id`.
pub async fn trigger_items(
    State(state): State<AppState>,
    _: ZapierCaller,
    Path((tenant, name)): Path<(String, String)>,
    Query(query): Query<ZapierTriggerQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    let trigger = trigger(&name)?;
    let limit = query.limit.unwrap_or(ZapierTriggerQuery::DEFAULT_LIMIT);
    if !ZapierTriggerQuery::LIMIT.contains(&limit) {
        let (min, max) = (ZapierTriggerQuery::LIMIT.start(), ZapierTriggerQuery::LIMIT.end());
        return Err(ApiError::invalid("limit", "range", format!("limit must be between {min} and {max}")));
    }
    state.store.get_tenant(&tenant).await.map_err(super::tenants::not_found)?;
    let items = match trigger {
        ZapierTrigger::NewConversationMessage | ZapierTrigger::ConversationStarted => {
            let kind = match trigger {
                ZapierTrigger::ConversationStarted => EventKind::ConversationStarted,
                _ => EventKind::MessageIn,
            };
            let events = state.edge.recent_events(&tenant, kind, limit).await?;
            events.into_iter().map(|e| to_value(&patchbay_edge::event_view(e))).collect::<ApiResult<_>>()?
        }
        ZapierTrigger::NewRecording => {
            let recordings = state.recordings.recent_recordings(&tenant, limit).await?;
            let mut items = Vec::new();
            for recording in recordings {
                let id = recording.meta.id.clone();
                let mut item = to_value(&super::recordings::view(&recording, None)?)?;
                item["id"] = json!(id);
                items.push(item);
            }
            items
        }
        ZapierTrigger::ExportRunFinished => {
            let runs = state.recordings.recent_finished_runs(&tenant, limit).await?;
            runs.into_iter().map(|run| to_value(&super::export_jobs::run_view(&run)?)).collect::<ApiResult<_>>()?
        }
        ZapierTrigger::AccountHealthChanged => {
            let changes = state.zapier.health_changes(&tenant, limit as usize).await?;
            changes.into_iter().map(|c| to_value(&health_view(c))).collect::<ApiResult<_>>()?
        }
    };
    Ok(Json(items))
}

fn to_value(item: &impl serde::Serialize) -> ApiResult<Value> {
    serde_json::to_value(item).map_err(|e| ApiError::Internal(format!("a trigger item does not serialize: {e}")))
}

fn health_view(change: patchbay_store::HealthChange) -> HealthChange {
    let status = |report: &Value| {
        report.get("status").cloned().and_then(|s| serde_json::from_value(s).ok()).unwrap_or(Outcome::Failed)
    };
    let (account_name, type_key, provider) = match change.account {
        Some((name, type_key, provider)) => (Some(name), Some(type_key), Some(provider)),
        None => (None, None, None),
    };
    HealthChange {
        id: change.id.to_string(),
        account_id: change.account_id,
        account_name,
        type_key,
        provider,
        status: status(&change.report),
        previous_status: change.previous.as_ref().map(status),
        category: change.report.get("category").cloned().and_then(|c| serde_json::from_value(c).ok()),
        message: change.report.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
        tested_at: change.at,
    }
}

/// `POST …/zapier/hooks`: a REST hook, kept as one of the messenger edge's subscriptions
/// (signed and retried as they are), made by this Zapier account.
pub async fn subscribe(
    State(state): State<AppState>,
    caller: ZapierCaller,
    Path(tenant): Path<String>,
    Input(body): Input<ZapierHookCreate>,
) -> ApiResult<(StatusCode, Json<ZapierHook>)> {
    state.store.get_tenant(&tenant).await.map_err(super::tenants::not_found)?;
    let Some(event_type) = body.event.event_type() else {
        return Err(ApiError::invalid(
            "event",
            "polled",
            format!(
                "{} is a polling trigger: Zapier polls …/zapier/triggers/{}",
                body.event.as_str(),
                body.event.as_str()
            ),
        ));
    };
    let (subscription, secret) =
        state.edge.subscribe(&tenant, body.target_url.trim(), &[event_type], &caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(ZapierHook { id: subscription.id, event: body.event, target_url: subscription.url, secret }),
    ))
}

/// `DELETE …/zapier/hooks/{hook_id}`: only a hook this Zapier account made.
pub async fn unsubscribe(
    State(state): State<AppState>,
    caller: ZapierCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound("hook"))?;
    let subscription = state.edge.subscription(&tenant, id).await.map_err(|_| ApiError::NotFound("hook"))?;
    if !caller.made(&subscription.created_by) {
        return Err(ApiError::NotFound("hook"));
    }
    state.edge.unsubscribe(&tenant, id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/zapier/actions/send_message`: as `POST …/conversations/{id}/messages`, without an
/// idempotency key (Zapier does not retry an action on its own).
pub async fn send_message(
    State(state): State<AppState>,
    caller: ZapierCaller,
    Path(tenant): Path<String>,
    Input(body): Input<ZapierSendMessage>,
) -> ApiResult<Response> {
    let (message, created) = state
        .edge
        .reply(&tenant, body.conversation_id, None, &body.text, &caller.actor())
        .await
        .map_err(super::conversations::conversation_not_found)?;
    let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, Json(patchbay_edge::message_view(message))).into_response())
}

/// `POST …/zapier/actions/create_kb_article`: as `POST …/kb/articles`.
pub async fn create_kb_article(
    State(state): State<AppState>,
    caller: ZapierCaller,
    Path(tenant): Path<String>,
    Input(body): Input<KbArticleWrite>,
) -> ApiResult<Response> {
    super::kb::create_article(&state, &tenant, &body, &caller.actor()).await
}

/// `POST …/zapier/actions/lookup_contact`: the gateway's CRM search.
pub async fn lookup_contact(
    State(state): State<AppState>,
    _: ZapierCaller,
    Path(tenant): Path<String>,
    Input(body): Input<CrmSearchRequest>,
) -> ApiResult<Json<CrmContacts>> {
    state.store.get_tenant(&tenant).await.map_err(super::tenants::not_found)?;
    Ok(Json(state.gateway.crm_search(&tenant, &body).await?))
}
