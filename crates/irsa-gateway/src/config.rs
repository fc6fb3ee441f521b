//! The gateway's configuration: the `irsa sts` configuration file (roles, customer managed
//! policies, signing keys — parsed by `irsa_sts_core::Config`) plus an optional top-level
//! `gateway:` section for the upstream. Parsing is pure; [`load`] reads the files named.

use std::path::{Path, PathBuf};

use irsa_sts_core::{Config, ConfigError, KeyRing};
use serde::Deserialize;

use crate::upstream::{UpstreamCredentials, UpstreamSettings};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error(transparent)]
    Read(#[from] irsa_server::ReadError),
    /// The STS part of the configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A value that breaks a rule.
    #[error("{field}: {reason}")]
    Field {
        /// The field's path.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn field_err(field: impl Into<String>, reason: impl Into<String>) -> LoadError {
    LoadError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The optional `gateway:` section.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewaySection {
    /// The DynamoDB upstream endpoint and its credentials.
    #[serde(default)]
    pub upstream: UpstreamSection,
    /// S3: its upstream, the gateway's S3 host names and the bucket policies.
    #[serde(default)]
    pub s3: S3Section,
}

/// `gateway.s3`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Section {
    /// The S3-compatible upstream and its credentials (fields as `gateway.upstream`).
    #[serde(default)]
    pub upstream: UpstreamSection,
    /// The host names clients address the gateway's S3 endpoint by: path-style requests
    /// go to one of them, virtual-hosted-style ones to `bucket.<name>` (default:
    /// `localhost`, `127.0.0.1`, `s3.localhost`).
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Bucket policies by bucket name (JSON policy documents, as `PutBucketPolicy` takes
    /// them), evaluated with the identity and session policies.
    #[serde(default)]
    pub bucket_policies: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The S3 host names used when `gateway.s3.endpoints` is empty.
pub const DEFAULT_S3_ENDPOINTS: &[&str] = &["localhost", "127.0.0.1", "s3.localhost"];

/// The validated S3 part of the configuration: endpoints and bucket policies.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// The gateway's S3 host names.
    pub endpoints: irsa_s3::Endpoints,
    /// Bucket policies by bucket.
    pub bucket_policies: std::collections::HashMap<String, irsa_authz::ResourcePolicy>,
}

impl S3Config {
    /// Endpoints `localhost` only, no bucket policies.
    pub fn empty() -> S3Config {
        S3Config {
            endpoints: irsa_s3::Endpoints::new(["localhost"])
                .unwrap_or_else(|_| unreachable_endpoints()),
            bucket_policies: std::collections::HashMap::new(),
        }
    }
}

#[allow(clippy::expect_used)]
fn unreachable_endpoints() -> irsa_s3::Endpoints {
    irsa_s3::Endpoints::new(["localhost"]).expect("`localhost` is a valid endpoint")
}

impl S3Section {
    /// Validates the endpoints and the bucket policies (bucket names by S3's rules; each
    /// policy valid, each statement with a `Principal`).
    pub fn validate(&self) -> Result<S3Config, LoadError> {
        let endpoints = if self.endpoints.is_empty() {
            irsa_s3::Endpoints::new(DEFAULT_S3_ENDPOINTS.iter().copied())
        } else {
            irsa_s3::Endpoints::new(self.endpoints.iter().map(String::as_str))
        }
        .map_err(|e| field_err("gateway.s3.endpoints", e.to_string()))?;
        let mut bucket_policies = std::collections::HashMap::new();
        for (bucket, doc) in &self.bucket_policies {
            let field = format!("gateway.s3.bucketPolicies.{bucket}");
            irsa_s3::check_bucket_name(bucket)
                .map_err(|_| field_err(&field, "not a valid bucket name"))?;
            let policy = irsa_policy::Policy::parse(&doc.to_string())
                .map_err(|e| field_err(&field, e.to_string()))?;
            if policy.statements().iter().any(|s| s.principal().is_none()) {
                return Err(field_err(
                    &field,
                    "every statement of a bucket policy needs a Principal",
                ));
            }
            bucket_policies.insert(bucket.clone(), irsa_authz::ResourcePolicy::new(policy));
        }
        Ok(S3Config {
            endpoints,
            bucket_policies,
        })
    }
}

/// `gateway.upstream`: every field can also come from the command line or the environment.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpstreamSection {
    /// `http://127.0.0.1:8000` or `https://dynamodb.us-east-1.amazonaws.com`.
    #[serde(default)]
    pub url: Option<String>,
    /// Region the upstream signs for (default: the configuration's `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// The upstream's access key id.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The upstream's secret access key, inline (prefer `secretAccessKeyFile`).
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// A file holding the upstream's secret access key (relative to the configuration file).
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    /// The upstream's session token, if its credentials are temporary.
    #[serde(default)]
    pub session_token: Option<String>,
    /// PEM CA bundle for an https upstream (default: the Web PKI roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for UpstreamSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSection")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key_file", &self.secret_access_key_file)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl UpstreamSection {
    /// `self` with every field that `overrides` sets replaced (command line over file).
    #[must_use]
    pub fn overridden_by(self, overrides: UpstreamSection) -> UpstreamSection {
        UpstreamSection {
            url: overrides.url.or(self.url),
            region: overrides.region.or(self.region),
            access_key_id: overrides.access_key_id.or(self.access_key_id),
            secret_access_key: overrides.secret_access_key.or(
                if overrides.secret_access_key_file.is_some() {
                    None
                } else {
                    self.secret_access_key
                },
            ),
            secret_access_key_file: overrides
                .secret_access_key_file
                .or(self.secret_access_key_file),
            session_token: overrides.session_token.or(self.session_token),
            ca_file: overrides.ca_file.or(self.ca_file),
        }
    }

    /// The upstream settings; files are read relative to `base_dir`.
    pub fn settings(
        &self,
        config: &Config,
        base_dir: &Path,
        timeout: std::time::Duration,
    ) -> Result<UpstreamSettings, LoadError> {
        let url = self
            .url
            .as_deref()
            .ok_or_else(|| field_err("gateway.upstream.url", "the upstream url is required"))?;
        let url = url
            .parse::<http::Uri>()
            .map_err(|e| field_err("gateway.upstream.url", format!("`{url}`: {e}")))?;
        let access_key_id = self.access_key_id.clone().ok_or_else(|| {
            field_err(
                "gateway.upstream.accessKeyId",
                "the upstream's access key id is required",
            )
        })?;
        let secret_access_key = match (&self.secret_access_key, &self.secret_access_key_file) {
            (Some(s), None) => s.clone(),
            (None, Some(f)) => String::from_utf8(read(&base_dir.join(f))?)
                .map_err(|_| field_err("gateway.upstream.secretAccessKeyFile", "not UTF-8"))?
                .trim()
                .to_owned(),
            (Some(_), Some(_)) => {
                return Err(field_err(
                    "gateway.upstream",
                    "give secretAccessKey or secretAccessKeyFile, not both",
                ));
            }
            (None, None) => {
                return Err(field_err(
                    "gateway.upstream.secretAccessKey",
                    "the upstream's secret access key is required",
                ));
            }
        };
        if secret_access_key.is_empty() {
            return Err(field_err(
                "gateway.upstream.secretAccessKey",
                "must not be empty",
            ));
        }
        let ca_bundle_pem = match &self.ca_file {
            Some(f) => Some(read(&base_dir.join(f))?),
            None => None,
        };
        Ok(UpstreamSettings {
            url,
            region: self.region.clone().unwrap_or_else(|| config.region.clone()),
            credentials: UpstreamCredentials {
                access_key_id,
                secret_access_key,
                session_token: self.session_token.clone().filter(|t| !t.is_empty()),
            },
            ca_bundle_pem,
            timeout,
        })
    }
}

/// Splits configuration text into the STS configuration and the `gateway:` section.
pub fn parse(text: &str) -> Result<(Config, GatewaySection), LoadError> {
    let mut value: serde_json::Value =
        irsa_sts_core::from_yaml_str(text).map_err(ConfigError::Syntax)?;
    let section = match value.as_object_mut().and_then(|m| m.remove("gateway")) {
        Some(v) => serde_json::from_value::<GatewaySection>(v)
            .map_err(|e| field_err("gateway", e.to_string()))?,
        None => GatewaySection::default(),
    };
    Ok((Config::from_yaml(&value.to_string())?, section))
}

/// Reads a file.
pub fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    Ok(irsa_server::read(path)?)
}

