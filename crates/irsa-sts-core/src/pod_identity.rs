//! The EKS Auth API's `AssumeRoleForPodIdentity` as pure functions: the REST-JSON request
//! decoded from its path and body, the caller (the node agent) authenticated by SigV4 with
//! irsa session credentials and authorized for `eks-auth:AssumeRoleForPodIdentity` on the
//! cluster, the projected ServiceAccount token verified against the cluster's issuer
//! (audience `pods.eks.amazonaws.com`), the pod identity association found for the token's
//! namespace and ServiceAccount, the role's trust policy evaluated as AWS evaluates it for
//! the `pods.eks.amazonaws.com` service principal (`sts:AssumeRole` and `sts:TagSession`),
//! and credentials issued carrying EKS's session tags.
//!
//! Errors are [`EksAuthError`], the one owner of the EKS Auth JSON error form (code, HTTP
//! status, message).

use crate::config::{Config, Role};
use crate::credentials::{self, CredError, KeyRing, SessionClaims, SessionTag};
use crate::policy::{Ctx, TrustRequest};
use irsa_jose::{JoseError, ParsedToken, PreparedJwks, Validation};
use irsa_sigv4::{ErrorKind, VerifyError, VerifyOptions};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// The audience of a pod identity token.
pub const POD_IDENTITY_AUDIENCE: &str = "pods.eks.amazonaws.com";
/// The service principal EKS Pod Identity assumes roles as.
pub(crate) const SERVICE_PRINCIPAL: &str = "pods.eks.amazonaws.com";
/// The IAM action the caller needs on the cluster.
pub(crate) const ACTION: &str = "eks-auth:AssumeRoleForPodIdentity";
/// The SigV4 signing name of the EKS Auth API.
pub(crate) const SIGNING_NAME: &str = "eks-auth";
/// Longest accepted ServiceAccount token (characters), as STS bounds web identity tokens.
pub(crate) const MAX_TOKEN_LEN: usize = 20_000;
/// Session length: six hours, or the role's maximum session duration when shorter.
pub(crate) const SESSION_SECS: u32 = 6 * 3600;
/// The session tag keys EKS Pod Identity sets, in the order it documents them.
pub(crate) const TAG_KEYS: [&str; 6] = [
    "eks-cluster-arn",
    "eks-cluster-name",
    "kubernetes-namespace",
    "kubernetes-service-account",
    "kubernetes-pod-name",
    "kubernetes-pod-uid",
];

/// An EKS Auth API error: the code (`x-amzn-ErrorType` and `__type`), the HTTP status of
/// the service model, and the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EksAuthError {
    /// `InvalidTokenException` (400): the ServiceAccount token does not verify.
    #[error("{0}")]
    InvalidToken(String),
    /// `ExpiredTokenException` (400): the ServiceAccount token is past its `exp`.
    #[error("{0}")]
    ExpiredToken(String),
    /// `AccessDeniedException` (400): the caller may not call the API on the cluster, or
    /// the role does not trust `pods.eks.amazonaws.com`.
    #[error("{0}")]
    AccessDenied(String),
    /// `ResourceNotFoundException` (404): no such cluster, or no association.
    #[error("{0}")]
    ResourceNotFound(String),
    /// `InvalidParameterException` (400): a parameter breaks its constraints.
    #[error("{0}")]
    InvalidParameter(String),
    /// `InvalidRequestException` (400): the request cannot be read.
    #[error("{0}")]
    InvalidRequest(String),
    /// `ThrottlingException` (429).
    #[error("Rate exceeded")]
    Throttling,
    /// `InternalServerException` (500).
    #[error("An internal error occurred")]
    InternalServer,
    /// `ServiceUnavailableException` (503).
    #[error("Service is unable to handle request.")]
    ServiceUnavailable,
    /// `MissingAuthenticationTokenException` (403): the request is not signed.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// `UnrecognizedClientException` (403): the access key or session token is not ours.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// `ExpiredTokenException` (403): the caller's session credentials expired.
    #[error("The security token included in the request is expired")]
    ExpiredCallerToken,
    /// `InvalidSignatureException` (403): the signature does not verify or the request is
    /// outside the allowed clock skew.
    #[error("{0}")]
    InvalidSignature(String),
    /// `IncompleteSignatureException` (403): the Authorization header is malformed.
    #[error("{0}")]
    IncompleteSignature(String),
    /// `UnknownOperationException` (404): no operation at this method and path.
    #[error("Unknown operation")]
    UnknownOperation,
}

impl EksAuthError {
    /// `ResourceNotFoundException` for a cluster not configured.
    pub fn no_cluster(name: &str) -> Self {
        Self::ResourceNotFound(format!("No cluster found for name: {name}."))
    }

    /// The error code, as `x-amzn-ErrorType` and the body's `__type` carry it.
    pub fn code(&self) -> &'static str {
        match self {
            EksAuthError::InvalidToken(_) => "InvalidTokenException",
            EksAuthError::ExpiredToken(_) | EksAuthError::ExpiredCallerToken => {
                "ExpiredTokenException"
            }
            EksAuthError::AccessDenied(_) => "AccessDeniedException",
            EksAuthError::ResourceNotFound(_) => "ResourceNotFoundException",
            EksAuthError::InvalidParameter(_) => "InvalidParameterException",
            EksAuthError::InvalidRequest(_) => "InvalidRequestException",
            EksAuthError::Throttling => "ThrottlingException",
            EksAuthError::InternalServer => "InternalServerException",
            EksAuthError::ServiceUnavailable => "ServiceUnavailableException",
            EksAuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            EksAuthError::UnrecognizedClient => "UnrecognizedClientException",
            EksAuthError::InvalidSignature(_) => "InvalidSignatureException",
            EksAuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            EksAuthError::UnknownOperation => "UnknownOperationException",
        }
    }

    /// The HTTP status (the service model's `httpStatusCode`).
    pub fn status(&self) -> u16 {
        match self {
            EksAuthError::ResourceNotFound(_) | EksAuthError::UnknownOperation => 404,
            EksAuthError::Throttling => 429,
            EksAuthError::InternalServer => 500,
            EksAuthError::ServiceUnavailable => 503,
            EksAuthError::MissingAuthenticationToken
            | EksAuthError::UnrecognizedClient
            | EksAuthError::ExpiredCallerToken
            | EksAuthError::InvalidSignature(_)
            | EksAuthError::IncompleteSignature(_) => 403,
            _ => 400,
        }
    }

    /// The message.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The JSON body: `{"__type": code, "message": message}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({"__type": self.code(), "message": self.message()}).to_string()
    }
}

