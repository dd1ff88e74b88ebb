//! Uploads and ranged reads against a real S3-compatible server, moto's `moto_server`,
//! started per test on a loopback port with credential checks on (as in the connectors'
//! S3 tests). boto3, an independent client, creates the bucket and reads the objects back.

use std::io::Write;
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use patchbay_connectors::{Egress, EgressPolicy, S3Target};
use patchbay_recordings::{ByteRange, ErrorKind, S3Client, UploadOptions};
use patchbay_testkit::moto::python;
use serde_json::Value;
use sha2::Sha256;

const BUCKET: &str = "recordings";
const MIB: usize = 1024 * 1024;

/// Creates a user allowed `s3:*` in moto's first unauthenticated calls, then the bucket.
const SETUP: &str = r#"
import json, sys
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
def client(service, key="setup", secret="setup"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
iam = client("iam")
iam.create_user(UserName="recorder")
policy = iam.create_policy(PolicyName="s3-all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
iam.attach_user_policy(UserName="recorder", PolicyArn=policy["Policy"]["Arn"])
key = iam.create_access_key(UserName="recorder")["AccessKey"]
client("s3", key["AccessKeyId"], key["SecretAccessKey"]).create_bucket(Bucket=bucket)
print(json.dumps({"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#;

/// Reads objects with boto3: size, ETag and SHA-256 of each, and the open multipart uploads.
const READ_BACK: &str = r#"
import hashlib, json, sys
import boto3
endpoint, key, secret, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key, aws_secret_access_key=secret)
out = {}
for name in sys.argv[5:]:
    got = s3.get_object(Bucket=bucket, Key=name)
    body = got["Body"].read()
    out[name] = {"size": len(body), "etag": got["ETag"].strip('"'), "sha256": hashlib.sha256(body).hexdigest()}
out["open_uploads"] = len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
print(json.dumps(out))
"#;

/// moto set up by `SETUP`: a user allowed `s3:*` and the bucket.
struct Moto {
    /// Keeps the server running for the test.
    _server: patchbay_testkit::moto::Moto,
    endpoint: String,
    key: String,
    secret: String,
}

impl Moto {
    fn start() -> Moto {
        let server = patchbay_testkit::moto::Moto::start(5);
        let endpoint = server.endpoint.clone();
        let setup = python(SETUP, &[&endpoint, BUCKET]);
        let text = |k: &str| setup[k].as_str().unwrap().to_owned();
        Moto { key: text("key"), secret: text("secret"), endpoint, _server: server }
    }

    fn client(&self, bucket: &str, secret: &str, options: UploadOptions) -> S3Client {
        let target = S3Target::new(Some(&self.endpoint), bucket, None, &self.key, secret.into()).unwrap();
        let egress = Egress::new(EgressPolicy { allow_loopback: true, ..EgressPolicy::default() }).unwrap();
        S3Client::new(egress, target, options).unwrap()
    }

    fn read_back(&self, keys: &[&str]) -> Value {
        let mut args = vec![self.endpoint.as_str(), &self.key, &self.secret, BUCKET];
        args.extend_from_slice(keys);
        python(READ_BACK, &args)
    }
}

/// `len` pseudo-random bytes (xorshift), written to a temporary file.
fn file_of(len: usize, seed: u64) -> (tempfile::NamedTempFile, Vec<u8>) {
    let mut state = seed | 1;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
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
    let small_up = client.upload_file(small_file.path(), "calls/2024-05-01/small_r1.wav").await.unwrap();
    assert_eq!((small_up.parts, small_up.size), (1, small.len() as u64));
    assert_eq!(small_up.etag, hex::encode(Md5::digest(&small)), "a single PUT's ETag is its MD5");

    let (big_file, big) = file_of(20 * MIB, 11);
    let big_up = client.upload_file(big_file.path(), "calls/2024-05-01/big r2.wav").await.unwrap();
    assert_eq!((big_up.parts, big_up.size), (3, big.len() as u64), "8 + 8 + 4 MiB");
    let digests: Vec<u8> = big.chunks(part).flat_map(|c| Md5::digest(c).to_vec()).collect();
    let multipart_etag = format!("{}-3", hex::encode(Md5::digest(&digests)));
    assert_eq!(big_up.etag, multipart_etag);
    assert_eq!(big_up.sha256, hex::encode(Sha256::digest(&big)));
    assert_eq!(client.peak_buffer_bytes(), part, "no buffer beyond one part, whatever the file size");

    let seen = moto.read_back(&["calls/2024-05-01/small_r1.wav", "calls/2024-05-01/big r2.wav"]);
    let small_seen = &seen["calls/2024-05-01/small_r1.wav"];
    assert_eq!(small_seen["sha256"], hex::encode(Sha256::digest(&small)), "{seen}");
    assert_eq!(small_seen["size"], small.len());
    let big_seen = &seen["calls/2024-05-01/big r2.wav"];
    assert_eq!(big_seen["sha256"], big_up.sha256, "{seen}");
    assert_eq!(big_seen["etag"], multipart_etag, "boto3 sees the same 3 parts");
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
    let err = missing.upload_file(file.path(), "calls/x_r1.wav").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.message, "the bucket `no-such-bucket` does not exist (NoSuchBucket)");

    let wrong = "WrongSecretSentinel0123456789";
    let options = UploadOptions { max_attempts: 1, ..UploadOptions::default() };
    let refused = moto.client(BUCKET, wrong, options);
    let err = refused.upload_file(file.path(), "calls/x_r1.wav").await.unwrap_err();
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
    let up = client.upload_file(file.path(), "calls/capped_r3.wav").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500), "600 KiB at 400 KiB/s: {:?}", started.elapsed());
    assert_eq!(up.sha256, hex::encode(Sha256::digest(&bytes)));
}

#[tokio::test]
async fn the_default_egress_policy_blocks_loopback_storage() {
    let target = S3Target::new(Some("http://127.0.0.1:9"), BUCKET, None, "AK", "secret".into()).unwrap();
    let client =
        S3Client::new(Egress::new(EgressPolicy::default()).unwrap(), target, UploadOptions::default()).unwrap();
    let (file, _) = file_of(1024, 1);
    let err = client.upload_file(file.path(), "calls/x_r1.wav").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Blocked, "{err}");
}
