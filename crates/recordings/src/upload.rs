//! Uploads of local files and small bodies to S3, ranged reads and HEADs back, through
//! `Egress`, signed with the account's SigV4 signer.
//!
//! - A file of at most `part_size` bytes is one PUT (`put_file`; `put_bytes` for a body in
//!   memory); a larger one is a multipart upload in steps whose state a caller can persist
//!   in between: `create_multipart` (CreateMultipartUpload, the upload id to store),
//!   `continue_multipart` (ListParts, UploadPart per `part_size` bytes, CompleteMultipartUpload)
//!   and `abort_multipart_upload`. `continue_multipart` may run again after a crash or a
//!   cancel: a part S3 already holds with the local part's size and MD5 ETag is not sent
//!   again. It never aborts; `upload_file` composes the steps and aborts when one fails.
//!   Parts go one after another, each read into a buffer of at most `part_size` bytes:
//!   memory stays bounded whatever the file size.
//! - The content type and a declared SHA-256 (user metadata `sha256`, `x-amz-meta-sha256`)
//!   go with the PUT or the CreateMultipartUpload as signed headers; a single PUT refuses a
//!   body whose SHA-256 is not the declared one. `head` reads them back.
//! - Every body is signed (`x-amz-content-sha256` is its SHA-256) and carries `Content-MD5`,
//!   so S3 refuses a body damaged on the way; the ETag S3 answers is compared with the MD5
//!   (per part, and `md5(part md5s)-N` for the whole object) when it has that form (SSE-KMS
//!   objects have other ETags).
//! - Each request is retried on transport errors, 5xx, 429 and S3's `RequestTimeout`, at
//!   most `max_attempts` times with doubling waits; other answers fail at once.
//! - An optional bandwidth cap is a token bucket of one second's bytes, charged per request
//!   body before it is sent: the average rate stays under the cap, a single body may go
//!   faster.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use md5::{Digest as _, Md5};
use patchbay_api::Category;
use patchbay_connectors::{Egress, S3Target, EMPTY_SHA256};
use reqwest::{Method, StatusCode};
use sha2::Sha256;

/// Smallest part S3 accepts (but for the last).
const MIN_PART: usize = 5 * 1024 * 1024;
/// Largest part this uploader buffers.
const MAX_PART: usize = 64 * 1024 * 1024;
/// S3's limit on parts per upload.
const MAX_PARTS: u64 = 10_000;
/// Parts asked for per ListParts page (S3's maximum).
const LIST_PAGE: &str = "1000";
/// Largest answer read whole (XML of S3 replies and errors).
const MAX_REPLY: usize = 1024 * 1024;
/// Longest content type accepted.
const MAX_CONTENT_TYPE: usize = 255;
/// Sent with every PutObject and CompleteMultipartUpload: write only where no object is.
const ONLY_IF_ABSENT: (&str, &str) = ("if-none-match", "*");

#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Bytes per part, and the largest file sent as a single PUT (5 to 64 MiB).
    pub part_size: usize,
    /// Attempts per request (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub first_backoff: Duration,
    /// Timeout of one request, body included.
    pub request_timeout: Duration,
    /// Average upload rate cap, in bytes per second.
    pub bandwidth_limit: Option<u64>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            part_size: 8 * 1024 * 1024,
            max_attempts: 4,
            first_backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(300),
            bandwidth_limit: None,
        }
    }
}

/// What kind of failure, for the caller to decide (mark a row failed, retry next run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidConfig,
    NotFound,
    /// The multipart upload id is unknown to S3: aborted, completed, expired or made up.
    /// Start over (after a `head` of the key, in case it was completed).
    NoSuchUpload,
    InvalidCredentials,
    Permission,
    Checksum,
    Blocked,
    /// The S3 server could not be reached, or the connection broke off.
    Transport,
    /// The S3 server did not answer in time.
    Timeout,
    /// The S3 server failed or asked to slow down (HTTP 5xx, 429, `SlowDown`).
    Unavailable,
    Io,
    UnexpectedResponse,
    /// The bucket already holds the key: objects are written only where none is (S3's
    /// conditional write, `If-None-Match: *`), so nothing is ever uploaded twice, even by a
    /// writer that lost its run while it was paused. `head` tells whether it is the same.
    Exists,
    /// The client's stop flag was set (its run was taken over): nothing was sent.
    Stopped,
}

/// A failed S3 operation. The message names the operation, bucket or key and S3's error
/// code, never credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct S3Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl S3Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> S3Error {
        S3Error { kind, message: message.into() }
    }

    /// What kind of failure it is for the user (whose title and advice the admin screen
    /// shows); `None` for a failure on this server's side (its local file, its run stopped).
    pub fn category(&self) -> Option<Category> {
        match self.kind {
            ErrorKind::InvalidConfig => Some(Category::InvalidConfig),
            ErrorKind::NotFound => Some(Category::NotFound),
            ErrorKind::InvalidCredentials => Some(Category::InvalidCredentials),
            ErrorKind::Permission => Some(Category::Permission),
            ErrorKind::Blocked => Some(Category::Blocked),
            ErrorKind::Transport => Some(Category::Unreachable),
            ErrorKind::Timeout => Some(Category::Timeout),
            ErrorKind::Unavailable => Some(Category::VendorError),
            ErrorKind::NoSuchUpload | ErrorKind::Checksum | ErrorKind::UnexpectedResponse | ErrorKind::Exists => {
                Some(Category::UnexpectedResponse)
            }
            ErrorKind::Io | ErrorKind::Stopped => None,
        }
    }
}

