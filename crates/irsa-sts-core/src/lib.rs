// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

mod assume;
mod caller;
mod config;
mod credentials;
mod error;
mod pod_identity;
mod policy;
mod query;
mod xml;

// The AWS Query API: decoding, the two actions, the XML answers.
pub use assume::{
    Prepared, RequestContext, SessionPolicies, assume_prepared, assume_role_with_web_identity,
    prepare as prepare_assume_role, session_policies,
};
pub use caller::get_caller_identity;
pub use query::{
    AssumeRoleWithWebIdentityRequest, Params, Request as StsRequest, Secret,
    decode as decode_sts_request,
};
pub use xml::{
    AssumeRoleWithWebIdentityResult, AssumedRoleUser, GetCallerIdentityResult,
    assume_role_with_web_identity_response, encode_error, get_caller_identity_response, iso8601,
    request_id,
};

// The configuration.
pub use config::{Config, ConfigError, ManagedPolicy, ParseOptions, Provider, Role, from_yaml_str};

// Stateless credentials.
pub use credentials::{
    CredError, Credentials, KeyFileError, KeyId, KeyRing, MAX_SESSION_TOKEN_LEN, MasterKey,
    OpenedSession, SECRET_ACCESS_KEY_LEN, SessionClaims, SessionTag, is_access_key_id,
    issue as issue_credentials, open as open_session, secret_for as secret_access_key,
};

// The EKS Auth API's AssumeRoleForPodIdentity.
pub use pod_identity::{
    Association, Caller as PodIdentityCaller, Cluster, EksAuthError, POD_IDENTITY_AUDIENCE,
    PodClaims, Request as PodIdentityRequest, Response as PodIdentityResponse,
    assume as assume_role_for_pod_identity, authenticate as authenticate_pod_identity_caller,
    decode as decode_pod_identity_request, is_cluster_name,
    parse_token as parse_pod_identity_token, pod_claims,
};

pub use error::{Fault, Shown, StsError, ValidationFailure, validation_message};
pub use policy::ValidPolicy;
