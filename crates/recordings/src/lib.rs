//! The foundation of recording export to S3 and playback from it (issue 7): object keys
//! from file name templates over a recording's metadata, streaming uploads with bounded
//! memory (single PUT or multipart, checksums verified, retries, bandwidth cap), ranged
//! reads for playback, and the per-run metadata CSV. Every request goes through the
//! connectors' `Egress` and is signed with the account's SigV4 signer (`S3Target`).
//! The export jobs, intake and store tables build on this; see docs/recordings.md.

pub mod csv;
pub mod intake;
pub mod job;
pub mod template;
pub mod upload;

pub use csv::{ExportStatus, MetadataCsv, COLUMNS};
pub use intake::{content_type_for, extension_for, meta_from_body, AudioDir, WriteError, Written, AUDIO_TYPES};
pub use job::{JobSettings, Window};
pub use template::{check_recording_id, KeyTemplate, RecordingMeta, TemplateError, TOKENS};
pub use upload::{
    ByteRange, ErrorKind, ObjectHead, ObjectInfo, ObjectStream, S3Client, S3Error, StoredPart, UploadOptions, Uploaded,
};