/// What is stored with an object besides its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectInfo<'a> {
    /// `Content-Type`, e.g. `audio/wav` (visible ASCII, single spaces, at most 255 bytes);
    /// S3's default (`binary/octet-stream`) when absent.
    pub content_type: Option<&'a str>,
    /// SHA-256 of the content, 64 lowercase hex digits, stored as the user metadata `sha256`.
    pub sha256: Option<&'a str>,
}

impl<'a> ObjectInfo<'a> {
    /// The signed headers that carry it; `InvalidConfig` when a value cannot be sent as is.
    fn headers(&self) -> Result<Vec<(&'static str, &'a str)>, S3Error> {
        let mut headers = Vec::new();
        if let Some(content_type) = self.content_type {
            let bytes = content_type.as_bytes();
            let printable = bytes.iter().all(|b| (b' '..=b'~').contains(b));
            let spaced =
                bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') || bytes.windows(2).any(|w| w == b"  ");
            if bytes.is_empty() || bytes.len() > MAX_CONTENT_TYPE || !printable || spaced {
                return Err(S3Error::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "the content type {content_type:?} is not 1 to 255 visible ASCII characters and single spaces"
                    ),
                ));
            }
            headers.push(("content-type", content_type));
        }
        if let Some(sha256) = self.sha256 {
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(S3Error::new(
                    ErrorKind::InvalidConfig,
                    format!("the SHA-256 {sha256:?} is not 64 lowercase hex digits"),
                ));
            }
            headers.push(("x-amz-meta-sha256", sha256));
        }
        Ok(headers)
    }
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub key: String,
    pub size: u64,
    /// 1 for a single PUT.
    pub parts: u32,
    /// Parts S3 held from an earlier attempt and that were not sent again.
    pub parts_skipped: u32,
    /// The ETag S3 answered, without quotes.
    pub etag: String,
    /// SHA-256 (hex) of the object's bytes, as read from the file or body.
    pub sha256: String,
}

/// A part S3 holds for a multipart upload, as ListParts tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub number: u32,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
}

/// An object as HeadObject tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// The user metadata `sha256` (`x-amz-meta-sha256`).
    pub sha256: Option<String>,
    pub content_type: Option<String>,
}

/// An inclusive byte range; `end: None` reads to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: Option<u64>,
}

/// An object (or part of one) being read.
pub struct ObjectStream {
    /// 200 for a whole object, 206 for a range.
    pub status: u16,
    pub content_length: Option<u64>,
    /// `bytes START-END/TOTAL` for a range.
    pub content_range: Option<String>,
    response: reqwest::Response,
}

impl ObjectStream {
    /// The next chunk of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, S3Error> {
        self.response.chunk().await.map_err(|e| transport(&e))
    }
}

/// The bandwidth cap: a bucket of at most one second's bytes that may go into debt; a
/// debt is waited off before the next body is sent.
#[derive(Debug)]
struct Throttle {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Throttle {
    fn new(rate: u64, now: Instant) -> Throttle {
        Throttle { rate: rate as f64, tokens: rate as f64, last: now }
    }

    /// Takes `bytes` tokens at `now`; the wait before sending them.
    fn reserve(&mut self, bytes: usize, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate) - bytes as f64;
        self.last = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// Uploads to and reads from one bucket.
pub struct S3Client {
    egress: Egress,
    target: S3Target,
    options: UploadOptions,
    throttle: Option<Mutex<Throttle>>,
    peak_buffer: AtomicUsize,
    /// Once set, every request fails with `ErrorKind::Stopped` before it is sent.
    stop: Option<Arc<AtomicBool>>,
}

/// A body to send with its digests: MD5 for `Content-MD5` and the ETag check, SHA-256 (hex)
/// for the signature.
struct Part {
    body: Bytes,
    md5: [u8; 16],
    sha256: String,
}

impl Part {
    fn of(body: Bytes) -> Part {
        Part { md5: Md5::digest(&body).into(), sha256: hex::encode(Sha256::digest(&body)), body }
    }
}

/// One signed request: method, key, query, extra signed headers, body.
struct Call<'a> {
    op: &'static str,
    method: Method,
    key: &'a str,
    query: &'a [(&'a str, &'a str)],
    headers: &'a [(&'a str, &'a str)],
    body: Bytes,
    /// The body's SHA-256 (hex) when already known; computed otherwise.
    body_sha256: Option<&'a str>,
}

impl S3Client {
    pub fn new(egress: Egress, target: S3Target, options: UploadOptions) -> Result<S3Client, S3Error> {
        if !(MIN_PART..=MAX_PART).contains(&options.part_size) {
            return Err(S3Error::new(ErrorKind::InvalidConfig, "the part size must be 5 to 64 MiB"));
        }
        if options.max_attempts == 0 || options.max_attempts > 10 {
            return Err(S3Error::new(ErrorKind::InvalidConfig, "the attempts per request must be 1 to 10"));
        }
        let throttle = match options.bandwidth_limit {
            Some(0) => return Err(S3Error::new(ErrorKind::InvalidConfig, "the bandwidth limit must be positive")),
            Some(rate) => Some(Mutex::new(Throttle::new(rate, Instant::now()))),
            None => None,
        };
        Ok(S3Client { egress, target, options, throttle, peak_buffer: AtomicUsize::new(0), stop: None })
    }

