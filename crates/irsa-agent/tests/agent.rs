//! `irsa agent` end to end on 127.0.0.1: `irsa sts` (STS and the EKS Auth API), `irsa
//! gateway` in front of dynalite, and the agent, whose own credentials come from `irsa sts`
//! through its web identity (as its IRSA-annotated ServiceAccount gives them in a cluster)
//! and whose EKS Auth client is aws-sdk-eksauth. Then REAL SDKs, unmodified, get
//! credentials through the agent with `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, call GetCallerIdentity and read DynamoDB
//! through the gateway, where a policy on `aws:PrincipalTag/kubernetes-namespace` decides.
//!
//! External clients and dynalite come from `scripts/deps/sts-clients.sh` and
//! `scripts/deps/gateway.sh`; when one is missing the test fails naming the script, unless
//! `IRSA_SKIP_EXTERNAL` is set.

use irsa_test::jose::{jwks_of, rs256 as key, sign_over};
use irsa_test::net::Reply;
use irsa_test::{Dynalite, now, sdk};
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const ISS: &str = "https://oidc.example.test/id/CLUSTER";
const ACCOUNT: &str = "111122223333";
const NODE_ROLE: &str = "arn:aws:iam::111122223333:role/irsa-agent";
const UPSTREAM_SECRET: &str = "upstreamSecretKeyForDynaliteTests000000";

fn config(upstream: &str) -> String {
    format!(
        r#"
account: "{ACCOUNT}"
region: us-east-1
providers:
  - issuer: {ISS}
    audiences: [sts.amazonaws.com]
    jwksFile: jwks.json
clusters:
  - name: dev
    issuer: {ISS}
    jwksFile: jwks.json
roles:
  - name: irsa-agent
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {{Federated: "arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.example.test/id/CLUSTER"}}
          Action: sts:AssumeRoleWithWebIdentity
          Condition:
            StringEquals:
              "oidc.example.test/id/CLUSTER:sub": "system:serviceaccount:kube-system:irsa-agent"
    policies:
      agent:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: eks-auth:AssumeRoleForPodIdentity
            Resource: "arn:aws:eks:us-east-1:{ACCOUNT}:cluster/dev"
  - name: app
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {{Service: pods.eks.amazonaws.com}}
          Action: [sts:AssumeRole, sts:TagSession]
          Condition:
            StringEquals:
              "aws:RequestTag/eks-cluster-name": dev
    policies:
      read:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: dynamodb:GetItem
            Resource: "arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/books"
            Condition:
              StringEquals:
                "aws:PrincipalTag/kubernetes-namespace": default
podIdentityAssociations:
  - cluster: dev
    namespace: default
    serviceAccount: reader
    roleArn: arn:aws:iam::{ACCOUNT}:role/app
  - cluster: dev
    namespace: team-b
    serviceAccount: reader
    roleArn: arn:aws:iam::{ACCOUNT}:role/app
signingKeys:
  - file: master.key
gateway:
  upstream:
    url: {upstream}
    accessKeyId: AKIAUPSTREAMEXAMPLE1
    secretAccessKeyFile: upstream.secret
"#
    )
}

/// A token as the kubelet projects it for a pod: `overrides` merged over good claims.
fn pod_token(namespace: &str, sa: &str, overrides: Value) -> String {
    let n = now();
    let claims = json!({
        "iss": ISS, "sub": format!("system:serviceaccount:{namespace}:{sa}"),
        "aud": ["pods.eks.amazonaws.com"], "iat": n - 5, "nbf": n - 5, "exp": n + 3600,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": sa, "uid": "0b7a2c1e-1111-4000-8000-000000000001"},
            "pod": {"name": format!("{sa}-5d8f7-x2x9q"), "uid": "6c1f9e2d-2222-4000-8000-000000000002"}
        }
    });
    sign_over(key(), claims, &overrides)
}

struct Fixture {
    dir: tempfile::TempDir,
    sts: SocketAddr,
    gateway: SocketAddr,
    agent_addr: SocketAddr,
    agent: Arc<irsa_agent::Agent>,
    _dynalite: Dynalite,
}

