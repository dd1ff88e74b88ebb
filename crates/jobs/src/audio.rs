//! A recording's audio as a stream of bytes, whole or one byte range, from wherever it is
//! now: the data dir, or the bucket of an export that verified it (tried in turn). Playback
//! and transcription read it the same way.

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use patchbay_recordings::ByteRange;
use patchbay_store::{AudioState, ExportState, Recording, StoreError};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::Exporter;

/// Audio bytes as they are read.
pub type AudioBody = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("recording {0} has no audio yet")]
    NoAudio(String),
    /// The data dir's copy cannot be read (the server's own failure).
    #[error("the audio of recording {0} cannot be read: {1}")]
    Local(String, String),
    /// Only a bucket holds the audio, and none could be read.
    #[error("the audio of recording {0} is only in S3 and could not be read: {1}")]
    Remote(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Exporter {
    /// The recording's audio, or bytes `start..=end` of it.
    pub async fn audio_body(&self, recording: &Recording, range: Option<(u64, u64)>) -> Result<AudioBody, AudioError> {
        let id = &recording.meta.id;
        let Some(audio) = recording.audio.as_ref() else {
            return Err(AudioError::NoAudio(id.clone()));
        };
        let (start, end) = range.unwrap_or((0, (audio.size as u64).saturating_sub(1)));
        match recording.audio_state {
            AudioState::None => Err(AudioError::NoAudio(id.clone())),
            AudioState::Local => {
                let local = |e: std::io::Error| AudioError::Local(id.clone(), e.to_string());
                let mut file = tokio::fs::File::open(self.audio.path(&recording.tenant_id, id)).await.map_err(local)?;
                file.seek(std::io::SeekFrom::Start(start)).await.map_err(local)?;
                let length = end + 1 - start;
                Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(file.take(length), 64 * 1024)))
            }
            AudioState::Removed => {
                self.remote_body(recording, range.map(|_| ByteRange { start, end: Some(end) })).await
            }
        }
    }

    async fn remote_body(&self, recording: &Recording, range: Option<ByteRange>) -> Result<AudioBody, AudioError> {
        let (tenant, id) = (&recording.tenant_id, &recording.meta.id);
        let exports = self.deps.recordings.exports_of_recording(tenant, id).await?;
        let mut last_error = None;
        for export in exports.iter().filter(|e| e.state == ExportState::Success) {
            let client = match self.client_for(tenant, export.account_id, export.place.as_ref(), None).await {
                Ok((client, _)) => client,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            match client.get_range(&export.object_key, range).await {
                Ok(stream) if matches!(stream.status, 200 | 206) => {
                    return Ok(Box::pin(futures::stream::unfold(stream, |mut stream| async move {
                        match stream.chunk().await {
                            Ok(Some(chunk)) => Some((Ok(chunk), stream)),
                            Ok(None) => None,
                            Err(e) => Some((Err(std::io::Error::other(e.message)), stream)),
                        }
                    })));
                }
                Ok(stream) => {
                    last_error = Some(format!("S3 answered HTTP {} for `{}`", stream.status, export.object_key))
                }
                Err(e) => last_error = Some(e.message),
            }
        }
        Err(AudioError::Remote(id.clone(), last_error.unwrap_or_else(|| "no finished export holds it".into())))
    }
}
