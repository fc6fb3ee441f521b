//! Policy document errors, worded as AWS words them. The error code they are answered
//! under (`MalformedPolicyDocument`, or `ValidationError` for a session policy's length and
//! characters) is the wire format's business: see `impl From<&PolicyError> for StsError` in
//! irsa-sts-core.

/// One reason a policy document is rejected. `Display` is AWS's message where AWS has one
/// (IAM's `MalformedPolicyDocument` wording, as moto and the IAM documentation record it);
/// messages of our own are lowercase with no final period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Invalid JSON, unknown or duplicate keys, wrong value types, unknown operators.
    #[error("Syntax errors in policy.")]
    Syntax,
    /// Identity (managed) policies need `"Version": "2012-10-17"`.
    #[error("Policy document must be version 2012-10-17 or greater.")]
    VersionRequired,
    /// `Effect` with the wrong case, a malformed date in a `Date*` operator, `arn:aws:s3::x`.
    #[error("The policy failed legacy parsing")]
    LegacyParsing,
    /// Two statements share one `Sid`.
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid,
    /// A `Sid` with characters outside `[0-9A-Za-z]` in an IAM (identity, trust, session) policy.
    #[error(
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
    )]
    SidNotAlphanumeric,
    /// No `Action`/`NotAction`, or an empty array.
    #[error("Policy statement must contain actions.")]
    MissingActions,
    /// No `Resource`/`NotResource` (or an empty array) where one is required.
    #[error("Policy statement must contain resources.")]
    MissingResources,
    /// An action or condition key without `vendor:`.
    #[error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")]
    MissingVendor,
    /// An action with more than one colon.
    #[error("Actions/Condition can contain only one colon.")]
    ActionColons,
    /// A vendor with characters outside `[A-Za-z0-9-.]`.
    #[error("Vendor {0} is not valid")]
    InvalidVendor(String),
    /// A resource that is neither an ARN nor `*`.
    #[error("Resource {0} must be in ARN format or \"*\".")]
    ResourceNotArn(String),
    /// A resource ARN with an unknown partition; `resource` is AWS's padded rendering.
    #[error("Partition \"{partition}\" is not valid for resource \"{resource}\".")]
    InvalidPartition {
        /// The partition as written.
        partition: String,
        /// The resource as AWS echoes it (`arn:P:S:R:A:ID`, missing parts as `*`).
        resource: String,
    },
    /// A resource ARN without a service, or with a wildcard in the service.
    #[error("Resource vendor must be fully qualified and cannot contain regexes.")]
    ResourceVendor,
    /// An IAM resource whose path is not one of IAM's resource types.
    #[error(
        "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/."
    )]
    IamResourcePath,
    /// An IAM resource ARN with a region.
    #[error("IAM resource {0} cannot contain region information.")]
    IamRegion(String),
    /// An S3 resource ARN with a region (other than an access point).
    #[error("Resource {0} can not contain region information.")]
    S3Region(String),
    /// `Principal`/`NotPrincipal` in an identity or session policy.
    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,
    /// A resource or trust policy statement without `Principal`.
    #[error("Missing required field Principal")]
    MissingPrincipal,
    /// `Resource`/`NotResource` in a trust policy.
    #[error("Has prohibited field Resource.")]
    ProhibitedResource,
    /// A trust policy action outside the `sts:` actions a trust policy can grant.
    #[error(
        "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"
    )]
    TrustAction,
    /// A principal value IAM does not accept, rendered like `"AWS":"foo"`.
    #[error("Invalid principal in policy: {0}")]
    InvalidPrincipal(String),
    /// `NotPrincipal` in a role trust policy (our wording).
    #[error("`NotPrincipal` is not allowed in a role trust policy")]
    NotPrincipalInTrust,
    /// A session policy longer than STS accepts.
    #[error(
        "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to {limit}"
    )]
    TooLong {
        /// The limit in characters.
        limit: usize,
        /// The document's length in characters.
        length: usize,
    },
    /// A character outside tab, LF, CR and U+0020..U+00FF (session and trust policies).
    #[error(
        "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
    )]
    InvalidCharacters,
}
