//! Request evaluation across identity, resource, boundary and session policies.
//!
//! The rules are the IAM User Guide's (see the crate README, "Evaluation", for the sources):
//! [`decide`] computes a decision without allocating, [`evaluate`] adds the statements that
//! decided it, and [`crate::explain`] reports every statement considered. All three use
//! [`combine`] for the last step, so they cannot disagree.

use crate::arn::{split_colon, split6};
use crate::context::Request;
use crate::policy::{Effect, Policy, Principal, PrincipalType, Statement};
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// An applicable Allow on every required side and no applicable Deny.
    Allow,
    /// An applicable Deny statement in some policy.
    ExplicitDeny,
    /// No Allow (the default).
    ImplicitDeny,
}

impl Decision {
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "Allow",
            Decision::ExplicitDeny => "ExplicitDeny",
            Decision::ImplicitDeny => "ImplicitDeny",
        }
    }

    /// Parses [`Decision::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "Allow" => Some(Decision::Allow),
            "ExplicitDeny" => Some(Decision::ExplicitDeny),
            "ImplicitDeny" => Some(Decision::ImplicitDeny),
            _ => None,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which policy of an [`EvalInput`] a statement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyRef {
    /// `identity_policies[i]`.
    Identity(usize),
    /// The resource policy.
    Resource,
    /// `permission_boundaries[i]`.
    Boundary(usize),
    /// `session_policies[i]`.
    Session(usize),
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyRef::Identity(i) => write!(f, "identity[{i}]"),
            PolicyRef::Resource => f.write_str("resource"),
            PolicyRef::Boundary(i) => write!(f, "boundary[{i}]"),
            PolicyRef::Session(i) => write!(f, "session[{i}]"),
        }
    }
}

/// A statement that took part in the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// The policy.
    pub policy: PolicyRef,
    /// The statement's index in that policy.
    pub statement: usize,
    /// The statement's `Sid`.
    pub sid: Option<Arc<str>>,
    /// The statement's effect.
    pub effect: Effect,
}

/// Decision plus the statements that decided it: the applicable Deny statements for
/// `ExplicitDeny`, every applicable Allow statement for `Allow`, none for `ImplicitDeny`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// The deciding statements, ordered identity, resource, boundary, session.
    pub matched: Vec<MatchedStatement>,
}

impl Evaluation {
    /// `decision == Allow`.
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    /// The `irsa policy eval` output: `{"decision": .., "matched": [{"policy", "statement", "sid"}]}`
    /// (`sid` omitted when the statement has none).
    pub fn to_value(&self) -> Value {
        let matched: Vec<Value> = self
            .matched
            .iter()
            .map(|m| {
                let mut v = json!({"policy": m.policy.to_string(), "statement": m.statement});
                if let (Some(sid), Value::Object(o)) = (&m.sid, &mut v) {
                    o.insert("sid".into(), Value::String(sid.to_string()));
                }
                v
            })
            .collect();
        json!({"decision": self.decision.as_str(), "matched": matched})
    }
}

/// The policies that apply to a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvalInput<'a> {
    /// The principal's identity-based policies (managed and inline).
    pub identity_policies: &'a [Policy],
    /// The resource's policy (for a role trust evaluation: the trust policy).
    pub resource_policy: Option<&'a Policy>,
    /// Permissions boundary policies (treated as one boundary: some policy must allow).
    pub permission_boundaries: &'a [Policy],
    /// Session policies (inline and managed; some policy must allow).
    pub session_policies: &'a [Policy],
}

