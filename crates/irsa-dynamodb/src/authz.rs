//! Authorization of a session's request: identity policies ∩ session policies, and AWS's
//! access-denied wording. Pure: no I/O, time comes in as an argument.

use std::fmt;

use irsa_policy::{Context, ContextValue, Decision, EvalInput, Policy, PolicyRef, Request};
use irsa_sts_core::config::Config;
use irsa_sts_core::credentials::SessionClaims;
use irsa_sts_core::xml::iso8601;

use crate::map::{ATTRIBUTES, Authorization, LEADING_KEYS};

/// The caller, as AWS names it in error messages and condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// The role ARN (`aws:PrincipalArn`).
    pub role_arn: String,
    /// The account.
    pub account: String,
}

impl Caller {
    /// The caller of a session: `None` when the role ARN is not an IAM role ARN of the
    /// configuration's partition and account. The assumed-role ARN is the one `irsa sts`
    /// issued ([`Config::assumed_role_arn`]).
    pub fn of(claims: &SessionClaims, config: &Config) -> Option<Caller> {
        let prefix = format!("arn:{}:iam::{}:role/", config.partition, config.account);
        let name = claims.role_arn.strip_prefix(&prefix)?.rsplit('/').next()?;
        if name.is_empty() {
            return None;
        }
        Some(Caller {
            arn: config.assumed_role_arn(name, &claims.session_name),
            role_arn: claims.role_arn.clone(),
            account: config.account.clone(),
        })
    }
}

/// Facts about the request that are not in its body.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// Now, unix seconds.
    pub now: i64,
    /// The client's IP address.
    pub source_ip: Option<&'a str>,
    /// Whether the client connected over TLS.
    pub secure_transport: bool,
    /// The region the gateway serves.
    pub region: &'a str,
}

/// The global condition keys of a role session's request (`aws:…`).
pub fn global_context(
    claims: &SessionClaims,
    caller: &Caller,
    facts: &RequestFacts<'_>,
) -> Context {
    let mut c = Context::new();
    c.insert("aws:PrincipalArn", caller.role_arn.as_str())
        .insert("aws:PrincipalAccount", caller.account.as_str())
        .insert("aws:PrincipalType", "AssumedRole")
        .insert(
            "aws:userid",
            format!("{}:{}", claims.role_id, claims.session_name),
        )
        .insert("aws:CurrentTime", iso8601(facts.now))
        .insert("aws:EpochTime", facts.now.to_string())
        .insert("aws:TokenIssueTime", iso8601(claims.issued_at))
        .insert(
            "aws:SecureTransport",
            if facts.secure_transport {
                "true"
            } else {
                "false"
            },
        )
        .insert("aws:RequestedRegion", facts.region)
        .insert("aws:ViaAWSService", "false")
        .insert("aws:FederatedProvider", claims.provider_arn.as_str());
    if let Some(ip) = facts.source_ip {
        c.insert("aws:SourceIp", ip);
    }
    if let Some(si) = &claims.source_identity {
        c.insert("aws:SourceIdentity", si.as_str());
    }
    for tag in &claims.tags {
        c.insert(format!("aws:PrincipalTag/{}", tag.key), tag.value.as_str());
    }
    c
}

/// Which kind of policy denied, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No identity-based policy allows the action.
    NoIdentityAllow,
    /// The identity policies allow it but no session policy does.
    NoSessionAllow,
    /// A Deny statement in an identity-based policy matched.
    ExplicitIdentityDeny,
    /// A Deny statement in a session policy matched.
    ExplicitSessionDeny,
    /// The request mapped to no authorization at all (never allowed).
    NothingToAuthorize,
    /// A policy in force uses this condition key, and the gateway could not determine its
    /// value as DynamoDB would (fail closed).
    Undetermined(&'static str),
}

/// A denied authorization, displayed in AWS's `AccessDeniedException` wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The caller's assumed-role ARN.
    pub caller_arn: String,
    /// `dynamodb:<Action>`.
    pub action: String,
    /// The resource ARN.
    pub resource: String,
    /// Why.
    pub reason: DenyReason,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Denied {
            caller_arn,
            action,
            resource,
            reason,
        } = self;
        if *reason == DenyReason::NothingToAuthorize {
            return write!(
                f,
                "User: {caller_arn} is not authorized to perform this request: it names no resource to authorize"
            );
        }
        write!(
            f,
            "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} "
        )?;
        match reason {
            DenyReason::NoIdentityAllow => {
                write!(
                    f,
                    "because no identity-based policy allows the {action} action"
                )
            }
            DenyReason::NoSessionAllow => {
                write!(f, "because no session policy allows the {action} action")
            }
            DenyReason::ExplicitIdentityDeny => {
                write!(f, "with an explicit deny in an identity-based policy")
            }
            DenyReason::ExplicitSessionDeny => {
                write!(f, "with an explicit deny in a session policy")
            }
            DenyReason::Undetermined(key) => write!(
                f,
                "because a policy in force uses {key} and its value cannot be determined for this request"
            ),
            DenyReason::NothingToAuthorize => Ok(()),
        }
    }
}

