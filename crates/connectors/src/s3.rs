//! Amazon S3 and S3-compatible private storage (`aws`/`default`): a SigV4-signed
//! ListObjectsV2 (`max-keys=1`) on the account's bucket.
//!
//! ListObjectsV2 rather than HeadBucket because it is a real read and, unlike a HEAD, its
//! error answers carry S3's error code: that is what tells a wrong secret
//! (`SignatureDoesNotMatch`) from a valid key that lacks permission (`AccessDenied`).
//!
//! Requests are signed in the `Authorization` header, as the AWS SDKs do, not as presigned
//! URLs: a presigned URL puts the credential scope and signature where proxies log them, and
//! S3-compatible servers (moto among them) check credentials only in the header.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use patchbay_catalog::keys::aws;
use patchbay_catalog::TextRule;
use patchbay_vault::SecretString;

use crate::{AccountConfig, Category, Connector, Context, Failure, HttpReply, TestRun};

pub(crate) fn connectors() -> Vec<Arc<dyn Connector>> {
    vec![Arc::new(S3)]
}

/// The seed's success message for the AWS test.
const SUCCESS: &str = "Account credentials appear to be valid.";
/// The region a request is signed for before the bucket's own region is known: the one of
/// AWS's global endpoint, and the default of MinIO and most private S3 servers.
const FIRST_REGION: &str = "us-east-1";
/// SHA-256 of an empty payload: GET requests sign it in `x-amz-content-sha256`.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct S3;

#[async_trait]
impl Connector for S3 {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("aws", "default")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let account = cx.account;
        let bucket = account.need_text(aws::S3_BUCKET)?;
        check_bucket(bucket)?;
        let endpoint = if account.flag(aws::USE_PRIVATE_S3_STORAGE) {
            Endpoint::Private(private_url(account.need_text(aws::URL)?)?)
        } else {
            Endpoint::Aws
        };
        let signer =
            SigV4 { key: account.need_text(aws::ACCESS_KEY_ID)?, secret: account.need_secret(aws::SECRET_KEY)? };

        let mut region = FIRST_REGION.to_owned();
        let mut reply = list(cx, run, &endpoint, bucket, &region, &signer).await?;
        // S3 names the bucket's region when a request signed for another one reaches it;
        // sign again once for that region (AWS buckets outside us-east-1, private servers
        // configured with a region).
        if let Some(found) = other_region(&reply, &region) {
            run.check("region", Ok(()), |_| format!("the bucket is in region {found}; signing for it"))?;
            region = found;
            reply = list(cx, run, &endpoint, bucket, &region, &signer).await?;
        }
        run.check("read", judge(&reply, bucket), |()| format!("listed bucket `{bucket}` (region {region})"))?;
        Ok(SUCCESS.to_owned())
    }
}

/// Where the bucket lives.
enum Endpoint {
    /// Amazon S3: virtual-hosted addressing (`bucket.s3.REGION.amazonaws.com`), as AWS
    /// recommends, except for names with dots, which the `*.s3` certificate does not cover:
    /// those use path style.
    Aws,
    /// An S3-compatible server at this base URL, with path-style addressing (`url/bucket/`):
    /// private servers rarely have per-bucket DNS names.
    Private(url::Url),
}

/// The catalog's bucket rule (the one account validation applies), so a name the catalog
/// refuses is never addressed and the addressing below can rely on it.
fn check_bucket(bucket: &str) -> Result<(), Failure> {
    TextRule::BucketName.check(bucket).map_err(|message| Failure::new(Category::InvalidConfig, message))
}

