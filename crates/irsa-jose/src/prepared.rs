//! Keys prepared once per JWKS: each key decoded and parsed into aws-lc-rs public keys, so a
//! verification only checks the signature (no base64, no key building per token).

use crate::alg::Algorithm;
use crate::error::JoseError;
use crate::jwk::{Jwk, Jwks, PublicKey, ec_verify_alg};
use crate::jws::{
    Checked, ParsedToken, Validation, VerifiedToken, curve_fits, key_fits, signature_len_fits,
    signature_outcome, verify_claims, verify_header, verify_parsed_header,
};
use aws_lc_rs::signature::{self as s, ParsedPublicKey};

/// A JWKS with its keys decoded and parsed for verification, built once per fetched JWKS
/// and shared (it is `Send + Sync`). [`verify_prepared`] gives exactly the results of
/// [`crate::verify`] with the same JWKS.
pub struct PreparedJwks {
    jwks: Jwks,
    keys: Vec<PreparedKey>,
}

struct PreparedKey {
    /// The key decoded from its members, or why it cannot be (a `KeyMismatch`).
    decoded: Result<PublicKey, JoseError>,
    /// The aws-lc-rs key for each algorithm this key may verify; `None` when aws-lc-rs
    /// refuses it (then no signature verifies, as with [`crate::verify`]).
    parsed: Vec<(Algorithm, Option<ParsedPublicKey>)>,
}

impl std::fmt::Debug for PreparedJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self
            .jwks
            .keys
            .iter()
            .map(|k| k.kid.as_deref().unwrap_or(""))
            .collect();
        f.debug_struct("PreparedJwks").field("kids", &kids).finish()
    }
}

fn rsa_params(alg: Algorithm) -> &'static s::RsaParameters {
    match alg {
        Algorithm::RS384 => &s::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &s::RSA_PKCS1_2048_8192_SHA512,
        _ => &s::RSA_PKCS1_2048_8192_SHA256,
    }
}

fn parse_for(key: &PublicKey, alg: Algorithm) -> Option<ParsedPublicKey> {
    match key {
        PublicKey::Rsa { n, e } => s::RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(rsa_params(alg))
            .ok(),
        PublicKey::Ec { .. } => ParsedPublicKey::new(ec_verify_alg(alg), key.ec_point()).ok(),
    }
}

impl PreparedKey {
    fn new(jwk: &Jwk) -> PreparedKey {
        let decoded = jwk.decode_public_key();
        let parsed = match &decoded {
            Ok(key) => Algorithm::ALL
                .iter()
                .filter(|a| key_fits(jwk, **a).is_ok() && curve_fits(key, **a).is_ok())
                .map(|a| (*a, parse_for(key, *a)))
                .collect(),
            Err(_) => Vec::new(),
        };
        PreparedKey { decoded, parsed }
    }

    /// As `usable_key` + `check_signature` in `verify`: `Err` when the key may not verify
    /// `alg`, else whether the signature verifies.
    fn check(&self, jwk: &Jwk, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<bool, JoseError> {
        key_fits(jwk, alg)?;
        let key = self.decoded.as_ref().map_err(Clone::clone)?;
        curve_fits(key, alg)?;
        if !signature_len_fits(key, sig) {
            return Ok(false);
        }
        Ok(self
            .parsed
            .iter()
            .find(|(a, _)| *a == alg)
            .and_then(|(_, k)| k.as_ref())
            .is_some_and(|k| k.verify_sig(msg, sig).is_ok()))
    }
}

impl PreparedJwks {
    /// Decodes and parses every key of `jwks` (keys that cannot be used are kept, with the
    /// error `verify` would report for them).
    pub fn new(jwks: &Jwks) -> PreparedJwks {
        PreparedJwks {
            keys: jwks.keys.iter().map(PreparedKey::new).collect(),
            jwks: jwks.clone(),
        }
    }

