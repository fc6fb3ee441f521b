//! The whole pure STS request path on fuzzed input: `Params::parse` (query string
//! and form body) → `decode_sts_request` → for `AssumeRoleWithWebIdentity`,
//! `assume_role_with_web_identity` against a fixed config, the irsa-jose test
//! JWKS and a fixed key ring → XML encoding of the result or of the error.
//!
//! Input: `<query string> 0x00 <body>`; without a 0x00 byte, no query string and the whole
//! input is the body.
#![no_main]

use std::sync::OnceLock;

use irsa_jose::Jwks;
use irsa_sts_core::{
    Config, KeyRing, Params, RequestContext, StsRequest, assume_role_with_web_identity,
    assume_role_with_web_identity_response, decode_sts_request, encode_error, session_policies,
};
use libfuzzer_sys::fuzz_target;

include!("sts_common.rs");
include!("jose_common.rs");

struct Fixed {
    config: Config,
    jwks: Jwks,
    ring: KeyRing,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| Fixed {
        config: sts_config(),
        jwks: fixture_jwks(),
        ring: sts_keyring(),
    })
}

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    let params = Params::parse(query, body);
    let _ = format!("{params:?}");
    let f = fixed();
    let result = decode_sts_request(&params).and_then(|request| match request {
        StsRequest::AssumeRoleWithWebIdentity(req) => {
            let _ = session_policies(&req, &f.config);
            let ctx = RequestContext {
                now: STS_NOW,
                source_ip: Some("192.0.2.1".into()),
                secure_transport: true,
            };
            let mut rng = rand::rngs::mock::StepRng::new(7, 11);
            assume_role_with_web_identity(&req, &f.config, &f.jwks, &f.ring, &ctx, &mut rng)
                .map(|r| assume_role_with_web_identity_response(&r, "req-id"))
        }
        StsRequest::GetCallerIdentity => Ok(String::new()),
    });
    if std::env::var_os("IRSA_FUZZ_DEBUG").is_some() {
        eprintln!(
            "sts_query: {:?}",
            result.as_ref().map(|_| "ok").map_err(|e| e.message())
        );
    }
    if let Err(e) = result {
        let (status, body) = encode_error(&e, "req-id");
        assert!((400..600).contains(&status), "error status {status}");
        assert!(body.contains(e.code()));
    }
});
