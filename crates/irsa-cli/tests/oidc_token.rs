//! `irsa oidc …` and `irsa token …` end to end through the binary, plus interop with PyJWT
//! (install with scripts/deps/pyjwt.sh).

use serde_json::Value;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn irsa(args: &[&str], stdin: Option<&str>) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_irsa"));
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        let mut i = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            i.write_all(s.as_bytes()).unwrap();
        }
    }
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

#[track_caller]
fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let o = irsa(args, stdin);
    assert_eq!(o.code, 0, "irsa {args:?}: {}", o.stderr);
    o.stdout
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../irsa-jose/tests/fixtures")
}

fn fx(name: &str) -> String {
    fixtures().join(name).to_str().unwrap().to_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("irsa-oidc-token-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const ISS: &str = "https://oidc.example.com/id/TEST";

/// The arguments of `irsa token mint` with `key` for the ServiceAccount team-a/app of ISS,
/// then `extra`.
fn mint_args<'a>(key: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "token",
        "mint",
        "--signing-key",
        key,
        "--issuer",
        ISS,
        "--namespace",
        "team-a",
        "--service-account",
        "app",
    ];
    args.extend_from_slice(extra);
    args
}

fn mint(key: &str, extra: &[&str]) -> String {
    ok(&mint_args(key, extra), None).trim().to_owned()
}

/// `irsa token verify TOKEN --issuer ISS --jwks JWKS`, then `extra`; `stdin` for the token
/// `-`.
fn verify(token: &str, jwks: &str, extra: &[&str], stdin: Option<&str>) -> Out {
    let mut args = vec!["token", "verify", token, "--issuer", ISS, "--jwks", jwks];
    args.extend_from_slice(extra);
    irsa(&args, stdin)
}

/// `irsa oidc keygen --alg ALG` into `dir` (the key private to its owner, a second run
/// refused); the kid and the key files (private, public).
fn keygen(dir: &Path, alg: &str) -> (String, PathBuf, PathBuf) {
    let kid = ok(&["oidc", "keygen", "--alg", alg, "--out", s(dir)], None);
    let kid = kid.trim().to_owned();
    let key = dir.join("signing.key");
    let public = dir.join("signing.pub");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    // A second keygen into the same folder refuses to overwrite the key.
    let again = irsa(&["oidc", "keygen", "--alg", alg, "--out", s(dir)], None);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    (kid, key, public)
}

/// `irsa oidc keys` of `public` (one key `kid` of `alg`), written to `dir`/keys.json.
fn jwks_of(dir: &Path, public: &Path, kid: &str, alg: &str) -> PathBuf {
    let jwks = ok(&["oidc", "keys", "--public-key", s(public)], None);
    let v: Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(v["keys"][0]["kid"], kid);
    assert_eq!(v["keys"][0]["use"], "sig");
    assert_eq!(v["keys"][0]["alg"], alg);
    let jwks_file = dir.join("keys.json");
    std::fs::write(&jwks_file, &jwks).unwrap();
    jwks_file
}

/// The minted token's claims beyond sub, aud and iss: the pod and ServiceAccount bindings,
/// the times, the jti and kube-apiserver's claim order.
fn assert_minted_claims(claims: &Value) {
    let k8s = &claims["kubernetes.io"];
    assert_eq!(k8s["namespace"], "team-a");
    assert_eq!(
        k8s["serviceaccount"],
        serde_json::json!({"name": "app", "uid": "sa-uid-1"})
    );
    assert_eq!(
        k8s["pod"],
        serde_json::json!({"name": "web-0", "uid": "pod-uid-1"})
    );
    let (exp, iat, nbf) = (
        claims["exp"].as_i64().unwrap(),
        claims["iat"].as_i64().unwrap(),
        claims["nbf"].as_i64().unwrap(),
    );
    assert_eq!((exp - iat, iat), (600, nbf));
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    // Claim order is kube-apiserver's (sorted keys).
    let order: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        order,
        [
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "kubernetes.io",
            "nbf",
            "sub"
        ]
    );
}

/// `token` does not verify with the JWKS of other keys (written to `dir`).
fn another_keys_jwks_does_not_verify(dir: &Path, token: &str) {
    let other = ok(
        &[
            "oidc",
            "keys",
            "--public-key",
            &fx("rsa2048-b.pub"),
            "--public-key",
            &fx("p256-b.pub"),
        ],
        None,
    );
    let other_file = dir.join("other.json");
    std::fs::write(&other_file, other).unwrap();
    let out = verify(token, s(&other_file), &[], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with("InvalidIdentityToken: Couldn't retrieve verification key from your identity provider,  please reference"), "{}", out.stderr);
}

