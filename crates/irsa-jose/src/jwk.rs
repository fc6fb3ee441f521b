//! JSON Web Keys (RFC 7517) as kube-apiserver publishes them, built from PEM public keys.

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{JoseError, KeyError};
use der::asn1::{AnyRef, BitString, ObjectIdentifier, UintRef};
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The smallest RSA modulus we accept, in bits (as STS and aws-lc-rs require).
pub const MIN_RSA_BITS: usize = 2048;

/// A JSON Web Key. Field order and names are go-jose's, so a JWKS we serialize is byte for
/// byte what kube-apiserver serves at `/openid/v1/jwks` for the same keys:
/// `{"use":"sig","kty":"RSA","kid":"…","alg":"RS256","n":"…","e":"AQAB"}`.
///
/// Deserializing is lenient (unknown members such as `x5c` land in `extra`, so a JWKS with
/// keys of other types still parses); using a key for verification is strict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `use`: `sig` for our keys. A key whose `use` is present and not `sig` never verifies.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `kty`: `RSA` or `EC` (others parse but never verify).
    pub kty: String,
    /// `kid`. `Some("")` is serialized as `"kid":""` (the pre-1.16 compatibility entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `crv` for EC keys: `P-256`, `P-384`, `P-521`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// `alg`: when present, a token must use exactly this algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// EC x coordinate, base64url, full length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url, full length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url, big-endian without leading zeros.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Every other member, kept as sent (`x5c`, `x5t`, …). Never used to find or build a key.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A JWK Set: `{"keys":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys, in order.
    pub keys: Vec<Jwk>,
}

/// The public part of a key, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// Modulus and exponent, big-endian, no leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed point on the curve of `alg`.
    Ec {
        alg: Algorithm,
        x: Vec<u8>,
        y: Vec<u8>,
    },
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