impl From<&JoseError> for EksAuthError {
    fn from(e: &JoseError) -> EksAuthError {
        match e {
            JoseError::Expired { .. } => EksAuthError::ExpiredToken(e.to_string()),
            JoseError::IdpCommunication { .. } => EksAuthError::ServiceUnavailable,
            _ => EksAuthError::InvalidToken(e.to_string()),
        }
    }
}

impl From<&VerifyError> for EksAuthError {
    fn from(e: &VerifyError) -> EksAuthError {
        match e.kind() {
            ErrorKind::MissingAuthenticationToken => EksAuthError::MissingAuthenticationToken,
            ErrorKind::IncompleteSignature => EksAuthError::IncompleteSignature(e.to_string()),
            ErrorKind::InvalidClientTokenId => EksAuthError::UnrecognizedClient,
            _ => EksAuthError::InvalidSignature(e.to_string()),
        }
    }
}

impl From<&CredError> for EksAuthError {
    fn from(e: &CredError) -> EksAuthError {
        match e {
            CredError::Expired { .. } => EksAuthError::ExpiredCallerToken,
            _ => EksAuthError::UnrecognizedClient,
        }
    }
}

// ------------------------------------------------------------------ configuration

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawCluster {
    name: String,
    issuer: String,
    #[serde(default)]
    jwks_file: Option<std::path::PathBuf>,
    #[serde(default)]
    ca_file: Option<std::path::PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawAssociation {
    cluster: String,
    namespace: String,
    service_account: String,
    role_arn: String,
    #[serde(default)]
    association_id: Option<String>,
}

/// A cluster whose pods may get credentials: its name, ARN and token issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The cluster name (`[0-9A-Za-z][A-Za-z0-9-_]*`, at most 100 characters).
    pub name: String,
    /// `arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME`
    pub arn: String,
    /// The issuer of the cluster's ServiceAccount tokens (exact `iss`).
    pub issuer: String,
    /// Keys from this file instead of discovery.
    pub jwks_file: Option<std::path::PathBuf>,
    /// CA bundle for the issuer's TLS.
    pub ca_file: Option<std::path::PathBuf>,
}

/// A pod identity association: (cluster, namespace, ServiceAccount) → role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// The cluster's name.
    pub cluster: String,
    /// The namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// The role (one of the configured roles).
    pub role_arn: String,
    /// `a-` + 17 characters of `[a-z0-9]`.
    pub id: String,
    /// `arn:PARTITION:eks:REGION:ACCOUNT:podidentityassociation/CLUSTER/ID`
    pub arn: String,
}

fn field_err(field: String, reason: String) -> crate::config::ConfigError {
    crate::config::ConfigError::Field { field, reason }
}

/// Whether `s` is a cluster name as the API accepts it.
pub fn is_cluster_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    (1..=100).contains(&s.len())
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A DNS-1123 label (namespaces): at most 63 of `[a-z0-9-]`, alphanumeric at both ends.
fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain (ServiceAccount and pod names): at most 253, labels joined by `.`.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && is_dns_label(l))
}

fn association_id(cluster: &str, namespace: &str, sa: &str) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{cluster}\n{namespace}\n{sa}").as_bytes(),
    );
    let mut acc: u128 = 0;
    for b in digest.as_ref().iter().take(11) {
        acc = (acc << 8) | u128::from(*b);
    }
    let mut id = String::from("a-");
    for i in 0..17 {
        let idx = usize::try_from((acc >> (i * 5)) & 31).unwrap_or(0);
        id.push(char::from(*ALPHABET.get(idx).unwrap_or(&b'a')));
    }
    id
}

/// `clusters:` and `podIdentityAssociations:` validated against the roles.
pub(crate) fn validate(
    raw_clusters: Vec<RawCluster>,
    raw_associations: Vec<RawAssociation>,
    scope: (&str, &str, &str),
    roles: &std::collections::BTreeMap<String, Role>,
    allow_http: bool,
) -> Result<(Vec<Cluster>, Vec<Association>), crate::config::ConfigError> {
    let mut clusters: Vec<Cluster> = Vec::new();
    for (i, c) in raw_clusters.into_iter().enumerate() {
        let cluster = validate_cluster(c, &format!("clusters[{i}]"), &clusters, scope, allow_http)?;
        clusters.push(cluster);
    }
    let mut associations: Vec<Association> = Vec::new();
    for (i, a) in raw_associations.into_iter().enumerate() {
        let f = format!("podIdentityAssociations[{i}]");
        let association = validate_association(a, &f, &clusters, &associations, scope, roles)?;
        associations.push(association);
    }
    Ok((clusters, associations))
}

/// One `clusters[i]` entry (`f`), given the clusters before it.
fn validate_cluster(
    c: RawCluster,
    f: &str,
    before: &[Cluster],
    (partition, account, region): (&str, &str, &str),
    allow_http: bool,
) -> Result<Cluster, crate::config::ConfigError> {
    if !is_cluster_name(&c.name) {
        return Err(field_err(
            format!("{f}.name"),
            format!(
                "`{}` must be 1 to 100 characters of letters, digits, - and _, starting with a letter or digit",
                c.name
            ),
        ));
    }
    if before.iter().any(|o| o.name == c.name) {
        return Err(field_err(
            format!("{f}.name"),
            format!("`{}` is defined twice", c.name),
        ));
    }
    let scheme_ok =
        c.issuer.starts_with("https://") || (allow_http && c.issuer.starts_with("http://"));
    if !scheme_ok || c.issuer.len() > 255 || c.issuer.contains(['?', '#', ' ']) {
        return Err(field_err(
            format!("{f}.issuer"),
            format!(
                "`{}` is not an issuer url (https://, no query, at most 255 characters; plain http needs --insecure-allow-http-issuer)",
                c.issuer
            ),
        ));
    }
    Ok(Cluster {
        arn: format!("arn:{partition}:eks:{region}:{account}:cluster/{}", c.name),
        name: c.name,
        issuer: c.issuer,
        jwks_file: c.jwks_file,
        ca_file: c.ca_file,
    })
}

