//! The audit: for every role that trusts the cluster's OIDC provider, who can assume it.

use irsa_policy::{
    Arn, Context, Decision, Effect, Policy, PrincipalType, Request, Severity, evaluate_trust,
    lint_trust,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

use crate::account::{Account, Role};
use crate::cluster::{
    DEFAULT_ANNOTATION_PREFIX, DEFAULT_AUDIENCE, ServiceAccount, issuer_key_prefix,
};
use crate::permissions::{PermissionSummary, summarize};
use crate::subject::{Reach, SubjectSet};

/// The cluster under audit.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The issuer URL (`--service-account-issuer`, the discovery document's `issuer`).
    pub issuer: String,
    /// The audience of tokens when a ServiceAccount has no audience annotation.
    pub audience: String,
    /// The annotation prefix (`eks.amazonaws.com`).
    pub annotation_prefix: String,
}

impl Cluster {
    /// A cluster with the pod identity webhook's defaults.
    pub fn new(issuer: impl Into<String>) -> Cluster {
        Cluster {
            issuer: issuer.into(),
            audience: DEFAULT_AUDIENCE.into(),
            annotation_prefix: DEFAULT_ANNOTATION_PREFIX.into(),
        }
    }

    /// The condition-key prefix (issuer without scheme).
    pub fn key_prefix(&self) -> &str {
        issuer_key_prefix(&self.issuer)
    }

    /// The OIDC provider ARN for this issuer in a role's account.
    pub fn provider_arn(&self, partition: &str, account: &str) -> String {
        format!(
            "arn:{partition}:iam::{account}:oidc-provider/{}",
            self.key_prefix()
        )
    }
}

fn ser_severity<S: serde::Serializer>(s: &Severity, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

/// One finding of the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFinding {
    /// `info`, `warning` or `error`.
    #[serde(serialize_with = "ser_severity")]
    pub severity: Severity,
    /// A stable id: `sa-role-not-trusting`, `role-stale`, `trust-sub-wildcard`, …
    pub id: String,
    /// The ServiceAccount (`NS/NAME`) or role ARN it is about.
    pub subject: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Who a trust statement admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPattern {
    /// The statement index in the trust policy.
    pub statement: usize,
    /// Its `Sid`.
    pub sid: Option<String>,
    /// The token audiences it admits (`*`: any audience).
    pub audiences: Vec<String>,
    /// How far the pattern reaches.
    pub reach: Reach,
    /// The ServiceAccounts it admits as `NAMESPACE/NAME` globs (`team-a/*`, `*/*`).
    pub service_accounts: Vec<String>,
    /// Whether ServiceAccounts created later can match.
    pub future: bool,
    /// The `:sub` conditions as written.
    pub conditions: Vec<String>,
    /// Conditions on request-time keys (source IP, session name, tags, time) that also
    /// have to hold; the audit assumes they can.
    pub request_time: Vec<String>,
}

/// A role that trusts the cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleReport {
    /// The role ARN.
    pub arn: String,
    /// The role name.
    pub name: String,
    /// The statements that admit subjects of this cluster.
    pub patterns: Vec<TrustPattern>,
    /// Deny statements that exclude subjects of this cluster.
    pub denies: Vec<TrustPattern>,
    /// Existing ServiceAccounts that can assume it (`NS/NAME`).
    pub assumable_by: Vec<String>,
    /// ServiceAccounts annotated with it.
    pub annotated_by: Vec<String>,
    /// Trusts the cluster but no existing ServiceAccount.
    pub stale: bool,
    /// `irsa policy lint` findings of the trust policy.
    pub lint: Vec<AuditFinding>,
    /// What the role may do.
    pub permissions: PermissionSummary,
}

/// A role that does not trust the cluster, and what it trusts instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherRole {
    /// The role ARN.
    pub arn: String,
    /// The principals of its trust policy (`Federated:…`, `Service:…`, `AWS:…`, `*`).
    pub trusts: Vec<String>,
}

