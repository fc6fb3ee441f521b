//! irsa's SigV4 gateway: an IAM-enforcing proxy in front of a DynamoDB-compatible endpoint.
//!
//! A request signed with credentials that `irsa sts` issued is verified (SigV4, header or
//! presigned; the secret re-derived from the sealed session token), mapped to the IAM
//! action, resource ARNs and condition keys DynamoDB would authorize, evaluated against
//! the role's policies intersected with the session's (both pure, in `irsa-dynamodb`),
//! then forwarded re-signed with the upstream's own credentials, or answered with
//! DynamoDB's own error. This crate is HTTP, upstream and wiring.

mod config;
mod error;
mod s3;
mod server;
mod upstream;

pub use config::{
    DEFAULT_S3_ENDPOINTS, GatewaySection, LoadError, S3Config, S3Section, UpstreamSection, key_ring,
};
pub use error::UPSTREAM_NOT_CONFIGURED;
pub use server::{Gateway, Options, Snapshot, router, serve};
pub use upstream::{Service, Upstream, UpstreamCredentials, UpstreamError, UpstreamSettings};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why a gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is invalid or a file it names cannot be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The upstream settings are invalid.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

/// A gateway from a configuration file: the `irsa sts` configuration plus an optional
/// `gateway.upstream` section, whose fields `overrides` (command line, environment) replace.
pub fn from_file(
    path: &Path,
    overrides: UpstreamSection,
    upstream_timeout: Duration,
    options: Options,
) -> Result<Arc<Gateway>, BuildError> {
    from_file_with_s3(
        path,
        overrides,
        UpstreamSection::default(),
        upstream_timeout,
        options,
    )
}

/// [`from_file`] with an S3 upstream too: `gateway.s3.upstream` with the fields
/// `s3_overrides` sets replaced. Without an S3 upstream URL in either, the gateway answers
/// allowed S3 requests `UpstreamNotConfigured`; likewise DynamoDB requests when only an S3
/// upstream is given. At least one upstream URL is required.
pub fn from_file_with_s3(
    path: &Path,
    overrides: UpstreamSection,
    s3_overrides: UpstreamSection,
    upstream_timeout: Duration,
    options: Options,
) -> Result<Arc<Gateway>, BuildError> {
    let (text, base) = irsa_server::read_text(path).map_err(LoadError::from)?;
    let (cfg, section) = config::parse(&text)?;
    let ring = config::key_ring(&cfg, base)?;
    let s3 = section.s3.validate()?;
    let dynamodb_section = section.upstream.overridden_by(overrides);
    let s3_section = section.s3.upstream.overridden_by(s3_overrides);
    let upstream = if dynamodb_section.url.is_none() && s3_section.url.is_some() {
        None
    } else {
        Some(Upstream::new(dynamodb_section.settings(
            &cfg,
            base,
            upstream_timeout,
        )?)?)
    };
    let s3_upstream = match s3_section.url {
        None => None,
        Some(_) => Some(Upstream::for_service(
            s3_section
                .settings(&cfg, base, upstream_timeout)
                .map_err(prefixed_s3)?,
            Service::S3,
        )?),
    };
    Ok(Gateway::with_upstreams(
        Snapshot::new(cfg, ring).with_s3(s3),
        upstream,
        s3_upstream,
        options,
    ))
}

/// Errors of the S3 upstream section name `gateway.s3.upstream`.
fn prefixed_s3(e: LoadError) -> LoadError {
    match e {
        LoadError::Field { field, reason } => LoadError::Field {
            field: field.replacen("gateway.upstream", "gateway.s3.upstream", 1),
            reason,
        },
        other => other,
    }
}
