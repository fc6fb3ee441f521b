//! Keys and key sets of irsa-jose.

use std::sync::OnceLock;

use irsa_jose::{Algorithm, Jwks, SigningKey};
use serde_json::{Map, Value};

/// The public JWKS of `keys`, in order.
pub fn jwks_of(keys: &[&SigningKey]) -> Jwks {
    Jwks {
        keys: keys.iter().map(|k| k.public_jwk().unwrap()).collect(),
    }
}

/// A JWT signed by `key` with no extra header members, carrying `claims` (a JSON object).
pub fn sign(key: &SigningKey, claims: &Value) -> String {
    let claims: &Map<String, Value> = claims.as_object().expect("claims are a JSON object");
    key.sign_jwt(&Map::new(), claims).unwrap()
}

/// A JWT signed by `key` with no extra header members, carrying `claims` with the members
/// of `overrides` put over them (both JSON objects).
pub fn sign_over(key: &SigningKey, claims: Value, overrides: &Value) -> String {
    let mut claims = claims;
    let members = claims.as_object_mut().expect("claims are a JSON object");
    for (k, v) in overrides.as_object().expect("overrides are a JSON object") {
        members.insert(k.clone(), v.clone());
    }
    sign(key, &claims)
}

/// An RS256 key generated once per test binary (generating RSA keys is slow).
pub fn rs256() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Algorithm::RS256).unwrap())
}
