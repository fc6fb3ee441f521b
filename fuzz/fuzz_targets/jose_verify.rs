//! `irsa_jose::verify` against a fixed JWKS (the irsa-jose test keys) at a fixed `now`.
//!
//! Input, first byte = mode:
//! - even: the rest is the token text, verified as is;
//! - odd: the rest is `<header JSON> 0x00 <claims JSON>`; the target base64url-encodes
//!   both and signs them with one of the fixture private keys (chosen by the mode byte),
//!   so the fuzzer reaches the claim checks behind the signature.
//!
//! Invariants: no panic; a token that verifies also passes `peek`, and the verified
//! token's issuer/audience are the expected ones.
#![no_main]

use std::sync::OnceLock;

use irsa_jose::{Jwks, SigningKey, Validation, base64url_encode, peek, verify};
use libfuzzer_sys::fuzz_target;

include!("jose_common.rs");

struct Fixed {
    jwks: Jwks,
    signers: Vec<SigningKey>,
    audiences: Vec<String>,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| Fixed {
        jwks: fixture_jwks(),
        signers: fixture_signers(),
        audiences: vec!["sts.amazonaws.com".to_owned(), "other".to_owned()],
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixed();
    let token = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        }
    } else {
        let (header, claims) = match rest.iter().position(|&b| b == 0) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        let signing_input = format!("{}.{}", base64url_encode(header), base64url_encode(claims));
        let signer = &f.signers[usize::from(mode / 2) % f.signers.len()];
        let Ok(sig) = signer.sign_bytes(signing_input.as_bytes()) else {
            return;
        };
        format!("{signing_input}.{}", base64url_encode(&sig))
    };
    let validation = Validation::new(FIXTURES_ISSUER, &f.audiences, FIXTURES_NOW);
    match verify(&token, &f.jwks, &validation) {
        Ok(v) => {
            assert!(
                peek(&token).is_ok(),
                "verify accepted a token that peek rejects"
            );
            if std::env::var_os("IRSA_FUZZ_DEBUG").is_some() {
                eprintln!("jose_verify: verified ({:?}, kid {:?})", v.alg, v.kid);
            }
            assert_eq!(v.iss, FIXTURES_ISSUER);
            assert_ne!(
                v.kid.as_deref(),
                Some("m-OdTtagIVCQEEtWolhuwy-aRbVDF5A-zWS9sVLdzFQ"),
                "accepted a signature by the 1024-bit RSA key"
            );
            assert!(
                f.audiences.contains(&v.audience),
                "matched audience not configured"
            );
            assert!(v.aud.contains(&v.audience));
            assert!(
                FIXTURES_NOW < v.exp + irsa_jose::DEFAULT_LEEWAY_SECS,
                "expired token accepted"
            );
        }
        Err(e) => {
            let _ = (
                e.to_string(),
                irsa_sts_core::StsError::from(&e).code(),
                e.detail(),
            );
        }
    }
});
