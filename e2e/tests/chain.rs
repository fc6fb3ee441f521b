//! The IRSA chain as a cluster runs it: a real kube-apiserver calls `irsa webhook`, mints
//! the ServiceAccount tokens and publishes the OIDC documents that `irsa sts` trusts.
//!
//! These tests need the environment that `e2e/run` starts, so they are ignored by a plain
//! `cargo test`; `e2e/run` runs them with `--ignored`.

use anyhow::{Result, bail, ensure};
use irsa_e2e::{Env, Kube, Webhook, env_of, env_value};
use serde_json::{Value, json};
use std::time::Duration;

const ROLE_A: &str = "arn:aws:iam::111122223333:role/app-a";
const ROLE_B: &str = "arn:aws:iam::111122223333:role/app-b";
const TOKEN_FILE: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";
const MOUNT: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";

async fn setup(ns: &str, flags: &[&str]) -> Result<(Env, Kube, Webhook)> {
    let env = Env::from_env()?;
    let kube = Kube {
        client: env.client().await?,
    };
    let dir = env.scratch(ns)?;
    kube.namespace(ns).await?;
    let wh = Webhook::start(&env, &dir, flags).await?;
    kube.register_webhook(ns, &wh.url(), &wh.cert.ca_pem, ns)
        .await?;
    Ok((env, kube, wh))
}

fn container(name: &str) -> Value {
    json!({"name": name, "image": "registry.example/app:1"})
}

fn pod(name: &str, sa: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"serviceAccountName": sa, "containers": [container("app")]}
    })
}

fn find<'a>(list: &'a Value, name: &str) -> Result<&'a Value> {
    list.as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .ok_or_else(|| anyhow::anyhow!("no `{name}` in {list}"))
}

fn token_volume(pod: &Value) -> Option<&Value> {
    pod["spec"]["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == "aws-iam-token")
}

fn has_token_mount(c: &Value) -> bool {
    c["volumeMounts"].as_array().is_some_and(|m| {
        m.iter().any(|m| {
            m["name"] == "aws-iam-token" && m["mountPath"] == MOUNT && m["readOnly"] == true
        })
    })
}

fn assert_irsa(c: &Value, role: &str) -> Result<()> {
    ensure!(
        env_value(c, "AWS_ROLE_ARN").as_deref() == Some(role),
        "container {} has role {:?}, want {role}: {c}",
        c["name"],
        env_value(c, "AWS_ROLE_ARN")
    );
    ensure!(env_value(c, "AWS_WEB_IDENTITY_TOKEN_FILE").as_deref() == Some(TOKEN_FILE));
    ensure!(has_token_mount(c), "no token mount in {c}");
    Ok(())
}

fn assert_untouched(p: &Value) -> Result<()> {
    ensure!(token_volume(p).is_none(), "unexpected token volume: {p}");
    for c in p["spec"]["containers"].as_array().into_iter().flatten() {
        ensure!(
            env_of(c).iter().all(|(n, _)| !n.starts_with("AWS_")),
            "unexpected AWS env: {c}"
        );
    }
    Ok(())
}

/// A pod of ServiceAccount `app` that meets every rule at once (see
/// [`pods_created_through_the_api_server_are_mutated`]).
fn every_rule_pod() -> Value {
    let mut app = container("app");
    app["resizePolicy"] = json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"}]);
    let mut sidecar = container("proxy");
    sidecar["restartPolicy"] = json!("Always");
    sidecar["startupProbe"] = json!({"exec": {"command": ["true"]}, "periodSeconds": 3});
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "full", "annotations": {
            "eks.amazonaws.com/skip-containers": "debug",
            "eks.amazonaws.com/token-expiration": "3600"}},
        "spec": {
            "serviceAccountName": "app",
            "initContainers": [container("init"), sidecar],
            "containers": [app, container("debug")],
        }
    })
}

