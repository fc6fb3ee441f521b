//! `irsa doctor`: why a pod cannot assume its role, as a checklist with evidence and fixes.

use anyhow::{Context as _, bail};
use clap::{Args as ClapArgs, Subcommand, ValueEnum};
use irsa_audit::{Check, Iam, PodFacts};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::audit::{Sources, get_json, kube_client, load_account};

pub(crate) mod iam;
mod issuer;
mod pod_identity;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Run inside the container: read AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the
    /// token, then call AssumeRoleWithWebIdentity (AWS_ENDPOINT_URL_STS is honoured).
    #[arg(long)]
    in_pod: bool,
    /// PEM CA bundle to trust for the issuer instead of the public roots (a self-hosted
    /// issuer), for --in-pod's discovery and thumbprint.
    #[arg(long, value_name = "FILE", global = true)]
    issuer_ca: Option<std::path::PathBuf>,
    #[command(flatten)]
    sources: Sources,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", global = true)]
    format: Format,
    /// The cluster of a pod on the EKS Pod Identity path (its associations' cluster)
    /// [default: the only cluster of --sts-config].
    #[arg(long, value_name = "NAME", global = true)]
    cluster_name: Option<String>,
    /// Judge token expiry at this Unix time instead of now.
    #[arg(long, hide = true)]
    now: Option<i64>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a pod through the API server: NAMESPACE/NAME.
    Pod {
        /// NAMESPACE/NAME.
        pod: String,
    },
}

fn output(checks: &[Check], format: Format) -> anyhow::Result<u8> {
    match format {
        Format::Text => print!("{}", irsa_audit::render_checks(checks)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "ok": checks.iter().all(|c| c.ok),
                "checks": checks,
            }))?
        ),
    }
    Ok(if checks.iter().all(|c| c.ok) { 0 } else { 1 })
}

/// The IAM side: a file given, the AWS account read for `role_arn` and `issuer`, or none.
enum IamSource {
    Missing,
    Loaded(irsa_audit::Account),
    Unavailable(String),
}

impl IamSource {
    fn side(&self) -> Iam<'_> {
        match self {
            IamSource::Missing => Iam::Missing,
            IamSource::Loaded(a) => Iam::Account(a),
            IamSource::Unavailable(w) => Iam::Unavailable(w),
        }
    }
}

async fn iam_side(
    file: Option<irsa_audit::Account>,
    from_aws: bool,
    role_arn: Option<&str>,
    issuer: Option<&str>,
) -> IamSource {
    if let Some(a) = file {
        return IamSource::Loaded(a);
    }
    if !from_aws {
        return IamSource::Missing;
    }
    let client = iam::client().await;
    let prefix = issuer.map(irsa_audit::issuer_key_prefix);
    match iam::account(&client, role_arn, prefix).await {
        Ok(a) => IamSource::Loaded(a),
        Err(e) => IamSource::Unavailable(format!("{e:#}")),
    }
}

pub fn run(a: Args) -> anyhow::Result<u8> {
    let account = load_account(&a.sources)?;
    let issuer_ca = match &a.issuer_ca {
        Some(p) => {
            Some(std::fs::read(p).with_context(|| format!("cannot read `{}`", p.display()))?)
        }
        None => None,
    };
    let sts_clusters = match &a.sources.sts_config {
        Some(p) => Some(pod_identity::sts_clusters(p)?),
        None => None,
    };
    let container_credentials = std::env::var_os(pod_identity::FULL_URI)
        .is_some_and(|v| !v.is_empty())
        && std::env::var_os("AWS_ROLE_ARN").is_none_or(|v| v.is_empty());
    let now = a.now.unwrap_or_else(crate::up::stack::unix_now);
    if a.in_pod && container_credentials {
        // The SDKs read web identity first: only without AWS_ROLE_ARN is this the path.
        let rt = crate::common::runtime()?;
        let checks = rt.block_on(pod_identity::in_pod(
            account,
            a.sources.aws,
            sts_clusters.as_ref(),
            a.cluster_name.as_deref(),
            now,
        ))?;
        return output(&checks, a.format);
    }
    if a.in_pod {
        let rt = crate::common::runtime()?;
        let checks = rt.block_on(in_pod(account, a.sources.aws, issuer_ca.as_deref(), now))?;
        return output(&checks, a.format);
    }
    let Some(Cmd::Pod { pod }) = &a.cmd else {
        bail!("say what to check: `irsa doctor pod NAMESPACE/NAME` or `irsa doctor --in-pod`");
    };
    let (ns, name) = pod.split_once('/').context("the pod is NAMESPACE/NAME")?;
    let rt = crate::common::runtime()?;
    let checks = rt.block_on(pod_checks(&a, ns, name, account, sts_clusters.as_ref()))?;
    output(&checks, a.format)
}

