//! Hostile tokens: each case names the exact error (variant and STS code) it must produce,
//! plus the round trips that show the same machinery accepts good tokens.

use irsa_jose::{
    Algorithm, JoseError, Jwk, Jwks, SigningKey, Validation, VerifiedToken, base64url_decode,
    base64url_encode, peek, verify,
};
use irsa_test::jose::jwks_of;
use serde_json::{Map, Value, json};

const ISS: &str = "https://issuer.example.com";
const NOW: i64 = 1_700_000_000;

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn key(name: &str) -> SigningKey {
    SigningKey::from_pem(&fixture(name)).unwrap()
}

fn rsa() -> SigningKey {
    key("rsa2048-a.key")
}
fn rsa_b() -> SigningKey {
    key("rsa2048-b.key")
}
fn ec() -> SigningKey {
    key("p256-a.key")
}
fn ec_b() -> SigningKey {
    key("p256-b.key")
}

/// The JWKS the verifier trusts: rsa-a and p256-a.
fn trusted() -> Jwks {
    jwks_of(&[&rsa(), &ec()])
}

fn claims() -> Map<String, Value> {
    obj(json!({
        "aud": ["sts.amazonaws.com"],
        "exp": NOW + 3600,
        "iat": NOW,
        "iss": ISS,
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app", "uid": "u1"}},
        "nbf": NOW,
        "sub": "system:serviceaccount:default:app"
    }))
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn with(mut m: Map<String, Value>, k: &str, v: Value) -> Map<String, Value> {
    m.insert(k.into(), v);
    m
}

fn without(mut m: Map<String, Value>, k: &str) -> Map<String, Value> {
    m.remove(k);
    m
}

fn b64json(v: &Map<String, Value>) -> String {
    base64url_encode(&serde_json::to_vec(v).unwrap())
}

/// A token with an arbitrary header, signed by `k` (signature over the exact segments).
fn token_with_header(k: &SigningKey, header: Map<String, Value>, c: &Map<String, Value>) -> String {
    let input = format!("{}.{}", b64json(&header), b64json(c));
    let sig = k.sign_bytes(input.as_bytes()).unwrap();
    format!("{input}.{}", base64url_encode(&sig))
}

fn header(alg: &str, kid: &str) -> Map<String, Value> {
    obj(json!({"alg": alg, "kid": kid}))
}

fn auds() -> Vec<String> {
    vec!["sts.amazonaws.com".to_owned()]
}

fn check(token: &str, jwks: &Jwks, now: i64) -> Result<VerifiedToken, JoseError> {
    let a = auds();
    verify(token, jwks, &Validation::new(ISS, &a, now))
}

fn good(k: &SigningKey) -> String {
    k.sign_jwt(&Map::new(), &claims()).unwrap()
}

#[track_caller]
fn expect_err(r: Result<VerifiedToken, JoseError>, pred: impl Fn(&JoseError) -> bool, code: &str) {
    match r {
        Ok(_) => panic!("hostile token was accepted"),
        Err(e) => {
            assert!(pred(&e), "unexpected error {e:?}");
            assert_eq!(sts_code(&e), code, "{e:?}");
        }
    }
}

const INVALID: &str = "InvalidIdentityToken";

/// The STS code a rejected token is answered with.
fn sts_code(e: &JoseError) -> &'static str {
    irsa_sts_core::StsError::from(e).code()
}

fn hmac(alg: &str, secret: &[u8], input: &str) -> Vec<u8> {
    let a = match alg {
        "HS384" => aws_lc_rs::hmac::HMAC_SHA384,
        "HS512" => aws_lc_rs::hmac::HMAC_SHA512,
        _ => aws_lc_rs::hmac::HMAC_SHA256,
    };
    aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(a, secret), input.as_bytes())
        .as_ref()
        .to_vec()
}

// ---------------------------------------------------------------- good tokens

#[test]
fn round_trip_rs256_and_es256() {
    for k in [rsa(), ec()] {
        let t = good(&k);
        let v = check(&t, &trusted(), NOW + 10).unwrap();
        assert_eq!(v.alg, k.algorithm());
        assert_eq!(v.kid.as_deref(), Some(k.kid()));
        assert_eq!(v.sub, "system:serviceaccount:default:app");
        assert_eq!(v.aud, vec!["sts.amazonaws.com"]);
        assert_eq!(v.audience, "sts.amazonaws.com");
        assert_eq!((v.exp, v.iat, v.nbf), (NOW + 3600, Some(NOW), Some(NOW)));
        assert_eq!(v.claims["kubernetes.io"]["namespace"], "default");
    }
}