    /// From now on, refuses every request (`ErrorKind::Stopped`, nothing sent) once `flag`
    /// is set: a run that lost its lease stops touching the bucket at once.
    pub fn stop_when(&mut self, flag: Arc<AtomicBool>) {
        self.stop = Some(flag);
    }

    /// The bucket, endpoint and region requests go to.
    pub fn target(&self) -> &S3Target {
        &self.target
    }

    /// Learns the bucket's region with one HEAD of the bucket, and signs for it from then on:
    /// S3 names it in `x-amz-bucket-region` (AWS buckets outside us-east-1 refuse requests
    /// signed for another region). Servers that do not name it keep the region given.
    /// Returns the region signed for.
    pub async fn locate_bucket(&mut self) -> Result<&str, S3Error> {
        let url = self.target.object_url("", &[]);
        let mut request = self
            .egress
            .request(Method::HEAD, &url)
            .map_err(|why| S3Error::new(ErrorKind::Blocked, why))?
            .timeout(self.options.request_timeout);
        for (name, value) in self.target.sign("HEAD", &url, &[], EMPTY_SHA256) {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| transport(&e))?;
        let named = response.headers().get("x-amz-bucket-region").and_then(|v| v.to_str().ok());
        if let Some(region) = named.filter(|r| *r != self.target.region()) {
            self.target.set_region(region).map_err(|f| S3Error::new(ErrorKind::UnexpectedResponse, f.message))?;
        }
        Ok(self.target.region())
    }

    /// The largest body buffer allocated so far, in bytes: never above `part_size`.
    pub fn peak_buffer_bytes(&self) -> usize {
        self.peak_buffer.load(Ordering::Relaxed)
    }

    /// Whether a file of `size` bytes goes as a multipart upload (above `part_size`)
    /// rather than a single PUT.
    pub fn is_multipart(&self, size: u64) -> bool {
        size > self.options.part_size as u64
    }

    /// Uploads the file at `path` to `key`: `put_file`, or `create_multipart` then
    /// `continue_multipart`, aborting the upload when that fails. A multipart upload also
    /// refuses to complete when the file's SHA-256 is not `info.sha256`.
    pub async fn upload_file(&self, path: &Path, key: &str, info: &ObjectInfo<'_>) -> Result<Uploaded, S3Error> {
        let size = tokio::fs::metadata(path).await.map_err(|e| read_error(path, e))?.len();
        if !self.is_multipart(size) {
            return self.put_file(path, key, info).await;
        }
        check_part_count(size, self.options.part_size)?;
        let upload_id = self.create_multipart(key, info).await?;
        match self.finish_multipart(path, key, &upload_id, &HashMap::new(), info.sha256).await {
            Ok(uploaded) => Ok(uploaded),
            Err(e) => match self.abort_multipart_upload(key, &upload_id).await {
                Ok(()) => Err(e),
                Err(abort) => Err(S3Error::new(
                    e.kind,
                    format!("{}; aborting the multipart upload failed too: {abort}", e.message),
                )),
            },
        }
    }

    /// Uploads the file at `path` to `key` as a single PUT; refuses a file above `part_size`
    /// (see `is_multipart`), and one whose SHA-256 is not `info.sha256` (nothing is sent).
    pub async fn put_file(&self, path: &Path, key: &str, info: &ObjectInfo<'_>) -> Result<Uploaded, S3Error> {
        let headers = info.headers()?;
        let file = tokio::fs::File::open(path).await.map_err(|e| read_error(path, e))?;
        let size = file.metadata().await.map_err(|e| read_error(path, e))?.len();
        if self.is_multipart(size) {
            return Err(S3Error::new(
                ErrorKind::InvalidConfig,
                format!("{size} bytes are above the part size of a single PUT; use a multipart upload"),
            ));
        }
        let file = file.into_std().await;
        let (_, _, part) = self.read_part(file, None, size).await.map_err(|e| read_error(path, e))?;
        self.put_object(key, part, &headers, info.sha256).await
    }

    /// PUTs `body` to `key` (a small object such as a run's metadata CSV); refuses a body
    /// whose SHA-256 is not `info.sha256` (nothing is sent).
    pub async fn put_bytes(&self, key: &str, body: Bytes, info: &ObjectInfo<'_>) -> Result<Uploaded, S3Error> {
        let headers = info.headers()?;
        self.put_object(key, Part::of(body), &headers, info.sha256).await
    }

    /// Starts a multipart upload to `key` with `info` (CreateMultipartUpload); its upload id,
    /// for `continue_multipart` and `abort_multipart_upload`.
    pub async fn create_multipart(&self, key: &str, info: &ObjectInfo<'_>) -> Result<String, S3Error> {
        let headers = info.headers()?;
        let call = Call {
            op: "CreateMultipartUpload",
            method: Method::POST,
            key,
            query: &[("uploads", "")],
            headers: &headers,
            body: Bytes::new(),
            body_sha256: None,
        };
        let body = read_reply(self.send(&call).await?).await?;
        xml_text(&body, "UploadId")
            .ok_or_else(|| S3Error::new(ErrorKind::UnexpectedResponse, "CreateMultipartUpload answered no UploadId"))
    }

