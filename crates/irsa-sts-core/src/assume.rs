//! `AssumeRoleWithWebIdentity` as a pure function of (request, config, keys, key ring, now,
//! rng). The checks run in the order real STS runs them, each failing with its code and
//! message.

use crate::config::{Config, ManagedPolicy, Provider, Role};
use crate::credentials::{self, KeyRing, SessionClaims, SessionTag};
use crate::error::StsError;
use crate::policy::{self, PolicyKind, TrustRequest, ValidPolicy};
use crate::query::AssumeRoleWithWebIdentityRequest;
use crate::xml::{AssumeRoleWithWebIdentityResult, AssumedRoleUser};
use irsa_jose::{JoseError, Jwks, ParsedToken, PreparedJwks, Validation, VerifiedToken};
use serde_json::Value;
use std::collections::BTreeMap;

/// The default session length when `DurationSeconds` is absent.
pub(crate) const DEFAULT_DURATION_SECS: u32 = 3600;
/// Session policy, policy ARNs and session tags are packed into this many bytes at most
/// (`PackedPolicySize` is the percentage of it used; see the crate README for the formula).
pub(crate) const PACKED_POLICY_LIMIT: usize = 2048;
/// At most this many session tags (AWS's quota).
pub(crate) const MAX_SESSION_TAGS: usize = 50;
/// Longest session tag key, in characters.
pub(crate) const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest session tag value, in characters.
pub(crate) const MAX_TAG_VALUE_CHARS: usize = 256;
/// The claim carrying session tags.
pub(crate) const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
/// The claim carrying a source identity.
pub(crate) const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

/// Facts about the HTTP request that the trust policy may test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// Unix seconds.
    pub now: i64,
    /// The caller's address (`aws:SourceIp`).
    pub source_ip: Option<String>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

/// The validated session policies of a request.
#[derive(Debug, Clone)]
pub struct SessionPolicies {
    /// The inline session policy (`Policy`).
    pub policy: Option<ValidPolicy>,
    /// `PolicyArns`, each a configured managed policy.
    pub managed: Vec<ManagedPolicy>,
    /// `PackedPolicySize` (percent), when any session policy was passed.
    pub packed_size: Option<u32>,
}

/// Step 0: the session policy must be valid (MalformedPolicyDocument), the policy ARNs must
/// name configured policies, and together they must pack into the allowed size.
pub fn session_policies(
    req: &AssumeRoleWithWebIdentityRequest,
    config: &Config,
) -> Result<SessionPolicies, StsError> {
    let policy = match &req.policy {
        Some(text) => Some(policy::parse(text, PolicyKind::Session).map_err(StsError::from)?),
        None => None,
    };
    let mut managed = Vec::new();
    for arn in &req.policy_arns {
        match config.policies.get(arn) {
            Some(p) => managed.push(p.clone()),
            None => {
                return Err(StsError::InvalidParameterValue(format!(
                    "Policy {arn} does not exist or is not attachable."
                )));
            }
        }
    }
    let mut session = SessionPolicies {
        policy,
        managed,
        packed_size: None,
    };
    if session.policy.is_some() || !session.managed.is_empty() {
        let percent = packed_percent(session.packed_len());
        if percent > 100 {
            return Err(StsError::PackedPolicyTooLarge { percent });
        }
        session.packed_size = Some(percent);
    }
    Ok(session)
}

impl SessionPolicies {
    /// Bytes the session policies take in the packed size: the compact policy plus the ARNs.
    pub fn packed_len(&self) -> usize {
        let compact = self.policy.as_ref().map_or(0, ValidPolicy::compact_len);
        let arns: usize = self.managed.iter().map(|m| m.arn.len()).sum();
        compact.saturating_add(arns)
    }
}

/// `used` bytes as a percentage of [`PACKED_POLICY_LIMIT`], rounded up.
fn packed_percent(used: usize) -> u32 {
    u32::try_from(used.saturating_mul(100).div_ceil(PACKED_POLICY_LIMIT)).unwrap_or(u32::MAX)
}

fn provider_for<'c>(token: &ParsedToken<'_>, config: &'c Config) -> Result<&'c Provider, StsError> {
    let iss = match token.claim("iss") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(StsError::from(JoseError::InvalidClaim {
                claim: "iss",
                reason: "must be a string".into(),
            }));
        }
        None => return Err(StsError::from(JoseError::MissingClaim { claim: "iss" })),
    };
    config.provider(iss).ok_or_else(|| {
        StsError::InvalidIdentityToken(format!(
            "No OpenIDConnect provider found in your account for {iss}"
        ))
    })
}

/// Steps 0–1, done once per request before the provider's keys are fetched: the session
/// policies (parsed once), the provider for the token's `iss` and the token's `kid` (one
/// unverified parse, kept for verification). Pass it on to [`assume_prepared`].
#[derive(Debug)]
pub struct Prepared<'c, 'r> {
    /// The validated session policies.
    pub session: SessionPolicies,
    /// The registered provider of the token's issuer.
    pub provider: &'c Provider,
    /// The token's `kid` header (unverified), to pick or refetch keys.
    pub kid: Option<String>,
    /// The token, parsed once.
    pub token: ParsedToken<'r>,
}