/// The checklist of a pod read through the API server, on its path (IRSA or EKS Pod
/// Identity).
async fn pod_checks(
    a: &Args,
    ns: &str,
    name: &str,
    account: Option<irsa_audit::Account>,
    sts_clusters: Option<&pod_identity::StsClusters>,
) -> anyhow::Result<Vec<Check>> {
    let client = kube_client(a.sources.kubeconfig.as_deref()).await?;
    let pod = get_json(&client, &format!("/api/v1/namespaces/{ns}/pods/{name}"))
        .await?
        .with_context(|| format!("no pod {ns}/{name}"))?;
    let sa_name = pod["spec"]["serviceAccountName"]
        .as_str()
        .unwrap_or("default")
        .to_owned();
    if let Some((_uri, token_file)) = pod_identity::pod_token_path(&pod) {
        return pod_identity_pod(
            &pod,
            ns,
            &sa_name,
            token_file.as_deref(),
            account,
            a.sources.aws,
            sts_clusters,
            a.cluster_name.as_deref(),
        )
        .await;
    }
    let mut facts = irsa_pod_facts(&client, pod, ns, &sa_name, &a.sources).await?;
    let role_arn = irsa_audit::pod_role_arn(&facts);
    let issuer = facts
        .discovery
        .as_ref()
        .ok()
        .and_then(|d| d["issuer"].as_str())
        .map(str::to_owned);
    let side = iam_side(
        account,
        a.sources.aws,
        role_arn.as_deref(),
        issuer.as_deref(),
    )
    .await;
    facts.account = side.side();
    Ok(irsa_audit::diagnose_pod(&facts))
}

/// What the API server shows of an IRSA pod: its ServiceAccount and namespace, the
/// mutating webhooks and their backends, the webhook's ConfigMaps, the issuer's
/// discovery document and JWKS (the IAM side left to the caller).
async fn irsa_pod_facts(
    client: &kube::Client,
    pod: Value,
    ns: &str,
    sa_name: &str,
    sources: &Sources,
) -> anyhow::Result<PodFacts<'static>> {
    let service_account = get_json(
        client,
        &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa_name}"),
    )
    .await?;
    let namespace = get_json(client, &format!("/api/v1/namespaces/{ns}")).await?;
    let configs = get_json(
        client,
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
    )
    .await?
    .and_then(|l| l["items"].as_array().cloned())
    .unwrap_or_default();
    let mut backends = BTreeMap::new();
    for (n, w) in irsa_audit::pod_create_webhooks(&configs) {
        backends.insert(n, backend(client, &w["clientConfig"]).await);
    }
    let (config_maps, config_maps_error) = match get_json(
        client,
        &format!(
            "/api/v1/configmaps?fieldSelector=metadata.name%3D{}",
            irsa_mutate::CONFIG_MAP_NAME
        ),
    )
    .await
    {
        Ok(l) => (
            l.and_then(|l| l["items"].as_array().cloned())
                .unwrap_or_default(),
            None,
        ),
        Err(e) => (Vec::new(), Some(format!("{e:#}"))),
    };
    let discovery = get_json(client, "/.well-known/openid-configuration")
        .await
        .and_then(|d| d.context("not served (404)"))
        .map_err(|e| format!("discovery: {e:#}"));
    let jwks = api_server_jwks(client, &discovery).await;
    Ok(PodFacts {
        pod,
        service_account,
        namespace,
        webhook_configurations: configs,
        webhook_backends: backends,
        discovery,
        jwks,
        config_maps,
        config_maps_error,
        account: Iam::Missing,
        annotation_prefix: sources.annotation_prefix.clone(),
        default_audience: sources.audience.clone(),
    })
}

