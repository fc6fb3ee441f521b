//! `irsa token`: mint, decode and verify ServiceAccount tokens (JWTs).

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use irsa_jose::{Jwks, SigningKey, Validation};
use serde_json::{Map, Value, json};
use std::io::Read as _;
use std::path::{Path, PathBuf};

mod discover;

#[derive(Subcommand)]
pub enum Cmd {
    /// Mint a token with the claims kube-apiserver puts in a projected ServiceAccount token.
    Mint(MintArgs),
    /// Show a token's header and claims WITHOUT verifying it.
    Decode(DecodeArgs),
    /// Verify a token as STS does: exit 0 and print the claims, or exit 1 with
    /// `<StsCode>: <message>` on stderr.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct MintArgs {
    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC), e.g. from `irsa oidc keygen`.
    #[arg(long, value_name = "FILE")]
    signing_key: PathBuf,
    /// `iss` (kube-apiserver's --service-account-issuer).
    #[arg(long)]
    issuer: String,
    /// ServiceAccount namespace.
    #[arg(long)]
    namespace: String,
    /// ServiceAccount name.
    #[arg(long)]
    service_account: String,
    /// `aud` values (repeat for several).
    #[arg(long = "audience", default_value = "sts.amazonaws.com")]
    audiences: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    expiration: i64,
    /// Bind the token to this pod (needs --pod-uid).
    #[arg(long, requires = "pod_uid")]
    pod: Option<String>,
    /// The bound pod's UID.
    #[arg(long, requires = "pod")]
    pod_uid: Option<String>,
    /// The ServiceAccount's UID [default: a random UUID].
    #[arg(long)]
    sa_uid: Option<String>,
    /// Issue time, unix seconds [default: now].
    #[arg(long, hide = true)]
    now: Option<i64>,
}

#[derive(Args)]
pub struct DecodeArgs {
    /// The token, or `-` to read it from stdin.
    #[arg(default_value = "-")]
    token: String,
    /// Compare `exp` with this time, unix seconds [default: now].
    #[arg(long)]
    now: Option<i64>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The token, or `-` to read it from stdin.
    #[arg(default_value = "-")]
    pub(crate) token: String,
    /// The expected issuer (exact match with `iss`, as STS compares it).
    #[arg(long)]
    pub(crate) issuer: String,
    /// JWKS file (e.g. from `irsa oidc keys` or the issuer's jwks_uri). Without it, the keys
    /// are fetched from --issuer by OIDC discovery, as STS does.
    #[arg(long, value_name = "FILE")]
    pub(crate) jwks: Option<PathBuf>,
    /// Discovery mode: PEM CA bundle to trust instead of the public roots (self-hosted issuer).
    #[arg(long, value_name = "FILE", conflicts_with = "jwks")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Discovery mode: allow an http:// issuer (no real STS accepts one; local issuers only).
    #[arg(long, conflicts_with = "jwks")]
    pub(crate) insecure_allow_http_issuer: bool,
    /// Accepted audiences (the provider's client IDs); repeat for several.
    #[arg(long = "audience", default_value = "sts.amazonaws.com")]
    pub(crate) audiences: Vec<String>,
    /// Verify as of this time, unix seconds [default: now].
    #[arg(long)]
    pub(crate) now: Option<i64>,
    /// Allowed clock skew in seconds (STS allows 300 past `exp`).
    #[arg(long, default_value_t = irsa_jose::DEFAULT_LEEWAY_SECS)]
    pub(crate) leeway: i64,
}

/// Runs the subcommand; returns the process exit code. An `Err` is printed and exits 2.
pub fn run(cmd: Cmd) -> anyhow::Result<u8> {
    match cmd {
        Cmd::Mint(a) => mint(a),
        Cmd::Decode(a) => decode(a),
        Cmd::Verify(a) => verify(a),
    }
}

fn unix_now() -> anyhow::Result<i64> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock is before 1970")?;
    Ok(i64::try_from(d.as_secs())?)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// The token from the argument or stdin, surrounding whitespace removed. Never echoed.
pub(crate) fn read_token(arg: &str) -> anyhow::Result<String> {
    let raw = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .take(1 << 20)
            .read_to_string(&mut s)
            .context("cannot read the token from stdin")?;
        s
    } else {
        arg.to_owned()
    };
    let t = raw.trim();
    if t.is_empty() {
        bail!("no token given (pass it as an argument or on stdin with `-`)");
    }
    Ok(t.to_owned())
}

