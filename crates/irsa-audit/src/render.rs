//! The report as a terminal table, JSON, or one self-contained HTML page.

use serde_json::{Value, json};
use std::fmt::Write as _;

use crate::analyze::{Report, SaStatus};

fn status_str(s: &SaStatus) -> &'static str {
    match s {
        SaStatus::Unannotated => "-",
        SaStatus::Ok => "ok",
        SaStatus::MalformedArn => "BROKEN: malformed ARN",
        SaStatus::RoleNotFound => "BROKEN: role not found",
        SaStatus::RoleInOtherAccount => "role in another account",
        SaStatus::NotTrusted => "BROKEN: role does not trust it",
    }
}

/// The role's short label for matrix headers: its name.
fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The matrix cell for (ServiceAccount, role): `A` assumable and annotated, `x`
/// assumable, `!` annotated but not assumable, `.` neither.
fn cell(report: &Report, sa: usize, role: usize) -> (&'static str, &'static str) {
    let (Some(s), Some(r)) = (report.service_accounts.get(sa), report.roles.get(role)) else {
        return (".", "no");
    };
    let can = s.can_assume.contains(&r.arn);
    let annotated = s.role_arn.as_deref() == Some(r.arn.as_str());
    match (can, annotated) {
        (true, true) => ("A", "annotated"),
        (true, false) => ("x", "yes"),
        (false, true) => ("!", "broken"),
        (false, false) => (".", "no"),
    }
}

/// A plain-text report for terminals.
pub fn table(report: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "irsa audit — issuer {} ({})",
        report.issuer, report.source
    );
    let _ = writeln!(
        o,
        "{} roles trust this cluster, {} ServiceAccounts, {} other roles ignored\n",
        report.roles.len(),
        report.service_accounts.len(),
        report.other_roles.len()
    );
    table_roles(&mut o, report);
    table_matrix(&mut o, report);
    table_permissions(&mut o, report);
    table_findings(&mut o, report);
    o
}

/// The roles with their trust patterns and denies.
fn table_roles(o: &mut String, report: &Report) {
    let _ = writeln!(o, "Roles:");
    for (i, r) in report.roles.iter().enumerate() {
        let _ = writeln!(
            o,
            "  R{i:<3} {}{}",
            r.arn,
            if r.stale { "  [stale]" } else { "" }
        );
        for p in &r.patterns {
            let _ = writeln!(
                o,
                "        stmt {}: {} (aud {}){}{}",
                p.statement,
                p.service_accounts.join(", "),
                p.audiences.join(", "),
                if p.future {
                    "  + future ServiceAccounts"
                } else {
                    ""
                },
                if p.request_time.is_empty() {
                    String::new()
                } else {
                    format!("  if {}", p.request_time.join(" and "))
                }
            );
        }
        for p in &r.denies {
            let _ = writeln!(
                o,
                "        deny stmt {}: {}",
                p.statement,
                p.service_accounts.join(", ")
            );
        }
    }
}

/// The ServiceAccount × role matrix with each annotation's status.
fn table_matrix(o: &mut String, report: &Report) {
    let w = report
        .service_accounts
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(0)
        .max(14);
    let _ = writeln!(
        o,
        "\nMatrix (A = annotated and assumable, x = assumable, ! = annotated but refused):"
    );
    let _ = write!(o, "  {:w$}", "ServiceAccount");
    for i in 0..report.roles.len() {
        let _ = write!(o, " {:>4}", format!("R{i}"));
    }
    let _ = writeln!(o, "  status");
    for (si, s) in report.service_accounts.iter().enumerate() {
        let _ = write!(o, "  {:w$}", s.id);
        for ri in 0..report.roles.len() {
            let _ = write!(o, " {:>4}", cell(report, si, ri).0);
        }
        let _ = writeln!(o, "  {}", status_str(&s.status));
    }
}