/// The JWKS the discovery document names, read through the API server.
async fn api_server_jwks(
    client: &kube::Client,
    discovery: &Result<Value, String>,
) -> Result<Value, String> {
    let Ok(d) = discovery else {
        return Err("not fetched: no discovery document".to_owned());
    };
    let uri = d["jwks_uri"].as_str().unwrap_or_default();
    let path = uri
        .strip_prefix("https://")
        .and_then(|r| r.find('/').map(|i| r[i..].to_owned()))
        .unwrap_or_else(|| "/openid/v1/jwks".into());
    get_json(client, &path)
        .await
        .and_then(|d| d.context("not served (404)"))
        .map_err(|e| format!("JWKS {uri}: {e:#}"))
}

/// The Pod Identity checklist of a pod seen through the API server (the agent listens on
/// its node, so it is not asked from here).
#[allow(clippy::too_many_arguments, reason = "the gathered sources, each once")]
async fn pod_identity_pod(
    pod: &Value,
    ns: &str,
    sa: &str,
    token_file: Option<&str>,
    account: Option<irsa_audit::Account>,
    from_aws: bool,
    sts: Option<&pod_identity::StsClusters>,
    cluster_flag: Option<&str>,
) -> anyhow::Result<Vec<Check>> {
    let target = pod_identity::Target::of(cluster_flag, sts, ns, sa);
    let side = iam_side(account, from_aws, target.role_arn.as_deref(), None).await;
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    let facts = irsa_audit::PodIdentityFacts {
        cluster: target.cluster.as_deref(),
        cluster_arn: target.cluster_arn.as_deref(),
        namespace: ns,
        service_account: sa,
        pod: Some((name, uid)),
        token_audiences: pod_identity::pod_token_audience(pod, token_file),
        associations: pod_identity::associations(sts),
        account: side.side(),
        agent: None,
    };
    Ok(irsa_audit::diagnose_pod_identity(&facts))
}

/// Whether a webhook's backend answers: a Service with ready endpoints, or a URL whose
/// host accepts a TCP connection (bounded).
async fn backend(client: &kube::Client, cc: &Value) -> Result<String, String> {
    if let Some(svc) = cc.get("service") {
        let ns = svc["namespace"].as_str().unwrap_or("default");
        let name = svc["name"].as_str().unwrap_or("");
        let service = get_json(client, &format!("/api/v1/namespaces/{ns}/services/{name}"))
            .await
            .map_err(|e| format!("{e:#}"))?;
        if service.is_none() {
            return Err(format!("no Service {ns}/{name}"));
        }
        let path = format!(
            "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D{name}"
        );
        let slices = get_json(client, &path)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let ready = slices
            .as_ref()
            .and_then(|s| s["items"].as_array())
            .into_iter()
            .flatten()
            .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
            // A missing `ready` condition means ready (discovery.k8s.io/v1).
            .filter(|e| e["conditions"]["ready"].as_bool() != Some(false))
            .count();
        return if ready > 0 {
            Ok(format!("service {ns}/{name}: {ready} ready endpoint(s)"))
        } else {
            Err(format!("service {ns}/{name} has no ready endpoints"))
        };
    }
    let url = cc["url"].as_str().unwrap_or_default();
    let host = url
        .strip_prefix("https://")
        .map(|r| r.split('/').next().unwrap_or(r))
        .unwrap_or_default();
    let addr = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:443")
    };
    match tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(&addr),
    )
    .await
    {
        Ok(Ok(_)) => Ok(format!("{url} accepts connections")),
        Ok(Err(e)) => Err(format!("{url}: {e}")),
        Err(_) => Err(format!("{url}: no connection within 3s")),
    }
}

/// The `environment` check: each `required` variable set (else `fix`), the `optional`
/// ones shown when set. The required variables' values, in order.
pub(crate) fn environment_check<const N: usize>(
    title: &str,
    required: [&str; N],
    optional: &[&str],
    fix: &str,
) -> (Check, [Option<String>; N]) {
    let mut c = Check::new("environment", title);
    let values = required.map(crate::common::non_empty_env);
    for (k, v) in required.iter().zip(&values) {
        match v {
            Some(v) => c.evidence.push(format!("{k}={v}")),
            None => {
                c.ok = false;
                c.evidence.push(format!("{k} is not set"));
                c.fix = Some(fix.into());
            }
        }
    }
    for k in optional {
        if let Some(v) = crate::common::non_empty_env(k) {
            c.evidence.push(format!("{k}={v}"));
        }
    }
    (c, values)
}

