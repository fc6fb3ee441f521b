//! `irsa demo` and `irsa up` through the binary: the demo's story and exit code, and a real
//! SDK (aws-sdk-rust) configured only from the environment `irsa up` prints.
//!
//! The demo's run with a DynamoDB upstream uses dynalite (install with
//! scripts/deps/gateway.sh), the runs with an S3 upstream versitygw (built by
//! scripts/deps/versitygw.sh); without them those tests fail naming the script, unless
//! `IRSA_SKIP_EXTERNAL` is set (see `irsa_test::skip_external`).

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use irsa_test::{Dynalite, Versitygw, sdk, wait_bounded};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROLE: &str = "arn:aws:iam::111122223333:role/allow-read";

fn irsa() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_irsa"));
    c.env_remove("IRSA_DEMO_DYNAMODB_UPSTREAM")
        .env_remove("IRSA_UP_DYNAMODB_UPSTREAM")
        .env_remove("IRSA_DEMO_S3_UPSTREAM")
        .env_remove("IRSA_UP_S3_UPSTREAM")
        .env_remove("IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID")
        .env_remove("IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY")
        .env_remove("IRSA_GATEWAY_S3_UPSTREAM_SESSION_TOKEN")
        .env_remove("IRSA_UP_CONFIG")
        .env_remove("IRSA_UP_STATE_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// `irsa up` listening on free ports of 127.0.0.1 (issuer, STS, gateway); more arguments
/// to add.
fn irsa_up() -> Command {
    let mut c = irsa();
    c.args([
        "up",
        "--issuer-listen",
        "127.0.0.1:0",
        "--sts-listen",
        "127.0.0.1:0",
        "--gateway-listen",
        "127.0.0.1:0",
    ]);
    c
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn run_bounded(mut cmd: Command, within: Duration) -> Run {
    let mut child = cmd.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let status = wait_bounded(&mut child, within);
    Run {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

/// `irsa demo ARGS` with `env` added, bounded to 120 s; it must succeed.
fn demo(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = irsa();
    c.arg("demo").args(args).envs(env.iter().copied());
    let r = run_bounded(c, Duration::from_secs(120));
    assert!(
        r.status.success(),
        "exit {:?}\n{}\n{}",
        r.status,
        r.stdout,
        r.stderr
    );
    r
}

/// Whether `needle` occurs in `haystack`, whitespace runs (line wraps) counting as one space.
#[track_caller]
fn assert_has(haystack: &str, needle: &str) {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        norm(haystack).contains(&norm(needle)),
        "missing `{needle}` in:\n{haystack}"
    );
}

/// What the offline demo says, step by step, in order of the story.
const OFFLINE_STORY: &[&str] = &[
    // 1-2: manifests and the mutation as a diff.
    "eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/allow-read",
    "+++ pod (as admitted)",
    "+    - name: AWS_WEB_IDENTITY_TOKEN_FILE",
    "+          audience: sts.amazonaws.com",
    // 3: the token, decoded and verified with the issuer's published keys.
    "\"sub\": \"system:serviceaccount:default:my-serviceaccount\"",
    "✔ Signature Verified (RS256 key",
    // 4: the decision and the statement that made it.
    "✔ Allow, by statement 0 (Sid `AllowMyServiceAccount`)",
    // 5: the exchange by the SDK.
    "AssumedRoleUser.Arn:         arn:aws:sts::111122223333:assumed-role/allow-read/my-app",
    "AccessKeyId:                 ASIA",
    "Arn:     arn:aws:sts::111122223333:assumed-role/allow-read/my-app",
    // 6: no upstream, said plainly; the write denied by policy.
    "No DynamoDB upstream is configured",
    "UpstreamNotConfigured: irsa: no DynamoDB upstream is configured",
    "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/allow-read/my-app is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:111122223333:table/my-table",
    // 7: S3 on the same endpoint: no upstream, said plainly; the write denied by policy.
    "7. S3 through the same gateway: an allowed read, a denied write",
    "No S3 upstream is configured",
    "GetObject s3://my-bucket/reports/hello.txt (the permission policy says Allow, by Sid `ReadReports`)",
    "UpstreamNotConfigured: irsa: no S3 upstream is configured: the request was allowed by policy but there is no bucket to send it to (start with --s3-upstream URL)",
    "✔ the S3 read was allowed by policy (no upstream to reach, as said above)",
    "AccessDenied: User: arn:aws:sts::111122223333:assumed-role/allow-read/my-app is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::my-bucket/reports/intruder.txt",
    "✔ the S3 write was denied: AccessDenied, in S3's own XML error format",
    // 8: the other ServiceAccount, refused with the reason.
    "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity",
    "the token's sub is `system:serviceaccount:default:other-serviceaccount`",
    "✔ refused: AccessDenied",
    "Every step behaved as the story says (9 checks).",
];

#[test]
fn demo_tells_the_story_offline() {
    let r = demo(&[], &[]);
    let out = &r.stdout;
    for line in OFFLINE_STORY {
        assert_has(out, line);
    }
    assert!(!out.contains('✘'), "{out}");
    // Not a terminal: no escape codes. Never a token or a secret.
    assert!(!out.contains('\x1b'), "{out}");
    assert!(!out.contains("eyJ"), "a token was printed:\n{out}");
    assert!(!out.contains("SecretAccessKey:"), "{out}");
}

#[test]
fn demo_reads_through_the_gateway_with_an_upstream() {
    let Some(upstream) = Dynalite::start() else {
        return;
    };
    let r = demo(&["--dynamodb-upstream", &upstream.url], &[]);
    drop(upstream);
    let out = &r.stdout;
    assert_has(out, "\"message\":{\"S\":\"read through irsa gateway\"}");
    assert_has(out, "✔ the read was allowed and reached the table");
    assert_has(out, "✔ the write was denied: AccessDeniedException");
    assert!(!out.contains("no DynamoDB upstream"), "{out}");
    assert!(!out.contains("No DynamoDB upstream"), "{out}");
    // S3 has no upstream in this run, and the demo says so.
    assert_has(out, "No S3 upstream is configured");
}

const S3_USER: &str = Versitygw::ACCESS_KEY_ID;
const S3_SECRET: &str = Versitygw::SECRET_ACCESS_KEY;

#[test]
fn demo_reads_s3_through_the_gateway_with_an_upstream() {
    let Some(s3) = Versitygw::start() else {
        return;
    };
    let r = demo(
        &["--s3-upstream", &s3.url],
        &[
            ("IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID", S3_USER),
            ("IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY", S3_SECRET),
        ],
    );
    let out = &r.stdout;
    assert_has(out, &format!("S3 upstream: {}.", s3.url));
    assert_has(out, "Body: a report, read through irsa gateway");
    assert_has(out, "✔ the S3 read was allowed and returned the object");
    assert_has(
        out,
        "✔ the S3 write was denied: AccessDenied, in S3's own XML error format",
    );
    // DynamoDB has no upstream here, and the demo says so.
    assert_has(out, "No DynamoDB upstream is configured");
    assert!(!out.contains("No S3 upstream"), "{out}");
    // The object the demo put is there; the denied write stored nothing.
    assert_eq!(
        std::fs::read_to_string(s3.object("my-bucket", "reports/hello.txt")).unwrap(),
        "a report, read through irsa gateway\n"
    );
    assert!(!s3.object("my-bucket", "reports/intruder.txt").exists());
}

#[test]
fn demo_refuses_an_s3_upstream_without_credentials() {
    let r = run_bounded(
        {
            let mut c = irsa();
            c.args(["demo", "--s3-upstream", "http://127.0.0.1:9"]);
            c
        },
        Duration::from_secs(60),
    );
    assert_eq!(r.status.code(), Some(2), "{}\n{}", r.stdout, r.stderr);
    assert_has(
        &r.stderr,
        "the S3 upstream `http://127.0.0.1:9` needs its credentials: set IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID and IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY",
    );
}

/// `irsa up` on free ports; its printed environment; stopped by SIGTERM on drop.
struct Up {
    child: Child,
    env: Vec<(String, String)>,
    stderr: mpsc::Receiver<String>,
}

impl Up {
    fn start(state: &Path, extra: &[&str]) -> Up {
        Up::start_with_env(state, extra, &[])
    }

    fn start_with_env(state: &Path, extra: &[&str], env: &[(&str, &str)]) -> Up {
        let mut c = irsa_up();
        c.envs(env.iter().copied());
        c.arg("--state-dir").arg(state).args(extra);
        let mut child = c.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (etx, erx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = etx.send(line);
            }
        });
        let mut env = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while env.len() < 7 {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                let _ = child.kill();
                let err: Vec<String> = erx.try_iter().collect();
                panic!("irsa up printed no environment: {}", err.join("\n"))
            });
            if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
                env.push((k.to_owned(), v.trim_matches('\'').to_owned()));
            }
        }
        Up {
            child,
            env,
            stderr: erx,
        }
    }

    fn var(&self, k: &str) -> &str {
        &self.env.iter().find(|(n, _)| n == k).unwrap().1
    }

    /// SIGTERM; it must exit successfully. What it wrote on stderr.
    fn stop(&mut self) -> String {
        let status = self.terminate();
        assert!(status.success(), "{status:?}");
        let stderr: Vec<String> = self.stderr.try_iter().collect();
        stderr.join("\n")
    }

    /// SIGTERM, then the exit status (bounded).
    fn terminate(&mut self) -> ExitStatus {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        wait_bounded(&mut self.child, Duration::from_secs(20))
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SDK configuration an application loads from the printed environment alone.
fn sdk_config(up: &Up) -> aws_config::SdkConfig {
    let vars: Vec<(&str, &str)> = up
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(sdk::config_from_env(&vars))
}

/// Waits (bounded: 20 s) until the token file holds a token other than `first` (by its
/// `jti`); that token's claims.
fn wait_refreshed(
    token_file: &str,
    first: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = claims_of(token_file);
        if now["jti"] != first["jti"] {
            return now;
        }
        assert!(Instant::now() < deadline, "the token was not refreshed");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn claims_of(token_file: &str) -> serde_json::Map<String, serde_json::Value> {
    let token = std::fs::read_to_string(token_file).unwrap();
    irsa_jose::peek(token.trim()).unwrap().claims
}

/// The exports of `up` (state folder `state`), in order, and in its env file; the token
/// file and its first token's claims.
fn assert_up_env(up: &Up, state: &Path) -> (String, serde_json::Map<String, serde_json::Value>) {
    let names: Vec<&str> = up.env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION"
        ]
    );
    assert_eq!(up.var("AWS_ROLE_ARN"), ROLE);
    assert_eq!(up.var("AWS_REGION"), "us-east-1");
    // One gateway endpoint for both services.
    assert_eq!(
        up.var("AWS_ENDPOINT_URL_S3"),
        up.var("AWS_ENDPOINT_URL_DYNAMODB")
    );
    let token_file = up.var("AWS_WEB_IDENTITY_TOKEN_FILE").to_owned();
    assert!(Path::new(&token_file).starts_with(state.canonicalize().unwrap()));
    let first = claims_of(&token_file);
    assert_eq!(
        first["sub"],
        "system:serviceaccount:default:my-serviceaccount"
    );
    assert_eq!(first["aud"], serde_json::json!(["sts.amazonaws.com"]));
    assert_eq!(
        first["exp"].as_i64().unwrap() - first["iat"].as_i64().unwrap(),
        3600
    );
    // The env file holds the same exports.
    let env_file = std::fs::read_to_string(state.join("env")).unwrap();
    assert!(env_file.contains(&format!("export AWS_ROLE_ARN={ROLE}")));
    (token_file, first)
}