/// One `podIdentityAssociations[i]` entry (`f`), given the clusters and the associations
/// before it.
fn validate_association(
    a: RawAssociation,
    f: &str,
    clusters: &[Cluster],
    before: &[Association],
    (partition, account, region): (&str, &str, &str),
    roles: &std::collections::BTreeMap<String, Role>,
) -> Result<Association, crate::config::ConfigError> {
    if !clusters.iter().any(|c| c.name == a.cluster) {
        return Err(field_err(
            format!("{f}.cluster"),
            format!("`{}` is not one of the configured clusters", a.cluster),
        ));
    }
    if !is_dns_label(&a.namespace) {
        return Err(field_err(
            format!("{f}.namespace"),
            format!("`{}` is not a namespace name", a.namespace),
        ));
    }
    if !is_dns_subdomain(&a.service_account) {
        return Err(field_err(
            format!("{f}.serviceAccount"),
            format!("`{}` is not a ServiceAccount name", a.service_account),
        ));
    }
    if !roles.contains_key(&a.role_arn) {
        return Err(field_err(
            format!("{f}.roleArn"),
            format!("`{}` is not one of the configured roles", a.role_arn),
        ));
    }
    if before.iter().any(|o| {
        o.cluster == a.cluster
            && o.namespace == a.namespace
            && o.service_account == a.service_account
    }) {
        return Err(field_err(
            f.to_owned(),
            format!(
                "ServiceAccount `{}` in namespace `{}` of cluster `{}` is associated twice",
                a.service_account, a.namespace, a.cluster
            ),
        ));
    }
    let id = match a.association_id {
        Some(id) => {
            let ok = id.len() == 19
                && id.starts_with("a-")
                && id
                    .bytes()
                    .skip(2)
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !ok {
                return Err(field_err(
                    format!("{f}.associationId"),
                    format!("`{id}` must be a- followed by 17 lower-case letters or digits"),
                ));
            }
            id
        }
        None => association_id(&a.cluster, &a.namespace, &a.service_account),
    };
    Ok(Association {
        arn: format!(
            "arn:{partition}:eks:{region}:{account}:podidentityassociation/{}/{id}",
            a.cluster
        ),
        id,
        cluster: a.cluster,
        namespace: a.namespace,
        service_account: a.service_account,
        role_arn: a.role_arn,
    })
}

impl Config {
    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The association of a ServiceAccount in a cluster.
    pub fn association(&self, cluster: &str, namespace: &str, sa: &str) -> Option<&Association> {
        self.pod_identity_associations
            .iter()
            .find(|a| a.cluster == cluster && a.namespace == namespace && a.service_account == sa)
    }
}

// ------------------------------------------------------------------ request

/// A decoded `AssumeRoleForPodIdentity` request. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// `clusterName` from the path.
    pub cluster_name: String,
    /// The ServiceAccount token from the body.
    pub token: String,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("cluster_name", &self.cluster_name)
            .finish_non_exhaustive()
    }
}

const PATH_PREFIX: &str = "/clusters/";
const PATH_SUFFIX: &str = "/assume-role-for-pod-identity";

/// The JWT shape of the model (`[A-Za-z0-9-_=]+` three times, joined by `.`).
fn is_jwt_shape(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    token: Option<std::borrow::Cow<'a, str>>,
}

/// Decodes `method path` and the JSON body. The path's cluster name is one path segment;
/// percent-encoding is decoded (a name holds no character that needs it, so any encoded
/// byte is refused as a name outside the pattern). Unknown body members are ignored, as
/// the service ignores them.
pub fn decode(method: &str, path: &str, body: &[u8]) -> Result<Request, EksAuthError> {
    let name = path
        .strip_prefix(PATH_PREFIX)
        .and_then(|p| p.strip_suffix(PATH_SUFFIX))
        .ok_or(EksAuthError::UnknownOperation)?;
    if method != "POST" {
        return Err(EksAuthError::UnknownOperation);
    }
    if name.contains('/') || name.is_empty() {
        return Err(EksAuthError::UnknownOperation);
    }
    if !is_cluster_name(name) {
        return Err(EksAuthError::InvalidParameter(format!(
            "1 validation error detected: Value '{}' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z][A-Za-z0-9\\-_]*",
            name.chars().take(128).collect::<String>()
        )));
    }
    let body: Body<'_> = if body.iter().all(u8::is_ascii_whitespace) {
        Body { token: None }
    } else {
        serde_json::from_slice(body)
            .map_err(|_| EksAuthError::InvalidRequest("Request body is not valid JSON".into()))?
    };
    let token = body.token.ok_or_else(|| {
        EksAuthError::InvalidParameter(
            "1 validation error detected: Value null at 'token' failed to satisfy constraint: Member must not be null".into(),
        )
    })?;
    if token.len() > MAX_TOKEN_LEN || !is_jwt_shape(&token) {
        return Err(EksAuthError::InvalidParameter(
            "1 validation error detected: Value at 'token' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9-_=]+\\.[A-Za-z0-9-_=]+\\.[A-Za-z0-9-_=]+".into(),
        ));
    }
    Ok(Request {
        cluster_name: name.to_owned(),
        token: token.into_owned(),
    })
}

// ------------------------------------------------------------------ the caller

/// The authenticated caller of the API: an irsa role session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION`.
    pub arn: String,
    /// The role ARN of the session.
    pub role_arn: String,
}

/// Authenticates the caller: a SigV4 signature (service `eks-auth`, the configured
/// region) by irsa session credentials (an `ASIA` key id with a session token that opens
/// with `keyring`); then authorizes `eks-auth:AssumeRoleForPodIdentity` on the cluster's
/// ARN against the session role's permission policies and the session's own policies.
pub fn authenticate(
    http: &irsa_sigv4::Request<'_>,
    cluster_name: &str,
    config: &Config,
    keyring: &KeyRing,
    now: i64,
) -> Result<Caller, EksAuthError> {
    let parsed = irsa_sigv4::parse(http, &VerifyOptions::for_service(SIGNING_NAME))
        .map_err(|e| EksAuthError::from(&e))?;
    parsed.check_time(now).map_err(|e| EksAuthError::from(&e))?;
    if parsed.region() != config.region {
        return Err(EksAuthError::InvalidSignature(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            parsed.region()
        )));
    }
    let akid = parsed.access_key_id();
    let token = parsed
        .security_token()
        .ok_or(EksAuthError::UnrecognizedClient)?;
    if !credentials::is_access_key_id(akid) {
        return Err(EksAuthError::UnrecognizedClient);
    }
    let session =
        credentials::open(keyring, token, akid, now).map_err(|e| EksAuthError::from(&e))?;
    let secret =
        credentials::secret_for(keyring, akid, &session).map_err(|e| EksAuthError::from(&e))?;
    parsed
        .verify(&secret, now)
        .map_err(|e| EksAuthError::from(&e))?;
    let claims = &session.claims;
    let caller_arn = match claims.role_arn.rsplit('/').next() {
        Some(name) => config.assumed_role_arn(name, &claims.session_name),
        None => return Err(EksAuthError::UnrecognizedClient),
    };
    let cluster_arn = format!(
        "arn:{}:eks:{}:{}:cluster/{cluster_name}",
        config.partition, config.region, config.account
    );
    if !caller_may_call(config, claims, &caller_arn, &cluster_arn, now) {
        return Err(EksAuthError::AccessDenied(format!(
            "User: {caller_arn} is not authorized to perform: {ACTION} on resource: {cluster_arn}"
        )));
    }
    Ok(Caller {
        arn: caller_arn,
        role_arn: claims.role_arn.clone(),
    })
}