    /// Sends the file at `path` as the parts of upload `upload_id` of `key` and completes it.
    /// Parts S3 already holds (ListParts) with the size and MD5 ETag of the local part are
    /// not sent again (`Uploaded::parts_skipped`); every part is read to compute the file's
    /// SHA-256. Never aborts: on failure the upload stays open for another call or
    /// `abort_multipart_upload`. `ErrorKind::NoSuchUpload` when S3 does not know the upload
    /// (aborted, or completed by an earlier call whose answer was lost: `head` tells).
    pub async fn continue_multipart(&self, path: &Path, key: &str, upload_id: &str) -> Result<Uploaded, S3Error> {
        let held = self.list_parts(key, upload_id).await?.into_iter().map(|part| (part.number, part)).collect();
        self.finish_multipart(path, key, upload_id, &held, None).await
    }

    /// The parts S3 holds for upload `upload_id` of `key`, by part number (ListParts, every
    /// page).
    pub async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<StoredPart>, S3Error> {
        let mut parts = Vec::new();
        let mut marker: Option<u32> = None;
        loop {
            let marker_text = marker.map(|m| m.to_string());
            let mut query = vec![("max-parts", LIST_PAGE), ("uploadId", upload_id)];
            if let Some(text) = &marker_text {
                query.push(("part-number-marker", text.as_str()));
            }
            let call = Call {
                op: "ListParts",
                method: Method::GET,
                key,
                query: &query,
                headers: &[],
                body: Bytes::new(),
                body_sha256: None,
            };
            let body = read_reply(self.send(&call).await?).await?;
            let (page, next) = parse_parts_page(&body)?;
            parts.extend(page);
            match next {
                None => return Ok(parts),
                // Markers only grow and stay below S3's part limit: the loop ends.
                Some(next) if marker.is_none_or(|m| next > m) && u64::from(next) < MAX_PARTS => marker = Some(next),
                Some(next) => {
                    return Err(S3Error::new(
                        ErrorKind::UnexpectedResponse,
                        format!("ListParts on `{key}` answered the next part number marker {next} after {marker:?}"),
                    ))
                }
            }
        }
    }

    /// Aborts upload `upload_id` of `key` so S3 frees its parts; an upload S3 no longer
    /// knows counts as aborted.
    pub async fn abort_multipart_upload(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let call = Call {
            op: "AbortMultipartUpload",
            method: Method::DELETE,
            key,
            query: &[("uploadId", upload_id)],
            headers: &[],
            body: Bytes::new(),
            body_sha256: None,
        };
        match self.send(&call).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NoSuchUpload => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What S3 holds at `key` (HeadObject); `None` when it answers 404, which it also does
    /// for a missing bucket (HEAD answers carry no error code). Without `s3:ListBucket` S3
    /// answers a missing key with 403: `ErrorKind::Permission`.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectHead>, S3Error> {
        let call = Call {
            op: "HeadObject",
            method: Method::HEAD,
            key,
            query: &[],
            headers: &[],
            body: Bytes::new(),
            body_sha256: None,
        };
        let response = self.send(&call).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let header_text = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let size = header_text("content-length").and_then(|v| v.parse().ok()).ok_or_else(|| {
            S3Error::new(ErrorKind::UnexpectedResponse, format!("HeadObject on `{key}` answered no Content-Length"))
        })?;
        Ok(Some(ObjectHead {
            size,
            etag: header_text("etag").unwrap_or_default().trim_matches('"').to_owned(),
            sha256: header_text("x-amz-meta-sha256"),
            content_type: header_text("content-type"),
        }))
    }

    /// Reads `key`, or the bytes of `range` of it, as a stream.
    pub async fn get_range(&self, key: &str, range: Option<ByteRange>) -> Result<ObjectStream, S3Error> {
        let header = range.map(|r| match r.end {
            Some(end) => format!("bytes={}-{end}", r.start),
            None => format!("bytes={}-", r.start),
        });
        let headers: Vec<(&str, &str)> = header.iter().map(|h| ("range", h.as_str())).collect();
        let call = Call {
            op: "GetObject",
            method: Method::GET,
            key,
            query: &[],
            headers: &headers,
            body: Bytes::new(),
            body_sha256: None,
        };
        let response = self.send(&call).await?;
        let header_text = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(ObjectStream {
            status: response.status().as_u16(),
            content_length: header_text("content-length").and_then(|v| v.parse().ok()),
            content_range: header_text("content-range"),
            response,
        })
    }

    /// A single PutObject of `body` with the signed `headers`, after checking its SHA-256
    /// against `declared`.
    async fn put_object(
        &self,
        key: &str,
        part: Part,
        headers: &[(&str, &str)],
        declared: Option<&str>,
    ) -> Result<Uploaded, S3Error> {
        check_declared(declared, &part.sha256, key)?;
        let size = part.body.len() as u64;
        let (md5, sha256) = (part.md5, part.sha256.clone());
        let mut headers = headers.to_vec();
        headers.push(ONLY_IF_ABSENT);
        let etag = self.put(key, &[], &headers, part, "PutObject").await?;
        check_etag(&etag, &hex::encode(md5), key)?;
        Ok(Uploaded { key: key.to_owned(), size, parts: 1, parts_skipped: 0, etag, sha256 })
    }

