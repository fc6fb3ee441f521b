//! `irsa up`: the whole IRSA chain on 127.0.0.1 in one process — the local OIDC issuer,
//! `irsa sts` and `irsa gateway` (DynamoDB and S3 on one endpoint) — plus a ServiceAccount
//! token file kept fresh, and the environment that points any AWS SDK or the aws CLI at it.
//! With `--pod-identity`, the EKS Pod Identity path instead: `irsa agent` on 127.0.0.1 in
//! front of the EKS Auth API of `irsa sts`, a Pod Identity token (audience
//! `pods.eks.amazonaws.com`) kept fresh, and the container credentials environment.

use anyhow::Context as _;
use clap::Args as ClapArgs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) mod stack;

use stack::{Listen, PodIdentity, Spec, Stack, UpstreamMode};

#[derive(ClapArgs)]
pub struct Args {
    /// Configuration replacing the embedded default: an `irsa sts` configuration with an
    /// `up:` section and the placeholders ${IRSA_ISSUER} / ${IRSA_ISSUER_HOST} (see
    /// --print-default-config).
    #[arg(long, value_name = "FILE", env = "IRSA_UP_CONFIG")]
    config: Option<PathBuf>,
    /// Print the embedded default configuration and exit.
    #[arg(long)]
    print_default_config: bool,
    /// DynamoDB-compatible endpoint the gateway forwards allowed requests to (e.g. DynamoDB
    /// Local at http://127.0.0.1:8000). Its credentials come from
    /// IRSA_GATEWAY_UPSTREAM_ACCESS_KEY_ID / IRSA_GATEWAY_UPSTREAM_SECRET_ACCESS_KEY
    /// (default `local`, which local emulators accept). Without an upstream, allowed calls
    /// are answered `UpstreamNotConfigured`; denials work the same.
    #[arg(long, value_name = "URL", env = "IRSA_UP_DYNAMODB_UPSTREAM")]
    dynamodb_upstream: Option<String>,
    /// S3-compatible endpoint the gateway forwards allowed S3 requests to (path-style).
    /// Its credentials come from IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID /
    /// IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY (or gateway.s3.upstream in --config).
    /// Without one, allowed S3 calls are answered `UpstreamNotConfigured`; denials work
    /// the same.
    #[arg(long, value_name = "URL", env = "IRSA_UP_S3_UPSTREAM")]
    s3_upstream: Option<String>,
    /// Address of the local OIDC issuer (https, with a CA generated at start).
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    issuer_listen: String,
    /// Address of the STS endpoint (AWS_ENDPOINT_URL_STS).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    sts_listen: String,
    /// Address of the gateway (AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_S3).
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    gateway_listen: String,
    /// Serve the EKS Pod Identity path: `irsa agent` on --agent-listen, credentials by the
    /// ServiceAccount's pod identity association (`up.podIdentity` names the cluster), a
    /// token of audience pods.eks.amazonaws.com, and AWS_CONTAINER_CREDENTIALS_FULL_URI /
    /// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE in the printed environment instead of
    /// AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE.
    #[arg(long)]
    pod_identity: bool,
    /// Address of the agent with --pod-identity (AWS_CONTAINER_CREDENTIALS_FULL_URI; the
    /// SDKs take a plain-http FULL_URI only on a loopback or the EKS link-local address).
    #[arg(long, default_value = "127.0.0.1:8082", value_name = "ADDR")]
    agent_listen: String,
    /// Where the signing keys, the issuer's CA, the resolved configuration, the token file
    /// and an `env` file live [default: $XDG_CACHE_HOME/irsa/up or ~/.cache/irsa/up].
    #[arg(long, value_name = "DIR", env = "IRSA_UP_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Log format on stderr: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
    /// Refresh the token this often instead of at 80% of its lifetime (tests).
    #[arg(long, hide = true, value_name = "SECONDS")]
    token_refresh_secs: Option<u64>,
}

fn default_state_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    cache.join("irsa").join("up")
}

