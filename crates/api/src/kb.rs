//! The knowledge base: the tenant's native articles (administered through the API) and the
//! gateway's search and topic submission, which pick the native KB or the external one.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A native KB article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KbArticle {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    #[schemars(range(min = 1))]
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// The tenant's native articles, by title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KbArticleList {
    pub items: Vec<KbArticle>,
}

/// A new article, or all of an article's content on update. Also a topic submitted
/// through the gateway (`url` is not taken there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KbArticleWrite {
    #[schemars(length(min = 1, max = 300))]
    pub title: String,
    #[schemars(length(min = 1, max = 100_000))]
    pub body: String,
    /// Where the article is published, when it is (an `https://` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub url: Option<String>,
}

impl KbArticleWrite {
    pub const TITLE_MAX_CHARS: usize = 300;
    pub const BODY_MAX_CHARS: usize = 100_000;
    pub const URL_MAX_CHARS: usize = 2000;
}

/// `?q=&limit=` of a KB search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KbSearchQuery {
    /// The words to find (each in the title or body, as a word or the start of one).
    #[schemars(length(min = 1, max = 500))]
    pub q: String,
    /// Results at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50), extend("default" = 10))]
    pub limit: Option<u32>,
}

impl KbSearchQuery {
    pub const LIMIT: RangeInclusive<u32> = 1..=50;
    pub const DEFAULT_LIMIT: u32 = 10;
    pub const Q_MAX_CHARS: usize = 500;
}

/// Which knowledge base answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KbSource {
    Native,
    External,
}

/// One article found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KbResult {
    pub title: String,
    /// Where the words matched, the matched words between `[` and `]` (native), or the
    /// article's question (Synthetix).
    pub snippet: String,
    pub url: Option<String>,
    /// The native article's id, or the external KB's label of it.
    pub id: String,
    pub source: KbSource,
}

/// What a KB search found, and where it searched last: `native`, or the external KB
/// account's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KbResults {
    pub results: Vec<KbResult>,
    pub provider: String,
}

/// A submitted topic and where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KbTopicCreated {
    /// The native article's id.
    pub id: String,
    /// `native`, or the external KB account's id.
    pub provider: String,
}
