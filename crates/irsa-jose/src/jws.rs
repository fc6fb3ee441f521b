//! Compact JWS parsing and JWT verification.

use crate::alg::Algorithm;
use crate::b64;
use crate::error::JoseError;
use crate::jwk::{Jwk, Jwks, PublicKey, ec_verify_alg};
use serde_json::{Map, Value};

/// The largest token we read, in bytes: STS's limit for `WebIdentityToken`.
pub const MAX_TOKEN_BYTES: usize = 20_000;

/// The clock skew STS allows after `exp` (and that we allow before `nbf`), in seconds.
pub const DEFAULT_LEEWAY_SECS: i64 = 300;

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone, Copy)]
pub struct Validation<'a> {
    /// The expected `iss`, compared exactly (no slash or scheme normalisation).
    pub issuer: &'a str,
    /// The accepted audiences (the provider's client IDs): the token's `aud` must contain one.
    pub audiences: &'a [String],
    /// The verification time, unix seconds.
    pub now: i64,
    /// Allowed clock skew in seconds ([`DEFAULT_LEEWAY_SECS`] = 300, as STS).
    pub leeway_secs: i64,
    /// The accepted algorithms ([`Algorithm::ALL`] by default).
    pub algorithms: &'a [Algorithm],
}

impl<'a> Validation<'a> {
    /// A validation with STS's defaults: 300 s of skew, all six algorithms.
    pub fn new(issuer: &'a str, audiences: &'a [String], now: i64) -> Validation<'a> {
        Validation {
            issuer,
            audiences,
            now,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            algorithms: &Algorithm::ALL,
        }
    }
}

/// A token parsed strictly but NOT verified: use it to find the provider by `iss` or to show
/// a token, never to trust it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedToken {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
}

impl UnverifiedToken {
    /// The `alg` header, if a string.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
    /// The `kid` header, if a string.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
    /// The `iss` claim, if a string.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
}

/// A token whose signature and claims have been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// All claims.
    pub claims: Map<String, Value>,
    /// The algorithm it was signed with.
    pub alg: Algorithm,
    /// The `kid` header (`None` when absent or empty).
    pub kid: Option<String>,
    /// `iss` (equal to the validation's issuer).
    pub iss: String,
    /// `sub`.
    pub sub: String,
    /// `aud`, always as a list.
    pub aud: Vec<String>,
    /// The first `aud` value that is an accepted audience (STS echoes it as `Audience`).
    pub audience: String,
    /// `exp`.
    pub exp: i64,
    /// `iat`, if present.
    pub iat: Option<i64>,
    /// `nbf`, if present.
    pub nbf: Option<i64>,
}

/// A compact JWS parsed strictly (as [`peek`] parses it), nothing verified yet: read its
/// `kid` and `iss` to find the keys, then verify it with
/// [`verify_prepared_parsed`](crate::verify_prepared_parsed) without parsing it again.
pub struct ParsedToken<'t>(pub(crate) Parsed<'t>);

/// Shows only `alg`, `kid` and `iss`: the token itself (a bearer credential) is never
/// printed.
impl std::fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedToken")
            .field("alg", &self.alg())
            .field("kid", &self.kid())
            .field("iss", &self.issuer())
            .finish_non_exhaustive()
    }
}

impl ParsedToken<'_> {
    /// The `kid` header, if a string.
    pub fn kid(&self) -> Option<&str> {
        self.0.header.get("kid").and_then(Value::as_str)
    }
    /// The `iss` claim, if a string.
    pub fn issuer(&self) -> Option<&str> {
        self.0.claims.get("iss").and_then(Value::as_str)
    }
    /// The `alg` header, if a string.
    pub fn alg(&self) -> Option<&str> {
        self.0.header.get("alg").and_then(Value::as_str)
    }
    /// A claim as the token carries it (unverified).
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.0.claims.get(name)
    }
}

/// Parses a compact JWS strictly (see [`peek`]) and keeps it for verification.
pub fn parse_token(token: &str) -> Result<ParsedToken<'_>, JoseError> {
    parse(token).map(ParsedToken)
}

pub(crate) struct Parsed<'t> {
    pub(crate) signing_input: &'t str,
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) signature: Vec<u8>,
}

