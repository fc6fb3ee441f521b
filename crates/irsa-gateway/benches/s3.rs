//! S3 through the gateway beside going direct, in one run against the same upstream
//! (versitygw, its posix backend on a temporary folder): GetObject of 1 KiB (latency, the
//! gateway's added p50/p99) and PUT and GET of 1 GiB (throughput, the gateway's share of
//! direct). A third path, a bare TCP relay (the bytes copied by tokio, nothing read), is
//! the floor of any proxy on this machine. Paths are interleaved and their order rotated.
//!
//! The gateway runs in this process on its own runtime of two worker threads (as
//! `irsa gateway` runs on a 2-core machine); its threads' CPU time
//! (`/proc/self/task/TID/schedstat`) and the upstream's (`/proc/PID/stat`) are reported per
//! operation. Client-side signing and hashing are outside the timed sections; bodies are
//! sent from one 1 MiB buffer and discarded on arrival.
//!
//! PUT is measured with the two payload forms an SDK sends over plain HTTP: a signed
//! payload (`x-amz-content-sha256` = the body's SHA-256, which the gateway checks as the
//! body streams and passes on, so the upstream checks it too) and `UNSIGNED-PAYLOAD`.
//!
//! Needs versitygw (scripts/deps/versitygw.sh). Run: `scripts/bench-gateway.sh s3`
//! (= `cargo bench -p irsa-gateway --bench s3`). Bounded: `IRSA_S3_BENCH_N` GetObjects
//! per path (default 1000), `IRSA_S3_BENCH_REPS` transfers per path and operation
//! (default 3) of `IRSA_S3_BENCH_MIB` MiB (default 1024); every request has a deadline.
//! `IRSA_S3_BENCH_OPS=GET` (or `PUT`, `UNSIGNED`) runs only those transfers.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use irsa_gateway::{Options, UpstreamSection};
use irsa_sts_core::{KeyRing, MasterKey, issue_credentials};
use irsa_test::bench::{Threads, env_usize, mean_us, percentile_us, spawn_server};
use irsa_test::sigv4::{Keys, Payload, Signing, sign_request};

const MIB: usize = 1 << 20;
/// SHA-256 of an empty body, hex.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const UPSTREAM_USER: &str = "irsabench";
const UPSTREAM_SECRET: &str = "irsa-bench-upstream-secret";
const BUCKET: &str = "bench-bucket";
/// Bound on one request, whatever its size.
const DEADLINE: Duration = Duration::from_secs(600);

type Frames = futures_util::stream::Iter<
    std::iter::Map<
        std::ops::Range<usize>,
        Box<dyn FnMut(usize) -> Result<http_body::Frame<Bytes>, std::convert::Infallible> + Send>,
    >,
>;
type StreamClient = Client<HttpConnector, StreamBody<Frames>>;
type SmallClient = Client<HttpConnector, Full<Bytes>>;

/// Signs a request as the AWS SDK's S3 client does; returns it with `body`.
fn signed<B>(
    method: &str,
    url: &str,
    keys: &Keys,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
    body: B,
) -> http::Request<B> {
    let signing = Signing::s3(keys, "us-east-1", SystemTime::now());
    sign_request(&signing, method, url, headers, payload, body)
}

/// The body of `size` bytes: `piece` repeated (the last one cut).
fn body_of(piece: &Bytes, size: usize) -> StreamBody<Frames> {
    let piece = piece.clone();
    let n = size.div_ceil(piece.len());
    let last = size - (n - 1) * piece.len();
    let f: Box<
        dyn FnMut(usize) -> Result<http_body::Frame<Bytes>, std::convert::Infallible> + Send,
    > = Box::new(move |i| {
        let p = if i + 1 == n {
            piece.slice(..last)
        } else {
            piece.clone()
        };
        Ok(http_body::Frame::data(p))
    });
    StreamBody::new(futures_util::stream::iter((0..n).map(f)))
}

/// Sends a request; returns its time to the last byte of the answer and the answer's size.
async fn exchange<B>(
    client: &Client<HttpConnector, B>,
    request: http::Request<B>,
) -> (Duration, u64)
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let start = Instant::now();
    let run = async {
        let response = client.request(request).await.unwrap();
        let status = response.status();
        let mut body = response.into_body();
        let mut size = 0u64;
        let mut first = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                if first.len() < 2048 {
                    first.extend_from_slice(&data[..data.len().min(2048)]);
                }
                size += data.len() as u64;
            }
        }
        assert!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&first)
        );
        size
    };
    let size = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the request finishes within its deadline");
    (start.elapsed(), size)
}

/// Nanoseconds of CPU a process has used (utime + stime).
fn process_cpu_ns(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux.
    ticks * 10_000_000
}

