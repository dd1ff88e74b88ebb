//! The identity provider an account trusts: its issuer and the public keys of the
//! certificates the account holds. Nothing in a message ever adds a key.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::der::asn1::{ObjectIdentifier, UintRef};
use x509_cert::der::{oid::db::rfc5912, Decode as _};

/// Smallest RSA modulus accepted (and the smallest ring verifies with).
const MIN_RSA_BITS: usize = 2048;

/// A SAML identity provider as an account configures it.
#[derive(Clone, Debug)]
pub struct IdentityProvider {
    /// The entity ID the IdP issues assertions as.
    pub issuer: String,
    keys: Vec<PublicKey>,
}

/// Why the account's certificate text cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("the IdP certificate has no PEM CERTIFICATE block")]
    NoCertificate,
    #[error("the IdP certificate is not valid PEM: {0}")]
    Pem(String),
    #[error("IdP certificate {number} is not an X.509 certificate: {why}")]
    X509 { number: usize, why: String },
    #[error("IdP certificate {number} has {what}; use an RSA (2048 bits or more) or EC P-256/P-384 key")]
    UnsupportedKey { number: usize, what: String },
}

#[derive(Clone, Debug)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
}

/// A certificate's subject public key: PKCS#1 RSAPublicKey or an uncompressed EC point.
#[derive(Clone, Debug)]
struct PublicKey {
    kind: KeyKind,
    bytes: Vec<u8>,
}

/// The signature algorithms the bounded profile accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureAlgorithm {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

impl IdentityProvider {
    /// Every CERTIFICATE block of the PEM text is trusted (so a rollover can list two).
    pub fn from_pem(issuer: &str, pem: &str) -> Result<IdentityProvider, CertificateError> {
        let mut keys = Vec::new();
        for (index, der) in rustls_pemfile::certs(&mut pem.as_bytes()).enumerate() {
            let number = index + 1;
            let der = der.map_err(|e| CertificateError::Pem(e.to_string()))?;
            let certificate = x509_cert::Certificate::from_der(&der)
                .map_err(|e| CertificateError::X509 { number, why: e.to_string() })?;
            let spki = certificate.tbs_certificate.subject_public_key_info;
            let bytes = spki.subject_public_key.as_bytes().ok_or_else(|| CertificateError::UnsupportedKey {
                number,
                what: "a public key that is not a whole number of bytes".into(),
            })?;
            let unsupported = |what: String| CertificateError::UnsupportedKey { number, what };
            let kind = match spki.algorithm.oid {
                rfc5912::RSA_ENCRYPTION => {
                    let bits = rsa_modulus_bits(bytes).ok_or_else(|| unsupported("an unreadable RSA key".into()))?;
                    if bits < MIN_RSA_BITS {
                        return Err(unsupported(format!("a {bits}-bit RSA key")));
                    }
                    KeyKind::Rsa
                }
                rfc5912::ID_EC_PUBLIC_KEY => {
                    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                    match curve {
                        Some(rfc5912::SECP_256_R_1) => KeyKind::EcP256,
                        Some(rfc5912::SECP_384_R_1) => KeyKind::EcP384,
                        Some(other) => return Err(unsupported(format!("an EC key on curve {other}"))),
                        None => return Err(unsupported("an EC key without a named curve".into())),
                    }
                }
                other => return Err(unsupported(format!("a key of algorithm {other}"))),
            };
            keys.push(PublicKey { kind, bytes: bytes.to_vec() });
        }
        if keys.is_empty() {
            return Err(CertificateError::NoCertificate);
        }
        Ok(IdentityProvider { issuer: issuer.to_owned(), keys })
    }

    /// Whether one of the trusted keys made `signature` over `message` with `algorithm`.
    pub(crate) fn verifies(&self, algorithm: SignatureAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        self.keys.iter().any(|key| {
            let verification: &dyn VerificationAlgorithm = match (algorithm, &key.kind) {
                (SignatureAlgorithm::RsaSha256, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA256,
                (SignatureAlgorithm::RsaSha384, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA384,
                (SignatureAlgorithm::RsaSha512, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA512,
                (SignatureAlgorithm::EcdsaSha256, KeyKind::EcP256) => &signature::ECDSA_P256_SHA256_FIXED,
                (SignatureAlgorithm::EcdsaSha384, KeyKind::EcP384) => &signature::ECDSA_P384_SHA384_FIXED,
                _ => return false,
            };
            UnparsedPublicKey::new(verification, &key.bytes).verify(message, signature).is_ok()
        })
    }
}

/// The modulus size of a PKCS#1 RSAPublicKey (SEQUENCE { modulus INTEGER, exponent INTEGER }).
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let integers = Vec::<UintRef<'_>>::from_der(der).ok()?;
    let modulus = integers.first()?.as_bytes();
    let first = *modulus.first()?;
    Some(modulus.len() * 8 - first.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_a_certificate_is_refused() {
        let refused = IdentityProvider::from_pem("https://idp.example", "no pem here").unwrap_err();
        assert_eq!(refused, CertificateError::NoCertificate);
    }

    #[test]
    fn a_certificate_block_that_is_not_x509_is_refused() {
        let pem = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
        let refused = IdentityProvider::from_pem("https://idp.example", pem).unwrap_err();
        assert!(matches!(refused, CertificateError::X509 { number: 1, .. }), "{refused:?}");
    }

    #[test]
    fn rsa_modulus_size_is_read_from_pkcs1() {
        // SEQUENCE { INTEGER 0x00 0x80 0x00 (16 bits: 0x8000), INTEGER 3 }
        assert_eq!(rsa_modulus_bits(&[0x30, 0x08, 0x02, 0x03, 0x00, 0x80, 0x00, 0x02, 0x01, 0x03]), Some(16));
        assert_eq!(rsa_modulus_bits(&[0x30, 0x00]), None);
    }
}
