//! The gateway's memory per request is bounded by its body size: `irsa gateway` as its own
//! process, four concurrent signed requests of 16 MB bodies made of tiny JSON values (the
//! shape that makes a generic JSON tree cost many times its text), then the process's peak
//! resident set read from `/proc/PID/status` (`VmHWM`). Linux only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use irsa_sts_core::credentials::{self, KeyRing, MasterKey, SessionClaims};

const BODY_BYTES: usize = 16 * 1024 * 1024;
const LIMIT_MIB: u64 = 512;

const CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
roles:
  - name: app
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Principal: {Federated: "*"}, Action: sts:AssumeRoleWithWebIdentity}
    policies:
      p:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: "dynamodb:*", Resource: "arn:aws:dynamodb:us-east-1:111122223333:table/scores"}
signingKeys:
  - file: master.key
"#;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `{"prefix..., "member": [0,0,0,...]}` padded to about `BODY_BYTES`.
fn padded(prefix: &str, member: &str) -> Vec<u8> {
    let mut body = format!("{prefix},\"{member}\":[0").into_bytes();
    while body.len() < BODY_BYTES - 16 {
        body.extend_from_slice(b",0");
    }
    body.extend_from_slice(b"]}");
    body
}

/// An attribute map of `n` tiny attributes.
fn tiny_attributes(n: usize, key: &str) -> String {
    let mut s = format!("{{\"pk\":{{\"S\":\"{key}\"}}");
    for i in 0..n {
        s.push_str(&format!(",\"a{i}\":{{\"N\":\"0\"}}"));
    }
    s.push('}');
    s
}

fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    // 25 items of ~600 KB of tiny attributes each: 15 MB of attribute maps.
    let mut writes = Vec::new();
    for i in 0..25 {
        writes.push(format!(
            "{{\"PutRequest\":{{\"Item\":{}}}}}",
            tiny_attributes(32_000, &format!("k{i}"))
        ));
    }
    let batch = format!("{{\"RequestItems\":{{\"scores\":[{}]}}}}", writes.join(","));
    vec![
        // The finding: an unknown member holding 8 million zeros.
        ("GetItem", padded(r#"{"TableName":"scores""#, "x")),
        // A known member the mapping never reads, holding 8 million zeros.
        (
            "GetItem",
            padded(
                r#"{"TableName":"scores","Key":{"pk":{"S":"a"}}"#,
                "ConsistentRead",
            ),
        ),
        ("BatchWriteItem", batch.into_bytes()),
        // A 4 MB item plus 12 MB of zeros in a member the mapping skips.
        (
            "PutItem",
            padded(
                &format!(
                    r#"{{"TableName":"scores","Item":{}"#,
                    tiny_attributes(180_000, "k")
                ),
                "ReturnItemCollectionMetrics",
            ),
        ),
    ]
}

fn signed_request(port: u16, creds: &credentials::Credentials, op: &str, body: &[u8]) -> Vec<u8> {
    let url = format!("http://127.0.0.1:{port}/");
    let target = format!("DynamoDB_20120810.{op}");
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", target.as_str()),
    ];
    let identity: Identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        Some(creds.session_token.clone()),
        None,
        "test",
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
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method("POST").uri(&url);
    for (n, v) in headers {
        request = request.header(n, v);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let mut out = format!(
        "POST / HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (n, v) in request.headers() {
        out.push_str(&format!("{n}: {}\r\n", v.to_str().unwrap()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn exchange(port: u16, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    tcp.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn four_concurrent_16_mb_bodies_stay_under_512_mib() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("irsa-gateway-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = MasterKey::generate(&mut rand::rngs::OsRng);
    std::fs::write(dir.join("master.key"), key.to_hex()).unwrap();
    std::fs::write(dir.join("irsa.yaml"), CONFIG).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_irsa"))
        .args([
            "gateway",
            "--config",
            dir.join("irsa.yaml").to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--upstream",
            "http://127.0.0.1:9",
            "--upstream-access-key-id",
            "AKIAUPSTREAMEXAMPLE1",
        ])
        .env("IRSA_GATEWAY_UPSTREAM_SECRET_ACCESS_KEY", "upstream-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let gateway = Killed(child);
    let pid = gateway.0.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the gateway listens within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }

    let now = i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let claims = SessionClaims {
        role_arn: "arn:aws:iam::111122223333:role/app".into(),
        role_id: "AROAEXAMPLEEXAMPLE123".into(),
        session_name: "memory".into(),
        subject: "system:serviceaccount:default:app".into(),
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
    let creds = credentials::issue(&KeyRing::single(key), &claims, &mut rand::rngs::OsRng).unwrap();
    let baseline = peak_rss_kib(pid);
    let requests: Vec<(&str, Vec<u8>)> = bodies()
        .into_iter()
        .map(|(op, body)| {
            assert!(body.len() <= BODY_BYTES, "{op}: {} bytes", body.len());
            (op, signed_request(port, &creds, op, &body))
        })
        .collect();
    let answers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = requests
            .iter()
            .map(|(_, r)| s.spawn(move || exchange(port, r)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((op, _), answer) in requests.iter().zip(&answers) {
        let status = answer.lines().next().unwrap_or_default();
        // Refused by the mapping, or allowed and then failing upstream: never a crash.
        assert!(
            status.contains(" 400 ") || status.contains(" 500 "),
            "{op}: {status} {}",
            answer.chars().take(300).collect::<String>()
        );
    }
    // The unknown member is refused at once; the others are read whole, allowed, and
    // fail only at the (absent) upstream.
    assert!(
        answers[0].contains("SerializationException"),
        "{}",
        answers[0]
    );
    for answer in &answers[1..] {
        assert!(
            answer.starts_with("HTTP/1.1 500 "),
            "{}",
            answer.chars().take(300).collect::<String>()
        );
    }
    let peak = peak_rss_kib(pid);
    eprintln!(
        "gateway peak RSS: {} MiB before, {} MiB after four concurrent 16 MB requests",
        baseline / 1024,
        peak / 1024
    );
    assert!(
        peak / 1024 < LIMIT_MIB,
        "peak RSS {} MiB, limit {LIMIT_MIB} MiB",
        peak / 1024
    );
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
}
