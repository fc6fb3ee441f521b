//! What a role may do: its permission policies summarised, wildcards flagged.

use irsa_policy::{Effect, Severity};
use serde::Serialize;

use crate::account::{PolicySource, Role};
use crate::analyze::AuditFinding;

/// One statement of a permission policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementSummary {
    /// `Allow` or `Deny`.
    pub effect: String,
    /// Actions (or `NotAction` entries, see `not_action`).
    pub actions: Vec<String>,
    /// The action element is `NotAction`.
    pub not_action: bool,
    /// Resources (or `NotResource` entries); empty when the statement has none.
    pub resources: Vec<String>,
    /// The resource element is `NotResource`.
    pub not_resource: bool,
    /// The statement has conditions.
    pub conditional: bool,
    /// What is wide about it: `*`, `s3:*`, `s3:Get*`, `Resource *`, `NotAction`, …
    pub wildcards: Vec<String>,
}

impl StatementSummary {
    /// `EFFECT [NotAction ]ACTIONS on RESOURCES` (`-` without resources), as the text
    /// reports show a statement.
    pub(crate) fn grant(&self) -> String {
        format!(
            "{} {}{} on {}",
            self.effect,
            if self.not_action { "NotAction " } else { "" },
            self.actions.join(" "),
            if self.resources.is_empty() {
                "-".to_owned()
            } else {
                self.resources.join(" ")
            }
        )
    }
}

/// One permission policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySummary {
    /// Inline or managed, with name/ARN/version.
    pub source: PolicySource,
    /// Why the document could not be read (missing from the export, does not parse).
    pub problem: Option<String>,
    /// Its statements.
    pub statements: Vec<StatementSummary>,
}

/// Every permission policy of a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PermissionSummary {
    /// The policies.
    pub policies: Vec<PolicySummary>,
    /// The permissions boundary, if any (it caps what the policies grant).
    pub boundary: Option<String>,
}

impl PermissionSummary {
    /// Allowed actions, deduplicated, as written.
    pub fn allowed_actions(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .policies
            .iter()
            .flat_map(|p| &p.statements)
            .filter(|s| s.effect == "Allow" && !s.not_action)
            .flat_map(|s| s.actions.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Findings for wide grants.
    pub fn findings(&self, role: &str) -> Vec<AuditFinding> {
        let mut out = Vec::new();
        for p in &self.policies {
            let label = p.source.label();
            for (i, s) in p.statements.iter().enumerate() {
                if s.effect != "Allow" {
                    continue;
                }
                let all_res = s.wildcards.iter().any(|w| w == "Resource *");
                let mut push = |severity, id: &str, what: String| {
                    out.push(AuditFinding {
                        severity,
                        id: id.into(),
                        subject: role.into(),
                        message: format!("{label} statement {i}: {what}"),
                    })
                };
                if s.actions.iter().any(|a| a == "*" || a == "*:*") && !s.not_action {
                    push(
                        if all_res {
                            Severity::Error
                        } else {
                            Severity::Warning
                        },
                        "permission-all-actions",
                        format!(
                            "allows every action{}",
                            if all_res {
                                " on every resource (administrator)"
                            } else {
                                ""
                            }
                        ),
                    );
                } else if let Some(a) = s
                    .actions
                    .iter()
                    .find(|a| a.ends_with(":*") && !s.not_action)
                {
                    push(
                        Severity::Warning,
                        "permission-service-wildcard",
                        format!(
                            "allows every action of a service (`{a}`){}",
                            if all_res { " on every resource" } else { "" }
                        ),
                    );
                }
                if s.not_action {
                    push(
                        Severity::Warning,
                        "permission-not-action",
                        format!(
                            "allows every action except {:?} (NotAction with Allow)",
                            s.actions
                        ),
                    );
                }
            }
            if let Some(problem) = &p.problem {
                out.push(AuditFinding {
                    severity: Severity::Info,
                    id: "permission-unreadable".into(),
                    subject: role.into(),
                    message: format!("{label}: {problem}"),
                });
            }
        }
        out
    }
}

fn wildcards(
    actions: &[String],
    not_action: bool,
    resources: &[String],
    not_resource: bool,
) -> Vec<String> {
    let mut w = Vec::new();
    if not_action {
        w.push("NotAction".to_owned());
    }
    for a in actions {
        if a.contains(['*', '?']) {
            w.push(a.clone());
        }
    }
    if not_resource {
        w.push("NotResource".to_owned());
    }
    if resources.iter().any(|r| r == "*") && !not_resource {
        w.push("Resource *".to_owned());
    } else {
        for r in resources.iter().filter(|r| r.contains(['*', '?'])) {
            w.push(r.clone());
        }
    }
    w
}

/// Summarises a role's permission policies.
pub fn summarize(role: &Role) -> PermissionSummary {
    let policies = role
        .permissions
        .iter()
        .map(|p| {
            let (problem, statements) = match &p.document {
                None => (
                    Some("the document is not in the input (an AWS managed policy: export with its versions to see it)".to_owned()),
                    Vec::new(),
                ),
                Some(d) => match &d.policy {
                    Err(e) => (Some(format!("does not parse: {e}")), Vec::new()),
                    Ok(policy) => (
                        None,
                        policy
                            .statements()
                            .iter()
                            .map(|s| {
                                let actions: Vec<String> =
                                    s.actions().iter().map(|a| a.as_str().to_owned()).collect();
                                let resources: Vec<String> = s
                                    .resources()
                                    .unwrap_or(&[])
                                    .iter()
                                    .map(|r| r.as_str().to_owned())
                                    .collect();
                                StatementSummary {
                                    effect: match s.effect() {
                                        Effect::Allow => "Allow",
                                        Effect::Deny => "Deny",
                                    }
                                    .into(),
                                    wildcards: wildcards(
                                        &actions,
                                        s.is_not_action(),
                                        &resources,
                                        s.is_not_resource(),
                                    ),
                                    not_action: s.is_not_action(),
                                    not_resource: s.is_not_resource(),
                                    conditional: s.conditions().next().is_some(),
                                    actions,
                                    resources,
                                }
                            })
                            .collect(),
                    ),
                },
            };
            PolicySummary {
                source: p.source.clone(),
                problem,
                statements,
            }
        })
        .collect();
    PermissionSummary {
        policies,
        boundary: role.boundary.clone(),
    }
}
