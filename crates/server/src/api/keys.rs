//! Master key rotation, for the service-provider admin: how many values each key seals, a
//! new active key, resealing the values still under older keys a batch at a time (the caller
//! loops, so an interrupted rotation resumes where it stopped), and retiring keys that seal
//! nothing. Responses carry key ids and counts, never key material or secret values.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use patchbay_api::{KeyInfo, KeyStatus, ResealFailure, ResealQuery, ResealReport};
use patchbay_secrets::{ResealBatch, RetireError};
use patchbay_store::SecretCursor;

use crate::error::{field_error, ApiError, ApiResult};
use crate::state::AppState;

async fn key_status(state: &AppState) -> ApiResult<KeyStatus> {
    let counts = state.store.secrets_by_key_counts().await?;
    let rotated = state.keys.rotation_times().await.map_err(|e| ApiError::Internal(format!("key status: {e}")))?;
    let (active, mut ids) = {
        let keys = state.keys.lease().await;
        (keys.active_key_id(), keys.key_ids())
    };
    let in_ring = ids.clone();
    ids.extend(counts.iter().map(|(id, _)| *id));
    ids.sort_unstable();
    ids.dedup();
    let keys = ids
        .into_iter()
        .map(|id| KeyInfo {
            id,
            active: id == active,
            in_ring: in_ring.contains(&id),
            values: counts.iter().find(|(key, _)| *key == id).map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0)),
            rotated_at: rotated.get(&id).copied(),
        })
        .collect();
    Ok(KeyStatus { active, keys })
}

/// `GET /keys`.
pub async fn status(State(state): State<AppState>) -> ApiResult<Json<KeyStatus>> {
    Ok(Json(key_status(&state).await?))
}

/// `POST /keys/rotate`: a new key, active for every value sealed from now on. Runs as a task
/// of its own, so a client that hangs up does not stop it halfway.
pub async fn rotate(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<KeyStatus>)> {
    let keys = state.keys.clone();
    tokio::spawn(async move { keys.rotate().await })
        .await
        .map_err(|e| ApiError::Internal(format!("key rotation: {e}")))?
        .map_err(|e| ApiError::Internal(format!("key rotation: {:#}", anyhow::Error::from(e))))?;
    Ok((StatusCode::CREATED, Json(key_status(&state).await?)))
}

fn cursor(after: &str) -> ApiResult<SecretCursor> {
    after
        .split_once(':')
        .and_then(|(account, field)| Some(SecretCursor { account_id: account.parse().ok()?, field: field.to_owned() }))
        .ok_or_else(|| ApiError::bad_field("after", "cursor", "`after` must be the `next` of an earlier reply"))
}

/// `POST /keys/reseal?batch=N&after=CURSOR`: seals up to N values still under older keys
/// again under the active key. Each replacement only lands if the stored value is still the
/// one that was read, so a concurrent account write is never overwritten.
pub async fn reseal(State(state): State<AppState>, Query(query): Query<ResealQuery>) -> ApiResult<Json<ResealReport>> {
    let batch = query.batch.unwrap_or(ResealQuery::DEFAULT_BATCH);
    if !ResealQuery::BATCH.contains(&batch) {
        let (min, max) = (ResealQuery::BATCH.start(), ResealQuery::BATCH.end());
        return Err(ApiError::invalid("batch", "range", format!("batch must be between {min} and {max}")));
    }
    let after = query.after.as_deref().map(cursor).transpose()?;
    let ResealBatch { active, resealed, skipped, failed, remaining, next } =
        state.keys.reseal_batch(after.as_ref(), batch).await?;
    let failed = failed
        .into_iter()
        .map(|f| ResealFailure {
            tenant: f.tenant,
            account: f.account,
            field: f.field,
            key_id: f.key_id,
            error: f.error,
        })
        .collect();
    let next = next.map(|last| format!("{}:{}", last.account_id, last.field));
    let remaining = u64::try_from(remaining).unwrap_or(0);
    Ok(Json(ResealReport { active, resealed, skipped, failed, remaining, next }))
}

/// `DELETE /keys/{id}`: removes a key that is not active and seals nothing (in a task of its
/// own, like rotation).
pub async fn retire(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id: u32 = id.parse().map_err(|_| ApiError::NotFound("key"))?;
    let keys = state.keys.clone();
    let retired = tokio::spawn(async move { keys.retire(id).await })
        .await
        .map_err(|e| ApiError::Internal(format!("key retirement: {e}")))?;
    match retired {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(RetireError::Unknown(_)) => Err(ApiError::NotFound("key")),
        Err(e @ (RetireError::Active(_) | RetireError::InUse { .. })) => {
            let rule = if matches!(e, RetireError::Active(_)) { "active" } else { "in_use" };
            let detail = e.to_string();
            Err(ApiError::Conflict { errors: vec![field_error("id", rule, detail.clone())], detail })
        }
        Err(RetireError::Failed(e)) => Err(ApiError::Internal(format!("key retirement: {:#}", anyhow::Error::from(e)))),
    }
}