/// What the web identity token file holds.
#[derive(Default)]
struct WebIdentityToken {
    /// The token (`None`: no usable token).
    token: Option<String>,
    kid: Option<String>,
    iss: Option<String>,
    sub: String,
    aud: String,
}

/// The checklist inside the container.
async fn in_pod(
    account: Option<irsa_audit::Account>,
    from_aws: bool,
    issuer_ca: Option<&[u8]>,
    now: i64,
) -> anyhow::Result<Vec<Check>> {
    let (env, [role, file]) = environment_check(
        "the webhook's environment is present",
        ["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"],
        &[
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_STS_REGIONAL_ENDPOINTS",
            "AWS_ENDPOINT_URL_STS",
        ],
        "the pod was not mutated: run `irsa doctor pod NAMESPACE/NAME` from outside",
    );
    let (token_c, seen) = token_file_check(file.as_deref(), now);
    // The issuer, discovered from the token's `iss` as STS discovers it.
    let (issuer_c, jwks_uri) = issuer_check(&seen, issuer_ca).await;
    // The thumbprint IAM's provider registration takes.
    let (thumbprint_c, thumb) = thumbprint_check(jwks_uri.as_deref(), issuer_ca).await;
    let assume_c = assume_role_check(role.as_deref(), &seen, thumb.as_deref()).await;
    let mut checks = vec![env, token_c, issuer_c, thumbprint_c, assume_c];
    if account.is_some() || from_aws {
        let iss = seen.iss.as_deref();
        let side = iam_side(account, from_aws, role.as_deref(), iss).await;
        checks.extend(irsa_audit::trust_checks(
            side.side(),
            role.as_deref(),
            iss,
            &seen.sub,
            &seen.aud,
        ));
    }
    Ok(checks)
}

/// The `token-file` check and what the token says.
fn token_file_check(file: Option<&str>, now: i64) -> (Check, WebIdentityToken) {
    let mut t = Check::new(
        "token-file",
        "the token file holds a current ServiceAccount token",
    );
    let Some((text, p)) = read_token_file(file, &mut t) else {
        return (t, WebIdentityToken::default());
    };
    let claim = |k: &str| p.claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let iss = claim("iss");
    let sub = claim("sub").unwrap_or_default();
    let aud = match p.claims.get("aud") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    };
    let exp = p.claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    t.evidence.push(format!(
        "iss {}, sub {sub}, aud {aud}, exp {exp} ({}s from now)",
        iss.as_deref().unwrap_or("-"),
        exp - now
    ));
    if exp <= now {
        t.ok = false;
        t.evidence
            .push(format!("the token expired {}s ago", now - exp));
        t.fix = Some("kubelet refreshes a projected token before it expires; a token that is expired was copied or its volume is not a projected serviceAccountToken: mount the projected volume (recreate the pod through the webhook)".into());
    }
    let kid = p
        .header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let seen = WebIdentityToken {
        token: Some(text),
        kid,
        iss,
        sub,
        aud,
    };
    (t, seen)
}

/// The `issuer` check: discovery from the token's `iss`, the JWKS and the token's key in
/// it. The `jwks_uri` when discovery worked.
async fn issuer_check(
    seen: &WebIdentityToken,
    issuer_ca: Option<&[u8]>,
) -> (Check, Option<String>) {
    let mut d = Check::new(
        "issuer",
        "the token's issuer serves its discovery document and JWKS, with the token's key",
    );
    let Some(i) = &seen.iss else {
        d.ok = false;
        d.assumed = Some("no token or no `iss` claim: nothing to discover".into());
        return (d, None);
    };
    let (doc, jwks) = match issuer::discover(i, issuer_ca).await {
        Ok(found) => found,
        Err(e) => {
            d.ok = false;
            d.evidence.push(e);
            d.fix = Some(format!(
                "{i}/.well-known/openid-configuration and its jwks_uri must answer over https to anyone (for kube-apiserver: kubectl create clusterrolebinding oidc-reviewer --clusterrole=system:service-account-issuer-discovery --group=system:unauthenticated; publish them where STS can reach them)"
            ));
            return (d, None);
        }
    };
    d.evidence.push(format!(
        "issuer {}, jwks_uri {}, {} key(s)",
        doc.issuer,
        doc.jwks_uri,
        jwks.keys.len()
    ));
    let has = |k: &str| jwks.keys.iter().any(|j| j.kid.as_deref() == Some(k));
    match &seen.kid {
        Some(k) if !has(k) => {
            d.ok = false;
            d.evidence
                .push(format!("the JWKS has no key with the token's kid `{k}`"));
            d.fix = Some("the token was signed by a key the issuer does not publish: check kube-apiserver --service-account-key-file / --service-account-signing-key-file and the published JWKS".into());
        }
        Some(k) => d
            .evidence
            .push(format!("the token's kid `{k}` is published")),
        None if jwks.keys.is_empty() => {
            d.ok = false;
            d.evidence.push("the JWKS has no keys".into());
            d.fix = Some("check kube-apiserver --service-account-key-file".into());
        }
        None => {}
    }
    (d, Some(doc.jwks_uri))
}

