//! Recordings of a tenant: metadata and audio intake, search, and playback with HTTP Range
//! from wherever the audio now is (the data dir, or the bucket of the job that exported it).

use std::collections::HashMap;

use axum::body::Body as HttpBody;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use chrono::{DateTime, Utc};
use patchbay_api::{
    self as api, Direction, PlaybackQuery, RecordingAudio, RecordingExport, RecordingMeta, RecordingOrder,
    RecordingPage, RecordingSearch, TranscriptRequest,
};
use patchbay_jobs::{AudioError, TranscribeError, MAX_AUDIO_BYTES};
use patchbay_recordings::{extension_for, meta_from_body, WriteError, AUDIO_TYPES};
use patchbay_store::{
    AudioState, Export, ExportState, Recording, RecordingQuery, StoreError, Transcript, TranscriptState,
};

use super::tenants::not_found as tenant_not_found;
use crate::auth::Principal;
use crate::body::{Input, JsonBytes};
use crate::error::{ApiError, ApiResult};
use crate::ranges::{self, Answer};
use crate::state::AppState;

/// A stored recording as the API shows it; its exports on a GET of it and in a search (the
/// answer to a write has none).
pub(crate) fn view(recording: &Recording, exports: Option<&[Export]>) -> ApiResult<api::Recording> {
    let m = &recording.meta;
    let direction = Direction::parse(&m.direction).ok_or_else(|| {
        ApiError::Internal(format!("recording {} has a stored direction {:?} the API does not know", m.id, m.direction))
    })?;
    let audio = recording.audio.as_ref();
    Ok(api::Recording {
        recording_id: m.id.clone(),
        tenant: recording.tenant_id.clone(),
        meta: RecordingMeta {
            global_interaction_id: m.global_interaction_id.clone(),
            call_started_at: m.call_started_at,
            agent_login: m.agent_login.clone(),
            agent_first_name: m.agent_first_name.clone(),
            agent_last_name: m.agent_last_name.clone(),
            customer_phone: m.customer_phone.clone(),
            direction,
            service: m.service.clone(),
            disposition: m.disposition.clone(),
            flagged: m.flagged,
        },
        audio: RecordingAudio {
            state: match recording.audio_state {
                AudioState::None => api::AudioState::None,
                AudioState::Local => api::AudioState::Local,
                AudioState::Removed => api::AudioState::Removed,
            },
            size: audio.map(|a| a.size),
            sha256: audio.map(|a| a.sha256.clone()),
            content_type: audio.map(|a| a.content_type.clone()),
        },
        exports: exports.map(|exports| exports.iter().map(export_view).collect()),
        received_at: recording.received_at,
        updated_at: recording.updated_at,
    })
}

fn export_view(export: &Export) -> RecordingExport {
    RecordingExport {
        job_id: export.job_id,
        account_id: export.account_id,
        state: match export.state {
            ExportState::Uploading => api::ExportState::Uploading,
            ExportState::Success => api::ExportState::Success,
            ExportState::Failed => api::ExportState::Failed,
        },
        object_key: export.object_key.clone(),
        bucket: export.place.as_ref().map(|p| p.bucket.clone()),
        error: export.error.clone(),
        error_category: export
            .category
            .as_deref()
            .and_then(|c| serde_json::from_value(serde_json::Value::String(c.to_owned())).ok()),
        attempts: export.attempts,
        run_id: export.run_id,
        updated_at: export.updated_at,
    }
}

fn recording_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound("recording"),
        other => other.into(),
    }
}

/// `PUT …/recordings/{id}`: creates the recording (201) or replaces its metadata (200).
/// Metadata is fixed once the recording is exported: its keys were made from it.
pub async fn put_meta(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    JsonBytes(bytes): JsonBytes,
) -> ApiResult<(StatusCode, Json<api::Recording>)> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let body = crate::body::json_object(&bytes)?;
    let meta = meta_from_body(&id, &body).map_err(ApiError::Validation)?;
    let (created, recording) = state.intake.store_meta(&tenant, &id, meta).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view(&recording, None)?)))
}

