//! Transcripts of recordings ([`Transcriber`]): a recording's stored audio streamed through
//! a Speech To Text account by the runtime gateway, in the background, then the sentiment of
//! each utterance from the tenant's NLU account, saved with the recording. A run beats a
//! heartbeat, so the run of a node that died can be started again.

use std::sync::Arc;
use std::time::Duration;

use patchbay_api::{TranscriptRequest, TranscriptionSettings, Utterance, UtteranceSentiment};
use patchbay_gateway::{Gateway, GatewayError};
use patchbay_store::{
    Account, AutoTranscription, Conflict, Recording, RecordingStore, StoreError, Transcript, TranscriptOutcome,
    TranscriptState, TranscriptStore,
};

use crate::Exporter;

/// How often a run beats its heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Transcripts a node makes at once (each holds a vendor WebSocket and reads its audio);
/// the others wait their turn, `running` with their heartbeat beating.
const AT_ONCE: usize = 8;
/// A running transcript whose heartbeat is older than this belongs to a dead node.
pub const TRANSCRIPT_EXPIRY: Duration = Duration::from_secs(120);

/// How often a node looks for new recordings whose automatic transcript never started (the
/// node that took their audio stopped before starting it); a recording younger than this
/// is left to the start its arrival made.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Recordings one sweep starts at most per tenant and service; the next sweep takes more.
const SWEEP_BATCH: i64 = 100;

/// Who asks for the transcripts the tenant's automatic transcription starts.
pub const AUTO: &str = "auto";

/// A failed run with no utterances (its error is set by the caller).
fn failed_outcome(account_id: Option<uuid::Uuid>) -> TranscriptOutcome {
    TranscriptOutcome {
        state: TranscriptState::Failed,
        account_id,
        sentiment_account_id: None,
        utterances: serde_json::json!([]),
        text: String::new(),
        error_category: None,
        error: None,
        sentiment_error: None,
    }
}

/// Why a transcript could not start.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("the recording was not found")]
    NoRecording,
    #[error("the recording has no audio yet; upload it first")]
    NoAudio,
    #[error("the recording's transcript is being made; wait for it to finish")]
    Running,
    /// No account fits, the named one cannot be used, or the request breaks a rule.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for TranscribeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(Conflict::TranscriptRunning) => TranscribeError::Running,
            other => TranscribeError::Store(other),
        }
    }
}

/// What the transcriber works with.
pub struct TranscriberDeps {
    pub recordings: Arc<dyn RecordingStore>,
    pub transcripts: Arc<dyn TranscriptStore>,
    pub exporter: Arc<Exporter>,
    pub gateway: Arc<Gateway>,
}

