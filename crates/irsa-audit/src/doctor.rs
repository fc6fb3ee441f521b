//! `irsa doctor`: why a pod cannot assume its role, as a checklist. Every check runs; a
//! check that depends on an earlier one says what it assumed.

use irsa_policy::{Arn, Context, Decision, Effect, Policy, PrincipalType, Request};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::account::{Account, Role};
use crate::cluster::issuer_key_prefix;
use crate::permissions::summarize;

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable id (`service-account`, `webhook-registered`, `trust-policy`, …).
    pub id: &'static str,
    /// What is checked.
    pub title: String,
    /// Passed.
    pub ok: bool,
    /// What was seen.
    pub evidence: Vec<String>,
    /// The exact fix: a command or a policy snippet.
    pub fix: Option<String>,
    /// What the check assumed because an earlier one failed or an input was missing.
    pub assumed: Option<String>,
}

impl Check {
    /// A check that passes until something fails it.
    pub fn new(id: &'static str, title: impl Into<String>) -> Check {
        Check {
            id,
            title: title.into(),
            ok: true,
            evidence: Vec::new(),
            fix: None,
            assumed: None,
        }
    }
    pub(crate) fn fail(&mut self, evidence: impl Into<String>, fix: impl Into<String>) {
        self.ok = false;
        self.evidence.push(evidence.into());
        self.fix = Some(fix.into());
    }
    pub(crate) fn saw(&mut self, evidence: impl Into<String>) {
        self.evidence.push(evidence.into());
    }
}

/// The IAM side a run was given.
#[derive(Debug, Clone, Copy)]
pub enum Iam<'a> {
    /// None was asked for.
    Missing,
    /// It was asked for but could not be read; why (credentials, permissions, network).
    Unavailable(&'a str),
    /// The account (or the part of it that was read).
    Account(&'a Account),
}

impl<'a> Iam<'a> {
    pub(crate) fn account(self) -> Option<&'a Account> {
        match self {
            Iam::Account(a) => Some(a),
            _ => None,
        }
    }
}

/// What the CLI gathered about a pod (raw JSON as the API server returned it).
#[derive(Debug, Clone)]
pub struct PodFacts<'a> {
    /// The pod.
    pub pod: Value,
    /// Its ServiceAccount (`None`: not found).
    pub service_account: Option<Value>,
    /// Its namespace.
    pub namespace: Option<Value>,
    /// Every MutatingWebhookConfiguration.
    pub webhook_configurations: Vec<Value>,
    /// Per webhook name: whether its backend answers (ready endpoints / TCP connect), or why
    /// not.
    pub webhook_backends: BTreeMap<String, Result<String, String>>,
    /// The API server's `/.well-known/openid-configuration`.
    pub discovery: Result<Value, String>,
    /// The JWKS its `jwks_uri` serves.
    pub jwks: Result<Value, String>,
    /// The `pod-identity-webhook` ConfigMaps of the cluster (any namespace): the mapping
    /// a webhook started with `--watch-config-map` reads from its `--namespace`.
    pub config_maps: Vec<Value>,
    /// Why the ConfigMaps could not be listed (RBAC, …), if so.
    pub config_maps_error: Option<String>,
    /// The IAM side.
    pub account: Iam<'a>,
    /// Annotation prefix (`eks.amazonaws.com`).
    pub annotation_prefix: String,
    /// Audience when the ServiceAccount has none (`sts.amazonaws.com`).
    pub default_audience: String,
}

fn s<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Kubernetes label selector semantics (`matchLabels` and `matchExpressions`); an absent
/// or empty selector selects everything.
pub fn selector_matches(selector: Option<&Value>, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = selector else { return true };
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            if labels.get(k).map(String::as_str) != v.as_str() {
                return false;
            }
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let have = labels.get(key);
        let ok = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => have.is_some_and(|h| values.contains(&h.as_str())),
            "NotIn" => have.is_none_or(|h| !values.contains(&h.as_str())),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn covers(list: Option<&Value>, want: &str) -> bool {
    list.and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "*" || v == want))
}

/// The webhooks (configuration name, webhook object) that intercept pod CREATE.
pub fn pod_create_webhooks(configs: &[Value]) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for c in configs {
        let cname = s(c, &["metadata", "name"]).unwrap_or("");
        for w in c
            .get("webhooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let hits = w
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|r| {
                    covers(r.get("operations"), "CREATE")
                        && covers(r.get("apiGroups"), "")
                        && covers(r.get("resources"), "pods")
                });
            if hits {
                let wname = w.get("name").and_then(Value::as_str).unwrap_or("");
                out.push((format!("{cname}/{wname}"), w));
            }
        }
    }
    out
}

fn env_of<'v>(c: &'v Value, name: &str) -> Option<&'v str> {
    c.get("env")?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
}

/// The projected ServiceAccount token source of the IRSA volume (`aws-iam-token`, or any
/// projected token mounted where `AWS_WEB_IDENTITY_TOKEN_FILE` points).
fn token_source(pod: &Value) -> Option<&Value> {
    let vols = pod.get("spec")?.get("volumes")?.as_array()?;
    fn projected(v: &Value) -> Option<&Value> {
        v.get("projected")?
            .get("sources")?
            .as_array()?
            .iter()
            .find_map(|s| s.get("serviceAccountToken"))
    }
    vols.iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some("aws-iam-token"))
        .and_then(projected)
}

