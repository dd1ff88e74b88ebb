//! The S3 connection test (`aws`/`default`) against a real S3-compatible server, moto's
//! `moto_server`, started per test on a loopback port with credential checks on. boto3, an
//! independent client, sets it up and confirms what each scenario should look like.

mod common;

use std::time::{Duration, Instant};

use patchbay_catalog::keys::aws;
use patchbay_connectors::{Category, Context, Egress, EgressPolicy, Outcome, Registry, TestReport, VendorUrls};
use serde_json::{json, Value};

/// The bucket boto3 creates and fills with one object.
const BUCKET: &str = "recordings";

/// Run by `python3` against a fresh moto server. moto takes the first
/// `INITIAL_NO_AUTH_ACTION_COUNT` (6) calls without authentication: they create a user
/// allowed `s3:*` (moto has no AWS managed policies, hence a custom one) and a user with no
/// policy, each with an access key. Every later call is checked: a wrong secret gets
/// `SignatureDoesNotMatch`, an unknown key `InvalidAccessKeyId`, the user without policy
/// `AccessDenied`. boto3 records what it sees so the tests compare against it.
const SETUP: &str = r#"
import json, sys
import boto3
from botocore.exceptions import ClientError

endpoint, bucket = sys.argv[1], sys.argv[2]

def client(service, key="setup", secret="setup"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)

def error_code(call):
    try:
        call()
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]

iam = client("iam")
iam.create_user(UserName="recorder")
policy = iam.create_policy(PolicyName="s3-all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
iam.attach_user_policy(UserName="recorder", PolicyArn=policy["Policy"]["Arn"])
key = iam.create_access_key(UserName="recorder")["AccessKey"]
iam.create_user(UserName="nobody")
denied = iam.create_access_key(UserName="nobody")["AccessKey"]

s3 = client("s3", key["AccessKeyId"], key["SecretAccessKey"])
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="calls/first.wav", Body=b"RIFF")
listed = s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
print(json.dumps({
    "key": key["AccessKeyId"],
    "secret": key["SecretAccessKey"],
    "denied_key": denied["AccessKeyId"],
    "denied_secret": denied["SecretAccessKey"],
    "boto3_key_count": listed["KeyCount"],
    "boto3_wrong_secret": error_code(lambda: client("s3", key["AccessKeyId"], "wrong").list_objects_v2(Bucket=bucket)),
    "boto3_denied": error_code(lambda: client("s3", denied["AccessKeyId"], denied["SecretAccessKey"]).list_objects_v2(Bucket=bucket)),
}))
"#;

/// A moto server on a loopback port, set up by `SETUP`; stopped on drop.
struct S3Peer {
    /// Keeps the server running for the test.
    _moto: patchbay_testkit::moto::Moto,
    endpoint: String,
    setup: Value,
}

impl S3Peer {
    fn start() -> S3Peer {
        let moto = patchbay_testkit::moto::Moto::start(6);
        let endpoint = moto.endpoint.clone();
        let setup = patchbay_testkit::moto::python(SETUP, &[&endpoint, BUCKET]);
        S3Peer { _moto: moto, endpoint, setup }
    }

    /// A text the setup printed (credentials it made, what boto3 saw).
    fn made(&self, name: &str) -> &str {
        self.setup[name].as_str().unwrap_or_else(|| panic!("setup has no `{name}`: {}", self.setup))
    }
}

fn private_account(url: &str, key: &str, secret: &str, bucket: &str) -> patchbay_connectors::AccountConfig {
    common::account(
        "aws",
        "default",
        json!({aws::USE_PRIVATE_S3_STORAGE: true, aws::URL: url, aws::ACCESS_KEY_ID: key, aws::S3_BUCKET: bucket}),
        &[(aws::SECRET_KEY, secret)],
    )
}

async fn run_test(egress: &Egress, account: &patchbay_connectors::AccountConfig, timeout: Duration) -> TestReport {
    let vendors = VendorUrls::default();
    let cx = Context { timeout, ..common::context(egress, account, &vendors) };
    Registry::with([]).test(&cx).await
}

fn step_names(report: &TestReport) -> Vec<&str> {
    report.steps.iter().map(|s| s.name.as_str()).collect()
}

