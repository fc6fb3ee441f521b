//! The latency the gateway adds: the same signed DynamoDB requests sent to dynalite directly
//! and through the gateway (dynalite as its upstream), interleaved in one run, over
//! keep-alive connections. Client-side signing is outside the timed section. Three gateways
//! run side by side, each on its own runtime(s) and threads: one on a single-threaded
//! runtime per core accepting on one listener (`irsa_server::serve_threads`, as `irsa
//! gateway` runs), one on a multi-threaded runtime of two workers (work stealing, for
//! comparison), one on a single single-threaded runtime; the CPU time of each gateway's threads (`/proc/self/task/TID/schedstat`) over
//! the timed requests gives its own CPU per request.
//!
//! Needs dynalite (scripts/deps/gateway.sh). Run: `scripts/bench-gateway.sh`
//! (= `cargo bench -p irsa-gateway --bench gateway`); `IRSA_GATEWAY_BENCH_N` sets the
//! number of timed requests per path and operation (default 2000).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use irsa_gateway::{Options, UpstreamSection};
use irsa_sts_core::{KeyRing, MasterKey, issue_credentials};
use irsa_test::bench::{
    Shape, Threads, env_usize, mean_us, percentile_us, spawn_server, spawn_server_shaped,
};
use irsa_test::sigv4::{Keys, Payload, Signing, sign_request};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// `op` with `body`, signed by the AWS SDK's signer with `keys` for `url`.
fn signed(url: &str, keys: &Keys, op: &str, body: &Value) -> http::Request<Full<Bytes>> {
    let body = serde_json::to_vec(body).unwrap();
    let target = format!("DynamoDB_20120810.{op}");
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", target.as_str()),
    ];
    let signing = Signing::new(keys, "us-east-1", "dynamodb", SystemTime::now());
    sign_request(
        &signing,
        "POST",
        &format!("{url}/"),
        &headers,
        Payload::Bytes(&body),
        Full::new(Bytes::from(body.clone())),
    )
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

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// Serves `gateway` on its own runtime(s) in its own threads, in the runtime shape `shape`.
/// Returns its URL and its serving threads.
fn spawn_gateway(
    gateway: std::sync::Arc<irsa_gateway::Gateway>,
    shape: Shape,
) -> (String, Threads) {
    let name = match shape {
        Shape::Multi(_) => "gw-multi",
        Shape::Current => "gw-single",
        Shape::PerCore(_) => "gw-percore",
    };
    spawn_server_shaped(name, shape, move |listener| {
        irsa_gateway::serve(listener, gateway.clone(), std::future::pending())
    })
}

