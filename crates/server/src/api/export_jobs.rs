//! Periodic recording export jobs of a tenant, their runs and the runs' metadata files.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use patchbay_api::{
    self as api, request_fields, ExportJobList, ExportJobSettings, ExportRunList, ExportRunReason, ExportRunState,
    JobSettings, Operation, RunsQuery,
};
use patchbay_catalog::export_job::export_job_settings;
use patchbay_catalog::FieldError;
use patchbay_jobs::StartError;
use patchbay_recordings::{settings_from_body, Schedule};
use patchbay_store::{Conflict, ExportJob, ExportJobWrite, ExportRun, RunState, StoreError};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::common::{etag, if_match};
use super::tenants::not_found as tenant_not_found;
use crate::auth::Principal;
use crate::body::JsonBytes;
use crate::error::{field_error, ApiError, ApiResult};
use crate::state::AppState;

const NAME_MAX: usize = 100;

pub(crate) fn run_view(run: &ExportRun) -> ApiResult<api::ExportRun> {
    let reason = ExportRunReason::parse(&run.reason).ok_or_else(|| {
        ApiError::Internal(format!("export run {} has a stored reason {:?} the API does not know", run.id, run.reason))
    })?;
    Ok(api::ExportRun {
        id: run.id,
        job_id: run.job_id,
        reason,
        resumed_from: run.resumed_from,
        state: match run.state {
            RunState::Running => ExportRunState::Running,
            RunState::Succeeded => ExportRunState::Succeeded,
            RunState::Failed => ExportRunState::Failed,
            RunState::Interrupted => ExportRunState::Interrupted,
        },
        node: run.node.clone(),
        total: run.total,
        exported: run.progress.exported,
        failed: run.progress.failed,
        bytes: run.progress.bytes,
        metadata_key: run.metadata_key.clone(),
        error: run.error.clone(),
        started_at: run.started_at,
        heartbeat_at: run.heartbeat_at,
        finished_at: run.finished_at,
        epoch: run.epoch,
    })
}

fn settings_of(job: &ExportJob) -> ApiResult<JobSettings> {
    serde_json::from_value(job.settings.clone())
        .map_err(|e| ApiError::Internal(format!("stored settings of export job {} are unreadable: {e}", job.id)))
}

fn job_view(job: &ExportJob, last_run: Option<&ExportRun>) -> ApiResult<api::ExportJob> {
    Ok(api::ExportJob {
        id: job.id,
        tenant: job.tenant_id.clone(),
        job: api::ExportJobWrite {
            name: job.name.clone(),
            account_id: job.account_id,
            enabled: job.enabled,
            settings: settings_of(job)?,
        },
        next_run_at: job.next_run_at,
        last_run: last_run.map(run_view).transpose()?,
        version: job.version,
        created_at: job.created_at,
        created_by: job.created_by.clone(),
        updated_at: job.updated_at,
        updated_by: job.updated_by.clone(),
    })
}

async fn last_run(state: &AppState, job: &ExportJob) -> ApiResult<Option<ExportRun>> {
    Ok(state.recordings.list_runs(&job.tenant_id, job.id, 1).await?.into_iter().next())
}

async fn respond(state: &AppState, status: StatusCode, job: &ExportJob) -> ApiResult<Response> {
    let view = job_view(job, last_run(state, job).await?.as_ref())?;
    let mut response = (status, Json(view)).into_response();
    response.headers_mut().insert(header::ETAG, etag(job.version));
    if status == StatusCode::CREATED {
        let location = Operation::GetExportJob.url(&[&job.tenant_id, &job.id.to_string()]);
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    Ok(response)
}

fn job_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse().map_err(|_| ApiError::NotFound("recording export job"))
}

fn job_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound("recording export job"),
        StoreError::VersionMismatch { current } => ApiError::PreconditionFailed { current_version: current },
        StoreError::Conflict(Conflict::NameTaken) => {
            let message =
                "another recording export job of this tenant has this name (names are compared ignoring case)";
            ApiError::Conflict { detail: message.into(), errors: vec![field_error("name", "unique", message)] }
        }
        other => other.into(),
    }
}