/// What the audit found about one ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SaStatus {
    /// No role annotation.
    Unannotated,
    /// The annotated role exists and trusts the ServiceAccount.
    Ok,
    /// The annotation is not a role ARN.
    MalformedArn,
    /// The role is not in the account the audit read.
    RoleNotFound,
    /// The role belongs to an account the audit did not read.
    RoleInOtherAccount,
    /// The role exists but its trust policy does not admit the ServiceAccount.
    NotTrusted,
}

/// One ServiceAccount's row.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SaReport {
    /// `NS/NAME`.
    pub id: String,
    /// The role annotation.
    pub role_arn: Option<String>,
    /// The token audience.
    pub audience: String,
    /// The verdict on the annotation.
    pub status: SaStatus,
    /// Roles (of this cluster's trust) it can assume.
    pub can_assume: Vec<String>,
    /// What its annotated role may do (when the role is known).
    pub permissions: Option<PermissionSummary>,
}

/// The audit's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The cluster's issuer.
    pub issuer: String,
    /// Its condition-key prefix.
    pub key_prefix: String,
    /// Where the IAM side came from.
    pub source: String,
    /// Roles that trust the cluster, by ARN.
    pub roles: Vec<RoleReport>,
    /// Roles that do not (other clusters, other federations, services).
    pub other_roles: Vec<OtherRole>,
    /// Every ServiceAccount.
    pub service_accounts: Vec<SaReport>,
    /// Every finding, most severe first.
    pub findings: Vec<AuditFinding>,
}

impl Report {
    /// Whether `sa` (`NS/NAME`) can assume `role` (ARN).
    pub fn can_assume(&self, sa: &str, role: &str) -> bool {
        self.service_accounts
            .iter()
            .any(|s| s.id == sa && s.can_assume.iter().any(|r| r == role))
    }

    /// The most severe finding's severity.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

const ACTION: &str = "sts:AssumeRoleWithWebIdentity";

/// A key known only when the request is made (IP, session name, tags, time): the audit
/// assumes an Allow's condition on it can hold, and a Deny's can fail.
fn request_time_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    (k.starts_with("aws:") || k.starts_with("sts:")) && k != "aws:federatedprovider"
}

fn statements_of(policy: &Policy) -> Vec<Value> {
    match policy.to_value().get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(v) => vec![v.clone()],
        None => Vec::new(),
    }
}

/// Removes condition keys for which `drop` holds; returns the removed `op key` pairs.
fn strip_conditions(st: &mut Value, drop: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut removed = Vec::new();
    let Some(cond) = st.get_mut("Condition").and_then(Value::as_object_mut) else {
        return removed;
    };
    for (op, block) in cond.iter_mut() {
        if let Some(b) = block.as_object_mut() {
            let keys: Vec<String> = b.keys().filter(|k| drop(k)).cloned().collect();
            for k in keys {
                if let Some(v) = b.remove(&k) {
                    removed.push(format!("{op} {k} {v}"));
                }
            }
        }
    }
    cond.retain(|_, b| b.as_object().is_none_or(|o| !o.is_empty()));
    if cond.is_empty()
        && let Some(o) = st.as_object_mut()
    {
        o.remove("Condition");
    }
    removed
}

fn policy_of(version: Option<&Value>, statements: Vec<Value>) -> Option<Policy> {
    let mut doc = serde_json::Map::new();
    if let Some(v) = version {
        doc.insert("Version".into(), v.clone());
    }
    doc.insert("Statement".into(), Value::Array(statements));
    Policy::parse(&Value::Object(doc).to_string()).ok()
}

struct TrustModel {
    /// The trust policy as the engine evaluates it for existing ServiceAccounts: Allow
    /// statements without request-time conditions, Deny statements with them dropped.
    reduced: Option<Policy>,
    /// Per statement: (effect, residual policy without `:sub` and request-time
    /// conditions, the subject set, the request-time conditions removed).
    statements: Vec<StatementModel>,
}

struct StatementModel {
    index: usize,
    sid: Option<String>,
    effect: Effect,
    residual: Option<Policy>,
    subjects: SubjectSet,
    request_time: Vec<String>,
}