/// Steps 0–1 of `AssumeRoleWithWebIdentity` (see [`Prepared`]), in STS's order.
pub fn prepare<'c, 'r>(
    req: &'r AssumeRoleWithWebIdentityRequest,
    config: &'c Config,
) -> Result<Prepared<'c, 'r>, StsError> {
    // 0. Session policies (after the model's constraints, which decoding checked).
    let session = session_policies(req, config)?;
    // 1. The issuer must be a registered provider.
    let token = irsa_jose::parse_token(req.web_identity_token.expose())?;
    let provider = provider_for(&token, config)?;
    Ok(Prepared {
        session,
        provider,
        kid: token.kid().map(str::to_owned),
        token,
    })
}

/// Session tags from the `https://aws.amazon.com/tags` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SessionTags {
    /// Tag key → value.
    pub principal_tags: BTreeMap<String, String>,
    /// Keys that pass on to chained sessions.
    pub transitive_tag_keys: Vec<String>,
}

impl SessionTags {
    /// Bytes the tags take in the packed size: every key and value, plus every transitive
    /// tag key again.
    pub(crate) fn packed_len(&self) -> usize {
        let tags = self
            .principal_tags
            .iter()
            .fold(0usize, |n, (k, v)| n.saturating_add(k.len() + v.len()));
        let transitive = self
            .transitive_tag_keys
            .iter()
            .fold(0usize, |n, k| n.saturating_add(k.len()));
        tags.saturating_add(transitive)
    }
}

fn invalid_token(msg: &str) -> StsError {
    StsError::InvalidIdentityToken(msg.to_owned())
}

/// Reads `{"principal_tags": {"k": ["v"]}, "transitive_tag_keys": ["k"]}`.
fn session_tags(claims: &serde_json::Map<String, Value>) -> Result<Option<SessionTags>, StsError> {
    let Some(v) = claims.get(TAGS_CLAIM) else {
        return Ok(None);
    };
    let bad = || invalid_token("Invalid session tags in the web identity token");
    let obj = v.as_object().ok_or_else(bad)?;
    let mut tags = SessionTags::default();
    if let Some(pt) = obj.get("principal_tags") {
        for (k, v) in pt.as_object().ok_or_else(bad)? {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Array(a) if a.len() == 1 => a
                    .first()
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?
                    .to_owned(),
                _ => return Err(bad()),
            };
            if k.is_empty()
                || k.chars().count() > MAX_TAG_KEY_CHARS
                || value.chars().count() > MAX_TAG_VALUE_CHARS
                || k.starts_with("aws:")
            {
                return Err(bad());
            }
            tags.principal_tags.insert(k.clone(), value);
            if tags.principal_tags.len() > MAX_SESSION_TAGS {
                return Err(bad());
            }
        }
    }
    if let Some(t) = obj.get("transitive_tag_keys") {
        for k in t.as_array().ok_or_else(bad)? {
            let k = k.as_str().ok_or_else(bad)?;
            if !tags.principal_tags.contains_key(k) {
                return Err(bad());
            }
            tags.transitive_tag_keys.push(k.to_owned());
        }
    }
    Ok(Some(tags))
}

fn time_context(now: i64) -> String {
    crate::xml::iso8601(now)
}

/// `<prefix>:<claim>` written into `key`.
fn claim_key<'k>(key: &'k mut String, prefix: &str, claim: &str) -> &'k str {
    key.clear();
    key.push_str(prefix);
    key.push(':');
    key.push_str(claim);
    key
}

