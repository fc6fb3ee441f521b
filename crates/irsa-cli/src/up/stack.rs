//! The local IRSA stack that `irsa up` and `irsa demo` run in one process: the OIDC issuer
//! (https, with a CA generated for it), `irsa sts` and `irsa gateway`, each on 127.0.0.1.
//!
//! The issuer is served over TLS so that STS reaches it exactly as it reaches a real
//! cluster's issuer (discovery → JWKS over https, trusting the generated CA through the
//! provider's `caFile`); no `--insecure-allow-http-issuer` shortcut is taken.

use anyhow::{Context as _, bail};
use irsa_jose::{Algorithm, Jwks, SigningKey};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The embedded default configuration.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("default.yaml");

/// The audience of the agent's own web identity token (an STS client id of the provider).
const AGENT_AUDIENCE: &str = "sts.amazonaws.com";

/// Placeholder for the issuer URL in a configuration.
pub(crate) const ISSUER_VAR: &str = "${IRSA_ISSUER}";
/// Placeholder for the issuer URL without `https://`.
pub(crate) const ISSUER_HOST_VAR: &str = "${IRSA_ISSUER_HOST}";

/// `up.serviceAccount`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceAccountRef {
    pub namespace: String,
    pub name: String,
}

impl ServiceAccountRef {
    /// `system:serviceaccount:<ns>:<name>`, the token's `sub`.
    pub fn subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

fn default_audience() -> String {
    "sts.amazonaws.com".into()
}

fn default_lifetime() -> i64 {
    3600
}

/// The `up:` section of a configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UpSection {
    pub service_account: ServiceAccountRef,
    #[serde(default = "default_audience")]
    pub audience: String,
    pub role_arn: String,
    #[serde(default = "default_lifetime")]
    pub token_expiration_seconds: i64,
    /// What `irsa up --pod-identity` serves.
    #[serde(default)]
    pub pod_identity: Option<PodIdentitySection>,
}

fn default_agent_service_account() -> ServiceAccountRef {
    ServiceAccountRef {
        namespace: "kube-system".into(),
        name: "irsa-agent".into(),
    }
}

/// `up.podIdentity`: the cluster whose pod identity association gives the ServiceAccount
/// its role, and the agent's own identity (a web identity of its ServiceAccount, as the
/// agent's DaemonSet has in a cluster).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PodIdentitySection {
    /// One of the configured `clusters` (its issuer is the local issuer).
    pub cluster_name: String,
    /// The role the agent assumes to call `AssumeRoleForPodIdentity`.
    pub agent_role_arn: String,
    /// The agent's ServiceAccount (its web identity token's subject).
    #[serde(default = "default_agent_service_account")]
    pub agent_service_account: ServiceAccountRef,
}

/// Where each server listens (`host:port`; port 0 picks a free one).
#[derive(Debug, Clone)]
pub(crate) struct Listen {
    pub issuer: String,
    pub sts: String,
    pub gateway: String,
}

/// What to start.
pub(crate) struct Spec<'a> {
    /// The configuration text (placeholders not yet expanded).
    pub config_text: &'a str,
    /// Where it came from, for messages (`the embedded default`, a path).
    pub config_origin: String,
    /// What relative file names in it resolve against (the file's folder; the state
    /// directory for the embedded default).
    pub config_dir: Option<&'a Path>,
    pub listen: Listen,
    /// Keys, the token file, the CA and the resolved configuration live here.
    pub state_dir: &'a Path,
    /// `--dynamodb-upstream`, overriding `gateway.upstream.url`.
    pub upstream_url: Option<String>,
    /// `--s3-upstream`, overriding `gateway.s3.upstream.url`.
    pub s3_upstream_url: Option<String>,
}

/// How the gateway reaches DynamoDB (or S3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpstreamMode {
    /// Allowed requests are forwarded to this URL.
    Url(String),
    /// No upstream: allowed requests are answered [`NO_UPSTREAM_CODE`].
    None,
}

/// The error code allowed requests get when no upstream is configured.
pub(crate) const NO_UPSTREAM_CODE: &str = irsa_gateway::UPSTREAM_NOT_CONFIGURED;
/// Added to its message: how to give one.
const NO_UPSTREAM_HINT: &str = "start with --dynamodb-upstream URL";
/// The same for S3.
const NO_S3_UPSTREAM_HINT: &str = "start with --s3-upstream URL";

