//! The runtime gateway's state: daily quota counters and usage per account, the live health
//! of gateway traffic, which chat bot serves which service or launch point, and the kept
//! contexts of stateless bot conversations. Not cached: counters change with every call.
//!
//! Quota units are reserved by one conditional upsert per call, so parallel callers and
//! several nodes on one PostgreSQL cannot take more units than the limit: the row lock of
//! the upsert orders them, and its `WHERE` sees the count the previous one committed.
//! Outcomes and reservations come in batches, each batch one transaction, so a busy SQLite
//! syncs its log once per batch rather than twice per call.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use uuid::Uuid;

use crate::sql::{now, parse_json, parse_uuid, write_err, Pools};
use crate::{Result, SqlStore, StoreError, Timestamp};

/// Where a binding points a chat bot account at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BindingKind {
    /// The suggestion engine of a service.
    Service,
    /// The chat bot of a chat service launch point.
    LaunchPoint,
}

impl BindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BindingKind::Service => "service",
            BindingKind::LaunchPoint => "launch_point",
        }
    }

    fn parse(text: &str) -> Result<BindingKind> {
        match text {
            "service" => Ok(BindingKind::Service),
            "launch_point" => Ok(BindingKind::LaunchPoint),
            other => Err(StoreError::Corrupt(format!("gateway_bindings.kind {other:?}"))),
        }
    }
}

/// One binding of a service or launch point to an account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Binding {
    pub kind: BindingKind,
    pub name: String,
    pub account_id: Uuid,
}

/// One unit to reserve: a call of `account` on `day` (the tenant's calendar day) under a
/// daily `limit` (at least 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRequest {
    pub tenant: String,
    pub account: Uuid,
    pub day: NaiveDate,
    pub limit: i64,
}

/// The answer to a [`UnitRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// The unit is the account's `used`-th of the day.
    Granted { used: i64 },
    /// The day's units are all taken.
    Exhausted,
}

/// How a gateway call ended, for usage and live health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    pub tenant: String,
    pub account: Uuid,
    /// The day the call counts on (the day its unit was reserved on, when it had one).
    pub day: NaiveDate,
    /// Whether a unit was reserved for the call (`calls` already counts it).
    pub reserved: bool,
    /// Whether the call counts: `false` for a call that never reached the vendor (its
    /// reserved unit, if any, is given back).
    pub counts: bool,
    /// The failure's category and message, when it failed.
    pub error: Option<(String, String)>,
    pub at: Timestamp,
}

/// One day of an account's gateway usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDay {
    pub day: NaiveDate,
    pub calls: i64,
    pub errors: i64,
}

/// The last success and the last error of an account's gateway traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveHealth {
    pub last_ok_at: Option<Timestamp>,
    pub last_error_at: Option<Timestamp>,
    /// The last error's category and message.
    pub last_error: Option<(String, String)>,
}

/// The gateway's persistence. Every call takes the tenant and filters by it.
#[async_trait]
pub trait GatewayStore: Send + Sync + 'static {
    /// Records how calls ended (giving back the units of calls that do not count), then
    /// reserves one unit per request, all in one transaction; answers the reservations in
    /// order.
    async fn write_ledger(&self, outcomes: &[CallOutcome], requests: &[UnitRequest]) -> Result<Vec<Reserved>>;
    /// The account's usage from `from` to `to` (inclusive), days without calls left out.
    async fn usage(&self, tenant: &str, account: Uuid, from: NaiveDate, to: NaiveDate) -> Result<Vec<UsageDay>>;
    /// The last success and error of the gateway traffic of each of the tenant's accounts
    /// that had some (only `account`'s when given).
    async fn live_health(&self, tenant: &str, account: Option<Uuid>) -> Result<HashMap<Uuid, LiveHealth>>;

    /// The tenant's bindings, by kind then name.
    async fn bindings(&self, tenant: &str) -> Result<Vec<Binding>>;
    /// Replaces the tenant's bindings and audits the change. An account that is not the
    /// tenant's is `NotFound`.
    async fn replace_bindings(&self, tenant: &str, bindings: &[Binding], actor: &str) -> Result<()>;

    /// The kept context of a conversation, unless it expired by `now`.
    async fn conversation_context(
        &self,
        tenant: &str,
        account: Uuid,
        conversation: &str,
        now: Timestamp,
    ) -> Result<Option<serde_json::Value>>;
    /// Keeps a conversation's context until `expires_at`; drops the account's expired ones.
    async fn keep_conversation_context(
        &self,
        tenant: &str,
        account: Uuid,
        conversation: &str,
        context: &serde_json::Value,
        expires_at: Timestamp,
    ) -> Result<()>;
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn parse_day(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| StoreError::Corrupt(format!("gateway_usage.day {text:?}")))
}