/// A TCP relay to `target` (`host:port`): bytes copied both ways, nothing read.
fn spawn_relay(target: String) -> (String, Threads) {
    spawn_server("relay", 2, move |listener| async move {
        loop {
            let (mut client, _) = listener.accept().await?;
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    })
}

/// versitygw on a free port of 127.0.0.1 over `data`; killed when dropped.
struct Versitygw {
    url: String,
    child: std::process::Child,
}

impl Drop for Versitygw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_versitygw(data: &Path) -> Versitygw {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = root.join(".cache/versitygw/versitygw");
    assert!(
        bin.exists(),
        "versitygw is not built: run scripts/deps/versitygw.sh"
    );
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let child = std::process::Command::new(bin)
        .args([
            "--port",
            &format!("127.0.0.1:{port}"),
            "--health",
            "/health",
        ])
        .arg("posix")
        .arg(data)
        .env("ROOT_ACCESS_KEY", UPSTREAM_USER)
        .env("ROOT_SECRET_KEY", UPSTREAM_SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let gw = Versitygw {
        url: format!("http://127.0.0.1:{port}"),
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "versitygw did not listen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    gw
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// The three ways to the upstream: (name, URL, credentials, the server's threads).
struct Path3<'a> {
    name: &'static str,
    url: String,
    creds: &'a Keys,
    tids: Option<Threads>,
}

async fn run() {
    let n = env_usize("IRSA_S3_BENCH_N", 1000);
    let reps = env_usize("IRSA_S3_BENCH_REPS", 3);
    let size = env_usize("IRSA_S3_BENCH_MIB", 1024) * MIB;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let upstream = start_versitygw(&data);
    let up = Keys {
        access_key_id: UPSTREAM_USER.into(),
        secret_access_key: UPSTREAM_SECRET.into(),
        session_token: None,
    };
    let small: SmallClient = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let big: StreamClient = Client::builder(TokioExecutor::new()).build(HttpConnector::new());

    prepare(&small, &upstream.url, &up).await;
    let (gateway, session) = gateway_and_session(dir.path(), &upstream.url);
    let (gw_url, gw_tids) = spawn_server("gateway", 2, move |listener| async move {
        irsa_gateway::serve(listener, gateway, std::future::pending()).await
    });
    let (relay_url, relay_tids) =
        spawn_relay(upstream.url.trim_start_matches("http://").to_owned());
    let paths = [
        Path3 {
            name: "direct",
            url: upstream.url.clone(),
            creds: &up,
            tids: None,
        },
        Path3 {
            name: "irsa gateway",
            url: gw_url,
            creds: &session,
            tids: Some(gw_tids),
        },
        Path3 {
            name: "TCP relay",
            url: relay_url,
            creds: &up,
            tids: Some(relay_tids),
        },
    ];
    let upstream_pid = upstream.child.id();

    latency(&small, &paths, n, upstream_pid).await;
    let transfers = Transfers {
        small: &small,
        big: &big,
        paths: &paths,
        size,
        reps,
        upstream_pid,
    };
    transfers.measure(&upstream.url, &up).await;
    drop(upstream);
}

/// Waits for versitygw, then creates the bucket and the 1 KiB object, directly.
async fn prepare(small: &SmallClient, upstream: &str, up: &Keys) {
    let empty_sha = EMPTY_SHA256;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            small.request(signed(
                "PUT",
                &format!("{}/{BUCKET}", upstream),
                up,
                &[],
                Payload::Sha256Hex(empty_sha),
                Full::new(Bytes::new()),
            )),
        )
        .await;
        if let Ok(Ok(r)) = r
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "versitygw not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kib: Vec<u8> = (0..1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let kib_sha = hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &kib).as_ref());
    exchange(
        small,
        signed(
            "PUT",
            &format!("{}/{BUCKET}/small/1k.bin", upstream),
            up,
            &[("content-length", "1024")],
            Payload::Sha256Hex(&kib_sha),
            Full::new(Bytes::from(kib)),
        ),
    )
    .await;
}

/// The gateway (S3 upstream: versitygw at `upstream`), its configuration in `dir`, and
/// session credentials of its role as `irsa sts` issues them.
fn gateway_and_session(
    dir: &Path,
    upstream: &str,
) -> (std::sync::Arc<irsa_gateway::Gateway>, Keys) {
    let key = MasterKey::generate(&mut rand::rngs::OsRng);
    std::fs::write(dir.join("master.key"), key.to_hex()).unwrap();
    let config = dir.join("irsa.yaml");
    std::fs::write(
        &config,
        format!(
            r#"account: "111122223333"
region: us-east-1
roles:
  - name: bench
    trustPolicy: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Principal: {{Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}}, Action: sts:AssumeRoleWithWebIdentity}}]}}
    policies:
      objects:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: [s3:GetObject, s3:PutObject], Resource: "arn:aws:s3:::{BUCKET}/*"}}
          - {{Effect: Deny, Action: "s3:*", Resource: "arn:aws:s3:::{BUCKET}/secret/*"}}
