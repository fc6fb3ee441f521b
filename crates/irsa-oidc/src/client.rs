//! The JWKS client: discovery → `jwks_uri` → keys, cached per issuer.

use crate::clock::{Clock, SystemClock};
use crate::error::FetchError;
use crate::http::{HttpGetter, UrlProblem, check_url};
use irsa_jose::{DiscoveryDocument, Jwks, jwks_from_pem};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Settings of a [`JwksClient`]. `Default` gives the production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Allow issuers (and `jwks_uri`s) with plain `http://`. Off by default: only for local
    /// issuers (`--insecure-allow-http-issuer`). An https issuer never gets an http `jwks_uri`.
    pub allow_insecure_http_issuer: bool,
    /// PEM bundle of CA certificates to trust **instead of** the built-in Mozilla roots
    /// (webpki-roots), for self-hosted issuers (`--ca-file`, STS `caFile`).
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// TCP connect timeout. Default 5 s.
    pub connect_timeout: Duration,
    /// Bound on one whole request (connect, TLS, headers, body). Default 10 s.
    pub request_timeout: Duration,
    /// Largest discovery document or JWKS accepted, in bytes; larger bodies are refused
    /// before being read in full. Default 1 MiB.
    pub max_response_bytes: usize,
    /// How long keys are cached when the JWKS response has no `Cache-Control: max-age`.
    /// Default 1 h.
    pub default_ttl: Duration,
    /// Lower bound on the cache lifetime taken from `max-age` (also used for `no-cache` /
    /// `no-store`). Default 60 s.
    pub min_ttl: Duration,
    /// Upper bound on the cache lifetime taken from `max-age`. Default 24 h.
    pub max_ttl: Duration,
    /// At most one fetch per issuer starts within this interval, whatever asks for it (an
    /// unknown `kid`, or expired keys after a failed refresh). Default 30 s.
    pub min_refetch_interval: Duration,
    /// How long after expiry cached keys are still served while the issuer cannot be
    /// reached. Past it, callers get the fetch error (`IDPCommunicationError`). Default 24 h.
    pub max_stale: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            allow_insecure_http_issuer: false,
            ca_bundle_pem: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
            default_ttl: Duration::from_secs(3600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            min_refetch_interval: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
        }
    }
}

impl ClientConfig {
    /// The cache lifetime for a response whose `Cache-Control` allowed `max_age`.
    pub fn ttl_for(&self, max_age: Option<Duration>) -> Duration {
        let lo = self.min_ttl.min(self.max_ttl);
        max_age.unwrap_or(self.default_ttl).clamp(lo, self.max_ttl)
    }
}

/// Fetches and caches issuers' keys: `<issuer>/.well-known/openid-configuration`, then its
/// `jwks_uri`. Cheap to share (`Arc`); one instance serves every issuer.
///
/// Cache rules, per issuer:
/// - fresh keys (younger than the TTL from `Cache-Control: max-age`, clamped to
///   `[min_ttl, max_ttl]`, `default_ttl` when absent) are served without a request;
/// - a `kid` hint missing from fresh keys triggers a refetch, at most one started per
///   `min_refetch_interval`; concurrent callers wait for the one fetch in flight and share
///   its outcome;
/// - expired keys are refetched; if that fails they are still served until `max_stale`
///   after expiry (retrying at most once per `min_refetch_interval`), then the error is
///   returned;
/// - with no keys cached, each call (or group of concurrent calls) tries once.
///
/// The set of issuers is the caller's to bound (STS asks only for registered providers).
pub struct JwksClient {
    config: ClientConfig,
    http: HttpGetter,
    clock: Arc<dyn Clock>,
    issuers: Mutex<HashMap<String, Arc<IssuerEntry>>>,
}

