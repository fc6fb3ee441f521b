//! `irsa gateway`: the SigV4 + IAM policy enforcing proxy in front of a DynamoDB endpoint
//! and an S3 endpoint, on one listener.

use anyhow::Context as _;
use clap::Args as ClapArgs;
use std::path::PathBuf;
use std::time::Duration;

#[derive(ClapArgs)]
pub struct Args {
    /// The configuration file: the one `irsa sts` reads (roles, policies, signingKeys), with
    /// optional `gateway.upstream` and `gateway.s3` sections. Reloaded when it changes.
    #[arg(long, env = "IRSA_GATEWAY_CONFIG")]
    config: PathBuf,
    /// Address to listen on (plain HTTP; put TLS in front for anything but loopback).
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// The upstream DynamoDB endpoint, e.g. http://127.0.0.1:4567 or
    /// https://dynamodb.us-east-1.amazonaws.com (overrides gateway.upstream.url).
    #[arg(long, env = "IRSA_GATEWAY_UPSTREAM")]
    upstream: Option<String>,
    /// Region the upstream requests are signed for (default: the configuration's region).
    #[arg(long, env = "IRSA_GATEWAY_UPSTREAM_REGION")]
    upstream_region: Option<String>,
    /// The upstream's access key id (overrides gateway.upstream.accessKeyId).
    #[arg(long, env = "IRSA_GATEWAY_UPSTREAM_ACCESS_KEY_ID")]
    upstream_access_key_id: Option<String>,
    /// A file holding the upstream's secret access key. The key itself can be given in
    /// IRSA_GATEWAY_UPSTREAM_SECRET_ACCESS_KEY (never on the command line).
    #[arg(long, env = "IRSA_GATEWAY_UPSTREAM_SECRET_ACCESS_KEY_FILE")]
    upstream_secret_access_key_file: Option<PathBuf>,
    /// PEM CA bundle for an https upstream (default: the Web PKI roots).
    #[arg(long, env = "IRSA_GATEWAY_UPSTREAM_CA_FILE")]
    upstream_ca_file: Option<PathBuf>,
    /// The upstream S3 endpoint, e.g. http://127.0.0.1:7070 or
    /// https://s3.us-east-1.amazonaws.com (overrides gateway.s3.upstream.url). Requests
    /// whose credential scope names `s3` go there; without it allowed S3 requests are
    /// answered `UpstreamNotConfigured`. With only an S3 upstream, DynamoDB requests are.
    #[arg(long, value_name = "URL", env = "IRSA_GATEWAY_S3_UPSTREAM")]
    s3_upstream: Option<String>,
    /// Region the S3 upstream requests are signed for (default: the configuration's region).
    #[arg(long, env = "IRSA_GATEWAY_S3_UPSTREAM_REGION")]
    s3_upstream_region: Option<String>,
    /// The S3 upstream's access key id (overrides gateway.s3.upstream.accessKeyId).
    #[arg(long, env = "IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID")]
    s3_upstream_access_key_id: Option<String>,
    /// A file holding the S3 upstream's secret access key. The key itself can be given in
    /// IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY (never on the command line).
    #[arg(long, env = "IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY_FILE")]
    s3_upstream_secret_access_key_file: Option<PathBuf>,
    /// PEM CA bundle for an https S3 upstream (default: the Web PKI roots).
    #[arg(long, env = "IRSA_GATEWAY_S3_UPSTREAM_CA_FILE")]
    s3_upstream_ca_file: Option<PathBuf>,
    /// Bound on one upstream exchange (connect to response headers), in seconds.
    #[arg(long, default_value_t = 30)]
    upstream_timeout_secs: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024 + 64 * 1024)]
    max_body_bytes: usize,
    /// Requests handled at once; above it requests are answered `ThrottlingException`.
    #[arg(long, default_value_t = 1024)]
    max_concurrency: usize,
    /// How often to check the configuration file for changes, in seconds.
    #[arg(long, default_value_t = 2)]
    reload_interval_secs: u64,
    /// Request body bytes held at once over all requests; above it requests are answered
    /// `ThrottlingException`.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    max_bytes_in_flight: usize,
    /// Bound on handling one request (reading its body, deciding, the upstream's answer
    /// up to its headers), in seconds; past it: `RequestTimeoutException`.
    #[arg(long, default_value_t = 60)]
    request_timeout_secs: u64,
    /// INSECURE: accept requests whose signature does not cover the body
    /// (`x-amz-content-sha256: UNSIGNED-PAYLOAD`). Anyone who captures such a request can
    /// replay it with another body for the 15 minutes its signature is valid. Refused by
    /// default.
    #[arg(long, alias = "allow-unsigned-payload")]
    insecure_allow_unsigned_payload: bool,
    /// Kept for compatibility: refusing UNSIGNED-PAYLOAD is now the default.
    #[arg(long, hide = true, conflicts_with = "insecure_allow_unsigned_payload")]
    deny_unsigned_payload: bool,
    /// Address for `/healthz`, `/readyz` (false once shutdown begins) and `/metrics`
    /// (`irsa_server_*` request counters), e.g. 127.0.0.1:9090; off when not given.
    #[arg(long)]
    ops_listen: Option<String>,
    /// Serving threads, each a single-threaded runtime accepting on the listener and
    /// serving its connections to the end (no hand-off between threads); limits and
    /// metrics count over all of them. 0: one per core.
    #[arg(long, env = "IRSA_GATEWAY_THREADS", default_value_t = 0)]
    threads: usize,
    /// Log format: json or text.
    #[arg(long, default_value = "json")]
    log_format: String,
}

