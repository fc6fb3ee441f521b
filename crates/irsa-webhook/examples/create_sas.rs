//! Creates many IRSA ServiceAccounts in a cluster, concurrently, for benchmarks.
//!
//! Creates namespace `--namespace` (if missing) and ServiceAccounts `sa-FROM` …
//! `sa-(TO-1)` in it, each annotated `eks.amazonaws.com/role-arn:
//! arn:aws:iam::111122223333:role/bench-I`, with `--concurrency` requests in flight. An
//! existing ServiceAccount counts as created, so a run can extend an earlier one. With
//! `--probe NAMESPACE/NAME`, that ServiceAccount (same annotation) is created last.
//!
//! ```text
//! create_sas --kubeconfig FILE [--namespace bench] [--from 0] --to 5000
//!     [--concurrency 64] [--probe zz-probe/last]
//! ```

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let kubeconfig: String = arg(&args, "--kubeconfig")
        .or_else(|| std::env::var("KUBECONFIG").ok())
        .ok_or("--kubeconfig FILE (or KUBECONFIG) is required")?;
    let namespace: String = arg(&args, "--namespace").unwrap_or_else(|| "bench".into());
    let from: u64 = arg(&args, "--from").unwrap_or(0);
    let to: u64 = arg(&args, "--to").ok_or("--to N is required")?;
    let concurrency: usize = arg(&args, "--concurrency").unwrap_or(64);
    let probe: Option<String> = arg(&args, "--probe");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let kc = kube::config::Kubeconfig::read_from(&kubeconfig)?;
            let config = kube::Config::from_custom_kubeconfig(
                kc,
                &kube::config::KubeConfigOptions::default(),
            )
            .await?;
            let client = kube::Client::try_from(config)?;
            let started = Instant::now();
            ensure_namespace(&client, &namespace).await?;
            let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
            let mut results = futures::stream::iter(from..to)
                .map(|i| {
                    let api = api.clone();
                    async move { create(&api, &format!("sa-{i}"), i).await }
                })
                .buffer_unordered(concurrency.max(1));
            let mut created = 0u64;
            while let Some(r) = results.next().await {
                r?;
                created += 1;
            }
            if let Some(probe) = probe {
                let (ns, name) = probe.split_once('/').ok_or("--probe NAMESPACE/NAME")?;
                ensure_namespace(&client, ns).await?;
                create(&Api::namespaced(client.clone(), ns), name, to).await?;
                created += 1;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{created} ServiceAccounts present in {secs:.1} s ({:.0}/s)",
                created as f64 / secs
            );
            Ok(())
        })
}

async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<(), Error> {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.to_string());
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn create(api: &Api<ServiceAccount>, name: &str, i: u64) -> Result<(), Error> {
    let mut sa = ServiceAccount::default();
    sa.metadata.name = Some(name.to_string());
    sa.metadata.annotations = Some(BTreeMap::from([(
        "eks.amazonaws.com/role-arn".to_string(),
        format!("arn:aws:iam::111122223333:role/bench-{i}"),
    )]));
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api.create(&PostParams::default(), &sa).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
            // 429 or a transient failure: back off a little, a bounded number of times
            Err(e) if attempt < 10 => {
                if attempt == 9 {
                    eprintln!("creating {name}: {e} (retrying)");
                }
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => return Err(format!("creating {name}: {e}").into()),
        }
    }
}
