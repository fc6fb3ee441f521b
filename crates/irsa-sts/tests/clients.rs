//! `irsa sts`: the wire format checked byte by byte through its router in-process
//! (`oneshot`); connection limits (capacity, request and header timeouts) over loopback; then
//! REAL clients over the wire (aws-sdk-rust, boto3, the AWS CLI, aws-sdk-go-v2, the JS SDK
//! v3) obtaining credentials through their web-identity providers and calling
//! GetCallerIdentity, and meeting failures with the right error codes.
//!
//! External clients come from `scripts/deps/sts-clients.sh`; when one is missing the test
//! fails naming the script, unless `IRSA_SKIP_EXTERNAL` is set (see `irsa_test::skip_external`).

use irsa_test::jose::{jwks_of, rs256 as key, sign_over};
use irsa_test::net::{Body, Reply};
use irsa_test::now;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const ISS: &str = "https://oidc.example.test/id/ABC";
const ACCOUNT: &str = "111122223333";
const ROLE: &str = "arn:aws:iam::111122223333:role/team/reader";
const READER: &str = "system:serviceaccount:default:reader";

fn config_yaml(account: &str, sub: &str) -> String {
    format!(
        r#"
account: "{account}"
region: us-east-1
providers:
  - issuer: {ISS}
    audiences: [sts.amazonaws.com]
    jwksFile: jwks.json
roles:
  - name: reader
    path: /team/
    maxSessionDuration: 7200
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {{Federated: "arn:aws:iam::{account}:oidc-provider/oidc.example.test/id/ABC"}}
          Action: sts:AssumeRoleWithWebIdentity
          Condition:
            StringEquals:
              "oidc.example.test/id/ABC:aud": sts.amazonaws.com
              "oidc.example.test/id/ABC:sub": "{sub}"
    policies:
      read: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "s3:GetObject", Resource: "*"}}]}}
signingKeys:
  - file: master.key
"#
    )
}

struct Fixture {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    server: Arc<irsa_sts::Server>,
}

impl Fixture {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Writes a token file with `claims` merged over good defaults; returns its path.
    fn token_file(&self, name: &str, overrides: Value) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, token(overrides)).unwrap();
        p
    }
}

fn token(overrides: Value) -> String {
    let n = now();
    let claims = json!({
        "iss": ISS, "sub": READER, "aud": ["sts.amazonaws.com"],
        "iat": n - 5, "nbf": n - 5, "exp": n + 3600,
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "reader"}}
    });
    sign_over(key(), claims, &overrides)
}

fn start(options: irsa_sts::Options) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks_of(&[key()]).to_json()).unwrap();
    std::fs::write(dir.path().join("master.key"), "11".repeat(32)).unwrap();
    let cfg = dir.path().join("sts.yaml");
    std::fs::write(&cfg, config_yaml(ACCOUNT, READER)).unwrap();
    let server = irsa_sts::Server::from_file(&cfg, options).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let s2 = server.clone();
    irsa_test::net::spawn_runtime(async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tx.send(l.local_addr().unwrap()).unwrap();
        irsa_sts::serve(l, s2, std::future::pending())
            .await
            .unwrap();
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Fixture { dir, addr, server }
}

fn shared() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| start(irsa_sts::Options::default()))
}

