//! S3 through the gateway, in front of versitygw (an S3 server over a directory, built by
//! scripts/deps/versitygw.sh) behind a
//! counting TCP relay: unmodified boto3 and aws CLI (`tests/s3_clients.py`), raw signed
//! requests for the refusals (nothing reaches the upstream), and a 1 GiB PUT and GET
//! streamed through the gateway with the process's peak RSS read from /proc.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use irsa_gateway::{Options, UpstreamSection};
use irsa_sts_core::{Credentials, KeyRing, MasterKey, issue_credentials};
use irsa_test::{Versitygw, now, sdk, sigv4};
use serde_json::Value;

use super::{Env as DynamoEnv, python_with_boto3, run_json_client, serve_gateway, session_env};

const UPSTREAM_USER: &str = Versitygw::ACCESS_KEY_ID;
const UPSTREAM_SECRET: &str = Versitygw::SECRET_ACCESS_KEY;

/// A TCP relay in front of `target` (`http://HOST:PORT`) that hands `observe` every chunk
/// it passes towards it, per connection (a fresh observer from `observer` each); its URL.
async fn relay<O>(target: String, observer: impl Fn() -> O + Send + 'static) -> String
where
    O: FnMut(&[u8]) + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let target = target.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let target = target.clone();
            let mut observe = observer();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        observe(&buf[..n]);
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    format!("http://{addr}")
}