/// The condition keys of a web-identity request for the trust policy.
pub(crate) fn trust_context(
    provider: &Provider,
    token: &VerifiedToken,
    session_name: &str,
    tags: Option<&SessionTags>,
    source_identity: Option<&str>,
    ctx: &RequestContext,
) -> policy::Ctx {
    let mut c = policy::Ctx::new();
    // `<provider>:<claim>` keys are written into one buffer (the context stores its own
    // lower-case copy), not formatted into a new string each.
    let p = &provider.key_prefix;
    let mut key = String::with_capacity(p.len() + 6);
    c.insert(claim_key(&mut key, p, "aud"), token.audience.as_str());
    c.insert(claim_key(&mut key, p, "sub"), token.sub.as_str());
    // `oaud` is the raw audience (Google's convention, harmless elsewhere).
    c.insert_multi(
        claim_key(&mut key, p, "oaud"),
        token.aud.iter().map(String::as_str),
    );
    match token.claims.get("amr") {
        Some(Value::String(s)) => {
            c.insert_multi(claim_key(&mut key, p, "amr"), [s.as_str()]);
        }
        Some(Value::Array(a)) => {
            c.insert_multi(
                claim_key(&mut key, p, "amr"),
                a.iter().filter_map(Value::as_str),
            );
        }
        _ => {}
    }
    if let Some(Value::String(azp)) = token.claims.get("azp") {
        c.insert(claim_key(&mut key, p, "azp"), azp.as_str());
    }
    c.insert("sts:RoleSessionName", session_name);
    c.insert("aws:FederatedProvider", provider.arn.as_str());
    c.insert("aws:CurrentTime", time_context(ctx.now));
    c.insert("aws:EpochTime", ctx.now.to_string());
    c.insert(
        "aws:TokenIssueTime",
        time_context(token.iat.unwrap_or(ctx.now)),
    );
    c.insert(
        "aws:SecureTransport",
        if ctx.secure_transport {
            "true"
        } else {
            "false"
        },
    );
    if let Some(ip) = &ctx.source_ip {
        c.insert("aws:SourceIp", ip.as_str());
    }
    if let Some(tags) = tags {
        for (k, v) in &tags.principal_tags {
            c.insert(format!("aws:RequestTag/{k}"), v.clone());
            c.insert(format!("aws:PrincipalTag/{k}"), v.clone());
        }
        c.insert_multi("aws:TagKeys", tags.principal_tags.keys().cloned());
        if !tags.transitive_tag_keys.is_empty() {
            c.insert_multi("sts:TransitiveTagKeys", tags.transitive_tag_keys.clone());
        }
    }
    if let Some(s) = source_identity {
        c.insert("sts:SourceIdentity", s);
    }
    c
}

/// `AssumeRoleWithWebIdentity`. `keys` are the JWKS of the token's provider (the caller
/// found the provider for the token's `iss` and fetched them; fetch failures are
/// `IDPCommunicationError` and never reach here). Servers call [`prepare`] and
/// [`assume_prepared`] instead, so that nothing is parsed twice.
pub fn assume_role_with_web_identity(
    req: &AssumeRoleWithWebIdentityRequest,
    config: &Config,
    keys: &Jwks,
    keyring: &KeyRing,
    ctx: &RequestContext,
    rng: &mut impl rand::RngCore,
) -> Result<AssumeRoleWithWebIdentityResult, StsError> {
    let prepared = prepare(req, config)?;
    assume_prepared(
        req,
        config,
        prepared,
        &PreparedJwks::new(keys),
        keyring,
        ctx,
        rng,
    )
}

/// `AssumeRoleWithWebIdentity` after [`prepare`]: steps 2 onwards with `keys`, the JWKS of
/// `prepared.provider` prepared for verification (servers keep one [`PreparedJwks`] per
/// fetched JWKS).
pub fn assume_prepared(
    req: &AssumeRoleWithWebIdentityRequest,
    config: &Config,
    prepared: Prepared<'_, '_>,
    keys: &PreparedJwks,
    keyring: &KeyRing,
    ctx: &RequestContext,
    rng: &mut impl rand::RngCore,
) -> Result<AssumeRoleWithWebIdentityResult, StsError> {
    let Prepared {
        session,
        provider,
        token,
        ..
    } = prepared;
    // 2–5. Key by kid, signature, exp (300 s skew), aud among the client ids, sub.
    let validation = Validation::new(&provider.issuer, &provider.audiences, ctx.now);
    let token = irsa_jose::verify_prepared_parsed(token, keys, &validation)?;
    // 6. The role must exist (real STS answers AccessDenied, not NoSuchEntity).
    let role = config
        .role(&req.role_arn)
        .ok_or_else(StsError::not_authorized)?;
    // 7. The trust policy, with session tags needing sts:TagSession and a source identity
    //    needing sts:SetSourceIdentity.
    let tags = session_tags(&token.claims)?;
    let source_identity = source_identity(&token.claims)?;
    let tctx = trust_context(
        provider,
        &token,
        &req.role_session_name,
        tags.as_ref(),
        source_identity.as_deref(),
        ctx,
    );
    let mut trust = TrustRequest::new(&provider.arn, &role.arn, tctx);
    check_trust(role, &mut trust, tags.as_ref(), source_identity.is_some())?;
    // 8. Session policies, policy ARNs and session tags together within the packed size
    //    (the policies alone were checked in step 0).
    let has_tags = tags
        .as_ref()
        .is_some_and(|t| !t.principal_tags.is_empty() || !t.transitive_tag_keys.is_empty());
    let packed_size = packed_size(&session, tags.as_ref().filter(|_| has_tags))?;
    // 9. DurationSeconds within the role's maximum.
    let duration = session_duration(req, role)?;
    // 10. Seal the session. A session too large for a token `credentials::open` accepts
    //     (e.g. a huge `sub`) is refused as AWS refuses a session it cannot pack.
    let expires_at = ctx.now.saturating_add(i64::from(duration));
    let (tags, transitive_tag_keys) = claim_tags(tags);
    let claims = SessionClaims {
        role_arn: role.arn.clone(),
        role_id: role.role_id.clone(),
        session_name: req.role_session_name.clone(),
        subject: token.sub,
        audience: token.audience,
        provider_arn: provider.arn.clone(),
        issued_at: ctx.now,
        expires_at,
        session_policy: session.policy.as_ref().map(|p| p.text.to_string()),
        policy_arns: req.policy_arns.clone(),
        source_identity,
        tags,
        transitive_tag_keys,
    };
    let credentials =
        credentials::issue(keyring, &claims, rng).map_err(|e| sealing_error(&e, has_tags))?;
    // The subject, audience and source identity move on from the sealed claims (no copies).
    let SessionClaims {
        subject,
        audience,
        source_identity,
        ..
    } = claims;
    Ok(AssumeRoleWithWebIdentityResult {
        credentials,
        subject_from_web_identity_token: subject,
        assumed_role_user: AssumedRoleUser {
            arn: config.assumed_role_arn(&role.name, &req.role_session_name),
            assumed_role_id: format!("{}:{}", role.role_id, req.role_session_name),
        },
        packed_policy_size: packed_size,
        provider: provider.arn.clone(),
        audience,
        source_identity,
    })
}

