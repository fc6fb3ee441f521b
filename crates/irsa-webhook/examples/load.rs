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

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use irsa_mutate::Settings;
use irsa_webhook::{
    AppState, DEFAULT_MAX_BODY_BYTES, Health, Metrics, SaCache, SaStore, router, serve_tls,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use serde_json::json;
use std::collections::BTreeMap;
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
    let settings = Arc::new(Settings {
        aws_default_region: "eu-west-1".into(),
        sts_regional_endpoint: true,
        ..Settings::default()
    });
    let store = SaStore::new(settings.clone());
    store.apply(&Event::Init);
    for i in 0..n {
        let meta = ObjectMeta {
            name: Some(if i == 0 {
                "app".into()
            } else {
                format!("sa-{i}")
            }),
            namespace: Some("apps".into()),
            annotations: Some(BTreeMap::from([(
                "eks.amazonaws.com/role-arn".to_string(),
                format!("arn:aws:iam::111122223333:role/role-{i}"),
            )])),
            ..ObjectMeta::default()
        };
        store.apply(&Event::InitApply(meta));
    }
    store.apply(&Event::InitDone);
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

fn review(i: u64) -> Vec<u8> {
    let container = |name: &str| {
        json!({
            "name": name, "image": format!("registry.example/{name}:1.2.3"),
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME",
                     "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            "volumeMounts": [{"name": "kube-api-access-abcde", "readOnly": true,
                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            "startupProbe": {"httpGet": {"path": "/healthz", "port": 8080}}
        })
    };
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("00000000-0000-0000-0000-{i:012}"),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "apps",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": "web-7d9f8c-", "namespace": "apps",
                             "labels": {"app": "web", "pod-template-hash": "7d9f8c"}},
                "spec": {
                    "serviceAccountName": "app",
                    "containers": [container("web"), container("worker"), container("proxy")],
                    "volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]
                }
            },
            "dryRun": false
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// utime + stime of `pid` in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the fields after the command name, which is in parentheses
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn drive(o: Opts) -> Result<(), Box<dyn std::error::Error>> {
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
    let idle = rss_kib(child.id());

    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(der))?;
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );

    let cpu_before = cpu_ticks(child.id());
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let end = started + Duration::from_secs(o.seconds);
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (tls, sent, failed, stop) = (tls.clone(), sent.clone(), failed.clone(), stop.clone());
        let max = o.requests;
        tasks.push(tokio::spawn(async move {
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
                let i = sent.fetch_add(1, Ordering::SeqCst);
                if i >= max || Instant::now() > end || stop.load(Ordering::SeqCst) {
                    break;
                }
                let req = hyper::Request::post("/mutate")
                    .header("host", "localhost")
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(review(i))))?;
                let t = Instant::now();
                let resp = send.send_request(req).await?;
                let ok = resp.status() == 200;
                let body = resp.into_body().collect().await?.to_bytes();
                lat.push(t.elapsed());
                if !ok || !body.windows(11).any(|w| w == b"\"patchType\"") {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(lat)
        }));
    }
    // sample the server's RSS while it is under load
    let mut peak_busy = 0;
    let sampler = {
        let pid = child.id();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !stop.load(Ordering::SeqCst) {
                peak = peak.max(rss_kib(pid).0);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    let mut lat = Vec::new();
    for t in tasks {
        match t.await? {
            Ok(l) => lat.extend(l),
            Err(e) => {
                stop.store(true, Ordering::SeqCst);
                let _ = child.kill();
                return Err(format!("client failed: {e}").into());
            }
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    peak_busy = peak_busy.max(sampler.await?);
    let (rss_after, hwm) = rss_kib(child.id());
    let cpu_ms = (cpu_ticks(child.id()) - cpu_before) * 10;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    lat.sort();
    let pct = |p: f64| {
        let idx = ((lat.len() as f64 * p).ceil() as usize).saturating_sub(1);
        lat.get(idx.min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let n = lat.len();
    println!("webhook admission load");
    println!(
        "  requests:     {n} ({} failed) over {:.2} s, concurrency {}, 3-container pod, {} ServiceAccounts cached",
        failed.load(Ordering::SeqCst),
        elapsed.as_secs_f64(),
        o.concurrency,
        o.service_accounts
    );
    println!(
        "  throughput:   {:.0} admissions/s",
        n as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency:      p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  server CPU:   {:.0} ms per 1,000 admissions",
        cpu_ms as f64 * 1000.0 / lat.len().max(1) as f64
    );
    println!(
        "  server RSS:   idle {:.1} MiB, under load (peak sampled) {:.1} MiB, after {:.1} MiB, high-water {:.1} MiB",
        idle.0 as f64 / 1024.0,
        peak_busy as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    if failed.load(Ordering::SeqCst) > 0 {
        return Err("some admissions failed".into());
    }
    Ok(())
}
