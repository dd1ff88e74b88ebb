//! Recordings, their export jobs, the jobs' runs and where each recording stands with each
//! job: the state that lets an export survive a restart without uploading anything twice
//! or losing anything. Not cached: it is written far more often than accounts are.

use async_trait::async_trait;
use uuid::Uuid;

use crate::sql::{json_text, now, parse_json, parse_uuid, write_err, Pools};
use crate::{Result, SqlStore, StoreError, Timestamp};

/// The metadata of a recording as received (create and replace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingWrite {
    pub id: String,
    pub global_interaction_id: String,
    pub call_started_at: Timestamp,
    pub agent_login: String,
    pub agent_first_name: String,
    pub agent_last_name: String,
    pub customer_phone: String,
    pub direction: String,
    pub service: String,
    pub disposition: String,
    pub flagged: bool,
}

/// Where a recording's audio is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioState {
    /// Metadata only, no audio yet.
    None,
    /// In the data dir.
    Local,
    /// Exported and verified, local copy removed: only in a bucket.
    Removed,
}

impl AudioState {
    pub fn as_str(self) -> &'static str {
        match self {
            AudioState::None => "none",
            AudioState::Local => "local",
            AudioState::Removed => "removed",
        }
    }

    fn parse(text: &str) -> Result<AudioState> {
        match text {
            "none" => Ok(AudioState::None),
            "local" => Ok(AudioState::Local),
            "removed" => Ok(AudioState::Removed),
            other => Err(StoreError::Corrupt(format!("recordings.audio_state {other:?}"))),
        }
    }
}

/// The audio of a recording, as stored in the data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    pub size: i64,
    /// Hex SHA-256 of the bytes received.
    pub sha256: String,
    pub content_type: String,
    /// File name extension used in object keys, e.g. `wav`.
    pub extension: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// Arrival order within the store.
    pub seq: i64,
    pub tenant_id: String,
    pub meta: RecordingWrite,
    pub audio_state: AudioState,
    pub audio: Option<Audio>,
    pub received_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A search over one tenant's recordings, newest call first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingQuery {
    /// Calls started at or after this.
    pub from: Option<Timestamp>,
    /// Calls started before this.
    pub to: Option<Timestamp>,
    pub service: Option<String>,
    pub agent_login: Option<String>,
    pub customer_phone: Option<String>,
    /// `inbound`, `outbound` or `internal`, as stored.
    pub direction: Option<String>,
    /// The order: by call start, then seq; descending (newest first) unless this is set.
    pub oldest_first: bool,
    /// Paging: only recordings after this one (its call start and seq) in the order.
    pub after: Option<(Timestamp, i64)>,
    /// Words the recording's transcript holds, every one (see `search_words`); none: any.
    pub words: Vec<String>,
    pub limit: i64,
}