    /// The JWKS these keys were prepared from.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

impl From<&Jwks> for PreparedJwks {
    fn from(jwks: &Jwks) -> PreparedJwks {
        PreparedJwks::new(jwks)
    }
}

/// [`crate::verify`] with prepared keys: the same checks in the same order, the same errors.
pub fn verify_prepared(
    token: &str,
    keys: &PreparedJwks,
    v: &Validation<'_>,
) -> Result<VerifiedToken, JoseError> {
    verify_checked(verify_header(token, v)?, keys, v)
}

/// [`verify_prepared`] of a token already parsed with [`parse_token`](crate::parse_token)
/// (to find its issuer and keys first): the same checks, in the same order, without parsing
/// it twice.
pub fn verify_prepared_parsed(
    token: ParsedToken<'_>,
    keys: &PreparedJwks,
    v: &Validation<'_>,
) -> Result<VerifiedToken, JoseError> {
    verify_checked(verify_parsed_header(token.0, v)?, keys, v)
}

fn verify_checked(
    h: Checked<'_>,
    keys: &PreparedJwks,
    v: &Validation<'_>,
) -> Result<VerifiedToken, JoseError> {
    let (msg, sig) = (
        h.parsed.signing_input.as_bytes(),
        h.parsed.signature.as_slice(),
    );
    // The candidates of `Jwks::candidates`, with their prepared halves.
    let want = h.kid.as_deref().unwrap_or("");
    signature_outcome(
        keys.jwks
            .keys
            .iter()
            .zip(&keys.keys)
            .filter(|(jwk, _)| jwk.kid.as_deref().unwrap_or("") == want)
            .map(|(jwk, pk)| pk.check(jwk, h.alg, msg, sig)),
        &h.kid,
    )?;
    verify_claims(h, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SigningKey, verify};
    use serde_json::{Map, Value, json};

    const ISS: &str = "https://issuer.example";
    const NOW: i64 = 1_700_000_000;

    fn claims(extra: Value) -> Map<String, Value> {
        let mut c = json!({"iss": ISS, "sub": "system:serviceaccount:default:app",
                           "aud": ["sts.amazonaws.com"], "iat": NOW, "exp": NOW + 600})
        .as_object()
        .unwrap()
        .clone();
        for (k, v) in extra.as_object().unwrap() {
            c.insert(k.clone(), v.clone());
        }
        c
    }

    fn header(extra: Value) -> Map<String, Value> {
        extra.as_object().unwrap().clone()
    }

    fn jwk_with(k: &SigningKey, f: impl FnOnce(&mut Jwk)) -> Jwk {
        let mut j = k.public_jwk().unwrap();
        f(&mut j);
        j
    }

    /// `verify` and `verify_prepared` agree on every token against every key set.
    #[test]
    fn prepared_verification_gives_the_same_results() {
        let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
        let rsa384 = SigningKey::from_pem(&rsa.to_pkcs8_pem().unwrap())
            .unwrap()
            .with_algorithm(Algorithm::RS384)
            .unwrap();
        let ec = SigningKey::generate(Algorithm::ES256).unwrap();
        let ec384 = SigningKey::generate(Algorithm::ES384).unwrap();
        let other = SigningKey::generate(Algorithm::ES256).unwrap();
        let sets = vec![
            Jwks {
                keys: vec![rsa.public_jwk().unwrap(), ec.public_jwk().unwrap()],
            },
            Jwks {
                keys: vec![
                    jwk_with(&rsa, |j| j.alg = None),
                    jwk_with(&ec, |j| j.use_ = Some("enc".into())),
                    ec384.public_jwk().unwrap(),
                ],
            },
            Jwks {
                keys: vec![
                    jwk_with(&rsa, |j| j.n = Some("AQAB".into())),
                    jwk_with(&ec, |j| j.crv = Some("P-384".into())),
                    jwk_with(&other, |j| j.kid = ec.public_jwk().unwrap().kid),
                ],
            },
            Jwks {
                keys: vec![
                    jwk_with(&ec, |j| j.kid = None),
                    jwk_with(&rsa, |j| j.kty = "EC".into()),
                ],
            },
            Jwks::default(),
        ];
        let no_kid = header(json!({"kid": null}));
        let mut tokens = vec![
            rsa.sign_jwt(&Map::new(), &claims(json!({}))).unwrap(),
            rsa384.sign_jwt(&Map::new(), &claims(json!({}))).unwrap(),
            ec.sign_jwt(&Map::new(), &claims(json!({}))).unwrap(),
            ec.sign_jwt(&no_kid, &claims(json!({}))).unwrap(),
            ec384.sign_jwt(&Map::new(), &claims(json!({}))).unwrap(),
            other.sign_jwt(&Map::new(), &claims(json!({}))).unwrap(),
            ec.sign_jwt(&Map::new(), &claims(json!({"exp": NOW - 1000})))
                .unwrap(),
            ec.sign_jwt(&Map::new(), &claims(json!({"aud": "nobody"})))
                .unwrap(),
            ec.sign_jwt(&Map::new(), &claims(json!({"iss": "https://other"})))
                .unwrap(),
            ec.sign_jwt(&header(json!({"crit": ["x"]})), &claims(json!({})))
                .unwrap(),
            "not.a.jwt".into(),
        ];
        // A signature of the wrong length and a flipped signature.
        let good = ec.sign_jwt(&Map::new(), &claims(json!({}))).unwrap();
        tokens.push(format!("{}AAAA", good));
        let (input, sig) = good.rsplit_once('.').unwrap();
        let mut raw = crate::base64url_decode(sig).unwrap();
        raw[0] ^= 1;
        tokens.push(format!("{input}.{}", crate::base64url_encode(&raw)));
        let auds = vec!["sts.amazonaws.com".to_owned()];
        let v = Validation::new(ISS, &auds, NOW);
        let mut verified = 0;
        for jwks in &sets {
            let prepared = PreparedJwks::new(jwks);
            assert_eq!(prepared.jwks(), jwks);
            for t in &tokens {
                let a = verify(t, jwks, &v);
                let b = verify_prepared(t, &prepared, &v);
                assert_eq!(a, b, "token {t} against {jwks:?}");
                verified += usize::from(a.is_ok());
            }
        }
        assert!(verified >= 5, "only {verified} tokens verified");
    }
}