impl<'a> EvalInput<'a> {
    /// The caller's identity-based policies, nothing else.
    pub fn identity(identity_policies: &'a [Policy]) -> EvalInput<'a> {
        EvalInput {
            identity_policies,
            ..EvalInput::default()
        }
    }

    /// Sets the resource policy.
    #[must_use]
    pub fn with_resource_policy(mut self, policy: &'a Policy) -> EvalInput<'a> {
        self.resource_policy = Some(policy);
        self
    }

    /// Sets the permissions boundary policies.
    #[must_use]
    pub fn with_boundaries(mut self, policies: &'a [Policy]) -> EvalInput<'a> {
        self.permission_boundaries = policies;
        self
    }

    /// Sets the session policies.
    #[must_use]
    pub fn with_session_policies(mut self, policies: &'a [Policy]) -> EvalInput<'a> {
        self.session_policies = policies;
        self
    }
}

/// How an applicable resource-policy Allow names the caller, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalMatch {
    /// The caller's account (`"111122223333"`, `arn:aws:iam::111122223333:root`): within the
    /// account this delegates to the caller's identity-based policies.
    Account,
    /// The IAM identity the calling session was made from: the role of an assumed-role
    /// session (`arn:aws:iam::111122223333:role/app` for
    /// `arn:aws:sts::111122223333:assumed-role/app/s1`), or the IAM user who created a
    /// federated user session ([`Request::session_issuer`]). Within the account the grant
    /// is limited by an implicit deny in the permissions boundary or a session policy.
    Issuer,
    /// The caller itself: its user, assumed-role session or federated user ARN, `"*"`, a
    /// service, federated provider or canonical user naming it. Within the account the grant
    /// is not limited by identity policies, boundaries or session policies.
    Exact,
}

impl PrincipalMatch {
    /// `account`, `issuer` or `exact`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalMatch::Account => "account",
            PrincipalMatch::Issuer => "issuer",
            PrincipalMatch::Exact => "exact",
        }
    }
}

/// The caller is a federated user session (`arn:aws:sts::ACCOUNT:federated-user/NAME`, made
/// by `GetFederationToken`), which has no permissions from identity policies without a
/// session policy.
fn is_federated_user_split(parts: &[Option<&str>; 6]) -> bool {
    matches!(
        parts,
        [Some("arn"), _, Some("sts"), _, Some(_), Some(r)] if r.starts_with("federated-user/")
    )
}

fn aws_value_matches(
    value: &str,
    principal: &str,
    pp: &[Option<&str>; 6],
    issuer: Option<&str>,
) -> Option<PrincipalMatch> {
    if value == principal {
        return Some(PrincipalMatch::Exact);
    }
    let [
        Some("arn"),
        Some(ppart),
        Some(psvc),
        _,
        Some(pacct),
        Some(pres),
    ] = *pp
    else {
        return None;
    };
    // Account and role principals name IAM identities, not identity providers.
    if (psvc != "iam" && psvc != "sts")
        || pres.starts_with("oidc-provider/")
        || pres.starts_with("saml-provider/")
    {
        return None;
    }
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return (value == pacct).then_some(PrincipalMatch::Account);
    }
    if issuer == Some(value) {
        return Some(PrincipalMatch::Issuer);
    }
    let vp = split6(value, false);
    let [
        Some("arn"),
        Some(vpart),
        Some("iam"),
        Some(""),
        Some(vacct),
        Some(vres),
    ] = vp
    else {
        return None;
    };
    if vpart != ppart || vacct != pacct {
        return None;
    }
    if vres == "root" {
        return Some(PrincipalMatch::Account);
    }
    // A role ARN names the sessions of that role (unless the issuer is known and differs).
    if issuer.is_none()
        && let (Some(role_path), Some(session)) = (
            vres.strip_prefix("role/"),
            pres.strip_prefix("assumed-role/"),
        )
    {
        let role_name = role_path.rsplit('/').next().unwrap_or(role_path);
        if psvc == "sts" && session.split('/').next() == Some(role_name) {
            return Some(PrincipalMatch::Issuer);
        }
    }
    None
}