/// The trust policy evaluated for a web identity, and, when it refuses, why: per
/// statement (from `irsa_policy::explain_trust`, the same scan as the decision), whether
/// its principal and action apply and which condition entry is false, with the values the
/// request had.
pub fn explain_trust(
    policy: &Policy,
    role_arn: &str,
    provider_arn: &str,
    key_prefix: &str,
    sub: &str,
    aud: &str,
) -> (bool, Vec<String>) {
    let mut ctx = Context::new();
    ctx.insert(format!("{key_prefix}:sub"), sub);
    ctx.insert(format!("{key_prefix}:aud"), aud);
    ctx.insert_multi(format!("{key_prefix}:oaud"), [aud]);
    ctx.insert("aws:FederatedProvider", provider_arn);
    let req = Request::new("sts:AssumeRoleWithWebIdentity", role_arn)
        .with_principal(provider_arn)
        .with_principal_type(PrincipalType::Federated)
        .with_context(ctx);
    let e = irsa_policy::explain_trust(policy, &req);
    let allowed = e.decision == Decision::Allow;
    let mut why = Vec::new();
    for st in &e.statements {
        let label = statement_label(st);
        match (st.effect, st.applies) {
            (Effect::Allow, true) => why.push(format!("{label} allows it")),
            (Effect::Deny, true) => why.push(format!("{label} (Deny) refuses it")),
            // A Deny that does not apply, or any statement once the role is allowed,
            // explains nothing.
            (Effect::Deny, false) => {}
            (Effect::Allow, false) if allowed => {}
            (Effect::Allow, false) => {
                let principal_ok = st.principal.as_ref().is_none_or(|p| p.matched);
                if !(principal_ok && st.action.matched) {
                    let mut parts = Vec::new();
                    if let Some(p) = st.principal.as_ref().filter(|p| !p.matched) {
                        parts.push(p.detail.clone());
                    }
                    if !st.action.matched {
                        parts.push(st.action.detail.clone());
                    }
                    why.push(format!(
                        "{label}: does not cover {provider_arn} calling sts:AssumeRoleWithWebIdentity: {}",
                        parts.join("; ")
                    ));
                    continue;
                }
                for c in st.conditions.iter().filter(|c| !c.matched) {
                    let lk = c.key.to_ascii_lowercase();
                    let actual = if lk == format!("{key_prefix}:sub").to_ascii_lowercase() {
                        format!("the token's sub is `{sub}`")
                    } else if lk == format!("{key_prefix}:aud").to_ascii_lowercase() {
                        format!("the token's aud is `{aud}`")
                    } else if lk.ends_with(":sub") || lk.ends_with(":aud") {
                        format!(
                            "the key belongs to another issuer than `{key_prefix}`, so it is absent"
                        )
                    } else {
                        match &c.request_values {
                            None => "the key is absent in this request".to_owned(),
                            Some(v) => format!("the request has {v:?}"),
                        }
                    };
                    why.push(format!(
                        "{label}: condition {} {} {:?} is false: {actual}",
                        c.operator, c.key, c.policy_values
                    ));
                }
            }
        }
    }
    (allowed, why)
}

/// The role, provider and trust checks shared by the pod and in-pod modes.
pub fn trust_checks(
    iam: Iam<'_>,
    role_arn: Option<&str>,
    issuer: Option<&str>,
    sub: &str,
    aud: &str,
) -> Vec<Check> {
    let Iam::Account(account) = iam else {
        return iam_unread_checks(iam, sub, aud);
    };
    let issuer_s = issuer.unwrap_or("");
    let prefix = issuer_key_prefix(issuer_s);
    let parsed = role_arn.and_then(|a| Arn::parse(a).ok());
    let account_id = parsed
        .as_ref()
        .map(|a| a.account().to_owned())
        .or_else(|| account.account_ids().first().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "ACCOUNT".into());
    let partition = parsed
        .as_ref()
        .map_or("aws".to_owned(), |a| a.partition().to_owned());
    let provider_arn = format!("arn:{partition}:iam::{account_id}:oidc-provider/{prefix}");
    let (provider, audience) = provider_checks(account, issuer, &provider_arn, aud);
    let web_identity = WebIdentity {
        provider_arn: &provider_arn,
        key_prefix: prefix,
        sub,
        aud,
    };
    let [role_c, trust, perms] = role_checks(account, role_arn, &web_identity);
    vec![provider, audience, role_c, trust, perms]
}

/// The five trust-side checks, each failed because the IAM side was not read.
fn iam_unread_checks(iam: Iam<'_>, sub: &str, aud: &str) -> Vec<Check> {
    let (evidence, fix) = match iam {
        Iam::Unavailable(why) => (
            format!("the IAM side could not be read: {why}"),
            "reach IAM (network, AWS_ENDPOINT_URL_IAM) with credentials that may call iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy, iam:ListAttachedRolePolicies, iam:GetPolicy, iam:GetPolicyVersion, iam:ListOpenIDConnectProviders and iam:GetOpenIDConnectProvider (AWS_PROFILE, AWS_ACCESS_KEY_ID, …), or use --iam-export FILE",
        ),
        _ => (
            "no IAM side given".to_owned(),
            "run again with --aws (the account of the default credential chain), --sts-config FILE or --iam-export FILE (aws iam get-account-authorization-details > export.json)",
        ),
    };
    let mut out = vec![
        Check::new(
            "oidc-provider",
            "the cluster's issuer is registered as an IAM OIDC provider",
        ),
        Check::new(
            "provider-audience",
            format!("the provider lists the token's audience `{aud}` as a client id"),
        ),
        Check::new("role-exists", "the role exists"),
        trust_check_of(sub, aud),
        Check::new("permissions", "what the role may do"),
    ];
    for c in &mut out {
        c.fail(evidence.clone(), fix);
    }
    out
}

