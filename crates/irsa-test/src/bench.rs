//! Helpers of the hand-rolled benchmarks (`cargo bench` targets with `harness = false`):
//! a timing loop, the iteration count from the command line or the environment,
//! percentiles, form encoding, an HTTP/1.1 response read off a keep-alive connection, the
//! CPU time of a server's threads, and (feature `net`) a server on a runtime of its own.

use std::hint::black_box;
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs `f` `n / 10` times to warm up, then `n` times, prints `name` with the mean time per
/// call in µs, and returns it.
pub fn time<T>(name: &str, n: u32, mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..n / 10 {
        black_box(f());
    }
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1));
    println!("{name:<52} {us:>8.2} µs");
    us
}

/// The first command-line argument that is not a flag (cargo bench passes `--bench`),
/// parsed as an iteration count, or `default`.
pub fn iterations(default: u32) -> u32 {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// The positive integer in environment variable `name`, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

/// The `p` quantile (0..=1) of sorted durations, in µs.
pub fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1e6
}

/// The mean of durations, in µs.
pub fn mean_us(v: &[Duration]) -> f64 {
    v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len().max(1) as f64 * 1e6
}

/// The threads of a server, to read the CPU time they used (`/proc/TID/schedstat`: user
/// and kernel time, and how often they were scheduled in). Cheap to clone: clones share
/// one list.
#[derive(Clone, Debug, Default)]
pub struct Threads(Arc<Mutex<Vec<String>>>);

/// CPU used by [`Threads`]: nanoseconds, and times scheduled in (wake-ups).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu {
    pub ns: u64,
    pub wakeups: u64,
}

impl Threads {
    /// Adds the calling thread.
    pub fn record_current(&self) {
        if let Ok(link) = std::fs::read_link("/proc/thread-self") {
            self.0.lock().unwrap().push(link.display().to_string());
        }
    }

    /// The CPU the threads have used so far.
    pub fn cpu(&self) -> Cpu {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|t| std::fs::read_to_string(format!("/proc/{t}/schedstat")).ok())
            .filter_map(|s| {
                let mut f = s.split_whitespace();
                let ns = f.next()?.parse::<u64>().ok()?;
                let wakeups = f.nth(1)?.parse::<u64>().ok()?;
                Some(Cpu { ns, wakeups })
            })
            .fold(Cpu::default(), |a, b| Cpu {
                ns: a.ns + b.ns,
                wakeups: a.wakeups + b.wakeups,
            })
    }
}

/// Runs `serve(listener)` on a listener of 127.0.0.1 and a runtime of its own, in threads
/// named `name`: `workers` worker threads, or one current-thread runtime for 0. Returns
/// the server's URL (`http://127.0.0.1:PORT`) and its threads.
#[cfg(feature = "net")]
pub fn spawn_server<F, Fut>(name: &'static str, workers: usize, serve: F) -> (String, Threads)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    let threads = Threads::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (t1, t2) = (threads.clone(), threads.clone());
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            t1.record_current();
            let mut builder = if workers == 0 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(workers);
                b
            };
            let runtime = builder
                .enable_all()
                .thread_name(name)
                .on_thread_start(move || t2.record_current())
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                serve(listener).await
            })
        })
        .unwrap();
    (url, threads)
}

/// The runtime a benchmarked server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A multi-threaded runtime of this many workers (work stealing between them).
    Multi(usize),
    /// One current-thread runtime.
    Current,
    /// `irsa_server::serve_threads`: this many current-thread runtimes (0: one per core),
    /// each accepting on the same listener (the shape of irsa's servers).
    PerCore(usize),
}

impl Shape {
    /// Reads `multi2`, `multi1`, `current`, `percore` (one per core), `percore2`, ...
    pub fn parse(s: &str) -> Option<Shape> {
        if let Some(n) = s.strip_prefix("multi") {
            return n.parse().ok().filter(|n| *n > 0).map(Shape::Multi);
        }
        if s == "current" {
            return Some(Shape::Current);
        }
        let n = s.strip_prefix("percore")?;
        if n.is_empty() {
            return Some(Shape::PerCore(0));
        }
        n.parse().ok().filter(|n| *n > 0).map(Shape::PerCore)
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Multi(n) => write!(f, "multi{n}"),
            Shape::Current => f.write_str("current"),
            Shape::PerCore(0) => f.write_str("percore"),
            Shape::PerCore(n) => write!(f, "percore{n}"),
        }
    }
}

/// Runs `serve(listener)` on a listener of 127.0.0.1 in the runtime shape `shape`, in
/// threads named `name` (`serve` is called once per runtime). Returns the server's URL
/// (`http://127.0.0.1:PORT`) and its serving threads.
#[cfg(feature = "net")]
pub fn spawn_server_shaped<F, Fut>(name: &'static str, shape: Shape, serve: F) -> (String, Threads)
where
    F: Fn(tokio::net::TcpListener) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>> + 'static,
{
    match shape {
        Shape::Multi(n) => spawn_server(name, n, serve),
        Shape::Current => spawn_server(name, 0, serve),
        Shape::PerCore(n) => {
            let threads = Threads::default();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let recorded = threads.clone();
            std::thread::Builder::new()
                .name("bench-control".to_owned())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                        let serve = move |l, _shutdown| {
                            recorded.record_current();
                            serve(l)
                        };
                        irsa_server::serve_threads(listener, n, name, serve, std::future::pending())
                            .await
                    })
                })
                .unwrap();
            (url, threads)
        }
    }
}

/// `application/x-www-form-urlencoded` value encoding: every byte but the unreserved ones
/// as `%XX`.
pub fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Reads one HTTP/1.1 response with a `Content-Length` body off `r`; returns its status
/// code (as written) and body.
pub fn read_response(r: &mut impl BufRead) -> (String, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap_or("").to_owned();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_thread_cpu() {
        for s in ["multi2", "multi1", "current", "percore", "percore3"] {
            assert_eq!(Shape::parse(s).map(|s| s.to_string()).as_deref(), Some(s));
        }
        for s in ["multi0", "percore0", "multi", "one"] {
            assert_eq!(Shape::parse(s), None, "{s}");
        }
        let v: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile_us(&v, 0.5).round(), 51.0);
        assert_eq!(percentile_us(&v, 0.99).round(), 99.0);
        assert_eq!(mean_us(&v).round(), 51.0);
        let threads = Threads::default();
        assert_eq!(threads.cpu(), Cpu::default());
        threads.record_current();
        let before = threads.cpu();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = black_box(x.wrapping_add(i));
        }
        assert!(threads.cpu().ns > before.ns, "{x}");
    }

    #[test]
    fn form_encoding_keeps_unreserved_only() {
        assert_eq!(form_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(form_encode("a b/+é"), "a%20b%2F%2B%C3%A9");
    }

    #[test]
    fn reads_a_response_and_leaves_the_next() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nhiHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let mut r = std::io::BufReader::new(&raw[..]);
        assert_eq!(read_response(&mut r), ("200".to_owned(), b"hi".to_vec()));
        assert_eq!(read_response(&mut r), ("404".to_owned(), Vec::new()));
    }
}