pub async fn get(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<api::Recording>> {
    let recording = state.recordings.get_recording(&tenant, &id).await.map_err(recording_not_found)?;
    let exports = state.recordings.exports_of_recording(&tenant, &id).await?;
    Ok(Json(view(&recording, Some(&exports))?))
}

/// `PUT …/recordings/{id}/audio`: the audio as a streamed body of any size (up to 16 GiB),
/// `Content-Type` one of [`AUDIO_TYPES`]. 201 the first time, 200 when it replaces audio not
/// yet exported; exported audio cannot be replaced.
pub async fn put_audio(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: HttpBody,
) -> ApiResult<(StatusCode, Json<api::Recording>)> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(extension) = extension_for(content_type) else {
        state.metrics.record_recording("refused");
        let known: Vec<&str> = AUDIO_TYPES.iter().map(|(t, _)| *t).collect();
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be an audio type: {}",
            known.join(", ")
        )));
    };
    let current = state
        .intake
        .audio_replaceable(&tenant, &id)
        .await
        .inspect_err(|_| state.metrics.record_recording("refused"))?;
    let written =
        state.exporter.audio.write(&tenant, &id, body.into_data_stream(), MAX_AUDIO_BYTES).await.map_err(|e| {
            state.metrics.record_recording("refused");
            match e {
                WriteError::TooLarge(_) => ApiError::PayloadTooLarge(e.to_string()),
                WriteError::Empty => ApiError::bad_field("body", "required", "the audio body is empty"),
                WriteError::Body(_) => ApiError::BadRequest { detail: e.to_string(), errors: Vec::new() },
                WriteError::Io(_) => ApiError::Internal(e.to_string()),
            }
        })?;
    let recording = state.intake.record_audio(&tenant, &id, written, content_type, extension).await?;
    let status = if current.audio.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(view(&recording, None)?)))
}

fn time_param(name: &str, value: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                ApiError::invalid(
                    name,
                    "rfc3339",
                    format!("{name} must be an RFC 3339 time, e.g. 2024-05-01T00:00:00Z"),
                )
            })
        })
        .transpose()
}

/// A page's `next_cursor`: the order it pages through and where the page ended in it.
fn encode_cursor(order: RecordingOrder, recording: &Recording) -> String {
    let text = format!("{}|{}|{}", order.as_str(), recording.meta.call_started_at.to_rfc3339(), recording.seq);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Where to go on from, when `cursor` is a `next_cursor` of a search in `order`.
fn decode_cursor(order: RecordingOrder, cursor: &str) -> ApiResult<(DateTime<Utc>, i64)> {
    let bad = || ApiError::invalid("cursor", "cursor", "cursor must be a next_cursor this API returned");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let (Some(of), Some(at), Some(seq)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let of = RecordingOrder::parse(of).ok_or_else(bad)?;
    if of != order {
        let message = format!(
            "cursor continues a search in the order `{}`; ask for that order, or leave the cursor out to start over",
            of.as_str()
        );
        return Err(ApiError::invalid("cursor", "order", message));
    }
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc);
    Ok((at, seq.parse().map_err(|_| bad())?))
}

/// A query parameter that takes one of `all`, each named by `text`: `None` when left out or
/// empty; any other value is a 422 `enum` naming the parameter and the values it takes.
fn enum_param<T: Copy>(
    name: &str,
    value: Option<&str>,
    all: &[T],
    text: fn(T) -> &'static str,
) -> ApiResult<Option<T>> {
    let Some(value) = value.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    all.iter().copied().find(|v| text(*v) == value).map(Some).ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|v| text(*v)).collect();
        ApiError::invalid(name, "enum", format!("{name} must be one of {}", known.join(", ")))
    })
}

