//! The JWKS client against a fake issuer on 127.0.0.1:0 (with request counters), and the
//! local issuer server (`irsa oidc serve`) end to end.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use irsa_jose::{Algorithm, Jwks, SigningKey, Validation};
use irsa_oidc::{
    ClientConfig, FetchError, IssuerState, JwksClient, KeySource, ManualClock, router, serve,
    server_tls_config,
};
use irsa_test::jose::jwks_of;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

const IDP: &str = "IDPCommunicationError";
const INVALID: &str = "InvalidIdentityToken";

/// The STS code a key-retrieval failure is answered with.
fn sts_code(e: &FetchError) -> &'static str {
    irsa_sts_core::StsError::from(e.to_jose()).code()
}

#[derive(Clone, Debug, PartialEq)]
enum Mode {
    Ok,
    Down,
    SlowJwks(Duration),
    HugeDeclared,
    HugeStreamed,
    NotJson,
    /// Accepts the request and never answers (discovery and JWKS).
    Hang,
}

struct Fake {
    base: String,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
    jwks: Mutex<Jwks>,
    cache_control: Mutex<Option<String>>,
    mode: Mutex<Mode>,
    claimed_issuer: Mutex<Option<String>>,
    jwks_uri: Mutex<Option<String>>,
}

impl Fake {
    fn hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }
    fn set_mode(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }
    fn set_keys(&self, keys: &[&SigningKey]) {
        *self.jwks.lock().unwrap() = jwks_of(keys);
    }
    fn set_cache_control(&self, v: Option<&str>) {
        *self.cache_control.lock().unwrap() = v.map(str::to_owned);
    }
}

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

async fn fake_discovery(State(f): State<Arc<Fake>>) -> Response {
    f.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let mode = f.mode.lock().unwrap().clone();
    match mode {
        Mode::Down => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mode::Hang => std::future::pending::<()>().await,
        _ => {}
    }
    let issuer = f
        .claimed_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(f.base.clone());
    let jwks_uri = f
        .jwks_uri
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(format!("{}/keys", f.base));
    let body = json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn fake_jwks(State(f): State<Arc<Fake>>) -> Response {
    f.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let mode = f.mode.lock().unwrap().clone();
    let body = f.jwks.lock().unwrap().to_json();
    let cc = f.cache_control.lock().unwrap().clone();
    let mut resp = match mode {
        Mode::Down => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mode::SlowJwks(d) => {
            tokio::time::sleep(d).await;
            body.into_response()
        }
        Mode::HugeDeclared => vec![b' '; 2 * 1024 * 1024].into_response(),
        Mode::HugeStreamed => {
            // 64 MiB in 64 KiB chunks without a Content-Length: must be cut off early.
            let chunks = (0..1024).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024]));
            Body::from_stream(futures_util::stream::iter(chunks)).into_response()
        }
        Mode::NotJson => "<html>hello</html>".into_response(),
        Mode::Hang => std::future::pending().await,
        Mode::Ok => body.into_response(),
    };
    if let Some(cc) = cc {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, cc.parse().unwrap());
    }
    resp
}

/// Starts the fake issuer; with `tls` it speaks https with that server config.
async fn start_fake(tls: Option<Arc<rustls::ServerConfig>>) -> Arc<Fake> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let fake = Arc::new(Fake {
        base: format!("{scheme}://{addr}"),
        discovery_hits: AtomicUsize::new(0),
        jwks_hits: AtomicUsize::new(0),
        jwks: Mutex::new(Jwks { keys: vec![] }),
        cache_control: Mutex::new(None),
        mode: Mutex::new(Mode::Ok),
        claimed_issuer: Mutex::new(None),
        jwks_uri: Mutex::new(None),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(fake_discovery))
        .route("/keys", get(fake_jwks))
        .with_state(fake.clone());
    tokio::spawn(serve(listener, app, tls, std::future::pending()));
    fake
}