fn bit_len(b: &[u8]) -> usize {
    let b = strip_zeros(b);
    match b.first() {
        Some(&top) => (b.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    }
}

impl PublicKey {
    /// The algorithm kube-apiserver advertises for this key: RS256 for RSA, ES256/384/512 by curve.
    pub(crate) fn default_alg(&self) -> Algorithm {
        match self {
            PublicKey::Rsa { .. } => Algorithm::RS256,
            PublicKey::Ec { alg, .. } => *alg,
        }
    }

    /// Reads a DER SubjectPublicKeyInfo (RSA or EC P-256/384/521, uncompressed point).
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| KeyError::Invalid(format!("not a subject public key info: {e}")))?;
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::Invalid("public key bit string has unused bits".into()))?;
        let oid = spki.algorithm.oid;
        if oid == OID_RSA {
            PublicKey::from_pkcs1_der(bits)
        } else if oid == OID_EC {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .ok_or_else(|| KeyError::Invalid("ec key without a named curve".into()))?
                .decode_as()
                .map_err(|_| KeyError::Unsupported("ec key without a named curve".into()))?;
            let alg = if curve == OID_P256 {
                Algorithm::ES256
            } else if curve == OID_P384 {
                Algorithm::ES384
            } else if curve == OID_P521 {
                Algorithm::ES512
            } else {
                return Err(KeyError::Unsupported(format!(
                    "ec curve `{curve}` (P-256, P-384, P-521 only)"
                )));
            };
            PublicKey::from_ec_point(alg, bits)
        } else {
            Err(KeyError::Unsupported(format!(
                "key algorithm `{oid}` (RSA and EC only)"
            )))
        }
    }

    /// Reads a DER PKCS#1 RSAPublicKey.
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let k = pkcs1::RsaPublicKey::from_der(der)
            .map_err(|e| KeyError::Invalid(format!("not an rsa public key: {e}")))?;
        let key = PublicKey::Rsa {
            n: strip_zeros(k.modulus.as_bytes()).to_vec(),
            e: strip_zeros(k.public_exponent.as_bytes()).to_vec(),
        };
        key.check()?;
        Ok(key)
    }

    /// Reads an uncompressed SEC1 point (`04 || x || y`) on the curve of `alg`.
    pub(crate) fn from_ec_point(alg: Algorithm, point: &[u8]) -> Result<PublicKey, KeyError> {
        let len = alg
            .coordinate_len()
            .ok_or_else(|| KeyError::Unsupported(format!("`{alg}` is not an ec algorithm")))?;
        match point.split_first() {
            Some((4, rest)) if rest.len() == 2 * len => {
                let (x, y) = rest.split_at(len);
                let key = PublicKey::Ec {
                    alg,
                    x: x.to_vec(),
                    y: y.to_vec(),
                };
                key.check()?;
                Ok(key)
            }
            Some((2 | 3, _)) => Err(KeyError::Unsupported(
                "compressed ec points (kube-apiserver reads uncompressed points only)".into(),
            )),
            _ => Err(KeyError::Invalid("malformed ec point".into())),
        }
    }

    /// Checks the key with aws-lc-rs (size, point on curve).
    fn check(&self) -> Result<(), KeyError> {
        match self {
            PublicKey::Rsa { n, e } => {
                let bits = bit_len(n);
                if bits < MIN_RSA_BITS {
                    return Err(KeyError::Unsupported(format!(
                        "rsa key of {bits} bits (at least {MIN_RSA_BITS} required)"
                    )));
                }
                aws_lc_rs::signature::RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
                    .map(|_| ())
                    .map_err(|e| KeyError::Invalid(format!("rsa public key rejected: {e}")))
            }
            PublicKey::Ec { alg, .. } => {
                aws_lc_rs::signature::ParsedPublicKey::new(ec_verify_alg(*alg), self.ec_point())
                    .map(|_| ())
                    .map_err(|e| KeyError::Invalid(format!("ec public key rejected: {e}")))
            }
        }
    }

    pub(crate) fn ec_point(&self) -> Vec<u8> {
        match self {
            PublicKey::Ec { x, y, .. } => {
                let mut p = Vec::with_capacity(1 + x.len() + y.len());
                p.push(4);
                p.extend_from_slice(x);
                p.extend_from_slice(y);
                p
            }
            PublicKey::Rsa { .. } => Vec::new(),
        }
    }

    /// The DER SubjectPublicKeyInfo exactly as Go's `x509.MarshalPKIXPublicKey` writes it
    /// (RSA with NULL parameters; EC with the named curve and an uncompressed point).
    pub(crate) fn spki_der(&self) -> Result<Vec<u8>, KeyError> {
        let enc = |e: der::Error| KeyError::Invalid(format!("cannot encode public key: {e}"));
        let (algorithm, key_bytes) = match self {
            PublicKey::Rsa { n, e } => {
                let pkcs1 = pkcs1::RsaPublicKey {
                    modulus: UintRef::new(n).map_err(enc)?,
                    public_exponent: UintRef::new(e).map_err(enc)?,
                }
                .to_der()
                .map_err(enc)?;
                let alg = AlgorithmIdentifierOwned {
                    oid: OID_RSA,
                    parameters: Some(AnyRef::NULL.into()),
                };
                (alg, pkcs1)
            }
            PublicKey::Ec { alg, .. } => {
                let curve = match alg {
                    Algorithm::ES384 => OID_P384,
                    Algorithm::ES512 => OID_P521,
                    _ => OID_P256,
                };
                let alg = AlgorithmIdentifierOwned {
                    oid: OID_EC,
                    parameters: Some(der::Any::encode_from(&curve).map_err(enc)?),
                };
                (alg, self.ec_point())
            }
        };
        SubjectPublicKeyInfoOwned {
            algorithm,
            subject_public_key: BitString::from_bytes(&key_bytes).map_err(enc)?,
        }
        .to_der()
        .map_err(enc)
    }

    /// The JWK kube-apiserver publishes for this key.
    pub(crate) fn to_jwk(&self) -> Result<Jwk, KeyError> {
        let kid = kube_key_id(&self.spki_der()?);
        let mut jwk = Jwk {
            use_: Some("sig".into()),
            kty: String::new(),
            kid: Some(kid),
            crv: None,
            alg: Some(self.default_alg().as_str().into()),
            x: None,
            y: None,
            n: None,
            e: None,
            extra: serde_json::Map::new(),
        };
        match self {
            PublicKey::Rsa { n, e } => {
                jwk.kty = "RSA".into();
                jwk.n = Some(b64::encode(n));
                jwk.e = Some(b64::encode(e));
            }
            PublicKey::Ec { alg, x, y } => {
                jwk.kty = "EC".into();
                jwk.crv = alg.curve().map(str::to_owned);
                jwk.x = Some(b64::encode(x));
                jwk.y = Some(b64::encode(y));
            }
        }
        Ok(jwk)
    }
}

