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

    /// A root, an intermediate it signs, and a leaf for 127.0.0.1 the intermediate signs.
    fn chain() -> (String, Vec<CertificateDer<'static>>, rcgen::KeyPair) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
        let ca = |name: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name
                .push(rcgen::DnType::CommonName, name.to_owned());
            p
        };
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca("thumbprint-root");
        let root = root_params.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(root_params, root_key);
        let mid_key = KeyPair::generate().unwrap();
        let mid_params = ca("thumbprint-intermediate");
        let mid = mid_params.signed_by(&mid_key, &root_issuer).unwrap();
        let mid_issuer = Issuer::new(mid_params, mid_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf_params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let leaf = leaf_params.signed_by(&leaf_key, &mid_issuer).unwrap();
        (
            root.pem(),
            vec![leaf.der().clone(), mid.der().clone()],
            leaf_key,
        )
    }

    /// Serves TLS with `chain` on 127.0.0.1 (handshakes only); the port.
    async fn serve(chain: Vec<CertificateDer<'static>>, key: &rcgen::KeyPair) -> u16 {
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = acceptor.accept(tcp).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn the_thumbprint_is_the_last_certificate_presented() {
        let (root_pem, chain, key) = chain();
        let mid = chain[1].clone();
        let leaf = chain[0].clone();
        let port = serve(chain, &key).await;
        let url = format!("https://127.0.0.1:{port}/openid/v1/jwks");
        let t = thumbprint(&url, Some(root_pem.as_bytes())).await.unwrap();
        assert_eq!(t.chain_len, 2);
        assert_eq!(t.sha1, sha1_hex(mid.as_ref()));
        assert_ne!(t.sha1, sha1_hex(leaf.as_ref()));
        assert_eq!(t.from, format!("127.0.0.1:{port}"));
        // A chain that does not verify gives no thumbprint.
        let e = thumbprint(&url, None).await.unwrap_err();
        assert!(e.contains("TLS"), "{e}");
        // Only https.
        let e = thumbprint(&format!("http://127.0.0.1:{port}/"), None)
            .await
            .unwrap_err();
        assert!(e.contains("not https"), "{e}");
    }
}
