//! `irsa audit`: who can assume which role, from an IAM export (or an `irsa sts`
//! configuration) and the cluster's ServiceAccounts.

use anyhow::{Context as _, bail};
use clap::{Args as ClapArgs, ValueEnum};
use irsa_audit::{Account, Cluster, Document, OidcProvider, PermissionPolicy, PolicySource, Role};
use irsa_policy::Severity;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Html,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FailOn {
    Info,
    Warning,
    Error,
    Never,
}

/// Where the IAM side and the cluster side come from.
#[derive(ClapArgs)]
pub struct Sources {
    /// `aws iam get-account-authorization-details` output (JSON; documents URL-encoded or
    /// decoded).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sts_config", "aws"], global = true)]
    pub iam_export: Option<PathBuf>,
    /// An `irsa sts` configuration file instead of an IAM export.
    #[arg(long, value_name = "FILE", conflicts_with = "aws", global = true)]
    pub sts_config: Option<PathBuf>,
    /// Read the IAM side from the AWS account of the default credential chain
    /// (AWS_ENDPOINT_URL_IAM is honoured): `irsa doctor` reads the pod's role
    /// (iam:GetRole, …), `irsa audit` the whole account
    /// (iam:GetAccountAuthorizationDetails); both list the OIDC providers.
    #[arg(long, global = true)]
    pub aws: bool,
    /// Kubeconfig file (default: as kubectl finds it: $KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The cluster's issuer URL (default: from the API server's
    /// /.well-known/openid-configuration).
    #[arg(long, global = true)]
    pub issuer: Option<String>,
    /// The token audience of ServiceAccounts without an audience annotation.
    #[arg(long, default_value = irsa_audit::DEFAULT_AUDIENCE, global = true)]
    pub audience: String,
    /// The ServiceAccount annotation prefix.
    #[arg(long, default_value = irsa_audit::DEFAULT_ANNOTATION_PREFIX, global = true)]
    pub annotation_prefix: String,
}

#[derive(ClapArgs)]
pub struct Args {
    #[command(flatten)]
    sources: Sources,
    /// `kubectl get sa -A -o json` output instead of reading the cluster.
    #[arg(long, value_name = "FILE")]
    service_accounts: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when a finding of this severity or worse exists (for CI pipelines).
    #[arg(long, value_enum, default_value = "never")]
    fail_on: FailOn,
}

/// Reads a file of at most `irsa_audit::MAX_INPUT_BYTES`.
pub fn read_bounded(path: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let f =
        std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut s = String::new();
    f.take(irsa_audit::MAX_INPUT_BYTES as u64 + 1)
        .read_to_string(&mut s)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if s.len() > irsa_audit::MAX_INPUT_BYTES {
        bail!(
            "`{}` is larger than {} bytes",
            path.display(),
            irsa_audit::MAX_INPUT_BYTES
        );
    }
    Ok(s)
}

impl Sources {
    /// One IAM side at most. clap cannot see a conflict between a global flag given
    /// before a subcommand and another given after it, so it is checked here too.
    pub fn check(&self) -> anyhow::Result<()> {
        let given = [
            self.iam_export.is_some().then_some("--iam-export"),
            self.sts_config.is_some().then_some("--sts-config"),
            self.aws.then_some("--aws"),
        ];
        let given: Vec<&str> = given.into_iter().flatten().collect();
        if given.len() > 1 {
            bail!("give one IAM side, not {}", given.join(" and "));
        }
        Ok(())
    }
}

/// The IAM side from `--iam-export` or `--sts-config`.
pub fn load_account(s: &Sources) -> anyhow::Result<Option<Account>> {
    s.check()?;
    if let Some(p) = &s.iam_export {
        let text = read_bounded(p)?;
        return Ok(Some(
            Account::from_authorization_details(&text)
                .with_context(|| format!("`{}`", p.display()))?,
        ));
    }
    if let Some(p) = &s.sts_config {
        let text = read_bounded(p)?;
        let config = irsa_sts_core::Config::from_yaml_with(
            &text,
            &irsa_sts_core::ParseOptions {
                allow_insecure_http_issuer: true,
            },
        )
        .with_context(|| format!("`{}`", p.display()))?;
        return Ok(Some(from_sts_config(&config)));
    }
    Ok(None)
}

fn doc(p: &irsa_sts_core::ValidPolicy) -> Document {
    Document {
        text: p.text.to_string(),
        policy: Ok((*p.policy).clone()),
    }
}

