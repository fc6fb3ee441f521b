//! `irsa token verify` without `--jwks`: fetch the expected issuer's keys by OIDC discovery
//! (`<issuer>/.well-known/openid-configuration` → `jwks_uri`), as STS does. The URL comes from
//! `--issuer`, never from the token.

use anyhow::Context as _;
use irsa_jose::Jwks;
use irsa_oidc::{ClientConfig, JwksClient};
use std::path::Path;

/// The keys to verify `token` with, fetched from `issuer`. Nothing is fetched for a token that
/// does not parse or names another issuer: the empty key set lets verification report that
/// error, in STS's order. A fetch failure is returned as an [`irsa_oidc::FetchError`] inside
/// the `anyhow::Error` (reported with its STS code); local problems (CA file) are plain errors.
pub(super) fn fetch_jwks(
    token: &str,
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
    let kid = match irsa_jose::peek(token) {
        Ok(t) if t.issuer() == Some(issuer) => t.kid().map(str::to_owned),
        _ => return Ok(Jwks::default()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let keys = rt.block_on(client.keys_for(issuer, kid.as_deref()))?;
    Ok(Jwks::clone(&keys))
}