/// A request split once per evaluation: the action at its colon, the resource ARN into its
/// six components, the caller's principal type.
pub(crate) struct Prepared<'r> {
    pub(crate) req: &'r Request,
    action_split: Option<(&'r str, &'r str)>,
    /// The resource ARN's six components, split on first use (a trust decision has no
    /// `Resource` to match and no account to compare, so it never splits it).
    resource_parts: std::cell::OnceCell<[Option<&'r str>; 6]>,
    /// The principal split into its ARN components (all `None` when anonymous), on first
    /// use (a trust decision with the caller's type given and no `AWS` principal never
    /// splits it).
    principal_parts: std::cell::OnceCell<[Option<&'r str>; 6]>,
    /// The caller's type, inferred on first use when the request does not give it.
    kind: std::cell::OnceCell<Option<PrincipalType>>,
}

impl<'r> Prepared<'r> {
    pub(crate) fn new(req: &'r Request) -> Prepared<'r> {
        Prepared {
            req,
            action_split: split_colon(&req.action),
            resource_parts: std::cell::OnceCell::new(),
            principal_parts: std::cell::OnceCell::new(),
            kind: std::cell::OnceCell::new(),
        }
    }

    /// The principal's ARN components (once per evaluation).
    #[inline]
    fn principal_parts(&self) -> &[Option<&'r str>; 6] {
        self.principal_parts.get_or_init(|| {
            self.req
                .principal
                .as_deref()
                .map_or([None; 6], |p| split6(p, false))
        })
    }

    /// The caller's type (`None`: anonymous).
    #[inline]
    fn kind(&self) -> Option<PrincipalType> {
        *self.kind.get_or_init(|| {
            let p = self.req.principal.as_deref()?;
            Some(
                self.req
                    .principal_type
                    .unwrap_or_else(|| PrincipalType::infer_split(p, self.principal_parts())),
            )
        })
    }

    /// The resource ARN split into its six components (once per evaluation).
    #[inline]
    pub(crate) fn resource_parts(&self) -> &[Option<&'r str>; 6] {
        self.resource_parts
            .get_or_init(|| split6(&self.req.resource, false))
    }

    /// The caller is a federated user session (see [`is_federated_user_split`]).
    pub(crate) fn federated_user(&self) -> bool {
        self.req.principal.is_some() && is_federated_user_split(self.principal_parts())
    }

    /// Is the request within one account (resource account from `resource_account` or the
    /// resource ARN, vs. the principal ARN's account; unknown on either side counts as same)?
    pub(crate) fn same_account(&self) -> bool {
        let resource_account =
            self.req
                .resource_account
                .as_deref()
                .or(match *self.resource_parts() {
                    [Some("arn"), _, _, _, Some(a), Some(_)] if !a.is_empty() => Some(a),
                    _ => None,
                });
        let principal_account = match *self.principal_parts() {
            [Some("arn"), _, _, _, Some(a), Some(_)] if !a.is_empty() => Some(a),
            _ => None,
        };
        match (resource_account, principal_account) {
            (Some(r), Some(p)) => r == p,
            _ => true,
        }
    }
}

/// How the statement's `Principal` names the caller (`principal` of type `kind`; both `None`
/// for an anonymous caller). An entry matches only a caller of its own type: `Federated`
/// values only federated callers (OIDC/SAML providers, web identity names), `AWS` values
/// only IAM/STS principals, and so on; so an OIDC provider ARN under `AWS` or `Service`
/// names nobody, as in IAM. `"*"` under `AWS` is `"Principal": "*"` (everyone, anonymous
/// included); under another type, every caller of that type.
pub(crate) fn principal_match(p: &Principal, pr: &Prepared<'_>) -> Option<PrincipalMatch> {
    let req = pr.req;
    let principal = req.principal.as_deref();
    let issuer = req.session_issuer.as_deref();
    match p {
        Principal::Any => Some(PrincipalMatch::Exact),
        Principal::Typed(entries) => {
            let mut best = None;
            for e in entries {
                let same_type = pr.kind() == Some(e.kind);
                for v in &e.values {
                    let m = if v == "*" {
                        (e.kind == PrincipalType::Aws || same_type).then_some(PrincipalMatch::Exact)
                    } else {
                        match principal {
                            Some(caller) if same_type => match e.kind {
                                PrincipalType::Aws => {
                                    aws_value_matches(v, caller, pr.principal_parts(), issuer)
                                }
                                _ => (v == caller).then_some(PrincipalMatch::Exact),
                            },
                            _ => None,
                        }
                    };
                    if m > best {
                        best = m;
                    }
                    if best == Some(PrincipalMatch::Exact) {
                        return best;
                    }
                }
            }
            best
        }
    }
}

/// The resource-policy principal check of one statement: `Some(how)` when it applies.
/// `NotPrincipal` applies to every caller it does not name, as `Exact`; a Deny with
/// `NotPrincipal` applies to every caller with a permissions boundary, whatever it names
/// (IAM User Guide, "Permissions boundaries for IAM entities", the `NotPrincipal` warning).
pub(crate) fn statement_principal(
    st: &Statement,
    pr: &Prepared<'_>,
    has_boundary: bool,
) -> Option<PrincipalMatch> {
    match &st.principal {
        None => None,
        Some((false, p)) => principal_match(p, pr),
        Some((true, _))
            if st.effect == Effect::Deny && has_boundary && pr.req.principal.is_some() =>
        {
            Some(PrincipalMatch::Exact)
        }
        Some((true, p)) => match principal_match(p, pr) {
            Some(_) => None,
            None => Some(PrincipalMatch::Exact),
        },
    }
}

/// Does the statement's `Resource`/`NotResource` cover the request (no element: yes)?
pub(crate) fn resource_applies(st: &Statement, pr: &Prepared<'_>) -> bool {
    match &st.resource {
        None => true,
        Some(r) => {
            r.items
                .iter()
                .any(|p| p.matches_split(&pr.req.resource, pr.resource_parts(), &pr.req.context))
                != r.negated
        }
    }
}

/// Does the statement's `Action`/`NotAction` cover the request?
pub(crate) fn action_applies(st: &Statement, pr: &Prepared<'_>) -> bool {
    st.matches_action_split(&pr.req.action, pr.action_split)
}

/// Do all the statement's conditions hold?
pub(crate) fn conditions_hold(st: &Statement, req: &Request) -> bool {
    st.condition
        .iter()
        .flatten()
        .all(|b| b.entries.iter().all(|e| e.holds(&req.context)))
}

/// Is the statement applicable to the request (action, resource, conditions; and for a
/// resource policy, principal)? Returns how the principal matched (`Exact` outside resource
/// policies).
pub(crate) fn applies(
    st: &Statement,
    pr: &Prepared<'_>,
    resource_policy: bool,
    has_boundary: bool,
) -> Option<PrincipalMatch> {
    if !action_applies(st, pr) || !resource_applies(st, pr) {
        return None;
    }
    let pm = if resource_policy {
        statement_principal(st, pr, has_boundary)?
    } else {
        PrincipalMatch::Exact
    };
    conditions_hold(st, pr.req).then_some(pm)
}

/// What each kind of policy said about a request: the inputs of [`combine`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sides {
    /// Some applicable Deny, in any policy.
    pub(crate) deny: bool,
    /// Some applicable identity-policy Allow.
    pub(crate) identity: bool,
    /// The strongest principal match of an applicable resource-policy Allow.
    pub(crate) resource: Option<PrincipalMatch>,
    /// Some applicable boundary Allow.
    pub(crate) boundary: bool,
    /// Some applicable session-policy Allow.
    pub(crate) session: bool,
}

/// Which rule decided: the reason [`crate::explain`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Basis {
    /// An applicable Deny statement.
    ExplicitDeny,
    /// Trust evaluation: an Allow of the trust policy names the caller.
    TrustPolicyAllows,
    /// Trust evaluation: no Allow of the trust policy names the caller.
    TrustPolicySilent,
    /// Same account: the resource policy names the caller itself; boundaries, session and
    /// identity policies do not limit it.
    ResourceNamesCaller,
    /// Same account: the resource policy names the session's issuer (role or IAM user),
    /// and the permissions boundary and session policies allow too.
    ResourceNamesIssuer,
    /// Identity-based policies allow, and so do the boundary and session policies (within
    /// the account, or across accounts with the resource policy also naming the caller).
    IdentityAllows,
    /// Nothing allows: no identity-policy Allow (and no resource-policy Allow that grants
    /// on its own).
    NoIdentityAllow,
    /// The identity policies (or the resource policy naming the issuer) allow, but the
    /// permissions boundary does not.
    BoundaryImplicitDeny,
    /// The identity policies (or the resource policy naming the issuer) allow, but no
    /// session policy does (or a federated user session has none).
    SessionImplicitDeny,
    /// Across accounts: the identity side allows but the resource policy names neither the
    /// caller nor its account.
    CrossAccountResourceSilent,
}