impl Fixture {
    fn agent_url(&self) -> String {
        format!("http://{}{}", self.agent_addr, irsa_agent::CREDENTIALS_PATH)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// A stack of its own for each test: dropped at the test's end, which stops dynalite (a
/// fixture in a static would never be dropped, and would leave dynalite running).
fn fixture() -> Option<Fixture> {
    start()
}

fn start() -> Option<Fixture> {
    let dynalite = Dynalite::start()?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("jwks.json"), jwks_of(&[key()]).to_json()).unwrap();
    std::fs::write(d.join("master.key"), "42".repeat(32)).unwrap();
    std::fs::write(d.join("upstream.secret"), UPSTREAM_SECRET).unwrap();
    let cfg = d.join("irsa.yaml");
    std::fs::write(&cfg, config(&dynalite.url)).unwrap();
    // The agent's own identity: a web identity token of its ServiceAccount.
    let n = now();
    let node_token = key()
        .sign_jwt(
            &Map::new(),
            json!({"iss": ISS, "sub": "system:serviceaccount:kube-system:irsa-agent",
                   "aud": ["sts.amazonaws.com"], "iat": n - 5, "exp": n + 3600})
            .as_object()
            .unwrap(),
        )
        .unwrap();
    let node_token_file = d.join("agent.token");
    std::fs::write(&node_token_file, node_token).unwrap();

    let (tx, rx) = std::sync::mpsc::channel();
    let upstream = dynalite.url.clone();
    irsa_test::net::spawn_runtime(async move {
        seed(&upstream).await;
        let sts_server = irsa_sts::Server::from_file(&cfg, irsa_sts::Options::default()).unwrap();
        let sts_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sts = sts_l.local_addr().unwrap();
        tokio::spawn(irsa_sts::serve(sts_l, sts_server, std::future::pending()));
        let gw = irsa_gateway::from_file(
            &cfg,
            irsa_gateway::UpstreamSection::default(),
            Duration::from_secs(10),
            irsa_gateway::Options::default(),
        )
        .unwrap();
        let gw_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = gw_l.local_addr().unwrap();
        tokio::spawn(irsa_gateway::serve(gw_l, gw, std::future::pending()));

        let sts_url = format!("http://{sts}");
        let sdk = node_sdk_config(&node_token_file, &sts_url).await;
        let client = irsa_agent::client(&sdk, Some(&sts_url));
        let agent = irsa_agent::Agent::new(
            client,
            irsa_agent::Options {
                cluster_name: "dev".into(),
                allowed_hosts: vec!["127.0.0.1".into()],
                ..irsa_agent::Options::default()
            },
        );
        let agent_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let agent_addr = agent_l.local_addr().unwrap();
        tokio::spawn(irsa_agent::serve(
            agent_l,
            agent.clone(),
            std::future::pending(),
        ));
        tx.send((sts, gateway, agent_addr, agent)).unwrap();
        std::future::pending::<()>().await;
    });
    let (sts, gateway, agent_addr, agent) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    Some(Fixture {
        dir,
        sts,
        gateway,
        agent_addr,
        agent,
        _dynalite: dynalite,
    })
}

/// The agent's SDK configuration: the default chain, reading only what a DaemonSet pod with
/// an IRSA ServiceAccount has in its environment.
async fn node_sdk_config(token_file: &Path, sts_url: &str) -> aws_config::SdkConfig {
    let tf = token_file.display().to_string();
    sdk::config_from_env(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", tf.as_str()),
        ("AWS_ROLE_ARN", NODE_ROLE),
        ("AWS_ROLE_SESSION_NAME", "node-1"),
        ("AWS_ENDPOINT_URL_STS", sts_url),
        ("AWS_REGION", "us-east-1"),
    ])
    .await
}

