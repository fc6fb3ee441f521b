//! The JWKS client: discovery → `jwks_uri` → keys, cached per issuer.
//!
//! Every fetch runs in a task of its own whose outcome is shared through a `watch` channel:
//! a caller that gives up (its own timeout, a dropped request) neither cancels the fetch nor
//! keeps it from being recorded, and the attempt counts from the moment it **starts**, so
//! the refetch rate limit and the stale window hold even against an issuer that accepts
//! connections and never answers.

use crate::clock::{Clock, SystemClock};
use crate::error::FetchError;
use crate::http::{HttpGetter, UrlProblem, check_url};
use irsa_jose::{DiscoveryDocument, Jwks, jwks_from_pem};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

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
    /// Bound on one whole request (connect, TLS, headers, body). Default 10 s; a request
    /// also gets no more than what is left of [`ClientConfig::fetch_timeout`].
    pub request_timeout: Duration,
    /// Bound on one whole fetch: the discovery document **and** the JWKS together. Default
    /// 5 s, below irsa-sts's 10 s request timeout, so a caller waiting for a fetch always
    /// gets an answer (keys, stale keys or `IDPCommunicationError`) before its own deadline.
    pub fetch_timeout: Duration,
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
    /// unknown `kid`, or expired keys). Counted from the start of the previous fetch, which
    /// is recorded even when every caller gave up waiting for it. Default 30 s.
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
            fetch_timeout: Duration::from_secs(5),
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
/// `jwks_uri`. Cheap to share (`Arc`); one instance serves every issuer. Must be used from
/// within a tokio runtime (fetches run as spawned tasks).
///
/// Cache rules, per issuer:
/// - fresh keys (younger than the TTL from `Cache-Control: max-age`, clamped to
///   `[min_ttl, max_ttl]`, `default_ttl` when absent) are served without a request;
/// - expired keys still within `max_stale` after expiry are served **at once** and refreshed
///   in the background (at most one fetch started per `min_refetch_interval`);
/// - a `kid` hint missing from the cached keys (fresh or stale) makes the caller wait for a
///   refetch, at most one started per `min_refetch_interval`; concurrent callers share the
///   fetch in flight; if it fails the cached keys are served;
/// - past `max_stale`, a failed refresh is the caller's error (retried at most once per
///   interval);
/// - with no keys cached, each call (or group of concurrent calls) tries once.
///
/// Every fetch (discovery + JWKS) is bounded by `fetch_timeout` in total and runs in its own
/// task: callers that give up do not cancel it, and its start is what the rate limit counts.
///
/// The set of issuers is the caller's to bound (STS asks only for registered providers).
pub struct JwksClient {
    inner: Arc<Fetcher>,
    clock: Arc<dyn Clock>,
    issuers: Mutex<HashMap<String, Arc<IssuerEntry>>>,
}

impl std::fmt::Debug for JwksClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// What a spawned fetch task needs: the settings and the HTTP client.
struct Fetcher {
    config: ClientConfig,
    http: HttpGetter,
}

/// The outcome of a fetch as its waiters see it: the keys to use (new ones, or the cached
/// ones when the fetch failed but they may still be served) or the error.
type Outcome = Result<Arc<Jwks>, FetchError>;
type InFlight = watch::Receiver<Option<Outcome>>;

#[derive(Default)]
struct IssuerEntry {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    keys: Option<Arc<Jwks>>,
    expires_at: Option<Instant>,
    /// Start of the last fetch (recorded when it starts, whatever becomes of it).
    last_started: Option<Instant>,
    last_error: Option<FetchError>,
    /// The fetch running now, if any.
    in_flight: Option<InFlight>,
}

impl CacheState {
    /// The fetch in flight, unless its task is gone (runtime shut down) without an answer.
    fn live_fetch(&self) -> Option<InFlight> {
        self.in_flight
            .as_ref()
            .filter(|rx| rx.has_changed().is_ok())
            .cloned()
    }
}

enum Step {
    Serve(Arc<Jwks>),
    Fail(FetchError),
    Wait(InFlight),
}

