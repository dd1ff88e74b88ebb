//! Connection tests and account actions. A test of a saved account uses its stored values;
//! a test of an unsaved body uses the body's values, with stored secrets filling in only
//! the secrets the body omits. Every test and action is audited; no secret is returned.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use futures::StreamExt;
use patchbay_api::{
    AccountTest, ActionFailure, ActionRequest, ActionResult, BulkTestItem, BulkTestReport, Failed, TestOptions,
};
use patchbay_catalog::TestSupport;
use patchbay_connectors::{egress, AccountConfig, Context, TestReport, TestRun};
use patchbay_secrets::KeyLease;
use patchbay_store::{Account, AccountWrite, NewAudit, SealedSecret};
use rand::RngCore;
use serde_json::{json, Value};

use super::accounts::{account_id, account_not_found, draft, shown, Fields};
use super::common::{etag, if_match};
use super::form_test;
use crate::auth::{Principal, Role};
use crate::body::{typed, Input, JsonBytes};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, TestSlot};

fn timeout(state: &AppState, query: &TestOptions) -> ApiResult<Duration> {
    let range = TestOptions::TIMEOUT_MS;
    match query.timeout_ms {
        None => Ok(state.outbound.egress.policy().timeout),
        Some(ms) if range.contains(&ms) => Ok(Duration::from_millis(ms)),
        Some(_) => Err(ApiError::invalid(
            "timeout_ms",
            "range",
            format!("timeout_ms must be between {} and {}", range.start(), range.end()),
        )),
    }
}

fn saved_config(keys: &KeyLease, account: &Account) -> ApiResult<AccountConfig> {
    Ok(AccountConfig {
        id: Some(account.id.to_string()),
        type_key: account.type_key.clone(),
        provider: account.provider.clone(),
        name: account.name.clone(),
        properties: account.properties.clone(),
        secrets: keys.open(account)?,
    })
}

/// A slot for one connection test or action of `tenant` (see `TestSlots`), or 429 with
/// `Retry-After`: a slot is held at most about one outbound timeout.
fn slot(state: &AppState, tenant: &str, timeout: Duration) -> ApiResult<TestSlot> {
    state.outbound.slots.try_take(tenant).ok_or_else(|| ApiError::TooManyRequests {
        detail: "too many connection tests and actions are running (for this tenant or in all); retry shortly"
            .to_owned(),
        retry_after: timeout.as_secs_f64().ceil().max(1.0) as u64,
    })
}

/// A refusal of the egress policy worded for `who`: the `--egress-allow` flag is advice
/// for the service provider's operators; a tenant's users are told to ask their provider
/// ([`egress::for_tenants`]).
pub(super) fn worded_for(who: &Principal, text: &mut String) {
    if who.role != Role::SpAdmin {
        *text = egress::for_tenants(std::mem::take(text));
    }
}

/// A test's report worded for who ran it (see [`worded_for`]), to answer them.
fn report_for(who: &Principal, report: TestReport) -> TestReport {
    if who.role == Role::SpAdmin {
        report
    } else {
        kept(report)
    }
}

/// A test's report as it is kept, worded for the tenant's users ([`egress::for_tenants`]).
fn kept(mut report: TestReport) -> TestReport {
    report.message = egress::for_tenants(report.message);
    for step in &mut report.steps {
        step.detail = egress::for_tenants(std::mem::take(&mut step.detail));
    }
    report
}

async fn run_test(state: &AppState, tenant: &str, config: &AccountConfig, timeout: Duration) -> TestReport {
    let out = &state.outbound;
    let report = match state.catalog.provider(&config.type_key, &config.provider).map(|p| &p.test) {
        Some(TestSupport::None { reason }) => TestRun::unsupported(reason),
        _ => {
            let cx = Context {
                egress: &out.egress,
                account: config,
                timeout,
                public_url: out.public_url.as_ref(),
                hook_id: None,
                tenant: Some(tenant),
                vendors: &out.vendors,
            };
            out.connectors.test(&cx).await
        }
    };
    let outcome = match (&report.status, &report.category) {
        (_, Some(category)) => serde_json::to_value(category),
        (status, None) => serde_json::to_value(status),
    };
    let outcome = outcome.ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "unknown".into());
    state.metrics.record_test(&config.type_key, &config.provider, &outcome);
    report
}

fn report_json(report: &TestReport) -> ApiResult<Value> {
    serde_json::to_value(report).map_err(|e| ApiError::Internal(e.to_string()))
}

/// `POST …/integration-accounts/{id}/test`: tests the saved account and keeps the result.
pub async fn test_saved(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Query(query): Query<TestOptions>,
) -> ApiResult<Json<TestReport>> {
    let timeout = timeout(&state, &query)?;
    let keys = state.keys.lease().await;
    let account = state.store.get_account(&tenant, account_id(&id)?).await.map_err(account_not_found)?;
    let config = saved_config(&keys, &account)?;
    drop(keys);
    let _slot = slot(&state, &tenant, timeout)?;
    let report = run_test(&state, &tenant, &config, timeout).await;
    state.store.record_test_result(&tenant, account.id, &report_json(&kept(report.clone()))?, &who.actor()).await?;
    Ok(Json(report_for(&who, report)))
}