    /// Sends the parts of the file at `path` that `held` (S3's parts, by number) lacks, then
    /// completes the upload if the file's SHA-256 is `declared` (when given).
    async fn finish_multipart(
        &self,
        path: &Path,
        key: &str,
        upload_id: &str,
        held: &HashMap<u32, StoredPart>,
        declared: Option<&str>,
    ) -> Result<Uploaded, S3Error> {
        let file = tokio::fs::File::open(path).await.map_err(|e| read_error(path, e))?;
        let size = file.metadata().await.map_err(|e| read_error(path, e))?.len();
        check_part_count(size, self.options.part_size)?;
        if size == 0 {
            return Err(S3Error::new(ErrorKind::InvalidConfig, "an empty file has no parts to send"));
        }
        let mut file = file.into_std().await;
        let mut whole = Sha256::new();
        let mut parts = Vec::new();
        let mut skipped = 0;
        let mut read = 0u64;
        for number in 1..=size.div_ceil(self.options.part_size as u64) as u32 {
            let (back, hasher, part) =
                self.read_part(file, Some(whole), size - read).await.map_err(|e| read_error(path, e))?;
            (file, whole) = (back, hasher.expect("the whole-file hasher comes back"));
            if part.body.is_empty() {
                return Err(S3Error::new(ErrorKind::Io, format!("the file for `{key}` shrank while it was uploaded")));
            }
            read += part.body.len() as u64;
            let md5 = part.md5;
            let md5_hex = hex::encode(md5);
            let etag = match held.get(&number) {
                Some(stored) if stored.size == part.body.len() as u64 && stored.etag.eq_ignore_ascii_case(&md5_hex) => {
                    skipped += 1;
                    stored.etag.clone()
                }
                _ => {
                    let number_text = number.to_string();
                    let query = [("partNumber", number_text.as_str()), ("uploadId", upload_id)];
                    let etag = self.put(key, &query, &[], part, "UploadPart").await?;
                    check_etag(&etag, &md5_hex, key)?;
                    etag
                }
            };
            parts.push((number, etag, md5));
        }
        let sha256 = hex::encode(whole.finalize());
        check_declared(declared, &sha256, key)?;
        let digests: Vec<&[u8]> = parts.iter().map(|(_, _, md5)| md5.as_slice()).collect();
        let expected = format!("{}-{}", hex::encode(Md5::digest(digests.concat())), parts.len());
        let etag = self.complete_multipart(key, upload_id, &parts).await?;
        check_etag(&etag, &expected, key)?;
        Ok(Uploaded { key: key.to_owned(), size, parts: parts.len() as u32, parts_skipped: skipped, etag, sha256 })
    }

    /// Reads up to `limit` (at most `part_size`) bytes of `file` into a buffer of that size
    /// and hashes them (MD5, SHA-256, and into `whole` when given) on a blocking thread:
    /// reading and hashing 8 MiB is work that would stall the requests sharing the async
    /// runtime. Hands the file and `whole` back for the next part.
    async fn read_part(
        &self,
        file: std::fs::File,
        whole: Option<Sha256>,
        limit: u64,
    ) -> std::io::Result<(std::fs::File, Option<Sha256>, Part)> {
        let limit = limit.min(self.options.part_size as u64) as usize;
        self.peak_buffer.fetch_max(limit, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let mut file = file;
            let mut whole = whole;
            let mut buffer = Vec::with_capacity(limit);
            std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, limit as u64), &mut buffer)?;
            if let Some(whole) = whole.as_mut() {
                whole.update(&buffer);
            }
            Ok((file, whole, Part::of(Bytes::from(buffer))))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// PUTs `part` (an object or a part of one), with the signed `headers`; the ETag answered.
    async fn put(
        &self,
        key: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        part: Part,
        op: &'static str,
    ) -> Result<String, S3Error> {
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(part.md5);
        let mut all = vec![("content-md5", content_md5.as_str())];
        all.extend_from_slice(headers);
        let call = Call {
            op,
            method: Method::PUT,
            key,
            query,
            headers: &all,
            body: part.body,
            body_sha256: Some(&part.sha256),
        };
        let response = self.send(&call).await?;
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default();
        Ok(etag.trim_matches('"').to_owned())
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String, [u8; 16])],
    ) -> Result<String, S3Error> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (number, etag, _) in parts {
            xml.push_str(&format!("<Part><PartNumber>{number}</PartNumber><ETag>\"{etag}\"</ETag></Part>"));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let call = Call {
            op: "CompleteMultipartUpload",
            method: Method::POST,
            key,
            query: &[("uploadId", upload_id)],
            headers: &[ONLY_IF_ABSENT],
            body: Bytes::from(xml),
            body_sha256: None,
        };
        let body = read_reply(self.send(&call).await?).await?;
        // S3 may answer 200 and report a failure in the body.
        if let Some(code) = xml_text(&body, "Code") {
            return Err(from_code(call.op, 200, &code, key, self.target.bucket()));
        }
        let etag = xml_text(&body, "ETag")
            .ok_or_else(|| S3Error::new(ErrorKind::UnexpectedResponse, "CompleteMultipartUpload answered no ETag"))?;
        Ok(etag.trim_matches('"').to_owned())
    }

    /// Sends `call` with retries; the response of the first success (body unread). A HEAD
    /// answered 404 is returned as is: it has no body to tell a missing key from anything.
    async fn send(&self, call: &Call<'_>) -> Result<reqwest::Response, S3Error> {
        let url = self.target.object_url(call.key, call.query);
        let payload_sha256 = match call.body_sha256 {
            Some(known) => known.to_owned(),
            None if call.body.is_empty() => EMPTY_SHA256.to_owned(),
            None => hex::encode(Sha256::digest(&call.body)),
        };
        let mut attempt = 1;
        loop {
            if self.stop.as_ref().is_some_and(|stop| stop.load(Ordering::Relaxed)) {
                return Err(S3Error::new(
                    ErrorKind::Stopped,
                    format!("{} on `{}` not sent: the run was taken over", call.op, call.key),
                ));
            }
            if let Some(throttle) = &self.throttle {
                let wait = throttle
                    .lock()
                    .expect("the throttle lock is not poisoned")
                    .reserve(call.body.len(), Instant::now());
                tokio::time::sleep(wait).await;
            }
            let mut request = self
                .egress
                .request(call.method.clone(), &url)
                .map_err(|why| S3Error::new(ErrorKind::Blocked, why))?
                .timeout(self.options.request_timeout);
            for (name, value) in call.headers {
                request = request.header(*name, *value);
            }
            for (name, value) in self.target.sign(call.method.as_str(), &url, call.headers, &payload_sha256) {
                request = request.header(name, value);
            }
            let failure = match request.body(call.body.clone()).send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if call.method == Method::HEAD && response.status() == StatusCode::NOT_FOUND => {
                    return Ok(response)
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = read_reply(response).await.unwrap_or_default();
                    let code = xml_text(&body, "Code").unwrap_or_default();
                    let error = from_code(call.op, status, &code, call.key, self.target.bucket());
                    (retryable(status, &code), error)
                }
                Err(e) => (true, transport(&e)),
            };
            match failure {
                (true, _) if attempt < self.options.max_attempts => {
                    tokio::time::sleep(backoff(self.options.first_backoff, attempt)).await;
                    attempt += 1;
                }
                (_, error) => return Err(error),
            }
        }
    }
}