#[test]
fn keygen_keys_mint_verify_round_trip_rs256_and_es256() {
    for alg in ["RS256", "ES256"] {
        let dir = tmpdir(alg);
        let (kid, key, public) = keygen(&dir, alg);
        let jwks_file = jwks_of(&dir, &public, &kid, alg);
        let token = mint(
            s(&key),
            &[
                "--pod",
                "web-0",
                "--pod-uid",
                "pod-uid-1",
                "--sa-uid",
                "sa-uid-1",
                "--expiration",
                "600",
            ],
        );
        let out = verify(
            "-",
            s(&jwks_file),
            &["--audience", "sts.amazonaws.com"],
            Some(&format!("{token}\n")),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let claims: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(claims["sub"], "system:serviceaccount:team-a:app");
        assert_eq!(claims["aud"], serde_json::json!(["sts.amazonaws.com"]));
        assert_eq!(claims["iss"], ISS);
        assert_minted_claims(&claims);
        // Header kid is the key's.
        let decoded = ok(&["token", "decode", &token], None);
        let d: Value = serde_json::from_str(&decoded).unwrap();
        assert_eq!(d["header"], serde_json::json!({"alg": alg, "kid": kid}));

        another_keys_jwks_does_not_verify(&dir, &token);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn verify_failures_exit_1_with_sts_code_and_message() {
    let dir = tmpdir("failures");
    let jwks = dir.join("keys.json");
    std::fs::write(
        &jwks,
        ok(
            &["oidc", "keys", "--public-key", &fx("rsa2048-a.pub")],
            None,
        ),
    )
    .unwrap();
    let token = mint(&fx("rsa2048-a.key"), &["--now", "1700000000"]);
    let run = |extra: &[&str]| verify(&token, s(&jwks), extra, None);
    let good = run(&["--now", "1700000100"]);
    assert_eq!(good.code, 0, "{}", good.stderr);

    let o = run(&["--now", "1700000100", "--audience", "other"]);
    assert_eq!(
        (o.code, o.stderr.lines().next()),
        (1, Some("InvalidIdentityToken: Incorrect token audience"))
    );
    let o = run(&["--now", "1700003900"]);
    assert_eq!(
        (o.code, o.stderr.lines().next()),
        (
            1,
            Some(
                "ExpiredTokenException: Token expired: current date/time 1700003900 must be before the expiration date/time 1700003600"
            )
        )
    );
    let o = run(&["--now", "1700003899"]);
    assert_eq!(o.code, 0, "within the 300 s skew: {}", o.stderr);
    // The issuer with a trailing slash is another issuer.
    let o = irsa(
        &[
            "token",
            "verify",
            &token,
            "--issuer",
            "https://oidc.example.com/id/TEST/",
            "--jwks",
            s(&jwks),
            "--now",
            "1700000100",
        ],
        None,
    );
    assert_eq!(o.code, 1);
    assert!(o.stderr.starts_with("InvalidIdentityToken: No OpenIDConnect provider found in your account for https://oidc.example.com/id/TEST\n"), "{}", o.stderr);
    // The token is never echoed.
    assert!(!o.stderr.contains(&token[..40]));
}

#[test]
fn keys_with_empty_kid_and_several_files() {
    let out = ok(
        &[
            "oidc",
            "keys",
            "--public-key",
            &fx("rsa2048-a.pub"),
            "--public-key",
            &fx("p256-a.sec1.key"),
            "--with-empty-kid",
        ],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4);
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    let want: Vec<(String, String)> = std::fs::read_to_string(fixtures().join("kids.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').unwrap();
            (a.to_owned(), b.to_owned())
        })
        .collect();
    let kid_of = |f: &str| want.iter().find(|(a, _)| a == f).unwrap().1.clone();
    assert_eq!(
        kids,
        [
            kid_of("rsa2048-a.pub").as_str(),
            kid_of("p256-a.pub").as_str(),
            "",
            ""
        ]
    );
    assert_eq!(keys[2]["n"], keys[0]["n"]);
    assert_eq!(keys[3]["x"], keys[1]["x"]);
    // Exactly kube-apiserver's compact shape for the RSA key.
    assert!(out.starts_with(&format!(
        r#"{{"keys":[{{"use":"sig","kty":"RSA","kid":"{}","alg":"RS256","n":""#,
        kid_of("rsa2048-a.pub")
    )));
    // PKCS#1 and certificate inputs give the same key.
    for f in ["rsa2048-a.pkcs1.pub", "rsa2048-a.crt"] {
        let o: Value =
            serde_json::from_str(&ok(&["oidc", "keys", "--public-key", &fx(f)], None)).unwrap();
        assert_eq!(o["keys"][0], keys[0], "{f}");
    }
    // A token without kid verifies against the kid "" entry.
    let dir = tmpdir("emptykid");
    let jwks = dir.join("keys.json");
    std::fs::write(&jwks, &out).unwrap();
    let token = {
        let key =
            irsa_jose::SigningKey::from_pem(&std::fs::read_to_string(fx("rsa2048-a.key")).unwrap())
                .unwrap();
        let extras = serde_json::json!({"kid": null});
        let claims = serde_json::json!({"iss": ISS, "sub": "system:serviceaccount:a:b", "aud": ["sts.amazonaws.com"], "exp": 4_000_000_000i64});
        key.sign_jwt(extras.as_object().unwrap(), claims.as_object().unwrap())
            .unwrap()
    };
    let o = verify(&token, s(&jwks), &[], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn discovery_document() {
    let out = ok(&["oidc", "discovery", "--issuer", ISS], None);
    assert_eq!(
        out.trim(),
        r#"{"issuer":"https://oidc.example.com/id/TEST","jwks_uri":"https://oidc.example.com/id/TEST/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"]}"#
    );
    let out = ok(
        &[
            "oidc",
            "discovery",
            "--issuer",
            ISS,
            "--jwks-uri",
            "https://s3.example.com/keys.json",
            "--public-key",
            &fx("p384.pub"),
            "--public-key",
            &fx("rsa2048-a.pub"),
        ],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["jwks_uri"], "https://s3.example.com/keys.json");
    assert_eq!(
        v["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES384", "RS256"])
    );
    for bad in [
        "http://oidc.example.com",
        "oidc.example.com",
        "https://",
        "https://x.example/?a=b",
    ] {
        let o = irsa(&["oidc", "discovery", "--issuer", bad], None);
        assert_eq!(o.code, 2, "{bad}");
        assert!(o.stderr.contains("issuer"), "{}", o.stderr);
    }
    ok(
        &[
            "oidc",
            "discovery",
            "--issuer",
            "http://127.0.0.1:8080",
            "--insecure-allow-http-issuer",
        ],
        None,
    );
}

#[test]
fn thumbprint_of_the_last_certificate() {
    let out = ok(
        &["oidc", "thumbprint", "--cert-chain", &fx("chain.pem")],
        None,
    );
    let want = std::fs::read_to_string(fixtures().join("chain.sha1")).unwrap();
    assert_eq!(out.trim(), want.trim());
    assert_eq!(out.trim().len(), 40);
    let o = irsa(
        &["oidc", "thumbprint", "--cert-chain", &fx("rsa2048-a.pub")],
        None,
    );
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("CERTIFICATE"), "{}", o.stderr);
}

#[test]
fn decode_says_it_does_not_verify() {
    let token = mint(
        &fx("p256-a.key"),
        &["--now", "1700000000", "--audience", "a", "--audience", "b"],
    );
    let o = irsa(
        &["token", "decode", "-", "--now", "1800000000"],
        Some(&token),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("NOT verified"), "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["header"]["alg"], "ES256");
    assert_eq!(v["claims"]["aud"], serde_json::json!(["a", "b"]));
    assert_eq!(v["times"]["iat"], "2023-11-14T22:13:20Z");
    assert_eq!(v["times"]["exp"], "2023-11-14T23:13:20Z");
    assert_eq!(v["expired"], true);
    let o = irsa(
        &["token", "decode", "-", "--now", "1700000001"],
        Some(&token),
    );
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        (v["expired"].clone(), v["expires_in_secs"].clone()),
        (Value::Bool(false), Value::from(3599))
    );
}

#[test]
fn bad_input_exits_2() {
    let cases: Vec<Vec<String>> = vec![
        vec!["oidc", "keys", "--public-key", "/nonexistent/key.pem"],
        vec!["oidc", "keys", "--public-key", &fx("README.md")],
        vec!["oidc", "keys", "--public-key", &fx("rsa1024.pub")],
        mint_args(&fx("rsa2048-a.pub"), &[]),
        mint_args(&fx("rsa2048-a.key"), &["--expiration", "0"]),
        mint_args(&fx("rsa2048-a.key"), &["--pod", "p"]),
        vec!["token", "decode", "a.b"],
        vec![
            "token",
            "verify",
            "a.b.c",
            "--issuer",
            ISS,
            "--jwks",
            &fx("README.md"),
        ],
        vec!["oidc", "keygen", "--alg", "HS256", "--out", "/tmp/x"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(str::to_owned).collect())
    .collect();
    for c in cases {
        let a: Vec<&str> = c.iter().map(String::as_str).collect();
        let o = irsa(&a, Some(""));
        assert_eq!(o.code, 2, "{a:?}: {}", o.stderr);
        assert!(!o.stderr.trim().is_empty());
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    }
    let o = irsa(&["token", "decode", "-"], Some("  \n"));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no token"), "{}", o.stderr);
}

// ------------------------------------------------------------------ PyJWT interop

fn pyjwt_python() -> Option<PathBuf> {
    irsa_test::external(
        ".cache/pyjwt/venv/bin/python",
        "PyJWT",
        "scripts/deps/pyjwt.sh",
    )
}

fn python(py: &Path, script: &str, args: &[&str]) -> String {
    let o = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

const PY_SIGN: &str = r#"
import sys, time, jwt
key, alg, kid, iss = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
now = int(time.time())
claims = {"iss": iss, "sub": "system:serviceaccount:py:app", "aud": ["sts.amazonaws.com"],
          "iat": now, "nbf": now, "exp": now + 600}
print(jwt.encode(claims, open(key).read(), algorithm=alg, headers={"kid": kid}))
"#;

const PY_VERIFY: &str = r#"
import sys, json, jwt
token, jwks, iss = sys.stdin.read().strip(), open(sys.argv[1]).read(), sys.argv[2]
keyset = jwt.PyJWKSet.from_json(jwks)
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in keyset.keys if k.key_id == kid)
claims = jwt.decode(token, key, algorithms=[key.algorithm_name], audience="sts.amazonaws.com", issuer=iss,
                    options={"require": ["exp", "iat", "nbf", "iss", "sub", "aud"]})
print(json.dumps({"sub": claims["sub"], "alg": key.algorithm_name}))
"#;

#[test]
fn pyjwt_tokens_verify_with_irsa_and_irsa_tokens_verify_with_pyjwt() {
    let Some(py) = pyjwt_python() else { return };
    let dir = tmpdir("pyjwt");
    let jwks = dir.join("keys.json");
    let keys = ok(
        &[
            "oidc",
            "keys",
            "--public-key",
            &fx("rsa2048-a.pub"),
            "--public-key",
            &fx("p256-a.pub"),
            "--public-key",
            &fx("p384.pub"),
            "--public-key",
            &fx("p521.pub"),
        ],
        None,
    );
    std::fs::write(&jwks, &keys).unwrap();
    let v: Value = serde_json::from_str(&keys).unwrap();
    let kid = |i: usize| v["keys"][i]["kid"].as_str().unwrap().to_owned();

    // PyJWT signs, irsa verifies.
    for (i, key, alg) in [
        (0, "rsa2048-a.key", "RS256"),
        (1, "p256-a.key", "ES256"),
        (2, "p384.key", "ES384"),
        (3, "p521.key", "ES512"),
    ] {
        let token = python(&py, PY_SIGN, &[&fx(key), alg, &kid(i), ISS]);
        let o = verify("-", s(&jwks), &[], Some(&token));
        assert_eq!(o.code, 0, "{alg}: {}", o.stderr);
        assert!(o.stderr.contains(alg), "{}", o.stderr);
        // And a PyJWT token for the wrong audience is refused with STS's message.
        let o = verify("-", s(&jwks), &["--audience", "x"], Some(&token));
        assert_eq!(o.code, 1);
        assert!(
            o.stderr
                .starts_with("InvalidIdentityToken: Incorrect token audience")
        );
    }

    // irsa signs, PyJWT verifies (finding the key in irsa's JWKS by kid).
    for (key, alg) in [
        ("rsa2048-a.key", "RS256"),
        ("p256-a.key", "ES256"),
        ("p384.key", "ES384"),
        ("p521.key", "ES512"),
    ] {
        let token = mint(&fx(key), &[]);
        let o = Command::new(&py)
            .arg("-c")
            .arg(PY_VERIFY)
            .args([s(&jwks), ISS])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(token.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(
            o.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["sub"], "system:serviceaccount:team-a:app");
        assert_eq!(r["alg"], alg);
    }
}
