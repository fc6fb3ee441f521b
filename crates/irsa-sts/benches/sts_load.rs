//! Load harness: AssumeRoleWithWebIdentity per second and p50/p99 against `irsa sts` on
//! loopback (RS256-2048 tokens, warm keys, keep-alive), beside the raw RS256 verify rate in
//! the same run and beside moto's server answering the same requests (when installed by
//! scripts/deps/sts-clients.sh).
//!
//! The server's own CPU per request (its runtime's threads, `/proc/self/task/TID/schedstat`,
//! which includes the loopback TCP work the kernel charges to the sender) is printed beside
//! each in-process row. An overload phase then offers twice the measured keep-alive
//! throughput, open-loop over many connections (latency counted from each request's
//! send, so it is the server's queueing, not the clients' backlog), in rounds, with the
//! process's RSS after each round: past saturation p99 must stay bounded and memory must
//! not grow.
//!
//! With `log`, the server logs as `irsa sts --log-format json` does (one JSON line per
//! request, here written to /dev/null), so the row includes the request log's cost.
//!
//! cargo bench -p irsa-sts --bench sts_load -- [seconds=5] [connections=4] [log]

use irsa_jose::{Algorithm, Jwks, SigningKey, Validation};
use irsa_test::bench::{Shape, Threads, form_encode, read_response, spawn_server_shaped};
use irsa_test::now;
use serde_json::{Map, Value, json};
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ISS: &str = "https://oidc.example.test/id/ABC";
const ROLE: &str = "arn:aws:iam::111122223333:role/reader";

/// One keep-alive connection; returns per-request latencies (µs) until `deadline`.
fn worker(
    addr: SocketAddr,
    body: String,
    deadline: Instant,
    keep_alive: bool,
) -> (Vec<u64>, usize) {
    if !keep_alive {
        return worker_close(addr, &body, deadline);
    }
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut lat = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        let t = Instant::now();
        w.write_all(req.as_bytes()).unwrap();
        let (status, _) = read_response(&mut r);
        lat.push(t.elapsed().as_micros() as u64);
        if status != "200" {
            errors += 1;
        }
    }
    (lat, errors)
}

/// A new connection per request (for servers without keep-alive: moto's werkzeug).
fn worker_close(addr: SocketAddr, body: &str, deadline: Instant) -> (Vec<u64>, usize) {
    let mut lat = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        let t = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        lat.push(t.elapsed().as_micros() as u64);
        if !raw.starts_with(b"HTTP/1.1 200") && !raw.starts_with(b"HTTP/1.0 200") {
            errors += 1;
        }
    }
    (lat, errors)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Open-loop load: `conns` keep-alive connections together send `rate` requests/s for