#[test]
fn round_trip_other_algorithms() {
    let cases = [
        rsa().with_algorithm(Algorithm::RS384).unwrap(),
        rsa().with_algorithm(Algorithm::RS512).unwrap(),
        key("p384.key"),
        key("p521.key"),
    ];
    for k in cases {
        // The published JWK says RS256 for RSA keys (as kube); drop `alg` so RS384/512 fit.
        let jwk = Jwk {
            alg: None,
            ..k.public_jwk().unwrap()
        };
        let t = good(&k);
        let v = check(&t, &Jwks { keys: vec![jwk] }, NOW).unwrap();
        assert_eq!(v.alg, k.algorithm());
    }
    assert_eq!(key("p384.key").algorithm(), Algorithm::ES384);
    assert_eq!(key("p521.key").algorithm(), Algorithm::ES512);
}

#[test]
fn aud_as_string_and_second_in_array() {
    let t = rsa()
        .sign_jwt(
            &Map::new(),
            &with(claims(), "aud", json!("sts.amazonaws.com")),
        )
        .unwrap();
    assert_eq!(
        check(&t, &trusted(), NOW).unwrap().aud,
        ["sts.amazonaws.com"]
    );
    let t = rsa()
        .sign_jwt(
            &Map::new(),
            &with(claims(), "aud", json!(["other", "sts.amazonaws.com"])),
        )
        .unwrap();
    assert_eq!(
        check(&t, &trusted(), NOW).unwrap().audience,
        "sts.amazonaws.com"
    );
}

#[test]
fn pre_116_token_without_kid_uses_keys_without_kid() {
    let no_kid = obj(json!({"kid": null}));
    let t = rsa().sign_jwt(&no_kid, &claims()).unwrap();
    assert!(peek(&t).unwrap().kid().is_none());
    // Only kid-ed keys: not found.
    expect_err(
        check(&t, &trusted(), NOW),
        |e| matches!(e, JoseError::KeyNotFound { kid: None }),
        INVALID,
    );
    // The kOps / SELF_HOSTED_SETUP shape: the same key again with kid "".
    let mut jwks = trusted();
    jwks.keys
        .push(rsa().public_jwk().unwrap().with_kid(Some(String::new())));
    check(&t, &jwks, NOW).unwrap();
    // A key with no kid member at all also works.
    let jwks = Jwks {
        keys: vec![rsa().public_jwk().unwrap().with_kid(None)],
    };
    check(&t, &jwks, NOW).unwrap();
    // But a key without kid never verifies a token that names a kid.
    expect_err(
        check(&good(&rsa()), &jwks, NOW),
        |e| matches!(e, JoseError::KeyNotFound { kid: Some(_) }),
        INVALID,
    );
}

// ---------------------------------------------------------------- algorithms

#[test]
fn alg_none_in_every_case() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = b64json(&obj(json!({"alg": alg, "kid": rsa().kid()})));
        for sig in ["", "AAAA"] {
            let t = format!("{h}.{}.{sig}", b64json(&claims()));
            expect_err(
                check(&t, &trusted(), NOW),
                |e| matches!(e, JoseError::UnsupportedAlgorithm { alg: a } if a == alg),
                INVALID,
            );
        }
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_as_secret() {
    let k = rsa();
    let pem = k.public_key_pem().unwrap();
    let der = k.public_jwk().unwrap().to_spki_der().unwrap();
    for alg in ["HS256", "HS384", "HS512", "hs256"] {
        for secret in [pem.as_bytes(), der.as_slice()] {
            let input = format!("{}.{}", b64json(&header(alg, k.kid())), b64json(&claims()));
            let t = format!("{input}.{}", base64url_encode(&hmac(alg, secret, &input)));
            let r = check(&t, &trusted(), NOW);
            expect_err(
                r,
                |e| matches!(e, JoseError::UnsupportedAlgorithm { .. }),
                INVALID,
            );
        }
    }
}