/// `DurationSeconds` (default one hour), within the role's maximum.
fn session_duration(req: &AssumeRoleWithWebIdentityRequest, role: &Role) -> Result<u32, StsError> {
    let duration = req.duration_seconds.unwrap_or(DEFAULT_DURATION_SECS);
    if duration > role.max_session_duration {
        return Err(StsError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .into(),
        ));
    }
    Ok(duration)
}

/// The session tags and transitive keys as the session's claims carry them.
fn claim_tags(tags: Option<SessionTags>) -> (Vec<SessionTag>, Vec<String>) {
    match tags {
        Some(t) => (
            t.principal_tags
                .into_iter()
                .map(|(key, value)| SessionTag { key, value })
                .collect(),
            t.transitive_tag_keys,
        ),
        None => (Vec::new(), Vec::new()),
    }
}

/// `PackedPolicySize`: the session policies' share, or with session `tags` the share of
/// policies and tags together (`PackedTagsTooLarge` past 100 %).
fn packed_size(
    session: &SessionPolicies,
    tags: Option<&SessionTags>,
) -> Result<Option<u32>, StsError> {
    let Some(tags) = tags else {
        return Ok(session.packed_size);
    };
    let percent = packed_percent(session.packed_len().saturating_add(tags.packed_len()));
    if percent > 100 {
        return Err(StsError::PackedTagsTooLarge { percent });
    }
    Ok(Some(percent))
}

/// The `https://aws.amazon.com/source_identity` claim: 2 to 64 of `[A-Za-z0-9_+=,.@-]`.
fn source_identity(claims: &serde_json::Map<String, Value>) -> Result<Option<String>, StsError> {
    let bad = || invalid_token("Invalid source identity in the web identity token");
    match claims.get(SOURCE_IDENTITY_CLAIM) {
        Some(Value::String(s)) => {
            let ok = (2..=64).contains(&s.len())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
            if ok { Ok(Some(s.clone())) } else { Err(bad()) }
        }
        Some(_) => Err(bad()),
        None => Ok(None),
    }
}

/// Step 7: the trust policy allows the web identity in, and also `sts:TagSession` when the
/// token carries session tags and `sts:SetSourceIdentity` when it carries a source identity.
fn check_trust(
    role: &Role,
    trust: &mut TrustRequest,
    tags: Option<&SessionTags>,
    has_source_identity: bool,
) -> Result<(), StsError> {
    let policy = &role.trust_policy;
    if !trust.allows(policy, "sts:AssumeRoleWithWebIdentity") {
        return Err(StsError::not_authorized());
    }
    if tags.is_some_and(|t| !t.principal_tags.is_empty()) && !trust.allows(policy, "sts:TagSession")
    {
        return Err(StsError::AccessDenied(
            "Not authorized to perform sts:TagSession".into(),
        ));
    }
    if has_source_identity && !trust.allows(policy, "sts:SetSourceIdentity") {
        return Err(StsError::AccessDenied(
            "Not authorized to perform sts:SetSourceIdentity".into(),
        ));
    }
    Ok(())
}

