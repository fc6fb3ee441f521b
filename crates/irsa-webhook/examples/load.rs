//! Load harness for the webhook's admission path.
//!
//! Starts the webhook server (the real router, TLS stack and SA cache; the cache is fed
//! directly, as no API server is involved) in a child process, then sends AdmissionReviews
//! for a 3-container pod over TLS keep-alive connections at a fixed concurrency, for a
//! bounded number of requests or time, and reports admissions/s, latency percentiles and
//! the server process's resident memory.
//!
//! ```text
//! cargo run --release -p irsa-webhook --example load -- \
//!     [--concurrency 32] [--requests 50000] [--seconds 30] [--service-accounts 5000]
//! ```

mod common;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use irsa_webhook::{AppState, DEFAULT_MAX_BODY_BYTES, Health, Metrics, SaCache, router, serve_tls};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Opts {
    concurrency: usize,
    requests: u64,
    seconds: u64,
    service_accounts: usize,
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let dir = PathBuf::from(args.get(i + 1).ok_or("--serve needs a directory")?);
        let sas = arg(&args, "--service-accounts", 5000usize);
        return rt.block_on(serve(&dir, sas));
    }
    let opts = Opts {
        concurrency: arg(&args, "--concurrency", 32),
        requests: arg(&args, "--requests", 50_000),
        seconds: arg(&args, "--seconds", 30),
        service_accounts: arg(&args, "--service-accounts", 5000),
    };
    rt.block_on(drive(opts))
}

fn pair(dir: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    std::fs::write(dir.join("tls.crt"), cert.pem())?;
    std::fs::write(dir.join("tls.key"), key.serialize_pem())?;
    Ok(cert.der().to_vec())
}

/// Child: the server.
async fn serve(dir: &Path, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let settings = common::settings();
    let store = common::store(settings.clone(), n);
    let health = Arc::new(Health::default());
    health.config_map_synced.store(true, Ordering::SeqCst);
    let state = AppState {
        settings,
        sa: SaCache::new(store, None, Duration::ZERO),
        config_map: None,
        container_credentials: None,
        metrics: Metrics::new(),
        health,
        debug_handlers: false,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        cache_restart: Arc::new(tokio::sync::Notify::new()),
    };
    let suites = irsa_webhook::tls::CipherSuites {
        tls12: None,
        ignored: vec![],
    };
    let resolver = Arc::new(irsa_webhook::tls::ReloadingCert::new(
        dir.join("tls.crt"),
        dir.join("tls.key"),
        irsa_webhook::tls::provider(&suites),
    )?);
    let tls =
        irsa_webhook::tls::server_config(irsa_webhook::tls::MinVersion::Tls12, &suites, resolver)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let srv = tokio::spawn(serve_tls(
        listener,
        Arc::new(tls),
        router(state),
        rx,
        Duration::from_secs(1),
    ));
    std::fs::write(dir.join("port.tmp"), port.to_string())?;
    std::fs::rename(dir.join("port.tmp"), dir.join("port"))?;
    srv.await?;
    Ok(())
}

/// The server child, listening on `port` with the certificate `der`, its files in `dir`.
struct Server {
    child: std::process::Child,
    port: u16,
    der: Vec<u8>,
    dir: PathBuf,
}

impl Server {
    /// Starts `--serve` in a child process and waits (30 s at most) for its port.
    async fn start(o: &Opts) -> Result<Server, Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("irsa-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let der = pair(&dir)?;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("--serve")
            .arg(&dir)
            .arg("--service-accounts")
            .arg(o.service_accounts.to_string())
            .spawn()?;
        let port_file = dir.join("port");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port: u16 = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p.trim().parse()?;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("the server did not start in 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Ok(Server {
            child,
            port,
            der,
            dir,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the child and removes its files.
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A client configuration trusting only the server's certificate.
fn client_tls(der: Vec<u8>) -> Result<Arc<rustls::ClientConfig>, Box<dyn std::error::Error>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(der))?;
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    ))
}