/// `secs` (a connection behind its schedule sends at once); each request's latency runs
/// from its send. Returns latencies (µs) of all answers, the counts of 200s, `Throttling`
/// answers and others, and the seconds it took.
fn open_loop(
    addr: SocketAddr,
    body: &str,
    rate: f64,
    conns: usize,
    secs: u64,
) -> (Vec<u64>, [usize; 3], f64) {
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs(secs);
    let interval = Duration::from_secs_f64(conns as f64 / rate);
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            let body = body.to_owned();
            std::thread::spawn(move || {
                let s = TcpStream::connect(addr).unwrap();
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let req = format!(
                    "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let mut due = start + interval.mul_f64(i as f64 / conns as f64);
                let (mut lat, mut counts) = (Vec::new(), [0usize; 3]);
                while due < end {
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let sent = Instant::now();
                    w.write_all(req.as_bytes()).unwrap();
                    let (status, b) = read_response(&mut r);
                    lat.push(sent.elapsed().as_micros() as u64);
                    let throttled = String::from_utf8_lossy(&b).contains("<Code>Throttling</Code>");
                    counts[if status == "200" { 0 } else if throttled { 1 } else { 2 }] += 1;
                    due += interval;
                }
                (lat, counts)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut counts = [0usize; 3];
    for h in handles {
        let (l, c) = h.join().unwrap();
        all.extend(l);
        for (a, b) in counts.iter_mut().zip(c) {
            *a += b;
        }
    }
    all.sort_unstable();
    (all, counts, start.elapsed().as_secs_f64())
}

/// Closed-loop load; prints req/s, p50, p99 and the CPU and wake-ups per request of
/// `threads` (the server's runtime), when given. Returns req/s.
fn load(
    name: &str,
    threads: Option<&Threads>,
    addr: SocketAddr,
    body: &str,
    secs: u64,
    conns: usize,
    keep_alive: bool,
) -> f64 {
    // Warm-up.
    worker(
        addr,
        body.to_owned(),
        Instant::now() + Duration::from_millis(300),
        keep_alive,
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let cpu_before = threads.map(Threads::cpu);
    let handles: Vec<_> = (0..conns)
        .map(|_| {
            let b = body.to_owned();
            std::thread::spawn(move || worker(addr, b, deadline, keep_alive))
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = threads.map(Threads::cpu).zip(cpu_before);
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    let server_cpu = match cpu {
        Some((after, before)) => format!(
            "   server CPU {:>5.1} µs/request, {:.2} wake-ups/request",
            (after.ns - before.ns) as f64 / 1000.0 / all.len() as f64,
            (after.wakeups - before.wakeups) as f64 / all.len() as f64
        ),
        None => String::new(),
    };
    println!(
        "{name:<28} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {errors} non-200){server_cpu}",
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        all.len()
    );
    all.len() as f64 / elapsed
}

/// Offers twice `capacity` (requests/s) open-loop over 64 connections, in rounds.
fn overload(addr: SocketAddr, body: &str, capacity: f64, secs: u64) {
    let rate = 2.0 * capacity;
    println!(
        "overload: {rate:.0} req/s offered (2 x {capacity:.0}) over 64 keep-alive connections, {secs} s per round"
    );
    for round in 1..=3 {
        let (lat, [ok, throttled, other], took) = open_loop(addr, body, rate, 64, secs);
        let pct =
            |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1000.0;
        println!(
            "  round {round}: {:>7.0} answers/s ({ok} ok, {throttled} Throttling, {other} other)   p50 {:>7.2} ms   p99 {:>7.2} ms   RSS {} MiB",
            lat.len() as f64 / took,
            pct(0.50),
            pct(0.99),
            rss_kib() / 1024
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let conns: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
    if args.get(2).is_some_and(|a| a == "log") {
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(null))
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
        println!("request log: JSON lines to /dev/null, as irsa sts --log-format json");
    }

    let key = SigningKey::generate(Algorithm::RS256).unwrap();
    let jwks = Jwks {
        keys: vec![key.public_jwk().unwrap()],
    };
    let n = now();
    let claims: Map<String, Value> =
        json!({"iss": ISS, "sub": "system:serviceaccount:default:reader",
        "aud": ["sts.amazonaws.com"], "iat": n, "exp": n + 3600})
        .as_object()
        .unwrap()
        .clone();
    let token = key.sign_jwt(&Map::new(), &claims).unwrap();
    let body = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=bench&WebIdentityToken={}",
        form_encode(ROLE),
        form_encode(&token)
    );

    // Raw RS256 verification rate (one core).
    let auds = vec!["sts.amazonaws.com".to_owned()];
    let v = Validation::new(ISS, &auds, n);
    let t = Instant::now();
    let mut count = 0u64;
    while t.elapsed() < Duration::from_secs(2) {
        irsa_jose::verify(&token, &jwks, &v).unwrap();
        count += 1;
    }
    println!(
        "{:<28} {:>9.0} verify/s (one thread)",
        "raw RS256-2048 verify",
        count as f64 / t.elapsed().as_secs_f64()
    );

    // irsa sts in-process.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks.to_json()).unwrap();
    let cfg = format!(
        r#"account: "111122223333"
region: us-east-1
providers:
  - issuer: {ISS}
    audiences: [sts.amazonaws.com]
    jwksFile: jwks.json
roles:
  - name: reader
    trustPolicy: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Principal: {{Federated: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC"}}, Action: "sts:AssumeRoleWithWebIdentity", Condition: {{StringEquals: {{"oidc.example.test/id/ABC:sub": "system:serviceaccount:default:reader"}}}}}}]}}
"#
    );
    std::fs::write(dir.path().join("sts.yaml"), cfg).unwrap();
    let server =
        irsa_sts::Server::from_file(&dir.path().join("sts.yaml"), irsa_sts::Options::default())
            .unwrap();
    let shapes: Vec<Shape> = std::env::var("IRSA_STS_BENCH_RUNTIMES")
        .unwrap_or_else(|_| "percore".to_owned())
        .split(',')
        .map(|s| Shape::parse(s.trim()).unwrap_or_else(|| panic!("unknown runtime shape `{s}`")))
        .collect();
    let rounds = irsa_test::bench::env_usize("IRSA_STS_BENCH_ROUNDS", 1);
    let servers: Vec<_> = shapes
        .iter()
        .map(|&shape| {
            let server = server.clone();
            let (url, threads) = spawn_server_shaped("irsa-sts-srv", shape, move |l| {
                irsa_sts::serve(l, server.clone(), std::future::pending())
            });
            // The machine's floor: the same runtime, HTTP stack and loopback TCP around a
            // handler that reads the form body and answers a fixed STS-sized XML document.
            let (base_url, base_threads) = spawn_server_shaped("baseline-srv", shape, |l| {
                let answer: &'static str = Box::leak("x".repeat(1400).into_boxed_str());
                let app = axum::Router::new().fallback(move |body: axum::body::Bytes| async move {
                    std::hint::black_box(body);
                    ([("content-type", "text/xml")], answer)
                });
                irsa_server::serve(
                    l,
                    app,
                    irsa_server::ServeOptions::default(),
                    std::future::pending(),
                )
            });
            let addr = |u: &str| -> SocketAddr { u.trim_start_matches("http://").parse().unwrap() };
            (shape, addr(&url), threads, addr(&base_url), base_threads)
        })
        .collect();
    let mut capacity = 0.0;
    for round in 0..rounds {
        for (i, (shape, addr, threads, base_addr, base_threads)) in servers.iter().enumerate() {
            load(
                &format!("baseline keep-alive ({conns}) {shape}"),
                Some(base_threads),
                *base_addr,
                &body,
                secs,
                conns,
                true,
            );
            let rate = load(
                &format!("irsa sts keep-alive ({conns}) {shape}"),
                Some(threads),
                *addr,
                &body,
                secs,
                conns,
                true,
            );
            if round == 0 && i == 0 {
                capacity = rate;
            }
        }
    }
    let (shape, addr, threads, ..) = &servers[0];
    load(
        &format!("irsa sts new conn ({conns}) {shape}"),
        Some(threads),
        *addr,
        &body,
        secs,
        conns,
        false,
    );
    overload(*addr, &body, capacity, secs);

    // moto_server, when installed.
    let root = irsa_test::workspace_root();
    let moto = root.join(".cache/sts-clients/venv/bin/moto_server");
    if !moto.exists() {
        println!("moto_server not installed: run scripts/deps/sts-clients.sh");
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(&moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let maddr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let up = Instant::now();
    while TcpStream::connect(maddr).is_err() {
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    load(
        &format!("moto_server new conn ({conns})"),
        None,
        maddr,
        &body,
        secs,
        conns,
        false,
    );
    let _ = child.kill();
    let _ = child.wait();
}
