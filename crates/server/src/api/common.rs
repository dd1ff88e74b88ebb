//! What the handlers share: ETags and `If-Match`.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::error::ApiError;

/// The ETag of a versioned resource.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("a number is a valid header value")
}

/// The version `If-Match` asks for: `None` when absent or `*`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let value = value.to_str().unwrap_or("").trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::bad_field("If-Match", "etag", "If-Match must be an ETag this API returned, e.g. \"3\""))
}