/// The running stack.
pub(crate) struct Stack {
    pub issuer_url: String,
    pub sts_url: String,
    pub gateway_url: String,
    pub up: UpSection,
    /// The validated STS configuration in force.
    pub config: irsa_sts_core::Config,
    pub upstream: UpstreamMode,
    /// The credentials the gateway signs upstream requests with (with an upstream).
    pub upstream_credentials: Option<irsa_gateway::UpstreamCredentials>,
    /// How the gateway reaches S3 (same endpoint as DynamoDB, told apart by the
    /// credential scope).
    pub s3_upstream: UpstreamMode,
    /// The credentials the gateway signs S3 upstream requests with (with an S3 upstream).
    pub s3_upstream_credentials: Option<irsa_gateway::UpstreamCredentials>,
    pub ca_pem: String,
    pub state_dir: PathBuf,
    signing_key: SigningKey,
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
    failures: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    /// Where servers started later report an early stop.
    fail_tx: Failures,
}

/// The EKS Pod Identity path of a stack: `irsa agent` on 127.0.0.1 in front of the
/// stack's EKS Auth API (`irsa sts`).
#[derive(Debug, Clone)]
pub(crate) struct PodIdentity {
    /// `http://127.0.0.1:PORT/v1/credentials` (AWS_CONTAINER_CREDENTIALS_FULL_URI).
    pub credentials_uri: String,
    /// The cluster (`clusterName` of the agent's calls).
    pub cluster_name: String,
    /// The role the ServiceAccount's association names.
    pub role_arn: String,
    /// The association's id.
    pub association_id: String,
    /// The pod the token is bound to (name, uid): the session tags name it.
    pub pod: (String, String),
    /// The agent's web identity token file.
    pub agent_token_file: PathBuf,
}

type Failures = mpsc::UnboundedSender<(String, String)>;

/// Spawns a server; if it ends before shutdown was asked for, reports it on `failures`.
fn spawn_server(
    name: &'static str,
    server: impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    stop: watch::Receiver<bool>,
    failures: Failures,
) -> (&'static str, JoinHandle<anyhow::Result<()>>) {
    let task = tokio::spawn(async move {
        let r = server.await;
        if !*stop.borrow() {
            let why = match &r {
                Ok(()) => "stopped".to_owned(),
                Err(e) => format!("{e:#}"),
            };
            let _ = failures.send((name.to_owned(), why));
        }
        r
    });
    (name, task)
}

const SIGNING_KEY_FILE: &str = "issuer-signing.key";
const MASTER_KEY_FILE: &str = "sts-master.key";
const CA_FILE: &str = "issuer-ca.pem";
const RESOLVED_CONFIG_FILE: &str = "config.yaml";

/// Writes `contents` to `path` atomically (temporary file in the same folder, then rename),
/// readable only by the owner.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot write `{}`", tmp.display()))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write `{}`", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename `{}` to `{}`", tmp.display(), path.display()))?;
    Ok(())
}

fn create_dir_private(dir: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
        .with_context(|| format!("cannot create `{}`", dir.display()))
}

/// The service-account signing key of the issuer: reused from the state directory so tokens
/// and sessions survive a restart, generated (RS256, as kube-apiserver) otherwise.
fn signing_key(state_dir: &Path) -> anyhow::Result<SigningKey> {
    let path = state_dir.join(SIGNING_KEY_FILE);
    if path.exists() {
        let pem = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        return SigningKey::from_pem(&pem)
            .with_context(|| format!("`{}` is not a signing key", path.display()));
    }
    let key = SigningKey::generate(Algorithm::RS256).context("cannot generate a signing key")?;
    write_private(&path, key.to_pkcs8_pem()?.as_bytes())?;
    Ok(key)
}

/// The STS master key file (sealing session tokens; the gateway opens them with it).
fn master_key(state_dir: &Path) -> anyhow::Result<PathBuf> {
    use irsa_sts_core::MasterKey;
    let path = state_dir.join(MASTER_KEY_FILE);
    if path.exists() {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        if MasterKey::from_file_contents(&bytes).is_ok() {
            return Ok(path);
        }
        eprintln!(
            "irsa: `{}` is not a master key; generating a new one",
            path.display()
        );
    }
    let key = MasterKey::generate(&mut rand::rngs::OsRng);
    write_private(&path, format!("{}\n", key.to_hex()).as_bytes())?;
    Ok(path)
}

/// A CA and a leaf certificate for 127.0.0.1 / localhost signed by it: (CA PEM, leaf PEM,
/// leaf key PEM).
fn issuer_tls(ip: std::net::IpAddr) -> anyhow::Result<(String, String, String)> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().context("cannot generate the CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "irsa up local issuer CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().context("cannot generate the issuer's TLS key")?;
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !ip.is_loopback() && !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "irsa up local issuer");
    leaf.is_ca = IsCa::ExplicitNoCa;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
    Ok((ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem()))
}

fn host_of(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    SocketAddr::new(ip, addr.port()).to_string()
}

async fn bind(what: &str, addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on `{addr}` for the {what}"))
}

