//! Uploads (single PUT, multipart, resumed multipart), HEADs and ranged reads against a real
//! S3-compatible server, moto's `moto_server`, started per test on a loopback port with
//! credential checks on (as in the connectors' S3 tests). boto3, an independent client,
//! creates the bucket, turns versioning on and reads the objects back.

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use md5::{Digest as _, Md5};
use patchbay_connectors::{Egress, EgressPolicy, S3Target};
use patchbay_recordings::{ByteRange, ErrorKind, ObjectHead, ObjectInfo, S3Client, UploadOptions};
use patchbay_testkit::moto::{S3User, ENABLE_VERSIONING, READ_BACK};
use serde_json::Value;
use sha2::Sha256;

const BUCKET: &str = "recordings";
const MIB: usize = 1024 * 1024;

/// moto with a user allowed `s3:*` and the bucket, from the testkit.
struct Moto(S3User);

impl std::ops::Deref for Moto {
    type Target = S3User;

    fn deref(&self) -> &S3User {
        &self.0
    }
}

impl Moto {
    fn start() -> Moto {
        Moto(S3User::start(BUCKET))
    }

    fn client(&self, bucket: &str, secret: &str, options: UploadOptions) -> S3Client {
        let target = S3Target::new(Some(&self.endpoint), bucket, None, &self.key, secret.into()).unwrap();
        let egress = Egress::new(EgressPolicy { allow_loopback: true, ..EgressPolicy::default() }).unwrap();
        S3Client::new(egress, target, options).unwrap()
    }
}

/// `len` pseudo-random bytes (xorshift), written to a temporary file.
fn file_of(len: usize, seed: u64) -> (tempfile::NamedTempFile, Vec<u8>) {
    let bytes = patchbay_testkit::random_bytes(len, seed);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&bytes).unwrap();
    file.flush().unwrap();
    (file, bytes)
}

async fn read_all(client: &S3Client, key: &str, range: Option<ByteRange>) -> (u16, Option<String>, Vec<u8>) {
    let mut stream = client.get_range(key, range).await.unwrap();
    let mut body = Vec::new();
    while let Some(chunk) = stream.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    (stream.status, stream.content_range.clone(), body)
}

#[tokio::test]
async fn small_and_multipart_uploads_read_back_byte_for_byte_with_boto3_and_by_range() {
    let moto = Moto::start();
    let options = UploadOptions::default();
    let part = options.part_size;
    let client = moto.client(BUCKET, &moto.secret, options);

    let (small_file, small) = file_of(300 * 1024, 7);
    let small_up =
        client.upload_file(small_file.path(), "calls/2024-05-01/small_r1.wav", &ObjectInfo::default()).await.unwrap();
    assert_eq!((small_up.parts, small_up.size), (1, small.len() as u64));
    assert_eq!(small_up.etag, hex::encode(Md5::digest(&small)), "a single PUT's ETag is its MD5");

    let (big_file, big) = file_of(20 * MIB, 11);
    let big_sha256 = hex::encode(Sha256::digest(&big));
    let info = ObjectInfo { content_type: Some("audio/wav"), sha256: Some(&big_sha256) };
    let big_up = client.upload_file(big_file.path(), "calls/2024-05-01/big r2.wav", &info).await.unwrap();
    assert_eq!((big_up.parts, big_up.size, big_up.parts_skipped), (3, big.len() as u64, 0), "8 + 8 + 4 MiB");
    let digests: Vec<u8> = big.chunks(part).flat_map(|c| Md5::digest(c).to_vec()).collect();
    let multipart_etag = format!("{}-3", hex::encode(Md5::digest(&digests)));
    assert_eq!(big_up.etag, multipart_etag);
    assert_eq!(big_up.sha256, big_sha256);
    assert_eq!(client.peak_buffer_bytes(), part, "no buffer beyond one part, whatever the file size");

    let seen = moto.read_back(&["calls/2024-05-01/small_r1.wav", "calls/2024-05-01/big r2.wav"]);
    let small_seen = &seen["calls/2024-05-01/small_r1.wav"];
    assert_eq!(small_seen["sha256"], hex::encode(Sha256::digest(&small)), "{seen}");
    assert_eq!(small_seen["size"], small.len());
    let big_seen = &seen["calls/2024-05-01/big r2.wav"];
    assert_eq!(big_seen["sha256"], big_up.sha256, "{seen}");
    assert_eq!(big_seen["etag"], multipart_etag, "boto3 sees the same 3 parts");
    assert_eq!((&big_seen["meta_sha256"], &big_seen["content_type"]), (&big_sha256.into(), &"audio/wav".into()));
    assert_eq!(small_seen["meta_sha256"], Value::Null, "no metadata unless given");
    assert_eq!(seen["open_uploads"], 0, "no multipart upload left open");

    let across = ByteRange { start: part as u64 - 10, end: Some(part as u64 + 9) };
    let (status, content_range, body) = read_all(&client, "calls/2024-05-01/big r2.wav", Some(across)).await;
    assert_eq!(status, 206);
    assert_eq!(body, big[part - 10..part + 10], "a range across the part boundary");
    assert_eq!(content_range.as_deref(), Some(format!("bytes {}-{}/{}", part - 10, part + 9, big.len()).as_str()));
    let tail = ByteRange { start: small.len() as u64 - 100, end: None };
    let (_, _, body) = read_all(&client, "calls/2024-05-01/small_r1.wav", Some(tail)).await;
    assert_eq!(body, small[small.len() - 100..]);
    let (status, _, body) = read_all(&client, "calls/2024-05-01/small_r1.wav", None).await;
    assert_eq!((status, body.len()), (200, small.len()));
    assert_eq!(body, small);
}

