#![doc = include_str!("../README.md")]
// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]

mod account;
mod analyze;
mod cluster;
mod doctor;
mod permissions;
mod pod_identity;
mod render;
mod subject;

pub use account::{
    Account, Document, MAX_INPUT_BYTES, OidcProvider, PermissionPolicy, PolicySource, Role,
};
pub use analyze::{
    AuditFinding, Cluster, OtherRole, Report, RoleReport, SaReport, SaStatus, TrustPattern, audit,
};
pub use cluster::{
    DEFAULT_ANNOTATION_PREFIX, DEFAULT_AUDIENCE, ServiceAccount, issuer_key_prefix,
    parse_service_accounts,
};
pub use doctor::{
    Check, Iam, PodFacts, diagnose_pod, explain_trust, pod_create_webhooks, pod_role_arn,
    render_checks, selector_matches, trust_checks,
};
pub use permissions::{PermissionSummary, PolicySummary, StatementSummary, summarize};
pub use pod_identity::{
    AgentProbe, Associations, POD_IDENTITY_AUDIENCE, POD_IDENTITY_TAG_KEYS, PodIdentityAssociation,
    PodIdentityFacts, agent_check, diagnose_pod_identity, session_tags, trust_statement,
};
pub use render::{escape, html, json, table};
pub use subject::{Reach, SA_PREFIX};

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// Not an `aws iam get-account-authorization-details` export.
    #[error("not an account authorization details export: {0}")]
    Export(String),
    /// Not a ServiceAccount list.
    #[error("not a ServiceAccount list: {0}")]
    ServiceAccounts(String),
    /// Larger than the limit.
    #[error("input larger than {0} bytes")]
    TooLarge(usize),
}