/// The private S3 base URL, without credentials: requests carry SigV4 only.
fn private_url(raw: &str) -> Result<url::Url, Failure> {
    let mut url = url::Url::parse(raw)
        .map_err(|e| Failure::new(Category::InvalidConfig, format!("the private S3 URL is not valid: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Failure::new(Category::InvalidConfig, "the private S3 URL must be an http(s) URL with a host"));
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(url)
}

impl Endpoint {
    /// The URL of the bucket's root (ending in `/`) for `region`, the path already encoded
    /// the way SigV4 canonicalizes it, so what is signed is what is sent. `bucket` has
    /// passed `check_bucket`, `region` is `FIRST_REGION` or region-shaped (`other_region`).
    fn bucket_url(&self, bucket: &str, region: &str) -> url::Url {
        match self {
            Endpoint::Private(base) => {
                let mut segments: Vec<String> = base
                    .path_segments()
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
                    .collect();
                segments.push(bucket.to_owned());
                let mut url = base.clone();
                url.set_query(None);
                url.set_fragment(None);
                with_path(url, &segments)
            }
            Endpoint::Aws => {
                let virtual_host = bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                let host = match (region == FIRST_REGION, virtual_host) {
                    (true, true) => format!("{bucket}.s3.amazonaws.com"),
                    (true, false) => "s3.amazonaws.com".to_owned(),
                    (false, true) => format!("{bucket}.s3.{region}.amazonaws.com"),
                    (false, false) => format!("s3.{region}.amazonaws.com"),
                };
                let url = url::Url::parse(&format!("https://{host}/")).expect("bucket and region are checked");
                let segments = if virtual_host { Vec::new() } else { vec![bucket.to_owned()] };
                with_path(url, &segments)
            }
        }
    }
}

fn with_path(mut url: url::Url, segments: &[String]) -> url::Url {
    let mut path: String = segments.iter().map(|s| format!("/{}", uri_encode(s))).collect();
    path.push('/');
    url.set_path(&path);
    url
}

/// Characters SigV4 leaves unencoded: `A-Z a-z 0-9 - _ . ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// One signed ListObjectsV2 (`max-keys=1`), through the egress.
async fn list(
    cx: &Context<'_>,
    run: &mut TestRun,
    endpoint: &Endpoint,
    bucket: &str,
    region: &str,
    signer: &SigV4<'_>,
) -> Result<HttpReply, Failure> {
    let mut url = endpoint.bucket_url(bucket, region);
    url.set_query(Some("list-type=2&max-keys=1"));
    let headers = signer.headers("GET", &url, region, Utc::now());
    cx.egress
        .http(run, reqwest::Method::GET, url.as_str(), cx.timeout, |mut request| {
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request
        })
        .await
}

/// The bucket's region when S3 says it is not the one signed for. Only region-shaped
/// values are taken: the name becomes part of a host name.
fn other_region(reply: &HttpReply, signed: &str) -> Option<String> {
    if !matches!(reply.status, 301 | 307 | 400 | 403) {
        return None;
    }
    let found = reply.headers.get("x-amz-bucket-region")?.to_str().ok()?;
    let shaped = !found.is_empty()
        && found.len() <= 32
        && found.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (shaped && found != signed).then(|| found.to_owned())
}

/// What the ListObjectsV2 answer means, by S3's status and error code
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>).
fn judge(reply: &HttpReply, bucket: &str) -> Result<(), Failure> {
    let body = String::from_utf8_lossy(&reply.body);
    if (200..300).contains(&reply.status) {
        return if body.contains("<ListBucketResult") {
            Ok(())
        } else {
            Err(Failure::new(
                Category::UnexpectedResponse,
                format!("HTTP {} but the answer is not an S3 bucket listing; is this an S3 URL?", reply.status),
            ))
        };
    }
    let code = xml_text(&body, "Code");
    let named = code.map(|c| format!(" ({c})")).unwrap_or_default();
    let failure = match (reply.status, code) {
        (_, Some("NoSuchBucket")) | (404, _) => {
            Failure::new(Category::NotFound, format!("the bucket `{bucket}` does not exist{named}"))
        }
        (_, Some("SignatureDoesNotMatch")) => Failure::new(
            Category::InvalidCredentials,
            "the secret key does not match the access key ID (SignatureDoesNotMatch)",
        ),
        (_, Some("InvalidAccessKeyId")) => {
            Failure::new(Category::InvalidCredentials, "the access key ID is not known (InvalidAccessKeyId)")
        }
        (_, Some("RequestTimeTooSkewed")) => Failure::new(
            Category::UnexpectedResponse,
            "this server's clock differs from S3's by more than 15 minutes (RequestTimeTooSkewed)",
        ),
        // S3 checks the signature before the policy: AccessDenied means the key is valid.
        (403, Some(c @ ("AccessDenied" | "AllAccessDisabled" | "AccountProblem"))) => Failure::new(
            Category::Permission,
            format!("the credentials are valid but may not list bucket `{bucket}` ({c}); allow s3:ListBucket"),
        ),
        (403, _) => Failure::new(Category::InvalidCredentials, format!("the credentials were refused{named}")),
        (301, _) => Failure::new(
            Category::UnexpectedResponse,
            format!("the bucket `{bucket}` is served by another endpoint{named}; check the URL or region"),
        ),
        (400, Some("InvalidBucketName")) => {
            Failure::new(Category::InvalidConfig, format!("`{bucket}` is not a valid bucket name"))
        }
        (status, _) => Failure::new(Category::UnexpectedResponse, format!("S3 answered HTTP {status}{named}")),
    };
    Err(failure)
}

/// The text of the first `<tag>` element of a small S3 XML answer. S3 error codes are plain
/// identifiers, so no XML parser is needed to read them.
fn xml_text<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    let text = body[start..start + len].trim();
    (!text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
        .then_some(text)
}

/// AWS Signature Version 4 in the `Authorization` header, for S3
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>).
struct SigV4<'a> {
    key: &'a str,
    secret: &'a str,
}

