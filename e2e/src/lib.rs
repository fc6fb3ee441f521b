//! Harness for the end-to-end tests: the environment that `e2e/run` starts (a real
//! kube-apiserver and etcd, see `e2e/kube-env/up.sh`), the `irsa` processes under test,
//! and small raw-JSON helpers around kube's client.
//!
//! Pods are read and written as raw JSON (never through typed structs), so the tests see
//! exactly what the API server stored.

use anyhow::{Context as _, Result, anyhow, bail};
use irsa_test::net::{Bytes, Full, Reply};
pub use irsa_test::{Killed, free_port, workspace_root};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject as _;
use serde_json::{Value, json};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What `e2e/kube-env/up.sh` wrote to `DIR/env`, plus the `irsa` binary under test.
pub struct Env {
    pub dir: PathBuf,
    pub apiserver: String,
    pub ca_file: PathBuf,
    pub kubeconfig: PathBuf,
    pub irsa: PathBuf,
}

impl Env {
    pub fn from_env() -> Result<Env> {
        let var = |k: &str| {
            std::env::var(k)
                .with_context(|| format!("{k} is not set: run these tests through e2e/run"))
        };
        Ok(Env {
            dir: PathBuf::from(var("IRSA_E2E_DIR")?),
            apiserver: var("IRSA_E2E_APISERVER")?,
            ca_file: PathBuf::from(var("IRSA_E2E_CA")?),
            kubeconfig: PathBuf::from(var("KUBECONFIG")?),
            irsa: PathBuf::from(var("IRSA_BIN")?),
        })
    }

    pub async fn client(&self) -> Result<kube::Client> {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
        Ok(kube::Client::try_from(cfg)?)
    }

    /// A folder for one test's files.
    pub fn scratch(&self, name: &str) -> Result<PathBuf> {
        let p = self.dir.join("tests").join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// Stops kube-apiserver and starts it again with the same arguments (same port),
    /// waiting (bounded) until it is ready again. `during` runs while it is down.
    pub async fn restart_apiserver<F, Fut>(&self, during: F) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let script = workspace_root().join("e2e/kube-env/restart-apiserver.sh");
        run_ok(Command::new(&script).arg(&self.dir).arg("stop"))?;
        let r = during().await;
        run_ok(Command::new(&script).arg(&self.dir).arg("start"))?;
        r
    }
}

fn run_ok(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A child process that is killed when dropped, so a failing test leaves nothing behind.
pub struct Proc {
    child: Killed,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(cmd: &mut Command, log: PathBuf) -> Result<Proc> {
        let f = std::fs::File::create(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()
            .with_context(|| format!("spawning {cmd:?}"))?;
        Ok(Proc {
            child: Killed(child),
            log,
        })
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits (bounded) until `port` on 127.0.0.1 accepts connections.
    pub fn wait_port(&mut self, port: u16, limit: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(st) = self.child.0.try_wait()? {
                bail!("process exited with {st}; log:\n{}", self.log_tail());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "port {port} not open after {limit:?}; log:\n{}",
            self.log_tail()
        )
    }
}

/// A CA and a serving certificate for `IP:127.0.0.1`, written as PEM files.
pub struct ServingCert {
    pub ca_pem: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: PathBuf,
}

pub fn serving_cert(dir: &Path) -> Result<ServingCert> {
    serving_cert_for(dir, &["localhost"], true)
}

/// A CA and a serving certificate for the DNS names `dns` (and `IP:127.0.0.1` when `loopback`).
pub fn serving_cert_for(dir: &Path, dns: &[&str], loopback: bool) -> Result<ServingCert> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "irsa-e2e-webhook-ca");
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(dns.iter().map(|d| d.to_string()).collect::<Vec<_>>())?;
    if loopback {
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse()?));
    }
    let cert = params.signed_by(&key, &issuer)?;
    let sc = ServingCert {
        ca_pem: ca.pem(),
        cert_file: dir.join("tls.crt"),
        key_file: dir.join("tls.key"),
        ca_file: dir.join("ca.crt"),
    };
    std::fs::write(&sc.cert_file, cert.pem())?;
    std::fs::write(&sc.key_file, key.serialize_pem())?;
    std::fs::write(&sc.ca_file, &sc.ca_pem)?;
    Ok(sc)
}

/// Raw JSON calls to the API server through kube's client.
pub struct Kube {
    pub client: kube::Client,
}