/// Starts transcripts and runs them on this node.
pub struct Transcriber {
    node: String,
    deps: TranscriberDeps,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Transcriber {
    pub fn new(node: String, deps: TranscriberDeps) -> Arc<Transcriber> {
        Arc::new(Transcriber { node, deps, slots: Arc::new(tokio::sync::Semaphore::new(AT_ONCE)) })
    }

    /// Starts the recording's transcript with the named Speech To Text account (else the
    /// tenant's default): the running transcript; the work goes on in the background.
    pub async fn start(
        self: &Arc<Self>,
        tenant: &str,
        recording_id: &str,
        request: &TranscriptRequest,
        actor: &str,
    ) -> Result<Transcript, TranscribeError> {
        let recording = match self.deps.recordings.get_recording(tenant, recording_id).await {
            Err(StoreError::NotFound) => return Err(TranscribeError::NoRecording),
            other => other?,
        };
        if recording.audio.is_none() {
            return Err(TranscribeError::NoAudio);
        }
        patchbay_gateway::check_model(request.model.as_deref())?;
        let account = self.deps.gateway.stt_account(tenant, request.account).await?;
        let transcript =
            self.deps.transcripts.start_transcript(tenant, recording_id, actor, &self.node, TRANSCRIPT_EXPIRY).await?;
        let this = self.clone();
        let model = request.model.clone();
        tokio::spawn(async move { this.run(recording, account, model).await });
        Ok(transcript)
    }

    /// A recording's audio arrived: transcribes it when the tenant's automatic
    /// transcription is on for its service. A failure to start is kept as the recording's
    /// failed transcript (with what to do), so it shows where transcripts are read.
    pub async fn audio_arrived(self: &Arc<Self>, recording: &Recording) {
        let (tenant, id) = (&recording.tenant_id, &recording.meta.id);
        let settings = match self.deps.transcripts.auto_transcription(tenant).await {
            Ok(settings) => settings,
            Err(e) => {
                tracing::warn!(%tenant, recording = %id, error = %e, "cannot read the automatic transcription");
                return;
            }
        };
        let service = &recording.meta.service;
        if !settings.enabled || !(settings.services.is_empty() || settings.services.contains(service)) {
            return;
        }
        let request = TranscriptRequest { account: settings.account_id, model: settings.model };
        let failure = match self.start(tenant, id, &request, AUTO).await {
            Ok(_) => return,
            Err(TranscribeError::Gateway(e)) => e,
            Err(e) => {
                tracing::warn!(%tenant, recording = %id, error = %e, "the automatic transcript did not start");
                return;
            }
        };
        let kept = async {
            self.deps.transcripts.start_transcript(tenant, id, AUTO, &self.node, TRANSCRIPT_EXPIRY).await?;
            let outcome = TranscriptOutcome {
                error_category: failure
                    .category()
                    .and_then(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_owned)),
                error: Some(format!("the automatic transcription could not start: {failure}")),
                ..failed_outcome(None)
            };
            self.deps.transcripts.finish_transcript(tenant, id, &self.node, &outcome).await
        };
        if let Err(e) = kept.await {
            tracing::warn!(%tenant, recording = %id, error = %e, "the automatic transcript's failure could not be kept");
        }
    }

