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

/// What the environment asks of the application.
struct Settings {
    table: String,
    key: String,
    /// `(bucket, key)` of the object to read each round.
    object: Option<(String, String)>,
    rounds: u64,
    interval: Duration,
    write: bool,
    fresh: bool,
}

impl Settings {
    /// Reads the `APP_*` variables; a missing required one exits with status 2.
    fn from_env() -> Settings {
        let (Ok(table), Ok(key)) = (std::env::var("APP_TABLE"), std::env::var("APP_KEY")) else {
            eprintln!("APP_TABLE and APP_KEY are required");
            std::process::exit(2);
        };
        let object = match (std::env::var("APP_BUCKET"), std::env::var("APP_OBJECT")) {
            (Ok(bucket), Ok(key)) if !bucket.is_empty() && !key.is_empty() => Some((bucket, key)),
            (Ok(bucket), _) if !bucket.is_empty() => {
                eprintln!("APP_OBJECT is required with APP_BUCKET");
                std::process::exit(2);
            }
            _ => None,
        };
        Settings {
            table,
            key,
            object,
            rounds: env_num("APP_ROUNDS", 1, 100_000),
            interval: Duration::from_millis(env_num("APP_INTERVAL", 1000, 3_600_000)),
            write: std::env::var("APP_WRITE").as_deref() == Ok("1"),
            fresh: std::env::var("APP_FRESH").as_deref() == Ok("1"),
        }
    }
}

/// The clients of one configuration (and so one credentials provider).
struct Clients {
    db: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
}

impl Clients {
    async fn load() -> Clients {
        let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Clients {
            db: aws_sdk_dynamodb::Client::new(&conf),
            s3: aws_sdk_s3::Client::new(&conf),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let settings = Settings::from_env();
    let mut clients = Clients::load().await;
    for round in 1..=settings.rounds {
        if settings.fresh && round > 1 {
            clients = Clients::load().await;
        }
        one_round(&settings, &clients, round).await;
        if round < settings.rounds {
            tokio::time::sleep(settings.interval).await;
        }
    }
}

/// The calls of one round, each reported on its own line.
async fn one_round(settings: &Settings, clients: &Clients, round: u64) {
    let (table, key) = (&settings.table, &settings.key);
    let get = clients
        .db
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.clone()))
        .send();
    bounded(round, "GetItem", get, |o| {
        o.item()
            .and_then(|i| i.get("value"))
            .and_then(|v| v.as_s().ok())
            .cloned()
    })
    .await;
    if settings.write {
        let put = clients
            .db
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S(format!("{key}-written")))
            .item("value", AttributeValue::S("written".into()))
            .send();
        bounded(round, "PutItem", put, |_| None).await;
    }
    if let Some((bucket, key)) = &settings.object {
        read_object(&clients.s3, round, bucket, key).await;
        if settings.write {
            let put = clients
                .s3
                .put_object()
                .bucket(bucket)
                .key(format!("{key}-written"))
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"written"))
                .send();
            bounded(round, "PutObject", put, |_| None).await;
        }
    }
}

/// Reports the answer to `call` (its value read by `value`), or a timeout after 20 s.
async fn bounded<T, E, R>(
    round: u64,
    op: &str,
    call: impl std::future::Future<Output = Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>>,
    value: impl FnOnce(T) -> Option<String>,
) where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match tokio::time::timeout(Duration::from_secs(20), call).await {
        Ok(r) => report(round, op, r.map(value)),
        Err(_) => timed_out(round, op),
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
