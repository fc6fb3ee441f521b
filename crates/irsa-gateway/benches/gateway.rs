//! The latency the gateway adds: the same signed DynamoDB requests sent to dynalite directly
//! and through the gateway (dynalite as its upstream), interleaved in one run, over
//! keep-alive connections. Client-side signing is outside the timed section. Two gateways
//! run side by side, each on its own runtime and threads: one on a multi-threaded runtime
//! of two workers (as `irsa gateway` runs on this 2-core machine), one on a single-threaded
//! runtime (no hand-off between threads, for comparison); the CPU time of each gateway's threads (`/proc/self/task/TID/schedstat`) over
//! the timed requests gives its own CPU per request.
//!
//! Needs dynalite (scripts/deps/gateway.sh). Run: `scripts/bench-gateway.sh`
//! (= `cargo bench -p irsa-gateway --bench gateway`); `IRSA_GATEWAY_BENCH_N` sets the
//! number of timed requests per path and operation (default 2000).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use irsa_gateway::{Options, UpstreamSection};
use irsa_sts_core::{KeyRing, MasterKey, SessionClaims, issue_credentials};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

struct Creds {
    akid: String,
    secret: String,
    token: Option<String>,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn signed(url: &str, creds: &Creds, op: &str, body: &Value) -> http::Request<Full<Bytes>> {
    let body = serde_json::to_vec(body).unwrap();
    let url = format!("{url}/");
    let target = format!("DynamoDB_20120810.{op}");
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", target.as_str()),
    ];
    let identity: Identity = AwsCredentials::new(
        creds.akid.clone(),
        creds.secret.clone(),
        creds.token.clone(),
        None,
        "bench",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("dynamodb")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(&body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder().method("POST").uri(&url);
    for (n, v) in headers {
        builder = builder.header(n, v);
    }
    let mut request = builder.body(Full::new(Bytes::from(body))).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
}

/// Sends a request; returns the round-trip time (headers and whole body).
async fn timed(client: &HttpClient, request: http::Request<Full<Bytes>>) -> Duration {
    let start = Instant::now();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let elapsed = start.elapsed();
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    elapsed
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1e6
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// The thread ids of a runtime's threads, to read their CPU time.
type Tids = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

fn record_tid(tids: &Tids) {
    if let Ok(link) = std::fs::read_link("/proc/thread-self") {
        tids.lock().unwrap().push(link.display().to_string());
    }
}

/// Nanoseconds of CPU the threads have used, and how many times they were scheduled in.
fn cpu_ns(tids: &Tids) -> (u64, u64) {
    tids.lock()
        .unwrap()
        .iter()
        .filter_map(|t| std::fs::read_to_string(format!("/proc/{t}/schedstat")).ok())
        .filter_map(|s| {
            let mut f = s.split_whitespace();
            let ns = f.next()?.parse::<u64>().ok()?;
            let slices = f.nth(1)?.parse::<u64>().ok()?;
            Some((ns, slices))
        })
        .fold((0, 0), |(a, b), (ns, sl)| (a + ns, b + sl))
}

/// Serves `gateway` on its own runtime in its own threads: `workers` = 0 for a
/// single-threaded runtime. Returns its URL and its threads.
fn spawn_gateway(gateway: std::sync::Arc<irsa_gateway::Gateway>, workers: usize) -> (String, Tids) {
    let name = if workers == 0 {
        "gw-single"
    } else {
        "gw-multi"
    };
    spawn_server(name, workers, move |listener| async move {
        irsa_gateway::serve(listener, gateway, std::future::pending()).await
    })
}

/// The floor of any proxy on this machine: the same runtime, listener (irsa-server) and
/// upstream client (hyper, keep-alive), forwarding each request unchanged and streaming the
/// answer back, with nothing verified, parsed or re-signed.
fn spawn_bare_proxy(upstream: String) -> (String, Tids) {
    spawn_server("bare-proxy", 0, move |listener| async move {
        let client: HttpClient = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let client = client.clone();
            let upstream = upstream.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 24)
                    .await
                    .unwrap_or_default();
                let mut forward = http::Request::builder()
                    .method(parts.method)
                    .uri(format!("{upstream}{}", parts.uri.path()));
                for (name, value) in &parts.headers {
                    forward = forward.header(name, value);
                }
                let response = client
                    .request(forward.body(Full::new(body)).unwrap())
                    .await
                    .unwrap();
                let (parts, body) = response.into_parts();
                axum::response::Response::from_parts(parts, axum::body::Body::new(body))
            }
        });
        irsa_server::serve(
            listener,
            app,
            irsa_server::ServeOptions::default(),
            std::future::pending(),
        )
        .await
    })
}