/// The role's policies (inline and managed) ∩ the session's policies allow the action.
/// A role no longer configured, or a session policy that no longer parses: denied.
fn caller_may_call(
    config: &Config,
    claims: &SessionClaims,
    caller_arn: &str,
    cluster_arn: &str,
    now: i64,
) -> bool {
    let Some(role) = config.role(&claims.role_arn) else {
        return false;
    };
    let mut identity: Vec<irsa_policy::Policy> = role
        .policies
        .values()
        .map(|p| (*p.policy).clone())
        .collect();
    for arn in &role.managed_policies {
        match config.policies.get(arn) {
            Some(m) => identity.push((*m.document.policy).clone()),
            None => return false,
        }
    }
    let mut session: Vec<irsa_policy::Policy> = Vec::new();
    if let Some(text) = &claims.session_policy {
        match crate::policy::parse(text, irsa_policy::PolicyKind::Session) {
            Ok(p) => session.push((*p.policy).clone()),
            Err(_) => return false,
        }
    }
    for arn in &claims.policy_arns {
        match config.policies.get(arn) {
            Some(m) => session.push((*m.document.policy).clone()),
            None => return false,
        }
    }
    let mut ctx = Ctx::new();
    ctx.insert("aws:PrincipalArn", claims.role_arn.as_str())
        .insert("aws:PrincipalAccount", config.account.as_str())
        .insert("aws:PrincipalType", "AssumedRole")
        .insert(
            "aws:userid",
            format!("{}:{}", claims.role_id, claims.session_name),
        )
        .insert("aws:CurrentTime", crate::xml::iso8601(now))
        .insert("aws:EpochTime", now.to_string())
        .insert("aws:RequestedRegion", config.region.as_str())
        .insert("aws:SecureTransport", "false");
    for t in &claims.tags {
        ctx.insert(format!("aws:PrincipalTag/{}", t.key), t.value.as_str());
    }
    let req = irsa_policy::Request::new(ACTION, cluster_arn)
        .with_principal(caller_arn)
        .with_principal_type(irsa_policy::PrincipalType::Aws)
        .with_context(ctx);
    let input = irsa_policy::EvalInput {
        identity_policies: &identity,
        session_policies: &session,
        ..Default::default()
    };
    irsa_policy::evaluate(&input, &req).is_allowed()
}

// ------------------------------------------------------------------ the token

/// The `kubernetes.io` claims of a pod's projected ServiceAccount token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodClaims {
    /// `kubernetes.io.namespace`.
    pub namespace: String,
    /// `kubernetes.io.serviceaccount.name`.
    pub service_account: String,
    /// `kubernetes.io.pod.name`.
    pub pod_name: String,
    /// `kubernetes.io.pod.uid`.
    pub pod_uid: String,
}

fn invalid(msg: &str) -> EksAuthError {
    EksAuthError::InvalidToken(msg.to_owned())
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Reads the pod-bound claims and checks them against `sub`: the token must name a
/// namespace, a ServiceAccount and a pod (name and uid), each a valid Kubernetes name,
/// and `sub` must be `system:serviceaccount:NAMESPACE:NAME` of the same ServiceAccount.
pub fn pod_claims(claims: &serde_json::Map<String, Value>) -> Result<PodClaims, EksAuthError> {
    let k8s = claims
        .get("kubernetes.io")
        .ok_or_else(|| invalid("Token does not carry kubernetes.io claims"))?;
    let namespace = str_at(k8s, &["namespace"]).unwrap_or_default();
    let service_account = str_at(k8s, &["serviceaccount", "name"]).unwrap_or_default();
    let pod_name = str_at(k8s, &["pod", "name"]).unwrap_or_default();
    let pod_uid = str_at(k8s, &["pod", "uid"]).unwrap_or_default();
    if !is_dns_label(namespace) || !is_dns_subdomain(service_account) {
        return Err(invalid(
            "Token does not name a valid namespace and service account",
        ));
    }
    if !is_dns_subdomain(pod_name)
        || pod_uid.is_empty()
        || pod_uid.len() > 64
        || !pod_uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid("Token is not bound to a pod"));
    }
    let want = format!("system:serviceaccount:{namespace}:{service_account}");
    match claims.get("sub") {
        Some(Value::String(s)) if *s == want => {}
        _ => {
            return Err(invalid(
                "Token subject does not match its kubernetes.io claims",
            ));
        }
    }
    Ok(PodClaims {
        namespace: namespace.to_owned(),
        service_account: service_account.to_owned(),
        pod_name: pod_name.to_owned(),
        pod_uid: pod_uid.to_owned(),
    })
}

/// The token parsed (unverified) to pick the cluster's key by `kid`. Malformed tokens are
/// `InvalidTokenException`.
pub fn parse_token(token: &str) -> Result<ParsedToken<'_>, EksAuthError> {
    irsa_jose::parse_token(token).map_err(|e| EksAuthError::from(&e))
}

// ------------------------------------------------------------------ the result

/// A successful `AssumeRoleForPodIdentity`.
#[derive(Debug, Clone)]
pub struct Response {
    /// The token's namespace and ServiceAccount.
    pub subject: PodClaims,
    /// Always `pods.eks.amazonaws.com`.
    pub audience: String,
    /// The association's ARN.
    pub association_arn: String,
    /// The association's id.
    pub association_id: String,
    /// `arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub assumed_role_arn: String,
    /// `ROLEID:SESSION`.
    pub assumed_role_id: String,
    /// The credentials.
    pub credentials: credentials::Credentials,
}

impl Response {
    /// The REST-JSON response body (`expiration` in epoch seconds, the protocol's default
    /// timestamp format).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "subject": {
                "namespace": self.subject.namespace,
                "serviceAccount": self.subject.service_account,
            },
            "audience": self.audience,
            "podIdentityAssociation": {
                "associationArn": self.association_arn,
                "associationId": self.association_id,
            },
            "assumedRoleUser": {
                "arn": self.assumed_role_arn,
                "assumeRoleId": self.assumed_role_id,
            },
            "credentials": {
                "sessionToken": self.credentials.session_token,
                "secretAccessKey": self.credentials.secret_access_key,
                "accessKeyId": self.credentials.access_key_id,
                "expiration": self.credentials.expiration,
            },
        })
        .to_string()
    }
}