/// The permission statements of each annotated role.
fn table_permissions(o: &mut String, report: &Report) {
    let _ = writeln!(o, "\nPermissions of annotated roles:");
    for s in &report.service_accounts {
        if let (Some(arn), Some(p)) = (&s.role_arn, &s.permissions) {
            let _ = writeln!(o, "  {} → {}", s.id, short(arn));
            for pol in &p.policies {
                for st in &pol.statements {
                    let _ = writeln!(
                        o,
                        "      {}{}",
                        st.grant(),
                        if st.wildcards.is_empty() {
                            String::new()
                        } else {
                            format!("   ⚠ {}", st.wildcards.join(", "))
                        }
                    );
                }
                if let Some(pr) = &pol.problem {
                    let _ = writeln!(o, "      {}: {pr}", pol.source.label());
                }
            }
        }
    }
}

/// Every finding, one a line.
fn table_findings(o: &mut String, report: &Report) {
    let _ = writeln!(o, "\nFindings:");
    if report.findings.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for f in &report.findings {
        let _ = writeln!(
            o,
            "  {:7} {:28} {}: {}",
            f.severity.as_str(),
            f.id,
            f.subject,
            f.message
        );
    }
}

/// The report as JSON, with the matrix spelled out per ServiceAccount.
pub fn json(report: &Report) -> Value {
    let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
    let matrix: Vec<Value> = report
        .service_accounts
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let cells: serde_json::Map<String, Value> = report
                .roles
                .iter()
                .enumerate()
                .map(|(ri, r)| (r.arn.clone(), json!(cell(report, si, ri).1)))
                .collect();
            json!({"serviceAccount": s.id, "cells": cells})
        })
        .collect();
    if let Some(o) = v.as_object_mut() {
        o.insert("matrix".into(), Value::Array(matrix));
    }
    v
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fff}\
h1{font-size:20px}h2{font-size:16px;margin-top:28px}\
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}\
th.role{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:normal}\
td.cell{text-align:center;font-weight:bold;min-width:22px}\
td.annotated{background:#2e7d32;color:#fff}td.yes{background:#a5d6a7}td.broken{background:#c62828;color:#fff}td.no{background:#fafafa;color:#bbb}\
.error{color:#b71c1c;font-weight:bold}.warning{color:#e65100}.info{color:#555}\
code{background:#f3f3f3;padding:0 3px}.stale{background:#fff3e0}";

/// One self-contained HTML page (inline CSS, no scripts, no external resources).
pub fn html(report: &Report) -> String {
    let e = escape;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>irsa audit — {}</title><style>{CSS}</style></head><body>",
        e(&report.issuer)
    );
    let _ = write!(
        o,
        "<h1>irsa audit</h1><p>Issuer <code>{}</code> · IAM from {} · {} roles trust this cluster · {} ServiceAccounts · {} findings</p>",
        e(&report.issuer),
        e(&report.source),
        report.roles.len(),
        report.service_accounts.len(),
        report.findings.len()
    );
    html_matrix(&mut o, report);
    html_roles(&mut o, report);
    html_findings(&mut o, report);
    html_permissions(&mut o, report);
    html_other_roles(&mut o, report);
    o.push_str("</body></html>\n");
    o
}

/// The ServiceAccount × role matrix.
fn html_matrix(o: &mut String, report: &Report) {
    let e = escape;
    let _ = write!(
        o,
        "<h2>ServiceAccount × role</h2><table id=\"matrix\"><thead><tr><th>ServiceAccount</th>"
    );
    for r in &report.roles {
        let _ = write!(
            o,
            "<th class=\"role\" title=\"{}\">{}</th>",
            e(&r.arn),
            e(short(&r.arn))
        );
    }
    let _ = write!(o, "<th>annotation</th></tr></thead><tbody>");
    for (si, s) in report.service_accounts.iter().enumerate() {
        let _ = write!(o, "<tr><th>{}</th>", e(&s.id));
        for (ri, r) in report.roles.iter().enumerate() {
            let (sym, class) = cell(report, si, ri);
            let glyph = match sym {
                "A" | "x" => "✔",
                "!" => "✘",
                _ => "",
            };
            let _ = write!(
                o,
                "<td class=\"cell {class}\" data-sa=\"{}\" data-role=\"{}\" data-cell=\"{class}\">{glyph}</td>",
                e(&s.id),
                e(&r.arn)
            );
        }
        let _ = write!(
            o,
            "<td class=\"status-{}\">{}</td></tr>",
            e(&serde_json::to_value(&s.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()),
            e(status_str(&s.status))
        );
    }
    let _ = write!(
        o,
        "</tbody></table><p>✔ on dark green: annotated and assumable; ✔: assumable without the annotation; ✘: annotated but the role refuses it.</p>"
    );
}

/// Who can assume each role, present and future.
fn html_roles(o: &mut String, report: &Report) {
    let e = escape;
    let _ = write!(
        o,
        "<h2>Who can assume each role</h2><table id=\"roles\"><thead><tr><th>role</th><th>existing ServiceAccounts</th><th>patterns (future ServiceAccounts too)</th></tr></thead><tbody>"
    );
    for r in &report.roles {
        let _ = write!(
            o,
            "<tr{}><td><code>{}</code>{}</td><td>{}</td><td>",
            if r.stale { " class=\"stale\"" } else { "" },
            e(&r.arn),
            if r.stale { " <b>stale</b>" } else { "" },
            e(&r.assumable_by.join(", "))
        );
        for p in &r.patterns {
            let _ = write!(
                o,
                "<div>statement {}: <code>{}</code> (aud {}){}{}</div>",
                p.statement,
                e(&p.service_accounts.join(", ")),
                e(&p.audiences.join(", ")),
                if p.future {
                    " — <span class=\"warning\">matches future ServiceAccounts</span>"
                } else {
                    ""
                },
                if p.request_time.is_empty() {
                    String::new()
                } else {
                    format!(" if {}", e(&p.request_time.join(" and ")))
                }
            );
        }
        let _ = write!(o, "</td></tr>");
    }
    let _ = write!(o, "</tbody></table>");
}

/// Every finding.
fn html_findings(o: &mut String, report: &Report) {
    let e = escape;
    let _ = write!(
        o,
        "<h2>Findings</h2><table id=\"findings\"><thead><tr><th>severity</th><th>id</th><th>subject</th><th>message</th></tr></thead><tbody>"
    );
    for f in &report.findings {
        let _ = write!(
            o,
            "<tr><td class=\"{0}\">{0}</td><td>{1}</td><td><code>{2}</code></td><td>{3}</td></tr>",
            f.severity.as_str(),
            e(&f.id),
            e(&f.subject),
            e(&f.message)
        );
    }
    let _ = write!(o, "</tbody></table>");
}

/// The permission statements of each ServiceAccount's role.
fn html_permissions(o: &mut String, report: &Report) {
    let e = escape;
    let _ = write!(
        o,
        "<h2>What each ServiceAccount's role may do</h2><table id=\"permissions\"><thead><tr><th>ServiceAccount</th><th>role</th><th>effect</th><th>actions</th><th>resources</th><th>wildcards</th></tr></thead><tbody>"
    );
    for s in &report.service_accounts {
        let (Some(arn), Some(p)) = (&s.role_arn, &s.permissions) else {
            continue;
        };
        for pol in &p.policies {
            for st in &pol.statements {
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                    e(&s.id),
                    e(&pol.source.label()),
                    e(short(arn)),
                    e(&st.effect),
                    if st.not_action { "NotAction " } else { "" },
                    e(&st.actions.join(" ")),
                    e(&st.resources.join(" ")),
                    if st.wildcards.is_empty() {
                        ""
                    } else {
                        "warning"
                    },
                    e(&st.wildcards.join(", "))
                );
            }
        }
    }
    let _ = write!(o, "</tbody></table>");
}

/// The roles that do not trust the cluster, if any.
fn html_other_roles(o: &mut String, report: &Report) {
    let e = escape;
    if !report.other_roles.is_empty() {
        let _ = write!(
            o,
            "<h2>Roles that do not trust this cluster</h2><ul id=\"other\">"
        );
        for r in &report.other_roles {
            let _ = write!(
                o,
                "<li><code>{}</code>: {}</li>",
                e(&r.arn),
                e(&r.trusts.join(", "))
            );
        }
        let _ = write!(o, "</ul>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
