use std::fmt;

use zeroize::Zeroizing;

const SECRET_DOMAIN: &[u8] = b"patchbay-secret/v1";

/// A secret value in clear. Zeroized on drop; `Debug` and `Display` print `[redacted]`.
/// Deliberately not `Serialize`: call [`SecretString::expose`] where the clear value is needed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(Zeroizing::new(value))
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::from(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a sealed value belongs. Bound as associated data: a value sealed for one
/// tenant, account and field does not open for any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretContext<'a> {
    pub tenant: &'a str,
    pub account: &'a str,
    pub field: &'a str,
}

impl SecretContext<'_> {
    /// Domain tag, then each part prefixed with its length (big-endian `u64`).
    pub(crate) fn aad(&self) -> Vec<u8> {
        let parts = [self.tenant, self.account, self.field];
        let len = SECRET_DOMAIN.len() + parts.iter().map(|p| 8 + p.len()).sum::<usize>();
        let mut aad = Vec::with_capacity(len);
        aad.extend_from_slice(SECRET_DOMAIN);
        for part in parts {
            aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_debug_and_display_are_redacted() {
        let secret = SecretString::from("sentinel-hunter2");
        let debug = format!("{secret:?}");
        let display = format!("{secret}");
        assert_eq!(debug, "[redacted]");
        assert_eq!(display, "[redacted]");
        assert!(!format!("{:?}", Some(&secret)).contains("sentinel"));
        assert_eq!(secret.expose(), "sentinel-hunter2");
    }

    #[test]
    fn context_encoding_is_unambiguous_across_part_boundaries() {
        let a = SecretContext { tenant: "ab", account: "c", field: "d" };
        let b = SecretContext { tenant: "a", account: "bc", field: "d" };
        assert_ne!(a.aad(), b.aad());
    }

    #[test]
    fn context_encoding_starts_with_the_domain_tag() {
        let ctx = SecretContext { tenant: "t", account: "a", field: "f" };
        let aad = ctx.aad();
        assert!(aad.starts_with(SECRET_DOMAIN));
        assert_eq!(aad.len(), SECRET_DOMAIN.len() + 3 * 9);
    }
}