/// A TCP relay in front of `target` counting the bytes it passes towards it.
async fn counting_relay(target: String, sent: Arc<AtomicU64>) -> String {
    relay(target, move || {
        let sent = sent.clone();
        move |chunk: &[u8]| {
            sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    })
    .await
}

const CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
roles:
  - name: reader
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}
          Action: sts:AssumeRoleWithWebIdentity
    policies:
      reports:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: s3:GetObject
            Resource: arn:aws:s3:::my-bucket/reports/*
          - Effect: Allow
            Action: s3:ListBucket
            Resource: arn:aws:s3:::my-bucket
            Condition: {StringLike: {"s3:prefix": "reports/*"}}
  - name: writer
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}
          Action: sts:AssumeRoleWithWebIdentity
    policies:
      uploads:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: [s3:PutObject, s3:GetObject, s3:AbortMultipartUpload, s3:ListMultipartUploadParts]
            Resource: arn:aws:s3:::my-bucket/uploads/*
          - Effect: Allow
            Action: s3:ListBucket
            Resource: arn:aws:s3:::my-bucket
            Condition: {StringLike: {"s3:prefix": "uploads/*"}}
signingKeys:
  - file: master.key
gateway:
  upstream:
    url: http://127.0.0.1:9
    accessKeyId: AKIAUNUSEDEXAMPLE000
    secretAccessKey: unused
  s3:
    upstream:
      url: UPSTREAM_URL
      accessKeyId: irsaupstream
      secretAccessKey: irsa-upstream-secret-key
    bucketPolicies:
      my-bucket:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: {AWS: arn:aws:iam::111122223333:role/writer}
            Action: s3:GetObject
            Resource: arn:aws:s3:::my-bucket/uploads/secret*
"#;

struct S3Env {
    _dir: tempfile::TempDir,
    upstream: Versitygw,
    gateway: String,
    ring: KeyRing,
    sent: Arc<AtomicU64>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl S3Env {
    async fn start() -> Option<S3Env> {
        S3Env::start_with(Options {
            request_timeout: Duration::from_secs(300),
            ..Options::default()
        })
        .await
    }

    async fn start_with(options: Options) -> Option<S3Env> {
        let upstream = Versitygw::start()?;
        let sent = Arc::new(AtomicU64::new(0));
        let relay = counting_relay(upstream.url.clone(), sent.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate(&mut rand::rngs::OsRng);
        std::fs::write(dir.path().join("master.key"), key.to_hex()).unwrap();
        let config = dir.path().join("irsa.yaml");
        std::fs::write(&config, CONFIG.replace("UPSTREAM_URL", &relay)).unwrap();
        let gateway = irsa_gateway::from_file_with_s3(
            &config,
            UpstreamSection::default(),
            UpstreamSection::default(),
            Duration::from_secs(30),
            options,
        )
        .unwrap();
        let (addr, tx) = serve_gateway(gateway).await;
        Some(S3Env {
            _dir: dir,
            upstream,
            gateway: format!("http://{addr}"),
            ring: KeyRing::single(key),
            sent,
            _shutdown: tx,
        })
    }

    /// Creates `my-bucket` directly on the upstream.
    async fn upstream_bucket(&self) {
        let url = format!("{}/my-bucket", self.upstream.url);
        let r = s3_send(&upstream_keys(), "PUT", &url, b"").await;
        assert_eq!(r.status, 200, "{}", r.text());
    }

    fn issue(&self, role: &str) -> Credentials {
        let mut claims = DynamoEnv::claims(role, now(), now() + 3600);
        claims.role_arn = format!("arn:aws:iam::111122223333:role/{role}");
        issue_credentials(&self.ring, &claims, &mut rand::rngs::OsRng).unwrap()
    }
}

/// The upstream's own root keys.
fn upstream_keys() -> sigv4::Keys {
    sigv4::Keys {
        access_key_id: UPSTREAM_USER.into(),
        secret_access_key: UPSTREAM_SECRET.into(),
        session_token: None,
    }
}

fn keys(c: &Credentials) -> sigv4::Keys {
    sigv4::Keys {
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: Some(c.session_token.clone()),
    }
}

/// S3's signing settings: the path encoded once, not normalised, `x-amz-content-sha256`.
fn s3_signing<'a>(k: &'a sigv4::Keys) -> sigv4::Signing<'a> {
    sigv4::Signing::s3(k, "us-east-1", SystemTime::now())
}

async fn s3_send(k: &sigv4::Keys, method: &str, url: &str, body: &[u8]) -> irsa_test::net::Reply {
    let s = s3_signing(k);
    let request = sigv4::sign_request(
        &s,
        method,
        url,
        &[],
        sigv4::Payload::Bytes(body),
        Full::new(Bytes::copy_from_slice(body)),
    );
    irsa_test::net::send(request).await
}

/// boto3 and the aws CLI, unmodified: allowed reads return the objects, writes and lists
/// outside the policies are refused with S3's codes, a bucket policy's Deny wins, and the
/// refused writes left nothing upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn boto3_and_the_aws_cli_through_the_gateway() {
    let Some(python) = python_with_boto3() else {
        return;
    };
    let Some(env) = S3Env::start().await else {
        return;
    };
    let aws = python.with_file_name("aws");
    let work = tempfile::tempdir().unwrap();
    let reader = env.issue("reader");
    let writer = env.issue("writer");
    let script = irsa_test::workspace_root().join("crates/irsa-gateway/tests/s3_clients.py");
    let mut vars = session_env(&reader, &writer);
    vars.extend([
        ("GATEWAY".into(), env.gateway.clone()),
        ("UPSTREAM".into(), env.upstream.url.clone()),
        ("UPSTREAM_AKID".into(), UPSTREAM_USER.into()),
        ("UPSTREAM_SECRET".into(), UPSTREAM_SECRET.into()),
        ("AWS_CLI".into(), aws.display().to_string()),
        ("WORK".into(), work.path().display().to_string()),
    ]);
    let r = run_json_client(&python, &[&script], vars, Duration::from_secs(300)).await;
    assert_eq!(r["get"], "region,total\neu,42\n");
    assert_eq!(r["head"], 19);
    assert_eq!(r["list_reports"], serde_json::json!(["reports/q1.csv"]));
    assert_eq!(r["list_private"], "AccessDenied");
    assert_eq!(r["get_private"], "AccessDenied");
    assert_eq!(r["reader_put"], "AccessDenied");
    assert_eq!(r["writer_put"], "ok");
    assert_eq!(r["writer_put_outside"], "AccessDenied");
    assert_eq!(r["writer_put_secret"], "ok");
    assert_eq!(
        r["writer_get_secret"], "AccessDenied",
        "the bucket policy's Deny"
    );
    assert_eq!(r["upload_file"], "ok");
    assert_eq!(r["upload_file_size"], 20 * 1024 * 1024 + 123);
    assert_eq!(
        r["forged_exists"], "404",
        "a refused write reached the upstream"
    );
    assert_eq!(
        r["outside_exists"], "404",
        "a refused write reached the upstream"
    );
    assert_eq!(r["cli_cp"]["rc"], 0, "{}", r["cli_cp"]);
    assert_eq!(r["cli_cp_size"], 20 * 1024 * 1024 + 123);
    assert_eq!(r["cli_ls"]["rc"], 0, "{}", r["cli_ls"]);
    assert!(r["cli_ls"]["out"].as_str().unwrap().contains("q1.csv"));
    assert_ne!(r["cli_ls_private"]["rc"], 0);
    assert!(
        r["cli_ls_private"]["err"]
            .as_str()
            .unwrap()
            .contains("AccessDenied")
    );
    assert_eq!(r["cli_sync"]["rc"], 0, "{}", r["cli_sync"]);
    assert_eq!(
        r["cli_sync_keys"],
        serde_json::json!([
            "uploads/sync/f0.txt",
            "uploads/sync/f1.txt",
            "uploads/sync/f2.txt"
        ])
    );
    assert_eq!(r["presigned_get"]["status"], 200);
    assert_eq!(r["presigned_get"]["body"], "region,total\neu,42\n");
    assert_eq!(r["presigned_private"]["status"], 403);
    assert!(
        r["presigned_private"]["body"]
            .as_str()
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );
    assert_eq!(r["presigned_v2"]["status"], 403, "{}", r["presigned_v2"]);
    assert!(
        r["presigned_v2"]["body"]
            .as_str()
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );
}

/// Refusals answer S3's XML with S3's codes and statuses, and send nothing upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_never_reach_the_upstream() {
    let Some(env) = S3Env::start().await else {
        return;
    };
    let reader = keys(&env.issue("reader"));
    let gw = &env.gateway;
    let cases: Vec<(&str, String, &[u8], u16, &str)> = vec![
        (
            "PUT",
            format!("{gw}/my-bucket/reports/x.csv"),
            b"x",
            403,
            "AccessDenied",
        ),
        (
            "GET",
            format!("{gw}/my-bucket?list-type=2&prefix=private%2F"),
            b"",
            403,
            "AccessDenied",
        ),
        (
            "GET",
            format!("{gw}/my-bucket?list-type=2"),
            b"",
            403,
            "AccessDenied",
        ),
        (
            "GET",
            format!("{gw}/my-bucket/reports/../private/p.csv"),
            b"",
            400,
            "InvalidArgument",
        ),
        (
            "GET",
            format!("{gw}/my-bucket/reports/a?torrent"),
            b"",
            501,
            "NotImplemented",
        ),
        (
            "DELETE",
            format!("{gw}/my-bucket/reports/q1.csv"),
            b"",
            403,
            "AccessDenied",
        ),
    ];
    for (method, url, body, status, code) in cases {
        let before = env.sent.load(Ordering::SeqCst);
        let r = s3_send(&reader, method, &url, body).await;
        assert_eq!(r.status, status, "{method} {url}: {}", r.text());
        assert_eq!(r.xml("Code"), code, "{method} {url}");
        assert!(r.header("x-amz-request-id").is_some());
        assert_eq!(
            env.sent.load(Ordering::SeqCst),
            before,
            "{method} {url} reached the upstream"
        );
    }
    // A tampered body under a signed payload hash, and a signature of another key.
    let before = env.sent.load(Ordering::SeqCst);
    let s = s3_signing(&reader);
    let mut request = sigv4::sign_request(
        &s,
        "GET",
        &format!("{gw}/my-bucket/reports/q1.csv"),
        &[],
        sigv4::Payload::Bytes(b""),
        Full::new(Bytes::new()),
    );
    let auth = request.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let forged = format!("{}0000", &auth[..auth.len() - 4]);
    request
        .headers_mut()
        .insert("authorization", forged.parse().unwrap());
    let r = irsa_test::net::send(request).await;
    assert_eq!(
        (r.status, r.xml("Code").as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // As S3: what the gateway computed, for the client to compare with its own.
    let sts = r.xml("StringToSign");
    assert!(sts.starts_with("AWS4-HMAC-SHA256\n"), "{sts}");
    assert!(sts.contains("/us-east-1/s3/aws4_request\n"), "{sts}");
    let canonical = r.xml("CanonicalRequest");
    assert!(
        canonical.starts_with("GET\n/my-bucket/reports/q1.csv\n"),
        "{canonical}"
    );
    assert!(
        !canonical.contains(reader.session_token.as_deref().unwrap()),
        "the session token is redacted"
    );
    assert_eq!(
        r.xml("SignatureProvided"),
        forged.rsplit_once('=').unwrap().1
    );
    assert_eq!(r.xml("AWSAccessKeyId"), reader.access_key_id);
    assert_eq!(
        r.xml("StringToSignBytes"),
        sts.bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut stranger = reader.clone();
    stranger.session_token = Some("not-a-token".into());
    let r = s3_send(
        &stranger,
        "GET",
        &format!("{gw}/my-bucket/reports/q1.csv"),
        b"",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.xml("Code"), "InvalidToken");
    assert_eq!(env.sent.load(Ordering::SeqCst), before);
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` PUT of `chunks`, each signed in the chain from
/// the request's seed signature; `tamper` flips a byte of that chunk after signing.
async fn chunked_put(
    k: &sigv4::Keys,
    url: &str,
    chunks: &[&[u8]],
    tamper: Option<usize>,
) -> irsa_test::net::Reply {
    let time = SystemTime::now();
    let mut s = s3_signing(k);
    s.time = time;
    let decoded: usize = chunks.iter().map(|c| c.len()).sum();
    let decoded = decoded.to_string();
    let mut body = Vec::new();
    let seed_request = sigv4::sign_request(
        &s,
        "PUT",
        url,
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", decoded.as_str()),
        ],
        sigv4::Payload::Sha256Hex("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        Full::new(Bytes::new()),
    );
    let auth = seed_request.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut prev = auth.rsplit_once("Signature=").unwrap().1.to_owned();
    let amz_date = seed_request.headers()["x-amz-date"]
        .to_str()
        .unwrap()
        .to_owned();
    let scope = format!("{}/us-east-1/s3/aws4_request", &amz_date[..8]);
    let key =
        aws_sigv4::sign::v4::generate_signing_key(&k.secret_access_key, time, "us-east-1", "s3");
    let empty = sha256_hex(b"");
    let mut all: Vec<&[u8]> = chunks.to_vec();
    all.push(b"");
    for (i, chunk) in all.iter().enumerate() {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{empty}\n{}",
            sha256_hex(chunk)
        );
        let sig = aws_sigv4::sign::v4::calculate_signature(&key, sts.as_bytes());
        body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        let mut data = chunk.to_vec();
        if tamper == Some(i) {
            data[0] ^= 1;
        }
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n");
        prev = sig;
    }
    let (mut parts, _) = seed_request.into_parts();
    parts.headers.insert("content-length", body.len().into());
    irsa_test::net::send(http::Request::from_parts(
        parts,
        Full::new(Bytes::from(body)),
    ))
    .await
}

/// Signed `aws-chunked` bodies: a good one is stored; a tampered chunk is refused with
/// `SignatureDoesNotMatch` and, when it is the first, the upstream receives nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_chunks_are_verified_before_they_go_on() {
    let Some(env) = S3Env::start().await else {
        return;
    };
    let up = upstream_keys();
    env.upstream_bucket().await;
    let writer = keys(&env.issue("writer"));
    let url = format!("{}/my-bucket/uploads/chunked.txt", env.gateway);
    // S3: every chunk but the last at least 8 KiB.
    let first = vec![b'h'; 8192];
    let r = chunked_put(&writer, &url, &[&first, b"chunked world"], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3_send(&writer, "GET", &url, b"").await;
    assert_eq!(r.body.len(), 8192 + 13);
    assert!(r.text().ends_with("hchunked world"));
    let before = env.sent.load(Ordering::SeqCst);
    let url = format!("{}/my-bucket/uploads/tampered.txt", env.gateway);
    let r = chunked_put(&writer, &url, &[&first, b"tail"], Some(0)).await;
    assert_eq!(
        (r.status, r.xml("Code").as_str()),
        (403, "SignatureDoesNotMatch"),
        "{}",
        r.text()
    );
    assert_eq!(
        env.sent.load(Ordering::SeqCst),
        before,
        "a tampered chunk reached the upstream"
    );
    let r = chunked_put(&writer, &url, &[&first, b"evil"], Some(1)).await;
    assert_eq!(
        (r.status, r.xml("Code").as_str()),
        (403, "SignatureDoesNotMatch"),
        "{}",
        r.text()
    );
    let r = s3_send(
        &up,
        "HEAD",
        &format!("{}/my-bucket/uploads/tampered.txt", env.upstream.url),
        b"",
    )
    .await;
    assert_eq!(r.status, 404, "the upstream stored a tampered upload");
}

/// The peak resident set of this process, from /proc (kB → bytes).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// 1 GiB PUT and GET through the gateway (in this process) stream: the process's peak
/// RSS stays under 100 MiB. Run in a process of its own (this test binary, this test
/// only), so that the other tests' memory is not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gibibyte_streams_through_with_bounded_memory() {
    const SIZE: u64 = 1 << 30;
    const PIECE: usize = 256 * 1024;
    const ALONE: &str = "IRSA_GATEWAY_TEST_ALONE";
    const NAME: &str = "s3::a_gibibyte_streams_through_with_bounded_memory";
    if std::env::var_os(ALONE).is_none() {
        let run = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([NAME, "--exact", "--nocapture", "--test-threads", "1"])
            .env(ALONE, "1")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(600), run)
            .await
            .expect("the test finishes within 600 s")
            .unwrap();
        assert!(
            out.status.success(),
            "{NAME} failed alone:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        return;
    }
    let Some(env) = S3Env::start().await else {
        return;
    };
    // The bucket, made directly.
    env.upstream_bucket().await;
    let writer = keys(&env.issue("writer"));
    let url = format!("{}/my-bucket/uploads/gib.bin", env.gateway);
    let mut s = s3_signing(&writer);
    s.settings.payload_checksum_kind = sigv4::PayloadChecksumKind::XAmzSha256;
    let piece = Bytes::from(vec![0x5a_u8; PIECE]);
    let pieces = (SIZE as usize) / PIECE;
    let stream =
        futures_util::stream::iter((0..pieces).map(move |_| {
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(piece.clone()))
        }));
    let size = SIZE.to_string();
    let request = sigv4::sign_request(
        &s,
        "PUT",
        &url,
        &[("content-length", size.as_str())],
        sigv4::Payload::Unsigned,
        StreamBody::new(stream),
    );
    let client: hyper_util::client::legacy::Client<_, StreamBody<_>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let response = tokio::time::timeout(Duration::from_secs(300), client.request(request))
        .await
        .expect("the PUT finishes within 300 s")
        .unwrap();
    let status = response.status();
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));

    let s = s3_signing(&writer);
    let request = sigv4::sign_request(
        &s,
        "GET",
        &url,
        &[],
        sigv4::Payload::Bytes(b""),
        Full::new(Bytes::new()),
    );
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = 0u64;
    let read = async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                assert!(data.iter().all(|b| *b == 0x5a));
                received += data.len() as u64;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(300), read)
        .await
        .expect("the GET finishes within 300 s");
    assert_eq!(received, SIZE);
    let peak = peak_rss();
    eprintln!("peak RSS after 1 GiB PUT + GET: {} MiB", peak >> 20);
    assert!(peak < 100 << 20, "peak RSS {} MiB", peak >> 20);
}

/// A TCP relay in front of `target` that records the `x-amz-content-sha256` values of the
/// requests passing through (a hex hash recorded as `sha256`): which payload mode each
/// unmodified client chose.
async fn sniffing_relay(target: String) -> (String, Arc<std::sync::Mutex<BTreeSet<String>>>) {
    const NEEDLE: &[u8] = b"\r\nx-amz-content-sha256:";
    let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let record = seen.clone();
    let url = relay(target, move || {
        let record = record.clone();
        // The last bytes of the previous read: a header split across reads.
        let mut window: Vec<u8> = Vec::new();
        move |chunk: &[u8]| {
            window.extend_from_slice(chunk);
            let lower = window.to_ascii_lowercase();
            let mut at = 0;
            while let Some(i) = lower[at..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
                let start = at + i + NEEDLE.len();
                let Some(end) = lower[start..].windows(2).position(|w| w == b"\r\n") else {
                    break;
                };
                let value = String::from_utf8_lossy(&window[start..start + end])
                    .trim()
                    .to_owned();
                let value = if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
                    "sha256".to_owned()
                } else {
                    value
                };
                record.lock().unwrap().insert(value);
                at = start + end;
            }
            let keep = window.len().min(128);
            window.drain(..window.len() - keep);
        }
    })
    .await;
    (url, seen)
}

/// The bucket and the objects the clients read, made directly on the upstream.
async fn seed(env: &S3Env) {
    let up = upstream_keys();
    let base = &env.upstream.url;
    for (url, body) in [
        (format!("{base}/my-bucket"), &b""[..]),
        (
            format!("{base}/my-bucket/reports/q1.csv"),
            b"region,total\neu,42\n",
        ),
        (format!("{base}/my-bucket/private/payroll.csv"), b"secret"),
    ] {
        let r = s3_send(&up, "PUT", &url, body).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
    }
}

/// Whether the upstream's access log shows a request whose line contains `needle`.
fn upstream_saw(env: &S3Env, needle: &str) -> bool {
    env.upstream.requests().iter().any(|l| l.contains(needle))
}

/// Reads only what it is shown: the method, URI and payload mode of each request the SDK
/// sends (the SDK itself is unmodified).
#[derive(Debug)]
struct Recorder(Arc<std::sync::Mutex<Vec<String>>>);

impl aws_sdk_s3::config::Intercept for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn read_before_transmit(
        &self,
        ctx: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_s3::config::RuntimeComponents,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let r = ctx.request();
        let mode = r.headers().get("x-amz-content-sha256").unwrap_or("");
        let line = format!("{} {} {mode}", r.method(), r.uri());
        self.0.lock().unwrap().push(line);
        Ok(())
    }
}

fn rust_client(
    env: &S3Env,
    c: &Credentials,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
) -> aws_sdk_s3::Client {
    rust_client_at(&env.gateway, None, c, seen)
}

/// An aws-sdk-s3 client of `endpoint`; for `https`, trusting `ca_pem` only.
fn rust_client_at(
    endpoint: &str,
    ca_pem: Option<&str>,
    c: &Credentials,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
) -> aws_sdk_s3::Client {
    let creds = sdk::credentials(
        &c.access_key_id,
        &c.secret_access_key,
        Some(&c.session_token),
    );
    let conf = sdk::s3_config(endpoint, creds).interceptor(Recorder(seen));
    let conf = match ca_pem {
        Some(pem) => {
            use aws_smithy_http_client::tls;
            let context = tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_pem_certificate(pem.as_bytes()))
                .build()
                .unwrap();
            conf.http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::AwsLc,
                    ))
                    .tls_context(context)
                    .build_https(),
            )
        }
        None => conf,
    };
    aws_sdk_s3::Client::from_conf(conf.build())
}

/// A file `upload.bin` in `dir` of `len` bytes counting modulo `modulo`; its path and bytes.
fn patterned_file(dir: &std::path::Path, len: u32, modulo: u32) -> (std::path::PathBuf, Vec<u8>) {
    let file = dir.join("upload.bin");
    let data: Vec<u8> = (0..len).map(|i| (i % modulo) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    (file, data)
}

/// PutObject of `my-bucket/key` with `client`, the body streamed from `file` (with the SDK's
/// default checksums).
async fn put_file(
    client: &aws_sdk_s3::Client,
    key: &str,
    file: &std::path::Path,
) -> Result<
    aws_sdk_s3::operation::put_object::PutObjectOutput,
    aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::put_object::PutObjectError>,
> {
    client
        .put_object()
        .bucket("my-bucket")
        .key(key)
        .body(
            aws_sdk_s3::primitives::ByteStream::from_path(file)
                .await
                .unwrap(),
        )
        .send()
        .await
}

fn code_of<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    r: Result<impl std::fmt::Debug, E>,
) -> String {
    match r {
        Ok(v) => format!("allowed: {v:?}"),
        Err(e) => e.code().unwrap_or("no code").to_owned(),
    }
}

/// aws-sdk-rust, unmodified: PutObject with its default checksums (a streamed body: the
/// aws-chunked encoding with a trailing CRC32, every chunk signed over plain HTTP), GetObject
/// and ListObjectsV2 allowed; a write outside the policy and a list outside the prefix
/// refused with `AccessDenied`, and the upstream received nothing of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_sdk_rust_through_the_gateway() {
    use aws_sdk_s3::primitives::ByteStream;
    let Some(env) = S3Env::start().await else {
        return;
    };
    seed(&env).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = rust_client(&env, &env.issue("reader"), seen.clone());
    let writer = rust_client(&env, &env.issue("writer"), seen.clone());

    assert_eq!(
        sdk::object(&reader, "my-bucket", "reports/q1.csv").await,
        b"region,total\neu,42\n"
    );
    assert_eq!(
        sdk::keys(&reader, "my-bucket", "reports/").await,
        ["reports/q1.csv"]
    );

    // A streamed body (a file) of 3 chunks of the SDK's 64 KiB and a tail.
    let work = tempfile::tempdir().unwrap();
    let (file, data) = patterned_file(work.path(), 200_000, 251);
    put_file(&writer, "uploads/rust.bin", &file).await.unwrap();
    let put_mode = seen
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.starts_with("PUT ") && l.contains("/uploads/rust.bin"))
        .cloned()
        .unwrap();
    assert!(
        put_mode.ends_with(" STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
        "{put_mode}"
    );
    assert_eq!(
        sdk::object(&writer, "my-bucket", "uploads/rust.bin").await,
        data
    );
    // An in-memory body: the CRC32 in a header, the payload's SHA-256 signed.
    writer
        .put_object()
        .bucket("my-bucket")
        .key("uploads/rust.txt")
        .body(ByteStream::from_static(b"from rust"))
        .send()
        .await
        .unwrap();
    assert!(upstream_saw(&env, "s3_PutObject uploads/rust.txt"));

    let before = env.sent.load(Ordering::SeqCst);
    let refused = put_file(&writer, "reports/rust.bin", &file).await;
    assert_eq!(code_of(refused), "AccessDenied");
    let refused = writer
        .put_object()
        .bucket("my-bucket")
        .key("reports/rust.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(code_of(refused), "AccessDenied");
    let refused = reader
        .list_objects_v2()
        .bucket("my-bucket")
        .prefix("private/")
        .send()
        .await;
    assert_eq!(code_of(refused), "AccessDenied");
    let refused = reader
        .get_object()
        .bucket("my-bucket")
        .key("private/payroll.csv")
        .send()
        .await;
    assert_eq!(code_of(refused), "AccessDenied");
    assert_eq!(
        env.sent.load(Ordering::SeqCst),
        before,
        "a refused request reached the upstream"
    );
    assert!(!upstream_saw(&env, "reports/rust"));
    assert!(!upstream_saw(&env, "prefix=private"));
}

/// Runs an unmodified SDK's client program (`program args…`) against the gateway through
/// a relay that records the payload modes it sends; its JSON outcome and those modes.
async fn run_sdk_client(
    env: &S3Env,
    program: &std::path::Path,
    args: &[&std::path::Path],
    big: usize,
) -> (Value, BTreeSet<String>) {
    let (url, modes) = sniffing_relay(env.gateway.clone()).await;
    let reader = env.issue("reader");
    let writer = env.issue("writer");
    let mut vars = session_env(&reader, &writer);
    vars.extend([
        ("GATEWAY".into(), url),
        ("BIG_SIZE".into(), big.to_string()),
    ]);
    let r = run_json_client(program, args, vars, Duration::from_secs(180)).await;
    let modes = modes.lock().unwrap().clone();
    eprintln!("payload modes: {modes:?}");
    (r, modes)
}

/// What every SDK client program must show: allowed reads and writes done, the refused
/// ones answered `AccessDenied` with nothing of them reaching the upstream.
fn check_sdk_outcome(env: &S3Env, r: &Value, sdk: &str) {
    assert_eq!(r["get"], "region,total\neu,42\n", "{sdk}");
    assert_eq!(
        r["list_reports"],
        serde_json::json!(["reports/q1.csv"]),
        "{sdk}"
    );
    assert_eq!(r["list_private"], "AccessDenied", "{sdk}");
    assert_eq!(r["put"], "ok", "{sdk}");
    assert_eq!(r["put_outside"], "AccessDenied", "{sdk}");
    assert_eq!(r["upload"], "ok", "{sdk}");
    assert_eq!(r["upload_back"], "same", "{sdk}");
    assert_eq!(r["upload_outside"], "AccessDenied", "{sdk}");

    assert!(upstream_saw(
        env,
        &format!("s3_PutObject uploads/{sdk}.txt")
    ));
    assert!(upstream_saw(
        env,
        &format!("s3_CompleteMultipartUpload uploads/{sdk}-big.bin")
    ));
    assert!(
        !upstream_saw(env, &format!("reports/{sdk}")),
        "a refused write reached the upstream: {:#?}",
        env.upstream.requests()
    );
    assert!(
        !upstream_saw(env, "prefix=private"),
        "a refused list reached the upstream"
    );
}

/// aws-sdk-go-v2, unmodified: GetObject, ListObjectsV2, PutObject and feature/s3/manager's
/// upload manager (multipart, 5 MiB parts, two at a time) through the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_sdk_go_v2_through_the_gateway() {
    let Some(bin) = irsa_test::external(
        ".cache/sts-clients/sdk-go-s3-client",
        "aws-sdk-go-v2 S3 client",
        "scripts/deps/sts-clients.sh",
    ) else {
        return;
    };
    let Some(env) = S3Env::start().await else {
        return;
    };
    seed(&env).await;
    let (r, modes) = run_sdk_client(&env, &bin, &[], 12 * 1024 * 1024 + 7).await;
    check_sdk_outcome(&env, &r, "go");
    // Over plain HTTP the Go SDK signs the payload's SHA-256 (it streams aws-chunked with
    // a trailing checksum over TLS only, and refuses unseekable bodies over HTTP).
    assert!(modes.contains("sha256"), "{modes:?}");
}

/// aws-sdk-js-v3, unmodified: @aws-sdk/client-s3 GetObject, ListObjectsV2, PutObject and
/// @aws-sdk/lib-storage's Upload (multipart from a stream) through the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_sdk_js_v3_through_the_gateway() {
    let root = irsa_test::workspace_root();
    if irsa_test::external(
        "tools/sdk-js/node_modules/@aws-sdk/lib-storage",
        "@aws-sdk/lib-storage",
        "scripts/deps/sts-clients.sh",
    )
    .is_none()
    {
        return;
    }
    let Some(node) = irsa_test::program("node", "scripts/deps/node.sh") else {
        return;
    };
    let Some(env) = S3Env::start().await else {
        return;
    };
    seed(&env).await;
    let script = root.join("tools/sdk-js/s3-client.mjs");
    let (r, modes) = run_sdk_client(&env, &node, &[&script], 12 * 1024 * 1024 + 7).await;
    check_sdk_outcome(&env, &r, "js");
    // A stream body: aws-chunked with a trailing CRC32, in HTTP chunked encoding; the one
    // outside the policy refused before its body went anywhere.
    assert!(
        modes.contains("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        "{modes:?}"
    );
    assert_eq!(r["put_stream"], "ok");
    assert_eq!(r["put_stream_outside"], "AccessDenied");
    assert!(upstream_saw(&env, "s3_PutObject uploads/js-stream.txt"));
}

/// A request's head as HTTP/1.1 text (the body not included).
fn head_text<B>(request: &http::Request<B>) -> String {
    let uri = request.uri();
    let mut text = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\n",
        request.method(),
        uri.path_and_query().map_or("/", |p| p.as_str()),
        uri.authority().unwrap()
    );
    for (n, v) in request.headers() {
        if n != "host" {
            text.push_str(&format!("{n}: {}\r\n", v.to_str().unwrap()));
        }
    }
    text.push_str("\r\n");
    text
}

/// Reads one answer's head and body (`Content-Length` framed) from `s`.
async fn read_answer(s: &mut tokio::net::TcpStream) -> (u16, String, String) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let read = async {
        loop {
            let mut piece = [0u8; 4096];
            let n = s.read(&mut piece).await.unwrap();
            buf.extend_from_slice(&piece[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length || n == 0 {
                    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                    return (status, head.to_owned(), body.to_owned());
                }
            }
            assert!(n > 0, "closed before an answer: {text}");
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("answered within 30 s")
}

/// The limits answer S3 requests in S3's form: past the concurrency limit `SlowDown`
/// (503) at once, past the deadline `RequestTimeout` (400), both S3's XML; a DynamoDB
/// request on the same listener still gets DynamoDB's `ThrottlingException`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_s3_in_s3s_form() {
    use tokio::io::AsyncWriteExt;
    let Some(env) = S3Env::start_with(Options {
        max_concurrency: 1,
        request_timeout: Duration::from_secs(2),
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let writer = keys(&env.issue("writer"));
    // Allowed, then held waiting for a body that never comes.
    let s = s3_signing(&writer);
    let held = sigv4::sign_request(
        &s,
        "PUT",
        &format!("{}/my-bucket/uploads/held.txt", env.gateway),
        &[("content-length", "100")],
        sigv4::Payload::Unsigned,
        Full::new(Bytes::new()),
    );
    let addr = env.gateway.trim_start_matches("http://").to_owned();
    let mut first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    first.write_all(head_text(&held).as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let r = s3_send(
        &writer,
        "GET",
        &format!("{}/my-bucket/uploads/a.txt", env.gateway),
        b"",
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.xml("Code"), "SlowDown");
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(r.header("x-amz-request-id").is_some());
    // Refused by the limits before authentication: any signature will do.
    let ddb = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", env.gateway))
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let r = irsa_test::net::send(ddb).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("ThrottlingException"), "{}", r.text());

    let (status, head, body) = read_answer(&mut first).await;
    assert_eq!(status, 400, "{head}\n{body}");
    assert_eq!(irsa_test::net::xml_text(&body, "Code"), "RequestTimeout");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/xml")
    );
}

/// A TLS-terminating relay in front of `target` (a self-signed certificate for
/// 127.0.0.1): its `https` URL and the certificate's PEM.
async fn tls_relay(target: String) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let target = target.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (format!("https://{addr}"), cert.pem())
}

/// aws-sdk-rust over TLS (a relay terminates it in front of the gateway): PutObject with
/// its default checksums streams a file as `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (aws-chunked,
/// unsigned chunks, a trailing CRC32), which the gateway verifies and forwards; the same
/// outside the policy is refused and reaches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_sdk_rust_over_tls_streams_unsigned_trailers() {
    let Some(env) = S3Env::start().await else {
        return;
    };
    seed(&env).await;
    let (url, ca) = tls_relay(env.gateway.clone()).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = rust_client_at(&url, Some(&ca), &env.issue("writer"), seen.clone());
    let work = tempfile::tempdir().unwrap();
    let (file, data) = patterned_file(work.path(), 150_000, 249);
    put_file(&writer, "uploads/tls.bin", &file).await.unwrap();
    let mode = seen.lock().unwrap().last().cloned().unwrap();
    assert!(
        mode.ends_with(" STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        "{mode}"
    );
    assert_eq!(
        sdk::object(&writer, "my-bucket", "uploads/tls.bin").await,
        data
    );
    let before = env.sent.load(Ordering::SeqCst);
    let refused = put_file(&writer, "reports/tls.bin", &file).await;
    assert_eq!(code_of(refused), "AccessDenied");
    assert_eq!(env.sent.load(Ordering::SeqCst), before);
    assert!(!upstream_saw(&env, "reports/tls.bin"));
}
