//! `irsa_jose::peek`: strict JWT parsing without verification, on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    match irsa_jose::peek(token) {
        Ok(t) => {
            let _ = (t.alg(), t.kid(), t.issuer());
            assert!(
                token.len() <= irsa_jose::MAX_TOKEN_BYTES,
                "peek accepted an oversized token"
            );
        }
        Err(e) => {
            let _ = (e.to_string(), e.detail());
        }
    }
});
