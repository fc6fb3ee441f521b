//! `irsa policy`: evaluate, validate and lint IAM policies.

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use irsa_policy::EvalDocument;
use irsa_policy::{Policy, PolicyKind, Severity, lint_trust, validate};
use serde_json::json;
use std::io::Read;

/// The bundled example: an IRSA trust policy and an AssumeRoleWithWebIdentity request it allows.
const EXAMPLE: &str = include_str!("../../../examples/policy/irsa-trust-eval.json");

#[derive(Subcommand)]
pub enum Cmd {
    /// Evaluate a request against policies: JSON document in, decision JSON out.
    ///
    /// Input: {"request": {"action", "resource", "principal", "context": {KEY: "v" | ["v1", "v2"]}},
    /// "identityPolicies": [..], "resourcePolicy": {..}, "permissionBoundaries": [..],
    /// "sessionPolicies": [..]}. Output: {"decision": "Allow" | "ExplicitDeny" | "ImplicitDeny",
    /// "matched": [{"policy": "identity[0]" | "resource" | "boundary[0]" | "session[0]",
    /// "statement": 0, "sid": ".."}]}. With --explain: every statement and why it matched or
    /// not (--format human | json).
    Eval(EvalArgs),
    /// Validate a policy document as IAM/STS would for its kind.
    Validate(ValidateArgs),
    /// Lint an IRSA / web identity role trust policy.
    Lint(LintArgs),
}

#[derive(Args)]
pub struct EvalArgs {
    /// Input document (`-` for stdin).
    #[arg(default_value = "-")]
    file: String,
    /// Evaluate the bundled example (an IRSA trust policy request) instead of FILE.
    #[arg(long)]
    example: bool,
    /// Explain the decision: every statement considered and why it matched or not (action,
    /// resource, principal, each condition key with the request's values).
    #[arg(long)]
    explain: bool,
    /// Output format of `--explain`.
    #[arg(long, value_enum, default_value = "human", requires = "explain")]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Identity,
    Resource,
    Trust,
    Session,
}

#[derive(Args)]
pub struct ValidateArgs {
    /// How the policy is used.
    #[arg(long, value_enum)]
    kind: Kind,
    /// Policy document (`-` for stdin).
    file: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Args)]
pub struct LintArgs {
    /// Trust policy document (`-` for stdin).
    file: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn read_input(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read stdin")?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read `{file}`"))
    }
}

/// Runs the subcommand; returns the process exit code. An `Err` is printed and exits 2.
pub fn run(cmd: Cmd) -> anyhow::Result<u8> {
    match cmd {
        Cmd::Eval(a) => eval(a),
        Cmd::Validate(a) => validate_cmd(a),
        Cmd::Lint(a) => lint(a),
    }
}

fn eval(a: EvalArgs) -> anyhow::Result<u8> {
    let text = if a.example {
        if a.file != "-" {
            bail!("`--example` takes no FILE");
        }
        EXAMPLE.to_owned()
    } else {
        read_input(&a.file)?
    };
    let doc = EvalDocument::parse(&text)?;
    if a.explain {
        let e = irsa_policy::explain(&doc.input(), &doc.request);
        match a.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&e.to_value())?),
            Format::Human => print!("{e}"),
        }
        return Ok(0);
    }
    println!("{}", doc.evaluate().to_value());
    Ok(0)
}

fn validate_cmd(a: ValidateArgs) -> anyhow::Result<u8> {
    let text = read_input(&a.file)?;
    let kind = match a.kind {
        Kind::Identity => PolicyKind::Identity,
        Kind::Resource => PolicyKind::Resource,
        Kind::Trust => PolicyKind::Trust,
        Kind::Session => PolicyKind::Session,
    };
    match validate(&text, kind) {
        Ok(_) => {
            println!("valid");
            Ok(0)
        }
        Err(errors) => {
            for e in errors {
                println!("{}: {e}", irsa_sts_core::StsError::from(&e).code());
            }
            Ok(1)
        }
    }
}

fn lint(a: LintArgs) -> anyhow::Result<u8> {
    let text = read_input(&a.file)?;
    let policy = Policy::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", irsa_sts_core::StsError::from(&e).code()))?;
    let findings = lint_trust(&policy);
    match a.format {
        Format::Json => {
            let list: Vec<_> = findings
                .iter()
                .map(|f| {
                    json!({"id": f.id, "severity": f.severity.as_str(), "message": f.message,
                           "statement": f.statement, "sid": f.sid})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "findings": list }))?
            );
        }
        Format::Human => {
            for f in &findings {
                let at = match (f.statement, &f.sid) {
                    (Some(i), Some(sid)) => format!(" statement {i} ({sid})"),
                    (Some(i), None) => format!(" statement {i}"),
                    (None, _) => String::new(),
                };
                println!("{}[{}]{at}: {}", f.severity, f.id, f.message);
            }
            if findings.is_empty() {
                println!("no findings");
            }
        }
    }
    Ok(u8::from(
        findings.iter().any(|f| f.severity >= Severity::Warning),
    ))
}