fn read_error(path: &Path, e: std::io::Error) -> S3Error {
    S3Error::new(ErrorKind::Io, format!("reading {}: {e}", path.display()))
}

/// A file of `size` bytes must fit in S3's parts at `part_size` bytes each.
fn check_part_count(size: u64, part_size: usize) -> Result<(), S3Error> {
    if size.div_ceil(part_size as u64) > MAX_PARTS {
        return Err(S3Error::new(ErrorKind::InvalidConfig, format!("{size} bytes need more than {MAX_PARTS} parts")));
    }
    Ok(())
}

/// The SHA-256 computed must be the one declared, if any.
fn check_declared(declared: Option<&str>, computed: &str, key: &str) -> Result<(), S3Error> {
    match declared {
        Some(declared) if declared != computed => Err(S3Error::new(
            ErrorKind::Checksum,
            format!("the content for `{key}` has SHA-256 {computed}, not the declared {declared}"),
        )),
        _ => Ok(()),
    }
}

/// One page of a ListParts answer: its parts, and the marker of the next page when it is
/// truncated.
fn parse_parts_page(body: &str) -> Result<(Vec<StoredPart>, Option<u32>), S3Error> {
    let bad = |what: &str| S3Error::new(ErrorKind::UnexpectedResponse, format!("ListParts answered {what}"));
    let mut parts = Vec::new();
    for section in xml_sections(body, "Part") {
        let number = xml_text(section, "PartNumber").and_then(|v| v.parse().ok());
        let size = xml_text(section, "Size").and_then(|v| v.parse().ok());
        let etag = xml_text(section, "ETag");
        match (number, size, etag) {
            (Some(number), Some(size), Some(etag)) => {
                parts.push(StoredPart { number, size, etag: etag.trim_matches('"').to_owned() })
            }
            _ => return Err(bad("a part without a number, size or ETag")),
        }
    }
    if xml_text(body, "IsTruncated").as_deref() != Some("true") {
        return Ok((parts, None));
    }
    let next = xml_text(body, "NextPartNumberMarker").and_then(|v| v.parse().ok());
    next.map(|next| (parts, Some(next))).ok_or_else(|| bad("a truncated page without a next part number marker"))
}

/// The wait after failed attempt `attempt` (1-based): doubling from `first`.
fn backoff(first: Duration, attempt: u32) -> Duration {
    first * 2u32.pow(attempt.saturating_sub(1).min(10))
}

/// Whether S3's answer is worth another attempt.
fn retryable(status: u16, code: &str) -> bool {
    status >= 500 || status == 429 || matches!(code, "RequestTimeout" | "SlowDown" | "InternalError")
}

/// An ETag of MD5 form (`32 hex` or `32 hex-N`) must be `expected`; other shapes (SSE-KMS)
/// are not comparable.
fn check_etag(etag: &str, expected: &str, key: &str) -> Result<(), S3Error> {
    let digest = etag.split('-').next().unwrap_or(etag);
    let comparable = digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    if comparable && !etag.eq_ignore_ascii_case(expected) {
        return Err(S3Error::new(
            ErrorKind::Checksum,
            format!("S3 stored `{key}` with ETag {etag}, but what was sent has {expected}"),
        ));
    }
    Ok(())
}