#[test]
fn rs256_header_on_an_ec_key() {
    // The attacker names the EC key's kid with RS256 (signature by some RSA key).
    let t = token_with_header(&rsa(), header("RS256", ec().kid()), &claims());
    expect_err(
        check(&t, &trusted(), NOW),
        |e| matches!(e, JoseError::KeyMismatch { .. }),
        INVALID,
    );
}

#[test]
fn es256_header_on_an_rsa_key() {
    let t = token_with_header(&ec(), header("ES256", rsa().kid()), &claims());
    expect_err(
        check(&t, &trusted(), NOW),
        |e| matches!(e, JoseError::KeyMismatch { .. }),
        INVALID,
    );
}

#[test]
fn alg_must_fit_the_jwk_alg_and_curve() {
    // Key published with alg RS256; token says RS512 signed by the same key.
    let k = rsa().with_algorithm(Algorithm::RS512).unwrap();
    expect_err(
        check(&good(&k), &trusted(), NOW),
        |e| matches!(e, JoseError::KeyMismatch { .. }),
        INVALID,
    );
    // ES384 token whose kid is the P-256 key.
    let t = token_with_header(&key("p384.key"), header("ES384", ec().kid()), &claims());
    expect_err(
        check(&t, &trusted(), NOW),
        |e| matches!(e, JoseError::KeyMismatch { .. }),
        INVALID,
    );
}

#[test]
fn key_with_use_enc_is_refused() {
    let mut jwk = rsa().public_jwk().unwrap();
    jwk.use_ = Some("enc".into());
    expect_err(
        check(&good(&rsa()), &Jwks { keys: vec![jwk] }, NOW),
        |e| matches!(e, JoseError::KeyMismatch { .. }),
        INVALID,
    );
}

#[test]
fn algorithm_not_in_the_allowed_list() {
    let a = auds();
    let mut v = Validation::new(ISS, &a, NOW);
    v.algorithms = &[Algorithm::ES256];
    expect_err(
        verify(&good(&rsa()), &trusted(), &v),
        |e| matches!(e, JoseError::UnsupportedAlgorithm { .. }),
        INVALID,
    );
}

#[test]
fn der_encoded_es256_signature() {
    let k = ec();
    let t = good(&k);
    let (input, sig) = t.rsplit_once('.').unwrap();
    let raw = base64url_decode(sig).unwrap();
    let (r, s) = raw.split_at(32);
    let int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        let mut v = if x[0] & 0x80 != 0 { vec![0] } else { vec![] };
        v.extend(x);
        let mut out = vec![2, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(r), int(s)].concat();
    let der = [vec![0x30, body.len() as u8], body].concat();
    let t2 = format!("{input}.{}", base64url_encode(&der));
    expect_err(
        check(&t2, &trusted(), NOW),
        |e| matches!(e, JoseError::BadSignature),
        INVALID,
    );
    // Sanity: the raw form of the same signature verifies.
    check(&t, &trusted(), NOW).unwrap();
}

#[test]
fn zero_ecdsa_signature() {
    let t = good(&ec());
    let (input, _) = t.rsplit_once('.').unwrap();
    let t2 = format!("{input}.{}", base64url_encode(&[0u8; 64]));
    expect_err(
        check(&t2, &trusted(), NOW),
        |e| matches!(e, JoseError::BadSignature),
        INVALID,
    );
}

// ---------------------------------------------------------------- keys and signatures

#[test]
fn unknown_kid() {
    let t = token_with_header(&rsa(), header("RS256", "no-such-key"), &claims());
    let e = check(&t, &trusted(), NOW).unwrap_err();
    assert!(matches!(&e, JoseError::KeyNotFound { kid: Some(k) } if k == "no-such-key"));
    assert_eq!(sts_code(&e), INVALID);
    assert_eq!(
        e.to_string(),
        "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
    );
}

#[test]
fn known_kid_but_another_keys_signature() {
    for (attacker, victim) in [(rsa_b(), rsa()), (ec_b(), ec())] {
        let alg = attacker.algorithm().as_str();
        let t = token_with_header(&attacker, header(alg, victim.kid()), &claims());
        expect_err(
            check(&t, &trusted(), NOW),
            |e| matches!(e, JoseError::BadSignature),
            INVALID,
        );
    }
}

