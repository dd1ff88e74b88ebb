//! The engines that run beside request handling: the recording export scheduler, runs and
//! takeover ([`Exporter`]), the recording intake the API and the spool share ([`Intake`]),
//! the spool watcher ([`Spool`]), the feed reconciler ([`FeedReconciler`]), the transcripts of
//! recordings ([`Transcriber`], through the runtime gateway) and a recording's audio from
//! wherever it is ([`Exporter::audio_body`]).
//!
//! The server constructs each engine with the stores, the account-secrets service, the
//! egress policy and a [`JobMetrics`] handle, starts them, and calls their methods from
//! handlers. Must not: answer HTTP, check access, import the server crate, or open a secret
//! but through `patchbay_secrets`. Errors are this crate's own types; the server maps them
//! to its problem responses.

mod audio;
mod export;
mod feeds;
mod intake;
mod spool;
mod transcribe;

pub use audio::{AudioBody, AudioError};
pub use export::{node_id, ExportDeps, Exporter, StartError, MAX_AUDIO_BYTES};
pub use feeds::{FeedReconciler, RECONCILE_EVERY};
pub use intake::{Intake, IntakeError};
pub use spool::Spool;
pub use transcribe::{TranscribeError, Transcriber, TranscriberDeps, AUTO, SWEEP_EVERY, TRANSCRIPT_EXPIRY};

/// The counters the engines update; the server's `/metrics` implements it.
pub trait JobMetrics: Send + Sync {
    /// Recording audio stored (`stored`) or refused (`refused`).
    fn record_recording(&self, outcome: &str);
    /// A recording an export run exported (`success`, with its bytes) or failed.
    fn record_export_file(&self, outcome: &str, bytes: u64);
    /// An export run started (`None`) or finished with `outcome`.
    fn record_export_run(&self, outcome: Option<&str>);
}
