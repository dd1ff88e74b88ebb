//! What the API Zapier polls reads beyond the other stores: when each account's health
//! changed, from the connection tests in the audit trail.

use async_trait::async_trait;
use uuid::Uuid;

use crate::sql::{parse_uuid, Pools};
use crate::{Result, SqlStore, StoreError, Timestamp};

/// A connection test whose outcome differs from the account's test before it.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthChange {
    /// The audit entry of the test.
    pub id: i64,
    pub account_id: Uuid,
    /// The account as it is now; `None` once deleted.
    pub account: Option<(String, String, String)>,
    pub report: serde_json::Value,
    pub previous: Option<serde_json::Value>,
    pub at: Timestamp,
}

/// How many of the newest test results are looked through for changes.
const SCANNED_TESTS: i64 = 2000;

#[async_trait]
pub trait ZapierStore: Send + Sync + 'static {
    /// The tenant's newest `limit` health changes (a test whose `status` differs from the
    /// account's previous test, or its first test), newest first, found among its newest
    /// tests.
    async fn health_changes(&self, tenant: &str, limit: usize) -> Result<Vec<HealthChange>>;
}

type ChangeRow = (i64, String, String, Option<String>, Timestamp, Option<String>, Option<String>, Option<String>);

fn json(column: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

#[async_trait]
impl ZapierStore for SqlStore {
    async fn health_changes(&self, tenant: &str, limit: usize) -> Result<Vec<HealthChange>> {
        let rows: Vec<ChangeRow> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT t.id, t.account_id, t.changes, t.previous, t.at, a.name, a.type_key, a.provider FROM ( \
                 SELECT id, account_id, changes, at, \
                 LAG(changes) OVER (PARTITION BY account_id ORDER BY id) AS previous \
                 FROM audit WHERE tenant_id = $1 AND action = 'test' AND account_id IS NOT NULL) t \
                 LEFT JOIN accounts a ON a.id = t.account_id AND a.tenant_id = $1 \
                 ORDER BY t.id DESC LIMIT $2",
            )
            .bind(tenant)
            .bind(SCANNED_TESTS)
            .fetch_all(pool)
            .await?
        });
        let status = |report: &serde_json::Value| report.get("status").cloned();
        let mut changes = Vec::new();
        for (id, account_id, report, previous, at, name, type_key, provider) in rows {
            let report = json("audit.changes", &report)?;
            let previous = previous.as_deref().map(|p| json("audit.changes", p)).transpose()?;
            if previous.as_ref().is_some_and(|p| status(p) == status(&report)) {
                continue;
            }
            let account = match (name, type_key, provider) {
                (Some(name), Some(type_key), Some(provider)) => Some((name, type_key, provider)),
                _ => None,
            };
            changes.push(HealthChange {
                id,
                account_id: parse_uuid("audit.account_id", &account_id)?,
                account,
                report,
                previous,
                at,
            });
            if changes.len() == limit {
                break;
            }
        }
        Ok(changes)
    }
}