#[test]
fn flipped_signature_bit() {
    for k in [rsa(), ec()] {
        let t = good(&k);
        let (input, sig) = t.rsplit_once('.').unwrap();
        for bit in [0usize, 7, 100, 255] {
            let mut raw = base64url_decode(sig).unwrap();
            let len = raw.len();
            raw[bit / 8 % len] ^= 1 << (bit % 8);
            let t2 = format!("{input}.{}", base64url_encode(&raw));
            expect_err(
                check(&t2, &trusted(), NOW),
                |e| matches!(e, JoseError::BadSignature),
                INVALID,
            );
        }
    }
}

#[test]
fn payload_changed_after_signing() {
    for k in [rsa(), ec()] {
        let t = good(&k);
        let parts: Vec<&str> = t.split('.').collect();
        let evil = with(
            claims(),
            "sub",
            json!("system:serviceaccount:kube-system:admin"),
        );
        let t2 = format!("{}.{}.{}", parts[0], b64json(&evil), parts[2]);
        expect_err(
            check(&t2, &trusted(), NOW),
            |e| matches!(e, JoseError::BadSignature),
            INVALID,
        );
    }
}

#[test]
fn empty_signature_on_rs256() {
    let t = good(&rsa());
    let (input, _) = t.rsplit_once('.').unwrap();
    expect_err(
        check(&format!("{input}."), &trusted(), NOW),
        |e| matches!(e, JoseError::BadSignature),
        INVALID,
    );
}

#[test]
fn rsa_1024_is_refused_even_with_a_valid_signature() {
    let t = fixture("rsa1024.jwt");
    let t = t.trim();
    let jwk = Jwk::from_public_pem(&fixture("rsa1024.pub"));
    // Our JWK builder refuses the key outright...
    assert!(jwk.is_err(), "{jwk:?}");
    // ...and a JWKS carrying it (as an attacker-controlled issuer might) does not verify.
    let pem = pem::parse(fixture("rsa1024.pub")).unwrap();
    let spki = spki_rsa_components(pem.contents());
    let jwk = Jwk {
        use_: Some("sig".into()),
        kty: "RSA".into(),
        kid: Some("rsa1024".into()),
        crv: None,
        alg: Some("RS256".into()),
        x: None,
        y: None,
        n: Some(base64url_encode(&spki.0)),
        e: Some(base64url_encode(&spki.1)),
        extra: Map::new(),
    };
    // The signature is genuinely valid (checked with the legacy 1024-bit verifier)...
    let (input, sig) = t.rsplit_once('.').unwrap();
    aws_lc_rs::signature::RsaPublicKeyComponents {
        n: &spki.0,
        e: &spki.1,
    }
    .verify(
        &aws_lc_rs::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        input.as_bytes(),
        &base64url_decode(sig).unwrap(),
    )
    .unwrap();
    // ...and still refused.
    let r = check(t, &Jwks { keys: vec![jwk] }, NOW);
    expect_err(
        r,
        |e| matches!(e, JoseError::KeyMismatch { reason } if reason.contains("1024")),
        INVALID,
    );
}

/// (n, e) of an RSA SPKI, parsed by hand for the 1024-bit fixture (our parser refuses it).
fn spki_rsa_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use der::Decode;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der).unwrap();
    let k = pkcs1::RsaPublicKey::from_der(spki.subject_public_key.raw_bytes()).unwrap();
    (
        k.modulus.as_bytes().to_vec(),
        k.public_exponent.as_bytes().to_vec(),
    )
}

#[test]
fn attacker_keys_in_jku_jwk_x5c_x5u_headers_are_never_used() {
    let attacker = rsa_b();
    let ajwk = serde_json::to_value(attacker.public_jwk().unwrap()).unwrap();
    let cert_b64 = {
        let p = pem::parse(fixture("rsa2048-a.crt")).unwrap();
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(p.contents())
    };
    let extras = [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("jwk", ajwk),
        ("x5c", json!([cert_b64])),
    ];
    for (name, value) in extras {
        // With the attacker's own kid: not in the trusted JWKS.
        let mut h = header("RS256", attacker.kid());
        h.insert(name.into(), value.clone());
        let t = token_with_header(&attacker, h, &claims());
        expect_err(
            check(&t, &trusted(), NOW),
            |e| matches!(e, JoseError::KeyNotFound { .. }),
            INVALID,
        );
        // With the victim's kid: the trusted key is used, so the signature fails.
        let mut h = header("RS256", rsa().kid());
        h.insert(name.into(), value.clone());
        let t = token_with_header(&attacker, h, &claims());
        expect_err(
            check(&t, &trusted(), NOW),
            |e| matches!(e, JoseError::BadSignature),
            INVALID,
        );
        // Without kid at all.
        let mut h = obj(json!({"alg": "RS256"}));
        h.insert(name.into(), value);
        let t = token_with_header(&attacker, h, &claims());
        expect_err(
            check(&t, &trusted(), NOW),
            |e| matches!(e, JoseError::KeyNotFound { kid: None }),
            INVALID,
        );
    }
}

