//! The API Zapier calls (`/api/v1/tenants/{tenant}/zapier/…`): HTTP Basic with the username
//! and password of one of the tenant's enabled Zapier accounts, compared in constant time;
//! ten failures in a minute for a username lock it out (429 with `Retry-After`) on this
//! node; every failure is audited with the username, never the password. The handlers map
//! the other planes to what Zapier expects: polling triggers newest first with stable ids,
//! REST hooks (the messenger edge's signed, retried subscriptions), and actions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use patchbay_api::{
    CrmContacts, CrmSearchRequest, HealthChange, KbArticleWrite, Outcome, ZapierHook, ZapierHookCreate, ZapierMe,
    ZapierSendMessage, ZapierTrigger, ZapierTriggerQuery,
};
use patchbay_catalog::keys::zapier as zapier_keys;
use patchbay_store::{EventKind, NewAudit};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Failures of one username in [`WINDOW`] after which it is refused for the rest of it.
const MAX_FAILURES: usize = 10;
const WINDOW: Duration = Duration::from_secs(60);
/// Usernames tracked at most; beyond, the oldest windows are dropped first.
const MAX_TRACKED: usize = 10_000;
/// The longest username looked at (and audited).
const USERNAME_MAX: usize = 255;

/// The Zapier account whose credentials a request carried.
#[derive(Debug, Clone)]
pub struct ZapierCaller {
    pub account_id: Uuid,
    pub account_name: String,
}

impl ZapierCaller {
    /// The actor the audit trail and the edge's subscriptions record.
    pub fn actor(&self) -> String {
        format!("zapier:{} ({})", self.account_name, self.account_id)
    }

    /// Whether `actor` is this account's (under any name it had).
    fn made(&self, actor: &str) -> bool {
        actor.starts_with("zapier:") && actor.ends_with(&format!(" ({})", self.account_id))
    }
}

/// Failed sign-ins per tenant and username, in this node's memory.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
}

impl Throttle {
    /// Seconds until `username` may try again, when it has failed too often.
    fn locked(&self, tenant: &str, username: &str, now: Instant) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let times = map.get_mut(&(tenant.to_owned(), username.to_owned()))?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            times.pop_front();
        }
        let first = *times.front()?;
        (times.len() >= MAX_FAILURES).then(|| (WINDOW - now.duration_since(first)).as_secs_f64().ceil().max(1.0) as u64)
    }

    fn fail(&self, tenant: &str, username: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let times = map.entry((tenant.to_owned(), username.to_owned())).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }
}

/// The username and password of a `Basic` authorization header.
fn basic(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (user, password) =
        String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    Some((user, password))
}

/// Admits a request of the Zapier API: the caller of valid Basic credentials of an enabled
/// Zapier account of `tenant`, or the answer to send instead.
pub async fn admit(state: &AppState, parts: &Parts, tenant: &str) -> Result<ZapierCaller, Response> {
    let Some((username, password)) = basic(parts) else {
        return Err(ApiError::ZapierUnauthorized.into_response());
    };
    let username: String = username.chars().take(USERNAME_MAX).collect();
    let now = Instant::now();
    if let Some(retry_after) = state.zapier_throttle.locked(tenant, &username, now) {
        state.metrics.zapier_refused("locked");
        return Err(ApiError::TooManyRequests {
            detail: "too many failed sign-ins for this username; wait and try again".into(),
            retry_after,
        }
        .into_response());
    }
    match check(state, tenant, &username, &password).await {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => {
            state.zapier_throttle.fail(tenant, &username, now);
            state.metrics.zapier_refused("refused");
            let audit = NewAudit {
                tenant_id: tenant.to_owned(),
                account_id: None,
                actor: "zapier".into(),
                action: "zapier.sign_in_failed".into(),
                changes: json!({"username": username}),
            };
            if let Err(e) = state.store.append_audit(&audit).await {
                tracing::warn!(tenant, error = %e, "a failed Zapier sign-in could not be audited");
            }
            tracing::warn!(tenant, "a Zapier sign-in failed");
            Err(ApiError::ZapierUnauthorized.into_response())
        }
        Err(e) => Err(e.into_response()),
    }
}

