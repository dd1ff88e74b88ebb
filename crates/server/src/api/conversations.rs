//! Conversations of the messenger edge: the tenant's events after a cursor, as a page
//! (long-poll with `wait`) or as Server-Sent Events (`Accept: text/event-stream`, resumed
//! with `Last-Event-ID`). A stream ends at shutdown, and when its caller's credential no
//! longer admits it (asked again before each wait: a revoked token stops receiving the
//! customers' messages within `STREAM_WAIT`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchbay_api::{
    Conversation, ConversationEventPage, ConversationEventType, ConversationEventsQuery, ConversationSettings,
    Customer, ReplyRequest, SubscriptionCreate, SubscriptionCreated, SubscriptionFailure, SubscriptionList,
    SubscriptionState,
};
use tokio_util::sync::CancellationToken;

use super::tenants::not_found as tenant_not_found;
use crate::auth::{Credential, Principal};
use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long one wait of an event stream lasts before it asks again whether the caller is
/// still admitted (keep-alive comments flow meanwhile).
const STREAM_WAIT: Duration = Duration::from_secs(5);

/// `GET …/conversations/events`
pub async fn events(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(query): Query<ConversationEventsQuery>,
    parts: Parts,
) -> ApiResult<Response> {
    let headers = &parts.headers;
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let wait = query.wait.unwrap_or(0);
    if !ConversationEventsQuery::WAIT_SECONDS.contains(&wait) {
        let range = ConversationEventsQuery::WAIT_SECONDS;
        return Err(ApiError::invalid(
            "wait",
            "range",
            format!("wait must be {} to {} seconds", range.start(), range.end()),
        ));
    }
    let limit = query.limit.unwrap_or(ConversationEventsQuery::DEFAULT_LIMIT);
    if !ConversationEventsQuery::LIMIT.contains(&limit) {
        let range = ConversationEventsQuery::LIMIT;
        return Err(ApiError::invalid("limit", "range", format!("limit must be {} to {}", range.start(), range.end())));
    }
    let stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|m| m.trim().starts_with("text/event-stream")));
    // A reconnecting EventSource says where it stopped.
    let resumed = headers.get("last-event-id").and_then(|v| v.to_str().ok()).filter(|_| stream);
    let after = match resumed.or(query.after.as_deref()) {
        None => 0,
        Some(ConversationEventsQuery::LATEST) => state.edge.last_event(&tenant).await?,
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::invalid("after", "cursor", "after is an event id (a number) or `latest`"))?,
    };
    if stream {
        let follow =
            Follow { credential: Credential::of(&parts)?, stop: state.live.stop_signal(), state, tenant, after, limit };
        return Ok(event_stream(follow).into_response());
    }
    let events = state.edge.events(&tenant, after, limit, Duration::from_secs(wait)).await?;
    let next = events.last().map_or(after, |e| e.seq).to_string();
    Ok(Json(ConversationEventPage { events: events.into_iter().map(patchbay_edge::event_view).collect(), next })
        .into_response())
}

/// Where an event stream stands and what it needs to go on.
struct Follow {
    state: AppState,
    credential: Credential,
    stop: CancellationToken,
    tenant: String,
    after: i64,
    limit: i64,
}

impl Follow {
    /// The next events, waiting up to `STREAM_WAIT` for them; `None` ends the stream (the
    /// caller is no longer admitted, the server is stopping, or the store failed).
    async fn next(&mut self) -> Option<Vec<Event>> {
        let access = patchbay_api::Operation::ConversationEvents.access();
        match self.credential.readmit(&self.state, access, &self.tenant).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::info!(tenant = %self.tenant, "conversation event stream ended: its credential no longer admits it");
                return None;
            }
            Err(e) => tracing::warn!(tenant = %self.tenant, error = ?e, "cannot check a conversation stream's caller"),
        }
        let events = tokio::select! {
            () = self.stop.cancelled() => return None,
            events = self.state.edge.events(&self.tenant, self.after, self.limit, STREAM_WAIT) => events,
        };
        match events {
            Ok(events) => {
                self.after = events.last().map_or(self.after, |e| e.seq);
                Some(
                    events
                        .into_iter()
                        .map(|e| {
                            let id = e.seq.to_string();
                            let view = patchbay_edge::event_view(e);
                            let kind = patchbay_edge::type_name(view.kind);
                            let event = Event::default().id(id).event(kind);
                            event.json_data(&view).unwrap_or_else(|_| Event::default().comment("unencodable event"))
                        })
                        .collect(),
                )
            }
            Err(e) => {
                tracing::error!(error = %e, "conversation event stream ended");
                None
            }
        }
    }
}

/// Events as they happen, each with its id (for `Last-Event-ID`) and type.
fn event_stream(follow: Follow) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let batches = futures::stream::unfold(follow, |mut follow| async move {
        let events = follow.next().await?;
        Some((futures::stream::iter(events.into_iter().map(Ok)), follow))
    });
    Sse::new(futures::StreamExt::flatten(batches)).keep_alive(KeepAlive::default())
}

/// Path ids that are not UUIDs name no conversation.
fn conversation_id(raw: &str) -> ApiResult<uuid::Uuid> {
    raw.parse().map_err(|_| ApiError::NotFound("conversation"))
}

pub(crate) fn conversation_not_found(e: patchbay_edge::EdgeError) -> ApiError {
    match e {
        patchbay_edge::EdgeError::Store(patchbay_store::StoreError::NotFound) => ApiError::NotFound("conversation"),
        other => other.into(),
    }
}