/// The policies in force for a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicies<'a> {
    /// The role's inline and managed policies.
    pub identity: &'a [Policy],
    /// The session policies (inline `Policy` and `PolicyArns`); `None` when the session has
    /// none, which leaves the identity policies alone in force.
    pub session: Option<&'a [Policy]>,
    /// Which DynamoDB condition keys these policies use.
    pub uses: Uses,
}

/// Which of the DynamoDB condition keys whose value a request may leave undetermined the
/// policies in force use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uses {
    /// `dynamodb:LeadingKeys` appears in some policy.
    pub leading_keys: bool,
    /// `dynamodb:Attributes` appears in some policy.
    pub attributes: bool,
}

impl Uses {
    /// What `policies` use (condition keys are case-insensitive; any operator).
    pub fn of(policies: &[Policy]) -> Uses {
        let mut uses = Uses::default();
        for p in policies {
            let text = p.to_json().to_ascii_lowercase();
            uses.leading_keys |= text.contains(&LEADING_KEYS.to_ascii_lowercase());
            uses.attributes |= text.contains(&ATTRIBUTES.to_ascii_lowercase());
        }
        uses
    }

    /// Either's uses.
    pub fn or(self, other: Uses) -> Uses {
        Uses {
            leading_keys: self.leading_keys || other.leading_keys,
            attributes: self.attributes || other.attributes,
        }
    }

    fn uses(self, key: &str) -> bool {
        (key == LEADING_KEYS && self.leading_keys) || (key == ATTRIBUTES && self.attributes)
    }
}

/// Policies prepared for a request: the documents, their Allow skeletons (see
/// [`allow_skeleton`]) and the condition keys they use.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The policies as written.
    pub policies: Vec<Policy>,
    /// Their Allow statements without conditions: they allow at least what `policies` do.
    pub skeleton: Vec<Policy>,
    /// The DynamoDB condition keys they use: a table's key schema is worth reading only
    /// when `dynamodb:LeadingKeys` is among them.
    pub uses: Uses,
}

impl Prepared {
    /// Prepares `policies`.
    pub fn new(policies: Vec<Policy>) -> Prepared {
        let skeleton = policies.iter().filter_map(allow_skeleton).collect();
        let uses = Uses::of(&policies);
        Prepared {
            policies,
            skeleton,
            uses,
        }
    }
}

