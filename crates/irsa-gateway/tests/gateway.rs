//! The gateway end to end: dynalite (a DynamoDB-compatible server, installed by
//! scripts/deps/gateway.sh) as the upstream, credentials issued with irsa-sts-core's key
//! ring, and real clients: aws-sdk-dynamodb, boto3 and raw requests signed by `aws-sigv4`.
//!
//! Without dynalite or boto3 the tests fail naming scripts/deps/gateway.sh, unless
//! `IRSA_SKIP_EXTERNAL` is set (see `irsa_test::skip_external`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::process::Command;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use irsa_gateway::{Options, UpstreamSection};
use irsa_sts_core::{Credentials, KeyRing, MasterKey, SessionClaims, issue_credentials};
use irsa_test::{Dynalite, now, sigv4};
use serde_json::{Value, json};

#[path = "gateway/attacks.rs"]
mod attacks;
#[path = "gateway/s3.rs"]
mod s3;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const BOOKS: &str = "arn:aws:dynamodb:us-east-1:111122223333:table/Books";
const UPSTREAM_AKID: &str = "AKIAUPSTREAMEXAMPLE1";
const UPSTREAM_SECRET: &str = "upstream/secret/key/EXAMPLEKEYEXAMPLEKEY0";

fn python_with_boto3() -> Option<PathBuf> {
    for venv in [".cache/sts-clients/venv", ".cache/gateway/venv"] {
        let python = irsa_test::workspace_root().join(venv).join("bin/python");
        let ok = std::process::Command::new(&python)
            .args(["-c", "import boto3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    irsa_test::missing_external(
        "boto3",
        "no venv with boto3 under .cache",
        "scripts/deps/gateway.sh",
    )
}

/// dynalite with the tables of `seed`, or `None` when it is not installed and external
/// peers may be skipped.
fn dynalite() -> Option<Dynalite> {
    Dynalite::start()
}

// ---------- raw signed requests ----------

#[derive(Clone)]
struct Creds {
    akid: String,
    secret: String,
    token: Option<String>,
}

impl From<&Credentials> for Creds {
    fn from(c: &Credentials) -> Self {
        Creds {
            akid: c.access_key_id.clone(),
            secret: c.secret_access_key.clone(),
            token: Some(c.session_token.clone()),
        }
    }
}

impl Creds {
    fn keys(&self) -> sigv4::Keys {
        sigv4::Keys {
            access_key_id: self.akid.clone(),
            secret_access_key: self.secret.clone(),
            session_token: self.token.clone(),
        }
    }
}

fn upstream_creds() -> Creds {
    Creds {
        akid: UPSTREAM_AKID.into(),
        secret: UPSTREAM_SECRET.into(),
        token: None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Header,
    Presigned,
    UnsignedPayload,
}

struct Call<'a> {
    url: &'a str,
    creds: &'a Creds,
    region: &'a str,
    op: &'a str,
    body: Value,
    form: Form,
    time: SystemTime,
    /// Replaces the body after signing (tampering).
    send_body: Option<Vec<u8>>,
    /// The headers signed and sent, instead of `content-type` and `x-amz-target`.
    signed_headers: Option<Vec<(String, String)>>,
    /// Headers added after signing.
    unsigned_headers: Vec<(String, String)>,
}

impl<'a> Call<'a> {
    fn new(url: &'a str, creds: &'a Creds, op: &'a str, body: Value) -> Self {
        Call {
            url,
            creds,
            region: REGION,
            op,
            body,
            form: Form::Header,
            time: SystemTime::now(),
            send_body: None,
            signed_headers: None,
            unsigned_headers: Vec::new(),
        }
    }
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn error_type(&self) -> String {
        let v = self.json();
        v["__type"]
            .as_str()
            .and_then(|t| t.rsplit_once('#'))
            .map(|(_, c)| c.to_owned())
            .unwrap_or_default()
    }
    fn message(&self) -> String {
        let v = self.json();
        v.get("Message")
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

async fn send(call: Call<'_>) -> Answer {
    let body = serde_json::to_vec(&call.body).unwrap();
    let url = format!("{}/", call.url);
    let target = format!("DynamoDB_20120810.{}", call.op);
    let headers: Vec<(String, String)> = call.signed_headers.clone().unwrap_or_else(|| {
        vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.0".to_owned(),
            ),
            ("x-amz-target".to_owned(), target),
        ]
    });
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let keys = call.creds.keys();
    let mut signing = sigv4::Signing::new(&keys, call.region, "dynamodb", call.time);
    let payload = match call.form {
        Form::Header => sigv4::Payload::Bytes(&body),
        Form::Presigned => {
            signing.settings.signature_location = sigv4::SignatureLocation::QueryParams;
            signing.settings.expires_in = Some(Duration::from_secs(300));
            sigv4::Payload::Bytes(&body)
        }
        Form::UnsignedPayload => {
            signing.settings.payload_checksum_kind = sigv4::PayloadChecksumKind::XAmzSha256;
            sigv4::Payload::Unsigned
        }
    };
    let sent = Full::new(Bytes::from(
        call.send_body.clone().unwrap_or_else(|| body.clone()),
    ));
    let mut request = sigv4::sign_request(&signing, "POST", &url, &headers, payload, sent);
    for (n, v) in &call.unsigned_headers {
        request.headers_mut().append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    let reply = irsa_test::net::send(request).await;
    Answer {
        status: reply.status,
        headers: reply.headers,
        body: reply.body,
    }
}

async fn direct(url: &str, op: &str, body: Value) -> Answer {
    let creds = upstream_creds();
    send(Call::new(url, &creds, op, body)).await
}

// ---------- the environment ----------

const CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
roles:
  - name: reader
    path: /apps/
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}
          Action: sts:AssumeRoleWithWebIdentity
    policies:
      read-books:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: [dynamodb:GetItem, dynamodb:Query, dynamodb:BatchGetItem]
            Resource:
              - arn:aws:dynamodb:us-east-1:111122223333:table/Books
              - arn:aws:dynamodb:us-east-1:111122223333:table/Books/index/ByGenre
          - Effect: Deny
            Action: "dynamodb:*"
            Resource: arn:aws:dynamodb:us-east-1:111122223333:table/Secrets
  - name: writer
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}
          Action: sts:AssumeRoleWithWebIdentity
    managedPolicies: [arn:aws:iam::111122223333:policy/tolkien-writer]
policies:
  - name: tolkien-writer
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: [dynamodb:PutItem, dynamodb:GetItem]
          Resource: arn:aws:dynamodb:us-east-1:111122223333:table/Books
          Condition:
            ForAllValues:StringEquals:
              dynamodb:LeadingKeys: [Tolkien]
signingKeys:
  - file: master.key
gateway:
  upstream:
    url: UPSTREAM_URL
    accessKeyId: AKIAUPSTREAMEXAMPLE1
    secretAccessKeyFile: upstream.secret
"#;

struct Env {
    _dir: tempfile::TempDir,
    _dynalite: Dynalite,
    upstream: String,
    gateway: String,
    gateway_state: Arc<irsa_gateway::Gateway>,
    config: PathBuf,
    ring: KeyRing,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Env {
    async fn start() -> Option<Env> {
        Env::start_with(Options::default()).await
    }

    async fn start_with(options: Options) -> Option<Env> {
        let dynalite = dynalite()?;
        let upstream = dynalite.url.clone();
        seed(&upstream).await;

        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate(&mut rand::rngs::OsRng);
        std::fs::write(dir.path().join("master.key"), key.to_hex()).unwrap();
        std::fs::write(
            dir.path().join("upstream.secret"),
            format!("{UPSTREAM_SECRET}\n"),
        )
        .unwrap();
        let config = dir.path().join("irsa.yaml");
        std::fs::write(&config, CONFIG.replace("UPSTREAM_URL", &upstream)).unwrap();
        let gateway = irsa_gateway::from_file(
            &config,
            UpstreamSection::default(),
            Duration::from_secs(10),
            options,
        )
        .unwrap();
        let (addr, tx) = serve_gateway(gateway.clone()).await;
        Some(Env {
            _dir: dir,
            _dynalite: dynalite,
            upstream,
            gateway: format!("http://{addr}"),
            gateway_state: gateway,
            config,
            ring: KeyRing::single(key),
            _shutdown: tx,
        })
    }

    fn claims(role: &str, issued_at: i64, expires_at: i64) -> SessionClaims {
        let role_arn = match role {
            "reader" => format!("arn:aws:iam::{ACCOUNT}:role/apps/reader"),
            other => format!("arn:aws:iam::{ACCOUNT}:role/{other}"),
        };
        irsa_test::sts::session_claims(&role_arn, issued_at, expires_at)
    }

    fn issue_claims(&self, claims: &SessionClaims) -> Credentials {
        issue_credentials(&self.ring, claims, &mut rand::rngs::OsRng).unwrap()
    }

    fn issue(&self, role: &str) -> Credentials {
        self.issue_claims(&Env::claims(role, now(), now() + 3600))
    }

    fn sdk(&self, creds: &Credentials) -> aws_sdk_dynamodb::Client {
        sdk_client(&self.gateway, creds)
    }
}

/// An aws-sdk-dynamodb client of `endpoint` with the session credentials `creds`.
fn sdk_client(endpoint: &str, creds: &Credentials) -> aws_sdk_dynamodb::Client {
    irsa_test::sdk::dynamodb(
        endpoint,
        irsa_test::sdk::credentials(
            &creds.access_key_id,
            &creds.secret_access_key,
            Some(&creds.session_token),
        ),
    )
}

/// Runs the client program `program args` with `vars` added to its environment and no AWS
/// profile files, bounded to `within`; it must succeed. The JSON it printed.
async fn run_json_client(
    program: &Path,
    args: &[&Path],
    vars: Vec<(String, String)>,
    within: Duration,
) -> Value {
    let output = Command::new(program)
        .args(args)
        .envs(vars)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(within, output)
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {within:?}", program.display()))
        .unwrap();
    assert!(output.status.success(), "{} failed", program.display());
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("{out:#}");
    out
}

/// The environment giving a client program the session credentials of `reader` and
/// `writer` (`READER_AKID`, `READER_SECRET`, `READER_TOKEN`, and the same for `WRITER_`).
fn session_env(reader: &Credentials, writer: &Credentials) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (who, c) in [("READER", reader), ("WRITER", writer)] {
        env.push((format!("{who}_AKID"), c.access_key_id.clone()));
        env.push((format!("{who}_SECRET"), c.secret_access_key.clone()));
        env.push((format!("{who}_TOKEN"), c.session_token.clone()));
    }
    env
}

/// Serves `gateway` on an ephemeral port of 127.0.0.1 until the returned sender is dropped;
/// its address.
async fn serve_gateway(
    gateway: Arc<irsa_gateway::Gateway>,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(irsa_gateway::serve(listener, gateway, async {
        let _ = rx.await;
    }));
    (addr, tx)
}

/// Waits (bounded: 5 s) until the upstream reports `table` ACTIVE.
async fn wait_active(upstream: &str, table: &str) {
    for _ in 0..100 {
        let d = direct(upstream, "DescribeTable", json!({ "TableName": table })).await;
        if d.json()["Table"]["TableStatus"] == "ACTIVE" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{table} did not become ACTIVE within 5 s");
}

async fn seed(upstream: &str) {
    let gsi = |name: &str, hash: &str| {
        json!({"IndexName": name,
               "KeySchema": [{"AttributeName": hash, "KeyType": "HASH"}],
               "Projection": {"ProjectionType": "ALL"},
               "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}})
    };
    let a = direct(
        upstream,
        "CreateTable",
        json!({"TableName": "Books",
               "AttributeDefinitions": [
                   {"AttributeName": "Author", "AttributeType": "S"},
                   {"AttributeName": "Title", "AttributeType": "S"},
                   {"AttributeName": "Genre", "AttributeType": "S"},
                   {"AttributeName": "Year", "AttributeType": "N"}],
               "KeySchema": [{"AttributeName": "Author", "KeyType": "HASH"},
                             {"AttributeName": "Title", "KeyType": "RANGE"}],
               "GlobalSecondaryIndexes": [gsi("ByGenre", "Genre"), gsi("ByYear", "Year")],
               "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    let a = direct(
        upstream,
        "CreateTable",
        json!({"TableName": "Secrets",
               "AttributeDefinitions": [{"AttributeName": "Id", "AttributeType": "S"}],
               "KeySchema": [{"AttributeName": "Id", "KeyType": "HASH"}],
               "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    for table in ["Books", "Secrets"] {
        wait_active(upstream, table).await;
    }
    for (author, title, genre, year) in [
        ("Tolkien", "The Hobbit", "Fantasy", "1937"),
        ("Tolkien", "The Silmarillion", "Fantasy", "1977"),
        ("Herbert", "Dune", "SciFi", "1965"),
    ] {
        let a = direct(
            upstream,
            "PutItem",
            json!({"TableName": "Books", "Item": {
                "Author": {"S": author}, "Title": {"S": title},
                "Genre": {"S": genre}, "Year": {"N": year}}}),
        )
        .await;
        assert_eq!(a.status, 200, "{:?}", a.json());
    }
    let a = direct(
        upstream,
        "PutItem",
        json!({"TableName": "Secrets", "Item": {"Id": {"S": "root"}, "Value": {"S": "hunter2"}}}),
    )
    .await;
    assert_eq!(a.status, 200);
}

fn hobbit_key() -> Value {
    json!({"TableName": "Books", "Key": {"Author": {"S": "Tolkien"}, "Title": {"S": "The Hobbit"}}})
}

fn denied_message(action: &str, resource: &str) -> String {
    format!(
        "User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/test-session is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    )
}

// ---------- aws-sdk-dynamodb ----------

#[tokio::test]
async fn rust_sdk_through_the_gateway() {
    let Some(env) = Env::start().await else {
        return;
    };
    let reader = env.issue("reader");
    let ddb = env.sdk(&reader);

    // Allowed GetItem and Query return the upstream's data.
    let item = ddb
        .get_item()
        .table_name("Books")
        .key("Author", AttributeValue::S("Tolkien".into()))
        .key("Title", AttributeValue::S("The Hobbit".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["Year"], AttributeValue::N("1937".into()));
    let out = ddb
        .query()
        .table_name("Books")
        .key_condition_expression("#a = :a")
        .expression_attribute_names("#a", "Author")
        .expression_attribute_values(":a", AttributeValue::S("Tolkien".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 2);

    // Index ARNs: ByGenre is granted, ByYear is not (table/Books alone does not cover it).
    let out = ddb
        .query()
        .table_name("Books")
        .index_name("ByGenre")
        .key_condition_expression("Genre = :g")
        .expression_attribute_values(":g", AttributeValue::S("SciFi".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 1);
    assert_eq!(out.items()[0]["Title"], AttributeValue::S("Dune".into()));
    let err = ddb
        .query()
        .table_name("Books")
        .index_name("ByYear")
        .key_condition_expression("#y = :y")
        .expression_attribute_names("#y", "Year")
        .expression_attribute_values(":y", AttributeValue::N("1965".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(
        err.message(),
        Some(denied_message("dynamodb:Query", &format!("{BOOKS}/index/ByYear")).as_str())
    );

    // PutItem outside the policy.
    let err = ddb
        .put_item()
        .table_name("Books")
        .item("Author", AttributeValue::S("Le Guin".into()))
        .item("Title", AttributeValue::S("Earthsea".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(
        err.message(),
        Some(denied_message("dynamodb:PutItem", BOOKS).as_str())
    );
    let gone = direct(
        &env.upstream,
        "GetItem",
        json!({"TableName": "Books", "Key": {"Author": {"S": "Le Guin"}, "Title": {"S": "Earthsea"}}}),
    )
    .await;
    assert!(
        gone.json().get("Item").is_none(),
        "the denied write never reached the upstream"
    );

    // Explicit deny wording.
    let err = ddb
        .get_item()
        .table_name("Secrets")
        .key("Id", AttributeValue::S("root".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(
        err.message()
            .unwrap()
            .ends_with("table/Secrets with an explicit deny in an identity-based policy"),
        "{:?}",
        err.message()
    );

    // dynamodb:LeadingKeys from the real table schema: the writer may write Tolkien only.
    let writer = env.sdk(&env.issue("writer"));
    writer
        .put_item()
        .table_name("Books")
        .item("Author", AttributeValue::S("Tolkien".into()))
        .item("Title", AttributeValue::S("Unfinished Tales".into()))
        .send()
        .await
        .unwrap();
    let err = writer
        .put_item()
        .table_name("Books")
        .item("Title", AttributeValue::S("Mort".into()))
        .item("Author", AttributeValue::S("Pratchett".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    let out = ddb
        .query()
        .table_name("Books")
        .key_condition_expression("Author = :a")
        .expression_attribute_values(":a", AttributeValue::S("Tolkien".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 3, "the allowed write reached the upstream");

    // An expired session.
    let expired = env.issue_claims(&Env::claims("reader", now() - 7200, now() - 60));
    let err = env
        .sdk(&expired)
        .get_item()
        .table_name("Books")
        .key("Author", AttributeValue::S("Tolkien".into()))
        .key("Title", AttributeValue::S("The Hobbit".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ExpiredTokenException"));
}

// ---------- boto3 ----------

#[tokio::test]
async fn boto3_through_the_gateway() {
    let Some(python) = python_with_boto3() else {
        return;
    };
    let Some(env) = Env::start().await else {
        return;
    };
    let reader = env.issue("reader");
    let writer = env.issue("writer");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/boto3_client.py");
    let mut vars = session_env(&reader, &writer);
    vars.push(("GATEWAY_URL".into(), env.gateway.clone()));
    let out = run_json_client(&python, &[&script], vars, Duration::from_secs(120)).await;

    assert_eq!(out["get"]["Year"], json!({"N": "1937"}));
    assert_eq!(out["query_count"], 2);
    assert_eq!(
        out["resource_query_titles"],
        json!(["The Hobbit", "The Silmarillion"])
    );
    assert_eq!(out["index_allowed"], json!(["Dune"]));
    assert_eq!(out["index_denied"]["code"], "AccessDeniedException");
    assert_eq!(
        out["index_denied"]["message"],
        denied_message("dynamodb:Query", &format!("{BOOKS}/index/ByYear"))
    );
    assert_eq!(out["put_denied"]["code"], "AccessDeniedException");
    assert_eq!(out["put_denied"]["status"], 400);
    assert_eq!(
        out["put_denied"]["message"],
        denied_message("dynamodb:PutItem", BOOKS)
    );
    assert_eq!(out["tampered"]["code"], "InvalidSignatureException");
    assert_eq!(out["tampered"]["status"], 400);
    assert_eq!(out["writer_tolkien"], "OK");
    assert_eq!(out["writer_other"]["code"], "AccessDeniedException");
}

// ---------- raw requests: wire format and signature forms ----------

#[tokio::test]
async fn wire_format_and_signature_forms() {
    let Some(env) = Env::start().await else {
        return;
    };
    let reader = Creds::from(&env.issue("reader"));
    let gw = env.gateway.as_str();

    // Health check.
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let health = client
        .request(
            http::Request::get(format!("{gw}/"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // An allowed request streams the upstream's answer back unchanged.
    let via = send(Call::new(gw, &reader, "GetItem", hobbit_key())).await;
    let straight = direct(&env.upstream, "GetItem", hobbit_key()).await;
    assert_eq!(via.status, 200);
    assert_eq!(via.body, straight.body);
    assert_eq!(
        via.headers.get("x-amz-crc32"),
        straight.headers.get("x-amz-crc32")
    );

    // AccessDeniedException in DynamoDB's format.
    let put = json!({"TableName": "Books", "Item": {"Author": {"S": "X"}, "Title": {"S": "Y"}}});
    let a = send(Call::new(gw, &reader, "PutItem", put.clone())).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.headers["x-amzn-errortype"], "AccessDeniedException");
    assert_eq!(a.headers["content-type"], "application/x-amz-json-1.0");
    assert!(a.headers.contains_key("x-amzn-requestid"));
    assert_eq!(
        a.json(),
        json!({"__type": "com.amazon.coral.service#AccessDeniedException",
               "Message": denied_message("dynamodb:PutItem", BOOKS)})
    );

    // Every table of a batch is authorized.
    let batch = json!({"RequestItems": {
        "Books": {"Keys": [{"Author": {"S": "Tolkien"}, "Title": {"S": "The Hobbit"}}]},
        "Secrets": {"Keys": [{"Id": {"S": "root"}}]}}});
    let a = send(Call::new(gw, &reader, "BatchGetItem", batch)).await;
    assert_eq!(a.error_type(), "AccessDeniedException");
    assert!(
        a.message().contains("table/Secrets with an explicit deny"),
        "{}",
        a.message()
    );

    // The presigned (query) form verifies.
    let a = send(Call {
        form: Form::Presigned,
        ..Call::new(gw, &reader, "GetItem", hobbit_key())
    })
    .await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    assert_eq!(a.json()["Item"]["Title"]["S"], "The Hobbit");

    // A tampered body (same length) fails the signature; UNSIGNED-PAYLOAD, whose
    // signature does not cover the body, is refused by default.
    let tampered = serde_json::to_vec(&hobbit_key())
        .unwrap()
        .iter()
        .map(|&b| if b == b'H' { b'J' } else { b })
        .collect::<Vec<u8>>();
    for form in [Form::Header, Form::Presigned, Form::UnsignedPayload] {
        let a = send(Call {
            form,
            send_body: Some(tampered.clone()),
            ..Call::new(gw, &reader, "GetItem", hobbit_key())
        })
        .await;
        assert_eq!(a.status, 400);
        assert_eq!(
            a.error_type(),
            "InvalidSignatureException",
            "{:?}",
            a.json()
        );
        let expected = if form == Form::UnsignedPayload {
            "UNSIGNED-PAYLOAD is not accepted"
        } else {
            "The request signature we calculated does not match"
        };
        assert!(a.message().starts_with(expected), "{}", a.message());
    }
    let a = send(Call {
        form: Form::UnsignedPayload,
        ..Call::new(gw, &reader, "GetItem", hobbit_key())
    })
    .await;
    assert_eq!(a.error_type(), "InvalidSignatureException");
    // The wrong secret.
    let wrong = Creds {
        secret: "x".repeat(40),
        ..reader.clone()
    };
    let a = send(Call::new(gw, &wrong, "GetItem", hobbit_key())).await;
    assert_eq!(a.error_type(), "InvalidSignatureException");

    // 15 minutes of skew: 14 minutes pass, 16 do not.
    let a = send(Call {
        time: SystemTime::now() - Duration::from_secs(14 * 60),
        ..Call::new(gw, &reader, "GetItem", hobbit_key())
    })
    .await;
    assert_eq!(a.status, 200);
    let a = send(Call {
        time: SystemTime::now() - Duration::from_secs(16 * 60),
        ..Call::new(gw, &reader, "GetItem", hobbit_key())
    })
    .await;
    assert_eq!(a.error_type(), "InvalidSignatureException");
    assert!(
        a.message().starts_with("Signature expired:"),
        "{}",
        a.message()
    );

    // A credential scoped to another region.
    let a = send(Call {
        region: "eu-west-1",
        ..Call::new(gw, &reader, "GetItem", hobbit_key())
    })
    .await;
    assert_eq!(a.error_type(), "InvalidSignatureException");

    // Unknown keys: another deployment's key ring, a long-term key, no token.
    let other_ring = KeyRing::single(MasterKey::generate(&mut rand::rngs::OsRng));
    let foreign = issue_credentials(
        &other_ring,
        &Env::claims("reader", now(), now() + 3600),
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    let a = send(Call::new(
        gw,
        &Creds::from(&foreign),
        "GetItem",
        hobbit_key(),
    ))
    .await;
    assert_eq!(a.error_type(), "UnrecognizedClientException");
    assert_eq!(
        a.message(),
        "The security token included in the request is invalid."
    );
    let a = send(Call::new(gw, &upstream_creds(), "GetItem", hobbit_key())).await;
    assert_eq!(a.error_type(), "UnrecognizedClientException");

    // An expired session.
    let expired = env.issue_claims(&Env::claims("reader", now() - 7200, now() - 1));
    let a = send(Call::new(
        gw,
        &Creds::from(&expired),
        "GetItem",
        hobbit_key(),
    ))
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.error_type(), "ExpiredTokenException");
    assert_eq!(
        a.message(),
        "The security token included in the request is expired"
    );

    // A session policy narrows the role: only GetItem.
    let mut claims = Env::claims("reader", now(), now() + 3600);
    claims.session_policy = Some(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}"#
            .into(),
    );
    let narrowed = Creds::from(&env.issue_claims(&claims));
    let a = send(Call::new(gw, &narrowed, "GetItem", hobbit_key())).await;
    assert_eq!(a.status, 200);
    let query = json!({"TableName": "Books", "KeyConditionExpression": "Author = :a",
                       "ExpressionAttributeValues": {":a": {"S": "Tolkien"}}});
    let a = send(Call::new(gw, &narrowed, "Query", query)).await;
    assert_eq!(a.error_type(), "AccessDeniedException");
    assert!(
        a.message()
            .ends_with("because no session policy allows the dynamodb:Query action"),
        "{}",
        a.message()
    );

    // Not a DynamoDB operation.
    let a = send(Call::new(gw, &reader, "NoSuchThing", json!({}))).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.error_type(), "UnknownOperationException");

    // Reload: a policy change takes effect without a restart.
    let a = send(Call::new(gw, &reader, "PutItem", put.clone())).await;
    assert_eq!(a.error_type(), "AccessDeniedException");
    let text = std::fs::read_to_string(&env.config).unwrap().replace(
        "Action: [dynamodb:GetItem, dynamodb:Query, dynamodb:BatchGetItem]",
        "Action: [dynamodb:GetItem, dynamodb:Query, dynamodb:BatchGetItem, dynamodb:PutItem]",
    );
    std::fs::write(&env.config, text).unwrap();
    env.gateway_state.reload(&env.config).unwrap();
    let a = send(Call::new(gw, &reader, "PutItem", put)).await;
    assert_eq!(a.status, 200, "{:?}", a.json());
}

#[tokio::test]
async fn unsigned_payload_only_when_allowed() {
    let Some(env) = Env::start_with(Options {
        allow_unsigned_payload: true,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let reader = Creds::from(&env.issue("reader"));
    let gw = env.gateway.as_str();
    let a = send(Call {
        form: Form::UnsignedPayload,
        ..Call::new(gw, &reader, "GetItem", hobbit_key())
    })
    .await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    assert_eq!(a.json()["Item"]["Title"]["S"], "The Hobbit");
    // Even then the operation must be signed.
    let a = send(Call {
        form: Form::UnsignedPayload,
        signed_headers: Some(vec![(
            "content-type".into(),
            "application/x-amz-json-1.0".into(),
        )]),
        unsigned_headers: vec![("x-amz-target".into(), "DynamoDB_20120810.GetItem".into())],
        ..Call::new(gw, &reader, "GetItem", hobbit_key())
    })
    .await;
    assert_eq!(
        a.error_type(),
        "IncompleteSignatureException",
        "{:?}",
        a.json()
    );
}

// ---------- a recording fake upstream: what reaches DynamoDB, and how often ----------

const FAKE_CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
signingKeys:
  - file: master.key
roles:
  - name: app
    trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Federated: "*"}, Action: "sts:AssumeRoleWithWebIdentity"}]}
    policies:
      p:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: [dynamodb:GetItem, dynamodb:ConditionCheckItem], Resource: "arn:aws:dynamodb:*:*:table/*"}
          - {Effect: Deny, Action: "dynamodb:*", Resource: "arn:aws:dynamodb:us-east-1:111122223333:table/Secret"}
          - Effect: Allow
            Action: [dynamodb:PutItem, dynamodb:BatchWriteItem]
            Resource: "arn:aws:dynamodb:*:*:table/*"
            Condition: {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["me"]}}
  - name: plain
    trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Federated: "*"}, Action: "sts:AssumeRoleWithWebIdentity"}]}
    policies:
      p:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: [dynamodb:GetItem, dynamodb:BatchGetItem], Resource: "arn:aws:dynamodb:*:*:table/*"}
"#;

/// Requests the fake upstream received (`x-amz-target` values, content types, body),
/// `DescribeTable` lookups aside, which are counted per table.
#[derive(Default)]
struct Recorded {
    forwarded: Vec<(Vec<String>, Vec<String>, String)>,
    describes: std::collections::HashMap<String, usize>,
}

type Record = Arc<std::sync::Mutex<Recorded>>;

fn header_values(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn fake_upstream(record: Record) -> String {
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let record = record.clone();
        async move {
            let targets = header_values(req.headers(), "x-amz-target");
            let types = header_values(req.headers(), "content-type");
            let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
            let body = String::from_utf8_lossy(&body).into_owned();
            if targets == ["DynamoDB_20120810.DescribeTable"] {
                let table = serde_json::from_str::<Value>(&body).unwrap()["TableName"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                *record.lock().unwrap().describes.entry(table.clone()).or_default() += 1;
                if table == "Gone" {
                    return (
                        http::StatusCode::BAD_REQUEST,
                        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#.to_owned(),
                    );
                }
                return (
                    http::StatusCode::OK,
                    r#"{"Table":{"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]}}"#.to_owned(),
                );
            }
            record.lock().unwrap().forwarded.push((targets, types, body));
            (http::StatusCode::OK, "{}".to_owned())
        }
    });
    irsa_test::net::serve(app).await
}

struct Fake {
    _dir: tempfile::TempDir,
    record: Record,
    gateway: String,
    addr: std::net::SocketAddr,
    ring: KeyRing,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Fake {
    /// A gateway in front of the recording upstream (`with_upstream`), or without one.
    async fn start(options: Options, with_upstream: bool) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate(&mut rand::rngs::OsRng);
        std::fs::write(dir.path().join("master.key"), key.to_hex()).unwrap();
        let snapshot = irsa_gateway::Snapshot::load(FAKE_CONFIG, dir.path()).unwrap();
        let record = Record::default();
        let upstream = if with_upstream {
            let url = fake_upstream(record.clone()).await;
            Some(
                irsa_gateway::Upstream::new(irsa_gateway::UpstreamSettings {
                    url: url.parse().unwrap(),
                    region: REGION.into(),
                    credentials: irsa_gateway::UpstreamCredentials {
                        access_key_id: UPSTREAM_AKID.into(),
                        secret_access_key: UPSTREAM_SECRET.into(),
                        session_token: None,
                    },
                    ca_bundle_pem: None,
                    timeout: Duration::from_secs(5),
                })
                .unwrap(),
            )
        } else {
            None
        };
        let gateway = irsa_gateway::Gateway::new(snapshot, upstream, options);
        let (addr, tx) = serve_gateway(gateway).await;
        Fake {
            _dir: dir,
            record,
            gateway: format!("http://{addr}"),
            addr,
            ring: KeyRing::single(key),
            _shutdown: tx,
        }
    }

    fn issue(&self, role: &str) -> Credentials {
        let mut claims = Env::claims(role, now(), now() + 3600);
        claims.role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
        issue_credentials(&self.ring, &claims, &mut rand::rngs::OsRng).unwrap()
    }

    fn forwarded(&self) -> usize {
        self.record.lock().unwrap().forwarded.len()
    }

    fn describes(&self) -> usize {
        self.record.lock().unwrap().describes.values().sum()
    }
}

/// Each bypass found by the security review, against a gateway whose upstream records what
/// reaches it: refused, and nothing forwarded.
#[tokio::test]
async fn review_bypasses_are_refused() {
    let fake = Fake::start(Options::default(), true).await;
    let app = Creds::from(&fake.issue("app"));
    let gw = fake.gateway.as_str();
    let public = json!({"TableName": "Public", "Key": {"pk": {"S": "x"}, "sk": {"S": "y"}}});
    let refused = |a: &Answer, code: &str| {
        assert_eq!(a.status, 400, "{:?}", a.json());
        assert_eq!(a.error_type(), code, "{:?}", a.json());
        assert_eq!(fake.forwarded(), 0, "nothing reaches the upstream");
    };

    // Control: DeleteItem is not allowed at all.
    let a = send(Call::new(gw, &app, "DeleteItem", public.clone())).await;
    refused(&a, "AccessDeniedException");

    // Two X-Amz-Target headers (both signed): the first was authorized, both forwarded.
    let a = send(Call {
        signed_headers: Some(vec![
            ("content-type".into(), "application/x-amz-json-1.0".into()),
            ("x-amz-target".into(), "DynamoDB_20120810.GetItem".into()),
            ("x-amz-target".into(), "DynamoDB_20120810.DeleteItem".into()),
        ]),
        ..Call::new(gw, &app, "GetItem", public.clone())
    })
    .await;
    refused(&a, "UnknownOperationException");

    // X-Amz-Target outside the signature: a captured request replayed as another operation.
    let a = send(Call {
        signed_headers: Some(vec![(
            "content-type".into(),
            "application/x-amz-json-1.0".into(),
        )]),
        unsigned_headers: vec![("x-amz-target".into(), "DynamoDB_20120810.GetItem".into())],
        ..Call::new(gw, &app, "GetItem", public.clone())
    })
    .await;
    refused(&a, "IncompleteSignatureException");
    assert_eq!(
        a.message(),
        "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
    );

    // UNSIGNED-PAYLOAD: the body swapped after signing.
    let a = send(Call {
        form: Form::UnsignedPayload,
        send_body: Some(
            serde_json::to_vec(&json!({"TableName": "Other", "Key": {"pk": {"S": "victim"}}}))
                .unwrap(),
        ),
        ..Call::new(gw, &app, "GetItem", public.clone())
    })
    .await;
    refused(&a, "InvalidSignatureException");

    // A TransactItems element with two members: the first authorized, the second executed.
    let two = json!({"TransactItems": [{
        "ConditionCheck": {"TableName": "Public", "Key": {"pk": {"S": "x"}}, "ConditionExpression": "attribute_exists(pk)"},
        "Put": {"TableName": "Secret", "Item": {"pk": {"S": "pwn"}}}}]});
    let a = send(Call::new(gw, &app, "TransactWriteItems", two)).await;
    refused(&a, "ValidationException");
    assert_eq!(
        a.message(),
        "TransactItems can only contain one of Check, Put, Update or Delete"
    );

    // TableName as the ARN of another region dodges the Deny on this region's table.
    let foreign = json!({"TableName": "arn:aws:dynamodb:eu-west-1:111122223333:table/Secret",
                         "Key": {"pk": {"S": "x"}}});
    let a = send(Call::new(gw, &app, "GetItem", foreign)).await;
    refused(&a, "ValidationException");
    let a = send(Call::new(
        gw,
        &app,
        "GetItem",
        json!({"TableName": "Secret", "Key": {"pk": {"S": "x"}}}),
    ))
    .await;
    refused(&a, "AccessDeniedException");

    // A WriteRequest holding a PutRequest (authorized) and a DeleteRequest (not).
    let both = json!({"RequestItems": {"Public": [{
        "PutRequest": {"Item": {"pk": {"S": "me"}, "sk": {"S": "1"}}},
        "DeleteRequest": {"Key": {"pk": {"S": "victim"}, "sk": {"S": "1"}}}}]}});
    let a = send(Call::new(gw, &app, "BatchWriteItem", both)).await;
    refused(&a, "ValidationException");

    // Empty RequestItems: nothing authorized at all.
    let a = send(Call::new(
        gw,
        &app,
        "BatchWriteItem",
        json!({"RequestItems": {}}),
    ))
    .await;
    refused(&a, "ValidationException");

    // A member named twice: which one wins depends on the parser.
    let a = send(Call {
        send_body: Some(
            br#"{"TableName": "Public", "TableName": "Secret", "Key": {"pk": {"S": "x"}}}"#
                .to_vec(),
        ),
        form: Form::Header,
        ..Call::new(gw, &app, "GetItem", json!({}))
    })
    .await;
    // Signed over `{}`: refused either way, but never forwarded.
    assert_eq!(a.status, 400);
    assert_eq!(fake.forwarded(), 0);
    let dup = r#"{"TableName": "Public", "TableName": "Secret", "Key": {"pk": {"S": "x"}}}"#;
    let a = send_raw_body(gw, &app, "GetItem", dup.as_bytes()).await;
    refused(&a, "SerializationException");

    // What is allowed is forwarded with one X-Amz-Target, the authorized one.
    let a = send(Call::new(gw, &app, "GetItem", public.clone())).await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    let r = fake.record.lock().unwrap();
    assert_eq!(r.forwarded.len(), 1);
    let (targets, types, body) = &r.forwarded[0];
    assert_eq!(targets, &["DynamoDB_20120810.GetItem"]);
    assert_eq!(types, &["application/x-amz-json-1.0"]);
    assert_eq!(body, &serde_json::to_string(&public).unwrap());
}

/// Signs and sends `body` as is (bytes, not a JSON value).
async fn send_raw_body(url: &str, creds: &Creds, op: &str, body: &[u8]) -> Answer {
    let url = format!("{url}/");
    let target = format!("DynamoDB_20120810.{op}");
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", target.as_str()),
    ];
    let keys = creds.keys();
    let signing = sigv4::Signing::new(&keys, REGION, "dynamodb", SystemTime::now());
    let request = sigv4::sign_request(
        &signing,
        "POST",
        &url,
        &headers,
        sigv4::Payload::Bytes(body),
        Full::new(Bytes::copy_from_slice(body)),
    );
    let reply = irsa_test::net::send(request).await;
    Answer {
        status: reply.status,
        headers: reply.headers,
        body: reply.body,
    }
}

/// Key schemas are read only when a policy in force mentions `dynamodb:LeadingKeys` and
/// some statement could allow the request; answers are cached, misses too.
#[tokio::test]
async fn schema_lookups_are_bounded() {
    let fake = Fake::start(Options::default(), true).await;
    let gw = fake.gateway.as_str();
    let plain = Creds::from(&fake.issue("plain"));
    let app = Creds::from(&fake.issue("app"));

    // No policy of `plain` mentions LeadingKeys: no lookup, even for 50 tables.
    let many: serde_json::Map<String, Value> = (0..50)
        .map(|i| {
            (
                format!("T{i:03}"),
                json!({"Keys": [{"pk": {"S": "x"}, "sk": {"S": "y"}}]}),
            )
        })
        .collect();
    let a = send(Call::new(
        gw,
        &plain,
        "BatchGetItem",
        json!({ "RequestItems": many.clone() }),
    ))
    .await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    assert_eq!(fake.describes(), 0);

    // `app` mentions LeadingKeys, but nothing allows it BatchGetItem: denied, no lookup.
    let a = send(Call::new(
        gw,
        &app,
        "BatchGetItem",
        json!({ "RequestItems": many }),
    ))
    .await;
    assert_eq!(a.error_type(), "AccessDeniedException", "{:?}", a.json());
    assert_eq!(fake.describes(), 0);

    // Could be allowed: the schema is read once, then cached.
    let mine = json!({"TableName": "Public", "Item": {"sk": {"S": "1"}, "pk": {"S": "me"}}});
    let theirs = json!({"TableName": "Public", "Item": {"sk": {"S": "1"}, "pk": {"S": "you"}}});
    let a = send(Call::new(gw, &app, "PutItem", mine.clone())).await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    let a = send(Call::new(gw, &app, "PutItem", theirs)).await;
    assert_eq!(a.error_type(), "AccessDeniedException", "{:?}", a.json());
    let a = send(Call::new(gw, &app, "PutItem", mine)).await;
    assert_eq!(a.status, 200);
    assert_eq!(fake.describes(), 1);

    // An unknown table: DynamoDB's ResourceNotFoundException, nothing forwarded; the miss
    // is remembered.
    let before = fake.forwarded();
    for _ in 0..3 {
        let a = send(Call::new(
            gw,
            &app,
            "PutItem",
            json!({"TableName": "Gone", "Item": {"pk": {"S": "me"}, "sk": {"S": "1"}}}),
        ))
        .await;
        assert_eq!(
            a.error_type(),
            "ResourceNotFoundException",
            "{:?}",
            a.json()
        );
    }
    assert_eq!(fake.record.lock().unwrap().describes["Gone"], 1);
    assert_eq!(fake.forwarded(), before);

    // More tables than a request may name: refused before any lookup.
    let writes: serde_json::Map<String, Value> = (0..101)
        .map(|i| {
            (
                format!("W{i:03}"),
                json!([{"PutRequest": {"Item": {"pk": {"S": "me"}, "sk": {"S": "1"}}}}]),
            )
        })
        .collect();
    let a = send(Call::new(
        gw,
        &app,
        "BatchWriteItem",
        json!({ "RequestItems": writes }),
    ))
    .await;
    assert_eq!(a.error_type(), "ValidationException", "{:?}", a.json());
    assert_eq!(fake.describes(), 2);
}

/// Without an upstream: allowed requests get `UpstreamNotConfigured`, denied ones
/// `AccessDeniedException`; no lookup is attempted.
#[tokio::test]
async fn without_an_upstream() {
    let fake = Fake::start(
        Options {
            no_upstream_hint: Some("start with --dynamodb-upstream URL".into()),
            ..Options::default()
        },
        false,
    )
    .await;
    let app = Creds::from(&fake.issue("app"));
    let gw = fake.gateway.as_str();
    let a = send(Call::new(
        gw,
        &app,
        "PutItem",
        json!({"TableName": "Public", "Item": {"pk": {"S": "me"}}}),
    ))
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.error_type(), "", "no AWS namespace");
    assert_eq!(a.json()["__type"], irsa_gateway::UPSTREAM_NOT_CONFIGURED);
    assert_eq!(a.headers["x-amzn-errortype"], "UpstreamNotConfigured");
    assert!(
        a.message()
            .starts_with("irsa: no DynamoDB upstream is configured")
            && a.message()
                .ends_with("(start with --dynamodb-upstream URL)"),
        "{}",
        a.message()
    );
    let a = send(Call::new(
        gw,
        &app,
        "GetItem",
        json!({"TableName": "Secret", "Key": {"pk": {"S": "x"}}}),
    ))
    .await;
    assert_eq!(a.error_type(), "AccessDeniedException");
    // The SDK sees the code.
    let creds = fake.issue("app");
    let err = sdk_client(gw, &creds)
        .get_item()
        .table_name("Public")
        .key("pk", AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UpstreamNotConfigured"));
}

/// Writes `head` (and `body`) on a new connection; returns the connection.
async fn raw_connection(
    addr: std::net::SocketAddr,
    head: &str,
    body: &[u8],
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    tcp
}

/// Reads what the server sends until it closes or `within` passes (then `None`).
async fn read_answer(tcp: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt as _;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => {
                out.extend_from_slice(&buf[..n]);
                // A complete JSON answer is enough.
                let text = String::from_utf8_lossy(&out);
                if text.contains("\r\n\r\n{") && text.trim_end().ends_with('}') {
                    return Some(text.into_owned());
                }
            }
        }
    }
}

/// Slow or unauthenticated clients cannot hold the gateway: headers must arrive in time,
/// no body is read without a live session, bodies count against a byte budget, and every
/// request has a deadline.
#[tokio::test]
async fn slow_clients_are_bounded() {
    let fake = Fake::start(
        Options {
            header_read_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(1),
            max_body_bytes: 64 * 1024,
            max_bytes_in_flight: 64 * 1024,
            ..Options::default()
        },
        true,
    )
    .await;
    let quick = Duration::from_secs(3);

    // No authentication: answered before the (never sent) body.
    let mut c = raw_connection(
        fake.addr,
        "POST / HTTP/1.1\r\nhost: gw\r\ncontent-length: 50000\r\nx-amz-target: DynamoDB_20120810.GetItem\r\n\r\n",
        b"",
    )
    .await;
    let answer = read_answer(&mut c, quick).await.expect("answered at once");
    assert!(
        answer.contains("MissingAuthenticationTokenException"),
        "{answer}"
    );

    // An Authorization header without a live session: the same.
    let mut c = raw_connection(
        fake.addr,
        "POST / HTTP/1.1\r\nhost: gw\r\ncontent-length: 50000\r\nauthorization: AWS4-HMAC-SHA256 Credential=ASIAAAAAAAAAAAAAAAAA/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00\r\nx-amz-security-token: forged\r\n\r\n",
        b"",
    )
    .await;
    let answer = read_answer(&mut c, quick).await.expect("answered at once");
    assert!(answer.contains("UnrecognizedClientException"), "{answer}");

    // Headers that never end: the connection is closed.
    let mut c = raw_connection(fake.addr, "POST / HTTP/1.1\r\nhost: gw\r\n", b"").await;
    assert!(
        read_answer(&mut c, quick).await.is_some(),
        "closed after the header read timeout"
    );

    // A live session sending its body slowly holds the byte budget until the request
    // deadline; meanwhile another large request is throttled.
    let creds = fake.issue("app");
    let head = |len: usize| {
        format!(
            "POST / HTTP/1.1\r\nhost: gw\r\ncontent-length: {len}\r\nx-amz-target: DynamoDB_20120810.GetItem\r\nauthorization: AWS4-HMAC-SHA256 Credential={}/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-target, Signature=00\r\nx-amz-security-token: {}\r\n\r\n",
            creds.access_key_id, creds.session_token
        )
    };
    let started = std::time::Instant::now();
    let mut slow = raw_connection(fake.addr, &head(60_000), b"{\"TableName\"").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut other = raw_connection(fake.addr, &head(60_000), b"").await;
    let answer = read_answer(&mut other, quick)
        .await
        .expect("answered at once");
    assert!(answer.contains("ThrottlingException"), "{answer}");
    let answer = read_answer(&mut slow, quick)
        .await
        .expect("answered by the deadline");
    assert!(answer.contains("RequestTimeoutException"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Over the size limit: refused from Content-Length alone.
    let mut big = raw_connection(fake.addr, &head(1 << 20), b"").await;
    let answer = read_answer(&mut big, quick)
        .await
        .expect("answered at once");
    assert!(
        answer.contains("RequestEntityTooLargeException"),
        "{answer}"
    );
    assert_eq!(fake.forwarded(), 0);
}
