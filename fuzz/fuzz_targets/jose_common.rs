// Shared by the jose and sts targets (included with `include!`): the fixed JWKS built from the
// test keys of crates/irsa-jose/tests/fixtures, and the fixed validation parameters.

#[allow(dead_code)]
const FIXTURES_ISSUER: &str = "https://issuer.example.com";
#[allow(dead_code)]
const FIXTURES_NOW: i64 = 1_700_000_000;

#[allow(dead_code)]
fn pub_jwk(pem: &str, kid: Option<&str>) -> irsa_jose::Jwk {
    irsa_jose::Jwk::from_public_pem(pem)
        .expect("fixture public key")
        .with_kid(kid.map(str::to_owned))
}

/// Keys with their kube key ids (kids.txt), one key without `kid`, and a 1024-bit RSA
/// key that verify must refuse.
#[allow(dead_code)]
fn fixture_jwks() -> irsa_jose::Jwks {
    let f = |name: &str| -> &'static str {
        match name {
            "rsa2048-a" => include_str!("../../crates/irsa-jose/tests/fixtures/rsa2048-a.pub"),
            "rsa2048-b" => include_str!("../../crates/irsa-jose/tests/fixtures/rsa2048-b.pub"),
            "p256-a" => include_str!("../../crates/irsa-jose/tests/fixtures/p256-a.pub"),
            "p256-b" => include_str!("../../crates/irsa-jose/tests/fixtures/p256-b.pub"),
            "p384" => include_str!("../../crates/irsa-jose/tests/fixtures/p384.pub"),
            "p521" => include_str!("../../crates/irsa-jose/tests/fixtures/p521.pub"),
            _ => unreachable!(),
        }
    };
    irsa_jose::Jwks {
        keys: vec![
            pub_jwk(
                f("rsa2048-a"),
                Some("otqAaScXGdosHB8eKLDEcls5I5OyvmSexnBUUC1T0Zk"),
            ),
            pub_jwk(
                f("rsa2048-b"),
                Some("Gya6A0Xqy57gOVi6tHWCNUejh-lYASEQ-9BFparSyOE"),
            ),
            // Jwk::from_public_pem refuses keys below 2048 bits: this one comes as JSON.
            rsa1024_jwk(),
            pub_jwk(
                f("p256-a"),
                Some("tZWYOHJ9pwLXHu9Xc32noBWrIKsyt9oQf8xoVtkF9hI"),
            ),
            pub_jwk(f("p256-b"), None),
            pub_jwk(
                f("p384"),
                Some("BmsHeEWy2PqAWYPGEwQMNBCLyHlg3_IQUDoOlpSEkVI"),
            ),
            pub_jwk(
                f("p521"),
                Some("d21T-0f0g2Nth3_C2jNwC8FkwnTfiWa7RBbMTHb_SOs"),
            ),
        ],
    }
}

/// The private halves used to sign fuzzed headers and claims.
#[allow(dead_code)]
fn fixture_signers() -> Vec<irsa_jose::SigningKey> {
    [
        include_str!("../../crates/irsa-jose/tests/fixtures/rsa2048-a.key"),
        include_str!("../../crates/irsa-jose/tests/fixtures/p256-a.key"),
        include_str!("../../crates/irsa-jose/tests/fixtures/p256-b.key"),
        include_str!("../../crates/irsa-jose/tests/fixtures/p384.key"),
    ]
    .iter()
    .map(|pem| irsa_jose::SigningKey::from_pem(pem).expect("fixture private key"))
    .collect()
}

/// The 1024-bit RSA fixture key (rsa1024.pub) as a JWK: `verify` must refuse it.
#[allow(dead_code)]
fn rsa1024_jwk() -> irsa_jose::Jwk {
    let json = r#"{"use":"sig","kty":"RSA","kid":"m-OdTtagIVCQEEtWolhuwy-aRbVDF5A-zWS9sVLdzFQ","alg":"RS256","n":"mvs9F1pD7CRAxePyYVzzL06kP4I-ETZqLyd2j3Hm4_4u6XhfXLMZlJGoDlrtMvNWDv6UEkXhIvmU1QCADxkbt3WmSHw9FyXbpoioq6Bj90_IT-45chYlN50UderCIoTWWxpw2cS6MAAz7jvaZE16pluCjw1vrOrGVppWGWiJueU","e":"AQAB"}"#;
    serde_json::from_str(json).expect("rsa1024 jwk")
}
