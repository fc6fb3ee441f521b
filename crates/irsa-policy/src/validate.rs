//! Per-kind validation (identity, resource, trust, session), with AWS's messages.

use crate::error::PolicyError;
use crate::policy::{
    Errors, P_KIND, P_SID, P_VERSION, Policy, Principal, PrincipalEntry, PrincipalType, Statement,
    Version, parse_collect,
};
use std::fmt;
use std::str::FromStr;

/// Where a policy document is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// An IAM identity-based (managed) policy: Version 2012-10-17, no Principal, resources required.
    Identity,
    /// A resource-based policy (S3 bucket policy, ...): Principal and resources required.
    Resource,
    /// A role trust policy: Principal required, no Resource, `sts:` actions only.
    Trust,
    /// An STS session policy: like identity, at most 2,048 characters.
    Session,
}

impl PolicyKind {
    /// `identity`, `resource`, `trust` or `session`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity",
            PolicyKind::Resource => "resource",
            PolicyKind::Trust => "trust",
            PolicyKind::Session => "session",
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown policy kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy kind `{0}` (expected identity, resource, trust or session)")]
pub struct UnknownKind(pub String);

impl FromStr for PolicyKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<PolicyKind, UnknownKind> {
        Ok(match s {
            "identity" => PolicyKind::Identity,
            "resource" => PolicyKind::Resource,
            "trust" => PolicyKind::Trust,
            "session" => PolicyKind::Session,
            _ => return Err(UnknownKind(s.to_owned())),
        })
    }
}

/// STS's limit on a session policy's length, in characters.
pub const SESSION_POLICY_MAX_CHARS: usize = 2048;

/// Actions a trust policy may grant.
const TRUST_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:DecodeAuthorizationMessage",
    "sts:GetAccessKeyInfo",
    "sts:GetCallerIdentity",
    "sts:GetFederationToken",
    "sts:GetServiceBearerToken",
    "sts:GetSessionToken",
    "sts:SetSourceIdentity",
    "sts:TagSession",
];

fn iam_charset_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
}

fn aws_principal_ok(v: &str) -> bool {
    if v == "*" {
        return true;
    }
    if v.contains(['*', '?']) {
        return false;
    }
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    match crate::Arn::parse(v) {
        Ok(a) => {
            let acct_ok =
                a.account().len() == 12 && a.account().bytes().all(|b| b.is_ascii_digit());
            let res = a.resource();
            acct_ok
                && a.region().is_empty()
                && match a.service() {
                    "iam" => res == "root" || res.starts_with("user/") || res.starts_with("role/"),
                    "sts" => res.starts_with("assumed-role/") || res.starts_with("federated-user/"),
                    _ => false,
                }
        }
        Err(_) => false,
    }
}

/// Validates a policy document for its use. Returns the parsed policy, or every problem
/// found, first the one IAM would report (a syntax error stops at once).
pub fn validate(json: &str, kind: PolicyKind) -> Result<Policy, Vec<PolicyError>> {
    check_text(json, kind)?;
    let (policy, mut errors) = parse_collect(json).map_err(|e| vec![e])?;
    if kind == PolicyKind::Identity && policy.version != Some(Version::V2012_10_17) {
        errors.push((P_VERSION, PolicyError::VersionRequired));
    }
    for st in &policy.statements {
        check_statement(st, kind, &mut errors);
    }
    if errors.is_empty() {
        return Ok(policy);
    }
    Err(in_report_order(errors))
}

/// The checks of the document's text before it is parsed: a session policy's length, IAM's
/// character set (every kind but resource policies).
fn check_text(json: &str, kind: PolicyKind) -> Result<(), Vec<PolicyError>> {
    if kind == PolicyKind::Session {
        let length = json.chars().count();
        if length > SESSION_POLICY_MAX_CHARS {
            return Err(vec![PolicyError::TooLong {
                limit: SESSION_POLICY_MAX_CHARS,
                length,
            }]);
        }
    }
    if kind != PolicyKind::Resource && !iam_charset_ok(json) {
        return Err(vec![PolicyError::InvalidCharacters]);
    }
    Ok(())
}

/// The per-kind checks of one statement, its problems to `errors`.
fn check_statement(st: &Statement, kind: PolicyKind, errors: &mut Errors) {
    if kind != PolicyKind::Resource
        && st
            .sid
            .as_deref()
            .is_some_and(|s| !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        errors.push((P_SID, PolicyError::SidNotAlphanumeric));
    }
    match kind {
        PolicyKind::Identity | PolicyKind::Session => {
            if st.principal.is_some() {
                errors.push((P_KIND, PolicyError::PrincipalNotAllowed));
            }
            if st.resource.as_ref().is_none_or(|r| r.items.is_empty()) {
                errors.push((P_KIND, PolicyError::MissingResources));
            }
        }
        PolicyKind::Resource => {
            if st.principal.is_none() {
                errors.push((P_KIND, PolicyError::MissingPrincipal));
            }
            if st.resource.as_ref().is_none_or(|r| r.items.is_empty()) {
                errors.push((P_KIND, PolicyError::MissingResources));
            }
        }
        PolicyKind::Trust => check_trust_statement(st, errors),
    }
    if matches!(kind, PolicyKind::Resource | PolicyKind::Trust)
        && let Some((_, Principal::Typed(entries))) = &st.principal
    {
        check_principals(entries, errors);
    }
}

