//! Load generator for a running pod identity webhook (irsa's or any other).
//!
//! Sends AdmissionReview v1 requests for a 3-container pod (env, probes, mounts, projected
//! token volume, the same pod as the `load` example) to `--target` over TLS keep-alive
//! HTTP/1.1 connections at a fixed concurrency, for a bounded number of requests and time,
//! and checks every answer: status 200, the request's uid, `allowed`, and a JSON Patch
//! that sets `AWS_ROLE_ARN`. Reports admissions/s and latency percentiles; with `--pid`,
//! also the server process's CPU time (utime + stime from `/proc/PID/stat`) over the run
//! and its resident memory (`VmRSS` sampled, `VmHWM`).
//!
//! The pods run under ServiceAccounts `sa-0` … `sa-(K-1)` of `--namespace` (K =
//! `--service-accounts`), in turn, or all under `--service-account NAME`.
//!
//! ```text
//! admit_remote --target https://127.0.0.1:PORT --ca ca.crt [--server-name localhost]
//!     [--namespace bench] [--service-accounts 5000 | --service-account NAME]
//!     [--concurrency 8] [--requests 50000] [--seconds 10] [--pid SERVER_PID]
//! admit_remote --target … --ca … --service-account NAME --wait-mutated SECONDS [--since-ns NS]
//! ```
//!
//! `--wait-mutated` polls (a new connection per attempt, every 20 ms) until one review is
//! mutated or the time is up, and reports the milliseconds since `--since-ns` (a
//! `date +%s%N` taken when the server was started) or since its own start. With
//! `--service-accounts K` each attempt names a ServiceAccount no earlier attempt named
//! (`sa-0`, `sa-1`, …; it gives up after K): a webhook that fetches a ServiceAccount it
//! missed in the background (the Go original does, whatever its grace period) then
//! mutates a probe only from the list its cache was built from, never from an earlier
//! probe's fetch.
//!
//! The last line of the output is `RESULT key=value …`, for scripts.

mod common;

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// USER_HZ, the unit of utime and stime in `/proc/PID/stat` (100 on every Linux ABI).
const TICKS_PER_SECOND: f64 = 100.0;

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

#[derive(Clone)]
struct Target {
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
}

/// Which ServiceAccount the i-th pod runs under.
#[derive(Clone)]
enum Accounts {
    Fixed(String),
    Rotate(u64),
}

impl Accounts {
    fn name(&self, i: u64) -> String {
        match self {
            Accounts::Fixed(n) => n.clone(),
            Accounts::Rotate(k) => format!("sa-{}", i % k.max(&1)),
        }
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let target: String = arg(&args, "--target").ok_or("--target https://HOST:PORT is required")?;
    let ca: String = arg(&args, "--ca").ok_or("--ca FILE (PEM) is required")?;
    let server_name: String = arg(&args, "--server-name").unwrap_or_else(|| "localhost".into());
    let hostport = target
        .strip_prefix("https://")
        .ok_or("--target must start with https://")?
        .trim_end_matches('/');
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or("--target needs a port: https://HOST:PORT")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&ca)? {
        roots.add(cert?)?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let target = Target {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port: port.parse()?,
        server_name: ServerName::try_from(server_name)?,
        tls: Arc::new(tls),
    };
    let namespace: String = arg(&args, "--namespace").unwrap_or_else(|| "bench".into());
    let accounts = match arg::<String>(&args, "--service-account") {
        Some(name) => Accounts::Fixed(name),
        None => Accounts::Rotate(arg(&args, "--service-accounts").unwrap_or(5000)),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(limit) = arg::<f64>(&args, "--wait-mutated") {
        let since_ns: Option<u128> = arg(&args, "--since-ns");
        return rt.block_on(wait_mutated(
            target,
            namespace,
            accounts,
            Duration::from_secs_f64(limit),
            since_ns,
        ));
    }
    let opts = Opts {
        concurrency: arg(&args, "--concurrency").unwrap_or(8),
        requests: arg(&args, "--requests").unwrap_or(50_000),
        seconds: arg(&args, "--seconds").unwrap_or(10.0),
        pid: arg(&args, "--pid"),
    };
    rt.block_on(drive(target, namespace, accounts, opts))
}

struct Opts {
    concurrency: usize,
    requests: u64,
    seconds: f64,
    pid: Option<u32>,
}

#[derive(serde::Deserialize)]
struct Answer {
    response: Option<AnswerResponse>,
}

#[derive(serde::Deserialize)]
struct AnswerResponse {
    uid: String,
    allowed: bool,
    patch: Option<String>,
}

/// Whether `body` answers request `i` with `allowed` and a patch that sets AWS_ROLE_ARN.
fn mutated(body: &[u8], i: u64) -> bool {
    let Ok(Answer { response: Some(r) }) = serde_json::from_slice::<Answer>(body) else {
        return false;
    };
    let Some(patch) = r.patch else {
        return false;
    };
    let Ok(patch) = base64::engine::general_purpose::STANDARD.decode(patch) else {
        return false;
    };
    r.allowed && r.uid == common::uid(i) && patch.windows(12).any(|w| w == b"AWS_ROLE_ARN")
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(t: &Target) -> Result<Sender, Error> {
    let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port)).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(t.tls.clone())
        .connect(t.server_name.clone(), tcp)
        .await?;
    let (send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(send)
}

/// One admission on `send`: whether it was mutated.
async fn admit(send: &mut Sender, i: u64, namespace: &str, sa: &str) -> Result<bool, Error> {
    let req = hyper::Request::post("/mutate")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(common::review(i, namespace, sa))))?;
    send.ready().await?;
    let resp = send.send_request(req).await?;
    let ok = resp.status() == 200;
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(ok && mutated(&body, i))
}