/// The SDK's default credential chain gets web identity credentials from `irsa up`'s STS
/// (its token file `token_file`), and so does AssumeRoleWithWebIdentity by hand.
async fn sts_serves_the_default_chain(conf: &aws_config::SdkConfig, token_file: &str) {
    let sts = aws_sdk_sts::Client::new(conf);
    let id = sts.get_caller_identity().send().await.unwrap();
    let arn = id.arn().unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::111122223333:assumed-role/allow-read/"),
        "{arn}"
    );
    assert_eq!(id.account(), Some("111122223333"));
    // AssumeRoleWithWebIdentity by hand with the token file.
    let token = std::fs::read_to_string(token_file).unwrap();
    let out = sts
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("by-hand")
        .web_identity_token(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.subject_from_web_identity_token(),
        Some("system:serviceaccount:default:my-serviceaccount")
    );
    assert!(
        out.credentials()
            .unwrap()
            .access_key_id()
            .starts_with("ASIA")
    );
}

/// DynamoDB through the gateway without an upstream: the write denied by policy, the read
/// answered `UpstreamNotConfigured`.
async fn dynamodb_without_upstream(conf: &aws_config::SdkConfig) {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    use aws_sdk_dynamodb::types::AttributeValue;
    let ddb = sdk::dynamodb_from(conf);
    let e = ddb
        .put_item()
        .table_name("my-table")
        .item("id", AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
    let e = ddb
        .get_item()
        .table_name("my-table")
        .key("id", AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("UpstreamNotConfigured"), "{e:?}");
    assert!(e.message().unwrap().contains("--dynamodb-upstream"));
}

/// S3 on the same endpoint (AWS_ENDPOINT_URL_S3), by the embedded role's policy: reads and
/// lists under reports/ are allowed (no upstream: UpstreamNotConfigured), writes and other
/// prefixes are denied.
async fn s3_without_upstream(conf: &aws_config::SdkConfig) {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    let s3 = sdk::s3_from(conf);
    let e = s3
        .get_object()
        .bucket("my-bucket")
        .key("reports/2024.csv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("UpstreamNotConfigured"), "{e:?}");
    assert!(e.message().unwrap().contains("--s3-upstream"), "{e:?}");
    let e = s3
        .list_objects_v2()
        .bucket("my-bucket")
        .prefix("reports/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("UpstreamNotConfigured"), "{e:?}");
    for denied in [
        s3.get_object()
            .bucket("my-bucket")
            .key("private/x")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.code().map(str::to_owned)),
        s3.list_objects_v2()
            .bucket("my-bucket")
            .prefix("private/")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.code().map(str::to_owned)),
        s3.put_object()
            .bucket("my-bucket")
            .key("reports/x")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.code().map(str::to_owned)),
    ] {
        assert_eq!(denied, Err(Some("AccessDenied".to_owned())));
    }
}

