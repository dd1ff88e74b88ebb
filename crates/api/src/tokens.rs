//! API tokens and the caller's own identity.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Role;

/// An API token as listed: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The tenant a tenant-bound role belongs to; none for `sp_admin`.
    pub tenant_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the token last authenticated, to the minute (it is recorded at most once a
    /// minute); none when it has not been used since patchbay started recording it.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The tokens the caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenList {
    pub items: Vec<Token>,
}

/// A token just created, with its value: shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub details: Token,
    /// The token, shown only here.
    pub token: String,
}

/// A new token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    #[schemars(length(min = 1, max = 100), regex(pattern = r"\S"))]
    pub name: String,
    pub role: Role,
    /// Required for every role but `sp_admin`, which must not have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Who is calling: a token, or a user signed in to the admin screen through the tenant's
/// identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoAmI {
    /// The presented token; none for a user.
    pub token_id: Option<Uuid>,
    /// The signed-in user; none for a token.
    pub user_id: Option<Uuid>,
    /// The token's name, or the user's name or email.
    pub name: String,
    pub role: Role,
    pub tenant: Option<String>,
}
