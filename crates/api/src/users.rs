//! The tenant's users: the people who sign in to the admin screen through the tenant's
//! identity provider (Admin SSO), created by an admin or just in time at their first sign-in.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Role;

/// The roles a user can have: a user administers or reads their own tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    #[schemars(title = "Tenant admin")]
    TenantAdmin,
    #[schemars(title = "Viewer")]
    TenantViewer,
}

impl UserRole {
    pub fn role(self) -> Role {
        match self {
            UserRole::TenantAdmin => Role::TenantAdmin,
            UserRole::TenantViewer => Role::TenantViewer,
        }
    }

    /// The user role of a stored role name; `None` for a role users cannot have.
    pub fn parse(s: &str) -> Option<UserRole> {
        match Role::parse(s)? {
            Role::TenantAdmin => Some(UserRole::TenantAdmin),
            Role::TenantViewer => Some(UserRole::TenantViewer),
            _ => None,
        }
    }
}

/// A user as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: Uuid,
    /// The identity provider's subject (the NameID), exactly as it sends it.
    pub name_id: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: UserRole,
    /// A disabled user cannot sign in; their sessions end at once.
    pub enabled: bool,
    /// `jit` when the first sign-in created the user, else the admin who did.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// The tenant's users, by email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserList {
    pub items: Vec<User>,
}

/// A user added before their first sign-in (needed when just-in-time provisioning is off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    /// The subject the identity provider will send (its NameID), exactly.
    #[schemars(length(min = 1, max = 256), regex(pattern = r"\S"))]
    pub name_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub display_name: Option<String>,
    pub role: UserRole,
}

/// A user's role and whether they may sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub role: UserRole,
    pub enabled: bool,
}