#[async_trait]
impl GatewayStore for SqlStore {
    async fn write_ledger(&self, outcomes: &[CallOutcome], requests: &[UnitRequest]) -> Result<Vec<Reserved>> {
        if outcomes.is_empty() && requests.is_empty() {
            return Ok(Vec::new());
        }
        let answers = in_write_tx!(self, |tx| {
            for outcome in outcomes {
                let calls: i64 = match (outcome.reserved, outcome.counts) {
                    (true, true) | (false, false) => 0,
                    (true, false) => -1,
                    (false, true) => 1,
                };
                let errors = i64::from(outcome.error.is_some());
                let ok_at = outcome.error.is_none().then_some(outcome.at);
                let error_at = outcome.error.is_some().then_some(outcome.at);
                let (category, message) = match &outcome.error {
                    Some((category, message)) => (Some(category.as_str()), Some(message.as_str())),
                    None => (None, None),
                };
                sqlx::query(
                    "INSERT INTO gateway_usage (tenant_id, account_id, day, calls, errors, last_ok_at, \
                     last_error_at, last_error_category, last_error) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (account_id, day) DO UPDATE SET \
                     calls = gateway_usage.calls + excluded.calls, \
                     errors = gateway_usage.errors + excluded.errors, \
                     last_ok_at = COALESCE(excluded.last_ok_at, gateway_usage.last_ok_at), \
                     last_error_at = COALESCE(excluded.last_error_at, gateway_usage.last_error_at), \
                     last_error_category = COALESCE(excluded.last_error_category, gateway_usage.last_error_category), \
                     last_error = COALESCE(excluded.last_error, gateway_usage.last_error)",
                )
                .bind(&outcome.tenant)
                .bind(outcome.account.to_string())
                .bind(day_text(outcome.day))
                .bind(calls.max(0))
                .bind(errors)
                .bind(ok_at)
                .bind(error_at)
                .bind(category)
                .bind(message)
                .execute(&mut *tx)
                .await
                .map_err(write_err)?;
                if calls < 0 {
                    sqlx::query(
                        "UPDATE gateway_usage SET calls = calls - 1 \
                         WHERE tenant_id = $1 AND account_id = $2 AND day = $3 AND calls > 0",
                    )
                    .bind(&outcome.tenant)
                    .bind(outcome.account.to_string())
                    .bind(day_text(outcome.day))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let mut answers = Vec::with_capacity(requests.len());
            for request in requests {
                let used: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO gateway_usage (tenant_id, account_id, day, calls, errors) \
                     VALUES ($1, $2, $3, 1, 0) \
                     ON CONFLICT (account_id, day) DO UPDATE SET calls = gateway_usage.calls + 1 \
                     WHERE gateway_usage.calls < $4 \
                     RETURNING calls",
                )
                .bind(&request.tenant)
                .bind(request.account.to_string())
                .bind(day_text(request.day))
                .bind(request.limit)
                .fetch_optional(&mut *tx)
                .await
                .map_err(write_err)?;
                answers.push(used.map_or(Reserved::Exhausted, |used| Reserved::Granted { used }));
            }
            answers
        });
        Ok(answers)
    }

    async fn usage(&self, tenant: &str, account: Uuid, from: NaiveDate, to: NaiveDate) -> Result<Vec<UsageDay>> {
        let rows: Vec<(String, i64, i64)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT day, calls, errors FROM gateway_usage \
                 WHERE tenant_id = $1 AND account_id = $2 AND day >= $3 AND day <= $4 ORDER BY day",
            )
            .bind(tenant)
            .bind(account.to_string())
            .bind(day_text(from))
            .bind(day_text(to))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(|(day, calls, errors)| Ok(UsageDay { day: parse_day(&day)?, calls, errors })).collect()
    }

