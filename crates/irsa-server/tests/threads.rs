//! Serving on one single-threaded runtime per thread (`serve_threads`): requests are served
//! on the serving threads, the limits count over all of them, shutdown drains every
//! thread, and a thread that stops (returns or panics) stops the others.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::StatusCode;
use irsa_server::{Limits, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, oneshot};

const THREAD_NAME: &str = "srv-threads";

/// One HTTP/1.1 GET over a fresh connection; the status code.
async fn get_status(addr: SocketAddr, path: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answered within 10 s")
        .unwrap();
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// `/block` waits for `release` (counting itself in `entered` and naming the thread it
/// runs on in `seen`); `/` answers at once.
struct App {
    release: Arc<Notify>,
    entered: Arc<AtomicUsize>,
    seen: Arc<Mutex<HashSet<String>>>,
    limits: Limits,
}

impl App {
    fn new(max_concurrency: usize) -> App {
        App {
            release: Arc::new(Notify::new()),
            entered: Arc::new(AtomicUsize::new(0)),
            seen: Arc::default(),
            limits: Limits::new(
                max_concurrency,
                Duration::from_secs(30),
                || (StatusCode::TOO_MANY_REQUESTS, "shed").into_response(),
                || (StatusCode::GATEWAY_TIMEOUT, "late").into_response(),
            ),
        }
    }

    fn router(&self) -> Router {
        let (release, entered, seen) = (
            self.release.clone(),
            self.entered.clone(),
            self.seen.clone(),
        );
        let app = Router::new()
            .route(
                "/block",
                get(move || {
                    let (release, entered, seen) = (release.clone(), entered.clone(), seen.clone());
                    async move {
                        let name = std::thread::current().name().unwrap_or("").to_owned();
                        seen.lock().unwrap().insert(name);
                        let released = release.notified();
                        entered.fetch_add(1, Ordering::SeqCst);
                        released.await;
                        "done"
                    }
                }),
            )
            .route("/", get(|| async { "ok" }));
        self.limits.clone().apply(app)
    }

    async fn wait_entered(&self, n: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.entered.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("requests entered the handler");
    }
}

/// `app` served on `threads` serving threads until `stop` is sent.
async fn start(
    app: Router,
    threads: usize,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = irsa_server::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let options = ServeOptions {
        drain_timeout: Duration::from_secs(10),
        ..ServeOptions::default()
    };
    let task = tokio::spawn(irsa_server::serve_threads(
        listener,
        threads,
        THREAD_NAME,
        move |listener, shutdown| {
            irsa_server::serve(listener, app.clone(), options.clone(), shutdown)
        },
        async move {
            let _ = rx.await;
        },
    ));
    (addr, tx, task)
}

#[tokio::test]
async fn requests_run_on_the_serving_threads_and_the_limit_counts_over_all() {
    let app = App::new(4);
    let (addr, stop, task) = start(app.router(), 2).await;
    let blocked: Vec<_> = (0..4)
        .map(|_| tokio::spawn(get_status(addr, "/block")))
        .collect();
    app.wait_entered(4).await;
    assert_eq!(app.limits.in_flight(), 4);
    // Whichever thread accepts it, a fifth request finds the one limit full.
    for _ in 0..4 {
        assert_eq!(
            get_status(addr, "/").await,
            429,
            "shed past the shared limit"
        );
    }
    assert_eq!(app.limits.metrics().shed.get(), 4);
    app.release.notify_waiters();
    for b in blocked {
        assert_eq!(b.await.unwrap(), 200);
    }
    assert_eq!(
        get_status(addr, "/").await,
        200,
        "served again once released"
    );
    let seen = app.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        HashSet::from([THREAD_NAME.to_owned()]),
        "handled on the serving threads only"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stopped")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_drains_every_thread_then_returns() {
    let app = App::new(64);
    let (addr, stop, task) = start(app.router(), 3).await;
    let blocked: Vec<_> = (0..6)
        .map(|_| tokio::spawn(get_status(addr, "/block")))
        .collect();
    app.wait_entered(6).await;
    stop.send(()).unwrap();
    // Every thread has stopped accepting: new connections are refused.
    tokio::time::timeout(Duration::from_secs(10), async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the listener closed");
    assert!(!task.is_finished(), "requests in flight are drained first");
    app.release.notify_waiters();
    for b in blocked {
        assert_eq!(b.await.unwrap(), 200, "requests in flight finish");
    }
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("every thread stopped")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_thread_whose_serve_fails_stops_the_others_and_its_error_is_returned() {
    let listener = irsa_server::bind("127.0.0.1:0").await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        irsa_server::serve_threads(
            listener,
            2,
            THREAD_NAME,
            move |listener, shutdown| {
                let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        return Err(std::io::Error::other("cannot serve"));
                    }
                    irsa_server::serve(listener, Router::new(), ServeOptions::default(), shutdown)
                        .await
                }
            },
            std::future::pending(),
        ),
    )
    .await
    .expect("the other thread was stopped");
    assert_eq!(result.unwrap_err().to_string(), "cannot serve");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_thread_that_panics_stops_the_others() {
    let listener = irsa_server::bind("127.0.0.1:0").await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        irsa_server::serve_threads(
            listener,
            2,
            THREAD_NAME,
            move |listener, shutdown| {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    assert!(!first, "a serving thread panics");
                    irsa_server::serve(listener, Router::new(), ServeOptions::default(), shutdown)
                        .await
                }
            },
            std::future::pending(),
        ),
    )
    .await
    .expect("the other thread was stopped");
    assert!(result.is_err());
}

#[test]
fn thread_count_defaults_to_the_cores() {
    assert_eq!(irsa_server::serving_threads(3), 3);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    assert_eq!(irsa_server::serving_threads(0), cores);
}