pub(crate) fn ec_verify_alg(
    alg: Algorithm,
) -> &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm {
    match alg {
        Algorithm::ES384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => &aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED,
        _ => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
    }
}

/// The key id kube-apiserver gives a public key: base64url (no padding) of the SHA-256 of
/// the DER SubjectPublicKeyInfo (`keyIDFromPublicKey` in pkg/serviceaccount/jwt.go).
pub fn kube_key_id(spki_der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki_der);
    b64::encode(d.as_ref())
}

/// Reads every key in a PEM file the way kube-apiserver reads `--service-account-key-file`:
/// `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1), `CERTIFICATE` (X.509), and the public part
/// of `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) and `EC PRIVATE KEY` (SEC1) blocks.
/// Other blocks (e.g. `EC PARAMETERS`) are skipped. Errors when no key is found.
pub fn jwks_from_pem(pem_text: &str) -> Result<Vec<Jwk>, KeyError> {
    let blocks = pem::parse_many(pem_text).map_err(|e| KeyError::Pem(e.to_string()))?;
    let mut out = Vec::new();
    for block in &blocks {
        let key = match block.tag() {
            "PUBLIC KEY" => PublicKey::from_spki_der(block.contents())?,
            "RSA PUBLIC KEY" => PublicKey::from_pkcs1_der(block.contents())?,
            "CERTIFICATE" => PublicKey::from_spki_der(&certificate_spki_der(block.contents())?)?,
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                crate::sign::SigningKey::from_pem_block(block.tag(), block.contents())?
                    .public_key()
                    .clone()
            }
            _ => continue,
        };
        out.push(key.to_jwk()?);
    }
    if out.is_empty() {
        return Err(KeyError::Pem(
            "no `PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE` or private key block found".into(),
        ));
    }
    Ok(out)
}

/// The DER SubjectPublicKeyInfo inside a DER X.509 certificate.
fn certificate_spki_der(cert_der: &[u8]) -> Result<Vec<u8>, KeyError> {
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| KeyError::Invalid(format!("not an x.509 certificate: {e}")))?;
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| KeyError::Invalid(format!("cannot encode public key: {e}")))
}

impl Jwk {
    /// The JWK for the first public key (SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY` or X.509
    /// `CERTIFICATE`; private key blocks also work) in `pem`, with `use:"sig"`, `alg` (RS256 for
    /// RSA; ES256/ES384/ES512 by curve) and `kid` computed as kube-apiserver computes it.
    pub fn from_public_pem(pem: &str) -> Result<Jwk, KeyError> {
        jwks_from_pem(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| KeyError::Pem("no key found".into()))
    }