/// Table `books` with item `a` in dynalite, written with the upstream's own credentials.
async fn seed(upstream: &str) {
    let ddb = sdk::dynamodb(
        upstream,
        sdk::credentials("AKIAUPSTREAMEXAMPLE1", UPSTREAM_SECRET, None),
    );
    sdk::create_table(&ddb, "books", "pk").await.unwrap();
    sdk::put_strings(&ddb, "books", &[("pk", "a"), ("title", "Dune")])
        .await
        .unwrap();
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// `GET /v1/credentials` as the SDKs send it.
fn get_credentials(f: &Fixture, token: Option<&str>, host: Option<&str>) -> Reply {
    let mut b = http::Request::builder().method("GET").uri(f.agent_url());
    if let Some(t) = token {
        b = b.header("authorization", t);
    }
    if let Some(h) = host {
        b = b.header("host", h);
    }
    block_on(irsa_test::net::send(b.body(Default::default()).unwrap()))
}

// ---------------------------------------------------------------- the wire

#[test]
fn container_credentials_json_and_cache() {
    let Some(f) = fixture() else { return };
    let f = &f;
    let tok = pod_token("default", "cache-reader", json!({}));
    // No association for this one yet: refused; then the associated one.
    let r = get_credentials(f, Some(&tok), None);
    assert_eq!(r.status, 404, "{}", r.text());
    let tok = pod_token("default", "reader", json!({"jti": "cache"}));
    let before = f.agent.cached();
    let r = get_credentials(f, Some(&tok), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let akid = v["AccessKeyId"].as_str().unwrap().to_owned();
    assert!(akid.starts_with("ASIA") && akid.len() == 20, "{v}");
    assert_eq!(v["SecretAccessKey"].as_str().unwrap().len(), 40);
    assert!(!v["Token"].as_str().unwrap().is_empty());
    assert_eq!(v["AccountId"], ACCOUNT);
    let exp = time::OffsetDateTime::parse(
        v["Expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    // The app role's maximum session duration (1 h) bounds the session.
    assert!((exp - now() - 3600).abs() <= 5, "{v}");
    // The same token again: from the cache.
    let again = get_credentials(f, Some(&tok), None).json();
    assert_eq!(again["AccessKeyId"], akid.as_str());
    assert_eq!(f.agent.cached(), before + 1);
    // Concurrent requests with a new token: one call to EKS Auth, one session for all.
    let fresh = pod_token("default", "reader", json!({"jti": "concurrent"}));
    let keys: Vec<String> = block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let req = http::Request::builder()
                .uri(f.agent_url())
                .header("authorization", &fresh)
                .body(Default::default())
                .unwrap();
            set.spawn(irsa_test::net::send(req));
        }
        let mut keys = Vec::new();
        while let Some(r) = set.join_next().await {
            let r = r.unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            keys.push(r.json()["AccessKeyId"].as_str().unwrap().to_owned());
        }
        keys
    });
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    // The session is the pod's, with EKS's tags: GetCallerIdentity by the issued keys.
    let id = block_on(caller_identity(f, &v));
    assert!(
        id.starts_with("arn:aws:sts::111122223333:assumed-role/app/eks-dev-reader-5d8f7-x2x9q-"),
        "{id}"
    );
}

async fn caller_identity(f: &Fixture, v: &Value) -> String {
    let creds = aws_credential_types::Credentials::new(
        v["AccessKeyId"].as_str().unwrap(),
        v["SecretAccessKey"].as_str().unwrap(),
        Some(v["Token"].as_str().unwrap().to_owned()),
        None,
        "agent",
    );
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://{}", f.sts))
        .credentials_provider(creds)
        .build();
    let out = aws_sdk_sts::Client::from_conf(conf)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    out.arn().unwrap().to_owned()
}

#[test]
fn refusals_are_the_agents_and_the_apis() {
    let Some(f) = fixture() else { return };
    let f = &f;
    let cases = [
        // No association for the ServiceAccount.
        (
            pod_token("default", "writer", json!({})),
            404,
            "(ResourceNotFoundException): No pod identity association found for service account writer in namespace default of cluster dev, fault: client",
        ),
        // A token for another audience (the IRSA one).
        (
            pod_token("default", "reader", json!({"aud": ["sts.amazonaws.com"]})),
            400,
            "(InvalidTokenException)",
        ),
        // A token of another issuer.
        (
            pod_token(
                "default",
                "reader",
                json!({"iss": "https://elsewhere.example.test"}),
            ),
            400,
            "(InvalidTokenException)",
        ),
    ];
    for (i, (tok, status, text)) in cases.iter().enumerate() {
        let r = get_credentials(f, Some(tok), None);
        assert_eq!(r.status, *status, "case {i}: {}", r.text());
        assert!(r.text().contains(text), "case {i}: {}", r.text());
        assert!(r.text().starts_with('['), "case {i}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    // Tampered: this token's payload with another token's signature.
    let good = pod_token("default", "reader", json!({}));
    let other = pod_token("kube-system", "admin", json!({}));
    let (_, sig) = other.rsplit_once('.').unwrap();
    let (head, _) = good.rsplit_once('.').unwrap();
    let r = get_credentials(f, Some(&format!("{head}.{sig}")), None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("(InvalidTokenException)"), "{}", r.text());
    // Refused by the agent itself, before any call.
    let r = get_credentials(f, None, None);
    assert_eq!(
        (r.status, r.text()),
        (400, "Service account token cannot be empty\n")
    );
    let r = get_credentials(f, Some("not-a-jwt"), None);
    assert_eq!(r.status, 400, "{}", r.text());
    let expired = pod_token("default", "reader", json!({"exp": now() - 10}));
    let r = get_credentials(f, Some(&expired), None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("token is expired"), "{}", r.text());
    // Two Authorization headers: which one an SDK meant is unknown, so neither is used.
    let two = http::Request::builder()
        .method("GET")
        .uri(f.agent_url())
        .header("authorization", &good)
        .header("authorization", &other)
        .body(Default::default())
        .unwrap();
    let r = block_on(irsa_test::net::send(two));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = get_credentials(f, Some(&good), Some("attacker.example"));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text()
            .starts_with("Access Denied. Called agent through invalid address")
    );
    let r = block_on(irsa_test::net::get(&format!(
        "http://{}/v2/credentials",
        f.agent_addr
    )));
    assert_eq!(r.status, 404);
}

#[test]
fn eks_auth_route_answers_in_its_json_error_form() {
    let Some(f) = fixture() else { return };
    let f = &f;
    let body = json!({"token": pod_token("default", "reader", json!({}))}).to_string();
    let r = block_on(irsa_test::net::post(
        &format!("http://{}/clusters/dev/assume-role-for-pod-identity", f.sts),
        "application/json",
        body,
    ));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["message"], "Missing Authentication Token");
    let r = block_on(irsa_test::net::post(
        &format!(
            "http://{}/clusters/dev%2Fx/assume-role-for-pod-identity",
            f.sts
        ),
        "application/json",
        "{}",
    ));
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("InvalidParameterException"),
        "{}",
        r.text()
    );
    // STS is unchanged beside it.
    let r = block_on(irsa_test::net::post(
        &format!("http://{}/", f.sts),
        "application/x-www-form-urlencoded",
        "Action=GetCallerIdentity&Version=2011-06-15",
    ));
    assert_eq!(r.xml("Code"), "MissingAuthenticationToken");
}