/// The roles, customer managed policies and OIDC providers of an `irsa sts` configuration.
pub fn from_sts_config(config: &irsa_sts_core::Config) -> Account {
    let roles = config
        .roles
        .values()
        .map(|r| {
            let mut permissions: Vec<PermissionPolicy> = r
                .policies
                .iter()
                .map(|(name, p)| PermissionPolicy {
                    source: PolicySource::Inline { name: name.clone() },
                    document: Some(doc(p)),
                })
                .collect();
            for arn in &r.managed_policies {
                let m = config.policies.get(arn);
                permissions.push(PermissionPolicy {
                    source: PolicySource::Managed {
                        name: m.map(|m| m.name.clone()).unwrap_or_default(),
                        arn: arn.clone(),
                        version: None,
                    },
                    document: m.map(|m| doc(&m.document)),
                });
            }
            Role {
                name: r.name.clone(),
                path: r.path.clone(),
                arn: r.arn.clone(),
                trust: doc(&r.trust_policy),
                permissions,
                boundary: None,
            }
        })
        .collect();
    let providers = config
        .providers
        .iter()
        .map(|p| OidcProvider {
            arn: p.arn.clone(),
            key_prefix: p.key_prefix.clone(),
            client_ids: p.audiences.clone(),
        })
        .collect();
    Account {
        roles,
        providers: Some(providers),
        source: "irsa sts configuration".into(),
    }
}

/// A kube client configured as kubectl would be (or from `--kubeconfig`).
pub async fn kube_client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(p)
                .with_context(|| format!("cannot read kubeconfig `{}`", p.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?
        }
        None => kube::Config::infer()
            .await
            .context("no cluster: no kubeconfig and not in a pod")?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// GET `path` on the API server as JSON (bounded in time). `Ok(None)` on 404.
pub async fn get_json(client: &kube::Client, path: &str) -> anyhow::Result<Option<Value>> {
    let req = http::Request::get(path).body(Vec::new())?;
    match tokio::time::timeout(Duration::from_secs(15), client.request_text(req)).await {
        Err(_) => bail!("GET {path}: no answer within 15s"),
        Ok(Err(kube::Error::Api(e))) if e.code == 404 => Ok(None),
        Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!("GET {path}"))),
        Ok(Ok(text)) => Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("GET {path}: not JSON"))?,
        )),
    }
}

/// The issuer from the API server's discovery document.
pub async fn cluster_issuer(client: &kube::Client) -> anyhow::Result<String> {
    let doc = get_json(client, "/.well-known/openid-configuration")
        .await?
        .context("the API server serves no /.well-known/openid-configuration")?;
    doc["issuer"]
        .as_str()
        .map(str::to_owned)
        .context("the discovery document has no `issuer`")
}

pub fn run(a: Args) -> anyhow::Result<u8> {
    let account = match load_account(&a.sources)? {
        Some(account) => account,
        None if a.sources.aws => crate::common::runtime()?.block_on(async {
            let iam = crate::doctor::iam::client().await;
            crate::doctor::iam::whole_account(&iam).await
        })?,
        None => bail!("give the IAM side: --aws, --iam-export FILE or --sts-config FILE"),
    };
    let (sas_json, issuer) = match (&a.service_accounts, &a.sources.issuer) {
        (Some(p), Some(i)) => (read_bounded(p)?, i.clone()),
        _ => {
            let rt = crate::common::runtime()?;
            rt.block_on(async {
                let client = kube_client(a.sources.kubeconfig.as_deref()).await?;
                let sas = match &a.service_accounts {
                    Some(p) => read_bounded(p)?,
                    None => get_json(&client, "/api/v1/serviceaccounts")
                        .await?
                        .context("cannot list ServiceAccounts")?
                        .to_string(),
                };
                let issuer = match &a.sources.issuer {
                    Some(i) => i.clone(),
                    None => cluster_issuer(&client).await?,
                };
                anyhow::Ok((sas, issuer))
            })?
        }
    };
    let sas = irsa_audit::parse_service_accounts(&sas_json)?;
    let cluster = Cluster {
        issuer,
        audience: a.sources.audience.clone(),
        annotation_prefix: a.sources.annotation_prefix.clone(),
    };
    let report = irsa_audit::audit(&account, &sas, &cluster);
    let text = match a.format {
        Format::Table => irsa_audit::table(&report),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&irsa_audit::json(&report))?
        ),
        Format::Html => irsa_audit::html(&report),
    };
    match &a.output {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("cannot write `{}`", p.display()))?
        }
        None => print!("{text}"),
    }
    let threshold = match a.fail_on {
        FailOn::Never => None,
        FailOn::Info => Some(Severity::Info),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Error => Some(Severity::Error),
    };
    Ok(match (threshold, report.worst()) {
        (Some(t), Some(w)) if w >= t => 1,
        _ => 0,
    })
}
