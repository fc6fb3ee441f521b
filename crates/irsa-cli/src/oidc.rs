//! `irsa oidc`: the documents an OIDC issuer publishes (JWKS, discovery), the thumbprint IAM
//! wants, and signing keys.

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use irsa_jose::{Algorithm, DiscoveryDocument, Jwk, Jwks, SigningKey};
use std::io::Write as _;
use std::path::{Path, PathBuf};

mod serve;

#[derive(Subcommand)]
pub enum Cmd {
    /// Print the JWKS (keys.json) for public keys, exactly as kube-apiserver serves
    /// /openid/v1/jwks: several keys for rotation.
    Keys(KeysArgs),
    /// Print the OIDC discovery document (/.well-known/openid-configuration) as kube-apiserver
    /// serves it.
    Discovery(DiscoveryArgs),
    /// Print the SHA-1 thumbprint IAM's CreateOpenIDConnectProvider wants: of the top
    /// intermediate CA, i.e. the last certificate in the chain file.
    Thumbprint(ThumbprintArgs),
    /// Generate a service-account signing key pair: DIR/signing.key (PKCS#8, mode 0600) and
    /// DIR/signing.pub (SPKI); prints the key id.
    Keygen(KeygenArgs),
    /// Serve a local OIDC issuer: the discovery document and the JWKS (at /openid/v1/jwks) of
    /// signing keys, with Cache-Control, over http or https, like kube-apiserver.
    Serve(serve::ServeArgs),
}

#[derive(Args)]
pub struct KeysArgs {
    /// PEM file with public keys (SPKI, PKCS#1 RSA or X.509 certificate; private keys also
    /// work, as for kube-apiserver's --service-account-key-file). Repeat for rotation.
    #[arg(long = "public-key", value_name = "FILE", required = true)]
    public_keys: Vec<PathBuf>,
    /// Also emit each key a second time with kid "" so tokens without kid (Kubernetes before
    /// 1.16) verify, like the SELF_HOSTED_SETUP keys.json of amazon-eks-pod-identity-webhook.
    #[arg(long)]
    with_empty_kid: bool,
    /// Indent the JSON (default: compact, byte for byte what kube-apiserver serves).
    #[arg(long)]
    pretty: bool,
}

#[derive(Args)]
pub struct DiscoveryArgs {
    /// The issuer URL (kube-apiserver's --service-account-issuer); must be https.
    #[arg(long)]
    issuer: String,
    /// Where the JWKS is served [default: <issuer>/openid/v1/jwks, as kube-apiserver].
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Public key files: id_token_signing_alg_values_supported lists their algorithms
    /// [default without keys: RS256].
    #[arg(long = "public-key", value_name = "FILE")]
    public_keys: Vec<PathBuf>,
    /// Accept an http:// issuer (no real STS accepts one; for local tests only).
    #[arg(long)]
    insecure_allow_http_issuer: bool,
    /// Indent the JSON.
    #[arg(long)]
    pretty: bool,
}

#[derive(Args)]
pub struct ThumbprintArgs {
    /// PEM file with the certificate chain, leaf first, e.g. the output of
    /// `openssl s_client -showcerts`.
    #[arg(long, value_name = "FILE")]
    cert_chain: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeygenAlg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
}

#[derive(Args)]
pub struct KeygenArgs {
    /// Key algorithm: RSA 2048 (RS256) or P-256 (ES256).
    #[arg(long, value_enum, default_value = "RS256")]
    alg: KeygenAlg,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Overwrite existing signing.key / signing.pub.
    #[arg(long)]
    force: bool,
}