fn trust_check_of(sub: &str, aud: &str) -> Check {
    Check::new(
        "trust-policy",
        format!("the trust policy lets `{sub}` (aud `{aud}`) assume the role"),
    )
}

/// The `oidc-provider` and `provider-audience` checks.
fn provider_checks(
    account: &Account,
    issuer: Option<&str>,
    provider_arn: &str,
    aud: &str,
) -> (Check, Check) {
    let mut provider = Check::new(
        "oidc-provider",
        "the cluster's issuer is registered as an IAM OIDC provider",
    );
    if issuer.is_none() {
        provider.assumed = Some("the issuer is unknown (discovery failed)".into());
    }
    let issuer = issuer.unwrap_or("");
    let prefix = issuer_key_prefix(issuer);
    let mut audience = Check::new(
        "provider-audience",
        format!("the provider lists the token's audience `{aud}` as a client id"),
    );
    match &account.providers {
        None => {
            provider.assumed = Some(format!(
                "an {} lists no OIDC providers: assumed {provider_arn} exists",
                account.source
            ));
            audience.assumed = provider.assumed.clone();
        }
        Some(ps) => match ps.iter().find(|p| p.key_prefix == prefix) {
            None => {
                provider.fail(
                    format!(
                        "registered providers: {}",
                        ps.iter().map(|p| p.arn.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    format!(
                        "aws iam create-open-id-connect-provider --url {issuer} --client-id-list {aud} --thumbprint-list <SHA-1 of the issuer's TLS root CA>"
                    ),
                );
                audience.assumed = Some("the provider would be created with this audience".into());
                audience.ok = false;
                audience.evidence.push("no provider".into());
                audience.fix = provider.fix.clone();
            }
            Some(p) => {
                provider.saw(format!("{} (client ids {:?})", p.arn, p.client_ids));
                if p.client_ids.iter().any(|c| c == aud) {
                    audience.saw(format!("client ids {:?}", p.client_ids));
                } else {
                    audience.fail(
                        format!("client ids {:?} do not include `{aud}`", p.client_ids),
                        format!(
                            "aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {} --client-id {aud}",
                            p.arn
                        ),
                    );
                }
            }
        },
    }
    (provider, audience)
}

/// The web identity a trust policy is asked about.
struct WebIdentity<'a> {
    provider_arn: &'a str,
    key_prefix: &'a str,
    sub: &'a str,
    aud: &'a str,
}

/// The `role-exists`, `trust-policy` and `permissions` checks.
fn role_checks(account: &Account, role_arn: Option<&str>, id: &WebIdentity<'_>) -> [Check; 3] {
    let mut role_c = Check::new("role-exists", "the role exists");
    let mut trust = trust_check_of(id.sub, id.aud);
    let mut perms = Check::new("permissions", "what the role may do");
    let role = role_arn.and_then(|a| account.role(a));
    match (role_arn, role) {
        (None, _) => {
            role_c.fail(
                "no role ARN (see the ServiceAccount check)",
                "annotate the ServiceAccount first",
            );
            trust.assumed = Some("no role".into());
            trust.ok = false;
            perms.assumed = Some("no role".into());
            perms.ok = false;
        }
        (Some(arn), None) => {
            role_c.fail(
                format!(
                    "no role {arn} in {} ({} roles)",
                    account.source,
                    account.roles.len()
                ),
                missing_role_fix(account, arn),
            );
            trust.ok = false;
            trust.assumed = Some("the role does not exist".into());
            perms.ok = false;
            perms.assumed = Some("the role does not exist".into());
        }
        (Some(arn), Some(r)) => {
            role_c.saw(arn.to_owned());
            explain_role_trust(&mut trust, r, arn, id);
            permission_evidence(&mut perms, r);
        }
    }
    [role_c, trust, perms]
}

/// A role of the same name on another path, else creating the role.
fn missing_role_fix(account: &Account, arn: &str) -> String {
    let name = arn.rsplit('/').next().unwrap_or("");
    let same_name = account
        .roles
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.arn.as_str());
    match same_name {
        Some(real) => format!(
            "the role has another path: use {real} (kubectl annotate serviceaccount ... --overwrite eks.amazonaws.com/role-arn={real})"
        ),
        None => format!(
            "create the role {arn}, or annotate the ServiceAccount with an existing role's ARN"
        ),
    }
}

/// The trust policy's verdict for the web identity, with the statement to add when it
/// refuses.
fn explain_role_trust(trust: &mut Check, r: &Role, arn: &str, id: &WebIdentity<'_>) {
    let p = match &r.trust.policy {
        Err(e) => {
            return trust.fail(
                format!("the trust policy does not parse: {e}"),
                "fix the trust policy document",
            );
        }
        Ok(p) => p,
    };
    let WebIdentity {
        provider_arn,
        key_prefix: prefix,
        sub,
        aud,
    } = *id;
    let (ok, why) = explain_trust(p, arn, provider_arn, prefix, sub, aud);
    trust.evidence.extend(why);
    if !ok {
        trust.ok = false;
        let snippet = serde_json::json!({
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{prefix}:sub"): sub,
                format!("{prefix}:aud"): aud,
            }}
        });
        trust.fix = Some(format!(
            "add this statement to the trust policy (aws iam update-assume-role-policy --role-name {}): {}",
            r.name, snippet
        ));
    }
}

/// One line per permission statement of the role (and per policy that could not be read).
fn permission_evidence(perms: &mut Check, r: &Role) {
    let summary = summarize(r);
    for p in &summary.policies {
        for st in &p.statements {
            perms.saw(format!(
                "{} {}{}",
                p.source.label(),
                st.grant(),
                if st.wildcards.is_empty() {
                    String::new()
                } else {
                    format!(" (wildcards: {})", st.wildcards.join(", "))
                }
            ));
        }
        if let Some(pr) = &p.problem {
            perms.saw(format!("{}: {pr}", p.source.label()));
        }
    }
    if summary.policies.is_empty() {
        perms.saw("no permission policies: the role may do nothing");
    }
}

