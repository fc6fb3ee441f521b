//! Request evaluation across identity, resource, boundary and session policies.

use crate::arn::split6;
use crate::condition::evaluate_entry;
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

/// How a resource policy statement's principal names the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    /// The account root (`"123456789012"`, `arn:aws:iam::123456789012:root`): delegates to
    /// the account's identity policies.
    Account,
    /// The role whose session is calling: limited by boundary and session policies.
    Role,
    /// The caller itself (user, session, provider, service ARN/name) or `*`.
    Exact,
}

fn arn_account(s: &str) -> Option<&str> {
    let p = split6(s, false);
    match p {
        [Some("arn"), _, _, _, Some(a), Some(_)] if !a.is_empty() => Some(a),
        _ => None,
    }
}

fn aws_value_matches(value: &str, principal: &str) -> Option<PrincipalMatch> {
    if value == principal {
        return Some(PrincipalMatch::Exact);
    }
    let pp = split6(principal, false);
    let [
        Some("arn"),
        Some(ppart),
        Some(psvc),
        _,
        Some(pacct),
        Some(pres),
    ] = pp
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
    // A role ARN names the sessions of that role.
    if let (Some(role_path), Some(session)) = (
        vres.strip_prefix("role/"),
        pres.strip_prefix("assumed-role/"),
    ) {
        let role_name = role_path.rsplit('/').next().unwrap_or(role_path);
        if psvc == "sts" && session.split('/').next() == Some(role_name) {
            return Some(PrincipalMatch::Role);
        }
    }
    None
}