    /// The JWK for a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Jwk, KeyError> {
        PublicKey::from_spki_der(der)?.to_jwk()
    }

    /// The algorithm this key verifies: its `alg` if set, else RS256 for RSA and the curve's
    /// algorithm for EC. `None` for keys we cannot use.
    pub fn algorithm(&self) -> Option<Algorithm> {
        match &self.alg {
            Some(a) => Algorithm::from_name(a),
            None => match self.kty.as_str() {
                "RSA" => Some(Algorithm::RS256),
                "EC" => self.crv.as_deref().and_then(Algorithm::for_curve),
                _ => None,
            },
        }
    }

    /// The DER SubjectPublicKeyInfo of this key (canonical form, as Go writes it).
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        self.public_key()
            .map_err(|e| KeyError::Invalid(e.detail()))?
            .spki_der()
    }

    /// The SPKI `PUBLIC KEY` PEM of this key.
    pub fn to_public_pem(&self) -> Result<String, KeyError> {
        Ok(pem::encode(&pem::Pem::new(
            "PUBLIC KEY",
            self.to_spki_der()?,
        )))
    }

    /// This JWK with another `kid` (e.g. `Some("")` for the pre-1.16 compatibility entry).
    #[must_use]
    pub fn with_kid(mut self, kid: Option<String>) -> Jwk {
        self.kid = kid;
        self
    }

    /// Decodes the key material strictly and validates it with aws-lc-rs (no use/alg checks).
    pub(crate) fn public_key(&self) -> Result<PublicKey, JoseError> {
        let key = self.decode_public_key()?;
        key.check().map_err(|e| JoseError::KeyMismatch {
            reason: e.to_string(),
        })?;
        Ok(key)
    }

    /// Decodes the key material strictly: RSA moduli of at least 2048 bits, EC coordinates of
    /// the curve's exact length. Validity of the numbers is left to the signature check (which
    /// refuses invalid keys), so verification parses each key once.
    pub(crate) fn decode_public_key(&self) -> Result<PublicKey, JoseError> {
        let mismatch = |reason: String| JoseError::KeyMismatch { reason };
        let field = |name: &str, v: &Option<String>| -> Result<Vec<u8>, JoseError> {
            let s = v
                .as_deref()
                .ok_or_else(|| mismatch(format!("jwk has no `{name}`")))?;
            b64::decode(s).ok_or_else(|| mismatch(format!("jwk `{name}` is not base64url")))
        };
        match self.kty.as_str() {
            "RSA" => {
                let n = field("n", &self.n)?;
                let e = field("e", &self.e)?;
                let bits = bit_len(&n);
                if bits < MIN_RSA_BITS {
                    return Err(mismatch(format!(
                        "rsa key of {bits} bits (at least {MIN_RSA_BITS} required)"
                    )));
                }
                Ok(PublicKey::Rsa {
                    n: strip_zeros(&n).to_vec(),
                    e: strip_zeros(&e).to_vec(),
                })
            }
            "EC" => {
                let crv = self
                    .crv
                    .as_deref()
                    .ok_or_else(|| mismatch("ec jwk has no `crv`".into()))?;
                let alg = Algorithm::for_curve(crv)
                    .ok_or_else(|| mismatch(format!("unsupported curve `{crv}`")))?;
                let x = field("x", &self.x)?;
                let y = field("y", &self.y)?;
                let len = alg.coordinate_len().unwrap_or(0);
                if x.len() != len || y.len() != len {
                    return Err(mismatch(format!(
                        "ec coordinates must be {len} bytes for `{crv}`"
                    )));
                }
                Ok(PublicKey::Ec { alg, x, y })
            }
            other => Err(mismatch(format!("unsupported key type `{other}`"))),
        }
    }
}