/// `method target` with a form body, through the router of `server` in-process.
async fn call(server: &Arc<irsa_sts::Server>, method: &str, target: &str, body: &str) -> Reply {
    let request = http::Request::builder()
        .method(method)
        .uri(target)
        .header("host", "sts.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap();
    irsa_test::net::oneshot(irsa_sts::router(server.clone()), request).await
}

/// `POST /` with a form body over loopback to the server at `addr`.
fn post(addr: SocketAddr, body: &str) -> Reply {
    post_to(addr, "/", "application/x-www-form-urlencoded", body)
}

/// `POST path` with a `content_type` body over loopback to the server at `addr`.
fn post_to(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> Reply {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(irsa_test::net::post(
        &format!("http://{addr}{path}"),
        content_type,
        body.to_owned(),
    ))
}

/// The EKS Auth API's path for cluster `dev`.
const EKS_AUTH: &str = "/clusters/dev/assume-role-for-pod-identity";

/// A connection to `addr` holding a request open: the head of `POST path` announcing a
/// 100-byte body, then only `body_start` of it.
fn stalled(addr: SocketAddr, path: &str, body_start: &str) -> TcpStream {
    let mut slow = TcpStream::connect(addr).unwrap();
    write!(
        slow,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{body_start}"
    )
    .unwrap();
    slow
}

/// Everything the server writes on `s` until it closes the connection (at most 10 s).
fn read_to_close(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw
}

/// The AWS error code of an STS error answer.
fn code(r: &Reply) -> String {
    r.xml("Code")
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", irsa_test::bench::form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn assume_body(tok: &str, extra: &[(&str, &str)]) -> String {
    let mut p = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", ROLE),
        ("RoleSessionName", "wire"),
        ("WebIdentityToken", tok),
    ];
    p.extend_from_slice(extra);
    form(&p)
}

// ---------------------------------------------------------------- wire format

#[tokio::test]
async fn wire_success_shape_and_headers() {
    let f = shared();
    let tok = token(json!({}));
    let r = call(
        &f.server,
        "POST",
        "/",
        &assume_body(&tok, &[("PolicyArns", "")]),
    )
    .await;
    let body = r.text();
    assert_eq!(r.status, 200, "{body}");
    assert_eq!(r.header("content-type"), Some("text/xml"));
    let rid = r.header("x-amzn-requestid").unwrap().to_owned();
    assert_eq!(rid.len(), 36);
    assert!(body.starts_with(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    assert_eq!(r.xml("RequestId"), rid);
    let akid = r.xml("AccessKeyId");
    assert!(akid.starts_with("ASIA") && akid.len() == 20, "{akid}");
    assert_eq!(r.xml("SecretAccessKey").len(), 40);
    assert_eq!(
        r.xml("Arn"),
        "arn:aws:sts::111122223333:assumed-role/reader/wire"
    );
    let role_id = r.xml("AssumedRoleId");
    assert!(role_id.starts_with("AROA") && role_id.ends_with(":wire") && role_id.len() == 26);
    assert_eq!(
        r.xml("Provider"),
        "arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC"
    );
    assert_eq!(r.xml("Audience"), "sts.amazonaws.com");
    assert_eq!(r.xml("SubjectFromWebIdentityToken"), READER);
    let exp = r.xml("Expiration");
    assert!(exp.ends_with('Z') && exp.len() == 20, "{exp}");
    assert!(!body.contains("PackedPolicySize"));
}

#[tokio::test]
async fn wire_query_string_and_errors() {
    let f = shared();
    let tok = token(json!({}));
    let r = call(
        &f.server,
        "GET",
        &format!("/?{}", assume_body(&tok, &[])),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let bad_name = assume_body(&tok, &[]).replace("RoleSessionName=wire", "RoleSessionName=a%3Ab");
    let r = call(&f.server, "POST", "/", &bad_name).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>ValidationError</Code>\n    <Message>1 validation error detected: Value &apos;a:b&apos; at &apos;roleSessionName&apos; failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            r.header("x-amzn-requestid").unwrap()
        )
    );
    let r = call(
        &f.server,
        "POST",
        "/",
        "Action=AssumeRole&Version=2011-06-15",
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "InvalidAction"));
    let r = call(
        &f.server,
        "POST",
        "/",
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "MissingAuthenticationToken")
    );
    let r = call(
        &f.server,
        "POST",
        "/",
        &assume_body(&tok, &[("DurationSeconds", "7201")]),
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "ValidationError"));
    let unknown_role = assume_body(&tok, &[]).replace("team%2Freader", "team%2Fnope");
    let r = call(&f.server, "POST", "/", &unknown_role).await;
    assert_eq!((r.status, code(&r).as_str()), (403, "AccessDenied"));
}

#[tokio::test]
async fn wire_body_limit() {
    let f = shared();
    let big = "x".repeat(70 * 1024);
    let r = call(
        &f.server,
        "POST",
        "/",
        &format!("Action=GetCallerIdentity&pad={big}"),
    )
    .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (413, "RequestEntityTooLarge")
    );
}

#[test]
fn throttles_at_once_over_capacity() {
    // Capacity 0 would be useless; capacity 1 with a request held open by a slow body.
    let f = start(irsa_sts::Options {
        max_concurrency: 1,
        ..irsa_sts::Options::default()
    });
    let slow = stalled(f.addr, "/", "Action=");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let r = post(f.addr, "Action=GetCallerIdentity");
    assert_eq!(code(&r), "Throttling");
    assert_eq!(r.status, 400);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "did not answer at once"
    );
    drop(slow);
}