fn model(policy: &Policy, sub_key: &str) -> TrustModel {
    let value = policy.to_value();
    let version = value.get("Version");
    let raw = statements_of(policy);
    let mut reduced = Vec::new();
    let mut statements = Vec::new();
    for (i, (st, parsed)) in raw.iter().zip(policy.statements()).enumerate() {
        let mut r = st.clone();
        let request_time = strip_conditions(&mut r, &request_time_key);
        let deny = parsed.effect() == Effect::Deny;
        if !deny || request_time.is_empty() {
            reduced.push(r.clone());
        }
        let sub_lower = sub_key.to_ascii_lowercase();
        strip_conditions(&mut r, &|k: &str| k.to_ascii_lowercase() == sub_lower);
        statements.push(StatementModel {
            index: i,
            sid: parsed.sid().map(str::to_owned),
            effect: parsed.effect(),
            residual: if deny && !request_time.is_empty() {
                None
            } else {
                policy_of(version, vec![r])
            },
            subjects: SubjectSet::from_conditions(parsed.conditions(), sub_key),
            request_time,
        });
    }
    TrustModel {
        reduced: policy_of(version, reduced),
        statements,
    }
}

fn request(role: &Role, provider: &str, prefix: &str, sub: Option<&str>, aud: &str) -> Request {
    let mut ctx = Context::new();
    ctx.insert(format!("{prefix}:aud"), aud);
    ctx.insert_multi(format!("{prefix}:oaud"), [aud]);
    if let Some(s) = sub {
        ctx.insert(format!("{prefix}:sub"), s);
    }
    ctx.insert("aws:FederatedProvider", provider);
    Request::new(ACTION, role.arn.clone())
        .with_principal(provider)
        .with_principal_type(PrincipalType::Federated)
        .with_context(ctx)
}

/// The audiences worth trying: the cluster's, the ServiceAccounts', and literal values
/// of `:aud` conditions.
fn candidate_audiences(
    account: &Account,
    sas: &[ServiceAccount],
    cluster: &Cluster,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    out.insert(cluster.audience.clone());
    for sa in sas {
        out.insert(
            sa.audience(&cluster.annotation_prefix, &cluster.audience)
                .to_owned(),
        );
    }
    let aud_key = format!("{}:aud", cluster.key_prefix()).to_ascii_lowercase();
    for r in &account.roles {
        if let Ok(p) = &r.trust.policy {
            for st in p.statements() {
                for c in st.conditions() {
                    if c.key().to_ascii_lowercase() == aud_key {
                        out.extend(
                            c.values()
                                .iter()
                                .filter(|v| !v.contains(['*', '?', '$']))
                                .cloned(),
                        );
                    }
                }
            }
        }
    }
    out
}

fn principals(policy: &Policy) -> Vec<String> {
    let mut out = BTreeSet::new();
    for st in policy.statements() {
        match st.principal() {
            Some(irsa_policy::Principal::Any) => {
                out.insert("*".to_owned());
            }
            Some(irsa_policy::Principal::Typed(entries)) => {
                for e in entries {
                    for v in &e.values {
                        out.insert(format!("{}:{v}", e.kind.as_str()));
                    }
                }
            }
            None => {}
        }
    }
    out.into_iter().collect()
}

fn lint_findings(role: &Role, policy: &Policy) -> Vec<AuditFinding> {
    lint_trust(policy)
        .into_iter()
        .map(|f| AuditFinding {
            severity: f.severity,
            id: f.id.to_owned(),
            subject: role.arn.clone(),
            message: match (f.statement, &f.sid) {
                (Some(i), Some(sid)) => format!("statement {i} ({sid}): {}", f.message),
                (Some(i), None) => format!("statement {i}: {}", f.message),
                _ => f.message,
            },
        })
        .collect()
}

struct Analysed<'a> {
    role: &'a Role,
    model: TrustModel,
    provider: String,
    report: RoleReport,
}