#[tokio::test]
async fn missing_bucket_wrong_secret_and_missing_key_are_clear_errors_without_secrets() {
    let moto = Moto::start();
    let (file, _) = file_of(64 * 1024, 3);

    let missing = moto.client("no-such-bucket", &moto.secret, UploadOptions::default());
    let err = missing.upload_file(file.path(), "calls/x_r1.wav", &ObjectInfo::default()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.message, "the bucket `no-such-bucket` does not exist (NoSuchBucket)");

    let wrong = "WrongSecretSentinel0123456789";
    let options = UploadOptions { max_attempts: 1, ..UploadOptions::default() };
    let refused = moto.client(BUCKET, wrong, options);
    let err = refused.upload_file(file.path(), "calls/x_r1.wav", &ObjectInfo::default()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidCredentials, "{err}");
    assert!(!err.message.contains(wrong) && !err.message.contains(&moto.secret), "{err}");

    let client = moto.client(BUCKET, &moto.secret, UploadOptions::default());
    let err = client.get_range("calls/none_r9.wav", None).await.err().unwrap();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("`calls/none_r9.wav`"), "{err}");
}

#[tokio::test]
async fn the_bandwidth_cap_slows_uploads_down_to_it() {
    let moto = Moto::start();
    let options = UploadOptions { bandwidth_limit: Some(400 * 1024), ..UploadOptions::default() };
    let client = moto.client(BUCKET, &moto.secret, options);
    let (file, bytes) = file_of(600 * 1024, 5);
    let started = Instant::now();
    let up = client.upload_file(file.path(), "calls/capped_r3.wav", &ObjectInfo::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500), "600 KiB at 400 KiB/s: {:?}", started.elapsed());
    assert_eq!(up.sha256, hex::encode(Sha256::digest(&bytes)));
}

#[tokio::test]
async fn the_default_egress_policy_blocks_loopback_storage() {
    let target = S3Target::new(Some("http://127.0.0.1:9"), BUCKET, None, "AK", "secret".into()).unwrap();
    let client =
        S3Client::new(Egress::new(EgressPolicy::default()).unwrap(), target, UploadOptions::default()).unwrap();
    let (file, _) = file_of(1024, 1);
    let err = client.upload_file(file.path(), "calls/x_r1.wav", &ObjectInfo::default()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Blocked, "{err}");
}