    async fn live_health(&self, tenant: &str, account: Option<Uuid>) -> Result<HashMap<Uuid, LiveHealth>> {
        type Latest = (String, Option<Timestamp>, Option<Timestamp>);
        type LastError = (String, Timestamp, Option<String>, Option<String>);
        let account = account.map(|a| a.to_string());
        let (latest, errors): (Vec<Latest>, Vec<LastError>) = with_reader!(self, |pool| {
            let latest = sqlx::query_as(
                "SELECT account_id, MAX(last_ok_at), MAX(last_error_at) FROM gateway_usage \
                 WHERE tenant_id = $1 AND ($2 IS NULL OR account_id = $2) GROUP BY account_id",
            )
            .bind(tenant)
            .bind(&account)
            .fetch_all(pool)
            .await?;
            let errors = sqlx::query_as(
                "SELECT u.account_id, u.last_error_at, u.last_error_category, u.last_error FROM gateway_usage u \
                 WHERE u.tenant_id = $1 AND ($2 IS NULL OR u.account_id = $2) AND u.last_error_at = \
                 (SELECT MAX(v.last_error_at) FROM gateway_usage v WHERE v.account_id = u.account_id)",
            )
            .bind(tenant)
            .bind(&account)
            .fetch_all(pool)
            .await?;
            (latest, errors)
        });
        let mut health = HashMap::new();
        for (id, last_ok_at, last_error_at) in latest {
            let id = parse_uuid("gateway_usage.account_id", &id)?;
            health.insert(id, LiveHealth { last_ok_at, last_error_at, last_error: None });
        }
        for (id, _, category, message) in errors {
            let id = parse_uuid("gateway_usage.account_id", &id)?;
            if let (Some(entry), Some(category), Some(message)) = (health.get_mut(&id), category, message) {
                entry.last_error = Some((category, message));
            }
        }
        Ok(health)
    }

    async fn bindings(&self, tenant: &str) -> Result<Vec<Binding>> {
        let rows: Vec<(String, String, String)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT kind, name, account_id FROM gateway_bindings WHERE tenant_id = $1 ORDER BY kind, name",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(kind, name, account)| {
                Ok(Binding {
                    kind: BindingKind::parse(&kind)?,
                    name,
                    account_id: parse_uuid("gateway_bindings.account_id", &account)?,
                })
            })
            .collect()
    }

    async fn replace_bindings(&self, tenant: &str, bindings: &[Binding], actor: &str) -> Result<()> {
        let now = now();
        let changes = serde_json::json!({
            "services": bindings_of(bindings, BindingKind::Service),
            "launch_points": bindings_of(bindings, BindingKind::LaunchPoint),
        });
        in_write_tx!(self, |tx| {
            sqlx::query("DELETE FROM gateway_bindings WHERE tenant_id = $1").bind(tenant).execute(&mut *tx).await?;
            for binding in bindings {
                let id = binding.account_id.to_string();
                let owned: Option<String> =
                    sqlx::query_scalar("SELECT id FROM accounts WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(&id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if owned.is_none() {
                    return Err(StoreError::NotFound);
                }
                sqlx::query("INSERT INTO gateway_bindings (tenant_id, kind, name, account_id) VALUES ($1, $2, $3, $4)")
                    .bind(tenant)
                    .bind(binding.kind.as_str())
                    .bind(&binding.name)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err(write_err)?;
            }
            insert_audit!(&mut *tx, tenant, None::<&str>, actor, "gateway.bindings", changes, now);
        });
        Ok(())
    }

    async fn conversation_context(
        &self,
        tenant: &str,
        account: Uuid,
        conversation: &str,
        now: Timestamp,
    ) -> Result<Option<serde_json::Value>> {
        let row: Option<(String, Timestamp)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT context, expires_at FROM gateway_contexts \
                 WHERE tenant_id = $1 AND account_id = $2 AND conversation_id = $3",
            )
            .bind(tenant)
            .bind(account.to_string())
            .bind(conversation)
            .fetch_optional(pool)
            .await?
        });
        match row {
            Some((context, expires_at)) if expires_at > now => {
                Ok(Some(parse_json("gateway_contexts.context", &context)?))
            }
            _ => Ok(None),
        }
    }

    async fn keep_conversation_context(
        &self,
        tenant: &str,
        account: Uuid,
        conversation: &str,
        context: &serde_json::Value,
        expires_at: Timestamp,
    ) -> Result<()> {
        let id = account.to_string();
        in_write_tx!(self, |tx| {
            sqlx::query("DELETE FROM gateway_contexts WHERE tenant_id = $1 AND account_id = $2 AND expires_at <= $3")
                .bind(tenant)
                .bind(&id)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO gateway_contexts (tenant_id, account_id, conversation_id, context, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (account_id, conversation_id) DO UPDATE SET context = excluded.context, \
                 expires_at = excluded.expires_at",
            )
            .bind(tenant)
            .bind(&id)
            .bind(conversation)
            .bind(context.to_string())
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        });
        Ok(())
    }
}

/// The names of `kind` bound, with their accounts, for the audit entry.
fn bindings_of(bindings: &[Binding], kind: BindingKind) -> serde_json::Map<String, serde_json::Value> {
    bindings
        .iter()
        .filter(|b| b.kind == kind)
        .map(|b| (b.name.clone(), serde_json::Value::String(b.account_id.to_string())))
        .collect()
}