/// The parts of a configuration: the STS configuration text (what `irsa sts` reads), the
/// `up:` section and the `gateway:` section.
pub(crate) struct Resolved {
    pub sts_text: String,
    pub up: UpSection,
    pub gateway: irsa_gateway::GatewaySection,
}

/// Expands the placeholders, splits off `up:` and `gateway:`, and fills in `signingKeys`
/// and the local provider's `caFile` when absent.
pub(crate) fn resolve_config(
    text: &str,
    issuer_url: &str,
    master_key_file: &Path,
    ca_file: &Path,
) -> anyhow::Result<Resolved> {
    let host = issuer_url.trim_start_matches("https://");
    let expanded = text
        .replace(ISSUER_HOST_VAR, host)
        .replace(ISSUER_VAR, issuer_url);
    let mut value: Value = irsa_sts_core::from_yaml_str(&expanded)
        .map_err(|e| anyhow::anyhow!("the configuration is not YAML: {e}"))?;
    let Some(map) = value.as_object_mut() else {
        bail!("the configuration must be a mapping");
    };
    let up: UpSection = match map.remove("up") {
        Some(v) => serde_json::from_value(v).map_err(|e| anyhow::anyhow!("up: {e}"))?,
        None => bail!(
            "up: missing: name the ServiceAccount and role (see `irsa up --print-default-config`)"
        ),
    };
    let gateway: irsa_gateway::GatewaySection = match map.remove("gateway") {
        Some(v) => serde_json::from_value(v).map_err(|e| anyhow::anyhow!("gateway: {e}"))?,
        None => irsa_gateway::GatewaySection::default(),
    };
    let key_path = master_key_file.display().to_string();
    if map
        .get("signingKeys")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        map.insert("signingKeys".into(), json!([{ "file": key_path }]));
    }
    for section in ["providers", "clusters"] {
        let Some(list) = map.get_mut(section).and_then(Value::as_array_mut) else {
            continue;
        };
        for p in list.iter_mut().filter_map(Value::as_object_mut) {
            let local = p.get("issuer").and_then(Value::as_str) == Some(issuer_url);
            if local && !p.contains_key("caFile") && !p.contains_key("jwksFile") {
                p.insert("caFile".into(), ca_file.display().to_string().into());
            }
        }
    }
    if up.token_expiration_seconds < 600 {
        bail!(
            "up.tokenExpirationSeconds: {} is below 600 (kubelet's minimum)",
            up.token_expiration_seconds
        );
    }
    for (field, v) in [
        ("up.serviceAccount.namespace", &up.service_account.namespace),
        ("up.serviceAccount.name", &up.service_account.name),
        ("up.audience", &up.audience),
    ] {
        if v.is_empty() || (field != "up.audience" && v.contains(':')) {
            bail!("{field}: `{v}` must be a non-empty name without `:`");
        }
    }
    Ok(Resolved {
        sts_text: serde_saphyr::to_string(&value)?,
        up,
        gateway,
    })
}