/// `GET …/recordings`: newest call first (or oldest, by `order`), by time range (`from`
/// inclusive, `to` exclusive), service, agent login, customer phone, direction and the words
/// of the transcript.
pub async fn search(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(query): Query<RecordingSearch>,
) -> ApiResult<Json<RecordingPage>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let limit = query.limit.unwrap_or(RecordingSearch::DEFAULT_LIMIT);
    if !RecordingSearch::LIMIT.contains(&limit) {
        let (min, max) = (RecordingSearch::LIMIT.start(), RecordingSearch::LIMIT.end());
        return Err(ApiError::invalid("limit", "range", format!("limit must be from {min} to {max}")));
    }
    let order =
        enum_param("order", query.order.as_deref(), &RecordingOrder::ALL, RecordingOrder::as_str)?.unwrap_or_default();
    let store_query = RecordingQuery {
        from: time_param("from", query.from.as_deref())?,
        to: time_param("to", query.to.as_deref())?,
        service: query.service.filter(|s| !s.is_empty()),
        agent_login: query.agent.filter(|s| !s.is_empty()),
        customer_phone: query.phone.filter(|s| !s.is_empty()),
        direction: enum_param("direction", query.direction.as_deref(), &Direction::ALL, Direction::as_str)?
            .map(|direction| direction.as_str().to_owned()),
        oldest_first: order == RecordingOrder::Oldest,
        after: query.cursor.as_deref().map(|cursor| decode_cursor(order, cursor)).transpose()?,
        words: match query.q.as_deref() {
            None => Vec::new(),
            Some(q) if q.chars().count() > RecordingSearch::Q_MAX_CHARS => {
                let max = RecordingSearch::Q_MAX_CHARS;
                return Err(ApiError::invalid("q", "max_length", format!("`q` is longer than {max} characters")));
            }
            Some(q) => match patchbay_store::search_words(q) {
                words if words.is_empty() => {
                    return Err(ApiError::invalid("q", "required", "`q` holds no word to search for"))
                }
                words => words,
            },
        },
        limit,
    };
    let found = state.recordings.search_recordings(&tenant, &store_query).await?;
    let next_cursor =
        (found.len() as i64 == limit).then(|| found.last().map(|last| encode_cursor(order, last))).flatten();
    let ids: Vec<&str> = found.iter().map(|r| r.meta.id.as_str()).collect();
    let mut exports: HashMap<String, Vec<Export>> = HashMap::new();
    for export in state.recordings.exports_of_recordings(&tenant, &ids).await? {
        exports.entry(export.recording_id.clone()).or_default().push(export);
    }
    let items = found
        .iter()
        .map(|r| view(r, Some(exports.get(&r.meta.id).map_or(&[][..], Vec::as_slice))))
        .collect::<ApiResult<_>>()?;
    Ok(Json(RecordingPage { items, next_cursor }))
}

/// `GET …/recordings/{id}/audio`: the audio, whole or the byte range asked for (see
/// [`ranges::answer`] for `Range` and `If-Range`); with `?download=true` as a file to save,
/// named after the recording id (which holds only `A-Z a-z 0-9 -`).
pub async fn audio(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Query(query): Query<PlaybackQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let download = match query.download.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("download", "type", "download must be true or false")),
    };
    let recording = state.recordings.get_recording(&tenant, &id).await.map_err(recording_not_found)?;
    let Some(audio) = recording.audio.as_ref() else {
        return Err(ApiError::NotFound("recording audio (not received yet)"));
    };
    let size = audio.size as u64;
    let etag = format!("\"{}\"", audio.sha256);
    let value = |name| headers.get(name).map(HeaderValue::as_bytes);
    let (start, end, ranged) = match ranges::answer(value(header::RANGE), value(header::IF_RANGE), &etag, size) {
        Answer::Whole => (0, size.saturating_sub(1), false),
        Answer::Part { start, end } => (start, end, true),
        Answer::Unsatisfiable => {
            let detail = format!("no range asked for lies within the audio's {size} bytes");
            let mut response = (StatusCode::RANGE_NOT_SATISFIABLE, detail).into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let length = if ranged { end + 1 - start } else { size };
    let body = state.exporter.audio_body(&recording, ranged.then_some((start, end))).await.map_err(audio_error)?;
    let body = HttpBody::from_stream(body);
    let mut response = Response::new(body);
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, audio.content_type.clone());
    set(header::CONTENT_LENGTH, length.to_string());
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::ETAG, etag);
    set(header::CACHE_CONTROL, "private, no-store".into());
    if download {
        set(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.{}\"", recording.meta.id, audio.extension));
    }
    if ranged {
        set(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(response)
}

fn audio_error(e: AudioError) -> ApiError {
    match e {
        AudioError::NoAudio(_) => ApiError::NotFound("recording audio (not received yet)"),
        AudioError::Local(..) => ApiError::Internal(e.to_string()),
        AudioError::Remote(..) => ApiError::BadGateway(e.to_string()),
        AudioError::Store(e) => e.into(),
    }
}

/// `POST …/recordings/{id}/transcript`: starts the transcript (202); the run goes on in the
/// background, `GET` shows how it stands.
pub async fn transcribe(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Input(body): Input<TranscriptRequest>,
) -> ApiResult<(StatusCode, Json<api::Transcript>)> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let started = state.transcriber.start(&tenant, &id, &body, &who.actor()).await.map_err(|e| match e {
        TranscribeError::NoRecording => ApiError::NotFound("recording"),
        TranscribeError::NoAudio => ApiError::Conflict {
            detail: e.to_string(),
            errors: vec![crate::error::field_error("recording_id", "no_audio", e.to_string())],
        },
        TranscribeError::Running => StoreError::Conflict(patchbay_store::Conflict::TranscriptRunning).into(),
        TranscribeError::Gateway(e) => e.into(),
        TranscribeError::Store(e) => e.into(),
    })?;
    Ok((StatusCode::ACCEPTED, Json(transcript_view(started)?)))
}

