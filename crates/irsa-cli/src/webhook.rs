//! `irsa webhook`: the pod identity mutating admission webhook, flag-compatible with
//! amazon-eks-pod-identity-webhook, which parses its flags with pflag (plus klog's, added
//! from Go's flag set): booleans accept `--x`, `--x=true`, `--x=false` and every form of Go's
//! `strconv.ParseBool`; integers take Go's base prefixes (`0x1bb`, `0o17`, `017`, `0b1`) and
//! `_` separators; a repeated flag keeps its last value (as Helm `extraArgs` appends);
//! positional words are ignored with a warning (`--in-cluster false` sets `--in-cluster` and
//! leaves `false` behind, as in pflag); klog's flags are accepted, checked as klog checks
//! them, and ignored with a warning (irsa logs to stderr, `-v` sets the level).

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

/// Go `strconv.ParseInt(s, 0, 64)`, as pflag's int flags use: an optional sign, a base
/// prefix (`0x`, `0o`, `0b`, or a leading `0` for octal) and digits, `_` allowed between
/// digits and after a prefix.
fn go_int(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid integer `{s}` (Go syntax: 443, 0x1bb, 0o673, 0b1, 1_000)");
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    // Go's underscoreOK: `_` only between digits, or right after a base prefix.
    let bytes = digits.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'_' {
            let after_prefix = i == 0 && prefixed;
            let between = i > 0
                && bytes.get(i - 1).is_some_and(|p| *p != b'_')
                && bytes.get(i + 1).is_some_and(|n| *n != b'_');
            if !(after_prefix || between) || i + 1 == bytes.len() {
                return Err(bad());
            }
        }
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || clean.starts_with(['+', '-']) {
        return Err(bad());
    }
    let magnitude = i128::from_str_radix(&clean, radix).map_err(|_| bad())?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| format!("integer `{s}` out of range"))
}

/// A pflag int flag that must fit a port.
fn go_port(s: &str) -> Result<u16, String> {
    let v = go_int(s)?;
    u16::try_from(v).map_err(|_| format!("port `{s}` out of range 0-65535"))
}

/// klog's `-v` (`Level.Set`: decimal only, 32-bit).
fn klog_level(s: &str) -> Result<u8, String> {
    let v: i32 = s
        .parse()
        .map_err(|_| format!("invalid value `{s}` for -v: a decimal number"))?;
    Ok(u8::try_from(v.clamp(0, 255)).unwrap_or(0))
}

/// klog's severity flags (`stderrthreshold`, `alsologtostderrthreshold`): a name or a number.
fn klog_severity(s: &str) -> Result<String, String> {
    let upper = s.to_ascii_uppercase();
    if ["INFO", "WARNING", "ERROR", "FATAL"].contains(&upper.as_str())
        || s.parse::<i32>().is_ok_and(|n| (0..=3).contains(&n))
    {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "invalid severity `{s}`: INFO, WARNING, ERROR, FATAL or 0-3"
        ))
    }
}

/// klog's `-vmodule`: comma-separated `pattern=N`.
fn klog_vmodule(s: &str) -> Result<String, String> {
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let ok = part
            .split_once('=')
            .is_some_and(|(pat, n)| !pat.is_empty() && n.parse::<i32>().is_ok());
        if !ok {
            return Err(format!(
                "invalid vmodule entry `{part}`: expected pattern=N"
            ));
        }
    }
    Ok(s.to_owned())
}

/// klog's `-log_backtrace_at`: empty or `file.go:N`.
fn klog_trace_location(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.rsplit_once(':')
            .is_some_and(|(f, n)| !f.is_empty() && n.parse::<u32>().is_ok())
    {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "invalid log_backtrace_at `{s}`: expected file.go:N"
        ))
    }
}