// ---------------------------------------------------------------- time

#[test]
fn expired_beyond_skew() {
    let t = good(&rsa());
    let exp = NOW + 3600;
    let e = check(&t, &trusted(), exp + 300).unwrap_err();
    assert_eq!(
        e,
        JoseError::Expired {
            now: exp + 300,
            exp
        }
    );
    assert_eq!(sts_code(&e), "ExpiredTokenException");
    assert_eq!(
        e.to_string(),
        format!(
            "Token expired: current date/time {} must be before the expiration date/time {exp}",
            exp + 300
        )
    );
    expect_err(
        check(&t, &trusted(), exp + 86_400),
        |e| matches!(e, JoseError::Expired { .. }),
        "ExpiredTokenException",
    );
}

#[test]
fn expired_within_skew_is_accepted() {
    let t = good(&rsa());
    let exp = NOW + 3600;
    check(&t, &trusted(), exp).unwrap();
    check(&t, &trusted(), exp + 299).unwrap();
}

#[test]
fn nbf_in_the_future() {
    let t = rsa()
        .sign_jwt(&Map::new(), &with(claims(), "nbf", json!(NOW + 600)))
        .unwrap();
    expect_err(
        check(&t, &trusted(), NOW),
        |e| matches!(e, JoseError::NotYetValid { nbf, .. } if *nbf == NOW + 600),
        INVALID,
    );
    // Within skew.
    check(&t, &trusted(), NOW + 300).unwrap();
}

#[test]
fn exp_missing_string_fraction() {
    let k = rsa();
    let t = k.sign_jwt(&Map::new(), &without(claims(), "exp")).unwrap();
    let e = check(&t, &trusted(), NOW).unwrap_err();
    assert_eq!(e, JoseError::MissingClaim { claim: "exp" });
    assert_eq!(e.to_string(), "Missing a required claim: exp");
    for bad in [
        json!("1700003600"),
        json!(1_700_003_600.5),
        json!(1.7e9),
        json!(null),
        json!(18446744073709551615u64),
    ] {
        let t = k
            .sign_jwt(&Map::new(), &with(claims(), "exp", bad.clone()))
            .unwrap();
        expect_err(
            check(&t, &trusted(), NOW),
            |e| matches!(e, JoseError::InvalidClaim { claim: "exp", .. }),
            INVALID,
        );
    }
    for claim in ["nbf", "iat"] {
        let t = k
            .sign_jwt(&Map::new(), &with(claims(), claim, json!("soon")))
            .unwrap();
        expect_err(
            check(&t, &trusted(), NOW),
            |e| matches!(e, JoseError::InvalidClaim { claim: c, .. } if *c == claim),
            INVALID,
        );
    }
}

// ---------------------------------------------------------------- audience, issuer, subject

#[test]
fn aud_missing() {
    let t = rsa()
        .sign_jwt(&Map::new(), &without(claims(), "aud"))
        .unwrap();
    let e = check(&t, &trusted(), NOW).unwrap_err();
    assert_eq!(e.to_string(), "Missing a required claim: aud");
    assert_eq!(sts_code(&e), INVALID);
}