impl SigV4<'_> {
    /// The headers that sign a bodiless request to `url`: `x-amz-date`,
    /// `x-amz-content-sha256` and `authorization`.
    fn headers(&self, method: &str, url: &url::Url, region: &str, now: DateTime<Utc>) -> Vec<(String, String)> {
        self.sign(method, url, region, now, EMPTY_SHA256, &[])
    }

    /// The headers that sign a request to `url` whose payload has the SHA-256 (hex)
    /// `payload_sha256`: `x-amz-date`, `x-amz-content-sha256` and `authorization`.
    /// `extra` headers (lowercase names) are signed too and must be sent as given. The
    /// `host` header is signed as the HTTP client sends it (host, and the port when not
    /// the scheme's default).
    fn sign(
        &self,
        method: &str,
        url: &url::Url,
        region: &str,
        now: DateTime<Utc>,
        payload_sha256: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let day = now.format("%Y%m%d").to_string();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let mut query: Vec<(String, String)> =
            url.query_pairs().map(|(k, v)| (uri_encode(&k), uri_encode(&v))).collect();
        query.sort();
        let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let mut headers: Vec<(String, String)> = vec![
            ("host".to_owned(), host),
            ("x-amz-content-sha256".to_owned(), payload_sha256.to_owned()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        headers.extend(extra.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned())));
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
        let signed_headers = headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
        let canonical = format!(
            "{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_sha256}",
            path = url.path(),
        );
        let scope = format!("{day}/{region}/s3/aws4_request");
        let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(&canonical)));
        let mut key = hmac(format!("AWS4{}", self.secret).as_bytes(), day.as_bytes());
        for part in [region, "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.key
        );
        vec![
            ("x-amz-date".to_owned(), amz_date),
            ("x-amz-content-sha256".to_owned(), payload_sha256.to_owned()),
            ("authorization".to_owned(), authorization),
        ]
    }
}

/// A bucket to read and write objects in, with the account's credentials: the addressing
/// and SigV4 signing of the connection test, for the recording export.
pub struct S3Target {
    endpoint: Endpoint,
    bucket: String,
    region: String,
    access_key: String,
    secret: SecretString,
}

impl std::fmt::Debug for S3Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Target").field("bucket", &self.bucket).field("region", &self.region).finish_non_exhaustive()
    }
}

impl S3Target {
    /// A bucket on Amazon S3 (`url` absent) or on the S3-compatible server at `url`; `region` defaults to us-east-1. The bucket name and URL are checked
    /// as the connection test checks them.
    pub fn new(
        url: Option<&str>,
        bucket: &str,
        region: Option<&str>,
        access_key: &str,
        secret: SecretString,
    ) -> Result<S3Target, Failure> {
        check_bucket(bucket)?;
        let endpoint = match url {
            Some(raw) => Endpoint::Private(private_url(raw)?),
            None => Endpoint::Aws,
        };
        let mut target = S3Target {
            endpoint,
            bucket: bucket.to_owned(),
            region: FIRST_REGION.to_owned(),
            access_key: access_key.to_owned(),
            secret,
        };
        target.set_region(region.unwrap_or(FIRST_REGION))?;
        Ok(target)
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs for `region` from now on (the bucket's own, once S3 named it).
    pub fn set_region(&mut self, region: &str) -> Result<(), Failure> {
        if region.is_empty()
            || region.len() > 32
            || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Failure::new(Category::InvalidConfig, "the S3 region may hold only a-z, 0-9 and `-`"));
        }
        region.clone_into(&mut self.region);
        Ok(())
    }

