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

/// A multi-threaded tokio runtime for a server subcommand.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
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
