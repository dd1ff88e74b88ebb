//! Transcripts of recordings: one per recording, `running` while a node streams its audio
//! through a Speech To Text account (with a heartbeat, so a dead node's run can be started
//! again), then `done` or `failed`. The utterances are JSON the server owns; their text,
//! joined, is indexed for full-text search (FTS5 on SQLite, a `tsvector` on PostgreSQL),
//! which `search_recordings` uses for `RecordingQuery::words`.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::sql::{json_text, now, parse_json, parse_uuid, write_err, Pools};
use crate::{Conflict, Result, SqlStore, StoreError, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptState {
    Running,
    Done,
    Failed,
}

impl TranscriptState {
    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptState::Running => "running",
            TranscriptState::Done => "done",
            TranscriptState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<TranscriptState> {
        match text {
            "running" => Ok(TranscriptState::Running),
            "done" => Ok(TranscriptState::Done),
            "failed" => Ok(TranscriptState::Failed),
            other => Err(StoreError::Corrupt(format!("recording_transcripts.state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub tenant_id: String,
    pub recording_id: String,
    pub state: TranscriptState,
    /// The Speech To Text account, once one was picked.
    pub account_id: Option<Uuid>,
    /// The NLU account that gave the utterances' sentiment.
    pub sentiment_account_id: Option<Uuid>,
    pub utterances: serde_json::Value,
    pub error_category: Option<String>,
    pub error: Option<String>,
    /// Why some or all utterances have no sentiment.
    pub sentiment_error: Option<String>,
    pub requested_by: String,
    pub node: String,
    pub started_at: Timestamp,
    pub heartbeat_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptOutcome {
    /// `Done` or `Failed`.
    pub state: TranscriptState,
    pub account_id: Option<Uuid>,
    pub sentiment_account_id: Option<Uuid>,
    pub utterances: serde_json::Value,
    /// The utterances' text, for search.
    pub text: String,
    pub error_category: Option<String>,
    pub error: Option<String>,
    pub sentiment_error: Option<String>,
}

/// How a tenant's new recordings are transcribed on arrival.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoTranscription {
    pub enabled: bool,
    /// Only recordings of these services; empty: every service.
    pub services: Vec<String>,
    /// The Speech To Text account; `None`: the tenant's default one.
    pub account_id: Option<Uuid>,
    pub model: Option<String>,
}

#[async_trait]
pub trait TranscriptStore: Send + Sync + 'static {
    /// Starts the recording's transcript as `running` on `node`, replacing a finished one;
    /// `Conflict::TranscriptRunning` while another run's heartbeat is younger than `expiry`.
    async fn start_transcript(
        &self,
        tenant: &str,
        recording_id: &str,
        requested_by: &str,
        node: &str,
        expiry: Duration,
    ) -> Result<Transcript>;
    /// Beats the heartbeat of `node`'s run; `StoreError::NotFound` once the run is not its
    /// own (another node took it over, or the recording went).
    async fn beat_transcript(&self, tenant: &str, recording_id: &str, node: &str) -> Result<()>;
    /// Ends `node`'s run; `StoreError::NotFound` once the run is not its own.
    async fn finish_transcript(
        &self,
        tenant: &str,
        recording_id: &str,
        node: &str,
        outcome: &TranscriptOutcome,
    ) -> Result<Transcript>;
    async fn get_transcript(&self, tenant: &str, recording_id: &str) -> Result<Transcript>;
    /// The tenant's automatic transcription (off when never set).
    async fn auto_transcription(&self, tenant: &str) -> Result<AutoTranscription>;
    /// Every tenant whose automatic transcription is on, with it and since when it is as it is.
    async fn auto_transcriptions(&self) -> Result<Vec<(String, AutoTranscription, Timestamp)>>;
    /// Replaces it, audited as `recordings.transcription.update`.
    async fn set_auto_transcription(&self, tenant: &str, settings: &AutoTranscription, actor: &str) -> Result<()>;
}

#[derive(sqlx::FromRow)]
struct TranscriptRow {
    tenant_id: String,
    recording_id: String,
    state: String,
    account_id: Option<String>,
    sentiment_account_id: Option<String>,
    utterances: String,
    error_category: Option<String>,
    error: Option<String>,
    sentiment_error: Option<String>,
    requested_by: String,
    node: String,
    started_at: Timestamp,
    heartbeat_at: Timestamp,
    finished_at: Option<Timestamp>,
}

const COLUMNS: &str = "tenant_id, recording_id, state, account_id, sentiment_account_id, utterances, error_category, \
                       error, sentiment_error, requested_by, node, started_at, heartbeat_at, finished_at";

fn transcript(row: TranscriptRow) -> Result<Transcript> {
    let uuid = |column, value: Option<String>| value.map(|v| parse_uuid(column, &v)).transpose();
    Ok(Transcript {
        state: TranscriptState::parse(&row.state)?,
        account_id: uuid("recording_transcripts.account_id", row.account_id)?,
        sentiment_account_id: uuid("recording_transcripts.sentiment_account_id", row.sentiment_account_id)?,
        utterances: parse_json("recording_transcripts.utterances", &row.utterances)?,
        tenant_id: row.tenant_id,
        recording_id: row.recording_id,
        error_category: row.error_category,
        error: row.error,
        sentiment_error: row.sentiment_error,
        requested_by: row.requested_by,
        node: row.node,
        started_at: row.started_at,
        heartbeat_at: row.heartbeat_at,
        finished_at: row.finished_at,
    })
}

#[async_trait]
impl TranscriptStore for SqlStore {
    async fn start_transcript(
        &self,
        tenant: &str,
        recording_id: &str,
        requested_by: &str,
        node: &str,
        expiry: Duration,
    ) -> Result<Transcript> {
        let now = now();
        let stale = now - chrono::Duration::from_std(expiry).unwrap_or_else(|_| chrono::Duration::minutes(2));
        let started = in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO recording_transcripts (tenant_id, recording_id, state, utterances, text, requested_by, \
                 node, started_at, heartbeat_at) VALUES ($1, $2, 'running', '[]', '', $3, $4, $5, $5) \
                 ON CONFLICT (tenant_id, recording_id) DO UPDATE SET state = 'running', account_id = NULL, \
                 sentiment_account_id = NULL, utterances = '[]', text = '', error_category = NULL, error = NULL, \
                 sentiment_error = NULL, requested_by = excluded.requested_by, node = excluded.node, \
                 started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, finished_at = NULL \
                 WHERE recording_transcripts.state <> 'running' OR recording_transcripts.heartbeat_at < $6",
            )
            .bind(tenant)
            .bind(recording_id)
            .bind(requested_by)
            .bind(node)
            .bind(now)
            .bind(stale)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?
            .rows_affected()
        });
        if started == 0 {
            return Err(StoreError::Conflict(Conflict::TranscriptRunning));
        }
        self.get_transcript(tenant, recording_id).await
    }

    async fn beat_transcript(&self, tenant: &str, recording_id: &str, node: &str) -> Result<()> {
        let now = now();
        let beaten = in_write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE recording_transcripts SET heartbeat_at = $4 \
                 WHERE tenant_id = $1 AND recording_id = $2 AND node = $3 AND state = 'running'",
            )
            .bind(tenant)
            .bind(recording_id)
            .bind(node)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        if beaten == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn finish_transcript(
        &self,
        tenant: &str,
        recording_id: &str,
        node: &str,
        outcome: &TranscriptOutcome,
    ) -> Result<Transcript> {
        let now = now();
        let utterances = outcome.utterances.to_string();
        let finished = in_write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE recording_transcripts SET state = $4, account_id = $5, sentiment_account_id = $6, \
                 utterances = $7, text = $8, error_category = $9, error = $10, sentiment_error = $11, \
                 heartbeat_at = $12, finished_at = $12 \
                 WHERE tenant_id = $1 AND recording_id = $2 AND node = $3 AND state = 'running'",
            )
            .bind(tenant)
            .bind(recording_id)
            .bind(node)
            .bind(outcome.state.as_str())
            .bind(outcome.account_id.map(|id| id.to_string()))
            .bind(outcome.sentiment_account_id.map(|id| id.to_string()))
            .bind(&utterances)
            .bind(&outcome.text)
            .bind(&outcome.error_category)
            .bind(&outcome.error)
            .bind(&outcome.sentiment_error)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        if finished == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_transcript(tenant, recording_id).await
    }

    async fn get_transcript(&self, tenant: &str, recording_id: &str) -> Result<Transcript> {
        let row: Option<TranscriptRow> = with_reader!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM recording_transcripts WHERE tenant_id = $1 AND recording_id = $2"
            ))
            .bind(tenant)
            .bind(recording_id)
            .fetch_optional(pool)
            .await?
        });
        transcript(row.ok_or(StoreError::NotFound)?)
    }

    async fn auto_transcription(&self, tenant: &str) -> Result<AutoTranscription> {
        let row: Option<(bool, String, Option<String>, Option<String>)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT enabled, services, account_id, model FROM recording_transcription WHERE tenant_id = $1",
            )
            .bind(tenant)
            .fetch_optional(pool)
            .await?
        });
        let Some((enabled, services, account_id, model)) = row else { return Ok(AutoTranscription::default()) };
        auto_of(enabled, &services, account_id, model)
    }

    async fn auto_transcriptions(&self) -> Result<Vec<(String, AutoTranscription, Timestamp)>> {
        let rows: Vec<(String, String, Option<String>, Option<String>, Timestamp)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT tenant_id, services, account_id, model, updated_at FROM recording_transcription \
                 WHERE enabled ORDER BY tenant_id",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(tenant, services, account_id, model, since)| {
                Ok((tenant, auto_of(true, &services, account_id, model)?, since))
            })
            .collect()
    }

    async fn set_auto_transcription(&self, tenant: &str, settings: &AutoTranscription, actor: &str) -> Result<()> {
        let now = now();
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO recording_transcription (tenant_id, enabled, services, account_id, model, updated_at, \
                 updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id) DO UPDATE SET \
                 enabled = excluded.enabled, services = excluded.services, account_id = excluded.account_id, \
                 model = excluded.model, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )
            .bind(tenant)
            .bind(settings.enabled)
            .bind(json_text(&settings.services))
            .bind(settings.account_id.map(|id| id.to_string()))
            .bind(&settings.model)
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            insert_audit!(
                &mut *tx,
                tenant,
                None::<&str>,
                actor,
                "recordings.transcription.update",
                auto_changes(settings),
                now
            );
        });
        Ok(())
    }
}