#[tokio::test]
async fn a_cut_off_multipart_upload_resumes_without_sending_held_parts_again_and_leaves_one_version() {
    let moto = Moto::start();
    assert_eq!(moto.boto3(ENABLE_VERSIONING, &[]), "Enabled");
    let key = "calls/2024-05-02/resumed_r4.wav";
    let part = 5 * MIB;
    let (file, bytes) = file_of(18 * MIB, 13);
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let info = ObjectInfo { content_type: Some("audio/wav"), sha256: Some(&sha256) };
    let plain = moto.client(BUCKET, &moto.secret, UploadOptions { part_size: part, ..UploadOptions::default() });
    // At 2 MiB/s the first 5 MiB part goes after 1.5 s and the third not before 6.5 s
    // (the bucket starts with one second's bytes): seconds to see a part and cut off.
    let capped_options =
        UploadOptions { part_size: part, bandwidth_limit: Some(2 * MIB as u64), ..UploadOptions::default() };
    let capped = moto.client(BUCKET, &moto.secret, capped_options);
    assert!(capped.is_multipart(bytes.len() as u64) && !capped.is_multipart(part as u64));

    let upload_id = plain.create_multipart(key, &info).await.unwrap();
    let first_md5 = hex::encode(Md5::digest(&bytes[..part]));
    let first_parts = async {
        for _ in 0..600 {
            let parts = plain.list_parts(key, &upload_id).await.unwrap();
            // moto may list a part while it still stores its bytes (the ETag of no bytes
            // then); the part is held once its ETag is that of its bytes.
            if parts.first().is_some_and(|p| p.etag == first_md5) {
                return parts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no whole part arrived within 30 s");
    };
    let seen = tokio::select! {
        done = capped.continue_multipart(file.path(), key, &upload_id) => panic!("the first run was to be cut off: {done:?}"),
        parts = first_parts => parts,
    };
    assert_eq!(seen[0].number, 1);
    assert_eq!((seen[0].size, seen[0].etag.as_str()), (part as u64, first_md5.as_str()));

    let resumed = plain.continue_multipart(file.path(), key, &upload_id).await.unwrap();
    assert_eq!((resumed.parts, resumed.size), (4, bytes.len() as u64), "5 + 5 + 5 + 3 MiB");
    assert!(resumed.parts_skipped >= seen.len() as u32, "{resumed:?} after {seen:?}");
    assert!(resumed.parts_skipped < 4, "the first run was cut off before its third part: {resumed:?}");
    let digests: Vec<u8> = bytes.chunks(part).flat_map(|c| Md5::digest(c).to_vec()).collect();
    assert_eq!(resumed.etag, format!("{}-4", hex::encode(Md5::digest(&digests))));
    assert_eq!(resumed.sha256, sha256);
    assert!(capped.peak_buffer_bytes() <= part && plain.peak_buffer_bytes() == part);

    // The answer of the completion lost: the id is gone, `head` tells the object is there.
    let again = plain.continue_multipart(file.path(), key, &upload_id).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::NoSuchUpload, "{again}");
    let head = plain.head(key).await.unwrap().expect("the object is there");
    let expected_head = ObjectHead {
        size: bytes.len() as u64,
        etag: resumed.etag.clone(),
        sha256: Some(sha256.clone()),
        content_type: Some("audio/wav".into()),
    };
    assert_eq!(head, expected_head);

    let seen = moto.read_back(&[key]);
    let object = &seen[key];
    assert_eq!(object["sha256"], sha256, "byte for byte: {seen}");
    assert_eq!((&object["size"], &object["etag"]), (&bytes.len().into(), &resumed.etag.clone().into()), "{seen}");
    assert_eq!(
        (&object["versions"], &object["delete_markers"]),
        (&1.into(), &0.into()),
        "one PUT of the object: {seen}"
    );
    assert_eq!((&object["meta_sha256"], &object["content_type"]), (&sha256.into(), &"audio/wav".into()));
    assert_eq!(seen["open_uploads"], 0, "{seen}");
}

#[tokio::test]
async fn unknown_and_aborted_uploads_are_no_such_upload_and_aborting_twice_is_fine() {
    let moto = Moto::start();
    let client = moto.client(BUCKET, &moto.secret, UploadOptions::default());
    let (file, _) = file_of(9 * MIB, 17);
    let key = "calls/2024-05-03/lost_r5.wav";

    let err = client.continue_multipart(file.path(), key, "made-up-upload-id").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NoSuchUpload, "{err}");
    assert!(err.message.contains(&format!("`{key}`")) && !err.message.contains(&moto.secret), "{err}");
    client.abort_multipart_upload(key, "made-up-upload-id").await.unwrap();

    let upload_id = client.create_multipart(key, &ObjectInfo::default()).await.unwrap();
    assert_eq!(moto.boto3(READ_BACK, &[])["open_uploads"], 1);
    client.abort_multipart_upload(key, &upload_id).await.unwrap();
    client.abort_multipart_upload(key, &upload_id).await.unwrap();
    let err = client.continue_multipart(file.path(), key, &upload_id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NoSuchUpload, "{err}");
    assert_eq!(client.head(key).await.unwrap(), None);
    assert_eq!(moto.boto3(READ_BACK, &[])["open_uploads"], 0);
}

