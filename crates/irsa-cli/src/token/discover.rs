//! `irsa token verify` without `--jwks`: fetch the expected issuer's keys by OIDC discovery
//! (`<issuer>/.well-known/openid-configuration` → `jwks_uri`), as STS does. The URL comes from
//! `--issuer`, never from the token.

use anyhow::Context as _;
use irsa_jose::Jwks;
use irsa_oidc::{ClientConfig, JwksClient};
use std::path::Path;

/// The issuer's JWKS. A fetch failure is returned as an [`irsa_oidc::FetchError`] inside the
/// `anyhow::Error` (the caller reports it with its STS code); local problems (CA file) are
/// plain errors.
pub(super) fn fetch_jwks(
    issuer: &str,
    ca_file: Option<&Path>,
    allow_http: bool,
) -> anyhow::Result<Jwks> {
    let ca_bundle_pem = match ca_file {
        Some(p) => {
            Some(std::fs::read(p).with_context(|| format!("cannot read `{}`", p.display()))?)
        }
        None => None,
    };
    let config = ClientConfig {
        allow_insecure_http_issuer: allow_http,
        ca_bundle_pem,
        ..ClientConfig::default()
    };
    let client = JwksClient::new(config)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| match ca_file {
            Some(p) => format!("cannot use `{}` as a CA bundle", p.display()),
            None => "cannot set up the https client".to_owned(),
        })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let keys = rt.block_on(client.keys_for(issuer, None))?;
    Ok(Jwks::clone(&keys))
}