/// The role the webhook would give the pod: its ServiceAccount's role annotation, else
/// the `pod-identity-webhook` ConfigMap's mapping.
pub fn pod_role_arn(f: &PodFacts<'_>) -> Option<String> {
    let ns = s(&f.pod, &["metadata", "namespace"]).unwrap_or("default");
    let sa_name = s(&f.pod, &["spec", "serviceAccountName"]).unwrap_or("default");
    f.service_account
        .as_ref()
        .and_then(|sa| {
            sa.get("metadata")?
                .get("annotations")?
                .get(format!("{}/role-arn", f.annotation_prefix))?
                .as_str()
        })
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .or_else(|| {
            config_map_mapping(&f.config_maps, ns, sa_name)
                .entry
                .map(|m| m.role_arn)
        })
}

/// The checklist for a pod seen through the API server.
pub fn diagnose_pod(f: &PodFacts<'_>) -> Vec<Check> {
    let pod = &f.pod;
    let ns = s(pod, &["metadata", "namespace"]).unwrap_or("default");
    let name = s(pod, &["metadata", "name"]).unwrap_or("");
    let sa_name = s(pod, &["spec", "serviceAccountName"]).unwrap_or("default");
    let sub = format!("system:serviceaccount:{ns}:{sa_name}");

    // 1. ServiceAccount and annotation (or the webhook's ConfigMap mapping).
    let sa = service_account_check(f, ns, sa_name);
    // 2-4. The webhook.
    let webhook = webhook_checks(f, ns);
    // 5. Mutation.
    let mutated = mutation_check(pod, ns, name, sa.role_arn.as_deref(), &webhook);
    // 6. The projected token.
    let (token, aud) = token_check(f, ns, name, sa.audience.as_deref());
    // 7-8. The issuer.
    let (issuer_c, issuer) = issuer_check(&f.discovery);
    let jwks = jwks_check(&f.jwks);

    let mut out = vec![
        sa.check,
        webhook.registered,
        webhook.backend,
        webhook.selects,
        mutated,
        token,
        issuer_c,
        jwks,
    ];
    // 9-13. The trust side.
    out.extend(trust_checks(
        f.account,
        sa.role_arn.as_deref(),
        issuer.as_deref(),
        &sub,
        &aud,
    ));
    out
}

/// The `service-account` check and the role and audience it found.
struct ServiceAccountRole {
    check: Check,
    /// The annotation's role, else the ConfigMap mapping's.
    role_arn: Option<String>,
    /// The audience that goes with that role.
    audience: Option<String>,
}

