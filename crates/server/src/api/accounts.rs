//! Integration accounts of a tenant. Secrets are write-only: responses say which are set,
//! never their values; on update an omitted secret keeps its value, a new value replaces
//! it, and null clears it. An update that changes nothing bumps no version.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::{BTreeMap, HashMap};

use patchbay_api::{
    AccountCreate, AccountFilter, AccountList, AccountTest, AccountUpdate, InboundHealth, LiveHealth, RejectedDelivery,
};
use patchbay_catalog::{AccountInput, Catalog, Provider, Validated, ValidationContext};
use patchbay_secrets::{SecretChange, SecretString};
use patchbay_store::{Account, AccountWrite, Conflict, LastTestWrite, SealedSecret, StoreError};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::common::{etag, if_match};
use super::form_test;
use super::tenants::not_found as tenant_not_found;
use crate::auth::Principal;
use crate::body::Input;
use crate::error::{field_error, ApiError, ApiResult};
use crate::state::AppState;

/// An account as the API shows it: secrets only as set or not.
pub fn view(
    catalog: &'static Catalog,
    account: &Account,
    live: Option<LiveHealth>,
    inbound: Option<Inbound>,
) -> patchbay_api::Account {
    let (inbound_webhook_url, inbound) = inbound.map_or((None, None), |(url, health)| (Some(url), Some(health)));
    let secrets = catalog
        .provider(&account.type_key, &account.provider)
        .map(|p| p.secret_fields().map(|f| (f.key.clone(), account.secrets.iter().any(|s| s.field == f.key))).collect())
        .unwrap_or_default();
    patchbay_api::Account {
        id: account.id,
        tenant: account.tenant_id.clone(),
        type_key: account.type_key.clone(),
        provider: account.provider.clone(),
        name: account.name.clone(),
        enabled: account.enabled,
        properties: account.properties.clone(),
        secrets,
        version: account.version,
        created_at: account.created_at,
        created_by: account.created_by.clone(),
        updated_at: account.updated_at,
        updated_by: account.updated_by.clone(),
        last_test: account.last_test.as_ref().and_then(|t| serde_json::from_value(t.clone()).ok()),
        live,
        inbound_webhook_url,
        inbound,
    }
}

/// An account's inbound webhook URL and health.
pub type Inbound = (String, InboundHealth);

/// The inbound webhooks of those of `accounts` whose provider takes deliveries (each gets
/// its hook id the first time it is shown).
pub async fn inbound_of(state: &AppState, tenant: &str, accounts: &[&Account]) -> ApiResult<HashMap<Uuid, Inbound>> {
    let ids: Vec<Uuid> = accounts
        .iter()
        .filter(|a| state.catalog.provider(&a.type_key, &a.provider).is_some_and(|p| p.inbound.is_some()))
        .map(|a| a.id)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let hooks = state.edge.hooks(tenant, &ids).await?;
    Ok(hooks
        .into_iter()
        .map(|hook| {
            let url = match &state.outbound.public_url {
                Some(base) => patchbay_connectors::inbound_webhook_url(base, &hook.hook_id).map(|u| u.to_string()),
                None => None,
            }
            .unwrap_or_else(|| format!("/{}/{}", patchbay_connectors::HOOKS_SEGMENT, hook.hook_id));
            let health = hook.health;
            let inbound = InboundHealth {
                accepted: health.accepted,
                rejected: health.rejected,
                last_delivery_at: health.last_delivery_at,
                last_rejected: health.last_rejected.map(|r| RejectedDelivery {
                    at: r.at,
                    status: r.status,
                    reason: r.reason,
                }),
            };
            (hook.account_id, (url, inbound))
        })
        .collect())
}

/// An account as the API shows it, with its live health and inbound webhook.
pub async fn shown(state: &AppState, account: &Account) -> ApiResult<patchbay_api::Account> {
    let live = live_of(state, account).await?;
    let inbound = inbound_of(state, &account.tenant_id, &[account]).await?.remove(&account.id);
    Ok(view(state.catalog, account, live, inbound))
}

