//! Why a decision came out as it did: every statement considered, and for each its action,
//! resource, principal and condition checks with the request's values. The decision comes
//! from the same scan and [`combine`] as [`crate::decide`], so the two cannot disagree.

use crate::context::Request;
use crate::eval::{
    Basis, Decision, EvalInput, Mode, PolicyRef, Prepared, PrincipalMatch, action_applies, applies,
    combine, resource_applies, sides, statement_principal,
};
use crate::policy::{Effect, Policy, Principal, Statement};
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;

/// One check of a statement: did it pass, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The check passed.
    pub matched: bool,
    /// What was compared, in words.
    pub detail: String,
}

/// One condition entry against the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionCheck {
    /// The operator as written (`ForAnyValue:StringLike`).
    pub operator: String,
    /// The condition key as written.
    pub key: String,
    /// The policy's values.
    pub policy_values: Vec<String>,
    /// The request's values for the key (`None`: the key is missing).
    pub request_values: Option<Vec<String>>,
    /// The entry holds.
    pub matched: bool,
}

/// One statement considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementCheck {
    /// The policy.
    pub policy: PolicyRef,
    /// The statement's index in it.
    pub statement: usize,
    /// Its `Sid`.
    pub sid: Option<Arc<str>>,
    /// Its effect.
    pub effect: Effect,
    /// The statement applies to the request (every check below passed).
    pub applies: bool,
    /// `Action`/`NotAction`.
    pub action: Check,
    /// `Resource`/`NotResource`.
    pub resource: Check,
    /// `Principal`/`NotPrincipal` (resource policies only).
    pub principal: Option<Check>,
    /// Each condition entry, in document order.
    pub conditions: Vec<ConditionCheck>,
}

/// A decision with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The decision (as [`crate::evaluate`] gives it).
    pub decision: Decision,
    /// The rule that decided.
    pub basis: Basis,
    /// Every statement of every policy, in order identity, resource, boundary, session.
    pub statements: Vec<StatementCheck>,
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn action_check(st: &Statement, pr: &Prepared<'_>) -> Check {
    let matched = action_applies(st, pr);
    let action = &pr.req.action;
    let Some(a) = &st.action else {
        return Check {
            matched,
            detail: "no Action element".into(),
        };
    };
    let hit = a
        .items
        .iter()
        .find(|p| p.matches(action))
        .map(|p| p.as_str());
    let detail = match (a.negated, hit) {
        (false, Some(p)) => format!("Action `{p}` matches `{action}`"),
        (false, None) => {
            let all: Vec<&str> = a.items.iter().map(|p| p.as_str()).collect();
            format!("no Action entry ({}) matches `{action}`", list(&all))
        }
        (true, Some(p)) => format!("NotAction `{p}` matches `{action}`: excluded"),
        (true, None) => format!("no NotAction entry matches `{action}`: included"),
    };
    Check { matched, detail }
}

fn resource_check(st: &Statement, pr: &Prepared<'_>) -> Check {
    let matched = resource_applies(st, pr);
    let resource = &pr.req.resource;
    let Some(r) = &st.resource else {
        return Check {
            matched,
            detail: "no Resource element: every resource".into(),
        };
    };
    let hit = r
        .items
        .iter()
        .find(|p| {
            p.matches_split(
                resource,
                &crate::arn::split6(resource, false),
                &pr.req.context,
            )
        })
        .map(|p| p.as_str());
    let detail = match (r.negated, hit) {
        (false, Some(p)) => format!("Resource `{p}` matches `{resource}`"),
        (false, None) => {
            let all: Vec<&str> = r.items.iter().map(|p| p.as_str()).collect();
            format!("no Resource entry ({}) matches `{resource}`", list(&all))
        }
        (true, Some(p)) => format!("NotResource `{p}` matches `{resource}`: excluded"),
        (true, None) => format!("no NotResource entry matches `{resource}`: included"),
    };
    Check { matched, detail }
}