/// `POST …/integration-accounts/test`: tests an unsaved body (the create shape, plus an
/// optional `id` whose stored secrets fill in the secrets the body omits). Saves nothing
/// but the audit entry.
pub async fn test_unsaved(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Query(query): Query<TestOptions>,
    Input(body): Input<AccountTest>,
) -> ApiResult<Response> {
    let timeout = timeout(&state, &query)?;
    let keys = state.keys.lease().await;
    let stored = match body.id {
        Some(id) => Some(state.store.get_account(&tenant, id).await.map_err(account_not_found)?),
        None => None,
    };
    let mut fields = Fields::from(&body);
    if fields.name.is_none() && stored.is_none() {
        fields.name = Some("Unsaved account");
    }
    let draft = draft(&state, &tenant, &fields, stored.as_ref()).await?;
    let secrets = keys.values_after(&draft.secrets(), stored.as_ref())?;
    drop(keys);
    let config = AccountConfig {
        id: stored.as_ref().map(|a| a.id.to_string()),
        type_key: draft.type_key.clone(),
        provider: draft.provider.key.to_owned(),
        name: draft.name.clone(),
        properties: draft.validated.properties.clone(),
        secrets,
    };
    let owner = stored.map(|a| a.id);
    let slot = slot(&state, &tenant, timeout)?;
    let report = run_test(&state, &tenant, &config, timeout).await;
    drop(slot);
    let stored = kept(report.clone());
    state
        .store
        .append_audit(&NewAudit {
            tenant_id: tenant.clone(),
            account_id: owner,
            actor: who.actor(),
            action: "test.unsaved".into(),
            changes: json!({
                "type": config.type_key,
                "provider": config.provider,
                "status": stored.status,
                "category": stored.category,
                "message": stored.message,
            }),
        })
        .await?;
    let values = form_test::Values {
        type_key: &config.type_key,
        provider: &config.provider,
        properties: &config.properties,
        secrets: &config.secrets,
    };
    let tested = form_test::seal(&state.keys.lease().await, &tenant, owner, &values, &stored);
    Ok(([(form_test::TESTED_HEADER, tested)], Json(report_for(&who, report))).into_response())
}

/// `POST …/integration-accounts/tests`: tests every enabled account of the tenant at once,
/// a bounded number at a time, keeping each result.
pub async fn test_all(
    State(state): State<AppState>,
    who: Principal,
    Path(tenant): Path<String>,
    Query(query): Query<TestOptions>,
) -> ApiResult<Json<BulkTestReport>> {
    let timeout = timeout(&state, &query)?;
    state.store.get_tenant(&tenant).await.map_err(super::tenants::not_found)?;
    let keys = state.keys.lease().await;
    let accounts = state.store.list_accounts(&tenant, None).await?;
    let mut configs = Vec::new();
    for account in accounts.iter().filter(|a| a.enabled) {
        configs.push((account.clone(), saved_config(&keys, account)?));
    }
    drop(keys);
    drop(slot(&state, &tenant, timeout)?);
    let actor = who.actor();
    let (state_ref, who) = (&state, &who);
    let items: Vec<ApiResult<BulkTestItem>> = futures::stream::iter(configs)
        .map(|(account, config)| {
            let actor = &actor;
            async move {
                let slot = state_ref.outbound.slots.take(&account.tenant_id).await;
                let report = run_test(state_ref, &account.tenant_id, &config, timeout).await;
                drop(slot);
                state_ref
                    .store
                    .record_test_result(&account.tenant_id, account.id, &report_json(&kept(report.clone()))?, actor)
                    .await?;
                Ok(BulkTestItem {
                    id: account.id,
                    name: account.name.clone(),
                    type_key: account.type_key.clone(),
                    provider: account.provider.clone(),
                    report: report_for(who, report),
                })
            }
        })
        .buffer_unordered(state.outbound.test_concurrency)
        .collect()
        .await;
    let mut items = items.into_iter().collect::<ApiResult<Vec<_>>>()?;
    items.sort_by(|a, b| (&a.type_key, &a.name).cmp(&(&b.type_key, &b.name)));
    Ok(Json(BulkTestReport { items }))
}

