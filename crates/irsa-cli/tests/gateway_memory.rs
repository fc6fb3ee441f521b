//! The gateway's memory per request is bounded by its body size: `irsa gateway` as its own
//! process, four concurrent signed requests of 16 MB bodies made of tiny JSON values (the
//! shape that makes a generic JSON tree cost many times its text), then the process's peak
//! resident set read from `/proc/PID/status` (`VmHWM`). Linux only.

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use irsa_sts_core::{Credentials, KeyRing, MasterKey, issue_credentials};
use irsa_test::net::{Bytes, Full, Reply};
use irsa_test::{Killed, free_port, sigv4};

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

fn signed_request(
    port: u16,
    creds: &Credentials,
    op: &str,
    body: Vec<u8>,
) -> http::Request<Full<Bytes>> {
    let url = format!("http://127.0.0.1:{port}/");
    let target = format!("DynamoDB_20120810.{op}");
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", target.as_str()),
    ];
    let keys = sigv4::Keys {
        access_key_id: creds.access_key_id.clone(),
        secret_access_key: creds.secret_access_key.clone(),
        session_token: Some(creds.session_token.clone()),
    };
    let signing = sigv4::Signing::new(&keys, "us-east-1", "dynamodb", SystemTime::now());
    let payload = sigv4::Payload::Bytes(&body);
    let mut request = sigv4::sign_request(&signing, "POST", &url, &headers, payload, ());
    request.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    let (parts, ()) = request.into_parts();
    http::Request::from_parts(parts, Full::new(Bytes::from(body)))
}

/// `irsa gateway` with the configuration and master key in `dir`, its upstream nowhere,
/// listening on a free port of 127.0.0.1 (waited for); the process and the port.
fn start_gateway(dir: &std::path::Path) -> (Killed, u16) {
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
    irsa_test::wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(20));
    (gateway, port)
}

/// Sends `requests` all at once (each on a connection of its own); the answers, in order.
fn send_at_once(requests: Vec<http::Request<Full<Bytes>>>) -> Vec<Reply> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let handles: Vec<_> = requests
            .into_iter()
            .map(|r| tokio::spawn(irsa_test::net::send(r)))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    })
}

/// The unknown member is refused at once; the others are read whole, allowed, and fail
/// only at the (absent) upstream: never a crash.
fn assert_refused_or_failing_upstream(ops: &[&str], answers: &[Reply]) {
    let excerpt = |r: &Reply| {
        String::from_utf8_lossy(&r.body)
            .chars()
            .take(300)
            .collect::<String>()
    };
    for (op, answer) in ops.iter().zip(answers) {
        // Refused by the mapping, or allowed and then failing upstream: never a crash.
        assert!(
            answer.status == 400 || answer.status == 500,
            "{op}: {} {}",
            answer.status,
            excerpt(answer)
        );
    }
    assert!(
        answers[0].status == 400 && excerpt(&answers[0]).contains("SerializationException"),
        "{} {}",
        answers[0].status,
        excerpt(&answers[0])
    );
    for answer in &answers[1..] {
        assert_eq!(answer.status, 500, "{}", excerpt(answer));
    }
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
    let (gateway, port) = start_gateway(&dir);
    let pid = gateway.0.id();
    let now = irsa_test::now();
    let claims =
        irsa_test::sts::session_claims("arn:aws:iam::111122223333:role/app", now, now + 3600);
    let creds = issue_credentials(&KeyRing::single(key), &claims, &mut rand::rngs::OsRng).unwrap();
    let baseline = peak_rss_kib(pid);
    let requests: Vec<(&str, http::Request<Full<Bytes>>)> = bodies()
        .into_iter()
        .map(|(op, body)| {
            assert!(body.len() <= BODY_BYTES, "{op}: {} bytes", body.len());
            (op, signed_request(port, &creds, op, body))
        })
        .collect();
    let (ops, requests): (Vec<&str>, Vec<_>) = requests.into_iter().unzip();
    let answers = send_at_once(requests);
    assert_refused_or_failing_upstream(&ops, &answers);
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