#[test]
#[allow(clippy::result_large_err, reason = "the SDK's error type")]
fn up_serves_an_unchanged_sdk_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut up = Up::start(&state, &["--token-refresh-secs", "1"]);
    let (token_file, first) = assert_up_env(&up, &state);
    let conf = sdk_config(&up);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        sts_serves_the_default_chain(&conf, &token_file).await;
        dynamodb_without_upstream(&conf).await;
        s3_without_upstream(&conf).await;
    });

    // The token file is refreshed (here every second) with a new token.
    let now = wait_refreshed(&token_file, &first);
    assert_eq!(now["sub"], first["sub"]);

    let stderr = up.stop();
    assert_has(&stderr, "irsa up: terminate: shutting down");
    assert_has(&stderr, "irsa up: stopped");
    assert!(!stderr.contains("eyJ"), "a token was logged:\n{stderr}");
}

#[test]
fn up_forwards_s3_to_its_upstream() {
    let Some(s3) = Versitygw::start() else {
        return;
    };
    // The upstream's own client puts a report there.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let admin = sdk::s3(&s3.url, sdk::credentials(S3_USER, S3_SECRET, None));
        admin
            .create_bucket()
            .bucket("my-bucket")
            .send()
            .await
            .unwrap();
        admin
            .put_object()
            .bucket("my-bucket")
            .key("reports/2024.csv")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                b"q1,q2\n1,2\n",
            ))
            .send()
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    // The credentials come from the environment, never the command line.
    let mut up = Up::start_with_env(
        &dir.path().join("state"),
        &["--s3-upstream", &s3.url],
        &[
            ("IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID", S3_USER),
            ("IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY", S3_SECRET),
        ],
    );
    let conf = sdk_config(&up);
    rt.block_on(async {
        let client = sdk::s3_from(&conf);
        assert_eq!(
            sdk::object(&client, "my-bucket", "reports/2024.csv").await,
            b"q1,q2\n1,2\n"
        );
        assert_eq!(
            sdk::keys(&client, "my-bucket", "reports/").await,
            ["reports/2024.csv"]
        );
        let e = client
            .put_object()
            .bucket("my-bucket")
            .key("reports/2025.csv")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
        // DynamoDB on the same endpoint still answers as DynamoDB (no upstream for it).
        use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
        let ddb = sdk::dynamodb_from(&conf);
        let e = ddb
            .get_item()
            .table_name("my-table")
            .key("id", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("UpstreamNotConfigured"), "{e:?}");
    });
    assert!(!s3.object("my-bucket", "reports/2025.csv").exists());
    let stderr = up.stop();
    assert_has(&stderr, &format!("S3 forwarded to {}", s3.url));
    assert!(
        !stderr.contains(S3_SECRET),
        "the upstream secret was logged"
    );
}