// ---------------------------------------------------------------- aws-sdk-rust

fn sdk_env<'a>(
    f: &Fixture,
    token_file: &'a str,
    full_uri: &'a str,
    sts: &'a str,
    gw: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let _ = f;
    vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file),
        ("AWS_ENDPOINT_URL_STS", sts),
        ("AWS_ENDPOINT_URL_DYNAMODB", gw),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

#[test]
#[allow(clippy::result_large_err, reason = "the SDK's error type")]
fn aws_sdk_rust_through_the_agent_and_the_gateway() {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    use aws_sdk_dynamodb::types::AttributeValue;
    let Some(f) = fixture() else { return };
    let f = &f;
    let (full_uri, sts, gw) = (
        f.agent_url(),
        format!("http://{}", f.sts),
        format!("http://{}", f.gateway),
    );
    let run = |namespace: &str| {
        let tf = f.write(
            &format!("rust-{namespace}.token"),
            &pod_token(namespace, "reader", json!({})),
        );
        let tf = tf.display().to_string();
        let env =
            aws_types::os_shim_internal::Env::from_slice(&sdk_env(f, &tf, &full_uri, &sts, &gw));
        block_on(async move {
            let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .env(env)
                .fs(aws_types::os_shim_internal::Fs::real())
                .load()
                .await;
            let id = aws_sdk_sts::Client::new(&conf)
                .get_caller_identity()
                .send()
                .await
                .unwrap();
            let item = aws_sdk_dynamodb::Client::new(&conf)
                .get_item()
                .table_name("books")
                .key("pk", AttributeValue::S("a".into()))
                .send()
                .await;
            (id.arn().unwrap().to_owned(), item)
        })
    };
    let (arn, item) = run("default");
    assert!(
        arn.starts_with("arn:aws:sts::111122223333:assumed-role/app/eks-dev-reader-"),
        "{arn}"
    );
    let item = item.unwrap();
    assert_eq!(
        item.item().unwrap().get("title"),
        Some(&AttributeValue::S("Dune".into()))
    );
    // Same role, another namespace: its session tag says so, and the policy denies.
    let (arn, item) = run("team-b");
    assert!(arn.contains("assumed-role/app/"), "{arn}");
    let e = item.unwrap_err().into_service_error();
    assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
}