/// `POST …/integration-accounts/{id}/actions/{action}` with `{"params": {...}}`.
pub async fn action(
    State(state): State<AppState>,
    who: Principal,
    Path((tenant, id, action)): Path<(String, String, String)>,
    Query(query): Query<TestOptions>,
    headers: axum::http::HeaderMap,
    JsonBytes(bytes): JsonBytes,
) -> ApiResult<Response> {
    let timeout = timeout(&state, &query)?;
    let keys = state.keys.lease().await;
    let account = state.store.get_account(&tenant, account_id(&id)?).await.map_err(account_not_found)?;
    let provider = state
        .catalog
        .provider(&account.type_key, &account.provider)
        .ok_or_else(|| ApiError::Internal("a stored account's provider is not in the catalog".into()))?;
    let declared = provider.action(&action).ok_or_else(|| {
        let known: Vec<&str> = provider.actions.iter().map(|a| a.key).collect();
        ApiError::invalid(
            "action",
            "unknown_action",
            if known.is_empty() {
                format!("{} has no actions", provider.label)
            } else {
                format!("`{action}` is not an action of {}; actions: {}", provider.label, known.join(", "))
            },
        )
    })?;
    let request = if bytes.is_empty() { ActionRequest::default() } else { typed::<ActionRequest>(&bytes)? };
    let params = request.params.unwrap_or_default();
    let params = state.catalog.validate_action_params(declared, &params).map_err(|errors| {
        ApiError::Validation(
            errors
                .into_iter()
                .map(|mut e| {
                    e.field = format!("params.{}", e.field);
                    e
                })
                .collect(),
        )
    })?;
    if action == "generate_token" {
        return generate_token(&state, &keys, &who, account, if_match(&headers)?).await;
    }
    let config = saved_config(&keys, &account)?;
    drop(keys);
    let hook = match provider.inbound {
        Some(_) => state.edge.hooks(&tenant, &[account.id]).await?.pop().map(|h| h.hook_id),
        None => None,
    };
    let slot = slot(&state, &tenant, timeout)?;
    let out = &state.outbound;
    let cx = Context {
        egress: &out.egress,
        account: &config,
        timeout,
        public_url: out.public_url.as_ref(),
        hook_id: hook.as_deref(),
        tenant: Some(&tenant),
        vendors: &out.vendors,
    };
    let result = out.connectors.action(&cx, &action, &params).await;
    drop(slot);
    let (response, audit) = match result {
        Ok(outcome) => {
            let audit = json!({"status": "ok", "message": outcome.message, "params": params});
            ((StatusCode::OK, Json(outcome)).into_response(), audit)
        }
        Err((mut failure, mut steps)) => {
            let kept_message = egress::for_tenants(failure.message.clone());
            worded_for(&who, &mut failure.message);
            for step in &mut steps {
                worded_for(&who, &mut step.detail);
            }
            let audit =
                json!({"status": "failed", "category": failure.category, "message": kept_message, "params": params});
            let body =
                ActionFailure { status: Failed::Failed, category: failure.category, message: failure.message, steps };
            ((StatusCode::BAD_GATEWAY, Json(body)).into_response(), audit)
        }
    };
    state
        .store
        .append_audit(&NewAudit {
            tenant_id: tenant,
            account_id: Some(account.id),
            actor: who.actor(),
            action: format!("action.{action}"),
            changes: audit,
        })
        .await?;
    Ok(response)
}

/// Generate random token (Facebook webhook verify token): 32 random bytes, stored sealed,
/// returned once.
async fn generate_token(
    state: &AppState,
    keys: &KeyLease,
    who: &Principal,
    account: Account,
    expected: Option<i64>,
) -> ApiResult<Response> {
    const FIELD: &str = "webhook_verify_token";
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let mut secrets: Vec<SealedSecret> = account.secrets.iter().filter(|s| s.field != FIELD).cloned().collect();
    keys.reseal_kept(&account.tenant_id, account.id, &mut secrets);
    secrets.push(keys.seal(&account.tenant_id, account.id, FIELD, &token));
    let write = AccountWrite {
        type_key: account.type_key.clone(),
        provider: account.provider.clone(),
        name: account.name.clone(),
        enabled: account.enabled,
        properties: account.properties.clone(),
        secrets,
        singleton_key: account.singleton_key.clone(),
        default_key: account.default_key.clone(),
        last_test: patchbay_store::LastTestWrite::Keep,
    };
    let was_set = account.secrets.iter().any(|s| s.field == FIELD);
    let changes = json!({
        format!("secrets.{FIELD}"): if was_set { "replaced" } else { "set" },
        "action": "generate_token",
    });
    let updated = state
        .store
        .update_account(
            &account.tenant_id,
            account.id,
            &write,
            Some(expected.unwrap_or(account.version)),
            &who.actor(),
            &changes,
        )
        .await?;
    let body = ActionResult {
        message: "A new webhook verify token was generated and saved. Copy it now: it is shown only once.".into(),
        token: Some(token),
        account: Some(Box::new(shown(state, &updated).await?)),
        ..ActionResult::default()
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response.headers_mut().insert(header::ETAG, etag(updated.version));
    Ok(response)
}
