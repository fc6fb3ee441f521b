//! S3 through the gateway, in front of MinIO (built by scripts/deps/minio.sh) behind a
//! counting TCP relay: unmodified boto3 and aws CLI (`tests/s3_clients.py`), raw signed
//! requests for the refusals (nothing reaches the upstream), and a 1 GiB PUT and GET
//! streamed through the gateway with the process's peak RSS read from /proc.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use irsa_gateway::{Options, UpstreamSection};
use irsa_sts_core::credentials::{self, Credentials, KeyRing, MasterKey};
use irsa_test::{now, sigv4};
use serde_json::Value;

use super::{Env as DynamoEnv, python_with_boto3};

const MINIO_USER: &str = "irsaupstream";
const MINIO_SECRET: &str = "irsa-upstream-secret-key";

/// MinIO on an ephemeral port of 127.0.0.1 with its data in a temporary folder; killed
/// when dropped.
struct Minio {
    url: String,
    child: std::process::Child,
    _data: tempfile::TempDir,
}

impl Drop for Minio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Minio {
    fn start() -> Option<Minio> {
        let bin = irsa_test::external(".cache/minio/minio", "MinIO", "scripts/deps/minio.sh")?;
        let data = tempfile::tempdir().unwrap();
        let port = irsa_test::free_port();
        let console = irsa_test::free_port();
        let child = std::process::Command::new(bin)
            .args(["server", "--quiet", "--address"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--console-address")
            .arg(format!("127.0.0.1:{console}"))
            .arg(data.path())
            .env("MINIO_ROOT_USER", MINIO_USER)
            .env("MINIO_ROOT_PASSWORD", MINIO_SECRET)
            .env("MINIO_BROWSER", "off")
            .env("MINIO_UPDATE", "off")
            .env("HOME", data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("MinIO starts");
        irsa_test::wait_for_port(
            format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_secs(30),
        );
        Some(Minio {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _data: data,
        })
    }
}

/// A TCP relay in front of `target` counting the bytes it passes towards it.
async fn counting_relay(target: String, sent: Arc<AtomicU64>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let target = target.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let target = target.clone();
            let sent = sent.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        sent.fetch_add(n as u64, Ordering::SeqCst);
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut sw).await;
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
    minio: Minio,
    gateway: String,
    ring: KeyRing,
    sent: Arc<AtomicU64>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl S3Env {
    async fn start() -> Option<S3Env> {
        let minio = Minio::start()?;
        // Listening is not ready: wait (bounded) until MinIO says so.
        let ready = format!("{}/minio/health/ready", minio.url);
        for _ in 0..150 {
            if irsa_test::net::try_get(&ready)
                .await
                .is_ok_and(|r| r.status == 200)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sent = Arc::new(AtomicU64::new(0));
        let relay = counting_relay(minio.url.clone(), sent.clone()).await;
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
            Options {
                request_timeout: Duration::from_secs(300),
                ..Options::default()
            },
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(irsa_gateway::serve(listener, gateway, async {
            let _ = rx.await;
        }));
        Some(S3Env {
            _dir: dir,
            minio,
            gateway: format!("http://{addr}"),
            ring: KeyRing::single(key),
            sent,
            _shutdown: tx,
        })
    }

    fn issue(&self, role: &str) -> Credentials {
        let mut claims = DynamoEnv::claims(role, now(), now() + 3600);
        claims.role_arn = format!("arn:aws:iam::111122223333:role/{role}");
        credentials::issue(&self.ring, &claims, &mut rand::rngs::OsRng).unwrap()
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
    let mut s = sigv4::Signing::new(k, "us-east-1", "s3", SystemTime::now());
    s.settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    s.settings.uri_path_normalization_mode =
        aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    s.settings.payload_checksum_kind = sigv4::PayloadChecksumKind::XAmzSha256;
    s
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
/// refused writes left nothing in MinIO.
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
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .env("GATEWAY", &env.gateway)
        .env("UPSTREAM", &env.minio.url)
        .env("UPSTREAM_AKID", MINIO_USER)
        .env("UPSTREAM_SECRET", MINIO_SECRET)
        .env("READER_AKID", &reader.access_key_id)
        .env("READER_SECRET", &reader.secret_access_key)
        .env("READER_TOKEN", &reader.session_token)
        .env("WRITER_AKID", &writer.access_key_id)
        .env("WRITER_SECRET", &writer.secret_access_key)
        .env("WRITER_TOKEN", &writer.session_token)
        .env("AWS_CLI", &aws)
        .env("WORK", work.path())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), output)
        .await
        .expect("the clients finish within 300 s")
        .unwrap();
    assert!(output.status.success(), "s3_clients.py failed");
    let r: Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("{r:#}");
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
    assert_eq!(r["forged_exists"], "404", "a refused write reached MinIO");
    assert_eq!(r["outside_exists"], "404", "a refused write reached MinIO");
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
            "{method} {url} reached MinIO"
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
    let seed_request = {
        let identity: aws_smithy_runtime_api::client::identity::Identity =
            aws_credential_types::Credentials::new(
                k.access_key_id.clone(),
                k.secret_access_key.clone(),
                k.session_token.clone(),
                None,
                "test",
            )
            .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(time)
            .settings(s.settings.clone())
            .build()
            .unwrap()
            .into();
        let headers = [
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", decoded.as_str()),
        ];
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "PUT",
            url,
            headers.iter().copied(),
            aws_sigv4::http_request::SignableBody::Precomputed(
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into(),
            ),
        )
        .unwrap();
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .unwrap()
            .into_parts();
        let mut builder = http::Request::builder().method("PUT").uri(url);
        for (n, v) in headers {
            builder = builder.header(n, v);
        }
        let mut request = builder.body(Full::new(Bytes::new())).unwrap();
        instructions.apply_to_request_http1x(&mut request);
        request
    };
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
    let up = sigv4::Keys {
        access_key_id: MINIO_USER.into(),
        secret_access_key: MINIO_SECRET.into(),
        session_token: None,
    };
    let r = s3_send(&up, "PUT", &format!("{}/my-bucket", env.minio.url), b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
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
        "a tampered chunk reached MinIO"
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
        &format!("{}/my-bucket/uploads/tampered.txt", env.minio.url),
        b"",
    )
    .await;
    assert_eq!(r.status, 404, "MinIO stored a tampered upload");
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
/// RSS stays under 100 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gibibyte_streams_through_with_bounded_memory() {
    const SIZE: u64 = 1 << 30;
    const PIECE: usize = 256 * 1024;
    let Some(env) = S3Env::start().await else {
        return;
    };
    // The bucket, made directly.
    let up = sigv4::Keys {
        access_key_id: MINIO_USER.into(),
        secret_access_key: MINIO_SECRET.into(),
        session_token: None,
    };
    let r = s3_send(&up, "PUT", &format!("{}/my-bucket", env.minio.url), b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
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
