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

/// Requests of one principal on one role against its trust policy, for one or more
/// actions: the condition keys are built once and moved in, never copied per action.
#[derive(Debug)]
pub(crate) struct TrustRequest {
    req: irsa_policy::Request,
}

impl TrustRequest {
    /// The federated provider ARN `principal` (matched against `Federated` entries only)
    /// asking for the role ARN `resource` with condition keys `context`.
    pub(crate) fn new(principal: &str, resource: &str, context: Ctx) -> TrustRequest {
        TrustRequest::of(
            irsa_policy::PrincipalType::Federated,
            principal,
            resource,
            context,
        )
    }

    /// A `kind` principal (e.g. the `Service` principal `pods.eks.amazonaws.com`) asking
    /// for the role ARN `resource` with condition keys `context`.
    pub(crate) fn of(
        kind: irsa_policy::PrincipalType,
        principal: &str,
        resource: &str,
        context: Ctx,
    ) -> TrustRequest {
        TrustRequest {
            req: irsa_policy::Request::new(String::new(), resource)
                .with_principal(principal)
                .with_principal_type(kind)
                .with_context(context),
        }
    }

    /// Whether the trust policy allows `action` (`sts:AssumeRoleWithWebIdentity`,
    /// `sts:TagSession`, …): no explicit deny, at least one allow.
    pub(crate) fn allows(&mut self, p: &ValidPolicy, action: &str) -> bool {
        self.req.action.clear();
        self.req.action.push_str(action);
        irsa_policy::decide_trust(&p.policy, &self.req) == irsa_policy::Decision::Allow
    }
}
