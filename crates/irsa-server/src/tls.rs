//! TLS: rustls server configurations (aws-lc-rs) from a fixed key pair or from Go-style
//! `--tls-min-version` / `--tls-cipher-suites` options, and a certificate resolver that
//! reloads the key pair from disk without a restart.
//!
//! Reloading polls the two files (their bytes, read through any symlinks, so a Secret
//! volume's `..data` symlink swap is seen like an in-place write). A new pair is swapped in
//! only once both files parse and the key matches the certificate, so a half-written update
//! never fails a handshake: until the pair is consistent the old one keeps being served.

use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs::{self as tls_provider, cipher_suite};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig};
use rustls::sign::CertifiedKey;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Errors from TLS options and key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `--tls-min-version` is not one the reference accepts.
    #[error(
        "invalid --tls-min-version `{0}`: expected 1.0, 1.1, 1.2, 1.3 or VersionTLS10..VersionTLS13"
    )]
    MinVersion(String),
    /// A name in `--tls-cipher-suites` is not a Go cipher suite name.
    #[error("unknown cipher suite `{0}` in --tls-cipher-suites")]
    UnknownCipherSuite(String),
    /// Every suite named is one rustls does not implement (CBC, RC4, 3DES, RSA key exchange).
    #[error(
        "none of the cipher suites in --tls-cipher-suites is supported (rustls implements only ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2)"
    )]
    NoSupportedCipherSuite,
    /// A certificate or key file could not be read.
    #[error("cannot read `{path}`: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("no PEM certificate found in `{0}`")]
    NoCertificate(PathBuf),
    /// The key file holds no usable PEM private key.
    #[error("no PEM private key found in `{path}`: {reason}")]
    NoKey {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key does not belong to the certificate, or rustls refused it.
    #[error("the key in `{key}` does not fit the certificate in `{cert}`: {reason}")]
    Mismatch {
        /// Certificate file.
        cert: PathBuf,
        /// Key file.
        key: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Config(String),
}

/// The lowest protocol version the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 (also what `1.0` and `1.1` mean here: rustls implements nothing older).
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// Parses `--tls-min-version` like the reference (`""`, `1.0`..`1.3`, `VersionTLS10`..`13`).
/// Returns the version and whether the request asked for something rustls cannot offer
/// (1.0 or 1.1, which become 1.2).
pub fn parse_min_version(s: &str) -> Result<(MinVersion, bool), TlsError> {
    match s {
        "" | "1.2" | "VersionTLS12" => Ok((MinVersion::Tls12, false)),
        "1.0" | "1.1" | "VersionTLS10" | "VersionTLS11" => Ok((MinVersion::Tls12, true)),
        "1.3" | "VersionTLS13" => Ok((MinVersion::Tls13, false)),
        other => Err(TlsError::MinVersion(other.to_string())),
    }
}

/// The outcome of parsing `--tls-cipher-suites`.
#[derive(Debug, Clone)]
pub struct CipherSuites {
    /// TLS 1.2 suites to offer, in the order named; `None` means rustls's defaults.
    pub tls12: Option<Vec<SupportedCipherSuite>>,
    /// Go names that are valid but not implemented by rustls; they are ignored.
    pub ignored: Vec<String>,
}

/// Go's names for the cipher suites rustls implements (TLS 1.2), including the legacy
/// aliases without `_SHA256`.
fn rustls_suite(name: &str) -> Option<SupportedCipherSuite> {
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => {
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        }
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => {
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        }
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => {
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => {
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        }
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        _ => return None,
    })
}

