//! Recording export jobs at run time: the scheduler, the runs, and where a recording's
//! audio is for playback.
//!
//! A run takes the recordings of the job's services that arrived before it started and
//! that the job has not exported yet (new ones, and the failures of earlier runs), and
//! uploads them with at most `concurrency` files at once. Every step is written to the store
//! before and after it happens, so a run killed at any point is picked up by the next one
//! without uploading anything twice:
//!
//! - before a multipart upload sends its first part, its upload id is stored; the next run
//!   asks S3 which parts it holds and sends only the rest;
//! - a file whose outcome was not recorded (uploading, or failed) is first looked up with
//!   HEAD: if the bucket holds it with the same size and SHA-256, it is done;
//! - a run's metadata CSV is written from the store at its end, and includes what the
//!   interrupted runs it continues had exported.
//!
//! A node beats its runs' heartbeats every second, with the database's clock. At start it
//! marks its own leftover runs interrupted and resumes them at once; a run whose heartbeat
//! stopped for the run expiry (a minute by default; its node died or stalled) is taken over
//! by any node.
//!
//! Runs are fenced: each run attempt has an epoch, and every write its owner makes carries
//! it (`Fence`). Interrupting or taking a run over bumps the epoch, so an owner that was
//! paused (a stalled process, a partition) and wakes up after the takeover has its next
//! write refused (`StoreError::Fenced`); it then stops at once: its S3 client refuses every
//! further request and it neither writes its metadata file nor finishes the run. S3 writes
//! are conditional (`If-None-Match: *`), so even a request it had in flight cannot put a
//! second version of an object the new owner uploaded.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use patchbay_api::{ExportRunReason, JobSettings};
use patchbay_catalog::keys::aws;
use patchbay_connectors::{egress, AccountConfig, Egress, S3Target};
use patchbay_recordings::{
    AudioDir, ErrorKind, ExportStatus, KeyTemplate, MetadataCsv, ObjectInfo, RecordingMeta, S3Client, S3Error,
    Schedule, UploadOptions, Uploaded,
};
use patchbay_secrets::AccountSecrets;
use patchbay_store::{
    AudioState, Conflict, Export, ExportJob, ExportRun, ExportState, Fence, NewRun, ObjectPlace, Recording,
    RecordingStore, RunProgress, RunState, Store, StoreError,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::JobMetrics;

/// How often the scheduler looks for due jobs.
const TICK: Duration = Duration::from_secs(1);
/// How often a run beats its heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// Recordings read from the store per page.
const PAGE: i64 = 200;
/// Largest recording audio accepted, in bytes.
pub const MAX_AUDIO_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// The node's export machinery: its identity, the audio dir, the runs it is executing.
pub struct Exporter {
    node: String,
    pub(crate) deps: ExportDeps,
    pub audio: AudioDir,
    /// Metadata CSVs of runs, `{run id}.csv`.
    runs_dir: PathBuf,
    /// A run whose heartbeat is older than this is taken over.
    run_expiry: Duration,
    /// Cancel flags of the runs executing here, by job.
    active: Mutex<HashMap<Uuid, Arc<AtomicBool>>>,
    /// The bucket region of each `aws` account (by id and version, so an edited account is
    /// asked again): playback's many range requests need not each ask S3 first.
    regions: Mutex<HashMap<(Uuid, i64), String>>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("a run of this job is in progress")]
    Running,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What export runs and playback read and write through.
pub struct ExportDeps {
    /// Accounts (the `aws` account a job uploads with).
    pub store: Arc<dyn Store>,
    pub recordings: Arc<dyn RecordingStore>,
    pub secrets: Arc<AccountSecrets>,
    pub egress: Egress,
    pub metrics: Arc<dyn JobMetrics>,
}

impl Exporter {
    pub fn new(node: String, data_dir: &std::path::Path, run_expiry: Duration, deps: ExportDeps) -> Exporter {
        Exporter {
            node,
            deps,
            run_expiry,
            audio: AudioDir::new(data_dir.join("recordings")),
            runs_dir: data_dir.join("exports"),
            active: Mutex::new(HashMap::new()),
            regions: Mutex::new(HashMap::new()),
        }
    }

    /// The metadata CSV of a run, as written at its end.
    pub fn metadata_path(&self, run: Uuid) -> PathBuf {
        self.runs_dir.join(format!("{run}.csv"))
    }

    /// Asks the run of `job` executing on this node, if any, to stop taking new files.
    pub fn cancel(&self, job: Uuid) {
        if let Some(flag) = self.active.lock().unwrap_or_else(PoisonError::into_inner).get(&job) {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// The node's persistent id (`DATA_DIR/node-id`), so a restart recognizes its own runs.
pub fn node_id(data_dir: &std::path::Path) -> std::io::Result<String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            let id = Uuid::new_v4().to_string();
            std::fs::write(&path, format!("{id}\n"))?;
            Ok(id)
        }
    }
}

impl Exporter {
    /// Marks this node's leftover runs interrupted and resumes them, then schedules forever.
    pub async fn start(self: &Arc<Self>) -> Result<(), StoreError> {
        take_over_dead_runs(self, Some(&self.node)).await?;
        // Dead runs are looked for four times per expiry (every 15 s by default).
        let takeover_ticks = (self.run_expiry.as_secs_f64() / 4.0 / TICK.as_secs_f64()).max(1.0) as u64;
        let exporter = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut ticks = 0u64;
            loop {
                tick.tick().await;
                ticks += 1;
                if let Err(e) = run_due_jobs(&exporter).await {
                    tracing::warn!(error = %e, "recording export scheduler");
                }
                if ticks.is_multiple_of(takeover_ticks) {
                    if let Err(e) = take_over_dead_runs(&exporter, None).await {
                        tracing::warn!(error = %e, "recording export takeover");
                    }
                }
            }
        });
        Ok(())
    }
}

