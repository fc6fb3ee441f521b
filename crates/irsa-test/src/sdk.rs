//! Clients of the AWS SDK for Rust pointed at a local endpoint: region `us-east-1`, static
//! credentials, no retries (a test sees the first answer), and SDK configurations read from
//! a given environment only.

use aws_credential_types::Credentials;

pub use aws_types::os_shim_internal::Env;

/// Static credentials (`token` for a session).
pub fn credentials(access_key_id: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials::new(
        access_key_id,
        secret,
        token.map(str::to_owned),
        None,
        "irsa-test",
    )
}

/// The configuration of an S3 client of `endpoint` (path-style addressing), to add to.
pub fn s3_config(endpoint: &str, credentials: Credentials) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(credentials)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
}

/// An S3 client of `endpoint` (see [`s3_config`]).
pub fn s3(endpoint: &str, credentials: Credentials) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(endpoint, credentials).build())
}

/// The bytes of the object `bucket`/`key`, read with `client` (panics when it is refused).
pub async fn object(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let got = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject {bucket}/{key}: {e:?}"));
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

/// The keys under `prefix` in `bucket`, listed with `client` (panics when it is refused).
pub async fn keys(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListObjectsV2 {bucket}/{prefix}: {e:?}"));
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// A DynamoDB client of `endpoint`.
pub fn dynamodb(endpoint: &str, credentials: Credentials) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// A DynamoDB client as an application configures it from `conf`, without retries.
pub fn dynamodb_from(conf: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(conf)
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// An S3 client as an application configures it from `conf`, without retries.
pub fn s3_from(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// Creates table `table` (pay per request) whose hash key is the string attribute `key`.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &str,
) -> Result<(), aws_sdk_dynamodb::Error> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// Puts the item of string attributes `attributes` in `table`.
pub async fn put_strings(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    attributes: &[(&str, &str)],
) -> Result<(), aws_sdk_dynamodb::Error> {
    let mut put = client.put_item().table_name(table);
    for (name, value) in attributes {
        put = put.item(
            *name,
            aws_sdk_dynamodb::types::AttributeValue::S((*value).to_owned()),
        );
    }
    put.send().await?;
    Ok(())
}

/// The SDK configuration the default chain loads from the variables `vars` alone: no
/// profile files, no instance metadata, nothing else from the process's environment.
pub async fn config_from_env(vars: &[(&str, &str)]) -> aws_config::SdkConfig {
    let mut all: Vec<(&str, &str)> = vars.to_vec();
    all.extend([
        ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .env(Env::from_slice(&all))
        .fs(aws_types::os_shim_internal::Fs::real())
        .load()
        .await
}
