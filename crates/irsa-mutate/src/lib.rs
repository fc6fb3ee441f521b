// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]
//! Pure pod mutation of the IRSA / EKS Pod Identity admission webhook.
//!
//! `(pod JSON, settings, config, rng) -> JSON Patch`, with no I/O: the server crate
//! (`irsa-webhook`) owns HTTP, the ServiceAccount cache, the ConfigMap watch and the
//! container-credentials file watch, and calls into this crate.
//!
//! Behaviour follows the reference Go webhook (aws/amazon-eks-pod-identity-webhook),
//! including its patch shape, except that containers are rebuilt from the raw JSON so
//! fields the reference's typed structs did not know (native sidecar `restartPolicy`,
//! `startupProbe`, anything newer) survive.
//!
//! Typical use by a server, per admission request:
//!
//! ```
//! use irsa_mutate::*;
//! use std::collections::BTreeMap;
//!
//! let settings = Settings::default();
//! // ServiceAccount cache entry, built once per SA add/update:
//! let mut ann = BTreeMap::new();
//! ann.insert("eks.amazonaws.com/role-arn".to_string(),
//!            "arn:aws:iam::111122223333:role/app".to_string());
//! let sa = ServiceAccountConfig::from_annotations(&ann, &settings);
//!
//! let pod = serde_json::json!({
//!     "metadata": {"name": "p"},
//!     "spec": {"serviceAccountName": "app", "containers": [{"name": "c", "image": "x"}]}
//! });
//! let decision = resolve(&Lookup {
//!     namespace: "default",
//!     service_account: pod_service_account(&pod),
//!     service_account_config: Some(&sa),
//!     config_map: None,
//!     container_credentials: None,
//! }, &settings);
//! assert_eq!(decision.method(), Some("sts_web_identity"));
//! let mut rng = rand::rngs::mock::StepRng::new(0, 0);
//! let patch = mutate(&pod, &decision, &settings, &mut rng).unwrap().unwrap();
//! let bytes = serde_json::to_vec(&patch).unwrap(); // the AdmissionResponse patch
//! assert!(!bytes.is_empty());
//! ```

mod config;
mod mutate;
mod resolve;
mod settings;

pub use config::{
    ConfigError, ConfigMapConfig, ConfigMapEntry, ContainerCredentialsConfig, Identity,
    ServiceAccountConfig, parse_go_bool, role_arn_looks_valid,
};
pub use mutate::{MutateError, PatchOp, mutate, pod_service_account};
pub use resolve::{
    ContainerCredentialsDecision, Decision, IrsaDecision, Lookup, NoMutation, resolve,
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
