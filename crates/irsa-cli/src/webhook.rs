//! `irsa webhook`: the pod identity mutating admission webhook, flag-compatible with
//! amazon-eks-pod-identity-webhook (pflag booleans accept `--x`, `--x=true`, `--x=false`).

use clap::Args as ClapArgs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Go `strconv.ParseBool`, as pflag uses for boolean flags.
fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid boolean `{s}`")),
    }
}

/// Go `time.ParseDuration` for the forms used in practice (`500ms`, `1s`, `1m30s`, `0`).
fn go_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || format!("invalid duration `{s}` (expected e.g. 500ms, 1s, 1m30s)");
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_end);
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let mult = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * mult;
        rest = tail;
    }
    Ok(Duration::from_secs_f64(total))
}

/// Flags of `irsa webhook`. Names, defaults and meanings follow the reference.
#[derive(ClapArgs, Debug)]
#[command(
    about = "The pod identity mutating admission webhook (drop-in for amazon-eks-pod-identity-webhook)"
)]
pub struct Args {
    /// Port of the TLS webhook server (/mutate, /healthz, /readyz).
    #[arg(long, default_value_t = 443)]
    port: u16,
    /// Port of the plain-HTTP metrics server (/metrics, debug handlers).
    #[arg(long, default_value_t = 9999)]
    metrics_port: u16,
    /// Address both servers listen on (e.g. 127.0.0.1 for local tests).
    #[arg(long, default_value = "0.0.0.0")]
    listen_address: IpAddr,
    /// Serving certificate (PEM). Reloaded when the file changes.
    #[arg(long, default_value = "/etc/webhook/certs/tls.crt")]
    tls_cert: PathBuf,
    /// Serving key (PEM). Reloaded when the file changes.
    #[arg(long, default_value = "/etc/webhook/certs/tls.key")]
    tls_key: PathBuf,
    /// Minimum TLS version: 1.0, 1.1, 1.2, 1.3 or VersionTLS10..13 (rustls offers 1.2 and 1.3).
    #[arg(long, default_value = "")]
    tls_min_version: String,
    /// Comma-separated Go cipher suite names for TLS 1.2 (TLS 1.3 suites are always on).
    #[arg(long, default_value = "")]
    tls_cipher_suites: String,
    /// The reference's CSR certificate mode. Unsupported: true is accepted only when the
    /// --tls-cert/--tls-key files exist (then they are served); use --in-cluster=false.
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    in_cluster: bool,
    /// Kubeconfig file (default: in-cluster config, then $KUBECONFIG / ~/.kube/config).
    #[arg(long, default_value = "")]
    kubeconfig: String,
    /// Kubernetes API server URL (overrides the kubeconfig's).
    #[arg(long, default_value = "")]
    kube_api: String,
    /// Namespace of the pod-identity-webhook ConfigMap (and, in the reference, the CSR secret).
    #[arg(long, default_value = "eks")]
    namespace: String,
    /// Service name (used only by the reference's CSR mode; accepted for compatibility).
    #[arg(long, default_value = "pod-identity-webhook")]
    service_name: String,
    /// Secret of the CSR mode (accepted for compatibility, unused).
    #[arg(long, default_value = "pod-identity-webhook")]
    tls_secret: String,
    /// Prefix of the ServiceAccount and pod annotations.
    #[arg(long, default_value = "eks.amazonaws.com")]
    annotation_prefix: String,
    /// Default audience of the IRSA token.
    #[arg(long, default_value = "sts.amazonaws.com")]
    token_audience: String,
    /// Mount path of the IRSA token.
    #[arg(
        long,
        default_value = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
    )]
    token_mount_path: String,
    /// Default token lifetime in seconds (raised to at least 600).
    #[arg(long, default_value_t = 86400)]
    token_expiration: i64,
    /// Region injected as AWS_DEFAULT_REGION and AWS_REGION (empty: none).
    #[arg(long, default_value = "")]
    aws_default_region: String,
    /// Inject AWS_STS_REGIONAL_ENDPOINTS=regional by default.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    sts_regional_endpoint: bool,
    /// Watch the pod-identity-webhook ConfigMap in --namespace for SA → role mappings.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    watch_config_map: bool,
    /// Compose role ARNs without `arn:` from the IMDS region and account (not supported yet).
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    compose_role_arn: bool,
    /// EKS Pod Identity config file ({"identities":[{"namespace","serviceAccount"}]}).
    #[arg(long, default_value = "")]
    watch_container_credentials_config: String,
    /// Audience of the container-credentials token.
    #[arg(long, default_value = "pods.eks.amazonaws.com")]
    container_credentials_audience: String,
    /// Mount path of the container-credentials token.
    #[arg(
        long,
        default_value = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
    )]
    container_credentials_token_mount_path: String,
    /// Volume name of the container-credentials token.
    #[arg(long, default_value = "eks-pod-identity-token")]
    container_credentials_token_volume_name: String,
    /// File name of the container-credentials token in its mount.
    #[arg(long, default_value = "eks-pod-identity-token")]
    container_credentials_token_path: String,
    /// AWS_CONTAINER_CREDENTIALS_FULL_URI.
    #[arg(long, default_value = "http://169.254.170.23/v1/credentials")]
    container_credentials_full_uri: String,
    /// Enable /debug/alpha/* handlers.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    enable_debugging_handlers: bool,
    /// On a ServiceAccount cache miss, wait at most this long for a direct API lookup
    /// (Go duration; capped at 1s; 0 turns lookups off).
    #[arg(long, default_value = "1s", value_parser = go_duration)]
    service_account_lookup_grace_period: Duration,
    /// Informer resync period (accepted for compatibility: the watch keeps the cache current).
    #[arg(long, default_value = "60s", value_parser = go_duration)]
    resync_period: Duration,
    /// How often certificate and container-credentials files are re-read.
    #[arg(long, default_value = "1s", value_parser = go_duration)]
    file_poll_interval: Duration,
    /// After SIGTERM, keep serving this long with readiness false (endpoint removal).
    #[arg(long, default_value = "5s", value_parser = go_duration)]
    shutdown_delay: Duration,
    /// Then give in-flight requests this long to finish.
    #[arg(long, default_value = "10s", value_parser = go_duration)]
    shutdown_timeout: Duration,
    /// Largest accepted AdmissionReview body in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    max_request_bytes: usize,
    /// Admission reviews handled at once; past it a review is answered `429 Too Many
    /// Requests` at once (never allowed unmutated), so the API server's failurePolicy applies.
    #[arg(long, default_value_t = 1024)]
    max_concurrency: usize,
    /// Log format: json or text.
    #[arg(long, default_value = "json", value_parser = ["json", "text"])]
    log_format: String,
    /// klog verbosity: 0-2 info, 3-4 debug (a line per admitted pod), 5+ trace. RUST_LOG overrides.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    verbosity: u8,
    /// klog flag, accepted for compatibility (logs always go to stderr).
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    logtostderr: bool,
    /// klog flag, accepted for compatibility.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    alsologtostderr: bool,
    /// Print the version and exit.
    #[arg(long)]
    version: bool,
}