/// The session tags EKS sets for a pod.
pub(crate) fn session_tags(cluster: &Cluster, pod: &PodClaims) -> Vec<SessionTag> {
    let values = [
        cluster.arn.as_str(),
        cluster.name.as_str(),
        pod.namespace.as_str(),
        pod.service_account.as_str(),
        pod.pod_name.as_str(),
        pod.pod_uid.as_str(),
    ];
    TAG_KEYS
        .iter()
        .zip(values)
        .map(|(k, v)| SessionTag {
            key: (*k).to_owned(),
            value: v.to_owned(),
        })
        .collect()
}

/// The role session name: `eks-CLUSTER-POD-UUID`, cut to STS's 64 characters.
fn session_name(cluster: &str, pod: &str, rng: &mut impl rand::RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    // Pod names may hold dots; everything else of the name is [A-Za-z0-9-_].
    let mut s = format!("eks-{cluster}-{pod}-{uuid}");
    s.truncate(64);
    s
}

/// `AssumeRoleForPodIdentity` after [`authenticate`]: `keys` are the cluster's issuer keys
/// (the caller fetched them for the token's `kid`). Steps, in order: the cluster exists
/// (`ResourceNotFoundException`), the token verifies (signature, `iss` = the cluster's
/// issuer, `aud` ∋ `pods.eks.amazonaws.com`, `exp` with 5 minutes of skew), its claims
/// name a pod of a ServiceAccount matching `sub` (`InvalidTokenException`), an
/// association exists (`ResourceNotFoundException`), the role's trust policy allows
/// `sts:AssumeRole` and `sts:TagSession` for the service principal with the session tags
/// as request tags (`AccessDeniedException`), then credentials are sealed.
pub fn assume(
    req: &Request,
    token: ParsedToken<'_>,
    config: &Config,
    keys: &PreparedJwks,
    keyring: &KeyRing,
    now: i64,
    rng: &mut impl rand::RngCore,
) -> Result<Response, EksAuthError> {
    let cluster = config
        .cluster(&req.cluster_name)
        .ok_or_else(|| EksAuthError::no_cluster(&req.cluster_name))?;
    let audiences = [POD_IDENTITY_AUDIENCE.to_owned()];
    let validation = Validation::new(&cluster.issuer, &audiences, now);
    let verified = irsa_jose::verify_prepared_parsed(token, keys, &validation)
        .map_err(|e| EksAuthError::from(&e))?;
    let pod = pod_claims(&verified.claims)?;
    let assoc = config
        .association(&cluster.name, &pod.namespace, &pod.service_account)
        .ok_or_else(|| {
            EksAuthError::ResourceNotFound(format!(
                "No pod identity association found for service account {} in namespace {} of cluster {}",
                pod.service_account, pod.namespace, cluster.name
            ))
        })?;
    let role = config
        .role(&assoc.role_arn)
        .ok_or(EksAuthError::InternalServer)?;
    let tags = session_tags(cluster, &pod);
    let name = session_name(&cluster.name, &pod.pod_name, rng);
    check_trust(role, &tags, &name, now)?;
    let duration = SESSION_SECS.min(role.max_session_duration);
    let claims = SessionClaims {
        role_arn: role.arn.clone(),
        role_id: role.role_id.clone(),
        session_name: name.clone(),
        subject: verified.sub.clone(),
        audience: POD_IDENTITY_AUDIENCE.to_owned(),
        // Not a federated session: no OIDC provider.
        provider_arn: String::new(),
        issued_at: now,
        expires_at: now.saturating_add(i64::from(duration)),
        session_policy: None,
        policy_arns: Vec::new(),
        source_identity: None,
        tags,
        transitive_tag_keys: Vec::new(),
    };
    let credentials =
        credentials::issue(keyring, &claims, rng).map_err(|_| EksAuthError::InternalServer)?;
    Ok(Response {
        subject: pod,
        audience: POD_IDENTITY_AUDIENCE.to_owned(),
        association_arn: assoc.arn.clone(),
        association_id: assoc.id.clone(),
        assumed_role_arn: config.assumed_role_arn(&role.name, &name),
        assumed_role_id: format!("{}:{name}", role.role_id),
        credentials,
    })
}

/// The role's trust policy for the service principal: `sts:AssumeRole` and
/// `sts:TagSession`, with the session's tags, name and time.
fn check_trust(role: &Role, tags: &[SessionTag], name: &str, now: i64) -> Result<(), EksAuthError> {
    let mut ctx = Ctx::new();
    for t in tags {
        ctx.insert(format!("aws:RequestTag/{}", t.key), t.value.as_str());
    }
    ctx.insert_multi("aws:TagKeys", TAG_KEYS.iter().map(|k| (*k).to_owned()));
    ctx.insert("sts:RoleSessionName", name)
        .insert("aws:CurrentTime", crate::xml::iso8601(now))
        .insert("aws:EpochTime", now.to_string())
        .insert("aws:PrincipalServiceName", SERVICE_PRINCIPAL)
        .insert("aws:SecureTransport", "true");
    let mut trust = TrustRequest::of(
        irsa_policy::PrincipalType::Service,
        SERVICE_PRINCIPAL,
        &role.arn,
        ctx,
    );
    for action in ["sts:AssumeRole", "sts:TagSession"] {
        if !trust.allows(&role.trust_policy, action) {
            return Err(EksAuthError::AccessDenied(format!(
                "Unauthorized to perform {action} on role {} for {SERVICE_PRINCIPAL}",
                role.arn
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assume::tests::{NOW, jwks, key, open_issued, ring};
    use crate::credentials::Credentials;
    use crate::credentials::tests::sdk_signed;
    use irsa_jose::{Algorithm, SigningKey};
    use rand::SeedableRng;
    use serde_json::{Map, json};

    const CLUSTER_ISS: &str = "https://oidc.eks.example.test/id/CLUSTER";
    const CLUSTER_ARN: &str = "arn:aws:eks:us-east-1:111122223333:cluster/dev";

    fn config_with(trust: &str) -> String {
        format!(
            r#"
account: "111122223333"
region: us-east-1
clusters:
  - name: dev
    issuer: {CLUSTER_ISS}
roles:
  - name: app
    trustPolicy: {trust}
    policies:
      read: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "dynamodb:GetItem", Resource: "*"}}]}}
  - name: node
    trustPolicy: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Principal: {{Federated: "arn:aws:iam::111122223333:oidc-provider/x"}}, Action: sts:AssumeRoleWithWebIdentity}}]}}
    policies:
      agent: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "eks-auth:AssumeRoleForPodIdentity", Resource: "{CLUSTER_ARN}"}}]}}
  - name: other
    trustPolicy: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Principal: {{Federated: "arn:aws:iam::111122223333:oidc-provider/x"}}, Action: sts:AssumeRoleWithWebIdentity}}]}}
    policies:
      none: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "eks:DescribeCluster", Resource: "*"}}]}}