/// TLS 1.3 suites: Go accepts their names but never lets them be configured (all are
/// always on); so does this server.
const TLS13_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Go's remaining names (`tls.CipherSuites()` + `tls.InsecureCipherSuites()`) that rustls
/// does not implement: accepted, ignored with a warning.
const GO_UNSUPPORTED: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// Parses `--tls-cipher-suites` (comma list of Go names, each trimmed; an unknown name is
/// an error like in the reference).
pub fn parse_cipher_suites(s: &str, min: MinVersion) -> Result<CipherSuites, TlsError> {
    let names: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(CipherSuites {
            tls12: None,
            ignored: Vec::new(),
        });
    }
    let mut tls12 = Vec::new();
    let mut ignored = Vec::new();
    for name in names {
        if let Some(suite) = rustls_suite(name) {
            if !tls12.contains(&suite) {
                tls12.push(suite);
            }
        } else if TLS13_NAMES.contains(&name) {
            // always enabled, like Go
        } else if GO_UNSUPPORTED.contains(&name) {
            ignored.push(name.to_string());
        } else {
            return Err(TlsError::UnknownCipherSuite(name.to_string()));
        }
    }
    if tls12.is_empty() && min == MinVersion::Tls12 {
        return Err(TlsError::NoSupportedCipherSuite);
    }
    Ok(CipherSuites {
        tls12: Some(tls12),
        ignored,
    })
}

/// The crypto provider for these options (aws-lc-rs, restricted to the chosen suites).
pub fn provider(suites: &CipherSuites) -> CryptoProvider {
    let mut p = tls_provider::default_provider();
    if let Some(tls12) = &suites.tls12 {
        p.cipher_suites = [
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        ]
        .into_iter()
        .chain(tls12.iter().copied())
        .collect();
    }
    p
}

/// Builds the server configuration (ALPN h2 and http/1.1) around a certificate resolver.
pub fn server_config(
    min: MinVersion,
    suites: &CipherSuites,
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<ServerConfig, TlsError> {
    static BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
    static ONLY13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let versions = match min {
        MinVersion::Tls12 => BOTH,
        MinVersion::Tls13 => ONLY13,
    };
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(provider(suites)))
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A server configuration (TLS 1.2 and 1.3, ALPN http/1.1) for one PEM certificate chain
/// and its PEM private key (PKCS#8, PKCS#1 or SEC1), fixed for the server's life.
pub fn single_cert_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Config(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Config(
            "certificate file has no CERTIFICATE block".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsError::Config(format!("private key: {e}")))?;
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(tls_provider::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Reads and checks a certificate/key pair.
pub fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<(CertifiedKey, Vec<u8>), TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|cause| TlsError::Read {
        path: cert.to_path_buf(),
        cause,
    })?;
    let key_pem = std::fs::read(key).map_err(|cause| TlsError::Read {
        path: key.to_path_buf(),
        cause,
    })?;
    let ck = parse_pair(&cert_pem, &key_pem, cert, key, provider)?;
    Ok((ck, fingerprint(&cert_pem, &key_pem)))
}

fn parse_pair(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::NoKey {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| TlsError::Mismatch {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        reason: e.to_string(),
    })
}

/// What identifies the content of a pair: both files' bytes (small; compared, not hashed,
/// so no change can be missed).
fn fingerprint(cert_pem: &[u8], key_pem: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(cert_pem.len() + key_pem.len() + 8);
    v.extend_from_slice(&(cert_pem.len() as u64).to_be_bytes());
    v.extend_from_slice(cert_pem);
    v.extend_from_slice(key_pem);
    v
}

/// A certificate resolver serving the latest valid pair read from two files.
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    provider: CryptoProvider,
    current: RwLock<(Arc<CertifiedKey>, Vec<u8>)>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// What one reload check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The files did not change.
    Unchanged,
    /// A new pair is now served.
    Reloaded,
    /// The files changed but the new content is not (yet) a valid pair; the old one stays.
    Rejected,
}

impl ReloadingCert {
    /// Loads the pair once; fails if it is not valid now.
    pub fn new(cert: PathBuf, key: PathBuf, provider: CryptoProvider) -> Result<Self, TlsError> {
        let (ck, fp) = load_pair(&cert, &key, &provider)?;
        Ok(Self {
            cert,
            key,
            provider,
            current: RwLock::new((Arc::new(ck), fp)),
        })
    }