async fn wait_mutated(
    t: Target,
    namespace: String,
    accounts: Accounts,
    limit: Duration,
    since_ns: Option<u128>,
) -> Result<(), Error> {
    let started = Instant::now();
    let origin_ns = since_ns.unwrap_or_else(now_ns);
    let mut attempts = 0u64;
    while started.elapsed() < limit {
        if let Accounts::Rotate(k) = &accounts
            && attempts >= *k
        {
            println!("RESULT ready_ms=timeout attempts={attempts}");
            return Err(format!(
                "no mutation after {attempts} attempts, each under a ServiceAccount not probed before ({k} available)"
            )
            .into());
        }
        let name = accounts.name(attempts);
        attempts += 1;
        let once = async {
            let mut send = connect(&t).await?;
            admit(&mut send, attempts, &namespace, &name).await
        };
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(2), once).await {
            let ms = now_ns().saturating_sub(origin_ns) as f64 / 1e6;
            println!("first mutation after {ms:.0} ms ({attempts} attempts)");
            println!("RESULT ready_ms={ms:.0} attempts={attempts}");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("RESULT ready_ms=timeout attempts={attempts}");
    Err(format!("no mutation within {limit:?} ({attempts} attempts)").into())
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Busy time of the whole machine (every CPU: user, nice, system, irq, softirq, steal), in
/// clock ticks, from `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = cpu
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    Some(
        f.get(..8)?
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3 && *i != 4)
            .map(|(_, v)| v)
            .sum(),
    )
}

/// What every connection of a run shares.
#[derive(Clone)]
struct Load {
    target: Target,
    namespace: String,
    accounts: Accounts,
    /// Reviews sent (claimed), and not mutated.
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// Every connection is open (and has admitted one pod) before the clock starts.
    barrier: Arc<tokio::sync::Barrier>,
    requests: u64,
    limit: Duration,
}

/// Connection `w`: opens and admits a warm-up pod, waits for every other, then admits
/// pods until the load's requests are sent, its time is up or it stops; the latency of
/// each.
async fn connection(w: usize, l: Load) -> Result<Vec<Duration>, Error> {
    let warm = async {
        let mut send = connect(&l.target).await?;
        let warm_id = u64::MAX / 2 + w as u64;
        admit(&mut send, warm_id, &l.namespace, &l.accounts.name(w as u64)).await?;
        Ok::<_, Error>(send)
    };
    let warm = tokio::time::timeout(Duration::from_secs(10), warm).await;
    l.barrier.wait().await;
    let mut send = match warm {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("connecting took over 10 s".into()),
    };
    let end = Instant::now() + l.limit;
    let mut lat = Vec::new();
    loop {
        let i = l.sent.fetch_add(1, Ordering::SeqCst);
        if i >= l.requests || Instant::now() > end || l.stop.load(Ordering::SeqCst) {
            break;
        }
        let sa = l.accounts.name(i);
        let t0 = Instant::now();
        let ok = tokio::time::timeout(
            Duration::from_secs(10),
            admit(&mut send, i, &l.namespace, &sa),
        )
        .await
        .map_err(|_| "an admission took over 10 s")??;
        lat.push(t0.elapsed());
        if !ok {
            l.failed.fetch_add(1, Ordering::SeqCst);
        }
    }
    Ok(lat)
}

/// CPU time so far, in clock ticks: the server's (with `--pid`), this client's, and the
/// whole machine's busy time.
#[derive(Clone, Copy)]
struct Cpu {
    server: Option<u64>,
    own: Option<u64>,
    machine: Option<u64>,
}

impl Cpu {
    fn now(pid: Option<u32>) -> Cpu {
        Cpu {
            server: pid.and_then(common::cpu_ticks),
            own: common::cpu_ticks(std::process::id()),
            machine: machine_busy_ticks(),
        }
    }
}

/// What a run measured.
struct Measured {
    /// Sorted latencies.
    lat: Vec<Duration>,
    failed: u64,
    elapsed: Duration,
    cpu: (Cpu, Cpu),
    /// The server's VmRSS (KiB) before the load, its sampled peak, after; VmHWM.
    rss_before: u64,
    rss_peak: u64,
    rss_after: u64,
    hwm: u64,
}

