//! Serving on one single-threaded runtime per core: each serving thread runs a tokio
//! current-thread runtime that accepts on its own handle to the one listening socket and
//! serves the connections it accepted from start to end on that thread. A request is
//! never handed from one thread to another, and no idle worker is woken to steal work
//! (what a multi-threaded runtime's scheduler costs per request on a small machine).
//!
//! What is shared stays process-wide: the router's state, [`crate::Limits`] (one
//! semaphore for all threads), [`crate::Budget`], metrics, TLS configuration. Shutdown
//! reaches every thread; each stops accepting and drains its connections, and every
//! runtime keeps running until all have drained, so that a task living on one runtime (a
//! pooled client connection, say) still serves a request finishing on another.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

/// The shutdown future handed to each serving thread's serve function.
pub type ThreadShutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// How many serving threads for `requested`: itself when positive, else the number of
/// cores this process may use (at least 1).
pub fn serving_threads(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }
}

/// Serves `listener` on `threads` threads (see [`serving_threads`]), named `name`, each a
/// current-thread tokio runtime that calls `serve` with its own handle to the listener
/// and a shutdown future; `serve` is expected to call [`crate::serve`] (or a server
/// crate's `serve`) with them.
///
/// When `shutdown` resolves, or when any thread's `serve` returns, every thread is told to
/// stop; this returns once all have drained and stopped: the first error of any thread,
/// or `Ok`. Call it inside a tokio runtime (the listener is taken off it).
pub async fn serve_threads<F, Fut>(
    listener: TcpListener,
    threads: usize,
    name: &str,
    serve: F,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    F: Fn(TcpListener, ThreadShutdown) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::io::Result<()>>,
{
    let threads = serving_threads(threads);
    let listener = listener.into_std()?;
    let serve = Arc::new(serve);
    let (stop, _) = watch::channel(false);
    let stop = Arc::new(stop);
    // Threads still serving; each runtime lives on until this reaches 0.
    let (serving, _) = watch::channel(threads);
    let serving = Arc::new(serving);
    let mut done = Vec::with_capacity(threads);
    for i in 0..threads {
        let listener = listener.try_clone()?;
        let (serve, left) = (
            serve.clone(),
            Left {
                stop: stop.clone(),
                serving: serving.clone(),
            },
        );
        let (tx, rx) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Counts this thread out however it ends (a panic included), and tells the
                // others to stop: the process no longer serves on every thread.
                let result = run_thread(listener, &*serve, &left);
                let _ = tx.send(result);
            });
        match spawned {
            Ok(_) => done.push(rx),
            Err(e) => {
                tracing::error!(thread = i, error = %e, "cannot start a serving thread");
                // The threads already started stop; the missing ones count as done.
                stop.send_replace(true);
                serving.send_modify(|n| *n -= threads - i);
                for rx in done {
                    let _ = rx.await;
                }
                return Err(e);
            }
        }
    }
    drop(listener);
    let mut stopped = stop.subscribe();
    tokio::select! {
        () = shutdown => {}
        _ = stopped.wait_for(|s| *s) => {}
    }
    stop.send_replace(true);
    let mut result = Ok(());
    for rx in done {
        let r = rx
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("a serving thread ended abnormally")));
        if result.is_ok() {
            result = r;
        }
    }
    result
}

/// One serving thread: its runtime, `serve` until it returns, then the runtime kept
/// running until every thread has returned.
fn run_thread<F, Fut>(
    listener: std::net::TcpListener,
    serve: &F,
    left: &Left,
) -> std::io::Result<()>
where
    F: Fn(TcpListener, ThreadShutdown) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::from_std(listener)?;
        let mut stop = left.stop.subscribe();
        let shutdown = Box::pin(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        let result = serve(listener, shutdown).await;
        left.stop.send_replace(true);
        left.count_out();
        let mut serving = left.serving.subscribe();
        let _ = serving.wait_for(|n| *n == 0).await;
        result
    })
}

/// A serving thread's part in the shared state; counted out once (see [`Left::count_out`]).
struct Left {
    stop: Arc<watch::Sender<bool>>,
    serving: Arc<watch::Sender<usize>>,
}

impl Left {
    fn count_out(&self) {
        self.serving.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Drop for Left {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.send_replace(true);
            self.count_out();
        }
    }
}
