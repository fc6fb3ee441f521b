//! `irsa oidc serve`: a local OIDC issuer publishing the discovery document and the JWKS the way
//! kube-apiserver does, so STS can fetch the keys of tokens from `irsa token mint`.

use anyhow::{Context as _, bail};
use clap::Args;
use irsa_jose::{Jwk, Jwks, SigningKey};
use irsa_oidc::{IssuerState, router, serve, server_tls_config};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ServeArgs {
    /// The issuer URL: the tokens' `iss`, and the prefix of the served paths
    /// (e.g. https://127.0.0.1:8443, or http://127.0.0.1:8080 with --insecure-allow-http-issuer).
    #[arg(long)]
    issuer: String,
    /// PEM private key whose public key is published (e.g. signing.key from `irsa oidc
    /// keygen`). Repeat to publish several.
    #[arg(long, value_name = "FILE", required = true)]
    signing_key: Vec<PathBuf>,
    /// More PEM public keys to publish, e.g. the previous key during a rotation. Repeatable.
    #[arg(long = "public-key", value_name = "FILE")]
    public_keys: Vec<PathBuf>,
    /// Address to listen on (port 0 picks a free port; the address is printed on stderr).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// PEM certificate chain to serve https with (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the TLS certificate (needs --tls-cert).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The discovery document's jwks_uri [default: <issuer>/openid/v1/jwks]. The JWKS is
    /// always served at <issuer path>/openid/v1/jwks.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Cache-Control max-age of both documents, in seconds (kube-apiserver: 3600).
    #[arg(long, default_value_t = 3600)]
    max_age: u64,
    /// Accept an http:// issuer (no real STS accepts one; for local tests only).
    #[arg(long)]
    insecure_allow_http_issuer: bool,
}

fn read_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

pub fn run(a: ServeArgs) -> anyhow::Result<u8> {
    super::check_issuer(&a.issuer, a.insecure_allow_http_issuer)?;
    let https = a.issuer.starts_with("https://");
    let insecure_ok = |u: &str| a.insecure_allow_http_issuer && u.starts_with("http://");
    if let Some(u) = a
        .jwks_uri
        .as_deref()
        .filter(|u| !u.starts_with("https://") && !insecure_ok(u))
    {
        bail!("jwks uri `{u}` must be an https:// URL");
    }
    let mut keys: Vec<Jwk> = Vec::new();
    for f in &a.signing_key {
        let text = String::from_utf8(read_bytes(f)?)
            .with_context(|| format!("`{}` is not PEM text", f.display()))?;
        let key = SigningKey::from_pem(&text).with_context(|| {
            format!(
                "cannot use `{}` as a signing key (publish public keys with --public-key)",
                f.display()
            )
        })?;
        keys.push(key.public_jwk()?);
    }
    keys.extend(super::load_public_keys(&a.public_keys)?);
    let mut unique: Vec<Jwk> = Vec::new();
    for k in keys {
        if !unique.contains(&k) {
            unique.push(k);
        }
    }
    let jwks = Jwks { keys: unique };
    let state = match &a.jwks_uri {
        Some(u) => IssuerState::with_jwks_uri(&a.issuer, u, &jwks, a.max_age)?,
        None => IssuerState::new(&a.issuer, &jwks, a.max_age)?,
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(server_tls_config(&read_bytes(c)?, &read_bytes(k)?)?),
        _ => None,
    };
    if https && tls.is_none() {
        eprintln!(
            "irsa: note: the issuer is https but no --tls-cert/--tls-key were given: serving plain http (put a TLS proxy in front)"
        );
    }
    if !https && tls.is_some() {
        eprintln!("irsa: note: serving https for an http:// issuer; clients will fetch http://");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", a.listen))?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let kids: Vec<&str> = jwks.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
        eprintln!(
            "irsa: serving issuer `{}` on {scheme}://{addr}: {} and {} (keys: {})",
            a.issuer,
            state.discovery_path(),
            state.jwks_path(),
            kids.join(", ")
        );
        serve(listener, router(state), tls, async {
            crate::common::stop_signal().await;
        })
        .await?;
        eprintln!("irsa: stopped");
        Ok(0)
    })
}