/// The token volume of the mutated [`every_rule_pod`]: the pod's token lifetime wins.
fn check_every_rule_token(p: &Value) -> Result<()> {
    let vol = token_volume(p).ok_or_else(|| anyhow::anyhow!("no token volume: {p}"))?;
    let sat = &vol["projected"]["sources"][0]["serviceAccountToken"];
    ensure!(sat["audience"] == "sts.amazonaws.com", "{vol}");
    ensure!(
        sat["expirationSeconds"] == 3600,
        "pod annotation must win: {vol}"
    );
    ensure!(sat["path"] == "token", "{vol}");
    Ok(())
}

/// The containers of the mutated [`every_rule_pod`]: `app` mutated in the reference's env
/// order with its fields kept, `debug` skipped.
fn check_every_rule_containers(p: &Value) -> Result<()> {
    let containers = &p["spec"]["containers"];
    let app = find(containers, "app")?;
    assert_irsa(app, ROLE_A)?;
    let names: Vec<String> = env_of(app).into_iter().map(|(n, _)| n).collect();
    ensure!(
        names
            == [
                "AWS_STS_REGIONAL_ENDPOINTS",
                "AWS_DEFAULT_REGION",
                "AWS_REGION",
                "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE"
            ],
        "env order: {names:?}"
    );
    ensure!(env_value(app, "AWS_REGION").as_deref() == Some("us-west-2"));
    ensure!(env_value(app, "AWS_STS_REGIONAL_ENDPOINTS").as_deref() == Some("regional"));
    ensure!(
        app["resizePolicy"][0]["resourceName"] == "cpu",
        "resizePolicy lost: {app}"
    );
    let debug = find(containers, "debug")?;
    ensure!(
        env_of(debug).is_empty() && !has_token_mount(debug),
        "skipped container mutated: {debug}"
    );
    Ok(())
}

