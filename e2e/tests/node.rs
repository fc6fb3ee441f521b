//! The story as it happens on a node: irsa installed with helm from `deploy/helm` (the
//! webhook, `irsa sts` + `irsa gateway` trusting the API server's own issuer, and the Pod
//! Identity agent as a DaemonSet), and applications on unmodified AWS SDKs (aws-sdk-go-v2,
//! aws-sdk-rust) running as pods on a kubelet with containerd, reading DynamoDB (dynalite)
//! and S3 (versitygw) through the gateway with credentials from IRSA or from EKS Pod
//! Identity. Every assertion about the applications is read from their own output (the
//! pods' logs, through the API server and the kubelet).
//!
//! Needs the node that `e2e/run` starts (`e2e/kube-env/node-up.sh`), so the tests are
//! ignored by a plain `cargo test`. They share one installation: the first test installs,
//! the others find it.

use anyhow::{Context as _, Result, bail, ensure};
use irsa_e2e::{Env, Kube, env_value, eventually};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SYSTEM_NS: &str = "irsa-system";
const NS: &str = "story";
const ACCOUNT: &str = "111122223333";
const ROLE: &str = "arn:aws:iam::111122223333:role/story-reader";
const TABLE: &str = "story";
const ITEM_KEY: &str = "greeting";
const ITEM_VALUE: &str = "hello from dynalite";
const BUCKET: &str = "story-bucket";
const OBJECT_KEY: &str = "greeting.txt";
const OBJECT_VALUE: &str = "hello from versitygw";
/// The gateway Service's fixed address (in the API server's service range, 10.0.0.0/24):
/// the Host the applications' S3 requests name, listed in `gateway.s3.endpoints`.
const GATEWAY_IP: &str = "10.0.0.10";
/// The cluster's name in the Pod Identity associations and the agent's flags.
const CLUSTER: &str = "e2e-node";
/// The Pod Identity agent's Helm release (its ServiceAccount is `<release>-agent`).
const AGENT_RELEASE: &str = "pod-identity";
const AGENT_ROLE: &str = "arn:aws:iam::111122223333:role/pod-identity-agent";
/// The role of the `pod-identity` ServiceAccount of `story` and of `elsewhere`, by
/// association; its policy allows reads only to sessions tagged with namespace `story`.
const POD_IDENTITY_ROLE: &str = "arn:aws:iam::111122223333:role/story-pod-identity";
const POD_IDENTITY_SA: &str = "pod-identity";
const ELSEWHERE_NS: &str = "elsewhere";
const AGENT_URI: &str = "http://169.254.170.23/v1/credentials";
const TOKEN_FILE: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";
const GO_IMAGE: &str = "irsa.local/dynamodb-go:e2e";
const RUST_IMAGE: &str = "irsa.local/dynamodb-rust:e2e";

/// What the installation gives the applications.
struct Story {
    kube: Kube,
    sts_url: String,
    gateway_url: String,
}