fn pattern_of(s: &StatementModel, audiences: Vec<String>) -> TrustPattern {
    let reach = s.subjects.reach();
    TrustPattern {
        statement: s.index,
        sid: s.sid.clone(),
        audiences,
        future: reach.admits_future(),
        reach,
        service_accounts: s.subjects.globs(),
        conditions: s.subjects.describe(),
        request_time: s.request_time.clone(),
    }
}

fn analyse_role<'a>(
    role: &'a Role,
    cluster: &Cluster,
    audiences: &BTreeSet<String>,
) -> Result<Analysed<'a>, Vec<String>> {
    let Ok(policy) = &role.trust.policy else {
        return Err(Vec::new());
    };
    let prefix = cluster.key_prefix();
    let provider = cluster.provider_arn(role.partition(), role.account());
    let model = model(policy, &format!("{prefix}:sub"));
    let mut patterns = Vec::new();
    let mut denies = Vec::new();
    for s in &model.statements {
        let Some(residual) = &s.residual else {
            continue;
        };
        let applies: Vec<String> = audiences
            .iter()
            .filter(|aud| {
                let e = evaluate_trust(residual, &request(role, &provider, prefix, None, aud));
                match s.effect {
                    Effect::Allow => e.decision == Decision::Allow,
                    Effect::Deny => e.decision == Decision::ExplicitDeny,
                }
            })
            .cloned()
            .collect();
        if applies.is_empty() {
            continue;
        }
        let auds = if applies.len() == audiences.len() {
            vec!["*".to_owned()]
        } else {
            applies
        };
        match s.effect {
            Effect::Allow => patterns.push(pattern_of(s, auds)),
            Effect::Deny => denies.push(pattern_of(s, auds)),
        }
    }
    if patterns.is_empty() {
        return Err(principals(policy));
    }
    let report = RoleReport {
        arn: role.arn.clone(),
        name: role.name.clone(),
        patterns,
        denies,
        assumable_by: Vec::new(),
        annotated_by: Vec::new(),
        stale: false,
        lint: lint_findings(role, policy),
        permissions: summarize(role),
    };
    Ok(Analysed {
        role,
        model,
        provider,
        report,
    })
}

/// The symbolic reading of the trust model for one subject and audience.
fn symbolic_admits(a: &Analysed<'_>, sub: &str, aud: &str, prefix: &str) -> Option<bool> {
    let mut allow = false;
    for s in &a.model.statements {
        let Some(residual) = &s.residual else {
            continue;
        };
        if s.subjects.clauses.iter().any(|c| {
            c.atoms
                .iter()
                .any(|x| matches!(x, crate::subject::Atom::Opaque(_)))
        }) {
            return None;
        }
        let e = evaluate_trust(residual, &request(a.role, &a.provider, prefix, None, aud));
        let applies = match s.effect {
            Effect::Allow => e.decision == Decision::Allow,
            Effect::Deny => e.decision == Decision::ExplicitDeny,
        };
        if applies && s.subjects.matches(sub) {
            match s.effect {
                Effect::Deny => return Some(false),
                Effect::Allow => allow = true,
            }
        }
    }
    Some(allow)
}

fn sa_finding(sa: &ServiceAccount, severity: Severity, id: &str, message: String) -> AuditFinding {
    AuditFinding {
        severity,
        id: id.into(),
        subject: sa.id(),
        message,
    }
}

/// Runs the audit.
pub fn audit(account: &Account, sas: &[ServiceAccount], cluster: &Cluster) -> Report {
    let mut run = AuditRun {
        account,
        cluster,
        prefix: cluster.key_prefix().to_owned(),
        account_ids: account.account_ids(),
        findings: Vec::new(),
    };
    let audiences = candidate_audiences(account, sas, cluster);
    let (mut analysed, other_roles) = run.analyse_roles(&audiences);
    let sa_reports: Vec<SaReport> = sas
        .iter()
        .map(|sa| run.service_account(sa, &mut analysed))
        .collect();
    let roles = run.roles(analysed);
    run.provider_findings(&sa_reports);
    let AuditRun {
        prefix,
        mut findings,
        ..
    } = run;
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.subject.cmp(&b.subject))
            .then_with(|| a.id.cmp(&b.id))
    });
    findings.dedup();
    Report {
        issuer: cluster.issuer.clone(),
        key_prefix: prefix,
        source: account.source.clone(),
        roles,
        other_roles,
        service_accounts: sa_reports,
        findings,
    }
}

