//! API errors as `application/problem+json` (RFC 9457) with a stable `type`, and for input
//! problems a list of `{field, rule, message}`. Internal errors are logged with context and
//! answered without internals.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use patchbay_api::Problem;
use patchbay_catalog::FieldError;
use patchbay_store::{Conflict, StoreError};

#[derive(Debug)]
pub enum ApiError {
    /// The body is not JSON, or not the expected shape.
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// The body is well-formed but breaks a rule.
    Validation(Vec<FieldError>),
    Unauthorized,
    /// 401 from the Zapier API: Basic credentials of a Zapier account are needed.
    ZapierUnauthorized,
    Forbidden(&'static str),
    NotFound(&'static str),
    Conflict {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// `If-Match` named a version that is no longer current.
    PreconditionFailed {
        current_version: i64,
    },
    /// A limit of the service was reached; the caller may retry after `retry_after` seconds.
    Unavailable {
        detail: String,
        retry_after: u64,
    },
    /// The body's media type is not one this endpoint takes.
    UnsupportedMediaType(String),
    /// The body is larger than this endpoint takes.
    PayloadTooLarge(String),
    /// The request body stopped arriving (the body-read timeout).
    RequestTimeout(String),
    /// A remote service this request needed (an S3 bucket) failed.
    BadGateway(String),
    Internal(String),
    /// A concurrency limit is reached; retry after this many seconds.
    TooManyRequests {
        detail: String,
        retry_after: u64,
    },
    /// A runtime gateway call failed at the vendor or on the account's daily quota.
    Gateway(Box<GatewayFailure>),
    /// The operation is a WebSocket and the request is not a WebSocket upgrade.
    UpgradeRequired(String),
    /// A messenger webhook delivery refused by the edge (its proof, its account, its body).
    Refused {
        status: StatusCode,
        detail: String,
    },
}

/// A failed gateway call as answered: the status, the category, the vendor's status and
/// the headers that tell when to retry.
#[derive(Debug)]
pub struct GatewayFailure {
    pub status: StatusCode,
    pub category: patchbay_api::Category,
    pub detail: String,
    pub vendor_status: Option<u16>,
    pub retry_after: Option<u64>,
    /// `RateLimit-Limit` and `RateLimit-Reset` of a used-up daily quota.
    pub quota: Option<(i64, u64)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The problem body of a status, its code and title.
fn problem(status: StatusCode, code: &str, title: &str, detail: String, errors: &[FieldError]) -> Problem {
    Problem {
        kind: Problem::kind_of(code),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
        errors: errors
            .iter()
            .map(|e| patchbay_api::FieldError {
                field: e.field.clone(),
                rule: e.rule.to_owned(),
                message: e.message.clone(),
            })
            .collect(),
        current_version: None,
        category: None,
        vendor_status: None,
    }
}

pub fn field_error(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), rule, message: message.into() }
}

impl ApiError {
    pub fn bad_field(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        let error = field_error(field, rule, message);
        ApiError::BadRequest { detail: error.message.clone(), errors: vec![error] }
    }

    pub fn invalid(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![field_error(field, rule, message)])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title, detail, errors, current_version) = match &self {
            ApiError::BadRequest { detail, errors } => {
                (StatusCode::BAD_REQUEST, "bad-request", "The request is malformed", detail.clone(), errors.as_slice(), None)
            }
            ApiError::Validation(errors) => {
                let detail = match errors.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    many => format!("{} fields are invalid; see `errors`", many.len()),
                };
                (StatusCode::UNPROCESSABLE_ENTITY, "validation", "The input is invalid", detail, errors.as_slice(), None)
            }
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
                "send `Authorization: Bearer <token>` with a valid API token".to_owned(),
                &[][..],
                None,
            ),
            ApiError::ZapierUnauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
                patchbay_api::ZAPIER_CREDENTIALS.to_owned(),
                &[][..],
                None,
            ),
            ApiError::Forbidden(why) => {
                (StatusCode::FORBIDDEN, "forbidden", "Not allowed", (*why).to_owned(), &[][..], None)
            }
            ApiError::NotFound(what) => {
                (StatusCode::NOT_FOUND, "not-found", "Not found", format!("{what} not found"), &[][..], None)
            }
            ApiError::Conflict { detail, errors } => {
                (StatusCode::CONFLICT, "conflict", "Conflict", detail.clone(), errors.as_slice(), None)
            }
            ApiError::PreconditionFailed { current_version } => (
                StatusCode::PRECONDITION_FAILED,
                "stale",
                "The resource changed since you read it",
                format!(
                    "If-Match names an old version; the current version is {current_version}. Reload, reapply your change, and save again."
                ),
                &[][..],
                Some(*current_version),
            ),
            ApiError::Unavailable { detail, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Temporarily unavailable", detail.clone(), &[][..], None)
            }
            ApiError::UnsupportedMediaType(why) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                why.clone(),
                &[][..],
                None,
            ),
            ApiError::PayloadTooLarge(why) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too-large", "The body is too large", why.clone(), &[][..], None)
            }
            ApiError::RequestTimeout(why) => {
                (StatusCode::REQUEST_TIMEOUT, "timeout", "The request took too long", why.clone(), &[][..], None)
            }
            ApiError::BadGateway(why) => {
                (StatusCode::BAD_GATEWAY, "bad-gateway", "A remote service failed", why.clone(), &[][..], None)
            }
            ApiError::TooManyRequests { detail, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
                detail.clone(),
                &[][..],
                None,
            ),
            ApiError::Gateway(failure) => {
                let (code, title) = match failure.status {
                    StatusCode::TOO_MANY_REQUESTS => ("too-many-requests", "Too many requests"),
                    StatusCode::GATEWAY_TIMEOUT => ("vendor-timeout", "The vendor did not answer in time"),
                    _ => ("bad-gateway", "The vendor failed or refused the call"),
                };
                (failure.status, code, title, failure.detail.clone(), &[][..], None)
            }
            ApiError::UpgradeRequired(why) => (
                StatusCode::UPGRADE_REQUIRED,
                "upgrade-required",
                "A WebSocket upgrade is required",
                why.clone(),
                &[][..],
                None,
            ),
            ApiError::Refused { status, detail } => {
                let (code, title) = match *status {
                    StatusCode::UNAUTHORIZED => ("webhook-unproven", "The delivery carries no valid proof"),
                    StatusCode::FORBIDDEN => ("webhook-forbidden", "The delivery's proof does not match"),
                    StatusCode::NOT_FOUND => ("not-found", "Not found"),
                    StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "The body is too large"),
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Unsupported media type"),
                    _ => ("webhook-refused", "The delivery was refused"),
                };
                (*status, code, title, detail.clone(), &[][..], None)
            }
            ApiError::Internal(context) => {
                tracing::error!(error = %context, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the server failed; the error is logged".to_owned(),
                    &[][..],
                    None,
                )
            }
        };
        let (category, vendor_status) = match &self {
            ApiError::Gateway(failure) => (Some(failure.category), failure.vendor_status),
            _ => (None, None),
        };
        let body = Problem { current_version, category, vendor_status, ..problem(status, code, title, detail, errors) };
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let ApiError::Unavailable { retry_after, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if status == StatusCode::UPGRADE_REQUIRED {
            response.headers_mut().insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        }
        if let ApiError::ZapierUnauthorized = &self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"patchbay\""));
        } else if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if let ApiError::Gateway(failure) = &self {
            let headers = response.headers_mut();
            if let Some(retry_after) = failure.retry_after {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            if let Some((limit, reset)) = failure.quota {
                headers.insert("ratelimit-limit", HeaderValue::from(limit));
                headers.insert("ratelimit-remaining", HeaderValue::from(0));
                headers.insert("ratelimit-reset", HeaderValue::from(reset));
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("resource"),
            StoreError::VersionMismatch { current } => ApiError::PreconditionFailed { current_version: current },
            StoreError::Conflict(c) => conflict(c),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<patchbay_edge::EdgeError> for ApiError {
    fn from(e: patchbay_edge::EdgeError) -> Self {
        match e {
            patchbay_edge::EdgeError::Store(e) => e.into(),
            patchbay_edge::EdgeError::Invalid { field, rule, message } => ApiError::invalid(field, rule, message),
        }
    }
}

impl From<patchbay_jobs::IntakeError> for ApiError {
    fn from(e: patchbay_jobs::IntakeError) -> Self {
        use patchbay_jobs::IntakeError;
        match e {
            IntakeError::NotFound(what) => ApiError::NotFound(what),
            IntakeError::Exported(detail) => ApiError::Conflict { detail, errors: Vec::new() },
            IntakeError::Store(e) => e.into(),
        }
    }
}

/// A stored secret that does not open is the service's fault, never the caller's.
impl From<patchbay_secrets::SecretsError> for ApiError {
    fn from(e: patchbay_secrets::SecretsError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

fn conflict(c: Conflict) -> ApiError {
    let (field, rule, message) = match c {
        Conflict::TenantExists => ("id", "unique", "a tenant with this id already exists"),
        Conflict::NameTaken => ("name", "unique", "another integration account of this tenant has this name (names are compared ignoring case)"),
        Conflict::SingletonTaken => (
            "type",
            "one_per_tenant",
            "this tenant already has its one account of this kind (one WFM account across WFM and Loxysoft WFM; one SSO account per provider)",
        ),
        Conflict::DefaultTaken => (
            "properties.default_account",
            "one_default",
            "another account of this tenant is already the default account; clear its Default account first",
        ),
        Conflict::TokenExists => ("token", "unique", "this token already exists"),
        Conflict::RecordingExists => ("recording_id", "unique", "this tenant already has a recording with this id"),
        Conflict::RunActive => ("job", "one_run", "a run of this export job is in progress; wait for it to finish"),
        Conflict::TranscriptRunning => {
            ("recording_id", "running", "the recording's transcript is being made; wait for it to finish")
        }
        Conflict::IdempotencyKeyReused => (
            "Idempotency-Key",
            "reused",
            "this Idempotency-Key already sent another text in this conversation; use a new key for a new reply",
        ),
        Conflict::UserExists => ("name_id", "unique", "this contact center already has a user with this subject"),
        Conflict::Bound => (
            "id",
            "bound",
            "the account is the chat bot of a service or launch point; change the gateway bindings first",
        ),
    };
    ApiError::Conflict { detail: message.to_owned(), errors: vec![field_error(field, rule, message)] }
}

/// Answers the framework's own plain-text rejections (a query string or path that does not
/// parse, a body over the size limit, an unsupported method) as problem+json like every
/// other error, keeping their status and text.
pub async fn problem_for_rejections(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let plain = response.headers().get(header::CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !status.is_client_error() || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_owned();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad-request",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        _ => "client-error",
    };
    let title = status.canonical_reason().unwrap_or("Client error");
    let body = problem(status, code, title, if detail.is_empty() { title.to_owned() } else { detail }, &[]);
    let mut problem = (status, axum::Json(body)).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    problem
}

impl From<patchbay_gateway::GatewayError> for ApiError {
    fn from(e: patchbay_gateway::GatewayError) -> Self {
        use patchbay_api::Category;
        use patchbay_gateway::GatewayError as G;
        match e {
            G::Invalid { field, rule, message } => ApiError::Validation(vec![field_error(field, rule, message)]),
            G::AccountNotFound => ApiError::NotFound("account"),
            G::Conflict { field, rule, message } => {
                ApiError::Conflict { detail: message.clone(), errors: vec![field_error(field, rule, message)] }
            }
            G::Quota { limit, resets_at, retry_after } => ApiError::Gateway(Box::new(GatewayFailure {
                status: StatusCode::TOO_MANY_REQUESTS,
                category: Category::QuotaExceeded,
                detail: format!(
                    "the account's daily quota of {limit} calls is used up; it starts again at {} (the tenant's midnight)",
                    resets_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                vendor_status: None,
                retry_after: Some(retry_after),
                quota: Some((limit, retry_after)),
            })),
            G::Vendor { failure, status: vendor_status, retry_after } => {
                let status = match failure.category {
                    Category::Timeout => StatusCode::GATEWAY_TIMEOUT,
                    Category::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                    Category::InvalidConfig => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_GATEWAY,
                };
                let retry_after = retry_after.or((failure.category == Category::RateLimited).then_some(60));
                ApiError::Gateway(Box::new(GatewayFailure {
                    status,
                    category: failure.category,
                    detail: failure.message,
                    vendor_status,
                    retry_after,
                    quota: None,
                }))
            }
            G::Store(e) => ApiError::from(e),
            G::Secrets(e) => ApiError::Internal(e.to_string()),
        }
    }
}