signingKeys: [{{file: master.key}}]
gateway:
  s3:
    upstream: {{url: "{}", accessKeyId: {UPSTREAM_USER}, secretAccessKey: {UPSTREAM_SECRET}}}
"#,
            upstream
        ),
    )
    .unwrap();
    let gateway = irsa_gateway::from_file_with_s3(
        &config,
        UpstreamSection::default(),
        UpstreamSection::default(),
        Duration::from_secs(30),
        Options {
            request_timeout: DEADLINE,
            ..Options::default()
        },
    )
    .unwrap();
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let claims =
        irsa_test::sts::session_claims("arn:aws:iam::111122223333:role/bench", now, now + 3 * 3600);
    let issued = issue_credentials(&KeyRing::single(key), &claims, &mut rand::rngs::OsRng).unwrap();
    let session = Keys {
        access_key_id: issued.access_key_id.clone(),
        secret_access_key: issued.secret_access_key.clone(),
        session_token: Some(issued.session_token.clone()),
    };
    (gateway, session)
}

/// GetObject of 1 KiB over every path, interleaved: latency and CPU per request.
async fn latency(small: &SmallClient, paths: &[Path3<'_>], n: usize, upstream_pid: u32) {
    let empty_sha = EMPTY_SHA256;
    let get_small = |p: &Path3<'_>| {
        signed(
            "GET",
            &format!("{}/{BUCKET}/small/1k.bin", p.url),
            p.creds,
            &[],
            Payload::Sha256Hex(empty_sha),
            Full::new(Bytes::new()),
        )
    };
    for _ in 0..100 {
        for p in paths {
            let (_, got) = exchange(small, get_small(p)).await;
            assert_eq!(got, 1024);
        }
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); paths.len()];
    let cpu_before: Vec<u64> = paths
        .iter()
        .map(|p| p.tids.as_ref().map_or(0, |t| t.cpu().ns))
        .collect();
    let up_before = process_cpu_ns(upstream_pid);
    for i in 0..n {
        for k in 0..paths.len() {
            let at = (i + k) % paths.len();
            let request = get_small(&paths[at]);
            times[at].push(exchange(small, request).await.0);
        }
    }
    let up_cpu = (process_cpu_ns(upstream_pid) - up_before) as f64 / (n * paths.len()) as f64;
    println!("GetObject of 1 KiB, {n} per path, interleaved, keep-alive connections:\n");
    println!(
        "| path | n | p50 (µs) | p99 (µs) | mean (µs) | added p50 (µs) | added p99 (µs) | server CPU per request (µs) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let stats: Vec<(f64, f64, f64)> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            (percentile_us(t, 0.5), percentile_us(t, 0.99), mean_us(t))
        })
        .collect();
    for (k, p) in paths.iter().enumerate() {
        let (p50, p99, mean) = stats[k];
        let cpu = p.tids.as_ref().map_or(String::new(), |t| {
            format!(
                "{:.0}",
                (t.cpu().ns - cpu_before[k]) as f64 / n as f64 / 1e3
            )
        });
        let (a50, a99) = if k == 0 {
            (String::new(), String::new())
        } else {
            (
                format!("{:+.0}", p50 - stats[0].0),
                format!("{:+.0}", p99 - stats[0].1),
            )
        };
        println!(
            "| {} | {n} | {p50:.0} | {p99:.0} | {mean:.0} | {a50} | {a99} | {cpu} |",
            p.name
        );
    }
    println!(
        "\n(versitygw's own CPU: {:.0} µs per request, all paths.)\n",
        up_cpu / 1e3
    );
}

/// 1 GiB PUT (signed and unsigned payload) and GET over every path: throughput and CPU.
struct Transfers<'a> {
    small: &'a SmallClient,
    big: &'a StreamClient,
    paths: &'a [Path3<'a>],
    size: usize,
    reps: usize,
    upstream_pid: u32,
}

/// A 1 MiB piece of pseudo-random bytes, and the SHA-256 (hex) of `size` bytes of it
/// repeated.
fn piece_and_sha256(size: usize) -> (Bytes, String) {
    let piece = Bytes::from(
        (0..MIB)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    );
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut left = size;
    while left > 0 {
        let take = left.min(piece.len());
        ctx.update(&piece[..take]);
        left -= take;
    }
    let sha = hex(ctx.finish().as_ref());
    (piece, sha)
}