/// The writable part of an export job. `settings` is the server's JSON form of the job.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportJobWrite {
    pub name: String,
    pub account_id: Uuid,
    pub enabled: bool,
    pub settings: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportJob {
    pub id: Uuid,
    pub tenant_id: String,
    pub name: String,
    pub account_id: Uuid,
    pub enabled: bool,
    pub settings: serde_json::Value,
    pub version: i64,
    /// When the scheduler runs it next (none while disabled).
    pub next_run_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// Every recording of the run exported, metadata file written.
    Succeeded,
    /// Some recordings (or the metadata file) failed; they are retried next run.
    Failed,
    /// The node running it stopped; the next run picks up what it left.
    Interrupted,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> Result<RunState> {
        match text {
            "running" => Ok(RunState::Running),
            "succeeded" => Ok(RunState::Succeeded),
            "failed" => Ok(RunState::Failed),
            "interrupted" => Ok(RunState::Interrupted),
            other => Err(StoreError::Corrupt(format!("recording_export_runs.state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub id: Uuid,
    pub job_id: Uuid,
    pub tenant_id: String,
    /// `schedule`, `manual` or `resume`.
    pub reason: String,
    /// The interrupted run this one continues.
    pub resumed_from: Option<Uuid>,
    pub node: String,
    /// The run takes recordings up to this seq.
    pub upto_seq: i64,
    pub total: i64,
}

/// Counters of a run as it goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunProgress {
    pub exported: i64,
    pub failed: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRun {
    pub id: Uuid,
    pub job_id: Uuid,
    pub tenant_id: String,
    pub reason: String,
    pub resumed_from: Option<Uuid>,
    pub state: RunState,
    pub node: String,
    pub upto_seq: i64,
    pub total: i64,
    pub progress: RunProgress,
    /// Object key of the run's metadata CSV, once written.
    pub metadata_key: Option<String>,
    pub error: Option<String>,
    pub started_at: Timestamp,
    /// The database's time of the owner's last write.
    pub heartbeat_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// The fencing epoch of this attempt: see [`Fence`].
    pub epoch: i64,
}

impl ExportRun {
    /// What the run's owner presents with each of its writes.
    pub fn fence(&self) -> Fence {
        Fence { run_id: self.id, epoch: self.epoch }
    }
}

/// A run attempt's fencing token. Every write a run's owner makes (progress and heartbeat,
/// per-recording export state, multipart upload ids, the finish) carries it and is applied
/// only while the run is still `running` at this epoch; interrupting or taking the run over
/// bumps the epoch, so a stalled owner that wakes up later gets [`StoreError::Fenced`]
/// and must stop without touching the bucket again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    pub run_id: Uuid,
    pub epoch: i64,
}

/// Where one recording stands with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportState {
    /// Started; `upload_id` holds a multipart upload to resume.
    Uploading,
    /// In the bucket, size and checksum verified.
    Success,
    /// Failed; retried by the next run.
    Failed,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Uploading => "uploading",
            ExportState::Success => "success",
            ExportState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<ExportState> {
        match text {
            "uploading" => Ok(ExportState::Uploading),
            "success" => Ok(ExportState::Success),
            "failed" => Ok(ExportState::Failed),
            other => Err(StoreError::Corrupt(format!("recording_exports.state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub tenant_id: String,
    pub recording_id: String,
    pub job_id: Uuid,
    pub account_id: Uuid,
    pub object_key: String,
    pub state: ExportState,
    pub upload_id: Option<String>,
    pub etag: Option<String>,
    pub error: Option<String>,
    /// The kind of failure of a failed export (`patchbay_api::Category` in snake_case), for
    /// advice on what to do; `None` for a failure on this server's side.
    pub category: Option<String>,
    /// Upload attempts so far, this one included.
    pub attempts: i64,
    pub run_id: Uuid,
    pub updated_at: Timestamp,
    /// Where the object was uploaded; `None` for exports recorded before this was kept.
    pub place: Option<ObjectPlace>,
}

/// The bucket an object was uploaded to, so playback finds it after the account's bucket
/// (or endpoint) setting changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPlace {
    pub bucket: String,
    /// The S3-compatible server's URL; `None` for Amazon S3.
    pub endpoint: Option<String>,
    /// The region requests were signed for.
    pub region: String,
}

/// Recordings, export jobs, runs and exports. Implemented by [`SqlStore`] on both backends.
#[async_trait]
pub trait RecordingStore: Send + Sync + 'static {
    /// [`crate::Conflict::RecordingExists`] when the tenant has a recording with this id.
    async fn insert_recording(&self, tenant: &str, write: &RecordingWrite) -> Result<Recording>;
    /// Replaces the metadata of an existing recording.
    async fn update_recording(&self, tenant: &str, write: &RecordingWrite) -> Result<Recording>;
    async fn get_recording(&self, tenant: &str, id: &str) -> Result<Recording>;
    /// Records the audio now in the data dir (state `local`).
    async fn set_recording_audio(&self, tenant: &str, id: &str, audio: &Audio) -> Result<Recording>;
    /// Sets where the audio is, for the run holding `fence` (it removes local copies once
    /// exported): [`StoreError::Fenced`] once that attempt lost the run.
    async fn set_audio_state(&self, fence: Fence, tenant: &str, id: &str, state: AudioState) -> Result<()>;
    async fn search_recordings(&self, tenant: &str, query: &RecordingQuery) -> Result<Vec<Recording>>;
    /// Recordings of the tenant with audio, received in `[since, until)`, with no transcript,
    /// of `service` when given: oldest first, at most `limit`.
    async fn untranscribed_recordings(
        &self,
        tenant: &str,
        service: Option<&str>,
        since: Timestamp,
        until: Timestamp,
        limit: i64,
    ) -> Result<Vec<Recording>>;
    /// The highest recording seq of the tenant (0 when none).
    async fn max_recording_seq(&self, tenant: &str) -> Result<i64>;

    /// `Conflict::NameTaken` when another job of the tenant has the name (ignoring case).
    async fn create_export_job(
        &self,
        tenant: &str,
        id: Uuid,
        write: &ExportJobWrite,
        next_run_at: Option<Timestamp>,
        actor: &str,
    ) -> Result<ExportJob>;
    async fn get_export_job(&self, tenant: &str, id: Uuid) -> Result<ExportJob>;
    /// By name (case-insensitive order).
    async fn list_export_jobs(&self, tenant: &str) -> Result<Vec<ExportJob>>;
    /// Enabled jobs of every tenant whose next run is due at `now`.
    async fn due_export_jobs(&self, now: Timestamp) -> Result<Vec<ExportJob>>;
    async fn jobs_using_account(&self, tenant: &str, account_id: Uuid) -> Result<Vec<ExportJob>>;
    async fn update_export_job(
        &self,
        tenant: &str,
        id: Uuid,
        write: &ExportJobWrite,
        next_run_at: Option<Timestamp>,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<ExportJob>;
    async fn delete_export_job(&self, tenant: &str, id: Uuid, expected_version: Option<i64>, actor: &str)
        -> Result<()>;
    /// Sets when the job runs next (does not bump its version).
    async fn set_next_run(&self, id: Uuid, at: Option<Timestamp>) -> Result<()>;

    /// Starts a run: `Conflict::RunActive` while the job has one running.
    async fn start_run(&self, run: &NewRun) -> Result<ExportRun>;
    /// Saves the counters and beats the run's heartbeat (database time); [`StoreError::Fenced`]
    /// once the attempt lost the run.
    async fn run_progress(&self, fence: Fence, progress: RunProgress) -> Result<()>;
    /// Ends the run; [`StoreError::Fenced`] once the attempt lost the run.
    async fn finish_run(
        &self,
        fence: Fence,
        state: RunState,
        progress: RunProgress,
        metadata_key: Option<&str>,
        error: Option<&str>,
    ) -> Result<ExportRun>;
    async fn get_run(&self, tenant: &str, job_id: Uuid, id: Uuid) -> Result<ExportRun>;
    /// Newest first.
    async fn list_runs(&self, tenant: &str, job_id: Uuid, limit: i64) -> Result<Vec<ExportRun>>;
    /// The tenant's newest `limit` recordings by arrival, newest first.
    async fn recent_recordings(&self, tenant: &str, limit: i64) -> Result<Vec<Recording>>;
    /// The tenant's newest `limit` finished runs of every job, newest end first.
    async fn recent_finished_runs(&self, tenant: &str, limit: i64) -> Result<Vec<ExportRun>>;
    /// The tenant's running runs of every job, oldest start first, at most `limit`.
    async fn running_runs(&self, tenant: &str, limit: i64) -> Result<Vec<ExportRun>>;
    /// Marks `interrupted`, and fences (bumps the epoch of), every running run of `node` when
    /// given (a node that has just started: its runs are dead) and every running run whose
    /// heartbeat is older than `expiry` by the database's clock (its node died or stalled),
    /// and returns them.
    async fn interrupt_dead_runs(&self, node: Option<&str>, expiry: std::time::Duration) -> Result<Vec<ExportRun>>;

    /// Recordings of `services` with local audio and seq in `(after_seq, upto_seq]` that the
    /// job has not exported, with their export row if any, in seq order.
    async fn export_candidates(
        &self,
        tenant: &str,
        job_id: Uuid,
        services: &[String],
        after_seq: i64,
        upto_seq: i64,
        limit: i64,
    ) -> Result<Vec<(Recording, Option<Export>)>>;
    /// How many recordings `export_candidates` would yield from the start.
    async fn count_export_candidates(
        &self,
        tenant: &str,
        job_id: Uuid,
        services: &[String],
        upto_seq: i64,
    ) -> Result<i64>;
    /// Inserts or replaces the row of (tenant, recording, job), written by the run
    /// `export.run_id` at `epoch`: [`StoreError::Fenced`] once that attempt lost the run.
    async fn put_export(&self, export: &Export, epoch: i64) -> Result<()>;
    /// The exports of one recording, newest first.
    async fn exports_of_recording(&self, tenant: &str, recording_id: &str) -> Result<Vec<Export>> {
        self.exports_of_recordings(tenant, &[recording_id]).await
    }
    /// The exports of the recordings `recording_ids` (a page of a search, say), newest first.
    async fn exports_of_recordings(&self, tenant: &str, recording_ids: &[&str]) -> Result<Vec<Export>>;
    /// The exports last attempted by any of `run_ids`, with their recordings, in seq order
    /// after `after_seq` (a run's metadata file is written from these).
    async fn exports_of_runs(
        &self,
        tenant: &str,
        run_ids: &[Uuid],
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<(Recording, Export)>>;
    /// The failed exports last attempted by `run_id` (a later run that retried one takes
    /// it over), with their recordings, in seq order: at most `limit`.
    async fn failed_exports_of_run(&self, tenant: &str, run_id: Uuid, limit: i64) -> Result<Vec<(Recording, Export)>>;
}

/// The columns `RecordingRow` reads.
macro_rules! recording_columns {
    () => {
        "seq, tenant_id, id, global_interaction_id, call_started_at, agent_login, agent_first_name, \
         agent_last_name, customer_phone, direction, service, disposition, flagged, audio_state, audio_size, \
         audio_sha256, content_type, extension, received_at, updated_at"
    };
}

macro_rules! select_recordings {
    () => {
        concat!("SELECT ", recording_columns!(), " FROM recordings ")
    };
}

/// Binds a recording's metadata, `id` first, to the next placeholders of `$query`.
macro_rules! bind_recording {
    ($query:expr, $write:expr) => {
        $query
            .bind(&$write.id)
            .bind(&$write.global_interaction_id)
            .bind($write.call_started_at)
            .bind(&$write.agent_login)
            .bind(&$write.agent_first_name)
            .bind(&$write.agent_last_name)
            .bind(&$write.customer_phone)
            .bind(&$write.direction)
            .bind(&$write.service)
            .bind(&$write.disposition)
            .bind($write.flagged)
    };
}

/// The columns `JobRow` reads.
macro_rules! job_columns {
    () => {
        "id, tenant_id, name, account_id, enabled, settings, version, next_run_at, created_at, created_by, \
         updated_at, updated_by"
    };
}

macro_rules! select_jobs {
    () => {
        concat!("SELECT ", job_columns!(), " FROM recording_export_jobs ")
    };
}

/// The columns `RunRow` reads.
macro_rules! run_columns {
    () => {
        "id, job_id, tenant_id, reason, resumed_from, state, node, upto_seq, total, exported, failed, bytes, \
         metadata_key, error, started_at, heartbeat_at, finished_at, epoch"
    };
}

macro_rules! select_runs {
    () => {
        concat!("SELECT ", run_columns!(), " FROM recording_export_runs ")
    };
}

macro_rules! select_exports {
    () => {
        "SELECT tenant_id, recording_id, job_id, account_id, object_key, state, upload_id, etag, error, category, \
         attempts, run_id, updated_at, bucket, endpoint, region FROM recording_exports "
    };
}

#[derive(sqlx::FromRow)]
struct RecordingRow {
    seq: i64,
    tenant_id: String,
    id: String,
    global_interaction_id: String,
    call_started_at: Timestamp,
    agent_login: String,
    agent_first_name: String,
    agent_last_name: String,
    customer_phone: String,
    direction: String,
    service: String,
    disposition: String,
    flagged: bool,
    audio_state: String,
    audio_size: Option<i64>,
    audio_sha256: Option<String>,
    content_type: Option<String>,
    extension: Option<String>,
    received_at: Timestamp,
    updated_at: Timestamp,
}

impl RecordingRow {
    fn into_recording(self) -> Result<Recording> {
        let audio = match (self.audio_size, self.audio_sha256, self.content_type, self.extension) {
            (Some(size), Some(sha256), Some(content_type), Some(extension)) => {
                Some(Audio { size, sha256, content_type, extension })
            }
            _ => None,
        };
        Ok(Recording {
            seq: self.seq,
            tenant_id: self.tenant_id,
            meta: RecordingWrite {
                id: self.id,
                global_interaction_id: self.global_interaction_id,
                call_started_at: self.call_started_at,
                agent_login: self.agent_login,
                agent_first_name: self.agent_first_name,
                agent_last_name: self.agent_last_name,
                customer_phone: self.customer_phone,
                direction: self.direction,
                service: self.service,
                disposition: self.disposition,
                flagged: self.flagged,
            },
            audio_state: AudioState::parse(&self.audio_state)?,
            audio,
            received_at: self.received_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    tenant_id: String,
    name: String,
    account_id: String,
    enabled: bool,
    settings: String,
    version: i64,
    next_run_at: Option<Timestamp>,
    created_at: Timestamp,
    created_by: String,
    updated_at: Timestamp,
    updated_by: String,
}

impl JobRow {
    fn into_job(self) -> Result<ExportJob> {
        Ok(ExportJob {
            id: parse_uuid("recording_export_jobs.id", &self.id)?,
            tenant_id: self.tenant_id,
            name: self.name,
            account_id: parse_uuid("recording_export_jobs.account_id", &self.account_id)?,
            enabled: self.enabled,
            settings: parse_json("recording_export_jobs.settings", &self.settings)?,
            version: self.version,
            next_run_at: self.next_run_at,
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    job_id: String,
    tenant_id: String,
    reason: String,
    resumed_from: Option<String>,
    state: String,
    node: String,
    upto_seq: i64,
    total: i64,
    exported: i64,
    failed: i64,
    bytes: i64,
    metadata_key: Option<String>,
    error: Option<String>,
    started_at: Timestamp,
    heartbeat_at: Timestamp,
    finished_at: Option<Timestamp>,
    epoch: i64,
}

impl RunRow {
    fn into_run(self) -> Result<ExportRun> {
        Ok(ExportRun {
            id: parse_uuid("recording_export_runs.id", &self.id)?,
            job_id: parse_uuid("recording_export_runs.job_id", &self.job_id)?,
            tenant_id: self.tenant_id,
            reason: self.reason,
            resumed_from: self
                .resumed_from
                .map(|id| parse_uuid("recording_export_runs.resumed_from", &id))
                .transpose()?,
            state: RunState::parse(&self.state)?,
            node: self.node,
            upto_seq: self.upto_seq,
            total: self.total,
            progress: RunProgress { exported: self.exported, failed: self.failed, bytes: self.bytes },
            metadata_key: self.metadata_key,
            error: self.error,
            started_at: self.started_at,
            heartbeat_at: self.heartbeat_at,
            finished_at: self.finished_at,
            epoch: self.epoch,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    tenant_id: String,
    recording_id: String,
    job_id: String,
    account_id: String,
    object_key: String,
    state: String,
    upload_id: Option<String>,
    etag: Option<String>,
    error: Option<String>,
    category: Option<String>,
    attempts: i64,
    run_id: String,
    updated_at: Timestamp,
    bucket: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
}

impl ExportRow {
    fn into_export(self) -> Result<Export> {
        Ok(Export {
            tenant_id: self.tenant_id,
            recording_id: self.recording_id,
            job_id: parse_uuid("recording_exports.job_id", &self.job_id)?,
            account_id: parse_uuid("recording_exports.account_id", &self.account_id)?,
            object_key: self.object_key,
            state: ExportState::parse(&self.state)?,
            upload_id: self.upload_id,
            etag: self.etag,
            error: self.error,
            category: self.category,
            attempts: self.attempts,
            run_id: parse_uuid("recording_exports.run_id", &self.run_id)?,
            updated_at: self.updated_at,
            place: match (self.bucket, self.region) {
                (Some(bucket), Some(region)) => Some(ObjectPlace { bucket, endpoint: self.endpoint, region }),
                _ => None,
            },
        })
    }
}

fn recordings(rows: Vec<RecordingRow>) -> Result<Vec<Recording>> {
    rows.into_iter().map(RecordingRow::into_recording).collect()
}

fn jobs(rows: Vec<JobRow>) -> Result<Vec<ExportJob>> {
    rows.into_iter().map(JobRow::into_job).collect()
}

/// A recording with the columns of its export row (`e_` prefixed), for [`CandidateRow`].
const JOINED_SELECT: &str =
    "SELECT r.seq, r.tenant_id, r.id, r.global_interaction_id, r.call_started_at, r.agent_login, \
             r.agent_first_name, r.agent_last_name, r.customer_phone, r.direction, r.service, r.disposition, \
             r.flagged, r.audio_state, r.audio_size, r.audio_sha256, r.content_type, r.extension, r.received_at, \
             r.updated_at, e.tenant_id AS e_tenant_id, e.recording_id AS e_recording_id, e.job_id AS e_job_id, \
             e.account_id AS e_account_id, e.object_key AS e_object_key, e.state AS e_state, \
             e.upload_id AS e_upload_id, e.etag AS e_etag, e.error AS e_error, e.category AS e_category, e.attempts AS e_attempts, \
             e.run_id AS e_run_id, e.updated_at AS e_updated_at, e.bucket AS e_bucket, \
             e.endpoint AS e_endpoint, e.region AS e_region";

/// `$first, $first+1, ...` for `count` values bound in turn.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// The part of the candidate query after `SELECT ...`: binds tenant, job, upto, after,
/// then the services from `$5`.
fn candidates_sql(select: &str, services: usize, tail: &str) -> String {
    format!(
        "{select} FROM recordings r \
         LEFT JOIN recording_exports e ON e.tenant_id = r.tenant_id AND e.recording_id = r.id AND e.job_id = $2 \
         WHERE r.tenant_id = $1 AND r.audio_state = 'local' AND r.seq <= $3 AND r.seq > $4 \
         AND (e.state IS NULL OR e.state <> 'success') AND r.service IN ({}) {tail}",
        placeholders(5, services)
    )
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    #[sqlx(flatten)]
    recording: RecordingRow,
    e_tenant_id: Option<String>,
    e_recording_id: Option<String>,
    e_job_id: Option<String>,
    e_account_id: Option<String>,
    e_object_key: Option<String>,
    e_state: Option<String>,
    e_upload_id: Option<String>,
    e_etag: Option<String>,
    e_error: Option<String>,
    e_category: Option<String>,
    e_attempts: Option<i64>,
    e_run_id: Option<String>,
    e_updated_at: Option<Timestamp>,
    e_bucket: Option<String>,
    e_endpoint: Option<String>,
    e_region: Option<String>,
}

impl CandidateRow {
    fn split(self) -> Result<(Recording, Option<Export>)> {
        let export = match (
            self.e_tenant_id,
            self.e_recording_id,
            self.e_job_id,
            self.e_account_id,
            self.e_object_key,
            self.e_state,
            self.e_attempts,
            self.e_run_id,
            self.e_updated_at,
        ) {
            (
                Some(tenant_id),
                Some(recording_id),
                Some(job_id),
                Some(account_id),
                Some(object_key),
                Some(state),
                Some(attempts),
                Some(run_id),
                Some(updated_at),
            ) => Some(
                ExportRow {
                    tenant_id,
                    recording_id,
                    job_id,
                    account_id,
                    object_key,
                    state,
                    upload_id: self.e_upload_id,
                    etag: self.e_etag,
                    error: self.e_error,
                    category: self.e_category,
                    attempts,
                    run_id,
                    updated_at,
                    bucket: self.e_bucket,
                    endpoint: self.e_endpoint,
                    region: self.e_region,
                }
                .into_export()?,
            ),
            _ => None,
        };
        Ok((self.recording.into_recording()?, export))
    }
}

/// The condition of a write fenced by a run attempt: binds the run id (`$1`) and its epoch (`$2`).
const FENCED: &str = "id = $1 AND epoch = $2 AND state = 'running'";

impl Pools {
    /// The database's clock, as SQL, in the form each backend stores timestamps in: run
    /// heartbeats and their expiry never read a node's clock, which may be wrong or paused.
    fn clock(&self) -> &'static str {
        match self {
            Pools::Sqlite { .. } => "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')",
            Pools::Postgres(_) => "clock_timestamp()",
        }
    }

    /// The database's clock less the seconds (a float) bound to `param`.
    fn clock_minus_seconds(&self, param: &str) -> String {
        match self {
            Pools::Sqlite { .. } => format!("strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-' || {param} || ' seconds')"),
            Pools::Postgres(_) => format!("clock_timestamp() - {param} * interval '1 second'"),
        }
    }
}

/// Inside the write transaction `$tx`: checks that the fence still holds its run, and beats
/// the run's heartbeat; returns [`StoreError::Fenced`] otherwise. The run's row stays locked
/// until the transaction ends (PostgreSQL; SQLite has one writer), so a takeover cannot slip
/// between this check and the write it guards.
macro_rules! hold_fence {
    ($store:expr, $tx:ident, $fence:expr) => {{
        let fence: Fence = $fence;
        let sql = format!("UPDATE recording_export_runs SET heartbeat_at = {} WHERE {FENCED}", $store.pools.clock());
        let held = sqlx::query(&sql).bind(fence.run_id.to_string()).bind(fence.epoch).execute(&mut *$tx).await?;
        if held.rows_affected() == 0 {
            return Err(StoreError::Fenced(fence));
        }
    }};
}

#[async_trait]
impl RecordingStore for SqlStore {
    async fn insert_recording(&self, tenant: &str, write: &RecordingWrite) -> Result<Recording> {
        let now = now();
        let row: RecordingRow = in_write_tx!(self, |tx| {
            bind_recording!(
                sqlx::query_as(concat!(
                    "INSERT INTO recordings (tenant_id, id, global_interaction_id, call_started_at, agent_login, \
                     agent_first_name, agent_last_name, customer_phone, direction, service, disposition, flagged, \
                     audio_state, received_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'none', $13, $13) \
                     RETURNING ",
                    recording_columns!()
                ))
                .bind(tenant),
                write
            )
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(write_err)?
        });
        row.into_recording()
    }

    async fn update_recording(&self, tenant: &str, write: &RecordingWrite) -> Result<Recording> {
        let now = now();
        let row: Option<RecordingRow> = in_write_tx!(self, |tx| {
            bind_recording!(
                sqlx::query_as(concat!(
                    "UPDATE recordings SET global_interaction_id = $3, call_started_at = $4, agent_login = $5, \
                     agent_first_name = $6, agent_last_name = $7, customer_phone = $8, direction = $9, service = $10, \
                     disposition = $11, flagged = $12, updated_at = $13 WHERE tenant_id = $1 AND id = $2 \
                     RETURNING ",
                    recording_columns!()
                ))
                .bind(tenant),
                write
            )
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        });
        row.ok_or(StoreError::NotFound)?.into_recording()
    }

    async fn get_recording(&self, tenant: &str, id: &str) -> Result<Recording> {
        let row: Option<RecordingRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_recordings!(), "WHERE tenant_id = $1 AND id = $2"))
                .bind(tenant)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound)?.into_recording()
    }

    async fn set_recording_audio(&self, tenant: &str, id: &str, audio: &Audio) -> Result<Recording> {
        let now = now();
        let row: Option<RecordingRow> = in_write_tx!(self, |tx| {
            sqlx::query_as(concat!(
                "UPDATE recordings SET audio_state = 'local', audio_size = $3, audio_sha256 = $4, content_type = $5, \
                 extension = $6, updated_at = $7 WHERE tenant_id = $1 AND id = $2 \
                 RETURNING ",
                recording_columns!()
            ))
            .bind(tenant)
            .bind(id)
            .bind(audio.size)
            .bind(&audio.sha256)
            .bind(&audio.content_type)
            .bind(&audio.extension)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        });
        row.ok_or(StoreError::NotFound)?.into_recording()
    }

    async fn set_audio_state(&self, fence: Fence, tenant: &str, id: &str, state: AudioState) -> Result<()> {
        let now = now();
        let updated = in_write_tx!(self, |tx| {
            hold_fence!(self, tx, fence);
            sqlx::query("UPDATE recordings SET audio_state = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .bind(state.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn untranscribed_recordings(
        &self,
        tenant: &str,
        service: Option<&str>,
        since: Timestamp,
        until: Timestamp,
        limit: i64,
    ) -> Result<Vec<Recording>> {
        let rows: Vec<RecordingRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(
                select_recordings!(),
                "WHERE tenant_id = $1 AND audio_state <> 'none' AND received_at >= $2 AND received_at < $3 \
                 AND ($4 IS NULL OR service = $4) AND NOT EXISTS (SELECT 1 FROM recording_transcripts t \
                 WHERE t.tenant_id = recordings.tenant_id AND t.recording_id = recordings.id) \
                 ORDER BY seq LIMIT $5"
            ))
            .bind(tenant)
            .bind(since)
            .bind(until)
            .bind(service)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        recordings(rows)
    }

    async fn search_recordings(&self, tenant: &str, query: &RecordingQuery) -> Result<Vec<Recording>> {
        let (after_at, after_seq) = match query.after {
            Some((at, seq)) => (Some(at), Some(seq)),
            None => (None, None),
        };
        let (past, order) = if query.oldest_first { (">", "ASC") } else { ("<", "DESC") };
        let transcript = if query.words.is_empty() {
            String::new()
        } else {
            format!("AND {} ", crate::transcripts::transcript_condition(&self.pools, 11))
        };
        let sql = format!(
            "{}WHERE tenant_id = $1 AND ($2 IS NULL OR call_started_at >= $2) AND ($3 IS NULL OR call_started_at < $3) \
             AND ($4 IS NULL OR service = $4) AND ($5 IS NULL OR agent_login = $5) \
             AND ($6 IS NULL OR customer_phone = $6) \
             AND ($7 IS NULL OR call_started_at {past} $7 OR (call_started_at = $7 AND seq {past} $8)) \
             AND ($10 IS NULL OR direction = $10) {transcript}\
             ORDER BY call_started_at {order}, seq {order} LIMIT $9",
            select_recordings!()
        );
        let words = (!query.words.is_empty()).then(|| crate::fulltext::query_for(&self.pools, &query.words));
        let rows: Vec<RecordingRow> = with_reader!(self, |pool| {
            let mut search = sqlx::query_as(&sql)
                .bind(tenant)
                .bind(query.from)
                .bind(query.to)
                .bind(query.service.as_deref())
                .bind(query.agent_login.as_deref())
                .bind(query.customer_phone.as_deref())
                .bind(after_at)
                .bind(after_seq)
                .bind(query.limit)
                .bind(query.direction.as_deref());
            if let Some(words) = &words {
                search = search.bind(words);
            }
            search.fetch_all(pool).await?
        });
        recordings(rows)
    }

    async fn max_recording_seq(&self, tenant: &str) -> Result<i64> {
        let max: Option<i64> = with_reader!(self, |pool| {
            sqlx::query_scalar("SELECT MAX(seq) FROM recordings WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(pool)
                .await?
        });
        Ok(max.unwrap_or(0))
    }

    async fn create_export_job(
        &self,
        tenant: &str,
        id: Uuid,
        write: &ExportJobWrite,
        next_run_at: Option<Timestamp>,
        actor: &str,
    ) -> Result<ExportJob> {
        let now = now();
        let id_text = id.to_string();
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO recording_export_jobs (id, tenant_id, name, name_key, account_id, enabled, settings, \
                 version, next_run_at, created_at, created_by, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $9, $10)",
            )
            .bind(&id_text)
            .bind(tenant)
            .bind(&write.name)
            .bind(write.name.to_lowercase())
            .bind(write.account_id.to_string())
            .bind(write.enabled)
            .bind(json_text(&write.settings))
            .bind(next_run_at)
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            let changes = serde_json::json!({"job_id": id_text, "name": write.name, "settings": write.settings});
            insert_audit!(&mut *tx, tenant, None::<&str>, actor, "recording_export_job.create", changes, now);
        });
        Ok(ExportJob {
            id,
            tenant_id: tenant.to_owned(),
            name: write.name.clone(),
            account_id: write.account_id,
            enabled: write.enabled,
            settings: write.settings.clone(),
            version: 1,
            next_run_at,
            created_at: now,
            created_by: actor.to_owned(),
            updated_at: now,
            updated_by: actor.to_owned(),
        })
    }

    async fn get_export_job(&self, tenant: &str, id: Uuid) -> Result<ExportJob> {
        let row: Option<JobRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_jobs!(), "WHERE tenant_id = $1 AND id = $2"))
                .bind(tenant)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound)?.into_job()
    }

    async fn list_export_jobs(&self, tenant: &str) -> Result<Vec<ExportJob>> {
        let rows: Vec<JobRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_jobs!(), "WHERE tenant_id = $1 ORDER BY name_key"))
                .bind(tenant)
                .fetch_all(pool)
                .await?
        });
        jobs(rows)
    }

    async fn due_export_jobs(&self, now: Timestamp) -> Result<Vec<ExportJob>> {
        let rows: Vec<JobRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(
                select_jobs!(),
                "WHERE enabled AND next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY next_run_at"
            ))
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        jobs(rows)
    }

    async fn jobs_using_account(&self, tenant: &str, account_id: Uuid) -> Result<Vec<ExportJob>> {
        let rows: Vec<JobRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_jobs!(), "WHERE tenant_id = $1 AND account_id = $2 ORDER BY name_key"))
                .bind(tenant)
                .bind(account_id.to_string())
                .fetch_all(pool)
                .await?
        });
        jobs(rows)
    }

    async fn update_export_job(
        &self,
        tenant: &str,
        id: Uuid,
        write: &ExportJobWrite,
        next_run_at: Option<Timestamp>,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<ExportJob> {
        let now = now();
        let id_text = id.to_string();
        let row: JobRow = in_write_tx!(self, |tx| {
            let row: Option<JobRow> = sqlx::query_as(concat!(
                "UPDATE recording_export_jobs SET name = $3, name_key = $4, account_id = $5, enabled = $6, \
                 settings = $7, next_run_at = $8, version = version + 1, updated_at = $9, updated_by = $10 \
                 WHERE tenant_id = $1 AND id = $2 AND ($11 IS NULL OR version = $11) \
                 RETURNING ",
                job_columns!()
            ))
            .bind(tenant)
            .bind(&id_text)
            .bind(&write.name)
            .bind(write.name.to_lowercase())
            .bind(write.account_id.to_string())
            .bind(write.enabled)
            .bind(json_text(&write.settings))
            .bind(next_run_at)
            .bind(now)
            .bind(actor)
            .bind(expected_version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(write_err)?;
            let Some(row) = row else {
                return Err(missing_or_stale!(
                    tx,
                    "SELECT version FROM recording_export_jobs WHERE tenant_id = $1 AND id = $2",
                    tenant,
                    &id_text
                ));
            };
            let changes = serde_json::json!({"job_id": id_text, "name": write.name, "settings": write.settings});
            insert_audit!(&mut *tx, tenant, None::<&str>, actor, "recording_export_job.update", changes, now);
            row
        });
        row.into_job()
    }

    async fn delete_export_job(
        &self,
        tenant: &str,
        id: Uuid,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<()> {
        let id_text = id.to_string();
        let changes = serde_json::json!({"job_id": id_text});
        delete_versioned!(
            self,
            "recording_export_jobs",
            tenant,
            &id_text,
            expected_version,
            actor,
            "recording_export_job.delete",
            changes
        );
        Ok(())
    }

    async fn set_next_run(&self, id: Uuid, at: Option<Timestamp>) -> Result<()> {
        in_write_tx!(self, |tx| {
            sqlx::query("UPDATE recording_export_jobs SET next_run_at = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(at)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    async fn start_run(&self, run: &NewRun) -> Result<ExportRun> {
        let now = now();
        let sql = format!(
            "INSERT INTO recording_export_runs (id, job_id, tenant_id, reason, resumed_from, state, node, upto_seq, \
             total, exported, failed, bytes, started_at, heartbeat_at, epoch) \
             VALUES ($1, $2, $3, $4, $9, 'running', $5, $6, $7, 0, 0, 0, $8, {clock}, \
             (SELECT COALESCE(MAX(epoch), 0) + 1 FROM recording_export_runs WHERE job_id = $2)) \
             RETURNING {}",
            run_columns!(),
            clock = self.pools.clock(),
        );
        let row: RunRow = in_write_tx!(self, |tx| {
            sqlx::query_as(&sql)
                .bind(run.id.to_string())
                .bind(run.job_id.to_string())
                .bind(&run.tenant_id)
                .bind(&run.reason)
                .bind(&run.node)
                .bind(run.upto_seq)
                .bind(run.total)
                .bind(now)
                .bind(run.resumed_from.map(|id| id.to_string()))
                .fetch_one(&mut *tx)
                .await
                .map_err(write_err)?
        });
        row.into_run()
    }

    async fn run_progress(&self, fence: Fence, progress: RunProgress) -> Result<()> {
        let sql = format!(
            "UPDATE recording_export_runs SET exported = $3, failed = $4, bytes = $5, heartbeat_at = {} \
             WHERE {FENCED}",
            self.pools.clock()
        );
        let updated = in_write_tx!(self, |tx| {
            sqlx::query(&sql)
                .bind(fence.run_id.to_string())
                .bind(fence.epoch)
                .bind(progress.exported)
                .bind(progress.failed)
                .bind(progress.bytes)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(StoreError::Fenced(fence));
        }
        Ok(())
    }

    async fn finish_run(
        &self,
        fence: Fence,
        state: RunState,
        progress: RunProgress,
        metadata_key: Option<&str>,
        error: Option<&str>,
    ) -> Result<ExportRun> {
        let sql = format!(
            "UPDATE recording_export_runs SET state = $3, exported = $4, failed = $5, bytes = $6, \
             metadata_key = $7, error = $8, heartbeat_at = {clock}, finished_at = {clock} WHERE {FENCED} \
             RETURNING {}",
            run_columns!(),
            clock = self.pools.clock(),
        );
        let row: Option<RunRow> = in_write_tx!(self, |tx| {
            sqlx::query_as(&sql)
                .bind(fence.run_id.to_string())
                .bind(fence.epoch)
                .bind(state.as_str())
                .bind(progress.exported)
                .bind(progress.failed)
                .bind(progress.bytes)
                .bind(metadata_key)
                .bind(error)
                .fetch_optional(&mut *tx)
                .await?
        });
        row.ok_or(StoreError::Fenced(fence))?.into_run()
    }

    async fn get_run(&self, tenant: &str, job_id: Uuid, id: Uuid) -> Result<ExportRun> {
        let row: Option<RunRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_runs!(), "WHERE tenant_id = $1 AND job_id = $2 AND id = $3"))
                .bind(tenant)
                .bind(job_id.to_string())
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound)?.into_run()
    }

    async fn list_runs(&self, tenant: &str, job_id: Uuid, limit: i64) -> Result<Vec<ExportRun>> {
        let rows: Vec<RunRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(
                select_runs!(),
                "WHERE tenant_id = $1 AND job_id = $2 ORDER BY started_at DESC, id DESC LIMIT $3"
            ))
            .bind(tenant)
            .bind(job_id.to_string())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(RunRow::into_run).collect()
    }

    async fn recent_recordings(&self, tenant: &str, limit: i64) -> Result<Vec<Recording>> {
        let rows: Vec<RecordingRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(select_recordings!(), "WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2"))
                .bind(tenant)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(RecordingRow::into_recording).collect()
    }

    async fn recent_finished_runs(&self, tenant: &str, limit: i64) -> Result<Vec<ExportRun>> {
        let rows: Vec<RunRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(
                select_runs!(),
                "WHERE tenant_id = $1 AND finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT $2"
            ))
            .bind(tenant)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(RunRow::into_run).collect()
    }

    async fn running_runs(&self, tenant: &str, limit: i64) -> Result<Vec<ExportRun>> {
        let rows: Vec<RunRow> = with_reader!(self, |pool| {
            sqlx::query_as(concat!(
                select_runs!(),
                "WHERE tenant_id = $1 AND state = 'running' ORDER BY started_at, id LIMIT $2"
            ))
            .bind(tenant)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(RunRow::into_run).collect()
    }

    async fn interrupt_dead_runs(&self, node: Option<&str>, expiry: std::time::Duration) -> Result<Vec<ExportRun>> {
        let sql = format!(
            "UPDATE recording_export_runs SET state = 'interrupted', epoch = epoch + 1, finished_at = {clock}, \
             error = 'the node running it stopped; the next run resumes it' \
             WHERE state = 'running' AND (($1 IS NOT NULL AND node = $1) OR heartbeat_at < {expired}) \
             RETURNING {}",
            run_columns!(),
            clock = self.pools.clock(),
            expired = self.pools.clock_minus_seconds("$2"),
        );
        let rows: Vec<RunRow> = in_write_tx!(self, |tx| {
            sqlx::query_as(&sql).bind(node).bind(expiry.as_secs_f64()).fetch_all(&mut *tx).await?
        });
        rows.into_iter().map(RunRow::into_run).collect()
    }

    async fn export_candidates(
        &self,
        tenant: &str,
        job_id: Uuid,
        services: &[String],
        after_seq: i64,
        upto_seq: i64,
        limit: i64,
    ) -> Result<Vec<(Recording, Option<Export>)>> {
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let sql =
            candidates_sql(JOINED_SELECT, services.len(), &format!("ORDER BY r.seq LIMIT ${}", 5 + services.len()));
        let job_text = job_id.to_string();
        let rows: Vec<CandidateRow> = with_reader!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(tenant).bind(&job_text).bind(upto_seq).bind(after_seq);
            for service in services {
                query = query.bind(service);
            }
            query.bind(limit).fetch_all(pool).await?
        });
        rows.into_iter().map(CandidateRow::split).collect()
    }

    async fn count_export_candidates(
        &self,
        tenant: &str,
        job_id: Uuid,
        services: &[String],
        upto_seq: i64,
    ) -> Result<i64> {
        if services.is_empty() {
            return Ok(0);
        }
        let sql = candidates_sql("SELECT COUNT(*)", services.len(), "");
        let job_text = job_id.to_string();
        let count: i64 = with_reader!(self, |pool| {
            let mut query = sqlx::query_scalar(&sql).bind(tenant).bind(&job_text).bind(upto_seq).bind(0i64);
            for service in services {
                query = query.bind(service);
            }
            query.fetch_one(pool).await?
        });
        Ok(count)
    }

    async fn put_export(&self, export: &Export, epoch: i64) -> Result<()> {
        let fence = Fence { run_id: export.run_id, epoch };
        let place = export.place.as_ref();
        in_write_tx!(self, |tx| {
            hold_fence!(self, tx, fence);
            sqlx::query(
                "INSERT INTO recording_exports (tenant_id, recording_id, job_id, account_id, object_key, state, \
                 upload_id, etag, error, attempts, run_id, updated_at, bucket, endpoint, region, category) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (tenant_id, recording_id, job_id) DO UPDATE SET account_id = $4, object_key = $5, \
                 state = $6, upload_id = $7, etag = $8, error = $9, attempts = $10, run_id = $11, updated_at = $12, \
                 bucket = $13, endpoint = $14, region = $15, category = $16",
            )
            .bind(&export.tenant_id)
            .bind(&export.recording_id)
            .bind(export.job_id.to_string())
            .bind(export.account_id.to_string())
            .bind(&export.object_key)
            .bind(export.state.as_str())
            .bind(export.upload_id.as_deref())
            .bind(export.etag.as_deref())
            .bind(export.error.as_deref())
            .bind(export.attempts)
            .bind(export.run_id.to_string())
            .bind(export.updated_at)
            .bind(place.map(|p| p.bucket.as_str()))
            .bind(place.and_then(|p| p.endpoint.as_deref()))
            .bind(place.map(|p| p.region.as_str()))
            .bind(export.category.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        });
        Ok(())
    }

    async fn exports_of_recordings(&self, tenant: &str, recording_ids: &[&str]) -> Result<Vec<Export>> {
        if recording_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{}WHERE tenant_id = $1 AND recording_id IN ({}) ORDER BY updated_at DESC",
            select_exports!(),
            placeholders(2, recording_ids.len())
        );
        let rows: Vec<ExportRow> = with_reader!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(tenant);
            for id in recording_ids {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await?
        });
        rows.into_iter().map(ExportRow::into_export).collect()
    }

    async fn exports_of_runs(
        &self,
        tenant: &str,
        run_ids: &[Uuid],
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<(Recording, Export)>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{JOINED_SELECT} FROM recordings r JOIN recording_exports e \
             ON e.tenant_id = r.tenant_id AND e.recording_id = r.id \
             WHERE r.tenant_id = $1 AND r.seq > $2 AND e.run_id IN ({}) ORDER BY r.seq, e.job_id LIMIT $3",
            placeholders(4, run_ids.len())
        );
        let rows: Vec<CandidateRow> = with_reader!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(tenant).bind(after_seq).bind(limit);
            for id in run_ids {
                query = query.bind(id.to_string());
            }
            query.fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| match row.split()? {
                (recording, Some(export)) => Ok((recording, export)),
                (_, None) => Err(StoreError::Corrupt("recording_exports row without its columns".into())),
            })
            .collect()
    }

    async fn failed_exports_of_run(&self, tenant: &str, run_id: Uuid, limit: i64) -> Result<Vec<(Recording, Export)>> {
        let sql = format!(
            "{JOINED_SELECT} FROM recordings r JOIN recording_exports e \
             ON e.tenant_id = r.tenant_id AND e.recording_id = r.id \
             WHERE r.tenant_id = $1 AND e.run_id = $2 AND e.state = 'failed' ORDER BY r.seq, e.job_id LIMIT $3"
        );
        let rows: Vec<CandidateRow> = with_reader!(self, |pool| {
            sqlx::query_as(&sql).bind(tenant).bind(run_id.to_string()).bind(limit).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| match row.split()? {
                (recording, Some(export)) => Ok((recording, export)),
                (_, None) => Err(StoreError::Corrupt("recording_exports row without its columns".into())),
            })
            .collect()
    }
}
