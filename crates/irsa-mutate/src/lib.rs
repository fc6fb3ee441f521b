// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

mod config;
mod mutate;
mod raw;
mod resolve;
mod settings;

pub use config::{
    ConfigError, ConfigMapConfig, ConfigMapEntry, ContainerCredentialsConfig, Identity,
    ServiceAccountConfig, parse_go_bool, region_looks_valid, role_arn_looks_valid,
};
pub use mutate::{MutateError, PatchOp, Pod, mutate, mutate_pod, pod_service_account};
pub use resolve::{
    ContainerCredentialsDecision, Decision, IrsaDecision, Lookup, NoMutation, RegionDecision,
    resolve,
};
pub use settings::{ComposeRoleArn, Settings, clamp_token_expiration, partition_for_region};

/// Default token lifetime in seconds (`--token-expiration`), and the value that the
/// container-credentials jitter replaces.
pub const DEFAULT_TOKEN_EXPIRATION: i64 = 86400;
/// Minimum token lifetime in seconds; smaller values are raised to this.
pub const MIN_TOKEN_EXPIRATION: i64 = 600;
/// Lower bound of the container-credentials jitter: 86400 becomes uniform in
/// `[JITTER_MIN_EXPIRATION, DEFAULT_TOKEN_EXPIRATION]`.
pub const JITTER_MIN_EXPIRATION: i64 = 79200;
/// Name of the IRSA projected-token volume (hard-coded in the reference).
pub const IRSA_VOLUME_NAME: &str = "aws-iam-token";
/// File name of the IRSA token inside its mount (hard-coded in the reference).
pub const IRSA_TOKEN_PATH: &str = "token";
/// Label written in container-credentials mode (does not follow the annotation prefix).
pub const POD_IDENTITY_LABEL: &str = "eks.amazonaws.com/pod-identity";
/// Name of the ConfigMap read with `--watch-config-map` (in `--namespace`).
pub const CONFIG_MAP_NAME: &str = "pod-identity-webhook";
/// Key of the ConfigMap's `data` that holds the JSON mapping.
pub const CONFIG_MAP_KEY: &str = "config";

/// ServiceAccount annotation (under the prefix): role ARN, required for IRSA.
pub const ROLE_ARN_ANNOTATION: &str = "role-arn";
/// ServiceAccount annotation (under the prefix): token audience.
pub const AUDIENCE_ANNOTATION: &str = "audience";
/// ServiceAccount annotation (under the prefix): regional STS endpoints (Go ParseBool).
pub const STS_REGIONAL_ENDPOINTS_ANNOTATION: &str = "sts-regional-endpoints";
/// ServiceAccount and pod annotation (under the prefix): token lifetime in seconds.
pub const TOKEN_EXPIRATION_ANNOTATION: &str = "token-expiration";
/// Pod annotation (under the prefix): comma-separated container names to leave alone.
pub const SKIP_CONTAINERS_ANNOTATION: &str = "skip-containers";
/// Pod annotation (under the prefix): comma-separated container names that alone get the
/// mutation (the inverse of skip-containers, which it overrides). Not in the reference.
pub const INCLUDE_CONTAINERS_ANNOTATION: &str = "include-containers";
/// ServiceAccount annotation (under the prefix): the region injected as `AWS_REGION` and
/// `AWS_DEFAULT_REGION` for its pods instead of `--aws-default-region`; empty turns the
/// injection off. Not in the reference.
pub const REGION_ANNOTATION: &str = "region";
/// ServiceAccount and pod annotation (under the prefix): `AWS_ROLE_SESSION_NAME` for IRSA;
/// [`ROLE_SESSION_NAME_POD_NAME`] or a literal session name. Not in the reference.
pub const ROLE_SESSION_NAME_ANNOTATION: &str = "role-session-name";
/// The value of [`ROLE_SESSION_NAME_ANNOTATION`] that names each session after its pod
/// (downward API `metadata.name`).
pub const ROLE_SESSION_NAME_POD_NAME: &str = "pod-name";
/// Longest role session name STS accepts.
pub const MAX_ROLE_SESSION_NAME: usize = 64;
/// Characters the API server appends to a pod's `generateName`.
pub const GENERATED_NAME_SUFFIX: usize = 5;