/// The floor of any proxy on this machine: the same runtime, listener (irsa-server) and
/// upstream client (hyper, keep-alive), forwarding each request unchanged and streaming the
/// answer back, with nothing verified, parsed or re-signed.
fn spawn_bare_proxy(upstream: String) -> (String, Threads) {
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

/// dynalite on a free port of 127.0.0.1 (killed when the child is dropped), its URL.
async fn start_dynalite() -> (tokio::process::Child, String) {
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
    (child, format!("http://127.0.0.1:{port}"))
}

/// The table `Books` with ten items of 0.4 KB by one author.
async fn seed(client: &HttpClient, upstream: &str, up: &Keys) {
    let create = json!({"TableName": "Books",
        "AttributeDefinitions": [{"AttributeName": "Author", "AttributeType": "S"},
                                 {"AttributeName": "Title", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "Author", "KeyType": "HASH"},
                      {"AttributeName": "Title", "KeyType": "RANGE"}],
        "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}});
    timed(client, signed(upstream, up, "CreateTable", &create)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..10 {
        let put = json!({"TableName": "Books", "Item": {
            "Author": {"S": "Tolkien"}, "Title": {"S": format!("Book {i}")},
            "Body": {"S": "x".repeat(400)}}});
        timed(client, signed(upstream, up, "PutItem", &put)).await;
    }
}

/// The gateway's configuration file in `dir`: a role that may read `Books` rows of
/// `Tolkien` only (`dynamodb:LeadingKeys`), the upstream's credentials; and session
/// credentials of that role, as `irsa sts` issues them.
fn configure(dir: &Path, upstream: &str) -> (std::path::PathBuf, Keys) {
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
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let claims =
        irsa_test::sts::session_claims("arn:aws:iam::111122223333:role/reader", now, now + 3600);
    let issued = issue_credentials(&KeyRing::single(key), &claims, &mut rand::rngs::OsRng).unwrap();
    let session = Keys {
        access_key_id: issued.access_key_id.clone(),
        secret_access_key: issued.secret_access_key.clone(),
        session_token: Some(issued.session_token.clone()),
    };
    (config, session)
}

/// A path to dynalite through a server: its name, URL, threads, and whether it forwards
/// unchanged (then it gets requests signed for the upstream).
struct Via {
    name: &'static str,
    url: String,
    threads: Threads,
    bare: bool,
}

async fn run() {
    let n = env_usize("IRSA_GATEWAY_BENCH_N", 2000);
    let (child, upstream) = start_dynalite().await;
    let up = Keys {
        access_key_id: "AKIAUPSTREAMEXAMPLE1".into(),
        secret_access_key: "upstream-secret".into(),
        session_token: None,
    };
    let client: HttpClient = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    seed(&client, &upstream, &up).await;

    let dir = std::env::temp_dir().join(format!("irsa-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (config, session) = configure(&dir, &upstream);
    let gateway = || {
        irsa_gateway::from_file(
            &config,
            UpstreamSection::default(),
            Duration::from_secs(10),
            Options::default(),
        )
        .unwrap()
    };
    let via = |name, (url, threads), bare| Via {
        name,
        url,
        threads,
        bare,
    };
    let paths = [
        via(
            "gateway, 1 thread per core",
            spawn_gateway(gateway(), Shape::PerCore(0)),
            false,
        ),
        via(
            "gateway, 2 workers",
            spawn_gateway(gateway(), Shape::Multi(2)),
            false,
        ),
        via(
            "gateway, 1 thread",
            spawn_gateway(gateway(), Shape::Current),
            false,
        ),
        via(
            "bare proxy, 1 thread",
            spawn_bare_proxy(upstream.clone()),
            true,
        ),
    ];

    let get = json!({"TableName": "Books", "Key": {"Author": {"S": "Tolkien"}, "Title": {"S": "Book 3"}}});
    let query = json!({"TableName": "Books", "KeyConditionExpression": "Author = :a",
                       "ExpressionAttributeValues": {":a": {"S": "Tolkien"}}});
    println!(
        "| operation | path | n | p50 (µs) | p99 (µs) | mean (µs) | gateway CPU per request (µs) | wake-ups per request |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (op, body) in [("GetItem", &get), ("Query", &query)] {
        let run = Run {
            client: &client,
            upstream: &upstream,
            up: &up,
            session: &session,
            paths: &paths,
            op,
            body,
        };
        run.measure(n).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(child);
}

/// One operation sent over every path.
struct Run<'a> {
    client: &'a HttpClient,
    upstream: &'a str,
    up: &'a Keys,
    session: &'a Keys,
    paths: &'a [Via],
    op: &'a str,
    body: &'a Value,
}

impl Run<'_> {
    /// The request for path `k` (`None`: dynalite directly).
    fn request(&self, k: Option<usize>) -> http::Request<Full<Bytes>> {
        match k.map(|k| &self.paths[k]) {
            None => signed(self.upstream, self.up, self.op, self.body),
            Some(p) if p.bare => signed(&p.url, self.up, self.op, self.body),
            Some(p) => signed(&p.url, self.session, self.op, self.body),
        }
    }

    /// Warms every path up (connections, schema cache, dynalite's JIT), then times `n`
    /// rounds over all paths, the order rotated; prints a row per path.
    async fn measure(&self, n: usize) {
        let paths = self.paths.len();
        for _ in 0..200 {
            for k in 0..=paths {
                timed(self.client, self.request((k < paths).then_some(k))).await;
            }
        }
        let mut direct = Vec::with_capacity(n);
        let mut via: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); paths];
        let cpu_before: Vec<_> = self.paths.iter().map(|p| p.threads.cpu()).collect();
        for i in 0..n {
            for k in 0..=paths {
                let path = (i + k) % (paths + 1);
                let request = self.request((path < paths).then_some(path));
                let t = timed(self.client, request).await;
                match via.get_mut(path) {
                    Some(v) => v.push(t),
                    None => direct.push(t),
                }
            }
        }
        let op = self.op;
        direct.sort();
        println!(
            "| {op} | dynalite direct | {n} | {:.0} | {:.0} | {:.0} | | |",
            percentile_us(&direct, 0.5),
            percentile_us(&direct, 0.99),
            mean_us(&direct)
        );
        for ((p, v), before) in self.paths.iter().zip(&mut via).zip(&cpu_before) {
            let after = p.threads.cpu();
            let cpu_us = (after.ns - before.ns) as f64 / n as f64 / 1e3;
            let wakeups = (after.wakeups - before.wakeups) as f64 / n as f64;
            v.sort();
            let name = p.name;
            println!(
                "| {op} | through {name} | {n} | {:.0} | {:.0} | {:.0} | {cpu_us:.0} | {wakeups:.1} |",
                percentile_us(v, 0.5),
                percentile_us(v, 0.99),
                mean_us(v),
            );
            println!(
                "| {op} | **added by {name}** | | **{:.0}** | **{:.0}** | **{:.0}** | | |",
                percentile_us(v, 0.5) - percentile_us(&direct, 0.5),
                percentile_us(v, 0.99) - percentile_us(&direct, 0.99),
                mean_us(v) - mean_us(&direct)
            );
        }
    }
}