async fn drive(t: Target, namespace: String, accounts: Accounts, o: Opts) -> Result<(), Error> {
    let load = Load {
        target: t.clone(),
        namespace,
        accounts,
        sent: Arc::default(),
        failed: Arc::default(),
        stop: Arc::default(),
        barrier: Arc::new(tokio::sync::Barrier::new(o.concurrency + 1)),
        requests: o.requests,
        limit: Duration::from_secs_f64(o.seconds),
    };
    let tasks: Vec<_> = (0..o.concurrency)
        .map(|w| tokio::spawn(connection(w, load.clone())))
        .collect();
    load.barrier.wait().await;
    let started = Instant::now();
    let cpu_before = Cpu::now(o.pid);
    let rss_before = o.pid.map(common::rss_kib).unwrap_or_default().0;
    let sampler = {
        let stop = load.stop.clone();
        let pid = o.pid;
        tokio::spawn(async move {
            let mut peak = 0;
            while let Some(pid) = pid {
                peak = u64::max(peak, common::rss_kib(pid).0);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    let mut lat = Vec::new();
    let mut error = None;
    for task in tasks {
        match task.await? {
            Ok(l) => lat.extend(l),
            Err(e) => {
                load.stop.store(true, Ordering::SeqCst);
                error.get_or_insert(e);
            }
        }
    }
    let elapsed = started.elapsed();
    let cpu_after = Cpu::now(o.pid);
    load.stop.store(true, Ordering::SeqCst);
    let rss_peak = sampler.await?;
    let (rss_after, hwm) = o.pid.map(common::rss_kib).unwrap_or_default();
    if let Some(e) = error {
        return Err(format!("client failed: {e}").into());
    }
    lat.sort();
    let m = Measured {
        lat,
        failed: load.failed.load(Ordering::SeqCst),
        elapsed,
        cpu: (cpu_before, cpu_after),
        rss_before,
        rss_peak,
        rss_after,
        hwm,
    };
    report(&t, &o, &m);
    if m.failed > 0 {
        return Err(format!("{} admissions were not mutated", m.failed).into());
    }
    Ok(())
}

/// Prints the run, the last line `RESULT key=value …`.
fn report(t: &Target, o: &Opts, m: &Measured) {
    let pct = |p: f64| common::percentile(&m.lat, p).as_secs_f64() * 1e3;
    let n = m.lat.len();
    let failed = m.failed;
    let rate = n as f64 / m.elapsed.as_secs_f64();
    let (p50, p99, max) = (pct(0.50), pct(0.99), pct(1.0));
    println!("webhook admission load against {}:{}", t.host, t.port);
    println!(
        "  requests:     {n} ({failed} failed) over {:.2} s, concurrency {}, 3-container pod",
        m.elapsed.as_secs_f64(),
        o.concurrency
    );
    println!("  throughput:   {rate:.0} admissions/s");
    println!("  latency:      p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms");
    let mut result = format!(
        "RESULT requests={n} failed={failed} seconds={:.3} rate={rate:.1} p50_ms={p50:.3} p99_ms={p99:.3} max_ms={max:.3}",
        m.elapsed.as_secs_f64()
    );
    let (before, after) = m.cpu;
    let (rss_peak, rss_after, hwm) = (m.rss_peak, m.rss_after, m.hwm);
    if let (Some(a), Some(b)) = (before.server, after.server) {
        let cpu_ms = (b.saturating_sub(a)) as f64 * 1e3 / TICKS_PER_SECOND;
        let per_1000 = if n > 0 {
            cpu_ms * 1000.0 / n as f64
        } else {
            0.0
        };
        println!("  server CPU:   {cpu_ms:.0} ms, {per_1000:.1} ms per 1,000 admissions");
        println!(
            "  server RSS:   before {:.1} MiB, under load (peak sampled) {:.1} MiB, after {:.1} MiB, high-water {:.1} MiB",
            m.rss_before as f64 / 1024.0,
            rss_peak as f64 / 1024.0,
            rss_after as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
        result += &format!(
            " cpu_ms={cpu_ms:.0} cpu_ms_per_1000={per_1000:.1} rss_before_kib={} rss_peak_kib={rss_peak} rss_after_kib={rss_after} hwm_kib={hwm}",
            m.rss_before
        );
    }
    let ms = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 * 1e3 / TICKS_PER_SECOND),
        _ => None,
    };
    if let (Some(client), Some(machine)) =
        (ms(before.own, after.own), ms(before.machine, after.machine))
    {
        let server = ms(before.server, after.server).unwrap_or(0.0);
        let others = (machine - client - server).max(0.0);
        println!(
            "  machine CPU:  {machine:.0} ms busy (this client {client:.0} ms, everything else but the server {others:.0} ms)"
        );
        result += &format!(
            " client_cpu_ms={client:.0} machine_busy_ms={machine:.0} others_cpu_ms={others:.0}"
        );
    }
    println!("{result}");
}