/// Runs `serve(listener)` on its own runtime (threads named `name`; `workers` = 0 for a
/// single-threaded runtime). Returns its URL and its threads.
fn spawn_server<F, Fut>(name: &'static str, workers: usize, serve: F) -> (String, Tids)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    let tids: Tids = Default::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (t1, t2) = (tids.clone(), tids.clone());
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            record_tid(&t1);
            let mut builder = if workers == 0 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(workers);
                b
            };
            let runtime = builder
                .enable_all()
                .thread_name(name)
                .on_thread_start(move || record_tid(&t2))
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                serve(listener).await
            })
        })
        .unwrap();
    (url, tids)
}

async fn run() {
    let n: usize = std::env::var("IRSA_GATEWAY_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dynalite = root.join("tools/dynalite/node_modules/dynalite");
    assert!(
        dynalite.join("package.json").exists(),
        "dynalite is not installed: run scripts/deps/gateway.sh"
    );
    let script = format!(
        "require({:?})({{createTableMs: 0}}).listen(0, '127.0.0.1', function () {{ console.log(this.address().port) }})",
        dynalite.display().to_string()
    );
    let mut child = tokio::process::Command::new("node")
        .args(["-e", &script])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let upstream = format!("http://127.0.0.1:{port}");
    let up = Creds {
        akid: "AKIAUPSTREAMEXAMPLE1".into(),
        secret: "upstream-secret".into(),
        token: None,
    };
    let client: HttpClient = Client::builder(TokioExecutor::new()).build(HttpConnector::new());

    // Table and item.
    let create = json!({"TableName": "Books",
        "AttributeDefinitions": [{"AttributeName": "Author", "AttributeType": "S"},
                                 {"AttributeName": "Title", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "Author", "KeyType": "HASH"},
                      {"AttributeName": "Title", "KeyType": "RANGE"}],
        "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}});
    timed(&client, signed(&upstream, &up, "CreateTable", &create)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..10 {
        let put = json!({"TableName": "Books", "Item": {
            "Author": {"S": "Tolkien"}, "Title": {"S": format!("Book {i}")},
            "Body": {"S": "x".repeat(400)}}});
        timed(&client, signed(&upstream, &up, "PutItem", &put)).await;
    }

    // Gateway.
    let dir = std::env::temp_dir().join(format!("irsa-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = MasterKey::generate(&mut rand::rngs::OsRng);
    std::fs::write(dir.join("master.key"), key.to_hex()).unwrap();
    let config = dir.join("irsa.yaml");
    std::fs::write(
        &config,
        format!(
            r#"account: "111122223333"
region: us-east-1
roles:
  - name: reader
    trustPolicy: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Principal: {{Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}}, Action: sts:AssumeRoleWithWebIdentity}}]}}
    policies:
      read:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: [dynamodb:GetItem, dynamodb:Query], Resource: arn:aws:dynamodb:us-east-1:111122223333:table/Books,
             Condition: {{"ForAllValues:StringEquals": {{dynamodb:LeadingKeys: [Tolkien]}}}}}}
          - {{Effect: Deny, Action: "dynamodb:*", Resource: arn:aws:dynamodb:us-east-1:111122223333:table/Secrets}}
signingKeys: [{{file: master.key}}]
gateway:
  upstream: {{url: "{upstream}", accessKeyId: AKIAUPSTREAMEXAMPLE1, secretAccessKey: upstream-secret}}
"#
        ),
    )
    .unwrap();
    let gateway = || {
        irsa_gateway::from_file(
            &config,
            UpstreamSection::default(),
            Duration::from_secs(10),
            Options::default(),
        )
        .unwrap()
    };
    let gateways = [
        ("gateway, 2 workers", spawn_gateway(gateway(), 2)),
        ("gateway, 1 thread", spawn_gateway(gateway(), 0)),
        ("bare proxy, 1 thread", spawn_bare_proxy(upstream.clone())),
    ];
    // The bare proxy forwards unchanged: it gets requests signed for the upstream.
    let bare = gateways.len() - 1;

    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let claims = SessionClaims {
        role_arn: "arn:aws:iam::111122223333:role/reader".into(),
        role_id: "AROAEXAMPLEEXAMPLE123".into(),
        session_name: "bench".into(),
        subject: "system:serviceaccount:default:bench".into(),
        audience: "sts.amazonaws.com".into(),
        provider_arn: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test".into(),
        issued_at: now,
        expires_at: now + 3600,
        session_policy: None,
        policy_arns: vec![],
        source_identity: None,
        tags: vec![],
        transitive_tag_keys: vec![],
    };
    let issued = issue_credentials(&KeyRing::single(key), &claims, &mut rand::rngs::OsRng).unwrap();
    let session = Creds {
        akid: issued.access_key_id.clone(),
        secret: issued.secret_access_key.clone(),
        token: Some(issued.session_token.clone()),
    };

    let get = json!({"TableName": "Books", "Key": {"Author": {"S": "Tolkien"}, "Title": {"S": "Book 3"}}});
    let query = json!({"TableName": "Books", "KeyConditionExpression": "Author = :a",
                       "ExpressionAttributeValues": {":a": {"S": "Tolkien"}}});
    println!(
        "| operation | path | n | p50 (µs) | p99 (µs) | mean (µs) | gateway CPU per request (µs) | wake-ups per request |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mean =
        |v: &[Duration]| v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64 * 1e6;
    for (op, body) in [("GetItem", &get), ("Query", &query)] {
        // Warm up every path (connections, schema cache, JIT of dynalite).
        for _ in 0..200 {
            timed(&client, signed(&upstream, &up, op, body)).await;
            for (k, (_, (url, _))) in gateways.iter().enumerate() {
                let creds = if k == bare { &up } else { &session };
                timed(&client, signed(url, creds, op, body)).await;
            }
        }
        let mut direct = Vec::with_capacity(n);
        let mut via: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); gateways.len()];
        let cpu_before: Vec<(u64, u64)> = gateways.iter().map(|(_, (_, t))| cpu_ns(t)).collect();
        for i in 0..n {
            // Rotate which path goes first.
            for k in 0..=gateways.len() {
                let path = (i + k) % (gateways.len() + 1);
                if path == gateways.len() {
                    direct.push(timed(&client, signed(&upstream, &up, op, body)).await);
                } else {
                    let creds = if path == bare { &up } else { &session };
                    let request = signed(&gateways[path].1.0, creds, op, body);
                    via[path].push(timed(&client, request).await);
                }
            }
        }
        let cpu: Vec<(f64, f64)> = gateways
            .iter()
            .zip(&cpu_before)
            .map(|((_, (_, t)), before)| {
                let after = cpu_ns(t);
                (
                    (after.0 - before.0) as f64 / n as f64 / 1e3,
                    (after.1 - before.1) as f64 / n as f64,
                )
            })
            .collect();
        direct.sort();
        println!(
            "| {op} | dynalite direct | {n} | {:.0} | {:.0} | {:.0} | | |",
            percentile(&direct, 0.5),
            percentile(&direct, 0.99),
            mean(&direct)
        );
        for (k, (name, _)) in gateways.iter().enumerate() {
            let v = &mut via[k];
            v.sort();
            println!(
                "| {op} | through {name} | {n} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} |",
                percentile(v, 0.5),
                percentile(v, 0.99),
                mean(v),
                cpu[k].0,
                cpu[k].1
            );
            println!(
                "| {op} | **added by {name}** | | **{:.0}** | **{:.0}** | **{:.0}** | | |",
                percentile(v, 0.5) - percentile(&direct, 0.5),
                percentile(v, 0.99) - percentile(&direct, 0.99),
                mean(v) - mean(&direct)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(child);
}
