//! The runtime gateway's operations: typed calls the contact center's applications make
//! with a `gateway_client` (or admin) token, the chat bot bindings, and an account's usage.
//! The work is the `patchbay_gateway` crate's; these handlers read the body and answer.

use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Json;
use futures::{SinkExt as _, StreamExt as _};
use patchbay_api::{
    Bindings, CrmContacts, CrmSearchRequest, IdentifyRequest, Identity, Sentiment, SentimentRequest, SpeechRequest,
    SuggestRequest, Suggestions, TranscribeError, TranscribeFailure, TranscribeQuery, TranscriptPiece, Usage,
    UsageQuery,
};
use patchbay_gateway::{Audio, Gateway, GatewayError, Inbound, RelayEnd, Transcription};

use super::accounts::{account_id, account_not_found};
use super::tenants::not_found as tenant_not_found;
use crate::auth::Principal;
use crate::body::Input;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn suggest(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<SuggestRequest>,
) -> ApiResult<Json<Suggestions>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.suggest(&tenant, &body).await?))
}

pub async fn sentiment(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<SentimentRequest>,
) -> ApiResult<Json<Sentiment>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.sentiment(&tenant, &body).await?))
}

pub async fn identify(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<IdentifyRequest>,
) -> ApiResult<Json<Identity>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.identify(&tenant, &body).await?))
}

/// The audio as it comes: from the cache whole, or streamed from the vendor. The account
/// that made it is in `X-Patchbay-Account`, a cache hit says `X-Cache: hit`.
pub async fn speech(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<SpeechRequest>,
) -> ApiResult<Response> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let speech = state.gateway.speech(&tenant, &body).await?;
    let body = match speech.audio {
        Audio::Whole(bytes) => Body::from(bytes),
        Audio::Streamed(stream) => Body::from_stream(stream),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(speech.content_type));
    headers.insert("x-cache", HeaderValue::from_static(if speech.cached { "hit" } else { "miss" }));
    if let Ok(account) = HeaderValue::from_str(&speech.account.to_string()) {
        headers.insert("x-patchbay-account", account);
    }
    Ok(response)
}

/// Largest audio message a transcription client may send (a second of 48 kHz 16-bit audio
/// is 96 KB; clients send a fraction of a second per message).
const MAX_AUDIO_MESSAGE: usize = 1024 * 1024;

/// How long the client gets to answer the server's close.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Speech to text over a WebSocket. The vendor's side is opened before the upgrade is
/// answered, so a refused account, a wrong query or a failing vendor is a problem+json
/// answer, not a socket that closes at once.
pub async fn transcribe(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    Query(query): Query<TranscribeQuery>,
) -> ApiResult<Response> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let upgrade = upgrade.map_err(|why| {
        ApiError::UpgradeRequired(format!(
            "this operation is a WebSocket ({}); connect with a WebSocket client, e.g. `patchbay gateway transcribe`",
            why.body_text()
        ))
    })?;
    let transcription = state.gateway.transcription(&tenant, &query).await?;
    let account = transcription.account;
    let gateway = state.gateway.clone();
    let mut response = upgrade
        .max_message_size(MAX_AUDIO_MESSAGE)
        .max_frame_size(MAX_AUDIO_MESSAGE)
        .on_upgrade(move |socket| relay(gateway, transcription, socket));
    if let Ok(account) = HeaderValue::from_str(&account.to_string()) {
        response.headers_mut().insert("x-patchbay-account", account);
    }
    Ok(response)
}

/// Relays one client's socket through the gateway, then closes it: 1000 when the results
/// are all sent, else a `TranscribeFailure` message and 1008 (the client's mistake), 1013
/// (the vendor asks to retry later) or 1011.
async fn relay(gateway: std::sync::Arc<Gateway>, transcription: Transcription, socket: WebSocket) {
    let (mut tx, rx) = socket.split();
    let mut inbound = rx.filter_map(|message| {
        futures::future::ready(match message {
            Ok(Message::Binary(bytes)) => Some(Inbound::Audio(bytes)),
            Ok(Message::Text(text)) => Some(Inbound::Text(text.as_str().to_owned())),
            Ok(Message::Ping(_) | Message::Pong(_)) => None,
            Ok(Message::Close(_)) | Err(_) => Some(Inbound::Gone),
        })
    });
    let end = {
        let mut outbound = (&mut tx).with(|piece: TranscriptPiece| {
            futures::future::ready(
                serde_json::to_string(&piece).map(|text| Message::Text(text.into())).map_err(axum::Error::new),
            )
        });
        gateway.relay(transcription, &mut inbound, &mut outbound).await
    };
    let (code, reason) = match end {
        RelayEnd::ClientGone => return,
        RelayEnd::Finished => (close_code::NORMAL, "the transcript is complete"),
        RelayEnd::Failed(error) => {
            let (code, reason, failure) = failure_message(&error);
            if let Ok(text) = serde_json::to_string(&failure) {
                let _ = tx.send(Message::Text(text.into())).await;
            }
            (code, reason)
        }
    };
    let _ = tx.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    // The client answers the close; whatever else it still sends is dropped.
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while !matches!(inbound.next().await, None | Some(Inbound::Gone)) {}
    })
    .await;
}

/// The close code, close reason and last message of a failed transcription.
fn failure_message(error: &GatewayError) -> (u16, &'static str, TranscribeFailure) {
    let (code, reason, category, detail) = match error {
        GatewayError::Invalid { .. } => (close_code::POLICY, "the client broke the protocol", None, error.to_string()),
        GatewayError::Vendor { failure, .. } if failure.category == patchbay_api::Category::RateLimited => {
            (close_code::AGAIN, "try again later", Some(failure.category), failure.message.clone())
        }
        GatewayError::Vendor { failure, .. } => {
            (close_code::ERROR, "the speech service failed", Some(failure.category), failure.message.clone())
        }
        other => {
            tracing::error!(error = %other, "a transcription failed inside patchbay");
            (close_code::ERROR, "internal error", None, "the server failed; the error is logged".to_owned())
        }
    };
    (code, reason, TranscribeFailure { error: TranscribeError { category, detail } })
}

pub async fn crm_search(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Input(body): Input<CrmSearchRequest>,
) -> ApiResult<Json<CrmContacts>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.crm_search(&tenant, &body).await?))
}

pub async fn bindings(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Json<Bindings>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.bindings(&tenant).await?))
}

pub async fn put_bindings(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Input(body): Input<Bindings>,
) -> ApiResult<Json<Bindings>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(state.gateway.replace_bindings(&tenant, &body, &who.actor()).await?))
}

pub async fn usage(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Query(query): Query<UsageQuery>,
) -> ApiResult<Json<Usage>> {
    let days = query.days.unwrap_or(UsageQuery::DEFAULT_DAYS);
    if !UsageQuery::DAYS.contains(&days) {
        let range = UsageQuery::DAYS;
        return Err(ApiError::invalid(
            "days",
            "range",
            format!("days must be between {} and {}", range.start(), range.end()),
        ));
    }
    let account = state.store.get_account(&tenant, account_id(&id)?).await.map_err(account_not_found)?;
    Ok(Json(state.gateway.usage(&tenant, &account, days).await?))
}