/// Claims of a projected ServiceAccount token, as kube-apiserver writes them.
pub(crate) fn token_claims(
    issuer: &str,
    sa: &ServiceAccountRef,
    audience: &str,
    lifetime: i64,
    now: i64,
    pod: Option<(&str, &str)>,
) -> Map<String, Value> {
    let mut k8s = Map::new();
    k8s.insert("namespace".into(), json!(sa.namespace));
    if let Some((name, uid)) = pod {
        k8s.insert("pod".into(), json!({"name": name, "uid": uid}));
    }
    k8s.insert(
        "serviceaccount".into(),
        json!({"name": sa.name, "uid": uuid::Uuid::new_v4().to_string()}),
    );
    let mut claims = Map::new();
    claims.insert("aud".into(), json!([audience]));
    claims.insert("exp".into(), json!(now.saturating_add(lifetime)));
    claims.insert("iat".into(), json!(now));
    claims.insert("iss".into(), json!(issuer));
    claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    claims.insert("kubernetes.io".into(), Value::Object(k8s));
    claims.insert("nbf".into(), json!(now));
    claims.insert("sub".into(), json!(sa.subject()));
    claims
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Stack {
    /// Starts the issuer, STS and the gateway. Errors name what could not be set up.
    pub async fn start(spec: Spec<'_>) -> anyhow::Result<Stack> {
        create_dir_private(spec.state_dir)?;
        let state_dir = spec
            .state_dir
            .canonicalize()
            .with_context(|| format!("cannot resolve `{}`", spec.state_dir.display()))?;
        let base_dir = match spec.config_dir {
            Some(d) if d.as_os_str().is_empty() => PathBuf::from("."),
            Some(d) => d.to_owned(),
            None => state_dir.clone(),
        };
        let key = signing_key(&state_dir)?;
        let master = master_key(&state_dir)?;
        let (stop, stop_rx) = watch::channel(false);
        let (fail_tx, fail_rx) = mpsc::unbounded_channel();
        let mut launcher = Launcher {
            stop: stop_rx,
            failures: fail_tx.clone(),
            tasks: Vec::new(),
        };

        // 1. The issuer, over https with a CA of its own.
        let (issuer_url, ca_pem, ca_path) =
            start_issuer(&mut launcher, &spec, &state_dir, &key).await?;
        // 2. The configuration.
        let (resolved, config) = load_config(&spec, &issuer_url, &master, &ca_path, &state_dir)?;
        // 3. STS.
        let sts_url = start_sts(&mut launcher, &spec, &resolved, &base_dir).await?;
        // 4. The gateway and its upstreams (DynamoDB and S3, one endpoint). Without one,
        //    the gateway answers allowed requests `UpstreamNotConfigured` itself (and
        //    denies by policy as ever).
        let (gateway_upstream, upstream, upstream_credentials) =
            gateway_upstream(&spec, &resolved, &config, &base_dir)?;
        let (s3_gateway_upstream, s3_upstream, s3_upstream_credentials) =
            s3_upstream(&spec, &resolved, &config, &base_dir)?;
        let s3 = resolved
            .gateway
            .s3
            .validate()
            .with_context(|| format!("invalid configuration ({})", spec.config_origin))?;
        let gateway_url = start_gateway(
            &mut launcher,
            &spec,
            (&config, s3),
            &base_dir,
            (gateway_upstream, s3_gateway_upstream),
        )
        .await?;

        Ok(Stack {
            issuer_url,
            sts_url,
            gateway_url,
            up: resolved.up,
            config,
            upstream,
            upstream_credentials,
            s3_upstream,
            s3_upstream_credentials,
            ca_pem,
            state_dir,
            signing_key: key,
            stop,
            tasks: launcher.tasks,
            failures: tokio::sync::Mutex::new(fail_rx),
            fail_tx,
        })
    }

    /// Starts `irsa agent` on `listen` for the Pod Identity path (`up.podIdentity`): the
    /// cluster and the ServiceAccount's association must be configured. The agent's own
    /// credentials come from `irsa sts` through the web identity of its ServiceAccount (a
    /// token kept in `agent/token` of the state directory; [`Stack::refresh_pod_identity`]
    /// renews it), as its IRSA ServiceAccount gives them in a cluster.
    pub async fn start_pod_identity(&mut self, listen: &str) -> anyhow::Result<PodIdentity> {
        let pi = self.pod_identity_section()?.clone();
        let sa = &self.up.service_account;
        let assoc = self
            .config
            .association(&pi.cluster_name, &sa.namespace, &sa.name)
            .with_context(|| {
                format!(
                    "up.serviceAccount {}/{} has no pod identity association in cluster `{}`: add one under podIdentityAssociations",
                    sa.namespace, sa.name, pi.cluster_name
                )
            })?
            .clone();
        let dir = self.state_dir.join("agent");
        create_dir_private(&dir)?;
        let agent_token_file = dir.join("token");
        let token = self.mint(
            &pi.agent_service_account,
            AGENT_AUDIENCE,
            self.up.token_expiration_seconds,
            None,
        )?;
        write_private(&agent_token_file, token.as_bytes())?;
        let sdk = agent_sdk_config(
            &agent_token_file,
            &pi.agent_role_arn,
            &self.sts_url,
            &self.config.region,
        );
        let client = irsa_agent::client(&sdk, Some(&self.sts_url));
        let listener = bind("agent", listen).await?;
        let addr = listener.local_addr()?;
        let host = host_of(addr);
        // The Host an SDK sends is the FULL_URI's host: the address printed.
        let ip = if addr.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            addr.ip()
        };
        let mut allowed_hosts = vec![ip.to_string()];
        if addr.ip().is_loopback() || addr.ip().is_unspecified() {
            allowed_hosts.push("localhost".into());
        }
        let agent = irsa_agent::Agent::new(
            client,
            irsa_agent::Options {
                cluster_name: pi.cluster_name.clone(),
                allowed_hosts,
                ..irsa_agent::Options::default()
            },
        );
        let mut rx = self.stop.subscribe();
        let task = spawn_server(
            "agent",
            async move {
                irsa_agent::serve(listener, agent, async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await
                .context("agent")
            },
            self.stop.subscribe(),
            self.fail_tx.clone(),
        );
        self.tasks.push(task);
        Ok(PodIdentity {
            credentials_uri: format!("http://{host}{}", irsa_agent::CREDENTIALS_PATH),
            cluster_name: pi.cluster_name,
            role_arn: assoc.role_arn,
            association_id: assoc.id,
            pod: (
                format!("{}-irsa-up", sa.name),
                uuid::Uuid::new_v4().to_string(),
            ),
            agent_token_file,
        })
    }

    /// `up.podIdentity`, or why `--pod-identity` cannot run without it.
    fn pod_identity_section(&self) -> anyhow::Result<&PodIdentitySection> {
        let pi = self.up.pod_identity.as_ref().context(
            "--pod-identity needs up.podIdentity (clusterName, agentRoleArn) in the configuration (see `irsa up --print-default-config`)",
        )?;
        let cluster = self.config.cluster(&pi.cluster_name).with_context(|| {
            format!(
                "up.podIdentity.clusterName: `{}` is not one of the configured clusters",
                pi.cluster_name
            )
        })?;
        if cluster.issuer != self.issuer_url {
            bail!(
                "up.podIdentity.clusterName: cluster `{}` has issuer `{}`, not the local issuer (use `issuer: {ISSUER_VAR}`)",
                pi.cluster_name,
                cluster.issuer
            );
        }
        if self.config.role(&pi.agent_role_arn).is_none() {
            bail!(
                "up.podIdentity.agentRoleArn: `{}` is not one of the configured roles",
                pi.agent_role_arn
            );
        }
        Ok(pi)
    }

    /// Mints the agent's web identity token and the pod's Pod Identity token (audience
    /// `pods.eks.amazonaws.com`, bound to the pod) into their files.
    pub fn refresh_pod_identity(&self, pi: &PodIdentity, token_file: &Path) -> anyhow::Result<()> {
        let section = self.pod_identity_section()?;
        let lifetime = self.up.token_expiration_seconds;
        let agent = self.mint(
            &section.agent_service_account,
            AGENT_AUDIENCE,
            lifetime,
            None,
        )?;
        write_private(&pi.agent_token_file, agent.as_bytes())?;
        let pod = self.mint(
            &self.up.service_account,
            irsa_sts_core::POD_IDENTITY_AUDIENCE,
            lifetime,
            Some((&pi.pod.0, &pi.pod.1)),
        )?;
        write_private(token_file, pod.as_bytes())
    }

    /// A projected ServiceAccount token signed by the issuer.
    pub fn mint(
        &self,
        sa: &ServiceAccountRef,
        audience: &str,
        lifetime: i64,
        pod: Option<(&str, &str)>,
    ) -> anyhow::Result<String> {
        let claims = token_claims(&self.issuer_url, sa, audience, lifetime, unix_now(), pod);
        Ok(self.signing_key.sign_jwt(&Map::new(), &claims)?)
    }

    /// The issuer's key id.
    pub fn kid(&self) -> &str {
        self.signing_key.kid()
    }

    /// Resolves when [`Stack::shutdown`] starts.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.subscribe();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    }

    /// The state directory's file holding the generated issuer CA.
    pub fn ca_file(&self) -> PathBuf {
        self.state_dir.join(CA_FILE)
    }

    /// Stops every server (in-flight requests finish), waiting at most `within`.
    pub async fn shutdown(self, within: Duration) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let mut failures = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        for (name, task) in self.tasks {
            match tokio::time::timeout_at(deadline, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => failures.push(format!("{name}: {e:#}")),
                Ok(Err(e)) => failures.push(format!("{name}: {e}")),
                Err(_) => failures.push(format!("{name}: did not stop within {within:?}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("; "))
        }
    }

    /// Resolves when a server stops on its own (not through [`Stack::shutdown`]): its name
    /// and why.
    pub async fn failed(&self) -> (String, String) {
        let mut rx = self.failures.lock().await;
        match rx.recv().await {
            Some(x) => x,
            None => std::future::pending().await,
        }
    }
}

/// The agent's own credentials: `AssumeRoleWithWebIdentity` on `irsa sts` with the token
/// file as it holds it at each call (the SDK's identity cache keeps the credentials until
/// they are due), as the default chain does for a DaemonSet pod with an IRSA
/// ServiceAccount.
#[derive(Debug)]
struct AgentIdentity {
    sts: aws_sdk_sts::Client,
    token_file: PathBuf,
    role_arn: String,
}

impl AgentIdentity {
    async fn fetch(&self) -> aws_credential_types::provider::Result {
        use aws_credential_types::provider::error::CredentialsError;
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| {
            CredentialsError::provider_error(format!("the agent's token file: {e}"))
        })?;
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name("irsa-up-agent")
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|e| {
                CredentialsError::provider_error(format!(
                    "AssumeRoleWithWebIdentity for the agent: {}",
                    aws_sdk_sts::error::DisplayErrorContext(&e)
                ))
            })?;
        let c = out
            .credentials()
            .ok_or_else(|| CredentialsError::provider_error("STS answered no credentials"))?;
        let expiry = std::time::SystemTime::try_from(*c.expiration())
            .map_err(|_| CredentialsError::provider_error("STS answered a bad expiration"))?;
        Ok(aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            Some(expiry),
            "irsa-up-agent",
        ))
    }
}