podIdentityAssociations:
  - cluster: dev
    namespace: default
    serviceAccount: reader
    roleArn: arn:aws:iam::111122223333:role/app
"#
        )
    }

    const TRUST: &str = r#"'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}'"#;

    fn config() -> Config {
        Config::from_yaml(&config_with(TRUST)).unwrap()
    }

    fn claims() -> Map<String, Value> {
        json!({
            "iss": CLUSTER_ISS, "sub": "system:serviceaccount:default:reader",
            "aud": ["pods.eks.amazonaws.com"], "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 3600,
            "kubernetes.io": {
                "namespace": "default",
                "serviceaccount": {"name": "reader", "uid": "3d1c0a55-0000-4000-8000-000000000001"},
                "pod": {"name": "web-7d9f8-abcde", "uid": "8f2a1b3c-0000-4000-8000-000000000002"}
            }
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn sign(c: &Map<String, Value>) -> String {
        key().sign_jwt(&Map::new(), c).unwrap()
    }

    fn run_with(config: &Config, token: &str, cluster: &str) -> Result<Response, EksAuthError> {
        let body = json!({ "token": token }).to_string();
        let path = format!("/clusters/{cluster}/assume-role-for-pod-identity");
        let req = decode("POST", &path, body.as_bytes())?;
        let parsed = parse_token(&req.token)?;
        let keys = PreparedJwks::new(&jwks());
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        assume(&req, parsed, config, &keys, &ring(), NOW, &mut rng)
    }

    fn run(token: &str) -> Result<Response, EksAuthError> {
        run_with(&config(), token, "dev")
    }

    fn code(r: Result<Response, EksAuthError>) -> (&'static str, u16, String) {
        let e = r.unwrap_err();
        (e.code(), e.status(), e.message())
    }

    #[test]
    fn success_carries_the_session_tags_and_the_wire_shape() {
        let r = run(&sign(&claims())).unwrap();
        assert_eq!(r.audience, "pods.eks.amazonaws.com");
        assert!(
            r.assumed_role_arn
                .starts_with("arn:aws:sts::111122223333:assumed-role/app/eks-dev-web-7d9f8-abcde-")
        );
        assert!(r.assumed_role_id.starts_with("AROA"));
        assert!(r.association_id.starts_with("a-") && r.association_id.len() == 19);
        assert_eq!(
            r.association_arn,
            format!(
                "arn:aws:eks:us-east-1:111122223333:podidentityassociation/dev/{}",
                r.association_id
            )
        );
        let opened = open_issued(&r.credentials);
        let tags: Vec<(&str, &str)> = opened
            .claims
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(
            tags,
            [
                ("eks-cluster-arn", CLUSTER_ARN),
                ("eks-cluster-name", "dev"),
                ("kubernetes-namespace", "default"),
                ("kubernetes-service-account", "reader"),
                ("kubernetes-pod-name", "web-7d9f8-abcde"),
                ("kubernetes-pod-uid", "8f2a1b3c-0000-4000-8000-000000000002"),
            ]
        );
        assert_eq!(opened.claims.provider_arn, "");
        assert_eq!(opened.claims.expires_at, NOW + 3600);
        assert!(opened.claims.session_name.len() <= 64);
        let v: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            v["subject"],
            json!({"namespace": "default", "serviceAccount": "reader"})
        );
        assert_eq!(v["credentials"]["expiration"], json!(NOW + 3600));
        assert_eq!(v["credentials"]["accessKeyId"], r.credentials.access_key_id);
        assert_eq!(
            v["podIdentityAssociation"]["associationId"],
            r.association_id
        );
        assert_eq!(v["assumedRoleUser"]["arn"], r.assumed_role_arn);
    }

    #[test]
    fn refusals_each_with_the_api_error() {
        let mut other_aud = claims();
        other_aud.insert("aud".into(), json!(["sts.amazonaws.com"]));
        let mut expired = claims();
        expired.insert("exp".into(), json!(NOW - 301));
        let mut other_iss = claims();
        other_iss.insert("iss".into(), json!("https://elsewhere.example.test"));
        let mut no_assoc = claims();
        no_assoc.insert("sub".into(), json!("system:serviceaccount:default:writer"));
        no_assoc["kubernetes.io"]["serviceaccount"]["name"] = json!("writer");
        let cases = [
            (other_aud, "InvalidTokenException", 400),
            (expired, "ExpiredTokenException", 400),
            (other_iss, "InvalidTokenException", 400),
            (no_assoc, "ResourceNotFoundException", 404),
        ];
        for (c, want, status) in cases {
            let (got, st, msg) = code(run(&sign(&c)));
            assert_eq!((got, st), (want, status), "{msg}");
        }
        // Tampered: the payload of another token under this token's signature.
        let good = sign(&claims());
        let mut admin = claims();
        admin.insert(
            "sub".into(),
            json!("system:serviceaccount:kube-system:admin"),
        );
        let forged = sign(&admin);
        let (h, _) = good.rsplit_once('.').unwrap();
        let (_, sig) = forged.rsplit_once('.').unwrap();
        assert_eq!(code(run(&format!("{h}.{sig}"))).0, "InvalidTokenException");
        // Signed by a key the cluster does not have.
        let stranger = SigningKey::generate(Algorithm::ES256).unwrap();
        let t = stranger.sign_jwt(&Map::new(), &claims()).unwrap();
        assert_eq!(code(run(&t)).0, "InvalidTokenException");
        // A cluster not configured.
        let (c, st, msg) = code(run_with(&config(), &good, "prod"));
        assert_eq!((c, st), ("ResourceNotFoundException", 404));
        assert_eq!(msg, "No cluster found for name: prod.");
    }

    /// Tokens crafted so that the ServiceAccount a reader would pick differs from the one
    /// Kubernetes signed for: each refused.
    #[test]
    fn claims_that_disagree_are_refused() {
        let mut cases: Vec<Map<String, Value>> = Vec::new();
        // sub names the associated ServiceAccount, kubernetes.io another one.
        let mut c = claims();
        c["kubernetes.io"]["serviceaccount"]["name"] = json!("intruder");
        cases.push(c);
        // kubernetes.io names the associated ServiceAccount, sub another namespace.
        let mut c = claims();
        c.insert("sub".into(), json!("system:serviceaccount:other:reader"));
        cases.push(c);
        // sub with an extra segment that a prefix match would accept.
        let mut c = claims();
        c.insert(
            "sub".into(),
            json!("system:serviceaccount:default:reader:x"),
        );
        cases.push(c);
        // Not bound to a pod.
        let mut c = claims();
        c["kubernetes.io"].as_object_mut().unwrap().remove("pod");
        cases.push(c);
        // Names that are not Kubernetes names (case, separators, empty).
        for (ns, sa) in [
            ("Default", "reader"),
            ("default", "Reader"),
            ("", "reader"),
            ("default", ""),
        ] {
            let mut c = claims();
            c.insert(
                "sub".into(),
                json!(format!("system:serviceaccount:{ns}:{sa}")),
            );
            c["kubernetes.io"]["namespace"] = json!(ns);
            c["kubernetes.io"]["serviceaccount"]["name"] = json!(sa);
            cases.push(c);
        }
        // Claims of the wrong type.
        let mut c = claims();
        c["kubernetes.io"]["namespace"] = json!(["default"]);
        cases.push(c);
        let mut c = claims();
        c.insert("kubernetes.io".into(), json!("default/reader"));
        cases.push(c);
        let mut c = claims();
        c["kubernetes.io"]["pod"]["uid"] = json!("../../x");
        cases.push(c);
        for (i, c) in cases.iter().enumerate() {
            let (code, _, msg) = code(run(&sign(c)));
            assert_eq!(code, "InvalidTokenException", "case {i}: {msg}");
        }
    }

    #[test]
    fn trust_policy_is_evaluated_for_the_service_principal() {
        let cases = [
            // Only AssumeRole: TagSession is needed too.
            (
                r#"'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}'"#,
                false,
            ),
            // Another service.
            (
                r#"'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}'"#,
                false,
            ),
            // Web identity federation does not make a pod identity role.
            (
                r#"'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/x"},"Action":["sts:AssumeRole","sts:TagSession"]}]}'"#,
                false,
            ),
            // Conditions on the request tags, as AWS documents them.
            (
                r#"'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"default","aws:RequestTag/kubernetes-service-account":"reader","aws:RequestTag/eks-cluster-arn":"arn:aws:eks:us-east-1:111122223333:cluster/dev"}}}]}'"#,
                true,
            ),
            (
                r#"'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"prod"}}}]}'"#,
                false,
            ),
            // An explicit deny wins.
            (
                r#"'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]},{"Effect":"Deny","Principal":"*","Action":"sts:TagSession","Condition":{"StringLike":{"aws:RequestTag/kubernetes-pod-name":"web-*"}}}]}'"#,
                false,
            ),
        ];
        let t = sign(&claims());
        for (i, (trust, allowed)) in cases.iter().enumerate() {
            let config = Config::from_yaml(&config_with(trust)).unwrap();
            let r = run_with(&config, &t, "dev");
            if *allowed {
                assert!(r.is_ok(), "case {i}: {r:?}");
            } else {
                let (c, st, msg) = code(r);
                assert_eq!((c, st), ("AccessDeniedException", 400), "case {i}: {msg}");
            }
        }
    }

    const OPERATION_PATH: &str = "/clusters/dev/assume-role-for-pod-identity";

    #[test]
    fn decode_reads_the_rest_json_request_strictly() {
        let t = sign(&claims());
        let body = json!({"token": t, "unknownMember": 1}).to_string();
        let ok = decode("POST", OPERATION_PATH, body.as_bytes()).unwrap();
        assert_eq!(ok.cluster_name, "dev");
        assert!(!format!("{ok:?}").contains(&t), "Debug hides the token");
        // A duplicated member: serde refuses it rather than picking one.
        let dup = format!(r#"{{"token":"{t}","token":"a.b.c"}}"#);
        assert_eq!(
            decode("POST", OPERATION_PATH, dup.as_bytes())
                .unwrap_err()
                .code(),
            "InvalidRequestException"
        );
    }

    #[test]
    fn decode_refuses_other_methods_and_paths() {
        let body = json!({"token": sign(&claims())}).to_string();
        let long = format!("/clusters/{}/assume-role-for-pod-identity", "a".repeat(101));
        let cases = [
            ("GET", OPERATION_PATH, "UnknownOperationException"),
            ("POST", "/clusters/dev/other", "UnknownOperationException"),
            (
                "POST",
                "/clusters//assume-role-for-pod-identity",
                "UnknownOperationException",
            ),
            (
                "POST",
                "/clusters/a/b/assume-role-for-pod-identity",
                "UnknownOperationException",
            ),
            (
                "POST",
                "/clusters/de%76/assume-role-for-pod-identity",
                "InvalidParameterException",
            ),
            (
                "POST",
                "/clusters/a%2Fb/assume-role-for-pod-identity",
                "InvalidParameterException",
            ),
            (
                "POST",
                "/clusters/-dev/assume-role-for-pod-identity",
                "InvalidParameterException",
            ),
            ("POST", long.as_str(), "InvalidParameterException"),
        ];
        for (method, path, want) in cases {
            let e = decode(method, path, body.as_bytes()).unwrap_err();
            assert_eq!(e.code(), want, "{method} {path}: {e}");
        }
    }

    #[test]
    fn decode_refuses_malformed_bodies() {
        let huge = json!({"token": format!("a.{}.c", "b".repeat(MAX_TOKEN_LEN))}).to_string();
        let cases: [(&[u8], &str); 7] = [
            (b"{}", "InvalidParameterException"),
            (b"", "InvalidParameterException"),
            (br#"{"token": 5}"#, "InvalidRequestException"),
            (b"token=x", "InvalidRequestException"),
            (br#"{"token": "a.b"}"#, "InvalidParameterException"),
            (br#"{"token": "a.b.c d"}"#, "InvalidParameterException"),
            (huge.as_bytes(), "InvalidParameterException"),
        ];
        for (body, want) in cases {
            let e = decode("POST", OPERATION_PATH, body).unwrap_err();
            let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
            assert_eq!(e.code(), want, "{shown}: {e}");
        }
    }

    #[test]
    fn configuration_is_validated() {
        let base = config_with(TRUST);
        let bad = [
            (base.replace("name: dev", "name: -dev"), "clusters[0].name"),
            (
                base.replace("issuer: https://oidc", "issuer: http://oidc"),
                "clusters[0].issuer",
            ),
            (
                base.replace("cluster: dev", "cluster: prod"),
                "podIdentityAssociations[0].cluster",
            ),
            (
                base.replace("namespace: default", "namespace: Default"),
                "podIdentityAssociations[0].namespace",
            ),
            (
                base.replace("serviceAccount: reader", "serviceAccount: re/ader"),
                "podIdentityAssociations[0].serviceAccount",
            ),
            (
                base.replace(
                    "roleArn: arn:aws:iam::111122223333:role/app",
                    "roleArn: arn:aws:iam::111122223333:role/none",
                ),
                "podIdentityAssociations[0].roleArn",
            ),
        ];
        for (text, field) in bad {
            let e = Config::from_yaml(&text).unwrap_err();
            assert!(e.to_string().starts_with(field), "{field}: {e}");
        }
        let twice = format!(
            "{base}  - cluster: dev\n    namespace: default\n    serviceAccount: reader\n    roleArn: arn:aws:iam::111122223333:role/app\n"
        );
        assert!(
            Config::from_yaml(&twice)
                .unwrap_err()
                .to_string()
                .contains("associated twice")
        );
        let with_id = base.replace("    roleArn: arn:aws:iam::111122223333:role/app\n", "    roleArn: arn:aws:iam::111122223333:role/app\n    associationId: a-abcdefghijklmnop2\n");
        assert_eq!(
            Config::from_yaml(&with_id)
                .unwrap()
                .pod_identity_associations[0]
                .id,
            "a-abcdefghijklmnop2"
        );
        let http = base.replace("issuer: https://oidc", "issuer: http://oidc");
        let opts = crate::config::ParseOptions {
            allow_insecure_http_issuer: true,
        };
        assert!(Config::from_yaml_with(&http, &opts).is_ok());
    }

    // ------------------------------------------------------------ the caller

    fn session(role: &str, session_policy: Option<&str>) -> Credentials {
        let config = config();
        let r = config
            .role(&format!("arn:aws:iam::111122223333:role/{role}"))
            .unwrap();
        let claims = SessionClaims {
            role_arn: r.arn.clone(),
            role_id: r.role_id.clone(),
            session_name: "node-1".into(),
            subject: "system:serviceaccount:kube-system:irsa-agent".into(),
            audience: "sts.amazonaws.com".into(),
            provider_arn: "arn:aws:iam::111122223333:oidc-provider/x".into(),
            issued_at: NOW - 60,
            expires_at: NOW + 3600,
            session_policy: session_policy.map(str::to_owned),
            policy_arns: Vec::new(),
            source_identity: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
        };
        credentials::issue(&ring(), &claims, &mut rand::rngs::StdRng::seed_from_u64(5)).unwrap()
    }

    fn signed(
        creds: &Credentials,
        service: &str,
        cluster: &str,
        at: i64,
    ) -> http::Request<Vec<u8>> {
        let body = json!({"token": sign_token()}).to_string().into_bytes();
        let path = format!("/clusters/{cluster}/assume-role-for-pod-identity");
        sdk_signed(creds, service, &path, ("application/json", body), at)
    }

    fn sign_token() -> String {
        sign(&claims())
    }

    fn check(request: &http::Request<Vec<u8>>, cluster: &str) -> Result<Caller, EksAuthError> {
        let headers: Vec<(&str, &[u8])> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let http = irsa_sigv4::Request {
            method: request.method().as_str(),
            path: request.uri().path(),
            query: request.uri().query().unwrap_or(""),
            headers: &headers,
            body: request.body(),
        };
        authenticate(&http, cluster, &config(), &ring(), NOW)
    }

    #[test]
    fn the_caller_is_an_irsa_session_allowed_on_the_cluster() {
        let node = session("node", None);
        let who = check(&signed(&node, "eks-auth", "dev", NOW), "dev").unwrap();
        assert_eq!(
            who.arn,
            "arn:aws:sts::111122223333:assumed-role/node/node-1"
        );
        // Not allowed on another cluster's ARN, nor for a role without the permission,
        // nor through a session policy that does not allow it.
        let denied = |r: Result<Caller, EksAuthError>| {
            let e = r.unwrap_err();
            (e.code(), e.status(), e.message())
        };
        let (c, st, msg) = denied(check(&signed(&node, "eks-auth", "prod", NOW), "prod"));
        assert_eq!((c, st), ("AccessDeniedException", 400));
        assert_eq!(
            msg,
            "User: arn:aws:sts::111122223333:assumed-role/node/node-1 is not authorized to perform: eks-auth:AssumeRoleForPodIdentity on resource: arn:aws:eks:us-east-1:111122223333:cluster/prod"
        );
        let other = session("other", None);
        assert_eq!(
            denied(check(&signed(&other, "eks-auth", "dev", NOW), "dev")).0,
            "AccessDeniedException"
        );
        let narrow = session(
            "node",
            Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            ),
        );
        assert_eq!(
            denied(check(&signed(&narrow, "eks-auth", "dev", NOW), "dev")).0,
            "AccessDeniedException"
        );
        // Signed for another service, at another time, tampered, unsigned.
        assert_eq!(
            denied(check(&signed(&node, "sts", "dev", NOW), "dev")).0,
            "InvalidSignatureException"
        );
        assert_eq!(
            denied(check(&signed(&node, "eks-auth", "dev", NOW - 3600), "dev")).0,
            "InvalidSignatureException"
        );
        let mut tampered = signed(&node, "eks-auth", "dev", NOW);
        tampered.body_mut().push(b' ');
        assert_eq!(
            denied(check(&tampered, "dev")).0,
            "InvalidSignatureException"
        );
        let mut unsigned = signed(&node, "eks-auth", "dev", NOW);
        unsigned.headers_mut().remove("authorization");
        assert_eq!(
            denied(check(&unsigned, "dev")),
            (
                "MissingAuthenticationTokenException",
                403,
                "Missing Authentication Token".into()
            )
        );
        // Credentials another key ring sealed.
        let foreign = {
            let mut c = session("node", None);
            let other_ring =
                KeyRing::single(crate::credentials::MasterKey::from_bytes([9; 32]).unwrap());
            let claims = credentials::open(&ring(), &c.session_token, &c.access_key_id, NOW)
                .unwrap()
                .claims;
            c = credentials::issue(
                &other_ring,
                &claims,
                &mut rand::rngs::StdRng::seed_from_u64(6),
            )
            .unwrap();
            c
        };
        assert_eq!(
            denied(check(&signed(&foreign, "eks-auth", "dev", NOW), "dev")).0,
            "UnrecognizedClientException"
        );
    }

    #[test]
    fn errors_have_the_model_statuses_and_json_shape() {
        let e = EksAuthError::InvalidToken("bad".into());
        let v: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"__type": "InvalidTokenException", "message": "bad"})
        );
        let statuses = [
            (EksAuthError::ExpiredToken(String::new()), 400),
            (EksAuthError::AccessDenied(String::new()), 400),
            (EksAuthError::ResourceNotFound(String::new()), 404),
            (EksAuthError::InvalidParameter(String::new()), 400),
            (EksAuthError::InvalidRequest(String::new()), 400),
            (EksAuthError::Throttling, 429),
            (EksAuthError::InternalServer, 500),
            (EksAuthError::ServiceUnavailable, 503),
        ];
        for (e, s) in statuses {
            assert_eq!(e.status(), s, "{}", e.code());
        }
    }
}
