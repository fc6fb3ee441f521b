//! `--compose-role-arn`: the node's account and partition from the EC2 instance metadata
//! service (IMDS), as the reference reads them at start: the instance identity document's
//! `accountId`, and the partition of its `region`.
//!
//! The client is aws-config's (IMDSv2 session tokens, retries, and the SDKs' settings:
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`, `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`).

use std::time::Duration;

use irsa_mutate::{ComposeRoleArn, partition_for_region};

/// Path of the instance identity document.
pub const IDENTITY_DOCUMENT: &str = "/latest/dynamic/instance-identity/document";

/// Why the account and partition could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    /// The endpoint given is not a URL.
    #[error("invalid instance metadata endpoint `{0}`")]
    Endpoint(String),
    /// The metadata service did not answer, or refused.
    #[error("cannot read the instance identity document from the instance metadata service: {0}")]
    Fetch(String),
    /// The document is not JSON with a non-empty `accountId` and `region`.
    #[error("the instance identity document has no {0}")]
    Document(&'static str),
}

/// Reads the instance identity document and turns it into the composition settings.
/// `endpoint` overrides the SDK's endpoint resolution (tests); `None` uses it.
pub async fn compose_role_arn(endpoint: Option<&str>) -> Result<ComposeRoleArn, ImdsError> {
    let mut builder = aws_config::imds::client::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(2));
    if let Some(e) = endpoint {
        let uri: http::Uri = e.parse().map_err(|_| ImdsError::Endpoint(e.to_owned()))?;
        builder = builder
            .endpoint(uri.to_string())
            .map_err(|_| ImdsError::Endpoint(e.to_owned()))?;
    }
    let client = builder.build();
    let document = client
        .get(IDENTITY_DOCUMENT)
        .await
        .map_err(|e| ImdsError::Fetch(aws_config::imds::client::error::ImdsError::to_string(&e)))?;
    from_document(document.as_ref())
}

/// The composition settings of an instance identity document.
pub fn from_document(document: &str) -> Result<ComposeRoleArn, ImdsError> {
    let v: serde_json::Value =
        serde_json::from_str(document).map_err(|_| ImdsError::Document("JSON object"))?;
    let field = |name: &'static str| {
        v.get(name)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(ImdsError::Document(name))
    };
    let account_id = field("accountId")?.to_owned();
    let region = field("region")?;
    Ok(ComposeRoleArn {
        partition: partition_for_region(region).to_owned(),
        account_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let c = from_document(r#"{"accountId":"111122223333","region":"cn-north-1"}"#).unwrap();
        assert_eq!(
            (c.partition.as_str(), c.account_id.as_str()),
            ("aws-cn", "111122223333")
        );
        assert!(matches!(
            from_document("{}"),
            Err(ImdsError::Document("accountId"))
        ));
        assert!(matches!(
            from_document(r#"{"accountId":"1","region":""}"#),
            Err(ImdsError::Document("region"))
        ));
        assert!(from_document("not json").is_err());
    }
}