#[test]
fn up_keeps_its_keys_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut up = Up::start(&state, &[]);
    let key1 = std::fs::read(state.join("issuer-signing.key")).unwrap();
    let master1 = std::fs::read(state.join("sts-master.key")).unwrap();
    assert!(up.terminate().success());
    drop(up);
    let mut up = Up::start(&state, &[]);
    assert_eq!(
        std::fs::read(state.join("issuer-signing.key")).unwrap(),
        key1
    );
    assert_eq!(
        std::fs::read(state.join("sts-master.key")).unwrap(),
        master1
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in [
            "issuer-signing.key",
            "sts-master.key",
            "serviceaccount/token",
        ] {
            let mode = std::fs::metadata(state.join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{f} is readable by others");
        }
    }
    assert!(up.terminate().success());
}

#[test]
fn up_configuration() {
    // The embedded default, printed.
    let r = run_bounded(
        {
            let mut c = irsa();
            c.args(["up", "--print-default-config"]);
            c
        },
        Duration::from_secs(30),
    );
    assert!(r.status.success());
    assert_has(&r.stdout, "issuer: ${IRSA_ISSUER}");
    assert_has(&r.stdout, "- dynamodb:BatchGetItem");

    // A replacement whose role is missing is refused, naming the field; nothing keeps running.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        // up.roleArn only (the first occurrence; the association keeps its role).
        r.stdout.replacen("role/allow-read\n", "role/nope\n", 1),
    )
    .unwrap();
    let r2 = run_bounded(
        {
            let mut c = irsa_up();
            c.arg("--config")
                .arg(&bad)
                .arg("--state-dir")
                .arg(dir.path().join("state"));
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(r2.status.code(), Some(2), "{}", r2.stderr);
    assert_has(
        &r2.stderr,
        "up.roleArn: `arn:aws:iam::111122223333:role/nope`",
    );

    // A replacement with its own ServiceAccount (the token is minted for it) and a second
    // provider whose keys come from a file named relative to the configuration.
    let conf_dir = dir.path().join("conf");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::copy(
        irsa_test::workspace_root().join("crates/irsa-jose/tests/fixtures/p256-a.pub"),
        conf_dir.join("other.pub"),
    )
    .unwrap();
    let custom = conf_dir.join("custom.yaml");
    std::fs::write(
        &custom,
        r.stdout
            .replace("name: my-serviceaccount", "name: billing")
            .replace("namespace: default\n    name", "namespace: prod\n    name")
            .replace(
                "    audiences: [sts.amazonaws.com]\n",
                "    audiences: [sts.amazonaws.com]\n  - issuer: https://other.example.test\n    audiences: [sts.amazonaws.com]\n    jwksFile: other.pub\n",
            ),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&custom)
            .unwrap()
            .contains("jwksFile: other.pub")
    );
    let mut up = Up::start(
        &dir.path().join("state2"),
        &["--config", custom.to_str().unwrap()],
    );
    let claims = claims_of(up.var("AWS_WEB_IDENTITY_TOKEN_FILE"));
    assert_eq!(claims["sub"], "system:serviceaccount:prod:billing");
    assert!(up.terminate().success());
}