/// The log filter for klog's `-v` levels: 0-2 info, 3-4 debug (a decision per pod), 5+ trace.
fn log_filter(verbosity: u8) -> String {
    let level = match verbosity {
        0..=2 => "info",
        3..=4 => "debug",
        _ => "trace",
    };
    format!("warn,irsa_webhook={level},irsa={level}")
}

fn config(a: Args) -> anyhow::Result<irsa_webhook::Config> {
    if a.compose_role_arn {
        anyhow::bail!(
            "--compose-role-arn is not supported yet: annotate ServiceAccounts with full role ARNs"
        );
    }
    let settings = irsa_mutate::Settings {
        annotation_prefix: a.annotation_prefix,
        token_audience: a.token_audience,
        token_mount_path: a.token_mount_path,
        token_expiration: irsa_mutate::clamp_token_expiration(a.token_expiration),
        aws_default_region: a.aws_default_region,
        sts_regional_endpoint: a.sts_regional_endpoint,
        compose_role_arn: None,
        container_credentials_audience: a.container_credentials_audience,
        container_credentials_token_mount_path: a.container_credentials_token_mount_path,
        container_credentials_token_volume_name: a.container_credentials_token_volume_name,
        container_credentials_token_path: a.container_credentials_token_path,
        container_credentials_full_uri: a.container_credentials_full_uri,
    };
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let _ = (a.service_name, a.tls_secret, a.resync_period);
    Ok(irsa_webhook::Config {
        listen_address: a.listen_address,
        port: a.port,
        metrics_port: a.metrics_port,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        tls_min_version: a.tls_min_version,
        tls_cipher_suites: a.tls_cipher_suites,
        in_cluster: a.in_cluster,
        kubeconfig: non_empty(a.kubeconfig).map(PathBuf::from),
        kube_api: non_empty(a.kube_api),
        namespace: a.namespace,
        settings,
        watch_config_map: a.watch_config_map,
        container_credentials_config: non_empty(a.watch_container_credentials_config)
            .map(PathBuf::from),
        sa_lookup_grace_period: a.service_account_lookup_grace_period,
        enable_debugging_handlers: a.enable_debugging_handlers,
        file_poll_interval: a.file_poll_interval.max(Duration::from_millis(10)),
        shutdown_delay: a.shutdown_delay,
        shutdown_timeout: a.shutdown_timeout,
        max_body_bytes: a.max_request_bytes,
        max_concurrency: a.max_concurrency.max(1),
    })
}

/// Runs the server until it is told to stop; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.version {
        println!("irsa webhook v{}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    crate::common::init_logging(&args.log_format, &log_filter(args.verbosity));
    let cfg = config(args)?;
    match crate::common::runtime()?.block_on(irsa_webhook::run(cfg)) {
        Ok(irsa_webhook::Exit::Clean) => Ok(0),
        Ok(irsa_webhook::Exit::Forced) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    #[test]
    fn pflag_booleans_and_defaults() {
        let t = T::try_parse_from(["x"]).unwrap();
        assert!(t.a.in_cluster);
        assert!(!t.a.watch_config_map);
        assert_eq!(t.a.port, 443);
        assert_eq!(
            t.a.service_account_lookup_grace_period,
            Duration::from_secs(1)
        );
        let t = T::try_parse_from([
            "x",
            "--in-cluster=false",
            "--watch-config-map",
            "--sts-regional-endpoint=T",
            "--service-account-lookup-grace-period=250ms",
            "-v=4",
            "--logtostderr",
        ])
        .unwrap();
        assert!(!t.a.in_cluster);
        assert!(t.a.watch_config_map);
        assert!(t.a.sts_regional_endpoint);
        assert_eq!(t.a.verbosity, 4);
        assert_eq!(
            t.a.service_account_lookup_grace_period,
            Duration::from_millis(250)
        );
        assert!(T::try_parse_from(["x", "--in-cluster=maybe"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(go_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(go_duration("10").is_err());
        assert!(go_duration("").is_err());
    }

    #[test]
    fn token_expiration_is_raised() {
        let t = T::try_parse_from(["x", "--token-expiration=60"]).unwrap();
        let c = config(t.a).unwrap();
        assert_eq!(c.settings.token_expiration, 600);
        assert!(c.kubeconfig.is_none());
    }
}
