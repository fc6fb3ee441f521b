//! `irsa doctor` against the real kube-apiserver: a healthy setup passes every check, and
//! each broken setup is diagnosed with the right ✘ and fix.
//!
//! Needs the environment that `e2e/run` starts (ignored by a plain `cargo test`).

use anyhow::{Result, ensure};
use irsa_e2e::{Env, Kube, Webhook};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

const ACCOUNT: &str = "111122223333";

/// An `irsa sts` configuration: the API server as provider (with `audiences`), and roles.
fn sts_config(
    env: &Env,
    dir: &Path,
    audiences: &[&str],
    register: bool,
    roles: &str,
) -> Result<std::path::PathBuf> {
    let providers = if register {
        format!(
            "providers:\n  - issuer: {}\n    audiences: {audiences:?}\n    caFile: {}\n",
            env.apiserver,
            env.ca_file.display()
        )
    } else {
        "providers: []\n".to_owned()
    };
    let text = format!("account: \"{ACCOUNT}\"\nregion: us-east-1\n{providers}roles:\n{roles}");
    let p = dir.join("sts.yaml");
    std::fs::write(&p, text)?;
    Ok(p)
}

fn host(env: &Env) -> String {
    env.apiserver.trim_start_matches("https://").to_owned()
}

/// A role trusting `sub` (a YAML list item).
fn role(env: &Env, name: &str, path: &str, sub: &str) -> String {
    let h = host(env);
    format!(
        r#"  - name: {name}
    path: {path}
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Sid: App
          Effect: Allow
          Principal: {{Federated: "arn:aws:iam::{ACCOUNT}:oidc-provider/{h}"}}
          Action: sts:AssumeRoleWithWebIdentity
          Condition:
            StringEquals:
              "{h}:aud": sts.amazonaws.com
              "{h}:sub": "{sub}"
    policies:
      read: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"}}]}}
"#
    )
}

fn pod(name: &str, sa: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name},
           "spec": {"serviceAccountName": sa,
                    "containers": [{"name": "app", "image": "example.invalid/app:1"}]}})
}