async fn read_reply(mut response: reqwest::Response) -> Result<String, S3Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
        body.extend_from_slice(&chunk[..chunk.len().min(MAX_REPLY - body.len())]);
        if body.len() >= MAX_REPLY {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A request that got no answer, in plain words: which server, and the root cause the
/// operating system or the outbound policy gave ("connection refused"), not the HTTP
/// library's layers.
fn transport(e: &reqwest::Error) -> S3Error {
    let mut chain = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let server = match e.url().and_then(|u| u.host_str().map(|host| (host.to_owned(), u.port()))) {
        Some((host, Some(port))) => format!("the S3 server {host}:{port}"),
        Some((host, None)) => format!("the S3 server {host}"),
        None => "the S3 server".to_owned(),
    };
    let root = chain.last().map(|s| plain_cause(s)).unwrap_or_default();
    if let Some(refusal) = chain.iter().find(|s| s.contains("refuses")) {
        return S3Error::new(ErrorKind::Blocked, format!("{server} may not be reached: {}", plain_cause(refusal)));
    }
    if e.is_timeout() {
        return S3Error::new(ErrorKind::Timeout, format!("{server} did not answer in time"));
    }
    let what = if e.is_connect() { "could not connect to" } else { "lost the connection to" };
    let message =
        if root.is_empty() { format!("patchbay {what} {server}") } else { format!("patchbay {what} {server}: {root}") };
    S3Error::new(ErrorKind::Transport, message)
}

/// "Connection refused (os error 111)" -> "connection refused".
fn plain_cause(text: &str) -> String {
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An S3 error answer as an `S3Error`
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>).
fn from_code(op: &str, status: u16, code: &str, key: &str, bucket: &str) -> S3Error {
    let named = if code.is_empty() { String::new() } else { format!(" ({code})") };
    let (kind, message) = match (status, code) {
        (_, "NoSuchBucket") => (ErrorKind::NotFound, format!("the bucket `{bucket}` does not exist{named}")),
        (_, "NoSuchKey") | (404, "") => (ErrorKind::NotFound, format!("the object `{key}` does not exist{named}")),
        (_, "NoSuchUpload") => {
            (ErrorKind::NoSuchUpload, format!("{op} on `{key}`: S3 does not know the multipart upload{named}"))
        }
        (_, "SignatureDoesNotMatch" | "InvalidAccessKeyId") => {
            (ErrorKind::InvalidCredentials, format!("{op}: S3 refused the credentials{named}"))
        }
        (_, "BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch") => {
            (ErrorKind::Checksum, format!("{op} on `{key}`: S3 found the body damaged{named}"))
        }
        (403, _) => (ErrorKind::Permission, format!("{op} on `{key}` in bucket `{bucket}` is not allowed{named}")),
        (412, _) | (_, "PreconditionFailed") => {
            (ErrorKind::Exists, format!("{op}: the bucket `{bucket}` already holds `{key}`{named}"))
        }
        (416, _) => (ErrorKind::InvalidConfig, format!("the range is outside the object `{key}`{named}")),
        (429 | 500..=599, _) | (_, "SlowDown" | "InternalError" | "ServiceUnavailable") => {
            (ErrorKind::Unavailable, format!("{op} on `{key}`: the S3 server failed or is busy (HTTP {status}){named}"))
        }
        _ => (ErrorKind::UnexpectedResponse, format!("{op} on `{key}`: S3 answered HTTP {status}{named}")),
    };
    S3Error::new(kind, message)
}

/// The text of the first `<tag>` element of a small S3 XML answer, entities decoded.
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    let text = body[start..start + len]
        .trim()
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&amp;", "&");
    (!text.is_empty()).then_some(text)
}