impl Basis {
    /// One sentence: why.
    pub fn describe(self) -> &'static str {
        match self {
            Basis::ExplicitDeny => "an applicable Deny statement decides",
            Basis::TrustPolicyAllows => "the trust policy allows the caller",
            Basis::TrustPolicySilent => "no Allow of the trust policy applies to the caller",
            Basis::ResourceNamesCaller => {
                "the resource policy allows the caller itself (same account: not limited by identity, boundary or session policies)"
            }
            Basis::ResourceNamesIssuer => {
                "the resource policy allows the session's role or IAM user, and the permissions boundary and session policies allow too"
            }
            Basis::IdentityAllows => {
                "identity-based policies allow, within the permissions boundary and session policies"
            }
            Basis::NoIdentityAllow => {
                "no identity-based policy allows, and no resource-policy Allow grants on its own"
            }
            Basis::BoundaryImplicitDeny => "the permissions boundary does not allow the action",
            Basis::SessionImplicitDeny => "no session policy allows the action",
            Basis::CrossAccountResourceSilent => {
                "cross-account request: no resource policy allows the caller or its account"
            }
        }
    }

    /// The variant name (`ResourceNamesIssuer`, ...), for JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::ExplicitDeny => "ExplicitDeny",
            Basis::TrustPolicyAllows => "TrustPolicyAllows",
            Basis::TrustPolicySilent => "TrustPolicySilent",
            Basis::ResourceNamesCaller => "ResourceNamesCaller",
            Basis::ResourceNamesIssuer => "ResourceNamesIssuer",
            Basis::IdentityAllows => "IdentityAllows",
            Basis::NoIdentityAllow => "NoIdentityAllow",
            Basis::BoundaryImplicitDeny => "BoundaryImplicitDeny",
            Basis::SessionImplicitDeny => "SessionImplicitDeny",
            Basis::CrossAccountResourceSilent => "CrossAccountResourceSilent",
        }
    }
}

/// Evaluation mode: every policy kind, or the trust policy alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Full,
    Trust,
}

/// The last step of every evaluation: the decision from what each kind of policy said.
///
/// - Any applicable Deny: `ExplicitDeny`.
/// - Trust mode ([`evaluate_trust`]): an Allow of the trust policy naming the caller.
/// - The boundary holds when there is none or one of its policies allows; likewise the
///   session policies, except that a federated user session (`GetFederationToken`) without
///   session policies has no permissions but those granted to it directly.
/// - Same account: a resource-policy Allow naming the caller itself (`Exact`) allows; one
///   naming the session's issuer allows when boundary and session hold; otherwise (no
///   resource policy, or one naming the account) identity ∩ boundary ∩ session.
/// - Across accounts: identity ∩ boundary ∩ session, and the resource policy must name the
///   caller, its issuer or its account.
pub(crate) fn combine(
    input: &EvalInput<'_>,
    pr: &Prepared<'_>,
    s: Sides,
    mode: Mode,
) -> (Decision, Basis) {
    use Decision::{Allow, ExplicitDeny, ImplicitDeny};
    if s.deny {
        return (ExplicitDeny, Basis::ExplicitDeny);
    }
    if mode == Mode::Trust {
        return match s.resource {
            Some(_) => (Allow, Basis::TrustPolicyAllows),
            None => (ImplicitDeny, Basis::TrustPolicySilent),
        };
    }
    let boundary_ok = input.permission_boundaries.is_empty() || s.boundary;
    let session_ok = if input.session_policies.is_empty() {
        !pr.federated_user()
    } else {
        s.session
    };
    // Why the identity side (or an issuer grant) falls short, boundary first.
    let limited = |granted: bool| {
        if !granted {
            Basis::NoIdentityAllow
        } else if !boundary_ok {
            Basis::BoundaryImplicitDeny
        } else {
            Basis::SessionImplicitDeny
        }
    };
    let identity_ok = s.identity && boundary_ok && session_ok;
    if !pr.same_account() {
        return match (identity_ok, s.resource.is_some()) {
            (true, true) => (Allow, Basis::IdentityAllows),
            (true, false) => (ImplicitDeny, Basis::CrossAccountResourceSilent),
            (false, _) => (ImplicitDeny, limited(s.identity)),
        };
    }
    match s.resource {
        Some(PrincipalMatch::Exact) => (Allow, Basis::ResourceNamesCaller),
        _ if identity_ok => (Allow, Basis::IdentityAllows),
        Some(PrincipalMatch::Issuer) if boundary_ok && session_ok => {
            (Allow, Basis::ResourceNamesIssuer)
        }
        Some(PrincipalMatch::Issuer) => (ImplicitDeny, limited(true)),
        _ => (ImplicitDeny, limited(s.identity)),
    }
}