/// A session that cannot be sealed: too large for a session token is answered as AWS
/// answers a session it cannot pack (tags or policies, by what the request carried).
fn sealing_error(e: &credentials::CredError, has_tags: bool) -> StsError {
    match e {
        credentials::CredError::TokenTooLarge { len } => {
            let percent = u32::try_from(
                len.saturating_mul(100)
                    .div_ceil(credentials::MAX_SESSION_TOKEN_LEN),
            )
            .unwrap_or(u32::MAX);
            if has_tags {
                StsError::PackedTagsTooLarge { percent }
            } else {
                StsError::PackedPolicyTooLarge { percent }
            }
        }
        _ => StsError::InternalFailure,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::credentials::{Credentials, OpenedSession};
    use crate::query::{Params, Request, decode};
    use irsa_jose::{Algorithm, SigningKey};
    use rand::SeedableRng;
    use serde_json::{Map, json};
    use std::sync::OnceLock;

    pub(crate) const ISS: &str = "https://oidc.example.test/id/ABC";
    pub(crate) const ROLE: &str = "arn:aws:iam::111122223333:role/team/allow-read";
    pub(crate) const NOW: i64 = 1_700_000_000;

    pub(crate) const CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
providers:
  - issuer: https://oidc.example.test/id/ABC
    audiences: [sts.amazonaws.com]
roles:
  - name: allow-read
    path: /team/
    maxSessionDuration: 7200
    trustPolicy: |
      {"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC"},
        "Action":"sts:AssumeRoleWithWebIdentity",
        "Condition":{"StringEquals":{"oidc.example.test/id/ABC:aud":"sts.amazonaws.com",
          "oidc.example.test/id/ABC:sub":"system:serviceaccount:default:reader"}}}]}
  - name: tagged
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC}
          Action: [sts:AssumeRoleWithWebIdentity]
