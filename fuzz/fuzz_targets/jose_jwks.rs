//! Untrusted key material fetched from an issuer: `Jwks::from_json` (each key converted to
//! DER SPKI and PEM) and `DiscoveryDocument::from_json`; then a valid token signed by a
//! fixture key is verified against the fuzzed JWKS (key import inside `verify`).
#![no_main]

use std::sync::OnceLock;

use irsa_jose::{DiscoveryDocument, Jwks, Validation, verify};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

include!("jose_common.rs");

fn tokens() -> &'static Vec<String> {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let claims: Map<String, Value> = match json!({
            "iss": FIXTURES_ISSUER, "sub": "system:serviceaccount:default:app",
            "aud": "sts.amazonaws.com", "exp": FIXTURES_NOW + 3600, "iat": FIXTURES_NOW,
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let mut with_kid = Vec::new();
        for k in fixture_signers() {
            with_kid.push(k.sign_jwt(&Map::new(), &claims).expect("sign"));
            let mut no_kid = Map::new();
            no_kid.insert("kid".into(), Value::Null);
            with_kid.push(k.sign_jwt(&no_kid, &claims).expect("sign"));
        }
        with_kid
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = DiscoveryDocument::from_json(text) {
        let _ = doc.to_json();
    }
    let Ok(jwks) = Jwks::from_json(text) else {
        return;
    };
    for key in &jwks.keys {
        let _ = key.algorithm();
        if let Ok(der) = key.to_spki_der() {
            let _ = irsa_jose::kube_key_id(&der);
            let _ = key.to_public_pem();
        }
    }
    let _ = jwks.candidates(None).count();
    let _ = Jwks::from_json(&jwks.to_json()).expect("printed JWKS parses back");
    let audiences = ["sts.amazonaws.com".to_owned()];
    let validation = Validation::new(FIXTURES_ISSUER, &audiences, FIXTURES_NOW);
    for t in tokens() {
        let _ = verify(t, &jwks, &validation);
    }
});