fn service_account_check(f: &PodFacts<'_>, ns: &str, sa_name: &str) -> ServiceAccountRole {
    let prefix = &f.annotation_prefix;
    let mut c = Check::new(
        "service-account",
        format!(
            "ServiceAccount {ns}/{sa_name} exists and carries {prefix}/role-arn (or the pod-identity-webhook ConfigMap maps it)"
        ),
    );
    let annotations = f
        .service_account
        .as_ref()
        .and_then(|sa| sa.get("metadata")?.get("annotations")?.as_object().cloned())
        .unwrap_or_default();
    let annotated = annotations
        .get(&format!("{prefix}/role-arn"))
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let mapping = config_map_mapping(&f.config_maps, ns, sa_name);
    for w in &mapping.warnings {
        c.saw(w.clone());
    }
    if let (None, Some(e)) = (&annotated, &f.config_maps_error) {
        c.saw(format!(
            "the pod-identity-webhook ConfigMaps could not be listed, so a mapping there is not seen: {e}"
        ));
    }
    // The annotation wins over the ConfigMap, as in the webhook.
    let (role_arn, audience) = match (&annotated, &mapping.entry) {
        (Some(arn), _) => (
            Some(arn.clone()),
            annotations
                .get(&format!("{prefix}/audience"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        (None, Some(m)) => (Some(m.role_arn.clone()), Some(m.audience.clone())),
        (None, None) => (None, None),
    };
    judge_role(
        &mut c,
        f,
        (ns, sa_name),
        role_arn.as_deref(),
        annotated.is_some(),
        mapping.entry.as_ref(),
    );
    ServiceAccountRole {
        check: c,
        role_arn,
        audience,
    }
}

/// The verdict on the ServiceAccount and its role (`annotated`: read from the
/// annotation; `mapped`: the ConfigMap's entry), with the fix that names a role.
fn judge_role(
    c: &mut Check,
    f: &PodFacts<'_>,
    (ns, sa_name): (&str, &str),
    role_arn: Option<&str>,
    annotated: bool,
    mapped: Option<&Mapped>,
) {
    let prefix = &f.annotation_prefix;
    let suggested = suggested_role(f, ns, sa_name);
    let fix_of = |overwrite: bool| match (annotated, mapped) {
        (false, Some(m)) => format!(
            "set \"{}\" in data.config of ConfigMap {} to {{\"RoleARN\": \"{suggested}\"}} (or annotate: kubectl annotate serviceaccount -n {ns} {sa_name} {prefix}/role-arn={suggested})",
            m.key, m.config_map
        ),
        _ => format!(
            "kubectl annotate serviceaccount -n {ns} {sa_name} {}{prefix}/role-arn={suggested}",
            if overwrite { "--overwrite " } else { "" }
        ),
    };
    match (&f.service_account, role_arn) {
        (None, _) => c.fail(
            format!("no ServiceAccount {ns}/{sa_name}"),
            format!("kubectl create serviceaccount -n {ns} {sa_name} && kubectl annotate serviceaccount -n {ns} {sa_name} {prefix}/role-arn={suggested}"),
        ),
        (Some(_), None) => c.fail(
            format!(
                "{ns}/{sa_name} has no {prefix}/role-arn annotation{}",
                if f.config_maps.is_empty() {
                    String::new()
                } else {
                    " and no pod-identity-webhook ConfigMap maps it".to_owned()
                }
            ),
            fix_of(false),
        ),
        (Some(_), Some(arn)) => {
            let ok = Arn::parse(arn)
                .ok()
                .is_some_and(|a| a.service() == "iam" && a.resource().starts_with("role/"));
            let source = role_source(prefix, annotated, mapped);
            if ok {
                c.saw(format!("{source}: {arn}"));
            } else {
                c.fail(
                    format!("{source}: `{arn}` is not a role ARN"),
                    fix_of(true),
                );
            }
        }
    }
}

/// The role a fix names: the first the audit finds the ServiceAccount may assume, else a
/// placeholder.
fn suggested_role(f: &PodFacts<'_>, ns: &str, sa_name: &str) -> String {
    f.account
        .account()
        .and_then(|a| {
            let sas = vec![crate::ServiceAccount {
                namespace: ns.to_owned(),
                name: sa_name.to_owned(),
                annotations: BTreeMap::new(),
            }];
            let issuer = f
                .discovery
                .as_ref()
                .ok()?
                .get("issuer")?
                .as_str()?
                .to_owned();
            let r = crate::audit(a, &sas, &crate::Cluster::new(issuer));
            r.service_accounts.first()?.can_assume.first().cloned()
        })
        .unwrap_or_else(|| "arn:aws:iam::ACCOUNT:role/ROLE".into())
}

/// Where the ServiceAccount's role was read: the annotation, the ConfigMap, or both.
fn role_source(prefix: &str, annotated: bool, mapped: Option<&Mapped>) -> String {
    match (annotated, mapped) {
        (true, Some(m)) => format!(
            "{prefix}/role-arn (it wins over \"{}\" in ConfigMap {})",
            m.key, m.config_map
        ),
        (true, None) => format!("{prefix}/role-arn"),
        (false, Some(m)) => format!(
            "ConfigMap {} data.config \"{}\" (read by a webhook started with --watch-config-map --namespace {})",
            m.config_map,
            m.key,
            m.config_map.split('/').next().unwrap_or("")
        ),
        (false, None) => String::new(),
    }
}

/// The three webhook checks and what the mutation check explains itself by.
struct WebhookChecks {
    registered: Check,
    backend: Check,
    selects: Check,
    /// No webhook intercepts pod CREATE.
    none: bool,
    /// Webhooks exist but their selectors exclude the pod.
    excluded: bool,
    /// A selecting webhook is down with failurePolicy Ignore.
    down_ignore: bool,
}

fn webhook_checks(f: &PodFacts<'_>, ns: &str) -> WebhookChecks {
    let hooks = pod_create_webhooks(&f.webhook_configurations);
    let registered = registration_check(f.webhook_configurations.len(), &hooks);
    let ns_labels = f.namespace.as_ref().map(labels).unwrap_or_default();
    let pod_labels = labels(&f.pod);
    let (mut selects, selecting) = selection_check(&hooks, ns, &ns_labels, &pod_labels);
    let (mut backend, down_ignore) = backend_check(&f.webhook_backends, &selecting);
    let none = hooks.is_empty();
    if none {
        backend.ok = false;
        backend.assumed = Some("no webhook registered".into());
        selects.ok = false;
        selects.assumed = Some("no webhook registered".into());
    }
    let excluded = !none && selecting.is_empty();
    if excluded {
        selects.ok = false;
        selects.fix = Some(format!(
            "label the namespace to match a webhook's namespaceSelector (kubectl label namespace {ns} KEY=VALUE) or remove the excluding pod label (e.g. {}/skip-pod-identity-webhook), then recreate the pod",
            f.annotation_prefix
        ));
        backend.assumed = Some("no webhook selects this pod".into());
    }
    WebhookChecks {
        registered,
        backend,
        selects,
        none,
        excluded,
        down_ignore,
    }
}

fn failure_policy(w: &Value) -> &str {
    w.get("failurePolicy")
        .and_then(Value::as_str)
        .unwrap_or("Fail")
}

fn registration_check(configurations: usize, hooks: &[(String, &Value)]) -> Check {
    let mut reg = Check::new(
        "webhook-registered",
        "a mutating webhook intercepts pod CREATE",
    );
    if hooks.is_empty() {
        reg.fail(
            format!("{configurations} MutatingWebhookConfigurations, none for pods CREATE"),
            "install the pod identity webhook: `irsa webhook` with deploy/ (or the Helm chart in deploy/helm)",
        );
    }
    for (n, w) in hooks {
        reg.saw(format!("{n}: failurePolicy {}", failure_policy(w)));
    }
    reg
}

/// The `webhook-selects-pod` check's evidence and the webhooks whose selectors take the
/// pod (only those matter for it).
fn selection_check<'h, 'v>(
    hooks: &'h [(String, &'v Value)],
    ns: &str,
    ns_labels: &BTreeMap<String, String>,
    pod_labels: &BTreeMap<String, String>,
) -> (Check, Vec<&'h (String, &'v Value)>) {
    let mut selects = Check::new(
        "webhook-selects-pod",
        "the webhook's selectors include this pod",
    );
    let selecting = hooks
        .iter()
        .filter(|(n, w)| {
            let ns_ok = selector_matches(w.get("namespaceSelector"), ns_labels);
            let obj_ok = selector_matches(w.get("objectSelector"), pod_labels);
            if !ns_ok {
                selects.saw(format!(
                    "{n}: namespaceSelector {} excludes namespace {ns} (labels {ns_labels:?})",
                    w.get("namespaceSelector").cloned().unwrap_or_default()
                ));
            } else if !obj_ok {
                selects.saw(format!(
                    "{n}: objectSelector {} excludes the pod (labels {pod_labels:?})",
                    w.get("objectSelector").cloned().unwrap_or_default()
                ));
            } else {
                selects.saw(format!("{n}: selects namespace {ns} and the pod's labels"));
            }
            ns_ok && obj_ok
        })
        .collect();
    (selects, selecting)
}