/// `GET …/recordings/{id}/transcript`.
pub async fn transcript(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<api::Transcript>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let transcript = match state.transcriber.transcript(&tenant, &id).await {
        Ok(transcript) => transcript,
        // Which is missing, the recording or its transcript, matters only then.
        Err(StoreError::NotFound) => {
            state.recordings.get_recording(&tenant, &id).await.map_err(recording_not_found)?;
            return Err(ApiError::NotFound("transcript (none was asked for)"));
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Json(transcript_view(transcript)?))
}

fn transcript_view(t: Transcript) -> ApiResult<api::Transcript> {
    let utterances = serde_json::from_value(t.utterances).map_err(|e| {
        ApiError::Internal(format!(
            "the transcript of recording {} has utterances the API cannot read: {e}",
            t.recording_id
        ))
    })?;
    let error = t.error.map(|detail| api::TranscriptFailure {
        category: t.error_category.and_then(|c| serde_json::from_value(serde_json::Value::String(c)).ok()),
        detail,
    });
    Ok(api::Transcript {
        recording_id: t.recording_id,
        state: match t.state {
            TranscriptState::Running => api::TranscriptState::Running,
            TranscriptState::Done => api::TranscriptState::Done,
            TranscriptState::Failed => api::TranscriptState::Failed,
        },
        account: t.account_id,
        sentiment_account: t.sentiment_account_id,
        utterances,
        error,
        sentiment_error: t.sentiment_error,
        requested_by: t.requested_by,
        started_at: t.started_at,
        finished_at: t.finished_at,
    })
}

fn settings_view(auto: patchbay_store::AutoTranscription) -> api::TranscriptionSettings {
    api::TranscriptionSettings {
        enabled: auto.enabled,
        services: auto.services,
        account: auto.account_id,
        model: auto.model,
    }
}

/// `GET …/recording-transcription`.
pub async fn transcription(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<api::TranscriptionSettings>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    Ok(Json(settings_view(state.transcriber.auto(&tenant).await?)))
}

/// `PUT …/recording-transcription`.
pub async fn put_transcription(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Input(body): Input<api::TranscriptionSettings>,
) -> ApiResult<Json<api::TranscriptionSettings>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let auto = state.transcriber.set_auto(&tenant, &body, &who.actor()).await.map_err(|e| match e {
        TranscribeError::Gateway(e) => e.into(),
        TranscribeError::Store(e) => e.into(),
        other => ApiError::Internal(other.to_string()),
    })?;
    Ok(Json(settings_view(auto)))
}