/// The checks of `irsa doctor ... --format json`, and its exit code.
fn doctor(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Result<(i32, Vec<Value>)> {
    let out = Command::new(&env.irsa)
        .arg("doctor")
        .args(args)
        .args(["--format", "json"])
        .envs(envs.iter().copied())
        .output()?;
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        anyhow::anyhow!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((
        out.status.code().unwrap_or(-1),
        v["checks"].as_array().cloned().unwrap_or_default(),
    ))
}

fn check<'a>(checks: &'a [Value], id: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

/// The check `id` failed, and its evidence and fix contain the given texts.
fn failed(checks: &[Value], id: &str, evidence: &str, fix: &str) -> Result<()> {
    let c = check(checks, id);
    ensure!(c["ok"] == false, "{id} passed: {c}");
    let ev = c["evidence"].to_string();
    ensure!(
        ev.contains(evidence),
        "{id} evidence lacks `{evidence}`: {c}"
    );
    let fx = c["fix"].as_str().unwrap_or("");
    ensure!(fx.contains(fix), "{id} fix lacks `{fix}`: {c}");
    Ok(())
}

/// Every check passed and the exit code is 0; `what` names the setup in the error.
fn all_passed(code: i32, checks: &[Value], what: &str) -> Result<()> {
    for ch in checks {
        ensure!(ch["ok"] == true, "{what}: {ch}");
    }
    ensure!(code == 0, "{what}: exit {code}");
    Ok(())
}

fn passed(checks: &[Value], id: &str) -> Result<()> {
    let c = check(checks, id);
    ensure!(c["ok"] == true, "{id} failed: {c}");
    Ok(())
}

struct Case {
    env: Env,
    kube: Kube,
    ns: String,
    dir: std::path::PathBuf,
}

async fn case(ns: &str) -> Result<Case> {
    let env = Env::from_env()?;
    let kube = Kube {
        client: env.client().await?,
    };
    let dir = env.scratch(ns)?;
    kube.namespace(ns).await?;
    Ok(Case {
        env,
        kube,
        ns: ns.to_owned(),
        dir,
    })
}

impl Case {
    fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }
    fn sub(&self, sa: &str) -> String {
        format!("system:serviceaccount:{}:{sa}", self.ns)
    }
    /// A token of the ServiceAccount `sa` for `sts.amazonaws.com` (a TokenRequest), written
    /// to the file `token` of the case's folder; its path.
    async fn token_file(&self, sa: &str) -> Result<std::path::PathBuf> {
        let token = self
            .kube
            .token(&self.ns, sa, &["sts.amazonaws.com"], None)
            .await?;
        let tf = self.dir.join("token");
        std::fs::write(&tf, &token)?;
        Ok(tf)
    }
    /// The ServiceAccount `sa`, annotated with the role `role`.
    async fn annotated(&self, sa: &str, role: &str) -> Result<()> {
        self.kube
            .service_account(
                &self.ns,
                sa,
                json!({"eks.amazonaws.com/role-arn": self.role_arn(role)}),
            )
            .await
            .map(|_| ())
    }
    /// An `irsa sts` configuration whose role `app` trusts the ServiceAccount `sa` of this
    /// namespace (see [`sts_config`]).
    fn config(&self, audiences: &[&str], register: bool, sa: &str) -> Result<std::path::PathBuf> {
        sts_config(
            &self.env,
            &self.dir,
            audiences,
            register,
            &role(&self.env, "app", "/", &self.sub(sa)),
        )
    }
    fn run(&self, pod: &str, cfg: &Path) -> Result<(i32, Vec<Value>)> {
        doctor(
            &self.env,
            &[
                "--sts-config",
                &cfg.display().to_string(),
                "--kubeconfig",
                &self.env.kubeconfig.display().to_string(),
                "pod",
                &format!("{}/{pod}", self.ns),
            ],
            &[],
        )
    }
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn a_healthy_pod_passes_every_check_and_broken_setups_are_diagnosed() -> Result<()> {
    // The healthy setup: webhook running and selecting the namespace, annotated
    // ServiceAccount, pod created after it, provider registered, trust pinned to the SA.
    let c = case("doc-ok").await?;
    let wh = Webhook::start(&c.env, &c.dir, &[]).await?;
    c.kube
        .register_webhook("doc-ok", &wh.url(), &wh.cert.ca_pem, "doc-ok")
        .await?;
    c.annotated("app", "app").await?;
    c.kube.create_pod(&c.ns, &pod("app", "app")).await?;
    let cfg = c.config(&["sts.amazonaws.com"], true, "app")?;
    let (code, checks) = c.run("app", &cfg)?;
    all_passed(code, &checks, "healthy setup failed a check")?;
    ensure!(checks.len() >= 13, "{} checks", checks.len());

    service_account_side_is_diagnosed(&c, &cfg).await?;
    role_side_is_diagnosed(&c).await?;
    provider_side_is_diagnosed(&c).await?;
    a_webhook_that_is_down_is_diagnosed(&wh.cert.ca_pem).await?;
    an_expired_token_is_diagnosed(&c).await?;
    drop(wh);
    Ok(())
}

/// Broken setups 1-3 of the healthy case `c` (checked with `cfg`): the ServiceAccount's
/// side.
async fn service_account_side_is_diagnosed(c: &Case, cfg: &Path) -> Result<()> {
    // 1. ServiceAccount not annotated.
    c.kube.service_account(&c.ns, "plain", json!({})).await?;
    c.kube.create_pod(&c.ns, &pod("plain", "plain")).await?;
    let (code, checks) = c.run("plain", cfg)?;
    ensure!(code == 1);
    failed(
        &checks,
        "service-account",
        "has no eks.amazonaws.com/role-arn",
        "kubectl annotate serviceaccount -n doc-ok plain eks.amazonaws.com/role-arn=",
    )?;
    failed(
        &checks,
        "pod-mutated",
        "no role annotation",
        "kubectl delete pod -n doc-ok plain",
    )?;

    // 2. A typo in the role ARN.
    c.annotated("typo", "apq").await?;
    c.kube.create_pod(&c.ns, &pod("typo", "typo")).await?;
    let (_, checks) = c.run("typo", cfg)?;
    passed(&checks, "service-account")?;
    failed(
        &checks,
        "role-exists",
        "no role arn:aws:iam::111122223333:role/apq",
        "create the role",
    )?;

    // 3. The pod was created before the ServiceAccount got its annotation.
    c.kube.service_account(&c.ns, "late", json!({})).await?;
    c.kube.create_pod(&c.ns, &pod("late", "late")).await?;
    c.kube
        .call(
            "PATCH",
            &format!("/api/v1/namespaces/{}/serviceaccounts/late", c.ns),
            Some(&json!({"metadata": {"annotations": {"eks.amazonaws.com/role-arn": c.role_arn("app")}}})),
        )
        .await
        .ok();
    let sa = c
        .kube
        .get(&format!("/api/v1/namespaces/{}/serviceaccounts/late", c.ns))
        .await?;
    if sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].is_null() {
        // A merge patch needs its content type: replace the object instead.
        let mut sa = sa;
        sa["metadata"]["annotations"] = json!({"eks.amazonaws.com/role-arn": c.role_arn("app")});
        c.kube
            .call(
                "PUT",
                &format!("/api/v1/namespaces/{}/serviceaccounts/late", c.ns),
                Some(&sa),
            )
            .await?;
    }
    let (_, checks) = c.run("late", cfg)?;
    passed(&checks, "service-account")?;
    failed(
        &checks,
        "pod-mutated",
        "created before the ServiceAccount got its annotation",
        "kubectl delete pod -n doc-ok late",
    )?;
    Ok(())
}