/// The environment an SDK needs, in order: the web identity variables (IRSA), or with
/// `pod_identity` the container credentials ones, as the pod identity webhook sets them
/// (the SDKs' chains read web identity before container credentials, so the two are never
/// printed together).
pub(crate) fn environment(
    stack: &Stack,
    token_file: &Path,
    pod_identity: Option<&PodIdentity>,
) -> Vec<(&'static str, String)> {
    let identity = match pod_identity {
        None => [
            ("AWS_ROLE_ARN", stack.up.role_arn.clone()),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                token_file.display().to_string(),
            ),
        ],
        Some(pi) => [
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                pi.credentials_uri.clone(),
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                token_file.display().to_string(),
            ),
        ],
    };
    let [first, second] = identity;
    vec![
        ("AWS_ENDPOINT_URL_STS", stack.sts_url.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.gateway_url.clone()),
        // The same endpoint: the gateway tells the services apart by the credential scope.
        ("AWS_ENDPOINT_URL_S3", stack.gateway_url.clone()),
        first,
        second,
        ("AWS_REGION", stack.config.region.clone()),
        // The aws CLI v1 and boto3 read only this one.
        ("AWS_DEFAULT_REGION", stack.config.region.clone()),
    ]
}

/// Single-quotes a value for POSIX shells.
fn shell_quote(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/:._-+=,@".contains(&b))
    {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// When to mint the next token: at 80% of its lifetime, as kubelet does.
fn refresh_interval(lifetime_secs: i64) -> Duration {
    Duration::from_secs(u64::try_from(lifetime_secs.max(600) * 4 / 5).unwrap_or(2880))
}

/// The ServiceAccount's token (IRSA), or the Pod Identity tokens, written.
fn write_tokens(
    stack: &Stack,
    path: &Path,
    pod_identity: Option<&PodIdentity>,
) -> anyhow::Result<()> {
    match pod_identity {
        Some(pi) => stack.refresh_pod_identity(pi, path),
        None => stack
            .mint(
                &stack.up.service_account,
                &stack.up.audience,
                stack.up.token_expiration_seconds,
                None,
            )
            .and_then(|t| stack::write_private(path, t.as_bytes())),
    }
}

/// Mints the tokens into their files every `every`.
async fn refresh_token(
    stack: &Stack,
    path: &Path,
    pod_identity: Option<&PodIdentity>,
    every: Duration,
    stopping: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => return,
            () = tokio::time::sleep(every) => {}
        }
        match write_tokens(stack, path, pod_identity) {
            Ok(()) => tracing::info!(path = %path.display(), "token refreshed"),
            // Keep the old token (still valid for 20% of its lifetime); retry soon.
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot refresh the token");
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
    }
}

/// Runs until Ctrl-C / SIGTERM; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.print_default_config {
        print!("{}", stack::DEFAULT_CONFIG);
        return Ok(0);
    }
    crate::common::init_logging(
        &args.log_format,
        "warn,irsa_sts=info,irsa_gateway=info,irsa_oidc=info,irsa=info",
    );
    let (text, origin) = config_text(args.config.as_deref())?;
    let state_dir = args.state_dir.clone().unwrap_or_else(default_state_dir);
    let runtime = crate::common::runtime()?;
    runtime.block_on(async move {
        let mut stop = crate::common::Stop::install();
        let mut stack = Stack::start(Spec {
            config_text: &text,
            config_origin: origin,
            config_dir: args.config.as_deref().and_then(Path::parent),
            listen: Listen {
                issuer: args.issuer_listen.clone(),
                sts: args.sts_listen.clone(),
                gateway: args.gateway_listen.clone(),
            },
            state_dir: &state_dir,
            upstream_url: args.dynamodb_upstream.clone(),
            s3_upstream_url: args.s3_upstream.clone(),
        })
        .await?;
        let pod_identity = if args.pod_identity {
            match stack.start_pod_identity(&args.agent_listen).await {
                Ok(pi) => Some(pi),
                Err(e) => {
                    let _ = stack.shutdown(Duration::from_secs(5)).await;
                    return Err(e);
                }
            }
        } else {
            None
        };
        let token_file = token_file(&stack, pod_identity.is_some())?;
        let every = args.token_refresh_secs.map_or_else(
            || refresh_interval(stack.up.token_expiration_seconds),
            |s| Duration::from_secs(s.max(1)),
        );
        write_tokens(&stack, &token_file, pod_identity.as_ref())?;
        announce(&stack, &token_file, pod_identity.as_ref(), every)?;

        let stopping = stack.stopping();
        let outcome = tokio::select! {
            s = stop.wait() => Ok(s),
            () = refresh_token(&stack, &token_file, pod_identity.as_ref(), every, stopping) => Ok("stop"),
            (name, why) = stack.failed() => Err(anyhow::anyhow!("the {name} stopped: {why}")),
        };
        match outcome {
            Ok(sig) => {
                eprintln!("irsa up: {sig}: shutting down");
                stack.shutdown(Duration::from_secs(10)).await?;
                eprintln!("irsa up: stopped");
                Ok(0)
            }
            Err(e) => {
                let _ = stack.shutdown(Duration::from_secs(5)).await;
                Err(e)
            }
        }
    })
}