#[test]
fn eks_auth_route_throttles_in_its_own_form() {
    // One concurrency limit for both protocols, each refused in its own form: with the
    // one slot held by an EKS Auth request, another EKS Auth request gets the API's
    // ThrottlingException (429, JSON) and an STS request STS's `Throttling` (400, XML).
    let f = start(irsa_sts::Options {
        max_concurrency: 1,
        ..irsa_sts::Options::default()
    });
    let slow = stalled(f.addr, EKS_AUTH, "{");
    std::thread::sleep(Duration::from_millis(300));
    let r = post_to(f.addr, EKS_AUTH, "application/json", r#"{"token":"a.b.c"}"#);
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("x-amzn-errortype"), Some("ThrottlingException"));
    assert_eq!(r.json()["__type"], "ThrottlingException");
    let r = post(f.addr, "Action=GetCallerIdentity");
    assert_eq!((r.status, code(&r).as_str()), (400, "Throttling"));
    drop(slow);
}

#[test]
fn request_timeout_is_bounded() {
    let f = start(irsa_sts::Options {
        request_timeout: Duration::from_millis(500),
        ..irsa_sts::Options::default()
    });
    let raw = read_to_close(&mut stalled(f.addr, "/", "Action="));
    assert!(raw.starts_with("HTTP/1.1 503"), "{raw}");
    assert!(raw.contains("<Code>ServiceUnavailable</Code>"));
}