/// The `thumbprint` check and the SHA-1 thumbprint of the `jwks_uri` host's chain.
async fn thumbprint_check(
    jwks_uri: Option<&str>,
    issuer_ca: Option<&[u8]>,
) -> (Check, Option<String>) {
    let mut th = Check::new(
        "thumbprint",
        "the thumbprint of the issuer's TLS certificate chain (for the OIDC provider)",
    );
    let Some(u) = jwks_uri else {
        th.ok = false;
        th.assumed = Some("no jwks_uri (see the issuer check)".into());
        return (th, None);
    };
    match issuer::thumbprint(u, issuer_ca).await {
        Ok(t) => {
            th.evidence.push(format!(
                "{}: SHA-1 of the last of {} certificate(s) presented: {}",
                t.from, t.chain_len, t.sha1
            ));
            (th, Some(t.sha1))
        }
        Err(e) => {
            th.ok = false;
            th.evidence.push(e);
            th.fix = Some("the jwks_uri host must present a certificate chain that verifies (give --issuer-ca FILE for a private CA)".into());
            (th, None)
        }
    }
}

/// The `assume-role` check: AssumeRoleWithWebIdentity with the token, as the SDKs call
/// it (bounded in time), and the fix for its refusal.
async fn assume_role_check(
    role: Option<&str>,
    seen: &WebIdentityToken,
    thumb: Option<&str>,
) -> Check {
    let mut s = Check::new("assume-role", "STS AssumeRoleWithWebIdentity succeeds");
    let (Some(role), Some(token)) = (role, &seen.token) else {
        s.ok = false;
        s.assumed = Some("no role or no token: not called".into());
        return s;
    };
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .no_credentials()
        .load()
        .await;
    let client = aws_sdk_sts::Client::new(&conf);
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        client
            .assume_role_with_web_identity()
            .role_arn(role)
            .role_session_name("irsa-doctor")
            .web_identity_token(token)
            .send(),
    )
    .await;
    match r {
        Err(_) => {
            s.ok = false;
            s.evidence.push("no answer from STS within 20s".into());
            s.fix = Some("check AWS_ENDPOINT_URL_STS / network egress to sts".into());
        }
        Ok(Ok(out)) => s.evidence.push(format!(
            "assumed {}",
            out.assumed_role_user().map(|u| u.arn()).unwrap_or("-")
        )),
        Ok(Err(e)) => {
            use aws_sdk_sts::error::ProvideErrorMetadata as _;
            let se = e.into_service_error();
            let code = se.code().unwrap_or("no code").to_owned();
            let msg = se.message().unwrap_or("").to_owned();
            s.ok = false;
            s.evidence.push(format!("{code}: {msg}"));
            let issuer = seen.iss.as_deref().unwrap_or("ISSUER");
            s.fix = Some(sts_fix(
                &code, &msg, issuer, thumb, role, &seen.sub, &seen.aud,
            ));
        }
    }
    s
}