/// Scans every statement of every policy for the booleans of [`Sides`]; calls `on_match`
/// for each applicable statement (policy, index, statement). Allocation-free unless a
/// pattern with a case-folded policy variable has to be resolved.
fn scan(
    input: &EvalInput<'_>,
    pr: &Prepared<'_>,
    mut on_match: impl FnMut(PolicyRef, usize, &Statement),
) -> Sides {
    let mut s = Sides::default();
    let has_boundary = !input.permission_boundaries.is_empty();
    let mut one = |p: &Policy, which: PolicyRef, s: &mut Sides| {
        let resource = which == PolicyRef::Resource;
        for (i, st) in p.statements.iter().enumerate() {
            let Some(pm) = applies(st, pr, resource, has_boundary) else {
                continue;
            };
            on_match(which, i, st);
            match st.effect {
                Effect::Deny => s.deny = true,
                Effect::Allow => match which {
                    PolicyRef::Identity(_) => s.identity = true,
                    PolicyRef::Resource => s.resource = s.resource.max(Some(pm)),
                    PolicyRef::Boundary(_) => s.boundary = true,
                    PolicyRef::Session(_) => s.session = true,
                },
            }
        }
    };
    for (i, p) in input.identity_policies.iter().enumerate() {
        one(p, PolicyRef::Identity(i), &mut s);
    }
    if let Some(p) = input.resource_policy {
        one(p, PolicyRef::Resource, &mut s);
    }
    for (i, p) in input.permission_boundaries.iter().enumerate() {
        one(p, PolicyRef::Boundary(i), &mut s);
    }
    for (i, p) in input.session_policies.iter().enumerate() {
        one(p, PolicyRef::Session(i), &mut s);
    }
    s
}

/// The booleans of every kind of policy for a prepared request.
pub(crate) fn sides(input: &EvalInput<'_>, pr: &Prepared<'_>) -> Sides {
    scan(input, pr, |_, _, _| {})
}

/// The decision alone, as [`evaluate`] would give it, without allocating (for requests
/// whose policies hold no case-insensitive policy variable): the authorization hot path.
pub fn decide(input: &EvalInput<'_>, req: &Request) -> Decision {
    let pr = Prepared::new(req);
    combine(input, &pr, sides(input, &pr), Mode::Full).0
}

/// [`evaluate_trust`]'s decision alone, without allocating.
pub fn decide_trust(trust_policy: &Policy, req: &Request) -> Decision {
    let input = EvalInput {
        resource_policy: Some(trust_policy),
        ..EvalInput::default()
    };
    let pr = Prepared::new(req);
    combine(&input, &pr, sides(&input, &pr), Mode::Trust).0
}

fn evaluate_mode(input: &EvalInput<'_>, req: &Request, mode: Mode) -> Evaluation {
    // Applicable statements, in scan order (identity, resource, boundary, session): kept on
    // the stack for the common case, so only the returned list allocates.
    let mut buf: [Option<MatchedStatement>; 8] = Default::default();
    let mut n = 0usize;
    let mut overflow: Vec<MatchedStatement> = Vec::new();
    let pr = Prepared::new(req);
    let s = scan(input, &pr, |policy, statement, st| {
        let m = MatchedStatement {
            policy,
            statement,
            sid: st.sid.clone(),
            effect: st.effect,
        };
        match buf.get_mut(n) {
            Some(slot) => *slot = Some(m),
            None => overflow.push(m),
        }
        n += 1;
    });
    let (decision, _) = combine(input, &pr, s, mode);
    let keep = match decision {
        Decision::Allow => Effect::Allow,
        Decision::ExplicitDeny => Effect::Deny,
        Decision::ImplicitDeny => {
            return Evaluation {
                decision,
                matched: Vec::new(),
            };
        }
    };
    let matched = buf
        .into_iter()
        .take(n)
        .flatten()
        .chain(overflow)
        .filter(|m| m.effect == keep)
        .collect();
    Evaluation { decision, matched }
}

