//! Errors: `application/problem+json` (RFC 9457) with a stable `type`, and for input
//! problems the fields and rules they break.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Category;

/// One broken rule of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    /// The field, e.g. `name`, `properties.url`, `enabled_types[0]`.
    pub field: String,
    /// A stable rule id, e.g. `required`, `url_scheme`, `unique`.
    pub rule: String,
    pub message: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schemars(regex(pattern = "^urn:patchbay:problem:[a-z-]+$"))]
    pub kind: String,
    pub title: String,
    #[schemars(range(min = 400, max = 599))]
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1))]
    pub errors: Vec<FieldError>,
    /// On 412: the version that is current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// A runtime gateway call that failed: why, in the connection tests' categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// A runtime gateway call the vendor answered with an error: the vendor's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub vendor_status: Option<u16>,
}

impl Problem {
    /// The problem `type` of a code, e.g. `not-found`.
    pub fn kind_of(code: &str) -> String {
        format!("urn:patchbay:problem:{code}")
    }
}