/// Reads and checks a job body into the API's [`api::ExportJobWrite`]: every problem at
/// once, each naming its field and rule.
async fn job_write(state: &AppState, tenant: &str, bytes: &Bytes) -> ApiResult<api::ExportJobWrite> {
    let body = crate::body::json_object(bytes)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let known = request_fields::<api::ExportJobWrite>();
    for key in body.keys().filter(|k| !known.contains(k)) {
        errors.push(field_error(key.clone(), "unknown_field", format!("{key} is not a field of an export job")));
    }
    let name = match body.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() && name.trim().chars().count() <= NAME_MAX => {
            name.trim().to_owned()
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.push(field_error("name", "required", format!("name is required, 1 to {NAME_MAX} characters")));
            String::new()
        }
        Some(_) => {
            errors.push(field_error("name", "type", "name must be a string"));
            String::new()
        }
    };
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(field_error("enabled", "type", "enabled must be true or false"));
            true
        }
    };
    let account_id = account_field(state, tenant, &body, &mut errors).await?;
    let settings = match settings_from_body(&body) {
        Ok(settings) => Some(settings),
        Err(mut more) => {
            errors.append(&mut more);
            None
        }
    };
    match (settings, account_id) {
        (Some(settings), Some(account_id)) if errors.is_empty() => {
            Ok(api::ExportJobWrite { name, account_id, enabled, settings })
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The stored form of a checked job body.
fn stored(write: &api::ExportJobWrite) -> ApiResult<ExportJobWrite> {
    Ok(ExportJobWrite {
        name: write.name.clone(),
        account_id: write.account_id,
        enabled: write.enabled,
        settings: serde_json::to_value(&write.settings).map_err(|e| ApiError::Internal(e.to_string()))?,
    })
}

/// The job's `account_id`: an Amazon AWS account of the same tenant.
async fn account_field(
    state: &AppState,
    tenant: &str,
    body: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> ApiResult<Option<Uuid>> {
    let Some(raw) = body.get("account_id").filter(|v| !v.is_null()) else {
        errors.push(field_error(
            "account_id",
            "required",
            "account_id is required: the Amazon AWS account to upload with",
        ));
        return Ok(None);
    };
    let Some(id) = raw.as_str().and_then(|s| s.parse::<Uuid>().ok()) else {
        errors.push(field_error("account_id", "uuid", "account_id must be the id of an integration account"));
        return Ok(None);
    };
    match state.store.get_account(tenant, id).await {
        Ok(account) if account.type_key == "aws" => Ok(Some(id)),
        Ok(account) => {
            errors.push(field_error(
                "account_id",
                "account_type",
                format!(
                    "account `{}` is of type {}; an export job needs an Amazon AWS (aws) account",
                    account.name, account.type_key
                ),
            ));
            Ok(None)
        }
        Err(StoreError::NotFound) => {
            errors.push(field_error("account_id", "not_found", "this tenant has no integration account with this id"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /recording-export-jobs/settings`: how the catalog describes a job's settings, for
/// any valid token: the fields (in the shape of a provider's fields in
/// `GET /integration-types`), their JSON Schema and the file name template's tokens.
pub async fn settings(_who: Principal) -> Json<ExportJobSettings> {
    Json(ExportJobSettings::from_catalog(export_job_settings()))
}

fn next_run(enabled: bool, settings: &JobSettings) -> Option<DateTime<Utc>> {
    enabled.then(|| settings.next_run(Utc::now()))
}

pub async fn list(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Json<ExportJobList>> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let jobs = state.recordings.list_export_jobs(&tenant).await?;
    let mut items = Vec::with_capacity(jobs.len());
    for job in &jobs {
        items.push(job_view(job, last_run(&state, job).await?.as_ref())?);
    }
    Ok(Json(ExportJobList { items }))
}

pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    JsonBytes(bytes): JsonBytes,
) -> ApiResult<Response> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    let write = job_write(&state, &tenant, &bytes).await?;
    let next = next_run(write.enabled, &write.settings);
    let job = state
        .recordings
        .create_export_job(&tenant, Uuid::now_v7(), &stored(&write)?, next, &who.actor())
        .await
        .map_err(job_not_found)?;
    respond(&state, StatusCode::CREATED, &job).await
}

pub async fn get(State(state): State<AppState>, Path((tenant, id)): Path<(String, String)>) -> ApiResult<Response> {
    let job = state.recordings.get_export_job(&tenant, job_id(&id)?).await.map_err(job_not_found)?;
    respond(&state, StatusCode::OK, &job).await
}

/// Replaces the job. A run in progress finishes with the settings it started with.
pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBytes(bytes): JsonBytes,
) -> ApiResult<Response> {
    let expected = if_match(&headers)?;
    let id = job_id(&id)?;
    let current = state.recordings.get_export_job(&tenant, id).await.map_err(job_not_found)?;
    let write = job_write(&state, &tenant, &bytes).await?;
    let stored = stored(&write)?;
    let unchanged_schedule = current.enabled == stored.enabled && current.settings == stored.settings;
    let next = if unchanged_schedule { current.next_run_at } else { next_run(write.enabled, &write.settings) };
    let job = state
        .recordings
        .update_export_job(&tenant, id, &stored, next, expected, &who.actor())
        .await
        .map_err(job_not_found)?;
    respond(&state, StatusCode::OK, &job).await
}

/// Deletes the job and its runs; a run in progress here stops taking new files. Exports
/// already made stay playable.
pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = if_match(&headers)?;
    let id = job_id(&id)?;
    state.recordings.delete_export_job(&tenant, id, expected, &who.actor()).await.map_err(job_not_found)?;
    state.exporter.cancel(id);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/{id}/run`: starts a run now (202 with the run), 409 while one is in progress.
pub async fn run(State(state): State<AppState>, Path((tenant, id)): Path<(String, String)>) -> ApiResult<Response> {
    let job = state.recordings.get_export_job(&tenant, job_id(&id)?).await.map_err(job_not_found)?;
    let run = match state.exporter.start_run(&job, ExportRunReason::Manual, None).await {
        Ok(run) => run,
        Err(StartError::Running) => {
            return Err(ApiError::Conflict {
                detail: "a run of this export job is in progress; wait for it to finish (see its runs)".into(),
                errors: Vec::new(),
            })
        }
        Err(StartError::Store(e)) => return Err(e.into()),
    };
    let location = Operation::GetExportRun.url(&[&tenant, &job.id.to_string(), &run.id.to_string()]);
    let mut response = (StatusCode::ACCEPTED, Json(run_view(&run)?)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Newest first.
pub async fn runs(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Query(query): Query<RunsQuery>,
) -> ApiResult<Json<ExportRunList>> {
    let job = state.recordings.get_export_job(&tenant, job_id(&id)?).await.map_err(job_not_found)?;
    let limit = query.limit.unwrap_or(RunsQuery::DEFAULT_LIMIT);
    if !RunsQuery::LIMIT.contains(&limit) {
        let (min, max) = (RunsQuery::LIMIT.start(), RunsQuery::LIMIT.end());
        return Err(ApiError::invalid("limit", "range", format!("limit must be from {min} to {max}")));
    }
    let runs = state.recordings.list_runs(&tenant, job.id, limit).await?;
    Ok(Json(ExportRunList { items: runs.iter().map(run_view).collect::<ApiResult<_>>()? }))
}

fn run_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse().map_err(|_| ApiError::NotFound("export run"))
}

async fn find_run(state: &AppState, tenant: &str, job: &str, run: &str) -> ApiResult<ExportRun> {
    let (job, run) = (job_id(job)?, run_id(run)?);
    state.recordings.get_run(tenant, job, run).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound("export run"),
        other => other.into(),
    })
}

pub async fn get_run(
    State(state): State<AppState>,
    Path((tenant, job, run)): Path<(String, String, String)>,
) -> ApiResult<Json<api::ExportRun>> {
    let run = find_run(&state, &tenant, &job, &run).await?;
    Ok(Json(run_view(&run)?))
}

/// The recordings a run could not export, each with its reason (worded for the caller, see
/// `testing::worded_for`) and its failure category.
pub async fn failures(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, job, run)): Path<(String, String, String)>,
) -> ApiResult<Json<api::ExportFailureList>> {
    let run = find_run(&state, &tenant, &job, &run).await?;
    let limit = api::ExportFailureList::LIMIT;
    let mut rows = state.recordings.failed_exports_of_run(&tenant, run.id, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let items = rows
        .into_iter()
        .map(|(recording, export)| {
            let mut error = export.error.unwrap_or_default();
            super::testing::worded_for(&who, &mut error);
            api::ExportFailure {
                recording_id: recording.meta.id,
                service: recording.meta.service,
                call_started_at: recording.meta.call_started_at,
                object_key: export.object_key,
                category: export.category.and_then(|c| serde_json::from_value(Value::String(c)).ok()),
                error,
                attempts: export.attempts,
                failed_at: export.updated_at,
            }
        })
        .collect();
    Ok(Json(api::ExportFailureList { items, more }))
}

/// The run's metadata CSV as written at its end (also when its upload failed).
pub async fn metadata(
    State(state): State<AppState>,
    Path((tenant, job, run)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let run = find_run(&state, &tenant, &job, &run).await?;
    let path = state.exporter.metadata_path(run.id);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::NotFound("metadata file (written when the run ends)"))?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = format!("attachment; filename=\"patchbay-export_{}.csv\"", run.id);
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
