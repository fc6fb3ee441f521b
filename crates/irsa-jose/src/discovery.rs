//! The OpenID Connect discovery document (`/.well-known/openid-configuration`).

use crate::jwk::Jwks;
use serde::{Deserialize, Serialize};

/// An OIDC discovery document. Field names and order are kube-apiserver's
/// (`openIDMetadata` in pkg/serviceaccount/openidmetadata.go). Deserializing accepts any
/// provider's document: only `issuer` and `jwks_uri` are required, other members are kept
/// in `extra`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    /// `issuer`: must equal the tokens' `iss` exactly.
    pub issuer: String,
    /// `jwks_uri`: where the JWKS is served.
    pub jwks_uri: String,
    /// `response_types_supported`: `["id_token"]` for kube.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// `subject_types_supported`: `["public"]` for kube.
    #[serde(default)]
    pub subject_types_supported: Vec<String>,
    /// `id_token_signing_alg_values_supported`: the algorithms of the keys, sorted, unique.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Other members of a provider's document (kept when parsing; empty for kube's).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl DiscoveryDocument {
    /// The document kube-apiserver serves for `issuer`, `jwks_uri` and the public keys in
    /// `jwks`: `id_token_signing_alg_values_supported` is the sorted set of the keys'
    /// algorithms (RS256 for RSA keys, ES256/ES384/ES512 for EC keys by curve).
    pub fn kube(issuer: &str, jwks_uri: &str, jwks: &Jwks) -> DiscoveryDocument {
        let mut algs: Vec<String> = jwks
            .keys
            .iter()
            .filter_map(|k| k.algorithm())
            .map(|a| a.as_str().to_owned())
            .collect();
        algs.sort();
        algs.dedup();
        DiscoveryDocument {
            issuer: issuer.to_owned(),
            jwks_uri: jwks_uri.to_owned(),
            response_types_supported: vec!["id_token".into()],
            subject_types_supported: vec!["public".into()],
            id_token_signing_alg_values_supported: algs,
            extra: serde_json::Map::new(),
        }
    }

    /// The default `jwks_uri` for an issuer: `<issuer without trailing slash>/openid/v1/jwks`,
    /// the path kube-apiserver serves its JWKS at.
    pub fn default_jwks_uri(issuer: &str) -> String {
        format!("{}/openid/v1/jwks", issuer.trim_end_matches('/'))
    }

    /// The discovery URL for an issuer: `<issuer without trailing slash>/.well-known/openid-configuration`
    /// (OpenID Connect Discovery 1.0 §4).
    pub fn url_for_issuer(issuer: &str) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        )
    }

    /// Parses a discovery document.
    pub fn from_json(json: &str) -> Result<DiscoveryDocument, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Compact JSON, as kube-apiserver serves it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::Jwk;

    #[test]
    fn kube_document_exact_json() {
        let jwks = Jwks {
            keys: vec![
                Jwk {
                    use_: None,
                    kty: "EC".into(),
                    kid: None,
                    crv: Some("P-384".into()),
                    alg: Some("ES384".into()),
                    x: None,
                    y: None,
                    n: None,
                    e: None,
                    extra: serde_json::Map::new(),
                },
                Jwk {
                    use_: None,
                    kty: "RSA".into(),
                    kid: None,
                    crv: None,
                    alg: Some("RS256".into()),
                    x: None,
                    y: None,
                    n: None,
                    e: None,
                    extra: serde_json::Map::new(),
                },
            ],
        };
        let iss = "https://oidc.example.com/id/ABC";
        let d = DiscoveryDocument::kube(iss, &DiscoveryDocument::default_jwks_uri(iss), &jwks);
        assert_eq!(
            d.to_json(),
            r#"{"issuer":"https://oidc.example.com/id/ABC","jwks_uri":"https://oidc.example.com/id/ABC/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["ES384","RS256"]}"#
        );
        assert_eq!(DiscoveryDocument::from_json(&d.to_json()).unwrap(), d);
        assert_eq!(
            DiscoveryDocument::url_for_issuer("https://a.example/"),
            "https://a.example/.well-known/openid-configuration"
        );
    }

    #[test]
    fn parses_other_providers_documents() {
        let d = DiscoveryDocument::from_json(
            r#"{"issuer":"https://accounts.google.com","jwks_uri":"https://www.googleapis.com/oauth2/v3/certs","claims_supported":["aud"]}"#,
        )
        .unwrap();
        assert!(d.response_types_supported.is_empty());
        assert!(d.extra.contains_key("claims_supported"));
        assert!(DiscoveryDocument::from_json(r#"{"issuer":"x"}"#).is_err());
    }
}