/// Runs the subcommand; returns the process exit code. An `Err` is printed and exits 2.
pub fn run(cmd: Cmd) -> anyhow::Result<u8> {
    match cmd {
        Cmd::Keys(a) => keys(a),
        Cmd::Discovery(a) => discovery(a),
        Cmd::Thumbprint(a) => thumbprint(a),
        Cmd::Keygen(a) => keygen(a),
        Cmd::Serve(a) => serve::run(a),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Every key in the given PEM files, in order.
pub(crate) fn load_public_keys(files: &[PathBuf]) -> anyhow::Result<Vec<Jwk>> {
    let mut keys = Vec::new();
    for f in files {
        let found = irsa_jose::jwks_from_pem(&read(f)?)
            .with_context(|| format!("no usable key in `{}`", f.display()))?;
        keys.extend(found);
    }
    Ok(keys)
}

fn print_json(v: &impl serde::Serialize, pretty: bool) -> anyhow::Result<()> {
    let s = if pretty {
        serde_json::to_string_pretty(v)?
    } else {
        serde_json::to_string(v)?
    };
    println!("{s}");
    Ok(())
}

fn keys(a: KeysArgs) -> anyhow::Result<u8> {
    let mut keys = load_public_keys(&a.public_keys)?;
    if a.with_empty_kid {
        let copies: Vec<Jwk> = keys
            .iter()
            .map(|k| k.clone().with_kid(Some(String::new())))
            .collect();
        keys.extend(copies);
    }
    print_json(&Jwks { keys }, a.pretty)?;
    Ok(0)
}

/// Checks an issuer URL as kube-apiserver does before serving discovery: https, a host, no
/// query or fragment.
pub(crate) fn check_issuer(issuer: &str, allow_http: bool) -> anyhow::Result<()> {
    let rest = if let Some(r) = issuer.strip_prefix("https://") {
        r
    } else if let Some(r) = issuer.strip_prefix("http://").filter(|_| allow_http) {
        r
    } else {
        bail!("issuer `{issuer}` must be an https:// URL");
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        bail!("issuer `{issuer}` has no valid host");
    }
    if issuer.contains('?') || issuer.contains('#') {
        bail!("issuer `{issuer}` must not have a query or fragment");
    }
    Ok(())
}

fn discovery(a: DiscoveryArgs) -> anyhow::Result<u8> {
    check_issuer(&a.issuer, a.insecure_allow_http_issuer)?;
    let jwks_uri = a
        .jwks_uri
        .clone()
        .unwrap_or_else(|| DiscoveryDocument::default_jwks_uri(&a.issuer));
    if !(jwks_uri.starts_with("https://")
        || (a.insecure_allow_http_issuer && jwks_uri.starts_with("http://")))
    {
        bail!("jwks uri `{jwks_uri}` must be an https:// URL");
    }
    let keys = load_public_keys(&a.public_keys)?;
    let mut doc = DiscoveryDocument::kube(&a.issuer, &jwks_uri, &Jwks { keys });
    if a.public_keys.is_empty() {
        doc.id_token_signing_alg_values_supported = vec![Algorithm::RS256.as_str().to_owned()];
    }
    print_json(&doc, a.pretty)?;
    Ok(0)
}

fn thumbprint(a: ThumbprintArgs) -> anyhow::Result<u8> {
    let certs = irsa_jose::certificates_from_pem(&read(&a.cert_chain)?)
        .with_context(|| format!("cannot read certificates from `{}`", a.cert_chain.display()))?;
    let (n, last) = (certs.len(), certs.last());
    let Some(cert) = last else {
        bail!("no certificate in `{}`", a.cert_chain.display());
    };
    eprintln!(
        "irsa: thumbprint of certificate {n} of {n} (subject `{}`)",
        cert.subject
    );
    println!("{}", irsa_jose::sha1_thumbprint(&cert.der));
    Ok(0)
}

fn write_file(path: &Path, contents: &str, mode: u32, force: bool) -> anyhow::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(mode);
    }
    let mut f = o.open(path).with_context(|| {
        format!(
            "cannot create `{}`{}",
            path.display(),
            if force {
                ""
            } else {
                " (use --force to overwrite)"
            }
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    f.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

fn keygen(a: KeygenArgs) -> anyhow::Result<u8> {
    let alg = match a.alg {
        KeygenAlg::Rs256 => Algorithm::RS256,
        KeygenAlg::Es256 => Algorithm::ES256,
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create `{}`", a.out.display()))?;
    let key = SigningKey::generate(alg)?;
    write_file(
        &a.out.join("signing.key"),
        &key.to_pkcs8_pem()?,
        0o600,
        a.force,
    )?;
    write_file(
        &a.out.join("signing.pub"),
        &key.public_key_pem()?,
        0o644,
        a.force,
    )?;
    println!("{}", key.kid());
    Ok(0)
}
