//! Why a gateway call failed: the caller's input, the account it named or the selection
//! rules found, the account's daily quota, or the vendor.

use chrono::{DateTime, Utc};
use patchbay_connectors::{Category, Failure};
use patchbay_secrets::SecretsError;
use patchbay_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A field of the request breaks a rule.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, rule: &'static str, message: String },
    /// The named account is not one of the tenant's.
    #[error("the account was not found")]
    AccountNotFound,
    /// The request cannot be served as the tenant's accounts stand: the named account is
    /// of another type or disabled, no account or several fit, a binding is missing.
    #[error("{field}: {message}")]
    Conflict { field: &'static str, rule: &'static str, message: String },
    /// The account's daily quota is used up.
    #[error("the daily quota of {limit} calls is used up")]
    Quota {
        limit: i64,
        /// When the next day starts in the tenant's time zone.
        resets_at: DateTime<Utc>,
        /// Seconds from now to `resets_at`, at least 1.
        retry_after: u64,
    },
    /// The vendor could not be reached, refused the call or answered with an error.
    #[error("{}", .failure.message)]
    Vendor {
        failure: Failure,
        /// The vendor's HTTP status, when it answered.
        status: Option<u16>,
        /// The vendor's `Retry-After`, in seconds, when it gave one.
        retry_after: Option<u64>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl GatewayError {
    pub fn invalid(field: &'static str, rule: &'static str, message: impl Into<String>) -> GatewayError {
        GatewayError::Invalid { field, rule, message: message.into() }
    }

    pub(crate) fn conflict(field: &'static str, rule: &'static str, message: impl Into<String>) -> GatewayError {
        GatewayError::Conflict { field, rule, message: message.into() }
    }

    /// A failure before or without an HTTP answer (the account's settings, the egress
    /// policy, the network).
    pub(crate) fn from_failure(failure: Failure) -> GatewayError {
        GatewayError::Vendor { failure, status: None, retry_after: None }
    }

    /// The category reported for this error, when it is a vendor or quota failure.
    pub fn category(&self) -> Option<Category> {
        match self {
            GatewayError::Quota { .. } => Some(Category::QuotaExceeded),
            GatewayError::Vendor { failure, .. } => Some(failure.category),
            _ => None,
        }
    }

    /// Whether the vendor saw the call (so the call counts against the account's quota and
    /// usage): it answered, or it may have (a timeout).
    pub(crate) fn reached_vendor(&self) -> bool {
        match self {
            GatewayError::Vendor { status: Some(_), .. } => true,
            GatewayError::Vendor { failure, .. } => failure.category == Category::Timeout,
            _ => false,
        }
    }
}
