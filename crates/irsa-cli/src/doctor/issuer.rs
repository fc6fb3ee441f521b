//! The issuer as seen from where the command runs: its discovery document and JWKS
//! (irsa-oidc's client, with the checks `irsa sts` applies), and the thumbprint IAM wants
//! for its OIDC provider.
//!
//! The thumbprint, as AWS documents it ("Obtaining the thumbprint for an OpenID Connect
//! identity provider"): the SHA-1 fingerprint, in hex, of the last certificate in the
//! chain that the host of the `jwks_uri` presents on TLS (the top intermediate or root
//! CA it sends).

use aws_lc_rs::digest;
use irsa_jose::{DiscoveryDocument, Jwks};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;

/// Discovery document and JWKS of `issuer`, bounded as `irsa sts` bounds them (5 s for
/// both, 1 MiB each). `ca_pem` replaces the public roots for a self-hosted issuer.
pub async fn discover(
    issuer: &str,
    ca_pem: Option<&[u8]>,
) -> Result<(DiscoveryDocument, Jwks), String> {
    let client = irsa_oidc::JwksClient::new(irsa_oidc::ClientConfig {
        ca_bundle_pem: ca_pem.map(<[u8]>::to_vec),
        ..irsa_oidc::ClientConfig::default()
    })
    .map_err(|e| e.to_string())?;
    client.discover(issuer).await.map_err(|e| e.to_string())
}

/// The certificate whose SHA-1 is the thumbprint, and the thumbprint (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbprint {
    /// `host:port` the chain came from.
    pub from: String,
    /// How many certificates the host presented.
    pub chain_len: usize,
    /// 40 hex digits.
    pub sha1: String,
}

/// Connects to the host of `url` (an `https` URL; port 443 unless given), verifies its
/// certificate against `ca_pem` (or the public roots), and fingerprints the last
/// certificate of the chain it presented. Connect and handshake are bounded (5 s each).
pub async fn thumbprint(url: &str, ca_pem: Option<&[u8]>) -> Result<Thumbprint, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("`{url}`: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!(
            "`{url}` is not https: IAM only takes https issuers"
        ));
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("`{url}` has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for c in CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|e| format!("CA file: {e}"))?;
                roots.add(c).map_err(|e| format!("CA file: {e}"))?;
            }
            if roots.is_empty() {
                return Err("CA file: no CERTIFICATE block".into());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).map_err(|e| format!("`{host}`: {e}"))?;
    let from = format!("{host}:{port}");
    let tcp = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| format!("{from}: no connection within 5s"))?
    .map_err(|e| format!("{from}: {e}"))?;
    let tls = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| format!("{from}: no TLS handshake within 5s"))?
    .map_err(|e| format!("{from}: TLS: {e}"))?;
    let chain = tls.get_ref().1.peer_certificates().unwrap_or_default();
    let last = chain
        .last()
        .ok_or_else(|| format!("{from} presented no certificate"))?;
    Ok(Thumbprint {
        from,
        chain_len: chain.len(),
        sha1: sha1_hex(last.as_ref()),
    })
}

/// SHA-1 of `der` as lowercase hex (IAM's thumbprint form).
pub fn sha1_hex(der: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_the_known_vector() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