#[test]
fn aud_wrong_array_without_ours_empty_or_not_strings() {
    for aud in [
        json!("sts.amazonaws.com.evil"),
        json!(["a", "b"]),
        json!([]),
        json!(""),
    ] {
        let t = rsa()
            .sign_jwt(&Map::new(), &with(claims(), "aud", aud))
            .unwrap();
        let e = check(&t, &trusted(), NOW).unwrap_err();
        assert_eq!(e, JoseError::AudienceMismatch);
        assert_eq!(e.to_string(), "Incorrect token audience");
    }
    for aud in [
        json!(42),
        json!([["sts.amazonaws.com"]]),
        json!({"sts.amazonaws.com": 1}),
    ] {
        let t = rsa()
            .sign_jwt(&Map::new(), &with(claims(), "aud", aud))
            .unwrap();
        expect_err(
            check(&t, &trusted(), NOW),
            |e| matches!(e, JoseError::InvalidClaim { claim: "aud", .. }),
            INVALID,
        );
    }
    // No accepted audiences at all.
    let none: Vec<String> = vec![];
    let r = verify(&good(&rsa()), &trusted(), &Validation::new(ISS, &none, NOW));
    expect_err(r, |e| matches!(e, JoseError::AudienceMismatch), INVALID);
}

#[test]
fn iss_trailing_slash_http_other_host_missing() {
    for iss in [
        "https://issuer.example.com/",
        "http://issuer.example.com",
        "https://issuer.example.org",
        "https://ISSUER.example.com",
        "https://issuer.example.com:443",
    ] {
        let t = rsa()
            .sign_jwt(&Map::new(), &with(claims(), "iss", json!(iss)))
            .unwrap();
        let e = check(&t, &trusted(), NOW).unwrap_err();
        assert_eq!(e, JoseError::UnknownIssuer { iss: iss.into() });
        assert_eq!(
            e.to_string(),
            format!("No OpenIDConnect provider found in your account for {iss}")
        );
    }
    let t = rsa()
        .sign_jwt(&Map::new(), &without(claims(), "iss"))
        .unwrap();
    assert_eq!(
        check(&t, &trusted(), NOW).unwrap_err(),
        JoseError::MissingClaim { claim: "iss" }
    );
}

#[test]
fn sub_missing_or_empty() {
    let t = rsa()
        .sign_jwt(&Map::new(), &without(claims(), "sub"))
        .unwrap();
    assert_eq!(
        check(&t, &trusted(), NOW).unwrap_err(),
        JoseError::MissingClaim { claim: "sub" }
    );
    let t = rsa()
        .sign_jwt(&Map::new(), &with(claims(), "sub", json!("")))
        .unwrap();
    expect_err(
        check(&t, &trusted(), NOW),
        |e| matches!(e, JoseError::InvalidClaim { claim: "sub", .. }),
        INVALID,
    );
}

// ---------------------------------------------------------------- structure