#[tokio::test]
async fn an_existing_bucket_is_listed_with_valid_credentials() {
    let peer = S3Peer::start();
    assert_eq!(peer.setup["boto3_key_count"], 1, "boto3 sees the object it wrote");
    let account = private_account(&peer.endpoint, peer.made("key"), peer.made("secret"), BUCKET);
    let report = run_test(&common::egress(None), &account, Duration::from_secs(5)).await;
    assert_eq!(report.status, Outcome::Ok, "{report:?}");
    assert_eq!(report.message, "Account credentials appear to be valid.");
    assert_eq!(step_names(&report), ["resolve", "connect", "request", "read"]);
    let read = report.steps.last().unwrap();
    assert!(read.detail.contains("`recordings`"), "{read:?}");
    let request = &report.steps[2].detail;
    assert!(request.contains("/recordings/ -> HTTP 200") && !request.contains("list-type"), "{request}");
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_credentials_and_no_secret_is_reported() {
    let peer = S3Peer::start();
    assert_eq!(peer.setup["boto3_wrong_secret"], "SignatureDoesNotMatch", "what boto3 gets for a wrong secret");
    let wrong = "WrongSecretSentinel0123456789";
    let account = private_account(&peer.endpoint, peer.made("key"), wrong, BUCKET);
    let report = run_test(&common::egress(None), &account, Duration::from_secs(5)).await;
    assert_eq!(report.category, Some(Category::InvalidCredentials), "{report:?}");
    assert!(report.message.contains("SignatureDoesNotMatch"), "{}", report.message);
    let shown = serde_json::to_string(&report).unwrap();
    assert!(!shown.contains(wrong) && !shown.contains(peer.made("secret")), "a secret leaked: {shown}");
}

#[tokio::test]
async fn an_unknown_access_key_is_invalid_credentials() {
    let peer = S3Peer::start();
    let account = private_account(&peer.endpoint, "AKIAUNKNOWN000000000", peer.made("secret"), BUCKET);
    let report = run_test(&common::egress(None), &account, Duration::from_secs(5)).await;
    assert_eq!(report.category, Some(Category::InvalidCredentials), "{report:?}");
    assert!(report.message.contains("InvalidAccessKeyId"), "{}", report.message);
}

#[tokio::test]
async fn a_valid_key_without_permission_is_a_permission_failure() {
    let peer = S3Peer::start();
    assert_eq!(peer.setup["boto3_denied"], "AccessDenied", "what boto3 gets for the user without policy");
    let account = private_account(&peer.endpoint, peer.made("denied_key"), peer.made("denied_secret"), BUCKET);
    let report = run_test(&common::egress(None), &account, Duration::from_secs(5)).await;
    assert_eq!(report.category, Some(Category::Permission), "{report:?}");
    assert!(report.message.contains("AccessDenied"), "{}", report.message);
}

#[tokio::test]
async fn a_missing_bucket_is_not_found() {
    let peer = S3Peer::start();
    let account = private_account(&peer.endpoint, peer.made("key"), peer.made("secret"), "no-such-bucket");
    let report = run_test(&common::egress(None), &account, Duration::from_secs(5)).await;
    assert_eq!(report.category, Some(Category::NotFound), "{report:?}");
    assert!(report.message.contains("the bucket `no-such-bucket` does not exist"), "{}", report.message);
}

/// S3 answers a request signed for the wrong region with 400 `AuthorizationHeaderMalformed`
/// and the bucket's region in `x-amz-bucket-region`
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>,
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html>). This peer does
/// that unless the credential scope names eu-west-1.
#[tokio::test]
async fn a_request_signed_for_the_wrong_region_is_signed_again_for_the_bucket_region() {
    let router = axum::Router::new().route(
        "/recordings/",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            if auth.contains("/eu-west-1/s3/aws4_request") {
                (
                    axum::http::StatusCode::OK,
                    [("x-amz-bucket-region", "eu-west-1")],
                    "<ListBucketResult></ListBucketResult>",
                )
            } else {
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    [("x-amz-bucket-region", "eu-west-1")],
                    "<Error><Code>AuthorizationHeaderMalformed</Code><Region>eu-west-1</Region></Error>",
                )
            }
        }),
    );
    let addr = common::http(router).await;
    let account = private_account(&format!("http://{addr}"), "AKIAEXAMPLE", "secret", BUCKET);
    let report = run_test(&common::egress(None), &account, Duration::from_secs(2)).await;
    assert_eq!(report.status, Outcome::Ok, "{report:?}");
    assert_eq!(
        step_names(&report),
        ["resolve", "connect", "request", "region", "resolve", "connect", "request", "read"]
    );
    assert!(report.steps.last().unwrap().detail.contains("region eu-west-1"));
}

#[tokio::test]
async fn a_stopped_server_is_unreachable() {
    let closed = common::closed_port();
    let account = private_account(&format!("http://{closed}"), "AKIAEXAMPLE", "secret", BUCKET);
    let report = run_test(&common::egress(None), &account, Duration::from_secs(2)).await;
    assert_eq!(report.category, Some(Category::Unreachable), "{report:?}");
    assert_eq!(report.steps.last().unwrap().name, "connect");
}

#[tokio::test]
async fn a_hung_server_costs_only_the_timeout() {
    let hung = common::hung().await;
    let account = private_account(&format!("http://{hung}"), "AKIAEXAMPLE", "secret", BUCKET);
    let started = Instant::now();
    let report = run_test(&common::egress(None), &account, Duration::from_millis(300)).await;
    assert_eq!(report.category, Some(Category::Timeout), "{report:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn loopback_storage_is_blocked_by_the_default_policy() {
    let addr = common::http(axum::Router::new()).await;
    let strict = Egress::new(EgressPolicy::default()).unwrap();
    let account = private_account(&format!("http://{addr}"), "AKIAEXAMPLE", "secret", BUCKET);
    let report = run_test(&strict, &account, Duration::from_secs(2)).await;
    assert_eq!(report.category, Some(Category::Blocked), "{report:?}");
    assert_eq!(step_names(&report), ["resolve"]);
}

#[tokio::test]
async fn unusable_settings_are_invalid_config_without_a_connection() {
    let cases = [
        json!({aws::USE_PRIVATE_S3_STORAGE: true, aws::ACCESS_KEY_ID: "AK", aws::S3_BUCKET: BUCKET}),
        json!({aws::USE_PRIVATE_S3_STORAGE: true, aws::URL: "ftp://s3.example.com", aws::ACCESS_KEY_ID: "AK", aws::S3_BUCKET: BUCKET}),
        json!({aws::USE_PRIVATE_S3_STORAGE: true, aws::URL: "http://s3.example.com", aws::ACCESS_KEY_ID: "AK", aws::S3_BUCKET: "a/b"}),
        json!({aws::ACCESS_KEY_ID: "AK"}),
    ];
    for properties in cases {
        let account = common::unchecked_account("aws", "default", properties.clone(), &[(aws::SECRET_KEY, "secret")]);
        let report = run_test(&common::egress(None), &account, Duration::from_secs(2)).await;
        assert_eq!(report.category, Some(Category::InvalidConfig), "{properties}: {report:?}");
        assert!(report.steps.is_empty(), "{properties}: nothing was contacted");
    }
}
