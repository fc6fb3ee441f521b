//! `irsa doctor` on the EKS Pod Identity path: a pod whose containers read container
//! credentials (`AWS_CONTAINER_CREDENTIALS_FULL_URI`), seen through the API server or from
//! inside the container (where the agent is asked with the token file, as the SDKs ask).

use anyhow::Context as _;
use irsa_audit::{AgentProbe, Associations, Check, PodIdentityAssociation, PodIdentityFacts};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The container credentials variables.
pub(crate) const FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
pub(crate) const TOKEN_FILE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
/// Largest agent answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// Bound on the whole agent call.
const AGENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The clusters and associations of an `irsa sts` configuration.
pub(crate) struct StsClusters {
    /// (name, ARN).
    pub clusters: Vec<(String, String)>,
    pub associations: Vec<PodIdentityAssociation>,
}

/// Reads `clusters` and `podIdentityAssociations` of an `irsa sts` configuration.
pub(crate) fn sts_clusters(path: &Path) -> anyhow::Result<StsClusters> {
    let text = crate::audit::read_bounded(path)?;
    let config = irsa_sts_core::Config::from_yaml_with(
        &text,
        &irsa_sts_core::ParseOptions {
            allow_insecure_http_issuer: true,
        },
    )
    .with_context(|| format!("`{}`", path.display()))?;
    Ok(StsClusters {
        clusters: config
            .clusters
            .iter()
            .map(|c| (c.name.clone(), c.arn.clone()))
            .collect(),
        associations: config
            .pod_identity_associations
            .iter()
            .map(|a| PodIdentityAssociation {
                cluster: a.cluster.clone(),
                namespace: a.namespace.clone(),
                service_account: a.service_account.clone(),
                role_arn: a.role_arn.clone(),
                id: a.id.clone(),
            })
            .collect(),
    })
}

/// The cluster: `--cluster-name`, else the configuration's only cluster; with its ARN.
pub(crate) fn cluster(
    flag: Option<&str>,
    sts: Option<&StsClusters>,
) -> (Option<String>, Option<String>) {
    let clusters = sts.map(|s| s.clusters.as_slice()).unwrap_or_default();
    match flag {
        Some(n) => (
            Some(n.to_owned()),
            clusters.iter().find(|c| c.0 == n).map(|c| c.1.clone()),
        ),
        None => match clusters {
            [only] => (Some(only.0.clone()), Some(only.1.clone())),
            _ => (None, None),
        },
    }
}

/// The ARN EKS gives a cluster, from the region and the role's account.
pub(crate) fn cluster_arn_of(name: &str, role_arn: Option<&str>) -> Option<String> {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .filter(|r| !r.is_empty())?;
    let arn = irsa_policy::Arn::parse(role_arn?).ok()?;
    Some(format!(
        "arn:{}:eks:{region}:{}:cluster/{name}",
        arn.partition(),
        arn.account()
    ))
}

/// `GET uri` with the token as `Authorization`, as the SDKs' container credentials
/// providers send it (plain http: the FULL_URI of Pod Identity is a link-local or loopback
/// address). Bounded in time and size.
pub(crate) async fn probe_agent(uri: &str, token: &str) -> AgentProbe {
    match tokio::time::timeout(AGENT_TIMEOUT, get(uri, token)).await {
        Ok(Ok((status, body))) => AgentProbe::Answered { status, body },
        Ok(Err(e)) => AgentProbe::Unreachable(format!("{e:#}")),
        Err(_) => AgentProbe::Unreachable(format!("no answer within {}s", AGENT_TIMEOUT.as_secs())),
    }
}

async fn get(uri: &str, token: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let u: http::Uri = uri.parse().context("not a URI")?;
    if u.scheme_str() != Some("http") {
        anyhow::bail!(
            "only http:// is checked (the SDKs take https too, but the agent serves http)"
        );
    }
    let host = u.host().context("no host")?;
    let port = u.port_u16().unwrap_or(80);
    let authority = u.authority().map_or(host, |a| a.as_str());
    let path = u.path_and_query().map_or("/", |p| p.as_str());
    if token.contains(['\r', '\n']) {
        anyhow::bail!("the token holds a line break");
    }
    let addr = format!("{}:{port}", host.trim_matches(['[', ']']));
    let addr = if host.starts_with('[') {
        format!("{host}:{port}")
    } else {
        addr
    };
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: {token}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await?;
    let mut buf = Vec::new();
    (&mut s)
        .take(u64::try_from(MAX_ANSWER).unwrap_or(u64::MAX))
        .read_to_end(&mut buf)
        .await?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP answer")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

/// A chunked body's data (what there is of it).
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else {
            break;
        };
        if n == 0 {
            break;
        }
        let Some(chunk) = after.get(..n) else {
            out.push_str(after);
            break;
        };
        out.push_str(chunk);
        rest = after.get(n..).unwrap_or("").trim_start_matches("\r\n");
    }
    out
}

