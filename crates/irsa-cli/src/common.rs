//! What every server subcommand shares: logging, the async runtime, the stop signal.

use anyhow::Context as _;

/// Logs to stderr, JSON (one object per event) or human text. `RUST_LOG` overrides
/// `default_filter`.
pub fn init_logging(format: &str, default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// A multi-threaded tokio runtime for a subcommand (clients, `irsa up`'s servers side by
/// side).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The single-threaded runtime of a server's control work (signals, configuration
/// reload, ops endpoints) while its requests are served on serving threads of their own
/// ([`irsa_server::serve_threads`]).
pub fn control_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Ctrl-C and SIGTERM, caught from the moment of [`Stop::install`] (so a signal that
/// arrives while a server is still starting is not lost to the default action).
pub struct Stop {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Stop {
    /// Installs the handlers; call it inside the runtime, before anything slow.
    pub fn install() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Stop {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Stop {}
        }
    }

    /// Resolves on the first Ctrl-C or SIGTERM and says which.
    pub async fn wait(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn recv(s: Option<&mut tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = recv(self.interrupt.as_mut()) => "interrupt",
                () = recv(self.terminate.as_mut()) => "terminate",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupt"
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (handlers installed on the first poll).
pub async fn stop_signal() -> &'static str {
    Stop::install().wait().await
}

/// Where `irsa sts` and `irsa gateway` serve `/healthz`, `/readyz` and `/metrics`.
pub struct Ops<'a> {
    /// `--ops-listen`; `None` serves no ops endpoints.
    pub listen: Option<&'a str>,
    /// The server's request counters.
    pub metrics: irsa_server::ServerMetrics,
}

/// What `irsa sts` and `irsa gateway` share once their server is loaded: listen on
/// `listen`, reload the configuration file when it changes (every `reload_secs`), serve the
/// ops endpoints, and stop on `stop` (readiness turns false first). Returns the bound
/// listener and the shutdown future for `serve`.
pub async fn config_server<E: std::fmt::Display + 'static>(
    name: &str,
    listen: &str,
    config: &std::path::Path,
    reload_secs: u64,
    reload: impl Fn(&std::path::Path) -> Result<(), E> + Send + 'static,
    mut stop: Stop,
    ops: Ops<'_>,
) -> anyhow::Result<(
    tokio::net::TcpListener,
    impl std::future::Future<Output = ()> + Send + 'static,
)> {
    let listener = irsa_server::bind(listen)
        .await
        .with_context(|| format!("cannot listen on `{listen}`"))?;
    let addr = listener.local_addr()?;
    let health = irsa_server::Health::default();
    if let Some(ops_listen) = ops.listen {
        let ops_listener = irsa_server::bind(ops_listen)
            .await
            .with_context(|| format!("cannot listen on `{ops_listen}` (--ops-listen)"))?;
        tracing::info!(listen = %ops_listener.local_addr()?, "{name} ops endpoints (/healthz, /readyz, /metrics)");
        let router = irsa_server::ops_router(health.clone(), ops.metrics);
        tokio::spawn(irsa_server::serve(
            ops_listener,
            router,
            irsa_server::ServeOptions::default(),
            std::future::pending(),
        ));
    }
    tracing::info!(listen = %addr, config = %config.display(), "{name} listening");
    tokio::spawn(irsa_server::watch_file(
        config.to_path_buf(),
        std::time::Duration::from_secs(reload_secs.max(1)),
        reload,
    ));
    let shutdown = async move {
        let sig = stop.wait().await;
        health.shutting_down();
        tracing::info!(signal = sig, "shutting down");
    };
    Ok((listener, shutdown))
}

/// A server run from a watched configuration file (`irsa sts`, `irsa gateway`).
pub struct ConfigServer<'a> {
    /// Its name in the log.
    pub name: &'static str,
    /// `--listen`.
    pub listen: &'a str,
    /// `--config`.
    pub config: &'a std::path::Path,
    /// `--reload-interval-secs`.
    pub reload_secs: u64,
    /// `--ops-listen`.
    pub ops_listen: Option<&'a str>,
    /// `--threads`: serving threads, each a single-threaded runtime accepting on the
    /// listener; 0 for one per core.
    pub threads: usize,
}

/// The shutdown future handed to a server's `serve`.
pub type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Runs a server from its configuration file until it is told to stop: `load` it (inside
/// the control runtime), serve it on its listener with `serve` on `--threads` serving
/// threads (each calls `serve` with its own handle to the listener; the server's state,
/// limits and metrics are shared), `reload` it when the file changes, its `metrics` on the
/// ops endpoints (see [`config_server`]). On the stop signal every serving thread stops
/// accepting and drains. Returns the process exit code.
pub fn run_config_server<S, E, Fut>(
    spec: ConfigServer<'_>,
    load: impl FnOnce() -> anyhow::Result<std::sync::Arc<S>>,
    reload: fn(&S, &std::path::Path) -> Result<(), E>,
    metrics: fn(&S) -> irsa_server::ServerMetrics,
    serve: fn(tokio::net::TcpListener, std::sync::Arc<S>, Shutdown) -> Fut,
) -> anyhow::Result<u8>
where
    S: Send + Sync + 'static,
    E: std::fmt::Display + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>> + 'static,
{
    let runtime = control_runtime()?;
    runtime.block_on(async move {
        let stop = Stop::install();
        let server = load()?;
        let watched = server.clone();
        let (listener, shutdown) = config_server(
            spec.name,
            spec.listen,
            spec.config,
            spec.reload_secs,
            move |p| reload(&watched, p),
            stop,
            Ops {
                listen: spec.ops_listen,
                metrics: metrics(&server),
            },
        )
        .await?;
        irsa_server::serve_threads(
            listener,
            spec.threads,
            spec.name,
            move |listener, shutdown| serve(listener, server.clone(), shutdown),
            shutdown,
        )
        .await
        .context("server failed")?;
        Ok(0)
    })
}

/// An environment variable's value, unless it is unset or empty.
pub(crate) fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