/// The load's shared counters: reviews sent (claimed), not mutated, and the stop flag.
#[derive(Clone, Default)]
struct Counters {
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

/// One keep-alive connection admitting reviews until `max` are sent, `end` passes or the
/// load stops; the latency of each.
async fn client(
    tls: Arc<rustls::ClientConfig>,
    port: u16,
    c: Counters,
    (max, end): (u64, Instant),
) -> Result<Vec<Duration>, Box<dyn std::error::Error + Send + Sync>> {
    let mut lat = Vec::new();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(rustls::pki_types::ServerName::try_from("localhost")?, tcp)
        .await?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    loop {
        let i = c.sent.fetch_add(1, Ordering::SeqCst);
        if i >= max || Instant::now() > end || c.stop.load(Ordering::SeqCst) {
            break;
        }
        let req = hyper::Request::post("/mutate")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(common::review(i, "apps", "app"))))?;
        let t = Instant::now();
        let resp = send.send_request(req).await?;
        let ok = resp.status() == 200;
        let body = resp.into_body().collect().await?.to_bytes();
        lat.push(t.elapsed());
        if !ok || !body.windows(11).any(|w| w == b"\"patchType\"") {
            c.failed.fetch_add(1, Ordering::SeqCst);
        }
    }
    Ok(lat)
}

/// The peak VmRSS of `pid`, sampled every 100 ms until `stop` is set.
fn sample_peak_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = 0;
        while !stop.load(Ordering::SeqCst) {
            peak = peak.max(common::rss_kib(pid).0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    })
}

/// What a run measured.
struct Measured {
    /// Sorted latencies.
    lat: Vec<Duration>,
    failed: u64,
    elapsed: Duration,
    cpu_ms: u64,
    /// VmRSS (KiB) before the load, its sampled peak, after; VmHWM.
    idle: u64,
    peak_busy: u64,
    rss_after: u64,
    hwm: u64,
}

async fn drive(o: Opts) -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(&o).await?;
    let idle = common::rss_kib(server.pid()).0;
    let tls = client_tls(server.der.clone())?;
    let cpu_before = common::cpu_ticks(server.pid()).unwrap_or(0);
    let counters = Counters::default();
    let started = Instant::now();
    let end = started + Duration::from_secs(o.seconds);
    let tasks: Vec<_> = (0..o.concurrency)
        .map(|_| {
            let bounds = (o.requests, end);
            tokio::spawn(client(tls.clone(), server.port, counters.clone(), bounds))
        })
        .collect();
    // sample the server's RSS while it is under load
    let sampler = sample_peak_rss(server.pid(), counters.stop.clone());
    let mut lat = Vec::new();
    for t in tasks {
        match t.await? {
            Ok(l) => lat.extend(l),
            Err(e) => {
                counters.stop.store(true, Ordering::SeqCst);
                server.stop();
                return Err(format!("client failed: {e}").into());
            }
        }
    }
    let elapsed = started.elapsed();
    counters.stop.store(true, Ordering::SeqCst);
    let peak_busy = sampler.await?;
    let (rss_after, hwm) = common::rss_kib(server.pid());
    let cpu_ms = (common::cpu_ticks(server.pid()).unwrap_or(0) - cpu_before) * 10;
    server.stop();
    lat.sort();
    let m = Measured {
        lat,
        failed: counters.failed.load(Ordering::SeqCst),
        elapsed,
        cpu_ms,
        idle,
        peak_busy,
        rss_after,
        hwm,
    };
    report(&o, &m);
    if m.failed > 0 {
        return Err("some admissions failed".into());
    }
    Ok(())
}

fn report(o: &Opts, m: &Measured) {
    let n = m.lat.len();
    println!("webhook admission load");
    println!(
        "  requests:     {n} ({} failed) over {:.2} s, concurrency {}, 3-container pod, {} ServiceAccounts cached",
        m.failed,
        m.elapsed.as_secs_f64(),
        o.concurrency,
        o.service_accounts
    );
    println!(
        "  throughput:   {:.0} admissions/s",
        n as f64 / m.elapsed.as_secs_f64()
    );
    println!(
        "  latency:      p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        common::percentile(&m.lat, 0.50).as_secs_f64() * 1e3,
        common::percentile(&m.lat, 0.99).as_secs_f64() * 1e3,
        m.lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  server CPU:   {:.0} ms per 1,000 admissions",
        m.cpu_ms as f64 * 1000.0 / n.max(1) as f64
    );
    println!(
        "  server RSS:   idle {:.1} MiB, under load (peak sampled) {:.1} MiB, after {:.1} MiB, high-water {:.1} MiB",
        m.idle as f64 / 1024.0,
        m.peak_busy as f64 / 1024.0,
        m.rss_after as f64 / 1024.0,
        m.hwm as f64 / 1024.0
    );
}
