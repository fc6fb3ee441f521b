//! Lint checks for IRSA / web identity role trust policies.

use crate::condition::{BaseOperator, SetOperator};
use crate::policy::{ConditionEntry, Effect, Policy, Principal, PrincipalType, Statement};
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; not a problem by itself.
    Info,
    /// Likely too permissive, or a condition that can never hold.
    Warning,
    /// Lets identities assume the role that the author almost certainly did not intend.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier, e.g. `trust-sub-missing`.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What is wrong and what to do.
    pub message: String,
    /// The statement index (`None` for whole-policy findings).
    pub statement: Option<usize>,
    /// The statement's `Sid`.
    pub sid: Option<String>,
}

/// The issuer (`host/path`, no scheme) whose condition keys a `Federated` value brings:
/// the path of an `oidc-provider/` ARN, or a built-in web identity provider name.
/// `None` for SAML providers and anything else.
pub fn federated_issuer(value: &str) -> Option<&str> {
    if let Some((_, issuer)) = value.split_once(":oidc-provider/") {
        return Some(issuer);
    }
    if value.starts_with("arn:") || value.is_empty() || value == "*" {
        return None;
    }
    Some(value)
}

const BUILTIN: &[&str] = &[
    "cognito-identity.amazonaws.com",
    "accounts.google.com",
    "www.amazon.com",
    "graph.facebook.com",
];

/// A condition key's vendor when it names a web identity issuer (`host/path:claim`).
fn issuer_of_key(key: &str) -> Option<(&str, &str)> {
    let (vendor, claim) = key.rsplit_once(':')?;
    (vendor.contains('.') || vendor.contains('/')).then_some((vendor, claim))
}

fn is_plain_positive_string(e: &ConditionEntry) -> bool {
    let op = e.operator();
    op.set.is_none()
        && !op.if_exists
        && matches!(
            op.base,
            BaseOperator::StringEquals
                | BaseOperator::StringLike
                | BaseOperator::StringEqualsIgnoreCase
        )
}

/// A condition that holds when its key is absent.
fn passes_when_absent(e: &ConditionEntry) -> bool {
    let op = e.operator();
    if op.base == BaseOperator::Null {
        return e.values().iter().any(|v| v.eq_ignore_ascii_case("true"));
    }
    op.if_exists
        || op.set == Some(SetOperator::ForAllValues)
        || (op.set.is_none() && op.is_negated())
}

