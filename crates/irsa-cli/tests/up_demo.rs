//! `irsa demo` and `irsa up` through the binary: the demo's story and exit code, and a real
//! SDK (aws-sdk-rust) configured only from the environment `irsa up` prints.
//!
//! The demo's run with a DynamoDB upstream uses dynalite (install with
//! scripts/deps/gateway.sh); without it that test fails naming the script, unless
//! `IRSA_SKIP_EXTERNAL` is set (see `irsa_test::skip_external`).

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use irsa_test::{Dynalite, wait_bounded};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROLE: &str = "arn:aws:iam::111122223333:role/allow-read";

fn irsa() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_irsa"));
    c.env_remove("IRSA_DEMO_DYNAMODB_UPSTREAM")
        .env_remove("IRSA_UP_DYNAMODB_UPSTREAM")
        .env_remove("IRSA_UP_CONFIG")
        .env_remove("IRSA_UP_STATE_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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

/// Whether `needle` occurs in `haystack`, whitespace runs (line wraps) counting as one space.
#[track_caller]
fn assert_has(haystack: &str, needle: &str) {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        norm(haystack).contains(&norm(needle)),
        "missing `{needle}` in:\n{haystack}"
    );
}

#[test]
fn demo_tells_the_story_offline() {
    let r = run_bounded(
        {
            let mut c = irsa();
            c.arg("demo");
            c
        },
        Duration::from_secs(120),
    );
    let out = &r.stdout;
    assert!(
        r.status.success(),
        "exit {:?}\n{out}\n{}",
        r.status,
        r.stderr
    );
    // 1-2: manifests and the mutation as a diff.
    assert_has(
        out,
        "eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/allow-read",
    );
    assert_has(out, "+++ pod (as admitted)");
    assert_has(out, "+    - name: AWS_WEB_IDENTITY_TOKEN_FILE");
    assert_has(out, "+          audience: sts.amazonaws.com");
    // 3: the token, decoded and verified with the issuer's published keys.
    assert_has(
        out,
        "\"sub\": \"system:serviceaccount:default:my-serviceaccount\"",
    );
    assert_has(out, "✔ Signature Verified (RS256 key");
    // 4: the decision and the statement that made it.
    assert_has(out, "✔ Allow, by statement 0 (Sid `AllowMyServiceAccount`)");
    // 5: the exchange by the SDK.
    assert_has(
        out,
        "AssumedRoleUser.Arn:         arn:aws:sts::111122223333:assumed-role/allow-read/my-app",
    );
    assert_has(out, "AccessKeyId:                 ASIA");
    assert_has(
        out,
        "Arn:     arn:aws:sts::111122223333:assumed-role/allow-read/my-app",
    );
    // 6: no upstream, said plainly; the write denied by policy.
    assert_has(out, "No DynamoDB upstream is configured");
    assert_has(
        out,
        "UpstreamNotConfigured: irsa: no DynamoDB upstream is configured",
    );
    assert_has(
        out,
        "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/allow-read/my-app is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:111122223333:table/my-table",
    );
    // 7: the other ServiceAccount, refused with the reason.
    assert_has(
        out,
        "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    assert_has(
        out,
        "the token's sub is `system:serviceaccount:default:other-serviceaccount`",
    );
    assert_has(out, "✔ refused: AccessDenied");
    assert_has(out, "Every step behaved as the story says (7 checks).");
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
    let r = run_bounded(
        {
            let mut c = irsa();
            c.args(["demo", "--dynamodb-upstream", &upstream.url]);
            c
        },
        Duration::from_secs(120),
    );
    drop(upstream);
    let out = &r.stdout;
    assert!(
        r.status.success(),
        "exit {:?}\n{out}\n{}",
        r.status,
        r.stderr
    );
    assert_has(out, "\"message\":{\"S\":\"read through irsa gateway\"}");
    assert_has(out, "✔ the read was allowed and reached the table");
    assert_has(out, "✔ the write was denied: AccessDeniedException");
    assert!(!out.contains("UpstreamNotConfigured"), "{out}");
}

/// `irsa up` on free ports; its printed environment; stopped by SIGTERM on drop.
struct Up {
    child: Child,
    env: Vec<(String, String)>,
    stderr: mpsc::Receiver<String>,
}

impl Up {
    fn start(state: &Path, extra: &[&str]) -> Up {
        let mut c = irsa();
        c.args([
            "up",
            "--issuer-listen",
            "127.0.0.1:0",
            "--sts-listen",
            "127.0.0.1:0",
            "--gateway-listen",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(state)
        .args(extra);
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
        while env.len() < 6 {
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

fn sdk_config(up: &Up) -> aws_config::SdkConfig {
    use aws_types::os_shim_internal::{Env, Fs};
    let mut vars: Vec<(&str, &str)> = up
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.extend([
        ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let env = Env::from_slice(&vars);
    tokio::runtime::Runtime::new().unwrap().block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .env(env)
            .fs(Fs::real())
            .load(),
    )
}

fn claims_of(token_file: &str) -> serde_json::Map<String, serde_json::Value> {
    let token = std::fs::read_to_string(token_file).unwrap();
    irsa_jose::peek(token.trim()).unwrap().claims
}

#[test]
#[allow(clippy::result_large_err, reason = "the SDK's error type")]
fn up_serves_an_unchanged_sdk_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut up = Up::start(&state, &["--token-refresh-secs", "1"]);
    let names: Vec<&str> = up.env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION"
        ]
    );
    assert_eq!(up.var("AWS_ROLE_ARN"), ROLE);
    assert_eq!(up.var("AWS_REGION"), "us-east-1");
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

    let conf = sdk_config(&up);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // The default credential chain: web identity from the token file, via AWS_ENDPOINT_URL_STS.
        let sts = aws_sdk_sts::Client::new(&conf);
        let id = sts.get_caller_identity().send().await.unwrap();
        let arn = id.arn().unwrap();
        assert!(
            arn.starts_with("arn:aws:sts::111122223333:assumed-role/allow-read/"),
            "{arn}"
        );
        assert_eq!(id.account(), Some("111122223333"));
        // AssumeRoleWithWebIdentity by hand with the token file.
        let token = std::fs::read_to_string(&token_file).unwrap();
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

        // DynamoDB through the gateway: no upstream; the write is denied by policy.
        use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
        use aws_sdk_dynamodb::types::AttributeValue;
        let ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&conf)
                .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
                .build(),
        );
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
    });

    // The token file is refreshed (here every second) with a new token.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = claims_of(&token_file);
        if now["jti"] != first["jti"] {
            assert_eq!(now["sub"], first["sub"]);
            break;
        }
        assert!(Instant::now() < deadline, "the token was not refreshed");
        std::thread::sleep(Duration::from_millis(200));
    }

    let status = up.terminate();
    assert!(status.success(), "{status:?}");
    let stderr: Vec<String> = up.stderr.try_iter().collect();
    let stderr = stderr.join("\n");
    assert_has(&stderr, "irsa up: terminate: shutting down");
    assert_has(&stderr, "irsa up: stopped");
    assert!(!stderr.contains("eyJ"), "a token was logged:\n{stderr}");
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
        r.stdout
            .replace("role/allow-read\n", "role/nope\n")
            .replace("name: allow-read", "name: other"),
    )
    .unwrap();
    let r2 = run_bounded(
        {
            let mut c = irsa();
            c.args([
                "up",
                "--issuer-listen",
                "127.0.0.1:0",
                "--sts-listen",
                "127.0.0.1:0",
            ])
            .args(["--gateway-listen", "127.0.0.1:0", "--config"])
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