/// The live health of the account's gateway traffic, when it had some.
pub async fn live_of(state: &AppState, account: &Account) -> ApiResult<Option<LiveHealth>> {
    Ok(state.gateway.live(&account.tenant_id, Some(account.id)).await?.remove(&account.id))
}

async fn respond(state: &AppState, status: StatusCode, account: Account) -> ApiResult<Response> {
    let tag = etag(account.version);
    let location = format!("/api/v1/tenants/{}/integration-accounts/{}", account.tenant_id, account.id);
    let mut response = (status, Json(shown(state, &account).await?)).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    if status == StatusCode::CREATED {
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    Ok(response)
}

/// Path ids that are not UUIDs name no account.
pub(crate) fn account_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse().map_err(|_| ApiError::NotFound("integration account"))
}

pub(crate) fn account_not_found(e: patchbay_store::StoreError) -> ApiError {
    match e {
        patchbay_store::StoreError::NotFound => ApiError::NotFound("integration account"),
        other => other.into(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(query): Query<AccountFilter>,
) -> ApiResult<Response> {
    state.store.get_tenant(&tenant).await.map_err(tenant_not_found)?;
    if let Some(t) = &query.type_key {
        if state.catalog.get(t).is_none() {
            return Err(ApiError::invalid("type", "unknown_type", format!("unknown integration type `{t}`")));
        }
    }
    let accounts = state.store.list_accounts(&tenant, query.type_key.as_deref()).await?;
    let mut live = state.gateway.live(&tenant, None).await?;
    let listed: Vec<&Account> = accounts.iter().map(|a| a.as_ref()).collect();
    let mut inbound = inbound_of(&state, &tenant, &listed).await?;
    let items = accounts.iter().map(|a| view(state.catalog, a, live.remove(&a.id), inbound.remove(&a.id))).collect();
    Ok(Json(AccountList { items }).into_response())
}

pub async fn get(State(state): State<AppState>, Path((tenant, id)): Path<(String, String)>) -> ApiResult<Response> {
    let account = state.store.get_account(&tenant, account_id(&id)?).await.map_err(account_not_found)?;
    respond(&state, StatusCode::OK, account).await
}

/// The account fields of a create, update or test body; what is left out is taken from the
/// stored account, or defaulted.
#[derive(Default)]
pub struct Fields<'b> {
    pub type_key: Option<&'b str>,
    pub provider: Option<&'b str>,
    pub name: Option<&'b str>,
    pub enabled: Option<bool>,
    pub properties: Option<&'b Map<String, Value>>,
}

impl<'b> From<&'b AccountCreate> for Fields<'b> {
    fn from(body: &'b AccountCreate) -> Self {
        Fields {
            type_key: Some(&body.type_key),
            provider: body.provider.as_deref(),
            name: body.name.as_deref(),
            enabled: body.enabled,
            properties: body.properties.as_ref(),
        }
    }
}

impl<'b> From<&'b AccountUpdate> for Fields<'b> {
    fn from(body: &'b AccountUpdate) -> Self {
        Fields {
            type_key: body.type_key.as_deref(),
            provider: body.provider.as_deref(),
            name: body.name.as_deref(),
            enabled: body.enabled,
            properties: body.properties.as_ref(),
        }
    }
}

impl<'b> From<&'b AccountTest> for Fields<'b> {
    fn from(body: &'b AccountTest) -> Self {
        Fields {
            type_key: Some(&body.type_key),
            provider: body.provider.as_deref(),
            name: body.name.as_deref(),
            enabled: body.enabled,
            properties: body.properties.as_ref(),
        }
    }
}

/// The parsed, validated input of a create or update, with the secret values it sets.
pub struct AccountDraft<'a> {
    pub provider: &'a Provider,
    pub type_key: String,
    pub name: String,
    pub enabled: bool,
    pub validated: Validated,
    /// The input's properties (holding the clear secret values for `SecretOp::Set`).
    pub input: Map<String, Value>,
}

