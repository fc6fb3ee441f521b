//! Signing keys for the local issuer and for tests (RS256/384/512, ES256/384/512).
//!
//! The one exception to this crate's purity: RSA and ECDSA key generation and ECDSA signing
//! take randomness from aws-lc-rs's own system random source (aws-lc-rs does not accept a
//! caller's generator for these operations). Verification is fully deterministic and pure.

use crate::alg::Algorithm;
use crate::b64;
use crate::error::KeyError;
use crate::jwk::{Jwk, PublicKey, kube_key_id};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self as s, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Map, Value};

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private key that signs JWTs, with its kube-style `kid`.
pub struct SigningKey {
    alg: Algorithm,
    inner: Inner,
    public: PublicKey,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn ec_signing(alg: Algorithm) -> &'static s::EcdsaSigningAlgorithm {
    match alg {
        Algorithm::ES384 => &s::ECDSA_P384_SHA384_FIXED_SIGNING,
        Algorithm::ES512 => &s::ECDSA_P521_SHA512_FIXED_SIGNING,
        _ => &s::ECDSA_P256_SHA256_FIXED_SIGNING,
    }
}

const EC_ALGS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::ES384, Algorithm::ES512];

impl SigningKey {
    fn from_rsa(kp: RsaKeyPair) -> Result<SigningKey, KeyError> {
        let public = PublicKey::from_pkcs1_der(kp.public_key().as_ref())?;
        SigningKey::finish(Algorithm::RS256, Inner::Rsa(kp), public)
    }

    fn from_ec(alg: Algorithm, kp: EcdsaKeyPair) -> Result<SigningKey, KeyError> {
        let public = PublicKey::from_ec_point(alg, kp.public_key().as_ref())?;
        SigningKey::finish(alg, Inner::Ec(kp), public)
    }

    fn finish(alg: Algorithm, inner: Inner, public: PublicKey) -> Result<SigningKey, KeyError> {
        let kid = kube_key_id(&public.spki_der()?);
        Ok(SigningKey {
            alg,
            inner,
            public,
            kid,
        })
    }

    /// Generates a key: RSA 2048 for `RS256`/`RS384`/`RS512`, P-256/P-384/P-521 for
    /// `ES256`/`ES384`/`ES512`. Uses the system random source (see the module docs).
    pub fn generate(alg: Algorithm) -> Result<SigningKey, KeyError> {
        let crypto = |e: aws_lc_rs::error::Unspecified| KeyError::Crypto(e.to_string());
        if alg.is_rsa() {
            let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(crypto)?;
            SigningKey::from_rsa(kp)?.with_algorithm(alg)
        } else {
            let kp = EcdsaKeyPair::generate(ec_signing(alg)).map_err(crypto)?;
            SigningKey::from_ec(alg, kp)
        }
    }

    /// Reads the first private key in `pem`: `PRIVATE KEY` (PKCS#8, RSA or EC),
    /// `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1). RSA keys sign RS256 (see
    /// [`SigningKey::with_algorithm`]); EC keys sign with their curve's algorithm.
    pub fn from_pem(pem_text: &str) -> Result<SigningKey, KeyError> {
        let blocks = pem::parse_many(pem_text).map_err(|e| KeyError::Pem(e.to_string()))?;
        for b in &blocks {
            if matches!(
                b.tag(),
                "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"
            ) {
                return SigningKey::from_pem_block(b.tag(), b.contents());
            }
        }
        Err(KeyError::Pem(
            "no `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block found".into(),
        ))
    }