fn malformed(reason: impl Into<String>) -> JoseError {
    JoseError::Malformed {
        reason: reason.into(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A JSON object whose top level has no duplicate member names.
fn parse_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, JoseError> {
    struct Strict(Map<String, Value>);
    impl<'de> serde::Deserialize<'de> for Strict {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Strict;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a json object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Strict, A::Error> {
                    let mut m = Map::new();
                    while let Some((k, v)) = a.next_entry::<String, Value>()? {
                        if m.contains_key(&k) {
                            return Err(serde::de::Error::custom(format!(
                                "duplicate member `{}`",
                                truncate(&k, 64)
                            )));
                        }
                        m.insert(k, v);
                    }
                    Ok(Strict(m))
                }
            }
            d.deserialize_any(V)
        }
    }
    serde_json::from_slice::<Strict>(bytes)
        .map(|s| s.0)
        .map_err(|e| malformed(format!("{what} is not a json object: {e}")))
}

fn parse(token: &str) -> Result<Parsed<'_>, JoseError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed(format!(
            "token is {} bytes, more than {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let n = token.split('.').count();
        return Err(malformed(format!(
            "expected 3 dot-separated segments, found {n}"
        )));
    };
    let decode = |seg: &str, what: &str| {
        b64::decode(seg).ok_or_else(|| malformed(format!("{what} is not unpadded base64url")))
    };
    if h.is_empty() || p.is_empty() {
        return Err(malformed("empty header or payload segment"));
    }
    let header = parse_object(&decode(h, "header")?, "header")?;
    match header.get("alg") {
        Some(Value::String(_)) => {}
        Some(_) => return Err(malformed("`alg` header is not a string")),
        None => return Err(malformed("no `alg` header")),
    }
    let claims = parse_object(&decode(p, "payload")?, "payload")?;
    let signature = decode(s, "signature")?;
    let signing_input = token
        .get(..h.len() + 1 + p.len())
        .ok_or_else(|| malformed("bad segment boundaries"))?;
    Ok(Parsed {
        signing_input,
        header,
        claims,
        signature,
    })
}

/// Parses a compact JWS strictly (size, three unpadded base64url segments, JSON objects
/// without duplicate members, a string `alg` header) WITHOUT verifying anything else.
pub fn peek(token: &str) -> Result<UnverifiedToken, JoseError> {
    let p = parse(token)?;
    Ok(UnverifiedToken {
        header: p.header,
        claims: p.claims,
    })
}

fn header_alg(header: &Map<String, Value>, allowed: &[Algorithm]) -> Result<Algorithm, JoseError> {
    let alg = match header.get("alg") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(malformed("`alg` header is not a string")),
        None => return Err(malformed("no `alg` header")),
    };
    match Algorithm::from_name(alg) {
        Some(a) if allowed.contains(&a) => Ok(a),
        _ => Err(JoseError::UnsupportedAlgorithm {
            alg: truncate(alg, 64),
        }),
    }
}

fn header_kid(header: &Map<String, Value>) -> Result<Option<String>, JoseError> {
    match header.get("kid") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(malformed("`kid` header is not a string")),
    }
}

/// Whether `jwk` may verify a token signed with `alg`; the decoded key if so.
fn usable_key(jwk: &Jwk, alg: Algorithm) -> Result<PublicKey, JoseError> {
    key_fits(jwk, alg)?;
    let key = jwk.decode_public_key()?;
    curve_fits(&key, alg)?;
    Ok(key)
}

/// The checks of a key's members against the token's `alg`: `use`, `kty`, `alg`.
pub(crate) fn key_fits(jwk: &Jwk, alg: Algorithm) -> Result<(), JoseError> {
    let mismatch = |reason: String| JoseError::KeyMismatch { reason };
    if let Some(u) = &jwk.use_
        && u != "sig"
    {
        return Err(mismatch(format!(
            "key `use` is `{}`, not `sig`",
            truncate(u, 32)
        )));
    }
    if jwk.kty != alg.kty() {
        return Err(mismatch(format!(
            "`{alg}` needs a `{}` key, the key is `{}`",
            alg.kty(),
            truncate(&jwk.kty, 16)
        )));
    }
    if let Some(a) = &jwk.alg
        && a != alg.as_str()
    {
        return Err(mismatch(format!(
            "token `alg` is `{alg}`, key `alg` is `{}`",
            truncate(a, 16)
        )));
    }
    Ok(())
}