/// Broken setups 4-5: the role's trust and path.
async fn role_side_is_diagnosed(c: &Case) -> Result<()> {
    // 4. The role's trust names another namespace.
    let other = role(&c.env, "app", "/", "system:serviceaccount:elsewhere:app");
    let cfg_other = sts_config(&c.env, &c.dir, &["sts.amazonaws.com"], true, &other)?;
    let (_, checks) = c.run("app", &cfg_other)?;
    failed(
        &checks,
        "trust-policy",
        "system:serviceaccount:elsewhere:app",
        "system:serviceaccount:doc-ok:app",
    )?;
    let ev = check(&checks, "trust-policy")["evidence"].to_string();
    ensure!(ev.contains(":sub") && ev.contains("is false"), "{ev}");

    // 5. The role exists under another path.
    let pathed = role(&c.env, "app", "/irsa/", &c.sub("app"));
    let cfg_path = sts_config(&c.env, &c.dir, &["sts.amazonaws.com"], true, &pathed)?;
    let (_, checks) = c.run("app", &cfg_path)?;
    failed(
        &checks,
        "role-exists",
        "no role arn:aws:iam::111122223333:role/app",
        "arn:aws:iam::111122223333:role/irsa/app",
    )?;
    Ok(())
}

/// Broken setups 6-8: the OIDC provider and the token's audience.
async fn provider_side_is_diagnosed(c: &Case) -> Result<()> {
    // 6. The provider is not registered.
    let cfg_none = c.config(&["sts.amazonaws.com"], false, "app")?;
    let (_, checks) = c.run("app", &cfg_none)?;
    failed(
        &checks,
        "oidc-provider",
        "registered providers",
        &format!(
            "aws iam create-open-id-connect-provider --url {}",
            c.env.apiserver
        ),
    )?;

    // 7. The provider lists another audience.
    let cfg_aud = c.config(&["other.example.com"], true, "app")?;
    let (_, checks) = c.run("app", &cfg_aud)?;
    passed(&checks, "oidc-provider")?;
    failed(
        &checks,
        "provider-audience",
        "do not include `sts.amazonaws.com`",
        "aws iam add-client-id-to-open-id-connect-provider",
    )?;

    // 8. Wrong audience: the ServiceAccount asks for an audience the provider does not list
    // (and the trust does not name); the webhook projects the token with it.
    c.kube
        .service_account(
            &c.ns,
            "aud",
            json!({"eks.amazonaws.com/role-arn": c.role_arn("app"), "eks.amazonaws.com/audience": "wrong.example.com"}),
        )
        .await?;
    c.kube.create_pod(&c.ns, &pod("aud", "aud")).await?;
    let cfg_aud2 = c.config(&["sts.amazonaws.com"], true, "aud")?;
    let (_, checks) = c.run("aud", &cfg_aud2)?;
    passed(&checks, "pod-mutated")?;
    ensure!(
        check(&checks, "token")["evidence"]
            .to_string()
            .contains("wrong.example.com")
    );
    failed(
        &checks,
        "provider-audience",
        "wrong.example.com",
        "--client-id wrong.example.com",
    )?;
    failed(
        &checks,
        "trust-policy",
        "the token's aud is `wrong.example.com`",
        "wrong.example.com",
    )?;
    Ok(())
}

/// Broken setup 9, in a namespace of its own whose webhook (trusting `ca_pem`) is not
/// running.
async fn a_webhook_that_is_down_is_diagnosed(ca_pem: &str) -> Result<()> {
    // 9. The webhook is down and its failurePolicy Ignore lets pods through unmutated.
    let d = case("doc-down").await?;
    let port = irsa_e2e::free_port();
    ignoring_webhook(
        &d.kube,
        "doc-down",
        json!({"url": format!("https://127.0.0.1:{port}/mutate"),
               "caBundle": base64_ca(ca_pem)}),
    )
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    d.annotated("app", "app").await?;
    d.kube.create_pod(&d.ns, &pod("app", "app")).await?;
    let cfg_d = d.config(&["sts.amazonaws.com"], true, "app")?;
    let (_, checks) = d.run("app", &cfg_d)?;
    failed(
        &checks,
        "webhook-backend",
        "failurePolicy Ignore",
        "start the webhook",
    )?;
    failed(
        &checks,
        "pod-mutated",
        "failurePolicy Ignore",
        "kubectl delete pod -n doc-down app",
    )?;
    Ok(())
}

