#![doc = include_str!("../README.md")]
// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]

use std::fmt;

use irsa_policy::{Context, ContextValue, Decision, EvalInput, Policy, PolicyRef, Request};
use irsa_sts_core::{Config, SessionClaims, iso8601};

/// One IAM authorization request derived from a service request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `service:Action`, e.g. `s3:GetObject`.
    pub action: String,
    /// The resource ARN, or `*`.
    pub resource: String,
    /// The service's condition keys the request shows.
    pub context: Context,
    /// Condition keys the service evaluates for this action whose value the request does
    /// not show exactly as the service would read it. An entry ending in `/` stands for
    /// the family of keys it prefixes. A policy in force that uses one of them denies.
    pub undetermined: Vec<&'static str>,
}

/// Whether `key` is among `undetermined` (an entry ending in `/` stands for every key it
/// prefixes; ASCII case-insensitive, as condition keys are).
pub fn is_undetermined(undetermined: &[&str], key: &str) -> bool {
    undetermined.iter().any(|u| {
        if u.ends_with('/') {
            key.len() >= u.len()
                && key
                    .get(..u.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(u))
        } else {
            key.eq_ignore_ascii_case(u)
        }
    })
}

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
        .insert("aws:ViaAWSService", "false");
    // Web identity sessions name their OIDC provider; pod identity sessions have none.
    if !claims.provider_arn.is_empty() {
        c.insert("aws:FederatedProvider", claims.provider_arn.as_str());
    }
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
    /// A Deny statement in the resource's policy matched.
    ExplicitResourceDeny,
    /// The request mapped to no authorization at all (never allowed).
    NothingToAuthorize,
    /// A policy in force uses this condition key, and its value could not be determined as
    /// the service would (fail closed).
    Undetermined(&'static str),
}

/// A denied authorization, displayed in AWS's access-denied wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The caller's assumed-role ARN.
    pub caller_arn: String,
    /// `service:Action`.
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
            DenyReason::ExplicitResourceDeny => {
                write!(f, "with an explicit deny in a resource-based policy")
            }
            DenyReason::Undetermined(key) => write!(
                f,
                "because a policy in force uses {key} and its value cannot be determined for this request"
            ),
            DenyReason::NothingToAuthorize => Ok(()),
        }
    }
}

/// The resource-based policy of a resource ARN (an S3 bucket's policy for the bucket and
/// its objects), `None` when it has none.
pub type ResourcePolicies<'a> = dyn Fn(&str) -> Option<&'a ResourcePolicy> + Sync + 'a;

/// A resource-based policy (one document, as a bucket has) with its lower-cased text.
#[derive(Debug, Clone)]
pub struct ResourcePolicy {
    /// The policy.
    pub policy: Policy,
    text: String,
}

impl ResourcePolicy {
    /// Prepares `policy`.
    pub fn new(policy: Policy) -> ResourcePolicy {
        let text = policy.to_json().to_ascii_lowercase();
        ResourcePolicy { policy, text }
    }

    /// Whether the policy mentions `key` anywhere in its text (any case).
    pub fn mentions(&self, key: &str) -> bool {
        self.text.contains(&key.to_ascii_lowercase())
    }
}

/// The policies in force for a session.
#[derive(Clone, Copy)]
pub struct SessionPolicies<'a> {
    /// The role's inline and managed policies.
    pub identity: &'a [Policy],
    /// The session policies (inline `Policy` and `PolicyArns`); `None` when the session has
    /// none, which leaves the identity policies alone in force.
    pub session: Option<&'a [Policy]>,
    /// The resource-based policy of each authorization's resource; `None`: no resource has
    /// one.
    pub resource: Option<&'a ResourcePolicies<'a>>,
    /// The texts of the identity and session policies, for the undetermined-key check.
    pub uses: Uses<'a>,
}

impl fmt::Debug for SessionPolicies<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPolicies")
            .field("identity", &self.identity)
            .field("session", &self.session)
            .field("resource", &self.resource.is_some())
            .finish_non_exhaustive()
    }
}