/// Go `flag`'s uint64 flags (`strconv.ParseUint(s, 0, 64)`).
fn go_uint(s: &str) -> Result<u64, String> {
    if s.starts_with(['-', '+']) {
        return Err(format!("invalid unsigned integer `{s}`"));
    }
    u64::try_from(go_int(s)?).map_err(|_| format!("invalid unsigned integer `{s}`"))
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
    about = "The pod identity mutating admission webhook (drop-in for amazon-eks-pod-identity-webhook)",
    args_override_self = true
)]
pub struct Args {
    /// Port of the TLS webhook server (/mutate, /healthz, /readyz).
    #[arg(long, default_value = "443", value_parser = go_port)]
    port: u16,
    /// Port of the plain-HTTP metrics server (/metrics, debug handlers).
    #[arg(long, default_value = "9999", value_parser = go_port)]
    metrics_port: u16,
    /// Address both servers listen on (e.g. 127.0.0.1 for local tests). Default: every
    /// address, IPv6 and IPv4 (like the reference's `:port`).
    #[arg(long)]
    listen_address: Option<IpAddr>,
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
    #[arg(long, default_value = "86400", value_parser = go_int, allow_hyphen_values = true)]
    token_expiration: i64,
    /// Region injected as AWS_DEFAULT_REGION and AWS_REGION (empty: none).
    #[arg(long, default_value = "")]
    aws_default_region: String,
    /// Inject AWS_STS_REGIONAL_ENDPOINTS=regional by default.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    sts_regional_endpoint: bool,
    /// Inject the region (--aws-default-region or the ServiceAccount's region annotation)
    /// into pods that get no identity too.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    region_all_pods: bool,
    /// Watch the pod-identity-webhook ConfigMap in --namespace for SA → role mappings.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    watch_config_map: bool,
    /// A role-arn annotation without `arn:` is a role name (with path) in the node's account:
    /// `arn:PARTITION:iam::ACCOUNT:role/NAME`, account and partition read at start from the
    /// EC2 instance metadata service (AWS_EC2_METADATA_SERVICE_ENDPOINT overrides).
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
    #[arg(short = 'v', long = "v", default_value = "0", value_parser = klog_level, allow_hyphen_values = true)]
    verbosity: u8,
    /// klog flag, accepted for compatibility (logs always go to stderr).
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    logtostderr: bool,
    /// klog flag, accepted for compatibility.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    alsologtostderr: bool,
    /// klog flag, accepted for compatibility and ignored (logs go to stderr).
    #[arg(long = "log_dir", hide = true)]
    log_dir: Option<String>,
    /// klog flag, accepted for compatibility and ignored (logs go to stderr).
    #[arg(long = "log_file", hide = true)]
    log_file: Option<String>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "log_file_max_size", hide = true, value_parser = go_uint)]
    log_file_max_size: Option<u64>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "legacy_stderr_threshold_behavior", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    legacy_stderr_threshold_behavior: Option<bool>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "add_dir_header", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    add_dir_header: Option<bool>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "skip_headers", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    skip_headers: Option<bool>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "one_output", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    one_output: Option<bool>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "skip_log_headers", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    skip_log_headers: Option<bool>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "stderrthreshold", hide = true, value_parser = klog_severity)]
    stderrthreshold: Option<String>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "alsologtostderrthreshold", hide = true, value_parser = klog_severity)]
    alsologtostderrthreshold: Option<String>,
    /// klog flag, accepted for compatibility and ignored (RUST_LOG filters per module).
    #[arg(long = "vmodule", hide = true, value_parser = klog_vmodule)]
    vmodule: Option<String>,
    /// klog flag, accepted for compatibility and ignored.
    #[arg(long = "log_backtrace_at", hide = true, value_parser = klog_trace_location)]
    log_backtrace_at: Option<String>,
    /// Print the version and exit.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = clap::ArgAction::Set)]
    version: bool,
    /// Words that are not flags: ignored with a warning, as the reference ignores them.
    #[arg(hide = true, num_args = 0..)]
    positional: Vec<String>,
}

impl Args {
    /// What the reference accepts but irsa ignores, as warnings to log at start.
    fn ignored(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .positional
            .iter()
            .map(|w| {
                format!(
                    "ignoring the argument `{w}`: it is not a flag (a boolean flag takes its value as --flag={w})"
                )
            })
            .collect();
        let klog: [(&str, bool); 12] = [
            ("log_dir", self.log_dir.is_some()),
            ("log_file", self.log_file.is_some()),
            ("log_file_max_size", self.log_file_max_size.is_some()),
            (
                "legacy_stderr_threshold_behavior",
                self.legacy_stderr_threshold_behavior.is_some(),
            ),
            ("add_dir_header", self.add_dir_header.is_some()),
            ("skip_headers", self.skip_headers.is_some()),
            ("one_output", self.one_output.is_some()),
            ("skip_log_headers", self.skip_log_headers.is_some()),
            ("stderrthreshold", self.stderrthreshold.is_some()),
            (
                "alsologtostderrthreshold",
                self.alsologtostderrthreshold.is_some(),
            ),
            ("vmodule", self.vmodule.is_some()),
            ("log_backtrace_at", self.log_backtrace_at.is_some()),
        ];
        out.extend(klog.iter().filter(|(_, set)| *set).map(|(name, _)| {
            format!("ignoring the klog flag --{name}: irsa logs to stderr (-v sets the level, RUST_LOG filters)")
        }));
        out
    }
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
    let settings = irsa_mutate::Settings {
        annotation_prefix: a.annotation_prefix,
        token_audience: a.token_audience,
        token_mount_path: a.token_mount_path,
        token_expiration: irsa_mutate::clamp_token_expiration(a.token_expiration),
        aws_default_region: a.aws_default_region,
        sts_regional_endpoint: a.sts_regional_endpoint,
        region_all_pods: a.region_all_pods,
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
        compose_role_arn: a.compose_role_arn,
        imds_endpoint: None,
    })
}

