//! Webhook flags that affect mutation.

use crate::{DEFAULT_TOKEN_EXPIRATION, MIN_TOKEN_EXPIRATION};

/// The webhook flags that affect mutation. `Default` gives the reference's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `--annotation-prefix`: prefix of the ServiceAccount and pod annotations
    /// (`<prefix>/role-arn`, `<prefix>/skip-containers`, ...). Default `eks.amazonaws.com`.
    pub annotation_prefix: String,
    /// `--token-audience`: IRSA audience when the SA has none. Default `sts.amazonaws.com`.
    pub token_audience: String,
    /// `--token-mount-path`: IRSA mount path.
    /// Default `/var/run/secrets/eks.amazonaws.com/serviceaccount`.
    pub token_mount_path: String,
    /// `--token-expiration` in seconds. Default 86400. The server raises the flag to at
    /// least 600 with [`clamp_token_expiration`]; this crate clamps it again defensively.
    pub token_expiration: i64,
    /// `--aws-default-region`; empty means no region injection. Default empty.
    pub aws_default_region: String,
    /// `--sts-regional-endpoint` (singular). Default false.
    pub sts_regional_endpoint: bool,
    /// `--region-all-pods` (not in the reference): pods that get no identity still get the
    /// region (`--aws-default-region` or their ServiceAccount's `<prefix>/region`).
    /// Default false.
    pub region_all_pods: bool,
    /// `--compose-role-arn`: the partition and account read from IMDS at startup by the
    /// server. `None` (the default) turns composing off.
    pub compose_role_arn: Option<ComposeRoleArn>,
    /// `--container-credentials-audience`. Default `pods.eks.amazonaws.com`.
    pub container_credentials_audience: String,
    /// `--container-credentials-token-mount-path`.
    /// Default `/var/run/secrets/pods.eks.amazonaws.com/serviceaccount`.
    pub container_credentials_token_mount_path: String,
    /// `--container-credentials-token-volume-name`. Default `eks-pod-identity-token`.
    pub container_credentials_token_volume_name: String,
    /// `--container-credentials-token-path`. Default `eks-pod-identity-token`.
    pub container_credentials_token_path: String,
    /// `--container-credentials-full-uri`. Default `http://169.254.170.23/v1/credentials`.
    pub container_credentials_full_uri: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            annotation_prefix: "eks.amazonaws.com".into(),
            token_audience: "sts.amazonaws.com".into(),
            token_mount_path: "/var/run/secrets/eks.amazonaws.com/serviceaccount".into(),
            token_expiration: DEFAULT_TOKEN_EXPIRATION,
            aws_default_region: String::new(),
            sts_regional_endpoint: false,
            region_all_pods: false,
            compose_role_arn: None,
            container_credentials_audience: "pods.eks.amazonaws.com".into(),
            container_credentials_token_mount_path:
                "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount".into(),
            container_credentials_token_volume_name: "eks-pod-identity-token".into(),
            container_credentials_token_path: "eks-pod-identity-token".into(),
            container_credentials_full_uri: "http://169.254.170.23/v1/credentials".into(),
        }
    }
}

impl Settings {
    /// The full annotation key `<prefix>/<name>`, e.g. `eks.amazonaws.com/role-arn`.
    pub fn annotation(&self, name: &str) -> String {
        format!("{}/{}", self.annotation_prefix, name)
    }

    /// `token_expiration` raised to at least [`MIN_TOKEN_EXPIRATION`].
    pub fn effective_token_expiration(&self) -> i64 {
        clamp_token_expiration(self.token_expiration)
    }
}

/// `--compose-role-arn`: turns a bare role name into
/// `arn:{partition}:iam::{account_id}:role/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeRoleArn {
    /// e.g. `aws`; see [`partition_for_region`].
    pub partition: String,
    /// 12-digit account id of the node (from the IMDS identity document).
    pub account_id: String,
}

/// Raises a token lifetime to at least [`MIN_TOKEN_EXPIRATION`] (no upper clamp, as in
/// the reference).
pub fn clamp_token_expiration(seconds: i64) -> i64 {
    seconds.max(MIN_TOKEN_EXPIRATION)
}

/// The AWS partition of a region, as the reference derives it for `--compose-role-arn`:
/// `cn-` → `aws-cn`, `us-gov-` → `aws-us-gov`, `us-isob-` → `aws-iso-b`,
/// `us-iso-` → `aws-iso`, `eusc-` → `aws-eusc`, anything else `aws`.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_reference_flags() {
        let s = Settings::default();
        assert_eq!(s.annotation("role-arn"), "eks.amazonaws.com/role-arn");
        assert_eq!(s.token_expiration, 86400);
        assert!(!s.sts_regional_endpoint);
        assert_eq!(
            s.container_credentials_full_uri,
            "http://169.254.170.23/v1/credentials"
        );
    }

    #[test]
    fn clamp_raises_only() {
        assert_eq!(clamp_token_expiration(10), 600);
        assert_eq!(clamp_token_expiration(-5), 600);
        assert_eq!(clamp_token_expiration(600), 600);
        assert_eq!(clamp_token_expiration(1_000_000), 1_000_000);
    }

    #[test]
    fn partitions() {
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_for_region("us-iso-east-1"), "aws-iso");
        assert_eq!(partition_for_region("us-isob-east-1"), "aws-iso-b");
        assert_eq!(partition_for_region("eusc-de-east-1"), "aws-eusc");
        assert_eq!(partition_for_region("eu-west-1"), "aws");
    }
}
