//! Recording intake shared by the API and the spool: metadata creates or replaces a
//! recording until it is exported; audio is accepted for a recording that exists and is
//! not exported yet.

use std::sync::Arc;

use patchbay_api::RecordingMeta;
use patchbay_recordings::Written;
use patchbay_store::{Audio, Export, ExportState, Recording, RecordingStore, RecordingWrite, StoreError};

use crate::{JobMetrics, Transcriber};

/// Why a recording's metadata or audio was not taken in.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The recording (described by the text) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The recording was exported: its metadata and audio are fixed.
    #[error("{0}")]
    Exported(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores recordings' metadata and audio records; counts received audio.
#[derive(Clone)]
pub struct Intake {
    recordings: Arc<dyn RecordingStore>,
    metrics: Arc<dyn JobMetrics>,
    /// Told of each recording whose audio arrived (automatic transcription).
    transcriber: Arc<Transcriber>,
}

fn exported(exports: &[Export]) -> Option<&Export> {
    exports.iter().find(|e| e.state == ExportState::Success)
}

impl Intake {
    pub fn new(
        recordings: Arc<dyn RecordingStore>,
        metrics: Arc<dyn JobMetrics>,
        transcriber: Arc<Transcriber>,
    ) -> Intake {
        Intake { recordings, metrics, transcriber }
    }

    /// Creates recording `id` (`true`) or replaces its metadata (`false`); refused once it is
    /// exported, as its keys were made from it.
    pub async fn store_meta(
        &self,
        tenant: &str,
        id: &str,
        meta: RecordingMeta,
    ) -> Result<(bool, Recording), IntakeError> {
        let write = RecordingWrite {
            id: id.to_owned(),
            global_interaction_id: meta.global_interaction_id,
            call_started_at: meta.call_started_at,
            agent_login: meta.agent_login,
            agent_first_name: meta.agent_first_name,
            agent_last_name: meta.agent_last_name,
            customer_phone: meta.customer_phone,
            direction: meta.direction.as_str().to_owned(),
            service: meta.service,
            disposition: meta.disposition,
            flagged: meta.flagged,
        };
        let store = &self.recordings;
        let stored = match store.get_recording(tenant, id).await {
            Err(StoreError::NotFound) => match store.insert_recording(tenant, &write).await {
                Ok(recording) => (true, recording),
                Err(StoreError::Conflict(_)) => (false, store.update_recording(tenant, &write).await?),
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
            Ok(current) if current.meta == write => (false, current),
            Ok(_) => {
                let exports = store.exports_of_recording(tenant, id).await?;
                if let Some(done) = exported(&exports) {
                    return Err(IntakeError::Exported(format!(
                        "the recording was exported as `{}`; its metadata can no longer change",
                        done.object_key
                    )));
                }
                (false, store.update_recording(tenant, &write).await?)
            }
        };
        Ok(stored)
    }

    /// The recording whose audio is about to be stored: it must exist and not be exported yet.
    pub async fn audio_replaceable(&self, tenant: &str, id: &str) -> Result<Recording, IntakeError> {
        let current = self.recordings.get_recording(tenant, id).await.map_err(|e| match e {
            StoreError::NotFound => {
                IntakeError::NotFound("recording (PUT its metadata to /recordings/{recording_id} before its audio)")
            }
            other => other.into(),
        })?;
        let exports = self.recordings.exports_of_recording(tenant, id).await?;
        if let Some(done) = exported(&exports) {
            let sha = current.audio.as_ref().map_or("", |a| a.sha256.as_str());
            return Err(IntakeError::Exported(format!(
                "the recording's audio was exported as `{}` and cannot be replaced (stored SHA-256 {sha})",
                done.object_key
            )));
        }
        Ok(current)
    }

    /// Records audio now in the data dir on its recording.
    pub async fn record_audio(
        &self,
        tenant: &str,
        id: &str,
        written: Written,
        content_type: &str,
        extension: &str,
    ) -> Result<Recording, IntakeError> {
        let audio = Audio {
            size: written.size as i64,
            sha256: written.sha256,
            content_type: content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase(),
            extension: extension.to_owned(),
        };
        let recording = self.recordings.set_recording_audio(tenant, id, &audio).await.map_err(|e| match e {
            StoreError::NotFound => IntakeError::NotFound("recording"),
            other => other.into(),
        })?;
        self.metrics.record_recording("stored");
        self.transcriber.audio_arrived(&recording).await;
        Ok(recording)
    }
}