#[test]
fn eks_auth_request_timeout_answers_in_its_own_form() {
    let f = start(irsa_sts::Options {
        request_timeout: Duration::from_millis(500),
        ..irsa_sts::Options::default()
    });
    let raw = read_to_close(&mut stalled(f.addr, EKS_AUTH, "{"));
    assert!(raw.starts_with("HTTP/1.1 503"), "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("x-amzn-errortype: serviceunavailableexception"),
        "{raw}"
    );
    assert!(
        raw.contains(r#""__type":"ServiceUnavailableException""#),
        "{raw}"
    );
}

/// Reads until the server closes the connection; the time that took (or `None` when it
/// was still open after `limit`).
fn time_to_close(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
}

#[test]
fn slow_headers_are_cut_off() {
    let f = start(irsa_sts::Options {
        header_read_timeout: Duration::from_millis(500),
        max_concurrency: 1,
        ..irsa_sts::Options::default()
    });
    // Half a request line, then silence (slowloris).
    let mut half = TcpStream::connect(f.addr).unwrap();
    half.write_all(b"POST / HT").unwrap();
    // Headers started but never finished.
    let mut partial = TcpStream::connect(f.addr).unwrap();
    partial
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        .unwrap();
    for (name, s) in [
        ("half request line", &mut half),
        ("partial headers", &mut partial),
    ] {
        let closed = time_to_close(s, Duration::from_secs(5));
        assert!(
            closed.is_some_and(|d| d < Duration::from_secs(3)),
            "{name}: connection still open after 5 s ({closed:?})"
        );
    }
    // The server still answers (no permit was held by the stalled connections).
    let r = post(f.addr, "Action=GetCallerIdentity");
    assert_eq!(code(&r), "MissingAuthenticationToken", "{}", r.text());
}

#[test]
fn default_jwks_fetch_budget_fits_in_the_request_timeout() {
    let o = irsa_sts::Options::default();
    assert!(o.jwks_client.fetch_timeout < o.request_timeout);
    assert_eq!(o.header_read_timeout, Duration::from_secs(10));
}

/// A local issuer on plain http (discovery + JWKS with `key()`) and an STS whose provider
/// is that issuer (no `jwksFile`: keys through discovery). Returns the issuer and the STS
/// load result (`Err` text when the configuration is refused).
fn start_with_http_issuer(allow_http: bool) -> (String, Result<SocketAddr, String>) {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    irsa_test::net::spawn_runtime(async move {
        let il = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = il.local_addr().unwrap().to_string();
        let issuer = format!("http://{host}");
        let state = irsa_oidc::IssuerState::new(&issuer, &jwks_of(&[key()]), 3600).unwrap();
        tokio::spawn(irsa_oidc::serve(
            il,
            irsa_oidc::router(state),
            None,
            std::future::pending(),
        ));
        let yaml = config_yaml(ACCOUNT, READER)
            .replace(ISS, &issuer)
            .replace("    jwksFile: jwks.json\n", "")
            .replace("oidc.example.test/id/ABC", &host);
        std::fs::write(dir.path().join("master.key"), "11".repeat(32)).unwrap();
        let mut options = irsa_sts::Options::default();
        options.jwks_client.allow_insecure_http_issuer = allow_http;
        let server = match irsa_sts::Server::new(&yaml, dir.path(), options) {
            Ok(s) => s,
            Err(e) => {
                tx.send((issuer, Err(e.to_string()))).unwrap();
                return;
            }
        };
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tx.send((issuer, Ok(l.local_addr().unwrap()))).unwrap();
        irsa_sts::serve(l, server, std::future::pending())
            .await
            .unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

#[test]
fn http_issuer_needs_the_loud_option() {
    let (issuer, refused) = start_with_http_issuer(false);
    let e = refused.unwrap_err();
    assert!(
        e.contains("providers[0].issuer") && e.contains("--insecure-allow-http-issuer"),
        "{e}"
    );
    let (issuer2, addr) = start_with_http_issuer(true);
    assert_ne!(issuer, issuer2);
    let addr = addr.unwrap();
    let tok = token(json!({"iss": issuer2}));
    let r = post(addr, &assume_body(&tok, &[]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.xml("Provider"),
        format!(
            "arn:aws:iam::111122223333:oidc-provider/{}",
            issuer2.replace("http://", "")
        ),
        "{}",
        r.text()
    );
}

#[test]
fn prepared_keys_are_built_once_per_jwks() {
    let f = shared();
    let jwks = Arc::new(jwks_of(&[key()]));
    let a = f
        .server
        .prepared_keys("https://test.example/prepared", &jwks);
    let b = f
        .server
        .prepared_keys("https://test.example/prepared", &jwks);
    assert!(Arc::ptr_eq(&a, &b), "same JWKS: prepared once");
    assert_eq!(a.jwks(), &*jwks);
    let refetched = Arc::new((*jwks).clone());
    let c = f
        .server
        .prepared_keys("https://test.example/prepared", &refetched);
    assert!(!Arc::ptr_eq(&a, &c), "another fetch: prepared again");
    let d = f
        .server
        .prepared_keys("https://test.example/prepared", &refetched);
    assert!(Arc::ptr_eq(&c, &d));
}

#[tokio::test]
async fn reload_keeps_old_config_when_bad_and_applies_good() {
    let f = start(irsa_sts::Options::default());
    let cfg = f.path("sts.yaml");
    let tok = token(json!({}));
    let body = assume_body(&tok, &[]);
    assert_eq!(call(&f.server, "POST", "/", &body).await.status, 200);
    std::fs::write(&cfg, "account: [not valid").unwrap();
    assert!(f.server.reload(&cfg).is_err());
    assert_eq!(
        call(&f.server, "POST", "/", &body).await.status,
        200,
        "old configuration kept"
    );
    std::fs::write(
        &cfg,
        config_yaml(ACCOUNT, "system:serviceaccount:default:other"),
    )
    .unwrap();
    f.server.reload(&cfg).unwrap();
    assert_eq!(
        call(&f.server, "POST", "/", &body).await.status,
        403,
        "new trust policy applied"
    );
}

#[test]
fn sessions_survive_key_rotation() {
    // Credentials sealed by the old key still open after the key ring gains a new active key.
    let f = start(irsa_sts::Options::default());
    let conf = aws_conf(&f, &f.token_file("rot.token", json!({})));
    let client = aws_sdk_sts::Client::new(&conf);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        client.get_caller_identity().send().await.unwrap();
        std::fs::write(f.path("new.key"), "22".repeat(32)).unwrap();
        let cfg = config_yaml(ACCOUNT, READER).replace(
            "signingKeys:\n  - file: master.key",
            "signingKeys:\n  - file: new.key\n  - file: master.key",
        );
        std::fs::write(f.path("sts.yaml"), cfg).unwrap();
        f.server.reload(&f.path("sts.yaml")).unwrap();
        let id = client.get_caller_identity().send().await.unwrap();
        assert_eq!(id.account(), Some(ACCOUNT));
    });
}

// ---------------------------------------------------------------- aws-sdk-rust

fn aws_conf(f: &Fixture, token_file: &Path) -> aws_config::SdkConfig {
    use aws_types::os_shim_internal::{Env, Fs};
    let url = f.url();
    let tf = token_file.display().to_string();
    let env = Env::from_slice(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", tf.as_str()),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_ROLE_SESSION_NAME", "rust-sdk"),
        ("AWS_ENDPOINT_URL_STS", url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .env(env)
            .fs(Fs::real())
            .load(),
    )
}

#[test]
fn aws_sdk_rust_web_identity_then_get_caller_identity() {
    let f = shared();
    let conf = aws_conf(f, &f.token_file("rust.token", json!({})));
    let client = aws_sdk_sts::Client::new(&conf);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let id = client.get_caller_identity().send().await.unwrap();
        assert_eq!(
            id.arn(),
            Some("arn:aws:sts::111122223333:assumed-role/reader/rust-sdk")
        );
        assert_eq!(id.account(), Some(ACCOUNT));
        assert!(id.user_id().unwrap().starts_with("AROA"));
    });
}

#[test]
#[allow(clippy::result_large_err, reason = "the SDK's error type")]
fn aws_sdk_rust_failures() {
    let f = shared();
    let conf = aws_conf(f, &f.token_file("rust-fail.token", json!({})));
    let client = aws_sdk_sts::Client::new(&conf);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let call = |tok: String, policy: Option<&str>| {
        rt.block_on(async {
            client
                .assume_role_with_web_identity()
                .role_arn(ROLE)
                .role_session_name("rust")
                .web_identity_token(tok)
                .set_policy(policy.map(str::to_owned))
                .send()
                .await
        })
    };
    use aws_sdk_sts::operation::assume_role_with_web_identity::{
        AssumeRoleWithWebIdentityError, AssumeRoleWithWebIdentityOutput,
    };
    let code_of = |r: Result<
        AssumeRoleWithWebIdentityOutput,
        aws_sdk_sts::error::SdkError<AssumeRoleWithWebIdentityError, _>,
    >|
     -> (String, String) {
        use aws_sdk_sts::error::ProvideErrorMetadata;
        let se: AssumeRoleWithWebIdentityError = r.unwrap_err().into_service_error();
        (
            se.code().unwrap_or_default().to_owned(),
            se.message().unwrap_or_default().to_owned(),
        )
    };
    for (overrides, want_code, want_msg) in failure_cases() {
        let (code, msg) = code_of(call(token(overrides), None));
        assert_eq!(code, want_code, "{msg}");
        assert!(msg.starts_with(want_msg), "{code}: {msg}");
    }
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}"#;
    let out = call(token(json!({})), Some(narrow)).unwrap();
    #[allow(deprecated)]
    let size = out.packed_policy_size().unwrap();
    assert!(size > 0 && size <= 100);
    let (code, _) = code_of(call(
        token(json!({})),
        Some(r#"{"Statement":[{"Effect":"Maybe"}]}"#),
    ));
    assert_eq!(code, "MalformedPolicyDocument");
}

/// (claim overrides, code, message prefix) — the same for every client.
fn failure_cases() -> Vec<(Value, &'static str, &'static str)> {
    let n = now();
    vec![
        (
            json!({"exp": n - 400, "iat": n - 4000, "nbf": n - 4000}),
            "ExpiredTokenException",
            "Token expired: current date/time",
        ),
        (
            json!({"aud": ["someone-else"]}),
            "InvalidIdentityToken",
            "Incorrect token audience",
        ),
        (
            json!({"sub": "system:serviceaccount:default:intruder"}),
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ),
        (
            json!({"iss": "https://unknown.example.test"}),
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://unknown.example.test",
        ),
    ]
}

// ---------------------------------------------------------------- external clients

/// An installed client (relative to the workspace root); see `irsa_test::external`.
fn external(path: &str, what: &str) -> Option<PathBuf> {
    irsa_test::external(path, what, "scripts/deps/sts-clients.sh")
}

fn root() -> PathBuf {
    irsa_test::workspace_root()
}

/// Runs a client with a clean environment (no credentials, no config files), bounded in time.
fn run_client(
    f: &Fixture,
    program: &Path,
    args: &[&str],
    token_file: &Path,
    extra_env: &[(&str, String)],
) -> (bool, String, String) {
    let token_file = token_file.display().to_string();
    let sts = f.url();
    let mut env = vec![
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.as_str()),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
        ("AWS_REGION", "us-east-1"),
        // As the pod identity webhook injects both (botocore reads only the second).
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ];
    env.extend(extra_env.iter().map(|(k, v)| (*k, v.as_str())));
    let r = irsa_test::run_client(program, args, &f.path("home"), &env);
    (r.ok, r.stdout, r.stderr)
}