/// The Allow statements of `policy` with their conditions removed, or `None` when it has
/// none. Whatever `policy` allows under some request context, its skeleton allows under
/// every context, so a request its skeleton does not allow is denied whatever the
/// condition keys turn out to be.
pub fn allow_skeleton(policy: &Policy) -> Option<Policy> {
    let mut value = policy.to_value();
    let document = value.as_object_mut()?;
    let statements = match document.remove("Statement")? {
        serde_json::Value::Array(a) => a,
        one => vec![one],
    };
    let kept: Vec<serde_json::Value> = statements
        .into_iter()
        .filter(|s| s.get("Effect").and_then(serde_json::Value::as_str) == Some("Allow"))
        .map(|mut s| {
            if let Some(o) = s.as_object_mut() {
                o.remove("Condition");
            }
            s
        })
        .collect();
    if kept.is_empty() {
        return None;
    }
    document.insert("Statement".into(), serde_json::Value::Array(kept));
    // Should always parse; if not, a policy allowing everything is still a superset.
    Policy::parse(&value.to_string()).ok().or_else(|| {
        Policy::parse(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#).ok()
    })
}

fn merged(base: &Context, extra: &Context) -> Context {
    let mut c = base.clone();
    for (k, v) in extra.iter() {
        match v {
            ContextValue::Single(s) => c.insert(k, s.as_str()),
            ContextValue::Multi(vs) => c.insert_multi(k, vs.iter().map(String::as_str)),
        };
    }
    c
}

/// Evaluates every authorization; the first one not allowed is the answer.
pub fn authorize(
    policies: &SessionPolicies<'_>,
    caller: &Caller,
    global: &Context,
    authorizations: &[Authorization],
) -> Result<(), Denied> {
    if authorizations.is_empty() {
        // Nothing was mapped: never let that through as "nothing denied".
        return Err(Denied {
            caller_arn: caller.arn.clone(),
            action: String::new(),
            resource: String::new(),
            reason: DenyReason::NothingToAuthorize,
        });
    }
    let session = policies.session.unwrap_or(&[]);
    for a in authorizations {
        if let Some(key) = a.undetermined.iter().find(|k| policies.uses.uses(k)) {
            return Err(Denied {
                caller_arn: caller.arn.clone(),
                action: a.action.clone(),
                resource: a.resource.clone(),
                reason: DenyReason::Undetermined(key),
            });
        }
        if policies.session.is_some() && session.is_empty() {
            // Session policies that resolved to nothing allow nothing.
            return Err(Denied {
                caller_arn: caller.arn.clone(),
                action: a.action.clone(),
                resource: a.resource.clone(),
                reason: DenyReason::NoSessionAllow,
            });
        }
        let req = Request::new(a.action.as_str(), a.resource.as_str())
            .with_principal(caller.arn.as_str())
            .with_context(merged(global, &a.context));
        let mut input = EvalInput {
            identity_policies: policies.identity,
            session_policies: session,
            ..EvalInput::default()
        };
        let e = irsa_policy::evaluate(&input, &req);
        let reason = match e.decision {
            Decision::Allow => continue,
            Decision::ExplicitDeny => {
                if e.matched
                    .iter()
                    .any(|m| matches!(m.policy, PolicyRef::Identity(_)))
                {
                    DenyReason::ExplicitIdentityDeny
                } else {
                    DenyReason::ExplicitSessionDeny
                }
            }
            Decision::ImplicitDeny => {
                input.session_policies = &[];
                if irsa_policy::evaluate(&input, &req).is_allowed() {
                    DenyReason::NoSessionAllow
                } else {
                    DenyReason::NoIdentityAllow
                }
            }
        };
        return Err(Denied {
            caller_arn: caller.arn.clone(),
            action: a.action.clone(),
            resource: a.resource.clone(),
            reason,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Operation, Request, Schemas, Scope};
    use serde_json::json;

    fn claims() -> SessionClaims {
        SessionClaims {
            role_arn: "arn:aws:iam::111122223333:role/team/reader".into(),
            role_id: "AROAEXAMPLEEXAMPLE123".into(),
            session_name: "app-1".into(),
            subject: "system:serviceaccount:default:app".into(),
            audience: "sts.amazonaws.com".into(),
            provider_arn: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test".into(),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
            session_policy: None,
            policy_arns: vec![],
            source_identity: None,
            tags: vec![irsa_sts_core::credentials::SessionTag {
                key: "team".into(),
                value: "blue".into(),
            }],
            transitive_tag_keys: vec![],
        }
    }

    fn config() -> Config {
        Config::from_yaml("account: \"111122223333\"\nregion: us-east-1\n").unwrap()
    }

    fn policy(json: &str) -> Policy {
        Policy::parse(json).unwrap()
    }

    fn auths(op: &str, body: serde_json::Value) -> Vec<Authorization> {
        let scope = Scope {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
        };
        let op = Operation::from_target(Some(&format!("DynamoDB_20120810.{op}"))).unwrap();
        let body = body.to_string();
        Request::parse(op, body.as_bytes())
            .unwrap()
            .authorizations(&scope, &Schemas::new())
            .unwrap()
    }

    fn facts() -> RequestFacts<'static> {
        RequestFacts {
            now: 1_700_000_100,
            source_ip: Some("10.0.0.7"),
            secure_transport: false,
            region: "us-east-1",
        }
    }

    const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":["dynamodb:GetItem","dynamodb:Query"],
        "Resource":"arn:aws:dynamodb:us-east-1:111122223333:table/Books"}]}"#;

    #[test]
    fn caller_arn_drops_the_role_path() {
        let c = Caller::of(&claims(), &config()).unwrap();
        assert_eq!(c.arn, "arn:aws:sts::111122223333:assumed-role/reader/app-1");
        assert_eq!(c.account, "111122223333");
        let mut bad = claims();
        bad.role_arn = "arn:aws:iam::111122223333:user/x".into();
        assert!(Caller::of(&bad, &config()).is_none());
        // A role of another account or partition is not one of this deployment's.
        let mut foreign = claims();
        foreign.role_arn = "arn:aws:iam::444455556666:role/reader".into();
        assert!(Caller::of(&foreign, &config()).is_none());
    }

    #[test]
    fn global_keys() {
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        let get = |k: &str| g.get(k).map(|v| v.values()[0].clone());
        assert_eq!(get("aws:userid").unwrap(), "AROAEXAMPLEEXAMPLE123:app-1");
        assert_eq!(get("aws:PrincipalTag/team").unwrap(), "blue");
        assert_eq!(get("aws:CurrentTime").unwrap(), "2023-11-14T22:15:00Z");
        assert_eq!(get("aws:TokenIssueTime").unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(get("aws:SourceIp").unwrap(), "10.0.0.7");
        assert_eq!(
            get("aws:PrincipalArn").unwrap(),
            "arn:aws:iam::111122223333:role/team/reader"
        );
    }

    #[test]
    fn allow_and_implicit_deny_wording() {
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        let identity = [policy(READ)];
        let p = SessionPolicies {
            identity: &identity,
            session: None,
            uses: Uses::default(),
        };
        let get = auths(
            "GetItem",
            json!({"TableName": "Books", "Key": {"Id": {"S": "1"}}}),
        );
        assert_eq!(authorize(&p, &c, &g, &get), Ok(()));
        let put = auths(
            "PutItem",
            json!({"TableName": "Books", "Item": {"Id": {"S": "1"}}}),
        );
        let d = authorize(&p, &c, &g, &put).unwrap_err();
        assert_eq!(d.reason, DenyReason::NoIdentityAllow);
        assert_eq!(
            d.to_string(),
            "User: arn:aws:sts::111122223333:assumed-role/reader/app-1 is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:111122223333:table/Books because no identity-based policy allows the dynamodb:PutItem action"
        );
    }

    #[test]
    fn explicit_deny_wording() {
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        let identity = [
            policy(READ),
            policy(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"dynamodb:*",
                "Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"red"}}}]}"#,
            ),
        ];
        let p = SessionPolicies {
            identity: &identity,
            session: None,
            uses: Uses::default(),
        };
        let get = auths(
            "GetItem",
            json!({"TableName": "Books", "Key": {"Id": {"S": "1"}}}),
        );
        let d = authorize(&p, &c, &g, &get).unwrap_err();
        assert_eq!(d.reason, DenyReason::ExplicitIdentityDeny);
        assert!(
            d.to_string()
                .ends_with("on resource: arn:aws:dynamodb:us-east-1:111122223333:table/Books with an explicit deny in an identity-based policy"),
            "{d}"
        );
    }

    #[test]
    fn session_policies_intersect() {
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        let identity = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#,
        )];
        let session = [policy(READ)];
        let p = SessionPolicies {
            identity: &identity,
            session: Some(&session),
            uses: Uses::default(),
        };
        let get = auths(
            "GetItem",
            json!({"TableName": "Books", "Key": {"Id": {"S": "1"}}}),
        );
        assert_eq!(authorize(&p, &c, &g, &get), Ok(()));
        let put = auths(
            "PutItem",
            json!({"TableName": "Books", "Item": {"Id": {"S": "1"}}}),
        );
        let d = authorize(&p, &c, &g, &put).unwrap_err();
        assert_eq!(d.reason, DenyReason::NoSessionAllow);
        assert!(
            d.to_string()
                .ends_with("because no session policy allows the dynamodb:PutItem action")
        );
        // A session policy cannot widen the role.
        let narrow = [policy(READ)];
        let wide = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#,
        )];
        let p = SessionPolicies {
            identity: &narrow,
            session: Some(&wide),
            uses: Uses::default(),
        };
        assert_eq!(
            authorize(&p, &c, &g, &put).unwrap_err().reason,
            DenyReason::NoIdentityAllow
        );
        // Explicit deny in the session policy.
        let deny = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"},
               {"Effect":"Deny","Action":"dynamodb:GetItem","Resource":"*"}]}"#,
        )];
        let p = SessionPolicies {
            identity: &identity,
            session: Some(&deny),
            uses: Uses::default(),
        };
        let d = authorize(&p, &c, &g, &get).unwrap_err();
        assert_eq!(d.reason, DenyReason::ExplicitSessionDeny);
        assert!(
            d.to_string()
                .ends_with("with an explicit deny in a session policy")
        );
        // Session policies that resolved to nothing allow nothing.
        let p = SessionPolicies {
            identity: &identity,
            session: Some(&[]),
            uses: Uses::default(),
        };
        assert_eq!(
            authorize(&p, &c, &g, &get).unwrap_err().reason,
            DenyReason::NoSessionAllow
        );
    }

    #[test]
    fn every_authorization_must_pass_and_the_first_failure_is_reported() {
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        let identity = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:BatchGetItem",
               "Resource":"arn:aws:dynamodb:us-east-1:111122223333:table/Books"}]}"#,
        )];
        let p = SessionPolicies {
            identity: &identity,
            session: None,
            uses: Uses::default(),
        };
        let a = auths(
            "BatchGetItem",
            json!({"RequestItems": {"Books": {"Keys": [{"Id": {"S": "a"}}]}, "Secrets": {"Keys": [{"Id": {"S": "a"}}]}}}),
        );
        let d = authorize(&p, &c, &g, &a).unwrap_err();
        assert_eq!(
            d.resource,
            "arn:aws:dynamodb:us-east-1:111122223333:table/Secrets"
        );
        assert_eq!(authorize(&p, &c, &g, &a[..1]), Ok(()));
    }

    #[test]
    fn nothing_to_authorize_is_denied() {
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        let identity = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )];
        let p = SessionPolicies {
            identity: &identity,
            session: None,
            uses: Uses::default(),
        };
        let d = authorize(&p, &c, &g, &[]).unwrap_err();
        assert_eq!(d.reason, DenyReason::NothingToAuthorize);
        assert!(
            d.to_string().starts_with(
                "User: arn:aws:sts::111122223333:assumed-role/reader/app-1 is not authorized"
            ),
            "{d}"
        );
    }

    #[test]
    fn skeletons_allow_at_least_what_the_policies_allow() {
        let lk = policy(
            r#"{"Version":"2012-10-17","Statement":[
               {"Effect":"Allow","Action":"dynamodb:PutItem","Resource":"arn:aws:dynamodb:us-east-1:111122223333:table/Books",
                "Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["me"]}}},
               {"Effect":"Deny","Action":"dynamodb:*","Resource":"*"}]}"#,
        );
        let plain = policy(READ);
        assert!(Uses::of(std::slice::from_ref(&lk)).leading_keys);
        assert!(!Uses::of(std::slice::from_ref(&plain)).leading_keys);
        assert!(Uses::of(&[policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
               "Condition":{"Null":{"DynamoDB:leadingKEYS":"false"}}}]}"#
        )])
        .leading_keys);
        let p = Prepared::new(vec![lk]);
        assert!(p.uses.leading_keys);
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        let skeleton = SessionPolicies {
            identity: &p.skeleton,
            session: None,
            uses: Uses::default(),
        };
        // Any key: the skeleton allows PutItem on Books (the Deny and the condition gone).
        let put = auths(
            "PutItem",
            json!({"TableName": "Books", "Item": {"Id": {"S": "someone-else"}}}),
        );
        assert_eq!(authorize(&skeleton, &c, &g, &put), Ok(()));
        // Nothing allows GetItem, or PutItem on another table, whatever the keys.
        let get = auths(
            "GetItem",
            json!({"TableName": "Books", "Key": {"Id": {"S": "me"}}}),
        );
        assert!(authorize(&skeleton, &c, &g, &get).is_err());
        let other = auths(
            "PutItem",
            json!({"TableName": "Other", "Item": {"Id": {"S": "me"}}}),
        );
        assert!(authorize(&skeleton, &c, &g, &other).is_err());
        // A policy of Deny statements only has no skeleton.
        assert!(
            allow_skeleton(&policy(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#
            ))
            .is_none()
        );
    }

    #[test]
    fn leading_keys_with_policy_variables() {
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        let identity = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem",
               "Resource":"*","Condition":{"ForAllValues:StringEquals":
               {"dynamodb:LeadingKeys":["${aws:PrincipalTag/team}"]}}}]}"#,
        )];
        let p = SessionPolicies {
            identity: &identity,
            session: None,
            uses: Uses::default(),
        };
        let own = auths(
            "GetItem",
            json!({"TableName": "Teams", "Key": {"Team": {"S": "blue"}}}),
        );
        let other = auths(
            "GetItem",
            json!({"TableName": "Teams", "Key": {"Team": {"S": "red"}}}),
        );
        assert_eq!(authorize(&p, &c, &g, &own), Ok(()));
        assert_eq!(
            authorize(&p, &c, &g, &other).unwrap_err().reason,
            DenyReason::NoIdentityAllow
        );
    }
}