impl JwksClient {
    /// A client using the real clock. Fails only on an unusable configuration (a CA bundle
    /// without certificates).
    pub fn new(config: ClientConfig) -> Result<JwksClient, FetchError> {
        JwksClient::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose cache reads time from `clock` (tests use [`crate::ManualClock`]).
    /// Network timeouts always use real time.
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
            inner: Arc::new(Fetcher { config, http }),
            clock,
            issuers: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The keys of `issuer`, from the cache when fresh (or stale within `max_stale`, while a
    /// background refresh runs). `kid` is the token's key id: when it is `Some` and not in
    /// the cached keys, a refetch is waited for (rate limited). The returned keys may still
    /// lack `kid`; the caller then answers `InvalidIdentityToken` (`Couldn't retrieve
    /// verification key…`). Dropping the returned future does not cancel a fetch.
    pub async fn keys_for(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<Jwks>, FetchError> {
        self.check_issuer(issuer)?;
        let entry = self.entry(issuer);
        let step = {
            let mut st = lock(&entry.state);
            self.step(issuer, &entry, &mut st, kid)
        };
        match step {
            Step::Serve(k) => Ok(k),
            Step::Fail(e) => Err(e),
            Step::Wait(rx) => wait(rx, issuer).await,
        }
    }

    /// Waits until no fetch of `issuer` is in flight (for instance a background refresh
    /// started by [`JwksClient::keys_for`]). Returns at once when none is.
    pub async fn wait_for_refresh(&self, issuer: &str) {
        let rx = {
            let issuers = lock(&self.issuers);
            issuers
                .get(issuer)
                .and_then(|e| lock(&e.state).live_fetch())
        };
        if let Some(rx) = rx {
            let _ = wait(rx, issuer).await;
        }
    }

    /// Fetches the discovery document and the JWKS of `issuer` now, bypassing the cache,
    /// with the same checks (URL rules, issuer equality, size and time limits).
    pub async fn discover(&self, issuer: &str) -> Result<(DiscoveryDocument, Jwks), FetchError> {
        self.check_issuer(issuer)?;
        let (doc, jwks, _) = self.inner.fetch_documents(issuer).await?;
        Ok((doc, jwks))
    }

    fn check_issuer(&self, issuer: &str) -> Result<(), FetchError> {
        match check_url(issuer, self.inner.config.allow_insecure_http_issuer) {
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

    /// Decides what a call does with the state as it is; may start a fetch.
    fn step(
        &self,
        issuer: &str,
        entry: &Arc<IssuerEntry>,
        st: &mut CacheState,
        kid: Option<&str>,
    ) -> Step {
        let cfg = &self.inner.config;
        let now = self.clock.now();
        let recently_started = st
            .last_started
            .is_some_and(|t| now.saturating_duration_since(t) < cfg.min_refetch_interval);
        let in_flight = st.live_fetch();
        if let (Some(keys), Some(expires_at)) = (st.keys.clone(), st.expires_at)
            && now < expires_at + cfg.max_stale
        {
            let known = kid.is_none_or(|k| keys.candidates(Some(k)).next().is_some());
            if known {
                if now >= expires_at && in_flight.is_none() && !recently_started {
                    tracing::debug!(issuer, "jwks expired; serving them while refreshing");
                    self.start(issuer, entry, st, now);
                }
                return Step::Serve(keys);
            }
            // The token names a key we don't have (rotation): wait for a refetch.
            return match in_flight {
                Some(rx) => Step::Wait(rx),
                None if recently_started => Step::Serve(keys),
                None => Step::Wait(self.start(issuer, entry, st, now)),
            };
        }
        // Nothing cached, or only keys past the stale window.
        match in_flight {
            Some(rx) => Step::Wait(rx),
            None if st.keys.is_some() && recently_started => Step::Fail(
                st.last_error
                    .clone()
                    .unwrap_or_else(|| FetchError::Unreachable {
                        url: DiscoveryDocument::url_for_issuer(issuer),
                        reason: "cached keys are past the stale window".into(),
                    }),
            ),
            None => Step::Wait(self.start(issuer, entry, st, now)),
        }
    }

    /// Starts a fetch of `issuer` in a task of its own and records its start.
    fn start(
        &self,
        issuer: &str,
        entry: &Arc<IssuerEntry>,
        st: &mut CacheState,
        now: Instant,
    ) -> InFlight {
        let (tx, rx) = watch::channel(None);
        st.last_started = Some(now);
        st.in_flight = Some(rx.clone());
        let inner = self.inner.clone();
        let clock = self.clock.clone();
        let entry = entry.clone();
        let issuer = issuer.to_owned();
        tokio::spawn(async move {
            let result = inner.fetch_documents(&issuer).await;
            let outcome = {
                let mut st = lock(&entry.state);
                st.in_flight = None;
                record(&inner.config, &mut st, &issuer, result, clock.now())
            };
            tx.send_replace(Some(outcome));
        });
        rx
    }
}

/// Waits for a fetch's outcome.
async fn wait(mut rx: InFlight, issuer: &str) -> Outcome {
    match rx.wait_for(Option::is_some).await {
        Ok(v) => v.clone().unwrap_or_else(|| Err(abandoned(issuer))),
        Err(_) => Err(abandoned(issuer)),
    }
}

fn abandoned(issuer: &str) -> FetchError {
    FetchError::Unreachable {
        url: DiscoveryDocument::url_for_issuer(issuer),
        reason: "fetch abandoned".into(),
    }
}

/// Stores a finished fetch in the cache and says what its waiters get.
fn record(
    cfg: &ClientConfig,
    st: &mut CacheState,
    issuer: &str,
    result: Result<(DiscoveryDocument, Jwks, Duration), FetchError>,
    done: Instant,
) -> Outcome {
    match result {
        Ok((_, jwks, ttl)) => {
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
                (Some(k), Some(exp)) if done < exp + cfg.max_stale => {
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

impl Fetcher {
    /// Discovery then JWKS, bounded by `fetch_timeout` in total: each GET gets what is left
    /// of it (and at most `request_timeout`).
    async fn fetch_documents(
        &self,
        issuer: &str,
    ) -> Result<(DiscoveryDocument, Jwks, Duration), FetchError> {
        let deadline = tokio::time::Instant::now() + self.config.fetch_timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        let url = DiscoveryDocument::url_for_issuer(issuer);
        let got = self.http.get(&url, left()).await?;
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
        let got_keys = self.http.get(&doc.jwks_uri, left()).await?;
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
