//! The parts of recording intake, export to S3 and playback: metadata checks and the audio
//! dir (streamed to disk, synced and renamed into place), export job settings and windows,
//! object keys from file name templates, the S3 client (single PUT or resumable multipart
//! with bounded memory, checksums verified, HEAD, retries, bandwidth cap, bucket region,
//! ranged reads) and the per-run metadata CSV. Every request goes through the connectors'
//! `Egress` and is signed with the account's SigV4 signer (`S3Target`). The server's
//! `export` module runs the jobs with these; see docs/recordings.md.

pub mod csv;
pub mod intake;
pub mod job;
pub mod template;
pub mod upload;

pub use csv::{ExportStatus, MetadataCsv, COLUMNS};
pub use intake::{content_type_for, extension_for, meta_from_body, AudioDir, WriteError, Written, AUDIO_TYPES};
pub use job::{JobSettings, Window};
pub use template::{check_recording_id, KeyTemplate, RecordingMeta, TemplateError};
pub use upload::{
    ByteRange, ErrorKind, ObjectHead, ObjectInfo, ObjectStream, S3Client, S3Error, StoredPart, UploadOptions, Uploaded,
};