    /// Re-reads the files and swaps in the new pair if it changed and is valid.
    pub fn check(&self) -> Result<Reload, TlsError> {
        let cert_pem = std::fs::read(&self.cert).map_err(|cause| TlsError::Read {
            path: self.cert.clone(),
            cause,
        })?;
        let key_pem = std::fs::read(&self.key).map_err(|cause| TlsError::Read {
            path: self.key.clone(),
            cause,
        })?;
        let fp = fingerprint(&cert_pem, &key_pem);
        {
            let cur = self.current.read().unwrap_or_else(|p| p.into_inner());
            if cur.1 == fp {
                return Ok(Reload::Unchanged);
            }
        }
        match parse_pair(&cert_pem, &key_pem, &self.cert, &self.key, &self.provider) {
            Ok(ck) => {
                let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
                *cur = (Arc::new(ck), fp);
                Ok(Reload::Reloaded)
            }
            Err(e) => {
                tracing::debug!(error = %e, "certificate files changed but are not a valid pair yet");
                Ok(Reload::Rejected)
            }
        }
    }

    /// The pair served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// Polls the files every `interval` until `stop` resolves; `on_reload` sees each result.
    pub async fn watch(
        self: Arc<Self>,
        interval: Duration,
        stop: impl std::future::Future<Output = ()>,
        on_reload: impl Fn(Reload),
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        let mut last_rejected_warned = false;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tick.tick() => {}
            }
            let this = self.clone();
            let result = tokio::task::spawn_blocking(move || this.check()).await;
            match result {
                Ok(Ok(r)) => {
                    match r {
                        Reload::Reloaded => {
                            tracing::info!(cert = %self.cert.display(), "serving certificate reloaded");
                            last_rejected_warned = false;
                        }
                        Reload::Rejected if !last_rejected_warned => {
                            tracing::warn!(cert = %self.cert.display(), key = %self.key.display(),
                                "certificate files changed but do not form a valid pair; still serving the previous certificate");
                            last_rejected_warned = true;
                        }
                        _ => {}
                    }
                    on_reload(r);
                }
                Ok(Err(e)) => {
                    if !last_rejected_warned {
                        tracing::warn!(error = %e, "cannot read certificate files; still serving the previous certificate");
                        last_rejected_warned = true;
                    }
                    on_reload(Reload::Rejected);
                }
                Err(e) => tracing::warn!(error = %e, "certificate reload task failed"),
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_versions() {
        assert_eq!(parse_min_version("").unwrap(), (MinVersion::Tls12, false));
        assert_eq!(
            parse_min_version("VersionTLS13").unwrap(),
            (MinVersion::Tls13, false)
        );
        assert_eq!(parse_min_version("1.0").unwrap(), (MinVersion::Tls12, true));
        let e = parse_min_version("1.4").unwrap_err().to_string();
        assert!(e.contains("`1.4`"), "{e}");
    }

    #[test]
    fn cipher_suites() {
        let s = parse_cipher_suites(
            " TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA,TLS_AES_128_GCM_SHA256",
            MinVersion::Tls12,
        )
        .unwrap();
        assert_eq!(
            s.tls12.as_deref(),
            Some(&[cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256][..])
        );
        assert_eq!(s.ignored, vec!["TLS_RSA_WITH_AES_128_CBC_SHA".to_string()]);
        let p = provider(&s);
        assert_eq!(p.cipher_suites.len(), 4);

        assert!(
            parse_cipher_suites("", MinVersion::Tls12)
                .unwrap()
                .tls12
                .is_none()
        );
        let e = parse_cipher_suites("TLS_FOO", MinVersion::Tls12).unwrap_err();
        assert!(matches!(e, TlsError::UnknownCipherSuite(ref n) if n == "TLS_FOO"));
        assert!(matches!(
            parse_cipher_suites("TLS_RSA_WITH_RC4_128_SHA", MinVersion::Tls12),
            Err(TlsError::NoSupportedCipherSuite)
        ));
        assert!(parse_cipher_suites("TLS_RSA_WITH_RC4_128_SHA", MinVersion::Tls13).is_ok());
    }
}