/// Which condition keys the identity and session policies in force mention: their
/// lower-cased texts (see [`Prepared`]). `Uses::default()` mentions nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Uses<'a> {
    texts: [&'a str; 2],
}

impl<'a> Uses<'a> {
    /// The keys `identity` and `session` mention.
    pub fn new(identity: &'a Prepared, session: Option<&'a Prepared>) -> Uses<'a> {
        Uses {
            texts: [&identity.text, session.map_or("", |s| s.text.as_str())],
        }
    }

    /// Whether some policy mentions `key` (any case; a family ending in `/` is mentioned
    /// when one of its keys is).
    pub fn key(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        self.texts.iter().any(|t| t.contains(&key))
    }
}

/// Policies prepared for evaluation: the documents, their Allow skeletons (see
/// [`allow_skeleton`]) and their lower-cased text (which condition keys they mention).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The policies as written.
    pub policies: Vec<Policy>,
    /// Their Allow statements without conditions: they allow at least what `policies` do.
    pub skeleton: Vec<Policy>,
    text: String,
}

impl Prepared {
    /// Prepares `policies`.
    pub fn new(policies: Vec<Policy>) -> Prepared {
        let skeleton = policies.iter().filter_map(allow_skeleton).collect();
        let text = policies
            .iter()
            .map(|p| p.to_json().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join("\n");
        Prepared {
            policies,
            skeleton,
            text,
        }
    }

    /// Whether some policy mentions `key` anywhere in its text (any case).
    pub fn mentions(&self, key: &str) -> bool {
        self.text.contains(&key.to_ascii_lowercase())
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
        let deny = |reason| Denied {
            caller_arn: caller.arn.clone(),
            action: a.action.clone(),
            resource: a.resource.clone(),
            reason,
        };
        let resource_policy = policies.resource.and_then(|lookup| lookup(&a.resource));
        if let Some(key) = a
            .undetermined
            .iter()
            .find(|k| policies.uses.key(k) || resource_policy.is_some_and(|r| r.mentions(k)))
        {
            return Err(deny(DenyReason::Undetermined(key)));
        }
        if policies.session.is_some() && session.is_empty() {
            // Session policies that resolved to nothing allow nothing.
            return Err(deny(DenyReason::NoSessionAllow));
        }
        let req = Request::new(a.action.as_str(), a.resource.as_str())
            .with_principal(caller.arn.as_str())
            .with_context(merged(global, &a.context));
        let input = EvalInput {
            identity_policies: policies.identity,
            session_policies: session,
            resource_policy: resource_policy.map(|r| &r.policy),
            ..EvalInput::default()
        };
        let e = irsa_policy::evaluate(&input, &req);
        let reason = match e.decision {
            Decision::Allow => continue,
            Decision::ExplicitDeny => deny_reason(&e.matched),
            Decision::ImplicitDeny => {
                let input = EvalInput {
                    identity_policies: policies.identity,
                    ..EvalInput::default()
                };
                if irsa_policy::evaluate(&input, &req).is_allowed() {
                    DenyReason::NoSessionAllow
                } else {
                    DenyReason::NoIdentityAllow
                }
            }
        };
        return Err(deny(reason));
    }
    Ok(())
}

/// Which kind of policy an explicit Deny came from (identity first, then the resource's).
fn deny_reason(matched: &[irsa_policy::MatchedStatement]) -> DenyReason {
    if matched
        .iter()
        .any(|m| matches!(m.policy, PolicyRef::Identity(_)))
    {
        DenyReason::ExplicitIdentityDeny
    } else if matched.iter().any(|m| m.policy == PolicyRef::Resource) {
        DenyReason::ExplicitResourceDeny
    } else {
        DenyReason::ExplicitSessionDeny
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Policy {
        Policy::parse(json).unwrap()
    }

    fn caller() -> Caller {
        Caller {
            arn: "arn:aws:sts::111122223333:assumed-role/reader/app-1".into(),
            role_arn: "arn:aws:iam::111122223333:role/reader".into(),
            account: "111122223333".into(),
        }
    }

    fn get(key: &str, undetermined: Vec<&'static str>) -> Authorization {
        Authorization {
            action: "s3:GetObject".into(),
            resource: format!("arn:aws:s3:::b/{key}"),
            context: Context::new(),
            undetermined,
        }
    }

    fn check(
        identity: &Prepared,
        session: Option<&Prepared>,
        bucket: Option<&ResourcePolicy>,
        a: Authorization,
    ) -> Result<(), DenyReason> {
        let lookup = |r: &str| bucket.filter(|_| r.starts_with("arn:aws:s3:::b"));
        let p = SessionPolicies {
            identity: &identity.policies,
            session: session.map(|s| s.policies.as_slice()),
            resource: Some(&lookup as &ResourcePolicies<'_>),
            uses: Uses::new(identity, session),
        };
        authorize(&p, &caller(), &Context::new(), &[a]).map_err(|d| d.reason)
    }

    const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

    #[test]
    fn a_bucket_policy_deny_wins() {
        let identity = Prepared::new(vec![policy(ALLOW_ALL)]);
        let bucket = ResourcePolicy::new(policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:role/reader"},
               "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}]}"#,
        ));
        assert_eq!(
            check(&identity, None, Some(&bucket), get("ok", vec![])),
            Ok(())
        );
        assert_eq!(
            check(&identity, None, Some(&bucket), get("secret/x", vec![])),
            Err(DenyReason::ExplicitResourceDeny)
        );
    }

    #[test]
    fn a_bucket_policy_naming_the_session_or_role_grants_in_the_account() {
        let nothing = Prepared::new(vec![]);
        let session_arn = ResourcePolicy::new(policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/reader/app-1"},
               "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        ));
        assert_eq!(
            check(&nothing, None, Some(&session_arn), get("k", vec![])),
            Ok(())
        );
        let other = ResourcePolicy::new(policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/writer"},
               "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        ));
        assert_eq!(
            check(&nothing, None, Some(&other), get("k", vec![])),
            Err(DenyReason::NoIdentityAllow)
        );
        // A session policy limits what a bucket policy naming the role grants.
        let role = ResourcePolicy::new(policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/reader"},
               "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        ));
        assert_eq!(check(&nothing, None, Some(&role), get("k", vec![])), Ok(()));
        let narrow = Prepared::new(vec![policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#,
        )]);
        assert!(check(&nothing, Some(&narrow), Some(&role), get("k", vec![])).is_err());
    }

    #[test]
    fn undetermined_keys_fail_closed_in_any_policy_in_force() {
        let identity = Prepared::new(vec![policy(ALLOW_ALL)]);
        let tagged = |k| get(k, vec!["s3:ExistingObjectTag/"]);
        assert_eq!(check(&identity, None, None, tagged("k")), Ok(()));
        let bucket = ResourcePolicy::new(policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject",
               "Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"s3:existingObjectTag/Secret":"yes"}}}]}"#,
        ));
        assert_eq!(
            check(&identity, None, Some(&bucket), tagged("k")),
            Err(DenyReason::Undetermined("s3:ExistingObjectTag/"))
        );
        let session = Prepared::new(vec![policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${s3:ExistingObjectTag/x}"}]}"#,
        )]);
        assert_eq!(
            check(&identity, Some(&session), None, tagged("k")),
            Err(DenyReason::Undetermined("s3:ExistingObjectTag/"))
        );
        assert!(is_undetermined(
            &["s3:ExistingObjectTag/"],
            "S3:existingobjecttag/a"
        ));
        assert!(!is_undetermined(&["s3:prefix"], "s3:prefixes"));
    }

    #[test]
    fn nothing_to_authorize_is_denied() {
        let identity = Prepared::new(vec![policy(ALLOW_ALL)]);
        let p = SessionPolicies {
            identity: &identity.policies,
            session: None,
            resource: None,
            uses: Uses::new(&identity, None),
        };
        let d = authorize(&p, &caller(), &Context::new(), &[]).unwrap_err();
        assert_eq!(d.reason, DenyReason::NothingToAuthorize);
    }
}