/// The cause and fix of an STS error, from its code and message.
fn sts_fix(
    code: &str,
    msg: &str,
    issuer: &str,
    thumbprint: Option<&str>,
    role: &str,
    sub: &str,
    aud: &str,
) -> String {
    let prefix = irsa_audit::issuer_key_prefix(issuer);
    let account = role.split(':').nth(4).unwrap_or("ACCOUNT");
    if code == "InvalidIdentityToken" && msg.contains("No OpenIDConnect provider found") {
        let thumbprint =
            thumbprint.unwrap_or("<SHA-1 of the last certificate the jwks_uri host presents>");
        return format!(
            "register the issuer: aws iam create-open-id-connect-provider --url {issuer} --client-id-list {aud} --thumbprint-list {thumbprint}"
        );
    }
    if code == "InvalidIdentityToken" && msg.to_ascii_lowercase().contains("audience") {
        return format!(
            "aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn arn:aws:iam::{account}:oidc-provider/{prefix} --client-id {aud}"
        );
    }
    if code == "ExpiredTokenException" {
        return "the token expired: mount the projected token (recreate the pod through the webhook)".into();
    }
    if code == "AccessDenied" {
        return format!(
            "the trust policy of {role} must allow this subject; add: {}",
            json!({"Effect": "Allow",
                   "Principal": {"Federated": format!("arn:aws:iam::{account}:oidc-provider/{prefix}")},
                   "Action": "sts:AssumeRoleWithWebIdentity",
                   "Condition": {"StringEquals": {format!("{prefix}:sub"): sub, format!("{prefix}:aud"): aud}}})
        );
    }
    if code == "InvalidIdentityToken" {
        return "STS could not verify the token: check that the issuer's discovery document and JWKS are public and match the token's iss".into();
    }
    format!("STS refused with {code}")
}

/// Reads and peeks the token file for the `token-file` check, recording in `t` why it
/// cannot be used (no file configured, unreadable, not a JWT). The token and its parts.
pub(crate) fn read_token_file(
    file: Option<&str>,
    t: &mut Check,
) -> Option<(String, irsa_jose::UnverifiedToken)> {
    let Some(file) = file else {
        t.ok = false;
        t.assumed = Some("no token file configured".into());
        return None;
    };
    let text = match std::fs::read_to_string(file) {
        Ok(s) => s.trim().to_owned(),
        Err(e) => {
            t.ok = false;
            t.evidence.push(format!("cannot read the token file: {e}"));
            t.fix = Some(
                "the projected volume is not mounted: recreate the pod so the webhook mounts it"
                    .into(),
            );
            return None;
        }
    };
    match irsa_jose::peek(&text) {
        Ok(p) => Some((text, p)),
        Err(e) => {
            t.ok = false;
            t.evidence.push(format!("not a JWT: {}", e.detail()));
            t.fix = Some("the file must hold the projected ServiceAccount token".into());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    #[test]
    fn source_and_format_flags_go_before_or_after_pod() {
        let before = [
            "doctor",
            "--sts-config",
            "s.yaml",
            "--kubeconfig",
            "k",
            "--format",
            "json",
            "pod",
            "ns/app",
        ];
        let after = [
            "doctor",
            "pod",
            "ns/app",
            "--sts-config",
            "s.yaml",
            "--kubeconfig",
            "k",
            "--format",
            "json",
        ];
        for argv in [&before[..], &after[..]] {
            let t = T::try_parse_from(argv).unwrap();
            assert_eq!(
                t.a.sources.sts_config.as_deref(),
                Some(std::path::Path::new("s.yaml"))
            );
            assert_eq!(
                t.a.sources.kubeconfig.as_deref(),
                Some(std::path::Path::new("k"))
            );
            assert!(matches!(t.a.format, Format::Json));
            assert!(matches!(&t.a.cmd, Some(Cmd::Pod { pod }) if pod == "ns/app"));
        }
        let t = T::try_parse_from(["doctor", "pod", "ns/app", "--aws", "--issuer-ca", "ca.pem"])
            .unwrap();
        assert!(t.a.sources.aws && t.a.issuer_ca.is_some());
        // One IAM side at a time, wherever the flags are.
        for argv in [
            &["doctor", "--aws", "pod", "ns/app", "--sts-config", "s"][..],
            &[
                "doctor",
                "--iam-export",
                "e",
                "pod",
                "ns/app",
                "--sts-config",
                "s",
            ][..],
            &["doctor", "pod", "ns/app", "--aws", "--iam-export", "e"][..],
        ] {
            let refused = T::try_parse_from(argv).map_or(true, |t| t.a.sources.check().is_err());
            assert!(refused, "{argv:?}");
        }
    }
}
