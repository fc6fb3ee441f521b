//! The seam to irsa-policy: documents parsed and validated per kind, trust evaluation.

use std::sync::Arc;

pub(crate) use irsa_policy::{Context as Ctx, PolicyKind};

/// A parsed, validated policy document, with its text as given.
#[derive(Debug, Clone)]
pub struct ValidPolicy {
    /// The document as given (JSON).
    pub text: Arc<str>,
    /// The parsed policy.
    pub policy: Arc<irsa_policy::Policy>,
    compact_len: usize,
}

/// Parses and validates `text` as a policy of `kind`; the error is the first problem found
/// (an [`crate::StsError`] through its `From` impl).
pub(crate) fn parse(text: &str, kind: PolicyKind) -> Result<ValidPolicy, irsa_policy::PolicyError> {
    let policy = irsa_policy::validate(text, kind).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or(irsa_policy::PolicyError::Syntax)
    })?;
    let compact_len = serde_json::from_str::<serde_json::Value>(text)
        .map(|v| v.to_string().len())
        .unwrap_or(text.len());
    Ok(ValidPolicy {
        text: Arc::from(text),
        policy: Arc::new(policy),
        compact_len,
    })
}

impl ValidPolicy {
    /// Length of the document without insignificant whitespace (for PackedPolicySize).
    pub fn compact_len(&self) -> usize {
        self.compact_len
    }
}

/// A request against a trust policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrustRequest<'a> {
    /// The federated provider ARN (matched against `Federated` entries only).
    pub principal: &'a str,
    /// `sts:AssumeRoleWithWebIdentity`, `sts:TagSession`, …
    pub action: &'a str,
    /// The role ARN.
    pub resource: &'a str,
    /// Condition keys.
    pub context: &'a Ctx,
}

/// Whether the trust policy allows the request (no explicit deny, at least one allow).
pub(crate) fn is_allowed(p: &ValidPolicy, r: &TrustRequest<'_>) -> bool {
    let req = irsa_policy::Request::new(r.action, r.resource)
        .with_principal(r.principal)
        .with_principal_type(irsa_policy::PrincipalType::Federated)
        .with_context(r.context.clone());
    irsa_policy::evaluate_trust(&p.policy, &req).is_allowed()
}