/// How the statement's `Principal` names the caller (`principal` of type `kind`; both `None`
/// for an anonymous caller). An entry matches only a caller of its own type: `Federated`
/// values only federated callers (OIDC/SAML providers, web identity names), `AWS` values
/// only IAM/STS principals, and so on; so an OIDC provider ARN under `AWS` or `Service`
/// names nobody, as in IAM. `"*"` under `AWS` is `"Principal": "*"` (everyone, anonymous
/// included); under another type, every caller of that type.
pub(crate) fn principal_match(
    p: &Principal,
    principal: Option<&str>,
    kind: Option<PrincipalType>,
) -> Option<PrincipalMatch> {
    match p {
        Principal::Any => Some(PrincipalMatch::Exact),
        Principal::Typed(entries) => {
            let mut best = None;
            for e in entries {
                let same_type = kind == Some(e.kind);
                for v in &e.values {
                    let m = if v == "*" {
                        (e.kind == PrincipalType::Aws || same_type).then_some(PrincipalMatch::Exact)
                    } else {
                        match principal {
                            Some(pr) if same_type => match e.kind {
                                PrincipalType::Aws => aws_value_matches(v, pr),
                                _ => (v == pr).then_some(PrincipalMatch::Exact),
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

/// Is the statement applicable to the request (action, resource, conditions; and for a
/// resource policy, principal)? Returns how the principal matched.
pub(crate) fn applies(
    st: &Statement,
    req: &Request,
    resource_policy: bool,
) -> Option<PrincipalMatch> {
    if !st.matches_action(&req.action) {
        return None;
    }
    if let Some(r) = &st.resource
        && r.items
            .iter()
            .any(|p| p.matches(&req.resource, &req.context))
            == r.negated
    {
        return None;
    }
    let pm = if resource_policy {
        let (caller, kind) = (req.principal.as_deref(), req.effective_principal_type());
        match &st.principal {
            None => return None,
            Some((false, p)) => principal_match(p, caller, kind)?,
            Some((true, p)) => match principal_match(p, caller, kind) {
                Some(_) => return None,
                None => PrincipalMatch::Exact,
            },
        }
    } else {
        PrincipalMatch::Exact
    };
    if let Some(blocks) = &st.condition {
        for b in blocks {
            for e in &b.entries {
                if !evaluate_entry(e.operator(), &e.key_lower, &e.compiled, &req.context) {
                    return None;
                }
            }
        }
    }
    Some(pm)
}

#[derive(Default)]
struct Side {
    allows: Vec<MatchedStatement>,
    best: Option<PrincipalMatch>,
}

fn scan(
    policy: &Policy,
    which: PolicyRef,
    req: &Request,
    denies: &mut Vec<MatchedStatement>,
    side: &mut Side,
) {
    let resource = which == PolicyRef::Resource;
    for (i, st) in policy.statements.iter().enumerate() {
        if let Some(pm) = applies(st, req, resource) {
            let m = MatchedStatement {
                policy: which,
                statement: i,
                sid: st.sid.clone(),
                effect: st.effect,
            };
            match st.effect {
                Effect::Deny => denies.push(m),
                Effect::Allow => {
                    side.allows.push(m);
                    if Some(pm) > side.best {
                        side.best = Some(pm);
                    }
                }
            }
        }
    }
}

/// Evaluates a request as the IAM User Guide's evaluation logic describes (single account
/// or cross-account, no SCPs):
///
/// 1. Any applicable Deny in any policy: `ExplicitDeny`.
/// 2. No identity policies but a resource policy (a role trust policy, an anonymous or
///    service caller): the resource policy alone decides; it needs an Allow whose principal
///    matches.
/// 3. Otherwise, within one account (the resource's account equals the principal's, or
///    either is unknown), a resource policy Allow naming the caller exactly (user, session,
///    `*`) allows; one naming the caller's role allows when the boundary and session
///    policies allow too; one naming the account root delegates to identity policies.
/// 4. Identity policies must allow, intersected with the permissions boundary (if any
///    boundary policies are given, one must allow) and the session policies (likewise).
///    Across accounts the resource policy must allow as well.
/// 5. Otherwise `ImplicitDeny`.
pub fn evaluate(input: &EvalInput<'_>, req: &Request) -> Evaluation {
    let mut denies = Vec::new();
    let mut identity = Side::default();
    let mut resource = Side::default();
    let mut boundary = Side::default();
    let mut session = Side::default();
    for (i, p) in input.identity_policies.iter().enumerate() {
        scan(p, PolicyRef::Identity(i), req, &mut denies, &mut identity);
    }
    if let Some(p) = input.resource_policy {
        scan(p, PolicyRef::Resource, req, &mut denies, &mut resource);
    }
    for (i, p) in input.permission_boundaries.iter().enumerate() {
        scan(p, PolicyRef::Boundary(i), req, &mut denies, &mut boundary);
    }
    for (i, p) in input.session_policies.iter().enumerate() {
        scan(p, PolicyRef::Session(i), req, &mut denies, &mut session);
    }
    if !denies.is_empty() {
        return Evaluation {
            decision: Decision::ExplicitDeny,
            matched: denies,
        };
    }
    let allowed = if input.identity_policies.is_empty() && input.resource_policy.is_some() {
        resource.best.is_some()
    } else {
        let boundary_ok = input.permission_boundaries.is_empty() || !boundary.allows.is_empty();
        let session_ok = input.session_policies.is_empty() || !session.allows.is_empty();
        let identity_ok = !identity.allows.is_empty() && boundary_ok && session_ok;
        let resource_account = req
            .resource_account
            .as_deref()
            .or_else(|| arn_account(&req.resource));
        let principal_account = req.principal.as_deref().and_then(arn_account);
        let same_account = match (resource_account, principal_account) {
            (Some(r), Some(p)) => r == p,
            _ => true,
        };
        if input.resource_policy.is_none() {
            identity_ok
        } else if same_account {
            match resource.best {
                Some(PrincipalMatch::Exact) => true,
                Some(PrincipalMatch::Role) => boundary_ok && session_ok,
                _ => identity_ok,
            }
        } else {
            identity_ok && resource.best.is_some()
        }
    };
    if allowed {
        let mut matched = identity.allows;
        matched.append(&mut resource.allows);
        matched.append(&mut boundary.allows);
        matched.append(&mut session.allows);
        Evaluation {
            decision: Decision::Allow,
            matched,
        }
    } else {
        Evaluation {
            decision: Decision::ImplicitDeny,
            matched: Vec::new(),
        }
    }
}

/// Evaluates a role trust policy: the trust policy is the resource policy and there are no
/// identity policies. For `AssumeRoleWithWebIdentity` the request's principal is the OIDC
/// provider ARN (or web identity provider name), the action `sts:AssumeRoleWithWebIdentity`,
/// the resource the role ARN, and the context holds `<issuer>:sub`, `<issuer>:aud`, ...
pub fn evaluate_trust(trust_policy: &Policy, req: &Request) -> Evaluation {
    evaluate(
        &EvalInput {
            resource_policy: Some(trust_policy),
            ..EvalInput::default()
        },
        req,
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
        // No identity policies: the resource policy alone decides.
        assert_eq!(d(&none, &named_user, &none, &req(USER)), Decision::Allow);
        assert_eq!(
            d(&none, &named_user, &none, &req(SESSION)),
            Decision::ImplicitDeny
        );
        assert_eq!(d(&none, &named_account, &none, &req(USER)), Decision::Allow);
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