/// The contents of every `<tag>` element of a small S3 XML answer, not decoded.
fn xml_sections<'a>(body: &'a str, tag: &str) -> impl Iterator<Item = &'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut rest = body;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let section = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(section)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_keeps_the_average_rate_under_the_cap() {
        let t0 = Instant::now();
        let mut throttle = Throttle::new(1000, t0);
        assert_eq!(throttle.reserve(600, t0), Duration::ZERO, "a second's bytes go at once");
        assert_eq!(throttle.reserve(2400, t0), Duration::from_secs(2), "then the debt is waited off");
        assert_eq!(throttle.reserve(500, t0 + Duration::from_secs(2)), Duration::from_millis(500));
        let later = t0 + Duration::from_secs(60);
        assert_eq!(throttle.reserve(1000, later), Duration::ZERO, "idle time refills at most one second");
        assert_eq!(throttle.reserve(1, later), Duration::from_millis(1));
    }

    #[test]
    fn retries_are_for_transient_answers_with_doubling_waits() {
        assert!(retryable(503, "SlowDown") && retryable(500, "") && retryable(429, ""));
        assert!(retryable(400, "RequestTimeout"));
        assert!(!retryable(403, "SignatureDoesNotMatch") && !retryable(404, "NoSuchBucket"));
        assert!(!retryable(400, "BadDigest"));
        let first = Duration::from_millis(200);
        let waits: Vec<_> = (1..=4).map(|a| backoff(first, a).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600]);
    }

    #[test]
    fn etags_are_compared_when_they_are_md5s() {
        let md5 = "9e107d9d372bb6826bd81d3542a419d6";
        assert!(check_etag(md5, md5, "k").is_ok());
        let other = "e4d909c290d0fb1ca068ffaddf22cbd0";
        assert_eq!(check_etag(other, md5, "k").unwrap_err().kind, ErrorKind::Checksum);
        assert!(check_etag(&format!("{md5}-3"), &format!("{md5}-3"), "k").is_ok());
        assert_eq!(check_etag(&format!("{md5}-2"), &format!("{md5}-3"), "k").unwrap_err().kind, ErrorKind::Checksum);
        assert!(check_etag("kms-opaque-etag", md5, "k").is_ok(), "SSE-KMS ETags are not MD5s");
    }

    #[test]
    fn s3_error_codes_decide_the_kind_and_xml_entities_are_decoded() {
        assert_eq!(
            from_code("PutObject", 404, "NoSuchBucket", "k", "b").message,
            "the bucket `b` does not exist (NoSuchBucket)"
        );
        assert_eq!(from_code("GetObject", 404, "NoSuchKey", "k", "b").kind, ErrorKind::NotFound);
        assert_eq!(from_code("PutObject", 403, "SignatureDoesNotMatch", "k", "b").kind, ErrorKind::InvalidCredentials);
        assert_eq!(from_code("PutObject", 403, "AccessDenied", "k", "b").kind, ErrorKind::Permission);
        assert_eq!(from_code("UploadPart", 400, "BadDigest", "k", "b").kind, ErrorKind::Checksum);
        assert_eq!(from_code("ListParts", 404, "NoSuchUpload", "k", "b").kind, ErrorKind::NoSuchUpload);
        let body = "<R><ETag>&quot;abc-2&quot;</ETag><UploadId>a&amp;b</UploadId></R>";
        assert_eq!(xml_text(body, "ETag").as_deref(), Some("\"abc-2\""));
        assert_eq!(xml_text(body, "UploadId").as_deref(), Some("a&b"));
        assert_eq!(xml_text(body, "Code"), None);
    }

    #[test]
    fn list_parts_pages_are_parsed_with_their_next_marker() {
        let truncated = "<ListPartsResult><Bucket>b</Bucket><PartNumberMarker>0</PartNumberMarker>\
            <NextPartNumberMarker>2</NextPartNumberMarker><MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>\
            <Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag><Size>5242880</Size></Part>\
            <Part><PartNumber>2</PartNumber><LastModified>2024-05-01T00:00:00.000Z</LastModified>\
            <ETag>\"bb\"</ETag><Size>7</Size></Part></ListPartsResult>";
        let (parts, next) = parse_parts_page(truncated).unwrap();
        let expected = [
            StoredPart { number: 1, size: 5_242_880, etag: "aa".into() },
            StoredPart { number: 2, size: 7, etag: "bb".into() },
        ];
        assert_eq!((parts.as_slice(), next), (expected.as_slice(), Some(2)));
        let last = "<ListPartsResult><NextPartNumberMarker>0</NextPartNumberMarker>\
            <IsTruncated>false</IsTruncated></ListPartsResult>";
        assert_eq!(parse_parts_page(last).unwrap(), (vec![], None));
        let no_marker = "<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>";
        assert_eq!(parse_parts_page(no_marker).unwrap_err().kind, ErrorKind::UnexpectedResponse);
        let no_size = "<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>aa</ETag></Part></ListPartsResult>";
        assert_eq!(parse_parts_page(no_size).unwrap_err().kind, ErrorKind::UnexpectedResponse);
    }

    #[test]
    fn object_info_becomes_signed_headers_and_odd_values_are_refused() {
        let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let info = ObjectInfo { content_type: Some("text/csv; charset=utf-8"), sha256: Some(sha256) };
        assert_eq!(
            info.headers().unwrap(),
            [("content-type", "text/csv; charset=utf-8"), ("x-amz-meta-sha256", sha256)]
        );
        assert_eq!(ObjectInfo::default().headers().unwrap(), []);
        for content_type in ["", " audio/wav", "text/csv;  charset=utf-8", "audio/wav\r\nx-evil: 1", "audio/wäv"] {
            let info = ObjectInfo { content_type: Some(content_type), sha256: None };
            assert_eq!(info.headers().unwrap_err().kind, ErrorKind::InvalidConfig, "{content_type:?}");
        }
        for sha256 in ["abc", &sha256.to_uppercase(), &format!("{}g", &sha256[1..])] {
            let info = ObjectInfo { content_type: None, sha256: Some(sha256) };
            assert_eq!(info.headers().unwrap_err().kind, ErrorKind::InvalidConfig, "{sha256:?}");
        }
    }

    #[test]
    fn part_sizes_outside_s3_limits_are_refused() {
        let target = S3Target::new(Some("http://127.0.0.1:9"), "calls", None, "k", "s".into()).unwrap();
        let egress = Egress::new(patchbay_connectors::EgressPolicy::default()).unwrap();
        let options = UploadOptions { part_size: 1024 * 1024, ..UploadOptions::default() };
        let err = S3Client::new(egress, target, options).err().unwrap();
        assert_eq!(err.kind, ErrorKind::InvalidConfig);
    }
}
