//! The runtime over real sockets: shedding answers at once, deadlines answer, drain lets
//! requests in flight finish, TLS with hot reload, dual-stack listening.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::StatusCode;
use irsa_server::{Health, Limits, ServeOptions, ServerMetrics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, oneshot};

/// One HTTP/1.1 GET over a fresh connection; the status code and body.
async fn get_once(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answered within 10 s")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn limits(max: usize, timeout: Duration) -> Limits {
    Limits::new(
        max,
        timeout,
        || (StatusCode::TOO_MANY_REQUESTS, "shed").into_response(),
        || (StatusCode::GATEWAY_TIMEOUT, "late").into_response(),
    )
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(app: Router, options: ServeOptions) -> Running {
        let listener = irsa_server::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(irsa_server::serve(listener, app, options, async move {
            let _ = rx.await;
        }));
        Running {
            addr,
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) -> Duration {
        let t = Instant::now();
        let _ = self.stop.take().map(|s| s.send(()));
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("server stopped")
            .unwrap()
            .unwrap();
        t.elapsed()
    }
}

/// Handlers that block until released, so the test controls how many are in flight.
fn blocking_app(release: Arc<Notify>, entered: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route(
            "/slow",
            get(move || {
                let release = release.clone();
                let entered = entered.clone();
                async move {
                    entered.fetch_add(1, Ordering::SeqCst);
                    release.notified().await;
                    "done"
                }
            }),
        )
        .route("/fast", get(|| async { "fast" }))
}

async fn wait_for(count: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while count.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} requests arrived",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn past_the_limit_requests_are_shed_at_once_and_counted() {
    let release = Arc::new(Notify::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let metrics = ServerMetrics::default();
    let limits = limits(2, Duration::from_secs(30)).with_metrics(metrics.clone());
    let app = limits
        .clone()
        .apply(blocking_app(release.clone(), entered.clone()));
    let server = Running::start(app, ServeOptions::default()).await;

    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(get_once(server.addr, "/slow")))
        .collect();
    wait_for(&entered, 2).await;
    assert_eq!(limits.in_flight(), 2);

    // The third waits for nothing: answered with the protocol's refusal, not queued.
    let (status, body) = get_once(server.addr, "/fast").await;
    assert_eq!((status, body.as_str()), (429, "shed"));
    assert_eq!(metrics.shed.get(), 1);

    release.notify_waiters();
    for h in held {
        assert_eq!(h.await.unwrap(), (200, "done".to_owned()));
    }
    // Capacity comes back once the held requests finish.
    assert_eq!(
        get_once(server.addr, "/fast").await,
        (200, "fast".to_owned())
    );
    assert_eq!(limits.in_flight(), 0);
    assert_eq!(metrics.in_flight.get(), 0);
    let text = metrics.encode();
    assert!(text.contains("irsa_server_requests_shed_total 1"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_the_protocols_answer() {
    let release = Arc::new(Notify::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let metrics = ServerMetrics::default();
    let app = limits(8, Duration::from_millis(200))
        .with_metrics(metrics.clone())
        .apply(blocking_app(release, entered));
    let server = Running::start(app, ServeOptions::default()).await;
    let t = Instant::now();
    assert_eq!(
        get_once(server.addr, "/slow").await,
        (504, "late".to_owned())
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(metrics.timed_out.get(), 1);
    server.stop().await;
}

/// One listener, two protocols: a routed request is refused in its route's form, both
/// when shed and past its deadline; the others keep the default refusals.
#[tokio::test]
async fn routed_requests_get_their_protocols_refusals() {
    let routed = |timeout| {
        limits(1, timeout).route(
            |req| req.uri().query().is_some_and(|q| q.contains("other")),
            irsa_server::Refusals::new(
                || (StatusCode::SERVICE_UNAVAILABLE, "other shed").into_response(),
                || (StatusCode::BAD_REQUEST, "other late").into_response(),
            ),
        )
    };
    // Past the deadline.
    let app = routed(Duration::from_millis(200)).apply(blocking_app(
        Arc::new(Notify::new()),
        Arc::new(AtomicUsize::new(0)),
    ));
    let server = Running::start(app, ServeOptions::default()).await;
    assert_eq!(
        get_once(server.addr, "/slow?other").await,
        (400, "other late".to_owned())
    );
    assert_eq!(
        get_once(server.addr, "/slow").await,
        (504, "late".to_owned())
    );
    server.stop().await;
    // Shed.
    let release = Arc::new(Notify::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let app = routed(Duration::from_secs(30)).apply(blocking_app(release.clone(), entered.clone()));
    let server = Running::start(app, ServeOptions::default()).await;
    let held = tokio::spawn(get_once(server.addr, "/slow"));
    wait_for(&entered, 1).await;
    assert_eq!(
        get_once(server.addr, "/fast?other").await,
        (503, "other shed".to_owned())
    );
    assert_eq!(
        get_once(server.addr, "/fast").await,
        (429, "shed".to_owned())
    );
    release.notify_waiters();
    assert_eq!(held.await.unwrap(), (200, "done".to_owned()));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_bounds_the_drain() {
    let release = Arc::new(Notify::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let app = blocking_app(release.clone(), entered.clone());
    let options = ServeOptions {
        drain_timeout: Duration::from_secs(5),
        ..ServeOptions::default()
    };
    let server = Running::start(app.clone(), options).await;
    let addr = server.addr;
    let in_flight = tokio::spawn(get_once(addr, "/slow"));
    wait_for(&entered, 1).await;
    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
    release.notify_waiters();
    assert_eq!(in_flight.await.unwrap(), (200, "done".to_owned()));
    stopping.await.unwrap();

    // A request that never finishes is cut off at the drain bound.
    let entered = Arc::new(AtomicUsize::new(0));
    let options = ServeOptions {
        drain_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let server = Running::start(
        blocking_app(Arc::new(Notify::new()), entered.clone()),
        options,
    )
    .await;
    let stuck = tokio::spawn(get_once(server.addr, "/slow"));
    wait_for(&entered, 1).await;
    let took = server.stop().await;
    assert!(took < Duration::from_secs(5), "drain not bounded: {took:?}");
    stuck.abort();
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let server = Running::start(Router::new().route("/", get(|| async { "x" })), options).await;
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection with unfinished headers kept open");
    server.stop().await;
}

#[tokio::test]
async fn readiness_turns_false_on_shutdown_and_reports_checks() {
    let ready = Arc::new(AtomicUsize::new(0));
    let r = ready.clone();
    let health = Health::default().with_check(move || {
        if r.load(Ordering::SeqCst) == 1 {
            Ok(())
        } else {
            Err("cache not synced".into())
        }
    });
    let server = Running::start(
        irsa_server::ops_router(health.clone(), ServerMetrics::default()),
        ServeOptions::default(),
    )
    .await;
    assert_eq!(get_once(server.addr, "/healthz").await.0, 200);
    let (status, body) = get_once(server.addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("cache not synced"), "{body}");
    ready.store(1, Ordering::SeqCst);
    assert_eq!(get_once(server.addr, "/readyz").await.0, 200);
    health.shutting_down();
    let (status, body) = get_once(server.addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("shutting down"), "{body}");
    let (status, body) = get_once(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("irsa_server_requests_in_flight"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn dual_stack_listener_answers_on_ipv4_and_ipv6() {
    let listener = irsa_server::bind_dual_stack(0).expect("bind");
    let port = listener.local_addr().unwrap().port();
    let is_v6 = listener.local_addr().unwrap().is_ipv6();
    let (tx, rx) = oneshot::channel::<()>();
    let app = Router::new().route("/", get(|| async { "both" }));
    let task = tokio::spawn(irsa_server::serve(
        listener,
        app,
        ServeOptions::default(),
        async move {
            let _ = rx.await;
        },
    ));
    let v4: SocketAddr = ([127, 0, 0, 1], port).into();
    assert_eq!(get_once(v4, "/").await, (200, "both".to_owned()));
    if is_v6 {
        let v6: SocketAddr = (std::net::Ipv6Addr::LOCALHOST, port).into();
        if tokio::net::TcpStream::connect(v6).await.is_ok() {
            assert_eq!(get_once(v6, "/").await, (200, "both".to_owned()));
        }
    }
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn tls_serves_the_reloaded_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let issue = |name: &str| {
        let k = rcgen::KeyPair::generate().unwrap();
        let c = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&k)
            .unwrap();
        (c.pem(), k.serialize_pem(), c.der().to_vec())
    };
    let (c1, k1, der1) = issue("one.test");
    std::fs::write(&cert, &c1).unwrap();
    std::fs::write(&key, &k1).unwrap();
    let suites =
        irsa_server::tls::parse_cipher_suites("", irsa_server::tls::MinVersion::Tls12).unwrap();
    let resolver = Arc::new(
        irsa_server::tls::ReloadingCert::new(
            cert.clone(),
            key.clone(),
            irsa_server::tls::provider(&suites),
        )
        .unwrap(),
    );
    let config = irsa_server::tls::server_config(
        irsa_server::tls::MinVersion::Tls12,
        &suites,
        resolver.clone(),
    )
    .unwrap();
    let options = ServeOptions {
        tls: Some(Arc::new(config)),
        http2: true,
        ..ServeOptions::default()
    };
    let server = Running::start(Router::new().route("/", get(|| async { "tls" })), options).await;

    let peer_cert = |addr: SocketAddr| async move {
        let mut roots = rustls::RootCertStore::empty();
        let _ = &mut roots;
        let verifier = Arc::new(AcceptAny);
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("one.test").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let der = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        tls.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        (der, String::from_utf8_lossy(&out).into_owned())
    };
    let (der, answer) = peer_cert(server.addr).await;
    assert_eq!(der, der1);
    assert!(answer.ends_with("tls"), "{answer}");

    let (c2, k2, der2) = issue("two.test");
    std::fs::write(&cert, &c2).unwrap();
    std::fs::write(&key, &k2).unwrap();
    assert_eq!(
        resolver.check().unwrap(),
        irsa_server::tls::Reload::Reloaded
    );
    let (der, _) = peer_cert(server.addr).await;
    assert_eq!(der, der2, "new connections get the reloaded certificate");
    server.stop().await;
}

#[derive(Debug)]
struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls_pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls_pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