#[tokio::test]
async fn put_bytes_and_put_file_round_trip_through_head_and_a_wrong_declared_sha256_sends_nothing() {
    let moto = Moto::start();
    let options = UploadOptions { part_size: 5 * MIB, ..UploadOptions::default() };
    let client = moto.client(BUCKET, &moto.secret, options);
    let csv_key = "exports/run-7/metadata.csv";
    assert_eq!(client.head(csv_key).await.unwrap(), None, "a missing key");

    let csv = Bytes::from_static(b"recording_id,key,status\nr1,calls/r1.wav,uploaded\n");
    let sha256 = hex::encode(Sha256::digest(&csv));
    let info = ObjectInfo { content_type: Some("text/csv; charset=utf-8"), sha256: Some(&sha256) };
    let up = client.put_bytes(csv_key, csv.clone(), &info).await.unwrap();
    assert_eq!((up.size, up.parts, up.parts_skipped), (csv.len() as u64, 1, 0));
    assert_eq!((up.etag.as_str(), up.sha256.as_str()), (hex::encode(Md5::digest(&csv)).as_str(), sha256.as_str()));
    let head = client.head(csv_key).await.unwrap().expect("the CSV is there");
    let expected = ObjectHead {
        size: csv.len() as u64,
        etag: up.etag.clone(),
        sha256: Some(sha256.clone()),
        content_type: Some("text/csv; charset=utf-8".into()),
    };
    assert_eq!(head, expected);
    let (_, _, body) = read_all(&client, csv_key, None).await;
    assert_eq!(body, csv);

    let (file, bytes) = file_of(5 * MIB, 19);
    let up = client.put_file(file.path(), "calls/whole_r6.wav", &ObjectInfo::default()).await.unwrap();
    assert_eq!((up.size, up.parts), (bytes.len() as u64, 1), "exactly the part size is one PUT");
    let head = client.head("calls/whole_r6.wav").await.unwrap().expect("the file is there");
    assert_eq!((head.size, head.etag, head.sha256), (bytes.len() as u64, up.etag, None));

    let wrong = hex::encode(Sha256::digest(b"something else"));
    let declared = ObjectInfo { content_type: None, sha256: Some(&wrong) };
    let err = client.put_bytes("exports/run-8/metadata.csv", csv, &declared).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Checksum, "{err}");
    let err = client.put_file(file.path(), "calls/wrong_r7.wav", &declared).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Checksum, "{err}");
    assert_eq!(client.head("exports/run-8/metadata.csv").await.unwrap(), None);
    assert_eq!(client.head("calls/wrong_r7.wav").await.unwrap(), None);

    let (big_file, _) = file_of(5 * MIB + 1, 23);
    let err = client.put_file(big_file.path(), "calls/big_r8.wav", &ObjectInfo::default()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidConfig, "{err}");
    let err = client.upload_file(big_file.path(), "calls/big_r8.wav", &declared).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Checksum, "a multipart upload does not complete with a wrong declared SHA-256");
    assert_eq!(client.head("calls/big_r8.wav").await.unwrap(), None);
    assert_eq!(moto.boto3(READ_BACK, &[])["open_uploads"], 0, "and it was aborted");
}

/// Creates a bucket in eu-west-1; prints its location as S3 reports it.
const CREATE_EU_BUCKET: &str = r#"
s3.create_bucket(Bucket="eu-calls", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
print(json.dumps(s3.get_bucket_location(Bucket="eu-calls")["LocationConstraint"]))
"#;

#[tokio::test]
async fn the_client_learns_the_buckets_region_and_signs_for_it() {
    let moto = Moto::start();
    assert_eq!(moto.boto3(CREATE_EU_BUCKET, &[]), "eu-west-1");
    let mut client = moto.client("eu-calls", &moto.secret, UploadOptions::default());
    assert_eq!(client.locate_bucket().await.unwrap(), "eu-west-1");
    let (file, bytes) = file_of(1000, 5);
    let up = client.upload_file(file.path(), "calls/eu_r1.wav", &ObjectInfo::default()).await.unwrap();
    assert_eq!(up.size, bytes.len() as u64);
    let mut home = moto.client(BUCKET, &moto.secret, UploadOptions::default());
    assert_eq!(home.locate_bucket().await.unwrap(), "us-east-1", "a us-east-1 bucket keeps the default");
}
