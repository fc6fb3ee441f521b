//! The `irsa` binary: argument parsing, wiring and exit codes. Each subcommand lives in its
//! own module; the logic lives in the library crates.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod oidc;
mod policy;
mod sts;
mod token;
mod webhook;

/// irsa: IAM Roles for Service Accounts, every moving part of the chain.
#[derive(Parser)]
#[command(name = "irsa", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The IAM policy language: evaluate, validate, lint.
    #[command(subcommand)]
    Policy(policy::Cmd),
    /// OIDC issuer documents (discovery, JWKS), signing keys and a local issuer.
    #[command(subcommand)]
    Oidc(oidc::Cmd),
    /// ServiceAccount tokens: mint, decode, verify.
    #[command(subcommand)]
    Token(token::Cmd),
    /// The pod identity mutating admission webhook (drop-in for amazon-eks-pod-identity-webhook).
    Webhook(Box<webhook::Args>),
    /// An STS-compatible endpoint: AssumeRoleWithWebIdentity and GetCallerIdentity.
    Sts(sts::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Policy(c) => policy::run(c),
        Cmd::Oidc(c) => oidc::run(c),
        Cmd::Token(c) => token::run(c),
        Cmd::Webhook(a) => webhook::run(*a),
        Cmd::Sts(a) => sts::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("irsa: {e:#}");
            ExitCode::from(2)
        }
    }
}
