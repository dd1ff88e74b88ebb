//! moto's S3-compatible server (`moto_server`, PyPI `moto[server]`) as a child process on a
//! loopback port, killed on drop, and a way to run boto3 scripts (an independent client)
//! against it. moto takes the first `INITIAL_NO_AUTH_ACTION_COUNT` calls without
//! authentication; tests use them to create IAM users and keys, after which every call's
//! signature is checked.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl Moto {
    /// Starts moto allowing `unauthenticated_calls` calls before it checks credentials, and
    /// waits (at most 20 s) until it listens. Fails with the install command when missing.
    pub fn start(unauthenticated_calls: u32) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", unauthenticated_calls.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}); install it with: pip install 'moto[server]' boto3")
            });
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        moto.wait_until_listening(SocketAddr::from(([127, 0, 0, 1], port)));
        moto
    }

    fn wait_until_listening(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(_) => return,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!("moto_server exited before listening: {status}");
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("moto_server did not listen on {addr} within 20 s: {e}"),
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Python (boto3) script with `args` and returns the JSON it prints.
pub fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3 runs");
    assert!(
        out.status.success(),
        "the boto3 script failed (pip install boto3): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

/// Creates a user allowed `s3:*` in moto's first unauthenticated calls, then the bucket.
pub const SETUP: &str = r#"
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

/// The start of the boto3 scripts below: `s3`, a client with the recorder's key, and `bucket`.
pub const PRELUDE: &str = r#"
import hashlib, json, sys
import boto3
endpoint, key, secret, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key, aws_secret_access_key=secret)
"#;

/// Reads objects with boto3: size, ETag, SHA-256, metadata `sha256`, content type and number
/// of versions of each, and the open multipart uploads. The versions are listed without a
/// `Prefix`: moto refuses boto3's signature of a prefix holding a space.
pub const READ_BACK: &str = r#"
out = {}
versions = s3.list_object_versions(Bucket=bucket)
for name in sys.argv[5:]:
    got = s3.get_object(Bucket=bucket, Key=name)
    body = got["Body"].read()
    out[name] = {"size": len(body), "etag": got["ETag"].strip('"'), "sha256": hashlib.sha256(body).hexdigest(),
                 "meta_sha256": got["Metadata"].get("sha256"), "content_type": got["ContentType"],
                 "versions": len([v for v in versions.get("Versions", []) if v["Key"] == name]),
                 "delete_markers": len([m for m in versions.get("DeleteMarkers", []) if m["Key"] == name])}
out["open_uploads"] = len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
print(json.dumps(out))
"#;

/// Turns versioning on for the bucket; prints its status.
pub const ENABLE_VERSIONING: &str = r#"
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
print(json.dumps(s3.get_bucket_versioning(Bucket=bucket).get("Status")))
"#;

/// Prints an object's bytes as text (a metadata CSV); the key is the script's first argument.
pub const GET_TEXT: &str = r#"
print(json.dumps(s3.get_object(Bucket=bucket, Key=sys.argv[5])["Body"].read().decode()))
"#;

/// moto with a user allowed `s3:*` (made in its first unauthenticated calls) and a bucket;
/// every later call's signature is checked.
pub struct S3User {
    /// Keeps the server running.
    _server: Moto,
    pub endpoint: String,
    pub key: String,
    pub secret: String,
    pub bucket: String,
}

impl S3User {
    pub fn start(bucket: &str) -> S3User {
        let server = Moto::start(5);
        let endpoint = server.endpoint.clone();
        let setup = python(SETUP, &[&endpoint, bucket]);
        let text = |k: &str| setup[k].as_str().expect("the setup prints key and secret").to_owned();
        let (key, secret) = (text("key"), text("secret")); // not a property key: the setup script's answer
        S3User { key, secret, endpoint, bucket: bucket.to_owned(), _server: server }
    }

    /// Runs `script` after [`PRELUDE`], with `args` after the prelude's.
    pub fn boto3(&self, script: &str, args: &[&str]) -> Value {
        let mut all = vec![self.endpoint.as_str(), &self.key, &self.secret, &self.bucket];
        all.extend_from_slice(args);
        python(&format!("{PRELUDE}{script}"), &all)
    }

    /// [`READ_BACK`] of `keys`.
    pub fn read_back(&self, keys: &[&str]) -> Value {
        self.boto3(READ_BACK, keys)
    }
}
