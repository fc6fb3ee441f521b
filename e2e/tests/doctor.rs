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
    let wh = Webhook::start(&c.env, &c.dir, &[])?;
    c.kube
        .register_webhook("doc-ok", &wh.url(), &wh.cert.ca_pem, "doc-ok")
        .await?;
    c.kube
        .service_account(
            &c.ns,
            "app",
            json!({"eks.amazonaws.com/role-arn": c.role_arn("app")}),
        )
        .await?;
    c.kube.create_pod(&c.ns, &pod("app", "app")).await?;
    let cfg = sts_config(
        &c.env,
        &c.dir,
        &["sts.amazonaws.com"],
        true,
        &role(&c.env, "app", "/", &c.sub("app")),
    )?;
    let (code, checks) = c.run("app", &cfg)?;
    for ch in &checks {
        ensure!(ch["ok"] == true, "healthy setup failed a check: {ch}");
    }
    ensure!(code == 0, "exit {code}");
    ensure!(checks.len() >= 13, "{} checks", checks.len());

    // 1. ServiceAccount not annotated.
    c.kube.service_account(&c.ns, "plain", json!({})).await?;
    c.kube.create_pod(&c.ns, &pod("plain", "plain")).await?;
    let (code, checks) = c.run("plain", &cfg)?;
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
    c.kube
        .service_account(
            &c.ns,
            "typo",
            json!({"eks.amazonaws.com/role-arn": c.role_arn("apq")}),
        )
        .await?;
    c.kube.create_pod(&c.ns, &pod("typo", "typo")).await?;
    let (_, checks) = c.run("typo", &cfg)?;
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
    let (_, checks) = c.run("late", &cfg)?;
    passed(&checks, "service-account")?;
    failed(
        &checks,
        "pod-mutated",
        "created before the ServiceAccount got its annotation",
        "kubectl delete pod -n doc-ok late",
    )?;

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

    // 6. The provider is not registered.
    let cfg_none = sts_config(
        &c.env,
        &c.dir,
        &["sts.amazonaws.com"],
        false,
        &role(&c.env, "app", "/", &c.sub("app")),
    )?;
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
    let cfg_aud = sts_config(
        &c.env,
        &c.dir,
        &["other.example.com"],
        true,
        &role(&c.env, "app", "/", &c.sub("app")),
    )?;
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
    let cfg_aud2 = sts_config(
        &c.env,
        &c.dir,
        &["sts.amazonaws.com"],
        true,
        &role(&c.env, "app", "/", &c.sub("aud")),
    )?;
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

    // 9. The webhook is down and its failurePolicy Ignore lets pods through unmutated.
    let d = case("doc-down").await?;
    let port = irsa_e2e::free_port()?;
    d.kube
        .post(
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            &json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": "doc-down"},
                "webhooks": [{"name": "doc-down.e2e.irsa.dev",
                    "clientConfig": {"url": format!("https://127.0.0.1:{port}/mutate"),
                                     "caBundle": base64_ca(&wh.cert.ca_pem)},
                    "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                    "sideEffects": "None", "admissionReviewVersions": ["v1"], "failurePolicy": "Ignore",
                    "timeoutSeconds": 2,
                    "namespaceSelector": {"matchLabels": {"irsa-e2e": "doc-down"}}}]}),
        )
        .await?;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    d.kube
        .service_account(
            &d.ns,
            "app",
            json!({"eks.amazonaws.com/role-arn": d.role_arn("app")}),
        )
        .await?;
    d.kube.create_pod(&d.ns, &pod("app", "app")).await?;
    let cfg_d = sts_config(
        &d.env,
        &d.dir,
        &["sts.amazonaws.com"],
        true,
        &role(&d.env, "app", "/", &d.sub("app")),
    )?;
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

    // 10. An expired token file, seen from inside the pod.
    let token = c
        .kube
        .token(&c.ns, "app", &["sts.amazonaws.com"], None)
        .await?;
    let tf = c.dir.join("token");
    std::fs::write(&tf, &token)?;
    let later = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + 7200)
        .to_string();
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
    drop(wh);
    Ok(())
}

fn base64_ca(pem: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(pem)
}
