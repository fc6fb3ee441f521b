//! `irsa agent`: the EKS Pod Identity node agent (the container credentials endpoint,
//! backed by `AssumeRoleForPodIdentity` on `irsa sts`).

use anyhow::Context as _;
use clap::Args as ClapArgs;
use std::time::Duration;

#[derive(ClapArgs)]
pub struct Args {
    /// The cluster this node belongs to (`clusterName` of every AssumeRoleForPodIdentity).
    #[arg(long, env = "IRSA_AGENT_CLUSTER_NAME")]
    cluster_name: String,
    /// Address to serve `/v1/credentials` on (repeatable). Default: the EKS agent's
    /// 169.254.170.23:80 and [fd00:ec2::23]:80 (on the node's network, with the addresses
    /// assigned to a link, as the Helm chart's DaemonSet does).
    #[arg(long, value_name = "ADDR")]
    listen: Vec<String>,
    /// The EKS Auth endpoint (`irsa sts`), e.g. http://irsa-sts.irsa-system:8080. Default:
    /// AWS_ENDPOINT_URL_EKS_AUTH, else AWS's endpoint of the region.
    #[arg(long, env = "IRSA_AGENT_ENDPOINT")]
    endpoint: Option<String>,
    /// Host names a request's Host header may name (repeatable). Default: the hosts of the
    /// listen addresses.
    #[arg(long, value_name = "HOST")]
    allowed_host: Vec<String>,
    /// Distinct tokens whose credentials are cached at most (0: no cache).
    #[arg(long, default_value_t = 2000)]
    max_cache_entries: usize,
    /// Cached credentials are renewed after at most this many seconds.
    #[arg(long, default_value_t = 3 * 3600)]
    max_retention_secs: u64,
    /// Requests handled at once; above it requests are answered 429.
    #[arg(long, default_value_t = 1024)]
    max_concurrency: usize,
    /// Address for `/healthz`, `/readyz` and `/metrics`, e.g. 127.0.0.1:2703; off when not
    /// given.
    #[arg(long)]
    ops_listen: Option<String>,
    /// Log format: json or text.
    #[arg(long, default_value = "json")]
    log_format: String,
}

/// The host part of a listen address (`[fd00:ec2::23]:80` → `fd00:ec2::23`).
fn host_of(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) => a.ip().to_string(),
        Err(_) => listen
            .rsplit_once(':')
            .map_or(listen, |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_owned(),
    }
}

/// Runs the agent until it is told to stop; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    crate::common::init_logging(&args.log_format, "warn,irsa_agent=info,irsa=info");
    if !irsa_sts_core::is_cluster_name(&args.cluster_name) {
        anyhow::bail!(
            "--cluster-name `{}` is not a cluster name (letters, digits, - and _)",
            args.cluster_name
        );
    }
    let listen = if args.listen.is_empty() {
        vec![
            "169.254.170.23:80".to_owned(),
            "[fd00:ec2::23]:80".to_owned(),
        ]
    } else {
        args.listen.clone()
    };
    let allowed_hosts = if args.allowed_host.is_empty() {
        listen.iter().map(|l| host_of(l)).collect()
    } else {
        args.allowed_host.clone()
    };
    let options = irsa_agent::Options {
        cluster_name: args.cluster_name.clone(),
        allowed_hosts,
        max_cache_entries: args.max_cache_entries,
        max_retention: Duration::from_secs(args.max_retention_secs),
        max_concurrency: args.max_concurrency.max(1),
        ..irsa_agent::Options::default()
    };
    let runtime = crate::common::runtime()?;
    runtime.block_on(async move {
        let mut stop = crate::common::Stop::install();
        let client = irsa_agent::default_client(args.endpoint.as_deref()).await;
        let agent = irsa_agent::Agent::new(client, options);
        let health = irsa_server::Health::default();
        if let Some(ops) = &args.ops_listen {
            let l = irsa_server::bind(ops)
                .await
                .with_context(|| format!("cannot listen on `{ops}` (--ops-listen)"))?;
            let router = irsa_server::ops_router(health.clone(), agent.limits().metrics().clone());
            tokio::spawn(irsa_server::serve(
                l,
                router,
                irsa_server::ServeOptions::default(),
                std::future::pending(),
            ));
        }
        let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let mut servers = tokio::task::JoinSet::new();
        for addr in &listen {
            let l = irsa_server::bind(addr)
                .await
                .with_context(|| format!("cannot listen on `{addr}`"))?;
            tracing::info!(listen = %l.local_addr()?, cluster = %args.cluster_name, "irsa agent listening");
            let mut rx = tx.subscribe();
            servers.spawn(irsa_agent::serve(l, agent.clone(), async move {
                let _ = rx.recv().await;
            }));
        }
        tokio::select! {
            sig = stop.wait() => {
                health.shutting_down();
                tracing::info!(signal = sig, "shutting down");
                let _ = tx.send(());
            }
            Some(done) = servers.join_next() => {
                let _ = tx.send(());
                done.context("server task failed")?.context("server failed")?;
            }
        }
        while let Some(done) = servers.join_next().await {
            done.context("server task failed")?.context("server failed")?;
        }
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn listen_hosts() {
        assert_eq!(super::host_of("169.254.170.23:80"), "169.254.170.23");
        assert_eq!(super::host_of("[fd00:ec2::23]:80"), "fd00:ec2::23");
        assert_eq!(super::host_of("localhost:8080"), "localhost");
    }
}