/// What a token's claims say: (audiences, namespace, ServiceAccount, pod name, pod uid).
pub(crate) struct TokenFacts {
    pub audiences: Vec<String>,
    pub namespace: Option<String>,
    pub service_account: Option<String>,
    pub pod: Option<(String, String)>,
    pub exp: Option<i64>,
}

pub(crate) fn token_facts(claims: &serde_json::Map<String, Value>) -> TokenFacts {
    let audiences = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let k8s = claims.get("kubernetes.io");
    let at = |path: &[&str]| {
        let mut cur = k8s?;
        for p in path {
            cur = cur.get(p)?;
        }
        cur.as_str().map(str::to_owned)
    };
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let mut from_sub = sub
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'))
        .map(|(n, s)| (n.to_owned(), s.to_owned()));
    TokenFacts {
        audiences,
        namespace: at(&["namespace"]).or_else(|| from_sub.as_ref().map(|x| x.0.clone())),
        service_account: at(&["serviceaccount", "name"]).or_else(|| from_sub.take().map(|x| x.1)),
        pod: at(&["pod", "name"]).zip(at(&["pod", "uid"])),
        exp: claims.get("exp").and_then(Value::as_i64),
    }
}

/// The in-pod checklist for container credentials.
pub(crate) async fn in_pod(
    account: Option<irsa_audit::Account>,
    from_aws: bool,
    sts: Option<&StsClusters>,
    cluster_flag: Option<&str>,
    now: i64,
) -> anyhow::Result<Vec<Check>> {
    let (env, [uri, file]) = super::environment_check(
        "the pod identity webhook's environment is present",
        [FULL_URI, TOKEN_FILE],
        &["AWS_REGION", "AWS_DEFAULT_REGION"],
        "the pod was not mutated for Pod Identity: run `irsa doctor pod NAMESPACE/NAME` from outside",
    );
    let (token_c, token, facts) = token_file_check(file.as_deref(), now);
    let probe = match (&uri, &token) {
        (Some(u), Some(tok)) => Some((u.as_str(), probe_agent(u, tok).await)),
        (Some(u), None) => Some((
            u.as_str(),
            AgentProbe::Unreachable("not called: no token to send".into()),
        )),
        _ => None,
    };
    let ns = facts
        .as_ref()
        .and_then(|f| f.namespace.clone())
        .unwrap_or_default();
    let sa = facts
        .as_ref()
        .and_then(|f| f.service_account.clone())
        .unwrap_or_default();
    let target = Target::of(cluster_flag, sts, &ns, &sa);
    let side = super::iam_side(account, from_aws, target.role_arn.as_deref(), None).await;
    let pf = PodIdentityFacts {
        cluster: target.cluster.as_deref(),
        cluster_arn: target.cluster_arn.as_deref(),
        namespace: &ns,
        service_account: &sa,
        pod: facts
            .as_ref()
            .and_then(|f| f.pod.as_ref())
            .map(|p| (p.0.as_str(), p.1.as_str())),
        token_audiences: match (&facts, &file) {
            (Some(f), Some(path)) => Ok((format!("token file {path}"), f.audiences.clone())),
            _ => Err("no token read (see the token-file check)".into()),
        },
        associations: associations(sts),
        account: side.side(),
        agent: probe,
    };
    let mut checks = vec![env, token_c];
    checks.extend(irsa_audit::diagnose_pod_identity(&pf));
    Ok(checks)
}

/// The `token-file` check of a Pod Identity token (current, bound to a pod), the token
/// and what its claims say.
fn token_file_check(file: Option<&str>, now: i64) -> (Check, Option<String>, Option<TokenFacts>) {
    let mut t = Check::new(
        "token-file",
        "the token file holds a current ServiceAccount token bound to the pod",
    );
    let Some((text, p)) = super::read_token_file(file, &mut t) else {
        return (t, None, None);
    };
    let f = token_facts(&p.claims);
    t.evidence.push(format!(
        "sub {}, aud {:?}, pod {}",
        p.claims.get("sub").and_then(Value::as_str).unwrap_or("-"),
        f.audiences,
        f.pod
            .as_ref()
            .map_or("(not bound to a pod)", |p| p.0.as_str())
    ));
    match f.exp {
        Some(exp) if exp <= now => {
            t.ok = false;
            t.evidence
                .push(format!("the token expired {}s ago", now - exp));
            t.fix = Some("the kubelet refreshes a projected token before it expires: mount the projected volume (recreate the pod through the webhook)".into());
        }
        Some(exp) => t.evidence.push(format!("expires in {}s", exp - now)),
        None => {}
    }
    if f.pod.is_none() && t.ok {
        t.ok = false;
        t.fix = Some("EKS Auth takes only a pod-bound token (kubernetes.io.pod): mount a projected serviceAccountToken, not a Secret's token".into());
    }
    (t, Some(text), Some(f))
}