fn federated_values(st: &Statement) -> Vec<&str> {
    match st.principal() {
        Some(Principal::Typed(entries)) if !st.is_not_principal() => entries
            .iter()
            .filter(|e| e.kind == PrincipalType::Federated)
            .flat_map(|e| e.values.iter().map(String::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

/// Lints a role trust policy for the web identity (IRSA) pitfalls: a missing `:sub`
/// condition, wildcard subjects, set operators on single-valued claims, `Principal: "*"`,
/// and condition keys of another issuer than the `Federated` principal.
pub fn lint_trust(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, st) in policy.statements().iter().enumerate() {
        let mut push = |id: &'static str, severity: Severity, message: String| {
            out.push(Finding {
                id,
                severity,
                message,
                statement: Some(i),
                sid: st.sid().map(str::to_owned),
            });
        };
        let allow = st.effect() == Effect::Allow;
        if allow {
            lint_principal(st, &mut push);
        }
        let federated = federated_values(st);
        let issuers: Vec<&str> = federated
            .iter()
            .filter_map(|v| federated_issuer(v))
            .collect();
        if allow && st.matches_action("sts:AssumeRoleWithWebIdentity") {
            lint_web_identity_claims(st, &federated, &mut push);
        }
        for e in st.conditions() {
            lint_condition(e, allow, &issuers, &mut push);
        }
    }
    out.extend(lint_size(policy));
    out
}

/// Adds a finding of the statement being linted.
type Push<'a> = dyn FnMut(&'static str, Severity, String) + 'a;

/// An `Allow` statement's principal: `*`, or `NotPrincipal`.
fn lint_principal(st: &Statement, push: &mut Push<'_>) {
    let wildcard = match st.principal() {
        Some(Principal::Any) => !st.is_not_principal(),
        Some(Principal::Typed(entries)) => {
            !st.is_not_principal() && entries.iter().any(|e| e.values.iter().any(|v| v == "*"))
        }
        None => false,
    };
    if wildcard {
        push(
            "trust-principal-wildcard",
            Severity::Error,
            "principal `*` lets anyone who meets the conditions assume the role (AWS: \"Do not leave your role accessible to everyone!\"); name the identity provider in `Federated`".into(),
        );
    }
    if st.is_not_principal() {
        push(
            "trust-not-principal",
            Severity::Error,
            "`NotPrincipal` with `Allow` trusts every principal not listed; name the trusted principal in `Principal`".into(),
        );
    }
}

/// A web identity statement must pin `sub` (OIDC providers) and `aud` of each issuer.
fn lint_web_identity_claims(st: &Statement, federated: &[&str], push: &mut Push<'_>) {
    for fed in federated {
        let Some(issuer) = federated_issuer(fed) else {
            continue;
        };
        let has = |claim: &str| {
            st.conditions().any(|e| {
                is_plain_positive_string(e)
                    && issuer_of_key(e.key()).is_some_and(|(v, c)| {
                        v.eq_ignore_ascii_case(issuer) && c.eq_ignore_ascii_case(claim)
                    })
            })
        };
        let oidc = fed.contains(":oidc-provider/");
        if oidc && !has("sub") {
            push(
                "trust-sub-missing",
                Severity::Error,
                format!(
                    "no plain `StringEquals`/`StringLike` condition on `{issuer}:sub`: every identity the issuer signs tokens for (on EKS: every service account in the cluster) can assume the role; add `\"StringEquals\": {{\"{issuer}:sub\": \"system:serviceaccount:NAMESPACE:NAME\"}}`"
                ),
            );
        }
        if !has("aud") {
            let builtin_shared =
                BUILTIN.contains(&issuer) && issuer == "cognito-identity.amazonaws.com";
            if builtin_shared {
                push(
                    "trust-aud-missing",
                    Severity::Error,
                    format!(
                        "no plain condition on `{issuer}:aud`: identities of every Cognito identity pool can assume the role"
                    ),
                );
            } else if oidc {
                push(
                    "trust-aud-missing",
                    Severity::Info,
                    format!(
                        "no plain condition on `{issuer}:aud`; EKS best practice also pins `{issuer}:aud` to `sts.amazonaws.com`"
                    ),
                );
            }
        }
    }
}

/// One condition on an issuer's claim: wildcards and case-insensitive matches on `sub`, set
/// operators on single-valued keys, keys naming an issuer the statement does not trust.
fn lint_condition(e: &ConditionEntry, allow: bool, issuers: &[&str], push: &mut Push<'_>) {
    let Some((vendor, claim)) = issuer_of_key(e.key()) else {
        return;
    };
    let op = e.operator();
    let claim_l = claim.to_ascii_lowercase();
    let key = e.key();
    if allow
        && claim_l == "sub"
        && matches!(op.base, BaseOperator::StringLike)
        && let Some(v) = e.values().iter().find(|v| v.contains(['*', '?']))
    {
        push(
            "trust-sub-wildcard",
            Severity::Warning,
            format!(
                "`{op}` on `{key}` with the wildcard value `{v}` admits every subject it matches (a whole namespace, or every namespace); name the service account with `StringEquals`"
            ),
        );
    }
    if allow
        && claim_l == "sub"
        && op.base == BaseOperator::StringEqualsIgnoreCase
        && op.set.is_none()
    {
        push(
            "trust-sub-ignorecase",
            Severity::Info,
            format!(
                "`{op}` on `{key}` also admits subjects that differ only in case; prefer `StringEquals`"
            ),
        );
    }
    if let Some(set) = op.set
        && (claim_l == "sub" || claim_l == "aud")
    {
        let (sev, why) = match set {
            SetOperator::ForAllValues => (
                Severity::Warning,
                "is true when the key is missing or empty",
            ),
            SetOperator::ForAnyValue => (Severity::Warning, "is meant for multivalued keys"),
        };
        push(
            "trust-set-operator",
            sev,
            format!(
                "`{op}` on the single-valued `{key}` {why}; use the plain operator (AWS warns that set operators on single-valued keys can be overly permissive)"
            ),
        );
    }
    if !issuers.is_empty() && !issuers.iter().any(|i| i.eq_ignore_ascii_case(vendor)) {
        let open = allow && passes_when_absent(e);
        let (sev, effect) = if open {
            (Severity::Error, "so this condition always passes")
        } else {
            (Severity::Warning, "so this condition never holds")
        };
        push(
            "trust-issuer-mismatch",
            sev,
            format!(
                "`{key}` names issuer `{vendor}`, but the statement trusts {}; that key is absent at request time, {effect}",
                issuers
                    .iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

/// The policy's size against IAM's quota.
fn lint_size(policy: &Policy) -> Option<Finding> {
    let size = policy
        .to_json()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count();
    (size > 2048).then(|| Finding {
            id: "trust-policy-size",
            severity: if size > 4096 { Severity::Error } else { Severity::Info },
            message: format!(
                "the trust policy has {size} non-whitespace characters; IAM's default quota is 2,048 (raisable to 4,096)"
            ),
            statement: None,
            sid: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

    fn trust(principal: &str, condition: &str) -> Policy {
        Policy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{condition}}}]}}"#
        ))
        .unwrap()
    }

    fn fed(issuer: &str) -> String {
        format!(r#"{{"Federated":"arn:aws:iam::111122223333:oidc-provider/{issuer}"}}"#)
    }

    fn ids(p: &Policy) -> Vec<&'static str> {
        lint_trust(p).iter().map(|f| f.id).collect()
    }

    #[test]
    fn good_policy_is_clean() {
        let p = trust(
            &fed(ISSUER),
            &format!(
                r#"{{"StringEquals":{{"{ISSUER}:sub":"system:serviceaccount:default:my-serviceaccount","{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
            ),
        );
        assert_eq!(ids(&p), Vec::<&str>::new());
    }

    #[test]
    fn sub_missing() {
        let p = trust(
            &fed(ISSUER),
            &format!(r#"{{"StringEquals":{{"{ISSUER}:aud":"sts.amazonaws.com"}}}}"#),
        );
        let f = lint_trust(&p);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, "trust-sub-missing");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].statement, Some(0));
        // Negated, IfExists and set-operator conditions don't count.
        for cond in [
            format!(
                r#"{{"StringNotEquals":{{"{ISSUER}:sub":"x"}},"StringEquals":{{"{ISSUER}:aud":"a"}}}}"#
            ),
            format!(
                r#"{{"StringEqualsIfExists":{{"{ISSUER}:sub":"x"}},"StringEquals":{{"{ISSUER}:aud":"a"}}}}"#
            ),
            format!(
                r#"{{"ForAnyValue:StringEquals":{{"{ISSUER}:sub":"x"}},"StringEquals":{{"{ISSUER}:aud":"a"}}}}"#
            ),
        ] {
            assert!(
                ids(&trust(&fed(ISSUER), &cond)).contains(&"trust-sub-missing"),
                "{cond}"
            );
        }
        // A Deny statement is not linted for a missing sub; no condition at all is.
        let none = Policy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{},"Action":"sts:AssumeRoleWithWebIdentity"}}}}"#,
            fed(ISSUER)
        ))
        .unwrap();
        assert_eq!(ids(&none), vec!["trust-sub-missing", "trust-aud-missing"]);
    }

    #[test]
    fn sub_wildcard_and_set_operators() {
        let p = trust(
            &fed(ISSUER),
            &format!(
                r#"{{"StringLike":{{"{ISSUER}:sub":"system:serviceaccount:default:*"}},"StringEquals":{{"{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
            ),
        );
        assert_eq!(ids(&p), vec!["trust-sub-wildcard"]);
        let p = trust(
            &fed(ISSUER),
            &format!(
                r#"{{"StringLike":{{"{ISSUER}:sub":"system:serviceaccount:default:app"}},"StringEquals":{{"{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
            ),
        );
        assert_eq!(ids(&p), Vec::<&str>::new());
        let p = trust(
            &fed(ISSUER),
            &format!(
                r#"{{"ForAllValues:StringEquals":{{"{ISSUER}:sub":"system:serviceaccount:a:b"}},"StringEquals":{{"{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
            ),
        );
        assert_eq!(ids(&p), vec!["trust-sub-missing", "trust-set-operator"]);
        let p = trust(
            &fed(ISSUER),
            &format!(
                r#"{{"StringEquals":{{"{ISSUER}:sub":"system:serviceaccount:a:b"}},"ForAnyValue:StringEquals":{{"{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
            ),
        );
        assert_eq!(ids(&p), vec!["trust-aud-missing", "trust-set-operator"]);
    }

    #[test]
    fn principal_wildcard() {
        let p = trust(
            r#""*""#,
            &format!(r#"{{"StringEquals":{{"{ISSUER}:sub":"x"}}}}"#),
        );
        assert_eq!(ids(&p), vec!["trust-principal-wildcard"]);
        let p = trust(r#"{"AWS":"*"}"#, "{}");
        assert_eq!(ids(&p), vec!["trust-principal-wildcard"]);
    }

    #[test]
    fn issuer_mismatch() {
        let other = "oidc.eks.us-east-1.amazonaws.com/id/OTHER";
        let p = trust(
            &fed(ISSUER),
            &format!(
                r#"{{"StringEquals":{{"{ISSUER}:sub":"system:serviceaccount:a:b","{ISSUER}:aud":"sts.amazonaws.com"}},"StringNotEquals":{{"{other}:sub":"system:serviceaccount:kube-system:x"}}}}"#
            ),
        );
        let f = lint_trust(&p);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, "trust-issuer-mismatch");
        assert_eq!(f[0].severity, Severity::Error);
        let p = trust(
            &fed(ISSUER),
            &format!(
                r#"{{"StringEquals":{{"{other}:sub":"system:serviceaccount:a:b","{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
            ),
        );
        let f = lint_trust(&p);
        assert_eq!(
            f.iter().map(|f| (f.id, f.severity)).collect::<Vec<_>>(),
            vec![
                ("trust-sub-missing", Severity::Error),
                ("trust-issuer-mismatch", Severity::Warning)
            ]
        );
        // Key names are case-insensitive.
        let p = trust(
            &fed(ISSUER),
            &format!(
                r#"{{"StringEquals":{{"{}:SUB":"system:serviceaccount:a:b","{ISSUER}:aud":"sts.amazonaws.com"}}}}"#,
                ISSUER.to_uppercase()
            ),
        );
        assert_eq!(ids(&p), Vec::<&str>::new());
    }

    #[test]
    fn cognito_without_aud() {
        let p = trust(
            r#"{"Federated":"cognito-identity.amazonaws.com"}"#,
            r#"{"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}"#,
        );
        assert_eq!(ids(&p), vec!["trust-aud-missing"]);
        assert_eq!(lint_trust(&p)[0].severity, Severity::Error);
    }
}
