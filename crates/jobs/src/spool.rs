//! The recordings spool folder, for platforms that drop files instead of calling the API.
//!
//! Layout: `SPOOL/{tenant}/{recording id}.{audio extension}` (`wav`, `mp3`, ... see
//! `AUDIO_TYPES`) and `SPOOL/{tenant}/{recording id}.json` with the same metadata the API
//! takes. The platform writes the audio first and the JSON last (ideally by renaming it into
//! place): the JSON is the signal that both are complete. Every `POLL` the folder is
//! scanned; a recording taken in is removed from the spool. One that cannot be taken in is
//! moved to `SPOOL/{tenant}/rejected/` with `{id}.error.txt` saying why; a JSON whose audio
//! has not arrived after `AUDIO_GRACE` is rejected too.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use patchbay_recordings::{content_type_for, meta_from_body, AUDIO_TYPES};
use patchbay_store::Store;
use serde_json::Value;

use crate::{Exporter, Intake, MAX_AUDIO_BYTES};

const POLL: Duration = Duration::from_secs(2);
const AUDIO_GRACE: Duration = Duration::from_secs(600);

/// The spool folder and what it takes recordings in through.
pub struct Spool {
    pub folder: PathBuf,
    /// Tenants (a folder of a tenant that does not exist is left alone).
    pub store: Arc<dyn Store>,
    pub intake: Intake,
    /// Where the audio goes.
    pub exporter: Arc<Exporter>,
}

impl Spool {
    /// Watches the folder for as long as the process runs.
    pub fn spawn(self) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.scan().await {
                    tracing::warn!(spool = %self.folder.display(), error = %e, "cannot scan the recordings spool");
                }
            }
        });
    }

    /// One pass over the spool; returns how many recordings were taken in.
    pub async fn scan(&self) -> std::io::Result<usize> {
        let mut taken = 0;
        let mut tenants = tokio::fs::read_dir(&self.folder).await?;
        while let Some(entry) = tenants.next_entry().await? {
            if !entry.file_type().await?.is_dir() {
                continue;
            }
            let tenant = entry.file_name().to_string_lossy().into_owned();
            if self.store.get_tenant(&tenant).await.is_err() {
                continue;
            }
            let mut files = tokio::fs::read_dir(entry.path()).await?;
            while let Some(file) = files.next_entry().await? {
                let path = file.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else { continue };
                match self.take(&tenant, &entry.path(), &id, &path).await {
                    Ok(true) => taken += 1,
                    Ok(false) => {}
                    Err(why) => reject(&entry.path(), &id, &why).await,
                }
            }
        }
        Ok(taken)
    }

    /// Takes in one recording: `Ok(false)` while its audio has not arrived.
    async fn take(&self, tenant: &str, dir: &Path, id: &str, json: &Path) -> Result<bool, String> {
        let audio = AUDIO_TYPES.iter().map(|(_, ext)| dir.join(format!("{id}.{ext}"))).find(|p| p.is_file());
        let Some(audio) = audio else {
            let age = tokio::fs::metadata(json)
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            if age > AUDIO_GRACE {
                return Err(format!("no audio file {id}.<{}> arrived within 10 minutes of its metadata", extensions()));
            }
            return Ok(false);
        };
        let text = tokio::fs::read(json).await.map_err(|e| format!("cannot read {}: {e}", json.display()))?;
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&text) else {
            return Err("the metadata file is not a JSON object".into());
        };
        let meta = meta_from_body(id, &body).map_err(|errors| describe(&errors))?;
        let extension = audio.extension().and_then(|e| e.to_str()).unwrap_or_default().to_owned();
        let content_type = content_type_for(&extension).unwrap_or("audio/wav");
        self.intake.store_meta(tenant, id, meta).await.map_err(|e| e.to_string())?;
        self.intake.audio_replaceable(tenant, id).await.map_err(|e| e.to_string())?;
        let written =
            self.exporter.audio.import(tenant, id, &audio, MAX_AUDIO_BYTES).await.map_err(|e| e.to_string())?;
        self.intake.record_audio(tenant, id, written, content_type, &extension).await.map_err(|e| e.to_string())?;
        for done in [&audio, json] {
            if let Err(e) = tokio::fs::remove_file(done).await {
                tracing::warn!(file = %done.display(), error = %e, "cannot remove a spooled file that was taken in");
            }
        }
        tracing::info!(tenant, recording = id, "took in a recording from the spool");
        Ok(true)
    }
}

fn extensions() -> String {
    let mut all: Vec<&str> = AUDIO_TYPES.iter().map(|(_, ext)| *ext).collect();
    all.dedup();
    all.join("|")
}

/// One line per problem: `field (rule): message`.
fn describe(errors: &[patchbay_catalog::FieldError]) -> String {
    errors.iter().map(|e| format!("{} ({}): {}", e.field, e.rule, e.message)).collect::<Vec<_>>().join("\n")
}

/// Moves a recording's files to `rejected/` with the reason beside them.
async fn reject(dir: &Path, id: &str, why: &str) {
    let rejected = dir.join("rejected");
    if let Err(e) = tokio::fs::create_dir_all(&rejected).await {
        tracing::warn!(dir = %rejected.display(), error = %e, "cannot create the spool's rejected folder");
        return;
    }
    let mut names = vec![format!("{id}.json")];
    names.extend(AUDIO_TYPES.iter().map(|(_, ext)| format!("{id}.{ext}")));
    names.dedup();
    for name in names {
        let from = dir.join(&name);
        if from.exists() {
            let _ = tokio::fs::rename(&from, rejected.join(&name)).await;
        }
    }
    let _ = tokio::fs::write(rejected.join(format!("{id}.error.txt")), format!("{why}\n")).await;
    tracing::warn!(dir = %dir.display(), recording = id, reason = why, "rejected a spooled recording");
}