fn check_client_json(
    client: &str,
    f: &Fixture,
    program: &Path,
    prefix_args: &[&str],
    session_prefix: &str,
) {
    // 1. Credentials through the web-identity provider, then GetCallerIdentity.
    let tf = f.token_file(&format!("{client}.token"), json!({}));
    let mut args = prefix_args.to_vec();
    args.push("identity");
    let (ok, out, err) = run_client(f, program, &args, &tf, &[]);
    assert!(ok, "{client} identity failed: {out}\n{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{client}: {out}"));
    let arn = v["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::111122223333:assumed-role/reader/{session_prefix}"
        )),
        "{client}: {arn}"
    );
    assert_eq!(v["Account"], ACCOUNT);
    assert!(v["UserId"].as_str().unwrap().starts_with("AROA"));

    // 2. Failures, surfaced with the right code.
    for (i, (overrides, code, msg)) in failure_cases().into_iter().enumerate() {
        let tf = f.token_file(&format!("{client}-fail-{i}.token"), overrides);
        let mut args = prefix_args.to_vec();
        args.push("assume");
        let (_, out, err) = run_client(f, program, &args, &tf, &[]);
        let v: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|_| panic!("{client} case {i}: {out}\n{err}"));
        assert_eq!(v["code"], code, "{client} case {i}: {v}");
        assert!(
            v["message"].as_str().unwrap_or("").starts_with(msg),
            "{client} case {i}: {v}"
        );
    }
    // 3. A session policy that narrows: accepted, PackedPolicySize reported.
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}"#;
    let mut args = prefix_args.to_vec();
    args.push("assume");
    let (_, out, err) = run_client(
        f,
        program,
        &args,
        &tf,
        &[("STS_TEST_POLICY", narrow.to_owned())],
    );
    let v: Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{client}: {out}\n{err}"));
    assert_eq!(v["code"], "OK", "{client}: {v}");
    let size = v["packedPolicySize"].as_i64().unwrap();
    assert!(size > 0 && size <= 100, "{client}: {v}");
}