/// Broken setup 10 of the healthy case `c`.
async fn an_expired_token_is_diagnosed(c: &Case) -> Result<()> {
    // 10. An expired token file, seen from inside the pod.
    let tf = c.token_file("app").await?;
    let later = (irsa_test::now() + 7200).to_string();
    let (code, checks) = doctor(
        &c.env,
        &["--in-pod", "--now", &later],
        &[
            ("AWS_ROLE_ARN", c.role_arn("app").as_str()),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", &tf.display().to_string()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    )?;
    ensure!(code == 1);
    passed(&checks, "environment")?;
    failed(&checks, "token-file", "expired", "projected")?;
    Ok(())
}

/// A webhook configuration `name` for pod CREATE in the namespace labelled `irsa-e2e=<name>`,
/// reached by `client_config`, whose failurePolicy Ignore lets pods through when it fails.
async fn ignoring_webhook(kube: &Kube, name: &str, client_config: Value) -> Result<()> {
    kube.post(
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        &json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{"name": format!("{name}.e2e.irsa.dev"),
                "clientConfig": client_config,
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "sideEffects": "None", "admissionReviewVersions": ["v1"], "failurePolicy": "Ignore",
                "timeoutSeconds": 2,
                "namespaceSelector": {"matchLabels": {"irsa-e2e": name}}}]}),
    )
    .await
    .map(|_| ())
}

fn base64_ca(pem: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(pem)
}

/// moto's IAM server (PyPI, installed by scripts/deps/sts-clients.sh) on 127.0.0.1, for
/// `irsa doctor --aws`; the account is ACCOUNT.
struct Moto {
    _proc: irsa_e2e::Proc,
    url: String,
}

fn venv(bin: &str) -> Result<std::path::PathBuf> {
    irsa_test::external(
        format!(".cache/sts-clients/venv/bin/{bin}"),
        bin,
        "scripts/deps/sts-clients.sh",
    )
    .ok_or_else(|| anyhow::anyhow!("{bin} is not installed: run scripts/deps/sts-clients.sh"))
}