/// Runs the server until it is told to stop; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.version {
        println!("irsa webhook v{}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    crate::common::init_logging(&args.log_format, &log_filter(args.verbosity));
    for warning in args.ignored() {
        tracing::warn!("{warning}");
    }
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
    fn repeated_flags_keep_the_last_value_as_pflag_does() {
        let t = T::try_parse_from([
            "x",
            "--port=1",
            "--port=2",
            "--in-cluster=false",
            "--in-cluster=true",
        ])
        .unwrap();
        assert_eq!(t.a.port, 2);
        assert!(t.a.in_cluster);
        let t =
            T::try_parse_from(["x", "-v=2", "--v=5", "--namespace", "a", "--namespace=b"]).unwrap();
        assert_eq!((t.a.verbosity, t.a.namespace.as_str()), (5, "b"));
    }

    #[test]
    fn positional_words_are_ignored_with_a_warning() {
        // pflag: a boolean flag does not take the next word; `false` is left positional.
        let t = T::try_parse_from(["x", "--in-cluster", "false", "--port=8443"]).unwrap();
        assert!(
            t.a.in_cluster,
            "--in-cluster without = is true, as in pflag"
        );
        assert_eq!(t.a.port, 8443);
        let warnings = t.a.ignored();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("`false`"), "{warnings:?}");
    }

    #[test]
    fn klog_flags_are_accepted_checked_and_ignored() {
        let t = T::try_parse_from([
            "x",
            "--log_dir=/tmp",
            "--log_file=/tmp/x.log",
            "--log_file_max_size=0x10",
            "--legacy_stderr_threshold_behavior=false",
            "--add_dir_header",
            "--skip_headers",
            "--one_output=true",
            "--skip_log_headers",
            "--stderrthreshold=ERROR",
            "--alsologtostderrthreshold=1",
            "--vmodule=server*=3,handler=4",
            "--log_backtrace_at=main.go:42",
            "--logtostderr=false",
            "--alsologtostderr",
        ])
        .unwrap();
        assert_eq!(t.a.ignored().len(), 12, "{:?}", t.a.ignored());
        for bad in [
            "--stderrthreshold=LOUD",
            "--vmodule=server*",
            "--log_backtrace_at=main.go",
            "--log_file_max_size=-1",
            "--skip_headers=yes",
            "-v=0x4",
        ] {
            assert!(T::try_parse_from(["x", bad]).is_err(), "{bad} accepted");
        }
        assert!(T::try_parse_from(["x", "--not-a-flag"]).is_err());
    }

    #[test]
    fn integers_take_go_syntax() {
        for (text, want) in [
            ("443", 443),
            ("0x1bb", 443),
            ("0X1BB", 443),
            ("0o673", 443),
            ("0673", 443),
            ("0b110111011", 443),
            ("4_43", 443),
            ("0x_1bb", 443),
            ("+443", 443),
            ("-5", -5),
            ("0", 0),
        ] {
            assert_eq!(go_int(text), Ok(want), "{text}");
        }
        for text in [
            "",
            "0x",
            "1__0",
            "_1",
            "1_",
            "08",
            "0b2",
            "1e3",
            "0x1g",
            "9223372036854775808",
        ] {
            assert!(go_int(text).is_err(), "{text} accepted");
        }
        let t = T::try_parse_from([
            "x",
            "--port=0x1bb",
            "--metrics-port=017",
            "--token-expiration=0x_e10",
        ])
        .unwrap();
        assert_eq!(
            (t.a.port, t.a.metrics_port, t.a.token_expiration),
            (443, 15, 3600)
        );
        assert!(T::try_parse_from(["x", "--port=65536"]).is_err());
    }

    #[test]
    fn version_takes_a_go_boolean() {
        assert!(
            T::try_parse_from(["x", "--version=true"])
                .unwrap()
                .a
                .version
        );
        assert!(T::try_parse_from(["x", "--version"]).unwrap().a.version);
        assert!(!T::try_parse_from(["x", "--version=0"]).unwrap().a.version);
    }

    #[test]
    fn listens_on_every_address_by_default() {
        let t = T::try_parse_from(["x"]).unwrap();
        assert_eq!(config(t.a).unwrap().listen_address, None);
        let t = T::try_parse_from(["x", "--listen-address=127.0.0.1"]).unwrap();
        assert_eq!(
            config(t.a).unwrap().listen_address,
            Some("127.0.0.1".parse().unwrap())
        );
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
