//! The listener: accept, optional TLS handshake, HTTP/1.1 (and HTTP/2 over TLS by ALPN),
//! per-connection header-read bound, and graceful drain on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// How connections are served.
#[derive(Clone)]
pub struct ServeOptions {
    /// TLS configuration; `None` serves plain HTTP/1.1. Give a configuration whose
    /// certificate resolver reloads ([`crate::tls::ReloadingCert`]) for hot reload.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Also speak HTTP/2 (negotiated by ALPN; over plain HTTP only HTTP/1.1 is offered,
    /// because the header-read bound applies to HTTP/1 only).
    pub http2: bool,
    /// Bound on receiving a request's line and headers (slowloris); the connection is
    /// closed past it.
    pub header_read_timeout: Duration,
    /// Bound on a TLS handshake.
    pub handshake_timeout: Duration,
    /// After shutdown: how long requests in flight may take to finish.
    pub drain_timeout: Duration,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("tls", &self.tls.is_some())
            .field("http2", &self.http2)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("drain_timeout", &self.drain_timeout)
            .finish()
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            tls: None,
            http2: false,
            header_read_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Binds a TCP listener on `addr` (e.g. `127.0.0.1:8080`, `[::]:443`).
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Binds `port` on every address, IPv6 and IPv4 alike (`[::]` with `IPV6_V6ONLY` off, as
/// Go's `:port`), or on IPv4's `0.0.0.0` where the machine has no IPv6. Call it inside a
/// tokio runtime.
pub fn bind_dual_stack(port: u16) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let open = |v6: bool| -> std::io::Result<Socket> {
        let (domain, addr) = if v6 {
            (
                Domain::IPV6,
                SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
            )
        } else {
            (
                Domain::IPV4,
                SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)),
            )
        };
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        if v6 {
            socket.set_only_v6(false)?;
        }
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        Ok(socket)
    };
    let socket = match open(true) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "no IPv6 listener; listening on IPv4 only");
            open(false)?
        }
    };
    TcpListener::from_std(socket.into())
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and lets
/// requests in flight finish (at most [`ServeOptions::drain_timeout`]).
///
/// Handlers see the peer address as `ConnectInfo<SocketAddr>` (`aws:SourceIp`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    let builder = if options.http2 && options.tls.is_some() {
        builder.http2().timer(TokioTimer::new());
        builder
    } else {
        builder.http1_only()
    };
    let builder = Arc::new(builder);
    let acceptor = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req)
            });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        match &acceptor {
            None => {
                let conn = builder.serve_connection(TokioIo::new(tcp), service);
                let conn = watcher.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let handshake_timeout = options.handshake_timeout;
                tokio::spawn(async move {
                    let Some(tls) = handshake(&acceptor, tcp, peer, handshake_timeout).await else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(tls), service);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests in flight did not finish in time; closing");
    }
    Ok(())
}

/// The TLS handshake of a connection from `peer`, bounded by `timeout`; `None` (logged)
/// when it fails or takes too long.
async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    timeout: Duration,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}