/// Interrupts and resumes the runs of `own` node (just started) and of any node whose
/// heartbeat stopped.
async fn take_over_dead_runs(exporter: &Arc<Exporter>, own: Option<&str>) -> Result<(), StoreError> {
    let dead = exporter.deps.recordings.interrupt_dead_runs(own, exporter.run_expiry).await?;
    for run in dead {
        if run.node != exporter.node {
            tracing::warn!(
                run = %run.id, job = %run.job_id, node = %run.node, epoch = run.epoch,
                "taking over an export run whose node stopped beating its heartbeat"
            );
        }
        exporter.deps.metrics.record_export_run(None);
        exporter.deps.metrics.record_export_run(Some("interrupted"));
        match exporter.deps.recordings.get_export_job(&run.tenant_id, run.job_id).await {
            Ok(job) => match exporter.start_run(&job, ExportRunReason::Resume, Some(run.id)).await {
                Ok(resumed) => {
                    tracing::info!(job = %job.id, interrupted = %run.id, run = %resumed.id, "resuming an interrupted export run")
                }
                Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot resume an interrupted export run"),
            },
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn run_due_jobs(exporter: &Arc<Exporter>) -> Result<(), StoreError> {
    let now = Utc::now();
    for job in exporter.deps.recordings.due_export_jobs(now).await? {
        let settings: JobSettings = match serde_json::from_value(job.settings.clone()) {
            Ok(settings) => settings,
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "stored export job settings are unreadable");
                exporter.deps.recordings.set_next_run(job.id, None).await?;
                continue;
            }
        };
        if !settings.may_export_at(now) {
            exporter.deps.recordings.set_next_run(job.id, Some(settings.opens_at(now))).await?;
            continue;
        }
        exporter.deps.recordings.set_next_run(job.id, Some(settings.next_run(now))).await?;
        match exporter.start_run(&job, ExportRunReason::Schedule, None).await {
            Ok(_) | Err(StartError::Running) => {}
            Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot start a scheduled export run"),
        }
    }
    Ok(())
}

impl Exporter {
    /// Starts a run of `job` now and returns it as recorded; the uploads go on in the background.
    pub async fn start_run(
        self: &Arc<Self>,
        job: &ExportJob,
        reason: ExportRunReason,
        resumed_from: Option<Uuid>,
    ) -> Result<ExportRun, StartError> {
        let store = &self.deps.recordings;
        let settings: Option<JobSettings> = serde_json::from_value(job.settings.clone()).ok();
        let services = settings.as_ref().map(|s| s.services.clone()).unwrap_or_default();
        let upto_seq = store.max_recording_seq(&job.tenant_id).await?;
        let total = store.count_export_candidates(&job.tenant_id, job.id, &services, upto_seq).await?;
        let new = NewRun {
            id: Uuid::now_v7(),
            job_id: job.id,
            tenant_id: job.tenant_id.clone(),
            reason: reason.as_str().to_owned(),
            resumed_from,
            node: self.node.clone(),
            upto_seq,
            total,
        };
        let run = match store.start_run(&new).await {
            Err(StoreError::Conflict(Conflict::RunActive)) => return Err(StartError::Running),
            other => other?,
        };
        self.deps.metrics.record_export_run(None);
        let cancel = Arc::new(AtomicBool::new(false));
        self.active.lock().unwrap_or_else(PoisonError::into_inner).insert(job.id, cancel.clone());
        let (exporter, job, started) = (self.clone(), job.clone(), run.clone());
        tokio::spawn(async move {
            let outcome = execute(&exporter, &job, settings, &started, &cancel).await;
            exporter.active.lock().unwrap_or_else(PoisonError::into_inner).remove(&job.id);
            let Some((run_state, progress, key, error)) = outcome else {
                // Fenced: the run is another attempt's now; this one leaves it alone.
                exporter.deps.metrics.record_export_run(Some(RunState::Interrupted.as_str()));
                return;
            };
            let label = run_state.as_str();
            let fence = started.fence();
            // The log keeps the operator's words (an `--egress-allow` value, say); the run,
            // which the tenant's users read, theirs.
            let kept = error.clone().map(egress::for_tenants);
            match exporter.deps.recordings.finish_run(fence, run_state, progress, key.as_deref(), kept.as_deref()).await
            {
                Ok(_) => {}
                Err(e @ StoreError::Fenced(_)) => {
                    tracing::error!(run = %started.id, epoch = fence.epoch, error = %e, "export run fenced: its finish is refused");
                    exporter.deps.metrics.record_export_run(Some(RunState::Interrupted.as_str()));
                    return;
                }
                Err(e) => tracing::error!(run = %started.id, error = %e, "cannot record the end of an export run"),
            }
            exporter.deps.metrics.record_export_run(Some(label));
            tracing::info!(
                run = %started.id, job = %job.id, tenant = %job.tenant_id, state = label,
                exported = progress.exported, failed = progress.failed, bytes = progress.bytes,
                error = error.as_deref().unwrap_or(""), "recording export run finished"
            );
        });
        Ok(run)
    }
}

/// Counters shared by a run's uploads.
#[derive(Default)]
struct Counters {
    exported: AtomicI64,
    failed: AtomicI64,
    bytes: AtomicI64,
}

impl Counters {
    fn progress(&self) -> RunProgress {
        RunProgress {
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

/// What every upload of a run shares.
struct RunContext {
    exporter: Arc<Exporter>,
    job: ExportJob,
    settings: JobSettings,
    template: KeyTemplate,
    client: S3Client,
    /// Where the client uploads, kept with each exported object.
    place: ObjectPlace,
    run_id: Uuid,
    /// The attempt's fencing token, carried by each of its writes.
    fence: Fence,
    /// Set by the first write refused as fenced: the run lost its lease and stops at once
    /// (the S3 client refuses every further request).
    fenced: Arc<AtomicBool>,
    counters: Counters,
    /// Set by a failure that no other file of the run can escape (credentials, permission,
    /// missing bucket): the rest fail with it at once instead of each asking S3.
    bucket_error: Mutex<Option<S3Error>>,
    /// The reason of the run's first failed recording, for the run's own error.
    first_failure: Mutex<Option<String>>,
    /// Jobs of the tenant (for deciding when a local copy is no longer needed).
    jobs: Vec<(ExportJob, JobSettings)>,
}

impl RunContext {
    /// Whether a write of this attempt was refused as fenced.
    fn is_fenced(&self) -> bool {
        self.fenced.load(Ordering::Relaxed)
    }

    /// Notes a store error of one of the attempt's writes: when it is `Fenced`, stops the
    /// run (the flag also stops the S3 client) and says so once. Returns whether it was.
    fn note_fenced(&self, error: &StoreError) -> bool {
        if !matches!(error, StoreError::Fenced(_)) {
            return false;
        }
        if !self.fenced.swap(true, Ordering::Relaxed) {
            tracing::error!(
                run = %self.run_id, job = %self.job.id, epoch = self.fence.epoch, error = %error,
                "export run fenced: another node took it over; this node stops it without further writes"
            );
        }
        true
    }
}

/// What a run ended with (`None`: it was fenced and ends without a word).
type Outcome = (RunState, RunProgress, Option<String>, Option<String>);

async fn execute(
    exporter: &Arc<Exporter>,
    job: &ExportJob,
    settings: Option<JobSettings>,
    run: &ExportRun,
    cancel: &AtomicBool,
) -> Option<Outcome> {
    let failed = |error: String| Some((RunState::Failed, RunProgress::default(), None, Some(error)));
    let Some(settings) = settings else {
        return failed("the job's stored settings are unreadable; save the job again".into());
    };
    let context = match prepare(exporter, job, settings, run).await {
        Ok(context) => Arc::new(context),
        Err(error) => {
            tracing::warn!(run = %run.id, job = %job.id, error = %error, "export run cannot start");
            return failed(error);
        }
    };
    let heartbeat = {
        let context = context.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tick.tick().await;
                match context.exporter.deps.recordings.run_progress(context.fence, context.counters.progress()).await {
                    Ok(()) => {}
                    Err(e) if context.note_fenced(&e) => return,
                    Err(e) => tracing::warn!(run = %context.run_id, error = %e, "cannot save export progress"),
                }
            }
        })
    };
    let stopped = upload_all(&context, run.upto_seq, cancel).await;
    heartbeat.abort();
    if context.is_fenced() {
        return None;
    }
    let metadata = write_metadata(&context, run).await;
    if context.is_fenced() {
        return None;
    }
    let progress = context.counters.progress();
    let first_error = context.bucket_error.lock().unwrap_or_else(PoisonError::into_inner).clone().map(|e| e.message);
    let first_error =
        first_error.or_else(|| context.first_failure.lock().unwrap_or_else(PoisonError::into_inner).clone());
    Some(match (metadata, stopped) {
        (Err(e), _) => {
            let failures = match progress.failed {
                0 => String::new(),
                n => format!("{}; ", failed_summary(n)),
            };
            let error = format!("{failures}the metadata file was not uploaded: {e}");
            (RunState::Failed, progress, None, Some(error))
        }
        (Ok(key), Some(why)) => (RunState::Interrupted, progress, Some(key), Some(why)),
        (Ok(key), None) if progress.failed > 0 => {
            let error = match first_error {
                Some(why) => format!("{}; the first: {why}", failed_summary(progress.failed)),
                None => failed_summary(progress.failed),
            };
            (RunState::Failed, progress, Some(key), Some(error))
        }
        (Ok(key), None) => (RunState::Succeeded, progress, Some(key), None),
    })
}

impl Exporter {
    /// An S3 client with the credentials of the tenant's `aws` account `account_id`, for the
    /// account's bucket, or for the bucket an object was uploaded to (`place`: playback still
    /// finds it after the account's bucket setting changed), and where the client points.
    pub async fn client_for(
        &self,
        tenant: &str,
        account_id: Uuid,
        place: Option<&ObjectPlace>,
        bandwidth_limit: Option<u64>,
    ) -> Result<(S3Client, ObjectPlace), String> {
        let account = match self.deps.store.get_account(tenant, account_id).await {
            Ok(account) => account,
            Err(StoreError::NotFound) => return Err(format!("the account {account_id} no longer exists")),
            Err(e) => return Err(format!("cannot read the account {account_id}: {e}")),
        };
        if account.type_key != "aws" {
            return Err(format!("the account `{}` is not an Amazon AWS account", account.name));
        }
        if !account.enabled {
            return Err(format!("the account `{}` is disabled; enable it to use its bucket", account.name));
        }
        let secrets = {
            let keys = self.deps.secrets.lease().await;
            keys.open(&account).map_err(|e| format!("cannot open the account's secrets: {e}"))?
        };
        let mut config = AccountConfig {
            id: Some(account.id.to_string()),
            type_key: account.type_key.clone(),
            provider: account.provider.clone(),
            name: account.name.clone(),
            properties: account.properties.clone(),
            secrets,
        };
        let endpoint =
            config.flag(aws::USE_PRIVATE_S3_STORAGE).then(|| config.text(aws::URL).unwrap_or_default().to_owned());
        if let Some(place) = place {
            // The account's credentials go only to the server they are set for now.
            if place.endpoint != endpoint {
                return Err(format!(
                    "the object was uploaded to {}, but the account `{}` now points to {}; \
                 point the account back to read it",
                    place.endpoint.as_deref().unwrap_or("Amazon S3"),
                    account.name,
                    endpoint.as_deref().unwrap_or("Amazon S3")
                ));
            }
            config.properties.insert(aws::S3_BUCKET.into(), place.bucket.clone().into());
        }
        let mut target =
            S3Target::from_account(&config).map_err(|f| format!("account `{}`: {}", account.name, f.message))?;
        let options = UploadOptions { bandwidth_limit, ..UploadOptions::default() };
        let known = (account.id, account.version);
        let cached = match place {
            Some(place) => Some(place.region.clone()),
            None => self.regions.lock().unwrap_or_else(PoisonError::into_inner).get(&known).cloned(),
        };
        if let Some(region) = &cached {
            target.set_region(region).map_err(|f| f.message)?;
        }
        let mut client = S3Client::new(self.deps.egress.clone(), target, options).map_err(|e| e.message)?;
        if cached.is_none() {
            match client.locate_bucket().await {
                Ok(region) => {
                    let region = region.to_owned();
                    self.regions.lock().unwrap_or_else(PoisonError::into_inner).insert(known, region);
                }
                Err(e) => tracing::debug!(
                    account = %account.id, error = %e, "cannot ask S3 for the bucket's region; signing for the default"
                ),
            }
        }
        let target = client.target();
        let place = ObjectPlace { bucket: target.bucket().to_owned(), endpoint, region: target.region().to_owned() };
        Ok((client, place))
    }
}

/// "1 recording failed and is retried by the next run", or the plural.
fn failed_summary(n: i64) -> String {
    match n {
        1 => "1 recording failed and is retried by the next run".to_owned(),
        n => format!("{n} recordings failed and are retried by the next run"),
    }
}

async fn prepare(
    exporter: &Arc<Exporter>,
    job: &ExportJob,
    settings: JobSettings,
    run: &ExportRun,
) -> Result<RunContext, String> {
    let (mut client, place) =
        exporter.client_for(&job.tenant_id, job.account_id, None, settings.bandwidth_limit_bytes_per_second).await?;
    let fenced = Arc::new(AtomicBool::new(false));
    client.stop_when(fenced.clone());
    let template = KeyTemplate::new(&settings.key_prefix, &settings.filename_template).map_err(|e| e.to_string())?;
    let mut jobs = Vec::new();
    for other in exporter.deps.recordings.list_export_jobs(&job.tenant_id).await.map_err(|e| e.to_string())? {
        if let Ok(other_settings) = serde_json::from_value::<JobSettings>(other.settings.clone()) {
            jobs.push((other, other_settings));
        }
    }
    Ok(RunContext {
        exporter: exporter.clone(),
        job: job.clone(),
        settings,
        template,
        client,
        place,
        run_id: run.id,
        fence: run.fence(),
        fenced,
        counters: Counters::default(),
        bucket_error: Mutex::new(None),
        first_failure: Mutex::new(None),
        jobs,
    })
}

/// Uploads every candidate; `Some(why)` when the run stopped before the end.
async fn upload_all(context: &Arc<RunContext>, upto_seq: i64, cancel: &AtomicBool) -> Option<String> {
    let store = &context.exporter.deps.recordings;
    let semaphore = Arc::new(Semaphore::new(context.settings.concurrency as usize));
    let mut tasks = JoinSet::new();
    let mut after = 0;
    let mut stopped = None;
    'pages: loop {
        let page = match store
            .export_candidates(
                &context.job.tenant_id,
                context.job.id,
                &context.settings.services,
                after,
                upto_seq,
                PAGE,
            )
            .await
        {
            Ok(page) => page,
            Err(e) => {
                stopped = Some(format!("cannot read the recordings to export: {e}"));
                break;
            }
        };
        if page.is_empty() {
            break;
        }
        for (recording, export) in page {
            after = recording.seq;
            if context.is_fenced() {
                break 'pages;
            }
            if cancel.load(Ordering::Relaxed) {
                stopped = Some("the job was changed or deleted while it ran".into());
                break 'pages;
            }
            if !context.settings.may_export_at(Utc::now()) {
                stopped = Some("the export window closed; the rest waits for the next window".into());
                break 'pages;
            }
            let permit = semaphore.clone().acquire_owned().await.expect("the semaphore is never closed");
            let context = context.clone();
            tasks.spawn(async move {
                export_one(&context, recording, export).await;
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        }
    }
    while tasks.join_next().await.is_some() {}
    stopped
}

fn meta(recording: &Recording) -> RecordingMeta {
    let m = &recording.meta;
    RecordingMeta {
        recording_id: m.id.clone(),
        global_interaction_id: m.global_interaction_id.clone(),
        call_started_at: m.call_started_at,
        agent_login: m.agent_login.clone(),
        agent_first_name: m.agent_first_name.clone(),
        agent_last_name: m.agent_last_name.clone(),
        customer_phone: m.customer_phone.clone(),
        direction: m.direction.clone(),
        service: m.service.clone(),
        disposition: m.disposition.clone(),
        flagged: m.flagged,
    }
}

/// Is the error one every other upload to this bucket would hit too?
fn bucket_wide(error: &S3Error) -> bool {
    matches!(
        error.kind,
        ErrorKind::InvalidCredentials
            | ErrorKind::Permission
            | ErrorKind::NotFound
            | ErrorKind::Blocked
            | ErrorKind::InvalidConfig
    )
}

async fn export_one(context: &RunContext, recording: Recording, previous: Option<Export>) {
    let store = &context.exporter.deps.recordings;
    let tenant = &context.job.tenant_id;
    let id = recording.meta.id.clone();
    let Some(audio) = recording.audio.clone() else { return };
    let key = match context.template.key(&meta(&recording), &audio.extension) {
        Ok(key) => key,
        Err(e) => {
            let error =
                S3Error::new(ErrorKind::InvalidConfig, format!("the job's file name template gives no key: {e}"));
            fail(context, &recording, previous.as_ref(), String::new(), None, error).await;
            return;
        }
    };
    let bucket_error = context.bucket_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
    if let Some(error) = bucket_error {
        fail(context, &recording, previous.as_ref(), key, None, error).await;
        return;
    }
    let same_key = previous.as_ref().filter(|p| p.object_key == key);
    let upload_id = same_key.and_then(|p| p.upload_id.clone());
    if let Some(stale) = previous.as_ref().filter(|p| p.object_key != key) {
        // The job's template changed since an upload to the old key began: drop that upload.
        if let Some(upload_id) = &stale.upload_id {
            if let Err(e) = context.client.abort_multipart_upload(&stale.object_key, upload_id).await {
                tracing::warn!(recording = %id, error = %e, "cannot abort a multipart upload to an old key");
            }
        }
    }
    let mut export = Export {
        tenant_id: tenant.clone(),
        recording_id: id.clone(),
        job_id: context.job.id,
        account_id: context.job.account_id,
        object_key: key.clone(),
        state: ExportState::Uploading,
        upload_id,
        etag: None,
        error: None,
        category: None,
        attempts: previous.as_ref().map_or(0, |p| p.attempts) + 1,
        run_id: context.run_id,
        updated_at: Utc::now(),
        place: None,
    };
    let info = ObjectInfo { content_type: Some(&audio.content_type), sha256: Some(&audio.sha256) };
    let path = context.exporter.audio.path(tenant, &id);
    let result: Result<Option<Uploaded>, S3Error> = async {
        if same_key.is_some() && export.upload_id.is_none() && in_bucket(&context.client, &key, &audio).await? {
            return Ok(None);
        }
        if !context.client.is_multipart(audio.size as u64) {
            save(context, &export).await?;
            return match context.client.put_file(&path, &key, &info).await {
                // Put by an earlier attempt (or this one, whose answer was lost).
                Err(e) if e.kind == ErrorKind::Exists && in_bucket(&context.client, &key, &audio).await? => Ok(None),
                other => other.map(Some),
            };
        }
        loop {
            let upload_id = match export.upload_id.clone() {
                Some(upload_id) => upload_id,
                None => {
                    let upload_id = context.client.create_multipart(&key, &info).await?;
                    export.upload_id = Some(upload_id.clone());
                    save(context, &export).await?;
                    upload_id
                }
            };
            match context.client.continue_multipart(&path, &key, &upload_id).await {
                Err(e) if e.kind == ErrorKind::Exists && in_bucket(&context.client, &key, &audio).await? => {
                    return Ok(None)
                }
                Err(e) if e.kind == ErrorKind::NoSuchUpload => {
                    // Completed before its outcome was recorded, or aborted: look before starting over.
                    if in_bucket(&context.client, &key, &audio).await? {
                        return Ok(None);
                    }
                    export.upload_id = None;
                }
                other => return other.map(Some),
            }
        }
    }
    .await;
    let uploaded = match result {
        Ok(uploaded) => uploaded,
        // Fenced: nothing more is written, neither to the store nor to S3.
        Err(_) if context.is_fenced() => return,
        Err(e) => {
            if bucket_wide(&e) {
                context.bucket_error.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e.clone());
            }
            // A damaged upload cannot be resumed: abort it (best effort) and start over next run.
            let keep = match (e.kind, export.upload_id.clone()) {
                (ErrorKind::Checksum, Some(upload_id)) => {
                    let _ = context.client.abort_multipart_upload(&key, &upload_id).await;
                    None
                }
                (_, upload_id) => upload_id,
            };
            fail(context, &recording, previous.as_ref(), key, keep, e).await;
            return;
        }
    };
    if let Some(uploaded) = &uploaded {
        if uploaded.parts_skipped > 0 {
            tracing::info!(
                recording = %id, key = %key, parts_skipped = uploaded.parts_skipped, parts = uploaded.parts,
                "resumed a multipart upload: parts already in the bucket were not sent again"
            );
        }
        if uploaded.sha256 != audio.sha256 {
            let error = S3Error::new(
                ErrorKind::Io,
                format!("the local audio of {id} changed since it was received (SHA-256 differs); not exported"),
            );
            fail(context, &recording, previous.as_ref(), key, None, error).await;
            return;
        }
        match context.client.head(&key).await {
            Ok(Some(head)) if head.size == audio.size as u64 => export.etag = Some(head.etag),
            Ok(_) => {
                let error = S3Error::new(
                    ErrorKind::UnexpectedResponse,
                    format!("`{key}` is not in the bucket with {} bytes after its upload", audio.size),
                );
                fail(context, &recording, previous.as_ref(), key, None, error).await;
                return;
            }
            Err(e) => {
                fail(context, &recording, previous.as_ref(), key, None, e).await;
                return;
            }
        }
    }
    export.state = ExportState::Success;
    export.upload_id = None;
    export.updated_at = Utc::now();
    export.place = Some(context.place.clone());
    if let Err(e) = store.put_export(&export, context.fence.epoch).await {
        if !context.note_fenced(&e) {
            tracing::error!(recording = %id, error = %e, "cannot record a finished export");
        }
        return;
    }
    context.counters.exported.fetch_add(1, Ordering::Relaxed);
    context.counters.bytes.fetch_add(audio.size, Ordering::Relaxed);
    context.exporter.deps.metrics.record_export_file("success", audio.size as u64);
    if context.settings.delete_local_after_export {
        remove_local_if_done(context, &recording).await;
    }
}

/// Whether the bucket already holds this audio at `key` (same size and SHA-256 metadata):
/// an upload whose outcome a crash kept from being recorded.
async fn in_bucket(client: &S3Client, key: &str, audio: &patchbay_store::Audio) -> Result<bool, S3Error> {
    Ok(client
        .head(key)
        .await?
        .is_some_and(|head| head.size == audio.size as u64 && head.sha256.as_deref() == Some(audio.sha256.as_str())))
}

/// Records an upload in progress before S3 is asked to do anything with it. A fenced run
/// gets `ErrorKind::Stopped`: the caller sends nothing more.
async fn save(context: &RunContext, export: &Export) -> Result<(), S3Error> {
    let mut export = export.clone();
    export.updated_at = Utc::now();
    match context.exporter.deps.recordings.put_export(&export, context.fence.epoch).await {
        Ok(()) => Ok(()),
        Err(e) if context.note_fenced(&e) => Err(S3Error::new(ErrorKind::Stopped, e.to_string())),
        Err(e) => Err(S3Error::new(ErrorKind::Io, format!("cannot record the export's progress: {e}"))),
    }
}

async fn fail(
    context: &RunContext,
    recording: &Recording,
    previous: Option<&Export>,
    key: String,
    upload_id: Option<String>,
    error: S3Error,
) {
    let category =
        error.category().and_then(|c| serde_json::to_value(c).ok()).and_then(|v| v.as_str().map(str::to_owned));
    context.first_failure.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(|| error.message.clone());
    let export = Export {
        tenant_id: context.job.tenant_id.clone(),
        recording_id: recording.meta.id.clone(),
        job_id: context.job.id,
        account_id: context.job.account_id,
        object_key: key,
        state: ExportState::Failed,
        upload_id,
        etag: None,
        error: Some(egress::for_tenants(error.message)),
        category,
        attempts: previous.map_or(0, |p| p.attempts) + 1,
        run_id: context.run_id,
        updated_at: Utc::now(),
        place: None,
    };
    if let Err(e) = context.exporter.deps.recordings.put_export(&export, context.fence.epoch).await {
        if context.note_fenced(&e) {
            return;
        }
        tracing::error!(recording = %recording.meta.id, error = %e, "cannot record a failed export");
    }
    context.counters.failed.fetch_add(1, Ordering::Relaxed);
    context.exporter.deps.metrics.record_export_file("failed", 0);
}

/// Removes the local copy once every enabled job that exports the recording's service has
/// it in its bucket.
async fn remove_local_if_done(context: &RunContext, recording: &Recording) {
    let tenant = &context.job.tenant_id;
    let id = &recording.meta.id;
    let exports = match context.exporter.deps.recordings.exports_of_recording(tenant, id).await {
        Ok(exports) => exports,
        Err(e) => {
            tracing::warn!(recording = %id, error = %e, "cannot check the exports of a recording");
            return;
        }
    };
    let needed_by = context
        .jobs
        .iter()
        .filter(|(job, settings)| job.enabled && settings.services.contains(&recording.meta.service))
        .find(|(job, _)| !exports.iter().any(|e| e.job_id == job.id && e.state == ExportState::Success));
    if needed_by.is_some() {
        return;
    }
    if let Err(e) =
        context.exporter.deps.recordings.set_audio_state(context.fence, tenant, id, AudioState::Removed).await
    {
        if context.note_fenced(&e) {
            return;
        }
        tracing::warn!(recording = %id, error = %e, "cannot mark a recording's local copy removed");
        return;
    }
    if let Err(e) = context.exporter.audio.remove(tenant, id).await {
        tracing::warn!(recording = %id, error = %e, "cannot remove the local copy of an exported recording");
    }
}

/// Writes the run's metadata CSV (its rows and those of the interrupted runs it continues)
/// to the data dir and uploads it beside the recordings; returns its key.
async fn write_metadata(context: &RunContext, run: &ExportRun) -> Result<String, String> {
    let store = &context.exporter.deps.recordings;
    let tenant = &context.job.tenant_id;
    let mut runs = vec![run.id];
    let mut resumed = run.resumed_from;
    while let Some(previous) = resumed.filter(|id| !runs.contains(id) && runs.len() < 100) {
        runs.push(previous);
        resumed = match store.get_run(tenant, context.job.id, previous).await {
            Ok(previous) => previous.resumed_from,
            Err(_) => None,
        };
    }
    std::fs::create_dir_all(&context.exporter.runs_dir).map_err(|e| e.to_string())?;
    let path = context.exporter.metadata_path(run.id);
    let file = std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut csv = MetadataCsv::new(std::io::BufWriter::new(file)).map_err(|e| e.to_string())?;
    let mut after = 0;
    loop {
        let page = store.exports_of_runs(tenant, &runs, after, PAGE).await.map_err(|e| e.to_string())?;
        let Some((last, _)) = page.last() else { break };
        after = last.seq;
        for (recording, export) in page.iter().filter(|(_, e)| e.job_id == context.job.id) {
            let status =
                if export.state == ExportState::Success { ExportStatus::Success } else { ExportStatus::Failed };
            let error = match export.state {
                ExportState::Uploading => Some("the upload did not finish"),
                _ => export.error.as_deref(),
            };
            csv.row(&meta(recording), &export.object_key, status, error).map_err(|e| e.to_string())?;
        }
    }
    csv.finish().and_then(|mut out| std::io::Write::flush(&mut out)).map_err(|e| e.to_string())?;
    let stamp = run.started_at.to_rfc3339_opts(SecondsFormat::Secs, true).replace([':', '-'], "");
    let key = format!("{}patchbay-export_{stamp}_{}.csv", context.settings.key_prefix, run.id);
    let info = ObjectInfo { content_type: Some("text/csv; charset=utf-8"), sha256: None };
    context.client.upload_file(&path, &key, &info).await.map_err(|e| e.message)?;
    Ok(key)
}