fn mint(a: MintArgs) -> anyhow::Result<u8> {
    let key = SigningKey::from_pem(&read(&a.signing_key)?)
        .with_context(|| format!("cannot use `{}` as a signing key", a.signing_key.display()))?;
    if a.expiration <= 0 {
        bail!("--expiration must be positive, got `{}`", a.expiration);
    }
    if a.audiences.iter().any(String::is_empty) {
        bail!("--audience must not be empty");
    }
    for (flag, v) in [
        ("--namespace", &a.namespace),
        ("--service-account", &a.service_account),
    ] {
        if v.is_empty() || v.contains(':') {
            bail!("{flag} `{v}` must be a non-empty name without `:`");
        }
    }
    let now = match a.now {
        Some(n) => n,
        None => unix_now()?,
    };
    let sa_uid = a.sa_uid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // Members in the order kube-apiserver writes them (go-jose sorts the keys).
    let mut k8s = Map::new();
    k8s.insert("namespace".into(), json!(a.namespace));
    if let (Some(name), Some(uid)) = (&a.pod, &a.pod_uid) {
        k8s.insert("pod".into(), json!({"name": name, "uid": uid}));
    }
    k8s.insert(
        "serviceaccount".into(),
        json!({"name": a.service_account, "uid": sa_uid}),
    );
    let mut claims = Map::new();
    claims.insert("aud".into(), json!(a.audiences));
    claims.insert("exp".into(), json!(now.saturating_add(a.expiration)));
    claims.insert("iat".into(), json!(now));
    claims.insert("iss".into(), json!(a.issuer));
    claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    claims.insert("kubernetes.io".into(), Value::Object(k8s));
    claims.insert("nbf".into(), json!(now));
    claims.insert(
        "sub".into(),
        json!(format!(
            "system:serviceaccount:{}:{}",
            a.namespace, a.service_account
        )),
    );
    println!("{}", key.sign_jwt(&Map::new(), &claims)?);
    Ok(0)
}

fn rfc3339(secs: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

fn decode(a: DecodeArgs) -> anyhow::Result<u8> {
    let token = read_token(&a.token)?;
    let t = irsa_jose::peek(&token).map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
    eprintln!(
        "irsa: decoded, NOT verified: the signature, issuer and audience were not checked (use `irsa token verify`)"
    );
    let now = match a.now {
        Some(n) => n,
        None => unix_now()?,
    };
    let mut times = Map::new();
    for claim in ["iat", "nbf", "exp"] {
        if let Some(v) = t.claims.get(claim).and_then(Value::as_i64) {
            times.insert(claim.into(), json!(rfc3339(v)));
        }
    }
    let exp = t.claims.get("exp").and_then(Value::as_i64);
    let out = json!({
        "header": t.header,
        "claims": t.claims,
        "times": times,
        "expired": exp.map(|e| now >= e),
        "expires_in_secs": exp.map(|e| e.saturating_sub(now)),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

/// The JWKS to verify with: `--jwks FILE`, else fetched from `--issuer` by OIDC discovery.
fn load_jwks(a: &VerifyArgs, token: &str) -> anyhow::Result<Jwks> {
    let Some(path) = &a.jwks else {
        return discover::fetch_jwks(
            token,
            &a.issuer,
            a.ca_file.as_deref(),
            a.insecure_allow_http_issuer,
        );
    };
    Jwks::from_json(&read(path)?).with_context(|| format!("`{}` is not a JWKS", path.display()))
}

fn verify(a: VerifyArgs) -> anyhow::Result<u8> {
    let token = read_token(&a.token)?;
    let jwks = match load_jwks(&a, &token) {
        Ok(j) => j,
        Err(e) => match e.downcast_ref::<irsa_oidc::FetchError>() {
            Some(fe) => {
                eprintln!(
                    "{}: {}",
                    irsa_sts_core::StsError::from(fe.to_jose()).code(),
                    fe.to_jose()
                );
                eprintln!("irsa: reason: {fe}");
                return Ok(1);
            }
            None => return Err(e),
        },
    };
    let now = match a.now {
        Some(n) => n,
        None => unix_now()?,
    };
    if a.leeway < 0 {
        bail!("--leeway must not be negative, got `{}`", a.leeway);
    }
    let mut v = Validation::new(&a.issuer, &a.audiences, now);
    v.leeway_secs = a.leeway;
    match irsa_jose::verify(&token, &jwks, &v) {
        Ok(t) => {
            eprintln!(
                "irsa: valid: {} signed by kid `{}`, audience `{}`, subject `{}`",
                t.alg,
                t.kid.as_deref().unwrap_or(""),
                t.audience,
                t.sub
            );
            println!("{}", serde_json::to_string_pretty(&t.claims)?);
            Ok(0)
        }
        Err(e) => {
            eprintln!("{}: {e}", irsa_sts_core::StsError::from(&e).code());
            eprintln!("irsa: reason: {}", e.detail());
            Ok(1)
        }
    }
}