/// An `irsa` configuration whose role `reader` may read `my-bucket/reports/*` and list
/// DynamoDB tables.
const READER_CONFIG: &str = r#"account: "111122223333"
region: us-east-1
roles:
  - name: reader
    trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}, Action: sts:AssumeRoleWithWebIdentity}]}
    policies:
      reports: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::my-bucket/reports/*"}, {Effect: Allow, Action: dynamodb:ListTables, Resource: "*"}]}
signingKeys: [{file: master.key}]
"#;

/// `irsa gateway` with `config` and no upstream at all: refused at start, naming the field.
fn gateway_without_an_upstream_is_refused(config: &Path) {
    let r = run_bounded(
        {
            let mut c = irsa();
            c.args(["gateway", "--listen", "127.0.0.1:0", "--config"])
                .arg(config);
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert_has(&r.stderr, "gateway.upstream.url");
}

/// `irsa gateway` with `config` and the S3 upstream `s3` (its credentials from flags and the
/// environment) on a free port (waited for); the process and the port.
fn start_s3_gateway(config: &Path, s3: &Versitygw) -> (irsa_test::Killed, u16) {
    let port = irsa_test::free_port();
    let mut c = irsa();
    c.args(["gateway", "--log-format", "text", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--config")
        .arg(config)
        .args([
            "--s3-upstream",
            &s3.url,
            "--s3-upstream-access-key-id",
            S3_USER,
        ])
        .env("IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY", S3_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let gateway = irsa_test::Killed(c.spawn().unwrap());
    irsa_test::wait_for_port(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(30),
    );
    (gateway, port)
}

/// `irsa gateway` with its S3 upstream given by flags (the secret from the environment)
/// and no DynamoDB upstream: an allowed read returns the upstream's object, a write
/// outside the policy is refused and stores nothing, DynamoDB requests get
/// `UpstreamNotConfigured`. Without any upstream it does not start.
#[test]
fn gateway_takes_its_s3_upstream_from_flags() {
    use irsa_sts_core::{KeyRing, MasterKey, issue_credentials};
    let Some(s3) = Versitygw::start() else {
        return;
    };
    std::fs::create_dir_all(s3.object("my-bucket", "reports")).unwrap();
    std::fs::write(s3.object("my-bucket", "reports/a.txt"), "from the upstream").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate(&mut rand::rngs::OsRng);
    std::fs::write(dir.path().join("master.key"), key.to_hex()).unwrap();
    let config = dir.path().join("irsa.yaml");
    std::fs::write(&config, READER_CONFIG).unwrap();

    gateway_without_an_upstream_is_refused(&config);

    let (_gateway, port) = start_s3_gateway(&config, &s3);
    let now = irsa_test::now();
    let claims =
        irsa_test::sts::session_claims("arn:aws:iam::111122223333:role/reader", now, now + 3600);
    let issued = issue_credentials(&KeyRing::single(key), &claims, &mut rand::rngs::OsRng).unwrap();
    let creds = sdk::credentials(
        &issued.access_key_id,
        &issued.secret_access_key,
        Some(&issued.session_token),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // An IP endpoint: path-style addressing either way.
        let client = sdk::s3(&endpoint, creds.clone());
        assert_eq!(
            sdk::object(&client, "my-bucket", "reports/a.txt").await,
            b"from the upstream"
        );
        let e = client
            .put_object()
            .bucket("my-bucket")
            .key("reports/b.txt")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");

        use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
        let ddb = sdk::dynamodb(&endpoint, creds);
        let e = ddb.list_tables().send().await.unwrap_err();
        assert_eq!(e.code(), Some("UpstreamNotConfigured"), "{e:?}");
    });
    assert!(!s3.object("my-bucket", "reports/b.txt").exists());
}

// ---------------------------------------------------------------- irsa up --pod-identity

/// A configuration whose role trusts EKS Pod Identity and whose permission policy decides
/// by the session tag `kubernetes-namespace`: reads for team-a (the ServiceAccount's
/// namespace), writes only for team-b.
const POD_IDENTITY_CONFIG: &str = r#"
up:
  serviceAccount: {namespace: team-a, name: reader}
  roleArn: arn:aws:iam::111122223333:role/by-namespace
  podIdentity:
    clusterName: dev
    agentRoleArn: arn:aws:iam::111122223333:role/irsa-agent
account: "111122223333"
region: us-east-1
providers:
  - issuer: ${IRSA_ISSUER}
    audiences: [sts.amazonaws.com]
clusters:
  - name: dev
    issuer: ${IRSA_ISSUER}
podIdentityAssociations:
  - cluster: dev
    namespace: team-a
    serviceAccount: reader
    roleArn: arn:aws:iam::111122223333:role/by-namespace
roles:
  - name: by-namespace
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Service: pods.eks.amazonaws.com}
          Action: [sts:AssumeRole, sts:TagSession]
    policies:
      by-namespace:
        Version: "2012-10-17"
        Statement:
          - Sid: ReadForTeamA
            Effect: Allow
            Action: dynamodb:GetItem
            Resource: arn:aws:dynamodb:us-east-1:111122223333:table/books
            Condition:
              StringEquals: {"aws:PrincipalTag/kubernetes-namespace": team-a}
          - Sid: WriteForTeamB
            Effect: Allow
            Action: dynamodb:PutItem
            Resource: arn:aws:dynamodb:us-east-1:111122223333:table/books
            Condition:
              StringEquals: {"aws:PrincipalTag/kubernetes-namespace": team-b}
  - name: irsa-agent
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: "arn:aws:iam::111122223333:oidc-provider/${IRSA_ISSUER_HOST}"}
          Action: sts:AssumeRoleWithWebIdentity
          Condition:
            StringEquals:
              "${IRSA_ISSUER_HOST}:sub": system:serviceaccount:kube-system:irsa-agent
    policies:
      agent:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: eks-auth:AssumeRoleForPodIdentity
            Resource: arn:aws:eks:us-east-1:111122223333:cluster/dev
"#;

/// Table `books` with item `a` in dynalite (which takes any credentials).
fn seed_books(url: &str) {
    let ddb = sdk::dynamodb(url, sdk::credentials("local", "local", None));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sdk::create_table(&ddb, "books", "pk").await.unwrap();
        sdk::put_strings(&ddb, "books", &[("pk", "a"), ("title", "Dune")])
            .await
            .unwrap();
    });
}

/// Runs an external client with only the printed environment (and a HOME of its own).
fn run_with_up_env(up: &Up, home: &Path, program: &Path, args: &[&str]) -> (bool, String, String) {
    let env: Vec<(&str, &str)> = up
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = irsa_test::run_client(program, args, home, &env);
    (r.ok, r.stdout, r.stderr)
}

const POD_SESSION: &str =
    "arn:aws:sts::111122223333:assumed-role/by-namespace/eks-dev-reader-irsa-up-";

/// The exports of `irsa up --pod-identity`, in order; the agent's URI, the token file (as
/// the kubelet projects it for Pod Identity: bound to a pod) and its first token's claims.
fn assert_pod_identity_env(
    up: &Up,
) -> (String, String, serde_json::Map<String, serde_json::Value>) {
    let names: Vec<&str> = up.env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL_S3",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION"
        ]
    );
    let uri = up.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").to_owned();
    assert!(
        uri.starts_with("http://127.0.0.1:") && uri.ends_with("/v1/credentials"),
        "{uri}"
    );
    let token_file = up.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").to_owned();
    assert!(token_file.ends_with("pods.eks.amazonaws.com/eks-pod-identity-token"));
    let first = claims_of(&token_file);
    assert_eq!(first["aud"], serde_json::json!(["pods.eks.amazonaws.com"]));
    assert_eq!(first["sub"], "system:serviceaccount:team-a:reader");
    assert_eq!(first["kubernetes.io"]["pod"]["name"], "reader-irsa-up");
    (uri, token_file, first)
}

/// aws-sdk-rust's default chain: container credentials through the agent; the session's
/// tags decide the read (allowed) and the write (refused).
fn rust_sdk_reads_through_the_agent(conf: &aws_config::SdkConfig) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
        use aws_sdk_dynamodb::types::AttributeValue;
        let id = aws_sdk_sts::Client::new(conf)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert!(id.arn().unwrap().starts_with(POD_SESSION), "{id:?}");
        let ddb = sdk::dynamodb_from(conf);
        // The session's tag kubernetes-namespace=team-a meets ReadForTeamA.
        let item = ddb
            .get_item()
            .table_name("books")
            .key("pk", AttributeValue::S("a".into()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            item.item().unwrap().get("title"),
            Some(&AttributeValue::S("Dune".into()))
        );
        // WriteForTeamB wants another namespace's tag: refused, nothing written.
        let e = ddb
            .put_item()
            .table_name("books")
            .item("pk", AttributeValue::S("b".into()))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
        assert!(e.message().unwrap().contains("dynamodb:PutItem"), "{e:?}");
    });
}

/// The aws CLI (botocore) and boto3 with the environment of `up`, unmodified (their home
/// under `dir`).
fn python_clients_read_through_the_agent(up: &Up, dir: &Path) {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    if let Some(aws) = irsa_test::external(
        ".cache/sts-clients/venv/bin/aws",
        "aws cli",
        "scripts/deps/sts-clients.sh",
    ) {
        let (ok, out, err) = run_with_up_env(
            up,
            &home,
            &aws,
            &["sts", "get-caller-identity", "--output", "json"],
        );
        assert!(ok, "{out}\n{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["Arn"].as_str().unwrap().starts_with(POD_SESSION), "{v}");
        let (ok, out, err) = run_with_up_env(
            up,
            &home,
            &aws,
            &[
                "dynamodb",
                "get-item",
                "--table-name",
                "books",
                "--key",
                r#"{"pk":{"S":"a"}}"#,
                "--output",
                "json",
            ],
        );
        assert!(ok, "{out}\n{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Item"]["title"]["S"], "Dune");
        let (ok, out, err) = run_with_up_env(
            up,
            &home,
            &aws,
            &[
                "dynamodb",
                "put-item",
                "--table-name",
                "books",
                "--item",
                r#"{"pk":{"S":"c"}}"#,
            ],
        );
        assert!(!ok, "{out}");
        assert!(err.contains("(AccessDeniedException)"), "{err}");
    }
    if let Some(py) = irsa_test::external(
        ".cache/sts-clients/venv/bin/python",
        "boto3",
        "scripts/deps/sts-clients.sh",
    ) {
        let script = irsa_test::workspace_root().join("tools/sdk-python/sts_client.py");
        let (ok, out, err) =
            run_with_up_env(up, &home, &py, &[script.to_str().unwrap(), "identity"]);
        assert!(ok, "{out}\n{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert!(v["Arn"].as_str().unwrap().starts_with(POD_SESSION), "{v}");
    }
}

/// The agent passes on EKS Auth's refusal of a token of another audience (an IRSA token
/// signed by the issuer of `irsa up`'s `state`) and refuses a request naming another host;
/// the pod's token (in `token_file`) gets credentials from `uri`.
fn agent_refuses_other_tokens_and_hosts(state: &Path, uri: &str, token_file: &str) {
    let key = irsa_jose::SigningKey::from_pem(
        &std::fs::read_to_string(state.join("issuer-signing.key")).unwrap(),
    )
    .unwrap();
    let mut claims = claims_of(token_file);
    claims.insert("aud".into(), serde_json::json!(["sts.amazonaws.com"]));
    let irsa_token = key.sign_jwt(&serde_json::Map::new(), &claims).unwrap();
    let get = |token: &str, host: Option<&str>| {
        let mut b = http::Request::builder()
            .method("GET")
            .uri(uri)
            .header("authorization", token);
        if let Some(h) = host {
            b = b.header("host", h);
        }
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(irsa_test::net::send(b.body(Default::default()).unwrap()))
    };
    let r = get(&irsa_token, None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("(InvalidTokenException)"), "{}", r.text());
    let good = std::fs::read_to_string(token_file).unwrap();
    let r = get(good.trim(), Some("attacker.example:80"));
    assert_eq!(r.status, 403, "{}", r.text());
    let r = get(good.trim(), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
}

#[test]
#[allow(clippy::result_large_err, reason = "the SDK's error type")]
fn up_pod_identity_serves_sdks_through_the_agent_with_session_tags() {
    let Some(dynalite) = Dynalite::start() else {
        return;
    };
    seed_books(&dynalite.url);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("up.yaml");
    std::fs::write(&cfg, POD_IDENTITY_CONFIG).unwrap();
    let state = dir.path().join("state");
    let mut up = Up::start(
        &state,
        &[
            "--pod-identity",
            "--agent-listen",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
            "--dynamodb-upstream",
            &dynalite.url,
            "--token-refresh-secs",
            "1",
        ],
    );
    let (uri, token_file, first) = assert_pod_identity_env(&up);
    rust_sdk_reads_through_the_agent(&sdk_config(&up));
    python_clients_read_through_the_agent(&up, dir.path());
    agent_refuses_other_tokens_and_hosts(&state, &uri, &token_file);

    // The token file is refreshed with a new token.
    let now = wait_refreshed(&token_file, &first);
    assert_eq!(now["aud"], first["aud"]);
    let stderr = up.stop();
    assert_has(&stderr, "irsa up: agent");
    assert!(!stderr.contains("eyJ"), "a token was logged:\n{stderr}");
    drop(dynalite);
}

#[test]
fn up_pod_identity_names_what_the_configuration_lacks() {
    let dir = tempfile::tempdir().unwrap();
    for (edit, want) in [
        (
            (
                "  podIdentity:\n    clusterName: dev\n    agentRoleArn: arn:aws:iam::111122223333:role/irsa-agent\n",
                "",
            ),
            "--pod-identity needs up.podIdentity",
        ),
        (
            (
                "    namespace: team-a\n    serviceAccount: reader",
                "    namespace: team-b\n    serviceAccount: reader",
            ),
            "up.serviceAccount team-a/reader has no pod identity association in cluster `dev`",
        ),
        (
            (
                "agentRoleArn: arn:aws:iam::111122223333:role/irsa-agent",
                "agentRoleArn: arn:aws:iam::111122223333:role/nobody",
            ),
            "up.podIdentity.agentRoleArn: `arn:aws:iam::111122223333:role/nobody` is not one of the configured roles",
        ),
    ] {
        let text = POD_IDENTITY_CONFIG.replacen(edit.0, edit.1, 1);
        assert_ne!(text, POD_IDENTITY_CONFIG);
        let cfg = dir.path().join("up.yaml");
        std::fs::write(&cfg, text).unwrap();
        let r = run_bounded(
            {
                let mut c = irsa_up();
                c.args([
                    "--pod-identity",
                    "--agent-listen",
                    "127.0.0.1:0",
                    "--config",
                ])
                .arg(&cfg)
                .arg("--state-dir")
                .arg(dir.path().join("state"));
                c
            },
            Duration::from_secs(60),
        );
        assert!(!r.status.success(), "{}", r.stderr);
        assert_has(&r.stderr, want);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

/// `irsa doctor --in-pod --format json` with the printed environment (overridden by
/// `env`): its exit code and the checks by id.
fn doctor_in_pod(
    up: &Up,
    sts_config: &Path,
    env: &[(&str, &str)],
) -> (i32, std::collections::BTreeMap<String, serde_json::Value>) {
    let mut c = irsa();
    c.env_remove("AWS_ROLE_ARN")
        .envs(up.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(env.iter().copied())
        .args(["doctor", "--in-pod", "--format", "json", "--sts-config"])
        .arg(sts_config);
    let r = run_bounded(c, Duration::from_secs(60));
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{}\n{}", r.stdout, r.stderr));
    let checks = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    (r.status.code().unwrap(), checks)
}

#[track_caller]
fn failed_with(
    checks: &std::collections::BTreeMap<String, serde_json::Value>,
    id: &str,
    evidence: &str,
    fix: &str,
) {
    let c = &checks[id];
    assert_eq!(c["ok"], false, "{c}");
    assert_has(&c["evidence"].to_string(), evidence);
    assert_has(c["fix"].as_str().unwrap_or(""), fix);
}

/// `irsa up --pod-identity` with the configuration `text` (written as `dir`/NAME.yaml),
/// its state in `dir`/NAME.
fn start_pod_identity_up(dir: &Path, name: &str, text: &str) -> (Up, std::path::PathBuf) {
    let cfg = dir.join(format!("{name}.yaml"));
    std::fs::write(&cfg, text).unwrap();
    let state = dir.join(name);
    let up = Up::start(
        &state,
        &[
            "--pod-identity",
            "--agent-listen",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    (up, state)
}

/// The doctor's answer when the role's trust lacks sts:TagSession: EKS Auth refuses, and
/// the doctor says why.
#[track_caller]
fn assert_trust_without_tag_session(
    code: i32,
    checks: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    assert_eq!(code, 1);
    failed_with(
        checks,
        "pod-identity-trust",
        "sts:TagSession: refused",
        r#""Action":["sts:AssumeRole","sts:TagSession"]"#,
    );
    failed_with(
        checks,
        "pod-identity-agent",
        "400: [",
        "the role's trust policy must let pods.eks.amazonaws.com call sts:AssumeRole and sts:TagSession",
    );
    assert_has(
        &checks["pod-identity-agent"]["evidence"].to_string(),
        "(AccessDeniedException): Unauthorized to perform sts:TagSession",
    );
}

/// Every Pod Identity check passes; the session tags meet ReadForTeamA.
#[track_caller]
fn assert_all_pod_identity_checks_pass(
    code: i32,
    checks: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    assert_eq!(code, 0, "{checks:?}");
    assert_eq!(checks.len(), 7);
    assert!(checks.values().all(|c| c["ok"] == true), "{checks:?}");
    // The session tags: ReadForTeamA holds, WriteForTeamB does not (by design).
    assert_has(
        &checks["pod-identity-session-tags"]["evidence"].to_string(),
        "kubernetes-namespace=team-a",
    );
}

/// The doctor, with the agent's URI pointing nowhere, says to run the agent.
fn agent_unreachable_is_diagnosed(up: &Up, resolved: &Path) {
    let (code, checks) = doctor_in_pod(
        up,
        resolved,
        &[(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://127.0.0.1:1/v1/credentials",
        )],
    );
    assert_eq!(code, 1);
    failed_with(
        &checks,
        "pod-identity-agent",
        "Connection refused",
        "run the agent on the pod's node",
    );
}

/// Tokens signed by the issuer of `irsa up` (its `state`) for another audience and another
/// ServiceAccount, each diagnosed (token files in `dir`).
fn foreign_tokens_are_diagnosed(up: &Up, state: &Path, resolved: &Path, dir: &Path) {
    let key = irsa_jose::SigningKey::from_pem(
        &std::fs::read_to_string(state.join("issuer-signing.key")).unwrap(),
    )
    .unwrap();
    let pod_token = claims_of(up.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
    // Doctor in a pod whose token file holds the pod's token changed by `edit`.
    let diagnose = |file: &str, edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut c = pod_token.clone();
        edit(&mut c);
        let p = dir.join(file);
        std::fs::write(&p, key.sign_jwt(&serde_json::Map::new(), &c).unwrap()).unwrap();
        doctor_in_pod(
            up,
            resolved,
            &[(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                p.to_str().unwrap(),
            )],
        )
    };
    let (code, checks) = diagnose("aud.token", &|c| {
        c.insert("aud".into(), serde_json::json!(["sts.amazonaws.com"]));
    });
    assert_eq!(code, 1);
    failed_with(
        &checks,
        "pod-identity-token-audience",
        r#"[\"sts.amazonaws.com\"]"#,
        "audience pods.eks.amazonaws.com",
    );
    failed_with(
        &checks,
        "pod-identity-agent",
        "(InvalidTokenException)",
        "EKS Auth refused the token",
    );

    let (code, checks) = diagnose("sa.token", &|c| {
        c.insert("sub".into(), "system:serviceaccount:team-a:writer".into());
        c["kubernetes.io"]["serviceaccount"]["name"] = "writer".into();
    });
    assert_eq!(code, 1);
    failed_with(
        &checks,
        "pod-identity-association",
        "no association for team-a/writer in cluster dev",
        "aws eks create-pod-identity-association --cluster-name dev --namespace team-a --service-account writer",
    );
    failed_with(
        &checks,
        "pod-identity-agent",
        "(ResourceNotFoundException)",
        "no pod identity association",
    );
}

#[test]
fn doctor_diagnoses_the_pod_identity_path_of_up() {
    let dir = tempfile::tempdir().unwrap();
    // The role's trust without sts:TagSession: EKS Auth refuses, and the doctor says why.
    for (name, text) in [
        ("good", POD_IDENTITY_CONFIG.to_owned()),
        (
            "no-tag-session",
            POD_IDENTITY_CONFIG.replacen(
                "Action: [sts:AssumeRole, sts:TagSession]",
                "Action: sts:AssumeRole",
                1,
            ),
        ),
    ] {
        let (up, state) = start_pod_identity_up(dir.path(), name, &text);
        let resolved = state.join("config.yaml");
        let (code, checks) = doctor_in_pod(&up, &resolved, &[]);
        if name == "no-tag-session" {
            assert_trust_without_tag_session(code, &checks);
            continue;
        }
        assert_all_pod_identity_checks_pass(code, &checks);
        agent_unreachable_is_diagnosed(&up, &resolved);
        foreign_tokens_are_diagnosed(&up, &state, &resolved, dir.path());
    }
}
