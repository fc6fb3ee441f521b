//! An ordinary application on aws-sdk-rust: it reads one DynamoDB item and, when given a
//! bucket, one S3 object (and, when asked, tries to write one of each) with the SDK's
//! default configuration and credential chain, and prints one JSON line per call. Nothing
//! in it knows about IRSA: the credentials come from whatever the environment provides (in
//! a mutated pod: the web identity token file and role the webhook injected, or the
//! container credentials endpoint and its token file), the endpoints from
//! `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_S3`. The e2e
//! node runs it in a container image.
//!
//! `APP_TABLE`, `APP_KEY` (value of the string partition key `pk`), `APP_BUCKET` and
//! `APP_OBJECT` (an object to `GetObject` each round, optional), `APP_WRITE=1` (also
//! `PutItem`, and `PutObject` with a bucket), `APP_ROUNDS` (default 1, at most 100000),
//! `APP_INTERVAL` (milliseconds
//! between rounds, default 1000), `APP_FRESH=1` (load the configuration, and so the
//! credentials, anew each round, as a short-lived process would). Exits 0 after the last
//! round, whatever the calls answered.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use std::time::Duration;

fn env_num(name: &str, default: u64, max: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(default, |v: u64| v.min(max))
}

fn report<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    round: u64,
    op: &str,
    result: Result<Option<String>, aws_sdk_dynamodb::error::SdkError<E, R>>,
) {
    let mut line = json!({"sdk": "rust", "round": round, "op": op});
    match result {
        Ok(value) => {
            line["ok"] = Value::Bool(true);
            if let Some(v) = value {
                line["value"] = Value::String(v);
            }
        }
        Err(e) => {
            line["ok"] = Value::Bool(false);
            if let Some(code) = e.code() {
                line["code"] = Value::String(code.to_string());
            }
            line["message"] = Value::String(DisplayErrorContext(&e).to_string());
        }
    }
    println!("{line}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (Ok(table), Ok(key)) = (std::env::var("APP_TABLE"), std::env::var("APP_KEY")) else {
        eprintln!("APP_TABLE and APP_KEY are required");
        std::process::exit(2);
    };
    let rounds = env_num("APP_ROUNDS", 1, 100_000);
    let interval = Duration::from_millis(env_num("APP_INTERVAL", 1000, 3_600_000));
    let write = std::env::var("APP_WRITE").as_deref() == Ok("1");
    let fresh = std::env::var("APP_FRESH").as_deref() == Ok("1");

    let object = match (std::env::var("APP_BUCKET"), std::env::var("APP_OBJECT")) {
        (Ok(bucket), Ok(key)) if !bucket.is_empty() && !key.is_empty() => Some((bucket, key)),
        (Ok(bucket), _) if !bucket.is_empty() => {
            eprintln!("APP_OBJECT is required with APP_BUCKET");
            std::process::exit(2);
        }
        _ => None,
    };

    let load = || async {
        let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        (
            aws_sdk_dynamodb::Client::new(&conf),
            aws_sdk_s3::Client::new(&conf),
        )
    };
    let (mut db, mut s3) = load().await;
    for round in 1..=rounds {
        if fresh && round > 1 {
            (db, s3) = load().await;
        }
        let got = tokio::time::timeout(
            Duration::from_secs(20),
            db.get_item()
                .table_name(&table)
                .key("pk", AttributeValue::S(key.clone()))
                .send(),
        )
        .await;
        match got {
            Ok(r) => report(
                round,
                "GetItem",
                r.map(|o| {
                    o.item()
                        .and_then(|i| i.get("value"))
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                }),
            ),
            Err(_) => timed_out(round, "GetItem"),
        }
        if write {
            let put = tokio::time::timeout(
                Duration::from_secs(20),
                db.put_item()
                    .table_name(&table)
                    .item("pk", AttributeValue::S(format!("{key}-written")))
                    .item("value", AttributeValue::S("written".into()))
                    .send(),
            )
            .await;
            match put {
                Ok(r) => report(round, "PutItem", r.map(|_| None)),
                Err(_) => timed_out(round, "PutItem"),
            }
        }
        if let Some((bucket, key)) = &object {
            read_object(&s3, round, bucket, key).await;
            if write {
                let put = tokio::time::timeout(
                    Duration::from_secs(20),
                    s3.put_object()
                        .bucket(bucket)
                        .key(format!("{key}-written"))
                        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"written"))
                        .send(),
                )
                .await;
                match put {
                    Ok(r) => report(round, "PutObject", r.map(|_| None)),
                    Err(_) => timed_out(round, "PutObject"),
                }
            }
        }
        if round < rounds {
            tokio::time::sleep(interval).await;
        }
    }
}

fn timed_out(round: u64, op: &str) {
    println!(
        "{}",
        json!({"sdk": "rust", "round": round, "op": op, "ok": false, "code": "Timeout"})
    );
}

/// Reads the object (at most 1 MiB of it) and reports its content as the value.
async fn read_object(s3: &aws_sdk_s3::Client, round: u64, bucket: &str, key: &str) {
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        let mut o = match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(o) => o,
            Err(e) => return report(round, "GetObject", Err(e)),
        };
        let mut value = Vec::new();
        while let Some(chunk) = o.body.next().await {
            match chunk {
                Ok(c) => value.extend_from_slice(&c[..c.len().min((1 << 20) - value.len())]),
                Err(e) => {
                    let line = json!({"sdk": "rust", "round": round, "op": "GetObject",
                                      "ok": false, "code": "Body", "message": e.to_string()});
                    return println!("{line}");
                }
            }
            if value.len() >= 1 << 20 {
                break;
            }
        }
        let value = String::from_utf8_lossy(&value).into_owned();
        report::<
            aws_sdk_s3::operation::get_object::GetObjectError,
            aws_sdk_s3::config::http::HttpResponse,
        >(round, "GetObject", Ok(Some(value)))
    })
    .await;
    if got.is_err() {
        timed_out(round, "GetObject");
    }
}