/// A trust policy statement: only role-assuming actions (no `NotAction`), no resource, a
/// `Principal` (not `NotPrincipal`).
fn check_trust_statement(st: &Statement, errors: &mut Errors) {
    let actions_ok = match &st.action {
        Some(a) if !a.negated => a
            .items
            .iter()
            .all(|p| TRUST_ACTIONS.iter().any(|t| p.matches(t))),
        Some(_) => false,
        None => true,
    };
    if !actions_ok {
        errors.push((P_KIND, PolicyError::TrustAction));
    }
    if st.resource.is_some() {
        errors.push((P_KIND, PolicyError::ProhibitedResource));
    }
    match &st.principal {
        None => errors.push((P_KIND, PolicyError::MissingPrincipal)),
        Some((true, _)) => errors.push((P_KIND, PolicyError::NotPrincipalInTrust)),
        Some(_) => {}
    }
}

/// The principal values of a resource or trust policy: `AWS` values as account ids or ARNs,
/// others non-empty and without wildcards (but `*`).
fn check_principals(entries: &[PrincipalEntry], errors: &mut Errors) {
    for e in entries {
        for v in &e.values {
            let ok = match e.kind {
                PrincipalType::Aws => aws_principal_ok(v),
                _ => !v.is_empty() && (v == "*" || !v.contains(['*', '?'])),
            };
            if !ok {
                errors.push((
                    P_KIND,
                    PolicyError::InvalidPrincipal(format!("\"{}\":\"{v}\"", e.kind.as_str())),
                ));
            }
        }
    }
}

/// The errors in the order IAM reports them, each once.
fn in_report_order(mut errors: Errors) -> Vec<PolicyError> {
    errors.sort_by_key(|(p, _)| *p);
    let mut out: Vec<PolicyError> = Vec::with_capacity(errors.len());
    for (_, e) in errors {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(json: &str, kind: PolicyKind) -> String {
        validate(json, kind).unwrap_err()[0].to_string()
    }

    const IDENTITY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}}"#;

    #[test]
    fn kinds_parse() {
        for k in ["identity", "resource", "trust", "session"] {
            assert_eq!(k.parse::<PolicyKind>().unwrap().as_str(), k);
        }
        assert!("x".parse::<PolicyKind>().is_err());
    }

    #[test]
    fn identity_rules() {
        assert!(validate(IDENTITY, PolicyKind::Identity).is_ok());
        let no_version =
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
        assert_eq!(
            first(no_version, PolicyKind::Identity),
            "Policy document must be version 2012-10-17 or greater."
        );
        assert!(validate(no_version, PolicyKind::Session).is_ok());
        let no_res =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject"}}"#;
        assert_eq!(
            first(no_res, PolicyKind::Identity),
            "Policy statement must contain resources."
        );
        let empty_res = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":[]}}"#;
        assert_eq!(
            first(empty_res, PolicyKind::Identity),
            "Policy statement must contain resources."
        );
        assert_eq!(
            first(TRUST, PolicyKind::Identity),
            "Policy document should not specify a principal."
        );
        let bad_sid = r#"{"Version":"2012-10-17","Statement":{"Sid":"a b","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
        assert!(
            first(bad_sid, PolicyKind::Identity)
                .starts_with("Statement IDs (SID) must be alpha-numeric.")
        );
        assert!(
            validate(
                &bad_sid.replace("s3:GetObject\",", "s3:GetObject\",\"Principal\":\"*\","),
                PolicyKind::Resource
            )
            .is_ok()
        );
    }

    #[test]
    fn trust_rules() {
        assert!(validate(TRUST, PolicyKind::Trust).is_ok());
        let r = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}}"#;
        assert_eq!(
            first(r, PolicyKind::Trust),
            "Has prohibited field Resource."
        );
        let no_p =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#;
        assert_eq!(
            first(no_p, PolicyKind::Trust),
            "Missing required field Principal"
        );
        let bad_action = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"s3:GetObject"}}"#;
        assert!(
            first(bad_action, PolicyKind::Trust)
                .starts_with("Trust Policy statement actions can only be")
        );
        let star = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:*"}}"#;
        assert!(validate(star, PolicyKind::Trust).is_ok());
        let bad_p = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"sts:AssumeRole"}}"#;
        assert_eq!(
            first(bad_p, PolicyKind::Trust),
            r#"Invalid principal in policy: "AWS":"arn:aws:iam::*:root""#
        );
        let not_p = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}"#;
        assert_eq!(
            validate(not_p, PolicyKind::Trust).unwrap_err(),
            vec![PolicyError::NotPrincipalInTrust]
        );
    }

    #[test]
    fn session_limits() {
        let padding = " ".repeat(2100);
        let long = format!("{IDENTITY}{padding}");
        let e = validate(&long, PolicyKind::Session).unwrap_err();
        assert!(matches!(e[0], PolicyError::TooLong { limit: 2048, .. }));
        assert!(e[0].to_string().ends_with("less than or equal to 2048"));
        let bad_char = IDENTITY.replace("s3:GetObject", "s3:GetObject\u{2603}");
        assert_eq!(
            validate(&bad_char, PolicyKind::Session).unwrap_err(),
            vec![PolicyError::InvalidCharacters]
        );
        assert!(validate(IDENTITY, PolicyKind::Session).is_ok());
    }

    #[test]
    fn resource_rules() {
        let ok = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/a","123456789012"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        assert!(validate(ok, PolicyKind::Resource).is_ok());
        assert_eq!(
            first(IDENTITY, PolicyKind::Resource),
            "Missing required field Principal"
        );
    }

    #[test]
    fn all_errors_reported_in_order() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"nope","Resource":"bad"},{"Effect":"Allow","Principal":"*","Action":"s3:x"}]}"#;
        let errs: Vec<String> = validate(doc, PolicyKind::Identity)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "Policy document must be version 2012-10-17 or greater.",
                "Resource bad must be in ARN format or \"*\".",
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                "Policy document should not specify a principal.",
                "Policy statement must contain resources.",
            ]
        );
    }
}
