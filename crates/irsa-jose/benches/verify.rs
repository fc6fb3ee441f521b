//! JWT verification throughput beside the raw aws-lc-rs signature verification it wraps.
//! Run with scripts/bench-jose.sh (which also runs `openssl speed` in the same run).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use irsa_jose::{
    Jwks, PreparedJwks, SigningKey, Validation, base64url_decode, verify, verify_prepared,
};
use serde_json::json;
use std::hint::black_box;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let now = 1_700_000_000i64;
    let claims = json!({
        "aud": ["sts.amazonaws.com"], "exp": now + 3600, "iat": now, "nbf": now,
        "iss": "https://oidc.example.com/id/BENCH", "jti": "0b5e0c4e-6f0e-4a43-9d7b-4c3b8b0f0f0f",
        "kubernetes.io": {"namespace": "default", "pod": {"name": "app-0", "uid": "1"},
                          "serviceaccount": {"name": "app", "uid": "2"}},
        "sub": "system:serviceaccount:default:app"
    });
    let claims = claims.as_object().unwrap();
    let aud = vec!["sts.amazonaws.com".to_owned()];
    let mut g = c.benchmark_group("jwt");
    g.throughput(Throughput::Elements(1));
    for (name, file) in [("RS256-2048", "rsa2048-a.key"), ("ES256", "p256-a.key")] {
        let key = SigningKey::from_pem(&fixture(file)).unwrap();
        let token = key.sign_jwt(&serde_json::Map::new(), claims).unwrap();
        let jwks = Jwks {
            keys: vec![key.public_jwk().unwrap()],
        };
        let v = Validation::new("https://oidc.example.com/id/BENCH", &aud, now);
        verify(&token, &jwks, &v).unwrap();
        g.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| verify(black_box(&token), &jwks, &v).unwrap())
        });
        // Keys prepared once (as irsa sts does per JWKS fetch).
        let prepared = PreparedJwks::new(&jwks);
        g.bench_function(format!("verify_prepared/{name}"), |b| {
            b.iter(|| verify_prepared(black_box(&token), &prepared, &v).unwrap())
        });

        // The raw signature check alone, on the same bytes, key pre-parsed.
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = base64url_decode(sig).unwrap();
        let spki = key.public_jwk().unwrap().to_spki_der().unwrap();
        let alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = if name == "ES256" {
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED
        } else {
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256
        };
        let raw_key = raw_public_key(name, &spki);
        let parsed = aws_lc_rs::signature::ParsedPublicKey::new(alg, &raw_key).unwrap();
        parsed.verify_sig(input.as_bytes(), &sig).unwrap();
        g.bench_function(format!("aws-lc-rs/{name}"), |b| {
            b.iter(|| {
                parsed
                    .verify_sig(black_box(input.as_bytes()), black_box(&sig))
                    .unwrap()
            })
        });
    }
    g.finish();
}

/// The key bytes aws-lc-rs takes: PKCS#1 for RSA, the uncompressed point for EC (the SPKI's
/// bit string either way).
fn raw_public_key(_name: &str, spki: &[u8]) -> Vec<u8> {
    use der::Decode;
    let s = spki::SubjectPublicKeyInfoRef::from_der(spki).unwrap();
    s.subject_public_key.raw_bytes().to_vec()
}

criterion_group!(benches, bench);
criterion_main!(benches);