/// One audit's inputs and the findings gathered so far (in the order they are found).
struct AuditRun<'a> {
    account: &'a Account,
    cluster: &'a Cluster,
    prefix: String,
    account_ids: Vec<&'a str>,
    findings: Vec<AuditFinding>,
}

impl<'a> AuditRun<'a> {
    /// The roles that trust the cluster (sorted by ARN), and those that do not.
    fn analyse_roles(
        &mut self,
        audiences: &BTreeSet<String>,
    ) -> (Vec<Analysed<'a>>, Vec<OtherRole>) {
        let mut analysed = Vec::new();
        let mut other_roles = Vec::new();
        for role in &self.account.roles {
            if let Err(e) = &role.trust.policy {
                self.findings.push(AuditFinding {
                    severity: Severity::Error,
                    id: "role-trust-unreadable".into(),
                    subject: role.arn.clone(),
                    message: format!("the trust policy does not parse: {e}"),
                });
                continue;
            }
            match analyse_role(role, self.cluster, audiences) {
                Ok(a) => analysed.push(a),
                Err(trusts) => other_roles.push(OtherRole {
                    arn: role.arn.clone(),
                    trusts,
                }),
            }
        }
        analysed.sort_by(|a, b| a.report.arn.cmp(&b.report.arn));
        (analysed, other_roles)
    }

