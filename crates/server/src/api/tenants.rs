//! Tenants (contact centers): created and entitled by the service provider.

use std::path::PathBuf;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use patchbay_api::{Tenant, TenantContents, TenantCreate, TenantList, TenantListItem, TenantSettings, TenantUpdate};
use patchbay_store::NewTenant;

use super::common::{etag, if_match};
use crate::auth::Principal;
use crate::body::Input;
use crate::error::{field_error, ApiError, ApiResult};
use crate::sessions::Sessions;
use crate::state::AppState;

/// The API's view of a stored tenant.
fn view(tenant: patchbay_store::Tenant) -> Tenant {
    Tenant {
        id: tenant.id,
        name: tenant.name,
        enabled_types: tenant.enabled_types,
        time_zone: tenant.time_zone,
        version: tenant.version,
        created_at: tenant.created_at,
        updated_at: tenant.updated_at,
    }
}

fn respond(status: StatusCode, tenant: patchbay_store::Tenant) -> Response {
    let tag = etag(tenant.version);
    let mut response = (status, Json(view(tenant))).into_response();
    response.headers_mut().insert(axum::http::header::ETAG, tag);
    response
}

/// Tenant ids appear in URLs and in sealed-secret bindings: keep them plain.
fn check_id(id: &str) -> ApiResult<()> {
    let ok = (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "id",
            "tenant_id",
            "a tenant id is 1-63 characters of a-z, 0-9 and -, starting with a letter or digit",
        ))
    }
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "length", "a tenant name is 1-200 characters"));
    }
    patchbay_catalog::check_name_characters("name", "A tenant name", name)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    Ok(name.to_owned())
}

/// An IANA time zone name, as the time zone database spells it.
fn check_time_zone(name: &str) -> ApiResult<String> {
    patchbay_gateway::time_zone(name).map(|zone| zone.name().to_owned()).ok_or_else(|| {
        ApiError::invalid(
            "time_zone",
            "time_zone",
            format!("`{name}` is not an IANA time zone name (e.g. `UTC`, `Europe/Berlin`, `America/New_York`)"),
        )
    })
}