/// An EC key must be on the curve of the token's `alg`.
pub(crate) fn curve_fits(key: &PublicKey, alg: Algorithm) -> Result<(), JoseError> {
    if let PublicKey::Ec { alg: key_alg, .. } = key
        && *key_alg != alg
    {
        return Err(JoseError::KeyMismatch {
            reason: format!(
                "`{alg}` needs curve `{}`, the key is on `{}`",
                alg.curve().unwrap_or_default(),
                key_alg.curve().unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// Whether a signature has the only length `key` can produce: the modulus length for RSA
/// (RFC 8017 §8.2.2), both coordinates for raw ECDSA `r||s` (RFC 7518 §3.4; a DER signature
/// has another length and fails here).
pub(crate) fn signature_len_fits(key: &PublicKey, sig: &[u8]) -> bool {
    match key {
        PublicKey::Rsa { n, .. } => sig.len() == n.len(),
        PublicKey::Ec { x, y, .. } => sig.len() == x.len() + y.len(),
    }
}

fn check_signature(key: &PublicKey, alg: Algorithm, msg: &[u8], sig: &[u8]) -> bool {
    use aws_lc_rs::signature as s;
    match key {
        PublicKey::Rsa { n, e } => {
            let params = match alg {
                Algorithm::RS384 => &s::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::RS512 => &s::RSA_PKCS1_2048_8192_SHA512,
                _ => &s::RSA_PKCS1_2048_8192_SHA256,
            };
            // A signature is exactly as long as the modulus (RFC 8017 §8.2.2).
            sig.len() == n.len()
                && s::RsaPublicKeyComponents { n, e }
                    .verify(params, msg, sig)
                    .is_ok()
        }
        PublicKey::Ec { x, y, .. } => {
            // JOSE ECDSA signatures are raw r||s, each exactly one coordinate long
            // (RFC 7518 §3.4); a DER signature has another length and fails here.
            if sig.len() != x.len() + y.len() {
                return false;
            }
            let mut point = Vec::with_capacity(1 + x.len() + y.len());
            point.push(4);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            s::UnparsedPublicKey::new(ec_verify_alg(alg), &point)
                .verify(msg, sig)
                .is_ok()
        }
    }
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, JoseError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) => Ok(Some(v)),
            None => Err(JoseError::InvalidClaim {
                claim: name,
                reason: "must be an integer number of seconds".into(),
            }),
        },
        Some(_) => Err(JoseError::InvalidClaim {
            claim: name,
            reason: "must be a number".into(),
        }),
    }
}

/// Verifies a compact JWS JWT against a JWKS and a [`Validation`].
///
/// Order (as STS): parse → `crit` → `alg` → `iss` → key by `kid` → signature → claim types →
/// `exp` (with skew) → `nbf` → `aud` → `sub`. Keys are found only in `jwks`; `jku`, `x5u`,
/// `jwk` and `x5c` headers are ignored.
pub fn verify(token: &str, jwks: &Jwks, v: &Validation<'_>) -> Result<VerifiedToken, JoseError> {
    let h = verify_header(token, v)?;
    let (msg, sig) = (
        h.parsed.signing_input.as_bytes(),
        h.parsed.signature.as_slice(),
    );
    signature_outcome(
        jwks.candidates(h.kid.as_deref())
            .map(|jwk| usable_key(jwk, h.alg).map(|key| check_signature(&key, h.alg, msg, sig))),
        &h.kid,
    )?;
    verify_claims(h, v)
}

/// A token past the header checks of [`verify`].
pub(crate) struct Checked<'t> {
    pub(crate) parsed: Parsed<'t>,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) iss: String,
}

/// The steps of [`verify`] before the key: parse → `crit` → `alg` → `iss`.
pub(crate) fn verify_header<'t>(
    token: &'t str,
    v: &Validation<'_>,
) -> Result<Checked<'t>, JoseError> {
    verify_parsed_header(parse(token)?, v)
}