    /// The ServiceAccount's row: the roles it can assume (recorded on their reports too)
    /// and the verdict on its annotation.
    fn service_account(&mut self, sa: &ServiceAccount, analysed: &mut [Analysed<'_>]) -> SaReport {
        let cluster = self.cluster;
        let sub = sa.subject();
        let aud = sa
            .audience(&cluster.annotation_prefix, &cluster.audience)
            .to_owned();
        let can_assume = self.assumable(sa, &sub, &aud, analysed);
        let role_arn = sa.role_arn(&cluster.annotation_prefix).map(str::to_owned);
        let (status, permissions) = match &role_arn {
            None => (SaStatus::Unannotated, None),
            Some(arn) => self.annotation(
                sa,
                arn,
                &Token {
                    sub: &sub,
                    aud: &aud,
                },
                &can_assume,
                analysed,
            ),
        };
        SaReport {
            id: sa.id(),
            role_arn,
            audience: aud,
            status,
            can_assume,
            permissions,
        }
    }

    /// The analysed roles the policy engine lets `sub` with `aud` assume, each checked
    /// against the symbolic reading of its trust.
    fn assumable(
        &mut self,
        sa: &ServiceAccount,
        sub: &str,
        aud: &str,
        analysed: &mut [Analysed<'_>],
    ) -> Vec<String> {
        let prefix = self.prefix.as_str();
        let mut can_assume = Vec::new();
        for a in analysed.iter_mut() {
            let req = request(a.role, &a.provider, prefix, Some(sub), aud);
            let engine = a
                .model
                .reduced
                .as_ref()
                .is_some_and(|p| evaluate_trust(p, &req).decision == Decision::Allow);
            if let Some(sym) = symbolic_admits(a, sub, aud, prefix)
                && sym != engine
            {
                self.findings.push(AuditFinding {
                    severity: Severity::Error,
                    id: "audit-inconsistent".into(),
                    subject: a.role.arn.clone(),
                    message: format!(
                        "the policy engine says {} for {sub} but the trust conditions read {}: report this as a bug",
                        if engine { "Allow" } else { "Deny" },
                        if sym { "Allow" } else { "Deny" }
                    ),
                });
            }
            if engine {
                can_assume.push(a.role.arn.clone());
                a.report.assumable_by.push(sa.id());
            }
        }
        can_assume
    }

    /// The verdict on a role annotation, and what the role may do when it is known.
    fn annotation(
        &mut self,
        sa: &ServiceAccount,
        arn: &str,
        token: &Token<'_>,
        can_assume: &[String],
        analysed: &mut [Analysed<'_>],
    ) -> (SaStatus, Option<PermissionSummary>) {
        let annotation_prefix = &self.cluster.annotation_prefix;
        let parsed = Arn::parse(arn)
            .ok()
            .filter(|p| p.service() == "iam" && p.resource().starts_with("role/"));
        match (parsed, self.account.role(arn)) {
            (None, _) => {
                self.findings.push(sa_finding(
                    sa,
                    Severity::Error,
                    "sa-role-arn-malformed",
                    format!(
                        "the annotation `{annotation_prefix}/role-arn: {arn}` is not a role ARN (arn:aws:iam::ACCOUNT:role/PATH/NAME); the webhook skips or STS refuses it. Fix: kubectl annotate sa -n {} {} --overwrite {annotation_prefix}/role-arn=arn:aws:iam::ACCOUNT:role/NAME",
                        sa.namespace, sa.name
                    ),
                ));
                (SaStatus::MalformedArn, None)
            }
            (Some(p), None) => (self.role_not_read(sa, arn, &p), None),
            (Some(_), Some(role)) => {
                let permissions = Some(summarize(role));
                if let Some(a) = analysed.iter_mut().find(|a| a.role.arn == *arn) {
                    a.report.annotated_by.push(sa.id());
                }
                let status = if can_assume.iter().any(|r| r == arn) {
                    SaStatus::Ok
                } else {
                    self.not_trusting(sa, role, token, analysed);
                    SaStatus::NotTrusted
                };
                (status, permissions)
            }
        }
    }

    /// An annotated role the account does not hold: missing from a read account, or in
    /// one the audit did not read.
    fn role_not_read(&mut self, sa: &ServiceAccount, arn: &str, p: &Arn) -> SaStatus {
        let annotation_prefix = &self.cluster.annotation_prefix;
        if self.account_ids.contains(&p.account()) || self.account_ids.is_empty() {
            let name = p.resource().rsplit('/').next().unwrap_or("");
            let hint = self
                .account
                .roles
                .iter()
                .find(|r| r.name == name || r.name.eq_ignore_ascii_case(name))
                .map(|r| format!(" A role named `{}` exists as {}: fix the annotation with kubectl annotate sa -n {} {} --overwrite {annotation_prefix}/role-arn={}", r.name, r.arn, sa.namespace, sa.name, r.arn))
                .unwrap_or_default();
            self.findings.push(sa_finding(
                sa,
                Severity::Error,
                "sa-role-not-found",
                format!(
                    "the annotated role {arn} does not exist in account {}.{hint}",
                    p.account()
                ),
            ));
            SaStatus::RoleNotFound
        } else {
            self.findings.push(sa_finding(
                sa,
                Severity::Warning,
                "sa-role-other-account",
                format!(
                    "the annotated role {arn} is in account {}, which this audit did not read",
                    p.account()
                ),
            ));
            SaStatus::RoleInOtherAccount
        }
    }

    /// The finding for an annotated role whose trust does not admit the ServiceAccount:
    /// whom it admits instead, and the statement to add.
    fn not_trusting(
        &mut self,
        sa: &ServiceAccount,
        role: &Role,
        token: &Token<'_>,
        analysed: &[Analysed<'_>],
    ) {
        let Token { sub, aud } = *token;
        let prefix = &self.prefix;
        let provider = self.cluster.provider_arn(role.partition(), role.account());
        let detail = match analysed.iter().find(|a| a.role.arn == role.arn) {
            Some(a) => {
                let admits: Vec<String> = a
                    .report
                    .patterns
                    .iter()
                    .map(|p| {
                        format!(
                            "{} (aud {})",
                            p.service_accounts.join(", "),
                            p.audiences.join(", ")
                        )
                    })
                    .collect();
                format!(
                    "its trust policy admits {} but not {sub} with aud {aud}",
                    admits.join("; ")
                )
            }
            None => format!(
                "its trust policy does not trust this cluster's OIDC provider {provider} at all"
            ),
        };
        self.findings.push(sa_finding(
            sa,
            Severity::Error,
            "sa-role-not-trusting",
            format!(
                "annotated with {}, but {detail}. Fix: add a statement with Principal {{\"Federated\": \"{provider}\"}}, Action sts:AssumeRoleWithWebIdentity, Condition StringEquals {{\"{prefix}:sub\": \"{sub}\", \"{prefix}:aud\": \"{aud}\"}}",
                role.arn
            ),
        ));
    }

    /// The role reports, with the stale and any-ServiceAccount findings, then each role's
    /// lint and permission findings.
    fn roles(&mut self, analysed: Vec<Analysed<'_>>) -> Vec<RoleReport> {
        let mut roles = Vec::new();
        for a in analysed {
            let mut r = a.report;
            r.stale = r.assumable_by.is_empty();
            if r.stale {
                let pats: Vec<String> = r
                    .patterns
                    .iter()
                    .flat_map(|p| p.service_accounts.clone())
                    .collect();
                self.findings.push(AuditFinding {
                    severity: Severity::Warning,
                    id: "role-stale".into(),
                    subject: r.arn.clone(),
                    message: format!(
                        "trusts this cluster ({}) but no existing ServiceAccount can assume it: delete the role or its trust statement, or it waits for whoever creates a matching ServiceAccount",
                        if pats.is_empty() { "no ServiceAccount pattern".to_owned() } else { pats.join(", ") }
                    ),
                });
            }
            for p in &r.patterns {
                if p.reach == Reach::All {
                    self.findings.push(AuditFinding {
                        severity: Severity::Error,
                        id: "role-any-service-account".into(),
                        subject: r.arn.clone(),
                        message: format!(
                            "statement {}: every ServiceAccount of every namespace (present and future) can assume it; pin {}:sub with StringEquals",
                            p.statement, self.prefix
                        ),
                    });
                }
            }
            self.findings.extend(r.lint.iter().cloned());
            self.findings.extend(r.permissions.findings(&r.arn));
            roles.push(r);
        }
        roles
    }

    /// The cluster's OIDC provider, when the account lists providers: registered, and
    /// with every audience an annotated ServiceAccount uses.
    fn provider_findings(&mut self, sa_reports: &[SaReport]) {
        let Some(providers) = &self.account.providers else {
            return;
        };
        let cluster = self.cluster;
        match providers.iter().find(|p| p.key_prefix == self.prefix) {
            None => self.findings.push(AuditFinding {
                severity: Severity::Error,
                id: "provider-missing".into(),
                subject: cluster.issuer.clone(),
                message: format!(
                    "no OIDC provider for {} is registered: no ServiceAccount of this cluster can assume any role. Fix: aws iam create-open-id-connect-provider --url {} --client-id-list {}",
                    cluster.issuer, cluster.issuer, cluster.audience
                ),
            }),
            Some(p) => {
                let used: BTreeSet<&str> = sa_reports
                    .iter()
                    .filter(|s| s.role_arn.is_some())
                    .map(|s| s.audience.as_str())
                    .collect();
                for aud in used {
                    if !p.client_ids.iter().any(|c| c == aud) {
                        self.findings.push(AuditFinding {
                            severity: Severity::Error,
                            id: "provider-audience-missing".into(),
                            subject: p.arn.clone(),
                            message: format!(
                                "tokens with audience `{aud}` are refused: the provider's client ids are {:?}. Fix: aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {} --client-id {aud}",
                                p.client_ids, p.arn
                            ),
                        });
                    }
                }
            }
        }
    }
}

/// A ServiceAccount token's subject and audience.
struct Token<'a> {
    sub: &'a str,
    aud: &'a str,
}