/// The `webhook-backend` check over the selecting webhooks, and whether one of them is
/// down with failurePolicy Ignore.
fn backend_check(
    backends: &BTreeMap<String, Result<String, String>>,
    selecting: &[&(String, &Value)],
) -> (Check, bool) {
    let mut backend = Check::new("webhook-backend", "the webhook's backend answers");
    let mut down_ignore = false;
    for (n, w) in selecting {
        let policy = failure_policy(w);
        match backends.get(n) {
            Some(Ok(ev)) => backend.saw(format!("{n}: {ev}")),
            Some(Err(e)) => {
                if policy == "Ignore" {
                    down_ignore = true;
                }
                backend.fail(
                    format!(
                        "{n}: {e}; failurePolicy {policy}: {}",
                        if policy == "Ignore" {
                            "pods are created without mutation while it is down"
                        } else {
                            "pod creation fails while it is down"
                        }
                    ),
                    "start the webhook (kubectl -n <its namespace> rollout status deploy/pod-identity-webhook; check its logs), then recreate the pod",
                );
            }
            None => backend.saw(format!("{n}: not checked")),
        }
    }
    (backend, down_ignore)
}

fn mutation_check(
    pod: &Value,
    ns: &str,
    name: &str,
    role_arn: Option<&str>,
    webhook: &WebhookChecks,
) -> Check {
    let mut m = Check::new(
        "pod-mutated",
        format!(
            "pod {ns}/{name} was mutated (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, token volume)"
        ),
    );
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.get("spec")?.get(*k)?.as_array())
        .flatten()
        .collect();
    let env_roles: Vec<Option<&str>> = containers
        .iter()
        .map(|c| env_of(c, "AWS_ROLE_ARN"))
        .collect();
    let mutated = token_source(pod).is_some()
        && !containers.is_empty()
        && containers
            .iter()
            .all(|c| env_of(c, "AWS_WEB_IDENTITY_TOKEN_FILE").is_some())
        && env_roles.iter().all(Option::is_some);
    let created = s(pod, &["metadata", "creationTimestamp"]).unwrap_or("?");
    let restart = format!(
        "kubectl delete pod -n {ns} {name} (or kubectl rollout restart of its Deployment) so it is created again through the webhook"
    );
    if !mutated {
        let reason = unmutated_reason(role_arn.is_some(), webhook);
        m.fail(
            format!("no IRSA environment/volume (pod created {created}); likely: {reason}"),
            restart,
        );
    } else if let (Some(want), Some(Some(have))) = (role_arn, env_roles.first()) {
        if want != *have {
            m.fail(
                format!("AWS_ROLE_ARN is {have} but the ServiceAccount now says {want}: the pod was created before the annotation changed"),
                restart,
            );
        } else {
            m.saw(format!("AWS_ROLE_ARN={have}"));
        }
    }
    m
}

/// The likeliest reason a pod was not mutated, from the checks before.
fn unmutated_reason(has_role: bool, webhook: &WebhookChecks) -> &'static str {
    if !has_role {
        "the ServiceAccount has no role annotation, so the webhook leaves the pod alone"
    } else if webhook.excluded {
        "the webhook's selectors exclude the pod"
    } else if webhook.down_ignore {
        "the webhook was down and its failurePolicy Ignore let the pod through unmutated"
    } else if webhook.none {
        "no webhook is registered"
    } else {
        "the pod was created before the ServiceAccount got its annotation (or while the webhook was unavailable)"
    }
}