    pub(crate) fn from_pem_block(tag: &str, der: &[u8]) -> Result<SigningKey, KeyError> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            KeyError::Unsupported(format!("private key rejected: {e}"))
        };
        match tag {
            "RSA PRIVATE KEY" => SigningKey::from_rsa(RsaKeyPair::from_der(der).map_err(rejected)?),
            "PRIVATE KEY" => {
                let rsa_err = match RsaKeyPair::from_pkcs8(der) {
                    Ok(kp) => return SigningKey::from_rsa(kp),
                    Err(e) => e,
                };
                for alg in EC_ALGS {
                    if let Ok(kp) = EcdsaKeyPair::from_pkcs8(ec_signing(alg), der) {
                        return SigningKey::from_ec(alg, kp);
                    }
                }
                Err(KeyError::Unsupported(format!(
                    "pkcs#8 key is neither rsa (2048 bits or more) nor ec p-256/p-384/p-521: {rsa_err}"
                )))
            }
            "EC PRIVATE KEY" => {
                for alg in EC_ALGS {
                    if let Ok(kp) = EcdsaKeyPair::from_private_key_der(ec_signing(alg), der) {
                        return SigningKey::from_ec(alg, kp);
                    }
                }
                Err(KeyError::Unsupported(
                    "ec private key is not on p-256, p-384 or p-521".into(),
                ))
            }
            other => Err(KeyError::Pem(format!(
                "`{other}` is not a private key block"
            ))),
        }
    }

    /// The same RSA key signing with another RSA algorithm (RS256/RS384/RS512). EC keys have
    /// one algorithm each; asking for another is an error.
    pub fn with_algorithm(mut self, alg: Algorithm) -> Result<SigningKey, KeyError> {
        match (&self.inner, alg.is_rsa()) {
            (Inner::Rsa(_), true) => {
                self.alg = alg;
                Ok(self)
            }
            _ if alg == self.alg => Ok(self),
            _ => Err(KeyError::Unsupported(format!(
                "a `{}` key cannot sign `{alg}`",
                self.alg
            ))),
        }
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id kube-apiserver would give the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public JWK (as kube-apiserver publishes it: `alg` is RS256 for every RSA key).
    pub fn public_jwk(&self) -> Result<Jwk, KeyError> {
        self.public.to_jwk()
    }

    /// The public key as SPKI `PUBLIC KEY` PEM.
    pub fn public_key_pem(&self) -> Result<String, KeyError> {
        Ok(pem::encode(&pem::Pem::new(
            "PUBLIC KEY",
            self.public.spki_der()?,
        )))
    }

    /// The private key as PKCS#8 `PRIVATE KEY` PEM. Handle with care: this is the secret.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let crypto = |e: aws_lc_rs::error::Unspecified| KeyError::Crypto(e.to_string());
        let der = match &self.inner {
            Inner::Rsa(kp) => kp.as_der().map_err(crypto)?.as_ref().to_vec(),
            Inner::Ec(kp) => kp.to_pkcs8v1().map_err(crypto)?.as_ref().to_vec(),
        };
        Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", der)))
    }

    /// Signs raw bytes with this key's algorithm; ECDSA signatures are raw `r||s` (JOSE form).
    pub fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let crypto = |e: aws_lc_rs::error::Unspecified| KeyError::Crypto(e.to_string());
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.inner {
            Inner::Rsa(kp) => {
                let enc: &'static dyn s::RsaEncoding = match self.alg {
                    Algorithm::RS384 => &s::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &s::RSA_PKCS1_SHA512,
                    _ => &s::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(enc, &rng, msg, &mut sig).map_err(crypto)?;
                Ok(sig)
            }
            Inner::Ec(kp) => Ok(kp.sign(&rng, msg).map_err(crypto)?.as_ref().to_vec()),
        }
    }

    /// Signs a JWT: header `{"alg":…,"kid":…}` followed by `header_extras` (a `"kid": null`
    /// extra removes `kid`, as pre-1.16 clusters sign; `alg` cannot be overridden), then the
    /// claims as given. Returns the compact serialization.
    pub fn sign_jwt(
        &self,
        header_extras: &Map<String, Value>,
        claims: &Map<String, Value>,
    ) -> Result<String, KeyError> {
        let mut header = Map::new();
        header.insert("alg".into(), Value::String(self.alg.as_str().into()));
        header.insert("kid".into(), Value::String(self.kid.clone()));
        for (k, v) in header_extras {
            match (k.as_str(), v) {
                ("alg", _) => {
                    return Err(KeyError::Unsupported(
                        "the `alg` header is set by the key".into(),
                    ));
                }
                ("kid", Value::Null) => {
                    header.remove("kid");
                }
                _ => {
                    header.insert(k.clone(), v.clone());
                }
            }
        }
        let json = |m: &Map<String, Value>| {
            serde_json::to_vec(m).map_err(|e| KeyError::Invalid(e.to_string()))
        };
        let mut out = format!(
            "{}.{}",
            b64::encode(&json(&header)?),
            b64::encode(&json(claims)?)
        );
        let sig = self.sign_bytes(out.as_bytes())?;
        out.push('.');
        out.push_str(&b64::encode(&sig));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::Jwks;
    use crate::jws::{Validation, verify};

    #[test]
    fn generate_sign_verify_and_pem_round_trip() {
        for alg in [Algorithm::RS256, Algorithm::ES256] {
            let k = SigningKey::generate(alg).unwrap();
            assert_eq!(k.algorithm(), alg);
            let again = SigningKey::from_pem(&k.to_pkcs8_pem().unwrap()).unwrap();
            assert_eq!(again.kid(), k.kid());
            let from_pub = crate::Jwk::from_public_pem(&k.public_key_pem().unwrap()).unwrap();
            assert_eq!(from_pub, k.public_jwk().unwrap());
            let mut claims = Map::new();
            claims.insert("iss".into(), "https://i".into());
            claims.insert("sub".into(), "s".into());
            claims.insert("aud".into(), "a".into());
            claims.insert("exp".into(), 100.into());
            let t = k.sign_jwt(&Map::new(), &claims).unwrap();
            let jwks = Jwks {
                keys: vec![again.public_jwk().unwrap()],
            };
            let aud = vec!["a".to_owned()];
            let v = verify(&t, &jwks, &Validation::new("https://i", &aud, 50)).unwrap();
            assert_eq!(v.kid.as_deref(), Some(k.kid()));
            assert!(format!("{k:?}").contains("kid"));
        }
    }

    #[test]
    fn header_extras() {
        let k = SigningKey::generate(Algorithm::ES256).unwrap();
        let mut extras = Map::new();
        extras.insert("alg".into(), "none".into());
        assert!(k.sign_jwt(&extras, &Map::new()).is_err());
        let mut extras = Map::new();
        extras.insert("typ".into(), "JWT".into());
        let t = k.sign_jwt(&extras, &Map::new()).unwrap();
        let h = crate::peek(&t).unwrap().header;
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            format!(r#"{{"alg":"ES256","kid":"{}","typ":"JWT"}}"#, k.kid())
        );
        assert!(k.clone_alg_error());
    }

    impl SigningKey {
        fn clone_alg_error(self) -> bool {
            self.with_algorithm(Algorithm::RS256).is_err()
        }
    }
}