/// Gated types only; each must exist in the catalog and be gated.
fn check_enabled_types(state: &AppState, types: Vec<String>) -> ApiResult<Vec<String>> {
    let mut errors = Vec::new();
    for (i, t) in types.iter().enumerate() {
        match state.catalog.get(t) {
            Some(ty) if ty.gated => {}
            Some(_) => errors.push(field_error(
                format!("enabled_types[{i}]"),
                "not_gated",
                format!(
                    "`{t}` is available to every tenant; only gated types ({}) are enabled here",
                    state
                        .catalog
                        .types
                        .iter()
                        .filter(|ty| ty.gated)
                        .map(|ty| format!("`{}`", ty.key))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            None => errors.push(field_error(
                format!("enabled_types[{i}]"),
                "unknown_type",
                format!("unknown integration type `{t}`"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut types = types;
    types.sort();
    types.dedup();
    Ok(types)
}

/// A count the database holds as a non-negative integer.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<TenantList>> {
    let tenants = state.store.list_tenants_with_counts().await?;
    let items = tenants
        .into_iter()
        .filter(|(t, _)| who.sees_tenant(&t.id))
        .map(|(tenant, counts)| TenantListItem {
            tenant: view(tenant),
            account_count: count(counts.accounts),
            failing_account_count: count(counts.failing),
        })
        .collect();
    Ok(Json(TenantList { items }))
}

/// `GET /tenants/{tenant}/contents`: what [`delete`] would remove, counted.
pub async fn contents(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Json<TenantContents>> {
    let found = state.store.tenant_contents(&tenant).await.map_err(not_found)?;
    Ok(Json(TenantContents {
        accounts: count(found.accounts),
        export_jobs: count(found.export_jobs),
        users: count(found.users),
        tokens: count(found.tokens),
        recordings: count(found.recordings),
    }))
}

pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Input(body): Input<TenantCreate>,
) -> ApiResult<Response> {
    check_id(&body.id)?;
    let name = check_name(body.name.as_deref().unwrap_or(&body.id))?;
    let enabled_types = check_enabled_types(&state, body.enabled_types.unwrap_or_default())?;
    let time_zone = check_time_zone(body.time_zone.as_deref().unwrap_or(TenantCreate::DEFAULT_TIME_ZONE))?;
    let new = NewTenant { id: body.id, name, enabled_types, time_zone };
    let tenant = state.store.create_tenant(&new, &who.actor()).await?;
    Ok(respond(StatusCode::CREATED, tenant))
}

pub async fn get(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Response> {
    let tenant = state.store.get_tenant(&tenant).await.map_err(not_found)?;
    Ok(respond(StatusCode::OK, tenant))
}

pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Input(body): Input<TenantUpdate>,
) -> ApiResult<Response> {
    let expected = if_match(&headers)?;
    let current = state.store.get_tenant(&tenant).await.map_err(not_found)?;
    if body.id.as_ref().is_some_and(|id| *id != tenant) {
        return Err(ApiError::invalid("id", "immutable", "a tenant id cannot be changed"));
    }
    let name = match &body.name {
        Some(n) => check_name(n)?,
        None => current.name.clone(),
    };
    let enabled_types = match body.enabled_types {
        Some(types) => check_enabled_types(&state, types)?,
        None => current.enabled_types.clone(),
    };
    let withdrawn: Vec<&String> = current.enabled_types.iter().filter(|t| !enabled_types.contains(t)).collect();
    for t in withdrawn {
        let in_use = state.store.list_accounts(&tenant, Some(t)).await?.len();
        if in_use > 0 {
            return Err(ApiError::Conflict {
                detail: format!(
                    "the tenant still has {in_use} `{t}` account(s); delete them before withdrawing the type"
                ),
                errors: vec![field_error("enabled_types", "in_use", format!("`{t}` is in use by {in_use} account(s)"))],
            });
        }
    }
    let time_zone = match &body.time_zone {
        Some(zone) => check_time_zone(zone)?,
        None => current.time_zone.clone(),
    };
    let change = patchbay_store::TenantUpdate { name, enabled_types, time_zone };
    let updated = state.store.update_tenant(&tenant, &change, expected, &who.actor()).await?;
    Ok(respond(StatusCode::OK, updated))
}

/// `PUT /tenants/{tenant}/settings`: what the tenant's own admins may change (with
/// `If-Match` like the tenant itself).
pub async fn update_settings(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Input(body): Input<TenantSettings>,
) -> ApiResult<Response> {
    let expected = if_match(&headers)?;
    let current = state.store.get_tenant(&tenant).await.map_err(not_found)?;
    let time_zone = check_time_zone(&body.time_zone)?;
    if time_zone == current.time_zone {
        return Ok(respond(StatusCode::OK, current));
    }
    let change = patchbay_store::TenantUpdate { name: current.name, enabled_types: current.enabled_types, time_zone };
    let updated = state.store.update_tenant(&tenant, &change, expected.or(Some(current.version)), &who.actor()).await?;
    Ok(respond(StatusCode::OK, updated))
}

/// Deletes a tenant and everything it has: accounts, secrets, tokens and their admin-screen
/// sessions, recordings with their audio, export jobs, runs and their metadata files, spool
/// entries; its feeds stop. The audit trail is kept for the service provider under an archive
/// key that no later tenant of the same id sees.
pub async fn delete(
    State(state): State<AppState>,
    Extension(sessions): Extension<Sessions>,
    who: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.get_tenant(&tenant).await.map_err(not_found)?;
    let mut files: Vec<PathBuf> = Vec::new();
    for job in state.recordings.list_export_jobs(&tenant).await? {
        state.exporter.cancel(job.id);
        let runs = state.recordings.list_runs(&tenant, job.id, i64::MAX).await?;
        files.extend(runs.iter().map(|run| state.exporter.metadata_path(run.id)));
    }
    let archive = state.store.delete_tenant(&tenant, &who.actor()).await.map_err(not_found)?;
    state.reconciler.tenant_deleted(&tenant);
    state.outbound.slots.forget(&tenant);
    sessions.end_orphans(state.store.as_ref()).await?;
    files.push(state.exporter.audio.tenant_dir(&tenant));
    files.extend(state.spool.as_ref().map(|spool| spool.join(&tenant)));
    for path in files {
        let removed =
            if path.is_dir() { tokio::fs::remove_dir_all(&path).await } else { tokio::fs::remove_file(&path).await };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::error!(tenant, path = %path.display(), error = %e, "cannot remove a deleted tenant's file")
            }
            _ => {}
        }
    }
    tracing::info!(tenant, audit = archive, "deleted a tenant; its audit trail is kept under the archive key");
    Ok(StatusCode::NO_CONTENT)
}

/// Store "not found" on a tenant route means the tenant.
pub(crate) fn not_found(e: patchbay_store::StoreError) -> ApiError {
    match e {
        patchbay_store::StoreError::NotFound => ApiError::NotFound("tenant"),
        other => other.into(),
    }
}