impl Kube {
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut b = http::Request::builder().method(method).uri(path);
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let req = b.body(body.map(|v| v.to_string().into_bytes()).unwrap_or_default())?;
        let text = self
            .client
            .request_text(req)
            .await
            .with_context(|| format!("{method} {path}"))?;
        if text.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text)?)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call("POST", path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call("GET", path, None).await
    }

    /// A GET whose answer is text, not JSON (a pod's log).
    pub async fn text(&self, path: &str) -> Result<String> {
        let req = http::Request::builder()
            .method("GET")
            .uri(path)
            .body(Vec::new())?;
        self.client
            .request_text(req)
            .await
            .with_context(|| format!("GET {path}"))
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        self.call("DELETE", path, None).await.map(|_| ())
    }

    /// A namespace labelled `irsa-e2e=<name>`; the webhook configurations of the tests
    /// select their own namespace by that label.
    pub async fn namespace(&self, name: &str) -> Result<()> {
        self.post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": {"irsa-e2e": name}}}),
        )
        .await
        .map(|_| ())
    }

    pub async fn service_account(&self, ns: &str, name: &str, annotations: Value) -> Result<Value> {
        self.post(
            &format!("/api/v1/namespaces/{ns}/serviceaccounts"),
            &json!({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": name, "annotations": annotations}}),
        )
        .await
    }

    pub async fn create_pod(&self, ns: &str, pod: &Value) -> Result<Value> {
        self.post(&format!("/api/v1/namespaces/{ns}/pods"), pod)
            .await
    }

    /// A TokenRequest for `sa`, optionally bound to a pod (name, uid).
    pub async fn token(
        &self,
        ns: &str,
        sa: &str,
        audiences: &[&str],
        pod: Option<(&str, &str)>,
    ) -> Result<String> {
        let mut spec = json!({"audiences": audiences, "expirationSeconds": 3600});
        if let Some((name, uid)) = pod {
            spec["boundObjectRef"] =
                json!({"kind": "Pod", "apiVersion": "v1", "name": name, "uid": uid});
        }
        let spec = if audiences.is_empty() {
            json!({"expirationSeconds": 3600})
        } else {
            spec
        };
        let tr = self
            .post(
                &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"),
                &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}),
            )
            .await?;
        tr["status"]["token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no token in TokenRequest answer"))
    }

    /// Registers a webhook at `url` for pod CREATE in the namespaces labelled
    /// `irsa-e2e=<ns_label>`, skipping pods with the opt-out label, as deploy/ does.
    pub async fn register_webhook(
        &self,
        name: &str,
        url: &str,
        ca_pem: &str,
        ns_label: &str,
    ) -> Result<()> {
        use base64::Engine as _;
        let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
        self.post(
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            &json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": name},
                "webhooks": [{
                    "name": format!("{name}.e2e.irsa.dev"),
                    "clientConfig": {"url": url, "caBundle": ca},
                    "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                               "apiVersions": ["v1"], "resources": ["pods"]}],
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1", "v1beta1"],
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 10,
                    "namespaceSelector": {"matchLabels": {"irsa-e2e": ns_label}},
                    "objectSelector": {"matchExpressions": [{
                        "key": "eks.amazonaws.com/skip-pod-identity-webhook",
                        "operator": "DoesNotExist"}]}
                }]
            }),
        )
        .await?;
        // The API server picks webhook configurations up asynchronously.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    }
}

/// The `irsa webhook` process under test, serving TLS on 127.0.0.1.
pub struct Webhook {
    pub proc: Proc,
    pub port: u16,
    pub metrics_port: u16,
    pub cert: ServingCert,
    /// A TLS client trusting only `cert`'s CA.
    tls: Arc<rustls::ClientConfig>,
}

impl Webhook {
    pub async fn start(env: &Env, dir: &Path, extra: &[&str]) -> Result<Webhook> {
        let cert = serving_cert(dir)?;
        let port = free_port();
        let metrics_port = free_port();
        let mut cmd = Command::new(&env.irsa);
        cmd.arg("webhook")
            .arg(format!("--port={port}"))
            .arg(format!("--metrics-port={metrics_port}"))
            .arg("--listen-address=127.0.0.1")
            .arg("--in-cluster=false")
            .arg(format!("--tls-cert={}", cert.cert_file.display()))
            .arg(format!("--tls-key={}", cert.key_file.display()))
            .arg(format!("--kubeconfig={}", env.kubeconfig.display()))
            .args(extra);
        let mut proc = Proc::spawn(&mut cmd, dir.join("webhook.log"))?;
        proc.wait_port(port, Duration::from_secs(30))?;
        let tls = tls_client(&cert.ca_pem)?;
        let wh = Webhook {
            proc,
            port,
            metrics_port,
            cert,
            tls,
        };
        wh.wait_ready(Duration::from_secs(30)).await?;
        Ok(wh)
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/mutate", self.port)
    }

    /// Sends `request` (origin-form URI) over a new TLS connection to the webhook,
    /// verifying its certificate for `IP:127.0.0.1`; bounded to 10 s.
    async fn send(&self, request: http::Request<Full<Bytes>>) -> Result<Reply> {
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
            let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .context("TLS handshake with the webhook")?;
            irsa_test::net::exchange(tls, request)
                .await
                .map_err(|e| anyhow!(e))
        };
        tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .context("no answer from the webhook within 10 s")?
    }

    /// GET a path on the TLS port; (status, body).
    pub async fn get(&self, path: &str) -> Result<(u16, String)> {
        let request = http::Request::get(path)
            .header(http::header::HOST, "127.0.0.1")
            .body(Full::default())?;
        let reply = self.send(request).await?;
        Ok((
            reply.status,
            String::from_utf8_lossy(&reply.body).into_owned(),
        ))
    }

    /// POST an AdmissionReview straight to the webhook (no API server involved).
    pub async fn admit(&self, review: &Value) -> Result<Value> {
        let request = http::Request::post("/mutate")
            .header(http::header::HOST, "127.0.0.1")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(review.to_string())))?;
        let reply = self.send(request).await?;
        if reply.status != 200 {
            bail!(
                "webhook answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        Ok(serde_json::from_slice(&reply.body)?)
    }

    pub async fn wait_ready(&self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok((200, _)) = self.get("/readyz").await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "webhook not ready after {limit:?}; log:\n{}",
            self.proc.log_tail()
        )
    }
}

/// A TLS client configuration trusting only the certificates of `ca_pem`.
pub fn tls_client(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.context("reading the CA certificate")?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Env entries of a container as (name, value) pairs; `valueFrom` entries give "".
pub fn env_of(container: &Value) -> Vec<(String, String)> {
    container["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["name"].as_str().unwrap_or_default().to_string(),
                        e["value"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn env_value(container: &Value, name: &str) -> Option<String> {
    env_of(container)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Retries `f` until it returns Ok, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() >= limit => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