/// The `token` check and the audience the token has (or would have).
fn token_check(
    f: &PodFacts<'_>,
    ns: &str,
    name: &str,
    sa_audience: Option<&str>,
) -> (Check, String) {
    let mut t = Check::new("token", "the projected token's audience and lifetime");
    let aud = match token_source(&f.pod) {
        Some(src) => {
            let a = src.get("audience").and_then(Value::as_str).unwrap_or("");
            let exp = src
                .get("expirationSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(3600);
            t.saw(format!(
                "audience `{a}`, expirationSeconds {exp}, path {}",
                src.get("path").and_then(Value::as_str).unwrap_or("")
            ));
            if a.is_empty() {
                t.fail("the token has no audience: the API server's default audience is not an STS client id", restart_fix(ns, name));
            }
            a.to_owned()
        }
        None => {
            let a = sa_audience.map_or_else(|| f.default_audience.clone(), str::to_owned);
            t.ok = false;
            t.assumed = Some(format!(
                "no token volume: assumed audience `{a}` (what the webhook would project)"
            ));
            t.evidence.push("no projected token".into());
            t.fix = Some(restart_fix(ns, name));
            a
        }
    };
    (t, aud)
}

/// The `issuer` check and the issuer the discovery document names.
fn issuer_check(discovery: &Result<Value, String>) -> (Check, Option<String>) {
    let mut iss = Check::new(
        "issuer",
        "the API server publishes its issuer (/.well-known/openid-configuration)",
    );
    let issuer = match discovery {
        Ok(d) => {
            let i = d.get("issuer").and_then(Value::as_str).map(str::to_owned);
            match &i {
                Some(i) => iss.saw(format!(
                    "issuer {i}, jwks_uri {}",
                    d.get("jwks_uri").and_then(Value::as_str).unwrap_or("-")
                )),
                None => iss.fail(
                    "the discovery document has no issuer",
                    "set kube-apiserver --service-account-issuer",
                ),
            }
            i
        }
        Err(e) => {
            iss.fail(e.clone(), "let anonymous users read discovery: kubectl create clusterrolebinding oidc-reviewer --clusterrole=system:service-account-issuer-discovery --group=system:unauthenticated");
            None
        }
    };
    (iss, issuer)
}

fn jwks_check(jwks: &Result<Value, String>) -> Check {
    let mut jw = Check::new("jwks", "the issuer's JWKS is reachable and has keys");
    match jwks {
        Ok(j) => {
            let n = j.get("keys").and_then(Value::as_array).map_or(0, Vec::len);
            if n == 0 {
                jw.fail(
                    "the JWKS has no keys",
                    "check kube-apiserver --service-account-key-file",
                );
            } else {
                jw.saw(format!("{n} key(s)"));
            }
        }
        Err(e) => jw.fail(
            e.clone(),
            "make the jwks_uri reachable from STS (public, valid TLS)",
        ),
    }
    jw
}

/// The ServiceAccount's entry in a `pod-identity-webhook` ConfigMap.
struct Mapped {
    /// `NAMESPACE/pod-identity-webhook`.
    config_map: String,
    /// The key that matched (`ns/sa` or `*/sa`).
    key: String,
    role_arn: String,
    audience: String,
}

struct Mapping {
    entry: Option<Mapped>,
    warnings: Vec<String>,
}

/// The mapping the webhook's ConfigMap gives `namespace/name`, parsed as the webhook
/// parses it (irsa-mutate's `ConfigMapConfig`: the exact key, then `*/name`); an entry
/// with an empty `RoleARN` maps to no role. With several such ConfigMaps (one per webhook
/// namespace), the first that maps the ServiceAccount is taken and the others named.
fn config_map_mapping(config_maps: &[Value], namespace: &str, name: &str) -> Mapping {
    let mut out = Mapping {
        entry: None,
        warnings: Vec::new(),
    };
    for cm in config_maps {
        if s(cm, &["metadata", "name"]) != Some(irsa_mutate::CONFIG_MAP_NAME) {
            continue;
        }
        let id = format!(
            "{}/{}",
            s(cm, &["metadata", "namespace"]).unwrap_or(""),
            irsa_mutate::CONFIG_MAP_NAME
        );
        let data = s(cm, &["data", irsa_mutate::CONFIG_MAP_KEY]).unwrap_or("");
        if data.trim().is_empty() {
            continue;
        }
        let parsed = match irsa_mutate::ConfigMapConfig::parse_with_warnings(data) {
            Ok((c, skipped)) => {
                for e in skipped {
                    out.warnings
                        .push(format!("ConfigMap {id}: entry skipped by the webhook: {e}"));
                }
                c
            }
            Err(e) => {
                out.warnings.push(format!(
                    "ConfigMap {id}: data.config is refused by the webhook (it keeps its previous mapping): {e}"
                ));
                continue;
            }
        };
        let key = if parsed.get(namespace, name).is_some() {
            format!("{namespace}/{name}")
        } else {
            format!("*/{name}")
        };
        let Some(e) = parsed.lookup(namespace, name) else {
            continue;
        };
        if e.role_arn.is_empty() {
            out.warnings.push(format!(
                "ConfigMap {id}: \"{key}\" has an empty RoleARN (no role)"
            ));
            continue;
        }
        if let Some(first) = &out.entry {
            out.warnings.push(format!(
                "ConfigMap {id} also maps it (\"{key}\" → {}); the webhook reads only the one in its --namespace, {} was taken",
                e.role_arn, first.config_map
            ));
            continue;
        }
        out.entry = Some(Mapped {
            config_map: id,
            key,
            role_arn: e.role_arn.clone(),
            audience: e.audience.clone(),
        });
    }
    out
}

fn restart_fix(ns: &str, name: &str) -> String {
    format!("kubectl delete pod -n {ns} {name} so the webhook projects the token again")
}

/// A checklist as text: `✔`/`✘` lines with evidence, assumptions and fixes.
pub fn render_checks(checks: &[Check]) -> String {
    let mut o = String::new();
    for c in checks {
        o.push_str(&format!(
            "{} {}  [{}]\n",
            if c.ok { "✔" } else { "✘" },
            c.title,
            c.id
        ));
        for e in &c.evidence {
            o.push_str(&format!("    · {e}\n"));
        }
        if let Some(a) = &c.assumed {
            o.push_str(&format!("    assumed: {a}\n"));
        }
        if let (false, Some(fx)) = (c.ok, &c.fix) {
            o.push_str(&format!("    fix: {fx}\n"));
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    o.push_str(&format!("{} checks, {failed} failed\n", checks.len()));
    o
}

/// "statement N (Sid)": how a diagnosis names a statement of an explained policy.
pub(crate) fn statement_label(st: &irsa_policy::StatementCheck) -> String {
    match st.sid.as_deref() {
        Some(sid) => format!("statement {} ({sid})", st.statement),
        None => format!("statement {}", st.statement),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors() {
        let l: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        assert!(selector_matches(None, &l));
        assert!(selector_matches(
            Some(&json!({"matchLabels": {"a": "1"}})),
            &l
        ));
        assert!(!selector_matches(
            Some(&json!({"matchLabels": {"a": "2"}})),
            &l
        ));
        let dne = json!({"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]});
        assert!(selector_matches(Some(&dne), &l));
        let skip: BTreeMap<String, String> = [("skip".to_string(), "true".to_string())].into();
        assert!(!selector_matches(Some(&dne), &skip));
        let notin =
            json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]});
        assert!(!selector_matches(Some(&notin), &l));
    }

    #[test]
    fn trust_explanation_names_the_failing_condition() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"App","Effect":"Allow",
            "Principal":{"Federated":"arn:aws:iam::1:oidc-provider/issuer.test"},
            "Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{
            "issuer.test:sub":"system:serviceaccount:other:app","issuer.test:aud":"sts.amazonaws.com"}}}]}"#,
        )
        .unwrap();
        let (ok, why) = explain_trust(
            &p,
            "arn:aws:iam::1:role/r",
            "arn:aws:iam::1:oidc-provider/issuer.test",
            "issuer.test",
            "system:serviceaccount:ns:app",
            "sts.amazonaws.com",
        );
        assert!(!ok);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].contains("statement 0 (App)") && why[0].contains("issuer.test:sub"),
            "{why:?}"
        );
        let (ok, _) = explain_trust(
            &p,
            "arn:aws:iam::1:role/r",
            "arn:aws:iam::1:oidc-provider/issuer.test",
            "issuer.test",
            "system:serviceaccount:other:app",
            "sts.amazonaws.com",
        );
        assert!(ok);
    }

    fn facts(config_maps: Vec<Value>, error: Option<String>) -> PodFacts<'static> {
        PodFacts {
            pod: json!({"metadata": {"namespace": "ns", "name": "p"},
                        "spec": {"serviceAccountName": "app", "containers": [{"name": "c"}]}}),
            service_account: Some(json!({"metadata": {"namespace": "ns", "name": "app"}})),
            namespace: None,
            webhook_configurations: Vec::new(),
            webhook_backends: BTreeMap::new(),
            discovery: Err("-".into()),
            jwks: Err("-".into()),
            config_maps,
            config_maps_error: error,
            account: Iam::Missing,
            annotation_prefix: "eks.amazonaws.com".into(),
            default_audience: "sts.amazonaws.com".into(),
        }
    }

    fn cm(ns: &str, config: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": "pod-identity-webhook"},
               "data": {"config": config}})
    }

    #[test]
    fn the_configmap_mapping_names_the_role_as_the_webhook_reads_it() {
        const R: &str = "arn:aws:iam::111122223333:role/app";
        // `*/app` applies in any namespace; a broken ConfigMap elsewhere is named.
        let f = facts(
            vec![
                cm("broken", "{not json"),
                cm("eks", &json!({"*/app": {"rolearn": R}}).to_string()),
            ],
            None,
        );
        assert_eq!(pod_role_arn(&f).as_deref(), Some(R));
        let checks = diagnose_pod(&f);
        let c = &checks[0];
        assert!(c.ok, "{c:?}");
        let ev = c.evidence.join("\n");
        assert!(
            ev.contains("ConfigMap eks/pod-identity-webhook data.config \"*/app\""),
            "{ev}"
        );
        assert!(
            ev.contains("ConfigMap broken/pod-identity-webhook: data.config is refused"),
            "{ev}"
        );
        // An empty RoleARN maps to no role.
        let f = facts(vec![cm("eks", r#"{"ns/app": {"RoleARN": ""}}"#)], None);
        assert_eq!(pod_role_arn(&f), None);
        let c = &diagnose_pod(&f)[0];
        assert!(!c.ok);
        assert!(c.evidence.join(" ").contains("empty RoleARN"), "{c:?}");
        // ConfigMaps that could not be listed are said to be unseen.
        let f = facts(Vec::new(), Some("forbidden".into()));
        let c = &diagnose_pod(&f)[0];
        assert!(!c.ok);
        assert!(
            c.evidence.join(" ").contains("could not be listed"),
            "{c:?}"
        );
    }

    #[test]
    fn trust_explanation_names_principal_and_deny() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Other","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/other.test"},
             "Action":"sts:AssumeRoleWithWebIdentity"},
            {"Sid":"Mine","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/issuer.test"},
             "Action":"sts:AssumeRoleWithWebIdentity"},
            {"Sid":"NoNs","Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity",
             "Condition":{"StringLike":{"issuer.test:sub":"system:serviceaccount:ns:*"}}}]}"#,
        )
        .unwrap();
        let args = (
            "arn:aws:iam::1:role/r",
            "arn:aws:iam::1:oidc-provider/issuer.test",
            "issuer.test",
        );
        let (ok, why) = explain_trust(
            &p,
            args.0,
            args.1,
            args.2,
            "system:serviceaccount:ns:app",
            "sts.amazonaws.com",
        );
        assert!(!ok);
        assert!(
            why.iter()
                .any(|w| w.contains("statement 2 (NoNs) (Deny) refuses it")),
            "{why:?}"
        );
        assert!(
            why.iter()
                .any(|w| w.contains("statement 0 (Other): does not cover")),
            "{why:?}"
        );
        let (ok, why) = explain_trust(
            &p,
            args.0,
            args.1,
            args.2,
            "system:serviceaccount:prod:app",
            "sts.amazonaws.com",
        );
        assert!(ok);
        assert_eq!(why, vec!["statement 1 (Mine) allows it".to_owned()]);
    }
}