/// `GET …/conversations/{conversation_id}`
pub async fn get(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<Conversation>> {
    let id = conversation_id(&id)?;
    let found = state.edge.conversation(&tenant, id).await.map_err(conversation_not_found)?;
    let messages = state.edge.messages(&tenant, id, Conversation::MESSAGES).await?;
    Ok(Json(Conversation {
        id: found.id,
        account: found.account_id,
        channel: found.channel,
        customer: Customer { id: found.peer, name: found.display_name },
        started_at: found.started_at,
        last_message_at: found.last_message_at,
        messages: messages.into_iter().map(patchbay_edge::message_view).collect(),
    }))
}

/// `POST …/conversations/{conversation_id}/messages`: 202 with the pending reply; the same
/// `Idempotency-Key` again answers 200 with the reply it made (and sends nothing).
pub async fn reply(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    Input(body): Input<ReplyRequest>,
) -> ApiResult<Response> {
    let id = conversation_id(&id)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.to_str().ok().map(str::trim).filter(|k| {
                !k.is_empty() && k.chars().count() <= ReplyRequest::KEY_MAX_CHARS && !k.chars().any(char::is_control)
            });
            Some(key.ok_or_else(|| {
                ApiError::bad_field(
                    "Idempotency-Key",
                    "format",
                    format!(
                        "Idempotency-Key is 1 to {} printable characters (a UUID, say)",
                        ReplyRequest::KEY_MAX_CHARS
                    ),
                )
            })?)
        }
    };
    let (message, created) =
        state.edge.reply(&tenant, id, key, &body.text, &who.actor()).await.map_err(conversation_not_found)?;
    let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, Json(patchbay_edge::message_view(message))).into_response())
}

/// `GET …/conversation-settings`
pub async fn settings(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<ConversationSettings>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(ConversationSettings { retention_days: state.edge.retention_days(&tenant).await? }))
}

/// `PUT …/conversation-settings`
pub async fn put_settings(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Input(body): Input<ConversationSettings>,
) -> ApiResult<Json<ConversationSettings>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let range = ConversationSettings::RETENTION_DAYS;
    if !range.contains(&body.retention_days) {
        return Err(ApiError::invalid(
            "retention_days",
            "range",
            format!("retention_days must be {} to {}", range.start(), range.end()),
        ));
    }
    state.edge.set_retention_days(&tenant, body.retention_days, &who.actor()).await?;
    Ok(Json(body))
}

fn subscription_view(subscription: patchbay_store::Subscription) -> patchbay_api::Subscription {
    let events = subscription
        .events
        .iter()
        .filter_map(|e| serde_json::from_value::<ConversationEventType>(serde_json::Value::String(e.clone())).ok())
        .collect();
    let failure = subscription.failing_since.map(|since| SubscriptionFailure {
        since,
        attempts: subscription.attempts,
        last_error: subscription.last_error.clone().unwrap_or_default(),
        last_status: subscription.last_status,
        next_attempt_at: subscription.next_attempt_at,
    });
    patchbay_api::Subscription {
        id: subscription.id,
        url: subscription.url,
        events,
        state: match subscription.state {
            patchbay_store::SubscriptionState::Active => SubscriptionState::Active,
            patchbay_store::SubscriptionState::Failed => SubscriptionState::Failed,
        },
        delivered_through: subscription.delivered_seq.to_string(),
        last_delivered_at: subscription.last_delivered_at,
        failure,
        created_at: subscription.created_at,
        created_by: subscription.created_by,
    }
}

fn subscription_id(raw: &str) -> ApiResult<uuid::Uuid> {
    raw.parse().map_err(|_| ApiError::NotFound("subscription"))
}

fn subscription_not_found(e: patchbay_edge::EdgeError) -> ApiError {
    match e {
        patchbay_edge::EdgeError::Store(patchbay_store::StoreError::NotFound) => ApiError::NotFound("subscription"),
        other => other.into(),
    }
}

/// `GET …/subscriptions`
pub async fn subscriptions(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<SubscriptionList>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let items = state.edge.subscriptions(&tenant).await?.into_iter().map(subscription_view).collect();
    Ok(Json(SubscriptionList { items }))
}

/// `POST …/subscriptions`: 201 with the signing secret, shown this once.
pub async fn subscribe(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Input(body): Input<SubscriptionCreate>,
) -> ApiResult<Response> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    if body.url.chars().count() > SubscriptionCreate::URL_MAX_CHARS {
        return Err(ApiError::invalid(
            "url",
            "max_length",
            format!("url is at most {} characters", SubscriptionCreate::URL_MAX_CHARS),
        ));
    }
    let events: Vec<&str> = body.events.iter().map(|e| patchbay_edge::type_name(*e)).collect();
    let (subscription, secret) = state.edge.subscribe(&tenant, &body.url, &events, &who.actor()).await?;
    let created = SubscriptionCreated { subscription: subscription_view(subscription), secret };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET …/subscriptions/{subscription_id}`
pub async fn subscription(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<patchbay_api::Subscription>> {
    let found = state.edge.subscription(&tenant, subscription_id(&id)?).await.map_err(subscription_not_found)?;
    Ok(Json(subscription_view(found)))
}

/// `DELETE …/subscriptions/{subscription_id}`
pub async fn unsubscribe(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.edge.unsubscribe(&tenant, subscription_id(&id)?, &who.actor()).await.map_err(subscription_not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/subscriptions/{subscription_id}/resume`
pub async fn resume(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<patchbay_api::Subscription>> {
    let resumed =
        state.edge.resume(&tenant, subscription_id(&id)?, &who.actor()).await.map_err(subscription_not_found)?;
    Ok(Json(subscription_view(resumed)))
}