/// The body every PUT sends: `piece` repeated to the transfer's size, its SHA-256 (hex)
/// and length (decimal).
struct Body<'a> {
    piece: &'a Bytes,
    sha: &'a str,
    length: &'a str,
}

impl Transfers<'_> {
    /// One transfer of `op` over path `p` (a PUT to `url`, or the GET of the shared
    /// object); its time to the upstream's answer (PUT) or the last byte (GET).
    async fn transfer(&self, op: &str, p: &Path3<'_>, url: &str, body: &Body<'_>) -> Duration {
        if op == "GET" {
            let request = signed(
                "GET",
                &format!("{}/{BUCKET}/big/get.bin", p.url),
                p.creds,
                &[],
                Payload::Sha256Hex(EMPTY_SHA256),
                Full::new(Bytes::new()),
            );
            let (took, got) = exchange(self.small, request).await;
            assert_eq!(got, self.size as u64);
            return took;
        }
        let payload = if op.contains("UNSIGNED") {
            Payload::Unsigned
        } else {
            Payload::Sha256Hex(body.sha)
        };
        let request = signed(
            "PUT",
            url,
            p.creds,
            &[("content-length", body.length)],
            payload,
            body_of(body.piece, self.size),
        );
        exchange(self.big, request).await.0
    }

    async fn measure(&self, upstream: &str, up: &Keys) {
        let Transfers {
            big,
            paths,
            size,
            reps,
            upstream_pid,
            ..
        } = *self;
        let (piece, sha) = piece_and_sha256(size);
        let length = size.to_string();
        let mib = size as f64 / MIB as f64;
        println!(
            "{} MiB per transfer, {reps} per path and operation, interleaved:\n",
            size / MIB
        );
        println!(
            "| operation | path | median (MiB/s) | best (MiB/s) | share of direct (median) | server CPU per GiB (s) | versitygw CPU per GiB (s) |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|");
        // The object every path GETs, put directly (untimed).
        exchange(
            big,
            signed(
                "PUT",
                &format!("{}/{BUCKET}/big/get.bin", upstream),
                up,
                &[("content-length", &length)],
                Payload::Unsigned,
                body_of(&piece, size),
            ),
        )
        .await;
        // `IRSA_S3_BENCH_OPS=GET` (or `PUT`, ...) runs only the operations whose name contains it.
        let only = std::env::var("IRSA_S3_BENCH_OPS").unwrap_or_default();
        for op in ["PUT, signed payload", "PUT, UNSIGNED-PAYLOAD", "GET"]
            .into_iter()
            .filter(|op| op.contains(only.as_str()))
        {
            let mut rates: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
            let mut cpu: Vec<u64> = vec![0; paths.len()];
            let mut up_cpu: Vec<u64> = vec![0; paths.len()];
            for r in 0..reps {
                for k in 0..paths.len() {
                    let at = (r + k) % paths.len();
                    let p = &paths[at];
                    let url = format!("{}/{BUCKET}/big/{}.bin", p.url, at);
                    let before = p.tids.as_ref().map_or(0, |t| t.cpu().ns);
                    let up_before = process_cpu_ns(upstream_pid);
                    let body = Body {
                        piece: &piece,
                        sha: &sha,
                        length: &length,
                    };
                    let took = self.transfer(op, p, &url, &body).await;
                    cpu[at] += p.tids.as_ref().map_or(0, |t| t.cpu().ns) - before;
                    up_cpu[at] += process_cpu_ns(upstream_pid) - up_before;
                    rates[at].push(mib / took.as_secs_f64());
                }
            }
            let per_gib = |ns: u64| ns as f64 / 1e9 / reps as f64 / (mib / 1024.0);
            print_rows(op, paths, &mut rates, &cpu, &up_cpu, per_gib);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The rows of one transfer operation: each path's median and best rate, its share of
/// direct's median, and the CPU per GiB of the path's server and of versitygw.
fn print_rows(
    op: &str,
    paths: &[Path3<'_>],
    rates: &mut [Vec<f64>],
    cpu: &[u64],
    up_cpu: &[u64],
    per_gib: impl Fn(u64) -> f64,
) {
    let direct = median(&mut rates[0].clone());
    for (k, p) in paths.iter().enumerate() {
        let best = rates[k].iter().copied().fold(0.0, f64::max);
        let med = median(&mut rates[k]);
        let server = if p.tids.is_some() {
            format!("{:.2}", per_gib(cpu[k]))
        } else {
            String::new()
        };
        println!(
            "| {op} | {} | {med:.0} | {best:.0} | {:.2} | {server} | {:.2} |",
            p.name,
            med / direct,
            per_gib(up_cpu[k])
        );
    }
}