fn helm(env: &Env, args: &[&str]) -> Result<String> {
    let helm = PathBuf::from(std::env::var("IRSA_E2E_BIN")?).join("helm");
    let out = std::process::Command::new(&helm)
        .args(args)
        .env("KUBECONFIG", &env.kubeconfig)
        .current_dir(irsa_e2e::workspace_root())
        .output()
        .with_context(|| format!("running {}", helm.display()))?;
    ensure!(
        out.status.success(),
        "helm {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn exists(kube: &Kube, path: &str) -> bool {
    kube.get(path).await.is_ok()
}

async fn cluster_ip(kube: &Kube, ns: &str, svc: &str) -> Result<String> {
    let s = kube
        .get(&format!("/api/v1/namespaces/{ns}/services/{svc}"))
        .await?;
    s["spec"]["clusterIP"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("service {ns}/{svc} has no clusterIP: {s}"))
}

/// The control plane's configuration: the API server's issuer as the OIDC provider (its
/// CA from the cluster's kube-root-ca.crt) and as the Pod Identity cluster, one role only
/// `story/app` may assume by web identity, allowed to read the story table and the story
/// object and nothing else; the agent's role; and a role associated with the
/// `pod-identity` ServiceAccount of two namespaces, whose policy reads only for sessions
/// tagged with namespace `story`. The gateway forwards S3 to versitygw and knows its own
/// Service address as an S3 endpoint.
fn control_plane_values(env: &Env, dynamodb: &str, s3: &str) -> Result<String> {
    let host = env
        .apiserver
        .strip_prefix("https://")
        .ok_or_else(|| anyhow::anyhow!("issuer is not https"))?;
    let key = {
        use std::io::Read as _;
        let mut b = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    Ok(format!(
        r#"image: {{repository: irsa.local/irsa, tag: e2e, pullPolicy: Never}}
signingKeys: {{masterKey: "{key}"}}
gateway:
  upstream: {dynamodb}
  upstreamCredentialsSecret: dynalite-credentials
  s3Upstream: {s3}
  s3UpstreamCredentialsSecret: versitygw-credentials
  clusterIP: {GATEWAY_IP}
config:
  account: "{ACCOUNT}"
  region: us-east-1
  gateway:
    s3:
      endpoints: ["{GATEWAY_IP}"]
  providers:
    - issuer: {issuer}
      audiences: [sts.amazonaws.com]
      caFile: /etc/irsa/cluster-ca/ca.crt
  clusters:
    - name: {CLUSTER}
      issuer: {issuer}
      caFile: /etc/irsa/cluster-ca/ca.crt
  podIdentityAssociations:
    - {{cluster: {CLUSTER}, namespace: {NS}, serviceAccount: {POD_IDENTITY_SA}, roleArn: "{POD_IDENTITY_ROLE}"}}
    - {{cluster: {CLUSTER}, namespace: {ELSEWHERE_NS}, serviceAccount: {POD_IDENTITY_SA}, roleArn: "{POD_IDENTITY_ROLE}"}}
  roles:
    - name: story-reader
      maxSessionDuration: 3600
      trustPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{Federated: "arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"}}
            Action: sts:AssumeRoleWithWebIdentity
            Condition:
              StringEquals:
                "{host}:aud": sts.amazonaws.com
                "{host}:sub": ["system:serviceaccount:{NS}:app", "system:serviceaccount:{NS}:rotating"]
      policies:
        read-story:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:Query]
              Resource: arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}
            - Effect: Allow
              Action: s3:GetObject
              Resource: arn:aws:s3:::{BUCKET}/*
    - name: pod-identity-agent
      trustPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{Federated: "arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"}}
            Action: sts:AssumeRoleWithWebIdentity
            Condition:
              StringEquals:
                "{host}:aud": sts.amazonaws.com
                "{host}:sub": "system:serviceaccount:{SYSTEM_NS}:{AGENT_RELEASE}-agent"
      policies:
        agent:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: eks-auth:AssumeRoleForPodIdentity
              Resource: arn:aws:eks:us-east-1:{ACCOUNT}:cluster/{CLUSTER}
    - name: story-pod-identity
      trustPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{Service: pods.eks.amazonaws.com}}
            Action: [sts:AssumeRole, sts:TagSession]
            Condition:
              StringEquals:
                "aws:RequestTag/eks-cluster-name": {CLUSTER}
      policies:
        read-story-in-story:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}
              Condition:
                StringEquals:
                  "aws:PrincipalTag/kubernetes-namespace": {NS}
            - Effect: Allow
              Action: s3:GetObject
              Resource: arn:aws:s3:::{BUCKET}/*
              Condition:
                StringEquals:
                  "aws:PrincipalTag/kubernetes-namespace": {NS}
"#,
        issuer = env.apiserver,
    ))
}

/// Installs irsa with helm once (both charts, `--wait`), the story's namespace and
/// ServiceAccounts, and the table; later calls find the installation.
async fn story() -> Result<Story> {
    let env = Env::from_env()?;
    let kube = Kube {
        client: env.client().await?,
    };
    let dynamodb = std::env::var("IRSA_E2E_DYNAMODB")
        .context("IRSA_E2E_DYNAMODB is not set: run these tests through e2e/run")?;
    let s3 = S3Upstream::from_env()?;
    if !exists(
        &kube,
        &format!("/apis/apps/v1/namespaces/{SYSTEM_NS}/daemonsets/{AGENT_RELEASE}-agent"),
    )
    .await
    {
        install(&env, &kube, &dynamodb, &s3).await?;
    }
    let new_story = !exists(&kube, &format!("/api/v1/namespaces/{NS}")).await;
    if new_story {
        the_story_namespace(&kube, &dynamodb, &s3).await?;
    }
    let sts_url = format!(
        "http://{}",
        cluster_ip(&kube, SYSTEM_NS, "irsa-cp-sts").await?
    );
    let gateway_url = format!(
        "http://{}",
        cluster_ip(&kube, SYSTEM_NS, "irsa-cp-gateway").await?
    );
    let story = Story {
        kube,
        sts_url,
        gateway_url,
    };
    if new_story && rotation_enabled() {
        start_rotation_pod(&story).await?;
    }
    Ok(story)
}

fn rotation_enabled() -> bool {
    std::env::var("IRSA_E2E_ROTATION").as_deref() != Ok("0")
}

/// versitygw as e2e/run started it: its URL and root credentials.
struct S3Upstream {
    url: String,
    access_key_id: String,
    secret_access_key: String,
}

impl S3Upstream {
    fn from_env() -> Result<Self> {
        let var = |k: &str| {
            std::env::var(k)
                .with_context(|| format!("{k} is not set: run these tests through e2e/run"))
        };
        Ok(Self {
            url: var("IRSA_E2E_S3")?,
            access_key_id: var("IRSA_E2E_S3_ACCESS_KEY_ID")?,
            secret_access_key: var("IRSA_E2E_S3_SECRET_ACCESS_KEY")?,
        })
    }
}

async fn install(env: &Env, kube: &Kube, dynamodb: &str, s3: &S3Upstream) -> Result<()> {
    use base64::Engine as _;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let dir = env.scratch("node")?;
    kube.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}}),
    )
    .await?;

    // The webhook's serving certificate, without cert-manager: a Secret and its CA bundle.
    let svc = format!("irsa-webhook.{SYSTEM_NS}.svc");
    let cert = irsa_e2e::serving_cert_for(&dir, &[&svc], false)?;
    kube.post(
        &format!("/api/v1/namespaces/{SYSTEM_NS}/secrets"),
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": "irsa-webhook-tls"},
                "data": {"tls.crt": b64(&std::fs::read(&cert.cert_file)?),
                         "tls.key": b64(&std::fs::read(&cert.key_file)?)}}),
    )
    .await?;
    kube.post(
        &format!("/api/v1/namespaces/{SYSTEM_NS}/secrets"),
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dynalite-credentials"},
                "stringData": {"accessKeyId": "local", "secretAccessKey": "local"}}),
    )
    .await?;
    kube.post(
        &format!("/api/v1/namespaces/{SYSTEM_NS}/secrets"),
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "versitygw-credentials"},
                "stringData": {"accessKeyId": s3.access_key_id,
                               "secretAccessKey": s3.secret_access_key}}),
    )
    .await?;
    // Pod Identity: the webhook gives the associated ServiceAccounts container credentials.
    let identities = json!([
        {"namespace": NS, "serviceAccount": POD_IDENTITY_SA},
        {"namespace": ELSEWHERE_NS, "serviceAccount": POD_IDENTITY_SA},
    ]);
    helm(
        env,
        &[
            "install",
            "irsa",
            "deploy/helm/irsa",
            "--namespace",
            SYSTEM_NS,
            "--set",
            "image.repository=irsa.local/irsa,image.tag=e2e,image.pullPolicy=Never",
            "--set",
            "tls.certManager.enabled=false",
            "--set",
            &format!("tls.caBundle={}", b64(cert.ca_pem.as_bytes())),
            "--set",
            "config.awsDefaultRegion=us-east-1",
            "--set",
            "podIdentity.enabled=true",
            "--set-json",
            &format!("podIdentity.identities={identities}"),
            "--wait",
            "--timeout",
            "180s",
        ],
    )?;
    let values = dir.join("control-plane.yaml");
    std::fs::write(&values, control_plane_values(env, dynamodb, &s3.url)?)?;
    helm(
        env,
        &[
            "install",
            "irsa-cp",
            "deploy/helm/irsa-control-plane",
            "--namespace",
            SYSTEM_NS,
            "--values",
            values.to_str().unwrap_or_default(),
            "--wait",
            "--timeout",
            "180s",
        ],
    )?;
    // The agent on the node's network, on the address node-up.sh assigned (so no init
    // container assigns it), calling irsa sts by its Service address (no cluster DNS here).
    let sts = cluster_ip(kube, SYSTEM_NS, "irsa-cp-sts").await?;
    helm(
        env,
        &[
            "install",
            AGENT_RELEASE,
            "deploy/helm/irsa-agent",
            "--namespace",
            SYSTEM_NS,
            "--set",
            "image.repository=irsa.local/irsa,image.tag=e2e,image.pullPolicy=Never",
            "--set",
            &format!(
                "clusterName={CLUSTER},eksAuthEndpoint=http://{sts},agentRole.arn={AGENT_ROLE}"
            ),
            "--set",
            "listen.assignAddresses=false,listen.ipv6=",
            "--wait",
            "--timeout",
            "120s",
        ],
    )?;
    Ok(())
}

/// The applications' namespaces, their ServiceAccounts, the table and the object they read.
async fn the_story_namespace(kube: &Kube, dynamodb: &str, s3: &S3Upstream) -> Result<()> {
    for ns in [NS, ELSEWHERE_NS] {
        kube.post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
        // no annotation: the webhook's Pod Identity list names it
        kube.service_account(ns, POD_IDENTITY_SA, json!({})).await?;
    }
    let annotations = json!({"eks.amazonaws.com/role-arn": ROLE});
    kube.service_account(NS, "app", annotations.clone()).await?;
    // Annotated with the same role, but the trust policy names only `app`.
    kube.service_account(NS, "stranger", annotations).await?;
    // Tokens of the shortest lifetime the API server grants (600 s): the kubelet replaces
    // the file after 80 % of it.
    kube.service_account(
        NS,
        "rotating",
        json!({"eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/token-expiration": "600"}),
    )
    .await?;
    seed_table(dynamodb).await?;
    seed_bucket(s3).await
}

/// The bucket and its object, written straight to versitygw (not through irsa).
async fn seed_bucket(s3: &S3Upstream) -> Result<()> {
    let client = irsa_test::sdk::s3(
        &s3.url,
        irsa_test::sdk::credentials(&s3.access_key_id, &s3.secret_access_key, None),
    );
    client.create_bucket().bucket(BUCKET).send().await?;
    client
        .put_object()
        .bucket(BUCKET)
        .key(OBJECT_KEY)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            OBJECT_VALUE.as_bytes(),
        ))
        .send()
        .await?;
    Ok(())
}

const ROTATION_POD: &str = "rotation";

/// The pod the rotation test watches, started with the installation so that the wait for
/// the token's expiry overlaps the other tests: the Go application, loading its
/// configuration anew every 5 s for up to 20 minutes.
async fn start_rotation_pod(story: &Story) -> Result<()> {
    let pod = app_pod(
        story,
        ROTATION_POD,
        "rotating",
        GO_IMAGE,
        &[
            ("APP_ROUNDS", "240"),
            ("APP_INTERVAL", "5000"),
            ("APP_FRESH", "1"),
        ],
    );
    story.kube.create_pod(NS, &pod).await.map(|_| ())
}

/// The table and its item, written straight to dynalite (not through irsa).
async fn seed_table(dynamodb: &str) -> Result<()> {
    let db = irsa_test::sdk::dynamodb(
        dynamodb,
        irsa_test::sdk::credentials("local", "local", None),
    );
    irsa_test::sdk::create_table(&db, TABLE, "pk").await?;
    irsa_test::sdk::put_strings(&db, TABLE, &[("pk", ITEM_KEY), ("value", ITEM_VALUE)]).await?;
    Ok(())
}

/// The application's container: its image, and the configuration any AWS application
/// gets from its deployment (table, endpoints); nothing IRSA-specific.
fn app_container(story: &Story, image: &str, extra_env: &[(&str, &str)]) -> Value {
    let mut env = vec![
        json!({"name": "APP_TABLE", "value": TABLE}),
        json!({"name": "APP_KEY", "value": ITEM_KEY}),
        json!({"name": "AWS_ENDPOINT_URL_STS", "value": story.sts_url}),
        json!({"name": "AWS_ENDPOINT_URL_DYNAMODB", "value": story.gateway_url}),
        json!({"name": "AWS_ENDPOINT_URL_S3", "value": story.gateway_url}),
    ];
    for (k, v) in extra_env {
        env.push(json!({"name": k, "value": v}));
    }
    json!({"name": "app", "image": image, "imagePullPolicy": "Never", "env": env})
}

fn app_pod(story: &Story, name: &str, sa: &str, image: &str, extra_env: &[(&str, &str)]) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"serviceAccountName": sa, "restartPolicy": "Never",
                 "containers": [app_container(story, image, extra_env)]}
    })
}

/// Waits (bounded) until the pod has run to completion; its phase then is Succeeded.
async fn wait_done(kube: &Kube, ns: &str, name: &str, limit: Duration) -> Result<Value> {
    let path = format!("/api/v1/namespaces/{ns}/pods/{name}");
    let start = Instant::now();
    loop {
        let p = kube.get(&path).await?;
        match p["status"]["phase"].as_str() {
            Some("Succeeded") => return Ok(p),
            Some("Failed") => bail!("pod {ns}/{name} failed: {}", p["status"]),
            _ if start.elapsed() > limit => {
                bail!("pod {ns}/{name} not done after {limit:?}: {}", p["status"])
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The JSON lines the application printed (other lines are kept as strings).
async fn app_lines(kube: &Kube, ns: &str, pod: &str) -> Result<Vec<Value>> {
    let log = kube
        .text(&format!("/api/v1/namespaces/{ns}/pods/{pod}/log"))
        .await?;
    Ok(log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string())))
        .collect())
}

/// Creates `pod` in `ns`, checks the pod the API server stored with `admitted`, waits
/// (bounded) until it has run to completion and returns the lines it printed.
async fn run_app(
    story: &Story,
    ns: &str,
    pod: &Value,
    admitted: fn(&Value) -> Result<()>,
) -> Result<Vec<Value>> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let created = story.kube.create_pod(ns, pod).await?;
    admitted(&created)?;
    wait_done(&story.kube, ns, name, Duration::from_secs(120)).await?;
    app_lines(&story.kube, ns, name).await
}

/// The environment asking the applications to write too, and to read and write the object.
const WRITE_ENV: [(&str, &str); 3] = [
    ("APP_WRITE", "1"),
    ("APP_BUCKET", BUCKET),
    ("APP_OBJECT", OBJECT_KEY),
];

/// The item and the object were read through the gateway; the writes were refused with
/// DynamoDB's `AccessDeniedException` and S3's `AccessDenied`.
fn assert_reads_and_denied_writes(who: &str, lines: &[Value]) -> Result<()> {
    let get = find_op(lines, "GetItem")?;
    ensure!(
        get["ok"] == true && get["value"] == ITEM_VALUE,
        "{who}: the read was not served: {get}"
    );
    let put = find_op(lines, "PutItem")?;
    ensure!(
        put["ok"] == false && put["code"] == "AccessDeniedException",
        "{who}: the write was not denied as AccessDeniedException: {put}"
    );
    assert_s3_read_and_denied_write(who, lines)
}

fn assert_mutated(pod: &Value) -> Result<()> {
    let c = &pod["spec"]["containers"][0];
    ensure!(
        env_value(c, "AWS_ROLE_ARN").as_deref() == Some(ROLE),
        "pod {} was not mutated: {c}",
        pod["metadata"]["name"]
    );
    ensure!(env_value(c, "AWS_WEB_IDENTITY_TOKEN_FILE").as_deref() == Some(TOKEN_FILE));
    let mounted = c["volumeMounts"].as_array().is_some_and(|m| {
        m.iter().any(|m| {
            m["name"] == "aws-iam-token"
                && m["mountPath"] == "/var/run/secrets/eks.amazonaws.com/serviceaccount"
        })
    });
    ensure!(mounted, "no token mount: {c}");
    Ok(())
}

fn find_op<'a>(lines: &'a [Value], op: &str) -> Result<&'a Value> {
    lines
        .iter()
        .find(|l| l["op"] == op)
        .ok_or_else(|| anyhow::anyhow!("no {op} line in the app's output: {lines:?}"))
}

#[tokio::test]
#[ignore = "needs the node that e2e/run starts"]
async fn a_mutated_pod_reads_through_the_gateway_and_is_denied_a_write() -> Result<()> {
    let story = story().await?;
    for (name, image) in [("reader-go", GO_IMAGE), ("reader-rust", RUST_IMAGE)] {
        let pod = app_pod(&story, name, "app", image, &WRITE_ENV);
        let lines = run_app(&story, NS, &pod, assert_mutated).await?;
        assert_reads_and_denied_writes(name, &lines)?;
    }
    Ok(())
}

/// The object was read through the gateway, the write of another was refused with S3's
/// `AccessDenied`.
fn assert_s3_read_and_denied_write(name: &str, lines: &[Value]) -> Result<()> {
    let get = find_op(lines, "GetObject")?;
    ensure!(
        get["ok"] == true && get["value"] == OBJECT_VALUE,
        "{name}: the S3 read was not served: {get}"
    );
    let put = find_op(lines, "PutObject")?;
    ensure!(
        put["ok"] == false && put["code"] == "AccessDenied",
        "{name}: the S3 write was not denied as AccessDenied: {put}"
    );
    Ok(())
}

fn assert_pod_identity(pod: &Value) -> Result<()> {
    let name = &pod["metadata"]["name"];
    let c = &pod["spec"]["containers"][0];
    ensure!(
        env_value(c, "AWS_CONTAINER_CREDENTIALS_FULL_URI").as_deref() == Some(AGENT_URI),
        "pod {name} was not given the agent's URI: {c}"
    );
    let token_file = env_value(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").ok_or_else(|| {
        anyhow::anyhow!("pod {name}: no AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {c}")
    })?;
    ensure!(
        env_value(c, "AWS_ROLE_ARN").is_none()
            && env_value(c, "AWS_WEB_IDENTITY_TOKEN_FILE").is_none(),
        "pod {name} got a web identity too: {c}"
    );
    // the token file lies in a mount of a projected token for pods.eks.amazonaws.com
    let mount = c["volumeMounts"]
        .as_array()
        .and_then(|m| {
            m.iter().find(|m| {
                m["mountPath"].as_str().is_some_and(|p| {
                    token_file.starts_with(&format!("{}/", p.trim_end_matches('/')))
                })
            })
        })
        .ok_or_else(|| anyhow::anyhow!("pod {name}: {token_file} is in no mount: {c}"))?;
    let volume = pod["spec"]["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == mount["name"]))
        .ok_or_else(|| anyhow::anyhow!("pod {name}: no volume {}", mount["name"]))?;
    let audience = &volume["projected"]["sources"][0]["serviceAccountToken"]["audience"];
    ensure!(
        audience == "pods.eks.amazonaws.com",
        "pod {name}: the token's audience is {audience}: {volume}"
    );
    Ok(())
}

/// EKS Pod Identity on the node: the webhook gives the pods of the associated
/// ServiceAccount (listed in its Pod Identity ConfigMap, not annotated) the agent's URI and
/// a token for `pods.eks.amazonaws.com`; the applications' container credentials providers
/// get credentials from the agent DaemonSet (which exchanges the token with irsa sts's
/// `AssumeRoleForPodIdentity`, signed with its own IRSA session), and read the table and the
/// object through the gateway; writes are denied. The same ServiceAccount name in another
/// namespace is associated with the same role, but the role's policy reads only for
/// sessions tagged `kubernetes-namespace: story`: its reads are denied, so the session tags
/// came from the pod's own token.
#[tokio::test]
#[ignore = "needs the node that e2e/run starts"]
async fn pod_identity_pods_get_credentials_from_the_agent() -> Result<()> {
    let story = story().await?;
    wait_pods(
        &story.kube,
        SYSTEM_NS,
        "app.kubernetes.io/name=irsa-agent",
        1,
        Duration::from_secs(120),
    )
    .await?;
    for (ns, allowed) in [(NS, true), (ELSEWHERE_NS, false)] {
        for (name, image) in [
            ("pod-identity-go", GO_IMAGE),
            ("pod-identity-rust", RUST_IMAGE),
        ] {
            let pod = app_pod(&story, name, POD_IDENTITY_SA, image, &WRITE_ENV);
            let lines = run_app(&story, ns, &pod, assert_pod_identity).await?;
            let who = format!("{ns}/{name}");
            if allowed {
                assert_reads_and_denied_writes(&who, &lines)?;
            } else {
                // credentials were issued (the association exists), the policy denies
                let get = find_op(&lines, "GetItem")?;
                let obj = find_op(&lines, "GetObject")?;
                ensure!(
                    get["ok"] == false
                        && get["code"] == "AccessDeniedException"
                        && get["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("assumed-role/story-pod-identity/")),
                    "{who}: the read was not denied to the Pod Identity session by the namespace tag: {get}"
                );
                ensure!(
                    obj["ok"] == false && obj["code"] == "AccessDenied",
                    "{who}: the S3 read was not denied by the namespace tag: {obj}"
                );
            }
        }
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs the node that e2e/run starts"]
async fn a_service_account_the_trust_policy_does_not_name_is_refused_by_sts() -> Result<()> {
    let story = story().await?;
    for (name, image) in [("stranger-go", GO_IMAGE), ("stranger-rust", RUST_IMAGE)] {
        let pod = app_pod(&story, name, "stranger", image, &[]);
        let lines = run_app(&story, NS, &pod, assert_mutated).await?;
        let get = find_op(&lines, "GetItem")?;
        let message = get["message"].as_str().unwrap_or_default();
        ensure!(
            get["ok"] == false
                && message.contains("AccessDenied")
                && !message.contains("AccessDeniedException"),
            "{name}: STS did not refuse the exchange with AccessDenied: {get}"
        );
    }
    Ok(())
}

/// The pods of `selector` in `ns` (raw JSON list items).
async fn pods(kube: &Kube, ns: &str, selector: &str) -> Result<Vec<Value>> {
    let list = kube
        .get(&format!(
            "/api/v1/namespaces/{ns}/pods?labelSelector={selector}"
        ))
        .await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

fn name_of(pod: &Value) -> String {
    pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn running_ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["phase"] == "Running"
        && pod["status"]["containerStatuses"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["ready"] == true))
}

/// Waits (bounded) until `selector` has exactly `n` running, ready pods and no other pod.
async fn wait_pods(
    kube: &Kube,
    ns: &str,
    selector: &str,
    n: usize,
    limit: Duration,
) -> Result<Vec<Value>> {
    let start = Instant::now();
    loop {
        let all = pods(kube, ns, selector).await?;
        if all.len() == n && all.iter().all(running_ready) {
            return Ok(all);
        }
        if start.elapsed() > limit {
            let states: Vec<_> = all
                .iter()
                .map(|p| {
                    (
                        name_of(p),
                        p["status"]["phase"].clone(),
                        p["metadata"]["deletionTimestamp"].clone(),
                    )
                })
                .collect();
            bail!("{ns}/{selector}: want {n} ready pods after {limit:?}, have {states:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A Deployment of the Go application scaled to 5 replicas, each loading its configuration
/// (and so exchanging its token with `irsa sts`) anew every round: every pod is mutated and
/// served. Then one of the two `irsa sts` replicas is deleted while they keep calling: no
/// round fails, before, during or after (the other replica opens every session while the
/// deleted one drains and its replacement starts).
#[tokio::test]
#[ignore = "needs the node that e2e/run starts"]
async fn five_replicas_are_served_while_an_sts_replica_is_deleted() -> Result<()> {
    let story = story().await?;
    let kube = &story.kube;
    let container = app_container(
        &story,
        GO_IMAGE,
        &[
            ("APP_ROUNDS", "100000"),
            ("APP_INTERVAL", "300"),
            ("APP_FRESH", "1"),
        ],
    );
    kube.post(
        &format!("/apis/apps/v1/namespaces/{NS}/deployments"),
        &json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "fleet"},
            "spec": {
                "replicas": 5,
                "selector": {"matchLabels": {"app": "fleet"}},
                "template": {
                    "metadata": {"labels": {"app": "fleet"}},
                    "spec": {"serviceAccountName": "app", "containers": [container]}
                }
            }
        }),
    )
    .await?;
    let fleet = wait_pods(kube, NS, "app=fleet", 5, Duration::from_secs(180)).await?;
    for p in &fleet {
        assert_mutated(p)?;
    }
    // every replica served at least one read
    let served = |lines: &[Value]| {
        lines
            .iter()
            .filter(|l| l["op"] == "GetItem" && l["ok"] == true && l["value"] == ITEM_VALUE)
            .count()
    };
    for p in &fleet {
        let name = name_of(p);
        eventually(Duration::from_secs(60), || async {
            let lines = app_lines(kube, NS, &name).await?;
            ensure!(served(&lines) > 0, "{name} not served yet: {lines:?}");
            Ok(())
        })
        .await?;
    }

    // Delete one irsa sts replica while the fleet keeps exchanging tokens.
    let sts = wait_pods(
        kube,
        SYSTEM_NS,
        "app.kubernetes.io/name=irsa-sts",
        2,
        Duration::from_secs(60),
    )
    .await?;
    let victim = name_of(&sts[0]);
    kube.delete(&format!("/api/v1/namespaces/{SYSTEM_NS}/pods/{victim}"))
        .await?;
    let deleted_at = Instant::now();
    // the replacement is ready, the deleted replica is gone
    wait_pods(
        kube,
        SYSTEM_NS,
        "app.kubernetes.io/name=irsa-sts",
        2,
        Duration::from_secs(120),
    )
    .await?;
    ensure!(
        !pods(kube, SYSTEM_NS, "app.kubernetes.io/name=irsa-sts")
            .await?
            .iter()
            .any(|p| name_of(p) == victim),
        "{victim} still there"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut after = 0;
    for p in &fleet {
        let name = name_of(p);
        let lines = app_lines(kube, NS, &name).await?;
        let failed: Vec<_> = lines.iter().filter(|l| l["ok"] != true).collect();
        ensure!(failed.is_empty(), "{name}: calls failed: {failed:?}");
        // whole seconds since the deletion, rounded down: no line from before it
        let since = deleted_at.elapsed().as_secs().max(1);
        let since_deletion = kube
            .text(&format!(
                "/api/v1/namespaces/{NS}/pods/{name}/log?sinceSeconds={since}"
            ))
            .await?;
        let n = since_deletion.lines().count();
        ensure!(
            n >= 5,
            "{name} made only {n} calls since {victim} was deleted"
        );
        after += n;
    }
    println!("{after} reads by 5 replicas since {victim} was deleted, none failed");
    kube.delete(&format!("/apis/apps/v1/namespaces/{NS}/deployments/fleet"))
        .await?;
    Ok(())
}

/// The webhook's Deployment rolled (every pod replaced, one at a time) while pods are
/// created: none is admitted unmutated (the old pods keep serving through their shutdown
/// delay, the PodDisruptionBudget and `maxUnavailable: 0` keep one ready).
#[tokio::test]
#[ignore = "needs the node that e2e/run starts"]
async fn no_pod_is_admitted_unmutated_while_the_webhook_restarts() -> Result<()> {
    let story = story().await?;
    let kube = &story.kube;
    let deploy = format!("/apis/apps/v1/namespaces/{SYSTEM_NS}/deployments/irsa-webhook");
    let before = kube.get(&deploy).await?;
    let generation = before["metadata"]["generation"]
        .as_i64()
        .unwrap_or_default();
    let old: Vec<String> = pods(kube, SYSTEM_NS, "app.kubernetes.io/name=irsa-webhook")
        .await?
        .iter()
        .map(name_of)
        .collect();
    let stamp = format!("{:?}", std::time::SystemTime::now());
    let patch =
        json!({"spec": {"template": {"metadata": {"annotations": {"irsa-e2e/restarted": stamp}}}}});
    let req = http::Request::builder()
        .method("PATCH")
        .uri(&deploy)
        .header("content-type", "application/strategic-merge-patch+json")
        .body(patch.to_string().into_bytes())?;
    kube.client.request_text(req).await?;

    let start = Instant::now();
    let mut created = Vec::new();
    loop {
        let name = format!("during-restart-{}", created.len());
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "during-restart"}},
            "spec": {"serviceAccountName": "app",
                     "containers": [{"name": "app", "image": "irsa.local/pause:3.10.2", "imagePullPolicy": "Never"}]}
        });
        created.push(kube.create_pod(NS, &pod).await?);
        let d = kube.get(&deploy).await?;
        let current = pods(kube, SYSTEM_NS, "app.kubernetes.io/name=irsa-webhook").await?;
        let rolled = d["status"]["observedGeneration"]
            .as_i64()
            .unwrap_or_default()
            > generation
            && d["status"]["updatedReplicas"] == d["spec"]["replicas"]
            && d["status"]["readyReplicas"] == d["spec"]["replicas"]
            && current.iter().all(|p| !old.contains(&name_of(p)));
        if rolled && created.len() >= 10 {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(180),
            "the webhook's rollout did not finish in 180 s: {}",
            d["status"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let unmutated: Vec<String> = created
        .iter()
        .filter(|p| assert_mutated(p).is_err())
        .map(name_of)
        .collect();
    ensure!(
        unmutated.is_empty(),
        "{} of {} pods created during the webhook's restart were admitted unmutated: {unmutated:?}",
        unmutated.len(),
        created.len()
    );
    println!(
        "{} pods created while the webhook rolled; all mutated",
        created.len()
    );
    kube.delete(&format!(
        "/api/v1/namespaces/{NS}/pods?labelSelector=app=during-restart"
    ))
    .await?;
    Ok(())
}

/// Claims of a JWT, decoded without verification (the test reads the kubelet's token file
/// only for its `iat` and `exp`; the token itself is never printed).
fn claims(token: &str) -> Result<Value> {
    use base64::Engine as _;
    let payload = token
        .trim()
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("the token file holds no JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The kubelet's rotation of the projected token, picked up by the SDK: the pod's token
/// lives 600 s (the least the API server grants); after 80 % of it the kubelet writes a new
/// one. The test reads the token file the kubelet wrote on the node (claims only) at the
/// start, waits (bounded: until 20 s past the first token's expiry, at most 11 minutes from
/// the pod's start, overlapping the other tests) and then requires: the file now holds a
/// newer token, and the application's reads after the first token expired succeeded — the
/// SDK exchanged the new token, since `irsa sts` refuses an expired one — with no failed
/// call at any time. `IRSA_E2E_ROTATION=0` leaves it out.
#[tokio::test]
#[ignore = "needs the node that e2e/run starts"]
async fn the_sdk_picks_up_the_kubelets_token_rotation() -> Result<()> {
    if !rotation_enabled() {
        println!("IRSA_E2E_ROTATION=0: skipped");
        return Ok(());
    }
    let story = story().await?;
    let kube = &story.kube;
    let pod = eventually(Duration::from_secs(120), || async {
        let p = kube
            .get(&format!("/api/v1/namespaces/{NS}/pods/{ROTATION_POD}"))
            .await?;
        ensure!(
            p["status"]["phase"] == "Running",
            "not running: {}",
            p["status"]
        );
        Ok(p)
    })
    .await?;
    assert_mutated(&pod)?;
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let dir = PathBuf::from(std::env::var("IRSA_E2E_DIR")?);
    let token_file = dir.join(format!(
        "node/kubelet/pods/{uid}/volumes/kubernetes.io~projected/aws-iam-token/token"
    ));
    let first = claims(
        &std::fs::read_to_string(&token_file)
            .with_context(|| format!("the kubelet's token file {}", token_file.display()))?,
    )?;
    let first_exp = first["exp"].as_i64().unwrap_or_default();
    let first_iat = first["iat"].as_i64().unwrap_or_default();
    ensure!(
        first_exp > first_iat && first_exp - first_iat <= 3600,
        "unexpected token lifetime: {first}"
    );
    let deadline = first_exp + 20;
    ensure!(
        deadline - irsa_test::now() <= 660,
        "the token expires too late to wait for: {first}"
    );
    while irsa_test::now() < deadline {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }

    let now = claims(&std::fs::read_to_string(&token_file)?)?;
    let now_iat = now["iat"].as_i64().unwrap_or_default();
    ensure!(
        now_iat > first_iat,
        "the kubelet did not rotate the token (iat {first_iat}, still {now_iat})"
    );
    let lines = app_lines(kube, NS, ROTATION_POD).await?;
    let failed: Vec<_> = lines.iter().filter(|l| l["ok"] != true).collect();
    ensure!(failed.is_empty(), "calls failed: {failed:?}");
    // whole seconds since the first token expired, rounded down
    let since = (irsa_test::now() - first_exp).max(1).unsigned_abs();
    let after_expiry = app_lines_since(kube, NS, ROTATION_POD, since).await?;
    let served = after_expiry
        .iter()
        .filter(|l| l["op"] == "GetItem" && l["ok"] == true && l["value"] == ITEM_VALUE)
        .count();
    ensure!(
        served > 0,
        "no read served after the first token expired: {after_expiry:?}"
    );
    println!(
        "token rotated after {} s; {served} reads served in the {since} s after the first token expired",
        now_iat - first_iat
    );
    Ok(())
}

async fn app_lines_since(kube: &Kube, ns: &str, pod: &str, seconds: u64) -> Result<Vec<Value>> {
    let log = kube
        .text(&format!(
            "/api/v1/namespaces/{ns}/pods/{pod}/log?sinceSeconds={seconds}"
        ))
        .await?;
    Ok(log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string())))
        .collect())
}