impl Jwks {
    /// The keys a token with this `kid` may be verified with: keys whose `kid` equals it; for a
    /// token without `kid` (or with `kid:""`), keys whose `kid` is empty or absent.
    pub fn candidates<'a>(&'a self, kid: Option<&'a str>) -> impl Iterator<Item = &'a Jwk> + 'a {
        let want = kid.unwrap_or("");
        self.keys
            .iter()
            .filter(move |k| k.kid.as_deref().unwrap_or("") == want)
    }

    /// Parses a JWKS document (lenient about members, strict about shape `{"keys":[…]}`).
    pub fn from_json(json: &str) -> Result<Jwks, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The JWKS as compact JSON, as kube-apiserver serves it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// (file, kid computed by openssl) from tests/fixtures/kids.txt.
    fn kids() -> Vec<(String, String)> {
        fixture("kids.txt")
            .lines()
            .map(|l| {
                let (f, k) = l.split_once(' ').unwrap();
                (f.to_owned(), k.to_owned())
            })
            .collect()
    }

    #[test]
    fn kid_matches_openssl_for_every_fixture_key() {
        for (file, kid) in kids() {
            let r = Jwk::from_public_pem(&fixture(&file));
            if file == "rsa1024.pub" {
                assert!(matches!(r, Err(KeyError::Unsupported(_))), "{r:?}");
                continue;
            }
            let jwk = r.unwrap();
            assert_eq!(jwk.kid.as_deref(), Some(kid.as_str()), "{file}");
            // The private key gives the same JWK.
            let private = fixture(&file.replace(".pub", ".key"));
            assert_eq!(Jwk::from_public_pem(&private).unwrap(), jwk, "{file}");
            // And the SPKI we re-encode is byte-identical to openssl's.
            let der = pem::parse(fixture(&file)).unwrap().into_contents();
            assert_eq!(jwk.to_spki_der().unwrap(), der, "{file}");
        }
    }

    #[test]
    fn pkcs1_and_certificate_and_traditional_private_keys_give_the_same_jwk() {
        let want = Jwk::from_public_pem(&fixture("rsa2048-a.pub")).unwrap();
        for f in [
            "rsa2048-a.pkcs1.pub",
            "rsa2048-a.crt",
            "rsa2048-a.pkcs1.key",
        ] {
            assert_eq!(Jwk::from_public_pem(&fixture(f)).unwrap(), want, "{f}");
        }
        let want = Jwk::from_public_pem(&fixture("p256-a.pub")).unwrap();
        assert_eq!(
            Jwk::from_public_pem(&fixture("p256-a.sec1.key")).unwrap(),
            want
        );
    }

    #[test]
    fn jwk_json_is_kube_apiservers_shape() {
        let rsa = Jwk::from_public_pem(&fixture("rsa2048-a.pub")).unwrap();
        let s = serde_json::to_string(&rsa).unwrap();
        let kid = rsa.kid.clone().unwrap();
        assert!(
            s.starts_with(&format!(
                r#"{{"use":"sig","kty":"RSA","kid":"{kid}","alg":"RS256","n":""#
            )),
            "{s}"
        );
        assert!(s.ends_with(r#"","e":"AQAB"}"#), "{s}");
        let n = b64::decode(rsa.n.as_deref().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        assert_ne!(n.first(), Some(&0));

        for (f, crv, alg, len) in [
            ("p256-a.pub", "P-256", "ES256", 32),
            ("p384.pub", "P-384", "ES384", 48),
            ("p521.pub", "P-521", "ES512", 66),
        ] {
            let ec = Jwk::from_public_pem(&fixture(f)).unwrap();
            let s = serde_json::to_string(&ec).unwrap();
            let kid = ec.kid.clone().unwrap();
            assert!(
                s.starts_with(&format!(
                    r#"{{"use":"sig","kty":"EC","kid":"{kid}","crv":"{crv}","alg":"{alg}","x":""#
                )),
                "{s}"
            );
            assert_eq!(b64::decode(ec.x.as_deref().unwrap()).unwrap().len(), len);
            assert_eq!(b64::decode(ec.y.as_deref().unwrap()).unwrap().len(), len);
            assert_eq!(ec.algorithm().map(|a| a.as_str()), Some(alg));
        }
        // kid "" is written out, not omitted.
        let empty = rsa.with_kid(Some(String::new()));
        assert!(
            serde_json::to_string(&empty)
                .unwrap()
                .contains(r#""kid":"""#)
        );
    }

    #[test]
    fn jwks_parsing_is_lenient_about_members() {
        let json = r#"{"keys":[
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"},
            {"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB","x5c":["MIIB"],"x5t":"abc","use":"sig"}
        ]}"#;
        let jwks = Jwks::from_json(json).unwrap();
        assert_eq!(jwks.keys.len(), 2);
        assert!(jwks.keys[1].extra.contains_key("x5c"));
        assert_eq!(jwks.candidates(Some("a")).count(), 1);
        assert_eq!(jwks.candidates(None).count(), 0);
        // Round trip keeps the extra members.
        let back = Jwks::from_json(&jwks.to_json()).unwrap();
        assert_eq!(back, jwks);
    }

    #[test]
    fn bad_pem_inputs() {
        assert!(matches!(
            Jwk::from_public_pem("hello"),
            Err(KeyError::Pem(_))
        ));
        let junk = pem::encode(&pem::Pem::new("PUBLIC KEY", vec![1, 2, 3]));
        assert!(matches!(
            Jwk::from_public_pem(&junk),
            Err(KeyError::Invalid(_))
        ));
        let params =
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
        assert!(Jwk::from_public_pem(params).is_err());
        // EC PARAMETERS followed by a key (as `openssl ecparam -genkey` writes) works.
        let both = format!("{params}{}", fixture("p256-a.sec1.key"));
        assert!(Jwk::from_public_pem(&both).is_ok());
    }
}