fn malformed(t: &str) {
    let r = check(t, &trusted(), NOW);
    match r {
        Err(e @ JoseError::Malformed { .. }) => {
            assert_eq!(sts_code(&e), INVALID);
            assert_eq!(
                e.to_string(),
                "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
            );
            assert!(peek(t).is_err());
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn two_or_four_segments() {
    let t = good(&rsa());
    let (input, _) = t.rsplit_once('.').unwrap();
    malformed(input);
    malformed(&format!("{t}.AAAA"));
    malformed(&format!("{t}."));
    malformed("");
    malformed("..");
    malformed("not a token");
}

#[test]
fn padded_or_standard_alphabet_base64() {
    let k = rsa();
    // Find a token whose signature contains '-' or '_' (URL alphabet) and make it standard.
    let mut found = false;
    for i in 0..64 {
        let t = k
            .sign_jwt(&Map::new(), &with(claims(), "jti", json!(i)))
            .unwrap();
        let (input, sig) = t.rsplit_once('.').unwrap();
        if sig.contains('-') || sig.contains('_') {
            malformed(&format!(
                "{input}.{}",
                sig.replace('-', "+").replace('_', "/")
            ));
            found = true;
            break;
        }
    }
    assert!(found);
    // Padding: a payload whose length is not a multiple of 3 gets '=' appended.
    let mut padded_cases = 0;
    for pad_claims in 0..3 {
        let c = with(claims(), "x", json!("y".repeat(pad_claims)));
        let payload = b64json(&c);
        if !payload.len().is_multiple_of(4) {
            let h = b64json(&header("RS256", k.kid()));
            let padded = format!("{payload}{}", "=".repeat(4 - payload.len() % 4));
            let input = format!("{h}.{padded}");
            let sig = base64url_encode(&k.sign_bytes(input.as_bytes()).unwrap());
            malformed(&format!("{input}.{sig}"));
            padded_cases += 1;
        }
    }
    assert!(padded_cases >= 2);
    // Whitespace inside the token.
    let t = good(&k);
    malformed(&format!("{}\n{}", &t[..10], &t[10..]));
    malformed(&format!("{t}\n"));
}

#[test]
fn header_not_an_object() {
    let c = b64json(&claims());
    for h in [
        r#"["RS256"]"#,
        r#""RS256""#,
        "null",
        "42",
        "{",
        "{\"alg\":\"RS256\",\"alg\":\"none\"}",
    ] {
        malformed(&format!("{}.{c}.AAAA", base64url_encode(h.as_bytes())));
    }
    // alg missing or not a string.
    for h in [json!({"kid": "x"}), json!({"alg": 256})] {
        malformed(&format!("{}.{c}.AAAA", b64json(&obj(h))));
    }
}

#[test]
fn payload_not_json_or_duplicate_claims() {
    let k = rsa();
    let h = b64json(&header("RS256", k.kid()));
    let dup = format!(
        r#"{{"iss":"{ISS}","sub":"system:serviceaccount:default:app","aud":"sts.amazonaws.com","exp":{},"sub":"system:serviceaccount:kube-system:admin"}}"#,
        NOW + 60
    );
    for p in ["not json", "[1,2]", "\"str\"", "", dup.as_str()] {
        let input = format!("{h}.{}", base64url_encode(p.as_bytes()));
        let sig = base64url_encode(&k.sign_bytes(input.as_bytes()).unwrap());
        malformed(&format!("{input}.{sig}"));
    }
}

#[test]
fn crit_header() {
    for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
        let mut h = header("RS256", rsa().kid());
        h.insert("crit".into(), crit);
        h.insert("b64".into(), json!(false));
        let t = token_with_header(&rsa(), h, &claims());
        expect_err(
            check(&t, &trusted(), NOW),
            |e| matches!(e, JoseError::UnsupportedCritical { .. }),
            INVALID,
        );
    }
}

#[test]
fn token_over_20000_bytes() {
    let k = rsa();
    // Grow a claim until the token is exactly at the limit: accepted; one byte more: refused.
    let base = k
        .sign_jwt(&Map::new(), &with(claims(), "pad", json!("")))
        .unwrap()
        .len();
    let mut n = (20_000 - base) * 3 / 4 - 16;
    let make = |n: usize| {
        k.sign_jwt(&Map::new(), &with(claims(), "pad", json!("a".repeat(n))))
            .unwrap()
    };
    while make(n + 1).len() <= 20_000 {
        n += 1;
    }
    let at = make(n);
    assert!(at.len() <= 20_000 && at.len() > 19_990, "{}", at.len());
    check(&at, &trusted(), NOW).unwrap();
    let over = make(n + 1);
    assert!(over.len() > 20_000);
    malformed(&over);
    malformed(&"a".repeat(1_000_000));
}

#[test]
fn error_details_never_contain_the_token() {
    let t = good(&rsa());
    let bad = t.replace('.', ".x");
    for tok in [bad.as_str(), t.as_str()] {
        if let Err(e) = check(tok, &Jwks::default(), NOW) {
            assert!(!e.to_string().contains(&t[..30]));
            assert!(!e.detail().contains(&t[..30]));
        }
    }
}

#[test]
fn invalid_ec_point_or_short_coordinates_in_the_jwks() {
    let k = ec();
    let t = good(&k);
    // A point that is not on the curve: y changed.
    let mut jwk = k.public_jwk().unwrap();
    let mut y = base64url_decode(jwk.y.as_deref().unwrap()).unwrap();
    y[31] ^= 1;
    jwk.y = Some(base64url_encode(&y));
    let r = check(&t, &Jwks { keys: vec![jwk] }, NOW);
    expect_err(r, |e| matches!(e, JoseError::BadSignature), INVALID);
    // A coordinate one byte short (leading zero stripped, as some broken issuers do).
    let mut jwk = k.public_jwk().unwrap();
    let x = base64url_decode(jwk.x.as_deref().unwrap()).unwrap();
    jwk.x = Some(base64url_encode(&x[1..]));
    let r = check(&t, &Jwks { keys: vec![jwk] }, NOW);
    expect_err(r, |e| matches!(e, JoseError::KeyMismatch { .. }), INVALID);
}