#[test]
fn boto3() {
    let Some(py) = external(".cache/sts-clients/venv/bin/python", "boto3") else {
        return;
    };
    let script = root().join("tools/sdk-python/sts_client.py");
    let f = shared();
    check_client_json(
        "boto3",
        f,
        &py,
        &[script.to_str().unwrap()],
        "botocore-session-",
    );
}

#[test]
fn aws_cli() {
    let Some(aws) = external(".cache/sts-clients/venv/bin/aws", "aws cli") else {
        return;
    };
    let f = shared();
    let tf = f.token_file("cli.token", json!({}));
    let (ok, out, err) = run_client(
        f,
        &aws,
        &["sts", "get-caller-identity", "--output", "json"],
        &tf,
        &[],
    );
    assert!(ok, "aws sts get-caller-identity: {out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["Arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sts::111122223333:assumed-role/reader/botocore-session-")
    );
    for (i, (overrides, code, msg)) in failure_cases().into_iter().enumerate() {
        let tok = token(overrides);
        let (ok, out, err) = run_client(
            f,
            &aws,
            &[
                "sts",
                "assume-role-with-web-identity",
                "--role-arn",
                ROLE,
                "--role-session-name",
                "cli",
                "--web-identity-token",
                &tok,
            ],
            &tf,
            &[],
        );
        assert!(!ok, "case {i} succeeded: {out}");
        assert!(err.contains(&format!("({code})")), "case {i}: {err}");
        assert!(err.contains(msg), "case {i}: {err}");
    }
}

#[test]
fn aws_sdk_go_v2() {
    let Some(bin) = external(".cache/sts-clients/sdk-go-client", "aws-sdk-go-v2 client") else {
        return;
    };
    check_client_json("go", shared(), &bin, &[], "");
}

#[test]
fn aws_sdk_js_v3() {
    let Some(_) = external(
        "tools/sdk-js/node_modules/@aws-sdk/client-sts",
        "@aws-sdk/client-sts",
    ) else {
        return;
    };
    let node = PathBuf::from("node");
    let script = root().join("tools/sdk-js/sts-client.mjs");
    check_client_json("js", shared(), &node, &[script.to_str().unwrap()], "");
}
