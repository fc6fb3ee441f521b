//! `irsa sts`: the STS-compatible endpoint.

use anyhow::Context as _;
use clap::Args as ClapArgs;
use std::path::PathBuf;
use std::time::Duration;

#[derive(ClapArgs)]
pub struct Args {
    /// The configuration file (YAML). Reloaded when it changes; a bad file keeps the old one.
    #[arg(long, env = "IRSA_STS_CONFIG")]
    config: PathBuf,
    /// Address to listen on (plain HTTP; put TLS in front for anything but loopback).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_body_bytes: usize,
    /// Requests handled at once; above it requests are answered `Throttling` at once.
    #[arg(long, default_value_t = 256)]
    max_concurrency: usize,
    /// Bound on handling one request, in seconds.
    #[arg(long, default_value_t = 10)]
    request_timeout_secs: u64,
    /// How often to check the configuration file for changes, in seconds.
    #[arg(long, default_value_t = 2)]
    reload_interval_secs: u64,
    /// Let the configuration register `http://` issuers and fetch their discovery document
    /// and JWKS over plain http (local issuers only; without it issuers must be https).
    #[arg(long)]
    insecure_allow_http_issuer: bool,
    /// Address for `/healthz`, `/readyz` (false once shutdown begins) and `/metrics`
    /// (`irsa_server_*` request counters), e.g. 127.0.0.1:9090; off when not given.
    #[arg(long)]
    ops_listen: Option<String>,
    /// Serving threads, each a single-threaded runtime accepting on the listener and
    /// serving its connections to the end (no hand-off between threads); limits and
    /// metrics count over all of them. 0: one per core.
    #[arg(long, env = "IRSA_STS_THREADS", default_value_t = 0)]
    threads: usize,
    /// Log format: json or text.
    #[arg(long, default_value = "json")]
    log_format: String,
}

/// Runs the server until it is told to stop; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    crate::common::init_logging(&args.log_format, "warn,irsa_sts=info,irsa=info");
    let mut options = irsa_sts::Options {
        max_body_bytes: args.max_body_bytes,
        max_concurrency: args.max_concurrency.max(1),
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        ..irsa_sts::Options::default()
    };
    options.jwks_client.allow_insecure_http_issuer = args.insecure_allow_http_issuer;
    crate::common::run_config_server(
        crate::common::ConfigServer {
            name: "irsa sts",
            listen: &args.listen,
            config: &args.config,
            reload_secs: args.reload_interval_secs,
            ops_listen: args.ops_listen.as_deref(),
            threads: args.threads,
        },
        || {
            irsa_sts::Server::from_file(&args.config, options)
                .with_context(|| format!("cannot load `{}`", args.config.display()))
        },
        irsa_sts::Server::reload,
        |s| s.limits().metrics().clone(),
        irsa_sts::serve,
    )
}
