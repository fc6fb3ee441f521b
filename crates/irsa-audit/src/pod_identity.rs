//! `irsa doctor` for a pod on the EKS Pod Identity path (container credentials): the pod
//! identity association of its ServiceAccount, the token's audience, the role's trust of
//! `pods.eks.amazonaws.com` (`sts:AssumeRole` and `sts:TagSession`, with the session tags
//! as request tags), the session tags the permission policies expect against those the
//! session would carry, and (inside the pod) the agent's answer, each with evidence and a
//! fix.

use irsa_policy::{Context, Decision, EvalInput, Policy, PrincipalType, Request};
use serde_json::Value;

use crate::account::{PermissionPolicy, Role};
use crate::doctor::{Check, Iam};

/// The audience of a Pod Identity token, and the service principal that assumes roles.
pub const POD_IDENTITY_AUDIENCE: &str = "pods.eks.amazonaws.com";
/// The session tag keys EKS Pod Identity sets, in its documented order.
pub const POD_IDENTITY_TAG_KEYS: [&str; 6] = [
    "eks-cluster-arn",
    "eks-cluster-name",
    "kubernetes-namespace",
    "kubernetes-service-account",
    "kubernetes-pod-name",
    "kubernetes-pod-uid",
];
/// Longest agent answer body quoted as evidence (characters).
const MAX_QUOTE: usize = 400;

/// A pod identity association, from an `irsa sts` configuration or the EKS API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodIdentityAssociation {
    /// The cluster's name.
    pub cluster: String,
    /// The namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// The role it gives.
    pub role_arn: String,
    /// Its id (`a-…`).
    pub id: String,
}

/// Where the associations were read, if anywhere.
#[derive(Debug, Clone, Copy)]
pub enum Associations<'a> {
    /// No source was given.
    Missing,
    /// A source was given but could not be read; why.
    Unavailable(&'a str),
    /// Read from `source` (`irsa sts configuration`, `EKS cluster dev`).
    Listed {
        /// Where they come from.
        source: &'a str,
        /// The associations (of every cluster of the source).
        items: &'a [PodIdentityAssociation],
    },
}

/// What the agent answered `GET FULL_URI` with the token file's content (in the pod).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentProbe {
    /// No HTTP answer (connection refused, timeout, no route): why.
    Unreachable(String),
    /// An HTTP answer: status and body (credentials are never quoted).
    Answered {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
}

/// What the CLI gathered about a pod on the Pod Identity path.
#[derive(Debug, Clone)]
pub struct PodIdentityFacts<'a> {
    /// The cluster's name (`clusterName` of the agent's calls), when known.
    pub cluster: Option<&'a str>,
    /// The cluster's ARN (the `eks-cluster-arn` tag), when known.
    pub cluster_arn: Option<&'a str>,
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The pod's ServiceAccount.
    pub service_account: &'a str,
    /// The pod's name and uid (`kubernetes-pod-name`, `kubernetes-pod-uid`), when known.
    pub pod: Option<(&'a str, &'a str)>,
    /// Where the token is seen (`projected volume eks-pod-identity-token`, `token file
    /// /var/run/…`) and its audiences; `Err`: why it is not seen.
    pub token_audiences: Result<(String, Vec<String>), String>,
    /// The associations.
    pub associations: Associations<'a>,
    /// The IAM side (the role's trust and permission policies).
    pub account: Iam<'a>,
    /// The agent's URI (`AWS_CONTAINER_CREDENTIALS_FULL_URI`) and its answer; `None`
    /// outside the pod (the agent listens on the node's link-local address).
    pub agent: Option<(&'a str, AgentProbe)>,
}

/// The trust statement EKS Pod Identity needs.
pub fn trust_statement() -> Value {
    serde_json::json!({
        "Effect": "Allow",
        "Principal": {"Service": POD_IDENTITY_AUDIENCE},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    })
}

/// The session tags EKS would set for this pod; `None` values are unknown.
pub fn session_tags(f: &PodIdentityFacts<'_>) -> Vec<(&'static str, Option<String>)> {
    let values = [
        f.cluster_arn.map(str::to_owned),
        f.cluster.map(str::to_owned),
        Some(f.namespace.to_owned()),
        Some(f.service_account.to_owned()),
        f.pod.map(|p| p.0.to_owned()),
        f.pod.map(|p| p.1.to_owned()),
    ];
    POD_IDENTITY_TAG_KEYS.into_iter().zip(values).collect()
}