policies:
  - name: x
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*"}]}
"#;

    /// The session of credentials issued at `NOW`, opened with [`ring`].
    pub(crate) fn open_issued(c: &Credentials) -> OpenedSession {
        credentials::open(&ring(), &c.session_token, &c.access_key_id, NOW).unwrap()
    }

    pub(crate) fn ring() -> KeyRing {
        let mut rng = rand::rngs::StdRng::seed_from_u64(99);
        KeyRing::single(credentials::MasterKey::generate(&mut rng))
    }

    pub(crate) fn key() -> &'static SigningKey {
        static K: OnceLock<SigningKey> = OnceLock::new();
        K.get_or_init(|| SigningKey::generate(Algorithm::ES256).unwrap())
    }

    pub(crate) fn jwks() -> Jwks {
        Jwks {
            keys: vec![key().public_jwk().unwrap()],
        }
    }

    pub(crate) fn claims(sub: &str) -> Map<String, Value> {
        let v = json!({"iss": ISS, "sub": sub, "aud": ["sts.amazonaws.com"],
                       "iat": NOW - 10, "exp": NOW + 3600});
        v.as_object().unwrap().clone()
    }

    pub(crate) fn token(c: &Map<String, Value>) -> String {
        key().sign_jwt(&Map::new(), c).unwrap()
    }

    fn request(
        token: &str,
        role: &str,
        extra: &[(&str, &str)],
    ) -> AssumeRoleWithWebIdentityRequest {
        let mut p = vec![
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", role),
            ("RoleSessionName", "s1"),
            ("WebIdentityToken", token),
        ];
        p.extend_from_slice(extra);
        match decode(&Params::from_pairs(p)).unwrap() {
            Request::AssumeRoleWithWebIdentity(r) => r,
            Request::GetCallerIdentity => unreachable!(),
        }
    }

    fn run(
        req: &AssumeRoleWithWebIdentityRequest,
    ) -> Result<AssumeRoleWithWebIdentityResult, StsError> {
        let config = Config::from_yaml(CONFIG).unwrap();
        let ctx = RequestContext {
            now: NOW,
            source_ip: Some("127.0.0.1".into()),
            secure_transport: false,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assume_role_with_web_identity(req, &config, &jwks(), &ring(), &ctx, &mut rng)
    }

    const READER: &str = "system:serviceaccount:default:reader";

    #[test]
    fn success() {
        let t = token(&claims(READER));
        let r = run(&request(&t, ROLE, &[])).unwrap();
        assert_eq!(
            r.assumed_role_user.arn,
            "arn:aws:sts::111122223333:assumed-role/allow-read/s1"
        );
        assert!(r.assumed_role_user.assumed_role_id.starts_with("AROA"));
        assert!(r.assumed_role_user.assumed_role_id.ends_with(":s1"));
        assert_eq!(r.assumed_role_user.assumed_role_id.len(), 21 + 3);
        assert_eq!(
            r.provider,
            "arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC"
        );
        assert_eq!(r.audience, "sts.amazonaws.com");
        assert_eq!(r.subject_from_web_identity_token, READER);
        assert_eq!(r.credentials.expiration, NOW + 3600);
        assert_eq!(r.packed_policy_size, None);
        assert!(credentials::is_access_key_id(&r.credentials.access_key_id));
        assert_eq!(r.credentials.secret_access_key.len(), 40);
        let opened = open_issued(&r.credentials);
        assert_eq!(opened.claims.role_arn, ROLE);
        assert_eq!(opened.claims.subject, READER);
        assert_eq!(opened.claims.session_name, "s1");
    }

    fn code_and_message(
        r: Result<AssumeRoleWithWebIdentityResult, StsError>,
    ) -> (&'static str, String) {
        let e = r.unwrap_err();
        (e.code(), e.message())
    }

    #[test]
    fn unknown_issuer() {
        let mut c = claims(READER);
        c.insert("iss".into(), json!("https://elsewhere.test"));
        let (code, msg) = code_and_message(run(&request(&token(&c), ROLE, &[])));
        assert_eq!(code, "InvalidIdentityToken");
        assert_eq!(
            msg,
            "No OpenIDConnect provider found in your account for https://elsewhere.test"
        );
    }

    #[test]
    fn unknown_kid() {
        let other = SigningKey::generate(Algorithm::ES256).unwrap();
        let t = other.sign_jwt(&Map::new(), &claims(READER)).unwrap();
        let (code, msg) = code_and_message(run(&request(&t, ROLE, &[])));
        assert_eq!(code, "InvalidIdentityToken");
        assert_eq!(
            msg,
            "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
        );
    }

    #[test]
    fn bad_signature() {
        let t = token(&claims(READER));
        let mut forged = claims(READER);
        forged.insert(
            "sub".into(),
            json!("system:serviceaccount:kube-system:admin"),
        );
        let forged_t = token(&forged);
        let (h, _) = t.rsplit_once('.').unwrap();
        let (_, sig) = forged_t.rsplit_once('.').unwrap();
        let (code, _) = code_and_message(run(&request(&format!("{h}.{sig}"), ROLE, &[])));
        assert_eq!(code, "InvalidIdentityToken");
    }

    #[test]
    fn expiry_with_five_minutes_of_skew() {
        let mut c = claims(READER);
        c.insert("exp".into(), json!(NOW - 299));
        assert!(run(&request(&token(&c), ROLE, &[])).is_ok());
        c.insert("exp".into(), json!(NOW - 301));
        let (code, msg) = code_and_message(run(&request(&token(&c), ROLE, &[])));
        assert_eq!(code, "ExpiredTokenException");
        assert!(msg.starts_with("Token expired: current date/time"), "{msg}");
    }

    #[test]
    fn wrong_audience() {
        let mut c = claims(READER);
        c.insert("aud".into(), json!("someone-else"));
        assert_eq!(
            code_and_message(run(&request(&token(&c), ROLE, &[]))),
            (
                "InvalidIdentityToken",
                "Incorrect token audience".to_owned()
            )
        );
    }

    #[test]
    fn missing_role_and_trust_not_naming_subject() {
        let t = token(&claims(READER));
        let denied = (
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity".to_owned(),
        );
        let e = run(&request(&t, "arn:aws:iam::111122223333:role/nope", &[])).unwrap_err();
        assert_eq!(e.status(), 403);
        assert_eq!((e.code(), e.message()), denied);
        // The role exists under /team/: the ARN must name the path.
        assert_eq!(
            code_and_message(run(&request(
                &t,
                "arn:aws:iam::111122223333:role/allow-read",
                &[]
            ))),
            denied
        );
        let other = token(&claims("system:serviceaccount:default:writer"));
        assert_eq!(code_and_message(run(&request(&other, ROLE, &[]))), denied);
    }

    #[test]
    fn checks_run_in_order() {
        // Expired AND wrong audience AND unknown role: the expiry is reported first.
        let mut c = claims("x:y");
        c.insert("exp".into(), json!(NOW - 1000));
        c.insert("aud".into(), json!("nobody"));
        let (code, _) = code_and_message(run(&request(
            &token(&c),
            "arn:aws:iam::111122223333:role/nope",
            &[],
        )));
        assert_eq!(code, "ExpiredTokenException");
        // Malformed session policy comes before any token check.
        let (code, _) = code_and_message(run(&request("abcd", ROLE, &[("Policy", "{nope")])));
        assert_eq!(code, "MalformedPolicyDocument");
    }

    #[test]
    fn duration_against_role_maximum() {
        let t = token(&claims(READER));
        assert_eq!(
            run(&request(&t, ROLE, &[("DurationSeconds", "7200")]))
                .unwrap()
                .credentials
                .expiration,
            NOW + 7200
        );
        let (code, msg) = code_and_message(run(&request(&t, ROLE, &[("DurationSeconds", "7201")])));
        assert_eq!(code, "ValidationError");
        assert_eq!(
            msg,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        );
    }

    #[test]
    fn session_policies_and_packed_size() {
        let t = token(&claims(READER));
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let r = run(&request(
            &t,
            ROLE,
            &[
                ("Policy", p),
                (
                    "PolicyArns.member.1.arn",
                    "arn:aws:iam::111122223333:policy/x",
                ),
            ],
        ))
        .unwrap();
        let size = r.packed_policy_size.unwrap();
        assert!(size > 0 && size <= 100, "{size}");
        let (code, _) = code_and_message(run(&request(
            &t,
            ROLE,
            &[(
                "PolicyArns.member.1.arn",
                "arn:aws:iam::111122223333:policy/none",
            )],
        )));
        assert_eq!(code, "InvalidParameterValue");
    }

    #[test]
    fn prepare_parses_once_and_assume_prepared_uses_its_result() {
        let config = Config::from_yaml(CONFIG).unwrap();
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let t = token(&claims(READER));
        let req = request(&t, ROLE, &[("Policy", p)]);
        let prepared = prepare(&req, &config).unwrap();
        assert_eq!(prepared.provider.issuer, ISS);
        assert_eq!(prepared.kid.as_deref(), Some(key().kid()));
        let session_text = prepared.session.policy.as_ref().map(|v| v.text.clone());
        assert_eq!(session_text.as_deref(), Some(p));
        let size = prepared.session.packed_size;
        assert!(size.is_some());
        // The session step's result is taken from `prepared`, not recomputed from `req`:
        // dropping the policy from `prepared` drops it from the session.
        let mut without = prepare(&req, &config).unwrap();
        without.session.policy = None;
        without.session.packed_size = None;
        let ctx = RequestContext {
            now: NOW,
            source_ip: None,
            secure_transport: false,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let keys = PreparedJwks::new(&jwks());
        let r = assume_prepared(&req, &config, without, &keys, &ring(), &ctx, &mut rng).unwrap();
        assert_eq!(r.packed_policy_size, None);
        let r = assume_prepared(&req, &config, prepared, &keys, &ring(), &ctx, &mut rng).unwrap();
        assert_eq!(r.packed_policy_size, size);
        // Errors of the prepare steps, in order: session policy, then issuer.
        let bad = request(&t, ROLE, &[("Policy", "{nope")]);
        assert_eq!(
            prepare(&bad, &config).unwrap_err().code(),
            "MalformedPolicyDocument"
        );
        let mut c = claims(READER);
        c.insert("iss".into(), json!("https://elsewhere.example"));
        let other = request(&token(&c), ROLE, &[]);
        assert_eq!(
            prepare(&other, &config).unwrap_err().code(),
            "InvalidIdentityToken"
        );
    }

    fn run_tagging(
        req: &AssumeRoleWithWebIdentityRequest,
    ) -> Result<AssumeRoleWithWebIdentityResult, StsError> {
        let text = CONFIG.replace(
            "Action: [sts:AssumeRoleWithWebIdentity]",
            "Action: [sts:AssumeRoleWithWebIdentity, sts:TagSession]",
        );
        assert_ne!(text, CONFIG);
        let config = Config::from_yaml(&text).unwrap();
        let ctx = RequestContext {
            now: NOW,
            source_ip: None,
            secure_transport: true,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assume_role_with_web_identity(req, &config, &jwks(), &ring(), &ctx, &mut rng)
    }

    const TAGGED: &str = "arn:aws:iam::111122223333:role/tagged";

    fn with_tags(tags: &Map<String, Value>, transitive: &[&str]) -> String {
        let mut c = claims(READER);
        c.insert(
            TAGS_CLAIM.into(),
            json!({"principal_tags": tags, "transitive_tag_keys": transitive}),
        );
        token(&c)
    }

    /// `n` tags with maximum-size keys and values.
    fn big_tags(n: usize) -> Map<String, Value> {
        (0..n)
            .map(|i| {
                let key = format!("{i:03}{}", "k".repeat(MAX_TAG_KEY_CHARS - 3));
                (key, json!(["v".repeat(MAX_TAG_VALUE_CHARS)]))
            })
            .collect()
    }

    #[test]
    fn many_large_tags_are_packed_policy_too_large() {
        // 30 maximum-size tags: the web identity token stays under its 20,000 limit.
        let t = with_tags(&big_tags(30), &[]);
        assert!(t.len() < 20_000, "{}", t.len());
        let e = run_tagging(&request(&t, TAGGED, &[])).unwrap_err();
        assert_eq!(e.code(), "PackedPolicyTooLarge");
        assert_eq!(e.status(), 400);
        let used = 30 * (MAX_TAG_KEY_CHARS + MAX_TAG_VALUE_CHARS);
        let percent = (used * 100).div_ceil(PACKED_POLICY_LIMIT);
        assert_eq!(
            e.message(),
            format!("Packed size of session tags consumes {percent}% of allotted space.")
        );
        // Tags that fit on their own fail together with a session policy.
        let p = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
            "b".repeat(900)
        );
        let t = with_tags(&big_tags(3), &[]);
        assert!(run_tagging(&request(&t, TAGGED, &[])).is_ok());
        assert!(run_tagging(&request(&t, TAGGED, &[("Policy", &p)])).is_err());
        let (code, _) = code_and_message(run_tagging(&request(&t, TAGGED, &[("Policy", &p)])));
        assert_eq!(code, "PackedPolicyTooLarge");
        // Transitive tag keys count again.
        let tags = big_tags(5);
        let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
        assert!(run_tagging(&request(&with_tags(&tags, &[]), TAGGED, &[])).is_ok());
        let (code, _) =
            code_and_message(run_tagging(&request(&with_tags(&tags, &keys), TAGGED, &[])));
        assert_eq!(code, "PackedPolicyTooLarge");
    }

    #[test]
    fn normal_tags_work_and_count_in_packed_size() {
        let mut tags = Map::new();
        tags.insert("team".into(), json!(["platform"]));
        tags.insert("env".into(), json!("dev"));
        let r = run_tagging(&request(&with_tags(&tags, &["team"]), TAGGED, &[])).unwrap();
        // "team"+"platform" + "env"+"dev" + "team" again = 22 bytes of 2048 → 2%.
        assert_eq!(r.packed_policy_size, Some(2));
        let opened = open_issued(&r.credentials);
        assert_eq!(opened.claims.tags.len(), 2);
        assert_eq!(opened.claims.transitive_tag_keys, ["team"]);
        // With a session policy the two add up.
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let alone = run_tagging(&request(&token(&claims(READER)), TAGGED, &[("Policy", p)]))
            .unwrap()
            .packed_policy_size
            .unwrap();
        let compact = p.len();
        assert_eq!(
            alone as usize,
            (compact * 100).div_ceil(PACKED_POLICY_LIMIT)
        );
        let both = run_tagging(&request(
            &with_tags(&tags, &["team"]),
            TAGGED,
            &[("Policy", p)],
        ))
        .unwrap()
        .packed_policy_size
        .unwrap();
        assert_eq!(
            both as usize,
            ((compact + 22) * 100).div_ceil(PACKED_POLICY_LIMIT)
        );
        // Just under the limit still works: 5 maximum-size tags = 1920 bytes → 94%.
        let r = run_tagging(&request(&with_tags(&big_tags(5), &[]), TAGGED, &[])).unwrap();
        assert_eq!(r.packed_policy_size, Some(94));
    }

    #[test]
    fn tag_limits() {
        let ok =
            |tags: &Map<String, Value>| run_tagging(&request(&with_tags(tags, &[]), TAGGED, &[]));
        let small = |n: usize| -> Map<String, Value> {
            (0..n).map(|i| (format!("k{i}"), json!("v"))).collect()
        };
        assert!(ok(&small(MAX_SESSION_TAGS)).is_ok());
        assert_eq!(
            ok(&small(MAX_SESSION_TAGS + 1)).unwrap_err().code(),
            "InvalidIdentityToken"
        );
        let mut t = Map::new();
        t.insert(
            "k".repeat(MAX_TAG_KEY_CHARS),
            json!("v".repeat(MAX_TAG_VALUE_CHARS)),
        );
        assert!(ok(&t).is_ok());
        // Limits count characters, not bytes.
        let mut t = Map::new();
        t.insert(
            "é".repeat(MAX_TAG_KEY_CHARS),
            json!("ü".repeat(MAX_TAG_VALUE_CHARS)),
        );
        assert!(ok(&t).is_ok());
        for (k, v) in [
            ("k".repeat(MAX_TAG_KEY_CHARS + 1), "v".to_owned()),
            ("k".to_owned(), "v".repeat(MAX_TAG_VALUE_CHARS + 1)),
        ] {
            let mut t = Map::new();
            t.insert(k, json!(v));
            assert_eq!(ok(&t).unwrap_err().code(), "InvalidIdentityToken");
        }
    }

    #[test]
    fn a_session_too_large_for_a_token_is_refused_not_issued() {
        // Within the packed size, but a huge `sub` would make a session token that
        // `credentials::open` rejects: PackedPolicyTooLarge, no credentials.
        let mut c = claims(&"s".repeat(13_000));
        c.insert(TAGS_CLAIM.into(), json!({"principal_tags": {"team": "a"}}));
        let t = token(&c);
        assert!(t.len() < 20_000, "{}", t.len());
        let e = run_tagging(&request(&t, TAGGED, &[])).unwrap_err();
        assert_eq!(e.code(), "PackedPolicyTooLarge");
        assert_eq!(e.status(), 400);
        let c = claims(&"s".repeat(13_000));
        let e = run_tagging(&request(&token(&c), TAGGED, &[])).unwrap_err();
        assert_eq!(e.code(), "PackedPolicyTooLarge");
        assert!(
            e.message().starts_with("Packed policy consumes 1"),
            "{}",
            e.message()
        );
        // A large but fitting `sub` still works and its token opens.
        let c = claims(&"s".repeat(8_000));
        let r = run_tagging(&request(&token(&c), TAGGED, &[])).unwrap();
        assert!(r.credentials.session_token.len() <= credentials::MAX_SESSION_TOKEN_LEN);
        open_issued(&r.credentials);
    }

    #[test]
    fn session_tags_need_tag_session() {
        let tagged = "arn:aws:iam::111122223333:role/tagged";
        let mut c = claims(READER);
        assert!(run(&request(&token(&c), tagged, &[])).is_ok());
        c.insert(
            TAGS_CLAIM.into(),
            json!({"principal_tags": {"team": ["a"]}, "transitive_tag_keys": ["team"]}),
        );
        let (code, msg) = code_and_message(run(&request(&token(&c), tagged, &[])));
        assert_eq!(code, "AccessDenied");
        assert_eq!(msg, "Not authorized to perform sts:TagSession");
    }
}
