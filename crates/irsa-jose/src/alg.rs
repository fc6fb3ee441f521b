//! The JWS algorithms we accept.

use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm. `none` and the HMAC algorithms do not exist here on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// ECDSA P-521 with SHA-512.
    ES512,
}

impl Algorithm {
    /// Every algorithm, in the order STS lists them.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
    ];

    /// The JOSE name, e.g. `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
        }
    }

    /// The algorithm for a JOSE name (exact, case-sensitive as RFC 7515 requires).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// `RSA` or `EC`.
    pub fn kty(self) -> &'static str {
        if self.is_rsa() { "RSA" } else { "EC" }
    }

    /// Whether this is one of the RSA algorithms.
    pub fn is_rsa(self) -> bool {
        matches!(self, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
    }

    /// The curve (`P-256`, `P-384`, `P-521`) for the ECDSA algorithms.
    pub fn curve(self) -> Option<&'static str> {
        match self {
            Algorithm::ES256 => Some("P-256"),
            Algorithm::ES384 => Some("P-384"),
            Algorithm::ES512 => Some("P-521"),
            _ => None,
        }
    }

    /// The ECDSA algorithm for a curve name.
    pub fn for_curve(crv: &str) -> Option<Algorithm> {
        match crv {
            "P-256" => Some(Algorithm::ES256),
            "P-384" => Some(Algorithm::ES384),
            "P-521" => Some(Algorithm::ES512),
            _ => None,
        }
    }

    /// Size in bytes of one coordinate (and of `r`, `s` in a JOSE signature) for ECDSA.
    pub(crate) fn coordinate_len(self) -> Option<usize> {
        match self {
            Algorithm::ES256 => Some(32),
            Algorithm::ES384 => Some(48),
            Algorithm::ES512 => Some(66),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Algorithm::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported algorithm `{0}` (expected RS256, RS384, RS512, ES256, ES384 or ES512)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(s).ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Algorithm::from_name(&s).ok_or_else(|| serde::de::Error::custom(UnknownAlgorithm(s)))
    }
}