fn local_config() -> ClientConfig {
    ClientConfig {
        allow_insecure_http_issuer: true,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(3),
        ..ClientConfig::default()
    }
}

fn client(cfg: ClientConfig) -> (JwksClient, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    (JwksClient::with_clock(cfg, clock.clone()).unwrap(), clock)
}

/// The error getting the keys of `issuer` (no `kid` hint), which must come within `limit`.
async fn refused_within(c: &JwksClient, issuer: &str, limit: Duration) -> FetchError {
    let t = Instant::now();
    let e = c.keys_for(issuer, None).await.unwrap_err();
    assert!(t.elapsed() < limit, "took {:?}: {e}", t.elapsed());
    e
}

/// Gets the keys (no `kid` hint) and waits for a background refresh it may have started.
async fn settled(c: &JwksClient, issuer: &str) -> Arc<Jwks> {
    let k = c.keys_for(issuer, None).await.unwrap();
    c.wait_for_refresh(issuer).await;
    k
}

fn kids(j: &Jwks) -> Vec<String> {
    j.keys.iter().filter_map(|k| k.kid.clone()).collect()
}

#[tokio::test]
async fn second_call_is_served_from_cache() {
    let fake = start_fake(None).await;
    let k1 = key();
    fake.set_keys(&[&k1]);
    let (c, _clock) = client(local_config());
    let a = c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    let b = c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    let none = c.keys_for(&fake.base, None).await.unwrap();
    assert_eq!(kids(&a), vec![k1.kid().to_owned()]);
    assert!(Arc::ptr_eq(&a, &b) && Arc::ptr_eq(&a, &none));
    assert_eq!(fake.hits(), 1);
    assert_eq!(fake.discovery_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn cache_control_max_age_is_honored() {
    let fake = start_fake(None).await;
    fake.set_keys(&[&key()]);
    fake.set_cache_control(Some("public, max-age=120"));
    let (c, clock) = client(local_config());
    c.keys_for(&fake.base, None).await.unwrap();
    clock.advance(Duration::from_secs(119));
    c.keys_for(&fake.base, None).await.unwrap();
    assert_eq!(fake.hits(), 1, "fresh for 120 s");
    clock.advance(Duration::from_secs(2));
    c.keys_for(&fake.base, None).await.unwrap();
    c.wait_for_refresh(&fake.base).await;
    assert_eq!(fake.hits(), 2, "refetched after max-age");
}

#[tokio::test]
async fn cache_control_is_clamped_and_defaulted() {
    let fake = start_fake(None).await;
    fake.set_keys(&[&key()]);
    let (c, clock) = client(local_config());
    // Too short: raised to min_ttl (60 s).
    fake.set_cache_control(Some("max-age=5"));
    settled(&c, &fake.base).await;
    clock.advance(Duration::from_secs(30));
    settled(&c, &fake.base).await;
    assert_eq!(fake.hits(), 1, "max-age=5 is raised to 60 s");
    clock.advance(Duration::from_secs(31));
    settled(&c, &fake.base).await;
    assert_eq!(fake.hits(), 2);
    // Too long: lowered to max_ttl (24 h).
    fake.set_cache_control(Some("max-age=31536000"));
    clock.advance(Duration::from_secs(61));
    settled(&c, &fake.base).await;
    assert_eq!(fake.hits(), 3);
    clock.advance(Duration::from_secs(24 * 3600 - 10));
    settled(&c, &fake.base).await;
    assert_eq!(fake.hits(), 3, "still within 24 h");
    clock.advance(Duration::from_secs(11));
    settled(&c, &fake.base).await;
    assert_eq!(fake.hits(), 4, "a year is lowered to 24 h");
    // Absent: default_ttl (1 h).
    fake.set_cache_control(None);
    clock.advance(Duration::from_secs(24 * 3600 + 1));
    settled(&c, &fake.base).await;
    assert_eq!(fake.hits(), 5);
    clock.advance(Duration::from_secs(3599));
    settled(&c, &fake.base).await;
    assert_eq!(fake.hits(), 5);
    clock.advance(Duration::from_secs(2));
    settled(&c, &fake.base).await;
    assert_eq!(fake.hits(), 6, "default ttl is one hour");
}

#[tokio::test]
async fn unknown_kid_refetch_is_rate_limited_and_shared() {
    let fake = start_fake(None).await;
    let k1 = key();
    fake.set_keys(&[&k1]);
    let (c, clock) = client(local_config());
    let c = Arc::new(c);
    c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    assert_eq!(fake.hits(), 1);
    // Within the interval after the first fetch: no refetch however often we ask.
    for _ in 0..50 {
        let k = c.keys_for(&fake.base, Some("unknown")).await.unwrap();
        assert_eq!(kids(&k), vec![k1.kid().to_owned()]);
    }
    assert_eq!(fake.hits(), 1);
    // After the interval: many concurrent callers share one fetch (the server is slow so
    // they overlap).
    clock.advance(Duration::from_secs(31));
    fake.set_mode(Mode::SlowJwks(Duration::from_millis(300)));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        let base = fake.base.clone();
        tasks.push(tokio::spawn(async move {
            c.keys_for(&base, Some("unknown")).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fake.hits(), 2, "one fetch for 20 concurrent callers");
    fake.set_mode(Mode::Ok);
    for _ in 0..50 {
        c.keys_for(&fake.base, Some("unknown")).await.unwrap();
    }
    assert_eq!(fake.hits(), 2);
    clock.advance(Duration::from_secs(29));
    c.keys_for(&fake.base, Some("unknown")).await.unwrap();
    assert_eq!(fake.hits(), 2, "the interval counts from the last fetch");
    clock.advance(Duration::from_secs(2));
    c.keys_for(&fake.base, Some("unknown")).await.unwrap();
    assert_eq!(fake.hits(), 3);
}

#[tokio::test]
async fn rotated_key_is_picked_up_after_refetch() {
    let fake = start_fake(None).await;
    let (old, new) = (key(), key());
    fake.set_keys(&[&old]);
    let (c, clock) = client(local_config());
    c.keys_for(&fake.base, Some(old.kid())).await.unwrap();
    fake.set_keys(&[&old, &new]);
    clock.advance(Duration::from_secs(31));
    let k = c.keys_for(&fake.base, Some(new.kid())).await.unwrap();
    assert!(kids(&k).contains(&new.kid().to_owned()));
    assert_eq!(fake.hits(), 2);
    // The old key is retired; tokens signed with it must fail once the cache is refreshed.
    fake.set_keys(&[&new]);
    clock.advance(Duration::from_secs(3601));
    // Expired: the cached keys are served at once while they are refreshed.
    let k = c.keys_for(&fake.base, Some(new.kid())).await.unwrap();
    assert_eq!(kids(&k).len(), 2);
    c.wait_for_refresh(&fake.base).await;
    let k = c.keys_for(&fake.base, Some(new.kid())).await.unwrap();
    assert_eq!(kids(&k), vec![new.kid().to_owned()]);
    assert_eq!(fake.hits(), 3);
}

#[tokio::test]
async fn stale_keys_are_served_while_the_issuer_is_down_then_fail() {
    let fake = start_fake(None).await;
    let k1 = key();
    fake.set_keys(&[&k1]);
    fake.set_cache_control(Some("max-age=3600"));
    let (c, clock) = client(local_config());
    c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    fake.set_mode(Mode::Down);
    clock.advance(Duration::from_secs(3601));
    let k = c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    assert_eq!(kids(&k), vec![k1.kid().to_owned()], "stale keys served");
    c.wait_for_refresh(&fake.base).await;
    let attempts = fake.discovery_hits.load(Ordering::SeqCst);
    assert_eq!(attempts, 2);
    // Retries are rate limited too: no request within the interval.
    for _ in 0..10 {
        c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    }
    assert_eq!(fake.discovery_hits.load(Ordering::SeqCst), 2);
    // Still within the stale window (24 h after expiry).
    clock.advance(Duration::from_secs(23 * 3600));
    c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    c.wait_for_refresh(&fake.base).await;
    assert_eq!(fake.discovery_hits.load(Ordering::SeqCst), 3);
    // Past the stale window: the fetch error.
    clock.advance(Duration::from_secs(3600));
    let e = c.keys_for(&fake.base, Some(k1.kid())).await.unwrap_err();
    assert!(matches!(e, FetchError::Status { status: 503, .. }), "{e}");
    assert_eq!(sts_code(&e), IDP);
    assert!(matches!(
        e.to_jose(),
        irsa_jose::JoseError::IdpCommunication { .. }
    ));
    // Rate-limited answers past the window fail too (no stale keys).
    let e = c.keys_for(&fake.base, Some(k1.kid())).await.unwrap_err();
    assert_eq!(sts_code(&e), IDP);
    // The issuer comes back: fresh keys after the interval.
    fake.set_mode(Mode::Ok);
    clock.advance(Duration::from_secs(31));
    c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
}

/// A TCP server that accepts connections and never answers; counts the connections.
async fn start_tarpit() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = conns.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    (format!("http://{addr}"), conns)
}

fn hanging_config() -> ClientConfig {
    ClientConfig {
        fetch_timeout: Duration::from_millis(800),
        ..local_config()
    }
}

#[tokio::test]
async fn hanging_issuer_fetch_is_shared_and_outlives_callers_that_give_up() {
    let (issuer, conns) = start_tarpit().await;
    let (c, _clock) = client(hanging_config());
    // Callers give up early (as STS's request timeout does): the one fetch goes on.
    let t = Instant::now();
    for _ in 0..5 {
        let r = tokio::time::timeout(
            Duration::from_millis(100),
            c.keys_for(&issuer, Some("random-kid")),
        )
        .await;
        assert!(r.is_err(), "the tarpit never answers");
    }
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "callers that gave up must not start new fetches"
    );
    // A caller that waits gets the fetch's outcome within the total fetch budget.
    let e = c.keys_for(&issuer, None).await.unwrap_err();
    assert!(matches!(e, FetchError::Timeout { .. }), "{e}");
    assert_eq!(sts_code(&e), IDP);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn hanging_issuer_stale_keys_are_served_at_once_and_refresh_is_rate_limited() {
    let fake = start_fake(None).await;
    let k1 = key();
    fake.set_keys(&[&k1]);
    fake.set_cache_control(Some("max-age=3600"));
    let (c, clock) = client(hanging_config());
    c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    fake.set_mode(Mode::Hang);
    clock.advance(Duration::from_secs(3601));
    // Expired keys within the stale window: served at once, though the issuer hangs.
    for _ in 0..10 {
        let k = tokio::time::timeout(
            Duration::from_millis(200),
            c.keys_for(&fake.base, Some(k1.kid())),
        )
        .await
        .expect("stale keys must be served without waiting for the issuer")
        .unwrap();
        assert_eq!(kids(&k), vec![k1.kid().to_owned()]);
    }
    c.wait_for_refresh(&fake.base).await;
    assert_eq!(
        fake.discovery_hits.load(Ordering::SeqCst),
        2,
        "one background refresh"
    );
    // The refresh timed out; within the interval nothing new is tried, even for an
    // unknown kid (served the stale keys at once).
    let t = Instant::now();
    let k = c.keys_for(&fake.base, Some("rotated")).await.unwrap();
    assert_eq!(kids(&k), vec![k1.kid().to_owned()]);
    assert!(t.elapsed() < Duration::from_millis(200));
    assert_eq!(fake.discovery_hits.load(Ordering::SeqCst), 2);
    // After the interval: an unknown kid waits for one refetch (bounded), then gets the
    // stale keys; callers giving up meanwhile start nothing new.
    clock.advance(Duration::from_secs(31));
    for _ in 0..5 {
        let r = tokio::time::timeout(
            Duration::from_millis(50),
            c.keys_for(&fake.base, Some("rotated")),
        )
        .await;
        assert!(r.is_err());
    }
    let t = Instant::now();
    let k = c.keys_for(&fake.base, Some("rotated")).await.unwrap();
    assert_eq!(kids(&k), vec![k1.kid().to_owned()]);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(fake.discovery_hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn hanging_issuer_unknown_kids_with_fresh_keys_start_one_fetch_per_interval() {
    let fake = start_fake(None).await;
    let k1 = key();
    fake.set_keys(&[&k1]);
    let (c, clock) = client(hanging_config());
    c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    fake.set_mode(Mode::Hang);
    clock.advance(Duration::from_secs(31));
    // Unauthenticated tokens with random kids, each dropped by its caller's deadline.
    for i in 0..20 {
        let kid = format!("random-{i}");
        let _ = tokio::time::timeout(
            Duration::from_millis(20),
            c.keys_for(&fake.base, Some(&kid)),
        )
        .await;
    }
    c.wait_for_refresh(&fake.base).await;
    assert_eq!(fake.discovery_hits.load(Ordering::SeqCst), 2, "one refetch");
    // Within the interval: answered at once from the cache.
    let t = Instant::now();
    for i in 0..20 {
        let k = c
            .keys_for(&fake.base, Some(&format!("again-{i}")))
            .await
            .unwrap();
        assert_eq!(kids(&k), vec![k1.kid().to_owned()]);
    }
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(fake.discovery_hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn default_fetch_budget_is_below_the_sts_request_timeout() {
    let c = ClientConfig::default();
    assert_eq!(c.fetch_timeout, Duration::from_secs(5));
    assert!(c.fetch_timeout < Duration::from_secs(10));
}

#[tokio::test]
async fn unreachable_issuer_is_idp_communication_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (c, _) = client(local_config());
    let e = c
        .keys_for(&format!("http://{addr}"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Unreachable { .. }), "{e}");
    assert_eq!(sts_code(&e), IDP);
}

#[tokio::test]
async fn oversize_responses_are_cut_off() {
    let fake = start_fake(None).await;
    let (c, clock) = client(local_config());
    for mode in [Mode::HugeDeclared, Mode::HugeStreamed] {
        fake.set_mode(mode.clone());
        clock.advance(Duration::from_secs(31));
        let e = refused_within(&c, &fake.base, Duration::from_secs(3)).await;
        assert!(
            matches!(e, FetchError::TooLarge { limit: 1048576, .. }),
            "{mode:?}: {e}"
        );
        assert_eq!(sts_code(&e), IDP);
    }
}

#[tokio::test]
async fn slow_responses_are_cut_off_by_the_timeout() {
    let fake = start_fake(None).await;
    fake.set_mode(Mode::SlowJwks(Duration::from_secs(10)));
    let (c, _) = client(ClientConfig {
        request_timeout: Duration::from_millis(300),
        ..local_config()
    });
    let e = refused_within(&c, &fake.base, Duration::from_secs(2)).await;
    assert!(matches!(e, FetchError::Timeout { .. }), "{e}");
    assert_eq!(sts_code(&e), IDP);
}

#[tokio::test]
async fn bad_json_is_idp_communication_error() {
    let fake = start_fake(None).await;
    fake.set_mode(Mode::NotJson);
    let (c, _) = client(local_config());
    let e = c.keys_for(&fake.base, None).await.unwrap_err();
    assert!(
        matches!(e, FetchError::BadDocument { what: "jwks", .. }),
        "{e}"
    );
    assert_eq!(sts_code(&e), IDP);
}

#[tokio::test]
async fn plain_http_issuer_needs_the_loud_option() {
    let fake = start_fake(None).await;
    fake.set_keys(&[&key()]);
    let (c, _) = client(ClientConfig::default());
    let e = c.keys_for(&fake.base, None).await.unwrap_err();
    assert!(matches!(e, FetchError::InsecureIssuer { .. }), "{e}");
    assert_eq!(sts_code(&e), INVALID);
    assert_eq!(
        fake.discovery_hits.load(Ordering::SeqCst),
        0,
        "no request made"
    );
    let (c, _) = client(local_config());
    c.keys_for(&fake.base, None).await.unwrap();
}

#[tokio::test]
async fn discovery_issuer_must_match() {
    let fake = start_fake(None).await;
    fake.set_keys(&[&key()]);
    *fake.claimed_issuer.lock().unwrap() = Some("https://evil.example".into());
    let (c, _) = client(local_config());
    let e = c.keys_for(&fake.base, None).await.unwrap_err();
    assert!(
        matches!(&e, FetchError::IssuerMismatch { found, .. } if found == "https://evil.example"),
        "{e}"
    );
    assert_eq!(sts_code(&e), INVALID);
    assert_eq!(fake.hits(), 0, "keys not fetched");
    // A trailing slash is a different issuer too (exact comparison).
    *fake.claimed_issuer.lock().unwrap() = Some(format!("{}/", fake.base));
    let e = c.keys_for(&fake.base, None).await.unwrap_err();
    assert!(matches!(e, FetchError::IssuerMismatch { .. }), "{e}");
}

struct TestPki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
    cert_pem: String,
    key_pem: String,
}

fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "irsa test ca");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let cert_pem = cert.pem();
    let key_pem = key.serialize_pem();
    let server = server_tls_config(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        server,
        cert_pem,
        key_pem,
    }
}

#[tokio::test]
async fn https_issuer_with_a_private_ca() {
    let pki = test_pki();
    let fake = start_fake(Some(pki.server.clone())).await;
    let k1 = key();
    fake.set_keys(&[&k1]);
    assert!(fake.base.starts_with("https://127.0.0.1:"));
    // Without the CA: the certificate is not trusted.
    let (c, _) = client(ClientConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(3),
        ..ClientConfig::default()
    });
    let e = c.keys_for(&fake.base, None).await.unwrap_err();
    assert!(
        matches!(&e, FetchError::Certificate { reason, .. } if reason.contains("certificate")),
        "{e}"
    );
    assert_eq!(sts_code(&e), INVALID);
    assert_eq!(fake.hits(), 0);
    // With the CA bundle: works, https only.
    let (c, clock) = client(ClientConfig {
        ca_bundle_pem: Some(pki.ca_pem.clone().into_bytes()),
        ..ClientConfig::default()
    });
    let k = c.keys_for(&fake.base, Some(k1.kid())).await.unwrap();
    assert_eq!(kids(&k), vec![k1.kid().to_owned()]);
    // An https issuer may not send us to a plain http jwks_uri, even with the loud option.
    *fake.jwks_uri.lock().unwrap() = Some("http://127.0.0.1:1/keys".into());
    let (c2, _) = client(ClientConfig {
        ca_bundle_pem: Some(pki.ca_pem.clone().into_bytes()),
        allow_insecure_http_issuer: true,
        ..ClientConfig::default()
    });
    let e = c2.keys_for(&fake.base, None).await.unwrap_err();
    assert!(matches!(e, FetchError::InvalidJwksUri { .. }), "{e}");
    assert_eq!(sts_code(&e), INVALID);
    clock.advance(Duration::from_secs(3601));
    let e = c.keys_for(&fake.base, None).await.unwrap();
    assert_eq!(
        e.keys.len(),
        1,
        "stale keys served while the jwks_uri is refused"
    );
}

#[tokio::test]
async fn static_source_ignores_issuer() {
    let k1 = key();
    let src = KeySource::from_file_contents(&jwks_of(&[&k1]).to_json()).unwrap();
    let k = src.keys_for("https://anything", Some("x")).await.unwrap();
    assert_eq!(kids(&k), vec![k1.kid().to_owned()]);
}

fn sign(k: &SigningKey, issuer: &str) -> String {
    let now = irsa_test::now();
    irsa_test::jose::sign(
        k,
        &json!({
            "iss": issuer, "sub": "system:serviceaccount:default:app",
            "aud": ["sts.amazonaws.com"], "iat": now, "exp": now + 600,
        }),
    )
}

fn verify_with(jwks: &Jwks, token: &str, issuer: &str) -> irsa_jose::VerifiedToken {
    let now = irsa_test::now();
    let auds = vec!["sts.amazonaws.com".to_owned()];
    irsa_jose::verify(token, jwks, &Validation::new(issuer, &auds, now)).unwrap()
}

#[tokio::test]
async fn serve_publishes_discovery_and_jwks_that_verify_tokens() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://{addr}");
    let sk = SigningKey::generate(Algorithm::RS256).unwrap();
    let state = IssuerState::new(&issuer, &jwks_of(&[&sk]), 3600).unwrap();
    tokio::spawn(serve(listener, router(state), None, std::future::pending()));

    let resp = irsa_test::net::get(&format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(resp.status, 200, "{resp:?}");
    let header = |r: &irsa_test::net::Reply, name: &str| {
        r.header(name).unwrap_or_default().to_ascii_lowercase()
    };
    assert!(
        header(&resp, "cache-control").contains("public, max-age=3600"),
        "{resp:?}"
    );
    assert!(
        header(&resp, "content-type").contains("application/json"),
        "{resp:?}"
    );
    let doc: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["jwks_uri"], format!("{issuer}/openid/v1/jwks"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(doc["response_types_supported"], json!(["id_token"]));
    let resp = irsa_test::net::get(&format!("{issuer}/openid/v1/jwks")).await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(header(&resp, "content-type").contains("application/jwk-set+json"));
    assert_eq!(
        irsa_test::net::get(&format!("{issuer}/nope")).await.status,
        404
    );

    // The client fetches it (http allowed) and the keys verify a token signed with the key.
    let (c, _) = client(local_config());
    let jwks = c.keys_for(&issuer, Some(sk.kid())).await.unwrap();
    let v = verify_with(&jwks, &sign(&sk, &issuer), &issuer);
    assert_eq!(v.sub, "system:serviceaccount:default:app");
    // A token from another key does not verify.
    let other = SigningKey::generate(Algorithm::RS256).unwrap();
    let auds = vec!["sts.amazonaws.com".to_owned()];
    let bad = irsa_jose::verify(
        &sign(&other, &issuer),
        &jwks,
        &Validation::new(&issuer, &auds, 0),
    );
    assert!(bad.is_err());
}

#[tokio::test]
async fn serve_over_tls_with_an_issuer_path() {
    let pki = test_pki();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("https://{addr}/id/CLUSTER1");
    let sk = key();
    let state = IssuerState::new(&issuer, &jwks_of(&[&sk]), 600).unwrap();
    assert_eq!(
        state.discovery_path(),
        "/id/CLUSTER1/.well-known/openid-configuration"
    );
    let tls = server_tls_config(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
    tokio::spawn(serve(
        listener,
        router(state),
        Some(tls),
        std::future::pending(),
    ));
    let (c, _) = client(ClientConfig {
        ca_bundle_pem: Some(pki.ca_pem.into_bytes()),
        ..ClientConfig::default()
    });
    let jwks = c.keys_for(&issuer, Some(sk.kid())).await.unwrap();
    verify_with(&jwks, &sign(&sk, &issuer), &issuer);
}
