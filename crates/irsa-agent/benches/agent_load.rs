//! `irsa agent` per request, side by side in one run on loopback (one keep-alive
//! connection, sequential requests):
//!
//! 1. the floor: a request without a token, refused before any work (the same listener,
//!    limits, route and HTTP stack);
//! 2. a cache hit: `GET /v1/credentials` with a token whose credentials are cached;
//! 3. a miss: a token never seen, so the agent calls `AssumeRoleForPodIdentity` on
//!    `irsa sts` (aws-sdk-eksauth, SigV4 `eks-auth`; the server authenticates the agent's
//!    session, verifies the RS256 pod token, evaluates the association's trust policy and
//!    seals the session).
//!
//! Bounded in count: `cargo bench -p irsa-agent --bench agent_load -- [n=2000]` (misses:
//! n / 10).

use irsa_jose::{Algorithm, SigningKey};
use irsa_test::bench::{iterations, read_response};
use irsa_test::jose::{jwks_of, sign};
use irsa_test::now;
use serde_json::json;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ISS: &str = "https://oidc.example.test/id/CLUSTER";

const CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
providers:
  - {issuer: "https://oidc.example.test/id/CLUSTER", audiences: [sts.amazonaws.com], jwksFile: jwks.json}
clusters:
  - {name: dev, issuer: "https://oidc.example.test/id/CLUSTER", jwksFile: jwks.json}
roles:
  - name: irsa-agent
    trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Federated: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/CLUSTER"}, Action: sts:AssumeRoleWithWebIdentity}]}
    policies:
      agent: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: eks-auth:AssumeRoleForPodIdentity, Resource: "arn:aws:eks:us-east-1:111122223333:cluster/dev"}]}
  - name: app
    trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: pods.eks.amazonaws.com}, Action: [sts:AssumeRole, sts:TagSession]}]}
podIdentityAssociations:
  - {cluster: dev, namespace: default, serviceAccount: reader, roleArn: "arn:aws:iam::111122223333:role/app"}
signingKeys: [{file: master.key}]
"#;

fn pod_token(key: &SigningKey, i: u32) -> String {
    let n = now();
    sign(
        key,
        &json!({"iss": ISS, "sub": "system:serviceaccount:default:reader",
               "aud": ["pods.eks.amazonaws.com"], "iat": n, "exp": n + 3600, "jti": i,
               "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "reader"},
                                 "pod": {"name": "reader-1", "uid": "5f0c2a1e-0000-4000-8000-000000000001"}}}),
    )
}

/// `n` sequential GETs of `path` on one keep-alive connection; the token of request `i` is
/// `token(i)`. Returns sorted latencies (µs); panics on an unexpected status.
fn run(
    addr: SocketAddr,
    path: &str,
    n: u32,
    want: &str,
    token: impl Fn(u32) -> String,
) -> Vec<u64> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut lat = Vec::with_capacity(n as usize);
    for i in 0..n {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\n\r\n",
            token(i)
        );
        let t = Instant::now();
        w.write_all(req.as_bytes()).unwrap();
        let (status, body) = read_response(&mut r);
        lat.push(t.elapsed().as_micros() as u64);
        assert_eq!(status, want, "{}", String::from_utf8_lossy(&body));
    }
    lat.sort_unstable();
    lat
}

fn report(name: &str, lat: &[u64]) {
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let mean = lat.iter().sum::<u64>() as f64 / lat.len() as f64;
    println!(
        "{name:<44} n={:<6} mean {mean:>8.1} µs  p50 {:>7} µs  p99 {:>7} µs  {:>8.0} req/s",
        lat.len(),
        pct(0.5),
        pct(0.99),
        1e6 / mean
    );
}

/// Writes the STS configuration, its JWKS and master key, and the agent's own web identity
/// token into `dir`; the configuration's path and the token's.
fn write_fixture(dir: &Path, key: &SigningKey) -> (PathBuf, PathBuf) {
    std::fs::write(dir.join("jwks.json"), jwks_of(&[key]).to_json()).unwrap();
    std::fs::write(dir.join("master.key"), "42".repeat(32)).unwrap();
    let cfg = dir.join("irsa.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let node_token = dir.join("agent.token");
    let t = now();
    std::fs::write(
        &node_token,
        sign(
            key,
            &json!({"iss": ISS, "sub": "system:serviceaccount:kube-system:irsa-agent",
                          "aud": ["sts.amazonaws.com"], "iat": t, "exp": t + 3600}),
        ),
    )
    .unwrap();
    (cfg, node_token)
}

/// Starts `irsa sts` from `cfg` and the agent (its session from `node_token`) in front of
/// it, each on an ephemeral port; the agent's address.
async fn start_agent(cfg: &Path, node_token: &Path) -> SocketAddr {
    let sts = irsa_sts::Server::from_file(cfg, irsa_sts::Options::default()).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sts_url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(irsa_sts::serve(l, sts, std::future::pending()));
    let sdk = irsa_test::sdk::config_from_env(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", node_token.to_str().unwrap()),
        ("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/irsa-agent"),
        ("AWS_ENDPOINT_URL_STS", sts_url.as_str()),
        ("AWS_REGION", "us-east-1"),
    ])
    .await;
    let agent = irsa_agent::Agent::new(
        irsa_agent::client(&sdk, Some(&sts_url)),
        irsa_agent::Options {
            cluster_name: "dev".into(),
            max_cache_entries: 100_000,
            ..irsa_agent::Options::default()
        },
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(irsa_agent::serve(l, agent, std::future::pending()));
    addr
}

fn main() {
    let n = iterations(2000);
    let key = SigningKey::generate(Algorithm::RS256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, node_token) = write_fixture(dir.path(), &key);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let agent_addr = rt.block_on(start_agent(&cfg, &node_token));
    let hit_token = pod_token(&key, u32::MAX);
    let misses: Vec<String> = (0..n / 10).map(|i| pod_token(&key, i)).collect();
    // Warm up: the agent's own session, connection pools, the JWKS preparation.
    run(agent_addr, "/v1/credentials", 10, "200", |i| {
        pod_token(&key, 1_000_000 + i)
    });
    println!("irsa agent, one keep-alive connection, sequential requests:");
    // Floor and hits alternate, twice, so neither gains from running later.
    for round in 1..=2 {
        report(
            &format!("floor: refused before any work ({round})"),
            &run(agent_addr, "/v1/credentials", n, "400", |_| String::new()),
        );
        report(
            &format!("cache hit: GET /v1/credentials ({round})"),
            &run(agent_addr, "/v1/credentials", n, "200", |_| {
                hit_token.clone()
            }),
        );
    }
    report(
        "miss: AssumeRoleForPodIdentity on irsa sts",
        &run(agent_addr, "/v1/credentials", n / 10, "200", |i| {
            misses[i as usize].clone()
        }),
    );
}