/// The steps of [`verify`] after parsing and before the key: `crit` → `alg` → `iss`.
pub(crate) fn verify_parsed_header<'t>(
    p: Parsed<'t>,
    v: &Validation<'_>,
) -> Result<Checked<'t>, JoseError> {
    if let Some(crit) = p.header.get("crit") {
        let names = match crit {
            Value::Array(a) => a
                .iter()
                .map(|x| truncate(x.as_str().unwrap_or("?"), 64))
                .collect(),
            _ => vec!["?".to_owned()],
        };
        return Err(JoseError::UnsupportedCritical { names });
    }
    let alg = header_alg(&p.header, v.algorithms)?;
    let kid = header_kid(&p.header)?;

    let iss = match p.claims.get("iss") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(JoseError::InvalidClaim {
                claim: "iss",
                reason: "must be a string".into(),
            });
        }
        None => return Err(JoseError::MissingClaim { claim: "iss" }),
    };
    if iss != v.issuer {
        return Err(JoseError::UnknownIssuer {
            iss: truncate(&iss, 256),
        });
    }
    Ok(Checked {
        parsed: p,
        alg,
        kid,
        iss,
    })
}

/// The key step of [`verify`], over the candidate keys in order: each `Ok(true)` (usable and
/// the signature verifies), `Ok(false)` (usable, signature fails) or `Err` (not usable).
/// `BadSignature` when some key was usable, else the first mismatch, else `KeyNotFound`.
pub(crate) fn signature_outcome(
    candidates: impl Iterator<Item = Result<bool, JoseError>>,
    kid: &Option<String>,
) -> Result<(), JoseError> {
    let mut first_mismatch = None;
    let mut tried = 0usize;
    for c in candidates {
        match c {
            Ok(true) => return Ok(()),
            Ok(false) => tried += 1,
            Err(e) => {
                first_mismatch.get_or_insert(e);
            }
        }
    }
    Err(if tried > 0 {
        JoseError::BadSignature
    } else {
        first_mismatch.unwrap_or(JoseError::KeyNotFound { kid: kid.clone() })
    })
}

/// The steps of [`verify`] after the signature: claim types → `exp` → `nbf` → `aud` → `sub`.
pub(crate) fn verify_claims(
    h: Checked<'_>,
    v: &Validation<'_>,
) -> Result<VerifiedToken, JoseError> {
    let Checked {
        parsed: p,
        alg,
        kid,
        iss,
    } = h;
    let exp = numeric_date(&p.claims, "exp")?.ok_or(JoseError::MissingClaim { claim: "exp" })?;
    let nbf = numeric_date(&p.claims, "nbf")?;
    let iat = numeric_date(&p.claims, "iat")?;
    if v.now >= exp.saturating_add(v.leeway_secs) {
        return Err(JoseError::Expired { now: v.now, exp });
    }
    if let Some(nbf) = nbf
        && nbf > v.now.saturating_add(v.leeway_secs)
    {
        return Err(JoseError::NotYetValid { now: v.now, nbf });
    }

    let aud: Vec<String> = match p.claims.get("aud") {
        None => return Err(JoseError::MissingClaim { claim: "aud" }),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| JoseError::InvalidClaim {
                claim: "aud",
                reason: "must be a string or an array of strings".into(),
            })?,
        Some(_) => {
            return Err(JoseError::InvalidClaim {
                claim: "aud",
                reason: "must be a string or an array of strings".into(),
            });
        }
    };
    let audience = aud
        .iter()
        .find(|a| v.audiences.iter().any(|ok| ok == *a))
        .cloned()
        .ok_or(JoseError::AudienceMismatch)?;

    let sub = match p.claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => {
            return Err(JoseError::InvalidClaim {
                claim: "sub",
                reason: "must not be empty".into(),
            });
        }
        Some(_) => {
            return Err(JoseError::InvalidClaim {
                claim: "sub",
                reason: "must be a string".into(),
            });
        }
        None => return Err(JoseError::MissingClaim { claim: "sub" }),
    };

    Ok(VerifiedToken {
        header: p.header,
        claims: p.claims,
        alg,
        kid,
        iss,
        sub,
        aud,
        audience,
        exp,
        iat,
        nbf,
    })
}