/// The init containers of the mutated [`every_rule_pod`]: both mutated, the native
/// sidecar's restartPolicy and startupProbe kept.
fn check_every_rule_init_containers(p: &Value) -> Result<()> {
    let inits = &p["spec"]["initContainers"];
    assert_irsa(find(inits, "init")?, ROLE_A)?;
    let proxy = find(inits, "proxy")?;
    assert_irsa(proxy, ROLE_A)?;
    ensure!(
        proxy["restartPolicy"] == "Always",
        "sidecar restartPolicy lost: {proxy}"
    );
    ensure!(
        proxy["startupProbe"]["periodSeconds"] == 3,
        "startupProbe lost: {proxy}"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn pods_created_through_the_api_server_are_mutated() -> Result<()> {
    let ns = "e2e-mutate";
    let (_env, kube, _wh) = setup(
        ns,
        &[
            "--aws-default-region=us-west-2",
            "--sts-regional-endpoint=true",
        ],
    )
    .await?;
    kube.service_account(
        ns,
        "app",
        json!({"eks.amazonaws.com/role-arn": ROLE_A, "eks.amazonaws.com/token-expiration": "7200"}),
    )
    .await?;
    kube.service_account(ns, "plain", json!({})).await?;
    kube.service_account(
        ns,
        "global",
        json!({"eks.amazonaws.com/role-arn": ROLE_B, "eks.amazonaws.com/sts-regional-endpoints": "false"}),
    )
    .await?;

    // Every rule at once: skip-containers, a pod-level token-expiration that beats the
    // ServiceAccount's, an init container, a native sidecar whose restartPolicy and
    // startupProbe must survive, and a container field (resizePolicy) that typed structs
    // of an older client would drop.
    let p = kube.create_pod(ns, &every_rule_pod()).await?;
    check_every_rule_token(&p)?;
    check_every_rule_containers(&p)?;
    check_every_rule_init_containers(&p)?;

    // The ServiceAccount turns regional STS off; the token lifetime comes from... the
    // ServiceAccount default (flag 86400) since it sets none.
    let g = kube.create_pod(ns, &pod("global", "global")).await?;
    let c = find(&g["spec"]["containers"], "app")?;
    assert_irsa(c, ROLE_B)?;
    ensure!(env_value(c, "AWS_STS_REGIONAL_ENDPOINTS").is_none(), "{c}");
    ensure!(
        token_volume(&g).map(|v| {
            v["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"].clone()
        }) == Some(json!(86400))
    );

    // An unannotated ServiceAccount: the pod is left alone.
    assert_untouched(&kube.create_pod(ns, &pod("plain", "plain")).await?)?;

    // The opt-out label keeps the API server from calling the webhook at all.
    let mut opt_out = pod("opt-out", "app");
    opt_out["metadata"]["labels"] = json!({"eks.amazonaws.com/skip-pod-identity-webhook": "true"});
    assert_untouched(&kube.create_pod(ns, &opt_out).await?)?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn a_pod_created_right_after_its_service_account_is_mutated() -> Result<()> {
    let ns = "e2e-race";
    let (_env, kube, _wh) = setup(ns, &[]).await?;
    // The reference webhook admits such pods unmutated when its informer has not seen the
    // ServiceAccount yet. Back to back, several times.
    for i in 0..8 {
        let sa = format!("fresh-{i}");
        kube.service_account(ns, &sa, json!({"eks.amazonaws.com/role-arn": ROLE_A}))
            .await?;
        let p = kube
            .create_pod(ns, &pod(&format!("fresh-{i}"), &sa))
            .await?;
        assert_irsa(find(&p["spec"]["containers"], "app")?, ROLE_A)?;
    }
    Ok(())
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

async fn role_of_next_pod(kube: &Kube, ns: &str, sa: &str) -> Result<Option<String>> {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = kube.create_pod(ns, &pod(&format!("next-{n}"), sa)).await?;
    Ok(env_value(
        find(&p["spec"]["containers"], "app")?,
        "AWS_ROLE_ARN",
    ))
}

async fn set_role(kube: &Kube, ns: &str, sa: &str, role: Option<&str>) -> Result<()> {
    let patch = json!({"metadata": {"annotations": {"eks.amazonaws.com/role-arn": role}}});
    let req = http::Request::builder()
        .method("PATCH")
        .uri(format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}"))
        .header("content-type", "application/merge-patch+json")
        .body(patch.to_string().into_bytes())?;
    kube.client.request_text(req).await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn service_account_changes_and_api_server_restarts_are_followed() -> Result<()> {
    let ns = "e2e-follow";
    let (env, kube, wh) = setup(ns, &[]).await?;
    kube.service_account(ns, "app", json!({"eks.amazonaws.com/role-arn": ROLE_A}))
        .await?;
    ensure!(role_of_next_pod(&kube, ns, "app").await?.as_deref() == Some(ROLE_A));

    // Changed annotation: the next pod follows once the watch has delivered it.
    set_role(&kube, ns, "app", Some(ROLE_B)).await?;
    irsa_e2e::eventually(Duration::from_secs(10), || async {
        match role_of_next_pod(&kube, ns, "app").await? {
            Some(r) if r == ROLE_B => Ok(()),
            other => bail!("role still {other:?}"),
        }
    })
    .await?;

    // Removed annotation: the next pod is left alone.
    set_role(&kube, ns, "app", None).await?;
    irsa_e2e::eventually(Duration::from_secs(10), || async {
        match role_of_next_pod(&kube, ns, "app").await? {
            None => Ok(()),
            Some(r) => bail!("still mutated with {r}"),
        }
    })
    .await?;
    set_role(&kube, ns, "app", Some(ROLE_A)).await?;
    irsa_e2e::eventually(Duration::from_secs(10), || async {
        match role_of_next_pod(&kube, ns, "app").await? {
            Some(r) if r == ROLE_A => Ok(()),
            other => bail!("role still {other:?}"),
        }
    })
    .await?;

    // kube-apiserver goes away: the webhook keeps admitting from its cache.
    let review = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "5d1f6d4e-0000-4000-8000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": ns, "operation": "CREATE",
            "userInfo": {"username": "e2e"},
            "object": pod("while-down", "app")
        }
    });
    env.restart_apiserver(|| async {
        let answer = wh.admit(&review).await?;
        let resp = &answer["response"];
        ensure!(
            resp["allowed"] == true && resp["uid"] == review["request"]["uid"],
            "{answer}"
        );
        ensure!(
            resp["patchType"] == "JSONPatch",
            "no patch while the API server is down: {answer}"
        );
        let (status, _) = wh.get("/readyz").await?;
        ensure!(
            status == 200,
            "webhook went unready while the API server was down"
        );
        Ok(())
    })
    .await?;

    // ... and re-establishes its watch: a change made after the restart is followed.
    set_role(&kube, ns, "app", Some(ROLE_B)).await?;
    irsa_e2e::eventually(Duration::from_secs(60), || async {
        match role_of_next_pod(&kube, ns, "app").await? {
            Some(r) if r == ROLE_B => Ok(()),
            other => bail!("role still {other:?} after the restart"),
        }
    })
    .await?;
    Ok(())
}

/// Server-side dry run of every object in a multi-document YAML stream. Kinds whose
/// definitions the bare API server lacks (cert-manager's Certificate) are reported, not sent.
async fn dry_run_all(kube: &Kube, yaml: &str, ns: &str) -> Result<Vec<String>> {
    use kube::api::{Api, DynamicObject, PostParams};
    use kube::discovery::{Discovery, Scope};
    let discovery = Discovery::new(kube.client.clone()).run().await?;
    let mut accepted = Vec::new();
    for obj in serde_saphyr::from_multiple::<serde_json::Value>(yaml)? {
        if obj.is_null() {
            continue;
        }
        let mut obj: DynamicObject = serde_json::from_value(obj)?;
        let tm = obj
            .types
            .clone()
            .ok_or_else(|| anyhow::anyhow!("object without kind"))?;
        let gvk = kube::api::GroupVersionKind::try_from(&tm)?;
        let label = format!(
            "{}/{}",
            tm.kind,
            obj.metadata.name.clone().unwrap_or_default()
        );
        let Some((ar, caps)) = discovery.resolve_gvk(&gvk) else {
            eprintln!(
                "skipped {label}: {} is not served by a bare kube-apiserver",
                tm.api_version
            );
            continue;
        };
        let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
            let ns = obj
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| ns.to_string());
            obj.metadata.namespace = Some(ns.clone());
            Api::namespaced_with(kube.client.clone(), &ns, &ar)
        } else {
            Api::all_with(kube.client.clone(), &ar)
        };
        let pp = PostParams {
            dry_run: true,
            field_manager: Some("irsa-e2e".into()),
        };
        api.create(&pp, &obj)
            .await
            .map_err(|e| anyhow::anyhow!("{label} refused: {e}"))?;
        accepted.push(label);
    }
    Ok(accepted)
}