    /// Sweeps every `every` on this node (see [`SWEEP_EVERY`]) until the runtime ends.
    pub fn spawn_sweep(self: &Arc<Self>, every: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match this.sweep(every).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(recordings = n, "started automatic transcripts that had not started"),
                    Err(e) => tracing::warn!(error = %e, "the automatic transcription sweep failed"),
                }
            }
        });
    }

    /// Starts the automatic transcripts that never started: recordings with audio, received
    /// since their tenant's automatic transcription was last set and more than `grace` ago,
    /// of its services, with no transcript. How many it tried.
    pub async fn sweep(self: &Arc<Self>, grace: Duration) -> Result<usize, StoreError> {
        let until = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let mut tried = 0;
        for (tenant, auto, since) in self.deps.transcripts.auto_transcriptions().await? {
            let services: Vec<Option<&str>> = match auto.services.is_empty() {
                true => vec![None],
                false => auto.services.iter().map(|s| Some(s.as_str())).collect(),
            };
            for service in services {
                let missed =
                    self.deps.recordings.untranscribed_recordings(&tenant, service, since, until, SWEEP_BATCH).await?;
                for recording in &missed {
                    self.audio_arrived(recording).await;
                }
                tried += missed.len();
            }
        }
        Ok(tried)
    }

    /// The tenant's automatic transcription.
    pub async fn auto(&self, tenant: &str) -> Result<AutoTranscription, StoreError> {
        self.deps.transcripts.auto_transcription(tenant).await
    }

    /// Replaces the tenant's automatic transcription: each service named once, a model
    /// name, and an account that is an enabled Speech To Text account of the tenant.
    pub async fn set_auto(
        &self,
        tenant: &str,
        settings: &TranscriptionSettings,
        actor: &str,
    ) -> Result<AutoTranscription, TranscribeError> {
        let invalid =
            |field, rule, message: String| TranscribeError::Gateway(GatewayError::invalid(field, rule, message));
        if settings.services.len() > TranscriptionSettings::MAX_SERVICES {
            return Err(invalid(
                "services",
                "max_items",
                format!("at most {} services", TranscriptionSettings::MAX_SERVICES),
            ));
        }
        let mut services: Vec<String> = Vec::with_capacity(settings.services.len());
        for service in &settings.services {
            let max = TranscriptionSettings::SERVICE_MAX_CHARS;
            if service.trim().is_empty() || service.chars().count() > max || service.chars().any(char::is_control) {
                return Err(invalid(
                    "services",
                    "name",
                    format!("a service is 1-{max} characters without control characters"),
                ));
            }
            if services.contains(service) {
                return Err(invalid("services", "unique", format!("`{service}` is listed twice")));
            }
            services.push(service.clone());
        }
        patchbay_gateway::check_model(settings.model.as_deref())?;
        if let Some(id) = settings.account {
            self.deps.gateway.stt_account(tenant, Some(id)).await.map_err(|e| match e {
                GatewayError::AccountNotFound => {
                    invalid("account", "account", format!("account {id} is not one of the tenant's"))
                }
                GatewayError::Conflict { rule, message, .. } => invalid("account", rule, message),
                other => TranscribeError::Gateway(other),
            })?;
        }
        let auto = AutoTranscription {
            enabled: settings.enabled,
            services,
            account_id: settings.account,
            model: settings.model.clone(),
        };
        self.deps.transcripts.set_auto_transcription(tenant, &auto, actor).await?;
        Ok(auto)
    }

    /// The recording's transcript as it stands.
    pub async fn transcript(&self, tenant: &str, recording_id: &str) -> Result<Transcript, StoreError> {
        self.deps.transcripts.get_transcript(tenant, recording_id).await
    }

    async fn run(self: Arc<Self>, recording: Recording, account: Arc<Account>, model: Option<String>) {
        let (tenant, id) = (recording.tenant_id.clone(), recording.meta.id.clone());
        let beat = {
            let (transcripts, node, tenant, id) =
                (self.deps.transcripts.clone(), self.node.clone(), tenant.clone(), id.clone());
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(HEARTBEAT);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    if let Err(e) = transcripts.beat_transcript(&tenant, &id, &node).await {
                        tracing::warn!(%tenant, recording = %id, error = %e, "the transcript's heartbeat failed");
                    }
                }
            })
        };
        // The semaphore is never closed, so a slot always comes.
        let slot = self.slots.acquire().await;
        let outcome = self.transcribe(&recording, &account, model.as_deref()).await;
        drop(slot);
        beat.abort();
        let state = outcome.state;
        match self.deps.transcripts.finish_transcript(&tenant, &id, &self.node, &outcome).await {
            Ok(_) => tracing::info!(%tenant, recording = %id, state = state.as_str(), "transcript finished"),
            Err(e) => tracing::warn!(%tenant, recording = %id, error = %e, "the transcript could not be saved"),
        }
    }

    async fn transcribe(&self, recording: &Recording, account: &Account, model: Option<&str>) -> TranscriptOutcome {
        let tenant = &recording.tenant_id;
        let failed = |category: Option<String>, error: String| TranscriptOutcome {
            error_category: category,
            error: Some(error),
            ..failed_outcome(Some(account.id))
        };
        let media_type = recording.audio.as_ref().map(|a| a.content_type.clone()).unwrap_or_default();
        let body = match self.deps.exporter.audio_body(recording, None).await {
            Ok(body) => body,
            Err(e) => return failed(None, e.to_string()),
        };
        let pieces = match self.deps.gateway.transcribe_recording(tenant, account, model, &media_type, body).await {
            Ok(pieces) => pieces,
            Err(e) => {
                let category = e.category().and_then(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_owned));
                return failed(category, e.to_string());
            }
        };
        let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
        let sentiments = match self.deps.gateway.sentiments(tenant, &texts).await {
            Ok(sentiments) => sentiments,
            Err(e) => patchbay_gateway::Sentiments {
                account: None,
                each: vec![None; texts.len()],
                error: Some(format!("no sentiment: {e}")),
            },
        };
        let utterances: Vec<Utterance> = pieces
            .iter()
            .zip(&sentiments.each)
            .map(|(piece, sentiment)| Utterance {
                start: piece.start,
                end: piece.end,
                text: piece.text.clone(),
                confidence: piece.confidence,
                sentiment: sentiment.map(|(label, score)| UtteranceSentiment { label, score }),
            })
            .collect();
        TranscriptOutcome {
            state: TranscriptState::Done,
            account_id: Some(account.id),
            sentiment_account_id: sentiments.account,
            utterances: serde_json::to_value(&utterances).unwrap_or_else(|_| serde_json::json!([])),
            text: texts.join("\n"),
            error_category: None,
            error: None,
            sentiment_error: sentiments.error,
        }
    }
}
