//! Sessions of irsa-sts-core, as `irsa sts` seals them into credentials.

use irsa_sts_core::SessionClaims;

/// The claims of a web-identity session of `role_arn` (ServiceAccount `default/app`, OIDC
/// provider `oidc.example.test` of account 111122223333), issued at `issued_at` and
/// expiring at `expires_at` (seconds since the Unix epoch); no tags, no session policy.
pub fn session_claims(role_arn: &str, issued_at: i64, expires_at: i64) -> SessionClaims {
    SessionClaims {
        role_arn: role_arn.to_owned(),
        role_id: "AROAEXAMPLEEXAMPLE123".into(),
        session_name: "test-session".into(),
        subject: "system:serviceaccount:default:app".into(),
        audience: "sts.amazonaws.com".into(),
        provider_arn: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test".into(),
        issued_at,
        expires_at,
        session_policy: None,
        policy_arns: vec![],
        source_identity: None,
        tags: vec![],
        transitive_tag_keys: vec![],
    }
}