/// The key ring of the signing keys the configuration names (first = active), read
/// relative to `base_dir`. The gateway needs them: it opens the session tokens `irsa sts`
/// sealed with them.
pub fn key_ring(config: &Config, base_dir: &Path) -> Result<KeyRing, LoadError> {
    if config.signing_keys.is_empty() {
        return Err(field_err(
            "signingKeys",
            "the gateway needs the signing key files of `irsa sts` to open session tokens",
        ));
    }
    let contents = config
        .signing_keys
        .iter()
        .map(|f| read(&base_dir.join(f)))
        .collect::<Result<Vec<_>, _>>()?;
    KeyRing::from_key_files(&contents).map_err(|e| field_err(e.field, e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use irsa_sts_core::MasterKey;

    const BASE: &str = "account: \"111122223333\"\nregion: us-east-1\nsigningKeys:\n  - file: k\n";

    #[test]
    fn without_gateway_section() {
        let (c, g) = parse(BASE).unwrap();
        assert_eq!(c.account, "111122223333");
        assert_eq!(g, GatewaySection::default());
    }

    #[test]
    fn with_gateway_section() {
        let text = format!(
            "{BASE}gateway:\n  upstream:\n    url: http://127.0.0.1:8000\n    accessKeyId: AKID\n    secretAccessKeyFile: up.secret\n"
        );
        let (c, g) = parse(&text).unwrap();
        assert_eq!(c.signing_keys, vec![PathBuf::from("k")]);
        assert_eq!(g.upstream.url.as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(g.upstream.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(
            g.upstream.secret_access_key_file,
            Some(PathBuf::from("up.secret"))
        );
        let dbg = format!(
            "{:?}",
            UpstreamSection {
                secret_access_key: Some("s3cr3t".into()),
                ..UpstreamSection::default()
            }
        );
        assert!(!dbg.contains("s3cr3t"));
    }

    #[test]
    fn errors() {
        let e = parse(&format!("{BASE}gateway:\n  upstrem: {{}}\n")).unwrap_err();
        assert!(e.to_string().starts_with("gateway:"), "{e}");
        let e = parse("account: \"1\"\nregion: us-east-1\n").unwrap_err();
        assert!(e.to_string().starts_with("account:"), "{e}");
        let e = parse(": : :").unwrap_err();
        assert!(e.to_string().starts_with("invalid configuration"), "{e}");
    }

    #[test]
    fn key_ring_needs_keys() {
        let (c, _) = parse("account: \"111122223333\"\nregion: us-east-1\n").unwrap();
        let e = key_ring(&c, Path::new(".")).unwrap_err();
        assert!(e.to_string().starts_with("signingKeys:"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "11".repeat(32)).unwrap();
        let (c, _) = parse(BASE).unwrap();
        let ring = key_ring(&c, dir.path()).unwrap();
        assert_eq!(
            ring.active().id(),
            MasterKey::from_bytes([0x11; 32]).unwrap().id()
        );
        std::fs::write(dir.path().join("k"), "short").unwrap();
        let e = key_ring(&c, dir.path()).unwrap_err();
        assert!(e.to_string().starts_with("signingKeys[0].file:"), "{e}");
    }
}