/// Evaluates a request with every kind of policy that applies to it, as the IAM User
/// Guide's evaluation logic describes (single account or cross-account, no SCPs/RCPs). This
/// is the one function for a caller holding identity policies, a resource policy (an S3
/// bucket policy, ...), permissions boundaries and session policies; see the crate README,
/// "Evaluation", for the rule table and its sources.
///
/// 1. Any applicable Deny in any policy: `ExplicitDeny`.
/// 2. Within one account (the resource's account equals the principal's, or either is
///    unknown): a resource-policy Allow naming the caller itself (user, assumed-role
///    session, federated user, `*`, service, provider) allows; one naming the session's
///    role (or the IAM user of a federated user session) allows when the boundary and
///    session policies allow too; one naming the account delegates to identity policies.
/// 3. Identity policies must allow otherwise, intersected with the permissions boundary
///    (if any boundary policies are given, one must allow) and the session policies
///    (likewise; a federated user session needs one). Across accounts the resource policy
///    must also name the caller, its issuer or its account.
/// 4. Otherwise `ImplicitDeny`.
///
/// For a role's trust policy use [`evaluate_trust`]: the trust policy alone decides there.
pub fn evaluate(input: &EvalInput<'_>, req: &Request) -> Evaluation {
    evaluate_mode(input, req, Mode::Full)
}