impl Moto {
    fn start(dir: &Path) -> Result<Moto> {
        let port = irsa_e2e::free_port();
        let mut cmd = Command::new(venv("moto_server")?);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ACCOUNT_ID", ACCOUNT);
        let mut proc = irsa_e2e::Proc::spawn(&mut cmd, dir.join("moto.log"))?;
        proc.wait_port(port, std::time::Duration::from_secs(30))?;
        Ok(Moto {
            _proc: proc,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// The environment an SDK needs to reach it (static credentials, no profile files).
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_IAM", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
            ("AWS_SECRET_ACCESS_KEY", "secret".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_CONFIG_FILE", "/nonexistent/config".into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/credentials".into(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// `aws iam ARGS` against it; the JSON it printed.
    fn aws(&self, args: &[&str]) -> Result<Value> {
        let out = Command::new(venv("aws")?)
            .arg("iam")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env())
            .output()?;
        ensure!(
            out.status.success(),
            "aws iam {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}

fn trust_json(env: &Env, sub: &str) -> String {
    let h = host(env);
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "App", "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{h}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {format!("{h}:aud"): "sts.amazonaws.com", format!("{h}:sub"): sub}}}]})
    .to_string()
}

/// `irsa doctor ... --aws` with the flags after `pod` (they are global), against moto.
fn doctor_aws(
    c: &Case,
    moto_env: &[(&'static str, String)],
    pod: &str,
) -> Result<(i32, Vec<Value>)> {
    let envs: Vec<(&str, &str)> = moto_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    doctor(
        &c.env,
        &[
            "pod",
            &format!("{}/{pod}", c.ns),
            "--aws",
            "--kubeconfig",
            &c.env.kubeconfig.display().to_string(),
        ],
        &envs,
    )
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn the_trust_side_is_read_from_an_aws_account() -> Result<()> {
    let c = case("doc-aws").await?;
    let moto = Moto::start(&c.dir)?;
    let wh = Webhook::start(&c.env, &c.dir, &[]).await?;
    c.kube
        .register_webhook("doc-aws", &wh.url(), &wh.cert.ca_pem, "doc-aws")
        .await?;
    let managed_arn = make_account(&c, &moto)?;
    c.annotated("app", "app").await?;
    c.kube.create_pod(&c.ns, &pod("app", "app")).await?;
    let (code, checks) = doctor_aws(&c, &moto.env(), "app")?;
    all_passed(code, &checks, "healthy setup failed a check")?;
    let perms = check(&checks, "permissions")["evidence"].to_string();
    ensure!(
        perms.contains("inline:read") && perms.contains("dynamodb:GetItem"),
        "{perms}"
    );
    ensure!(
        perms.contains(&format!("{managed_arn}@v1")) && perms.contains("wildcards"),
        "{perms}"
    );
    ensure!(
        check(&checks, "role-exists")["evidence"]
            .to_string()
            .contains(&c.role_arn("app"))
    );

    audit_reads_the_account(&c, &moto)?;
    broken_account_setups_are_diagnosed(&c, &moto).await?;
    drop(wh);
    Ok(())
}

/// The provider for the API server's issuer, and the roles `app` (an inline and a managed
/// policy) and `/irsa/pathed`, made in `moto` with the aws CLI; the managed policy's ARN.
fn make_account(c: &Case, moto: &Moto) -> Result<String> {
    moto.aws(&[
        "create-open-id-connect-provider",
        "--url",
        &c.env.apiserver,
        "--client-id-list",
        "sts.amazonaws.com",
        "--thumbprint-list",
        &"0".repeat(40),
    ])?;
    moto.aws(&[
        "create-role",
        "--role-name",
        "app",
        "--assume-role-policy-document",
        &trust_json(&c.env, &c.sub("app")),
    ])?;
    moto.aws(&[
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "read",
        "--policy-document",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                "Resource": format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t")}]})
        .to_string(),
    ])?;
    let managed = moto.aws(&[
        "create-policy",
        "--policy-name",
        "buckets",
        "--policy-document",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
            .to_string(),
    ])?;
    let managed_arn = managed["Policy"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    moto.aws(&[
        "attach-role-policy",
        "--role-name",
        "app",
        "--policy-arn",
        &managed_arn,
    ])?;
    // A role that lives under a path.
    moto.aws(&[
        "create-role",
        "--role-name",
        "pathed",
        "--path",
        "/irsa/",
        "--assume-role-policy-document",
        &trust_json(&c.env, &c.sub("pathed")),
    ])?;
    Ok(managed_arn)
}

/// `irsa audit --aws` reads the whole account (GetAccountAuthorizationDetails) made by
/// [`make_account`] and the cluster's ServiceAccounts.
fn audit_reads_the_account(c: &Case, moto: &Moto) -> Result<()> {
    let out = Command::new(&c.env.irsa)
        .args([
            "audit",
            "--aws",
            "--format",
            "json",
            "--issuer",
            &c.env.apiserver,
        ])
        .args(["--kubeconfig", &c.env.kubeconfig.display().to_string()])
        .envs(moto.env())
        .output()?;
    ensure!(
        out.status.success(),
        "irsa audit --aws: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    ensure!(
        report["source"] == format!("AWS account {ACCOUNT}"),
        "{}",
        report["source"]
    );
    let app = report["serviceAccounts"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == "doc-aws/app"))
        .cloned()
        .unwrap_or_default();
    ensure!(app["canAssume"] == json!([c.role_arn("app")]), "{app}");
    let perms = app["permissions"].to_string();
    ensure!(
        perms.contains("s3:*") && perms.contains("dynamodb:GetItem") && perms.contains("buckets"),
        "{perms}"
    );
    let found = |id: &str| {
        report["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["id"] == id))
    };
    ensure!(!found("provider-missing"), "{}", report["findings"]);
    ensure!(
        report["roles"]
            .to_string()
            .contains("arn:aws:iam::111122223333:role/irsa/pathed"),
        "{}",
        report["roles"]
    );
    Ok(())
}

/// The account of [`make_account`] broken step by step: a role under a path, a trust
/// pinning another namespace, a provider without the audience, no provider, no IAM.
async fn broken_account_setups_are_diagnosed(c: &Case, moto: &Moto) -> Result<()> {
    // The annotation names the role without its path: IAM has it under /irsa/.
    c.annotated("pathed", "pathed").await?;
    c.kube.create_pod(&c.ns, &pod("pathed", "pathed")).await?;
    let (code, checks) = doctor_aws(c, &moto.env(), "pathed")?;
    ensure!(code == 1);
    failed(
        &checks,
        "role-exists",
        "no role arn:aws:iam::111122223333:role/pathed in AWS account 111122223333",
        "arn:aws:iam::111122223333:role/irsa/pathed",
    )?;

    // The trust pins another namespace.
    moto.aws(&[
        "update-assume-role-policy",
        "--role-name",
        "app",
        "--policy-document",
        &trust_json(&c.env, "system:serviceaccount:elsewhere:app"),
    ])?;
    let (_, checks) = doctor_aws(c, &moto.env(), "app")?;
    failed(
        &checks,
        "trust-policy",
        "system:serviceaccount:elsewhere:app",
        "update-assume-role-policy --role-name app",
    )?;

    provider_breakages_are_diagnosed(c, moto)?;

    // IAM cannot be reached: the trust checks say so, in bounded time.
    let mut unreachable = moto.env();
    unreachable[0].1 = format!("http://127.0.0.1:{}", irsa_e2e::free_port());
    let (code, checks) = doctor_aws(c, &unreachable, "app")?;
    ensure!(code == 1);
    passed(&checks, "service-account")?;
    failed(
        &checks,
        "role-exists",
        "the IAM side could not be read",
        "iam:GetRole",
    )?;
    Ok(())
}

/// The provider of the account of [`make_account`] loses the audience, then is gone.
fn provider_breakages_are_diagnosed(c: &Case, moto: &Moto) -> Result<()> {
    // The provider loses the audience.
    let provider = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{}", host(&c.env));
    // (registered again with another client id: moto's RemoveClientIDFromOpenIDConnectProvider
    // answers 500)
    moto.aws(&[
        "delete-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        &provider,
    ])?;
    moto.aws(&[
        "create-open-id-connect-provider",
        "--url",
        &c.env.apiserver,
        "--client-id-list",
        "other.example.com",
        "--thumbprint-list",
        &"0".repeat(40),
    ])?;
    let (_, checks) = doctor_aws(c, &moto.env(), "app")?;
    passed(&checks, "oidc-provider")?;
    failed(
        &checks,
        "provider-audience",
        "do not include `sts.amazonaws.com`",
        &format!(
            "add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {provider} --client-id sts.amazonaws.com"
        ),
    )?;

    // The provider is gone.
    moto.aws(&[
        "delete-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        &provider,
    ])?;
    let (_, checks) = doctor_aws(c, &moto.env(), "app")?;
    failed(
        &checks,
        "oidc-provider",
        "registered providers",
        &format!("create-open-id-connect-provider --url {}", c.env.apiserver),
    )?;
    Ok(())
}

/// The SHA-1 fingerprint of a PEM certificate, from openssl (lowercase hex).
fn openssl_sha1(pem: &Path) -> Result<String> {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(pem)
        .output()?;
    ensure!(out.status.success(), "openssl failed");
    let text = String::from_utf8(out.stdout)?;
    let hex = text
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .replace(':', "")
        .to_ascii_lowercase();
    ensure!(hex.len() == 40, "{text}");
    Ok(hex)
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn in_pod_an_unregistered_issuer_gets_the_provider_command_with_its_thumbprint() -> Result<()>
{
    let c = case("doc-inpod").await?;
    c.annotated("app", "app").await?;
    // irsa sts without the API server as provider.
    let cfg = c.config(&["sts.amazonaws.com"], false, "app")?;
    let port = irsa_e2e::free_port();
    let mut cmd = Command::new(&c.env.irsa);
    cmd.args(["sts", "--config"])
        .arg(&cfg)
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    let mut sts = irsa_e2e::Proc::spawn(&mut cmd, c.dir.join("sts.log"))?;
    sts.wait_port(port, std::time::Duration::from_secs(30))?;

    let tf = c.token_file("app").await?;
    let sts_url = format!("http://127.0.0.1:{port}");
    let role_arn = c.role_arn("app");
    let tf_s = tf.display().to_string();
    let ca = c.env.ca_file.display().to_string();
    let (code, checks) = doctor(
        &c.env,
        &["--in-pod", "--issuer-ca", &ca],
        &[
            ("AWS_ROLE_ARN", role_arn.as_str()),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", &tf_s),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_STS", &sts_url),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    )?;
    ensure!(code == 1);
    passed(&checks, "environment")?;
    passed(&checks, "token-file")?;
    passed(&checks, "issuer")?;
    ensure!(
        check(&checks, "issuer")["evidence"]
            .to_string()
            .contains("is published"),
        "{checks:?}"
    );
    // The API server presents its serving certificate alone: it is the last of the chain.
    let want = openssl_sha1(&c.env.dir.join("pki/apiserver.crt"))?;
    passed(&checks, "thumbprint")?;
    ensure!(
        check(&checks, "thumbprint")["evidence"]
            .to_string()
            .contains(&want),
        "{checks:?}"
    );
    failed(
        &checks,
        "assume-role",
        &format!(
            "InvalidIdentityToken: No OpenIDConnect provider found in your account for {}",
            c.env.apiserver
        ),
        &format!(
            "aws iam create-open-id-connect-provider --url {} --client-id-list sts.amazonaws.com --thumbprint-list {want}",
            c.env.apiserver
        ),
    )?;
    let moto = the_printed_command_registers_the_provider(&c, &checks, &want)?;
    in_pod_with_aws_the_trust_is_checked_against_the_token(&c, &moto, &tf_s, &sts_url, &ca)?;
    Ok(())
}

/// The `assume-role` fix of `checks` runs as printed against an IAM server (moto, started
/// here and returned), and registers the provider with the thumbprint `want`.
fn the_printed_command_registers_the_provider(
    c: &Case,
    checks: &[Value],
    want: &str,
) -> Result<Moto> {
    let fix = check(checks, "assume-role")["fix"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let command = fix
        .split_once("aws iam ")
        .map(|(_, c)| c)
        .unwrap_or_default();
    let moto = Moto::start(&c.dir)?;
    let args: Vec<&str> = command.split_whitespace().collect();
    let made = moto.aws(&args)?;
    let arn = made["OpenIDConnectProviderArn"]
        .as_str()
        .unwrap_or_default();
    let got = moto.aws(&[
        "get-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        arn,
    ])?;
    ensure!(got["ThumbprintList"] == json!([want]), "{got}");
    ensure!(got["ClientIDList"] == json!(["sts.amazonaws.com"]), "{got}");
    Ok(moto)
}

/// From inside the pod with --aws (the token file `tf`, STS at `sts_url`, the issuer's CA
/// file `ca`): the IAM side now has the provider; the role is checked against the token's
/// own sub and aud.
fn in_pod_with_aws_the_trust_is_checked_against_the_token(
    c: &Case,
    moto: &Moto,
    tf: &str,
    sts_url: &str,
    ca: &str,
) -> Result<()> {
    moto.aws(&[
        "create-role",
        "--role-name",
        "app",
        "--assume-role-policy-document",
        &trust_json(&c.env, "system:serviceaccount:doc-inpod:other"),
    ])?;
    let mut envs: Vec<(&str, String)> = moto.env();
    envs.extend([
        ("AWS_ROLE_ARN", c.role_arn("app")),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", tf.to_owned()),
        ("AWS_ENDPOINT_URL_STS", sts_url.to_owned()),
    ]);
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, checks) = doctor(&c.env, &["--in-pod", "--aws", "--issuer-ca", ca], &envs)?;
    ensure!(code == 1);
    passed(&checks, "oidc-provider")?;
    passed(&checks, "provider-audience")?;
    passed(&checks, "role-exists")?;
    failed(
        &checks,
        "trust-policy",
        "the token's sub is `system:serviceaccount:doc-inpod:app`",
        "system:serviceaccount:doc-inpod:app",
    )?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn the_webhook_configmap_maps_a_service_account() -> Result<()> {
    let c = case("doc-cm").await?;
    let data =
        json!({"doc-cm/mapped": {"RoleARN": c.role_arn("app"), "Audience": "sts.amazonaws.com"}})
            .to_string();
    c.kube
        .post(
            "/api/v1/namespaces/doc-cm/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "pod-identity-webhook"}, "data": {"config": data}}),
        )
        .await?;
    let wh = Webhook::start(
        &c.env,
        &c.dir,
        &["--watch-config-map", "--namespace=doc-cm"],
    )
    .await?;
    c.kube
        .register_webhook("doc-cm", &wh.url(), &wh.cert.ca_pem, "doc-cm")
        .await?;
    c.kube.service_account(&c.ns, "mapped", json!({})).await?;
    c.kube.service_account(&c.ns, "unmapped", json!({})).await?;
    c.kube.create_pod(&c.ns, &pod("mapped", "mapped")).await?;
    c.kube
        .create_pod(&c.ns, &pod("unmapped", "unmapped"))
        .await?;
    let cfg = c.config(&["sts.amazonaws.com"], true, "mapped")?;
    let (code, checks) = c.run("mapped", &cfg)?;
    all_passed(code, &checks, "the mapped pod failed a check")?;
    let ev = check(&checks, "service-account")["evidence"].to_string();
    ensure!(
        ev.contains("ConfigMap doc-cm/pod-identity-webhook") && ev.contains("doc-cm/mapped"),
        "{ev}"
    );
    let (_, checks) = c.run("unmapped", &cfg)?;
    failed(
        &checks,
        "service-account",
        "no pod-identity-webhook ConfigMap maps it",
        "kubectl annotate serviceaccount -n doc-cm unmapped",
    )?;
    drop(wh);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn a_webhook_behind_a_service_needs_ready_endpoints() -> Result<()> {
    let c = case("doc-svc").await?;
    c.annotated("app", "app").await?;
    // The pod exists before the webhook is registered (the API server cannot reach a
    // Service backend here; only what doctor reads matters).
    c.kube.create_pod(&c.ns, &pod("app", "app")).await?;
    let wh = Webhook::start(&c.env, &c.dir, &[]).await?;
    ignoring_webhook(
        &c.kube,
        "doc-svc",
        json!({"service": {"namespace": "doc-svc", "name": "hook", "path": "/mutate", "port": 443},
               "caBundle": base64_ca(&wh.cert.ca_pem)}),
    )
    .await?;
    drop(wh);
    let cfg = c.config(&["sts.amazonaws.com"], true, "app")?;
    // No Service.
    let (_, checks) = c.run("app", &cfg)?;
    failed(
        &checks,
        "webhook-backend",
        "no Service doc-svc/hook",
        "start the webhook",
    )?;
    // A Service whose only endpoint is not ready.
    c.kube
        .post(
            "/api/v1/namespaces/doc-svc/services",
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hook"},
                    "spec": {"ports": [{"port": 443, "targetPort": 9443}]}}),
        )
        .await?;
    let slice = |ready: bool| {
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "hook-1", "labels": {"kubernetes.io/service-name": "hook"}},
               "addressType": "IPv4",
               "ports": [{"port": 9443, "protocol": "TCP"}],
               "endpoints": [{"addresses": ["10.0.0.7"], "conditions": {"ready": ready}}]})
    };
    c.kube
        .post(
            "/apis/discovery.k8s.io/v1/namespaces/doc-svc/endpointslices",
            &slice(false),
        )
        .await?;
    let (_, checks) = c.run("app", &cfg)?;
    failed(
        &checks,
        "webhook-backend",
        "service doc-svc/hook has no ready endpoints; failurePolicy Ignore",
        "start the webhook",
    )?;
    // The endpoint turns ready.
    let path = "/apis/discovery.k8s.io/v1/namespaces/doc-svc/endpointslices/hook-1";
    let mut current = c.kube.get(path).await?;
    current["endpoints"] = slice(true)["endpoints"].clone();
    c.kube.call("PUT", path, Some(&current)).await?;
    let (_, checks) = c.run("app", &cfg)?;
    passed(&checks, "webhook-backend")?;
    ensure!(
        check(&checks, "webhook-backend")["evidence"]
            .to_string()
            .contains("service doc-svc/hook: 1 ready endpoint(s)"),
        "{checks:?}"
    );
    Ok(())
}

/// A pod as the webhook mutates it for EKS Pod Identity (container credentials): the
/// projected token of `audience`, mounted where AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
/// points.
fn pod_identity_pod(name: &str, sa: &str, audience: &str) -> Value {
    let dir = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {"eks.amazonaws.com/pod-identity": "enabled"}},
           "spec": {"serviceAccountName": sa,
                    "volumes": [{"name": "eks-pod-identity-token", "projected": {"sources": [
                        {"serviceAccountToken": {"audience": audience, "expirationSeconds": 86400,
                                                 "path": "eks-pod-identity-token"}}]}}],
                    "containers": [{"name": "app", "image": "example.invalid/app:1",
                        "env": [
                            {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"},
                            {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "value": format!("{dir}/eks-pod-identity-token")}],
                        "volumeMounts": [{"name": "eks-pod-identity-token", "mountPath": dir, "readOnly": true}]}]}})
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver that e2e/run starts"]
async fn pod_identity_pods_are_diagnosed_on_their_own_path() -> Result<()> {
    let c = case("doc-pi").await?;
    for sa in ["reader", "lost", "untagged"] {
        c.kube.service_account(&c.ns, sa, json!({})).await?;
    }
    for (name, sa, audience) in [
        ("ok", "reader", "pods.eks.amazonaws.com"),
        ("aud", "reader", "sts.amazonaws.com"),
        ("lost", "lost", "pods.eks.amazonaws.com"),
        ("untagged", "untagged", "pods.eks.amazonaws.com"),
    ] {
        c.kube
            .create_pod(&c.ns, &pod_identity_pod(name, sa, audience))
            .await?;
    }
    let trust = |actions: &str| {
        format!(
            "    trustPolicy: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Principal: {{Service: pods.eks.amazonaws.com}}, Action: {actions}}}]}}\n"
        )
    };
    let policy = "    policies:\n      read: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"dynamodb:GetItem\", Resource: \"*\", Condition: {StringEquals: {\"aws:PrincipalTag/kubernetes-namespace\": doc-pi}}}]}\n";
    let text = format!(
        "account: \"{ACCOUNT}\"\nregion: us-east-1\nproviders: []\nclusters:\n  - name: dev\n    issuer: {}\n    caFile: {}\npodIdentityAssociations:\n  - {{cluster: dev, namespace: doc-pi, serviceAccount: reader, roleArn: {}}}\n  - {{cluster: dev, namespace: doc-pi, serviceAccount: untagged, roleArn: {}}}\nroles:\n  - name: app\n{}{policy}  - name: no-tag\n{}{policy}",
        c.env.apiserver,
        c.env.ca_file.display(),
        c.role_arn("app"),
        c.role_arn("no-tag"),
        trust("[sts:AssumeRole, sts:TagSession]"),
        trust("sts:AssumeRole"),
    );
    let cfg = c.dir.join("pi.yaml");
    std::fs::write(&cfg, text)?;

    let (code, checks) = c.run("ok", &cfg)?;
    ensure!(checks.len() == 4, "{checks:?}");
    all_passed(code, &checks, "the healthy pod failed a check")?;
    let tags = check(&checks, "pod-identity-session-tags")["evidence"].to_string();
    ensure!(
        tags.contains("kubernetes-namespace=doc-pi")
            && tags.contains("kubernetes-pod-name=ok")
            && tags.contains("eks-cluster-arn=arn:aws:eks:us-east-1:111122223333:cluster/dev"),
        "{tags}"
    );

    let (code, checks) = c.run("aud", &cfg)?;
    ensure!(code == 1);
    failed(
        &checks,
        "pod-identity-token-audience",
        "projected volume `eks-pod-identity-token`: audience [\\\"sts.amazonaws.com\\\"]",
        "audience pods.eks.amazonaws.com",
    )?;

    let (_, checks) = c.run("lost", &cfg)?;
    failed(
        &checks,
        "pod-identity-association",
        "no association for doc-pi/lost in cluster dev",
        "aws eks create-pod-identity-association --cluster-name dev --namespace doc-pi --service-account lost",
    )?;

    let (_, checks) = c.run("untagged", &cfg)?;
    failed(
        &checks,
        "pod-identity-trust",
        "sts:TagSession: refused",
        "\"Action\":[\"sts:AssumeRole\",\"sts:TagSession\"]",
    )?;
    passed(&checks, "pod-identity-association")?;
    Ok(())
}