/// The configuration's text and where it comes from (for messages).
fn config_text(path: Option<&Path>) -> anyhow::Result<(String, String)> {
    Ok(match path {
        Some(p) => (
            std::fs::read_to_string(p).with_context(|| format!("cannot read `{}`", p.display()))?,
            format!("`{}`", p.display()),
        ),
        None => (
            stack::DEFAULT_CONFIG.to_owned(),
            "the embedded default".to_owned(),
        ),
    })
}

/// Where the token is written: the pod identity webhook mounts its token under
/// `pods.eks.amazonaws.com`, the IRSA webhook under `serviceaccount` (the folder is
/// created).
fn token_file(stack: &Stack, pod_identity: bool) -> anyhow::Result<PathBuf> {
    let (dir, file) = if pod_identity {
        ("pods.eks.amazonaws.com", "eks-pod-identity-token")
    } else {
        ("serviceaccount", "token")
    };
    let sa_dir = stack.state_dir.join(dir);
    std::fs::create_dir_all(&sa_dir)
        .with_context(|| format!("cannot create `{}`", sa_dir.display()))?;
    Ok(sa_dir.join(file))
}

/// Writes the environment to `STATE_DIR/env`, prints it as `export` lines on stdout and
/// what runs where on stderr.
fn announce(
    stack: &Stack,
    token_file: &Path,
    pod_identity: Option<&PodIdentity>,
    every: Duration,
) -> anyhow::Result<()> {
    let env = environment(stack, token_file, pod_identity);
    let mut exports = String::new();
    for (k, v) in &env {
        exports.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    let env_file = stack.state_dir.join("env");
    stack::write_private(&env_file, exports.as_bytes())?;
    let upstream = match &stack.upstream {
        UpstreamMode::Url(u) => format!("DynamoDB forwarded to {u}"),
        UpstreamMode::None => {
            "no DynamoDB upstream: allowed calls get UpstreamNotConfigured".to_owned()
        }
    };
    let s3_upstream = match &stack.s3_upstream {
        UpstreamMode::Url(u) => format!("S3 forwarded to {u}"),
        UpstreamMode::None => "no S3 upstream: allowed calls get UpstreamNotConfigured".to_owned(),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "# irsa up: the IRSA chain on this machine. Export these in another shell (or `source {}`):",
            env_file.display()
        )?;
        write!(out, "{exports}")?;
        out.flush()?;
    }
    eprintln!(
        "irsa up: issuer  {} (OIDC provider; CA in {})",
        stack.issuer_url,
        stack.ca_file().display()
    );
    eprintln!("irsa up: sts     {}", stack.sts_url);
    eprintln!(
        "irsa up: gateway {} (DynamoDB and S3; {upstream}; {s3_upstream})",
        stack.gateway_url
    );
    let (audience, role) = match pod_identity {
        Some(pi) => {
            eprintln!(
                "irsa up: agent   {} (EKS Pod Identity, cluster {}, association {})",
                pi.credentials_uri, pi.cluster_name, pi.association_id
            );
            (irsa_sts_core::POD_IDENTITY_AUDIENCE, &pi.role_arn)
        }
        None => (stack.up.audience.as_str(), &stack.up.role_arn),
    };
    eprintln!(
        "irsa up: token   {} for {} (audience {audience}, {} s), refreshed every {} s",
        token_file.display(),
        stack.up.service_account.subject(),
        stack.up.token_expiration_seconds,
        every.as_secs()
    );
    eprintln!(
        "irsa up: role    {role} ; configuration in force: {}",
        stack.state_dir.join("config.yaml").display()
    );
    eprintln!("irsa up: try `aws sts get-caller-identity` with that environment; Ctrl-C stops");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_at_80_percent() {
        assert_eq!(refresh_interval(3600), Duration::from_secs(2880));
        assert_eq!(refresh_interval(86400), Duration::from_secs(69120));
        assert_eq!(refresh_interval(10), Duration::from_secs(480));
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_quote("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