fn fmt_tags(tags: &[(&'static str, Option<String>)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("(unknown)")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn create_fix(f: &PodIdentityFacts<'_>, role: &str) -> String {
    let cluster = f.cluster.unwrap_or("CLUSTER");
    format!(
        "aws eks create-pod-identity-association --cluster-name {cluster} --namespace {} --service-account {} --role-arn {role} (irsa sts: add {{cluster: {cluster}, namespace: {}, serviceAccount: {}, roleArn: {role}}} under podIdentityAssociations)",
        f.namespace, f.service_account, f.namespace, f.service_account
    )
}

/// Why no association matched: how many the cluster has, and the close ones (same
/// namespace or same ServiceAccount name).
fn no_association(
    f: &PodIdentityFacts<'_>,
    source: &str,
    items: &[PodIdentityAssociation],
    cluster: &str,
) -> String {
    let near: Vec<String> = items
        .iter()
        .filter(|a| {
            a.cluster == cluster
                && (a.namespace == f.namespace || a.service_account == f.service_account)
        })
        .map(|a| format!("{}/{} → {}", a.namespace, a.service_account, a.role_arn))
        .collect();
    let mut ev = format!(
        "{source}: no association for {}/{} in cluster {cluster} ({} association(s) there)",
        f.namespace,
        f.service_account,
        items.iter().filter(|a| a.cluster == cluster).count()
    );
    if !near.is_empty() {
        ev.push_str(&format!("; close ones: {}", near.join(", ")));
    }
    ev
}

/// The role the association gives, when one was found.
fn association_check<'f>(f: &'f PodIdentityFacts<'_>) -> (Check, Option<&'f str>) {
    let mut c = Check::new(
        "pod-identity-association",
        format!(
            "a pod identity association maps {}/{} in cluster {} to a role",
            f.namespace,
            f.service_account,
            f.cluster.unwrap_or("(unknown)")
        ),
    );
    let agent_ok = matches!(
        &f.agent,
        Some((_, AgentProbe::Answered { status: 200, .. }))
    );
    match f.associations {
        Associations::Listed { source, items } => {
            let Some(cluster) = f.cluster else {
                let clusters: Vec<&str> = items.iter().map(|a| a.cluster.as_str()).collect();
                c.fail(
                    format!("the cluster is unknown; {source} has associations in {clusters:?}"),
                    "name the cluster: --cluster-name NAME",
                );
                return (c, None);
            };
            let found = items.iter().find(|a| {
                a.cluster == cluster
                    && a.namespace == f.namespace
                    && a.service_account == f.service_account
            });
            match found {
                Some(a) => {
                    c.saw(format!(
                        "{source}: association {} gives {}",
                        a.id, a.role_arn
                    ));
                    (c, Some(a.role_arn.as_str()))
                }
                None => {
                    c.fail(
                        no_association(f, source, items, cluster),
                        create_fix(f, "ROLE_ARN"),
                    );
                    (c, None)
                }
            }
        }
        _ if agent_ok => {
            c.saw("the agent issued credentials, so EKS Auth found an association");
            (c, None)
        }
        Associations::Unavailable(why) => {
            c.fail(
                format!("the associations could not be read: {why}"),
                "give --sts-config FILE (the irsa sts configuration), or reach the EKS API with credentials that may call eks:ListPodIdentityAssociations",
            );
            (c, None)
        }
        Associations::Missing => {
            c.fail(
                "no association source given",
                "run again with --sts-config FILE (the irsa sts configuration with podIdentityAssociations)",
            );
            (c, None)
        }
    }
}

fn audience_check(f: &PodIdentityFacts<'_>) -> Check {
    let mut c = Check::new(
        "pod-identity-token-audience",
        format!("the Pod Identity token's audience is {POD_IDENTITY_AUDIENCE}"),
    );
    match &f.token_audiences {
        Ok((source, auds)) if auds.iter().any(|a| a == POD_IDENTITY_AUDIENCE) => {
            c.saw(format!("{source}: audience {auds:?}"));
        }
        Ok((source, auds)) => c.fail(
            format!("{source}: audience {auds:?}: EKS Auth refuses it (InvalidTokenException)"),
            format!(
                "project the token with audience {POD_IDENTITY_AUDIENCE} (serviceAccountToken.audience; the webhook's --container-credentials-audience), then recreate the pod"
            ),
        ),
        Err(why) => c.fail(
            why.clone(),
            "mount the projected Pod Identity token (recreate the pod through the webhook in container-credentials mode)",
        ),
    }
    c
}

/// The request EKS Auth evaluates the trust policy with, for `action`.
fn trust_request(role_arn: &str, action: &str, tags: &[(&'static str, Option<String>)]) -> Request {
    let mut ctx = Context::new();
    for (k, v) in tags {
        if let Some(v) = v {
            ctx.insert(format!("aws:RequestTag/{k}"), v.as_str());
        }
    }
    ctx.insert_multi(
        "aws:TagKeys",
        tags.iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| (*k).to_owned()),
    );
    ctx.insert("aws:PrincipalServiceName", POD_IDENTITY_AUDIENCE);
    Request::new(action, role_arn)
        .with_principal(POD_IDENTITY_AUDIENCE)
        .with_principal_type(PrincipalType::Service)
        .with_context(ctx)
}

/// Why the trust policy refuses `action`, per statement.
fn trust_reasons(policy: &Policy, req: &Request) -> (bool, Vec<String>) {
    let e = irsa_policy::explain_trust(policy, req);
    let allowed = e.decision == Decision::Allow;
    let mut why = Vec::new();
    for st in &e.statements {
        let label = crate::doctor::statement_label(st);
        match (st.effect, st.applies) {
            (irsa_policy::Effect::Deny, true) => why.push(format!("{label} (Deny) refuses it")),
            (irsa_policy::Effect::Allow, true) => why.push(format!("{label} allows it")),
            (irsa_policy::Effect::Allow, false) if !allowed => {
                let mut parts = Vec::new();
                if let Some(p) = st.principal.as_ref().filter(|p| !p.matched) {
                    parts.push(p.detail.clone());
                }
                if !st.action.matched {
                    parts.push(st.action.detail.clone());
                }
                for c in st.conditions.iter().filter(|c| !c.matched) {
                    parts.push(format!(
                        "condition {} {} {:?} is false ({})",
                        c.operator,
                        c.key,
                        c.policy_values,
                        match &c.request_values {
                            None => "the key is absent".to_owned(),
                            Some(v) => format!("the request has {v:?}"),
                        }
                    ));
                }
                why.push(format!("{label}: {}", parts.join("; ")));
            }
            _ => {}
        }
    }
    (allowed, why)
}

fn trust_check(f: &PodIdentityFacts<'_>, role: Option<&Role>, role_arn: Option<&str>) -> Check {
    let mut c = Check::new(
        "pod-identity-trust",
        format!(
            "the role's trust policy lets {POD_IDENTITY_AUDIENCE} call sts:AssumeRole and sts:TagSession"
        ),
    );
    let Some(role) = role else {
        c.ok = false;
        c.assumed = Some(match (role_arn, f.account) {
            (None, _) => "no role (see the association check)".to_owned(),
            (Some(a), Iam::Account(acc)) => format!("no role {a} in {}", acc.source),
            (Some(_), Iam::Unavailable(why)) => format!("the IAM side could not be read: {why}"),
            (Some(_), Iam::Missing) => {
                "no IAM side given (--sts-config, --iam-export or --aws)".to_owned()
            }
        });
        if let Some(a) = role_arn {
            c.fix = Some(format!(
                "create the role {a}, or associate an existing one ({})",
                create_fix(f, "ROLE_ARN")
            ));
        }
        return c;
    };
    let policy = match &role.trust.policy {
        Ok(p) => p,
        Err(e) => {
            c.fail(
                format!("the trust policy does not parse: {e}"),
                "fix the trust policy document",
            );
            return c;
        }
    };
    let tags = session_tags(f);
    for action in ["sts:AssumeRole", "sts:TagSession"] {
        let req = trust_request(&role.arn, action, &tags);
        let (ok, why) = trust_reasons(policy, &req);
        if ok {
            c.saw(format!("{action}: allowed"));
        } else {
            c.ok = false;
            c.evidence.push(format!(
                "{action}: refused (EKS Auth answers AccessDeniedException: Unauthorized to perform {action} on role {} for {POD_IDENTITY_AUDIENCE}){}",
                role.arn,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {}", why.join("; "))
                }
            ));
        }
    }
    if !c.ok {
        c.fix = Some(format!(
            "add this statement to the trust policy (aws iam update-assume-role-policy --role-name {}): {}",
            role.name,
            trust_statement()
        ));
    }
    c
}

fn is_principal_tag(key: &str) -> Option<&str> {
    let prefix = "aws:principaltag/";
    let lower = key.get(..prefix.len())?;
    (lower.eq_ignore_ascii_case(prefix)).then(|| key.get(prefix.len()..).unwrap_or(""))
}

/// A session-tag condition of a permission statement: whether it holds, and what the
/// session would carry for its tag.
fn tag_condition_text(
    cc: &irsa_policy::ConditionCheck,
    tags: &[(&'static str, Option<String>)],
) -> String {
    let tag = is_principal_tag(&cc.key).unwrap_or("");
    let known = POD_IDENTITY_TAG_KEYS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(tag));
    let have = tags
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(tag))
        .and_then(|(_, v)| v.clone());
    let state = if cc.matched { "holds" } else { "is false" };
    let actual = match (known, have) {
        (false, _) => format!("EKS Pod Identity never sets `{tag}`"),
        (true, Some(v)) => format!("the session carries `{v}`"),
        (true, None) => "its value is unknown here".to_owned(),
    };
    format!(
        "{} {} {:?} {state}: {actual}",
        cc.operator, cc.key, cc.policy_values
    )
}

/// The statement of a permission policy, as named in the session-tag check.
fn tagged_statement_label(p: &PermissionPolicy, st: &irsa_policy::StatementCheck) -> String {
    format!(
        "{} statement {}{} ({:?})",
        p.source.label(),
        st.statement,
        st.sid
            .as_deref()
            .map(|s| format!(" {s}"))
            .unwrap_or_default(),
        st.effect
    )
}

/// The statements of the role's readable permission policies that read session tags,
/// each explained for a request carrying `tags`, with its policy.
fn tag_statements<'r>(
    role: &'r Role,
    tags: &[(&'static str, Option<String>)],
) -> Vec<(&'r PermissionPolicy, irsa_policy::StatementCheck)> {
    let mut ctx = Context::new();
    for (k, v) in tags {
        if let Some(v) = v {
            ctx.insert(format!("aws:PrincipalTag/{k}"), v.as_str());
        }
    }
    let req = Request::new("irsa:SessionTags", "*").with_context(ctx);
    let mut out = Vec::new();
    for p in &role.permissions {
        let Some(Ok(policy)) = p.document.as_ref().map(|d| &d.policy) else {
            continue;
        };
        let input = EvalInput {
            identity_policies: std::slice::from_ref(policy),
            ..EvalInput::default()
        };
        let e = irsa_policy::explain(&input, &req);
        out.extend(
            e.statements
                .into_iter()
                .filter(|st| {
                    st.conditions
                        .iter()
                        .any(|c| is_principal_tag(&c.key).is_some())
                })
                .map(|st| (p, st)),
        );
    }
    out
}

fn tags_check(f: &PodIdentityFacts<'_>, role: Option<&Role>) -> Check {
    let mut c = Check::new(
        "pod-identity-session-tags",
        "the session tags the permission policies expect are those the session would carry",
    );
    let tags = session_tags(f);
    c.saw(format!("the session would carry: {}", fmt_tags(&tags)));
    let Some(role) = role else {
        c.ok = false;
        c.assumed = Some("no role to read the permission policies of".into());
        return c;
    };
    let (mut allows, mut allows_holding) = (0usize, 0usize);
    let mut wants = Vec::new();
    for (p, st) in &tag_statements(role, &tags) {
        let tagged: Vec<&irsa_policy::ConditionCheck> = st
            .conditions
            .iter()
            .filter(|c| is_principal_tag(&c.key).is_some())
            .collect();
        let label = tagged_statement_label(p, st);
        let holds = tagged.iter().all(|c| c.matched);
        let parts: Vec<String> = tagged
            .iter()
            .map(|cc| tag_condition_text(cc, &tags))
            .collect();
        wants.extend(
            tagged
                .iter()
                .filter(|cc| !cc.matched)
                .map(|cc| format!("{} {:?}", cc.key, cc.policy_values)),
        );
        c.saw(format!("{label}: {}", parts.join("; ")));
        match st.effect {
            irsa_policy::Effect::Allow => {
                allows += 1;
                if holds {
                    allows_holding += 1;
                }
            }
            irsa_policy::Effect::Deny => {
                if holds {
                    c.ok = false;
                    c.fix = Some(format!(
                        "{label} denies every session of {}/{}: narrow its tag condition",
                        f.namespace, f.service_account
                    ));
                }
            }
        }
    }
    if allows == 0 && c.ok {
        c.saw("no Allow statement reads session tags");
    }
    if allows > 0 && allows_holding == 0 {
        c.ok = false;
        c.fix = Some(format!(
            "no Allow statement conditioned on session tags holds for this pod (they want {}): write the conditions for the values above (e.g. \"aws:PrincipalTag/kubernetes-namespace\": \"{}\"), or associate the role with the ServiceAccount the policy names",
            wants.join(", "),
            f.namespace
        ));
    }
    c
}

fn quote(body: &str) -> String {
    let t = body.trim();
    let mut q: String = t.chars().take(MAX_QUOTE).collect();
    if q.len() < t.len() {
        q.push('…');
    }
    q
}

/// The agent's answer, mapped to its cause and fix.
pub fn agent_check(uri: &str, probe: &AgentProbe, role_arn: Option<&str>) -> Check {
    let mut c = Check::new(
        "pod-identity-agent",
        format!("the Pod Identity agent at {uri} answers with credentials"),
    );
    let role = role_arn.unwrap_or("ROLE_ARN");
    match probe {
        AgentProbe::Unreachable(why) => c.fail(
            format!("GET {uri}: {why}"),
            "run the agent on the pod's node, listening on the FULL_URI's address (irsa agent: the DaemonSet of deploy/helm/irsa-agent on the host network with 169.254.170.23 and fd00:ec2::23 assigned; with irsa up --pod-identity: it stopped, start it again); a NetworkPolicy must let the pod reach it",
        ),
        AgentProbe::Answered { status: 200, body } => {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let field = |k: &str| v.get(k).and_then(Value::as_str);
            match (field("AccessKeyId"), field("Expiration")) {
                (Some(k), Some(exp)) if !k.is_empty() => c.saw(format!(
                    "200: credentials {}… of account {}, expiring {exp}",
                    k.chars().take(4).collect::<String>(),
                    field("AccountId").unwrap_or("-")
                )),
                _ => c.fail(
                    "200 without container credentials JSON (AccessKeyId, Expiration)",
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI must name the agent's /v1/credentials",
                ),
            }
        }
        AgentProbe::Answered { status, body } => {
            let q = quote(body);
            let ev = format!("{status}: {q}");
            let fix = if body.contains("(ResourceNotFoundException)") && body.contains("cluster") && !body.contains("association") {
                "the agent's --cluster-name is not a cluster EKS Auth knows: give it the cluster's name (irsa sts: one of `clusters`)".to_owned()
            } else if body.contains("(ResourceNotFoundException)") {
                format!(
                    "EKS Auth has no pod identity association for this ServiceAccount: aws eks create-pod-identity-association --cluster-name CLUSTER --namespace NAMESPACE --service-account NAME --role-arn {role} (irsa sts: podIdentityAssociations)"
                )
            } else if body.contains("(AccessDeniedException)") && body.contains("eks-auth:AssumeRoleForPodIdentity") {
                "the agent's own role may not call eks-auth:AssumeRoleForPodIdentity on the cluster: allow it in the agent role's permission policy (Resource: the cluster's ARN)".to_owned()
            } else if body.contains("(AccessDeniedException)") {
                format!(
                    "the role's trust policy must let {POD_IDENTITY_AUDIENCE} call sts:AssumeRole and sts:TagSession; add: {}",
                    trust_statement()
                )
            } else if body.contains("(ExpiredTokenException)") || body.contains("token is expired") {
                "the token expired: the kubelet refreshes a projected token; mount the projected volume (recreate the pod through the webhook)".to_owned()
            } else if body.contains("(InvalidTokenException)") {
                format!(
                    "EKS Auth refused the token: it must be a projected ServiceAccount token of audience {POD_IDENTITY_AUDIENCE} from the cluster's issuer, bound to the pod (recreate the pod through the webhook in container-credentials mode)"
                )
            } else if body.contains("Service account token") {
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE must hold the projected token (a JWT within its validity)".to_owned()
            } else if *status == 403 {
                "the FULL_URI's host is not an address the agent serves: use the address the agent listens on (irsa agent --allowed-host)".to_owned()
            } else if *status == 429 {
                "the agent is at its concurrency limit: retry, or raise irsa agent --max-concurrency".to_owned()
            } else if body.contains("EKS Auth") || *status >= 500 {
                "the agent cannot get an answer from EKS Auth: check its --endpoint (irsa sts) and its own credentials (the agent's IRSA role) in its logs".to_owned()
            } else {
                "see the agent's logs".to_owned()
            };
            c.fail(ev, fix);
        }
    }
    c
}

/// The Pod Identity checklist.
pub fn diagnose_pod_identity(f: &PodIdentityFacts<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    let (assoc, role_arn) = association_check(f);
    out.push(assoc);
    out.push(audience_check(f));
    let role = role_arn.and_then(|a| f.account.account()?.role(a));
    out.push(trust_check(f, role, role_arn));
    out.push(tags_check(f, role));
    if let Some((uri, probe)) = &f.agent {
        out.push(agent_check(uri, probe, role_arn));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Account;
    use serde_json::json;

    const ROLE: &str = "arn:aws:iam::111122223333:role/app";
    const CLUSTER_ARN: &str = "arn:aws:eks:us-east-1:111122223333:cluster/dev";

    fn account(trust_actions: Value, namespace_in_policy: &str) -> Account {
        let export = json!({
            "RoleDetailList": [{
                "RoleName": "app", "Path": "/", "Arn": ROLE,
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": trust_actions,
                    "Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-name": "dev"}}
                }]},
                "RolePolicyList": [{"PolicyName": "by-namespace", "PolicyDocument": {
                    "Version": "2012-10-17", "Statement": [
                        {"Sid": "Read", "Effect": "Allow", "Action": "dynamodb:GetItem",
                         "Resource": "*",
                         "Condition": {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": namespace_in_policy}}},
                        {"Sid": "Plain", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
                    ]}}],
                "AttachedManagedPolicies": []
            }],
            "Policies": []
        });
        Account::from_authorization_details(&export.to_string()).unwrap()
    }

    fn associations() -> Vec<PodIdentityAssociation> {
        vec![PodIdentityAssociation {
            cluster: "dev".into(),
            namespace: "team-a".into(),
            service_account: "reader".into(),
            role_arn: ROLE.into(),
            id: "a-abcdefghijklmnopq".into(),
        }]
    }

    fn facts<'a>(
        acc: &'a Account,
        assoc: &'a [PodIdentityAssociation],
        namespace: &'a str,
    ) -> PodIdentityFacts<'a> {
        PodIdentityFacts {
            cluster: Some("dev"),
            cluster_arn: Some(CLUSTER_ARN),
            namespace,
            service_account: "reader",
            pod: Some(("reader-1", "6c1f9e2d-2222-4000-8000-000000000002")),
            token_audiences: Ok((
                "token file /t".into(),
                vec![POD_IDENTITY_AUDIENCE.to_owned()],
            )),
            associations: Associations::Listed {
                source: "irsa sts configuration",
                items: assoc,
            },
            account: Iam::Account(acc),
            agent: None,
        }
    }

    fn by_id<'c>(checks: &'c [Check], id: &str) -> &'c Check {
        checks.iter().find(|c| c.id == id).unwrap()
    }

    #[test]
    fn a_working_setup_passes_every_check() {
        let acc = account(json!(["sts:AssumeRole", "sts:TagSession"]), "team-a");
        let assoc = associations();
        let checks = diagnose_pod_identity(&facts(&acc, &assoc, "team-a"));
        assert_eq!(checks.len(), 4);
        for c in &checks {
            assert!(c.ok, "{c:?}");
        }
        let a = by_id(&checks, "pod-identity-association");
        assert!(
            a.evidence[0].contains("a-abcdefghijklmnopq gives arn:aws:iam::111122223333:role/app")
        );
        let t = by_id(&checks, "pod-identity-session-tags");
        assert!(
            t.evidence[0].contains("kubernetes-namespace=team-a"),
            "{t:?}"
        );
        assert!(t.evidence[0].contains(&format!("eks-cluster-arn={CLUSTER_ARN}")));
        assert!(
            t.evidence[1].contains("Read") && t.evidence[1].contains("holds"),
            "{t:?}"
        );
    }

    #[test]
    fn a_missing_association_is_named_with_the_command_that_creates_it() {
        let acc = account(json!(["sts:AssumeRole", "sts:TagSession"]), "team-b");
        let assoc = associations();
        let checks = diagnose_pod_identity(&facts(&acc, &assoc, "team-b"));
        let a = by_id(&checks, "pod-identity-association");
        assert!(!a.ok);
        assert!(
            a.evidence[0].contains("no association for team-b/reader in cluster dev"),
            "{a:?}"
        );
        assert!(a.evidence[0].contains("close ones: team-a/reader"), "{a:?}");
        assert!(
            a.fix.as_deref().unwrap().starts_with(
                "aws eks create-pod-identity-association --cluster-name dev --namespace team-b --service-account reader --role-arn"
            ),
            "{a:?}"
        );
        // The checks that need the role say why they could not look.
        let t = by_id(&checks, "pod-identity-trust");
        assert!(!t.ok);
        assert!(t.assumed.as_deref().unwrap().contains("no role"), "{t:?}");
    }

    #[test]
    fn a_trust_policy_without_tag_session_is_refused_with_the_statement_to_add() {
        let acc = account(json!("sts:AssumeRole"), "team-a");
        let assoc = associations();
        let checks = diagnose_pod_identity(&facts(&acc, &assoc, "team-a"));
        let t = by_id(&checks, "pod-identity-trust");
        assert!(!t.ok, "{t:?}");
        assert_eq!(t.evidence[0], "sts:AssumeRole: allowed");
        assert!(
            t.evidence[1].starts_with("sts:TagSession: refused"),
            "{t:?}"
        );
        assert!(
            t.evidence[1].contains("no Action entry (`sts:AssumeRole`) matches `sts:TagSession`"),
            "{t:?}"
        );
        let fix = t.fix.as_deref().unwrap();
        assert!(
            fix.contains("update-assume-role-policy --role-name app"),
            "{fix}"
        );
        assert!(
            fix.contains(r#""Action":["sts:AssumeRole","sts:TagSession"]"#),
            "{fix}"
        );
        // A service principal other than EKS's, or a cluster-name condition another
        // cluster's session fails, is refused too.
        let acc = account(json!(["sts:AssumeRole", "sts:TagSession"]), "team-a");
        let mut f = facts(&acc, &assoc, "team-a");
        f.cluster = Some("prod");
        let assoc_prod: Vec<PodIdentityAssociation> = assoc
            .iter()
            .cloned()
            .map(|mut a| {
                a.cluster = "prod".into();
                a
            })
            .collect();
        f.associations = Associations::Listed {
            source: "s",
            items: &assoc_prod,
        };
        let checks = diagnose_pod_identity(&f);
        let t = by_id(&checks, "pod-identity-trust");
        assert!(!t.ok);
        assert!(
            t.evidence[0].contains(
                "aws:RequestTag/eks-cluster-name [\"dev\"] is false (the request has [\"prod\"])"
            ),
            "{t:?}"
        );
    }

    #[test]
    fn a_wrong_audience_is_named() {
        let acc = account(json!(["sts:AssumeRole", "sts:TagSession"]), "team-a");
        let assoc = associations();
        let mut f = facts(&acc, &assoc, "team-a");
        f.token_audiences = Ok(("token file /t".into(), vec!["sts.amazonaws.com".into()]));
        let c = by_id(&diagnose_pod_identity(&f), "pod-identity-token-audience").clone();
        assert!(!c.ok);
        assert!(c.evidence[0].contains("[\"sts.amazonaws.com\"]"), "{c:?}");
        assert!(c.fix.unwrap().contains("audience pods.eks.amazonaws.com"));
        f.token_audiences = Err("no token file".into());
        let c = by_id(&diagnose_pod_identity(&f), "pod-identity-token-audience").clone();
        assert!(!c.ok);
    }

    #[test]
    fn session_tags_the_policy_wants_but_the_session_does_not_carry() {
        let acc = account(json!(["sts:AssumeRole", "sts:TagSession"]), "team-b");
        let assoc = associations();
        let checks = diagnose_pod_identity(&facts(&acc, &assoc, "team-a"));
        let t = by_id(&checks, "pod-identity-session-tags");
        assert!(!t.ok, "{t:?}");
        assert!(
            t.evidence[1].contains("aws:PrincipalTag/kubernetes-namespace [\"team-b\"] is false: the session carries `team-a`"),
            "{t:?}"
        );
        assert!(
            t.fix
                .as_deref()
                .unwrap()
                .contains("\"aws:PrincipalTag/kubernetes-namespace\": \"team-a\"")
        );
        // A tag EKS never sets (a typo) is named as such.
        let acc = account(json!(["sts:AssumeRole", "sts:TagSession"]), "team-a");
        let mut acc2 = acc.clone();
        let doc = acc2.roles[0].permissions[0].document.as_mut().unwrap();
        let text = doc
            .text
            .replace("kubernetes-namespace", "kubernetes-namespaces");
        *doc = crate::Document::from_iam("p", &text).unwrap();
        let checks = diagnose_pod_identity(&facts(&acc2, &assoc, "team-a"));
        let t = by_id(&checks, "pod-identity-session-tags");
        assert!(!t.ok);
        assert!(
            t.evidence[1].contains("EKS Pod Identity never sets `kubernetes-namespaces`"),
            "{t:?}"
        );
    }

    fn answered(status: u16, body: &str) -> AgentProbe {
        AgentProbe::Answered {
            status,
            body: body.into(),
        }
    }

    /// The agent's answers of each kind: (answer, healthy, what the fix names).
    fn agent_answers() -> Vec<(AgentProbe, bool, &'static str)> {
        vec![
            (
                AgentProbe::Unreachable("connection refused".into()),
                false,
                "run the agent on the pod's node",
            ),
            (
                answered(
                    200,
                    r#"{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s","Token":"t","AccountId":"111122223333","Expiration":"2026-12-05T21:00:00Z"}"#,
                ),
                true,
                "",
            ),
            (
                answered(
                    404,
                    "[r]: (ResourceNotFoundException): No pod identity association found for service account reader in namespace team-b of cluster dev, fault: client\n",
                ),
                false,
                "aws eks create-pod-identity-association",
            ),
            (
                answered(
                    400,
                    "[r]: (AccessDeniedException): Unauthorized to perform sts:TagSession on role arn:aws:iam::1:role/app for pods.eks.amazonaws.com, fault: client\n",
                ),
                false,
                "sts:TagSession",
            ),
            (
                answered(
                    400,
                    "[r]: (AccessDeniedException): User: arn:aws:sts::1:assumed-role/irsa-agent/x is not authorized to perform: eks-auth:AssumeRoleForPodIdentity on resource: arn:aws:eks:us-east-1:1:cluster/dev, fault: client\n",
                ),
                false,
                "the agent's own role",
            ),
            (
                answered(
                    400,
                    "[r]: (InvalidTokenException): Token audience mismatch, fault: client\n",
                ),
                false,
                "audience pods.eks.amazonaws.com",
            ),
            (answered(403, "Forbidden\n"), false, "--allowed-host"),
            (
                answered(
                    500,
                    "unable to fetch credentials from EKS Auth: dispatch failure\n",
                ),
                false,
                "--endpoint",
            ),
        ]
    }

    #[test]
    fn agent_answers_map_to_their_fixes() {
        let uri = "http://169.254.170.23/v1/credentials";
        for (probe, ok, fix) in &agent_answers() {
            let c = agent_check(uri, probe, Some(ROLE));
            assert_eq!(c.ok, *ok, "{c:?}");
            if *ok {
                assert!(
                    c.evidence[0].starts_with("200: credentials ASIA… of account 111122223333"),
                    "{c:?}"
                );
                // Never a secret or a token.
                assert!(!c.evidence.concat().contains("ASIAEXAMPLE"));
            } else {
                assert!(c.fix.as_deref().unwrap().contains(fix), "{fix}: {c:?}");
            }
        }
        // A huge body is quoted bounded.
        let c = agent_check(uri, &answered(502, &"x".repeat(100_000)), None);
        assert!(c.evidence[0].chars().count() < 500);
    }

    #[test]
    fn without_an_association_source_the_agents_credentials_are_the_evidence() {
        let acc = account(json!(["sts:AssumeRole", "sts:TagSession"]), "team-a");
        let assoc = associations();
        let mut f = facts(&acc, &assoc, "team-a");
        f.associations = Associations::Missing;
        let a = by_id(&diagnose_pod_identity(&f), "pod-identity-association").clone();
        assert!(!a.ok);
        assert!(a.fix.unwrap().contains("--sts-config"));
        f.agent = Some((
            "http://127.0.0.1:1/v1/credentials",
            AgentProbe::Answered {
                status: 200,
                body: r#"{"AccessKeyId":"ASIAX","Expiration":"2026-12-05T21:00:00Z"}"#.into(),
            },
        ));
        let checks = diagnose_pod_identity(&f);
        assert!(by_id(&checks, "pod-identity-association").ok);
        assert!(by_id(&checks, "pod-identity-agent").ok);
    }
}