/// Parses and validates an account body. `existing` is the stored account on update.
pub async fn draft<'a>(
    state: &'a AppState,
    tenant: &str,
    body: &Fields<'_>,
    existing: Option<&Account>,
) -> ApiResult<AccountDraft<'a>> {
    let tenant_row = state.store.get_tenant(tenant).await.map_err(tenant_not_found)?;
    let type_key = match (body.type_key, existing) {
        (Some(t), Some(e)) if t != e.type_key => {
            return Err(ApiError::invalid(
                "type",
                "immutable",
                "the type of an account cannot be changed; create a new account",
            ))
        }
        (Some(t), _) => t.to_owned(),
        (None, Some(e)) => e.type_key.clone(),
        (None, None) => return Err(ApiError::invalid("type", "required", "`type` is required")),
    };
    let ty = state.catalog.get(&type_key).ok_or_else(|| {
        ApiError::invalid(
            "type",
            "unknown_type",
            format!(
                "unknown integration type `{type_key}`; known types: {}",
                state.catalog.types.iter().map(|t| t.key).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let provider_key = match (body.provider, existing) {
        (Some(p), _) => p.to_owned(),
        (None, Some(e)) => e.provider.clone(),
        (None, None) if ty.providers.len() == 1 => ty.providers[0].key.to_owned(),
        (None, None) => {
            return Err(ApiError::invalid(
                "provider",
                "required",
                format!(
                    "`provider` is required for `{type_key}`: one of {}",
                    ty.providers.iter().map(|p| p.key).collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };
    let name = match (body.name, existing) {
        (Some(n), _) => n.to_owned(),
        (None, Some(e)) => e.name.clone(),
        (None, None) => String::new(),
    };
    let enabled = body.enabled.or(existing.map(|e| e.enabled)).unwrap_or(true);
    let input = match (body.properties, existing) {
        (Some(p), _) => p.clone(),
        (None, Some(e)) => e.properties.clone(),
        (None, None) => Map::new(),
    };
    let provider = ty.provider(&provider_key);
    let existing_secrets: Vec<String> = match (existing, provider) {
        (Some(e), Some(p)) => {
            e.secrets.iter().filter(|s| p.field(&s.field).is_some()).map(|s| s.field.clone()).collect()
        }
        _ => Vec::new(),
    };
    let validated = state
        .catalog
        .validate(
            &AccountInput { type_key: &type_key, provider: &provider_key, name: &name, properties: &input },
            &ValidationContext {
                enabled_types: &tenant_row.enabled_types,
                existing_secrets: &existing_secrets,
                stored_properties: existing.map(|e| &e.properties),
                allow_loopback_http: state.outbound.sso_allow_http_loopback,
            },
        )
        .map_err(ApiError::Validation)?;
    let provider = provider.ok_or_else(|| ApiError::Internal("validated provider is missing".into()))?;
    Ok(AccountDraft { provider, type_key, name, enabled, validated, input })
}

impl AccountDraft<'_> {
    /// The secret part of the input, for the account-secrets service.
    pub fn secrets(&self) -> SecretChange<'_> {
        SecretChange { provider: self.provider, validated: &self.validated, input: &self.input }
    }

    /// The values the account has after this write, for [`form_test`].
    fn values<'a>(&'a self, secrets: &'a BTreeMap<String, SecretString>) -> form_test::Values<'a> {
        form_test::Values {
            type_key: &self.type_key,
            provider: self.provider.key,
            properties: &self.validated.properties,
            secrets,
        }
    }

    fn write(&self, secrets: Vec<SealedSecret>) -> AccountWrite {
        AccountWrite {
            type_key: self.type_key.clone(),
            provider: self.provider.key.to_owned(),
            name: self.name.clone(),
            enabled: self.enabled,
            properties: self.validated.properties.clone(),
            secrets,
            singleton_key: self.validated.singleton_key.clone(),
            default_key: self.validated.default_key.clone(),
            last_test: LastTestWrite::Keep,
        }
    }
}

/// A write refused because another account already is the tenant's default of its kind:
/// the error names that account, so the user knows which one to change.
async fn default_taken(state: &AppState, tenant: &str, write: &AccountWrite) -> ApiError {
    let holder = match state.store.list_accounts(tenant, None).await {
        Ok(accounts) => accounts
            .iter()
            .find(|a| a.default_key.is_some() && a.default_key == write.default_key)
            .map(|a| a.name.clone()),
        Err(_) => None,
    };
    let Some(name) = holder else { return StoreError::Conflict(Conflict::DefaultTaken).into() };
    let message = format!("“{name}” is already this tenant's default account; clear Default account on “{name}” first");
    ApiError::Conflict {
        detail: message.clone(),
        errors: vec![field_error("properties.default_account", "one_default", message)],
    }
}

pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Input(body): Input<AccountCreate>,
) -> ApiResult<Response> {
    let keys = state.keys.lease().await;
    let draft = draft(&state, &tenant, &Fields::from(&body), None).await?;
    let id = Uuid::now_v7();
    let sealed = keys.seal_write(&tenant, id, &draft.secrets(), None);
    let values = sealed.values.as_ref().ok().map(|secrets| draft.values(secrets));
    let last_test = form_test::last_test_after(&keys, &headers, &tenant, None, values.as_ref(), false);
    let write = AccountWrite { last_test, ..draft.write(sealed.secrets) };
    let changes = created_changes(&write);
    let account = match state.store.create_account(&tenant, id, &write, &who.actor(), &changes).await {
        Err(StoreError::Conflict(Conflict::DefaultTaken)) => return Err(default_taken(&state, &tenant, &write).await),
        other => other?,
    };
    drop(keys);
    state.reconciler.account_saved(&account, sealed.values);
    respond(&state, StatusCode::CREATED, account).await
}

pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    Input(body): Input<AccountUpdate>,
) -> ApiResult<Response> {
    let id = account_id(&id)?;
    let expected = if_match(&headers)?;
    if body.id.as_ref().is_some_and(|body_id| *body_id != id.to_string()) {
        return Err(ApiError::invalid("id", "immutable", "the body's id differs from the URL's"));
    }
    let keys = state.keys.lease().await;
    let existing = state.store.get_account(&tenant, id).await.map_err(account_not_found)?;
    if let Some(v) = expected {
        if v != existing.version {
            return Err(ApiError::PreconditionFailed { current_version: existing.version });
        }
    }
    let draft = draft(&state, &tenant, &Fields::from(&body), Some(&existing)).await?;
    if existing.enabled && !draft.enabled {
        refuse_if_bound(&state, &tenant, id, "disabled").await?;
    }
    let sealed = keys.seal_write(&tenant, id, &draft.secrets(), Some(&existing));
    let mut write = draft.write(sealed.secrets);
    let changes = updated_changes(&existing, &write);
    if changes.is_empty() {
        return respond(&state, StatusCode::OK, existing).await;
    }
    // Where the account connects (its target fields) or with what credentials: the last
    // test no longer describes it. Other settings (a mapping, a limit) leave it standing.
    let connection_changed = changes.keys().any(|k| k == "provider" || k.starts_with("secrets."))
        || draft.provider.target_fields().any(|f| existing.properties.get(&f.key) != write.properties.get(&f.key));
    let values = sealed.values.as_ref().ok().map(|secrets| draft.values(secrets));
    write.last_test =
        form_test::last_test_after(&keys, &headers, &tenant, Some(id), values.as_ref(), connection_changed);
    keys.reseal_kept(&tenant, id, &mut write.secrets);
    let updated = state
        .store
        .update_account(
            &tenant,
            id,
            &write,
            Some(expected.unwrap_or(existing.version)),
            &who.actor(),
            &Value::Object(changes),
        )
        .await;
    let account = match updated {
        Err(StoreError::Conflict(Conflict::DefaultTaken)) => return Err(default_taken(&state, &tenant, &write).await),
        other => other?,
    };
    drop(keys);
    state.reconciler.account_saved(&account, sealed.values);
    respond(&state, StatusCode::OK, account).await
}

pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = if_match(&headers)?;
    let id = account_id(&id)?;
    let jobs = state.recordings.jobs_using_account(&tenant, id).await?;
    if !jobs.is_empty() {
        let names: Vec<String> = jobs.iter().map(|j| format!("`{}`", j.name)).collect();
        return Err(ApiError::Conflict {
            detail: format!(
                "recording export jobs {} upload with this account; point them to another account or delete them first",
                names.join(", ")
            ),
            errors: Vec::new(),
        });
    }
    match state.store.delete_account(&tenant, id, expected, &who.actor()).await {
        Err(patchbay_store::StoreError::Conflict(patchbay_store::Conflict::Bound)) => {
            refuse_if_bound(&state, &tenant, id, "deleted").await?;
            return Err(patchbay_store::StoreError::Conflict(patchbay_store::Conflict::Bound).into());
        }
        other => other.map_err(account_not_found)?,
    }
    state.reconciler.account_deleted(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// A chat bot bound to services or launch points of the runtime gateway is neither deleted
/// nor disabled: the services would lose their suggestion engine without anyone noticing.
async fn refuse_if_bound(state: &AppState, tenant: &str, id: Uuid, what: &str) -> ApiResult<()> {
    let bound = state.gateway.bound_to(tenant, id).await?;
    if bound.is_empty() {
        return Ok(());
    }
    let message = format!(
        "the account cannot be {what}: it is the chat bot of {}; bind another account there first (PUT …/gateway/bindings)",
        bound.join(", ")
    );
    Err(ApiError::Conflict { detail: message.clone(), errors: vec![crate::error::field_error("id", "bound", message)] })
}

/// The audit record of a creation: every non-secret value, and which secrets were set.
fn created_changes(write: &AccountWrite) -> Value {
    let secrets: Map<String, Value> = write.secrets.iter().map(|s| (s.field.clone(), json!("set"))).collect();
    json!({
        "type": write.type_key,
        "provider": write.provider,
        "name": write.name,
        "enabled": write.enabled,
        "properties": write.properties,
        "secrets": secrets,
    })
}

/// What an update changes, field by field: `{"from", "to"}` for values, `set`, `replaced`
/// or `cleared` for secrets (never their values). Empty when nothing changes.
fn updated_changes(before: &Account, after: &AccountWrite) -> Map<String, Value> {
    let mut changes = Map::new();
    let mut diff = |key: String, from: Value, to: Value| {
        if from != to {
            changes.insert(key, json!({"from": from, "to": to}));
        }
    };
    diff("provider".into(), json!(before.provider), json!(after.provider));
    diff("name".into(), json!(before.name), json!(after.name));
    diff("enabled".into(), json!(before.enabled), json!(after.enabled));
    let keys: std::collections::BTreeSet<&String> = before.properties.keys().chain(after.properties.keys()).collect();
    for key in keys {
        let from = before.properties.get(key).cloned().unwrap_or(Value::Null);
        let to = after.properties.get(key).cloned().unwrap_or(Value::Null);
        diff(format!("properties.{key}"), from, to);
    }
    let fields: std::collections::BTreeSet<&String> =
        before.secrets.iter().map(|s| &s.field).chain(after.secrets.iter().map(|s| &s.field)).collect();
    for field in fields {
        let old = before.secrets.iter().find(|s| &s.field == field);
        let new = after.secrets.iter().find(|s| &s.field == field);
        let what = match (old, new) {
            (None, Some(_)) => "set",
            (Some(_), None) => "cleared",
            (Some(a), Some(b)) if a.sealed != b.sealed => "replaced",
            _ => continue,
        };
        changes.insert(format!("secrets.{field}"), json!(what));
    }
    changes
}

/// `POST …/integration-accounts/{id}/inbound-webhook/rotate`: a new hook id; the old URL
/// answers 404 from now on.
pub async fn rotate_inbound_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let account = state.store.get_account(&tenant, account_id(&id)?).await.map_err(account_not_found)?;
    let provider = state.catalog.provider(&account.type_key, &account.provider);
    if provider.is_none_or(|p| p.inbound.is_none()) {
        return Err(ApiError::Conflict {
            detail: format!("{} accounts receive no deliveries, so they have no inbound webhook", account.provider),
            errors: Vec::new(),
        });
    }
    state.edge.rotate(&tenant, account.id, &who.actor()).await?;
    respond(&state, StatusCode::OK, account).await
}