/// Evaluates a role trust policy: the trust policy alone decides, as STS does for the
/// `AssumeRole*` call (the caller's own permission to call STS is not part of it). For
/// `AssumeRoleWithWebIdentity` the request's principal is the OIDC provider ARN (or web
/// identity provider name), the action `sts:AssumeRoleWithWebIdentity`, the resource the
/// role ARN, and the context holds `<issuer>:sub`, `<issuer>:aud`, ...
pub fn evaluate_trust(trust_policy: &Policy, req: &Request) -> Evaluation {
    evaluate_mode(
        &EvalInput {
            resource_policy: Some(trust_policy),
            ..EvalInput::default()
        },
        req,
        Mode::Trust,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Context;

    fn p(s: &str) -> Policy {
        Policy::parse(s).unwrap()
    }

    fn allow(action: &str, resource: &str) -> Policy {
        p(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}}}"#
        ))
    }

    fn deny(action: &str, resource: &str) -> Policy {
        p(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Sid":"D","Effect":"Deny","Action":"{action}","Resource":"{resource}"}}}}"#
        ))
    }

    const USER: &str = "arn:aws:iam::111111111111:user/alice";
    const SESSION: &str = "arn:aws:sts::111111111111:assumed-role/app/s1";
    const OBJ: &str = "arn:aws:s3:::bucket/key";

    fn req(principal: &str) -> Request {
        Request::new("s3:GetObject", OBJ).with_principal(principal)
    }

    fn decide(input: EvalInput<'_>, r: &Request) -> Decision {
        evaluate(&input, r).decision
    }

    #[test]
    fn identity_only() {
        let r = req(USER);
        assert_eq!(decide(EvalInput::default(), &r), Decision::ImplicitDeny);
        let ids = [allow("s3:Get*", "arn:aws:s3:::bucket/*")];
        let e = evaluate(
            &EvalInput {
                identity_policies: &ids,
                ..Default::default()
            },
            &r,
        );
        assert_eq!(e.decision, Decision::Allow);
        assert_eq!(e.matched[0].policy, PolicyRef::Identity(0));
        let ids = [allow("s3:Put*", "*")];
        assert_eq!(
            decide(
                EvalInput {
                    identity_policies: &ids,
                    ..Default::default()
                },
                &r
            ),
            Decision::ImplicitDeny
        );
        let ids = [allow("s3:*", "*"), deny("s3:GetObject", "*")];
        let e = evaluate(
            &EvalInput {
                identity_policies: &ids,
                ..Default::default()
            },
            &r,
        );
        assert_eq!(e.decision, Decision::ExplicitDeny);
        assert_eq!(e.matched.len(), 1);
        assert_eq!(e.matched[0].policy, PolicyRef::Identity(1));
        assert_eq!(e.matched[0].sid.as_deref(), Some("D"));
    }

    #[test]
    fn boundaries_and_sessions_intersect() {
        let r = req(SESSION);
        let ids = [allow("s3:*", "*")];
        let yes = [allow("s3:GetObject", "*")];
        let no = [allow("ec2:*", "*")];
        let d = |b: &[Policy], s: &[Policy]| {
            decide(
                EvalInput {
                    identity_policies: &ids,
                    permission_boundaries: b,
                    session_policies: s,
                    ..Default::default()
                },
                &r,
            )
        };
        assert_eq!(d(&yes, &[]), Decision::Allow);
        assert_eq!(d(&no, &[]), Decision::ImplicitDeny);
        assert_eq!(d(&[], &yes), Decision::Allow);
        assert_eq!(d(&[], &no), Decision::ImplicitDeny);
        assert_eq!(d(&yes, &yes), Decision::Allow);
        assert_eq!(d(&yes, &no), Decision::ImplicitDeny);
        // Boundaries and sessions never grant on their own.
        assert_eq!(
            decide(
                EvalInput {
                    permission_boundaries: &yes,
                    session_policies: &yes,
                    ..Default::default()
                },
                &r
            ),
            Decision::ImplicitDeny
        );
        // A Deny in a boundary or session policy is final.
        let den = [deny("s3:*", "*")];
        assert_eq!(d(&den, &[]), Decision::ExplicitDeny);
        assert_eq!(d(&[], &den), Decision::ExplicitDeny);
        // Several session policies: one must allow.
        let both = [allow("ec2:*", "*"), allow("s3:Get*", "*")];
        assert_eq!(d(&[], &both), Decision::Allow);
    }

    fn bucket_policy(principal: &str) -> Policy {
        p(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Sid":"R","Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}}}}"#
        ))
    }

    #[test]
    fn resource_policies() {
        let none: [Policy; 0] = [];
        let unrelated = [allow("ec2:*", "*")];
        let ids_yes = [allow("s3:*", "*")];
        let bound_no = [allow("ec2:*", "*")];
        let named_user = bucket_policy(&format!(r#"{{"AWS":"{USER}"}}"#));
        let named_session = bucket_policy(&format!(r#"{{"AWS":"{SESSION}"}}"#));
        let named_role = bucket_policy(r#"{"AWS":"arn:aws:iam::111111111111:role/app"}"#);
        let named_account = bucket_policy(r#"{"AWS":"111111111111"}"#);
        let other_account = bucket_policy(r#"{"AWS":"222222222222"}"#);
        let d = |ids: &[Policy], rp: &Policy, b: &[Policy], r: &Request| {
            decide(
                EvalInput {
                    identity_policies: ids,
                    resource_policy: Some(rp),
                    permission_boundaries: b,
                    ..Default::default()
                },
                r,
            )
        };
        // No identity policies: only grants that do not need them.
        assert_eq!(d(&none, &named_user, &none, &req(USER)), Decision::Allow);
        assert_eq!(
            d(&none, &named_user, &none, &req(SESSION)),
            Decision::ImplicitDeny
        );
        // An account grant delegates to identity policies, and there are none.
        assert_eq!(
            d(&none, &named_account, &none, &req(USER)),
            Decision::ImplicitDeny
        );
        // With identity policies, same account: naming the user or session allows even
        // when identity and boundary don't.
        assert_eq!(
            d(&unrelated, &named_user, &bound_no, &req(USER)),
            Decision::Allow
        );
        assert_eq!(
            d(&unrelated, &named_session, &bound_no, &req(SESSION)),
            Decision::Allow
        );
        // Naming the role: limited by the boundary, not by identity policies.
        assert_eq!(
            d(&unrelated, &named_role, &none, &req(SESSION)),
            Decision::Allow
        );
        assert_eq!(
            d(&unrelated, &named_role, &bound_no, &req(SESSION)),
            Decision::ImplicitDeny
        );
        // Naming the account delegates to identity policies.
        assert_eq!(
            d(&unrelated, &named_account, &none, &req(USER)),
            Decision::ImplicitDeny
        );
        assert_eq!(
            d(&ids_yes, &named_account, &none, &req(USER)),
            Decision::Allow
        );
        // Same account, identity allows, resource silent: allow.
        assert_eq!(
            d(&ids_yes, &other_account, &none, &req(USER)),
            Decision::Allow
        );
        // Cross account: both sides must allow.
        let mut cross = req(USER);
        cross.resource_account = Some("222222222222".into());
        assert_eq!(
            d(&ids_yes, &other_account, &none, &cross),
            Decision::ImplicitDeny
        );
        assert_eq!(d(&ids_yes, &named_user, &none, &cross), Decision::Allow);
        assert_eq!(
            d(&unrelated, &named_user, &none, &cross),
            Decision::ImplicitDeny
        );
        // A Deny in the resource policy naming the caller wins.
        let rdeny = p(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
        );
        assert_eq!(
            d(&ids_yes, &rdeny, &none, &req(USER)),
            Decision::ExplicitDeny
        );
        // NotPrincipal.
        let notp = p(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","NotPrincipal":{{"AWS":"{USER}"}},"Action":"s3:*","Resource":"*"}}}}"#
        ));
        assert_eq!(d(&ids_yes, &notp, &none, &req(USER)), Decision::Allow);
        assert_eq!(
            d(&ids_yes, &notp, &none, &req(SESSION)),
            Decision::ExplicitDeny
        );
    }

    const PROVIDER: &str = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
    const ISSUER: &str = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

    fn trust() -> Policy {
        p(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Irsa","Effect":"Allow","Principal":{{"Federated":"{PROVIDER}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{ISSUER}:sub":"system:serviceaccount:default:my-serviceaccount","{ISSUER}:aud":"sts.amazonaws.com"}}}}}}]}}"#
        ))
    }

    fn trust_req(sub: &str, provider: &str) -> Request {
        Request::new(
            "sts:AssumeRoleWithWebIdentity",
            "arn:aws:iam::111122223333:role/my-role",
        )
        .with_principal(provider)
        .with_context(
            Context::new()
                .with(format!("{ISSUER}:sub"), sub)
                .with(format!("{ISSUER}:aud"), "sts.amazonaws.com"),
        )
    }

    #[test]
    fn trust_policy_evaluation() {
        let t = trust();
        let e = evaluate_trust(
            &t,
            &trust_req("system:serviceaccount:default:my-serviceaccount", PROVIDER),
        );
        assert_eq!(e.decision, Decision::Allow);
        assert_eq!(e.matched[0].policy, PolicyRef::Resource);
        assert_eq!(e.matched[0].sid.as_deref(), Some("Irsa"));
        assert_eq!(
            evaluate_trust(
                &t,
                &trust_req("system:serviceaccount:default:other", PROVIDER)
            )
            .decision,
            Decision::ImplicitDeny
        );
        let other = PROVIDER.replace("EXAMPLED", "OTHERXXX");
        assert_eq!(
            evaluate_trust(
                &t,
                &trust_req("system:serviceaccount:default:my-serviceaccount", &other)
            )
            .decision,
            Decision::ImplicitDeny
        );
        // An account principal does not trust web identities of that account's providers.
        let account_trust = p(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRoleWithWebIdentity"}}"#,
        );
        assert_eq!(
            evaluate_trust(
                &account_trust,
                &trust_req("system:serviceaccount:default:my-serviceaccount", PROVIDER)
            )
            .decision,
            Decision::ImplicitDeny
        );
        let mut wrong_action =
            trust_req("system:serviceaccount:default:my-serviceaccount", PROVIDER);
        wrong_action.action = "sts:AssumeRole".into();
        assert_eq!(
            evaluate_trust(&t, &wrong_action).decision,
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn trust_principals_match_only_their_own_type() {
        let sa = "system:serviceaccount:default:my-serviceaccount";
        let typed = |kind: &str, value: &str| {
            p(&format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"{kind}":"{value}"}},"Action":"sts:AssumeRoleWithWebIdentity"}}}}"#
            ))
        };
        let decide = |t: &Policy, r: &Request| evaluate_trust(t, r).decision;
        let web = trust_req(sa, PROVIDER);
        // The provider ARN under another type than Federated names nobody (IAM: the web
        // identity caller is a federated principal).
        for kind in ["AWS", "Service", "CanonicalUser"] {
            assert_eq!(
                decide(&typed(kind, PROVIDER), &web),
                Decision::ImplicitDeny,
                "{kind}"
            );
        }
        assert_eq!(decide(&typed("Federated", PROVIDER), &web), Decision::Allow);
        // A built-in web identity name is federated too.
        let google = Request::new(
            "sts:AssumeRoleWithWebIdentity",
            "arn:aws:iam::111122223333:role/my-role",
        )
        .with_principal("accounts.google.com");
        assert_eq!(
            decide(&typed("Federated", "accounts.google.com"), &google),
            Decision::Allow
        );
        assert_eq!(
            decide(&typed("Service", "accounts.google.com"), &google),
            Decision::ImplicitDeny
        );
        // `*`: under AWS it is everyone; under Federated only federated callers.
        assert_eq!(decide(&typed("AWS", "*"), &web), Decision::Allow);
        assert_eq!(decide(&typed("Federated", "*"), &web), Decision::Allow);
        let user = Request::new("sts:AssumeRoleWithWebIdentity", "*").with_principal(USER);
        assert_eq!(
            decide(&typed("Federated", "*"), &user),
            Decision::ImplicitDeny
        );
        assert_eq!(decide(&typed("Service", "*"), &web), Decision::ImplicitDeny);
        // Service principals match Service entries only.
        let svc =
            Request::new("sts:AssumeRoleWithWebIdentity", "*").with_principal("ec2.amazonaws.com");
        assert_eq!(
            decide(&typed("Service", "ec2.amazonaws.com"), &svc),
            Decision::Allow
        );
        assert_eq!(
            decide(&typed("AWS", "ec2.amazonaws.com"), &svc),
            Decision::ImplicitDeny
        );
        // An explicit type wins over inference.
        let as_aws = trust_req(sa, PROVIDER).with_principal_type(PrincipalType::Aws);
        assert_eq!(
            decide(&typed("Federated", PROVIDER), &as_aws),
            Decision::ImplicitDeny
        );
        assert_eq!(decide(&typed("AWS", PROVIDER), &as_aws), Decision::Allow);
        // NotPrincipal of another type does not exclude the caller.
        let notp = p(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{PROVIDER}"}},"Action":"sts:AssumeRoleWithWebIdentity"}},{{"Effect":"Deny","NotPrincipal":{{"AWS":"{PROVIDER}"}},"Action":"sts:AssumeRoleWithWebIdentity"}}]}}"#
        ));
        assert_eq!(decide(&notp, &web), Decision::ExplicitDeny);
    }

    #[test]
    fn output_shape() {
        let t = trust();
        let e = evaluate_trust(
            &t,
            &trust_req("system:serviceaccount:default:my-serviceaccount", PROVIDER),
        );
        assert_eq!(
            e.to_value().to_string(),
            r#"{"decision":"Allow","matched":[{"policy":"resource","statement":0,"sid":"Irsa"}]}"#
        );
    }
}
