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
        // `arn:{partition}:iam::{account}:role/…`, compared piece by piece.
        let rest = claims.role_arn.strip_prefix("arn:")?;
        let rest = rest.strip_prefix(config.partition.as_str())?;
        let rest = rest.strip_prefix(":iam::")?;
        let rest = rest.strip_prefix(config.account.as_str())?;
        let name = rest.strip_prefix(":role/")?.rsplit('/').next()?;
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
            joined(&claims.role_id, ":", &claims.session_name),
        )
        .insert("aws:CurrentTime", timestamp(facts.now))
        .insert("aws:EpochTime", facts.now.to_string())
        .insert("aws:TokenIssueTime", timestamp(claims.issued_at))
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
        c.insert(
            joined("aws:PrincipalTag/", "", &tag.key),
            tag.value.as_str(),
        );
    }
    c
}

/// [`iso8601`] (`YYYY-MM-DDThh:mm:ssZ`, UTC) written digit by digit for the years 1970 to
/// 9999 (days to a civil date as in H. Hinnant's `civil_from_days`); other times through
/// [`iso8601`] itself.
fn timestamp(epoch_seconds: i64) -> String {
    const LAST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(0..=LAST).contains(&epoch_seconds) {
        return iso8601(epoch_seconds);
    }
    let (days, secs) = (epoch_seconds / 86_400, epoch_seconds % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = String::with_capacity(20);
    let mut digits = |value: i64, width: u32, then: Option<char>| {
        for p in (0..width).rev() {
            let d = (value / 10_i64.pow(p)) % 10;
            out.push(char::from(b'0' + u8::try_from(d).unwrap_or(0)));
        }
        if let Some(c) = then {
            out.push(c);
        }
    };
    digits(year, 4, Some('-'));
    digits(month, 2, Some('-'));
    digits(day, 2, Some('T'));
    digits(secs / 3_600, 2, Some(':'));
    digits(secs / 60 % 60, 2, Some(':'));
    digits(secs % 60, 2, Some('Z'));
    out
}

/// `a`, `b` and `c` in one string of their length (no formatting machinery).
fn joined(a: &str, b: &str, c: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len() + c.len());
    s.push_str(a);
    s.push_str(b);
    s.push_str(c);
    s
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

/// Calls `f` with `key` ASCII-lowercased, on the stack when it is short (condition keys
/// are): the same text as `key.to_ascii_lowercase()`, without allocating.
fn with_lowercase<T>(key: &str, f: impl FnOnce(&str) -> T) -> T {
    let mut buf = [0u8; 128];
    if let Some(dst) = buf.get_mut(..key.len()) {
        dst.copy_from_slice(key.as_bytes());
        dst.make_ascii_lowercase();
        // ASCII lowercasing keeps UTF-8 valid.
        if let Ok(lower) = std::str::from_utf8(dst) {
            return f(lower);
        }
    }
    f(&key.to_ascii_lowercase())
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
        with_lowercase(key, |key| self.text.contains(key))
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
        with_lowercase(key, |key| self.texts.iter().any(|t| t.contains(key)))
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
        with_lowercase(key, |key| self.text.contains(key))
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

/// Inserts every key of `extra` into `c` (replacing a key `c` has).
fn add(c: &mut Context, extra: &Context) {
    for (k, v) in extra.iter() {
        match v {
            ContextValue::Single(s) => c.insert(k, s.as_str()),
            ContextValue::Multi(vs) => c.insert_multi(k, vs.iter().map(String::as_str)),
        };
    }
}

/// Evaluates every authorization; the first one not allowed is the answer.
pub fn authorize(
    policies: &SessionPolicies<'_>,
    caller: &Caller,
    global: &Context,
    authorizations: &[Authorization],
) -> Result<(), Denied> {
    if authorizations.is_empty() {
        return Err(nothing_to_authorize(caller));
    }
    evaluate_all(policies, caller, &mut global.clone(), authorizations, false)
}

/// [`authorize`] with a global context it may change while deciding: it is the context of
/// the evaluated request itself, each authorization's keys added and taken out again, and
/// is as it was when this returns.
pub fn authorize_in(
    policies: &SessionPolicies<'_>,
    caller: &Caller,
    global: &mut Context,
    authorizations: &[Authorization],
) -> Result<(), Denied> {
    evaluate_all(policies, caller, global, authorizations, true)
}

/// [`authorize`] taking the global context by value (its last use): no copy of it is made.
pub fn authorize_owned(
    policies: &SessionPolicies<'_>,
    caller: &Caller,
    mut global: Context,
    authorizations: &[Authorization],
) -> Result<(), Denied> {
    evaluate_all(policies, caller, &mut global, authorizations, false)
}

/// Evaluates `authorizations` with one request whose context is `global` plus each
/// authorization's keys (which win over global ones); `restore`: `global` is as it was on
/// return, else only as far as a next authorization needs it.
fn evaluate_all(
    policies: &SessionPolicies<'_>,
    caller: &Caller,
    global: &mut Context,
    authorizations: &[Authorization],
    restore: bool,
) -> Result<(), Denied> {
    if authorizations.is_empty() {
        // Nothing was mapped: never let that through as "nothing denied".
        return Err(nothing_to_authorize(caller));
    }
    let session = policies.session.unwrap_or(&[]);
    let mut req = Request::new(String::new(), String::new())
        .with_principal(caller.arn.as_str())
        .with_context(std::mem::take(global));
    let mut result = Ok(());
    for (n, a) in authorizations.iter().enumerate() {
        let keep = restore || n + 1 < authorizations.len();
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
            result = Err(deny(DenyReason::Undetermined(key)));
            break;
        }
        if policies.session.is_some() && session.is_empty() {
            // Session policies that resolved to nothing allow nothing.
            result = Err(deny(DenyReason::NoSessionAllow));
            break;
        }
        req.action.clear();
        req.action.push_str(&a.action);
        req.resource.clear();
        req.resource.push_str(&a.resource);
        // The authorization's keys are added in place and taken out afterwards; when one
        // replaces a global key, the global context is kept aside and put back instead.
        let overlaps = a.context.iter().any(|(k, _)| req.context.get(k).is_some());
        let kept = if overlaps && keep {
            let base = req.context.clone();
            add(&mut req.context, &a.context);
            Some(base)
        } else {
            add(&mut req.context, &a.context);
            None
        };
        let denied = decide(policies, session, resource_policy, &req);
        if keep {
            match kept {
                Some(base) => req.context = base,
                None => {
                    for (k, _) in a.context.iter() {
                        req.context.remove(k);
                    }
                }
            }
        }
        if let Some(reason) = denied {
            result = Err(deny(reason));
            break;
        }
    }
    *global = req.context;
    result
}

/// Why `req` is denied, or `None` when it is allowed.
fn decide(
    policies: &SessionPolicies<'_>,
    session: &[Policy],
    resource_policy: Option<&ResourcePolicy>,
    req: &Request,
) -> Option<DenyReason> {
    let input = EvalInput {
        identity_policies: policies.identity,
        session_policies: session,
        resource_policy: resource_policy.map(|r| &r.policy),
        ..EvalInput::default()
    };
    let e = irsa_policy::evaluate(&input, req);
    match e.decision {
        Decision::Allow => None,
        Decision::ExplicitDeny => Some(deny_reason(&e.matched)),
        Decision::ImplicitDeny => {
            let input = EvalInput {
                identity_policies: policies.identity,
                ..EvalInput::default()
            };
            Some(if irsa_policy::evaluate(&input, req).is_allowed() {
                DenyReason::NoSessionAllow
            } else {
                DenyReason::NoIdentityAllow
            })
        }
    }
}

fn nothing_to_authorize(caller: &Caller) -> Denied {
    Denied {
        caller_arn: caller.arn.clone(),
        action: String::new(),
        resource: String::new(),
        reason: DenyReason::NothingToAuthorize,
    }
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
    fn each_authorization_sees_the_global_context_and_only_its_own_keys() {
        let identity = Prepared::new(vec![policy(
            r#"{"Version":"2012-10-17","Statement":[
               {"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"test:g":"global"}}},
               {"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"StringEquals":{"test:g":"put"}}},
               {"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"Null":{"test:own":"false"}}}]}"#,
        )]);
        let p = SessionPolicies {
            identity: &identity.policies,
            session: None,
            resource: None,
            uses: Uses::new(&identity, None),
        };
        let global = Context::new().with("test:g", "global");
        let with = |action: &str, context: Context| Authorization {
            action: action.into(),
            resource: "arn:aws:s3:::b/k".into(),
            context,
            undetermined: vec![],
        };
        let get = with("s3:GetObject", Context::new());
        // A key of its own replacing a global one, then one the global context lacks.
        let put = with(
            "s3:PutObject",
            Context::new().with("test:g", "put").with("test:own", "1"),
        );
        let get_own = with("s3:GetObject", Context::new().with("test:own", "1"));
        let cases: [(&[&Authorization], Option<DenyReason>); 5] = [
            (&[&get], None),
            (&[&put, &get], None),
            (&[&put, &get, &put, &get], None),
            (&[&put, &get_own], Some(DenyReason::ExplicitIdentityDeny)),
            (&[&get_own, &get], Some(DenyReason::ExplicitIdentityDeny)),
        ];
        for (list, want) in cases {
            let list: Vec<Authorization> = list.iter().map(|a| (*a).clone()).collect();
            let owned = authorize_owned(&p, &caller(), global.clone(), &list);
            let borrowed = authorize(&p, &caller(), &global, &list);
            assert_eq!(owned, borrowed);
            // In place: the same answer, and the global context as it was, in order.
            let mut in_place = global.clone().with("test:other", "o");
            let before = format!("{in_place:?}");
            assert_eq!(authorize_in(&p, &caller(), &mut in_place, &list), owned);
            assert_eq!(format!("{in_place:?}"), before);
            assert_eq!(owned.map_err(|d| d.reason).err(), want, "{list:?}");
            // Each one alone, with the global context and its own keys only.
            for a in &list {
                let alone = authorize(&p, &caller(), &global, std::slice::from_ref(a));
                let merged_by_hand = {
                    let mut c = global.clone();
                    for (k, v) in a.context.iter() {
                        c.insert_multi(k, v.values().iter().map(String::as_str));
                    }
                    c
                };
                let req = Request::new(a.action.as_str(), a.resource.as_str())
                    .with_principal(caller().arn)
                    .with_context(merged_by_hand);
                let input = EvalInput {
                    identity_policies: &identity.policies,
                    ..EvalInput::default()
                };
                assert_eq!(
                    alone.is_ok(),
                    irsa_policy::evaluate(&input, &req).is_allowed(),
                    "{a:?}"
                );
            }
        }
        assert_eq!(
            authorize_owned(&p, &caller(), global, &[])
                .unwrap_err()
                .reason,
            DenyReason::NothingToAuthorize
        );
    }

    #[test]
    fn mentions_are_case_insensitive_for_keys_of_any_length() {
        let long = format!("test:{}", "Ab".repeat(100));
        let identity = Prepared::new(vec![policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*",
               "Condition":{{"StringEquals":{{"{long}":"x","s3:Prefix":"y","test:ÉTÉ":"z"}}}}}}]}}"#
        ))]);
        let uses = Uses::new(&identity, None);
        for key in [
            long.as_str(),
            &long.to_ascii_uppercase(),
            "S3:PREFIX",
            "s3:prefix",
            "s3:",
            "test:ÉTÉ",
        ] {
            assert!(uses.key(key), "{key}");
            assert!(identity.mentions(key), "{key}");
        }
        for key in [
            &format!("{long}b"),
            "s3:prefixes",
            "test:été",
            "aws:SourceIp",
        ] {
            assert!(!uses.key(key), "{key}");
            assert!(!identity.mentions(key), "{key}");
        }
        assert!(!Uses::default().key("s3:prefix"));
    }

    #[test]
    fn timestamps_are_iso8601s() {
        let last = 253_402_300_799_i64;
        let mut cases = vec![
            0,
            59,
            86_399,
            86_400,
            951_782_400, // 2000-02-29
            951_868_800,
            4_107_542_400, // 2100-03-01
            1_700_000_000,
            last - 1,
            last,
            last + 1,
            -1,
            -86_401,
            i64::MIN,
            i64::MAX,
        ];
        // Every day of 400 years (a whole Gregorian cycle), at a varying time of day.
        cases.extend((0..146_097_i64).map(|d| d * 86_400 + (d * 7_919) % 86_400));
        cases.extend((0..20_000_i64).map(|n| n * 12_669_961_543));
        for t in cases {
            assert_eq!(timestamp(t), iso8601(t), "{t}");
        }
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
