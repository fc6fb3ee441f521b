//! The `irsa` binary: argument parsing, wiring and exit codes. Each subcommand lives in its
//! own module; the logic lives in the library crates.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod agent;
mod audit;
mod common;
mod demo;
mod doctor;
mod gateway;
mod oidc;
mod policy;
mod sts;
mod token;
mod up;
mod webhook;

/// irsa: IAM Roles for Service Accounts, every moving part of the chain.
#[derive(Parser)]
#[command(name = "irsa", version)]
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
    /// The EKS Pod Identity node agent: the container credentials endpoint (`/v1/credentials`),
    /// backed by AssumeRoleForPodIdentity.
    Agent(agent::Args),
    /// A SigV4-verifying, IAM-enforcing proxy in front of DynamoDB- and S3-compatible servers.
    Gateway(gateway::Args),
    /// The whole chain on 127.0.0.1 in one process: local issuer, sts and gateway, a token
    /// file kept fresh, and the environment for any AWS SDK or the aws CLI.
    Up(up::Args),
    /// Walk the IRSA chain step by step in the terminal, offline; exit 0 when every step
    /// behaved as the story says.
    Demo(demo::Args),
    /// Who can assume which IAM role from which ServiceAccount: the ServiceAccount × role
    /// matrix, broken annotations, stale roles, lint and permissions (table, JSON, HTML).
    Audit(Box<audit::Args>),
    /// Why a pod cannot assume its role: every link of the chain checked, with evidence
    /// and the exact fix; exit 0 only when every check passes.
    Doctor(Box<doctor::Args>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One TLS crypto provider for every client and server in the process (kube, the JWKS
    // client, the webhook and issuer servers): aws-lc-rs, as the JOSE and STS crates use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = match cli.cmd {
        Cmd::Policy(c) => policy::run(c),
        Cmd::Oidc(c) => oidc::run(c),
        Cmd::Token(c) => token::run(c),
        Cmd::Webhook(a) => webhook::run(*a),
        Cmd::Sts(a) => sts::run(a),
        Cmd::Gateway(a) => gateway::run(a),
        Cmd::Agent(a) => agent::run(a),
        Cmd::Up(a) => up::run(a),
        Cmd::Demo(a) => demo::run(a),
        Cmd::Audit(a) => audit::run(*a),
        Cmd::Doctor(a) => doctor::run(*a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("irsa: {e:#}");
            ExitCode::from(2)
        }
    }
}