    /// The bucket of an `aws` account, as its connection test addresses it.
    pub fn from_account(account: &AccountConfig) -> Result<S3Target, Failure> {
        let url = if account.flag(aws::USE_PRIVATE_S3_STORAGE) { Some(account.need_text(aws::URL)?) } else { None };
        S3Target::new(
            url,
            account.need_text(aws::S3_BUCKET)?,
            None,
            account.need_text(aws::ACCESS_KEY_ID)?,
            SecretString::from(account.need_secret(aws::SECRET_KEY)?),
        )
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The URL of object `key` (each `/`-separated segment encoded as SigV4 canonicalizes
    /// it) with the query `query`, encoded the same way.
    pub fn object_url(&self, key: &str, query: &[(&str, &str)]) -> url::Url {
        let mut url = self.endpoint.bucket_url(&self.bucket, &self.region);
        let encoded: Vec<String> = key.split('/').map(uri_encode).collect();
        let path = format!("{}{}", url.path(), encoded.join("/"));
        url.set_path(&path);
        if !query.is_empty() {
            let query: Vec<String> =
                query.iter().map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v))).collect();
            url.set_query(Some(&query.join("&")));
        }
        url
    }

    /// The headers that sign `method` on `url` now, for a payload whose SHA-256 (hex) is
    /// `payload_sha256`; `extra` headers are signed too and must be sent as given.
    pub fn sign(
        &self,
        method: &str,
        url: &url::Url,
        extra: &[(&str, &str)],
        payload_sha256: &str,
    ) -> Vec<(String, String)> {
        let signer = SigV4 { key: &self.access_key, secret: self.secret.expose() };
        signer.sign(method, url, &self.region, Utc::now(), payload_sha256, extra)
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_2013_05_24() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn example_signer() -> SigV4<'static> {
        SigV4 { key: "AKIAIOSFODNN7EXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }
    }

    fn authorization(url: &str) -> String {
        let url = url::Url::parse(url).unwrap();
        let headers = example_signer().headers("GET", &url, "us-east-1", at_2013_05_24());
        headers.into_iter().find(|(name, _)| *name == "authorization").unwrap().1
    }

    #[test]
    fn signature_matches_the_aws_documented_list_objects_example() {
        // "Example: GET Bucket (List Objects)" of the SigV4 header-based auth page.
        let auth = authorization("https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J");
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn signature_covers_port_and_encoded_path_as_botocore_does() {
        // The value botocore's S3SigV4Auth computes for the same request and time.
        let endpoint = Endpoint::Private(url::Url::parse("http://127.0.0.1:9000/my base").unwrap());
        let mut url = endpoint.bucket_url("recordings", "us-east-1");
        url.set_query(Some("list-type=2&max-keys=1"));
        assert_eq!(url.as_str(), "http://127.0.0.1:9000/my%20base/recordings/?list-type=2&max-keys=1");
        assert!(authorization(url.as_str())
            .ends_with("Signature=3d986f0678bd40097accd0ace40a86a2e3024bc314eccde77a371b8f0647690c"));
    }

    #[test]
    fn a_signed_payload_and_extra_headers_match_the_aws_documented_put_object_example() {
        // "Example: PUT Object" of the SigV4 header-based auth page.
        let secret = SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let target = S3Target::new(None, "examplebucket", None, "AKIAIOSFODNN7EXAMPLE", secret).unwrap();
        let url = target.object_url("test$file.text", &[]);
        assert_eq!(url.as_str(), "https://examplebucket.s3.amazonaws.com/test%24file.text");
        let payload = hex::encode(Sha256::digest(b"Welcome to Amazon S3."));
        let extra = [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")];
        let headers = example_signer().sign("PUT", &url, "us-east-1", at_2013_05_24(), &payload, &extra);
        assert_eq!(
            headers[2].1,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, \
             Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
        let query = target.object_url("calls/a b.wav", &[("uploadId", "x+y/z="), ("partNumber", "1")]);
        assert_eq!(
            query.as_str(),
            "https://examplebucket.s3.amazonaws.com/calls/a%20b.wav?uploadId=x%2By%2Fz%3D&partNumber=1"
        );
        assert!(format!("{target:?}").find("wJalr").is_none(), "Debug shows no secret");
    }

    #[test]
    fn aws_addressing_is_virtual_hosted_unless_the_bucket_has_dots() {
        let aws = Endpoint::Aws;
        assert_eq!(aws.bucket_url("calls", "us-east-1").as_str(), "https://calls.s3.amazonaws.com/");
        assert_eq!(aws.bucket_url("calls", "eu-west-1").as_str(), "https://calls.s3.eu-west-1.amazonaws.com/");
        assert_eq!(aws.bucket_url("calls.acme", "us-east-1").as_str(), "https://s3.amazonaws.com/calls.acme/");
        assert_eq!(
            aws.bucket_url("calls.acme", "ap-south-1").as_str(),
            "https://s3.ap-south-1.amazonaws.com/calls.acme/"
        );
        let private = private_url("https://user:pw@s3.example.com/storage/?x=1").unwrap();
        let url = Endpoint::Private(private).bucket_url("calls", "us-east-1");
        assert_eq!(url.as_str(), "https://s3.example.com/storage/calls/", "no credentials, no query");
        assert!(
            check_bucket("calls/2024").is_err()
                && check_bucket("a?b").is_err()
                && check_bucket("Legacy_Calls").is_err()
                && check_bucket("ab").is_err()
                && check_bucket(&"a".repeat(64)).is_err()
                && check_bucket("ok.b-1x").is_ok()
        );
    }

    fn reply(status: u16, region: Option<&str>, body: &str) -> HttpReply {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(region) = region {
            headers.insert("x-amz-bucket-region", region.parse().unwrap());
        }
        HttpReply { status, headers, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn only_a_region_shaped_header_that_differs_triggers_a_second_signature() {
        assert_eq!(other_region(&reply(400, Some("eu-west-1"), ""), "us-east-1").as_deref(), Some("eu-west-1"));
        assert_eq!(other_region(&reply(301, Some("eu-west-1"), ""), "us-east-1").as_deref(), Some("eu-west-1"));
        assert_eq!(other_region(&reply(400, Some("us-east-1"), ""), "us-east-1"), None, "same region");
        assert_eq!(other_region(&reply(400, Some("evil.example/x"), ""), "us-east-1"), None, "not a region");
        assert_eq!(other_region(&reply(200, Some("eu-west-1"), ""), "us-east-1"), None, "a success stays");
    }

    #[test]
    fn error_codes_decide_the_category() {
        let err = |status, body: &str| judge(&reply(status, None, body), "b").unwrap_err().category;
        let xml = |code: &str| format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m</Message></Error>");
        assert_eq!(err(403, &xml("SignatureDoesNotMatch")), Category::InvalidCredentials);
        assert_eq!(err(403, &xml("InvalidAccessKeyId")), Category::InvalidCredentials);
        assert_eq!(err(403, &xml("AccessDenied")), Category::Permission);
        assert_eq!(err(403, ""), Category::InvalidCredentials, "a bare 403 is refused credentials");
        assert_eq!(err(404, &xml("NoSuchBucket")), Category::NotFound);
        assert_eq!(err(404, ""), Category::NotFound);
        assert_eq!(err(403, &xml("RequestTimeTooSkewed")), Category::UnexpectedResponse);
        assert_eq!(err(500, &xml("InternalError")), Category::UnexpectedResponse);
        assert_eq!(err(200, "<html>hello</html>"), Category::UnexpectedResponse, "not a listing");
        assert!(judge(&reply(200, None, "<ListBucketResult xmlns=\"x\"></ListBucketResult>"), "b").is_ok());
    }
}
