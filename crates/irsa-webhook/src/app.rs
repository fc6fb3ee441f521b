//! Wiring: from a validated [`Config`] to running servers, watchers and the shutdown
//! sequence (readiness false → drain delay → stop accepting → in-flight requests finish).

use crate::cache::{self, CcFile, KubeFetcher, SaCache, SaStore, Shared};
use crate::metrics::Metrics;
use crate::server::{self, AppState, Health};
use crate::tls::{self, Reload, ReloadingCert};
use irsa_mutate::{ConfigMapConfig, ContainerCredentialsConfig, Settings};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Server configuration (the `irsa webhook` flags, validated).
#[derive(Debug, Clone)]
pub struct Config {
    /// `--listen-address` for both ports; `None`: every address, IPv6 and IPv4 (the
    /// reference's `:port`).
    pub listen_address: Option<IpAddr>,
    /// `--port` (TLS).
    pub port: u16,
    /// `--metrics-port` (plain HTTP).
    pub metrics_port: u16,
    /// `--tls-cert`.
    pub tls_cert: PathBuf,
    /// `--tls-key`.
    pub tls_key: PathBuf,
    /// `--tls-min-version`.
    pub tls_min_version: String,
    /// `--tls-cipher-suites`.
    pub tls_cipher_suites: String,
    /// `--in-cluster`: the reference's CSR mode, not supported; see [`RunError::InCluster`].
    pub in_cluster: bool,
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--kube-api`.
    pub kube_api: Option<String>,
    /// `--namespace` (of the ConfigMap).
    pub namespace: String,
    /// Mutation settings.
    pub settings: Settings,
    /// `--watch-config-map`.
    pub watch_config_map: bool,
    /// `--watch-container-credentials-config`.
    pub container_credentials_config: Option<PathBuf>,
    /// `--service-account-lookup-grace-period` (capped at 1 s, zero turns lookups off).
    pub sa_lookup_grace_period: Duration,
    /// `--enable-debugging-handlers`.
    pub enable_debugging_handlers: bool,
    /// How often the certificate and container-credentials files are re-read.
    pub file_poll_interval: Duration,
    /// How long to keep serving after readiness went false on SIGTERM.
    pub shutdown_delay: Duration,
    /// How long in-flight requests get to finish after that.
    pub shutdown_timeout: Duration,
    /// Bound of an AdmissionReview body.
    pub max_body_bytes: usize,
    /// Admission reviews handled at once; past it `429 Too Many Requests` at once.
    pub max_concurrency: usize,
    /// `--compose-role-arn`: read the account and partition from the instance metadata
    /// service at start (fatal when it cannot be read, as in the reference) into
    /// `settings.compose_role_arn`.
    pub compose_role_arn: bool,
    /// The instance metadata endpoint for `compose_role_arn` (`None`: the SDKs' default,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT` / `_MODE`, else `http://169.254.169.254`).
    pub imds_endpoint: Option<String>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--in-cluster=true` without certificate files.
    #[error(
        "--in-cluster=true (certificates from a Kubernetes CSR) is not supported: its signer `kubernetes.io/legacy-unknown` is not signed by modern clusters. Mount a certificate (e.g. from cert-manager) and pass --in-cluster=false --tls-cert=<file> --tls-key=<file> (missing: `{0}`)"
    )]
    InCluster(PathBuf),
    /// TLS options or key material.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Kubernetes client configuration.
    #[error("kubernetes client: {0}")]
    Kube(String),
    /// A listener.
    #[error(transparent)]
    Serve(#[from] server::ServeError),
    /// `--compose-role-arn` without a readable instance identity document.
    #[error("--compose-role-arn: {0}")]
    Imds(#[from] crate::imds::ImdsError),
    /// Signal handling.
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
}

/// How the process should exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Clean shutdown after SIGTERM/SIGINT.
    Clean,
    /// A second signal cut the shutdown short.
    Forced,
}

async fn kube_client(cfg: &Config) -> Result<kube::Client, RunError> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let kerr = |e: &dyn std::fmt::Display| RunError::Kube(e.to_string());
    let parse_url = |u: &str| -> Result<http::Uri, RunError> {
        u.parse()
            .map_err(|e| RunError::Kube(format!("invalid --kube-api `{u}`: {e}")))
    };
    let config = match (&cfg.kubeconfig, &cfg.kube_api) {
        (Some(path), api) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| kerr(&e))?;
            let mut c = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| kerr(&e))?;
            if let Some(a) = api {
                c.cluster_url = parse_url(a)?;
            }
            c
        }
        (None, Some(a)) => kube::Config::new(parse_url(a)?),
        (None, None) => kube::Config::infer().await.map_err(|e| kerr(&e))?,
    };
    kube::Client::try_from(config).map_err(|e| kerr(&e))
}

/// Runs the webhook until the first message on `signals` (a signal name), then shuts down
/// gracefully; a second message exits at once. [`run`] feeds it SIGTERM/SIGINT.
pub async fn run_with(
    mut cfg: Config,
    mut signals: tokio::sync::mpsc::Receiver<&'static str>,
) -> Result<Exit, RunError> {
    if cfg.compose_role_arn {
        let compose = crate::imds::compose_role_arn(cfg.imds_endpoint.as_deref()).await?;
        tracing::info!(
            partition = %compose.partition,
            account_id = %compose.account_id,
            "--compose-role-arn: role names become arn:PARTITION:iam::ACCOUNT:role/NAME"
        );
        cfg.settings.compose_role_arn = Some(compose);
    }
    // TLS first: a bad certificate or option fails before anything else starts
    let (cert, tls_config) = tls_setup(&cfg)?;
    let client = kube_client(&cfg).await?;
    let state = start_watchers(&cfg, client);

    let tls_listener = server::bind_port(cfg.listen_address, cfg.port).await?;
    let metrics_listener = server::bind_port(cfg.listen_address, cfg.metrics_port).await?;
    tracing::info!(
        address = %cfg.listen_address.map_or_else(|| "[::] and 0.0.0.0".to_owned(), |a| a.to_string()),
        port = cfg.port,
        metrics_port = cfg.metrics_port,
        grace_period = ?state.sa.grace(),
        "irsa webhook listening"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let cert_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let m = state.metrics.clone();
    tokio::spawn(cert.watch(cfg.file_poll_interval, cert_stop, move |r| {
        let label = match r {
            Reload::Unchanged => return,
            Reload::Reloaded => "ok",
            Reload::Rejected => "error",
        };
        Metrics::inc_result(&m.cert_reloads, label);
    }));

    let tls_server = tokio::spawn(server::serve_tls(
        tls_listener,
        tls_config,
        // 30 s: the longest `timeoutSeconds` the API server allows a webhook.
        server::shed(
            server::router(state.clone()),
            cfg.max_concurrency,
            Duration::from_secs(30),
            state.metrics.server.clone(),
        ),
        stop_rx.clone(),
        cfg.shutdown_timeout,
    ));
    let metrics_server = tokio::spawn(server::serve_plain(
        metrics_listener,
        server::metrics_router(state.clone()),
        stop_rx,
    ));
    let servers = async {
        let _ = tls_server.await;
        let _ = metrics_server.await;
    };
    shut_down(&cfg, &state, &mut signals, stop_tx, servers).await
}

/// The serving TLS configuration around a certificate resolver that reloads the files.
fn tls_setup(cfg: &Config) -> Result<(Arc<ReloadingCert>, Arc<rustls::ServerConfig>), RunError> {
    if cfg.in_cluster {
        for p in [&cfg.tls_cert, &cfg.tls_key] {
            if !p.exists() {
                return Err(RunError::InCluster(p.clone()));
            }
        }
        tracing::warn!(
            "--in-cluster=true: CSR certificates are not supported; serving the certificate files instead"
        );
    }
    let (min, below_12) = tls::parse_min_version(&cfg.tls_min_version)?;
    if below_12 {
        tracing::warn!(
            requested = %cfg.tls_min_version,
            "rustls implements TLS 1.2 and 1.3 only; the minimum is TLS 1.2"
        );
    }
    let suites = tls::parse_cipher_suites(&cfg.tls_cipher_suites, min)?;
    if !suites.ignored.is_empty() {
        tracing::warn!(ignored = ?suites.ignored, "cipher suites not implemented by rustls are ignored");
    }
    let cert = Arc::new(ReloadingCert::new(
        cfg.tls_cert.clone(),
        cfg.tls_key.clone(),
        tls::provider(&suites),
    )?);
    let tls_config = Arc::new(tls::server_config(min, &suites, cert.clone())?);
    Ok((cert, tls_config))
}

/// Starts the ServiceAccount reflector, the ConfigMap watch and the container-credentials
/// file poller; the handlers' shared state.
fn start_watchers(cfg: &Config, client: kube::Client) -> AppState {
    let metrics = Metrics::new();
    let settings = Arc::new(cfg.settings.clone());
    let store = SaStore::new(settings.clone());
    let restart = Arc::new(Notify::new());
    tokio::spawn(cache::run_sa_reflector(
        client.clone(),
        store.clone(),
        restart.clone(),
        metrics.clone(),
    ));
    {
        let store = store.clone();
        tokio::spawn(async move {
            store.wait_synced().await;
            tracing::info!(
                service_accounts = store.len(),
                "ServiceAccount cache synced"
            );
        });
    }
    let sa = SaCache::new(
        store,
        Some(Arc::new(KubeFetcher {
            client: client.clone(),
        })),
        cfg.sa_lookup_grace_period,
    );
    if cfg.sa_lookup_grace_period > cache::MAX_GRACE {
        tracing::warn!(
            requested = ?cfg.sa_lookup_grace_period,
            "--service-account-lookup-grace-period is capped at 1s"
        );
    }
    let health = Arc::new(Health::default());
    let config_map = if cfg.watch_config_map {
        let shared = Arc::new(Shared::<ConfigMapConfig>::default());
        tokio::spawn(cache::run_config_map_watch(
            client,
            cfg.namespace.clone(),
            shared.clone(),
            health.config_map_synced.clone(),
            metrics.clone(),
        ));
        Some(shared)
    } else {
        health.config_map_synced.store(true, Ordering::SeqCst);
        None
    };
    let container_credentials = cfg.container_credentials_config.as_ref().map(|path| {
        let shared = Arc::new(Shared::<ContainerCredentialsConfig>::default());
        let mut file = CcFile::new(path.clone());
        if let Some(r) = file.check(&shared) {
            Metrics::inc_result(&metrics.config_reloads, r);
        }
        tokio::spawn(file.run(cfg.file_poll_interval, shared.clone(), metrics.clone()));
        shared
    });
    AppState {
        settings,
        sa,
        config_map,
        container_credentials,
        metrics,
        health,
        debug_handlers: cfg.enable_debugging_handlers,
        max_body_bytes: cfg.max_body_bytes,
        cache_restart: restart,
    }
}

/// The shutdown sequence: the first signal turns readiness false, keeps serving for the
/// drain delay (endpoints are being removed), then stops accepting and lets in-flight
/// requests finish; a second signal exits at once.
async fn shut_down(
    cfg: &Config,
    state: &AppState,
    signals: &mut tokio::sync::mpsc::Receiver<&'static str>,
    stop: watch::Sender<bool>,
    servers: impl std::future::Future<Output = ()>,
) -> Result<Exit, RunError> {
    let Some(first) = signals.recv().await else {
        return Ok(Exit::Clean);
    };
    tracing::info!(signal = first, "shutdown requested; readiness is now false");
    state.health.shutting_down.store(true, Ordering::SeqCst);
    state.readiness().ok();
    tokio::select! {
        _ = tokio::time::sleep(cfg.shutdown_delay) => {}
        Some(_) = signals.recv() => {
            tracing::warn!("second signal; exiting now");
            return Ok(Exit::Forced);
        }
    }
    tracing::info!("no longer accepting connections; finishing in-flight requests");
    let _ = stop.send(true);
    tokio::select! {
        _ = servers => {}
        _ = tokio::time::sleep(cfg.shutdown_timeout + Duration::from_secs(1)) => {
            tracing::warn!("servers did not stop in time");
        }
        Some(_) = signals.recv() => {
            tracing::warn!("second signal; exiting now");
            return Ok(Exit::Forced);
        }
    }
    tracing::info!("stopped");
    Ok(Exit::Clean)
}

/// Runs the webhook until SIGTERM/SIGINT (a second signal cuts the drain short).
pub async fn run(cfg: Config) -> Result<Exit, RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(RunError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RunError::Signal)?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            if tx.send(name).await.is_err() {
                return;
            }
        }
    });
    run_with(cfg, rx).await
}