impl aws_credential_types::provider::ProvideCredentials for AgentIdentity {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(self.fetch())
    }
}

/// The agent's SDK configuration: credentials by the web identity of its ServiceAccount
/// through `sts_url`, in the stack's region.
fn agent_sdk_config(
    token_file: &Path,
    role_arn: &str,
    sts_url: &str,
    region: &str,
) -> aws_config::SdkConfig {
    let region = aws_config::Region::new(region.to_owned());
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(region.clone())
            .endpoint_url(sts_url)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build(),
    );
    let identity = AgentIdentity {
        sts,
        token_file: token_file.to_owned(),
        role_arn: role_arn.to_owned(),
    };
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(region)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(identity),
        )
        .build()
}

/// Starts the servers of a stack, each told to stop by one signal, each reporting a stop
/// of its own.
struct Launcher {
    stop: watch::Receiver<bool>,
    failures: Failures,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Launcher {
    /// Resolves when the stack stops.
    fn shutdown(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    }

    fn spawn(
        &mut self,
        name: &'static str,
        server: impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.tasks.push(spawn_server(
            name,
            server,
            self.stop.clone(),
            self.failures.clone(),
        ));
    }
}

/// The issuer over https with a CA of its own: its URL, the CA (PEM) and the CA's file.
async fn start_issuer(
    launcher: &mut Launcher,
    spec: &Spec<'_>,
    state_dir: &Path,
    key: &SigningKey,
) -> anyhow::Result<(String, String, PathBuf)> {
    let issuer_listener = bind("issuer", &spec.listen.issuer).await?;
    let issuer_addr = issuer_listener.local_addr()?;
    let issuer_url = format!("https://{}", host_of(issuer_addr));
    let (ca_pem, leaf_pem, leaf_key_pem) = issuer_tls(issuer_addr.ip())?;
    let ca_path = state_dir.join(CA_FILE);
    write_private(&ca_path, ca_pem.as_bytes())?;
    let jwks = Jwks {
        keys: vec![key.public_jwk()?],
    };
    let state = irsa_oidc::IssuerState::new(&issuer_url, &jwks, 3600)
        .map_err(|e| anyhow::anyhow!("cannot serve the issuer `{issuer_url}`: {e}"))?;
    let tls = irsa_oidc::server_tls_config(leaf_pem.as_bytes(), leaf_key_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("issuer tls: {e}"))?;
    let sd = launcher.shutdown();
    launcher.spawn("issuer", async move {
        irsa_oidc::serve(issuer_listener, irsa_oidc::router(state), Some(tls), sd)
            .await
            .map_err(|e| anyhow::anyhow!("issuer: {e}"))
    });
    Ok((issuer_url, ca_pem, ca_path))
}

/// The configuration, resolved for this stack, checked and written to the state directory.
fn load_config(
    spec: &Spec<'_>,
    issuer_url: &str,
    master: &Path,
    ca_path: &Path,
    state_dir: &Path,
) -> anyhow::Result<(Resolved, irsa_sts_core::Config)> {
    let resolved = resolve_config(spec.config_text, issuer_url, master, ca_path)
        .with_context(|| format!("invalid configuration ({})", spec.config_origin))?;
    let config = irsa_sts_core::Config::from_yaml(&resolved.sts_text)
        .with_context(|| format!("invalid configuration ({})", spec.config_origin))?;
    if config.role(&resolved.up.role_arn).is_none() {
        bail!(
            "invalid configuration ({}): up.roleArn: `{}` is not one of the configured roles",
            spec.config_origin,
            resolved.up.role_arn
        );
    }
    if config.provider(issuer_url).is_none() {
        eprintln!(
            "irsa: warning: the local issuer `{issuer_url}` is not a registered provider (use `issuer: {ISSUER_VAR}` under providers): STS will refuse its tokens"
        );
    }
    let mut resolved_file = String::from(
        "# The configuration `irsa up` runs with (placeholders expanded, keys filled in).\n",
    );
    resolved_file.push_str(&resolved.sts_text);
    write_private(
        &state_dir.join(RESOLVED_CONFIG_FILE),
        resolved_file.as_bytes(),
    )?;
    Ok((resolved, config))
}

/// STS on its listener: its URL.
async fn start_sts(
    launcher: &mut Launcher,
    spec: &Spec<'_>,
    resolved: &Resolved,
    base_dir: &Path,
) -> anyhow::Result<String> {
    let sts = irsa_sts::Server::new(&resolved.sts_text, base_dir, irsa_sts::Options::default())
        .with_context(|| format!("cannot start sts ({})", spec.config_origin))?;
    let sts_listener = bind("sts endpoint", &spec.listen.sts).await?;
    let sts_url = format!("http://{}", host_of(sts_listener.local_addr()?));
    let sd = launcher.shutdown();
    launcher.spawn("sts", async move {
        irsa_sts::serve(sts_listener, sts, sd).await.context("sts")
    });
    Ok(sts_url)
}

/// An upstream, its mode and its credentials, as the gateway is started with it.
type UpstreamSetup = (
    Option<irsa_gateway::Upstream>,
    UpstreamMode,
    Option<irsa_gateway::UpstreamCredentials>,
);

/// An upstream section of the configuration overridden by the command line's `url` and
/// the environment's `{env}_ACCESS_KEY_ID`, `{env}_SECRET_ACCESS_KEY` and
/// `{env}_SESSION_TOKEN`.
fn overridden(
    section: &irsa_gateway::UpstreamSection,
    url: Option<String>,
    env: &str,
) -> irsa_gateway::UpstreamSection {
    section
        .clone()
        .overridden_by(irsa_gateway::UpstreamSection {
            url,
            access_key_id: crate::common::non_empty_env(&format!("{env}_ACCESS_KEY_ID")),
            secret_access_key: crate::common::non_empty_env(&format!("{env}_SECRET_ACCESS_KEY")),
            session_token: crate::common::non_empty_env(&format!("{env}_SESSION_TOKEN")),
            ..irsa_gateway::UpstreamSection::default()
        })
}

/// The gateway's upstream: the configuration's, overridden by the command line and the
/// environment; local credentials for DynamoDB Local and dynalite when none are given.
fn gateway_upstream(
    spec: &Spec<'_>,
    resolved: &Resolved,
    config: &irsa_sts_core::Config,
    base_dir: &Path,
) -> anyhow::Result<UpstreamSetup> {
    let section = overridden(
        &resolved.gateway.upstream,
        spec.upstream_url.clone(),
        "IRSA_GATEWAY_UPSTREAM",
    );
    Ok(match section.url.clone() {
        Some(url) => {
            let section = irsa_gateway::UpstreamSection {
                // DynamoDB Local and dynalite accept any credentials.
                access_key_id: section.access_key_id.clone().or(Some("local".into())),
                secret_access_key: if section.secret_access_key.is_none()
                    && section.secret_access_key_file.is_none()
                {
                    Some("local".into())
                } else {
                    section.secret_access_key.clone()
                },
                ..section
            };
            let settings = section
                .settings(config, base_dir, Duration::from_secs(30))
                .context("gateway upstream")?;
            let credentials = settings.credentials.clone();
            (
                Some(irsa_gateway::Upstream::new(settings).context("gateway upstream")?),
                UpstreamMode::Url(url),
                Some(credentials),
            )
        }
        None => (None, UpstreamMode::None, None),
    })
}

/// The S3 upstream: `gateway.s3.upstream`, overridden by `--s3-upstream` and the
/// environment (`IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID`, `…_SECRET_ACCESS_KEY`,
/// `…_SESSION_TOKEN`). S3 servers check credentials, so there is no default for them.
fn s3_upstream(
    spec: &Spec<'_>,
    resolved: &Resolved,
    config: &irsa_sts_core::Config,
    base_dir: &Path,
) -> anyhow::Result<UpstreamSetup> {
    let section = overridden(
        &resolved.gateway.s3.upstream,
        spec.s3_upstream_url.clone(),
        "IRSA_GATEWAY_S3_UPSTREAM",
    );
    let Some(url) = section.url.clone() else {
        return Ok((None, UpstreamMode::None, None));
    };
    if section.access_key_id.is_none()
        || (section.secret_access_key.is_none() && section.secret_access_key_file.is_none())
    {
        bail!(
            "the S3 upstream `{url}` needs its credentials: set IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID and IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY (or gateway.s3.upstream in the configuration)"
        );
    }
    let settings = section
        .settings(config, base_dir, Duration::from_secs(30))
        .map_err(|e| anyhow::anyhow!("gateway S3 upstream: {e}"))?;
    let credentials = settings.credentials.clone();
    Ok((
        Some(
            irsa_gateway::Upstream::for_service(settings, irsa_gateway::Service::S3)
                .context("gateway S3 upstream")?,
        ),
        UpstreamMode::Url(url),
        Some(credentials),
    ))
}

/// The gateway on its listener: its URL.
async fn start_gateway(
    launcher: &mut Launcher,
    spec: &Spec<'_>,
    (config, s3): (&irsa_sts_core::Config, irsa_gateway::S3Config),
    base_dir: &Path,
    (gateway_upstream, s3_upstream): (
        Option<irsa_gateway::Upstream>,
        Option<irsa_gateway::Upstream>,
    ),
) -> anyhow::Result<String> {
    let ring = irsa_gateway::key_ring(config, base_dir).context("gateway")?;
    let gateway = irsa_gateway::Gateway::with_upstreams(
        irsa_gateway::Snapshot::new(config.clone(), ring).with_s3(s3),
        gateway_upstream,
        s3_upstream,
        irsa_gateway::Options {
            no_upstream_hint: Some(NO_UPSTREAM_HINT.to_owned()),
            no_s3_upstream_hint: Some(NO_S3_UPSTREAM_HINT.to_owned()),
            ..irsa_gateway::Options::default()
        },
    );
    let gw_listener = bind("gateway", &spec.listen.gateway).await?;
    let gateway_url = format!("http://{}", host_of(gw_listener.local_addr()?));
    let sd = launcher.shutdown();
    launcher.spawn("gateway", async move {
        irsa_gateway::serve(gw_listener, gateway, sd)
            .await
            .context("gateway")
    });
    Ok(gateway_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_resolves_and_validates() {
        let r = resolve_config(
            DEFAULT_CONFIG,
            "https://127.0.0.1:8443",
            Path::new("/state/sts-master.key"),
            Path::new("/state/issuer-ca.pem"),
        )
        .unwrap();
        assert_eq!(
            r.up.service_account.subject(),
            "system:serviceaccount:default:my-serviceaccount"
        );
        assert_eq!(r.up.audience, "sts.amazonaws.com");
        let c = irsa_sts_core::Config::from_yaml(&r.sts_text).unwrap();
        let p = c.provider("https://127.0.0.1:8443").unwrap();
        assert_eq!(
            p.ca_file.as_deref(),
            Some(Path::new("/state/issuer-ca.pem"))
        );
        assert_eq!(c.signing_keys, vec![PathBuf::from("/state/sts-master.key")]);
        let role = c.role(&r.up.role_arn).unwrap();
        assert_eq!(role.name, "allow-read");
        assert!(!r.sts_text.contains("${"));
        assert!(r.sts_text.contains("127.0.0.1:8443:sub"));
        assert_eq!(r.gateway, irsa_gateway::GatewaySection::default());
        // --pod-identity: the local cluster (its issuer trusted by the same CA), the
        // ServiceAccount's association, the agent's role, the service principal trusted.
        let pi = r.up.pod_identity.as_ref().unwrap();
        let cluster = c.cluster(&pi.cluster_name).unwrap();
        assert_eq!(cluster.issuer, "https://127.0.0.1:8443");
        assert_eq!(
            cluster.ca_file.as_deref(),
            Some(Path::new("/state/issuer-ca.pem"))
        );
        let a = c
            .association("local", "default", "my-serviceaccount")
            .unwrap();
        assert_eq!(a.role_arn, r.up.role_arn);
        assert!(c.role(&pi.agent_role_arn).is_some());
        assert_eq!(
            pi.agent_service_account.subject(),
            "system:serviceaccount:kube-system:irsa-agent"
        );
        assert!(r.sts_text.contains("pods.eks.amazonaws.com"));
    }

    #[test]
    fn config_errors_name_the_field() {
        let e = resolve_config("account: x\n", "https://h", Path::new("k"), Path::new("c"))
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("up: missing"), "{e}");
        let text =
            DEFAULT_CONFIG.replace("tokenExpirationSeconds: 3600", "tokenExpirationSeconds: 60");
        let e = resolve_config(&text, "https://h", Path::new("k"), Path::new("c"))
            .err()
            .unwrap();
        assert!(
            e.to_string().starts_with("up.tokenExpirationSeconds"),
            "{e}"
        );
    }

    #[test]
    fn claims_look_like_kube_apiserver_s() {
        let sa = ServiceAccountRef {
            namespace: "ns".into(),
            name: "sa".into(),
        };
        let c = token_claims("https://i", &sa, "sts.amazonaws.com", 3600, 100, None);
        assert_eq!(c["sub"], "system:serviceaccount:ns:sa");
        assert_eq!(c["aud"], json!(["sts.amazonaws.com"]));
        assert_eq!(c["exp"], 3700);
        assert_eq!(c["kubernetes.io"]["namespace"], "ns");
    }

    #[test]
    fn private_writes_replace_atomically() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("token");
        write_private(&p, b"one").unwrap();
        write_private(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