/// Runs the gateway until it is told to stop; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    crate::common::init_logging(&args.log_format, "warn,irsa_gateway=info,irsa=info");
    let overrides = irsa_gateway::UpstreamSection {
        url: args.upstream.clone(),
        region: args.upstream_region.clone(),
        access_key_id: args.upstream_access_key_id.clone(),
        secret_access_key: crate::common::non_empty_env("IRSA_GATEWAY_UPSTREAM_SECRET_ACCESS_KEY"),
        secret_access_key_file: args.upstream_secret_access_key_file.clone(),
        session_token: crate::common::non_empty_env("IRSA_GATEWAY_UPSTREAM_SESSION_TOKEN"),
        ca_file: args.upstream_ca_file.clone(),
    };
    let s3_overrides = irsa_gateway::UpstreamSection {
        url: args.s3_upstream.clone(),
        region: args.s3_upstream_region.clone(),
        access_key_id: args.s3_upstream_access_key_id.clone(),
        secret_access_key: crate::common::non_empty_env(
            "IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY",
        ),
        secret_access_key_file: args.s3_upstream_secret_access_key_file.clone(),
        session_token: crate::common::non_empty_env("IRSA_GATEWAY_S3_UPSTREAM_SESSION_TOKEN"),
        ca_file: args.s3_upstream_ca_file.clone(),
    };
    let _ = args.deny_unsigned_payload;
    let options = irsa_gateway::Options {
        max_body_bytes: args.max_body_bytes,
        max_concurrency: args.max_concurrency.max(1),
        max_bytes_in_flight: args.max_bytes_in_flight,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        allow_unsigned_payload: args.insecure_allow_unsigned_payload,
        ..irsa_gateway::Options::default()
    };
    if options.allow_unsigned_payload {
        tracing::warn!(
            "--insecure-allow-unsigned-payload: requests whose signature does not cover the body are accepted; a captured request can be replayed with another body for 15 minutes"
        );
    }
    crate::common::run_config_server(
        crate::common::ConfigServer {
            name: "irsa gateway",
            listen: &args.listen,
            config: &args.config,
            reload_secs: args.reload_interval_secs,
            ops_listen: args.ops_listen.as_deref(),
            threads: args.threads,
        },
        || {
            irsa_gateway::from_file_with_s3(
                &args.config,
                overrides,
                s3_overrides,
                Duration::from_secs(args.upstream_timeout_secs.max(1)),
                options,
            )
            .with_context(|| format!("cannot load `{}`", args.config.display()))
        },
        irsa_gateway::Gateway::reload,
        |g| g.limits().metrics().clone(),
        irsa_gateway::serve,
    )
}