/// The enabled Zapier account of `tenant` with these credentials. Every account's password
/// is compared, whichever matches the username, in constant time.
async fn check(state: &AppState, tenant: &str, username: &str, password: &str) -> ApiResult<Option<ZapierCaller>> {
    let accounts = match state.store.list_accounts(tenant, Some("zapier")).await {
        Ok(accounts) => accounts,
        Err(patchbay_store::StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let keys = state.keys.lease().await;
    let mut found = None;
    for account in accounts.iter().filter(|a| a.enabled) {
        let secrets = keys.open(account)?;
        let stored_user = account.properties.get(zapier_keys::USERNAME).and_then(Value::as_str).unwrap_or_default();
        let stored_password = secrets.get(zapier_keys::PASSWORD).map(|s| s.expose()).unwrap_or_default();
        let user_ok = stored_user.as_bytes().ct_eq(username.as_bytes());
        let password_ok = stored_password.as_bytes().ct_eq(password.as_bytes());
        if bool::from(user_ok & password_ok) && !stored_password.is_empty() && found.is_none() {
            found = Some(ZapierCaller { account_id: account.id, account_name: account.name.clone() });
        }
    }
    Ok(found)
}

/// The caller [`admit`] let in (a 500 for a handler routed without it).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ZapierCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ZapierCaller>().cloned().ok_or_else(|| {
            ApiError::Internal(format!("{} {} is not a Zapier operation", parts.method, parts.uri.path()))
        })
    }
}

pub async fn me(
    State(state): State<AppState>,
    caller: ZapierCaller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<ZapierMe>> {
    let found = state.store.get_tenant(&tenant).await.map_err(crate::api::tenants::not_found)?;
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
    state.store.get_tenant(&tenant).await.map_err(crate::api::tenants::not_found)?;
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
                let mut item = to_value(&crate::api::recordings::view(&recording, None)?)?;
                item["id"] = json!(id);
                items.push(item);
            }
            items
        }
        ZapierTrigger::ExportRunFinished => {
            let runs = state.recordings.recent_finished_runs(&tenant, limit).await?;
            runs.into_iter().map(|run| to_value(&crate::api::export_jobs::run_view(&run)?)).collect::<ApiResult<_>>()?
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
    let status = |report: &Value| match report.get("status").and_then(Value::as_str) {
        Some("ok") => Outcome::Ok,
        _ => Outcome::Failed,
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
    state.store.get_tenant(&tenant).await.map_err(crate::api::tenants::not_found)?;
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
        .map_err(crate::api::conversations::conversation_not_found)?;
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
    crate::api::kb::create_article(&state, &tenant, &body, &caller.actor()).await
}

/// `POST …/zapier/actions/lookup_contact`: the gateway's CRM search.
pub async fn lookup_contact(
    State(state): State<AppState>,
    _: ZapierCaller,
    Path(tenant): Path<String>,
    Input(body): Input<CrmSearchRequest>,
) -> ApiResult<Json<CrmContacts>> {
    state.store.get_tenant(&tenant).await.map_err(crate::api::tenants::not_found)?;
    Ok(Json(state.gateway.crm_search(&tenant, &body).await?))
}

/// The throttle every node keeps.
pub fn throttle() -> Arc<Throttle> {
    Arc::new(Throttle::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_in_a_minute_lock_a_username_until_the_first_ages_out() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for i in 0..9 {
            throttle.fail("acme", "zap", start + Duration::from_secs(i));
        }
        assert_eq!(throttle.locked("acme", "zap", start + Duration::from_secs(10)), None);
        throttle.fail("acme", "zap", start + Duration::from_secs(10));
        assert_eq!(throttle.locked("acme", "zap", start + Duration::from_secs(10)), Some(50));
        assert_eq!(throttle.locked("acme", "other", start), None, "per username");
        assert_eq!(throttle.locked("globex", "zap", start), None, "per tenant");
        assert_eq!(throttle.locked("acme", "zap", start + Duration::from_secs(61)), None, "the first failure aged out");
    }

    #[test]
    fn basic_credentials_are_read_with_colons_in_the_password() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("zap:pa:ss");
        let request = axum::http::Request::get("/").header(header::AUTHORIZATION, format!("basic {encoded}"));
        let (parts, ()) = request.body(()).unwrap().into_parts();
        assert_eq!(basic(&parts), Some(("zap".into(), "pa:ss".into())));
        let bearer = axum::http::Request::get("/").header(header::AUTHORIZATION, "Bearer pb_x");
        assert_eq!(basic(&bearer.body(()).unwrap().into_parts().0), None);
    }
}