impl std::fmt::Debug for JwksClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct IssuerEntry {
    state: Mutex<CacheState>,
    fetch_lock: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct CacheState {
    keys: Option<Arc<Jwks>>,
    expires_at: Option<Instant>,
    /// Start of the last completed fetch attempt (successful or not).
    last_attempt: Option<Instant>,
    /// Number of completed fetch attempts.
    attempts: u64,
    last_error: Option<FetchError>,
}

enum Decision {
    Serve(Arc<Jwks>),
    Fail(FetchError),
    Fetch,
}

impl JwksClient {
    /// A client using the real clock. Fails only on an unusable configuration (a CA bundle
    /// without certificates).
    pub fn new(config: ClientConfig) -> Result<JwksClient, FetchError> {
        JwksClient::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose cache reads time from `clock` (tests use [`crate::ManualClock`]).
    pub fn with_clock(
        config: ClientConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<JwksClient, FetchError> {
        let http = HttpGetter::new(
            config.ca_bundle_pem.as_deref(),
            config.allow_insecure_http_issuer,
            config.connect_timeout,
            config.request_timeout,
            config.max_response_bytes,
        )?;
        Ok(JwksClient {
            config,
            http,
            clock,
            issuers: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The keys of `issuer`, from the cache when fresh. `kid` is the token's key id: when it
    /// is `Some` and not in the cached keys, a refetch is tried (rate limited). The returned
    /// keys may still lack `kid`; the caller then answers `InvalidIdentityToken` (`Couldn't
    /// retrieve verification key…`).
    pub async fn keys_for(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<Jwks>, FetchError> {
        self.check_issuer(issuer)?;
        let entry = self.entry(issuer);
        let seen = {
            let st = lock(&entry.state);
            match self.decide(&st, self.clock.now(), kid) {
                Decision::Serve(k) => return Ok(k),
                Decision::Fail(e) => return Err(e),
                Decision::Fetch => st.attempts,
            }
        };
        let _fetching = entry.fetch_lock.lock().await;
        {
            let st = lock(&entry.state);
            if st.attempts != seen {
                // A fetch completed while we waited for it: share its outcome.
                return match self.decide(&st, self.clock.now(), kid) {
                    Decision::Serve(k) => Ok(k),
                    Decision::Fail(e) => Err(e),
                    Decision::Fetch => {
                        Err(st
                            .last_error
                            .clone()
                            .unwrap_or_else(|| FetchError::Unreachable {
                                url: DiscoveryDocument::url_for_issuer(issuer),
                                reason: "fetch abandoned".into(),
                            }))
                    }
                };
            }
        }
        let started = self.clock.now();
        let result = self.fetch(issuer).await;
        let done = self.clock.now();
        let mut st = lock(&entry.state);
        st.attempts += 1;
        st.last_attempt = Some(started);
        match result {
            Ok((jwks, ttl)) => {
                let keys = Arc::new(jwks);
                st.keys = Some(keys.clone());
                st.expires_at = Some(done + ttl);
                st.last_error = None;
                tracing::debug!(
                    issuer,
                    keys = keys.keys.len(),
                    ttl_secs = ttl.as_secs(),
                    "fetched jwks"
                );
                Ok(keys)
            }
            Err(e) => {
                st.last_error = Some(e.clone());
                match (&st.keys, st.expires_at) {
                    (Some(k), Some(exp)) if done < exp => {
                        tracing::warn!(issuer, error = %e, "jwks refetch failed; cached keys are still fresh");
                        Ok(k.clone())
                    }
                    (Some(k), Some(exp)) if done < exp + self.config.max_stale => {
                        tracing::warn!(issuer, error = %e, "jwks refresh failed; serving stale keys");
                        Ok(k.clone())
                    }
                    _ => {
                        tracing::warn!(issuer, error = %e, "jwks fetch failed");
                        Err(e)
                    }
                }
            }
        }
    }

    /// Fetches the discovery document and the JWKS of `issuer` now, bypassing the cache,
    /// with the same checks (URL rules, issuer equality, size and time limits).
    pub async fn discover(&self, issuer: &str) -> Result<(DiscoveryDocument, Jwks), FetchError> {
        self.check_issuer(issuer)?;
        let (doc, jwks, _) = self.fetch_documents(issuer).await?;
        Ok((doc, jwks))
    }

    fn check_issuer(&self, issuer: &str) -> Result<(), FetchError> {
        match check_url(issuer, self.config.allow_insecure_http_issuer) {
            Ok(_) => Ok(()),
            Err(UrlProblem::Http) => Err(FetchError::InsecureIssuer {
                issuer: issuer.to_owned(),
            }),
            Err(UrlProblem::Invalid(reason)) => Err(FetchError::InvalidIssuer {
                issuer: issuer.to_owned(),
                reason,
            }),
        }
    }

    fn entry(&self, issuer: &str) -> Arc<IssuerEntry> {
        lock(&self.issuers)
            .entry(issuer.to_owned())
            .or_default()
            .clone()
    }

    fn decide(&self, st: &CacheState, now: Instant, kid: Option<&str>) -> Decision {
        let recently_attempted = st
            .last_attempt
            .is_some_and(|t| now.saturating_duration_since(t) < self.config.min_refetch_interval);
        let (Some(keys), Some(expires_at)) = (&st.keys, st.expires_at) else {
            return Decision::Fetch;
        };
        if now < expires_at {
            let known = kid.is_none_or(|k| keys.candidates(Some(k)).next().is_some());
            if known || recently_attempted {
                Decision::Serve(keys.clone())
            } else {
                Decision::Fetch
            }
        } else if recently_attempted {
            if now < expires_at + self.config.max_stale {
                Decision::Serve(keys.clone())
            } else {
                Decision::Fail(
                    st.last_error
                        .clone()
                        .unwrap_or_else(|| FetchError::Unreachable {
                            url: String::new(),
                            reason: "cached keys are past the stale window".into(),
                        }),
                )
            }
        } else {
            Decision::Fetch
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<(Jwks, Duration), FetchError> {
        let (_, jwks, ttl) = self.fetch_documents(issuer).await?;
        Ok((jwks, ttl))
    }

    async fn fetch_documents(
        &self,
        issuer: &str,
    ) -> Result<(DiscoveryDocument, Jwks, Duration), FetchError> {
        let url = DiscoveryDocument::url_for_issuer(issuer);
        let got = self.http.get(&url).await?;
        let doc: DiscoveryDocument =
            serde_json::from_slice(&got.body).map_err(|e| FetchError::BadDocument {
                url: url.clone(),
                what: "discovery document",
                reason: e.to_string(),
            })?;
        if doc.issuer != issuer {
            return Err(FetchError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: doc.issuer,
            });
        }
        let issuer_is_https = matches!(check_url(issuer, true), Ok(true));
        let jwks_uri_err = |reason: String| FetchError::InvalidJwksUri {
            issuer: issuer.to_owned(),
            uri: doc.jwks_uri.clone(),
            reason,
        };
        match check_url(
            &doc.jwks_uri,
            self.config.allow_insecure_http_issuer && !issuer_is_https,
        ) {
            Ok(_) => {}
            Err(UrlProblem::Http) => {
                return Err(jwks_uri_err("plain http is not allowed".into()));
            }
            Err(UrlProblem::Invalid(reason)) => return Err(jwks_uri_err(reason)),
        }
        let got_keys = self.http.get(&doc.jwks_uri).await?;
        let jwks: Jwks =
            serde_json::from_slice(&got_keys.body).map_err(|e| FetchError::BadDocument {
                url: doc.jwks_uri.clone(),
                what: "jwks",
                reason: e.to_string(),
            })?;
        let ttl = self.config.ttl_for(got_keys.max_age);
        Ok((doc, jwks, ttl))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a provider's keys come from: discovery through a shared [`JwksClient`], or a fixed
/// JWKS (STS's `jwksFile` provider option, `irsa token verify --jwks`).
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `<issuer>/.well-known/openid-configuration` → `jwks_uri`, cached.
    Discovery(Arc<JwksClient>),
    /// Fixed keys; the issuer and `kid` hint are ignored.
    Static(Arc<Jwks>),
}

impl KeySource {
    /// A static source from a file's contents: a JWKS (`{"keys":[…]}`) or PEM public keys
    /// (SPKI, PKCS#1 or certificates, like kube-apiserver's `--service-account-key-file`).
    pub fn from_file_contents(contents: &str) -> Result<KeySource, FetchError> {
        let bad = |reason: String| FetchError::BadDocument {
            url: "jwks file".into(),
            what: "jwks",
            reason,
        };
        let jwks = if contents.trim_start().starts_with("-----BEGIN") {
            Jwks {
                keys: jwks_from_pem(contents).map_err(|e| bad(e.to_string()))?,
            }
        } else {
            Jwks::from_json(contents).map_err(|e| bad(e.to_string()))?
        };
        Ok(KeySource::Static(Arc::new(jwks)))
    }

    /// The keys to verify a token of `issuer` (with key id `kid`) with.
    pub async fn keys_for(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<Jwks>, FetchError> {
        match self {
            KeySource::Discovery(client) => client.keys_for(issuer, kid).await,
            KeySource::Static(jwks) => Ok(jwks.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_clamped() {
        let c = ClientConfig::default();
        assert_eq!(c.ttl_for(None), Duration::from_secs(3600));
        assert_eq!(
            c.ttl_for(Some(Duration::from_secs(5))),
            Duration::from_secs(60)
        );
        assert_eq!(c.ttl_for(Some(Duration::ZERO)), Duration::from_secs(60));
        assert_eq!(
            c.ttl_for(Some(Duration::from_secs(600))),
            Duration::from_secs(600)
        );
        assert_eq!(
            c.ttl_for(Some(Duration::from_secs(7 * 24 * 3600))),
            Duration::from_secs(24 * 3600)
        );
    }

    #[test]
    fn static_source_reads_json_and_pem() {
        let s = KeySource::from_file_contents(r#"{"keys":[]}"#).unwrap();
        assert!(matches!(s, KeySource::Static(k) if k.keys.is_empty()));
        let err = KeySource::from_file_contents("{nope").unwrap_err();
        assert!(matches!(err, FetchError::BadDocument { .. }));
        let key = irsa_jose::SigningKey::generate(irsa_jose::Algorithm::ES256).unwrap();
        let pem = key.public_key_pem().unwrap();
        let KeySource::Static(k) = KeySource::from_file_contents(&pem).unwrap() else {
            panic!("static expected")
        };
        assert_eq!(k.keys.len(), 1);
    }
}