// ---------------------------------------------------------------- external clients

fn external(path: &str, what: &str) -> Option<PathBuf> {
    irsa_test::external(path, what, "scripts/deps/sts-clients.sh")
}

/// Runs a client with a clean environment: only the container credentials variables the
/// webhook injects, the endpoints, and the region.
fn run_client(
    f: &Fixture,
    program: &Path,
    args: &[&str],
    namespace: &str,
    name: &str,
) -> (bool, String, String) {
    let tf = f.write(
        &format!("{name}-{namespace}.token"),
        &pod_token(namespace, "reader", json!({})),
    );
    let tf = tf.display().to_string();
    let agent = f.agent_url();
    let sts = format!("http://{}", f.sts);
    let gateway = format!("http://{}", f.gateway);
    let r = irsa_test::run_client(
        program,
        args,
        &f.dir.path().join("home"),
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.as_str()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tf.as_str()),
            ("AWS_ENDPOINT_URL_STS", sts.as_str()),
            ("AWS_ENDPOINT_URL_DYNAMODB", gateway.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ],
    );
    (r.ok, r.stdout, r.stderr)
}

fn check_identity(client: &str, f: &Fixture, program: &Path, args: &[&str]) {
    let (ok, out, err) = run_client(f, program, args, "default", client);
    assert!(ok, "{client}: {out}\n{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{client}: {out}"));
    let arn = v["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::111122223333:assumed-role/app/eks-dev-reader-"),
        "{client}: {arn}"
    );
    assert_eq!(v["Account"], ACCOUNT);
}

#[test]
fn boto3_through_the_agent() {
    let Some(f) = fixture() else { return };
    let f = &f;
    let Some(py) = external(".cache/sts-clients/venv/bin/python", "boto3") else {
        return;
    };
    let script = irsa_test::workspace_root().join("tools/sdk-python/sts_client.py");
    check_identity("boto3", f, &py, &[script.to_str().unwrap(), "identity"]);
}

#[test]
fn aws_cli_through_the_agent_and_the_gateway() {
    let Some(f) = fixture() else { return };
    let f = &f;
    let Some(aws) = external(".cache/sts-clients/venv/bin/aws", "aws cli") else {
        return;
    };
    check_identity(
        "cli",
        f,
        &aws,
        &["sts", "get-caller-identity", "--output", "json"],
    );
    let get = [
        "dynamodb",
        "get-item",
        "--table-name",
        "books",
        "--key",
        r#"{"pk":{"S":"a"}}"#,
        "--output",
        "json",
    ];
    let (ok, out, err) = run_client(f, &aws, &get, "default", "cli-ddb");
    assert!(ok, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Item"]["title"]["S"], "Dune");
    let (ok, out, err) = run_client(f, &aws, &get, "team-b", "cli-ddb");
    assert!(!ok, "{out}");
    assert!(err.contains("(AccessDeniedException)"), "{err}");
}

#[test]
fn aws_sdk_go_v2_through_the_agent() {
    let Some(f) = fixture() else { return };
    let f = &f;
    let Some(bin) = external(".cache/sts-clients/sdk-go-client", "aws-sdk-go-v2 client") else {
        return;
    };
    check_identity("go", f, &bin, &["identity"]);
}

#[test]
fn aws_sdk_js_v3_through_the_agent() {
    let Some(f) = fixture() else { return };
    let f = &f;
    let Some(_) = external(
        "tools/sdk-js/node_modules/@aws-sdk/client-sts",
        "@aws-sdk/client-sts",
    ) else {
        return;
    };
    let script = irsa_test::workspace_root().join("tools/sdk-js/sts-client.mjs");
    check_identity(
        "js",
        f,
        Path::new("node"),
        &[script.to_str().unwrap(), "chain"],
    );
}