/// The associations of an `irsa sts` configuration, if one was given.
pub(crate) fn associations(sts: Option<&StsClusters>) -> Associations<'_> {
    match sts {
        Some(s) => Associations::Listed {
            source: "irsa sts configuration",
            items: &s.associations,
        },
        None => Associations::Missing,
    }
}

/// The cluster a ServiceAccount's association is looked up in, the cluster's ARN and
/// the role of the association.
pub(crate) struct Target {
    pub cluster: Option<String>,
    pub cluster_arn: Option<String>,
    pub role_arn: Option<String>,
}

impl Target {
    /// The cluster (from the flag or the only one configured), the role of its
    /// association for `ns`/`sa`, and its ARN (configured, else built from the role's
    /// account).
    pub(crate) fn of(
        cluster_flag: Option<&str>,
        sts: Option<&StsClusters>,
        ns: &str,
        sa: &str,
    ) -> Target {
        let (cluster, cluster_arn) = cluster(cluster_flag, sts);
        let role_arn = sts.and_then(|s| {
            s.associations
                .iter()
                .find(|a| {
                    Some(a.cluster.as_str()) == cluster.as_deref()
                        && a.namespace == ns
                        && a.service_account == sa
                })
                .map(|a| a.role_arn.clone())
        });
        let cluster_arn = cluster_arn.or_else(|| {
            cluster
                .as_deref()
                .and_then(|c| cluster_arn_of(c, role_arn.as_deref()))
        });
        Target {
            cluster,
            cluster_arn,
            role_arn,
        }
    }
}

/// Whether a pod (as the API server has it) reads container credentials: the token file
/// path of its first container that has `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
pub(crate) fn pod_token_path(pod: &Value) -> Option<(String, Option<String>)> {
    let spec = pod.get("spec")?;
    ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k)?.as_array())
        .flatten()
        .find_map(|c| {
            let env = c.get("env")?.as_array()?;
            let val = |n: &str| {
                env.iter()
                    .find(|e| e.get("name").and_then(Value::as_str) == Some(n))
                    .and_then(|e| e.get("value"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let uri = val(FULL_URI)?;
            Some((uri, val(TOKEN_FILE)))
        })
}

/// The audience of the projected token mounted where the token file is (by mount path),
/// else of the volume `eks-pod-identity-token`.
pub(crate) fn pod_token_audience(
    pod: &Value,
    token_file: Option<&str>,
) -> Result<(String, Vec<String>), String> {
    let spec = pod.get("spec").ok_or("the pod has no spec")?;
    let dir = token_file
        .and_then(|f| Path::new(f).parent())
        .map(|p| p.display().to_string());
    let mounted = dir.as_deref().and_then(|d| {
        ["containers", "initContainers"]
            .iter()
            .filter_map(|k| spec.get(*k)?.as_array())
            .flatten()
            .filter_map(|c| c.get("volumeMounts")?.as_array())
            .flatten()
            .find(|m| m.get("mountPath").and_then(Value::as_str) == Some(d))
            .and_then(|m| m.get("name")?.as_str())
    });
    let name = mounted.unwrap_or("eks-pod-identity-token");
    let vol = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| format!("no volume `{name}` holds the token ({TOKEN_FILE})"))?;
    let src = vol
        .get("projected")
        .and_then(|p| p.get("sources"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|s| s.get("serviceAccountToken"))
        .ok_or_else(|| format!("volume `{name}` is not a projected serviceAccountToken"))?;
    let aud = src
        .get("audience")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    Ok((
        format!("projected volume `{name}`"),
        if aud.is_empty() {
            vec!["(the API server's default audience)".to_owned()]
        } else {
            vec![aud]
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunked_bodies_are_read() {
        assert_eq!(
            dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
        assert_eq!(dechunk("zz\r\n"), "");
        assert_eq!(dechunk("ff\r\nshort"), "short");
    }

    #[test]
    fn the_pods_token_is_found_by_its_mount() {
        let pod = json!({"spec": {
            "containers": [{"name": "c",
                "env": [{"name": FULL_URI, "value": "http://169.254.170.23/v1/credentials"},
                        {"name": TOKEN_FILE, "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"}],
                "volumeMounts": [{"name": "pi", "mountPath": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"}]}],
            "volumes": [{"name": "pi", "projected": {"sources": [{"serviceAccountToken": {"audience": "sts.amazonaws.com", "path": "eks-pod-identity-token"}}]}}]
        }});
        let (uri, file) = pod_token_path(&pod).unwrap();
        assert_eq!(uri, "http://169.254.170.23/v1/credentials");
        let (src, aud) = pod_token_audience(&pod, file.as_deref()).unwrap();
        assert_eq!(src, "projected volume `pi`");
        assert_eq!(aud, ["sts.amazonaws.com"]);
        assert!(pod_token_path(&json!({"spec": {"containers": [{"name": "c"}]}})).is_none());
        assert!(pod_token_audience(&json!({"spec": {}}), None).is_err());
    }
}