fn auto_of(
    enabled: bool,
    services: &str,
    account_id: Option<String>,
    model: Option<String>,
) -> Result<AutoTranscription> {
    Ok(AutoTranscription {
        enabled,
        services: parse_json("recording_transcription.services", services)?,
        account_id: account_id.map(|id| parse_uuid("recording_transcription.account_id", &id)).transpose()?,
        model,
    })
}

fn auto_changes(settings: &AutoTranscription) -> serde_json::Value {
    serde_json::json!({"enabled": settings.enabled, "services": settings.services,
        "account_id": settings.account_id, "model": settings.model})
}

/// The condition a recording search adds for its words: the recording's transcript holds
/// every word (as a prefix), in the backend's full-text index. `$n` is the parameter that
/// takes [`fulltext_query`]'s value.
pub(crate) fn transcript_condition(pools: &Pools, n: usize) -> String {
    match pools {
        Pools::Sqlite { .. } => format!(
            "EXISTS (SELECT 1 FROM recording_transcripts_fts f JOIN recording_transcripts t ON t.rowid = f.rowid \
             WHERE recording_transcripts_fts MATCH ${n} AND t.tenant_id = recordings.tenant_id \
             AND t.recording_id = recordings.id)"
        ),
        Pools::Postgres(_) => format!(
            "EXISTS (SELECT 1 FROM recording_transcripts t WHERE t.tenant_id = recordings.tenant_id \
             AND t.recording_id = recordings.id AND t.search @@ to_tsquery('simple', ${n}))"
        ),
    }
}