fn namespaces_in(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|l| l.trim().strip_prefix("namespace:"))
        .map(|n| n.trim().trim_matches('"').to_string())
        .filter(|n| !n.is_empty() && !n.contains('{'))
        .collect()
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn deploy_manifests_and_helm_chart_are_accepted() -> Result<()> {
    let env = Env::from_env()?;
    let kube = Kube {
        client: env.client().await?,
    };
    let root = irsa_e2e::workspace_root();
    let mut yaml = String::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join("deploy"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    ensure!(!files.is_empty(), "no manifests in deploy/");
    for f in &files {
        yaml.push_str(&std::fs::read_to_string(f)?);
        yaml.push_str("\n---\n");
    }
    for ns in namespaces_in(&yaml) {
        let _ = kube.namespace(&ns).await;
    }
    let accepted = dry_run_all(&kube, &yaml, "default").await?;
    for kind in [
        "ServiceAccount",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "MutatingWebhookConfiguration",
    ] {
        ensure!(
            accepted.iter().any(|a| a.starts_with(&format!("{kind}/"))),
            "deploy/ has no accepted {kind}: {accepted:?}"
        );
    }

    let helm = std::path::PathBuf::from(std::env::var("IRSA_E2E_BIN")?).join("helm");
    let out = std::process::Command::new(&helm)
        .args([
            "template",
            "irsa",
            "deploy/helm/irsa",
            "--namespace",
            "irsa-helm",
        ])
        .current_dir(&root)
        .output()?;
    ensure!(
        out.status.success(),
        "helm template failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8(out.stdout)?;
    kube.namespace("irsa-helm").await?;
    let accepted = dry_run_all(&kube, &rendered, "irsa-helm").await?;
    ensure!(
        accepted.iter().any(|a| a.starts_with("Deployment/"))
            && accepted
                .iter()
                .any(|a| a.starts_with("MutatingWebhookConfiguration/")),
        "helm chart rendered no accepted Deployment/webhook: {accepted:?}"
    );
    Ok(())
}

/// `irsa sts` trusting the API server as OIDC provider: discovery and JWKS over TLS with
/// the cluster's CA, tokens from the TokenRequest API.
struct Sts {
    proc: irsa_e2e::Proc,
    url: String,
    issuer_key: String,
}

const ACCOUNT: &str = "111122223333";
const STS_ROLE: &str = "arn:aws:iam::111122223333:role/e2e-app";

fn start_sts(env: &Env, dir: &std::path::Path, ns: &str) -> Result<Sts> {
    let host = env
        .apiserver
        .strip_prefix("https://")
        .ok_or_else(|| anyhow::anyhow!("issuer is not https"))?
        .to_string();
    let config = format!(
        r#"account: "{ACCOUNT}"
region: us-east-1
providers:
  - issuer: {issuer}
    audiences: [sts.amazonaws.com]
    caFile: {ca}
roles:
  - name: e2e-app
    maxSessionDuration: 3600
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Sid: OnlyTheAppServiceAccount
          Effect: Allow
          Principal: {{Federated: "arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"}}
          Action: sts:AssumeRoleWithWebIdentity
          Condition:
            StringEquals:
              "{host}:aud": sts.amazonaws.com
              "{host}:sub": "system:serviceaccount:{ns}:app"
"#,
        issuer = env.apiserver,
        ca = env.ca_file.display(),
    );
    let cfg = dir.join("sts.yaml");
    std::fs::write(&cfg, config)?;
    let port = irsa_e2e::free_port();
    let mut cmd = std::process::Command::new(&env.irsa);
    cmd.args(["sts", "--config"])
        .arg(&cfg)
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    let mut proc = irsa_e2e::Proc::spawn(&mut cmd, dir.join("sts.log"))?;
    proc.wait_port(port, Duration::from_secs(30))?;
    Ok(Sts {
        proc,
        url: format!("http://127.0.0.1:{port}"),
        issuer_key: host,
    })
}

/// aws-sdk-rust configured exactly as a mutated pod's environment configures it.
async fn rust_sdk(sts: &Sts, token_file: &std::path::Path) -> aws_sdk_sts::Client {
    use aws_types::os_shim_internal::{Env as OsEnv, Fs};
    let tf = token_file.display().to_string();
    let env = OsEnv::from_slice(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", tf.as_str()),
        ("AWS_ROLE_ARN", STS_ROLE),
        ("AWS_ROLE_SESSION_NAME", "e2e-rust"),
        ("AWS_ENDPOINT_URL_STS", sts.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .env(env)
        .fs(Fs::real())
        .load()
        .await;
    aws_sdk_sts::Client::new(&conf)
}

/// boto3 with the same environment, through tools/sdk-python/sts_client.py.
fn boto3(sts: &Sts, token_file: &std::path::Path, mode: &str) -> Result<Value> {
    let root = irsa_e2e::workspace_root();
    let python = root.join(".cache/sts-clients/venv/bin/python");
    ensure!(
        python.exists(),
        "boto3 is not installed: run scripts/deps/sts-clients.sh (scripts/setup)"
    );
    let out = std::process::Command::new(python)
        .arg(root.join("tools/sdk-python/sts_client.py"))
        .arg(mode)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", token_file)
        .env("AWS_ROLE_ARN", STS_ROLE)
        .env("AWS_ROLE_SESSION_NAME", "e2e-boto3")
        .env("AWS_ENDPOINT_URL_STS", &sts.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()?;
    ensure!(
        out.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

async fn assume_code(client: &aws_sdk_sts::Client, token: String) -> Result<String> {
    use aws_sdk_sts::error::ProvideErrorMetadata;
    match client
        .assume_role_with_web_identity()
        .role_arn(STS_ROLE)
        .role_session_name("e2e")
        .web_identity_token(token)
        .send()
        .await
    {
        Ok(_) => Ok("OK".into()),
        Err(e) => Ok(e
            .into_service_error()
            .code()
            .unwrap_or("no code")
            .to_string()),
    }
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn token_request_tokens_are_exchanged_by_irsa_sts() -> Result<()> {
    let env = Env::from_env()?;
    let kube = Kube {
        client: env.client().await?,
    };
    let ns = "e2e-sts";
    let dir = env.scratch(ns)?;
    kube.namespace(ns).await?;
    kube.service_account(ns, "app", json!({"eks.amazonaws.com/role-arn": STS_ROLE}))
        .await?;
    kube.service_account(ns, "other", json!({})).await?;
    let p = kube.create_pod(ns, &pod("app", "app")).await?;
    let uid = p["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let token = kube
        .token(ns, "app", &["sts.amazonaws.com"], Some(("app", &uid)))
        .await?;
    let sts = start_sts(&env, &dir, ns)?;

    // The pod's token: credentials through the SDKs' web-identity providers, which then
    // sign GetCallerIdentity with them.
    let token_file = dir.join("token");
    std::fs::write(&token_file, &token)?;
    let client = rust_sdk(&sts, &token_file).await;
    let id =
        client.get_caller_identity().send().await.map_err(|e| {
            anyhow::anyhow!("aws-sdk-rust: {e:?}; sts log:\n{}", sts.proc.log_tail())
        })?;
    ensure!(
        id.arn() == Some("arn:aws:sts::111122223333:assumed-role/e2e-app/e2e-rust"),
        "{id:?}"
    );
    ensure!(id.account() == Some(ACCOUNT));
    let b = boto3(&sts, &token_file, "identity")?;
    ensure!(
        b["Arn"] == "arn:aws:sts::111122223333:assumed-role/e2e-app/e2e-boto3",
        "{b}"
    );

    // A ServiceAccount the trust policy does not name.
    let other = kube
        .token(ns, "other", &["sts.amazonaws.com"], None)
        .await?;
    ensure!(assume_code(&client, other.clone()).await? == "AccessDenied");
    let other_file = dir.join("other-token");
    std::fs::write(&other_file, &other)?;
    ensure!(boto3(&sts, &other_file, "assume")?["code"] == "AccessDenied");

    // The API server's default audience is not a client id of the provider.
    let default_aud = kube.token(ns, "app", &[], None).await?;
    ensure!(assume_code(&client, default_aud).await? == "InvalidIdentityToken");

    // After the ServiceAccount is deleted its token is still judged by signature and expiry
    // only, as AWS does (STS cannot see the cluster).
    let unbound = kube.token(ns, "app", &["sts.amazonaws.com"], None).await?;
    kube.delete(&format!("/api/v1/namespaces/{ns}/serviceaccounts/app"))
        .await?;
    ensure!(assume_code(&client, unbound).await? == "OK");
    ensure!(!sts.issuer_key.is_empty());
    Ok(())
}
