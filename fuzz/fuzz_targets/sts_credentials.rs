//! `irsa_sts_core::open_session` with a fixed key ring at a fixed `now`.
//!
//! First byte = mode:
//! - 0: `<session token> 0x00 <access key id>`, opened as is;
//! - 1: the rest is sealed by the target with the ring's active key (same layout as
//!   `issue`) as the claims plaintext, so the fuzzer reaches the claims decoding behind
//!   the AEAD;
//! - other: claims built from the input are issued then opened: open must give back
//!   the same claims and the secret must re-derive.
#![no_main]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use irsa_sts_core::{
    CredError, KeyRing, MAX_SESSION_TOKEN_LEN, SECRET_ACCESS_KEY_LEN, SessionClaims, SessionTag,
    StsError, is_access_key_id, issue_credentials, open_session, secret_access_key,
};
use libfuzzer_sys::fuzz_target;

include!("sts_common.rs");

const AKID: &str = "ASIAABCDEFGHIJKLMNOP";

fn ring() -> &'static KeyRing {
    static R: OnceLock<KeyRing> = OnceLock::new();
    R.get_or_init(sts_keyring)
}

/// Seals `plaintext` the way `issue` does (documented layout in credentials.rs).
fn seal(plaintext: &[u8]) -> String {
    let key = master(1);
    let seal = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &[1u8; 32]),
        b"irsa-sts/v1/session-token",
    );
    let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, seal.as_ref()).expect("aead key"));
    let mut token = vec![1u8];
    token.extend_from_slice(key.id().as_bytes());
    token.extend_from_slice(AKID.as_bytes());
    let nonce = [3u8; 12];
    token.extend_from_slice(&nonce);
    let mut sealed = plaintext.to_vec();
    aead.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(&token[..29]),
        &mut sealed,
    )
    .expect("seal");
    token.extend_from_slice(&sealed);
    base64::engine::general_purpose::STANDARD.encode(token)
}

fn claims(u: &mut Unstructured<'_>) -> arbitrary::Result<SessionClaims> {
    let issued_at = i64::arbitrary(u)?;
    Ok(SessionClaims {
        role_arn: String::arbitrary(u)?,
        role_id: String::arbitrary(u)?,
        session_name: String::arbitrary(u)?,
        subject: String::arbitrary(u)?,
        audience: String::arbitrary(u)?,
        provider_arn: String::arbitrary(u)?,
        issued_at,
        expires_at: i64::arbitrary(u)?,
        session_policy: Option::<String>::arbitrary(u)?,
        policy_arns: Vec::<String>::arbitrary(u)?,
        source_identity: Option::<String>::arbitrary(u)?,
        tags: Vec::<(String, String)>::arbitrary(u)?
            .into_iter()
            .map(|(key, value)| SessionTag { key, value })
            .collect(),
        transitive_tag_keys: Vec::<String>::arbitrary(u)?,
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let ring = ring();
    match mode {
        0 => {
            let (token, akid) = match rest.iter().position(|&b| b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, AKID.as_bytes()),
            };
            let (Ok(token), Ok(akid)) = (std::str::from_utf8(token), std::str::from_utf8(akid))
            else {
                return;
            };
            if let Err(e) = open_session(ring, token, akid, STS_NOW) {
                let s = StsError::from(&e);
                let _ = (e.to_string(), s.code(), s.message());
            }
        }
        1 => {
            let token = seal(rest);
            match open_session(ring, &token, AKID, STS_NOW) {
                Ok(s) => {
                    assert!(STS_NOW < s.claims.expires_at);
                    let secret = secret_access_key(ring, AKID, &s).expect("secret");
                    assert_eq!(secret.len(), SECRET_ACCESS_KEY_LEN);
                }
                Err(CredError::TamperedToken | CredError::Expired { .. }) => {}
                Err(e) => panic!("sealed token failed to open with {e:?}"),
            }
        }
        _ => {
            let mut u = Unstructured::new(rest);
            let Ok(claims) = claims(&mut u) else {
                return;
            };
            let mut rng = rand::rngs::mock::StepRng::new(u64::from(mode), 0x9e37_79b9_7f4a_7c15);
            let creds = match issue_credentials(ring, &claims, &mut rng) {
                Ok(c) => c,
                Err(_) => {
                    assert!(
                        claims.expires_at <= claims.issued_at,
                        "issue refused valid claims"
                    );
                    return;
                }
            };
            assert!(is_access_key_id(&creds.access_key_id));
            let now = claims.issued_at;
            if creds.session_token.len() > MAX_SESSION_TOKEN_LEN {
                // issue() does not bound the token; open() refuses beyond this length.
                assert_eq!(
                    open_session(ring, &creds.session_token, &creds.access_key_id, now),
                    Err(CredError::MalformedToken)
                );
                return;
            }
            match open_session(ring, &creds.session_token, &creds.access_key_id, now) {
                Ok(s) => {
                    assert_eq!(s.claims, claims, "claims changed through issue/open");
                    let secret = secret_access_key(ring, &creds.access_key_id, &s).expect("secret");
                    assert_eq!(secret, creds.secret_access_key);
                }
                Err(e) => panic!("freshly issued token does not open: {e:?}"),
            }
        }
    }
});
