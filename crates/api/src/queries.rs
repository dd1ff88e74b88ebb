//! The query strings operations take. The server reads them into these types and the
//! OpenAPI document's query parameters are derived from their schemas; the ranges the
//! handlers enforce are the constants here.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::type_key;
use crate::{Direction, RecordingOrder};

/// The values of a call direction, as text: a query parameter stays text so that the
/// server can refuse a wrong one naming its parameter.
fn direction_values(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let values: Vec<&str> = Direction::ALL.iter().map(|d| d.as_str()).collect();
    schemars::json_schema!({"type": "string", "enum": values})
}

/// The values of a recordings search's order, as text (as [`direction_values`]).
fn order_values(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let values: Vec<&str> = RecordingOrder::ALL.iter().map(|o| o.as_str()).collect();
    schemars::json_schema!({"type": "string", "enum": values, "default": RecordingOrder::default().as_str()})
}

/// `?type=` of the account list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountFilter {
    /// Only accounts of this type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "type_key")]
    pub type_key: Option<String>,
}

/// The options of a connection test or action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TestOptions {
    /// Per-call timeout in milliseconds (the server's outbound timeout when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 120_000))]
    pub timeout_ms: Option<u64>,
}

impl TestOptions {
    /// The timeouts a caller may ask for, in milliseconds.
    pub const TIMEOUT_MS: RangeInclusive<u64> = 100..=120_000;
}

/// A page of the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditQuery {
    /// Entries per page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 500), extend("default" = 100))]
    pub limit: Option<i64>,
    /// Only entries older than this id (`next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub before: Option<i64>,
}

impl AuditQuery {
    pub const LIMIT: RangeInclusive<i64> = 1..=500;
    pub const DEFAULT_LIMIT: i64 = 100;
}

/// One call of resealing values still under older keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResealQuery {
    /// Values per call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000), extend("default" = 100))]
    pub batch: Option<u32>,
    /// The `next` of the previous call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl ResealQuery {
    pub const BATCH: RangeInclusive<u32> = 1..=1000;
    pub const DEFAULT_BATCH: u32 = 100;
}

/// A search of a tenant's recordings, newest call first unless `order` says otherwise. The
/// times and the order stay text here: the server refuses a wrong one naming its parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingSearch {
    /// Calls started at or after this (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub from: Option<String>,
    /// Calls started before this (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub to: Option<String>,
    /// Only this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Only this agent login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Only this customer phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Only calls of this direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "direction_values")]
    pub direction: Option<String>,
    /// Only recordings whose transcript holds every word of this (letters and digits; each
    /// word also finds longer words it starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub q: Option<String>,
    /// Recordings per page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 500), extend("default" = 100))]
    pub limit: Option<i64>,
    /// By call start: `newest` first or `oldest` first; calls that started at the same
    /// time come in the order they arrived (or its reverse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "order_values")]
    pub order: Option<String>,
    /// The `next_cursor` of the previous page, of a search in the same order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl RecordingSearch {
    pub const Q_MAX_CHARS: usize = 200;
    pub const LIMIT: RangeInclusive<i64> = 1..=500;
    pub const DEFAULT_LIMIT: i64 = 100;
}

/// How a recording's audio is served. `download` stays text here: the server refuses a
/// value other than `true` or `false` naming the parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlaybackQuery {
    /// `true`: as a file to save (`Content-Disposition: attachment`, named after the
    /// recording id), not to play in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<bool>")]
    pub download: Option<String>,
}

/// The runs of an export job to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunsQuery {
    /// Runs to list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 200), extend("default" = 50))]
    pub limit: Option<i64>,
}

impl RunsQuery {
    pub const LIMIT: RangeInclusive<i64> = 1..=200;
    pub const DEFAULT_LIMIT: i64 = 50;
}

#[cfg(test)]
mod tests {
    use schemars::schema_for;
    use serde_json::{json, Value};

    use super::*;

    fn property<T: JsonSchema>(name: &str) -> Value {
        Value::from(schema_for!(T))["properties"][name].clone()
    }

    /// The documented ranges and defaults are the ones the server enforces.
    #[test]
    fn documented_ranges_are_the_enforced_ones() {
        let timeout = property::<TestOptions>("timeout_ms");
        assert_eq!(
            (timeout["minimum"].clone(), timeout["maximum"].clone()),
            (json!(TestOptions::TIMEOUT_MS.start()), json!(TestOptions::TIMEOUT_MS.end()))
        );
        let limit = property::<AuditQuery>("limit");
        assert_eq!(
            (limit["minimum"].clone(), limit["maximum"].clone(), limit["default"].clone()),
            (json!(AuditQuery::LIMIT.start()), json!(AuditQuery::LIMIT.end()), json!(AuditQuery::DEFAULT_LIMIT))
        );
        let limit = property::<RecordingSearch>("limit");
        assert_eq!(
            (limit["minimum"].clone(), limit["maximum"].clone(), limit["default"].clone()),
            (
                json!(RecordingSearch::LIMIT.start()),
                json!(RecordingSearch::LIMIT.end()),
                json!(RecordingSearch::DEFAULT_LIMIT)
            )
        );
        let limit = property::<RunsQuery>("limit");
        assert_eq!(
            (limit["minimum"].clone(), limit["maximum"].clone(), limit["default"].clone()),
            (json!(RunsQuery::LIMIT.start()), json!(RunsQuery::LIMIT.end()), json!(RunsQuery::DEFAULT_LIMIT))
        );
        let batch = property::<ResealQuery>("batch");
        assert_eq!(
            (batch["minimum"].clone(), batch["maximum"].clone(), batch["default"].clone()),
            (json!(ResealQuery::BATCH.start()), json!(ResealQuery::BATCH.end()), json!(ResealQuery::DEFAULT_BATCH))
        );
    }
}
