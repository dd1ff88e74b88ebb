//! The parts of recording intake, export to S3 and playback: metadata checks (a body read
//! into the API's `RecordingMeta`, every problem at once) and the audio dir (streamed to
//! disk, synced and renamed into place), export job settings (read into the API's
//! `JobSettings`) and their schedule, object keys from file name templates, the S3 client
//! (single PUT or resumable multipart with bounded memory, checksums verified, HEAD,
//! retries, bandwidth cap, bucket region, ranged reads) and the per-run metadata CSV. Every
//! request goes through the connectors' `Egress` and is signed with the account's SigV4
//! signer (`S3Target`). The jobs crate's exporter runs the jobs with these; see
//! docs/recordings.md.

pub mod csv;
pub mod intake;
pub mod job;
pub mod template;
pub mod upload;

pub use csv::{ExportStatus, MetadataCsv, COLUMNS};
pub use intake::{content_type_for, extension_for, meta_from_body, AudioDir, WriteError, Written, AUDIO_TYPES};
pub use job::{settings_from_body, Schedule};
pub use template::{check_recording_id, KeyTemplate, RecordingMeta, TemplateError};
pub use upload::{
    ByteRange, ErrorKind, ObjectHead, ObjectInfo, ObjectStream, S3Client, S3Error, StoredPart, UploadOptions, Uploaded,
};