fn principal_text(p: &Principal) -> String {
    match p {
        Principal::Any => "\"*\"".into(),
        Principal::Typed(entries) => entries
            .iter()
            .map(|e| format!("{}: {}", e.kind.as_str(), e.values.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn principal_check(st: &Statement, pr: &Prepared<'_>, has_boundary: bool) -> Check {
    let m = statement_principal(st, pr, has_boundary);
    let caller = pr.req.principal.as_deref().unwrap_or("an anonymous caller");
    let Some((negated, p)) = &st.principal else {
        return Check {
            matched: false,
            detail: "no Principal element: applies to nobody in a resource policy".into(),
        };
    };
    let element = if *negated {
        "NotPrincipal"
    } else {
        "Principal"
    };
    let text = principal_text(p);
    let detail = match m {
        Some(PrincipalMatch::Exact) if *negated => {
            format!("{element} {{{text}}} does not exclude `{caller}`")
        }
        Some(PrincipalMatch::Exact) => format!("{element} {{{text}}} names `{caller}` itself"),
        Some(PrincipalMatch::Issuer) => format!(
            "{element} {{{text}}} names the role (or IAM user) `{caller}` was made from: limited by the boundary and session policies"
        ),
        Some(PrincipalMatch::Account) => format!(
            "{element} {{{text}}} names the account of `{caller}`: delegates to its identity policies"
        ),
        None if *negated => format!("{element} {{{text}}} excludes `{caller}`"),
        None => format!("{element} {{{text}}} does not name `{caller}`"),
    };
    Check {
        matched: m.is_some(),
        detail,
    }
}

fn condition_checks(st: &Statement, req: &Request) -> Vec<ConditionCheck> {
    st.conditions()
        .map(|e| ConditionCheck {
            operator: e.operator().to_string(),
            key: e.key().to_owned(),
            policy_values: e.values().to_vec(),
            request_values: req.context.get(e.key()).map(|v| v.values().to_vec()),
            matched: e.holds(&req.context),
        })
        .collect()
}

fn explain_mode(input: &EvalInput<'_>, req: &Request, mode: Mode) -> Explanation {
    let pr = Prepared::new(req);
    let has_boundary = !input.permission_boundaries.is_empty();
    let mut statements = Vec::new();
    let mut one = |p: &Policy, which: PolicyRef| {
        let resource_policy = which == PolicyRef::Resource;
        for (i, st) in p.statements.iter().enumerate() {
            statements.push(StatementCheck {
                policy: which,
                statement: i,
                sid: st.sid.clone(),
                effect: st.effect,
                applies: applies(st, &pr, resource_policy, has_boundary).is_some(),
                action: action_check(st, &pr),
                resource: resource_check(st, &pr),
                principal: resource_policy.then(|| principal_check(st, &pr, has_boundary)),
                conditions: condition_checks(st, req),
            });
        }
    };
    for (i, p) in input.identity_policies.iter().enumerate() {
        one(p, PolicyRef::Identity(i));
    }
    if let Some(p) = input.resource_policy {
        one(p, PolicyRef::Resource);
    }
    for (i, p) in input.permission_boundaries.iter().enumerate() {
        one(p, PolicyRef::Boundary(i));
    }
    for (i, p) in input.session_policies.iter().enumerate() {
        one(p, PolicyRef::Session(i));
    }
    let (decision, basis) = combine(input, &pr, sides(input, &pr), mode);
    Explanation {
        decision,
        basis,
        statements,
    }
}

/// Explains [`crate::evaluate`]'s decision for `req`.
pub fn explain(input: &EvalInput<'_>, req: &Request) -> Explanation {
    explain_mode(input, req, Mode::Full)
}

/// Explains [`crate::evaluate_trust`]'s decision for `req`.
pub fn explain_trust(trust_policy: &Policy, req: &Request) -> Explanation {
    let input = EvalInput {
        resource_policy: Some(trust_policy),
        ..EvalInput::default()
    };
    explain_mode(&input, req, Mode::Trust)
}

fn check_value(c: &Check) -> Value {
    json!({"matched": c.matched, "detail": c.detail})
}

impl Explanation {
    /// The JSON form: `{"decision", "basis", "reason", "statements": [{"policy",
    /// "statement", "sid", "effect", "applies", "action", "resource", "principal",
    /// "conditions": [{"operator", "key", "policyValues", "requestValues", "matched"}]}]}`.
    pub fn to_value(&self) -> Value {
        let statements: Vec<Value> = self
            .statements
            .iter()
            .map(|s| {
                json!({
                    "policy": s.policy.to_string(),
                    "statement": s.statement,
                    "sid": s.sid.as_deref(),
                    "effect": match s.effect { Effect::Allow => "Allow", Effect::Deny => "Deny" },
                    "applies": s.applies,
                    "action": check_value(&s.action),
                    "resource": check_value(&s.resource),
                    "principal": s.principal.as_ref().map(check_value),
                    "conditions": s.conditions.iter().map(|c| json!({
                        "operator": c.operator,
                        "key": c.key,
                        "policyValues": c.policy_values,
                        "requestValues": c.request_values,
                        "matched": c.matched,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "decision": self.decision.as_str(),
            "basis": self.basis.as_str(),
            "reason": self.basis.describe(),
            "statements": statements,
        })
    }
}

fn mark(ok: bool) -> &'static str {
    if ok { "yes" } else { "no " }
}

/// The human form: the decision and its reason, then one block per statement.
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "decision: {} ({})", self.decision, self.basis.describe())?;
        for s in &self.statements {
            let sid = s
                .sid
                .as_deref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default();
            let effect = match s.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            };
            let verdict = if s.applies {
                "applies"
            } else {
                "does not apply"
            };
            writeln!(
                f,
                "{} statement {}{sid}, {effect}: {verdict}",
                s.policy, s.statement
            )?;
            writeln!(
                f,
                "  [{}] action: {}",
                mark(s.action.matched),
                s.action.detail
            )?;
            writeln!(
                f,
                "  [{}] resource: {}",
                mark(s.resource.matched),
                s.resource.detail
            )?;
            if let Some(p) = &s.principal {
                writeln!(f, "  [{}] principal: {}", mark(p.matched), p.detail)?;
            }
            for c in &s.conditions {
                let req = match &c.request_values {
                    None => "missing".to_owned(),
                    Some(v) => format!("[{}]", v.join(", ")),
                };
                writeln!(
                    f,
                    "  [{}] condition {} {}: policy [{}], request {req}",
                    mark(c.matched),
                    c.operator,
                    c.key,
                    c.policy_values.join(", ")
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, evaluate};

    fn p(s: &str) -> Policy {
        Policy::parse(s).unwrap()
    }

    #[test]
    fn explains_each_statement() {
        let ids = [p(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}},{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#,
        )];
        let bucket = p(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"Role","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
        );
        let boundary = [p(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#,
        )];
        let req = Request::new("s3:GetObject", "arn:aws:s3:::b/k")
            .with_principal("arn:aws:sts::111122223333:assumed-role/app/s1")
            .with_context(Context::new().with("aws:PrincipalTag/team", "red"));
        let input = EvalInput::identity(&ids)
            .with_resource_policy(&bucket)
            .with_boundaries(&boundary);
        let e = explain(&input, &req);
        assert_eq!(e.decision, evaluate(&input, &req).decision);
        assert_eq!(e.decision, Decision::ImplicitDeny);
        assert_eq!(e.basis, Basis::BoundaryImplicitDeny);
        assert_eq!(e.statements.len(), 4);
        let read = &e.statements[0];
        assert!(read.action.matched && read.resource.matched && !read.applies);
        assert_eq!(
            read.conditions[0].request_values,
            Some(vec!["red".to_owned()])
        );
        assert!(!read.conditions[0].matched);
        assert!(!e.statements[1].action.matched);
        let role = &e.statements[2];
        assert!(role.applies);
        assert!(
            role.principal
                .as_ref()
                .unwrap()
                .detail
                .contains("limited by the boundary")
        );
        let human = e.to_string();
        assert!(human.starts_with("decision: ImplicitDeny (the permissions boundary"));
        assert!(human.contains(
            "condition StringEquals aws:PrincipalTag/team: policy [blue], request [red]"
        ));
        let v = e.to_value();
        assert_eq!(v["basis"], "BoundaryImplicitDeny");
        assert_eq!(
            v["statements"][0]["conditions"][0]["requestValues"][0],
            "red"
        );
        assert_eq!(v["statements"][2]["principal"]["matched"], true);
        assert_eq!(v["statements"][0]["principal"], Value::Null);
    }

    #[test]
    fn trust_explanation_matches_evaluate_trust() {
        let t = p(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#,
        );
        let req = Request::new("sts:AssumeRole", "arn:aws:iam::111122223333:role/r")
            .with_principal("arn:aws:iam::111122223333:user/u");
        let e = explain_trust(&t, &req);
        assert_eq!(e.decision, crate::evaluate_trust(&t, &req).decision);
        assert_eq!(e.basis, Basis::TrustPolicyAllows);
        assert!(
            e.statements[0]
                .principal
                .as_ref()
                .unwrap()
                .detail
                .contains("account")
        );
    }
}
